//! Bank details: published valid examples, refusals with their codes, and masking.

use std::collections::HashSet;

use super::*;

fn iban(text: &str) -> BankDetails {
    BankDetails::Iban {
        iban: text.to_owned(),
    }
}

fn us(routing: &str, account: &str) -> BankDetails {
    BankDetails::UsAccount {
        routing_number: routing.to_owned(),
        account_number: account.to_owned(),
    }
}

fn pix(key: PixKey) -> BankDetails {
    BankDetails::Pix { key }
}

fn code_of(details: &BankDetails) -> Option<&'static str> {
    details.validate().err().map(|error| error.code())
}

#[test]
fn the_iban_registry_examples_are_valid() {
    for text in [
        "DE89370400440532013000",
        "DE89 3704 0044 0532 0130 00",
        "FR1420041010050500013M02606",
        "NL91ABNA0417164300",
        "GB29NWBK60161331926819",
        "KW81CBKU0000000000001234560101",
        "BH67BMAG00001299123456",
        "de89370400440532013000",
    ] {
        assert_eq!(iban(text).validate(), Ok(()), "{text}");
    }
}

#[test]
fn bad_ibans_are_refused_with_their_reason() {
    let cases = [
        ("DE89370400440532013001", "iban_invalid_checksum"),
        ("DE8937040044053201300", "iban_invalid_checksum"),
        ("DE5137040044053201300", "iban_invalid_for_country"),
        ("XX831234567890123456", "iban_unknown_country"),
        ("US281234567890123456", "iban_unknown_country"),
        ("", "iban_invalid_format"),
        ("DE89-3704-0044", "iban_invalid_format"),
        ("1234", "iban_invalid_format"),
    ];
    for (text, code) in cases {
        assert_eq!(code_of(&iban(text)), Some(code), "{text}");
    }
}

#[test]
fn uk_accounts_are_six_and_eight_digits() {
    let uk = |sort: &str, account: &str| BankDetails::UkAccount {
        sort_code: sort.to_owned(),
        account_number: account.to_owned(),
    };
    assert_eq!(uk("601613", "31926819").validate(), Ok(()));
    assert_eq!(
        code_of(&uk("60-16-13", "31926819")),
        Some("sort_code_invalid")
    );
    assert_eq!(code_of(&uk("60161", "31926819")), Some("sort_code_invalid"));
    assert_eq!(
        code_of(&uk("601613", "3192681")),
        Some("uk_account_number_invalid")
    );
    assert_eq!(
        code_of(&uk("601613", "3192681X")),
        Some("uk_account_number_invalid")
    );
}

#[test]
fn aba_routing_numbers_carry_a_check_digit() {
    for routing in [
        "011000015",
        "021000021",
        "026009593",
        "121000358",
        "322271627",
    ] {
        assert_eq!(us(routing, "000123456789").validate(), Ok(()), "{routing}");
    }
    let cases = [
        ("011000016", "routing_number_invalid_checksum"),
        ("021000012", "routing_number_invalid_checksum"),
        ("01100001", "routing_number_invalid_format"),
        ("0110000155", "routing_number_invalid_format"),
        ("01100001a", "routing_number_invalid_format"),
        // Checksum fits (3×1 + 7×3 + 6 = 30), but no bank uses the prefix 13.
        ("136000000", "routing_number_invalid_format"),
    ];
    for (routing, code) in cases {
        assert_eq!(
            code_of(&us(routing, "000123456789")),
            Some(code),
            "{routing}"
        );
    }
    assert_eq!(
        code_of(&us("011000015", "123")),
        Some("us_account_number_invalid")
    );
    assert_eq!(
        code_of(&us("011000015", "123456789012345678")),
        Some("us_account_number_invalid")
    );
}

#[test]
fn clabes_carry_a_check_digit() {
    let clabe = |text: &str| BankDetails::Clabe {
        clabe: text.to_owned(),
    };
    assert_eq!(clabe("032180000118359719").validate(), Ok(()));
    assert_eq!(clabe("002010077777777771").validate(), Ok(()));
    assert_eq!(
        code_of(&clabe("032180000118359718")),
        Some("clabe_invalid_checksum")
    );
    assert_eq!(
        code_of(&clabe("03218000011835971")),
        Some("clabe_invalid_format")
    );
    assert_eq!(
        code_of(&clabe("03218000011835971X")),
        Some("clabe_invalid_format")
    );
}

