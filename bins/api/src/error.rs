//! Every error of the API, mapped to HTTP once: `{"code": "...", "message": "..."}` with a
//! stable machine code and a Chinese message a participant can act on. 4xx for bad input,
//! 5xx only for real faults (logged with the request id, never shown in detail).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use baoming_domain::lifecycle::{Refusal, TransitionError};
use baoming_store::StoreError;
use baoming_store::participants::SaveProfileError;
use baoming_store::registrations::SubmitError;
use serde::Serialize;
use utoipa::ToSchema;

/// One problem with one field of a form.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldProblem {
    /// The field, as named in the request body.
    pub field: String,
    /// Machine code.
    pub code: String,
    /// What to fix, in Chinese.
    pub message: String,
}

/// The body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code.
    pub code: String,
    /// Human message (Chinese for participant-facing errors).
    pub message: String,
    /// Per-field problems of a form, when there are several.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldProblem>,
}

/// An error answered to a client.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
    /// `Retry-After`, in seconds (429 `rate_limited`).
    retry_after: Option<u64>,
}

impl ApiError {
    /// A 4xx/5xx with a code and a message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody { code: code.into(), message: message.into(), fields: vec![] },
            retry_after: None,
        }
    }

    /// 422: the form has problems, one per field.
    pub fn fields(fields: Vec<FieldProblem>) -> Self {
        let message =
            fields.first().map_or_else(|| "请检查填写内容".to_owned(), |f| f.message.clone());
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: ErrorBody { code: "validation_failed".into(), message, fields },
            retry_after: None,
        }
    }

    /// 422 for one field.
    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::fields(vec![FieldProblem {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }])
    }

    /// 400: the request itself is malformed.
    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401.
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "登录已失效，请重新登录")
    }

    /// 404.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "记录不存在")
    }

    /// 500: logged here with the cause; the client sees no detail.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "服务器内部错误，请稍后再试")
    }

    /// 429 `rate_limited`: try again in `wait` (rounded up to whole seconds, `Retry-After`).
    pub fn rate_limited(wait: std::time::Duration) -> Self {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let seconds = seconds.max(1);
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("操作过于频繁，请 {seconds} 秒后再试"),
        );
        error.retry_after = Some(seconds);
        error
    }

    /// 503.
    pub fn unavailable(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
    }

    /// The machine code.
    pub fn code(&self) -> &str {
        &self.body.code
    }

    /// The human message.
    pub fn message(&self) -> &str {
        &self.body.message
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The per-field problems of a form (field, message); a single error without fields is
    /// listed under the field `""`.
    pub fn field_messages(&self) -> Vec<(String, String)> {
        if self.body.fields.is_empty() {
            vec![(String::new(), self.body.message.clone())]
        } else {
            self.body.fields.iter().map(|f| (f.field.clone(), f.message.clone())).collect()
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.body.code)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if let Some(seconds) = self.retry_after {
            response.insert_header((actix_web::http::header::RETRY_AFTER, seconds));
        }
        response.json(&self.body)
    }
}

impl From<TransitionError> for ApiError {
    fn from(e: TransitionError) -> Self {
        let status = match e.refusal {
            Refusal::WrongActor => StatusCode::FORBIDDEN,
            Refusal::ProfileIncomplete | Refusal::PhotoMissing | Refusal::InvalidChoice => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            _ => StatusCode::CONFLICT,
        };
        let message = match (e.refusal, e.state) {
            (Refusal::NotInTable, Some(state)) => {
                format!("报名当前状态为“{}”，不能进行此操作", state.label_zh())
            }
            _ => e.refusal.to_string(),
        };
        ApiError::new(status, e.refusal.code(), message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => ApiError::not_found(),
            StoreError::Transition(t) => t.into(),
            StoreError::Conflict { current } => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("报名状态刚刚已变为“{}”，请刷新后重试", current.label_zh()),
            ),
            StoreError::Duplicate { what } => {
                ApiError::new(StatusCode::CONFLICT, "duplicate", format!("{what} 已存在"))
            }
            StoreError::ProfileLocked => ApiError::new(
                StatusCode::CONFLICT,
                "profile_locked",
                "首次报名提交后，姓名、性别和证件号码不能再修改",
            ),
            StoreError::Pool(_) => {
                tracing::error!(error = %e, "database pool exhausted or unreachable");
                ApiError::unavailable("database_unavailable", "服务繁忙，请稍后再试")
            }
            other => ApiError::internal(&other),
        }
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        match e {
            SubmitError::Refused(t) => t.into(),
            SubmitError::InvalidChoice(choice) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_choice",
                choice.to_string(),
            ),
            SubmitError::Store(StoreError::NotFound { entity: "period" }) => {
                ApiError::field("period_id", "period_not_found", "期次不存在")
            }
            SubmitError::Store(s) => s.into(),
        }
    }
}

impl From<SaveProfileError> for ApiError {
    fn from(e: SaveProfileError) -> Self {
        use baoming_domain::profile::ProfileError;
        match e {
            SaveProfileError::Refused(ProfileError::IdentityLocked) => ApiError::new(
                StatusCode::CONFLICT,
                "profile_locked",
                ProfileError::IdentityLocked.to_string(),
            ),
            SaveProfileError::Refused(ProfileError::IdNumber(id)) => {
                ApiError::field("gender", "gender_mismatch", id.to_string())
            }
            SaveProfileError::IdNumberTaken => ApiError::new(
                StatusCode::CONFLICT,
                "id_number_taken",
                "该证件号码已被其他微信账号使用，请联系工作人员",
            ),
            SaveProfileError::Store(s) => s.into(),
        }
    }
}

