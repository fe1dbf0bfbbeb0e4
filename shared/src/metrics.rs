//! CloudWatch metrics as embedded-metric-format (EMF) lines on stdout: a cold-start count,
//! each invocation's duration, and the counts a function records with [`count`] (or the
//! `metrics` facade's `counter!`), all flushed once at the end of each invocation.
//!
//! The recorder is `metrics_cloudwatch_embedded`'s collector (namespace `METRICS_NAMESPACE`,
//! one dimension `function` = the Lambda function's name, or the binary's name locally), so
//! CloudWatch turns the lines into metrics without an API call or an agent. The
//! per-invocation part is [`MetricsLayer`], a tower layer on the Lambda runtime; that crate's
//! own layer is behind its `lambda` feature, which would pull `lambda_http` with every
//! default feature into every function.
//!
//! Each flush is serialised first and written to stdout with one `write_all`, one JSON
//! object per line (one per label set). Tracing writes to stderr, so log lines and metric
//! lines never share a line; Lambda ships both to the function's log group, where
//! CloudWatch picks out the EMF objects by their `_aws` key.
//!
//! ```no_run
//! use lambda_runtime::{Error, LambdaEvent, service_fn};
//! use serde_json::Value;
//!
//! # async fn handle(_event: LambdaEvent<Value>) -> Result<Value, Error> {
//! #     common::metrics::count("rows_deleted", 12);
//! #     Ok(Value::Null)
//! # }
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     common::telemetry::init();
//!     // Instead of lambda_runtime::run: the same tracing layer, plus the metrics layer.
//!     common::metrics::run(service_fn(handle)).await
//! }
//! ```

use std::{
    fmt::Debug,
    future::Future,
    io::Write,
    pin::Pin,
    sync::{
        OnceLock,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use lambda_runtime::{
    Diagnostic, IntoFunctionResponse, LambdaEvent, LambdaInvocation, Runtime, Service,
    layers::TracingLayer, tower::Layer,
};
use metrics_cloudwatch_embedded::{Builder, Collector};
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, env_opt};

/// Namespace when `METRICS_NAMESPACE` is unset.
pub const DEFAULT_NAMESPACE: &str = "DataPlatform";
/// The dimension every metric carries: which function emitted it.
pub const FUNCTION_DIMENSION: &str = "function";
/// Count emitted once per execution environment, on its first invocation.
pub const COLD_START: &str = "cold_start";
/// Milliseconds from the start of an invocation to its answer.
pub const DURATION: &str = "duration";
/// Property (not a dimension) naming the invocation, to find its log lines.
pub const REQUEST_ID: &str = "RequestId";

/// Records `value` more of the count `name` for this invocation (statements imported,
/// counts flagged, rows deleted, …). A no-op until [`init`] has installed the recorder, so
/// libraries can count unconditionally (tests, tools).
pub fn count(name: &'static str, value: u64) {
    ::metrics::counter!(name).increment(value);
}

/// The metrics settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSettings {
    /// `METRICS_NAMESPACE`, default [`DEFAULT_NAMESPACE`].
    pub namespace: String,
    /// Value of the `function` dimension: `AWS_LAMBDA_FUNCTION_NAME`, else the binary's name.
    pub function: String,
}

impl MetricsSettings {
    /// Reads `METRICS_NAMESPACE` and the function's name.
    ///
    /// # Errors
    /// Never in practice (both are free text); kept for the settings' common shape.
    pub fn from_env() -> Result<Self, ConfigError> {
        let function = env_opt::<String>("AWS_LAMBDA_FUNCTION_NAME")?.unwrap_or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|exe| exe.file_stem().map(|s| s.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "unknown".into())
        });
        Ok(Self {
            namespace: env_opt("METRICS_NAMESPACE")?.unwrap_or_else(|| DEFAULT_NAMESPACE.into()),
            function,
        })
    }
}

/// Why metrics could not be set up (the function then runs without them).
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("metrics settings: {0}")]
    Config(#[from] ConfigError),
    #[error("installing the CloudWatch EMF recorder failed: {0}")]
    Install(String),
}

/// The installed recorder and the execution environment's cold-start flag.
pub struct Emitter {
    collector: &'static Collector,
    cold_start_pending: AtomicBool,
}

impl Debug for Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emitter")
            .field("namespace", &self.collector.config.cloudwatch_namespace)
            .field("cold_start_pending", &self.cold_start_pending)
            .finish_non_exhaustive()
    }
}

impl Debug for MetricsLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsLayer")
            .field("enabled", &self.emitter.is_some())
            .finish()
    }
}

static EMITTER: OnceLock<Result<Emitter, String>> = OnceLock::new();

/// Installs the process-wide recorder from the environment (once; later calls return the
/// same emitter, or the same failure).
///
/// # Errors
/// The recorder could not be installed (another recorder was installed first).
pub fn init() -> Result<&'static Emitter, MetricsError> {
    init_with(&MetricsSettings::from_env()?)
}

