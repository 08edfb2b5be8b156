//! The ledger's tables: accounts, transfers, pending transfers and their expiries,
//! reversals, failed submissions and the clock. Only the ledger's stores write them; nothing
//! else joins them.

diesel::table! {
    ledger_accounts (id) {
        id -> Uuid,
        currency -> Bpchar,
        code -> Text,
        owner -> Text,
        normal_side -> Text,
        balance_constraint -> Text,
        overdraft -> Int8,
        created_at -> Int8,
        debits_pending -> Int8,
        debits_posted -> Int8,
        credits_pending -> Int8,
        credits_posted -> Int8,
    }
}

diesel::table! {
    ledger_transfers (id) {
        id -> Uuid,
        kind -> Text,
        debit_account_id -> Uuid,
        credit_account_id -> Uuid,
        amount -> Int8,
        currency -> Bpchar,
        ts -> Int8,
        leg -> Int4,
        timeout_secs -> Nullable<Int8>,
        pending_id -> Nullable<Uuid>,
        original_id -> Nullable<Uuid>,
        metadata -> Jsonb,
        debit_after_debits_pending -> Int8,
        debit_after_debits_posted -> Int8,
        debit_after_credits_pending -> Int8,
        debit_after_credits_posted -> Int8,
        credit_after_debits_pending -> Int8,
        credit_after_debits_posted -> Int8,
        credit_after_credits_pending -> Int8,
        credit_after_credits_posted -> Int8,
    }
}

diesel::table! {
    ledger_pending (id) {
        id -> Uuid,
        expires_at -> Int8,
        state -> Text,
        resolved_by -> Nullable<Uuid>,
        posted_amount -> Nullable<Int8>,
        resolved_at -> Nullable<Int8>,
    }
}

diesel::table! {
    ledger_expirations (pending_id) {
        pending_id -> Uuid,
        ts -> Int8,
        seq -> Int4,
        debit_account_id -> Uuid,
        credit_account_id -> Uuid,
        amount -> Int8,
        debit_after_debits_pending -> Int8,
        debit_after_debits_posted -> Int8,
        debit_after_credits_pending -> Int8,
        debit_after_credits_posted -> Int8,
        credit_after_debits_pending -> Int8,
        credit_after_debits_posted -> Int8,
        credit_after_credits_pending -> Int8,
        credit_after_credits_posted -> Int8,
    }
}

diesel::table! {
    ledger_reversals (original_id) {
        original_id -> Uuid,
        reversed_total -> Int8,
    }
}

diesel::table! {
    ledger_failures (id) {
        id -> Uuid,
        request -> Jsonb,
        error -> Text,
        failed_at -> Int8,
    }
}

diesel::table! {
    ledger_clock (id) {
        id -> Bool,
        last_ts -> Int8,
        journal_seq -> Int8,
        writer -> Nullable<Uuid>,
    }
}

diesel::table! {
    ledger_journal (seq) {
        seq -> Int8,
        prev_ts -> Int8,
        now_ts -> Int8,
        accepted -> Int4,
        body -> Bytea,
    }
}

diesel::table! {
    ledger_applied (id) {
        id -> Bool,
        seq -> Int8,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    ledger_accounts,
    ledger_transfers,
    ledger_pending,
    ledger_expirations,
    ledger_reversals,
    ledger_failures,
    ledger_clock,
    ledger_journal,
    ledger_applied,
);
