//! Keyword batches (source system 002): keyword-batch against generated chats in MariaDB /
//! MySQL and the work queue in moto's SQS, keyword-worker with the built-in classifier and
//! with HCX played by the fake server; the original's two queries run beside them.

use std::collections::{BTreeMap, HashMap, HashSet};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{NaiveDate, TimeDelta, TimeZone, Utc};
use common::{
    chat::{Normalization, QuestionHash, WorkMessage, normalize},
    error::FunctionError,
    job::Deadline,
    sqs::Producer,
};
use keyword_batch::BatchSettings;
use keyword_worker::{
    Classifier, Worker, WorkerSettings,
    hcx::{HcxClient, HcxSettings},
};
use serde_json::{Value, json};
use xtask::{
    chats::{self, Chat, ChatSpec},
    fake_hcx::{FakeHcx, Reply, Script},
};

use crate::support::{TestDb, sqs};

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, d).expect("date")
}

/// A database with chats, a work queue and the batch's settings.
struct Kw {
    db: TestDb,
    /// The batch's pool: a streaming read and a writer per date, two runs at once.
    pool: sqlx::MySqlPool,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    producer: Producer<aws_sdk_sqs::Client>,
    settings: BatchSettings,
}

impl Kw {
    async fn new(normalization: Normalization) -> Self {
        let db = TestDb::new().await;
        let pool = sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(10)
            .connect_with(db.settings.connect_options())
            .await
            .expect("pool");
        let sqs = sqs().await;
        let queue_url = sqs
            .create_queue()
            .queue_name(format!("kw-{}", uuid::Uuid::new_v4().simple()))
            .send()
            .await
            .expect("create queue")
            .queue_url
            .expect("url");
        let mut producer = Producer::new(sqs.clone(), queue_url.clone());
        producer.in_flight = 4;
        let settings = BatchSettings {
            normalization,
            ..BatchSettings::default()
        };
        Self {
            db,
            pool,
            sqs,
            queue_url,
            producer,
            settings,
        }
    }

    async fn insert(&self, chats: impl Iterator<Item = Chat>) -> u64 {
        chats::insert(&self.db.pool, chats).await.expect("chats")
    }

    async fn insert_texts(&self, date: NaiveDate, texts: &[&str]) {
        let chats = texts.iter().enumerate().map(|(i, text)| Chat {
            text: (*text).to_owned(),
            created_at: date.and_hms_opt(9, 0, 0).expect("time")
                + TimeDelta::seconds(i64::try_from(i).expect("small")),
        });
        self.insert(chats).await;
    }

    async fn run_with(&self, payload: Value, deadline: Deadline) -> Result<Value, FunctionError> {
        let now = Utc
            .with_ymd_and_hms(2025, 6, 20, 3, 0, 0)
            .single()
            .expect("now");
        keyword_batch::handle(
            &self.pool,
            &self.producer,
            &self.settings,
            payload,
            now,
            deadline,
        )
        .await
    }

    async fn run(&self, payload: Value) -> Value {
        self.run_with(payload, Deadline::none()).await.expect("run")
    }

    /// Everything the queue holds, deleted from it, as the worker would receive it.
    async fn drain(&self) -> Vec<SqsMessage> {
        crate::support::take_all(&self.sqs, &self.queue_url)
            .await
            .into_iter()
            .map(|m| {
                let mut message = SqsMessage::default();
                message.message_id = m.message_id;
                message.body = m.body;
                message
                    .attributes
                    .insert("ApproximateReceiveCount".into(), "1".into());
                message
            })
            .collect()
    }

    fn builtin_worker(&self) -> Worker {
        Worker {
            pool: self.db.pool.clone(),
            classifier: Classifier::Builtin,
            settings: WorkerSettings::default(),
        }
    }

    async fn scalar(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&self.db.pool)
            .await
            .expect(sql)
    }
}

async fn work(worker: &Worker, messages: Vec<SqsMessage>) -> SqsBatchResponse {
    let mut event = SqsEvent::default();
    event.records = messages;
    worker.handle(event, Deadline::none()).await
}

fn questions(messages: &[SqsMessage]) -> Vec<common::chat::WorkItem> {
    messages
        .iter()
        .flat_map(|m| {
            serde_json::from_str::<WorkMessage>(m.body.as_deref().unwrap_or_default())
                .expect("work message")
                .questions
        })
        .collect()
}

