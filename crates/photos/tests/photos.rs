//! End-to-end tests of the ID photo pipeline and the file storage. Every image is generated
//! here; no binary fixtures.

use std::sync::Arc;
use std::time::Instant;

use baoming_photos::storage::{FsStorage, PhotoStorage, StorageError};
use baoming_photos::{
    Format, Limits, MAX_OUTPUT_BYTES, OUTPUT_HEIGHT, OUTPUT_WIDTH, PhotoError, ProcessedPhoto,
    process,
};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{
    DynamicImage, ExtendedColorType, ImageEncoder, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Image generation

const WHITE: Rgb<u8> = Rgb([250, 250, 248]);
const BLUE: Rgb<u8> = Rgb([67, 142, 219]);
const SKIN: Rgb<u8> = Rgb([224, 172, 140]);
const SHIRT: Rgb<u8> = Rgb([30, 35, 50]);

/// Small deterministic per-pixel noise in -4..=4, like a camera sensor.
fn noise(x: u32, y: u32) -> i16 {
    let mut h = x.wrapping_mul(0x9E37_79B9) ^ y.wrapping_mul(0x85EB_CA6B);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2C1B_3C6D);
    h ^= h >> 12;
    i16::try_from(h % 9).unwrap_or(0) - 4
}

fn jitter(c: Rgb<u8>, x: u32, y: u32) -> Rgb<u8> {
    let n = noise(x, y);
    let f = |v: u8| u8::try_from((i16::from(v) + n).clamp(0, 255)).unwrap_or(0);
    Rgb([f(c[0]), f(c[1]), f(c[2])])
}

fn inside(x: u32, y: u32, cx: f64, cy: f64, rx: f64, ry: f64) -> bool {
    let dx = (f64::from(x) - cx) / rx;
    let dy = (f64::from(y) - cy) / ry;
    dx * dx + dy * dy <= 1.0
}

/// A head-and-shoulders "portrait" on `background`: a skin-coloured head ellipse in the centre
/// and dark shoulders rising from the bottom edge.
fn portrait(width: u32, height: u32, background: Rgb<u8>) -> RgbImage {
    let (w, h) = (f64::from(width), f64::from(height));
    RgbImage::from_fn(width, height, |x, y| {
        let c = if inside(x, y, w * 0.5, h * 0.42, w * 0.15, h * 0.15) {
            SKIN
        } else if inside(x, y, w * 0.5, h * 1.0, w * 0.43, h * 0.32) {
            SHIRT
        } else {
            background
        };
        jitter(c, x, y)
    })
}

fn jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    let encoded = JpegEncoder::new_with_quality(&mut out, quality).encode(
        img.as_raw(),
        img.width(),
        img.height(),
        ExtendedColorType::Rgb8,
    );
    assert!(encoded.is_ok(), "test JPEG encoding failed");
    out
}

fn png_rgb(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    let encoded = PngEncoder::new(&mut out).write_image(
        img.as_raw(),
        img.width(),
        img.height(),
        ExtendedColorType::Rgb8,
    );
    assert!(encoded.is_ok(), "test PNG encoding failed");
    out
}

fn png_rgba(img: &RgbaImage) -> Vec<u8> {
    let mut out = Vec::new();
    let encoded = PngEncoder::new(&mut out).write_image(
        img.as_raw(),
        img.width(),
        img.height(),
        ExtendedColorType::Rgba8,
    );
    assert!(encoded.is_ok(), "test PNG encoding failed");
    out
}

fn decode(bytes: &[u8]) -> RgbImage {
    let img = image::load_from_memory_with_format(bytes, ImageFormat::Jpeg);
    assert!(img.is_ok(), "output does not decode: {:?}", img.err());
    img.unwrap_or_else(|_| DynamicImage::new_rgb8(1, 1)).into_rgb8()
}

fn accepted(result: Result<ProcessedPhoto, PhotoError>) -> ProcessedPhoto {
    match result {
        Ok(p) => p,
        Err(e) => panic!("refused: {e:?} ({e})"),
    }
}

