//! The scheduled-job kit: typed payloads, the invocation's deadline, one summary shape.
//!
//! Every scheduled function (course-stats, cleanup, cctv-rollups; the keyword batches next)
//! is invoked by EventBridge Scheduler with a small JSON payload, or by hand with a range,
//! and works through units (a month, a chunk, a period) until done or out of time.
//!
//! - [`parse_payload`] turns the payload into the function's own serde type. EventBridge's
//!   scheduled-event envelope fields are ignored; anything else unknown, a wrong type or a
//!   bad value is a [`PayloadError`] naming the field, which the function answers as a
//!   permanent [`FunctionError::InvalidEvent`]: retrying a payload that can never work only
//!   delays the dead-letter queue.
//! - [`Day`], [`Month`] and [`Range`] are the date fields every range payload uses (strict
//!   `YYYY-MM-DD` / `YYYY-MM`, inside the platform's plausible date window).
//! - [`Deadline`] comes from the invocation context: the time Lambda gives the invocation
//!   minus a margin. [`JobRun::should_stop`] checks it between units, after at least one
//!   unit, so even a late start makes progress; the answer then says what is left.
//! - [`JobRun::finish`] writes the one summary line every job logs (job, complete,
//!   stopped_by_deadline, units, counts, remaining, duration) and records its counts as
//!   metrics.

use std::{
    collections::BTreeMap,
    fmt,
    future::Future,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, de::DeserializeOwned};
use serde_json::Value;

use sqlx::MySqlPool;

use crate::{db::Database, error::FunctionError, instant::DateWindow};

/// Fields of EventBridge's scheduled-event envelope, which a rule (not the Scheduler's
/// plain input) wraps around the payload; they carry nothing a job reads.
pub const ENVELOPE_FIELDS: [&str; 9] = [
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
];

/// A payload the job cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct PayloadError {
    /// The field (`from`, `retention_months`), or `payload` for the whole of it.
    pub field: String,
    pub reason: String,
}

impl PayloadError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl From<PayloadError> for FunctionError {
    fn from(error: PayloadError) -> Self {
        Self::InvalidEvent(error.to_string())
    }
}

/// Reads a payload into `P` (whose unknown fields should be denied): `null` is `P`'s
/// default, EventBridge's envelope fields are dropped first.
///
/// # Errors
/// [`PayloadError`] naming the field that is wrong.
pub fn parse_payload<P: DeserializeOwned + Default>(payload: Value) -> Result<P, PayloadError> {
    let mut object = match payload {
        Value::Null => return Ok(P::default()),
        Value::Object(object) => object,
        other => {
            return Err(PayloadError::new(
                "payload",
                format!("must be a JSON object, not {}", json_kind(&other)),
            ));
        }
    };
    for field in ENVELOPE_FIELDS {
        object.remove(field);
    }
    serde_path_to_error::deserialize(Value::Object(object)).map_err(|error| {
        let path = error.path().to_string();
        let reason = error.into_inner().to_string();
        // serde names a missing or unknown field in its message, not in the path.
        let field = if path == "." {
            quoted_field(&reason).unwrap_or_else(|| "payload".into())
        } else {
            path
        };
        PayloadError::new(field, reason)
    })
}

fn quoted_field(reason: &str) -> Option<String> {
    let start = reason.find('`')? + 1;
    let len = reason[start..].find('`')?;
    Some(reason[start..start + len].to_owned())
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A calendar day in a payload: strictly `YYYY-MM-DD`, inside the plausible date window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub NaiveDate);

/// A month in a payload: strictly `YYYY-MM` (held as its first day), inside the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(pub NaiveDate);

impl Day {
    /// Parses `YYYY-MM-DD`.
    ///
    /// # Errors
    /// The reason, for a [`PayloadError`].
    pub fn parse(text: &str) -> Result<Self, String> {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .filter(|_| text.len() == 10)
            .ok_or_else(|| format!("{text:?} is not a date \"YYYY-MM-DD\""))
            .and_then(in_window)
            .map(Self)
    }
}

impl Month {
    /// Parses `YYYY-MM`.
    ///
    /// # Errors
    /// The reason, for a [`PayloadError`].
    pub fn parse(text: &str) -> Result<Self, String> {
        NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d")
            .ok()
            .filter(|_| text.len() == 7)
            .ok_or_else(|| format!("{text:?} is not a month \"YYYY-MM\""))
            .and_then(in_window)
            .map(Self)
    }

