//! Rows to ledger values and back. A row that does not convert means the database holds
//! something the ledger never wrote: it is reported as `StoreError::Internal`, never
//! guessed at.

use bazaar_ledger::{
    Account, AccountCode, AccountId, Balance, BalanceConstraint, Currency, Failure, Metadata,
    Money, Owner, PendingState, RequestKind, Side, StoreError, Timestamp, Transfer, TransferError,
    TransferId, TransferKind, TransferRequest,
};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Jsonb, Nullable, Text, Uuid as SqlUuid};
use serde_json::{Map, Value, json};
use uuid::Uuid;

pub(crate) mod body;

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("unreadable ledger row: {what}"))
}

fn currency(code: &str) -> Result<Currency, StoreError> {
    Currency::from_code(code.trim()).map_err(|_| corrupt(format!("currency {code:?}")))
}

#[derive(QueryableByName, Debug)]
pub(crate) struct AccountRow {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = Text)]
    pub code: String,
    #[diesel(sql_type = Text)]
    pub owner: String,
    #[diesel(sql_type = Text)]
    pub normal_side: String,
    #[diesel(sql_type = Text)]
    pub balance_constraint: String,
    #[diesel(sql_type = BigInt)]
    pub overdraft: i64,
    #[diesel(sql_type = BigInt)]
    pub created_at: i64,
    #[diesel(sql_type = BigInt)]
    pub debits_pending: i64,
    #[diesel(sql_type = BigInt)]
    pub debits_posted: i64,
    #[diesel(sql_type = BigInt)]
    pub credits_pending: i64,
    #[diesel(sql_type = BigInt)]
    pub credits_posted: i64,
}

/// The columns `AccountRow` reads, with the casts it needs.
pub(crate) const ACCOUNT_COLUMNS: &str = "id, currency::text AS currency, code, owner, \
     normal_side, balance_constraint, overdraft, created_at, debits_pending, debits_posted, \
     credits_pending, credits_posted";

impl AccountRow {
    pub fn into_domain(self) -> Result<(Account, Balance), StoreError> {
        let normal_side = match self.normal_side.as_str() {
            "debit" => Side::Debit,
            "credit" => Side::Credit,
            other => return Err(corrupt(format!("normal side {other:?}"))),
        };
        let overdraft = self.overdraft;
        let constraint = match self.balance_constraint.as_str() {
            "none" => BalanceConstraint::Unconstrained,
            "debits_must_not_exceed_credits" => {
                BalanceConstraint::DebitsMustNotExceedCredits { overdraft }
            }
            "credits_must_not_exceed_debits" => {
                BalanceConstraint::CreditsMustNotExceedDebits { overdraft }
            }
            other => return Err(corrupt(format!("constraint {other:?}"))),
        };
        let account = Account {
            id: AccountId::from_uuid(self.id),
            currency: currency(&self.currency)?,
            code: AccountCode::new(&self.code).map_err(corrupt)?,
            owner: Owner::new(&self.owner).map_err(corrupt)?,
            normal_side,
            constraint,
            created_at: Timestamp::from_micros(self.created_at),
        };
        let balance = Balance {
            debits_pending: self.debits_pending,
            debits_posted: self.debits_posted,
            credits_pending: self.credits_pending,
            credits_posted: self.credits_posted,
        };
        Ok((account, balance))
    }
}

pub(crate) fn side_name(side: Side) -> &'static str {
    match side {
        Side::Debit => "debit",
        Side::Credit => "credit",
    }
}

/// The constraint's column values: its name and overdraft.
pub(crate) fn constraint_columns(constraint: BalanceConstraint) -> (&'static str, i64) {
    match constraint {
        BalanceConstraint::Unconstrained => ("none", 0),
        BalanceConstraint::DebitsMustNotExceedCredits { overdraft } => {
            ("debits_must_not_exceed_credits", overdraft)
        }
        BalanceConstraint::CreditsMustNotExceedDebits { overdraft } => {
            ("credits_must_not_exceed_debits", overdraft)
        }
    }
}

