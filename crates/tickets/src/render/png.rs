//! The PNG back end: draws a [`Page`] at one pixel per unit.
//!
//! A ticket is mostly white space: over half of its rows repeat the row above, and most of
//! every other row does too (margins, shaded label cells). The `png` crate filters every byte
//! of every row the same way, so the rows are filtered here ([`filter_rows`]: a repeated row
//! is all zeros under the Up filter, the others take Paeth) and deflated with `fdeflate` (the
//! encoder `png` itself uses for its fast mode); `png` writes the container around the one
//! `IDAT` chunk.

use image::RgbImage;

use super::{Item, Page, RenderError, Rgb};
use crate::fonts::Fonts;

/// An RGB canvas.
struct Canvas {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: u32, height: u32) -> Self {
        Self { width, height, pixels: vec![0xFF; (width * height * 3) as usize] }
    }

    fn fill(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgb) {
        let x0 = x.round().max(0.0) as u32;
        let y0 = y.round().max(0.0) as u32;
        let x1 = ((x + w).round() as u32).max(x0 + 1).min(self.width);
        let y1 = ((y + h).round() as u32).max(y0 + 1).min(self.height);
        if x0 >= x1 || y0 >= y1 {
            return;
        }
        let stride = (self.width * 3) as usize;
        let (start, len) = (((y0 * self.width + x0) * 3) as usize, ((x1 - x0) * 3) as usize);
        for px in self.pixels[start..start + len].chunks_exact_mut(3) {
            px.copy_from_slice(&color);
        }
        for yy in 1..(y1 - y0) as usize {
            self.pixels.copy_within(start..start + len, start + yy * stride);
        }
    }

    /// Blends a glyph's coverage in `ink`'s colour with its top-left corner at (`ox`, `oy`).
    fn glyph(&mut self, bm: &crate::fonts::Bitmap, ox: i32, oy: i32, ink: &Ink) {
        let (w, h) = (self.width as i32, self.height as i32);
        let x0 = ox.max(0);
        let x1 = (ox + bm.width as i32).min(w);
        let y0 = oy.max(0);
        let y1 = (oy + bm.height as i32).min(h);
        if x0 >= x1 || y0 >= y1 {
            return;
        }
        let cols = (x1 - x0) as usize;
        for y in y0..y1 {
            let src_start = ((y - oy) as u32 * bm.width + (x0 - ox) as u32) as usize;
            let src = &bm.coverage[src_start..src_start + cols];
            let dst_start = ((y as u32 * self.width + x0 as u32) * 3) as usize;
            let dst = &mut self.pixels[dst_start..dst_start + cols * 3];
            // Eight pixels at a time, skipped when none is covered.
            for (cov, px) in src.chunks(8).zip(dst.chunks_mut(24)) {
                if cov.iter().all(|&a| a == 0) {
                    continue;
                }
                for (&a, px) in cov.iter().zip(px.chunks_exact_mut(3)) {
                    if px == WHITE {
                        px.copy_from_slice(&ink.on_white[usize::from(a)]);
                    } else {
                        px.copy_from_slice(&blend(ink.color, [px[0], px[1], px[2]], a));
                    }
                }
            }
        }
    }

    fn blit(&mut self, img: &RgbImage, x: u32, y: u32) {
        let w = img.width().min(self.width.saturating_sub(x));
        for (row, src) in img.as_raw().chunks_exact((img.width() * 3) as usize).enumerate() {
            let yy = y + row as u32;
            if yy >= self.height {
                break;
            }
            let start = ((yy * self.width + x) * 3) as usize;
            self.pixels[start..start + (w * 3) as usize].copy_from_slice(&src[..(w * 3) as usize]);
        }
    }
}

const WHITE: &[u8] = &[0xFF; 3];

/// `color` over `below` with coverage `a` (0 keeps `below`, 255 gives `color` exactly).
fn blend(color: Rgb, below: Rgb, a: u8) -> Rgb {
    let a = u32::from(a);
    let mix = |c: u8, d: u8| ((u32::from(c) * a + u32::from(d) * (255 - a) + 127) / 255) as u8;
    [mix(color[0], below[0]), mix(color[1], below[1]), mix(color[2], below[2])]
}

/// A text colour with its blends over white by coverage, worked out once per colour.
struct Ink {
    color: Rgb,
    on_white: [Rgb; 256],
}

impl Ink {
    fn new(color: Rgb) -> Self {
        let mut on_white = [[0; 3]; 256];
        for (a, px) in on_white.iter_mut().enumerate() {
            *px = blend(color, [0xFF; 3], a as u8);
        }
        Self { color, on_white }
    }
}

/// Decodes a JPEG photo to RGB, scaled to `w × h` when it has another size.
pub(crate) fn decode_photo(jpeg: &[u8], w: u32, h: u32) -> Result<RgbImage, RenderError> {
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        return Err(RenderError::BadPhoto);
    }
    let img = image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)
        .map_err(|_| RenderError::BadPhoto)?;
    let rgb = img.into_rgb8();
    if rgb.width() == w && rgb.height() == h {
        Ok(rgb)
    } else {
        Ok(image::imageops::resize(&rgb, w.max(1), h.max(1), image::imageops::FilterType::Triangle))
    }
}