/// Checks the normalised output: exact size, < 100 KB, white top, subject at the bottom centre.
fn assert_normalized(photo: &ProcessedPhoto) {
    assert!(photo.normalized_jpeg.len() < MAX_OUTPUT_BYTES);
    assert!(photo.normalized_jpeg.starts_with(&[0xFF, 0xD8, 0xFF]));
    let out = decode(&photo.normalized_jpeg);
    assert_eq!(out.dimensions(), (OUTPUT_WIDTH, OUTPUT_HEIGHT));
    let top = out.get_pixel(OUTPUT_WIDTH / 2, 5).0;
    assert!(top.iter().all(|&c| c > 230), "top is not white: {top:?}");
    let bottom = out.get_pixel(OUTPUT_WIDTH / 2, OUTPUT_HEIGHT - 5).0;
    assert!(bottom.iter().all(|&c| c < 90), "bottom is not dark: {bottom:?}");
}

/// A PNG chunk: length, type, data, CRC-32 over type and data.
fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&u32::try_from(data.len()).unwrap_or(0).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc_input = kind.to_vec();
    crc_input.extend_from_slice(data);
    out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    out
}

/// CRC-32 (IEEE, reflected), bit by bit.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A hand-built PNG whose IHDR claims `width` × `height` 8-bit RGB, with a tiny IDAT.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // depth 8, RGB, deflate, filter 0, no interlace
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(png_chunk(b"IHDR", &ihdr));
    // zlib stream of a single empty stored block.
    out.extend(png_chunk(
        b"IDAT",
        &[0x78, 0x01, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01],
    ));
    out.extend(png_chunk(b"IEND", &[]));
    out
}

/// Rewrites the dimensions in the SOF0 segment of a baseline JPEG.
fn jpeg_claiming(width: u16, height: u16) -> Vec<u8> {
    let mut bytes = jpeg(&RgbImage::from_pixel(16, 16, WHITE), 80);
    let sof = bytes.windows(2).position(|w| w == [0xFF, 0xC0]);
    assert!(sof.is_some(), "no SOF0 marker");
    let at = sof.unwrap_or(0);
    // FF C0, length (2), precision (1), height (2), width (2)
    bytes[at + 5..at + 7].copy_from_slice(&height.to_be_bytes());
    bytes[at + 7..at + 9].copy_from_slice(&width.to_be_bytes());
    bytes
}

/// Inserts an EXIF APP1 segment with the given orientation tag right after SOI.
fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"MM\x00\x2A");
    tiff.extend_from_slice(&8u32.to_be_bytes()); // IFD0 offset
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes()); // count
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]); // padding of the value field
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend(tiff);
    let len = u16::try_from(payload.len() + 2).unwrap_or(0);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend(payload);
    out.extend_from_slice(&jpeg[2..]);
    out
}

// ---------------------------------------------------------------------------------------------
// The pipeline

#[test]
fn phone_photo_3000x4000_jpeg_is_cropped_and_normalized() {
    let bytes = jpeg(&portrait(3000, 4000, WHITE), 85);
    assert!(bytes.len() < Limits::default().max_upload_bytes);
    let photo = accepted(process(&bytes, &Limits::default()));
    assert_eq!(photo.original_format, Format::Jpeg);
    assert_eq!((photo.original_width, photo.original_height), (3000, 4000));
    assert_normalized(&photo);
}

#[test]
fn exact_size_png_is_accepted() {
    let bytes = png_rgb(&portrait(295, 413, WHITE));
    let photo = accepted(process(&bytes, &Limits::default()));
    assert_eq!(photo.original_format, Format::Png);
    assert_eq!((photo.original_width, photo.original_height), (295, 413));
    assert_normalized(&photo);
}

#[test]
fn tall_photo_is_centre_cropped_when_the_top_is_background() {
    // 9:16, the subject is in the lower part.
    let bytes = jpeg(&portrait(720, 1280, WHITE), 90);
    let photo = accepted(process(&bytes, &Limits::default()));
    assert_eq!((photo.original_width, photo.original_height), (720, 1280));
    assert_normalized(&photo);
}

#[test]
fn transparent_png_background_counts_as_white() {
    let person = portrait(590, 826, WHITE);
    let rgba = RgbaImage::from_fn(590, 826, |x, y| {
        let p = person.get_pixel(x, y).0;
        if p.iter().all(|&c| c > 240) { Rgba([0, 0, 0, 0]) } else { Rgba([p[0], p[1], p[2], 255]) }
    });
    let photo = accepted(process(&png_rgba(&rgba), &Limits::default()));
    assert_normalized(&photo);
}

