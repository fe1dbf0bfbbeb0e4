//! The job-config and run routes, under the original's paths: `/api/config/save`,
//! `update`, `delete`, `query`, `list`, `exec`, `logs`, `log`.
//!
//! A config is DataX job JSON, given whole (`content`) or made by the builder (`reader`,
//! `writer`, `channel`, `errorLimit`). Either way it is validated by sync-engine (every
//! problem named by its JSON path) and stored with its readers and writers naming saved
//! datasources (`datasourceId`): a submitted job that carries DataX's `jdbcUrl`,
//! `username` and `password` has each connection matched to a saved datasource of the
//! same type, host, port, database and user, or saved as a new one, so no stored job JSON
//! (in `json_config.content` or in S3 at `config_path`) holds a password.
//!
//! `exec` queues a run (an `exec_log` row, then one SQS message for sync-worker) and
//! answers 202 at once; `logs` lists runs, `log` reads one run's log by lines.

use axum::{
    Json,
    extract::{Request, State},
    http::StatusCode,
};
use chrono::NaiveDateTime;
use common::{
    db::mysql_error_number,
    http::{
        ApiBody, ApiError, ApiQuery, ApiResult, Envelope, ErrorEnvelope, Paged, auth::Principal, ok,
    },
    sqs::OutgoingMessage,
};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json2;
use sqlx::{MySql, MySqlConnection, QueryBuilder};
use sync_engine::{
    endpoint::DbKind,
    incremental::{self, Incremental, Window},
    job::{self, BuilderReader, BuilderWriter, Job, Problem, Side},
    store::status,
    vault::PasswordCipher,
};
use utoipa::{IntoParams, ToSchema};

use crate::{
    AppState,
    datasource::{
        Deleted, IdBody, IdQuery, Listing, SyncPaging, given, now, one_id, query_and_body,
    },
    times::utc_text,
};

const CONFIG_NAME_MAX: usize = 128;
const ER_DUP_ENTRY: u16 = 1062;
const ER_NO_REFERENCED_ROW: u16 = 1452;
/// The largest job JSON stored (`content MEDIUMTEXT` holds 16 MiB; a job is a few KiB).
const CONTENT_MAX_BYTES: usize = 1 << 20;

/// A config to save or update: DataX job JSON (`content`, an object or its text), or the
/// builder's `reader` and `writer`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigIn {
    /// Update only: the config to change.
    #[serde(default)]
    #[schema(value_type = Option<u64>, minimum = 1)]
    pub id: Option<Json2>,
    #[schema(max_length = 128)]
    pub config_name: Option<String>,
    /// A whole DataX job JSON (`{"job": …}`), as an object or as its text.
    #[schema(value_type = Option<Object>)]
    pub content: Option<Json2>,
    /// The builder's reader.
    #[schema(value_type = Option<Object>)]
    pub reader: Option<Json2>,
    /// The builder's writer.
    #[schema(value_type = Option<Object>)]
    pub writer: Option<Json2>,
    /// The builder's `setting.speed.channel` (default 1).
    #[schema(minimum = 1, maximum = 32)]
    pub channel: Option<u32>,
    /// The builder's `setting.errorLimit.record`.
    #[serde(rename = "errorLimit")]
    pub error_limit: Option<u64>,
    /// Incremental sync: `{"kind": "id" | "time", "column": …, "table": …, "start": …}`.
    /// Each run copies from the last successful run's mark to the value read on the
    /// reader at its start, through DataX-Web's placeholders in the reader's `where` /
    /// `querySql` (`${startId}`/`${endId}`, `${lastTime}`/`${currentTime}`) or, without
    /// them, a condition added to `where`. On update: absent keeps it, `null` removes it,
    /// a changed setting starts again from its `start`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    pub incremental: Option<Json2>,
}

/// A field given as `null` is `Some(Null)`, an absent one `None` (serde's default folds
/// both into `None`).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Json2>, D::Error> {
    Json2::deserialize(deserializer).map(Some)
}

