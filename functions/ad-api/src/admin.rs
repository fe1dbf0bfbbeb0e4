//! The admin routes of the seed's API, behind a token with scope `ads:admin`:
//! `/v1/advert/group`, `/v1/advert/image`, `/v1/advert/style`, each with GET (a page of
//! rows), POST (create), PUT (replace, `id` in the body) and DELETE (`?id=`). Bodies are
//! forms (as the seed's) or JSON; times are the seed's `YYYY-MM-DD HH:MM:SS` in the
//! business zone.
//!
//! Deleting removes configuration only: a group that still has images, or an image that
//! still has styles, answers 409 unless `force=true`, which removes them too. Counts and
//! `ad_ctr` rows are never deleted (they keep the style id).

use axum::extract::State;
use base64::Engine as _;
use chrono::{NaiveDateTime, Utc};
use common::{
    db::mysql_error_number,
    http::{
        ApiBody, ApiError, ApiQuery, ApiResult, ErrorEnvelope, PageRules, PageStyle, Paged, ok,
    },
};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, MySql, MySqlConnection, QueryBuilder};
use utoipa::{IntoParams, ToSchema};

use crate::{
    AppState,
    catalog::Device,
    times::{local_text, parse_local},
};

/// The admin lists' paging: `page` / `page_size`, 100 rows by default, at most 1,000.
pub struct AdPaging;

impl PageStyle for AdPaging {
    const RULES: PageRules = PageRules::new("page", "page_size", 100, 1000);
}

/// A page of rows.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Listing<T> {
    pub page: u32,
    pub page_size: u32,
    pub total: u64,
    pub items: Vec<T>,
}

/// `?id=` of a delete, and whether to remove what depends on the row.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    #[param(minimum = 1)]
    pub id: u64,
    /// Also remove the rows that depend on this one (configuration only).
    pub force: Option<bool>,
}

/// What a delete removed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Deleted {
    pub id: u64,
    pub images: u64,
    pub styles: u64,
}

const ER_DUP_ENTRY: u16 = 1062;
const ER_NO_REFERENCED_ROW: u16 = 1452;

