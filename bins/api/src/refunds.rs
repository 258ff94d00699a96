//! Refund results WeChat Pay reports (`REFUND.SUCCESS`, `REFUND.ABNORMAL`, `REFUND.CLOSED`):
//! recorded against our refund, and the registration settled with it.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use baoming_payments::{Notification, RefundStatus, decrypt_refund};
use baoming_store::payments::{self, RefundProgress};
use chrono::Utc;

use crate::state::AppState;

/// What a refund status means for our refund row.
pub fn progress(status: &RefundStatus, provider_refund_id: String) -> RefundProgress {
    match status {
        RefundStatus::Success => RefundProgress::Succeeded { provider_refund_id },
        RefundStatus::Abnormal => RefundProgress::Abnormal { provider_refund_id },
        RefundStatus::Closed => RefundProgress::Closed { provider_refund_id },
        _ => RefundProgress::Processing { provider_refund_id },
    }
}

/// Handles a verified `REFUND.*` notification.
pub async fn notice(state: &AppState, notification: Notification) -> HttpResponse {
    let fail = |status: StatusCode, message: &str| {
        HttpResponse::build(status).json(serde_json::json!({ "code": "FAIL", "message": message }))
    };
    let notice = match decrypt_refund(&state.pay.apiv3_key, &notification) {
        Ok(notice) => notice,
        Err(error) => {
            tracing::warn!(%error, id = %notification.id, "refund notification not decryptable");
            return fail(StatusCode::BAD_REQUEST, "通知无法解密");
        }
    };
    if notice.mchid != state.pay.mchid {
        tracing::error!(out_refund_no = %notice.out_refund_no, "refund notification for another merchant");
        return fail(StatusCode::BAD_REQUEST, "商户号不匹配");
    }
    let progress = progress(&notice.refund_status, notice.refund_id.clone());
    let no = notice.out_refund_no.clone();
    let recorded = state
        .db(move |conn| {
            let refund = payments::refund_by_out_refund_no(conn, &no)?
                .ok_or(baoming_store::StoreError::NotFound { entity: "refund" })?;
            payments::refund_progress(conn, refund.id, &progress, Utc::now())
        })
        .await;
    match recorded {
        Ok(refund) => {
            tracing::info!(refund = %refund.id, state = refund.state.as_str(), "refund notification recorded");
            HttpResponse::NoContent().finish()
        }
        // A refund made in the merchant platform, not by us: nothing to record, and answering
        // an error would only make WeChat Pay retry for a day.
        Err(error) if error.code() == "not_found" => {
            tracing::warn!(out_refund_no = %notice.out_refund_no, "refund notification for a refund we did not make");
            HttpResponse::NoContent().finish()
        }
        Err(error) => {
            tracing::error!(error = %error.message(), "refund notification not recorded; WeChat Pay will retry");
            fail(StatusCode::INTERNAL_SERVER_ERROR, "暂时无法处理")
        }
    }
}
