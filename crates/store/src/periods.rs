//! Periods (期次) with their regions, subjects, exam types, fees and venues.

use baoming_domain::Money;
use baoming_domain::checkin::{CheckinKey, Geofence, PeriodSecret, SliceLength, VenueNumber};
use baoming_domain::ids::TypedId;
use baoming_domain::ids::{ExamTypeId, PeriodId, RegionId, SubjectId, VenueId};
use baoming_domain::period::{
    ChoiceError, ChosenSubject, ExamTypeRule, FeeRule, Plan, PlanExamType, PlanRegion, PlanSubject,
    PlanVenue, Schedule, ScheduleInput, SubjectChoice, SubjectOffer,
};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::{DbConnection, write_tx};
use crate::error::StoreError;
use crate::invalidations::{self, Invalidation};
use crate::prepared::fixed_statement;
use crate::schema::{exam_types, fees, periods, regions, rejection_templates, subjects, venues};
use crate::sql;

/// The ids given to what [`create`] inserted, by code (venues by position).
#[derive(Debug, Clone)]
pub struct CreatedPeriod {
    /// The period.
    pub id: PeriodId,
    /// Regions by code.
    pub regions: Vec<(String, RegionId)>,
    /// Subjects by code.
    pub subjects: Vec<(String, SubjectId)>,
    /// Exam types by code.
    pub exam_types: Vec<(String, ExamTypeId)>,
    /// Venues in the order given.
    pub venues: Vec<VenueId>,
}

impl CreatedPeriod {
    /// The id of a region by code.
    pub fn region(&self, code: &str) -> Option<RegionId> {
        self.regions.iter().find(|(c, _)| c == code).map(|(_, id)| *id)
    }

    /// The id of an exam type by code.
    pub fn exam_type(&self, code: &str) -> Option<ExamTypeId> {
        self.exam_types.iter().find(|(c, _)| c == code).map(|(_, id)| *id)
    }
}

fn count(n: u32, what: &str) -> Result<i32, StoreError> {
    i32::try_from(n).map_err(|_| StoreError::Config(format!("{what} too large")))
}

/// The period row's columns (the same for creating and editing).
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = periods)]
struct PeriodColumns<'a> {
    name: &'a str,
    exam_name: &'a str,
    registration_opens: chrono::NaiveDateTime,
    registration_closes: chrono::NaiveDateTime,
    payment_deadline: chrono::NaiveDateTime,
    checkin_opens: chrono::NaiveDateTime,
    checkin_closes: chrono::NaiveDateTime,
    exam_ends: chrono::NaiveDateTime,
    checkin_slice_secs: i32,
    updated_at: chrono::NaiveDateTime,
}

impl<'a> PeriodColumns<'a> {
    fn new(plan: &'a Plan, now: DateTime<Utc>) -> Self {
        let s = &plan.schedule;
        PeriodColumns {
            name: plan.name.trim(),
            exam_name: plan.exam_name.trim(),
            registration_opens: sql::ts(s.registration_opens()),
            registration_closes: sql::ts(s.registration_closes()),
            payment_deadline: sql::ts(s.payment_deadline()),
            checkin_opens: sql::ts(s.checkin_opens()),
            checkin_closes: sql::ts(s.checkin_closes()),
            exam_ends: sql::ts(s.exam_ends()),
            checkin_slice_secs: i32::try_from(plan.checkin_slice.secs()).unwrap_or(i32::MAX),
            updated_at: sql::ts(now),
        }
    }
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = regions)]
struct RegionColumns<'a> {
    code: &'a str,
    name: &'a str,
    capacity: i32,
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = subjects)]
struct SubjectColumns<'a> {
    code: &'a str,
    name: &'a str,
    specialties: String,
    exam_starts_at: chrono::NaiveDateTime,
    exam_ends_at: chrono::NaiveDateTime,
    sort_order: i32,
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = exam_types)]
struct ExamTypeColumns<'a> {
    code: &'a str,
    name: &'a str,
    subject_codes: String,
    min_subjects: i32,
    max_subjects: i32,
    sort_order: i32,
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = venues, treat_none_as_null = true)]
struct VenueColumns<'a> {
    name: &'a str,
    address: &'a str,
    region_id: Option<String>,
    static_code: bool,
    geofence_lat_e6: Option<i32>,
    geofence_lon_e6: Option<i32>,
    geofence_radius_m: Option<i32>,
}

/// Degrees as stored: integer micro-degrees (exact, and the same on both backends).
fn micro_degrees(degrees: f64) -> i32 {
    // Latitude and longitude are within ±180°, so the rounded value fits an i32.
    #[allow(clippy::cast_possible_truncation)]
    let micro = (degrees * 1e6).round() as i32;
    micro
}

