//! HTTP: the WeChat Pay API v3 endpoints (authenticated, signed) and the simulator-only
//! control endpoints under `/_sim/pay/` (plain JSON, unsigned).

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::crypto::random_hex;
use crate::engine::Core;
use crate::model::{ApiFailure, Faults, SimError};
use crate::state::{Body, Outcome, Reply};

const REFUNDS_PATH: &str = "/v3/refund/domestic/refunds";
const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// Registers the control endpoints (the API itself is the default service, [`v3`]).
pub(crate) fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/_sim/pay/orders/{no}/pay", web::post().to(sim_pay))
        .route("/_sim/pay/orders/{no}/expire", web::post().to(sim_expire))
        .route("/_sim/pay/orders/{no}", web::get().to(sim_order))
        .route("/_sim/pay/refund-requests", web::get().to(sim_refund_requests))
        .route("/_sim/pay/deliveries", web::get().to(sim_deliveries))
        .route("/_sim/pay/notifications", web::get().to(sim_notifications))
        .route("/_sim/pay/faults", web::get().to(sim_faults))
        .route("/_sim/pay/faults", web::post().to(sim_set_faults))
        .route("/_sim/pay/rotate-key", web::post().to(sim_rotate_key))
        .route("/_sim/pay/platform-keys", web::get().to(sim_platform_keys))
        .route("/_sim/pay/bill-date", web::post().to(sim_bill_date));
}

/// Query parameters; the first occurrence of a name wins, an unparsable query is empty.
fn query_params(request: &HttpRequest) -> HashMap<String, String> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(request.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default();
    let mut params = HashMap::new();
    for (name, value) in pairs {
        params.entry(name).or_insert(value);
    }
    params
}

/// Percent-decodes a path segment (`%7C` → `|`); `None` if it is not valid UTF-8 after decoding.
fn decode_segment(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if byte == b'%'
            && let Some(hex) = segment.get(index + 1..index + 3)
            && let Ok(value) = u8::from_str_radix(hex, 16)
        {
            out.push(value);
            index += 3;
            continue;
        }
        out.push(byte);
        index += 1;
    }
    String::from_utf8(out).ok()
}

fn request_id() -> String {
    random_hex(32).to_uppercase()
}

