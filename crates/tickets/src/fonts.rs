//! The fonts tickets are drawn with: a primary face, optional fallbacks and an optional bold
//! face, each parsed once and shared by every ticket (and every thread).
//!
//! A face is given as the bytes of a font file and, for a collection (`.ttc`/`.otc`), the index
//! of the face in it. TrueType (`glyf`) and OpenType CFF outlines both work; Debian's
//! `fonts-noto-cjk` (`NotoSansCJK-Regular.ttc`, face 2 = Noto Sans CJK SC) is what the project
//! uses. This crate never reads files: the caller loads the bytes.
//!
//! Rendering checks every character against the faces' character maps before drawing: a
//! character no face has fails with [`RenderError::MissingGlyphs`](crate::RenderError::MissingGlyphs)
//! rather than being dropped or drawn as a box.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};

use ab_glyph::{Font as _, FontVec, GlyphId, PxScale};

/// Why a font could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FontError {
    /// The bytes are not a font, or the collection has no face with that index.
    #[error("字体文件无效（第 {index} 个字体）")]
    Invalid {
        /// The face index asked for.
        index: u32,
    },
}

impl FontError {
    /// Stable machine-readable code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "font_invalid",
        }
    }
}

/// One font face to load: the bytes of the font file and the face index (0 unless the file is a
/// collection).
#[derive(Clone, PartialEq, Eq)]
pub struct FontSource {
    /// The whole font file.
    pub bytes: Vec<u8>,
    /// The face within a collection (`.ttc`); 0 for a single font.
    pub index: u32,
}

impl fmt::Debug for FontSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FontSource")
            .field("bytes", &self.bytes.len())
            .field("index", &self.index)
            .finish()
    }
}

pub(crate) struct Face {
    pub(crate) font: FontVec,
    pub(crate) index: u32,
    pub(crate) units_per_em: f32,
}

impl Face {
    fn load(source: FontSource) -> Result<Self, FontError> {
        let index = source.index;
        let font = FontVec::try_from_vec_and_index(source.bytes, index)
            .map_err(|_| FontError::Invalid { index })?;
        let units_per_em = font.units_per_em().ok_or(FontError::Invalid { index })?;
        Ok(Self { font, index, units_per_em })
    }

    /// The glyph of `c`, if the face has one.
    pub(crate) fn glyph(&self, c: char) -> Option<GlyphId> {
        let id = self.font.glyph_id(c);
        (id.0 != 0).then_some(id)
    }

    /// Advance of a glyph in em (font units / units per em).
    pub(crate) fn advance_em(&self, id: GlyphId) -> f32 {
        self.font.h_advance_unscaled(id) / self.units_per_em
    }

    pub(crate) fn ascent_em(&self) -> f32 {
        self.font.ascent_unscaled() / self.units_per_em
    }

    pub(crate) fn descent_em(&self) -> f32 {
        self.font.descent_unscaled() / self.units_per_em
    }
}

/// A rasterised glyph: coverage (0–255) of a `width × height` box whose top-left corner is at
/// (`left`, `top`) from the pen position on the baseline.
#[derive(Debug)]
pub(crate) struct Bitmap {
    pub(crate) left: i32,
    pub(crate) top: i32,
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) coverage: Vec<u8>,
}

/// Cache key: face, glyph, size in 1/16 px.
type GlyphKey = (u8, u16, u32);

const GLYPH_CACHE_MAX: usize = 50_000;

/// The faces tickets are drawn with, parsed once. Cheap to share: wrap it in an `Arc` or keep
/// it in a `static`/long-lived value, and pass `&Fonts` to every render call. It also keeps a
/// cache of rasterised glyphs (bounded to 50,000 entries) and of the PDF font subsets of the
/// text shared by many tickets — title, labels, rules, site and subjects — (bounded to 64, one
/// per combination of site and subjects), so that a period's tickets are drawn fast.
pub struct Fonts {
    /// Regular faces: primary first, then fallbacks.
    pub(crate) regular: Vec<Face>,
    /// The bold face, if any (for the title).
    pub(crate) bold: Option<Face>,
    cache: RwLock<HashMap<GlyphKey, Arc<Bitmap>>>,
    /// PDF font subsets of text shared by many tickets, by face and glyphs.
    pub(crate) pdf_subsets: Mutex<HashMap<SubsetKey, Arc<printpdf::ParsedFont>>>,
    /// Large PDF streams seen while writing documents, and once seen twice (the fixed-text font
    /// programs repeat from one ticket to the next) their best deflated form.
    pub(crate) deflated: Mutex<Vec<DeflateEntry>>,
}

