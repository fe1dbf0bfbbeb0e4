//! Camera ids: what the video team may name a camera, and one spelling per name.
//!
//! The cameras are in Korea, and their ids may be Korean (`정문-01`). An id is 1-64
//! characters, each a Unicode letter or digit (Rust's `char::is_alphanumeric`: the
//! Alphabetic and Numeric properties, so Hangul, Latin, CJK, … and their digits) or one of
//! `. _ : -`; no spaces, no control characters. Ids are normalised to Unicode NFC on the
//! way in, on every route: `카` typed as one precomposed syllable (U+CE74) and as two jamo
//! (U+110F U+1161) are the same camera, stored and answered precomposed. After that, ids
//! are compared exactly (the columns are `utf8mb4_bin`): `CAM-1` and `cam-1` are two
//! cameras.

use common::http::ApiError;
use unicode_normalization::UnicodeNormalization;

/// The longest camera id, in characters (the columns are `VARCHAR(64)`).
pub const MAX_CHARS: usize = 64;

/// What the rule allows, for error messages and the OpenAPI document.
pub const RULE: &str = "1-64 Unicode letters or digits or . _ : - (normalised to NFC)";

/// The camera id `raw` in NFC, when it follows the rule.
///
/// # Errors
/// [`ApiError::Validation`] on `field`.
pub fn normalise(field: &str, raw: &str) -> Result<String, ApiError> {
    let id: String = raw.nfc().collect();
    let chars = id.chars().count();
    let allowed = |c: char| c.is_alphanumeric() || matches!(c, '.' | '_' | ':' | '-');
    if (1..=MAX_CHARS).contains(&chars) && id.chars().all(allowed) {
        Ok(id)
    } else {
        Err(ApiError::invalid(field, format!("must be {RULE}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn korean_ids_are_cameras_in_one_spelling() {
        assert_eq!(normalise("camera_id", "cam-001").expect("ascii"), "cam-001");
        assert_eq!(
            normalise("camera_id", "정문-01").expect("hangul"),
            "정문-01"
        );
        let decomposed = "\u{110F}\u{1161}";
        assert_eq!(
            normalise("camera_id", decomposed).expect("jamo"),
            "\u{CE74}"
        );
        assert_eq!(
            normalise("camera_id", &"카".repeat(64)).expect("64 characters, 192 bytes"),
            "카".repeat(64)
        );
    }

    #[test]
    fn everything_else_is_refused() {
        for bad in ["", "cam 1", "cam/1", "cam\u{0}", "cam\n", "😀", "a%b"] {
            assert!(normalise("camera_id", bad).is_err(), "{bad:?}");
        }
        assert!(normalise("camera_id", &"a".repeat(65)).is_err());
        match normalise("counts[2].camera_id", "cam 1") {
            Err(ApiError::Validation { field, reason }) => {
                assert_eq!(field, "counts[2].camera_id");
                assert!(reason.contains("Unicode letters"));
            }
            other => panic!("{other:?}"),
        }
    }
}
