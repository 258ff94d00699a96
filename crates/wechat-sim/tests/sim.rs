//! The simulator over real HTTP, driven with reqwest as any client would.

use std::net::SocketAddr;
use std::time::Duration;

use baoming_wechat_sim::{SimConfig, Simulator, start, start_in_background};
use serde_json::{Value, json};

const APPID: &str = "wx1234567890abcdef";
const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn config() -> SimConfig {
    SimConfig { appid: APPID.to_owned(), secret: SECRET.to_owned() }
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

async fn sim() -> Simulator {
    start(loopback(), config()).await.expect("simulator starts")
}

async fn get_json(url: String) -> Value {
    let response = reqwest::get(url).await.expect("request");
    assert_eq!(response.status(), 200);
    let body = response.bytes().await.expect("body");
    serde_json::from_slice(&body).expect("JSON body")
}

async fn post_json(url: String, body: &Value) -> Value {
    let response = reqwest::Client::new().post(url).json(body).send().await.expect("request");
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON body")
}

async fn login_with(sim: &Simulator, appid: &str, secret: &str, code: &str) -> Value {
    let mut url =
        reqwest::Url::parse(&format!("{}/sns/jscode2session", sim.base_url())).expect("url");
    url.query_pairs_mut()
        .append_pair("appid", appid)
        .append_pair("secret", secret)
        .append_pair("js_code", code)
        .append_pair("grant_type", "authorization_code");
    get_json(url.to_string()).await
}

async fn login(sim: &Simulator, code: &str) -> Value {
    login_with(sim, APPID, SECRET, code).await
}

async fn token(sim: &Simulator, force_refresh: bool) -> Value {
    let body = json!({
        "grant_type": "client_credential",
        "appid": APPID,
        "secret": SECRET,
        "force_refresh": force_refresh,
    });
    post_json(format!("{}/cgi-bin/stable_token", sim.base_url()), &body).await
}

async fn send(sim: &Simulator, access_token: &str, body: &Value) -> Value {
    let mut url =
        reqwest::Url::parse(&format!("{}/cgi-bin/message/subscribe/send", sim.base_url()))
            .expect("url");
    url.query_pairs_mut().append_pair("access_token", access_token);
    post_json(url.to_string(), body).await
}

fn errcode(reply: &Value) -> i64 {
    reply["errcode"].as_i64().unwrap_or(0)
}

fn text(reply: &Value, name: &str) -> String {
    reply[name].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn login_gives_stable_openid_per_stem() {
    let sim = sim().await;
    let first = login(&sim, "user1").await;
    let again = login(&sim, "user1#2").await;
    let dotted = login(&sim, "user1.phone").await;
    let other = login(&sim, "user2").await;

    let openid = text(&first, "openid");
    assert_eq!(openid.len(), 28, "{first}");
    assert!(openid.starts_with('o'));
    assert_eq!(openid, text(&again, "openid"));
    assert_eq!(openid, text(&dotted, "openid"));
    assert_ne!(openid, text(&other, "openid"));
    assert!(first.get("unionid").is_none());
    assert!(first.get("errcode").is_none());

    let key = text(&first, "session_key");
    assert_eq!(key.len(), 24);
    assert_ne!(key, text(&again, "session_key"));
    assert_eq!(sim.logins(), 4);
}

#[tokio::test]
async fn login_is_served_as_text_plain_like_wechat() {
    let sim = sim().await;
    let url = format!(
        "{}/sns/jscode2session?appid={APPID}&secret={SECRET}&js_code=u&grant_type=authorization_code",
        sim.base_url()
    );
    let response = reqwest::get(url).await.expect("request");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
}

#[tokio::test]
async fn openid_is_stable_across_simulator_restarts() {
    let first = sim().await;
    let before = text(&login(&first, "alice").await, "openid");
    first.stop().await;
    let second = sim().await;
    let after = text(&login(&second, "alice.again").await, "openid");
    assert_eq!(before, after);
}

#[tokio::test]
async fn unionid_when_enabled() {
    let sim = sim().await;
    sim.set_unionid(true);
    let a = login(&sim, "bob").await;
    let b = login(&sim, "bob#1").await;
    let unionid = text(&a, "unionid");
    assert_eq!(unionid.len(), 28);
    assert_eq!(unionid, text(&b, "unionid"));
    assert_ne!(unionid, text(&a, "openid"));
}

#[tokio::test]
async fn codes_are_single_use() {
    let sim = sim().await;
    assert_eq!(errcode(&login(&sim, "carol").await), 0);
    let reused = login(&sim, "carol").await;
    assert_eq!(errcode(&reused), 40163);
    assert!(text(&reused, "errmsg").starts_with("code been used"));
    // A different code for the same person still works.
    assert_eq!(errcode(&login(&sim, "carol#2").await), 0);
}

#[tokio::test]
async fn errors_on_demand_by_code_convention() {
    let sim = sim().await;
    for code in [-1, 40029, 45011, 40226] {
        let reply = login(&sim, &format!("err_{code}_x")).await;
        assert_eq!(errcode(&reply), code, "{reply}");
        assert!(reply.get("openid").is_none());
    }
    // An error answer does not use the code up.
    assert_eq!(errcode(&login(&sim, "err_40029_x").await), 40029);
    assert_eq!(sim.logins(), 0);
}

#[tokio::test]
async fn errors_on_demand_by_method_are_queued() {
    let sim = sim().await;
    sim.fail_next_login(-1);
    sim.fail_next_login(45011);
    let busy = login(&sim, "dave").await;
    assert_eq!(errcode(&busy), -1);
    assert!(text(&busy, "errmsg").starts_with("system error, rid: "));
    assert_eq!(errcode(&login(&sim, "dave").await), 45011);
    // The code was not used by the failed attempts.
    assert_eq!(errcode(&login(&sim, "dave").await), 0);
}

#[tokio::test]
async fn login_checks_credentials_and_parameters() {
    let sim = sim().await;
    assert_eq!(errcode(&login_with(&sim, "wxother", SECRET, "e").await), 40013);
    assert_eq!(errcode(&login_with(&sim, APPID, "wrong", "e").await), 40125);
    assert_eq!(errcode(&login_with(&sim, "", SECRET, "e").await), 41002);
    assert_eq!(errcode(&login_with(&sim, APPID, "", "e").await), 41004);
    assert_eq!(errcode(&login_with(&sim, APPID, SECRET, "").await), 41008);
    assert_eq!(errcode(&login_with(&sim, APPID, SECRET, "#x").await), 40029);

    let no_grant =
        format!("{}/sns/jscode2session?appid={APPID}&secret={SECRET}&js_code=e", sim.base_url());
    assert_eq!(errcode(&get_json(no_grant).await), 40002);
    let nothing = format!("{}/sns/jscode2session", sim.base_url());
    assert_eq!(errcode(&get_json(nothing).await), 41002);
    // None of the failures used the code `e`.
    assert_eq!(errcode(&login(&sim, "e").await), 0);
}

#[tokio::test]
async fn stable_token_is_cached_until_forced() {
    let sim = sim().await;
    let first = token(&sim, false).await;
    let access_token = text(&first, "access_token");
    assert!(!access_token.is_empty(), "{first}");
    assert_eq!(first["expires_in"], 7200);
    let second = token(&sim, false).await;
    assert_eq!(text(&second, "access_token"), access_token);
    assert!(second["expires_in"].as_u64().unwrap_or(0) > 7000);
    assert_eq!(sim.tokens_issued(), 1);

    let forced = token(&sim, true).await;
    let new_token = text(&forced, "access_token");
    assert_ne!(new_token, access_token);
    assert_eq!(sim.tokens_issued(), 2);

    // The forced refresh invalidated the old token.
    let message = valid_message(&text(&login(&sim, "erin").await, "openid"));
    assert_eq!(errcode(&send(&sim, &access_token, &message).await), 40001);
    assert_eq!(errcode(&send(&sim, &new_token, &message).await), 0);
}

#[tokio::test]
async fn expired_tokens_answer_42001_and_are_renewed() {
    let sim = sim().await;
    let old = text(&token(&sim, false).await, "access_token");
    sim.expire_tokens();
    let openid = text(&login(&sim, "frank").await, "openid");
    let message = valid_message(&openid);
    assert_eq!(errcode(&send(&sim, &old, &message).await), 42001);
    let renewed = text(&token(&sim, false).await, "access_token");
    assert_ne!(renewed, old);
    assert_eq!(errcode(&send(&sim, &renewed, &message).await), 0);
}

#[tokio::test]
async fn short_lived_tokens_renew_inside_the_window() {
    let sim = sim().await;
    sim.set_token_ttl(Duration::from_secs(2));
    let first = token(&sim, false).await;
    assert_eq!(first["expires_in"], 2);
    // The renewal window is half of a 2 s lifetime (5 minutes of a real 7200 s one).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = token(&sim, false).await;
    let old = text(&first, "access_token");
    assert_ne!(text(&second, "access_token"), old);
    // In normal mode the old token stays valid until it expires.
    let openid = text(&login(&sim, "kim").await, "openid");
    assert_eq!(errcode(&send(&sim, &old, &valid_message(&openid)).await), 0);
}

#[tokio::test]
async fn stable_token_checks_credentials() {
    let sim = sim().await;
    let url = format!("{}/cgi-bin/stable_token", sim.base_url());
    let wrong_secret = json!({"grant_type": "client_credential", "appid": APPID, "secret": "x"});
    assert_eq!(errcode(&post_json(url.clone(), &wrong_secret).await), 40125);
    let wrong_appid = json!({"grant_type": "client_credential", "appid": "wx0", "secret": SECRET});
    assert_eq!(errcode(&post_json(url.clone(), &wrong_appid).await), 40013);
    let wrong_grant = json!({"grant_type": "password", "appid": APPID, "secret": SECRET});
    assert_eq!(errcode(&post_json(url.clone(), &wrong_grant).await), 40002);
    let not_json = reqwest::Client::new()
        .post(url)
        .body("grant_type=client_credential")
        .send()
        .await
        .expect("request")
        .json::<Value>()
        .await
        .expect("JSON");
    assert_eq!(errcode(&not_json), 47001);
    sim.fail_next_token(-1);
    assert_eq!(errcode(&token(&sim, false).await), -1);
    assert_eq!(sim.tokens_issued(), 0);
    assert_eq!(errcode(&token(&sim, false).await), 0);
    assert_eq!(sim.tokens_issued(), 1);
}

fn valid_message(openid: &str) -> Value {
    json!({
        "touser": openid,
        "template_id": "TEMPLATE_id-1",
        "page": "pages/registration/detail?id=42",
        "data": {
            "thing1": {"value": "城市马拉松"},
            "phrase2": {"value": "报名成功"},
            "time3": {"value": "2025-05-01 08:00"}
        },
        "miniprogram_state": "trial",
        "lang": "zh_CN"
    })
}

#[tokio::test]
async fn subscribe_messages_are_recorded() {
    let sim = sim().await;
    let openid = text(&login(&sim, "grace").await, "openid");
    let access_token = text(&token(&sim, false).await, "access_token");
    let reply = send(&sim, &access_token, &valid_message(&openid)).await;
    assert_eq!(reply, json!({"errcode": 0, "errmsg": "ok"}));

    let minimal = json!({
        "touser": openid,
        "template_id": "T2",
        "data": {"character_string1": {"value": "BM-2025-0001"}}
    });
    assert_eq!(errcode(&send(&sim, &access_token, &minimal).await), 0);

    let sent = sim.sent_messages();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].touser, openid);
    assert_eq!(sent[0].template_id, "TEMPLATE_id-1");
    assert_eq!(sent[0].page.as_deref(), Some("pages/registration/detail?id=42"));
    assert_eq!(sent[0].data["thing1"]["value"], "城市马拉松");
    assert_eq!(sent[0].miniprogram_state.as_deref(), Some("trial"));
    assert_eq!(sent[0].lang.as_deref(), Some("zh_CN"));
    assert_eq!(sent[1].page, None);
    assert_eq!(sent[1].lang, None);

    let listed = get_json(format!("{}/_sim/sent_messages", sim.base_url())).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn subscribe_send_rejects_bad_requests() {
    let sim = sim().await;
    let openid = text(&login(&sim, "heidi").await, "openid");
    let access_token = text(&token(&sim, false).await, "access_token");
    let good = valid_message(&openid);

    assert_eq!(errcode(&send(&sim, "", &good).await), 41001);
    assert_eq!(errcode(&send(&sim, "not-a-token", &good).await), 40001);

    let mut bad_user = good.clone();
    bad_user["touser"] = json!("someone");
    assert_eq!(errcode(&send(&sim, &access_token, &bad_user).await), 40003);

    let mut bad_template = good.clone();
    bad_template["template_id"] = json!("");
    assert_eq!(errcode(&send(&sim, &access_token, &bad_template).await), 40037);

    let mut long_thing = good.clone();
    long_thing["data"]["thing1"]["value"] =
        json!("这是一段超过二十个字的事情描述文字内容非常非常长");
    assert_eq!(errcode(&send(&sim, &access_token, &long_thing).await), 47003);

    let mut no_value = good.clone();
    no_value["data"]["thing1"] = json!("bare string");
    assert_eq!(errcode(&send(&sim, &access_token, &no_value).await), 47003);

    let mut bad_state = good.clone();
    bad_state["miniprogram_state"] = json!("production");
    assert_eq!(errcode(&send(&sim, &access_token, &bad_state).await), 47003);

    let mut no_data = good.clone();
    no_data["data"] = json!({});
    assert_eq!(errcode(&send(&sim, &access_token, &no_data).await), 47003);

    let not_json = reqwest::Client::new()
        .post(format!(
            "{}/cgi-bin/message/subscribe/send?access_token={access_token}",
            sim.base_url()
        ))
        .body("{")
        .send()
        .await
        .expect("request")
        .json::<Value>()
        .await
        .expect("JSON");
    assert_eq!(errcode(&not_json), 47001);

    sim.fail_next_send(43101);
    let refused = send(&sim, &access_token, &good).await;
    assert_eq!(errcode(&refused), 43101);
    assert!(sim.sent_messages().is_empty());
    assert_eq!(errcode(&send(&sim, &access_token, &good).await), 0);
}

#[test]
fn background_simulator_serves_synchronous_callers() {
    let sim = start_in_background(loopback(), config()).expect("simulator starts");
    assert!(sim.base_url().starts_with("http://127.0.0.1:"));
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let reply = runtime.block_on(login(&sim, "ivan"));
    assert_eq!(text(&reply, "openid").len(), 28);
    let addr = sim.addr();
    drop(sim);
    // Dropping stopped the server: the port no longer answers.
    let refused = runtime.block_on(async {
        reqwest::Client::new()
            .get(format!("http://{addr}/sns/jscode2session"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
    });
    assert!(refused.is_err());
}

#[tokio::test]
async fn unspecified_bind_address_reports_loopback() {
    let sim = start(SocketAddr::from(([0, 0, 0, 0], 0)), config()).await.expect("simulator starts");
    assert!(sim.addr().ip().is_loopback());
    assert_eq!(errcode(&login(&sim, "judy").await), 0);
}