/// A stored config.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConfigOut {
    pub id: u64,
    pub config_name: String,
    /// The S3 key of the job JSON (the original's file address).
    pub config_path: String,
    /// The job JSON, with datasource references instead of credentials.
    #[schema(value_type = Object)]
    pub content: Json2,
    pub reader_datasource_id: Option<u64>,
    pub writer_datasource_id: Option<u64>,
    pub owner: String,
    pub insert_time: String,
    pub update_time: String,
    /// The incremental setting, if any.
    #[schema(value_type = Option<Object>)]
    pub incremental: Option<Json2>,
    /// The upper bound of the last successful incremental run (the next run's lower
    /// bound); `null` before the first.
    pub high_water_mark: Option<String>,
    /// What DataX would ignore or default (save and update only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub warnings: Vec<Problem>,
}

#[derive(sqlx::FromRow)]
struct ConfigRow {
    id: u64,
    config_name: String,
    config_path: String,
    content: String,
    reader_datasource_id: Option<u64>,
    writer_datasource_id: Option<u64>,
    owner: String,
    insert_time: NaiveDateTime,
    update_time: NaiveDateTime,
    incremental: Option<Json2>,
    high_water_mark: Option<String>,
}

impl ConfigRow {
    fn out(self, warnings: Vec<Problem>) -> ConfigOut {
        ConfigOut {
            id: self.id,
            content: serde_json::from_str(&self.content).unwrap_or(Json2::Null),
            config_name: self.config_name,
            config_path: self.config_path,
            reader_datasource_id: self.reader_datasource_id,
            writer_datasource_id: self.writer_datasource_id,
            owner: self.owner,
            insert_time: utc_text(self.insert_time),
            update_time: utc_text(self.update_time),
            incremental: self.incremental,
            high_water_mark: self.high_water_mark,
            warnings,
        }
    }
}

const SELECT_CONFIG: &str = "SELECT id, config_name, config_path, content, reader_datasource_id, \
     writer_datasource_id, owner, insert_time, update_time, incremental, high_water_mark \
     FROM json_config";

async fn config_by_id(conn: &mut MySqlConnection, id: u64) -> Result<Option<ConfigRow>, ApiError> {
    Ok(
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT_CONFIG} WHERE id = ?")))
            .bind(id)
            .fetch_optional(conn)
            .await?,
    )
}

fn no_config(id: u64) -> ApiError {
    ApiError::NotFound(format!("no job config {id}"))
}

fn problems_error(problems: &[Problem]) -> ApiError {
    let field = problems
        .first()
        .map_or("content".to_owned(), |p| p.path.clone());
    let reason = problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    ApiError::invalid(field, reason)
}

/// The incremental setting `given` for job `doc`, checked against the job: the
/// placeholders the job uses must be the setting's, and a job with placeholders needs one.
fn incremental_of(given: Option<&Json2>, doc: &Json2) -> Result<Option<Incremental>, ApiError> {
    let setting = match given {
        None | Some(Json2::Null) => None,
        Some(value) => {
            let setting: Incremental = serde_json::from_value(value.clone())
                .map_err(|e| {
                    ApiError::invalid(
                        "incremental",
                        format!(
                            "{e}: the setting is {{\"kind\": \"id\" | \"time\", \"column\": …, \"table\": …, \"start\": …}}"
                        ),
                    )
                })?;
            setting
                .validate()
                .map_err(|reason| ApiError::invalid("incremental", reason))?;
            Some(setting)
        }
    };
    match &setting {
        Some(setting) => {
            let mark = setting.initial_mark();
            let window = Window {
                from: mark.clone(),
                to: mark,
            };
            incremental::apply(doc, setting, &window)
                .map_err(|e| ApiError::invalid("incremental", e.to_string()))?;
        }
        None => {
            let used = incremental::placeholders(doc);
            if !used.is_empty() {
                return Err(ApiError::invalid(
                    "incremental",
                    format!(
                        "the job uses ${{{}}}: an incremental setting ({{\"kind\": \"id\" | \"time\", \"column\": …}}) says what they stand for",
                        used.join("}, ${")
                    ),
                ));
            }
        }
    }
    Ok(setting)
}

fn config_name(value: Option<&str>) -> Result<String, ApiError> {
    let name = given(value).ok_or_else(|| ApiError::invalid("config_name", "required"))?;
    if name.chars().count() > CONFIG_NAME_MAX {
        return Err(ApiError::invalid(
            "config_name",
            format!("at most {CONFIG_NAME_MAX} characters"),
        ));
    }
    Ok(name.to_owned())
}

