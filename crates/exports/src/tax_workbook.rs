//! The tax bureau's bulk-issue workbook (电子税务局 数电发票 “批量开具” 导入模板), written from
//! the invoice drafts of [`baoming_invoicing::group_invoices`].
//!
//! Finance uploads this workbook in the e-tax bureau's bulk issue page; the bureau issues one
//! 数电发票 per row of the first sheet and mails it to the buyer's email.
//!
//! # Layout
//!
//! The columns follow the bureau's own template as published in its 2025–2026 versions
//! (`(V251101版)` / `(V260401版)批量开票-导入开票模板.xlsx`), as far as public code that fills
//! those templates shows them; the template itself could not be downloaded here, so finance
//! should do one test upload before relying on it (see "Caveats" below).
//!
//! Sheet [`BASIC_SHEET`] `1-发票基本信息`, one row per invoice, 39 columns
//! ([`BASIC_COLUMNS`]):
//!
//! - row 1: an instruction line, merged across all columns;
//! - row 2: per column, whether it is required and its length limit;
//! - row 3: the column headers (the four `购买方所在地区（报废产品收购必填）` columns `L:O`
//!   share one merged header, as in the template);
//! - rows 4…: the invoices. Filled columns: `A` 发票流水号 (the caller's serial), `B` 发票类型
//!   (`普通发票` / `增值税专用发票`), `D` 是否含税 (`是` / `否` from the settings), `E`
//!   受票方自然人标识 (`是` for a personal title, `否` for a company), `F` 购买方名称, `G`
//!   购买方纳税人识别号, `K` 购买方地址, `Q` 购买方电话, `R` 购买方开户银行, `S`
//!   购买方银行账号, `T` 是否展示购买方地址电话银行账号 (which of them are given, when the
//!   settings say to show them), `W` 备注, `AE` 购买方邮箱. The other columns stay blank.
//!
//! Sheet [`DETAIL_SHEET`] `2-发票明细信息`, one line per invoice, 14 columns
//! ([`DETAIL_COLUMNS`]), rows 1–3 as above, data from row 4: `A` 发票流水号, `B` 项目名称,
//! `C` 商品和服务税收编码, `D` 规格型号, `E` 单位, `F` 数量, `G` 单价, `H` 金额, `I` 税率
//! (as a fraction, `0.06` for 6%), `K` 是否使用优惠政策 and `L` 优惠政策类型 (`是` and `免税`
//! for a tax-exempt rate, blank otherwise). 数量 is the number of people and 单价 the fee
//! when everybody on the invoice paid the same; otherwise both stay blank and only 金额 is
//! given. With 是否含税 = 是, 金额 is the sum of the fees paid; with 否 it is the amount
//! without tax from [`baoming_invoicing::split_tax_inclusive`].
//!
//! Sheet [`ROSTER_SHEET`] `合开人员名单`, last and only when needed: for every invoice whose
//! remark could not name everybody ([`InvoiceDraft::remark_is_cut`]), one row per person
//! ([`ROSTER_HEADERS`]: serial, buyer, number in the list, name, fee, registration key). It is
//! for finance and the buyer, not for the bureau: its name carries no template number so it
//! cannot be taken for the template's own third sheet, and the instruction line says to delete
//! it before uploading if the bureau refuses extra sheets.
//!
//! Every cell is a text cell (number format `@`): amounts as `680.00`, quantities as `3`,
//! codes as 19 digits. Values that [`looks_like_formula`] carry Excel's quote prefix, as in
//! the registrations export. Each sheet streams its rows to a temporary file
//! (`rust_xlsxwriter`'s constant-memory mode); the roster rows wait in memory until
//! [`TaxWorkbookWriter::finish`], which only concerns the people of cut joint invoices.
//!
//! # Caveats
//!
//! - The bureau's template also has the sheets `3-特定业务信息`, `4-附加要素信息` and hidden
//!   dictionary and version sheets; this workbook does not reproduce them. If the bureau
//!   rejects the workbook, paste the rows of both sheets into a freshly downloaded official
//!   template: the column order and headers are the same.
//! - The item settings (name, code, rate) are finance's to confirm; see
//!   [`baoming_invoicing::item`].
//!
//! # Example
//!
//! ```
//! use baoming_exports::tax_workbook::{InvoiceSerial, TaxWorkbookWriter};
//! use baoming_invoicing::{
//!     group_invoices, Fen, InvoiceItemSettings, InvoiceSnapshot, InvoiceType, PaidRegistration,
//!     TitleKind,
//! };
//!
//! let title = InvoiceSnapshot {
//!     kind: TitleKind::Personal,
//!     invoice_type: InvoiceType::Normal,
//!     name: "张三".into(),
//!     tax_id: None, address: None, phone: None, bank: None, bank_account: None,
//!     email: Some("zhangsan@example.com".into()),
//! };
//! let drafts = group_invoices("2026年第一期", &[PaidRegistration {
//!     key: "r1".into(),
//!     participant_name: "张三".into(),
//!     title,
//!     joint: false,
//!     joint_remark: None,
//!     paid: Fen(68_000),
//! }])?;
//!
//! let mut writer = TaxWorkbookWriter::new(&InvoiceItemSettings::default())?;
//! writer.push(&InvoiceSerial::parse("BM2601000001")?, &drafts[0])?;
//! let xlsx = writer.finish()?;
//! assert!(xlsx.starts_with(b"PK\x03\x04"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashSet;
use std::fmt;
use std::io::Write;
use std::str::FromStr;

