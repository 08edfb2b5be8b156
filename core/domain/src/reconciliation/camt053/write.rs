//! Writing camt.053.001.08: what the sandbox bank sends, and what tests read back.

use std::fmt::Write as _;

use bazaar_money::Money;

use super::{BankEntry, BankStatement, CamtVersion, EntryPart};

/// Text with XML's five special characters escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// An amount element's text and the indicator that gives it its sign, flipped for a
/// reversal (a reversed debit reads as a credit).
fn amount(money: Money, reversal: bool) -> (String, &'static str) {
    let negative = money.is_negative();
    let magnitude = money
        .checked_neg()
        .ok()
        .filter(|_| negative)
        .unwrap_or(money);
    let indicator = if negative == reversal { "CRDT" } else { "DBIT" };
    (magnitude.amount_string(), indicator)
}

fn element(out: &mut String, name: &str, text: Option<&str>) {
    if let Some(text) = text {
        let _ = write!(out, "<{name}>{}</{name}>", escape(text));
    }
}

fn part_xml(out: &mut String, part: &EntryPart, entry: &BankEntry) {
    out.push_str("<TxDtls>");
    if part.servicer_reference.is_some() || part.end_to_end_id.is_some() {
        out.push_str("<Refs>");
        element(out, "AcctSvcrRef", part.servicer_reference.as_deref());
        element(out, "EndToEndId", part.end_to_end_id.as_deref());
        out.push_str("</Refs>");
    }
    if let Some(money) = part.amount {
        let (text, indicator) = amount(money, entry.reversal);
        let _ = write!(
            out,
            "<Amt Ccy=\"{}\">{text}</Amt><CdtDbtInd>{indicator}</CdtDbtInd>",
            money.currency().code()
        );
    }
    if part.remittance.is_some() || part.creditor_reference.is_some() {
        out.push_str("<RmtInf>");
        element(out, "Ustrd", part.remittance.as_deref());
        if let Some(reference) = &part.creditor_reference {
            let _ = write!(
                out,
                "<Strd><CdtrRefInf><Ref>{}</Ref></CdtrRefInf></Strd>",
                escape(reference)
            );
        }
        out.push_str("</RmtInf>");
    }
    out.push_str("</TxDtls>");
}

fn entry_xml(out: &mut String, entry: &BankEntry) {
    out.push_str("<Ntry>");
    element(out, "NtryRef", entry.reference.as_deref());
    let (text, indicator) = amount(entry.amount, entry.reversal);
    let _ = write!(
        out,
        "<Amt Ccy=\"{}\">{text}</Amt><CdtDbtInd>{indicator}</CdtDbtInd>",
        entry.amount.currency().code()
    );
    if entry.reversal {
        out.push_str("<RvslInd>true</RvslInd>");
    }
    let _ = write!(out, "<Sts><Cd>{}</Cd></Sts>", escape(entry.status.code()));
    for (name, date) in [("BookgDt", entry.booking_date), ("ValDt", entry.value_date)] {
        if let Some(date) = date {
            let _ = write!(out, "<{name}><Dt>{date}</Dt></{name}>");
        }
    }
    element(out, "AcctSvcrRef", entry.servicer_reference.as_deref());
    if let Some(code) = &entry.transaction_code {
        match code.split('/').collect::<Vec<_>>().as_slice() {
            [domain, family, sub] => {
                let _ = write!(
                    out,
                    "<BkTxCd><Domn><Cd>{}</Cd><Fmly><Cd>{}</Cd><SubFmlyCd>{}</SubFmlyCd></Fmly>\
                     </Domn></BkTxCd>",
                    escape(domain),
                    escape(family),
                    escape(sub)
                );
            }
            _ => {
                let _ = write!(
                    out,
                    "<BkTxCd><Prtry><Cd>{}</Cd></Prtry></BkTxCd>",
                    escape(code)
                );
            }
        }
    }
    if !entry.parts.is_empty() || !entry.batches.is_empty() {
        out.push_str("<NtryDtls>");
        if let Some(batch) = entry.batches.first() {
            out.push_str("<Btch>");
            if let Some(count) = batch.transactions {
                let _ = write!(out, "<NbOfTxs>{count}</NbOfTxs>");
            }
            if let Some(total) = batch.total {
                let (text, indicator) = amount(total, entry.reversal);
                let _ = write!(
                    out,
                    "<TtlAmt Ccy=\"{}\">{text}</TtlAmt><CdtDbtInd>{indicator}</CdtDbtInd>",
                    total.currency().code()
                );
            }
            out.push_str("</Btch>");
        }
        for part in &entry.parts {
            part_xml(out, part, entry);
        }
        out.push_str("</NtryDtls>");
    }
    out.push_str("</Ntry>");
}

fn statement_xml(out: &mut String, statement: &BankStatement) {
    out.push_str("<Stmt>");
    element(out, "Id", Some(&statement.id));
    if let (Some(page), Some(last)) = (statement.page, statement.last_page) {
        let _ = write!(
            out,
            "<StmtPgntn><PgNb>{page}</PgNb><LastPgInd>{last}</LastPgInd></StmtPgntn>"
        );
    }
    if let Some(sequence) = statement.sequence {
        let _ = write!(out, "<ElctrncSeqNb>{sequence}</ElctrncSeqNb>");
    }
    element(out, "CreDtTm", Some(&statement.created_at));
    let _ = write!(
        out,
        "<Acct><Id><Othr><Id>{}</Id></Othr></Id><Ccy>{}</Ccy></Acct>",
        escape(&statement.account),
        statement.currency.code()
    );
    for balance in &statement.balances {
        let (text, indicator) = amount(balance.amount, false);
        let _ = write!(
            out,
            "<Bal><Tp><CdOrPrtry><Cd>{}</Cd></CdOrPrtry></Tp><Amt Ccy=\"{}\">{text}</Amt>\
             <CdtDbtInd>{indicator}</CdtDbtInd><Dt><Dt>{}</Dt></Dt></Bal>",
            escape(balance.kind.code()),
            balance.amount.currency().code(),
            balance.date
        );
    }
    for entry in &statement.entries {
        entry_xml(out, entry);
    }
    out.push_str("</Stmt>");
}

