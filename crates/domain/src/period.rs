//! Periods (期次): their schedule of windows and their fee rule.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ExamTypeId, RegionId, SubjectId, VenueId};

use crate::money::Money;
pub use baoming_checkin::{Geofence, SliceLength};

/// Why a schedule is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The registration window closes before it opens.
    #[error("报名截止时间必须晚于报名开始时间")]
    RegistrationWindowInverted,
    /// The payment deadline is before the registration window closes.
    #[error("缴费截止时间不能早于报名截止时间")]
    PaymentDeadlineTooEarly,
    /// The check-in window closes before it opens.
    #[error("报到截止时间必须晚于报到开始时间")]
    CheckInWindowInverted,
    /// Check-in opens before registration opens.
    #[error("报到开始时间不能早于报名开始时间")]
    CheckInBeforeRegistration,
    /// The exam ends before the payment deadline or the check-in window.
    #[error("考试结束时间不能早于缴费截止时间或报到截止时间")]
    ExamEndsTooEarly,
}

/// The dates of a period, in the order they must come.
///
/// `registration_opens < registration_closes <= payment_deadline <= exam_ends`,
/// `registration_opens <= checkin_opens < checkin_closes <= exam_ends`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    registration_opens: DateTime<Utc>,
    registration_closes: DateTime<Utc>,
    payment_deadline: DateTime<Utc>,
    checkin_opens: DateTime<Utc>,
    checkin_closes: DateTime<Utc>,
    exam_ends: DateTime<Utc>,
}

/// The raw dates of a schedule, before validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleInput {
    /// When registration opens.
    pub registration_opens: DateTime<Utc>,
    /// When registration closes.
    pub registration_closes: DateTime<Utc>,
    /// When unpaid approved registrations are closed; defaults to `registration_closes`.
    pub payment_deadline: Option<DateTime<Utc>>,
    /// When check-in at the venue opens.
    pub checkin_opens: DateTime<Utc>,
    /// When check-in at the venue closes.
    pub checkin_closes: DateTime<Utc>,
    /// When the sitting's last exam ends.
    pub exam_ends: DateTime<Utc>,
}

impl Schedule {
    /// Validates the order of the dates.
    pub fn new(input: ScheduleInput) -> Result<Self, ScheduleError> {
        let payment_deadline = input.payment_deadline.unwrap_or(input.registration_closes);
        if input.registration_closes <= input.registration_opens {
            return Err(ScheduleError::RegistrationWindowInverted);
        }
        if payment_deadline < input.registration_closes {
            return Err(ScheduleError::PaymentDeadlineTooEarly);
        }
        if input.checkin_closes <= input.checkin_opens {
            return Err(ScheduleError::CheckInWindowInverted);
        }
        if input.checkin_opens < input.registration_opens {
            return Err(ScheduleError::CheckInBeforeRegistration);
        }
        if input.exam_ends < payment_deadline || input.exam_ends < input.checkin_closes {
            return Err(ScheduleError::ExamEndsTooEarly);
        }
        Ok(Self {
            registration_opens: input.registration_opens,
            registration_closes: input.registration_closes,
            payment_deadline,
            checkin_opens: input.checkin_opens,
            checkin_closes: input.checkin_closes,
            exam_ends: input.exam_ends,
        })
    }

    /// When registration opens.
    pub fn registration_opens(&self) -> DateTime<Utc> {
        self.registration_opens
    }
    /// When registration closes.
    pub fn registration_closes(&self) -> DateTime<Utc> {
        self.registration_closes
    }
    /// When unpaid approved registrations are closed.
    pub fn payment_deadline(&self) -> DateTime<Utc> {
        self.payment_deadline
    }
    /// When check-in opens.
    pub fn checkin_opens(&self) -> DateTime<Utc> {
        self.checkin_opens
    }
    /// When check-in closes.
    pub fn checkin_closes(&self) -> DateTime<Utc> {
        self.checkin_closes
    }
    /// When the sitting ends.
    pub fn exam_ends(&self) -> DateTime<Utc> {
        self.exam_ends
    }

