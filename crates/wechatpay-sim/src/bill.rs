//! The trade bill (交易账单) file, as WeChat Pay writes it: a header row, one detail row per
//! payment or refund with **every field prefixed by a backtick**, then a summary header and one
//! summary row (also backticked). Amounts are in yuan with two decimals; lines end in CRLF.
//! Free text (商品名称, 商户数据包) is written as given, without quoting, as WeChat does.

use chrono::{DateTime, Utc};

use crate::crypto::beijing;

/// The detail header, column for column as WeChat Pay's trade bill has it.
pub(crate) const DETAIL_HEADER: [&str; 27] = [
    "交易时间",
    "公众账号ID",
    "商户号",
    "特约商户号",
    "设备号",
    "微信订单号",
    "商户订单号",
    "用户标识",
    "交易类型",
    "交易状态",
    "付款银行",
    "货币种类",
    "应结订单金额",
    "代金券金额",
    "微信退款单号",
    "商户退款单号",
    "退款金额",
    "充值券退款金额",
    "退款类型",
    "退款状态",
    "商品名称",
    "商户数据包",
    "手续费",
    "费率",
    "订单金额",
    "申请退款金额",
    "费率备注",
];

/// The summary header.
pub(crate) const SUMMARY_HEADER: [&str; 7] = [
    "总交易单数",
    "应结订单总金额",
    "退款总金额",
    "充值券退款总金额",
    "手续费总金额",
    "订单总金额",
    "申请退款总金额",
];

/// The simulated fee rate: 0.6 %, the usual rate for mini-program payments.
const FEE_RATE_TEXT: &str = "0.60%";

/// One detail row: a successful payment (交易状态 SUCCESS) or a successful refund (REFUND).
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) time: DateTime<Utc>,
    pub(crate) appid: String,
    pub(crate) mchid: String,
    pub(crate) transaction_id: String,
    pub(crate) out_trade_no: String,
    pub(crate) openid: String,
    pub(crate) description: String,
    pub(crate) attach: String,
    /// The order total in fen.
    pub(crate) order_total: i64,
    /// `Some((refund_id, out_refund_no, refund in fen))` for a refund row.
    pub(crate) refund: Option<(String, String, i64)>,
}

impl Row {
    fn is_refund(&self) -> bool {
        self.refund.is_some()
    }

    /// 应结订单金额: the order amount for a payment (no coupons here), 0 for a refund.
    fn settlement(&self) -> i64 {
        if self.is_refund() { 0 } else { self.order_total }
    }

    fn refunded(&self) -> i64 {
        self.refund.as_ref().map_or(0, |(_, _, amount)| *amount)
    }

    /// 手续费: 0.6 % of the amount, rounded half up to the fen; returned (negative) on refunds.
    fn fee(&self) -> i64 {
        match &self.refund {
            None => fee_of(self.order_total),
            Some((_, _, amount)) => -fee_of(*amount),
        }
    }

    fn fields(&self) -> Vec<String> {
        let (refund_id, out_refund_no) = match &self.refund {
            Some((id, no, _)) => (id.clone(), no.clone()),
            None => ("0".to_owned(), "0".to_owned()),
        };
        let time = self.time.with_timezone(&beijing()).format("%Y-%m-%d %H:%M:%S").to_string();
        vec![
            time,
            self.appid.clone(),
            self.mchid.clone(),
            "0".to_owned(),
            String::new(),
            self.transaction_id.clone(),
            self.out_trade_no.clone(),
            self.openid.clone(),
            "JSAPI".to_owned(),
            if self.is_refund() { "REFUND" } else { "SUCCESS" }.to_owned(),
            "OTHERS".to_owned(),
            "CNY".to_owned(),
            yuan(self.settlement()),
            yuan(0),
            refund_id,
            out_refund_no,
            yuan(self.refunded()),
            yuan(0),
            if self.is_refund() { "ORIGINAL" } else { "" }.to_owned(),
            if self.is_refund() { "SUCCESS" } else { "" }.to_owned(),
            self.description.clone(),
            self.attach.clone(),
            yuan(self.fee()),
            FEE_RATE_TEXT.to_owned(),
            yuan(if self.is_refund() { 0 } else { self.order_total }),
            yuan(self.refunded()),
            String::new(),
        ]
    }
}

fn fee_of(amount: i64) -> i64 {
    (amount.saturating_mul(6).saturating_add(500)) / 1000
}

/// Fen as yuan with two decimals: 1 → `0.01`, -150 → `-1.50`.
pub(crate) fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

fn backticked(fields: &[String]) -> String {
    let mut line = String::new();
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            line.push(',');
        }
        line.push('`');
        line.push_str(field);
    }
    line
}

/// The bill file for `rows` (already filtered to the bill's day and type, in any order).
pub(crate) fn render(rows: &mut [Row]) -> String {
    rows.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.out_trade_no.cmp(&b.out_trade_no)));
    let mut out = DETAIL_HEADER.join(",");
    out.push_str("\r\n");
    for row in rows.iter() {
        out.push_str(&backticked(&row.fields()));
        out.push_str("\r\n");
    }
    out.push_str(&SUMMARY_HEADER.join(","));
    out.push_str("\r\n");
    let sum = |f: &dyn Fn(&Row) -> i64| rows.iter().map(f).fold(0i64, i64::saturating_add);
    let summary = [
        rows.len().to_string(),
        yuan(sum(&Row::settlement)),
        yuan(sum(&Row::refunded)),
        yuan(0),
        yuan(sum(&Row::fee)),
        yuan(sum(&|row: &Row| if row.is_refund() { 0 } else { row.order_total })),
        yuan(sum(&Row::refunded)),
    ];
    out.push_str(&backticked(&summary));
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_formats_fen() {
        assert_eq!(yuan(0), "0.00");
        assert_eq!(yuan(1), "0.01");
        assert_eq!(yuan(12345), "123.45");
        assert_eq!(yuan(-150), "-1.50");
    }

    #[test]
    fn fees_round_half_up() {
        assert_eq!(fee_of(100), 1);
        assert_eq!(fee_of(83), 0);
        assert_eq!(fee_of(84), 1);
        assert_eq!(fee_of(10000), 60);
    }

    #[test]
    fn renders_header_rows_and_summary() {
        let time = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        let payment = Row {
            time,
            appid: "wxa".into(),
            mchid: "190".into(),
            transaction_id: "4200".into(),
            out_trade_no: "order1".into(),
            openid: "o1".into(),
            description: "报名费".into(),
            attach: String::new(),
            order_total: 10000,
            refund: None,
        };
        let refund = Row { refund: Some(("5030".into(), "r1".into(), 4000)), ..payment.clone() };
        let text = render(&mut [payment, refund]);
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(lines.len(), 6, "{text}");
        assert!(lines[0].starts_with("交易时间,公众账号ID"));
        assert!(lines[1].starts_with("`2023-11-15 06:13:20,`wxa"));
        assert!(lines[1].contains(",`SUCCESS,"));
        assert!(lines[2].contains(",`REFUND,"));
        assert_eq!(lines[3], SUMMARY_HEADER.join(","));
        assert_eq!(lines[4], "`2,`100.00,`40.00,`0.00,`0.36,`100.00,`40.00");
        assert_eq!(lines[5], "");
        assert_eq!(lines[1].split(',').count(), DETAIL_HEADER.len());
        assert!(lines[1].split(',').all(|field| field.starts_with('`')));
    }
}