fn text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        return Err(ApiError::invalid(field, format!("1 to {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}

fn note(value: Option<&str>) -> Result<String, ApiError> {
    match value.map(str::trim) {
        None | Some("") => Ok(String::new()),
        Some(v) => text("note", v, 255),
    }
}

/// An absolute http(s) URL of at most 2,048 characters, without spaces or controls.
fn url(field: &str, value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or_else(|| ApiError::invalid(field, "must be an http:// or https:// URL"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // Printable ASCII only (other characters percent-encoded): the link becomes the click
    // redirect's Location header, which cannot carry anything else.
    if host.is_empty() || value.len() > 2048 || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            field,
            "must be an absolute http(s) URL with a host, at most 2048 printable ASCII characters (percent-encode the rest)",
        ));
    }
    Ok(value.to_owned())
}

async fn total(
    conn: &mut MySqlConnection,
    mut count: QueryBuilder<MySql>,
) -> Result<u64, sqlx::Error> {
    let total: i64 = count.build_query_scalar().fetch_one(conn).await?;
    Ok(u64::try_from(total).unwrap_or_default())
}

// ---------------------------------------------------------------------------------------
// Groups

/// A group of images.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GroupOut {
    pub id: u64,
    pub group: String,
    pub note: String,
    /// Local `YYYY-MM-DD HH:MM:SS`.
    pub create_time: String,
    pub update_time: String,
}

#[derive(FromRow)]
struct GroupRow {
    id: u64,
    group: String,
    note: String,
    create_time: NaiveDateTime,
    update_time: NaiveDateTime,
}

/// A new group.
#[derive(Debug, Deserialize, ToSchema)]
pub struct GroupIn {
    #[schema(min_length = 1, max_length = 64)]
    pub group: String,
    #[schema(max_length = 255)]
    pub note: Option<String>,
}

/// A group's new values.
#[derive(Debug, Deserialize, ToSchema)]
pub struct GroupUpdate {
    #[schema(minimum = 1)]
    pub id: u64,
    #[schema(min_length = 1, max_length = 64)]
    pub group: String,
    #[schema(max_length = 255)]
    pub note: Option<String>,
}

impl AppState {
    fn group_out(&self, row: GroupRow) -> GroupOut {
        let zone = self.settings.time_zone;
        GroupOut {
            id: row.id,
            group: row.group,
            note: row.note,
            create_time: local_text(row.create_time, zone),
            update_time: local_text(row.update_time, zone),
        }
    }
}

const GROUP_COLUMNS: &str = "SELECT id, `group`, note, create_time, update_time FROM ad_group";

/// The groups, by id.
#[utoipa::path(get, path = "/v1/advert/group", tag = "admin", params(Paged<AdPaging>),
    responses(
        (status = 200, description = "A page of groups", body = common::http::Envelope<Listing<GroupOut>>),
        (status = 400, description = "A bad parameter", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks ads:admin", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)),
    security(("bearer" = ["ads:admin"])))]
pub async fn list_groups(
    State(state): State<AppState>,
    Paged(page, _): Paged<AdPaging>,
) -> ApiResult<Listing<GroupOut>> {
    let mut conn = state.pool.acquire().await?;
    let total = total(
        &mut conn,
        QueryBuilder::new("SELECT COUNT(*) FROM ad_group"),
    )
    .await?;
    let rows: Vec<GroupRow> = QueryBuilder::<MySql>::new(GROUP_COLUMNS)
        .push(" ORDER BY id LIMIT ")
        .push_bind(page.limit())
        .push(" OFFSET ")
        .push_bind(page.offset())
        .build_query_as()
        .fetch_all(&mut *conn)
        .await?;
    Ok(ok(Listing {
        page: page.page,
        page_size: page.size,
        total,
        items: rows.into_iter().map(|r| state.group_out(r)).collect(),
    }))
}

async fn group_by_id(conn: &mut MySqlConnection, id: u64) -> Result<Option<GroupRow>, sqlx::Error> {
    QueryBuilder::<MySql>::new(GROUP_COLUMNS)
        .push(" WHERE id = ")
        .push_bind(id)
        .build_query_as()
        .fetch_optional(conn)
        .await
}

fn duplicate_group(error: sqlx::Error, name: &str) -> ApiError {
    if mysql_error_number(&error) == Some(ER_DUP_ENTRY) {
        ApiError::Conflict(format!("a group named {name:?} already exists"))
    } else {
        error.into()
    }
}

/// Creates a group (a duplicate name answers 409).
#[utoipa::path(post, path = "/v1/advert/group", tag = "admin",
    request_body(content = GroupIn, content_type = "application/x-www-form-urlencoded", description = "A form, or the same fields as JSON"),
    responses(
        (status = 200, description = "The group", body = common::http::Envelope<GroupOut>),
        (status = 400, description = "A bad field", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks ads:admin", body = ErrorEnvelope),
        (status = 409, description = "A group of that name exists", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)),
    security(("bearer" = ["ads:admin"])))]
pub async fn create_group(
    State(state): State<AppState>,
    ApiBody(body): ApiBody<GroupIn>,
) -> ApiResult<GroupOut> {
    let name = text("group", &body.group, 64)?;
    let note = note(body.note.as_deref())?;
    let now = Utc::now().naive_utc();
    let mut conn = state.pool.acquire().await?;
    let id = sqlx::query(
        "INSERT INTO ad_group (`group`, note, create_time, update_time) VALUES (?, ?, ?, ?)",
    )
    .bind(&name)
    .bind(&note)
    .bind(now)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| duplicate_group(e, &name))?
    .last_insert_id();
    let row = group_by_id(&mut conn, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("group".into()))?;
    Ok(ok(state.group_out(row)))
}

/// Replaces a group's name and note.
#[utoipa::path(put, path = "/v1/advert/group", tag = "admin",
    request_body(content = GroupUpdate, content_type = "application/x-www-form-urlencoded", description = "A form, or the same fields as JSON"),
    responses(
        (status = 200, description = "The group", body = common::http::Envelope<GroupOut>),
        (status = 400, description = "A bad field", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks ads:admin", body = ErrorEnvelope),
        (status = 404, description = "No such group", body = ErrorEnvelope),
        (status = 409, description = "Another group has that name", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)),
    security(("bearer" = ["ads:admin"])))]