/// The columns of a venue of `plan`; its region found by code among the period's `regions`.
fn venue_columns<'a>(
    venue: &'a PlanVenue,
    regions: &[(String, RegionId)],
) -> Result<VenueColumns<'a>, StoreError> {
    let region_id = match &venue.region_code {
        Some(code) => Some(
            regions
                .iter()
                .find(|(c, _)| c == code)
                .map(|(_, id)| sql::text(*id))
                .ok_or_else(|| StoreError::corrupt("a venue's region is not in the plan"))?,
        ),
        None => None,
    };
    let fence = venue.geofence.as_ref();
    Ok(VenueColumns {
        name: venue.name.trim(),
        address: venue.address.trim(),
        region_id,
        static_code: venue.static_code,
        geofence_lat_e6: fence.map(|f| micro_degrees(f.centre().lat())),
        geofence_lon_e6: fence.map(|f| micro_degrees(f.centre().lon())),
        geofence_radius_m: fence.map(|f| i32::try_from(f.radius_m()).unwrap_or(i32::MAX)),
    })
}

/// A fresh secret the period's check-in codes are derived from.
fn new_checkin_secret() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Config(format!("no randomness: {e}")))?;
    Ok(hex::encode(bytes))
}

fn region_columns(r: &PlanRegion) -> Result<RegionColumns<'_>, StoreError> {
    Ok(RegionColumns {
        code: r.code.trim(),
        name: r.name.trim(),
        capacity: count(r.capacity, "capacity")?,
    })
}

fn subject_columns(s: &PlanSubject, order: i32) -> Result<SubjectColumns<'_>, StoreError> {
    Ok(SubjectColumns {
        code: s.offer.code.trim(),
        name: s.offer.name.trim(),
        specialties: json(&s.offer.specialties)?,
        exam_starts_at: sql::ts(s.exam_starts_at),
        exam_ends_at: sql::ts(s.exam_ends_at),
        sort_order: order,
    })
}

fn exam_type_columns(e: &PlanExamType, order: i32) -> Result<ExamTypeColumns<'_>, StoreError> {
    Ok(ExamTypeColumns {
        code: e.code.trim(),
        name: e.name.trim(),
        subject_codes: json(&e.rule.subject_codes)?,
        min_subjects: i32::from(e.rule.min_subjects),
        max_subjects: i32::from(e.rule.max_subjects),
        sort_order: order,
    })
}

/// Why a period could not be created or changed.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The plan itself is inconsistent (the domain's check).
    #[error("invalid period plan")]
    Invalid(Vec<baoming_domain::period::PlanProblem>),
    /// A region would have fewer seats than are taken.
    #[error("region {code} has {taken} seats taken")]
    CapacityBelowTaken {
        /// The region's code.
        code: String,
        /// Seats taken now.
        taken: u32,
    },
    /// Something registrations refer to would be deleted.
    #[error("{what} {code} is used by registrations")]
    Referenced {
        /// What kind of thing.
        what: &'static str,
        /// Its code or name.
        code: String,
    },
    /// A row id that is not part of this period.
    #[error("{what} {id} is not part of this period")]
    UnknownRow {
        /// What kind of thing.
        what: &'static str,
        /// The id given.
        id: String,
    },
    /// A code is used twice in the period (e.g. two rows swapping codes in one edit).
    #[error("a code is used twice in the period")]
    DuplicateCode,
    /// Anything else.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Inserts a period with everything in it, after the domain's check, in one transaction.
pub fn create(
    conn: &mut DbConnection,
    plan: &Plan,
    now: DateTime<Utc>,
) -> Result<CreatedPeriod, PlanError> {
    plan.check().map_err(PlanError::Invalid)?;
    write_tx(conn, |conn| {
        let id: PeriodId = crate::new_id();
        let pid = sql::text(id);
        diesel::insert_into(periods::table)
            .values((
                PeriodColumns::new(plan, now),
                periods::id.eq(&pid),
                periods::created_at.eq(sql::ts(now)),
                periods::checkin_secret.eq(new_checkin_secret()?),
            ))
            .execute(conn)?;
        let mut created = CreatedPeriod {
            id,
            regions: vec![],
            subjects: vec![],
            exam_types: vec![],
            venues: vec![],
        };
        for region in &plan.regions {
            let rid: RegionId = crate::new_id();
            diesel::insert_into(regions::table)
                .values((
                    region_columns(region)?,
                    regions::id.eq(sql::text(rid)),
                    regions::period_id.eq(&pid),
                    regions::seats_taken.eq(0),
                ))
                .execute(conn)?;
            created.regions.push((region.code.clone(), rid));
        }
        for (order, subject) in (0..).zip(&plan.subjects) {
            let sid: SubjectId = crate::new_id();
            diesel::insert_into(subjects::table)
                .values((
                    subject_columns(subject, order)?,
                    subjects::id.eq(sql::text(sid)),
                    subjects::period_id.eq(&pid),
                ))
                .execute(conn)?;
            created.subjects.push((subject.offer.code.clone(), sid));
        }
        for (order, exam_type) in (0..).zip(&plan.exam_types) {
            let eid: ExamTypeId = crate::new_id();
            diesel::insert_into(exam_types::table)
                .values((
                    exam_type_columns(exam_type, order)?,
                    exam_types::id.eq(sql::text(eid)),
                    exam_types::period_id.eq(&pid),
                ))
                .execute(conn)?;
            created.exam_types.push((exam_type.code.clone(), eid));
        }
        for (number, venue) in (1..).zip(&plan.venues) {
            let vid: VenueId = crate::new_id();
            diesel::insert_into(venues::table)
                .values((
                    venue_columns(venue, &created.regions)?,
                    venues::id.eq(sql::text(vid)),
                    venues::period_id.eq(&pid),
                    venues::number.eq(number),
                ))
                .execute(conn)?;
            created.venues.push(vid);
        }
        write_prices_and_templates(conn, id, plan, &created.exam_types)?;
        Ok(created)
    })
}

