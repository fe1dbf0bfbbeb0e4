//! Writes realistic zips of xAPI statements: a day of CoolEnglish logs.
//!
//! Many users across the five school levels (and some teachers and unknown levels, which
//! the course stats must leave out), courses from the source system's course-id lists and
//! others, video-profile events, speech assessments with sentence scores, answers with
//! scores, sessions and TANet network fields. Users and courses repeat, as they do in real
//! logs. The same seed always writes the same archive.

use std::{
    fs::File,
    io::{BufWriter, Write},
    path::Path,
};

use chrono::{Duration, NaiveDate, NaiveTime, TimeZone};
use rand::{Rng, SeedableRng, seq::IndexedRandom};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use zip::{ZipWriter, write::SimpleFileOptions};

/// The CoolEnglish site, as the generator names it.
pub const HOME_PAGE: &str = "https://www.coolenglish.edu.tw";
/// The site's extension base (the import's default `XAPI_EXTENSION_BASE`).
pub const EXTENSION_BASE: &str = "https://www.coolenglish.edu.tw/xapi/extensions/";
/// The five student levels of the source system, in its order.
pub const LEVELS: [&str; 5] = ["國小", "國中", "普高", "技高", "大專"];

/// The AI courses of the source system: product name and its course ids.
pub const AI_COURSES: [(&str, &[u32]); 9] = [
    ("酷英AI英語聊天機器人", &[770, 772, 775, 779]),
    ("酷英篇章口說評測系統", &[941, 942, 943, 944]),
    (
        "酷英語音合成工具/語音合成工具",
        &[
            767, 768, 771, 773, 774, 776, 777, 778, 918, 919, 920, 921, 1358,
        ],
    ),
    ("酷英AI寫作偵錯工具", &[841, 843, 922, 923, 924, 925]),
    ("多益寫作評估工具", &[842, 844, 926, 927, 928, 930]),
    (
        "Linggle Write",
        &[862, 864, 868, 937, 938, 939, 940, 1355, 1388],
    ),
    ("酷英教學＆學習工具區", &[989, 990, 991, 992]),
    ("酷英教師AI特助", &[912, 915, 916, 917]),
    ("酷英沉浸式閱讀工具", &[972, 973, 974, 975]),
];

/// How entries are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EntryFormat {
    /// One statement per line (`.jsonl`).
    Jsonl,
    /// A JSON array per entry (`.json`).
    Json,
    /// Alternating.
    Mixed,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub statements: u64,
    /// The log date (business time zone, Asia/Taipei); entry names carry it.
    pub date: NaiveDate,
    pub seed: u64,
    /// Entries in the zip (statements are spread evenly).
    pub entries: u32,
    /// Distinct users; default about one per 40 statements.
    pub users: Option<u32>,
    pub format: EntryFormat,
}

impl GenerateOptions {
    pub fn new(statements: u64, date: NaiveDate, seed: u64) -> Self {
        Self {
            statements,
            date,
            seed,
            entries: 4,
            users: None,
            format: EntryFormat::Jsonl,
        }
    }
}

/// A user of the generated day.
struct User {
    name: String,
    display: String,
    level: Option<&'static str>,
    school: String,
    region: &'static str,
}

/// Writes the zip to `path`; returns the number of statements written.
///
/// # Errors
/// I/O errors.
pub fn write_zip(options: &GenerateOptions, path: &Path) -> std::io::Result<u64> {
    let file = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut zip = ZipWriter::new(file);
    let mut generator = Generator::new(options);
    let entries = u64::from(options.entries.max(1));
    let per_entry = options.statements.div_ceil(entries);
    let mut written = 0;
    for entry in 0..entries {
        let count = per_entry.min(options.statements - written);
        let as_json = match options.format {
            EntryFormat::Jsonl => false,
            EntryFormat::Json => true,
            EntryFormat::Mixed => entry % 2 == 1,
        };
        let name = format!(
            "{date}/{date}-part-{n:04}.{ext}",
            date = options.date,
            n = entry + 1,
            ext = if as_json { "json" } else { "jsonl" }
        );
        zip.start_file(
            name,
            SimpleFileOptions::default().large_file(count > 2_000_000),
        )
        .map_err(std::io::Error::other)?;
        if as_json {
            zip.write_all(b"[")?;
        }
        for i in 0..count {
            let statement = generator.statement();
            if as_json && i > 0 {
                zip.write_all(b",\n")?;
            }
            serde_json::to_writer(&mut zip, &statement)?;
            if !as_json {
                zip.write_all(b"\n")?;
            }
        }
        if as_json {
            zip.write_all(b"]")?;
        }
        written += count;
    }
    zip.finish().map_err(std::io::Error::other)?.flush()?;
    Ok(written)
}