pub async fn update_group(
    State(state): State<AppState>,
    ApiBody(body): ApiBody<GroupUpdate>,
) -> ApiResult<GroupOut> {
    let name = text("group", &body.group, 64)?;
    let note = note(body.note.as_deref())?;
    let mut conn = state.pool.acquire().await?;
    if group_by_id(&mut conn, body.id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no group {}", body.id)));
    }
    sqlx::query("UPDATE ad_group SET `group` = ?, note = ?, update_time = ? WHERE id = ?")
        .bind(&name)
        .bind(&note)
        .bind(Utc::now().naive_utc())
        .bind(body.id)
        .execute(&mut *conn)
        .await
        .map_err(|e| duplicate_group(e, &name))?;
    let row = group_by_id(&mut conn, body.id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no group {}", body.id)))?;
    Ok(ok(state.group_out(row)))
}

/// Deletes a group; with images, only with `force=true` (which removes its images and their
/// styles; never counts).
#[utoipa::path(delete, path = "/v1/advert/group", tag = "admin", params(DeleteQuery),
    responses(
        (status = 200, description = "What was removed", body = common::http::Envelope<Deleted>),
        (status = 400, description = "A bad parameter", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks ads:admin", body = ErrorEnvelope),
        (status = 404, description = "No such group", body = ErrorEnvelope),
        (status = 409, description = "The group has images (use force=true)", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)),
    security(("bearer" = ["ads:admin"])))]
pub async fn delete_group(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<DeleteQuery>,
) -> ApiResult<Deleted> {
    let mut tx = state.pool.begin().await?;
    let exists: Option<u64> = sqlx::query_scalar("SELECT id FROM ad_group WHERE id = ? FOR UPDATE")
        .bind(query.id)
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_none() {
        return Err(ApiError::NotFound(format!("no group {}", query.id)));
    }
    let images: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ad_image WHERE group_id = ?")
        .bind(query.id)
        .fetch_one(&mut *tx)
        .await?;
    if images > 0 && !query.force.unwrap_or(false) {
        return Err(ApiError::Conflict(format!(
            "group {} has {images} image(s); delete them first or pass force=true",
            query.id
        )));
    }
    let styles = sqlx::query(
        "DELETE s FROM ad_style s JOIN ad_image i ON i.id = s.image_id WHERE i.group_id = ?",
    )
    .bind(query.id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let images = sqlx::query("DELETE FROM ad_image WHERE group_id = ?")
        .bind(query.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM ad_group WHERE id = ?")
        .bind(query.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    state.catalog.invalidate();
    Ok(ok(Deleted {
        id: query.id,
        images,
        styles,
    }))
}

// ---------------------------------------------------------------------------------------
// Images

/// An image.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImageOut {
    pub id: u64,
    pub image_name: String,
    pub image_url: String,
    pub note: String,
    pub group_id: u64,
    pub create_time: String,
    pub update_time: String,
}

#[derive(FromRow)]
struct ImageRow {
    id: u64,
    image_name: String,
    image_url: String,
    note: String,
    group_id: u64,
    create_time: NaiveDateTime,
    update_time: NaiveDateTime,
}

/// A new image.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ImageIn {
    #[schema(min_length = 1, max_length = 128)]
    pub image_name: String,
    /// An http(s) URL.
    #[schema(min_length = 8, max_length = 2048)]
    pub image_url: String,
    #[schema(max_length = 255)]
    pub note: Option<String>,
    #[schema(minimum = 1)]
    pub group_id: u64,
}

/// An image's new values.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ImageUpdate {
    #[schema(minimum = 1)]
    pub id: u64,
    #[schema(min_length = 1, max_length = 128)]
    pub image_name: String,
    #[schema(min_length = 8, max_length = 2048)]
    pub image_url: String,
    #[schema(max_length = 255)]
    pub note: Option<String>,
    #[schema(minimum = 1)]
    pub group_id: u64,
}

/// `?group_id=` of the image list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImageFilter {
    #[param(minimum = 1)]
    pub group_id: Option<u64>,
}

const IMAGE_COLUMNS: &str =
    "SELECT id, image_name, image_url, note, group_id, create_time, update_time FROM ad_image";

