//! Time of `process` on a phone photo (docs/performance.md, "ID photos"):
//! `cargo run --release -p baoming-photos --example process_time [-- FILE…]`.
//!
//! Without files it makes two 3000 × 4000 JPEGs the way the load benchmark does: a plain one
//! (a smooth subject on white) and a detailed one (texture and sensor noise, as heavy as a
//! phone's picture). Each is processed 20 times after one warm-up; the median is printed.

#![allow(clippy::print_stdout)]

use std::io::Cursor;
use std::time::{Duration, Instant};

use baoming_photos::{Limits, process};
use image::{Rgb, RgbImage};

fn synthetic(detailed: bool) -> Vec<u8> {
    let (w, h) = (3000u32, 4000u32);
    let (cx, cy, rx, ry) = (1500.0, 1800.0, 660.0, 880.0);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut noise = |modulo: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        u8::try_from(seed % modulo).unwrap_or(0)
    };
    let img = RgbImage::from_fn(w, h, |x, y| {
        let (dx, dy) = ((f64::from(x) - cx) / rx, (f64::from(y) - cy) / ry);
        let shoulders = y > 3200 && (f64::from(x) - cx).abs() < 900.0;
        match (dx * dx + dy * dy <= 1.0 || shoulders, detailed) {
            (true, true) => {
                let n = noise(90);
                Rgb([30 + n, 25 + n / 2, 25 + n / 3])
            }
            (true, false) => Rgb([30, 25, 25]),
            (false, true) => {
                let n = noise(6);
                Rgb([244 + n, 244 + n, 244 + n])
            }
            (false, false) => Rgb([250, 250, 250]),
        }
    });
    let mut out = Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92)
        .encode_image(&img)
        .expect("encodes");
    out.into_inner()
}

fn main() {
    let files: Vec<String> = std::env::args().skip(1).collect();
    let inputs: Vec<(String, Vec<u8>)> = if files.is_empty() {
        vec![
            ("plain 3000×4000".to_owned(), synthetic(false)),
            ("detailed 3000×4000".to_owned(), synthetic(true)),
        ]
    } else {
        files.iter().map(|f| (f.clone(), std::fs::read(f).expect("readable file"))).collect()
    };
    let limits = Limits::default();
    for (name, bytes) in &inputs {
        let verdict = process(bytes, &limits).map(|_| "accepted").unwrap_or_else(|e| e.code());
        let mut times: Vec<Duration> = (0..20)
            .map(|_| {
                let started = Instant::now();
                let _ = process(bytes, &limits);
                started.elapsed()
            })
            .collect();
        times.sort_unstable();
        println!(
            "{name}: {} bytes, {verdict}; process() median {:.1} ms (min {:.1}, max {:.1}) over 20 runs",
            bytes.len(),
            times[10].as_secs_f64() * 1000.0,
            times[0].as_secs_f64() * 1000.0,
            times[19].as_secs_f64() * 1000.0
        );
    }
}
