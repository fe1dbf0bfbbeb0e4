//! The prompt asked of HCX and the validation of its answer.
//!
//! The model is asked for strict JSON, `{"category": "...", "keywords": [...]}`. What is
//! accepted ([`parse_answer`]):
//! - the JSON object itself, optionally inside a Markdown code fence (```` ```json ````), a
//!   habit of chat models that costs nothing to tolerate;
//! - `category`: a string matching one of the configured categories ignoring case and
//!   surrounding blanks; it is stored in the configured spelling;
//! - `keywords`: an array of strings. Each is trimmed, blank ones are dropped, each is cut at
//!   [`MAX_KEYWORD_CHARS`] characters, duplicates (ignoring case) are dropped keeping the
//!   first, and at most [`MAX_KEYWORDS`] are kept. A non-string item or a missing array makes
//!   the answer invalid: the model did not follow the format, and a repair request is cheap.
//! - Other fields are ignored.

use serde_json::Value;

use crate::classification::Classification;

/// Keywords the prompt asks for.
pub const ASKED_KEYWORDS: usize = 5;
/// Keywords kept at most (the prompt asks for fewer; a longer list is cut, not refused).
pub const MAX_KEYWORDS: usize = 10;
/// Characters kept of one keyword.
pub const MAX_KEYWORD_CHARS: usize = 100;

/// The categories as a JSON list, for the prompts: `["refund", "payment", "other"]`.
fn category_list(categories: &[String]) -> String {
    serde_json::to_string(categories).unwrap_or_default()
}

/// The system message: the task, the categories and the answer's format.
pub fn system_prompt(categories: &[String]) -> String {
    let list = category_list(categories);
    format!(
        "You classify one question that a customer typed into a customer-support chat. \
The question may be in Korean or English.\n\
1. Choose exactly one category from this list: {list}. Use \"other\" when no category fits.\n\
2. Extract up to {ASKED_KEYWORDS} keywords: the nouns or noun phrases as they appear in the \
question, most important first. Keep the question's language and spelling; do not translate; \
drop Korean particles and endings (은/는/이/가/을/를/에/에서/요).\n\
Answer with strict JSON only: no explanation, no Markdown, no code fence. The format is:\n\
{{\"category\": \"<one of {list}>\", \"keywords\": [\"<keyword>\", ...]}}"
    )
}

/// The user message of the repair request: what was wrong, and the format again.
pub fn repair_prompt(reason: &str, categories: &[String]) -> String {
    let list = category_list(categories);
    format!(
        "That answer cannot be used: {reason}. Answer again with only the JSON object, \
nothing else: {{\"category\": \"<one of {list}>\", \"keywords\": [\"<keyword>\", ...]}}"
    )
}

/// Removes a Markdown code fence around the answer, if there is one.
fn strip_fence(content: &str) -> &str {
    let trimmed = content.trim();
    let Some(rest) = trimmed.strip_prefix("```") else {
        return trimmed;
    };
    // The opening fence's line may name a language (```json); the JSON starts after it.
    let body = rest.split_once('\n').map_or("", |(_, body)| body);
    body.trim_end().strip_suffix("```").unwrap_or(body).trim()
}

