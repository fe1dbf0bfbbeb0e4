//! DataX job JSON: parsed into a [`Job`] with DataX's parameter names and defaults, and
//! validated so that every problem is named by its JSON path
//! (`job.content[0].writer.parameter.writeMode`), all of them at once.
//!
//! What is checked: the plugins (`mysqlreader`, `postgresqlreader`, `streamreader`;
//! `mysqlwriter`, `postgresqlwriter`, `streamwriter`), each plugin's parameters (an unknown
//! one is an error, so a typo such as `splitpk` cannot silently turn splitting off; a
//! parameter DataX knows for another plugin is a warning, since DataX ignores it and the
//! original's own job JSON carries one), required parameters, value types and ranges, the
//! reader's and writer's column counts, `writeMode` per writer (DataX's postgresqlwriter
//! writes with INSERT only; `update` there is this engine's extension, said as a warning),
//! `errorLimit` and `speed`.
//!
//! Two leniencies, both warnings: a `setting` placed inside `job.content[0]` (as in the
//! original's first job) is used as the job's setting, and a streamreader without
//! `sliceRecordCount` produces one record per channel.
//!
//! Credentials: a reader or writer either carries DataX's `jdbcUrl` + `username` +
//! `password`, or names a saved datasource with `datasourceId` (this platform's extension:
//! the stored job JSON never holds a password). [`inline_logins`] and
//! [`use_datasource`] turn the first form into the second.

use std::{collections::BTreeMap, fmt};

use chrono::{NaiveDate, NaiveDateTime};
use secrecy::SecretString;
use serde::Serialize;
use serde_json::{Map, Value as Json, json};

use crate::{endpoint::DbKind, jdbc::JdbcUrl, value::Value};

/// The most ranges a job may run at once.
pub const MAX_CHANNEL: u32 = 32;
/// DataX's default `batchSize` for the RDBMS writers.
pub const DEFAULT_BATCH_SIZE: u32 = 1024;
/// The largest `batchSize` accepted (MySQL's 65,535 placeholders per statement bound the
/// rows of one multi-row INSERT further, by the column count).
pub const MAX_BATCH_SIZE: u32 = 65_535;
/// DataX's default `fetchSize` for postgresqlreader.
pub const DEFAULT_FETCH_SIZE: u32 = 1024;
/// DataX's split factor: a job with `splitPk` is cut into about `channel` × 5 ranges.
pub const DEFAULT_SPLIT_FACTOR: u32 = 5;

/// One problem, at a JSON path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem of a job JSON that cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// A valid job.
#[derive(Debug, Clone)]
pub struct Job {
    pub setting: Setting,
    pub reader: ReaderSpec,
    pub writer: WriterSpec,
    /// What DataX would ignore or default, said once.
    pub warnings: Vec<Problem>,
}

/// `job.setting`.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    /// How many ranges run at once (`speed.channel`, default 1).
    pub channel: u32,
    /// Records per second for the whole job (`speed.record`).
    pub record_limit: Option<u64>,
    /// Bytes per second for the whole job (`speed.byte`).
    pub byte_limit: Option<u64>,
    pub error_limit: ErrorLimit,
}

/// `job.setting.errorLimit`: at most `record` dirty records (checked as they happen), or
/// at most `percentage` of the records read (checked at the end); `record` wins when both
/// are set, as in DataX. Neither set: no limit.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ErrorLimit {
    pub record: Option<u64>,
    pub percentage: Option<f64>,
}

/// How a reader or writer logs in.
#[derive(Debug, Clone)]
pub enum Login {
    /// DataX's own `username` / `password` (with the `jdbcUrl`s of the connections).
    Inline {
        username: String,
        password: SecretString,
    },
    /// A saved datasource (`datasourceId`): host, database and credentials come from it
    /// when the job runs.
    Datasource(u64),
}

/// The reader.
#[derive(Debug, Clone)]
pub enum ReaderSpec {
    Db(DbReader),
    Stream(StreamReader),
}

/// `mysqlreader` / `postgresqlreader`.
#[derive(Debug, Clone)]
pub struct DbReader {
    pub kind: DbKind,
    pub login: Login,
    pub connections: Vec<ReadConnection>,
    /// As written: names, `*`, or expressions (DataX passes them into the SELECT).
    pub columns: Vec<String>,
    pub where_clause: Option<String>,
    pub split_pk: Option<String>,
    pub split_factor: u32,
    pub fetch_size: u32,
    pub session: Vec<String>,
}

/// One `connection` entry of a reader.
#[derive(Debug, Clone)]
pub struct ReadConnection {
    /// Tried in order; empty with a datasource login.
    pub urls: Vec<JdbcUrl>,
    pub tables: Vec<String>,
    /// When present, `table`, `column`, `where` and `splitPk` are ignored (DataX).
    pub query_sql: Vec<String>,
}

/// `streamreader`.
#[derive(Debug, Clone)]
pub struct StreamReader {
    pub columns: Vec<StreamColumn>,
    /// Records per channel.
    pub slice_record_count: u64,
}

/// One streamreader column: a constant, or DataX's `random` mix-up between two bounds.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamColumn {
    Constant(Value),
    Random {
        kind: StreamType,
        low: f64,
        high: f64,
    },
}

/// streamreader's column types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamType {
    Long,
    Double,
    String,
    Date,
    Bool,
    Bytes,
}

/// The writer.
#[derive(Debug, Clone)]
pub enum WriterSpec {
    Db(DbWriter),
    Stream(StreamWriter),
}

/// `mysqlwriter` / `postgresqlwriter`.
#[derive(Debug, Clone)]
pub struct DbWriter {
    pub kind: DbKind,
    pub login: Login,
    /// `None` with a datasource login.
    pub url: Option<JdbcUrl>,
    pub table: String,
    pub columns: Vec<String>,
    pub write_mode: WriteMode,
    pub batch_size: u32,
    pub pre_sql: Vec<String>,
    pub post_sql: Vec<String>,
    pub session: Vec<String>,
}

