use bazaar_domain::Country;
use bazaar_domain::tax::{Customer, Unconfirmed, VatId, confirm};
use bazaar_ledger::Timestamp;

use super::*;

fn id(text: &str) -> VatId {
    VatId::parse(text).unwrap()
}

fn now() -> Timestamp {
    Timestamp::from_micros(1_780_000_000_000_000)
}

#[tokio::test]
async fn a_registered_number_is_confirmed_with_a_fresh_consultation_number() {
    let vies = SandboxVies::new();
    let bazaar = id("IE6388047V");
    let customer = id("DE136695976");
    vies.register(&bazaar);
    vies.register(&customer);
    let (first, failure) = confirm(&vies, "de 136 695 976", &bazaar, now())
        .await
        .unwrap();
    assert_eq!(failure, None);
    let Customer::Business {
        tax_id,
        consultation: Some(first_number),
    } = first
    else {
        panic!("{first:?}");
    };
    assert_eq!(tax_id, "DE136695976");
    assert!(first_number.starts_with("WAPI") && first_number.len() == 16);
    let (second, _) = confirm(&vies, "DE136695976", &bazaar, now()).await.unwrap();
    let Customer::Business {
        consultation: Some(second_number),
        ..
    } = second
    else {
        panic!("{second:?}");
    };
    assert_ne!(first_number, second_number);
    assert_eq!(vies.checks_of(&customer), 2);
}

#[tokio::test]
async fn an_unregistered_or_deregistered_number_is_invalid() {
    let vies = SandboxVies::new();
    let bazaar = id("IE6388047V");
    vies.register(&bazaar);
    let customer = id("DE136695976");
    let (answer, _) = confirm(&vies, "DE136695976", &bazaar, now()).await.unwrap();
    assert!(matches!(
        answer,
        Customer::Unconfirmed {
            why: Unconfirmed::Invalid,
            ..
        }
    ));
    vies.register(&customer);
    vies.deregister(&customer);
    let (answer, _) = confirm(&vies, "DE136695976", &bazaar, now()).await.unwrap();
    assert!(!answer.is_business());
}

#[tokio::test]
async fn a_member_state_down_means_vat_is_charged_not_zero_rated() {
    let vies = SandboxVies::new();
    let bazaar = id("IE6388047V");
    let customer = id("DE136695976");
    vies.register(&bazaar);
    vies.register(&customer);
    vies.set_down(Country::new("DE").unwrap(), true);
    let (answer, failure) = confirm(&vies, "DE136695976", &bazaar, now()).await.unwrap();
    assert!(matches!(
        answer,
        Customer::Unconfirmed {
            why: Unconfirmed::RegistryUnavailable,
            ..
        }
    ));
    assert_eq!(
        failure,
        Some(RegistryError::Unavailable("MS_UNAVAILABLE".to_owned()))
    );
    vies.set_down(Country::new("DE").unwrap(), false);
    let (answer, _) = confirm(&vies, "DE136695976", &bazaar, now()).await.unwrap();
    assert!(answer.is_business());
}

#[tokio::test]
async fn bad_check_digits_never_reach_the_registry_and_an_unknown_requester_is_refused() {
    let vies = SandboxVies::new();
    let bazaar = id("IE6388047V");
    let error = confirm(&vies, "DE136695977", &bazaar, now())
        .await
        .unwrap_err();
    assert_eq!(error.code(), "vat_id_check_digit");
    assert_eq!(vies.checks_of(&id("DE136695976")), 0);
    // Bazaar's own number is not registered in this sandbox: VIES refuses the requester.
    let (answer, failure) = confirm(&vies, "DE136695976", &bazaar, now()).await.unwrap();
    assert!(!answer.is_business());
    assert!(matches!(failure, Some(RegistryError::Rejected(_))));
}