use baoming_invoicing::{InvoiceDraft, InvoiceItemSettings, InvoiceType, split_tax_inclusive};
use rust_xlsxwriter::{Color, Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError};

use crate::{MAX_ROWS, TEXT_NUM_FORMAT, looks_like_formula};

/// The name of the first sheet: one row per invoice.
pub const BASIC_SHEET: &str = "1-发票基本信息";
/// The name of the second sheet: the invoice lines.
pub const DETAIL_SHEET: &str = "2-发票明细信息";
/// The name of the extra sheet with the full lists of cut joint invoices.
pub const ROSTER_SHEET: &str = "合开人员名单";

/// The 1-based worksheet row of the headers in every sheet.
pub const HEADER_ROW: u32 = 3;
/// The 1-based worksheet row of the first invoice in every sheet.
pub const FIRST_DATA_ROW: u32 = 4;

/// One column of the template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateColumn {
    /// The header on row 3.
    pub header: &'static str,
    /// The note on row 2: required or not, and the limit.
    pub note: &'static str,
    /// The most characters the template allows, where it states a limit.
    pub max_chars: Option<usize>,
}

const fn col(header: &'static str, note: &'static str, max_chars: Option<usize>) -> TemplateColumn {
    TemplateColumn { header, note, max_chars }
}

/// The header shared by the four merged columns `L:O` of the first sheet.
const REGION_HEADER: &str = "购买方所在地区（报废产品收购必填）";

/// The columns of [`BASIC_SHEET`], `A` to `AM`.
pub const BASIC_COLUMNS: [TemplateColumn; 39] = [
    col("发票流水号", "必填\n不超过20个字符", Some(20)),
    col("发票类型", "必填\n不超过10个字符", Some(10)),
    col("特定业务类型", "非必填\n不超过10个字符", Some(10)),
    col("是否含税", "必填（是/否）", Some(2)),
    col("受票方自然人标识", "非必填（是/否）", Some(2)),
    col("购买方名称", "必填\n不超过100个字符", Some(100)),
    col("购买方纳税人识别号", "专票必填\n不超过20个字符", Some(20)),
    col("购买方证件类型", "非必填", None),
    col("购买方证件号码", "非必填", None),
    col("购买方国籍（或地区）", "非必填", None),
    col("购买方地址", "非必填\n不超过100个字符", Some(100)),
    col(REGION_HEADER, "有条件必填", None),
    col(REGION_HEADER, "有条件必填", None),
    col(REGION_HEADER, "有条件必填", None),
    col(REGION_HEADER, "有条件必填", None),
    col("购买方详细地址（报废产品收购必填）", "有条件必填", None),
    col("购买方电话", "非必填\n不超过50个字符", Some(50)),
    col("购买方开户银行", "非必填\n不超过100个字符", Some(100)),
    col("购买方银行账号", "非必填\n不超过100个字符", Some(100)),
    col("是否展示购买方地址电话银行账号", "非必填\n不超过20个字符", Some(20)),
    col("是否开具涉税专业服务发票品目", "非必填", None),
    col("涉税专业服务协议编号", "非必填", None),
    col("备注", "非必填\n不超过230个字符", Some(230)),
    col("报废产品销售类型", "有条件必填", Some(24)),
    col("每千克煤炭发热量", "有条件必填", None),
    col("干基全硫", "有条件必填", None),
    col("干燥无灰基挥发分", "有条件必填", None),
    col("销售方开户行", "非必填\n不超过100个字符", Some(100)),
    col("销售方银行账号", "非必填\n不超过60个字符", Some(60)),
    col("是否展示销售方地址电话银行账号", "非必填\n不超过20个字符", Some(20)),
    col("购买方邮箱", "非必填\n不超过72个字符", Some(72)),
    col("购买方经办人姓名", "非必填\n不超过150个字符", Some(150)),
    col("购买方经办人证件类型", "非必填\n不超过40个字符", Some(40)),
    col("购买方经办人证件号码", "非必填\n不超过30个字符", Some(30)),
    col("经办人国籍(地区)", "非必填\n不超过40个字符", Some(40)),
    col("经办人自然人纳税人识别号", "非必填\n不超过20个字符", Some(20)),
    col("放弃享受减按1%征收率原因", "非必填\n不超过100个字符", Some(100)),
    col("收款人", "非必填\n不超过16个字符", Some(16)),
    col("复核人", "非必填\n不超过16个字符", Some(16)),
];

