//! Back-office exports of baoming.
//!
//! - [`ExportWriter`] (this page): a period's registrations as an `.xlsx` workbook;
//! - [`tax_workbook`]: the tax bureau's bulk-issue invoice workbook (数电发票批量开具), from the
//!   invoice drafts of `baoming_invoicing`;
//! - [`issued`]: reading back the workbook of issued invoice numbers;
//! - [`seat_plan`]: a period's seat plan (考场编排表), one row per admission ticket.
//!
//! [`ExportWriter`] writes a period's registrations as an `.xlsx` workbook
//! with bounded memory: it uses `rust_xlsxwriter`'s "constant memory"
//! worksheet mode, in which each finished row is streamed to a temporary file
//! (in [`std::env::temp_dir`]) instead of being kept in memory, and every cell
//! is written as an inline string. Rows are therefore written strictly in
//! order, one [`ExportWriter::push`] call per registration.
//!
//! The rows are plain, already formatted strings ([`ExportRow`]); the
//! registrations export knows nothing about the domain types.
//!
//! # Layout
//!
//! A single worksheet named [`SHEET_NAME`]:
//!
//! - row 1: a title with the period name, merged across all columns;
//! - row 2: the column headers ([`HEADERS`]), with an autofilter;
//! - rows 3…: one registration per row.
//!
//! The panes are frozen below the header row, and every data cell is a text
//! cell (text number format `@`), so ID and phone numbers are never turned into
//! numbers.
//!
//! # Formula injection
//!
//! Cells are always written as strings, never as formulas, so a value such as
//! `=cmd|' /C calc'!A0` is stored as text. On top of that, a value that starts
//! with a character a spreadsheet could read as the start of a formula (see
//! [`looks_like_formula`]) gets Excel's "quote prefix" cell style, so it stays
//! text even when a user edits the cell and presses Enter. The value itself is
//! not changed.
//!
//! # Example
//!
//! ```
//! use baoming_exports::{ExportRow, ExportWriter};
//!
//! let mut writer = ExportWriter::new("2026年监理工程师考试")?;
//! writer.push(&ExportRow {
//!     state: "pending_review".into(),
//!     tag: "审核中".into(),
//!     name: "张三".into(),
//!     ..ExportRow::default()
//! })?;
//! assert_eq!(writer.rows(), 1);
//! let bytes = writer.finish()?;
//! assert!(bytes.starts_with(b"PK\x03\x04"));
//! # Ok::<(), baoming_exports::ExportError>(())
//! ```

#![warn(missing_docs)]

use std::fmt;
use std::io::Write;

use rust_xlsxwriter::{Color, Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError};

pub mod issued;
pub mod seat_plan;
pub mod tax_workbook;

/// The name of the export's only worksheet.
pub const SHEET_NAME: &str = "报名信息";

/// The column headers, in column order (`A` to `P`).
pub const HEADERS: [&str; 16] = [
    "状态",
    "标签",
    "姓名",
    "性别",
    "证件号码",
    "手机号码",
    "工作单位",
    "地区",
    "报考科目",
    "考试类型",
    "费用（元）",
    "发票抬头",
    "合开发票备注",
    "提交时间",
    "审核通过时间",
    "缴费时间",
];

/// The largest number of data rows one export may hold.
///
/// Excel's limit is 1,048,576 rows per worksheet, of which two are taken by the
/// title and the header; this leaves a round margin below it.
pub const MAX_ROWS: u32 = 1_048_000;

/// The largest number of UTF-16 code units Excel accepts in one cell.
pub const MAX_CELL_LEN: usize = 32_767;

/// The 0-based worksheet row of the title.
const TITLE_ROW: u32 = 0;
/// The 0-based worksheet row of the headers (both workbooks).
pub(crate) const HEADER_ROW: u32 = 1;
/// The 0-based worksheet row of the first data row (both workbooks).
pub(crate) const FIRST_DATA_ROW: u32 = 2;
/// The 0-based index of the last column (`P`).
const LAST_COL: u16 = 15;

// The title, the header and `MAX_ROWS` rows fit in Excel's 1,048,576 rows.
const _: () = assert!(FIRST_DATA_ROW + MAX_ROWS <= 1_048_576);

