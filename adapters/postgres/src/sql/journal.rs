//! The journal: a group of submissions committed as one row, applied to the ledger's tables
//! behind it.
//!
//! A writer that owns the ledger (named in the clock row's `writer`, having written the
//! journal up to `journal_seq`) keeps the rows it touched in memory and commits each group as
//! one `ledger_journal` row: the clock before it, the time, and the batches. The rows are
//! applied to the tables afterwards, in order, by replaying each group's batches through the
//! same rules from the same clock ([`materialise`]): the rules are deterministic, so the
//! tables end exactly as if the group had been written to them directly, and the replay
//! checks that it accepted as many batches as the writer did. Every read first applies what
//! is still waiting ([`catch_up`]), so no read misses an acknowledged write.
//!
//! Fencing: a journal row is written only if the clock row still names this writer at the
//! sequence number it last wrote (a conditional `UPDATE`, atomic on the row's lock). A writer
//! through the tables ([`super::commit_group`]) first applies the whole journal and then names
//! itself, so a writer whose memory is stale can never append after it.

use bazaar_ledger::{LedgerState, TransferId, TransferRequest};
use bazaar_schema::schema::{ledger_applied, ledger_journal};
use diesel::sql_types::Nullable;

use super::*;

/// The clock row, locked, with how far the tables have caught up with the journal.
#[derive(QueryableByName, Debug)]
pub(crate) struct ClockRow {
    #[diesel(sql_type = BigInt)]
    pub(crate) last_ts: i64,
    #[diesel(sql_type = BigInt)]
    pub(crate) journal_seq: i64,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub(crate) writer: Option<Uuid>,
    #[diesel(sql_type = BigInt)]
    pub(crate) applied_seq: i64,
}

/// Creates the applied mark if it is missing. Run once at start, outside any DDL.
pub(crate) fn ensure_applied(conn: &mut PgConnection) -> QueryResult<()> {
    diesel::insert_into(ledger_applied::table)
        .values((ledger_applied::id.eq(true), ledger_applied::seq.eq(0_i64)))
        .on_conflict(ledger_applied::id)
        .do_nothing()
        .execute(conn)
        .map(|_| ())
}

/// Locks the clock row (every writer takes it first) and reads the applied mark with it.
pub(crate) fn lock_clock(conn: &mut PgConnection) -> Result<ClockRow, TxError> {
    // raw SQL: one round trip reads both rows and locks only the clock's (FOR UPDATE OF c)
    let row: Option<ClockRow> = sql_query(
        "SELECT c.last_ts, c.journal_seq, c.writer, a.seq AS applied_seq \
         FROM ledger_clock AS c, ledger_applied AS a WHERE c.id AND a.id FOR UPDATE OF c",
    )
    .get_result(conn)
    .optional()?;
    row.ok_or_else(|| {
        TxError::Corrupt(bazaar_ledger::StoreError::Internal(
            "ledger clock row missing".to_owned(),
        ))
    })
}

/// The journal's head and the applied mark, unlocked.
fn heads(conn: &mut PgConnection) -> QueryResult<(i64, i64)> {
    ledger_clock::table
        .inner_join(ledger_applied::table.on(ledger_applied::id))
        .filter(ledger_clock::id)
        .select((ledger_clock::journal_seq, ledger_applied::seq))
        .first(conn)
}

/// The most journal rows one transaction applies.
pub(crate) const APPLY_ROWS_MAX: i64 = 256;

/// Applies the journal rows after the applied mark, up to `up_to` and at most `rows_max` of
/// them, to the ledger's tables, and deletes them. Returns the new mark. Runs inside the
/// caller's transaction; the applied mark's lock keeps two appliers from replaying the same
/// row.
pub(crate) fn materialise(
    conn: &mut PgConnection,
    up_to: i64,
    rows_max: i64,
) -> Result<i64, TxError> {
    let applied: i64 = ledger_applied::table
        .filter(ledger_applied::id)
        .select(ledger_applied::seq)
        .for_update()
        .first(conn)?;
    if applied >= up_to {
        return Ok(applied);
    }
    let rows: Vec<(i64, i64, i64, i32, Vec<u8>)> = ledger_journal::table
        .filter(ledger_journal::seq.gt(applied))
        .filter(ledger_journal::seq.le(up_to))
        .order(ledger_journal::seq)
        .limit(rows_max)
        .select((
            ledger_journal::seq,
            ledger_journal::prev_ts,
            ledger_journal::now_ts,
            ledger_journal::accepted,
            ledger_journal::body,
        ))
        .load(conn)?;
    let mut mark = applied;
    let mut works = Vec::with_capacity(rows.len());
    for (seq, _, _, _, body) in &rows {
        if *seq != mark.saturating_add(1) {
            return Err(corrupt(format!(
                "ledger journal row {seq} follows {mark}: a row is missing"
            )));
        }
        let work: Vec<Work> = codec::body::decode(body)?
            .into_iter()
            .map(Work::Submit)
            .collect();
        works.push(work);
        mark = *seq;
    }
    let segments: Vec<Segment<'_>> = rows
        .iter()
        .zip(&works)
        .map(|((_, prev_ts, now_ts, _, _), work)| Segment {
            last: Timestamp::from_micros(*prev_ts),
            now: Timestamp::from_micros(*now_ts),
            work,
        })
        .collect();
    let (answers, _) = apply_segments(conn, &segments, 0)?;
    for ((seq, _, _, accepted, _), answers) in rows.iter().zip(&answers) {
        let replayed = accepted_count(answers);
        if i64::from(*accepted) != replayed {
            tracing::error!(
                seq,
                accepted,
                replayed,
                "the ledger journal's replay disagrees with what its writer answered"
            );
            return Err(corrupt(format!(
                "ledger journal row {seq}: {replayed} batches accepted on replay, {accepted} when written"
            )));
        }
    }
    if mark > applied {
        diesel::update(ledger_applied::table.filter(ledger_applied::id))
            .set(ledger_applied::seq.eq(mark))
            .execute(conn)?;
        diesel::delete(ledger_journal::table.filter(ledger_journal::seq.le(mark))).execute(conn)?;
    }
    Ok(mark)
}

