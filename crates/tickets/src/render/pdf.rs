//! The PDF back end (printpdf 0.12 without its `text_layout` feature).
//!
//! printpdf can only subset fonts through its `text_layout` feature (which pulls in a whole
//! layout engine); without it, it embeds the whole font — 16 MB for a CJK face — and cannot
//! embed one face of a `.ttc` collection well. So each document's faces are subset here with
//! the `subsetter` crate (which reads collections and CFF outlines, keeps only the glyphs used,
//! renumbers them from 1 and writes a CID-keyed CFF whose CIDs equal the new glyph ids), and
//! handed to printpdf as a ready-made font with its character → glyph map and advance widths.
//! printpdf embeds the CFF as `/FontFile3 /CIDFontType0C` with `/Identity-H` encoding, writes
//! the widths and a `/ToUnicode` map (so text can be extracted and searched), and compresses
//! the streams. The photo is embedded as the JPEG it is (`/DCTDecode`, no re-encoding); the QR
//! code as a 1-bit image of one sample per module, scaled up without interpolation.

use std::collections::BTreeMap;
use std::io::Write as _;

use printpdf::{
    Color, DictItem, ExternalStream, ExternalXObject, FontId, FontMetrics, FontType, Op,
    ParsedFont, PdfDocument, PdfFont, PdfFontHandle, PdfFontMetricsStub, PdfPage, PdfSaveOptions,
    Pt, Px, Rect, TextItem, TextMatrix, XObject, XObjectId, XObjectTransform,
};

use super::{A4, Item, Page, RenderError, Rgb};
use crate::fonts::{BOLD, Fonts, PDF_CACHE_MAX};

/// Where a page's units land on paper: `x_pt = left + x × scale`, `y_pt = top - y × scale`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Placement {
    pub(crate) page_w: f32,
    pub(crate) page_h: f32,
    pub(crate) left: f32,
    pub(crate) top: f32,
    pub(crate) scale: f32,
}

impl Placement {
    /// A page scaled to fit A4 portrait inside `margin` points, centred horizontally, from
    /// the top.
    pub(crate) fn fit_a4(page: &Page<'_>, margin: f32) -> Self {
        let (w, h) = A4;
        let scale = ((w - 2.0 * margin) / page.width).min((h - 2.0 * margin) / page.height);
        Self { page_w: w, page_h: h, left: (w - page.width * scale) / 2.0, top: h - margin, scale }
    }

    /// One unit = one point, on a page of the page's size.
    pub(crate) fn one_to_one(page: &Page<'_>) -> Self {
        Self { page_w: page.width, page_h: page.height, left: 0.0, top: page.height, scale: 1.0 }
    }

    fn x(&self, x: f32) -> f32 {
        hundredths(self.left + x * self.scale)
    }

    fn y(&self, y: f32) -> f32 {
        hundredths(self.top - y * self.scale)
    }

    /// A length in points.
    fn len(&self, l: f32) -> f32 {
        hundredths(l * self.scale)
    }
}

/// Rounds to 0.01 pt (1/28 mm): shorter numbers in the content stream, same drawing.
fn hundredths(v: f32) -> f32 {
    (v * 100.0).round() / 100.0
}

fn color(c: Rgb) -> Color {
    Color::Rgb(printpdf::Rgb::new(
        f32::from(c[0]) / 255.0,
        f32::from(c[1]) / 255.0,
        f32::from(c[2]) / 255.0,
        None,
    ))
}

/// The font resource of a face: `F…` for the fixed-text subset, `V…` for the rest.
fn font_id(face: u8, fixed: bool) -> FontId {
    FontId(format!("{}{face}", if fixed { 'F' } else { 'V' }))
}

