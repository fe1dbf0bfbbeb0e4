//! The datasource routes of the original (`/api/datasource/*`), behind a token with scope
//! [`crate::SCOPE_SYNC`]:
//!
//! - `save`, `update`, `delete` (POST or DELETE), `query` (a page), `list` (all): the
//!   saved connections, `source_name` unique, deletes physical (the original's to-do);
//! - `ping`: whether a database answers, from the original's body (`host`, `port`, `user`,
//!   `password`, `database`, `db_type`) or a saved datasource (`?id=`);
//! - `tables`, `columns`: a saved datasource's catalogue (`columns?id=&tableName=`).
//!
//! # Passwords
//! A password is stored only as [`PasswordCipher`](sync_engine::vault::PasswordCipher)
//! ciphertext and decrypted only to open a connection. No answer carries it: every
//! datasource shows [`PASSWORD_MASK`], ping answers never echo the request, and the
//! connection errors passed on (the drivers' messages) do not contain it. The request
//! bodies that hold one have no `Debug`, so they cannot be logged by accident.
//!
//! # Statuses
//! 409 for a duplicate `source_name` (MySQL 1062 on the unique key, so two concurrent saves
//! cannot both pass a check) and for deleting a datasource a job config uses (1451 on the
//! foreign keys); 403 ([`ApiError::Refused`]) for a host outside `SYNC_ALLOWED_HOSTS`, with
//! no connection attempted; a ping that fails otherwise answers 200 with
//! `reachable: false` and the class of failure, as it is the answer to the question asked;
//! `tables` and `columns` on a datasource that cannot be reached answer 503
//! ([`ApiError::Unavailable`]) with the class and the driver's message.

use std::fmt;

use axum::{
    body::{Body, Bytes},
    extract::{FromRequest, FromRequestParts, Request, State},
    http::StatusCode,
};
use chrono::{NaiveDateTime, SubsecRound, Utc};
use common::{
    db::mysql_error_number,
    http::{
        ApiBody, ApiError, ApiQuery, ApiResult, Envelope, ErrorEnvelope, PageRules, PageStyle,
        Paged, auth::Principal, ok,
    },
};
use secrecy::{ExposeSecret, SecretString};
use serde::{
    Deserialize, Deserializer, Serialize,
    de::{DeserializeOwned, Visitor},
};
use sqlx::{FromRow, MySql, MySqlConnection, QueryBuilder};
use sync_engine::{
    endpoint::{self, ALLOWED_HOSTS_VAR, CatalogError, ConnectFailure, DbKind, Endpoint},
    vault,
};
use utoipa::{IntoParams, ToSchema};

use crate::{AppState, times::utc_text};

/// What every answer shows instead of a password.
pub const PASSWORD_MASK: &str = "******";

/// The original's paging: `page` / `pageSize`, 10 rows by default, at most 100.
pub struct SyncPaging;

impl PageStyle for SyncPaging {
    const RULES: PageRules = PageRules::new("page", "pageSize", 10, 100);
}

// The column sizes of `datasource` (migration 20261202000001), in characters.
const SOURCE_NAME_MAX: usize = 128;
const DESCRIPTION_MAX: usize = 512;
const PROJECT_NAME_MAX: usize = 128;
const HOST_MAX: usize = 255;
const DB_NAME_MAX: usize = 128;
const USERNAME_MAX: usize = 128;
/// `password VARBINARY(1024)` holds the ciphertext: the password may have 995 bytes.
pub const PASSWORD_MAX_BYTES: usize = 1024 - vault::OVERHEAD;
/// A table as `columns` takes it: `table`, or `schema.table` on PostgreSQL.
const TABLE_NAME_MAX: usize = 128;

const ER_DUP_ENTRY: u16 = 1062;
const ER_ROW_IS_REFERENCED: u16 = 1451;

// ---------------------------------------------------------------------------------------
// Request fields

/// A flag given as a JSON boolean or as text (a form only has strings), read by [`flag`].
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FlexBool {
    Bool(bool),
    Text(String),
}

/// The flag `name`: `true`/`false`, or the text `true`, `false`, `1` or `0`.
fn flag(name: &'static str, value: Option<&FlexBool>) -> Result<Option<bool>, ApiError> {
    match value {
        None => Ok(None),
        Some(FlexBool::Bool(b)) => Ok(Some(*b)),
        Some(FlexBool::Text(text)) => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(Some(true)),
            "false" | "0" => Ok(Some(false)),
            _ => Err(ApiError::invalid(name, "must be true or false")),
        },
    }
}

/// Deserialises a whole number given as a number or as a string holding one (the
/// original sends `"port": "3306"`; a form or a query string only has strings) into its
/// text, parsed later so the error names the field. A fraction is kept as such and
/// refused then.
fn flex_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    struct Flex;
    impl<'de> Visitor<'de> for Flex {
        type Value = Option<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a whole number, or a string holding one")
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(Flex)
        }
        fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
            // `{:?}` keeps the fraction (3306.0 stays "3306.0"), which the parse refuses.
            Ok(Some(format!("{v:?}")))
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }
    }
    deserializer.deserialize_option(Flex)
}