/// The columns of [`DETAIL_SHEET`], `A` to `N`.
pub const DETAIL_COLUMNS: [TemplateColumn; 14] = [
    col("发票流水号", "必填\n不超过20个字符", Some(20)),
    col("项目名称", "必填\n不超过100个字符", Some(100)),
    col("商品和服务税收编码", "必填\n19位数字", Some(19)),
    col("规格型号", "非必填\n不超过40个字符", Some(40)),
    col("单位", "非必填\n不超过20个字符", Some(20)),
    col("数量", "非必填", Some(25)),
    col("单价", "非必填", Some(25)),
    col("金额", "必填\n保留两位小数\n不超过16个字符", Some(16)),
    col("税率", "必填\n小数，如0.06", Some(8)),
    col("折扣金额", "非必填", None),
    col("是否使用优惠政策", "非必填（是/否）", Some(2)),
    col("优惠政策类型", "有条件必填", None),
    col("即征即退类型", "有条件必填", None),
    col("煤炭种类", "有条件必填", None),
];

/// The headers of [`ROSTER_SHEET`], `A` to `F`.
pub const ROSTER_HEADERS: [&str; 6] =
    ["发票流水号", "购买方名称", "序号", "姓名", "缴费金额（元）", "报名记录"];

// Indices of the filled columns, checked against the headers by a test.
const B_SERIAL: usize = 0;
const B_TYPE: usize = 1;
const B_INCLUDES_TAX: usize = 3;
const B_NATURAL_PERSON: usize = 4;
const B_NAME: usize = 5;
const B_TAX_ID: usize = 6;
const B_ADDRESS: usize = 10;
const B_PHONE: usize = 16;
const B_BANK: usize = 17;
const B_ACCOUNT: usize = 18;
const B_SHOW_CONTACT: usize = 19;
const B_REMARK: usize = 22;
const B_EMAIL: usize = 30;

const D_SERIAL: usize = 0;
const D_ITEM: usize = 1;
const D_CODE: usize = 2;
const D_SPEC: usize = 3;
const D_UNIT: usize = 4;
const D_QUANTITY: usize = 5;
const D_PRICE: usize = 6;
const D_AMOUNT: usize = 7;
const D_RATE: usize = 8;
const D_POLICY: usize = 10;
const D_POLICY_TYPE: usize = 11;

/// Row 1 of [`BASIC_SHEET`].
const BASIC_INSTRUCTIONS: &str = "填表说明：本表由报名系统按电子税务局数电发票“批量开具”导入模板的列生成。\
第3行为表头，第4行起每行一张发票；发票流水号关联“2-发票明细信息”中的明细，开具后导入发票号码时也按它对账，请勿修改。\
所有单元格均为文本格式，请勿改为数字或公式。\
合开发票的备注列出期次和人员；人员较多、备注列不全时，完整名单见最后的“合开人员名单”工作表，\
该表供财务留存和提供给购买方，如税局不接受多余的工作表，上传前删除即可。";

/// Row 1 of [`DETAIL_SHEET`].
const DETAIL_INSTRUCTIONS: &str = "填表说明：每行一条发票明细，按发票流水号与“1-发票基本信息”关联。\
金额保留两位小数；税率以小数填写（6%填0.06）；免税时税率为0，并在优惠政策列注明“免税”。\
数量和单价仅在同一发票各人缴费相同时填写。";

/// Row 1 of [`ROSTER_SHEET`].
const ROSTER_INSTRUCTIONS: &str = "合开人员名单：备注未能列全人员的合开发票，完整名单如下。\
本表供财务留存和提供给购买方，无需上传税局。";

/// Column widths of [`BASIC_SHEET`], in Excel character units (CJK characters count two).
const BASIC_WIDTHS: [f64; 39] = [
    16.0, 14.0, 12.0, 10.0, 10.0, 30.0, 22.0, 12.0, 12.0, 12.0, 30.0, 8.0, 8.0, 8.0, 8.0, 14.0,
    16.0, 22.0, 22.0, 20.0, 12.0, 12.0, 60.0, 12.0, 12.0, 10.0, 10.0, 14.0, 14.0, 14.0, 26.0, 12.0,
    12.0, 12.0, 12.0, 14.0, 14.0, 10.0, 10.0,
];

