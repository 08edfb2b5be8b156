//! The sandbox rails: every rail's rules, simulated, with the rails' own records (what was
//! submitted, what was reported) kept in PostgreSQL as a real rail keeps them on its side, so
//! that any number of processes share one set of rails and a restart forgets nothing.

use bazaar_domain::Country;
use bazaar_domain::payouts::{
    Arrival, BankDetails, BusinessCalendar, FailureCode, PayoutId, PayoutRails, Rail,
    RailAcceptance, RailError, RailEvent, RailOutcome, RailSubmission,
};
use bazaar_ledger::Timestamp;
use bazaar_money::{Currency, Money};
use bazaar_schema::schema::{sandbox_rail_clock, sandbox_rail_events, sandbox_rail_submissions};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::bank::{BankError, book_payout_outcome};

/// How long after a payout is paid a returning test account sends it back: one day.
pub const RETURN_AFTER_SECS: u32 = 24 * 3600;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Destinations whose identifier (IBAN, account number, CLABE, Pix key or UPI address) ends
/// in one of these four characters behave as the named failure; any other is paid.
///
/// | suffix | what happens |
/// |---|---|
/// | `0003` | refused at submission: `account_closed` |
/// | `0006` | accepted, then failed at the expected arrival: `invalid_account_number` |
/// | `0002` | accepted, then failed: `no_account` |
/// | `0007` | accepted, then failed: `could_not_process` (worth retrying) |
/// | `0005` | paid, then returned a day later: `account_closed` |
pub const TEST_ACCOUNTS: [(&str, Script); 5] = [
    ("0003", Script::Refuse(FailureCode::AccountClosed)),
    ("0006", Script::Fail(FailureCode::InvalidAccountNumber)),
    ("0002", Script::Fail(FailureCode::NoAccount)),
    ("0007", Script::Fail(FailureCode::CouldNotProcess)),
    ("0005", Script::Return(FailureCode::AccountClosed)),
];

/// What the sandbox does with a payout to a destination.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Script {
    /// Paid at the expected arrival.
    Pay,
    /// Refused at once.
    Refuse(FailureCode),
    /// Accepted, then failed at the expected arrival.
    Fail(FailureCode),
    /// Paid, then returned [`RETURN_AFTER_SECS`] later.
    Return(FailureCode),
}

impl Script {
    /// The stored form: `pay`, `refuse:<code>`, `fail:<code>`, `return:<code>`.
    fn as_text(self) -> String {
        match self {
            Self::Pay => "pay".to_owned(),
            Self::Refuse(code) => format!("refuse:{code}"),
            Self::Fail(code) => format!("fail:{code}"),
            Self::Return(code) => format!("return:{code}"),
        }
    }

    fn parse(text: &str) -> Option<Self> {
        if text == "pay" {
            return Some(Self::Pay);
        }
        let (kind, code) = text.split_once(':')?;
        let code = FailureCode::parse(code)?;
        match kind {
            "refuse" => Some(Self::Refuse(code)),
            "fail" => Some(Self::Fail(code)),
            "return" => Some(Self::Return(code)),
            _ => None,
        }
    }
}

fn script_for(destination: &BankDetails) -> Script {
    let masked = destination.masked();
    TEST_ACCOUNTS
        .iter()
        .find(|(suffix, _)| masked.ends_with(suffix))
        .map_or(Script::Pay, |(_, script)| *script)
}

/// Every rail, simulated. Clones share the pool and so the same rails.
///
/// The platform's bank account behind them is the [`SandboxBank`](crate::SandboxBank) on the
/// same database: recording a payout paid debits it, recording one returned credits it back,
/// in the same transaction.
#[derive(Clone)]
pub struct SandboxRails {
    pool: Pool<ConnectionManager<PgConnection>>,
    /// What the bank charges per payout paid, in minor units of the payout's currency.
    bank_charge_minor: i64,
}

impl std::fmt::Debug for SandboxRails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxRails").finish_non_exhaustive()
    }
}

/// The rails' records could not be read or written: the rail "did not answer".
fn unavailable(error: impl std::fmt::Display) -> RailError {
    tracing::warn!(%error, "sandbox rails unavailable");
    RailError::Unavailable
}

fn corrupt(what: &str) -> RailError {
    RailError::Rejected(format!("the sandbox rails' {what} does not read back"))
}

