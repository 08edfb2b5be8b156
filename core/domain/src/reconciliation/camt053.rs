//! ISO 20022 camt.053, the bank-to-customer statement: what the bank says it booked on an
//! account, with opening and closing balances. Versions 001.02 and 001.08 are read.
//!
//! Reading checks that each statement adds up (opening balance plus booked entries is the
//! closing balance), that a batch entry's parts add up to the entry, and that every amount is
//! in the statement's currency with no more decimals than the currency has; any fault refuses
//! the whole document. [`join_pages`] joins the pages of a statement split over several.
//! Pure: text in, values out.

mod check;
mod error;
mod read;
mod tree;
mod write;

pub use error::CamtError;
pub use write::write_camt053;

use bazaar_money::{Currency, Money};

use crate::fx::calendar::Date;

/// The largest document read: 64 MiB. A larger one is refused before parsing.
pub const CAMT053_BYTES_MAX: usize = 64 * 1024 * 1024;

/// The versions of camt.053 read.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum CamtVersion {
    /// camt.053.001.02 (the 2009 message; SEPA and most German banks).
    V02,
    /// camt.053.001.08 (the 2019 message; CBPR+ and newer SEPA implementations).
    V08,
}

impl CamtVersion {
    const ALL: [Self; 2] = [Self::V02, Self::V08];

    /// The XML namespace of the version's `Document`.
    pub fn namespace(self) -> &'static str {
        match self {
            Self::V02 => "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02",
            Self::V08 => "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08",
        }
    }
}

/// The type of a balance (`Bal/Tp/CdOrPrtry/Cd`).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum BalanceType {
    /// `OPBD`: booked balance at the start of the period.
    OpeningBooked,
    /// `CLBD`: booked balance at the end of the period.
    ClosingBooked,
    /// `ITBD`: booked balance within the period, e.g. where a page ends.
    InterimBooked,
    /// `PRCD`: the previous statement's closing booked balance.
    PreviouslyClosedBooked,
    /// `CLAV`: available balance at the end of the period.
    ClosingAvailable,
    /// `FWAV`: available balance on a later day.
    ForwardAvailable,
    /// `ITAV`: available balance within the period.
    InterimAvailable,
    /// `OPAV`: available balance at the start of the period.
    OpeningAvailable,
    /// `INFO`: for information only.
    Information,
    /// `XPCD`: expected balance.
    Expected,
    /// Any other code, or a proprietary type, as written.
    Other(String),
}

impl BalanceType {
    const KNOWN: [(Self, &'static str); 10] = [
        (Self::OpeningBooked, "OPBD"),
        (Self::ClosingBooked, "CLBD"),
        (Self::InterimBooked, "ITBD"),
        (Self::PreviouslyClosedBooked, "PRCD"),
        (Self::ClosingAvailable, "CLAV"),
        (Self::ForwardAvailable, "FWAV"),
        (Self::InterimAvailable, "ITAV"),
        (Self::OpeningAvailable, "OPAV"),
        (Self::Information, "INFO"),
        (Self::Expected, "XPCD"),
    ];

    /// The type with this code; an unknown code is [`BalanceType::Other`].
    pub fn from_code(code: &str) -> Self {
        Self::KNOWN
            .into_iter()
            .find(|(_, known)| *known == code)
            .map_or_else(|| Self::Other(code.to_owned()), |(kind, _)| kind)
    }

    /// The code as written in a statement.
    pub fn code(&self) -> &str {
        match self {
            Self::Other(code) => code,
            known => Self::KNOWN
                .iter()
                .find(|(kind, _)| kind == known)
                .map_or("", |(_, code)| code),
        }
    }

    /// Whether it is a balance at the start of a statement (`OPBD`, `PRCD`, `OPAV`).
    fn is_opening(&self) -> bool {
        matches!(
            self,
            Self::OpeningBooked | Self::PreviouslyClosedBooked | Self::OpeningAvailable
        )
    }

    /// Whether it is a balance within a statement (`ITBD`, `ITAV`).
    fn is_interim(&self) -> bool {
        matches!(self, Self::InterimBooked | Self::InterimAvailable)
    }
}

/// One balance of a statement.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StatementBalance {
    /// Its type.
    pub kind: BalanceType,
    /// The amount: positive when in the account holder's favour (`CRDT`), negative when
    /// overdrawn (`DBIT`).
    pub amount: Money,
    /// The day it is for (the date part of a `DtTm`).
    pub date: Date,
}