/// A field's trimmed text, if given and not blank.
pub(crate) fn given(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// A required text of 1 to `max` characters (trimmed), without control characters.
fn required(field: &str, value: Option<&str>, max: usize) -> Result<String, ApiError> {
    let value = given(value).ok_or_else(|| ApiError::invalid(field, "required"))?;
    bounded(field, value, max)
}

/// An optional text of up to `max` characters (trimmed); absent or blank is empty.
fn optional(field: &str, value: Option<&str>, max: usize) -> Result<String, ApiError> {
    given(value).map_or(Ok(String::new()), |v| bounded(field, v, max))
}

fn bounded(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    if value.chars().count() > max {
        return Err(ApiError::invalid(
            field,
            format!("at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}

/// A host name or address: no white space anywhere (a pasted `db.example.com 3306`).
fn host(value: Option<&str>) -> Result<String, ApiError> {
    let host = required("host", value, HOST_MAX)?;
    if host.chars().any(char::is_whitespace) {
        return Err(ApiError::invalid("host", "must not contain spaces"));
    }
    Ok(host)
}

fn db_kind(value: Option<&str>) -> Result<DbKind, ApiError> {
    let text = given(value).ok_or_else(|| ApiError::invalid("db_type", "required"))?;
    text.parse()
        .map_err(|e: String| ApiError::invalid("db_type", e))
}

/// A port, if given (a number or a numeric string; blank is absent).
fn port(value: Option<&str>) -> Result<Option<u16>, ApiError> {
    given(value)
        .map(|text| {
            text.parse::<u16>().ok().filter(|p| *p >= 1).ok_or_else(|| {
                ApiError::invalid("port", format!("{text:?} is not a port 1 to 65535"))
            })
        })
        .transpose()
}

/// A row id, required.
fn id(value: Option<&str>) -> Result<u64, ApiError> {
    let text = given(value).ok_or_else(|| ApiError::invalid("id", "required"))?;
    text.parse::<u64>()
        .ok()
        .filter(|id| *id >= 1)
        .ok_or_else(|| ApiError::invalid("id", format!("{text:?} is not an id (1, 2, …)")))
}

/// A password as given (not trimmed: spaces may be part of it), bounded by the column.
fn password(value: Option<&str>) -> Result<String, ApiError> {
    let value = value.unwrap_or_default();
    if value.len() > PASSWORD_MAX_BYTES {
        return Err(ApiError::invalid(
            "password",
            format!("at most {PASSWORD_MAX_BYTES} bytes"),
        ));
    }
    Ok(value.to_owned())
}

/// The query string (`Q`) and the body (`B`, a form or JSON; `None` when empty) of a
/// request, for the routes that take `?id=` or a body, and DELETE with or without one.
pub(crate) async fn query_and_body<Q, B>(request: Request) -> Result<(Q, Option<B>), ApiError>
where
    Q: DeserializeOwned,
    B: DeserializeOwned,
{
    let (mut parts, body) = request.into_parts();
    let ApiQuery(query) = ApiQuery::<Q>::from_request_parts(&mut parts, &()).await?;
    // Read once within the route's body limit (DefaultBodyLimit is in the extensions).
    let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), &())
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest(format!("the body could not be read: {rejection}"))
            }
        })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok((query, None));
    }
    let ApiBody(body) =
        ApiBody::<B>::from_request(Request::from_parts(parts, Body::from(bytes)), &()).await?;
    Ok((query, Some(body)))
}

