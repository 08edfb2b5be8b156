//! The payouts store on PostgreSQL: sellers' bank accounts, their details and micro-deposits
//! sealed under the secrets key and bound to the account id; payout settings, payouts and
//! the rail events applied (`runs.rs`).

mod bulk;
mod funds;
mod runs;

use bazaar_domain::chart::SellerId;
use bazaar_domain::fx::calendar::Date;
use bazaar_domain::payouts::{
    BANK_ACCOUNTS_MAX, BankAccount, BankAccountId, BankAccountState, BankDetails, BankDetailsKind,
    LedgerChange, NewBankAccount, NewPayout, Payout, PayoutId, PayoutMove, PayoutSchedule,
    PayoutSeller, PayoutSettings, PayoutState, PayoutStore, PayoutStoreError, Rail, RollingReserve,
    SettledCardFunds, VERIFY_ATTEMPTS_MAX, Verification, verification_after,
};
use bazaar_domain::store::{Page, PageCursor};
use bazaar_ledger::Timestamp;
use bazaar_money::{Currency, Money};
use bazaar_schema::schema::{bank_accounts, sellers};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use uuid::Uuid;

use crate::RetryPolicy;
use crate::commerce::{Db, Fail, Mode, StoreFailure};
use crate::sealed::SecretKeys;

type Result<T> = std::result::Result<T, Fail<PayoutStoreError>>;

impl StoreFailure for PayoutStoreError {
    fn unavailable() -> Self {
        Self::Unavailable
    }

    fn internal() -> Self {
        Self::Internal
    }
}

/// The payouts store. Cloning shares the pool.
#[derive(Clone)]
pub struct PostgresPayouts {
    pub(crate) db: Db,
    pub(crate) key: SecretKeys,
}

impl std::fmt::Debug for PostgresPayouts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresPayouts")
            .field("pool_size", &self.db.pool_size())
            .finish_non_exhaustive()
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = bank_accounts, check_for_backend(diesel::pg::Pg))]
pub(super) struct AccountRow {
    id: Uuid,
    seller_id: Uuid,
    currency: String,
    rail: String,
    kind: String,
    masked: String,
    holder_name: String,
    details_sealed: Vec<u8>,
    deposits_sealed: Vec<u8>,
    state: String,
    failed_attempts: i32,
    created_at: i64,
}

fn corrupt(what: &'static str) -> Fail<PayoutStoreError> {
    tracing::error!(what, "stored bank account does not read back");
    Fail::Domain(PayoutStoreError::Internal)
}

impl AccountRow {
    pub(super) fn view(&self) -> Result<BankAccount> {
        Ok(BankAccount {
            id: BankAccountId::from_uuid(self.id),
            seller: SellerId::from_uuid(self.seller_id),
            currency: Currency::from_code(self.currency.trim()).map_err(|_| corrupt("currency"))?,
            rail: Rail::parse(&self.rail).ok_or_else(|| corrupt("rail"))?,
            kind: BankDetailsKind::parse(&self.kind).ok_or_else(|| corrupt("kind"))?,
            masked: self.masked.clone(),
            holder_name: self.holder_name.clone(),
            state: BankAccountState::parse(&self.state).ok_or_else(|| corrupt("state"))?,
            failed_attempts: u32::try_from(self.failed_attempts).unwrap_or(0),
            created_at: Timestamp::from_micros(self.created_at),
        })
    }

    fn details(&self, key: &SecretKeys) -> Result<BankDetails> {
        let plain = key
            .open(&self.details_sealed, self.id.as_bytes())
            .map_err(|_| corrupt("details"))?;
        let text = String::from_utf8(plain).map_err(|_| corrupt("details"))?;
        BankDetails::from_sealable(&text).ok_or_else(|| corrupt("details"))
    }

    fn deposits(&self, key: &SecretKeys, currency: Currency) -> Result<[Money; 2]> {
        let plain = key
            .open(&self.deposits_sealed, self.id.as_bytes())
            .map_err(|_| corrupt("deposits"))?;
        let text = String::from_utf8(plain).map_err(|_| corrupt("deposits"))?;
        let amount = |part: Option<&str>| {
            part.and_then(|p| p.parse::<i64>().ok())
                .map(|minor| Money::from_minor(minor, currency))
                .ok_or_else(|| corrupt("deposits"))
        };
        let mut parts = text.split(',');
        Ok([amount(parts.next())?, amount(parts.next())?])
    }
}