/// An entry's status (`Sts`, or `Sts/Cd` in 001.08).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum EntryStatus {
    /// `BOOK`: booked; counts towards the balances.
    Booked,
    /// `PDNG`: pending; not booked yet.
    Pending,
    /// `INFO`: for information only.
    Information,
    /// Any other code (e.g. `FUTR`), as written.
    Other(String),
}

impl EntryStatus {
    /// The code as the bank writes it: `BOOK`, `PDNG`, `INFO`, or its own.
    pub fn code(&self) -> &str {
        match self {
            Self::Booked => "BOOK",
            Self::Pending => "PDNG",
            Self::Information => "INFO",
            Self::Other(code) => code,
        }
    }

    fn from_code(code: &str) -> Self {
        match code {
            "BOOK" => Self::Booked,
            "PDNG" => Self::Pending,
            "INFO" => Self::Information,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// A batch an entry sums up (`NtryDtls/Btch`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct EntryBatch {
    /// How many transactions the batch holds, when the bank says.
    pub transactions: Option<u32>,
    /// The batch's total, signed like the entry, when the bank says.
    pub total: Option<Money>,
}

/// One transaction of an entry (`NtryDtls/TxDtls`): a batch entry has one per payment.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct EntryPart {
    /// The payer's end-to-end reference (`Refs/EndToEndId`), as written (SEPA writes
    /// `NOTPROVIDED` when there is none).
    pub end_to_end_id: Option<String>,
    /// The bank's reference of the transaction (`Refs/AcctSvcrRef`).
    pub servicer_reference: Option<String>,
    /// The transaction's amount, signed like the entry (a credit positive, a debit negative,
    /// after the entry's reversal flip). An entry of one part without an amount lends it its
    /// own; `None` only when an entry of several parts gives none of their amounts.
    pub amount: Option<Money>,
    /// The unstructured remittance information (`RmtInf/Ustrd`), all lines joined with a
    /// space.
    pub remittance: Option<String>,
    /// The creditor's structured reference (`RmtInf/Strd/CdtrRefInf/Ref`), e.g. an RF
    /// reference.
    pub creditor_reference: Option<String>,
}

/// One entry of a statement (`Ntry`): one movement on the account, which may sum up a batch.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BankEntry {
    /// The entry's reference in the statement (`NtryRef`).
    pub reference: Option<String>,
    /// The amount: credits positive, debits negative, after the reversal flip (a reversed
    /// credit is a debit, a reversed debit a credit).
    pub amount: Money,
    /// Whether the entry reverses an earlier one (`RvslInd`).
    pub reversal: bool,
    /// Booked, pending or for information.
    pub status: EntryStatus,
    /// The day it was booked (`BookgDt`).
    pub booking_date: Option<Date>,
    /// The day it counts for interest (`ValDt`).
    pub value_date: Option<Date>,
    /// The bank's reference of the entry (`AcctSvcrRef`).
    pub servicer_reference: Option<String>,
    /// The bank transaction code: `Domain/Family/SubFamily` (e.g. `PMNT/RCDT/ESCT`) when
    /// given, else the proprietary code (`BkTxCd/Prtry/Cd`).
    pub transaction_code: Option<String>,
    /// The batches the entry sums up, in order.
    pub batches: Vec<EntryBatch>,
    /// The transactions the entry is made of, in order; empty when the bank gives none.
    pub parts: Vec<EntryPart>,
}