/// The id of `?id=` or of the body; both given, they must agree.
pub(crate) fn one_id(query: Option<&str>, body: Option<&str>) -> Result<Option<u64>, ApiError> {
    match (given(query), given(body)) {
        (None, None) => Ok(None),
        (Some(q), None) => id(Some(q)).map(Some),
        (None, Some(b)) => id(Some(b)).map(Some),
        (Some(q), Some(b)) => {
            let (q, b) = (id(Some(q))?, id(Some(b))?);
            if q == b {
                Ok(Some(q))
            } else {
                Err(ApiError::invalid(
                    "id",
                    format!("?id={q} and the body's id {b} differ"),
                ))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Rows and answers

/// A saved datasource as answered: the password is always [`PASSWORD_MASK`].
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DatasourceOut {
    pub id: u64,
    pub source_name: String,
    pub description: String,
    pub project_name: String,
    /// `mysql` or `postgresql`.
    pub db_type: String,
    pub host: String,
    pub port: u16,
    pub db_name: String,
    pub username: String,
    /// Always `******`: the password is never answered.
    #[schema(example = "******")]
    pub password: String,
    /// The owner's consent to a bookkeeping table (`datax_sync_checkpoint`) in this
    /// database when it is a job's target: what makes writeMode insert exactly once
    /// across workers.
    pub checkpoint_table: bool,
    /// The name of the token that saved it.
    pub owner: String,
    /// UTC `YYYY-MM-DD HH:MM:SS`.
    #[schema(example = "2024-05-01 08:00:00")]
    pub insert_time: String,
    /// UTC `YYYY-MM-DD HH:MM:SS`.
    #[schema(example = "2024-05-01 08:00:00")]
    pub update_time: String,
}

#[derive(FromRow)]
struct DatasourceRow {
    id: u64,
    source_name: String,
    description: String,
    project_name: String,
    db_type: String,
    host: String,
    port: u16,
    db_name: String,
    username: String,
    password: Vec<u8>,
    checkpoint_table: bool,
    owner: String,
    insert_time: NaiveDateTime,
    update_time: NaiveDateTime,
}

const SELECT: &str = "SELECT id, source_name, description, project_name, db_type, host, port, \
     db_name, username, password, checkpoint_table, owner, insert_time, update_time FROM datasource";

impl DatasourceRow {
    fn out(self) -> DatasourceOut {
        DatasourceOut {
            id: self.id,
            source_name: self.source_name,
            description: self.description,
            project_name: self.project_name,
            db_type: self.db_type,
            host: self.host,
            port: self.port,
            db_name: self.db_name,
            username: self.username,
            password: PASSWORD_MASK.to_owned(),
            checkpoint_table: self.checkpoint_table,
            owner: self.owner,
            insert_time: utc_text(self.insert_time),
            update_time: utc_text(self.update_time),
        }
    }

    fn kind(&self) -> Result<DbKind, ApiError> {
        self.db_type.parse().map_err(|e: String| {
            ApiError::Internal(format!("datasource {} has a stored {e}", self.id).into())
        })
    }

    /// The connection of the saved datasource, its password decrypted.
    fn endpoint(&self, state: &AppState) -> Result<Endpoint, ApiError> {
        let password = state.cipher.decrypt(&self.password).map_err(|e| {
            ApiError::Internal(
                format!(
                    "the stored password of datasource {} cannot be read (is SYNC_ENCRYPTION_KEY the key it was saved with?): {e}",
                    self.id
                )
                .into(),
            )
        })?;
        Ok(Endpoint {
            kind: self.kind()?,
            host: self.host.clone(),
            port: self.port,
            database: self.db_name.clone(),
            username: self.username.clone(),
            password,
        })
    }
}

async fn row_by_id(
    conn: &mut MySqlConnection,
    id: u64,
    for_update: bool,
) -> Result<Option<DatasourceRow>, sqlx::Error> {
    let mut query = QueryBuilder::<MySql>::new(SELECT);
    query.push(" WHERE id = ").push_bind(id);
    if for_update {
        query.push(" FOR UPDATE");
    }
    query.build_query_as().fetch_optional(conn).await
}

async fn saved(state: &AppState, id: u64) -> Result<DatasourceRow, ApiError> {
    let mut conn = state.pool.acquire().await?;
    row_by_id(&mut conn, id, false)
        .await?
        .ok_or_else(|| no_datasource(id))
}

fn no_datasource(id: u64) -> ApiError {
    ApiError::NotFound(format!("no datasource {id}"))
}

fn duplicate_name(error: sqlx::Error, name: &str) -> ApiError {
    if mysql_error_number(&error) == Some(ER_DUP_ENTRY) {
        ApiError::Conflict(format!("a datasource named {name:?} exists already"))
    } else {
        error.into()
    }
}

/// Now, UTC, whole seconds (what `DATETIME` keeps, so the answer equals what is stored).
pub(crate) fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(0)
}

// ---------------------------------------------------------------------------------------
// save / update / delete

/// A new datasource. Field names are the original's; `database` and `user` (the ping
/// body's names) are accepted for `db_name` and `username`.
#[derive(Deserialize, ToSchema)]
pub struct DatasourceIn {
    /// Unique.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 128)]
    pub source_name: Option<String>,
    #[schema(max_length = 512)]
    pub description: Option<String>,
    #[schema(max_length = 128)]
    pub project_name: Option<String>,
    /// `mysql` or `postgresql` (`postgres`, `pg` too).
    #[schema(value_type = String, required = true, example = "mysql")]
    pub db_type: Option<String>,
    /// A host name or address, without spaces.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 255)]
    pub host: Option<String>,
    /// A number or a numeric string ("3306"); absent: the type's usual port.
    #[serde(default, deserialize_with = "flex_number")]
    #[schema(value_type = Option<u16>, minimum = 1, maximum = 65535)]
    pub port: Option<String>,
    /// Also accepted as `database`.
    #[serde(alias = "database")]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 128)]
    pub db_name: Option<String>,
    /// Also accepted as `user`.
    #[serde(alias = "user")]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 128)]
    pub username: Option<String>,
    /// Stored encrypted, never answered; absent: no password.
    #[schema(format = Password, write_only, max_length = 995)]
    pub password: Option<String>,
    /// Allow a checkpoint table (`datax_sync_checkpoint`) in this database when it is a
    /// job's target (default false; also `"true"`/`"false"` in a form).
    #[schema(value_type = Option<bool>)]
    pub checkpoint_table: Option<FlexBool>,
}

/// A datasource's new values: `id` and any of the fields; a field left out keeps its
/// value, and so does an empty or absent `password`.
#[derive(Deserialize, ToSchema)]
pub struct DatasourceUpdate {
    #[serde(default, deserialize_with = "flex_number")]
    #[schema(value_type = u64, required = true, minimum = 1)]
    pub id: Option<String>,
    #[schema(min_length = 1, max_length = 128)]
    pub source_name: Option<String>,
    /// Empty clears it.
    #[schema(max_length = 512)]
    pub description: Option<String>,
    /// Empty clears it.
    #[schema(max_length = 128)]
    pub project_name: Option<String>,
    pub db_type: Option<String>,
    #[schema(min_length = 1, max_length = 255)]
    pub host: Option<String>,
    #[serde(default, deserialize_with = "flex_number")]
    #[schema(value_type = Option<u16>, minimum = 1, maximum = 65535)]
    pub port: Option<String>,
    #[serde(alias = "database")]
    #[schema(min_length = 1, max_length = 128)]
    pub db_name: Option<String>,
    #[serde(alias = "user")]
    #[schema(min_length = 1, max_length = 128)]
    pub username: Option<String>,
    /// Empty or absent: the stored password stays.
    #[schema(format = Password, write_only, max_length = 995)]
    pub password: Option<String>,
    /// Absent: it stays.
    #[schema(value_type = Option<bool>)]
    pub checkpoint_table: Option<FlexBool>,
}

/// Saves a datasource (a `source_name` in use answers 409).
#[utoipa::path(post, path = "/api/datasource/save", tag = "datasource",
    request_body(content = DatasourceIn, description = "JSON, or the same fields as a form (application/x-www-form-urlencoded)"),
    responses(
        (status = 200, description = "The datasource (password masked)", body = Envelope<DatasourceOut>),
        (status = 400, description = "A bad field, named in data.field", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks sync:admin", body = ErrorEnvelope),
        (status = 409, description = "A datasource of that name exists", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)),
    security(("bearer" = ["sync:admin"])))]
pub async fn save(
    State(state): State<AppState>,
    principal: Principal,
    ApiBody(body): ApiBody<DatasourceIn>,
) -> ApiResult<DatasourceOut> {
    let source_name = required("source_name", body.source_name.as_deref(), SOURCE_NAME_MAX)?;
    let description = optional("description", body.description.as_deref(), DESCRIPTION_MAX)?;
    let project_name = optional(
        "project_name",
        body.project_name.as_deref(),
        PROJECT_NAME_MAX,
    )?;
    let kind = db_kind(body.db_type.as_deref())?;
    let host = host(body.host.as_deref())?;
    let port = port(body.port.as_deref())?.unwrap_or(kind.default_port());
    let db_name = required("db_name", body.db_name.as_deref(), DB_NAME_MAX)?;
    let username = required("username", body.username.as_deref(), USERNAME_MAX)?;
    let checkpoint_table =
        flag("checkpoint_table", body.checkpoint_table.as_ref())?.unwrap_or(false);
    let stored = state.cipher.encrypt(&password(body.password.as_deref())?);
    let now = now();
    let mut conn = state.pool.acquire().await?;
    let id = sqlx::query(
        "INSERT INTO datasource (source_name, description, project_name, db_type, host, port,
             db_name, username, password, checkpoint_table, owner, insert_time, update_time)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&source_name)
    .bind(&description)
    .bind(&project_name)
    .bind(kind.as_str())
    .bind(&host)
    .bind(port)
    .bind(&db_name)
    .bind(&username)
    .bind(&stored)
    .bind(checkpoint_table)
    .bind(&principal.name)
    .bind(now)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| duplicate_name(e, &source_name))?
    .last_insert_id();
    tracing::info!(id, source_name, owner = %principal.name, "datasource saved");
    let row = row_by_id(&mut conn, id, false)
        .await?
        .ok_or_else(|| no_datasource(id))?;
    Ok(ok(row.out()))
}

