//! The SQL of the durable ledger, as blocking functions on one connection. Every write goes
//! through [`commit_group`] or [`create_accounts`], inside a SERIALIZABLE transaction run by
//! [`crate::retry`]. Bulk reads and writes bind arrays and use `unnest`, which PostgreSQL and
//! CockroachDB both support, so a group of any size costs a fixed number of statements.

use std::collections::{BTreeMap, BTreeSet};

use bazaar_ledger::{
    Account, AccountError, Balance, BatchError, Effects, LedgerState, NewAccount, PendingState,
    Receipt, RequestKind, Timestamp, Transfer, TransferId, TransferKind, TransferRequest,
};
use bazaar_schema::schema::{ledger_clock, ledger_failures};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_query;
use diesel::sql_types::{Array, BigInt, Integer, Jsonb, Nullable, Text, Uuid as SqlUuid};
use serde_json::Value;
use uuid::Uuid;

use crate::codec::{self, ACCOUNT_COLUMNS, AccountRow, FailureRow, TRANSFER_SELECT, TransferRow};

mod history;
pub(crate) mod journal;

pub(crate) use history::{account_ids, balance_at, history, ping};

/// What the posting engine is asked to do in a group.
#[derive(Debug)]
pub(crate) enum Work {
    CreateAccounts(Vec<NewAccount>),
    Submit(Vec<TransferRequest>),
    Expire,
}

/// What each piece of work answered.
#[derive(Debug)]
pub(crate) enum Answer {
    Accounts(Vec<Result<Account, AccountError>>),
    Submitted(Result<Vec<Receipt>, BatchError>),
    Expired(Vec<TransferId>),
}

/// A failure inside a transaction: either the database's, or data the ledger cannot read.
#[derive(Debug)]
pub(crate) enum TxError {
    Db(diesel::result::Error),
    Corrupt(bazaar_ledger::StoreError),
}

impl From<diesel::result::Error> for TxError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Db(error)
    }
}

impl From<bazaar_ledger::StoreError> for TxError {
    fn from(error: bazaar_ledger::StoreError) -> Self {
        Self::Corrupt(error)
    }
}

/// Creates the clock row and the journal's applied mark if they are missing. Run once at
/// start, outside any DDL.
pub(crate) fn ensure_clock(conn: &mut PgConnection) -> QueryResult<()> {
    journal::ensure_applied(conn)?;
    diesel::insert_into(ledger_clock::table)
        .values((
            ledger_clock::id.eq(true),
            ledger_clock::last_ts.eq(Timestamp::MIN.as_micros()),
        ))
        .on_conflict(ledger_clock::id)
        .do_nothing()
        .execute(conn)
        .map(|_| ())
}

fn save_clock(conn: &mut PgConnection, last: Timestamp, writer: Uuid) -> QueryResult<()> {
    diesel::update(ledger_clock::table.filter(ledger_clock::id))
        .set((
            ledger_clock::last_ts.eq(last.as_micros()),
            ledger_clock::writer.eq(writer),
        ))
        .execute(conn)
        .map(|_| ())
}

fn uuids<I: IntoIterator<Item = Uuid>>(ids: I) -> Vec<Uuid> {
    ids.into_iter().collect()
}

pub(crate) fn load_accounts(
    conn: &mut PgConnection,
    ids: &[Uuid],
    for_update: bool,
) -> Result<Vec<(Account, Balance)>, TxError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // A fixed lock order (by id) keeps concurrent engines from deadlocking.
    let lock = if for_update {
        " ORDER BY id FOR UPDATE"
    } else {
        ""
    };
    let query = format!("SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE id = ANY($1){lock}");
    // raw SQL: ACCOUNT_COLUMNS casts currency::text; FOR UPDATE is appended at run time
    let rows: Vec<AccountRow> = sql_query(query).bind::<Array<SqlUuid>, _>(ids).load(conn)?;
    Ok(rows
        .into_iter()
        .map(AccountRow::into_domain)
        .collect::<Result<_, _>>()?)
}

