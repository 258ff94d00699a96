//! Reading back the issued invoice numbers: after the bulk issue, finance downloads the
//! result from the e-tax bureau and imports it here, so each serial (发票流水号) of
//! [`crate::tax_workbook`] gets its 数电发票 number and issue date.
//!
//! [`read_issued_invoices`] reads an `.xlsx` workbook with `calamine`, streaming the cells
//! (no sheet is ever expanded to its declared dimensions) after checking the sizes the
//! archive declares.
//!
//! # Finding the columns
//!
//! Columns are found by header name, never by position. The header row is the first row
//! among rows 1–[`HEADER_SEARCH_ROWS`] of the first sheet (in workbook order) that has all
//! three required headers; other columns, their order and a title above the headers do not
//! matter. Header text is compared after [`normalize_header`]: surrounding and inner
//! whitespace (including the ideographic space and line breaks) removed, full-width ASCII
//! folded (`（数电）` equals `(数电)`), `*` required-markers at either end dropped. Accepted
//! names, after normalisation:
//!
//! | field | headers |
//! | --- | --- |
//! | serial | `发票流水号`, `流水号` |
//! | number | `数电发票号码`, `数电票号码`, `全电发票号码`, `发票号码(数电)`, `发票号码` |
//! | date | `开票日期`, `开票时间`, `开具日期` |
//!
//! Bureau exports may carry both `发票号码` and `数电票号码` (the former empty for 数电
//! invoices): every number column found is read, and in each row the first non-empty one in
//! the order of the table wins. If a required header is repeated, its first column counts.
//!
//! # Reading the rows
//!
//! Every row below the headers that has any non-empty cell is either imported or reported
//! with its problems ([`RowProblem`]); completely empty rows are skipped.
//!
//! - serial: an [`InvoiceSerial`]; a whole number in a numeric cell is read as its digits;
//! - number: 20 digits ([`InvoiceNumber`]), as text: a numeric cell is refused, because a
//!   20-digit number cannot survive as an Excel number;
//! - date: text `2026-12-20`, `2026/12/20`, `2026.12.20`, `2026年12月20日` (one- or two-digit
//!   month and day, full-width digits accepted) or `20261220`, optionally followed by a time
//!   after a space or `T`; or a date cell or any number, read as an Excel date serial (in the
//!   workbook's 1900 or 1904 system). The year must be within 2000–2099.
//!
//! Duplicates are checked among the rows without other problems: a serial listed twice with
//! the same number and date keeps its first row (the repeat is reported); a serial with
//! different numbers or dates, or a number listed under two serials, keeps none of them (each
//! is reported), for finance to sort out.
//!
//! # Example
//!
//! ```
//! use baoming_exports::issued::{read_issued_invoices, ImportError};
//!
//! let err = read_issued_invoices(b"not a workbook").unwrap_err();
//! assert!(matches!(err, ImportError::NotAWorkbook(_)));
//! assert_eq!(err.code(), "not_a_workbook");
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{Cursor, Read, Seek};
use std::str::FromStr;

use calamine::{DataRef, ExcelDateTime, ExcelDateTimeType, Reader, Xlsx};
use chrono::{Datelike, NaiveDate};

use crate::tax_workbook::InvoiceSerial;

/// How many rows from the top are searched for the header row.
pub const HEADER_SEARCH_ROWS: u32 = 5;

/// The most data rows (with any content) an import may have.
pub const MAX_IMPORT_ROWS: usize = 100_000;

/// The most bytes the workbook's parts may declare, uncompressed, in total.
pub const MAX_UNCOMPRESSED_BYTES: u64 = 64 * 1024 * 1024;

/// The most parts (files) the workbook's archive may have.
pub const MAX_PARTS: usize = 10_000;

/// The accepted headers of the serial column, normalised.
pub const SERIAL_HEADERS: [&str; 2] = ["发票流水号", "流水号"];
/// The accepted headers of the number column, normalised, in order of preference.
pub const NUMBER_HEADERS: [&str; 5] =
    ["数电发票号码", "数电票号码", "全电发票号码", "发票号码(数电)", "发票号码"];
