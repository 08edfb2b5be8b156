//! Bank accounts: the sealable form of every kind of details, and verification answers.

use bazaar_money::{Currency, Money};

use super::*;

fn every_kind() -> Vec<BankDetails> {
    vec![
        BankDetails::Iban {
            iban: "DE89370400440532013000".to_owned(),
        },
        BankDetails::UkAccount {
            sort_code: "200000".to_owned(),
            account_number: "55779911".to_owned(),
        },
        BankDetails::UsAccount {
            routing_number: "021000021".to_owned(),
            account_number: "000123456789".to_owned(),
        },
        BankDetails::Clabe {
            clabe: "002010077777777771".to_owned(),
        },
        BankDetails::Pix {
            key: PixKey::Email("ana@example.com.br".to_owned()),
        },
        BankDetails::Pix {
            key: PixKey::Random("123e4567-e89b-42d3-a456-426614174000".to_owned()),
        },
        BankDetails::Upi {
            vpa: "ana@okaxis".to_owned(),
        },
        BankDetails::IndianAccount {
            ifsc: "HDFC0000001".to_owned(),
            account_number: "1234567890".to_owned(),
        },
        BankDetails::Zengin {
            bank_code: "0001".to_owned(),
            branch_code: "001".to_owned(),
            account_number: "1234567".to_owned(),
            account_type: ZenginAccountType::Savings,
        },
    ]
}

#[test]
fn every_kind_of_details_reads_back_from_its_sealable_form() {
    for details in every_kind() {
        let text = details.to_sealable();
        assert_eq!(
            BankDetails::from_sealable(&text),
            Some(details.clone()),
            "{text:?}"
        );
        assert_eq!(
            BankDetailsKind::parse(details.kind().as_str()),
            Some(details.kind())
        );
    }
    for broken in [
        "",
        "iban",
        "zengin\n1\n2\n3\n9",
        "pix\nTelegram\nx",
        "swift\nX",
    ] {
        assert_eq!(BankDetails::from_sealable(broken), None, "{broken:?}");
    }
}

#[test]
fn a_verification_answer_matches_in_either_order_and_three_wrong_ones_error() {
    let usd = |minor| Money::from_minor(minor, Currency::USD);
    let sent = [usd(32), usd(45)];
    assert_eq!(
        verification_after(sent, [usd(45), usd(32)], 1),
        (BankAccountState::Verified, 1)
    );
    assert_eq!(
        verification_after(sent, [usd(32), usd(46)], 0),
        (BankAccountState::Unverified, 1)
    );
    assert_eq!(
        verification_after(sent, [usd(32), usd(32)], 2),
        (BankAccountState::Errored, 3)
    );
    for state in [
        BankAccountState::Unverified,
        BankAccountState::Verified,
        BankAccountState::Errored,
    ] {
        assert_eq!(BankAccountState::parse(state.as_str()), Some(state));
    }
}
