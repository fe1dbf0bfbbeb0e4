//! The read routes: raw counts (paged), stats by period kind, outliers (paged).
//!
//! Ranges: `from` and `to` are local dates `YYYY-MM-DD` of the cameras' zone (whole days,
//! `to` included) or ISO 8601 instants with an offset (`to` excluded). Stats ranges are
//! dates only: a stats row is returned when its period starts within them.

use axum::extract::{Path, State};
use chrono::NaiveDateTime;
use common::http::{ApiError, ApiQuery, ApiResult, ok};
use serde::{Deserialize, Serialize};
use sqlx::{MySql, QueryBuilder};
use utoipa::{IntoParams, ToSchema};

use crate::{
    AppState,
    time::{format_utc, parse_bound, parse_date},
};

/// The largest page.
pub const MAX_PAGE_SIZE: u32 = 1000;
const DEFAULT_PAGE_SIZE: u32 = 100;
/// The longest stats range (ten years of days).
const MAX_STATS_DAYS: i64 = 3660;

/// `page` (from 1) and `page_size` (1..=1000, default 100).
fn paging(page: Option<u32>, page_size: Option<u32>) -> Result<(u32, u32), ApiError> {
    let page = page.unwrap_or(1);
    let size = page_size.unwrap_or(DEFAULT_PAGE_SIZE);
    if page == 0 {
        return Err(ApiError::invalid("page", "pages start at 1"));
    }
    if size == 0 || size > MAX_PAGE_SIZE {
        return Err(ApiError::invalid(
            "page_size",
            format!("must be between 1 and {MAX_PAGE_SIZE}"),
        ));
    }
    Ok((page, size))
}

fn range(
    state: &AppState,
    from: &str,
    to: &str,
) -> Result<(NaiveDateTime, NaiveDateTime), ApiError> {
    let zone = state.zone();
    let from = parse_bound("from", from, zone, false)?;
    let to = parse_bound("to", to, zone, true)?;
    if to <= from {
        return Err(ApiError::invalid("to", "must be after from"));
    }
    Ok((from, to))
}

/// A page of rows.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub page: u32,
    pub page_size: u32,
    /// Rows in the whole range.
    pub total: u64,
    pub items: Vec<T>,
}

/// Query of `GET /cctv/counts`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CountsQuery {
    /// Start of the range: `YYYY-MM-DD` (local) or an instant with an offset.
    pub from: String,
    /// End of the range: `YYYY-MM-DD` (local, included) or an instant (excluded).
    pub to: String,
    /// Only this camera.
    pub camera_id: Option<String>,
    pub page: Option<u32>,
    pub page_size: Option<u32>,
}

/// A stored count.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CountOut {
    pub camera_id: String,
    /// UTC.
    pub start: String,
    /// UTC.
    pub end: String,
    pub people: u32,
    pub vehicles: u32,
}

/// Raw counts whose interval starts in the range, by start then camera, paged.
#[utoipa::path(
    get,
    path = "/cctv/counts",
    tag = "cctv",
    params(CountsQuery),
    responses(
        (status = 200, description = "A page of counts", body = common::http::Envelope<Page<CountOut>>),
        (status = 400, description = "A bad parameter (data.field, data.reason)"),
        (status = 401, description = "No token, or an unknown or revoked one"),
        (status = 403, description = "The token lacks cctv:read")
    ),
    security(("bearer" = ["cctv:read"]))
)]
pub async fn get_counts(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<CountsQuery>,
) -> ApiResult<Page<CountOut>> {
    let (from, to) = range(&state, &query.from, &query.to)?;
    let (page, size) = paging(query.page, query.page_size)?;
    let filter = |q: &mut QueryBuilder<MySql>| {
        q.push(" WHERE start_utc >= ")
            .push_bind(from)
            .push(" AND start_utc < ")
            .push_bind(to);
        if let Some(camera) = &query.camera_id {
            q.push(" AND camera_id = ").push_bind(camera.clone());
        }
    };
    let mut count = QueryBuilder::<MySql>::new("SELECT COUNT(*) FROM cctv_count");
    filter(&mut count);
    let total: i64 = count.build_query_scalar().fetch_one(&state.pool).await?;
    let mut rows = QueryBuilder::<MySql>::new(
        "SELECT camera_id, start_utc, end_utc, people, vehicles FROM cctv_count",
    );
    filter(&mut rows);
    rows.push(" ORDER BY start_utc, camera_id LIMIT ")
        .push_bind(size)
        .push(" OFFSET ")
        .push_bind(u64::from(page - 1) * u64::from(size));
    let items: Vec<(String, NaiveDateTime, NaiveDateTime, u32, u32)> =
        rows.build_query_as().fetch_all(&state.pool).await?;
    Ok(ok(Page {
        page,
        page_size: size,
        total: u64::try_from(total).unwrap_or_default(),
        items: items
            .into_iter()
            .map(|(camera_id, start, end, people, vehicles)| CountOut {
                camera_id,
                start: format_utc(start),
                end: format_utc(end),
                people,
                vehicles,
            })
            .collect(),
    }))
}