/// A face and the (glyph, character) pairs of a subset.
pub(crate) type SubsetKey = (u8, Vec<(u16, char)>);
/// A stream's content and, once known to repeat, its deflated form.
pub(crate) type DeflateEntry = (Arc<Vec<u8>>, Option<Arc<Vec<u8>>>);

/// How many fixed-text subsets and deflated streams [`Fonts`] keeps.
pub(crate) const PDF_CACHE_MAX: usize = 64;

impl fmt::Debug for Fonts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fonts")
            .field("faces", &self.regular.len())
            .field("bold", &self.bold.is_some())
            .finish_non_exhaustive()
    }
}

/// Index of the bold face in [`Fonts::face`]; regular faces are 0, 1, ….
pub(crate) const BOLD: u8 = u8::MAX;

impl Fonts {
    /// Loads the primary face, the fallbacks (tried in order for characters the primary lacks)
    /// and an optional bold face (used for titles; characters it lacks fall back to the
    /// regular faces).
    ///
    /// # Errors
    /// [`FontError::Invalid`] when a source is not a font or has no face with that index.
    pub fn new(
        primary: FontSource,
        fallbacks: Vec<FontSource>,
        bold: Option<FontSource>,
    ) -> Result<Self, FontError> {
        let mut regular = vec![Face::load(primary)?];
        for f in fallbacks.into_iter().take(usize::from(BOLD) - 1) {
            regular.push(Face::load(f)?);
        }
        let bold = bold.map(Face::load).transpose()?;
        Ok(Self {
            regular,
            bold,
            cache: RwLock::new(HashMap::new()),
            pdf_subsets: Mutex::new(HashMap::new()),
            deflated: Mutex::new(Vec::new()),
        })
    }

    /// Whether some regular face can draw `c`.
    #[must_use]
    pub fn covers(&self, c: char) -> bool {
        self.pick(c, false).is_some()
    }

    /// The characters of `text` that no face can draw, each once, in order of appearance.
    /// Line breaks and tabs count as missing (tickets have no place for them).
    #[must_use]
    pub fn missing(&self, text: &str) -> Vec<char> {
        let mut out = Vec::new();
        for c in text.chars() {
            if !self.covers(c) && !out.contains(&c) {
                out.push(c);
            }
        }
        out
    }

    pub(crate) fn face(&self, index: u8) -> &Face {
        if index == BOLD
            && let Some(b) = &self.bold
        {
            return b;
        }
        &self.regular[usize::from(index).min(self.regular.len() - 1)]
    }

    /// The face (index) and glyph that draw `c`: the bold face first when `bold`, then the
    /// regular faces in order.
    pub(crate) fn pick(&self, c: char, bold: bool) -> Option<(u8, GlyphId)> {
        if bold && let Some(g) = self.bold.as_ref().and_then(|b| b.glyph(c)) {
            return Some((BOLD, g));
        }
        self.regular.iter().enumerate().find_map(|(i, f)| f.glyph(c).map(|g| (i as u8, g)))
    }

    /// The rasterised glyph at `size` px per em, from the cache when possible.
    pub(crate) fn bitmap(&self, face: u8, glyph: GlyphId, size: f32) -> Option<Arc<Bitmap>> {
        let key = (face, glyph.0, (size * 16.0).round() as u32);
        if let Some(b) = self.cache.read().ok().and_then(|c| c.get(&key).cloned()) {
            return Some(b);
        }
        let f = self.face(face);
        let scale = PxScale::from(size * f.font.height_unscaled() / f.units_per_em);
        let outlined = f
            .font
            .outline_glyph(glyph.with_scale_and_position(scale, ab_glyph::point(0.0, 0.0)))?;
        let bounds = outlined.px_bounds();
        let width = bounds.width() as u32;
        let height = bounds.height() as u32;
        let mut coverage = vec![0u8; (width * height) as usize];
        outlined.draw(|x, y, c| {
            if x < width && y < height {
                coverage[(y * width + x) as usize] = (c.clamp(0.0, 1.0) * 255.0).round() as u8;
            }
        });
        let bitmap = Arc::new(Bitmap {
            left: bounds.min.x as i32,
            top: bounds.min.y as i32,
            width,
            height,
            coverage,
        });
        if let Ok(mut c) = self.cache.write()
            && c.len() < GLYPH_CACHE_MAX
        {
            c.insert(key, Arc::clone(&bitmap));
        }
        Some(bitmap)
    }
}
