//! The card vault's store on its own PostgreSQL database (never the API's): the master
//! key's check value, wrapped data keys and sealed cards.

use bazaar_domain::vault::{
    Brand, CardDisplay, CardToken, KeyUse, Progress, StoredCard, StoredKey, Tenant, VaultStore,
    VaultStoreError,
};
use bazaar_schema::vault::{run_pending_vault_migrations, vault_cards, vault_keys, vault_master};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer};

use crate::RetryPolicy;
use crate::commerce::{Db, Fail, Mode, StoreFailure};

type Result<T> = std::result::Result<T, Fail<VaultStoreError>>;

impl StoreFailure for VaultStoreError {
    fn unavailable() -> Self {
        Self::Unavailable
    }

    fn internal() -> Self {
        Self::Corrupt
    }
}

fn corrupt(what: &'static str) -> Fail<VaultStoreError> {
    tracing::error!(what, "a stored vault row does not read back");
    Fail::Domain(VaultStoreError::Corrupt)
}

/// The vault's store. Cloning shares the pool.
#[derive(Clone)]
pub struct PostgresVault {
    db: Db,
}

impl std::fmt::Debug for PostgresVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresVault")
            .field("pool_size", &self.db.pool_size())
            .finish_non_exhaustive()
    }
}

impl PostgresVault {
    /// A store on the vault's database `database_url` with at most `pool_size` connections.
    pub fn new(database_url: &str, pool_size: u32, retry: RetryPolicy) -> Self {
        Self {
            db: Db::new(database_url, pool_size, retry),
        }
    }

    /// Creates the vault's database `database_url` names if it does not exist and applies
    /// its pending migrations; answers how many ran.
    pub async fn prepare(database_url: &str) -> std::result::Result<usize, VaultStoreError> {
        let url = database_url.to_owned();
        tokio::task::spawn_blocking(move || {
            bazaar_schema::database::prepare_database_with(&url, run_pending_vault_migrations)
        })
        .await
        .map_err(|_| VaultStoreError::Unavailable)?
        .map(|(_, ran)| ran)
        .map_err(|error| {
            tracing::error!(%error, "the vault's database could not be prepared");
            VaultStoreError::Unavailable
        })
    }
}

fn key_use(text: &str) -> Result<KeyUse> {
    match text {
        "test" => Ok(KeyUse::Test),
        "live" => Ok(KeyUse::Live),
        _ => Err(corrupt("key_use")),
    }
}

fn key_use_name(key_use: KeyUse) -> &'static str {
    match key_use {
        KeyUse::Test => "test",
        KeyUse::Live => "live",
    }
}

fn version(value: i32) -> Result<u32> {
    u32::try_from(value).map_err(|_| corrupt("version"))
}

fn version_column(value: u32) -> Result<i32> {
    i32::try_from(value).map_err(|_| corrupt("version"))
}

#[derive(Queryable, Selectable, Insertable, QueryableByName)]
#[diesel(table_name = vault_cards, check_for_backend(diesel::pg::Pg))]
struct CardRow {
    token: String,
    tenant: String,
    fingerprint: String,
    key_version: i32,
    sealed: Vec<u8>,
    bin: String,
    last4: String,
    brand: String,
    expiry_month: i16,
    expiry_year: i16,
}

impl CardRow {
    fn of(card: &StoredCard) -> Result<Self> {
        Ok(Self {
            token: card.token.as_str().to_owned(),
            tenant: card.tenant.as_str().to_owned(),
            fingerprint: card.fingerprint.clone(),
            key_version: version_column(card.key_version)?,
            sealed: card.sealed.clone(),
            bin: card.display.bin.clone(),
            last4: card.display.last4.clone(),
            brand: card.display.brand.as_str().to_owned(),
            expiry_month: i16::from(card.display.expiry_month),
            expiry_year: i16::try_from(card.display.expiry_year).map_err(|_| corrupt("year"))?,
        })
    }