#[test]
fn pix_keys_of_each_kind() {
    let valid = [
        PixKey::Cpf("52998224725".to_owned()),
        PixKey::Cpf("11144477735".to_owned()),
        PixKey::Cnpj("11222333000181".to_owned()),
        // An alphanumeric CNPJ (the form issued from July 2026).
        PixKey::Cnpj("12ABC34501DE35".to_owned()),
        PixKey::Email("vendas@loja-exemplo.com.br".to_owned()),
        PixKey::Phone("+5511987654321".to_owned()),
        PixKey::Random("123e4567-e89b-42d3-a456-426614174000".to_owned()),
    ];
    for key in valid {
        assert_eq!(pix(key.clone()).validate(), Ok(()), "{key:?}");
    }
    let invalid = [
        (PixKey::Cpf("52998224724".to_owned()), "cpf_invalid"),
        (PixKey::Cpf("11111111111".to_owned()), "cpf_invalid"),
        (PixKey::Cpf("529.982.247-25".to_owned()), "cpf_invalid"),
        (PixKey::Cnpj("11222333000182".to_owned()), "cnpj_invalid"),
        (PixKey::Cnpj("00000000000000".to_owned()), "cnpj_invalid"),
        (PixKey::Cnpj("12abc34501de35".to_owned()), "cnpj_invalid"),
        (
            PixKey::Email("Vendas@loja.com".to_owned()),
            "pix_email_invalid",
        ),
        (
            PixKey::Email("vendas@localhost".to_owned()),
            "pix_email_invalid",
        ),
        (PixKey::Email("@loja.com".to_owned()), "pix_email_invalid"),
        (
            PixKey::Email(format!("{}@loja.com", "a".repeat(70))),
            "pix_email_invalid",
        ),
        (PixKey::Phone("11987654321".to_owned()), "pix_phone_invalid"),
        (
            PixKey::Phone("+551187654321".to_owned()),
            "pix_phone_invalid",
        ),
        (
            PixKey::Phone("+5501987654321".to_owned()),
            "pix_phone_invalid",
        ),
        (
            PixKey::Phone("+14155550100".to_owned()),
            "pix_phone_invalid",
        ),
        (
            PixKey::Random("123E4567-E89B-42D3-A456-426614174000".to_owned()),
            "pix_random_key_invalid",
        ),
        (
            PixKey::Random("123e4567e89b42d3a456426614174000".to_owned()),
            "pix_random_key_invalid",
        ),
    ];
    for (key, code) in invalid {
        assert_eq!(code_of(&pix(key.clone())), Some(code), "{key:?}");
    }
}

#[test]
fn indian_details() {
    let upi = |vpa: &str| BankDetails::Upi {
        vpa: vpa.to_owned(),
    };
    assert_eq!(upi("asha.rao@okhdfcbank").validate(), Ok(()));
    assert_eq!(upi("9876543210@ybl").validate(), Ok(()));
    for bad in [
        "asha.rao",
        "a@okhdfcbank",
        "asha@ok1",
        "asha rao@ybl",
        "asha@y",
    ] {
        assert_eq!(code_of(&upi(bad)), Some("upi_vpa_invalid"), "{bad}");
    }
    let account = |ifsc: &str, number: &str| BankDetails::IndianAccount {
        ifsc: ifsc.to_owned(),
        account_number: number.to_owned(),
    };
    assert_eq!(account("SBIN0001234", "00000012345678").validate(), Ok(()));
    assert_eq!(account("HDFC0ABC123", "123456789").validate(), Ok(()));
    for bad in ["SBIN1001234", "SBI00001234", "sbin0001234", "SBIN000123"] {
        assert_eq!(
            code_of(&account(bad, "123456789")),
            Some("ifsc_invalid"),
            "{bad}"
        );
    }
    assert_eq!(
        code_of(&account("SBIN0001234", "12345678")),
        Some("indian_account_number_invalid")
    );
}