impl SandboxRails {
    /// Rails whose records live in the database at `database_url`, with at most
    /// `pool_size` connections.
    pub fn new(database_url: &str, pool_size: u32) -> Self {
        let pool = crate::pool(database_url, pool_size);
        Self {
            pool,
            bank_charge_minor: 0,
        }
    }

    /// The same rails, whose bank takes a charge of `minor` minor units, in the payout's
    /// currency, for every payout paid: a debit of its own (kind `charge`, remittance
    /// `bank charge`, end-to-end id `charge-{payout id}`), booked with the payout's. Zero,
    /// the default, or less books no charge.
    #[must_use]
    pub fn with_bank_charge(mut self, minor: i64) -> Self {
        self.bank_charge_minor = minor.max(0);
        self
    }

    /// Runs `work` in one transaction on a pooled connection, off the async threads.
    async fn transaction<T, F>(&self, work: F) -> Result<T, RailError>
    where
        T: Send + 'static,
        F: FnOnce(&mut PgConnection) -> Result<T, RailError> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(unavailable)?;
            conn.transaction(|conn| work(conn).map_err(Failure::Rail))
                .map_err(|failure| match failure {
                    Failure::Rail(error) => error,
                    Failure::Db(error) => unavailable(error),
                })
        })
        .await
        .map_err(unavailable)?
    }
}

/// A transaction's failure: the rails' answer, or the database's.
enum Failure {
    Rail(RailError),
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for Failure {
    fn from(error: diesel::result::Error) -> Self {
        Self::Db(error)
    }
}

fn db(error: diesel::result::Error) -> RailError {
    unavailable(error)
}

/// The country whose calendar the payout settles by: the IBAN's, or the rail's only one.
fn country_of(rail: Rail, destination: &BankDetails) -> Result<Country, RailError> {
    let code = destination
        .iban_country()
        .or_else(|| rail.spec().countries.first().map(|c| (*c).to_owned()))
        .ok_or_else(|| RailError::Rejected(format!("{rail} reaches no country")))?;
    Country::new(&code).map_err(|_| RailError::Rejected(format!("bad country {code}")))
}

/// When a payout submitted `now` arrives: an instant rail's minute, or noon UTC of a batch
/// rail's settlement day.
fn arrival(rail: Rail, destination: &BankDetails, now: Timestamp) -> Result<Timestamp, RailError> {
    let calendar = BusinessCalendar::for_country(country_of(rail, destination)?)
        .map_err(|error| RailError::Rejected(error.to_string()))?;
    match rail
        .expected_arrival(now, &calendar)
        .map_err(|error| RailError::Rejected(error.to_string()))?
    {
        Arrival::At(at) => Ok(at),
        Arrival::On(date) => date
            .days_since_epoch()
            .and_then(|days| days.checked_mul(MICROS_PER_DAY))
            .and_then(|micros| micros.checked_add(MICROS_PER_DAY / 2))
            .map(Timestamp::from_micros)
            .ok_or_else(|| RailError::Rejected("arrival date out of range".to_owned())),
    }
}

/// The answer to a first submission, from the rules and the destination's script.
fn answer_to(submission: &RailSubmission, now: Timestamp) -> Result<RailAcceptance, RailError> {
    let RailSubmission {
        payout,
        rail,
        amount,
        destination,
        ..
    } = submission;
    if !rail.accepts(destination) {
        return Err(RailError::Rejected(format!(
            "{rail} does not pay to {} details",
            destination.kind().as_str()
        )));
    }
    Ok(if destination.validate().is_err() {
        RailAcceptance::Refused(FailureCode::InvalidAccountNumber)
    } else if amount.currency() != rail.spec().currency {
        RailAcceptance::Refused(FailureCode::InvalidCurrency)
    } else if let Script::Refuse(code) = script_for(destination) {
        RailAcceptance::Refused(code)
    } else {
        rail.check_amount(*amount)
            .map_err(|error| RailError::Rejected(error.to_string()))?;
        RailAcceptance::Accepted {
            reference: format!("sbx_{}_{payout}", rail.as_str()),
            expected_at: arrival(*rail, destination, now)?,
        }
    })
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = sandbox_rail_submissions, check_for_backend(diesel::pg::Pg))]
struct SubmissionRow {
    payout_id: Uuid,
    rail: String,
    currency: String,
    amount_minor: i64,
    destination_masked: String,
    script: String,
    refused_code: Option<String>,
    reference: Option<String>,
    expected_at: Option<i64>,
    outcome_reported: bool,
    return_reported: bool,
}

