//! `POST /cctv/counts`: a batch of counts in, upserted, each checked against the camera's
//! reference value (outliers).
//!
//! # Rules
//! - A count is identified by camera and interval start. Re-posting it with the same end
//!   replaces its people/vehicles (the answer says how many counts were inserted, updated
//!   or unchanged, and for each count what was stored); a different end for a stored start
//!   is a 409 (the intervals overlap).
//! - Instants follow the platform's rule (`common::instant`): an offset is required; no
//!   leap second; inside the plausible window (`DATE_WINDOW_FROM`..`DATE_WINDOW_TO`);
//!   fractions of a second are stored to the millisecond (`DATETIME(3)`) and a finer one is
//!   refused, so `…:00.200` and `…:00.700` are two intervals and `…:00.2004` is a 400.
//! - `end` after `start`, at most 24 hours apart; counts 0..=4294967295; camera ids as
//!   [`crate::camera`] says (Unicode letters and digits, NFC); at most `CCTV_MAX_BATCH`
//!   counts; no two counts of a batch with the same camera and start.
//! - Unknown cameras are registered on their first count (`CCTV_AUTO_REGISTER_CAMERAS`,
//!   default true) or rejected with 400 naming the count. `cameras_registered` counts the
//!   rows this request inserted, so concurrent first batches of a camera count it once.
//! - Outliers (source system 001's trigger, made to work): the reference of a camera is the
//!   mean `ref` of its year stats if it has any, else of its month, else week, else day
//!   stats; a count above the people reference, the vehicle reference or both is recorded
//!   in `cctv_outlier` with the reference used. No stats, no outliers. A re-post
//!   re-evaluates the count (and clears the flag when it is no longer above).
//! - A changed count of a past local day clears that day from the rollup ledger, so the
//!   next scheduled rollup recomputes it (and the week, month and year around it).
//!
//! The batch is one transaction (all or nothing); a lost lock conflict (a deadlock with a
//! concurrent batch, a lock wait time-out) is retried twice.

use std::collections::{BTreeSet, HashMap};

use axum::extract::{FromRequest, Request, State};
use chrono::{NaiveDate, NaiveDateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use common::{
    db,
    http::{ApiError, ApiForm, ApiJson, ApiResult, ErrorEnvelope, bounds, extract::is_form, ok},
    instant::{DateWindow, Precision, format_utc},
    period::{Ledger, PeriodKind},
};
use serde::{Deserialize, Serialize};
use sqlx::{MySql, QueryBuilder, Transaction};
use utoipa::ToSchema;

use crate::{AppState, camera};

/// The longest interval one count covers.
const MAX_INTERVAL_HOURS: i64 = 24;
/// Retries of a batch that loses a lock conflict (a deadlock with a concurrent batch).
const LOCK_RETRIES: u32 = 2;

/// One count as posted.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountIn {
    /// The camera: 1-64 Unicode letters or digits or `. _ : -` (Korean ids welcome;
    /// normalised to NFC).
    #[schema(example = "cam-001", min_length = 1, max_length = 64)]
    pub camera_id: String,
    /// Interval start, ISO 8601 with an offset; at most millisecond precision; inside the
    /// plausible date window.
    #[schema(example = "2024-05-01T09:00:00+09:00", format = DateTime)]
    pub start: String,
    /// Interval end (after start, at most 24 h later), ISO 8601 with an offset.
    #[schema(example = "2024-05-01T09:05:00+09:00", format = DateTime)]
    pub end: String,
    /// People counted in the interval.
    #[schema(example = 12, minimum = 0, maximum = 4_294_967_295_i64)]
    pub people: i64,
    /// Vehicles counted in the interval.
    #[schema(example = 3, minimum = 0, maximum = 4_294_967_295_i64)]
    pub vehicles: i64,
}

/// A batch of counts (JSON). A form post (`application/x-www-form-urlencoded`) carries the
/// fields of one [`CountIn`] instead, as the original's manual input page did.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountBatch {
    /// 1 to `CCTV_MAX_BATCH` counts (the served document gives the deployed maximum).
    #[schema(min_items = 1, max_items = 1000)]
    pub counts: Vec<CountIn>,
}