/// Subsets one face to the glyphs used and wraps it for printpdf.
fn subset_face(
    fonts: &Fonts,
    face: u8,
    used: &BTreeMap<u16, char>,
) -> Result<ParsedFont, RenderError> {
    let f = fonts.face(face);
    let mut remapper = subsetter::GlyphRemapper::new();
    for &gid in used.keys() {
        remapper.remap(gid);
    }
    let bytes = subsetter::subset(f.font.as_slice(), f.index, &remapper)
        .map_err(|e| RenderError::Font(e.to_string()))?;
    let upem = f.units_per_em;
    let to_units = |em: f32| (em * upem).round() as i16;
    let mut codepoint_to_glyph = BTreeMap::new();
    let mut glyph_widths = BTreeMap::new();
    glyph_widths.insert(0, upem as u16);
    for (&gid, &ch) in used {
        let new =
            remapper.get(gid).ok_or_else(|| RenderError::Font("glyph not in subset".into()))?;
        codepoint_to_glyph.insert(u32::from(ch), new);
        glyph_widths.insert(new, (f.advance_em(ab_glyph::GlyphId(gid)) * upem).round() as u16);
    }
    let ascent = to_units(f.ascent_em());
    let descent = to_units(f.descent_em());
    let font_type =
        if bytes.starts_with(b"OTTO") { FontType::OpenTypeCFF(()) } else { FontType::TrueType };
    Ok(ParsedFont {
        original_bytes: bytes,
        font_index: 0,
        font_name: None,
        codepoint_to_glyph,
        glyph_widths,
        units_per_em: upem as u16,
        font_metrics: FontMetrics { ascent, descent },
        font_type,
        pdf_font_metrics: PdfFontMetricsStub {
            units_per_em: upem as u16,
            x_min: 0,
            y_min: descent,
            x_max: upem as i16,
            y_max: ascent,
            caret_slope_rise: 1,
            caret_slope_run: 0,
            us_weight_class: if face == BOLD { 700 } else { 400 },
        },
    })
}

/// The JPEG as an image XObject, passed through (`/DCTDecode`).
fn jpeg_xobject(jpeg: &[u8]) -> Result<XObject, RenderError> {
    use image::ImageDecoder as _;
    let decoder = image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(jpeg))
        .map_err(|_| RenderError::BadPhoto)?;
    let (w, h) = decoder.dimensions();
    let space = match decoder.original_color_type() {
        image::ExtendedColorType::Rgb8 => "DeviceRGB",
        image::ExtendedColorType::L8 => "DeviceGray",
        _ => return Err(RenderError::BadPhoto),
    };
    let name = |s: &str| DictItem::Name(s.as_bytes().to_vec());
    let dict = BTreeMap::from([
        ("Type".to_owned(), name("XObject")),
        ("Subtype".to_owned(), name("Image")),
        ("Width".to_owned(), DictItem::Int(i64::from(w))),
        ("Height".to_owned(), DictItem::Int(i64::from(h))),
        ("ColorSpace".to_owned(), name(space)),
        ("BitsPerComponent".to_owned(), DictItem::Int(8)),
        ("Filter".to_owned(), name("DCTDecode")),
    ]);
    Ok(XObject::External(ExternalXObject {
        stream: ExternalStream { dict, content: jpeg.to_vec(), compress: false },
        width: Some(Px(1)),
        height: Some(Px(1)),
        dpi: Some(72.0),
    }))
}

