//! Demo data: a 监理工程师 period whose registration window is open at the given time.
//!
//! Used by the api's first local run and by tests; the subjects are those of the domain spec.

use baoming_domain::Money;
use baoming_domain::period::{
    ExamTypeRule, Plan, PlanExamType, PlanRegion, PlanSubject, PlanVenue, Schedule, ScheduleInput,
    SubjectOffer,
};
use chrono::{DateTime, Duration, Utc};

/// Fee of 考全科 (four subjects), in fen.
pub const FULL_FEE_FEN: i64 = 128_000;
/// Fee of the two-subject exam types, in fen.
pub const TWO_SUBJECT_FEE_FEN: i64 = 68_000;

/// A demo period around `now`: registration opened a day ago and closes in 14 days, payment
/// is due in 16 days, check-in is on day 30 from 07:00 to 09:00, the exams end on day 31.
pub fn demo_period(now: DateTime<Utc>) -> Plan {
    let day = |n: i64| now + Duration::days(n);
    let exam_day = day(30);
    let schedule = Schedule::new(ScheduleInput {
        registration_opens: day(-1),
        registration_closes: day(14),
        payment_deadline: Some(day(16)),
        checkin_opens: exam_day - Duration::hours(2),
        checkin_closes: exam_day,
        exam_ends: day(31) + Duration::hours(8),
    })
    .expect("the demo schedule is in order");
    let specialties = || vec!["土木建筑".to_owned(), "交通运输".to_owned(), "水利".to_owned()];
    let subject = |code: &str, name: &str, specialties: Vec<String>, day_offset: i64, hour: i64| {
        PlanSubject {
            id: None,
            offer: SubjectOffer { code: code.into(), name: name.into(), specialties },
            exam_starts_at: exam_day + Duration::days(day_offset) + Duration::hours(hour),
            exam_ends_at: exam_day + Duration::days(day_offset) + Duration::hours(hour + 2),
        }
    };
    let two = |code: &str, name: &str| PlanExamType {
        id: None,
        code: code.into(),
        name: name.into(),
        rule: ExamTypeRule {
            subject_codes: vec!["control".into(), "case".into()],
            min_subjects: 2,
            max_subjects: 2,
        },
        prices: vec![(2, fen(TWO_SUBJECT_FEE_FEN))],
    };
    Plan {
        name: "2026年第二期监理工程师培训".into(),
        exam_name: "监理工程师".into(),
        schedule,
        regions: vec![
            PlanRegion { id: None, code: "01".into(), name: "福州".into(), capacity: 200 },
            PlanRegion { id: None, code: "02".into(), name: "厦门".into(), capacity: 150 },
            PlanRegion { id: None, code: "03".into(), name: "泉州".into(), capacity: 100 },
        ],
        subjects: vec![
            subject("theory", "建设工程监理基本理论和相关法规", vec![], 0, 1),
            subject("contract", "建设工程合同管理", vec![], 0, 5),
            subject("control", "建设工程目标控制", specialties(), 1, 1),
            subject("case", "建设工程监理案例分析", specialties(), 1, 5),
        ],
        exam_types: vec![
            PlanExamType {
                id: None,
                code: "full".into(),
                name: "考全科".into(),
                rule: ExamTypeRule {
                    subject_codes: vec![
                        "theory".into(),
                        "contract".into(),
                        "control".into(),
                        "case".into(),
                    ],
                    min_subjects: 4,
                    max_subjects: 4,
                },
                prices: vec![(4, fen(FULL_FEE_FEN))],
            },
            two("exempt_basic", "免考基础科目"),
            two("add_specialty", "增报专业"),
        ],
        venues: vec![PlanVenue {
            id: None,
            name: "福建建设培训中心".into(),
            address: "福州市鼓楼区湖东路 1 号".into(),
            region_code: None,
            static_code: false,
            geofence: None,
        }],
        rejection_templates: vec![
            "照片不符合一寸白底免冠要求，请重新上传".into(),
            "报考科目与考试类型不符，请核对后重新报名".into(),
            "个人信息与证件不一致，请核对后重新报名".into(),
        ],
        checkin_slice: baoming_domain::period::SliceLength::DEFAULT,
    }
}

fn fen(amount: i64) -> Money {
    Money::from_fen(amount).expect("demo fees are positive")
}
