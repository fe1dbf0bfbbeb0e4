//! `GET /v1/advert/day` and `GET /v1/advert/hour`: shows, clicks, CTR and unique visitors.
//!
//! An archived day (in the archive's ledger) is read from `ad_ctr`; any other day — today
//! above all — from the hourly counts, so today's figures are seconds behind the hits (the
//! worker's batching window), not a day. Filters by group or system select the styles
//! configured now (a deleted style's history is still reachable by `style_id`).

use std::collections::{BTreeMap, HashSet};

use axum::extract::State;
use chrono::NaiveDate;
use common::{
    ads::{self, ARCHIVE_KIND, ARCHIVE_LEDGER, Figures, StyleFilter},
    http::{ApiError, ApiQuery, ApiResult, ErrorEnvelope, bounds::DateParam, ok},
    instant::DateWindow,
};
use serde::{Deserialize, Serialize};
use sqlx::{MySql, MySqlConnection, QueryBuilder, Row};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;

/// The longest day range.
pub const MAX_DAYS: i64 = 366;

/// Query of `GET /v1/advert/day`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DayQuery {
    /// First local day `YYYY-MM-DD`.
    #[param(inline)]
    pub from: DateParam,
    /// Last local day (included), at most 366 days after `from`.
    #[param(inline)]
    pub to: DateParam,
    /// Only this style (at most one of style_id, group_id, system).
    #[param(minimum = 1)]
    pub style_id: Option<u64>,
    /// Only the styles of this group's images.
    #[param(minimum = 1)]
    pub group_id: Option<u64>,
    /// Only the styles of this system.
    #[param(min_length = 1, max_length = 64)]
    pub system: Option<String>,
}

/// One style's day.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DayOut {
    /// Local `YYYY-MM-DD`.
    pub day: String,
    pub style_id: u64,
    pub shows: u64,
    pub clicks: u64,
    /// clicks / shows; null without shows.
    pub ctr: Option<f64>,
    /// Distinct visitors (HLL estimate, about 0.8 % standard error).
    pub visitors: u64,
    /// True when read from the daily archive, false when from the live hourly counts.
    pub archived: bool,
}

fn date(field: &str, text: &str) -> Result<NaiveDate, ApiError> {
    common::http::bounds::date(field, text, &DateWindow::current())
}

async fn style_filter(
    conn: &mut MySqlConnection,
    style_id: Option<u64>,
    group_id: Option<u64>,
    system: Option<&str>,
) -> Result<StyleFilter, ApiError> {
    let given = [style_id.is_some(), group_id.is_some(), system.is_some()]
        .into_iter()
        .filter(|g| *g)
        .count();
    if given > 1 {
        return Err(ApiError::invalid(
            "style_id",
            "give at most one of style_id, group_id and system",
        ));
    }
    if let Some(style) = style_id {
        return Ok(StyleFilter::Only(vec![style]));
    }
    let mut query = QueryBuilder::<MySql>::new(
        "SELECT s.id FROM ad_style s JOIN ad_image i ON i.id = s.image_id WHERE ",
    );
    if let Some(group) = group_id {
        query.push("i.group_id = ").push_bind(group);
    } else if let Some(system) = system {
        query
            .push("s.`system` = ")
            .push_bind(system.trim().to_owned());
    } else {
        return Ok(StyleFilter::All);
    }
    let ids: Vec<u64> = query.build_query_scalar().fetch_all(conn).await?;
    Ok(StyleFilter::Only(ids))
}

/// Daily figures per style, from the archive or (for days not archived yet) live.
#[utoipa::path(get, path = "/v1/advert/day", tag = "admin", params(DayQuery),
    responses(
        (status = 200, description = "One row per day and style with counts", body = common::http::Envelope<Vec<DayOut>>),
        (status = 400, description = "A bad parameter", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks ads:admin", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)),
    security(("bearer" = ["ads:admin"])))]
pub async fn get_day(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<DayQuery>,
) -> ApiResult<Vec<DayOut>> {
    let from = date("from", &query.from.0)?;
    let to = date("to", &query.to.0)?;
    if to < from {
        return Err(ApiError::invalid("to", "is before from"));
    }
    if (to - from).num_days() >= MAX_DAYS {
        return Err(ApiError::invalid("to", format!("at most {MAX_DAYS} days")));
    }
    let zone = state.settings.time_zone;
    let mut conn = state.pool.acquire().await?;
    let styles = style_filter(
        &mut conn,
        query.style_id,
        query.group_id,
        query.system.as_deref(),
    )
    .await?;
    let archived: HashSet<NaiveDate> = ARCHIVE_LEDGER
        .done(&mut conn)
        .await?
        .into_iter()
        .filter(|(kind, _)| *kind == ARCHIVE_KIND)
        .map(|(_, day)| day)
        .collect();
    let mut rows = Vec::new();
    let mut archived_rows = archived_figures(&mut conn, from, to, &styles).await?;
    for day in from.iter_days().take_while(|d| *d <= to) {
        let (figures, from_archive) = if archived.contains(&day) {
            (archived_rows.remove(&day).unwrap_or_default(), true)
        } else {
            (
                ads::live_day_figures(&mut conn, day, zone, &styles).await?,
                false,
            )
        };
        for (style_id, f) in figures {
            rows.push(DayOut {
                day: day.to_string(),
                style_id,
                shows: f.shows,
                clicks: f.clicks,
                ctr: f.ctr,
                visitors: f.visitors,
                archived: from_archive,
            });
        }
    }
    Ok(ok(rows))
}