fn seal(key: &SecretKeys, plain: &str, id: Uuid) -> Result<Vec<u8>> {
    key.seal(plain.as_bytes(), id.as_bytes()).map_err(|error| {
        tracing::error!(%error, "sealing bank details failed");
        Fail::Domain(PayoutStoreError::Internal)
    })
}

fn one_account(conn: &mut PgConnection, seller: SellerId, id: Uuid) -> Result<AccountRow> {
    bank_accounts::table
        .filter(bank_accounts::id.eq(id))
        .filter(bank_accounts::seller_id.eq(seller.as_uuid()))
        .select(AccountRow::as_select())
        .for_update()
        .first(conn)
        .optional()?
        .ok_or(Fail::Domain(PayoutStoreError::NotFound("bank account")))
}

fn add(
    conn: &mut PgConnection,
    key: &SecretKeys,
    new: &NewBankAccount,
    now: Timestamp,
) -> Result<BankAccount> {
    let id = new.id.as_uuid();
    // The seller's row is locked so that two concurrent additions count each other.
    let region: Option<String> = sellers::table
        .find(new.seller.as_uuid())
        .select(sellers::home_region)
        .for_update()
        .first(conn)
        .optional()?;
    let Some(region) = region else {
        return Err(Fail::Domain(PayoutStoreError::NotFound("seller")));
    };
    let existing: Option<AccountRow> = bank_accounts::table
        .find(id)
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?;
    if let Some(row) = existing {
        let same = row.seller_id == new.seller.as_uuid()
            && row.rail == new.rail.as_str()
            && row.details(key)? == new.details;
        return if same {
            row.view()
        } else {
            Err(Fail::Domain(PayoutStoreError::IdReused))
        };
    }
    let held: i64 = bank_accounts::table
        .filter(bank_accounts::seller_id.eq(new.seller.as_uuid()))
        .count()
        .get_result(conn)?;
    if usize::try_from(held).unwrap_or(usize::MAX) >= BANK_ACCOUNTS_MAX {
        return Err(Fail::Domain(PayoutStoreError::TooManyAccounts));
    }
    let [first, second] = new.deposits;
    let deposits = format!("{},{}", first.minor(), second.minor());
    let row: AccountRow = diesel::insert_into(bank_accounts::table)
        .values((
            bank_accounts::id.eq(id),
            bank_accounts::seller_id.eq(new.seller.as_uuid()),
            bank_accounts::currency.eq(new.rail.spec().currency.code()),
            bank_accounts::rail.eq(new.rail.as_str()),
            bank_accounts::kind.eq(new.details.kind().as_str()),
            bank_accounts::masked.eq(new.details.masked()),
            bank_accounts::holder_name.eq(&new.holder_name),
            bank_accounts::details_sealed.eq(seal(key, &new.details.to_sealable(), id)?),
            bank_accounts::deposits_sealed.eq(seal(key, &deposits, id)?),
            bank_accounts::state.eq(BankAccountState::Unverified.as_str()),
            bank_accounts::failed_attempts.eq(0),
            bank_accounts::created_at.eq(now.as_micros()),
            bank_accounts::updated_at.eq(now.as_micros()),
            bank_accounts::home_region.eq(&region),
        ))
        .returning(AccountRow::as_returning())
        .get_result(conn)?;
    tracing::info!(
        seller = %new.seller,
        account = %new.id,
        rail = new.rail.as_str(),
        masked = %row.masked,
        "bank account added"
    );
    row.view()
}

fn verify(
    conn: &mut PgConnection,
    key: &SecretKeys,
    seller: SellerId,
    id: Uuid,
    given: [i64; 2],
    now: Timestamp,
) -> Result<Verification> {
    let row = one_account(conn, seller, id)?;
    let account = row.view()?;
    if account.state != BankAccountState::Unverified {
        return Err(Fail::Domain(PayoutStoreError::NotVerifiable));
    }
    let sent = row.deposits(key, account.currency)?;
    let given = given.map(|minor| Money::from_minor(minor, account.currency));
    let (state, failed) = verification_after(sent, given, account.failed_attempts);
    let updated: AccountRow = diesel::update(bank_accounts::table.find(id))
        .set((
            bank_accounts::state.eq(state.as_str()),
            bank_accounts::failed_attempts.eq(i32::try_from(failed).unwrap_or(i32::MAX)),
            bank_accounts::updated_at.eq(now.as_micros()),
        ))
        .returning(AccountRow::as_returning())
        .get_result(conn)?;
    let account = updated.view()?;
    if state == BankAccountState::Verified {
        runs::resume_schedule(conn, seller, account.currency)?;
    }
    Ok(match state {
        BankAccountState::Verified => Verification::Verified(account),
        BankAccountState::Unverified | BankAccountState::Errored => Verification::Wrong {
            attempts_left: VERIFY_ATTEMPTS_MAX.saturating_sub(failed),
            account,
        },
    })
}

