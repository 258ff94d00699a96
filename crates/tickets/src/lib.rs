//! Admission tickets (准考证): numbering, seat assignment, the signed QR payload, and rendering
//! to PNG (for the phone) and PDF (for printing), plus the invigilators' sign-in sheet.
//!
//! The crate is pure: inputs are plain values (strings, numbers, byte slices), the randomness
//! of seat plans is a seed, keys are seed bytes, and fonts are bytes the caller loaded.
//!
//! - [`number`]: ticket number schemes ([`NumberScheme`], [`TicketNumber`]);
//! - [`seating`]: seat plans ([`assign_seats`]);
//! - [`signing`]: the QR payload ([`sign`], [`verify`], key export);
//! - [`layout`]: what a ticket and a sign-in sheet show ([`Ticket`], [`TicketLayout`],
//!   [`RoomSheet`]);
//! - [`fonts`]: the faces ([`Fonts`]);
//! - rendering: [`render_png`], [`render_pdf`], [`render_ticket`], [`render_room_sheet_pdf`].
//!
//! Numbering a seat, signing the ticket's facts, verifying them as an exam-room device would,
//! and rendering the ticket (with Debian's `fonts-noto-cjk`, which CI installs):
//!
//! ```
//! use baoming_tickets::{number::SeatFacts, signing, NumberScheme, SigningKey, TicketClaims, VerifyingKeys};
//! use baoming_tickets::{FontSource, Fonts, SubjectSlot, Ticket, TicketLayout, render_ticket};
//!
//! let number = NumberScheme::default()
//!     .format(&SeatFacts { year: 2026, region: "35", site: 1, room: 3, seat: 7 })?;
//! assert_eq!(number.as_str(), "2635010307");
//! let key = SigningKey::new("2026a", &[42; 32])?;
//! let claims = TicketClaims {
//!     ticket_number: number,
//!     period: [0x11; 16],
//!     name: "王䶮".into(),
//!     masked_id: "110105********002X".into(),
//!     site: 1,
//!     room: 3,
//!     seat: 7,
//! };
//! let qr_text = signing::sign(&claims, &key)?;
//! assert!(qr_text.starts_with("BMT1:"));
//! let keys: VerifyingKeys = [key.verifying_key()].into_iter().collect();
//! assert_eq!(signing::verify(&qr_text, &keys)?, claims);
//!
//! // Rendering takes the font bytes (face 2 of Noto Sans CJK's collection is SC) and the
//! // normalised ID photo (a JPEG of 295 × 413; here a plain grey one).
//! let bytes = std::fs::read("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")?;
//! let fonts = Fonts::new(FontSource { bytes, index: 2 }, vec![], None)?;
//! let mut photo_jpeg = Vec::new();
//! image::codecs::jpeg::JpegEncoder::new(&mut photo_jpeg).encode(
//!     &[200; 295 * 413 * 3],
//!     295,
//!     413,
//!     image::ExtendedColorType::Rgb8,
//! )?;
//! let ticket = Ticket {
//!     name: claims.name.clone(),
//!     gender: "女".into(),
//!     masked_id: claims.masked_id.clone(),
//!     ticket_number: claims.ticket_number.as_str().into(),
//!     site_name: "福州第一考点".into(),
//!     site_address: "福州市鼓楼区某路1号".into(),
//!     room: 3,
//!     seat: 7,
//!     subjects: vec![SubjectSlot {
//!         name: "建设工程合同管理".into(),
//!         time: "2026年12月20日 14:00–16:00".into(),
//!     }],
//!     photo_jpeg,
//!     qr_text,
//! };
//! let layout = TicketLayout::new("2026年第二期监理工程师培训考试 准考证");
//! let rendered = render_ticket(&fonts, &layout, &ticket)?;
//! assert!(rendered.png.starts_with(b"\x89PNG"));
//! assert!(rendered.pdf.starts_with(b"%PDF-"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod fonts;
pub mod layout;
pub mod number;
mod render;
pub mod seating;
pub mod signing;

