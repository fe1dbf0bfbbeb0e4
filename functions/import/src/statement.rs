//! One xAPI 1.0.3 statement, validated and mapped to the rows of the nine learning tables.
//!
//! The mapping is documented in `docs/import-format.md`; this module is its executable
//! form. Parsing goes through `serde_json::Value` because real emitters (Moodle, Open edX,
//! DATASIM) differ in which optional parts they send, and every unknown extension must be
//! kept rather than rejected.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use regex::Regex;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The xAPI video profile's extension prefix; its keys map to `video_info`.
pub const VIDEO_EXTENSION_PREFIX: &str = "https://w3id.org/xapi/video/extensions/";

/// How statements map onto columns where xAPI leaves it to the site.
#[derive(Debug, Clone)]
pub struct MappingRules {
    /// Context extension IRI holding the student level (`actor.category`).
    pub level_extension: String,
    /// Context extension IRIs for `cookie`.
    pub session_extension: String,
    pub cookie_extension: String,
    pub user_agent_extension: String,
    /// Context extension IRIs for `tanet_info`.
    pub client_ip_extension: String,
    pub region_extension: String,
    pub school_extension: String,
    /// Result extension IRI holding the speech-assessment sentences.
    pub sentences_extension: String,
    /// Applied to the context parent ids, then grouping ids, then the object id; the first
    /// capture group (or the whole match) is the `course_id`.
    pub course_id_pattern: Regex,
    /// Zone in which a log date is counted.
    pub business_time_zone: Tz,
}

impl MappingRules {
    /// Rules with every site extension under `base` (which should end with `/`).
    pub fn with_base(
        base: &str,
        level_extension: Option<String>,
        course_id_pattern: Regex,
        zone: Tz,
    ) -> Self {
        let iri = |name: &str| format!("{base}{name}");
        Self {
            level_extension: level_extension.unwrap_or_else(|| iri("student-level")),
            session_extension: iri("session-id"),
            cookie_extension: iri("cookie-id"),
            user_agent_extension: iri("user-agent"),
            client_ip_extension: iri("client-ip"),
            region_extension: iri("tanet-region"),
            school_extension: iri("school-code"),
            sentences_extension: iri("sentences"),
            course_id_pattern,
            business_time_zone: zone,
        }
    }
}

/// Why a statement was rejected. The text goes into the report next to its location.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Rejection(pub String);

fn reject<T>(reason: impl Into<String>) -> Result<T, Rejection> {
    Err(Rejection(reason.into()))
}

/// Where a statement sits, for the ids and dates that depend on it.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The zip entry's base name (`actor.filename`).
    pub entry_file_name: &'a str,
    /// The log date from the entry or object name, if either holds one.
    pub named_log_date: Option<NaiveDate>,
    /// When the object arrived; the last resort for the log date.
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActorRow {
    pub id: u64,
    pub uid: String,
    pub ifi: &'static str,
    pub object_type: &'static str,
    pub name: Option<String>,
    pub category: Option<String>,
    pub filename: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActionRow {
    pub id: u64,
    pub verb_id: String,
    pub verb_display: Option<String>,
    pub object_id: String,
    pub object_type: Option<String>,
    pub object_name: Option<String>,
    pub course_id: Option<String>,
}

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

#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    pub score_scaled: Option<f64>,
    pub score_raw: Option<f64>,
    pub score_min: Option<f64>,
    pub score_max: Option<f64>,
    pub success: Option<bool>,
    pub completion: Option<bool>,
    pub duration: Option<String>,
    pub duration_ms: Option<i64>,
    pub response: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VideoRow {
    pub video_time: Option<f64>,
    pub time_from: Option<f64>,
    pub time_to: Option<f64>,
    pub progress: Option<f64>,
    pub length: Option<f64>,
    pub played_segments: Option<String>,
    pub speed: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SentenceRow {
    pub seq: u16,
    pub sentence: String,
    pub score: Option<f64>,
    pub detail: Option<Value>,
}

/// A statement as rows. `client_event` is the statement itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalised {
    pub statement_id: String,
    /// Whether the id was derived from the content because the statement had none.
    pub derived_id: bool,
    pub log_date: NaiveDate,
    pub event_time: NaiveDateTime,
    pub actor: ActorRow,
    pub action: ActionRow,
    pub cookie: Option<CookieRow>,
    pub tanet: Option<TanetRow>,
    pub event_info: EventInfoRow,
    pub result: Option<ResultRow>,
    pub video: Option<VideoRow>,
    pub sentences: Vec<SentenceRow>,
}

/// Column limits (characters) for identifiers: longer ones reject the statement, since a
/// cut identifier would merge distinct things. Display texts are cut instead.
const MAX_UID: usize = 512;
const MAX_VERB_ID: usize = 512;
const MAX_OBJECT_ID: usize = 1024;
const MAX_COURSE_ID: usize = 128;
const MAX_CATEGORY: usize = 32;
const MAX_TEXT_BYTES: usize = 65_535;
const MAX_SENTENCES: usize = 1_000;

/// Namespace of ids derived from content (UUID v5), fixed forever so re-imports match.
const DERIVED_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6c1e_7a3e_40f4_4c8e_9a51_2f0d_8b7c_1e55);