/// The accepted headers of the date column, normalised.
pub const DATE_HEADERS: [&str; 3] = ["开票日期", "开票时间", "开具日期"];

// ---------------------------------------------------------------------------------------------
// Invoice number
// ---------------------------------------------------------------------------------------------

/// The value given is not a 数电发票 number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("数电发票号码应为20位数字")]
pub struct InvalidInvoiceNumber;

impl InvalidInvoiceNumber {
    /// The stable machine code, `invalid_number`.
    pub const fn code(self) -> &'static str {
        "invalid_number"
    }
}

/// The number of an issued 数电发票 (fully digitalised e-invoice): exactly 20 digits.
///
/// Surrounding whitespace is trimmed and full-width digits are folded; nothing else is
/// accepted (the older 8-digit numbers with a separate invoice code are not 数电 numbers).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InvoiceNumber(String);

impl InvoiceNumber {
    /// The number of digits.
    pub const LEN: usize = 20;

    /// Trims, folds full-width digits and checks a number.
    pub fn parse(raw: &str) -> Result<InvoiceNumber, InvalidInvoiceNumber> {
        let s: String = raw.trim().chars().map(fold_fullwidth).collect();
        if s.len() == Self::LEN && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(InvoiceNumber(s))
        } else {
            Err(InvalidInvoiceNumber)
        }
    }

    /// The 20 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InvoiceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for InvoiceNumber {
    type Err = InvalidInvoiceNumber;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        InvoiceNumber::parse(s)
    }
}

impl AsRef<str> for InvoiceNumber {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

// ---------------------------------------------------------------------------------------------
// Results and problems
// ---------------------------------------------------------------------------------------------

/// One issued invoice read from the workbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedInvoice {
    /// The serial the invoice was uploaded with.
    pub serial: InvoiceSerial,
    /// The 数电发票 number.
    pub number: InvoiceNumber,
    /// The issue date (Beijing date, as printed).
    pub issued_on: NaiveDate,
    /// The 1-based worksheet row it was read from.
    pub row: u32,
}

/// One problem of one row. The `Display` text is a short Chinese message for finance staff.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowProblem {
    /// The serial cell is empty.
    #[error("缺少发票流水号")]
    MissingSerial,
    /// The serial is not a valid serial.
    #[error("发票流水号“{value}”无效")]
    InvalidSerial {
        /// The cell's text.
        value: String,
    },
    /// No number cell has a value (e.g. the invoice failed to issue).
    #[error("缺少发票号码")]
    MissingNumber,
    /// The number is not 20 digits.
    #[error("发票号码“{value}”不是20位数字")]
    InvalidNumber {
        /// The cell's text.
        value: String,
    },
    /// The number is stored as an Excel number, so its last digits are probably lost.
    #[error("发票号码是数值格式（{value}），20位号码可能已被Excel截断，请以文本格式导出")]
    NumberNotText {
        /// The cell's value as read.
        value: String,
    },
    /// The date cell is empty.
    #[error("缺少开票日期")]
    MissingDate,
    /// The date cannot be read, or is not within 2000–2099.
    #[error("开票日期“{value}”无法识别")]
    InvalidDate {
        /// The cell's text or value.
        value: String,
    },
    /// A required cell holds an Excel error such as `#N/A`.
    #[error("“{column}”单元格为错误值")]
    ErrorCell {
        /// The column's header as found.
        column: String,
    },
    /// The same serial is listed on another row with the same number and date: this row is a
    /// repeat and is not imported again.
    #[error("与第{first_row}行重复")]
    RepeatedRow {
        /// The row that is imported.
        first_row: u32,
    },
    /// The same serial is listed on several rows with different numbers or dates: none of
    /// them is imported.
    #[error("发票流水号在多行出现且号码或日期不同（第{}行）", join_rows(.rows))]
    ConflictingSerial {
        /// All the rows with that serial.
        rows: Vec<u32>,
    },
    /// The same number is listed under several serials: none of them is imported.
    #[error("同一发票号码对应多个发票流水号（第{}行）", join_rows(.rows))]
    DuplicateNumber {
        /// All the rows with that number.
        rows: Vec<u32>,
    },
}

