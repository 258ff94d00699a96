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

// ---------------------------------------------------------------------------------------------
// The tax bureau's bulk-issue workbook
// ---------------------------------------------------------------------------------------------

mod tax {
    use std::io::Cursor;

    use baoming_exports::issued::{
        ImportError, IssuedImport, RowProblem, RowProblems, read_issued_invoices,
    };
    use baoming_exports::tax_workbook::{
        BASIC_COLUMNS, BASIC_SHEET, DETAIL_COLUMNS, DETAIL_SHEET, InvoiceSerial, ROSTER_HEADERS,
        ROSTER_SHEET, TaxWorkbookError, TaxWorkbookWriter, write_tax_workbook,
    };
    use baoming_invoicing::{
        DraftKind, Fen, InvoiceItemSettings, InvoiceItemSettingsInput, InvoiceSnapshot,
        InvoiceType, PaidRegistration, TitleKind, group_invoices,
    };
    use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
    use chrono::NaiveDate;
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

    use super::{cell_style, cell_xfs, read_part};

    const PERIOD: &str = "2026年第一期监理工程师考前培训";

    fn employer() -> InvoiceSnapshot {
        InvoiceSnapshot {
            kind: TitleKind::Company,
            invoice_type: InvoiceType::Normal,
            name: "福建某监理有限公司".into(),
            tax_id: Some("91350100M000100Y43".into()),
            address: None,
            phone: None,
            bank: None,
            bank_account: None,
            email: Some("caiwu@example.com".into()),
        }
    }

    fn special() -> InvoiceSnapshot {
        InvoiceSnapshot {
            kind: TitleKind::Company,
            invoice_type: InvoiceType::Special,
            name: "深圳市某某科技有限公司".into(),
            tax_id: Some("914403001922038216".into()),
            address: Some("深圳市南山区科技园".into()),
            phone: Some("0755-86013388".into()),
            bank: Some("招商银行深圳分行".into()),
            bank_account: Some("755901234567890".into()),
            email: None,
        }
    }

    fn personal(name: &str) -> InvoiceSnapshot {
        InvoiceSnapshot {
            kind: TitleKind::Personal,
            invoice_type: InvoiceType::Normal,
            name: name.into(),
            tax_id: None,
            address: None,
            phone: None,
            bank: None,
            bank_account: None,
            email: Some("zhaoliu@example.com".into()),
        }
    }

    fn paid(
        key: &str,
        name: &str,
        title: InvoiceSnapshot,
        joint: bool,
        fen: i64,
    ) -> PaidRegistration {
        PaidRegistration {
            key: key.into(),
            participant_name: name.into(),
            title,
            joint,
            joint_remark: joint.then(|| "与同事合开".to_owned()),
            paid: Fen(fen),
        }
    }

    fn serial(s: &str) -> InvoiceSerial {
        InvoiceSerial::parse(s).unwrap()
    }

    /// A sheet as a grid of cells, by 0-based (row, column), starting at A1.
    struct Grid(Vec<Vec<Data>>);

    impl Grid {
        fn get(&self, row: usize, col: usize) -> &Data {
            self.0.get(row).and_then(|r| r.get(col)).unwrap_or(&Data::Empty)
        }

        /// The text of a cell that must be a string cell; `""` for an empty one.
        fn text(&self, row: usize, col: usize) -> &str {
            match self.get(row, col) {
                Data::String(s) => s,
                Data::Empty => "",
                other => panic!("cell ({row}, {col}) is not a string: {other:?}"),
            }
        }

        fn rows(&self) -> usize {
            self.0.len()
        }
    }

