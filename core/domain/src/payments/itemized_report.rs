//! A provider's itemized payout reconciliation report, in the layout of Stripe's
//! "Payout reconciliation, itemized" CSV: one row per balance transaction (a charge, a refund,
//! a dispute, a fee) with the automatic payout that paid it out. Columns are found by their
//! header name, in any order; extra columns are ignored. Reading checks each row's arithmetic
//! (net = gross less fee, in one currency); [`payout_totals`] sums what each payout carried,
//! to match against the bank. Pure: text in, rows out.

use std::collections::BTreeMap;

use bazaar_money::{Currency, Money, MoneyError};

use super::settlement_report::{fields, quote};

/// The columns a report must have.
pub const ITEMIZED_COLUMNS: [&str; 12] = [
    "automatic_payout_id",
    "automatic_payout_effective_at",
    "balance_transaction_id",
    "created_utc",
    "available_on_utc",
    "currency",
    "gross",
    "fee",
    "net",
    "reporting_category",
    "source_id",
    "description",
];

/// The most rows a report may have.
pub const ITEMIZED_ROWS_MAX: usize = 1_000_000;

/// One balance transaction of a payout.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ItemizedRow {
    /// The payout that paid it out.
    pub payout_id: String,
    /// When the payout was expected in the bank, as written (`YYYY-MM-DD HH:MM:SS`, UTC).
    pub payout_effective_at: String,
    /// The balance transaction's id.
    pub balance_transaction_id: String,
    /// When it was created, as written (UTC).
    pub created_utc: String,
    /// When it became available, as written (UTC).
    pub available_on_utc: String,
    /// Before fees: positive for money in, negative for money out.
    pub gross: Money,
    /// The provider's fee, positive when charged.
    pub fee: Money,
    /// After the fee: `gross - fee`.
    pub net: Money,
    /// What it is: `charge`, `refund`, `dispute`, `dispute_reversal`, `fee`, ...
    pub reporting_category: String,
    /// The object it came from (a charge's, a refund's id).
    pub source_id: String,
    /// Free text.
    pub description: String,
}

/// Why a report was refused. Nothing of a refused report is used.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum ItemizedReportError {
    /// A required column is missing from the header.
    #[error("the header lacks the column {0}")]
    MissingColumn(&'static str),
    /// More than [`ITEMIZED_ROWS_MAX`] rows.
    #[error("more than {ITEMIZED_ROWS_MAX} rows")]
    TooLarge,
    /// A row that does not read, with its line number (the header is line 1).
    #[error("line {line}: {reason}")]
    Row {
        /// The line number.
        line: usize,
        /// What is wrong, safe to show.
        reason: String,
    },
    /// Summing amounts overflowed.
    #[error(transparent)]
    Money(#[from] MoneyError),
}

impl ItemizedReportError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingColumn(_) => "report_header_invalid",
            Self::TooLarge => "report_too_large",
            Self::Row { .. } => "report_row_invalid",
            Self::Money(inner) => inner.code(),
        }
    }
}

/// Where each required column is in the file.
struct Positions([usize; 12]);

impl Positions {
    fn of(header: &[String]) -> Result<Self, ItemizedReportError> {
        let mut found = [0_usize; 12];
        for (slot, name) in found.iter_mut().zip(ITEMIZED_COLUMNS) {
            *slot = header
                .iter()
                .position(|column| column.trim() == name)
                .ok_or(ItemizedReportError::MissingColumn(name))?;
        }
        Ok(Self(found))
    }

    fn cell<'a>(&self, cells: &'a [String], column: usize) -> Result<&'a str, String> {
        let position = self.0.get(column).copied().unwrap_or(usize::MAX);
        cells
            .get(position)
            .map(|cell| cell.trim())
            .ok_or_else(|| format!("no {} cell", ITEMIZED_COLUMNS.get(column).unwrap_or(&"")))
    }
}

fn row(positions: &Positions, cells: &[String]) -> Result<ItemizedRow, String> {
    let cell = |column| positions.cell(cells, column);
    let code = cell(5)?.to_ascii_uppercase();
    let currency = Currency::from_code(&code).map_err(|_| format!("currency {code:?}"))?;
    let amount = |column: usize| -> Result<Money, String> {
        let text = cell(column)?;
        Money::parse(text, currency).map_err(|e| {
            format!(
                "{} {text:?}: {e}",
                ITEMIZED_COLUMNS.get(column).unwrap_or(&"")
            )
        })
    };
    let (gross, fee, net) = (amount(6)?, amount(7)?, amount(8)?);
    let expected = gross.checked_sub(fee).map_err(|e| e.to_string())?;
    if expected != net {
        return Err(format!("net {net} is not gross {gross} less fee {fee}"));
    }
    let category = cell(9)?;
    if category.is_empty() {
        return Err("reporting_category is empty".to_owned());
    }
    let required = |column| -> Result<String, String> {
        let text = cell(column)?;
        if text.is_empty() {
            return Err(format!(
                "{} is empty",
                ITEMIZED_COLUMNS.get(column).unwrap_or(&"")
            ));
        }
        Ok(text.to_owned())
    };
    Ok(ItemizedRow {
        payout_id: required(0)?,
        payout_effective_at: cell(1)?.to_owned(),
        balance_transaction_id: required(2)?,
        created_utc: cell(3)?.to_owned(),
        available_on_utc: cell(4)?.to_owned(),
        gross,
        fee,
        net,
        reporting_category: category.to_owned(),
        source_id: cell(10)?.to_owned(),
        description: cell(11)?.to_owned(),
    })
}

