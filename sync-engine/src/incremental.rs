//! Incremental sync: a config that copies only the rows added or changed since its last
//! successful run, the way DataX-Web's "increment" settings do, applied to the job JSON
//! before [`crate::job::Job::parse`] reads it.
//!
//! # What DataX-Web does (read in `WeiYe-Jing/datax-web`)
//!
//! - `datax-admin/.../core/trigger/JobTrigger.java`: at each trigger, an id increment
//!   (`incrementType` 1) reads `endId` as `select max(<primaryKey>) from <readerTable>` on
//!   the reader datasource (`BaseDatabaseMeta.getMaxId`, via `BaseQueryTool.getMaxIdVal`;
//!   `NULL` or an error reads as 0) and takes `startId` from the job's `incStartId`. A time
//!   increment (`incrementType` 2) passes `incStartTime` and the trigger time (the admin
//!   server's clock, milliseconds cut off) with the job's `replaceParamType`.
//! - `datax-admin/.../service/impl/AdminBizImpl.java` (`updateIncrementParam`): after a
//!   successful run only, `incStartId` becomes that run's `max(id)` and `incStartTime` that
//!   run's trigger time; a failed run leaves the mark, so the next run retries the window.
//! - `datax-executor/.../service/command/BuildCommand.java`: the values reach DataX as
//!   `datax.py -p "<replaceParam>"`, the user's `replaceParam` being a `String.format`
//!   pattern such as `-DlastTime='%s' -DcurrentTime='%s'` or `-DstartId='%s' -DendId='%s'`.
//!   The single quotes there are shell quoting (datax.py runs the command with
//!   `shell=True`), so the values arrive **without** quotes. `replaceParamType` is
//!   `Timestamp` (Unix seconds, the default) or a `SimpleDateFormat` pattern
//!   (`yyyy-MM-dd HH:mm:ss`, `yyyy/MM/dd HH:mm:ss`, `yyyy-MM-dd`, ...); a space in a
//!   formatted time is turned into `%` (issue #367 reports the resulting SQL errors).
//! - DataX itself (`alibaba/DataX`, `common/.../util/StrUtil.replaceVariable`, called from
//!   `Configuration.from`): every `$name` or `${name}` (`(\$)\{?(\w+)\}?`) in the whole job
//!   text is replaced by the `-Dname=` system property, as plain text; an unset one is left
//!   as written.
//! - `doc/datax-web/increment-desc.md`: the documented SQL is
//!   `operationDate >= FROM_UNIXTIME(${lastTime}) and operationDate < FROM_UNIXTIME(${currentTime})`
//!   (time, Unix seconds) and `id >= ${startId} and id < ${endId}` (id); with a date
//!   format users write the quotes themselves: `update_time >= '${lastTime}'`.
//!
//! # The rules adopted here
//!
//! - The same four placeholders, `${startId}`/`${endId}` for an id increment and
//!   `${lastTime}`/`${currentTime}` for a time increment, in the reader's `where` and
//!   `connection[].querySql[]`. Only the `${name}` form: a bare `$lastTime` is refused with
//!   a hint, as is an unknown `${...}` (DataX would leave it and the SQL would fail later)
//!   and the other kind's pair. One of the four anywhere else in the job (a writer's
//!   `preSql`, say) is refused too: it would reach the database unreplaced.
//! - The window is `from` = the config's mark (its `start` on the first run), `to` = the
//!   current value read on the reader at the run's start ([`current_value_sql`]); the mark
//!   moves to `to` only after a successful run ([`advances`] says whether there is
//!   anything to run). With placeholders the user's own bounds apply, so both DataX-Web
//!   habits work: `>= ${startId} AND < ${endId}` (the DataX-Web doc; the largest id waits
//!   for the next run) and `> ${startId} AND <= ${endId}`; each row is read once either way
//!   because the next window starts where this one ended.
//! - Without placeholders, table mode gets the condition added to `where`: ids
//!   `column > from AND column <= to` (the mark is the last id copied), times
//!   `column >= 'from' AND column < 'to'` (a row stamped in `to`'s second is left for the
//!   next window, whose `from` is `to`). A `querySql` cannot be amended and is refused.
//! - Values: ids are 64-bit integers, substituted bare. Times are
//!   `YYYY-MM-DD HH:MM:SS` (second precision), substituted as the SQL literal
//!   `'YYYY-MM-DD HH:MM:SS'`, or bare when the placeholder already sits inside quotes
//!   (`'${lastTime}'`, DataX-Web's habit), so nothing is quoted twice. There is no Unix
//!   seconds mode: `FROM_UNIXTIME(${lastTime})` is refused with a hint rather than fed a
//!   date string. Marks are parsed and re-rendered before they are spliced into SQL, so a
//!   stored mark cannot carry SQL.
//! - Time comes from the reader database's clock, not the worker's (DataX-Web issue #423:
//!   the executor's clock differs from the database's), read as the session's local time
//!   like the `DATETIME`/`timestamp` values it is compared with. As with any time
//!   increment, a row whose stamp is older than its transaction's commit can be missed.
//! - The table `MAX(id)` is read from is the setting's `table`, else the reader's first
//!   table; an empty table (`NULL`) means no window (`to` = `from`).

use std::{collections::BTreeSet, fmt};

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::endpoint::DbKind;

/// The canonical text of a time mark.
pub const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";
/// An id increment's first lower bound when the setting has no `start`.
pub const DEFAULT_ID_START: &str = "0";
/// A time increment's first lower bound when the setting has no `start`.
pub const DEFAULT_TIME_START: &str = "1970-01-01 00:00:00";

/// The placeholders of both kinds, for telling "the other kind" from "unknown".
const ALL_PLACEHOLDERS: [&str; 4] = ["startId", "endId", "lastTime", "currentTime"];

/// What grows: an id (DataX-Web's 主键自增) or a time (时间自增).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncrementKind {
    Id,
    Time,
}