impl From<baoming_store::privacy::DeleteAccountError> for ApiError {
    fn from(e: baoming_store::privacy::DeleteAccountError) -> Self {
        use baoming_store::privacy::DeleteAccountError;
        match e {
            DeleteAccountError::Live(blocker) => ApiError::new(
                StatusCode::CONFLICT,
                "account_not_deletable",
                format!("{}，暂不能注销账号（{}）", blocker.message_zh(), blocker.code()),
            ),
            DeleteAccountError::Store(s) => s.into(),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError::internal(&e)
    }
}

impl From<baoming_store::payments::OrderError> for ApiError {
    fn from(e: baoming_store::payments::OrderError) -> Self {
        use baoming_store::payments::OrderError;
        match e {
            OrderError::Refused(t) => t.into(),
            OrderError::AlreadyPaid => ApiError::new(
                StatusCode::CONFLICT,
                "order_paid",
                OrderError::AlreadyPaid.to_string(),
            ),
            OrderError::Store(s) => s.into(),
        }
    }
}

impl From<baoming_store::payments::ReturnError> for ApiError {
    fn from(e: baoming_store::payments::ReturnError) -> Self {
        use baoming_store::payments::ReturnError;
        let message = e.to_string();
        match e {
            ReturnError::NotByHand => ApiError::new(StatusCode::CONFLICT, "not_by_hand", message),
            ReturnError::AlreadyDone => {
                ApiError::new(StatusCode::CONFLICT, "already_returned", message)
            }
            ReturnError::TransferByHand => {
                ApiError::new(StatusCode::CONFLICT, "transfer_by_hand", message)
            }
            ReturnError::NotFailed(_) => {
                ApiError::new(StatusCode::CONFLICT, "refund_not_failed", message)
            }
            ReturnError::Superseded => {
                ApiError::new(StatusCode::CONFLICT, "refund_already_retried", message)
            }
            ReturnError::Store(s) => s.into(),
        }
    }
}

impl From<baoming_store::payments::ConfirmError> for ApiError {
    fn from(e: baoming_store::payments::ConfirmError) -> Self {
        use baoming_store::payments::ConfirmError;
        let message = e.to_string();
        match e {
            ConfirmError::BadSelection => {
                ApiError::field("registration_ids", "invalid_selection", message)
            }
            ConfirmError::AmountMismatch { .. } => {
                ApiError::field("amount_yuan", "amount_mismatch", message)
            }
            ConfirmError::NotApproved(_) => {
                ApiError::new(StatusCode::CONFLICT, "not_approved", message)
            }
            ConfirmError::AlreadyConfirmed(_) => {
                ApiError::new(StatusCode::CONFLICT, "already_confirmed", message)
            }
            ConfirmError::Store(s) => s.into(),
        }
    }
}

impl From<baoming_store::invoices::InvoiceActionError> for ApiError {
    fn from(e: baoming_store::invoices::InvoiceActionError) -> Self {
        use baoming_store::invoices::InvoiceActionError;
        let message = e.to_string();
        match e {
            InvoiceActionError::NotIssued(_) => {
                ApiError::new(StatusCode::CONFLICT, "invoice_not_issued", message)
            }
            InvoiceActionError::NotExported(_) => {
                ApiError::new(StatusCode::CONFLICT, "invoice_not_exported", message)
            }
            InvoiceActionError::Store(s) => s.into(),
        }
    }
}

impl From<baoming_store::invoices::ExportError<crate::routes::admin::invoices::WorkbookFailure>>
    for ApiError
{
    fn from(
        e: baoming_store::invoices::ExportError<crate::routes::admin::invoices::WorkbookFailure>,
    ) -> Self {
        use crate::routes::admin::invoices::WorkbookFailure;
        use baoming_exports::tax_workbook::TaxWorkbookError;
        use baoming_store::invoices::ExportError;
        let message = e.to_string();
        match e {
            ExportError::NothingToInvoice => {
                ApiError::new(StatusCode::CONFLICT, "nothing_to_invoice", message)
            }
            ExportError::Grouping(g) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, g.code(), message)
            }
            ExportError::Workbook(WorkbookFailure::Workbook(
                w @ (TaxWorkbookError::TooLong { .. }
                | TaxWorkbookError::TooManyInvoices { .. }
                | TaxWorkbookError::DuplicateSerial { .. }),
            )) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, w.code(), message),
            ExportError::Workbook(other) => ApiError::internal(&other),
            ExportError::Store(s) => s.into(),
        }
    }
}

impl From<baoming_exports::issued::ImportError> for ApiError {
    fn from(e: baoming_exports::issued::ImportError) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code(), e.to_string())
    }
}

impl From<baoming_invoicing::ItemSettingsError> for ApiError {
    fn from(e: baoming_invoicing::ItemSettingsError) -> Self {
        ApiError::field(e.field(), e.code(), e.to_string())
    }
}

impl From<baoming_payments::PayError> for ApiError {
    /// A WeChat Pay call that failed: logged, and the participant is asked to try again.
    fn from(error: baoming_payments::PayError) -> Self {
        tracing::warn!(%error, retryable = error.retryable(), "WeChat Pay call failed");
        ApiError::unavailable("wechatpay_unavailable", "微信支付暂时不可用，请稍后再试")
    }
}

impl From<baoming_wechat::WechatError> for ApiError {
    fn from(e: baoming_wechat::WechatError) -> Self {
        use baoming_wechat::WechatError;
        match e {
            WechatError::InvalidCode => ApiError::new(
                StatusCode::BAD_REQUEST,
                "wechat_code_invalid",
                "登录凭证无效或已使用，请重新登录",
            ),
            WechatError::RateLimited => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "wechat_rate_limited",
                "登录过于频繁，请稍后再试",
            ),
            WechatError::HighRisk => ApiError::new(
                StatusCode::FORBIDDEN,
                "wechat_high_risk",
                "微信判定该账号存在风险，暂不能登录",
            ),
            other => {
                tracing::warn!(error = %other, "WeChat login unavailable");
                ApiError::unavailable("wechat_unavailable", "微信服务繁忙，请稍后再试")
            }
        }
    }
}

