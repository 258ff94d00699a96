//! Subscribe messages (订阅消息) telling a participant their registration moved: approved,
//! rejected (with the reason), paid, closed by a deadline; a refund approved, refused (with the
//! reason), made, or failed at WeChat Pay; and that their admission ticket is ready.

use baoming_domain::ids::RegistrationId;
use baoming_store::jobs::{self, Claimed, Notice};
use baoming_store::{DbConnection, StoreError, participants, periods, registrations};
use baoming_wechat::{SubscribeMessage, WechatError};
use chrono::Utc;

use crate::handlers::{JobError, Services};

/// WeChat's limit for a `thing` keyword, in characters.
const THING_CHARS: usize = 20;

fn thing(text: &str) -> String {
    if text.chars().count() <= THING_CHARS {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(THING_CHARS - 1).collect();
        cut.push('…');
        cut
    }
}

/// The message of a notice: (status ≤ 5 characters, note).
fn wording(notice: Notice, reason: Option<&str>) -> (&'static str, String) {
    match notice {
        Notice::Approved => ("审核通过", "请在缴费截止前完成缴费".to_owned()),
        Notice::Rejected => ("审核未通过", reason.unwrap_or("请查看原因后重新报名").to_owned()),
        Notice::Paid => ("缴费成功", "请按时到考点扫码报到".to_owned()),
        Notice::Closed => ("报名关闭", "未在规定时间内完成审核或缴费".to_owned()),
        Notice::RefundApproved => ("退款通过", "报名费将退回原支付账户，请留意到账".to_owned()),
        Notice::RefundDenied => {
            ("退款未通过", reason.unwrap_or("请查看原因，仍可按时报到参加考试").to_owned())
        }
        Notice::Refunded => ("已退款", "报名费已退回，请留意到账".to_owned()),
        Notice::RefundFailed => ("退款异常", "退款暂未完成，财务人员正在处理".to_owned()),
        Notice::TicketPublished => ("已发准考证", "请在“我的考试”中查看并保存准考证".to_owned()),
    }
}

/// Sends the notice of the change that made the registration's `version`. A participant who
/// did not subscribe (43101) is a normal outcome, not a failure; a notice without a
/// configured template is skipped.
pub fn send(
    conn: &mut DbConnection,
    claimed: &Claimed,
    registration: RegistrationId,
    notice: Notice,
    version: i32,
    services: &Services,
) -> Result<(), JobError> {
    let templates = &services.templates;
    let template = match notice {
        Notice::Approved => &templates.approved,
        Notice::Rejected => &templates.rejected,
        Notice::Paid => &templates.paid,
        Notice::Closed => &templates.closed,
        Notice::RefundApproved => &templates.refund_approved,
        Notice::RefundDenied => &templates.refund_denied,
        Notice::Refunded => &templates.refunded,
        Notice::RefundFailed => &templates.refund_failed,
        Notice::TicketPublished => &templates.ticket_published,
    };
    let Some(template) = template.as_deref().filter(|t| !t.is_empty()) else {
        tracing::info!(?notice, "no subscribe-message template configured: not sent");
        return Ok(jobs::complete(conn, claimed, Utc::now())?);
    };
    let r = registrations::get(conn, registration)?;
    let openid = participants::openid(conn, r.participant)?;
    let period = periods::detail(conn, r.period)?;
    // The reason of a refusal is the one given with that change (the event log's row).
    let refusal_reason = match notice {
        Notice::RefundDenied => registrations::history(conn, registration)?
            .into_iter()
            .find(|e| e.version == version)
            .and_then(|e| e.reason),
        _ => r.rejection_reason.clone(),
    };
    let (status, note) = wording(notice, refusal_reason.as_deref());
    let mut message = SubscribeMessage::new(openid, template);
    message.page = Some(format!("pages/registration/detail?id={registration}"));
    message.data.insert("thing1".into(), thing(&period.name));
    message.data.insert("phrase2".into(), status.chars().take(5).collect());
    message.data.insert("thing3".into(), thing(&note));
    match services.runtime.block_on(services.wechat.send_subscribe_message(&message)) {
        Ok(()) => {}
        Err(WechatError::UserRefused) => {
            tracing::info!(?notice, "the participant has not subscribed (43101): not sent");
        }
        Err(e) => {
            return Err(JobError::Failed(format!(
                "sending the subscribe message: {e} (retryable: {})",
                e.is_retryable()
            )));
        }
    }
    jobs::complete(conn, claimed, Utc::now()).map_err(|e: StoreError| e.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_things_are_cut_to_wechats_limit() {
        assert_eq!(thing("短"), "短");
        let long = "二〇二六年第三期全国监理工程师职业资格考试考前培训班";
        let cut = thing(long);
        assert_eq!(cut.chars().count(), THING_CHARS);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn statuses_fit_a_phrase() {
        for notice in Notice::ALL {
            assert!(wording(notice, None).0.chars().count() <= 5, "{notice:?}");
            assert!(!wording(notice, None).1.is_empty(), "{notice:?}");
        }
        assert_eq!(wording(Notice::Rejected, Some("照片不是白底")).1, "照片不是白底");
        assert_eq!(
            wording(Notice::RefundDenied, Some("已过退款期限")),
            ("退款未通过", "已过退款期限".into())
        );
    }
}