/// Produces statements one at a time.
pub struct Generator {
    rng: ChaCha8Rng,
    users: Vec<User>,
    date: NaiveDate,
    other_courses: Vec<u32>,
}

const VERBS: [(&str, &str); 4] = [
    ("http://adlnet.gov/expapi/verbs/experienced", "experienced"),
    ("http://adlnet.gov/expapi/verbs/launched", "launched"),
    ("http://adlnet.gov/expapi/verbs/answered", "answered"),
    ("http://adlnet.gov/expapi/verbs/completed", "completed"),
];
const REGIONS: [&str; 6] = [
    "臺北區網",
    "新竹區網",
    "臺中區網",
    "臺南區網",
    "高屏區網",
    "花蓮區網",
];
const SENTENCES: [&str; 6] = [
    "I would like to order a cup of coffee.",
    "The library opens at nine in the morning.",
    "She has been learning English for three years.",
    "Could you tell me the way to the station?",
    "We are going to visit our grandparents this weekend.",
    "Reading every day helps you learn new words.",
];

impl Generator {
    pub fn new(options: &GenerateOptions) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        let user_count = options.users.unwrap_or_else(|| {
            u32::try_from((options.statements / 40).clamp(50, 200_000)).unwrap_or(200_000)
        });
        let users = (0..user_count)
            .map(|i| {
                // Most users have one of the five levels; some are teachers or unknown.
                let level = match rng.random_range(0..100) {
                    0..=89 => Some(LEVELS[rng.random_range(0..LEVELS.len())]),
                    90..=94 => Some("教師"),
                    _ => None,
                };
                User {
                    name: format!("u{i:07}"),
                    display: format!("學生{i}"),
                    level,
                    school: format!("{:06}", rng.random_range(10_000..700_000)),
                    region: REGIONS[rng.random_range(0..REGIONS.len())],
                }
            })
            .collect();
        let other_courses = (0..60).map(|_| rng.random_range(100..700)).collect();
        Self {
            rng,
            users,
            date: options.date,
            other_courses,
        }
    }

    /// The next statement.
    pub fn statement(&mut self) -> Value {
        let rng = &mut self.rng;
        // A few heavy users make most of the traffic (repeated actors).
        let user_index = if rng.random_bool(0.3) {
            rng.random_range(0..self.users.len().clamp(1, 20))
        } else {
            rng.random_range(0..self.users.len())
        };
        let user = &self.users[user_index];
        let course = if rng.random_bool(0.7) {
            let (_, ids) = AI_COURSES[rng.random_range(0..AI_COURSES.len())];
            *ids.choose(rng).unwrap_or(&770)
        } else {
            *self.other_courses.choose(rng).unwrap_or(&100)
        };
        let local = self
            .date
            .and_time(NaiveTime::from_hms_opt(6, 0, 0).unwrap_or_default())
            + Duration::milliseconds(rng.random_range(0..17 * 3_600_000));
        let timestamp = chrono_tz::Asia::Taipei
            .from_local_datetime(&local)
            .earliest()
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        let id = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
        let course_url = format!("{HOME_PAGE}/course/view.php?id={course}");
        let mut context_ext = serde_json::Map::new();
        if let Some(level) = user.level {
            context_ext.insert(format!("{EXTENSION_BASE}student-level"), json!(level));
        }
        context_ext.insert(
            format!("{EXTENSION_BASE}session-id"),
            json!(format!(
                "s{:x}",
                (user_index as u64) << 8 | rng.random_range(0..4u64)
            )),
        );
        context_ext.insert(
            format!("{EXTENSION_BASE}user-agent"),
            json!(
                [
                    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0",
                    "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) Safari/605.1",
                    "Mozilla/5.0 (X11; CrOS x86_64 15917.71.0) Chrome/126.0"
                ][user_index % 3]
            ),
        );
        context_ext.insert(
            format!("{EXTENSION_BASE}client-ip"),
            json!(format!(
                "140.{}.{}.{}",
                100 + user_index % 50,
                (user_index / 50) % 256,
                user_index % 250 + 1
            )),
        );
        context_ext.insert(format!("{EXTENSION_BASE}tanet-region"), json!(user.region));
        context_ext.insert(format!("{EXTENSION_BASE}school-code"), json!(user.school));

        let kind = rng.random_range(0..10);
        let (verb, object, result) = match kind {
            // Video events (video profile).
            0..=2 => {
                let video = rng.random_range(1..40);
                let length = f64::from(rng.random_range(60..900));
                let time = (rng.random::<f64>() * length).round();
                let (verb_id, verb_name) = [
                    ("https://w3id.org/xapi/video/verbs/played", "played"),
                    ("https://w3id.org/xapi/video/verbs/paused", "paused"),
                    ("http://adlnet.gov/expapi/verbs/completed", "completed"),
                ][rng.random_range(0..3)];
                context_ext.insert(
                    "https://w3id.org/xapi/video/extensions/length".into(),
                    json!(length),
                );
                let progress = (time / length * 100.0).round() / 100.0;
                (
                    json!({"id": verb_id, "display": {"en-US": verb_name}}),
                    json!({"id": format!("{course_url}&video={video}"), "objectType": "Activity",
                           "definition": {"type": "https://w3id.org/xapi/video/activity-type/video", "name": {"zh-TW": format!("課程影片 {video}")}}}),
                    Some(json!({"extensions": {
                        "https://w3id.org/xapi/video/extensions/time": time,
                        "https://w3id.org/xapi/video/extensions/progress": progress,
                        "https://w3id.org/xapi/video/extensions/played-segments": format!("0[.]{time}")}})),
                )
            }
            // Speech assessment with sentence scores.
            3..=4 => {
                let n = rng.random_range(1..4);
                let sentences: Vec<Value> = (0..n)
                    .map(|_| json!({"text": SENTENCES[rng.random_range(0..SENTENCES.len())], "score": rng.random_range(40..100), "fluency": rng.random_range(1..6)}))
                    .collect();
                let score = rng.random_range(40..100);
                (
                    json!({"id": "http://adlnet.gov/expapi/verbs/scored", "display": {"en-US": "scored"}}),
                    json!({"id": format!("{course_url}&speech={}", rng.random_range(1..30)), "objectType": "Activity",
                           "definition": {"type": "http://adlnet.gov/expapi/activities/assessment", "name": {"zh-TW": "口說評測"}}}),
                    Some(
                        json!({"score": {"raw": score, "min": 0, "max": 100, "scaled": f64::from(score) / 100.0},
                                "completion": true, "duration": format!("PT{}S", rng.random_range(5..120)),
                                "extensions": {format!("{EXTENSION_BASE}sentences"): sentences}}),
                    ),
                )
            }
            // Quiz answers.
            5..=6 => {
                let correct = rng.random_bool(0.6);
                (
                    json!({"id": VERBS[2].0, "display": {"en-US": VERBS[2].1}}),
                    json!({"id": format!("{course_url}&question={}", rng.random_range(1..200)), "objectType": "Activity",
                           "definition": {"type": "http://adlnet.gov/expapi/activities/cmi.interaction", "name": {"en-US": "Vocabulary check"}}}),
                    Some(
                        json!({"success": correct, "response": if correct { "b" } else { "c" }, "score": {"raw": u8::from(correct)}}),
                    ),
                )
            }
            // Page views and launches.
            _ => {
                let (verb_id, verb_name) = VERBS[rng.random_range(0..2)];
                (
                    json!({"id": verb_id, "display": {"en-US": verb_name}}),
                    json!({"id": course_url, "objectType": "Activity",
                           "definition": {"type": "http://adlnet.gov/expapi/activities/course", "name": {"zh-TW": format!("課程 {course}")}}}),
                    None,
                )
            }
        };
        let mut statement = json!({
            "id": id.hyphenated().to_string(),
            "actor": {"objectType": "Agent", "name": user.display, "account": {"homePage": HOME_PAGE, "name": user.name}},
            "verb": verb,
            "object": object,
            "context": {
                "platform": "CoolEnglish",
                "language": "zh-TW",
                "contextActivities": {"parent": [{"id": course_url, "objectType": "Activity"}]},
                "extensions": Value::Object(context_ext),
            },
            "timestamp": timestamp,
            "version": "1.0.3",
        });
        if let Some(result) = result {
            statement["result"] = result;
        }
        statement
    }
}