#[test]
fn grayscale_jpeg_is_accepted() {
    let gray = DynamicImage::ImageRgb8(portrait(600, 840, WHITE)).into_luma8();
    let mut bytes = Vec::new();
    let encoded = JpegEncoder::new_with_quality(&mut bytes, 90).encode(
        gray.as_raw(),
        600,
        840,
        ExtendedColorType::L8,
    );
    assert!(encoded.is_ok());
    let photo = accepted(process(&bytes, &Limits::default()));
    assert_eq!(decode(&photo.normalized_jpeg).dimensions(), (295, 413));
}

#[test]
fn exif_rotated_phone_photo_stays_upright() {
    // The camera stored the pixels sideways (rotated 90° counter-clockwise) and says in EXIF
    // "rotate 90° clockwise to display" (orientation 6).
    let upright = portrait(600, 840, WHITE);
    let stored = image::imageops::rotate270(&upright);
    assert_eq!(stored.dimensions(), (840, 600));
    let bytes = with_exif_orientation(&jpeg(&stored, 90), 6);
    let photo = accepted(process(&bytes, &Limits::default()));
    assert_eq!((photo.original_width, photo.original_height), (600, 840));
    assert_normalized(&photo);

    // Without the EXIF tag the same pixels are a landscape photo with the subject at the edge.
    let plain = process(&jpeg(&stored, 90), &Limits::default());
    assert!(
        matches!(plain, Err(PhotoError::WrongAspectRatio { width: 840, height: 600 })),
        "{plain:?}"
    );
}

#[test]
fn too_small_is_refused_and_never_upscaled() {
    let result = process(&jpeg(&portrait(200, 300, WHITE), 90), &Limits::default());
    assert_eq!(result, Err(PhotoError::TooSmall { width: 200, height: 300 }));
    // One pixel short in one direction.
    let result = process(&png_rgb(&portrait(295, 412, WHITE)), &Limits::default());
    assert!(matches!(result, Err(PhotoError::TooSmall { .. })));
}

#[test]
fn square_photo_with_subject_touching_the_sides_is_refused() {
    let img = RgbImage::from_fn(1000, 1000, |x, y| {
        if inside(x, y, 500.0, 520.0, 500.0, 420.0) { SHIRT } else { jitter(WHITE, x, y) }
    });
    let result = process(&jpeg(&img, 90), &Limits::default());
    assert_eq!(result, Err(PhotoError::WrongAspectRatio { width: 1000, height: 1000 }));
}

#[test]
fn square_photo_with_room_on_the_sides_is_cropped() {
    let img = RgbImage::from_fn(1000, 1000, |x, y| {
        let c = if inside(x, y, 500.0, 400.0, 130.0, 170.0) {
            SKIN
        } else if inside(x, y, 500.0, 1000.0, 300.0, 330.0) {
            SHIRT
        } else {
            WHITE
        };
        jitter(c, x, y)
    });
    let photo = accepted(process(&jpeg(&img, 90), &Limits::default()));
    assert_normalized(&photo);
}

#[test]
fn blue_background_is_refused() {
    let result = process(&jpeg(&portrait(500, 700, BLUE), 90), &Limits::default());
    assert_eq!(result, Err(PhotoError::BackgroundNotWhite));
    let result = process(&png_rgb(&portrait(295, 413, BLUE)), &Limits::default());
    assert_eq!(result, Err(PhotoError::BackgroundNotWhite));
}

#[test]
fn grey_background_is_refused() {
    let grey = Rgb([150, 150, 150]);
    let result = process(&jpeg(&portrait(500, 700, grey), 90), &Limits::default());
    assert_eq!(result, Err(PhotoError::BackgroundNotWhite));
}