/// Changes a datasource's fields (a rename onto a name in use answers 409).
#[utoipa::path(post, path = "/api/datasource/update", tag = "datasource",
    request_body(content = DatasourceUpdate, description = "JSON, or the same fields as a form (application/x-www-form-urlencoded)"),
    responses(
        (status = 200, description = "The datasource (password masked)", body = Envelope<DatasourceOut>),
        (status = 400, description = "A bad field, named in data.field", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks sync:admin", body = ErrorEnvelope),
        (status = 404, description = "No such datasource", body = ErrorEnvelope),
        (status = 409, description = "Another datasource has that name", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)),
    security(("bearer" = ["sync:admin"])))]
pub async fn update(
    State(state): State<AppState>,
    ApiBody(body): ApiBody<DatasourceUpdate>,
) -> ApiResult<DatasourceOut> {
    let id = id(body.id.as_deref())?;
    // Every given field is checked before the row is read, so a bad request locks nothing.
    let source_name = body
        .source_name
        .as_deref()
        .map(|v| required("source_name", Some(v), SOURCE_NAME_MAX))
        .transpose()?;
    let description = body
        .description
        .as_deref()
        .map(|v| optional("description", Some(v), DESCRIPTION_MAX))
        .transpose()?;
    let project_name = body
        .project_name
        .as_deref()
        .map(|v| optional("project_name", Some(v), PROJECT_NAME_MAX))
        .transpose()?;
    let kind = body
        .db_type
        .as_deref()
        .map(|v| db_kind(Some(v)))
        .transpose()?;
    let host = body.host.as_deref().map(|v| host(Some(v))).transpose()?;
    let port = port(body.port.as_deref())?;
    let db_name = body
        .db_name
        .as_deref()
        .map(|v| required("db_name", Some(v), DB_NAME_MAX))
        .transpose()?;
    let username = body
        .username
        .as_deref()
        .map(|v| required("username", Some(v), USERNAME_MAX))
        .transpose()?;
    let checkpoint_table = flag("checkpoint_table", body.checkpoint_table.as_ref())?;
    let stored_password = match body.password.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => Some(state.cipher.encrypt(&password(Some(p))?)),
        None => None,
    };

    let mut tx = state.pool.begin().await?;
    let row = row_by_id(&mut tx, id, true)
        .await?
        .ok_or_else(|| no_datasource(id))?;
    let kind = match kind {
        Some(kind) => kind,
        None => row.kind()?,
    };
    let source_name = source_name.unwrap_or(row.source_name);
    sqlx::query(
        "UPDATE datasource SET source_name = ?, description = ?, project_name = ?, db_type = ?,
             host = ?, port = ?, db_name = ?, username = ?, password = COALESCE(?, password),
             checkpoint_table = ?, update_time = ?
         WHERE id = ?",
    )
    .bind(&source_name)
    .bind(description.unwrap_or(row.description))
    .bind(project_name.unwrap_or(row.project_name))
    .bind(kind.as_str())
    .bind(host.unwrap_or(row.host))
    .bind(port.unwrap_or(row.port))
    .bind(db_name.unwrap_or(row.db_name))
    .bind(username.unwrap_or(row.username))
    .bind(stored_password)
    .bind(checkpoint_table.unwrap_or(row.checkpoint_table))
    .bind(now())
    .bind(id)
    .execute(&mut *tx)
    .await
    .map_err(|e| duplicate_name(e, &source_name))?;
    let row = row_by_id(&mut tx, id, false)
        .await?
        .ok_or_else(|| no_datasource(id))?;
    tx.commit().await?;
    tracing::info!(id, source_name, "datasource updated");
    Ok(ok(row.out()))
}

