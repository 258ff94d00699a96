//! The daily trade bill (交易账单, `bill_type=ALL`) for reconciliation.
//!
//! The file is UTF-8 (a BOM is tolerated) CSV without quoting: a header row, detail rows in
//! which every field is prefixed with a backtick (`` ` ``), then a summary header row
//! (starting `总交易单数`) and one summary row. Columns are looked up by header name, so
//! extra or reordered columns are fine; a missing required column is an error. Amounts are in
//! **yuan** and are read exactly into fen ([`Money`]); there is no floating point anywhere.
//!
//! Detail rows are split on `` ,` `` (a comma followed by the backtick of the next field), so
//! a comma inside a free-text field such as 商品名称 does not shift the columns.
//!
//! In non-refund rows WeChat writes `0` as refund numbers and `0.00` as refund amount; such
//! rows get `None` for all refund fields.

use std::fmt::Write as _;

use baoming_domain::money::{Money, MoneyError};
use chrono::NaiveDateTime;
use sha1::{Digest, Sha1};

use crate::notify::{RefundStatus, TradeState};

/// The time format of 交易时间.
pub const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

const COL_TIME: &str = "交易时间";
const COL_APPID: &str = "公众账号ID";
const COL_MCHID: &str = "商户号";
const COL_TRANSACTION_ID: &str = "微信订单号";
const COL_OUT_TRADE_NO: &str = "商户订单号";
const COL_TRADE_STATE: &str = "交易状态";
const COL_SETTLEMENT_TOTAL: &str = "应结订单金额";
const COL_REFUND_ID: &str = "微信退款单号";
const COL_OUT_REFUND_NO: &str = "商户退款单号";
const COL_REFUND_AMOUNT: &str = "退款金额";
const COL_REFUND_STATUS: &str = "退款状态";

const SUM_COUNT: &str = "总交易单数";
const SUM_SETTLEMENT_TOTAL: &str = "应结订单总金额";
const SUM_REFUND_TOTAL: &str = "退款总金额";

/// The columns of WeChat Pay's `ALL` trade bill, in its order (used by
/// [`render_trade_bill`]).
const FULL_HEADER: [&str; 27] = [
    COL_TIME,
    COL_APPID,
    COL_MCHID,
    "特约商户号",
    "设备号",
    COL_TRANSACTION_ID,
    COL_OUT_TRADE_NO,
    "用户标识",
    "交易类型",
    COL_TRADE_STATE,
    "付款银行",
    "货币种类",
    COL_SETTLEMENT_TOTAL,
    "代金券金额",
    COL_REFUND_ID,
    COL_OUT_REFUND_NO,
    COL_REFUND_AMOUNT,
    "充值券退款金额",
    "退款类型",
    COL_REFUND_STATUS,
    "商品名称",
    "商户数据包",
    "手续费",
    "费率",
    "订单金额",
    "申请退款金额",
    "费率备注",
];

const SUMMARY_HEADER: [&str; 7] = [
    SUM_COUNT,
    SUM_SETTLEMENT_TOTAL,
    SUM_REFUND_TOTAL,
    "充值券退款总金额",
    "手续费总金额",
    "订单总金额",
    "申请退款总金额",
];

