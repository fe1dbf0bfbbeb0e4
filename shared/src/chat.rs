//! The keyword batches' shared vocabulary (source system 002): what makes two chat texts
//! one question, the question's key, and the work message that carries it from
//! `keyword-batch` to `keyword-worker`.
//!
//! # One question
//! With normalisation on (the default, `KEYWORD_NORMALIZE=on`), a chat text becomes its
//! question by, in order:
//! 1. Unicode NFC (a Hangul syllable typed as jamo and as one code point are one text);
//! 2. dropping zero-width characters that keyboards and copy-paste insert (U+200B zero
//!    width space, U+2060 word joiner, U+FEFF byte-order mark); U+200C/U+200D are kept:
//!    they change the meaning of text in some scripts;
//! 3. every run of white space (any Unicode `White_Space`: tabs, new lines, NBSP, the
//!    ideographic space) becomes one ASCII space, and the ends are trimmed;
//! 4. lower case (Unicode's default case mapping): "How do I pay?" and "how do i pay?" are
//!    one question. Hangul has no case, so Korean text is unchanged by this step.
//!
//! Punctuation is kept ("결제?" and "결제" stay two questions): it can change what is
//! asked, and the classifier sees it anyway. A text that is empty after this is not a
//! question; the batch counts it as blank and sends nothing.
//!
//! With normalisation off (`KEYWORD_NORMALIZE=off`), the text is taken as the database
//! groups it (the chat table's collation, exactly as the original's window query), which
//! makes the counts equal the original's.
//!
//! # The key
//! [`QuestionHash`] is the SHA-256 of the question's UTF-8: a long text cannot be indexed
//! whole, so `admin_chat_keywords` and the work ledger are unique on (date, hash).

use std::{fmt, str::FromStr};

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

use crate::config::{ConfigError, env_or};

/// The chat system's zone when `KEYWORD_TIME_ZONE` is not set (the original ran in Korea).
pub const DEFAULT_TIME_ZONE: Tz = chrono_tz::Asia::Seoul;

/// The zone `chattings.created_at` is written in (`KEYWORD_TIME_ZONE`, an IANA name).
///
/// # Errors
/// [`ConfigError`] naming the variable when it is not a zone.
pub fn time_zone_from_env() -> Result<Tz, ConfigError> {
    env_or("KEYWORD_TIME_ZONE", DEFAULT_TIME_ZONE)
}

/// Whether chat texts are normalised into questions (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Normalization {
    /// NFC, zero-width characters dropped, white space collapsed and trimmed, lower case.
    #[default]
    On,
    /// The text as the database groups it (the original's behaviour).
    Off,
}

impl FromStr for Normalization {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "on" => Ok(Self::On),
            "off" => Ok(Self::Off),
            other => Err(format!("{other:?} is neither \"on\" nor \"off\"")),
        }
    }
}

impl Normalization {
    /// `KEYWORD_NORMALIZE` (`on`, the default, or `off`).
    ///
    /// # Errors
    /// [`ConfigError`] naming the variable for any other value.
    pub fn from_env() -> Result<Self, ConfigError> {
        env_or("KEYWORD_NORMALIZE", Self::On)
    }

    /// The question a chat text is, or `None` when it is blank (normalisation on only: with
    /// it off, every text is its own question, as in the original).
    pub fn question(self, text: &str) -> Option<String> {
        match self {
            Self::Off => Some(text.to_owned()),
            Self::On => {
                let question = normalize(text);
                (!question.is_empty()).then_some(question)
            }
        }
    }
}

impl fmt::Display for Normalization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::On => "on",
            Self::Off => "off",
        })
    }
}

/// Zero-width characters with no meaning of their own (see the module documentation).
fn is_dropped(c: char) -> bool {
    matches!(c, '\u{200B}' | '\u{2060}' | '\u{FEFF}')
}

/// A chat text's question form: NFC, zero-width characters dropped, white space collapsed
/// and trimmed, lower case. Empty for a blank text.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.nfc().filter(|c| !is_dropped(*c)) {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        // Lower case may expand (İ → i̇) and break NFC in rare cases; lower-casing is done
        // per character and the result is composed again below only when needed.
        out.extend(c.to_lowercase());
    }
    if unicode_normalization::is_nfc_quick(out.chars()) == unicode_normalization::IsNormalized::Yes
    {
        out
    } else {
        out.nfc().collect()
    }
}