fn dates_of(report: &Value) -> BTreeMap<String, Value> {
    report["dates"]
        .as_array()
        .expect("dates")
        .iter()
        .map(|d| (d["date"].as_str().expect("date").to_owned(), d.clone()))
        .collect()
}

fn generated(days: u32, per_day: u32, seed: u64) -> ChatSpec {
    ChatSpec::new(day(11), days, per_day, seed)
}

#[tokio::test]
async fn without_normalisation_the_counts_equal_the_original_queries_day_by_day() {
    let kw = Kw::new(Normalization::Off).await;
    // Days 11–13 generated (repeats, case / white-space / NFD variants), day 14 without
    // chats, day 15 with one chat.
    kw.insert(chats::chats(&generated(3, 1500, 3))).await;
    kw.insert_texts(day(15), &["Where is gate 3?"]).await;

    let check = kw
        .run(json!({"mode": "check", "from": "2025-06-11", "to": "2025-06-15"}))
        .await;
    let per_date = dates_of(&check["check"]);
    let mut total_unique = 0;
    for d in 11..=15 {
        let original = chats::original_unique(&kw.db.pool, day(d), day(d))
            .await
            .expect("original unique");
        let figures = &per_date[&day(d).to_string()];
        assert_eq!(
            figures["unique"].as_u64(),
            Some(original.len() as u64),
            "unique questions of {}",
            day(d)
        );
        let chats: i64 = original.iter().map(|(_, n)| n).sum();
        assert_eq!(
            figures["chats"].as_i64(),
            Some(chats),
            "chats of {}",
            day(d)
        );
        assert_eq!(figures["missing"], figures["unique"]);
        total_unique += original.len() as u64;
    }
    assert_eq!(per_date[&day(14).to_string()]["unique"], 0);
    assert_eq!(per_date[&day(14).to_string()]["rate_percent"], 100.0);
    assert_eq!(check["check"]["total_unique"].as_u64(), Some(total_unique));

    // Half of day 11 and all of day 12 processed: the missing figures equal the original's
    // missing query (with its GROUP BY) row for row.
    let sent = kw
        .run(json!({"mode": "basic", "from": "2025-06-11", "to": "2025-06-12"}))
        .await;
    assert!(sent["basic"]["sent"].as_u64().expect("sent") > 0);
    let messages = kw.drain().await;
    let worker = kw.builtin_worker();
    let keep: Vec<SqsMessage> = messages
        .into_iter()
        .enumerate()
        .filter(|(i, m)| {
            let on_11 = questions(std::slice::from_ref(m))[0].date == day(11);
            !on_11 || i % 2 == 0
        })
        .map(|(_, m)| m)
        .collect();
    let response = work(&worker, keep).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let original_missing = chats::original_missing(&kw.db.pool, day(11), day(15))
        .await
        .expect("original missing");
    let mut by_date: HashMap<NaiveDate, u64> = HashMap::new();
    for (date, _, _) in &original_missing {
        *by_date.entry(*date).or_default() += 1;
    }
    let check = kw
        .run(json!({"mode": "check", "from": "2025-06-11", "to": "2025-06-15"}))
        .await;
    let per_date = dates_of(&check["check"]);
    for d in 11..=15 {
        assert_eq!(
            per_date[&day(d).to_string()]["missing"].as_u64(),
            Some(by_date.get(&day(d)).copied().unwrap_or(0)),
            "missing on {}",
            day(d)
        );
    }
    assert_eq!(per_date[&day(12).to_string()]["missing"], 0);
    assert!(per_date[&day(11).to_string()]["missing"].as_u64() > Some(0));
    assert_eq!(
        check["check"]["missing"].as_u64(),
        Some(original_missing.len() as u64)
    );
}