/// Column widths of [`DETAIL_SHEET`].
const DETAIL_WIDTHS: [f64; 14] =
    [16.0, 26.0, 22.0, 12.0, 8.0, 8.0, 12.0, 14.0, 8.0, 10.0, 12.0, 12.0, 12.0, 10.0];

/// Column widths of [`ROSTER_SHEET`].
const ROSTER_WIDTHS: [f64; 6] = [16.0, 30.0, 6.0, 12.0, 14.0, 24.0];

// ---------------------------------------------------------------------------------------------
// Serial numbers
// ---------------------------------------------------------------------------------------------

/// Why a serial number (发票流水号) is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSerial {
    /// The serial is empty.
    #[error("发票流水号不能为空")]
    Empty,
    /// The serial has more than [`InvoiceSerial::MAX_CHARS`] characters.
    #[error("发票流水号不能超过20个字符")]
    TooLong,
    /// The serial contains something other than ASCII letters and digits.
    #[error("发票流水号只能包含英文字母和数字，不能包含「{0}」")]
    InvalidChar(char),
}

impl InvalidSerial {
    /// A stable machine code: `required`, `too_long` or `invalid_char`.
    pub const fn code(self) -> &'static str {
        match self {
            InvalidSerial::Empty => "required",
            InvalidSerial::TooLong => "too_long",
            InvalidSerial::InvalidChar(_) => "invalid_char",
        }
    }
}

/// The serial number of one invoice in a bulk-issue workbook (发票流水号): 1–20 ASCII letters
/// and digits, e.g. `BM2601000001`.
///
/// The template allows any 20 characters chosen by the taxpayer; this type keeps to letters and
/// digits so the serial survives every spreadsheet and the bureau's own checks. The caller (the
/// store) assigns them, unique and stable per invoice, and finds the invoice again by it when
/// the issued numbers come back. Surrounding whitespace is trimmed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InvoiceSerial(String);

impl InvoiceSerial {
    /// The most characters a serial may have (the template's limit).
    pub const MAX_CHARS: usize = 20;

    /// Trims and checks a serial.
    pub fn parse(raw: &str) -> Result<InvoiceSerial, InvalidSerial> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(InvalidSerial::Empty);
        }
        if let Some(c) = s.chars().find(|c| !c.is_ascii_alphanumeric()) {
            return Err(InvalidSerial::InvalidChar(c));
        }
        if s.len() > Self::MAX_CHARS {
            return Err(InvalidSerial::TooLong);
        }
        Ok(InvoiceSerial(s.to_owned()))
    }

    /// The serial.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InvoiceSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for InvoiceSerial {
    type Err = InvalidSerial;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        InvoiceSerial::parse(s)
    }
}

impl AsRef<str> for InvoiceSerial {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// An error while writing the bulk-issue workbook.
///
/// The `Display` text is a short Chinese message for finance staff.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TaxWorkbookError {
    /// The xlsx writer failed, e.g. it could not create its temporary file.
    #[error("生成发票导入表失败：{0}")]
    Xlsx(#[from] XlsxError),
    /// The serial was used for another invoice of this workbook already. Nothing was written.
    #[error("发票流水号{serial}在本表中已用于另一张发票")]
    DuplicateSerial {
        /// The serial.
        serial: String,
    },
    /// A value is longer than the template allows. Nothing of the invoice was written.
    #[error("发票{serial}的“{column}”有{len}个字符，超过模板允许的{max}个")]
    TooLong {
        /// The invoice's serial.
        serial: String,
        /// The column's header.
        column: &'static str,
        /// The value's length in characters.
        len: usize,
        /// The template's limit.
        max: usize,
    },
    /// The workbook holds [`MAX_ROWS`] invoices already.
    #[error("一个发票导入表最多{max}张发票")]
    TooManyInvoices {
        /// The limit, [`MAX_ROWS`].
        max: u32,
    },
}

impl TaxWorkbookError {
    /// A stable machine code: `xlsx`, `duplicate_serial`, `too_long` or `too_many_invoices`.
    pub fn code(&self) -> &'static str {
        match self {
            TaxWorkbookError::Xlsx(_) => "xlsx",
            TaxWorkbookError::DuplicateSerial { .. } => "duplicate_serial",
            TaxWorkbookError::TooLong { .. } => "too_long",
            TaxWorkbookError::TooManyInvoices { .. } => "too_many_invoices",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------------

/// The cell formats of the workbook.
#[derive(Debug)]
struct Formats {
    instructions: Format,
    note: Format,
    header: Format,
    text: Format,
    quoted_text: Format,
}

impl Formats {
    fn new() -> Formats {
        let text = Format::new().set_num_format_index(TEXT_NUM_FORMAT);
        Formats {
            instructions: Format::new()
                .set_num_format_index(TEXT_NUM_FORMAT)
                .set_text_wrap()
                .set_align(FormatAlign::Left)
                .set_align(FormatAlign::Top),
            note: Format::new()
                .set_num_format_index(TEXT_NUM_FORMAT)
                .set_text_wrap()
                .set_font_size(9)
                .set_font_color(Color::RGB(0x0080_8080))
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter)
                .set_border(FormatBorder::Thin),
            header: Format::new()
                .set_num_format_index(TEXT_NUM_FORMAT)
                .set_bold()
                .set_text_wrap()
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter)
                .set_background_color(Color::RGB(0x00D9_E1F2))
                .set_border(FormatBorder::Thin),
            quoted_text: text.clone().set_quote_prefix(),
            text,
        }
    }