fn status_of(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A response signed as WeChat Pay signs them: `Wechatpay-Timestamp`, `-Nonce`, `-Signature`
/// (over `TIMESTAMP\nNONCE\nBODY\n`), `-Serial` (the current key id) and `Request-ID`.
fn signed(core: &Core, status: u16, body: Option<Vec<u8>>) -> HttpResponse {
    let bytes = body.clone().unwrap_or_default();
    let signature = core.sign(&bytes);
    let mut builder = HttpResponseBuilder::new(status_of(status));
    builder
        .insert_header(("Wechatpay-Timestamp", signature.timestamp))
        .insert_header(("Wechatpay-Nonce", signature.nonce))
        .insert_header(("Wechatpay-Signature", signature.signature))
        .insert_header(("Wechatpay-Serial", signature.serial))
        .insert_header(("Request-ID", request_id()));
    match body {
        Some(bytes) => builder.content_type(JSON_CONTENT_TYPE).body(bytes),
        None => builder.finish(),
    }
}

fn signed_error(core: &Core, error: &SimError) -> HttpResponse {
    let body = serde_json::to_vec(&error.body()).unwrap_or_default();
    signed(core, error.status, Some(body))
}

/// The answer of an injected failure: signed, unless it asks to be unsigned.
fn injected_error(core: &Core, failure: &ApiFailure) -> HttpResponse {
    let error =
        SimError::new(failure.status, &failure.code, "模拟的错误 (injected by the simulator)");
    if failure.unsigned {
        return HttpResponseBuilder::new(status_of(error.status))
            .content_type(JSON_CONTENT_TYPE)
            .insert_header(("Request-ID", request_id()))
            .body(serde_json::to_vec(&error.body()).unwrap_or_default());
    }
    signed_error(core, &error)
}

fn respond(core: &Core, result: Result<Reply, SimError>) -> HttpResponse {
    match result {
        Ok(Reply { status, body: Body::Json(value) }) => {
            signed(core, status, Some(serde_json::to_vec(&value).unwrap_or_default()))
        }
        Ok(Reply { status, body: Body::Empty }) => signed(core, status, None),
        // Bill files are not signed (the only unsigned v3 answer).
        Ok(Reply { status, body: Body::File(bytes) }) => {
            HttpResponseBuilder::new(status_of(status))
                .content_type("application/octet-stream")
                .insert_header(("Request-ID", request_id()))
                .body(bytes)
        }
        Err(error) => signed_error(core, &error),
    }
}

/// Every request that is not a control endpoint: the WeChat Pay API v3.
pub(crate) async fn v3(
    core: web::Data<Core>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let core = core.into_inner();
    let path = request.path().to_owned();
    if !path.starts_with("/v3/") {
        return HttpResponse::NotFound()
            .json(json!({ "code": "NOT_FOUND", "message": "not a WeChat Pay API v3 path" }));
    }
    let url = request.uri().path_and_query().map_or(path.as_str(), |pq| pq.as_str());
    let header = request.headers().get("Authorization").and_then(|value| value.to_str().ok());
    let now = Utc::now().timestamp();
    if let Err(message) = core.authenticate(request.method().as_str(), url, header, &body, now) {
        tracing::info!(%path, %message, "request refused: SIGN_ERROR");
        return signed_error(&core, &SimError::new(401, "SIGN_ERROR", message));
    }
    if request.method() == Method::POST && path == REFUNDS_PATH {
        core.lock().count_refund_request(&body);
    }
    let failure = core.lock().take_failure(&path);
    if let Some(failure) = &failure
        && !failure.after_processing
    {
        tracing::info!(%path, code = %failure.code, "answering an injected error");
        return injected_error(&core, failure);
    }
    let outcome = handle(&core, &request, &path, &body);
    let result = match outcome {
        Ok((reply, effects)) => {
            core.apply(effects);
            Ok(reply)
        }
        Err(error) => Err(error),
    };
    if let Some(failure) = failure {
        tracing::info!(%path, code = %failure.code, "processed, then answering an injected error");
        return injected_error(&core, &failure);
    }
    respond(&core, result)
}

fn handle(core: &Arc<Core>, request: &HttpRequest, path: &str, body: &[u8]) -> Outcome {
    let method = request.method();
    let now = Utc::now();
    if *method == Method::POST && !body.is_empty() {
        let content_type = request
            .headers()
            .get("Content-Type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        if !content_type.to_ascii_lowercase().starts_with("application/json") {
            return Err(SimError::new(
                400,
                "INVALID_REQUEST",
                "Content-Type 须为 application/json",
            ));
        }
    }
    let query = query_params(request);
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let not_found =
        || SimError::new(404, "NOT_FOUND", "请求的资源不存在 (no such API in the simulator)");
    let bad_segment = || SimError::new(400, "PARAM_ERROR", "路径参数格式不正确");
    match (method.as_str(), segments.as_slice()) {
        ("POST", ["v3", "pay", "transactions", "jsapi"]) => core.lock().create_jsapi(body, now),
        ("GET", ["v3", "pay", "transactions", "out-trade-no", no]) => {
            let no = decode_segment(no).ok_or_else(bad_segment)?;
            core.lock().query_order(&no, &query, now)
        }
        ("GET", ["v3", "pay", "transactions", "id", id]) => {
            let id = decode_segment(id).ok_or_else(bad_segment)?;
            core.lock().query_transaction(&id, &query, now)
        }
        ("POST", ["v3", "pay", "transactions", "out-trade-no", no, "close"]) => {
            let no = decode_segment(no).ok_or_else(bad_segment)?;
            core.lock().close(&no, body, now)
        }
        ("POST", ["v3", "refund", "domestic", "refunds"]) => core.lock().create_refund(body, now),
        ("GET", ["v3", "refund", "domestic", "refunds", no]) => {
            let no = decode_segment(no).ok_or_else(bad_segment)?;
            core.lock().query_refund(&no)
        }
        ("GET", ["v3", "bill", "tradebill"]) => {
            let base = core.base_url();
            core.lock().trade_bill(&query, now, &base)
        }
        ("GET", ["v3", "billdownload", "file"]) => core.lock().download_bill(&query, now),
        _ => Err(not_found()),
    }
}

// ----- control endpoints -----

fn control_error(error: &SimError) -> HttpResponse {
    HttpResponseBuilder::new(status_of(error.status)).json(error.body())
}

fn control<T: serde::Serialize>(result: Result<T, SimError>) -> HttpResponse {
    match result {
        Ok(value) => HttpResponse::Ok().json(value),
        Err(error) => control_error(&error),
    }
}

/// Parses a control body; an empty body reads as `{}`.
fn control_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, SimError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { body };
    serde_json::from_slice(body)
        .map_err(|error| SimError::new(400, "PARAM_ERROR", format!("bad control body: {error}")))
}