/// Validates and maps one statement.
///
/// # Errors
/// A [`Rejection`] saying what is wrong (missing actor / verb / object, wrong types, bad
/// timestamp, over-long identifiers).
pub fn normalise(
    value: Value,
    origin: Origin<'_>,
    rules: &MappingRules,
) -> Result<Normalised, Rejection> {
    let Value::Object(mut statement) = value else {
        return reject("statement is not a JSON object");
    };
    // The id is derived from the content *before* anything is taken out of it.
    let (statement_id, derived_id) = match statement.get("id") {
        None | Some(Value::Null) => (None, true),
        Some(Value::String(id)) => match Uuid::parse_str(id) {
            Ok(uuid) => (Some(uuid.hyphenated().to_string()), false),
            Err(_) => return reject(format!("id {id:?} is not a UUID")),
        },
        Some(_) => return reject("id is not a string"),
    };

    let timestamp = optional_time(&statement, "timestamp")?;
    let stored = optional_time(&statement, "stored")?;
    let log_date = origin
        .named_log_date
        .or_else(|| timestamp.map(|t| t.with_timezone(&rules.business_time_zone).date_naive()))
        .or_else(|| stored.map(|t| t.with_timezone(&rules.business_time_zone).date_naive()))
        .unwrap_or_else(|| {
            origin
                .received_at
                .with_timezone(&rules.business_time_zone)
                .date_naive()
        });
    let event_time = match timestamp {
        Some(t) => t.naive_utc(),
        None => start_of_day_utc(log_date, rules.business_time_zone),
    };
    let statement_id = match statement_id {
        Some(id) => id,
        None => {
            let canonical = Value::Object(statement.clone()).to_string();
            let name = format!("{log_date}\n{canonical}");
            Uuid::new_v5(&DERIVED_ID_NAMESPACE, name.as_bytes())
                .hyphenated()
                .to_string()
        }
    };

    let mut context = match statement.remove("context") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(c)) => c,
        Some(_) => return reject("context is not an object"),
    };
    let mut context_ext = take_object(&mut context, "extensions", "context.extensions")?;
    let mut result_obj = match statement.remove("result") {
        None | Some(Value::Null) => None,
        Some(Value::Object(r)) => Some(r),
        Some(_) => return reject("result is not an object"),
    };
    let mut result_ext = match result_obj.as_mut() {
        Some(r) => take_object(r, "extensions", "result.extensions")?,
        None => Map::new(),
    };

    let category = match context_ext.remove(&rules.level_extension) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= MAX_CATEGORY => Some(s.trim().to_owned()),
        Some(Value::String(_)) => {
            return reject(format!(
                "student level longer than {MAX_CATEGORY} characters"
            ));
        }
        Some(_) => return reject("student level extension is not a string"),
    };
    let actor = map_actor(statement.get("actor"), category, origin.entry_file_name)?;
    let parent_ids = activity_ids(&context, "parent");
    let grouping_ids = activity_ids(&context, "grouping");
    let action = map_action(
        statement.get("verb"),
        statement.get("object"),
        &parent_ids,
        &grouping_ids,
        rules,
    )?;

    let cookie = {
        let session_id =
            take_text(&mut context_ext, &rules.session_extension, "session id")?.or(take_text(
                &mut context_ext,
                &format!("{VIDEO_EXTENSION_PREFIX}session-id"),
                "video session id",
            )?);
        let cookie_id = take_text(&mut context_ext, &rules.cookie_extension, "cookie id")?;
        let user_agent = take_text(&mut context_ext, &rules.user_agent_extension, "user agent")?
            .or(take_text(
                &mut context_ext,
                &format!("{VIDEO_EXTENSION_PREFIX}user-agent"),
                "video user agent",
            )?);
        (session_id.is_some() || cookie_id.is_some() || user_agent.is_some()).then(|| {
            let session_id = session_id.map(|s| cut(s, 128));
            let cookie_id = cookie_id.map(|s| cut(s, 128));
            let user_agent = user_agent.map(|s| cut(s, 512));
            CookieRow {
                id: key_hash(&[opt(&session_id), opt(&cookie_id), opt(&user_agent)]),
                session_id,
                cookie_id,
                user_agent,
            }
        })
    };
    let tanet = {
        let client_ip = take_text(&mut context_ext, &rules.client_ip_extension, "client ip")?;
        let region = take_text(&mut context_ext, &rules.region_extension, "TANet region")?;
        let school_code = take_text(&mut context_ext, &rules.school_extension, "school code")?;
        if client_ip.as_ref().is_some_and(|ip| ip.len() > 45) {
            return reject("client ip longer than 45 characters");
        }
        (client_ip.is_some() || region.is_some() || school_code.is_some()).then(|| {
            let region = region.map(|s| cut(s, 64));
            let school_code = school_code.map(|s| cut(s, 32));
            TanetRow {
                id: key_hash(&[opt(&client_ip), opt(&region), opt(&school_code)]),
                client_ip,
                region,
                school_code,
            }
        })
    };

    let video = map_video(&mut result_ext, &mut context_ext)?;
    let sentences = match result_ext.remove(&rules.sentences_extension) {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => map_sentences(v)?,
    };
    let result = match result_obj {
        Some(r) => Some(map_result(&r)?),
        None => None,
    };

    let registration = match context.get("registration") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match Uuid::parse_str(s) {
            Ok(u) => Some(u.hyphenated().to_string()),
            Err(_) => return reject(format!("context.registration {s:?} is not a UUID")),
        },
        Some(_) => return reject("context.registration is not a string"),
    };
    let mut extensions = Map::new();
    if !context_ext.is_empty() {
        extensions.insert("context".into(), Value::Object(context_ext));
    }
    if !result_ext.is_empty() {
        extensions.insert("result".into(), Value::Object(result_ext));
    }
    if let Some(Value::Object(ext)) = statement
        .get("object")
        .and_then(|o| o.get("definition"))
        .and_then(|d| d.get("extensions"))
        && !ext.is_empty()
    {
        extensions.insert("object".into(), Value::Object(ext.clone()));
    }
    let event_info = EventInfoRow {
        platform: optional_str(&context, "platform", "context.platform")?.map(|s| cut(s, 255)),
        language: optional_str(&context, "language", "context.language")?.map(|s| cut(s, 35)),
        registration,
        event_time: timestamp.map(|t| t.naive_utc()),
        stored_time: stored.map(|t| t.naive_utc()),
        version: optional_str(&statement, "version", "version")?.map(|s| cut(s, 16)),
        context_activities: context.remove("contextActivities").filter(|v| !v.is_null()),
        extensions: (!extensions.is_empty()).then_some(Value::Object(extensions)),
    };

    Ok(Normalised {
        statement_id,
        derived_id,
        log_date,
        event_time,
        actor,
        action,
        cookie,
        tanet,
        event_info,
        result,
        video,
        sentences,
    })
}

