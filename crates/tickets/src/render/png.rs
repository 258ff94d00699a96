//! The PNG back end: draws a [`Page`] at one pixel per unit.

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ImageEncoder as _, RgbImage};

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
        let mut row = Vec::with_capacity(((x1 - x0) * 3) as usize);
        for _ in x0..x1 {
            row.extend_from_slice(&color);
        }
        for yy in y0..y1 {
            let start = ((yy * self.width + x0) * 3) as usize;
            self.pixels[start..start + row.len()].copy_from_slice(&row);
        }
    }

    /// Blends a glyph's coverage in `color` with its top-left corner at (`ox`, `oy`).
    fn glyph(&mut self, bm: &crate::fonts::Bitmap, ox: i32, oy: i32, color: Rgb) {
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
            for (&a, px) in src.iter().zip(dst.chunks_exact_mut(3)) {
                match a {
                    0 => {}
                    255 => px.copy_from_slice(&color),
                    a => {
                        let a = u32::from(a);
                        for (d, &c) in px.iter_mut().zip(&color) {
                            *d = ((u32::from(c) * a + u32::from(*d) * (255 - a) + 127) / 255) as u8;
                        }
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

/// Decodes a JPEG photo to RGB, scaled to `w × h` when it has another size.
pub(crate) fn decode_photo(jpeg: &[u8], w: u32, h: u32) -> Result<RgbImage, RenderError> {
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        return Err(RenderError::BadPhoto);
    }
    let img = image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)
        .map_err(|_| RenderError::BadPhoto)?;
    let rgb = img.to_rgb8();
    if rgb.width() == w && rgb.height() == h {
        Ok(rgb)
    } else {
        Ok(image::imageops::resize(&rgb, w.max(1), h.max(1), image::imageops::FilterType::Triangle))
    }
}

/// Draws the page and encodes it as a PNG (fast compression).
pub(crate) fn draw(fonts: &Fonts, page: &Page<'_>) -> Result<Vec<u8>, RenderError> {
    let mut canvas = Canvas::new(page.width.round() as u32, page.height.round() as u32);
    for item in &page.items {
        match item {
            Item::Rect { x, y, w, h, color } => canvas.fill(*x, *y, *w, *h, *color),
            Item::Text(line) => {
                let base = line.baseline.round() as i32;
                for g in &line.glyphs {
                    let Some(bm) = fonts.bitmap(g.face, ab_glyph::GlyphId(g.glyph), line.size)
                    else {
                        continue;
                    };
                    let ox = g.x.round() as i32 + bm.left;
                    let oy = base + bm.top;
                    canvas.glyph(&bm, ox, oy, line.color);
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
    let mut out = Vec::with_capacity(canvas.pixels.len() / 12);
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Paeth)
        .write_image(&canvas.pixels, canvas.width, canvas.height, image::ExtendedColorType::Rgb8)
        .map_err(|_| RenderError::PngEncoding)?;
    Ok(out)
}