/// Column widths, in Excel's character units, in [`HEADERS`] order.
///
/// CJK characters are about two units wide.
const COLUMN_WIDTHS: [f64; 16] = [
    16.0, // 状态: "pending_review"
    10.0, // 标签
    10.0, // 姓名
    6.0,  // 性别
    21.0, // 证件号码
    14.0, // 手机号码
    32.0, // 工作单位
    16.0, // 地区
    60.0, // 报考科目
    12.0, // 考试类型
    11.0, // 费用（元）
    48.0, // 发票抬头
    24.0, // 合开发票备注
    20.0, // 提交时间
    20.0, // 审核通过时间
    20.0, // 缴费时间
];

/// Excel's built-in text number format `@` (index 49): the cell's content is
/// text, also after an edit.
pub(crate) const TEXT_NUM_FORMAT: u8 = 49;

/// One registration, already formatted by the caller as plain strings.
///
/// The fields are in column order, matching [`HEADERS`]. An empty string
/// leaves its cell blank.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportRow {
    /// The registration state's code, e.g. `"pending_review"`.
    pub state: String,
    /// The state's label for people, e.g. `"审核中"`.
    pub tag: String,
    /// The candidate's name.
    pub name: String,
    /// `"男"` or `"女"`.
    pub gender: String,
    /// The ID number, masked or in full: the caller decides.
    pub id_number: String,
    /// The mobile phone number.
    pub phone: String,
    /// The employer.
    pub employer: String,
    /// The region.
    pub region: String,
    /// The subjects, e.g. `"建设工程目标控制（水利）、建设工程监理案例分析（水利）"`.
    pub subjects: String,
    /// The exam type.
    pub exam_type: String,
    /// The fee in yuan, e.g. `"1280.00"`.
    pub fee_yuan: String,
    /// The invoice title, e.g. `"福建某监理有限公司（91350100M000100Y43）"`, or `""`.
    pub invoice_title: String,
    /// The joint-invoice remark, or `""`.
    pub joint_invoice_remark: String,
    /// When the registration was submitted, e.g. `"2026-05-01 09:00:00"`
    /// (the caller formats it, in Beijing time).
    pub submitted_at: String,
    /// When the registration was approved, or `""` when it was not.
    pub approved_at: String,
    /// When the fee was paid, or `""` when it was not.
    pub paid_at: String,
}

impl ExportRow {
    /// The row's cells in column order, matching [`HEADERS`].
    #[must_use]
    pub fn cells(&self) -> [&str; 16] {
        [
            &self.state,
            &self.tag,
            &self.name,
            &self.gender,
            &self.id_number,
            &self.phone,
            &self.employer,
            &self.region,
            &self.subjects,
            &self.exam_type,
            &self.fee_yuan,
            &self.invoice_title,
            &self.joint_invoice_remark,
            &self.submitted_at,
            &self.approved_at,
            &self.paid_at,
        ]
    }
}

/// An error while writing an export.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The xlsx writer failed, e.g. it could not create its temporary file.
    #[error("xlsx writer error: {0}")]
    Xlsx(#[from] XlsxError),
    /// The export already holds [`MAX_ROWS`] rows.
    #[error("an export holds at most {max} rows")]
    TooManyRows {
        /// The limit, [`MAX_ROWS`].
        max: u32,
    },
    /// A cell's text is longer than Excel allows ([`MAX_CELL_LEN`] UTF-16
    /// code units). Nothing of the row was written.
    #[error("the {column} cell holds {len} UTF-16 code units, more than Excel's {max}")]
    CellTooLong {
        /// The column's header, one of [`HEADERS`].
        column: &'static str,
        /// The cell's length in UTF-16 code units.
        len: usize,
        /// The limit, [`MAX_CELL_LEN`].
        max: usize,
    },
}

/// Whether a spreadsheet could take `text` for a formula when a user edits
/// the cell: it starts with `=`, `+`, `-`, `@`, a tab or a carriage return, or
/// with the full-width `＝`, `＋`, `－` or `＠`.
///
/// [`ExportWriter`] writes such cells as text with Excel's quote prefix; the
/// text itself is kept as it is.
#[must_use]
pub fn looks_like_formula(text: &str) -> bool {
    text.starts_with([
        '=', '+', '-', '@', '\t', '\r', '\u{FF1D}', '\u{FF0B}', '\u{FF0D}', '\u{FF20}',
    ])
}

/// The cell formats of an export.
#[derive(Debug)]
struct Formats {
    /// A data cell.
    text: Format,
    /// A data cell that [`looks_like_formula`].
    quoted_text: Format,
}