pub(crate) fn load_transfers(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<Vec<(Transfer, Option<PendingState>, i64)>, TxError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // raw SQL: TRANSFER_SELECT: COALESCE over LEFT JOINs; diesel has no COALESCE
    let rows: Vec<TransferRow> = sql_query(format!("{TRANSFER_SELECT} WHERE t.id = ANY($1)"))
        .bind::<Array<SqlUuid>, _>(ids)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(TransferRow::into_domain)
        .collect::<Result<_, _>>()?)
}

fn load_due_pendings(
    conn: &mut PgConnection,
    before_or_at: Timestamp,
    limit: i64,
) -> Result<Vec<(Transfer, Option<PendingState>, i64)>, TxError> {
    let query = format!(
        "{TRANSFER_SELECT} WHERE t.id IN (SELECT id FROM ledger_pending \
         WHERE state = 'open' AND expires_at <= $1 ORDER BY expires_at LIMIT $2)"
    );
    // raw SQL: TRANSFER_SELECT (COALESCE over LEFT JOINs) with a limited IN subquery
    let rows: Vec<TransferRow> = sql_query(query)
        .bind::<BigInt, _>(before_or_at.as_micros())
        .bind::<BigInt, _>(limit)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(TransferRow::into_domain)
        .collect::<Result<_, _>>()?)
}

fn load_failures(
    conn: &mut PgConnection,
    ids: &[Uuid],
    state: &mut LedgerState,
) -> Result<(), TxError> {
    if ids.is_empty() {
        return Ok(());
    }
    let rows: Vec<FailureRow> = ledger_failures::table
        .filter(ledger_failures::id.eq_any(ids))
        .select(FailureRow::as_select())
        .load(conn)?;
    for row in rows {
        let (id, failure) = row.into_domain()?;
        state.load_failure(id, failure);
    }
    Ok(())
}

/// What a group of work reads before the rules run: the ids of its transfers, the transfers
/// they refer to, the accounts they touch, and whether it expires holds.
struct Touched {
    leg_ids: BTreeSet<Uuid>,
    referenced: BTreeSet<Uuid>,
    account_ids: BTreeSet<Uuid>,
    expires: bool,
}

/// What a request names besides its own id: the two accounts it moves money between, or the
/// transfer it posts, voids or reverses.
pub(crate) enum Refers {
    Accounts(bazaar_ledger::AccountId, bazaar_ledger::AccountId),
    Transfer(TransferId),
}

pub(crate) fn refers_to(request: &TransferRequest) -> Refers {
    match request.kind {
        RequestKind::Direct {
            debit_account_id,
            credit_account_id,
            ..
        }
        | RequestKind::Pending {
            debit_account_id,
            credit_account_id,
            ..
        } => Refers::Accounts(debit_account_id, credit_account_id),
        RequestKind::PostPending { pending_id, .. } | RequestKind::VoidPending { pending_id } => {
            Refers::Transfer(pending_id)
        }
        RequestKind::Reverse { original_id, .. } => Refers::Transfer(original_id),
    }
}

fn touched<'a>(work: impl Iterator<Item = &'a Work>) -> Touched {
    let mut leg_ids = BTreeSet::new();
    let mut referenced = BTreeSet::new();
    let mut account_ids = BTreeSet::new();
    let mut expires = false;
    for piece in work {
        match piece {
            Work::Submit(batch) => {
                for request in batch {
                    leg_ids.insert(request.id.as_uuid());
                    match refers_to(request) {
                        Refers::Accounts(debit, credit) => {
                            account_ids.insert(debit.as_uuid());
                            account_ids.insert(credit.as_uuid());
                        }
                        Refers::Transfer(id) => {
                            referenced.insert(id.as_uuid());
                        }
                    }
                }
            }
            Work::Expire => expires = true,
            Work::CreateAccounts(accounts) => {
                account_ids.extend(accounts.iter().map(|account| account.id.as_uuid()));
            }
        }
    }
    Touched {
        leg_ids,
        referenced,
        account_ids,
        expires,
    }
}

