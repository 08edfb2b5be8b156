//! diesel's view of the tables the migrations create. Kept by hand in step with
//! `migrations/`; the schema tests fail if a column here does not exist there. The ledger's
//! tables are in `schema/ledger.rs`; the marketplace's, which join one another, are here.

mod ledger;

pub use ledger::*;

diesel::table! {
    sellers (id) {
        id -> Uuid,
        name -> Text,
        country -> Bpchar,
        home_region -> Text,
        settlement_currency -> Bpchar,
        commission_bps -> Int4,
        created_at -> Int8,
    }
}

diesel::table! {
    commission_rates (seller_id, category) {
        seller_id -> Uuid,
        category -> Text,
        commission_bps -> Int4,
    }
}

diesel::table! {
    buyers (id) {
        id -> Uuid,
        name -> Text,
        country -> Bpchar,
        home_region -> Text,
        created_at -> Int8,
        tax_area -> Nullable<Text>,
    }
}

diesel::table! {
    products (id) {
        id -> Uuid,
        seller_id -> Uuid,
        title -> Text,
        description -> Text,
        category -> Text,
        kind -> Text,
        created_at -> Int8,
        fingerprint -> Nullable<Text>,
        tax_code -> Nullable<Text>,
    }
}

diesel::table! {
    skus (id) {
        id -> Uuid,
        product_id -> Uuid,
        code -> Text,
        title -> Text,
        tracks_stock -> Bool,
        on_hand -> Int4,
        reserved -> Int4,
    }
}

diesel::table! {
    sku_prices (sku_id, currency) {
        sku_id -> Uuid,
        currency -> Bpchar,
        amount_minor -> Int8,
    }
}

diesel::table! {
    checkouts (id) {
        id -> Uuid,
        buyer_id -> Uuid,
        idempotency_key -> Text,
        fingerprint -> Text,
        country -> Bpchar,
        currency -> Bpchar,
        total_minor -> Int8,
        state -> Text,
        expires_at -> Int8,
        created_at -> Int8,
        home_region -> Text,
        buyer_tax_id -> Nullable<Text>,
        tax_id_status -> Nullable<Text>,
        tax_id_consultation -> Nullable<Text>,
    }
}

diesel::table! {
    orders (id) {
        id -> Uuid,
        checkout_id -> Uuid,
        seller_id -> Uuid,
        buyer_id -> Uuid,
        state -> Text,
        currency -> Bpchar,
        total_minor -> Int8,
        settlement_currency -> Bpchar,
        fx_mid -> Nullable<Text>,
        fx_source -> Nullable<Text>,
        fx_effective_at -> Nullable<Int8>,
        fx_spread -> Nullable<Text>,
        created_at -> Int8,
        updated_at -> Int8,
        home_region -> Text,
    }
}

diesel::table! {
    order_lines (id) {
        id -> Uuid,
        order_id -> Uuid,
        position -> Int4,
        sku_id -> Uuid,
        product_id -> Uuid,
        title -> Text,
        category -> Text,
        kind -> Text,
        quantity -> Int4,
        unit_price_minor -> Int8,
        total_minor -> Int8,
        commission_bps -> Int4,
        tax_bps -> Int4,
        refund_requested_minor -> Int8,
        refund_posted_minor -> Int8,
        tax_minor -> Int8,
        tax_decision -> Nullable<Text>,
        tax_place -> Nullable<Text>,
        tax_scheme -> Nullable<Text>,
        tax_threshold_kind -> Nullable<Text>,
        tax_threshold_minor -> Nullable<Int8>,
        tax_code -> Nullable<Text>,
    }
}

diesel::table! {
    seller_tax_registrations (seller_id, area) {
        seller_id -> Uuid,
        area -> Text,
        number -> Text,
        home_region -> Text,
        created_at -> Int8,
        updated_at -> Int8,
    }
}

diesel::table! {
    tax_remittances (jurisdiction, currency, period) {
        jurisdiction -> Text,
        currency -> Text,
        period -> Text,
        amount_minor -> Int8,
        posted_at -> Int8,
    }
}

diesel::table! {
    stock_reservations (checkout_id, sku_id) {
        checkout_id -> Uuid,
        sku_id -> Uuid,
        quantity -> Int4,
        state -> Text,
    }
}