/// `?id=` of a saved datasource.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IdQuery {
    /// A saved datasource.
    #[serde(default, deserialize_with = "flex_number")]
    #[param(value_type = Option<u64>, minimum = 1)]
    pub id: Option<String>,
}

/// `id` in a body (form or JSON).
#[derive(Debug, Deserialize, ToSchema)]
pub struct IdBody {
    #[serde(default, deserialize_with = "flex_number")]
    #[schema(value_type = u64, minimum = 1)]
    pub id: Option<String>,
}

/// What a delete removed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Deleted {
    pub id: u64,
}

/// Deletes a datasource for good; one a job config uses answers 409 naming the configs.
#[utoipa::path(post, path = "/api/datasource/delete", operation_id = "datasource_delete", tag = "datasource",
    params(IdQuery),
    request_body(content = Option<IdBody>, description = "The id as JSON or a form, or none with ?id="),
    responses(
        (status = 200, description = "The id deleted", body = Envelope<Deleted>),
        (status = 400, description = "No id, or a bad one", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks sync:admin", body = ErrorEnvelope),
        (status = 404, description = "No such datasource", body = ErrorEnvelope),
        (status = 409, description = "Job configs use the datasource", body = ErrorEnvelope),
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
    // No check before the DELETE: the foreign keys of json_config refuse it atomically
    // (1451), and only then are the configs looked up for the message.
    let deleted = sqlx::query("DELETE FROM datasource WHERE id = ?")
        .bind(id)
        .execute(&state.pool)
        .await;
    match deleted {
        Ok(done) if done.rows_affected() == 0 => Err(no_datasource(id)),
        Ok(_) => {
            tracing::info!(id, "datasource deleted");
            Ok(ok(Deleted { id }))
        }
        Err(error) if mysql_error_number(&error) == Some(ER_ROW_IS_REFERENCED) => {
            Err(in_use(&state, id).await)
        }
        Err(error) => Err(error.into()),
    }
}

/// Deletes a datasource for good; one a job config uses answers 409 naming the configs.
#[utoipa::path(delete, path = "/api/datasource/delete", operation_id = "datasource_delete_by_method", tag = "datasource",
    params(IdQuery),
    request_body(content = Option<IdBody>, description = "The id as JSON or a form, or none with ?id="),
    responses(
        (status = 200, description = "The id deleted", body = Envelope<Deleted>),
        (status = 400, description = "No id, or a bad one", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks sync:admin", body = ErrorEnvelope),
        (status = 404, description = "No such datasource", body = ErrorEnvelope),
        (status = 409, description = "Job configs use the datasource", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)),
    security(("bearer" = ["sync:admin"])))]
pub async fn delete_by_method(state: State<AppState>, request: Request) -> ApiResult<Deleted> {
    delete(state, request).await
}

/// The 409 of a datasource that job configs use, naming (up to ten of) them.
async fn in_use(state: &AppState, id: u64) -> ApiError {
    const SHOWN: i64 = 10;
    let names: Result<Vec<String>, _> = sqlx::query_scalar(
        "SELECT config_name FROM json_config
         WHERE reader_datasource_id = ? OR writer_datasource_id = ? ORDER BY id LIMIT ?",
    )
    .bind(id)
    .bind(id)
    .bind(SHOWN + 1)
    .fetch_all(&state.pool)
    .await;
    let names = match names {
        Ok(names) if !names.is_empty() => names,
        Ok(_) => {
            return ApiError::Conflict(format!(
                "datasource {id} is used by a job config; try again after changing it"
            ));
        }
        Err(error) => return error.into(),
    };
    let mut listed = names
        .iter()
        .take(10)
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > 10 {
        listed.push_str(", …");
    }
    ApiError::Conflict(format!(
        "datasource {id} is used by the job configs {listed}: delete them or point them at another datasource first"
    ))
}

// ---------------------------------------------------------------------------------------
// query / list

/// `?db_type=`: only datasources of that type; empty or absent: all.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TypeFilter {
    /// `mysql` or `postgresql`.
    pub db_type: Option<String>,
}

impl TypeFilter {
    fn kind(&self) -> Result<Option<DbKind>, ApiError> {
        given(self.db_type.as_deref())
            .map(|t| db_kind(Some(t)))
            .transpose()
    }
}

/// A page of datasources.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Listing<T> {
    pub page: u32,
    /// As the request's parameter is named.
    #[serde(rename = "pageSize")]
    pub page_size: u32,
    /// Datasources matching the filter, on all pages.
    pub total: u64,
    pub items: Vec<T>,
}

fn filtered(query: &mut QueryBuilder<MySql>, kind: Option<DbKind>) {
    if let Some(kind) = kind {
        query.push(" WHERE db_type = ").push_bind(kind.as_str());
    }
}

