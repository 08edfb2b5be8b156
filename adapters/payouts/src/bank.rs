//! The sandbox bank: the platform's bank account, one per currency, as the bank keeps it on
//! its side, and the camt.053 statement it sends for each day.
//!
//! Money comes in from the payment provider ([`SandboxBank::receive_provider_payout`], one
//! entry per provider batch and currency) and goes out with the payouts the sandbox rails
//! pay; a returned payout comes back, and a bank charge per payout may be taken
//! ([`SandboxRails::with_bank_charge`](crate::SandboxRails::with_bank_charge)). The rails
//! book their entries in the same transaction that records the payout's event, so the bank
//! never shows a payout the rails did not report, nor the other way round. Every entry's id
//! derives from what booked it: booking it again changes nothing.
//!
//! [`SandboxBank::statement`] writes a day's camt.053.001.08 document, which
//! [`parse_camt053`](bazaar_domain::reconciliation::parse_camt053) reads back and the
//! reconciliation imports.

use bazaar_domain::fx::calendar::Date;
use bazaar_domain::payouts::{PayoutId, RailOutcome};
use bazaar_domain::reconciliation::{
    BalanceType, BankEntry, BankStatement, CamtVersion, EntryPart, EntryStatus, StatementBalance,
    write_camt053,
};
use bazaar_ledger::Timestamp;
use bazaar_money::{Currency, Money, MoneyError};
use bazaar_schema::schema::sandbox_bank_entries;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool};
use uuid::Uuid;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The namespace of the entries' ids (a fixed random UUID).
const NAMESPACE: Uuid = Uuid::from_u128(0xe3e4_f72d_96f0_429d_845d_5a73_01f9_24c9);

/// The longest provider name: the end-to-end id `{provider}-batch-{batch}` then stays within
/// the 35 characters camt.053 allows (`-batch-` is 7, a `u32` at most 10).
pub const PROVIDER_CHARS_MAX: usize = 18;

/// The EUR account: a German IBAN with valid check digits.
const EUR_ACCOUNT: &str = "DE53370400440099887766";

/// Why the sandbox bank did not do what was asked.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum BankError {
    /// The bank's records could not be read or written; the request may be repeated.
    Unavailable,
    /// The request was malformed (a currency that is not the amount's, a provider name the
    /// bank does not take, a day out of range): a bug on the caller's side.
    Rejected(String),
    /// The entry was booked before with another amount or currency.
    Conflict(String),
    /// The bank's records do not read back, or their sum overflows.
    Corrupt(String),
}

impl BankError {
    /// A stable code for logs and answers: `bank_unavailable`, `bank_rejected`,
    /// `bank_conflict`, `bank_corrupt`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unavailable => "bank_unavailable",
            Self::Rejected(_) => "bank_rejected",
            Self::Conflict(_) => "bank_conflict",
            Self::Corrupt(_) => "bank_corrupt",
        }
    }
}

impl std::fmt::Display for BankError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unavailable => write!(f, "the sandbox bank is unavailable"),
            Self::Rejected(why) => write!(f, "the sandbox bank refused the request: {why}"),
            Self::Conflict(why) => write!(f, "the sandbox bank booked this before: {why}"),
            Self::Corrupt(why) => write!(f, "the sandbox bank's records do not read: {why}"),
        }
    }
}

impl std::error::Error for BankError {}

/// The bank's records could not be read or written: the bank "did not answer".
fn unavailable(error: impl std::fmt::Display) -> BankError {
    tracing::warn!(%error, "sandbox bank unavailable");
    BankError::Unavailable
}

fn corrupt(what: impl std::fmt::Display) -> BankError {
    BankError::Corrupt(what.to_string())
}

/// What booked an entry.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum EntryKind {
    /// A payment provider's payout batch to the platform.
    ProviderBatch,
    /// A payout the rails paid.
    Payout,
    /// A paid payout that came back.
    PayoutReturn,
    /// The bank's charge for a payout.
    Charge,
}

