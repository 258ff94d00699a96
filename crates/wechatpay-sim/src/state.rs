//! The simulator's state and the protocol's business rules, independent of HTTP: orders,
//! payments, refunds, bills, fault switches, platform keys and what was delivered.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value, json};
use sha1::{Digest as _, Sha1};

use crate::bill;
use crate::crypto::{
    ApiV3Key, PlatformKey, beijing, nonce_str, random_digits, random_hex, random_uuid, rfc3339,
};
use crate::dev_keys;
use crate::model::{
    ApiFailure, DeliveryAttempt, FaultStatus, Faults, NotificationFate, NotificationRecord,
    SimError,
};

/// How long a bill `download_url` stays valid (WeChat: 30 seconds).
const BILL_URL_TTL_SECS: i64 = 30;

/// A notification ready to send: its body is fixed (encrypted once); each attempt signs it anew.
#[derive(Debug)]
pub(crate) struct Notification {
    pub(crate) id: String,
    pub(crate) event_type: String,
    pub(crate) out_trade_no: String,
    pub(crate) out_refund_no: Option<String>,
    pub(crate) url: String,
    pub(crate) body: Vec<u8>,
}

/// How a notification is to be sent, decided by the fault switches when it is produced.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// 1, or 2 with the duplicate fault.
    pub(crate) copies: u32,
    /// Whether a `WECHATPAY/SIGNTEST/` probe goes first.
    pub(crate) probe: bool,
    /// Wait before the first attempt.
    pub(crate) delay: Duration,
}

/// What to do with a new notification.
#[derive(Debug)]
pub(crate) enum Dispatch {
    Dropped,
    Held,
    Send(Plan),
}

/// A response body.
#[derive(Debug)]
pub(crate) enum Body {
    /// `204 No Content`.
    Empty,
    /// A JSON body (signed).
    Json(Value),
    /// A bill file (not signed).
    File(Vec<u8>),
}

/// A successful API answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Body,
}

impl Reply {
    fn json(value: Value) -> Self {
        Self { status: 200, body: Body::Json(value) }
    }
}

/// Work an answer leaves behind.
#[derive(Debug)]
pub(crate) enum Effect {
    Notify(Arc<Notification>),
    SettleRefund(String),
}

pub(crate) type Outcome = Result<(Reply, Vec<Effect>), SimError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TradeState {
    NotPay,
    Success,
    Refund,
    Closed,
}

impl TradeState {
    fn code(self) -> &'static str {
        match self {
            Self::NotPay => "NOTPAY",
            Self::Success => "SUCCESS",
            Self::Refund => "REFUND",
            Self::Closed => "CLOSED",
        }
    }

    fn desc(self) -> &'static str {
        match self {
            Self::NotPay => "订单未支付",
            Self::Success => "支付成功",
            Self::Refund => "转入退款",
            Self::Closed => "订单已关闭",
        }
    }

    fn is_paid(self) -> bool {
        matches!(self, Self::Success | Self::Refund)
    }
}

#[derive(Debug)]
struct Order {
    /// The order request as received, to tell an identical repeat from a conflicting one.
    request: Value,
    appid: String,
    mchid: String,
    description: String,
    out_trade_no: String,
    attach: Option<String>,
    notify_url: String,
    total: i64,
    openid: String,
    time_expire: Option<DateTime<Utc>>,
    expired_by_fault: bool,
    prepay_id: String,
    state: TradeState,
    transaction_id: Option<String>,
    success_time: Option<DateTime<Utc>>,
    bill_date: Option<NaiveDate>,
    /// Fen promised to refunds accepted so far.
    refunded: i64,
}

impl Order {
    /// An unpaid order past its `time_expire` (or expired by the fault) is closed.
    fn refresh(&mut self, now: DateTime<Utc>) {
        let expired = self.expired_by_fault || self.time_expire.is_some_and(|at| at <= now);
        if self.state == TradeState::NotPay && expired {
            self.state = TradeState::Closed;
        }
    }

    /// The transaction as the query API and the TRANSACTION.SUCCESS resource show it.
    fn transaction_json(&self) -> Value {
        let mut amount = json!({ "total": self.total, "currency": "CNY", "payer_currency": "CNY" });
        let mut transaction = json!({
            "appid": self.appid,
            "mchid": self.mchid,
            "out_trade_no": self.out_trade_no,
            "trade_state": self.state.code(),
            "trade_state_desc": self.state.desc(),
            "attach": self.attach.clone().unwrap_or_default(),
        });
        if self.state.is_paid() {
            amount["payer_total"] = json!(self.total);
            transaction["transaction_id"] = json!(self.transaction_id);
            transaction["trade_type"] = json!("JSAPI");
            transaction["bank_type"] = json!("OTHERS");
            transaction["success_time"] = json!(self.success_time.map(rfc3339));
            transaction["payer"] = json!({ "openid": self.openid });
        }
        transaction["amount"] = amount;
        transaction
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefundStatus {
    Processing,
    Success,
    Abnormal,
    Closed,
}

impl RefundStatus {
    fn code(self) -> &'static str {
        match self {
            Self::Processing => "PROCESSING",
            Self::Success => "SUCCESS",
            Self::Abnormal => "ABNORMAL",
            Self::Closed => "CLOSED",
        }
    }
}

#[derive(Debug)]
struct Refund {
    request: Value,
    refund_id: String,
    out_refund_no: String,
    out_trade_no: String,
    transaction_id: String,
    notify_url: Option<String>,
    refund: i64,
    total: i64,
    status: RefundStatus,
    create_time: DateTime<Utc>,
    success_time: Option<DateTime<Utc>>,
    bill_date: Option<NaiveDate>,
    /// How it ends, decided when accepted: SUCCESS, or ABNORMAL / CLOSED by the faults.
    ends: RefundStatus,
}

impl Refund {
    /// The refund as the refund APIs answer it.
    fn json(&self) -> Value {
        let mut refund = json!({
            "refund_id": self.refund_id,
            "out_refund_no": self.out_refund_no,
            "transaction_id": self.transaction_id,
            "out_trade_no": self.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "create_time": rfc3339(self.create_time),
            "status": self.status.code(),
            "funds_account": "AVAILABLE",
            "amount": {
                "total": self.total,
                "refund": self.refund,
                "from": [],
                "payer_total": self.total,
                "payer_refund": self.refund,
                "settlement_refund": self.refund,
                "settlement_total": self.total,
                "discount_refund": 0,
                "currency": "CNY",
                "refund_fee": 0,
            },
            "promotion_detail": [],
        });
        if let Some(at) = self.success_time {
            refund["success_time"] = json!(rfc3339(at));
        }
        refund
    }

