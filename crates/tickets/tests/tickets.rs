//! Integration tests: the QR payload as a third party sees it, and rendering with the system's
//! Noto Sans CJK (`fonts-noto-cjk`) read back with `pdftotext` (`poppler-utils`); both are
//! installed by `.ci/run`, and a test fails, saying which package, when one is missing.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use baoming_tickets::signing::{self, NAME_MAX_BYTES, PREFIX};
use baoming_tickets::{
    FontSource, Fonts, QR_MASK, RenderError, RoomSheet, SheetRow, SigningKey, SubjectSlot, Ticket,
    TicketClaims, TicketLayout, TicketNumber, VerifyingKeys, encode_qr, render_pdf, render_png,
    render_room_sheet_pdf, render_ticket,
};
use ciborium::value::Value;
use ed25519_dalek::Verifier as _;

const REGULAR: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";
const BOLD: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc";
/// Noto Sans CJK SC in Debian's collection.
const SC: u32 = 2;

fn fonts() -> Option<&'static Fonts> {
    static FONTS: OnceLock<Option<Fonts>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let regular = std::fs::read(REGULAR).ok()?;
            let bold = std::fs::read(BOLD).ok().map(|bytes| FontSource { bytes, index: SC });
            Some(
                Fonts::new(FontSource { bytes: regular, index: SC }, vec![], bold)
                    .expect("Noto Sans CJK loads"),
            )
        })
        .as_ref()
}

macro_rules! cjk_fonts {
    () => {
        match fonts() {
            Some(f) => f,
            None => panic!("{REGULAR} not found (apt-get install fonts-noto-cjk)"),
        }
    };
}

fn key() -> SigningKey {
    SigningKey::new("2026a", &[0x5A; 32]).unwrap()
}

fn claims(name: &str) -> TicketClaims {
    TicketClaims {
        ticket_number: TicketNumber::parse("2635010307").unwrap(),
        period: [
            0x01, 0x93, 0x6F, 0x3A, 0x52, 0x00, 0x7C, 0x00, 0x8A, 0x1B, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x01,
        ],
        name: name.into(),
        masked_id: "110105********002X".into(),
        site: 1,
        room: 3,
        seat: 7,
    }
}

