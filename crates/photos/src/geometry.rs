//! Aspect ratio, cropping and the background check, on a decoded RGB image.

use image::{Rgb, RgbImage};

use crate::{
    ASPECT_TOLERANCE_PERCENT, BACKGROUND_MAX_SPREAD, BACKGROUND_MIN_CHANNEL, BORDER_BAND_PERCENT,
    BORDER_MIN_BACKGROUND_PERCENT, CROP_STRIP_MIN_BACKGROUND_PERCENT, OUTPUT_HEIGHT, OUTPUT_WIDTH,
    PhotoError, SHOULDER_ZONE_PERCENT,
};

/// An axis-aligned rectangle inside an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rect {
    pub(crate) x: u32,
    pub(crate) y: u32,
    pub(crate) width: u32,
    pub(crate) height: u32,
}

impl Rect {
    fn is_empty(&self) -> bool {
        self.width == 0 || self.height == 0
    }
}

/// Whether one pixel looks like the white backdrop: bright and unsaturated.
pub(crate) fn is_background(pixel: &Rgb<u8>) -> bool {
    let [r, g, b] = pixel.0;
    let min = r.min(g).min(b);
    let max = r.max(g).max(b);
    min >= BACKGROUND_MIN_CHANNEL && max - min <= BACKGROUND_MAX_SPREAD
}

/// Whether at least `min_percent` % of the pixels of `rect` are background. An empty
/// rectangle passes (there is nothing there to cut into).
fn mostly_background(img: &RgbImage, rect: Rect, min_percent: u64) -> bool {
    if rect.is_empty() {
        return true;
    }
    let x_end = rect.x.saturating_add(rect.width).min(img.width());
    let y_end = rect.y.saturating_add(rect.height).min(img.height());
    let mut total: u64 = 0;
    let mut background: u64 = 0;
    for y in rect.y..y_end {
        for x in rect.x..x_end {
            total += 1;
            if is_background(img.get_pixel(x, y)) {
                background += 1;
            }
        }
    }
    total == 0 || background * 100 >= total * min_percent
}

/// `value * percent / 100`, rounded down, at least `at_least`, in u64 arithmetic.
fn percent_of(value: u32, percent: u64, at_least: u32) -> u32 {
    let scaled = u64::from(value) * percent / 100;
    u32::try_from(scaled).unwrap_or(u32::MAX).max(at_least)
}

/// Number of rows from the top that are not in the bottom "shoulder zone".
fn rows_above_shoulders(height: u32) -> u32 {
    height - percent_of(height, SHOULDER_ZONE_PERCENT, 0).min(height)
}

/// Decides the exact 5:7 region to keep.
///
/// Within ±[`ASPECT_TOLERANCE_PERCENT`] of 5:7 the image is accepted as is (the few excess
/// pixels are trimmed evenly). Further away it is centre-cropped, but only if the strips cut
/// away are background: for a too-wide image the left and right strips (above the shoulder
/// zone), for a too-tall one the top strip (the bottom strip is the subject's body, which an
/// ID photo crops anyway).
///
/// `original` is the upload's size as displayed, which `img` is a reduction of when a JPEG was
/// decoded at a reduced scale: the tolerance is judged on it, so the rounding of a reduced
/// side never turns the verdict, and a refusal names it.
pub(crate) fn choose_crop(img: &RgbImage, original: (u32, u32)) -> Result<Rect, PhotoError> {
    let (w, h) = img.dimensions();
    let (w64, h64) = (u64::from(w), u64::from(h));
    let (tw, th) = (u64::from(OUTPUT_WIDTH), u64::from(OUTPUT_HEIGHT));
    let too_wide = w64 * th > h64 * tw;
    let rect = if too_wide {
        let width = u32::try_from(h64 * tw / th).unwrap_or(w).min(w);
        Rect { x: (w - width) / 2, y: 0, width, height: h }
    } else {
        let height = u32::try_from(w64 * th / tw).unwrap_or(h).min(h);
        Rect { x: 0, y: (h - height) / 2, width: w, height }
    };

    // |(w/h) / (5/7) - 1| <= tolerance, i.e. |w*413 - h*295| * 100 <= tolerance * h*295.
    let (original_w, original_h) = (u64::from(original.0), u64::from(original.1));
    let lhs = original_w * th;
    let rhs = original_h * tw;
    if lhs.abs_diff(rhs) * 100 <= ASPECT_TOLERANCE_PERCENT * rhs {
        return Ok(rect);
    }

    let strips_are_background = if too_wide {
        let rows = rows_above_shoulders(h);
        let left = Rect { x: 0, y: 0, width: rect.x, height: rows };
        let right_x = rect.x + rect.width;
        let right = Rect { x: right_x, y: 0, width: w - right_x, height: rows };
        mostly_background(img, left, CROP_STRIP_MIN_BACKGROUND_PERCENT)
            && mostly_background(img, right, CROP_STRIP_MIN_BACKGROUND_PERCENT)
    } else {
        let top = Rect { x: 0, y: 0, width: w, height: rect.y };
        mostly_background(img, top, CROP_STRIP_MIN_BACKGROUND_PERCENT)
    };
    if strips_are_background {
        Ok(rect)
    } else {
        Err(PhotoError::WrongAspectRatio { width: original.0, height: original.1 })
    }
}

