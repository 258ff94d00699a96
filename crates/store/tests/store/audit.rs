//! The audit log: refused logins of unknown usernames collapsed per source.

use baoming_store::audit::{self, Actor, Entry, Filter};
use baoming_store::testing::{TestDb, now};
use chrono::Duration;

baoming_store::on_both_backends!(unknown_login_failures_collapse_per_source);

fn refusal(username: &str, ip: Option<&str>) -> Entry {
    Entry {
        actor: Actor {
            username: Some(username.into()),
            client_ip: ip.map(str::to_owned),
            ..Actor::default()
        },
        action: "login_failed".into(),
        target_kind: Some("staff".into()),
        target_id: None,
        summary: Some(serde_json::json!({ "why": "unknown or disabled user" })),
    }
}

fn unknown_login_failures_collapse_per_source(test: TestDb) {
    let mut conn = test.db.conn().expect("connection");
    let window = Duration::minutes(15);
    let at = |minutes: i64| now() + Duration::minutes(minutes);
    let mut record = |entry: &Entry, minute: i64| {
        audit::record_collapsed_login_failure(&mut conn, entry, window, at(minute)).expect("ok")
    };
    // One address: the first refusal is written, the next three within the window only count.
    assert!(record(&refusal("a1", Some("10.0.0.1")), 0));
    assert!(!record(&refusal("a2", Some("10.0.0.1")), 1));
    assert!(!record(&refusal("a1", Some("10.0.0.1")), 5));
    assert!(!record(&refusal("a3", Some("10.0.0.1")), 14));
    // Another address has its own window; without an address the username is the source.
    assert!(record(&refusal("b1", Some("10.0.0.2")), 2));
    assert!(record(&refusal("c1", None), 3));
    assert!(!record(&refusal("c1", None), 4));
    assert!(record(&refusal("c2", None), 4));
    // After the window the address's next refusal is written with the count.
    assert!(record(&refusal("a4", Some("10.0.0.1")), 16));
    assert!(!record(&refusal("a5", Some("10.0.0.1")), 17));
    // A window with nothing counted adds nothing to the next entry.
    assert!(record(&refusal("b2", Some("10.0.0.2")), 20));

    let rows = audit::list(&mut conn, &Filter { limit: 100, ..Filter::default() }).expect("list");
    let names: Vec<&str> = rows.iter().rev().filter_map(|r| r.username.as_deref()).collect();
    assert_eq!(names, ["a1", "b1", "c1", "c2", "a4", "b2"]);
    let summary = |name: &str| {
        rows.iter().find(|r| r.username.as_deref() == Some(name)).and_then(|r| r.summary.clone())
    };
    let a4 = summary("a4").expect("summary");
    assert_eq!(a4["refused_before"], 3, "{a4}");
    assert_eq!(a4["why"], "unknown or disabled user");
    let since = a4["refused_since"].as_str().expect("since");
    let since = chrono::DateTime::parse_from_rfc3339(since).expect("rfc3339");
    assert!((since.to_utc() - at(0)).num_seconds().abs() <= 1, "{since}");
    for quiet in ["a1", "b2", "c2"] {
        assert!(summary(quiet).expect("summary").get("refused_before").is_none(), "{quiet}");
    }
    // Only windows still open or holding a count are kept: c2's (opened at minute 4) was over
    // with nothing counted when 10.0.0.2 was refused at minute 20, and is gone; c1's holds a
    // count not written yet, and stays.
    use baoming_store::schema::login_failure_windows as w;
    use diesel::prelude::*;
    let mut kept: Vec<String> = w::table.select(w::source).load(&mut *conn).expect("windows");
    kept.sort();
    assert_eq!(kept, ["ip:10.0.0.1", "ip:10.0.0.2", "user:c1"]);
}
