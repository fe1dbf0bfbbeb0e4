//! Splitting a canonical text into single-script tokens (see the module documentation of
//! [`super`] for the rules).

use unicode_normalization::UnicodeNormalization;

/// The script class of a token: a token never mixes two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Script {
    /// Precomposed Hangul syllables (가–힣).
    Hangul,
    /// Hangul jamo on their own (ㅋㅋ, ㅠㅠ): emoticons, never keywords.
    Jamo,
    /// Latin letters (ASCII and the Latin extensions).
    Latin,
    /// Anything Unicode calls numeric.
    Digit,
    /// CJK ideographs.
    Han,
    /// Hiragana and katakana.
    Kana,
    /// Letters of any other script (Greek, Cyrillic, Thai, …).
    Other,
}

/// One token: its text and script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Token {
    pub(super) text: String,
    pub(super) script: Script,
}

/// The form questions and rule keywords are compared in: `common::chat::normalize` (NFC,
/// zero-width characters dropped, white space collapsed, lower case) of the NFKC form, so
/// full-width letters ("ＫＴＸ"), circled digits and compatibility jamo meet their plain
/// forms.
pub(super) fn canonical(text: &str) -> String {
    common::chat::normalize(&text.nfkc().collect::<String>())
}

/// The script of a character, or `None` for a separator (white space, punctuation,
/// symbols, emoji).
pub(super) fn script_of(c: char) -> Option<Script> {
    let code = u32::from(c);
    let script = match code {
        0xAC00..=0xD7A3 => Script::Hangul,
        0x1100..=0x11FF | 0x3130..=0x318F | 0xA960..=0xA97F | 0xD7B0..=0xD7FF | 0xFFA0..=0xFFDC => {
            Script::Jamo
        }
        0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xF900..=0xFAFF
        | 0x20000..=0x2EBEF
        | 0x30000..=0x3134F
        | 0x3005
        | 0x3007 => Script::Han,
        0x3040..=0x309F | 0x30A0..=0x30FF | 0x31F0..=0x31FF => Script::Kana,
        _ if c.is_numeric() => Script::Digit,
        _ if !c.is_alphabetic() => return None,
        0x41..=0x5A
        | 0x61..=0x7A
        | 0xC0..=0x24F
        | 0x1E00..=0x1EFF
        | 0x2C60..=0x2C7F
        | 0xA720..=0xA7FF
        | 0xAB30..=0xAB6F => Script::Latin,
        _ => Script::Other,
    };
    // The kana voicing marks and the prolonged sound mark are not letters but belong to
    // the kana word they are written in.
    if script == Script::Kana && !c.is_alphabetic() && !matches!(code, 0x3099..=0x309C | 0x30FC) {
        return None;
    }
    Some(script)
}

/// Combining marks that are not letters themselves (accents NFC could not compose, Thai tone
/// marks): they continue the token they follow rather than splitting it.
fn is_mark(c: char) -> bool {
    matches!(
        u32::from(c),
        0x0300..=0x036F
            | 0x0E47..=0x0E4E
            | 0x1AB0..=0x1AFF
            | 0x1DC0..=0x1DFF
            | 0x20D0..=0x20FF
            | 0xFE20..=0xFE2F
    )
}

/// Characters that join two Latin letters into one token: apostrophes ("can't") and hyphens
/// ("check-in"), written as their ASCII forms.
fn joiner(c: char) -> Option<char> {
    match c {
        '\'' | '\u{2019}' => Some('\''),
        '-' | '\u{2010}' | '\u{2011}' => Some('-'),
        _ => None,
    }
}

/// The tokens of a canonical text, in order: maximal runs of one script, split at white
/// space, punctuation, symbols and script changes.
pub(super) fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut current: Option<Token> = None;
    for (i, &c) in chars.iter().enumerate() {
        if is_mark(c) {
            if let Some(token) = current.as_mut() {
                token.text.push(c);
            }
            continue;
        }
        if let Some(joined) = joiner(c) {
            let next_is_latin = chars.get(i + 1).and_then(|&n| script_of(n)) == Some(Script::Latin);
            match current.as_mut() {
                Some(token) if token.script == Script::Latin && next_is_latin => {
                    token.text.push(joined);
                }
                _ => tokens.extend(current.take()),
            }
            continue;
        }
        match script_of(c) {
            None => tokens.extend(current.take()),
            Some(script) => match current.as_mut() {
                Some(token) if token.script == script => token.text.push(c),
                _ => {
                    tokens.extend(current.take());
                    current = Some(Token {
                        text: c.to_string(),
                        script,
                    });
                }
            },
        }
    }
    tokens.extend(current);
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<(String, Script)> {
        tokenize(&canonical(text))
            .into_iter()
            .map(|t| (t.text, t.script))
            .collect()
    }

    fn words(text: &str) -> Vec<String> {
        texts(text).into_iter().map(|(t, _)| t).collect()
    }

    #[test]
    fn splits_on_white_space_and_punctuation() {
        assert_eq!(
            words("교통카드는, 어디서? 충전!"),
            ["교통카드는", "어디서", "충전"]
        );
        assert_eq!(
            words("How do I get a refund?"),
            ["how", "do", "i", "get", "a", "refund"]
        );
        assert_eq!(words("  \t "), Vec::<String>::new());
        assert_eq!(words("🙂🙂 ... !!"), Vec::<String>::new());
    }

    #[test]
    fn splits_at_script_changes() {
        assert_eq!(
            texts("KTX예약 5만원 iphone15"),
            [
                ("ktx".to_owned(), Script::Latin),
                ("예약".to_owned(), Script::Hangul),
                ("5".to_owned(), Script::Digit),
                ("만원".to_owned(), Script::Hangul),
                ("iphone".to_owned(), Script::Latin),
                ("15".to_owned(), Script::Digit),
            ]
        );
        let scripts: Vec<Script> = texts("환불ㅠㅠ 東京駅で")
            .into_iter()
            .map(|t| t.1)
            .collect();
        assert_eq!(
            scripts,
            [Script::Hangul, Script::Jamo, Script::Han, Script::Kana]
        );
    }

    #[test]
    fn joins_apostrophes_and_hyphens_inside_latin_words_only() {
        assert_eq!(words("I can’t check-in"), ["i", "can't", "check-in"]);
        assert_eq!(
            words("'quoted' - dash 카드-결제"),
            ["quoted", "dash", "카드", "결제"]
        );
    }

    #[test]
    fn canonical_form_folds_compatibility_characters() {
        assert_eq!(canonical("ＫＴＸ  예약"), "ktx 예약");
        assert_eq!(words("①번"), ["1", "번"]);
        // Compatibility jamo become conjoining jamo under NFKC and stay jamo.
        assert_eq!(texts("ㅋㅋ")[0].1, Script::Jamo);
    }

    #[test]
    fn combining_marks_continue_the_token() {
        assert_eq!(words("cafe\u{0301} x"), ["café", "x"]);
    }
}