/// A 64-bit id from a natural key: the first 8 bytes of SHA-256 over the fields, each
/// followed by a separator so that ("ab","c") and ("a","bc") differ. At a million distinct
/// keys the chance of any collision is about 3·10⁻⁸.
pub fn key_hash(fields: &[&str]) -> u64 {
    let mut hasher = Sha256::new();
    for field in fields {
        hasher.update(field.as_bytes());
        hasher.update([0x1f]);
    }
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

fn opt(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("\u{0}")
}

fn start_of_day_utc(date: NaiveDate, zone: Tz) -> NaiveDateTime {
    let local = date.and_time(NaiveTime::MIN);
    zone.from_local_datetime(&local)
        .earliest()
        .map_or(local, |t| t.naive_utc())
}

/// Parses an xAPI timestamp: ISO 8601 with an offset, or without one (taken as UTC).
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M%z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc());
        }
    }
    None
}

fn optional_time(
    statement: &Map<String, Value>,
    field: &str,
) -> Result<Option<DateTime<Utc>>, Rejection> {
    match statement.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => match parse_timestamp(s) {
            Some(t) => Ok(Some(t)),
            None => reject(format!("{field} {s:?} is not an ISO 8601 date-time")),
        },
        Some(_) => reject(format!("{field} is not a string")),
    }
}

