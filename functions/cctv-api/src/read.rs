//! The read routes: raw counts (paged), stats by period kind, outliers (paged).
//!
//! Ranges (`common::http::bounds`): `from` and `to` are local dates `YYYY-MM-DD` of the
//! cameras' zone (whole days, `to` included) or ISO 8601 instants with an offset (`to`
//! excluded), inside the plausible date window. Stats ranges are dates only: a stats row is
//! returned when its period starts within them. Camera ids in paths and parameters are
//! normalised as on the way in ([`crate::camera`]). Paging: `page` from 1, `page_size`
//! 1..=1000, default 100 ([`CctvPaging`]).

use axum::extract::State;
use chrono::{NaiveDate, NaiveDateTime};
use common::{
    http::{
        ApiError, ApiPath, ApiQuery, ApiResult, ErrorEnvelope, PageRules, PageStyle, Paged,
        bounds::{self, DateParam, TimeBound},
        ok,
    },
    instant::format_utc,
    period::PeriodKind,
};
use serde::{Deserialize, Serialize};
use sqlx::{MySql, QueryBuilder};
use utoipa::{IntoParams, ToSchema};

use crate::{AppState, camera, ingest::Outlier};

/// cctv-api's paging: `page` / `page_size`, 100 rows by default, at most 1,000.
pub struct CctvPaging;

impl PageStyle for CctvPaging {
    const RULES: PageRules = PageRules::new("page", "page_size", 100, MAX_PAGE_SIZE);
}

/// The largest page.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// The longest stats range (ten years of days).
pub const MAX_STATS_DAYS: i64 = 3660;

/// A page of rows.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    #[schema(minimum = 1)]
    pub page: u32,
    #[schema(minimum = 1, maximum = 1000)]
    pub page_size: u32,
    /// Rows in the whole range.
    pub total: u64,
    pub items: Vec<T>,
}

impl<T> Page<T> {
    fn of(page: common::http::Page, total: i64, items: Vec<T>) -> Self {
        Self {
            page: page.page,
            page_size: page.size,
            total: u64::try_from(total).unwrap_or_default(),
            items,
        }
    }
}

/// Query of `GET /cctv/counts` (besides the paging).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CountsQuery {
    /// Start of the range: `YYYY-MM-DD` (local) or an instant with an offset.
    #[param(inline)]
    pub from: TimeBound,
    /// End of the range: `YYYY-MM-DD` (local, included) or an instant (excluded).
    #[param(inline)]
    pub to: TimeBound,
    /// Only this camera.
    #[param(min_length = 1, max_length = 64)]
    pub camera_id: Option<String>,
}

/// A stored count.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CountOut {
    pub camera_id: String,
    /// UTC.
    #[schema(format = DateTime)]
    pub start: String,
    /// UTC.
    #[schema(format = DateTime)]
    pub end: String,
    pub people: u32,
    pub vehicles: u32,
}

/// Raw counts whose interval starts in the range, by start then camera, paged.
#[utoipa::path(
    get,
    path = "/cctv/counts",
    tag = "cctv",
    params(CountsQuery, Paged<CctvPaging>),
    responses(
        (status = 200, description = "A page of counts", body = common::http::Envelope<Page<CountOut>>),
        (status = 400, description = "A bad parameter (data.field, data.reason)", body = ErrorEnvelope),
        (status = 401, description = "No token, or an unknown, expired or revoked one", body = ErrorEnvelope),
        (status = 403, description = "The token lacks cctv:read", body = ErrorEnvelope),
        (status = 500, description = "Internal error (details in the logs)", body = ErrorEnvelope)
    ),
    security(("bearer" = ["cctv:read"]))
)]
pub async fn get_counts(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<CountsQuery>,
    Paged(page, _): Paged<CctvPaging>,
) -> ApiResult<Page<CountOut>> {
    let range = state.time_range(&query.from.0, &query.to.0)?;
    let camera = query
        .camera_id
        .as_deref()
        .map(|id| camera::normalise("camera_id", id))
        .transpose()?;
    let filter = |q: &mut QueryBuilder<MySql>| {
        q.push(" WHERE start_utc >= ")
            .push_bind(range.from)
            .push(" AND start_utc < ")
            .push_bind(range.to);
        if let Some(camera) = &camera {
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
        .push_bind(page.limit())
        .push(" OFFSET ")
        .push_bind(page.offset());
    let items: Vec<(String, NaiveDateTime, NaiveDateTime, u32, u32)> =
        rows.build_query_as().fetch_all(&state.pool).await?;
    Ok(ok(Page::of(
        page,
        total,
        items
            .into_iter()
            .map(|(camera_id, start, end, people, vehicles)| CountOut {
                camera_id,
                start: format_utc(start),
                end: format_utc(end),
                people,
                vehicles,
            })
            .collect(),
    )))
}

/// Query of `GET /cctv/cameras/{camera_id}/stats`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// day, week, month, year, weekday-of-month or weekday-of-year.
    pub kind: PeriodKind,
    /// First period start (local date, `YYYY-MM-DD`).
    #[param(inline)]
    pub from: DateParam,
    /// Last period start (local date, included; at most 3,660 days after `from`).
    #[param(inline)]
    pub to: DateParam,
}

/// One stats row.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatsOut {
    pub camera_id: String,
    pub kind: PeriodKind,
    /// First local day of the period.
    #[schema(format = Date)]
    pub period_start: String,
    /// Last local day of the period (included).
    #[schema(format = Date)]
    pub period_end: String,
    /// ISO weekday (1 = Monday .. 7 = Sunday) for the per-weekday kinds, else null.
    #[schema(minimum = 1, maximum = 7)]
    pub weekday: Option<u8>,
    /// Counts averaged (day) or day rows averaged (the other kinds).
    pub samples: u32,
    pub people_avg: f64,
    /// avg + 1.5 x population standard deviation (day); mean of the days' values (others).
    pub people_reference: f64,
    pub vehicles_avg: f64,
    pub vehicles_reference: f64,
}