    /// The refund as a REFUND.* notification resource carries it.
    fn notification_json(&self, mchid: &str) -> Value {
        let mut refund = json!({
            "mchid": mchid,
            "transaction_id": self.transaction_id,
            "out_trade_no": self.out_trade_no,
            "refund_id": self.refund_id,
            "out_refund_no": self.out_refund_no,
            "refund_status": self.status.code(),
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": self.total,
                "refund": self.refund,
                "payer_total": self.total,
                "payer_refund": self.refund,
            },
        });
        if let Some(at) = self.success_time {
            refund["success_time"] = json!(rfc3339(at));
        }
        refund
    }
}

#[derive(Debug, Default)]
struct FaultState {
    drop: u32,
    duplicate: bool,
    delay_ms: u64,
    hold: bool,
    fail_next: VecDeque<ApiFailure>,
    abnormal_refunds: u32,
    closed_refunds: u32,
    probes: u32,
}

/// The platform signing keys; one is current (signs everything), the others stay known.
#[derive(Debug)]
pub(crate) struct KeyRing {
    keys: Vec<Arc<PlatformKey>>,
    current: usize,
}

impl KeyRing {
    pub(crate) fn new(keys: Vec<PlatformKey>) -> Self {
        Self { keys: keys.into_iter().map(Arc::new).collect(), current: 0 }
    }

    pub(crate) fn current(&self) -> Option<Arc<PlatformKey>> {
        self.keys.get(self.current).cloned()
    }

    fn ids(&self) -> Vec<String> {
        self.keys.iter().map(|key| key.id.clone()).collect()
    }

    /// Makes `id` current, or with no id the next key (adding the second dev key when there
    /// is no next one). Returns the new current id.
    fn rotate(&mut self, id: Option<&str>) -> Result<String, SimError> {
        let wanted = match id {
            Some(id) => id.to_owned(),
            None => match self.keys.get(self.current + 1) {
                Some(next) => next.id.clone(),
                None => dev_keys::PLATFORM_PUB_KEY_ID_2.to_owned(),
            },
        };
        if let Some(index) = self.keys.iter().position(|key| key.id == wanted) {
            if id.is_none() && index == self.current {
                return Err(SimError::new(
                    400,
                    "INVALID_REQUEST",
                    "no further platform key to rotate to; name one with pub_key_id",
                ));
            }
            self.current = index;
            return Ok(wanted);
        }
        if wanted != dev_keys::PLATFORM_PUB_KEY_ID_2 {
            return Err(SimError::new(
                404,
                "RESOURCE_NOT_EXISTS",
                format!("unknown platform key {wanted}"),
            ));
        }
        let key = PlatformKey::from_pem(&wanted, dev_keys::PLATFORM_PRIVATE_KEY_2_PEM)
            .map_err(|error| SimError::new(500, "SYSTEM_ERROR", error))?;
        self.keys.push(Arc::new(key));
        self.current = self.keys.len() - 1;
        Ok(wanted)
    }
}

/// Everything the simulator remembers; guarded by one mutex.
#[derive(Debug)]
pub(crate) struct State {
    mchid: String,
    appid: String,
    apiv3: ApiV3Key,
    pub(crate) keys: KeyRing,
    orders: HashMap<String, Order>,
    /// transaction_id → out_trade_no.
    transactions: HashMap<String, String>,
    refunds: HashMap<String, Refund>,
    refund_requests: BTreeMap<String, u64>,
    notifications: Vec<NotificationRecord>,
    deliveries: Vec<DeliveryAttempt>,
    faults: FaultState,
    held: Vec<(Arc<Notification>, Plan)>,
    /// token → (file, valid until).
    bills: HashMap<String, (Vec<u8>, DateTime<Utc>)>,
    bill_date: Option<NaiveDate>,
}

