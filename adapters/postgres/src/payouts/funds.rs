//! Instant payouts' money on PostgreSQL: sellers' settled card funds and the instant payouts
//! taken from them.

use bazaar_domain::chart::SellerId;
use bazaar_domain::payouts::{PayoutKind, PayoutStoreError, SettledCardFunds};
use bazaar_ledger::Timestamp;
use bazaar_money::{Currency, Money};
use bazaar_schema::schema::{payout_card_settlements, payouts};
use diesel::pg::PgConnection;
use diesel::prelude::*;

use super::runs::{corrupt, home_region};
use crate::commerce::Fail;

type Result<T> = std::result::Result<T, Fail<PayoutStoreError>>;

pub(super) fn instant_taken(
    conn: &mut PgConnection,
    seller: SellerId,
    currency: Currency,
    from: Timestamp,
    to: Timestamp,
) -> Result<Money> {
    let amounts: Vec<i64> = payouts::table
        .filter(payouts::seller_id.eq(seller.as_uuid()))
        .filter(payouts::currency.eq(currency.code()))
        .filter(payouts::kind.eq(PayoutKind::Instant.as_str()))
        .filter(payouts::state.ne_all(["failed", "canceled"]))
        .filter(payouts::created_at.ge(from.as_micros()))
        .filter(payouts::created_at.lt(to.as_micros()))
        .select(payouts::amount_minor)
        .load(conn)?;
    let total = amounts
        .into_iter()
        .try_fold(0_i64, i64::checked_add)
        .ok_or_else(|| corrupt("instant total"))?;
    Ok(Money::from_minor(total, currency))
}

pub(super) fn record_card_funds(
    conn: &mut PgConnection,
    funds: &[SettledCardFunds],
    now: Timestamp,
) -> Result<()> {
    for share in funds {
        let region = home_region(conn, share.seller)?;
        diesel::insert_into(payout_card_settlements::table)
            .values((
                payout_card_settlements::payment_id.eq(share.payment.as_uuid()),
                payout_card_settlements::seller_id.eq(share.seller.as_uuid()),
                payout_card_settlements::currency.eq(share.amount.currency().code()),
                payout_card_settlements::amount_minor.eq(share.amount.minor().max(0)),
                payout_card_settlements::settled_at.eq(now.as_micros()),
                payout_card_settlements::home_region.eq(region),
            ))
            .on_conflict((
                payout_card_settlements::payment_id,
                payout_card_settlements::seller_id,
            ))
            .do_nothing()
            .execute(conn)?;
    }
    Ok(())
}

/// The seller's settled card funds less its instant payouts and their fees (not failed or
/// canceled), at least zero.
pub(super) fn instant_eligible(
    conn: &mut PgConnection,
    seller: SellerId,
    currency: Currency,
) -> Result<Money> {
    let settled: Vec<i64> = payout_card_settlements::table
        .filter(payout_card_settlements::seller_id.eq(seller.as_uuid()))
        .filter(payout_card_settlements::currency.eq(currency.code()))
        .select(payout_card_settlements::amount_minor)
        .load(conn)?;
    let taken: Vec<(i64, Option<i64>)> = payouts::table
        .filter(payouts::seller_id.eq(seller.as_uuid()))
        .filter(payouts::currency.eq(currency.code()))
        .filter(payouts::kind.eq(PayoutKind::Instant.as_str()))
        .filter(payouts::state.ne_all(["failed", "canceled"]))
        .select((payouts::amount_minor, payouts::fee_minor))
        .load(conn)?;
    let settled = settled
        .into_iter()
        .try_fold(0_i64, i64::checked_add)
        .ok_or_else(|| corrupt("settled card funds"))?;
    let taken = taken
        .into_iter()
        .try_fold(0_i64, |sum, (amount, fee)| {
            sum.checked_add(amount)?.checked_add(fee.unwrap_or(0))
        })
        .ok_or_else(|| corrupt("instant total"))?;
    Ok(Money::from_minor(
        settled.saturating_sub(taken).max(0),
        currency,
    ))
}
