//! Documents from outside: ECB rate files, configured rate tables, provider notification
//! bodies, camt.053 bank statements and providers' settlement and payout reports. Parsing
//! never panics; what parses is well-formed (positive rates, no base among its own rates;
//! notifications only with the right signature; statements that balance; report rows whose
//! net is gross less fees).
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
    match selector % 7 {
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
        3 => {
            let text = String::from_utf8_lossy(body);
            if let Ok(statements) = bazaar_domain::reconciliation::parse_camt053(&text) {
                for statement in &statements {
                    let (Some(opening), Some(closing)) =
                        (statement.opening_balance(), statement.closing_balance())
                    else {
                        panic!("a statement without its balances was accepted");
                    };
                    let booked = statement.booked_total().ok();
                    assert_eq!(
                        booked.and_then(|b| opening.amount.checked_add(b).ok()),
                        Some(closing.amount)
                    );
                }
                let _ = bazaar_domain::reconciliation::join_pages(statements);
            }
        }
        4 => {
            let text = String::from_utf8_lossy(body);
            let _ = bazaar_domain::payments::parse_settlement_report(&text);
        }
        5 => {
            let text = String::from_utf8_lossy(body);
            if let Ok(rows) = bazaar_domain::payments::parse_itemized_report(&text) {
                for row in &rows {
                    assert_eq!(row.gross.checked_sub(row.fee).ok(), Some(row.net));
                }
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