    /// The month after this one.
    pub fn next(self) -> Option<Self> {
        self.0.checked_add_months(Months::new(1)).map(Self)
    }

    /// The month containing `day`.
    pub fn of(day: NaiveDate) -> Self {
        Self(day.with_day(1).unwrap_or(day))
    }

    /// `YYYY-MM`.
    pub fn label(self) -> String {
        self.0.format("%Y-%m").to_string()
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// The platform's plausible date window ([`DateWindow`], `DATE_WINDOW_FROM` /
/// `DATE_WINDOW_TO`): a date outside it in a payload is a typo or an attack, and a range
/// from year 1 would walk 739,000 days.
fn in_window(date: NaiveDate) -> Result<NaiveDate, String> {
    DateWindow::current()
        .check_date(date, &date.to_string())
        .map_err(|e| e.to_string())
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Serialize for Month {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A payload's `limit`: how many units a run may take on at most (the keyword batch's
/// `missing --limit N`). A whole number from 0 up to [`Limit::MAX`]; a negative, fractional
/// or huge value, or a string, is refused with a reason that says so. A job's `mode` needs
/// no type of its own: a serde enum (`#[serde(rename_all = "lowercase")]`) already refuses
/// an unknown mode naming the field and the modes it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Limit(pub u32);

impl Limit {
    /// Larger limits are typos: no job here takes on more units in one run.
    pub const MAX: u32 = 10_000_000;
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        value
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n <= Self::MAX)
            .map(Self)
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "must be a whole number from 0 to {}, not {value}",
                    Self::MAX
                ))
            })
    }
}

/// An inclusive range of days or months, `from` ≤ `to`, at most a given number of units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Range<T> {
    pub from: T,
    pub to: T,
}

/// Something a [`Range`] counts in.
pub trait RangeUnit: Copy + Ord + fmt::Display {
    /// Units from `self` to `other`, both included.
    fn units_to(self, other: Self) -> i64;
}

impl RangeUnit for Day {
    fn units_to(self, other: Self) -> i64 {
        (other.0 - self.0).num_days() + 1
    }
}

impl RangeUnit for Month {
    fn units_to(self, other: Self) -> i64 {
        let months = |d: NaiveDate| i64::from(d.year()) * 12 + i64::from(d.month0());
        months(other.0) - months(self.0) + 1
    }
}

impl<T: RangeUnit> Range<T> {
    /// The range of an optional `from` / `to` pair: none when both are absent (the job's
    /// scheduled default), an error when one is missing, reversed or too long.
    ///
    /// # Errors
    /// [`PayloadError`] naming `from` or `to`.
    pub fn optional(
        from: Option<T>,
        to: Option<T>,
        max_units: i64,
    ) -> Result<Option<Self>, PayloadError> {
        match (from, to) {
            (None, None) => Ok(None),
            (Some(_), None) => Err(PayloadError::new("to", "is required with \"from\"")),
            (None, Some(_)) => Err(PayloadError::new("from", "is required with \"to\"")),
            (Some(from), Some(to)) => Self::new(from, to, max_units).map(Some),
        }
    }

    /// A checked range.
    ///
    /// # Errors
    /// [`PayloadError`] on `from` when it is after `to`, on `to` when the range is longer
    /// than `max_units`.
    pub fn new(from: T, to: T, max_units: i64) -> Result<Self, PayloadError> {
        if from > to {
            return Err(PayloadError::new(
                "from",
                format!("{from} is after \"to\" {to}"),
            ));
        }
        if from.units_to(to) > max_units {
            return Err(PayloadError::new(
                "to",
                format!("a range covers at most {max_units}; {from}..{to} is longer"),
            ));
        }
        Ok(Self { from, to })
    }
}

/// When an invocation must stop starting new work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: Option<Instant>,
}

impl Deadline {
    /// What a scheduled job keeps in hand to finish its unit in flight, answer and log.
    pub const DEFAULT_MARGIN: Duration = Duration::from_secs(20);

    /// No deadline (tools, tests).
    pub fn none() -> Self {
        Self { at: None }
    }

    /// `duration` from now.
    pub fn after(duration: Duration) -> Self {
        Self {
            at: Some(Instant::now() + duration),
        }
    }