impl SubmissionRow {
    fn answer(&self) -> Result<RailAcceptance, RailError> {
        match (&self.refused_code, &self.reference, self.expected_at) {
            (Some(code), _, _) => Ok(RailAcceptance::Refused(
                FailureCode::parse(code).ok_or_else(|| corrupt("refusal"))?,
            )),
            (None, Some(reference), Some(at)) => Ok(RailAcceptance::Accepted {
                reference: reference.clone(),
                expected_at: Timestamp::from_micros(at),
            }),
            _ => Err(corrupt("answer")),
        }
    }

    fn same_request(&self, submission: &RailSubmission) -> bool {
        self.rail == submission.rail.as_str()
            && self.currency.trim() == submission.amount.currency().code()
            && self.amount_minor == submission.amount.minor()
            && self.destination_masked == submission.destination.masked()
    }
}

fn submit(
    conn: &mut PgConnection,
    submission: &RailSubmission,
    now: Timestamp,
) -> Result<RailAcceptance, RailError> {
    let payout = submission.payout;
    let first: Option<SubmissionRow> = sandbox_rail_submissions::table
        .find(payout.as_uuid())
        .select(SubmissionRow::as_select())
        .first(conn)
        .optional()
        .map_err(db)?;
    if let Some(first) = first {
        return if first.same_request(submission) {
            first.answer()
        } else {
            Err(RailError::Rejected(format!(
                "payout {payout} was submitted before with another request"
            )))
        };
    }
    let answer = answer_to(submission, now)?;
    let (refused, reference, expected_at) = match &answer {
        RailAcceptance::Refused(code) => (Some(code.as_str()), None, None),
        RailAcceptance::Accepted {
            reference,
            expected_at,
        } => (None, Some(reference.clone()), Some(expected_at.as_micros())),
    };
    let destination = submission.destination.masked();
    diesel::insert_into(sandbox_rail_submissions::table)
        .values((
            sandbox_rail_submissions::payout_id.eq(payout.as_uuid()),
            sandbox_rail_submissions::rail.eq(submission.rail.as_str()),
            sandbox_rail_submissions::currency.eq(submission.amount.currency().code()),
            sandbox_rail_submissions::amount_minor.eq(submission.amount.minor()),
            sandbox_rail_submissions::destination_masked.eq(&destination),
            sandbox_rail_submissions::script.eq(script_for(&submission.destination).as_text()),
            sandbox_rail_submissions::refused_code.eq(refused),
            sandbox_rail_submissions::reference.eq(reference),
            sandbox_rail_submissions::expected_at.eq(expected_at),
            sandbox_rail_submissions::outcome_reported.eq(false),
            sandbox_rail_submissions::return_reported.eq(false),
            sandbox_rail_submissions::submitted_at.eq(now.as_micros()),
        ))
        .execute(conn)
        .map_err(db)?;
    tracing::info!(
        %payout,
        rail = submission.rail.as_str(),
        %destination,
        accepted = matches!(answer, RailAcceptance::Accepted { .. }),
        "sandbox rail took a payout"
    );
    Ok(answer)
}

/// An event due: when it happened, whose payout, what happened, and the payout's amount.
struct Due {
    at: Timestamp,
    payout: PayoutId,
    outcome: RailOutcome,
    amount: Money,
}