    /// The format of a data cell holding `value`.
    fn data(&self, value: &str) -> &Format {
        if looks_like_formula(value) { &self.quoted_text } else { &self.text }
    }
}

/// One row of the roster sheet, kept until [`TaxWorkbookWriter::finish`].
#[derive(Debug)]
struct RosterRow {
    cells: [String; 6],
}

/// Writes the bulk-issue workbook, one invoice at a time; see the module docs for the layout.
///
/// Create it with [`TaxWorkbookWriter::new`], add the invoices in order with
/// [`TaxWorkbookWriter::push`] and take the bytes with [`TaxWorkbookWriter::finish`] (or
/// [`TaxWorkbookWriter::finish_to`]).
pub struct TaxWorkbookWriter {
    workbook: Workbook,
    formats: Formats,
    settings: InvoiceItemSettings,
    invoices: u32,
    serials: HashSet<String>,
    roster: Vec<RosterRow>,
}

impl fmt::Debug for TaxWorkbookWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaxWorkbookWriter")
            .field("invoices", &self.invoices)
            .field("roster_rows", &self.roster.len())
            .finish_non_exhaustive()
    }
}

impl TaxWorkbookWriter {
    /// Starts a workbook: both template sheets with their instruction, note and header rows,
    /// column widths and panes frozen below the headers. `settings` gives the invoice line.
    ///
    /// # Errors
    ///
    /// [`TaxWorkbookError::Xlsx`] if the temporary files cannot be created.
    pub fn new(settings: &InvoiceItemSettings) -> Result<Self, TaxWorkbookError> {
        let mut workbook = Workbook::new();
        let formats = Formats::new();

        let basic = workbook.add_worksheet_with_constant_memory()?;
        basic.set_name(BASIC_SHEET)?;
        let notes = BASIC_COLUMNS.map(|c| c.note);
        let headers = BASIC_COLUMNS.map(|c| c.header);
        write_top_rows(basic, &formats, BASIC_INSTRUCTIONS, Some(&notes), &headers, &BASIC_WIDTHS)?;

        let detail = workbook.add_worksheet_with_constant_memory()?;
        detail.set_name(DETAIL_SHEET)?;
        let notes = DETAIL_COLUMNS.map(|c| c.note);
        let headers = DETAIL_COLUMNS.map(|c| c.header);
        write_top_rows(
            detail,
            &formats,
            DETAIL_INSTRUCTIONS,
            Some(&notes),
            &headers,
            &DETAIL_WIDTHS,
        )?;

        Ok(TaxWorkbookWriter {
            workbook,
            formats,
            settings: settings.clone(),
            invoices: 0,
            serials: HashSet::new(),
            roster: Vec::new(),
        })
    }

    /// Writes the next invoice: its row in [`BASIC_SHEET`], its line in [`DETAIL_SHEET`] and,
    /// when its remark is cut, its people into the roster.
    ///
    /// # Errors
    ///
    /// - [`TaxWorkbookError::DuplicateSerial`] if `serial` was pushed already;
    /// - [`TaxWorkbookError::TooLong`] if a value is longer than the template allows (e.g. an
    ///   email address above 72 characters);
    /// - [`TaxWorkbookError::TooManyInvoices`] past [`MAX_ROWS`] invoices;
    /// - [`TaxWorkbookError::Xlsx`] if the writer fails.
    ///
    /// In the first three cases nothing of the invoice is written and the writer can go on.
    pub fn push(
        &mut self,
        serial: &InvoiceSerial,
        draft: &InvoiceDraft,
    ) -> Result<(), TaxWorkbookError> {
        if self.invoices >= MAX_ROWS {
            return Err(TaxWorkbookError::TooManyInvoices { max: MAX_ROWS });
        }
        if self.serials.contains(serial.as_str()) {
            return Err(TaxWorkbookError::DuplicateSerial { serial: serial.as_str().to_owned() });
        }
        let basic = self.basic_row(serial, draft);
        let detail = self.detail_row(serial, draft);
        check_lengths(serial, &BASIC_COLUMNS, &basic)?;
        check_lengths(serial, &DETAIL_COLUMNS, &detail)?;

        let row = FIRST_DATA_ROW - 1 + self.invoices;
        write_data_row(self.workbook.worksheet_from_index(0)?, &self.formats, row, &basic)?;
        write_data_row(self.workbook.worksheet_from_index(1)?, &self.formats, row, &detail)?;
        self.invoices += 1;
        self.serials.insert(serial.as_str().to_owned());

        if draft.remark_is_cut() {
            for (i, person) in draft.covers().iter().enumerate() {
                self.roster.push(RosterRow {
                    cells: [
                        serial.as_str().to_owned(),
                        draft.buyer().name.clone(),
                        (i + 1).to_string(),
                        person.name.clone(),
                        person.paid.yuan(),
                        person.key.clone(),
                    ],
                });
            }
        }
        Ok(())
    }

