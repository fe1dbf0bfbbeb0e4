//! The client against the fake HCX server (`xtask::fake_hcx`), in real time with short
//! durations (a real socket does not follow tokio's paused clock). The rate limiter's own
//! tests, under paused time, are in `rate.rs`.

use std::time::{Duration, Instant};

use secrecy::SecretString;
use xtask::fake_hcx::{FakeHcx, Recorded, Reply, Script};

use super::*;

const SECRET: &str = "sk-very-secret-0123456789";

fn settings_for(fake: &FakeHcx) -> HcxSettings {
    HcxSettings {
        base_url: fake.base_url.clone(),
        model: "HCX-005".to_owned(),
        api_key: SecretString::from(fake.api_key.clone()),
        categories: ["Refund", "payment", "delivery", "other"]
            .into_iter()
            .map(String::from)
            .collect(),
        // Generous: a loaded CI machine must not turn a normal answer into a retry (the
        // tests count requests); the time-out test sets its own.
        request_timeout: Duration::from_secs(3),
        max_attempts: 5,
        base_backoff: Duration::from_millis(10),
        // Far above what the tests send: the limiter must not slow them down.
        requests_per_minute: 600_000,
        max_concurrency: 1,
    }
}

async fn start(script: Script) -> (FakeHcx, HcxClient) {
    let fake = FakeHcx::start(script.api_key(SECRET))
        .await
        .expect("fake HCX");
    let client = HcxClient::new(settings_for(&fake)).expect("client");
    (fake, client)
}

const QUESTION: &str = "환불 언제 되나요? 주문 취소했어요";

