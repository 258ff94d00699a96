//! Rendering: one layout, laid out once into a list of drawing items ([`Page`]), drawn by two
//! back ends — [`png`] (1080 px wide, for the phone) and [`pdf`] (A4, for printing).

pub(crate) mod pdf;
pub(crate) mod png;
mod qr;

use qrcodegen::QrCode;

use crate::fonts::{BOLD, Fonts};
use crate::layout::{RoomSheet, Ticket, TicketLayout};

pub use qr::{QR_ECC, QR_MASK, QR_MAX_VERSION, encode_qr};

/// Why a ticket or sheet could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// Characters that no configured font can draw (never dropped or drawn as boxes).
    #[error("以下字符无法显示：{}，请更换写法或联系工作人员", quoted(.chars))]
    MissingGlyphs {
        /// The characters, each once, in order of appearance.
        chars: Vec<char>,
    },
    /// The photo is not a readable RGB or greyscale JPEG.
    #[error("证件照无法读取，请重新上传照片")]
    BadPhoto,
    /// The QR text does not fit a version-10 QR code at error correction M.
    #[error("二维码内容过长（{len} 个字符）")]
    QrTooLong {
        /// Length of the text.
        len: usize,
    },
    /// The font could not be subset for the PDF.
    #[error("字体处理失败：{0}")]
    Font(String),
    /// The PNG could not be encoded.
    #[error("图片编码失败")]
    PngEncoding,
}

impl RenderError {
    /// Stable machine-readable code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingGlyphs { .. } => "ticket_missing_glyphs",
            Self::BadPhoto => "ticket_bad_photo",
            Self::QrTooLong { .. } => "ticket_qr_too_long",
            Self::Font(_) => "ticket_font",
            Self::PngEncoding => "ticket_png_encoding",
        }
    }
}

fn quoted(chars: &[char]) -> String {
    chars.iter().map(|c| format!("“{c}”(U+{:04X})", u32::from(*c))).collect::<Vec<_>>().join("、")
}

/// An sRGB colour.
pub(crate) type Rgb = [u8; 3];

pub(crate) const INK: Rgb = [0x11, 0x11, 0x11];
const LABEL: Rgb = [0x44, 0x44, 0x44];
const MUTED: Rgb = [0x66, 0x66, 0x66];
const FRAME: Rgb = [0x33, 0x33, 0x33];
const RULE: Rgb = [0xA0, 0xA0, 0xA0];
const SHADE: Rgb = [0xEC, 0xF1, 0xF7];
const ACCENT: Rgb = [0x1F, 0x4E, 0x8C];

/// A glyph placed on a line: face, glyph id, the character it draws, x of its pen position.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Placed {
    pub(crate) face: u8,
    pub(crate) glyph: u16,
    pub(crate) ch: char,
    pub(crate) x: f32,
    pub(crate) advance: f32,
}

/// One line of text.
#[derive(Debug, Clone)]
pub(crate) struct TextLine {
    /// Baseline, from the top of the page.
    pub(crate) baseline: f32,
    /// Em size in page units.
    pub(crate) size: f32,
    pub(crate) color: Rgb,
    pub(crate) glyphs: Vec<Placed>,
    /// Text shared by many tickets of a layout (title, labels, rules, the site, the subjects):
    /// the PDF back end keeps its glyphs in a font subset it reuses from one ticket to the next;
    /// the rest (name, ID, number, room, seat) goes into a small per-document subset.
    pub(crate) fixed: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum Item {
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        color: Rgb,
    },
    Text(TextLine),
    /// A photo (index into [`Page::photos`]) scaled into the box.
    Photo {
        index: usize,
        x: f32,
        y: f32,
        w: f32,
        h: f32,
    },
    /// The page's QR code, `module` units per module, quiet zone included in (x, y).
    Qr {
        x: f32,
        y: f32,
        module: f32,
    },
}

/// A laid-out page: size in units (y grows downwards) and what to draw.
pub(crate) struct Page<'a> {
    pub(crate) width: f32,
    pub(crate) height: f32,
    pub(crate) items: Vec<Item>,
    pub(crate) photos: Vec<&'a [u8]>,
    pub(crate) qr: Option<QrCode>,
}

