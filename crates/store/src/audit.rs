//! The audit log of staff actions (append-only: the database refuses updates and deletes).

use baoming_domain::ids::StaffId;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::error::StoreError;
use crate::schema::audit_log as a;
use crate::sql;

/// Who did it, from where.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    /// The staff user, when known.
    pub staff: Option<StaffId>,
    /// The login name (as typed, for failed logins).
    pub username: Option<String>,
    /// The role acted in.
    pub role: Option<String>,
    /// The request.
    pub request_id: Option<String>,
    /// The client's address.
    pub client_ip: Option<String>,
}

/// One entry to write.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Who.
    pub actor: Actor,
    /// What (`login`, `login_failed`, `logout`, `approve`, `view_id_number`, `period_update`, …).
    pub action: String,
    /// The kind of thing acted on (`registration`, `period`, `participant`, `staff`).
    pub target_kind: Option<String>,
    /// Its id.
    pub target_id: Option<String>,
    /// A before/after summary (JSON), never personal data in clear.
    pub summary: Option<serde_json::Value>,
}

/// Appends an entry.
pub fn record(
    conn: &mut DbConnection,
    entry: &Entry,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let id: baoming_domain::ids::EventId = crate::new_id();
    diesel::insert_into(a::table)
        .values((
            a::id.eq(sql::text(id)),
            a::at.eq(sql::ts(now)),
            a::staff_id.eq(entry.actor.staff.map(sql::text)),
            a::username.eq(entry.actor.username.as_deref()),
            a::role.eq(entry.actor.role.as_deref()),
            a::action.eq(&entry.action),
            a::target_kind.eq(entry.target_kind.as_deref()),
            a::target_id.eq(entry.target_id.as_deref()),
            a::summary.eq(entry.summary.as_ref().map(ToString::to_string)),
            a::request_id.eq(entry.actor.request_id.as_deref()),
            a::client_ip.eq(entry.actor.client_ip.as_deref()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records a refused staff login for a username that does not exist (or is disabled),
/// collapsed per source: the client address, or the typed username when the address is not
/// known. The first refusal from a source writes `entry` and opens a window of `window`;
/// refusals within the window write no row, they are counted, and the count (with the window's
/// start) goes into the `summary` of the source's first entry after the window, as
/// `refused_before` and `refused_since`. Windows that ended without a refusal to count are
/// deleted on the way. Whether `entry` was written. One write transaction.
pub fn record_collapsed_login_failure(
    conn: &mut DbConnection,
    entry: &Entry,
    window: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    use crate::schema::login_failure_windows as w;
    let source = match (&entry.actor.client_ip, &entry.actor.username) {
        (Some(ip), _) => format!("ip:{ip}"),
        (None, Some(name)) => format!("user:{name}"),
        (None, None) => "unknown".to_owned(),
    };
    crate::db::write_tx(conn, |conn| {
        // Windows that are over and counted nothing carry nothing: dropped, so the table holds
        // only the sources refused lately.
        diesel::delete(
            w::table.filter(w::window_start.le(sql::ts(now - window))).filter(w::suppressed.eq(0)),
        )
        .execute(conn)?;
        // The source's row exists (a concurrent first refusal may have inserted it: then this
        // savepoint is rolled back and theirs is used), then it is locked (PostgreSQL; SQLite's
        // immediate transaction already serialises writers).
        let opened = crate::db::write_tx(conn, |conn| {
            diesel::insert_into(w::table)
                .values((
                    w::source.eq(&source),
                    w::window_start.eq(sql::ts(DateTime::<Utc>::UNIX_EPOCH)),
                    w::suppressed.eq(0),
                ))
                .execute(conn)
        });
        match opened {
            Ok(_) => {}
            Err(e) if StoreError::is_unique_violation(&e) => {}
            Err(e) => return Err(e.into()),
        }
        diesel::update(w::table.find(&source)).set(w::source.eq(w::source)).execute(conn)?;
        let (start, refused): (chrono::NaiveDateTime, i32) =
            w::table.find(&source).select((w::window_start, w::suppressed)).first(conn)?;
        if start > sql::ts(now - window) {
            diesel::update(w::table.find(&source))
                .set(w::suppressed.eq(w::suppressed + 1))
                .execute(conn)?;
            return Ok(false);
        }
        diesel::update(w::table.find(&source))
            .set((w::window_start.eq(sql::ts(now)), w::suppressed.eq(0)))
            .execute(conn)?;
        let mut entry = entry.clone();
        if refused > 0 {
            let mut summary = match entry.summary.take() {
                Some(serde_json::Value::Object(map)) => map,
                Some(other) => serde_json::Map::from_iter([("summary".to_owned(), other)]),
                None => serde_json::Map::new(),
            };
            summary.insert("refused_before".into(), refused.into());
            summary.insert("refused_since".into(), sql::utc(start).to_rfc3339().into());
            entry.summary = Some(summary.into());
        }
        record(conn, &entry, now)?;
        Ok(true)
    })
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// When.
    pub at: DateTime<Utc>,
    /// Staff id.
    pub staff_id: Option<String>,
    /// Login name.
    pub username: Option<String>,
    /// Role.
    pub role: Option<String>,
    /// Action.
    pub action: String,
    /// Target kind.
    pub target_kind: Option<String>,
    /// Target id.
    pub target_id: Option<String>,
    /// Summary.
    pub summary: Option<serde_json::Value>,
    /// Request id.
    pub request_id: Option<String>,
    /// Client IP.
    pub client_ip: Option<String>,
}

/// Filters of the audit list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this staff user.
    pub staff: Option<StaffId>,
    /// Only this action.
    pub action: Option<String>,
    /// Only this target id.
    pub target_id: Option<String>,
    /// From (inclusive).
    pub since: Option<DateTime<Utc>>,
    /// Until (exclusive).
    pub until: Option<DateTime<Utc>>,
    /// Page size (at most 500).
    pub limit: i64,
    /// Rows to skip.
    pub offset: i64,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = a)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct Row {
    at: chrono::NaiveDateTime,
    staff_id: Option<String>,
    username: Option<String>,
    role: Option<String>,
    action: String,
    target_kind: Option<String>,
    target_id: Option<String>,
    summary: Option<String>,
    request_id: Option<String>,
    client_ip: Option<String>,
}

impl TryFrom<Row> for Record {
    type Error = StoreError;

    fn try_from(row: Row) -> Result<Self, StoreError> {
        Ok(Record {
            at: sql::utc(row.at),
            staff_id: row.staff_id,
            username: row.username,
            role: row.role,
            action: row.action,
            target_kind: row.target_kind,
            target_id: row.target_id,
            summary: row
                .summary
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(StoreError::corrupt)?,
            request_id: row.request_id,
            client_ip: row.client_ip,
        })
    }
}

/// Entries, newest first.
pub fn list(conn: &mut DbConnection, filter: &Filter) -> Result<Vec<Record>, StoreError> {
    let mut query = a::table.into_boxed();
    if let Some(staff) = filter.staff {
        query = query.filter(a::staff_id.eq(sql::text(staff)));
    }
    if let Some(action) = &filter.action {
        query = query.filter(a::action.eq(action.clone()));
    }
    if let Some(target) = &filter.target_id {
        query = query.filter(a::target_id.eq(target.clone()));
    }
    if let Some(since) = filter.since {
        query = query.filter(a::at.ge(sql::ts(since)));
    }
    if let Some(until) = filter.until {
        query = query.filter(a::at.lt(sql::ts(until)));
    }
    query
        .order((a::at.desc(), a::id.desc()))
        .limit(filter.limit.clamp(1, 500))
        .offset(filter.offset.max(0))
        .select(Row::as_select())
        .load::<Row>(conn)?
        .into_iter()
        .map(Record::try_from)
        .collect()
}
