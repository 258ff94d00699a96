//! Renders many tickets (PNG + PDF each) and reports time, sizes and peak memory.
//!
//! ```text
//! cargo run --release -p baoming-tickets --example render_bench -- [COUNT] [THREADS] [SAMPLE_DIR]
//! ```
//!
//! COUNT defaults to 10000, THREADS to the available parallelism. With SAMPLE_DIR, the first
//! ticket is also written there as `ticket.png` and `ticket.pdf`, to look at. Needs Debian's
//! fonts-noto-cjk (skips with a message otherwise).

#![allow(clippy::print_stdout)]

use std::time::Instant;

use baoming_tickets::signing::{self, TicketClaims};
use baoming_tickets::{
    FontSource, Fonts, SigningKey, SubjectSlot, Ticket, TicketLayout, TicketNumber, render_png,
    render_ticket,
};

const REGULAR: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";
const BOLD: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc";

const SURNAMES: &str = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段漕钱汤尹黎易常武乔贺赖龚文欧阳司马诸葛";
const GIVEN: &str = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍鹏辉建国红梅飞鑫宇浩然子轩梓涵一诺欣怡博文思远䶮昊晗琦瑶璐琳婷雪峰志刚海燕春晓秋月";

fn photo(variant: u8) -> Vec<u8> {
    let shirt =
        [[40, 70, 140], [30, 30, 30], [120, 20, 30], [20, 90, 60]][usize::from(variant % 4)];
    let img = image::RgbImage::from_fn(295, 413, |x, y| {
        let (dx, dy) = (x as f32 - 147.0, y as f32 - 170.0);
        if (dx / 80.0).powi(2) + (dy / 100.0).powi(2) <= 1.0 {
            // A little texture so the JPEG is not trivially small.
            let n = ((x * 7 + y * 13 + u32::from(variant)) % 17) as u8;
            image::Rgb([222 + n / 2, 184 + n, 150 + n])
        } else if y > 290 && dx.abs() < 40.0 + (y as f32 - 290.0) * 1.2 {
            image::Rgb(shirt)
        } else {
            image::Rgb([252, 252, 252])
        }
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 88)
        .encode(img.as_raw(), 295, 413, image::ExtendedColorType::Rgb8)
        .expect("jpeg");
    out
}

fn name(i: usize) -> String {
    let s: Vec<char> = SURNAMES.chars().collect();
    let g: Vec<char> = GIVEN.chars().collect();
    let mut x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut next = |n: usize| {
        x ^= x >> 29;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        (x >> 33) as usize % n
    };
    let mut out = String::new();
    out.push(s[next(s.len())]);
    for _ in 0..1 + next(2) {
        out.push(g[next(g.len())]);
    }
    if i.is_multiple_of(500) {
        // Now and then a long (minority) name.
        out = format!("{out}·阿卜杜热合曼·买买提明");
    }
    out
}

fn stats(mut v: Vec<usize>) -> (usize, usize, usize) {
    v.sort_unstable();
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let count: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let threads: usize = args
        .get(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let (Ok(regular), Ok(bold)) = (std::fs::read(REGULAR), std::fs::read(BOLD)) else {
        println!("SKIPPED: {REGULAR} or {BOLD} not found (apt-get install fonts-noto-cjk)");
        return;
    };
    let t0 = Instant::now();
    let fonts = Fonts::new(
        FontSource { bytes: regular, index: 2 },
        vec![],
        Some(FontSource { bytes: bold, index: 2 }),
    )
    .expect("fonts");
    println!("fonts loaded in {:?}", t0.elapsed());

    let key = SigningKey::new("2026a", &[0x5A; 32]).expect("key");
    let layout = TicketLayout::new("2026年第二期监理工程师培训考试 准考证");
    let photos: Vec<Vec<u8>> = (0..4).map(photo).collect();
    let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 20).expect("date");
    let at =
        |d: u64, h: u32, m: u32| (day + chrono::Days::new(d)).and_hms_opt(h, m, 0).expect("time");
    let subjects = [
        SubjectSlot::new("建设工程监理基本理论和相关法规", at(0, 9, 0), at(0, 11, 0)),
        SubjectSlot::new("建设工程合同管理", at(0, 14, 0), at(0, 16, 0)),
        SubjectSlot::new("建设工程目标控制（土木建筑工程）", at(1, 9, 0), at(1, 11, 30)),
        SubjectSlot::new("建设工程监理案例分析（土木建筑工程）", at(1, 14, 0), at(1, 18, 0)),
    ];

    let make = |i: usize| -> Ticket {
        let (room, seat) = (i / 30 + 1, i % 30 + 1);
        let number = format!("2635{:02}{:02}{:02}", 1 + i / 2970 % 99, room % 99 + 1, seat);
        let n = name(i);
        let claims = TicketClaims {
            ticket_number: TicketNumber::parse(&number).expect("number"),
            period: [7; 16],
            name: n.clone(),
            masked_id: "110105********002X".into(),
            site: 1,
            room: room as u32,
            seat: seat as u32,
        };
        Ticket {
            name: n,
            gender: if i.is_multiple_of(2) { "男" } else { "女" }.into(),
            masked_id: claims.masked_id.clone(),
            ticket_number: number,
            site_name: "福建建设职业技术学院（旗山校区）".into(),
            site_address: "福建省福州市闽侯县上街镇学府南路33号".into(),
            room: room as u32,
            seat: seat as u32,
            subjects: subjects[..2 + i % 3].to_vec(),
            photo_jpeg: photos[i % photos.len()].clone(),
            qr_text: signing::sign(&claims, &key).expect("sign"),
        }
    };

    // Warm the glyph cache once so the first tickets are not an outlier in the profile below.
    let first = render_ticket(&fonts, &layout, &make(0)).expect("warm-up");
    if let Some(dir) = args.get(3) {
        let dir = std::path::Path::new(dir);
        std::fs::write(dir.join("ticket.png"), &first.png).expect("write the sample PNG");
        std::fs::write(dir.join("ticket.pdf"), &first.pdf).expect("write the sample PDF");
        println!("sample ticket written to {}", dir.display());
    }

    let start = Instant::now();
    let results: Vec<(Vec<usize>, Vec<usize>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (fonts, layout, make) = (&fonts, &layout, &make);
                s.spawn(move || {
                    let mut png_sizes = Vec::new();
                    let mut pdf_sizes = Vec::new();
                    for i in (t..count).step_by(threads) {
                        let out = render_ticket(fonts, layout, &make(i)).expect("render");
                        png_sizes.push(out.png.len());
                        pdf_sizes.push(out.pdf.len());
                    }
                    (png_sizes, pdf_sizes)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    let elapsed = start.elapsed();
    let mut png = Vec::new();
    let mut pdf = Vec::new();
    for (a, b) in results {
        png.extend(a);
        pdf.extend(b);
    }
    // The split between PNG and PDF, measured after the timed run on one thread: the PNG alone,
    // then both (signing and the layout are in both).
    let sample = count.min(200);
    let a = Instant::now();
    for i in 0..sample {
        render_png(&fonts, &layout, &make(i)).expect("png");
    }
    let png_t = a.elapsed();
    let b = Instant::now();
    for i in 0..sample {
        render_ticket(&fonts, &layout, &make(i)).expect("both");
    }
    let both_t = b.elapsed();
    let (pmin, pmed, pmax) = stats(png);
    let (dmin, dmed, dmax) = stats(pdf);
    println!("tickets: {count} (PNG + PDF each) on {threads} threads");
    println!(
        "total: {:.2} s ({:.2} ms per ticket per thread)",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 * threads as f64 / count as f64
    );
    println!(
        "one thread, {sample} tickets: {:.2} ms per ticket, of which the PNG {:.2} ms",
        both_t.as_secs_f64() * 1000.0 / sample as f64,
        png_t.as_secs_f64() * 1000.0 / sample as f64
    );
    println!("PNG bytes: min {pmin}, median {pmed}, max {pmax}");
    println!("PDF bytes: min {dmin}, median {dmed}, max {dmax}");
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    for line in status.lines().filter(|l| l.starts_with("VmHWM") || l.starts_with("VmRSS")) {
        println!("{line}");
    }
}
