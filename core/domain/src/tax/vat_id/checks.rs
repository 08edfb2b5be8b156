//! The form and check digits of each country's VAT identification number.
//!
//! Each function takes the number without its country prefix, upper case, separators
//! removed, and says whether its form is right (`Fault::Format`) and then whether its check
//! digits are (`Fault::CheckDigit`). The sums stay small (at most 13 digits times weights
//! below 100), so saturating arithmetic never saturates; it only keeps every function total.

use crate::fx::calendar::Date;

/// What is wrong with a number.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Fault {
    /// The length or the kind of a character is wrong, or an embedded date does not exist.
    Format,
    /// The form is right and the check digits are not.
    CheckDigit,
}

/// Austria: `U` and 8 digits. The last digit is a Luhn-style check over the 7 before it,
/// offset by 4 as the VIES construction rules describe.
pub(super) fn at(number: &[u8]) -> Result<(), Fault> {
    let [b'U', rest @ ..] = number else {
        return Err(Fault::Format);
    };
    let digits = digits_of_length(rest, &[8])?;
    let (check, body) = split_check(&digits)?;
    let sum = body
        .iter()
        .enumerate()
        .fold(0_u32, |sum, (position, &digit)| {
            let value = if position % 2 == 1 {
                digit_sum_of_double(digit)
            } else {
                digit
            };
            sum.saturating_add(value)
        });
    let expected = 10_u32.saturating_sub(sum.saturating_add(4) % 10) % 10;
    pass_if(expected == check)
}

/// Belgium: 10 digits, the first 0 or 1. The last two are 97 minus the first eight mod 97.
pub(super) fn be(number: &[u8]) -> Result<(), Fault> {
    let digits = digits_of_length(number, &[10])?;
    if !matches!(digits.first(), Some(0 | 1)) {
        return Err(Fault::Format);
    }
    let (body, check) = digits.split_at_checked(8).ok_or(Fault::Format)?;
    let expected = 97_u64.saturating_sub(decimal(body) % 97);
    pass_if(decimal(check) == expected)
}

/// Bulgaria: 9 digits for legal entities, 10 for people (a personal number, EGN, or a
/// foreigner's number, LNCh) and others; each kind has its own check digit, and a 10-digit
/// number is accepted when any of the three 10-digit checks holds.
pub(super) fn bg(number: &[u8]) -> Result<(), Fault> {
    let digits = digits_of_length(number, &[9, 10])?;
    let (check, body) = split_check(&digits)?;
    if digits.len() == 9 {
        let mut expected = weighted_sum(body, &[1, 2, 3, 4, 5, 6, 7, 8]) % 11;
        if expected == 10 {
            expected = weighted_sum(body, &[3, 4, 5, 6, 7, 8, 9, 10]) % 11;
        }
        return pass_if(expected % 10 == check);
    }
    let personal = bg_birth_date_exists(&digits)
        && weighted_sum(body, &[2, 4, 8, 5, 10, 9, 7, 3, 6]) % 11 % 10 == check;
    let foreigner = weighted_sum(body, &[21, 19, 17, 13, 11, 9, 7, 3, 1]) % 10 == check;
    let other = 11_u32.saturating_sub(weighted_sum(body, &[4, 3, 2, 7, 6, 5, 4, 3, 2]) % 11) % 11;
    pass_if(personal || foreigner || other == check)
}

/// The birth date of a Bulgarian EGN: `YYMMDD`, with 20 added to the month for the 1800s and
/// 40 for the 2000s.
fn bg_birth_date_exists(digits: &[u32]) -> bool {
    let [y1, y2, m1, m2, d1, d2, ..] = digits else {
        return false;
    };
    let year = decimal(&[*y1, *y2]);
    let (century, month) = match decimal(&[*m1, *m2]) {
        month @ 1..=12 => (1900, month),
        month @ 21..=32 => (1800, month.saturating_sub(20)),
        month @ 41..=52 => (2000, month.saturating_sub(40)),
        _ => return false,
    };
    date_exists(year.saturating_add(century), month, decimal(&[*d1, *d2]))
}