/// One statement (`Stmt`), or one page of a statement split over several.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BankStatement {
    /// The version it was read from.
    pub version: CamtVersion,
    /// The statement's id (`Id`).
    pub id: String,
    /// The electronic sequence number (`ElctrncSeqNb`).
    pub sequence: Option<u64>,
    /// When the bank created it (`CreDtTm`), as written.
    pub created_at: String,
    /// The account: its IBAN, or its other id.
    pub account: String,
    /// The account's currency; every amount of the statement is in it.
    pub currency: Currency,
    /// The page number (`StmtPgntn/PgNb`, or the message's `GrpHdr/MsgPgntn` when the
    /// statement has none); `None` for a statement that is not paginated or was joined.
    pub page: Option<u32>,
    /// Whether this is the last page (`LastPgInd`).
    pub last_page: Option<bool>,
    /// The balances, in document order.
    pub balances: Vec<StatementBalance>,
    /// The entries, in document order.
    pub entries: Vec<BankEntry>,
}

/// At most `limit` characters of `text`, without control characters: what of the input an
/// error message may echo.
fn fragment(text: &str, limit: usize) -> String {
    text.chars()
        .filter(|character| !character.is_control())
        .take(limit)
        .collect()
}

/// Reads a camt.053 document: every statement (or page) in it, each checked to add up.
pub fn parse_camt053(xml: &str) -> Result<Vec<BankStatement>, CamtError> {
    if xml.len() > CAMT053_BYTES_MAX {
        return Err(CamtError::TooLarge);
    }
    let document = tree::read(xml)?;
    let version = CamtVersion::ALL
        .into_iter()
        .find(|version| version.namespace() == document.namespace)
        .ok_or_else(|| CamtError::VersionUnsupported {
            namespace: fragment(&document.namespace, 80),
        })?;
    if document.root.name != "Document" {
        return Err(read::malformed("the root element is not Document"));
    }
    let message = document
        .root
        .child("BkToCstmrStmt")
        .ok_or_else(|| read::malformed("the Document has no BkToCstmrStmt"))?;
    let mut statements = Vec::new();
    for element in message.all("Stmt") {
        let statement = read::read_statement(element, message, version)?;
        check::check_balances(&statement)?;
        statements.push(statement);
    }
    if statements.is_empty() {
        return Err(read::malformed("the document has no Stmt"));
    }
    Ok(statements)
}

/// Joins the pages of paginated statements: pages with the same statement id and account,
/// numbered 1 to N with the last (and only it) saying so, become one statement with the
/// first page's opening balances, the last page's closing balances (no interim ones), and
/// every page's entries in page order; it is unpaginated (`page` and `last_page` are
/// `None`). Every page, and the joined statement, must add up. A statement without
/// pagination, or of one page that is the last, passes through unchanged. Statements come
/// back in the order their first page came in.
pub fn join_pages(pages: Vec<BankStatement>) -> Result<Vec<BankStatement>, CamtError> {
    let mut groups: Vec<Vec<BankStatement>> = Vec::new();
    for page in pages {
        let group = groups.iter_mut().find(|group| {
            group.first().is_some_and(|first| {
                page.page.is_some()
                    && first.page.is_some()
                    && first.id == page.id
                    && first.account == page.account
            })
        });
        match group {
            Some(group) => group.push(page),
            None => groups.push(vec![page]),
        }
    }
    groups.into_iter().map(check::join_group).collect()
}

#[cfg(test)]
mod tests {
    use bazaar_money::MoneyError;

    use super::*;

    const V02: &str = include_str!("testdata/camt053_v02.xml");
    const V08: &str = include_str!("testdata/camt053_v08.xml");
    const PAGES: &str = include_str!("testdata/camt053_v08_pages.xml");

    fn eur(minor: i64) -> Money {
        Money::from_minor(minor, Currency::EUR)
    }

    fn day(text: &str) -> Option<Date> {
        Date::parse_iso(text)
    }

    fn one(xml: &str) -> BankStatement {
        let mut statements = parse_camt053(xml).unwrap();
        assert_eq!(statements.len(), 1);
        statements.remove(0)
    }

    fn refused(xml: &str) -> CamtError {
        parse_camt053(xml).unwrap_err()
    }

    fn amounts(statement: &BankStatement) -> Vec<Money> {
        statement.entries.iter().map(|entry| entry.amount).collect()
    }