/// The job JSON a body describes, validated; its inline logins replaced by datasource ids
/// (matched or saved on `conn`, inside the caller's transaction).
async fn job_of(
    conn: &mut MySqlConnection,
    cipher: &PasswordCipher,
    body: &ConfigIn,
    owner: &str,
) -> Result<(Json2, Job), ApiError> {
    let mut doc = match (&body.content, &body.reader, &body.writer) {
        (Some(content), None, None) => match content {
            Json2::String(text) => serde_json::from_str(text)
                .map_err(|e| ApiError::invalid("content", format!("not JSON: {e}")))?,
            Json2::Object(_) => content.clone(),
            _ => {
                return Err(ApiError::invalid(
                    "content",
                    "a DataX job JSON object, or its text",
                ));
            }
        },
        (None, Some(reader), Some(writer)) => {
            let reader: BuilderReader = serde_json::from_value(reader.clone())
                .map_err(|e| ApiError::invalid("reader", e.to_string()))?;
            let writer: BuilderWriter = serde_json::from_value(writer.clone())
                .map_err(|e| ApiError::invalid("writer", e.to_string()))?;
            let reader_kind =
                datasource_kind(conn, reader.datasource_id, "reader.datasource_id").await?;
            let writer_kind =
                datasource_kind(conn, writer.datasource_id, "writer.datasource_id").await?;
            job::build(
                &reader,
                reader_kind,
                &writer,
                writer_kind,
                body.channel,
                body.error_limit,
            )
        }
        (None, None, None) => {
            return Err(ApiError::invalid(
                "content",
                "required: a DataX job JSON, or the builder's reader and writer",
            ));
        }
        _ => {
            return Err(ApiError::invalid(
                "content",
                "either content, or reader and writer: not both",
            ));
        }
    };
    if doc.to_string().len() > CONTENT_MAX_BYTES {
        return Err(ApiError::invalid("content", "larger than 1 MiB"));
    }
    let parsed = Job::parse(&doc).map_err(|p| problems_error(&p.0))?;
    let logins = job::inline_logins(&parsed).map_err(|p| problems_error(&p.0))?;
    for login in logins {
        let id = match_or_save(conn, cipher, &login, owner).await?;
        job::use_datasource(&mut doc, login.side, id);
    }
    let job = Job::parse(&doc).map_err(|p| problems_error(&p.0))?;
    Ok((doc, job))
}

async fn datasource_kind(
    conn: &mut MySqlConnection,
    id: u64,
    field: &str,
) -> Result<DbKind, ApiError> {
    let kind: Option<String> = sqlx::query_scalar("SELECT db_type FROM datasource WHERE id = ?")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    let kind = kind.ok_or_else(|| ApiError::invalid(field, format!("no datasource {id}")))?;
    kind.parse()
        .map_err(|e: String| ApiError::invalid(field, e))
}

