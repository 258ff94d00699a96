//! The optional geofence of a venue: the participant must be within a radius of it.

/// Mean Earth radius (IUGG R₁) used for great-circle distances, in metres.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A point in GCJ-02 degrees, as `wx.getLocation({ type: 'gcj02' })` and the Tencent map
/// picker give them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    lat: f64,
    lon: f64,
}

impl Position {
    /// A point; latitude in −90..=90, longitude in −180..=180, both finite.
    pub fn new(lat: f64, lon: f64) -> Result<Self, CoordinateError> {
        if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
            return Err(CoordinateError::Latitude);
        }
        if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
            return Err(CoordinateError::Longitude);
        }
        Ok(Self { lat, lon })
    }

    /// Latitude in degrees.
    pub fn lat(&self) -> f64 {
        self.lat
    }

    /// Longitude in degrees.
    pub fn lon(&self) -> f64 {
        self.lon
    }

    /// Great-circle (haversine) distance to `other` in metres, on a sphere of
    /// [`EARTH_RADIUS_M`].
    pub fn distance_m(&self, other: &Position) -> f64 {
        let (phi1, phi2) = (self.lat.to_radians(), other.lat.to_radians());
        let half_dphi = (phi2 - phi1) / 2.0;
        let half_dlambda = (other.lon - self.lon).to_radians() / 2.0;
        let h = half_dphi.sin().powi(2) + phi1.cos() * phi2.cos() * half_dlambda.sin().powi(2);
        2.0 * EARTH_RADIUS_M * h.clamp(0.0, 1.0).sqrt().asin()
    }
}

/// A venue's geofence: a centre and a radius of 10–5000 m.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geofence {
    centre: Position,
    radius_m: u32,
}

impl Geofence {
    /// Smallest allowed radius, in metres.
    pub const MIN_RADIUS_M: u32 = 10;
    /// Largest allowed radius, in metres.
    pub const MAX_RADIUS_M: u32 = 5000;

    /// A fence around (`lat`, `lon`) in GCJ-02 degrees with a radius in metres.
    pub fn new(lat: f64, lon: f64, radius_m: u32) -> Result<Self, CoordinateError> {
        let centre = Position::new(lat, lon)?;
        if !(Self::MIN_RADIUS_M..=Self::MAX_RADIUS_M).contains(&radius_m) {
            return Err(CoordinateError::Radius);
        }
        Ok(Self { centre, radius_m })
    }

    /// The centre.
    pub fn centre(&self) -> Position {
        self.centre
    }

    /// The radius in metres.
    pub fn radius_m(&self) -> u32 {
        self.radius_m
    }

    /// Whether `position` (the participant's, `None` when the mini-program sent none) is
    /// within the radius: distance ≤ radius, both in metres.
    pub fn check(&self, position: Option<&Position>) -> Result<(), GeofenceError> {
        let position = position.ok_or(GeofenceError::PositionMissing)?;
        let distance = self.centre.distance_m(position);
        if distance <= f64::from(self.radius_m) {
            Ok(())
        } else {
            Err(GeofenceError::Outside {
                // At most half the circumference (≈ 20 015 km): fits a u32.
                distance_m: distance.round() as u32,
                radius_m: self.radius_m,
            })
        }
    }
}

/// Why coordinates or a radius are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CoordinateError {
    /// Not a finite number in −90..=90.
    #[error("纬度应在 -90 到 90 之间")]
    Latitude,
    /// Not a finite number in −180..=180.
    #[error("经度应在 -180 到 180 之间")]
    Longitude,
    /// Radius outside 10–5000 m.
    #[error("报到范围半径应在 10 到 5000 米之间")]
    Radius,
}

impl CoordinateError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Latitude => "checkin_latitude_invalid",
            Self::Longitude => "checkin_longitude_invalid",
            Self::Radius => "checkin_radius_out_of_range",
        }
    }
}

/// Why the participant's position does not pass a venue's geofence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GeofenceError {
    /// The venue has a geofence and no position was sent.
    #[error("请允许小程序获取您的位置后再报到")]
    PositionMissing,
    /// Farther than the radius.
    #[error("您距离考点约 {distance_m} 米，超出报到范围（{radius_m} 米），请到达考点后再报到")]
    Outside {
        /// Distance to the centre, rounded to the metre.
        distance_m: u32,
        /// The fence's radius.
        radius_m: u32,
    },
}