impl State {
    pub(crate) fn new(mchid: String, appid: String, apiv3: ApiV3Key, keys: KeyRing) -> Self {
        Self {
            mchid,
            appid,
            apiv3,
            keys,
            orders: HashMap::new(),
            transactions: HashMap::new(),
            refunds: HashMap::new(),
            refund_requests: BTreeMap::new(),
            notifications: Vec::new(),
            deliveries: Vec::new(),
            faults: FaultState::default(),
            held: Vec::new(),
            bills: HashMap::new(),
            bill_date: None,
        }
    }

    fn check_mchid(&self, mchid: &str) -> Result<(), SimError> {
        if mchid == self.mchid {
            Ok(())
        } else {
            Err(SimError::new(
                400,
                "MCH_NOT_EXISTS",
                "商户号不存在 (mchid differs from the signer's)",
            ))
        }
    }

    /// The Beijing date a payment or refund succeeding at `now` is billed on.
    fn bill_date_for(&self, now: DateTime<Utc>) -> NaiveDate {
        self.bill_date.unwrap_or_else(|| now.with_timezone(&beijing()).date_naive())
    }

    // ----- POST /v3/pay/transactions/jsapi -----

    pub(crate) fn create_jsapi(&mut self, body: &[u8], now: DateTime<Utc>) -> Outcome {
        let request = parse_object(body)?;
        let appid = required_str(&request, "appid", "/appid")?;
        let mchid = required_str(&request, "mchid", "/mchid")?;
        self.check_mchid(mchid)?;
        if appid != self.appid {
            return Err(SimError::new(400, "APPID_MCHID_NOT_MATCH", "AppID和mch_id不匹配"));
        }
        let description = required_str(&request, "description", "/description")?;
        let chars = description.chars().count();
        if chars == 0 || chars > 127 {
            return Err(param_error("/description", "长度须在 1 到 127 个字符之间"));
        }
        let out_trade_no = required_str(&request, "out_trade_no", "/out_trade_no")?;
        if !is_out_trade_no(out_trade_no) {
            return Err(param_error(
                "/out_trade_no",
                "须为 6 到 32 个字符，只能是数字、大小写字母和 _-|*",
            ));
        }
        let time_expire = match optional_str(&request, "time_expire", "/time_expire")? {
            None => None,
            Some(text) => Some(
                DateTime::parse_from_rfc3339(text)
                    .map_err(|_| param_error("/time_expire", "须为 RFC 3339 格式的时间"))?
                    .with_timezone(&Utc),
            ),
        };
        let attach = optional_str(&request, "attach", "/attach")?.map(str::to_owned);
        if attach.as_deref().is_some_and(|a| a.chars().count() > 128) {
            return Err(param_error("/attach", "长度不能超过 128 个字符"));
        }
        let notify_url = required_str(&request, "notify_url", "/notify_url")?;
        check_notify_url(notify_url).map_err(|issue| param_error("/notify_url", &issue))?;
        let amount = required_object(&request, "amount", "/amount")?;
        let total = amount
            .get("total")
            .and_then(Value::as_i64)
            .filter(|total| *total > 0)
            .ok_or_else(|| param_error("/amount/total", "须为正整数（单位：分）"))?;
        match amount.get("currency") {
            None | Some(Value::Null) => {}
            Some(Value::String(currency)) if currency == "CNY" => {}
            Some(_) => return Err(param_error("/amount/currency", "仅支持 CNY")),
        }
        let payer = required_object(&request, "payer", "/payer")?;
        let openid = payer
            .get("openid")
            .and_then(Value::as_str)
            .filter(|openid| !openid.is_empty() && openid.len() <= 128)
            .ok_or_else(|| param_error("/payer/openid", "缺少 openid"))?;

        let request_value = Value::Object(request.clone());
        if let Some(order) = self.orders.get_mut(out_trade_no) {
            order.refresh(now);
            return match order.state {
                TradeState::Closed => Err(SimError::new(400, "ORDER_CLOSED", "订单已关闭")),
                TradeState::Success | TradeState::Refund => {
                    Err(SimError::new(400, "ORDERPAID", "订单已支付"))
                }
                TradeState::NotPay if order.request == request_value => {
                    Ok((Reply::json(json!({ "prepay_id": order.prepay_id })), Vec::new()))
                }
                TradeState::NotPay => Err(SimError::new(
                    403,
                    "OUT_TRADE_NO_USED",
                    "商户订单号重复 (same out_trade_no, different parameters)",
                )),
            };
        }
        let prepay_id =
            format!("wx{}{}", now.with_timezone(&beijing()).format("%Y%m%d%H%M%S"), random_hex(20));
        let order = Order {
            request: request_value,
            appid: appid.to_owned(),
            mchid: mchid.to_owned(),
            description: description.to_owned(),
            out_trade_no: out_trade_no.to_owned(),
            attach,
            notify_url: notify_url.to_owned(),
            total,
            openid: openid.to_owned(),
            time_expire,
            expired_by_fault: false,
            prepay_id: prepay_id.clone(),
            state: TradeState::NotPay,
            transaction_id: None,
            success_time: None,
            bill_date: None,
            refunded: 0,
        };
        self.orders.insert(out_trade_no.to_owned(), order);
        Ok((Reply::json(json!({ "prepay_id": prepay_id })), Vec::new()))
    }

    // ----- queries and close -----

    fn order_mut(
        &mut self,
        out_trade_no: &str,
        now: DateTime<Utc>,
    ) -> Result<&mut Order, SimError> {
        let order = self
            .orders
            .get_mut(out_trade_no)
            .ok_or_else(|| SimError::new(404, "ORDER_NOT_EXIST", "订单不存在"))?;
        order.refresh(now);
        Ok(order)
    }

