//! What the ad-counter functions share (source system 004): the hit event ad-api sends and
//! ad-counter-worker folds, the unique-visitor sketch, the business time zone's hours, and
//! the figures read back from the hourly counts (by ad-api for days not yet archived, by
//! the daily archive for the days it writes).
//!
//! # Hours and days
//! Counts are kept per UTC hour (`ad_hour_count.hour_utc`); a local day of the business
//! zone (`AD_TIME_ZONE`, default Asia/Shanghai, the seed's zone) is the UTC hours from its
//! local midnight to the next. The zone must keep whole-hour offsets, or a UTC hour would
//! straddle two local days: [`time_zone_from_env`] refuses any other at start-up.
//!
//! # Unique visitors
//! An HLL sketch ([`datasketches::hll`], Apache DataSketches' standard binary format, so a
//! sketch stored by this code can be read by any DataSketches library) at
//! `lg_k` = [`SKETCH_LG_K`]: relative standard error 1.04 / √2¹⁴ ≈ 0.81 %, the seed's Redis
//! HyperLogLog figure; 2 % is about 2.5 standard errors. Visitors are hashed before they
//! reach a sketch ([`HitEvent::visitor`]), so no sketch holds an identity.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use datasketches::hll::{HllSketch, HllType, HllUnion};
use serde::{Deserialize, Serialize};
use sqlx::{MySql, MySqlConnection, QueryBuilder, Row};

use crate::{business_time::local_day_start, config::ConfigError, period::Ledger};

/// The sketches' precision (2¹⁴ buckets; 8 KiB + header when dense, far less while sparse).
pub const SKETCH_LG_K: u8 = 14;

/// Dense sketches store 4 bits per bucket, the most compact of the three layouts.
const SKETCH_TYPE: HllType = HllType::Hll4;

/// The ledger of the archived days (`rollup_done`, system `ads`, kind `day`).
pub const ARCHIVE_LEDGER: Ledger = Ledger::new("ads");

/// `rollup_done.period_kind` of an archived day.
pub const ARCHIVE_KIND: crate::period::PeriodKind = crate::period::PeriodKind::Day;

/// SQS keeps a message at most 14 days from its first enqueue, dead-letter queue included;
/// the duplicate ledger keeps a day more.
pub const DEFAULT_LEDGER_DAYS: u32 = 15;

/// `AD_EVENT_LEDGER_DAYS`: how long the counter's duplicate ledger keeps an event id. Read
/// by the worker (which refuses older events) and the archive (which prunes the ledger), so
/// both agree.
///
/// # Errors
/// [`ConfigError::Invalid`] outside 15–90: a window shorter than SQS's 14-day retention
/// would let a redrive count twice.
pub fn ledger_days_from_env() -> Result<u32, ConfigError> {
    let days: u32 = crate::config::env_or("AD_EVENT_LEDGER_DAYS", DEFAULT_LEDGER_DAYS)?;
    if !(15..=90).contains(&days) {
        return Err(ConfigError::Invalid {
            name: "AD_EVENT_LEDGER_DAYS",
            value: days.to_string(),
            reason: "must be 15 to 90 (longer than SQS keeps any message)".into(),
        });
    }
    Ok(days)
}

/// A counted thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HitKind {
    Show,
    Click,
}

/// One accepted hit, as sent to the counter queue (about 120 bytes of JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HitEvent {
    /// UUID v7: unique, and its first 48 bits are the millisecond it was made, which the
    /// duplicate ledger's pruning relies on.
    pub id: uuid::Uuid,
    pub kind: HitKind,
    /// `ad_style.id`.
    pub style: u64,
    /// The salted hash of the visitor's identity, 16 lower-case hex digits.
    pub visitor: VisitorId,
    /// When the API accepted the hit, milliseconds since the Unix epoch.
    pub at: i64,
}

/// Why a message is not a hit event (the worker reports it failed on its own).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a hit event: {0}")]
pub struct EventError(pub String);

impl HitEvent {
    /// A new event, made now.
    pub fn new(kind: HitKind, style: u64, visitor: VisitorId) -> Self {
        let id = uuid::Uuid::now_v7();
        Self {
            id,
            kind,
            style,
            visitor,
            at: Utc::now().timestamp_millis(),
        }
    }

    /// Reads a message body, checking what serde cannot: a v7 id and an instant inside
    /// `DATETIME`'s range.
    ///
    /// # Errors
    /// [`EventError`] with the reason.
    pub fn parse(body: &str) -> Result<Self, EventError> {
        let event: Self = serde_json::from_str(body).map_err(|e| EventError(e.to_string()))?;
        if event.id.get_version_num() != 7 {
            return Err(EventError(format!("id {} is not a UUID v7", event.id)));
        }
        if event.instant().is_none() {
            return Err(EventError(format!("at {} is out of range", event.at)));
        }
        Ok(event)
    }