/// A phone-sized JPEG is decoded at a reduced scale (here 1/4); each refusal stays the same,
/// and names the upload's own size.
#[test]
fn reduced_scale_decoding_keeps_every_verdict() {
    let limits = Limits::default();
    let photo = accepted(process(&jpeg(&portrait(1200, 1680, WHITE), 90), &limits));
    assert_eq!((photo.original_width, photo.original_height), (1200, 1680));
    assert_normalized(&photo);
    for backdrop in [BLUE, Rgb([150, 150, 150])] {
        let result = process(&jpeg(&portrait(1200, 1680, backdrop), 90), &limits);
        assert_eq!(result, Err(PhotoError::BackgroundNotWhite));
    }
    let square = RgbImage::from_fn(1400, 1400, |x, y| {
        if inside(x, y, 700.0, 728.0, 700.0, 588.0) { SHIRT } else { jitter(WHITE, x, y) }
    });
    let result = process(&jpeg(&square, 90), &limits);
    assert_eq!(result, Err(PhotoError::WrongAspectRatio { width: 1400, height: 1400 }));
}

#[test]
fn not_an_image_is_unsupported() {
    let limits = Limits::default();
    let text = "姓名,身份证号\n张三,110101199003071234\n".as_bytes();
    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
    let mut random = Vec::new();
    let mut seed = 0xDEAD_BEEFu32;
    for _ in 0..4096 {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        random.push(seed.to_le_bytes()[0]);
    }
    random[0] = 0x00;
    for bytes in [&b""[..], text, gif, &random, b"BM\x00\x00", b"RIFF\0\0\0\0WEBPVP8 "] {
        assert_eq!(process(bytes, &limits), Err(PhotoError::UnsupportedFormat));
    }
}

#[test]
fn truncated_jpeg_gives_a_clear_error() {
    let full = jpeg(&portrait(600, 840, WHITE), 90);
    for keep in [3, 20, 200, full.len() / 3, full.len() / 2, full.len() - 10] {
        let result = process(&full[..keep], &Limits::default());
        assert_eq!(result, Err(PhotoError::Corrupt), "keep {keep}");
    }
    // Headers only, no scan data at all: corrupt.
    let sos = full.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap_or(0);
    assert!(sos > 0);
    assert_eq!(process(&full[..sos], &Limits::default()), Err(PhotoError::Corrupt));
}

#[test]
fn truncated_png_is_corrupt() {
    let full = png_rgb(&portrait(295, 413, WHITE));
    for keep in [8, 20, 33, 60, full.len() / 2, full.len() - 13] {
        let result = process(&full[..keep], &Limits::default());
        assert_eq!(result, Err(PhotoError::Corrupt), "keep {keep}");
    }
}

#[test]
fn twenty_megabytes_is_too_large() {
    let bytes = vec![0xFFu8; 20 * 1024 * 1024];
    let result = process(&bytes, &Limits::default());
    assert_eq!(result, Err(PhotoError::TooLarge { max_bytes: 10 * 1024 * 1024 }));
    if let Err(e) = result {
        assert_eq!(e.code(), "photo_too_large");
        assert!(e.to_string().contains("10 MB"));
    }
}

#[test]
fn png_claiming_30000x30000_is_refused_before_decoding() {
    let bomb = png_claiming(30_000, 30_000);
    assert!(bomb.len() < 1024, "bomb is {} bytes", bomb.len());
    let started = Instant::now();
    let result = process(&bomb, &Limits::default());
    // Informational only; no assertion on wall-clock time.
    eprintln!("30000x30000 PNG refused in {:?}", started.elapsed());
    assert_eq!(result, Err(PhotoError::TooManyPixels { width: 30_000, height: 30_000 }));
    // Both sides within max_dimension but too many pixels in total.
    assert_eq!(
        process(&png_claiming(10_000, 5_000), &Limits::default()),
        Err(PhotoError::TooManyPixels { width: 10_000, height: 5_000 })
    );
    // Plausible size but an empty IDAT: corrupt, not a crash.
    assert_eq!(process(&png_claiming(600, 840), &Limits::default()), Err(PhotoError::Corrupt));
}

