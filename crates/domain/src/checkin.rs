//! Check-in at the venue (扫码报到): which venue a scanned code names, and whether it checks
//! this registration in — the code verifies for the period, the venue is one of the
//! registration's region, the phone is inside the venue's geofence. The state and the
//! check-in window are the state machine's (`lifecycle::decide` with `Event::CheckIn`).
//!
//! The codes themselves (derivation, verification, QR rendering) are `baoming-checkin`'s;
//! this module holds the rules that need the period's venues and the registration.

use chrono::{DateTime, Utc};

pub use baoming_checkin::{
    CheckinKey, CodeError, CodeKind, DisplayedCode, Geofence, GeofenceError, PeriodSecret,
    Position, ScannedCode, SliceLength, VenueNumber,
};

use crate::ids::{RegionId, VenueId};
use crate::lifecycle::CheckInProof;

/// A venue (考点) of a period, as check-in sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Venue {
    /// Id.
    pub id: VenueId,
    /// Its number in the period (carried by its codes; the site of ticket numbers).
    pub number: VenueNumber,
    /// Name.
    pub name: String,
    /// Address.
    pub address: String,
    /// The region whose participants check in here; `None`: every participant of the period.
    pub region: Option<RegionId>,
    /// Whether its printed static code is accepted.
    pub static_code: bool,
    /// Where a check-in must be made from, if anywhere.
    pub geofence: Option<Geofence>,
}

impl Venue {
    /// Whether participants of `region` check in here.
    pub fn serves(&self, region: RegionId) -> bool {
        self.region.is_none_or(|r| r == region)
    }
}

/// Why a scanned code does not check this registration in.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScanRefusal {
    /// The code is not a valid current code of this period (malformed, expired, forged…).
    #[error("{0}")]
    Code(CodeError),
    /// A well-formed code naming a venue this period does not have.
    #[error("这不是本期次考点的报到码，请扫描您所在考点现场的二维码")]
    UnknownVenue,
    /// The venue is another region's.
    #[error("您报名的地区不在“{venue}”报到，请到{expected}报到")]
    OtherRegion {
        /// The scanned venue's name.
        venue: String,
        /// Where this registration checks in (venue names, or a hint).
        expected: String,
    },
    /// Outside the venue's geofence, or no position given.
    #[error("{0}")]
    Geofence(GeofenceError),
}

impl ScanRefusal {
    /// Stable machine code (e.g. `checkin_code_expired`, `checkin_other_region`).
    pub fn code(&self) -> &'static str {
        match self {
            ScanRefusal::Code(e) => e.code(),
            ScanRefusal::UnknownVenue => "checkin_unknown_venue",
            ScanRefusal::OtherRegion { .. } => "checkin_other_region",
            ScanRefusal::Geofence(e) => e.code(),
        }
    }
}

