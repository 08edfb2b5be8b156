//! The European Central Bank's euro foreign exchange reference rates.
//!
//! The ECB publishes them as XML: `eurofxref-daily.xml` holds one day,
//! `eurofxref-hist-90d.xml` the last 90 days. Both are a `gesmes:Envelope` whose `Cube`
//! holds one `<Cube time="YYYY-MM-DD">` per day, each holding one
//! `<Cube currency="USD" rate="1.0131"/>` per currency, in units per euro.
//!
//! The documents are read with quick-xml's streaming reader: nothing is expanded, nothing is
//! fetched, and the size is bounded before reading starts.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bazaar_domain::fx::calendar::Date;
use bazaar_domain::fx::{FxError, FxRateSource, RateSet};
use bazaar_ledger::Timestamp;
use bazaar_money::Currency;
use quick_xml::Decoder;
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use rust_decimal::Decimal;

use crate::field::{Code, currency_code, fragment, invalid, positive_rate};

/// The source name stored with every rate taken from the ECB.
pub const ECB_SOURCE_NAME: &str = "ecb";

/// The largest document read: 1 MiB. The daily file is about 1.5 KiB and the 90-day file
/// about 100 KiB; anything much larger is not one of them, and is refused before parsing.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// Elements nest four deep in the published files; a document nesting deeper than this is
/// refused rather than tracked.
const MAX_DEPTH: usize = 16;

/// At most this many characters of a loader's failure reach the error message.
const LOADER_REASON_CHARS: usize = 160;

/// Reads `eurofxref-daily.xml`: the reference rates of one day.
///
/// The set's source is [`ECB_SOURCE_NAME`], its base EUR, and its `effective_at` 16:00 Central
/// European Time on the document's date (see the [crate documentation](crate)). A document
/// with more than one day is refused, so a loader pointed at the history file by mistake
/// fails loudly instead of publishing one day of it.
pub fn parse_daily(xml: &[u8]) -> Result<RateSet, FxError> {
    let mut days = parse_days(xml)?;
    match (days.pop(), days.len()) {
        (Some(day), 0) => Ok(day),
        (_, earlier) => Err(invalid(
            ECB_SOURCE_NAME,
            format!(
                "a daily document holds one dated Cube, this one holds {}",
                earlier.saturating_add(1)
            ),
        )),
    }
}

/// Reads `eurofxref-hist-90d.xml` (or any document in that layout): one set per day,
/// newest first. The same day twice is refused.
pub fn parse_history(xml: &[u8]) -> Result<Vec<RateSet>, FxError> {
    let mut days = parse_days(xml)?;
    days.sort_by_key(|day| std::cmp::Reverse(day.effective_at));
    Ok(days)
}

/// Every dated Cube of the document, in document order; at least one.
fn parse_days(xml: &[u8]) -> Result<Vec<RateSet>, FxError> {
    if xml.len() > MAX_DOCUMENT_BYTES {
        return Err(invalid(
            ECB_SOURCE_NAME,
            format!("document is larger than the {MAX_DOCUMENT_BYTES} bytes allowed"),
        ));
    }
    let mut reader = Reader::from_reader(xml);
    let mut document = Document::default();
    loop {
        let event = reader
            .read_event()
            .map_err(|error| malformed_xml(&error, reader.error_position()))?;
        match event {
            Event::Start(start) => document.open(&start, reader.decoder(), false)?,
            Event::Empty(start) => document.open(&start, reader.decoder(), true)?,
            Event::End(_) => document.close()?,
            Event::Eof => return document.finish(),
            // The declaration, whitespace, comments and the sender's name carry no rates.
            _ => {}
        }
    }
}

/// What an open element is, as far as the rates are concerned.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Frame {
    Envelope,
    /// The `Cube` without attributes that holds the days.
    Container,
    /// A `Cube` with a `time` attribute.
    Day,
    /// A `Cube` with `currency` and `rate` attributes.
    Rate,
    /// Anything else (`gesmes:subject`, `gesmes:Sender`, ...).
    Other,
}

/// What a `Cube` element says, read from its attributes.
enum Cube {
    Container,
    Day(Date),
    Rate { code: String, rate: String },
}

