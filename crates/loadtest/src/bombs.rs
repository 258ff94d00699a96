//! The hostile photo uploads of the *photo-burst* scenario, built by hand so that they are
//! small on the wire and made in milliseconds: PNGs whose pixels are one colour, compressed as
//! back-references (about 1 byte per 160 decoded ones, the shape of a decompression bomb), and
//! a PNG whose header claims more pixels than it holds.

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
/// - a 40-megapixel 16-bit RGB PNG (8000 × 5000, 240 MB decoded, ≈ 1.5 MB on the wire):
///   refused from its header, `photo_too_many_pixels`;
/// - a PNG claiming 30000 × 30000 pixels in a few hundred bytes: `photo_too_many_pixels`;
/// - a 16-megapixel 16-bit PNG (over the 16-bit bound): `photo_too_many_pixels`;
/// - the largest 8-bit image accepted for decoding, 4140 × 5796 (5:7, 23.99 MP) opaque black
///   RGBA: about 0.6 MB that decodes to 96 MB, then refused for its background,
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
/// per channel): each row is filtered with "Sub", so it is the pixel once and then zeros.
pub fn png_one_colour(width: u32, height: u32, depth: u8, colour: u8, pixel: &[u8]) -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[depth, colour, 0, 0, 0]);
    let row_len = 1 + width as usize * pixel.len();
    let prefix: Vec<u8> = [&[1u8][..], pixel].concat();
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(png_chunk(b"IHDR", &ihdr));
    out.extend(png_chunk(b"IDAT", &zlib_rows(height, &prefix, row_len)));
    out.extend(png_chunk(b"IEND", &[]));
    out
}

/// A PNG whose header claims `width` × `height` 8-bit RGB pixels, with an empty image stream.
pub fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, RGB, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(png_chunk(b"IHDR", &ihdr));
    // A zlib stream of one empty stored block.
    out.extend(png_chunk(
        b"IDAT",
        &[0x78, 0x01, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01],
    ));
    out.extend(png_chunk(b"IEND", &[]));
    out
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 12);
    out.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in kind.iter().chain(data) {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    out.extend_from_slice(&(!crc).to_be_bytes());
    out
}

/// Writes deflate's fixed-Huffman codes, least significant bit first.
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
            self.out.push(self.acc as u8);
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

    fn literal(&mut self, byte: u8) {
        match byte {
            0..=143 => self.code(0x30 + u32::from(byte), 8),
            _ => self.code(0x190 + u32::from(byte - 144), 9),
        }
    }
}

/// A zlib stream of `rows` rows of `row_len` bytes, each `prefix` and then zeros: the prefix as
/// literals, the zeros as one literal and back-references of 258 bytes at distance 1.
fn zlib_rows(rows: u32, prefix: &[u8], row_len: usize) -> Vec<u8> {
    const MOD: u64 = 65_521;
    let mut bits = Bits { out: vec![0x78, 0x01], acc: 0, used: 0 };
    bits.bit(1); // BFINAL
    bits.bit(1); // BTYPE = 01 (fixed Huffman), least significant bit first
    bits.bit(0);
    let (mut a, mut b) = (1u64, 0u64);
    let zeros = row_len.saturating_sub(prefix.len());
    for _ in 0..rows {
        for &byte in prefix {
            bits.literal(byte);
            a = (a + u64::from(byte)) % MOD;
            b = (b + a) % MOD;
        }
        if zeros > 0 {
            bits.literal(0);
            for _ in 0..(zeros - 1) / 258 {
                bits.code(0xC5, 8); // length symbol 285: 258 bytes
                bits.code(0, 5); // distance code 0: distance 1
            }
            for _ in 0..(zeros - 1) % 258 {
                bits.literal(0);
            }
            // Zeros leave `a` as it is and add it to `b` once per byte.
            b = (b + a * (zeros as u64 % MOD)) % MOD;
        }
    }
    bits.code(0, 7); // end of block (256)
    if bits.used > 0 {
        bits.out.push(bits.acc as u8);
    }
    bits.out.extend_from_slice(&(((b << 16) | a) as u32).to_be_bytes());
    bits.out
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
            assert!(bomb.bytes.len() < 10 * 1024 * 1024, "{}: {}", bomb.name, bomb.bytes.len());
        }
    }
}
