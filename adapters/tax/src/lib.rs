//! Tax connectors. `SandboxVies` stands in for the EU's VAT Information Exchange System
//! behind the [`VatRegistry`] port: the same answers, failures and consultation numbers a
//! real VIES connection gives, without the network.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use bazaar_domain::Country;
use bazaar_domain::tax::{RegistryAnswer, RegistryError, VatId, VatRegistry};
use bazaar_ledger::Timestamp;

/// The registrations and outages the sandbox answers from.
#[derive(Debug, Default)]
struct State {
    /// Numbers registered for intra-EU trade, canonical (`DE136695976`).
    registered: BTreeSet<String>,
    /// Member states whose database is down: VIES answers `MS_UNAVAILABLE` for them.
    down: BTreeSet<Country>,
    /// How many checks each number received, for tests that count calls.
    checks: BTreeMap<String, u32>,
    /// Consultation numbers issued, in order.
    issued: u64,
}

/// A VIES that answers from a list of registered numbers. A number is valid only if it was
/// registered (VIES knows nothing of numbers that merely pass their check digits); a member
/// state can be taken down; a requester that is not itself registered is refused, as VIES
/// refuses `INVALID_REQUESTER_INFO`. Each valid answer to a registered requester carries a
/// fresh consultation number.
#[derive(Debug, Default)]
pub struct SandboxVies {
    state: Mutex<State>,
}

impl SandboxVies {
    /// A registry where no number is registered.
    pub fn new() -> Self {
        Self::default()
    }

    fn with_state<T>(&self, change: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        change(&mut state)
    }

    /// Registers `number` (active from now on).
    pub fn register(&self, number: &VatId) {
        self.with_state(|s| s.registered.insert(number.as_str().to_owned()));
    }

    /// Deregisters `number`: later checks answer invalid.
    pub fn deregister(&self, number: &VatId) {
        self.with_state(|s| s.registered.remove(number.as_str()));
    }

    /// Takes a member state's database down (`true`) or brings it back.
    pub fn set_down(&self, country: Country, down: bool) {
        self.with_state(|s| {
            if down {
                s.down.insert(country);
            } else {
                s.down.remove(&country);
            }
        });
    }

    /// How many times `number` was checked.
    pub fn checks_of(&self, number: &VatId) -> u32 {
        self.with_state(|s| s.checks.get(number.as_str()).copied().unwrap_or(0))
    }
}

/// A consultation number shaped like VIES's: `WAPI` and twelve upper-case letters and
/// digits, unique per answer.
fn consultation_number(serial: u64) -> String {
    const DIGITS: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut text = String::from("WAPI");
    let mut rest = serial;
    let mut tail = Vec::with_capacity(12);
    for _ in 0..12 {
        let index = usize::try_from(rest % 36).unwrap_or(0);
        tail.push(char::from(DIGITS.get(index).copied().unwrap_or(b'A')));
        rest /= 36;
    }
    text.extend(tail.into_iter().rev());
    text
}

impl VatRegistry for SandboxVies {
    async fn check(
        &self,
        number: &VatId,
        requester: &VatId,
        now: Timestamp,
    ) -> Result<RegistryAnswer, RegistryError> {
        self.with_state(|s| {
            let count = s.checks.entry(number.as_str().to_owned()).or_insert(0);
            *count = count.saturating_add(1);
            if s.down.contains(&number.country()) {
                return Err(RegistryError::Unavailable("MS_UNAVAILABLE".to_owned()));
            }
            if !s.registered.contains(requester.as_str()) {
                return Err(RegistryError::Rejected("INVALID_REQUESTER_INFO".to_owned()));
            }
            let valid = s.registered.contains(number.as_str());
            let consultation = valid.then(|| {
                s.issued = s.issued.saturating_add(1);
                consultation_number(s.issued)
            });
            Ok(RegistryAnswer {
                valid,
                consultation,
                checked_at: now,
            })
        })
    }
}

#[cfg(test)]
mod tests;