fn optional_str(
    object: &Map<String, Value>,
    field: &str,
    path: &str,
) -> Result<Option<String>, Rejection> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => reject(format!("{path} is not a string")),
    }
}

fn take_object(
    object: &mut Map<String, Value>,
    field: &str,
    path: &str,
) -> Result<Map<String, Value>, Rejection> {
    match object.remove(field) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m),
        Some(_) => reject(format!("{path} is not an object")),
    }
}

/// Takes a text-like extension out of `extensions` (numbers are kept as their text).
fn take_text(
    extensions: &mut Map<String, Value>,
    iri: &str,
    what: &str,
) -> Result<Option<String>, Rejection> {
    match extensions.remove(iri) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => reject(format!("{what} extension <{iri}> is not a string")),
    }
}

/// Cuts display text to `max` characters (identifiers are rejected instead, see above).
fn cut(mut text: String, max: usize) -> String {
    if let Some((byte, _)) = text.char_indices().nth(max) {
        text.truncate(byte);
    }
    text
}

/// Picks one text of an xAPI language map: Traditional Chinese first (the platform's
/// language), then English, then whatever comes first.
fn language_map_text(value: Option<&Value>) -> Option<String> {
    let Some(Value::Object(map)) = value else {
        return None;
    };
    ["zh-TW", "zh-Hant", "en-US", "en", "und"]
        .iter()
        .find_map(|lang| map.get(*lang))
        .or_else(|| map.values().next())
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn map_actor(
    actor: Option<&Value>,
    category: Option<String>,
    filename: &str,
) -> Result<ActorRow, Rejection> {
    let Some(actor) = actor.filter(|a| !a.is_null()) else {
        return reject("actor is missing");
    };
    let Value::Object(actor) = actor else {
        return reject("actor is not an object");
    };
    let object_type = match actor.get("objectType").and_then(Value::as_str) {
        None | Some("Agent") => "Agent",
        Some("Group") => "Group",
        Some(other) => {
            return reject(format!(
                "actor.objectType {other:?} is neither Agent nor Group"
            ));
        }
    };
    let (ifi, uid) = agent_identifier(actor, "actor")?;
    if uid.chars().count() > MAX_UID {
        return reject(format!("actor identifier longer than {MAX_UID} characters"));
    }
    let name = optional_str(actor, "name", "actor.name")?.map(|n| cut(n, 255));
    let filename = cut(filename.to_owned(), 255);
    let category = category.filter(|c| !c.is_empty());
    let id = key_hash(&[&uid, opt(&category), &filename]);
    Ok(ActorRow {
        id,
        uid,
        ifi,
        object_type,
        name,
        category,
        filename,
    })
}

/// The inverse functional identifier of an agent or identified group.
fn agent_identifier(
    agent: &Map<String, Value>,
    path: &str,
) -> Result<(&'static str, String), Rejection> {
    let text = |field: &str| -> Result<Option<&str>, Rejection> {
        match agent.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.as_str())),
            Some(_) => reject(format!("{path}.{field} is not a non-empty string")),
        }
    };
    if let Some(account) = agent.get("account").filter(|a| !a.is_null()) {
        let Value::Object(account) = account else {
            return reject(format!("{path}.account is not an object"));
        };
        let home = account
            .get("homePage")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let name = match account.get("name") {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        return match (home, name) {
            (Some(home), Some(name)) => Ok(("account", format!("{home}|{name}"))),
            _ => reject(format!("{path}.account needs homePage and name strings")),
        };
    }
    if let Some(mbox) = text("mbox")? {
        if !mbox.starts_with("mailto:") {
            return reject(format!("{path}.mbox does not start with mailto:"));
        }
        return Ok(("mbox", mbox.to_lowercase()));
    }
    if let Some(sha) = text("mbox_sha1sum")? {
        return Ok(("mbox_sha1sum", format!("sha1:{}", sha.to_lowercase())));
    }
    if let Some(openid) = text("openid")? {
        return Ok(("openid", openid.to_owned()));
    }
    reject(format!(
        "{path} has no identifier (mbox, mbox_sha1sum, openid or account)"
    ))
}

