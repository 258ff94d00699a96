//! `docs/lifecycle.md` checked against the state machine.
//!
//! The document's tables are parsed and compared with what `decide` and `submit` really do:
//! every state, event and actor is tried under a grid of facts (times around each deadline,
//! seat answers, payment facts, flags, payment methods and check-in proofs), and
//!
//! - an event the document has no row for must be refused as `not_allowed_in_state`;
//! - an actor a row does not name must be refused as `forbidden_for_actor`;
//! - for the actors a row names, the outcomes seen (new state and flag, accepted repeats) must
//!   be exactly the row's "to" column, the refusal codes seen exactly those the row names, and
//!   the side effects seen exactly those the row names; each named actor must succeed somehow.
//!
//! The states table (tags, tabs, seats, final states), the actors and the actions are checked
//! too.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use baoming_domain::lifecycle::{
    Action, Actor, CheckInProof, Effect, Event, EventKind, Facts, Flag, PaymentFacts,
    PaymentMethod, Reason, Refusal, SeatAnswer, State, Status, Step, SubmitFacts, Tab, Tag,
    Unchanged, decide, submit,
};
use baoming_domain::money::Money;
use baoming_domain::period::{Schedule, ScheduleInput};
use chrono::{DateTime, Duration, TimeZone, Utc};

const DOC: &str = include_str!("../../../docs/lifecycle.md");

// ---------------------------------------------------------------------------------------------
// Reading the document.

/// The rows (cells, trimmed) of the first table after the heading `heading`, without the header
/// and separator rows.
fn table(heading: &str) -> Vec<Vec<String>> {
    let mut lines = DOC.lines().skip_while(|line| line.trim() != heading);
    assert!(lines.next().is_some(), "docs/lifecycle.md has no heading {heading:?}");
    let rows: Vec<Vec<String>> = lines
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
            inner.split('|').map(|cell| cell.trim().to_owned()).collect()
        })
        .collect();
    assert!(rows.len() > 2, "the table under {heading:?} is empty");
    let width = rows[0].len();
    for row in &rows {
        assert_eq!(row.len(), width, "a row of the table under {heading:?} has {row:?}");
    }
    rows.into_iter().skip(2).collect()
}

/// The backticked codes of a cell, in order.
fn codes(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

fn code_of<T: serde::Serialize>(value: T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(code)) => code,
        Ok(serde_json::Value::Object(map)) if map.len() == 1 => {
            map.keys().next().cloned().unwrap_or_default()
        }
        other => panic!("not a code: {other:?}"),
    }
}

/// Every refusal (the match makes a new variant a compile error here).
fn all_refusals() -> Vec<Refusal> {
    let fen = Money::from_fen(1).expect("money");
    let all = vec![
        Refusal::NotInTable,
        Refusal::WrongActor,
        Refusal::RegistrationClosed,
        Refusal::ProfileIncomplete,
        Refusal::PhotoMissing,
        Refusal::InvalidChoice,
        Refusal::DuplicateRegistration,
        Refusal::Full,
        Refusal::PaymentInFlight,
        Refusal::PaymentClosed,
        Refusal::NothingToPay,
        Refusal::AmountMismatch { expected: fen, received: fen },
        Refusal::CheckInClosed,
        Refusal::VenueCodeRequired,
        Refusal::CancelRefundFirst,
        Refusal::DeadlineNotReached,
        Refusal::SittingNotEnded,
        Refusal::SeatNotAsked,
        Refusal::RefundNotFailed,
    ];
    for refusal in &all {
        match refusal {
            Refusal::NotInTable
            | Refusal::WrongActor
            | Refusal::RegistrationClosed
            | Refusal::ProfileIncomplete
            | Refusal::PhotoMissing
            | Refusal::InvalidChoice
            | Refusal::DuplicateRegistration
            | Refusal::Full
            | Refusal::PaymentInFlight
            | Refusal::PaymentClosed
            | Refusal::NothingToPay
            | Refusal::AmountMismatch { .. }
            | Refusal::CheckInClosed
            | Refusal::VenueCodeRequired
            | Refusal::CancelRefundFirst
            | Refusal::DeadlineNotReached
            | Refusal::SittingNotEnded
            | Refusal::SeatNotAsked
            | Refusal::RefundNotFailed => {}
        }
    }
    all
}