impl AppState {
    fn image_out(&self, row: ImageRow) -> ImageOut {
        let zone = self.settings.time_zone;
        ImageOut {
            id: row.id,
            image_name: row.image_name,
            image_url: row.image_url,
            note: row.note,
            group_id: row.group_id,
            create_time: local_text(row.create_time, zone),
            update_time: local_text(row.update_time, zone),
        }
    }
}

async fn image_by_id(conn: &mut MySqlConnection, id: u64) -> Result<Option<ImageRow>, sqlx::Error> {
    QueryBuilder::<MySql>::new(IMAGE_COLUMNS)
        .push(" WHERE id = ")
        .push_bind(id)
        .build_query_as()
        .fetch_optional(conn)
        .await
}

async fn require_group(conn: &mut MySqlConnection, id: u64) -> Result<(), ApiError> {
    match group_by_id(conn, id).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::invalid("group_id", format!("no group {id}"))),
    }
}

fn missing_parent(error: sqlx::Error, field: &str) -> ApiError {
    if mysql_error_number(&error) == Some(ER_NO_REFERENCED_ROW) {
        ApiError::invalid(field, "no such row (deleted meanwhile)")
    } else {
        error.into()
    }
}

/// The images, by id.
#[utoipa::path(get, path = "/v1/advert/image", tag = "admin", params(ImageFilter, Paged<AdPaging>),
    responses(
        (status = 200, description = "A page of images", body = common::http::Envelope<Listing<ImageOut>>),
        (status = 400, description = "A bad parameter", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks ads:admin", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)),
    security(("bearer" = ["ads:admin"])))]
pub async fn list_images(
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<ImageFilter>,
    Paged(page, _): Paged<AdPaging>,
) -> ApiResult<Listing<ImageOut>> {
    let mut conn = state.pool.acquire().await?;
    let push = |q: &mut QueryBuilder<MySql>| {
        if let Some(group) = filter.group_id {
            q.push(" WHERE group_id = ").push_bind(group);
        }
    };
    let mut count = QueryBuilder::new("SELECT COUNT(*) FROM ad_image");
    push(&mut count);
    let total = total(&mut conn, count).await?;
    let mut rows = QueryBuilder::new(IMAGE_COLUMNS);
    push(&mut rows);
    rows.push(" ORDER BY id LIMIT ")
        .push_bind(page.limit())
        .push(" OFFSET ")
        .push_bind(page.offset());
    let rows: Vec<ImageRow> = rows.build_query_as().fetch_all(&mut *conn).await?;
    Ok(ok(Listing {
        page: page.page,
        page_size: page.size,
        total,
        items: rows.into_iter().map(|r| state.image_out(r)).collect(),
    }))
}

/// Adds an image to a group.
#[utoipa::path(post, path = "/v1/advert/image", tag = "admin",
    request_body(content = ImageIn, content_type = "application/x-www-form-urlencoded", description = "A form, or the same fields as JSON"),
    responses(
        (status = 200, description = "The image", body = common::http::Envelope<ImageOut>),
        (status = 400, description = "A bad field (a group that does not exist, a non-http(s) URL)", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks ads:admin", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)),
    security(("bearer" = ["ads:admin"])))]
pub async fn create_image(
    State(state): State<AppState>,
    ApiBody(body): ApiBody<ImageIn>,
) -> ApiResult<ImageOut> {
    let name = text("image_name", &body.image_name, 128)?;
    let image_url = url("image_url", &body.image_url)?;
    let note = note(body.note.as_deref())?;
    let mut conn = state.pool.acquire().await?;
    require_group(&mut conn, body.group_id).await?;
    let now = Utc::now().naive_utc();
    let id = sqlx::query(
        "INSERT INTO ad_image (image_name, image_url, note, group_id, create_time, update_time)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&name)
    .bind(&image_url)
    .bind(&note)
    .bind(body.group_id)
    .bind(now)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| missing_parent(e, "group_id"))?
    .last_insert_id();
    let row = image_by_id(&mut conn, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("image".into()))?;
    Ok(ok(state.image_out(row)))
}