/// A page of datasources, by id.
#[utoipa::path(get, path = "/api/datasource/query", tag = "datasource",
    params(TypeFilter, Paged<SyncPaging>),
    responses(
        (status = 200, description = "A page of datasources (passwords masked)", body = Envelope<Listing<DatasourceOut>>),
        (status = 400, description = "A bad parameter", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks sync:admin", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)),
    security(("bearer" = ["sync:admin"])))]
pub async fn query(
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<TypeFilter>,
    Paged(page, _): Paged<SyncPaging>,
) -> ApiResult<Listing<DatasourceOut>> {
    let kind = filter.kind()?;
    let mut conn = state.pool.acquire().await?;
    let mut count = QueryBuilder::<MySql>::new("SELECT COUNT(*) FROM datasource");
    filtered(&mut count, kind);
    let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;
    let mut rows = QueryBuilder::<MySql>::new(SELECT);
    filtered(&mut rows, kind);
    rows.push(" ORDER BY id LIMIT ")
        .push_bind(page.limit())
        .push(" OFFSET ")
        .push_bind(page.offset());
    let rows: Vec<DatasourceRow> = rows.build_query_as().fetch_all(&mut *conn).await?;
    Ok(ok(Listing {
        page: page.page,
        page_size: page.size,
        total: u64::try_from(total).unwrap_or_default(),
        items: rows.into_iter().map(DatasourceRow::out).collect(),
    }))
}

/// Every datasource (of a type), by id: what a job editor offers as readers and writers.
#[utoipa::path(get, path = "/api/datasource/list", tag = "datasource", params(TypeFilter),
    responses(
        (status = 200, description = "The datasources (passwords masked)", body = Envelope<Vec<DatasourceOut>>),
        (status = 400, description = "A bad parameter", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks sync:admin", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)),
    security(("bearer" = ["sync:admin"])))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<TypeFilter>,
) -> ApiResult<Vec<DatasourceOut>> {
    let mut rows = QueryBuilder::<MySql>::new(SELECT);
    filtered(&mut rows, filter.kind()?);
    rows.push(" ORDER BY id");
    let rows: Vec<DatasourceRow> = rows.build_query_as().fetch_all(&state.pool).await?;
    Ok(ok(rows.into_iter().map(DatasourceRow::out).collect()))
}

// ---------------------------------------------------------------------------------------
// ping / tables / columns

/// The connection to test: the original's body (`source_name` and `description` may be
/// sent and are ignored), or `id` of a saved datasource (then its stored password is used).
#[derive(Deserialize, ToSchema)]
pub struct PingIn {
    /// A saved datasource instead of the fields below (also `?id=`).
    #[serde(default, deserialize_with = "flex_number")]
    #[schema(value_type = Option<u64>, minimum = 1)]
    pub id: Option<String>,
    #[schema(example = "mysql")]
    pub db_type: Option<String>,
    #[schema(min_length = 1, max_length = 255)]
    pub host: Option<String>,
    /// A number or a numeric string; absent: the type's usual port.
    #[serde(default, deserialize_with = "flex_number")]
    #[schema(value_type = Option<u16>, minimum = 1, maximum = 65535)]
    pub port: Option<String>,
    /// Also accepted as `username`.
    #[serde(alias = "username")]
    #[schema(min_length = 1, max_length = 128)]
    pub user: Option<String>,
    #[schema(format = Password, write_only, max_length = 995)]
    pub password: Option<String>,
    /// Also accepted as `db_name`.
    #[serde(alias = "db_name")]
    #[schema(min_length = 1, max_length = 128)]
    pub database: Option<String>,
}

impl PingIn {
    fn endpoint(&self) -> Result<Endpoint, ApiError> {
        let kind = db_kind(self.db_type.as_deref())?;
        Ok(Endpoint {
            kind,
            host: host(self.host.as_deref())?,
            port: port(self.port.as_deref())?.unwrap_or(kind.default_port()),
            database: required("database", self.database.as_deref(), DB_NAME_MAX)?,
            username: required("user", self.user.as_deref(), USERNAME_MAX)?,
            password: SecretString::from(password(self.password.as_deref())?),
        })
    }
}

/// What a ping found. Reachable: the server's version and the time taken; not: the class
/// of failure (`unreachable`, `timeout`, `authentication_failed`, `unknown_database`,
/// `other`) and the driver's message (never the password).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PingOut {
    pub reachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "10.11.6-MariaDB")]
    pub server_version: Option<String>,
    /// Connection set-up plus one round trip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "authentication_failed")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The 403 of a host outside the allow-list.
fn refused(failure: &ConnectFailure) -> ApiError {
    ApiError::Refused(format!(
        "{failure}: this API connects only to the hosts an operator lists in {ALLOWED_HOSTS_VAR}"
    ))
}

/// The error of a catalogue question on a saved datasource.
fn catalog_error(id: u64, endpoint: &Endpoint, error: CatalogError) -> ApiError {
    match error {
        CatalogError::Connect(failure @ ConnectFailure::NotAllowed { .. }) => refused(&failure),
        CatalogError::Connect(failure) => ApiError::Unavailable(format!(
            "datasource {id} ({}) cannot be reached ({}): {failure}",
            endpoint.describe(),
            failure.reason()
        )),
        CatalogError::Query(message) => ApiError::Unavailable(format!(
            "datasource {id} ({}): {message}",
            endpoint.describe()
        )),
    }
}

