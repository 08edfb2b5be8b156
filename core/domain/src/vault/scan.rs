//! Finding card numbers where none may be: logs, traces, database dumps. A candidate is a
//! run of 13 to 19 digits that touches no letter, digit or underscore on either side, passes
//! the Luhn check and starts like a card scheme's number (so today's microsecond timestamps
//! and hash fragments are not flagged). Digits may be grouped the way cards are written: a
//! first group of four, middle groups of four or six, one separator (a space or a dash)
//! throughout; a UUID's all-digit groups (eight first) are not a card number. The published
//! test numbers Bazaar's sandbox and tests use are allowed.
//!
//! In a database dump ([`find_card_numbers_in_dump`]), the fields of timestamp columns
//! (`at`, `ts`, `*_at`: microseconds since 1970 by the schema's rule) are skipped: tests that
//! simulate far-off dates write numbers there that fall in the Mastercard 2-series range.

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

/// Whether digit groups are written the way card numbers are: one group, or a first group of
/// four, middle groups of four or six, and a last group.
fn card_grouping(groups: &[usize]) -> bool {
    match groups {
        [_] => true,
        [first, middle @ .., _last] => *first == 4 && middle.iter().all(|g| *g == 4 || *g == 6),
        [] => false,
    }
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
        // The run: digits, grouped as cards are written or not at all.
        let mut digits = String::new();
        let mut groups: Vec<usize> = vec![0];
        let mut separator = None;
        let mut end = at;
        while let Some(&b) = bytes.get(end) {
            if b.is_ascii_digit() {
                digits.push(char::from(b));
                if let Some(last) = groups.last_mut() {
                    *last = last.saturating_add(1);
                }
                end = end.saturating_add(1);
            } else if (b == b' ' || b == b'-')
                && separator.is_none_or(|s| s == b)
                && bytes
                    .get(end.saturating_add(1))
                    .is_some_and(u8::is_ascii_digit)
                && digits.len() < 19
            {
                separator = Some(b);
                groups.push(0);
                end = end.saturating_add(1);
            } else {
                break;
            }
        }
        let bounded = bytes.get(end).is_none_or(|b| !is_word(*b));
        if bounded
            && card_grouping(&groups)
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

/// Whether a dumped column holds a timestamp by the schema's naming rule.
fn is_timestamp_column(name: &str) -> bool {
    name == "at" || name == "ts" || name.ends_with("_at")
}

/// The card numbers in a `pg_dump` file (plain format): lines outside `COPY` blocks as any
/// text, and within a block each field but those of timestamp columns.
pub fn find_card_numbers_in_dump(text: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut skip: Option<Vec<bool>> = None;
    for (index, line) in text.split('\n').enumerate() {
        let number = index.saturating_add(1);
        let fields: Vec<&str> = match &skip {
            Some(_) if line == "\\." => {
                skip = None;
                continue;
            }
            Some(timestamps) => line
                .split('\t')
                .zip(timestamps.iter().chain(std::iter::repeat(&false)))
                .filter(|(_, timestamp)| !**timestamp)
                .map(|(field, _)| field)
                .collect(),
            None => {
                if let Some(columns) = line
                    .strip_prefix("COPY ")
                    .and_then(|rest| rest.split_once(" ("))
                    .and_then(|(_, rest)| rest.split_once(") FROM stdin;"))
                    .map(|(columns, _)| columns)
                {
                    skip = Some(
                        columns
                            .split(", ")
                            .map(|c| is_timestamp_column(c.trim_matches('"')))
                            .collect(),
                    );
                    continue;
                }
                vec![line]
            }
        };
        for field in fields {
            findings.extend(find_card_numbers(field).into_iter().map(|finding| Finding {
                line: number,
                ..finding
            }));
        }
    }
    findings
}