impl From<baoming_photos::PhotoError> for ApiError {
    fn from(e: baoming_photos::PhotoError) -> Self {
        use baoming_photos::PhotoError;
        let status = match e {
            PhotoError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            PhotoError::UnsupportedFormat => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

impl From<baoming_invoicing::TitleErrors> for ApiError {
    /// One field problem per problem of the title.
    fn from(errors: baoming_invoicing::TitleErrors) -> Self {
        ApiError::fields(
            errors
                .into_problems()
                .into_iter()
                .map(|p| FieldProblem {
                    field: p.field.into(),
                    code: p.code.into(),
                    message: p.message,
                })
                .collect(),
        )
    }
}

impl From<baoming_store::periods::PlanError> for ApiError {
    fn from(e: baoming_store::periods::PlanError) -> Self {
        use baoming_store::periods::PlanError;
        let problem = |field: String, message: String| FieldProblem {
            field,
            code: "invalid".into(),
            message,
        };
        match e {
            PlanError::Invalid(found) => {
                ApiError::fields(found.into_iter().map(|p| problem(p.field, p.message)).collect())
            }
            PlanError::CapacityBelowTaken { code, taken } => ApiError::new(
                StatusCode::CONFLICT,
                "capacity_below_taken",
                format!("地区 {code} 已占用 {taken} 个名额，容量不能低于已占用名额"),
            ),
            PlanError::Referenced { what, code } => ApiError::new(
                StatusCode::CONFLICT,
                "referenced_by_registrations",
                format!(
                    "已有报名使用了{}“{code}”，不能删除",
                    match what {
                        "region" => "地区",
                        "subject" => "科目",
                        "venue" => "考点",
                        _ => "考试类型",
                    }
                ),
            ),
            PlanError::UnknownRow { .. } => {
                ApiError::field("id", "unknown_row", "编号不属于该期次")
            }
            PlanError::DuplicateCode => ApiError::new(
                StatusCode::CONFLICT,
                "duplicate_code",
                "代码在本期次中重复（例如两行互换代码），请分两次修改",
            ),
            PlanError::Store(s) => s.into(),
        }
    }
}

impl From<baoming_store::checkin::CheckinError> for ApiError {
    fn from(e: baoming_store::checkin::CheckinError) -> Self {
        use baoming_store::checkin::CheckinError;
        match e {
            CheckinError::Refused(t) => t.into(),
            CheckinError::Scan(refusal) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, refusal.code(), refusal.to_string())
            }
            CheckinError::Store(s) => s.into(),
        }
    }
}

impl From<baoming_store::tickets::TicketError> for ApiError {
    fn from(e: baoming_store::tickets::TicketError) -> Self {
        use baoming_store::tickets::TicketError;
        let (code, message) = (e.code(), e.to_string());
        match e {
            TicketError::Published | TicketError::NothingAssigned | TicketError::SchemeChanged => {
                ApiError::new(StatusCode::CONFLICT, code, message)
            }
            TicketError::NoVenue { .. } | TicketError::Number(_) | TicketError::Seating(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
            }
            TicketError::Store(s) => s.into(),
        }
    }
}

/// A check-in refused, with the window in the message when the window is why.
pub fn checkin_error(
    e: baoming_store::checkin::CheckinError,
    schedule: &baoming_domain::period::Schedule,
) -> ApiError {
    use baoming_store::checkin::CheckinError;
    match e {
        CheckinError::Refused(t) if t.refusal == Refusal::CheckInClosed => {
            let opens = crate::time::beijing(schedule.checkin_opens(), "%m月%d日 %H:%M");
            let closes = crate::time::beijing(schedule.checkin_closes(), "%m月%d日 %H:%M");
            ApiError::new(
                StatusCode::CONFLICT,
                t.refusal.code(),
                format!("不在报到时间内，报到时间为 {opens} 至 {closes}（北京时间）"),
            )
        }
        other => other.into(),
    }
}

/// Who meets an error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The mini-program (and anyone else).
    Participant,
    /// Only the back office (staff endpoints, the console).
    Staff,
}

/// One error `code` the API answers: its HTTP status, its message (`{…}` marks a part that
/// depends on the case) and what the page should do. [`CATALOGUE`] lists every one; docs/errors.md
/// is generated from it and tests check it against the mapping above and the crates' codes.
#[derive(Debug, Clone, Copy)]
pub struct DocumentedError {
    /// The stable machine code.
    pub code: &'static str,
    /// The HTTP status it comes with.
    pub status: StatusCode,
    /// The Chinese message, as answered (`{…}`: filled in per case; ` / ` between the messages
    /// of a code that has several).
    pub message: &'static str,
    /// What the page should do (English, for the developers).
    pub action: &'static str,
    /// Who meets it.
    pub audience: Audience,
}

macro_rules! catalogue {
    ($($audience:ident $code:literal $status:ident $message:literal $action:literal;)*) => {
        /// Every top-level error `code` the API can answer, in the order of docs/errors.md.
        pub const CATALOGUE: &[DocumentedError] = &[$(DocumentedError {
            code: $code,
            status: StatusCode::$status,
            message: $message,
            action: $action,
            audience: Audience::$audience,
        },)*];
    };
}

