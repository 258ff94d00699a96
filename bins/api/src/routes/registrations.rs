//! Registrations (报名) and "My exams" (我的考试).

use actix_web::{HttpRequest, HttpResponse, web};
use baoming_domain::ids::{
    ExamTypeId, InvoiceTitleId, PeriodId, PhotoId, RegionId, RegistrationId, TypedId,
};
use baoming_domain::lifecycle::{Event, Reason, Tab};
use baoming_invoicing::{InvoiceSnapshot, JointInvoiceRemark};
use baoming_store::registrations::{self, NewRegistration};
use baoming_store::{DbConnection, StoreError, invoice_titles};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::path_id;
use super::periods::SubjectChoiceBody;
use super::views::{RegistrationView, view_after, views};
use crate::auth::CurrentParticipant;
use crate::error::{ApiError, ErrorBody, FieldProblem};
use crate::rate_limit::Action;
use crate::state::AppState;

/// The registration form.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationBody {
    /// Period id (ignored on resubmission: the period cannot change).
    pub period_id: String,
    /// Region id.
    pub region_id: String,
    /// Exam type id.
    pub exam_type_id: String,
    /// Subjects with specialties.
    pub subjects: Vec<SubjectChoiceBody>,
    /// A saved invoice title of the caller; its current content is copied into the registration.
    pub invoice_title_id: Option<String>,
    /// 同单位合开发票: share one invoice with colleagues of the same employer.
    #[serde(default)]
    pub joint_invoice: bool,
    /// Who shares the invoice (required with `joint_invoice`).
    pub joint_invoice_remark: Option<String>,
    /// The uploaded ID photo.
    pub photo_id: Option<String>,
}

/// The checked form: ids parsed and the remark checked, one problem per field.
struct Form {
    period: PeriodId,
    region: RegionId,
    exam_type: ExamTypeId,
    subjects: Vec<baoming_domain::period::SubjectChoice>,
    invoice_title: Option<InvoiceTitleId>,
    remark: Option<JointInvoiceRemark>,
    photo: Option<PhotoId>,
}

fn parse_id<T: TypedId>(
    field: &str,
    raw: &str,
    message: &str,
    problems: &mut Vec<FieldProblem>,
) -> Option<T> {
    let parsed = T::parse(raw).ok();
    if parsed.is_none() {
        problems.push(FieldProblem {
            field: field.into(),
            code: "invalid_id".into(),
            message: message.into(),
        });
    }
    parsed
}

fn parse_form(body: RegistrationBody) -> Result<Form, ApiError> {
    let mut problems = Vec::new();
    let p = &mut problems;
    let period = parse_id("period_id", &body.period_id, "请选择期次", p);
    let region = parse_id("region_id", &body.region_id, "请选择地区", p);
    let exam_type = parse_id("exam_type_id", &body.exam_type_id, "请选择考试类型", p);
    let optional = |raw: &Option<String>| {
        raw.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
    };
    let invoice_title = optional(&body.invoice_title_id)
        .map(|raw| parse_id("invoice_title_id", &raw, "发票抬头不存在", p));
    let photo = optional(&body.photo_id).map(|raw| parse_id("photo_id", &raw, "请上传照片", p));
    let remark =
        JointInvoiceRemark::parse_choice(body.joint_invoice, body.joint_invoice_remark.as_deref())
            .map_err(|e| {
                p.push(FieldProblem {
                    field: "joint_invoice_remark".into(),
                    code: e.code().into(),
                    message: e.to_string(),
                })
            })
            .ok()
            .flatten();
    if body.subjects.is_empty() {
        p.push(FieldProblem {
            field: "subjects".into(),
            code: "required".into(),
            message: "请选择报考科目".into(),
        });
    }
    match (period, region, exam_type, invoice_title, photo) {
        (
            Some(period),
            Some(region),
            Some(exam_type),
            invoice_title @ (None | Some(Some(_))),
            photo @ (None | Some(Some(_))),
        ) if problems.is_empty() => Ok(Form {
            period,
            region,
            exam_type,
            subjects: body.subjects.into_iter().map(Into::into).collect(),
            invoice_title: invoice_title.flatten(),
            remark,
            photo: photo.flatten(),
        }),
        _ => Err(ApiError::fields(problems)),
    }
}