    /// Whether `now` is inside the registration window `[opens, closes)`.
    pub fn registration_open(&self, now: DateTime<Utc>) -> bool {
        self.registration_opens <= now && now < self.registration_closes
    }

    /// Whether the payment deadline has passed at `now`.
    pub fn payment_deadline_passed(&self, now: DateTime<Utc>) -> bool {
        now >= self.payment_deadline
    }

    /// Whether `now` is inside the check-in window `[opens, closes)`.
    pub fn checkin_open(&self, now: DateTime<Utc>) -> bool {
        self.checkin_opens <= now && now < self.checkin_closes
    }

    /// Whether the sitting has ended at `now`.
    pub fn sitting_ended(&self, now: DateTime<Utc>) -> bool {
        now >= self.exam_ends
    }
}

/// Why no fee can be given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeeError {
    /// The rule has no price for this exam type and number of subjects.
    #[error("该考试类型不能报考{subjects}个科目")]
    NoPrice {
        /// The number of subjects asked for.
        subjects: u8,
    },
}

/// A period's fee rule: a price per exam type and number of subjects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeeRule {
    prices: BTreeMap<(ExamTypeId, u8), Money>,
}

impl FeeRule {
    /// An empty rule (no price for anything).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the price for `exam_type` with `subjects` subjects.
    pub fn set(&mut self, exam_type: ExamTypeId, subjects: u8, price: Money) {
        self.prices.insert((exam_type, subjects), price);
    }

    /// The fee for a registration choosing `exam_type` and `subjects` subjects.
    pub fn fee(&self, exam_type: ExamTypeId, subjects: u8) -> Result<Money, FeeError> {
        self.prices.get(&(exam_type, subjects)).copied().ok_or(FeeError::NoPrice { subjects })
    }
}

/// A subject a period offers (科目), with the specialties (专业) one may choose in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectOffer {
    /// Stable code within the period.
    pub code: String,
    /// Name, e.g. 建设工程目标控制.
    pub name: String,
    /// Specialties, e.g. 土木建筑/交通运输/水利; empty when the subject has none.
    pub specialties: Vec<String>,
}

/// A subject as the participant chose it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SubjectChoice {
    /// The subject's code.
    pub code: String,
    /// The specialty, for subjects that have specialties.
    pub specialty: Option<String>,
}

/// A chosen subject as recorded on the registration (a snapshot: later edits of the period do
/// not rewrite it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChosenSubject {
    /// The subject's code.
    pub code: String,
    /// The subject's name at submission.
    pub name: String,
    /// The specialty chosen, if the subject has specialties.
    pub specialty: Option<String>,
}

/// Why a choice of subjects is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChoiceError {
    /// A subject code the exam type does not offer.
    #[error("所选考试类型不包含科目“{0}”")]
    SubjectNotOffered(String),
    /// The same subject twice.
    #[error("科目“{0}”重复选择")]
    DuplicateSubject(String),
    /// A subject with specialties needs one of them.
    #[error("科目“{0}”需要选择专业")]
    SpecialtyRequired(String),
    /// A specialty the subject does not have (or a specialty for a subject without any).
    #[error("科目“{0}”没有所选专业")]
    SpecialtyNotOffered(String),
    /// The region is not one of the period's.
    #[error("所选地区不在本期次开放范围内")]
    RegionNotOffered,
    /// The exam type is not one of the period's.
    #[error("所选考试类型不在本期次开放范围内")]
    ExamTypeNotOffered,
    /// The fee rule has no price for this choice.
    #[error(transparent)]
    NoFee(#[from] FeeError),
    /// Too few or too many subjects for the exam type.
    #[error("该考试类型需选择{min}至{max}个科目")]
    SubjectCount {
        /// Fewest allowed.
        min: u8,
        /// Most allowed.
        max: u8,
    },
}

/// What an exam type (考试类型) allows: which subjects, how many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExamTypeRule {
    /// Codes of the subjects one may take under this exam type.
    pub subject_codes: Vec<String>,
    /// Fewest subjects.
    pub min_subjects: u8,
    /// Most subjects.
    pub max_subjects: u8,
}