    fn read(self) -> Result<StoredCard> {
        Ok(StoredCard {
            token: CardToken::parse(&self.token).map_err(|_| corrupt("token"))?,
            tenant: Tenant::new(&self.tenant).map_err(|_| corrupt("tenant"))?,
            fingerprint: self.fingerprint,
            key_version: version(self.key_version)?,
            sealed: self.sealed,
            display: CardDisplay {
                bin: self.bin,
                last4: self.last4,
                brand: Brand::from_name(&self.brand),
                expiry_month: u8::try_from(self.expiry_month).map_err(|_| corrupt("month"))?,
                expiry_year: u16::try_from(self.expiry_year).map_err(|_| corrupt("year"))?,
            },
        })
    }
}

fn by_fingerprint(
    conn: &mut PgConnection,
    tenant: &Tenant,
    fingerprint: &str,
) -> QueryResult<Option<CardRow>> {
    vault_cards::table
        .filter(vault_cards::tenant.eq(tenant.as_str()))
        .filter(vault_cards::fingerprint.eq(fingerprint))
        .select(CardRow::as_select())
        .first(conn)
        .optional()
}

#[derive(QueryableByName)]
struct Counts {
    #[diesel(sql_type = BigInt)]
    stale: i64,
    #[diesel(sql_type = BigInt)]
    total: i64,
}

impl VaultStore for PostgresVault {
    async fn init_master_check(
        &self,
        check: &str,
        used: KeyUse,
    ) -> std::result::Result<(String, KeyUse), VaultStoreError> {
        let check = check.to_owned();
        self.db
            .run("vault_init_master", Mode::Write, move |conn| {
                diesel::insert_into(vault_master::table)
                    .values((
                        vault_master::id.eq(1),
                        vault_master::check_value.eq(&check),
                        vault_master::key_use.eq(key_use_name(used)),
                    ))
                    .on_conflict_do_nothing()
                    .execute(conn)?;
                let (stored, stored_use): (String, String) = vault_master::table
                    .find(1)
                    .select((vault_master::check_value, vault_master::key_use))
                    .first(conn)?;
                Ok((stored, key_use(&stored_use)?))
            })
            .await
    }

    async fn keys(&self, tenant: &Tenant) -> std::result::Result<Vec<StoredKey>, VaultStoreError> {
        let tenant = tenant.clone();
        self.db
            .run("vault_keys", Mode::Read, move |conn| {
                let rows: Vec<(i32, Vec<u8>)> = vault_keys::table
                    .filter(vault_keys::tenant.eq(tenant.as_str()))
                    .order(vault_keys::version.asc())
                    .select((vault_keys::version, vault_keys::wrapped))
                    .load(conn)?;
                rows.into_iter()
                    .map(|(v, wrapped)| {
                        Ok(StoredKey {
                            tenant: tenant.clone(),
                            version: version(v)?,
                            wrapped,
                        })
                    })
                    .collect()
            })
            .await
    }

    async fn add_key(&self, key: &StoredKey) -> std::result::Result<bool, VaultStoreError> {
        let key = key.clone();
        self.db
            .run("vault_add_key", Mode::Write, move |conn| {
                let added = diesel::insert_into(vault_keys::table)
                    .values((
                        vault_keys::tenant.eq(key.tenant.as_str()),
                        vault_keys::version.eq(version_column(key.version)?),
                        vault_keys::wrapped.eq(&key.wrapped),
                    ))
                    .on_conflict_do_nothing()
                    .execute(conn)?;
                Ok(added == 1)
            })
            .await
    }

    async fn card_by_fingerprint(
        &self,
        tenant: &Tenant,
        fingerprint: &str,
    ) -> std::result::Result<Option<StoredCard>, VaultStoreError> {
        let (tenant, fingerprint) = (tenant.clone(), fingerprint.to_owned());
        self.db
            .run("vault_card_by_fingerprint", Mode::Read, move |conn| {
                by_fingerprint(conn, &tenant, &fingerprint)?
                    .map(CardRow::read)
                    .transpose()
            })
            .await
    }