/// Resolves the form into the store's registration form (the invoice title snapshotted).
fn resolve(
    conn: &mut DbConnection,
    me: &CurrentParticipant,
    form: Form,
) -> Result<NewRegistration, ApiError> {
    let invoice_snapshot = match form.invoice_title {
        Some(id) => match invoice_titles::get(conn, me.id, id) {
            Ok(saved) => Some(InvoiceSnapshot::from(&saved.title)),
            Err(StoreError::NotFound { .. }) => {
                return Err(ApiError::field(
                    "invoice_title_id",
                    "invoice_title_not_found",
                    "发票抬头不存在",
                ));
            }
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    Ok(NewRegistration {
        participant: me.id,
        period: form.period,
        region: form.region,
        exam_type: form.exam_type,
        subjects: form.subjects,
        invoice_snapshot,
        joint_invoice_remark: form.remark.map(|r| r.as_str().to_owned()),
        photo: form.photo,
    })
}

/// Submits a registration (→ 待审核 / 审核中). The first submission locks name, gender and ID.
#[utoipa::path(
    post,
    path = "/api/v1/registrations",
    tag = "registrations",
    security(("bearer" = [])),
    request_body = RegistrationBody,
    responses(
        (status = 201, body = RegistrationView),
        (status = 401, body = ErrorBody),
        (status = 409, description = "window closed, duplicate registration…", body = ErrorBody),
        (status = 422, description = "bad form: profile, photo, choice", body = ErrorBody),
    )
)]
pub async fn submit(
    state: web::Data<AppState>,
    me: CurrentParticipant,
    body: web::Json<RegistrationBody>,
) -> Result<HttpResponse, ApiError> {
    let form = parse_form(body.into_inner())?;
    let cipher = state.cipher.clone();
    let view = view_after(&state, move |conn| {
        let new = resolve(conn, &me, form)?;
        Ok(registrations::submit(conn, &cipher, &new, &me.ctx())?)
    })
    .await?;
    Ok(HttpResponse::Created().json(view))
}

