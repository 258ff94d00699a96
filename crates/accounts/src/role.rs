//! Roles of back-office staff and non-empty sets of them.
//!
//! Authorisation is an explicit list: an endpoint names the roles it admits and
//! [`Roles::allows`] checks that the user holds at least one of them. [`Role::Admin`] is *not*
//! a super-role that implies the others — an endpoint open to administrators lists
//! [`Role::Admin`] explicitly. This keeps every permission visible where it is granted.

use std::fmt;
use std::str::FromStr;

use serde::de::{SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::AccountError;

/// What a staff user may do in the back office.
///
/// Serialised as its code (`admin`, `reviewer`, `finance`, `checkin`); deserialised through
/// [`Role::parse`]. The declaration order is the canonical order of [`Roles`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// 管理员: manages staff accounts and the event settings.
    Admin,
    /// 审核员: reviews registrations.
    Reviewer,
    /// 财务: payments, refunds and invoices.
    Finance,
    /// 报到员: checks participants in on site.
    Checkin,
}

impl Role {
    /// Every role, in the canonical order (for forms and exhaustive tests).
    pub const ALL: [Role; 4] = [Role::Admin, Role::Reviewer, Role::Finance, Role::Checkin];

    /// The stable code: `admin`, `reviewer`, `finance` or `checkin`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Reviewer => "reviewer",
            Role::Finance => "finance",
            Role::Checkin => "checkin",
        }
    }

    /// The Chinese label: `管理员`, `审核员`, `财务` or `报到员`.
    pub const fn label_zh(self) -> &'static str {
        match self {
            Role::Admin => "管理员",
            Role::Reviewer => "审核员",
            Role::Finance => "财务",
            Role::Checkin => "报到员",
        }
    }

    /// Parses a code (ASCII case-insensitive) or a Chinese label, ignoring surrounding
    /// whitespace.
    pub fn parse(raw: &str) -> Result<Role, AccountError> {
        let s = raw.trim();
        Role::ALL
            .into_iter()
            .find(|r| s.eq_ignore_ascii_case(r.as_str()) || s == r.label_zh())
            .ok_or_else(|| AccountError::RoleInvalid(s.to_owned()))
    }

    /// The bit of this role in [`Roles`].
    const fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = AccountError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::parse(s)
    }
}

impl Serialize for Role {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Role::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A non-empty set of [`Role`]s.
///
/// Its text form ([`Display`](fmt::Display) / [`Roles::parse`]) is the comma-separated list of
/// codes in the canonical order, e.g. `reviewer,finance` — suitable for a database column.
/// Serialised as a JSON array of codes in the canonical order (`["reviewer","finance"]`);
/// deserialised from such an array, refusing an empty one and ignoring duplicates.
///
/// Holding [`Role::Admin`] grants nothing beyond what endpoints explicitly grant to `Admin`;
/// see [`Roles::allows`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Roles(u8);

impl Roles {
    /// The set holding exactly `role`.
    pub const fn single(role: Role) -> Roles {
        Roles(role.bit())
    }

    /// The set of the given roles (duplicates ignored), or [`AccountError::RolesEmpty`] when
    /// there are none.
    pub fn from_roles(roles: impl IntoIterator<Item = Role>) -> Result<Roles, AccountError> {
        let bits = roles.into_iter().fold(0u8, |bits, r| bits | r.bit());
        if bits == 0 { Err(AccountError::RolesEmpty) } else { Ok(Roles(bits)) }
    }

    /// Parses a comma-separated list of roles such as `"reviewer, finance"`: each entry is
    /// parsed by [`Role::parse`] (so surrounding whitespace is ignored), duplicates are merged.
    ///
    /// Refuses an empty list, an empty entry (`"admin,,finance"`, `"admin,"`) and an unknown
    /// role.
    pub fn parse(raw: &str) -> Result<Roles, AccountError> {
        if raw.trim().is_empty() {
            return Err(AccountError::RolesEmpty);
        }
        let mut bits = 0u8;
        for entry in raw.split(',') {
            if entry.trim().is_empty() {
                return Err(AccountError::RolesEmptyEntry);
            }
            bits |= Role::parse(entry)?.bit();
        }
        Ok(Roles(bits))
    }