async fn sim_pay(core: web::Data<Core>, no: web::Path<String>) -> HttpResponse {
    control(core.into_inner().pay(&no))
}

async fn sim_expire(core: web::Data<Core>, no: web::Path<String>) -> HttpResponse {
    control(
        core.expire_order(&no)
            .map(|()| json!({ "out_trade_no": no.as_str(), "trade_state": "CLOSED" })),
    )
}

async fn sim_order(core: web::Data<Core>, no: web::Path<String>) -> HttpResponse {
    control(core.order(&no))
}

async fn sim_refund_requests(core: web::Data<Core>) -> HttpResponse {
    HttpResponse::Ok().json(core.refund_requests())
}

async fn sim_deliveries(core: web::Data<Core>) -> HttpResponse {
    HttpResponse::Ok().json(core.deliveries())
}

async fn sim_notifications(core: web::Data<Core>) -> HttpResponse {
    HttpResponse::Ok().json(core.notifications())
}

async fn sim_faults(core: web::Data<Core>) -> HttpResponse {
    HttpResponse::Ok().json(core.faults())
}

async fn sim_set_faults(core: web::Data<Core>, body: web::Bytes) -> HttpResponse {
    let result =
        control_body::<Faults>(&body).and_then(|faults| core.into_inner().set_faults(faults));
    control(result)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateBody {
    #[serde(default)]
    pub_key_id: Option<String>,
}

async fn sim_rotate_key(core: web::Data<Core>, body: web::Bytes) -> HttpResponse {
    let result = control_body::<RotateBody>(&body)
        .and_then(|rotate| core.rotate_key(rotate.pub_key_id.as_deref()));
    control(result)
}

async fn sim_platform_keys(core: web::Data<Core>) -> HttpResponse {
    let current = core.current_key_id();
    let keys: Vec<Value> = core
        .platform_public_keys()
        .into_iter()
        .map(|(id, pem)| json!({ "pub_key_id": id, "public_key_pem": pem, "current": id == current }))
        .collect();
    HttpResponse::Ok().json(keys)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BillDateBody {
    #[serde(default)]
    date: Option<String>,
}

async fn sim_bill_date(core: web::Data<Core>, body: web::Bytes) -> HttpResponse {
    let result = control_body::<BillDateBody>(&body).and_then(|body| {
        let date = match body.date {
            None => None,
            Some(text) => Some(NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| {
                SimError::new(400, "PARAM_ERROR", "date must be YYYY-MM-DD (or null to clear)")
            })?),
        };
        core.set_bill_date(date);
        Ok(json!({ "bill_date": date.map(|d| d.to_string()) }))
    });
    control(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_segments() {
        assert_eq!(decode_segment("a%7Cb").as_deref(), Some("a|b"));
        assert_eq!(decode_segment("plain_1").as_deref(), Some("plain_1"));
        assert_eq!(decode_segment("bad%zz").as_deref(), Some("bad%zz"));
        assert_eq!(decode_segment("%").as_deref(), Some("%"));
        assert_eq!(decode_segment("%ff"), None);
    }
}
