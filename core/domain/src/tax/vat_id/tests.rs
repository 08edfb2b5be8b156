//! The valid numbers here are published examples: python-stdnum's documentation of each
//! number format, and the numbers its tests list as found in use. The wrong ones are those
//! examples with a check digit or a length changed.

use super::*;

/// For every prefix: a valid number, the same with a wrong check digit, one of a wrong
/// length.
const CASES: &[(&str, &str, &str)] = &[
    ("ATU13585627", "ATU13585626", "ATU1358562"),
    ("BE0428759497", "BE0431150351", "BE04287594971"),
    ("BG175074752", "BG175074751", "BG17507475"),
    ("CY10259033P", "CY10259033Z", "CY1025903P"),
    ("CZ25123891", "CZ25123890", "CZ2512389"),
    ("DE136695976", "DE136695978", "DE13669597"),
    ("DK13585628", "DK13585627", "DK1358562"),
    ("EE100594102", "EE100594103", "EE10059410"),
    ("EL094259216", "EL123456781", "EL0942592161"),
    ("ESB64717838", "ESB64717839", "ESB6471783"),
    ("FI20774740", "FI20774741", "FI2077474"),
    ("FR40303265045", "FR84323140391", "FR4030326504"),
    ("HR33392005961", "HR33392005962", "HR3339200596"),
    ("HU12892312", "HU12892313", "HU1289231"),
    ("IE6433435F", "IE6433435E", "IE643343F"),
    ("IT00743110157", "IT00743110158", "IT0074311015"),
    ("LT119511515", "LT100001919018", "LT1195115151"),
    ("LU15027442", "LU15027443", "LU1502744"),
    ("LV40003521600", "LV40003521601", "LV4000352160"),
    ("MT11679112", "MT11679113", "MT1167911"),
    ("NL004495445B01", "NL123456789B90", "NL04495445B01"),
    ("PL8567346215", "PL8567346216", "PL856734621"),
    ("PT501964843", "PT501964842", "PT50196484"),
    ("RO18547290", "RO18547291", "RO12345678901"),
    ("SE123456789701", "SE123456789101", "SE12345678970"),
    ("SI50223054", "SI50223055", "SI5022305"),
    ("SK2022749619", "SK2022749618", "SK202274961"),
    ("GB980780684", "GB802311781", "GB98078068"),
    ("XI980780684", "XI802311781", "XI98078068"),
    ("AU83914571673", "AU99999999999", "AU8391457167"),
];

fn code(text: &str) -> &'static str {
    VatId::parse(text).unwrap_err().code()
}

fn compact(text: &str) -> String {
    VatId::parse(text).unwrap().as_str().to_owned()
}

#[test]
fn every_prefix_has_cases() {
    for scheme in SCHEMES {
        assert!(
            CASES
                .iter()
                .any(|(valid, ..)| valid.starts_with(scheme.prefix)),
            "no case for {}",
            scheme.prefix
        );
    }
}

#[test]
fn the_published_numbers_are_valid() {
    for (valid, ..) in CASES {
        let id = VatId::parse(valid).unwrap();
        assert_eq!(id.as_str(), *valid);
        assert_eq!(id.prefix(), valid.get(..2).unwrap());
        assert_eq!(id.number(), valid.get(2..).unwrap());
    }
}

#[test]
fn a_wrong_check_digit_is_refused() {
    for (_, wrong, _) in CASES {
        assert_eq!(code(wrong), "vat_id_check_digit", "{wrong}");
    }
}

#[test]
fn a_wrong_length_is_refused() {
    for (_, _, short) in CASES {
        assert_eq!(code(short), "vat_id_format", "{short}");
    }
}

