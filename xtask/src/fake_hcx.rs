//! A fake HyperCLOVA X (CLOVA Studio chat completions v3) server for the keyword worker's
//! tests and benchmark.
//!
//! It listens on `127.0.0.1:0` and answers `POST /v3/chat-completions/{model}` in the v3 shape
//! (`{"status":{"code","message"},"result":{"message":{"role","content"},...}}`), chosen per
//! request by a [`Script`]. It is deliberately independent of the client (`keyword-worker`
//! is not a dependency): it only knows the wire format, so a test against it checks the
//! client's reading of the API, not the client against itself.
//!
//! Every request is [recorded](Recorded) (arrival time on tokio's clock, the
//! `X-NCP-CLOVASTUDIO-REQUEST-ID` header, whether the `Authorization: Bearer <key>` header
//! matched the configured key, the question, the reply given), so tests can count attempts
//! and check spacing.
//!
//! # Normal answers
//! Deterministic and plausible: the category comes from a tiny built-in word map
//! (`refund`, `payment`, `delivery`, `account`), used only when the system prompt mentions
//! that category, otherwise `other`; the keywords are the question's first three words
//! (whitespace split, surrounding punctuation trimmed).
//!
//! # Error replies (status, `status.code`)
//! | [`Reply`] | HTTP | code |
//! |---|---|---|
//! | `Status429` | 429 | 42900 |
//! | `Status429RetryAfter(s)` | 429 + `Retry-After: s` | 42900 |
//! | `Status500` | 500 | 50000 |
//! | `TooLong40003` | 400 | 40003 |
//! | `Unauthorized401` (or a wrong key) | 401 | 40100 |
//! | `Quota` | 403 | 40380 (CLOVA's "you have used all your tokens") |
//! | `MalformedJson` | 200, body not JSON | — |
//! | `NonJsonContent` | 200, `content` not JSON | 20000 |

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The API key the fake accepts unless [`Script::api_key`] says otherwise.
pub const DEFAULT_API_KEY: &str = "fake-hcx-key";

/// The header carrying the caller's request id.
pub const REQUEST_ID_HEADER: &str = "x-ncp-clovastudio-request-id";

/// What the fake answers to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// 200 with a valid classification (see the module docs).
    Normal,
    /// 200 with the valid classification wrapped in a ```json fence.
    FencedJson,
    /// 200 with this exact `content`.
    Content(String),
    /// 429 / 42900 without `Retry-After`.
    Status429,
    /// 429 / 42900 with `Retry-After: <seconds>`.
    Status429RetryAfter(u64),
    /// 500 / 50000.
    Status500,
    /// Sleep this long (tokio time), then answer [`Reply::Normal`].
    Slow(Duration),
    /// 200 whose body is not JSON (a proxy's HTML page, a truncated body).
    MalformedJson,
    /// 200 in the v3 shape whose `content` is prose, not the JSON asked for.
    NonJsonContent,
    /// 400 / 40003 (context length exceeded).
    TooLong40003,
    /// 401 / 40100 (what a wrong key gets too).
    Unauthorized401,
    /// 403 / 40380: the account's token quota is used up (account-wide).
    Quota,
    /// Any other error: HTTP status and `status.code`.
    Error {
        /// The HTTP status.
        status: u16,
        /// The CLOVA `status.code`.
        code: String,
    },
}

type PerQuestion = dyn Fn(&str, usize) -> Reply + Send + Sync;

/// How the fake chooses each reply, checked in this order:
/// 1. the queue ([`Script::then`]), one reply per request, in order;
/// 2. the 429 ratio ([`Script::every_nth_429`]): the n-th, 2n-th, … request gets a 429;
/// 3. the per-question closure ([`Script::per_question`]), given the question and how many
///    requests for that question came before (0 for the first);
/// 4. the default ([`Script::default_reply`], [`Reply::Normal`] unless set).
///
/// A request with a wrong `Authorization` header gets 401 without consuming any of these.
#[derive(Clone)]
pub struct Script {
    queue: VecDeque<Reply>,
    every_nth_429: Option<usize>,
    per_question: Option<Arc<PerQuestion>>,
    default: Reply,
    api_key: String,
    latency: Duration,
}

impl Default for Script {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Script")
            .field("queue", &self.queue)
            .field("every_nth_429", &self.every_nth_429)
            .field("per_question", &self.per_question.is_some())
            .field("default", &self.default)
            .field("latency", &self.latency)
            .finish_non_exhaustive()
    }
}

