//! The HyperCLOVA X (HCX) classifier: one CLOVA Studio chat completion per question.
//!
//! [`HcxClient::classify`] asks HCX (chat completions v3,
//! `POST {base_url}/v3/chat-completions/{model}`) to put a customer's chat question into
//! exactly one of the configured categories and to extract up to five keywords, answering
//! with strict JSON. The answer is validated ([`answer`]); an invalid one gets **one**
//! repair request (the conversation, the model's answer, and what was wrong), and is
//! otherwise reported as [`ClassifyError::InvalidAnswer`] with the answer kept for review.
//!
//! One client is built per execution environment and shared (`&self` methods): it holds the
//! HTTP connection pool and this environment's [rate limiter](RequestRate).
//!
//! # Outcomes of one HTTP request
//! | HTTP status, CLOVA `status.code` | what it means | outcome |
//! |---|---|---|
//! | 200 with `result.message.content` | an answer | validated (then repaired once if invalid) |
//! | 200 whose body is not the v3 JSON | a proxy page, a cut body: not the question's fault | retried |
//! | 429 (42900, 42901, …: per-minute requests or tokens) | the rate, not the question | retried |
//! | 408, 5xx (50000, …) | HCX or the way there | retried |
//! | time-out ([`HcxSettings::request_timeout`]), connection error | the way there | retried |
//! | 401 (40100–40104, 40170) | key invalid, expired, no subscription | [`ClassifyError::AccountWide`] |
//! | 403 (40300, 40301, **40380 = token quota used up**) | the account may not, or may no more | [`ClassifyError::AccountWide`] |
//! | 404; 400 with 40080 (model not found) or 40082 (model retired) | the endpoint or model is misconfigured | [`ClassifyError::AccountWide`] |
//! | 3xx (redirects are not followed) | the base URL is wrong | [`ClassifyError::AccountWide`] |
//! | other 4xx (40000, 40001 invalid parameter, 40003 context too long, 40004, 40005 …) | this question | [`ClassifyError::Permanent`], not retried |
//!
//! "Retried" means: up to [`HcxSettings::max_attempts`] requests in all (the first
//! included), waiting between them an exponential backoff (`base_backoff`, doubling) with
//! jitter (backon adds a random 0–100 % of the delay), each wait capped at [`MAX_BACKOFF`];
//! a `Retry-After` header (seconds) is honoured as the minimum wait. Still failing after the
//! last attempt → [`ClassifyError::Transient`]: the caller leaves the message to be delivered
//! again later. A `Retry-After` above [`MAX_RETRY_AFTER`] ends the retries at once with
//! `Transient` too: redelivery later is cheaper than a Lambda sleeping for minutes. The
//! repair request has its own budget of attempts.
//!
//! **Account-wide decision.** CLOVA Studio answers a used-up token quota with HTTP 403 and
//! code 40380 ("You have used all your {n} tokens"), while its per-minute limits (requests
//! or tokens) are 429s that pass within a minute. So every 401 and 403 is account-wide (no
//! question can succeed until someone fixes the key, the subscription or the quota), and
//! every 429 is transient. A misconfigured endpoint or model (404, 3xx, 40080, 40082) is
//! account-wide too: marking each question permanently failed for a configuration mistake
//! would lose the day's work, whereas stopping the run keeps the questions queued.
//!
//! # Rate
//! The account's QPM ([`HcxSettings::requests_per_minute`]) is shared by the worker's
//! execution environments: each sends at most `requests_per_minute / max_concurrency`
//! requests a minute (at least 1), evenly spaced (see [`rate`]). **Every** HTTP request —
//! first attempts, retries and repairs — takes a permit first, so retries cannot push the
//! account over its limit.
//!
//! # Secrets and logs
//! The API key lives in a [`SecretString`] and, once built, in a header value marked
//! sensitive; no `Debug` or `Display` here shows it. Requests are logged at debug level
//! (request id, status, code) and failures at warn level; question text is never logged.

pub mod answer;
pub mod rate;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::Value;
use tracing::{debug, warn};
use uuid::Uuid;

pub use answer::{ASKED_KEYWORDS, MAX_KEYWORD_CHARS, MAX_KEYWORDS};
pub use rate::{RequestRate, TokioClock};

use crate::classification::{Classification, OTHER};