/// Why a bill was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillError {
    /// The file is not UTF-8.
    #[error("bill is not UTF-8")]
    NotUtf8,
    /// The file has no header row.
    #[error("bill is empty")]
    Empty,
    /// A required column is missing from the header (or the summary header).
    #[error("bill column {0} missing")]
    MissingColumn(&'static str),
    /// A row has the wrong shape (line numbers start at 1).
    #[error("bill line {line}: {reason}")]
    BadRow {
        /// The line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// An amount is not exact yuan with at most two decimals (or negative).
    #[error("bill line {line}: bad amount {value:?} in {column}")]
    BadAmount {
        /// The line number.
        line: usize,
        /// The column.
        column: &'static str,
        /// The text found.
        value: String,
    },
    /// A time is not `YYYY-MM-DD HH:MM:SS`.
    #[error("bill line {line}: bad time {value:?}")]
    BadTime {
        /// The line number.
        line: usize,
        /// The text found.
        value: String,
    },
    /// The summary header or row is missing.
    #[error("bill summary missing")]
    MissingSummary,
    /// Content after the summary row.
    #[error("bill line {0}: unexpected content after the summary")]
    TrailingContent(usize),
    /// The hash type is not `SHA1`.
    #[error("unsupported bill hash type {0:?}")]
    UnsupportedHashType(String),
    /// The file's hash differs from the announced one.
    #[error("bill hash mismatch (expected {expected}, got {actual})")]
    HashMismatch {
        /// The announced hash.
        expected: String,
        /// The hash of the bytes received.
        actual: String,
    },
}

/// One detail row of the bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillRow {
    /// 交易时间 (Beijing time, as written).
    pub time: NaiveDateTime,
    /// 公众账号ID.
    pub appid: String,
    /// 商户号.
    pub mchid: String,
    /// 微信订单号.
    pub transaction_id: String,
    /// 商户订单号.
    pub out_trade_no: String,
    /// 交易状态: `SUCCESS`, `REFUND`, `REVOKED`, …
    pub trade_state: TradeState,
    /// 应结订单金额.
    pub settlement_total: Money,
    /// 微信退款单号 (refund rows only).
    pub refund_id: Option<String>,
    /// 商户退款单号 (refund rows only).
    pub out_refund_no: Option<String>,
    /// 退款金额 (refund rows only).
    pub refund_amount: Option<Money>,
    /// 退款状态 (refund rows only).
    pub refund_status: Option<RefundStatus>,
}

/// The summary row of the bill, as WeChat Pay states it (not recomputed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillSummary {
    /// 总交易单数.
    pub count: u64,
    /// 应结订单总金额.
    pub settlement_total: Money,
    /// 退款总金额.
    pub refund_total: Money,
}

/// A parsed trade bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeBill {
    /// The detail rows, in file order.
    pub rows: Vec<BillRow>,
    /// The summary.
    pub summary: BillSummary,
}

/// Column positions of the required detail columns.
struct Columns {
    count: usize,
    time: usize,
    appid: usize,
    mchid: usize,
    transaction_id: usize,
    out_trade_no: usize,
    trade_state: usize,
    settlement_total: usize,
    refund_id: usize,
    out_refund_no: usize,
    refund_amount: usize,
    refund_status: usize,
}

fn position(header: &[&str], name: &'static str) -> Result<usize, BillError> {
    header.iter().position(|h| *h == name).ok_or(BillError::MissingColumn(name))
}

impl Columns {
    fn find(header: &[&str]) -> Result<Self, BillError> {
        Ok(Self {
            count: header.len(),
            time: position(header, COL_TIME)?,
            appid: position(header, COL_APPID)?,
            mchid: position(header, COL_MCHID)?,
            transaction_id: position(header, COL_TRANSACTION_ID)?,
            out_trade_no: position(header, COL_OUT_TRADE_NO)?,
            trade_state: position(header, COL_TRADE_STATE)?,
            settlement_total: position(header, COL_SETTLEMENT_TOTAL)?,
            refund_id: position(header, COL_REFUND_ID)?,
            out_refund_no: position(header, COL_OUT_REFUND_NO)?,
            refund_amount: position(header, COL_REFUND_AMOUNT)?,
            refund_status: position(header, COL_REFUND_STATUS)?,
        })
    }
}

fn split_header(line: &str) -> Vec<&str> {
    line.split(',').map(str::trim).collect()
}

/// Splits a detail row: every field starts with a backtick.
fn split_detail(line: &str, number: usize) -> Result<Vec<&str>, BillError> {
    let rest = line.strip_prefix('`').ok_or_else(|| BillError::BadRow {
        line: number,
        reason: "detail fields must start with a backtick".to_owned(),
    })?;
    Ok(rest.split(",`").map(str::trim).collect())
}

fn amount(text: &str, line: usize, column: &'static str) -> Result<Money, BillError> {
    Money::parse_yuan(text).map_err(|_: MoneyError| BillError::BadAmount {
        line,
        column,
        value: text.chars().take(40).collect(),
    })
}

/// Whether a refund field is the "no refund" placeholder.
fn blank(text: &str) -> bool {
    text.is_empty() || text == "0"
}

