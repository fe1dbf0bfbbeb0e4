//! One xAPI 1.0.3 statement, validated and mapped to the rows of the nine learning tables.
//!
//! The mapping is documented in `docs/import-format.md`; this module is its executable
//! form. Parsing goes through `serde_json::Value` because real emitters (Moodle, Open edX,
//! DATASIM) differ in which optional parts they send, and every unknown extension must be
//! kept rather than rejected. Whatever the database would refuse or alter is refused here,
//! with the reason, before anything is written.
//!
//! # Layout
//! - `actor`: the `actor` row; agents, identified and anonymous groups.
//! - `action`: the `action` row; verb, object (including SubStatements) and course.
//! - `context`: `cookie`, `tanet_info` and `event_info`.
//! - `result`: `result`, `video_info` and `sentences`.
//! - `time`: the accepted timestamp profile and the log date.
//! - `content`: the content hash and derived ids.
//! - `values`: typed getters, text cuts, language maps, JSON column limits.

mod action;
mod actor;
mod content;
mod context;
mod result;
mod time;
mod values;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use common::{business_time::local_day_start, instant::DateWindow};
use regex::Regex;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub use action::ActionRow;
pub use actor::ActorRow;
pub use context::{CookieRow, EventInfoRow, TanetRow};
pub use result::{ResultRow, SentenceRow, VideoRow, parse_duration_ms};
pub use time::parse_timestamp;

use context::{Context, Leftovers};
use result::ResultPart;

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
    /// Plausible instants for `timestamp` and `stored` (`DATE_WINDOW_FROM`/`_TO`).
    pub date_window: DateWindow,
}

impl MappingRules {
    /// Rules with every site extension under `base` (which should end with `/`), and the
    /// process's date window ([`DateWindow::current`]).
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
            date_window: DateWindow::current(),
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
    /// The zip entry's full path (`client_event.entry_name`).
    pub entry_name: &'a str,
    /// The zip entry's base name (`actor.filename`).
    pub entry_file_name: &'a str,
    /// The log date from the entry or object name, if either holds one.
    pub named_log_date: Option<NaiveDate>,
    /// When the object arrived; the last resort for the log date (never part of an id).
    pub received_at: DateTime<Utc>,
}

/// `client_event.entry_name` is `VARCHAR(512)`.
const MAX_ENTRY_NAME: usize = 512;

/// A statement as rows. `client_event` is the statement itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalised {
    pub statement_id: String,
    /// Whether the id was derived from the content because the statement had none.
    pub derived_id: bool,
    /// First 16 bytes of SHA-256 over the canonical statement without `id`, `stored`,
    /// `authority` and `version`, `timestamp` in UTC: equal for an exact repeat.
    pub content_hash: [u8; 16],
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

/// Validates and maps one statement.
///
/// # Errors
/// A [`Rejection`] saying what is wrong (missing actor / verb / object, wrong types, bad
/// timestamp, over-long identifiers, JSON too deep for the database).
pub fn normalise(
    value: Value,
    origin: Origin<'_>,
    rules: &MappingRules,
) -> Result<Normalised, Rejection> {
    let Value::Object(mut statement) = value else {
        return reject("statement is not a JSON object");
    };
    if origin.entry_name.chars().count() > MAX_ENTRY_NAME {
        return reject(format!(
            "entry name longer than {MAX_ENTRY_NAME} characters"
        ));
    }
    let when = When::of(&statement, &origin, rules)?;

    let Context {
        context,
        extensions: mut context_ext,
    } = Context::take(&mut statement)?;
    let mut result_part = ResultPart::take(&mut statement)?;
    let category = actor::student_level(&mut context_ext, rules)?;
    let actor = actor::map_actor(statement.get("actor"), category, origin.entry_file_name)?;
    let action = action::map_action(
        statement.get("verb"),
        statement.get("object"),
        &context::activity_ids(&context, "parent"),
        &context::activity_ids(&context, "grouping"),
        rules,
    )?;
    let cookie = context::map_cookie(&mut context_ext, rules)?;
    let tanet = context::map_tanet(&mut context_ext, rules)?;
    let video = result::map_video(&mut result_part.extensions, &mut context_ext)?;
    let sentences =
        result::map_sentences(result_part.extensions.remove(&rules.sentences_extension))?;
    let result = result_part
        .result
        .as_ref()
        .map(result::map_result)
        .transpose()?;
    let leftovers = Leftovers {
        context: context_ext,
        result: result_part.extensions,
        object: object_extensions(&statement),
    };
    let event_info =
        context::map_event_info(&statement, context, leftovers, when.timestamp, when.stored)?;

    Ok(Normalised {
        statement_id: when.statement_id,
        derived_id: when.derived_id,
        content_hash: when.content_hash,
        log_date: when.log_date,
        event_time: when.event_time,
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

/// A statement's instants, dates and identity: everything that depends on its timestamp.
struct When {
    timestamp: Option<NaiveDateTime>,
    stored: Option<NaiveDateTime>,
    log_date: NaiveDate,
    event_time: NaiveDateTime,
    content_hash: [u8; 16],
    statement_id: String,
    derived_id: bool,
}

impl When {
    fn of(
        statement: &Map<String, Value>,
        origin: &Origin<'_>,
        rules: &MappingRules,
    ) -> Result<Self, Rejection> {
        let given_id = given_id(statement)?;
        let timestamp = time::optional_instant(statement, "timestamp", &rules.date_window)?;
        let stored = time::optional_instant(statement, "stored", &rules.date_window)?;
        let content_hash = content::content_hash(statement, timestamp);
        let zone = rules.business_time_zone;
        let log_date = time::log_date(origin, timestamp, stored, zone);
        let derived_id = given_id.is_none();
        let statement_id = given_id.unwrap_or_else(|| {
            // The name's date only when there is no timestamp; never the arrival day.
            let undated = origin.named_log_date.filter(|_| timestamp.is_none());
            content::derived_id(&content_hash, undated)
        });
        Ok(Self {
            timestamp,
            stored,
            log_date,
            event_time: timestamp.unwrap_or_else(|| local_day_start(log_date, zone)),
            content_hash,
            statement_id,
            derived_id,
        })
    }
}

/// The statement's own id, lower-case and hyphenated; `None` when it has none.
fn given_id(statement: &Map<String, Value>) -> Result<Option<String>, Rejection> {
    match statement.get("id") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(id)) => match Uuid::parse_str(id) {
            Ok(uuid) => Ok(Some(uuid.hyphenated().to_string())),
            Err(_) => reject(format!("id {id:?} is not a UUID")),
        },
        Some(_) => reject("id is not a string"),
    }
}

/// `object.definition.extensions`, which are kept in `event_info.extensions`.
fn object_extensions(statement: &Map<String, Value>) -> Map<String, Value> {
    match statement
        .get("object")
        .and_then(|o| o.get("definition"))
        .and_then(|d| d.get("extensions"))
    {
        Some(Value::Object(ext)) => ext.clone(),
        _ => Map::new(),
    }
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

#[cfg(test)]
mod tests;