/// The saved datasource a job's own connection is, or a new one saved for it.
async fn match_or_save(
    conn: &mut MySqlConnection,
    cipher: &PasswordCipher,
    login: &job::InlineLogin,
    owner: &str,
) -> Result<u64, ApiError> {
    let url = &login.url;
    let found: Option<u64> = sqlx::query_scalar(
        "SELECT id FROM datasource WHERE db_type = ? AND host = ? AND port = ? AND db_name = ? \
         AND username = ? ORDER BY id LIMIT 1",
    )
    .bind(url.kind.as_str())
    .bind(&url.host)
    .bind(url.port)
    .bind(&url.database)
    .bind(&login.username)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = found {
        return Ok(id);
    }
    let stored = cipher.encrypt(secrecy::ExposeSecret::expose_secret(&login.password));
    let base = format!(
        "{}@{}:{}/{}",
        login.username, url.host, url.port, url.database
    );
    let base: String = base.chars().take(110).collect();
    let now = now();
    for attempt in 0..5 {
        let name = if attempt == 0 {
            base.clone()
        } else {
            format!("{base} ({attempt})")
        };
        let saved = sqlx::query(
            "INSERT INTO datasource (source_name, description, project_name, db_type, host, port, \
             db_name, username, password, owner, insert_time, update_time) \
             VALUES (?, 'saved from a submitted job JSON', '', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&name)
        .bind(url.kind.as_str())
        .bind(&url.host)
        .bind(url.port)
        .bind(&url.database)
        .bind(&login.username)
        .bind(&stored)
        .bind(owner)
        .bind(now)
        .bind(now)
        .execute(&mut *conn)
        .await;
        match saved {
            Ok(done) => return Ok(done.last_insert_id()),
            Err(error) if mysql_error_number(&error) == Some(ER_DUP_ENTRY) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(ApiError::Conflict(format!(
        "datasource names like {base:?} are all taken"
    )))
}

fn side_id(job: &Job, side: Side) -> Option<u64> {
    job.datasource_ids()
        .into_iter()
        .find(|(s, _)| *s == side)
        .map(|(_, id)| id)
}

fn stored_error(error: sqlx::Error, name: &str) -> ApiError {
    match mysql_error_number(&error) {
        Some(ER_DUP_ENTRY) => ApiError::Conflict(format!("a job config named {name:?} exists")),
        Some(ER_NO_REFERENCED_ROW) => {
            ApiError::invalid("content", "names a datasourceId that does not exist")
        }
        _ => error.into(),
    }
}

async fn put_config(state: &AppState, key: &str, doc: &Json2) -> Result<(), ApiError> {
    state
        .s3
        .put_object()
        .bucket(&state.settings.bucket)
        .key(key)
        .content_type("application/json")
        .body(serde_json::to_vec_pretty(doc).unwrap_or_default().into())
        .send()
        .await
        .map_err(|e| {
            ApiError::Unavailable(format!(
                "the config store (S3) did not take the job JSON: {}",
                common::error::error_chain(&e)
            ))
        })?;
    Ok(())
}

/// Saves a job config from DataX job JSON or from the builder.
#[utoipa::path(post, path = "/api/config/save", operation_id = "config_save", tag = "config",
    request_body(content = ConfigIn, description = "config_name plus content (DataX job JSON), or plus the builder's reader and writer"),
    responses(
        (status = 200, description = "The stored config", body = Envelope<ConfigOut>),
        (status = 400, description = "A problem of the job, named by its JSON path in data.field", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks sync:admin", body = ErrorEnvelope),
        (status = 409, description = "A config of that name exists", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 503, description = "The config store is unavailable", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)),
    security(("bearer" = ["sync:admin"])))]
pub async fn save(
    State(state): State<AppState>,
    principal: Principal,
    ApiBody(body): ApiBody<ConfigIn>,
) -> ApiResult<ConfigOut> {
    let name = config_name(body.config_name.as_deref())?;
    let mut tx = state.pool.begin().await?;
    let (doc, job) = job_of(&mut tx, &state.cipher, &body, &principal.name).await?;
    let incremental = incremental_of(body.incremental.as_ref(), &doc)?;
    let now = now();
    let id = sqlx::query(
        "INSERT INTO json_config (config_name, config_path, content, reader_datasource_id, \
         writer_datasource_id, owner, insert_time, update_time, incremental) \
         VALUES (?, '', ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&name)
    .bind(doc.to_string())
    .bind(side_id(&job, Side::Reader))
    .bind(side_id(&job, Side::Writer))
    .bind(&principal.name)
    .bind(now)
    .bind(now)
    .bind(
        incremental
            .as_ref()
            .map(|i| serde_json::to_value(i).unwrap_or(Json2::Null)),
    )
    .execute(&mut *tx)
    .await
    .map_err(|e| stored_error(e, &name))?
    .last_insert_id();
    let path = format!("configs/{id}.json");
    sqlx::query("UPDATE json_config SET config_path = ? WHERE id = ?")
        .bind(&path)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    // S3 before the commit: a config the store refused is not saved either.
    put_config(&state, &path, &doc).await?;
    let row = config_by_id(&mut tx, id)
        .await?
        .ok_or_else(|| no_config(id))?;
    tx.commit().await?;
    tracing::info!(id, config_name = %name, owner = %principal.name, "job config saved");
    Ok(ok(row.out(job.warnings)))
}

/// Replaces a config's job (and name).
#[utoipa::path(post, path = "/api/config/update", operation_id = "config_update", tag = "config",
    request_body(content = ConfigIn, description = "id, plus config_name and/or the job as for save"),
    responses(
        (status = 200, description = "The stored config", body = Envelope<ConfigOut>),
        (status = 400, description = "A problem of the job, named by its JSON path", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks sync:admin", body = ErrorEnvelope),
        (status = 404, description = "No such config", body = ErrorEnvelope),
        (status = 409, description = "A config of that name exists", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 503, description = "The config store is unavailable", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)),
    security(("bearer" = ["sync:admin"])))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    ApiBody(body): ApiBody<ConfigIn>,
) -> ApiResult<ConfigOut> {
    let id_text = match &body.id {
        Some(Json2::Number(n)) => Some(n.to_string()),
        Some(Json2::String(s)) => Some(s.clone()),
        _ => None,
    };
    let id =
        one_id(None, id_text.as_deref())?.ok_or_else(|| ApiError::invalid("id", "required"))?;
    let mut tx = state.pool.begin().await?;
    let current = config_by_id(&mut tx, id)
        .await?
        .ok_or_else(|| no_config(id))?;
    let name = match body.config_name.as_deref() {
        Some(_) => config_name(body.config_name.as_deref())?,
        None => current.config_name.clone(),
    };
    let has_job = body.content.is_some() || body.reader.is_some() || body.writer.is_some();
    let (doc, job) = if has_job {
        job_of(&mut tx, &state.cipher, &body, &principal.name).await?
    } else {
        let doc: Json2 = serde_json::from_str(&current.content).unwrap_or(Json2::Null);
        let job = Job::parse(&doc).map_err(|p| problems_error(&p.0))?;
        (doc, job)
    };
    let given = match &body.incremental {
        Some(given) => Some(given),
        None => current.incremental.as_ref(),
    };
    let incremental =
        incremental_of(given, &doc)?.map(|i| serde_json::to_value(i).unwrap_or(Json2::Null));
    // A changed setting starts again from its start; an unchanged one keeps its mark.
    let keep_mark = incremental.is_some() && incremental == current.incremental;
    sqlx::query(
        "UPDATE json_config SET config_name = ?, content = ?, reader_datasource_id = ?, \
         writer_datasource_id = ?, update_time = ?, incremental = ?, \
         high_water_mark = IF(?, high_water_mark, NULL) WHERE id = ?",
    )
    .bind(&name)
    .bind(doc.to_string())
    .bind(side_id(&job, Side::Reader))
    .bind(side_id(&job, Side::Writer))
    .bind(now())
    .bind(&incremental)
    .bind(keep_mark)
    .bind(id)
    .execute(&mut *tx)
    .await
    .map_err(|e| stored_error(e, &name))?;
    put_config(&state, &current.config_path, &doc).await?;
    let row = config_by_id(&mut tx, id)
        .await?
        .ok_or_else(|| no_config(id))?;
    tx.commit().await?;
    tracing::info!(id, config_name = %name, "job config updated");
    Ok(ok(row.out(job.warnings)))
}

/// Deletes a config and its runs for good (refused while one of its runs is queued or running).
#[utoipa::path(post, path = "/api/config/delete", operation_id = "config_delete", tag = "config", params(IdQuery),
    request_body(content = Option<IdBody>, description = "The id as JSON or a form, or none with ?id="),
    responses(
        (status = 200, description = "The id deleted", body = Envelope<Deleted>),
        (status = 400, description = "No id, or a bad one", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks sync:admin", body = ErrorEnvelope),
        (status = 404, description = "No such config", body = ErrorEnvelope),
        (status = 409, description = "A run of the config is queued or running", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)),
    security(("bearer" = ["sync:admin"])))]
pub async fn delete(State(state): State<AppState>, request: Request) -> ApiResult<Deleted> {
    let (query, body) = query_and_body::<IdQuery, IdBody>(request).await?;
    let id = one_id(
        query.id.as_deref(),
        body.as_ref().and_then(|b| b.id.as_deref()),
    )?
    .ok_or_else(|| ApiError::invalid("id", "required: in the body or as ?id="))?;
    let mut tx = state.pool.begin().await?;
    // The config row locked first, so no exec can queue a run between the check and the delete.
    let path: Option<String> =
        sqlx::query_scalar("SELECT config_path FROM json_config WHERE id = ? FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let path = path.ok_or_else(|| no_config(id))?;
    let active: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM exec_log WHERE config_id = ? AND status IN ('queued', 'running')",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    if active > 0 {
        return Err(ApiError::Conflict(format!(
            "job config {id} has {active} run(s) queued or running: delete it when they end"
        )));
    }
    sqlx::query(
        "DELETE r FROM exec_range r JOIN exec_log l ON l.id = r.exec_log_id WHERE l.config_id = ?",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM exec_log WHERE config_id = ?")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM json_config WHERE id = ?")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    // The stored JSON goes too; a failure here leaves an orphan object, not a config.
    if let Err(error) = state
        .s3
        .delete_object()
        .bucket(&state.settings.bucket)
        .key(&path)
        .send()
        .await
    {
        tracing::warn!(id, key = %path, error = %common::error::error_chain(&error), "the config's S3 object was not deleted");
    }
    tracing::info!(id, "job config deleted");
    Ok(ok(Deleted { id }))
}

/// Deletes a config and its runs for good (refused while one of its runs is queued or running).
#[utoipa::path(delete, path = "/api/config/delete", operation_id = "config_delete_by_method", tag = "config", params(IdQuery),
    request_body(content = Option<IdBody>, description = "The id as JSON or a form, or none with ?id="),
    responses(
        (status = 200, description = "The id deleted", body = Envelope<Deleted>),
        (status = 400, description = "No id, or a bad one", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks sync:admin", body = ErrorEnvelope),
        (status = 404, description = "No such config", body = ErrorEnvelope),
        (status = 409, description = "A run of the config is queued or running", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)),
    security(("bearer" = ["sync:admin"])))]