impl EntryKind {
    const ALL: [Self; 4] = [
        Self::ProviderBatch,
        Self::Payout,
        Self::PayoutReturn,
        Self::Charge,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::ProviderBatch => "provider_batch",
            Self::Payout => "payout",
            Self::PayoutReturn => "payout_return",
            Self::Charge => "charge",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// The ISO 20022 bank transaction code (`Domain/Family/SubFamily`) of an entry of this
    /// kind: a SEPA credit received or issued, a returned credit transfer, a charge.
    fn transaction_code(self, amount: Money) -> &'static str {
        match self {
            Self::ProviderBatch if !amount.is_negative() => "PMNT/RCDT/ESCT",
            Self::ProviderBatch | Self::Payout => "PMNT/ICDT/ESCT",
            Self::PayoutReturn => "PMNT/ICDT/RRTN",
            Self::Charge => "ACMT/MDOP/CHRG",
        }
    }
}

/// An entry to book.
struct NewEntry {
    id: Uuid,
    /// Signed: credits positive.
    amount: Money,
    at: Timestamp,
    end_to_end_id: String,
    remittance: String,
    kind: EntryKind,
}

impl NewEntry {
    fn new(key: &str, amount: Money, at: Timestamp, kind: EntryKind) -> Self {
        Self {
            id: Uuid::new_v5(&NAMESPACE, format!("{}:{key}", kind.as_str()).as_bytes()),
            amount,
            at,
            end_to_end_id: String::new(),
            remittance: String::new(),
            kind,
        }
    }

    fn with_text(mut self, end_to_end_id: String, remittance: String) -> Self {
        self.end_to_end_id = end_to_end_id;
        self.remittance = remittance;
        self
    }
}

/// The UTC day of an instant, as days since 1970-01-01.
fn day_of(at: Timestamp) -> Result<i64, BankError> {
    at.as_micros()
        .checked_div_euclid(MICROS_PER_DAY)
        .ok_or_else(|| corrupt("booking day out of range"))
}

/// Books an entry unless it was booked before; `true` when booked now. An entry of zero
/// moves nothing and is not booked. The same entry booked before with another amount or
/// currency is a [`BankError::Conflict`].
fn book(conn: &mut PgConnection, entry: &NewEntry) -> Result<bool, BankError> {
    if entry.amount.is_zero() {
        return Ok(false);
    }
    let currency = entry.amount.currency().code();
    let inserted = diesel::insert_into(sandbox_bank_entries::table)
        .values((
            sandbox_bank_entries::id.eq(entry.id),
            sandbox_bank_entries::currency.eq(currency),
            sandbox_bank_entries::amount_minor.eq(entry.amount.minor()),
            sandbox_bank_entries::booked_day.eq(day_of(entry.at)?),
            sandbox_bank_entries::booked_at.eq(entry.at.as_micros()),
            sandbox_bank_entries::end_to_end_id.eq(&entry.end_to_end_id),
            sandbox_bank_entries::remittance.eq(&entry.remittance),
            sandbox_bank_entries::kind.eq(entry.kind.as_str()),
        ))
        .on_conflict(sandbox_bank_entries::id)
        .do_nothing()
        .execute(conn)
        .map_err(unavailable)?;
    if inserted > 0 {
        tracing::info!(
            entry = %entry.id,
            kind = entry.kind.as_str(),
            currency,
            amount_minor = entry.amount.minor(),
            "sandbox bank booked an entry"
        );
        return Ok(true);
    }
    let (booked_currency, booked_minor): (String, i64) = sandbox_bank_entries::table
        .find(entry.id)
        .select((
            sandbox_bank_entries::currency,
            sandbox_bank_entries::amount_minor,
        ))
        .first(conn)
        .map_err(unavailable)?;
    if booked_currency.trim() == currency && booked_minor == entry.amount.minor() {
        Ok(false)
    } else {
        Err(BankError::Conflict(format!(
            "{} {} was booked as {booked_minor} {booked_currency}",
            entry.kind.as_str(),
            entry.end_to_end_id
        )))
    }
}