/// The QR code as a 1-bit greyscale image of one sample per module (0 dark, 1 light), drawn
/// without interpolation: a few hundred bytes where rectangles would take a thousand
/// drawing operations, and the same sharp squares on paper.
fn qr_xobject(qr: &qrcodegen::QrCode) -> XObject {
    let n = qr.size();
    let row_bytes = (n as usize).div_ceil(8);
    let mut bits = vec![0xFF_u8; row_bytes * n as usize];
    for y in 0..n {
        for x in 0..n {
            if qr.get_module(x, y) {
                bits[y as usize * row_bytes + x as usize / 8] &= !(0x80 >> (x % 8));
            }
        }
    }
    let name = |s: &str| DictItem::Name(s.as_bytes().to_vec());
    let dict = BTreeMap::from([
        ("Type".to_owned(), name("XObject")),
        ("Subtype".to_owned(), name("Image")),
        ("Width".to_owned(), DictItem::Int(i64::from(n))),
        ("Height".to_owned(), DictItem::Int(i64::from(n))),
        ("ColorSpace".to_owned(), name("DeviceGray")),
        ("BitsPerComponent".to_owned(), DictItem::Int(1)),
        ("Interpolate".to_owned(), DictItem::Bool(false)),
    ]);
    XObject::External(ExternalXObject {
        stream: ExternalStream { dict, content: bits, compress: false },
        width: Some(Px(1)),
        height: Some(Px(1)),
        dpi: Some(72.0),
    })
}

