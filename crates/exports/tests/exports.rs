//! Writes exports and reads the workbooks back by unzipping their XML parts.

use std::io::{Cursor, Read};
use std::time::Instant;

use baoming_exports::{ExportError, ExportRow, ExportWriter, HEADERS, MAX_CELL_LEN, SHEET_NAME};

const PERIOD: &str = "2026年度全国监理工程师职业资格考试（水利）";

fn sample_row(i: u32) -> ExportRow {
    ExportRow {
        state: "pending_review".into(),
        tag: "审核中".into(),
        name: format!("张三{i}"),
        gender: if i.is_multiple_of(2) { "男" } else { "女" }.into(),
        id_number: format!("3501021990{:08}", i % 100_000_000),
        phone: format!("138{:08}", i % 100_000_000),
        employer: "福建某监理有限公司".into(),
        region: "福州市".into(),
        subjects: "建设工程目标控制（水利）、建设工程监理案例分析（水利）".into(),
        exam_type: "考两科".into(),
        fee_yuan: "1280.00".into(),
        invoice_title: "福建某监理有限公司（91350100M000100Y43）".into(),
        joint_invoice_remark: String::new(),
        submitted_at: format!("2026-05-01 09:{:02}:{:02}", (i / 60) % 60, i % 60),
        approved_at: String::new(),
        paid_at: String::new(),
    }
}

/// Reads one part of the workbook, e.g. `xl/worksheets/sheet1.xml`.
fn read_part(xlsx: &[u8], name: &str) -> String {
    let mut archive = zip::ZipArchive::new(Cursor::new(xlsx)).unwrap();
    let mut file = archive.by_name(name).unwrap();
    let mut text = String::new();
    file.read_to_string(&mut text).unwrap();
    text
}

fn part_names(xlsx: &[u8]) -> Vec<String> {
    let archive = zip::ZipArchive::new(Cursor::new(xlsx)).unwrap();
    archive.file_names().map(|name| name.unwrap().into_owned()).collect()
}

/// The `<c>` element of the cell at `reference` (e.g. `"E3"`), if any.
fn cell_element<'a>(sheet: &'a str, reference: &str) -> Option<&'a str> {
    let start = sheet.find(&format!("<c r=\"{reference}\""))?;
    let rest = &sheet[start..];
    // A cell is either `<c .../>` or `<c ...>...</c>`.
    let open_end = rest.find('>')?;
    if rest[..open_end].ends_with('/') {
        return Some(&rest[..=open_end]);
    }
    let end = rest.find("</c>")?;
    Some(&rest[..end + "</c>".len()])
}

/// The text of an inline-string cell, unescaped; `None` for a blank or missing
/// cell.
fn cell_text(sheet: &str, reference: &str) -> Option<String> {
    let cell = cell_element(sheet, reference)?;
    let start = cell.find("<t")?;
    let text_start = start + cell[start..].find('>')? + 1;
    let text_end = cell.find("</t>")?;
    Some(unescape(&cell[text_start..text_end]))
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("_x000D_", "\r")
        .replace("&amp;", "&")
}

/// The style index (`s` attribute) of a cell.
fn cell_style(sheet: &str, reference: &str) -> usize {
    let cell = cell_element(sheet, reference).unwrap();
    let start = cell.find(" s=\"").unwrap() + " s=\"".len();
    let end = start + cell[start..].find('"').unwrap();
    cell[start..end].parse().unwrap()
}

/// The `<xf>` elements of `<cellXfs>` in `xl/styles.xml`, by index.
fn cell_xfs(styles: &str) -> Vec<&str> {
    let start = styles.find("<cellXfs").unwrap();
    let end = styles.find("</cellXfs>").unwrap();
    styles[start..end].split("<xf ").skip(1).collect()
}

fn column_name(col: usize) -> char {
    char::from(b'A' + u8::try_from(col).unwrap())
}