impl PostgresPayouts {
    /// A store with at most `pool_size` connections; `key` seals bank details (the vault's
    /// bank-details keyring, or a flat key).
    pub fn new(
        database_url: &str,
        pool_size: u32,
        retry: RetryPolicy,
        key: impl Into<SecretKeys>,
    ) -> Self {
        Self {
            db: Db::new(database_url, pool_size, retry),
            key: key.into(),
        }
    }

    /// Runs `work`, which opens sealed bank details. When a value named a key this process
    /// did not hold yet (another process sealed after a rotation), the keyring is read again
    /// and `work` runs once more.
    async fn opening<T: Send + 'static>(
        &self,
        operation: &'static str,
        mode: Mode,
        work: impl Fn(&mut PgConnection, &SecretKeys) -> Result<T> + Clone + Send + 'static,
    ) -> std::result::Result<T, PayoutStoreError> {
        let first = {
            let (work, key) = (work.clone(), self.key.ready_to_open(operation).await);
            self.db
                .run(operation, mode, move |conn| work(conn, &key))
                .await
        };
        if first.is_ok() || !self.key.is_stale() {
            return first;
        }
        // Read again now that a value named a key this process did not hold.
        let key = self.key.ready_to_seal().await?;
        self.db
            .run(operation, mode, move |conn| work(conn, &key))
            .await
    }
}

impl PayoutStore for PostgresPayouts {
    async fn add_bank_account(
        &self,
        account: NewBankAccount,
        now: Timestamp,
    ) -> std::result::Result<BankAccount, PayoutStoreError> {
        let key = self.key.ready_to_seal().await?;
        self.db
            .run("add_bank_account", Mode::Write, move |conn| {
                add(conn, &key, &account, now)
            })
            .await
    }

    async fn bank_accounts(
        &self,
        seller: SellerId,
    ) -> std::result::Result<Vec<BankAccount>, PayoutStoreError> {
        self.db
            .run("bank_accounts", Mode::Read, move |conn| {
                bank_accounts::table
                    .filter(bank_accounts::seller_id.eq(seller.as_uuid()))
                    .order((bank_accounts::created_at, bank_accounts::id))
                    .select(AccountRow::as_select())
                    .load::<AccountRow>(conn)?
                    .iter()
                    .map(AccountRow::view)
                    .collect()
            })
            .await
    }

    async fn verify_bank_account(
        &self,
        seller: SellerId,
        account: BankAccountId,
        given: [i64; 2],
        now: Timestamp,
    ) -> std::result::Result<Verification, PayoutStoreError> {
        self.opening("verify_bank_account", Mode::Write, move |conn, key| {
            verify(conn, key, seller, account.as_uuid(), given, now)
        })
        .await
    }

    async fn remove_bank_account(
        &self,
        seller: SellerId,
        account: BankAccountId,
    ) -> std::result::Result<(), PayoutStoreError> {
        self.db
            .run("remove_bank_account", Mode::Write, move |conn| {
                let removed = diesel::delete(
                    bank_accounts::table
                        .filter(bank_accounts::id.eq(account.as_uuid()))
                        .filter(bank_accounts::seller_id.eq(seller.as_uuid())),
                )
                .execute(conn)?;
                if removed == 0 {
                    return Err(Fail::Domain(PayoutStoreError::NotFound("bank account")));
                }
                Ok(())
            })
            .await
    }

    async fn settings(
        &self,
        seller: SellerId,
        currency: Currency,
    ) -> std::result::Result<PayoutSettings, PayoutStoreError> {
        self.db
            .run("payout_settings", Mode::Read, move |conn| {
                runs::settings(conn, seller, currency)
            })
            .await
    }

    async fn set_schedule(
        &self,
        seller: SellerId,
        schedule: PayoutSchedule,
        now: Timestamp,
    ) -> std::result::Result<PayoutSettings, PayoutStoreError> {
        self.db
            .run("set_payout_schedule", Mode::Write, move |conn| {
                runs::set_schedule(conn, seller, schedule, now)
            })
            .await
    }