/// Replaces the prices and the rejection templates of a period (nothing refers to them).
fn write_prices_and_templates(
    conn: &mut DbConnection,
    period: PeriodId,
    plan: &Plan,
    exam_type_ids: &[(String, ExamTypeId)],
) -> Result<(), StoreError> {
    let pid = sql::text(period);
    diesel::delete(fees::table.filter(fees::period_id.eq(&pid))).execute(conn)?;
    for exam_type in &plan.exam_types {
        let Some((_, eid)) = exam_type_ids.iter().find(|(code, _)| *code == exam_type.code) else {
            return Err(StoreError::corrupt("exam type without id"));
        };
        for (subject_count, price) in &exam_type.prices {
            diesel::insert_into(fees::table)
                .values((
                    fees::period_id.eq(&pid),
                    fees::exam_type_id.eq(sql::text(*eid)),
                    fees::subject_count.eq(i32::from(*subject_count)),
                    fees::amount_fen.eq(price.fen()),
                ))
                .execute(conn)?;
        }
    }
    diesel::delete(rejection_templates::table.filter(rejection_templates::period_id.eq(&pid)))
        .execute(conn)?;
    for (order, text) in (0..).zip(&plan.rejection_templates) {
        let tid: baoming_domain::ids::EventId = crate::new_id();
        diesel::insert_into(rejection_templates::table)
            .values((
                rejection_templates::id.eq(sql::text(tid)),
                rejection_templates::period_id.eq(&pid),
                rejection_templates::text.eq(text.trim()),
                rejection_templates::sort_order.eq(order),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The ids of a child table of a period.
fn child_ids(
    conn: &mut DbConnection,
    period: &str,
    table: &'static str,
) -> Result<Vec<String>, StoreError> {
    Ok(match table {
        "regions" => {
            regions::table.filter(regions::period_id.eq(period)).select(regions::id).load(conn)?
        }
        "subjects" => subjects::table
            .filter(subjects::period_id.eq(period))
            .select(subjects::id)
            .load(conn)?,
        "exam_types" => exam_types::table
            .filter(exam_types::period_id.eq(period))
            .select(exam_types::id)
            .load(conn)?,
        _ => venues::table.filter(venues::period_id.eq(period)).select(venues::id).load(conn)?,
    })
}

fn check_known(
    known: &[String],
    id: Option<String>,
    what: &'static str,
) -> Result<Option<String>, PlanError> {
    match id {
        Some(id) if !known.contains(&id) => Err(PlanError::UnknownRow { what, id }),
        other => Ok(other),
    }
}

/// Edits a period: existing rows left out are deleted first — refused when registrations refer
/// to them (regions, exam types, subjects chosen by someone) — then rows with an id are updated
/// (a region never below its seats taken, checked in the same statement that writes it) and
/// rows without one are added. One transaction: all or nothing. A code used twice in the
/// period (e.g. two rows swapping codes) is [`PlanError::DuplicateCode`].
pub fn update(
    conn: &mut DbConnection,
    id: PeriodId,
    plan: &Plan,
    now: DateTime<Utc>,
) -> Result<(), PlanError> {
    use crate::schema::registrations as reg;
    plan.check().map_err(PlanError::Invalid)?;
    let result = write_tx(conn, |conn| {
        let pid = sql::text(id);
        let updated = diesel::update(periods::table.find(&pid))
            .set(PeriodColumns::new(plan, now))
            .execute(conn)?;
        if updated == 0 {
            return Err(StoreError::NotFound { entity: "period" }.into());
        }
        // Which existing rows stay (ids checked to belong to this period).
        let stay = |conn: &mut DbConnection,
                    table: &'static str,
                    what: &'static str,
                    ids: Vec<Option<String>>| {
            let known = child_ids(conn, &pid, table)?;
            let mut kept = Vec::new();
            for id in ids {
                if let Some(id) = check_known(&known, id, what)? {
                    kept.push(id);
                }
            }
            let gone: Vec<String> = known.into_iter().filter(|k| !kept.contains(k)).collect();
            Ok::<_, PlanError>(gone)
        };

        // 1. Deletions, refused when registrations refer to the row.
        let gone = stay(
            conn,
            "regions",
            "region",
            plan.regions.iter().map(|r| r.id.map(sql::text)).collect(),
        )?;
        for gone in &gone {
            let used: i64 = reg::table.filter(reg::region_id.eq(gone)).count().get_result(conn)?;
            if used > 0 {
                let code: String = regions::table.find(gone).select(regions::code).first(conn)?;
                return Err(PlanError::Referenced { what: "region", code });
            }
            diesel::delete(regions::table.find(gone)).execute(conn)?;
        }
        let gone = stay(
            conn,
            "subjects",
            "subject",
            plan.subjects.iter().map(|s| s.id.map(sql::text)).collect(),
        )?;
        for gone in &gone {
            // A registration refers to a subject by its code in its snapshot.
            let code: String = subjects::table.find(gone).select(subjects::code).first(conn)?;
            let pattern = format!(
                "%\"code\":{}%",
                serde_json::to_string(&code).map_err(StoreError::corrupt)?
            );
            let used: i64 = reg::table
                .filter(reg::period_id.eq(&pid))
                .filter(reg::subjects.like(pattern))
                .count()
                .get_result(conn)?;
            if used > 0 {
                return Err(PlanError::Referenced { what: "subject", code });
            }
            diesel::delete(subjects::table.find(gone)).execute(conn)?;
        }
        // Prices are rewritten below; they go first so exam types can be deleted.
        diesel::delete(fees::table.filter(fees::period_id.eq(&pid))).execute(conn)?;
        let gone = stay(
            conn,
            "exam_types",
            "exam type",
            plan.exam_types.iter().map(|e| e.id.map(sql::text)).collect(),
        )?;
        for gone in &gone {
            let used: i64 =
                reg::table.filter(reg::exam_type_id.eq(gone)).count().get_result(conn)?;
            if used > 0 {
                let code: String =
                    exam_types::table.find(gone).select(exam_types::code).first(conn)?;
                return Err(PlanError::Referenced { what: "exam type", code });
            }
            diesel::delete(exam_types::table.find(gone)).execute(conn)?;
        }
        // A venue people checked in at, or with admission tickets, stays.
        let gone = stay(
            conn,
            "venues",
            "venue",
            plan.venues.iter().map(|v| v.id.map(sql::text)).collect(),
        )?;
        for gone in &gone {
            let used: i64 =
                reg::table.filter(reg::checkin_venue_id.eq(gone)).count().get_result(conn)?;
            if used > 0 || crate::tickets::venue_has_tickets(conn, gone)? {
                let name: String = venues::table.find(gone).select(venues::name).first(conn)?;
                return Err(PlanError::Referenced { what: "venue", code: name });
            }
            diesel::delete(venues::table.find(gone)).execute(conn)?;
        }

        // 2. Updates and additions.
        for region in &plan.regions {
            match region.id.map(sql::text) {
                Some(rid) => {
                    let capacity = count(region.capacity, "capacity")?;
                    let written = diesel::update(regions::table.find(&rid))
                        .filter(regions::seats_taken.le(capacity))
                        .set(region_columns(region)?)
                        .execute(conn)?;
                    if written == 0 {
                        let taken: i32 =
                            regions::table.find(&rid).select(regions::seats_taken).first(conn)?;
                        return Err(PlanError::CapacityBelowTaken {
                            code: region.code.clone(),
                            taken: u32::try_from(taken).unwrap_or(0),
                        });
                    }
                }
                None => {
                    diesel::insert_into(regions::table)
                        .values((
                            region_columns(region)?,
                            regions::id.eq(sql::text(crate::new_id::<RegionId>())),
                            regions::period_id.eq(&pid),
                            regions::seats_taken.eq(0),
                        ))
                        .execute(conn)?;
                }
            }
        }
        for (order, subject) in (0..).zip(&plan.subjects) {
            match subject.id.map(sql::text) {
                Some(sid) => {
                    diesel::update(subjects::table.find(&sid))
                        .set(subject_columns(subject, order)?)
                        .execute(conn)?;
                }
                None => {
                    diesel::insert_into(subjects::table)
                        .values((
                            subject_columns(subject, order)?,
                            subjects::id.eq(sql::text(crate::new_id::<SubjectId>())),
                            subjects::period_id.eq(&pid),
                        ))
                        .execute(conn)?;
                }
            }
        }
        let mut ids = Vec::new();
        for (order, exam_type) in (0..).zip(&plan.exam_types) {
            let eid = match exam_type.id {
                Some(eid) => {
                    diesel::update(exam_types::table.find(sql::text(eid)))
                        .set(exam_type_columns(exam_type, order)?)
                        .execute(conn)?;
                    eid
                }
                None => {
                    let eid: ExamTypeId = crate::new_id();
                    diesel::insert_into(exam_types::table)
                        .values((
                            exam_type_columns(exam_type, order)?,
                            exam_types::id.eq(sql::text(eid)),
                            exam_types::period_id.eq(&pid),
                        ))
                        .execute(conn)?;
                    eid
                }
            };
            ids.push((exam_type.code.clone(), eid));
        }
        // Venues keep their numbers (printed codes and ticket numbers carry them); a new
        // venue gets the next one.
        let regions_now: Vec<(String, RegionId)> = regions::table
            .filter(regions::period_id.eq(&pid))
            .select((regions::code, regions::id))
            .load::<(String, String)>(conn)?
            .into_iter()
            .map(|(code, id)| Ok((code, sql::id(&id)?)))
            .collect::<Result<_, StoreError>>()?;
        let mut next: i32 = venues::table
            .filter(venues::period_id.eq(&pid))
            .select(diesel::dsl::max(venues::number))
            .first::<Option<i32>>(conn)?
            .unwrap_or(0);
        for venue in &plan.venues {
            let columns = venue_columns(venue, &regions_now)?;
            match venue.id.map(sql::text) {
                Some(vid) => {
                    diesel::update(venues::table.find(&vid)).set(columns).execute(conn)?;
                }
                None => {
                    next += 1;
                    diesel::insert_into(venues::table)
                        .values((
                            columns,
                            venues::id.eq(sql::text(crate::new_id::<VenueId>())),
                            venues::period_id.eq(&pid),
                            venues::number.eq(next),
                        ))
                        .execute(conn)?;
                }
            }
        }
        write_prices_and_templates(conn, id, plan, &ids)?;
        // Other api instances drop their copy of the period (the last write: it locks the
        // feed until the commit).
        invalidations::record(conn, &[Invalidation::Period(id)], now)?;
        Ok(())
    });
    match result {
        Err(PlanError::Store(StoreError::Database(e))) if StoreError::is_unique_violation(&e) => {
            Err(PlanError::DuplicateCode)
        }
        other => other,
    }
}

/// Closes a period: it no longer shows to participants. Returns whether it was open.
pub fn close(
    conn: &mut DbConnection,
    id: PeriodId,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let pid = sql::text(id);
    let exists: Option<Option<chrono::NaiveDateTime>> =
        periods::table.find(&pid).select(periods::closed_at).first(conn).optional()?;
    match exists {
        None => Err(StoreError::NotFound { entity: "period" }),
        Some(Some(_)) => Ok(false),
        Some(None) => {
            write_tx(conn, |conn| {
                diesel::update(periods::table.find(&pid))
                    .set((
                        periods::closed_at.eq(Some(sql::ts(now))),
                        periods::updated_at.eq(sql::ts(now)),
                    ))
                    .execute(conn)?;
                invalidations::record(conn, &[Invalidation::Period(id)], now)
            })?;
            Ok(true)
        }
    }
}

/// Every period, newest first (closed ones included).
pub fn all(conn: &mut DbConnection) -> Result<Vec<PeriodDetail>, StoreError> {
    let ids: Vec<String> =
        periods::table.order(periods::registration_opens.desc()).select(periods::id).load(conn)?;
    ids.iter().map(|id| detail(conn, sql::id(id)?)).collect()
}

/// A period's rejection templates, in order.
pub fn rejection_templates(
    conn: &mut DbConnection,
    id: PeriodId,
) -> Result<Vec<String>, StoreError> {
    Ok(rejection_templates::table
        .filter(rejection_templates::period_id.eq(sql::text(id)))
        .order(rejection_templates::sort_order)
        .select(rejection_templates::text)
        .load(conn)?)
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(StoreError::corrupt)
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(StoreError::corrupt)
}

/// A period's dates as stored: the columns of its [`Schedule`].
#[derive(Queryable, Selectable)]
#[diesel(table_name = periods)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct ScheduleColumns {
    registration_opens: chrono::NaiveDateTime,
    registration_closes: chrono::NaiveDateTime,
    payment_deadline: chrono::NaiveDateTime,
    checkin_opens: chrono::NaiveDateTime,
    checkin_closes: chrono::NaiveDateTime,
    exam_ends: chrono::NaiveDateTime,
}

impl ScheduleColumns {
    /// The schedule (checked by the domain again: a stored period always passes).
    pub(crate) fn schedule(&self) -> Result<Schedule, StoreError> {
        Schedule::new(ScheduleInput {
            registration_opens: sql::utc(self.registration_opens),
            registration_closes: sql::utc(self.registration_closes),
            payment_deadline: Some(sql::utc(self.payment_deadline)),
            checkin_opens: sql::utc(self.checkin_opens),
            checkin_closes: sql::utc(self.checkin_closes),
            exam_ends: sql::utc(self.exam_ends),
        })
        .map_err(StoreError::corrupt)
    }
}

/// A period's schedule and whether an admin closed it (one read of the period's row: the facts
/// every transition of its registrations needs).
pub fn schedule(conn: &mut DbConnection, id: PeriodId) -> Result<(Schedule, bool), StoreError> {
    let (columns, closed_at) = crate::db::on_backend!(conn, c => periods::table
        .find(sql::text(id))
        .select((ScheduleColumns::as_select(), periods::closed_at))
        .first::<(ScheduleColumns, Option<chrono::NaiveDateTime>)>(c)
        .optional())?
    .ok_or(StoreError::NotFound { entity: "period" })?;
    Ok((columns.schedule()?, closed_at.is_some()))
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = regions)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct RegionRow {
    id: String,
    period_id: String,
    code: String,
    name: String,
    capacity: i32,
    seats_taken: i32,
}

impl TryFrom<RegionRow> for Region {
    type Error = StoreError;

    fn try_from(row: RegionRow) -> Result<Self, StoreError> {
        Ok(Region {
            id: sql::id(&row.id)?,
            period_id: sql::id(&row.period_id)?,
            code: row.code,
            name: row.name,
            capacity: u32::try_from(row.capacity).map_err(StoreError::corrupt)?,
            seats_taken: u32::try_from(row.seats_taken).map_err(StoreError::corrupt)?,
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = subjects)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct SubjectRow {
    id: String,
    code: String,
    name: String,
    specialties: String,
    exam_starts_at: chrono::NaiveDateTime,
    exam_ends_at: chrono::NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = exam_types)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct ExamTypeRow {
    id: String,
    code: String,
    name: String,
    subject_codes: String,
    min_subjects: i32,
    max_subjects: i32,
}

/// A region with its seat count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// Id.
    pub id: RegionId,
    /// Its period.
    pub period_id: PeriodId,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Seats.
    pub capacity: u32,
    /// Seats held by registrations from approval on.
    pub seats_taken: u32,
}

/// Loads a region.
pub fn region(conn: &mut DbConnection, id: RegionId) -> Result<Region, StoreError> {
    crate::db::on_backend!(conn, c => regions::table
        .find(sql::text(id))
        .select(RegionRow::as_select())
        .first::<RegionRow>(c)
        .optional())?
    .ok_or(StoreError::NotFound { entity: "region" })?
    .try_into()
}

/// Takes one seat of a region if one is left, atomically (one conditional update: under
/// concurrency the database serialises the writers, so a region is never oversold).
pub(crate) fn take_seat(conn: &mut DbConnection, id: RegionId) -> Result<bool, StoreError> {
    let id = sql::text(id);
    let updated = crate::db::on_backend!(conn, c => TakeSeat { id: &id }.execute(c))?;
    Ok(updated == 1)
}

fixed_statement! {
    /// [`take_seat`]'s conditional update (kept prepared).
    struct TakeSeat<'a> { id: &'a str }
    sql = [
        "UPDATE regions SET seats_taken = seats_taken + 1 WHERE id = " {id: diesel::sql_types::Text}
        " AND seats_taken < capacity"
    ];
}

fixed_statement! {
    /// [`release_seat`]'s conditional update (kept prepared).
    struct ReleaseSeat<'a> { id: &'a str }
    sql = [
        "UPDATE regions SET seats_taken = seats_taken - 1 WHERE id = " {id: diesel::sql_types::Text}
        " AND seats_taken > 0"
    ];
}

/// Gives a seat back.
pub(crate) fn release_seat(conn: &mut DbConnection, id: RegionId) -> Result<(), StoreError> {
    let text_id = sql::text(id);
    let updated = crate::db::on_backend!(conn, c => ReleaseSeat { id: &text_id }.execute(c))?;
    if updated != 1 {
        return Err(StoreError::corrupt(format_args!(
            "region {id} released a seat it did not count"
        )));
    }
    Ok(())
}

/// The fee rule of a period.
pub fn fee_rule(conn: &mut DbConnection, id: PeriodId) -> Result<FeeRule, StoreError> {
    let rows = crate::db::on_backend!(conn, c => fees::table
        .filter(fees::period_id.eq(sql::text(id)))
        .select((fees::exam_type_id, fees::subject_count, fees::amount_fen))
        .load::<(String, i32, i64)>(c))?;
    let mut rule = FeeRule::new();
    for (exam_type, subject_count, fen) in rows {
        let subject_count = u8::try_from(subject_count).map_err(StoreError::corrupt)?;
        rule.set(
            sql::id(&exam_type)?,
            subject_count,
            Money::from_fen(fen).map_err(StoreError::corrupt)?,
        );
    }
    Ok(rule)
}

/// The subjects a period offers, in display order.
pub fn subject_offers(
    conn: &mut DbConnection,
    id: PeriodId,
) -> Result<Vec<SubjectOffer>, StoreError> {
    crate::db::on_backend!(conn, c => subjects::table
        .filter(subjects::period_id.eq(sql::text(id)))
        .order(subjects::sort_order)
        .select((subjects::code, subjects::name, subjects::specialties))
        .load::<(String, String, String)>(c))?
    .into_iter()
    .map(|(code, name, specialties)| {
        Ok(SubjectOffer { code, name, specialties: from_json(&specialties)? })
    })
    .collect()
}

/// An exam type's rule, if the exam type belongs to the period.
pub fn exam_type_rule(
    conn: &mut DbConnection,
    period: PeriodId,
    id: ExamTypeId,
) -> Result<Option<ExamTypeRule>, StoreError> {
    crate::db::on_backend!(conn, c => exam_types::table
        .find(sql::text(id))
        .filter(exam_types::period_id.eq(sql::text(period)))
        .select((exam_types::subject_codes, exam_types::min_subjects, exam_types::max_subjects))
        .first::<(String, i32, i32)>(c)
        .optional())?
    .map(|(codes, min, max)| {
        Ok(ExamTypeRule {
            subject_codes: from_json(&codes)?,
            min_subjects: u8::try_from(min).map_err(StoreError::corrupt)?,
            max_subjects: u8::try_from(max).map_err(StoreError::corrupt)?,
        })
    })
    .transpose()
}

/// A subject of a period with its exam time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectDetail {
    /// Id.
    pub id: SubjectId,
    /// Code, name, specialties.
    pub offer: SubjectOffer,
    /// Exam start.
    pub exam_starts_at: DateTime<Utc>,
    /// Exam end.
    pub exam_ends_at: DateTime<Utc>,
}

/// An exam type of a period with its prices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExamTypeDetail {
    /// Id.
    pub id: ExamTypeId,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Which subjects and how many.
    pub rule: ExamTypeRule,
    /// Price by number of subjects.
    pub prices: Vec<(u8, Money)>,
}

/// A venue (the check-in rules' view of it).
pub use baoming_domain::checkin::Venue;

/// Everything about a period a participant picks from.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodDetail {
    /// Id.
    pub id: PeriodId,
    /// Name.
    pub name: String,
    /// The exam it belongs to.
    pub exam_name: String,
    /// Its dates.
    pub schedule: Schedule,
    /// Closed by an admin (hidden from participants, no more submissions).
    pub closed: bool,
    /// Regions with seats.
    pub regions: Vec<Region>,
    /// Subjects.
    pub subjects: Vec<SubjectDetail>,
    /// Exam types with prices.
    pub exam_types: Vec<ExamTypeDetail>,
    /// Venues, by number.
    pub venues: Vec<Venue>,
    /// How often the venues' check-in codes turn.
    pub checkin_slice: SliceLength,
    /// The secret the venues' check-in codes are derived from (never shown).
    pub checkin_secret: PeriodSecret,
}