fn join_rows(rows: &[u32]) -> String {
    rows.iter().map(u32::to_string).collect::<Vec<_>>().join("、")
}

impl RowProblem {
    /// A stable machine code: `missing_serial`, `invalid_serial`, `missing_number`,
    /// `invalid_number`, `number_not_text`, `missing_date`, `invalid_date`, `error_cell`,
    /// `repeated_row`, `conflicting_serial` or `duplicate_number`.
    pub fn code(&self) -> &'static str {
        match self {
            RowProblem::MissingSerial => "missing_serial",
            RowProblem::InvalidSerial { .. } => "invalid_serial",
            RowProblem::MissingNumber => "missing_number",
            RowProblem::InvalidNumber { .. } => "invalid_number",
            RowProblem::NumberNotText { .. } => "number_not_text",
            RowProblem::MissingDate => "missing_date",
            RowProblem::InvalidDate { .. } => "invalid_date",
            RowProblem::ErrorCell { .. } => "error_cell",
            RowProblem::RepeatedRow { .. } => "repeated_row",
            RowProblem::ConflictingSerial { .. } => "conflicting_serial",
            RowProblem::DuplicateNumber { .. } => "duplicate_number",
        }
    }
}

/// The problems of one row that was not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblems {
    /// The 1-based worksheet row.
    pub row: u32,
    /// The serial cell's text, when not empty (valid or not), to help finance find the row.
    pub serial: Option<String>,
    /// What is wrong, never empty.
    pub problems: Vec<RowProblem>,
}

/// What an import found: the invoices read and the rows that were not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedImport {
    /// The sheet the invoices were read from.
    pub sheet: String,
    /// The 1-based row of the headers.
    pub header_row: u32,
    /// The invoices, in row order.
    pub invoices: Vec<IssuedInvoice>,
    /// The rows not imported, in row order.
    pub problems: Vec<RowProblems>,
}

/// Why a workbook cannot be imported at all. The `Display` text is a short Chinese message for
/// finance staff.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The bytes are not a readable `.xlsx` workbook.
    #[error("无法读取该文件，请上传税局导出的.xlsx工作簿：{0}")]
    NotAWorkbook(String),
    /// The archive declares more content than [`MAX_UNCOMPRESSED_BYTES`] or more parts than
    /// [`MAX_PARTS`].
    #[error("工作簿过大，请只导出需要的发票")]
    TooLarge,
    /// No sheet has all the required headers within its first rows.
    #[error("找不到表头：{}（表头须在前5行内）", .missing.join("、"))]
    MissingHeaders {
        /// The missing headers, by their main name (`发票流水号`, `发票号码`, `开票日期`), for
        /// the sheet and row that came closest.
        missing: Vec<&'static str>,
    },
    /// More than [`MAX_IMPORT_ROWS`] rows with content.
    #[error("一次最多导入{max}行")]
    TooManyRows {
        /// The limit.
        max: usize,
    },
}