/// Cyprus: 8 digits and a check letter; the number never starts with `12`. Digits in odd
/// places are translated through a fixed table, the sum taken mod 26 gives the letter.
pub(super) fn cy(number: &[u8]) -> Result<(), Fault> {
    const ODD: [u32; 10] = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21];
    let [body @ .., letter] = number else {
        return Err(Fault::Format);
    };
    let digits = digits_of_length(body, &[8])?;
    if !letter.is_ascii_uppercase() || digits.starts_with(&[1, 2]) {
        return Err(Fault::Format);
    }
    let sum = digits
        .iter()
        .enumerate()
        .fold(0_u32, |sum, (position, &digit)| {
            let value = if position % 2 == 0 {
                table_value(&ODD, digit)
            } else {
                digit
            };
            sum.saturating_add(value)
        });
    pass_if(alphabet_letter(sum % 26) == Some(*letter))
}

/// Czechia: 8 digits for legal entities (not starting with 9, a mod 11 check digit); 9
/// digits starting with 6 for people without a birth number (a mod 11 check over the middle
/// seven); otherwise a birth number (rodné číslo) of 9 or 10 digits, whose date must exist
/// and whose 10-digit form is divisible by 11 (a remainder of 10 written as 0).
pub(super) fn cz(number: &[u8]) -> Result<(), Fault> {
    let digits = digits_of_length(number, &[8, 9, 10])?;
    let (check, body) = split_check(&digits)?;
    match (digits.len(), body) {
        (8, [9, ..]) => Err(Fault::Format),
        (8, _) => {
            let remainder = weighted_sum(body, &[8, 7, 6, 5, 4, 3, 2]) % 11;
            let expected = match remainder {
                0 => 1,
                1 => 0,
                _ => 11_u32.saturating_sub(remainder),
            };
            pass_if(expected == check)
        }
        (9, [6, middle @ ..]) => {
            let remainder = weighted_sum(middle, &[8, 7, 6, 5, 4, 3, 2]) % 11;
            pass_if(remainder.saturating_add(8) % 10 == check)
        }
        _ => cz_birth_number(&digits),
    }
}

/// A Czech birth number: `YYMMDD` and a serial; women have 50 added to the month, and since
/// 2004 a further 20 may be added when a day's serials run out. Nine-digit numbers were given
/// until 1953, ten-digit ones since 1954.
fn cz_birth_number(digits: &[u32]) -> Result<(), Fault> {
    let [y1, y2, m1, m2, d1, d2, ..] = digits else {
        return Err(Fault::Format);
    };
    let year = decimal(&[*y1, *y2]);
    let month = match decimal(&[*m1, *m2]) {
        month @ 1..=12 => month,
        month @ 21..=32 => month.saturating_sub(20),
        month @ 51..=62 => month.saturating_sub(50),
        month @ 71..=82 => month.saturating_sub(70),
        _ => return Err(Fault::Format),
    };
    let year = match (digits.len(), year) {
        (9, 0..=53) => year.saturating_add(1900),
        (9, 80..) => year.saturating_add(1800),
        (9, _) => return Err(Fault::Format),
        (_, 0..=53) => year.saturating_add(2000),
        (_, _) => year.saturating_add(1900),
    };
    if !date_exists(year, month, decimal(&[*d1, *d2])) {
        return Err(Fault::Format);
    }
    if digits.len() == 9 {
        // Nine-digit birth numbers carry no check digit.
        return Ok(());
    }
    let (check, body) = split_check(digits)?;
    pass_if(remainder(body, 11).map(|r| r % 10) == Some(check))
}

/// Germany: 9 digits, the first not 0, with an ISO 7064 MOD 11,10 check digit.
pub(super) fn de(number: &[u8]) -> Result<(), Fault> {
    let digits = digits_of_length(number, &[9])?;
    if digits.first() == Some(&0) {
        return Err(Fault::Format);
    }
    pass_if(iso7064_mod_11_10(&digits))
}

/// Denmark: 8 digits, the first not 0, whose weighted sum is divisible by 11.
pub(super) fn dk(number: &[u8]) -> Result<(), Fault> {
    let digits = digits_of_length(number, &[8])?;
    if digits.first() == Some(&0) {
        return Err(Fault::Format);
    }
    pass_if(weighted_sum(&digits, &[2, 7, 6, 5, 4, 3, 2, 1]).is_multiple_of(11))
}

/// Estonia: 9 digits whose weighted sum (3, 7, 1 repeated) is divisible by 10.
pub(super) fn ee(number: &[u8]) -> Result<(), Fault> {
    let digits = digits_of_length(number, &[9])?;
    pass_if(weighted_sum(&digits, &[3, 7, 1, 3, 7, 1, 3, 7, 1]).is_multiple_of(10))
}