/// `writeMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WriteMode {
    Insert,
    /// `REPLACE INTO` (MySQL).
    Replace,
    /// `INSERT … ON DUPLICATE KEY UPDATE` (MySQL).
    Update,
}

/// `streamwriter`.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamWriter {
    pub print: bool,
    pub field_delimiter: String,
    pub record_num_before_sleep: u64,
    pub sleep_time_ms: u64,
}

/// Which side of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Reader,
    Writer,
}

impl Side {
    fn key(self) -> &'static str {
        match self {
            Side::Reader => "reader",
            Side::Writer => "writer",
        }
    }
}

impl Job {
    /// Parses and validates a job JSON (the whole document, `{"job": …}`).
    pub fn parse(doc: &Json) -> Result<Job, Problems> {
        let mut check = Check::default();
        let job = parse_job(doc, &mut check);
        match job {
            Some(job) if check.errors.is_empty() => Ok(Job {
                warnings: check.warnings,
                ..job
            }),
            _ => Err(Problems(check.errors)),
        }
    }

    /// The saved datasources the job names (reader first).
    pub fn datasource_ids(&self) -> Vec<(Side, u64)> {
        let mut ids = Vec::new();
        if let ReaderSpec::Db(DbReader {
            login: Login::Datasource(id),
            ..
        }) = &self.reader
        {
            ids.push((Side::Reader, *id));
        }
        if let WriterSpec::Db(DbWriter {
            login: Login::Datasource(id),
            ..
        }) = &self.writer
        {
            ids.push((Side::Writer, *id));
        }
        ids
    }
}

/// The reader's column count when the job fixes it (explicit columns of a table reader, a
/// streamreader's columns); `None` for `*` and `querySql`, known only when the job runs.
pub fn reader_width(reader: &ReaderSpec) -> Option<usize> {
    match reader {
        ReaderSpec::Stream(s) => Some(s.columns.len()),
        ReaderSpec::Db(db) => {
            let query = db.connections.iter().any(|c| !c.query_sql.is_empty());
            (!query && !is_star(&db.columns)).then_some(db.columns.len())
        }
    }
}

/// Whether a column list is DataX's "every column".
pub fn is_star(columns: &[String]) -> bool {
    columns.len() == 1 && columns[0].trim() == "*"
}

// ---------------------------------------------------------------------------------------
// Parsing

#[derive(Default)]
struct Check {
    errors: Vec<Problem>,
    warnings: Vec<Problem>,
}

impl Check {
    fn error(&mut self, path: &str, message: impl Into<String>) {
        self.errors.push(Problem {
            path: path.to_owned(),
            message: message.into(),
        });
    }

    fn warn(&mut self, path: &str, message: impl Into<String>) {
        self.warnings.push(Problem {
            path: path.to_owned(),
            message: message.into(),
        });
    }
}

/// An object being read: the keys taken are remembered, so that what is left over can be
/// reported as unknown.
struct Obj<'a> {
    path: String,
    map: &'a Map<String, Json>,
    taken: Vec<&'static str>,
}

impl<'a> Obj<'a> {
    fn of(value: &'a Json, path: &str, check: &mut Check) -> Option<Self> {
        match value {
            Json::Object(map) => Some(Obj {
                path: path.to_owned(),
                map,
                taken: Vec::new(),
            }),
            _ => {
                check.error(path, "must be an object");
                None
            }
        }
    }