    /// The hit's instant, if representable.
    pub fn instant(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_millis(self.at)
            .filter(|t| (1000..=9999).contains(&chrono::Datelike::year(t)))
    }

    /// The UTC hour bucket of the hit.
    pub fn hour_utc(&self) -> Option<NaiveDateTime> {
        self.instant().map(|t| hour_of(t.naive_utc()))
    }
}

/// A visitor's hashed identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VisitorId(pub u64);

impl VisitorId {
    /// 16 lower-case hex digits.
    pub fn to_hex(self) -> String {
        format!("{:016x}", self.0)
    }

    /// Reads 16 hex digits (what [`Self::to_hex`] writes; a cookie value).
    pub fn from_hex(text: &str) -> Option<Self> {
        (text.len() == 16 && text.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| u64::from_str_radix(text, 16).ok().map(Self))
            .flatten()
    }
}

impl Serialize for VisitorId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for VisitorId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::from_hex(&text)
            .ok_or_else(|| serde::de::Error::custom("visitor must be 16 hex digits"))
    }
}

/// The start of the UTC hour holding `instant`.
pub fn hour_of(instant: NaiveDateTime) -> NaiveDateTime {
    instant
        .date()
        .and_hms_opt(instant.hour(), 0, 0)
        .unwrap_or(instant)
}

/// `AD_TIME_ZONE`: the business zone of the ad counters' days and hour slots (default
/// Asia/Shanghai).
///
/// # Errors
/// [`ConfigError::Invalid`] when the value is not an IANA zone name, or the zone has (or
/// had, within ten years of now) an offset that is not a whole number of hours.
pub fn time_zone_from_env() -> Result<Tz, ConfigError> {
    let zone: Tz = crate::config::env_or("AD_TIME_ZONE", chrono_tz::Asia::Shanghai)?;
    check_whole_hours(zone).map_err(|reason| ConfigError::Invalid {
        name: "AD_TIME_ZONE",
        value: zone.name().to_owned(),
        reason,
    })?;
    Ok(zone)
}

/// Whether `zone`'s offset is a whole number of hours at every week within ten years of
/// now (zones change offset at most a few times a year, always for weeks at least).
///
/// # Errors
/// The first offending offset and when it applies.
pub fn check_whole_hours(zone: Tz) -> Result<(), String> {
    let now = Utc::now();
    for week in -520..=520 {
        let at = now + TimeDelta::weeks(week);
        let offset = zone.offset_from_utc_datetime(&at.naive_utc()).fix();
        if offset.local_minus_utc() % 3600 != 0 {
            return Err(format!(
                "offset {offset} on {} is not a whole number of hours: UTC hour buckets would straddle local days",
                at.date_naive()
            ));
        }
    }
    Ok(())
}

/// The UTC hour buckets of local `day`, each with its local hour (0..=23; a DST day has 23
/// or 25, the repeated hour appearing twice).
pub fn hours_of_day(day: NaiveDate, zone: Tz) -> Vec<(u32, NaiveDateTime)> {
    let (start, end) = day_bounds(day, zone);
    let mut hours = Vec::with_capacity(25);
    let mut hour = start;
    while hour < end {
        let local = zone.from_utc_datetime(&hour).hour();
        hours.push((local, hour));
        hour += TimeDelta::hours(1);
    }
    hours
}

/// The UTC instants `[start, end)` of local `day`.
pub fn day_bounds(day: NaiveDate, zone: Tz) -> (NaiveDateTime, NaiveDateTime) {
    let next = day.succ_opt().unwrap_or(day);
    (local_day_start(day, zone), local_day_start(next, zone))
}

/// The local day of UTC hour `hour_utc`.
pub fn local_day_of(hour_utc: NaiveDateTime, zone: Tz) -> NaiveDate {
    zone.from_utc_datetime(&hour_utc).date_naive()
}

/// A sketch of a batch's or an hour's visitors.
pub struct VisitorSketch(HllSketch);

impl std::fmt::Debug for VisitorSketch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VisitorSketch")
            .field("estimate", &self.estimate())
            .finish()
    }
}

impl Default for VisitorSketch {
    fn default() -> Self {
        Self::new()
    }
}

impl VisitorSketch {
    /// An empty sketch at [`SKETCH_LG_K`].
    pub fn new() -> Self {
        // lg_k 14 is inside the library's 4..=21: this cannot fail.
        Self(HllSketch::new(SKETCH_LG_K, SKETCH_TYPE).unwrap_or_else(|e| unreachable!("{e}")))
    }

    pub fn add(&mut self, visitor: VisitorId) {
        self.0.update(visitor.0);
    }

    /// The distinct-visitor estimate.
    pub fn estimate(&self) -> f64 {
        self.0.estimate()
    }

