//! Periods (期次) with their regions, subjects, exam types, fees and venues.

use baoming_domain::Money;
use baoming_domain::ids::{ExamTypeId, PeriodId, RegionId, SubjectId, VenueId};
use baoming_domain::period::{
    ChoiceError, ChosenSubject, ExamTypeRule, FeeRule, Schedule, ScheduleInput, SubjectChoice,
    SubjectOffer,
};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::{DbConnection, write_tx};
use crate::error::StoreError;
use crate::schema::{exam_types, fees, periods, regions, subjects, venues};
use crate::sql;

/// A region to create.
#[derive(Debug, Clone)]
pub struct NewRegion {
    /// Two-digit code (used in ticket numbers), unique in the period.
    pub code: String,
    /// Name, e.g. 福州.
    pub name: String,
    /// Seats.
    pub capacity: u32,
}

/// A subject to create.
#[derive(Debug, Clone)]
pub struct NewSubject {
    /// Code, name and specialties.
    pub offer: SubjectOffer,
    /// When its exam starts.
    pub exam_starts_at: DateTime<Utc>,
    /// When its exam ends.
    pub exam_ends_at: DateTime<Utc>,
}

/// An exam type to create, with its prices.
#[derive(Debug, Clone)]
pub struct NewExamType {
    /// Code, unique in the period.
    pub code: String,
    /// Name, e.g. 考全科.
    pub name: String,
    /// Which subjects and how many.
    pub rule: ExamTypeRule,
    /// Price by number of subjects.
    pub prices: Vec<(u8, Money)>,
}

/// A venue to create.
#[derive(Debug, Clone)]
pub struct NewVenue {
    /// Name.
    pub name: String,
    /// Address.
    pub address: String,
}

/// A period to create, whole.
#[derive(Debug, Clone)]
pub struct NewPeriod {
    /// Name, e.g. 2026年第二期.
    pub name: String,
    /// The training/exam it belongs to, e.g. 监理工程师.
    pub exam_name: String,
    /// Its dates (already validated by the domain).
    pub schedule: Schedule,
    /// Regions.
    pub regions: Vec<NewRegion>,
    /// Subjects.
    pub subjects: Vec<NewSubject>,
    /// Exam types.
    pub exam_types: Vec<NewExamType>,
    /// Venues.
    pub venues: Vec<NewVenue>,
}

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

/// Inserts a period with everything in it, in one transaction.
pub fn create(
    conn: &mut DbConnection,
    new: &NewPeriod,
    now: DateTime<Utc>,
) -> Result<CreatedPeriod, StoreError> {
    write_tx(conn, |conn| {
        let id: PeriodId = crate::new_id();
        let pid = sql::text(id);
        let s = &new.schedule;
        diesel::insert_into(periods::table)
            .values((
                periods::id.eq(&pid),
                periods::name.eq(&new.name),
                periods::exam_name.eq(&new.exam_name),
                periods::registration_opens.eq(sql::ts(s.registration_opens())),
                periods::registration_closes.eq(sql::ts(s.registration_closes())),
                periods::payment_deadline.eq(sql::ts(s.payment_deadline())),
                periods::checkin_opens.eq(sql::ts(s.checkin_opens())),
                periods::checkin_closes.eq(sql::ts(s.checkin_closes())),
                periods::exam_ends.eq(sql::ts(s.exam_ends())),
                periods::created_at.eq(sql::ts(now)),
                periods::updated_at.eq(sql::ts(now)),
            ))
            .execute(conn)?;
        let mut created = CreatedPeriod {
            id,
            regions: vec![],
            subjects: vec![],
            exam_types: vec![],
            venues: vec![],
        };
        for region in &new.regions {
            let rid: RegionId = crate::new_id();
            diesel::insert_into(regions::table)
                .values((
                    regions::id.eq(sql::text(rid)),
                    regions::period_id.eq(&pid),
                    regions::code.eq(&region.code),
                    regions::name.eq(&region.name),
                    regions::capacity.eq(count(region.capacity, "capacity")?),
                    regions::seats_taken.eq(0),
                ))
                .execute(conn)?;
            created.regions.push((region.code.clone(), rid));
        }
        for (order, subject) in (0..).zip(&new.subjects) {
            let sid: SubjectId = crate::new_id();
            diesel::insert_into(subjects::table)
                .values((
                    subjects::id.eq(sql::text(sid)),
                    subjects::period_id.eq(&pid),
                    subjects::code.eq(&subject.offer.code),
                    subjects::name.eq(&subject.offer.name),
                    subjects::specialties.eq(json(&subject.offer.specialties)?),
                    subjects::exam_starts_at.eq(sql::ts(subject.exam_starts_at)),
                    subjects::exam_ends_at.eq(sql::ts(subject.exam_ends_at)),
                    subjects::sort_order.eq(order),
                ))
                .execute(conn)?;
            created.subjects.push((subject.offer.code.clone(), sid));
        }
        for (order, exam_type) in (0..).zip(&new.exam_types) {
            let eid: ExamTypeId = crate::new_id();
            diesel::insert_into(exam_types::table)
                .values((
                    exam_types::id.eq(sql::text(eid)),
                    exam_types::period_id.eq(&pid),
                    exam_types::code.eq(&exam_type.code),
                    exam_types::name.eq(&exam_type.name),
                    exam_types::subject_codes.eq(json(&exam_type.rule.subject_codes)?),
                    exam_types::min_subjects.eq(i32::from(exam_type.rule.min_subjects)),
                    exam_types::max_subjects.eq(i32::from(exam_type.rule.max_subjects)),
                    exam_types::sort_order.eq(order),
                ))
                .execute(conn)?;
            for (subject_count, price) in &exam_type.prices {
                diesel::insert_into(fees::table)
                    .values((
                        fees::period_id.eq(&pid),
                        fees::exam_type_id.eq(sql::text(eid)),
                        fees::subject_count.eq(i32::from(*subject_count)),
                        fees::amount_fen.eq(price.fen()),
                    ))
                    .execute(conn)?;
            }
            created.exam_types.push((exam_type.code.clone(), eid));
        }
        for venue in &new.venues {
            let vid: VenueId = crate::new_id();
            diesel::insert_into(venues::table)
                .values((
                    venues::id.eq(sql::text(vid)),
                    venues::period_id.eq(&pid),
                    venues::name.eq(&venue.name),
                    venues::address.eq(&venue.address),
                ))
                .execute(conn)?;
            created.venues.push(vid);
        }
        Ok(created)
    })
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(StoreError::corrupt)
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(StoreError::corrupt)
}