    fn at(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    fn get(&mut self, key: &'static str) -> Option<&'a Json> {
        self.taken.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn string(&mut self, key: &'static str, check: &mut Check) -> Option<String> {
        match self.get(key)? {
            Json::String(s) => Some(s.clone()),
            Json::Number(n) => Some(n.to_string()),
            _ => {
                check.error(&self.at(key), "must be a string");
                None
            }
        }
    }

    fn required_string(&mut self, key: &'static str, check: &mut Check) -> Option<String> {
        let present = self.map.get(key).is_some_and(|v| !v.is_null());
        match self.string(key, check) {
            Some(s) if !s.trim().is_empty() => Some(s),
            Some(_) => {
                check.error(&self.at(key), "must not be empty");
                None
            }
            None => {
                if !present {
                    check.error(&self.at(key), "is required");
                }
                None
            }
        }
    }

    /// A whole number, also given as a numeric string (UIs often send "3306").
    fn uint(&mut self, key: &'static str, range: (u64, u64), check: &mut Check) -> Option<u64> {
        let value = self.get(key)?;
        let number = match value {
            Json::Number(n) => n.as_u64(),
            Json::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        match number {
            Some(n) if (range.0..=range.1).contains(&n) => Some(n),
            Some(_) => {
                check.error(
                    &self.at(key),
                    format!("must lie in {}..={}", range.0, range.1),
                );
                None
            }
            None => {
                check.error(&self.at(key), "must be a whole number");
                None
            }
        }
    }

    fn bool(&mut self, key: &'static str, check: &mut Check) -> Option<bool> {
        match self.get(key)? {
            Json::Bool(b) => Some(*b),
            Json::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Json::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => {
                check.error(&self.at(key), "must be true or false");
                None
            }
        }
    }

    /// A list of strings; DataX also takes a single string where it means a list of one.
    fn strings(&mut self, key: &'static str, check: &mut Check) -> Option<Vec<String>> {
        let path = self.at(key);
        match self.get(key)? {
            Json::String(s) => Some(vec![s.clone()]),
            Json::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Json::String(s) => out.push(s.clone()),
                        _ => check.error(&format!("{path}[{i}]"), "must be a string"),
                    }
                }
                Some(out)
            }
            _ => {
                check.error(&path, "must be a list of strings");
                None
            }
        }
    }

    /// Reports the keys nobody took: an error, or a warning for a parameter DataX knows
    /// under another plugin (DataX itself ignores it).
    fn finish(self, check: &mut Check, known_elsewhere: &[&str]) {
        for key in self.map.keys() {
            if self.taken.contains(&key.as_str()) {
                continue;
            }
            let path = self.at(key);
            if known_elsewhere.contains(&key.as_str()) {
                check.warn(
                    &path,
                    "is not a parameter of this plugin; ignored, as DataX does",
                );
            } else {
                check.error(&path, "is not a known parameter");
            }
        }
    }
}

/// Every parameter name some supported DataX plugin has, for telling a misplaced parameter
/// (a warning) from an unknown one (an error).
const ANY_PLUGIN_PARAMETER: &[&str] = &[
    "username",
    "password",
    "column",
    "connection",
    "splitPk",
    "splitFactor",
    "where",
    "querySql",
    "fetchSize",
    "session",
    "preSql",
    "postSql",
    "writeMode",
    "batchSize",
    "sliceRecordCount",
    "print",
    "encoding",
    "fieldDelimiter",
    "recordNumBeforeSleep",
    "sleepTime",
    "datasourceId",
];

fn parse_job(doc: &Json, check: &mut Check) -> Option<Job> {
    let mut root = Obj::of(doc, "$", check)?;
    if root.get("core").is_some() {
        check.warn("core", "DataX's engine settings do not apply here; ignored");
    }
    let Some(job_value) = root.get("job") else {
        check.error("job", "is required");
        return None;
    };
    root.path = String::new();
    root.finish(check, &[]);
    let mut job = Obj::of(job_value, "job", check)?;
    let content = match job.get("content") {
        Some(Json::Array(items)) if items.len() == 1 => &items[0],
        Some(Json::Array(items)) if items.is_empty() => {
            check.error("job.content", "needs one reader and writer pair");
            return None;
        }
        Some(Json::Array(_)) => {
            check.error(
                "job.content",
                "holds one reader and writer pair (DataX runs one per job)",
            );
            return None;
        }
        Some(_) => {
            check.error(
                "job.content",
                "must be a list with one reader and writer pair",
            );
            return None;
        }
        None => {
            check.error("job.content", "is required");
            return None;
        }
    };
    let job_setting = job.get("setting");
    job.finish(check, &[]);
    let mut pair = Obj::of(content, "job.content[0]", check)?;
    let inner_setting = pair.get("setting");
    let setting_value = match (job_setting, inner_setting) {
        (Some(outer), Some(_)) => {
            check.warn(
                "job.content[0].setting",
                "job.setting is used; this one is ignored",
            );
            Some((outer, "job.setting"))
        }
        (Some(outer), None) => Some((outer, "job.setting")),
        (None, Some(inner)) => {
            check.warn(
                "job.content[0].setting",
                "belongs in job.setting; used as the job's setting",
            );
            Some((inner, "job.content[0].setting"))
        }
        (None, None) => None,
    };
    let setting = match setting_value {
        Some((value, path)) => parse_setting(value, path, check),
        None => Some(Setting {
            channel: 1,
            record_limit: None,
            byte_limit: None,
            error_limit: ErrorLimit::default(),
        }),
    };
    let reader = pair
        .get("reader")
        .map(|r| (r, "job.content[0].reader"))
        .or_else(|| {
            check.error("job.content[0].reader", "is required");
            None
        });
    let writer = pair
        .get("writer")
        .map(|w| (w, "job.content[0].writer"))
        .or_else(|| {
            check.error("job.content[0].writer", "is required");
            None
        });
    pair.finish(check, &[]);
    let reader = reader.and_then(|(value, path)| parse_reader(value, path, check));
    let writer = writer.and_then(|(value, path)| parse_writer(value, path, check));
    let (setting, reader, writer) = (setting?, reader?, writer?);
    check_widths(&reader, &writer, check);
    Some(Job {
        setting,
        reader,
        writer,
        warnings: Vec::new(),
    })
}

fn parse_setting(value: &Json, path: &str, check: &mut Check) -> Option<Setting> {
    let mut setting = Obj::of(value, path, check)?;
    let mut channel = 1;
    let mut record_limit = None;
    let mut byte_limit = None;
    if let Some(speed) = setting.get("speed") {
        let mut speed = Obj::of(speed, &format!("{path}.speed"), check)?;
        if let Some(c) = speed.uint("channel", (1, u64::from(MAX_CHANNEL)), check) {
            channel = c as u32;
        }
        // DataX's -1 means "no limit"; so does leaving it out.
        record_limit = limit(&mut speed, "record", check);
        byte_limit = limit(&mut speed, "byte", check);
        speed.finish(check, &[]);
    }
    let mut error_limit = ErrorLimit::default();
    if let Some(errors) = setting.get("errorLimit") {
        let mut errors = Obj::of(errors, &format!("{path}.errorLimit"), check)?;
        let record_path = errors.at("record");
        match errors.get("record") {
            None => {}
            Some(v) => match v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            {
                Some(n) if n >= 0 => error_limit.record = Some(n as u64),
                _ => check.error(&record_path, "must be a whole number ≥ 0"),
            },
        }
        let percentage_path = errors.at("percentage");
        match errors.get("percentage") {
            None => {}
            Some(v) => match v
                .as_f64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            {
                Some(p) if (0.0..=1.0).contains(&p) => error_limit.percentage = Some(p),
                _ => check.error(&percentage_path, "must be a fraction in [0.0, 1.0]"),
            },
        }
        if error_limit.record.is_some() && error_limit.percentage.is_some() {
            check.warn(
                &percentage_path,
                "errorLimit.record is set and wins, as in DataX",
            );
            error_limit.percentage = None;
        }
        errors.finish(check, &[]);
    }
    setting.finish(check, &[]);
    Some(Setting {
        channel,
        record_limit,
        byte_limit,
        error_limit,
    })
}

fn limit(speed: &mut Obj<'_>, key: &'static str, check: &mut Check) -> Option<u64> {
    let path = speed.at(key);
    let value = speed.get(key)?;
    match value
        .as_i64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
    {
        Some(-1) => None,
        Some(n) if n > 0 => Some(n as u64),
        _ => {
            check.error(&path, "must be a whole number > 0 (or -1 for no limit)");
            None
        }
    }
}

/// The plugin name and its parameter object.
fn plugin<'a>(value: &'a Json, path: &str, check: &mut Check) -> Option<(String, Obj<'a>)> {
    let mut side = Obj::of(value, path, check)?;
    let name = side.required_string("name", check);
    let parameter = side.get("parameter");
    side.finish(check, &[]);
    let name = name?;
    let parameter = match parameter {
        Some(p) => Obj::of(p, &format!("{path}.parameter"), check)?,
        None => {
            check.error(&format!("{path}.parameter"), "is required");
            return None;
        }
    };
    Some((name, parameter))
}