    /// The estimate rounded to a whole visitor count.
    pub fn count(&self) -> u64 {
        // An estimate is non-negative and far below 2^53.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let count = self.estimate().round().max(0.0) as u64;
        count
    }

    /// The DataSketches compact binary form.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.serialize()
    }
}

/// Merges stored sketches; a blob that does not read as a sketch is skipped with a warning
/// (a damaged row must not stop the figures of every other).
#[derive(Default)]
pub struct VisitorUnion(Option<HllUnion>);

impl VisitorUnion {
    pub fn add_bytes(&mut self, bytes: &[u8]) {
        match HllSketch::deserialize(bytes) {
            Ok(sketch) => self.union().update(&sketch),
            Err(error) => tracing::warn!(%error, "skipping an unreadable visitor sketch"),
        }
    }

    pub fn add_sketch(&mut self, sketch: &VisitorSketch) {
        self.union().update(&sketch.0);
    }

    fn union(&mut self) -> &mut HllUnion {
        self.0.get_or_insert_with(|| {
            HllUnion::new(SKETCH_LG_K).unwrap_or_else(|e| unreachable!("{e}"))
        })
    }

    /// The merged sketch.
    pub fn sketch(&self) -> VisitorSketch {
        match &self.0 {
            Some(union) => VisitorSketch(union.to_sketch(SKETCH_TYPE)),
            None => VisitorSketch::new(),
        }
    }

    /// The merged estimate, rounded.
    pub fn count(&self) -> u64 {
        self.sketch().count()
    }
}

/// One style's figures over some hours.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    pub shows: u64,
    pub clicks: u64,
    /// clicks / shows; `None` without shows.
    pub ctr: Option<f64>,
    /// Distinct visitors (estimate).
    pub visitors: u64,
}

impl Figures {
    pub fn new(shows: u64, clicks: u64, visitors: u64) -> Self {
        #[allow(clippy::cast_precision_loss)]
        let ctr = (shows > 0).then(|| clicks as f64 / shows as f64);
        Self {
            shows,
            clicks,
            ctr,
            visitors,
        }
    }
}

/// Which styles a read covers.
#[derive(Debug, Clone, Default)]
pub enum StyleFilter {
    #[default]
    All,
    /// These style ids (an empty list matches nothing).
    Only(Vec<u64>),
}

impl StyleFilter {
    /// True when no style can match (an empty list): the caller answers without a query.
    pub fn matches_none(&self) -> bool {
        matches!(self, Self::Only(ids) if ids.is_empty())
    }

    /// Adds ` AND style_id IN (…)` for a list (nothing for [`Self::All`]).
    pub fn push(&self, query: &mut QueryBuilder<MySql>) {
        if let Self::Only(ids) = self {
            query.push(" AND style_id IN (");
            let mut list = query.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            query.push(")");
        }
    }
}

/// Per style and UTC hour in `[from, to)`: shows, clicks and the merged visitors, summed over
/// the shards and the sketch rows.
///
/// # Errors
/// The database error.
pub async fn hour_figures(
    conn: &mut MySqlConnection,
    from: NaiveDateTime,
    to: NaiveDateTime,
    styles: &StyleFilter,
    locking: bool,
) -> Result<BTreeMap<(u64, NaiveDateTime), (u64, u64, VisitorUnion)>, sqlx::Error> {
    let mut figures: BTreeMap<(u64, NaiveDateTime), (u64, u64, VisitorUnion)> = BTreeMap::new();
    if styles.matches_none() {
        return Ok(figures);
    }
    // The shard rows are summed here rather than with GROUP BY, which a locking read cannot
    // use; a cell has at most AD_COUNTER_SHARDS of them.
    let select = |columns: &str, table: &str| {
        let mut query = QueryBuilder::<MySql>::new(format!(
            "SELECT style_id, hour_utc, {columns} FROM {table} WHERE hour_utc >= "
        ));
        query.push_bind(from).push(" AND hour_utc < ").push_bind(to);
        styles.push(&mut query);
        if locking {
            query.push(" LOCK IN SHARE MODE");
        }
        query
    };
    for row in select("shows, clicks", "ad_hour_count")
        .build()
        .fetch_all(&mut *conn)
        .await?
    {
        let entry = figures
            .entry((row.try_get(0)?, row.try_get(1)?))
            .or_insert_with(|| (0, 0, VisitorUnion::default()));
        entry.0 += row.try_get::<u64, _>(2)?;
        entry.1 += row.try_get::<u64, _>(3)?;
    }
    let mut sketches = select("sketch", "ad_hour_visitors");
    for row in sketches.build().fetch_all(&mut *conn).await? {
        let bytes: Vec<u8> = row.try_get(2)?;
        figures
            .entry((row.try_get(0)?, row.try_get(1)?))
            .or_insert_with(|| (0, 0, VisitorUnion::default()))
            .2
            .add_bytes(&bytes);
    }
    Ok(figures)
}