/// Applies journal rows until the applied mark reaches `up_to`, inside the caller's
/// transaction.
pub(crate) fn materialise_to(conn: &mut PgConnection, up_to: i64) -> Result<(), TxError> {
    let mut applied = i64::MIN;
    loop {
        let mark = materialise(conn, up_to, APPLY_ROWS_MAX)?;
        if mark >= up_to {
            return Ok(());
        }
        if mark <= applied {
            return Err(corrupt(format!(
                "ledger journal stops at {mark}, short of its head {up_to}"
            )));
        }
        applied = mark;
    }
}

/// Reruns of a catch-up step that conflicted, before the read gives up.
const CONFLICTS_MAX: u32 = 5;

/// Brings the ledger's tables up to the journal's head as of now, so that a read that
/// follows sees every acknowledged write. One unlocked read when nothing is waiting.
pub(crate) fn catch_up(conn: &mut PgConnection) -> Result<(), TxError> {
    let (head, mut applied) = heads(conn)?;
    let mut conflicts = 0_u32;
    while applied < head {
        let step = conn
            .build_transaction()
            .read_committed()
            .run(|tx| materialise(tx, head, APPLY_ROWS_MAX));
        let mark = match step {
            // CockroachDB runs READ COMMITTED as SERIALIZABLE unless the cluster enables it,
            // and may then ask for a rerun.
            Err(TxError::Db(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::SerializationFailure,
                _,
            ))) if conflicts < CONFLICTS_MAX => {
                conflicts = conflicts.saturating_add(1);
                continue;
            }
            other => other?,
        };
        if mark <= applied {
            return Err(corrupt(format!(
                "ledger journal stops at {mark}, short of its head {head}"
            )));
        }
        applied = mark;
    }
    Ok(())
}

/// A group the rules have run on, ready to be committed.
pub(crate) struct Prepared {
    pub(crate) answers: Vec<Answer>,
    /// The journal row to write; `None` when the group changed nothing (every batch a repeat
    /// of one already stored, or refused without a failure to remember).
    pub(crate) row: Option<JournalRow>,
}

/// One group's journal row.
pub(crate) struct JournalRow {
    /// The row's sequence number; the writer's previous row is the one before it.
    pub(crate) seq: i64,
    /// The clock before the group and after it.
    prev_ts: i64,
    last_ts: i64,
    now_ts: i64,
    accepted: i32,
    body: Vec<u8>,
    /// Legs the rules took for new without reading the tables: the write checks that the
    /// tables hold none of them.
    fresh: Vec<Uuid>,
}

/// Runs a group of submissions on `state`, the writer's memory of every row that its journal
/// rows not yet applied have touched (and whatever else it has read), and makes the group's
/// journal row, to follow row `seq`. Rows the group needs and `state` lacks are read from the
/// tables, unlocked and outside any transaction: only this writer changes them, and
/// [`write`]'s fence proves it still is the writer. Legs `state` does not know are taken for
/// new without reading the tables; the write checks them. `state` is changed even when this fails
/// or the row is never written; the caller then drops it.
pub(crate) fn prepare(
    conn: &mut PgConnection,
    state: &mut LedgerState,
    seq: i64,
    batches: &[&[TransferRequest]],
    now: Timestamp,
) -> Result<Prepared, TxError> {
    let mut unverified = load_missing(conn, state, batches)?;
    let prev = state.last_timestamp();
    let (answers, changed) = loop {
        let mut answers = Vec::with_capacity(batches.len());
        let mut changed = false;
        for batch in batches {
            let (result, effect) = state.submit(batch, now);
            changed |= effect.timestamp.is_some() || !effect.failures.is_empty();
            answers.push(Answer::Submitted(result));
        }
        // A group that changed nothing left `state` as it was: if it took a leg the tables
        // hold for new, it runs again knowing it.
        if changed || unverified.is_empty() || !load_existing(conn, state, &unverified)? {
            break (answers, changed);
        }
        unverified.clear();
    };
    let row = changed.then(|| JournalRow {
        seq: seq.saturating_add(1),
        prev_ts: prev.as_micros(),
        last_ts: state.last_timestamp().as_micros(),
        now_ts: now.as_micros(),
        accepted: i32::try_from(accepted_count(&answers)).unwrap_or(i32::MAX),
        body: codec::body::encode(batches),
        fresh: unverified,
    });
    Ok(Prepared { answers, row })
}