/// A transfer with its pending state and reversal total, as one query reads them.
#[derive(QueryableByName, Debug)]
pub(crate) struct TransferRow {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = SqlUuid)]
    pub debit_account_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub credit_account_id: Uuid,
    #[diesel(sql_type = BigInt)]
    pub amount: i64,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = BigInt)]
    pub ts: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub timeout_secs: Option<i64>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub pending_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub original_id: Option<Uuid>,
    #[diesel(sql_type = Jsonb)]
    pub metadata: Value,
    #[diesel(sql_type = Nullable<Text>)]
    pub pending_state: Option<String>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub resolved_by: Option<Uuid>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub posted_amount: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub resolved_at: Option<i64>,
    #[diesel(sql_type = BigInt)]
    pub reversed_total: i64,
}

/// Selects what `TransferRow` reads from `ledger_transfers t`, joined with its pending
/// state `p` and reversal total `r`.
pub(crate) const TRANSFER_SELECT: &str = "SELECT t.id, t.kind, t.debit_account_id, \
     t.credit_account_id, t.amount, t.currency::text AS currency, t.ts, t.timeout_secs, \
     t.pending_id, t.original_id, t.metadata, p.state AS pending_state, p.resolved_by, \
     p.posted_amount, p.resolved_at, COALESCE(r.reversed_total, 0) AS reversed_total \
     FROM ledger_transfers t \
     LEFT JOIN ledger_pending p ON p.id = t.id \
     LEFT JOIN ledger_reversals r ON r.original_id = t.id";

impl TransferRow {
    pub fn into_domain(self) -> Result<(Transfer, Option<PendingState>, i64), StoreError> {
        let reference = |id: Option<Uuid>| {
            id.map(TransferId::from_uuid).ok_or_else(|| {
                corrupt(format!(
                    "{} transfer {} without reference",
                    self.kind, self.id
                ))
            })
        };
        let kind = match self.kind.as_str() {
            "direct" => TransferKind::Direct,
            "pending" => TransferKind::Pending {
                timeout_secs: self
                    .timeout_secs
                    .and_then(|secs| u32::try_from(secs).ok())
                    .ok_or_else(|| corrupt(format!("pending transfer {} timeout", self.id)))?,
            },
            "post_pending" => TransferKind::PostPending {
                pending_id: reference(self.pending_id)?,
            },
            "void_pending" => TransferKind::VoidPending {
                pending_id: reference(self.pending_id)?,
            },
            "reversal" => TransferKind::Reversal {
                original_id: reference(self.original_id)?,
            },
            other => return Err(corrupt(format!("transfer kind {other:?}"))),
        };
        let pending = match (
            self.pending_state.as_deref(),
            self.resolved_by,
            self.resolved_at,
        ) {
            (None, _, _) => None,
            (Some("open"), _, _) => Some(PendingState::Open),
            (Some("posted"), Some(by), _) => Some(PendingState::Posted {
                by: TransferId::from_uuid(by),
                amount: self
                    .posted_amount
                    .ok_or_else(|| corrupt(format!("posted pending {} amount", self.id)))?,
            }),
            (Some("voided"), Some(by), _) => Some(PendingState::Voided {
                by: TransferId::from_uuid(by),
            }),
            (Some("expired"), _, Some(at)) => Some(PendingState::Expired {
                at: Timestamp::from_micros(at),
            }),
            (Some(other), _, _) => return Err(corrupt(format!("pending state {other:?}"))),
        };
        let transfer = Transfer {
            id: TransferId::from_uuid(self.id),
            kind,
            debit_account_id: AccountId::from_uuid(self.debit_account_id),
            credit_account_id: AccountId::from_uuid(self.credit_account_id),
            amount: Money::from_minor(self.amount, currency(&self.currency)?),
            timestamp: Timestamp::from_micros(self.ts),
            metadata: metadata_from_json(&self.metadata)?,
        };
        Ok((transfer, pending, self.reversed_total))
    }
}