async fn archived_figures(
    conn: &mut MySqlConnection,
    from: NaiveDate,
    to: NaiveDate,
    styles: &StyleFilter,
) -> Result<BTreeMap<NaiveDate, BTreeMap<u64, Figures>>, sqlx::Error> {
    let mut query = QueryBuilder::<MySql>::new(
        "SELECT day, style_id, shows, clicks, visitors FROM ad_ctr WHERE day >= ",
    );
    query.push_bind(from).push(" AND day <= ").push_bind(to);
    if styles.matches_none() {
        return Ok(BTreeMap::new());
    }
    styles.push(&mut query);
    let mut out: BTreeMap<NaiveDate, BTreeMap<u64, Figures>> = BTreeMap::new();
    for row in query.build().fetch_all(conn).await? {
        out.entry(row.try_get(0)?).or_default().insert(
            row.try_get(1)?,
            Figures::new(row.try_get(2)?, row.try_get(3)?, row.try_get(4)?),
        );
    }
    Ok(out)
}

/// Query of `GET /v1/advert/hour`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HourQuery {
    /// The local day `YYYY-MM-DD`.
    #[param(inline)]
    pub date: DateParam,
    /// Only this style; all styles summed when absent.
    #[param(minimum = 1)]
    pub style_id: Option<u64>,
}

/// One local hour.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HourOut {
    /// Local hour 0..=23.
    pub hour: u32,
    /// The UTC hour it is stored as.
    pub hour_utc: String,
    pub shows: u64,
    pub clicks: u64,
    pub ctr: Option<f64>,
    pub visitors: u64,
}

/// A day's hours in the seed's shape (`shows` / `clicks` keyed "0".."23") and as a list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HourTable {
    pub date: String,
    pub style_id: Option<u64>,
    pub shows: BTreeMap<String, u64>,
    pub clicks: BTreeMap<String, u64>,
    pub hours: Vec<HourOut>,
}

/// The local hours of a day, live from the hourly counts.
#[utoipa::path(get, path = "/v1/advert/hour", tag = "admin", params(HourQuery),
    responses(
        (status = 200, description = "The day's hours", body = common::http::Envelope<HourTable>),
        (status = 400, description = "A bad parameter", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token lacks ads:admin", body = ErrorEnvelope),
        (status = 500, description = "Internal error", body = ErrorEnvelope)),
    security(("bearer" = ["ads:admin"])))]
pub async fn get_hour(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<HourQuery>,
) -> ApiResult<HourTable> {
    let day = date("date", &query.date.0)?;
    let zone = state.settings.time_zone;
    let styles = query
        .style_id
        .map_or(StyleFilter::All, |s| StyleFilter::Only(vec![s]));
    let (from, to) = ads::day_bounds(day, zone);
    let mut conn = state.pool.acquire().await?;
    let figures = ads::hour_figures(&mut conn, from, to, &styles, false).await?;
    let mut per_hour: BTreeMap<chrono::NaiveDateTime, (u64, u64, ads::VisitorUnion)> =
        BTreeMap::new();
    for ((_, hour), (shows, clicks, visitors)) in figures {
        let entry = per_hour.entry(hour).or_default();
        entry.0 += shows;
        entry.1 += clicks;
        entry.2.add_sketch(&visitors.sketch());
    }
    let mut table = HourTable {
        date: day.to_string(),
        style_id: query.style_id,
        shows: BTreeMap::new(),
        clicks: BTreeMap::new(),
        hours: Vec::new(),
    };
    for (local, hour_utc) in ads::hours_of_day(day, zone) {
        let (shows, clicks, visitors) = per_hour
            .remove(&hour_utc)
            .map_or((0, 0, 0), |(s, c, v)| (s, c, v.count()));
        *table.shows.entry(local.to_string()).or_default() += shows;
        *table.clicks.entry(local.to_string()).or_default() += clicks;
        let f = Figures::new(shows, clicks, visitors);
        table.hours.push(HourOut {
            hour: local,
            hour_utc: hour_utc.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            shows,
            clicks,
            ctr: f.ctr,
            visitors,
        });
    }
    Ok(ok(table))
}
