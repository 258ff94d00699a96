//! The ID photo (一寸白底免冠照): checks an upload and normalises it to a 295 × 413 JPEG.
//!
//! ```
//! use std::io::Cursor;
//!
//! use baoming_photos::{Format, Limits, PhotoError, process};
//! use image::{ImageFormat, Rgb, RgbImage};
//!
//! // A phone's 600 × 840 PNG: a white backdrop, a dark head and shoulders in the middle.
//! let portrait = RgbImage::from_fn(600, 840, |x, y| {
//!     let (dx, dy) = (x as i64 - 300, y as i64 - 330);
//!     let head = dx * dx + dy * dy < 150 * 150;
//!     let shoulders = y > 600 && (x as i64 - 300).abs() < 260;
//!     if head || shoulders { Rgb([60, 40, 30]) } else { Rgb([250, 250, 250]) }
//! });
//! let mut upload = Vec::new();
//! portrait.write_to(&mut Cursor::new(&mut upload), ImageFormat::Png)?;
//!
//! let photo = process(&upload, &Limits::default())?;
//! assert_eq!(photo.original_format, Format::Png);
//! assert!(photo.normalized_jpeg.len() < 100 * 1024);
//! let stored = image::load_from_memory_with_format(&photo.normalized_jpeg, ImageFormat::Jpeg)?;
//! assert_eq!((stored.width(), stored.height()), (295, 413));
//!
//! // The same person on a blue backdrop is refused with a message for the participant.
//! let blue = RgbImage::from_fn(600, 840, |x, y| match portrait.get_pixel(x, y) {
//!     Rgb([250, 250, 250]) => Rgb([40, 90, 200]),
//!     other => *other,
//! });
//! let mut upload = Vec::new();
//! blue.write_to(&mut Cursor::new(&mut upload), ImageFormat::Png)?;
//! let refused = process(&upload, &Limits::default()).unwrap_err();
//! assert_eq!(refused, PhotoError::BackgroundNotWhite);
//! assert_eq!(refused.code(), "photo_background_not_white");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`process`] is pure (bytes in, bytes out). It refuses, in this order:
//!
//! 1. more than [`Limits::max_upload_bytes`] bytes ([`PhotoError::TooLarge`]), before
//!    looking at the content;
//! 2. anything that is not JPEG or PNG by its magic bytes ([`PhotoError::UnsupportedFormat`]);
//! 3. a header claiming more than [`Limits::max_pixels`] pixels or a side longer than
//!    [`Limits::max_dimension`], or 16 bits per channel on more than
//!    [`Limits::max_pixels_16bit`] pixels ([`PhotoError::TooManyPixels`]), before decoding;
//! 4. below 295 × 413 pixels after EXIF orientation ([`PhotoError::TooSmall`]); never upscaled;
//! 5. a damaged file ([`PhotoError::Corrupt`]);
//! 6. an aspect ratio more than [`ASPECT_TOLERANCE_PERCENT`] % away from 5:7 that cannot be
//!    centre-cropped without cutting into the subject ([`PhotoError::WrongAspectRatio`]);
//! 7. a border that is not a bright, unsaturated backdrop ([`PhotoError::BackgroundNotWhite`]).
//!
//! It then downscales to exactly 295 × 413 and encodes a JPEG below 100 KB.
//!
//! [`storage`] holds the one impure part: where the files are kept.

#![warn(missing_docs)]

use std::io::Cursor;

use image::codecs::jpeg::{JpegDecoder, JpegEncoder};
use image::codecs::png::PngDecoder;
use image::imageops::{self, FilterType};
use image::metadata::Orientation;
use image::{DynamicImage, ExtendedColorType, ImageDecoder, ImageError, RgbImage, RgbaImage};

mod error;
mod geometry;
pub mod storage;

pub use error::PhotoError;

/// Width of the normalised photo in pixels (25 mm at 300 dpi).
pub const OUTPUT_WIDTH: u32 = 295;
/// Height of the normalised photo in pixels (35 mm at 300 dpi).
pub const OUTPUT_HEIGHT: u32 = 413;
/// The normalised JPEG is strictly smaller than this many bytes (100 KB).
pub const MAX_OUTPUT_BYTES: usize = 100 * 1024;

/// How far (in percent) the ratio width/height may be from 5:7 and still be accepted as is.
pub const ASPECT_TOLERANCE_PERCENT: u64 = 3;
/// A background pixel has every channel at least this bright …
pub const BACKGROUND_MIN_CHANNEL: u8 = 200;
/// … and at most this difference between its brightest and darkest channel (unsaturated).
pub const BACKGROUND_MAX_SPREAD: u8 = 30;
/// Thickness of the border bands sampled for the background check, in percent of the side
/// perpendicular to the band (top band: of the height; left/right bands: of the width).
pub const BORDER_BAND_PERCENT: u64 = 4;
/// Each border band (top, left, right) must be at least this percentage of background pixels.
pub const BORDER_MIN_BACKGROUND_PERCENT: u64 = 90;
/// A strip cut away to reach 5:7 must be at least this percentage of background pixels.
pub const CROP_STRIP_MIN_BACKGROUND_PERCENT: u64 = 97;
/// The bottom part of the image (in percent of its height) where shoulders are expected: it is
/// left out of the left/right border bands and of the left/right crop strips. The bottom edge is
/// never checked.
pub const SHOULDER_ZONE_PERCENT: u64 = 25;
/// First JPEG quality tried for the normalised photo.
pub const JPEG_QUALITY_START: u8 = 90;
/// Step by which the quality is lowered while the result is too big.
pub const JPEG_QUALITY_STEP: u8 = 10;
/// Lowest JPEG quality tried before giving up with [`PhotoError::CannotCompress`].
pub const JPEG_QUALITY_MIN: u8 = 30;