    /// The number of invoices pushed so far.
    #[must_use]
    pub fn invoices(&self) -> u32 {
        self.invoices
    }

    /// The number of people waiting for the roster sheet.
    #[must_use]
    pub fn roster_rows(&self) -> usize {
        self.roster.len()
    }

    /// Finishes the workbook and returns its `.xlsx` bytes.
    ///
    /// # Errors
    ///
    /// [`TaxWorkbookError::Xlsx`] if the workbook cannot be assembled.
    pub fn finish(mut self) -> Result<Vec<u8>, TaxWorkbookError> {
        self.add_roster()?;
        Ok(self.workbook.save_to_buffer()?)
    }

    /// Finishes the workbook and writes its `.xlsx` bytes to `writer`.
    ///
    /// # Errors
    ///
    /// [`TaxWorkbookError::Xlsx`] if the workbook cannot be assembled or written.
    pub fn finish_to<W: Write + Send>(mut self, writer: W) -> Result<(), TaxWorkbookError> {
        self.add_roster()?;
        self.workbook.save_to_writer(writer)?;
        Ok(())
    }

    /// Adds the roster sheet when some invoice's remark was cut.
    fn add_roster(&mut self) -> Result<(), TaxWorkbookError> {
        if self.roster.is_empty() {
            return Ok(());
        }
        let sheet = self.workbook.add_worksheet_with_constant_memory()?;
        sheet.set_name(ROSTER_SHEET)?;
        write_top_rows(
            sheet,
            &self.formats,
            ROSTER_INSTRUCTIONS,
            None,
            &ROSTER_HEADERS,
            &ROSTER_WIDTHS,
        )?;
        for (row, entry) in (FIRST_DATA_ROW - 1..).zip(self.roster.drain(..)) {
            write_data_row(sheet, &self.formats, row, &entry.cells)?;
        }
        Ok(())
    }

    /// The cells of an invoice's row in [`BASIC_SHEET`].
    fn basic_row(&self, serial: &InvoiceSerial, draft: &InvoiceDraft) -> [String; 39] {
        let buyer = draft.buyer();
        let text = |v: &Option<String>| v.as_deref().map(str::trim).unwrap_or_default().to_owned();
        let mut cells: [String; 39] = std::array::from_fn(|_| String::new());
        cells[B_SERIAL] = serial.as_str().to_owned();
        cells[B_TYPE] = match draft.invoice_type() {
            InvoiceType::Normal => "普通发票",
            InvoiceType::Special => "增值税专用发票",
        }
        .to_owned();
        cells[B_INCLUDES_TAX] = yes_no(self.settings.prices_include_tax);
        cells[B_NATURAL_PERSON] = yes_no(draft.is_natural_person());
        cells[B_NAME] = buyer.name.trim().to_owned();
        cells[B_TAX_ID] = text(&buyer.tax_id);
        cells[B_ADDRESS] = text(&buyer.address);
        cells[B_PHONE] = text(&buyer.phone);
        cells[B_BANK] = text(&buyer.bank);
        cells[B_ACCOUNT] = text(&buyer.bank_account);
        if self.settings.show_buyer_contact {
            let contact = !cells[B_ADDRESS].is_empty() || !cells[B_PHONE].is_empty();
            let bank = !cells[B_BANK].is_empty() || !cells[B_ACCOUNT].is_empty();
            cells[B_SHOW_CONTACT] = match (contact, bank) {
                (true, true) => "展示地址、电话、开户银行及银行账号",
                (true, false) => "展示地址、电话",
                (false, true) => "展示开户银行、银行账号",
                (false, false) => "",
            }
            .to_owned();
        }
        cells[B_REMARK] = draft.remark().to_owned();
        cells[B_EMAIL] = text(&buyer.email);
        cells
    }

