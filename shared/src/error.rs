//! How a failed invocation is reported to Lambda.
//!
//! Lambda retries asynchronous invocations (S3, EventBridge) and redelivers SQS messages
//! whose handler failed. A failure that a retry can cure (database down, S3 throttling) must
//! be returned as an error; a permanent one (a corrupt upload) is recorded and answered with
//! success so it is not retried forever. [`FunctionError`] carries that decision in its
//! `error_type`, which CloudWatch and the dead-letter queue show.

use lambda_runtime::Diagnostic;

/// An invocation failure, classified for Lambda.
#[derive(Debug, thiserror::Error)]
pub enum FunctionError {
    /// The event itself is unusable (malformed payload): retrying cannot help.
    #[error("invalid event: {0}")]
    InvalidEvent(String),
    /// A dependency failed; the same event may succeed later.
    #[error("{0:#}")]
    Retryable(#[source] BoxError),
}

/// A boxed error that keeps its `source()` chain.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl FunctionError {
    /// Wraps any error as retryable.
    pub fn retryable(error: impl Into<BoxError>) -> Self {
        Self::Retryable(error.into())
    }
}

impl From<FunctionError> for Diagnostic {
    fn from(error: FunctionError) -> Self {
        let error_type = match &error {
            FunctionError::InvalidEvent(_) => "InvalidEvent",
            FunctionError::Retryable(_) => "Retryable",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: error_chain(&error),
        }
    }
}

/// `error: cause: cause…`, for logs and Lambda error messages.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
