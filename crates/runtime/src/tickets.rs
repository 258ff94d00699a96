//! Admission tickets as both binaries need them: the fonts (loaded once, on first use, and
//! shared), the signing keys, and the documents assembled from what the store reads — the
//! ticket of one person (the worker renders it) and a room's sign-in sheet (the api serves it).
//!
//! The rules and the drawing are `baoming-tickets`'; this module turns store rows into its
//! plain values (Beijing times, masked ID numbers, the signed QR text) and names the files.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use baoming_domain::ids::{PeriodId, RegistrationId, TypedId as _};
use baoming_store::tickets::{RenderInput, TicketSubject, beijing};
use baoming_tickets::signing::{self, TicketClaims};
use baoming_tickets::{
    FontSource, Fonts, RoomSheet, SheetRow, SigningKey, SubjectSlot, Ticket, TicketLayout,
    TicketNumber, VerifyingKeys,
};

/// Debian's `fonts-noto-cjk` regular collection (face 2 is Noto Sans CJK SC).
pub const DEFAULT_REGULAR_FONT: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";
/// Debian's `fonts-noto-cjk` bold collection (face 2 is Noto Sans CJK SC Bold).
pub const DEFAULT_BOLD_FONT: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc";
/// The face of Noto Sans CJK SC in Debian's collections.
pub const DEFAULT_FACE_INDEX: u32 = 2;

/// A font file and the face in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FontFile {
    /// The file (`.ttf`, `.otf`, `.ttc`, `.otc`).
    pub path: PathBuf,
    /// The face within a collection (0 for a single font).
    pub index: u32,
}

/// The faces tickets are drawn with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FontFiles {
    /// The regular face.
    pub regular: FontFile,
    /// The bold face (titles), if any.
    pub bold: Option<FontFile>,
    /// Faces tried, in order, for characters the regular face lacks.
    pub fallbacks: Vec<FontFile>,
}

/// Why the fonts cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("准考证字体不可用：{0}")]
pub struct FontsUnavailable(pub String);

/// The ticket fonts, read and parsed once on first use and shared by every thread.
pub struct TicketFonts {
    files: FontFiles,
    loaded: OnceLock<Result<Arc<Fonts>, FontsUnavailable>>,
}

impl fmt::Debug for TicketFonts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketFonts")
            .field("files", &self.files)
            .field("loaded", &self.loaded.get().map(Result::is_ok))
            .finish()
    }
}

impl TicketFonts {
    /// Fonts to load from these files (nothing is read yet).
    pub fn new(files: FontFiles) -> Self {
        Self { files, loaded: OnceLock::new() }
    }

    /// The files.
    pub fn files(&self) -> &FontFiles {
        &self.files
    }

    /// The parsed fonts: read on the first call (which may take a moment: the CJK collections
    /// are about 20 MB each), then shared. A failure is remembered too (a restart retries).
    ///
    /// # Errors
    /// [`FontsUnavailable`] naming the file that could not be read or is not a font.
    pub fn get(&self) -> Result<Arc<Fonts>, FontsUnavailable> {
        self.loaded.get_or_init(|| load(&self.files).map(Arc::new)).clone()
    }
}

fn source(file: &FontFile) -> Result<FontSource, FontsUnavailable> {
    let bytes = std::fs::read(&file.path)
        .map_err(|e| FontsUnavailable(format!("{}: {e}", file.path.display())))?;
    Ok(FontSource { bytes, index: file.index })
}

fn describe(files: &FontFiles) -> String {
    let face = |f: &FontFile| format!("{} face {}", f.path.display(), f.index);
    let mut text = format!("regular {}", face(&files.regular));
    if let Some(bold) = &files.bold {
        text.push_str(&format!(", bold {}", face(bold)));
    }
    for fallback in &files.fallbacks {
        text.push_str(&format!(", fallback {}", face(fallback)));
    }
    text
}

fn load(files: &FontFiles) -> Result<Fonts, FontsUnavailable> {
    let regular = source(&files.regular)?;
    let fallbacks = files.fallbacks.iter().map(source).collect::<Result<Vec<_>, _>>()?;
    let bold = files.bold.as_ref().map(source).transpose()?;
    let fonts = Fonts::new(regular, fallbacks, bold)
        .map_err(|e| FontsUnavailable(format!("{e} ({})", describe(files))))?;
    tracing::info!(regular = %files.regular.path.display(), "ticket fonts loaded");
    Ok(fonts)
}