/// Every side effect's code (the match makes a new variant a compile error here).
fn effect_codes() -> BTreeSet<String> {
    let all = [
        Effect::CloseProviderOrder,
        Effect::StartProviderRefund,
        Effect::ReturnTransferByHand,
        Effect::ReverseInvoice,
    ];
    for effect in all {
        match effect {
            Effect::CloseProviderOrder
            | Effect::StartProviderRefund
            | Effect::ReturnTransferByHand
            | Effect::ReverseInvoice => {}
        }
    }
    all.into_iter().map(code_of).collect()
}

/// Every accepted repeat's code.
fn unchanged_codes() -> BTreeSet<String> {
    let all = [
        Unchanged::AlreadyPaid,
        Unchanged::AlreadyCheckedIn,
        Unchanged::AlreadyFlagged,
        Unchanged::OrderStillOpen,
    ];
    for unchanged in all {
        match unchanged {
            Unchanged::AlreadyPaid
            | Unchanged::AlreadyCheckedIn
            | Unchanged::AlreadyFlagged
            | Unchanged::OrderStillOpen => {}
        }
    }
    all.into_iter().map(code_of).collect()
}

/// What an attempt led to, short of a refusal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Moved(State, Option<Flag>),
    Unchanged(String),
}

/// One row of the transition table, for one "from" state (`None`: not yet registered).
#[derive(Debug, Clone)]
struct Row {
    line: String,
    from: Option<State>,
    event: EventKind,
    by: Vec<Actor>,
    outcomes: BTreeSet<Outcome>,
    refusals: BTreeSet<String>,
    effects: BTreeSet<String>,
}

fn transition_rows() -> Vec<Row> {
    let refusal_codes: BTreeSet<String> =
        all_refusals().iter().map(|r| r.code().to_owned()).collect();
    let effect_codes = effect_codes();
    let unchanged_codes = unchanged_codes();
    let mut rows = Vec::new();
    for cells in table("## Transitions") {
        let line = cells.join(" | ");
        let [from, event, by, to, guard] = &cells[..] else {
            panic!("a transition row needs 5 cells: {line}");
        };
        let from: Vec<Option<State>> = if from == "—" {
            vec![None]
        } else {
            codes(from)
                .into_iter()
                .map(|code| Some(State::parse(code).unwrap_or_else(|e| panic!("{e}: {line}"))))
                .collect()
        };
        let event = match codes(event)[..] {
            [code] => EventKind::parse(code).unwrap_or_else(|e| panic!("{e}: {line}")),
            _ => panic!("one event per row: {line}"),
        };
        let by: Vec<Actor> = codes(by)
            .into_iter()
            .map(|code| Actor::parse(code).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect();
        assert!(!by.is_empty(), "no actor: {line}");
        let mut outcomes = BTreeSet::new();
        let mut refusals = BTreeSet::new();
        for part in to.split(" or ") {
            let part = part.trim();
            let found = codes(part);
            if part.starts_with("unchanged") {
                let [code] = found[..] else { panic!("unchanged (`code`): {line}") };
                assert!(unchanged_codes.contains(code), "no such repeat {code:?}: {line}");
                outcomes.insert(Outcome::Unchanged(code.to_owned()));
            } else if part.starts_with("refused") {
                let [code] = found[..] else { panic!("refused (`code`): {line}") };
                assert!(refusal_codes.contains(code), "no such refusal {code:?}: {line}");
                refusals.insert(code.to_owned());
            } else {
                let state = State::parse(found.first().copied().unwrap_or_default())
                    .unwrap_or_else(|e| panic!("{e}: {line}"));
                let flag = match (part.contains(" flagged "), &found[..]) {
                    (false, [_]) => None,
                    (true, [_, flag]) => {
                        Some(Flag::parse(flag).unwrap_or_else(|e| panic!("{e}: {line}")))
                    }
                    _ => panic!("`state` or `state` flagged `flag`: {line}"),
                };
                outcomes.insert(Outcome::Moved(state, flag));
            }
        }
        let mut effects = BTreeSet::new();
        for code in codes(guard) {
            if refusal_codes.contains(code) {
                refusals.insert(code.to_owned());
            } else if effect_codes.contains(code) {
                effects.insert(code.to_owned());
            }
        }
        for from in from {
            rows.push(Row {
                line: line.clone(),
                from,
                event,
                by: by.clone(),
                outcomes: outcomes.clone(),
                refusals: refusals.clone(),
                effects: effects.clone(),
            });
        }
    }
    rows
}

// ---------------------------------------------------------------------------------------------
// The grid of facts.

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).single().expect("valid date")
}