/// Books what a payout's outcome moves on the platform's account, in the caller's
/// transaction: paid, the payout's `amount` out (and, when `charge_minor` is positive, a
/// separate charge of that many minor units); returned, the amount back in; failed, nothing.
/// The end-to-end id is the payout id, hyphenated, as the ledger's payout transfers carry
/// it.
pub(crate) fn book_payout_outcome(
    conn: &mut PgConnection,
    payout: PayoutId,
    amount: Money,
    outcome: RailOutcome,
    at: Timestamp,
    charge_minor: i64,
) -> Result<(), BankError> {
    let key = payout.to_string();
    match outcome {
        RailOutcome::Failed(_) => {}
        RailOutcome::Paid => {
            let debit = amount.checked_neg().map_err(corrupt)?;
            let entry = NewEntry::new(&key, debit, at, EntryKind::Payout)
                .with_text(key.clone(), "Bazaar seller payout".to_owned());
            book(conn, &entry)?;
            if charge_minor > 0 {
                let charge = Money::from_minor(charge_minor, amount.currency())
                    .checked_neg()
                    .map_err(corrupt)?;
                let entry = NewEntry::new(&key, charge, at, EntryKind::Charge)
                    .with_text(format!("charge-{key}"), "bank charge".to_owned());
                book(conn, &entry)?;
            }
        }
        RailOutcome::Returned(code) => {
            let entry = NewEntry::new(&key, amount, at, EntryKind::PayoutReturn).with_text(
                key.clone(),
                format!("Bazaar seller payout returned: {code}"),
            );
            book(conn, &entry)?;
        }
    }
    Ok(())
}

/// Whether the bank takes `provider` as a provider's name: 1 to [`PROVIDER_CHARS_MAX`]
/// ASCII letters, digits, `-` or `_`.
fn provider_name_ok(provider: &str) -> bool {
    (1..=PROVIDER_CHARS_MAX).contains(&provider.len())
        && provider
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = sandbox_bank_entries, check_for_backend(diesel::pg::Pg))]
struct EntryRow {
    id: Uuid,
    amount_minor: i64,
    end_to_end_id: String,
    remittance: String,
    kind: String,
}

impl EntryRow {
    /// The entry as the statement shows it: booked on `day` and valued that day, the bank's
    /// reference its id (32 hex digits), one part with the end-to-end id and remittance.
    fn to_entry(&self, currency: Currency, day: Date) -> Result<BankEntry, BankError> {
        let amount = Money::from_minor(self.amount_minor, currency);
        let kind = EntryKind::parse(&self.kind).ok_or_else(|| corrupt("entry kind"))?;
        Ok(BankEntry {
            reference: None,
            amount,
            reversal: false,
            status: EntryStatus::Booked,
            booking_date: Some(day),
            value_date: Some(day),
            servicer_reference: Some(self.id.simple().to_string()),
            transaction_code: Some(kind.transaction_code(amount).to_owned()),
            batches: Vec::new(),
            parts: vec![EntryPart {
                end_to_end_id: Some(self.end_to_end_id.clone()),
                servicer_reference: None,
                amount: Some(amount),
                remittance: Some(self.remittance.clone()),
                creditor_reference: None,
            }],
        })
    }
}

/// What a day's statement is made of: the balance the day opens with, and its entries in
/// booking order.
struct DayEntries {
    opening: Money,
    rows: Vec<EntryRow>,
}

/// Reads a day's entries and the sum of every entry before it.
fn day_entries(
    conn: &mut PgConnection,
    currency: Currency,
    day: i64,
) -> Result<DayEntries, Failure> {
    let code = currency.code();
    // Summed here with checked arithmetic: the database's SUM of a BIGINT is a NUMERIC,
    // which the query builder reads only with a decimal feature this crate does not use.
    let earlier: Vec<i64> = sandbox_bank_entries::table
        .filter(sandbox_bank_entries::currency.eq(code))
        .filter(sandbox_bank_entries::booked_day.lt(day))
        .select(sandbox_bank_entries::amount_minor)
        .load(conn)?;
    let opening = earlier
        .into_iter()
        .try_fold(Money::zero(currency), |sum, minor| {
            sum.checked_add(Money::from_minor(minor, currency))
        })
        .map_err(|error: MoneyError| Failure::Bank(corrupt(error)))?;
    let rows = sandbox_bank_entries::table
        .filter(sandbox_bank_entries::currency.eq(code))
        .filter(sandbox_bank_entries::booked_day.eq(day))
        .order((sandbox_bank_entries::booked_at, sandbox_bank_entries::id))
        .select(EntryRow::as_select())
        .load(conn)?;
    Ok(DayEntries { opening, rows })
}