fn user_messages(record: &Recorded) -> Vec<(String, String)> {
    record.body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap_or("").to_owned(),
                m["content"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn normal_answer_is_classified_in_the_configured_spelling() {
    let (fake, client) = start(Script::new()).await;
    let got = client.classify(QUESTION).await.expect("classified");
    assert_eq!(
        got,
        Classified {
            classification: Classification {
                category: "Refund".to_owned(),
                keywords: vec!["환불".to_owned(), "언제".to_owned(), "되나요".to_owned()],
            },
            model: "HCX-005".to_owned(),
            attempts: 1,
            repaired: false,
        }
    );
    assert_eq!(client.requests_sent(), 1);

    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert!(request.auth_ok, "Authorization: Bearer <key>");
    assert_eq!(request.model, "HCX-005");
    assert_eq!(request.question, QUESTION);
    let id = request.request_id.as_deref().expect("request id header");
    let id = Uuid::parse_str(id).expect("a UUID");
    assert_eq!(id.get_version_num(), 4);
    let body = &request.body;
    assert_eq!(body["topP"], 0.8);
    assert_eq!(body["topK"], 0);
    assert_eq!(body["maxTokens"], 256);
    assert_eq!(body["temperature"], 0.1);
    assert_eq!(body["repetitionPenalty"], 1.1);
    assert_eq!(body["stop"], serde_json::json!([]));
    assert_eq!(body["includeAiFilters"], false);
    assert_eq!(body["seed"], 0);
    let messages = user_messages(request);
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].0, "system");
    assert!(
        messages[0]
            .1
            .contains(r#"["Refund","payment","delivery","other"]"#)
    );
    assert_eq!(messages[1], ("user".to_owned(), QUESTION.to_owned()));
    fake.stop().await;
}

#[tokio::test]
async fn fenced_json_is_accepted() {
    let (fake, client) = start(Script::new().then(Reply::FencedJson)).await;
    let got = client
        .classify("배송 조회가 안 돼요")
        .await
        .expect("classified");
    assert_eq!(got.classification.category, "delivery");
    assert_eq!(got.classification.keywords, ["배송", "조회가", "안"]);
    assert!(!got.repaired);
    assert_eq!(got.attempts, 1);
    fake.stop().await;
}

#[tokio::test]
async fn a_429_is_retried_with_a_fresh_request_id() {
    let (fake, client) = start(Script::new().then(Reply::Status429)).await;
    let got = client.classify(QUESTION).await.expect("classified");
    assert_eq!(got.attempts, 2);
    assert_eq!(fake.count_for(QUESTION), 2);
    assert_eq!(client.requests_sent(), 2);
    let ids: Vec<_> = fake.requests().into_iter().map(|r| r.request_id).collect();
    assert_ne!(ids[0], ids[1], "one id per HTTP request");
    fake.stop().await;
}

#[tokio::test]
async fn retry_after_is_the_minimum_wait() {
    let (fake, client) = start(Script::new().then(Reply::Status429RetryAfter(1))).await;
    let started = Instant::now();
    let got = client.classify(QUESTION).await.expect("classified");
    assert_eq!(got.attempts, 2);
    let requests = fake.requests();
    let gap = requests[1].at - requests[0].at;
    assert!(
        gap >= Duration::from_millis(990),
        "second request after {gap:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    fake.stop().await;
}

#[tokio::test]
async fn a_retry_after_beyond_the_cap_is_left_for_redelivery() {
    let (fake, client) = start(Script::new().then(Reply::Status429RetryAfter(3600))).await;
    let started = Instant::now();
    let error = client.classify(QUESTION).await.expect_err("transient");
    assert!(started.elapsed() < Duration::from_secs(1), "did not sleep");
    let ClassifyError::Transient { reason } = &error else {
        panic!("{error:?}");
    };
    assert!(reason.contains("Retry-After 3600s"), "{reason}");
    assert_eq!(fake.count_for(QUESTION), 1);
    fake.stop().await;
}

#[tokio::test]
async fn two_5xx_then_success() {
    let script = Script::new().replies([Reply::Status500, Reply::Status500]);
    let (fake, client) = start(script).await;
    let got = client.classify(QUESTION).await.expect("classified");
    assert_eq!(got.attempts, 3);
    assert_eq!(fake.count_for(QUESTION), 3);
    fake.stop().await;
}

#[tokio::test]
async fn a_slow_answer_past_the_time_out_is_retried() {
    let fake = FakeHcx::start(
        Script::new()
            .then(Reply::Slow(Duration::from_secs(5)))
            .api_key(SECRET),
    )
    .await
    .expect("fake HCX");
    let mut settings = settings_for(&fake);
    settings.request_timeout = Duration::from_millis(300);
    let client = HcxClient::new(settings).expect("client");
    let started = Instant::now();
    let got = client.classify(QUESTION).await.expect("classified");
    let took = started.elapsed();
    assert_eq!(got.attempts, 2);
    assert_eq!(fake.count_for(QUESTION), 2);
    assert!(
        took >= Duration::from_millis(300),
        "waited for the time-out: {took:?}"
    );
    assert!(
        took < Duration::from_secs(5),
        "did not wait for the slow answer: {took:?}"
    );
    fake.stop().await;
}

#[tokio::test]
async fn a_malformed_body_is_retried() {
    let (fake, client) = start(Script::new().then(Reply::MalformedJson)).await;
    let got = client.classify(QUESTION).await.expect("classified");
    assert_eq!(got.attempts, 2);
    assert!(!got.repaired, "a transport problem, not the model's answer");
    fake.stop().await;
}

#[tokio::test]
async fn exhausted_attempts_are_transient() {
    let (fake, client) = start(Script::new().default_reply(Reply::Status429)).await;
    let error = client.classify(QUESTION).await.expect_err("transient");
    let ClassifyError::Transient { reason } = &error else {
        panic!("{error:?}");
    };
    assert!(
        reason.contains("429") && reason.contains("42900"),
        "{reason}"
    );
    assert!(reason.contains("5 attempt"), "{reason}");
    assert_eq!(fake.count_for(QUESTION), 5);
    assert_eq!(client.requests_sent(), 5);
    assert_eq!(error.kind(), "transient");
    fake.stop().await;
}

#[tokio::test]
async fn connection_errors_are_transient() {
    // A port that was free a moment ago: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let fake = FakeHcx::start(Script::new()).await.expect("fake");
    let mut settings = settings_for(&fake);
    settings.base_url = format!("http://127.0.0.1:{port}");
    settings.max_attempts = 3;
    let client = HcxClient::new(settings).expect("client");
    let error = client.classify(QUESTION).await.expect_err("transient");
    assert!(
        matches!(&error, ClassifyError::Transient { reason } if reason.contains("3 attempt")),
        "{error:?}"
    );
    assert_eq!(client.requests_sent(), 3);
    fake.stop().await;
}

#[tokio::test]
async fn context_too_long_is_permanent_and_not_retried() {
    let (fake, client) = start(Script::new().then(Reply::TooLong40003)).await;
    let error = client.classify(QUESTION).await.expect_err("permanent");
    assert_eq!(
        error,
        ClassifyError::Permanent {
            status: 400,
            code: "40003".to_owned(),
            message: "Context length exceeded".to_owned(),
        }
    );
    assert_eq!(fake.count_for(QUESTION), 1);
    fake.stop().await;
}

#[tokio::test]
async fn a_wrong_key_is_account_wide_and_not_retried() {
    let fake = FakeHcx::start(Script::new().api_key(SECRET))
        .await
        .expect("fake");
    let mut settings = settings_for(&fake);
    settings.api_key = SecretString::from("sk-wrong-key");
    let client = HcxClient::new(settings).expect("client");
    let error = client.classify(QUESTION).await.expect_err("account-wide");
    assert!(
        matches!(&error, ClassifyError::AccountWide { status: 401, code, .. } if code == "40100"),
        "{error:?}"
    );
    assert_eq!(fake.count_for(QUESTION), 1);
    assert!(!fake.requests()[0].auth_ok);
    fake.stop().await;
}

#[tokio::test]
async fn unauthorized_and_quota_and_missing_model_are_account_wide() {
    let script = Script::new().replies([
        Reply::Unauthorized401,
        Reply::Quota,
        Reply::Error {
            status: 400,
            code: "40080".to_owned(),
        },
    ]);
    let (fake, client) = start(script).await;
    let expected = [(401, "40100"), (403, "40380"), (400, "40080")];
    for (i, (status, code)) in expected.into_iter().enumerate() {
        let question = format!("질문 {i}");
        let error = client.classify(&question).await.expect_err("account-wide");
        assert!(
            matches!(&error, ClassifyError::AccountWide { status: s, code: c, .. } if *s == status && c == code),
            "{error:?}"
        );
        assert_eq!(error.kind(), "account_wide");
        assert_eq!(fake.count_for(&question), 1, "not retried");
    }
    fake.stop().await;
}

#[tokio::test]
async fn a_non_json_answer_is_repaired_once() {
    let (fake, client) = start(Script::new().then(Reply::NonJsonContent)).await;
    let got = client.classify(QUESTION).await.expect("classified");
    assert!(got.repaired);
    assert_eq!(got.attempts, 2);
    assert_eq!(got.classification.category, "Refund");
    assert_eq!(fake.count_for(QUESTION), 2);

    let requests = fake.requests();
    let repair = user_messages(&requests[1]);
    assert_eq!(repair.len(), 4);
    assert_eq!(repair[1], ("user".to_owned(), QUESTION.to_owned()));
    assert_eq!(repair[2].0, "assistant");
    assert!(repair[2].1.starts_with("죄송합니다"), "{:?}", repair[2]);
    assert_eq!(repair[3].0, "user");
    assert!(repair[3].1.contains("not valid JSON"), "{:?}", repair[3]);
    fake.stop().await;
}

#[tokio::test]
async fn an_answer_invalid_twice_is_kept_for_review() {
    let (fake, client) = start(Script::new().default_reply(Reply::NonJsonContent)).await;
    let error = client.classify(QUESTION).await.expect_err("invalid");
    let ClassifyError::InvalidAnswer { answer, reason } = &error else {
        panic!("{error:?}");
    };
    assert!(answer.starts_with("죄송합니다"), "{answer}");
    assert!(reason.contains("not valid JSON"), "{reason}");
    assert_eq!(fake.count_for(QUESTION), 2, "one repair, no more");
    fake.stop().await;
}

#[tokio::test]
async fn a_category_outside_the_list_is_repaired() {
    let script = Script::new().then(Reply::Content(
        r#"{"category": "shipping", "keywords": ["배송"]}"#.to_owned(),
    ));
    let (fake, client) = start(script).await;
    let got = client.classify("배송 언제 와요").await.expect("classified");
    assert!(got.repaired);
    assert_eq!(got.classification.category, "delivery");
    let repair = user_messages(&fake.requests()[1]);
    assert!(
        repair[3].1.contains("\"shipping\" is not one of"),
        "{:?}",
        repair[3]
    );
    fake.stop().await;
}

/// Every HTTP request, retries and the repair included, takes a permit: at 600 a minute
/// (one per 100 ms) the fake sees its requests at least ~100 ms apart even though the
/// backoff is 1 ms.
#[tokio::test]
async fn every_request_takes_a_permit() {
    let script = Script::new().replies([Reply::Status429, Reply::NonJsonContent, Reply::Status500]);
    let fake = FakeHcx::start(script.api_key(SECRET)).await.expect("fake");
    let mut settings = settings_for(&fake);
    settings.requests_per_minute = 1_200;
    settings.max_concurrency = 2;
    settings.base_backoff = Duration::from_millis(1);
    let client = HcxClient::new(settings).expect("client");
    assert_eq!(client.requests_per_minute(), 600);
    let got = client.classify(QUESTION).await.expect("classified");
    assert_eq!(got.attempts, 4);
    assert!(got.repaired);
    let requests = fake.requests();
    assert_eq!(requests.len(), 4);
    for pair in requests.windows(2) {
        let gap = pair[1].at - pair[0].at;
        // Less than 100 ms of slack for the way from the permit to the server (without the
        // limiter the gaps would be a few milliseconds).
        assert!(gap >= Duration::from_millis(75), "gap {gap:?}");
    }
    fake.stop().await;
}

/// One shared client, questions in parallel, the fake's 429 ratio and per-question replies:
/// every question ends classified or refused on its own, and the 429s cost one retry each.
#[tokio::test]
async fn concurrent_questions_share_the_client() {
    let script = Script::new()
        .every_nth_429(3)
        .per_question(|question, earlier| match (question, earlier) {
            ("너무 긴 질문", _) => Reply::TooLong40003,
            (_, 0) if question.contains("결제") => Reply::Status500,
            _ => Reply::Normal,
        });
    let (fake, client) = start(script).await;
    let questions = [
        "환불 해주세요",
        "결제 오류가 나요",
        "배송 언제 와요",
        "비밀번호 바꾸고 싶어요",
        "너무 긴 질문",
        "그냥 궁금해서요",
    ];
    let tasks: Vec<_> = questions
        .into_iter()
        .map(|q| {
            let client = client.clone();
            tokio::spawn(async move { client.classify(q).await })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("task"));
    }
    for (question, result) in questions.iter().zip(&results) {
        match (*question, result) {
            ("너무 긴 질문", Err(ClassifyError::Permanent { code, .. })) => {
                assert_eq!(code, "40003");
            }
            (_, Ok(classified)) => assert!(!classified.repaired, "{question}"),
            (_, other) => panic!("{question}: {other:?}"),
        }
    }
    let categories: Vec<_> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|c| c.classification.category.as_str())
        .collect();
    assert_eq!(
        categories,
        ["Refund", "payment", "delivery", "other", "other"]
    );
    let requests = fake.requests();
    let throttled = requests
        .iter()
        .filter(|r| r.reply == Reply::Status429)
        .count();
    assert_eq!(throttled, requests.len() / 3, "every third request");
    // Each question's last request answered it; every 429 or 500 before cost one retry.
    // (Whether the 500 happens depends on the order: a 429 may come first for that question.)
    let retried = requests
        .iter()
        .filter(|r| matches!(r.reply, Reply::Status429 | Reply::Status500))
        .count();
    assert_eq!(requests.len(), questions.len() + retried);
    assert_eq!(client.requests_sent(), requests.len() as u64);
    fake.stop().await;
}

#[tokio::test]
async fn the_api_key_is_never_shown() {
    let fake = FakeHcx::start(
        Script::new()
            .api_key(SECRET)
            .default_reply(Reply::Status500),
    )
    .await
    .expect("fake");
    let mut settings = settings_for(&fake);
    settings.max_attempts = 1;
    let settings_debug = format!("{settings:?}");
    let client = HcxClient::new(settings.clone()).expect("client");
    let client_debug = format!("{client:?}");
    let transient = client.classify(QUESTION).await.expect_err("transient");
    settings.api_key = SecretString::from(format!("{SECRET}-wrong"));
    let wrong = HcxClient::new(settings).expect("client");
    let account = wrong.classify(QUESTION).await.expect_err("account-wide");
    let bad_key = HcxClient::new(HcxSettings::new(
        "https://example.com",
        "HCX-005",
        SecretString::from(format!("{SECRET}\nx")),
        vec![],
        60,
        1,
    ))
    .map(|_| ())
    .expect_err("a newline cannot go in a header");
    let shown = [
        settings_debug,
        client_debug,
        transient.to_string(),
        format!("{transient:?}"),
        account.to_string(),
        format!("{account:?}"),
        bad_key.to_string(),
        format!("{bad_key:?}"),
    ];
    for text in shown {
        assert!(!text.contains(SECRET), "key shown in {text}");
        assert!(!text.contains("very-secret"), "key shown in {text}");
    }
    fake.stop().await;
}

#[tokio::test]
async fn classify_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let (fake, client) = start(Script::new()).await;
    let future = client.classify(QUESTION);
    assert_send(&future);
    future.await.expect("classified");
    fake.stop().await;
}