/// Checks the border of the kept region: a band of [`BORDER_BAND_PERCENT`] % along the top
/// (full width) and along the left and right edges (above the shoulder zone). Each band must
/// be at least [`BORDER_MIN_BACKGROUND_PERCENT`] % background pixels.
pub(crate) fn check_background(img: &RgbImage, region: Rect) -> Result<(), PhotoError> {
    let band_h = percent_of(region.height, BORDER_BAND_PERCENT, 1).min(region.height);
    let band_w = percent_of(region.width, BORDER_BAND_PERCENT, 1).min(region.width);
    let side_rows = rows_above_shoulders(region.height);
    let top = Rect { x: region.x, y: region.y, width: region.width, height: band_h };
    let left = Rect { x: region.x, y: region.y, width: band_w, height: side_rows };
    let right =
        Rect { x: region.x + region.width - band_w, y: region.y, width: band_w, height: side_rows };
    let ok = [top, left, right]
        .into_iter()
        .all(|band| mostly_background(img, band, BORDER_MIN_BACKGROUND_PERCENT));
    if ok { Ok(()) } else { Err(PhotoError::BackgroundNotWhite) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
    const DARK: Rgb<u8> = Rgb([40, 30, 30]);

    #[test]
    fn background_pixel_thresholds() {
        assert!(is_background(&Rgb([200, 200, 200])));
        assert!(is_background(&Rgb([255, 240, 230])));
        assert!(!is_background(&Rgb([199, 255, 255])));
        assert!(!is_background(&Rgb([255, 224, 224]))); // spread 31
        assert!(is_background(&Rgb([255, 225, 225]))); // spread 30
        assert!(!is_background(&Rgb([60, 120, 220]))); // blue backdrop
    }

    #[test]
    fn exact_ratio_keeps_everything() {
        let img = RgbImage::from_pixel(295, 413, WHITE);
        let rect = choose_crop(&img, img.dimensions()).ok();
        assert_eq!(rect, Some(Rect { x: 0, y: 0, width: 295, height: 413 }));
    }

    #[test]
    fn within_tolerance_is_accepted_even_with_subject_at_the_edge() {
        // 3% wider than 5:7 and dark everywhere: no strip check within tolerance.
        let img = RgbImage::from_pixel(500, 680, DARK);
        let rect = choose_crop(&img, img.dimensions()).ok();
        assert!(rect.is_some());
        let rect = rect.unwrap_or(Rect { x: 0, y: 0, width: 0, height: 0 });
        assert_eq!(rect.height, 680);
        assert_eq!(rect.width, 680 * 295 / 413);
    }

    #[test]
    fn too_wide_crops_only_background_strips() {
        let mut img = RgbImage::from_pixel(600, 600, WHITE);
        assert!(choose_crop(&img, img.dimensions()).is_ok());
        // A dark mark in the left strip, high up: refused.
        for y in 100..200 {
            for x in 10..60 {
                img.put_pixel(x, y, DARK);
            }
        }
        assert_eq!(
            choose_crop(&img, img.dimensions()),
            Err(PhotoError::WrongAspectRatio { width: 600, height: 600 })
        );
    }

    #[test]
    fn too_wide_tolerates_shoulders_in_the_bottom_zone() {
        let mut img = RgbImage::from_pixel(600, 600, WHITE);
        for y in 500..600 {
            for x in 0..600 {
                img.put_pixel(x, y, DARK);
            }
        }
        assert!(choose_crop(&img, img.dimensions()).is_ok());
    }

    #[test]
    fn too_tall_checks_the_top_strip_only() {
        let mut img = RgbImage::from_pixel(300, 800, WHITE);
        for y in 700..800 {
            for x in 0..300 {
                img.put_pixel(x, y, DARK);
            }
        }
        let rect = choose_crop(&img, img.dimensions());
        assert!(rect.is_ok());
        for y in 0..50 {
            for x in 0..300 {
                img.put_pixel(x, y, DARK);
            }
        }
        assert!(matches!(
            choose_crop(&img, img.dimensions()),
            Err(PhotoError::WrongAspectRatio { .. })
        ));
    }

    #[test]
    fn border_check() {
        let mut img = RgbImage::from_pixel(295, 413, WHITE);
        let all = Rect { x: 0, y: 0, width: 295, height: 413 };
        assert_eq!(check_background(&img, all), Ok(()));
        // Shoulders at the bottom are fine.
        for y in 330..413 {
            for x in 0..295 {
                img.put_pixel(x, y, DARK);
            }
        }
        assert_eq!(check_background(&img, all), Ok(()));
        // Hair touching the top edge over a third of the width is not.
        for y in 0..16 {
            for x in 100..200 {
                img.put_pixel(x, y, DARK);
            }
        }
        assert_eq!(check_background(&img, all), Err(PhotoError::BackgroundNotWhite));
    }

    #[test]
    fn tiny_regions_do_not_panic() {
        let img = RgbImage::from_pixel(1, 1, WHITE);
        let r = Rect { x: 0, y: 0, width: 1, height: 1 };
        assert_eq!(check_background(&img, r), Ok(()));
        assert!(choose_crop(&img, img.dimensions()).is_ok());
    }
}