/// Replaces an image's fields.
#[utoipa::path(put, path = "/v1/advert/image", tag = "admin",
    request_body(content = ImageUpdate, content_type = "application/x-www-form-urlencoded", description = "A form, or the same fields as JSON"),
    responses(
        (status = 200, description = "The image", body = common::http::Envelope<ImageOut>),
        (status = 400, description = "A bad field", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks ads:admin", body = ErrorEnvelope),
        (status = 404, description = "No such image", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)),
    security(("bearer" = ["ads:admin"])))]
pub async fn update_image(
    State(state): State<AppState>,
    ApiBody(body): ApiBody<ImageUpdate>,
) -> ApiResult<ImageOut> {
    let name = text("image_name", &body.image_name, 128)?;
    let image_url = url("image_url", &body.image_url)?;
    let note = note(body.note.as_deref())?;
    let mut conn = state.pool.acquire().await?;
    if image_by_id(&mut conn, body.id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no image {}", body.id)));
    }
    require_group(&mut conn, body.group_id).await?;
    sqlx::query(
        "UPDATE ad_image SET image_name = ?, image_url = ?, note = ?, group_id = ?, update_time = ?
         WHERE id = ?",
    )
    .bind(&name)
    .bind(&image_url)
    .bind(&note)
    .bind(body.group_id)
    .bind(Utc::now().naive_utc())
    .bind(body.id)
    .execute(&mut *conn)
    .await
    .map_err(|e| missing_parent(e, "group_id"))?;
    state.catalog.invalidate();
    let row = image_by_id(&mut conn, body.id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no image {}", body.id)))?;
    Ok(ok(state.image_out(row)))
}

/// Deletes an image; with styles, only with `force=true` (which removes them; never counts).
#[utoipa::path(delete, path = "/v1/advert/image", tag = "admin", params(DeleteQuery),
    responses(
        (status = 200, description = "What was removed", body = common::http::Envelope<Deleted>),
        (status = 400, description = "A bad parameter", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks ads:admin", body = ErrorEnvelope),
        (status = 404, description = "No such image", body = ErrorEnvelope),
        (status = 409, description = "Styles use the image (use force=true)", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)),
    security(("bearer" = ["ads:admin"])))]
pub async fn delete_image(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<DeleteQuery>,
) -> ApiResult<Deleted> {
    let mut tx = state.pool.begin().await?;
    let exists: Option<u64> = sqlx::query_scalar("SELECT id FROM ad_image WHERE id = ? FOR UPDATE")
        .bind(query.id)
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_none() {
        return Err(ApiError::NotFound(format!("no image {}", query.id)));
    }
    let styles: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ad_style WHERE image_id = ?")
        .bind(query.id)
        .fetch_one(&mut *tx)
        .await?;
    if styles > 0 && !query.force.unwrap_or(false) {
        return Err(ApiError::Conflict(format!(
            "image {} is used by {styles} style(s); delete them first or pass force=true",
            query.id
        )));
    }
    let styles = sqlx::query("DELETE FROM ad_style WHERE image_id = ?")
        .bind(query.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM ad_image WHERE id = ?")
        .bind(query.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    state.catalog.invalidate();
    Ok(ok(Deleted {
        id: query.id,
        images: 1,
        styles,
    }))
}

// ---------------------------------------------------------------------------------------
// Styles

/// A style: one ad placed for one system.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StyleOut {
    pub id: u64,
    pub system: String,
    pub image_id: u64,
    pub link_url: String,
    pub weight: u32,
    pub device: String,
    /// Local; null: live from creation.
    pub up_time: Option<String>,
    /// Local; null: never taken down.
    pub down_time: Option<String>,
    pub enabled: bool,
    pub show_code: String,
    pub click_code: String,
    pub note: String,
    pub create_time: String,
    pub update_time: String,
}

#[derive(FromRow)]
struct StyleRow {
    id: u64,
    system: String,
    image_id: u64,
    link_url: String,
    weight: u32,
    device: String,
    up_time: Option<NaiveDateTime>,
    down_time: Option<NaiveDateTime>,
    enabled: bool,
    show_code: String,
    click_code: String,
    note: String,
    create_time: NaiveDateTime,
    update_time: NaiveDateTime,
}

/// A new style.
#[derive(Debug, Deserialize, ToSchema)]
pub struct StyleIn {
    #[schema(min_length = 1, max_length = 64)]
    pub system: String,
    #[schema(minimum = 1)]
    pub image_id: u64,
    /// Where a click leads: an http(s) URL.
    #[schema(min_length = 8, max_length = 2048)]
    pub link_url: String,
    /// Default 1.
    #[schema(maximum = 1000000)]
    pub weight: Option<u32>,
    /// Default `all`.
    pub device: Option<Device>,
    /// Local `YYYY-MM-DD HH:MM:SS`; absent: live at once.
    pub up_time: Option<String>,
    /// Local `YYYY-MM-DD HH:MM:SS`, after `up_time`; absent: never taken down.
    pub down_time: Option<String>,
    /// Default true.
    pub enabled: Option<bool>,
    #[schema(max_length = 255)]
    pub note: Option<String>,
}

/// A style's new values (its codes never change).
#[derive(Debug, Deserialize, ToSchema)]
pub struct StyleUpdate {
    #[schema(minimum = 1)]
    pub id: u64,
    #[schema(min_length = 1, max_length = 64)]
    pub system: String,
    #[schema(minimum = 1)]
    pub image_id: u64,
    #[schema(min_length = 8, max_length = 2048)]
    pub link_url: String,
    #[schema(maximum = 1000000)]
    pub weight: Option<u32>,
    pub device: Option<Device>,
    pub up_time: Option<String>,
    pub down_time: Option<String>,
    pub enabled: Option<bool>,
    #[schema(max_length = 255)]
    pub note: Option<String>,
}

/// Filters of the style list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StyleFilterQuery {
    #[param(min_length = 1, max_length = 64)]
    pub system: Option<String>,
    #[param(minimum = 1)]
    pub image_id: Option<u64>,
    #[param(minimum = 1)]
    pub group_id: Option<u64>,
}