/// Memory the PNG decoder may use for metadata (text, ICC profile) while reading the header.
const PNG_HEADER_ALLOC: u64 = 16 * 1024 * 1024;
/// Allowance for decoder-internal buffers on top of the decoded image itself.
const DECODER_OVERHEAD_ALLOC: u64 = 64 * 1024 * 1024;
/// The most bytes per decoded pixel of an 8-bit image (RGBA).
const MAX_BYTES_PER_PIXEL_8BIT: u64 = 4;
/// The most bytes per decoded pixel of a 16-bit image (16-bit RGBA PNG).
const MAX_BYTES_PER_PIXEL_16BIT: u64 = 8;

/// Resource limits for [`process`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted upload in bytes (default 10 MiB).
    pub max_upload_bytes: usize,
    /// Most pixels (width × height) a photo may have (default 24 000 000: a phone camera's
    /// full-resolution picture, e.g. 6000 × 4000).
    pub max_pixels: u64,
    /// Most pixels of a photo with 16 bits per channel (default 12 000 000). A 16-bit PNG is
    /// decoded straight to 8 bits per channel, but its compressed stream is twice as long to
    /// inflate; cameras do not produce 16-bit PNGs, editing tools do.
    pub max_pixels_16bit: u64,
    /// Longest accepted side in pixels (default 12 000).
    pub max_dimension: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_upload_bytes: 10 * 1024 * 1024,
            max_pixels: 24_000_000,
            max_pixels_16bit: 12_000_000,
            max_dimension: 12_000,
        }
    }
}

/// The accepted file formats of an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// JPEG (`FF D8 FF`).
    Jpeg,
    /// PNG (`89 50 4E 47 0D 0A 1A 0A`).
    Png,
}

impl Format {
    /// The MIME type, e.g. `image/jpeg`.
    #[must_use]
    pub fn mime_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
        }
    }

    /// The usual file extension without the dot, e.g. `jpg`.
    #[must_use]
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
        }
    }
}

/// Detects JPEG or PNG from the magic bytes; `None` for anything else.
#[must_use]
pub fn detect_format(bytes: &[u8]) -> Option<Format> {
    const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    const JPEG_SIGNATURE: [u8; 3] = [0xFF, 0xD8, 0xFF];
    if bytes.starts_with(&PNG_SIGNATURE) {
        Some(Format::Png)
    } else if bytes.starts_with(&JPEG_SIGNATURE) {
        Some(Format::Jpeg)
    } else {
        None
    }
}

/// An accepted photo: the normalised JPEG and facts about the original.
#[derive(Clone, PartialEq, Eq)]
pub struct ProcessedPhoto {
    /// Exactly 295 × 413 pixels, JPEG, fewer than [`MAX_OUTPUT_BYTES`] bytes.
    pub normalized_jpeg: Vec<u8>,
    /// Format of the upload.
    pub original_format: Format,
    /// Width of the upload as displayed (after EXIF orientation).
    pub original_width: u32,
    /// Height of the upload as displayed (after EXIF orientation).
    pub original_height: u32,
}

impl std::fmt::Debug for ProcessedPhoto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessedPhoto")
            .field("normalized_jpeg_len", &self.normalized_jpeg.len())
            .field("original_format", &self.original_format)
            .field("original_width", &self.original_width)
            .field("original_height", &self.original_height)
            .finish()
    }
}