impl IncrementKind {
    /// The setting's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            IncrementKind::Id => "id",
            IncrementKind::Time => "time",
        }
    }

    /// DataX-Web's placeholder names for the window's lower and upper bound.
    pub fn placeholders(self) -> [&'static str; 2] {
        match self {
            IncrementKind::Id => ["startId", "endId"],
            IncrementKind::Time => ["lastTime", "currentTime"],
        }
    }

    fn default_start(self) -> &'static str {
        match self {
            IncrementKind::Id => DEFAULT_ID_START,
            IncrementKind::Time => DEFAULT_TIME_START,
        }
    }

    fn other(self) -> IncrementKind {
        match self {
            IncrementKind::Id => IncrementKind::Time,
            IncrementKind::Time => IncrementKind::Id,
        }
    }
}

impl fmt::Display for IncrementKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A config's incremental setting (stored as JSON on the config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incremental {
    /// `"id"` or `"time"`.
    pub kind: IncrementKind,
    /// The column whose values grow: a name, `table.column`, or names quoted with `` ` ``
    /// or `"`.
    pub column: String,
    /// The table `MAX(column)` is read from (id increments); default: the reader's first
    /// table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// The first run's lower bound: an integer for ids (default `0`), a
    /// `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DD` for times (default `1970-01-01 00:00:00`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
}

impl Incremental {
    /// Checks the setting; the error names the field and why.
    pub fn validate(&self) -> Result<(), String> {
        if !is_column_name(self.column.trim()) {
            return Err(format!(
                "column: {:?} is not a column name: a name, table.column, or names quoted with ` or \"",
                self.column
            ));
        }
        if let Some(table) = &self.table
            && !is_column_name(table.trim())
        {
            return Err(format!(
                "table: {table:?} is not a table name: a name, schema.table, or names quoted with ` or \" (leave it out for the reader's first table)"
            ));
        }
        if let Some(start) = &self.start {
            Mark::parse(self.kind, start).map_err(|reason| format!("start: {reason}"))?;
        }
        Ok(())
    }

    /// The first run's lower bound when there is no mark yet, in its canonical text.
    pub fn initial_mark(&self) -> String {
        let start = self.start.as_deref().unwrap_or(self.kind.default_start());
        // An invalid start is `validate`'s to report; it is returned as written rather
        // than replaced by a default that would silently copy more than asked.
        Mark::parse(self.kind, start).map_or_else(|_| start.to_string(), |m| m.to_string())
    }

    /// The table the current value is read from: the setting's, else the reader's first.
    pub fn source_table<'a>(&'a self, first_reader_table: &'a str) -> &'a str {
        self.table
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .unwrap_or(first_reader_table)
    }
}

/// One run's window, as mark texts: ids read `from < value <= to` and times
/// `from <= value < to` when the engine adds the condition; with placeholders the job's
/// own SQL says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub from: String,
    pub to: String,
}

/// Why a window cannot be applied; each names the setting, the mark or the JSON path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncrementalError {
    #[error("incremental setting: {0}")]
    Setting(String),
    #[error("{kind} mark {value:?}: {reason}")]
    Mark {
        kind: IncrementKind,
        value: String,
        reason: String,
    },
    #[error("{path}: {message}")]
    Shape { path: String, message: String },
    #[error(
        "{path}: ${{{name}}} is not a placeholder of incremental sync: ${{startId}}/${{endId}} (id) or ${{lastTime}}/${{currentTime}} (time)"
    )]
    UnknownPlaceholder { path: String, name: String },
    #[error(
        "{path}: ${{{name}}} belongs to a {other} increment; this config increments by {kind}: use {pair}"
    )]
    OtherKind {
        path: String,
        name: String,
        kind: IncrementKind,
        other: IncrementKind,
        pair: String,
    },
    #[error("{path}: {message}")]
    Placeholder { path: String, message: String },
    #[error(
        "{path}: querySql needs the placeholders ({pair}): the engine cannot add a condition to a query"
    )]
    QueryNeedsPlaceholders { path: String, pair: String },
}

/// A parsed mark: what is spliced into SQL is always re-rendered from this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Mark {
    Id(i64),
    Time(NaiveDateTime),
}

impl Mark {
    fn parse(kind: IncrementKind, text: &str) -> Result<Mark, String> {
        let text = text.trim();
        match kind {
            IncrementKind::Id => text
                .parse::<i64>()
                .map(Mark::Id)
                .map_err(|_| format!("{text:?} is not a whole number (64-bit)")),
            IncrementKind::Time => NaiveDateTime::parse_from_str(text, TIME_FORMAT)
                .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
                .or_else(|_| {
                    NaiveDate::parse_from_str(text, "%Y-%m-%d")
                        .map(|d| d.and_time(chrono::NaiveTime::MIN))
                })
                .map(Mark::Time)
                .map_err(|_| format!("{text:?} is not a time: YYYY-MM-DD HH:MM:SS or YYYY-MM-DD")),
        }
    }

    fn parse_err(kind: IncrementKind, text: &str) -> Result<Mark, IncrementalError> {
        Mark::parse(kind, text).map_err(|reason| IncrementalError::Mark {
            kind,
            value: text.to_string(),
            reason,
        })
    }

    /// The value as SQL: ids bare; times as a quoted literal unless already in quotes.
    fn sql(self, in_quotes: bool) -> String {
        match self {
            Mark::Time(_) if !in_quotes => format!("'{self}'"),
            _ => self.to_string(),
        }
    }
}

impl fmt::Display for Mark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mark::Id(id) => write!(f, "{id}"),
            Mark::Time(t) => write!(f, "{}", t.format(TIME_FORMAT)),
        }
    }
}