pub(crate) fn kind_name(kind: TransferKind) -> &'static str {
    match kind {
        TransferKind::Direct => "direct",
        TransferKind::Pending { .. } => "pending",
        TransferKind::PostPending { .. } => "post_pending",
        TransferKind::VoidPending { .. } => "void_pending",
        TransferKind::Reversal { .. } => "reversal",
    }
}

pub(crate) fn pending_state_name(state: PendingState) -> &'static str {
    match state {
        PendingState::Open => "open",
        PendingState::Posted { .. } => "posted",
        PendingState::Voided { .. } => "voided",
        PendingState::Expired { .. } => "expired",
    }
}

pub(crate) fn metadata_to_json(metadata: &Metadata) -> Value {
    Value::Object(
        metadata
            .iter()
            .map(|(key, value)| (key.clone(), Value::String(value.clone())))
            .collect(),
    )
}

fn metadata_from_json(value: &Value) -> Result<Metadata, StoreError> {
    let object = value
        .as_object()
        .ok_or_else(|| corrupt("metadata is not an object"))?;
    object
        .iter()
        .map(|(key, value)| {
            value
                .as_str()
                .map(|value| (key.clone(), value.to_owned()))
                .ok_or_else(|| corrupt("metadata value is not a string"))
        })
        .collect()
}

#[derive(QueryableByName, diesel::Queryable, diesel::Selectable, Debug)]
#[diesel(table_name = bazaar_schema::schema::ledger_failures, check_for_backend(diesel::pg::Pg))]
pub(crate) struct FailureRow {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Jsonb)]
    pub request: Value,
    #[diesel(sql_type = Text)]
    pub error: String,
}

impl FailureRow {
    pub fn into_domain(self) -> Result<(TransferId, Failure), StoreError> {
        let error = TransferError::from_code(&self.error)
            .ok_or_else(|| corrupt(format!("failure code {:?}", self.error)))?;
        let request = request_from_json(&self.request)?;
        Ok((TransferId::from_uuid(self.id), Failure { request, error }))
    }
}

/// A request as JSON, for remembering a failure exactly as it was asked.
pub(crate) fn request_to_json(request: &TransferRequest) -> Value {
    let money = |amount: &Money| (amount.minor(), amount.currency().code());
    let mut object = match &request.kind {
        RequestKind::Direct {
            debit_account_id,
            credit_account_id,
            amount,
        } => json!({
            "kind": "direct",
            "debit_account_id": debit_account_id.as_uuid(),
            "credit_account_id": credit_account_id.as_uuid(),
            "amount": money(amount).0,
            "currency": money(amount).1,
        }),
        RequestKind::Pending {
            debit_account_id,
            credit_account_id,
            amount,
            timeout_secs,
        } => json!({
            "kind": "pending",
            "debit_account_id": debit_account_id.as_uuid(),
            "credit_account_id": credit_account_id.as_uuid(),
            "amount": money(amount).0,
            "currency": money(amount).1,
            "timeout_secs": timeout_secs,
        }),
        RequestKind::PostPending { pending_id, amount } => json!({
            "kind": "post_pending",
            "pending_id": pending_id.as_uuid(),
            "amount": money(amount).0,
            "currency": money(amount).1,
        }),
        RequestKind::VoidPending { pending_id } => json!({
            "kind": "void_pending",
            "pending_id": pending_id.as_uuid(),
        }),
        RequestKind::Reverse {
            original_id,
            amount,
        } => json!({
            "kind": "reverse",
            "original_id": original_id.as_uuid(),
            "amount": money(amount).0,
            "currency": money(amount).1,
        }),
    };
    if let Value::Object(fields) = &mut object {
        fields.insert("id".to_owned(), json!(request.id.as_uuid()));
        fields.insert("metadata".to_owned(), metadata_to_json(&request.metadata));
    }
    object
}