/// Registration 1–10 May, payment deadline 12 May, check-in 20 May 07:00–09:00, the sitting
/// ends 20 May 17:00.
fn schedule() -> Schedule {
    Schedule::new(ScheduleInput {
        registration_opens: t0(),
        registration_closes: t0() + Duration::days(9),
        payment_deadline: Some(t0() + Duration::days(11)),
        checkin_opens: t0() + Duration::days(19) + Duration::hours(7),
        checkin_closes: t0() + Duration::days(19) + Duration::hours(9),
        exam_ends: t0() + Duration::days(19) + Duration::hours(17),
    })
    .expect("valid schedule")
}

/// Hours after `t0`: before registration, during it, between its end and the payment deadline,
/// after the deadline, during check-in, after check-in, after the sitting.
const HOURS: [i64; 7] = [-24, 24, 24 * 10, 24 * 15, 24 * 19 + 8, 24 * 19 + 12, 24 * 21];

fn fee() -> Money {
    Money::from_fen(128_000).expect("fee")
}

fn all_facts() -> Vec<Facts> {
    let mut all = Vec::new();
    for hours in HOURS {
        for period_closed in [false, true] {
            for seat in [SeatAnswer::NotAsked, SeatAnswer::Taken, SeatAnswer::Full] {
                for paid_via in
                    [None, Some(PaymentMethod::WechatPay), Some(PaymentMethod::BankTransfer)]
                {
                    for open_order in [false, true] {
                        for in_flight in [false, true] {
                            all.push(Facts {
                                now: t0() + Duration::hours(hours),
                                schedule: schedule(),
                                period_closed,
                                fee: fee(),
                                seat,
                                payment: PaymentFacts { paid_via, open_order, in_flight },
                            });
                        }
                    }
                }
            }
        }
    }
    all
}

/// The flags a registration in `state` can carry.
fn flags(state: State) -> Vec<Option<Flag>> {
    match state {
        State::AwaitingTransfer => vec![None, Some(Flag::TransferOverdue)],
        State::Refunding => vec![None, Some(Flag::RefundFailed)],
        _ => vec![None],
    }
}

fn reason() -> Reason {
    Reason::parse("资料不全").expect("reason")
}