/// The statements as one camt.053.001.08 document (message id `message_id`), which
/// [`parse_camt053`](super::parse_camt053) reads back to the same values.
pub fn write_camt053(message_id: &str, created_at: &str, statements: &[BankStatement]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = write!(
        out,
        "<Document xmlns=\"{}\"><BkToCstmrStmt><GrpHdr><MsgId>{}</MsgId>\
         <CreDtTm>{}</CreDtTm></GrpHdr>",
        CamtVersion::V08.namespace(),
        escape(message_id),
        escape(created_at)
    );
    for statement in statements {
        statement_xml(&mut out, statement);
    }
    out.push_str("</BkToCstmrStmt></Document>\n");
    out
}

#[cfg(test)]
mod tests {
    #![expect(clippy::arithmetic_side_effects, reason = "small values in test data")]

    use bazaar_money::Currency;
    use proptest::prelude::{Just, Strategy, prop_assert_eq, proptest};

    use super::super::{
        BalanceType, EntryBatch, EntryStatus, StatementBalance, join_pages, parse_camt053,
    };
    use super::*;
    use crate::fx::calendar::Date;

    #[test]
    fn the_samples_read_back_as_written() {
        for sample in [
            include_str!("../testdata/camt053_v02.xml"),
            include_str!("../testdata/camt053_v08.xml"),
            include_str!("../testdata/camt053_v08_pages.xml"),
        ] {
            let mut read = parse_camt053(sample).unwrap();
            for statement in &mut read {
                statement.version = CamtVersion::V08;
            }
            let written = write_camt053("MSG-1", "2026-12-01T06:00:00", &read);
            assert_eq!(parse_camt053(&written).unwrap(), read);
            assert_eq!(
                join_pages(parse_camt053(&written).unwrap()).unwrap().len(),
                1
            );
        }
    }

    fn eur(minor: i64) -> Money {
        Money::from_minor(minor, Currency::EUR)
    }

    /// An entry: its amount, whether reversed, booked or pending, and its parts' shares.
    fn entry() -> impl Strategy<Value = BankEntry> {
        (
            -50_000_i64..50_000,
            proptest::bool::ANY,
            proptest::bool::ANY,
            proptest::collection::vec(1_i64..100, 0..4),
            // Remittance as banks write it: no spaces at either end.
            "([A-Za-z0-9&<>'\"]([A-Za-z0-9 &<>'\"]{0,10}[A-Za-z0-9&<>'\"])?)?",
        )
            .prop_flat_map(|(minor, reversal, booked, shares, text)| {
                Just(build(minor, reversal, booked, &shares, &text))
            })
    }

    fn build(minor: i64, reversal: bool, booked: bool, shares: &[i64], text: &str) -> BankEntry {
        // Parts split the entry: the last takes what the shares leave.
        let mut parts = Vec::new();
        let mut left = minor;
        for (n, share) in shares.iter().enumerate() {
            let part = if n + 1 == shares.len() {
                left
            } else {
                minor.signum() * share
            };
            left -= part;
            parts.push(EntryPart {
                end_to_end_id: Some(format!("E2E-{n}")),
                servicer_reference: None,
                amount: Some(eur(part)),
                remittance: (!text.is_empty()).then(|| text.to_owned()),
                creditor_reference: None,
            });
        }
        let batches = if parts.len() > 1 {
            vec![EntryBatch {
                transactions: u32::try_from(parts.len()).ok(),
                total: Some(eur(minor)),
            }]
        } else {
            Vec::new()
        };
        BankEntry {
            reference: Some(format!("N-{minor}")),
            amount: eur(minor),
            reversal,
            status: if booked {
                EntryStatus::Booked
            } else {
                EntryStatus::Pending
            },
            booking_date: Date::new(2026, 11, 30),
            value_date: Date::new(2026, 12, 1),
            servicer_reference: Some("REF-1".to_owned()),
            transaction_code: Some("PMNT/RCDT/ESCT".to_owned()),
            batches,
            parts,
        }
    }

    proptest! {
        /// Whatever balanced statement is written, it reads back the same.
        #[test]
        fn statements_read_back_as_written(
            opening in -1_000_000_i64..1_000_000,
            entries in proptest::collection::vec(entry(), 0..8),
        ) {
            let booked: i64 = entries
                .iter()
                .filter(|e| e.status == EntryStatus::Booked)
                .map(|e| e.amount.minor())
                .sum();
            let balance = |kind, minor| StatementBalance {
                kind,
                amount: eur(minor),
                date: Date::new(2026, 11, 30).unwrap(),
            };
            let statement = BankStatement {
                version: CamtVersion::V08,
                id: "STMT-1 & <co>".to_owned(),
                sequence: Some(7),
                created_at: "2026-12-01T06:00:00".to_owned(),
                account: "DE89370400440532013000".to_owned(),
                currency: Currency::EUR,
                page: None,
                last_page: None,
                balances: vec![
                    balance(BalanceType::OpeningBooked, opening),
                    balance(BalanceType::ClosingBooked, opening + booked),
                ],
                entries,
            };
            let written = write_camt053("MSG", "2026-12-01T06:00:00", std::slice::from_ref(&statement));
            prop_assert_eq!(parse_camt053(&written).unwrap(), vec![statement]);
        }
    }
}
