//! A payment provider's settlement detail report, in the layout of Adyen's Settlement details
//! report (its 23 standard columns, in their order): one row per settled capture, refund,
//! chargeback or fee, and a `MerchantPayout` row per currency for what the batch paid to the
//! platform's bank account. Reading checks every row's arithmetic (net = gross less the four
//! fee columns, when both are in one currency) and that the payout rows equal the sum of the
//! others; writing produces the same layout. Pure: text in, rows out.

use std::fmt::Write as _;

use bazaar_money::{Currency, Money, MoneyError};

/// The columns, in order.
pub const SETTLEMENT_COLUMNS: [&str; 23] = [
    "Company Account",
    "Merchant Account",
    "Psp Reference",
    "Merchant Reference",
    "Payment Method",
    "Creation Date",
    "TimeZone",
    "Type",
    "Modification Reference",
    "Gross Currency",
    "Gross Debit (GC)",
    "Gross Credit (GC)",
    "Exchange Rate",
    "Net Currency",
    "Net Debit (NC)",
    "Net Credit (NC)",
    "Commission (NC)",
    "Markup (NC)",
    "Scheme Fees (NC)",
    "Interchange (NC)",
    "Payment Method Variant",
    "Modification Merchant Reference",
    "Batch Number",
];

/// The most rows a report may have; a larger file is refused before any row is read.
pub const SETTLEMENT_ROWS_MAX: usize = 1_000_000;

/// What a row records (the report's `Type`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum JournalType {
    /// A capture paid to the platform.
    Settled,
    /// A refund taken back from the platform.
    Refunded,
    /// A chargeback taken back from the platform.
    Chargeback,
    /// A chargeback the platform won: the money comes back.
    ChargebackReversed,
    /// A fee not tied to one payment.
    Fee,
    /// What the batch paid to the platform's bank account.
    MerchantPayout,
}

impl JournalType {
    const ALL: [Self; 6] = [
        Self::Settled,
        Self::Refunded,
        Self::Chargeback,
        Self::ChargebackReversed,
        Self::Fee,
        Self::MerchantPayout,
    ];

    /// The report's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Settled => "Settled",
            Self::Refunded => "Refunded",
            Self::Chargeback => "Chargeback",
            Self::ChargebackReversed => "ChargebackReversed",
            Self::Fee => "Fee",
            Self::MerchantPayout => "MerchantPayout",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// The fee columns, in the net currency, each zero or more.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Fees {
    /// The provider's commission.
    pub commission: Money,
    /// The provider's markup.
    pub markup: Money,
    /// The card scheme's fees.
    pub scheme_fees: Money,
    /// The issuer's interchange.
    pub interchange: Money,
}

impl Fees {
    /// No fees in `currency`.
    pub fn zero(currency: Currency) -> Self {
        let zero = Money::zero(currency);
        Self {
            commission: zero,
            markup: zero,
            scheme_fees: zero,
            interchange: zero,
        }
    }

    /// Their sum.
    pub fn total(&self) -> Result<Money, MoneyError> {
        self.commission
            .checked_add(self.markup)?
            .checked_add(self.scheme_fees)?
            .checked_add(self.interchange)
    }
}

/// One row of the report.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SettlementRow {
    /// The provider's company account.
    pub company_account: String,
    /// The merchant account (the provider's name for the platform).
    pub merchant_account: String,
    /// The payment's reference at the provider; empty for fees and payouts.
    pub psp_reference: String,
    /// The platform's reference it gave the provider: its payment id.
    pub merchant_reference: String,
    /// The payment method, e.g. `visa`, `pix`.
    pub payment_method: String,
    /// When the provider booked it, `YYYY-MM-DD HH:MM:SS` in `time_zone`.
    pub created: String,
    /// The time zone of `created`, e.g. `UTC`.
    pub time_zone: String,
    /// What it records.
    pub journal: JournalType,
    /// The modification's own reference (a refund's, a chargeback's).
    pub modification_reference: String,
    /// The amount before fees: positive for a credit to the platform, negative for a debit.
    pub gross: Money,
    /// Net currency units per gross currency unit, as written (`1` when they are the same).
    pub exchange_rate: String,
    /// The amount after fees, signed like `gross`.
    pub net: Money,
    /// The four fee columns.
    pub fees: Fees,
    /// The scheme or variant, e.g. `visadebit`.
    pub variant: String,
    /// The platform's reference of the modification (its refund id).
    pub modification_merchant_reference: String,
    /// The settlement batch.
    pub batch: u32,
}

