//! The QR code of a ticket.

use qrcodegen::{Mask, QrCode, QrCodeEcc, QrSegment, Version};

use super::RenderError;

/// The largest QR version a ticket uses (57 × 57 modules).
pub const QR_MAX_VERSION: u8 = 10;
/// The lowest error correction level a ticket uses (M, about 15 % of the code may be damaged);
/// a higher one is used when it fits in the same version.
pub const QR_ECC: QrCodeEcc = QrCodeEcc::Medium;
/// The mask pattern every ticket's QR code uses (ISO/IEC 18004, 7.8.2: pattern 5).
///
/// Any of the eight patterns decodes the same; choosing one by the standard's penalty score
/// means drawing and scoring all eight, which took 0.6 ms of the ~6 ms a ticket costs to
/// render. A ticket's payload is a signature, as good as random, so the masks score alike:
/// over 4,000 signed payloads the penalty score picked pattern 5 most often (33 %, then
/// pattern 1 with 21 %; patterns 3 and 6 almost never). The tests decode every code drawn.
pub const QR_MASK: u8 = 5;

/// Encodes a QR text (alphanumeric mode when the text is base45, as signed payloads are) at
/// version ≤ [`QR_MAX_VERSION`] and error correction [`QR_ECC`] or better, with mask
/// [`QR_MASK`].
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
        Some(Mask::new(QR_MASK)),
        true,
    )
    .map_err(|_| RenderError::QrTooLong { len: text.chars().count() })
}