fn parse_reader(value: &Json, path: &str, check: &mut Check) -> Option<ReaderSpec> {
    let (name, mut parameter) = plugin(value, path, check)?;
    let spec = match name.as_str() {
        "mysqlreader" => db_reader(DbKind::Mysql, &mut parameter, check).map(ReaderSpec::Db),
        "postgresqlreader" => {
            db_reader(DbKind::Postgresql, &mut parameter, check).map(ReaderSpec::Db)
        }
        "streamreader" => stream_reader(&mut parameter, check).map(ReaderSpec::Stream),
        other => {
            check.error(
                &format!("{path}.name"),
                format!(
                    "unknown reader plugin {other:?}: mysqlreader, postgresqlreader or streamreader"
                ),
            );
            return None;
        }
    };
    parameter.finish(check, ANY_PLUGIN_PARAMETER);
    spec
}

fn parse_writer(value: &Json, path: &str, check: &mut Check) -> Option<WriterSpec> {
    let (name, mut parameter) = plugin(value, path, check)?;
    let spec = match name.as_str() {
        "mysqlwriter" => db_writer(DbKind::Mysql, &mut parameter, check).map(WriterSpec::Db),
        "postgresqlwriter" => {
            db_writer(DbKind::Postgresql, &mut parameter, check).map(WriterSpec::Db)
        }
        "streamwriter" => stream_writer(&mut parameter, check).map(WriterSpec::Stream),
        other => {
            check.error(
                &format!("{path}.name"),
                format!(
                    "unknown writer plugin {other:?}: mysqlwriter, postgresqlwriter or streamwriter"
                ),
            );
            return None;
        }
    };
    parameter.finish(check, ANY_PLUGIN_PARAMETER);
    spec
}

fn login(parameter: &mut Obj<'_>, check: &mut Check) -> Option<Login> {
    let datasource = parameter.uint("datasourceId", (1, u64::MAX), check);
    let username = parameter.string("username", check);
    let password = parameter.string("password", check);
    match (datasource, username, password) {
        (Some(id), None, None) => Some(Login::Datasource(id)),
        (Some(_), _, _) => {
            check.error(
                &parameter.at("datasourceId"),
                "names a saved datasource: leave username and password out",
            );
            None
        }
        (None, Some(username), password) if !username.trim().is_empty() => Some(Login::Inline {
            username,
            password: SecretString::from(password.unwrap_or_default()),
        }),
        (None, _, _) => {
            check.error(
                &parameter.at("username"),
                "is required (or datasourceId, a saved datasource)",
            );
            None
        }
    }
}

fn url_of(text: &str, kind: DbKind, path: &str, check: &mut Check) -> Option<JdbcUrl> {
    match JdbcUrl::parse(text) {
        Ok(url) if url.kind == kind => Some(url),
        Ok(url) => {
            check.error(
                path,
                format!("is a {} URL; this plugin reads {}", url.kind, kind),
            );
            None
        }
        Err(error) => {
            check.error(path, error.to_string());
            None
        }
    }
}

fn db_reader(kind: DbKind, parameter: &mut Obj<'_>, check: &mut Check) -> Option<DbReader> {
    let login = login(parameter, check);
    let by_datasource = matches!(login, Some(Login::Datasource(_)));
    let columns = parameter.strings("column", check).unwrap_or_default();
    let where_clause = parameter
        .string("where", check)
        .filter(|w| !w.trim().is_empty());
    let split_pk = parameter
        .string("splitPk", check)
        .filter(|s| !s.trim().is_empty());
    let split_factor = parameter
        .uint("splitFactor", (1, 100), check)
        .map_or(DEFAULT_SPLIT_FACTOR, |n| n as u32);
    let fetch_size = parameter
        .uint("fetchSize", (1, 1_000_000), check)
        .map_or(DEFAULT_FETCH_SIZE, |n| n as u32);
    let session = parameter.strings("session", check).unwrap_or_default();
    let connection_path = parameter.at("connection");
    let mut connections = Vec::new();
    match parameter.get("connection") {
        Some(Json::Array(items)) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                let path = format!("{connection_path}[{i}]");
                let Some(mut entry) = Obj::of(item, &path, check) else {
                    continue;
                };
                let url_path = entry.at("jdbcUrl");
                let urls: Vec<JdbcUrl> = entry
                    .strings("jdbcUrl", check)
                    .unwrap_or_default()
                    .iter()
                    .enumerate()
                    .filter_map(|(j, text)| url_of(text, kind, &format!("{url_path}[{j}]"), check))
                    .collect();
                if by_datasource && entry.map.contains_key("jdbcUrl") {
                    check.error(
                        &url_path,
                        "a datasourceId already says where: leave jdbcUrl out",
                    );
                } else if !by_datasource && urls.is_empty() && !entry.map.contains_key("jdbcUrl") {
                    check.error(&url_path, "is required");
                }
                let tables = entry.strings("table", check).unwrap_or_default();
                let query_sql = entry.strings("querySql", check).unwrap_or_default();
                if tables.is_empty() && query_sql.is_empty() {
                    check.error(&entry.at("table"), "is required (or querySql)");
                }
                if !query_sql.is_empty() && !tables.is_empty() {
                    check.warn(
                        &entry.at("table"),
                        "querySql is set: table, column and where are ignored, as in DataX",
                    );
                }
                entry.finish(check, &[]);
                connections.push(ReadConnection {
                    urls,
                    tables,
                    query_sql,
                });
            }
        }
        _ => check.error(&connection_path, "is required: a list of {jdbcUrl, table}"),
    }
    let query = connections.iter().any(|c| !c.query_sql.is_empty());
    if columns.is_empty() && !query {
        check.error(
            &parameter.at("column"),
            "is required: the columns to read, or [\"*\"]",
        );
    }
    if by_datasource && connections.len() > 1 {
        check.error(
            &connection_path,
            "a datasourceId reads from one connection entry",
        );
    }
    if query && split_pk.is_some() {
        check.warn(
            &parameter.at("splitPk"),
            "querySql is set: the job is not split, as in DataX",
        );
    }
    if let Some(pk) = &split_pk
        && !is_identifier(pk)
    {
        check.error(&parameter.at("splitPk"), "must be one column name");
    }
    Some(DbReader {
        kind,
        login: login?,
        split_pk: if query { None } else { split_pk },
        connections,
        columns,
        where_clause,
        split_factor,
        fetch_size,
        session,
    })
}

