//! Subscribe messages (`/cgi-bin/message/subscribe/send`).

use std::collections::BTreeMap;

use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};

/// Which version of the mini-program a message opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MiniprogramState {
    /// The development version.
    Developer,
    /// The trial (体验) version.
    Trial,
    /// The released version (WeChat's default).
    Formal,
}

/// The language the message is shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Lang {
    /// Simplified Chinese (WeChat's default).
    #[serde(rename = "zh_CN")]
    ZhCn,
    /// English.
    #[serde(rename = "en_US")]
    EnUs,
    /// Traditional Chinese (Hong Kong).
    #[serde(rename = "zh_HK")]
    ZhHk,
    /// Traditional Chinese (Taiwan).
    #[serde(rename = "zh_TW")]
    ZhTw,
}

/// One subscribe message. `data` maps template keywords (`thing1`, `time2`, …) to their
/// values and is sent as `{"thing1": {"value": "…"}, …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubscribeMessage {
    /// The recipient's openid.
    pub touser: String,
    /// The subscribe-message template.
    pub template_id: String,
    /// The page the message opens, with query (e.g. `pages/order/detail?id=1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    /// Keyword → value.
    #[serde(serialize_with = "serialize_data")]
    pub data: BTreeMap<String, String>,
    /// The mini-program version to open; WeChat defaults to `formal`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub miniprogram_state: Option<MiniprogramState>,
    /// The language; WeChat defaults to `zh_CN`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lang: Option<Lang>,
}

impl SubscribeMessage {
    /// A message with no page, no data and WeChat's defaults.
    pub fn new(touser: impl Into<String>, template_id: impl Into<String>) -> Self {
        Self {
            touser: touser.into(),
            template_id: template_id.into(),
            page: None,
            data: BTreeMap::new(),
            miniprogram_state: None,
            lang: None,
        }
    }

    /// Sets the page the message opens.
    #[must_use]
    pub fn with_page(mut self, page: impl Into<String>) -> Self {
        self.page = Some(page.into());
        self
    }

    /// Adds (or replaces) a keyword value.
    #[must_use]
    pub fn with_field(mut self, keyword: impl Into<String>, value: impl Into<String>) -> Self {
        self.data.insert(keyword.into(), value.into());
        self
    }

    /// Sets the mini-program version to open.
    #[must_use]
    pub fn with_state(mut self, state: MiniprogramState) -> Self {
        self.miniprogram_state = Some(state);
        self
    }

    /// Sets the language.
    #[must_use]
    pub fn with_lang(mut self, lang: Lang) -> Self {
        self.lang = Some(lang);
        self
    }
}

struct Keyword<'a>(&'a str);

impl Serialize for Keyword<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut object = serializer.serialize_struct("Keyword", 1)?;
        object.serialize_field("value", self.0)?;
        object.end()
    }
}

fn serialize_data<S: Serializer>(
    data: &BTreeMap<String, String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(data.len()))?;
    for (keyword, value) in data {
        map.serialize_entry(keyword, &Keyword(value))?;
    }
    map.end()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_in_wechat_shape() {
        let message = SubscribeMessage::new("oABC", "TPL")
            .with_page("pages/index")
            .with_field("thing1", "马拉松")
            .with_state(MiniprogramState::Trial)
            .with_lang(Lang::ZhCn);
        let json = serde_json::to_value(&message).unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({
                "touser": "oABC",
                "template_id": "TPL",
                "page": "pages/index",
                "data": {"thing1": {"value": "马拉松"}},
                "miniprogram_state": "trial",
                "lang": "zh_CN"
            })
        );
        let bare = serde_json::to_value(SubscribeMessage::new("o", "t")).unwrap_or_default();
        assert_eq!(bare, serde_json::json!({"touser": "o", "template_id": "t", "data": {}}));
    }
}