/// A zlib stream inflating to `len` zero bytes, built by hand: one fixed-Huffman deflate block
/// of a literal zero followed by back-references of 258 bytes at distance 1 (13 bits each), so
/// hundreds of megabytes compress to about a megabyte — the shape of a decompression bomb.
fn zlib_zeros(len: u64) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u32,
        used: u32,
    }
    impl Bits {
        fn bit(&mut self, b: u32) {
            self.acc |= (b & 1) << self.used;
            self.used += 1;
            if self.used == 8 {
                self.out.push(u8::try_from(self.acc).unwrap_or(0));
                self.acc = 0;
                self.used = 0;
            }
        }
        /// A Huffman code, most significant bit first.
        fn code(&mut self, code: u32, len: u32) {
            for i in (0..len).rev() {
                self.bit(code >> i);
            }
        }
    }
    let mut bits = Bits { out: vec![0x78, 0x01], acc: 0, used: 0 };
    bits.bit(1); // BFINAL
    bits.bit(1); // BTYPE = 01 (fixed Huffman), least significant bit first
    bits.bit(0);
    let literal_zero = |bits: &mut Bits| bits.code(0x30, 8);
    if len > 0 {
        literal_zero(&mut bits);
        for _ in 0..(len - 1) / 258 {
            bits.code(0xC5, 8); // length symbol 285: 258 bytes
            bits.code(0, 5); // distance code 0: distance 1
        }
        for _ in 0..(len - 1) % 258 {
            literal_zero(&mut bits);
        }
    }
    bits.code(0, 7); // end of block (256)
    if bits.used > 0 {
        bits.out.push(u8::try_from(bits.acc).unwrap_or(0));
    }
    // Adler-32 of `len` zeros: a = 1, b = len mod 65521.
    let adler = ((len % 65_521) << 16) | 1;
    bits.out.extend_from_slice(&u32::try_from(adler).unwrap_or(0).to_be_bytes());
    bits.out
}

/// A valid, all-black 16-bit RGB PNG of `width` × `height`, compressed like a bomb.
fn png_16bit_black(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[16, 2, 0, 0, 0]); // depth 16, RGB, deflate, filter 0, no interlace
    let raw = u64::from(height) * (1 + u64::from(width) * 6); // a filter byte per row
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(png_chunk(b"IHDR", &ihdr));
    out.extend(png_chunk(b"IDAT", &zlib_zeros(raw)));
    out.extend(png_chunk(b"IEND", &[]));
    out
}

#[test]
fn the_bomb_generator_makes_valid_pngs() {
    let small = png_16bit_black(600, 840);
    let decoded = image::load_from_memory_with_format(&small, ImageFormat::Png);
    assert!(
        matches!(&decoded, Ok(img) if img.width() == 600 && img.height() == 840
            && img.color() == image::ColorType::Rgb16
            && img.to_rgb8().pixels().all(|p| p.0 == [0, 0, 0])),
        "{decoded:?}"
    );
    // Small enough to be decoded: judged on its content (a black picture).
    assert_eq!(process(&small, &Limits::default()), Err(PhotoError::BackgroundNotWhite));
}

#[test]
fn a_40_megapixel_16_bit_png_under_10_mib_is_refused_before_decoding() {
    // 8000 × 5000 × 6 bytes: 240 MB of pixels (about 0.5 GB with the 8-bit copy) in 1.5 MB.
    let bomb = png_16bit_black(8_000, 5_000);
    assert!(bomb.len() < Limits::default().max_upload_bytes, "bomb is {} bytes", bomb.len());
    assert_eq!(
        process(&bomb, &Limits::default()),
        Err(PhotoError::TooManyPixels { width: 8_000, height: 5_000 })
    );
    // The same header over a damaged stream gets the same answer, not `Corrupt`: the refusal
    // comes from the header alone.
    let mut damaged = bomb.clone();
    let idat = damaged.windows(4).position(|w| w == b"IDAT").unwrap_or(0);
    damaged.truncate(idat + 4 + 1000);
    assert_eq!(
        process(&damaged, &Limits::default()),
        Err(PhotoError::TooManyPixels { width: 8_000, height: 5_000 })
    );
}