    fn open(xlsx: &[u8]) -> (Vec<String>, Vec<Grid>) {
        let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(xlsx.to_vec())).unwrap();
        let names = workbook.sheet_names();
        let grids = names
            .iter()
            .map(|name| {
                let range = workbook.worksheet_range(name).unwrap();
                let (start_row, start_col) = range.start().unwrap_or((0, 0));
                let height = usize::try_from(start_row).unwrap() + range.height();
                let width = usize::try_from(start_col).unwrap() + range.width();
                let mut rows = vec![vec![Data::Empty; width]; height];
                for (r, c, value) in range.used_cells() {
                    rows[usize::try_from(start_row).unwrap() + r]
                        [usize::try_from(start_col).unwrap() + c] = value.clone();
                }
                Grid(rows)
            })
            .collect();
        (names, grids)
    }

    /// Checks rows 1–3 of a template sheet and that every data cell is a string or empty.
    fn check_template_sheet(grid: &Grid, headers: &[&str]) {
        assert!(grid.text(0, 0).starts_with("填表说明"), "{}", grid.text(0, 0));
        for (col, header) in headers.iter().enumerate() {
            let found = grid.text(2, col);
            // The merged region header is only in its first cell.
            if col > 0 && headers[col - 1] == *header {
                assert_eq!(found, "", "column {col}");
            } else {
                assert_eq!(found, *header, "column {col}");
                assert!(!grid.text(1, col).is_empty(), "note of column {col}");
            }
        }
        for row in 3..grid.rows() {
            for col in 0..headers.len().max(grid.0[row].len()) {
                assert!(
                    matches!(grid.get(row, col), Data::String(_) | Data::Empty),
                    "({row}, {col}): {:?}",
                    grid.get(row, col)
                );
            }
        }
    }

    fn col(headers: &[baoming_exports::tax_workbook::TemplateColumn], name: &str) -> usize {
        headers.iter().position(|c| c.header == name).unwrap()
    }

    /// The non-empty cells of a data row, as (header, value).
    fn filled<'a>(
        grid: &'a Grid,
        row: usize,
        columns: &[baoming_exports::tax_workbook::TemplateColumn],
    ) -> Vec<(&'static str, &'a str)> {
        columns
            .iter()
            .enumerate()
            .filter(|(c, _)| !grid.text(row, *c).is_empty())
            .map(|(c, column)| (column.header, grid.text(row, c)))
            .collect()
    }

    #[test]
    fn joint_personal_and_special_invoices_read_back_cell_by_cell() {
        let regs = [
            paid("r1", "张三", employer(), true, 68_000),
            paid("r2", "李四", employer(), true, 68_000),
            paid("r3", "王五", employer(), true, 68_000),
            paid("r4", "赵六", personal("赵六"), false, 68_000),
            paid("r5", "钱七", special(), false, 128_000),
        ];
        let drafts = group_invoices(PERIOD, &regs).unwrap();
        assert_eq!(drafts.len(), 3);
        assert_eq!(drafts[0].kind(), DraftKind::Joint);
        let serials = [serial("BM2601000001"), serial("BM2601000002"), serial("BM2601000003")];
        let xlsx = write_tax_workbook(&InvoiceItemSettings::default(), serials.iter().zip(&drafts))
            .unwrap();

        let (names, grids) = open(&xlsx);
        assert_eq!(names, [BASIC_SHEET, DETAIL_SHEET]);
        let (basic, detail) = (&grids[0], &grids[1]);
        let basic_headers: Vec<&str> = BASIC_COLUMNS.iter().map(|c| c.header).collect();
        let detail_headers: Vec<&str> = DETAIL_COLUMNS.iter().map(|c| c.header).collect();
        check_template_sheet(basic, &basic_headers);
        check_template_sheet(detail, &detail_headers);
        assert_eq!(basic.rows(), 6, "3 top rows and 3 invoices");
        assert_eq!(detail.rows(), 6, "one line per invoice");

        // The joint invoice: one row, three names in the remark, the sum as amount.
        assert_eq!(
            filled(basic, 3, &BASIC_COLUMNS),
            [
                ("发票流水号", "BM2601000001"),
                ("发票类型", "普通发票"),
                ("是否含税", "是"),
                ("受票方自然人标识", "否"),
                ("购买方名称", "福建某监理有限公司"),
                ("购买方纳税人识别号", "91350100M000100Y43"),
                ("备注", "2026年第一期监理工程师考前培训：张三、李四、王五"),
                ("购买方邮箱", "caiwu@example.com"),
            ]
        );
        assert_eq!(
            filled(detail, 3, &DETAIL_COLUMNS),
            [
                ("发票流水号", "BM2601000001"),
                ("项目名称", "*非学历教育服务*培训费"),
                ("商品和服务税收编码", "3070201020000000000"),
                ("单位", "人"),
                ("数量", "3"),
                ("单价", "680.00"),
                ("金额", "2040.00"),
                ("税率", "0.06"),
            ]
        );

        // The personal invoice.
        assert_eq!(
            filled(basic, 4, &BASIC_COLUMNS),
            [
                ("发票流水号", "BM2601000002"),
                ("发票类型", "普通发票"),
                ("是否含税", "是"),
                ("受票方自然人标识", "是"),
                ("购买方名称", "赵六"),
                ("备注", "2026年第一期监理工程师考前培训：赵六"),
                ("购买方邮箱", "zhaoliu@example.com"),
            ]
        );
        assert_eq!(detail.text(4, col(&DETAIL_COLUMNS, "金额")), "680.00");
        assert_eq!(detail.text(4, col(&DETAIL_COLUMNS, "数量")), "1");

        // The special VAT invoice with the buyer's bank details.
        assert_eq!(
            filled(basic, 5, &BASIC_COLUMNS),
            [
                ("发票流水号", "BM2601000003"),
                ("发票类型", "增值税专用发票"),
                ("是否含税", "是"),
                ("受票方自然人标识", "否"),
                ("购买方名称", "深圳市某某科技有限公司"),
                ("购买方纳税人识别号", "914403001922038216"),
                ("购买方地址", "深圳市南山区科技园"),
                ("购买方电话", "0755-86013388"),
                ("购买方开户银行", "招商银行深圳分行"),
                ("购买方银行账号", "755901234567890"),
                ("是否展示购买方地址电话银行账号", "展示地址、电话、开户银行及银行账号"),
                ("备注", "2026年第一期监理工程师考前培训：钱七"),
            ]
        );
        assert_eq!(
            filled(detail, 5, &DETAIL_COLUMNS),
            [
                ("发票流水号", "BM2601000003"),
                ("项目名称", "*非学历教育服务*培训费"),
                ("商品和服务税收编码", "3070201020000000000"),
                ("单位", "人"),
                ("数量", "1"),
                ("单价", "1280.00"),
                ("金额", "1280.00"),
                ("税率", "0.06"),
            ]
        );

        // Every data cell, blank ones included, has the text number format `@`.
        let styles = read_part(&xlsx, "xl/styles.xml");
        let xfs = cell_xfs(&styles);
        let sheet1 = read_part(&xlsx, "xl/worksheets/sheet1.xml");
        for reference in ["A4", "F4", "G5", "W6", "AM6", "C4"] {
            let xf = xfs[cell_style(&sheet1, reference)];
            assert!(xf.contains("numFmtId=\"49\""), "{reference}: {xf}");
        }
        let sheet2 = read_part(&xlsx, "xl/worksheets/sheet2.xml");
        assert!(!sheet2.contains("<v>") && !sheet2.contains("<f>"), "no numbers, no formulas");
        assert!(sheet1.contains("<mergeCell ref=\"L3:O3\"/>"), "region header merged");
    }

    #[test]
    fn a_long_joint_list_goes_to_the_roster_sheet() {
        let regs: Vec<PaidRegistration> = (0..60)
            .map(|i| paid(&format!("r{i:03}"), &format!("学员{i:03}"), employer(), true, 68_000))
            .chain([paid("x1", "赵六", personal("赵六"), false, 50_000)])
            .collect();
        let drafts = group_invoices(PERIOD, &regs).unwrap();
        assert_eq!(drafts.len(), 2);
        assert!(drafts[0].remark_is_cut());

        let mut writer = TaxWorkbookWriter::new(&InvoiceItemSettings::default()).unwrap();
        writer.push(&serial("BM01"), &drafts[0]).unwrap();
        writer.push(&serial("BM02"), &drafts[1]).unwrap();
        assert_eq!(writer.invoices(), 2);
        assert_eq!(writer.roster_rows(), 60);
        let xlsx = writer.finish().unwrap();

        let (names, grids) = open(&xlsx);
        assert_eq!(names, [BASIC_SHEET, DETAIL_SHEET, ROSTER_SHEET]);
        let remark = grids[0].text(3, col(&BASIC_COLUMNS, "备注"));
        assert!(remark.chars().count() <= 230, "{remark}");
        assert!(remark.starts_with("2026年第一期监理工程师考前培训：学员000、学员001、"));
        assert!(remark.ends_with("等60人（名单见附表）"), "{remark}");
        assert_eq!(grids[1].text(3, col(&DETAIL_COLUMNS, "数量")), "60");
        assert_eq!(grids[1].text(3, col(&DETAIL_COLUMNS, "金额")), "40800.00");

        let roster = &grids[2];
        assert!(roster.text(0, 0).starts_with("合开人员名单"));
        for (c, header) in ROSTER_HEADERS.iter().enumerate() {
            assert_eq!(roster.text(2, c), *header);
        }
        assert_eq!(roster.rows(), 3 + 60);
        for i in 0..60 {
            let row = 3 + i;
            assert_eq!(roster.text(row, 0), "BM01");
            assert_eq!(roster.text(row, 1), "福建某监理有限公司");
            assert_eq!(roster.text(row, 2), (i + 1).to_string());
            assert_eq!(roster.text(row, 3), format!("学员{i:03}"));
            assert_eq!(roster.text(row, 4), "680.00");
            assert_eq!(roster.text(row, 5), format!("r{i:03}"));
        }
        // The personal invoice is not in the roster.
        assert!((3..roster.rows()).all(|r| roster.text(r, 0) != "BM02"));
    }

    #[test]
    fn tax_exclusive_exempt_and_unequal_fees() {
        let settings = InvoiceItemSettings::parse(&InvoiceItemSettingsInput {
            item_name: Some("培训费".into()),
            tax_rate: Some("免税".into()),
            prices_include_tax: Some(false),
            unit: Some(String::new()),
            show_buyer_contact: Some(false),
            ..InvoiceItemSettingsInput::default()
        })
        .unwrap();
        let regs = [
            paid("r1", "张三", employer(), true, 68_000),
            paid("r2", "李四", employer(), true, 50_000),
            paid("r3", "钱七", special(), false, 128_000),
        ];
        let drafts = group_invoices(PERIOD, &regs).unwrap();
        let serials = [serial("A1"), serial("A2")];
        let xlsx = write_tax_workbook(&settings, serials.iter().zip(&drafts)).unwrap();
        let (_, grids) = open(&xlsx);
        assert_eq!(grids[0].text(3, col(&BASIC_COLUMNS, "是否含税")), "否");
        assert_eq!(grids[0].text(4, col(&BASIC_COLUMNS, "是否展示购买方地址电话银行账号")), "");
        assert_eq!(
            filled(&grids[1], 3, &DETAIL_COLUMNS),
            [
                ("发票流水号", "A1"),
                ("项目名称", "培训费"),
                ("商品和服务税收编码", "3070201020000000000"),
                // Unequal fees: no quantity and unit price.
                ("金额", "1180.00"),
                ("税率", "0"),
                ("是否使用优惠政策", "是"),
                ("优惠政策类型", "免税"),
            ]
        );

        // At 6% without tax, 金额 is the amount without tax of the fees paid.
        let settings =
            InvoiceItemSettings { prices_include_tax: false, ..InvoiceItemSettings::default() };
        let xlsx = write_tax_workbook(&settings, serials.iter().zip(&drafts)).unwrap();
        let (_, grids) = open(&xlsx);
        // 1280.00 / 1.06 = 1207.547… → 1207.55 (1207.55 × 0.06 = 72.45; 1207.55 + 72.45 = 1280.00).
        assert_eq!(grids[1].text(4, col(&DETAIL_COLUMNS, "金额")), "1207.55");
        assert_eq!(grids[1].text(4, col(&DETAIL_COLUMNS, "单价")), "1207.55");
        assert_eq!(grids[1].text(4, col(&DETAIL_COLUMNS, "税率")), "0.06");
        assert_eq!(grids[1].text(4, col(&DETAIL_COLUMNS, "是否使用优惠政策")), "");
    }

    #[test]
    fn refused_invoices_leave_no_trace() {
        let mut long_email = employer();
        long_email.email = Some(format!("{}@example.com", "a".repeat(61)));
        let regs = [
            paid("r1", "张三", personal("张三"), false, 100),
            paid("r2", "李四", long_email, false, 200),
            paid("r3", "王五", personal("王五"), false, 300),
        ];
        let drafts = group_invoices(PERIOD, &regs).unwrap();
        let mut writer = TaxWorkbookWriter::new(&InvoiceItemSettings::default()).unwrap();
        writer.push(&serial("S1"), &drafts[0]).unwrap();
        let err = writer.push(&serial("S1"), &drafts[2]).unwrap_err();
        assert!(matches!(&err, TaxWorkbookError::DuplicateSerial { serial } if serial == "S1"));
        assert_eq!(err.code(), "duplicate_serial");
        let err = writer.push(&serial("S2"), &drafts[1]).unwrap_err();
        match &err {
            TaxWorkbookError::TooLong { serial, column, len, max } => {
                assert_eq!((serial.as_str(), *column, *len, *max), ("S2", "购买方邮箱", 73, 72));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(err.to_string(), "发票S2的“购买方邮箱”有73个字符，超过模板允许的72个");
        writer.push(&serial("S3"), &drafts[2]).unwrap();
        assert_eq!(writer.invoices(), 2);
        let mut xlsx = Vec::new();
        writer.finish_to(&mut xlsx).unwrap();
        let (_, grids) = open(&xlsx);
        for grid in &grids {
            assert_eq!(grid.rows(), 5);
            assert_eq!(grid.text(3, 0), "S1");
            assert_eq!(grid.text(4, 0), "S3");
        }
    }

    #[test]
    fn formula_like_buyer_names_are_quoted_text() {
        let mut title = personal("=HYPERLINK(\"http://example.invalid\",\"x\")");
        title.email = None;
        let drafts = group_invoices("-期次", &[paid("r1", "+张三", title, false, 100)]).unwrap();
        let xlsx =
            write_tax_workbook(&InvoiceItemSettings::default(), [(&serial("Q1"), &drafts[0])])
                .unwrap();
        let (_, grids) = open(&xlsx);
        assert_eq!(
            grids[0].text(3, col(&BASIC_COLUMNS, "购买方名称")),
            "=HYPERLINK(\"http://example.invalid\",\"x\")"
        );
        assert_eq!(grids[0].text(3, col(&BASIC_COLUMNS, "备注")), "-期次：+张三");
        let sheet1 = read_part(&xlsx, "xl/worksheets/sheet1.xml");
        assert!(!sheet1.contains("<f>"), "{sheet1}");
        let styles = read_part(&xlsx, "xl/styles.xml");
        let xfs = cell_xfs(&styles);
        for reference in ["F4", "W4"] {
            assert!(
                xfs[cell_style(&sheet1, reference)].contains("quotePrefix=\"1\""),
                "{reference}"
            );
        }
        assert!(!xfs[cell_style(&sheet1, "A4")].contains("quotePrefix"));
    }

    // -----------------------------------------------------------------------------------------
    // Importing the issued numbers
    // -----------------------------------------------------------------------------------------

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    const N1: &str = "26352000000000000001";
    const N2: &str = "26352000000000000002";
    const N3: &str = "26352000000000000003";
    const N4: &str = "26352000000000000004";
    const N5: &str = "26352000000000000005";
    const N6: &str = "26352000000000000006";

    /// A workbook as the bureau might return it: a title on row 1, the headers on row 2 in
    /// another order than ours, with extra columns and header variants, then the rows.
    fn issued_workbook() -> Vec<u8> {
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet();
        sheet.set_name("开具结果").unwrap();
        sheet.write_string(0, 0, "批量开具结果（2026-12-21导出）").unwrap();
        let headers = [
            "序号",
            "开票日期",
            "购买方名称",
            " 数电发票号码（20位） ",
            "发票号码",
            "价税合计",
            " 发票\n流水号 ",
            "状态",
        ];
        // "数电发票号码（20位）" is not an accepted name: the plain 发票号码 column is used.
        for (c, h) in (0_u16..).zip(headers) {
            sheet.write_string(1, c, h).unwrap();
        }
        let text = |row: u32, values: [&str; 8]| -> Vec<(u32, u16, String)> {
            (0_u16..)
                .zip(values)
                .filter(|(_, v)| !v.is_empty())
                .map(|(c, v)| (row, c, v.to_owned()))
                .collect()
        };
        let mut cells = Vec::new();
        cells.extend(text(
            2,
            ["1", "2026-12-20", "福建某监理有限公司", "", N1, "2040.00", "BM01", "成功"],
        ));
        cells.extend(text(3, ["2", "2026/12/20", "赵六", "", N2, "680.00", "BM02", "成功"]));
        cells.extend(text(4, ["3", "2026年12月21日", "钱七", "", N3, "1280.00", "BM03", "成功"]));
        // Row 6: the date as an Excel date cell (written below).
        cells.extend(text(5, ["4", "", "孙八", "", N4, "100.00", "BM04", "成功"]));
        // Row 7: a bad date.
        cells.extend(text(6, ["5", "2026-13-01", "周九", "", N5, "100.00", "BM05", "成功"]));
        // Row 8: the serial left empty.
        cells.extend(text(7, ["6", "2026-12-20", "吴十", "", N6, "100.00", "", "成功"]));
        // Row 9: failed, no number.
        cells.extend(text(8, ["7", "", "郑一", "", "", "100.00", "BM07", "失败：购买方名称有误"]));
        // Row 10 is blank. Row 11: BM01 again, identical: a harmless repeat.
        cells.extend(text(
            10,
            ["8", "2026-12-20", "福建某监理有限公司", "", N1, "2040.00", "BM01", "成功"],
        ));
        // Rows 12 and 13: BM09 twice with different numbers.
        cells.extend(text(
            11,
            ["9", "2026-12-22", "王二", "", "26352000000000000090", "1.00", "BM09", "成功"],
        ));
        cells.extend(text(
            12,
            ["10", "2026-12-22", "王二", "", "26352000000000000091", "1.00", "BM09", "成功"],
        ));
        // Row 14: a totals line.
        cells.extend(text(13, ["合计", "", "", "", "", "4400.00", "", ""]));
        for (r, c, v) in cells {
            sheet.write_string(r, c, v).unwrap();
        }
        let date_format = Format::new().set_num_format("yyyy-mm-dd");
        let dt = ExcelDateTime::from_ymd(2026, 12, 22).unwrap();
        sheet.write_datetime_with_format(5, 1, &dt, &date_format).unwrap();
        // Row 15: the number typed as a number (its last digits lost), date as a plain serial.
        sheet.write_string(14, 6, "BM10").unwrap();
        // 26352000000000000001 as an f64 keeps only about 16 digits.
        sheet.write_number(14, 4, 2.6352e19).unwrap();
        sheet.write_number(14, 1, 46_376.0).unwrap();
        // Row 16: date as a plain serial number, fine otherwise.
        sheet.write_string(15, 6, "BM11").unwrap();
        sheet.write_string(15, 4, "26352000000000000011").unwrap();
        sheet.write_number(15, 1, 46_376.0).unwrap();
        workbook.save_to_buffer().unwrap()
    }

    fn problem_summary(import: &IssuedImport) -> Vec<(u32, Option<&str>, Vec<&'static str>)> {
        import
            .problems
            .iter()
            .map(|p: &RowProblems| {
                (p.row, p.serial.as_deref(), p.problems.iter().map(RowProblem::code).collect())
            })
            .collect()
    }

    #[test]
    fn issued_numbers_are_read_by_header_name() {
        let import = read_issued_invoices(&issued_workbook()).unwrap();
        assert_eq!(import.sheet, "开具结果");
        assert_eq!(import.header_row, 2);
        let invoices: Vec<(u32, &str, &str, NaiveDate)> = import
            .invoices
            .iter()
            .map(|i| (i.row, i.serial.as_str(), i.number.as_str(), i.issued_on))
            .collect();
        assert_eq!(
            invoices,
            [
                (3, "BM01", N1, date(2026, 12, 20)),
                (4, "BM02", N2, date(2026, 12, 20)),
                (5, "BM03", N3, date(2026, 12, 21)),
                (6, "BM04", N4, date(2026, 12, 22)),
                (16, "BM11", "26352000000000000011", date(2026, 12, 20)),
            ]
        );
        assert_eq!(
            problem_summary(&import),
            [
                (7, Some("BM05"), vec!["invalid_date"]),
                (8, None, vec!["missing_serial"]),
                (9, Some("BM07"), vec!["missing_number", "missing_date"]),
                (11, Some("BM01"), vec!["repeated_row"]),
                (12, Some("BM09"), vec!["conflicting_serial"]),
                (13, Some("BM09"), vec!["conflicting_serial"]),
                (14, None, vec!["missing_serial", "missing_number", "missing_date"]),
                (15, Some("BM10"), vec!["number_not_text"]),
            ]
        );
        let p = |row: u32| &import.problems.iter().find(|p| p.row == row).unwrap().problems[0];
        assert_eq!(p(7), &RowProblem::InvalidDate { value: "2026-13-01".into() });
        assert_eq!(p(11), &RowProblem::RepeatedRow { first_row: 3 });
        assert_eq!(p(12), &RowProblem::ConflictingSerial { rows: vec![12, 13] });
        assert_eq!(p(7).to_string(), "开票日期“2026-13-01”无法识别");
    }

    #[test]
    fn a_number_under_two_serials_is_withheld() {
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet();
        for (c, h) in (0_u16..).zip(["发票流水号", "数电票号码", "开票日期"]) {
            sheet.write_string(0, c, h).unwrap();
        }
        for (r, s) in (1_u32..).zip(["A1", "A2", "A3"]) {
            sheet.write_string(r, 0, s).unwrap();
            sheet.write_string(r, 1, if s == "A3" { N3 } else { N1 }).unwrap();
            sheet.write_string(r, 2, "2026-12-20").unwrap();
        }
        let import = read_issued_invoices(&workbook.save_to_buffer().unwrap()).unwrap();
        assert_eq!(import.header_row, 1);
        assert_eq!(import.invoices.len(), 1);
        assert_eq!(import.invoices[0].serial.as_str(), "A3");
        assert_eq!(
            problem_summary(&import),
            [(2, Some("A1"), vec!["duplicate_number"]), (3, Some("A2"), vec!["duplicate_number"])]
        );
    }

    #[test]
    fn a_missing_header_is_named() {
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet();
        for (c, h) in (0_u16..).zip(["发票流水号", "发票号码", "开票人"]) {
            sheet.write_string(3, c, h).unwrap();
        }
        sheet.write_string(4, 0, "BM01").unwrap();
        let err = read_issued_invoices(&workbook.save_to_buffer().unwrap()).unwrap_err();
        assert_eq!(err, ImportError::MissingHeaders { missing: vec!["开票日期"] });
        assert_eq!(err.to_string(), "找不到表头：开票日期（表头须在前5行内）");

        // Headers below row 5 are not looked for.
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet();
        for (c, h) in (0_u16..).zip(["发票流水号", "发票号码", "开票日期"]) {
            sheet.write_string(5, c, h).unwrap();
        }
        let err = read_issued_invoices(&workbook.save_to_buffer().unwrap()).unwrap_err();
        assert_eq!(err.code(), "missing_headers");

        // An empty workbook.
        let mut workbook = Workbook::new();
        workbook.add_worksheet();
        let err = read_issued_invoices(&workbook.save_to_buffer().unwrap()).unwrap_err();
        assert_eq!(
            err,
            ImportError::MissingHeaders {
                missing: vec!["发票流水号", "发票号码", "开票日期"]
            }
        );
    }

    #[test]
    fn the_headers_may_be_on_a_later_sheet() {
        let mut workbook = Workbook::new();
        workbook.add_worksheet().write_string(0, 0, "说明").unwrap();
        let sheet = workbook.add_worksheet();
        sheet.set_name("明细").unwrap();
        for (c, h) in (0_u16..).zip(["开票日期", "流水号", "全电发票号码"]) {
            sheet.write_string(4, c, h).unwrap();
        }
        sheet.write_string(5, 0, "2026-12-20 10:11:12").unwrap();
        sheet.write_string(5, 1, "BM01").unwrap();
        sheet.write_string(5, 2, N1).unwrap();
        let import = read_issued_invoices(&workbook.save_to_buffer().unwrap()).unwrap();
        assert_eq!((import.sheet.as_str(), import.header_row), ("明细", 5));
        assert_eq!(import.invoices.len(), 1);
        assert_eq!(import.invoices[0].row, 6);
        assert!(import.problems.is_empty());
    }

    #[test]
    fn a_far_away_cell_does_not_blow_up_memory() {
        // A sheet whose cells span the whole worksheet: reading it as a dense range would
        // need 17 billion cells; the importer streams the cells instead.
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet();
        for (c, h) in (0_u16..).zip(["发票流水号", "发票号码", "开票日期"]) {
            sheet.write_string(0, c, h).unwrap();
        }
        sheet.write_string(1, 0, "BM01").unwrap();
        sheet.write_string(1, 1, N1).unwrap();
        sheet.write_string(1, 2, "2026-12-20").unwrap();
        sheet.write_string(1_048_575, 16_383, "x").unwrap();
        let import = read_issued_invoices(&workbook.save_to_buffer().unwrap()).unwrap();
        assert_eq!(import.invoices.len(), 1);
        assert_eq!(
            problem_summary(&import),
            [(1_048_576, None, vec!["missing_serial", "missing_number", "missing_date"])]
        );
    }

    #[test]
    fn not_a_workbook_or_too_large() {
        let err = read_issued_invoices(b"PK\x03\x04garbage").unwrap_err();
        assert_eq!(err.code(), "not_a_workbook");

        // A zip declaring 65 MiB of content.
        let mut out = Cursor::new(Vec::new());
        {
            let mut zip = zip::ZipWriter::new(&mut out);
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            zip.start_file("xl/worksheets/sheet1.xml", options).unwrap();
            let zeros = vec![0_u8; 1 << 20];
            for _ in 0..65 {
                std::io::Write::write_all(&mut zip, &zeros).unwrap();
            }
            zip.finish().unwrap();
        }
        let bytes = out.into_inner();
        assert!(bytes.len() < 1 << 20, "compressed to {} bytes", bytes.len());
        assert_eq!(read_issued_invoices(&bytes).unwrap_err(), ImportError::TooLarge);
    }

    #[test]
    fn our_own_workbook_is_not_an_issue_result() {
        // Our own upload has the serials (headers on row 3) but no number or date columns.
        let drafts =
            group_invoices(PERIOD, &[paid("r1", "张三", personal("张三"), false, 100)]).unwrap();
        let xlsx =
            write_tax_workbook(&InvoiceItemSettings::default(), [(&serial("BM01"), &drafts[0])])
                .unwrap();
        let err = read_issued_invoices(&xlsx).unwrap_err();
        assert_eq!(err, ImportError::MissingHeaders { missing: vec!["发票号码", "开票日期"] });
    }
}

#[test]
fn a_seat_plan_reads_back() {
    use baoming_exports::seat_plan::{self, SeatPlanRow, SeatPlanWriter};
    let mut writer = SeatPlanWriter::new("2026年第二期 考场编排").unwrap();
    let row = |seat: u32, name: &str| SeatPlanRow {
        site: "01".into(),
        site_name: "福建建设培训中心".into(),
        room: "02".into(),
        seat: format!("{seat:02}"),
        row: "1".into(),
        column: seat.to_string(),
        ticket_number: format!("26010102{seat:02}"),
        name: name.into(),
        gender: "男".into(),
        id_number: "110105********002X".into(),
        employer: "=某监理公司".into(),
        region: "福州".into(),
    };
    writer.push(&row(1, "王䶮")).unwrap();
    writer.push(&row(2, "李四")).unwrap();
    let xlsx = writer.finish().unwrap();
    let book = read_part(&xlsx, "xl/workbook.xml");
    assert!(book.contains(seat_plan::SHEET_NAME), "{book}");
    let sheet = read_part(&xlsx, "xl/worksheets/sheet1.xml");
    assert_eq!(cell_text(&sheet, "A1").as_deref(), Some("2026年第二期 考场编排"));
    for (col, header) in seat_plan::HEADERS.iter().enumerate() {
        assert_eq!(cell_text(&sheet, &format!("{}2", column_name(col))).as_deref(), Some(*header));
    }
    assert_eq!(cell_text(&sheet, "G3").as_deref(), Some("2601010201"));
    assert_eq!(cell_text(&sheet, "H3").as_deref(), Some("王䶮"));
    assert_eq!(cell_text(&sheet, "H4").as_deref(), Some("李四"));
    // A formula-looking employer stays text, with the quote prefix.
    assert_eq!(cell_text(&sheet, "K3").as_deref(), Some("=某监理公司"));
    let styles = read_part(&xlsx, "xl/styles.xml");
    assert!(cell_xfs(&styles)[cell_style(&sheet, "K3")].contains("quotePrefix=\"1\""));
}