impl ImportError {
    /// A stable machine code: `not_a_workbook`, `too_large`, `missing_headers` or
    /// `too_many_rows`.
    pub fn code(&self) -> &'static str {
        match self {
            ImportError::NotAWorkbook(_) => "not_a_workbook",
            ImportError::TooLarge => "too_large",
            ImportError::MissingHeaders { .. } => "missing_headers",
            ImportError::TooManyRows { .. } => "too_many_rows",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/// Normalises a header for comparison: full-width ASCII folded to ASCII, every whitespace,
/// control and invisible character removed, `*` at either end dropped.
///
/// ```
/// use baoming_exports::issued::normalize_header;
///
/// assert_eq!(normalize_header(" 发票号码（数电）\n"), "发票号码(数电)");
/// assert_eq!(normalize_header("*开票\u{3000}日期"), "开票日期");
/// ```
pub fn normalize_header(raw: &str) -> String {
    let s: String = raw
        .chars()
        .map(fold_fullwidth)
        .filter(|c| !(c.is_whitespace() || c.is_control() || is_invisible(*c)))
        .collect();
    s.trim_matches('*').to_owned()
}

/// The columns of the three fields, found in a header row.
#[derive(Debug, Clone)]
struct Columns {
    serial: u32,
    /// Number columns in order of preference.
    numbers: Vec<u32>,
    date: u32,
}

/// Matches the required headers in one row's cells (column → normalised text): the columns,
/// or the main names of the missing headers.
fn match_headers(cells: &BTreeMap<u32, String>) -> Result<Columns, Vec<&'static str>> {
    let first = |names: &[&str]| {
        cells.iter().find(|(_, text)| names.contains(&text.as_str())).map(|(col, _)| *col)
    };
    let serial = first(&SERIAL_HEADERS);
    let numbers: Vec<u32> = NUMBER_HEADERS
        .iter()
        .filter_map(|name| cells.iter().find(|(_, t)| t.as_str() == *name).map(|(c, _)| *c))
        .collect();
    let date = first(&DATE_HEADERS);
    match (serial, numbers.is_empty(), date) {
        (Some(serial), false, Some(date)) => Ok(Columns { serial, numbers, date }),
        _ => {
            let mut missing = Vec::new();
            if serial.is_none() {
                missing.push("发票流水号");
            }
            if numbers.is_empty() {
                missing.push("发票号码");
            }
            if date.is_none() {
                missing.push("开票日期");
            }
            Err(missing)
        }
    }
}

/// The cells of one data row that matter.
#[derive(Debug, Default)]
struct RowCells<'a> {
    serial: Option<DataRef<'a>>,
    numbers: Vec<(u32, DataRef<'a>)>,
    date: Option<DataRef<'a>>,
}

/// Reads the workbook of issued invoices; see the module docs for the rules.
///
/// # Errors
///
/// An [`ImportError`] when the file is not a readable `.xlsx`, declares too much content, has
/// no header row with all required headers, or has too many rows. Problems of single rows are
/// not errors: they are reported in [`IssuedImport::problems`].
pub fn read_issued_invoices(xlsx: &[u8]) -> Result<IssuedImport, ImportError> {
    check_archive(xlsx)?;
    let mut workbook: Xlsx<_> =
        Xlsx::new(Cursor::new(xlsx)).map_err(|e| ImportError::NotAWorkbook(e.to_string()))?;

    let mut best_missing: Option<Vec<&'static str>> = None;
    for sheet in workbook.sheet_names() {
        let header_rows = read_header_rows(&mut workbook, &sheet)?;
        for (row, cells) in &header_rows {
            match match_headers(cells) {
                Ok(columns) => {
                    return read_rows(&mut workbook, &sheet, *row, &columns);
                }
                Err(missing) => {
                    if best_missing.as_ref().is_none_or(|best| missing.len() < best.len()) {
                        best_missing = Some(missing);
                    }
                }
            }
        }
    }
    Err(ImportError::MissingHeaders {
        missing: best_missing.unwrap_or_else(|| vec!["发票流水号", "发票号码", "开票日期"]),
    })
}

/// Refuses archives that declare too much content before anything is inflated.
fn check_archive(xlsx: &[u8]) -> Result<(), ImportError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(xlsx))
        .map_err(|e| ImportError::NotAWorkbook(e.to_string()))?;
    if archive.len() > MAX_PARTS {
        return Err(ImportError::TooLarge);
    }
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let part = archive.by_index_raw(i).map_err(|e| ImportError::NotAWorkbook(e.to_string()))?;
        total = total.saturating_add(part.size());
        if total > MAX_UNCOMPRESSED_BYTES {
            return Err(ImportError::TooLarge);
        }
    }
    Ok(())
}