fn parse_row(fields: &[&str], columns: &Columns, line: usize) -> Result<BillRow, BillError> {
    if fields.len() != columns.count {
        return Err(BillError::BadRow {
            line,
            reason: format!("{} fields, header has {}", fields.len(), columns.count),
        });
    }
    let field = |index: usize| fields.get(index).copied().unwrap_or_default();
    let time_text = field(columns.time);
    let time = NaiveDateTime::parse_from_str(time_text, TIME_FORMAT)
        .map_err(|_| BillError::BadTime { line, value: time_text.chars().take(40).collect() })?;
    let refund_id = field(columns.refund_id);
    let out_refund_no = field(columns.out_refund_no);
    let has_refund = !blank(refund_id) || !blank(out_refund_no);
    let (refund_amount, refund_status) = if has_refund {
        let status = field(columns.refund_status);
        (
            Some(amount(field(columns.refund_amount), line, COL_REFUND_AMOUNT)?),
            (!status.is_empty()).then(|| RefundStatus::parse(status)),
        )
    } else {
        (None, None)
    };
    let optional = |text: &str| (!blank(text)).then(|| text.to_owned());
    Ok(BillRow {
        time,
        appid: field(columns.appid).to_owned(),
        mchid: field(columns.mchid).to_owned(),
        transaction_id: field(columns.transaction_id).to_owned(),
        out_trade_no: field(columns.out_trade_no).to_owned(),
        trade_state: TradeState::parse(field(columns.trade_state)),
        settlement_total: amount(field(columns.settlement_total), line, COL_SETTLEMENT_TOTAL)?,
        refund_id: optional(refund_id),
        out_refund_no: optional(out_refund_no),
        refund_amount,
        refund_status,
    })
}

fn parse_summary(header: &[&str], row: &[&str], line: usize) -> Result<BillSummary, BillError> {
    if header.len() != row.len() {
        return Err(BillError::BadRow {
            line,
            reason: format!("{} summary fields, summary header has {}", row.len(), header.len()),
        });
    }
    let get = |name: &'static str| -> Result<&str, BillError> {
        Ok(row.get(position(header, name)?).copied().unwrap_or_default())
    };
    let count_text = get(SUM_COUNT)?;
    let count = count_text.parse().map_err(|_| BillError::BadRow {
        line,
        reason: format!("bad {SUM_COUNT} {:?}", count_text.chars().take(40).collect::<String>()),
    })?;
    Ok(BillSummary {
        count,
        settlement_total: amount(get(SUM_SETTLEMENT_TOTAL)?, line, SUM_SETTLEMENT_TOTAL)?,
        refund_total: amount(get(SUM_REFUND_TOTAL)?, line, SUM_REFUND_TOTAL)?,
    })
}

