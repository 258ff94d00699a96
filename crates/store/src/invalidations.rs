//! The cache invalidation feed: how a change made through one api instance reaches the
//! in-process caches of every other instance.
//!
//! A change that makes something cached elsewhere wrong (a participant's logout or account
//! deletion revokes sessions; an admin edits or closes a period) [`record`]s what to forget in
//! the same transaction as the change. Every api instance reads the rows after the last one it
//! has seen ([`since`]) about once a second and drops those keys.
//!
//! Ids commit in increasing order, so "after the last id seen" misses nothing: SQLite has one
//! writer at a time, and on PostgreSQL [`record`] locks the table (`EXCLUSIVE`, which plain
//! reads do not wait for) before it inserts, so a later id is only handed out once the earlier
//! writer has committed or rolled back. The lock is held from the insert to the commit, which is
//! why callers record as the last write of their transaction.
//!
//! Rows are kept an hour ([`prune`]); an instance that could not read the feed for longer
//! forgets its caches whole instead.

use baoming_domain::ids::{PeriodId, SessionId};
use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::db::{DbConnection, write_tx};
use crate::error::StoreError;
use crate::schema::cache_invalidations as ci;
use crate::sql;

/// Something an instance may hold in memory that a change made wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Invalidation {
    /// A participant session that was revoked (logout, account deletion).
    Session(SessionId),
    /// A period whose details changed (edit, close).
    Period(PeriodId),
}

impl Invalidation {
    fn kind(self) -> &'static str {
        match self {
            Self::Session(_) => "session",
            Self::Period(_) => "period",
        }
    }

    fn key(self) -> String {
        match self {
            Self::Session(id) => sql::text(id),
            Self::Period(id) => sql::text(id),
        }
    }
}

/// A page of the feed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// What to forget, oldest first.
    pub items: Vec<Invalidation>,
    /// The id of the newest row read (`None`: nothing after the id asked about).
    pub last: Option<i64>,
}

/// Records what to forget, in the caller's transaction (or in one of its own when there is
/// none). Call it as the last write of the transaction: on PostgreSQL it locks the feed until
/// the commit.
pub fn record(
    conn: &mut DbConnection,
    items: &[Invalidation],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if items.is_empty() {
        return Ok(());
    }
    write_tx(conn, |conn| {
        if let DbConnection::Pg(pg) = conn {
            // Ids are handed out in commit order: the next writer waits for this one's commit.
            pg.batch_execute("LOCK TABLE cache_invalidations IN EXCLUSIVE MODE")?;
        }
        for item in items {
            diesel::insert_into(ci::table)
                .values((
                    ci::kind.eq(item.kind()),
                    ci::key.eq(item.key()),
                    ci::created_at.eq(sql::ts(now)),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// The rows after `after`, oldest first, at most `limit`. A row of a kind this version does
/// not know is passed over (a newer instance may write kinds an older one has no cache for).
pub fn since(conn: &mut DbConnection, after: i64, limit: i64) -> Result<Page, StoreError> {
    let rows: Vec<(i64, String, String)> = ci::table
        .filter(ci::id.gt(after))
        .order(ci::id)
        .limit(limit)
        .select((ci::id, ci::kind, ci::key))
        .load(conn)?;
    let mut page = Page { items: Vec::with_capacity(rows.len()), last: None };
    for (id, kind, key) in rows {
        page.last = Some(id);
        match kind.as_str() {
            "session" => page.items.push(Invalidation::Session(sql::id(&key)?)),
            "period" => page.items.push(Invalidation::Period(sql::id(&key)?)),
            _ => {}
        }
    }
    Ok(page)
}

/// The newest id of the feed (0 when it is empty and always was on SQLite; on PostgreSQL the
/// newest remaining row's, or 0). A reader starting from here has nothing to forget yet.
pub fn latest(conn: &mut DbConnection) -> Result<i64, StoreError> {
    let newest: Option<i64> = ci::table.select(diesel::dsl::max(ci::id)).first(conn)?;
    Ok(newest.unwrap_or(0))
}

/// Deletes the rows written before `before`: how many.
pub fn prune(conn: &mut DbConnection, before: DateTime<Utc>) -> Result<usize, StoreError> {
    Ok(diesel::delete(ci::table.filter(ci::created_at.lt(sql::ts(before)))).execute(conn)?)
}