/// The period kinds of `cctv_stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PeriodKind {
    Day,
    Week,
    Month,
    Year,
    WeekdayOfMonth,
    WeekdayOfYear,
}

impl PeriodKind {
    /// The value stored in `cctv_stats.period_kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::Year => "year",
            Self::WeekdayOfMonth => "weekday-of-month",
            Self::WeekdayOfYear => "weekday-of-year",
        }
    }
}

/// Query of `GET /cctv/cameras/{camera_id}/stats`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// day, week, month, year, weekday-of-month or weekday-of-year.
    pub kind: PeriodKind,
    /// First period start (local date, `YYYY-MM-DD`).
    pub from: String,
    /// Last period start (local date, included).
    pub to: String,
}

/// One stats row.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatsOut {
    pub camera_id: String,
    pub kind: String,
    /// First local day of the period.
    pub period_start: String,
    /// Last local day of the period (included).
    pub period_end: String,
    /// ISO weekday (1 = Monday .. 7 = Sunday) for the per-weekday kinds, else null.
    pub weekday: Option<u8>,
    /// Counts averaged (day) or day rows averaged (the other kinds).
    pub samples: u32,
    pub people_avg: f64,
    /// avg + 1.5 x population standard deviation (day); mean of the days' values (others).
    pub people_reference: f64,
    pub vehicles_avg: f64,
    pub vehicles_reference: f64,
}

/// 404 unless the camera is registered.
async fn known_camera(state: &AppState, camera_id: &str) -> Result<(), ApiError> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT camera_id FROM cctv_camera WHERE camera_id = ?")
            .bind(camera_id)
            .fetch_optional(&state.pool)
            .await?;
    found
        .map(|_| ())
        .ok_or_else(|| ApiError::NotFound(format!("no camera {camera_id:?}")))
}

/// Stats of one camera and period kind whose periods start in the range.
#[utoipa::path(
    get,
    path = "/cctv/cameras/{camera_id}/stats",
    tag = "cctv",
    params(("camera_id" = String, Path, description = "The camera"), StatsQuery),
    responses(
        (status = 200, description = "Stats rows by period start (and weekday)", body = common::http::Envelope<Vec<StatsOut>>),
        (status = 400, description = "A bad parameter (data.field, data.reason)"),
        (status = 401, description = "No token, or an unknown or revoked one"),
        (status = 403, description = "The token lacks cctv:read"),
        (status = 404, description = "No such camera")
    ),
    security(("bearer" = ["cctv:read"]))
)]
pub async fn get_stats(
    State(state): State<AppState>,
    Path(camera_id): Path<String>,
    ApiQuery(query): ApiQuery<StatsQuery>,
) -> ApiResult<Vec<StatsOut>> {
    let from = parse_date("from", &query.from)?;
    let to = parse_date("to", &query.to)?;
    if to < from {
        return Err(ApiError::invalid("to", "must not be before from"));
    }
    if (to - from).num_days() > MAX_STATS_DAYS {
        return Err(ApiError::invalid(
            "to",
            format!("a range covers at most {MAX_STATS_DAYS} days"),
        ));
    }
    known_camera(&state, &camera_id).await?;
    type Row = (
        chrono::NaiveDate,
        u8,
        chrono::NaiveDate,
        u32,
        f64,
        f64,
        f64,
        f64,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT period_start, weekday, period_end, samples, people_avg, people_ref, vehicles_avg, vehicles_ref
         FROM cctv_stats WHERE camera_id = ? AND period_kind = ? AND period_start BETWEEN ? AND ?
         ORDER BY period_start, weekday",
    )
    .bind(&camera_id)
    .bind(query.kind.as_str())
    .bind(from)
    .bind(to)
    .fetch_all(&state.pool)
    .await?;
    Ok(ok(rows
        .into_iter()
        .map(|(start, weekday, end, samples, pa, pr, va, vr)| StatsOut {
            camera_id: camera_id.clone(),
            kind: query.kind.as_str().to_owned(),
            period_start: start.to_string(),
            period_end: end.to_string(),
            weekday: (weekday > 0).then_some(weekday),
            samples,
            people_avg: pa,
            people_reference: pr,
            vehicles_avg: va,
            vehicles_reference: vr,
        })
        .collect()))
}