#[test]
fn zengin_details() {
    let zengin = |bank: &str, branch: &str, number: &str| BankDetails::Zengin {
        bank_code: bank.to_owned(),
        branch_code: branch.to_owned(),
        account_number: number.to_owned(),
        account_type: ZenginAccountType::Ordinary,
    };
    assert_eq!(zengin("0005", "001", "1234567").validate(), Ok(()));
    assert_eq!(
        code_of(&zengin("005", "001", "1234567")),
        Some("zengin_bank_code_invalid")
    );
    assert_eq!(
        code_of(&zengin("0005", "01", "1234567")),
        Some("zengin_branch_code_invalid")
    );
    assert_eq!(
        code_of(&zengin("0005", "001", "123456")),
        Some("zengin_account_number_invalid")
    );
    assert_eq!(ZenginAccountType::Ordinary.code(), 1);
    assert_eq!(ZenginAccountType::Current.code(), 2);
    assert_eq!(ZenginAccountType::Savings.code(), 4);
}

#[test]
fn only_the_last_four_characters_show() {
    let cases = [
        (iban("DE89 3704 0044 0532 0130 00"), "****3000"),
        (us("011000015", "000123456789"), "****6789"),
        (pix(PixKey::Email("vendas@loja.com".to_owned())), "****.com"),
        (
            BankDetails::Zengin {
                bank_code: "0005".to_owned(),
                branch_code: "001".to_owned(),
                account_number: "1234567".to_owned(),
                account_type: ZenginAccountType::Savings,
            },
            "****4567",
        ),
        (
            BankDetails::UkAccount {
                sort_code: "601613".to_owned(),
                account_number: "1234".to_owned(),
            },
            "****",
        ),
    ];
    for (details, masked) in cases {
        assert_eq!(details.masked(), masked);
    }
}

#[test]
fn debug_never_shows_the_full_number() {
    let details = [
        iban("DE89370400440532013000"),
        us("011000015", "000123456789"),
        BankDetails::Clabe {
            clabe: "032180000118359719".to_owned(),
        },
        pix(PixKey::Cpf("52998224725".to_owned())),
        BankDetails::IndianAccount {
            ifsc: "SBIN0001234".to_owned(),
            account_number: "00000012345678".to_owned(),
        },
    ];
    for detail in details {
        let printed = format!("{detail:?}");
        assert!(printed.contains("****"), "{printed}");
        for secret in [
            "0532013000",
            "000123456789",
            "0118359719",
            "52998224725",
            "00000012345678",
        ] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }
    assert_eq!(
        format!("{:?}", iban("DE89370400440532013000")),
        "BankDetails::iban(****3000)"
    );
    assert_eq!(
        format!("{:?}", pix(PixKey::Cpf("52998224725".to_owned()))),
        "BankDetails::pix_key(PixKey::Cpf(****4725))"
    );
}

#[test]
fn error_codes_are_distinct_and_kinds_named() {
    let errors = [
        BankDetailsError::IbanFormat,
        BankDetailsError::IbanChecksum,
        BankDetailsError::IbanCountry,
        BankDetailsError::IbanCountryFormat,
        BankDetailsError::SortCode,
        BankDetailsError::UkAccountNumber,
        BankDetailsError::RoutingNumberFormat,
        BankDetailsError::RoutingNumberChecksum,
        BankDetailsError::UsAccountNumber,
        BankDetailsError::ClabeFormat,
        BankDetailsError::ClabeChecksum,
        BankDetailsError::Cpf,
        BankDetailsError::Cnpj,
        BankDetailsError::PixEmail,
        BankDetailsError::PixPhone,
        BankDetailsError::PixRandomKey,
        BankDetailsError::UpiVpa,
        BankDetailsError::Ifsc,
        BankDetailsError::IndianAccountNumber,
        BankDetailsError::ZenginBankCode,
        BankDetailsError::ZenginBranchCode,
        BankDetailsError::ZenginAccountNumber,
    ];
    let codes: HashSet<&str> = errors.iter().map(|e| e.code()).collect();
    assert_eq!(codes.len(), errors.len());
    assert_eq!(
        PayoutError::from(BankDetailsError::Cpf).code(),
        "cpf_invalid"
    );
    assert_eq!(
        iban("KW81CBKU0000000000001234560101")
            .iban_country()
            .as_deref(),
        Some("KW")
    );
    assert_eq!(us("011000015", "1234").iban_country(), None);
}
