//! The rows filled from the result: `result`, `video_info` and `sentences`.

use serde_json::{Map, Value};

use super::{
    Rejection, VIDEO_EXTENSION_PREFIX, reject,
    values::{
        MAX_TEXT_BYTES, boolean, check_json_column, cut, number, optional_str, optional_text,
    },
};

#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    pub score_scaled: Option<f64>,
    pub score_raw: Option<f64>,
    pub score_min: Option<f64>,
    pub score_max: Option<f64>,
    pub success: Option<bool>,
    pub completion: Option<bool>,
    pub duration: Option<String>,
    pub duration_ms: Option<i64>,
    pub response: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VideoRow {
    pub video_time: Option<f64>,
    pub time_from: Option<f64>,
    pub time_to: Option<f64>,
    pub progress: Option<f64>,
    pub length: Option<f64>,
    pub played_segments: Option<String>,
    pub speed: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SentenceRow {
    pub seq: u16,
    pub sentence: String,
    pub score: Option<f64>,
    pub detail: Option<Value>,
}

const MAX_SENTENCES: usize = 1_000;
const MAX_DURATION: usize = 64;
const MAX_SPEED: usize = 16;

/// A statement's `result`, taken apart.
#[derive(Debug, Default)]
pub(super) struct ResultPart {
    /// `result` without its extensions, when the statement has one.
    pub result: Option<Map<String, Value>>,
    /// `result.extensions`; mapped ones are taken out, the rest go to `event_info`.
    pub extensions: Map<String, Value>,
}

impl ResultPart {
    /// Takes `result` out of the statement.
    pub(super) fn take(statement: &mut Map<String, Value>) -> Result<Self, Rejection> {
        let mut result = match statement.remove("result") {
            None | Some(Value::Null) => return Ok(Self::default()),
            Some(Value::Object(r)) => r,
            Some(_) => return reject("result is not an object"),
        };
        let extensions =
            super::values::take_object(&mut result, "extensions", "result.extensions")?;
        Ok(Self {
            result: Some(result),
            extensions,
        })
    }
}

pub(super) fn map_result(result: &Map<String, Value>) -> Result<ResultRow, Rejection> {
    let score = match result.get("score") {
        None | Some(Value::Null) => None,
        Some(Value::Object(s)) => Some(s),
        Some(_) => return reject("result.score is not an object"),
    };
    let field = |name: &str| score.and_then(|s| s.get(name));
    let score_scaled = number(field("scaled"), "result.score.scaled")?;
    if score_scaled.is_some_and(|s| !(-1.0..=1.0).contains(&s)) {
        return reject("result.score.scaled is outside -1..1");
    }
    let duration = optional_str(result, "duration", "result.duration")?;
    let duration_ms = match &duration {
        Some(d) => match parse_duration_ms(d) {
            Some(ms) => Some(ms),
            None => return reject(format!("result.duration {d:?} is not an ISO 8601 duration")),
        },
        None => None,
    };
    Ok(ResultRow {
        score_scaled,
        score_raw: number(field("raw"), "result.score.raw")?,
        score_min: number(field("min"), "result.score.min")?,
        score_max: number(field("max"), "result.score.max")?,
        success: boolean(result.get("success"), "result.success")?,
        completion: boolean(result.get("completion"), "result.completion")?,
        duration: duration.map(|d| cut(d, MAX_DURATION)),
        duration_ms,
        response: optional_text(result.get("response").cloned(), "result.response")?,
    })
}

/// ISO 8601 duration (`P1DT2H3M4.5S`, `PT03M15S`, `P2W`) in milliseconds; `None` when it
/// is not one, or is too long for a `BIGINT` of milliseconds.
pub fn parse_duration_ms(text: &str) -> Option<i64> {
    const DAY: f64 = 86_400_000.0;
    let rest = text.strip_prefix('P')?;
    let (date_part, time_part) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let date_units = [
        ('Y', 365.0 * DAY),
        ('M', 30.0 * DAY),
        ('W', 7.0 * DAY),
        ('D', DAY),
    ];
    let (mut total, mut any) = duration_part(date_part, &date_units)?;
    if let Some(t) = time_part {
        let (ms, some) = duration_part(t, &[('H', 3_600_000.0), ('M', 60_000.0), ('S', 1_000.0)])?;
        if !some {
            return None;
        }
        total += ms;
        any = true;
    }
    // 2⁶³ ms is 292 million years; anything longer is not a duration a learner spent.
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    (any && total.is_finite() && total.round() < i64::MAX as f64).then_some(total.round() as i64)
}

/// The milliseconds of one part of a duration, with its units in order, and whether it
/// had any unit at all.
fn duration_part(part: &str, units: &[(char, f64)]) -> Option<(f64, bool)> {
    let mut total = 0f64;
    let mut any = false;
    let mut number = String::new();
    let mut next_unit = 0;
    for c in part.chars() {
        if c.is_ascii_digit() || c == '.' || c == ',' {
            number.push(if c == ',' { '.' } else { c });
            continue;
        }
        let position = units.iter().skip(next_unit).position(|(u, _)| *u == c)? + next_unit;
        let value: f64 = number.parse().ok()?;
        total += value * units[position].1;
        number.clear();
        next_unit = position + 1;
        any = true;
    }
    number.is_empty().then_some((total, any))
}

/// The `video_info` row from the video profile's extensions (result first, then context).
pub(super) fn map_video(
    result_ext: &mut Map<String, Value>,
    context_ext: &mut Map<String, Value>,
) -> Result<Option<VideoRow>, Rejection> {
    let mut take = |name: &str| -> Option<Value> {
        let iri = format!("{VIDEO_EXTENSION_PREFIX}{name}");
        result_ext
            .remove(&iri)
            .or_else(|| context_ext.remove(&iri))
            .filter(|v| !v.is_null())
    };
    let [time, time_from, time_to, progress, length, segments, speed] = [
        "time",
        "time-from",
        "time-to",
        "progress",
        "length",
        "played-segments",
        "speed",
    ]
    .map(&mut take);
    if [
        &time, &time_from, &time_to, &progress, &length, &segments, &speed,
    ]
    .iter()
    .all(|v| v.is_none())
    {
        return Ok(None);
    }
    let speed = match speed {
        None => None,
        Some(Value::String(s)) => Some(cut(s, MAX_SPEED)),
        Some(Value::Number(n)) => Some(cut(n.to_string(), MAX_SPEED)),
        Some(_) => return reject("video speed is not a string"),
    };
    Ok(Some(VideoRow {
        video_time: number(time.as_ref(), "video time")?,
        time_from: number(time_from.as_ref(), "video time-from")?,
        time_to: number(time_to.as_ref(), "video time-to")?,
        progress: number(progress.as_ref(), "video progress")?,
        length: number(length.as_ref(), "video length")?,
        played_segments: optional_text(segments, "video played-segments")?,
        speed,
    }))
}

/// The `sentences` rows from the speech-assessment extension.
pub(super) fn map_sentences(value: Option<Value>) -> Result<Vec<SentenceRow>, Rejection> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return reject("sentences extension is not an array"),
    };
    if items.len() > MAX_SENTENCES {
        return reject(format!("more than {MAX_SENTENCES} sentences"));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| sentence(index, item))
        .collect()
}