diesel::table! {
    payments (id) {
        id -> Uuid,
        checkout_id -> Uuid,
        provider -> Text,
        method -> Text,
        amount_minor -> Int8,
        currency -> Bpchar,
        state -> Text,
        psp_reference -> Nullable<Text>,
        action -> Nullable<Jsonb>,
        created_at -> Int8,
        updated_at -> Int8,
        captured_late -> Bool,
    }
}

diesel::table! {
    payment_events (provider, event_id) {
        provider -> Text,
        event_id -> Text,
        payment_id -> Uuid,
        received_at -> Int8,
    }
}

diesel::table! {
    refunds (id) {
        id -> Uuid,
        payment_id -> Uuid,
        line_id -> Uuid,
        amount_minor -> Int8,
        currency -> Bpchar,
        idempotency_key -> Text,
        state -> Text,
        chargeback -> Bool,
        psp_reference -> Nullable<Text>,
        posted_before_minor -> Nullable<Int8>,
        posted_after_minor -> Nullable<Int8>,
        created_at -> Int8,
    }
}

diesel::table! {
    reviews (id) {
        id -> Uuid,
        product_id -> Uuid,
        buyer_id -> Uuid,
        order_id -> Uuid,
        rating -> Int4,
        body -> Text,
        created_at -> Int8,
        home_region -> Text,
    }
}

diesel::table! {
    ledger_intents (id) {
        id -> Uuid,
        kind -> Text,
        subject_id -> Uuid,
        created_at -> Int8,
        applied_at -> Nullable<Int8>,
        attempts -> Int4,
        next_attempt_at -> Nullable<Int8>,
        last_error -> Nullable<Text>,
        parked_at -> Nullable<Int8>,
    }
}

diesel::table! {
    notification_failures (provider, event_id) {
        provider -> Text,
        event_id -> Text,
        attempts -> Int4,
        last_error -> Text,
        signature -> Text,
        body -> Bytea,
        first_failed_at -> Int8,
        last_failed_at -> Int8,
        parked_at -> Nullable<Int8>,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        subject_id -> Uuid,
        created_at -> Int8,
        home_region -> Text,
    }
}

diesel::table! {
    sessions (token_hash) {
        token_hash -> Text,
        user_id -> Uuid,
        created_at -> Int8,
        expires_at -> Int8,
        revoked_at -> Nullable<Int8>,
    }
}

diesel::table! {
    catalog_changes (product_id, changed_at) {
        product_id -> Uuid,
        changed_at -> Int8,
    }
}

diesel::table! {
    tax_threshold_totals (threshold, subject, year, entry) {
        threshold -> Text,
        subject -> Text,
        year -> Int4,
        entry -> Uuid,
        sales_minor -> Int8,
        orders -> Int8,
    }
}

diesel::table! {
    outbox_events (id) {
        id -> Uuid,
        event_type -> Text,
        version -> Int4,
        resource_type -> Text,
        resource_id -> Uuid,
        seller_id -> Nullable<Uuid>,
        payload -> Jsonb,
        occurred_at -> Int8,
        lease_until -> Nullable<Int8>,
        sent_at -> Nullable<Int8>,
    }
}

diesel::table! {
    processed_messages (consumer, event_id) {
        consumer -> Text,
        event_id -> Uuid,
        processed_at -> Int8,
    }
}

diesel::table! {
    event_counts (seller_id, event_type) {
        seller_id -> Uuid,
        event_type -> Text,
        events -> Int8,
        last_event_at -> Int8,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Uuid,
        seller_id -> Uuid,
        url -> Text,
        event_types -> Array<Text>,
        secret_sealed -> Bytea,
        previous_secret_sealed -> Nullable<Bytea>,
        previous_secret_expires_at -> Nullable<Int8>,
        state -> Text,
        disabled_reason -> Nullable<Text>,
        consecutive_failures -> Int4,
        created_at -> Int8,
        updated_at -> Int8,
        home_region -> Text,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Uuid,
        endpoint_id -> Uuid,
        event_id -> Uuid,
        seller_id -> Uuid,
        state -> Text,
        attempts -> Int4,
        first_attempt_at -> Nullable<Int8>,
        next_attempt_at -> Nullable<Int8>,
        last_status -> Nullable<Int4>,
        last_error -> Nullable<Text>,
        created_at -> Int8,
        updated_at -> Int8,
    }
}

