//! Small typed getters over `serde_json` values, the display-text cut, language maps and
//! the limits of the JSON columns.

use serde_json::{Map, Value};

use super::{Rejection, reject};

/// What a `TEXT` column holds, in bytes.
pub(super) const MAX_TEXT_BYTES: usize = 65_535;

/// The deepest nesting of arrays and objects a JSON column takes. MariaDB 10.11's
/// `JSON_VALID` (the `CHECK` behind its `JSON` type) refuses 32 nested arrays or objects
/// and accepts 31 (measured: `JSON_VALID('[[…]]')` with 31 pairs is 1, with 32 is 0);
/// MySQL 8.0 allows 100. The stricter rule holds on both.
pub(super) const MAX_JSON_NESTING: usize = 31;

/// The longest object key MySQL 8.0's binary JSON stores (a 16-bit length), in bytes.
pub(super) const MAX_JSON_KEY_BYTES: usize = 65_535;

pub(super) fn number(value: Option<&Value>, path: &str) -> Result<Option<f64>, Rejection> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(Value::String(s)) => match s.trim().parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(Some(n)),
            _ => reject(format!("{path} {s:?} is not a number")),
        },
        Some(_) => reject(format!("{path} is not a number")),
    }
}

pub(super) fn boolean(value: Option<&Value>, path: &str) -> Result<Option<bool>, Rejection> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => reject(format!("{path} is not a boolean")),
    }
}

pub(super) fn optional_str(
    object: &Map<String, Value>,
    field: &str,
    path: &str,
) -> Result<Option<String>, Rejection> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => reject(format!("{path} is not a string")),
    }
}

/// A string of at most [`MAX_TEXT_BYTES`] for a `TEXT` column.
pub(super) fn optional_text(value: Option<Value>, path: &str) -> Result<Option<String>, Rejection> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= MAX_TEXT_BYTES => Ok(Some(s)),
        Some(Value::String(_)) => reject(format!("{path} longer than {MAX_TEXT_BYTES} bytes")),
        Some(_) => reject(format!("{path} is not a string")),
    }
}

pub(super) fn take_object(
    object: &mut Map<String, Value>,
    field: &str,
    path: &str,
) -> Result<Map<String, Value>, Rejection> {
    match object.remove(field) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m),
        Some(_) => reject(format!("{path} is not an object")),
    }
}

/// Takes a text-like extension out of `extensions` (numbers are kept as their text).
pub(super) fn take_text(
    extensions: &mut Map<String, Value>,
    iri: &str,
    what: &str,
) -> Result<Option<String>, Rejection> {
    match extensions.remove(iri) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => reject(format!("{what} extension <{iri}> is not a string")),
    }
}

/// Cuts display text to `max` characters (identifiers are rejected instead).
pub(super) fn cut(mut text: String, max: usize) -> String {
    if let Some((byte, _)) = text.char_indices().nth(max) {
        text.truncate(byte);
    }
    text
}

/// The text of an optional column, or a marker no text has, for natural-key hashes.
pub(super) fn opt(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("\u{0}")
}

/// Picks one text of an xAPI language map: Traditional Chinese first (the platform's
/// language), then English, then whatever comes first.
pub(super) fn language_map_text(value: Option<&Value>) -> Option<String> {
    let Some(Value::Object(map)) = value else {
        return None;
    };
    ["zh-TW", "zh-Hant", "en-US", "en", "und"]
        .iter()
        .find_map(|lang| map.get(*lang))
        .or_else(|| map.values().next())
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// How many arrays and objects are nested in `value`: a scalar is 0, `[]` and `{"a": 1}`
/// are 1, `[[]]` is 2. (MariaDB's `JSON_DEPTH` counts one more when the innermost value is
/// a scalar or the container is not empty; its validity limit counts containers, as here.)
/// Parsed values are at most 128 deep (`serde_json`'s recursion limit).
pub(super) fn nesting(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(nesting).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(nesting).max().unwrap_or(0),
        _ => 0,
    }
}

fn longest_key(value: &Value) -> usize {
    match value {
        Value::Array(items) => items.iter().map(longest_key).max().unwrap_or(0),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| k.len().max(longest_key(v)))
            .max()
            .unwrap_or(0),
        _ => 0,
    }
}

/// Checks that `value`, stored inside `wrapping` more levels of objects, is a JSON document
/// both databases take; `what` names it in the rejection.
pub(super) fn check_json_column(
    value: &Value,
    wrapping: usize,
    what: &str,
) -> Result<(), Rejection> {
    let depth = wrapping + nesting(value);
    if depth > MAX_JSON_NESTING {
        return reject(format!(
            "{what} nested {depth} levels deep; the database stores at most {MAX_JSON_NESTING}"
        ));
    }
    if longest_key(value) > MAX_JSON_KEY_BYTES {
        return reject(format!(
            "{what} has a key longer than {MAX_JSON_KEY_BYTES} bytes, which the database cannot store"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `levels` nested objects around a number.
    fn nested(levels: usize) -> Value {
        (0..levels).fold(json!(1), |inner, _| json!({ "k": inner }))
    }

    #[test]
    fn nesting_counts_arrays_and_objects_as_the_database_does() {
        assert_eq!(nesting(&json!(1)), 0);
        assert_eq!(nesting(&json!([])), 1);
        assert_eq!(nesting(&json!({"a": 1})), 1);
        assert_eq!(nesting(&json!([[]])), 2);
        assert_eq!(nesting(&json!([1, {"a": [2]}, []])), 3);
        assert_eq!(nesting(&nested(31)), 31);
    }

    #[test]
    fn a_json_column_takes_31_levels_and_refuses_32() {
        assert!(check_json_column(&nested(31), 0, "x").is_ok());
        assert_eq!(
            check_json_column(&nested(32), 0, "x")
                .expect_err("too deep")
                .0,
            "x nested 32 levels deep; the database stores at most 31"
        );
        assert!(check_json_column(&nested(29), 2, "x").is_ok());
        assert!(check_json_column(&nested(30), 2, "x").is_err());
    }

    #[test]
    fn a_json_key_longer_than_mysql_stores_is_refused() {
        let key = "k".repeat(MAX_JSON_KEY_BYTES + 1);
        let long = json!({ "a": [{ key: 1 }] });
        assert!(
            check_json_column(&long, 0, "x")
                .expect_err("long key")
                .0
                .contains("key longer than 65535 bytes")
        );
        let fits = json!({ "k".repeat(MAX_JSON_KEY_BYTES): 1 });
        assert!(check_json_column(&fits, 0, "x").is_ok());
    }
}