/// The events the open submissions owe by `now`, in the order they happened.
fn due_events(open: &[SubmissionRow], now: Timestamp) -> Result<Vec<Due>, RailError> {
    let mut due = Vec::new();
    for row in open {
        let Some(expected_at) = row.expected_at.map(Timestamp::from_micros) else {
            continue;
        };
        let script = Script::parse(&row.script).ok_or_else(|| corrupt("script"))?;
        let payout = PayoutId::from_uuid(row.payout_id);
        let currency = Currency::from_code(row.currency.trim()).map_err(|_| corrupt("currency"))?;
        let amount = Money::from_minor(row.amount_minor, currency);
        if !row.outcome_reported {
            let outcome = match script {
                Script::Fail(code) => RailOutcome::Failed(code),
                Script::Pay | Script::Refuse(_) | Script::Return(_) => RailOutcome::Paid,
            };
            due.push(Due {
                at: expected_at,
                payout,
                outcome,
                amount,
            });
        }
        let returned_at = expected_at.saturating_add_secs(RETURN_AFTER_SECS);
        if let Script::Return(code) = script
            && !row.return_reported
            && returned_at <= now
        {
            due.push(Due {
                at: returned_at,
                payout,
                outcome: RailOutcome::Returned(code),
                amount,
            });
        }
    }
    due.sort_by_key(|event| (event.at, event.payout));
    Ok(due)
}

/// The bank's answer as the rails': its records unreachable, the rails too.
fn bank_failure(error: BankError) -> RailError {
    match error {
        BankError::Unavailable => RailError::Unavailable,
        other => RailError::Rejected(other.to_string()),
    }
}

/// Records event number `seq`, marks its submission reported, and books what it moves on
/// the platform's bank account.
fn record_event(
    conn: &mut PgConnection,
    seq: i64,
    due: &Due,
    bank_charge_minor: i64,
) -> Result<(), RailError> {
    let (kind, code) = match due.outcome {
        RailOutcome::Paid => ("paid", None),
        RailOutcome::Failed(code) => ("failed", Some(code.as_str())),
        RailOutcome::Returned(code) => ("returned", Some(code.as_str())),
    };
    diesel::insert_into(sandbox_rail_events::table)
        .values((
            sandbox_rail_events::seq.eq(seq),
            sandbox_rail_events::payout_id.eq(due.payout.as_uuid()),
            sandbox_rail_events::outcome.eq(kind),
            sandbox_rail_events::code.eq(code),
            sandbox_rail_events::at.eq(due.at.as_micros()),
        ))
        .execute(conn)
        .map_err(db)?;
    let flag = diesel::update(sandbox_rail_submissions::table.find(due.payout.as_uuid()));
    if kind == "returned" {
        flag.set(sandbox_rail_submissions::return_reported.eq(true))
            .execute(conn)
            .map_err(db)?;
    } else {
        flag.set(sandbox_rail_submissions::outcome_reported.eq(true))
            .execute(conn)
            .map_err(db)?;
    }
    book_payout_outcome(
        conn,
        due.payout,
        due.amount,
        due.outcome,
        due.at,
        bank_charge_minor,
    )
    .map_err(bank_failure)
}

/// Records the events due by `now`, in the order they happened, after every event recorded
/// before, each with what it moves on the platform's bank account. Reporting is serialised by
/// a lock on the rails' one clock row, so event numbers grow in commit order and a reader
/// never skips one.
fn report_due(
    conn: &mut PgConnection,
    now: Timestamp,
    bank_charge_minor: i64,
) -> Result<(), RailError> {
    diesel::insert_into(sandbox_rail_clock::table)
        .values((
            sandbox_rail_clock::id.eq(1),
            sandbox_rail_clock::last_seq.eq(0_i64),
        ))
        .on_conflict(sandbox_rail_clock::id)
        .do_nothing()
        .execute(conn)
        .map_err(db)?;
    let last: i64 = sandbox_rail_clock::table
        .find(1)
        .select(sandbox_rail_clock::last_seq)
        .for_update()
        .first(conn)
        .map_err(db)?;
    let open: Vec<SubmissionRow> = sandbox_rail_submissions::table
        .filter(sandbox_rail_submissions::expected_at.le(now.as_micros()))
        .filter(
            sandbox_rail_submissions::outcome_reported.eq(false).or(
                sandbox_rail_submissions::return_reported
                    .eq(false)
                    .and(sandbox_rail_submissions::script.like("return:%")),
            ),
        )
        .select(SubmissionRow::as_select())
        .load(conn)
        .map_err(db)?;
    let mut seq = last;
    for due in &due_events(&open, now)? {
        seq = seq.checked_add(1).ok_or_else(|| corrupt("event number"))?;
        record_event(conn, seq, due, bank_charge_minor)?;
    }
    if seq != last {
        diesel::update(sandbox_rail_clock::table.find(1))
            .set(sandbox_rail_clock::last_seq.eq(seq))
            .execute(conn)
            .map_err(db)?;
    }
    Ok(())
}