#[test]
fn sixteen_bit_pngs_have_a_smaller_pixel_limit() {
    let limits = Limits::default();
    // 16 MP: within the 8-bit limit, above the 16-bit one.
    assert!(4_000 * 4_000 > limits.max_pixels_16bit && 4_000 * 4_000 <= limits.max_pixels);
    let mut sixteen = png_16bit_black(4_000, 4_000);
    let idat = sixteen.windows(4).position(|w| w == b"IDAT").unwrap_or(0);
    sixteen.truncate(idat + 4 + 100);
    assert_eq!(
        process(&sixteen, &limits),
        Err(PhotoError::TooManyPixels { width: 4_000, height: 4_000 })
    );
    // The same size in 8 bits passes the header check (and is then found empty).
    assert_eq!(process(&png_claiming(4_000, 4_000), &limits), Err(PhotoError::Corrupt));
    // Just above the 8-bit limit (24 MP) is refused.
    assert_eq!(
        process(&png_claiming(6_000, 4_001), &limits),
        Err(PhotoError::TooManyPixels { width: 6_000, height: 4_001 })
    );
    assert_eq!(process(&png_claiming(6_000, 4_000), &limits), Err(PhotoError::Corrupt));
    // The 16-bit bound is a setting like the others.
    let tight = Limits { max_pixels_16bit: 600 * 840 - 1, ..limits };
    assert_eq!(
        process(&png_16bit_black(600, 840), &tight),
        Err(PhotoError::TooManyPixels { width: 600, height: 840 })
    );
}

#[test]
fn jpeg_claiming_huge_dimensions_is_refused_before_decoding() {
    assert_eq!(
        process(&jpeg_claiming(20_000, 20_000), &Limits::default()),
        Err(PhotoError::TooManyPixels { width: 20_000, height: 20_000 })
    );
    assert_eq!(
        process(&jpeg_claiming(6_000, 7_000), &Limits::default()),
        Err(PhotoError::TooManyPixels { width: 6_000, height: 7_000 })
    );
    // Just above a phone camera's 24 MP.
    assert_eq!(
        process(&jpeg_claiming(6_000, 4_001), &Limits::default()),
        Err(PhotoError::TooManyPixels { width: 6_000, height: 4_001 })
    );
}

#[test]
fn custom_limits_apply() {
    let bytes = jpeg(&portrait(600, 840, WHITE), 90);
    let tight = Limits { max_upload_bytes: 1000, ..Limits::default() };
    assert_eq!(process(&bytes, &tight), Err(PhotoError::TooLarge { max_bytes: 1000 }));
    let few_pixels = Limits { max_pixels: 600 * 840 - 1, ..Limits::default() };
    assert_eq!(
        process(&bytes, &few_pixels),
        Err(PhotoError::TooManyPixels { width: 600, height: 840 })
    );
    let short_sides = Limits { max_dimension: 800, ..Limits::default() };
    assert!(matches!(process(&bytes, &short_sides), Err(PhotoError::TooManyPixels { .. })));
    assert!(process(&bytes, &Limits::default()).is_ok());
}

#[test]
fn every_error_has_a_code_and_a_chinese_message() {
    let errors = [
        PhotoError::TooLarge { max_bytes: 1 },
        PhotoError::UnsupportedFormat,
        PhotoError::TooManyPixels { width: 1, height: 1 },
        PhotoError::TooSmall { width: 1, height: 1 },
        PhotoError::WrongAspectRatio { width: 1, height: 1 },
        PhotoError::BackgroundNotWhite,
        PhotoError::Corrupt,
        PhotoError::CannotCompress,
    ];
    let mut codes: Vec<&str> = errors.iter().map(PhotoError::code).collect();
    for (e, code) in errors.iter().zip(&codes) {
        assert!(code.starts_with("photo_"));
        assert!(e.to_string().contains("照片"), "{e}");
    }
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), errors.len());
}

// ---------------------------------------------------------------------------------------------
// Never panics

fn small_jpeg() -> Vec<u8> {
    jpeg(&portrait(300, 420, WHITE), 60)
}

fn small_png() -> Vec<u8> {
    png_rgb(&portrait(300, 420, WHITE))
}

