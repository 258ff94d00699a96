//! Invoices: settings, exports with stable serials, issued numbers, reversals (冲红).

use baoming_domain::Money;
use baoming_domain::ids::RegistrationId;
use baoming_domain::lifecycle::{Actor, Event, State};
use baoming_invoicing::{
    DraftKind, InvoiceItemSettings, InvoiceItemSettingsInput, InvoiceProgress, InvoiceSnapshot,
    InvoiceState, InvoiceType, TitleKind,
};
use baoming_store::audit;
use baoming_store::invoices::{
    self, ExportError, ExportFilter, ExportedInvoice, InvoiceFilter, IssuedOutcome, IssuedRow,
    Scope, SettingsSource,
};
use baoming_store::payments;
use baoming_store::testing::{TestDb, later, now};
use chrono::NaiveDate;

use super::*;

baoming_store::on_both_backends!(
    settings_of_a_period_win_over_the_global_ones,
    an_export_groups_joint_invoices_and_keeps_their_serials,
    issued_numbers_come_back_and_a_refund_flags_the_invoice_for_reversal,
    an_erased_participant_leaves_invoices_their_amounts_not_their_name,
);

fn actor() -> audit::Actor {
    audit::Actor { role: Some("finance".into()), ..audit::Actor::default() }
}

fn personal(name: &str) -> InvoiceSnapshot {
    InvoiceSnapshot {
        kind: TitleKind::Personal,
        invoice_type: InvoiceType::Normal,
        name: name.into(),
        tax_id: None,
        address: None,
        phone: None,
        bank: None,
        bank_account: None,
        email: Some("me@example.com".into()),
    }
}

/// A registration of a participant named `name`, with `title` (joint when `joint`), approved
/// and paid by transfer.
fn paid_with(w: &World, n: u32, name: &str, title: InvoiceSnapshot, joint: bool) -> RegistrationId {
    let mut p = profile(n);
    p.identity.name = Some(PersonName::parse(name).expect("name"));
    let (participant, photo) = w.f.participant_with(n, &p);
    let form = NewRegistration {
        invoice_snapshot: Some(title),
        joint_invoice_remark: joint.then(|| "与同事合开".to_owned()),
        ..w.f.form(participant, photo, "01")
    };
    let id = w.f.submit(&form);
    w.apply(id, Event::Approve, staff(Actor::Reviewer), now()).expect("approved");
    w.confirm_transfer(&[id], two_subject_fee(), staff(Actor::Finance), now()).expect("paid");
    id
}

fn company() -> InvoiceSnapshot {
    InvoiceSnapshot::from(&company_title())
}

/// Exports with a writer that keeps what it was given and answers its serials as bytes.
fn export(
    w: &World,
    filter: &ExportFilter,
) -> Result<(invoices::ExportSummary, Vec<ExportedInvoice>), ExportError<String>> {
    let mut seen = Vec::new();
    let summary =
        invoices::export(&mut w.conn(), w.period.id, filter, &actor(), later(1), |_, list| {
            seen = list.to_vec();
            Ok(list.iter().map(|i| i.serial.clone()).collect::<Vec<_>>().join(",").into_bytes())
        })?;
    Ok((summary, seen))
}

fn new_only() -> ExportFilter {
    ExportFilter { not_yet_exported: true, ..ExportFilter::default() }
}

fn settings_of_a_period_win_over_the_global_ones(test: TestDb) {
    let w = World::new(&test);
    let period = w.period.id;
    let got = invoices::settings(&mut w.conn(), Scope::Period(period)).expect("settings");
    assert_eq!(
        (got.source, got.settings.clone()),
        (SettingsSource::Default, InvoiceItemSettings::default())
    );
    let parse = |rate: &str, inclusive: bool| {
        InvoiceItemSettings::parse(&InvoiceItemSettingsInput {
            tax_rate: Some(rate.into()),
            prices_include_tax: Some(inclusive),
            ..Default::default()
        })
        .expect("settings")
    };
    invoices::save_settings(&mut w.conn(), Scope::Global, &parse("3%", true), &actor(), now())
        .expect("saved");
    let got = invoices::settings(&mut w.conn(), Scope::Period(period)).expect("settings");
    assert_eq!((got.source, got.settings.tax_rate.label()), (SettingsSource::Global, "3%".into()));
    invoices::save_settings(
        &mut w.conn(),
        Scope::Period(period),
        &parse("1%", false),
        &actor(),
        now(),
    )
    .expect("saved");
    let got = invoices::settings(&mut w.conn(), Scope::Period(period)).expect("settings");
    assert_eq!(got.source, SettingsSource::Period);
    assert_eq!(got.settings.tax_rate.label(), "1%");
    assert!(!got.settings.prices_include_tax);
    assert!(
        invoices::clear_period_settings(&mut w.conn(), period, &actor(), now()).expect("cleared")
    );
    let got = invoices::settings(&mut w.conn(), Scope::Period(period)).expect("settings");
    assert_eq!(got.source, SettingsSource::Global);
    let unknown = invoices::settings(&mut w.conn(), Scope::Period(baoming_store::new_id()));
    assert!(matches!(unknown, Err(StoreError::NotFound { .. })));
    let audit = audit::list(&mut w.conn(), &audit::Filter { limit: 50, ..Default::default() })
        .expect("audit");
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "invoice_settings_update").count(), 2);
    assert!(actions.contains(&"invoice_settings_clear"));
}