/// Writes a period's registrations as an `.xlsx` workbook, row by row, with
/// bounded memory.
///
/// Create it with [`ExportWriter::new`], add the registrations in order with
/// [`ExportWriter::push`], and take the workbook's bytes with
/// [`ExportWriter::finish`] (or write them out with
/// [`ExportWriter::finish_to`]). Only the current row is held in memory; the
/// rows before it wait in a temporary file until the workbook is finished.
pub struct ExportWriter {
    workbook: Workbook,
    formats: Formats,
    rows: u32,
}

impl fmt::Debug for ExportWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportWriter").field("rows", &self.rows).finish_non_exhaustive()
    }
}

impl ExportWriter {
    /// Starts an export: a worksheet named [`SHEET_NAME`] with a title row
    /// holding `period_name`, the header row, panes frozen below the header,
    /// and the column widths set.
    ///
    /// # Errors
    ///
    /// [`ExportError::Xlsx`] if the temporary file for the rows cannot be
    /// created, or if `period_name` is longer than Excel allows.
    pub fn new(period_name: &str) -> Result<Self, ExportError> {
        let mut workbook = Workbook::new();
        let formats = Formats {
            text: Format::new().set_num_format_index(TEXT_NUM_FORMAT),
            quoted_text: Format::new().set_num_format_index(TEXT_NUM_FORMAT).set_quote_prefix(),
        };
        let sheet = workbook.add_worksheet_with_constant_memory()?;
        sheet.set_name(SHEET_NAME)?;
        write_title(sheet, period_name, LAST_COL)?;
        write_header(sheet, &HEADERS)?;
        for (col, width) in (0_u16..).zip(COLUMN_WIDTHS) {
            sheet.set_column_width(col, width)?;
        }
        sheet.set_freeze_panes(FIRST_DATA_ROW, 0)?;
        Ok(Self { workbook, formats, rows: 0 })
    }

    /// Writes the next registration, below the ones pushed before it. Every
    /// cell is written as text.
    ///
    /// # Errors
    ///
    /// - [`ExportError::TooManyRows`] if [`MAX_ROWS`] rows were pushed already;
    /// - [`ExportError::CellTooLong`] if a cell is longer than Excel allows;
    /// - [`ExportError::Xlsx`] if the writer fails.
    ///
    /// In the first two cases nothing of the row is written and the writer can
    /// go on with the next row.
    pub fn push(&mut self, row: &ExportRow) -> Result<(), ExportError> {
        if self.rows >= MAX_ROWS {
            return Err(ExportError::TooManyRows { max: MAX_ROWS });
        }
        let cells = row.cells();
        for (column, cell) in HEADERS.into_iter().zip(cells) {
            // Cheap upper bound first: a UTF-8 byte is at most one UTF-16 unit.
            if cell.len() > MAX_CELL_LEN {
                let len = cell.encode_utf16().count();
                if len > MAX_CELL_LEN {
                    return Err(ExportError::CellTooLong { column, len, max: MAX_CELL_LEN });
                }
            }
        }
        let row_num = FIRST_DATA_ROW + self.rows;
        let sheet = self.workbook.worksheet_from_index(0)?;
        for (col, cell) in (0_u16..).zip(cells) {
            let format = if looks_like_formula(cell) {
                &self.formats.quoted_text
            } else {
                &self.formats.text
            };
            sheet.write_string_with_format(row_num, col, cell, format)?;
        }
        self.rows += 1;
        Ok(())
    }

    /// The number of registrations pushed so far.
    #[must_use]
    pub fn rows(&self) -> u32 {
        self.rows
    }

    /// Finishes the workbook and returns its `.xlsx` bytes.
    ///
    /// The bytes are the compressed workbook; the rows themselves are streamed
    /// from the temporary file into it.
    ///
    /// # Errors
    ///
    /// [`ExportError::Xlsx`] if the workbook cannot be assembled.
    pub fn finish(mut self) -> Result<Vec<u8>, ExportError> {
        self.add_autofilter()?;
        Ok(self.workbook.save_to_buffer()?)
    }

    /// Finishes the workbook and writes its `.xlsx` bytes to `writer`, e.g. a
    /// file, without holding the whole workbook in memory.
    ///
    /// # Errors
    ///
    /// [`ExportError::Xlsx`] if the workbook cannot be assembled or written.
    pub fn finish_to<W: Write + Send>(mut self, writer: W) -> Result<(), ExportError> {
        self.add_autofilter()?;
        self.workbook.save_to_writer(writer)?;
        Ok(())
    }

    /// Puts an autofilter on the header row, over all the pushed rows.
    fn add_autofilter(&mut self) -> Result<(), ExportError> {
        let last_row = HEADER_ROW + self.rows;
        self.workbook.worksheet_from_index(0)?.autofilter(HEADER_ROW, 0, last_row, LAST_COL)?;
        Ok(())
    }
}