/// A plain column name, possibly quoted with backticks or double quotes.
fn is_identifier(text: &str) -> bool {
    let bare = text.trim().trim_matches(|c| c == '`' || c == '"');
    !bare.is_empty()
        && bare
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

fn db_writer(kind: DbKind, parameter: &mut Obj<'_>, check: &mut Check) -> Option<DbWriter> {
    let login = login(parameter, check);
    let by_datasource = matches!(login, Some(Login::Datasource(_)));
    let columns = parameter.strings("column", check).unwrap_or_default();
    if columns.is_empty() {
        check.error(
            &parameter.at("column"),
            "is required: the columns to write, or [\"*\"]",
        );
    }
    let mode_path = parameter.at("writeMode");
    let write_mode = match parameter
        .string("writeMode", check)
        .map(|m| m.trim().to_ascii_lowercase())
    {
        None => WriteMode::Insert,
        Some(mode) => match (mode.as_str(), kind) {
            ("insert", _) => WriteMode::Insert,
            ("replace", DbKind::Mysql) => WriteMode::Replace,
            ("update", DbKind::Mysql) => WriteMode::Update,
            ("update", DbKind::Postgresql) => {
                check.warn(
                    &mode_path,
                    "update on postgresqlwriter is an extension beyond DataX (whose \
                     postgresqlwriter writes with INSERT only): INSERT … ON CONFLICT on the \
                     target's primary key DO UPDATE",
                );
                WriteMode::Update
            }
            (_, DbKind::Postgresql) => {
                check.error(
                    &mode_path,
                    "postgresqlwriter writes with insert (COPY), as in DataX, or with update \
                     (INSERT … ON CONFLICT, an extension); replace is MySQL's",
                );
                WriteMode::Insert
            }
            (other, DbKind::Mysql) => {
                check.error(
                    &mode_path,
                    format!("{other:?} is not insert, replace or update"),
                );
                WriteMode::Insert
            }
        },
    };
    let batch_size = parameter
        .uint("batchSize", (1, u64::from(MAX_BATCH_SIZE)), check)
        .map_or(DEFAULT_BATCH_SIZE, |n| n as u32);
    let pre_sql = parameter.strings("preSql", check).unwrap_or_default();
    let post_sql = parameter.strings("postSql", check).unwrap_or_default();
    let session = parameter.strings("session", check).unwrap_or_default();
    let connection_path = parameter.at("connection");
    let mut url = None;
    let mut table = None;
    match parameter.get("connection") {
        Some(Json::Array(items)) if items.len() == 1 => {
            let path = format!("{connection_path}[0]");
            if let Some(mut entry) = Obj::of(&items[0], &path, check) {
                let url_path = entry.at("jdbcUrl");
                let urls = entry.strings("jdbcUrl", check).unwrap_or_default();
                if by_datasource {
                    if entry.map.contains_key("jdbcUrl") {
                        check.error(
                            &url_path,
                            "a datasourceId already says where: leave jdbcUrl out",
                        );
                    }
                } else {
                    match urls.as_slice() {
                        [one] => url = url_of(one, kind, &url_path, check),
                        [] => check.error(&url_path, "is required"),
                        _ => check.error(&url_path, "a writer writes to one jdbcUrl"),
                    }
                }
                let table_path = entry.at("table");
                match entry.strings("table", check).unwrap_or_default().as_slice() {
                    [one] if !one.trim().is_empty() => table = Some(one.clone()),
                    [] => check.error(&table_path, "is required"),
                    _ => check.error(&table_path, "one target table per job here"),
                }
                entry.finish(check, &[]);
            }
        }
        Some(Json::Array(items)) if items.len() > 1 => {
            check.error(&connection_path, "a writer writes to one connection entry");
        }
        _ => check.error(&connection_path, "is required: [{jdbcUrl, table}]"),
    }
    Some(DbWriter {
        kind,
        login: login?,
        url,
        table: table?,
        columns,
        write_mode,
        batch_size,
        pre_sql,
        post_sql,
        session,
    })
}

fn stream_reader(parameter: &mut Obj<'_>, check: &mut Check) -> Option<StreamReader> {
    let slice_record_count = match parameter.uint("sliceRecordCount", (1, u64::MAX), check) {
        Some(n) => n,
        None => {
            if !parameter.map.contains_key("sliceRecordCount") {
                check.warn(
                    &parameter.at("sliceRecordCount"),
                    "is missing (DataX requires it): one record per channel",
                );
            }
            1
        }
    };
    let path = parameter.at("column");
    let mut columns = Vec::new();
    match parameter.get("column") {
        Some(Json::Array(items)) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                if let Some(column) = stream_column(item, &format!("{path}[{i}]"), check) {
                    columns.push(column);
                }
            }
        }
        _ => check.error(&path, "is required: a list of {value, type}"),
    }
    Some(StreamReader {
        columns,
        slice_record_count,
    })
}