    /// The cells of an invoice's line in [`DETAIL_SHEET`].
    fn detail_row(&self, serial: &InvoiceSerial, draft: &InvoiceDraft) -> [String; 14] {
        let s = &self.settings;
        let people = i64::try_from(draft.covers().len()).unwrap_or(i64::MAX).max(1);
        let amount = if s.prices_include_tax {
            draft.amount()
        } else {
            split_tax_inclusive(draft.amount(), s.tax_rate).net
        };
        // Quantity × unit price must give the amount exactly, or both stay blank.
        let unit_price = draft.uniform_fee().and_then(|fee| {
            if s.prices_include_tax {
                Some(fee)
            } else {
                (amount.get() % people == 0).then(|| baoming_invoicing::Fen(amount.get() / people))
            }
        });
        let mut cells: [String; 14] = std::array::from_fn(|_| String::new());
        cells[D_SERIAL] = serial.as_str().to_owned();
        cells[D_ITEM] = s.item_name.as_str().to_owned();
        cells[D_CODE] = s.tax_code.as_str().to_owned();
        cells[D_SPEC] = s.specification.as_ref().map(|v| v.as_str().to_owned()).unwrap_or_default();
        cells[D_UNIT] = s.unit.as_ref().map(|v| v.as_str().to_owned()).unwrap_or_default();
        if let Some(price) = unit_price {
            cells[D_QUANTITY] = people.to_string();
            cells[D_PRICE] = price.yuan();
        }
        cells[D_AMOUNT] = amount.yuan();
        cells[D_RATE] = s.tax_rate.fraction_text();
        if s.tax_rate.is_exempt() {
            cells[D_POLICY] = "是".to_owned();
            cells[D_POLICY_TYPE] = "免税".to_owned();
        }
        cells
    }
}

fn yes_no(value: bool) -> String {
    if value { "是" } else { "否" }.to_owned()
}

/// Checks every value against its column's limit.
fn check_lengths(
    serial: &InvoiceSerial,
    columns: &[TemplateColumn],
    cells: &[String],
) -> Result<(), TaxWorkbookError> {
    for (column, cell) in columns.iter().zip(cells) {
        if let Some(max) = column.max_chars {
            let len = cell.chars().count();
            if len > max {
                return Err(TaxWorkbookError::TooLong {
                    serial: serial.as_str().to_owned(),
                    column: column.header,
                    len,
                    max,
                });
            }
        }
    }
    Ok(())
}

/// Writes rows 1–3 of a sheet (row 2 only when `notes` are given), sets the column widths and
/// freezes the panes below the headers. Equal neighbouring headers share one merged cell.
fn write_top_rows(
    sheet: &mut Worksheet,
    formats: &Formats,
    instructions: &str,
    notes: Option<&[&str]>,
    headers: &[&str],
    widths: &[f64],
) -> Result<(), TaxWorkbookError> {
    let last_col = u16::try_from(headers.len().saturating_sub(1)).unwrap_or(u16::MAX);
    for (col, width) in (0_u16..).zip(widths) {
        sheet.set_column_width(col, *width)?;
    }
    sheet.set_row_height(0, 75)?;
    sheet.merge_range(0, 0, 0, last_col, instructions, &formats.instructions)?;
    if let Some(notes) = notes {
        sheet.set_row_height(1, 42)?;
        write_merged_runs(sheet, 1, headers, notes, &formats.note)?;
    }
    sheet.set_row_height(HEADER_ROW - 1, 30)?;
    write_merged_runs(sheet, HEADER_ROW - 1, headers, headers, &formats.header)?;
    sheet.set_freeze_panes(FIRST_DATA_ROW - 1, 1)?;
    Ok(())
}

/// Writes `values` on `row`; where neighbouring `headers` are equal, the run of columns is
/// merged and holds the first value.
fn write_merged_runs(
    sheet: &mut Worksheet,
    row: u32,
    headers: &[&str],
    values: &[&str],
    format: &Format,
) -> Result<(), TaxWorkbookError> {
    let mut col = 0;
    while col < headers.len() {
        let mut end = col;
        while end + 1 < headers.len() && headers[end + 1] == headers[col] {
            end += 1;
        }
        let first = u16::try_from(col).unwrap_or(u16::MAX);
        let last = u16::try_from(end).unwrap_or(u16::MAX);
        let value = values.get(col).copied().unwrap_or_default();
        if first == last {
            sheet.write_string_with_format(row, first, value, format)?;
        } else {
            sheet.merge_range(row, first, row, last, value, format)?;
        }
        col = end + 1;
    }
    Ok(())
}