/// Greece: 9 digits; the last is the first eight weighted by powers of two, mod 11, mod 10.
pub(super) fn el(number: &[u8]) -> Result<(), Fault> {
    let digits = digits_of_length(number, &[9])?;
    let (check, body) = split_check(&digits)?;
    let sum = weighted_sum(body, &[256, 128, 64, 32, 16, 8, 4, 2]);
    pass_if(sum % 11 % 10 == check)
}

/// Spain: 9 characters. A Spanish person's DNI (8 digits and a letter), a foreigner's NIE
/// (`X`, `Y` or `Z`, 7 digits and a letter) and the `K`, `L` and `M` numbers end in the
/// letter of their number mod 23. A legal entity's CIF (a letter for the kind of entity, 7
/// digits, a check) ends in a Luhn check digit or the letter standing for it; which of the
/// two each kind of entity uses is described inconsistently, so either is accepted.
pub(super) fn es(number: &[u8]) -> Result<(), Fault> {
    const DNI_LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";
    const CIF_LETTERS: &[u8; 10] = b"JABCDEFGHI";
    let [first, middle @ .., last] = number else {
        return Err(Fault::Format);
    };
    let middle = digits_of_length(middle, &[7])?;
    let personal = |lead: u64| {
        if !last.is_ascii_uppercase() {
            return Err(Fault::Format);
        }
        let value = lead
            .saturating_mul(10_000_000)
            .saturating_add(decimal(&middle));
        let letter = usize::try_from(value % 23)
            .ok()
            .and_then(|index| DNI_LETTERS.get(index));
        pass_if(letter == Some(last))
    };
    match first {
        b'0'..=b'9' => personal(u64::from(first.saturating_sub(b'0'))),
        b'X' => personal(0),
        b'Y' => personal(1),
        b'Z' => personal(2),
        b'K' | b'L' | b'M' => personal(0),
        b'A'..=b'H' | b'J' | b'N' | b'P'..=b'S' | b'U'..=b'W' => {
            if !last.is_ascii_alphanumeric() {
                return Err(Fault::Format);
            }
            let check = luhn_check_digit(&middle);
            let as_digit = char::from_digit(check, 10).and_then(|c| u8::try_from(c).ok());
            let as_letter = usize::try_from(check)
                .ok()
                .and_then(|index| CIF_LETTERS.get(index).copied());
            pass_if(Some(*last) == as_digit || Some(*last) == as_letter)
        }
        _ => Err(Fault::Format),
    }
}

/// Finland: 8 digits whose weighted sum is divisible by 11.
pub(super) fn fi(number: &[u8]) -> Result<(), Fault> {
    let digits = digits_of_length(number, &[8])?;
    pass_if(weighted_sum(&digits, &[7, 9, 10, 5, 8, 4, 2, 1]).is_multiple_of(11))
}

/// France: a two-character key and the 9-digit SIREN. The SIREN passes Luhn (except
/// Monaco's numbers, which start with `000`). A numeric key is `(SIREN × 100 + 12) mod 97`;
/// a key with a letter (from `0-9A-Z` without `I` and `O`) follows the newer scheme the VIES
/// construction rules describe.
pub(super) fn fr(number: &[u8]) -> Result<(), Fault> {
    const KEY: &[u8; 34] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let [k1, k2, siren @ ..] = number else {
        return Err(Fault::Format);
    };
    let position = |key: &u8| {
        KEY.iter()
            .position(|c| c == key)
            .and_then(|index| u64::try_from(index).ok())
    };
    let (Some(first), Some(second)) = (position(k1), position(k2)) else {
        return Err(Fault::Format);
    };
    let digits = digits_of_length(siren, &[9])?;
    if !digits.starts_with(&[0, 0, 0]) && !luhn(&digits) {
        return Err(Fault::CheckDigit);
    }
    let siren = decimal(&digits);
    if first < 10 && second < 10 {
        let key = first.saturating_mul(10).saturating_add(second);
        return pass_if(key == siren.saturating_mul(100).saturating_add(12) % 97);
    }
    let check = if first < 10 {
        first
            .saturating_mul(24)
            .saturating_add(second)
            .saturating_sub(10)
    } else {
        first
            .saturating_mul(34)
            .saturating_add(second)
            .saturating_sub(100)
    };
    pass_if(siren.saturating_add(1).saturating_add(check / 11) % 11 == check % 11)
}