impl std::fmt::Debug for Page<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Page")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("items", &self.items.len())
            .finish_non_exhaustive()
    }
}

/// Lays text out and remembers characters no face can draw.
pub(crate) struct Typesetter<'f> {
    pub(crate) fonts: &'f Fonts,
    missing: Vec<char>,
    /// Whether lines made now are [`TextLine::fixed`].
    pub(crate) fixed: bool,
}

/// Alignment of a line in its box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Center,
}

impl<'f> Typesetter<'f> {
    pub(crate) fn new(fonts: &'f Fonts) -> Self {
        Self { fonts, missing: Vec::new(), fixed: false }
    }

    /// Fails with every missing character seen so far.
    pub(crate) fn finish(self) -> Result<(), RenderError> {
        if self.missing.is_empty() {
            Ok(())
        } else {
            Err(RenderError::MissingGlyphs { chars: self.missing })
        }
    }

    fn advance(&mut self, c: char, size: f32, bold: bool) -> (u8, u16, f32) {
        match self.fonts.pick(c, bold) {
            Some((face, g)) => (face, g.0, self.fonts.face(face).advance_em(g) * size),
            None => {
                if !self.missing.contains(&c) {
                    self.missing.push(c);
                }
                (0, 0, 0.0)
            }
        }
    }

    /// Width of `text` at `size`.
    pub(crate) fn width(&mut self, text: &str, size: f32, bold: bool) -> f32 {
        text.chars().map(|c| self.advance(c, size, bold).2).sum()
    }

    /// Splits `text` into lines no wider than `max`: breaks anywhere between CJK characters,
    /// and at the last space before a Latin word that would overflow.
    pub(crate) fn wrap(&mut self, text: &str, size: f32, bold: bool, max: f32) -> Vec<String> {
        let mut lines = Vec::new();
        let mut line = String::new();
        let mut width = 0.0;
        for c in text.chars() {
            let w = self.advance(c, size, bold).2;
            if width + w > max && !line.is_empty() {
                // Move a partial Latin word to the next line when there is a space to break at.
                let mut carry = String::new();
                if is_no_break_before(c) {
                    // Closing punctuation never starts a line: take the last character along.
                    if let Some(last) = line.pop() {
                        carry.push(last);
                    }
                } else if c.is_ascii_alphanumeric()
                    && let Some(pos) = line.rfind(' ')
                {
                    let tail = line[pos + 1..].to_owned();
                    if tail.chars().all(|t| t.is_ascii_alphanumeric()) && pos > 0 {
                        carry = tail;
                        line.truncate(pos);
                    }
                }
                lines.push(std::mem::take(&mut line));
                line = carry;
                width = self.width(&line, size, bold);
                if c == ' ' && line.is_empty() {
                    continue;
                }
            }
            line.push(c);
            width += w;
        }
        if !line.is_empty() || lines.is_empty() {
            lines.push(line);
        }
        lines
    }

    /// The largest size from `start` down to `min` (steps of 5 %) at which `text` wraps into
    /// lines that fit `max_w` and, at `leading × size` per line, `max_h`; with the lines.
    #[allow(clippy::too_many_arguments)] // private layout helper: coordinates and style
    pub(crate) fn fit(
        &mut self,
        text: &str,
        bold: bool,
        max_w: f32,
        max_h: f32,
        start: f32,
        min: f32,
        leading: f32,
    ) -> (f32, Vec<String>) {
        let mut size = start;
        loop {
            let lines = self.wrap(text, size, bold, max_w);
            if lines.len() as f32 * size * leading <= max_h || size <= min {
                return (size, lines);
            }
            size = (size * 0.95).max(min);
        }
    }

