//! Model-based tests: random operation sequences go to the durable store on a real
//! PostgreSQL and to the in-memory reference engine, and every answer, balance, stored
//! transfer and historical balance must be the same.
#![expect(
    clippy::unwrap_used,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    reason = "test drivers fail loudly"
)]

use std::sync::Arc;

use bazaar_ledger::{
    AccountCode, AccountId, BalanceConstraint, BatchError, Clock, Currency, InMemoryLedger,
    LedgerStore, ManualClock, Metadata, Money, NewAccount, Owner, Receipt, RequestKind, Side,
    Timestamp, TransferId, TransferRequest,
};
use bazaar_postgres::{LedgerConfig, PostgresLedger};
use bazaar_testdb::TestDatabase;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const SLOTS: u8 = 6;

#[derive(Clone, Debug)]
enum Leg {
    Direct {
        debit: u8,
        credit: u8,
        amount: i64,
    },
    Pending {
        debit: u8,
        credit: u8,
        amount: i64,
        timeout: u32,
    },
    Post {
        pending: u8,
        share: u8,
    },
    Void {
        pending: u8,
    },
    Reverse {
        transfer: u8,
        share: u8,
    },
}

#[derive(Clone, Debug)]
enum Op {
    Open { slot: u8, constraint: u8 },
    Submit(Vec<Leg>),
    Retry { submission: u8 },
    Advance { secs: u32 },
    Expire,
}

fn leg() -> impl Strategy<Value = Leg> {
    let slot = 0..SLOTS;
    let amount = prop_oneof![20 => 1_i64..500, 1 => -5_i64..=0];
    prop_oneof![
        4 => (slot.clone(), slot.clone(), amount.clone())
            .prop_map(|(debit, credit, amount)| Leg::Direct { debit, credit, amount }),
        3 => (slot.clone(), slot, amount, 1_u32..120)
            .prop_map(|(debit, credit, amount, timeout)| Leg::Pending { debit, credit, amount, timeout }),
        3 => (any::<u8>(), prop_oneof![3 => Just(200_u8), 2 => 1_u8..=255])
            .prop_map(|(pending, share)| Leg::Post { pending, share }),
        1 => any::<u8>().prop_map(|pending| Leg::Void { pending }),
        2 => (any::<u8>(), 1_u8..=255).prop_map(|(transfer, share)| Leg::Reverse { transfer, share }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0..SLOTS, 0_u8..3).prop_map(|(slot, constraint)| Op::Open { slot, constraint }),
        8 => prop::collection::vec(leg(), 1..=4).prop_map(Op::Submit),
        2 => any::<u8>().prop_map(|submission| Op::Retry { submission }),
        1 => (0_u32..90).prop_map(|secs| Op::Advance { secs }),
        1 => Just(Op::Expire),
    ]
}

fn sequence() -> impl Strategy<Value = Vec<Op>> {
    let opens = (0..SLOTS)
        .map(|slot| Op::Open {
            slot,
            constraint: slot % 3,
        })
        .collect::<Vec<_>>();
    prop::collection::vec(op(), 20..60).prop_map(move |rest| {
        let mut ops = opens.clone();
        ops.extend(rest);
        ops
    })
}

/// Drives both stores through one sequence, in a namespace of ids no other sequence uses.
struct Driver<'a> {
    pg: &'a PostgresLedger,
    reference: InMemoryLedger,
    clock: Arc<ManualClock>,
    namespace: u128,
    next: u128,
    pendings: Vec<(TransferId, Money)>,
    transfers: Vec<(TransferId, Money)>,
    submissions: Vec<Vec<TransferRequest>>,
    receipts: Vec<Receipt>,
}

impl<'a> Driver<'a> {
    fn account(&self, slot: u8) -> AccountId {
        AccountId::from_u128(self.namespace | u128::from(slot % SLOTS) | 0xA0)
    }

    fn fresh(&mut self) -> TransferId {
        self.next += 1;
        TransferId::from_u128(self.namespace | (self.next << 8))
    }

    fn pick(list: &[(TransferId, Money)], index: u8) -> Option<(TransferId, Money)> {
        if list.is_empty() {
            None
        } else {
            Some(list[usize::from(index) % list.len()])
        }
    }