/// Writes one data row, every cell as text (blank cells keep the text format).
fn write_data_row(
    sheet: &mut Worksheet,
    formats: &Formats,
    row: u32,
    cells: &[String],
) -> Result<(), TaxWorkbookError> {
    for (col, cell) in (0_u16..).zip(cells) {
        sheet.write_string_with_format(row, col, cell, formats.data(cell))?;
    }
    Ok(())
}

/// Writes a whole workbook at once: the invoices in the order given.
///
/// # Errors
///
/// As [`TaxWorkbookWriter::push`] and [`TaxWorkbookWriter::finish`]; the first error stops.
pub fn write_tax_workbook<'a>(
    settings: &InvoiceItemSettings,
    invoices: impl IntoIterator<Item = (&'a InvoiceSerial, &'a InvoiceDraft)>,
) -> Result<Vec<u8>, TaxWorkbookError> {
    let mut writer = TaxWorkbookWriter::new(settings)?;
    for (serial, draft) in invoices {
        writer.push(serial, draft)?;
    }
    writer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const B_REGION_FIRST: usize = 11;
    const B_REGION_LAST: usize = 14;

    #[test]
    fn filled_column_indices_match_the_headers() {
        let b = |i: usize| BASIC_COLUMNS[i].header;
        assert_eq!(b(B_SERIAL), "发票流水号");
        assert_eq!(b(B_TYPE), "发票类型");
        assert_eq!(b(B_INCLUDES_TAX), "是否含税");
        assert_eq!(b(B_NATURAL_PERSON), "受票方自然人标识");
        assert_eq!(b(B_NAME), "购买方名称");
        assert_eq!(b(B_TAX_ID), "购买方纳税人识别号");
        assert_eq!(b(B_ADDRESS), "购买方地址");
        assert_eq!(b(B_REGION_FIRST), REGION_HEADER);
        assert_eq!(b(B_REGION_LAST), REGION_HEADER);
        assert_eq!(b(B_PHONE), "购买方电话");
        assert_eq!(b(B_BANK), "购买方开户银行");
        assert_eq!(b(B_ACCOUNT), "购买方银行账号");
        assert_eq!(b(B_SHOW_CONTACT), "是否展示购买方地址电话银行账号");
        assert_eq!(b(B_REMARK), "备注");
        assert_eq!(b(B_EMAIL), "购买方邮箱");
        let d = |i: usize| DETAIL_COLUMNS[i].header;
        assert_eq!(d(D_SERIAL), "发票流水号");
        assert_eq!(d(D_ITEM), "项目名称");
        assert_eq!(d(D_CODE), "商品和服务税收编码");
        assert_eq!(d(D_SPEC), "规格型号");
        assert_eq!(d(D_UNIT), "单位");
        assert_eq!(d(D_QUANTITY), "数量");
        assert_eq!(d(D_PRICE), "单价");
        assert_eq!(d(D_AMOUNT), "金额");
        assert_eq!(d(D_RATE), "税率");
        assert_eq!(d(D_POLICY), "是否使用优惠政策");
        assert_eq!(d(D_POLICY_TYPE), "优惠政策类型");
        // Only the region columns repeat a header.
        let mut headers: Vec<&str> = BASIC_COLUMNS.iter().map(|c| c.header).collect();
        headers.dedup();
        assert_eq!(headers.len(), BASIC_COLUMNS.len() - 3);
        assert_eq!(BASIC_WIDTHS.len(), BASIC_COLUMNS.len());
    }

    #[test]
    fn serial_rules() {
        assert_eq!(
            InvoiceSerial::parse(" BM2601000001 ").map(|s| s.to_string()),
            Ok("BM2601000001".into())
        );
        assert_eq!(InvoiceSerial::parse(&"9".repeat(20)).map(|s| s.as_str().len()), Ok(20));
        assert_eq!(InvoiceSerial::parse(&"9".repeat(21)), Err(InvalidSerial::TooLong));
        assert_eq!(InvoiceSerial::parse("  "), Err(InvalidSerial::Empty));
        assert_eq!(InvoiceSerial::parse("BM-1"), Err(InvalidSerial::InvalidChar('-')));
        assert_eq!(InvoiceSerial::parse("BM１"), Err(InvalidSerial::InvalidChar('１')));
        assert_eq!(InvoiceSerial::parse("=1"), Err(InvalidSerial::InvalidChar('=')));
        assert_eq!(InvalidSerial::TooLong.code(), "too_long");
        assert_eq!(
            InvalidSerial::InvalidChar('-').to_string(),
            "发票流水号只能包含英文字母和数字，不能包含「-」"
        );
        assert_eq!("A1".parse::<InvoiceSerial>().map(|s| s.as_ref().to_owned()), Ok("A1".into()));
    }
}