    #[test]
    fn a_02_statement_reads_with_its_batch_as_one_entry_of_two_parts() {
        let statement = one(V02);
        assert_eq!(statement.version, CamtVersion::V02);
        assert_eq!(statement.id, "STMT-2026-11-30-001");
        assert_eq!(statement.sequence, Some(334));
        assert_eq!(statement.created_at, "2026-11-30T22:05:13+01:00");
        assert_eq!(statement.account, "DE89370400440532013000");
        assert_eq!(statement.currency, Currency::EUR);
        assert_eq!((statement.page, statement.last_page), (Some(1), Some(true)));
        let balances: Vec<(&str, Money)> = statement
            .balances
            .iter()
            .map(|balance| (balance.kind.code(), balance.amount))
            .collect();
        assert_eq!(
            balances,
            [
                ("OPBD", eur(1_250_000)),
                ("CLBD", eur(1_160_206)),
                ("CLAV", eur(1_160_206)),
                ("FWAV", eur(1_210_206)),
            ]
        );
        assert_eq!(statement.balances.get(3).map(|b| b.date), day("2026-12-01"));
        assert_eq!(
            amounts(&statement),
            [
                eur(42_956),
                eur(-125_000),
                eur(-7_500),
                eur(-250),
                eur(50_000)
            ]
        );
        let batch = BankEntry {
            reference: Some("N-20261130-0001".to_owned()),
            amount: eur(42_956),
            reversal: false,
            status: EntryStatus::Booked,
            booking_date: day("2026-11-30"),
            value_date: day("2026-11-30"),
            servicer_reference: Some("2026113000001234".to_owned()),
            transaction_code: Some("PMNT/RCDT/ESCT".to_owned()),
            batches: vec![EntryBatch {
                transactions: Some(2),
                total: Some(eur(42_956)),
            }],
            parts: vec![
                EntryPart {
                    end_to_end_id: Some("BZR-PAY-7f3a91c2".to_owned()),
                    servicer_reference: Some("2026113000001234-1".to_owned()),
                    amount: Some(eur(32_956)),
                    remittance: Some("Bazaar order 100234 & gift wrap Thank you".to_owned()),
                    creditor_reference: None,
                },
                EntryPart {
                    end_to_end_id: Some("BZR-PAY-0b44de10".to_owned()),
                    servicer_reference: Some("2026113000001234-2".to_owned()),
                    amount: Some(eur(10_000)),
                    remittance: Some("Bazaar order 100235".to_owned()),
                    creditor_reference: None,
                },
            ],
        };
        assert_eq!(statement.entries.first(), Some(&batch));

        let [_, payout, reversal, fee, pending] = statement.entries.as_slice() else {
            panic!("five entries");
        };
        assert_eq!(payout.transaction_code.as_deref(), Some("PMNT/ICDT/ESCT"));
        let payout_part = payout.parts.first().unwrap();
        assert_eq!(
            payout_part.amount,
            Some(eur(-125_000)),
            "a lone part takes the entry's amount"
        );
        assert_eq!(
            payout_part.end_to_end_id.as_deref(),
            Some("BZR-PO-2026-000417")
        );
        assert!(reversal.reversal);
        assert_eq!(reversal.value_date, day("2026-11-27"));
        assert_eq!(reversal.parts.first().unwrap().amount, Some(eur(-7_500)));
        assert_eq!(fee.transaction_code.as_deref(), Some("NCHG+808"));
        assert!(fee.parts.is_empty());
        assert_eq!(pending.status, EntryStatus::Pending);
        assert_eq!(pending.booking_date, None);
        let pending_part = pending.parts.first().unwrap();
        assert_eq!(
            pending_part.creditor_reference.as_deref(),
            Some("RF18539007547034")
        );
        assert_eq!(pending_part.remittance, None);

        assert_eq!(
            statement.opening_balance().map(|b| b.amount),
            Some(eur(1_250_000))
        );
        assert_eq!(
            statement.closing_balance().map(|b| b.amount),
            Some(eur(1_160_206))
        );
        assert_eq!(statement.booked_total(), Ok(eur(-89_794)));
    }