/// Why a report was refused. Nothing of a refused report is used.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum ReportError {
    /// The first line is not the report's header.
    #[error("the header is not the settlement details layout")]
    Header,
    /// More than [`SETTLEMENT_ROWS_MAX`] rows.
    #[error("more than {SETTLEMENT_ROWS_MAX} rows")]
    TooLarge,
    /// A row that does not read, with its line number (the header is line 1).
    #[error("line {line}: {reason}")]
    Row {
        /// The line number.
        line: usize,
        /// What is wrong, safe to show.
        reason: String,
    },
    /// The payout rows of a currency do not equal the sum of its other rows.
    #[error("the {currency} payout of batch {batch} is {paid}, but its rows sum to {sum}")]
    PayoutMismatch {
        /// The batch.
        batch: u32,
        /// The currency.
        currency: Currency,
        /// What the payout rows say was paid (as a credit to the bank).
        paid: Money,
        /// What the other rows add up to.
        sum: Money,
    },
}

impl ReportError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Header => "report_header_invalid",
            Self::TooLarge => "report_too_large",
            Self::Row { .. } => "report_row_invalid",
            Self::PayoutMismatch { .. } => "report_payout_mismatch",
        }
    }
}

/// Splits one CSV line into fields: commas separate, double quotes enclose a field that
/// holds commas or quotes, and a doubled quote inside is one quote.
pub(crate) fn fields(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => out.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    if quoted {
        return Err("a quoted field is not closed".to_owned());
    }
    out.push(field);
    Ok(out)
}