/// Draws the page and encodes it as a PNG (fast compression).
pub(crate) fn draw(fonts: &Fonts, page: &Page<'_>) -> Result<Vec<u8>, RenderError> {
    let mut canvas = Canvas::new(page.width.round() as u32, page.height.round() as u32);
    let mut inks: Vec<Ink> = Vec::new();
    for item in &page.items {
        match item {
            Item::Rect { x, y, w, h, color } => canvas.fill(*x, *y, *w, *h, *color),
            Item::Text(line) => {
                let base = line.baseline.round() as i32;
                let ink = match inks.iter().position(|i| i.color == line.color) {
                    Some(i) => &inks[i],
                    None => {
                        inks.push(Ink::new(line.color));
                        &inks[inks.len() - 1]
                    }
                };
                for g in &line.glyphs {
                    let Some(bm) = fonts.bitmap(g.face, ab_glyph::GlyphId(g.glyph), line.size)
                    else {
                        continue;
                    };
                    let ox = g.x.round() as i32 + bm.left;
                    let oy = base + bm.top;
                    canvas.glyph(&bm, ox, oy, ink);
                }
            }
            Item::Photo { index, x, y, w, h } => {
                let jpeg = page.photos.get(*index).ok_or(RenderError::BadPhoto)?;
                let img = decode_photo(jpeg, w.round() as u32, h.round() as u32)?;
                canvas.blit(&img, x.round() as u32, y.round() as u32);
            }
            Item::Qr { x, y, module } => {
                if let Some(qr) = &page.qr {
                    let n = qr.size();
                    for my in 0..n {
                        let mut mx = 0;
                        while mx < n {
                            if qr.get_module(mx, my) {
                                let start = mx;
                                while mx < n && qr.get_module(mx, my) {
                                    mx += 1;
                                }
                                let run = (mx - start) as f32;
                                canvas.fill(
                                    x + (start as f32 + 4.0) * module,
                                    y + (my as f32 + 4.0) * module,
                                    run * module,
                                    *module,
                                    [0, 0, 0],
                                );
                            } else {
                                mx += 1;
                            }
                        }
                    }
                }
            }
        }
    }
    encode(&canvas.pixels, canvas.width, canvas.height)
}

/// PNG filter type bytes (PNG specification, 9.2).
const FILTER_UP: u8 = 2;
const FILTER_PAETH: u8 = 4;

/// Encodes 8-bit RGB pixels as a PNG: [`filter_rows`], one `fdeflate` stream, one `IDAT`.
fn encode(pixels: &[u8], width: u32, height: u32) -> Result<Vec<u8>, RenderError> {
    let stride = width as usize * 3;
    if stride == 0 || pixels.len() != stride * height as usize {
        return Err(RenderError::PngEncoding);
    }
    let mut zlib = fdeflate::Compressor::new(Vec::with_capacity(pixels.len() / 12))
        .map_err(|_| RenderError::PngEncoding)?;
    let mut failed = false;
    filter_rows(pixels, stride, |row| failed |= zlib.write_data(row).is_err());
    let idat = zlib.finish().map_err(|_| RenderError::PngEncoding)?;
    if failed {
        return Err(RenderError::PngEncoding);
    }
    let mut out = Vec::with_capacity(idat.len() + 64);
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|_| RenderError::PngEncoding)?;
    writer.write_chunk(png::chunk::IDAT, &idat).map_err(|_| RenderError::PngEncoding)?;
    writer.finish().map_err(|_| RenderError::PngEncoding)?;
    Ok(out)
}

/// Filters 8-bit RGB rows of `stride` bytes for PNG, handing each filtered row (its filter
/// byte first) to `sink`: a row equal to the one above is all zeros under Up; any other row
/// takes Paeth, computed only between the first and the last byte that differ from the row
/// above (outside that span Paeth gives zeros: the byte, its left neighbour and the bytes
/// above them are equal).
fn filter_rows(pixels: &[u8], stride: usize, mut sink: impl FnMut(&[u8])) {
    const BPP: usize = 3;
    let mut zeros = vec![0; stride + 1];
    zeros[0] = FILTER_UP;
    let mut out = vec![0; stride + 1];
    out[0] = FILTER_PAETH;
    let blank = vec![0; stride];
    let mut prev: &[u8] = &blank;
    for row in pixels.chunks_exact(stride) {
        let Some(first) = first_difference(row, prev) else {
            sink(&zeros);
            prev = row;
            continue;
        };
        let last = stride - first_difference_from_end(row, prev);
        // A byte up to BPP after the last difference still sees a changed left neighbour.
        let end = (last + BPP).min(stride);
        let dst = &mut out[1..];
        dst[..first].fill(0);
        paeth_span(row, prev, dst, first, end);
        dst[end..].fill(0);
        sink(&out);
        prev = row;
    }
}