impl GeofenceError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::PositionMissing => "checkin_position_missing",
            Self::Outside { .. } => "checkin_outside_geofence",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hundredth_of_a_degree_of_latitude() {
        // Along a meridian the distance is the arc R·Δφ: 6 371 008.8 × 0.01 × π / 180.
        let expected = EARTH_RADIUS_M * 0.01_f64.to_radians();
        assert!((expected - 1111.9508).abs() < 1e-3);
        let a = Position::new(39.90, 116.40).unwrap();
        let b = Position::new(39.91, 116.40).unwrap();
        assert!((a.distance_m(&b) - expected).abs() < 1e-6);
        assert!((b.distance_m(&a) - expected).abs() < 1e-6);
    }

    #[test]
    fn along_a_parallel_and_between_cities() {
        // At 60° N, 0.01° of longitude is about R·cos 60°·Δλ = 555.9754 m.
        let a = Position::new(60.0, 10.0).unwrap();
        let b = Position::new(60.0, 10.01).unwrap();
        assert!((a.distance_m(&b) - 555.9754).abs() < 1e-3);
        // Shanghai (31.2304, 121.4737) to Beijing (39.9042, 116.4074): 1 067 311.6 m,
        // computed separately with Python's math module.
        let sh = Position::new(31.2304, 121.4737).unwrap();
        let bj = Position::new(39.9042, 116.4074).unwrap();
        assert!((sh.distance_m(&bj) - 1_067_311.6).abs() < 0.5);
        assert_eq!(sh.distance_m(&sh), 0.0);
    }

    #[test]
    fn inside_on_the_edge_and_outside() {
        let fence = Geofence::new(39.90, 116.40, 1112).unwrap();
        let near = Position::new(39.9001, 116.4001).unwrap();
        assert_eq!(fence.check(Some(&near)), Ok(()));
        let edge = Position::new(39.91, 116.40).unwrap(); // 1111.95 m
        assert_eq!(fence.check(Some(&edge)), Ok(()));
        let tight = Geofence::new(39.90, 116.40, 1111).unwrap();
        let err = tight.check(Some(&edge)).unwrap_err();
        assert_eq!(err, GeofenceError::Outside { distance_m: 1112, radius_m: 1111 });
        assert_eq!(
            err.to_string(),
            "您距离考点约 1112 米，超出报到范围（1111 米），请到达考点后再报到"
        );
        assert_eq!(err.code(), "checkin_outside_geofence");
        assert_eq!(fence.check(None), Err(GeofenceError::PositionMissing));
    }

    #[test]
    fn coordinates_are_validated() {
        assert_eq!(Position::new(90.1, 0.0), Err(CoordinateError::Latitude));
        assert_eq!(Position::new(f64::NAN, 0.0), Err(CoordinateError::Latitude));
        assert_eq!(Position::new(0.0, -180.5), Err(CoordinateError::Longitude));
        assert_eq!(Position::new(0.0, f64::INFINITY), Err(CoordinateError::Longitude));
        assert!(Position::new(-90.0, 180.0).is_ok());
        assert_eq!(Geofence::new(30.0, 120.0, 9), Err(CoordinateError::Radius));
        assert_eq!(Geofence::new(30.0, 120.0, 5001), Err(CoordinateError::Radius));
        assert!(Geofence::new(30.0, 120.0, 10).is_ok());
        assert!(Geofence::new(30.0, 120.0, 5000).is_ok());
        assert_eq!(Geofence::new(91.0, 120.0, 500), Err(CoordinateError::Latitude));
    }

    #[test]
    fn antipodes_do_not_overflow() {
        let a = Position::new(0.0, 0.0).unwrap();
        let b = Position::new(0.0, 180.0).unwrap();
        let half = std::f64::consts::PI * EARTH_RADIUS_M;
        assert!((a.distance_m(&b) - half).abs() < 1e-3);
        let fence = Geofence::new(0.0, 0.0, 5000).unwrap();
        let Err(GeofenceError::Outside { distance_m, .. }) = fence.check(Some(&b)) else {
            panic!("the antipode is outside")
        };
        assert_eq!(distance_m, half.round() as u32);
    }
}