/// The non-empty cells of the first [`HEADER_SEARCH_ROWS`] rows of a sheet, normalised, by
/// 0-based row and column.
fn read_header_rows<RS: Read + Seek>(
    workbook: &mut Xlsx<RS>,
    sheet: &str,
) -> Result<BTreeMap<u32, BTreeMap<u32, String>>, ImportError> {
    let mut rows: BTreeMap<u32, BTreeMap<u32, String>> = BTreeMap::new();
    let mut reader = workbook
        .worksheet_cells_reader(sheet)
        .map_err(|e| ImportError::NotAWorkbook(e.to_string()))?;
    while let Some(cell) =
        reader.next_cell().map_err(|e| ImportError::NotAWorkbook(e.to_string()))?
    {
        let (row, col) = cell.get_position();
        if row >= HEADER_SEARCH_ROWS {
            continue;
        }
        if let Some(text) = cell_text(cell.get_value()) {
            let header = normalize_header(&text);
            if !header.is_empty() {
                rows.entry(row).or_default().insert(col, header);
            }
        }
    }
    Ok(rows)
}

/// Reads the data rows below `header_row` (0-based) and checks them.
fn read_rows<RS: Read + Seek>(
    workbook: &mut Xlsx<RS>,
    sheet: &str,
    header_row: u32,
    columns: &Columns,
) -> Result<IssuedImport, ImportError> {
    let mut reader = workbook
        .worksheet_cells_reader(sheet)
        .map_err(|e| ImportError::NotAWorkbook(e.to_string()))?;
    let mut rows: BTreeMap<u32, RowCells<'_>> = BTreeMap::new();
    while let Some(cell) =
        reader.next_cell().map_err(|e| ImportError::NotAWorkbook(e.to_string()))?
    {
        let (row, col) = cell.get_position();
        if row <= header_row || is_blank(cell.get_value()) {
            continue;
        }
        if !rows.contains_key(&row) && rows.len() >= MAX_IMPORT_ROWS {
            return Err(ImportError::TooManyRows { max: MAX_IMPORT_ROWS });
        }
        let entry = rows.entry(row).or_default();
        let value = cell.get_value().clone();
        if col == columns.serial && entry.serial.is_none() {
            entry.serial = Some(value);
        } else if col == columns.date && entry.date.is_none() {
            entry.date = Some(value);
        } else if columns.numbers.contains(&col) {
            entry.numbers.push((col, value));
        }
    }

    let mut parsed = Vec::new();
    let mut problems = Vec::new();
    for (row, cells) in rows {
        let row = row + 1;
        match check_row(&cells, columns) {
            Ok((serial, number, issued_on)) => {
                parsed.push(IssuedInvoice { serial, number, issued_on, row });
            }
            Err(found) => problems.push(RowProblems {
                row,
                serial: cells.serial.as_ref().and_then(cell_text),
                problems: found,
            }),
        }
    }
    let invoices = remove_duplicates(parsed, &mut problems);
    problems.sort_by_key(|p| p.row);
    Ok(IssuedImport { sheet: sheet.to_owned(), header_row: header_row + 1, invoices, problems })
}