pub async fn delete_by_method(state: State<AppState>, request: Request) -> ApiResult<Deleted> {
    delete(state, request).await
}

/// A page of configs, by id.
#[utoipa::path(get, path = "/api/config/query", operation_id = "config_query", tag = "config", params(Paged<SyncPaging>),
    responses(
        (status = 200, description = "A page of configs", body = Envelope<Listing<ConfigOut>>),
        (status = 400, description = "A bad parameter", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks sync:admin", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)),
    security(("bearer" = ["sync:admin"])))]
pub async fn query(
    State(state): State<AppState>,
    Paged(page, _): Paged<SyncPaging>,
) -> ApiResult<Listing<ConfigOut>> {
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM json_config")
        .fetch_one(&state.pool)
        .await?;
    let rows: Vec<ConfigRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT_CONFIG} ORDER BY id LIMIT ? OFFSET ?"
    )))
    .bind(page.limit())
    .bind(page.offset())
    .fetch_all(&state.pool)
    .await?;
    Ok(ok(Listing {
        page: page.page,
        page_size: page.size,
        total: total as u64,
        items: rows.into_iter().map(|r| r.out(Vec::new())).collect(),
    }))
}

/// Every config, by id.
#[utoipa::path(get, path = "/api/config/list", operation_id = "config_list", tag = "config",
    responses(
        (status = 200, description = "All configs", body = Envelope<Vec<ConfigOut>>),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks sync:admin", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)),
    security(("bearer" = ["sync:admin"])))]