/// One of the caller's registrations.
#[utoipa::path(
    get,
    path = "/api/v1/registrations/{id}",
    tag = "registrations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "registration id")),
    responses((status = 200, body = RegistrationView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn get(
    state: web::Data<AppState>,
    me: CurrentParticipant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: RegistrationId = path_id(&id)?;
    let view =
        view_after(&state, move |conn| Ok(registrations::get_for_participant(conn, id, me.id)?))
            .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Resubmits a rejected registration with an edited form (重新报名).
#[utoipa::path(
    put,
    path = "/api/v1/registrations/{id}",
    tag = "registrations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "registration id")),
    request_body = RegistrationBody,
    responses(
        (status = 200, body = RegistrationView),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "not rejected, or the window closed", body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn resubmit(
    state: web::Data<AppState>,
    me: CurrentParticipant,
    id: web::Path<String>,
    body: web::Json<RegistrationBody>,
) -> Result<HttpResponse, ApiError> {
    let id: RegistrationId = path_id(&id)?;
    let form = parse_form(body.into_inner())?;
    let view = view_after(&state, move |conn| {
        let new = resolve(conn, &me, form)?;
        Ok(registrations::resubmit(conn, id, &new, &me.ctx())?.registration().clone())
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Withdraws a registration before paying (取消报名).
#[utoipa::path(
    post,
    path = "/api/v1/registrations/{id}/withdraw",
    tag = "registrations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "registration id")),
    responses(
        (status = 200, body = RegistrationView),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "already paid, or a payment is in progress", body = ErrorBody),
        (status = 429, description = "too many calls: `rate_limited`, see `Retry-After`", body = ErrorBody),
    )
)]
pub async fn withdraw(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentParticipant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: RegistrationId = path_id(&id)?;
    state.limits.check(Action::PaymentCheck, Some(&me.id), &req)?;
    // An open WeChat order is asked about first: money already paid is recorded (and the
    // registration is then paid, not withdrawn), and a payment in progress refuses.
    let in_flight = match super::payments::ask_wechat(&state, &me, id).await {
        Ok(paying_now) => paying_now,
        Err(error) if error.status().is_server_error() => {
            // WeChat Pay unreachable: withdraw; the order is closed by the worker, and a
            // payment that still arrives is recorded and refunded.
            tracing::warn!(error = error.message(), "withdrawing without asking WeChat Pay");
            false
        }
        Err(error) => return Err(error),
    };
    let view = view_after(&state, move |conn| {
        Ok(registrations::withdraw(conn, id, in_flight, &me.ctx())?.registration().clone())
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// One tab of "My exams".
#[derive(Debug, Serialize, ToSchema)]
pub struct TabView {
    /// Tab code.
    pub tab: String,
    /// Tab title.
    pub label: String,
    /// Its registrations, newest first.
    pub registrations: Vec<RegistrationView>,
}

/// "My exams": the caller's registrations grouped by tab.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyExams {
    /// The five tabs in display order (empty ones included).
    pub tabs: Vec<TabView>,
}

/// "My exams" (我的考试): every registration of the caller under its tab, with its tag, the
/// rejection reason and the actions allowed now.
#[utoipa::path(
    get,
    path = "/api/v1/my-exams",
    tag = "registrations",
    security(("bearer" = [])),
    responses((status = 200, body = MyExams), (status = 401, body = ErrorBody))
)]
pub async fn my_exams(
    state: web::Data<AppState>,
    me: CurrentParticipant,
) -> Result<HttpResponse, ApiError> {
    let now = state.now();
    let cache = state.periods.clone();
    let all = state
        .db(move |conn| {
            let list = registrations::list_for_participant(conn, me.id)?;
            views(conn, &cache, list, now)
        })
        .await?;
    let mut tabs: Vec<TabView> = Tab::ALL
        .iter()
        .map(|tab| TabView {
            tab: tab.as_str().into(),
            label: tab.label_zh().into(),
            registrations: vec![],
        })
        .collect();
    for view in all {
        if let Some(tab) = tabs.iter_mut().find(|t| t.tab == view.tab) {
            tab.registrations.push(view);
        }
    }
    Ok(HttpResponse::Ok().json(MyExams { tabs }))
}

/// Why the participant asks for the fee back.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequestBody {
    /// The reason (required, at most 500 characters), shown to finance.
    pub reason: String,
}

/// Asks for the fee back (申请退款): a paid registration that was not checked in, before or
/// after the sitting ended (→ 退款审核中); finance decides.
#[utoipa::path(
    post,
    path = "/api/v1/registrations/{id}/refund-request",
    tag = "registrations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "registration id")),
    request_body = RefundRequestBody,
    responses(
        (status = 200, body = RegistrationView),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "not paid, or checked in: the message names the state", body = ErrorBody),
        (status = 422, description = "no reason, or too long", body = ErrorBody),
    )
)]
pub async fn request_refund(
    state: web::Data<AppState>,
    me: CurrentParticipant,
    id: web::Path<String>,
    body: web::Json<RefundRequestBody>,
) -> Result<HttpResponse, ApiError> {
    let id: RegistrationId = path_id(&id)?;
    let reason = Reason::parse(&body.reason)
        .map_err(|e| ApiError::field("reason", "invalid_reason", e.to_string()))?;
    let event = Event::RequestRefund { reason };
    let view = view_after(&state, move |conn| {
        Ok(registrations::apply(conn, id, &event, &me.ctx())?.registration().clone())
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Takes the refund request back (撤回退款申请) while finance has not decided (→ 已支付).
#[utoipa::path(
    delete,
    path = "/api/v1/registrations/{id}/refund-request",
    tag = "registrations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "registration id")),
    responses(
        (status = 200, body = RegistrationView),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "no refund request under review: the message names the state", body = ErrorBody),
    )
)]
pub async fn cancel_refund_request(
    state: web::Data<AppState>,
    me: CurrentParticipant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: RegistrationId = path_id(&id)?;
    let view = view_after(&state, move |conn| {
        let applied = registrations::apply(conn, id, &Event::CancelRefundRequest, &me.ctx())?;
        Ok(applied.registration().clone())
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}