/// A day being read.
struct Day {
    date: Date,
    effective_at: Timestamp,
    rates: BTreeMap<Currency, Decimal>,
    /// Every code seen this day, usable or not, to refuse the same code twice.
    codes: BTreeSet<String>,
}

/// The reading state: the open elements and the days read so far.
#[derive(Default)]
struct Document {
    stack: Vec<Frame>,
    root_seen: bool,
    day: Option<Day>,
    dates: BTreeSet<Date>,
    days: Vec<RateSet>,
}

impl Document {
    /// An element starts; `empty` when it is self-closing and so ends at once.
    fn open(
        &mut self,
        start: &BytesStart<'_>,
        decoder: Decoder,
        empty: bool,
    ) -> Result<(), FxError> {
        let frame = match self.stack.last().copied() {
            None => self.open_root(start)?,
            Some(parent) if start.local_name().as_ref() == b"Cube" => {
                let cube = read_cube(start, decoder)?;
                self.open_cube(parent, cube)?
            }
            Some(_) => Frame::Other,
        };
        if empty {
            return self.end(frame);
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(invalid(
                ECB_SOURCE_NAME,
                format!("elements nest more than {MAX_DEPTH} deep"),
            ));
        }
        self.stack.push(frame);
        Ok(())
    }

    fn open_root(&mut self, start: &BytesStart<'_>) -> Result<Frame, FxError> {
        if self.root_seen || start.local_name().as_ref() != b"Envelope" {
            return Err(invalid(
                ECB_SOURCE_NAME,
                "document is not a single gesmes:Envelope",
            ));
        }
        self.root_seen = true;
        Ok(Frame::Envelope)
    }

    fn open_cube(&mut self, parent: Frame, cube: Cube) -> Result<Frame, FxError> {
        let inside_day = matches!(parent, Frame::Day | Frame::Rate) || self.day.is_some();
        match cube {
            Cube::Container if !inside_day => Ok(Frame::Container),
            Cube::Day(date) if !inside_day => {
                self.begin_day(date)?;
                Ok(Frame::Day)
            }
            Cube::Rate { code, rate } if parent == Frame::Day => {
                self.add_rate(&code, &rate)?;
                Ok(Frame::Rate)
            }
            Cube::Rate { .. } => Err(invalid(
                ECB_SOURCE_NAME,
                "a rate Cube is not directly inside a dated Cube (<Cube time=...>)",
            )),
            Cube::Container | Cube::Day(_) => Err(invalid(
                ECB_SOURCE_NAME,
                "a Cube is nested inside a day's Cube",
            )),
        }
    }

    fn begin_day(&mut self, date: Date) -> Result<(), FxError> {
        if !self.dates.insert(date) {
            return Err(invalid(ECB_SOURCE_NAME, format!("{date} appears twice")));
        }
        let effective_at = date
            .ecb_publication_time()
            .ok_or_else(|| invalid(ECB_SOURCE_NAME, format!("{date} is out of range")))?;
        self.day = Some(Day {
            date,
            effective_at,
            rates: BTreeMap::new(),
            codes: BTreeSet::new(),
        });
        Ok(())
    }

    fn add_rate(&mut self, code: &str, rate: &str) -> Result<(), FxError> {
        let Some(day) = self.day.as_mut() else {
            return Err(invalid(ECB_SOURCE_NAME, "a rate Cube is outside any day"));
        };
        let date = day.date;
        let field = |error| invalid(ECB_SOURCE_NAME, format!("{date}: {error}"));
        let parsed = currency_code(code).map_err(field)?;
        if !day.codes.insert(code.to_owned()) {
            return Err(invalid(
                ECB_SOURCE_NAME,
                format!("{date}: {code} appears twice"),
            ));
        }
        let rate = positive_rate(rate)
            .map_err(|error| invalid(ECB_SOURCE_NAME, format!("{date}: {code}: {error}")))?;
        match parsed {
            Code::Usable(Currency::EUR) => Err(invalid(
                ECB_SOURCE_NAME,
                format!("{date}: EUR is the base and cannot have a rate"),
            )),
            Code::Usable(currency) => {
                day.rates.insert(currency, rate);
                Ok(())
            }
            // Tolerated so that a new ISO code does not stop every conversion; see the
            // crate documentation.
            Code::Unusable => Ok(()),
        }
    }