/// The ticket signing keys: the first signs, every one verifies.
pub struct TicketKeys {
    signer: SigningKey,
    verifying: VerifyingKeys,
}

impl fmt::Debug for TicketKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketKeys")
            .field("signer", &self.signer.kid())
            .field("verifying", &self.verifying.iter().map(|k| k.kid()).collect::<Vec<_>>())
            .finish()
    }
}

impl TicketKeys {
    /// Keys from their ids and seeds, the signing key first.
    ///
    /// # Errors
    /// A bad key id (the text names it), a key id given twice, or no key.
    pub fn new(keys: Vec<(String, [u8; 32])>) -> Result<Self, String> {
        let mut verifying = VerifyingKeys::new();
        let mut signer = None;
        for (kid, seed) in keys {
            let key = SigningKey::new(&kid, &seed).map_err(|e| format!("{kid}: {e}"))?;
            if verifying.get(&kid).is_some() {
                return Err(format!("key id {kid} is given twice"));
            }
            verifying.insert(key.verifying_key());
            if signer.is_none() {
                signer = Some(key);
            }
        }
        let signer = signer.ok_or_else(|| "no signing key".to_owned())?;
        Ok(Self { signer, verifying })
    }

    /// The key that signs new tickets.
    pub fn signer(&self) -> &SigningKey {
        &self.signer
    }

    /// Every public key a ticket may be verified with (old and new while keys rotate).
    pub fn verifying(&self) -> &VerifyingKeys {
        &self.verifying
    }
}

/// Storage keys of a ticket's files: `tickets/<period>/<registration>.png|.pdf`.
pub fn file_keys(period: PeriodId, registration: RegistrationId) -> (String, String) {
    let base = format!("tickets/{period}/{registration}");
    (format!("{base}.png"), format!("{base}.pdf"))
}

/// The title of a period's tickets.
pub fn ticket_title(period_name: &str) -> String {
    format!("{} 准考证", period_name.trim())
}

/// The title of a room's sign-in sheet.
pub fn sheet_title(period_name: &str) -> String {
    format!("{} 考场签到表", period_name.trim())
}

/// A subject as the ticket prints it (Beijing time).
pub fn subject_slot(subject: &TicketSubject) -> SubjectSlot {
    SubjectSlot::new(&subject.name, beijing(subject.starts_at), beijing(subject.ends_at))
}

/// Why a ticket's document could not be assembled (a reason of this ticket, shown to staff).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// The profile lacks the name or the ID number.
    #[error("考生资料不完整（缺少姓名或证件号码）")]
    ProfileIncomplete,
    /// The registration has no photo.
    #[error("报名没有证件照")]
    NoPhoto,
    /// The ticket number or the claims do not make a QR payload.
    #[error("{0}")]
    Sign(String),
}

impl DocumentError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            DocumentError::ProfileIncomplete => "ticket_profile_incomplete",
            DocumentError::NoPhoto => "ticket_photo_missing",
            DocumentError::Sign(_) => "ticket_sign",
        }
    }
}

/// The layout and the ticket of one person: the title, the rules, the issue date; the facts,
/// the photo (the normalised JPEG) and the signed QR text.
///
/// # Errors
/// [`DocumentError`] for a profile without name or ID number, or claims that cannot be
/// signed.
pub fn ticket_document(
    input: &RenderInput,
    photo_jpeg: Vec<u8>,
    key: &SigningKey,
) -> Result<(TicketLayout, Ticket), DocumentError> {
    let (Some(name), Some(masked_id)) = (&input.name, &input.masked_id) else {
        return Err(DocumentError::ProfileIncomplete);
    };
    let t = &input.ticket;
    let claims = TicketClaims {
        ticket_number: TicketNumber::parse(&t.number)
            .map_err(|e| DocumentError::Sign(e.to_string()))?,
        period: *t.period.as_uuid().as_bytes(),
        name: name.clone(),
        masked_id: masked_id.clone(),
        site: t.site,
        room: t.room,
        seat: t.seat,
    };
    let qr_text = signing::sign(&claims, key).map_err(|e| DocumentError::Sign(e.to_string()))?;
    let mut layout = TicketLayout::new(&ticket_title(&input.period_name));
    layout.issued_at = input.published_at;
    layout.footer = input.published_at.map(|at| {
        format!("{}考试 · 发证日期 {}", input.exam_name, beijing(at).format("%Y年%m月%d日"))
    });
    let ticket = Ticket {
        name: name.clone(),
        gender: input.gender.map(|g| g.label_zh().to_owned()).unwrap_or_default(),
        masked_id: masked_id.clone(),
        ticket_number: t.number.clone(),
        site_name: input.site_name.clone(),
        site_address: input.site_address.clone(),
        room: t.room,
        seat: t.seat,
        subjects: input.subjects.iter().map(subject_slot).collect(),
        photo_jpeg,
        qr_text,
    };
    Ok((layout, ticket))
}

