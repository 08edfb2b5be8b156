//! Finding card numbers where none may be: logs, traces, database dumps. A candidate is a
//! run of 13 to 19 digits (single spaces or dashes allowed between them) that touches no
//! letter, digit or underscore on either side, passes the Luhn check and starts like a
//! card scheme's number (so microsecond timestamps and hash fragments are not flagged).
//! The published test numbers Bazaar's sandbox and tests use are allowed.

use crate::payments::CardNumber;

use super::Brand;

/// The published test card numbers (the sandbox's, and the schemes' documented test
/// numbers): the only card numbers that may appear anywhere.
pub const TEST_CARD_NUMBERS: &[&str] = &[
    "4111111111111111",
    "5555555555554444",
    "4000000000000051",
    "4000000000000010",
    "4000000000000036",
    "378282246310005",
    "6011111111111117",
    "3530111333300000",
    "2223000048410010",
    "30569309025904",
    "6200000000000005",
    "6759649826438453",
];

/// A card number found: where, and masked (BIN and last four only).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Finding {
    /// The 1-based line it is on.
    pub line: usize,
    /// First six and last four digits.
    pub masked: String,
}

fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// The card numbers in `text` other than the test numbers.
pub fn find_card_numbers(text: &str) -> Vec<Finding> {
    let bytes = text.as_bytes();
    let mut findings = Vec::new();
    let mut line = 1_usize;
    let mut at = 0_usize;
    while let Some(&byte) = bytes.get(at) {
        if byte == b'\n' {
            line = line.saturating_add(1);
        }
        let starts_run = byte.is_ascii_digit()
            && at
                .checked_sub(1)
                .and_then(|before| bytes.get(before))
                .is_none_or(|b| !is_word(*b));
        if !starts_run {
            at = at.saturating_add(1);
            continue;
        }
        // The run: digits with single separators between them.
        let mut digits = String::new();
        let mut end = at;
        while let Some(&b) = bytes.get(end) {
            if b.is_ascii_digit() {
                digits.push(char::from(b));
                end = end.saturating_add(1);
            } else if (b == b' ' || b == b'-')
                && bytes
                    .get(end.saturating_add(1))
                    .is_some_and(u8::is_ascii_digit)
                && digits.len() < 19
            {
                end = end.saturating_add(1);
            } else {
                break;
            }
        }
        let bounded = bytes.get(end).is_none_or(|b| !is_word(*b));
        if bounded
            && (13..=19).contains(&digits.len())
            && CardNumber::new(&digits).is_ok()
            && Brand::of_bin(digits.get(..8).unwrap_or(&digits)) != Brand::Unknown
            && !TEST_CARD_NUMBERS.contains(&digits.as_str())
        {
            findings.push(Finding {
                line,
                masked: format!(
                    "{}...{}",
                    digits.get(..6).unwrap_or(""),
                    digits.get(digits.len().saturating_sub(4)..).unwrap_or("")
                ),
            });
        }
        at = end.max(at.saturating_add(1));
    }
    findings
}
