//! A statement's content hash and the id derived from it when the statement has none.
//!
//! The canonical form is written here rather than by `serde_json`, whose map order depends
//! on its `preserve_order` feature (which any crate in the build may switch on): keys are
//! sorted by their UTF-8 bytes at every level, no whitespace, strings escaped minimally,
//! numbers as `serde_json` prints them.

use std::fmt::Write as _;

use chrono::{NaiveDate, NaiveDateTime};
use common::instant::format_utc;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Namespace of ids derived from content (UUID v5), fixed forever so re-imports match.
const DERIVED_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6c1e_7a3e_40f4_4c8e_9a51_2f0d_8b7c_1e55);

/// Top-level properties left out of the content: an LRS sets them (`id` when missing,
/// `stored`, `authority`, `version`), and xAPI's statement comparison ignores them.
const NOT_CONTENT: [&str; 4] = ["id", "stored", "authority", "version"];

/// The first 16 bytes of SHA-256 over the statement's canonical JSON without
/// [`NOT_CONTENT`], with `timestamp` as its normalised UTC form (`timestamp`, when given,
/// is the checked instant; a null timestamp is left out like a missing one).
pub(super) fn content_hash(
    statement: &Map<String, Value>,
    timestamp: Option<NaiveDateTime>,
) -> [u8; 16] {
    let timestamp = timestamp.map(|t| Value::String(format_utc(t)));
    let mut entries: Vec<(&str, &Value)> = statement
        .iter()
        .map(|(key, value)| (key.as_str(), value))
        .filter(|(key, _)| !NOT_CONTENT.contains(key) && *key != "timestamp")
        .collect();
    if let Some(t) = &timestamp {
        entries.push(("timestamp", t));
    }
    // One buffer per thread, reused: the canonical form is only hashed, never kept.
    CANONICAL.with_borrow_mut(|canonical| {
        canonical.clear();
        write_entries(entries, canonical);
        let digest = Sha256::digest(canonical.as_bytes());
        let mut hash = [0u8; 16];
        hash.copy_from_slice(&digest[..16]);
        hash
    })
}

thread_local! {
    static CANONICAL: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// The id of a statement without one: UUID v5 over its content hash and, only when it has
/// no timestamp, the date in its entry or object name (`undated_log_date`). Never the day
/// it arrived, so the same file uploaded twice gives the same ids.
pub(super) fn derived_id(content_hash: &[u8; 16], undated_log_date: Option<NaiveDate>) -> String {
    let mut name = content_hash.to_vec();
    if let Some(date) = undated_log_date {
        name.push(b'\n');
        name.extend_from_slice(date.to_string().as_bytes());
    }
    Uuid::new_v5(&DERIVED_ID_NAMESPACE, &name)
        .hyphenated()
        .to_string()
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => write_map(map, out),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::String(s) => write_string(s, out),
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
    }
}

/// An object with its keys sorted. serde_json's map iterates in key order unless some
/// crate in the build switches on `preserve_order`; only then are the entries sorted here.
fn write_map(map: &Map<String, Value>, out: &mut String) {
    let sorted = map
        .keys()
        .zip(map.keys().skip(1))
        .all(|(a, b)| a.as_bytes() < b.as_bytes());
    let entries = map.iter().map(|(k, v)| (k.as_str(), v));
    if sorted {
        write_sorted(entries, out);
    } else {
        write_entries(entries.collect(), out);
    }
}

/// An object with its keys sorted (byte order, which is code point order).
fn write_entries(mut entries: Vec<(&str, &Value)>, out: &mut String) {
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    write_sorted(entries.into_iter(), out);
}

/// An object whose entries already come in key order.
fn write_sorted<'a>(entries: impl Iterator<Item = (&'a str, &'a Value)>, out: &mut String) {
    out.push('{');
    for (index, (key, value)) in entries.enumerate() {
        if index > 0 {
            out.push(',');
        }
        write_string(key, out);
        out.push(':');
        write_canonical(value, out);
    }
    out.push('}');
}

/// A JSON string: `"` and `\` escaped, control characters as `\u00XX`, the rest as is
/// (copied in runs between the characters that need escaping).
fn write_string(s: &str, out: &mut String) {
    out.push('"');
    let mut run_start = 0;
    for (index, byte) in s.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x00..=0x1F => "",
            _ => continue,
        };
        out.push_str(&s[run_start..index]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{byte:04x}");
        } else {
            out.push_str(escape);
        }
        run_start = index + 1;
    }
    out.push_str(&s[run_start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canonical(value: &Value) -> String {
        let mut out = String::new();
        write_canonical(value, &mut out);
        out
    }

    #[test]
    fn the_canonical_form_sorts_keys_at_every_level_and_escapes_strings() {
        // Built in reverse order, whatever the map type keeps.
        let mut inner = Map::new();
        inner.insert("z".into(), json!(1));
        inner.insert("a".into(), json!([true, null, 2.5, "q\"\\\n"]));
        let mut outer = Map::new();
        outer.insert("é".into(), json!({}));
        outer.insert("b".into(), Value::Object(inner));
        outer.insert("A".into(), json!(-3));
        assert_eq!(
            canonical(&Value::Object(outer)),
            r#"{"A":-3,"b":{"a":[true,null,2.5,"q\"\\\u000a"],"z":1},"é":{}}"#
        );
    }

    #[test]
    fn key_order_in_the_input_does_not_change_the_hash() {
        let a: Value = serde_json::from_str(
            r#"{"actor":{"mbox":"mailto:a@x.org","name":"A"},"verb":{"id":"v","display":{"en":"x","zh-TW":"y"}},"object":{"id":"o"}}"#,
        )
        .expect("json");
        let b: Value = serde_json::from_str(
            r#"{"object":{"id":"o"},"verb":{"display":{"zh-TW":"y","en":"x"},"id":"v"},"actor":{"name":"A","mbox":"mailto:a@x.org"}}"#,
        )
        .expect("json");
        let hash = |v: &Value| content_hash(v.as_object().expect("object"), None);
        assert_eq!(hash(&a), hash(&b));
        let mut c = a.clone();
        c["actor"]["name"] = json!("B");
        assert_ne!(hash(&a), hash(&c));
    }

    #[test]
    fn what_an_lrs_sets_is_not_content() {
        let plain = json!({"verb": {"id": "v"}});
        let mut decorated = plain.clone();
        decorated["id"] = json!("5f0c3c36-7a7e-4c57-9d0a-3f1f3e0e6b8a");
        decorated["stored"] = json!("2024-05-01T00:00:00Z");
        decorated["authority"] = json!({"mbox": "mailto:lrs@x.org"});
        decorated["version"] = json!("1.0.3");
        decorated["timestamp"] = Value::Null;
        let hash = |v: &Value| content_hash(v.as_object().expect("object"), None);
        assert_eq!(hash(&plain), hash(&decorated));
    }

    #[test]
    fn a_derived_id_takes_the_name_date_only_when_asked() {
        let hash = [7u8; 16];
        let d = |day| NaiveDate::from_ymd_opt(2024, 5, day);
        assert_eq!(derived_id(&hash, None), derived_id(&hash, None));
        assert_ne!(derived_id(&hash, d(1)), derived_id(&hash, d(2)));
        assert_ne!(derived_id(&hash, d(1)), derived_id(&hash, None));
        assert_eq!(
            Uuid::parse_str(&derived_id(&hash, None))
                .expect("uuid")
                .get_version_num(),
            5
        );
    }
}