#[test]
fn settings_are_checked() {
    let settings = |base_url: &str, model: &str, key: &str, categories: &[&str]| {
        HcxSettings::new(
            base_url,
            model,
            SecretString::from(key),
            categories.iter().map(|c| (*c).to_owned()).collect(),
            60,
            1,
        )
    };
    let ok = HcxClient::new(settings(
        "https://h.example/",
        " HCX-005 ",
        "k",
        &["Refund", " refund ", "payment"],
    ))
    .expect("valid");
    assert_eq!(
        ok.inner.url,
        "https://h.example/v3/chat-completions/HCX-005"
    );
    assert_eq!(
        ok.categories(),
        ["Refund", "payment", "other"],
        "deduplicated, other added"
    );
    assert_eq!(ok.requests_per_minute(), 60);

    for (base_url, model, key, categories) in [
        ("h.example", "HCX-005", "k", &["other"][..]),
        ("https://h.example", "", "k", &["other"][..]),
        ("https://h.example", "a/b", "k", &["other"][..]),
        ("https://h.example", "HCX-005", " ", &["other"][..]),
        ("https://h.example", "HCX-005", "k", &["other", " "][..]),
    ] {
        let result = HcxClient::new(settings(base_url, model, key, categories));
        assert!(
            matches!(result, Err(HcxError::Settings(_))),
            "{base_url} {model} {categories:?}"
        );
    }
}

#[test]
fn status_table() {
    use StatusClass::*;
    for (status, code, expected) in [
        (429, "42900", Retry),
        (429, "42901", Retry),
        (408, "40800", Retry),
        (500, "50000", Retry),
        (503, "", Retry),
        (401, "40100", AccountWide),
        (403, "40300", AccountWide),
        (403, "40380", AccountWide),
        (404, "40400", AccountWide),
        (400, "40080", AccountWide),
        (400, "40082", AccountWide),
        (302, "", AccountWide),
        (400, "40000", Permanent),
        (400, "40001", Permanent),
        (400, "40003", Permanent),
        (400, "40005", Permanent),
        (413, "", Permanent),
    ] {
        assert_eq!(classify_status(status, code), expected, "{status} {code}");
    }
}
