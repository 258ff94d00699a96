//! The hostile photo uploads of the *photo-burst* scenario, small on the wire: PNGs whose
//! pixels are one colour, a row at a time so that no full image is ever held (the zeros
//! compress as runs, the shape of a decompression bomb), and a PNG whose header claims more
//! pixels than it holds.

/// One upload of the burst and what the api must answer.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// Name in logs and failures.
    pub name: &'static str,
    /// The file.
    pub bytes: Vec<u8>,
    /// The expected status.
    pub status: u16,
    /// The expected error code (`None`: accepted).
    pub code: Option<&'static str>,
}

/// The bombs, each with the answer it must get (photo limits as configured by default: 24 MP,
/// 16-bit at most 12 MP, a side at most 12 000 px):
///
/// - a 40-megapixel 16-bit RGB PNG (8000 × 5000, 240 MB decoded, ≈ 1.2 MB on the wire):
///   refused from its header, `photo_too_many_pixels`;
/// - a PNG claiming 30000 × 30000 pixels in a few hundred bytes: `photo_too_many_pixels`;
/// - a 16-megapixel 16-bit PNG (over the 16-bit bound): `photo_too_many_pixels`;
/// - the largest 8-bit image accepted for decoding, 4140 × 5796 (5:7, 23.99 MP) opaque black
///   RGBA: about 0.5 MB that decodes to 96 MB, then refused for its background,
///   `photo_background_not_white`;
/// - the largest 16-bit image accepted for decoding, 2925 × 4095 (5:7, 11.98 MP) opaque black
///   16-bit RGBA: 96 MB of 16-bit pixels (the api decodes them to 8 bits, 48 MB),
///   `photo_background_not_white`.
pub fn bombs() -> Vec<Fixture> {
    let too_many = Some("photo_too_many_pixels");
    let not_white = Some("photo_background_not_white");
    vec![
        Fixture {
            name: "40 MP 16-bit PNG",
            bytes: png_one_colour(8000, 5000, 16, RGB, &[0; 6]),
            status: 422,
            code: too_many,
        },
        Fixture {
            name: "PNG claiming 30000×30000",
            bytes: png_claiming(30_000, 30_000),
            status: 422,
            code: too_many,
        },
        Fixture {
            name: "16 MP 16-bit PNG",
            bytes: png_one_colour(4000, 4000, 16, RGB, &[0; 6]),
            status: 422,
            code: too_many,
        },
        Fixture {
            name: "24 MP RGBA PNG bomb",
            bytes: png_one_colour(4140, 5796, 8, RGBA, &[0, 0, 0, 255]),
            status: 422,
            code: not_white,
        },
        Fixture {
            name: "12 MP 16-bit RGBA PNG bomb",
            bytes: png_one_colour(2925, 4095, 16, RGBA, &[0, 0, 0, 0, 0, 0, 255, 255]),
            status: 422,
            code: not_white,
        },
    ]
}

/// PNG colour type 2.
const RGB: u8 = 2;
/// PNG colour type 6.
const RGBA: u8 = 6;

/// A valid PNG of `width` × `height` whose every pixel is `pixel` (its bytes at `depth` bits
/// per channel): each row is filtered with "Sub", so it is the pixel once and then zeros, which
/// `fdeflate` (the fast encoder of the `png` crate) writes as runs; `png` wraps the stream.
pub fn png_one_colour(width: u32, height: u32, depth: u8, colour: u8, pixel: &[u8]) -> Vec<u8> {
    let mut row = vec![0; 1 + width as usize * pixel.len()];
    row[0] = 1; // Sub
    row[1..=pixel.len()].copy_from_slice(pixel);
    let mut zlib = fdeflate::Compressor::new(Vec::new()).expect("compressor");
    for _ in 0..height {
        zlib.write_data(&row).expect("in memory");
    }
    png_with_stream(width, height, depth, colour, &zlib.finish().expect("in memory"))
}

/// A PNG whose header claims `width` × `height` 8-bit RGB pixels, with an empty image stream.
pub fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let empty = fdeflate::Compressor::new(Vec::new()).and_then(|z| z.finish()).expect("in memory");
    png_with_stream(width, height, 8, RGB, &empty)
}

/// The PNG container (signature, header, one `IDAT` holding `zlib`, end) written by `png`.
fn png_with_stream(width: u32, height: u32, depth: u8, colour: u8, zlib: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(zlib.len() + 64);
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(if colour == RGBA { png::ColorType::Rgba } else { png::ColorType::Rgb });
    encoder.set_depth(if depth == 16 { png::BitDepth::Sixteen } else { png::BitDepth::Eight });
    let mut writer = encoder.write_header().expect("in memory");
    writer.write_chunk(png::chunk::IDAT, zlib).expect("in memory");
    writer.finish().expect("in memory");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bombs_are_valid_pngs_of_one_colour() {
        let small = png_one_colour(7, 5, 8, RGBA, &[10, 20, 30, 255]);
        let img =
            image::load_from_memory_with_format(&small, image::ImageFormat::Png).expect("decodes");
        assert_eq!((img.width(), img.height()), (7, 5));
        assert!(img.to_rgba8().pixels().all(|p| p.0 == [10, 20, 30, 255]));
        // Long rows (several back-references each), 16 bits per channel.
        let wide = png_one_colour(700, 3, 16, RGB, &[0, 0, 1, 0, 0, 0]);
        let img =
            image::load_from_memory_with_format(&wide, image::ImageFormat::Png).expect("decodes");
        assert_eq!(img.color(), image::ColorType::Rgb16);
        assert!(img.to_rgb16().pixels().all(|p| p.0 == [0, 256, 0]));
        for bomb in bombs() {
            eprintln!("{}: {} bytes", bomb.name, bomb.bytes.len());
            assert!(bomb.bytes.len() < 10 * 1024 * 1024, "{}: {}", bomb.name, bomb.bytes.len());
        }
    }
}