/// Croatia: the 11-digit OIB, with an ISO 7064 MOD 11,10 check digit.
pub(super) fn hr(number: &[u8]) -> Result<(), Fault> {
    let digits = digits_of_length(number, &[11])?;
    pass_if(iso7064_mod_11_10(&digits))
}

/// Hungary: 8 digits whose weighted sum (9, 7, 3, 1 repeated) is divisible by 10.
pub(super) fn hu(number: &[u8]) -> Result<(), Fault> {
    let digits = digits_of_length(number, &[8])?;
    pass_if(weighted_sum(&digits, &[9, 7, 3, 1, 9, 7, 3, 1]).is_multiple_of(10))
}

/// Ireland: 7 digits, a check letter and, since 2013, a second letter that counts in the
/// check; or the older form of a digit, a letter (or `+`, `*`), 5 digits and the check
/// letter, checked as the 7 digits `0`, the five and the first.
pub(super) fn ie(number: &[u8]) -> Result<(), Fault> {
    let (Some(head), Some(&check), second) = (number.get(..7), number.get(7), number.get(8)) else {
        return Err(Fault::Format);
    };
    if number.len() > 9 || ie_letter(check).is_none() {
        return Err(Fault::Format);
    }
    let (seven, extra) = match (digits(head), head, second) {
        (Some(seven), _, None) => (seven, 0),
        (Some(seven), _, Some(&letter)) => (seven, ie_letter(letter).ok_or(Fault::Format)?),
        (None, [first, b'A'..=b'Z' | b'+' | b'*', five @ ..], None) => {
            let first = digits(&[*first]).ok_or(Fault::Format)?;
            let five = digits_of_length(five, &[5])?;
            ([&[0], five.as_slice(), first.as_slice()].concat(), 0)
        }
        _ => return Err(Fault::Format),
    };
    let sum = weighted_sum(&seven, &[8, 7, 6, 5, 4, 3, 2]).saturating_add(extra.saturating_mul(9));
    pass_if(ie_letter(check) == Some(sum % 23))
}

/// The value of a letter in Ireland's check alphabet, `W` (0) and `A` to `V` (1 to 22).
fn ie_letter(letter: u8) -> Option<u32> {
    const LETTERS: &[u8; 23] = b"WABCDEFGHIJKLMNOPQRSTUV";
    LETTERS
        .iter()
        .position(|&c| c == letter)
        .and_then(|index| u32::try_from(index).ok())
}

/// Italy: 11 digits passing Luhn; the first seven not all 0, and the office code in places 8
/// to 10 is 001 to 100, 120, 121, 888 or 999.
pub(super) fn it(number: &[u8]) -> Result<(), Fault> {
    let digits = digits_of_length(number, &[11])?;
    let (company, rest) = digits.split_at_checked(7).ok_or(Fault::Format)?;
    let office = rest.get(..3).map(decimal);
    let known_office = matches!(office, Some(1..=100 | 120 | 121 | 888 | 999));
    if decimal(company) == 0 || !known_office {
        return Err(Fault::Format);
    }
    pass_if(luhn(&digits))
}

/// Lithuania: 9 digits for legal entities (the eighth is 1) or 12 for temporary taxpayers
/// (the eleventh is 1). The check digit is a weighted sum mod 11 with weights 1 to 9
/// repeated, or, when that gives 10, weights starting from 3; 10 again means 0.
pub(super) fn lt(number: &[u8]) -> Result<(), Fault> {
    let digits = digits_of_length(number, &[9, 12])?;
    let marker = digits
        .len()
        .checked_sub(2)
        .and_then(|index| digits.get(index));
    if marker != Some(&1) {
        return Err(Fault::Format);
    }
    let (check, body) = split_check(&digits)?;
    let mut expected = weighted_sum(body, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2]) % 11;
    if expected == 10 {
        expected = weighted_sum(body, &[3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 4]) % 11;
    }
    pass_if(expected % 10 == check)
}

/// Luxembourg: 8 digits; the last two are the first six mod 89.
pub(super) fn lu(number: &[u8]) -> Result<(), Fault> {
    let digits = digits_of_length(number, &[8])?;
    let (body, check) = digits.split_at_checked(6).ok_or(Fault::Format)?;
    pass_if(decimal(body) % 89 == decimal(check))
}