    fn query_mchid(&self, query: &HashMap<String, String>) -> Result<(), SimError> {
        let mchid = query
            .get("mchid")
            .ok_or_else(|| SimError::new(400, "PARAM_ERROR", "缺少参数 mchid (query)"))?;
        self.check_mchid(mchid)
    }

    pub(crate) fn query_order(
        &mut self,
        out_trade_no: &str,
        query: &HashMap<String, String>,
        now: DateTime<Utc>,
    ) -> Outcome {
        self.query_mchid(query)?;
        let order = self.order_mut(out_trade_no, now)?;
        Ok((Reply::json(order.transaction_json()), Vec::new()))
    }

    pub(crate) fn query_transaction(
        &mut self,
        transaction_id: &str,
        query: &HashMap<String, String>,
        now: DateTime<Utc>,
    ) -> Outcome {
        self.query_mchid(query)?;
        let out_trade_no = self
            .transactions
            .get(transaction_id)
            .cloned()
            .ok_or_else(|| SimError::new(404, "ORDER_NOT_EXIST", "订单不存在"))?;
        let order = self.order_mut(&out_trade_no, now)?;
        Ok((Reply::json(order.transaction_json()), Vec::new()))
    }

    pub(crate) fn close(&mut self, out_trade_no: &str, body: &[u8], now: DateTime<Utc>) -> Outcome {
        let request = parse_object(body)?;
        let mchid = required_str(&request, "mchid", "/mchid")?;
        self.check_mchid(mchid)?;
        let order = self.order_mut(out_trade_no, now)?;
        match order.state {
            TradeState::NotPay | TradeState::Closed => {
                order.state = TradeState::Closed;
                Ok((Reply { status: 204, body: Body::Empty }, Vec::new()))
            }
            TradeState::Success | TradeState::Refund => {
                Err(SimError::new(400, "ORDERPAID", "订单已支付，不能关闭"))
            }
        }
    }

    // ----- refunds -----