/// [`init`] with explicit settings; only the first call's settings take effect.
///
/// # Errors
/// As [`init`].
pub fn init_with(settings: &MetricsSettings) -> Result<&'static Emitter, MetricsError> {
    EMITTER
        .get_or_init(|| {
            let collector = Builder::new()
                .cloudwatch_namespace(settings.namespace.clone())
                .with_dimension(FUNCTION_DIMENSION, settings.function.clone())
                .init()
                .map_err(|e| e.to_string())?;
            ::metrics::describe_histogram!(
                DURATION,
                ::metrics::Unit::Milliseconds,
                "time from the start of an invocation to its answer"
            );
            Ok(Emitter {
                collector,
                cold_start_pending: AtomicBool::new(true),
            })
        })
        .as_ref()
        .map_err(|e| MetricsError::Install(e.clone()))
}

impl Emitter {
    /// Start of an invocation: names it in the metric lines and, on the first invocation of
    /// the execution environment, writes the cold-start count to `out`.
    ///
    /// # Errors
    /// Writing to `out`.
    pub fn invocation_started(
        &self,
        request_id: &str,
        out: &mut impl Write,
    ) -> std::io::Result<()> {
        self.collector
            .set_property(REQUEST_ID, request_id.to_owned());
        if self.cold_start_pending.swap(false, Ordering::AcqRel) {
            self.collector
                .write_single(COLD_START, Some(::metrics::Unit::Count), 1, out)?;
        }
        Ok(())
    }

    /// End of an invocation: records its duration and writes every metric recorded since
    /// the last flush to `out`, one EMF object per line (counts are reset by the flush).
    ///
    /// # Errors
    /// Writing to `out`.
    pub fn invocation_finished(
        &self,
        elapsed: Duration,
        out: &mut impl Write,
    ) -> std::io::Result<()> {
        ::metrics::histogram!(DURATION).record(elapsed.as_secs_f64() * 1000.0);
        self.collector.flush(out)
    }
}

/// Writes one flush to stdout in a single `write_all` so that its lines are not split by
/// other output; a failure is logged (metrics never fail an invocation).
fn to_stdout(buffer: &[u8]) {
    if buffer.is_empty() {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout.write_all(buffer).and_then(|()| stdout.flush()) {
        tracing::warn!(error = %error, "metric lines could not be written to stdout");
    }
}

/// Tower layer on the Lambda runtime: cold start, duration and a flush per invocation.
/// Without an emitter (metrics could not be set up) it only passes invocations through.
#[derive(Clone, Copy)]
pub struct MetricsLayer {
    emitter: Option<&'static Emitter>,
}

impl MetricsLayer {
    /// A layer writing through `emitter`.
    pub fn new(emitter: &'static Emitter) -> Self {
        Self {
            emitter: Some(emitter),
        }
    }

    /// A layer from [`init`]; when that fails the reason is logged once and the function
    /// runs without metrics rather than not at all.
    pub fn from_env() -> Self {
        match init() {
            Ok(emitter) => Self::new(emitter),
            Err(error) => {
                tracing::warn!(error = %error, "running without CloudWatch metrics");
                Self { emitter: None }
            }
        }
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            emitter: self.emitter,
        }
    }
}

/// The service [`MetricsLayer`] wraps around the runtime's invocation service.
#[derive(Clone, Debug)]
pub struct MetricsService<S> {
    inner: S,
    emitter: Option<&'static Emitter>,
}

impl<S> Service<LambdaInvocation> for MetricsService<S>
where
    S: Service<LambdaInvocation>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = MetricsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, invocation: LambdaInvocation) -> Self::Future {
        if let Some(emitter) = self.emitter {
            let mut buffer = Vec::new();
            if let Err(error) =
                emitter.invocation_started(&invocation.context.request_id, &mut buffer)
            {
                tracing::warn!(error = %error, "cold-start metric not written");
            }
            to_stdout(&buffer);
        }
        MetricsFuture {
            inner: Box::pin(self.inner.call(invocation)),
            started: Instant::now(),
            emitter: self.emitter,
        }
    }
}

/// The invocation's future; flushes the metrics when it completes.
pub struct MetricsFuture<F> {
    // Boxed so the future is Unpin without unsafe pin projection; one allocation per
    // invocation.
    inner: Pin<Box<F>>,
    started: Instant,
    emitter: Option<&'static Emitter>,
}

impl<F: Future> Future for MetricsFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let output = std::task::ready!(this.inner.as_mut().poll(cx));
        if let Some(emitter) = this.emitter {
            let mut buffer = Vec::new();
            if let Err(error) = emitter.invocation_finished(this.started.elapsed(), &mut buffer) {
                tracing::warn!(error = %error, "metrics not flushed");
            }
            to_stdout(&buffer);
        }
        Poll::Ready(output)
    }
}