pub async fn list(State(state): State<AppState>) -> ApiResult<Vec<ConfigOut>> {
    let rows: Vec<ConfigRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT_CONFIG} ORDER BY id")))
            .fetch_all(&state.pool)
            .await?;
    Ok(ok(rows.into_iter().map(|r| r.out(Vec::new())).collect()))
}

/// A queued run.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Queued {
    /// The run's id (`exec_log.id`), for `/api/config/log?id=`.
    pub exec_log_id: u64,
    pub config_id: u64,
    pub status: String,
}

/// Queues a run of a config; sync-worker runs it. Answers at once.
#[utoipa::path(post, path = "/api/config/exec", operation_id = "config_exec", tag = "config", params(IdQuery),
    responses(
        (status = 202, description = "The run is queued", body = Envelope<Queued>),
        (status = 400, description = "No id, or a bad one", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks sync:admin", body = ErrorEnvelope),
        (status = 404, description = "No such config", body = ErrorEnvelope),
        (status = 503, description = "The run queue is unavailable; nothing was queued", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)),
    security(("bearer" = ["sync:admin"])))]
pub async fn exec(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<IdQuery>,
) -> Result<(StatusCode, Json<Envelope<Queued>>), ApiError> {
    let id = one_id(query.id.as_deref(), None)?
        .ok_or_else(|| ApiError::invalid("id", "required: ?id="))?;
    let config: Option<(String, String)> =
        sqlx::query_as("SELECT config_name, config_path FROM json_config WHERE id = ?")
            .bind(id)
            .fetch_optional(&state.pool)
            .await?;
    let (name, path) = config.ok_or_else(|| no_config(id))?;
    let exec_name = format!(
        "sync-worker: DataX job s3://{}/{path} ({name})",
        state.settings.bucket
    );
    let run_id = sqlx::query(
        "INSERT INTO exec_log (config_id, exec_name, status, owner, insert_date) VALUES (?, ?, 'queued', ?, ?)",
    )
    .bind(id)
    .bind(&exec_name)
    .bind(&principal.name)
    .bind(now())
    .execute(&state.pool)
    .await?
    .last_insert_id();
    let message = OutgoingMessage::new(serde_json::json!({ "exec_log_id": run_id }).to_string());
    if let Err(error) = state.producer.send_all(vec![message]).await {
        // Nothing half-done: the run that cannot reach the queue is not left queued.
        let _ = sqlx::query("DELETE FROM exec_log WHERE id = ? AND status = 'queued'")
            .bind(run_id)
            .execute(&state.pool)
            .await;
        tracing::error!(config_id = id, error = %error, "the run could not be queued");
        return Err(ApiError::Unavailable(
            "the run queue did not take the run; nothing was queued, try again".into(),
        ));
    }
    tracing::info!(config_id = id, exec_log_id = run_id, "run queued");
    Ok((
        StatusCode::ACCEPTED,
        ok(Queued {
            exec_log_id: run_id,
            config_id: id,
            status: status::QUEUED.into(),
        }),
    ))
}