    /// Counts a refund request (signed correctly) for its `out_refund_no`, whatever its fate.
    pub(crate) fn count_refund_request(&mut self, body: &[u8]) {
        let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
            return;
        };
        if let Some(Value::String(out_refund_no)) = request.get("out_refund_no") {
            *self.refund_requests.entry(out_refund_no.clone()).or_insert(0) += 1;
        }
    }

    pub(crate) fn create_refund(&mut self, body: &[u8], now: DateTime<Utc>) -> Outcome {
        let request = parse_object(body)?;
        let out_refund_no = required_str(&request, "out_refund_no", "/out_refund_no")?;
        if !is_out_refund_no(out_refund_no) {
            return Err(param_error(
                "/out_refund_no",
                "须为 1 到 64 个字符，只能是数字、大小写字母和 _-|*@",
            ));
        }
        let request_value = Value::Object(request.clone());
        if let Some(existing) = self.refunds.get(out_refund_no) {
            return if existing.request == request_value {
                Ok((Reply::json(existing.json()), Vec::new()))
            } else {
                Err(SimError::new(
                    400,
                    "INVALID_REQUEST",
                    "同一退款单号的请求参数与之前不一致 (out_refund_no already used with other parameters)",
                ))
            };
        }
        let transaction_id = optional_str(&request, "transaction_id", "/transaction_id")?;
        let out_trade_no = optional_str(&request, "out_trade_no", "/out_trade_no")?;
        let out_trade_no = match (transaction_id, out_trade_no) {
            (Some(id), _) => self
                .transactions
                .get(id)
                .cloned()
                .ok_or_else(|| SimError::new(404, "RESOURCE_NOT_EXISTS", "订单不存在"))?,
            (None, Some(no)) => no.to_owned(),
            (None, None) => {
                return Err(param_error(
                    "/out_trade_no",
                    "transaction_id 与 out_trade_no 须二选一",
                ));
            }
        };
        let reason = optional_str(&request, "reason", "/reason")?;
        if reason.is_some_and(|r| r.chars().count() > 80) {
            return Err(param_error("/reason", "长度不能超过 80 个字符"));
        }
        let notify_url = optional_str(&request, "notify_url", "/notify_url")?;
        if let Some(url) = notify_url {
            check_notify_url(url).map_err(|issue| param_error("/notify_url", &issue))?;
        }
        let amount = required_object(&request, "amount", "/amount")?;
        let refund = amount
            .get("refund")
            .and_then(Value::as_i64)
            .filter(|refund| *refund > 0)
            .ok_or_else(|| param_error("/amount/refund", "须为正整数（单位：分）"))?;
        let total = amount
            .get("total")
            .and_then(Value::as_i64)
            .filter(|total| *total > 0)
            .ok_or_else(|| param_error("/amount/total", "须为正整数（单位：分）"))?;
        if amount.get("currency").and_then(Value::as_str) != Some("CNY") {
            return Err(param_error("/amount/currency", "须为 CNY"));
        }
        let order = self
            .orders
            .get_mut(&out_trade_no)
            .ok_or_else(|| SimError::new(404, "RESOURCE_NOT_EXISTS", "订单不存在"))?;
        order.refresh(now);
        if !order.state.is_paid() {
            return Err(SimError::new(400, "INVALID_REQUEST", "订单未支付，不能退款"));
        }
        if total != order.total {
            return Err(SimError::new(400, "INVALID_REQUEST", "订单金额与原订单不一致"));
        }
        if refund > order.total - order.refunded {
            return Err(SimError::new(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额"));
        }
        order.refunded += refund;
        order.state = TradeState::Refund;
        let transaction_id = order.transaction_id.clone().unwrap_or_default();
        let ends = if self.faults.abnormal_refunds > 0 {
            self.faults.abnormal_refunds -= 1;
            RefundStatus::Abnormal
        } else if self.faults.closed_refunds > 0 {
            self.faults.closed_refunds -= 1;
            RefundStatus::Closed
        } else {
            RefundStatus::Success
        };
        let refund = Refund {
            request: request_value,
            refund_id: format!(
                "50300{}{}",
                now.with_timezone(&beijing()).format("%Y%m%d"),
                random_digits(16)
            ),
            out_refund_no: out_refund_no.to_owned(),
            out_trade_no,
            transaction_id,
            notify_url: notify_url.map(str::to_owned),
            refund,
            total,
            status: RefundStatus::Processing,
            create_time: now,
            success_time: None,
            bill_date: None,
            ends,
        };
        let reply = Reply::json(refund.json());
        self.refunds.insert(out_refund_no.to_owned(), refund);
        Ok((reply, vec![Effect::SettleRefund(out_refund_no.to_owned())]))
    }

    pub(crate) fn query_refund(&self, out_refund_no: &str) -> Outcome {
        let refund = self
            .refunds
            .get(out_refund_no)
            .ok_or_else(|| SimError::new(404, "RESOURCE_NOT_EXISTS", "退款单不存在"))?;
        Ok((Reply::json(refund.json()), Vec::new()))
    }

    /// Ends a PROCESSING refund (SUCCESS, or ABNORMAL / CLOSED when a fault said so); returns
    /// its notification when it has a `notify_url`. A CLOSED refund gives its amount back to
    /// the order: it may be refunded again (under a new `out_refund_no`).
    pub(crate) fn settle_refund(
        &mut self,
        out_refund_no: &str,
        now: DateTime<Utc>,
    ) -> Option<Arc<Notification>> {
        let bill_date = self.bill_date_for(now);
        let mchid = self.mchid.clone();
        let refund = self.refunds.get_mut(out_refund_no)?;
        if refund.status != RefundStatus::Processing {
            return None;
        }
        let (event_type, summary) = match refund.ends {
            RefundStatus::Abnormal => {
                refund.status = RefundStatus::Abnormal;
                ("REFUND.ABNORMAL", "退款异常")
            }
            RefundStatus::Closed => {
                refund.status = RefundStatus::Closed;
                if let Some(order) = self.orders.get_mut(&refund.out_trade_no) {
                    order.refunded -= refund.refund;
                }
                ("REFUND.CLOSED", "退款关闭")
            }
            RefundStatus::Success | RefundStatus::Processing => {
                refund.status = RefundStatus::Success;
                refund.success_time = Some(now);
                refund.bill_date = Some(bill_date);
                ("REFUND.SUCCESS", "退款成功")
            }
        };
        let url = refund.notify_url.clone()?;
        let resource = refund.notification_json(&mchid);
        let out_trade_no = refund.out_trade_no.clone();
        self.notification(
            event_type,
            summary,
            "refund",
            resource,
            url,
            out_trade_no,
            Some(out_refund_no.to_owned()),
            now,
        )
    }

    // ----- bills -----

    pub(crate) fn trade_bill(
        &mut self,
        query: &HashMap<String, String>,
        now: DateTime<Utc>,
        base_url: &str,
    ) -> Outcome {
        let date_text = query
            .get("bill_date")
            .ok_or_else(|| SimError::new(400, "PARAM_ERROR", "缺少参数 bill_date"))?;
        let date = NaiveDate::parse_from_str(date_text, "%Y-%m-%d")
            .ok()
            .filter(|_| date_text.len() == 10)
            .ok_or_else(|| SimError::new(400, "PARAM_ERROR", "bill_date 须为 YYYY-MM-DD"))?;
        let bill_type = query.get("bill_type").map_or("ALL", String::as_str);
        let (payments, refunds) = match bill_type {
            "ALL" => (true, true),
            "SUCCESS" => (true, false),
            "REFUND" => (false, true),
            _ => {
                return Err(SimError::new(
                    400,
                    "PARAM_ERROR",
                    "bill_type 须为 ALL、SUCCESS 或 REFUND",
                ));
            }
        };
        if query.contains_key("tar_type") {
            return Err(SimError::new(
                400,
                "PARAM_ERROR",
                "tar_type (GZIP) is not supported by the simulator",
            ));
        }
        let mut rows = self.bill_rows(date, payments, refunds);
        if rows.is_empty() {
            return Err(SimError::new(
                400,
                "NO_STATEMENT_EXIST",
                "账单文件不存在 (no transactions on that date)",
            ));
        }
        let file = bill::render(&mut rows).into_bytes();
        let hash = hex::encode(Sha1::digest(&file));
        self.bills.retain(|_, (_, until)| *until > now);
        let token = nonce_str(64);
        self.bills
            .insert(token.clone(), (file, now + chrono::Duration::seconds(BILL_URL_TTL_SECS)));
        let download_url = format!("{base_url}/v3/billdownload/file?token={token}");
        Ok((
            Reply::json(json!({
                "hash_type": "SHA1",
                "hash_value": hash,
                "download_url": download_url,
            })),
            Vec::new(),
        ))
    }

    fn bill_rows(&self, date: NaiveDate, payments: bool, refunds: bool) -> Vec<bill::Row> {
        let mut rows = Vec::new();
        let row_of = |order: &Order, time: DateTime<Utc>| bill::Row {
            time,
            appid: order.appid.clone(),
            mchid: order.mchid.clone(),
            transaction_id: order.transaction_id.clone().unwrap_or_default(),
            out_trade_no: order.out_trade_no.clone(),
            openid: order.openid.clone(),
            description: order.description.clone(),
            attach: order.attach.clone().unwrap_or_default(),
            order_total: order.total,
            refund: None,
        };
        if payments {
            for order in self.orders.values() {
                if let (Some(time), Some(day)) = (order.success_time, order.bill_date)
                    && day == date
                {
                    rows.push(row_of(order, time));
                }
            }
        }
        if refunds {
            for refund in self.refunds.values() {
                let (Some(time), Some(day)) = (refund.success_time, refund.bill_date) else {
                    continue;
                };
                if day != date {
                    continue;
                }
                if let Some(order) = self.orders.get(&refund.out_trade_no) {
                    let mut row = row_of(order, time);
                    row.refund = Some((
                        refund.refund_id.clone(),
                        refund.out_refund_no.clone(),
                        refund.refund,
                    ));
                    rows.push(row);
                }
            }
        }
        rows
    }

    pub(crate) fn download_bill(
        &self,
        query: &HashMap<String, String>,
        now: DateTime<Utc>,
    ) -> Outcome {
        let token = query.get("token").map_or("", String::as_str);
        match self.bills.get(token) {
            Some((file, until)) if *until > now => {
                Ok((Reply { status: 200, body: Body::File(file.clone()) }, Vec::new()))
            }
            _ => Err(SimError::new(
                404,
                "RESOURCE_NOT_EXISTS",
                "下载链接不存在或已过期 (download_url is valid for 30 s)",
            )),
        }
    }

    // ----- notifications -----

    /// Encrypts `resource` and wraps it in a notification body; records it.
    #[allow(clippy::too_many_arguments)]
    fn notification(
        &mut self,
        event_type: &str,
        summary: &str,
        original_type: &str,
        resource: Value,
        url: String,
        out_trade_no: String,
        out_refund_no: Option<String>,
        now: DateTime<Utc>,
    ) -> Option<Arc<Notification>> {
        let plaintext = serde_json::to_vec(&resource).ok()?;
        let Some((nonce, ciphertext)) = self.apiv3.encrypt(original_type, &plaintext) else {
            tracing::error!(event_type, "could not encrypt a notification resource");
            return None;
        };
        let id = random_uuid();
        let body = json!({
            "id": id,
            "create_time": rfc3339(now),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": {
                "original_type": original_type,
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": ciphertext,
                "associated_data": original_type,
                "nonce": nonce,
            },
        });
        let body = serde_json::to_vec(&body).ok()?;
        self.notifications.push(NotificationRecord {
            id: id.clone(),
            event_type: event_type.to_owned(),
            out_trade_no: out_trade_no.clone(),
            out_refund_no: out_refund_no.clone(),
            url: url.clone(),
            fate: NotificationFate::Sending,
            resource,
        });
        Some(Arc::new(Notification {
            id,
            event_type: event_type.to_owned(),
            out_trade_no,
            out_refund_no,
            url,
            body,
        }))
    }

    /// Decides, by the fault switches, what happens to a new notification.
    pub(crate) fn plan(&mut self, notification: &Arc<Notification>) -> Dispatch {
        if self.faults.drop > 0 {
            self.faults.drop -= 1;
            self.set_fate(&notification.id, NotificationFate::Dropped);
            return Dispatch::Dropped;
        }
        let probe = self.faults.probes > 0;
        if probe {
            self.faults.probes -= 1;
        }
        let plan = Plan {
            copies: if self.faults.duplicate { 2 } else { 1 },
            probe,
            delay: Duration::from_millis(self.faults.delay_ms),
        };
        if self.faults.hold {
            self.held.push((Arc::clone(notification), plan));
            self.set_fate(&notification.id, NotificationFate::Held);
            return Dispatch::Held;
        }
        Dispatch::Send(plan)
    }

    pub(crate) fn set_fate(&mut self, id: &str, fate: NotificationFate) {
        if let Some(record) = self.notifications.iter_mut().find(|record| record.id == id) {
            record.fate = fate;
        }
    }

    /// Marks every notification still being sent as abandoned (the simulator stops).
    pub(crate) fn abandon_sending(&mut self) {
        for record in &mut self.notifications {
            if record.fate == NotificationFate::Sending {
                record.fate = NotificationFate::Abandoned;
            }
        }
    }

    pub(crate) fn record_attempt(&mut self, attempt: DeliveryAttempt) {
        self.deliveries.push(attempt);
    }

    // ----- simulator controls -----

    /// The person confirms the payment (确认支付).
    pub(crate) fn pay(
        &mut self,
        out_trade_no: &str,
        now: DateTime<Utc>,
    ) -> Result<(Value, Vec<Effect>), SimError> {
        let bill_date = self.bill_date_for(now);
        let order = self.order_mut(out_trade_no, now)?;
        match order.state {
            TradeState::Closed => return Err(SimError::new(400, "ORDER_CLOSED", "订单已关闭")),
            TradeState::Success | TradeState::Refund => {
                return Err(SimError::new(400, "ORDERPAID", "订单已支付"));
            }
            TradeState::NotPay => {}
        }
        let transaction_id =
            format!("4200{}{}", now.with_timezone(&beijing()).format("%Y%m%d"), random_digits(16));
        order.state = TradeState::Success;
        order.transaction_id = Some(transaction_id.clone());
        order.success_time = Some(now);
        order.bill_date = Some(bill_date);
        let transaction = order.transaction_json();
        let url = order.notify_url.clone();
        self.transactions.insert(transaction_id, out_trade_no.to_owned());
        let effects = self
            .notification(
                "TRANSACTION.SUCCESS",
                "支付成功",
                "transaction",
                transaction.clone(),
                url,
                out_trade_no.to_owned(),
                None,
                now,
            )
            .map(Effect::Notify)
            .into_iter()
            .collect();
        Ok((transaction, effects))
    }

    /// The simulator's full view of an order.
    pub(crate) fn order_view(
        &mut self,
        out_trade_no: &str,
        now: DateTime<Utc>,
    ) -> Result<Value, SimError> {
        let order = self.order_mut(out_trade_no, now)?;
        let transaction = order.transaction_json();
        let mut view = json!({
            "out_trade_no": order.out_trade_no,
            "prepay_id": order.prepay_id,
            "trade_state": order.state.code(),
            "description": order.description,
            "notify_url": order.notify_url,
            "total": order.total,
            "openid": order.openid,
            "time_expire": order.time_expire.map(rfc3339),
            "transaction_id": order.transaction_id,
            "success_time": order.success_time.map(rfc3339),
            "bill_date": order.bill_date.map(|d| d.to_string()),
            "refunded": order.refunded,
            "transaction": transaction,
        });
        let mut refunds: Vec<&Refund> =
            self.refunds.values().filter(|r| r.out_trade_no == out_trade_no).collect();
        refunds.sort_by_key(|r| r.create_time);
        view["refunds"] = Value::Array(refunds.into_iter().map(Refund::json).collect());
        Ok(view)
    }

    pub(crate) fn expire_order(
        &mut self,
        out_trade_no: &str,
        now: DateTime<Utc>,
    ) -> Result<(), SimError> {
        let order = self.order_mut(out_trade_no, now)?;
        if order.state.is_paid() {
            return Err(SimError::new(400, "ORDERPAID", "订单已支付，不能过期"));
        }
        order.expired_by_fault = true;
        order.refresh(now);
        Ok(())
    }

    pub(crate) fn refund_requests(&self) -> BTreeMap<String, u64> {
        self.refund_requests.clone()
    }

    pub(crate) fn deliveries(&self) -> Vec<DeliveryAttempt> {
        self.deliveries.clone()
    }

    pub(crate) fn notifications(&self) -> Vec<NotificationRecord> {
        self.notifications.clone()
    }

    pub(crate) fn fault_status(&self) -> FaultStatus {
        FaultStatus {
            drop_notifications: self.faults.drop,
            duplicate_notifications: self.faults.duplicate,
            notification_delay_ms: self.faults.delay_ms,
            hold_notifications: self.faults.hold,
            held_notifications: self.held.len(),
            fail_next: self.faults.fail_next.iter().cloned().collect(),
            abnormal_refunds: self.faults.abnormal_refunds,
            closed_refunds: self.faults.closed_refunds,
            sign_test_probes: self.faults.probes,
        }
    }

    /// Applies fault switches (all checked before any is applied). Returns the notifications
    /// to release (oldest first) when holding was switched off.
    pub(crate) fn set_faults(
        &mut self,
        faults: Faults,
        now: DateTime<Utc>,
    ) -> Result<Vec<(Arc<Notification>, Plan)>, SimError> {
        if let Some(failure) = &faults.fail_next {
            if !(400..=599).contains(&failure.status) {
                return Err(SimError::new(400, "PARAM_ERROR", "fail_next.status must be 400–599"));
            }
            if failure.code.is_empty() {
                return Err(SimError::new(400, "PARAM_ERROR", "fail_next.code must not be empty"));
            }
        }
        if let Some(out_trade_no) = &faults.expire_order {
            let order = self.order_mut(out_trade_no, now)?;
            if order.state.is_paid() {
                return Err(SimError::new(400, "ORDERPAID", "订单已支付，不能过期"));
            }
        }
        if let Some(out_trade_no) = &faults.expire_order {
            self.expire_order(out_trade_no, now)?;
        }
        if let Some(n) = faults.drop_notifications {
            self.faults.drop = n;
        }
        if let Some(duplicate) = faults.duplicate_notifications {
            self.faults.duplicate = duplicate;
        }
        if let Some(delay) = faults.notification_delay_ms {
            self.faults.delay_ms = delay;
        }
        if let Some(failure) = faults.fail_next {
            self.faults.fail_next.push_back(failure);
        }
        if let Some(n) = faults.abnormal_refunds {
            self.faults.abnormal_refunds = n;
        }
        if let Some(n) = faults.closed_refunds {
            self.faults.closed_refunds = n;
        }
        if let Some(n) = faults.sign_test_probes {
            self.faults.probes = n;
        }
        let mut released = Vec::new();
        if let Some(hold) = faults.hold_notifications {
            self.faults.hold = hold;
            if !hold {
                released = std::mem::take(&mut self.held);
                for (notification, _) in &released {
                    self.set_fate(&notification.id, NotificationFate::Sending);
                }
            }
        }
        Ok(released)
    }

    /// Takes the first queued API failure whose prefix matches `path`.
    pub(crate) fn take_failure(&mut self, path: &str) -> Option<ApiFailure> {
        let index = self.faults.fail_next.iter().position(|f| path.starts_with(&f.path_prefix))?;
        self.faults.fail_next.remove(index)
    }

    pub(crate) fn rotate_key(&mut self, id: Option<&str>) -> Result<Value, SimError> {
        let current = self.keys.rotate(id)?;
        Ok(json!({ "current": current, "keys": self.keys.ids() }))
    }

    pub(crate) fn platform_keys(&self) -> Vec<(String, String)> {
        self.keys.keys.iter().map(|key| (key.id.clone(), key.public_pem.clone())).collect()
    }

    pub(crate) fn set_bill_date(&mut self, date: Option<NaiveDate>) {
        self.bill_date = date;
    }
}