/// Tests a connection: 200 with `reachable` either way; 403 for a host outside
/// `SYNC_ALLOWED_HOSTS` (nothing is resolved or connected then).
#[utoipa::path(post, path = "/api/datasource/ping", tag = "datasource", params(IdQuery),
    request_body(content = Option<PingIn>, description = "The original's body (JSON or a form), or none with ?id="),
    responses(
        (status = 200, description = "Reachable, with the server version; or not, with the reason", body = Envelope<PingOut>),
        (status = 400, description = "A bad field, named in data.field", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks sync:admin, or the host is not in SYNC_ALLOWED_HOSTS", body = ErrorEnvelope),
        (status = 404, description = "No such datasource (?id=)", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)),
    security(("bearer" = ["sync:admin"])))]
pub async fn ping(State(state): State<AppState>, request: Request) -> ApiResult<PingOut> {
    let (query, body) = query_and_body::<IdQuery, PingIn>(request).await?;
    let id = one_id(
        query.id.as_deref(),
        body.as_ref().and_then(|b| b.id.as_deref()),
    )?;
    let endpoint = match (id, &body) {
        (Some(_), Some(body)) if given(body.host.as_deref()).is_some() => {
            return Err(ApiError::invalid(
                "id",
                "give either the id of a saved datasource or the connection's fields, not both",
            ));
        }
        (Some(id), _) => saved(&state, id).await?.endpoint(&state)?,
        (None, Some(body)) => body.endpoint()?,
        (None, None) => {
            return Err(ApiError::invalid(
                "body",
                "required: db_type, host, port, user, password, database; or ?id= of a saved datasource",
            ));
        }
    };
    let settings = &state.settings;
    let answer = endpoint::ping(&endpoint, &settings.allowed_hosts, settings.connect_timeout).await;
    match answer {
        Ok(report) => {
            tracing::info!(endpoint = %endpoint.describe(), latency_ms = report.latency_ms, "ping: reachable");
            Ok(ok(PingOut {
                reachable: true,
                server_version: Some(report.server_version),
                latency_ms: Some(report.latency_ms),
                reason: None,
                message: None,
            }))
        }
        Err(failure @ ConnectFailure::NotAllowed { .. }) => {
            tracing::warn!(endpoint = %endpoint.describe(), "ping: host not allowed");
            Err(refused(&failure))
        }
        Err(failure) => {
            tracing::info!(endpoint = %endpoint.describe(), reason = failure.reason(), "ping: not reachable");
            Ok(ok(PingOut {
                reachable: false,
                server_version: None,
                latency_ms: None,
                reason: Some(failure.reason().to_owned()),
                message: Some(scrub(failure.to_string(), &endpoint.password)),
            }))
        }
    }
}

/// `message` without the password, should a driver ever quote it: belt and braces, as
/// the answer goes to the client.
fn scrub(message: String, password: &SecretString) -> String {
    let secret = password.expose_secret();
    if secret.len() >= 3 && message.contains(secret) {
        message.replace(secret, PASSWORD_MASK)
    } else {
        message
    }
}

/// One table or view of a datasource.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TableOut {
    /// As a job names it: `table`, or `schema.table` outside PostgreSQL's `public`.
    pub name: String,
    /// `BASE TABLE` or `VIEW`.
    pub table_type: String,
}

/// One column of a table.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ColumnOut {
    pub name: String,
    /// `int`, `varchar`, `numeric`, …
    pub data_type: String,
    /// The full type (`varchar(64)`, `decimal(12,2)`; PostgreSQL: its `udt_name`).
    pub column_type: String,
    pub nullable: bool,
    /// `PRI`, `UNI`, `MUL` (MySQL) or empty.
    pub key: String,
}

/// The tables and views of a saved datasource.
#[utoipa::path(get, path = "/api/datasource/tables", tag = "datasource", params(IdQuery),
    responses(
        (status = 200, description = "Its tables and views", body = Envelope<Vec<TableOut>>),
        (status = 400, description = "No id, or a bad one", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks sync:admin, or the host is not in SYNC_ALLOWED_HOSTS", body = ErrorEnvelope),
        (status = 404, description = "No such datasource", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope),
        (status = 503, description = "The datasource cannot be reached or read (the reason is in errmsg)", body = ErrorEnvelope)),
    security(("bearer" = ["sync:admin"])))]
pub async fn tables(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<IdQuery>,
) -> ApiResult<Vec<TableOut>> {
    let id = id(query.id.as_deref())?;
    let endpoint = saved(&state, id).await?.endpoint(&state)?;
    let settings = &state.settings;
    let tables = endpoint::tables(&endpoint, &settings.allowed_hosts, settings.connect_timeout)
        .await
        .map_err(|e| catalog_error(id, &endpoint, e))?;
    Ok(ok(tables
        .into_iter()
        .map(|t| TableOut {
            name: t.name,
            table_type: t.table_type,
        })
        .collect()))
}

/// `?id=&tableName=` (the original's name; `table_name=` too).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ColumnsQuery {
    /// A saved datasource.
    #[serde(default, deserialize_with = "flex_number")]
    #[param(value_type = u64, minimum = 1)]
    pub id: Option<String>,
    /// The table: `table`, or `schema.table` on PostgreSQL (`public` otherwise).
    #[serde(rename = "tableName")]
    #[param(max_length = 128)]
    pub table_name_camel: Option<String>,
    /// Another spelling of `tableName`.
    #[param(max_length = 128)]
    pub table_name: Option<String>,
}

