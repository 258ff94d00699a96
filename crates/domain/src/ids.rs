//! Typed identifiers: one newtype per entity over a UUID v7.
//!
//! The newtypes compile without Diesel; the data layer converts them to and from text columns.
//! A value of one of these types always holds a version-7 UUID: `parse` and `from_uuid` refuse
//! anything else, so a registration id can never be passed where a period id is expected and a
//! random string from a URL never reaches a query.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// Why a string or UUID is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Not a UUID at all.
    #[error("编号格式不正确")]
    Malformed,
    /// A UUID, but not version 7.
    #[error("编号版本不正确")]
    NotV7,
}

/// Behaviour shared by every typed identifier.
pub trait TypedId: Copy + Eq + fmt::Debug + fmt::Display + Sized {
    /// The entity name used in messages (e.g. `registration`).
    const ENTITY: &'static str;

    /// Wraps a UUID, refusing anything but version 7.
    fn from_uuid(uuid: Uuid) -> Result<Self, IdError>;

    /// The wrapped UUID.
    fn as_uuid(&self) -> Uuid;

    /// Parses the hyphenated text form (as stored and as sent by clients).
    fn parse(text: &str) -> Result<Self, IdError> {
        let uuid = Uuid::try_parse(text.trim()).map_err(|_| IdError::Malformed)?;
        Self::from_uuid(uuid)
    }
}

macro_rules! typed_id {
    ($($(#[$doc:meta])* $name:ident => $entity:literal;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Uuid);

        impl TypedId for $name {
            const ENTITY: &'static str = $entity;

            fn from_uuid(uuid: Uuid) -> Result<Self, IdError> {
                if uuid.get_version_num() == 7 {
                    Ok(Self(uuid))
                } else {
                    Err(IdError::NotV7)
                }
            }

            fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(s: &str) -> Result<Self, IdError> {
                <Self as TypedId>::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(&self.0.hyphenated())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                <Self as TypedId>::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    )*};
}

typed_id! {
    /// A participant: one WeChat user (one openid).
    ParticipantId => "participant";
    /// A registration (报名) of one participant for one period.
    RegistrationId => "registration";
    /// A training period (期次).
    PeriodId => "period";
    /// A region (地区) of a period, with its own capacity.
    RegionId => "region";
    /// A subject offered in a period.
    SubjectId => "subject";
    /// An exam type of a period (考全科, 免考基础科目, …).
    ExamTypeId => "exam_type";
    /// A venue (考点) of a period.
    VenueId => "venue";
    /// A back-office staff user.
    StaffId => "staff";
    /// A saved invoice title (发票抬头) of a participant.
    InvoiceTitleId => "invoice_title";
    /// An invoice finance exported for issue (its serial, 发票流水号, is stable).
    InvoiceId => "invoice";
    /// One bulk-issue workbook finance exported (kept, to be downloaded again).
    InvoiceExportId => "invoice_export";
    /// An uploaded ID photo.
    PhotoId => "photo";
    /// A row of the registration event log.
    EventId => "event";
    /// A background job.
    JobId => "job";
    /// A login session (participant or staff).
    SessionId => "session";
    /// A WeChat Pay order (one per registration; its `out_trade_no` derives from this id).
    OrderId => "order";
    /// Money received for a registration: a row of the payment ledger.
    PaymentId => "payment";
    /// A refund of one payment (its `out_refund_no` derives from this id).
    RefundId => "refund";
}

#[cfg(test)]
mod tests {
    use super::*;

    const V7: &str = "01932c07-2c7e-7d3a-9b1f-6f1e2a3b4c5d";
    const V4: &str = "67e55044-10b1-426f-9247-bb680e5fe0c8";

    #[test]
    fn parses_and_prints_v7() {
        let id = RegistrationId::parse(V7).expect("valid v7");
        assert_eq!(id.to_string(), V7);
        assert_eq!(format!("{id:?}"), format!("RegistrationId({V7})"));
        assert_eq!(V7.parse::<RegistrationId>(), Ok(id));
    }

    #[test]
    fn refuses_other_versions_and_garbage() {
        assert_eq!(PeriodId::parse(V4), Err(IdError::NotV7));
        assert_eq!(PeriodId::parse("not-a-uuid"), Err(IdError::Malformed));
        assert_eq!(PeriodId::parse(""), Err(IdError::Malformed));
    }

    #[test]
    fn deserialize_goes_through_parse() {
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error, StrDeserializer};

        let ok: StrDeserializer<'_, Error> = V7.into_deserializer();
        assert_eq!(ParticipantId::deserialize(ok).map(|id| id.to_string()), Ok(V7.to_owned()));
        let v4: StrDeserializer<'_, Error> = V4.into_deserializer();
        assert!(ParticipantId::deserialize(v4).is_err());
    }
}