/// Latvia: 11 digits. A legal person's number starts with a digit above 3 and its weighted
/// sum is 3 mod 11. A natural person's number is their personal code, which has no reliably
/// published check digit, so only its form is checked: a code from before July 2017 starts
/// with the birth date (`DDMMYY`, then the century: 0 for the 1800s, 1 for the 1900s, 2
/// for the 2000s), which must exist; a newer code starts with 3 and a digit from 2 to 9.
pub(super) fn lv(number: &[u8]) -> Result<(), Fault> {
    let digits = digits_of_length(number, &[11])?;
    match digits.as_slice() {
        [4..=9, ..] => {
            pass_if(weighted_sum(&digits, &[9, 1, 4, 8, 3, 10, 2, 5, 7, 6, 1]) % 11 == 3)
        }
        [3, 2..=9, ..] => Ok(()),
        [d1, d2, m1, m2, y1, y2, century @ 0..=2, ..] => {
            let year = 1800_u64
                .saturating_add(u64::from(*century).saturating_mul(100))
                .saturating_add(decimal(&[*y1, *y2]));
            if date_exists(year, decimal(&[*m1, *m2]), decimal(&[*d1, *d2])) {
                Ok(())
            } else {
                Err(Fault::Format)
            }
        }
        _ => Err(Fault::Format),
    }
}

/// Malta: 8 digits, the first not 0; the last two are 37 minus the weighted sum of the first
/// six mod 37.
pub(super) fn mt(number: &[u8]) -> Result<(), Fault> {
    let digits = digits_of_length(number, &[8])?;
    if digits.first() == Some(&0) {
        return Err(Fault::Format);
    }
    let (body, check) = digits.split_at_checked(6).ok_or(Fault::Format)?;
    let expected = 37_u32.saturating_sub(weighted_sum(body, &[3, 4, 6, 7, 8, 9]) % 37);
    pass_if(decimal(check) == u64::from(expected))
}

/// The Netherlands: 9 digits, `B` and 2 digits (not `00`). A number from before 2020
/// (built on the RSIN or BSN) passes the 11-test on its first nine digits; the VAT
/// identification number given to sole traders since 2020 instead passes ISO 7064 MOD 97-10
/// on the whole string with its `NL` prefix.
pub(super) fn nl(number: &[u8]) -> Result<(), Fault> {
    let [body @ .., b'B', s1, s2] = number else {
        return Err(Fault::Format);
    };
    let digits = digits_of_length(body, &[9])?;
    let suffix = digits_of_length(&[*s1, *s2], &[2])?;
    if decimal(&digits) == 0 || decimal(&suffix) == 0 {
        return Err(Fault::Format);
    }
    let (check, first) = split_check(&digits)?;
    let eleven_test = weighted_sum(first, &[9, 8, 7, 6, 5, 4, 3, 2]) % 11 == check;
    let prefixed = [b"NL".as_slice(), number].concat();
    pass_if(eleven_test || iso7064_mod_97_10(&prefixed))
}

/// Poland: 10 digits; the last is the weighted sum of the first nine mod 11 (10 is never
/// given out).
pub(super) fn pl(number: &[u8]) -> Result<(), Fault> {
    let digits = digits_of_length(number, &[10])?;
    let (check, body) = split_check(&digits)?;
    pass_if(weighted_sum(body, &[6, 5, 7, 2, 3, 4, 5, 6, 7]) % 11 == check)
}

/// Portugal: 9 digits, the first not 0; the last is 11 minus the weighted sum mod 11, where
/// 10 and 11 are written 0.
pub(super) fn pt(number: &[u8]) -> Result<(), Fault> {
    let digits = digits_of_length(number, &[9])?;
    if digits.first() == Some(&0) {
        return Err(Fault::Format);
    }
    let (check, body) = split_check(&digits)?;
    let expected = 11_u32.saturating_sub(weighted_sum(body, &[9, 8, 7, 6, 5, 4, 3, 2]) % 11);
    pass_if(expected % 11 % 10 == check)
}