/// The classifier's name in stored results.
pub const PROVIDER: &str = "hcx";
/// The prompt's version in stored results; change it when the prompt or validation changes.
pub const PROMPT_VERSION: &str = "kw-1";
/// The longest wait between two attempts (the exponential backoff stops growing here).
pub const MAX_BACKOFF: Duration = Duration::from_secs(20);
/// The longest `Retry-After` honoured; a longer one ends the retries (see the module docs).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// The header carrying each request's id (a fresh UUID v4 per HTTP request).
pub const REQUEST_ID_HEADER: &str = "X-NCP-CLOVASTUDIO-REQUEST-ID";

/// What the client needs; [`HcxSettings::new`] fills in the defaults.
#[derive(Debug, Clone)]
pub struct HcxSettings {
    /// e.g. `https://clovastudio.stream.ntruss.com` (no trailing path).
    pub base_url: String,
    /// e.g. `HCX-005`.
    pub model: String,
    /// The CLOVA Studio API key (sent as `Authorization: Bearer …`).
    pub api_key: SecretString,
    /// The configured categories; `other` is added when missing.
    pub categories: Vec<String>,
    /// The time-out of one HTTP request, connection to the answer's last byte.
    pub request_timeout: Duration,
    /// HTTP requests at most for a 429 / 5xx / time-out, the first included.
    pub max_attempts: u32,
    /// The first wait before a retry; it doubles after each.
    pub base_backoff: Duration,
    /// The account's requests per minute (QPM) ...
    pub requests_per_minute: u32,
    /// ... shared by this many concurrent execution environments.
    pub max_concurrency: u32,
}

impl HcxSettings {
    /// Default [`HcxSettings::request_timeout`].
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
    /// Default [`HcxSettings::max_attempts`].
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
    /// Default [`HcxSettings::base_backoff`].
    pub const DEFAULT_BASE_BACKOFF: Duration = Duration::from_millis(500);

    /// Settings with the default time-out, attempts and backoff.
    pub fn new(
        base_url: impl Into<String>,
        model: impl Into<String>,
        api_key: SecretString,
        categories: Vec<String>,
        requests_per_minute: u32,
        max_concurrency: u32,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            api_key,
            categories,
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
            base_backoff: Self::DEFAULT_BASE_BACKOFF,
            requests_per_minute,
            max_concurrency,
        }
    }
}

/// Building the client failed (a configuration error).
#[derive(Debug, thiserror::Error)]
pub enum HcxError {
    /// A setting is unusable.
    #[error("HCX settings: {0}")]
    Settings(String),
    /// The HTTP client could not be built.
    #[error("HCX HTTP client: {0}")]
    Http(#[source] reqwest::Error),
}

/// A question classified by HCX.
#[derive(Debug, Clone, PartialEq)]
pub struct Classified {
    /// The category (configured spelling) and keywords.
    pub classification: Classification,
    /// The model asked (the configured one).
    pub model: String,
    /// HTTP requests made for this question, retries and the repair included.
    pub attempts: u32,
    /// Whether the answer came from the repair request.
    pub repaired: bool,
}

/// Why a question was not classified.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClassifyError {
    /// A 4xx that is about this question (40003 context too long, 40001 …): record it, don't
    /// retry.
    #[error("HCX refused the question: HTTP {status}, code {code}: {message}")]
    Permanent {
        /// The HTTP status.
        status: u16,
        /// CLOVA's `status.code` ("" when the body had none).
        code: String,
        /// CLOVA's `status.message`.
        message: String,
    },
    /// The model's answer was not the JSON asked for, even after one repair request: keep the
    /// answer for review.
    #[error("HCX did not answer the JSON asked for: {reason}")]
    InvalidAnswer {
        /// The model's last answer, as it came.
        answer: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The account or configuration, not the question (401, 403 incl. the 40380 token quota,
    /// 404, 3xx, 40080, 40082; see the module docs): stop the run, leave questions queued.
    #[error("HCX refused the account: HTTP {status}, code {code}: {message}")]
    AccountWide {
        /// The HTTP status (0 when there was no response).
        status: u16,
        /// CLOVA's `status.code` ("" when the body had none).
        code: String,
        /// CLOVA's `status.message`.
        message: String,
    },
    /// 429 / 5xx / time-outs / connection errors still failing after `max_attempts`: the
    /// caller retries later (message redelivery).
    #[error("HCX unavailable: {reason}")]
    Transient {
        /// The last failure and the number of attempts.
        reason: String,
    },
}

impl ClassifyError {
    /// A short name for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Permanent { .. } => "permanent",
            Self::InvalidAnswer { .. } => "invalid_answer",
            Self::AccountWide { .. } => "account_wide",
            Self::Transient { .. } => "transient",
        }
    }
}