/// Parses a trade bill file (see the module documentation for the format).
pub fn parse_trade_bill(bytes: &[u8]) -> Result<TradeBill, BillError> {
    let text = std::str::from_utf8(bytes).map_err(|_| BillError::NotUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .split('\n')
        .enumerate()
        .map(|(index, line)| (index + 1, line.strip_suffix('\r').unwrap_or(line)))
        .filter(|(_, line)| !line.trim().is_empty());

    let (_, header_line) = lines.next().ok_or(BillError::Empty)?;
    let header = split_header(header_line);
    let columns = Columns::find(&header)?;

    let mut rows = Vec::new();
    let summary_header = loop {
        let (number, line) = lines.next().ok_or(BillError::MissingSummary)?;
        if line.starts_with('`') {
            let fields = split_detail(line, number)?;
            rows.push(parse_row(&fields, &columns, number)?);
        } else if split_header(line).first() == Some(&SUM_COUNT) {
            break split_header(line);
        } else {
            return Err(BillError::BadRow {
                line: number,
                reason: "neither a detail row nor the summary header".to_owned(),
            });
        }
    };
    let (number, summary_line) = lines.next().ok_or(BillError::MissingSummary)?;
    let summary_fields = split_detail(summary_line, number)?;
    let summary = parse_summary(&summary_header, &summary_fields, number)?;
    if let Some((number, _)) = lines.next() {
        return Err(BillError::TrailingContent(number));
    }
    Ok(TradeBill { rows, summary })
}

/// Lowercase hex SHA-1 of `bytes`.
pub fn sha1_hex(bytes: &[u8]) -> String {
    hex::encode(Sha1::digest(bytes))
}

/// Checks a downloaded file against the announced hash. Only `SHA1` is supported; the hex
/// comparison ignores case.
pub fn check_hash(bytes: &[u8], hash_type: &str, hash_value: &str) -> Result<(), BillError> {
    if !hash_type.eq_ignore_ascii_case("SHA1") {
        return Err(BillError::UnsupportedHashType(hash_type.chars().take(20).collect()));
    }
    let actual = sha1_hex(bytes);
    if actual.eq_ignore_ascii_case(hash_value.trim()) {
        Ok(())
    } else {
        Err(BillError::HashMismatch { expected: hash_value.chars().take(64).collect(), actual })
    }
}

/// Yuan with two decimals for any fen total (sums may exceed one `Money`).
fn yuan(fen: i128) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// Writes a trade bill in WeChat Pay's `ALL` layout (27 columns, backtick-prefixed fields,
/// summary computed from the rows). The inverse of [`parse_trade_bill`], for tests and a
/// simulator. Fields must not contain `` ,` `` or line breaks.
pub fn render_trade_bill(rows: &[BillRow]) -> String {
    let mut out = FULL_HEADER.join(",");
    out.push('\n');
    let mut settlement: i128 = 0;
    let mut refunds: i128 = 0;
    for row in rows {
        settlement += i128::from(row.settlement_total.fen());
        let refund = row.refund_amount.unwrap_or(Money::ZERO);
        refunds += i128::from(refund.fen());
        let time = row.time.format(TIME_FORMAT).to_string();
        let settlement_total = row.settlement_total.to_string();
        let refund_text = refund.to_string();
        let fields: [&str; 27] = [
            &time,
            &row.appid,
            &row.mchid,
            "0",
            "",
            &row.transaction_id,
            &row.out_trade_no,
            "",
            "JSAPI",
            row.trade_state.as_str(),
            "OTHERS",
            "CNY",
            &settlement_total,
            "0.00",
            row.refund_id.as_deref().unwrap_or("0"),
            row.out_refund_no.as_deref().unwrap_or("0"),
            &refund_text,
            "0.00",
            if row.out_refund_no.is_some() { "ORIGINAL" } else { "" },
            row.refund_status.as_ref().map(RefundStatus::as_str).unwrap_or_default(),
            "",
            "",
            "0.00",
            "0.60%",
            &settlement_total,
            &refund_text,
            "",
        ];
        push_detail(&mut out, &fields);
    }
    out.push_str(&SUMMARY_HEADER.join(","));
    out.push('\n');
    let count = rows.len().to_string();
    let (settlement, refunds) = (yuan(settlement), yuan(refunds));
    push_detail(&mut out, &[&count, &settlement, &refunds, "0.00", "0.00", &settlement, &refunds]);
    out
}

fn push_detail(out: &mut String, fields: &[&str]) {
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        let _ = write!(out, "`{field}");
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use proptest::prelude::*;

    use super::*;

    fn fen(n: i64) -> Money {
        Money::from_fen(n).expect("fen")
    }

    fn time(h: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 3, 14).and_then(|d| d.and_hms_opt(h, 5, 9)).expect("time")
    }

    fn rows() -> Vec<BillRow> {
        vec![
            BillRow {
                time: time(9),
                appid: "wx1234567890abcdef".to_owned(),
                mchid: "1900000001".to_owned(),
                transaction_id: "4200001234202603140000000001".to_owned(),
                out_trade_no: "0123456789abcdef0123456789abcdef".to_owned(),
                trade_state: TradeState::Success,
                settlement_total: fen(128_000),
                refund_id: None,
                out_refund_no: None,
                refund_amount: None,
                refund_status: None,
            },
            BillRow {
                time: time(15),
                appid: "wx1234567890abcdef".to_owned(),
                mchid: "1900000001".to_owned(),
                transaction_id: "4200001234202603140000000002".to_owned(),
                out_trade_no: "fedcba9876543210fedcba9876543210".to_owned(),
                trade_state: TradeState::Refund,
                settlement_total: fen(10),
                refund_id: Some("50300000012026031400000000001".to_owned()),
                out_refund_no: Some("aaaabbbbccccddddeeeeffff00001111".to_owned()),
                refund_amount: Some(fen(10)),
                refund_status: Some(RefundStatus::Success),
            },
        ]
    }

    #[test]
    fn render_then_parse_round_trips() {
        let text = render_trade_bill(&rows());
        let bill = parse_trade_bill(text.as_bytes()).expect("parse");
        assert_eq!(bill.rows, rows());
        assert_eq!(
            bill.summary,
            BillSummary { count: 2, settlement_total: fen(128_010), refund_total: fen(10) }
        );
        // With a BOM and CRLF line ends too.
        let crlf = format!("\u{feff}{}", text.replace('\n', "\r\n"));
        assert_eq!(parse_trade_bill(crlf.as_bytes()).map(|b| b.rows), Ok(rows()));
    }

    const WECHAT_SAMPLE: &str = "\
交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注
`2014-11-10 16:33:45,`wx2421b1c4370ec43b,`10000100,`0,`1000,`1001690740201411100005734289,`1415640626,`085e9858e3ba5186aafcbaed1,`MICROPAY,`SUCCESS,`CFT,`CNY,`0.10,`0.0,`0,`0,`0,`0,`,`,`被扫支付测试,`订单额外描述,`0,`0.60%,`0.10,`0.00,`
`2014-11-10 16:46:14,`wx2421b1c4370ec43b,`10000100,`0,`1000,`1002780740201411100005729794,`1415635270,`085e9858e90ca40c0b5aee463,`MICROPAY,`REFUND,`CFT,`CNY,`1280.00,`0.0,`2000000000000000001,`1415701182,`0.10,`0.00,`ORIGINAL,`SUCCESS,`被扫支付测试, 含逗号,`订单额外描述,`0,`0.60%,`1280.00,`0.10,`
总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额
`2,`1280.10,`0.10,`0.0,`0,`1280.10,`0.10
";

    #[test]
    fn parses_wechat_layout() {
        let bill = parse_trade_bill(WECHAT_SAMPLE.as_bytes()).expect("parse");
        assert_eq!(bill.rows.len(), 2);
        let first = &bill.rows[0];
        assert_eq!(first.settlement_total, fen(10));
        assert_eq!(first.out_trade_no, "1415640626");
        assert_eq!(first.trade_state, TradeState::Success);
        assert_eq!((first.out_refund_no.as_deref(), first.refund_amount), (None, None));
        assert_eq!(first.refund_status, None);
        let second = &bill.rows[1];
        assert_eq!(second.settlement_total, fen(128_000));
        assert_eq!(second.out_refund_no.as_deref(), Some("1415701182"));
        assert_eq!(second.refund_id.as_deref(), Some("2000000000000000001"));
        assert_eq!(second.refund_amount, Some(fen(10)));
        assert_eq!(second.refund_status, Some(RefundStatus::Success));
        assert_eq!(second.time.format(TIME_FORMAT).to_string(), "2014-11-10 16:46:14");
        assert_eq!(bill.summary.count, 2);
        assert_eq!(bill.summary.settlement_total, fen(128_010));
    }

    #[test]
    fn columns_are_found_by_name() {
        // Reordered, with an extra column and without optional ones.
        let text = "\
商户订单号,额外,交易状态,交易时间,公众账号ID,商户号,微信订单号,应结订单金额,微信退款单号,商户退款单号,退款金额,退款状态
`order-1,`x,`SUCCESS,`2026-01-02 03:04:05,`wxa,`1900000001,`4200,`12.3,`0,`0,`0.00,`
总交易单数,应结订单总金额,退款总金额
`1,`12.30,`0.00
";
        let bill = parse_trade_bill(text.as_bytes()).expect("parse");
        assert_eq!(bill.rows[0].out_trade_no, "order-1");
        assert_eq!(bill.rows[0].settlement_total, fen(1230));
        let missing = text.replace("应结订单金额", "订单金额");
        assert_eq!(
            parse_trade_bill(missing.as_bytes()),
            Err(BillError::MissingColumn("应结订单金额"))
        );
    }

    fn with_amount(value: &str) -> Result<TradeBill, BillError> {
        let text = render_trade_bill(&rows()[..1]).replace("`1280.00", &format!("`{value}"));
        parse_trade_bill(text.as_bytes())
    }

    #[test]
    fn amounts_are_exact() {
        assert_eq!(with_amount("0.10").map(|b| b.rows[0].settlement_total), Ok(fen(10)));
        assert_eq!(with_amount("1280.00").map(|b| b.rows[0].settlement_total), Ok(fen(128_000)));
        assert_eq!(with_amount("0.1").map(|b| b.rows[0].settlement_total), Ok(fen(10)));
        for bad in ["-1", "1.234", "1e3", "", "abc", "1,0"] {
            assert!(
                matches!(
                    with_amount(bad),
                    Err(BillError::BadAmount { line: 2, .. }) | Err(BillError::BadRow { .. })
                ),
                "{bad}: {:?}",
                with_amount(bad)
            );
        }
    }

    #[test]
    fn structural_errors() {
        assert_eq!(parse_trade_bill(b"\xff\xfe"), Err(BillError::NotUtf8));
        assert_eq!(parse_trade_bill(b""), Err(BillError::Empty));
        assert_eq!(parse_trade_bill(b"\n\n"), Err(BillError::Empty));
        let text = render_trade_bill(&rows());
        let lines: Vec<&str> = text.lines().collect();
        // No summary.
        let cut = lines[..3].join("\n");
        assert_eq!(parse_trade_bill(cut.as_bytes()), Err(BillError::MissingSummary));
        let cut = lines[..4].join("\n");
        assert_eq!(parse_trade_bill(cut.as_bytes()), Err(BillError::MissingSummary));
        // Trailing content.
        let extra = format!("{text}`more\n");
        assert_eq!(parse_trade_bill(extra.as_bytes()), Err(BillError::TrailingContent(6)));
        // A row with a missing field.
        let short = text.replacen(",`JSAPI", "", 1);
        assert!(matches!(
            parse_trade_bill(short.as_bytes()),
            Err(BillError::BadRow { line: 2, .. })
        ));
        // A row without backticks.
        let plain = text.replacen("`2026", "2026", 1);
        assert!(matches!(
            parse_trade_bill(plain.as_bytes()),
            Err(BillError::BadRow { line: 2, .. })
        ));
        // A bad time.
        let bad_time = text.replacen("2026-03-14 09:05:09", "2026-03-14T09:05:09", 1);
        assert!(matches!(
            parse_trade_bill(bad_time.as_bytes()),
            Err(BillError::BadTime { line: 2, .. })
        ));
    }

    #[test]
    fn hash_checks() {
        assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(check_hash(b"abc", "SHA1", "A9993E364706816ABA3E25717850C26C9CD0D89D"), Ok(()));
        assert_eq!(
            check_hash(b"abd", "SHA1", "a9993e364706816aba3e25717850c26c9cd0d89d"),
            Err(BillError::HashMismatch {
                expected: "a9993e364706816aba3e25717850c26c9cd0d89d".to_owned(),
                actual: sha1_hex(b"abd"),
            })
        );
        assert_eq!(
            check_hash(b"abc", "SM3", "x"),
            Err(BillError::UnsupportedHashType("SM3".to_owned()))
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in "[`,\n0-9a-z.\\- :交易时间总]{0,300}") {
            let _ = parse_trade_bill(text.as_bytes());
        }

        #[test]
        fn round_trip_any_amounts(amounts in proptest::collection::vec(0i64..10_000_000_000, 0..8)) {
            let rows: Vec<BillRow> = amounts
                .iter()
                .map(|&a| BillRow { settlement_total: fen(a), ..rows()[0].clone() })
                .collect();
            let bill = parse_trade_bill(render_trade_bill(&rows).as_bytes()).expect("parse");
            prop_assert_eq!(bill.rows, rows);
            prop_assert_eq!(bill.summary.count, amounts.len() as u64);
        }
    }
}
