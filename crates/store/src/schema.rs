//! The one schema of both backends (kept in step with `migrations/{sqlite,postgres}`).
//!
//! Column types stay inside what `MultiConnection` supports: IDs as text UUIDs, timestamps as
//! UTC `Timestamp`, money as `BigInt` fen, JSON as text.

diesel::table! {
    participants (id) {
        id -> Text,
        openid -> Text,
        unionid -> Nullable<Text>,
        name -> Nullable<Text>,
        gender -> Nullable<Text>,
        id_kind -> Nullable<Text>,
        id_number_enc -> Nullable<Binary>,
        id_number_index -> Nullable<Text>,
        phone -> Nullable<Text>,
        employer -> Nullable<Text>,
        education -> Nullable<Text>,
        job_title -> Nullable<Text>,
        profile_locked -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        id_number_tail -> Nullable<Text>,
        erased_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    staff_users (id) {
        id -> Text,
        username -> Text,
        display_name -> Text,
        password_hash -> Text,
        roles -> Text,
        enabled -> Bool,
        failed_logins -> Integer,
        locked_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        login_in_flight -> Integer,
        login_reserved_at -> Nullable<Timestamp>,
        refused_logins -> Integer,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        token_hash -> Text,
        participant_id -> Nullable<Text>,
        staff_id -> Nullable<Text>,
        csrf_hash -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    periods (id) {
        id -> Text,
        name -> Text,
        exam_name -> Text,
        registration_opens -> Timestamp,
        registration_closes -> Timestamp,
        payment_deadline -> Timestamp,
        checkin_opens -> Timestamp,
        checkin_closes -> Timestamp,
        exam_ends -> Timestamp,
        closed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        checkin_secret -> Nullable<Text>,
        checkin_slice_secs -> Integer,
        ticket_number_scheme -> Text,
        tickets_published_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    regions (id) {
        id -> Text,
        period_id -> Text,
        code -> Text,
        name -> Text,
        capacity -> Integer,
        seats_taken -> Integer,
    }
}

diesel::table! {
    subjects (id) {
        id -> Text,
        period_id -> Text,
        code -> Text,
        name -> Text,
        specialties -> Text,
        exam_starts_at -> Timestamp,
        exam_ends_at -> Timestamp,
        sort_order -> Integer,
    }
}

diesel::table! {
    exam_types (id) {
        id -> Text,
        period_id -> Text,
        code -> Text,
        name -> Text,
        subject_codes -> Text,
        min_subjects -> Integer,
        max_subjects -> Integer,
        sort_order -> Integer,
    }
}

diesel::table! {
    fees (exam_type_id, subject_count) {
        period_id -> Text,
        exam_type_id -> Text,
        subject_count -> Integer,
        amount_fen -> BigInt,
    }
}

diesel::table! {
    venues (id) {
        id -> Text,
        period_id -> Text,
        name -> Text,
        address -> Text,
        number -> Integer,
        region_id -> Nullable<Text>,
        static_code -> Bool,
        geofence_lat_e6 -> Nullable<Integer>,
        geofence_lon_e6 -> Nullable<Integer>,
        geofence_radius_m -> Nullable<Integer>,
        room_capacity -> Integer,
        room_columns -> Integer,
    }
}

diesel::table! {
    invoice_titles (id) {
        id -> Text,
        participant_id -> Text,
        kind -> Text,
        invoice_type -> Text,
        name -> Text,
        tax_id -> Nullable<Text>,
        address -> Nullable<Text>,
        phone -> Nullable<Text>,
        bank -> Nullable<Text>,
        bank_account -> Nullable<Text>,
        email -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    photos (id) {
        id -> Text,
        participant_id -> Text,
        original_key -> Text,
        normalized_key -> Text,
        original_bytes -> BigInt,
        width -> Integer,
        height -> Integer,
        created_at -> Timestamp,
        original_deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    registrations (id) {
        id -> Text,
        participant_id -> Text,
        period_id -> Text,
        region_id -> Text,
        exam_type_id -> Text,
        subjects -> Text,
        invoice_snapshot -> Nullable<Text>,
        joint_invoice_remark -> Nullable<Text>,
        photo_id -> Nullable<Text>,
        fee_fen -> BigInt,
        state -> Text,
        flag -> Nullable<Text>,
        version -> Integer,
        live_period_id -> Nullable<Text>,
        rejection_reason -> Nullable<Text>,
        payment_method -> Nullable<Text>,
        submitted_at -> Timestamp,
        updated_at -> Timestamp,
        checked_in_at -> Nullable<Timestamp>,
        checkin_venue_id -> Nullable<Text>,
        checkin_proof -> Nullable<Text>,
    }
}

diesel::table! {
    registration_events (id) {
        id -> Text,
        registration_id -> Text,
        version -> Integer,
        at -> Timestamp,
        actor -> Text,
        actor_ref -> Nullable<Text>,
        event -> Text,
        from_state -> Nullable<Text>,
        to_state -> Text,
        to_flag -> Nullable<Text>,
        reason -> Nullable<Text>,
        request_id -> Nullable<Text>,
        details -> Nullable<Text>,
    }
}

diesel::table! {
    jobs (id) {
        id -> Text,
        kind -> Text,
        payload -> Text,
        unique_key -> Nullable<Text>,
        run_at -> Timestamp,
        attempts -> Integer,
        max_attempts -> Integer,
        last_error -> Nullable<Text>,
        locked_until -> Nullable<Timestamp>,
        failed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        locked_by -> Nullable<Text>,
        last_run_at -> Nullable<Timestamp>,
        completed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    schedules (name) {
        name -> Text,
        interval_secs -> Integer,
        next_run_at -> Timestamp,
        last_run_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    tickets (registration_id) {
        registration_id -> Text,
        period_id -> Text,
        number -> Text,
        scheme -> Text,
        venue_id -> Text,
        site -> Integer,
        room -> Integer,
        seat -> Integer,
        seat_row -> Integer,
        seat_column -> Integer,
        plan_seed -> Text,
        plan_algorithm -> Integer,
        assigned_at -> Timestamp,
        qr_text -> Nullable<Text>,
        png_key -> Nullable<Text>,
        pdf_key -> Nullable<Text>,
        rendered_at -> Nullable<Timestamp>,
        render_error_code -> Nullable<Text>,
        render_error -> Nullable<Text>,
        render_missing -> Nullable<Text>,
        render_failed_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(regions -> periods (period_id));
diesel::joinable!(subjects -> periods (period_id));
diesel::joinable!(exam_types -> periods (period_id));
diesel::joinable!(venues -> periods (period_id));
diesel::joinable!(registrations -> venues (checkin_venue_id));
diesel::joinable!(registrations -> participants (participant_id));
diesel::joinable!(registrations -> periods (period_id));
diesel::joinable!(registrations -> regions (region_id));
diesel::joinable!(registration_events -> registrations (registration_id));
diesel::joinable!(invoice_titles -> participants (participant_id));
diesel::joinable!(photos -> participants (participant_id));
diesel::joinable!(payment_orders -> registrations (registration_id));
diesel::joinable!(payments -> registrations (registration_id));
diesel::joinable!(payment_notifications -> payments (payment_id));
diesel::joinable!(refunds -> payments (payment_id));
diesel::joinable!(bank_transfers -> registrations (registration_id));
diesel::joinable!(invoice_exports -> periods (period_id));
diesel::joinable!(invoices -> periods (period_id));
diesel::joinable!(invoice_registrations -> invoices (invoice_id));
diesel::joinable!(invoice_registrations -> registrations (registration_id));
diesel::joinable!(invoice_export_items -> invoice_exports (export_id));
diesel::joinable!(invoice_export_items -> invoices (invoice_id));
diesel::joinable!(tickets -> registrations (registration_id));
diesel::joinable!(tickets -> periods (period_id));
diesel::joinable!(tickets -> venues (venue_id));

diesel::allow_tables_to_appear_in_same_query!(
    participants,
    staff_users,
    sessions,
    periods,
    regions,
    subjects,
    exam_types,
    fees,
    venues,
    invoice_titles,
    photos,
    registrations,
    registration_events,
    jobs,
    schedules,
    audit_log,
    rejection_templates,
    payment_orders,
    payments,
    payment_notifications,
    refunds,
    bank_transfers,
    reconciliation_reports,
    invoice_settings,
    invoice_exports,
    invoices,
    invoice_registrations,
    invoice_export_items,
    tickets,
);

diesel::table! {
    audit_log (id) {
        id -> Text,
        at -> Timestamp,
        staff_id -> Nullable<Text>,
        username -> Nullable<Text>,
        role -> Nullable<Text>,
        action -> Text,
        target_kind -> Nullable<Text>,
        target_id -> Nullable<Text>,
        summary -> Nullable<Text>,
        request_id -> Nullable<Text>,
        client_ip -> Nullable<Text>,
    }
}

diesel::table! {
    rejection_templates (id) {
        id -> Text,
        period_id -> Text,
        text -> Text,
        sort_order -> Integer,
    }
}

diesel::table! {
    payment_orders (id) {
        id -> Text,
        registration_id -> Text,
        out_trade_no -> Text,
        openid -> Text,
        amount_fen -> BigInt,
        description -> Text,
        time_expire -> Timestamp,
        prepay_id -> Nullable<Text>,
        state -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    payments (id) {
        id -> Text,
        registration_id -> Text,
        method -> Text,
        source_key -> Text,
        out_trade_no -> Nullable<Text>,
        transaction_id -> Nullable<Text>,
        amount_fen -> BigInt,
        disposition -> Text,
        refund_cause -> Nullable<Text>,
        transfer_batch -> Nullable<Text>,
        received_at -> Timestamp,
        recorded_at -> Timestamp,
        recorded_by -> Nullable<Text>,
        note -> Nullable<Text>,
    }
}

diesel::table! {
    payment_notifications (id) {
        id -> Text,
        payment_id -> Text,
        event_type -> Text,
        received_at -> Timestamp,
    }
}

diesel::table! {
    refunds (id) {
        id -> Text,
        payment_id -> Text,
        registration_id -> Text,
        method -> Text,
        out_refund_no -> Nullable<Text>,
        amount_fen -> BigInt,
        reason -> Text,
        state -> Text,
        provider_refund_id -> Nullable<Text>,
        provider_status -> Nullable<Text>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        retry_of -> Nullable<Text>,
        superseded_by -> Nullable<Text>,
        offline_note -> Nullable<Text>,
        settled_by -> Nullable<Text>,
    }
}

diesel::table! {
    bank_transfers (registration_id) {
        registration_id -> Text,
        reference -> Text,
        declared_at -> Timestamp,
    }
}

diesel::table! {
    reconciliation_reports (bill_date) {
        bill_date -> Text,
        created_at -> Timestamp,
        bill_lines -> Integer,
        ledger_lines -> Integer,
        differences -> Text,
    }
}

diesel::table! {
    invoice_settings (scope) {
        scope -> Text,
        settings -> Text,
        updated_at -> Timestamp,
        updated_by -> Nullable<Text>,
    }
}

diesel::table! {
    invoice_exports (id) {
        id -> Text,
        period_id -> Text,
        filters -> Text,
        settings -> Text,
        invoice_count -> Integer,
        workbook -> Binary,
        created_at -> Timestamp,
        created_by -> Nullable<Text>,
    }
}

diesel::table! {
    invoices (id) {
        id -> Text,
        serial -> Text,
        period_id -> Text,
        kind -> Text,
        invoice_type -> Text,
        buyer -> Text,
        amount_fen -> BigInt,
        remark -> Text,
        state -> Text,
        number -> Nullable<Text>,
        issued_on -> Nullable<Text>,
        issued_recorded_at -> Nullable<Timestamp>,
        reversal_flagged_at -> Nullable<Timestamp>,
        reversed_at -> Nullable<Timestamp>,
        reversal_note -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    invoice_registrations (invoice_id, registration_id) {
        invoice_id -> Text,
        registration_id -> Text,
        name -> Text,
        paid_fen -> BigInt,
        left_at -> Nullable<Timestamp>,
        released_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    invoice_export_items (export_id, invoice_id) {
        export_id -> Text,
        invoice_id -> Text,
        position -> Integer,
    }
}

diesel::table! {
    unmatched_notifications (notification_id) {
        notification_id -> Text,
        event_type -> Text,
        reason -> Text,
        out_trade_no -> Text,
        out_refund_no -> Nullable<Text>,
        transaction_id -> Nullable<Text>,
        amount_fen -> BigInt,
        currency -> Nullable<Text>,
        occurred_at -> Nullable<Timestamp>,
        received_at -> Timestamp,
    }
}

diesel::table! {
    login_failure_windows (source) {
        source -> Text,
        window_start -> Timestamp,
        suppressed -> Integer,
    }
}

diesel::table! {
    cache_invalidations (id) {
        id -> BigInt,
        kind -> Text,
        key -> Text,
        created_at -> Timestamp,
    }
}