diesel::table! {
    webhook_attempts (delivery_id, attempt) {
        delivery_id -> Uuid,
        attempt -> Int4,
        started_at -> Int8,
        status_code -> Nullable<Int4>,
        latency_ms -> Int4,
        outcome -> Text,
        error -> Nullable<Text>,
        next_attempt_at -> Nullable<Int8>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(users, sessions);

diesel::joinable!(skus -> products (product_id));

diesel::allow_tables_to_appear_in_same_query!(
    sellers,
    buyers,
    products,
    skus,
    sku_prices,
    checkouts,
    orders,
    order_lines,
    stock_reservations,
    payments,
    refunds,
    reviews,
);

diesel::joinable!(commission_rates -> sellers (seller_id));

diesel::allow_tables_to_appear_in_same_query!(commission_rates, sellers);

diesel::joinable!(webhook_deliveries -> outbox_events (event_id));

diesel::allow_tables_to_appear_in_same_query!(webhook_deliveries, outbox_events);

diesel::table! {
    bank_accounts (id) {
        id -> Uuid,
        seller_id -> Uuid,
        currency -> Bpchar,
        rail -> Text,
        kind -> Text,
        masked -> Text,
        holder_name -> Text,
        details_sealed -> Bytea,
        deposits_sealed -> Bytea,
        state -> Text,
        failed_attempts -> Int4,
        created_at -> Int8,
        updated_at -> Int8,
        home_region -> Text,
    }
}

diesel::table! {
    payout_settings (seller_id, currency) {
        seller_id -> Uuid,
        currency -> Bpchar,
        schedule -> Text,
        delay_days -> Int4,
        minimum_minor -> Int8,
        paused -> Bool,
        reserve_bps -> Nullable<Int4>,
        reserve_days -> Nullable<Int4>,
        first_capture_on -> Nullable<Text>,
        updated_at -> Int8,
        home_region -> Text,
    }
}

diesel::table! {
    payouts (id) {
        id -> Uuid,
        seller_id -> Uuid,
        kind -> Text,
        currency -> Bpchar,
        amount_minor -> Int8,
        fee_minor -> Nullable<Int8>,
        bank_account_id -> Uuid,
        rail -> Text,
        state -> Text,
        failure_code -> Nullable<Text>,
        paid_at -> Nullable<Int8>,
        ledger_due -> Nullable<Text>,
        canceled_reason -> Nullable<Text>,
        rail_reference -> Nullable<Text>,
        expected_at -> Nullable<Int8>,
        scheduled_for -> Nullable<Text>,
        created_at -> Int8,
        updated_at -> Int8,
        home_region -> Text,
    }
}

diesel::table! {
    payout_rail_events (event_id) {
        event_id -> Text,
        payout_id -> Uuid,
        applied_at -> Int8,
    }
}

diesel::table! {
    payout_rail_cursor (name) {
        name -> Text,
        last_event_id -> Text,
        updated_at -> Int8,
    }
}

diesel::allow_tables_to_appear_in_same_query!(sellers, payout_settings, bank_accounts);

diesel::table! {
    sandbox_rail_submissions (payout_id) {
        payout_id -> Uuid,
        rail -> Text,
        currency -> Bpchar,
        amount_minor -> Int8,
        destination_masked -> Text,
        script -> Text,
        refused_code -> Nullable<Text>,
        reference -> Nullable<Text>,
        expected_at -> Nullable<Int8>,
        outcome_reported -> Bool,
        return_reported -> Bool,
        submitted_at -> Int8,
    }
}

diesel::table! {
    sandbox_rail_events (seq) {
        seq -> Int8,
        payout_id -> Uuid,
        outcome -> Text,
        code -> Nullable<Text>,
        at -> Int8,
    }
}

diesel::table! {
    sandbox_rail_clock (id) {
        id -> Int4,
        last_seq -> Int8,
    }
}

diesel::table! {
    sandbox_bank_entries (id) {
        id -> Uuid,
        currency -> Bpchar,
        amount_minor -> Int8,
        booked_day -> Int8,
        booked_at -> Int8,
        end_to_end_id -> Text,
        remittance -> Text,
        kind -> Text,
    }
}

diesel::table! {
    payout_card_settlements (payment_id, seller_id) {
        payment_id -> Uuid,
        seller_id -> Uuid,
        currency -> Bpchar,
        amount_minor -> Int8,
        settled_at -> Int8,
        home_region -> Text,
    }
}

diesel::table! {
    recon_imports (id) {
        id -> Uuid,
        kind -> Text,
        sha256 -> Bpchar,
        name -> Text,
        entries -> Int4,
        imported_at -> Int8,
        complete -> Bool,
    }
}

diesel::table! {
    recon_bank_entries (id) {
        id -> Uuid,
        import_id -> Uuid,
        account_key -> Bpchar,
        account_hint -> Text,
        statement_id -> Text,
        currency -> Bpchar,
        amount_minor -> Int8,
        status -> Text,
        booking_date -> Nullable<Text>,
        value_date -> Nullable<Text>,
        servicer_reference -> Nullable<Text>,
        end_to_end_ids -> Nullable<Text>,
        remittance -> Nullable<Text>,
        transaction_code -> Nullable<Text>,
        parts -> Int4,
    }
}

diesel::table! {
    recon_provider_rows (id) {
        id -> Uuid,
        import_id -> Uuid,
        provider -> Text,
        batch -> Text,
        kind -> Text,
        reference -> Nullable<Text>,
        gross_currency -> Bpchar,
        gross_minor -> Int8,
        fees_minor -> Int8,
        currency -> Bpchar,
        net_minor -> Int8,
        booked_on -> Text,
    }
}

diesel::table! {
    recon_runs (id) {
        id -> Uuid,
        created_at -> Int8,
        account_key -> Bpchar,
        account_hint -> Text,
        currency -> Bpchar,
        from_day -> Text,
        to_day -> Text,
        matched -> Int8,
        amount_differences -> Int8,
        unmatched_external -> Int8,
        unmatched_internal -> Int8,
        sha256 -> Bpchar,
    }
}

diesel::table! {
    recon_run_items (run_id, seq) {
        run_id -> Uuid,
        seq -> Int4,
        bucket -> Text,
        side -> Text,
        item_id -> Text,
        currency -> Bpchar,
        amount_minor -> Int8,
        day -> Int8,
        reference -> Nullable<Text>,
        rule -> Nullable<Text>,
        match_no -> Nullable<Int4>,
    }
}

diesel::joinable!(recon_bank_entries -> recon_imports (import_id));
diesel::joinable!(recon_provider_rows -> recon_imports (import_id));
diesel::joinable!(recon_run_items -> recon_runs (run_id));
diesel::allow_tables_to_appear_in_same_query!(recon_imports, recon_bank_entries);
diesel::allow_tables_to_appear_in_same_query!(recon_imports, recon_provider_rows);
diesel::allow_tables_to_appear_in_same_query!(recon_runs, recon_run_items);
diesel::allow_tables_to_appear_in_same_query!(seller_tax_registrations, sellers);

diesel::table! {
    loan_offers (id) {
        id -> Uuid,
        seller_id -> Uuid,
        currency -> Text,
        advance_minor -> Int8,
        fee_minor -> Int8,
        withhold_bps -> Int4,
        minimum_minor -> Int8,
        tier -> Text,
        offered_on -> Int8,
        expires_on -> Int8,
        loan_id -> Nullable<Uuid>,
        created_at -> Int8,
    }
}

diesel::table! {
    loans (id) {
        id -> Uuid,
        offer_id -> Uuid,
        seller_id -> Uuid,
        currency -> Text,
        advance_minor -> Int8,
        fee_minor -> Int8,
        withhold_bps -> Int4,
        minimum_minor -> Int8,
        paid_advance_minor -> Int8,
        paid_fee_minor -> Int8,
        state -> Text,
        state_day -> Nullable<Int8>,
        interval_start -> Int8,
        interval_paid_minor -> Int8,
        arrears_minor -> Int8,
        ever_past_due -> Bool,
        written_off_minor -> Int8,
        created_at -> Int8,
        updated_at -> Int8,
    }
}

diesel::allow_tables_to_appear_in_same_query!(loan_offers, loans);

diesel::table! {
    audit_log (seq) {
        seq -> Int8,
        at -> Int8,
        actor -> Text,
        action -> Text,
        outcome -> Text,
        origin -> Text,
        resource_type -> Text,
        resource_id -> Text,
        detail -> Text,
        prev_hash -> Bytea,
        hash -> Bytea,
    }
}

diesel::table! {
    audit_head (id) {
        id -> Int4,
        seq -> Int8,
        hash -> Bytea,
    }
}

diesel::table! {
    audit_checkpoints (seq) {
        seq -> Int8,
        hash -> Bytea,
        at -> Int8,
        key_id -> Text,
        signature -> Bytea,
    }
}

diesel::allow_tables_to_appear_in_same_query!(audit_log, audit_head, audit_checkpoints);