fn activity_ids(context: &Map<String, Value>, kind: &str) -> Vec<String> {
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

fn map_action(
    verb: Option<&Value>,
    object: Option<&Value>,
    parent_ids: &[String],
    grouping_ids: &[String],
    rules: &MappingRules,
) -> Result<ActionRow, Rejection> {
    let Some(verb) = verb.filter(|v| !v.is_null()) else {
        return reject("verb is missing");
    };
    let Value::Object(verb) = verb else {
        return reject("verb is not an object");
    };
    let verb_id = match verb.get("id") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        None | Some(Value::Null) => return reject("verb.id is missing"),
        Some(_) => return reject("verb.id is not a non-empty string"),
    };
    if verb_id.chars().count() > MAX_VERB_ID {
        return reject(format!("verb.id longer than {MAX_VERB_ID} characters"));
    }
    let verb_display = language_map_text(verb.get("display")).map(|s| cut(s, 255));

    let Some(object) = object.filter(|o| !o.is_null()) else {
        return reject("object is missing");
    };
    let Value::Object(object) = object else {
        return reject("object is not an object");
    };
    let kind = match object.get("objectType") {
        None | Some(Value::Null) => "Activity",
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return reject("object.objectType is not a string"),
    };
    let (object_id, object_type) = match kind {
        "Activity" => {
            let id = match object.get("id") {
                Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
                None | Some(Value::Null) => return reject("object.id is missing"),
                Some(_) => return reject("object.id is not a non-empty string"),
            };
            let activity_type = match object.get("definition").and_then(|d| d.get("type")) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => return reject("object.definition.type is not a string"),
            };
            (id, activity_type)
        }
        "Agent" | "Group" => (agent_identifier(object, "object")?.1, Some(kind.to_owned())),
        "StatementRef" => match object
            .get("id")
            .and_then(Value::as_str)
            .map(Uuid::parse_str)
        {
            Some(Ok(id)) => (id.hyphenated().to_string(), Some(kind.to_owned())),
            _ => return reject("object.id of a StatementRef is not a UUID"),
        },
        "SubStatement" => match object
            .get("object")
            .and_then(|o| o.get("id"))
            .and_then(Value::as_str)
        {
            Some(inner) => (inner.to_owned(), Some(kind.to_owned())),
            None => return reject("SubStatement has no object.id"),
        },
        other => {
            return reject(format!(
                "object.objectType {other:?} is not an xAPI object type"
            ));
        }
    };
    if object_id.chars().count() > MAX_OBJECT_ID {
        return reject(format!("object.id longer than {MAX_OBJECT_ID} characters"));
    }
    let object_type = object_type.map(|t| cut(t, 255));
    let object_name = language_map_text(object.get("definition").and_then(|d| d.get("name")))
        .map(|s| cut(s, 512));
    let course_id = parent_ids
        .iter()
        .chain(grouping_ids)
        .chain(std::iter::once(&object_id))
        .find_map(|id| {
            rules.course_id_pattern.captures(id).map(|c| {
                c.get(1)
                    .or_else(|| c.get(0))
                    .map_or("", |m| m.as_str())
                    .to_owned()
            })
        })
        .filter(|c| !c.is_empty());
    if course_id
        .as_ref()
        .is_some_and(|c| c.chars().count() > MAX_COURSE_ID)
    {
        return reject(format!("course id longer than {MAX_COURSE_ID} characters"));
    }
    let id = key_hash(&[
        &verb_id,
        opt(&verb_display),
        &object_id,
        opt(&object_type),
        opt(&object_name),
        opt(&course_id),
    ]);
    Ok(ActionRow {
        id,
        verb_id,
        verb_display,
        object_id,
        object_type,
        object_name,
        course_id,
    })
}

