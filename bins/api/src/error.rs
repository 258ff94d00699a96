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
}

impl ApiError {
    /// A 4xx/5xx with a code and a message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody { code: code.into(), message: message.into(), fields: vec![] },
        }
    }

    /// 422: the form has problems, one per field.
    pub fn fields(fields: Vec<FieldProblem>) -> Self {
        let message =
            fields.first().map_or_else(|| "请检查填写内容".to_owned(), |f| f.message.clone());
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: ErrorBody { code: "validation_failed".into(), message, fields },
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
        HttpResponse::build(self.status).json(&self.body)
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