/// The HCX client: built once per execution environment, shared by reference (or cloned:
/// clones share the connection pool, the rate limiter and the request counter).
#[derive(Clone)]
pub struct HcxClient {
    // Behind an Arc: clones must share the rate limiter (one per environment), and the
    // client stays one pointer wide wherever it is held.
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    url: String,
    /// `Bearer <key>`, marked sensitive (its `Debug` shows `Sensitive`).
    authorization: HeaderValue,
    model: String,
    categories: Vec<String>,
    system_prompt: String,
    request_timeout: Duration,
    max_attempts: u32,
    base_backoff: Duration,
    rate: RequestRate,
    sent: AtomicU64,
}

impl std::fmt::Debug for HcxClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = &self.inner;
        f.debug_struct("HcxClient")
            .field("url", &inner.url)
            .field("model", &inner.model)
            .field("categories", &inner.categories)
            .field("request_timeout", &inner.request_timeout)
            .field("max_attempts", &inner.max_attempts)
            .field("base_backoff", &inner.base_backoff)
            .field("rate", &inner.rate)
            .field("requests_sent", &self.requests_sent())
            .finish_non_exhaustive()
    }
}

/// One chat message.
#[derive(Debug, Clone, Serialize)]
struct Message {
    role: &'static str,
    content: String,
}

impl Message {
    fn new(role: &'static str, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

/// The v3 request body. The parameters favour a stable, short answer: low temperature, a
/// JSON object fits in 256 tokens, the AI filters' scores are not needed.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChatRequest<'a> {
    messages: &'a [Message],
    top_p: f64,
    top_k: u32,
    max_tokens: u32,
    temperature: f64,
    repetition_penalty: f64,
    stop: [&'static str; 0],
    include_ai_filters: bool,
    seed: u64,
}

impl<'a> ChatRequest<'a> {
    fn new(messages: &'a [Message]) -> Self {
        Self {
            messages,
            top_p: 0.8,
            top_k: 0,
            max_tokens: 256,
            temperature: 0.1,
            repetition_penalty: 1.1,
            stop: [],
            include_ai_filters: false,
            seed: 0,
        }
    }
}

/// How one HTTP request failed.
#[derive(Debug)]
enum AttemptError {
    Retryable {
        reason: String,
        retry_after: Option<Duration>,
    },
    Permanent {
        status: u16,
        code: String,
        message: String,
    },
    AccountWide {
        status: u16,
        code: String,
        message: String,
    },
}

impl AttemptError {
    fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable { .. })
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Retryable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// What an error status means (the table in the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatusClass {
    Retry,
    Permanent,
    AccountWide,
}

/// 400 codes that are about the configuration, not the question: model not found, retired.
const ACCOUNT_WIDE_400_CODES: [&str; 2] = ["40080", "40082"];

fn classify_status(status: u16, code: &str) -> StatusClass {
    match status {
        408 | 429 | 500..=599 => StatusClass::Retry,
        401 | 403 | 404 => StatusClass::AccountWide,
        400..=499 if ACCOUNT_WIDE_400_CODES.contains(&code) => StatusClass::AccountWide,
        400..=499 => StatusClass::Permanent,
        // Redirects are not followed (the API does not redirect; following one could send
        // the key elsewhere): a 3xx, or anything stranger, means the base URL is wrong.
        _ => StatusClass::AccountWide,
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by CLOVA and is ignored).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// An error and its sources, for a reason string.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// `status.code` as a string (CLOVA sends a string; a number is accepted too).
fn status_field(body: &Value, field: &str) -> String {
    match body.get("status").and_then(|s| s.get(field)) {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        _ => String::new(),
    }
}

impl HcxClient {
    /// Checks the settings and builds the HTTP client (no request is sent).
    pub fn new(settings: HcxSettings) -> Result<Self, HcxError> {
        let base_url = settings.base_url.trim().trim_end_matches('/');
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(HcxError::Settings(format!(
                "base URL {base_url:?} is not http(s)"
            )));
        }
        let model = settings.model.trim();
        if model.is_empty()
            || model.contains(['/', '?', '#'])
            || model.contains(char::is_whitespace)
        {
            return Err(HcxError::Settings(format!(
                "model {model:?} is not a model name"
            )));
        }
        let key = settings.api_key.expose_secret().trim();
        if key.is_empty() {
            return Err(HcxError::Settings("the API key is empty".to_owned()));
        }
        // Never echo the key, not even in this error.
        let mut authorization = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
            HcxError::Settings("the API key has characters a header cannot carry".to_owned())
        })?;
        authorization.set_sensitive(true);