    async fn set_reserve(
        &self,
        seller: SellerId,
        currency: Currency,
        reserve: Option<RollingReserve>,
        now: Timestamp,
    ) -> std::result::Result<PayoutSettings, PayoutStoreError> {
        self.db
            .run("set_reserve", Mode::Write, move |conn| {
                runs::set_reserve(conn, seller, currency, reserve, now)
            })
            .await
    }

    async fn set_first_capture(
        &self,
        seller: SellerId,
        currency: Currency,
        on: Date,
        now: Timestamp,
    ) -> std::result::Result<(), PayoutStoreError> {
        self.db
            .run("set_first_capture", Mode::Write, move |conn| {
                runs::set_first_capture(conn, seller, currency, on, now)
            })
            .await
    }

    async fn sellers(
        &self,
        after: Option<SellerId>,
        limit: u32,
    ) -> std::result::Result<Vec<PayoutSeller>, PayoutStoreError> {
        self.db
            .run("payout_sellers", Mode::Read, move |conn| {
                runs::sellers_page(conn, after, limit)
            })
            .await
    }

    async fn payable_account(
        &self,
        seller: SellerId,
        currency: Currency,
    ) -> std::result::Result<Option<BankAccount>, PayoutStoreError> {
        self.db
            .run("payable_account", Mode::Read, move |conn| {
                runs::payable_account(conn, seller, currency)
            })
            .await
    }

    async fn destination(
        &self,
        seller: SellerId,
        account: BankAccountId,
    ) -> std::result::Result<Option<(BankDetails, String)>, PayoutStoreError> {
        self.opening("payout_destination", Mode::Read, move |conn, key| {
            let row: Option<AccountRow> = bank_accounts::table
                .find(account.as_uuid())
                .filter(bank_accounts::seller_id.eq(seller.as_uuid()))
                .select(AccountRow::as_select())
                .first(conn)
                .optional()?;
            row.map(|row| Ok((row.details(key)?, row.holder_name.clone())))
                .transpose()
        })
        .await
    }

    async fn insert_payout(
        &self,
        payout: NewPayout,
        now: Timestamp,
    ) -> std::result::Result<Payout, PayoutStoreError> {
        self.db
            .run("insert_payout", Mode::Write, move |conn| {
                runs::insert_payout(conn, &payout, now)
            })
            .await
    }

    async fn payout(
        &self,
        seller: Option<SellerId>,
        id: PayoutId,
    ) -> std::result::Result<Option<Payout>, PayoutStoreError> {
        self.db
            .run("payout", Mode::Read, move |conn| {
                runs::payout(conn, seller, id)
            })
            .await
    }

    async fn payouts(
        &self,
        seller: SellerId,
        after: Option<PageCursor>,
        limit: u32,
    ) -> std::result::Result<Page<Payout>, PayoutStoreError> {
        self.db
            .run("payouts", Mode::Read, move |conn| {
                runs::payouts_page(conn, seller, after, limit)
            })
            .await
    }

    async fn payouts_with_work(
        &self,
        limit: u32,
    ) -> std::result::Result<Vec<Payout>, PayoutStoreError> {
        self.db
            .run("payouts_with_work", Mode::Read, move |conn| {
                runs::with_work(conn, limit)
            })
            .await
    }

    async fn move_payout(
        &self,
        id: PayoutId,
        from: PayoutState,
        change: PayoutMove,
        now: Timestamp,
    ) -> std::result::Result<Option<Payout>, PayoutStoreError> {
        self.db
            .run("move_payout", Mode::Write, move |conn| {
                runs::move_payout(conn, id, from, &change, now)
            })
            .await
    }

    async fn ledger_posted(
        &self,
        id: PayoutId,
        change: LedgerChange,
        now: Timestamp,
    ) -> std::result::Result<(), PayoutStoreError> {
        self.db
            .run("payout_ledger_posted", Mode::Write, move |conn| {
                bulk::ledger_posted_many(conn, &[id], change, now)
            })
            .await
    }

    async fn rail_cursor(&self) -> std::result::Result<Option<String>, PayoutStoreError> {
        self.db
            .run("rail_cursor", Mode::Read, runs::rail_cursor)
            .await
    }

    async fn set_rail_cursor(
        &self,
        event_id: String,
        now: Timestamp,
    ) -> std::result::Result<(), PayoutStoreError> {
        self.db
            .run("set_rail_cursor", Mode::Write, move |conn| {
                runs::set_rail_cursor(conn, &event_id, now)
            })
            .await
    }