    /// A line of text whose box starts at `x` and is `box_w` wide.
    #[allow(clippy::too_many_arguments)] // private layout helper: coordinates and style
    pub(crate) fn line(
        &mut self,
        text: &str,
        x: f32,
        box_w: f32,
        baseline: f32,
        size: f32,
        bold: bool,
        color: Rgb,
        align: Align,
    ) -> Item {
        let total = self.width(text, size, bold);
        let mut pen = match align {
            Align::Left => x,
            Align::Center => x + (box_w - total) / 2.0,
        };
        let mut glyphs = Vec::with_capacity(text.len());
        for c in text.chars() {
            let (face, glyph, w) = self.advance(c, size, bold);
            if c != ' ' {
                glyphs.push(Placed { face, glyph, ch: c, x: pen, advance: w });
            }
            pen += w;
        }
        Item::Text(TextLine { baseline, size, color, glyphs, fixed: self.fixed })
    }

    /// Lines of text vertically centred in a box (`x`, `y`, `w`, `h`).
    #[allow(clippy::too_many_arguments)] // private layout helper: coordinates and style
    pub(crate) fn block(
        &mut self,
        lines: &[String],
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        size: f32,
        leading: f32,
        style: (bool, Rgb, Align),
        out: &mut Vec<Item>,
    ) {
        let (bold, color, align) = style;
        let face = self.fonts.face(if bold { BOLD } else { 0 });
        let (asc, desc) = (face.ascent_em() * size, face.descent_em() * size);
        let line_h = size * leading;
        let total = line_h * (lines.len().max(1) as f32 - 1.0) + (asc - desc);
        let mut baseline = y + (h - total) / 2.0 + asc;
        for l in lines {
            out.push(self.line(l, x, w, baseline, size, bold, color, align));
            baseline += line_h;
        }
    }
}

/// Punctuation that must not start a line (a small 禁则 set).
fn is_no_break_before(c: char) -> bool {
    matches!(
        c,
        '）' | ')'
            | '」'
            | '』'
            | '】'
            | '》'
            | '〉'
            | '，'
            | '。'
            | '、'
            | '；'
            | '：'
            | '！'
            | '？'
            | '…'
            | ','
            | '.'
            | ';'
            | ':'
            | '!'
            | '?'
    )
}

fn rect(out: &mut Vec<Item>, x: f32, y: f32, w: f32, h: f32, color: Rgb) {
    out.push(Item::Rect { x, y, w, h, color });
}

/// A frame of thickness `t` inside the box.
fn frame(out: &mut Vec<Item>, x: f32, y: f32, w: f32, h: f32, t: f32, color: Rgb) {
    rect(out, x, y, w, t, color);
    rect(out, x, y + h - t, w, t, color);
    rect(out, x, y, t, h, color);
    rect(out, x + w - t, y, t, h, color);
}

/// Width of the ticket in layout units (= PNG pixels).
pub(crate) const TICKET_WIDTH: f32 = 1080.0;
/// The photo's box on the ticket (units): the normalised photo's pixel size.
const PHOTO_W: f32 = 295.0;
const PHOTO_H: f32 = 413.0;