fn number(value: Option<&Value>, path: &str) -> Result<Option<f64>, Rejection> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(Value::String(s)) => match s.trim().parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(Some(n)),
            _ => reject(format!("{path} {s:?} is not a number")),
        },
        Some(_) => reject(format!("{path} is not a number")),
    }
}

fn boolean(value: Option<&Value>, path: &str) -> Result<Option<bool>, Rejection> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => reject(format!("{path} is not a boolean")),
    }
}

fn map_result(result: &Map<String, Value>) -> Result<ResultRow, Rejection> {
    let score = match result.get("score") {
        None | Some(Value::Null) => None,
        Some(Value::Object(s)) => Some(s),
        Some(_) => return reject("result.score is not an object"),
    };
    let field = |name: &str| score.and_then(|s| s.get(name));
    let score_scaled = number(field("scaled"), "result.score.scaled")?;
    if score_scaled.is_some_and(|s| !(-1.0..=1.0).contains(&s)) {
        return reject("result.score.scaled is outside -1..1");
    }
    let duration = optional_str(result, "duration", "result.duration")?;
    let duration_ms = match &duration {
        Some(d) => match parse_duration_ms(d) {
            Some(ms) => Some(ms),
            None => return reject(format!("result.duration {d:?} is not an ISO 8601 duration")),
        },
        None => None,
    };
    let response = match result.get("response") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.len() <= MAX_TEXT_BYTES => Some(s.clone()),
        Some(Value::String(_)) => {
            return reject(format!(
                "result.response longer than {MAX_TEXT_BYTES} bytes"
            ));
        }
        Some(_) => return reject("result.response is not a string"),
    };
    Ok(ResultRow {
        score_scaled,
        score_raw: number(field("raw"), "result.score.raw")?,
        score_min: number(field("min"), "result.score.min")?,
        score_max: number(field("max"), "result.score.max")?,
        success: boolean(result.get("success"), "result.success")?,
        completion: boolean(result.get("completion"), "result.completion")?,
        duration: duration.map(|d| cut(d, 64)),
        duration_ms,
        response,
    })
}

/// ISO 8601 duration (`P1DT2H3M4.5S`, `PT03M15S`, `P2W`) in milliseconds.
pub fn parse_duration_ms(text: &str) -> Option<i64> {
    let rest = text.strip_prefix('P')?;
    let (date_part, time_part) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let mut total = 0f64;
    let mut any = false;
    let mut read = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut number = String::new();
        let mut next_unit = 0;
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' || c == ',' {
                number.push(if c == ',' { '.' } else { c });
                continue;
            }
            let position = units.iter().skip(next_unit).position(|(u, _)| *u == c)? + next_unit;
            let value: f64 = number.parse().ok()?;
            total += value * units[position].1;
            number.clear();
            next_unit = position + 1;
            any = true;
        }
        number.is_empty().then_some(())
    };
    const DAY: f64 = 86_400_000.0;
    read(
        date_part,
        &[
            ('Y', 365.0 * DAY),
            ('M', 30.0 * DAY),
            ('W', 7.0 * DAY),
            ('D', DAY),
        ],
    )?;
    if let Some(t) = time_part {
        if t.is_empty() {
            return None;
        }
        read(t, &[('H', 3_600_000.0), ('M', 60_000.0), ('S', 1_000.0)])?;
    }
    // Whole milliseconds fit easily: i64 holds 292 million years of them.
    #[allow(clippy::cast_possible_truncation)]
    any.then_some(total.round() as i64)
}