/// Reads a report: a header naming at least [`ITEMIZED_COLUMNS`], then one row per line
/// (blank lines ignored). Every row is checked; any error refuses the whole file.
pub fn parse_itemized_report(text: &str) -> Result<Vec<ItemizedRow>, ItemizedReportError> {
    let mut lines = text.lines().enumerate();
    let header = lines
        .next()
        .map(|(_, line)| fields(line.trim_start_matches('\u{feff}').trim_end()))
        .transpose()
        .map_err(|_| ItemizedReportError::MissingColumn(ITEMIZED_COLUMNS[0]))?
        .unwrap_or_default();
    let positions = Positions::of(&header)?;
    let mut rows = Vec::new();
    for (index, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        if rows.len() >= ITEMIZED_ROWS_MAX {
            return Err(ItemizedReportError::TooLarge);
        }
        let line_number = index.saturating_add(1);
        let refuse = |reason| ItemizedReportError::Row {
            line: line_number,
            reason,
        };
        let cells = fields(line.trim_end()).map_err(refuse)?;
        rows.push(row(&positions, &cells).map_err(refuse)?);
    }
    Ok(rows)
}

/// What each payout carried, per currency: the sum of its rows' nets.
pub fn payout_totals(
    rows: &[ItemizedRow],
) -> Result<BTreeMap<(String, Currency), Money>, ItemizedReportError> {
    let mut totals: BTreeMap<(String, Currency), Money> = BTreeMap::new();
    for row in rows {
        let currency = row.net.currency();
        let total = totals
            .entry((row.payout_id.clone(), currency))
            .or_insert_with(|| Money::zero(currency));
        *total = total.checked_add(row.net)?;
    }
    Ok(totals)
}

/// Writes rows in the layout [`parse_itemized_report`] reads (the columns in the order of
/// [`ITEMIZED_COLUMNS`], currency codes in lower case, CRLF line ends).
pub fn write_itemized_report(rows: &[ItemizedRow]) -> String {
    let mut out = ITEMIZED_COLUMNS.join(",");
    out.push_str("\r\n");
    for row in rows {
        let cells = [
            row.payout_id.clone(),
            row.payout_effective_at.clone(),
            row.balance_transaction_id.clone(),
            row.created_utc.clone(),
            row.available_on_utc.clone(),
            row.net.currency().code().to_ascii_lowercase(),
            row.gross.amount_string(),
            row.fee.amount_string(),
            row.net.amount_string(),
            row.reporting_category.clone(),
            row.source_id.clone(),
            row.description.clone(),
        ];
        let quoted: Vec<String> = cells.iter().map(|cell| quote(cell)).collect();
        out.push_str(&quoted.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(minor: i64) -> Money {
        Money::from_minor(minor, Currency::EUR)
    }

    const REPORT: &str = "balance_transaction_id,automatic_payout_id,automatic_payout_effective_at,\
        created_utc,available_on_utc,currency,gross,fee,net,reporting_category,source_id,\
        description,customer_facing_amount\n\
        txn_1,po_1,2026-12-02 00:00:00,2026-11-30 10:00:00,2026-12-02 00:00:00,eur,5.00,0.12,\
        4.88,charge,ch_1,\"Order 1, two books\",5.00\n\
        txn_2,po_1,2026-12-02 00:00:00,2026-11-30 11:00:00,2026-12-02 00:00:00,eur,-2.00,0.00,\
        -2.00,refund,re_1,,\n\
        txn_3,po_2,2026-12-03 00:00:00,2026-12-01 09:00:00,2026-12-03 00:00:00,eur,-15.00,15.00,\
        -30.00,dispute,dp_1,chargeback with its fee,\n";

    #[test]
    fn rows_read_by_header_name_and_payouts_sum_their_nets() {
        let rows = parse_itemized_report(REPORT).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(
            (rows[0].gross, rows[0].fee, rows[0].net),
            (eur(500), eur(12), eur(488))
        );
        assert_eq!(rows[0].description, "Order 1, two books");
        assert_eq!(rows[2].reporting_category, "dispute");
        let totals = payout_totals(&rows).unwrap();
        assert_eq!(totals[&("po_1".to_owned(), Currency::EUR)], eur(288));
        assert_eq!(totals[&("po_2".to_owned(), Currency::EUR)], eur(-3_000));
        let written = write_itemized_report(&rows);
        assert_eq!(parse_itemized_report(&written).unwrap(), rows);
    }

    #[test]
    fn bad_arithmetic_missing_columns_and_bad_amounts_are_refused() {
        let wrong = REPORT.replace("eur,5.00,0.12,", "eur,5.00,0.11,");
        let refused = parse_itemized_report(&wrong).unwrap_err();
        assert_eq!(refused.code(), "report_row_invalid");
        assert!(refused.to_string().starts_with("line 2:"), "{refused}");
        let no_fee = REPORT.replacen(",fee,", ",fees,", 1);
        assert_eq!(
            parse_itemized_report(&no_fee).unwrap_err(),
            ItemizedReportError::MissingColumn("fee")
        );
        let yen = REPORT.replace(",eur,-2.00,0.00,", ",jpy,-2.00,0.00,");
        assert_eq!(
            parse_itemized_report(&yen).unwrap_err().code(),
            "report_row_invalid"
        );
        let no_payout = REPORT.replace("txn_2,po_1,", "txn_2,,");
        assert_eq!(
            parse_itemized_report(&no_payout).unwrap_err().code(),
            "report_row_invalid"
        );
    }
}