impl Script {
    /// Normal answers to everything, key [`DEFAULT_API_KEY`], no added latency.
    pub fn new() -> Self {
        Self {
            queue: VecDeque::new(),
            every_nth_429: None,
            per_question: None,
            default: Reply::Normal,
            api_key: DEFAULT_API_KEY.to_owned(),
            latency: Duration::ZERO,
        }
    }

    /// Queues `reply` for the next request not yet covered by the queue.
    #[must_use]
    pub fn then(mut self, reply: Reply) -> Self {
        self.queue.push_back(reply);
        self
    }

    /// Queues several replies, in order.
    #[must_use]
    pub fn replies(mut self, replies: impl IntoIterator<Item = Reply>) -> Self {
        self.queue.extend(replies);
        self
    }

    /// Every `n`-th request (1-based: requests n, 2n, …) gets a 429; `n` = 0 turns it off.
    /// Deterministic, for the benchmark.
    #[must_use]
    pub fn every_nth_429(mut self, n: usize) -> Self {
        self.every_nth_429 = (n > 0).then_some(n);
        self
    }

    /// Chooses the reply from the question and the number of earlier requests for it.
    #[must_use]
    pub fn per_question(
        mut self,
        f: impl Fn(&str, usize) -> Reply + Send + Sync + 'static,
    ) -> Self {
        self.per_question = Some(Arc::new(f));
        self
    }

    /// The reply once nothing else applies.
    #[must_use]
    pub fn default_reply(mut self, reply: Reply) -> Self {
        self.default = reply;
        self
    }

    /// The key the `Authorization: Bearer` header must carry.
    #[must_use]
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = key.into();
        self
    }

    /// A delay added before every answer (tokio time), like a real model's latency.
    #[must_use]
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }
}

/// One request the fake saw.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// When it arrived (tokio's clock).
    pub at: Instant,
    /// The `X-NCP-CLOVASTUDIO-REQUEST-ID` header, if any.
    pub request_id: Option<String>,
    /// Whether `Authorization` was exactly `Bearer <configured key>`.
    pub auth_ok: bool,
    /// The model from the path.
    pub model: String,
    /// The first user message (the question; a repair request repeats it), or "".
    pub question: String,
    /// How many messages the conversation had (2 for a first request, 4 for a repair).
    pub messages: usize,
    /// The request body (`Value::Null` when it was not JSON).
    pub body: Value,
    /// The reply given.
    pub reply: Reply,
}

struct Inner {
    script: Script,
    seen: usize,
    records: Vec<Recorded>,
}

struct Shared {
    inner: Mutex<Inner>,
    api_key: String,
    latency: Duration,
}