#[test]
fn three_rows_read_back() {
    let mut writer = ExportWriter::new(PERIOD).unwrap();
    let mut rows = vec![sample_row(1), sample_row(2), sample_row(3)];
    rows[1].state = "approved".into();
    rows[1].tag = "待缴费".into();
    rows[1].id_number = "35010219900101****".into();
    rows[1].approved_at = "2026-05-02 10:30:00".into();
    rows[1].joint_invoice_remark = "与李四合开 & 王五 <合计2人>".into();
    rows[2].state = "paid".into();
    rows[2].tag = "已缴费".into();
    rows[2].id_number = "350102199001011234".into();
    rows[2].phone = "13800000000".into();
    rows[2].fee_yuan = "0.00".into();
    rows[2].invoice_title = String::new();
    rows[2].approved_at = "2026-05-02 10:30:00".into();
    rows[2].paid_at = "2026-05-03 08:00:00".into();
    for row in &rows {
        writer.push(row).unwrap();
    }
    assert_eq!(writer.rows(), 3);
    let xlsx = writer.finish().unwrap();

    assert!(xlsx.starts_with(b"PK\x03\x04"));
    let names = part_names(&xlsx);
    assert!(names.iter().any(|n| n == "xl/worksheets/sheet1.xml"), "{names:?}");
    // Constant-memory mode writes inline strings, no shared string table.
    assert!(!names.iter().any(|n| n == "xl/sharedStrings.xml"), "{names:?}");

    let workbook = read_part(&xlsx, "xl/workbook.xml");
    assert!(workbook.contains(&format!("<sheet name=\"{SHEET_NAME}\"")), "{workbook}");

    let sheet = read_part(&xlsx, "xl/worksheets/sheet1.xml");
    // Title, merged over the header's width.
    assert_eq!(cell_text(&sheet, "A1").as_deref(), Some(PERIOD));
    assert!(sheet.contains("<mergeCell ref=\"A1:P1\"/>"), "{sheet}");
    // Header row.
    for (col, header) in HEADERS.iter().enumerate() {
        let reference = format!("{}2", column_name(col));
        assert_eq!(cell_text(&sheet, &reference).as_deref(), Some(*header));
    }
    // Data rows, every non-empty value as an inline string, empty ones blank.
    for (i, row) in rows.iter().enumerate() {
        for (col, value) in row.cells().into_iter().enumerate() {
            let reference = format!("{}{}", column_name(col), i + 3);
            let cell = cell_element(&sheet, &reference).unwrap();
            if value.is_empty() {
                assert!(!cell.contains("t=\"inlineStr\""), "{cell}");
                assert_eq!(cell_text(&sheet, &reference), None);
            } else {
                assert!(cell.contains("t=\"inlineStr\""), "{cell}");
                assert_eq!(cell_text(&sheet, &reference).as_deref(), Some(value));
            }
        }
    }
    assert_eq!(cell_text(&sheet, "E5").as_deref(), Some("350102199001011234"));
    assert_eq!(cell_text(&sheet, "F5").as_deref(), Some("13800000000"));
    assert_eq!(cell_text(&sheet, "M4").as_deref(), Some("与李四合开 & 王五 <合计2人>"));
    assert_eq!(cell_element(&sheet, "A6"), None);
    assert_eq!(sheet.matches("<row ").count(), 5);
    // No numbers, no formulas.
    assert!(!sheet.contains("<f>") && !sheet.contains("<f "), "{sheet}");
    assert!(!sheet.contains("<v>"), "{sheet}");

    // Panes frozen below the header, column widths, autofilter over the data.
    assert!(
        sheet.contains(
            r#"<pane ySplit="2" topLeftCell="A3" activePane="bottomLeft" state="frozen"/>"#
        ),
        "{sheet}"
    );
    assert!(sheet.contains(r#"<col min="1" max="1" width="16.7109375" customWidth="1"/>"#));
    assert!(sheet.contains(r#"<col min="9" max="9" width="60.7109375" customWidth="1"/>"#));
    assert!(sheet.contains(r#"<col min="14" max="16" width="20.7109375" customWidth="1"/>"#));
    assert!(sheet.contains("<autoFilter ref=\"A2:P5\"/>"), "{sheet}");

    // Data cells carry the text number format `@` (numFmtId 49).
    let styles = read_part(&xlsx, "xl/styles.xml");
    let xfs = cell_xfs(&styles);
    let data_xf = xfs[cell_style(&sheet, "E5")];
    assert!(data_xf.contains("numFmtId=\"49\""), "{data_xf}");
    assert!(!data_xf.contains("quotePrefix"), "{data_xf}");
    // Blank cells keep it too, so typing into them later stays text.
    let blank_xf = xfs[cell_style(&sheet, "P3")];
    assert!(blank_xf.contains("numFmtId=\"49\""), "{blank_xf}");
}

#[test]
fn formula_like_values_stay_strings() {
    let payloads = [
        "=cmd|' /C calc'!A0",
        "=HYPERLINK(\"http://example.invalid\",\"click\")",
        "+1+1",
        "-2+3",
        "@SUM(A1:A2)",
        "\t=1+1",
        "\r=1+1",
        "＝1+1",
    ];
    let mut writer = ExportWriter::new("=期次").unwrap();
    for payload in payloads {
        let mut row = sample_row(7);
        row.name = payload.to_owned();
        row.employer = payload.to_owned();
        row.invoice_title = payload.to_owned();
        writer.push(&row).unwrap();
    }
    let xlsx = writer.finish().unwrap();
    let sheet = read_part(&xlsx, "xl/worksheets/sheet1.xml");
    let styles = read_part(&xlsx, "xl/styles.xml");
    let xfs = cell_xfs(&styles);

    // Not a single formula element anywhere.
    assert!(!sheet.contains("<f>") && !sheet.contains("<f "), "{sheet}");
    assert!(sheet.contains("=cmd|' /C calc'!A0</t>"), "{sheet}");

    for (i, payload) in payloads.iter().enumerate() {
        let row = i + 3;
        for col in ['C', 'G', 'L'] {
            let reference = format!("{col}{row}");
            let cell = cell_element(&sheet, &reference).unwrap();
            assert!(cell.contains("t=\"inlineStr\""), "{cell}");
            assert_eq!(cell_text(&sheet, &reference).as_deref(), Some(*payload));
            // The quote prefix keeps it text even after an edit in Excel.
            let xf = xfs[cell_style(&sheet, &reference)];
            assert!(xf.contains("quotePrefix=\"1\""), "{reference}: {xf}");
            assert!(xf.contains("numFmtId=\"49\""), "{reference}: {xf}");
        }
        // An ordinary value in the same row gets no quote prefix.
        let xf = xfs[cell_style(&sheet, &format!("A{row}"))];
        assert!(!xf.contains("quotePrefix"), "{xf}");
    }
    // The title is protected the same way.
    assert_eq!(cell_text(&sheet, "A1").as_deref(), Some("=期次"));
    assert!(xfs[cell_style(&sheet, "A1")].contains("quotePrefix=\"1\""));
}

#[test]
fn an_empty_export_is_a_valid_workbook() {
    let writer = ExportWriter::new(PERIOD).unwrap();
    assert_eq!(writer.rows(), 0);
    let xlsx = writer.finish().unwrap();
    assert!(xlsx.starts_with(b"PK\x03\x04"));
    let sheet = read_part(&xlsx, "xl/worksheets/sheet1.xml");
    assert_eq!(sheet.matches("<row ").count(), 2);
    assert_eq!(cell_text(&sheet, "P2").as_deref(), Some("缴费时间"));
    assert!(sheet.contains("<autoFilter ref=\"A2:P2\"/>"), "{sheet}");
}

#[test]
fn a_too_long_cell_is_refused_and_the_row_is_skipped() {
    let mut writer = ExportWriter::new(PERIOD).unwrap();
    writer.push(&sample_row(1)).unwrap();
    let mut long = sample_row(2);
    long.joint_invoice_remark = "备".repeat(MAX_CELL_LEN + 1);
    let err = writer.push(&long).unwrap_err();
    match err {
        ExportError::CellTooLong { column, len, max } => {
            assert_eq!(column, "合开发票备注");
            assert_eq!(len, MAX_CELL_LEN + 1);
            assert_eq!(max, MAX_CELL_LEN);
        }
        other => panic!("unexpected error: {other:?}"),
    }
    // Exactly at the limit is fine.
    let mut at_limit = sample_row(3);
    at_limit.joint_invoice_remark = "备".repeat(MAX_CELL_LEN);
    writer.push(&at_limit).unwrap();
    assert_eq!(writer.rows(), 2);

    let xlsx = writer.finish().unwrap();
    let sheet = read_part(&xlsx, "xl/worksheets/sheet1.xml");
    assert_eq!(cell_text(&sheet, "C3").as_deref(), Some("张三1"));
    assert_eq!(cell_text(&sheet, "C4").as_deref(), Some("张三3"));
    assert_eq!(cell_element(&sheet, "C5"), None);
}

#[test]
fn finish_to_writes_the_same_workbook() {
    let mut writer = ExportWriter::new(PERIOD).unwrap();
    writer.push(&sample_row(1)).unwrap();
    let mut out = Vec::new();
    writer.finish_to(&mut out).unwrap();
    assert!(out.starts_with(b"PK\x03\x04"));
    let sheet = read_part(&out, "xl/worksheets/sheet1.xml");
    assert_eq!(cell_text(&sheet, "C3").as_deref(), Some("张三1"));
}

#[test]
fn the_writer_can_move_to_a_blocking_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<ExportWriter>();
    assert_send::<ExportError>();
}

/// Peak resident set size of this process, in KiB, from `/proc/self/status`
/// (`None` where there is no procfs).
fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Counts `needle` in a stream without holding it in memory.
fn count_in_stream(mut reader: impl Read, needle: &[u8]) -> usize {
    let mut buf = vec![0_u8; 1 << 16];
    let mut carry: Vec<u8> = Vec::new();
    let mut count = 0;
    loop {
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            return count;
        }
        carry.extend_from_slice(&buf[..n]);
        count += carry.windows(needle.len()).filter(|w| *w == needle).count();
        let keep = needle.len() - 1;
        let drop = carry.len().saturating_sub(keep);
        carry.drain(..drop);
    }
}

#[test]
#[allow(clippy::print_stdout, reason = "reports time, size and memory with --nocapture")]
fn hundred_thousand_rows_with_bounded_memory() {
    const ROWS: u32 = 100_000;
    let hwm_before = vm_hwm_kib();
    let started = Instant::now();

    let mut writer = ExportWriter::new(PERIOD).unwrap();
    for i in 0..ROWS {
        writer.push(&sample_row(i)).unwrap();
    }
    assert_eq!(writer.rows(), ROWS);
    let pushed = started.elapsed();
    let xlsx = writer.finish().unwrap();
    let elapsed = started.elapsed();
    let hwm_after = vm_hwm_kib();

    println!(
        "100000 rows: push {:.2?}, total {:.2?}, output {} bytes ({:.1} MiB)",
        pushed,
        elapsed,
        xlsx.len(),
        f64::from(u32::try_from(xlsx.len()).unwrap()) / 1024.0 / 1024.0,
    );
    if let (Some(before), Some(after)) = (hwm_before, hwm_after) {
        let growth_mib = (after - before) / 1024;
        println!("VmHWM before {} KiB, after {} KiB, growth {} MiB", before, after, growth_mib);
        // 1.6 million cells held in memory would take several hundred MiB;
        // streamed, the growth is about the compressed output.
        assert!(growth_mib < 200, "VmHWM grew by {growth_mib} MiB");
    }

    // Read back without inflating the whole sheet into memory.
    assert!(xlsx.starts_with(b"PK\x03\x04"));
    let mut archive = zip::ZipArchive::new(Cursor::new(&xlsx)).unwrap();
    let sheet = archive.by_name("xl/worksheets/sheet1.xml").unwrap();
    println!("sheet1.xml uncompressed: {} bytes", sheet.size());
    assert_eq!(count_in_stream(sheet, b"<row "), usize::try_from(ROWS).unwrap() + 2);
    let sheet = archive.by_name("xl/worksheets/sheet1.xml").unwrap();
    assert_eq!(count_in_stream(sheet, b"<c r=\"C100002\""), 1);
    let sheet = archive.by_name("xl/worksheets/sheet1.xml").unwrap();
    assert_eq!(count_in_stream(sheet, b"<f>"), 0);
}