    fn build(&mut self, legs: &[Leg]) -> Vec<TransferRequest> {
        let mut batch = Vec::new();
        for leg in legs {
            let id = self.fresh();
            let eur = |minor| Money::from_minor(minor, Currency::EUR);
            let part = |money: Money, share: u8| {
                Money::from_minor(money.minor() * i64::from(share) / 200, money.currency())
            };
            let kind = match *leg {
                Leg::Direct {
                    debit,
                    credit,
                    amount,
                } => {
                    self.transfers.push((id, eur(amount)));
                    RequestKind::Direct {
                        debit_account_id: self.account(debit),
                        credit_account_id: self.account(credit),
                        amount: eur(amount),
                    }
                }
                Leg::Pending {
                    debit,
                    credit,
                    amount,
                    timeout,
                } => {
                    self.pendings.push((id, eur(amount)));
                    RequestKind::Pending {
                        debit_account_id: self.account(debit),
                        credit_account_id: self.account(credit),
                        amount: eur(amount),
                        timeout_secs: timeout,
                    }
                }
                Leg::Post { pending, share } => {
                    let (pending_id, amount) =
                        Self::pick(&self.pendings, pending).unwrap_or((self.fresh(), eur(1)));
                    self.transfers.push((id, part(amount, share)));
                    RequestKind::PostPending {
                        pending_id,
                        amount: part(amount, share),
                    }
                }
                Leg::Void { pending } => {
                    let (pending_id, _) =
                        Self::pick(&self.pendings, pending).unwrap_or((self.fresh(), eur(1)));
                    RequestKind::VoidPending { pending_id }
                }
                Leg::Reverse { transfer, share } => {
                    let (original_id, amount) =
                        Self::pick(&self.transfers, transfer).unwrap_or((self.fresh(), eur(1)));
                    RequestKind::Reverse {
                        original_id,
                        amount: part(amount, share),
                    }
                }
            };
            batch.push(TransferRequest {
                id,
                kind,
                metadata: Metadata::new(),
            });
        }
        batch
    }

    async fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match op {
            Op::Open { slot, constraint } => {
                let new = NewAccount {
                    id: self.account(*slot),
                    currency: Currency::EUR,
                    code: AccountCode::new("model").unwrap(),
                    owner: Owner::new(&format!("seq:{:x}", self.namespace >> 64)).unwrap(),
                    normal_side: Side::Credit,
                    constraint: match constraint {
                        0 => BalanceConstraint::Unconstrained,
                        1 => BalanceConstraint::DebitsMustNotExceedCredits { overdraft: 0 },
                        _ => BalanceConstraint::CreditsMustNotExceedDebits { overdraft: 100 },
                    },
                };
                let pg = self.pg.create_account(new.clone()).await.unwrap();
                let reference = self.reference.create_account(new).await.unwrap();
                prop_assert_eq!(pg, reference);
            }
            Op::Submit(legs) => {
                let batch = self.build(legs);
                self.submit(batch.clone()).await?;
                self.submissions.push(batch);
            }
            Op::Retry { submission } => {
                if !self.submissions.is_empty() {
                    let batch =
                        self.submissions[usize::from(*submission) % self.submissions.len()].clone();
                    self.submit(batch).await?;
                }
            }
            Op::Advance { secs } => self.clock.advance_secs(*secs),
            Op::Expire => {
                let pg = self.pg.expire_due().await.unwrap();
                let reference = self.reference.expire_due().await.unwrap();
                prop_assert_eq!(pg, reference);
            }
        }
        Ok(())
    }

    async fn submit(&mut self, batch: Vec<TransferRequest>) -> Result<(), TestCaseError> {
        let pg = self.pg.submit(batch.clone()).await.unwrap();
        let reference = self.reference.submit(batch).await.unwrap();
        prop_assert_eq!(&pg, &reference);
        if let Ok(receipts) = pg {
            self.receipts.extend(receipts);
        }
        Ok(())
    }

    /// Every account, every stored transfer and pending state, and every account's balance at
    /// every instant a batch was applied, must agree.
    async fn compare_everything(&self) -> Result<(), TestCaseError> {
        for slot in 0..SLOTS {
            let id = self.account(slot);
            prop_assert_eq!(
                self.pg.account(id).await.unwrap(),
                self.reference.account(id).await.unwrap()
            );
            let mut instants: Vec<Timestamp> = self.receipts.iter().map(|r| r.timestamp).collect();
            instants.dedup();
            for at in instants {
                prop_assert_eq!(
                    self.pg.balance_at(id, at).await.unwrap(),
                    self.reference.balance_at(id, at).await.unwrap(),
                    "balance of slot {} at {}",
                    slot,
                    at
                );
            }
            let now = self.clock.now();
            prop_assert_eq!(
                self.pg.balance_at(id, now).await.unwrap(),
                self.reference.balance_at(id, now).await.unwrap()
            );
        }
        for batch in &self.submissions {
            for request in batch {
                prop_assert_eq!(
                    self.pg.transfer(request.id).await.unwrap(),
                    self.reference.transfer(request.id).await.unwrap()
                );
                prop_assert_eq!(
                    self.pg.pending_state(request.id).await.unwrap(),
                    self.reference.pending_state(request.id).await.unwrap()
                );
            }
        }
        Ok(())
    }
}

