//! The ECB source against a real published day (`tests/data/eurofxref-daily-2022-07-18.xml`,
//! the reference rates of 18 July 2022; provenance in the file and the crate docs), the rate
//! book over the ECB set and a configured table, and damaged documents.

use std::error::Error;
use std::path::PathBuf;

use bazaar_domain::fx::{FxError, FxRateSource, RateBook, RateSet};
use bazaar_fx::{
    ConfiguredRates, ECB_SOURCE_NAME, EcbSource, MAX_DOCUMENT_BYTES, parse_daily, parse_history,
};
use bazaar_ledger::Timestamp;
use bazaar_money::Currency;
use rust_decimal::Decimal;

type TestResult = Result<(), Box<dyn Error>>;

/// The ECB's daily file of Monday 18 July 2022.
const SAMPLE: &[u8] = include_bytes!("data/eurofxref-daily-2022-07-18.xml");
const SAMPLE_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/eurofxref-daily-2022-07-18.xml"
);

/// 2022-07-18 14:00 UTC: 16:00 in Frankfurt, where summer time (UTC+2) was in force.
const SAMPLE_EFFECTIVE_MICROS: i64 = 1_658_152_800_000_000;

fn dec(text: &str) -> Result<Decimal, rust_decimal::Error> {
    Decimal::from_str_exact(text)
}

fn sample_text() -> Result<String, std::str::Utf8Error> {
    std::str::from_utf8(SAMPLE).map(str::to_owned)
}

/// The sample with one piece of text replaced; `None` if the piece is not in the sample.
fn damaged(from: &str, to: &str) -> Option<Vec<u8>> {
    let text = sample_text().ok()?;
    text.contains(from)
        .then(|| text.replacen(from, to, 1).into_bytes())
}

fn is_invalid_data(result: &Result<RateSet, FxError>) -> bool {
    matches!(result, Err(FxError::InvalidData { source_name, .. }) if source_name == ECB_SOURCE_NAME)
}

#[test]
fn the_published_day_is_read_exactly() -> TestResult {
    let set = parse_daily(SAMPLE)?;
    assert_eq!(set.source, "ecb");
    assert_eq!(set.base, Currency::EUR);
    assert_eq!(
        set.effective_at,
        Timestamp::from_micros(SAMPLE_EFFECTIVE_MICROS)
    );
    // The ECB published 31 rates that day, HRK among them (Croatia adopted the euro in 2023).
    assert_eq!(set.rates.len(), 31);
    assert!(!set.rates.contains_key(&Currency::EUR));
    let expected = [
        ("USD", "1.0131"),
        ("JPY", "140.16"),
        ("GBP", "0.84708"),
        ("BRL", "5.4505"),
        ("CHF", "0.9911"),
        ("IDR", "15157.63"),
        ("KRW", "1333.33"),
        ("HRK", "7.5130"),
        ("ZAR", "17.3830"),
    ];
    for (code, rate) in expected {
        let currency = Currency::from_code(code)?;
        assert_eq!(set.rates.get(&currency), Some(&dec(rate)?), "{code}");
    }
    Ok(())
}