/// What a group committed through the tables leaves behind.
pub(crate) struct Committed {
    pub(crate) answers: Vec<Answer>,
    /// The journal's head, every row of it now applied.
    pub(crate) journal_seq: i64,
    /// The clock after the group.
    pub(crate) last: Timestamp,
}

/// Applies a group of work in one transaction, writing the ledger's tables directly: locks
/// the clock row, applies whatever the journal still holds, runs the rules, and names
/// `writer` as the ledger's last writer, which fences every other engine's journal.
pub(crate) fn commit_group(
    conn: &mut PgConnection,
    work: &[Work],
    now: Timestamp,
    expire_limit: i64,
    writer: Uuid,
) -> Result<Committed, TxError> {
    // The clock row first: every writer takes it before any account, in that order.
    let clock = journal::lock_clock(conn)?;
    if clock.applied_seq < clock.journal_seq {
        journal::materialise_to(conn, clock.journal_seq)?;
    }
    let last = Timestamp::from_micros(clock.last_ts);
    let (answers, state) = apply_group(conn, last, work, now, expire_limit)?;
    if state.last_timestamp() != last || clock.writer != Some(writer) {
        save_clock(conn, state.last_timestamp(), writer)?;
    }
    Ok(Committed {
        answers,
        journal_seq: clock.journal_seq,
        last: state.last_timestamp(),
    })
}

/// Work run at one instant from one clock: a group as it was committed.
pub(crate) struct Segment<'a> {
    /// The clock before the work.
    pub(crate) last: Timestamp,
    pub(crate) now: Timestamp,
    pub(crate) work: &'a [Work],
}

/// Runs a group of work on the rows it touches, from the clock `last`, and writes every
/// effect with one statement per table. Returns one answer per piece of work, in order, and
/// the state the rules ran on. Touches no clock row: the caller holds the lock that orders
/// it (the clock's, or the applied mark's when replaying the journal).
fn apply_group(
    conn: &mut PgConnection,
    last: Timestamp,
    work: &[Work],
    now: Timestamp,
    expire_limit: i64,
) -> Result<(Vec<Answer>, LedgerState), TxError> {
    let (mut answers, state) = apply_segments(conn, &[Segment { last, now, work }], expire_limit)?;
    Ok((answers.pop().unwrap_or_default(), state))
}