        let mut categories: Vec<String> = Vec::with_capacity(settings.categories.len() + 1);
        for category in &settings.categories {
            let category = category.trim();
            if category.is_empty() {
                return Err(HcxError::Settings("a category is empty".to_owned()));
            }
            if !categories
                .iter()
                .any(|c| c.to_lowercase() == category.to_lowercase())
            {
                categories.push(category.to_owned());
            }
        }
        // The prompt tells the model to use "other" when nothing fits, so it must be allowed.
        if !categories.iter().any(|c| c.eq_ignore_ascii_case(OTHER)) {
            categories.push(OTHER.to_owned());
        }
        if settings.request_timeout.is_zero() {
            return Err(HcxError::Settings(
                "the request time-out is zero".to_owned(),
            ));
        }

        let http = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("keyword-worker/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(HcxError::Http)?;

        Ok(Self {
            inner: Arc::new(Inner {
                http,
                url: format!("{base_url}/v3/chat-completions/{model}"),
                authorization,
                model: model.to_owned(),
                system_prompt: answer::system_prompt(&categories),
                categories,
                request_timeout: settings.request_timeout,
                max_attempts: settings.max_attempts.max(1),
                base_backoff: settings.base_backoff,
                rate: RequestRate::for_environment(
                    settings.requests_per_minute,
                    settings.max_concurrency,
                ),
                sent: AtomicU64::new(0),
            }),
        })
    }

    /// The categories in use (the configured ones, `other` added if it was missing).
    pub fn categories(&self) -> &[String] {
        &self.inner.categories
    }

    /// The model asked.
    pub fn model(&self) -> &str {
        &self.inner.model
    }

    /// This environment's requests per minute.
    pub fn requests_per_minute(&self) -> u32 {
        self.inner.rate.per_minute_limit()
    }

    /// HTTP requests sent so far (every attempt and repair), for metrics and tests.
    pub fn requests_sent(&self) -> u64 {
        self.inner.sent.load(Ordering::Relaxed)
    }

    /// Classifies one question (see the module docs for the outcomes).
    pub async fn classify(&self, question: &str) -> Result<Classified, ClassifyError> {
        self.inner.classify(question).await
    }
}

impl Inner {
    async fn classify(&self, question: &str) -> Result<Classified, ClassifyError> {
        let mut messages = vec![
            Message::new("system", self.system_prompt.as_str()),
            Message::new("user", question),
        ];
        let mut attempts = 0;
        let first = self.complete(&messages, &mut attempts).await?;
        let reason = match answer::parse_answer(&first, &self.categories) {
            Ok(classification) => {
                return Ok(Classified {
                    classification,
                    model: self.model.clone(),
                    attempts,
                    repaired: false,
                });
            }
            Err(reason) => reason,
        };

        debug!(%reason, "HCX answer invalid; asking once more");
        messages.push(Message::new("assistant", first.as_str()));
        messages.push(Message::new(
            "user",
            answer::repair_prompt(&reason, &self.categories),
        ));
        let second = match self.complete(&messages, &mut attempts).await {
            Ok(second) => second,
            // The longer conversation itself was refused (e.g. 40003): the first answer is
            // still what there is to review.
            Err(ClassifyError::Permanent {
                status,
                code,
                message,
            }) => {
                return Err(ClassifyError::InvalidAnswer {
                    answer: first,
                    reason: format!(
                        "{reason}; the repair request was refused (HTTP {status}, code {code}: {message})"
                    ),
                });
            }
            Err(other) => return Err(other),
        };
        match answer::parse_answer(&second, &self.categories) {
            Ok(classification) => Ok(Classified {
                classification,
                model: self.model.clone(),
                attempts,
                repaired: true,
            }),
            Err(reason) => {
                warn!(%reason, "HCX answer invalid after the repair request");
                Err(ClassifyError::InvalidAnswer {
                    answer: second,
                    reason,
                })
            }
        }
    }

    /// One chat completion with retries; adds the HTTP requests made to `attempts`.
    async fn complete(
        &self,
        messages: &[Message],
        attempts: &mut u32,
    ) -> Result<String, ClassifyError> {
        let made = AtomicU32::new(0);
        // Seconds of a Retry-After too long to honour (0: none). Atomic, not a Cell, so that
        // `classify`'s future stays Send.
        let retry_after_too_long = AtomicU64::new(0);
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.base_backoff)
            .with_factor(2.0)
            .with_max_delay(MAX_BACKOFF)
            .with_max_times(usize::try_from(self.max_attempts - 1).unwrap_or(usize::MAX))
            .with_jitter();