/// Romania: 2 to 10 digits, the first not 0. The others, aligned right against the weights
/// 7, 5, 3, 2, 1, 7, 5, 3, 2, give the check digit as ten times their sum, mod 11, mod 10.
/// The 13-digit personal code is not a VAT number in VIES and is refused.
pub(super) fn ro(number: &[u8]) -> Result<(), Fault> {
    const WEIGHTS_FROM_RIGHT: [u32; 9] = [2, 3, 5, 7, 1, 2, 3, 5, 7];
    let digits = digits_of_length(number, &[2, 3, 4, 5, 6, 7, 8, 9, 10])?;
    if digits.first() == Some(&0) {
        return Err(Fault::Format);
    }
    let (check, body) = split_check(&digits)?;
    let sum = body
        .iter()
        .rev()
        .zip(WEIGHTS_FROM_RIGHT)
        .fold(0_u32, |sum, (&digit, weight)| {
            sum.saturating_add(digit.saturating_mul(weight))
        });
    pass_if(sum.saturating_mul(10) % 11 % 10 == check)
}

/// Sweden: 12 digits, the 10-digit organisation or personal number passing Luhn and a
/// 2-digit suffix from 01 to 94 (in practice always 01).
pub(super) fn se(number: &[u8]) -> Result<(), Fault> {
    let digits = digits_of_length(number, &[12])?;
    let (body, suffix) = digits.split_at_checked(10).ok_or(Fault::Format)?;
    if !(1..=94).contains(&decimal(suffix)) {
        return Err(Fault::Format);
    }
    pass_if(luhn(body))
}

/// Slovenia: 8 digits, the first not 0; the last is 11 minus the weighted sum mod 11, where
/// 10 is written 0 and 11 is never given out.
pub(super) fn si(number: &[u8]) -> Result<(), Fault> {
    let digits = digits_of_length(number, &[8])?;
    if digits.first() == Some(&0) {
        return Err(Fault::Format);
    }
    let (check, body) = split_check(&digits)?;
    let expected = 11_u32.saturating_sub(weighted_sum(body, &[8, 7, 6, 5, 4, 3, 2]) % 11);
    pass_if(expected < 11 && expected % 10 == check)
}

/// Slovakia: 10 digits, the first not 0 and the third one of 2, 3, 4, 7, 8 and 9; the
/// number is divisible by 11.
pub(super) fn sk(number: &[u8]) -> Result<(), Fault> {
    let digits = digits_of_length(number, &[10])?;
    if !matches!(digits.as_slice(), [1..=9, _, 2 | 3 | 4 | 7 | 8 | 9, ..]) {
        return Err(Fault::Format);
    }
    pass_if(remainder(&digits, 11) == Some(0))
}

/// The United Kingdom (and Northern Ireland's `XI`): 9 digits, or 12 for a branch (the last
/// three are not checked). The first seven weighted 8 down to 2, plus the 2-digit check
/// (00 to 96) as a number, are 0 mod 97; or, for the series given out since 2010 (from
/// 100 0000 00, the "9755" scheme), 0 mod 97 after adding 55.
pub(super) fn gb(number: &[u8]) -> Result<(), Fault> {
    let digits = digits_of_length(number, &[9, 12])?;
    let nine = digits.get(..9).ok_or(Fault::Format)?;
    let remainder = weighted_sum(nine, &[8, 7, 6, 5, 4, 3, 2, 10, 1]) % 97;
    let since_2010 = nine.get(..3).map(decimal).is_some_and(|lead| lead >= 100);
    let check_in_range = nine.get(7..).map(decimal).is_some_and(|check| check <= 96);
    pass_if(check_in_range && (remainder == 0 || (since_2010 && remainder == 42)))
}

/// Australia: the 11-digit ABN, the first not 0. With 1 taken from the first digit, the
/// digits weighted 10, 1, 3, 5 … 19 are 0 mod 89.
pub(super) fn au(number: &[u8]) -> Result<(), Fault> {
    let digits = digits_of_length(number, &[11])?;
    let [first @ 1..=9, rest @ ..] = digits.as_slice() else {
        return Err(Fault::Format);
    };
    let sum = first
        .saturating_sub(1)
        .saturating_mul(10)
        .saturating_add(weighted_sum(rest, &[1, 3, 5, 7, 9, 11, 13, 15, 17, 19]));
    pass_if(sum.is_multiple_of(89))
}

/// `Ok` when the check holds.
fn pass_if(holds: bool) -> Result<(), Fault> {
    if holds {
        Ok(())
    } else {
        Err(Fault::CheckDigit)
    }
}

/// The digits of an all-digit text; `None` when any character is not a digit.
fn digits(text: &[u8]) -> Option<Vec<u32>> {
    text.iter()
        .map(|byte| char::from(*byte).to_digit(10))
        .collect()
}

