//! Tracing set-up: JSON lines in Lambda (CloudWatch parses them), compact text locally.

use tracing_subscriber::{EnvFilter, fmt};

/// Installs the global subscriber once; later calls (tests) are no-ops.
///
/// The level comes from `AWS_LAMBDA_LOG_LEVEL` (set by Lambda's logging config), then
/// `RUST_LOG`, else `info`. Output is JSON when `AWS_LAMBDA_LOG_FORMAT=JSON` or when running
/// inside Lambda, so one summary line per job can be queried in CloudWatch Logs Insights.
pub fn init() {
    let filter = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .ok()
        .map(|level| EnvFilter::new(level.to_lowercase()))
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"))
        || (std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()
            && std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some()
            && std::env::var_os("CARGO_LAMBDA_WATCH").is_none()
            && std::env::var_os("AWS_LAMBDA_LOG_FORMAT").is_none());
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _already_set = if json {
        builder
            .json()
            .with_current_span(false)
            .with_target(false)
            .without_time()
            .try_init()
    } else {
        builder.compact().try_init()
    };
}