fn map_video(
    result_ext: &mut Map<String, Value>,
    context_ext: &mut Map<String, Value>,
) -> Result<Option<VideoRow>, Rejection> {
    let mut take = |name: &str| -> Option<Value> {
        let iri = format!("{VIDEO_EXTENSION_PREFIX}{name}");
        result_ext
            .remove(&iri)
            .or_else(|| context_ext.remove(&iri))
            .filter(|v| !v.is_null())
    };
    let time = take("time");
    let time_from = take("time-from");
    let time_to = take("time-to");
    let progress = take("progress");
    let length = take("length");
    let segments = take("played-segments");
    let speed = take("speed");
    if [
        &time, &time_from, &time_to, &progress, &length, &segments, &speed,
    ]
    .iter()
    .all(|v| v.is_none())
    {
        return Ok(None);
    }
    let played_segments = match segments {
        None => None,
        Some(Value::String(s)) if s.len() <= MAX_TEXT_BYTES => Some(s),
        Some(Value::String(_)) => return reject("video played-segments is too long"),
        Some(_) => return reject("video played-segments is not a string"),
    };
    let speed = match speed {
        None => None,
        Some(Value::String(s)) => Some(cut(s, 16)),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => return reject("video speed is not a string"),
    };
    Ok(Some(VideoRow {
        video_time: number(time.as_ref(), "video time")?,
        time_from: number(time_from.as_ref(), "video time-from")?,
        time_to: number(time_to.as_ref(), "video time-to")?,
        progress: number(progress.as_ref(), "video progress")?,
        length: number(length.as_ref(), "video length")?,
        played_segments,
        speed,
    }))
}