/// True when `to` is past `from` (ids numerically, times as timestamps): the window holds
/// something to read and the mark may move forward. A clock that went back or an emptied
/// table gives false, so the mark never moves backwards.
pub fn advances(inc: &Incremental, from: &str, to: &str) -> Result<bool, IncrementalError> {
    Ok(Mark::parse_err(inc.kind, to)? > Mark::parse_err(inc.kind, from)?)
}

/// The SQL that reads the window's upper bound on the reader, run once at a run's start.
/// It returns one text column: for times the database's own clock at second precision as
/// `YYYY-MM-DD HH:MM:SS`; for ids `MAX(column)` of `table` as a 64-bit integer text, or
/// `NULL` for an empty table (then the window is empty: `to` = `from`).
///
/// `table` is spliced as written, as the reader's own SELECTs splice the job's tables;
/// the column is the validated setting's.
pub fn current_value_sql(kind: DbKind, inc: &Incremental, table: &str) -> String {
    let column = inc.column.trim();
    let table = table.trim();
    match (inc.kind, kind) {
        // NOW() has second precision without an fsp argument, so no rounding up past the
        // rows that exist.
        (IncrementKind::Time, DbKind::Mysql) => {
            "SELECT DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s')".to_string()
        }
        // to_char drops the fraction (truncates), so `to` is never ahead of the clock.
        (IncrementKind::Time, DbKind::Postgresql) => {
            "SELECT to_char(LOCALTIMESTAMP, 'YYYY-MM-DD HH24:MI:SS')".to_string()
        }
        (IncrementKind::Id, DbKind::Mysql) => {
            format!("SELECT CAST(MAX({column}) AS CHAR) FROM {table}")
        }
        (IncrementKind::Id, DbKind::Postgresql) => {
            format!("SELECT MAX({column})::int8::text FROM {table}")
        }
    }
}

/// The placeholder names (`lastTime`, not `${lastTime}`) in the reader's `where` and
/// `querySql`s, each once, in order of appearance; any name, known or not. A document of
/// another shape has none.
pub fn placeholders(doc: &Json) -> Vec<String> {
    let Some(parameter) = reader_parameter(doc) else {
        return Vec::new();
    };
    let mut names: Vec<String> = Vec::new();
    for (_, text) in sql_texts(parameter) {
        for found in scan(text).unwrap_or_default() {
            if !names.contains(&found.name) {
                names.push(found.name);
            }
        }
    }
    names
}

/// Applies a window to a DataX job document and returns the rewritten copy; only the
/// reader's `where` and `querySql` strings change (see the module doc for the rules).
pub fn apply(doc: &Json, inc: &Incremental, window: &Window) -> Result<Json, IncrementalError> {
    inc.validate().map_err(IncrementalError::Setting)?;
    let from = Mark::parse_err(inc.kind, &window.from)?;
    let to = Mark::parse_err(inc.kind, &window.to)?;
    let mut out = doc.clone();
    let parameter = reader_parameter_mut(&mut out)?;
    let texts = collect_texts(parameter)?;

    // The four names are checked everywhere else first: a placeholder left in a writer's
    // preSql would reach the database as written.
    let skip: BTreeSet<String> = texts.iter().map(|t| t.path.clone()).collect();
    if let Some(path) = known_placeholder_elsewhere(doc, "", &skip) {
        return Err(IncrementalError::Placeholder {
            path,
            message: "holds an incremental placeholder; only the reader's where and querySql are substituted".into(),
        });
    }

    let [lower, upper] = inc.kind.placeholders();
    let pair = format!("${{{lower}}} and ${{{upper}}}");
    let mut scanned = Vec::with_capacity(texts.len());
    for text in &texts {
        let found = scan(&text.value).map_err(|message| IncrementalError::Placeholder {
            path: text.path.clone(),
            message,
        })?;
        check_placeholders(inc.kind, text, &found, &pair)?;
        scanned.push(found);
    }

    let any_placeholder = scanned.iter().any(|found| !found.is_empty());
    let mut rewritten: Vec<Option<String>> = vec![None; texts.len()];
    if any_placeholder {
        // Every text that decides what is read must be windowed, or that part would be
        // copied whole on every run.
        for (text, found) in texts.iter().zip(&scanned) {
            let needed = match text.role {
                Role::Query => true,
                Role::Where => parameter_reads_tables(parameter),
            };
            if needed && found.is_empty() {
                return Err(IncrementalError::Placeholder {
                    path: text.path.clone(),
                    message: format!(
                        "holds neither {pair} while the job's other SQL does: it would be read whole on every run"
                    ),
                });
            }
        }
        if parameter_reads_tables(parameter) && !texts.iter().any(|t| t.role == Role::Where) {
            return Err(IncrementalError::Placeholder {
                path: "job.content[0].reader.parameter.where".into(),
                message: format!(
                    "is missing while the querySql holds {pair}: the tables would be read whole on every run"
                ),
            });
        }
        for (i, (text, found)) in texts.iter().zip(&scanned).enumerate() {
            if !found.is_empty() {
                rewritten[i] = Some(substitute(&text.value, found, |f| {
                    let mark = if f.name == lower { from } else { to };
                    mark.sql(f.in_quotes)
                }));
            }
        }
    } else {
        if let Some(query) = texts.iter().find(|t| t.role == Role::Query) {
            return Err(IncrementalError::QueryNeedsPlaceholders {
                path: query.path.clone(),
                pair,
            });
        }
        let column = inc.column.trim();
        let condition = match inc.kind {
            IncrementKind::Id => format!("{column} > {from} AND {column} <= {to}"),
            IncrementKind::Time => format!("{column} >= '{from}' AND {column} < '{to}'"),
        };
        let old = texts
            .iter()
            .find(|t| t.role == Role::Where)
            .map(|t| t.value.trim())
            .filter(|w| !w.is_empty());
        let new_where = match old {
            Some(old) => format!("({old}) AND {condition}"),
            None => condition,
        };
        parameter.insert("where".into(), Json::String(new_where));
    }

    for (text, new) in texts.iter().zip(rewritten) {
        if let Some(new) = new {
            write_text(parameter, text, new);
        }
    }
    Ok(out)
}