fn sentence(index: usize, item: Value) -> Result<SentenceRow, Rejection> {
    let Value::Object(mut item) = item else {
        return reject(format!("sentence {index} is not an object"));
    };
    let sentence = match item.remove("text").or_else(|| item.remove("sentence")) {
        Some(Value::String(s)) if s.len() <= MAX_TEXT_BYTES => s,
        Some(Value::String(_)) => {
            return reject(format!(
                "sentence {index} is longer than {MAX_TEXT_BYTES} bytes"
            ));
        }
        _ => return reject(format!("sentence {index} has no text string")),
    };
    let score = number(
        item.remove("score").as_ref(),
        &format!("sentence {index} score"),
    )?;
    let seq = u16::try_from(index).map_err(|_| Rejection("too many sentences".into()))?;
    let detail = (!item.is_empty()).then_some(Value::Object(item));
    if let Some(detail) = &detail {
        check_json_column(detail, 0, &format!("sentence {index} detail"))?;
    }
    Ok(SentenceRow {
        seq,
        sentence,
        score,
        detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations_parse_to_milliseconds() {
        assert_eq!(parse_duration_ms("PT03M15S"), Some(195_000));
        assert_eq!(parse_duration_ms("P1DT1.5S"), Some(86_401_500));
        assert_eq!(parse_duration_ms("P2W"), Some(1_209_600_000));
        assert_eq!(parse_duration_ms("PT"), None);
        assert_eq!(parse_duration_ms("P"), None);
        assert_eq!(parse_duration_ms("3 minutes"), None);
        assert_eq!(parse_duration_ms("PT1S2M"), None);
    }

    #[test]
    fn a_duration_too_long_for_bigint_milliseconds_is_not_a_duration() {
        assert_eq!(parse_duration_ms("P300000000Y"), None);
        assert_eq!(parse_duration_ms(&format!("PT{}S", "9".repeat(400))), None);
        assert_eq!(
            parse_duration_ms("P200000000Y"),
            Some(200_000_000 * 365 * 86_400_000)
        );
    }

    #[test]
    fn a_numeric_video_speed_is_cut_to_its_column() {
        let mut result_ext = Map::new();
        let speed: Value = serde_json::from_str("1.2345678901234567").expect("a number");
        result_ext.insert(format!("{VIDEO_EXTENSION_PREFIX}speed"), speed);
        let video = map_video(&mut result_ext, &mut Map::new())
            .expect("valid")
            .expect("a video row");
        let speed = video.speed.expect("a speed");
        assert!(
            speed.len() <= MAX_SPEED && speed.starts_with("1.23456789012"),
            "{speed}"
        );
        let mut text = Map::new();
        text.insert(format!("{VIDEO_EXTENSION_PREFIX}speed"), json!("2x"));
        let video = map_video(&mut text, &mut Map::new()).expect("valid");
        assert_eq!(video.and_then(|v| v.speed).as_deref(), Some("2x"));
    }
}