/// Every form an event of `kind` can take (amounts: the fee and one fen more).
fn events(kind: EventKind) -> Vec<Event> {
    let amounts = [fee(), Money::from_fen(128_001).expect("money")];
    let methods = [PaymentMethod::WechatPay, PaymentMethod::BankTransfer];
    let proofs = [CheckInProof::RotatingCode, CheckInProof::StaticCode, CheckInProof::Staff];
    match kind {
        EventKind::Submit => vec![Event::Submit],
        EventKind::Resubmit => vec![Event::Resubmit],
        EventKind::Withdraw => vec![Event::Withdraw],
        EventKind::Approve => vec![Event::Approve],
        EventKind::Reject => vec![Event::Reject { reason: reason() }],
        EventKind::DeclareTransfer => vec![Event::DeclareTransfer],
        EventKind::TransferNotReceived => vec![Event::TransferNotReceived { note: reason() }],
        EventKind::ConfirmPayment => amounts
            .iter()
            .flat_map(|&amount| methods.map(|via| Event::ConfirmPayment { amount, via }))
            .collect(),
        EventKind::CheckIn => proofs.map(|proof| Event::CheckIn { proof, venue: None }).to_vec(),
        EventKind::RequestRefund => vec![Event::RequestRefund { reason: reason() }],
        EventKind::CancelRefundRequest => vec![Event::CancelRefundRequest],
        EventKind::ApproveRefund => vec![Event::ApproveRefund],
        EventKind::DenyRefund => vec![Event::DenyRefund { reason: reason() }],
        EventKind::RefundSucceeded => vec![Event::RefundSucceeded],
        EventKind::RefundFailed => vec![Event::RefundFailed { reason: reason() }],
        EventKind::RetryRefund => vec![Event::RetryRefund],
        EventKind::PaymentDeadlinePassed => vec![Event::PaymentDeadlinePassed],
        EventKind::SittingEnded => vec![Event::SittingEnded],
    }
}

/// What the attempts of one actor led to.
#[derive(Debug, Default)]
struct Seen {
    outcomes: BTreeSet<Outcome>,
    refusals: BTreeSet<String>,
    effects: BTreeSet<String>,
}

// ---------------------------------------------------------------------------------------------
// The checks.

/// Compares what the actors of `row` saw with the row, and the other actors with a refusal.
fn check_row(row: &Row, seen: &HashMap<Actor, Seen>) {
    let mut union = Seen::default();
    for actor in Actor::ALL {
        let Some(s) = seen.get(&actor) else { continue };
        if row.by.contains(&actor) {
            assert!(
                row.outcomes.is_empty() || !s.outcomes.is_empty(),
                "{actor:?} never succeeds, though the row names it: {}",
                row.line
            );
            union.outcomes.extend(s.outcomes.iter().cloned());
            union.refusals.extend(s.refusals.iter().cloned());
            union.effects.extend(s.effects.iter().cloned());
        } else {
            assert!(
                s.outcomes.is_empty()
                    && s.refusals.iter().all(|code| code == "forbidden_for_actor"),
                "{actor:?} is not named by the row, yet got {:?} and {:?}: {}",
                s.outcomes,
                s.refusals,
                row.line
            );
        }
    }
    assert_eq!(union.outcomes, row.outcomes, "outcomes of the row: {}", row.line);
    assert_eq!(union.refusals, row.refusals, "refusal codes of the row: {}", row.line);
    assert_eq!(union.effects, row.effects, "effects of the row: {}", row.line);
}

#[test]
fn the_transition_table_is_what_decide_does() {
    let rows = transition_rows();
    let mut by_key: BTreeMap<(Option<State>, EventKind), &Row> = BTreeMap::new();
    for row in &rows {
        if let Some(other) = by_key.insert((row.from, row.event), row) {
            panic!("two rows for {:?} {:?}: {} / {}", row.from, row.event, other.line, row.line);
        }
    }
    let grid = all_facts();
    let mut checked = 0;
    for &state in State::ALL {
        for &kind in EventKind::ALL {
            let row = by_key.get(&(Some(state), kind)).copied();
            let mut seen: HashMap<Actor, Seen> = HashMap::new();
            for actor in Actor::ALL {
                let s = seen.entry(actor).or_default();
                for flag in flags(state) {
                    let status = Status { state, flag };
                    for event in events(kind) {
                        for facts in &grid {
                            match decide(status, &event, actor, facts) {
                                Ok(Step::Moved(d)) => {
                                    assert_eq!((d.from, d.event), (status, kind));
                                    s.outcomes.insert(Outcome::Moved(d.to.state, d.to.flag));
                                    s.effects.extend(d.effects.into_iter().map(code_of));
                                }
                                Ok(Step::Unchanged(why)) => {
                                    s.outcomes.insert(Outcome::Unchanged(code_of(why)));
                                }
                                Err(e) => {
                                    assert_eq!((e.state, e.event), (Some(state), kind));
                                    s.refusals.insert(e.refusal.code().to_owned());
                                }
                            }
                        }
                    }
                }
            }
            match row {
                Some(row) => {
                    check_row(row, &seen);
                    checked += 1;
                }
                None => {
                    for (actor, s) in &seen {
                        assert!(
                            s.outcomes.is_empty()
                                && s.refusals.iter().all(|code| code == "not_allowed_in_state"),
                            "`{state}` + `{kind}` by {actor:?} is not in docs/lifecycle.md's \
                             table, yet decide answers {:?} / {:?} (effects {:?})",
                            s.outcomes,
                            s.refusals,
                            s.effects
                        );
                    }
                }
            }
        }
    }
    let with_state = rows.iter().filter(|row| row.from.is_some()).count();
    assert_eq!(checked, with_state, "a row names an event decide does not know");
}