impl PeriodDetail {
    /// The key that derives and verifies this period's venue codes.
    pub fn checkin_key(&self) -> CheckinKey {
        CheckinKey::new(self.id.as_uuid(), self.checkin_secret.clone(), self.checkin_slice)
    }

    /// A venue by id.
    pub fn venue(&self, id: VenueId) -> Option<&Venue> {
        self.venues.iter().find(|v| v.id == id)
    }
}

/// Periods not closed whose registration has not ended yet (open now or opening later),
/// soonest first.
pub fn open_periods(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
) -> Result<Vec<PeriodDetail>, StoreError> {
    let ids = periods::table
        .filter(periods::closed_at.is_null())
        .filter(periods::registration_closes.gt(sql::ts(now)))
        .order((periods::registration_opens, periods::id))
        .select(periods::id)
        .load::<String>(conn)?;
    ids.iter().map(|id| detail(conn, sql::id(id)?)).collect()
}

/// A period with everything in it.
pub fn detail(conn: &mut DbConnection, id: PeriodId) -> Result<PeriodDetail, StoreError> {
    let pid = sql::text(id);
    let (name, exam_name, secret, slice) = periods::table
        .find(&pid)
        .select((
            periods::name,
            periods::exam_name,
            periods::checkin_secret,
            periods::checkin_slice_secs,
        ))
        .first::<(String, String, Option<String>, i32)>(conn)
        .optional()?
        .ok_or(StoreError::NotFound { entity: "period" })?;
    let checkin_secret = secret
        .as_deref()
        .and_then(|hex| hex::decode(hex).ok())
        .and_then(|bytes| PeriodSecret::from_bytes(&bytes).ok())
        .ok_or_else(|| StoreError::corrupt(format_args!("period {id} has no check-in secret")))?;
    let checkin_slice = u32::try_from(slice)
        .ok()
        .and_then(|secs| SliceLength::new(secs).ok())
        .ok_or_else(|| StoreError::corrupt(format_args!("check-in slice of {slice} s")))?;
    let (schedule, closed) = schedule(conn, id)?;
    let regions = regions::table
        .filter(regions::period_id.eq(&pid))
        .order(regions::code)
        .select(RegionRow::as_select())
        .load::<RegionRow>(conn)?
        .into_iter()
        .map(Region::try_from)
        .collect::<Result<_, StoreError>>()?;
    let subjects = subjects::table
        .filter(subjects::period_id.eq(&pid))
        .order(subjects::sort_order)
        .select(SubjectRow::as_select())
        .load::<SubjectRow>(conn)?
        .into_iter()
        .map(|row| {
            Ok(SubjectDetail {
                id: sql::id(&row.id)?,
                offer: SubjectOffer {
                    code: row.code,
                    name: row.name,
                    specialties: from_json(&row.specialties)?,
                },
                exam_starts_at: sql::utc(row.exam_starts_at),
                exam_ends_at: sql::utc(row.exam_ends_at),
            })
        })
        .collect::<Result<_, StoreError>>()?;
    let rule = fee_rule(conn, id)?;
    let exam_types = exam_types::table
        .filter(exam_types::period_id.eq(&pid))
        .order(exam_types::sort_order)
        .select(ExamTypeRow::as_select())
        .load::<ExamTypeRow>(conn)?
        .into_iter()
        .map(|row| {
            let eid: ExamTypeId = sql::id(&row.id)?;
            let (code, name) = (row.code, row.name);
            let rule_of_type = ExamTypeRule {
                subject_codes: from_json(&row.subject_codes)?,
                min_subjects: u8::try_from(row.min_subjects).map_err(StoreError::corrupt)?,
                max_subjects: u8::try_from(row.max_subjects).map_err(StoreError::corrupt)?,
            };
            let prices = (rule_of_type.min_subjects..=rule_of_type.max_subjects)
                .filter_map(|n| rule.fee(eid, n).ok().map(|price| (n, price)))
                .collect();
            Ok(ExamTypeDetail { id: eid, code, name, rule: rule_of_type, prices })
        })
        .collect::<Result<_, StoreError>>()?;
    let venues = venues::table
        .filter(venues::period_id.eq(&pid))
        .order(venues::number)
        .select(VenueRow::as_select())
        .load::<VenueRow>(conn)?
        .into_iter()
        .map(Venue::try_from)
        .collect::<Result<_, StoreError>>()?;
    Ok(PeriodDetail {
        id,
        name,
        exam_name,
        schedule,
        closed,
        regions,
        subjects,
        exam_types,
        venues,
        checkin_slice,
        checkin_secret,
    })
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = venues)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct VenueRow {
    id: String,
    name: String,
    address: String,
    number: i32,
    region_id: Option<String>,
    static_code: bool,
    geofence_lat_e6: Option<i32>,
    geofence_lon_e6: Option<i32>,
    geofence_radius_m: Option<i32>,
}