/// One run, without its log.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct RunOut {
    pub id: u64,
    pub config_id: u64,
    pub exec_name: String,
    /// queued, running, succeeded, failed or stopped (the deadline).
    pub status: String,
    pub records_read: u64,
    pub records_written: u64,
    pub records_failed: u64,
    pub bytes_read: u64,
    pub log_lines: u32,
    pub log_key: Option<String>,
    pub error: Option<String>,
    pub owner: String,
    #[sqlx(skip)]
    pub insert_date: String,
    #[serde(skip)]
    #[schema(ignore)]
    pub inserted: Option<NaiveDateTime>,
}

/// `?config_id=&status=` of the run list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunFilter {
    pub config_id: Option<u64>,
    /// queued, running, succeeded, failed or stopped.
    pub status: Option<String>,
}

const RUN_STATUSES: [&str; 5] = [
    status::QUEUED,
    status::RUNNING,
    status::SUCCEEDED,
    status::FAILED,
    status::STOPPED,
];

fn run_filter(query: &mut QueryBuilder<MySql>, filter: &RunFilter) -> Result<(), ApiError> {
    query.push(" WHERE 1 = 1");
    if let Some(config) = filter.config_id {
        query.push(" AND config_id = ").push_bind(config);
    }
    if let Some(wanted) = given(filter.status.as_deref()) {
        if !RUN_STATUSES.contains(&wanted) {
            return Err(ApiError::invalid(
                "status",
                format!("one of {}", RUN_STATUSES.join(", ")),
            ));
        }
        query.push(" AND status = ").push_bind(wanted.to_owned());
    }
    Ok(())
}

/// A page of runs, newest first.
#[utoipa::path(get, path = "/api/config/logs", operation_id = "config_logs", tag = "config", params(RunFilter, Paged<SyncPaging>),
    responses(
        (status = 200, description = "A page of runs", body = Envelope<Listing<RunOut>>),
        (status = 400, description = "A bad parameter", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks sync:admin", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)),
    security(("bearer" = ["sync:admin"])))]