// ----- validation helpers -----

fn param_error(field: &str, issue: &str) -> SimError {
    SimError::new(400, "PARAM_ERROR", format!("参数错误：{field} {issue}"))
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, SimError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(SimError::new(400, "PARAM_ERROR", "请求体不是合法的 JSON 对象")),
    }
}

fn required_str<'a>(
    object: &'a Map<String, Value>,
    name: &str,
    field: &str,
) -> Result<&'a str, SimError> {
    match object.get(name) {
        Some(Value::String(text)) => Ok(text),
        None | Some(Value::Null) => Err(param_error(field, "缺少参数")),
        Some(_) => Err(param_error(field, "须为字符串")),
    }
}

fn optional_str<'a>(
    object: &'a Map<String, Value>,
    name: &str,
    field: &str,
) -> Result<Option<&'a str>, SimError> {
    match object.get(name) {
        Some(Value::String(text)) => Ok(Some(text)),
        None | Some(Value::Null) => Ok(None),
        Some(_) => Err(param_error(field, "须为字符串")),
    }
}

fn required_object<'a>(
    object: &'a Map<String, Value>,
    name: &str,
    field: &str,
) -> Result<&'a Map<String, Value>, SimError> {
    match object.get(name) {
        Some(Value::Object(inner)) => Ok(inner),
        None | Some(Value::Null) => Err(param_error(field, "缺少参数")),
        Some(_) => Err(param_error(field, "须为对象")),
    }
}