/// A flagged count of the batch.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FlaggedCount {
    /// Position in the batch (0-based).
    pub index: usize,
    pub camera_id: String,
    /// Interval start as stored, UTC.
    #[schema(format = DateTime)]
    pub start: String,
    pub outlier: Outlier,
    /// Which stats gave the reference: `year`, `month`, `week` or `day`.
    pub reference_kind: PeriodKind,
    pub people_reference: f64,
    pub vehicle_reference: f64,
}

/// Which of a count's figures is above its camera's reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outlier {
    People,
    Vehicle,
    Both,
}

impl Outlier {
    /// The value stored in `cctv_outlier.outlier`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::People => "people",
            Self::Vehicle => "vehicle",
            Self::Both => "both",
        }
    }

    /// The stored value read back.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::People, Self::Vehicle, Self::Both]
            .into_iter()
            .find(|o| o.as_str() == text)
    }
}

/// What a POST did with one count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// A new interval.
    Inserted,
    /// A stored interval whose counts changed.
    Updated,
    /// A stored interval with the same counts.
    Unchanged,
}

/// One count as stored: the camera id in NFC, the instants in UTC at the stored
/// precision (milliseconds, shown only when not zero).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StoredCount {
    /// Position in the batch (0-based).
    pub index: usize,
    pub camera_id: String,
    #[schema(format = DateTime, example = "2024-05-01T00:00:00Z")]
    pub start: String,
    #[schema(format = DateTime, example = "2024-05-01T00:05:00Z")]
    pub end: String,
    pub result: Outcome,
}

/// What a POST did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PostResult {
    /// Counts in the request.
    pub received: usize,
    /// New intervals.
    pub inserted: usize,
    /// Intervals stored before whose counts changed.
    pub updated: usize,
    /// Intervals stored before with the same counts (a plain re-post).
    pub unchanged: usize,
    /// Cameras registered by this request.
    pub cameras_registered: usize,
    /// Each count as stored, in batch order.
    pub stored: Vec<StoredCount>,
    /// The counts above their camera's reference.
    pub outliers: Vec<FlaggedCount>,
}

/// A validated count, instants in UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidCount {
    pub camera_id: String,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub people: u32,
    pub vehicles: u32,
}

/// Posts a batch of counts.
#[utoipa::path(
    post,
    path = "/cctv/counts",
    tag = "cctv",
    request_body(
        description = "A JSON batch {\"counts\": [...]}, or one count as form fields",
        content(
            (CountBatch = "application/json"),
            (CountIn = "application/x-www-form-urlencoded")
        )
    ),
    responses(
        (status = 200, description = "Stored: inserted / updated / unchanged, each count as stored, and the outliers", body = common::http::Envelope<PostResult>),
        (status = 400, description = "Malformed body or an invalid field (data.field, data.reason)", body = ErrorEnvelope),
        (status = 401, description = "No token, or an unknown, expired or revoked one", body = ErrorEnvelope),
        (status = 403, description = "The token lacks cctv:write", body = ErrorEnvelope),
        (status = 409, description = "A stored count has the same camera and start but another end", body = ErrorEnvelope),
        (status = 413, description = "Body larger than HTTP_MAX_BODY_BYTES", body = ErrorEnvelope),
        (status = 500, description = "Internal error (details in the logs)", body = ErrorEnvelope)
    ),
    security(("bearer" = ["cctv:write"]))
)]
pub async fn post_counts(State(state): State<AppState>, request: Request) -> ApiResult<PostResult> {
    let (items, form) = if is_form(request.headers()) {
        let ApiForm(count) = ApiForm::<CountIn>::from_request(request, &()).await?;
        (vec![count], true)
    } else {
        let ApiJson(batch) = ApiJson::<CountBatch>::from_request(request, &()).await?;
        (batch.counts, false)
    };
    let counts = validate(
        &items,
        state.settings.max_batch,
        &state.settings.date_window,
        form,
    )?;
    let result = store(&state, &counts, form).await?;
    let as_count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    common::metrics::count("counts_ingested", as_count(result.received));
    common::metrics::count("counts_flagged", as_count(result.outliers.len()));
    tracing::info!(
        received = result.received,
        inserted = result.inserted,
        updated = result.updated,
        unchanged = result.unchanged,
        cameras_registered = result.cameras_registered,
        outliers = result.outliers.len(),
        "counts stored"
    );
    Ok(ok(result))
}

