//! A period's seat plan (考场编排表) as an `.xlsx` workbook: one row per admission ticket, in
//! site, room and seat order, written in constant memory like the registrations export.
//!
//! A single worksheet named [`SHEET_NAME`]: the title (merged) in row 1, the headers
//! ([`HEADERS`]) with an autofilter in row 2, one ticket per row from row 3, panes frozen below
//! the header. Every cell is text (so ticket and ID numbers stay as written); a value that
//! [`looks_like_formula`] gets the quote prefix.
//!
//! ```
//! use baoming_exports::seat_plan::{SeatPlanRow, SeatPlanWriter};
//!
//! let mut writer = SeatPlanWriter::new("2026年第二期监理工程师培训 考场编排")?;
//! writer.push(&SeatPlanRow {
//!     site: "01".into(),
//!     site_name: "福建建设培训中心".into(),
//!     room: "01".into(),
//!     seat: "07".into(),
//!     row: "2".into(),
//!     column: "2".into(),
//!     ticket_number: "2601010107".into(),
//!     name: "王䶮".into(),
//!     ..SeatPlanRow::default()
//! })?;
//! assert_eq!(writer.rows(), 1);
//! assert!(writer.finish()?.starts_with(b"PK\x03\x04"));
//! # Ok::<(), baoming_exports::ExportError>(())
//! ```

use std::fmt;

use rust_xlsxwriter::{Format, Workbook};

use crate::{
    ExportError, FIRST_DATA_ROW, HEADER_ROW, MAX_CELL_LEN, MAX_ROWS, TEXT_NUM_FORMAT,
    looks_like_formula, write_header, write_title,
};

/// The worksheet's name.
pub const SHEET_NAME: &str = "考场编排";

/// The column headers, in column order (`A` to `L`).
pub const HEADERS: [&str; 12] = [
    "考点编号",
    "考点",
    "考场",
    "座号",
    "排",
    "列",
    "准考证号",
    "姓名",
    "性别",
    "证件号码",
    "工作单位",
    "地区",
];

const COLUMN_WIDTHS: [f64; 12] = [9.0, 28.0, 7.0, 7.0, 5.0, 5.0, 16.0, 12.0, 6.0, 21.0, 32.0, 12.0];
const LAST_COL: u16 = 11;

/// One ticket, already formatted by the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeatPlanRow {
    /// The site (考点) number as the ticket number writes it, e.g. `"01"`.
    pub site: String,
    /// The site's name.
    pub site_name: String,
    /// The room (考场).
    pub room: String,
    /// The seat (座号).
    pub seat: String,
    /// The seat's row.
    pub row: String,
    /// The seat's column.
    pub column: String,
    /// The ticket number.
    pub ticket_number: String,
    /// Full name.
    pub name: String,
    /// `"男"` / `"女"`.
    pub gender: String,
    /// The ID number (the caller masks it).
    pub id_number: String,
    /// Employer.
    pub employer: String,
    /// Region.
    pub region: String,
}

impl SeatPlanRow {
    /// The cells in column order, matching [`HEADERS`].
    #[must_use]
    pub fn cells(&self) -> [&str; 12] {
        [
            &self.site,
            &self.site_name,
            &self.room,
            &self.seat,
            &self.row,
            &self.column,
            &self.ticket_number,
            &self.name,
            &self.gender,
            &self.id_number,
            &self.employer,
            &self.region,
        ]
    }
}

/// Writes a seat plan row by row, with bounded memory (see the [module docs](self)).
pub struct SeatPlanWriter {
    workbook: Workbook,
    text: Format,
    quoted: Format,
    rows: u32,
}

impl fmt::Debug for SeatPlanWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeatPlanWriter").field("rows", &self.rows).finish_non_exhaustive()
    }
}

impl SeatPlanWriter {
    /// Starts the workbook with `title` in its first row.
    ///
    /// # Errors
    /// [`ExportError::Xlsx`] when the temporary file cannot be created or the title is too long
    /// for Excel.
    pub fn new(title: &str) -> Result<Self, ExportError> {
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet_with_constant_memory()?;
        sheet.set_name(SHEET_NAME)?;
        write_title(sheet, title, LAST_COL)?;
        write_header(sheet, &HEADERS)?;
        for (col, width) in (0_u16..).zip(COLUMN_WIDTHS) {
            sheet.set_column_width(col, width)?;
        }
        sheet.set_freeze_panes(FIRST_DATA_ROW, 0)?;
        Ok(Self {
            workbook,
            text: Format::new().set_num_format_index(TEXT_NUM_FORMAT),
            quoted: Format::new().set_num_format_index(TEXT_NUM_FORMAT).set_quote_prefix(),
            rows: 0,
        })
    }

    /// Writes the next ticket.
    ///
    /// # Errors
    /// [`ExportError::TooManyRows`], [`ExportError::CellTooLong`] (nothing of the row is
    /// written), [`ExportError::Xlsx`].
    pub fn push(&mut self, row: &SeatPlanRow) -> Result<(), ExportError> {
        if self.rows >= MAX_ROWS {
            return Err(ExportError::TooManyRows { max: MAX_ROWS });
        }
        let cells = row.cells();
        for (column, cell) in HEADERS.into_iter().zip(cells) {
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
            let format = if looks_like_formula(cell) { &self.quoted } else { &self.text };
            sheet.write_string_with_format(row_num, col, cell, format)?;
        }
        self.rows += 1;
        Ok(())
    }

    /// Tickets written so far.
    #[must_use]
    pub fn rows(&self) -> u32 {
        self.rows
    }

    /// Finishes the workbook: its `.xlsx` bytes.
    ///
    /// # Errors
    /// [`ExportError::Xlsx`] when the workbook cannot be assembled.
    pub fn finish(mut self) -> Result<Vec<u8>, ExportError> {
        let last_row = HEADER_ROW + self.rows;
        self.workbook.worksheet_from_index(0)?.autofilter(HEADER_ROW, 0, last_row, LAST_COL)?;
        Ok(self.workbook.save_to_buffer()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_follow_the_headers() {
        assert_eq!(HEADERS.len(), COLUMN_WIDTHS.len());
        assert_eq!(usize::from(LAST_COL) + 1, HEADERS.len());
        let row =
            SeatPlanRow { ticket_number: "T".into(), name: "N".into(), ..SeatPlanRow::default() };
        assert_eq!(row.cells()[6], "T");
        assert_eq!(row.cells()[7], "N");
    }

    #[test]
    fn cells_too_long_are_refused_and_the_writer_goes_on() {
        let mut writer = SeatPlanWriter::new("编排").unwrap();
        let long = "字".repeat(MAX_CELL_LEN + 1);
        let err = writer.push(&SeatPlanRow { employer: long, ..SeatPlanRow::default() });
        assert!(matches!(err, Err(ExportError::CellTooLong { column: "工作单位", .. })), "{err:?}");
        writer.push(&SeatPlanRow::default()).unwrap();
        assert_eq!(writer.rows(), 1);
    }
}