const STYLE_COLUMNS: &str = "SELECT s.id, s.`system`, s.image_id, s.link_url, s.weight, \
     CAST(s.device AS CHAR) AS device, s.up_time, s.down_time, s.enabled = 1 AS enabled, \
     s.show_code, s.click_code, s.note, s.create_time, s.update_time \
     FROM ad_style s JOIN ad_image i ON i.id = s.image_id";

impl AppState {
    fn style_out(&self, row: StyleRow) -> StyleOut {
        let zone = self.settings.time_zone;
        StyleOut {
            id: row.id,
            system: row.system,
            image_id: row.image_id,
            link_url: row.link_url,
            weight: row.weight,
            device: row.device,
            up_time: row.up_time.map(|t| local_text(t, zone)),
            down_time: row.down_time.map(|t| local_text(t, zone)),
            enabled: row.enabled,
            show_code: row.show_code,
            click_code: row.click_code,
            note: row.note,
            create_time: local_text(row.create_time, zone),
            update_time: local_text(row.update_time, zone),
        }
    }
}

async fn style_by_id(conn: &mut MySqlConnection, id: u64) -> Result<Option<StyleRow>, sqlx::Error> {
    QueryBuilder::<MySql>::new(STYLE_COLUMNS)
        .push(" WHERE s.id = ")
        .push_bind(id)
        .build_query_as()
        .fetch_optional(conn)
        .await
}

/// A style's validated values.
struct StyleValues {
    system: String,
    image_id: u64,
    link_url: String,
    weight: u32,
    device: Device,
    up_time: Option<NaiveDateTime>,
    down_time: Option<NaiveDateTime>,
    enabled: bool,
    note: String,
}

