//! QR rendering of any text (a venue token, a URL…) as SVG or grayscale PNG, each with a
//! 4-module white quiet zone.

use std::fmt::Write as _;

use qrcodegen::{QrCode, QrCodeEcc};

/// Width of the white border around the code, in modules (the minimum the standard asks).
pub const QUIET_ZONE: u32 = 4;
/// Largest PNG side [`png()`] draws, in pixels.
pub const MAX_PNG_SIDE: u32 = 4096;

/// Error-correction level: the share of the code that may be damaged and still read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ecc {
    /// About 7 %.
    Low,
    /// About 15 %: enough for a code on a screen.
    Medium,
    /// About 25 %: for a printed code that may get scuffed.
    Quartile,
    /// About 30 %.
    High,
}

impl Ecc {
    fn level(self) -> QrCodeEcc {
        match self {
            Self::Low => QrCodeEcc::Low,
            Self::Medium => QrCodeEcc::Medium,
            Self::Quartile => QrCodeEcc::Quartile,
            Self::High => QrCodeEcc::High,
        }
    }
}

/// Why a QR code was not rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    /// More text than the largest QR code holds at this error-correction level.
    #[error("内容过长，无法生成二维码")]
    TooLong,
    /// A module of 0 pixels.
    #[error("二维码每个模块至少 1 像素")]
    ModuleSize,
    /// The PNG would be wider than [`MAX_PNG_SIDE`].
    #[error("二维码图片过大（{side} 像素），请减小模块尺寸")]
    ImageTooLarge {
        /// The side it would have, in pixels.
        side: u64,
    },
    /// The PNG encoder failed.
    #[error("二维码图片生成失败：{0}")]
    Png(String),
}

impl QrError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLong => "qr_text_too_long",
            Self::ModuleSize => "qr_module_size_zero",
            Self::ImageTooLarge { .. } => "qr_image_too_large",
            Self::Png(_) => "qr_png_failed",
        }
    }
}

/// The modules of `text`'s code, quiet zone included: `side` × `side`, row by row,
/// `true` for dark.
fn modules(text: &str, ecc: Ecc) -> Result<(u32, Vec<bool>), QrError> {
    let code = QrCode::encode_text(text, ecc.level()).map_err(|_| QrError::TooLong)?;
    let size = code.size();
    let q = QUIET_ZONE as i32;
    let side = size + 2 * q;
    let dark = (0..side)
        .flat_map(|y| (0..side).map(move |x| (x, y)))
        .map(|(x, y)| code.get_module(x - q, y - q))
        .collect();
    // `size` is 21..=177.
    Ok((side as u32, dark))
}

/// An SVG of `text`'s QR code: a white background and one `<path>` of the dark modules,
/// in a `viewBox` of (size + 8) modules square; scale it freely.
pub fn svg(text: &str, ecc: Ecc) -> Result<String, QrError> {
    let (side, dark) = modules(text, ecc)?;
    let mut path = String::new();
    for (y, row) in dark.chunks(side as usize).enumerate() {
        let mut x = 0;
        while x < row.len() {
            if !row[x] {
                x += 1;
                continue;
            }
            let start = x;
            while x < row.len() && row[x] {
                x += 1;
            }
            let run = x - start;
            // Writing to a String cannot fail.
            let _ = write!(path, "M{start} {y}h{run}v1h-{run}z");
        }
    }
    Ok(format!(
        concat!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {side} {side}" "#,
            r#"shape-rendering="crispEdges">"#,
            r##"<rect width="{side}" height="{side}" fill="#fff"/>"##,
            r##"<path d="{path}" fill="#000"/></svg>"##,
        ),
        side = side,
        path = path,
    ))
}

/// An 8-bit grayscale PNG of `text`'s QR code, `module_px` pixels per module, quiet zone
/// included; at most [`MAX_PNG_SIDE`] pixels square.
pub fn png(text: &str, ecc: Ecc, module_px: u32) -> Result<Vec<u8>, QrError> {
    if module_px == 0 {
        return Err(QrError::ModuleSize);
    }
    let (side, dark) = modules(text, ecc)?;
    let px_side = u64::from(side) * u64::from(module_px);
    if px_side > u64::from(MAX_PNG_SIDE) {
        return Err(QrError::ImageTooLarge { side: px_side });
    }
    let (side, module_px, px_side) = (side as usize, module_px as usize, px_side as usize);
    let mut pixels = Vec::with_capacity(px_side * px_side);
    for row in dark.chunks(side) {
        let line: Vec<u8> = row
            .iter()
            .flat_map(|&d| std::iter::repeat_n(if d { 0 } else { 255 }, module_px))
            .collect();
        for _ in 0..module_px {
            pixels.extend_from_slice(&line);
        }
    }
    let mut out = Vec::new();
    let failed = |e: png::EncodingError| QrError::Png(e.to_string());
    let mut encoder = png::Encoder::new(&mut out, px_side as u32, px_side as u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(failed)?;
    writer.write_image_data(&pixels).map_err(failed)?;
    writer.finish().map_err(failed)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_has_a_quiet_zone_and_one_path() {
        // 28 bytes at level M need version 3: 29 modules, 37 with the quiet zone.
        let svg = svg("RAADBxQKgJKknzmqKZkWbkZEQM2w", Ecc::Medium).unwrap();
        assert!(svg.contains(r#"viewBox="0 0 37 37""#), "{svg}");
        assert!(svg.contains(r#"shape-rendering="crispEdges""#));
        assert!(svg.contains(r##"<rect width="37" height="37" fill="#fff"/>"##));
        assert_eq!(svg.matches("<path").count(), 1);
        // The top-left finder pattern starts at (4, 4) with a run of 7 dark modules.
        assert!(svg.contains(r#"d="M4 4h7v1h-7z"#), "{svg}");
    }

    #[test]
    fn too_long_and_bad_sizes_are_errors() {
        let long = "x".repeat(3000);
        assert_eq!(svg(&long, Ecc::Low), Err(QrError::TooLong));
        assert_eq!(png(&long, Ecc::Low, 4), Err(QrError::TooLong));
        assert_eq!(png("hi", Ecc::Low, 0), Err(QrError::ModuleSize));
        // Version 1: 21 + 8 = 29 modules; 29 × 142 = 4118 > 4096.
        assert_eq!(png("hi", Ecc::Low, 142), Err(QrError::ImageTooLarge { side: 4118 }));
        assert!(png("hi", Ecc::Low, 141).is_ok());
    }
}