    async fn instant_taken(
        &self,
        seller: SellerId,
        currency: Currency,
        from: Timestamp,
        to: Timestamp,
    ) -> std::result::Result<Money, PayoutStoreError> {
        self.db
            .run("instant_taken", Mode::Read, move |conn| {
                funds::instant_taken(conn, seller, currency, from, to)
            })
            .await
    }

    async fn record_settled_card_funds(
        &self,
        funds: Vec<SettledCardFunds>,
        now: Timestamp,
    ) -> std::result::Result<(), PayoutStoreError> {
        self.db
            .run("record_settled_card_funds", Mode::Write, move |conn| {
                funds::record_card_funds(conn, &funds, now)
            })
            .await
    }

    async fn instant_eligible(
        &self,
        seller: SellerId,
        currency: Currency,
    ) -> std::result::Result<Money, PayoutStoreError> {
        self.db
            .run("instant_eligible", Mode::Read, move |conn| {
                funds::instant_eligible(conn, seller, currency)
            })
            .await
    }

    async fn payouts_by_ids(
        &self,
        ids: Vec<PayoutId>,
    ) -> std::result::Result<Vec<Payout>, PayoutStoreError> {
        self.db
            .run("payouts_by_ids", Mode::Read, move |conn| {
                bulk::payouts_by_ids(conn, &ids)
            })
            .await
    }

    async fn payable_accounts(
        &self,
        sellers: Vec<(SellerId, Currency)>,
    ) -> std::result::Result<Vec<BankAccount>, PayoutStoreError> {
        self.db
            .run("payable_accounts", Mode::Read, move |conn| {
                bulk::payable_accounts(conn, &sellers)
            })
            .await
    }

    async fn insert_payouts(
        &self,
        payouts: Vec<NewPayout>,
        now: Timestamp,
    ) -> std::result::Result<Vec<Payout>, PayoutStoreError> {
        self.db
            // READ COMMITTED: each payout's correctness rests on its primary key (a second
            // insert of the same id fails and the retry finds it), on the row lock of the
            // seller's settings for an instant limit, and on row-level compare-and-set; the
            // predicate locks SERIALIZABLE adds to a page of inserts only make concurrent
            // pages conflict.
            .run("insert_payouts", Mode::Queue, move |conn| {
                payouts
                    .iter()
                    .map(|payout| runs::insert_payout(conn, payout, now))
                    .collect()
            })
            .await
    }

    async fn ledger_posted_many(
        &self,
        ids: Vec<PayoutId>,
        change: LedgerChange,
        now: Timestamp,
    ) -> std::result::Result<(), PayoutStoreError> {
        self.db
            .run("payout_ledger_posted_many", Mode::Queue, move |conn| {
                bulk::ledger_posted_many(conn, &ids, change, now)
            })
            .await
    }

    async fn destinations(
        &self,
        accounts: Vec<(SellerId, BankAccountId)>,
    ) -> std::result::Result<Vec<(BankAccountId, BankDetails, String)>, PayoutStoreError> {
        self.opening("payout_destinations", Mode::Read, move |conn, key| {
            let ids: Vec<Uuid> = accounts.iter().map(|(_, id)| id.as_uuid()).collect();
            let rows: Vec<AccountRow> = bank_accounts::table
                .filter(bank_accounts::id.eq_any(&ids))
                .select(AccountRow::as_select())
                .load(conn)?;
            rows.iter()
                .filter(|row| {
                    accounts.iter().any(|(seller, id)| {
                        id.as_uuid() == row.id && seller.as_uuid() == row.seller_id
                    })
                })
                .map(|row| {
                    Ok((
                        BankAccountId::from_uuid(row.id),
                        row.details(key)?,
                        row.holder_name.clone(),
                    ))
                })
                .collect()
        })
        .await
    }

    async fn move_payouts(
        &self,
        moves: Vec<(PayoutId, PayoutState, PayoutMove)>,
        now: Timestamp,
    ) -> std::result::Result<Vec<Option<Payout>>, PayoutStoreError> {
        self.db
            // READ COMMITTED: each move is an UPDATE whose WHERE (state, no ledger change
            // due) is re-checked on the locked row, and event ids are a primary key.
            .run("move_payouts", Mode::Queue, move |conn| {
                moves
                    .iter()
                    .map(|(id, from, change)| runs::move_payout(conn, *id, *from, change, now))
                    .collect()
            })
            .await
    }
}