#[test]
fn cross_rates_combine_the_ecb_with_a_configured_table() -> TestResult {
    let ecb = parse_daily(SAMPLE)?;
    // A table as treasury would configure it; the KWD figure is configuration, not an ECB rate.
    let configured_at = Timestamp::from_micros(1_658_100_000_000_000);
    let table = ConfiguredRates::parse(
        "configured",
        "# Rates per US dollar.\nbase=USD\nKWD 0.3075\n",
        configured_at,
    )?;
    let book = RateBook::new(vec![ecb, table.into_rate_set()])?;

    let brl_eur = book.mid(Currency::BRL, Currency::EUR)?;
    // 1 / 5.4505, to 10 places.
    assert_eq!(brl_eur.mid, dec("0.1834694065")?);
    assert_eq!(brl_eur.source, "ecb");
    assert_eq!(
        brl_eur.effective_at,
        Timestamp::from_micros(SAMPLE_EFFECTIVE_MICROS)
    );

    let usd_jpy = book.mid(Currency::USD, Currency::JPY)?;
    // 140.16 / 1.0131, to 10 places.
    assert_eq!(usd_jpy.mid, dec("138.3476458395")?);
    assert_eq!(usd_jpy.source, "ecb");

    // The ECB does not publish KWD: the book goes EUR -> USD (ECB) -> KWD (table).
    let eur_kwd = book.mid(Currency::EUR, Currency::KWD)?;
    assert_eq!(eur_kwd.mid, dec("0.31152825")?);
    assert_eq!(
        Some(eur_kwd.mid),
        dec("1.0131")?.checked_mul(dec("0.3075")?)
    );
    assert_eq!(eur_kwd.source, "ecb+configured");
    assert_eq!(eur_kwd.effective_at, configured_at);

    let usd_kwd = book.mid(Currency::USD, Currency::KWD)?;
    assert_eq!(usd_kwd.mid, dec("0.3075")?);
    assert_eq!(usd_kwd.source, "ecb+configured");

    assert_eq!(
        book.mid(Currency::EUR, Currency::BHD),
        Err(FxError::NoRate {
            from: Currency::EUR,
            to: Currency::BHD
        })
    );
    Ok(())
}

#[test]
fn damaged_documents_are_invalid_data() -> TestResult {
    let cases = [
        (
            "rate abc",
            "currency='USD' rate='1.0131'",
            "currency='USD' rate='abc'",
        ),
        (
            "rate -1",
            "currency='USD' rate='1.0131'",
            "currency='USD' rate='-1'",
        ),
        (
            "rate 0",
            "currency='USD' rate='1.0131'",
            "currency='USD' rate='0'",
        ),
        (
            "empty rate",
            "currency='USD' rate='1.0131'",
            "currency='USD' rate=''",
        ),
        ("no rate", "currency='USD' rate='1.0131'", "currency='USD'"),
        ("missing time", "<Cube time='2022-07-18'>", "<Cube>"),
        ("malformed date", "time='2022-07-18'", "time='2022-13-18'"),
        ("impossible date", "time='2022-07-18'", "time='2022-02-30'"),
        (
            "duplicate currency",
            "<Cube currency='JPY' rate='140.16'/>",
            "<Cube currency='JPY' rate='140.16'/><Cube currency='USD' rate='1.0131'/>",
        ),
        ("malformed code", "currency='GBP'", "currency='gbp'"),
        ("rate for the base", "currency='GBP'", "currency='EUR'"),
        ("mismatched tags", "</gesmes:Sender>", "</gesmes:Sendr>"),
        ("unquoted attribute", "rate='140.16'", "rate=140.16"),
    ];
    for (name, from, to) in cases {
        let document = damaged(from, to).ok_or(name)?;
        let result = parse_daily(&document);
        assert!(is_invalid_data(&result), "{name}: {result:?}");
    }
    Ok(())
}

#[test]
fn every_truncation_is_invalid_data() -> TestResult {
    let end = sample_text()?
        .rfind("</gesmes:Envelope>")
        .ok_or("no envelope end")?;
    for cut in 0..end {
        let result = parse_daily(SAMPLE.get(..cut).ok_or("cut")?);
        assert!(is_invalid_data(&result), "cut at {cut}: {result:?}");
    }
    Ok(())
}

#[test]
fn huge_documents_are_refused_before_parsing() -> TestResult {
    let mut huge = SAMPLE.to_vec();
    huge.resize(MAX_DOCUMENT_BYTES.checked_add(1).ok_or("size")?, b' ');
    let result = parse_daily(&huge);
    assert!(is_invalid_data(&result), "{result:?}");

    // Trailing whitespace up to the limit is still a valid document.
    huge.truncate(MAX_DOCUMENT_BYTES);
    assert_eq!(parse_daily(&huge)?, parse_daily(SAMPLE)?);
    Ok(())
}

#[test]
fn error_messages_quote_only_a_short_fragment() -> TestResult {
    let long_rate = format!("currency='USD' rate='{}'", "1x".repeat(50_000));
    let document = damaged("currency='USD' rate='1.0131'", &long_rate).ok_or("USD")?;
    match parse_daily(&document) {
        Err(FxError::InvalidData { reason, .. }) => {
            assert!(reason.len() < 100, "{reason}");
            assert!(reason.contains("USD"), "{reason}");
        }
        other => panic!("expected InvalidData, got {other:?}"),
    }
    Ok(())
}