    /// Deadlines below this (September 2001 in milliseconds since the epoch) are not
    /// instants but a local runtime's time budget: `cargo lambda watch` sends a constant
    /// `Lambda-Runtime-Deadline-Ms: 600000`, meaning 600 s, which read as an instant lies in
    /// 1970 and would stop every job after its first unit.
    const RELATIVE_BELOW_MS: u64 = 1_000_000_000_000;

    /// The invocation's deadline (Lambda's `deadline`, milliseconds since the epoch) minus
    /// `margin`; already reached when less than the margin is left. A value too small to be
    /// an instant is a budget from now (see [`Self::RELATIVE_BELOW_MS`]).
    pub fn from_epoch_millis(deadline_ms: u64, margin: Duration) -> Self {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let left = if deadline_ms < Self::RELATIVE_BELOW_MS {
            u128::from(deadline_ms)
        } else {
            u128::from(deadline_ms).saturating_sub(now_ms)
        };
        let left = Duration::from_millis(u64::try_from(left).unwrap_or(u64::MAX));
        Self {
            at: Some(Instant::now() + left.saturating_sub(margin)),
        }
    }

    /// The deadline of a Lambda invocation, minus [`Self::DEFAULT_MARGIN`]. A context
    /// without a deadline (tests may build one) has none.
    pub fn from_context(context: &lambda_runtime::Context) -> Self {
        Self::from_context_with_margin(context, Self::DEFAULT_MARGIN)
    }

    /// [`Self::from_context`] keeping `margin` in hand instead of the default.
    pub fn from_context_with_margin(context: &lambda_runtime::Context, margin: Duration) -> Self {
        if context.deadline == 0 {
            return Self::none();
        }
        let deadline = Self::from_epoch_millis(context.deadline, margin);
        tracing::debug!(
            deadline_ms = context.deadline,
            usable_ms = deadline.remaining().map(|d| d.as_millis()),
            "invocation deadline"
        );
        deadline
    }

    /// The earlier of this deadline and `budget` from `started` (a job's own time budget).
    #[must_use]
    pub fn capped(self, started: Instant, budget: Duration) -> Self {
        let by_budget = started + budget;
        Self {
            at: Some(self.at.map_or(by_budget, |at| at.min(by_budget))),
        }
    }

    /// True once the deadline has passed.
    pub fn reached(&self) -> bool {
        self.at.is_some_and(|at| Instant::now() >= at)
    }

    /// Time left, if there is a deadline.
    pub fn remaining(&self) -> Option<Duration> {
        self.at
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    /// The instant itself, if any.
    pub fn instant(&self) -> Option<Instant> {
        self.at
    }
}

/// The Lambda loop of a scheduled function: per invocation the [`Deadline`] from the
/// context, `handler` on a clone of the pool (cheap: it is shared) and the payload, run once
/// more when it failed on MySQL's 1045 and the credentials' secret was re-read (a rotation;
/// every job here is idempotent per unit), with EMF metrics around it.
///
/// # Errors
/// The runtime's error (it stops only on a failure to talk to the Lambda runtime API).
pub async fn serve<F, Fut>(database: Database, handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(MySqlPool, Value, Deadline) -> Fut,
    Fut: Future<Output = Result<Value, FunctionError>>,
{
    let database = &database;
    let handler = &handler;
    crate::metrics::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<Value>| async move {
            let deadline = Deadline::from_context(&event.context);
            database
                .retry_once_on_auth_failure(|| {
                    handler(database.pool().clone(), event.payload.clone(), deadline)
                })
                .await
        },
    ))
    .await
}

/// One run of a scheduled job: its deadline, its units, its counts and its summary line.
#[derive(Debug)]
pub struct JobRun {
    job: &'static str,
    started: Instant,
    deadline: Deadline,
    units: u64,
    stopped_by_deadline: bool,
    counts: BTreeMap<&'static str, u64>,
}

impl JobRun {
    /// Starts the clock of `job`.
    pub fn start(job: &'static str, deadline: Deadline) -> Self {
        Self {
            job,
            started: Instant::now(),
            deadline,
            units: 0,
            stopped_by_deadline: false,
            counts: BTreeMap::new(),
        }
    }

    /// When the run started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The deadline the run watches.
    pub fn deadline(&self) -> Deadline {
        self.deadline
    }

    /// Checked before each unit: true when the deadline has passed and at least one unit
    /// is done (a run always makes progress). Once true, the run is marked as stopped.
    pub fn should_stop(&mut self) -> bool {
        if self.units > 0 && self.deadline.reached() {
            self.stopped_by_deadline = true;
        }
        self.stopped_by_deadline
    }