fn stream_column(item: &Json, path: &str, check: &mut Check) -> Option<StreamColumn> {
    let mut column = Obj::of(item, path, check)?;
    let kind_text = column.required_string("type", check)?;
    let kind = match kind_text.to_ascii_lowercase().as_str() {
        "long" => StreamType::Long,
        "double" => StreamType::Double,
        "string" => StreamType::String,
        "date" => StreamType::Date,
        "bool" => StreamType::Bool,
        "bytes" => StreamType::Bytes,
        other => {
            check.error(
                &column.at("type"),
                format!("{other:?} is not long, double, string, date, bool or bytes"),
            );
            return None;
        }
    };
    let value = column.string("value", check);
    let random = column.string("random", check);
    let date_format = column.string("dateFormat", check);
    column.finish(check, &[]);
    if let Some(value) = value {
        if random.is_some() {
            check.warn(
                path,
                "value and random are both set: the value wins, as in DataX",
            );
        }
        return constant(
            kind,
            &value,
            date_format.as_deref(),
            &format!("{path}.value"),
            check,
        )
        .map(StreamColumn::Constant);
    }
    let Some(random) = random else {
        check.error(&format!("{path}.value"), "is required (or random)");
        return None;
    };
    let bounds = random.split_once(',').map(|(a, b)| (a.trim(), b.trim()));
    let parsed = bounds.and_then(|(a, b)| match kind {
        StreamType::Date => {
            let at = |s: &str| {
                NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
                    .ok()
                    .map(|t| t.and_utc().timestamp() as f64)
            };
            Some((at(a)?, at(b)?))
        }
        _ => Some((a.parse::<f64>().ok()?, b.parse::<f64>().ok()?)),
    });
    match parsed {
        Some((low, high))
            if low <= high
                && (low >= 0.0 || !matches!(kind, StreamType::String | StreamType::Bytes)) =>
        {
            Some(StreamColumn::Random { kind, low, high })
        }
        _ => {
            check.error(
                &format!("{path}.random"),
                "must be \"low, high\" with low ≤ high (dates as yyyy-MM-dd HH:mm:ss)",
            );
            None
        }
    }
}

fn constant(
    kind: StreamType,
    text: &str,
    date_format: Option<&str>,
    path: &str,
    check: &mut Check,
) -> Option<Value> {
    let value = match kind {
        StreamType::String => Some(Value::String(text.to_owned())),
        StreamType::Bytes => Some(Value::Bytes(text.as_bytes().to_vec())),
        StreamType::Long => text.trim().parse::<i64>().ok().map(Value::Long),
        StreamType::Double => text.trim().parse::<f64>().ok().map(Value::Double),
        StreamType::Bool => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        StreamType::Date => {
            let format = date_format.map_or("%Y-%m-%d %H:%M:%S".to_owned(), java_date_format);
            NaiveDateTime::parse_from_str(text.trim(), &format)
                .ok()
                .map(Value::DateTime)
                .or_else(|| {
                    NaiveDate::parse_from_str(text.trim(), &format)
                        .ok()
                        .map(Value::Date)
                })
        }
    };
    if value.is_none() {
        check.error(path, format!("{text:?} is not a {kind:?} value"));
    }
    value
}

/// The common parts of a Java `SimpleDateFormat` pattern as a chrono format.
fn java_date_format(pattern: &str) -> String {
    pattern
        .replace("yyyy", "%Y")
        .replace("MM", "%m")
        .replace("dd", "%d")
        .replace("HH", "%H")
        .replace("mm", "%M")
        .replace("ss", "%S")
        .replace("SSS", "%3f")
}

fn stream_writer(parameter: &mut Obj<'_>, check: &mut Check) -> Option<StreamWriter> {
    let print = parameter.bool("print", check).unwrap_or(true);
    let field_delimiter = parameter
        .string("fieldDelimiter", check)
        .unwrap_or_else(|| "\t".to_owned());
    if let Some(encoding) = parameter.string("encoding", check)
        && !encoding.eq_ignore_ascii_case("utf-8")
        && !encoding.eq_ignore_ascii_case("utf8")
    {
        check.error(&parameter.at("encoding"), "only UTF-8 is written");
    }
    for key in ["path", "fileName"] {
        let key: &'static str = key;
        if parameter.get(key).is_some() {
            check.error(
                &parameter.at(key),
                "a function has no file system to keep files on: use print (the run's log)",
            );
        }
    }
    let record_num_before_sleep = parameter
        .uint("recordNumBeforeSleep", (0, u64::MAX), check)
        .unwrap_or(0);
    let sleep_time_ms = parameter.uint("sleepTime", (0, 60_000), check).unwrap_or(0);
    Some(StreamWriter {
        print,
        field_delimiter,
        record_num_before_sleep,
        sleep_time_ms,
    })
}

fn check_widths(reader: &ReaderSpec, writer: &WriterSpec, check: &mut Check) {
    let WriterSpec::Db(db) = writer else {
        return;
    };
    if is_star(&db.columns) {
        return;
    }
    if let Some(width) = reader_width(reader)
        && width != db.columns.len()
    {
        check.error(
            "job.content[0].writer.parameter.column",
            format!(
                "{} columns to write, but the reader gives {width}",
                db.columns.len()
            ),
        );
    }
}

// ---------------------------------------------------------------------------------------
// Credentials out of stored job JSON

/// A reader or writer that carries DataX's own credentials.
#[derive(Debug, Clone)]
pub struct InlineLogin {
    pub side: Side,
    pub url: JdbcUrl,
    pub username: String,
    pub password: SecretString,
}

/// The inline logins of a valid job, for matching them to saved datasources. A reader
/// with several connections or jdbcUrls cannot be expressed by one datasource: that is
/// an error naming the path.
pub fn inline_logins(job: &Job) -> Result<Vec<InlineLogin>, Problems> {
    let mut found = Vec::new();
    if let ReaderSpec::Db(db) = &job.reader
        && let Login::Inline { username, password } = &db.login
    {
        match db.connections.as_slice() {
            [one] if one.urls.len() == 1 => found.push(InlineLogin {
                side: Side::Reader,
                url: one.urls[0].clone(),
                username: username.clone(),
                password: password.clone(),
            }),
            _ => {
                return Err(Problems(vec![Problem {
                    path: "job.content[0].reader.parameter.connection".into(),
                    message: "a saved config reads from one datasource: one connection entry with one jdbcUrl (several tables are fine)".into(),
                }]));
            }
        }
    }
    if let WriterSpec::Db(db) = &job.writer
        && let (Login::Inline { username, password }, Some(url)) = (&db.login, &db.url)
    {
        found.push(InlineLogin {
            side: Side::Writer,
            url: url.clone(),
            username: username.clone(),
            password: password.clone(),
        });
    }
    Ok(found)
}