/// Parses the model's answer; `Err` says what is wrong, in words for the repair prompt.
pub fn parse_answer(content: &str, categories: &[String]) -> Result<Classification, String> {
    let json = strip_fence(content);
    if json.is_empty() {
        return Err("the answer was empty".to_owned());
    }
    let value: Value =
        serde_json::from_str(json).map_err(|e| format!("the answer was not valid JSON ({e})"))?;
    let Value::Object(object) = value else {
        return Err("the answer was JSON but not an object".to_owned());
    };

    let category = match object.get("category") {
        Some(Value::String(category)) => category.trim(),
        Some(_) => return Err("\"category\" was not a string".to_owned()),
        None => return Err("the \"category\" field was missing".to_owned()),
    };
    let Some(category) = categories
        .iter()
        .find(|c| c.trim().to_lowercase() == category.to_lowercase())
    else {
        return Err(format!(
            "the category {category:?} is not one of {}",
            category_list(categories)
        ));
    };

    let items = match object.get("keywords") {
        Some(Value::Array(items)) => items,
        Some(_) => return Err("\"keywords\" was not an array".to_owned()),
        None => return Err("the \"keywords\" field was missing".to_owned()),
    };
    let mut keywords: Vec<String> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for item in items {
        let Value::String(keyword) = item else {
            return Err("\"keywords\" had an item that was not a string".to_owned());
        };
        let keyword: String = keyword.trim().chars().take(MAX_KEYWORD_CHARS).collect();
        let keyword = keyword.trim_end().to_owned();
        if keyword.is_empty() {
            continue;
        }
        let folded = keyword.to_lowercase();
        if seen.contains(&folded) {
            continue;
        }
        seen.push(folded);
        keywords.push(keyword);
        if keywords.len() == MAX_KEYWORDS {
            break;
        }
    }

    Ok(Classification {
        category: category.clone(),
        keywords,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn categories() -> Vec<String> {
        ["Refund", "payment", "other"]
            .into_iter()
            .map(String::from)
            .collect()
    }

    #[test]
    fn plain_json_is_accepted_in_the_configured_spelling() {
        let got = parse_answer(
            r#"{"category": "REFUND", "keywords": ["환불", "주문"]}"#,
            &categories(),
        );
        assert_eq!(
            got,
            Ok(Classification {
                category: "Refund".into(),
                keywords: vec!["환불".into(), "주문".into()],
            })
        );
    }

    #[test]
    fn fenced_json_is_accepted() {
        for content in [
            "```json\n{\"category\":\"payment\",\"keywords\":[\"카드\"]}\n```",
            "  ```\n{\"category\":\"payment\",\"keywords\":[\"카드\"]}```  ",
        ] {
            let got = parse_answer(content, &categories()).expect(content);
            assert_eq!(got.category, "payment");
            assert_eq!(got.keywords, vec!["카드".to_owned()]);
        }
    }

    #[test]
    fn keywords_are_trimmed_deduplicated_cut_and_capped() {
        let long = "가".repeat(150);
        let many: Vec<String> = (0..15).map(|i| format!("k{i}")).collect();
        let content = serde_json::json!({
            "category": " other ",
            "keywords": [" 배송 ", "배송", "", "   ", "Card", "card", long],
        })
        .to_string();
        let got = parse_answer(&content, &categories()).expect("valid");
        assert_eq!(got.category, "other");
        assert_eq!(got.keywords[..2], ["배송".to_owned(), "Card".to_owned()]);
        assert_eq!(got.keywords[2].chars().count(), MAX_KEYWORD_CHARS);
        assert_eq!(got.keywords.len(), 3);

        let content = serde_json::json!({ "category": "other", "keywords": many }).to_string();
        let got = parse_answer(&content, &categories()).expect("valid");
        assert_eq!(got.keywords, many[..MAX_KEYWORDS]);

        let got = parse_answer(r#"{"category":"other","keywords":[]}"#, &categories());
        assert_eq!(got.map(|c| c.keywords.len()), Ok(0));
    }

    #[test]
    fn invalid_answers_say_why() {
        let cases = [
            ("", "empty"),
            ("죄송합니다. 분류할 수 없습니다.", "not valid JSON"),
            ("[1, 2]", "not an object"),
            (r#"{"keywords": []}"#, "\"category\" field was missing"),
            (r#"{"category": 3, "keywords": []}"#, "not a string"),
            (
                r#"{"category": "shipping", "keywords": []}"#,
                "is not one of",
            ),
            (r#"{"category": "other"}"#, "\"keywords\" field was missing"),
            (
                r#"{"category": "other", "keywords": "a, b"}"#,
                "not an array",
            ),
            (
                r#"{"category": "other", "keywords": ["a", 1]}"#,
                "not a string",
            ),
        ];
        for (content, expected) in cases {
            let reason = parse_answer(content, &categories()).expect_err(content);
            assert!(reason.contains(expected), "{content}: {reason}");
        }
    }

    #[test]
    fn prompts_list_the_categories() {
        let system = system_prompt(&categories());
        assert!(
            system.contains(r#"["Refund","payment","other"]"#),
            "{system}"
        );
        assert!(system.contains("strict JSON"));
        let repair = repair_prompt("the answer was empty", &categories());
        assert!(repair.contains("the answer was empty"));
        assert!(repair.contains(r#"["Refund","payment","other"]"#));
    }
}