        let result = (|| async {
            let attempt = made.fetch_add(1, Ordering::Relaxed) + 1;
            self.attempt(messages, attempt).await
        })
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(AttemptError::is_retryable)
        .adjust(|error, next| {
            // `next` is None once the attempts are used up.
            let wait = next?.min(MAX_BACKOFF);
            match error.retry_after() {
                Some(asked) if asked > MAX_RETRY_AFTER => {
                    retry_after_too_long.store(asked.as_secs().max(1), Ordering::Relaxed);
                    None
                }
                Some(asked) => Some(wait.max(asked)),
                None => Some(wait),
            }
        })
        .notify(|_, wait| debug!(?wait, "retrying the HCX request"))
        .await;

        let made = made.into_inner();
        *attempts += made;
        result.map_err(|error| match error {
            AttemptError::Retryable { reason, .. } => {
                let reason = match retry_after_too_long.into_inner() {
                    0 => format!("{reason} (gave up after {made} attempt(s))"),
                    asked => format!(
                        "{reason}; Retry-After {asked}s is above {}s, so left for redelivery after {made} attempt(s)",
                        MAX_RETRY_AFTER.as_secs()
                    ),
                };
                ClassifyError::Transient { reason }
            }
            AttemptError::Permanent {
                status,
                code,
                message,
            } => ClassifyError::Permanent {
                status,
                code,
                message,
            },
            AttemptError::AccountWide {
                status,
                code,
                message,
            } => ClassifyError::AccountWide {
                status,
                code,
                message,
            },
        })
    }

    /// One HTTP request, after taking a permit from the rate limiter.
    async fn attempt(&self, messages: &[Message], attempt: u32) -> Result<String, AttemptError> {
        let waited = self.rate.acquire().await;
        let request_id = Uuid::new_v4();
        self.sent.fetch_add(1, Ordering::Relaxed);
        debug!(%request_id, attempt, ?waited, "HCX request");

        let sent = self
            .http
            .post(&self.url)
            .header(reqwest::header::AUTHORIZATION, self.authorization.clone())
            .header(REQUEST_ID_HEADER, request_id.to_string())
            .json(&ChatRequest::new(messages))
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => return Err(self.transport_error(&error, request_id, attempt)),
        };
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers());
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(error) => return Err(self.transport_error(&error, request_id, attempt)),
        };
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let code = status_field(&body, "code");
        let message = status_field(&body, "message");

        if (200..300).contains(&status) {
            let content = body
                .pointer("/result/message/content")
                .and_then(Value::as_str);
            return match content {
                Some(content) => {
                    debug!(%request_id, status, %code, "HCX answered");
                    Ok(content.to_owned())
                }
                None => {
                    // Not the question's fault (a proxy's page, a cut body): worth a retry.
                    warn!(%request_id, status, %code, attempt, "HCX answer without a readable message");
                    Err(AttemptError::Retryable {
                        reason: format!(
                            "HTTP {status} without a readable answer ({} bytes, {})",
                            bytes.len(),
                            if body.is_null() {
                                "not JSON"
                            } else {
                                "no result.message.content"
                            }
                        ),
                        retry_after,
                    })
                }
            };
        }

        let class = classify_status(status, &code);
        warn!(%request_id, status, %code, attempt, ?class, "HCX request failed");
        Err(match class {
            StatusClass::Retry => AttemptError::Retryable {
                reason: format!("HTTP {status}, code {code}: {message}"),
                retry_after,
            },
            StatusClass::Permanent => AttemptError::Permanent {
                status,
                code,
                message,
            },
            StatusClass::AccountWide => AttemptError::AccountWide {
                status,
                code,
                message,
            },
        })
    }

    /// A request that got no (complete) answer: time-outs and connection errors are retried.
    fn transport_error(
        &self,
        error: &reqwest::Error,
        request_id: Uuid,
        attempt: u32,
    ) -> AttemptError {
        let reason = if error.is_timeout() {
            format!("no answer within {:?}", self.request_timeout)
        } else if error.is_connect() {
            format!("connection failed: {}", chain(error))
        } else {
            chain(error)
        };
        warn!(%request_id, attempt, %reason, "HCX request failed");
        AttemptError::Retryable {
            reason,
            retry_after: None,
        }
    }
}

#[cfg(test)]
mod tests;