/// Which reader string a text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Where,
    Query,
}

/// A reader string that may hold placeholders, with where it sits.
struct Text {
    role: Role,
    path: String,
    value: String,
    /// `connection` index and, for a list, the `querySql` index (`None`: a single string).
    at: Option<(usize, Option<usize>)>,
}

const PARAMETER_PATH: &str = "job.content[0].reader.parameter";

fn reader_parameter(doc: &Json) -> Option<&Map<String, Json>> {
    doc.get("job")?
        .get("content")?
        .get(0)?
        .get("reader")?
        .get("parameter")?
        .as_object()
}

/// The reader's parameter object, or the first step of the path that is missing.
fn reader_parameter_mut(doc: &mut Json) -> Result<&mut Map<String, Json>, IncrementalError> {
    let shape = |path: &str, message: &str| IncrementalError::Shape {
        path: path.to_string(),
        message: message.to_string(),
    };
    let content = doc
        .get_mut("job")
        .and_then(|job| job.get_mut("content"))
        .and_then(Json::as_array_mut)
        .ok_or_else(|| {
            shape(
                "job.content",
                "is required: a list with one reader and writer pair",
            )
        })?;
    let reader = content
        .first_mut()
        .and_then(|pair| pair.get_mut("reader"))
        .and_then(Json::as_object_mut)
        .ok_or_else(|| shape("job.content[0].reader", "is required"))?;
    let name = reader
        .get("name")
        .and_then(Json::as_str)
        .unwrap_or_default();
    if !matches!(name, "mysqlreader" | "postgresqlreader") {
        return Err(shape(
            "job.content[0].reader.name",
            "incremental sync reads a database: mysqlreader or postgresqlreader",
        ));
    }
    reader
        .get_mut("parameter")
        .and_then(Json::as_object_mut)
        .ok_or_else(|| shape(PARAMETER_PATH, "is required"))
}