/// A 295 × 413 "ID photo": white background, a blue shirt and a skin-coloured head.
fn photo() -> Vec<u8> {
    let img = image::RgbImage::from_fn(295, 413, |x, y| {
        let (cx, cy) = (147.0f32, 170.0f32);
        let (dx, dy) = (x as f32 - cx, y as f32 - cy);
        if (dx / 80.0).powi(2) + (dy / 100.0).powi(2) <= 1.0 {
            image::Rgb([232, 190, 160])
        } else if y > 290 && (dx.abs() < 40.0 + (y as f32 - 290.0) * 1.2) {
            image::Rgb([40, 70, 140])
        } else {
            image::Rgb([255, 255, 255])
        }
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode(img.as_raw(), 295, 413, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

fn subjects() -> Vec<SubjectSlot> {
    vec![
        SubjectSlot {
            name: "建设工程监理基本理论和相关法规".into(),
            time: "2026年12月20日 09:00–11:00".into(),
        },
        SubjectSlot {
            name: "建设工程合同管理".into(), time: "2026年12月20日 14:00–16:00".into()
        },
        SubjectSlot {
            name: "建设工程目标控制（土木建筑工程）".into(),
            time: "2026年12月21日 09:00–11:30".into(),
        },
        SubjectSlot {
            name: "建设工程监理案例分析（土木建筑工程）".into(),
            time: "2026年12月21日 14:00–18:00".into(),
        },
    ]
}

fn ticket(name: &str) -> Ticket {
    let qr_text = signing::sign(&claims(name), &key()).unwrap();
    Ticket {
        name: name.into(),
        gender: "男".into(),
        masked_id: "110105********002X".into(),
        ticket_number: "2635010307".into(),
        site_name: "福建建设职业技术学院（旗山校区）".into(),
        site_address: "福建省福州市闽侯县上街镇学府南路33号 实训楼三层".into(),
        room: 3,
        seat: 7,
        subjects: subjects(),
        photo_jpeg: photo(),
        qr_text,
    }
}

fn layout() -> TicketLayout {
    let mut l = TicketLayout::new("2026年第二期监理工程师培训考试 准考证");
    l.footer = Some("福建省建设执业资格注册中心　2026年12月1日制".into());
    l.issued_at = chrono::DateTime::from_timestamp(1_796_083_200, 0); // 2026-12-01T00:00:00Z
    l
}

fn samples_dir() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
        .join("tickets-samples");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn pdftotext(pdf: &[u8], name: &str) -> String {
    let path = samples_dir().join(name);
    std::fs::write(&path, pdf).unwrap();
    match Command::new("pdftotext").arg("-raw").arg(&path).arg("-").output() {
        Ok(out) => {
            assert!(
                out.status.success(),
                "pdftotext failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        }
        Err(e) => panic!("pdftotext cannot run ({e}): apt-get install poppler-utils"),
    }
}

/// The first page of a PDF as a greyscale image at 150 dpi, drawn by poppler's `pdftoppm`.
fn pdf_page_image(pdf: &[u8], name: &str) -> image::GrayImage {
    let dir = samples_dir();
    let path = dir.join(name);
    std::fs::write(&path, pdf).unwrap();
    let stem = dir.join(format!("{name}-page"));
    let drawn = dir.join(format!("{name}-page.png"));
    match Command::new("pdftoppm")
        .args(["-r", "150", "-gray", "-png", "-singlefile"])
        .arg(&path)
        .arg(&stem)
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "pdftoppm failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!("pdftoppm cannot run ({e}): apt-get install poppler-utils"),
    }
    image::open(drawn).unwrap().to_luma8()
}

// ---------------------------------------------------------------------------------------------
// The QR payload.

#[test]
fn worst_case_payload_fits_version_10_m() {
    let key = SigningKey::new("ABCDEFGH", &[1; 32]).unwrap();
    let fifty_cjk: String = "𠀀龘".repeat(25);
    for name in [
        fifty_cjk.as_str(),
        &"W".repeat(50),
        "阿卜杜热合曼·买买提明·艾力·艾力·艾力·艾力·艾力·艾力·艾力·艾力",
    ] {
        assert!(name.chars().count() <= 50);
        let c = TicketClaims {
            ticket_number: TicketNumber::parse("ZK-2026350101999999").unwrap(),
            period: [0xFF; 16],
            name: name.into(),
            masked_id: "E12345********678901".into(),
            site: 65_535,
            room: 65_535,
            seat: 65_535,
        };
        assert_eq!(c.ticket_number.as_str().len(), 19);
        let mut c20 = c.clone();
        c20.ticket_number = TicketNumber::parse("ZK-20263501019999999").unwrap();
        for c in [c, c20] {
            let text = signing::sign(&c, &key).unwrap();
            assert!(text.len() <= 311, "{} chars", text.len());
            let qr = encode_qr(&text).unwrap();
            assert!(qr.version().value() <= 10, "version {}", qr.version().value());
            assert!(matches!(
                qr.error_correction_level(),
                qrcodegen::QrCodeEcc::Medium
                    | qrcodegen::QrCodeEcc::Quartile
                    | qrcodegen::QrCodeEcc::High
            ));
            let keys: VerifyingKeys = [key.verifying_key()].into_iter().collect();
            let back = signing::verify(&text, &keys).unwrap();
            assert!(back.name.len() <= NAME_MAX_BYTES);
            assert!(back.name.ends_with('…'));
        }
    }
}

/// Decodes the QR text by hand — base45 (RFC 9285), CBOR, COSE_Sign1 — and checks the Ed25519
/// signature over the RFC 9052 Sig_structure with ed25519-dalek directly.
#[test]
fn third_party_verification() {
    let key = key();
    let text = signing::sign(&claims("王䶮"), &key).unwrap();
    let data = text.strip_prefix("BMT1:").expect("prefix");

    // base45 by hand: groups of three characters are two bytes, a final pair is one byte.
    const ALPHABET: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
    let digits: Vec<u32> =
        data.chars().map(|c| ALPHABET.find(c).expect("base45 char") as u32).collect();
    let mut bytes = Vec::new();
    for chunk in digits.chunks(3) {
        match *chunk {
            [c, d, e] => {
                let n = c + d * 45 + e * 45 * 45;
                bytes.extend_from_slice(&[(n >> 8) as u8, n as u8]);
            }
            [c, d] => bytes.push((c + d * 45) as u8),
            _ => panic!("dangling base45 character"),
        }
    }

    let value: Value = ciborium::de::from_reader(bytes.as_slice()).unwrap();
    let Value::Tag(18, inner) = value else { panic!("not tag 18: {value:?}") };
    let Value::Array(parts) = *inner else { panic!("not an array") };
    assert_eq!(parts.len(), 4);
    let Value::Bytes(protected) = &parts[0] else { panic!("protected is not bytes") };
    let Value::Map(unprotected) = &parts[1] else { panic!("unprotected is not a map") };
    assert!(unprotected.is_empty());
    let Value::Bytes(payload) = &parts[2] else { panic!("payload is not bytes") };
    let Value::Bytes(signature) = &parts[3] else { panic!("signature is not bytes") };

    let header: Value = ciborium::de::from_reader(protected.as_slice()).unwrap();
    let Value::Map(header) = header else { panic!("protected header is not a map") };
    let get = |k: i64| {
        header.iter().find(|(key, _)| *key == Value::Integer(k.into())).map(|(_, v)| v.clone())
    };
    assert_eq!(get(1), Some(Value::Integer((-8).into())), "alg EdDSA");
    assert_eq!(get(4), Some(Value::Bytes(b"2026a".to_vec())), "kid");

    let sig_structure = Value::Array(vec![
        Value::Text("Signature1".into()),
        Value::Bytes(protected.clone()),
        Value::Bytes(vec![]),
        Value::Bytes(payload.clone()),
    ]);
    let mut tbs = Vec::new();
    ciborium::ser::into_writer(&sig_structure, &mut tbs).unwrap();
    let public = ed25519_dalek::VerifyingKey::from_bytes(&key.verifying_key().to_bytes()).unwrap();
    let sig = ed25519_dalek::Signature::from_slice(signature).unwrap();
    public.verify(&tbs, &sig).expect("signature verifies");

    let claims: Value = ciborium::de::from_reader(payload.as_slice()).unwrap();
    let Value::Map(claims) = claims else { panic!("claims are not a map") };
    let keys: Vec<String> = claims.iter().map(|(k, _)| k.as_text().unwrap().to_owned()).collect();
    assert_eq!(keys, ["i", "n", "p", "r", "s", "t", "z"]);
    let claim =
        |k: &str| claims.iter().find(|(key, _)| key.as_text() == Some(k)).unwrap().1.clone();
    assert_eq!(claim("n"), Value::Text("王䶮".into()));
    assert_eq!(claim("t"), Value::Text("2635010307".into()));
    assert_eq!(claim("i"), Value::Text("110105********002X".into()));
    assert_eq!(claim("p"), Value::Bytes(claims_period().to_vec()));
    assert_eq!(claim("z"), Value::Integer(7.into()));

    // A changed payload byte breaks the signature.
    let mut forged = payload.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    let forged_structure = Value::Array(vec![
        Value::Text("Signature1".into()),
        Value::Bytes(protected.clone()),
        Value::Bytes(vec![]),
        Value::Bytes(forged),
    ]);
    let mut tbs2 = Vec::new();
    ciborium::ser::into_writer(&forged_structure, &mut tbs2).unwrap();
    assert!(public.verify(&tbs2, &sig).is_err());
}

fn claims_period() -> [u8; 16] {
    claims("x").period
}

/// The worked example of docs/tickets.md: fixed key, fixed claims, exact bytes.
#[test]
fn documented_example() {
    let key = SigningKey::new("2026a", &[0x5A; 32]).unwrap();
    let text = signing::sign(&claims("王䶮"), &key).unwrap();
    let bytes = base45::decode(text.strip_prefix(PREFIX).unwrap()).unwrap();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    eprintln!("hex: {hex}\ntext: {text}\npublic: {}", key.verifying_key().to_jwk());
    assert_eq!(hex, DOC_HEX);
    assert_eq!(text, DOC_TEXT);
}

const DOC_HEX: &str = "d2844aa2012704453230323661a05848a76169723131303130352a2a2a2a2a2a2a2a30303258616e66e78e8be4b6ae61705001936f3a52007c008a1b00000000000161720361730161746a32363335303130333037617a075840592072789a7bcb4ea1a030c932d816424c53e9b6500d27001a6e6611d8dd0f3f32a6399ed7e7f5ecd578590ae391466c8246ba18dde23183a30f7d45dfb36a07";
const DOC_TEXT: &str = "BMT1:RRQQJ9P60DO0NF6TF6HFCA7B97L*ED%96746B46*E5*E5*E5*E5646IG6CECI0D-0I5-S12M.8E/80Y2EMGAJUFUKH000000100GECAJ0BOEIEC6JDF%6QW6$969L62079JF27B1CB9LE$NJQVPLJKO76BJ6S 29T9POTI5A*-4GF3T+CWIRX-16I6ZC7BDR14VI:QOBBRYSS+85LGUNNC2SUB6SRKT$FRCS8ID";

// ---------------------------------------------------------------------------------------------
// Rendering.

#[test]
fn printed_ticket_qr_scans_and_verifies() {
    let fonts = cjk_fonts!();
    let t = ticket("王䶮");
    let pdf = render_pdf(fonts, &layout(), &t).unwrap();
    let page = pdf_page_image(&pdf, "ticket-qr.pdf");
    let mut prepared = rqrr::PreparedImage::prepare(page);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code on the printed page");
    let (meta, content) = grids[0].decode().unwrap();
    assert_eq!(content, t.qr_text);
    assert_eq!(meta.mask, u16::from(QR_MASK));
    let keys: VerifyingKeys = [key().verifying_key()].into_iter().collect();
    assert_eq!(signing::verify(&content, &keys).unwrap(), claims("王䶮"));
}

#[test]
fn png_is_1080_wide_and_its_qr_verifies() {
    let fonts = cjk_fonts!();
    let t = ticket("王䶮");
    let png = render_png(fonts, &layout(), &t).unwrap();
    std::fs::write(samples_dir().join("ticket.png"), &png).unwrap();
    let img =
        image::load_from_memory_with_format(&png, image::ImageFormat::Png).unwrap().to_luma8();
    assert_eq!(img.width(), 1080);
    let mut prepared = rqrr::PreparedImage::prepare(img);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code");
    let (_, content) = grids[0].decode().unwrap();
    assert_eq!(content, t.qr_text);
    let keys: VerifyingKeys = [key().verifying_key()].into_iter().collect();
    assert_eq!(signing::verify(&content, &keys).unwrap(), claims("王䶮"));
}

#[test]
fn pdf_has_real_text() {
    let fonts = cjk_fonts!();
    let t = ticket("王䶮");
    let pdf = render_pdf(fonts, &layout(), &t).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    eprintln!("ticket PDF: {} bytes", pdf.len());
    let raw = String::from_utf8_lossy(&pdf);
    assert!(raw.contains("/CreationDate(D:20261201000000"), "the issue date is the creation date");
    let text = pdftotext(&pdf, "ticket.pdf");
    for needle in ["王䶮", "2635010307", "准考证", "考场规则", "110105********002X"] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    let flat: String = text.split_whitespace().collect();
    for s in subjects() {
        assert!(flat.contains(&s.name), "{} missing from:\n{text}", s.name);
    }
}

#[test]
fn render_ticket_gives_both() {
    let fonts = cjk_fonts!();
    let both = render_ticket(fonts, &layout(), &ticket("张三")).unwrap();
    assert!(both.png.starts_with(b"\x89PNG"));
    assert!(both.pdf.starts_with(b"%PDF-"));
}

#[test]
fn long_names_render() {
    let fonts = cjk_fonts!();
    let name = "阿卜杜热合曼·买买提明·艾力".repeat(3);
    let name: String = name.chars().take(50).collect();
    let mut t = ticket(&name);
    t.qr_text = signing::sign(&claims(&name), &key()).unwrap();
    let png = render_png(fonts, &layout(), &t).unwrap();
    std::fs::write(samples_dir().join("ticket-long-name.png"), &png).unwrap();
    let pdf = render_pdf(fonts, &layout(), &t).unwrap();
    {
        let text = pdftotext(&pdf, "ticket-long-name.pdf");
        assert!(text.replace(['\n', ' '], "").contains("阿卜杜热合曼·买买提明"), "{text}");
    }
}

#[test]
fn missing_glyphs_are_named_not_dropped() {
    let fonts = cjk_fonts!();
    // U+4DAE (CJK Extension A) is in Noto Sans CJK SC.
    assert!(fonts.covers('䶮'));
    for (name, missing) in [("张\u{E000}三", '\u{E000}'), ("李😀", '😀')] {
        let t = ticket("王五");
        let t = Ticket { name: name.into(), ..t };
        let err = render_png(fonts, &layout(), &t).unwrap_err();
        assert_eq!(err, RenderError::MissingGlyphs { chars: vec![missing] });
        assert_eq!(err.code(), "ticket_missing_glyphs");
        assert!(err.to_string().contains(missing));
        assert_eq!(
            render_pdf(fonts, &layout(), &t).unwrap_err(),
            RenderError::MissingGlyphs { chars: vec![missing] }
        );
    }
    assert_eq!(fonts.missing("王\u{E000}😀\u{E000}"), vec!['\u{E000}', '😀']);
}

#[test]
fn bad_photo_is_refused() {
    let fonts = cjk_fonts!();
    let t = Ticket { photo_jpeg: b"not a jpeg".to_vec(), ..ticket("王五") };
    assert_eq!(render_png(fonts, &layout(), &t).unwrap_err(), RenderError::BadPhoto);
    assert_eq!(render_pdf(fonts, &layout(), &t).unwrap_err(), RenderError::BadPhoto);
}

#[test]
fn room_sheet_paginates() {
    let fonts = cjk_fonts!();
    let photo = photo();
    let names = [
        "王䶮", "张伟", "李娜", "刘洋", "陈静", "杨帆", "赵敏", "黄磊", "周杰", "吴昊", "徐丽",
        "孙强", "马超", "朱婷", "胡军", "郭靖", "何炅", "高圆",
    ];
    let rows: Vec<SheetRow> = names
        .iter()
        .enumerate()
        .map(|(i, n)| SheetRow {
            seat: i as u32 + 1,
            ticket_number: format!("26350103{:02}", i + 1),
            name: (*n).into(),
            masked_id: "110105********002X".into(),
            photo_jpeg: photo.clone(),
        })
        .collect();
    let sheet = RoomSheet {
        title: "2026年第二期监理工程师培训考试 考场签到表".into(),
        site_name: "福建建设职业技术学院（旗山校区）".into(),
        room: 3,
        rows,
        issued_at: None,
    };
    let pdf = render_room_sheet_pdf(fonts, &sheet).unwrap();
    eprintln!("sheet PDF: {} bytes", pdf.len());
    let text = pdftotext(&pdf, "room-sheet.pdf");
    assert_eq!(text.matches('\u{c}').count(), 2, "two pages");
    for n in names {
        assert!(text.contains(n), "{n} missing");
    }
    for needle in ["考场签到表", "2635010318", "考生签名", "第 1 页，共 2 页", "第 2 页，共 2 页"]
    {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}
