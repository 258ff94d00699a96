//! The simulator's shared state and protocol logic, independent of HTTP.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::SentMessage;
use crate::encoding::{
    Rng, base64_standard, base64_url, code_stem, derive_openid, derive_unionid,
    is_well_formed_openid,
};

/// Lifetime of an access token, as WeChat issues them.
pub(crate) const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(7200);
/// Longest token lifetime [`State::set_token_ttl`] accepts (keeps `Instant` arithmetic safe).
const MAX_TOKEN_TTL: Duration = Duration::from_secs(366 * 24 * 3600);
/// WeChat renews a stable token once less than 5 minutes remain (normal mode).
const MAX_RENEWAL_WINDOW: Duration = Duration::from_secs(300);
/// Longest `js_code` accepted; real codes are 32 characters.
const MAX_CODE_LEN: usize = 256;

/// The `errmsg` WeChat answers with for an `errcode` (a `rid` is appended, as WeChat does).
pub(crate) fn errmsg(errcode: i64) -> &'static str {
    match errcode {
        -1 => "system error",
        40001 => "invalid credential, access_token is invalid or not latest",
        40002 => "invalid grant_type",
        40003 => "invalid openid",
        40013 => "invalid appid",
        40029 => "invalid code",
        40037 => "invalid template_id",
        40125 => "invalid appsecret",
        40163 => "code been used",
        40226 => "high risk user",
        41001 => "access_token missing",
        41002 => "appid missing",
        41004 => "appsecret missing",
        41008 => "missing code",
        42001 => "access_token expired",
        43101 => "user refuse to accept the msg",
        45009 => "reach max api daily quota limit",
        45011 => "api minute-quota reach limit  mustslower  retry next minute",
        47001 => "data format error",
        47003 => "argument invalid!",
        _ => "simulated error",
    }
}

/// Everything the simulator remembers; guarded by one mutex.
#[derive(Debug)]
pub(crate) struct State {
    appid: String,
    secret: String,
    rng: Rng,
    used_codes: HashSet<String>,
    login_faults: VecDeque<i64>,
    token_faults: VecDeque<i64>,
    send_faults: VecDeque<i64>,
    /// Every token still known to the platform, with its expiry.
    tokens: HashMap<String, Instant>,
    current_token: Option<String>,
    token_ttl: Duration,
    tokens_issued: usize,
    unionid: bool,
    logins: usize,
    sent: Vec<SentMessage>,
}

impl State {
    pub(crate) fn new(appid: String, secret: String) -> Self {
        Self {
            appid,
            secret,
            rng: Rng::new(),
            used_codes: HashSet::new(),
            login_faults: VecDeque::new(),
            token_faults: VecDeque::new(),
            send_faults: VecDeque::new(),
            tokens: HashMap::new(),
            current_token: None,
            token_ttl: DEFAULT_TOKEN_TTL,
            tokens_issued: 0,
            unionid: false,
            logins: 0,
            sent: Vec::new(),
        }
    }

    fn error(&mut self, errcode: i64) -> Value {
        self.error_with(errcode, errmsg(errcode))
    }

    fn error_with(&mut self, errcode: i64, message: &str) -> Value {
        let bytes = self.rng.next_bytes();
        let rid = format!(
            "{}-{}-{}",
            hex::encode(&bytes[0..4]),
            hex::encode(&bytes[4..8]),
            hex::encode(&bytes[8..12])
        );
        json!({ "errcode": errcode, "errmsg": format!("{message}, rid: {rid}") })
    }

    // ----- faults and inspection -----

    pub(crate) fn push_login_fault(&mut self, errcode: i64) {
        self.login_faults.push_back(errcode);
    }

    pub(crate) fn push_token_fault(&mut self, errcode: i64) {
        self.token_faults.push_back(errcode);
    }

    pub(crate) fn push_send_fault(&mut self, errcode: i64) {
        self.send_faults.push_back(errcode);
    }

    pub(crate) fn sent_messages(&self) -> Vec<SentMessage> {
        self.sent.clone()
    }

    pub(crate) fn tokens_issued(&self) -> usize {
        self.tokens_issued
    }

    pub(crate) fn logins(&self) -> usize {
        self.logins
    }

    pub(crate) fn set_unionid(&mut self, enabled: bool) {
        self.unionid = enabled;
    }

    pub(crate) fn set_token_ttl(&mut self, ttl: Duration) {
        self.token_ttl = ttl.clamp(Duration::from_secs(1), MAX_TOKEN_TTL);
    }