    async fn insert_card(
        &self,
        card: &StoredCard,
    ) -> std::result::Result<StoredCard, VaultStoreError> {
        let card = card.clone();
        self.db
            .run("vault_insert_card", Mode::Write, move |conn| {
                diesel::insert_into(vault_cards::table)
                    .values(CardRow::of(&card)?)
                    .on_conflict((vault_cards::tenant, vault_cards::fingerprint))
                    .do_nothing()
                    .execute(conn)?;
                by_fingerprint(conn, &card.tenant, &card.fingerprint)?
                    .ok_or_else(|| corrupt("inserted card"))?
                    .read()
            })
            .await
    }

    async fn card(
        &self,
        token: &CardToken,
    ) -> std::result::Result<Option<StoredCard>, VaultStoreError> {
        let token = token.clone();
        self.db
            .run("vault_card", Mode::Read, move |conn| {
                vault_cards::table
                    .find(token.as_str())
                    .select(CardRow::as_select())
                    .first(conn)
                    .optional()?
                    .map(CardRow::read)
                    .transpose()
            })
            .await
    }

    async fn update_card(
        &self,
        card: &StoredCard,
        from_version: u32,
    ) -> std::result::Result<bool, VaultStoreError> {
        let card = card.clone();
        self.db
            .run("vault_update_card", Mode::Write, move |conn| {
                let row = CardRow::of(&card)?;
                let updated = diesel::update(
                    vault_cards::table
                        .find(&row.token)
                        .filter(vault_cards::key_version.eq(version_column(from_version)?)),
                )
                .set((
                    vault_cards::key_version.eq(row.key_version),
                    vault_cards::sealed.eq(&row.sealed),
                    vault_cards::expiry_month.eq(row.expiry_month),
                    vault_cards::expiry_year.eq(row.expiry_year),
                ))
                .execute(conn)?;
                Ok(updated == 1)
            })
            .await
    }

    async fn stale_cards(
        &self,
        limit: u32,
    ) -> std::result::Result<Vec<StoredCard>, VaultStoreError> {
        let limit = i32::try_from(limit).unwrap_or(i32::MAX);
        self.db
            .run("vault_stale_cards", Mode::Read, move |conn| {
                // raw SQL: a correlated subquery (each card's tenant's newest key) that
                // diesel's query builder does not express
                let rows: Vec<CardRow> = diesel::sql_query(
                    "SELECT token, tenant, fingerprint, key_version, sealed, bin, last4, brand, \
                     expiry_month, expiry_year FROM vault_cards c WHERE c.key_version < \
                     (SELECT max(k.version) FROM vault_keys k WHERE k.tenant = c.tenant) \
                     ORDER BY c.tenant, c.token LIMIT $1",
                )
                .bind::<Integer, _>(limit)
                .load(conn)?;
                rows.into_iter().map(CardRow::read).collect()
            })
            .await
    }

    async fn progress(&self) -> std::result::Result<Progress, VaultStoreError> {
        self.db
            .run("vault_progress", Mode::Read, |conn| {
                // raw SQL: a correlated subquery in a filtered aggregate
                let counts: Counts = diesel::sql_query(
                    "SELECT count(*) FILTER (WHERE c.key_version < \
                     (SELECT max(k.version) FROM vault_keys k WHERE k.tenant = c.tenant)) AS stale, \
                     count(*) AS total FROM vault_cards c",
                )
                .get_result(conn)?;
                Ok(Progress {
                    stale: u64::try_from(counts.stale).map_err(|_| corrupt("count"))?,
                    total: u64::try_from(counts.total).map_err(|_| corrupt("count"))?,
                })
            })
            .await
    }
}