fn field_name(form: bool, index: usize, field: &str) -> String {
    if form {
        field.to_owned()
    } else {
        format!("counts[{index}].{field}")
    }
}

/// Checks a batch; the first problem is reported with the field that has it.
///
/// # Errors
/// [`ApiError::Validation`] naming the field (`counts[3].people`) and the reason.
pub fn validate(
    items: &[CountIn],
    max_batch: usize,
    window: &DateWindow,
    form: bool,
) -> Result<Vec<ValidCount>, ApiError> {
    if items.is_empty() {
        return Err(ApiError::invalid(
            "counts",
            "at least one count is required",
        ));
    }
    if items.len() > max_batch {
        return Err(ApiError::invalid(
            "counts",
            format!(
                "at most {max_batch} counts per request (got {})",
                items.len()
            ),
        ));
    }
    let mut seen: HashMap<(String, NaiveDateTime), usize> = HashMap::with_capacity(items.len());
    let mut valid = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let name = |field: &str| field_name(form, index, field);
        let camera_id = camera::normalise(&name("camera_id"), &item.camera_id)?;
        let instant = |field: &str, text: &str| {
            window
                .parse_instant(text, Precision::Millis)
                .map_err(|e| bounds::refused(&name(field), &e))
        };
        let start = instant("start", &item.start)?;
        let end = instant("end", &item.end)?;
        if end <= start {
            return Err(ApiError::invalid(name("end"), "must be after start"));
        }
        if end - start > TimeDelta::hours(MAX_INTERVAL_HOURS) {
            return Err(ApiError::invalid(
                name("end"),
                format!("an interval covers at most {MAX_INTERVAL_HOURS} hours"),
            ));
        }
        let count = |field: &str, value: i64| {
            if value < 0 {
                Err(ApiError::invalid(name(field), "must not be negative"))
            } else {
                u32::try_from(value)
                    .map_err(|_| ApiError::invalid(name(field), "must be at most 4294967295"))
            }
        };
        let people = count("people", item.people)?;
        let vehicles = count("vehicles", item.vehicles)?;
        if let Some(first) = seen.insert((camera_id.clone(), start), index) {
            return Err(ApiError::invalid(
                name("start"),
                format!("same camera and start as counts[{first}]"),
            ));
        }
        valid.push(ValidCount {
            camera_id,
            start,
            end,
            people,
            vehicles,
        });
    }
    Ok(valid)
}

async fn store(
    state: &AppState,
    counts: &[ValidCount],
    form: bool,
) -> Result<PostResult, ApiError> {
    // A refusal (409, unknown camera) is an answer, not a lock conflict: it passes the
    // retry as a success and comes out as the inner result.
    db::retry_lock_conflicts(
        LOCK_RETRIES,
        |_| {},
        || async {
            match store_once(state, counts, form).await {
                Ok(result) => Ok(Ok(result)),
                Err(StoreError::Api(refused)) => Ok(Err(refused)),
                Err(StoreError::Db(error)) => Err(error),
            }
        },
    )
    .await?
}

enum StoreError {
    Api(ApiError),
    Db(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        Self::Db(error)
    }
}

impl From<ApiError> for StoreError {
    fn from(error: ApiError) -> Self {
        Self::Api(error)
    }
}

/// A stored count, as read before the upsert.
struct Stored {
    end: NaiveDateTime,
    people: u32,
    vehicles: u32,
}