impl TryFrom<VenueRow> for Venue {
    type Error = StoreError;

    fn try_from(row: VenueRow) -> Result<Self, StoreError> {
        let geofence = match (row.geofence_lat_e6, row.geofence_lon_e6, row.geofence_radius_m) {
            (Some(lat), Some(lon), Some(radius)) => Some(
                Geofence::new(
                    f64::from(lat) / 1e6,
                    f64::from(lon) / 1e6,
                    u32::try_from(radius).map_err(StoreError::corrupt)?,
                )
                .map_err(StoreError::corrupt)?,
            ),
            (None, None, None) => None,
            _ => return Err(StoreError::corrupt("a venue's geofence is incomplete")),
        };
        Ok(Venue {
            id: sql::id(&row.id)?,
            number: VenueNumber::new(u16::try_from(row.number).map_err(StoreError::corrupt)?),
            name: row.name,
            address: row.address,
            region: row.region_id.as_deref().map(sql::id).transpose()?,
            static_code: row.static_code,
            geofence,
        })
    }
}

/// The period a venue belongs to.
pub fn venue_period(conn: &mut DbConnection, venue: VenueId) -> Result<PeriodId, StoreError> {
    let period: String = venues::table
        .find(sql::text(venue))
        .select(venues::period_id)
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound { entity: "venue" })?;
    sql::id(&period)
}