#[tokio::test]
async fn with_normalisation_near_identical_texts_are_one_question() {
    let kw = Kw::new(Normalization::On).await;
    let spec = generated(2, 2000, 5);
    let generated: Vec<Chat> = chats::chats(&spec).collect();
    kw.insert(generated.clone().into_iter()).await;
    kw.insert_texts(
        day(13),
        &[
            "교통카드 어디서 충전하나요?",
            "  교통카드   어디서 충전하나요?\n",
            "\u{1100}\u{116d}\u{1110}\u{1169}\u{11bc}카드 어디서 충전하나요?",
            "How do I pay?",
            "how do i PAY?",
            "   ",
            "교통카드 어디서 충전하나요",
        ],
    )
    .await;
    // An independent count: the generated texts through the documented rule.
    let mut expected: BTreeMap<NaiveDate, HashSet<String>> = BTreeMap::new();
    for chat in &generated {
        let q = normalize(&chat.text);
        if !q.is_empty() {
            expected
                .entry(chat.created_at.date())
                .or_default()
                .insert(q);
        }
    }
    let check = kw
        .run(json!({"mode": "check", "from": "2025-06-11", "to": "2025-06-13"}))
        .await;
    let per_date = dates_of(&check["check"]);
    for (date, questions) in &expected {
        assert_eq!(
            per_date[&date.to_string()]["unique"].as_u64(),
            Some(questions.len() as u64),
            "{date}"
        );
    }
    let d13 = &per_date[&day(13).to_string()];
    assert_eq!(d13["unique"], 3, "{d13}");
    assert_eq!(d13["chats"], 7);
    assert_eq!(d13["blank_chats"], 1);

    // The message carries the summed count and the normalised text.
    kw.run(json!({"mode": "basic", "from": "2025-06-13", "to": "2025-06-13"}))
        .await;
    let items = questions(&kw.drain().await);
    let counts: BTreeMap<String, u32> = items
        .iter()
        .map(|i| (i.text.clone(), i.total_count))
        .collect();
    assert_eq!(
        counts,
        BTreeMap::from([
            ("how do i pay?".to_owned(), 2),
            ("교통카드 어디서 충전하나요".to_owned(), 1),
            ("교통카드 어디서 충전하나요?".to_owned(), 3),
        ])
    );
}

#[tokio::test]
async fn every_mode_runs_end_to_end_and_twice_sends_nothing_twice() {
    let kw = Kw::new(Normalization::On).await;
    kw.insert(chats::chats(&generated(3, 400, 11))).await;
    let range = json!({"from": "2025-06-11", "to": "2025-06-13"});
    let with_mode = |mode: &str| {
        let mut payload = range.clone();
        payload["mode"] = mode.into();
        payload
    };

    let first = kw.run(with_mode("check")).await;
    let unique = first["check"]["total_unique"].as_u64().expect("unique");
    assert!(unique > 600, "{first}");
    assert_eq!(first["check"]["processed"], 0);
    assert_eq!(first["check"]["rate_percent"], 0.0);

    let basic = kw.run(with_mode("basic")).await;
    assert_eq!(basic["basic"]["sent"].as_u64(), Some(unique), "{basic}");
    assert_eq!(basic["complete"], true);
    let again = kw.run(with_mode("basic")).await;
    assert_eq!(again["basic"]["sent"], 0, "{again}");
    assert_eq!(again["basic"]["skipped_queued"].as_u64(), Some(unique));
    let missing = kw.run(with_mode("missing")).await;
    assert_eq!(
        missing["missing"]["sent"], 0,
        "queued questions are not missing ones to send"
    );

    let queued = kw.run(with_mode("check")).await;
    assert_eq!(queued["check"]["queued"].as_u64(), Some(unique));

    // The worker, with a redelivery of every message: one row per question.
    let messages = kw.drain().await;
    let items = questions(&messages);
    assert_eq!(items.len() as u64, unique);
    let distinct: HashSet<(NaiveDate, QuestionHash)> =
        items.iter().map(|i| (i.date, i.hash)).collect();
    assert_eq!(distinct.len(), items.len(), "a question was sent twice");
    let worker = kw.builtin_worker();
    assert!(
        work(&worker, messages.clone())
            .await
            .batch_item_failures
            .is_empty()
    );
    assert!(work(&worker, messages).await.batch_item_failures.is_empty());
    assert_eq!(kw.db.count("admin_chat_keywords").await as u64, unique);
    assert_eq!(
        kw.scalar("SELECT COUNT(*) FROM keyword_work WHERE status = 'done'")
            .await as u64,
        unique
    );

    let complete = kw.run(with_mode("complete")).await;
    assert_eq!(complete["basic"]["sent"], 0, "{complete}");
    assert_eq!(complete["missing"]["sent"], 0);
    assert_eq!(complete["final_check"]["rate_percent"], 100.0);
    assert_eq!(complete["verification"]["verified"], true);
    assert!(kw.drain().await.is_empty());

    // Every keyword row: the chat's date, a category, keywords as a JSON array.
    let bad_rows = kw
        .scalar(
            "SELECT COUNT(*) FROM admin_chat_keywords WHERE status <> 'ok' OR category IS NULL \
             OR JSON_TYPE(keywords) <> 'ARRAY' OR created_at NOT BETWEEN '2025-06-11' AND '2025-06-13' \
             OR provider <> 'builtin'",
        )
        .await;
    assert_eq!(bad_rows, 0);
}