async fn store_once(
    state: &AppState,
    counts: &[ValidCount],
    form: bool,
) -> Result<PostResult, StoreError> {
    let now = Utc::now().naive_utc();
    let mut tx = state.pool.begin().await?;
    let cameras: BTreeSet<&str> = counts.iter().map(|c| c.camera_id.as_str()).collect();
    let cameras_registered = register_cameras(
        &mut tx,
        &cameras,
        state.settings.auto_register_cameras,
        counts,
        form,
        now,
    )
    .await?;
    let stored = stored_counts(&mut tx, &cameras, counts).await?;

    let (mut inserted, mut updated, mut unchanged) = (0, 0, 0);
    let mut changed: Vec<&ValidCount> = Vec::with_capacity(counts.len());
    let mut outcomes: Vec<StoredCount> = Vec::with_capacity(counts.len());
    for (index, count) in counts.iter().enumerate() {
        let outcome = match stored.get(&(count.camera_id.clone(), count.start)) {
            None => {
                inserted += 1;
                changed.push(count);
                Outcome::Inserted
            }
            Some(old) if old.end != count.end => {
                return Err(ApiError::Conflict(format!(
                    "{}: camera {} has a count from {} to {}; an interval is identified by its start",
                    field_name(form, index, "end"),
                    count.camera_id,
                    format_utc(count.start),
                    format_utc(old.end)
                ))
                .into());
            }
            Some(old) if old.people == count.people && old.vehicles == count.vehicles => {
                unchanged += 1;
                Outcome::Unchanged
            }
            Some(_) => {
                updated += 1;
                changed.push(count);
                Outcome::Updated
            }
        };
        outcomes.push(StoredCount {
            index,
            camera_id: count.camera_id.clone(),
            start: format_utc(count.start),
            end: format_utc(count.end),
            result: outcome,
        });
    }
    upsert_counts(&mut tx, &changed, now).await?;

    let references = references(&mut tx, &cameras).await?;
    let mut outliers = Vec::new();
    let mut flagged: Vec<(&ValidCount, Outlier, &Reference)> = Vec::new();
    let mut cleared: Vec<&ValidCount> = Vec::new();
    for (index, count) in counts.iter().enumerate() {
        let reference = references.get(count.camera_id.as_str());
        let verdict = reference.and_then(|r| {
            let people = f64::from(count.people) > r.people;
            let vehicles = f64::from(count.vehicles) > r.vehicles;
            match (people, vehicles) {
                (true, true) => Some(Outlier::Both),
                (true, false) => Some(Outlier::People),
                (false, true) => Some(Outlier::Vehicle),
                (false, false) => None,
            }
        });
        match (verdict, reference) {
            (Some(kind), Some(r)) => {
                outliers.push(FlaggedCount {
                    index,
                    camera_id: count.camera_id.clone(),
                    start: format_utc(count.start),
                    outlier: kind,
                    reference_kind: r.kind,
                    people_reference: r.people,
                    vehicle_reference: r.vehicles,
                });
                flagged.push((count, kind, r));
            }
            _ if stored.contains_key(&(count.camera_id.clone(), count.start)) => {
                cleared.push(count)
            }
            _ => {}
        }
    }
    write_outliers(&mut tx, &flagged, &cleared, now).await?;
    invalidate_past_days(&mut tx, &changed, state.zone(), now).await?;
    tx.commit().await?;
    Ok(PostResult {
        received: counts.len(),
        inserted,
        updated,
        unchanged,
        cameras_registered,
        stored: outcomes,
        outliers,
    })
}

