//! Arbitrary operation sequences against the reference ledger: every invariant of
//! `bazaar_ledger::sim` holds after every step, and nothing panics.
#![no_main]

use bazaar_ledger::sim::{self, Op};
use libfuzzer_sys::fuzz_target;

/// Long enough for interesting histories, short enough for many runs a second.
const OPS_MAX: usize = 300;

fuzz_target!(|ops: Vec<Op>| {
    let ops = &ops[..ops.len().min(OPS_MAX)];
    if let Err(violation) = sim::run(ops) {
        panic!("invariant broken: {violation}");
    }
});
