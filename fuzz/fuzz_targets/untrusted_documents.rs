//! Documents from outside: ECB rate files, configured rate tables and provider notification
//! bodies. Parsing never panics; what parses is well-formed (positive rates, no base among
//! its own rates; notifications only with the right signature).
#![no_main]

use std::sync::Arc;

use bazaar_domain::chart::ProviderName;
use bazaar_domain::payments::PaymentProvider;
use bazaar_ledger::{ManualClock, Timestamp};
use bazaar_payments::SandboxProvider;
use libfuzzer_sys::fuzz_target;

const KEY: &[u8] = b"fuzz-key";

fn check_rates(set: &bazaar_domain::fx::RateSet) {
    assert!(!set.rates.contains_key(&set.base));
    assert!(set.rates.values().all(|rate| rate.is_sign_positive() && !rate.is_zero()));
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    match selector % 4 {
        0 => {
            if let Ok(set) = bazaar_fx::parse_daily(body) {
                check_rates(&set);
            }
        }
        1 => {
            if let Ok(sets) = bazaar_fx::parse_history(body) {
                sets.iter().for_each(check_rates);
            }
        }
        2 => {
            let text = String::from_utf8_lossy(body);
            if let Ok(table) =
                bazaar_fx::ConfiguredRates::parse("fuzz", &text, Timestamp::from_micros(0))
            {
                check_rates(table.rate_set());
            }
        }
        _ => {
            let Ok(name) = ProviderName::new("sandbox") else {
                return;
            };
            let clock = Arc::new(ManualClock::new(Timestamp::from_micros(0)));
            let provider = SandboxProvider::new(name, KEY.to_vec(), clock);
            let signature = bazaar_payments::sign(KEY, body);
            let _ = provider.parse_notifications(&signature, body);
            let forged = bazaar_payments::sign(b"another-key", body);
            assert!(provider.parse_notifications(&forged, body).is_err());
        }
    }
});