    /// One unit of work committed.
    pub fn unit_done(&mut self) {
        self.units += 1;
    }

    /// Units committed by a job that counts them itself (e.g. chunks of a batch loop).
    pub fn units_done(&mut self, units: u64) {
        self.units += units;
    }

    /// Marks the run as stopped by its deadline, for a job that watches the deadline in
    /// its own loop ([`Deadline::reached`]).
    pub fn mark_stopped_by_deadline(&mut self) {
        self.stopped_by_deadline = true;
    }

    /// Units committed so far.
    pub fn units(&self) -> u64 {
        self.units
    }

    /// Adds to a named count (rows written, periods computed…).
    pub fn add(&mut self, name: &'static str, value: u64) {
        *self.counts.entry(name).or_insert(0) += value;
    }

    /// Ends the run: logs the summary line, records the counts as metrics and answers
    /// `answer`'s fields plus `job`, `complete`, `stopped_by_deadline`, `units`,
    /// `remaining` (what is left, `null` when complete) and `duration_ms`.
    ///
    /// # Errors
    /// [`FunctionError::Retryable`] when `answer` does not serialise to a JSON object.
    pub fn finish<T: Serialize>(
        self,
        answer: &T,
        remaining: Option<Value>,
    ) -> Result<Value, FunctionError> {
        let duration_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let complete = !self.stopped_by_deadline && remaining.is_none();
        let remaining = remaining.unwrap_or(Value::Null);
        let counts = serde_json::to_string(&self.counts).unwrap_or_default();
        for (name, value) in &self.counts {
            crate::metrics::count(name, *value);
        }
        tracing::info!(
            job = self.job,
            complete,
            stopped_by_deadline = self.stopped_by_deadline,
            units = self.units,
            counts = %counts,
            remaining = %remaining,
            duration_ms,
            "job finished"
        );
        let mut value = serde_json::to_value(answer).map_err(FunctionError::retryable)?;
        let Value::Object(object) = &mut value else {
            return Err(FunctionError::retryable(std::io::Error::other(
                "a job's answer must be a JSON object",
            )));
        };
        object.insert("job".into(), self.job.into());
        object.insert("complete".into(), complete.into());
        object.insert(
            "stopped_by_deadline".into(),
            self.stopped_by_deadline.into(),
        );
        object.insert("units".into(), self.units.into());
        object.insert("remaining".into(), remaining);
        object.insert("duration_ms".into(), duration_ms.into());
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Payload {
        from: Option<Day>,
        to: Option<Day>,
        #[serde(default)]
        dry_run: bool,
        mode: Option<Mode>,
        limit: Option<Limit>,
    }

    #[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Mode {
        Basic,
        Check,
    }

    fn refused(payload: Value) -> PayloadError {
        parse_payload::<Payload>(payload).expect_err("refused")
    }

    #[test]
    fn the_scheduler_envelope_and_null_are_the_default() {
        let scheduled =
            json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
        assert_eq!(
            parse_payload::<Payload>(scheduled).expect("ok"),
            Payload::default()
        );
        assert_eq!(
            parse_payload::<Payload>(Value::Null).expect("ok"),
            Payload::default()
        );
        let ranged =
            parse_payload::<Payload>(json!({"from": "2024-05-01", "to": "2024-05-07", "limit": 3}))
                .expect("ok");
        assert_eq!(
            ranged.from.map(|d| d.to_string()).as_deref(),
            Some("2024-05-01")
        );
        assert_eq!(ranged.limit, Some(Limit(3)));
        let checked = parse_payload::<Payload>(json!({"mode": "check", "limit": 0})).expect("ok");
        assert_eq!(
            (checked.mode, checked.limit),
            (Some(Mode::Check), Some(Limit(0)))
        );
    }