#[test]
fn the_submit_row_is_what_submit_does() {
    let rows = transition_rows();
    let submits: Vec<&Row> = rows.iter().filter(|row| row.from.is_none()).collect();
    let [row] = submits[..] else { panic!("one row from `—` (a new registration)") };
    assert_eq!(row.event, EventKind::Submit);
    let mut seen: HashMap<Actor, Seen> = HashMap::new();
    let flags = [false, true];
    for actor in Actor::ALL {
        let s = seen.entry(actor).or_default();
        for hours in HOURS {
            for period_closed in flags {
                for profile_complete in flags {
                    for photo_accepted in flags {
                        for choice_valid in flags {
                            for has_live_registration in flags {
                                let facts = SubmitFacts {
                                    now: t0() + Duration::hours(hours),
                                    schedule: schedule(),
                                    period_closed,
                                    profile_complete,
                                    photo_accepted,
                                    choice_valid,
                                    has_live_registration,
                                };
                                match submit(actor, &facts) {
                                    Ok(status) => {
                                        s.outcomes
                                            .insert(Outcome::Moved(status.state, status.flag));
                                    }
                                    Err(e) => {
                                        assert_eq!((e.state, e.event), (None, EventKind::Submit));
                                        s.refusals.insert(e.refusal.code().to_owned());
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    check_row(row, &seen);
}

#[test]
fn the_states_table_is_what_the_code_derives() {
    let rows = table("## States, tags and tabs");
    let yes_no = |cell: &str| match cell {
        "yes" => true,
        "no" => false,
        other => panic!("yes or no, not {other:?}"),
    };
    let mut listed = Vec::new();
    for cells in &rows {
        let [state, tag, label, tab, seat, last] = &cells[..] else {
            panic!("a state row needs 6 cells: {cells:?}");
        };
        let state = State::parse(codes(state)[0]).expect("a state code");
        listed.push(state);
        let expected_tag = Tag::of(state);
        assert_eq!(codes(tag), [expected_tag.as_str()], "tag of {state}");
        assert_eq!(label, expected_tag.label_zh(Tab::PendingReview), "标签 of {state}");
        let expected_tab = Tab::of(state, false);
        assert_eq!(
            tab,
            &format!("`{}` {}", expected_tab.as_str(), expected_tab.label_zh()),
            "tab of {state}"
        );
        assert_eq!(yes_no(seat), state.holds_seat(), "seat of {state}");
        assert_eq!(yes_no(last), state.is_terminal(), "final: {state}");
    }
    assert_eq!(listed, State::ALL, "every state once, in the code's order");
    for &state in State::ALL {
        assert_eq!(Tab::of(state, true), Tab::Expired, "after the sitting everything is 已过期");
    }
}

#[test]
fn every_actor_and_action_is_described() {
    let actors = table("## Who acts");
    let actors: Vec<&str> = actors.iter().map(|cells| codes(&cells[0])[0]).collect();
    assert_eq!(actors, Actor::ALL.map(Actor::as_str));
    let actions = table("## What the participant can do: actions");
    let actions: Vec<&str> = actions.iter().map(|cells| codes(&cells[0])[0]).collect();
    assert_eq!(actions, Action::ALL.map(Action::as_str));
}