/// Commits a journal row if `writer` still owns the ledger with its previous row the
/// journal's head and the tables hold none of the legs the rules took for new; returns
/// whether it did. One statement, its own transaction: the fence, the check and the append
/// together. A row written right after another on a second connection waits for
/// that one's commit (the clock row's lock) and is written only if that one was.
pub(crate) fn write(conn: &mut PgConnection, writer: Uuid, row: &JournalRow) -> QueryResult<bool> {
    // raw SQL: the fence and the append in one statement (a data-modifying CTE), so that
    // one round trip commits the group; nothing is inserted when the fence does not hold
    let written = sql_query(
        "WITH fence AS (UPDATE ledger_clock SET journal_seq = $1, last_ts = $2 \
         WHERE id AND journal_seq = $1 - 1 AND writer = $3 \
         AND NOT EXISTS (SELECT 1 FROM ledger_transfers WHERE id = ANY($8)) \
         AND NOT EXISTS (SELECT 1 FROM ledger_failures WHERE id = ANY($8)) \
         RETURNING journal_seq) \
         INSERT INTO ledger_journal (seq, prev_ts, now_ts, accepted, body) \
         SELECT journal_seq, $4, $5, $6, $7 FROM fence",
    )
    .bind::<BigInt, _>(row.seq)
    .bind::<BigInt, _>(row.last_ts)
    .bind::<SqlUuid, _>(writer)
    .bind::<BigInt, _>(row.prev_ts)
    .bind::<BigInt, _>(row.now_ts)
    .bind::<Integer, _>(row.accepted)
    .bind::<diesel::sql_types::Binary, _>(&row.body)
    .bind::<Array<SqlUuid>, _>(&row.fresh)
    .execute(conn)?;
    Ok(written == 1)
}

/// Reads into `state` what the batches refer to and it does not hold: the transfers they
/// post, void or reverse, and every account involved. Returns the legs `state` does not know:
/// taken as new, which the row's write checks ([`write`]), or [`load_existing`] when nothing
/// is written.
fn load_missing(
    conn: &mut PgConnection,
    state: &mut LedgerState,
    batches: &[&[TransferRequest]],
) -> Result<Vec<Uuid>, TxError> {
    let mut transfers = BTreeSet::new();
    let mut legs = BTreeSet::new();
    let mut accounts = BTreeSet::new();
    let mut account = |state: &LedgerState, id: bazaar_ledger::AccountId| {
        if state.account(id).is_none() {
            accounts.insert(id.as_uuid());
        }
    };
    let unknown = |state: &LedgerState, id: TransferId| state.transfer(id).is_none();
    for request in batches.iter().flat_map(|batch| batch.iter()) {
        if unknown(state, request.id) && state.failure(request.id).is_none() {
            legs.insert(request.id.as_uuid());
        }
        match refers_to(request) {
            Refers::Accounts(debit, credit) => {
                account(state, debit);
                account(state, credit);
            }
            Refers::Transfer(referenced) => {
                if unknown(state, referenced) {
                    transfers.insert(referenced.as_uuid());
                }
            }
        }
    }
    for (transfer, pending, reversed) in load_transfers(conn, &uuids(transfers))? {
        account(state, transfer.debit_account_id);
        account(state, transfer.credit_account_id);
        state.load_transfer(transfer, pending, reversed);
    }
    for (account, balance) in load_accounts(conn, &uuids(accounts), false)? {
        state.load_account(account, balance);
    }
    Ok(uuids(legs))
}

/// Which of `legs` the tables hold, as transfers or remembered failures; reads those into
/// `state`.
fn load_existing(
    conn: &mut PgConnection,
    state: &mut LedgerState,
    legs: &[Uuid],
) -> Result<bool, TxError> {
    // raw SQL: UNION ALL of two existence probes over one bound array
    let found: Vec<Uuid> = sql_query(
        "SELECT id FROM ledger_transfers WHERE id = ANY($1) \
         UNION ALL SELECT id FROM ledger_failures WHERE id = ANY($1)",
    )
    .bind::<Array<SqlUuid>, _>(legs)
    .load::<Found>(conn)?
    .into_iter()
    .map(|row| row.id)
    .collect();
    for (transfer, pending, reversed) in load_transfers(conn, &found)? {
        state.load_transfer(transfer, pending, reversed);
    }
    load_failures(conn, &found, state)?;
    Ok(!found.is_empty())
}

#[derive(QueryableByName)]
struct Found {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

fn accepted_count(answers: &[Answer]) -> i64 {
    let accepted = answers
        .iter()
        .filter(|answer| matches!(answer, Answer::Submitted(Ok(_))))
        .count();
    i64::try_from(accepted).unwrap_or(i64::MAX)
}

fn corrupt(message: String) -> TxError {
    TxError::Corrupt(bazaar_ledger::StoreError::Internal(message))
}