fn request_from_json(value: &Value) -> Result<TransferRequest, StoreError> {
    let fields = value
        .as_object()
        .ok_or_else(|| corrupt("request is not an object"))?;
    let uuid = |name: &str| -> Result<Uuid, StoreError> {
        field(fields, name)?
            .as_str()
            .and_then(|text| Uuid::parse_str(text).ok())
            .ok_or_else(|| corrupt(format!("request field {name}")))
    };
    let amount = || -> Result<Money, StoreError> {
        let minor = field(fields, "amount")?
            .as_i64()
            .ok_or_else(|| corrupt("request amount"))?;
        let code = field(fields, "currency")?
            .as_str()
            .ok_or_else(|| corrupt("request currency"))?;
        Ok(Money::from_minor(minor, currency(code)?))
    };
    let kind_name = field(fields, "kind")?.as_str().unwrap_or_default();
    let kind = match kind_name {
        "direct" => RequestKind::Direct {
            debit_account_id: AccountId::from_uuid(uuid("debit_account_id")?),
            credit_account_id: AccountId::from_uuid(uuid("credit_account_id")?),
            amount: amount()?,
        },
        "pending" => RequestKind::Pending {
            debit_account_id: AccountId::from_uuid(uuid("debit_account_id")?),
            credit_account_id: AccountId::from_uuid(uuid("credit_account_id")?),
            amount: amount()?,
            timeout_secs: field(fields, "timeout_secs")?
                .as_u64()
                .and_then(|secs| u32::try_from(secs).ok())
                .ok_or_else(|| corrupt("request timeout"))?,
        },
        "post_pending" => RequestKind::PostPending {
            pending_id: TransferId::from_uuid(uuid("pending_id")?),
            amount: amount()?,
        },
        "void_pending" => RequestKind::VoidPending {
            pending_id: TransferId::from_uuid(uuid("pending_id")?),
        },
        "reverse" => RequestKind::Reverse {
            original_id: TransferId::from_uuid(uuid("original_id")?),
            amount: amount()?,
        },
        other => return Err(corrupt(format!("request kind {other:?}"))),
    };
    Ok(TransferRequest {
        id: TransferId::from_uuid(uuid("id")?),
        kind,
        metadata: metadata_from_json(field(fields, "metadata")?)?,
    })
}

fn field<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<&'a Value, StoreError> {
    fields
        .get(name)
        .ok_or_else(|| corrupt(format!("request without {name}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(minor: i64) -> Money {
        Money::from_minor(minor, Currency::EUR)
    }

    #[test]
    fn every_request_kind_survives_json() {
        let a = AccountId::from_u128(1);
        let b = AccountId::from_u128(2);
        let t = TransferId::from_u128(3);
        let mut metadata = Metadata::new();
        metadata.insert("order".into(), "ord_\"1\"".into());
        let kinds = [
            RequestKind::Direct {
                debit_account_id: a,
                credit_account_id: b,
                amount: eur(-5),
            },
            RequestKind::Pending {
                debit_account_id: a,
                credit_account_id: b,
                amount: Money::from_minor(i64::MAX, Currency::KWD),
                timeout_secs: u32::MAX,
            },
            RequestKind::PostPending {
                pending_id: t,
                amount: eur(0),
            },
            RequestKind::VoidPending { pending_id: t },
            RequestKind::Reverse {
                original_id: t,
                amount: Money::from_minor(i64::MIN, Currency::JPY),
            },
        ];
        for kind in kinds {
            let request = TransferRequest {
                id: TransferId::from_u128(9),
                kind,
                metadata: metadata.clone(),
            };
            assert_eq!(request_from_json(&request_to_json(&request)), Ok(request));
        }
    }

    #[test]
    fn unreadable_rows_are_internal_errors() {
        assert!(matches!(
            request_from_json(&json!({"kind": "teleport"})),
            Err(StoreError::Internal(_))
        ));
        assert!(matches!(
            request_from_json(&json!([])),
            Err(StoreError::Internal(_))
        ));
        assert!(matches!(
            metadata_from_json(&json!({"a": 1})),
            Err(StoreError::Internal(_))
        ));
    }
}