/// A field as written: quoted when it holds a comma, a quote or a line break.
pub(crate) fn quote(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

fn amount(text: &str, currency: Currency) -> Result<Money, String> {
    if text.is_empty() {
        return Ok(Money::zero(currency));
    }
    Money::parse(text, currency).map_err(|error| format!("amount {text:?}: {error}"))
}

fn currency_of(text: &str, column: &str) -> Result<Currency, String> {
    Currency::from_code(text).map_err(|_| format!("{column}: unknown currency {text:?}"))
}

/// Debit and credit columns into one signed amount; both set, or a negative one, is refused.
fn signed(debit: Money, credit: Money) -> Result<Money, String> {
    if debit.is_negative() || credit.is_negative() {
        return Err("debit and credit are written as positive amounts".to_owned());
    }
    if debit.is_positive() && credit.is_positive() {
        return Err("a row is a debit or a credit, not both".to_owned());
    }
    credit.checked_sub(debit).map_err(|error| error.to_string())
}

fn row(cells: &[String]) -> Result<SettlementRow, String> {
    let [
        company,
        merchant,
        psp,
        reference,
        method,
        created,
        zone,
        kind,
        modification,
        gross_currency,
        gross_debit,
        gross_credit,
        rate,
        net_currency,
        net_debit,
        net_credit,
        commission,
        markup,
        scheme,
        interchange,
        variant,
        modification_reference,
        batch,
    ] = cells
    else {
        return Err(format!(
            "{} columns, not {}",
            cells.len(),
            SETTLEMENT_COLUMNS.len()
        ));
    };
    let journal = JournalType::parse(kind).ok_or_else(|| format!("unknown type {kind:?}"))?;
    let net_currency = currency_of(net_currency, "Net Currency")?;
    let gross_currency = if gross_currency.is_empty() {
        net_currency
    } else {
        currency_of(gross_currency, "Gross Currency")?
    };
    let gross = signed(
        amount(gross_debit, gross_currency)?,
        amount(gross_credit, gross_currency)?,
    )?;
    let net = signed(
        amount(net_debit, net_currency)?,
        amount(net_credit, net_currency)?,
    )?;
    let fees = Fees {
        commission: amount(commission, net_currency)?,
        markup: amount(markup, net_currency)?,
        scheme_fees: amount(scheme, net_currency)?,
        interchange: amount(interchange, net_currency)?,
    };
    let total = fees.total().map_err(|error| error.to_string())?;
    if total.is_negative() {
        return Err("fees are written as positive amounts".to_owned());
    }
    if gross_currency == net_currency && journal != JournalType::MerchantPayout {
        let expected = gross
            .checked_sub(total)
            .map_err(|error| error.to_string())?;
        if expected != net {
            return Err(format!("net {net} is not gross {gross} less fees {total}"));
        }
    }
    Ok(SettlementRow {
        company_account: company.clone(),
        merchant_account: merchant.clone(),
        psp_reference: psp.clone(),
        merchant_reference: reference.clone(),
        payment_method: method.clone(),
        created: created.clone(),
        time_zone: zone.clone(),
        journal,
        modification_reference: modification.clone(),
        gross,
        exchange_rate: rate.clone(),
        net,
        fees,
        variant: variant.clone(),
        modification_merchant_reference: modification_reference.clone(),
        batch: batch
            .parse()
            .map_err(|_| format!("batch number {batch:?}"))?,
    })
}

/// Reads a report: the header, then one row per line (blank lines ignored). Every row is
/// checked, and each batch's payout rows must equal the sum of its other rows per currency.
pub fn parse_settlement_report(text: &str) -> Result<Vec<SettlementRow>, ReportError> {
    let mut lines = text.lines().enumerate();
    let header = lines
        .next()
        .map(|(_, line)| fields(line.trim_start_matches('\u{feff}').trim_end()))
        .transpose()
        .map_err(|_| ReportError::Header)?;
    if header.as_deref() != Some(&SETTLEMENT_COLUMNS.map(str::to_owned)[..]) {
        return Err(ReportError::Header);
    }
    let mut rows = Vec::new();
    for (index, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        if rows.len() >= SETTLEMENT_ROWS_MAX {
            return Err(ReportError::TooLarge);
        }
        let line_number = index.saturating_add(1);
        let cells = fields(line.trim_end()).map_err(|reason| ReportError::Row {
            line: line_number,
            reason,
        })?;
        rows.push(row(&cells).map_err(|reason| ReportError::Row {
            line: line_number,
            reason,
        })?);
    }
    check_payouts(&rows)?;
    Ok(rows)
}

/// Per batch and net currency, the payout rows (a debit of what was paid out) equal the sum
/// of the other rows' nets.
fn check_payouts(rows: &[SettlementRow]) -> Result<(), ReportError> {
    let mut totals: std::collections::BTreeMap<(u32, &str), (Money, Money)> =
        std::collections::BTreeMap::new();
    for row in rows {
        let currency = row.net.currency();
        let entry = totals
            .entry((row.batch, currency.code()))
            .or_insert((Money::zero(currency), Money::zero(currency)));
        let overflow = |_| ReportError::Row {
            line: 0,
            reason: "amounts overflow".to_owned(),
        };
        if row.journal == JournalType::MerchantPayout {
            entry.0 = entry.0.checked_sub(row.net).map_err(overflow)?;
        } else {
            entry.1 = entry.1.checked_add(row.net).map_err(overflow)?;
        }
    }
    for ((batch, _), (paid, sum)) in totals {
        if paid != sum {
            return Err(ReportError::PayoutMismatch {
                batch,
                currency: sum.currency(),
                paid,
                sum,
            });
        }
    }
    Ok(())
}

/// Writes `rows` in the report's layout, header first.
pub fn write_settlement_report(rows: &[SettlementRow]) -> String {
    let mut out = SETTLEMENT_COLUMNS.join(",");
    out.push('\n');
    for row in rows {
        let split = |amount: Money| -> (String, String) {
            if amount.is_negative() {
                let positive = amount.checked_neg().unwrap_or(amount);
                (positive.amount_string(), String::new())
            } else {
                (String::new(), amount.amount_string())
            }
        };
        let (gross_debit, gross_credit) = split(row.gross);
        let (net_debit, net_credit) = split(row.net);
        let cells = [
            quote(&row.company_account),
            quote(&row.merchant_account),
            quote(&row.psp_reference),
            quote(&row.merchant_reference),
            quote(&row.payment_method),
            quote(&row.created),
            quote(&row.time_zone),
            row.journal.as_str().to_owned(),
            quote(&row.modification_reference),
            row.gross.currency().code().to_owned(),
            gross_debit,
            gross_credit,
            quote(&row.exchange_rate),
            row.net.currency().code().to_owned(),
            net_debit,
            net_credit,
            row.fees.commission.amount_string(),
            row.fees.markup.amount_string(),
            row.fees.scheme_fees.amount_string(),
            row.fees.interchange.amount_string(),
            quote(&row.variant),
            quote(&row.modification_merchant_reference),
            row.batch.to_string(),
        ];
        let _ = writeln!(out, "{}", cells.join(","));
    }
    out
}

#[cfg(test)]
mod tests {
    #![expect(clippy::arithmetic_side_effects, reason = "amounts are small")]

    use super::*;

    fn eur(minor: i64) -> Money {
        Money::from_minor(minor, Currency::EUR)
    }

    fn row(journal: JournalType, gross: i64, fees: i64, batch: u32) -> SettlementRow {
        SettlementRow {
            company_account: "Co".to_owned(),
            merchant_account: "sandbox".to_owned(),
            psp_reference: "ABC123".to_owned(),
            merchant_reference: "order, \"one\"".to_owned(),
            payment_method: "visa".to_owned(),
            created: "2026-03-02 15:00:00".to_owned(),
            time_zone: "UTC".to_owned(),
            journal,
            modification_reference: "MOD1".to_owned(),
            gross: eur(gross),
            exchange_rate: "1".to_owned(),
            net: eur(gross - fees),
            fees: Fees {
                commission: eur(fees),
                ..Fees::zero(Currency::EUR)
            },
            variant: "visa".to_owned(),
            modification_merchant_reference: String::new(),
            batch,
        }
    }

    fn payout(net: i64, batch: u32) -> SettlementRow {
        SettlementRow {
            gross: eur(0),
            net: eur(-net),
            fees: Fees::zero(Currency::EUR),
            ..row(JournalType::MerchantPayout, 0, 0, batch)
        }
    }

    #[test]
    fn a_report_reads_back_as_written() {
        let rows = vec![
            row(JournalType::Settled, 10_000, 95, 7),
            row(JournalType::Refunded, -2_500, 0, 7),
            payout(10_000 - 95 - 2_500, 7),
        ];
        let text = write_settlement_report(&rows);
        assert!(text.starts_with("Company Account,Merchant Account,Psp Reference"));
        assert!(text.contains(",Settled,MOD1,EUR,,100.00,1,EUR,,99.05,0.95,0.00,0.00,0.00,"));
        assert!(text.contains(",Refunded,MOD1,EUR,25.00,,1,EUR,25.00,,"));
        assert_eq!(parse_settlement_report(&text).unwrap(), rows);
    }

    #[test]
    fn rows_whose_arithmetic_does_not_add_up_are_refused() {
        let mut wrong = row(JournalType::Settled, 10_000, 95, 1);
        wrong.net = eur(9_906);
        let text = write_settlement_report(&[wrong, payout(9_906, 1)]);
        let refused = parse_settlement_report(&text).unwrap_err();
        assert_eq!(refused.code(), "report_row_invalid");
        assert!(refused.to_string().starts_with("line 2:"), "{refused}");

        let text =
            write_settlement_report(&[row(JournalType::Settled, 10_000, 95, 1), payout(9_000, 1)]);
        assert_eq!(
            parse_settlement_report(&text).unwrap_err().code(),
            "report_payout_mismatch"
        );
        assert_eq!(
            parse_settlement_report("Psp Reference,Type\n").unwrap_err(),
            ReportError::Header
        );
        let text = write_settlement_report(&[row(JournalType::Settled, 100, 0, 1)]);
        let cut = text.replace(",Settled,", ",Sold,");
        assert_eq!(
            parse_settlement_report(&cut).unwrap_err().code(),
            "report_row_invalid"
        );
    }
    #[test]
    fn a_settled_row_nets_its_fees_and_a_chargeback_takes_the_money_back() {
        let header = SETTLEMENT_COLUMNS.join(",");
        // 5.00 settled less markup 0.04, scheme fees 0.01 and interchange 0.07: 4.88.
        let settled = "Co,Bazaar,8816178952380553,pay-1,visa,2026-11-30 10:00:00,UTC,Settled,\
            8816178952380553,EUR,,5.00,1,EUR,,4.88,0.00,0.04,0.01,0.07,visadebit,,41";
        let chargeback = "Co,Bazaar,8816178952380554,pay-2,visa,2026-11-30 11:00:00,UTC,\
            Chargeback,CB-9,EUR,12.00,,1,EUR,12.00,,0.00,0.00,0.00,0.00,visa,cb-9,41";
        // The batch nets 4.88 - 12.00 = -7.12: the provider takes 7.12 from the bank.
        let payout = |amount: &str| {
            format!(
                "Co,Bazaar,,,,2026-11-30 12:00:00,UTC,MerchantPayout,,EUR,,,1,EUR,,{amount},\
                 0.00,0.00,0.00,0.00,,,41"
            )
        };
        let text = format!("{header}\n{settled}\n{chargeback}\n{}\n", payout("7.12"));
        let rows = parse_settlement_report(&text).unwrap();
        assert_eq!(rows[0].gross, eur(500));
        assert_eq!(rows[0].net, eur(488));
        assert_eq!(rows[0].fees.total().unwrap(), eur(12));
        assert_eq!(rows[1].journal, JournalType::Chargeback);
        assert_eq!((rows[1].gross, rows[1].net), (eur(-1_200), eur(-1_200)));
        assert_eq!(rows[2].net, eur(712));
        let wrong = format!("{header}\n{settled}\n{chargeback}\n{}\n", payout("7.13"));
        assert_eq!(
            parse_settlement_report(&wrong).unwrap_err().code(),
            "report_payout_mismatch"
        );
    }
}