fn an_export_groups_joint_invoices_and_keeps_their_serials(test: TestDb) {
    let w = World::new(&test);
    let a = paid_with(&w, 1, "张三", company(), true);
    let b = paid_with(&w, 2, "李四", company(), true);
    let c = paid_with(&w, 3, "王五", company(), true);
    let own = paid_with(&w, 4, "赵六", personal("赵六"), false);
    // Not invoiceable: unpaid, and a registration without a title.
    approved(&w, 5);
    w.f.in_state(6, "01", State::Paid);

    let (summary, list) = export(&w, &new_only()).expect("exported");
    assert_eq!((summary.invoices, summary.new_invoices, summary.registrations), (2, 2, 4));
    let joint = list.iter().find(|i| i.draft.kind() == DraftKind::Joint).expect("joint");
    assert_eq!(joint.draft.names().collect::<Vec<_>>(), ["张三", "李四", "王五"]);
    assert_eq!(joint.draft.amount().get(), 3 * seed::TWO_SUBJECT_FEE_FEN);
    let single = list.iter().find(|i| i.draft.kind() == DraftKind::Single).expect("single");
    assert!(single.draft.is_natural_person());
    for item in &list {
        assert!(item.serial.starts_with("FP2026050") && item.serial.len() == 14, "{}", item.serial);
    }
    // Remembered: which registrations each covers, and the workbook.
    let stored = invoices::list(&mut w.conn(), &InvoiceFilter::default(), 100).expect("list");
    assert_eq!(stored.len(), 2);
    let joint_row = stored.iter().find(|i| i.serial == joint.serial).expect("stored");
    let mut covered: Vec<RegistrationId> =
        joint_row.covers.iter().map(|c| c.registration).collect();
    covered.sort();
    let mut expected = vec![a, b, c];
    expected.sort();
    assert_eq!(covered, expected);
    assert_eq!(joint_row.state, InvoiceState::Exported);
    let (_, _, bytes) = invoices::export_workbook(&mut w.conn(), summary.id).expect("kept");
    let mut serials: Vec<String> = list.iter().map(|i| i.serial.clone()).collect();
    assert_eq!(String::from_utf8(bytes).expect("text"), serials.join(","));

    // Nothing new: refused. Everything not issued again: the same serials and content.
    assert!(matches!(export(&w, &new_only()), Err(ExportError::NothingToInvoice)));
    let (again, list) = export(&w, &ExportFilter::default()).expect("exported again");
    assert_eq!((again.invoices, again.new_invoices), (2, 0));
    let mut serials_again: Vec<String> = list.iter().map(|i| i.serial.clone()).collect();
    serials.sort();
    serials_again.sort();
    assert_eq!(serials, serials_again);
    let same = list.iter().find(|i| i.serial == joint.serial).expect("same invoice");
    assert_eq!(same.draft, joint.draft);
    // A later payment gets its own invoice, with the next serial; employer filter applies.
    let late = paid_with(&w, 7, "钱七", personal("钱七"), false);
    let none = ExportFilter { employer: Some("别家".into()), ..new_only() };
    assert!(matches!(export(&w, &none), Err(ExportError::NothingToInvoice)));
    let (third, list) = export(&w, &new_only()).expect("exported");
    assert_eq!((third.invoices, third.new_invoices), (1, 1));
    assert_eq!(list[0].draft.keys().collect::<Vec<_>>(), [late.to_string()]);
    let max = serials.iter().max().expect("serials");
    assert!(list[0].serial > *max, "{} after {max}", list[0].serial);
    // The participant sees 待开票 until issued.
    let seen = invoices::progress_of(&mut w.conn(), &[(own, State::Paid, true)]).expect("progress");
    assert_eq!(seen.get(&own).map(|v| v.progress), Some(InvoiceProgress::Pending));
    assert_eq!(invoices::exports(&mut w.conn(), Some(w.period.id), 10).expect("exports").len(), 3);
}