/// Checks an uploaded ID photo and normalises it to a 295 × 413 JPEG below 100 KB.
///
/// Never panics; the memory used is bounded by `limits`: roughly the upload plus
/// `max_pixels` × 4 bytes (an 8-bit RGBA PNG, flattened to RGB in place; a 16-bit PNG is
/// decoded to 8 bits per channel; an RGB or greyscale JPEG is decoded at the smallest of 1/8,
/// 1/4, 1/2 of its size that still covers 295 × 413, a progressive one keeping its full-size
/// coefficients meanwhile), plus a copy when the image is not RGB already or its EXIF
/// orientation turns it — [`decode_cost`] estimates it per upload.
pub fn process(bytes: &[u8], limits: &Limits) -> Result<ProcessedPhoto, PhotoError> {
    if bytes.len() > limits.max_upload_bytes {
        return Err(PhotoError::TooLarge { max_bytes: limits.max_upload_bytes });
    }
    let format = detect_format(bytes).ok_or(PhotoError::UnsupportedFormat)?;
    let Decoded { image, shown_width: original_width, shown_height: original_height } = match format
    {
        Format::Jpeg => {
            let decoder = JpegDecoder::new(Cursor::new(bytes)).map_err(header_error)?;
            decode_within_limits(
                decoder,
                limits,
                jpeg_scan_is_complete(bytes),
                Source::Jpeg(bytes),
            )?
        }
        Format::Png => {
            let mut header_limits = image::Limits::default();
            header_limits.max_alloc = Some(PNG_HEADER_ALLOC);
            let decoder =
                PngDecoder::with_limits(Cursor::new(bytes), header_limits).map_err(header_error)?;
            // The PNG decoder itself reports a truncated stream.
            decode_within_limits(decoder, limits, true, Source::Png(bytes))?
        }
    };

    let region = geometry::choose_crop(&image, (original_width, original_height))?;
    geometry::check_background(&image, region)?;

    let view = imageops::crop_imm(&image, region.x, region.y, region.width, region.height);
    let small = if region.width >= 2 * OUTPUT_WIDTH && region.height >= 2 * OUTPUT_HEIGHT {
        // Fast area-averaging pass first, then a proper filter for the last factor of two.
        let half = imageops::thumbnail(&*view, 2 * OUTPUT_WIDTH, 2 * OUTPUT_HEIGHT);
        imageops::resize(&half, OUTPUT_WIDTH, OUTPUT_HEIGHT, FilterType::CatmullRom)
    } else {
        imageops::resize(&*view, OUTPUT_WIDTH, OUTPUT_HEIGHT, FilterType::CatmullRom)
    };
    drop(image);

    let normalized_jpeg = encode_below_limit(&small)?;
    Ok(ProcessedPhoto { normalized_jpeg, original_format: format, original_width, original_height })
}

/// A failure while reading the header: damaged, or a variant we cannot read.
fn header_error(err: ImageError) -> PhotoError {
    match err {
        ImageError::Unsupported(_) => PhotoError::UnsupportedFormat,
        _ => PhotoError::Corrupt,
    }
}