/// Writes the pages as one PDF.
pub(crate) fn write(
    fonts: &Fonts,
    title: &str,
    issued_at: Option<chrono::DateTime<chrono::Utc>>,
    pages: &[(Page<'_>, Placement)],
) -> Result<Vec<u8>, RenderError> {
    let mut doc = PdfDocument::new(title);
    if let Some(t) =
        issued_at.and_then(|t| printpdf::OffsetDateTime::from_unix_timestamp(t.timestamp()).ok())
    {
        doc.metadata.info.creation_date = t;
        doc.metadata.info.modification_date = t;
        doc.metadata.info.metadata_date = t;
    }
    // Fonts: every face used, subset to what is used. Glyphs of fixed text go into a subset
    // that is cached and reused by the next document; the others into a per-document one.
    let mut fixed: BTreeMap<u8, BTreeMap<u16, char>> = BTreeMap::new();
    let mut variable: BTreeMap<u8, BTreeMap<u16, char>> = BTreeMap::new();
    for (page, _) in pages {
        for item in &page.items {
            if let Item::Text(line) = item {
                let target = if line.fixed { &mut fixed } else { &mut variable };
                for g in &line.glyphs {
                    target.entry(g.face).or_default().insert(g.glyph, g.ch);
                }
            }
        }
    }
    // The characters of the personal lines that recur from one ticket to the next — the
    // digits of the ID number, ticket number, room and seat, 男/女, 第…考场, …号 — join the
    // cached subset of each face, so a ticket's own subset holds little more than its name
    // (one subset to make per ticket instead of one per face).
    for (&face, glyphs) in &mut fixed {
        let f = fonts.face(face);
        for c in RECURRING.chars() {
            if let Some(g) = f.glyph(c) {
                glyphs.entry(g.0).or_insert(c);
            }
        }
    }
    for (face, glyphs) in &mut variable {
        if let Some(f) = fixed.get(face) {
            glyphs.retain(|gid, _| !f.contains_key(gid));
        }
    }
    for (&face, glyphs) in &fixed {
        let key = (face, glyphs.iter().map(|(&g, &c)| (g, c)).collect::<Vec<_>>());
        let cached = fonts.pdf_subsets.lock().ok().and_then(|c| c.get(&key).cloned());
        let parsed = match cached {
            Some(p) => p,
            None => {
                let p = std::sync::Arc::new(subset_face(fonts, face, glyphs)?);
                if let Ok(mut c) = fonts.pdf_subsets.lock() {
                    if c.len() >= PDF_CACHE_MAX
                        && let Some(evict) = c.keys().next().cloned()
                    {
                        c.remove(&evict);
                    }
                    c.insert(key, std::sync::Arc::clone(&p));
                }
                p
            }
        };
        doc.resources.fonts.map.insert(font_id(face, true), PdfFont::new((*parsed).clone()));
    }
    for (&face, glyphs) in variable.iter().filter(|(_, g)| !g.is_empty()) {
        doc.resources
            .fonts
            .map
            .insert(font_id(face, false), PdfFont::new(subset_face(fonts, face, glyphs)?));
    }
    let resource = |face: u8, glyph: u16| fixed.get(&face).is_some_and(|f| f.contains_key(&glyph));

    let mut pdf_pages = Vec::with_capacity(pages.len());
    for (p, (page, at)) in pages.iter().enumerate() {
        let mut photo_ids = Vec::with_capacity(page.photos.len());
        for (i, jpeg) in page.photos.iter().enumerate() {
            let id = XObjectId(format!("P{p}I{i}"));
            doc.resources.xobjects.map.insert(id.clone(), jpeg_xobject(jpeg)?);
            photo_ids.push(id);
        }
        let mut ops = Vec::with_capacity(page.items.len() * 4);
        let mut fill: Option<Rgb> = None;
        let mut set_fill = |ops: &mut Vec<Op>, c: Rgb| {
            if fill != Some(c) {
                ops.push(Op::SetFillColor { col: color(c) });
                fill = Some(c);
            }
        };
        for item in &page.items {
            match item {
                Item::Rect { x, y, w, h, color: c } => {
                    set_fill(&mut ops, *c);
                    ops.push(filled(at.x(*x), at.y(y + h), at.len(*w), at.len(*h)));
                }
                Item::Text(line) => {
                    if line.glyphs.is_empty() {
                        continue;
                    }
                    set_fill(&mut ops, line.color);
                    ops.push(Op::StartTextSection);
                    let size = Pt(at.len(line.size));
                    let mut current_face = None;
                    let mut i = 0;
                    while i < line.glyphs.len() {
                        // A run: same face, each glyph where the previous one's advance puts it.
                        let first = line.glyphs[i];
                        let mut text = String::new();
                        let mut j = i;
                        let mut expect = first.x;
                        while j < line.glyphs.len() {
                            let g = line.glyphs[j];
                            if g.face != first.face
                                || resource(g.face, g.glyph) != resource(first.face, first.glyph)
                                || (g.x - expect).abs() > 0.01
                            {
                                break;
                            }
                            text.push(g.ch);
                            expect = g.x + g.advance;
                            j += 1;
                        }
                        let id = font_id(first.face, resource(first.face, first.glyph));
                        if current_face.as_ref() != Some(&id) {
                            ops.push(Op::SetFont {
                                font: PdfFontHandle::External(id.clone()),
                                size,
                            });
                            current_face = Some(id);
                        }
                        ops.push(Op::SetTextMatrix {
                            matrix: TextMatrix::Translate(
                                Pt(at.x(first.x)),
                                Pt(at.y(line.baseline)),
                            ),
                        });
                        ops.push(Op::ShowText { items: vec![TextItem::Text(text)] });
                        i = j;
                    }
                    ops.push(Op::EndTextSection);
                }
                Item::Photo { index, x, y, w, h } => {
                    let id = photo_ids.get(*index).ok_or(RenderError::BadPhoto)?.clone();
                    ops.push(Op::UseXobject {
                        id,
                        transform: XObjectTransform {
                            translate_x: Some(Pt(at.x(*x))),
                            translate_y: Some(Pt(at.y(y + h))),
                            scale_x: Some(at.len(*w)),
                            scale_y: Some(at.len(*h)),
                            dpi: Some(72.0),
                            ..XObjectTransform::default()
                        },
                    });
                }
                Item::Qr { x, y, module } => {
                    let Some(qr) = &page.qr else { continue };
                    let id = XObjectId(format!("P{p}Q"));
                    doc.resources.xobjects.map.insert(id.clone(), qr_xobject(qr));
                    // The modules without the quiet zone (white paper already).
                    let side = qr.size() as f32 * module;
                    ops.push(Op::UseXobject {
                        id,
                        transform: XObjectTransform {
                            translate_x: Some(Pt(at.x(x + 4.0 * module))),
                            translate_y: Some(Pt(at.y(y + 4.0 * module + side))),
                            scale_x: Some(at.len(side)),
                            scale_y: Some(at.len(side)),
                            dpi: Some(72.0),
                            ..XObjectTransform::default()
                        },
                    });
                }
            }
        }
        let mut pdf_page = PdfPage::new(printpdf::Mm(0.0), printpdf::Mm(0.0), ops);
        let media = Rect::from_wh(Pt(at.page_w), Pt(at.page_h));
        pdf_page.media_box = media.clone();
        pdf_page.trim_box = media.clone();
        pdf_page.crop_box = media;
        pdf_pages.push(pdf_page);
    }
    doc.with_pages(pdf_pages);
    // printpdf's own optimisation compresses every stream at the slowest zlib level; do it here
    // at level 1 instead (a ticket about 1 % larger, several times faster; the font programs
    // that repeat from one ticket to the next are deflated once at level 9 and cached).
    let opts = PdfSaveOptions {
        optimize: false,
        subset_fonts: false,
        secure: true,
        image_optimization: None,
    };
    let mut warnings = Vec::new();
    let mut lo = doc.to_lopdf_document(&opts, &mut warnings);
    for object in lo.objects.values_mut() {
        if let lopdf::Object::Stream(stream) = object
            && stream.allows_compression
            && stream.dict.get(b"Filter").is_err()
        {
            let compressed = deflate(fonts, &stream.content)?;
            if compressed.len() + 19 < stream.content.len() {
                stream.dict.set("Filter", "FlateDecode");
                stream.set_content(compressed);
            }
        }
    }
    let mut out = Vec::with_capacity(64 * 1024);
    lo.save_to(&mut out).map_err(|e| RenderError::Font(e.to_string()))?;
    Ok(out)
}

/// Deflates a stream at [`PDF_ZLIB_LEVEL`]. A large stream seen before — the fixed-text font
/// programs, identical from one ticket to the next — is deflated once at the best level and
/// then taken from the cache in `fonts`.
fn deflate(fonts: &Fonts, content: &[u8]) -> Result<Vec<u8>, RenderError> {
    const CACHED_FROM: usize = 4096;
    let zlib = |level: u32| -> Result<Vec<u8>, RenderError> {
        let mut encoder =
            flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(level));
        encoder.write_all(content).map_err(|e| RenderError::Font(e.to_string()))?;
        encoder.finish().map_err(|e| RenderError::Font(e.to_string()))
    };
    if content.len() < CACHED_FROM {
        return zlib(PDF_ZLIB_LEVEL);
    }
    let seen = match fonts.deflated.lock() {
        Ok(cache) => match cache.iter().find(|(c, _)| c.as_slice() == content) {
            Some((_, Some(d))) => return Ok(d.to_vec()),
            Some((_, None)) => true,
            None => false,
        },
        Err(_) => return zlib(PDF_ZLIB_LEVEL),
    };
    let compressed = zlib(if seen { 9 } else { PDF_ZLIB_LEVEL })?;
    if let Ok(mut cache) = fonts.deflated.lock() {
        if seen {
            if let Some(entry) = cache.iter_mut().find(|(c, _)| c.as_slice() == content) {
                entry.1 = Some(std::sync::Arc::new(compressed.clone()));
            }
        } else {
            if cache.len() >= PDF_CACHE_MAX {
                cache.remove(0);
            }
            cache.push((std::sync::Arc::new(content.to_vec()), None));
        }
    }
    Ok(compressed)
}

/// Characters of the personal lines that most tickets share (see [`write`]).
const RECURRING: &str = "0123456789*X男女第考场号";

/// zlib level for the PDF's streams.
const PDF_ZLIB_LEVEL: u32 = 1;

fn filled(x: f32, y: f32, w: f32, h: f32) -> Op {
    let mut r = Rect::from_xywh(Pt(x), Pt(y), Pt(w), Pt(h));
    r.mode = Some(printpdf::PaintMode::Fill);
    Op::DrawRectangle { rectangle: r }
}