/// The columns of a table of a saved datasource, in their order.
#[utoipa::path(get, path = "/api/datasource/columns", tag = "datasource", params(ColumnsQuery),
    responses(
        (status = 200, description = "The table's columns", body = Envelope<Vec<ColumnOut>>),
        (status = 400, description = "No id or table, or a bad one", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks sync:admin, or the host is not in SYNC_ALLOWED_HOSTS", body = ErrorEnvelope),
        (status = 404, description = "No such datasource, or no such table in it", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope),
        (status = 503, description = "The datasource cannot be reached or read (the reason is in errmsg)", body = ErrorEnvelope)),
    security(("bearer" = ["sync:admin"])))]
pub async fn columns(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ColumnsQuery>,
) -> ApiResult<Vec<ColumnOut>> {
    let id = id(query.id.as_deref())?;
    let table = match (
        given(query.table_name_camel.as_deref()),
        given(query.table_name.as_deref()),
    ) {
        (Some(a), Some(b)) if a != b => {
            return Err(ApiError::invalid(
                "tableName",
                "tableName and table_name differ: give one",
            ));
        }
        (Some(name), _) | (None, Some(name)) => bounded("tableName", name, TABLE_NAME_MAX)?,
        (None, None) => return Err(ApiError::invalid("tableName", "required")),
    };
    let endpoint = saved(&state, id).await?.endpoint(&state)?;
    let settings = &state.settings;
    let columns = endpoint::columns(
        &endpoint,
        &settings.allowed_hosts,
        settings.connect_timeout,
        &table,
    )
    .await
    .map_err(|e| catalog_error(id, &endpoint, e))?;
    if columns.is_empty() {
        return Err(ApiError::NotFound(format!(
            "no table {table:?} in datasource {id} ({})",
            endpoint.describe()
        )));
    }
    Ok(ok(columns
        .into_iter()
        .map(|c| ColumnOut {
            name: c.name,
            data_type: c.data_type,
            column_type: c.column_type,
            nullable: c.nullable,
            key: c.key,
        })
        .collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_ids_are_numbers_or_numeric_strings() {
        let body: DatasourceIn =
            serde_json::from_str(r#"{"port": "3306", "database": "city", "user": "root"}"#)
                .expect("the original's spelling");
        assert_eq!(port(body.port.as_deref()).expect("valid"), Some(3306));
        assert_eq!(body.db_name.as_deref(), Some("city"));
        assert_eq!(body.username.as_deref(), Some("root"));
        let body: DatasourceIn = serde_json::from_str(r#"{"port": 5432}"#).expect("a number");
        assert_eq!(port(body.port.as_deref()).expect("valid"), Some(5432));
        let body: DatasourceIn = serde_json::from_str(r#"{"port": null}"#).expect("null");
        assert_eq!(port(body.port.as_deref()).expect("absent"), None);
        for bad in [r#""0""#, "65536", "3306.0", r#""33o6""#, "-1"] {
            let body: DatasourceIn =
                serde_json::from_str(&format!(r#"{{"port": {bad}}}"#)).expect("deserialises");
            let error = port(body.port.as_deref()).expect_err(bad);
            assert!(
                matches!(&error, ApiError::Validation { field, .. } if field == "port"),
                "{bad}: {error:?}"
            );
        }
        assert_eq!(id(Some("12")).expect("id"), 12);
        assert!(id(Some("0")).is_err() && id(None).is_err());
        assert_eq!(one_id(Some("3"), Some("3")).expect("agree"), Some(3));
        assert!(one_id(Some("3"), Some("4")).is_err());
    }

    #[test]
    fn fields_are_bounded_by_their_columns_and_name_themselves() {
        let field = |r: Result<String, ApiError>| match r {
            Err(ApiError::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        };
        assert_eq!(
            field(required("source_name", Some("  "), 128)),
            "source_name"
        );
        assert_eq!(
            field(required("source_name", Some(&"x".repeat(129)), 128)),
            "source_name"
        );
        assert_eq!(
            required("source_name", Some(&"数".repeat(128)), 128).expect("128 characters"),
            "数".repeat(128)
        );
        assert_eq!(field(host(Some("db.example.com 3306"))), "host");
        assert_eq!(field(host(Some("db\u{7}"))), "host");
        assert_eq!(host(Some(" 127.0.0.1 ")).expect("trimmed"), "127.0.0.1");
        assert_eq!(
            field(password(Some(&"p".repeat(PASSWORD_MAX_BYTES + 1)))),
            "password"
        );
        assert_eq!(
            password(Some(" keeps spaces ")).expect("as given"),
            " keeps spaces "
        );
        assert!(matches!(
            db_kind(Some("oracle")),
            Err(ApiError::Validation { field, .. }) if field == "db_type"
        ));
        assert_eq!(
            db_kind(Some("Postgres")).expect("alias"),
            DbKind::Postgresql
        );
        // The longest password still fits the column once encrypted.
        assert_eq!(PASSWORD_MAX_BYTES + vault::OVERHEAD, 1024);
    }

    #[test]
    fn the_paging_is_the_originals() {
        assert!(SyncPaging::RULES.check());
        assert_eq!(SyncPaging::RULES.size_param, "pageSize");
        assert_eq!(SyncPaging::RULES.default_size, 10);
    }

    #[test]
    fn a_quoted_password_is_scrubbed_from_messages() {
        let secret = SecretString::from("hunter22".to_owned());
        assert_eq!(
            scrub("bad login hunter22 for x".into(), &secret),
            "bad login ****** for x"
        );
        assert_eq!(scrub("no secret".into(), &secret), "no secret");
    }
}
