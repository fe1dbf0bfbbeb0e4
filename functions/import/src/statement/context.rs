//! The rows filled from the context: `cookie`, `tanet_info` and `event_info`.

use chrono::NaiveDateTime;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{
    MappingRules, Rejection, VIDEO_EXTENSION_PREFIX, key_hash, reject,
    values::{check_json_column, cut, opt, optional_str, take_text},
};

#[derive(Debug, Clone, PartialEq)]
pub struct CookieRow {
    pub id: u64,
    pub session_id: Option<String>,
    pub cookie_id: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TanetRow {
    pub id: u64,
    pub client_ip: Option<String>,
    pub region: Option<String>,
    pub school_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventInfoRow {
    pub platform: Option<String>,
    pub language: Option<String>,
    pub registration: Option<String>,
    pub event_time: Option<NaiveDateTime>,
    pub stored_time: Option<NaiveDateTime>,
    pub version: Option<String>,
    pub context_activities: Option<Value>,
    pub extensions: Option<Value>,
}

/// `client_ip` is rejected when longer (an address cut short is another address); the
/// other texts here are cut to their columns.
const MAX_CLIENT_IP: usize = 45;

/// The parts of a statement's context that the mapping takes apart.
#[derive(Debug, Default)]
pub(super) struct Context {
    /// `context` without its extensions.
    pub context: Map<String, Value>,
    /// `context.extensions`; mapped ones are taken out, the rest go to `event_info`.
    pub extensions: Map<String, Value>,
}

impl Context {
    /// Takes `context` out of the statement.
    pub(super) fn take(statement: &mut Map<String, Value>) -> Result<Self, Rejection> {
        let mut context = match statement.remove("context") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(c)) => c,
            Some(_) => return reject("context is not an object"),
        };
        let extensions =
            super::values::take_object(&mut context, "extensions", "context.extensions")?;
        Ok(Self {
            context,
            extensions,
        })
    }
}

/// The ids of the `parent` or `grouping` activities of `context`.
pub(super) fn activity_ids(context: &Map<String, Value>, kind: &str) -> Vec<String> {
    let Some(Value::Object(activities)) = context.get("contextActivities") else {
        return Vec::new();
    };
    let ids = |v: &Value| v.get("id").and_then(Value::as_str).map(str::to_owned);
    match activities.get(kind) {
        Some(Value::Array(list)) => list.iter().filter_map(ids).collect(),
        Some(single @ Value::Object(_)) => ids(single).into_iter().collect(),
        _ => Vec::new(),
    }
}

/// The `cookie` row from the session extensions, if there is any.
pub(super) fn map_cookie(
    ext: &mut Map<String, Value>,
    rules: &MappingRules,
) -> Result<Option<CookieRow>, Rejection> {
    let video = |name: &str| format!("{VIDEO_EXTENSION_PREFIX}{name}");
    let session_id = take_text(ext, &rules.session_extension, "session id")?;
    let video_session = take_text(ext, &video("session-id"), "video session id")?;
    let cookie_id = take_text(ext, &rules.cookie_extension, "cookie id")?;
    let user_agent = take_text(ext, &rules.user_agent_extension, "user agent")?;
    let video_agent = take_text(ext, &video("user-agent"), "video user agent")?;
    let session_id = session_id.or(video_session).map(|s| cut(s, 128));
    let cookie_id = cookie_id.map(|s| cut(s, 128));
    let user_agent = user_agent.or(video_agent).map(|s| cut(s, 512));
    if session_id.is_none() && cookie_id.is_none() && user_agent.is_none() {
        return Ok(None);
    }
    Ok(Some(CookieRow {
        id: key_hash(&[opt(&session_id), opt(&cookie_id), opt(&user_agent)]),
        session_id,
        cookie_id,
        user_agent,
    }))
}

/// The `tanet_info` row from the network extensions, if there is any.
pub(super) fn map_tanet(
    ext: &mut Map<String, Value>,
    rules: &MappingRules,
) -> Result<Option<TanetRow>, Rejection> {
    let client_ip = take_text(ext, &rules.client_ip_extension, "client ip")?;
    let region = take_text(ext, &rules.region_extension, "TANet region")?;
    let school_code = take_text(ext, &rules.school_extension, "school code")?;
    if client_ip
        .as_ref()
        .is_some_and(|ip| ip.chars().count() > MAX_CLIENT_IP)
    {
        return reject(format!("client ip longer than {MAX_CLIENT_IP} characters"));
    }
    if client_ip.is_none() && region.is_none() && school_code.is_none() {
        return Ok(None);
    }
    let region = region.map(|s| cut(s, 64));
    let school_code = school_code.map(|s| cut(s, 32));
    Ok(Some(TanetRow {
        id: key_hash(&[opt(&client_ip), opt(&region), opt(&school_code)]),
        client_ip,
        region,
        school_code,
    }))
}

/// Extensions not mapped to a column, kept as `{"context": …, "result": …, "object": …}`.
#[derive(Debug, Default)]
pub(super) struct Leftovers {
    pub context: Map<String, Value>,
    pub result: Map<String, Value>,
    pub object: Map<String, Value>,
}

impl Leftovers {
    /// The `event_info.extensions` value, checked against the JSON column's limits.
    fn into_column(self) -> Result<Option<Value>, Rejection> {
        let mut stored = Map::new();
        for (part, ext) in [
            ("context", self.context),
            ("result", self.result),
            ("object", self.object),
        ] {
            if ext.is_empty() {
                continue;
            }
            let ext = Value::Object(ext);
            // The column wraps each part's map in one more object.
            check_json_column(&ext, 1, &format!("{part} extensions"))?;
            stored.insert(part.into(), ext);
        }
        Ok((!stored.is_empty()).then_some(Value::Object(stored)))
    }
}

/// The `event_info` row. `timestamp` and `stored` are already checked.
pub(super) fn map_event_info(
    statement: &Map<String, Value>,
    mut context: Map<String, Value>,
    leftovers: Leftovers,
    timestamp: Option<NaiveDateTime>,
    stored: Option<NaiveDateTime>,
) -> Result<EventInfoRow, Rejection> {
    let registration = match context.get("registration") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match Uuid::parse_str(s) {
            Ok(u) => Some(u.hyphenated().to_string()),
            Err(_) => return reject(format!("context.registration {s:?} is not a UUID")),
        },
        Some(_) => return reject("context.registration is not a string"),
    };
    let context_activities = context.remove("contextActivities").filter(|v| !v.is_null());
    if let Some(activities) = &context_activities {
        check_json_column(activities, 0, "context.contextActivities")?;
    }
    Ok(EventInfoRow {
        platform: optional_str(&context, "platform", "context.platform")?.map(|s| cut(s, 255)),
        language: optional_str(&context, "language", "context.language")?.map(|s| cut(s, 35)),
        registration,
        event_time: timestamp,
        stored_time: stored,
        version: optional_str(statement, "version", "version")?.map(|s| cut(s, 16)),
        context_activities,
        extensions: leftovers.into_column()?,
    })
}