/// The statement of `currency`'s account for `day`: opening balance, the day's entries,
/// closing balance.
fn day_statement(
    currency: Currency,
    day: Date,
    created_at: &str,
    read: &DayEntries,
) -> Result<BankStatement, BankError> {
    let entries = read
        .rows
        .iter()
        .map(|row| row.to_entry(currency, day))
        .collect::<Result<Vec<_>, _>>()?;
    let closing = entries
        .iter()
        .try_fold(read.opening, |sum, entry| sum.checked_add(entry.amount))
        .map_err(corrupt)?;
    let balance = |kind, amount| StatementBalance {
        kind,
        amount,
        date: day,
    };
    Ok(BankStatement {
        version: CamtVersion::V08,
        id: SandboxBank::statement_id(currency, day),
        sequence: day
            .days_since_epoch()
            .and_then(|days| u64::try_from(days).ok()),
        created_at: created_at.to_owned(),
        account: SandboxBank::account(currency),
        currency,
        page: None,
        last_page: None,
        balances: vec![
            balance(BalanceType::OpeningBooked, read.opening),
            balance(BalanceType::ClosingBooked, closing),
        ],
        entries,
    })
}

/// A transaction's failure: the bank's answer, or the database's.
enum Failure {
    Bank(BankError),
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for Failure {
    fn from(error: diesel::result::Error) -> Self {
        Self::Db(error)
    }
}

impl From<Failure> for BankError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Bank(error) => error,
            Failure::Db(error) => unavailable(error),
        }
    }
}

/// The platform's bank, simulated: one account per currency, its entries kept in
/// PostgreSQL. Clones share the pool and so the same bank.
#[derive(Clone)]
pub struct SandboxBank {
    pool: Pool<ConnectionManager<PgConnection>>,
}

impl std::fmt::Debug for SandboxBank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxBank").finish_non_exhaustive()
    }
}

impl SandboxBank {
    /// A bank whose records live in the database at `database_url`, with at most
    /// `pool_size` connections.
    pub fn new(database_url: &str, pool_size: u32) -> Self {
        let pool = crate::pool(database_url, pool_size);
        Self { pool }
    }

    /// The platform's account in `currency`, as statements name it: for EUR a German IBAN
    /// (`DE53370400440099887766`), for any other currency `BAZAARSBX{code}0001`.
    pub fn account(currency: Currency) -> String {
        if currency == Currency::EUR {
            EUR_ACCOUNT.to_owned()
        } else {
            format!("BAZAARSBX{}0001", currency.code())
        }
    }

    /// The id of the statement of `currency`'s account for `day`, e.g.
    /// `SBX-EUR-2026-03-10`: the same day's statement always has the same id.
    pub fn statement_id(currency: Currency, day: Date) -> String {
        format!("SBX-{}-{day}", currency.code())
    }