    /// Whether the set holds `role`.
    pub const fn contains(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    /// The roles of the set, in the canonical order.
    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL.into_iter().filter(move |r| self.contains(*r))
    }

    /// The number of roles in the set (at least 1).
    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Always `false`: a [`Roles`] is never empty (provided for API symmetry with `len`).
    pub const fn is_empty(self) -> bool {
        false
    }

    /// Whether the user holds **any** of the `allowed` roles; `false` when `allowed` is empty.
    ///
    /// There is no implicit hierarchy: [`Role::Admin`] does not imply the other roles, so an
    /// endpoint open to administrators must list [`Role::Admin`] in `allowed`.
    pub fn allows(&self, allowed: &[Role]) -> bool {
        allowed.iter().any(|r| self.contains(*r))
    }
}

impl From<Role> for Roles {
    fn from(role: Role) -> Roles {
        Roles::single(role)
    }
}

impl fmt::Debug for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, role) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(role.as_str())?;
        }
        Ok(())
    }
}

impl FromStr for Roles {
    type Err = AccountError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Roles::parse(s)
    }
}

impl Serialize for Roles {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for role in self.iter() {
            seq.serialize_element(&role)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Roles {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RolesVisitor;

        impl<'de> Visitor<'de> for RolesVisitor {
            type Value = Roles;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-empty list of roles")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Roles, A::Error> {
                let mut bits = 0u8;
                while let Some(role) = seq.next_element::<Role>()? {
                    bits |= role.bit();
                }
                Roles::from_roles(Role::ALL.into_iter().filter(|r| bits & r.bit() != 0))
                    .map_err(serde::de::Error::custom)
            }
        }

