//! Back-office staff users.

use baoming_accounts::{DisplayName, FailureState, Roles, Username};
use baoming_domain::ids::StaffId;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::error::StoreError;
use crate::schema::staff_users as s;
use crate::sql;

/// A staff user.
#[derive(Debug, Clone)]
pub struct StaffUser {
    /// Id.
    pub id: StaffId,
    /// Login name.
    pub username: String,
    /// Shown name.
    pub display_name: String,
    /// Roles held.
    pub roles: Roles,
    /// Disabled users cannot log in.
    pub enabled: bool,
    /// Failed logins and lock.
    pub failures: FailureState,
    /// Argon2id PHC string.
    pub password_hash: String,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = s)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct Row {
    id: String,
    username: String,
    display_name: String,
    roles: String,
    enabled: bool,
    failed_logins: i32,
    locked_until: Option<chrono::NaiveDateTime>,
    password_hash: String,
    login_in_flight: i32,
    login_reserved_at: Option<chrono::NaiveDateTime>,
}

fn from_row(row: Row) -> Result<StaffUser, StoreError> {
    let Row {
        id,
        username,
        display_name,
        roles,
        enabled,
        failed_logins: failed,
        locked_until,
        password_hash,
        login_in_flight,
        login_reserved_at,
    } = row;
    Ok(StaffUser {
        id: sql::id(&id)?,
        username,
        display_name,
        roles: Roles::parse(&roles).map_err(StoreError::corrupt)?,
        enabled,
        failures: FailureState {
            failed_logins: u32::try_from(failed).map_err(StoreError::corrupt)?,
            locked_until: locked_until.map(sql::utc),
            in_flight: u32::try_from(login_in_flight).map_err(StoreError::corrupt)?,
            reserved_at: login_reserved_at.map(sql::utc),
        },
        password_hash,
    })
}

