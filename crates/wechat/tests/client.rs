//! The client against the WeChat simulator over real HTTP.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use baoming_wechat::{
    Lang, MiniprogramState, SubscribeMessage, WechatClient, WechatConfig, WechatError,
};
use baoming_wechat_sim::{SimConfig, Simulator, start};

const APPID: &str = "wx1234567890abcdef";
const SECRET: &str = "s3cr3t-0123456789abcdef0123456789";

async fn sim() -> Simulator {
    start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        SimConfig { appid: APPID.to_owned(), secret: SECRET.to_owned() },
    )
    .await
    .expect("simulator starts")
}

fn config(base: String) -> WechatConfig {
    WechatConfig {
        api_base: base,
        appid: APPID.to_owned(),
        secret: SECRET.to_owned(),
        timeout: Duration::from_secs(5),
    }
}

fn client(sim: &Simulator) -> WechatClient {
    WechatClient::new(config(sim.base_url())).expect("client")
}

fn message(openid: &str) -> SubscribeMessage {
    SubscribeMessage::new(openid, "TPL_registration_ok")
        .with_page("pages/registration/detail?id=7")
        .with_field("thing1", "城市马拉松")
        .with_field("phrase2", "报名成功")
        .with_state(MiniprogramState::Developer)
        .with_lang(Lang::ZhCn)
}

#[tokio::test]
async fn login_returns_a_stable_openid_per_stem() {
    let sim = sim().await;
    let client = client(&sim);
    let first = client.code_to_session("user1").await.expect("login");
    let again = client.code_to_session("user1#2").await.expect("login");
    let other = client.code_to_session("user2").await.expect("login");
    assert_eq!(first.openid.len(), 28);
    assert_eq!(first.openid, again.openid);
    assert_ne!(first.openid, other.openid);
    assert_eq!(first.unionid, None);
    assert_eq!(first.session_key.expose_secret().len(), 24);
    assert_ne!(first.session_key, again.session_key);
    // The session key never shows in Debug output.
    let debug = format!("{first:?}");
    assert!(debug.contains("SessionKey(…)"), "{debug}");
    assert!(!debug.contains(first.session_key.expose_secret()));
}

#[tokio::test]
async fn login_returns_unionid_when_available() {
    let sim = sim().await;
    sim.set_unionid(true);
    let session = client(&sim).code_to_session("ann").await.expect("login");
    assert_eq!(session.unionid.map(|id| id.len()), Some(28));
}

#[tokio::test]
async fn a_used_code_is_invalid() {
    let sim = sim().await;
    let client = client(&sim);
    client.code_to_session("once").await.expect("login");
    assert_eq!(client.code_to_session("once").await, Err(WechatError::InvalidCode));
}

#[tokio::test]
async fn empty_code_is_refused_without_a_request() {
    let sim = sim().await;
    assert_eq!(client(&sim).code_to_session("").await, Err(WechatError::InvalidCode));
    assert_eq!(sim.logins(), 0);
}

#[tokio::test]
async fn login_error_codes_map_to_variants() {
    let sim = sim().await;
    let client = client(&sim);
    let cases = [
        ("err_-1_a", WechatError::Busy),
        ("err_40029_a", WechatError::InvalidCode),
        ("err_40163_a", WechatError::InvalidCode),
        ("err_45011_a", WechatError::RateLimited),
        ("err_40226_a", WechatError::HighRisk),
    ];
    for (code, expected) in cases {
        assert_eq!(client.code_to_session(code).await, Err(expected), "{code}");
    }
    match client.code_to_session("err_61234_a").await {
        Err(WechatError::Other { errcode, errmsg }) => {
            assert_eq!(errcode, 61234);
            assert!(errmsg.starts_with("simulated error"), "{errmsg}");
        }
        other => panic!("unexpected {other:?}"),
    }

    sim.fail_next_login(-1);
    let busy = client.code_to_session("retry-me").await;
    assert_eq!(busy, Err(WechatError::Busy));
    assert!(busy.err().is_some_and(|e| e.is_retryable()));
    // The busy answer did not use the code: the retry succeeds.
    client.code_to_session("retry-me").await.expect("retry");
}

#[tokio::test]
async fn wrong_secret_is_an_invalid_credential_without_leaking_it() {
    let sim = sim().await;
    let mut config = config(sim.base_url());
    config.secret = "wrong-secret-value".to_owned();
    let client = WechatClient::new(config).expect("client");
    let error = client.code_to_session("x").await.expect_err("refused");
    assert_eq!(error, WechatError::InvalidCredential { errcode: 40125 });
    assert!(!error.is_retryable());
    assert!(!error.to_string().contains("wrong-secret-value"));
    assert_eq!(client.access_token().await, Err(WechatError::InvalidCredential { errcode: 40125 }));
    assert!(!format!("{client:?}").contains("wrong-secret-value"));
}