/// Runs several groups, one after another, as [`apply_group`] runs one: the rows they touch
/// are read once and every effect is written with one statement per table. Each segment must
/// start from the clock the one before it left (as journal rows do); returns each segment's
/// answers.
// size: reading what the work touches, running it and writing its effects read best in one piece
pub(crate) fn apply_segments(
    conn: &mut PgConnection,
    segments: &[Segment<'_>],
    expire_limit: i64,
) -> Result<(Vec<Vec<Answer>>, LedgerState), TxError> {
    let mut state = LedgerState::default();
    let Some(first) = segments.first() else {
        return Ok((Vec::new(), state));
    };
    state.observe_timestamp(first.last);

    let Touched {
        leg_ids,
        referenced,
        mut account_ids,
        expires,
    } = touched(segments.iter().flat_map(|segment| segment.work));
    let lookups = uuids(leg_ids.union(&referenced).copied());
    let mut loaded = load_transfers(conn, &lookups)?;
    if expires {
        // Every piece of work before the expiry may move the clock on by one microsecond.
        let horizon = segments
            .iter()
            .map(|segment| {
                let steps = i64::try_from(segment.work.len()).unwrap_or(i64::MAX);
                segment
                    .now
                    .as_micros()
                    .max(segment.last.as_micros().saturating_add(steps))
            })
            .max()
            .unwrap_or(i64::MIN);
        loaded.extend(load_due_pendings(
            conn,
            Timestamp::from_micros(horizon),
            expire_limit,
        )?);
    }
    for (transfer, pending, reversed) in loaded {
        account_ids.insert(transfer.debit_account_id.as_uuid());
        account_ids.insert(transfer.credit_account_id.as_uuid());
        state.load_transfer(transfer, pending, reversed);
    }
    load_failures(conn, &uuids(leg_ids.iter().copied()), &mut state)?;
    for (account, balance) in load_accounts(conn, &uuids(account_ids), true)? {
        state.load_account(account, balance);
    }
    let mut opened: Vec<Account> = Vec::new();

    let mut answers = Vec::with_capacity(segments.len());
    let mut effects = Vec::new();
    let mut failed_at: Vec<i64> = Vec::new();
    for segment in segments {
        if state.last_timestamp() != segment.last {
            return Err(TxError::Corrupt(bazaar_ledger::StoreError::Internal(
                format!(
                    "a ledger group starts from the clock {} but the one before it left {}",
                    segment.last.as_micros(),
                    state.last_timestamp().as_micros()
                ),
            )));
        }
        let now = segment.now;
        let mut segment_answers = Vec::with_capacity(segment.work.len());
        for piece in segment.work {
            match piece {
                Work::Submit(batch) => {
                    let (result, effect) = state.submit(batch, now);
                    segment_answers.push(Answer::Submitted(result));
                    effects.push(effect);
                }
                Work::CreateAccounts(accounts) => {
                    let mut results = Vec::with_capacity(accounts.len());
                    for new in accounts {
                        let known = state.account(new.id).is_some();
                        let result = state.create_account(new.clone(), now);
                        if let (Ok(account), false) = (&result, known) {
                            opened.push(account.clone());
                        }
                        results.push(result);
                    }
                    segment_answers.push(Answer::Accounts(results));
                }
                Work::Expire => {
                    let effect = state.expire_due(now);
                    let ids = effect.expired.iter().map(|e| e.pending_id).collect();
                    segment_answers.push(Answer::Expired(ids));
                    effects.push(effect);
                }
            }
        }
        answers.push(segment_answers);
        // A failure is stamped with the clock at the end of its group.
        failed_at.resize(effects.len(), state.last_timestamp().as_micros());
    }
    // Accounts first: the transfers of the same group may refer to them.
    if !opened.is_empty() {
        insert_accounts(conn, &opened)?;
    }
    persist(conn, &state, &effects, &failed_at)?;
    Ok((answers, state))
}

/// Column arrays for one bulk insert of transfers.
#[derive(Default)]
struct TransferColumns {
    id: Vec<Uuid>,
    kind: Vec<&'static str>,
    debit: Vec<Uuid>,
    credit: Vec<Uuid>,
    amount: Vec<i64>,
    currency: Vec<&'static str>,
    ts: Vec<i64>,
    leg: Vec<i32>,
    timeout_secs: Vec<Option<i64>>,
    pending_id: Vec<Option<Uuid>>,
    original_id: Vec<Option<Uuid>>,
    metadata: Vec<Value>,
    after: [Vec<i64>; 8],
}

/// Binds the eight balance-after columns (debit account's four sums, then the credit
/// account's) that transfers and expirations both store.
macro_rules! bind_balances_after {
    ($query:expr, $after:expr) => {{
        let [a0, a1, a2, a3, a4, a5, a6, a7] = $after;
        $query
            .bind::<Array<BigInt>, _>(a0)
            .bind::<Array<BigInt>, _>(a1)
            .bind::<Array<BigInt>, _>(a2)
            .bind::<Array<BigInt>, _>(a3)
            .bind::<Array<BigInt>, _>(a4)
            .bind::<Array<BigInt>, _>(a5)
            .bind::<Array<BigInt>, _>(a6)
            .bind::<Array<BigInt>, _>(a7)
    }};
}

fn balance_parts(balance: &Balance) -> [i64; 4] {
    [
        balance.debits_pending,
        balance.debits_posted,
        balance.credits_pending,
        balance.credits_posted,
    ]
}

fn push_after(columns: &mut [Vec<i64>; 8], debit: &Balance, credit: &Balance) {
    let values = balance_parts(debit)
        .into_iter()
        .chain(balance_parts(credit));
    for (column, value) in columns.iter_mut().zip(values) {
        column.push(value);
    }
}

fn persist(
    conn: &mut PgConnection,
    state: &LedgerState,
    effects: &[Effects],
    failed_at: &[i64],
) -> Result<(), TxError> {
    let mut transfers = TransferColumns::default();
    let mut pending: BTreeMap<Uuid, (PendingState, Option<Timestamp>)> = BTreeMap::new();
    let mut reversals: BTreeMap<Uuid, i64> = BTreeMap::new();
    let mut balances: BTreeMap<Uuid, Balance> = BTreeMap::new();
    let mut failures: Vec<(Uuid, Value, &'static str, i64)> = Vec::new();
    let mut expirations = ExpirationColumns::default();

    for (effect, failed_at) in effects.iter().zip(failed_at) {
        for (id, failure) in &effect.failures {
            failures.push((
                id.as_uuid(),
                codec::request_to_json(&failure.request),
                failure.error.code(),
                *failed_at,
            ));
        }
        let Some(timestamp) = effect.timestamp else {
            continue;
        };
        for (leg, posting) in effect.transfers.iter().enumerate() {
            let transfer = &posting.transfer;
            transfers.id.push(transfer.id.as_uuid());
            transfers.kind.push(codec::kind_name(transfer.kind));
            transfers.debit.push(transfer.debit_account_id.as_uuid());
            transfers.credit.push(transfer.credit_account_id.as_uuid());
            transfers.amount.push(transfer.amount.minor());
            transfers.currency.push(transfer.amount.currency().code());
            transfers.ts.push(transfer.timestamp.as_micros());
            transfers.leg.push(i32::try_from(leg).unwrap_or(i32::MAX));
            let (timeout, pending_ref, original_ref) = match transfer.kind {
                TransferKind::Pending { timeout_secs } => {
                    (Some(i64::from(timeout_secs)), None, None)
                }
                TransferKind::PostPending { pending_id }
                | TransferKind::VoidPending { pending_id } => {
                    (None, Some(pending_id.as_uuid()), None)
                }
                TransferKind::Reversal { original_id } => (None, None, Some(original_id.as_uuid())),
                TransferKind::Direct => (None, None, None),
            };
            transfers.timeout_secs.push(timeout);
            transfers.pending_id.push(pending_ref);
            transfers.original_id.push(original_ref);
            transfers
                .metadata
                .push(codec::metadata_to_json(&transfer.metadata));
            push_after(
                &mut transfers.after,
                &posting.debit_after,
                &posting.credit_after,
            );
        }
        for (seq, expiration) in effect.expired.iter().enumerate() {
            expirations.pending_id.push(expiration.pending_id.as_uuid());
            expirations.ts.push(timestamp.as_micros());
            expirations.seq.push(i32::try_from(seq).unwrap_or(i32::MAX));
            expirations
                .debit
                .push(expiration.debit_account_id.as_uuid());
            expirations
                .credit
                .push(expiration.credit_account_id.as_uuid());
            expirations.amount.push(expiration.amount);
            push_after(
                &mut expirations.after,
                &expiration.debit_after,
                &expiration.credit_after,
            );
        }
        for (id, pending_state) in &effect.pending_states {
            let resolved_at = (*pending_state != PendingState::Open).then_some(timestamp);
            pending.insert(id.as_uuid(), (*pending_state, resolved_at));
        }
        for (id, total) in &effect.reversed_totals {
            reversals.insert(id.as_uuid(), *total);
        }
        for (id, balance) in &effect.balances {
            balances.insert(id.as_uuid(), *balance);
        }
    }
    insert_transfers(conn, &transfers)?;
    upsert_pending(conn, state, &pending)?;
    insert_expirations(conn, &expirations)?;
    upsert_reversals(conn, &reversals)?;
    insert_failures(conn, &failures)?;
    update_balances(conn, &balances)?;
    Ok(())
}

fn insert_transfers(conn: &mut PgConnection, c: &TransferColumns) -> QueryResult<()> {
    if c.id.is_empty() {
        return Ok(());
    }
    // raw SQL: INSERT ... SELECT * FROM unnest($1::uuid[], ...), one statement per group
    let query = sql_query(
        "INSERT INTO ledger_transfers (id, kind, debit_account_id, credit_account_id, amount, \
         currency, ts, leg, timeout_secs, pending_id, original_id, metadata, \
         debit_after_debits_pending, debit_after_debits_posted, debit_after_credits_pending, \
         debit_after_credits_posted, credit_after_debits_pending, credit_after_debits_posted, \
         credit_after_credits_pending, credit_after_credits_posted) \
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::int8[], \
         $6::text[], $7::int8[], $8::int4[], $9::int8[], $10::uuid[], $11::uuid[], $12::jsonb[], \
         $13::int8[], $14::int8[], $15::int8[], $16::int8[], $17::int8[], $18::int8[], \
         $19::int8[], $20::int8[])",
    )
    .bind::<Array<SqlUuid>, _>(&c.id)
    .bind::<Array<Text>, _>(&c.kind)
    .bind::<Array<SqlUuid>, _>(&c.debit)
    .bind::<Array<SqlUuid>, _>(&c.credit)
    .bind::<Array<BigInt>, _>(&c.amount)
    .bind::<Array<Text>, _>(&c.currency)
    .bind::<Array<BigInt>, _>(&c.ts)
    .bind::<Array<Integer>, _>(&c.leg)
    .bind::<Array<Nullable<BigInt>>, _>(&c.timeout_secs)
    .bind::<Array<Nullable<SqlUuid>>, _>(&c.pending_id)
    .bind::<Array<Nullable<SqlUuid>>, _>(&c.original_id)
    .bind::<Array<Jsonb>, _>(&c.metadata);
    bind_balances_after!(query, &c.after)
        .execute(conn)
        .map(|_| ())
}

#[derive(Default)]
struct ExpirationColumns {
    pending_id: Vec<Uuid>,
    ts: Vec<i64>,
    seq: Vec<i32>,
    debit: Vec<Uuid>,
    credit: Vec<Uuid>,
    amount: Vec<i64>,
    after: [Vec<i64>; 8],
}

fn insert_expirations(conn: &mut PgConnection, c: &ExpirationColumns) -> QueryResult<()> {
    if c.pending_id.is_empty() {
        return Ok(());
    }
    // raw SQL: INSERT ... SELECT * FROM unnest($1::uuid[], ...), one statement per group
    let query = sql_query(
        "INSERT INTO ledger_expirations (pending_id, ts, seq, debit_account_id, credit_account_id, \
         amount, debit_after_debits_pending, debit_after_debits_posted, \
         debit_after_credits_pending, debit_after_credits_posted, credit_after_debits_pending, \
         credit_after_debits_posted, credit_after_credits_pending, credit_after_credits_posted) \
         SELECT * FROM unnest($1::uuid[], $2::int8[], $3::int4[], $4::uuid[], $5::uuid[], \
         $6::int8[], $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::int8[], $12::int8[], \
         $13::int8[], $14::int8[])",
    )
    .bind::<Array<SqlUuid>, _>(&c.pending_id)
    .bind::<Array<BigInt>, _>(&c.ts)
    .bind::<Array<Integer>, _>(&c.seq)
    .bind::<Array<SqlUuid>, _>(&c.debit)
    .bind::<Array<SqlUuid>, _>(&c.credit)
    .bind::<Array<BigInt>, _>(&c.amount);
    bind_balances_after!(query, &c.after)
        .execute(conn)
        .map(|_| ())
}

fn upsert_pending(
    conn: &mut PgConnection,
    state: &LedgerState,
    pending: &BTreeMap<Uuid, (PendingState, Option<Timestamp>)>,
) -> Result<(), TxError> {
    if pending.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(pending.len());
    let mut expires_at = Vec::with_capacity(pending.len());
    let mut states = Vec::with_capacity(pending.len());
    let mut resolved_by = Vec::with_capacity(pending.len());
    let mut posted_amount = Vec::with_capacity(pending.len());
    let mut resolved_at = Vec::with_capacity(pending.len());
    for (id, (pending_state, at)) in pending {
        let expiry = state
            .transfer(TransferId::from_uuid(*id))
            .and_then(Transfer::expires_at)
            .ok_or_else(|| {
                TxError::Corrupt(bazaar_ledger::StoreError::Internal(format!(
                    "pending state for {id} without its pending transfer"
                )))
            })?;
        ids.push(*id);
        expires_at.push(expiry.as_micros());
        states.push(codec::pending_state_name(*pending_state));
        let (by, amount) = match pending_state {
            PendingState::Posted { by, amount } => (Some(by.as_uuid()), Some(*amount)),
            PendingState::Voided { by } => (Some(by.as_uuid()), None),
            PendingState::Open | PendingState::Expired { .. } => (None, None),
        };
        resolved_by.push(by);
        posted_amount.push(amount);
        resolved_at.push(at.map(Timestamp::as_micros));
    }
    // raw SQL: INSERT ... SELECT FROM unnest, ON CONFLICT ... DO UPDATE from excluded
    sql_query(
        "INSERT INTO ledger_pending (id, expires_at, state, resolved_by, posted_amount, resolved_at) \
         SELECT * FROM unnest($1::uuid[], $2::int8[], $3::text[], $4::uuid[], $5::int8[], $6::int8[]) \
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, resolved_by = excluded.resolved_by, \
         posted_amount = excluded.posted_amount, resolved_at = excluded.resolved_at",
    )
    .bind::<Array<SqlUuid>, _>(&ids)
    .bind::<Array<BigInt>, _>(&expires_at)
    .bind::<Array<Text>, _>(&states)
    .bind::<Array<Nullable<SqlUuid>>, _>(&resolved_by)
    .bind::<Array<Nullable<BigInt>>, _>(&posted_amount)
    .bind::<Array<Nullable<BigInt>>, _>(&resolved_at)
    .execute(conn)?;
    Ok(())
}

fn upsert_reversals(conn: &mut PgConnection, reversals: &BTreeMap<Uuid, i64>) -> QueryResult<()> {
    if reversals.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = reversals.keys().copied().collect();
    let totals: Vec<i64> = reversals.values().copied().collect();
    // raw SQL: INSERT ... SELECT FROM unnest, ON CONFLICT ... DO UPDATE from excluded
    sql_query(
        "INSERT INTO ledger_reversals (original_id, reversed_total) \
         SELECT * FROM unnest($1::uuid[], $2::int8[]) \
         ON CONFLICT (original_id) DO UPDATE SET reversed_total = excluded.reversed_total",
    )
    .bind::<Array<SqlUuid>, _>(&ids)
    .bind::<Array<BigInt>, _>(&totals)
    .execute(conn)
    .map(|_| ())
}

fn insert_failures(
    conn: &mut PgConnection,
    failures: &[(Uuid, Value, &'static str, i64)],
) -> QueryResult<()> {
    if failures.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = failures.iter().map(|f| f.0).collect();
    let requests: Vec<Value> = failures.iter().map(|f| f.1.clone()).collect();
    let errors: Vec<&str> = failures.iter().map(|f| f.2).collect();
    let at: Vec<i64> = failures.iter().map(|f| f.3).collect();
    // raw SQL: INSERT ... SELECT * FROM unnest($1::uuid[], ...), one statement per group
    sql_query(
        "INSERT INTO ledger_failures (id, request, error, failed_at) \
         SELECT * FROM unnest($1::uuid[], $2::jsonb[], $3::text[], $4::int8[]) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind::<Array<SqlUuid>, _>(&ids)
    .bind::<Array<Jsonb>, _>(&requests)
    .bind::<Array<Text>, _>(&errors)
    .bind::<Array<BigInt>, _>(&at)
    .execute(conn)
    .map(|_| ())
}

/// Writes each touched account's final balance: one row update per account per group, however
/// many transfers of the group touched it.
fn update_balances(conn: &mut PgConnection, balances: &BTreeMap<Uuid, Balance>) -> QueryResult<()> {
    if balances.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = balances.keys().copied().collect();
    let mut parts: [Vec<i64>; 4] = Default::default();
    for balance in balances.values() {
        for (column, value) in parts.iter_mut().zip(balance_parts(balance)) {
            column.push(value);
        }
    }
    let [
        debits_pending,
        debits_posted,
        credits_pending,
        credits_posted,
    ] = &parts;
    // raw SQL: UPDATE ... FROM unnest(...) AS v; the builder cannot update from another relation
    sql_query(
        "UPDATE ledger_accounts AS a SET debits_pending = v.dp, debits_posted = v.dpo, \
         credits_pending = v.cp, credits_posted = v.cpo \
         FROM unnest($1::uuid[], $2::int8[], $3::int8[], $4::int8[], $5::int8[]) AS v(id, dp, dpo, cp, cpo) \
         WHERE a.id = v.id",
    )
    .bind::<Array<SqlUuid>, _>(&ids)
    .bind::<Array<BigInt>, _>(debits_pending)
    .bind::<Array<BigInt>, _>(debits_posted)
    .bind::<Array<BigInt>, _>(credits_pending)
    .bind::<Array<BigInt>, _>(credits_posted)
    .execute(conn)
    .map(|_| ())
}

fn insert_accounts(conn: &mut PgConnection, accounts: &[Account]) -> QueryResult<()> {
    let ids: Vec<Uuid> = accounts.iter().map(|a| a.id.as_uuid()).collect();
    let currencies: Vec<&str> = accounts.iter().map(|a| a.currency.code()).collect();
    let codes: Vec<&str> = accounts.iter().map(|a| a.code.as_str()).collect();
    let owners: Vec<&str> = accounts.iter().map(|a| a.owner.as_str()).collect();
    let sides: Vec<&str> = accounts
        .iter()
        .map(|a| codec::side_name(a.normal_side))
        .collect();
    let constraints: Vec<(&str, i64)> = accounts
        .iter()
        .map(|a| codec::constraint_columns(a.constraint))
        .collect();
    let names: Vec<&str> = constraints.iter().map(|c| c.0).collect();
    let overdrafts: Vec<i64> = constraints.iter().map(|c| c.1).collect();
    let created: Vec<i64> = accounts.iter().map(|a| a.created_at.as_micros()).collect();
    // raw SQL: INSERT ... SELECT * FROM unnest($1::uuid[], ...), one statement per group
    sql_query(
        "INSERT INTO ledger_accounts (id, currency, code, owner, normal_side, balance_constraint, \
         overdraft, created_at) \
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], \
         $6::text[], $7::int8[], $8::int8[])",
    )
    .bind::<Array<SqlUuid>, _>(&ids)
    .bind::<Array<Text>, _>(&currencies)
    .bind::<Array<Text>, _>(&codes)
    .bind::<Array<Text>, _>(&owners)
    .bind::<Array<Text>, _>(&sides)
    .bind::<Array<Text>, _>(&names)
    .bind::<Array<BigInt>, _>(&overdrafts)
    .bind::<Array<BigInt>, _>(&created)
    .execute(conn)
    .map(|_| ())
}