impl ExamTypeRule {
    /// Checks a choice of subjects against this exam type and the period's offers, and returns
    /// the snapshot to record.
    pub fn check(
        &self,
        offers: &[SubjectOffer],
        chosen: &[SubjectChoice],
    ) -> Result<Vec<ChosenSubject>, ChoiceError> {
        let count = u8::try_from(chosen.len()).unwrap_or(u8::MAX);
        if count < self.min_subjects || count > self.max_subjects {
            return Err(ChoiceError::SubjectCount {
                min: self.min_subjects,
                max: self.max_subjects,
            });
        }
        let mut snapshot: Vec<ChosenSubject> = Vec::with_capacity(chosen.len());
        for choice in chosen {
            let offer = offers
                .iter()
                .find(|o| o.code == choice.code && self.subject_codes.contains(&o.code))
                .ok_or_else(|| ChoiceError::SubjectNotOffered(choice.code.clone()))?;
            if snapshot.iter().any(|s| s.code == offer.code) {
                return Err(ChoiceError::DuplicateSubject(offer.name.clone()));
            }
            match (&choice.specialty, offer.specialties.is_empty()) {
                (None, false) => return Err(ChoiceError::SpecialtyRequired(offer.name.clone())),
                (Some(s), _) if !offer.specialties.contains(s) => {
                    return Err(ChoiceError::SpecialtyNotOffered(offer.name.clone()));
                }
                _ => {}
            }
            snapshot.push(ChosenSubject {
                code: offer.code.clone(),
                name: offer.name.clone(),
                specialty: choice.specialty.clone(),
            });
        }
        Ok(snapshot)
    }
}

/// A region of a period plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRegion {
    /// The existing region this row edits; `None` for a new region.
    pub id: Option<RegionId>,
    /// Two-digit code (used in ticket numbers), unique in the period.
    pub code: String,
    /// Name, e.g. 福州.
    pub name: String,
    /// Seats.
    pub capacity: u32,
}

/// A subject of a period plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanSubject {
    /// The existing subject this row edits; `None` for a new one.
    pub id: Option<SubjectId>,
    /// Code, name and specialties.
    pub offer: SubjectOffer,
    /// When its exam starts.
    pub exam_starts_at: DateTime<Utc>,
    /// When its exam ends.
    pub exam_ends_at: DateTime<Utc>,
}

/// An exam type of a period plan with its prices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanExamType {
    /// The existing exam type this row edits; `None` for a new one.
    pub id: Option<ExamTypeId>,
    /// Code, unique in the period.
    pub code: String,
    /// Name, e.g. 考全科.
    pub name: String,
    /// Which subjects and how many.
    pub rule: ExamTypeRule,
    /// Price by number of subjects.
    pub prices: Vec<(u8, Money)>,
}

/// A venue of a period plan (考点): where participants check in and sit.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanVenue {
    /// The existing venue this row edits; `None` for a new one.
    pub id: Option<VenueId>,
    /// Name.
    pub name: String,
    /// Address.
    pub address: String,
    /// The region (by its code in this plan) whose participants check in here; `None`: every
    /// participant of the period.
    pub region_code: Option<String>,
    /// Whether the venue's printed static code is accepted (a fallback, off by default).
    pub static_code: bool,
    /// Where a check-in must be made from, if anywhere.
    pub geofence: Option<Geofence>,
}

/// A whole period as an admin creates or edits it.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Name, e.g. 2026年第二期.
    pub name: String,
    /// The training/exam it belongs to, e.g. 监理工程师.
    pub exam_name: String,
    /// Its dates (validated by [`Schedule::new`]).
    pub schedule: Schedule,
    /// Regions.
    pub regions: Vec<PlanRegion>,
    /// Subjects.
    pub subjects: Vec<PlanSubject>,
    /// Exam types.
    pub exam_types: Vec<PlanExamType>,
    /// Venues.
    pub venues: Vec<PlanVenue>,
    /// Ready-made rejection reasons reviewers may pick.
    pub rejection_templates: Vec<String>,
    /// How often the venues' check-in codes turn.
    pub checkin_slice: SliceLength,
}

/// One problem of a plan, with where it is (`regions[1].code`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanProblem {
    /// Where.
    pub field: String,
    /// What, in Chinese.
    pub message: String,
}

