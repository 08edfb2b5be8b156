//! The sandbox's method catalogue: for each method, where it is offered and the amounts it
//! takes.
//!
//! The countries, currencies and limits are the sandbox's configuration, chosen to look
//! like a payment service provider's test account. They are not a statement about what any
//! real scheme or provider accepts.
//!
//! The catalogue's order is the display order [`payment_methods`](crate::SandboxProvider)
//! answers in: methods local to a market first, then cards, then PayPal.

use bazaar_domain::Country;
use bazaar_domain::payments::{AmountLimit, MethodOffer, MethodType};
use bazaar_money::Currency;

/// The countries PayPal is configured for in the sandbox.
const PAYPAL_COUNTRIES: [&str; 18] = [
    "AT", "AU", "BE", "BR", "CA", "CH", "DE", "ES", "FR", "GB", "IT", "JP", "MX", "NL", "PL", "PT",
    "SE", "US",
];

/// The countries Alipay is configured for: mainland China and markets with many visitors
/// who pay with it.
const ALIPAY_COUNTRIES: [&str; 5] = ["CN", "HK", "MY", "SG", "TH"];

// size: one entry per payment method, in display order; the table reads best whole.
/// Every method the sandbox offers, in display order.
///
/// Thai baht is looked up by code (Bazaar's money crate has no constant for it); if it were
/// ever unknown, the THB limits are left out rather than failing.
pub fn catalogue() -> Vec<MethodOffer> {
    let thb = Currency::from_code("THB").ok();
    vec![
        offer(
            MethodType::Ideal,
            "iDEAL",
            &["NL"],
            vec![limit(Currency::EUR, 1, 5_000_000)],
        ),
        offer(
            MethodType::Bancontact,
            "Bancontact",
            &["BE"],
            vec![limit(Currency::EUR, 1, 5_000_000)],
        ),
        offer(
            MethodType::Blik,
            "BLIK",
            &["PL"],
            vec![limit(Currency::PLN, 1, 5_000_000)],
        ),
        offer(
            MethodType::Eps,
            "EPS",
            &["AT"],
            vec![limit(Currency::EUR, 100, 5_000_000)],
        ),
        offer(
            MethodType::Twint,
            "TWINT",
            &["CH"],
            vec![limit(Currency::CHF, 1, 500_000)],
        ),
        offer(
            MethodType::Swish,
            "Swish",
            &["SE"],
            vec![limit(Currency::SEK, 100, 15_000_000)],
        ),
        offer(
            MethodType::Pix,
            "Pix",
            &["BR"],
            vec![limit(Currency::BRL, 1, 10_000_000)],
        ),
        offer(
            MethodType::Boleto,
            "Boleto Bancário",
            &["BR"],
            vec![limit(Currency::BRL, 500, 10_000_000)],
        ),
        offer(
            MethodType::Oxxo,
            "OXXO",
            &["MX"],
            vec![limit(Currency::MXN, 1_000, 1_000_000)],
        ),
        offer(
            MethodType::Konbini,
            "Konbini",
            &["JP"],
            vec![limit(Currency::JPY, 100, 300_000)],
        ),
        offer(
            MethodType::Upi,
            "UPI",
            &["IN"],
            vec![limit(Currency::INR, 100, 10_000_000)],
        ),
        offer(
            MethodType::Promptpay,
            "PromptPay",
            &["TH"],
            thb.map(|thb| limit(thb, 100, 5_000_000))
                .into_iter()
                .collect(),
        ),
        offer(
            MethodType::Alipay,
            "Alipay",
            &ALIPAY_COUNTRIES,
            vec![
                limit(Currency::CNY, 1, 5_000_000),
                limit(Currency::EUR, 1, 1_000_000),
                limit(Currency::USD, 1, 1_000_000),
                limit(Currency::GBP, 1, 1_000_000),
            ],
        ),
        offer(
            MethodType::WechatPay,
            "WeChat Pay",
            &["CN"],
            vec![limit(Currency::CNY, 1, 5_000_000)],
        ),
        offer(
            MethodType::Knet,
            "KNET",
            &["KW"],
            vec![limit(Currency::KWD, 100, 5_000_000)],
        ),
        offer(
            MethodType::Benefit,
            "BENEFIT",
            &["BH"],
            vec![limit(Currency::BHD, 100, 3_000_000)],
        ),
        card(thb),
        offer(
            MethodType::Paypal,
            "PayPal",
            &PAYPAL_COUNTRIES,
            vec![
                limit(Currency::EUR, 1, 1_000_000),
                limit(Currency::USD, 1, 1_000_000),
                limit(Currency::GBP, 1, 1_000_000),
                limit(Currency::AUD, 1, 1_200_000),
                limit(Currency::CAD, 1, 1_200_000),
                limit(Currency::CHF, 1, 1_000_000),
                limit(Currency::SEK, 1, 10_000_000),
                limit(Currency::PLN, 1, 4_000_000),
                limit(Currency::BRL, 1, 5_000_000),
                limit(Currency::MXN, 1, 20_000_000),
                limit(Currency::JPY, 1, 1_500_000),
            ],
        ),
    ]
}