/// Creates a user.
pub fn create(
    conn: &mut DbConnection,
    username: &Username,
    display_name: &DisplayName,
    roles: &Roles,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<StaffUser, StoreError> {
    let id: StaffId = crate::new_id();
    let inserted = diesel::insert_into(s::table)
        .values((
            s::id.eq(sql::text(id)),
            s::username.eq(username.as_str()),
            s::display_name.eq(display_name.as_str()),
            s::password_hash.eq(password_hash),
            s::roles.eq(roles.to_string()),
            s::enabled.eq(true),
            s::failed_logins.eq(0),
            s::created_at.eq(sql::ts(now)),
            s::updated_at.eq(sql::ts(now)),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => get(conn, id),
        Err(e) if StoreError::is_unique_violation(&e) => {
            Err(StoreError::Duplicate { what: "username" })
        }
        Err(e) => Err(e.into()),
    }
}

/// A user by id.
pub fn get(conn: &mut DbConnection, id: StaffId) -> Result<StaffUser, StoreError> {
    s::table
        .find(sql::text(id))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound { entity: "staff user" })
        .and_then(from_row)
}

/// A user by login name.
pub fn find_by_username(
    conn: &mut DbConnection,
    username: &str,
) -> Result<Option<StaffUser>, StoreError> {
    s::table
        .filter(s::username.eq(username))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .map(from_row)
        .transpose()
}

/// Every staff user, by login name.
pub fn list(conn: &mut DbConnection) -> Result<Vec<StaffUser>, StoreError> {
    s::table
        .order(s::username)
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(from_row)
        .collect()
}

/// Whether any staff user exists (dev mode creates a demo admin into an empty table).
pub fn any(conn: &mut DbConnection) -> Result<bool, StoreError> {
    Ok(s::table.select(s::id).first::<String>(conn).optional()?.is_some())
}

/// Records the outcome of a login attempt (failure count and lock).
pub fn set_failures(
    conn: &mut DbConnection,
    id: StaffId,
    state: &FailureState,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::update(s::table.find(sql::text(id)))
        .set((
            s::failed_logins.eq(i32::try_from(state.failed_logins).unwrap_or(i32::MAX)),
            s::locked_until.eq(state.locked_until.map(sql::ts)),
            s::login_in_flight.eq(i32::try_from(state.in_flight).unwrap_or(i32::MAX)),
            s::login_reserved_at.eq(state.reserved_at.map(sql::ts)),
            s::updated_at.eq(sql::ts(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Replaces the password (and clears any lock).
pub fn set_password(
    conn: &mut DbConnection,
    username: &str,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let updated = diesel::update(s::table.filter(s::username.eq(username)))
        .set((
            s::password_hash.eq(password_hash),
            s::failed_logins.eq(0),
            s::locked_until.eq(None::<chrono::NaiveDateTime>),
            s::updated_at.eq(sql::ts(now)),
        ))
        .execute(conn)?;
    if updated == 0 {
        return Err(StoreError::NotFound { entity: "staff user" });
    }
    Ok(())
}

/// Enables or disables a user.
pub fn set_enabled(
    conn: &mut DbConnection,
    username: &str,
    enabled: bool,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let updated = diesel::update(s::table.filter(s::username.eq(username)))
        .set((s::enabled.eq(enabled), s::updated_at.eq(sql::ts(now))))
        .execute(conn)?;
    if updated == 0 {
        return Err(StoreError::NotFound { entity: "staff user" });
    }
    Ok(())
}

/// What [`reserve_login`] found.
#[derive(Debug, Clone)]
pub enum LoginReservation {
    /// No such user, or a disabled one: nothing is counted.
    Unknown,
    /// Refused without checking the password (locked, or every guess left is being verified
    /// by another attempt); counted in the user's refused attempts, which the next settled
    /// attempt reports (see [`Settled::refused`]) instead of one audit row each.
    Refused(StaffId),
    /// One guess reserved: verify the password against the user's hash (outside any
    /// transaction), then [`settle_login`].
    Reserved(Box<StaffUser>),
}

/// Reserves a login attempt before its password is verified: in one write transaction the row
/// is claimed (locked on PostgreSQL; SQLite's immediate transaction serialises writers), the
/// throttle's rule applied to the state as it is now and the result written. A parallel burst
/// therefore gets at most the throttle's `max_failures` reservations between locks.
pub fn reserve_login(
    conn: &mut DbConnection,
    username: &str,
    throttle: &baoming_accounts::LoginThrottle,
    now: DateTime<Utc>,
) -> Result<LoginReservation, StoreError> {
    crate::db::write_tx(conn, |conn| {
        diesel::update(s::table.filter(s::username.eq(username)))
            .set(s::updated_at.eq(s::updated_at))
            .execute(conn)?;
        let Some(mut user) = find_by_username(conn, username)?.filter(|u| u.enabled) else {
            return Ok(LoginReservation::Unknown);
        };
        match throttle.reserve(&user.failures, now) {
            Ok(next) => {
                set_failures(conn, user.id, &next, now)?;
                user.failures = next;
                Ok(LoginReservation::Reserved(Box::new(user)))
            }
            Err(_) => {
                diesel::update(s::table.find(sql::text(user.id)))
                    .set(s::refused_logins.eq(s::refused_logins + 1))
                    .execute(conn)?;
                Ok(LoginReservation::Refused(user.id))
            }
        }
    })
}

/// How a reserved attempt was settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    /// The state now stored.
    pub state: FailureState,
    /// This failure set the lock.
    pub locked_now: bool,
    /// Attempts refused without a password check since the previous settled attempt (now
    /// reset to 0): the caller writes the number into this attempt's audit entry.
    pub refused: u32,
}

/// Settles a reserved attempt once its password was checked (`right` or not), in one write
/// transaction on the state as it is now: see `LoginThrottle::settle_failure` and
/// `settle_success`.
pub fn settle_login(
    conn: &mut DbConnection,
    id: StaffId,
    right: bool,
    throttle: &baoming_accounts::LoginThrottle,
    now: DateTime<Utc>,
) -> Result<Settled, StoreError> {
    crate::db::write_tx(conn, |conn| {
        diesel::update(s::table.find(sql::text(id)))
            .set(s::updated_at.eq(s::updated_at))
            .execute(conn)?;
        let refused: i32 = s::table
            .find(sql::text(id))
            .select(s::refused_logins)
            .first(conn)
            .optional()?
            .ok_or(StoreError::NotFound { entity: "staff user" })?;
        let current = get(conn, id)?.failures;
        let (state, locked_now) = if right {
            (throttle.settle_success(&current, now), false)
        } else {
            throttle.settle_failure(&current, now)
        };
        set_failures(conn, id, &state, now)?;
        diesel::update(s::table.find(sql::text(id)))
            .set(s::refused_logins.eq(s::refused_logins - refused))
            .execute(conn)?;
        Ok(Settled { state, locked_now, refused: u32::try_from(refused).unwrap_or(0) })
    })
}
