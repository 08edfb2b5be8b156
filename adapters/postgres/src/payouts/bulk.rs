//! Payouts read and written many at a time, for the payout run's pages.

use bazaar_domain::chart::SellerId;
use bazaar_domain::payouts::{
    BankAccount, BankAccountState, LedgerChange, Payout, PayoutId, PayoutStoreError,
};
use bazaar_ledger::Timestamp;
use bazaar_money::Currency;
use bazaar_schema::schema::{bank_accounts, payouts};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use uuid::Uuid;

use super::AccountRow;
use super::runs::PayoutRow;
use crate::commerce::Fail;

type Result<T> = std::result::Result<T, Fail<PayoutStoreError>>;

pub(super) fn payouts_by_ids(conn: &mut PgConnection, ids: &[PayoutId]) -> Result<Vec<Payout>> {
    let ids: Vec<Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
    let rows: Vec<PayoutRow> = payouts::table
        .filter(payouts::id.eq_any(&ids))
        .select(PayoutRow::as_select())
        .load(conn)?;
    rows.into_iter().map(PayoutRow::view).collect()
}

pub(super) fn payable_accounts(
    conn: &mut PgConnection,
    sellers: &[(SellerId, Currency)],
) -> Result<Vec<BankAccount>> {
    let ids: Vec<Uuid> = sellers.iter().map(|(seller, _)| seller.as_uuid()).collect();
    let rows: Vec<AccountRow> = bank_accounts::table
        .filter(bank_accounts::seller_id.eq_any(&ids))
        .filter(bank_accounts::state.eq(BankAccountState::Verified.as_str()))
        .order((
            bank_accounts::seller_id,
            bank_accounts::created_at,
            bank_accounts::id,
        ))
        .select(AccountRow::as_select())
        .load(conn)?;
    let mut chosen: Vec<BankAccount> = Vec::new();
    for row in &rows {
        let account = row.view()?;
        let wanted = sellers
            .iter()
            .any(|(seller, currency)| *seller == account.seller && *currency == account.currency);
        let taken = chosen
            .iter()
            .any(|c| c.seller == account.seller && c.currency == account.currency);
        if wanted && !taken {
            chosen.push(account);
        }
    }
    Ok(chosen)
}

pub(super) fn ledger_posted_many(
    conn: &mut PgConnection,
    ids: &[PayoutId],
    change: LedgerChange,
    now: Timestamp,
) -> Result<()> {
    let Some(name) = change.as_str() else {
        return Ok(());
    };
    let ids: Vec<Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
    diesel::update(
        payouts::table
            .filter(payouts::id.eq_any(&ids))
            .filter(payouts::ledger_due.eq(name)),
    )
    .set((
        payouts::ledger_due.eq(None::<&str>),
        payouts::updated_at.eq(now.as_micros()),
    ))
    .execute(conn)?;
    Ok(())
}