async fn register_cameras(
    tx: &mut Transaction<'static, MySql>,
    cameras: &BTreeSet<&str>,
    auto_register: bool,
    counts: &[ValidCount],
    form: bool,
    now: NaiveDateTime,
) -> Result<usize, StoreError> {
    let mut query =
        QueryBuilder::<MySql>::new("SELECT camera_id FROM cctv_camera WHERE camera_id IN (");
    let mut list = query.separated(", ");
    for camera in cameras {
        list.push_bind((*camera).to_owned());
    }
    query.push(")");
    let known: BTreeSet<String> = query
        .build_query_scalar::<String>()
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .collect();
    let unknown: Vec<&str> = cameras
        .iter()
        .copied()
        .filter(|c| !known.contains(*c))
        .collect();
    if unknown.is_empty() {
        return Ok(0);
    }
    if !auto_register {
        let (index, count) = counts
            .iter()
            .enumerate()
            .find(|(_, c)| unknown.contains(&c.camera_id.as_str()))
            .ok_or_else(|| ApiError::invalid("counts", "unknown camera"))?;
        return Err(ApiError::invalid(
            field_name(form, index, "camera_id"),
            format!(
                "unknown camera {:?} (cameras are registered by an operator)",
                count.camera_id
            ),
        )
        .into());
    }
    // Another batch may register the same camera meanwhile (this insert then waits for it
    // and ignores the duplicate): count the rows this request inserted, not the ids it did
    // not know when it looked.
    let mut insert =
        QueryBuilder::<MySql>::new("INSERT IGNORE INTO cctv_camera (camera_id, registered_at) ");
    insert.push_values(&unknown, |mut row, camera| {
        row.push_bind((*camera).to_owned()).push_bind(now);
    });
    let registered = insert.build().execute(&mut **tx).await?.rows_affected();
    Ok(usize::try_from(registered).unwrap_or(usize::MAX))
}

async fn stored_counts(
    tx: &mut Transaction<'static, MySql>,
    cameras: &BTreeSet<&str>,
    counts: &[ValidCount],
) -> Result<HashMap<(String, NaiveDateTime), Stored>, sqlx::Error> {
    let (Some(first), Some(last)) = (
        counts.iter().map(|c| c.start).min(),
        counts.iter().map(|c| c.start).max(),
    ) else {
        return Ok(HashMap::new());
    };
    let mut query = QueryBuilder::<MySql>::new(
        "SELECT camera_id, start_utc, end_utc, people, vehicles FROM cctv_count WHERE start_utc BETWEEN ",
    );
    query
        .push_bind(first)
        .push(" AND ")
        .push_bind(last)
        .push(" AND camera_id IN (");
    let mut list = query.separated(", ");
    for camera in cameras {
        list.push_bind((*camera).to_owned());
    }
    query.push(") FOR UPDATE");
    let rows: Vec<(String, NaiveDateTime, NaiveDateTime, u32, u32)> =
        query.build_query_as().fetch_all(&mut **tx).await?;
    Ok(rows
        .into_iter()
        .map(|(camera, start, end, people, vehicles)| {
            (
                (camera, start),
                Stored {
                    end,
                    people,
                    vehicles,
                },
            )
        })
        .collect())
}

async fn upsert_counts(
    tx: &mut Transaction<'static, MySql>,
    counts: &[&ValidCount],
    now: NaiveDateTime,
) -> Result<(), sqlx::Error> {
    if counts.is_empty() {
        return Ok(());
    }
    let mut query = QueryBuilder::<MySql>::new(
        "INSERT INTO cctv_count (camera_id, start_utc, end_utc, people, vehicles, received_at) ",
    );
    query.push_values(counts, |mut row, c| {
        row.push_bind(c.camera_id.clone())
            .push_bind(c.start)
            .push_bind(c.end)
            .push_bind(c.people)
            .push_bind(c.vehicles)
            .push_bind(now);
    });
    query.push(
        " ON DUPLICATE KEY UPDATE people = VALUES(people), vehicles = VALUES(vehicles), received_at = VALUES(received_at)",
    );
    query.build().execute(&mut **tx).await?;
    Ok(())
}

/// A camera's reference values and the stats kind they came from.
#[derive(Debug, Clone)]
pub struct Reference {
    pub kind: PeriodKind,
    pub people: f64,
    pub vehicles: f64,
}