#[tokio::test]
async fn access_token_is_cached() {
    let sim = sim().await;
    let client = client(&sim);
    let first = client.access_token().await.expect("token");
    for _ in 0..3 {
        assert_eq!(client.access_token().await.expect("token"), first);
    }
    // Clones share the cache.
    assert_eq!(client.clone().access_token().await.expect("token"), first);
    assert_eq!(sim.tokens_issued(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_share_one_refresh() {
    let sim = sim().await;
    let client = client(&sim);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let client = client.clone();
        tasks.spawn(async move { client.access_token().await });
    }
    let mut tokens = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        tokens.push(joined.expect("task").expect("token"));
    }
    tokens.dedup();
    assert_eq!(tokens.len(), 1);
    assert_eq!(sim.tokens_issued(), 1);
}

#[tokio::test]
async fn short_lived_tokens_are_refreshed_early() {
    let sim = sim().await;
    sim.set_token_ttl(Duration::from_secs(2));
    let client = client(&sim);
    let first = client.access_token().await.expect("token");
    // Refreshed after half of a 2 s lifetime (5 minutes early for real 7200 s tokens).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = client.access_token().await.expect("token");
    assert_ne!(first, second);
    assert_eq!(sim.tokens_issued(), 2);
}

#[tokio::test]
async fn token_failure_maps_to_variants() {
    let sim = sim().await;
    let client = client(&sim);
    sim.fail_next_token(-1);
    assert_eq!(client.access_token().await, Err(WechatError::Busy));
    assert!(client.access_token().await.is_ok());
}

#[tokio::test]
async fn subscribe_message_is_recorded() {
    let sim = sim().await;
    let client = client(&sim);
    let openid = client.code_to_session("bob").await.expect("login").openid;
    client.send_subscribe_message(&message(&openid)).await.expect("sent");
    let sent = sim.sent_messages();
    assert_eq!(sent.len(), 1);
    let got = &sent[0];
    assert_eq!(got.touser, openid);
    assert_eq!(got.template_id, "TPL_registration_ok");
    assert_eq!(got.page.as_deref(), Some("pages/registration/detail?id=7"));
    assert_eq!(
        got.data,
        serde_json::json!({
            "thing1": {"value": "城市马拉松"},
            "phrase2": {"value": "报名成功"}
        })
    );
    assert_eq!(got.miniprogram_state.as_deref(), Some("developer"));
    assert_eq!(got.lang.as_deref(), Some("zh_CN"));
}

#[tokio::test]
async fn expired_token_is_renewed_and_the_send_retried_once() {
    let sim = sim().await;
    let client = client(&sim);
    let openid = client.code_to_session("carol").await.expect("login").openid;
    let old = client.access_token().await.expect("token");
    sim.expire_tokens();
    client.send_subscribe_message(&message(&openid)).await.expect("sent after renewal");
    assert_eq!(sim.tokens_issued(), 2);
    assert_eq!(sim.sent_messages().len(), 1);
    assert_ne!(client.access_token().await.expect("token"), old);
}

#[tokio::test]
async fn token_invalidated_elsewhere_is_picked_up_without_another_force_refresh() {
    let sim = sim().await;
    let client = client(&sim);
    let openid = client.code_to_session("dan").await.expect("login").openid;
    let ours = client.access_token().await.expect("token");
    // Another process (say the worker) forces a refresh: our cached token now answers 40001.
    let forced: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/cgi-bin/stable_token", sim.base_url()))
        .json(&serde_json::json!({
            "grant_type": "client_credential",
            "appid": APPID,
            "secret": SECRET,
            "force_refresh": true
        }))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    let theirs = forced["access_token"].as_str().unwrap_or_default().to_owned();
    assert_ne!(theirs, ours);
    assert_eq!(sim.tokens_issued(), 2);
    client.send_subscribe_message(&message(&openid)).await.expect("sent after renewal");
    // The client took the current stable token instead of invalidating it again.
    assert_eq!(sim.tokens_issued(), 2);
    assert_eq!(client.access_token().await.expect("token"), theirs);
    assert_eq!(sim.sent_messages().len(), 1);
}

#[tokio::test]
async fn a_persistent_token_rejection_is_retried_only_once() {
    let sim = sim().await;
    let client = client(&sim);
    let openid = client.code_to_session("erin").await.expect("login").openid;
    sim.fail_next_send(40001);
    sim.fail_next_send(40001);
    assert_eq!(
        client.send_subscribe_message(&message(&openid)).await,
        Err(WechatError::InvalidCredential { errcode: 40001 })
    );
    // The sim still handed out the same (valid) token, so the client forced a refresh.
    assert_eq!(sim.tokens_issued(), 2);
    assert!(sim.sent_messages().is_empty());
}

#[tokio::test]
async fn send_errors_map_to_variants() {
    let sim = sim().await;
    let client = client(&sim);
    let openid = client.code_to_session("frank").await.expect("login").openid;

    sim.fail_next_send(43101);
    let refused = client.send_subscribe_message(&message(&openid)).await;
    assert_eq!(refused, Err(WechatError::UserRefused));
    assert!(refused.err().is_some_and(|e| !e.is_retryable()));

    let too_long = message(&openid).with_field("thing1", "一".repeat(21));
    assert_eq!(client.send_subscribe_message(&too_long).await, Err(WechatError::BadData));
    assert_eq!(
        client.send_subscribe_message(&message("not-an-openid")).await,
        Err(WechatError::InvalidCredential { errcode: 40003 })
    );
    let no_template = SubscribeMessage::new(openid.clone(), "").with_field("thing1", "x");
    assert_eq!(
        client.send_subscribe_message(&no_template).await,
        Err(WechatError::InvalidCredential { errcode: 40037 })
    );
    assert!(sim.sent_messages().is_empty());
    assert_eq!(sim.tokens_issued(), 1);
}

#[tokio::test]
async fn unreachable_base_url_is_a_quick_transport_error() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let client = WechatClient::new(config(format!("http://127.0.0.1:{port}"))).expect("client");
    let started = Instant::now();
    let error = client.code_to_session("x").await.expect_err("no server");
    assert!(matches!(error, WechatError::Transport(_)), "{error:?}");
    assert!(error.is_retryable());
    assert!(started.elapsed() < Duration::from_secs(2));
    let text = error.to_string();
    assert!(!text.contains(SECRET), "{text}");
    assert!(!text.contains("js_code"), "{text}");
}