#[tokio::test]
async fn complete_says_what_is_still_missing_and_why() {
    let kw = Kw::new(Normalization::On).await;
    kw.insert_texts(
        day(11),
        &[
            "환불 받고 싶어요",
            "앱 로그인이 안돼요",
            "버스 노선 알려주세요",
        ],
    )
    .await;
    let complete = kw
        .run(json!({"mode": "complete", "from": "2025-06-11", "to": "2025-06-11"}))
        .await;
    assert_eq!(complete["basic"]["sent"], 3, "{complete}");
    assert_eq!(complete["verification"]["verified"], false);
    let message = complete["verification"]["message"]
        .as_str()
        .expect("message");
    assert!(message.contains("3 still queued"), "{message}");

    // One refused for good by the classifier (recorded), the others classified.
    let messages = kw.drain().await;
    let fake = FakeHcx::start(Script::new().per_question(|q, _| {
        if q.contains("버스") {
            Reply::TooLong40003
        } else {
            Reply::Normal
        }
    }))
    .await
    .expect("fake");
    let worker = hcx_worker(&kw, &fake);
    assert!(work(&worker, messages).await.batch_item_failures.is_empty());
    let complete = kw
        .run(json!({"mode": "complete", "from": "2025-06-11", "to": "2025-06-11"}))
        .await;
    assert_eq!(complete["final_check"]["failed"], 1, "{complete}");
    assert_eq!(
        complete["final_check"]["failed_reasons"]["context_too_long"],
        1
    );
    let message = complete["verification"]["message"]
        .as_str()
        .expect("message");
    assert!(
        message.contains("1 failed (context_too_long 1"),
        "{message}"
    );
    assert_eq!(
        complete["missing"]["sent"], 0,
        "failed questions are reported, not re-sent"
    );
    fake.stop().await;
}

#[tokio::test]
async fn missing_takes_the_most_asked_first_within_its_limit_and_resends_lost_ones() {
    let kw = Kw::new(Normalization::On).await;
    let mut texts = Vec::new();
    for (i, n) in [(1, 5), (2, 4), (3, 3), (4, 2), (5, 1), (6, 1)] {
        for _ in 0..n {
            texts.push(format!("질문 {i}번"));
        }
    }
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    kw.insert_texts(day(11), &texts).await;
    let payload = |limit: u32| json!({"mode": "missing", "from": "2025-06-11", "to": "2025-06-11", "limit": limit});

    let first = kw.run(payload(2)).await;
    assert_eq!(first["missing"]["sent"], 2, "{first}");
    let sent: Vec<String> = questions(&kw.drain().await)
        .into_iter()
        .map(|i| i.text)
        .collect();
    assert_eq!(
        sent.iter().collect::<HashSet<_>>(),
        ["질문 1번".to_owned(), "질문 2번".to_owned()]
            .iter()
            .collect::<HashSet<_>>()
    );
    let second = kw.run(payload(10)).await;
    assert_eq!(second["missing"]["sent"], 4, "{second}");
    assert_eq!(second["missing"]["skipped_queued"], 2);
    kw.drain().await;

    // The two first messages were lost (deleted above without a worker): once older than
    // the re-queue age they are sent again; the others are still fresh.
    sqlx::query(
        "UPDATE keyword_work SET queued_at = queued_at - INTERVAL 7 HOUR \
         WHERE query_hash IN (?, ?)",
    )
    .bind(QuestionHash::of("질문 1번").0.as_slice())
    .bind(QuestionHash::of("질문 2번").0.as_slice())
    .execute(&kw.db.pool)
    .await
    .expect("age");
    let basic = kw
        .run(json!({"mode": "basic", "from": "2025-06-11", "to": "2025-06-11"}))
        .await;
    assert_eq!(
        basic["basic"]["sent"], 0,
        "basic sends only questions never sent: {basic}"
    );
    let third = kw.run(payload(10)).await;
    assert_eq!(third["missing"]["sent"], 2, "{third}");
    assert_eq!(
        kw.scalar("SELECT CAST(MAX(sends) AS SIGNED) FROM keyword_work")
            .await,
        2,
        "the lost ones were sent a second time"
    );
}