fn issued_numbers_come_back_and_a_refund_flags_the_invoice_for_reversal(test: TestDb) {
    let w = World::new(&test);
    let a = paid_with(&w, 1, "张三", company(), true);
    let b = paid_with(&w, 2, "李四", company(), true);
    let c = paid_with(&w, 3, "王五", company(), true);
    let own = paid_with(&w, 4, "赵六", personal("赵六"), false);
    let (_, list) = export(&w, &new_only()).expect("exported");
    let joint =
        list.iter().find(|i| i.draft.kind() == DraftKind::Joint).expect("joint").serial.clone();
    let single =
        list.iter().find(|i| i.draft.kind() == DraftKind::Single).expect("single").serial.clone();
    let day = NaiveDate::from_ymd_opt(2026, 5, 20).expect("date");
    let row = |row: u32, serial: &str, number: &str| IssuedRow {
        row,
        serial: serial.into(),
        number: number.into(),
        issued_on: day,
    };
    let results = invoices::record_issued(
        &mut w.conn(),
        &[
            row(4, &joint, "26352000000000000001"),
            row(5, "FP209912999999", "26352000000000000002"),
            row(6, &single, "26352000000000000001"),
        ],
        &actor(),
        later(2),
    )
    .expect("imported");
    assert_eq!(results[0].outcome, IssuedOutcome::Issued { flagged_for_reversal: false });
    assert_eq!(results[1].outcome, IssuedOutcome::UnknownSerial);
    assert_eq!(results[2].outcome, IssuedOutcome::NumberTaken { serial: joint.clone() });
    // Again: already recorded; the single one with its own number.
    let results = invoices::record_issued(
        &mut w.conn(),
        &[row(4, &joint, "26352000000000000001"), row(6, &single, "26352000000000000003")],
        &actor(),
        later(2),
    )
    .expect("imported");
    assert_eq!(results[0].outcome, IssuedOutcome::AlreadyIssued);
    assert_eq!(results[1].outcome, IssuedOutcome::Issued { flagged_for_reversal: false });
    let seen =
        invoices::progress_of(&mut w.conn(), &[(a, State::Paid, true), (own, State::Paid, true)])
            .expect("progress");
    assert_eq!(seen[&a].progress, InvoiceProgress::Issued);
    assert_eq!(seen[&a].number.as_deref(), Some("26352000000000000001"));
    assert_eq!(seen[&a].issued_on, Some(day));
    // A list longer than a participant's few (one `IN` query instead of one `=` per
    // registration) sees the same: here with three paid registrations that have no invoice rows.
    let others: Vec<_> =
        (0..3).map(|_| (baoming_store::new_id::<RegistrationId>(), State::Paid, true)).collect();
    let mut short = seen.clone();
    short.extend(invoices::progress_of(&mut w.conn(), &others).expect("progress"));
    let long = [vec![(a, State::Paid, true), (own, State::Paid, true)], others].concat();
    assert_eq!(invoices::progress_of(&mut w.conn(), &long).expect("progress"), short);
    assert_eq!(short.len(), 5);

    // 李四 is refunded (a transfer, returned by finance): the joint invoice is flagged whole.
    let me = w.owner(b);
    w.apply(b, Event::RequestRefund { reason: reason("单位另有安排") }, me, later(3))
        .expect("asked");
    w.apply(b, Event::ApproveRefund, staff(Actor::Finance), later(3)).expect("approved");
    let refund = payments::list_payments(
        &mut w.conn(),
        &payments::PaymentFilter { registration: Some(b), ..Default::default() },
        5,
    )
    .expect("ledger")[0]
        .refund_id
        .expect("refund");
    payments::returned_by_finance(
        &mut w.conn(),
        refund,
        &ctx(staff(Actor::Finance), later(4)),
        &actor(),
    )
    .expect("returned");
    assert_eq!(w.state(b), State::Refunded);
    let flagged = invoices::list(
        &mut w.conn(),
        &InvoiceFilter { to_reverse: true, ..Default::default() },
        10,
    )
    .expect("flagged");
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0].serial, joint);
    let left: Vec<&str> =
        flagged[0].covers.iter().filter(|c| c.left_at.is_some()).map(|c| c.name.as_str()).collect();
    assert_eq!(left, ["李四"]);
    let seen =
        invoices::progress_of(&mut w.conn(), &[(b, State::Refunded, true)]).expect("progress");
    assert_eq!(seen[&b].progress, InvoiceProgress::ReversalPending);

    // Finance reverses it: the two who stay are invoiced anew, 李四 sees 已冲红.
    let reversed = invoices::mark_reversed(
        &mut w.conn(),
        flagged[0].id,
        Some("红字发票 26352000000000000009"),
        &actor(),
        later(5),
    )
    .expect("reversed");
    assert_eq!(reversed.state, InvoiceState::Reversed);
    assert!(
        invoices::list(
            &mut w.conn(),
            &InvoiceFilter { to_reverse: true, ..Default::default() },
            10
        )
        .expect("flagged")
        .is_empty()
    );
    let again = invoices::mark_reversed(&mut w.conn(), flagged[0].id, None, &actor(), later(5));
    assert!(matches!(again, Err(invoices::InvoiceActionError::NotIssued(InvoiceState::Reversed))));
    let (summary, list) = export(&w, &new_only()).expect("exported");
    assert_eq!(summary.new_invoices, 1);
    assert_eq!(list[0].draft.names().collect::<Vec<_>>(), ["张三", "王五"]);
    let mut keys: Vec<String> = list[0].draft.keys().map(str::to_owned).collect();
    keys.sort();
    let mut expected = vec![a.to_string(), c.to_string()];
    expected.sort();
    assert_eq!(keys, expected);
    let seen =
        invoices::progress_of(&mut w.conn(), &[(b, State::Refunded, true), (a, State::Paid, true)])
            .expect("progress");
    assert_eq!(seen[&b].progress, InvoiceProgress::Reversed);
    assert_eq!(seen[&a].progress, InvoiceProgress::Pending);

    // An exported invoice not yet issued may be cancelled; its people are invoiced anew.
    let new_invoice = invoices::list(
        &mut w.conn(),
        &InvoiceFilter { state: Some(InvoiceState::Exported), ..Default::default() },
        10,
    )
    .expect("list");
    assert_eq!(new_invoice.len(), 1);
    invoices::cancel(&mut w.conn(), new_invoice[0].id, &actor(), later(6)).expect("cancelled");
    let (summary, _) = export(&w, &new_only()).expect("exported");
    assert_eq!(summary.new_invoices, 1);
    let audit = audit::list(&mut w.conn(), &audit::Filter { limit: 100, ..Default::default() })
        .expect("audit");
    for action in ["invoice_export", "invoice_import", "invoice_reversed", "invoice_cancelled"] {
        assert!(audit.iter().any(|e| e.action == action), "{action} not audited");
    }
    let _ = Money::ZERO;
}