    pub(crate) fn expire_tokens(&mut self) {
        let now = Instant::now();
        for expiry in self.tokens.values_mut() {
            *expiry = now;
        }
    }

    // ----- GET /sns/jscode2session -----

    pub(crate) fn login(&mut self, query: &HashMap<String, String>) -> Value {
        if let Some(errcode) = self.login_faults.pop_front() {
            return self.error(errcode);
        }
        let param = |name: &str| query.get(name).map(String::as_str).unwrap_or("");
        let appid = param("appid");
        if appid.is_empty() {
            return self.error(41002);
        }
        if appid != self.appid {
            return self.error(40013);
        }
        let secret = param("secret");
        if secret.is_empty() {
            return self.error(41004);
        }
        if secret != self.secret {
            return self.error(40125);
        }
        if param("grant_type") != "authorization_code" {
            return self.error(40002);
        }
        let js_code = param("js_code");
        if js_code.is_empty() {
            return self.error(41008);
        }
        if let Some(errcode) = requested_error(js_code) {
            return self.error(errcode);
        }
        let stem = code_stem(js_code);
        if stem.is_empty() || js_code.len() > MAX_CODE_LEN {
            return self.error(40029);
        }
        if !self.used_codes.insert(js_code.to_owned()) {
            return self.error(40163);
        }
        self.logins += 1;
        let openid = derive_openid(&self.appid, stem);
        let session_key = base64_standard(&self.rng.next_bytes()[..16]);
        let mut reply = json!({ "session_key": session_key, "openid": openid });
        if self.unionid
            && let Some(object) = reply.as_object_mut()
        {
            object.insert("unionid".to_owned(), Value::String(derive_unionid(stem)));
        }
        reply
    }

    // ----- POST /cgi-bin/stable_token -----

    pub(crate) fn stable_token(&mut self, body: &[u8]) -> Value {
        if let Some(errcode) = self.token_faults.pop_front() {
            return self.error(errcode);
        }
        let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
            return self.error(47001);
        };
        let text = |name: &str| request.get(name).and_then(Value::as_str).unwrap_or("");
        if text("grant_type") != "client_credential" {
            return self.error(40002);
        }
        let appid = text("appid");
        if appid.is_empty() {
            return self.error(41002);
        }
        if appid != self.appid {
            return self.error(40013);
        }
        let secret = text("secret");
        if secret.is_empty() {
            return self.error(41004);
        }
        if secret != self.secret {
            return self.error(40125);
        }
        let force_refresh = match request.get("force_refresh") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(flag)) => *flag,
            Some(_) => return self.error(47001),
        };

        let now = Instant::now();
        let window = MAX_RENEWAL_WINDOW.min(self.token_ttl / 2);
        if !force_refresh
            && let Some(current) = &self.current_token
            && let Some(expiry) = self.tokens.get(current)
        {
            let remaining = expiry.saturating_duration_since(now);
            if remaining > window {
                return json!({ "access_token": current, "expires_in": remaining.as_secs().max(1) });
            }
        }
        if force_refresh {
            // Forced refresh invalidates every earlier token at once.
            self.tokens.clear();
        } else {
            // Normal mode: earlier tokens stay valid until they expire; forget the long-dead.
            let horizon = self.token_ttl;
            self.tokens.retain(|_, expiry| now.saturating_duration_since(*expiry) < horizon);
        }
        let mut material = self.rng.next_bytes().to_vec();
        material.extend_from_slice(&self.rng.next_bytes());
        let token = base64_url(&material);
        self.tokens.insert(token.clone(), now + self.token_ttl);
        self.current_token = Some(token.clone());
        self.tokens_issued += 1;
        json!({ "access_token": token, "expires_in": self.token_ttl.as_secs() })
    }

    // ----- POST /cgi-bin/message/subscribe/send -----

    pub(crate) fn send(&mut self, query: &HashMap<String, String>, body: &[u8]) -> Value {
        if let Some(errcode) = self.send_faults.pop_front() {
            return self.error(errcode);
        }
        let token = query.get("access_token").map(String::as_str).unwrap_or("");
        if token.is_empty() {
            return self.error(41001);
        }
        match self.tokens.get(token) {
            None => return self.error(40001),
            Some(expiry) if *expiry <= Instant::now() => return self.error(42001),
            Some(_) => {}
        }
        let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
            return self.error(47001);
        };
        match validate_message(&request) {
            Ok(message) => {
                self.sent.push(message);
                json!({ "errcode": 0, "errmsg": "ok" })
            }
            Err((errcode, message)) => self.error_with(errcode, &message),
        }
    }
}