#[tokio::test]
async fn bad_payloads_are_refused_naming_the_field_and_do_nothing() {
    let kw = Kw::new(Normalization::On).await;
    kw.insert_texts(day(11), &["환불 문의"]).await;
    for (payload, field) in [
        (
            json!({"mode": "fast", "from": "2025-06-11", "to": "2025-06-11"}),
            "mode",
        ),
        (
            json!({"mode": "basic", "from": "2025-06-31", "to": "2025-07-01"}),
            "from",
        ),
        (
            json!({"mode": "basic", "from": "11/06/2025", "to": "2025-06-12"}),
            "from",
        ),
        (
            json!({"mode": "basic", "from": "2025-06-12", "to": "2025-06-11"}),
            "from",
        ),
        (
            json!({"mode": "basic", "from": "2025-01-01", "to": "2025-06-11"}),
            "to",
        ),
        (
            json!({"mode": "missing", "from": "2025-06-11", "to": "2025-06-11", "limit": -1}),
            "limit",
        ),
        (
            json!({"mode": "missing", "from": "2025-06-11", "to": "2025-06-11", "limit": "10"}),
            "limit",
        ),
        (
            json!({"mode": "check", "from": "2025-06-11", "to": "2025-06-11", "limit": 5}),
            "limit",
        ),
        (json!({"mode": "basic", "from": "2025-06-11"}), "to"),
        (
            json!({"mode": "basic", "from": "2025-06-11", "to": "2025-06-11", "dry": true}),
            "dry",
        ),
        (json!(["basic"]), "payload"),
    ] {
        let error = kw
            .run_with(payload.clone(), Deadline::none())
            .await
            .expect_err("refused");
        let FunctionError::InvalidEvent(reason) = &error else {
            panic!("{payload}: not an invalid event: {error}");
        };
        assert!(
            reason.starts_with(&format!("{field}:")),
            "{payload}: {reason}"
        );
    }
    assert_eq!(kw.db.count("keyword_work").await, 0);
    assert!(kw.drain().await.is_empty());
}