/// 6–32 characters of `[0-9A-Za-z_-|*]`.
pub(crate) fn is_out_trade_no(text: &str) -> bool {
    (6..=32).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'|' | b'*'))
}

/// 1–64 characters of `[0-9A-Za-z_-|*@]`.
pub(crate) fn is_out_refund_no(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'|' | b'*' | b'@'))
}

/// An absolute `https://` URL without query or fragment, at most 255 characters. Deviation from
/// WeChat (which takes HTTPS only): `http://` is accepted for loopback hosts (127.0.0.0/8,
/// `localhost`, `[::1]`), because the project's receivers run locally in development and tests.
pub(crate) fn check_notify_url(url: &str) -> Result<(), String> {
    if url.len() > 255 {
        return Err("长度不能超过 255".to_owned());
    }
    if url.contains('?') || url.contains('#') {
        return Err("不能携带查询参数".to_owned());
    }
    let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err("须为 https:// 开头的 URL".to_owned());
    };
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') || authority.contains(char::is_whitespace) {
        return Err("URL 格式不正确".to_owned());
    }
    let host = if let Some(bracketed) = authority.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    if host.is_empty() {
        return Err("URL 格式不正确".to_owned());
    }
    let loopback = host == "localhost"
        || host == "::1"
        || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback());
    if !https && !loopback {
        return Err("须为 https:// 开头的 URL（模拟器仅对本机地址接受 http://）".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_trade_numbers() {
        assert!(is_out_trade_no("abc123"));
        assert!(is_out_trade_no("A-b_c|d*e"));
        assert!(!is_out_trade_no("abc12"));
        assert!(!is_out_trade_no(&"a".repeat(33)));
        assert!(!is_out_trade_no("abc 123"));
        assert!(!is_out_trade_no("订单号123456"));
        assert!(is_out_refund_no("r@1"));
        assert!(!is_out_refund_no(""));
    }

    #[test]
    fn notify_urls() {
        assert!(check_notify_url("https://example.com/pay/notify").is_ok());
        assert!(check_notify_url("http://127.0.0.1:8080/notify").is_ok());
        assert!(check_notify_url("http://localhost/notify").is_ok());
        assert!(check_notify_url("http://[::1]:9/notify").is_ok());
        assert!(check_notify_url("http://example.com/notify").is_err());
        assert!(check_notify_url("https://example.com/notify?a=1").is_err());
        assert!(check_notify_url("ftp://example.com/").is_err());
        assert!(check_notify_url("https:///x").is_err());
        assert!(check_notify_url("https://user@example.com/").is_err());
    }
}