/// The code convention for HTTP-only clients: `err_<errcode>_<anything>` answers `errcode`.
fn requested_error(js_code: &str) -> Option<i64> {
    let rest = js_code.strip_prefix("err_")?;
    let (number, _) = rest.split_once('_')?;
    number.parse::<i64>().ok().filter(|code| *code != 0)
}

type Invalid = (i64, String);

fn invalid(detail: &str) -> Invalid {
    (47003, format!("{} {detail}", errmsg(47003)))
}

fn optional_text(request: &Map<String, Value>, name: &str) -> Result<Option<String>, Invalid> {
    match request.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(invalid(&format!("{name} must be a string"))),
    }
}

fn validate_message(request: &Map<String, Value>) -> Result<SentMessage, Invalid> {
    let touser = request.get("touser").and_then(Value::as_str).unwrap_or("");
    if !is_well_formed_openid(touser) {
        return Err((40003, errmsg(40003).to_owned()));
    }
    let template_id = request.get("template_id").and_then(Value::as_str).unwrap_or("");
    let template_ok = !template_id.is_empty()
        && template_id.len() <= 128
        && template_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !template_ok {
        return Err((40037, errmsg(40037).to_owned()));
    }
    let page = optional_text(request, "page")?;
    if page.as_deref().is_some_and(|p| p.len() > 1024) {
        return Err(invalid("page too long"));
    }
    let miniprogram_state = optional_text(request, "miniprogram_state")?;
    if let Some(state) = &miniprogram_state
        && !matches!(state.as_str(), "developer" | "trial" | "formal")
    {
        return Err(invalid("miniprogram_state invalid"));
    }
    let lang = optional_text(request, "lang")?;
    if let Some(lang) = &lang
        && !matches!(lang.as_str(), "zh_CN" | "en_US" | "zh_HK" | "zh_TW")
    {
        return Err(invalid("lang invalid"));
    }
    let data = match request.get("data") {
        Some(Value::Object(data)) if !data.is_empty() => data,
        _ => return Err(invalid("data is empty")),
    };
    for (key, entry) in data {
        let value = entry.as_object().and_then(|entry| entry.get("value")).and_then(Value::as_str);
        let Some(value) = value else {
            return Err(invalid(&format!("data.{key}.value invalid")));
        };
        if !keyword_value_ok(key, value) {
            return Err(invalid(&format!("data.{key}.value invalid")));
        }
    }
    Ok(SentMessage {
        touser: touser.to_owned(),
        template_id: template_id.to_owned(),
        page,
        data: Value::Object(data.clone()),
        miniprogram_state,
        lang,
    })
}

/// Checks a template keyword value against WeChat's per-type limits; the type is the key
/// without its trailing digits (`thing1` → `thing`). Unknown types only need a value.
fn keyword_value_ok(key: &str, value: &str) -> bool {
    let kind = key.trim_end_matches(|c: char| c.is_ascii_digit());
    let chars = value.chars().count();
    if chars == 0 {
        return false;
    }
    match kind {
        "thing" => chars <= 20,
        "number" => chars <= 32 && value.chars().all(|c| c.is_ascii_digit() || c == '.'),
        "letter" => chars <= 32 && value.chars().all(|c| c.is_ascii_alphabetic()),
        "symbol" => chars <= 5,
        "character_string" => chars <= 32 && value.is_ascii(),
        "phone_number" => chars <= 17,
        "car_number" => chars <= 8,
        "name" => {
            if value.is_ascii() {
                chars <= 20
            } else {
                chars <= 10
            }
        }
        "phrase" => chars <= 5,
        _ => chars <= 200,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requested_errors_parse_negative_and_positive_codes() {
        assert_eq!(requested_error("err_-1_x"), Some(-1));
        assert_eq!(requested_error("err_40029_"), Some(40029));
        assert_eq!(requested_error("err_40029"), None);
        assert_eq!(requested_error("err_abc_x"), None);
        assert_eq!(requested_error("err_0_x"), None);
        assert_eq!(requested_error("user1"), None);
    }

    #[test]
    fn keyword_limits() {
        assert!(keyword_value_ok("thing1", "二十个字以内的事情"));
        assert!(!keyword_value_ok("thing1", &"长".repeat(21)));
        assert!(keyword_value_ok("number01", "12.5"));
        assert!(!keyword_value_ok("number01", "12a"));
        assert!(!keyword_value_ok("phrase3", "超过五个汉字"));
        assert!(!keyword_value_ok("time4", ""));
    }
}
