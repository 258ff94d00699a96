//! The QR code of a ticket.

use qrcodegen::{QrCode, QrCodeEcc, QrSegment, Version};

use super::RenderError;

/// The largest QR version a ticket uses (57 × 57 modules).
pub const QR_MAX_VERSION: u8 = 10;
/// The lowest error correction level a ticket uses (M, about 15 % of the code may be damaged);
/// a higher one is used when it fits in the same version.
pub const QR_ECC: QrCodeEcc = QrCodeEcc::Medium;

/// Encodes a QR text (alphanumeric mode when the text is base45, as signed payloads are) at
/// version ≤ [`QR_MAX_VERSION`] and error correction [`QR_ECC`] or better.
///
/// # Errors
/// [`RenderError::QrTooLong`] when it does not fit.
pub fn encode_qr(text: &str) -> Result<QrCode, RenderError> {
    let segments = QrSegment::make_segments(text);
    QrCode::encode_segments_advanced(
        &segments,
        QR_ECC,
        Version::MIN,
        Version::new(QR_MAX_VERSION),
        None,
        true,
    )
    .map_err(|_| RenderError::QrTooLong { len: text.chars().count() })
}