fn text_ok(text: &str, max: usize) -> bool {
    let t = text.trim();
    !t.is_empty() && t.chars().count() <= max && !t.chars().any(char::is_control)
}

impl Plan {
    /// Checks everything a period must satisfy on its own (the data layer adds what needs the
    /// database: capacity against seats taken, references of registrations): every problem.
    pub fn check(&self) -> Result<(), Vec<PlanProblem>> {
        let mut problems = Vec::new();
        let mut problem = |field: String, message: &str| {
            problems.push(PlanProblem { field, message: message.into() })
        };
        if !text_ok(&self.name, 100) {
            problem("name".into(), "请填写期次名称（不超过100字）");
        }
        if !text_ok(&self.exam_name, 100) {
            problem("exam_name".into(), "请填写考试名称（不超过100字）");
        }
        if self.regions.is_empty() {
            problem("regions".into(), "至少需要一个地区");
        }
        if self.subjects.is_empty() {
            problem("subjects".into(), "至少需要一个科目");
        }
        if self.exam_types.is_empty() {
            problem("exam_types".into(), "至少需要一个考试类型");
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, r) in self.regions.iter().enumerate() {
            if r.code.len() != 2 || !r.code.bytes().all(|b| b.is_ascii_digit()) {
                problem(format!("regions[{i}].code"), "地区代码应为两位数字");
            } else if !seen.insert(r.code.clone()) {
                problem(format!("regions[{i}].code"), "地区代码重复");
            }
            if !text_ok(&r.name, 50) {
                problem(format!("regions[{i}].name"), "请填写地区名称");
            }
        }
        let mut codes = std::collections::BTreeSet::new();
        for (i, s) in self.subjects.iter().enumerate() {
            if !text_ok(&s.offer.code, 32) || !codes.insert(s.offer.code.clone()) {
                problem(format!("subjects[{i}].code"), "科目代码为空或重复");
            }
            if !text_ok(&s.offer.name, 100) {
                problem(format!("subjects[{i}].name"), "请填写科目名称");
            }
            if s.offer.specialties.iter().any(|sp| !text_ok(sp, 50)) {
                problem(format!("subjects[{i}].specialties"), "专业名称不能为空");
            }
            if s.exam_ends_at <= s.exam_starts_at {
                problem(format!("subjects[{i}].exam_ends_at"), "考试结束时间必须晚于开始时间");
            }
        }
        let mut type_codes = std::collections::BTreeSet::new();
        for (i, e) in self.exam_types.iter().enumerate() {
            if !text_ok(&e.code, 32) || !type_codes.insert(e.code.clone()) {
                problem(format!("exam_types[{i}].code"), "考试类型代码为空或重复");
            }
            if !text_ok(&e.name, 50) {
                problem(format!("exam_types[{i}].name"), "请填写考试类型名称");
            }
            if e.rule.subject_codes.iter().any(|c| !codes.contains(c)) {
                problem(format!("exam_types[{i}].subject_codes"), "考试类型包含不存在的科目");
            }
            let offered = u8::try_from(e.rule.subject_codes.len()).unwrap_or(u8::MAX);
            if e.rule.min_subjects == 0
                || e.rule.min_subjects > e.rule.max_subjects
                || e.rule.max_subjects > offered
            {
                problem(format!("exam_types[{i}].min_subjects"), "科目数量范围不正确");
            }
            let counts: std::collections::BTreeSet<u8> = e.prices.iter().map(|(n, _)| *n).collect();
            if counts.len() != e.prices.len() {
                problem(format!("exam_types[{i}].prices"), "同一科目数量只能有一个价格");
            }
            if (e.rule.min_subjects..=e.rule.max_subjects).any(|n| !counts.contains(&n))
                || counts.iter().any(|n| *n < e.rule.min_subjects || *n > e.rule.max_subjects)
            {
                problem(
                    format!("exam_types[{i}].prices"),
                    "每个可选科目数量都需要且只需要一个价格",
                );
            }
        }
        let mut venue_names = std::collections::BTreeSet::new();
        for (i, v) in self.venues.iter().enumerate() {
            if !text_ok(&v.name, 100) || !text_ok(&v.address, 200) {
                problem(format!("venues[{i}]"), "请填写考点名称和地址");
            } else if !venue_names.insert(v.name.trim()) {
                problem(format!("venues[{i}].name"), "考点名称重复");
            }
            if let Some(code) = &v.region_code
                && !self.regions.iter().any(|r| r.code == *code)
            {
                problem(format!("venues[{i}].region_code"), "考点所属地区不在本期次中");
            }
        }
        if self.venues.len() > 99 {
            problem("venues".into(), "考点不能超过99个");
        }
        for (i, t) in self.rejection_templates.iter().enumerate() {
            if !text_ok(t, crate::lifecycle::Reason::MAX_CHARS) {
                problem(format!("rejection_templates[{i}]"), "驳回原因模板不能为空或过长");
            }
        }
        if problems.is_empty() { Ok(()) } else { Err(problems) }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::ids::TypedId;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, day, hour, 0, 0).single().expect("valid test date")
    }

    fn input() -> ScheduleInput {
        ScheduleInput {
            registration_opens: at(1, 1),
            registration_closes: at(10, 1),
            payment_deadline: None,
            checkin_opens: at(20, 0),
            checkin_closes: at(20, 8),
            exam_ends: at(21, 10),
        }
    }

    #[test]
    fn payment_deadline_defaults_to_registration_close() {
        let s = Schedule::new(input()).expect("valid schedule");
        assert_eq!(s.payment_deadline(), at(10, 1));
        assert!(s.registration_open(at(1, 1)));
        assert!(!s.registration_open(at(10, 1)));
        assert!(s.payment_deadline_passed(at(10, 1)));
        assert!(s.checkin_open(at(20, 7)));
        assert!(!s.checkin_open(at(20, 8)));
        assert!(!s.sitting_ended(at(21, 9)));
        assert!(s.sitting_ended(at(21, 10)));
    }

    #[test]
    fn refuses_dates_out_of_order() {
        let cases = [
            (
                ScheduleInput { registration_closes: at(1, 1), ..input() },
                ScheduleError::RegistrationWindowInverted,
            ),
            (
                ScheduleInput { payment_deadline: Some(at(9, 0)), ..input() },
                ScheduleError::PaymentDeadlineTooEarly,
            ),
            (
                ScheduleInput { checkin_closes: at(20, 0), ..input() },
                ScheduleError::CheckInWindowInverted,
            ),
            (
                ScheduleInput { checkin_opens: at(1, 0), ..input() },
                ScheduleError::CheckInBeforeRegistration,
            ),
            (ScheduleInput { exam_ends: at(20, 7), ..input() }, ScheduleError::ExamEndsTooEarly),
        ];
        for (case, expected) in cases {
            assert_eq!(Schedule::new(case), Err(expected));
        }
    }

    fn offers() -> Vec<SubjectOffer> {
        let civil = || vec!["土木建筑".to_owned(), "交通运输".to_owned(), "水利".to_owned()];
        vec![
            SubjectOffer {
                code: "theory".into(),
                name: "建设工程监理基本理论和相关法规".into(),
                specialties: vec![],
            },
            SubjectOffer {
                code: "contract".into(),
                name: "建设工程合同管理".into(),
                specialties: vec![],
            },
            SubjectOffer {
                code: "control".into(),
                name: "建设工程目标控制".into(),
                specialties: civil(),
            },
            SubjectOffer {
                code: "case".into(),
                name: "建设工程监理案例分析".into(),
                specialties: civil(),
            },
        ]
    }

    fn choice(code: &str, specialty: Option<&str>) -> SubjectChoice {
        SubjectChoice { code: code.into(), specialty: specialty.map(Into::into) }
    }

    #[test]
    fn exam_type_checks_subjects_and_specialties() {
        // 免考基础科目: only the two specialty subjects.
        let exempt = ExamTypeRule {
            subject_codes: vec!["control".into(), "case".into()],
            min_subjects: 2,
            max_subjects: 2,
        };
        let ok = [choice("control", Some("水利")), choice("case", Some("水利"))];
        let snapshot = exempt.check(&offers(), &ok).expect("valid choice");
        assert_eq!(snapshot[0].name, "建设工程目标控制");
        assert_eq!(
            exempt.check(&offers(), &[choice("control", Some("水利"))]),
            Err(ChoiceError::SubjectCount { min: 2, max: 2 })
        );
        assert_eq!(
            exempt.check(&offers(), &[choice("theory", None), choice("case", Some("水利"))]),
            Err(ChoiceError::SubjectNotOffered("theory".into()))
        );
        assert_eq!(
            exempt.check(&offers(), &[choice("control", None), choice("case", Some("水利"))]),
            Err(ChoiceError::SpecialtyRequired("建设工程目标控制".into()))
        );
        assert_eq!(
            exempt
                .check(&offers(), &[choice("control", Some("航天")), choice("case", Some("水利"))]),
            Err(ChoiceError::SpecialtyNotOffered("建设工程目标控制".into()))
        );
        assert_eq!(
            exempt.check(&offers(), &[choice("case", Some("水利")), choice("case", Some("水利"))]),
            Err(ChoiceError::DuplicateSubject("建设工程监理案例分析".into()))
        );
    }

    fn plan() -> Plan {
        let exam = at(20, 9);
        Plan {
            name: "2026年第二期".into(),
            exam_name: "监理工程师".into(),
            schedule: Schedule::new(input()).expect("schedule"),
            regions: vec![PlanRegion {
                id: None,
                code: "01".into(),
                name: "福州".into(),
                capacity: 10,
            }],
            subjects: offers()
                .into_iter()
                .map(|offer| PlanSubject {
                    id: None,
                    offer,
                    exam_starts_at: exam,
                    exam_ends_at: at(20, 11),
                })
                .collect(),
            exam_types: vec![PlanExamType {
                id: None,
                code: "exempt".into(),
                name: "免考基础科目".into(),
                rule: ExamTypeRule {
                    subject_codes: vec!["control".into(), "case".into()],
                    min_subjects: 2,
                    max_subjects: 2,
                },
                prices: vec![(2, Money::from_fen(68_000).expect("fee"))],
            }],
            venues: vec![PlanVenue {
                id: None,
                name: "培训中心".into(),
                address: "湖东路1号".into(),
                region_code: Some("01".into()),
                static_code: false,
                geofence: None,
            }],
            rejection_templates: vec!["照片不合格".into()],
            checkin_slice: SliceLength::DEFAULT,
        }
    }

    #[test]
    fn a_plan_is_checked_whole() {
        assert_eq!(plan().check(), Ok(()));
        let mut bad = plan();
        bad.regions.push(PlanRegion {
            id: None,
            code: "01".into(),
            name: "厦门".into(),
            capacity: 5,
        });
        bad.regions.push(PlanRegion { id: None, code: "3".into(), name: " ".into(), capacity: 5 });
        bad.exam_types[0].rule.subject_codes.push("nope".into());
        bad.exam_types[0].prices.clear();
        bad.subjects[0].exam_ends_at = bad.subjects[0].exam_starts_at;
        bad.rejection_templates.push(String::new());
        let mut elsewhere = bad.venues[0].clone();
        elsewhere.region_code = Some("99".into());
        bad.venues.push(elsewhere);
        let fields: Vec<String> =
            bad.check().expect_err("problems").into_iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            vec![
                "regions[1].code",
                "regions[2].code",
                "regions[2].name",
                "subjects[0].exam_ends_at",
                "exam_types[0].subject_codes",
                "exam_types[0].prices",
                "venues[1].name",
                "venues[1].region_code",
                "rejection_templates[1]",
            ]
        );
    }

    #[test]
    fn fee_rule_prices_by_exam_type_and_subject_count() {
        let full = ExamTypeId::parse("01932c07-2c7e-7d3a-9b1f-6f1e2a3b4c5d").expect("v7");
        let mut rule = FeeRule::new();
        rule.set(full, 4, Money::from_fen(128_000).expect("fee"));
        assert_eq!(rule.fee(full, 4).map(|m| m.fen()), Ok(128_000));
        assert_eq!(rule.fee(full, 2), Err(FeeError::NoPrice { subjects: 2 }));
    }
}