#[test]
fn the_history_layout_is_read_newest_first() -> TestResult {
    // The 90-day file's layout, holding part of two real days: 8 August 2022 from the daily
    // file committed in the public repository Norsien/currencycalculator, and 18 July 2022
    // from the sample. The older day comes first to show that the order is the parser's.
    let history = br#"<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref"><gesmes:subject>Reference rates</gesmes:subject><gesmes:Sender><gesmes:name>European Central Bank</gesmes:name></gesmes:Sender><Cube><Cube time="2022-07-18"><Cube currency="USD" rate="1.0131"/><Cube currency="JPY" rate="140.16"/><Cube currency="GBP" rate="0.84708"/></Cube><Cube time="2022-08-08"><Cube currency="USD" rate="1.0199"/><Cube currency="JPY" rate="137.62"/><Cube currency="GBP" rate="0.84165"/></Cube></Cube></gesmes:Envelope>"#;
    let days = parse_history(history)?;
    assert_eq!(days.len(), 2);
    let [newest, oldest] = days.as_slice() else {
        panic!("expected two days, got {days:?}");
    };
    assert_eq!(
        newest.effective_at,
        Timestamp::from_micros(1_659_967_200_000_000)
    );
    assert_eq!(newest.rates.get(&Currency::USD), Some(&dec("1.0199")?));
    assert_eq!(newest.rates.get(&Currency::GBP), Some(&dec("0.84165")?));
    assert_eq!(
        oldest.effective_at,
        Timestamp::from_micros(SAMPLE_EFFECTIVE_MICROS)
    );
    assert_eq!(oldest.rates.get(&Currency::JPY), Some(&dec("140.16")?));

    // A daily document is a history of one day.
    assert_eq!(parse_history(SAMPLE)?, vec![parse_daily(SAMPLE)?]);
    // A history is not a daily document.
    assert!(is_invalid_data(&parse_daily(history)));
    Ok(())
}

#[tokio::test]
async fn the_source_reads_the_daily_file() -> TestResult {
    let source = EcbSource::from_file(SAMPLE_PATH);
    assert_eq!(source.fetch().await?, parse_daily(SAMPLE)?);

    let in_memory = EcbSource::new(|| Ok(SAMPLE.to_vec()));
    assert_eq!(in_memory.fetch().await?, parse_daily(SAMPLE)?);
    Ok(())
}

#[tokio::test]
async fn an_unreadable_file_is_unavailable() {
    let missing: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "data",
        "no-such-file.xml",
    ]
    .iter()
    .collect();
    let result = EcbSource::from_file(missing).fetch().await;
    assert!(
        matches!(&result, Err(FxError::Unavailable { source_name, .. }) if source_name == "ecb"),
        "{result:?}"
    );

    let directory = EcbSource::from_file(env!("CARGO_MANIFEST_DIR"))
        .fetch()
        .await;
    assert!(
        matches!(directory, Err(FxError::Unavailable { .. })),
        "{directory:?}"
    );
}

#[tokio::test]
async fn loader_failures_are_unavailable_and_bounded() {
    let source = EcbSource::new(|| Err("connection refused ".repeat(1_000)));
    match source.fetch().await {
        Err(FxError::Unavailable {
            source_name,
            reason,
        }) => {
            assert_eq!(source_name, "ecb");
            assert!(reason.starts_with("connection refused"));
            assert!(reason.len() <= 160, "{}", reason.len());
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_huge_file_is_refused_not_cut_short() -> TestResult {
    let path = std::env::temp_dir().join(format!("bazaar-fx-huge-{}.xml", std::process::id()));
    let mut huge = SAMPLE.to_vec();
    huge.resize(MAX_DOCUMENT_BYTES.checked_mul(3).ok_or("size")?, b' ');
    std::fs::write(&path, &huge)?;
    let result = EcbSource::from_file(&path).fetch().await;
    std::fs::remove_file(&path)?;
    assert!(is_invalid_data(&result), "{result:?}");
    Ok(())
}