/// `lambda_runtime::run` with metrics: the runtime's tracing layer, then [`MetricsLayer`]
/// (outermost, so the flush comes after the invocation's span has closed).
///
/// # Errors
/// The runtime's error (it stops only on a failure to talk to the Lambda runtime API).
pub async fn run<A, F, R, B, S, D, E>(handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Service<LambdaEvent<A>, Response = R>,
    F::Future: Future<Output = Result<R, F::Error>>,
    F::Error: Into<Diagnostic> + Debug,
    A: for<'de> Deserialize<'de>,
    R: IntoFunctionResponse<B, S>,
    B: Serialize,
    S: futures_util::Stream<Item = Result<D, E>> + Unpin + Send + 'static,
    D: Into<bytes::Bytes> + Send,
    E: Into<lambda_runtime::Error> + Send + Debug,
{
    Runtime::new(handler)
        .layer(TracingLayer::new())
        .layer(MetricsLayer::from_env())
        .run()
        .await
}

/// `lambda_http::run` with metrics: what `common::http::serve` calls for the HTTP APIs.
///
/// # Errors
/// As [`run`].
#[cfg(feature = "http")]
pub async fn run_http<'a, R, S, E>(handler: S) -> Result<(), lambda_runtime::Error>
where
    S: Service<lambda_http::Request, Response = R, Error = E>,
    S::Future: Send + 'a,
    R: lambda_http::IntoResponse,
    E: Debug + Into<Diagnostic>,
{
    run(lambda_http::Adapter::from(handler)).await
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn lines(buffer: &[u8]) -> Vec<Value> {
        std::str::from_utf8(buffer)
            .expect("EMF is UTF-8")
            .lines()
            .map(|line| serde_json::from_str(line).expect("each line is one JSON object"))
            .collect()
    }

    /// The one test that installs the process-wide recorder (a second install would fail).
    #[test]
    fn an_invocation_writes_cold_start_counts_and_duration_as_emf() {
        let emitter = init_with(&MetricsSettings {
            namespace: "TestNamespace".into(),
            function: "unit-test-function".into(),
        })
        .expect("the recorder installs");

        let mut started = Vec::new();
        emitter
            .invocation_started("req-1", &mut started)
            .expect("written to memory");
        count("statements_imported", 40);
        count("statements_imported", 2);
        let mut finished = Vec::new();
        emitter
            .invocation_finished(Duration::from_millis(25), &mut finished)
            .expect("written to memory");

        let cold = lines(&started);
        assert_eq!(cold.len(), 1, "one cold-start line: {cold:?}");
        let cold = &cold[0];
        let directive = &cold["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "TestNamespace");
        assert_eq!(directive["Dimensions"][0][0], FUNCTION_DIMENSION);
        assert_eq!(directive["Metrics"][0]["Name"], COLD_START);
        assert_eq!(cold[FUNCTION_DIMENSION], "unit-test-function");
        assert_eq!(cold[COLD_START], 1);
        assert_eq!(cold[REQUEST_ID], "req-1");
        assert!(cold["_aws"]["Timestamp"].as_u64().is_some());

        // Other tests of this crate may count in parallel (into their own lines when they
        // use labels), so the line carrying this test's count is looked up.
        let flushed = lines(&finished);
        let line = flushed
            .iter()
            .find(|line| line.get("statements_imported").is_some())
            .expect("the count is flushed");
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "TestNamespace");
        assert_eq!(
            directive["Dimensions"][0],
            serde_json::json!([FUNCTION_DIMENSION])
        );
        assert_eq!(line[FUNCTION_DIMENSION], "unit-test-function");
        assert_eq!(line["statements_imported"], 42);
        assert_eq!(line[DURATION], serde_json::json!([25.0]));
        let duration_unit = directive["Metrics"]
            .as_array()
            .expect("metric list")
            .iter()
            .find(|m| m["Name"] == DURATION)
            .map(|m| m["Unit"].clone());
        assert_eq!(duration_unit, Some(Value::from("Milliseconds")));

        // The next invocation is warm: no cold-start line, and counts start again from 0.
        let mut warm = Vec::new();
        emitter
            .invocation_started("req-2", &mut warm)
            .expect("written to memory");
        assert!(warm.is_empty(), "cold start counted once");
        count("statements_imported", 5);
        let mut second = Vec::new();
        emitter
            .invocation_finished(Duration::from_millis(3), &mut second)
            .expect("written to memory");
        let second = lines(&second);
        let line = second
            .iter()
            .find(|line| line.get("statements_imported").is_some())
            .expect("the count is flushed");
        assert_eq!(line["statements_imported"], 5);
        assert_eq!(line[REQUEST_ID], "req-2");

        // init again gives the same emitter rather than failing.
        let again = init_with(&MetricsSettings {
            namespace: "Other".into(),
            function: "other".into(),
        })
        .expect("idempotent");
        assert!(std::ptr::eq(again, emitter));
    }
}
