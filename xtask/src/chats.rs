//! Generated chat logs for the keyword batches (source system 002): Korean and English
//! customer questions over a few days, with repeats (popular questions asked again) and
//! cosmetic variants of repeats (case, extra white space, decomposed Hangul, zero-width
//! spaces) that normalisation folds into one question. Deterministic for a seed.
//!
//! Also the original's two queries, as `batch_queries.py` has them (with dates bound
//! instead of formatted in), for the tests and the benchmark to run beside the function.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use rand::{Rng, SeedableRng, seq::IndexedRandom};
use rand_chacha::ChaCha8Rng;
use sqlx::{MySql, MySqlPool, QueryBuilder, Row};
use unicode_normalization::UnicodeNormalization;

/// What to generate.
#[derive(Debug, Clone)]
pub struct ChatSpec {
    pub from: NaiveDate,
    pub days: u32,
    pub chats_per_day: u32,
    /// Share of chats that repeat an earlier question of the day (about 0.3).
    pub repeat_share: f64,
    /// Share of repeats written as a cosmetic variant.
    pub variant_share: f64,
    pub seed: u64,
}

impl ChatSpec {
    /// `chats_per_day` chats on each of `days` days from `from`, 30 % repeats, a fifth of
    /// them variants.
    pub fn new(from: NaiveDate, days: u32, chats_per_day: u32, seed: u64) -> Self {
        Self {
            from,
            days,
            chats_per_day,
            repeat_share: 0.3,
            variant_share: 0.2,
            seed,
        }
    }
}

const KO_PLACES: &[&str] = &[
    "강남역",
    "서울역",
    "부산역",
    "홍대입구역",
    "인천공항",
    "시청역",
    "잠실역",
    "수원역",
    "대전역",
    "광주송정역",
    "동대구역",
    "신촌역",
    "여의도역",
    "판교역",
    "명동역",
    "종로3가역",
];
const KO_THINGS: &[&str] = &[
    "교통카드",
    "정기권",
    "KTX 승차권",
    "버스 노선",
    "환불",
    "영수증",
    "회원가입",
    "비밀번호",
    "예약",
    "좌석 변경",
    "분실물",
    "주차장",
    "엘리베이터",
    "택배 보관함",
    "할인 쿠폰",
    "앱 로그인",
    "결제 오류",
    "운영시간",
    "셔틀버스",
    "마일리지",
];
const KO_ASKS: &[&str] = &[
    "어디서 충전하나요?",
    "어떻게 신청하나요?",
    "취소하려면 어떻게 해야 하나요?",
    "가능한가요?",
    "문의드립니다",
    "알려주세요",
    "이용 방법이 궁금합니다",
    "오류가 나요",
    "요금이 얼마인가요?",
    "변경할 수 있나요?",
    "위치가 어디인가요?",
    "언제까지 되나요?",
];
const EN_THINGS: &[&str] = &[
    "transit card",
    "refund",
    "ticket",
    "password",
    "reservation",
    "seat change",
    "lost item",
    "parking",
    "delivery",
    "coupon",
    "app login",
    "payment error",
    "opening hours",
    "shuttle bus",
];
const EN_ASKS: &[&str] = &[
    "How do I get a {} at {}?",
    "Where can I find the {} near {}?",
    "Is the {} available at {}?",
    "I have a problem with my {} at {}",
    "Can I change my {} at {}?",
    "What does the {} cost at {}?",
];

/// One generated chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chat {
    pub text: String,
    pub created_at: NaiveDateTime,
}

/// The chats of a spec, day by day in time order.
pub fn chats(spec: &ChatSpec) -> impl Iterator<Item = Chat> + '_ {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    (0..spec.days).flat_map(move |day| {
        let date = spec.from + Duration::days(i64::from(day));
        let mut day_rng = ChaCha8Rng::seed_from_u64(rng.random());
        let mut asked: Vec<String> = Vec::new();
        let step_ms = 86_400_000 / i64::from(spec.chats_per_day.max(1));
        (0..spec.chats_per_day).map(move |i| {
            let created_at = date.and_hms_opt(0, 0, 0).unwrap_or_default()
                + Duration::milliseconds(step_ms * i64::from(i))
                + Duration::milliseconds(day_rng.random_range(0..step_ms.max(1)));
            let created_at = created_at
                - Duration::nanoseconds(i64::from(created_at.and_utc().timestamp_subsec_nanos()));
            let text = if !asked.is_empty() && day_rng.random_bool(spec.repeat_share) {
                // Popular questions are asked far more often: a skew towards the first ones.
                let pick = (asked.len() as f64 * day_rng.random::<f64>().powi(3)) as usize;
                let base = asked[pick.min(asked.len() - 1)].clone();
                if day_rng.random_bool(spec.variant_share) {
                    variant(&base, &mut day_rng)
                } else {
                    base
                }
            } else {
                let question = fresh(&mut day_rng);
                asked.push(question.clone());
                question
            };
            Chat { text, created_at }
        })
    })
}

fn fresh(rng: &mut ChaCha8Rng) -> String {
    let place = KO_PLACES.choose(rng).copied().unwrap_or("서울역");
    if rng.random_bool(0.75) {
        let thing = KO_THINGS.choose(rng).copied().unwrap_or("교통카드");
        let ask = KO_ASKS.choose(rng).copied().unwrap_or("알려주세요");
        let exit = rng.random_range(1..=12);
        let hour = rng.random_range(5..=23);
        match rng.random_range(0..3) {
            0 => format!("{place} {exit}번 출구 {thing} {ask}"),
            1 => format!("{place}에서 {hour}시에 {thing} {ask}"),
            _ => format!("{thing} {place} {ask} ({exit}번)"),
        }
    } else {
        let thing = EN_THINGS.choose(rng).copied().unwrap_or("ticket");
        let ask = EN_ASKS
            .choose(rng)
            .copied()
            .unwrap_or("How do I get a {} at {}?");
        let gate = rng.random_range(1..=30);
        ask.replacen("{}", thing, 1)
            .replacen("{}", &format!("{place} gate {gate}"), 1)
    }
}