#[allow(clippy::too_many_arguments)]
fn style_values(
    state: &AppState,
    system: &str,
    image_id: u64,
    link_url: &str,
    weight: Option<u32>,
    device: Option<Device>,
    up_time: Option<&str>,
    down_time: Option<&str>,
    enabled: Option<bool>,
    note_text: Option<&str>,
) -> Result<StyleValues, ApiError> {
    let zone = state.settings.time_zone;
    let time = |field: &str, value: Option<&str>| -> Result<Option<NaiveDateTime>, ApiError> {
        match value.map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => parse_local(field, v, zone).map(Some),
        }
    };
    let up_time = time("up_time", up_time)?;
    let down_time = time("down_time", down_time)?;
    if let (Some(up), Some(down)) = (up_time, down_time)
        && down <= up
    {
        return Err(ApiError::invalid("down_time", "must be after up_time"));
    }
    let weight = weight.unwrap_or(1);
    if weight > 1_000_000 {
        return Err(ApiError::invalid("weight", "0 to 1000000"));
    }
    Ok(StyleValues {
        system: text("system", system, 64)?,
        image_id,
        link_url: url("link_url", link_url)?,
        weight,
        device: device.unwrap_or(Device::All),
        up_time,
        down_time,
        enabled: enabled.unwrap_or(true),
        note: note(note_text)?,
    })
}

async fn require_image(conn: &mut MySqlConnection, id: u64) -> Result<(), ApiError> {
    match image_by_id(conn, id).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::invalid("image_id", format!("no image {id}"))),
    }
}

/// 22 characters of URL-safe base64 over 128 random bits: unguessable, stable.
fn new_code() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The styles, by id.
#[utoipa::path(get, path = "/v1/advert/style", tag = "admin", params(StyleFilterQuery, Paged<AdPaging>),
    responses(
        (status = 200, description = "A page of styles", body = common::http::Envelope<Listing<StyleOut>>),
        (status = 400, description = "A bad parameter", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks ads:admin", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)),
    security(("bearer" = ["ads:admin"])))]
pub async fn list_styles(
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<StyleFilterQuery>,
    Paged(page, _): Paged<AdPaging>,
) -> ApiResult<Listing<StyleOut>> {
    let mut conn = state.pool.acquire().await?;
    let push = |q: &mut QueryBuilder<MySql>| {
        q.push(" WHERE 1 = 1");
        if let Some(system) = &filter.system {
            q.push(" AND s.`system` = ")
                .push_bind(system.trim().to_owned());
        }
        if let Some(image) = filter.image_id {
            q.push(" AND s.image_id = ").push_bind(image);
        }
        if let Some(group) = filter.group_id {
            q.push(" AND i.group_id = ").push_bind(group);
        }
    };
    let mut count =
        QueryBuilder::new("SELECT COUNT(*) FROM ad_style s JOIN ad_image i ON i.id = s.image_id");
    push(&mut count);
    let total = total(&mut conn, count).await?;
    let mut rows = QueryBuilder::new(STYLE_COLUMNS);
    push(&mut rows);
    rows.push(" ORDER BY s.id LIMIT ")
        .push_bind(page.limit())
        .push(" OFFSET ")
        .push_bind(page.offset());
    let rows: Vec<StyleRow> = rows.build_query_as().fetch_all(&mut *conn).await?;
    Ok(ok(Listing {
        page: page.page,
        page_size: page.size,
        total,
        items: rows.into_iter().map(|r| state.style_out(r)).collect(),
    }))
}

/// Places an ad: a style with its own new show and click codes.
#[utoipa::path(post, path = "/v1/advert/style", tag = "admin",
    request_body(content = StyleIn, content_type = "application/x-www-form-urlencoded", description = "A form, or the same fields as JSON"),
    responses(
        (status = 200, description = "The style with its codes", body = common::http::Envelope<StyleOut>),
        (status = 400, description = "A bad field (an image that does not exist, a non-http(s) link, down_time not after up_time)", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks ads:admin", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)),
    security(("bearer" = ["ads:admin"])))]
pub async fn create_style(
    State(state): State<AppState>,
    ApiBody(body): ApiBody<StyleIn>,
) -> ApiResult<StyleOut> {
    let v = style_values(
        &state,
        &body.system,
        body.image_id,
        &body.link_url,
        body.weight,
        body.device,
        body.up_time.as_deref(),
        body.down_time.as_deref(),
        body.enabled,
        body.note.as_deref(),
    )?;
    let mut conn = state.pool.acquire().await?;
    require_image(&mut conn, v.image_id).await?;
    let now = Utc::now().naive_utc();
    let id = sqlx::query(
        "INSERT INTO ad_style (`system`, image_id, link_url, weight, device, up_time, down_time,
             enabled, show_code, click_code, note, create_time, update_time)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&v.system)
    .bind(v.image_id)
    .bind(&v.link_url)
    .bind(v.weight)
    .bind(v.device.as_str())
    .bind(v.up_time)
    .bind(v.down_time)
    .bind(v.enabled)
    .bind(new_code())
    .bind(new_code())
    .bind(&v.note)
    .bind(now)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| missing_parent(e, "image_id"))?
    .last_insert_id();
    state.catalog.invalidate();
    let row = style_by_id(&mut conn, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("style".into()))?;
    Ok(ok(state.style_out(row)))
}