/// Checks the three fields of one row: the invoice's fields, or every problem found.
fn check_row(
    cells: &RowCells<'_>,
    columns: &Columns,
) -> Result<(InvoiceSerial, InvoiceNumber, NaiveDate), Vec<RowProblem>> {
    let mut problems = Vec::new();

    let serial = match &cells.serial {
        None => {
            problems.push(RowProblem::MissingSerial);
            None
        }
        Some(DataRef::Error(_)) => {
            problems.push(RowProblem::ErrorCell { column: "发票流水号".into() });
            None
        }
        Some(value) => {
            let text = cell_text(value).unwrap_or_default();
            match InvoiceSerial::parse(&text) {
                Ok(serial) => Some(serial),
                Err(_) => {
                    problems.push(RowProblem::InvalidSerial { value: text });
                    None
                }
            }
        }
    };

    // The preferred non-empty number column.
    let number_cell = columns
        .numbers
        .iter()
        .find_map(|col| cells.numbers.iter().find(|(c, _)| c == col).map(|(_, v)| v));
    let number = match number_cell {
        None => {
            problems.push(RowProblem::MissingNumber);
            None
        }
        Some(DataRef::Error(_)) => {
            problems.push(RowProblem::ErrorCell { column: "发票号码".into() });
            None
        }
        Some(value @ (DataRef::Int(_) | DataRef::Float(_))) => {
            problems
                .push(RowProblem::NumberNotText { value: cell_text(value).unwrap_or_default() });
            None
        }
        Some(value) => {
            let text = cell_text(value).unwrap_or_default();
            match InvoiceNumber::parse(&text) {
                Ok(number) => Some(number),
                Err(_) => {
                    problems.push(RowProblem::InvalidNumber { value: text });
                    None
                }
            }
        }
    };

    let date = match &cells.date {
        None => {
            problems.push(RowProblem::MissingDate);
            None
        }
        Some(DataRef::Error(_)) => {
            problems.push(RowProblem::ErrorCell { column: "开票日期".into() });
            None
        }
        Some(value) => match cell_date(value) {
            Some(date) => Some(date),
            None => {
                problems
                    .push(RowProblem::InvalidDate { value: cell_text(value).unwrap_or_default() });
                None
            }
        },
    };

    match (serial, number, date) {
        (Some(serial), Some(number), Some(date)) if problems.is_empty() => {
            Ok((serial, number, date))
        }
        _ => Err(problems),
    }
}

/// Applies the duplicate rules of the module docs: returns the invoices to import and adds
/// the duplicates to `problems`.
fn remove_duplicates(
    parsed: Vec<IssuedInvoice>,
    problems: &mut Vec<RowProblems>,
) -> Vec<IssuedInvoice> {
    let mut report = |invoice: &IssuedInvoice, problem: RowProblem| {
        problems.push(RowProblems {
            row: invoice.row,
            serial: Some(invoice.serial.as_str().to_owned()),
            problems: vec![problem],
        });
    };

    // By serial.
    let mut by_serial: HashMap<&str, Vec<&IssuedInvoice>> = HashMap::new();
    for invoice in &parsed {
        by_serial.entry(invoice.serial.as_str()).or_default().push(invoice);
    }
    let mut keep_rows = Vec::new();
    for group in by_serial.values() {
        let Some(first) = group.first() else { continue };
        let same = group.iter().all(|i| i.number == first.number && i.issued_on == first.issued_on);
        if same {
            keep_rows.push(first.row);
            for repeat in &group[1..] {
                report(repeat, RowProblem::RepeatedRow { first_row: first.row });
            }
        } else {
            let rows: Vec<u32> = group.iter().map(|i| i.row).collect();
            for invoice in group {
                report(invoice, RowProblem::ConflictingSerial { rows: rows.clone() });
            }
        }
    }
    keep_rows.sort_unstable();
    let kept: Vec<&IssuedInvoice> =
        parsed.iter().filter(|i| keep_rows.binary_search(&i.row).is_ok()).collect();

    // By number, among the invoices kept so far.
    let mut by_number: HashMap<&str, Vec<u32>> = HashMap::new();
    for invoice in &kept {
        by_number.entry(invoice.number.as_str()).or_default().push(invoice.row);
    }
    let mut result = Vec::with_capacity(kept.len());
    for invoice in kept {
        let rows = by_number.get(invoice.number.as_str()).cloned().unwrap_or_default();
        if rows.len() > 1 {
            report(invoice, RowProblem::DuplicateNumber { rows });
        } else {
            result.push(invoice.clone());
        }
    }
    result
}