    /// Runs `work` in one transaction on a pooled connection, off the async threads.
    async fn transaction<T, F>(&self, work: F) -> Result<T, BankError>
    where
        T: Send + 'static,
        F: FnOnce(&mut PgConnection) -> Result<T, Failure> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(unavailable)?;
            conn.transaction(|conn| work(conn)).map_err(BankError::from)
        })
        .await
        .map_err(unavailable)?
    }

    /// Runs `work` in one read-only transaction at `REPEATABLE READ`: one consistent
    /// snapshot of the records.
    async fn snapshot<T, F>(&self, work: F) -> Result<T, BankError>
    where
        T: Send + 'static,
        F: FnOnce(&mut PgConnection) -> Result<T, Failure> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(unavailable)?;
            conn.build_transaction()
                .read_only()
                .repeatable_read()
                .run(work)
                .map_err(BankError::from)
        })
        .await
        .map_err(unavailable)?
    }

    /// Books the payout of batch `batch` that `provider` (e.g. `adyen`) sent in `currency`,
    /// at `at`: a credit of `amount` (a debit when negative: the provider took money back).
    /// Booked once per provider, batch and currency; `true` when booked now, `false` when it
    /// was booked before or `amount` is zero. The remittance reads
    /// `{provider} payout batch {batch}`, the end-to-end id `{provider}-batch-{batch}`.
    ///
    /// Refused: an `amount` not in `currency`, a provider name that is not 1 to
    /// [`PROVIDER_CHARS_MAX`] ASCII letters, digits, `-` or `_`; a [`BankError::Conflict`]
    /// when the batch was booked before with another amount.
    pub async fn receive_provider_payout(
        &self,
        currency: Currency,
        amount: Money,
        at: Timestamp,
        provider: &str,
        batch: u32,
    ) -> Result<bool, BankError> {
        if amount.currency() != currency {
            return Err(BankError::Rejected(format!(
                "a payout in {} cannot be booked on the {} account",
                amount.currency().code(),
                currency.code()
            )));
        }
        if !provider_name_ok(provider) {
            return Err(BankError::Rejected(format!(
                "the provider name must be 1 to {PROVIDER_CHARS_MAX} letters, digits, - or _"
            )));
        }
        let key = format!("{provider}:{batch}:{}", currency.code());
        let entry = NewEntry::new(&key, amount, at, EntryKind::ProviderBatch).with_text(
            format!("{provider}-batch-{batch}"),
            format!("{provider} payout batch {batch}"),
        );
        self.transaction(move |conn| book(conn, &entry).map_err(Failure::Bank))
            .await
    }

    /// The currencies whose accounts have at least one entry, in code order: the accounts
    /// there are statements to write for.
    pub async fn currencies_with_entries(&self) -> Result<Vec<Currency>, BankError> {
        let codes: Vec<String> = self
            .snapshot(|conn| {
                Ok(sandbox_bank_entries::table
                    .select(sandbox_bank_entries::currency)
                    .distinct()
                    .order(sandbox_bank_entries::currency)
                    .load(conn)?)
            })
            .await?;
        codes
            .iter()
            .map(|code| Currency::from_code(code.trim()).map_err(corrupt))
            .collect()
    }

    /// The camt.053.001.08 document of `currency`'s account for `day` (a UTC day), created
    /// at `created_at` (an ISO 8601 date and time, written as given): one statement with id
    /// [`Self::statement_id`] and the day's number since 1970-01-01 as its sequence number,
    /// opening (`OPBD`) with the sum of every entry booked before the day and closing
    /// (`CLBD`) with that plus the day's entries, which come in booking order (then by id),
    /// each booked and valued on the day, with the bank's reference its id. A day without
    /// entries opens and closes with the same balance.
    pub async fn statement(
        &self,
        currency: Currency,
        day: Date,
        created_at: &str,
    ) -> Result<String, BankError> {
        let days = day
            .days_since_epoch()
            .ok_or_else(|| BankError::Rejected(format!("the day {day} is out of range")))?;
        let read = self
            .snapshot(move |conn| day_entries(conn, currency, days))
            .await?;
        let statement = day_statement(currency, day, created_at, &read)?;
        let message_id = format!("SBXMSG-{}-{day}", currency.code());
        Ok(write_camt053(
            &message_id,
            created_at,
            std::slice::from_ref(&statement),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_back_and_have_their_codes() {
        for kind in EntryKind::ALL {
            assert_eq!(EntryKind::parse(kind.as_str()), Some(kind));
        }
        let eur = |minor| Money::from_minor(minor, Currency::EUR);
        assert_eq!(
            EntryKind::ProviderBatch.transaction_code(eur(1)),
            "PMNT/RCDT/ESCT"
        );
        assert_eq!(
            EntryKind::ProviderBatch.transaction_code(eur(-1)),
            "PMNT/ICDT/ESCT"
        );
        assert_eq!(
            EntryKind::Charge.transaction_code(eur(-1)),
            "ACMT/MDOP/CHRG"
        );
    }

    #[test]
    fn provider_names_are_short_and_plain() {
        assert!(provider_name_ok("adyen"));
        assert!(provider_name_ok("stripe_eu-1"));
        for bad in ["", "a b", "adyen\n", "a-very-long-provider-name"] {
            assert!(!provider_name_ok(bad), "{bad:?}");
        }
    }

    #[test]
    fn days_are_utc_days_since_the_epoch() {
        assert_eq!(day_of(Timestamp::from_micros(0)), Ok(0));
        assert_eq!(day_of(Timestamp::from_micros(-1)), Ok(-1));
        assert_eq!(day_of(Timestamp::from_micros(MICROS_PER_DAY)), Ok(1));
    }
}