/// An event's id: its number, zero-padded so that ids sort as numbers do.
fn event_id(seq: i64) -> String {
    format!("sbx_evt_{seq:012}")
}

fn event_seq(id: &str) -> Result<i64, RailError> {
    id.strip_prefix("sbx_evt_")
        .and_then(|digits| digits.parse().ok())
        .ok_or_else(|| RailError::Rejected(format!("unknown event id {id}")))
}

fn events_after(
    conn: &mut PgConnection,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<RailEvent>, RailError> {
    let start = after.map(event_seq).transpose()?.unwrap_or(0);
    let rows: Vec<(i64, Uuid, String, Option<String>, i64)> = sandbox_rail_events::table
        .filter(sandbox_rail_events::seq.gt(start))
        .order(sandbox_rail_events::seq)
        .limit(i64::from(limit))
        .select((
            sandbox_rail_events::seq,
            sandbox_rail_events::payout_id,
            sandbox_rail_events::outcome,
            sandbox_rail_events::code,
            sandbox_rail_events::at,
        ))
        .load(conn)
        .map_err(db)?;
    rows.into_iter()
        .map(|(seq, payout, outcome, code, at)| {
            let code = || {
                code.as_deref()
                    .and_then(FailureCode::parse)
                    .ok_or_else(|| corrupt("event code"))
            };
            let outcome = match outcome.as_str() {
                "paid" => RailOutcome::Paid,
                "failed" => RailOutcome::Failed(code()?),
                "returned" => RailOutcome::Returned(code()?),
                _ => return Err(corrupt("event outcome")),
            };
            Ok(RailEvent {
                event_id: event_id(seq),
                payout: PayoutId::from_uuid(payout),
                outcome,
                at: Timestamp::from_micros(at),
            })
        })
        .collect()
}

/// Two amounts of 1 to 99 minor units, from the destination: the same account always gets
/// the same pair.
fn deposit_amounts(destination: &BankDetails, currency: Currency) -> [Money; 2] {
    let seen = format!("{}:{}", destination.kind().as_str(), destination.masked());
    let digest: [u8; 32] = Sha256::digest(seen.as_bytes()).into();
    let [first, second, ..] = digest;
    let pick =
        |byte: u8| Money::from_minor(i64::from(byte).rem_euclid(99).saturating_add(1), currency);
    [pick(first), pick(second)]
}

impl PayoutRails for SandboxRails {
    async fn submit(
        &self,
        submission: RailSubmission,
        now: Timestamp,
    ) -> Result<RailAcceptance, RailError> {
        self.transaction(move |conn| submit(conn, &submission, now))
            .await
    }

    async fn submit_many(
        &self,
        submissions: Vec<RailSubmission>,
        now: Timestamp,
    ) -> Result<Vec<Result<RailAcceptance, RailError>>, RailError> {
        // One transaction for the batch. A refusal of one request (a malformed or repeated
        // submission) is decided before anything of it is written, so it is that one's
        // answer and the others go on; a database error fails the whole batch.
        self.transaction(move |conn| {
            let mut answers = Vec::with_capacity(submissions.len());
            for submission in &submissions {
                match submit(conn, submission, now) {
                    Err(RailError::Unavailable) => return Err(RailError::Unavailable),
                    answer => answers.push(answer),
                }
            }
            Ok(answers)
        })
        .await
    }

    async fn events(
        &self,
        after: Option<String>,
        limit: u32,
        now: Timestamp,
    ) -> Result<Vec<RailEvent>, RailError> {
        let bank_charge_minor = self.bank_charge_minor;
        self.transaction(move |conn| report_due(conn, now, bank_charge_minor))
            .await?;
        self.transaction(move |conn| events_after(conn, after.as_deref(), limit))
            .await
    }

    async fn micro_deposits(
        &self,
        rail: Rail,
        destination: BankDetails,
        _now: Timestamp,
    ) -> Result<[Money; 2], RailError> {
        if !rail.accepts(&destination) || destination.validate().is_err() {
            return Err(RailError::Rejected(format!(
                "{rail} cannot reach these {} details",
                destination.kind().as_str()
            )));
        }
        Ok(deposit_amounts(&destination, rail.spec().currency))
    }
}