/// Lays out a ticket (units: PNG pixels, 1080 wide).
pub(crate) fn layout_ticket<'a>(
    fonts: &Fonts,
    layout: &TicketLayout,
    ticket: &'a Ticket,
) -> Result<Page<'a>, RenderError> {
    let qr = encode_qr(&ticket.qr_text)?;
    let mut ts = Typesetter::new(fonts);
    ts.fixed = true;
    let mut items = Vec::with_capacity(64);
    let margin = 54.0;
    let x0 = margin;
    let inner = TICKET_WIDTH - 2.0 * margin;

    // Accent band and title.
    rect(&mut items, 0.0, 0.0, TICKET_WIDTH, 14.0, ACCENT);
    let mut y = 56.0;
    let title_size = 46.0;
    let title_lines = wrap_title(&mut ts, &layout.title, title_size, inner);
    for l in &title_lines {
        y += title_size;
        items.push(ts.line(l, x0, inner, y, title_size, true, INK, Align::Center));
        y += title_size * 0.45;
    }
    y += 24.0;

    // Personal facts beside the photo, then the site across the full width.
    let label_w = 190.0;
    let photo_cell_w = PHOTO_W + 2.0 * 16.0;
    let row_h = 74.0;
    let value_x = x0 + label_w;
    let value_w = inner - label_w - photo_cell_w;
    let table_top = y;
    let beside: [(&str, String); 6] = [
        ("姓　　名", ticket.name.clone()),
        ("性　　别", ticket.gender.clone()),
        ("证件号码", ticket.masked_id.clone()),
        ("准考证号", ticket.ticket_number.clone()),
        ("考　　场", format!("第 {} 考场", ticket.room)),
        ("座　　号", format!("{} 号", ticket.seat)),
    ];
    let label_size = 29.0;
    let value_size = 32.0;
    for (i, (label, value)) in beside.iter().enumerate() {
        let top = table_top + row_h * i as f32;
        rect(&mut items, x0, top, label_w, row_h, SHADE);
        ts.block(
            &[(*label).to_owned()],
            x0,
            top,
            label_w,
            row_h,
            label_size,
            1.25,
            (false, LABEL, Align::Center),
            &mut items,
        );
        let bold = i == 3;
        ts.fixed = false;
        let (size, lines) = ts.fit(value, bold, value_w - 32.0, row_h - 8.0, value_size, 16.0, 1.2);
        ts.block(
            &lines,
            value_x + 20.0,
            top,
            value_w - 32.0,
            row_h,
            size,
            1.2,
            (bold, INK, Align::Left),
            &mut items,
        );
        ts.fixed = true;
        if i > 0 {
            rect(&mut items, x0, top, label_w + value_w, 1.5, RULE);
        }
    }
    let beside_h = row_h * beside.len() as f32;
    let photo_index = 0;
    items.push(Item::Photo {
        index: photo_index,
        x: x0 + label_w + value_w + 16.0,
        y: table_top + (beside_h - PHOTO_H) / 2.0,
        w: PHOTO_W,
        h: PHOTO_H,
    });
    rect(&mut items, x0 + label_w + value_w, table_top, 1.5, beside_h, RULE);
    let mut top = table_top + beside_h;
    for (label, value) in [("考点名称", &ticket.site_name), ("考点地址", &ticket.site_address)]
    {
        let wide = inner - label_w - 32.0;
        let lines = ts.wrap(value, value_size * 0.9, false, wide);
        let h = (lines.len() as f32 * value_size * 0.9 * 1.3 + 26.0).max(row_h);
        rect(&mut items, x0, top, label_w, h, SHADE);
        rect(&mut items, x0, top, inner, 1.5, RULE);
        ts.block(
            &[label.to_owned()],
            x0,
            top,
            label_w,
            h,
            label_size,
            1.25,
            (false, LABEL, Align::Center),
            &mut items,
        );
        ts.block(
            &lines,
            value_x + 20.0,
            top,
            wide,
            h,
            value_size * 0.9,
            1.3,
            (false, INK, Align::Left),
            &mut items,
        );
        top += h;
    }
    rect(&mut items, x0 + label_w, table_top, 1.5, top - table_top, RULE);
    frame(&mut items, x0, table_top, inner, top - table_top, 3.0, FRAME);
    y = top + 40.0;

    // Subjects.
    let time_w = 430.0;
    let name_w = inner - time_w;
    let head_h = 58.0;
    let sub_top = y;
    rect(&mut items, x0, y, inner, head_h, SHADE);
    ts.block(
        &["考试科目".to_owned()],
        x0,
        y,
        name_w,
        head_h,
        label_size,
        1.25,
        (true, INK, Align::Center),
        &mut items,
    );
    ts.block(
        &["考试时间".to_owned()],
        x0 + name_w,
        y,
        time_w,
        head_h,
        label_size,
        1.25,
        (true, INK, Align::Center),
        &mut items,
    );
    y += head_h;
    let subject_size = 28.0;
    // Subjects and the site are shared by many tickets: they stay in the cached PDF subset.
    for s in &ticket.subjects {
        let name_lines = ts.wrap(&s.name, subject_size, false, name_w - 40.0);
        let time_lines = ts.wrap(&s.time, subject_size * 0.92, false, time_w - 24.0);
        let n = name_lines.len().max(time_lines.len()) as f32;
        let h = (n * subject_size * 1.3 + 26.0).max(64.0);
        rect(&mut items, x0, y, inner, 1.5, RULE);
        ts.block(
            &name_lines,
            x0 + 20.0,
            y,
            name_w - 40.0,
            h,
            subject_size,
            1.3,
            (false, INK, Align::Left),
            &mut items,
        );
        ts.block(
            &time_lines,
            x0 + name_w,
            y,
            time_w,
            h,
            subject_size * 0.92,
            1.3,
            (false, INK, Align::Center),
            &mut items,
        );
        y += h;
    }
    rect(&mut items, x0 + name_w, sub_top, 1.5, y - sub_top, RULE);
    frame(&mut items, x0, sub_top, inner, y - sub_top, 3.0, FRAME);
    y += 36.0;

    // The QR code, centred, with its quiet zone (4 modules) inside the white box.
    let module = 8.0;
    let qr_side = (qr.size() as f32 + 8.0) * module;
    let qr_x = ((TICKET_WIDTH - qr_side) / 2.0).round();
    items.push(Item::Qr { x: qr_x, y, module });
    y += qr_side + 6.0;
    items.push(ts.line(
        "入场及考试时请出示此二维码供核验",
        x0,
        inner,
        y + 26.0,
        26.0,
        false,
        MUTED,
        Align::Center,
    ));
    y += 60.0;

    // Rules.
    rect(&mut items, x0, y, inner, 2.0, ACCENT);
    y += 22.0;
    items.push(ts.line("考场规则", x0, inner, y + 32.0, 32.0, true, INK, Align::Left));
    y += 52.0;
    let rule_size = 26.0;
    for (i, rule) in layout.rules.iter().enumerate() {
        let numbered = format!("{}. {}", i + 1, rule);
        for l in ts.wrap(&numbered, rule_size, false, inner) {
            y += rule_size * 1.5;
            items.push(ts.line(&l, x0, inner, y, rule_size, false, LABEL, Align::Left));
        }
        y += 6.0;
    }
    if let Some(footer) = &layout.footer {
        y += 40.0;
        for l in ts.wrap(footer, 24.0, false, inner) {
            items.push(ts.line(&l, x0, inner, y, 24.0, false, MUTED, Align::Center));
            y += 34.0;
        }
    }
    y += 50.0;
    rect(&mut items, 0.0, y - 14.0, TICKET_WIDTH, 14.0, ACCENT);
    ts.finish()?;
    Ok(Page {
        width: TICKET_WIDTH,
        height: y.ceil(),
        items,
        photos: vec![ticket.photo_jpeg.as_slice()],
        qr: Some(qr),
    })
}