/// A cosmetic variant that normalisation folds back into `base`.
fn variant(base: &str, rng: &mut ChaCha8Rng) -> String {
    match rng.random_range(0..5) {
        0 => format!("  {base}\n"),
        1 => base.replace(' ', "  "),
        2 => base.to_uppercase(),
        3 => base.nfd().collect(),
        _ => base.replacen(' ', " \u{200B}", 1),
    }
}

/// Inserts chats with multi-row `INSERT`s; answers how many.
///
/// # Errors
/// The database error.
pub async fn insert(
    pool: &MySqlPool,
    chats: impl Iterator<Item = Chat>,
) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    let mut batch = Vec::with_capacity(2000);
    let mut chats = chats.peekable();
    while chats.peek().is_some() {
        batch.clear();
        batch.extend(chats.by_ref().take(2000));
        let mut insert: QueryBuilder<MySql> =
            QueryBuilder::new("INSERT INTO chattings (input_text, created_at) ");
        insert.push_values(&batch, |mut row, chat| {
            row.push_bind(&chat.text).push_bind(chat.created_at);
        });
        insert.build().execute(pool).await?;
        total += batch.len() as u64;
    }
    Ok(total)
}

/// The original's unique-question query (`get_unique_chattings_by_date`), the range's
/// bounds bound instead of formatted in: one row per text over the range, with its count
/// over the range. Run for one day, that is the day's unique questions.
pub const ORIGINAL_UNIQUE_SQL: &str = "WITH counted_chats AS ( \
       SELECT chatting_pk, input_text, created_at, \
         ROW_NUMBER() OVER (PARTITION BY input_text ORDER BY created_at DESC) AS rn, \
         COUNT(*) OVER (PARTITION BY input_text) AS total_count \
       FROM chattings WHERE created_at BETWEEN ? AND ? ) \
     SELECT input_text, total_count, DATE(created_at) AS created_at \
     FROM counted_chats WHERE rn = 1 ORDER BY total_count DESC, created_at ASC";

/// The original's missing query, with the `GROUP BY DATE(c.created_at), c.input_text` it
/// lacks: without it the query mixes aggregated and plain columns, which MySQL 8.0's
/// ONLY_FULL_GROUP_BY (on by default) refuses and which otherwise answers one arbitrary row.
pub const ORIGINAL_MISSING_SQL: &str = "SELECT DATE(c.created_at) AS missing_date, c.input_text, COUNT(*) AS missing_count \
     FROM chattings c \
     LEFT JOIN ( SELECT DISTINCT query_text, DATE(created_at) AS dt FROM admin_chat_keywords \
                 WHERE DATE(created_at) BETWEEN ? AND ? ) t \
       ON c.input_text = t.query_text AND DATE(c.created_at) = t.dt \
     WHERE t.query_text IS NULL AND c.created_at BETWEEN ? AND ? \
     GROUP BY DATE(c.created_at), c.input_text";

fn range_bounds(from: NaiveDate, to: NaiveDate) -> (NaiveDateTime, NaiveDateTime) {
    (
        from.and_hms_opt(0, 0, 0).unwrap_or_default(),
        to.and_hms_opt(23, 59, 59).unwrap_or_default(),
    )
}

/// The original's unique questions of `from..=to`: (text, count) rows.
///
/// # Errors
/// The database error.
pub async fn original_unique(
    pool: &MySqlPool,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let (start, end) = range_bounds(from, to);
    let rows = sqlx::query(ORIGINAL_UNIQUE_SQL)
        .bind(start)
        .bind(end)
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect()
}

/// The original's missing questions of `from..=to`: (date, text, chats) rows.
///
/// # Errors
/// The database error.
pub async fn original_missing(
    pool: &MySqlPool,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(NaiveDate, String, i64)>, sqlx::Error> {
    let (start, end) = range_bounds(from, to);
    let rows = sqlx::query(ORIGINAL_MISSING_SQL)
        .bind(from)
        .bind(to)
        .bind(start)
        .bind(end)
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn chats_are_deterministic_with_about_the_asked_repeats() {
        let from = NaiveDate::from_ymd_opt(2025, 6, 11).expect("date");
        let spec = ChatSpec::new(from, 2, 5000, 7);
        let a: Vec<Chat> = chats(&spec).collect();
        let b: Vec<Chat> = chats(&spec).collect();
        assert_eq!(a, b);
        assert_eq!(a.len(), 10_000);
        let first_day: Vec<&Chat> = a.iter().filter(|c| c.created_at.date() == from).collect();
        assert_eq!(first_day.len(), 5000);
        let unique: HashSet<String> = first_day
            .iter()
            .map(|c| common::chat::normalize(&c.text))
            .collect();
        let repeats = 1.0 - unique.len() as f64 / 5000.0;
        assert!((0.25..0.40).contains(&repeats), "repeat share {repeats}");
        assert!(a.windows(2).all(|w| w[0].created_at <= w[1].created_at));
    }

    #[test]
    fn variants_normalise_back_to_their_question() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let base = "강남역 3번 출구 교통카드 어디서 충전하나요?";
        for _ in 0..50 {
            let v = variant(base, &mut rng);
            assert_eq!(
                common::chat::normalize(&v),
                common::chat::normalize(base),
                "{v:?}"
            );
        }
    }
}