    #[test]
    fn each_kind_of_bad_payload_names_its_field() {
        assert_eq!(refused(json!([1])).field, "payload");
        assert_eq!(
            refused(json!("x")).reason,
            "must be a JSON object, not a string"
        );
        let typo = refused(json!({"form": "2024-05-01"}));
        assert_eq!(typo.field, "form", "{typo}");
        let wrong_type = refused(json!({"dry_run": "yes"}));
        assert_eq!(wrong_type.field, "dry_run");
        assert!(
            wrong_type.reason.contains("expected a boolean"),
            "{wrong_type}"
        );
        for bad_limit in [json!(-1), json!(2.5), json!("10"), json!(10_000_001)] {
            let refusal = refused(json!({ "limit": bad_limit }));
            assert_eq!(refusal.field, "limit");
            assert!(
                refusal
                    .reason
                    .starts_with("must be a whole number from 0 to"),
                "{refusal}"
            );
        }
        let mode = refused(json!({"mode": "fast"}));
        assert_eq!(mode.field, "mode");
        assert!(
            mode.reason.contains("expected `basic` or `check`"),
            "{mode}"
        );
        let bad_date = refused(json!({"from": "2024-5-1", "to": "2024-05-02"}));
        assert_eq!(bad_date.field, "from");
        assert!(bad_date.reason.contains("is not a date"), "{bad_date}");
        let impossible = refused(json!({"from": "2024-02-30", "to": "2024-03-01"}));
        assert_eq!(impossible.field, "from");
        let ancient = refused(json!({"from": "0000-01-01", "to": "0000-01-02"}));
        assert_eq!(ancient.field, "from", "{ancient}");
    }

    #[test]
    fn ranges_are_ordered_complete_and_bounded() {
        let day = |t: &str| Day::parse(t).expect("day");
        assert_eq!(Range::<Day>::optional(None, None, 10).expect("ok"), None);
        assert_eq!(
            Range::optional(Some(day("2024-05-01")), None, 10)
                .expect_err("half")
                .field,
            "to"
        );
        assert_eq!(
            Range::optional(None, Some(day("2024-05-01")), 10)
                .expect_err("half")
                .field,
            "from"
        );
        assert_eq!(
            Range::new(day("2024-05-02"), day("2024-05-01"), 10)
                .expect_err("reversed")
                .field,
            "from"
        );
        assert!(Range::new(day("2024-05-01"), day("2024-05-10"), 10).is_ok());
        assert_eq!(
            Range::new(day("2024-05-01"), day("2024-05-11"), 10)
                .expect_err("long")
                .field,
            "to"
        );
        let month = |t: &str| Month::parse(t).expect("month");
        assert!(Range::new(month("2015-01"), month("2024-12"), 120).is_ok());
        assert!(Range::new(month("2014-12"), month("2024-12"), 120).is_err());
        assert!(Month::parse("2024-13").is_err());
        assert!(Month::parse("2024-5").is_err());
    }

    #[test]
    fn a_deadline_from_the_context_keeps_the_margin() {
        let now_ms = u64::try_from(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("clock")
                .as_millis(),
        )
        .expect("fits");
        let deadline = Deadline::from_epoch_millis(now_ms + 60_000, Duration::from_secs(20));
        let left = deadline.remaining().expect("a deadline");
        assert!(
            left <= Duration::from_secs(40) && left > Duration::from_secs(38),
            "{left:?}"
        );
        assert!(Deadline::from_epoch_millis(now_ms + 5_000, Duration::from_secs(20)).reached());
        assert!(Deadline::from_epoch_millis(now_ms - 1_000, Duration::ZERO).reached());
        // cargo lambda watch's constant "600000": 600 s from now, not an instant in 1970.
        let local = Deadline::from_epoch_millis(600_000, Duration::from_secs(20))
            .remaining()
            .expect("a deadline");
        assert!(
            local <= Duration::from_secs(580) && local > Duration::from_secs(578),
            "{local:?}"
        );
        assert!(!Deadline::none().reached());
        let capped = Deadline::none().capped(Instant::now(), Duration::ZERO);
        assert!(capped.reached());
    }

    #[test]
    fn a_run_does_one_unit_before_it_obeys_a_passed_deadline() {
        let mut run = JobRun::start("test", Deadline::after(Duration::ZERO));
        assert!(!run.should_stop(), "no unit done yet");
        run.unit_done();
        assert!(run.should_stop());
        let answer = run
            .finish(
                &json!({"months": ["2024-05"]}),
                Some(json!({"months": ["2024-06"]})),
            )
            .expect("answer");
        assert_eq!(answer["complete"], false);
        assert_eq!(answer["stopped_by_deadline"], true);
        assert_eq!(answer["remaining"]["months"][0], "2024-06");
        assert_eq!(answer["months"][0], "2024-05");
        assert_eq!(answer["job"], "test");
    }
}