/// Writes the title row (row 0 of both workbooks): `title` merged across columns 0 to
/// `last_col`.
pub(crate) fn write_title(
    sheet: &mut Worksheet,
    title: &str,
    last_col: u16,
) -> Result<(), ExportError> {
    let mut format = Format::new()
        .set_bold()
        .set_font_size(14)
        .set_align(FormatAlign::Left)
        .set_align(FormatAlign::VerticalCenter)
        .set_num_format_index(TEXT_NUM_FORMAT);
    if looks_like_formula(title) {
        format = format.set_quote_prefix();
    }
    sheet.set_row_height(TITLE_ROW, 24)?;
    sheet.merge_range(TITLE_ROW, 0, TITLE_ROW, last_col, title, &format)?;
    Ok(())
}

/// Writes the header row (row 1 of both workbooks).
pub(crate) fn write_header(sheet: &mut Worksheet, headers: &[&str]) -> Result<(), ExportError> {
    let format = Format::new()
        .set_bold()
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter)
        .set_background_color(Color::RGB(0x00D9_E1F2))
        .set_border(FormatBorder::Thin)
        .set_num_format_index(TEXT_NUM_FORMAT);
    for (col, header) in (0_u16..).zip(headers) {
        sheet.write_string_with_format(HEADER_ROW, col, *header, &format)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_like_prefixes_are_detected() {
        for text in [
            "=1+1",
            "=cmd|' /C calc'!A0",
            "+86 138",
            "-1",
            "@SUM(A1)",
            "\tx",
            "\rx",
            "＝1+1",
            "＋1",
            "－1",
            "＠x",
        ] {
            assert!(looks_like_formula(text), "{text:?}");
        }
        for text in ["", "张三", "1280.00", "a=b", " =1", "350102199001011234", "\nx"] {
            assert!(!looks_like_formula(text), "{text:?}");
        }
    }

    #[test]
    fn cells_follow_the_header_order() {
        let row = ExportRow {
            state: "state".into(),
            tag: "tag".into(),
            name: "name".into(),
            gender: "gender".into(),
            id_number: "id_number".into(),
            phone: "phone".into(),
            employer: "employer".into(),
            region: "region".into(),
            subjects: "subjects".into(),
            exam_type: "exam_type".into(),
            fee_yuan: "fee_yuan".into(),
            invoice_title: "invoice_title".into(),
            joint_invoice_remark: "joint_invoice_remark".into(),
            submitted_at: "submitted_at".into(),
            approved_at: "approved_at".into(),
            paid_at: "paid_at".into(),
        };
        assert_eq!(
            row.cells(),
            [
                "state",
                "tag",
                "name",
                "gender",
                "id_number",
                "phone",
                "employer",
                "region",
                "subjects",
                "exam_type",
                "fee_yuan",
                "invoice_title",
                "joint_invoice_remark",
                "submitted_at",
                "approved_at",
                "paid_at",
            ]
        );
        assert_eq!(HEADERS.len(), COLUMN_WIDTHS.len());
        assert_eq!(usize::from(LAST_COL) + 1, HEADERS.len());
    }

    #[test]
    fn push_refuses_rows_past_the_limit() {
        let mut writer = ExportWriter::new("期次").unwrap();
        writer.push(&ExportRow::default()).unwrap();
        // Pretend the limit was reached, without writing a million rows.
        writer.rows = MAX_ROWS;
        let err = writer.push(&ExportRow::default()).unwrap_err();
        assert!(matches!(err, ExportError::TooManyRows { max: MAX_ROWS }), "{err:?}");
        assert_eq!(writer.rows(), MAX_ROWS);
        assert_eq!(err.to_string(), "an export holds at most 1048000 rows".to_owned());
    }

    #[test]
    fn the_last_allowed_row_fits_in_a_worksheet() {
        let mut writer = ExportWriter::new("期次").unwrap();
        writer.rows = MAX_ROWS - 1;
        writer.push(&ExportRow { name: "最后一行".into(), ..ExportRow::default() }).unwrap();
        assert_eq!(writer.rows(), MAX_ROWS);
        assert!(writer.finish().unwrap().starts_with(b"PK\x03\x04"));
    }

    #[test]
    fn debug_does_not_dump_the_workbook() {
        let writer = ExportWriter::new("期次").unwrap();
        assert_eq!(format!("{writer:?}"), "ExportWriter { rows: 0, .. }");
    }
}
