//! Reads of the ledger's history: an account's entries, its balance at an instant, and the
//! liveness probe.

use bazaar_schema::schema::ledger_accounts;

use super::*;

#[derive(QueryableByName)]
struct HistoryRow {
    #[diesel(sql_type = BigInt)]
    debits_pending: i64,
    #[diesel(sql_type = BigInt)]
    debits_posted: i64,
    #[diesel(sql_type = BigInt)]
    credits_pending: i64,
    #[diesel(sql_type = BigInt)]
    credits_posted: i64,
}

/// The account's balance after the last event at or before `at`, read from the balances
/// stored with each transfer and expiration; `None` if the account did not exist then.
pub(crate) fn balance_at(
    conn: &mut PgConnection,
    id: Uuid,
    at: Timestamp,
) -> Result<Option<Balance>, TxError> {
    let created: Option<i64> = ledger_accounts::table
        .find(id)
        .select(ledger_accounts::created_at)
        .first(conn)
        .optional()?;
    match created {
        Some(created) if created <= at.as_micros() => {}
        _ => return Ok(None),
    }
    let side = |table: &str, side: &str, order: &str| {
        format!(
            "(SELECT ts, {order} AS ord, {side}_after_debits_pending AS debits_pending, \
             {side}_after_debits_posted AS debits_posted, \
             {side}_after_credits_pending AS credits_pending, \
             {side}_after_credits_posted AS credits_posted \
             FROM {table} WHERE {side}_account_id = $1 AND ts <= $2 \
             ORDER BY ts DESC, {order} DESC LIMIT 1)"
        )
    };
    let query = format!(
        "SELECT debits_pending, debits_posted, credits_pending, credits_posted \
         FROM ({} UNION ALL {} UNION ALL {} UNION ALL {}) AS h ORDER BY ts DESC, ord DESC LIMIT 1",
        side("ledger_transfers", "debit", "leg"),
        side("ledger_transfers", "credit", "leg"),
        side("ledger_expirations", "debit", "seq"),
        side("ledger_expirations", "credit", "seq"),
    );
    // raw SQL: UNION ALL of four limited subqueries in FROM; column names built at run time
    let rows: Vec<HistoryRow> = sql_query(query)
        .bind::<SqlUuid, _>(id)
        .bind::<BigInt, _>(at.as_micros())
        .load(conn)?;
    Ok(Some(rows.first().map_or_else(Balance::default, |row| {
        Balance {
            debits_pending: row.debits_pending,
            debits_posted: row.debits_posted,
            credits_pending: row.credits_pending,
            credits_posted: row.credits_posted,
        }
    })))
}

/// Up to `limit` account ids above `after` (or from the first), ascending.
pub(crate) fn account_ids(
    conn: &mut PgConnection,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<bazaar_ledger::AccountId>, TxError> {
    let mut query = ledger_accounts::table
        .select(ledger_accounts::id)
        .order(ledger_accounts::id)
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(ledger_accounts::id.gt(after));
    }
    let ids: Vec<Uuid> = query.load(conn)?;
    Ok(ids
        .into_iter()
        .map(bazaar_ledger::AccountId::from_uuid)
        .collect())
}

/// One history entry as one query reads it: the transfer with its pending state and reversal
/// total (which history does not use), its leg, and the account's balance right after it.
#[derive(QueryableByName)]
struct AccountHistoryRow {
    #[diesel(embed)]
    transfer: TransferRow,
    #[diesel(sql_type = Integer)]
    leg: i32,
    #[diesel(sql_type = BigInt)]
    after_debits_pending: i64,
    #[diesel(sql_type = BigInt)]
    after_debits_posted: i64,
    #[diesel(sql_type = BigInt)]
    after_credits_pending: i64,
    #[diesel(sql_type = BigInt)]
    after_credits_posted: i64,
}

/// The account's transfers strictly before `before` (or all), newest first, at most `limit`.
///
/// Each side of the account (debit, credit) is read through its own history index, newest
/// first and cut to `limit`, so neither arm reads more than `limit` rows; the two arms are
/// merged and cut again, and only the rows kept are joined to their transfers' pending state
/// and reversal totals. A transfer never has one account on both sides, so no row is listed
/// twice.
pub(crate) fn history(
    conn: &mut PgConnection,
    account: Uuid,
    before: Option<crate::HistoryCursor>,
    limit: u32,
) -> Result<Vec<crate::HistoryEntry>, TxError> {
    let older = if before.is_some() {
        " AND (ts, leg) < ($3, $4)"
    } else {
        ""
    };
    let side = |side: &str| {
        format!(
            "(SELECT id, ts, leg, {side}_after_debits_pending AS after_debits_pending, \
             {side}_after_debits_posted AS after_debits_posted, \
             {side}_after_credits_pending AS after_credits_pending, \
             {side}_after_credits_posted AS after_credits_posted \
             FROM ledger_transfers WHERE {side}_account_id = $1{older} \
             ORDER BY ts DESC, leg DESC LIMIT $2)"
        )
    };
    let query = format!(
        "WITH h AS ({} UNION ALL {} ORDER BY ts DESC, leg DESC LIMIT $2) \
         SELECT x.*, h.leg, h.after_debits_pending, h.after_debits_posted, \
         h.after_credits_pending, h.after_credits_posted \
         FROM h JOIN ({TRANSFER_SELECT}) AS x ON x.id = h.id \
         ORDER BY h.ts DESC, h.leg DESC",
        side("debit"),
        side("credit"),
    );
    // raw SQL: WITH of UNION ALL arms joined to TRANSFER_SELECT; keyset (ts, leg) < ($3, $4)
    let query = sql_query(query)
        .bind::<SqlUuid, _>(account)
        .bind::<BigInt, _>(i64::from(limit));
    let rows: Vec<AccountHistoryRow> = match before {
        Some(cursor) => query
            .bind::<BigInt, _>(cursor.timestamp.as_micros())
            .bind::<Integer, _>(cursor.leg)
            .load(conn)?,
        None => query.load(conn)?,
    };
    rows.into_iter()
        .map(|row| {
            let (transfer, _, _) = row.transfer.into_domain()?;
            Ok(crate::HistoryEntry {
                transfer,
                leg: row.leg,
                balance_after: Balance {
                    debits_pending: row.after_debits_pending,
                    debits_posted: row.after_debits_posted,
                    credits_pending: row.after_credits_pending,
                    credits_posted: row.after_credits_posted,
                },
            })
        })
        .collect()
}

/// Whether the database answers at all.
pub(crate) fn ping(conn: &mut PgConnection) -> QueryResult<bool> {
    diesel::select(true.into_sql::<diesel::sql_types::Bool>()).get_result(conn)
}