/// The index of the first byte where `a` and `b` (of equal length) differ.
fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    if a == b {
        return None;
    }
    let blocks = a.chunks_exact(BLOCK).zip(b.chunks_exact(BLOCK));
    let at = blocks.take_while(|(x, y)| block(x) == block(y)).count() * BLOCK;
    (at..a.len()).find(|&i| a[i] != b[i])
}

/// How many bytes at the end of `a` and `b` (of equal length, known to differ) are equal.
fn first_difference_from_end(a: &[u8], b: &[u8]) -> usize {
    let blocks = a.rchunks_exact(BLOCK).zip(b.rchunks_exact(BLOCK));
    let same = blocks.take_while(|(x, y)| block(x) == block(y)).count() * BLOCK;
    let n = a.len();
    (0..n - same).rev().find(|&i| a[i] != b[i]).map_or(n, |i| n - 1 - i)
}

/// Bytes compared at once when looking for a row's first and last difference.
const BLOCK: usize = 32;

/// A block as an array, so that comparing two is a few vector instructions, not a call.
fn block(bytes: &[u8]) -> &[u8; BLOCK] {
    bytes.try_into().expect("a whole block")
}

/// The Paeth filter (3 bytes per pixel) of `row[from..to]` given the row above, into `dst`.
fn paeth_span(row: &[u8], prev: &[u8], dst: &mut [u8], from: usize, to: usize) {
    const BPP: usize = 3;
    // The first pixel has no left neighbours (taken as 0): its predictor is the byte above.
    let lead = to.min(BPP);
    for j in from..lead {
        dst[j] = row[j].wrapping_sub(prev[j]);
    }
    let from = from.max(lead);
    if from >= to {
        return;
    }
    // Written without branches over whole slices so that the compiler vectorises it.
    let left = row[from - BPP..to - BPP].iter().zip(&prev[from - BPP..to - BPP]);
    let here = row[from..to].iter().zip(&prev[from..to]);
    for (d, ((&x, &b), (&a, &c))) in dst[from..to].iter_mut().zip(here.zip(left)) {
        *d = x.wrapping_sub(paeth(a, b, c));
    }
}

/// The Paeth predictor of a byte from its left (`a`), upper (`b`) and upper-left (`c`)
/// neighbours (PNG specification, 9.4).
#[inline(always)]
fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let (ia, ib, ic) = (i16::from(a), i16::from(b), i16::from(c));
    let pa = (ib - ic).abs();
    let pb = (ia - ic).abs();
    let pc = (ia + ib - 2 * ic).abs();
    let ab = if pb < pa { b } else { a };
    let pab = pa.min(pb);
    if pc < pab { c } else { ab }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::encode;

    /// Decodes a PNG back to 8-bit RGB with the `image` crate (an independent decoder).
    fn decode(png: &[u8]) -> (u32, u32, Vec<u8>) {
        let img = image::load_from_memory_with_format(png, image::ImageFormat::Png)
            .expect("a valid PNG")
            .to_rgb8();
        (img.width(), img.height(), img.into_raw())
    }

    #[test]
    fn white_page_with_a_box_round_trips() {
        let (w, h) = (37_u32, 20_u32);
        let mut px = vec![0xFF; (w * h * 3) as usize];
        for y in 5..9 {
            for x in 3..30 {
                let i = ((y * w + x) * 3) as usize;
                px[i..i + 3].copy_from_slice(&[0x1F, 0x4E, 0x8C]);
            }
        }
        let png = encode(&px, w, h).expect("encodes");
        assert_eq!(decode(&png), (w, h, px));
    }

    #[test]
    fn a_buffer_of_the_wrong_size_is_refused() {
        assert!(encode(&[0; 10], 2, 2).is_err());
        assert!(encode(&[], 0, 0).is_err());
    }

    proptest! {
        /// Any image round-trips exactly, above all ones made of repeated rows and runs (the
        /// shortcuts) mixed with noise (the Paeth arithmetic).
        #[test]
        fn any_image_round_trips(
            w in 1_u32..70,
            rows in prop::collection::vec((0_u8..3, any::<u8>(), any::<u64>()), 1..40),
        ) {
            let stride = (w * 3) as usize;
            let mut px: Vec<u8> = Vec::with_capacity(stride * rows.len());
            for (kind, value, seed) in &rows {
                let start = px.len();
                match kind {
                    // A copy of the row above (or a flat row for the first).
                    0 if start >= stride => px.extend_from_within(start - stride..start),
                    // The row above with a few bytes changed.
                    1 if start >= stride => {
                        px.extend_from_within(start - stride..start);
                        let mut x = *seed;
                        for _ in 0..3 {
                            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                            px[start + (x >> 33) as usize % stride] = *value;
                        }
                    }
                    // Noise.
                    _ => {
                        let mut x = *seed;
                        px.extend((0..stride).map(|_| {
                            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                            (x >> 56) as u8
                        }));
                    }
                }
            }
            let h = rows.len() as u32;
            let png = encode(&px, w, h).expect("encodes");
            prop_assert_eq!(decode(&png), (w, h, px));
        }
    }
}