/// SHA-256 of a question's UTF-8: its key with the chat date.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QuestionHash(pub [u8; 32]);

impl QuestionHash {
    /// The hash of `question` (already normalised, or raw with normalisation off).
    pub fn of(question: &str) -> Self {
        Self(Sha256::digest(question.as_bytes()).into())
    }

    /// From the 32 bytes of a `BINARY(32)` column.
    ///
    /// # Errors
    /// The length, when it is not 32.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, String> {
        <[u8; 32]>::try_from(bytes)
            .map(Self)
            .map_err(|_| format!("a question hash has 32 bytes, not {}", bytes.len()))
    }

    /// Lower-case hex (messages, logs).
    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for QuestionHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "QuestionHash({})", self.to_hex())
    }
}

impl Serialize for QuestionHash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for QuestionHash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let bytes = hex::decode(&text).map_err(serde::de::Error::custom)?;
        Self::from_slice(&bytes).map_err(serde::de::Error::custom)
    }
}

/// One question on the work queue. A message carries one or more (KEYWORD_QUESTIONS_PER_MESSAGE).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkItem {
    /// The chat date (local to the chat system's zone).
    pub date: NaiveDate,
    /// [`QuestionHash::of`] `text`; the worker checks it.
    pub hash: QuestionHash,
    /// The question as the classifier sees it.
    pub text: String,
    /// How many chats of that date asked it.
    pub total_count: u32,
}

impl WorkItem {
    /// An item for `text` on `date`, its hash computed.
    pub fn new(date: NaiveDate, text: String, total_count: u32) -> Self {
        Self {
            date,
            hash: QuestionHash::of(&text),
            text,
            total_count,
        }
    }
}

/// The body of one work-queue message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkMessage {
    pub questions: Vec<WorkItem>,
}

/// The work ledger's (`keyword_work.status`) states.
pub mod status {
    /// On the work queue (or lost on the way, once older than the re-queue age).
    pub const QUEUED: &str = "queued";
    /// Its `admin_chat_keywords` row is stored.
    pub const DONE: &str = "done";
    /// Given up: a permanent refusal, or the last receive before the dead-letter queue.
    pub const FAILED: &str = "failed";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_identical_texts_are_one_question() {
        let decomposed = "\u{1100}\u{1161}\u{11A8} 결제"; // 각 typed as jamo
        assert_eq!(normalize(decomposed), "각 결제");
        assert_eq!(normalize("  How do   I\tpay?\n"), "how do i pay?");
        assert_eq!(normalize("How\u{00A0}do\u{3000}I pay?"), "how do i pay?");
        assert_eq!(
            normalize("교통\u{200B}카드 어디서\u{FEFF}"),
            "교통카드 어디서"
        );
        assert_eq!(normalize("결제?"), "결제?");
        assert_ne!(normalize("결제?"), normalize("결제"));
        assert_eq!(normalize(" \t\u{200B}\n"), "");
        assert_eq!(Normalization::On.question("  \n"), None);
        assert_eq!(Normalization::Off.question("  "), Some("  ".into()));
    }

    #[test]
    fn normalized_text_is_nfc_and_stable() {
        for text in [
            "İstanbul",
            "ΣΊΣΥΦΟΣ",
            "Straße",
            "가\u{0301}",
            "ＡＢＣ ｄｅｆ",
        ] {
            let once = normalize(text);
            assert_eq!(normalize(&once), once, "{text}");
            assert_eq!(once.nfc().collect::<String>(), once, "{text}");
        }
    }

    #[test]
    fn the_hash_round_trips_through_a_message() {
        let date = NaiveDate::from_ymd_opt(2025, 6, 11).expect("date");
        let message = WorkMessage {
            questions: vec![WorkItem::new(date, "교통카드 충전".into(), 3)],
        };
        let body = serde_json::to_string(&message).expect("json");
        let back: WorkMessage = serde_json::from_str(&body).expect("parse");
        assert_eq!(back, message);
        assert_eq!(back.questions[0].hash, QuestionHash::of("교통카드 충전"));
        assert!(
            serde_json::from_str::<WorkMessage>(
                r#"{"questions":[{"date":"2025-06-11","hash":"ab","text":"x","total_count":1}]}"#
            )
            .is_err()
        );
    }
}