/// The digits of a text that must be all digits, of one of the lengths.
fn digits_of_length(text: &[u8], lengths: &[usize]) -> Result<Vec<u32>, Fault> {
    if !lengths.contains(&text.len()) {
        return Err(Fault::Format);
    }
    digits(text).ok_or(Fault::Format)
}

/// The last digit (the check digit) and the ones before it.
fn split_check(digits: &[u32]) -> Result<(u32, &[u32]), Fault> {
    digits
        .split_last()
        .map(|(check, body)| (*check, body))
        .ok_or(Fault::Format)
}

/// The digits read as one number (at most 19 digits fit).
fn decimal(digits: &[u32]) -> u64 {
    digits.iter().fold(0, |value, &digit| {
        value.saturating_mul(10).saturating_add(u64::from(digit))
    })
}

/// The digits read as one number, mod `modulus`, for numbers too long for `decimal`.
fn remainder(digits: &[u32], modulus: u32) -> Option<u32> {
    digits.iter().try_fold(0_u32, |value, &digit| {
        value
            .checked_mul(10)?
            .checked_add(digit)?
            .checked_rem(modulus)
    })
}

/// Σ digit × weight, pairing them from the left; extra weights are unused.
fn weighted_sum(digits: &[u32], weights: &[u32]) -> u32 {
    digits.iter().zip(weights).fold(0, |sum, (digit, weight)| {
        sum.saturating_add(digit.saturating_mul(*weight))
    })
}

/// A digit doubled, its two digits added (the Luhn step).
fn digit_sum_of_double(digit: u32) -> u32 {
    let doubled = digit.saturating_mul(2);
    if doubled > 9 {
        doubled.saturating_sub(9)
    } else {
        doubled
    }
}

/// Whether the digits pass the Luhn check (every second digit from the right doubled).
fn luhn(digits: &[u32]) -> bool {
    let sum = digits
        .iter()
        .rev()
        .enumerate()
        .fold(0_u32, |sum, (position, &digit)| {
            let value = if position % 2 == 1 {
                digit_sum_of_double(digit)
            } else {
                digit
            };
            sum.saturating_add(value)
        });
    sum.is_multiple_of(10)
}

/// The digit that, appended, makes the digits pass Luhn.
fn luhn_check_digit(digits: &[u32]) -> u32 {
    (0..10)
        .find(|candidate| luhn(&[digits, &[*candidate]].concat()))
        .unwrap_or(0)
}

/// ISO 7064 MOD 11,10 over digits whose last is the check digit.
fn iso7064_mod_11_10(digits: &[u32]) -> bool {
    let Ok((check, body)) = split_check(digits) else {
        return false;
    };
    let product = body.iter().fold(10_u32, |product, &digit| {
        let sum = match digit.saturating_add(product) % 10 {
            0 => 10,
            sum => sum,
        };
        sum.saturating_mul(2) % 11
    });
    11_u32.saturating_sub(product) % 10 == check
}

/// ISO 7064 MOD 97-10 over digits and capital letters (`A` = 10 … `Z` = 35): the whole, read
/// as a number, is 1 mod 97.
fn iso7064_mod_97_10(text: &[u8]) -> bool {
    let value = text.iter().try_fold(0_u32, |value, &byte| {
        let (scale, digit) = match byte {
            b'0'..=b'9' => (10, u32::from(byte.saturating_sub(b'0'))),
            b'A'..=b'Z' => (100, u32::from(byte.saturating_sub(b'A')).saturating_add(10)),
            _ => return None,
        };
        Some(value.saturating_mul(scale).saturating_add(digit) % 97)
    });
    value == Some(1)
}

/// `table[index]`, 0 past its end.
fn table_value(table: &[u32], index: u32) -> u32 {
    usize::try_from(index)
        .ok()
        .and_then(|index| table.get(index))
        .copied()
        .unwrap_or(0)
}

/// The capital letter at a place in the alphabet, `A` for 0.
fn alphabet_letter(index: u32) -> Option<u8> {
    let offset = u8::try_from(index).ok().filter(|offset| *offset < 26)?;
    b'A'.checked_add(offset)
}

/// Whether the day exists in the proleptic Gregorian calendar.
fn date_exists(year: u64, month: u64, day: u64) -> bool {
    let (Ok(year), Ok(month), Ok(day)) = (
        i64::try_from(year),
        u32::try_from(month),
        u32::try_from(day),
    ) else {
        return false;
    };
    Date::new(year, month, day).is_some()
}