#[tokio::test]
async fn a_silent_server_times_out_as_transport() {
    // Accepts connections (the kernel backlog does) but never answers.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut config = config(format!("http://{}", listener.local_addr().expect("addr")));
    config.timeout = Duration::from_millis(300);
    let client = WechatClient::new(config).expect("client");
    let started = Instant::now();
    let error = client.access_token().await.expect_err("timeout");
    assert!(matches!(error, WechatError::Transport(_)), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    drop(listener);
}

/// A one-request HTTP server that answers `response` verbatim.
fn canned_server(response: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut buffer = [0_u8; 4096];
            let _ = stream.read(&mut buffer);
            let _ = stream.write_all(response.as_bytes());
        }
    });
    addr
}

#[tokio::test]
async fn gateway_errors_are_transport_and_garbage_is_bad_response() {
    let addr =
        canned_server("HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    let client = WechatClient::new(config(format!("http://{addr}"))).expect("client");
    let error = client.code_to_session("x").await.expect_err("502");
    assert!(matches!(error, WechatError::Transport(_)), "{error:?}");

    let addr = canned_server(
        "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 9\r\nconnection: close\r\n\r\n<html>oops",
    );
    let client = WechatClient::new(config(format!("http://{addr}"))).expect("client");
    let error = client.code_to_session("x").await.expect_err("garbage");
    assert!(matches!(error, WechatError::BadResponse(_)), "{error:?}");

    let addr = canned_server("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}");
    let client = WechatClient::new(config(format!("http://{addr}"))).expect("client");
    let error = client.code_to_session("x").await.expect_err("no openid");
    assert!(matches!(error, WechatError::BadResponse(_)), "{error:?}");
}

#[test]
fn configuration_is_validated() {
    let mut bad_base = config("ftp://example.com".to_owned());
    assert!(matches!(WechatClient::new(bad_base.clone()), Err(WechatError::Config(_))));
    bad_base.api_base = "not a url".to_owned();
    assert!(matches!(WechatClient::new(bad_base), Err(WechatError::Config(_))));
    let mut no_secret = config("https://api.weixin.qq.com/".to_owned());
    no_secret.secret = String::new();
    assert!(matches!(WechatClient::new(no_secret), Err(WechatError::Config(_))));
    let fine = WechatConfig::new(APPID, SECRET);
    let debug = format!("{fine:?}");
    assert!(!debug.contains(SECRET), "{debug}");
    assert!(WechatClient::new(fine).is_ok());
}