catalogue! {
    // Any call.
    Participant "bad_json" BAD_REQUEST "请求内容格式不正确（{原因}）"
        "A bug of the page: the body is not the JSON the call takes (unknown field, wrong type).";
    Participant "bad_query" BAD_REQUEST "查询参数不正确（{原因}） / 查询内容过长"
        "A bug of the page: fix the query string.";
    Participant "unauthorized" UNAUTHORIZED "登录已失效，请重新登录"
        "The token is missing, expired or logged out: `wx.login` and log in again, then repeat the call.";
    Participant "not_found" NOT_FOUND "记录不存在 / 接口不存在"
        "Not this person's record (or no such path: 接口不存在). Go back to the list and reload it.";
    Participant "validation_failed" UNPROCESSABLE_ENTITY "{第一个问题}"
        "Show each `fields[].message` under its `fields[].field`; `message` is the first one.";
    Participant "conflict" CONFLICT "报名状态刚刚已变为“{状态}”，请刷新后重试"
        "Someone changed the registration at the same moment: reload it and let the person try again.";
    Participant "internal" INTERNAL_SERVER_ERROR "服务器内部错误，请稍后再试"
        "Show the message; the server logged the cause with the `X-Request-Id` of the answer.";
    Participant "rate_limited" TOO_MANY_REQUESTS "操作过于频繁，请 {秒数} 秒后再试"
        "Too many calls of this kind (per person or per network address): wait the `Retry-After` seconds before trying again; never retry in a loop.";
    Participant "database_unavailable" SERVICE_UNAVAILABLE "服务繁忙，请稍后再试 / 数据库不可用"
        "Show the message and let the person retry in a moment (数据库不可用: the answer of `/readyz`).";
    // 登录
    Participant "wechat_code_invalid" BAD_REQUEST "登录凭证无效或已使用，请重新登录"
        "Call `wx.login` again for a fresh code (a code works once, for five minutes).";
    Participant "wechat_rate_limited" TOO_MANY_REQUESTS "登录过于频繁，请稍后再试"
        "Wait before logging in again; do not retry in a loop.";
    Participant "wechat_high_risk" FORBIDDEN "微信判定该账号存在风险，暂不能登录"
        "WeChat refuses this account: show the message, no retry.";
    Participant "wechat_unavailable" SERVICE_UNAVAILABLE "微信服务繁忙，请稍后再试"
        "Retry the login after a moment.";
    // 个人信息
    Participant "profile_locked" CONFLICT "首次报名提交后，姓名、性别和证件号码不能再修改"
        "Name, gender and ID number are locked (`locked` in the profile): show them read-only; staff correct mistakes.";
    Participant "id_number_taken" CONFLICT "该证件号码已被其他微信账号使用，请联系工作人员"
        "Another WeChat account holds this ID number: show the message (staff can help).";
    Participant "account_not_deletable" CONFLICT "{原因}，暂不能注销账号（{reason_code}）"
        "Deleting the account is refused while something is live. The message names it, ending in its code: `awaiting_review` (有报名正在等待审核), `awaiting_payment` (有报名正在等待缴费), `refund_in_progress` (有退款正在办理), `sitting_ahead` (已缴费的考试尚未结束). Show the message; withdraw, pay or wait for the refund or the sitting's end, then try again.";
    // 照片
    Participant "bad_multipart" BAD_REQUEST "上传格式不正确"
        "A bug of the page: upload with `wx.uploadFile` and `name: 'photo'`.";
    Participant "photo_too_large" PAYLOAD_TOO_LARGE "照片文件过大（不能超过 {大小}），请压缩后重新上传"
        "Choose the photo with `sizeType: ['compressed']` or pick a smaller one.";
    Participant "photo_unsupported_format" UNSUPPORTED_MEDIA_TYPE "照片格式不支持，请上传 JPG 或 PNG 格式的照片"
        "Ask for a JPG or PNG photo.";
    Participant "photo_too_many_pixels" UNPROCESSABLE_ENTITY "照片分辨率过高（{宽}×{高} 像素），请缩小后重新上传"
        "Ask for a smaller photo (compressed).";
    Participant "photo_too_small" UNPROCESSABLE_ENTITY "照片尺寸过小（{宽}×{高} 像素），至少需要 295×413 像素"
        "Ask for a larger photo.";
    Participant "photo_wrong_aspect_ratio" UNPROCESSABLE_ENTITY "照片宽高比不符合一寸照要求（{宽}×{高}），请按 5:7 比例（如 295×413）拍摄或裁剪，人像居中、四周留出白色背景"
        "Ask for a 5:7 portrait photo (crop it, e.g. with `wx.cropImage`).";
    Participant "photo_background_not_white" UNPROCESSABLE_ENTITY "照片背景不是白色，请在白色背景前重新拍摄，人像居中、四周留白"
        "Ask for a photo taken against a white background.";
    Participant "photo_corrupt" UNPROCESSABLE_ENTITY "照片文件已损坏或不完整，请重新上传"
        "Upload again.";
    Participant "photo_cannot_compress" UNPROCESSABLE_ENTITY "照片无法压缩到 100 KB 以内，请换一张背景更简洁的照片"
        "Ask for another photo.";
    // 报名
    Participant "registration_closed" CONFLICT "不在报名时间内"
        "The period's registration window is closed: reload the periods (`registration_open`).";
    Participant "profile_incomplete" UNPROCESSABLE_ENTITY "请先完善个人信息"
        "Open 个人信息, then come back to the form.";
    Participant "photo_missing" UNPROCESSABLE_ENTITY "请先上传合格的一寸白底免冠照片"
        "Upload a photo first and send its `photo_id`.";
    Participant "invalid_choice" UNPROCESSABLE_ENTITY "{所选科目、考试类型或地区的问题}"
        "The subjects, exam type or region do not fit the period: show the message and let the person choose again.";
    Participant "duplicate_registration" CONFLICT "本期次已有报名，不能重复报名"
        "One live registration per period: open 我的考试.";
    Participant "region_full" CONFLICT "该地区名额已满"
        "No seat left in the region (`seats_left` is 0): choose another region.";
    Participant "not_allowed_in_state" CONFLICT "报名当前状态为“{状态}”，不能进行此操作"
        "The button was stale: reload the registration and show its `actions`.";
    Participant "forbidden_for_actor" FORBIDDEN "无权进行此操作"
        "Only staff may do this: never offered in `actions`.";
    // 支付
    Participant "payment_in_flight" CONFLICT "支付正在进行中，请稍后再试"
        "A WeChat payment of this registration is under way: wait, then call pay/check.";
    Participant "payment_closed" CONFLICT "已过缴费截止时间"
        "The payment deadline has passed: no payment can start (the registration will close).";
    Participant "nothing_to_pay" CONFLICT "应缴费用为零，无需在线支付，请联系工作人员"
        "A free registration: show the message.";
    Participant "order_paid" CONFLICT "该订单已支付，请等待确认"
        "Already paid: call pay/check and reload 我的考试.";
    Staff "amount_mismatch" CONFLICT "支付金额（{实付}元）与应缴费用（{应缴}元）不符"
        "Not expected from the mini-program; finance handles a payment of the wrong amount.";
    Participant "wechatpay_unavailable" SERVICE_UNAVAILABLE "微信支付暂时不可用，请稍后再试"
        "WeChat Pay could not be reached: let the person try again.";
    // 报到
    Participant "bad_position" BAD_REQUEST "位置信息不正确（{原因}） / 请同时提供纬度和经度"
        "A bug of the page: send both `latitude` and `longitude` (GCJ-02), or neither.";
    Participant "checkin_closed" CONFLICT "不在报到时间内，报到时间为 {开始} 至 {结束}（北京时间）"
        "Outside the check-in window: show the message (it gives the window).";
    Participant "venue_code_required" CONFLICT "请扫描考点报到二维码"
        "Check in by scanning the venue's code.";
    Participant "cancel_refund_first" CONFLICT "您已申请退款，如需参加考试，请先撤回退款申请再扫码报到"
        "Offer 撤回退款申请 (`cancel_refund_request`), then scan again.";
    Participant "checkin_code_malformed" UNPROCESSABLE_ENTITY "不是本考点的报到码"
        "What was scanned is not a venue code: scan the venue's screen.";
    Participant "checkin_code_expired" UNPROCESSABLE_ENTITY "二维码已过期，请重新扫描现场最新的二维码"
        "The code is old (a photo?): scan the screen again.";
    Participant "checkin_code_not_yet_valid" UNPROCESSABLE_ENTITY "二维码尚未生效，请稍后重新扫描"
        "Scan again in a moment.";
    Participant "checkin_code_wrong_venue" UNPROCESSABLE_ENTITY "这是其他考点的报到码，请扫描本考点现场的二维码"
        "Scan this venue's code.";
    Participant "checkin_code_invalid" UNPROCESSABLE_ENTITY "报到码无效，请扫描本期考试考点现场的二维码"
        "A code of another period, or altered: scan this venue's screen.";
    Participant "checkin_static_code_disabled" UNPROCESSABLE_ENTITY "本考点未启用固定报到码，请扫描现场屏幕上的二维码"
        "The printed code is not in use here: scan the screen.";
    Participant "checkin_clock_out_of_range" UNPROCESSABLE_ENTITY "服务器时间异常，请联系现场工作人员"
        "Ask the staff at the desk (they can check the person in by hand).";
    Participant "checkin_unknown_venue" UNPROCESSABLE_ENTITY "这不是本期次考点的报到码，请扫描您所在考点现场的二维码"
        "A code of a venue this period does not have: scan the right screen.";
    Participant "checkin_other_region" UNPROCESSABLE_ENTITY "您报名的地区不在“{考点}”报到，请到{应去考点}报到"
        "Another region's venue: the message names where to go.";
    Participant "checkin_position_missing" UNPROCESSABLE_ENTITY "请允许小程序获取您的位置后再报到"
        "The venue has a geofence: ask for the location (`wx.getLocation`) and scan again.";
    Participant "checkin_outside_geofence" UNPROCESSABLE_ENTITY "您距离考点约 {距离} 米，超出报到范围（{半径} 米），请到达考点后再报到"
        "Too far from the venue: the message gives the distance.";
    // 准考证
    Participant "ticket_not_ready" CONFLICT "准考证正在生成，请稍后刷新"
        "The ticket is being made: read the ticket JSON again a little later.";
    Participant "ticket_render_failed" CONFLICT "准考证生成遇到问题，工作人员正在处理，请稍后再看"
        "Staff have been told: show the message.";
    // Clock and internal refusals: never the answer to a participant's call.
    Staff "deadline_not_reached" CONFLICT "尚未到缴费截止时间"
        "The worker's clock fired early; nothing to do.";
    Staff "sitting_not_ended" CONFLICT "考试尚未结束"
        "The worker's clock fired early; nothing to do.";
    Staff "seat_not_asked" CONFLICT "名额未确认"
        "A bug: an approval without its seat check.";
    // Back office.
    Staff "login_failed" UNAUTHORIZED "用户名或密码错误（连续失败 5 次后账号锁定 15 分钟）"
        "Type the username and password again; a locked account answers the same (wait 15 minutes).";
    Staff "forbidden" FORBIDDEN "没有进行此操作的权限"
        "The staff user's roles do not allow this.";
    Staff "csrf_failed" FORBIDDEN "请求校验失败，请刷新页面后重试"
        "Reload the page (a new CSRF token) and try again.";
    Staff "bad_form" BAD_REQUEST "表单内容不正确（{原因}）"
        "A bug of the console page.";
    Staff "bad_action" BAD_REQUEST "未知操作"
        "A bug of the console page.";
    Staff "bad_scale" BAD_REQUEST "scale 应在 1 到 40 之间"
        "Ask for the venue code PNG with `scale` 1–40.";
    Staff "cannot_disable_self" CONFLICT "不能停用自己的账号"
        "Another admin must do it.";
    Staff "cannot_reset_self" CONFLICT "不能重置自己的密码，请使用“修改密码”"
        "Change your own password with the current one (修改密码).";
    Staff "duplicate" CONFLICT "{名称} 已存在"
        "Choose another name.";
    Staff "job_not_failed" CONFLICT "只有失败的任务可以重新运行"
        "Reload the job list.";
    Staff "capacity_below_taken" CONFLICT "地区 {代码} 已占用 {名额} 个名额，容量不能低于已占用名额"
        "Keep the capacity at least the seats taken.";
    Staff "referenced_by_registrations" CONFLICT "已有报名使用了{地区/科目/考点/考试类型}“{代码}”，不能删除"
        "Keep the row: registrations use it.";
    Staff "duplicate_code" CONFLICT "代码在本期次中重复（例如两行互换代码），请分两次修改"
        "Save the change in two steps.";
    Staff "not_approved" CONFLICT "报名 {编号} 尚未审核通过，不能确认到账"
        "Leave that registration out of the confirmation.";
    Staff "already_confirmed" CONFLICT "报名 {编号} 的转账已确认过"
        "Leave that registration out of the confirmation.";
    Staff "not_by_hand" CONFLICT "微信支付的退款由系统自动办理"
        "Nothing to mark: the worker makes WeChat refunds.";
    Staff "already_returned" CONFLICT "该退款已办理完成"
        "Nothing left to do.";
    Staff "transfer_by_hand" CONFLICT "银行转账的退款请退回后标记“已退回”"
        "Return the transfer, then mark it returned.";
    Staff "refund_not_failed" CONFLICT "该退款未失败，无需重新发起 / 该退款状态为“{状态}”，只有微信退款关闭或异常时才能重新发起或登记线下退款"
        "Only a closed or abnormal WeChat refund can be retried or settled offline.";
    Staff "refund_already_retried" CONFLICT "该退款已重新发起，请处理新的退款单"
        "Open the new refund.";
    Staff "nothing_to_invoice" CONFLICT "没有可开票的报名（已缴费、选择了发票抬头且尚未开票）"
        "Nothing to export yet.";
    Staff "invoice_not_issued" CONFLICT "发票状态为“{状态}”，只有已开具的发票才能冲红"
        "Reload the invoice.";
    Staff "invoice_not_exported" CONFLICT "发票状态为“{状态}”，只有尚未开具的发票才能作废"
        "Reload the invoice.";
    Staff "duplicate_key" UNPROCESSABLE_ENTITY "报名记录{编号}重复出现"
        "A bug: report it with the request id.";
    Staff "missing_name" UNPROCESSABLE_ENTITY "报名记录{编号}缺少姓名，无法开票"
        "Have the participant's name corrected, then export again.";
    Staff "non_positive_fee" UNPROCESSABLE_ENTITY "报名记录{编号}的实缴金额为{金额}元，须大于0才能开票"
        "Leave the registration out: nothing was paid.";
    Staff "amount_overflow" UNPROCESSABLE_ENTITY "合开发票金额超出范围（报名记录{编号}）"
        "Split the joint invoice.";
    Staff "too_long" UNPROCESSABLE_ENTITY "发票{流水号}的“{列}”有{长度}个字符，超过模板允许的{上限}个"
        "Shorten the field named (title, remark).";
    Staff "too_many_invoices" UNPROCESSABLE_ENTITY "一个发票导入表最多{上限}张发票"
        "Export in several parts.";
    Staff "duplicate_serial" UNPROCESSABLE_ENTITY "发票流水号{流水号}在本表中已用于另一张发票"
        "A bug: report it with the request id.";
    Staff "not_a_workbook" UNPROCESSABLE_ENTITY "无法读取该文件，请上传税局导出的.xlsx工作簿：{原因}"
        "Upload the bureau's .xlsx.";
    Staff "too_large" UNPROCESSABLE_ENTITY "工作簿过大，请只导出需要的发票"
        "Export fewer invoices from the bureau.";
    Staff "upload_too_large" PAYLOAD_TOO_LARGE "文件过大（不能超过 {大小} MiB）"
        "Upload the bureau's workbook as it came, not a larger file.";
    Staff "bad_upload" BAD_REQUEST "上传中断，请重新上传"
        "Upload the file again.";
    Staff "missing_headers" UNPROCESSABLE_ENTITY "找不到表头：{表头}（表头须在前5行内）"
        "Upload the bureau's workbook unchanged.";
    Staff "too_many_rows" UNPROCESSABLE_ENTITY "一次最多导入{上限}行"
        "Import in several parts.";
    Staff "tickets_published" CONFLICT "准考证已发布，不能重新编排或修改编排设置"
        "Published tickets are final.";
    Staff "tickets_not_assigned" CONFLICT "本期次还没有编排准考证，请先编排考场"
        "Assign the seats first.";
    Staff "ticket_scheme_changed" CONFLICT "编号规则已修改，已有准考证仍按原规则编号；请选择“强制重新编排”"
        "Assign again with `force`.";
    Staff "ticket_no_venue" UNPROCESSABLE_ENTITY "地区“{地区}”没有考点，请先在期次中为其设置考点"
        "Give the region a venue in the period.";
    Staff "ticket_number_unknown_placeholder" UNPROCESSABLE_ENTITY "准考证号规则含有未知的占位符 {占位符}，可用 yy、yyyy、region、site、room、seat"
        "Fix the ticket-number scheme.";
    Staff "ticket_number_unbalanced_brace" UNPROCESSABLE_ENTITY "准考证号规则的花括号不成对"
        "Fix the ticket-number scheme.";
    Staff "ticket_number_bad_width" UNPROCESSABLE_ENTITY "准考证号规则中 {占位符} 的位数 “{位数}” 无效，应为 1 到 6"
        "Fix the ticket-number scheme.";
    Staff "ticket_number_bad_literal" UNPROCESSABLE_ENTITY "准考证号规则只能包含数字、大写字母和 “-”，不能包含 “{字符}”"
        "Fix the ticket-number scheme.";
    Staff "ticket_number_missing_placeholder" UNPROCESSABLE_ENTITY "准考证号规则缺少 {占位符}，否则准考证号不唯一"
        "Fix the ticket-number scheme.";
    Staff "ticket_number_duplicate_placeholder" UNPROCESSABLE_ENTITY "准考证号规则中 {占位符} 出现了多次"
        "Fix the ticket-number scheme.";
    Staff "ticket_number_too_long" UNPROCESSABLE_ENTITY "准考证号规则生成的号码有 {位数} 位，最多 {上限} 位"
        "Fix the ticket-number scheme.";
    Staff "ticket_number_value_too_wide" UNPROCESSABLE_ENTITY "{字段} “{值}” 超出准考证号规则的 {位数} 位，请调整规则"
        "Widen the placeholder in the scheme.";
    Staff "ticket_number_bad_region" UNPROCESSABLE_ENTITY "地区代码 “{代码}” 应为 1 到 6 位数字"
        "Give the region a numeric code.";
    Staff "ticket_number_zero" UNPROCESSABLE_ENTITY "{字段} 编号应从 1 开始"
        "A bug: report it with the request id.";
    Staff "ticket_number_bad_year" UNPROCESSABLE_ENTITY "年份 {年份} 无效"
        "A bug: report it with the request id.";
    Staff "ticket_number_invalid" UNPROCESSABLE_ENTITY "准考证号 “{号码}” 格式不正确"
        "A bug: report it with the request id.";
    Staff "seating_duplicate_key" UNPROCESSABLE_ENTITY "考生 {编号} 重复出现，无法编排考场"
        "A bug: report it with the request id.";
    Staff "seating_empty_key" UNPROCESSABLE_ENTITY "考生编号为空，无法编排考场"
        "A bug: report it with the request id.";
    Staff "seating_zero_site" UNPROCESSABLE_ENTITY "考点编号应从 1 开始"
        "A bug: report it with the request id.";
    Staff "seating_bad_layout" UNPROCESSABLE_ENTITY "考场设置无效：座位数 {座位数}、每排 {每排} 座"
        "Fix the room layout in the ticket settings.";
    Staff "ticket_missing_glyphs" UNPROCESSABLE_ENTITY "以下字符无法显示：{字符}，请更换写法或联系工作人员"
        "Add a fallback font that has the characters (docs/tickets.md).";
    Staff "ticket_bad_photo" UNPROCESSABLE_ENTITY "证件照无法读取，请重新上传照片"
        "The participant uploads the photo again.";
    Staff "ticket_qr_too_long" UNPROCESSABLE_ENTITY "二维码内容过长（{长度} 个字符）"
        "A bug: report it with the request id.";
    Staff "ticket_font" UNPROCESSABLE_ENTITY "字体处理失败：{原因}"
        "Check the configured fonts (docs/configuration.md).";
    Staff "ticket_png_encoding" UNPROCESSABLE_ENTITY "图片编码失败"
        "Retry; report it if it stays.";
    Staff "ticket_fonts_unavailable" SERVICE_UNAVAILABLE "{原因}"
        "Install or configure the ticket fonts (docs/tickets.md).";
}