/// A period's schedule.
pub fn schedule(conn: &mut DbConnection, id: PeriodId) -> Result<Schedule, StoreError> {
    let row = periods::table
        .find(sql::text(id))
        .select((
            periods::registration_opens,
            periods::registration_closes,
            periods::payment_deadline,
            periods::checkin_opens,
            periods::checkin_closes,
            periods::exam_ends,
        ))
        .first::<(
            chrono::NaiveDateTime,
            chrono::NaiveDateTime,
            chrono::NaiveDateTime,
            chrono::NaiveDateTime,
            chrono::NaiveDateTime,
            chrono::NaiveDateTime,
        )>(conn)
        .optional()?
        .ok_or(StoreError::NotFound { entity: "period" })?;
    Schedule::new(ScheduleInput {
        registration_opens: sql::utc(row.0),
        registration_closes: sql::utc(row.1),
        payment_deadline: Some(sql::utc(row.2)),
        checkin_opens: sql::utc(row.3),
        checkin_closes: sql::utc(row.4),
        exam_ends: sql::utc(row.5),
    })
    .map_err(StoreError::corrupt)
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
    let (rid, period_id, code, name, capacity, taken) = regions::table
        .find(sql::text(id))
        .select((
            regions::id,
            regions::period_id,
            regions::code,
            regions::name,
            regions::capacity,
            regions::seats_taken,
        ))
        .first::<(String, String, String, String, i32, i32)>(conn)
        .optional()?
        .ok_or(StoreError::NotFound { entity: "region" })?;
    Ok(Region {
        id: sql::id(&rid)?,
        period_id: sql::id(&period_id)?,
        code,
        name,
        capacity: u32::try_from(capacity).map_err(StoreError::corrupt)?,
        seats_taken: u32::try_from(taken).map_err(StoreError::corrupt)?,
    })
}

/// Takes one seat of a region if one is left, atomically (one conditional update: under
/// concurrency the database serialises the writers, so a region is never oversold).
pub(crate) fn take_seat(conn: &mut DbConnection, id: RegionId) -> Result<bool, StoreError> {
    let updated = diesel::update(regions::table.find(sql::text(id)))
        .filter(regions::seats_taken.lt(regions::capacity))
        .set(regions::seats_taken.eq(regions::seats_taken + 1))
        .execute(conn)?;
    Ok(updated == 1)
}

/// Gives a seat back.
pub(crate) fn release_seat(conn: &mut DbConnection, id: RegionId) -> Result<(), StoreError> {
    let updated = diesel::update(regions::table.find(sql::text(id)))
        .filter(regions::seats_taken.gt(0))
        .set(regions::seats_taken.eq(regions::seats_taken - 1))
        .execute(conn)?;
    if updated != 1 {
        return Err(StoreError::corrupt(format_args!(
            "region {id} released a seat it did not count"
        )));
    }
    Ok(())
}

