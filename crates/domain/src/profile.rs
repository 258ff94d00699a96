//! The participant's profile (个人信息) and the rule that locks its identity fields.

use crate::identity::{IdNumber, IdNumberError};
use crate::person::{Gender, MobilePhone, PersonName};

/// Why a profile change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// Name, gender or ID number changed after the first registration was submitted.
    #[error("首次报名提交后，姓名、性别和证件号码不能再修改")]
    IdentityLocked,
    /// The gender does not agree with the ID number.
    #[error(transparent)]
    IdNumber(#[from] IdNumberError),
}

/// The identity fields that lock after the first registration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identity {
    /// 姓名
    pub name: Option<PersonName>,
    /// 性别
    pub gender: Option<Gender>,
    /// 证件类型与号码
    pub id_number: Option<IdNumber>,
}

/// Everything the profile form holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Profile {
    /// Name, gender, ID number.
    pub identity: Identity,
    /// 手机号码
    pub phone: Option<MobilePhone>,
    /// 工作单位
    pub employer: Option<String>,
    /// 学历
    pub education: Option<String>,
    /// 职称
    pub job_title: Option<String>,
}

impl Profile {
    /// Whether a registration may be submitted with this profile: name, gender, ID number and
    /// phone present.
    pub fn is_complete(&self) -> bool {
        let id = &self.identity;
        id.name.is_some() && id.gender.is_some() && id.id_number.is_some() && self.phone.is_some()
    }

    /// Checks a replacement profile against this one: once `locked`, the identity fields may
    /// not change; the gender must agree with the ID number whenever both are given.
    pub fn check_update(&self, locked: bool, new: &Profile) -> Result<(), ProfileError> {
        if locked && new.identity != self.identity {
            return Err(ProfileError::IdentityLocked);
        }
        if let (Some(number), Some(gender)) = (&new.identity.id_number, new.identity.gender) {
            number.check_gender(gender)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::identity::IdKind;

    fn profile(name: &str, gender: Gender, number: &str) -> Profile {
        let today = NaiveDate::from_ymd_opt(2026, 11, 28).expect("date");
        Profile {
            identity: Identity {
                name: Some(PersonName::parse(name).expect("name")),
                gender: Some(gender),
                id_number: Some(IdNumber::parse(IdKind::ResidentId, number, today).expect("id")),
            },
            phone: Some(MobilePhone::parse("13800138000").expect("phone")),
            employer: Some("某监理公司".into()),
            education: None,
            job_title: None,
        }
    }

    #[test]
    fn complete_needs_identity_and_phone() {
        let p = profile("王芳", Gender::Female, "11010519491231002X");
        assert!(p.is_complete());
        assert!(!Profile { phone: None, ..p.clone() }.is_complete());
        assert!(!Profile::default().is_complete());
    }

    #[test]
    fn identity_locks_but_the_rest_stays_editable() {
        let old = profile("王芳", Gender::Female, "11010519491231002X");
        let renamed = profile("王芳芳", Gender::Female, "11010519491231002X");
        assert_eq!(old.check_update(true, &renamed), Err(ProfileError::IdentityLocked));
        assert_eq!(old.check_update(false, &renamed), Ok(()));
        let new_employer = Profile { employer: Some("另一家公司".into()), ..old.clone() };
        assert_eq!(old.check_update(true, &new_employer), Ok(()));
    }

    #[test]
    fn gender_must_match_the_id_number() {
        let old = Profile::default();
        let wrong = profile("李雷", Gender::Male, "11010519491231002X");
        assert!(matches!(old.check_update(false, &wrong), Err(ProfileError::IdNumber(_))));
    }
}