/// Rewrites one side of a job JSON to name datasource `id`: `username`, `password` and
/// every `jdbcUrl` are removed, `datasourceId` is set.
pub fn use_datasource(doc: &mut Json, side: Side, id: u64) {
    let Some(parameter) = doc
        .pointer_mut(&format!("/job/content/0/{}/parameter", side.key()))
        .and_then(Json::as_object_mut)
    else {
        return;
    };
    parameter.remove("username");
    parameter.remove("password");
    if let Some(Json::Array(connections)) = parameter.get_mut("connection") {
        for connection in connections.iter_mut().filter_map(Json::as_object_mut) {
            connection.remove("jdbcUrl");
        }
    }
    parameter.insert("datasourceId".into(), json!(id));
}

// ---------------------------------------------------------------------------------------
// The builder

/// The reader half of a builder body.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuilderReader {
    pub datasource_id: u64,
    #[serde(default)]
    pub table: Option<String>,
    #[serde(default)]
    pub column: Vec<String>,
    #[serde(default, rename = "where")]
    pub where_clause: Option<String>,
    #[serde(default, rename = "splitPk")]
    pub split_pk: Option<String>,
    #[serde(default, rename = "querySql")]
    pub query_sql: Option<String>,
}

/// The writer half of a builder body.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuilderWriter {
    pub datasource_id: u64,
    pub table: String,
    #[serde(default)]
    pub column: Vec<String>,
    #[serde(default, rename = "writeMode")]
    pub write_mode: Option<String>,
    #[serde(default, rename = "preSql")]
    pub pre_sql: Vec<String>,
    #[serde(default, rename = "postSql")]
    pub post_sql: Vec<String>,
    #[serde(default, rename = "batchSize")]
    pub batch_size: Option<u32>,
}