/// A room's sign-in sheet from its rows (seat, ticket number, name, masked ID, photo).
pub fn room_sheet(
    period_name: &str,
    site_name: &str,
    room: u32,
    rows: Vec<SheetRow>,
    issued_at: Option<chrono::DateTime<chrono::Utc>>,
) -> RoomSheet {
    RoomSheet {
        title: sheet_title(period_name),
        site_name: site_name.to_owned(),
        room,
        rows,
        issued_at,
    }
}

/// A plain white 295 × 413 JPEG: the photo cell of a sign-in sheet row whose photo file is
/// missing (the row still shows, so the invigilator checks the person by the ID card).
pub fn blank_photo() -> Vec<u8> {
    static BLANK: OnceLock<Vec<u8>> = OnceLock::new();
    BLANK
        .get_or_init(|| {
            let image = image::RgbImage::from_pixel(295, 413, image::Rgb([255, 255, 255]));
            let mut out = Vec::new();
            match image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80).encode(
                image.as_raw(),
                295,
                413,
                image::ExtendedColorType::Rgb8,
            ) {
                Ok(()) => out,
                Err(e) => {
                    tracing::error!(error = %e, "encoding the blank photo failed");
                    Vec::new()
                }
            }
        })
        .clone()
}

/// `text` with each character of `missing` written as `〔U+XXXX〕`: how a sign-in sheet shows a
/// name no configured font can draw (visibly, never dropped or drawn as a box).
pub fn spell_out(text: &str, missing: &[char]) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if missing.contains(&c) {
            out.push_str(&format!("〔U+{:04X}〕", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_keys_are_valid_storage_keys() {
        let period = PeriodId::parse("01936f3a-5200-7c00-8a1b-000000000001").expect("id");
        let registration =
            RegistrationId::parse("01936f3a-5200-7c00-8a1b-000000000002").expect("id");
        let (png, pdf) = file_keys(period, registration);
        assert_eq!(
            png,
            "tickets/01936f3a-5200-7c00-8a1b-000000000001/01936f3a-5200-7c00-8a1b-000000000002.png"
        );
        assert!(pdf.ends_with(".pdf"));
    }

    #[test]
    fn keys_sign_with_the_first_and_verify_with_all() {
        let keys =
            TicketKeys::new(vec![("new".into(), [1; 32]), ("old".into(), [2; 32])]).expect("keys");
        assert_eq!(keys.signer().kid(), "new");
        assert_eq!(keys.verifying().iter().count(), 2);
        assert!(TicketKeys::new(vec![]).is_err());
        let twice = TicketKeys::new(vec![("a".into(), [1; 32]), ("a".into(), [2; 32])]);
        assert!(twice.unwrap_err().contains("twice"));
        assert!(
            TicketKeys::new(vec![("bad kid".into(), [1; 32])]).unwrap_err().starts_with("bad kid")
        );
    }

    #[test]
    fn missing_characters_are_spelled_out() {
        assert_eq!(spell_out("王\u{2A6D6}明", &['\u{2A6D6}']), "王〔U+2A6D6〕明");
        assert_eq!(spell_out("李四", &[]), "李四");
    }

    #[test]
    fn the_blank_photo_is_a_jpeg() {
        assert!(blank_photo().starts_with(&[0xFF, 0xD8]));
    }
}