impl Shared {
    /// The lock is never held across an await, so a poisoned one only means a panicking
    /// test thread; its data is still consistent enough to read.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running fake HCX server.
pub struct FakeHcx {
    /// `http://127.0.0.1:<port>`: the client's base URL.
    pub base_url: String,
    /// The key it accepts.
    pub api_key: String,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FakeHcx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeHcx")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl FakeHcx {
    /// Starts the server on a random loopback port.
    pub async fn start(script: Script) -> anyhow::Result<Self> {
        let api_key = script.api_key.clone();
        let shared = Arc::new(Shared {
            api_key: api_key.clone(),
            latency: script.latency,
            inner: Mutex::new(Inner {
                script,
                seen: 0,
                records: Vec::new(),
            }),
        });
        let app = Router::new()
            .route("/v3/chat-completions/{model}", post(chat))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .context("binding the fake HCX server")?;
        let addr = listener
            .local_addr()
            .context("the fake HCX server's address")?;
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    // A dropped sender (FakeHcx dropped without stop) also shuts it down.
                    let _ = rx.await;
                })
                .await;
            if let Err(error) = served {
                eprintln!("fake HCX server: {error}");
            }
        });
        Ok(Self {
            base_url: format!("http://{addr}"),
            api_key,
            shared,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// Every request seen so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().records.clone()
    }

    /// How many requests carried this question (first requests and repairs alike).
    pub fn count_for(&self, question: &str) -> usize {
        self.shared
            .lock()
            .records
            .iter()
            .filter(|r| r.question == question)
            .count()
    }

    /// Stops the server (gracefully, then forcibly after 2 s: a client may hold a
    /// keep-alive connection open).
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(2), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for FakeHcx {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// `POST /v3/chat-completions/{model}`.
async fn chat(
    State(shared): State<Arc<Shared>>,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    let request_id = headers
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let expected = format!("Bearer {}", shared.api_key);
    let auth_ok = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == expected);
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let text_of = |role: &str| {
        messages
            .iter()
            .find(|m| m.get("role").and_then(Value::as_str) == Some(role))
            .and_then(|m| m.get("content"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let system = text_of("system");
    let question = text_of("user");

    let reply = {
        let mut inner = shared.lock();
        inner.seen += 1;
        let reply = if !auth_ok {
            Reply::Unauthorized401
        } else if body.is_null() || messages.is_empty() {
            Reply::Error {
                status: 400,
                code: "40001".to_owned(),
            }
        } else {
            let earlier = inner
                .records
                .iter()
                .filter(|r| r.question == question)
                .count();
            let seen = inner.seen;
            let script = &mut inner.script;
            if let Some(reply) = script.queue.pop_front() {
                reply
            } else if script.every_nth_429.is_some_and(|n| seen % n == 0) {
                Reply::Status429
            } else if let Some(f) = &script.per_question {
                f(&question, earlier)
            } else {
                script.default.clone()
            }
        };
        inner.records.push(Recorded {
            at,
            request_id,
            auth_ok,
            model,
            question: question.clone(),
            messages: messages.len(),
            body: body.clone(),
            reply: reply.clone(),
        });
        reply
    };

    if !shared.latency.is_zero() {
        tokio::time::sleep(shared.latency).await;
    }
    render(&reply, &system, &question).await
}

async fn render(reply: &Reply, system: &str, question: &str) -> Response {
    match reply {
        Reply::Normal => success(&normal_content(system, question)),
        Reply::FencedJson => success(&format!(
            "```json\n{}\n```",
            normal_content(system, question)
        )),
        Reply::Content(content) => success(content),
        Reply::Slow(delay) => {
            tokio::time::sleep(*delay).await;
            success(&normal_content(system, question))
        }
        Reply::Status429 => error(429, "42900", "Too many requests - rate exceeded"),
        Reply::Status429RetryAfter(seconds) => {
            let mut response = error(429, "42900", "Too many requests - rate exceeded");
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*seconds));
            response
        }
        Reply::Status500 => error(500, "50000", "Internal server error"),
        Reply::MalformedJson => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body>upstream answered garbage</body></html>",
        )
            .into_response(),
        Reply::NonJsonContent => {
            success("죄송합니다. 질문을 분류할 수 없습니다. 다른 질문을 입력해 주세요.")
        }
        Reply::TooLong40003 => error(400, "40003", "Context length exceeded"),
        Reply::Unauthorized401 => error(401, "40100", "Unauthorized"),
        Reply::Quota => error(403, "40380", "You have used all your tokens."),
        Reply::Error { status, code } => error(*status, code, "Fake error"),
    }
}

fn error(status: u16, code: &str, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        axum::Json(json!({ "status": { "code": code, "message": message } })),
    )
        .into_response()
}

fn success(content: &str) -> Response {
    let completion = content.chars().count() / 2 + 1;
    axum::Json(json!({
        "status": { "code": "20000", "message": "OK" },
        "result": {
            "message": { "role": "assistant", "content": content },
            "finishReason": "stop",
            "created": 1_765_000_000_000_u64,
            "seed": 1_234_567_u64,
            "usage": {
                "promptTokens": 120,
                "completionTokens": completion,
                "totalTokens": 120 + completion,
            },
        },
    }))
    .into_response()
}

/// Words that send a question to a category, when the system prompt offers that category.
const CATEGORY_WORDS: &[(&str, &[&str])] = &[
    ("refund", &["환불", "취소", "반품", "refund", "cancel"]),
    (
        "payment",
        &["결제", "카드", "요금", "payment", "pay", "card"],
    ),
    ("delivery", &["배송", "택배", "delivery", "shipping"]),
    (
        "account",
        &["로그인", "비밀번호", "계정", "login", "password", "account"],
    ),
];

/// The deterministic normal answer: `{"category": ..., "keywords": [...]}`.
pub fn normal_content(system: &str, question: &str) -> String {
    let lower = question.to_lowercase();
    let system = system.to_lowercase();
    let category = CATEGORY_WORDS
        .iter()
        .find(|(category, words)| {
            system.contains(&format!("\"{category}\"")) && words.iter().any(|w| lower.contains(w))
        })
        .map_or("other", |(category, _)| category);
    let keywords: Vec<&str> = question
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| c.is_ascii_punctuation() || c == '？'))
        .filter(|w| !w.is_empty())
        .take(3)
        .collect();
    json!({ "category": category, "keywords": keywords }).to_string()
}