/// Cards: every country, the catalogue's currencies, up to the equivalent of roughly
/// 100,000 EUR.
fn card(thb: Option<Currency>) -> MethodOffer {
    let mut limits = vec![
        limit(Currency::EUR, 1, 10_000_000),
        limit(Currency::USD, 1, 10_000_000),
        limit(Currency::GBP, 1, 10_000_000),
        limit(Currency::CHF, 1, 10_000_000),
        limit(Currency::AUD, 1, 15_000_000),
        limit(Currency::CAD, 1, 15_000_000),
        limit(Currency::SEK, 1, 100_000_000),
        limit(Currency::PLN, 1, 40_000_000),
        limit(Currency::BRL, 1, 50_000_000),
        limit(Currency::MXN, 1, 200_000_000),
        limit(Currency::INR, 1, 900_000_000),
        limit(Currency::CNY, 1, 70_000_000),
        limit(Currency::JPY, 1, 15_000_000),
        limit(Currency::KWD, 1, 30_000_000),
        limit(Currency::BHD, 1, 40_000_000),
    ];
    if let Some(thb) = thb {
        limits.push(limit(thb, 1, 350_000_000));
    }
    offer(MethodType::Card, "Credit or debit card", &[], limits)
}

fn offer(
    method: MethodType,
    name: &'static str,
    countries: &[&str],
    limits: Vec<AmountLimit>,
) -> MethodOffer {
    MethodOffer {
        method,
        name,
        countries: countries
            .iter()
            .filter_map(|code| Country::new(code).ok())
            .collect(),
        limits,
    }
}

fn limit(currency: Currency, min_minor: i64, max_minor: i64) -> AmountLimit {
    AmountLimit {
        currency,
        min_minor,
        max_minor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_is_in_the_catalogue_once() {
        let catalogue = catalogue();
        for method in MethodType::ALL {
            assert_eq!(
                catalogue.iter().filter(|o| o.method == method).count(),
                1,
                "{method:?}"
            );
        }
    }

    #[test]
    fn every_offer_has_sound_limits_and_valid_countries() {
        for offer in catalogue() {
            assert!(!offer.limits.is_empty(), "{:?}", offer.method);
            for limit in &offer.limits {
                assert!(limit.min_minor > 0 && limit.min_minor <= limit.max_minor);
            }
            // Every country code given was valid: a typo would silently widen the offer
            // to every country if the list ended up empty.
            if offer.method != MethodType::Card {
                assert!(!offer.countries.is_empty(), "{:?}", offer.method);
            }
        }
        assert_eq!(
            catalogue()
                .iter()
                .find(|o| o.method == MethodType::Paypal)
                .map(|o| o.countries.len()),
            Some(PAYPAL_COUNTRIES.len())
        );
    }

    #[test]
    fn the_catalogue_spans_enough_markets() {
        let mut countries: Vec<Country> =
            catalogue().into_iter().flat_map(|o| o.countries).collect();
        countries.sort();
        countries.dedup();
        assert!(countries.len() >= 10);
    }
}