/// The fee rule of a period.
pub fn fee_rule(conn: &mut DbConnection, id: PeriodId) -> Result<FeeRule, StoreError> {
    let rows = fees::table
        .filter(fees::period_id.eq(sql::text(id)))
        .select((fees::exam_type_id, fees::subject_count, fees::amount_fen))
        .load::<(String, i32, i64)>(conn)?;
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
    subjects::table
        .filter(subjects::period_id.eq(sql::text(id)))
        .order(subjects::sort_order)
        .select((subjects::code, subjects::name, subjects::specialties))
        .load::<(String, String, String)>(conn)?
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
    exam_types::table
        .find(sql::text(id))
        .filter(exam_types::period_id.eq(sql::text(period)))
        .select((exam_types::subject_codes, exam_types::min_subjects, exam_types::max_subjects))
        .first::<(String, i32, i32)>(conn)
        .optional()?
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

/// A venue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Venue {
    /// Id.
    pub id: VenueId,
    /// Name.
    pub name: String,
    /// Address.
    pub address: String,
}

/// Everything about a period a participant picks from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodDetail {
    /// Id.
    pub id: PeriodId,
    /// Name.
    pub name: String,
    /// The exam it belongs to.
    pub exam_name: String,
    /// Its dates.
    pub schedule: Schedule,
    /// Regions with seats.
    pub regions: Vec<Region>,
    /// Subjects.
    pub subjects: Vec<SubjectDetail>,
    /// Exam types with prices.
    pub exam_types: Vec<ExamTypeDetail>,
    /// Venues.
    pub venues: Vec<Venue>,
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
    let (name, exam_name) = periods::table
        .find(&pid)
        .select((periods::name, periods::exam_name))
        .first::<(String, String)>(conn)
        .optional()?
        .ok_or(StoreError::NotFound { entity: "period" })?;
    let schedule = schedule(conn, id)?;
    let region_ids = regions::table
        .filter(regions::period_id.eq(&pid))
        .order(regions::code)
        .select(regions::id)
        .load::<String>(conn)?;
    let regions = region_ids.iter().map(|r| region(conn, sql::id(r)?)).collect::<Result<_, _>>()?;
    let subjects = subjects::table
        .filter(subjects::period_id.eq(&pid))
        .order(subjects::sort_order)
        .select((
            subjects::id,
            subjects::code,
            subjects::name,
            subjects::specialties,
            subjects::exam_starts_at,
            subjects::exam_ends_at,
        ))
        .load::<(String, String, String, String, chrono::NaiveDateTime, chrono::NaiveDateTime)>(
            conn,
        )?
        .into_iter()
        .map(|(sid, code, name, specialties, starts, ends)| {
            Ok(SubjectDetail {
                id: sql::id(&sid)?,
                offer: SubjectOffer { code, name, specialties: from_json(&specialties)? },
                exam_starts_at: sql::utc(starts),
                exam_ends_at: sql::utc(ends),
            })
        })
        .collect::<Result<_, StoreError>>()?;
    let rule = fee_rule(conn, id)?;
    let exam_types = exam_types::table
        .filter(exam_types::period_id.eq(&pid))
        .order(exam_types::sort_order)
        .select((
            exam_types::id,
            exam_types::code,
            exam_types::name,
            exam_types::subject_codes,
            exam_types::min_subjects,
            exam_types::max_subjects,
        ))
        .load::<(String, String, String, String, i32, i32)>(conn)?
        .into_iter()
        .map(|(eid, code, name, codes, min, max)| {
            let eid: ExamTypeId = sql::id(&eid)?;
            let rule_of_type = ExamTypeRule {
                subject_codes: from_json(&codes)?,
                min_subjects: u8::try_from(min).map_err(StoreError::corrupt)?,
                max_subjects: u8::try_from(max).map_err(StoreError::corrupt)?,
            };
            let prices = (rule_of_type.min_subjects..=rule_of_type.max_subjects)
                .filter_map(|n| rule.fee(eid, n).ok().map(|price| (n, price)))
                .collect();
            Ok(ExamTypeDetail { id: eid, code, name, rule: rule_of_type, prices })
        })
        .collect::<Result<_, StoreError>>()?;
    let venues = venues::table
        .filter(venues::period_id.eq(&pid))
        .order(venues::id)
        .select((venues::id, venues::name, venues::address))
        .load::<(String, String, String)>(conn)?
        .into_iter()
        .map(|(vid, name, address)| Ok(Venue { id: sql::id(&vid)?, name, address }))
        .collect::<Result<_, StoreError>>()?;
    Ok(PeriodDetail { id, name, exam_name, schedule, regions, subjects, exam_types, venues })
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