    /// An element ends.
    fn close(&mut self) -> Result<(), FxError> {
        let frame = self
            .stack
            .pop()
            .ok_or_else(|| invalid(ECB_SOURCE_NAME, "an end tag has no start tag"))?;
        self.end(frame)
    }

    fn end(&mut self, frame: Frame) -> Result<(), FxError> {
        if frame != Frame::Day {
            return Ok(());
        }
        let Some(day) = self.day.take() else {
            return Err(invalid(ECB_SOURCE_NAME, "a day ends that never began"));
        };
        if day.rates.is_empty() {
            return Err(invalid(
                ECB_SOURCE_NAME,
                format!("{} has no usable rates", day.date),
            ));
        }
        self.days.push(RateSet {
            source: ECB_SOURCE_NAME.to_owned(),
            base: Currency::EUR,
            effective_at: day.effective_at,
            rates: day.rates,
        });
        Ok(())
    }

    fn finish(self) -> Result<Vec<RateSet>, FxError> {
        if !self.stack.is_empty() {
            return Err(invalid(
                ECB_SOURCE_NAME,
                "document ends before its elements close (truncated?)",
            ));
        }
        if self.days.is_empty() {
            return Err(invalid(
                ECB_SOURCE_NAME,
                "document has no dated Cube (<Cube time=...>)",
            ));
        }
        Ok(self.days)
    }
}

/// Reads a `Cube`'s attributes. A Cube carries no attributes (the container), `time` (a
/// day), or `currency` and `rate` (a rate); any other combination is refused. Attributes
/// other than these three are ignored.
fn read_cube(start: &BytesStart<'_>, decoder: Decoder) -> Result<Cube, FxError> {
    let mut time = None;
    let mut code = None;
    let mut rate = None;
    for attribute in start.attributes() {
        let attribute =
            attribute.map_err(|_| invalid(ECB_SOURCE_NAME, "a Cube has a malformed attribute"))?;
        let slot = match attribute.key.as_ref() {
            b"time" => &mut time,
            b"currency" => &mut code,
            b"rate" => &mut rate,
            _ => continue,
        };
        let value = attribute.decode_and_unescape_value(decoder).map_err(|_| {
            invalid(
                ECB_SOURCE_NAME,
                "a Cube attribute is not valid UTF-8 or has a bad escape",
            )
        })?;
        *slot = Some(value.into_owned());
    }
    match (time, code, rate) {
        (None, None, None) => Ok(Cube::Container),
        (Some(time), None, None) => Date::parse_iso(&time).map(Cube::Day).ok_or_else(|| {
            invalid(
                ECB_SOURCE_NAME,
                format!("time {} is not a valid YYYY-MM-DD date", fragment(&time)),
            )
        }),
        (None, Some(code), Some(rate)) => Ok(Cube::Rate { code, rate }),
        _ => Err(invalid(
            ECB_SOURCE_NAME,
            "a Cube must carry either time, or currency and rate",
        )),
    }
}

/// An `InvalidData` error for XML that quick-xml could not read. Says where and what kind of
/// fault, never the input itself (an end-tag mismatch message would quote tag names).
fn malformed_xml(error: &quick_xml::Error, position: u64) -> FxError {
    let what = match error {
        quick_xml::Error::Syntax(syntax) => syntax.to_string(),
        quick_xml::Error::IllFormed(_) => "elements are not properly nested or closed".to_owned(),
        quick_xml::Error::InvalidAttr(_) => "malformed attribute".to_owned(),
        quick_xml::Error::Encoding(_) => "text that is not valid UTF-8".to_owned(),
        quick_xml::Error::Escape(_) => "a bad character or entity reference".to_owned(),
        quick_xml::Error::Namespace(_) => "a bad namespace declaration".to_owned(),
        quick_xml::Error::Io(_) => "the input could not be read".to_owned(),
    };
    invalid(
        ECB_SOURCE_NAME,
        format!("malformed XML at byte {position}: {what}"),
    )
}

/// Loads the bytes of a reference-rate document, or says in a few words why it could not.
pub type DocumentLoader = dyn Fn() -> Result<Vec<u8>, String> + Send + Sync;