/// docs/errors.md's tables of [`CATALOGUE`], one per [`Audience`], each between a
/// `<!-- catalogue: … -->` line and `<!-- /catalogue -->`.
pub fn catalogue_markdown(audience: Audience) -> String {
    let mut out = String::from("| `code` | HTTP | message | what to do |\n|---|---|---|---|\n");
    for e in CATALOGUE.iter().filter(|e| e.audience == audience) {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            e.code,
            e.status.as_u16(),
            e.message.replace('|', "\\|"),
            e.action.replace('|', "\\|"),
        ));
    }
    out
}

#[cfg(test)]
pub(crate) mod catalogue_tests {
    //! The catalogue against the code: every literal code of this crate, every code of the
    //! crates' error types mapped above, the statuses the mapping really answers, and
    //! docs/errors.md.
    use std::path::{Path, PathBuf};

    use baoming_checkin::{CodeError, GeofenceError, VenueNumber};
    use baoming_domain::Money;
    use baoming_domain::checkin::ScanRefusal;
    use baoming_domain::lifecycle::EventKind;
    use baoming_photos::PhotoError;

    use super::*;

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    fn documented(code: &str, status: StatusCode) -> Option<&'static DocumentedError> {
        CATALOGUE.iter().find(|d| d.code == code && d.status == status)
    }

    /// Every `.rs` file below `dir` (the source-reading tests here and in `openapi`).
    pub(crate) fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("source dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// The string literal at the start of `text`, if it starts with one.
    fn literal(text: &str) -> Option<&str> {
        let rest = text.trim_start().strip_prefix('"')?;
        rest.find('"').map(|end| &rest[..end])
    }

    /// Whether `message` is what the catalogue says: one of its ` / `-separated forms, or any
    /// message when a form has a variable part.
    fn message_fits(documented: &DocumentedError, message: &str) -> bool {
        documented.message.split(" / ").any(|form| form == message || form.contains('{'))
    }

    /// The string literal after the one `text` starts with (the message after the code).
    fn next_literal(text: &str) -> Option<&str> {
        let rest = text.trim_start().strip_prefix('"')?;
        let after = &rest[rest.find('"')? + 1..];
        literal(after.trim_start().strip_prefix(',')?)
            .filter(|m| after.contains(&format!("\"{m}\"")))
    }

    #[test]
    fn each_code_and_status_is_listed_once() {
        for (i, e) in CATALOGUE.iter().enumerate() {
            assert!(
                !CATALOGUE[..i].iter().any(|d| d.code == e.code && d.status == e.status),
                "{} {} is listed twice",
                e.code,
                e.status
            );
            assert!(!e.message.is_empty() && !e.action.is_empty(), "{}", e.code);
        }
    }

    /// Every literal code given to `ApiError`'s constructors (with a `StatusCode` constant), `bad_request` and
    /// `unavailable("code", …)` of this crate is in the catalogue with its status.
    #[test]
    fn every_literal_code_of_the_api_is_catalogued() {
        let mut files = Vec::new();
        rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
        // Built at run time so that this test's own text does not match.
        let new = ["ApiError::new(".to_owned(), "Self::new(".to_owned()];
        let bad_request = format!("{}::bad_request(", "ApiError");
        let unavailable = format!("{}::unavailable(", "ApiError");
        let mut seen = 0;
        for file in files {
            let text = std::fs::read_to_string(&file).expect("source");
            let mut found: Vec<(String, StatusCode, Option<&str>)> = Vec::new();
            for needle in &new {
                for (at, _) in text.match_indices(needle.as_str()) {
                    let args = &text[at + needle.len()..];
                    let Some((status, rest)) = args.split_once(',') else { continue };
                    let Some(name) = status.trim().rsplit("StatusCode::").next() else { continue };
                    if !status.contains("StatusCode::") {
                        continue; // a status computed from a crate's error: tested below
                    }
                    let Some(code) = literal(rest) else { continue };
                    let status = match name {
                        "BAD_REQUEST" => StatusCode::BAD_REQUEST,
                        "UNAUTHORIZED" => StatusCode::UNAUTHORIZED,
                        "FORBIDDEN" => StatusCode::FORBIDDEN,
                        "NOT_FOUND" => StatusCode::NOT_FOUND,
                        "CONFLICT" => StatusCode::CONFLICT,
                        "UNPROCESSABLE_ENTITY" => StatusCode::UNPROCESSABLE_ENTITY,
                        "TOO_MANY_REQUESTS" => StatusCode::TOO_MANY_REQUESTS,
                        "INTERNAL_SERVER_ERROR" => StatusCode::INTERNAL_SERVER_ERROR,
                        "SERVICE_UNAVAILABLE" => StatusCode::SERVICE_UNAVAILABLE,
                        "PAYLOAD_TOO_LARGE" => StatusCode::PAYLOAD_TOO_LARGE,
                        other => panic!("{}: add StatusCode::{other} to this test", file.display()),
                    };
                    found.push((code.to_owned(), status, next_literal(rest)));
                }
            }
            for (needle, status) in [
                (&bad_request, StatusCode::BAD_REQUEST),
                (&unavailable, StatusCode::SERVICE_UNAVAILABLE),
            ] {
                for (at, _) in text.match_indices(needle.as_str()) {
                    let rest = &text[at + needle.len()..];
                    if let Some(code) = literal(rest) {
                        found.push((code.to_owned(), status, next_literal(rest)));
                    }
                }
            }
            for (code, status, message) in found {
                seen += 1;
                let d = documented(&code, status).unwrap_or_else(|| {
                    panic!(
                        "{}: `{code}` ({status}) is not in error::CATALOGUE (and docs/errors.md)",
                        file.display()
                    )
                });
                if let Some(message) = message {
                    assert!(
                        message_fits(d, message),
                        "{}: `{code}` answers “{message}”, the catalogue says “{}”",
                        file.display(),
                        d.message
                    );
                }
            }
        }
        assert!(seen > 40, "the scan found only {seen} codes: has the constructor changed?");
        // The constructors without a literal at their call.
        for e in [ApiError::unauthorized(), ApiError::not_found(), ApiError::fields(vec![])] {
            assert!(documented(e.code(), e.status()).is_some(), "{e}");
        }
    }

    /// The `code()` of every crate error type mapped to a top-level code above: each code it
    /// can return is in the catalogue.
    #[test]
    fn every_code_of_the_crates_errors_is_catalogued() {
        // (file, type, codes that never reach a client as such)
        let sources: &[(&str, &str, &[&str])] = &[
            ("crates/domain/src/lifecycle/mod.rs", "Refusal", &[]),
            ("crates/domain/src/checkin.rs", "ScanRefusal", &[]),
            ("crates/checkin/src/code.rs", "CodeError", &[]),
            ("crates/checkin/src/geofence.rs", "GeofenceError", &[]),
            ("crates/photos/src/error.rs", "PhotoError", &[]),
            // `Store` maps through StoreError.
            ("crates/store/src/tickets.rs", "TicketError", &["store"]),
            ("crates/tickets/src/number.rs", "NumberError", &[]),
            ("crates/tickets/src/seating.rs", "SeatingError", &[]),
            ("crates/tickets/src/render/mod.rs", "RenderError", &[]),
            ("crates/invoicing/src/issue.rs", "GroupingError", &[]),
            // `Xlsx` is an internal error.
            ("crates/exports/src/tax_workbook.rs", "TaxWorkbookError", &["xlsx"]),
            ("crates/exports/src/issued.rs", "ImportError", &[]),
        ];
        for (file, ty, internal) in sources {
            let text = std::fs::read_to_string(root().join(file)).expect("source");
            let start = text
                .find(&format!("impl {ty} {{"))
                .unwrap_or_else(|| panic!("{file}: no `impl {ty}`"));
            let body = &text[start..];
            let at = body.find("fn code(").unwrap_or_else(|| panic!("{file}: no {ty}::code"));
            let body = &body[at..];
            let body = &body[..body.find("\n    }\n").expect("end of fn code")];
            let codes: Vec<&str> = body.split('"').skip(1).step_by(2).collect();
            assert!(!codes.is_empty(), "{file}: {ty}::code has no literal");
            for code in codes.into_iter().filter(|c| !internal.contains(c)) {
                assert!(
                    CATALOGUE.iter().any(|d| d.code == code),
                    "{file}: {ty}'s code `{code}` is not in error::CATALOGUE (and docs/errors.md)"
                );
            }
        }
    }

    fn refused(refusal: Refusal) -> ApiError {
        TransitionError { state: None, event: EventKind::Submit, refusal }.into()
    }

    /// What the participant's calls answer, through the mapping itself: code, status and, when
    /// the catalogue's message has no variable part, the message.
    #[test]
    fn the_mapping_answers_what_the_catalogue_says() {
        let money = Money::from_fen(100).expect("money");
        let refusals = [
            Refusal::NotInTable,
            Refusal::WrongActor,
            Refusal::RegistrationClosed,
            Refusal::ProfileIncomplete,
            Refusal::PhotoMissing,
            Refusal::InvalidChoice,
            Refusal::DuplicateRegistration,
            Refusal::Full,
            Refusal::PaymentInFlight,
            Refusal::PaymentClosed,
            Refusal::NothingToPay,
            Refusal::AmountMismatch { expected: money, received: money },
            Refusal::CheckInClosed,
            Refusal::VenueCodeRequired,
            Refusal::CancelRefundFirst,
            Refusal::DeadlineNotReached,
            Refusal::SittingNotEnded,
            Refusal::SeatNotAsked,
            Refusal::RefundNotFailed,
        ];
        // A new variant does not compile until it is listed above.
        for r in &refusals {
            match r {
                Refusal::NotInTable
                | Refusal::WrongActor
                | Refusal::RegistrationClosed
                | Refusal::ProfileIncomplete
                | Refusal::PhotoMissing
                | Refusal::InvalidChoice
                | Refusal::DuplicateRegistration
                | Refusal::Full
                | Refusal::PaymentInFlight
                | Refusal::PaymentClosed
                | Refusal::NothingToPay
                | Refusal::AmountMismatch { .. }
                | Refusal::CheckInClosed
                | Refusal::VenueCodeRequired
                | Refusal::CancelRefundFirst
                | Refusal::DeadlineNotReached
                | Refusal::SittingNotEnded
                | Refusal::SeatNotAsked
                | Refusal::RefundNotFailed => {}
            }
        }
        let photos = [
            PhotoError::TooLarge { max_bytes: 1024 },
            PhotoError::UnsupportedFormat,
            PhotoError::TooManyPixels { width: 1, height: 1 },
            PhotoError::TooSmall { width: 1, height: 1 },
            PhotoError::WrongAspectRatio { width: 1, height: 1 },
            PhotoError::BackgroundNotWhite,
            PhotoError::Corrupt,
            PhotoError::CannotCompress,
        ];
        for p in &photos {
            match p {
                PhotoError::TooLarge { .. }
                | PhotoError::UnsupportedFormat
                | PhotoError::TooManyPixels { .. }
                | PhotoError::TooSmall { .. }
                | PhotoError::WrongAspectRatio { .. }
                | PhotoError::BackgroundNotWhite
                | PhotoError::Corrupt
                | PhotoError::CannotCompress => {}
            }
        }
        let venue = VenueNumber::new(1);
        let scans = [
            ScanRefusal::Code(CodeError::Malformed),
            ScanRefusal::Code(CodeError::Expired),
            ScanRefusal::Code(CodeError::NotYetValid),
            ScanRefusal::Code(CodeError::WrongVenue { expected: venue, scanned: venue }),
            ScanRefusal::Code(CodeError::Forged),
            ScanRefusal::Code(CodeError::StaticNotEnabled),
            ScanRefusal::Code(CodeError::ClockOutOfRange),
            ScanRefusal::UnknownVenue,
            ScanRefusal::OtherRegion { venue: "A".into(), expected: "B".into() },
            ScanRefusal::Geofence(GeofenceError::PositionMissing),
            ScanRefusal::Geofence(GeofenceError::Outside { distance_m: 900, radius_m: 300 }),
        ];
        let mut answered: Vec<ApiError> = refusals.into_iter().map(refused).collect();
        answered.push(
            TransitionError {
                state: Some(baoming_domain::lifecycle::State::Paid),
                event: EventKind::Withdraw,
                refusal: Refusal::NotInTable,
            }
            .into(),
        );
        answered.extend(photos.into_iter().map(ApiError::from));
        answered.extend(
            scans.into_iter().map(|s| baoming_store::checkin::CheckinError::Scan(s).into()),
        );
        answered.extend([
            StoreError::Conflict { current: baoming_domain::lifecycle::State::Paid }.into(),
            StoreError::ProfileLocked.into(),
            SaveProfileError::IdNumberTaken.into(),
            baoming_store::privacy::DeleteAccountError::Live(
                baoming_domain::privacy::DeletionBlocker::SittingAhead,
            )
            .into(),
            baoming_store::payments::OrderError::AlreadyPaid.into(),
            baoming_wechat::WechatError::InvalidCode.into(),
            baoming_wechat::WechatError::RateLimited.into(),
            baoming_wechat::WechatError::HighRisk.into(),
        ]);
        for e in answered {
            let d = documented(e.code(), e.status())
                .unwrap_or_else(|| panic!("{e} ({}) is not in error::CATALOGUE", e.message()));
            assert!(
                message_fits(d, e.message()),
                "{}: the mapping answers “{}”, the catalogue says “{}”",
                d.code,
                e.message(),
                d.message
            );
        }
    }

    /// docs/errors.md holds the catalogue's tables; `BAOMING_UPDATE_DOCS=1` writes them.
    #[test]
    fn docs_errors_md_lists_the_catalogue() {
        let path = root().join("docs/errors.md");
        let text = std::fs::read_to_string(&path).expect("docs/errors.md");
        let mut updated = String::new();
        let mut rest = text.as_str();
        let mut tables = 0;
        while let Some(at) = rest.find("<!-- catalogue: ") {
            let line_end = at + rest[at..].find('\n').expect("marker line");
            let audience = match rest[at..line_end].split_whitespace().nth(2) {
                Some("participant") => Audience::Participant,
                Some("staff") => Audience::Staff,
                other => panic!("docs/errors.md: unknown catalogue {other:?}"),
            };
            let end = rest.find("<!-- /catalogue -->").expect("<!-- /catalogue -->");
            let expected = catalogue_markdown(audience);
            updated.push_str(&rest[..=line_end]);
            if std::env::var_os("BAOMING_UPDATE_DOCS").is_none() {
                let found = &rest[line_end + 1..end];
                let missing: Vec<&str> =
                    expected.lines().filter(|l| !found.lines().any(|f| f == *l)).collect();
                let extra: Vec<&str> =
                    found.lines().filter(|l| !expected.lines().any(|e| e == *l)).collect();
                assert!(
                    missing.is_empty() && extra.is_empty(),
                    "docs/errors.md is not error::CATALOGUE ({audience:?}).\n\
                     missing:\n{}\nnot in the catalogue:\n{}\n\
                     Run `BAOMING_UPDATE_DOCS=1 cargo nextest run -p baoming-api -E 'test(docs_errors_md)'` to rewrite it.",
                    missing.join("\n"),
                    extra.join("\n")
                );
            }
            updated.push_str(&expected);
            updated.push_str("<!-- /catalogue -->");
            rest = &rest[end + "<!-- /catalogue -->".len()..];
            tables += 1;
        }
        updated.push_str(rest);
        assert_eq!(tables, 2, "docs/errors.md has a participant and a staff catalogue");
        if std::env::var_os("BAOMING_UPDATE_DOCS").is_some() && updated != text {
            std::fs::write(&path, updated).expect("writing docs/errors.md");
        }
    }
}