/// Query of `GET /cctv/cameras/{camera_id}/outliers`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutliersQuery {
    /// Start of the range: `YYYY-MM-DD` (local) or an instant with an offset.
    pub from: String,
    /// End of the range: `YYYY-MM-DD` (local, included) or an instant (excluded).
    pub to: String,
    pub page: Option<u32>,
    pub page_size: Option<u32>,
}

/// A flagged count.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OutlierOut {
    pub camera_id: String,
    pub start: String,
    pub end: String,
    pub people: u32,
    pub vehicles: u32,
    /// `people`, `vehicle` or `both`.
    pub outlier: String,
    /// `year`, `month`, `week` or `day`: the stats the reference came from.
    pub reference_kind: String,
    pub people_reference: f64,
    pub vehicle_reference: f64,
    pub detected_at: String,
}

/// Outliers of one camera whose interval starts in the range, paged.
#[utoipa::path(
    get,
    path = "/cctv/cameras/{camera_id}/outliers",
    tag = "cctv",
    params(("camera_id" = String, Path, description = "The camera"), OutliersQuery),
    responses(
        (status = 200, description = "A page of outliers", body = common::http::Envelope<Page<OutlierOut>>),
        (status = 400, description = "A bad parameter (data.field, data.reason)"),
        (status = 401, description = "No token, or an unknown or revoked one"),
        (status = 403, description = "The token lacks cctv:read"),
        (status = 404, description = "No such camera")
    ),
    security(("bearer" = ["cctv:read"]))
)]
pub async fn get_outliers(
    State(state): State<AppState>,
    Path(camera_id): Path<String>,
    ApiQuery(query): ApiQuery<OutliersQuery>,
) -> ApiResult<Page<OutlierOut>> {
    let (from, to) = range(&state, &query.from, &query.to)?;
    let (page, size) = paging(query.page, query.page_size)?;
    known_camera(&state, &camera_id).await?;
    let total: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM cctv_outlier WHERE camera_id = ? AND start_utc >= ? AND start_utc < ?",
    )
    .bind(&camera_id)
    .bind(from)
    .bind(to)
    .fetch_one(&state.pool)
    .await?;
    type Row = (
        NaiveDateTime,
        NaiveDateTime,
        u32,
        u32,
        String,
        String,
        f64,
        f64,
        NaiveDateTime,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT start_utc, end_utc, people, vehicles, CAST(outlier AS CHAR), CAST(reference_kind AS CHAR),
                people_reference, vehicle_reference, detected_at
         FROM cctv_outlier WHERE camera_id = ? AND start_utc >= ? AND start_utc < ?
         ORDER BY start_utc LIMIT ? OFFSET ?",
    )
    .bind(&camera_id)
    .bind(from)
    .bind(to)
    .bind(size)
    .bind(u64::from(page - 1) * u64::from(size))
    .fetch_all(&state.pool)
    .await?;
    Ok(ok(Page {
        page,
        page_size: size,
        total: u64::try_from(total).unwrap_or_default(),
        items: rows
            .into_iter()
            .map(
                |(start, end, people, vehicles, outlier, kind, pr, vr, at)| OutlierOut {
                    camera_id: camera_id.clone(),
                    start: format_utc(start),
                    end: format_utc(end),
                    people,
                    vehicles,
                    outlier,
                    reference_kind: kind,
                    people_reference: pr,
                    vehicle_reference: vr,
                    detected_at: format_utc(at),
                },
            )
            .collect(),
    }))
}