/// The ECB's daily reference rates, as an [`FxRateSource`].
///
/// The source does no network I/O itself: it reads whatever its [`DocumentLoader`] returns
/// (a file the deployment refreshes, or an HTTP client the application supplies) and parses
/// it with [`parse_daily`]. A loader failure is [`FxError::Unavailable`]; a document that
/// does not parse is [`FxError::InvalidData`].
#[derive(Clone)]
pub struct EcbSource {
    load: Arc<DocumentLoader>,
}

impl EcbSource {
    /// A source that calls `load` on every fetch.
    pub fn new(load: impl Fn() -> Result<Vec<u8>, String> + Send + Sync + 'static) -> Self {
        Self {
            load: Arc::new(load),
        }
    }

    /// A source that reads the daily document from a file on every fetch.
    ///
    /// Reads at most one byte more than [`MAX_DOCUMENT_BYTES`], so a huge file costs no
    /// memory and is still refused as too large rather than cut short.
    pub fn from_file(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        Self::new(move || read_bounded(&path))
    }
}

impl fmt::Debug for EcbSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EcbSource").finish_non_exhaustive()
    }
}

impl FxRateSource for EcbSource {
    async fn fetch(&self) -> Result<RateSet, FxError> {
        let document = (self.load)().map_err(|reason| FxError::Unavailable {
            source_name: ECB_SOURCE_NAME.to_owned(),
            reason: reason.chars().take(LOADER_REASON_CHARS).collect(),
        })?;
        parse_daily(&document)
    }
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    let file = File::open(path).map_err(|error| format!("cannot open the rates file: {error}"))?;
    let limit = u64::try_from(MAX_DOCUMENT_BYTES)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let mut bytes = Vec::new();
    file.take(limit)
        .read_to_end(&mut bytes)
        .map_err(|error| format!("cannot read the rates file: {error}"))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(days: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <gesmes:Envelope xmlns:gesmes=\"http://www.gesmes.org/xml/2002-08-01\" \
             xmlns=\"http://www.ecb.int/vocabulary/2002-08-01/eurofxref\">\
             <gesmes:subject>Reference rates</gesmes:subject>\
             <Cube>{days}</Cube></gesmes:Envelope>"
        )
    }

    fn reason(result: Result<impl fmt::Debug, FxError>) -> String {
        match result {
            Err(FxError::InvalidData {
                source_name,
                reason,
            }) => {
                assert_eq!(source_name, ECB_SOURCE_NAME);
                reason
            }
            other => panic!("expected InvalidData, got {other:?}"),
        }
    }

    #[test]
    fn codes_iso_does_not_know_are_skipped() {
        let xml = document(
            "<Cube time='2022-07-18'><Cube currency='QQQ' rate='2.5'/>\
             <Cube currency='USD' rate='1.0131'/></Cube>",
        );
        let set = parse_daily(xml.as_bytes()).unwrap();
        assert_eq!(set.rates.len(), 1);
        assert_eq!(
            set.rates.get(&Currency::USD),
            Some(&Decimal::new(10_131, 4))
        );
    }

    #[test]
    fn skipped_codes_are_still_checked() {
        let twice = document(
            "<Cube time='2022-07-18'><Cube currency='QQQ' rate='2.5'/>\
             <Cube currency='QQQ' rate='2.5'/><Cube currency='USD' rate='1'/></Cube>",
        );
        assert!(reason(parse_daily(twice.as_bytes())).contains("twice"));
        let bad_rate = document(
            "<Cube time='2022-07-18'><Cube currency='QQQ' rate='x'/>\
             <Cube currency='USD' rate='1'/></Cube>",
        );
        assert!(reason(parse_daily(bad_rate.as_bytes())).contains("not a decimal"));
        let only_unusable =
            document("<Cube time='2022-07-18'><Cube currency='QQQ' rate='2.5'/></Cube>");
        assert!(reason(parse_daily(only_unusable.as_bytes())).contains("no usable rates"));
    }

    #[test]
    fn malformed_codes_and_the_base_are_refused() {
        for code in ["usd", "US", "USDD", "1SD", ""] {
            let xml = document(&format!(
                "<Cube time='2022-07-18'><Cube currency='{code}' rate='1.5'/></Cube>"
            ));
            assert!(
                reason(parse_daily(xml.as_bytes())).contains("three upper-case letters"),
                "{code:?}"
            );
        }
        let eur = document("<Cube time='2022-07-18'><Cube currency='EUR' rate='1'/></Cube>");
        assert!(reason(parse_daily(eur.as_bytes())).contains("base"));
    }

    #[test]
    fn cubes_must_be_where_the_format_puts_them() {
        let cases = [
            (
                "<Cube currency='USD' rate='1.5'/>",
                "not directly inside a dated Cube",
            ),
            (
                "<Cube time='2022-07-18'><Cube time='2022-07-19'/></Cube>",
                "nested inside a day",
            ),
            (
                "<Cube time='2022-07-18'><Cube currency='USD' rate='1'>\
                 <Cube currency='JPY' rate='1'/></Cube></Cube>",
                "not directly inside",
            ),
            (
                "<Cube time='2022-07-18' currency='USD' rate='1'/>",
                "either time",
            ),
            (
                "<Cube time='2022-07-18'><Cube currency='USD'/></Cube>",
                "either time",
            ),
            ("<Cube time='2022-07-18'/>", "no usable rates"),
            ("<Cube time='2022-07-18'></Cube>", "no usable rates"),
            ("", "no dated Cube"),
            (
                "<Cube time='18.07.2022'><Cube currency='USD' rate='1'/></Cube>",
                "YYYY-MM-DD",
            ),
        ];
        for (days, expected) in cases {
            let message = reason(parse_daily(document(days).as_bytes()));
            assert!(message.contains(expected), "{days}: {message}");
        }
    }

    #[test]
    fn the_root_must_be_one_envelope() {
        let html = b"<html><body>Service unavailable</body></html>";
        assert!(reason(parse_daily(html)).contains("gesmes:Envelope"));
        let day = "<Cube time='2022-07-18'><Cube currency='USD' rate='1'/></Cube>";
        let two_roots = format!("{}{}", document(day), document(day));
        assert!(reason(parse_daily(two_roots.as_bytes())).contains("gesmes:Envelope"));
        assert!(reason(parse_daily(b"")).contains("no dated Cube"));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let open = "<a>".repeat(MAX_DEPTH);
        let close = "</a>".repeat(MAX_DEPTH);
        let xml = document(&format!("{open}{close}"));
        assert!(reason(parse_daily(xml.as_bytes())).contains("nest"));
    }

    #[test]
    fn a_daily_document_has_one_day_and_a_history_no_repeats() {
        let two = document(
            "<Cube time='2022-07-18'><Cube currency='USD' rate='1.0131'/></Cube>\
             <Cube time='2022-08-08'><Cube currency='USD' rate='1.0199'/></Cube>",
        );
        assert!(reason(parse_daily(two.as_bytes())).contains("holds 2"));
        let history = parse_history(two.as_bytes()).unwrap();
        assert_eq!(history.len(), 2);
        assert!(history.first().unwrap().effective_at > history.get(1).unwrap().effective_at);
        let repeated = document(
            "<Cube time='2022-07-18'><Cube currency='USD' rate='1.0131'/></Cube>\
             <Cube time='2022-07-18'><Cube currency='USD' rate='1.0131'/></Cube>",
        );
        assert!(reason(parse_history(repeated.as_bytes())).contains("appears twice"));
    }

    #[test]
    fn errors_quote_little_of_the_input() {
        let long = "9".repeat(5_000);
        let xml = document(&format!(
            "<Cube time='2022-07-18'><Cube currency='USD' rate='{long}x'/></Cube>"
        ));
        let message = reason(parse_daily(xml.as_bytes()));
        assert!(message.len() < 120, "{message}");
        let mismatched = document(&format!("<{long}></b>"));
        let message = reason(parse_daily(mismatched.as_bytes()));
        assert!(message.len() < 120, "{message}");
    }

    #[test]
    fn escaped_attribute_values_are_read() {
        let xml = document(
            "<Cube time=\"2022-07-18\"><Cube currency=\"&#85;SD\" rate=\"1.0131\"/></Cube>",
        );
        let set = parse_daily(xml.as_bytes()).unwrap();
        assert_eq!(
            set.rates.get(&Currency::USD),
            Some(&Decimal::new(10_131, 4))
        );
    }
}