pub async fn logs(
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<RunFilter>,
    Paged(page, _): Paged<SyncPaging>,
) -> ApiResult<Listing<RunOut>> {
    let mut count = QueryBuilder::<MySql>::new("SELECT COUNT(*) FROM exec_log");
    run_filter(&mut count, &filter)?;
    let total: i64 = count.build_query_scalar().fetch_one(&state.pool).await?;
    let mut rows = QueryBuilder::<MySql>::new(
        "SELECT id, config_id, exec_name, status, records_read, records_written, records_failed, \
         bytes_read, log_lines, log_key, error, owner, insert_date AS inserted FROM exec_log",
    );
    run_filter(&mut rows, &filter)?;
    rows.push(" ORDER BY id DESC LIMIT ")
        .push_bind(page.limit())
        .push(" OFFSET ")
        .push_bind(page.offset());
    let mut items: Vec<RunOut> = rows.build_query_as().fetch_all(&state.pool).await?;
    for item in &mut items {
        item.insert_date = item.inserted.map(utc_text).unwrap_or_default();
    }
    Ok(ok(Listing {
        page: page.page,
        page_size: page.size,
        total: total as u64,
        items,
    }))
}

/// `?id=&from=&lines=` of one run's log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// The run (`exec_log.id`).
    pub id: Option<u64>,
    /// The first line to answer, from 1 (default 1).
    #[param(minimum = 1)]
    pub from: Option<u64>,
    /// How many lines (default 1000, at most 10000).
    #[param(minimum = 1, maximum = 10000)]
    pub lines: Option<u64>,
}

/// A run and some lines of its log.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LogOut {
    pub run: RunOut,
    /// DataX's summary and what a stopped run left, as JSON.
    #[schema(value_type = Object)]
    pub summary: Json2,
    pub from: u64,
    pub total_lines: u64,
    pub lines: Vec<String>,
    /// Whether lines follow the ones answered.
    pub more: bool,
}

/// One run's log, by lines (from S3 when it was too long for its row).
#[utoipa::path(get, path = "/api/config/log", operation_id = "config_log", tag = "config", params(LogQuery),
    responses(
        (status = 200, description = "The run and lines of its log", body = Envelope<LogOut>),
        (status = 400, description = "A bad parameter", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks sync:admin", body = ErrorEnvelope),
        (status = 404, description = "No such run", body = ErrorEnvelope),
        (status = 503, description = "The log store is unavailable", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)),
    security(("bearer" = ["sync:admin"])))]
pub async fn log(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> ApiResult<LogOut> {
    let id = query
        .id
        .filter(|id| *id >= 1)
        .ok_or_else(|| ApiError::invalid("id", "required: a run id ≥ 1"))?;
    let from = query.from.unwrap_or(1);
    if from == 0 {
        return Err(ApiError::invalid("from", "lines count from 1"));
    }
    let wanted = query.lines.unwrap_or(1000);
    if !(1..=10_000).contains(&wanted) {
        return Err(ApiError::invalid("lines", "1 to 10000"));
    }
    let mut run: RunOut = sqlx::query_as(
        "SELECT id, config_id, exec_name, status, records_read, records_written, records_failed, \
         bytes_read, log_lines, log_key, error, owner, insert_date AS inserted FROM exec_log WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("no run {id}")))?;
    run.insert_date = run.inserted.map(utc_text).unwrap_or_default();
    let (result, summary): (Option<String>, Option<Json2>) =
        sqlx::query_as("SELECT exec_result, summary FROM exec_log WHERE id = ?")
            .bind(id)
            .fetch_one(&state.pool)
            .await?;
    let text = match &run.log_key {
        Some(key) => {
            let object = state
                .s3
                .get_object()
                .bucket(&state.settings.bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| {
                    ApiError::Unavailable(format!(
                        "the log store (S3) did not answer: {}",
                        common::error::error_chain(&e)
                    ))
                })?;
            let bytes = object
                .body
                .collect()
                .await
                .map_err(|e| ApiError::Unavailable(format!("reading the log failed: {e}")))?;
            String::from_utf8_lossy(&bytes.into_bytes()).into_owned()
        }
        None => result.unwrap_or_default(),
    };
    let all: Vec<&str> = text.lines().collect();
    let start = usize::try_from(from - 1)
        .unwrap_or(usize::MAX)
        .min(all.len());
    let end = start.saturating_add(wanted as usize).min(all.len());
    Ok(ok(LogOut {
        run,
        summary: summary.unwrap_or(Json2::Null),
        from,
        total_lines: all.len() as u64,
        lines: all[start..end].iter().map(|l| (*l).to_owned()).collect(),
        more: end < all.len(),
    }))
}