fn cases(default: u32) -> u32 {
    std::env::var("BAZAAR_MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A test database whose commits do not wait for the disk: these tests compare answers,
/// not durability (the crash tests cover that), and thousands of sequences commit one by one.
fn fast_database() -> TestDatabase {
    use diesel::RunQueryDsl;
    let db = TestDatabase::new().unwrap();
    let mut conn = db.connect().unwrap();
    diesel::sql_query(format!(
        "ALTER DATABASE \"{}\" SET synchronous_commit TO off",
        db.name()
    ))
    .execute(&mut conn)
    .unwrap();
    db
}

/// The durable store, writing its tables directly or, with `journal`, committing groups to
/// its journal and applying them behind.
async fn connect(db: &TestDatabase, clock: Arc<ManualClock>, journal: bool) -> PostgresLedger {
    let mut config = LedgerConfig::new(db.url());
    config.journal = journal;
    PostgresLedger::connect(config, clock).await.unwrap()
}

/// Two halves of the model test, each with its own database and its own random sequences, so
/// that together they use both cores.
#[test]
fn durable_store_matches_the_reference_engine() {
    if let Err(failure) = compare_random_sequences(false, 1_000) {
        panic!("{failure}");
    }
}

#[test]
fn durable_store_matches_the_reference_engine_again() {
    if let Err(failure) = compare_random_sequences(false, 1_000) {
        panic!("{failure}");
    }
}

/// The same comparison with the journal engine: every read applies the journal first, so
/// each answer and each read must match the reference as they do above.
#[test]
fn journal_engine_matches_the_reference_engine() {
    if let Err(failure) = compare_random_sequences(true, 300) {
        panic!("{failure}");
    }
}

/// Runs sequences one after another against one database. Each sequence starts its clock far
/// past everything before it and its ids in a namespace of its own, so that it meets an
/// empty ledger as far as it can tell, and timestamps agree with the reference exactly.
fn compare_random_sequences(journal: bool, default_cases: u32) -> Result<(), String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = fast_database();
    let clock = Arc::new(ManualClock::new(Timestamp::from_micros(
        1_800_000_000_000_000,
    )));
    let pg = runtime.block_on(connect(&db, clock.clone(), journal));
    let sequence_number = std::sync::atomic::AtomicU64::new(0);
    let mut runner = TestRunner::new(Config {
        cases: cases(default_cases),
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&sequence(), |ops| {
        let sequence =
            u128::from(sequence_number.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1);
        // Eleven and a half days apart: more than any sequence can advance its clock.
        clock.set(Timestamp::from_micros(
            clock.now().as_micros() + 1_000_000_000_000,
        ));
        let reference = InMemoryLedger::new(clock.clone());
        let mut driver = Driver {
            pg: &pg,
            reference,
            clock: clock.clone(),
            namespace: (sequence << 64) | (u128::from(std::process::id()) << 96),
            next: 0,
            pendings: Vec::new(),
            transfers: Vec::new(),
            submissions: Vec::new(),
            receipts: Vec::new(),
        };
        runtime.block_on(async {
            for op in &ops {
                driver.step(op).await?;
            }
            driver.compare_everything().await?;
            // Leave nothing open for the next sequence's expiry runs to find.
            clock.advance_secs(100_000);
            let pg_expired = pg.expire_due().await.unwrap();
            let reference_expired = driver.reference.expire_due().await.unwrap();
            prop_assert_eq!(pg_expired, reference_expired);
            driver.compare_everything().await
        })
    });
    if let Err(error) = result {
        return Err(error.to_string());
    }
    Ok(())
}

/// Many submitters at once: each works on accounts of its own, and all of them credit one
/// shared account. Each submitter's answers must match a reference run of its own sequence,
/// and the shared account must hold the sum of what every reference credited it.
#[test]
fn concurrent_submitters_match_the_reference_engine() {
    concurrent_submitters(false);
}

/// The same with the journal engine, whose account openings go through the tables between
/// journal rows.
#[test]
fn journal_engine_concurrent_submitters_match_the_reference_engine() {
    concurrent_submitters(true);
}

fn concurrent_submitters(journal: bool) {
    const SUBMITTERS: u128 = 16;
    const SALES: u128 = 150;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let db = fast_database();
    let clock = Arc::new(ManualClock::new(Timestamp::from_micros(
        1_800_000_000_000_000,
    )));
    let pg = runtime.block_on(connect(&db, clock.clone(), journal));
    let hot = AccountId::from_u128(0xF00D);
    let account = |id: AccountId, constraint| NewAccount {
        id,
        currency: Currency::EUR,
        code: AccountCode::new("model").unwrap(),
        owner: Owner::platform(),
        normal_side: Side::Credit,
        constraint,
    };
    let hot_account = account(hot, BalanceConstraint::Unconstrained);
    runtime
        .block_on(pg.create_account(hot_account.clone()))
        .unwrap()
        .unwrap();

    let results = runtime.block_on(async {
        let mut tasks = Vec::new();
        for submitter in 0..SUBMITTERS {
            let pg = pg.clone();
            let clock = clock.clone();
            let hot_account = hot_account.clone();
            tasks.push(tokio::spawn(async move {
                let reference = InMemoryLedger::new(clock);
                let funding = AccountId::from_u128((submitter << 64) | 1);
                let buyer = AccountId::from_u128((submitter << 64) | 2);
                reference
                    .create_account(hot_account)
                    .await
                    .unwrap()
                    .unwrap();
                for (id, constraint) in [
                    (funding, BalanceConstraint::Unconstrained),
                    (
                        buyer,
                        BalanceConstraint::DebitsMustNotExceedCredits { overdraft: 0 },
                    ),
                ] {
                    let new = account(id, constraint);
                    let a = pg.create_account(new.clone()).await.unwrap().map(|a| a.id);
                    let b = reference.create_account(new).await.unwrap().map(|a| a.id);
                    assert_eq!(a, b);
                }
                let mut mismatches = Vec::new();
                for sale in 0..SALES {
                    let id =
                        |leg: u128| TransferId::from_u128((submitter << 64) | (sale << 8) | leg);
                    let eur = |minor| Money::from_minor(minor, Currency::EUR);
                    // Top up now and then; every sale spends from the buyer, so some fail.
                    let amount = i64::try_from(sale % 7 + 1).unwrap() * 100;
                    let mut batch = vec![TransferRequest {
                        id: id(1),
                        kind: RequestKind::Direct {
                            debit_account_id: buyer,
                            credit_account_id: hot,
                            amount: eur(amount),
                        },
                        metadata: Metadata::new(),
                    }];
                    if sale % 3 == 0 {
                        batch.insert(
                            0,
                            TransferRequest {
                                id: id(0),
                                kind: RequestKind::Direct {
                                    debit_account_id: funding,
                                    credit_account_id: buyer,
                                    amount: eur(1_000),
                                },
                                metadata: Metadata::new(),
                            },
                        );
                    }
                    let a = pg.submit(batch.clone()).await.unwrap();
                    let b = reference.submit(batch).await.unwrap();
                    // Timestamps differ between the stores here: submitters interleave.
                    let shape = |r: &Result<Vec<Receipt>, BatchError>| {
                        r.as_ref()
                            .map(|receipts| receipts.iter().map(|r| r.id).collect::<Vec<_>>())
                            .map_err(|e| *e)
                    };
                    if shape(&a) != shape(&b) {
                        mismatches.push((sale, a, b));
                    }
                }
                let buyer_balance = reference.account(buyer).await.unwrap().unwrap().1;
                let hot_balance = reference.account(hot).await.unwrap().unwrap().1;
                (buyer, buyer_balance, hot_balance, mismatches)
            }));
        }
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        results
    });
    let mut hot_credits = 0_i64;
    for (buyer, reference_balance, hot_balance, mismatches) in results {
        assert!(mismatches.is_empty(), "answers differ: {mismatches:?}");
        let pg_balance = runtime.block_on(pg.account(buyer)).unwrap().unwrap().1;
        assert_eq!(pg_balance, reference_balance);
        hot_credits += hot_balance.credits_posted;
    }
    let hot_balance = runtime.block_on(pg.account(hot)).unwrap().unwrap().1;
    assert_eq!(hot_balance.credits_posted, hot_credits);
    assert!(hot_credits > 0);
}