/// Splits a title at its spaces into at most as many lines as needed to fit.
fn wrap_title(ts: &mut Typesetter<'_>, title: &str, size: f32, max: f32) -> Vec<String> {
    if ts.width(title, size, true) <= max {
        return vec![title.to_owned()];
    }
    let mut lines: Vec<String> = Vec::new();
    for word in title.split(' ').filter(|w| !w.is_empty()) {
        match lines.last_mut() {
            Some(last) if ts.width(&format!("{last} {word}"), size, true) <= max => {
                last.push(' ');
                last.push_str(word);
            }
            _ => lines.extend(ts.wrap(word, size, true, max)),
        }
    }
    lines
}

/// Rows of a sign-in sheet per page.
pub const SHEET_ROWS_PER_PAGE: usize = 15;

/// A4 portrait in points.
pub(crate) const A4: (f32, f32) = (595.276, 841.89);

/// Lays out a room's sign-in sheet (units: points on A4 portrait), one page per
/// [`SHEET_ROWS_PER_PAGE`] rows.
pub(crate) fn layout_sheet<'a>(
    fonts: &Fonts,
    sheet: &'a RoomSheet,
) -> Result<Vec<Page<'a>>, RenderError> {
    let mut ts = Typesetter::new(fonts);
    let (w, h) = A4;
    let margin = 40.0;
    let inner = w - 2.0 * margin;
    let chunks: Vec<&[crate::layout::SheetRow]> = if sheet.rows.is_empty() {
        vec![&[]]
    } else {
        sheet.rows.chunks(SHEET_ROWS_PER_PAGE).collect()
    };
    let pages = chunks.len();
    // Columns: seat, ticket number, name, ID, photo, signature.
    let cols = [
        ("座号", 34.0),
        ("准考证号", 96.0),
        ("姓名", 118.0),
        ("证件号码", 118.0),
        ("照片", 40.0),
        ("考生签名", 0.0),
    ];
    let fixed: f32 = cols.iter().map(|c| c.1).sum();
    let widths: Vec<f32> =
        cols.iter().map(|c| if c.1 == 0.0 { inner - fixed } else { c.1 }).collect();
    let head_h = 24.0;
    let row_h = 44.0;
    let mut out = Vec::with_capacity(pages);
    for (p, rows) in chunks.into_iter().enumerate() {
        let mut items = Vec::new();
        let mut photos: Vec<&[u8]> = Vec::new();
        let mut y = 44.0;
        for l in wrap_title(&mut ts, &sheet.title, 16.0, inner) {
            y += 16.0;
            items.push(ts.line(&l, margin, inner, y, 16.0, true, INK, Align::Center));
            y += 6.0;
        }
        y += 14.0;
        let info = format!(
            "考点：{}　　考场：第 {} 考场　　应到：{} 人",
            sheet.site_name,
            sheet.room,
            sheet.rows.len()
        );
        let (size, lines) = ts.fit(&info, false, inner, 28.0, 11.0, 7.0, 1.25);
        for l in lines {
            y += size * 1.25;
            items.push(ts.line(&l, margin, inner, y, size, false, INK, Align::Left));
        }
        y += 10.0;
        let table_top = y;
        rect(&mut items, margin, y, inner, head_h, SHADE);
        let mut x = margin;
        for ((label, _), cw) in cols.iter().zip(&widths) {
            ts.block(
                &[(*label).to_owned()],
                x,
                y,
                *cw,
                head_h,
                10.0,
                1.2,
                (true, INK, Align::Center),
                &mut items,
            );
            x += cw;
        }
        y += head_h;
        for row in rows {
            rect(&mut items, margin, y, inner, 0.75, RULE);
            let cells = [
                row.seat.to_string(),
                row.ticket_number.clone(),
                row.name.clone(),
                row.masked_id.clone(),
            ];
            let mut x = margin;
            for (text, cw) in cells.iter().zip(&widths) {
                let (size, lines) = ts.fit(text, false, cw - 6.0, row_h - 4.0, 10.0, 5.0, 1.2);
                ts.block(
                    &lines,
                    x + 3.0,
                    y,
                    cw - 6.0,
                    row_h,
                    size,
                    1.2,
                    (false, INK, Align::Center),
                    &mut items,
                );
                x += cw;
            }
            let ph = row_h - 4.0;
            let pw = ph * PHOTO_W / PHOTO_H;
            items.push(Item::Photo {
                index: photos.len(),
                x: x + (widths[4] - pw) / 2.0,
                y: y + 2.0,
                w: pw,
                h: ph,
            });
            photos.push(row.photo_jpeg.as_slice());
            y += row_h;
        }
        let mut x = margin;
        for cw in &widths[..widths.len() - 1] {
            x += cw;
            rect(&mut items, x, table_top, 0.75, y - table_top, RULE);
        }
        frame(&mut items, margin, table_top, inner, y - table_top, 1.2, FRAME);
        items.push(ts.line("监考员签名：", margin, inner, y + 30.0, 10.0, false, INK, Align::Left));
        let footer = format!("第 {} 页，共 {} 页", p + 1, pages);
        items.push(ts.line(&footer, margin, inner, h - 28.0, 9.0, false, MUTED, Align::Center));
        out.push(Page { width: w, height: h, items, photos, qr: None });
    }
    ts.finish()?;
    Ok(out)
}