/// What a participant's scan of `text` at `now` proves for a registration of `region`: the
/// venue and the proof (rotating or static code), or why it does not count.
///
/// Checked in this order: the code is a well-formed venue code; its venue is one of the
/// period's; it verifies under the period's key (its MAC, the static-code setting of the
/// venue, its time slice); the venue serves the registration's region; the phone is inside
/// the venue's geofence (when it has one).
pub fn accept_scan<'v>(
    key: &CheckinKey,
    venues: &'v [Venue],
    region: RegionId,
    text: &str,
    position: Option<&Position>,
    now: DateTime<Utc>,
) -> Result<(&'v Venue, CheckInProof), ScanRefusal> {
    let scanned = ScannedCode::parse(text).map_err(ScanRefusal::Code)?;
    let venue =
        venues.iter().find(|v| v.number == scanned.venue()).ok_or(ScanRefusal::UnknownVenue)?;
    let kind = key
        .verify(&scanned, Some(venue.number), venue.static_code, now)
        .map_err(ScanRefusal::Code)?;
    if !venue.serves(region) {
        let mine: Vec<&str> =
            venues.iter().filter(|v| v.serves(region)).map(|v| v.name.as_str()).collect();
        let expected =
            if mine.is_empty() { "工作人员指定的考点".into() } else { mine.join("、") };
        return Err(ScanRefusal::OtherRegion { venue: venue.name.clone(), expected });
    }
    if let Some(fence) = &venue.geofence {
        fence.check(position).map_err(ScanRefusal::Geofence)?;
    }
    let proof = match kind {
        CodeKind::Rotating => CheckInProof::RotatingCode,
        CodeKind::Static => CheckInProof::StaticCode,
    };
    Ok((venue, proof))
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use uuid::Uuid;

    use super::*;
    use crate::ids::TypedId;

    fn id<T: TypedId>(n: u128) -> T {
        T::from_uuid(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | n)).expect("v7")
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_781_596_800, 0).expect("time")
    }

    fn key() -> CheckinKey {
        let secret = PeriodSecret::from_bytes(&[3; 32]).expect("secret");
        CheckinKey::new(id::<RegionId>(9).as_uuid(), secret, SliceLength::DEFAULT)
    }

    fn venues() -> Vec<Venue> {
        let venue = |n: u16, region: Option<u128>, static_code, geofence| Venue {
            id: id(100 + u128::from(n)),
            number: VenueNumber::new(n),
            name: format!("考点{n}"),
            address: "地址".into(),
            region: region.map(id),
            static_code,
            geofence,
        };
        vec![
            venue(1, Some(1), false, None),
            venue(2, Some(2), true, None),
            venue(3, None, false, Some(Geofence::new(26.08, 119.30, 500).expect("fence"))),
        ]
    }

    #[test]
    fn a_current_code_of_the_right_venue_checks_in() {
        let (key, venues) = (key(), venues());
        let code = key.rotating(VenueNumber::new(1), now()).expect("code").token;
        let (venue, proof) =
            accept_scan(&key, &venues, id(1), &code, None, now() + TimeDelta::seconds(5))
                .expect("accepted");
        assert_eq!((venue.number, proof), (VenueNumber::new(1), CheckInProof::RotatingCode));
        // Two slices later it is stale.
        assert_eq!(
            accept_scan(&key, &venues, id(1), &code, None, now() + TimeDelta::seconds(31)),
            Err(ScanRefusal::Code(CodeError::Expired))
        );
    }

    #[test]
    fn other_regions_venues_unknown_venues_and_the_fence_refuse() {
        let (key, venues) = (key(), venues());
        let second = key.rotating(VenueNumber::new(2), now()).expect("code").token;
        match accept_scan(&key, &venues, id(1), &second, None, now()) {
            Err(ScanRefusal::OtherRegion { venue, expected }) => {
                assert_eq!(venue, "考点2");
                // Venue 3 serves every region.
                assert_eq!(expected, "考点1、考点3");
            }
            other => panic!("{other:?}"),
        }
        let unknown = key.rotating(VenueNumber::new(7), now()).expect("code").token;
        assert_eq!(
            accept_scan(&key, &venues, id(1), &unknown, None, now()),
            Err(ScanRefusal::UnknownVenue)
        );
        // The static code counts only where the venue enables it, and is recorded as such.
        let printed = key.static_code(VenueNumber::new(2));
        let (_, proof) = accept_scan(&key, &venues, id(2), &printed, None, now()).expect("ok");
        assert_eq!(proof, CheckInProof::StaticCode);
        let printed = key.static_code(VenueNumber::new(1));
        assert_eq!(
            accept_scan(&key, &venues, id(1), &printed, None, now()),
            Err(ScanRefusal::Code(CodeError::StaticNotEnabled))
        );
        // The fenced venue wants a position inside its radius.
        let fenced = key.rotating(VenueNumber::new(3), now()).expect("code").token;
        assert_eq!(
            accept_scan(&key, &venues, id(1), &fenced, None, now()),
            Err(ScanRefusal::Geofence(GeofenceError::PositionMissing))
        );
        let near = Position::new(26.081, 119.301).expect("position");
        assert!(accept_scan(&key, &venues, id(1), &fenced, Some(&near), now()).is_ok());
        let far = Position::new(26.10, 119.30).expect("position");
        let refused = accept_scan(&key, &venues, id(1), &fenced, Some(&far), now());
        assert!(
            matches!(refused, Err(ScanRefusal::Geofence(GeofenceError::Outside { distance_m, .. })) if (2200..2250).contains(&distance_m)),
            "{refused:?}"
        );
        assert!(refused.expect_err("outside").to_string().contains("米"));
        // Garbage is malformed.
        assert_eq!(
            accept_scan(&key, &venues, id(1), "hello", None, now()),
            Err(ScanRefusal::Code(CodeError::Malformed))
        );
    }
}