/// The upload's bytes, for the decoders that read them again themselves.
#[derive(Clone, Copy)]
enum Source<'a> {
    Jpeg(&'a [u8]),
    Png(&'a [u8]),
}

/// A decoded photo, upright, and the size of the upload as displayed (which `image` is smaller
/// than when a JPEG was decoded at a reduced scale).
struct Decoded {
    image: RgbImage,
    shown_width: u32,
    shown_height: u32,
}

/// Checks the header dimensions against `limits`, then decodes, applies the EXIF orientation
/// and flattens to 8-bit RGB (transparency over white). `complete` is false for a file known
/// to be truncated, refused as [`PhotoError::Corrupt`] once the header checks pass. A 16-bit
/// PNG is decoded straight to 8 bits per channel; an RGB or greyscale JPEG at the smallest
/// scale that still covers 295 × 413 ([`jpeg_scale_denominator`]). Every check runs on the
/// full size the header gives, before any decoding.
fn decode_within_limits(
    mut decoder: impl ImageDecoder,
    limits: &Limits,
    complete: bool,
    source: Source<'_>,
) -> Result<Decoded, PhotoError> {
    let (width, height) = decoder.dimensions();
    let too_many = PhotoError::TooManyPixels { width, height };
    let pixels = u64::from(width) * u64::from(height);
    let color = decoder.color_type();
    let sixteen_bit = color.bytes_per_pixel() > color.channel_count();
    if width > limits.max_dimension
        || height > limits.max_dimension
        || pixels > limits.max_pixels
        || (sixteen_bit && pixels > limits.max_pixels_16bit)
    {
        return Err(too_many);
    }

    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let (shown_width, shown_height) = shown_size(width, height, orientation);
    if shown_width < OUTPUT_WIDTH || shown_height < OUTPUT_HEIGHT {
        return Err(PhotoError::TooSmall { width: shown_width, height: shown_height });
    }
    if !complete {
        return Err(PhotoError::Corrupt);
    }

    // Second line of defence: let the decoder enforce the same bounds.
    let max_alloc = limits
        .max_pixels
        .saturating_mul(MAX_BYTES_PER_PIXEL_8BIT)
        .max(limits.max_pixels_16bit.saturating_mul(MAX_BYTES_PER_PIXEL_16BIT))
        .saturating_add(DECODER_OVERHEAD_ALLOC);
    if decoder.total_bytes() > max_alloc {
        return Err(too_many);
    }
    let scaled = match source {
        Source::Jpeg(bytes) => decode_jpeg_scaled(bytes, orientation, max_alloc)?,
        Source::Png(_) => None,
    };
    let mut image = match (scaled, source) {
        (Some(image), _) => image,
        (None, Source::Png(bytes)) if sixteen_bit => {
            drop(decoder);
            decode_png_as_8bit(bytes, max_alloc, too_many)?
        }
        (None, _) => {
            let mut decode_limits = image::Limits::default();
            decode_limits.max_image_width = Some(limits.max_dimension);
            decode_limits.max_image_height = Some(limits.max_dimension);
            decode_limits.max_alloc = Some(max_alloc);
            decoder.set_limits(decode_limits).map_err(|err| decode_error(err, too_many.clone()))?;
            DynamicImage::from_decoder(decoder).map_err(|err| decode_error(err, too_many))?
        }
    };
    image.apply_orientation(orientation);
    Ok(Decoded { image: to_rgb_on_white(image)?, shown_width, shown_height })
}

/// Width and height as displayed: swapped when the EXIF orientation turns the image.
fn shown_size(width: u32, height: u32, orientation: Orientation) -> (u32, u32) {
    match orientation {
        Orientation::Rotate90
        | Orientation::Rotate270
        | Orientation::Rotate90FlipH
        | Orientation::Rotate270FlipH => (height, width),
        _ => (width, height),
    }
}

/// The largest of 8, 4, 2 and 1 by which a JPEG of `width` × `height` (as stored) can be
/// reduced in its decoder (the inverse DCT run at 1/8, 1/4 or 1/2 size; the decoder rounds a
/// reduced side up) and still be at least 295 × 413 once `orientation` turns it: the photo is
/// cropped to 5:7 and reduced to exactly that size anyway, and a reduced IDCT keeps each
/// 8 × 8 block's lowest frequencies (at 1/8 its average), which is all such a result can show.
#[must_use]
fn jpeg_scale_denominator(width: u32, height: u32, orientation: Orientation) -> u32 {
    let (shown_width, shown_height) = shown_size(width, height, orientation);
    [8, 4, 2]
        .into_iter()
        .find(|&d| {
            shown_width.div_ceil(d) >= OUTPUT_WIDTH && shown_height.div_ceil(d) >= OUTPUT_HEIGHT
        })
        .unwrap_or(1)
}

/// Decodes an 8-bit RGB or greyscale JPEG at the reduced scale of [`jpeg_scale_denominator`]
/// (a 3000 × 4000 phone photo at 1/8: 375 × 500); `None` for what this decoder does not do
/// (CMYK, 12-bit, arithmetic coding …), which the full-size decoder then reads as before.
fn decode_jpeg_scaled(
    bytes: &[u8],
    orientation: Orientation,
    max_alloc: u64,
) -> Result<Option<DynamicImage>, PhotoError> {
    use jpeg_decoder::{Decoder, Error, PixelFormat};
    let failed = |err: Error| match err {
        Error::Unsupported(_) => Ok(None),
        _ => Err(PhotoError::Corrupt),
    };
    let mut decoder = Decoder::new(bytes);
    // The header's size was checked already; this bounds the decoder's own output buffer too.
    decoder.set_max_decoding_buffer_size(usize::try_from(max_alloc).unwrap_or(usize::MAX));
    if let Err(err) = decoder.read_info() {
        return failed(err);
    }
    let Some(info) = decoder.info().filter(|info| decodes_scaled(info.pixel_format)) else {
        return Ok(None);
    };
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    let denominator = jpeg_scale_denominator(width, height, orientation);
    let wanted = |side: u32| u16::try_from(side.div_ceil(denominator)).unwrap_or(u16::MAX);
    let (out_width, out_height) = match decoder.scale(wanted(width), wanted(height)) {
        Ok((w, h)) => (u32::from(w), u32::from(h)),
        Err(err) => return failed(err),
    };
    let pixels = match decoder.decode() {
        Ok(pixels) => pixels,
        Err(err) => return failed(err),
    };
    let image = match info.pixel_format {
        PixelFormat::RGB24 => {
            RgbImage::from_raw(out_width, out_height, pixels).map(DynamicImage::ImageRgb8)
        }
        _ => {
            image::GrayImage::from_raw(out_width, out_height, pixels).map(DynamicImage::ImageLuma8)
        }
    };
    image.map(Some).ok_or(PhotoError::Corrupt)
}

/// A PNG decoded to 8 bits per channel row by row (the png crate strips the low byte of each
/// 16-bit sample as it reads), so a 16-bit image never has its 16-bit pixels in memory: a
/// 12-megapixel 16-bit RGBA PNG holds 48 MB instead of 96 MB plus the 48 MB 8-bit copy.
fn decode_png_as_8bit(
    bytes: &[u8],
    max_alloc: u64,
    too_many: PhotoError,
) -> Result<DynamicImage, PhotoError> {
    let limits = png::Limits { bytes: usize::try_from(max_alloc).unwrap_or(usize::MAX) };
    let mut decoder = png::Decoder::new_with_limits(Cursor::new(bytes), limits);
    decoder.set_transformations(png::Transformations::STRIP_16 | png::Transformations::EXPAND);
    let failed = |err: png::DecodingError| match err {
        png::DecodingError::LimitsExceeded => too_many.clone(),
        _ => PhotoError::Corrupt,
    };
    let mut reader = decoder.read_info().map_err(failed)?;
    let size = reader.output_buffer_size().ok_or(PhotoError::Corrupt)?;
    if size as u64 > max_alloc {
        return Err(too_many);
    }
    let mut buf = vec![0; size];
    let info = reader.next_frame(&mut buf).map_err(failed)?;
    if info.bit_depth != png::BitDepth::Eight {
        return Err(PhotoError::Corrupt);
    }
    buf.truncate(info.buffer_size());
    let (width, height) = (info.width, info.height);
    let image = match info.color_type {
        png::ColorType::Rgb => RgbImage::from_raw(width, height, buf).map(DynamicImage::ImageRgb8),
        png::ColorType::Rgba => {
            RgbaImage::from_raw(width, height, buf).map(DynamicImage::ImageRgba8)
        }
        png::ColorType::Grayscale => {
            image::GrayImage::from_raw(width, height, buf).map(DynamicImage::ImageLuma8)
        }
        png::ColorType::GrayscaleAlpha => {
            image::GrayAlphaImage::from_raw(width, height, buf).map(DynamicImage::ImageLumaA8)
        }
        // EXPAND turns a palette into RGB(A); a 16-bit palette does not exist.
        png::ColorType::Indexed => None,
    };
    image.ok_or(PhotoError::Corrupt)
}

/// Whether a JPEG's image data runs to its end-of-image marker.
///
/// The JPEG decoder is lenient and fills a truncated scan with grey, which would pass as a
/// photo with a grey bottom. This walks the marker segments (skipping e.g. an EXIF thumbnail,
/// which has its own markers) to the first start-of-scan and then requires an `FF D9` after it;
/// inside entropy-coded data `FF` is only ever followed by `00` or a restart marker, so that
/// pair can only be the end-of-image marker. Data appended after it (motion photos) is fine.
/// If the segment structure cannot be followed, the decoder is left to judge (`true`); a file
/// that ends before its first scan is incomplete.
fn jpeg_scan_is_complete(bytes: &[u8]) -> bool {
    const SOS: u8 = 0xDA;
    const EOI: u8 = 0xD9;
    let mut i: usize = 2; // after SOI
    let scan_start = loop {
        match bytes.get(i) {
            None => return false, // ended before any image data
            Some(&0xFF) => {}
            Some(_) => return true,
        }
        let Some(&marker) = bytes.get(i + 1) else {
            return false;
        };
        match marker {
            0xFF => i += 1, // fill byte
            SOS => break i,
            EOI => return false,          // end of image before any image data
            0x01 | 0xD0..=0xD7 => i += 2, // markers without a length
            _ => {
                let (Some(&hi), Some(&lo)) = (bytes.get(i + 2), bytes.get(i + 3)) else {
                    return false; // cut inside the headers
                };
                let len = usize::from(u16::from_be_bytes([hi, lo]));
                if len < 2 {
                    return true;
                }
                i += 2 + len;
            }
        }
    };
    bytes.get(scan_start..).is_some_and(|scan| scan.windows(2).any(|w| w == [0xFF, EOI]))
}

/// A failure while decoding the pixels.
fn decode_error(err: ImageError, too_many: PhotoError) -> PhotoError {
    match err {
        ImageError::Limits(_) => too_many,
        ImageError::Unsupported(_) => PhotoError::UnsupportedFormat,
        _ => PhotoError::Corrupt,
    }
}

/// 8-bit RGB; transparent pixels are composited over white.
fn to_rgb_on_white(image: DynamicImage) -> Result<RgbImage, PhotoError> {
    if image.color().has_alpha() {
        flatten_over_white(image.into_rgba8())
    } else {
        Ok(image.into_rgb8())
    }
}

/// Composites over white in the RGBA buffer itself and packs it to RGB there, so the largest
/// image never has an RGBA and an RGB copy at once (96 + 72 MB at 24 megapixels).
fn flatten_over_white(rgba: RgbaImage) -> Result<RgbImage, PhotoError> {
    let (width, height) = rgba.dimensions();
    let mut buf = rgba.into_raw();
    let pixels = buf.len() / 4;
    for i in 0..pixels {
        let a = u16::from(buf[4 * i + 3]);
        for c in 0..3 {
            let v = (u16::from(buf[4 * i + c]) * a + 255 * (255 - a) + 127) / 255;
            // The RGB pixel `i` is written at or before where RGBA pixel `i` was read.
            buf[3 * i + c] = u8::try_from(v).unwrap_or(u8::MAX);
        }
    }
    buf.truncate(3 * pixels);
    buf.shrink_to_fit();
    RgbImage::from_raw(width, height, buf).ok_or(PhotoError::Corrupt)
}

/// Fixed allowance of [`decode_cost`] for what a decode holds besides the pixels (the
/// decoder's buffers, the half-size copy, the output).
const DECODE_COST_OVERHEAD: u64 = 16 * 1024 * 1024;

/// How much memory [`process`] holds at its peak for an upload of `upload_len` bytes, judged
/// from its header in `head` (its first bytes, or all of them; an estimate erring on the high
/// side): the upload, the decoded pixels (a 16-bit PNG is decoded to 8 bits), the 8-bit RGB
/// copy made from anything that is not 8-bit RGB (8-bit RGBA is converted in place), a second
/// copy if the EXIF orientation turns it, the coefficients of a progressive JPEG, and a fixed
/// allowance. An upload that [`process`] refuses before decoding (too large, not an image,
/// over the pixel limits, a header that does not parse from the whole upload) costs only its
/// bytes and the allowance; a header not found in `head` when more bytes follow costs
/// `u64::MAX` (unknown). Callers that run several decodes at once use it to keep their sum
/// bounded.
#[must_use]
pub fn decode_cost(head: &[u8], upload_len: usize, limits: &Limits) -> u64 {
    let cheap = upload_len as u64 + DECODE_COST_OVERHEAD;
    if upload_len > limits.max_upload_bytes {
        return cheap;
    }
    let header = match detect_format(head) {
        Some(Format::Jpeg) => JpegDecoder::new(Cursor::new(head)).ok().map(|mut d| {
            let progressive = jpeg_is_progressive(head);
            let orientation = d.orientation().ok();
            let (width, height) = d.dimensions();
            let denominator = if jpeg_decodes_scaled(head) {
                jpeg_scale_denominator(
                    width,
                    height,
                    orientation.unwrap_or(Orientation::NoTransforms),
                )
            } else {
                1
            };
            ((width, height), d.color_type(), orientation, progressive, denominator)
        }),
        Some(Format::Png) => {
            let mut header_limits = image::Limits::default();
            header_limits.max_alloc = Some(PNG_HEADER_ALLOC);
            PngDecoder::with_limits(Cursor::new(head), header_limits)
                .ok()
                .map(|mut d| (d.dimensions(), d.color_type(), d.orientation().ok(), false, 1))
        }
        None => return cheap,
    };
    let Some(((width, height), color, orientation, progressive, denominator)) = header else {
        // Not readable from these bytes: refused if they are the whole upload, else unknown.
        return if head.len() >= upload_len { cheap } else { u64::MAX };
    };
    let pixels = u64::from(width) * u64::from(height);
    let sixteen_bit = color.bytes_per_pixel() > color.channel_count();
    if width > limits.max_dimension
        || height > limits.max_dimension
        || pixels > limits.max_pixels
        || (sixteen_bit && pixels > limits.max_pixels_16bit)
    {
        return cheap;
    }
    // A 16-bit PNG is decoded straight to 8 bits per channel.
    let png_16 = sixteen_bit && detect_format(head) == Some(Format::Png);
    let decoded =
        if png_16 { u64::from(color.channel_count()) } else { u64::from(color.bytes_per_pixel()) };
    let converted = match color {
        image::ColorType::Rgb8 | image::ColorType::Rgba8 => 0,
        image::ColorType::Rgb16 | image::ColorType::Rgba16 if png_16 => 0,
        _ if color.has_alpha() => 4,
        _ => 3,
    };
    let turned = match orientation {
        None | Some(Orientation::NoTransforms) => 0,
        Some(_) => decoded,
    };
    // A progressive JPEG keeps every coefficient (2 bytes per sample) until the last scan,
    // at full size even when the pixels are decoded at a reduced scale.
    let coefficients = if progressive { 2 * u64::from(color.channel_count()) } else { 0 };
    let decoded_pixels = u64::from(width.div_ceil(denominator) * height.div_ceil(denominator));
    cheap + decoded_pixels * (decoded + converted + turned) + pixels * coefficients
}

/// Whether [`process`] decodes this JPEG at a reduced scale: its header (in `head`) parses and
/// its pixels are 8-bit RGB or greyscale.
fn jpeg_decodes_scaled(head: &[u8]) -> bool {
    let mut decoder = jpeg_decoder::Decoder::new(head);
    decoder.read_info().is_ok()
        && decoder.info().is_some_and(|info| decodes_scaled(info.pixel_format))
}

/// The JPEG pixels the reduced-scale decoder reads: 8-bit RGB and greyscale (CMYK and 16-bit go
/// to the full-size decoder).
fn decodes_scaled(format: jpeg_decoder::PixelFormat) -> bool {
    matches!(format, jpeg_decoder::PixelFormat::RGB24 | jpeg_decoder::PixelFormat::L8)
}

/// Whether a JPEG's frame is progressive (an SOF2 marker before the first scan).
fn jpeg_is_progressive(bytes: &[u8]) -> bool {
    let mut i: usize = 2;
    loop {
        let (Some(&0xFF), Some(&marker)) = (bytes.get(i), bytes.get(i + 1)) else {
            return false;
        };
        match marker {
            0xC2 | 0xC6 | 0xCA | 0xCE => return true,
            0xC0 | 0xC1 | 0xC3 | 0xC5 | 0xC7 | 0xC9 | 0xCB | 0xCD | 0xCF | 0xDA | 0xD9 => {
                return false;
            }
            0xFF => i += 1,
            0x01 | 0xD0..=0xD7 => i += 2,
            _ => {
                let (Some(&hi), Some(&lo)) = (bytes.get(i + 2), bytes.get(i + 3)) else {
                    return false;
                };
                let len = usize::from(u16::from_be_bytes([hi, lo]));
                if len < 2 {
                    return false;
                }
                i += 2 + len;
            }
        }
    }
}

/// Encodes at [`JPEG_QUALITY_START`], lowering by [`JPEG_QUALITY_STEP`] down to
/// [`JPEG_QUALITY_MIN`] until the result is below [`MAX_OUTPUT_BYTES`].
fn encode_below_limit(img: &RgbImage) -> Result<Vec<u8>, PhotoError> {
    let mut quality = JPEG_QUALITY_START;
    loop {
        let mut out = Vec::with_capacity(MAX_OUTPUT_BYTES);
        JpegEncoder::new_with_quality(&mut out, quality)
            .encode(img.as_raw(), img.width(), img.height(), ExtendedColorType::Rgb8)
            .map_err(|_| PhotoError::CannotCompress)?;
        if out.len() < MAX_OUTPUT_BYTES {
            return Ok(out);
        }
        if quality <= JPEG_QUALITY_MIN {
            return Err(PhotoError::CannotCompress);
        }
        quality = quality.saturating_sub(JPEG_QUALITY_STEP).max(JPEG_QUALITY_MIN);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let l = Limits::default();
        assert_eq!(l.max_upload_bytes, 10 * 1024 * 1024);
        assert_eq!(l.max_pixels, 24_000_000);
        assert_eq!(l.max_pixels_16bit, 12_000_000);
        // A 16-bit image at its bound decodes to no more than an 8-bit one at its bound.
        assert!(
            l.max_pixels_16bit * MAX_BYTES_PER_PIXEL_16BIT
                <= l.max_pixels * MAX_BYTES_PER_PIXEL_8BIT
        );
        assert_eq!(l.max_dimension, 12_000);
    }

    #[test]
    fn magic_bytes() {
        assert_eq!(detect_format(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(Format::Jpeg));
        assert_eq!(detect_format(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some(Format::Png));
        assert_eq!(detect_format(b"GIF89a"), None);
        assert_eq!(detect_format(b""), None);
        assert_eq!(detect_format(&[0xFF, 0xD8]), None);
        assert_eq!(Format::Jpeg.mime_type(), "image/jpeg");
        assert_eq!(Format::Png.extension(), "png");
    }

    #[test]
    fn jpeg_completeness() {
        let mut img = Vec::new();
        let encoded = JpegEncoder::new_with_quality(&mut img, 80).encode(
            &[255; 16 * 16 * 3],
            16,
            16,
            ExtendedColorType::Rgb8,
        );
        assert!(encoded.is_ok());
        assert!(jpeg_scan_is_complete(&img));
        let mut with_tail = img.clone();
        with_tail.extend_from_slice(b"ftypmp42 appended video");
        assert!(jpeg_scan_is_complete(&with_tail));
        assert!(!jpeg_scan_is_complete(&img[..img.len() - 2]));
        assert!(!jpeg_scan_is_complete(&img[..img.len() - 5]));
        // Headers only, and headers cut in the middle of a length field.
        let sos = img.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap_or(0);
        assert!(sos > 0);
        assert!(!jpeg_scan_is_complete(&img[..sos]));
        assert!(!jpeg_scan_is_complete(&img[..7]));
        // A segment running past the end is truncated; garbage after SOI is left to the decoder.
        assert!(!jpeg_scan_is_complete(&[0xFF, 0xD8, 0xFF, 0x00, 1, 2, 3]));
        assert!(jpeg_scan_is_complete(&[0xFF, 0xD8, 0x12]));
        assert!(!jpeg_scan_is_complete(&[0xFF, 0xD8, 0xFF, 0xD9]));
    }

    #[test]
    fn transparency_becomes_white() {
        let mut rgba = RgbaImage::from_pixel(2, 1, image::Rgba([0, 0, 0, 0]));
        rgba.put_pixel(1, 0, image::Rgba([10, 20, 30, 255]));
        let rgb = flatten_over_white(rgba).expect("flattened");
        assert_eq!(rgb.dimensions(), (2, 1));
        assert_eq!(rgb.get_pixel(0, 0).0, [255, 255, 255]);
        assert_eq!(rgb.get_pixel(1, 0).0, [10, 20, 30]);
        assert_eq!(rgb.as_raw().len(), 6);
    }

    #[test]
    fn half_transparency_blends_in_place() {
        let mut rgba = RgbaImage::from_pixel(3, 2, image::Rgba([10, 20, 30, 255]));
        rgba.put_pixel(2, 1, image::Rgba([100, 0, 200, 128]));
        let rgb = flatten_over_white(rgba).expect("flattened");
        assert_eq!(rgb.dimensions(), (3, 2));
        assert_eq!(rgb.get_pixel(0, 0).0, [10, 20, 30]);
        assert_eq!(rgb.get_pixel(1, 1).0, [10, 20, 30]);
        // 100·128/255 + 255·127/255 rounded, and so on.
        assert_eq!(rgb.get_pixel(2, 1).0, [177, 127, 227]);
    }

    #[test]
    fn decode_cost_follows_the_header() {
        let limits = Limits::default();
        let png = |img: DynamicImage| {
            let mut out = Vec::new();
            img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png).expect("png");
            out
        };
        let rgb = png(DynamicImage::ImageRgb8(RgbImage::new(600, 840)));
        let rgba = png(DynamicImage::ImageRgba8(RgbaImage::new(600, 840)));
        let rgba16 = png(DynamicImage::ImageRgba16(image::ImageBuffer::new(600, 840)));
        let px = 600 * 840;
        let base = |bytes: &[u8]| bytes.len() as u64 + DECODE_COST_OVERHEAD;
        assert_eq!(decode_cost(&rgb, rgb.len(), &limits), base(&rgb) + px * 3);
        // RGBA is flattened in place; a 16-bit PNG is decoded to 8 bits per channel.
        assert_eq!(decode_cost(&rgba, rgba.len(), &limits), base(&rgba) + px * 4);
        assert_eq!(decode_cost(&rgba16, rgba16.len(), &limits), base(&rgba16) + px * 4);
        // What is refused before decoding costs only its bytes.
        let tight = Limits { max_pixels: 1000, ..limits };
        assert_eq!(decode_cost(&rgb, rgb.len(), &tight), base(&rgb));
        assert_eq!(decode_cost(b"GIF89a", 6, &limits), base(b"GIF89a"));
        let mut jpeg = Vec::new();
        JpegEncoder::new_with_quality(&mut jpeg, 80)
            .encode(&[255; 16 * 16 * 3], 16, 16, ExtendedColorType::Rgb8)
            .expect("jpeg");
        assert!(!jpeg_is_progressive(&jpeg));
        assert_eq!(decode_cost(&jpeg, jpeg.len(), &limits), base(&jpeg) + 16 * 16 * 3);
        // SOF2 instead of SOF0: the coefficients of every scan are kept.
        let mut progressive = jpeg.clone();
        let sof = progressive.windows(2).position(|w| w == [0xFF, 0xC0]).expect("SOF0");
        progressive[sof + 1] = 0xC2;
        assert!(jpeg_is_progressive(&progressive));
        // Only the first bytes of a longer upload: the header is read from them; cut before
        // it, the cost is unknown.
        assert_eq!(decode_cost(&rgb[..100], rgb.len() + 1000, &limits), base(&rgb) + 1000 + px * 3);
        assert_eq!(decode_cost(&jpeg[..4], jpeg.len(), &limits), u64::MAX);
        assert_eq!(decode_cost(&jpeg[..4], 4, &limits), base(&jpeg[..4]));

        // A phone photo's header (3000 × 4000, patched into the SOF0 of the small one): its
        // pixels are decoded at 1/8, 375 × 500; a progressive one keeps its full-size
        // coefficients.
        let mut phone = jpeg.clone();
        phone[sof + 5..sof + 9].copy_from_slice(&[0x0F, 0xA0, 0x0B, 0xB8]);
        assert_eq!(decode_cost(&phone, phone.len(), &limits), base(&phone) + 375 * 500 * 3);
        phone[sof + 1] = 0xC2;
        assert_eq!(
            decode_cost(&phone, phone.len(), &limits),
            base(&phone) + 375 * 500 * 3 + 3000 * 4000 * 2 * 3
        );
    }

    #[test]
    fn jpegs_are_decoded_at_the_smallest_scale_that_covers_the_output() {
        let upright = Orientation::NoTransforms;
        // A 12 MP phone photo: 375 × 500 at 1/8.
        assert_eq!(jpeg_scale_denominator(3000, 4000, upright), 8);
        // Exactly 8 × the output; 1/8 of a side rounds up, so 8 pixels less is the first to miss.
        assert_eq!(jpeg_scale_denominator(2360, 3304, upright), 8);
        assert_eq!(jpeg_scale_denominator(2352, 3304, upright), 4);
        assert_eq!(jpeg_scale_denominator(2353, 3297, upright), 8);
        assert_eq!(jpeg_scale_denominator(2353, 3296, upright), 4);
        assert_eq!(jpeg_scale_denominator(600, 840, upright), 2);
        assert_eq!(jpeg_scale_denominator(588, 840, upright), 1);
        assert_eq!(jpeg_scale_denominator(295, 413, upright), 1);
        // Stored sideways: judged as displayed.
        assert_eq!(jpeg_scale_denominator(4000, 3000, upright), 4);
        assert_eq!(jpeg_scale_denominator(4000, 3000, Orientation::Rotate90), 8);
    }

    #[test]
    fn encoding_noise_stays_below_limit() {
        // Worst case for JPEG: per-pixel noise.
        let mut seed: u32 = 0x1234_5678;
        let img = RgbImage::from_fn(OUTPUT_WIDTH, OUTPUT_HEIGHT, |_, _| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let [a, b, c, _] = seed.to_le_bytes();
            image::Rgb([a, b, c])
        });
        let out = encode_below_limit(&img);
        assert!(matches!(&out, Ok(bytes) if bytes.len() < MAX_OUTPUT_BYTES));
    }

    #[test]
    fn debug_does_not_dump_bytes() {
        let p = ProcessedPhoto {
            normalized_jpeg: vec![0; 1000],
            original_format: Format::Png,
            original_width: 1,
            original_height: 2,
        };
        let s = format!("{p:?}");
        assert!(s.contains("normalized_jpeg_len: 1000"));
        assert!(s.len() < 200);
    }
}