/// A job from the builder: reader and writer datasources of the given kinds. The result is
/// job JSON to validate with [`Job::parse`] like any other.
pub fn build(
    reader: &BuilderReader,
    reader_kind: DbKind,
    writer: &BuilderWriter,
    writer_kind: DbKind,
    channel: Option<u32>,
    error_limit: Option<u64>,
) -> Json {
    let mut connection = Map::new();
    if let Some(table) = &reader.table {
        connection.insert("table".into(), json!([table]));
    }
    if let Some(query) = &reader.query_sql {
        connection.insert("querySql".into(), json!([query]));
    }
    let mut reader_parameter = BTreeMap::new();
    reader_parameter.insert("datasourceId", json!(reader.datasource_id));
    reader_parameter.insert("connection", json!([connection]));
    if !reader.column.is_empty() || reader.query_sql.is_none() {
        let column = if reader.column.is_empty() {
            vec!["*".to_owned()]
        } else {
            reader.column.clone()
        };
        reader_parameter.insert("column", json!(column));
    }
    if let Some(w) = reader
        .where_clause
        .as_ref()
        .filter(|w| !w.trim().is_empty())
    {
        reader_parameter.insert("where", json!(w));
    }
    if let Some(pk) = reader.split_pk.as_ref().filter(|p| !p.trim().is_empty()) {
        reader_parameter.insert("splitPk", json!(pk));
    }
    let mut writer_parameter = BTreeMap::new();
    writer_parameter.insert("datasourceId", json!(writer.datasource_id));
    writer_parameter.insert("connection", json!([{ "table": [writer.table] }]));
    let column = if writer.column.is_empty() {
        vec!["*".to_owned()]
    } else {
        writer.column.clone()
    };
    writer_parameter.insert("column", json!(column));
    if let Some(mode) = &writer.write_mode {
        writer_parameter.insert("writeMode", json!(mode));
    }
    if !writer.pre_sql.is_empty() {
        writer_parameter.insert("preSql", json!(writer.pre_sql));
    }
    if !writer.post_sql.is_empty() {
        writer_parameter.insert("postSql", json!(writer.post_sql));
    }
    if let Some(size) = writer.batch_size {
        writer_parameter.insert("batchSize", json!(size));
    }
    let mut setting = json!({ "speed": { "channel": channel.unwrap_or(1) } });
    if let Some(record) = error_limit {
        setting["errorLimit"] = json!({ "record": record });
    }
    json!({
        "job": {
            "setting": setting,
            "content": [{
                "reader": { "name": reader_kind.reader_plugin(), "parameter": reader_parameter },
                "writer": { "name": writer_kind.writer_plugin(), "parameter": writer_parameter },
            }],
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(problems: &Problems) -> Vec<&str> {
        problems.0.iter().map(|p| p.path.as_str()).collect()
    }

    fn mysql_to_stream() -> Json {
        json!({"job": {"content": [{
            "setting": {"speed": {"channel": 1}},
            "reader": {"name": "mysqlreader", "parameter": {
                "username": "root", "password": "123456",
                "column": ["ID", "PROVINCE_ID", "CITY_NAME", "DESCRIPTION"],
                "connection": [{"table": ["city"], "jdbcUrl": ["jdbc:mysql://120.77.176.193:3306/redwars"]}]}},
            "writer": {"name": "streamwriter", "parameter": {"print": false, "encoding": "UTF-8"}}
        }]}})
    }

    #[test]
    fn accepts_the_originals_first_job_with_its_setting_inside_content() {
        let job = Job::parse(&mysql_to_stream()).expect("valid");
        assert_eq!(job.setting.channel, 1);
        assert_eq!(
            paths(&Problems(job.warnings.clone())),
            ["job.content[0].setting"]
        );
        let ReaderSpec::Db(reader) = &job.reader else {
            panic!("a db reader")
        };
        assert_eq!(reader.connections[0].urls[0].database, "redwars");
        assert!(matches!(
            job.writer,
            WriterSpec::Stream(StreamWriter { print: false, .. })
        ));
    }

    #[test]
    fn accepts_the_originals_stream_to_postgresql_job_with_warnings() {
        let doc = json!({"job": {"setting": {"speed": {"channel": 1}}, "content": [{
            "reader": {"name": "streamreader", "parameter": {"column": [
                {"value": "DataX", "type": "string"}, {"value": "test", "type": "bytes"}]}},
            "writer": {"name": "postgresqlwriter", "parameter": {
                "username": "gpadmin", "password": "123456", "column": ["id", "name"],
                "sliceRecordCount": 1000, "preSql": ["delete from test"],
                "connection": [{"jdbcUrl": "jdbc:postgresql://100.124.10.5:2345/pdcy", "table": ["city"]}]}}
        }]}});
        let job = Job::parse(&doc).expect("valid");
        let warned = paths(&Problems(job.warnings.clone())).join(",");
        assert!(
            warned.contains("writer.parameter.sliceRecordCount"),
            "{warned}"
        );
        assert!(
            warned.contains("reader.parameter.sliceRecordCount"),
            "{warned}"
        );
        let ReaderSpec::Stream(reader) = &job.reader else {
            panic!("stream")
        };
        assert_eq!(reader.slice_record_count, 1);
    }

    #[test]
    fn every_problem_is_named_by_its_path() {
        let doc = json!({"job": {"setting": {"speed": {"channel": 0}, "errorLimit": {"record": -1, "percentage": 2}},
            "content": [{
            "reader": {"name": "mysqlreader", "parameter": {
                "username": "u", "password": "p", "column": ["a", "b"], "splitpk": "id",
                "connection": [{"table": ["t"], "jdbcUrl": ["jdbc:postgresql://h/d"]}]}},
            "writer": {"name": "postgresqlwriter", "parameter": {
                "username": "u", "password": "p", "column": ["a"], "writeMode": "replace",
                "connection": [{"jdbcUrl": "jdbc:postgresql://h/d", "table": ["t"]}]}}
        }]}});
        let problems = Job::parse(&doc).expect_err("invalid");
        let found = paths(&problems);
        for expected in [
            "job.setting.speed.channel",
            "job.setting.errorLimit.record",
            "job.setting.errorLimit.percentage",
            "job.content[0].reader.parameter.splitpk",
            "job.content[0].reader.parameter.connection[0].jdbcUrl[0]",
            "job.content[0].writer.parameter.writeMode",
            "job.content[0].writer.parameter.column",
        ] {
            assert!(
                found.contains(&expected),
                "{expected} missing from {found:?}"
            );
        }
    }

    #[test]
    fn update_on_postgresqlwriter_is_an_extension_said_as_a_warning() {
        let doc = json!({"job": {"content": [{
            "reader": {"name": "streamreader", "parameter": {"sliceRecordCount": 1, "column": [{"type": "long", "value": "1"}]}},
            "writer": {"name": "postgresqlwriter", "parameter": {
                "username": "u", "password": "p", "column": ["a"], "writeMode": "update",
                "connection": [{"jdbcUrl": "jdbc:postgresql://h/d", "table": ["t"]}]}}
        }]}});
        let job = Job::parse(&doc).expect("update is accepted");
        let WriterSpec::Db(writer) = &job.writer else {
            panic!("db writer")
        };
        assert_eq!(writer.write_mode, WriteMode::Update);
        assert!(
            job.warnings
                .iter()
                .any(|w| w.to_string().contains("extension beyond DataX")),
            "{:?}",
            job.warnings
        );
    }

    #[test]
    fn unknown_plugins_and_missing_parameters() {
        let doc = json!({"job": {"content": [{
            "reader": {"name": "oraclereader", "parameter": {}},
            "writer": {"name": "mysqlwriter", "parameter": {"column": ["a"]}}
        }]}});
        let found = Job::parse(&doc).expect_err("invalid");
        let found = paths(&found);
        assert!(found.contains(&"job.content[0].reader.name"), "{found:?}");
        assert!(
            found.contains(&"job.content[0].writer.parameter.username"),
            "{found:?}"
        );
        assert!(
            found.contains(&"job.content[0].writer.parameter.connection"),
            "{found:?}"
        );
    }

    #[test]
    fn credentials_move_to_a_datasource_reference() {
        let mut doc = mysql_to_stream();
        let job = Job::parse(&doc).expect("valid");
        let logins = inline_logins(&job).expect("one connection");
        assert_eq!(logins.len(), 1);
        assert_eq!(logins[0].url.host, "120.77.176.193");
        use_datasource(&mut doc, Side::Reader, 7);
        let text = doc.to_string();
        assert!(
            !text.contains("123456") && !text.contains("jdbcUrl"),
            "{text}"
        );
        let job = Job::parse(&doc).expect("still valid");
        assert_eq!(job.datasource_ids(), vec![(Side::Reader, 7)]);
    }

    #[test]
    fn the_builder_makes_a_valid_job() {
        let reader = BuilderReader {
            datasource_id: 1,
            table: Some("t".into()),
            column: vec!["id".into(), "v".into()],
            split_pk: Some("id".into()),
            ..Default::default()
        };
        let writer = BuilderWriter {
            datasource_id: 2,
            table: "u".into(),
            column: vec!["id".into(), "v".into()],
            write_mode: Some("update".into()),
            ..Default::default()
        };
        let doc = build(
            &reader,
            DbKind::Mysql,
            &writer,
            DbKind::Mysql,
            Some(4),
            Some(0),
        );
        let job = Job::parse(&doc).expect("valid");
        assert_eq!(job.setting.channel, 4);
        assert_eq!(job.setting.error_limit.record, Some(0));
        let WriterSpec::Db(w) = &job.writer else {
            panic!("db writer")
        };
        assert_eq!(w.write_mode, WriteMode::Update);
        assert_eq!(
            job.datasource_ids(),
            vec![(Side::Reader, 1), (Side::Writer, 2)]
        );
    }
}