/// Replaces a style's fields (its codes stay).
#[utoipa::path(put, path = "/v1/advert/style", tag = "admin",
    request_body(content = StyleUpdate, content_type = "application/x-www-form-urlencoded", description = "A form, or the same fields as JSON"),
    responses(
        (status = 200, description = "The style", body = common::http::Envelope<StyleOut>),
        (status = 400, description = "A bad field", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks ads:admin", body = ErrorEnvelope),
        (status = 404, description = "No such style", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)),
    security(("bearer" = ["ads:admin"])))]
pub async fn update_style(
    State(state): State<AppState>,
    ApiBody(body): ApiBody<StyleUpdate>,
) -> ApiResult<StyleOut> {
    let v = style_values(
        &state,
        &body.system,
        body.image_id,
        &body.link_url,
        body.weight,
        body.device,
        body.up_time.as_deref(),
        body.down_time.as_deref(),
        body.enabled,
        body.note.as_deref(),
    )?;
    let mut conn = state.pool.acquire().await?;
    if style_by_id(&mut conn, body.id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no style {}", body.id)));
    }
    require_image(&mut conn, v.image_id).await?;
    sqlx::query(
        "UPDATE ad_style SET `system` = ?, image_id = ?, link_url = ?, weight = ?, device = ?,
             up_time = ?, down_time = ?, enabled = ?, note = ?, update_time = ?
         WHERE id = ?",
    )
    .bind(&v.system)
    .bind(v.image_id)
    .bind(&v.link_url)
    .bind(v.weight)
    .bind(v.device.as_str())
    .bind(v.up_time)
    .bind(v.down_time)
    .bind(v.enabled)
    .bind(&v.note)
    .bind(Utc::now().naive_utc())
    .bind(body.id)
    .execute(&mut *conn)
    .await
    .map_err(|e| missing_parent(e, "image_id"))?;
    state.catalog.invalidate();
    let row = style_by_id(&mut conn, body.id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no style {}", body.id)))?;
    Ok(ok(state.style_out(row)))
}

/// Deletes a style (its counts and archive rows stay).
#[utoipa::path(delete, path = "/v1/advert/style", tag = "admin", params(DeleteQuery),
    responses(
        (status = 200, description = "What was removed", body = common::http::Envelope<Deleted>),
        (status = 400, description = "A bad parameter", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks ads:admin", body = ErrorEnvelope),
        (status = 404, description = "No such style", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)),
    security(("bearer" = ["ads:admin"])))]
pub async fn delete_style(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<DeleteQuery>,
) -> ApiResult<Deleted> {
    let removed = sqlx::query("DELETE FROM ad_style WHERE id = ?")
        .bind(query.id)
        .execute(&state.pool)
        .await?
        .rows_affected();
    if removed == 0 {
        return Err(ApiError::NotFound(format!("no style {}", query.id)));
    }
    state.catalog.invalidate();
    Ok(ok(Deleted {
        id: query.id,
        images: 0,
        styles: removed,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_absolute_http() {
        assert!(url("u", "https://ads.example.com/a.png").is_ok());
        assert!(url("u", "http://x.org").is_ok());
        assert!(url("u", "javascript:alert(1)").is_err());
        assert!(url("u", "ftp://x.org/a").is_err());
        assert!(url("u", "https://").is_err());
        assert!(url("u", "https://x.org/a b").is_err());
        assert!(url("u", "https://x.org/café").is_err());
        assert!(url("u", "https://x.org/caf%C3%A9").is_ok());
    }

    #[test]
    fn codes_are_22_url_safe_characters_and_differ() {
        let (a, b) = (new_code(), new_code());
        assert_eq!(a.len(), 22);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a, b);
    }
}