    #[test]
    fn a_08_statement_reads_with_signed_amounts_dates_and_codes() {
        let statement = one(V08);
        assert_eq!(statement.version, CamtVersion::V08);
        assert_eq!(statement.id, "STMT-2026-12-01-001");
        assert_eq!(statement.sequence, Some(335));
        assert_eq!((statement.page, statement.last_page), (Some(1), Some(true)));
        let closing = statement.closing_balance().unwrap();
        assert_eq!(closing.amount, eur(-1_588), "DBIT is an overdrawn balance");
        assert_eq!(
            Some(closing.date),
            day("2026-12-01"),
            "a DtTm keeps its date"
        );
        assert_eq!(
            amounts(&statement),
            [
                eur(42_956),
                eur(-1_200_000),
                eur(-7_500),
                eur(3_000),
                eur(-250),
                eur(25_000)
            ]
        );
        let [batch, payout, recall, returned, fee, pending] = statement.entries.as_slice() else {
            panic!("six entries");
        };
        assert_eq!(batch.booking_date, day("2026-12-01"));
        let parts: Vec<(Option<&str>, Option<Money>, Option<&str>)> = batch
            .parts
            .iter()
            .map(|part| {
                (
                    part.end_to_end_id.as_deref(),
                    part.amount,
                    part.remittance.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            parts,
            [
                (
                    Some("BZR-PAY-91aa02b7"),
                    Some(eur(32_956)),
                    Some("Bazaar order 100301")
                ),
                (
                    Some("BZR-PAY-4c5d6e7f"),
                    Some(eur(10_000)),
                    Some("Bazaar order 100302")
                ),
            ]
        );
        assert_eq!(payout.parts.first().unwrap().amount, Some(eur(-1_200_000)));
        assert!(
            recall.reversal && recall.amount.is_negative(),
            "a reversed credit is a debit"
        );
        assert!(
            returned.reversal && !returned.amount.is_negative(),
            "a reversed debit is a credit"
        );
        assert_eq!(returned.transaction_code.as_deref(), Some("PMNT/IDDT/UPDD"));
        assert_eq!(fee.transaction_code.as_deref(), Some("NCHG+808"));
        assert_eq!(pending.status, EntryStatus::Pending);
    }

    #[test]
    fn a_statement_that_does_not_balance_is_refused_whole() {
        let wrong = V02.replacen("11602.06", "11602.07", 1);
        assert_eq!(
            refused(&wrong),
            CamtError::DoesNotBalance {
                statement: "STMT-2026-11-30-001".to_owned(),
                expected: eur(1_160_207),
                found: eur(1_160_206),
            }
        );
        assert_eq!(refused(&wrong).code(), "camt_does_not_balance");
        // Booking the pending entry puts its 500.00 into the sum.
        let booked = V08.replace("<Cd>PDNG</Cd>", "<Cd>BOOK</Cd>");
        assert_eq!(refused(&booked).code(), "camt_does_not_balance");
        // One statement of three wrong refuses the document: the last page closes at 830.01.
        let last_wrong = PAGES.replace("830.00</Amt>\n        <CdtDbtInd>CRDT</CdtDbtInd>\n        <Dt>\n          <Dt>2026-12-02</Dt>\n        </Dt>\n      </Bal>\n      <Bal>", "830.01</Amt>\n        <CdtDbtInd>CRDT</CdtDbtInd>\n        <Dt>\n          <Dt>2026-12-02</Dt>\n        </Dt>\n      </Bal>\n      <Bal>");
        assert_ne!(last_wrong, PAGES);
        assert_eq!(refused(&last_wrong).code(), "camt_does_not_balance");
        let no_opening = V02.replace("<Cd>OPBD</Cd>", "<Cd>OPAV</Cd>");
        assert_eq!(
            refused(&no_opening),
            CamtError::MissingBalance {
                statement: "STMT-2026-11-30-001".to_owned(),
                balance: "opening",
            }
        );
        let no_closing = V08.replace("<Cd>CLBD</Cd>", "<Cd>ITBD</Cd>");
        assert_eq!(refused(&no_closing).code(), "camt_missing_balance");
    }

    #[test]
    fn parts_that_do_not_add_up_are_refused() {
        let part = V08.replacen("329.56</Amt>", "329.55</Amt>", 1);
        assert_eq!(
            refused(&part),
            CamtError::PartsDoNotAddUp {
                statement: "STMT-2026-12-01-001".to_owned(),
                entry: 1,
                expected: eur(42_956),
                found: eur(42_955),
            }
        );
        let total = V02.replace("429.56</TtlAmt>", "429.65</TtlAmt>");
        assert_eq!(refused(&total).code(), "camt_parts_do_not_add_up");
        // Without the batch, the parts are checked against the entry itself.
        let unbatched = V02.replace("<Btch>", "<!--").replace("</Btch>", "-->");
        assert_eq!(
            one(&unbatched).entries.first().map(|e| e.batches.len()),
            Some(0)
        );
        let unbatched_wrong = unbatched.replacen("100.00</Amt>", "100.01</Amt>", 1);
        assert_eq!(refused(&unbatched_wrong).code(), "camt_parts_do_not_add_up");
        let count = V02.replace("<NbOfTxs>2</NbOfTxs>", "<NbOfTxs>3</NbOfTxs>");
        assert_eq!(refused(&count).code(), "camt_batch_count_mismatch");
    }

    #[test]
    fn an_unsupported_version_is_refused() {
        for namespace in [
            "urn:iso:std:iso:20022:tech:xsd:camt.053.001.04",
            "urn:iso:std:iso:20022:tech:xsd:camt.052.001.02",
            "",
        ] {
            let other = V02.replace(
                "xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\"",
                &format!("xmlns=\"{namespace}\""),
            );
            let error = refused(&other);
            assert_eq!(error.code(), "camt_version_unsupported", "{namespace}");
            assert_eq!(
                error,
                CamtError::VersionUnsupported {
                    namespace: namespace.to_owned()
                }
            );
        }
    }

    #[test]
    fn malformed_documents_are_refused_without_a_panic() {
        let broken = [
            String::new(),
            "not xml at all".to_owned(),
            V02.replace("</Ntry>", "</Ntr>"),
            V02.replace("<Amt Ccy=\"EUR\">2.50</Amt>", ""),
            V02.replace("<Sts>BOOK</Sts>", ""),
            V02.replace("<Id>STMT-2026-11-30-001</Id>", ""),
            V02.replace("2026-11-27", "2026-02-30"),
            V02.replace(
                "<CdtDbtInd>DBIT</CdtDbtInd>",
                "<CdtDbtInd>DEBIT</CdtDbtInd>",
            ),
            V02.replace("<RvslInd>true</RvslInd>", "<RvslInd>yes</RvslInd>"),
            V02.replace("&amp; gift", "&nbsp; gift"),
            V02.replace(
                "<Amt Ccy=\"EUR\">2.50</Amt>",
                "<Amt Ccy=\"EUR\">-2.50</Amt>",
            ),
            V08.replace("<PgNb>1</PgNb>", "<PgNb>one</PgNb>"),
            format!("{V02}<Document/>"),
            format!("{}{}", "<a>".repeat(100), "</a>".repeat(100)),
        ];
        for xml in &broken {
            assert_eq!(
                refused(xml).code(),
                "camt_malformed",
                "{}",
                xml.get(..80).unwrap_or(xml)
            );
        }
        for (cut, _) in V08.char_indices().step_by(37) {
            assert_eq!(
                refused(V08.get(..cut).unwrap()).code(),
                "camt_malformed",
                "cut at {cut}"
            );
        }
        let huge = " ".repeat(CAMT053_BYTES_MAX.saturating_add(1));
        assert_eq!(refused(&huge), CamtError::TooLarge);
        assert_eq!(CamtError::TooLarge.code(), "camt_too_large");
    }

    #[test]
    fn amounts_with_more_decimals_than_the_currency_are_refused() {
        let three = V02.replacen("329.56</Amt>", "329.560</Amt>", 1);
        let error = refused(&three);
        assert_eq!(error.code(), "camt_amount_invalid");
        assert!(matches!(
            error,
            CamtError::AmountInvalid {
                reason: MoneyError::TooManyDecimals { found: 3, .. },
                ..
            }
        ));
        let yen = V02.replace("EUR", "JPY");
        assert_eq!(refused(&yen).code(), "camt_amount_invalid");
        let unknown = V02.replacen("Ccy=\"EUR\">2.50", "Ccy=\"EUX\">2.50", 1);
        assert_eq!(refused(&unknown).code(), "camt_amount_invalid");
        let dollars = V02.replacen("Ccy=\"EUR\">2.50", "Ccy=\"USD\">2.50", 1);
        assert_eq!(
            refused(&dollars),
            CamtError::CurrencyMismatch {
                statement: "STMT-2026-11-30-001".to_owned(),
                expected: Currency::EUR,
                found: Currency::USD,
            }
        );
    }

    #[test]
    fn three_pages_join_into_one_statement_that_balances() {
        let pages = parse_camt053(PAGES).unwrap();
        let numbers: Vec<_> = pages
            .iter()
            .map(|page| (page.page, page.last_page))
            .collect();
        assert_eq!(
            numbers,
            [
                (Some(1), Some(false)),
                (Some(2), Some(false)),
                (Some(3), Some(true))
            ]
        );
        let middle = pages.get(1).unwrap();
        assert_eq!(
            middle.opening_balance().map(|b| b.amount),
            Some(eur(98_412))
        );
        assert_eq!(
            middle.closing_balance().map(|b| b.amount),
            Some(eur(83_412))
        );

        let mut shuffled = pages.clone();
        shuffled.reverse();
        shuffled.insert(1, one(V02));
        let joined = join_pages(shuffled).unwrap();
        assert_eq!(joined.len(), 2);
        let [statement, unpaginated] = joined.as_slice() else {
            panic!("two statements");
        };
        assert_eq!(
            unpaginated,
            &one(V02),
            "a single last page passes through unchanged"
        );
        assert_eq!(statement.id, "STMT-2026-12-02-001");
        assert_eq!((statement.page, statement.last_page), (None, None));
        let kinds: Vec<&str> = statement.balances.iter().map(|b| b.kind.code()).collect();
        assert_eq!(kinds, ["OPBD", "CLBD", "CLAV"]);
        assert_eq!(
            statement.opening_balance().map(|b| b.amount),
            Some(eur(-1_588))
        );
        assert_eq!(
            statement.closing_balance().map(|b| b.amount),
            Some(eur(83_000))
        );
        assert_eq!(
            amounts(statement),
            [eur(100_000), eur(-20_000), eur(5_000), eur(-412)]
        );
        assert_eq!(
            join_pages(vec![statement.clone()]).unwrap(),
            std::slice::from_ref(statement)
        );
    }

    #[test]
    fn a_missing_or_duplicate_page_is_refused() {
        let pages = parse_camt053(PAGES).unwrap();
        let statement = "STMT-2026-12-02-001".to_owned();
        let mut missing = pages.clone();
        missing.remove(1);
        assert_eq!(
            join_pages(missing).unwrap_err(),
            CamtError::PagesIncomplete {
                statement: statement.clone(),
                missing: 2
            }
        );
        let mut no_last = pages.clone();
        no_last.pop();
        assert_eq!(
            join_pages(no_last).unwrap_err(),
            CamtError::PagesIncomplete {
                statement: statement.clone(),
                missing: 3
            }
        );
        let mut twice = pages.clone();
        twice.extend(pages.get(1).cloned());
        assert_eq!(
            join_pages(twice).unwrap_err(),
            CamtError::PageDuplicate { statement, page: 2 }
        );
        let mut gap = pages.clone();
        if let Some(middle) = gap.get_mut(1) {
            for balance in &mut middle.balances {
                balance.amount = balance.amount.checked_add(eur(1)).unwrap();
            }
        }
        assert_eq!(
            join_pages(gap).unwrap_err().code(),
            "camt_pages_inconsistent"
        );
        let mut early_last = pages;
        if let Some(first) = early_last.first_mut() {
            first.last_page = Some(true);
        }
        assert_eq!(
            join_pages(early_last).unwrap_err().code(),
            "camt_pages_inconsistent"
        );
    }
}