#[test]
fn every_kind_of_number_of_a_country() {
    for valid in [
        // Bulgaria: a personal number (EGN), a foreigner's number, a 2000s birth date.
        "BG8032056031",
        "BG7111042925",
        "BG7542011030",
        // Czechia: 8 digits (legal person), a 10-digit and a 9-digit birth number, and 9
        // digits starting with 6.
        "CZ25123891",
        "CZ7103192745",
        "CZ991231123",
        "CZ640903926",
        // Spain: DNI, NIE, the K/L/M numbers, CIF with a digit and with a letter.
        "ES54362315K",
        "ESX5253868R",
        "ESM1234567L",
        "ESJ99216582",
        "ESQ2818015F",
        // France: keys with letters, and a Monaco number (no SIREN check).
        "FRK7399859412",
        "FR4Z123456782",
        "FR32000000330",
        // Ireland: 2013 form with a second letter, the older forms.
        "IE6433435OA",
        "IE8D79739I",
        "IE9Y71814N",
        // Sweden: a suffix other than 01, which the construction rules allow.
        "SE556433592402",
        // Lithuania: temporary taxpayers (12 digits).
        "LT100001919017",
        "LT100004801610",
        // Latvia: natural persons, old and new personal codes (form only).
        "LV16117519997",
        "LV32867300679",
        // The Netherlands: the sole traders' number since 2020 (MOD 97-10).
        "NL002455799B11",
        // The United Kingdom: the "9755" series and a branch.
        "GB100190874",
        "GB102675046",
        "GB242338087388",
        // Australia.
        "AU51824753556",
    ] {
        assert_eq!(compact(valid), valid);
    }
}

#[test]
fn wrong_numbers_of_each_kind() {
    for (text, expected) in [
        ("BG7111042922", "vat_id_check_digit"),
        ("CZ7103192746", "vat_id_check_digit"),
        ("CZ640913926", "vat_id_check_digit"),
        // A birth number with a month that does not exist, and 8 digits starting with 9.
        ("CZ1103492745", "vat_id_format"),
        ("CZ95123891", "vat_id_format"),
        ("ES54362315Z", "vat_id_check_digit"),
        ("ESJ99216583", "vat_id_check_digit"),
        ("ESO1234567L", "vat_id_format"),
        // `I` and `O` are not French key characters.
        ("FRIO334175221", "vat_id_format"),
        ("FRL7399859412", "vat_id_check_digit"),
        ("IE8D79729I", "vat_id_check_digit"),
        ("IE8?79739J", "vat_id_format"),
        // An Italian office code that does not exist.
        ("IT00687129980", "vat_id_format"),
        ("LT100001509922", "vat_id_format"),
        // A Latvian birth date that does not exist, and an unknown century.
        ("LV16137519997", "vat_id_format"),
        ("LV10103241337", "vat_id_format"),
        ("NL009122746B00", "vat_id_format"),
        ("NL001241643801", "vat_id_format"),
        ("CY12259033P", "vat_id_format"),
        ("SK2010237945", "vat_id_format"),
        ("SK0122749619", "vat_id_format"),
        ("SE556433592301", "vat_id_check_digit"),
        ("SE556433592400", "vat_id_format"),
        ("SE556433592495", "vat_id_format"),
        ("GB001234567", "vat_id_check_digit"),
        ("RO1630615123457", "vat_id_format"),
        ("ATX13585627", "vat_id_format"),
        ("DE036695976", "vat_id_format"),
    ] {
        assert_eq!(code(text), expected, "{text}");
    }
}

#[test]
fn spaces_dots_hyphens_and_lower_case_are_read() {
    assert_eq!(compact("fr 40 303 265 045"), "FR40303265045");
    assert_eq!(compact("Fr 40 303 265 045"), "FR40303265045");
    assert_eq!(compact("DE-136.695.976"), "DE136695976");
    assert_eq!(compact("  de 136 695 976\t"), "DE136695976");
    assert_eq!(compact("nl 8225.69.759 b01"), "NL822569759B01");
    assert_eq!(compact("es-x-2482300w"), "ESX2482300W");
    assert_eq!(compact("atu 142 43 102"), "ATU14243102");
    assert_eq!(compact("MT 1167-9112"), "MT11679112");
}