/// Small pixel budget so mutated headers cannot make a case slow.
fn fuzz_limits() -> Limits {
    Limits { max_pixels: 1_000_000, max_dimension: 2_000, ..Limits::default() }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let _ = process(&bytes, &Limits::default());
    }

    #[test]
    fn never_panics_behind_a_valid_signature(
        png in any::<bool>(),
        tail in prop::collection::vec(any::<u8>(), 0..4096),
    ) {
        let mut bytes = if png { b"\x89PNG\r\n\x1a\n".to_vec() } else { vec![0xFF, 0xD8, 0xFF] };
        bytes.extend(tail);
        prop_assert!(process(&bytes, &fuzz_limits()).is_err());
    }

    #[test]
    fn never_panics_on_mutated_images(
        png in any::<bool>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = if png { small_png() } else { small_jpeg() };
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if truncate {
            let keep = cut.index(bytes.len());
            bytes.truncate(keep);
        }
        let _ = process(&bytes, &fuzz_limits());
    }
}

// ---------------------------------------------------------------------------------------------
// Storage

#[test]
fn fs_storage_round_trip_and_delete() {
    let dir = tempfile::tempdir();
    assert!(dir.is_ok());
    let Ok(dir) = dir else { return };
    let storage = FsStorage::new(dir.path().join("photos-root"));
    let key = "photos/0f3a9c/normalized.jpg";
    assert!(matches!(storage.get(key), Err(StorageError::NotFound { .. })));
    assert!(storage.put(key, b"first").is_ok());
    assert_eq!(storage.get(key).ok(), Some(b"first".to_vec()));
    assert!(dir.path().join("photos-root/photos/0f3a9c/normalized.jpg").is_file());
    assert!(storage.delete(key).is_ok());
    assert!(matches!(storage.get(key), Err(StorageError::NotFound { .. })));
    assert!(matches!(storage.delete(key), Err(StorageError::NotFound { .. })));
    // A directory is not a stored file.
    assert!(matches!(storage.get("photos/0f3a9c"), Err(StorageError::NotFound { .. })));
}

#[test]
fn fs_storage_overwrite_is_atomic_and_leaves_no_temp_files() {
    let Ok(dir) = tempfile::tempdir() else { panic!("no temp dir") };
    let storage = Arc::new(FsStorage::new(dir.path()));
    let key = "p/a.jpg";
    let old = vec![b'o'; 256 * 1024];
    let new = vec![b'n'; 256 * 1024];
    assert!(storage.put(key, &old).is_ok());

    let writer = {
        let storage = Arc::clone(&storage);
        let (old, new) = (old.clone(), new.clone());
        std::thread::spawn(move || {
            for i in 0..20 {
                let bytes = if i % 2 == 0 { &new } else { &old };
                assert!(storage.put(key, bytes).is_ok());
            }
        })
    };
    // Readers only ever see one complete version.
    for _ in 0..50 {
        let got = storage.get(key);
        assert!(matches!(&got, Ok(b) if *b == old || *b == new), "torn read");
    }
    assert!(writer.join().is_ok());
    assert!(storage.put(key, &new).is_ok());
    assert_eq!(storage.get(key).ok(), Some(new));

    let names: Vec<_> = std::fs::read_dir(dir.path().join("p"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("a.jpg")]);
}

#[test]
fn fs_storage_refuses_bad_keys_without_touching_the_disk() {
    let Ok(dir) = tempfile::tempdir() else { panic!("no temp dir") };
    let root = dir.path().join("root");
    let storage = FsStorage::new(&root);
    for key in ["", "../escape", "a/../../b", "/etc/passwd", "a//b", "A.JPG", ".tmp", "a/"] {
        assert!(matches!(storage.put(key, b"x"), Err(StorageError::BadKey { .. })), "{key:?}");
        assert!(matches!(storage.get(key), Err(StorageError::BadKey { .. })));
        assert!(matches!(storage.delete(key), Err(StorageError::BadKey { .. })));
    }
    assert!(!root.exists());
    assert!(!dir.path().join("escape").exists());
}

#[test]
fn storage_is_usable_as_a_trait_object() {
    let Ok(dir) = tempfile::tempdir() else { panic!("no temp dir") };
    let storage: Arc<dyn PhotoStorage> = Arc::new(FsStorage::new(dir.path()));
    let photo = accepted(process(&png_rgb(&portrait(295, 413, WHITE)), &Limits::default()));
    assert!(storage.put("x/normalized.jpg", &photo.normalized_jpeg).is_ok());
    let back = storage.get("x/normalized.jpg").ok();
    assert_eq!(back.as_deref(), Some(&photo.normalized_jpeg[..]));
}