fn map_sentences(value: Value) -> Result<Vec<SentenceRow>, Rejection> {
    let Value::Array(items) = value else {
        return reject("sentences extension is not an array");
    };
    if items.len() > MAX_SENTENCES {
        return reject(format!("more than {MAX_SENTENCES} sentences"));
    }
    let mut rows = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let Value::Object(mut item) = item else {
            return reject(format!("sentence {index} is not an object"));
        };
        let sentence = match item.remove("text").or_else(|| item.remove("sentence")) {
            Some(Value::String(s)) if s.len() <= MAX_TEXT_BYTES => s,
            Some(Value::String(_)) => {
                return reject(format!(
                    "sentence {index} is longer than {MAX_TEXT_BYTES} bytes"
                ));
            }
            _ => return reject(format!("sentence {index} has no text string")),
        };
        let score = number(
            item.remove("score").as_ref(),
            &format!("sentence {index} score"),
        )?;
        let seq = u16::try_from(index).map_err(|_| Rejection("too many sentences".into()))?;
        rows.push(SentenceRow {
            seq,
            sentence,
            score,
            detail: (!item.is_empty()).then_some(Value::Object(item)),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules() -> MappingRules {
        MappingRules::with_base(
            "https://example.edu/x/",
            None,
            Regex::new(r"/course/(?:view\.php\?id=)?([^/?#&]+)").expect("pattern"),
            chrono_tz::Asia::Taipei,
        )
    }

    fn origin() -> Origin<'static> {
        Origin {
            entry_file_name: "2024-05-01.jsonl",
            named_log_date: NaiveDate::from_ymd_opt(2024, 5, 1),
            received_at: "2024-05-02T00:00:00Z".parse().expect("instant"),
        }
    }

    fn minimal() -> Value {
        json!({"actor": {"mbox": "mailto:A@x.org"}, "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
               "object": {"id": "https://example.edu/course/view.php?id=770"}})
    }

    #[test]
    fn a_statement_without_id_gets_a_stable_derived_id() {
        let a = normalise(minimal(), origin(), &rules()).expect("valid");
        let b = normalise(minimal(), origin(), &rules()).expect("valid");
        assert!(a.derived_id);
        assert_eq!(a.statement_id, b.statement_id);
        let mut other = minimal();
        other["verb"]["id"] = json!("http://adlnet.gov/expapi/verbs/attempted");
        assert_ne!(
            normalise(other, origin(), &rules())
                .expect("valid")
                .statement_id,
            a.statement_id
        );
    }

    #[test]
    fn a_statement_without_timestamp_takes_the_log_date_at_local_midnight() {
        let n = normalise(minimal(), origin(), &rules()).expect("valid");
        assert_eq!(
            n.log_date,
            NaiveDate::from_ymd_opt(2024, 5, 1).expect("date")
        );
        // Midnight in Taipei (UTC+8) is 16:00 the day before in UTC.
        assert_eq!(n.event_time.to_string(), "2024-04-30 16:00:00");
        assert_eq!(n.event_info.event_time, None);
    }

    #[test]
    fn course_id_comes_from_the_parent_before_the_object() {
        let mut s = minimal();
        s["context"] = json!({"contextActivities": {"parent": [{"id": "https://example.edu/course/view.php?id=941"}]}});
        assert_eq!(
            normalise(s, origin(), &rules())
                .expect("valid")
                .action
                .course_id
                .as_deref(),
            Some("941")
        );
        assert_eq!(
            normalise(minimal(), origin(), &rules())
                .expect("valid")
                .action
                .course_id
                .as_deref(),
            Some("770")
        );
    }

    #[test]
    fn each_missing_part_is_named_in_the_rejection() {
        for (field, reason) in [
            ("actor", "actor is missing"),
            ("verb", "verb is missing"),
            ("object", "object is missing"),
        ] {
            let mut s = minimal();
            s.as_object_mut().expect("object").remove(field);
            assert_eq!(
                normalise(s, origin(), &rules()).expect_err("rejected").0,
                reason
            );
        }
        let mut s = minimal();
        s["timestamp"] = json!("yesterday");
        assert!(
            normalise(s, origin(), &rules())
                .expect_err("rejected")
                .0
                .contains("timestamp")
        );
        let mut s = minimal();
        s["result"] = json!({"success": "yes"});
        assert_eq!(
            normalise(s, origin(), &rules()).expect_err("rejected").0,
            "result.success is not a boolean"
        );
        let mut s = minimal();
        s["actor"] = json!({"name": "nobody"});
        assert!(
            normalise(s, origin(), &rules())
                .expect_err("rejected")
                .0
                .contains("no identifier")
        );
        assert_eq!(
            normalise(json!([1]), origin(), &rules())
                .expect_err("rejected")
                .0,
            "statement is not a JSON object"
        );
    }

    #[test]
    fn durations_parse_to_milliseconds() {
        assert_eq!(parse_duration_ms("PT03M15S"), Some(195_000));
        assert_eq!(parse_duration_ms("P1DT1.5S"), Some(86_401_500));
        assert_eq!(parse_duration_ms("PT"), None);
        assert_eq!(parse_duration_ms("3 minutes"), None);
        assert_eq!(parse_duration_ms("PT1S2M"), None);
    }

    #[test]
    fn unmapped_extensions_are_kept_and_mapped_ones_are_not_repeated() {
        let mut s = minimal();
        s["context"] = json!({"extensions": {
            "https://example.edu/x/student-level": "國中",
            "https://example.edu/x/session-id": "s1",
            "https://w3id.org/xapi/video/extensions/length": 60,
            "http://other.org/ext": {"a": 1}}});
        s["result"] = json!({"extensions": {"https://w3id.org/xapi/video/extensions/time": 12.5}});
        let n = normalise(s, origin(), &rules()).expect("valid");
        assert_eq!(n.actor.category.as_deref(), Some("國中"));
        assert_eq!(
            n.cookie.as_ref().and_then(|c| c.session_id.as_deref()),
            Some("s1")
        );
        let video = n.video.expect("video row");
        assert_eq!((video.length, video.video_time), (Some(60.0), Some(12.5)));
        assert_eq!(
            n.event_info.extensions,
            Some(json!({"context": {"http://other.org/ext": {"a": 1}}}))
        );
    }
}