        deserializer.deserialize_seq(RolesVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn role_codes_labels_and_parse() {
        let expected = [
            (Role::Admin, "admin", "管理员"),
            (Role::Reviewer, "reviewer", "审核员"),
            (Role::Finance, "finance", "财务"),
            (Role::Checkin, "checkin", "报到员"),
        ];
        assert_eq!(Role::ALL.len(), expected.len());
        for (role, code, label) in expected {
            assert_eq!(role.as_str(), code);
            assert_eq!(role.label_zh(), label);
            assert_eq!(role.to_string(), code);
            assert_eq!(Role::parse(code), Ok(role));
            assert_eq!(Role::parse(label), Ok(role));
            assert_eq!(Role::parse(&format!("  {}  ", code.to_uppercase())), Ok(role));
            assert_eq!(code.parse::<Role>(), Ok(role));
        }
    }

    #[test]
    fn role_parse_refuses_unknown() {
        for bad in ["", "  ", "root", "administrator", "check-in", "admin,finance"] {
            assert!(matches!(Role::parse(bad), Err(AccountError::RoleInvalid(_))), "{bad:?}");
        }
        assert_eq!(
            Role::parse(" root ").map_err(|e| e.to_string()),
            Err("未知的角色「root」".to_owned())
        );
    }

    #[test]
    fn role_serde() {
        assert_eq!(serde_json::to_string(&Role::Checkin).ok(), Some("\"checkin\"".into()));
        assert_eq!(serde_json::from_str::<Role>("\"finance\"").ok(), Some(Role::Finance));
        assert!(serde_json::from_str::<Role>("\"root\"").is_err());
    }

    #[test]
    fn roles_parse_good() {
        let r = Roles::parse("reviewer,finance").unwrap();
        assert!(r.contains(Role::Reviewer) && r.contains(Role::Finance));
        assert!(!r.contains(Role::Admin) && !r.contains(Role::Checkin));
        assert_eq!(r.len(), 2);
        assert!(!r.is_empty());
        assert_eq!(r.to_string(), "reviewer,finance");

        // Trimmed, case-insensitive, deduplicated, canonical order.
        let r = Roles::parse(" finance , Admin,finance,checkin ").unwrap();
        assert_eq!(r.to_string(), "admin,finance,checkin");
        assert_eq!(r.iter().collect::<Vec<_>>(), [Role::Admin, Role::Finance, Role::Checkin]);

        assert_eq!(Roles::parse("admin").unwrap(), Roles::single(Role::Admin));
        assert_eq!("checkin".parse::<Roles>().unwrap(), Role::Checkin.into());
        assert_eq!(
            Roles::parse("checkin,reviewer,finance,admin").unwrap().to_string(),
            "admin,reviewer,finance,checkin"
        );
    }

    #[test]
    fn roles_parse_bad() {
        assert_eq!(Roles::parse(""), Err(AccountError::RolesEmpty));
        assert_eq!(Roles::parse("  "), Err(AccountError::RolesEmpty));
        assert_eq!(Roles::parse(","), Err(AccountError::RolesEmptyEntry));
        assert_eq!(Roles::parse("admin,"), Err(AccountError::RolesEmptyEntry));
        assert_eq!(Roles::parse("admin,, finance"), Err(AccountError::RolesEmptyEntry));
        assert_eq!(Roles::parse("admin,root"), Err(AccountError::RoleInvalid("root".into())));
        assert_eq!(
            Roles::parse("admin finance"),
            Err(AccountError::RoleInvalid("admin finance".into()))
        );
    }

    #[test]
    fn roles_from_roles() {
        assert_eq!(Roles::from_roles([]), Err(AccountError::RolesEmpty));
        let r = Roles::from_roles([Role::Checkin, Role::Admin, Role::Checkin]).unwrap();
        assert_eq!(r.to_string(), "admin,checkin");
        assert_eq!(format!("{r:?}"), "{Admin, Checkin}");
    }

    #[test]
    fn allows_is_any_of_and_admin_is_not_implicit() {
        let reviewer = Roles::single(Role::Reviewer);
        assert!(reviewer.allows(&[Role::Reviewer]));
        assert!(reviewer.allows(&[Role::Admin, Role::Reviewer]));
        assert!(!reviewer.allows(&[Role::Finance]));
        assert!(!reviewer.allows(&[]));

        let admin = Roles::single(Role::Admin);
        assert!(admin.allows(&[Role::Admin, Role::Finance]));
        // An admin is not implicitly everything.
        assert!(!admin.allows(&[Role::Finance]));
        assert!(!admin.allows(&[Role::Reviewer, Role::Checkin]));

        let both = Roles::parse("finance,checkin").unwrap();
        assert!(both.allows(&[Role::Checkin]));
        assert!(both.allows(&[Role::Finance]));
        assert!(!both.allows(&[Role::Admin, Role::Reviewer]));
    }

    #[test]
    fn roles_serde() {
        let r = Roles::parse("finance,admin").unwrap();
        assert_eq!(serde_json::to_string(&r).ok(), Some(r#"["admin","finance"]"#.into()));
        assert_eq!(serde_json::from_str::<Roles>(r#"["finance","admin","finance"]"#).ok(), Some(r));
        assert!(serde_json::from_str::<Roles>("[]").is_err());
        assert!(serde_json::from_str::<Roles>(r#"["root"]"#).is_err());
        assert!(serde_json::from_str::<Roles>(r#""admin""#).is_err());
    }

    fn any_roles() -> impl Strategy<Value = Roles> {
        proptest::sample::subsequence(Role::ALL.to_vec(), 1..=Role::ALL.len())
            .prop_map(|v| Roles::from_roles(v).unwrap())
    }

    proptest! {
        #[test]
        fn roles_round_trip_through_text(roles in any_roles()) {
            let text = roles.to_string();
            prop_assert_eq!(Roles::parse(&text), Ok(roles));
            prop_assert_eq!(roles.iter().count(), roles.len());
        }

        #[test]
        fn roles_parse_of_shuffled_duplicated_lists_is_canonical(
            picks in proptest::collection::vec(proptest::sample::select(Role::ALL.to_vec()), 1..8),
        ) {
            let raw = picks.iter().map(|r| format!(" {} ", r.as_str())).collect::<Vec<_>>().join(",");
            let roles = Roles::parse(&raw).unwrap();
            for r in Role::ALL {
                prop_assert_eq!(roles.contains(r), picks.contains(&r));
            }
            prop_assert_eq!(Roles::parse(&roles.to_string()), Ok(roles));
        }

        #[test]
        fn roles_parse_never_panics(raw in ".{0,40}") {
            let _ = Roles::parse(&raw);
        }
    }
}