/// The camera id of a path, normalised; 404 unless the camera is registered.
async fn known_camera(state: &AppState, raw: &str) -> Result<String, ApiError> {
    let camera_id = camera::normalise("camera_id", raw)?;
    let found: Option<String> =
        sqlx::query_scalar("SELECT camera_id FROM cctv_camera WHERE camera_id = ?")
            .bind(&camera_id)
            .fetch_optional(&state.pool)
            .await?;
    found.ok_or_else(|| ApiError::NotFound(format!("no camera {camera_id:?}")))
}

/// Stats of one camera and period kind whose periods start in the range.
#[utoipa::path(
    get,
    path = "/cctv/cameras/{camera_id}/stats",
    tag = "cctv",
    params(
        ("camera_id" = String, Path, description = "The camera (1-64 Unicode letters or digits or . _ : -)", min_length = 1, max_length = 64),
        StatsQuery
    ),
    responses(
        (status = 200, description = "Stats rows by period start (and weekday)", body = common::http::Envelope<Vec<StatsOut>>),
        (status = 400, description = "A bad parameter (data.field, data.reason)", body = ErrorEnvelope),
        (status = 401, description = "No token, or an unknown, expired or revoked one", body = ErrorEnvelope),
        (status = 403, description = "The token lacks cctv:read", body = ErrorEnvelope),
        (status = 404, description = "No such camera", body = ErrorEnvelope),
        (status = 500, description = "Internal error (details in the logs)", body = ErrorEnvelope)
    ),
    security(("bearer" = ["cctv:read"]))
)]
pub async fn get_stats(
    State(state): State<AppState>,
    ApiPath(camera_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<StatsQuery>,
) -> ApiResult<Vec<StatsOut>> {
    let (from, to) = bounds::date_range(
        &query.from.0,
        &query.to.0,
        &state.settings.date_window,
        MAX_STATS_DAYS,
    )?;
    let camera_id = known_camera(&state, &camera_id).await?;
    type Row = (NaiveDate, u8, NaiveDate, u32, f64, f64, f64, f64);
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
            kind: query.kind,
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

/// Query of `GET /cctv/cameras/{camera_id}/outliers` (besides the paging).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutliersQuery {
    /// Start of the range: `YYYY-MM-DD` (local) or an instant with an offset.
    #[param(inline)]
    pub from: TimeBound,
    /// End of the range: `YYYY-MM-DD` (local, included) or an instant (excluded).
    #[param(inline)]
    pub to: TimeBound,
}

/// A flagged count.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OutlierOut {
    pub camera_id: String,
    #[schema(format = DateTime)]
    pub start: String,
    #[schema(format = DateTime)]
    pub end: String,
    pub people: u32,
    pub vehicles: u32,
    pub outlier: Outlier,
    /// `year`, `month`, `week` or `day`: the stats the reference came from.
    pub reference_kind: PeriodKind,
    pub people_reference: f64,
    pub vehicle_reference: f64,
    #[schema(format = DateTime)]
    pub detected_at: String,
}

/// Outliers of one camera whose interval starts in the range, paged.
#[utoipa::path(
    get,
    path = "/cctv/cameras/{camera_id}/outliers",
    tag = "cctv",
    params(
        ("camera_id" = String, Path, description = "The camera (1-64 Unicode letters or digits or . _ : -)", min_length = 1, max_length = 64),
        OutliersQuery,
        Paged<CctvPaging>
    ),
    responses(
        (status = 200, description = "A page of outliers", body = common::http::Envelope<Page<OutlierOut>>),
        (status = 400, description = "A bad parameter (data.field, data.reason)", body = ErrorEnvelope),
        (status = 401, description = "No token, or an unknown, expired or revoked one", body = ErrorEnvelope),
        (status = 403, description = "The token lacks cctv:read", body = ErrorEnvelope),
        (status = 404, description = "No such camera", body = ErrorEnvelope),
        (status = 500, description = "Internal error (details in the logs)", body = ErrorEnvelope)
    ),
    security(("bearer" = ["cctv:read"]))
)]
pub async fn get_outliers(
    State(state): State<AppState>,
    ApiPath(camera_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<OutliersQuery>,
    Paged(page, _): Paged<CctvPaging>,
) -> ApiResult<Page<OutlierOut>> {
    let range = state.time_range(&query.from.0, &query.to.0)?;
    let camera_id = known_camera(&state, &camera_id).await?;
    let total: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM cctv_outlier WHERE camera_id = ? AND start_utc >= ? AND start_utc < ?",
    )
    .bind(&camera_id)
    .bind(range.from)
    .bind(range.to)
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
    .bind(range.from)
    .bind(range.to)
    .bind(page.limit())
    .bind(page.offset())
    .fetch_all(&state.pool)
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for (start, end, people, vehicles, outlier, kind, pr, vr, at) in rows {
        // Both columns are ENUMs of exactly these values; anything else is a schema drift.
        let unexpected = || {
            ApiError::Internal(
                format!("cctv_outlier holds an unknown value ({outlier:?}, {kind:?})").into(),
            )
        };
        items.push(OutlierOut {
            camera_id: camera_id.clone(),
            start: format_utc(start),
            end: format_utc(end),
            people,
            vehicles,
            outlier: Outlier::parse(&outlier).ok_or_else(unexpected)?,
            reference_kind: kind.parse().map_err(|_| unexpected())?,
            people_reference: pr,
            vehicle_reference: vr,
            detected_at: format_utc(at),
        });
    }
    Ok(ok(Page::of(page, total, items)))
}