#[test]
fn greece_is_el_with_the_country_gr() {
    let id = VatId::parse("EL 094 259 216").unwrap();
    assert_eq!(id.as_str(), "EL094259216");
    assert_eq!(id.prefix(), "EL");
    assert_eq!(id.number(), "094259216");
    assert_eq!(id.country(), Country::new("GR").unwrap());
    assert_eq!(compact("GR094259216"), "EL094259216");
    assert_eq!(compact("el094259216"), "EL094259216");
    assert_eq!(
        VatId::parse("EL123456781").unwrap_err(),
        VatIdError::CheckDigit {
            country: Country::new("GR").unwrap()
        }
    );
}

#[test]
fn northern_ireland_is_xi_with_the_country_gb() {
    let id = VatId::parse("xi 980 7806 84").unwrap();
    assert_eq!(id.as_str(), "XI980780684");
    assert_eq!(id.prefix(), "XI");
    assert_eq!(id.number(), "980780684");
    assert_eq!(id.country(), Country::new("GB").unwrap());
    assert_eq!(
        VatId::parse("GB980780684").unwrap().country(),
        Country::new("GB").unwrap()
    );
}

#[test]
fn older_shorter_belgian_and_greek_numbers_get_their_leading_zero() {
    assert_eq!(compact("BE 428.759.497"), "BE0428759497");
    assert_eq!(compact("EL 94051189"), "EL094051189");
    assert_eq!(code("BE 431.150.351"), "vat_id_check_digit");
}

#[test]
fn errors_and_their_codes() {
    assert_eq!(VatId::parse(""), Err(VatIdError::Empty));
    assert_eq!(VatId::parse(" .- "), Err(VatIdError::Empty));
    assert_eq!(VatId::parse("136695976"), Err(VatIdError::MissingPrefix));
    assert_eq!(VatId::parse("D"), Err(VatIdError::MissingPrefix));
    assert_eq!(VatId::parse("ÄT13585627"), Err(VatIdError::MissingPrefix));
    assert_eq!(
        VatId::parse("qq 124567"),
        Err(VatIdError::UnknownCountry("QQ".to_owned()))
    );
    assert_eq!(
        VatId::parse("DE"),
        Err(VatIdError::Format {
            country: Country::new("DE").unwrap(),
            expected: "9 digits, the first not 0",
        })
    );
    assert_eq!(code("DE13669597Ä"), "vat_id_format");
    assert_eq!(VatIdError::Empty.code(), "vat_id_empty");
    assert_eq!(VatIdError::MissingPrefix.code(), "vat_id_missing_prefix");
    assert_eq!(code("US123456789"), "vat_id_unknown_country");
    assert_eq!(code("DE1366959"), "vat_id_format");
    assert_eq!(code("DE136695978"), "vat_id_check_digit");
}

#[test]
fn messages_show_no_more_than_the_prefix() {
    for text in [
        "DE136695978",
        "DE13669597",
        "QQ136695978",
        "ESB64717839",
        "LV16137519997",
    ] {
        let message = VatId::parse(text).unwrap_err().to_string();
        let number = text.get(2..).unwrap();
        for start in 0..number.len().saturating_sub(3) {
            let piece = number.get(start..start + 4).unwrap();
            assert!(!message.contains(piece), "{message:?} shows {piece}");
        }
    }
    assert_eq!(
        VatId::parse("DE136695978").unwrap_err().to_string(),
        "the check digits of the DE VAT identification number are wrong"
    );
    let id = VatId::parse("DE136695976").unwrap();
    assert_eq!(format!("{id:?}"), r#"VatId("DE", ..)"#);
}

#[test]
fn display_and_from_str_use_the_compact_form() {
    let id: VatId = "SE 556 644 662 001".parse().unwrap();
    assert_eq!(id.to_string(), "SE556644662001");
    assert_eq!(id.country(), Country::new("SE").unwrap());
    assert_eq!(id.number(), "556644662001");
    assert_eq!(
        "DE136695978".parse::<VatId>().unwrap_err().code(),
        "vat_id_check_digit"
    );
}