/// The precedence of the original trigger: year, else month, else week, else day.
pub const REFERENCE_ORDER: [PeriodKind; 4] = [
    PeriodKind::Year,
    PeriodKind::Month,
    PeriodKind::Week,
    PeriodKind::Day,
];

async fn references(
    tx: &mut Transaction<'static, MySql>,
    cameras: &BTreeSet<&str>,
) -> Result<HashMap<String, Reference>, sqlx::Error> {
    let mut query = QueryBuilder::<MySql>::new(
        "SELECT camera_id, CAST(period_kind AS CHAR), AVG(people_ref), AVG(vehicles_ref) FROM cctv_stats
         WHERE period_kind IN (",
    );
    let mut kinds = query.separated(", ");
    for kind in REFERENCE_ORDER {
        kinds.push_bind(kind.as_str());
    }
    query.push(") AND camera_id IN (");
    let mut list = query.separated(", ");
    for camera in cameras {
        list.push_bind((*camera).to_owned());
    }
    query.push(") GROUP BY camera_id, period_kind");
    let rows: Vec<(String, String, f64, f64)> = query.build_query_as().fetch_all(&mut **tx).await?;
    let mut best: HashMap<String, Reference> = HashMap::new();
    let rank = |kind: PeriodKind| {
        REFERENCE_ORDER
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(usize::MAX)
    };
    for (camera, kind, people, vehicles) in rows {
        let Ok(kind) = kind.parse::<PeriodKind>() else {
            continue;
        };
        let better = best.get(&camera).is_none_or(|r| rank(kind) < rank(r.kind));
        if better {
            best.insert(
                camera,
                Reference {
                    kind,
                    people,
                    vehicles,
                },
            );
        }
    }
    Ok(best)
}

async fn write_outliers(
    tx: &mut Transaction<'static, MySql>,
    flagged: &[(&ValidCount, Outlier, &Reference)],
    cleared: &[&ValidCount],
    now: NaiveDateTime,
) -> Result<(), sqlx::Error> {
    if !flagged.is_empty() {
        let mut query = QueryBuilder::<MySql>::new(
            "INSERT INTO cctv_outlier (camera_id, start_utc, end_utc, people, vehicles, outlier,
             reference_kind, people_reference, vehicle_reference, detected_at) ",
        );
        query.push_values(flagged, |mut row, (c, kind, r)| {
            row.push_bind(c.camera_id.clone())
                .push_bind(c.start)
                .push_bind(c.end)
                .push_bind(c.people)
                .push_bind(c.vehicles)
                .push_bind(kind.as_str())
                .push_bind(r.kind.as_str())
                .push_bind(r.people)
                .push_bind(r.vehicles)
                .push_bind(now);
        });
        query.push(
            " ON DUPLICATE KEY UPDATE end_utc = VALUES(end_utc), people = VALUES(people),
              vehicles = VALUES(vehicles), outlier = VALUES(outlier),
              reference_kind = VALUES(reference_kind), people_reference = VALUES(people_reference),
              vehicle_reference = VALUES(vehicle_reference), detected_at = VALUES(detected_at)",
        );
        query.build().execute(&mut **tx).await?;
    }
    if !cleared.is_empty() {
        let mut query = QueryBuilder::<MySql>::new(
            "DELETE FROM cctv_outlier WHERE (camera_id, start_utc) IN (",
        );
        let mut list = query.separated(", ");
        for c in cleared {
            list.push("(")
                .push_bind_unseparated(c.camera_id.clone())
                .push_unseparated(", ")
                .push_bind_unseparated(c.start)
                .push_unseparated(")");
        }
        query.push(")");
        query.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// Clears the rollup ledger's rows of the past local days whose counts changed.
async fn invalidate_past_days(
    tx: &mut Transaction<'static, MySql>,
    changed: &[&ValidCount],
    zone: Tz,
    now: NaiveDateTime,
) -> Result<(), sqlx::Error> {
    let today = common::business_time::local_date(now.and_utc(), zone);
    let days: BTreeSet<NaiveDate> = changed
        .iter()
        .map(|c| common::business_time::local_date(c.start.and_utc(), zone))
        .filter(|d| *d < today)
        .collect();
    Ledger::CCTV
        .clear(tx, days.into_iter().map(|d| (PeriodKind::Day, d)))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(people: i64) -> CountIn {
        CountIn {
            camera_id: "cam-1".into(),
            start: "2024-05-01T09:00:00+09:00".into(),
            end: "2024-05-01T09:05:00+09:00".into(),
            people,
            vehicles: 1,
        }
    }

    fn validate(
        items: &[CountIn],
        max_batch: usize,
        form: bool,
    ) -> Result<Vec<ValidCount>, ApiError> {
        super::validate(items, max_batch, &DateWindow::default(), form)
    }

    fn reason(result: Result<Vec<ValidCount>, ApiError>) -> (String, String) {
        match result {
            Err(ApiError::Validation { field, reason }) => (field, reason),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn milliseconds_are_kept_and_two_fractions_are_two_counts() {
        let mut a = item(1);
        a.start = "2024-05-01T09:00:00.200+09:00".into();
        let mut b = item(2);
        b.start = "2024-05-01T09:00:00.700+09:00".into();
        let counts = validate(&[a, b], 10, false).expect("two intervals");
        assert_eq!(format_utc(counts[0].start), "2024-05-01T00:00:00.200Z");
        assert_eq!(format_utc(counts[1].start), "2024-05-01T00:00:00.700Z");
        let mut fine = item(1);
        fine.start = "2024-05-01T09:00:00.2004+09:00".into();
        assert!(
            reason(validate(&[fine], 10, false))
                .1
                .contains("milliseconds")
        );
    }

    #[test]
    fn a_decomposed_korean_id_is_the_composed_camera() {
        let mut a = item(1);
        a.camera_id = "\u{110F}\u{1161}".into();
        let mut b = item(2);
        b.camera_id = "\u{CE74}".into();
        let (field, why) = reason(validate(&[a, b], 10, false));
        assert_eq!(field, "counts[1].start");
        assert!(why.contains("counts[0]"), "{why}");
    }

    #[test]
    fn a_valid_count_is_stored_in_utc() {
        let counts = validate(&[item(3)], 10, false).expect("valid");
        assert_eq!(format_utc(counts[0].start), "2024-05-01T00:00:00Z");
        assert_eq!(counts[0].people, 3);
    }

    #[test]
    fn each_rule_names_its_field() {
        let (field, why) = reason(validate(&[item(1), item(-1)], 10, false));
        assert_eq!(field, "counts[1].people");
        assert_eq!(why, "must not be negative");
        let mut backwards = item(1);
        backwards.end = "2024-05-01T08:55:00+09:00".into();
        assert_eq!(reason(validate(&[backwards], 10, false)).0, "counts[0].end");
        let mut long = item(1);
        long.end = "2024-05-03T09:00:00+09:00".into();
        assert!(reason(validate(&[long], 10, false)).1.contains("24 hours"));
        let mut camera = item(1);
        camera.camera_id = "cam 1".into();
        assert_eq!(reason(validate(&[camera], 10, true)).0, "camera_id");
        let mut leap = item(1);
        leap.start = "2016-12-31T23:59:60Z".into();
        let (field, why) = reason(validate(&[leap], 10, false));
        assert_eq!(field, "counts[0].start");
        assert!(why.contains("leap second"), "{why}");
        let mut ancient = item(1);
        ancient.start = "0000-01-01T00:00:00+09:00".into();
        assert!(
            reason(validate(&[ancient], 10, false))
                .1
                .contains("database")
        );
        assert!(
            reason(validate(&vec![item(1); 11], 10, false))
                .1
                .contains("at most 10")
        );
        assert_eq!(reason(validate(&[], 10, false)).0, "counts");
        let (field, why) = reason(validate(&[item(1), item(2)], 10, false));
        assert_eq!(field, "counts[1].start");
        assert!(why.contains("counts[0]"));
    }
}