/// Per style, the figures of local `day` from the hourly counts.
///
/// # Errors
/// The database error.
pub async fn live_day_figures(
    conn: &mut MySqlConnection,
    day: NaiveDate,
    zone: Tz,
    styles: &StyleFilter,
) -> Result<BTreeMap<u64, Figures>, sqlx::Error> {
    let (from, to) = day_bounds(day, zone);
    let hours = hour_figures(conn, from, to, styles, false).await?;
    Ok(fold_day(hours))
}

/// Folds hour figures into one [`Figures`] per style (visitors: the union of the hours).
pub fn fold_day(
    hours: BTreeMap<(u64, NaiveDateTime), (u64, u64, VisitorUnion)>,
) -> BTreeMap<u64, Figures> {
    let mut days: BTreeMap<u64, (u64, u64, VisitorUnion)> = BTreeMap::new();
    for ((style, _), (shows, clicks, visitors)) in hours {
        let entry = days
            .entry(style)
            .or_insert_with(|| (0, 0, VisitorUnion::default()));
        entry.0 += shows;
        entry.1 += clicks;
        entry.2.add_sketch(&visitors.sketch());
    }
    days.into_iter()
        .map(|(style, (shows, clicks, visitors))| {
            (style, Figures::new(shows, clicks, visitors.count()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_and_refuse_what_is_not_one() {
        let event = HitEvent::new(HitKind::Click, 7, VisitorId(0xabc));
        let body = serde_json::to_string(&event).expect("serialises");
        assert!(body.len() < 140, "{body}");
        assert!(body.contains("\"visitor\":\"0000000000000abc\""), "{body}");
        assert_eq!(HitEvent::parse(&body), Ok(event.clone()));
        let v4 = body.replace(&event.id.to_string(), &uuid::Uuid::nil().to_string());
        assert!(HitEvent::parse(&v4).is_err());
        assert!(HitEvent::parse(&body.replace("\"click\"", "\"view\"")).is_err());
        assert!(HitEvent::parse(&body.replace("0000000000000abc", "xyz")).is_err());
        let late = body.replace(&format!("\"at\":{}", event.at), "\"at\":999999999999999");
        assert!(HitEvent::parse(&late).is_err(), "{late}");
        assert!(HitEvent::parse("not json").is_err());
    }

    #[test]
    fn zones_with_fractional_offsets_are_refused() {
        assert!(check_whole_hours(chrono_tz::Asia::Shanghai).is_ok());
        assert!(check_whole_hours(chrono_tz::Europe::Berlin).is_ok());
        let error = check_whole_hours(chrono_tz::Asia::Kolkata).expect_err("+05:30");
        assert!(error.contains("+05:30"), "{error}");
        assert!(check_whole_hours(chrono_tz::Asia::Kathmandu).is_err());
    }

    #[test]
    fn a_local_day_is_its_utc_hours() {
        let day = NaiveDate::from_ymd_opt(2024, 5, 1).expect("date");
        let hours = hours_of_day(day, chrono_tz::Asia::Shanghai);
        assert_eq!(hours.len(), 24);
        assert_eq!(hours[0].0, 0);
        assert_eq!(hours[0].1.to_string(), "2024-04-30 16:00:00");
        assert_eq!(hours[23].0, 23);
        // Berlin's spring-forward day has 23 hours, its autumn day 25.
        let spring = NaiveDate::from_ymd_opt(2024, 3, 31).expect("date");
        assert_eq!(hours_of_day(spring, chrono_tz::Europe::Berlin).len(), 23);
        let autumn = NaiveDate::from_ymd_opt(2024, 10, 27).expect("date");
        assert_eq!(hours_of_day(autumn, chrono_tz::Europe::Berlin).len(), 25);
    }

    #[test]
    fn sketches_merge_and_survive_storage() {
        let mut a = VisitorSketch::new();
        let mut b = VisitorSketch::new();
        for v in 0..3000 {
            a.add(VisitorId(v));
        }
        for v in 2000..5000 {
            b.add(VisitorId(v));
        }
        let mut union = VisitorUnion::default();
        union.add_bytes(&a.to_bytes());
        union.add_bytes(&b.to_bytes());
        union.add_bytes(b"damaged");
        let merged = union.count();
        assert!((4900..=5100).contains(&merged), "{merged}");
    }

    #[test]
    fn ctr_is_clicks_over_shows_and_null_without_shows() {
        assert_eq!(Figures::new(200, 5, 10).ctr, Some(0.025));
        assert_eq!(Figures::new(0, 3, 1).ctr, None);
    }
}