/// Whether any period exists (demo data is seeded only into an empty database).
pub fn any(conn: &mut DbConnection) -> Result<bool, StoreError> {
    Ok(periods::table.select(periods::id).first::<String>(conn).optional()?.is_some())
}

/// Checks an exam type and subjects against a period: the subject snapshot and the fee, or
/// the first problem with the choice.
pub fn check_choice(
    conn: &mut DbConnection,
    period: PeriodId,
    exam_type: ExamTypeId,
    chosen: &[SubjectChoice],
) -> Result<Result<(Vec<ChosenSubject>, Money), ChoiceError>, StoreError> {
    let Some(rule) = exam_type_rule(conn, period, exam_type)? else {
        return Ok(Err(ChoiceError::ExamTypeNotOffered));
    };
    let offers = subject_offers(conn, period)?;
    let subjects = match rule.check(&offers, chosen) {
        Ok(subjects) => subjects,
        Err(e) => return Ok(Err(e)),
    };
    let count = u8::try_from(subjects.len()).unwrap_or(u8::MAX);
    Ok(fee_rule(conn, period)?
        .fee(exam_type, count)
        .map(|fee| (subjects, fee))
        .map_err(ChoiceError::NoFee))
}

/// The fee of a choice (see [`check_choice`]).
pub fn quote(
    conn: &mut DbConnection,
    period: PeriodId,
    exam_type: ExamTypeId,
    chosen: &[SubjectChoice],
) -> Result<Result<Money, ChoiceError>, StoreError> {
    Ok(check_choice(conn, period, exam_type, chosen)?.map(|(_, fee)| fee))
}

crate::error::wraps_store_error!(PlanError);