#[tokio::test]
async fn the_schedule_runs_complete_for_yesterday_in_the_chat_zone() {
    let kw = Kw::new(Normalization::On).await;
    // 2025-06-20 03:00 UTC is 12:00 in Seoul: yesterday there is 2025-06-19.
    kw.insert_texts(day(19), &["좌석 변경 가능한가요?"]).await;
    kw.insert_texts(day(18), &["어제 것이 아님"]).await;
    let scheduled = json!({"version": "0", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
    let answer = kw.run(scheduled).await;
    assert_eq!(answer["mode"], "complete");
    assert_eq!(answer["from"], "2025-06-19");
    assert_eq!(answer["to"], "2025-06-19");
    assert_eq!(answer["basic"]["sent"], 1, "{answer}");
}

#[tokio::test]
async fn a_run_stopped_by_its_deadline_is_finished_by_the_next_without_duplicates() {
    let kw = Kw::new(Normalization::On).await;
    let texts: Vec<String> = (0..1200).map(|i| format!("question number {i}")).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    kw.insert_texts(day(11), &texts).await;
    kw.insert_texts(day(12), &["another day"]).await;
    let payload = json!({"mode": "basic", "from": "2025-06-11", "to": "2025-06-12"});
    let mut settings = kw.settings.clone();
    settings.date_concurrency = 1;
    let now = Utc
        .with_ymd_and_hms(2025, 6, 20, 3, 0, 0)
        .single()
        .expect("now");
    let stopped = keyword_batch::handle(
        &kw.pool,
        &kw.producer,
        &settings,
        payload.clone(),
        now,
        Deadline::after(std::time::Duration::ZERO),
    )
    .await
    .expect("run");
    assert_eq!(stopped["complete"], false, "{stopped}");
    assert_eq!(stopped["stopped_by_deadline"], true);
    let sent = stopped["basic"]["sent"].as_u64().expect("sent");
    assert_eq!(
        sent,
        keyword_batch::send::FLUSH_QUESTIONS as u64,
        "one flush, then the stop"
    );
    assert_eq!(
        stopped["remaining"]["dates"],
        json!(["2025-06-11", "2025-06-12"])
    );

    let rest = kw.run(payload).await;
    assert_eq!(rest["complete"], true);
    assert_eq!(rest["basic"]["sent"].as_u64(), Some(1201 - sent), "{rest}");
    let items = questions(&kw.drain().await);
    let distinct: HashSet<(NaiveDate, QuestionHash)> =
        items.iter().map(|i| (i.date, i.hash)).collect();
    assert_eq!((items.len(), distinct.len()), (1201, 1201));
}

#[tokio::test]
async fn two_runs_at_once_send_each_question_once() {
    let kw = Kw::new(Normalization::On).await;
    kw.insert(chats::chats(&generated(2, 1500, 21))).await;
    let payload = json!({"mode": "basic", "from": "2025-06-11", "to": "2025-06-12"});
    let (a, b) = tokio::join!(kw.run(payload.clone()), kw.run(payload.clone()));
    let sent = a["basic"]["sent"].as_u64().expect("a") + b["basic"]["sent"].as_u64().expect("b");
    let items = questions(&kw.drain().await);
    let distinct: HashSet<(NaiveDate, QuestionHash)> =
        items.iter().map(|i| (i.date, i.hash)).collect();
    assert_eq!(items.len() as u64, sent);
    assert_eq!(
        distinct.len(),
        items.len(),
        "a question was sent by both runs"
    );
    let check = kw
        .run(json!({"mode": "check", "from": "2025-06-11", "to": "2025-06-12"}))
        .await;
    assert_eq!(check["check"]["total_unique"].as_u64(), Some(sent));
}

fn hcx_worker(kw: &Kw, fake: &FakeHcx) -> Worker {
    let mut settings = HcxSettings::new(
        fake.base_url.clone(),
        "HCX-005",
        secrecy::SecretString::from(fake.api_key.clone()),
        keyword_worker::settings::DEFAULT_CATEGORIES
            .split(',')
            .map(str::to_owned)
            .collect(),
        60_000,
        1,
    );
    settings.base_backoff = std::time::Duration::from_millis(5);
    // Generous: the tests count requests, and a loaded machine must not make a normal answer
    // time out into a retry.
    settings.request_timeout = std::time::Duration::from_secs(10);
    settings.max_attempts = 4;
    Worker {
        pool: kw.db.pool.clone(),
        classifier: Classifier::Hcx(HcxClient::new(settings).expect("client")),
        settings: WorkerSettings::default(),
    }
}

#[tokio::test]
async fn the_worker_retries_refuses_stops_and_reuses_as_the_failure_demands() {
    let kw = Kw::new(Normalization::On).await;
    kw.insert_texts(
        day(11),
        &[
            "환불 언제 되나요?",
            "비밀번호 변경 방법",
            "아주 긴 질문",
            "이상한 대답",
        ],
    )
    .await;
    kw.insert_texts(day(12), &["환불 언제 되나요?"]).await;
    kw.run(json!({"mode": "basic", "from": "2025-06-11", "to": "2025-06-11"}))
        .await;
    let day11 = kw.drain().await;
    assert_eq!(questions(&day11).len(), 4);

    // 401: the batch stops at the first request; nothing is marked failed.
    let fake = FakeHcx::start(Script::new().default_reply(Reply::Unauthorized401))
        .await
        .expect("fake");
    let worker = hcx_worker(&kw, &fake);
    let mut one_per_message = Vec::new();
    for m in &day11 {
        for q in questions(std::slice::from_ref(m)) {
            let mut message = m.clone();
            message.message_id = Some(q.hash.to_hex());
            message.body =
                Some(serde_json::to_string(&WorkMessage { questions: vec![q] }).expect("json"));
            one_per_message.push(message);
        }
    }
    let mut sequential = worker;
    sequential.settings.concurrency = 1;
    let response = work(&sequential, one_per_message.clone()).await;
    assert_eq!(
        response.batch_item_failures.len(),
        4,
        "every message back on the queue"
    );
    assert_eq!(
        fake.requests().len(),
        1,
        "no request after the account-wide refusal"
    );
    assert_eq!(
        kw.scalar("SELECT COUNT(*) FROM keyword_work WHERE status = 'queued'")
            .await,
        4
    );
    fake.stop().await;

    // Then: a 429 and a 500 before success (retried), 40003 (refused for good), prose twice
    // (kept as invalid), the rest normal.
    let fake = FakeHcx::start(Script::new().per_question(|q, n| match (q, n) {
        ("환불 언제 되나요?", 0) => Reply::Status429,
        ("환불 언제 되나요?", 1) => Reply::Status500,
        ("아주 긴 질문", _) => Reply::TooLong40003,
        ("이상한 대답", _) => Reply::NonJsonContent,
        _ => Reply::Normal,
    }))
    .await
    .expect("fake");
    let worker = hcx_worker(&kw, &fake);
    let response = work(&worker, one_per_message.clone()).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(fake.count_for("환불 언제 되나요?"), 3);
    assert_eq!(
        fake.count_for("아주 긴 질문"),
        1,
        "a refusal is not retried"
    );
    assert_eq!(fake.count_for("이상한 대답"), 2, "one repair request");
    let invalid: (String, Option<String>) = sqlx::query_as(
        "SELECT status, model_answer FROM admin_chat_keywords WHERE query_text = '이상한 대답'",
    )
    .fetch_one(&kw.db.pool)
    .await
    .expect("invalid row");
    assert_eq!(invalid.0, "invalid");
    assert!(invalid.1.is_some_and(|a| !a.is_empty()));
    let reason: String =
        sqlx::query_scalar("SELECT reason FROM keyword_work WHERE status = 'failed'")
            .fetch_one(&kw.db.pool)
            .await
            .expect("failed row");
    assert!(
        reason.starts_with("context_too_long: HTTP 400 40003"),
        "{reason}"
    );

    // A redelivery calls nothing and inserts nothing.
    let before = fake.requests().len();
    assert!(
        work(&worker, one_per_message)
            .await
            .batch_item_failures
            .is_empty()
    );
    assert_eq!(fake.requests().len(), before);
    assert_eq!(kw.db.count("admin_chat_keywords").await, 3);

    // Day 12 asks a question answered on day 11: served from the stored result.
    kw.run(json!({"mode": "basic", "from": "2025-06-12", "to": "2025-06-12"}))
        .await;
    let day12 = kw.drain().await;
    assert!(work(&worker, day12).await.batch_item_failures.is_empty());
    assert_eq!(
        fake.requests().len(),
        before,
        "no API call for a known question"
    );
    let cached_from: Option<NaiveDate> = sqlx::query_scalar(
        "SELECT cached_from FROM admin_chat_keywords WHERE created_at = '2025-06-12'",
    )
    .fetch_one(&kw.db.pool)
    .await
    .expect("day 12 row");
    assert_eq!(cached_from, Some(day(11)));
    fake.stop().await;
}

#[tokio::test]
async fn a_question_failing_at_its_last_receive_is_marked_for_the_dead_letter_queue() {
    let kw = Kw::new(Normalization::On).await;
    kw.insert_texts(day(11), &["서버가 계속 실패"]).await;
    kw.run(json!({"mode": "basic", "from": "2025-06-11", "to": "2025-06-11"}))
        .await;
    let mut messages = kw.drain().await;
    let fake = FakeHcx::start(Script::new().default_reply(Reply::Status500))
        .await
        .expect("fake");
    let worker = hcx_worker(&kw, &fake);
    let response = work(&worker, messages.clone()).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    let (status, attempts): (String, u32) =
        sqlx::query_as("SELECT status, attempts FROM keyword_work")
            .fetch_one(&kw.db.pool)
            .await
            .expect("ledger");
    assert_eq!((status.as_str(), attempts), ("queued", 1));
    messages[0]
        .attributes
        .insert("ApproximateReceiveCount".into(), "5".into());
    let response = work(&worker, messages).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    let (status, reason): (String, String) =
        sqlx::query_as("SELECT status, reason FROM keyword_work")
            .fetch_one(&kw.db.pool)
            .await
            .expect("ledger");
    assert_eq!(status, "failed");
    assert!(reason.starts_with("dead_letter:"), "{reason}");
    fake.stop().await;
}

#[tokio::test]
async fn malformed_work_messages_fail_alone() {
    let kw = Kw::new(Normalization::On).await;
    kw.insert_texts(day(11), &["정상 질문"]).await;
    kw.run(json!({"mode": "basic", "from": "2025-06-11", "to": "2025-06-11"}))
        .await;
    let mut messages = kw.drain().await;
    let bad = |id: &str, body: &str| {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.into());
        m.body = Some(body.into());
        m
    };
    let wrong_hash = json!({"questions": [{"date": "2025-06-11", "hash": QuestionHash::of("x").to_hex(), "text": "y", "total_count": 1}]});
    messages.push(bad("not-json", "hello"));
    messages.push(bad("wrong-hash", &wrong_hash.to_string()));
    messages.push(bad("empty", r#"{"questions": []}"#));
    let worker = kw.builtin_worker();
    let response = work(&worker, messages).await;
    let mut failed: Vec<String> = response
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect();
    failed.sort();
    assert_eq!(failed, ["empty", "not-json", "wrong-hash"]);
    assert_eq!(kw.db.count("admin_chat_keywords").await, 1);
}

#[tokio::test]
async fn the_sample_events_do_what_their_names_say() {
    let kw = Kw::new(Normalization::On).await;
    kw.insert_texts(
        day(11),
        &[
            "교통카드 어디서 충전하나요?",
            "How do I get a refund for my ticket?",
        ],
    )
    .await;
    let event = |text: &str| serde_json::from_str::<Value>(text).expect("event json");
    let check = kw
        .run(event(include_str!(
            "../../../events/keyword-batch/check.json"
        )))
        .await;
    assert_eq!(check["check"]["total_unique"], 2, "{check}");
    let basic = kw
        .run(event(include_str!(
            "../../../events/keyword-batch/basic.json"
        )))
        .await;
    assert_eq!(basic["basic"]["sent"], 2);
    let missing = kw
        .run(event(include_str!(
            "../../../events/keyword-batch/missing.json"
        )))
        .await;
    assert_eq!(missing["missing"]["sent"], 0);
    let complete = kw
        .run(event(include_str!(
            "../../../events/keyword-batch/complete.json"
        )))
        .await;
    assert_eq!(complete["final_check"]["queued"], 2);
    let scheduled = kw
        .run(event(include_str!(
            "../../../events/keyword-batch/scheduled.json"
        )))
        .await;
    assert_eq!(
        (scheduled["mode"].as_str(), scheduled["from"].as_str()),
        (Some("complete"), Some("2025-06-19"))
    );
    let invalid = kw
        .run_with(
            event(include_str!("../../../events/keyword-batch/invalid.json")),
            Deadline::none(),
        )
        .await;
    assert!(
        matches!(invalid, Err(FunctionError::InvalidEvent(_))),
        "{invalid:?}"
    );

    // The worker's sample is the same two questions of 2025-06-11 (what the batch sent).
    let worker = kw.builtin_worker();
    let sample: SqsEvent = serde_json::from_str(include_str!(
        "../../../events/keyword-worker/questions.json"
    ))
    .expect("sqs event");
    assert!(
        worker
            .handle(sample.clone(), Deadline::none())
            .await
            .batch_item_failures
            .is_empty()
    );
    assert!(
        worker
            .handle(sample, Deadline::none())
            .await
            .batch_item_failures
            .is_empty()
    );
    assert_eq!(kw.db.count("admin_chat_keywords").await, 2);
    let complete = kw
        .run(event(include_str!(
            "../../../events/keyword-batch/complete.json"
        )))
        .await;
    assert_eq!(complete["verification"]["verified"], true, "{complete}");
    let malformed: SqsEvent = serde_json::from_str(include_str!(
        "../../../events/keyword-worker/malformed.json"
    ))
    .expect("sqs event");
    assert_eq!(
        worker
            .handle(malformed, Deadline::none())
            .await
            .batch_item_failures
            .len(),
        2
    );
}