/// The reader's `where` and `querySql` strings, leniently (for [`placeholders`]).
fn sql_texts(parameter: &Map<String, Json>) -> Vec<(String, &str)> {
    let mut out = Vec::new();
    if let Some(Json::String(w)) = parameter.get("where") {
        out.push((format!("{PARAMETER_PATH}.where"), w.as_str()));
    }
    if let Some(Json::Array(connections)) = parameter.get("connection") {
        for (i, connection) in connections.iter().enumerate() {
            let path = format!("{PARAMETER_PATH}.connection[{i}].querySql");
            match connection.get("querySql") {
                Some(Json::String(q)) => out.push((path, q.as_str())),
                Some(Json::Array(items)) => {
                    for (j, item) in items.iter().enumerate() {
                        if let Json::String(q) = item {
                            out.push((format!("{path}[{j}]"), q.as_str()));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// The reader's `where` and `querySql` strings, strictly: a value of another type is an
/// error here rather than a text silently left unwindowed.
fn collect_texts(parameter: &Map<String, Json>) -> Result<Vec<Text>, IncrementalError> {
    let not_string = |path: String| IncrementalError::Shape {
        path,
        message: "must be a string".into(),
    };
    let mut out = Vec::new();
    match parameter.get("where") {
        None | Some(Json::Null) => {}
        Some(Json::String(w)) => out.push(Text {
            role: Role::Where,
            path: format!("{PARAMETER_PATH}.where"),
            value: w.clone(),
            at: None,
        }),
        Some(_) => return Err(not_string(format!("{PARAMETER_PATH}.where"))),
    }
    let connections = match parameter.get("connection") {
        Some(Json::Array(items)) => items.as_slice(),
        _ => {
            return Err(IncrementalError::Shape {
                path: format!("{PARAMETER_PATH}.connection"),
                message: "is required: a list of {jdbcUrl, table} or {jdbcUrl, querySql}".into(),
            });
        }
    };
    for (i, connection) in connections.iter().enumerate() {
        let path = format!("{PARAMETER_PATH}.connection[{i}].querySql");
        match connection.get("querySql") {
            None | Some(Json::Null) => {}
            Some(Json::String(q)) => out.push(Text {
                role: Role::Query,
                path,
                value: q.clone(),
                at: Some((i, None)),
            }),
            Some(Json::Array(items)) => {
                for (j, item) in items.iter().enumerate() {
                    let Json::String(q) = item else {
                        return Err(not_string(format!("{path}[{j}]")));
                    };
                    out.push(Text {
                        role: Role::Query,
                        path: format!("{path}[{j}]"),
                        value: q.clone(),
                        at: Some((i, Some(j))),
                    });
                }
            }
            Some(_) => return Err(not_string(path)),
        }
    }
    Ok(out)
}

/// True when some connection reads tables (has no `querySql`), so `where` applies.
fn parameter_reads_tables(parameter: &Map<String, Json>) -> bool {
    parameter
        .get("connection")
        .and_then(Json::as_array)
        .is_some_and(|connections| {
            connections.iter().any(|c| match c.get("querySql") {
                None | Some(Json::Null) => true,
                Some(Json::Array(items)) => items.is_empty(),
                Some(Json::String(q)) => q.trim().is_empty(),
                Some(_) => false,
            })
        })
}

fn write_text(parameter: &mut Map<String, Json>, text: &Text, value: String) {
    match text.at {
        None => {
            parameter.insert("where".into(), Json::String(value));
        }
        Some((i, j)) => {
            let slot = parameter
                .get_mut("connection")
                .and_then(|c| c.get_mut(i))
                .and_then(|c| c.get_mut("querySql"))
                .and_then(|q| match j {
                    Some(j) => q.get_mut(j),
                    None => Some(q),
                });
            // The slot was found by `collect_texts` on this same document.
            if let Some(slot) = slot {
                *slot = Json::String(value);
            }
        }
    }
}

/// One `${name}` in a SQL text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    /// Byte range of `${name}`.
    start: usize,
    end: usize,
    name: String,
    /// Inside a '...', "..." or `...` span: the value goes in without quotes of its own.
    in_quotes: bool,
}

/// Finds the `${name}`s of a SQL text, tracking quotes so that `'${lastTime}'` is known
/// to be quoted already. A doubled quote (`''`) closes and reopens, which leaves the state
/// right; backslash escapes and comments are not understood (rare next to a placeholder).
fn scan(text: &str) -> Result<Vec<Found>, String> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    // Bytes are compared only with ASCII, so a multi-byte character never matches and
    // every slice below starts and ends on a character boundary.
    while i < bytes.len() {
        let byte = bytes[i];
        if byte == b'$' && bytes.get(i + 1) == Some(&b'{') {
            let Some(close) = text[i + 2..].find('}') else {
                return Err(format!(
                    "the \"${{\" at character {} is never closed with \"}}\"",
                    text[..i].chars().count() + 1
                ));
            };
            let end = i + 2 + close + 1;
            found.push(Found {
                start: i,
                end,
                name: text[i + 2..end - 1].to_string(),
                in_quotes: quote.is_some(),
            });
            i = end;
            continue;
        }
        match quote {
            Some(q) if byte == q => quote = None,
            None if matches!(byte, b'\'' | b'"' | b'`') => quote = Some(byte),
            _ => {}
        }
        i += 1;
    }
    Ok(found)
}

/// Refuses unknown and other-kind names, DataX's bare `$name` form, and a time placeholder
/// as the only argument of a Unix-seconds function.
fn check_placeholders(
    kind: IncrementKind,
    text: &Text,
    found: &[Found],
    pair: &str,
) -> Result<(), IncrementalError> {
    for f in found {
        if kind.placeholders().contains(&f.name.as_str()) {
            continue;
        }
        if kind.other().placeholders().contains(&f.name.as_str()) {
            return Err(IncrementalError::OtherKind {
                path: text.path.clone(),
                name: f.name.clone(),
                kind,
                other: kind.other(),
                pair: pair.to_string(),
            });
        }
        return Err(IncrementalError::UnknownPlaceholder {
            path: text.path.clone(),
            name: f.name.clone(),
        });
    }
    if let Some(name) = bare_placeholder(&text.value) {
        return Err(IncrementalError::Placeholder {
            path: text.path.clone(),
            message: format!("write ${{{name}}}: the bare ${name} form is not substituted"),
        });
    }
    if kind == IncrementKind::Time {
        for f in found.iter().filter(|f| !f.in_quotes) {
            let before = text.value[..f.start].trim_end().to_ascii_lowercase();
            let sole_argument = text.value[f.end..].trim_start().starts_with(')');
            if sole_argument
                && (before.ends_with("from_unixtime(") || before.ends_with("to_timestamp("))
            {
                return Err(IncrementalError::Placeholder {
                    path: text.path.clone(),
                    message: format!(
                        "${{{name}}} is a 'YYYY-MM-DD HH:MM:SS' time here, not Unix seconds (DataX-Web's Timestamp format): compare the column with ${{{name}}} directly, or convert the column (e.g. FROM_UNIXTIME(column) >= ${{{name}}})",
                        name = f.name
                    ),
                });
            }
        }
    }
    Ok(())
}

/// The first of the four names written as DataX's bare `$name` (not followed by a word
/// character).
fn bare_placeholder(text: &str) -> Option<&'static str> {
    ALL_PLACEHOLDERS.into_iter().find(|name| {
        let needle = format!("${name}");
        text.match_indices(&needle).any(|(at, _)| {
            !text[at + needle.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    })
}

/// The path of the first string outside `skip` holding one of the four `${name}`s.
fn known_placeholder_elsewhere(
    value: &Json,
    path: &str,
    skip: &BTreeSet<String>,
) -> Option<String> {
    if skip.contains(path) {
        return None;
    }
    match value {
        Json::String(s) => ALL_PLACEHOLDERS
            .iter()
            .any(|name| s.contains(&format!("${{{name}}}")))
            .then(|| path.to_string()),
        Json::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| known_placeholder_elsewhere(item, &format!("{path}[{i}]"), skip)),
        Json::Object(map) => map.iter().find_map(|(key, item)| {
            let child = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            known_placeholder_elsewhere(item, &child, skip)
        }),
        _ => None,
    }
}

fn substitute(text: &str, found: &[Found], value: impl Fn(&Found) -> String) -> String {
    let mut out = String::with_capacity(text.len() + found.len() * 24);
    let mut at = 0;
    for f in found {
        out.push_str(&text[at..f.start]);
        out.push_str(&value(f));
        at = f.end;
    }
    out.push_str(&text[at..]);
    out
}

/// A column (or table) name as it may be spliced into SQL: one to three dot-separated
/// parts, each a bare name (letters, digits, `_`, `$`) or a name quoted with `` ` `` or
/// `"` (anything but that quote and control characters inside).
fn is_column_name(text: &str) -> bool {
    let mut rest = text;
    let mut parts = 0;
    loop {
        let taken = match rest.chars().next() {
            Some(q @ ('`' | '"')) => match rest[1..].find(q) {
                Some(len) if len > 0 && !rest[1..1 + len].chars().any(char::is_control) => len + 2,
                _ => return false,
            },
            Some(_) => rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
                .unwrap_or(rest.len()),
            None => 0,
        };
        if taken == 0 {
            return false;
        }
        parts += 1;
        rest = &rest[taken..];
        match rest.strip_prefix('.') {
            Some(next) if parts < 3 => rest = next,
            Some(_) => return false,
            None => return rest.is_empty(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::job::{Job, ReaderSpec};

    fn id(column: &str) -> Incremental {
        Incremental {
            kind: IncrementKind::Id,
            column: column.into(),
            table: None,
            start: None,
        }
    }

    fn time(column: &str) -> Incremental {
        Incremental {
            kind: IncrementKind::Time,
            ..id(column)
        }
    }

    fn window(from: &str, to: &str) -> Window {
        Window {
            from: from.into(),
            to: to.into(),
        }
    }

    /// A mysqlreader → mysqlwriter job as job.rs's tests write them; `connection` is the
    /// reader's first connection entry (without the jdbcUrl) and `extra` more reader
    /// parameters.
    fn job_with(connection: Json, extra: Json) -> Json {
        let mut entry = connection;
        entry["jdbcUrl"] = json!(["jdbc:mysql://10.0.0.5:3306/shop"]);
        let mut parameter = json!({
            "username": "root", "password": "secret",
            "column": ["id", "name"],
            "connection": [entry],
        });
        if let (Some(p), Json::Object(more)) = (parameter.as_object_mut(), extra) {
            p.extend(more);
        }
        json!({"job": {"setting": {"speed": {"channel": 1}}, "content": [{
            "reader": {"name": "mysqlreader", "parameter": parameter},
            "writer": {"name": "mysqlwriter", "parameter": {
                "username": "root", "password": "secret", "column": ["id", "name"],
                "connection": [{"jdbcUrl": "jdbc:mysql://10.0.0.6:3306/dw", "table": ["orders"]}]}}
        }]}})
    }

    fn table_job(where_clause: Option<&str>) -> Json {
        let extra = where_clause.map_or(json!({}), |w| json!({"where": w}));
        job_with(json!({"table": ["orders"]}), extra)
    }

    fn query_job(queries: Json) -> Json {
        let mut doc = job_with(json!({"querySql": queries}), json!({}));
        // DataX ignores `column` with querySql; leave it out as a querySql job would.
        if let Some(p) = doc["job"]["content"][0]["reader"]["parameter"].as_object_mut() {
            p.remove("column");
        }
        doc
    }

    fn reader_where(doc: &Json) -> &str {
        doc["job"]["content"][0]["reader"]["parameter"]["where"]
            .as_str()
            .expect("a where string")
    }

    fn query(doc: &Json, j: usize) -> &str {
        doc["job"]["content"][0]["reader"]["parameter"]["connection"][0]["querySql"][j]
            .as_str()
            .expect("a querySql string")
    }

    #[test]
    fn substitutes_the_id_pair_in_where_and_query_sql_bare() {
        let doc = table_job(Some("id >= ${startId} AND id < ${endId}"));
        let out = apply(&doc, &id("id"), &window("10", "25")).expect("applies");
        assert_eq!(reader_where(&out), "id >= 10 AND id < 25");

        let doc = query_job(json!([
            "select id, name from orders where id > ${startId} and id <= ${endId}"
        ]));
        let out = apply(&doc, &id("id"), &window("0", "7")).expect("applies");
        assert_eq!(
            query(&out, 0),
            "select id, name from orders where id > 0 and id <= 7"
        );
        // A placeholder already in quotes keeps the user's quotes only.
        let doc = table_job(Some("id > '${startId}' AND id <= '${endId}'"));
        let out = apply(&doc, &id("id"), &window("3", "4")).expect("applies");
        assert_eq!(reader_where(&out), "id > '3' AND id <= '4'");
    }

    #[test]
    fn substitutes_the_time_pair_quoting_only_unquoted_placeholders() {
        let w = window("2024-05-01 00:00:00", "2024-05-02 08:30:00");
        let doc = table_job(Some(
            "updated_at >= ${lastTime} AND updated_at < ${currentTime}",
        ));
        let out = apply(&doc, &time("updated_at"), &w).expect("applies");
        assert_eq!(
            reader_where(&out),
            "updated_at >= '2024-05-01 00:00:00' AND updated_at < '2024-05-02 08:30:00'"
        );

        // DataX-Web's habit: the user writes the quotes.
        let doc = query_job(json!([
            "select id, name from orders where updated_at >= '${lastTime}' and updated_at < '${currentTime}'",
            "select id, name from refunds where ts >= ${lastTime} and ts < \"${currentTime}\""
        ]));
        let out = apply(&doc, &time("updated_at"), &w).expect("applies");
        assert_eq!(
            query(&out, 0),
            "select id, name from orders where updated_at >= '2024-05-01 00:00:00' and updated_at < '2024-05-02 08:30:00'"
        );
        assert_eq!(
            query(&out, 1),
            "select id, name from refunds where ts >= '2024-05-01 00:00:00' and ts < \"2024-05-02 08:30:00\""
        );
        // A literal with a doubled quote before the placeholder does not confuse the scan.
        let doc = table_job(Some(
            "note <> 'it''s' AND ts >= ${lastTime} AND ts < ${currentTime}",
        ));
        let out = apply(&doc, &time("ts"), &w).expect("applies");
        assert_eq!(
            reader_where(&out),
            "note <> 'it''s' AND ts >= '2024-05-01 00:00:00' AND ts < '2024-05-02 08:30:00'"
        );
    }

    #[test]
    fn touches_nothing_but_the_reader_strings() {
        let doc = table_job(Some("id > ${startId} AND id <= ${endId}"));
        let out = apply(&doc, &id("id"), &window("1", "2")).expect("applies");
        let mut expected = doc.clone();
        expected["job"]["content"][0]["reader"]["parameter"]["where"] = json!("id > 1 AND id <= 2");
        assert_eq!(out, expected);
        // A single-string querySql stays a single string.
        let doc = query_job(json!(
            "select * from t where id > ${startId} and id <= ${endId}"
        ));
        let out = apply(&doc, &id("id"), &window("1", "2")).expect("applies");
        assert_eq!(
            out["job"]["content"][0]["reader"]["parameter"]["connection"][0]["querySql"],
            json!("select * from t where id > 1 and id <= 2")
        );
    }

    #[test]
    fn refuses_unknown_and_other_kind_placeholders_by_name() {
        let doc = table_job(Some("ts >= ${lastTime} AND ts < ${currentTime}"));
        let error = apply(&doc, &id("id"), &window("1", "2")).expect_err("other kind");
        assert!(
            matches!(&error, IncrementalError::OtherKind { name, .. } if name == "lastTime"),
            "{error:?}"
        );
        let text = error.to_string();
        assert!(
            text.contains("${lastTime}") && text.contains("${startId}"),
            "{text}"
        );
        assert!(
            text.starts_with("job.content[0].reader.parameter.where"),
            "{text}"
        );

        let doc = query_job(json!([
            "select * from t where id > ${startId} and day = ${bizdate}"
        ]));
        let error = apply(&doc, &id("id"), &window("1", "2")).expect_err("unknown");
        assert!(
            matches!(&error, IncrementalError::UnknownPlaceholder { name, path }
                if name == "bizdate" && path.ends_with("connection[0].querySql[0]")),
            "{error:?}"
        );
        assert!(error.to_string().contains("${bizdate}"));

        let doc = table_job(Some("id > ${startId"));
        let error = apply(&doc, &id("id"), &window("1", "2")).expect_err("unterminated");
        assert!(error.to_string().contains("never closed"), "{error}");

        let doc = table_job(Some("id > $startId AND id <= $endId"));
        let error = apply(&doc, &id("id"), &window("1", "2")).expect_err("bare form");
        assert!(error.to_string().contains("write ${startId}"), "{error}");

        let doc = query_job(json!([
            "select * from t where ts >= FROM_UNIXTIME(${lastTime}) and ts < FROM_UNIXTIME(${currentTime})"
        ]));
        let error = apply(&doc, &time("ts"), &window("2024-01-01", "2024-01-02"))
            .expect_err("unix seconds");
        assert!(error.to_string().contains("not Unix seconds"), "{error}");
    }

    #[test]
    fn refuses_a_placeholder_outside_the_reader_strings() {
        let mut doc = table_job(Some("id > ${startId} AND id <= ${endId}"));
        doc["job"]["content"][0]["writer"]["parameter"]["preSql"] =
            json!(["delete from orders where id > ${startId}"]);
        let error = apply(&doc, &id("id"), &window("1", "2")).expect_err("preSql");
        assert!(
            error
                .to_string()
                .starts_with("job.content[0].writer.parameter.preSql[0]:"),
            "{error}"
        );
    }

    #[test]
    fn refuses_a_query_left_unwindowed_next_to_windowed_sql() {
        let doc = query_job(json!([
            "select * from t where id > ${startId} and id <= ${endId}",
            "select * from u"
        ]));
        let error = apply(&doc, &id("id"), &window("1", "2")).expect_err("half windowed");
        assert!(
            error.to_string().starts_with(
                "job.content[0].reader.parameter.connection[0].querySql[1]: holds neither"
            ),
            "{error}"
        );
    }

    #[test]
    fn adds_the_condition_to_table_mode_without_placeholders() {
        let out = apply(&table_job(None), &id("id"), &window("100", "250")).expect("applies");
        assert_eq!(reader_where(&out), "id > 100 AND id <= 250");

        let out = apply(
            &table_job(Some("status = 'paid' OR status = 'sent'")),
            &id("`orders`.`id`"),
            &window("100", "250"),
        )
        .expect("applies");
        assert_eq!(
            reader_where(&out),
            "(status = 'paid' OR status = 'sent') AND `orders`.`id` > 100 AND `orders`.`id` <= 250"
        );

        let out = apply(
            &table_job(Some("  ")),
            &time("updated_at"),
            &window("1970-01-01 00:00:00", "2024-05-02 08:30:00"),
        )
        .expect("applies");
        assert_eq!(
            reader_where(&out),
            "updated_at >= '1970-01-01 00:00:00' AND updated_at < '2024-05-02 08:30:00'"
        );
    }

    #[test]
    fn refuses_query_sql_without_placeholders() {
        let doc = query_job(json!(["select id, name from orders"]));
        let error = apply(&doc, &id("id"), &window("1", "2")).expect_err("no placeholders");
        assert_eq!(
            error.to_string(),
            "job.content[0].reader.parameter.connection[0].querySql[0]: querySql needs the placeholders (${startId} and ${endId}): the engine cannot add a condition to a query"
        );
    }

    #[test]
    fn refuses_bad_windows_and_other_readers() {
        let doc = table_job(None);
        let error = apply(&doc, &id("id"), &window("1", "2; drop table x")).expect_err("bad to");
        assert!(
            matches!(&error, IncrementalError::Mark { kind: IncrementKind::Id, value, .. } if value == "2; drop table x"),
            "{error:?}"
        );
        let error =
            apply(&doc, &time("ts"), &window("yesterday", "2024-01-01")).expect_err("bad from");
        assert!(error.to_string().contains("\"yesterday\""), "{error}");

        let mut stream = doc.clone();
        stream["job"]["content"][0]["reader"]["name"] = json!("streamreader");
        let error = apply(&stream, &id("id"), &window("1", "2")).expect_err("stream");
        assert!(
            error.to_string().starts_with("job.content[0].reader.name"),
            "{error}"
        );
    }

    #[test]
    fn validates_columns_tables_and_starts() {
        for good in [
            "id",
            "`id`",
            "\"Order Id\"",
            "orders.id",
            "shop.orders.id",
            "`o`.`id`",
            "名前",
        ] {
            assert_eq!(id(good).validate(), Ok(()), "{good}");
        }
        for bad in [
            "id; drop table x",
            "",
            "id desc",
            "a.b.c.d",
            "`id",
            "``",
            "id)",
            "t.",
            "\"x\"y",
            "MAX(id)",
        ] {
            let error = id(bad).validate().expect_err(bad);
            assert!(error.starts_with("column:"), "{error}");
        }
        let mut with_table = id("id");
        with_table.table = Some("orders o".into());
        assert!(
            with_table
                .validate()
                .expect_err("table")
                .starts_with("table:")
        );

        let mut bad_id = id("id");
        bad_id.start = Some("12abc".into());
        assert!(bad_id.validate().expect_err("start").starts_with("start:"));
        let mut bad_time = time("ts");
        bad_time.start = Some("2024-13-01 00:00:00".into());
        assert!(
            bad_time
                .validate()
                .expect_err("start")
                .starts_with("start:")
        );
        bad_time.start = Some("2024-05-01 10:00".into());
        assert!(bad_time.validate().is_err());
    }

    #[test]
    fn initial_marks_default_and_normalise() {
        assert_eq!(id("id").initial_mark(), "0");
        assert_eq!(time("ts").initial_mark(), "1970-01-01 00:00:00");
        let mut start = id("id");
        start.start = Some(" +42 ".into());
        assert_eq!(start.initial_mark(), "42");
        let mut start = time("ts");
        start.start = Some("2024-05-01".into());
        assert_eq!(start.initial_mark(), "2024-05-01 00:00:00");
        start.start = Some("2024-05-01T10:11:12".into());
        assert_eq!(start.initial_mark(), "2024-05-01 10:11:12");
    }

    #[test]
    fn the_setting_reads_and_writes_as_json() {
        let inc: Incremental =
            serde_json::from_value(json!({"kind": "time", "column": "updated_at"})).expect("json");
        assert_eq!(inc, time("updated_at"));
        assert_eq!(
            serde_json::to_value(&inc).expect("json"),
            json!({"kind": "time", "column": "updated_at"})
        );
        let error = serde_json::from_value::<Incremental>(
            json!({"kind": "id", "column": "id", "colum": "x"}),
        )
        .expect_err("unknown field");
        assert!(error.to_string().contains("colum"), "{error}");
        assert!(
            serde_json::from_value::<Incremental>(json!({"kind": "Date", "column": "d"})).is_err()
        );
    }

    #[test]
    fn advances_compares_numerically_and_by_time() {
        let ids = id("id");
        assert_eq!(advances(&ids, "9", "10"), Ok(true));
        assert_eq!(advances(&ids, "10", "10"), Ok(false));
        assert_eq!(advances(&ids, "100", "9"), Ok(false));
        assert!(matches!(
            advances(&ids, "1", "1.5"),
            Err(IncrementalError::Mark { .. })
        ));
        let times = time("ts");
        assert_eq!(
            advances(&times, "2024-05-01 23:59:59", "2024-05-02 00:00:00"),
            Ok(true)
        );
        assert_eq!(
            advances(&times, "2024-05-02", "2024-05-02 00:00:00"),
            Ok(false)
        );
        assert_eq!(
            advances(&times, "2024-05-02 00:00:01", "2024-05-02 00:00:00"),
            Ok(false)
        );
        assert!(advances(&times, "2024-05-02 00:00:00", "now").is_err());
    }

    #[test]
    fn current_value_sql_per_database() {
        let times = time("updated_at");
        assert_eq!(
            current_value_sql(DbKind::Mysql, &times, "orders"),
            "SELECT DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s')"
        );
        assert_eq!(
            current_value_sql(DbKind::Postgresql, &times, "orders"),
            "SELECT to_char(LOCALTIMESTAMP, 'YYYY-MM-DD HH24:MI:SS')"
        );
        let ids = id(" `id` ");
        assert_eq!(
            current_value_sql(DbKind::Mysql, &ids, "shop.orders"),
            "SELECT CAST(MAX(`id`) AS CHAR) FROM shop.orders"
        );
        assert_eq!(
            current_value_sql(DbKind::Postgresql, &id("id"), "public.orders"),
            "SELECT MAX(id)::int8::text FROM public.orders"
        );
        let mut from_table = id("id");
        assert_eq!(from_table.source_table("orders"), "orders");
        from_table.table = Some("order_ids".into());
        assert_eq!(from_table.source_table("orders"), "order_ids");
    }

    #[test]
    fn lists_the_placeholders_of_the_reader_strings() {
        let doc = query_job(json!([
            "select * from t where id > ${startId} and id <= ${endId}",
            "select * from u where id > ${startId} and d = ${bizdate}"
        ]));
        assert_eq!(placeholders(&doc), ["startId", "endId", "bizdate"]);
        assert!(placeholders(&table_job(Some("a = 1"))).is_empty());
        assert!(placeholders(&json!({"job": {}})).is_empty());
    }

    #[test]
    fn applied_jobs_still_parse() {
        let doc = table_job(Some("status = 'paid'"));
        let out = apply(&doc, &id("id"), &window("5", "9")).expect("applies");
        let job = Job::parse(&out).expect("still a valid job");
        let ReaderSpec::Db(reader) = &job.reader else {
            panic!("a db reader")
        };
        assert_eq!(
            reader.where_clause.as_deref(),
            Some("(status = 'paid') AND id > 5 AND id <= 9")
        );

        let doc = query_job(json!([
            "select id, name from orders where updated_at >= '${lastTime}' and updated_at < ${currentTime}"
        ]));
        let out = apply(
            &doc,
            &time("updated_at"),
            &window("2024-05-01 00:00:00", "2024-05-02 00:00:00"),
        )
        .expect("applies");
        let job = Job::parse(&out).expect("still a valid job");
        let ReaderSpec::Db(reader) = &job.reader else {
            panic!("a db reader")
        };
        assert_eq!(
            reader.connections[0].query_sql,
            [
                "select id, name from orders where updated_at >= '2024-05-01 00:00:00' and updated_at < '2024-05-02 00:00:00'"
            ]
        );
    }
}