pub use fonts::{FontError, FontSource, Fonts};
pub use layout::{RoomSheet, SheetRow, SubjectSlot, Ticket, TicketLayout, default_rules};
pub use number::{NumberError, NumberScheme, SeatFacts, TicketNumber};
pub use render::{QR_ECC, QR_MASK, QR_MAX_VERSION, RenderError, SHEET_ROWS_PER_PAGE, encode_qr};
pub use seating::{
    Candidate, RoomLayout, SeatPlan, SeatingConfig, SeatingError, Unmet, assign_seats,
};
pub use signing::{
    SignError, SigningKey, TicketClaims, VerifyError, VerifyingKey, VerifyingKeys, sign, verify,
};

use render::pdf::Placement;

/// Margin around the ticket on the A4 page, in points (12 mm).
pub const PDF_MARGIN_PT: f32 = 34.0;

/// The ticket as a PNG for the phone: 1080 px wide, as tall as the content.
///
/// # Errors
/// [`RenderError::MissingGlyphs`] (naming the characters no font has), [`RenderError::BadPhoto`],
/// [`RenderError::QrTooLong`], [`RenderError::PngEncoding`].
pub fn render_png(
    fonts: &Fonts,
    layout: &TicketLayout,
    ticket: &Ticket,
) -> Result<Vec<u8>, RenderError> {
    let page = render::layout_ticket(fonts, layout, ticket)?;
    render::png::draw(fonts, &page)
}

/// The ticket as a one-page A4 PDF for printing: the PNG's layout scaled to fit the page
/// inside [`PDF_MARGIN_PT`], with real (extractable) text in subset fonts, the photo as the
/// original JPEG and the QR code as a 1-bit image of one sample per module (sharp squares).
///
/// # Errors
/// As [`render_png`], and [`RenderError::Font`] when a face cannot be subset.
pub fn render_pdf(
    fonts: &Fonts,
    layout: &TicketLayout,
    ticket: &Ticket,
) -> Result<Vec<u8>, RenderError> {
    let page = render::layout_ticket(fonts, layout, ticket)?;
    let at = Placement::fit_a4(&page, PDF_MARGIN_PT);
    render::pdf::write(fonts, &layout.title, layout.issued_at, &[(page, at)])
}

/// A ticket rendered both ways.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedTicket {
    /// As [`render_png`] returns it.
    pub png: Vec<u8>,
    /// As [`render_pdf`] returns it.
    pub pdf: Vec<u8>,
}

/// Both the PNG and the PDF of a ticket, laying it out once.
///
/// # Errors
/// As [`render_png`] and [`render_pdf`].
pub fn render_ticket(
    fonts: &Fonts,
    layout: &TicketLayout,
    ticket: &Ticket,
) -> Result<RenderedTicket, RenderError> {
    let page = render::layout_ticket(fonts, layout, ticket)?;
    let png = render::png::draw(fonts, &page)?;
    let at = Placement::fit_a4(&page, PDF_MARGIN_PT);
    let pdf = render::pdf::write(fonts, &layout.title, layout.issued_at, &[(page, at)])?;
    Ok(RenderedTicket { png, pdf })
}

/// A room's sign-in sheet (考场签到表) as an A4 PDF: title, site, room, and a table of seat,
/// ticket number, name, masked ID, photo and an empty signature column,
/// [`SHEET_ROWS_PER_PAGE`] rows per page.
///
/// # Errors
/// [`RenderError::MissingGlyphs`], [`RenderError::BadPhoto`], [`RenderError::Font`].
pub fn render_room_sheet_pdf(fonts: &Fonts, sheet: &RoomSheet) -> Result<Vec<u8>, RenderError> {
    let pages = render::layout_sheet(fonts, sheet)?;
    let placed: Vec<_> = pages
        .into_iter()
        .map(|p| {
            let at = Placement::one_to_one(&p);
            (p, at)
        })
        .collect();
    render::pdf::write(fonts, &sheet.title, sheet.issued_at, &placed)
}