/// Erasure (retention or account deletion) keeps the invoices' amounts, serials and coverage
/// and takes the participant's name out of them: a natural person's buyer, the joint remark,
/// the covered registration's name. The others' names stay.
fn an_erased_participant_leaves_invoices_their_amounts_not_their_name(test: TestDb) {
    use baoming_store::privacy::{self, ERASED_NAME, ErasureReason};
    let w = World::new(&test);
    let a = paid_with(&w, 1, "张三", company(), true);
    paid_with(&w, 2, "李四", company(), true);
    let own = paid_with(&w, 4, "赵六", personal("赵六"), false);
    export(&w, &new_only()).expect("exported");
    let before = invoices::list(&mut w.conn(), &InvoiceFilter::default(), 100).expect("list");
    let erase = |id: RegistrationId| {
        privacy::erase_participant(
            &mut w.conn(),
            w.f.owner(id),
            ErasureReason::Retention,
            &audit::Actor::default(),
            later(2),
        )
        .expect("erased")
    };
    assert_eq!(erase(a).invoices, 1);
    assert_eq!(erase(own).invoices, 1);
    let after = invoices::list(&mut w.conn(), &InvoiceFilter::default(), 100).expect("list");
    assert_eq!(after.len(), before.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!((&b.serial, b.amount_fen, &b.state), (&a.serial, a.amount_fen, &a.state));
        assert_eq!(b.covers.len(), a.covers.len());
    }
    let joint = after.iter().find(|i| i.kind == "joint").expect("joint");
    assert!(!joint.remark.contains("张三") && joint.remark.contains("李四"), "{}", joint.remark);
    assert!(joint.remark.contains(ERASED_NAME));
    assert_eq!(joint.buyer, company(), "a company buyer stays");
    let names: Vec<&str> = joint.covers.iter().map(|c| c.name.as_str()).collect();
    assert!(names.contains(&ERASED_NAME) && names.contains(&"李四"), "{names:?}");
    let single = after.iter().find(|i| i.kind == "single").expect("single");
    assert_eq!(single.buyer.name, ERASED_NAME);
    assert_eq!(single.buyer.email, None);
    assert!(!single.remark.contains("赵六"), "{}", single.remark);
}
