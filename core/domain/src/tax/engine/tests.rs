//! The golden cases (`../golden_cases.csv`) and the engine's refusals.
#![expect(
    clippy::arithmetic_side_effects,
    reason = "line numbers of a small file"
)]

use bazaar_money::{Currency, Money};

use super::*;
use crate::catalog::BasisPoints;
use crate::fx::calendar::Date;
use crate::tax::{Customer, StateSales, TcsSplit, Unconfirmed};

const GOLDEN: &str = include_str!("../golden_cases.csv");

fn money(cell: &str) -> Option<Money> {
    let (amount, code) = cell.split_once(' ')?;
    let currency = Currency::from_code(code).ok()?;
    Money::parse(amount, currency).ok()
}

fn customer(cell: &str) -> Customer {
    let tax_id = "DE136695976".to_owned();
    match cell {
        "b2c" => Customer::Consumer,
        "b2b" => Customer::Business {
            tax_id,
            consultation: Some("WAPIAAAAY1234567".to_owned()),
        },
        "b2b_unavailable" => Customer::Unconfirmed {
            tax_id,
            why: Unconfirmed::RegistryUnavailable,
        },
        "b2b_invalid" => Customer::Unconfirmed {
            tax_id,
            why: Unconfirmed::Invalid,
        },
        other => panic!("unknown customer {other}"),
    }
}

fn area(cell: &str) -> Option<Area> {
    (!cell.is_empty()).then(|| Area::parse(cell).unwrap())
}

struct Case<'a> {
    line: usize,
    cells: Vec<&'a str>,
}

impl Case<'_> {
    fn cell(&self, index: usize) -> &str {
        self.cells.get(index).copied().unwrap()
    }

    fn sale(&self) -> (Sale, Platform) {
        let state_sales = (!self.cell(8).is_empty()).then(|| {
            let (amount, count) = self.cell(8).split_once('/').unwrap();
            StateSales {
                sales: money(amount).unwrap(),
                transactions: count.parse().unwrap(),
            }
        });
        let sale = Sale {
            day: Date::parse_iso(self.cell(0)).unwrap(),
            code: TaxCode::parse(self.cell(1)).unwrap(),
            seller: Area::parse(self.cell(2)).unwrap(),
            buyer: Area::parse(self.cell(3)).unwrap(),
            customer: customer(self.cell(4)),
            ships_from: area(self.cell(5)),
            consignment: money(self.cell(6)),
            eu_distance_sales: money(self.cell(7)),
            state_sales,
            seller_rate: self
                .cell(9)
                .parse()
                .ok()
                .map(|bps| BasisPoints::new(bps).unwrap()),
        };
        let platform = Platform {
            jp_designated: self.cell(10) == "y",
        };
        (sale, platform)
    }

    fn check(&self, data: &TaxData) -> Result<(), String> {
        let (sale, platform) = self.sale();
        let decision = decide(&sale, &platform, data)
            .map_err(|error| format!("line {}: {error}", self.line))?;
        let tcs = decision.withholding.as_ref().map_or(String::new(), |w| {
            let split = match w.split {
                TcsSplit::CentralAndState => "central_state",
                TcsSplit::Integrated => "integrated",
            };
            format!("{}/{split}", w.rate.basis_points_text())
        });
        let got = [
            decision.place.to_string(),
            decision.rate.basis_points_text(),
            decision.liable.as_str().to_owned(),
            decision.scheme.as_str().to_owned(),
            if decision.reverse_charge { "y" } else { "n" }.to_owned(),
            decision.reason.code().to_owned(),
            tcs,
        ];
        let want: Vec<&str> = self.cells.iter().skip(11).copied().collect();
        if got.iter().map(String::as_str).eq(want.iter().copied()) {
            Ok(())
        } else {
            Err(format!("line {}: want {want:?}, got {got:?}", self.line))
        }
    }
}

fn golden_cases() -> Vec<Case<'static>> {
    let mut cases = Vec::new();
    let mut header = false;
    for (index, raw) in GOLDEN.lines().enumerate() {
        if raw.trim().is_empty() || raw.starts_with('#') {
            continue;
        }
        if !header {
            header = true;
            continue;
        }
        let cells: Vec<&str> = raw.split(',').collect();
        assert_eq!(cells.len(), 18, "line {}", index + 1);
        cases.push(Case {
            line: index + 1,
            cells,
        });
    }
    cases
}

#[test]
fn every_golden_case_decides_as_written() {
    let data = TaxData::builtin().unwrap();
    let cases = golden_cases();
    assert!(cases.len() >= 200, "{} golden cases", cases.len());
    let failures: Vec<String> = cases.iter().filter_map(|c| c.check(&data).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_golden_cases_cover_every_reason_and_scheme() {
    let cases = golden_cases();
    // A configured rate is the operator's, not the engine's: no golden case decides it.
    for reason in Reason::ALL.iter().filter(|r| **r != Reason::ConfiguredRate) {
        assert!(
            cases.iter().any(|c| c.cell(16) == reason.code()),
            "no golden case for {}",
            reason.code()
        );
    }
    for scheme in Scheme::ALL {
        assert!(cases.iter().any(|c| c.cell(14) == scheme.as_str()));
    }
}

fn base_sale() -> Sale {
    Sale {
        day: Date::parse_iso("2026-06-15").unwrap(),
        code: TaxCode::GeneralGoods,
        seller: Area::parse("FR").unwrap(),
        buyer: Area::parse("DE").unwrap(),
        customer: Customer::Consumer,
        ships_from: area("FR"),
        consignment: None,
        eu_distance_sales: money("20000.00 EUR"),
        state_sales: None,
        seller_rate: None,
    }
}

#[test]
fn a_missing_fact_is_an_error_not_a_zero() {
    let data = TaxData::builtin().unwrap();
    let platform = Platform::default();
    let mut no_origin = base_sale();
    no_origin.ships_from = None;
    let mut no_sales = base_sale();
    no_sales.eu_distance_sales = None;
    let mut import = base_sale();
    import.ships_from = area("CN");
    let mut no_state = base_sale();
    no_state.buyer = Area::parse("US").unwrap();
    let mut wrong_currency = base_sale();
    wrong_currency.eu_distance_sales = money("20000.00 USD");
    let mut old = base_sale();
    old.day = Date::parse_iso("2022-06-15").unwrap();
    for (sale, code) in [
        (no_origin, "tax_input_missing"),
        (no_sales, "tax_input_missing"),
        (import, "tax_input_missing"),
        (no_state, "tax_input_missing"),
        (wrong_currency, "tax_threshold_currency"),
        (old, "no_tax_rate"),
    ] {
        let error = decide(&sale, &platform, &data).unwrap_err();
        assert_eq!(error.code(), code, "{error}");
    }
}

#[test]
fn an_unconfirmed_vat_id_is_charged_and_says_why() {
    let data = TaxData::builtin().unwrap();
    let mut sale = base_sale();
    sale.customer = Customer::Unconfirmed {
        tax_id: "DE136695976".to_owned(),
        why: Unconfirmed::RegistryUnavailable,
    };
    let decision = decide(&sale, &Platform::default(), &data).unwrap();
    assert!(decision.charges_tax());
    assert!(!decision.reverse_charge);
    assert_eq!(decision.unconfirmed, Some(Unconfirmed::RegistryUnavailable));
    assert_eq!(decision.rate_source.as_deref(), Some("EC"));
}

#[test]
fn every_reason_explains_itself() {
    for reason in Reason::ALL {
        assert!(reason.explain().ends_with('.'), "{}", reason.code());
        assert!(reason.explain().len() > 40, "{}", reason.code());
    }
}
