//! The sandbox rails: every rail's rules, simulated in memory.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use bazaar_domain::Country;
use bazaar_domain::payouts::{
    Arrival, BankDetails, BusinessCalendar, FailureCode, PayoutId, PayoutRails, Rail,
    RailAcceptance, RailError, RailEvent, RailOutcome, RailSubmission,
};
use bazaar_ledger::Timestamp;
use bazaar_money::{Currency, Money};
use sha2::{Digest, Sha256};

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

fn script_for(destination: &BankDetails) -> Script {
    let masked = destination.masked();
    TEST_ACCOUNTS
        .iter()
        .find(|(suffix, _)| masked.ends_with(suffix))
        .map_or(Script::Pay, |(_, script)| *script)
}

/// A submission as the sandbox remembers it.
#[derive(Debug)]
struct Submitted {
    /// What makes a retry the same request: the rail, the amount and the masked destination.
    request: (Rail, Money, String),
    answer: RailAcceptance,
    script: Script,
    /// Reported so far: the arrival outcome, then the return.
    outcome_reported: bool,
    return_reported: bool,
}

#[derive(Default, Debug)]
struct State {
    submissions: HashMap<PayoutId, Submitted>,
    /// Payout ids in the order they were accepted.
    accepted: Vec<PayoutId>,
    /// Every event reported, in order; an event's id is its position.
    log: Vec<RailEvent>,
}

/// Every rail, simulated. Cloning is not offered: one instance is one set of rails.
#[derive(Default, Debug)]
pub struct SandboxRails {
    state: Mutex<State>,
}

impl SandboxRails {
    /// Rails with nothing submitted.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
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

impl State {
    fn submit(
        &mut self,
        submission: &RailSubmission,
        now: Timestamp,
    ) -> Result<RailAcceptance, RailError> {
        let RailSubmission {
            payout,
            rail,
            amount,
            destination,
            ..
        } = submission;
        let request = (*rail, *amount, destination.masked());
        if let Some(first) = self.submissions.get(payout) {
            return if first.request == request {
                Ok(first.answer.clone())
            } else {
                Err(RailError::Rejected(format!(
                    "payout {payout} was submitted before with another request"
                )))
            };
        }
        if !rail.accepts(destination) {
            return Err(RailError::Rejected(format!(
                "{rail} does not pay to {} details",
                destination.kind().as_str()
            )));
        }
        let script = script_for(destination);
        let answer = if destination.validate().is_err() {
            RailAcceptance::Refused(FailureCode::InvalidAccountNumber)
        } else if amount.currency() != rail.spec().currency {
            RailAcceptance::Refused(FailureCode::InvalidCurrency)
        } else if let Script::Refuse(code) = script {
            RailAcceptance::Refused(code)
        } else {
            rail.check_amount(*amount)
                .map_err(|error| RailError::Rejected(error.to_string()))?;
            RailAcceptance::Accepted {
                reference: format!("sbx_{}_{payout}", rail.as_str()),
                expected_at: arrival(*rail, destination, now)?,
            }
        };
        tracing::info!(
            %payout,
            rail = rail.as_str(),
            destination = %destination.masked(),
            accepted = matches!(answer, RailAcceptance::Accepted { .. }),
            "sandbox rail took a payout"
        );
        if matches!(answer, RailAcceptance::Accepted { .. }) {
            self.accepted.push(*payout);
        }
        self.submissions.insert(
            *payout,
            Submitted {
                request,
                answer: answer.clone(),
                script,
                outcome_reported: false,
                return_reported: false,
            },
        );
        Ok(answer)
    }

    /// Appends the events that are due by `now`, in the order they happened.
    fn report_due(&mut self, now: Timestamp) {
        let mut due = Vec::new();
        for payout in &self.accepted {
            let Some(submitted) = self.submissions.get_mut(payout) else {
                continue;
            };
            let RailAcceptance::Accepted { expected_at, .. } = submitted.answer else {
                continue;
            };
            if !submitted.outcome_reported && expected_at <= now {
                submitted.outcome_reported = true;
                let outcome = match submitted.script {
                    Script::Fail(code) => RailOutcome::Failed(code),
                    Script::Pay | Script::Refuse(_) | Script::Return(_) => RailOutcome::Paid,
                };
                due.push((expected_at, *payout, outcome));
            }
            let returned_at = expected_at.saturating_add_secs(RETURN_AFTER_SECS);
            if let Script::Return(code) = submitted.script
                && submitted.outcome_reported
                && !submitted.return_reported
                && returned_at <= now
            {
                submitted.return_reported = true;
                due.push((returned_at, *payout, RailOutcome::Returned(code)));
            }
        }
        due.sort_by_key(|(at, payout, _)| (*at, *payout));
        for (at, payout, outcome) in due {
            let event_id = format!("sbx_evt_{:010}", self.log.len());
            self.log.push(RailEvent {
                event_id,
                payout,
                outcome,
                at,
            });
        }
    }

    fn events_after(&self, after: Option<&str>, limit: u32) -> Result<Vec<RailEvent>, RailError> {
        let start = match after {
            None => 0,
            Some(id) => self
                .log
                .iter()
                .position(|event| event.event_id == id)
                .map(|position| position.saturating_add(1))
                .ok_or_else(|| RailError::Rejected(format!("unknown event id {id}")))?,
        };
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        Ok(self.log.iter().skip(start).take(limit).cloned().collect())
    }
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
        self.state().submit(&submission, now)
    }

    async fn events(
        &self,
        after: Option<String>,
        limit: u32,
        now: Timestamp,
    ) -> Result<Vec<RailEvent>, RailError> {
        let mut state = self.state();
        state.report_due(now);
        state.events_after(after.as_deref(), limit)
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