/// Whether a cell counts as empty: no value, or only whitespace.
fn is_blank(value: &DataRef<'_>) -> bool {
    match value {
        DataRef::Empty => true,
        DataRef::String(s) => s.trim().is_empty(),
        DataRef::SharedString(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// A cell's value as text, trimmed; `None` when blank. Whole numbers print without a
/// fraction; dates as their serial number.
fn cell_text(value: &DataRef<'_>) -> Option<String> {
    let text = match value {
        DataRef::Empty => return None,
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_owned(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => float_text(*f),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(dt) => float_text(dt.as_f64()),
        DataRef::Error(e) => e.to_string(),
    };
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// A float as text: whole numbers without a fraction (so a serial `1001` typed as a number
/// reads as `1001`).
fn float_text(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.0}")
    } else {
        f.to_string()
    }
}

/// A date from a cell: text in one of the accepted layouts, a date cell, or a number read as
/// an Excel date serial; `None` if it is none of them or outside 2000–2099.
fn cell_date(value: &DataRef<'_>) -> Option<NaiveDate> {
    let date = match value {
        DataRef::String(s) | DataRef::DateTimeIso(s) => parse_date_text(s),
        DataRef::SharedString(s) => parse_date_text(s),
        DataRef::DateTime(dt) => serial_date(*dt),
        DataRef::Float(f) => {
            serial_date(ExcelDateTime::new(*f, ExcelDateTimeType::DateTime, false))
        }
        DataRef::Int(i) => {
            // Excel's dates end at serial 2958465 (9999-12-31).
            let serial = u32::try_from(*i).ok().filter(|s| *s < 2_958_466)?;
            serial_date(ExcelDateTime::new(f64::from(serial), ExcelDateTimeType::DateTime, false))
        }
        _ => None,
    }?;
    (2000..=2099).contains(&date.year()).then_some(date)
}

/// The date of an Excel date serial (its time of day ignored).
fn serial_date(dt: ExcelDateTime) -> Option<NaiveDate> {
    let v = dt.as_f64();
    if !v.is_finite() || !(1.0..2_958_466.0).contains(&v) {
        return None;
    }
    let (year, month, day, ..) = dt.to_ymd_hms_milli();
    NaiveDate::from_ymd_opt(i32::from(year), u32::from(month), u32::from(day))
}

/// Parses `2026-12-20`, `2026/12/20`, `2026.12.20`, `2026年12月20日`, `20261220`, each
/// optionally followed by a time after whitespace or `T`.
pub(crate) fn parse_date_text(raw: &str) -> Option<NaiveDate> {
    let folded: String = raw.trim().chars().map(fold_fullwidth).collect();
    let s = folded.trim();
    // The date part ends at the first whitespace or `T`.
    let end = s.find(|c: char| c.is_whitespace() || c == 'T').unwrap_or(s.len());
    let (date, _time) = s.split_at(end);

    if date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()) {
        let (y, md) = date.split_at(4);
        let (m, d) = md.split_at(2);
        return NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    }

    let (seps, tail): (&[char], &str) = if date.contains('年') {
        (&['年', '月'], "日")
    } else if date.contains('-') {
        (&['-', '-'], "")
    } else if date.contains('/') {
        (&['/', '/'], "")
    } else {
        (&['.', '.'], "")
    };
    let date = date.strip_suffix(tail).filter(|_| !tail.is_empty()).unwrap_or(date);
    let (y, rest) = date.split_once(seps[0])?;
    let (m, d) = rest.split_once(seps[1])?;
    let digits = |p: &str, min: usize, max: usize| {
        (min..=max).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
    };
    if !(digits(y, 4, 4) && digits(m, 1, 2) && digits(d, 1, 2)) {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// Maps a full-width ASCII variant (U+FF01..=U+FF5E) to ASCII and the ideographic space to a
/// plain space.
fn fold_fullwidth(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// Format characters that render as nothing: zero-width and bidi controls, BOM.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    #[test]
    fn date_texts() {
        for text in [
            "2026-12-20",
            "2026/12/20",
            "2026.12.20",
            "2026年12月20日",
            "2026年12月20",
            "20261220",
            " 2026-12-20 10:11:12 ",
            "2026-12-20T10:11:12",
            "２０２６－１２－２０",
            "2026年12月20日 09:00",
        ] {
            assert_eq!(parse_date_text(text), date(2026, 12, 20), "{text:?}");
        }
        assert_eq!(parse_date_text("2026-1-5"), date(2026, 1, 5));
        assert_eq!(parse_date_text("2026/1/5"), date(2026, 1, 5));
        for bad in [
            "",
            "2026-13-01",
            "2026-02-30",
            "2026/12-20",
            "26-12-20",
            "2026-012-20",
            "2026年12月",
            "十二月",
            "2026-12-20x",
            "202612201",
            "2026--20",
        ] {
            assert_eq!(parse_date_text(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cell_dates() {
        // 46376 is 2026-12-20 in the 1900 system.
        assert_eq!(cell_date(&DataRef::Float(46_376.0)), date(2026, 12, 20));
        assert_eq!(cell_date(&DataRef::Float(46_376.75)), date(2026, 12, 20));
        assert_eq!(cell_date(&DataRef::Int(46_376)), date(2026, 12, 20));
        assert_eq!(
            cell_date(&DataRef::DateTime(ExcelDateTime::new(
                46_376.0 - 1_462.0,
                ExcelDateTimeType::DateTime,
                true
            ))),
            date(2026, 12, 20)
        );
        // Out of 2000–2099, or not a date at all.
        assert_eq!(cell_date(&DataRef::Int(45)), None);
        assert_eq!(cell_date(&DataRef::Int(-1)), None);
        assert_eq!(cell_date(&DataRef::Int(i64::MAX)), None);
        assert_eq!(cell_date(&DataRef::Float(f64::NAN)), None);
        assert_eq!(cell_date(&DataRef::Float(1e300)), None);
        assert_eq!(cell_date(&DataRef::String("1999-12-31".into())), None);
        assert_eq!(cell_date(&DataRef::Bool(true)), None);
        assert_eq!(cell_date(&DataRef::SharedString("2026/12/20")), date(2026, 12, 20));
    }

    #[test]
    fn headers_normalise() {
        assert_eq!(normalize_header(" 发票 流水号 "), "发票流水号");
        assert_eq!(normalize_header("发票号码（数电）"), "发票号码(数电)");
        assert_eq!(normalize_header("*发票号码*"), "发票号码");
        assert_eq!(normalize_header("开票\n日期"), "开票日期");
        assert_eq!(normalize_header("\u{FEFF}流水号"), "流水号");
        assert_eq!(normalize_header("蓝字发票号码"), "蓝字发票号码");
    }

    #[test]
    fn invoice_numbers() {
        let n = "26352000000012345678";
        assert_eq!(InvoiceNumber::parse(n).map(|n| n.to_string()), Ok(n.to_owned()));
        assert_eq!(
            InvoiceNumber::parse(" ２６３５２０００００００１２３４５６７８ ")
                .map(|n| n.as_str().to_owned()),
            Ok(n.to_owned())
        );
        for bad in
            ["", "2635200000001234567", "263520000000123456789", "2635200000001234567X", "12345678"]
        {
            assert_eq!(InvoiceNumber::parse(bad), Err(InvalidInvoiceNumber), "{bad:?}");
        }
        assert_eq!(InvalidInvoiceNumber.to_string(), "数电发票号码应为20位数字");
        assert_eq!(InvalidInvoiceNumber.code(), "invalid_number");
    }

    #[test]
    fn float_texts() {
        assert_eq!(float_text(1001.0), "1001");
        assert_eq!(float_text(1.5), "1.5");
        assert_eq!(float_text(2.6352e19), "26352000000000000000");
    }

    #[test]
    fn error_codes_and_messages() {
        let e = ImportError::MissingHeaders { missing: vec!["发票号码", "开票日期"] };
        assert_eq!(e.to_string(), "找不到表头：发票号码、开票日期（表头须在前5行内）");
        assert_eq!(e.code(), "missing_headers");
        assert_eq!(
            RowProblem::ConflictingSerial { rows: vec![4, 9] }.to_string(),
            "发票流水号在多行出现且号码或日期不同（第4、9行）"
        );
        assert_eq!(RowProblem::MissingNumber.code(), "missing_number");
    }
}
