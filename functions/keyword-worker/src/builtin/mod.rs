//! The built-in classifier: used when no HCX API key is configured, and in the demo.
//!
//! It is deterministic: its answer depends only on the question, the rules
//! (`keyword_category_rule`) and the word lists compiled into this module, whose version is
//! [`BuiltinClassifier::MODEL`]. It runs in this order.
//!
//! # 1. Canonical form
//! The question is taken to NFKC (full-width "ＫＴＸ" becomes "ktx", "①" becomes "1",
//! compatibility jamo become jamo), then through `common::chat::normalize` (NFC, zero-width
//! characters dropped, white space collapsed and trimmed, lower case). Rule keywords are
//! put in the same form when the rules are loaded, so "KTX" in the table matches "ktx".
//!
//! # 2. Tokens
//! A token is a maximal run of characters of one script: Hangul syllables, Hangul jamo,
//! Latin letters, digits (anything Unicode calls numeric), Han ideographs, kana, or letters
//! of any other script. Everything else (white space, punctuation, symbols, emoji)
//! separates tokens, and so does every change of script: "ktx예약" is "ktx" and "예약";
//! "5만원" is "5" and "만원" (neither is a keyword: see counters below); "iphone15" is
//! "iphone" and "15". Two exceptions keep Latin words whole: an apostrophe or hyphen between
//! two Latin letters ("can't", "check-in"), and combining marks, which continue the token
//! they follow.
//!
//! # 3. Terms
//! Each token becomes at most one term (a candidate keyword):
//! - a token equal to a rule keyword is a term as it is: the operator's table wins over
//!   every list below (a rule for "가능" makes "가능" a keyword even though it is a
//!   stopword);
//! - Hangul: particles and endings come off (below); a stem equal to a rule keyword is a
//!   term; otherwise the stem is a term unless the token or the stem is a stopword, or the
//!   stem is one syllable that is not a known word (a lone syllable is almost always a verb
//!   stem or a fragment; "앱", "표", "역" and the other built-in one-syllable nouns, and
//!   one-syllable rule keywords, are known words);
//! - Latin: a final "'s" comes off ("account's"); stopwords and single letters are dropped;
//! - Han and kana tokens are terms; other scripts' tokens of two letters or more are terms;
//! - digits and jamo ("ㅋㅋ", "ㅠㅠ") are never terms, nor is any token longer than 40
//!   characters (a pasted code or link).
//!
//! The stopwords are two lists in the source: Korean question words, pronouns, bound nouns,
//! fillers, greetings and the generic verbs of asking ("어디", "어떻게", "것", "좀", "저는",
//! "알려주세요", "궁금합니다"), and the usual short English list ("how", "do", "i", "the",
//! "to", "my", "can", "what", "where", "is"). English has no stemming: "tickets" stays
//! "tickets" (rules still match it, see 5).
//!
//! ## Particles and endings
//! A curated table lists the suffixes that come off a Hangul token: particles (case
//! particles, each also followed by 은/는/도/만/요: "서울에서는", "카드로도"), the copula
//! ("카드인가요"), verb tails (the fused forms of 하다, 되다, 시키다, 드리다, 받다, 있다,
//! 없다, 싶다, 같다, 않다, 주다, 보다, with negation 안/못, each followed by its endings:
//! "환불하려면", "예약했는데", "취소해주세요", "로그인이안돼요") and endings of any verb
//! ("바꾸려면"). Known words are a built-in list of nouns that end like a particle or
//! ending ("문의", "결과", "카카오페이", "세미나"), a list of nouns that end like a light
//! verb ("이해", "제한", "역할"), the built-in one-syllable nouns, and every rule keyword. A round
//! tries the suffixes the token ends with, longest first, and takes the first acceptable
//! one:
//! - a cut that would fall inside a noun of the first list or a rule keyword is not made
//!   ("고객문의" keeps its 의, "세미나요" loses only 요), unless the stem it leaves is itself
//!   a known word ("변경과" is 변경 + 과 when "변경" is a rule keyword, despite "경과").
//!   Light-verb look-alikes do not guard cuts: inside a longer token they are nearly
//!   always a noun followed by a light verb ("운영하려면" is 운영 + 하려면, not 운 + 영하), at
//!   the price of compounds such as "사용제한" → "사용제";
//! - a suffix that is the whole token makes the token no term ("있나요", "하나요", "를");
//! - a suffix that would leave one syllable that is not a known word is skipped when it is a
//!   particle or a bare light verb (the token is a noun: "모과", "이해") and makes the token
//!   no term when it is an ending (the token is a verb: "찾으려면").
//!
//! After a particle, stripping stops; after an ending or light verb it goes on, since an
//! ending can follow another ("변경할수있나요": 있나요, then 할수) or a particle in text
//! written without spaces ("예약을하려면": 하려면, then 을). It also stops at a known word,
//! when nothing applies, and after four rounds. A token that is itself a known word is
//! never cut. A stem whose last syllable is closed by ㅆ ("했", "렸", "있") is a verb form,
//! never a noun, and is no term ("잊어버렸어요" leaves "잊어버렸").
//!
//! So "교통카드는" → "교통카드", "환불하려면" → "환불", "예약했는데" → "예약", "결제가" →
//! "결제", while "어디서", "있나요" are no terms. A sentence typed without any spaces is not
//! segmented: "교통카드어디서충전하나요" gives the one term "교통카드어디서충전" (whose
//! category can still come from a prefix rule, see 5).
//!
//! # 4. Keywords
//! The distinct terms are scored like YAKE's single-term score (lower is better), with the
//! features a one-line question has (YAKE's casing is gone with lower case, and its
//! relatedness and sentence spread need many sentences):
//!
//! ```text
//! S(t) = ln(ln(3 + p)) / (ln(1 + u) + f / (mean(f) + sd(f)))
//! ```
//!
//! where `p` is the index of the term's first occurrence among the question's terms
//! (YAKE's position, the first term scores best), `u` its length in units (a Hangul, Han or
//! kana character counts 2, any other 1: a syllable carries about as much as two letters),
//! `f` its number of occurrences, and the mean and (population) standard deviation are over
//! the question's distinct terms (YAKE's normalised frequency). The keywords are the five
//! best-scored distinct terms, best first; an equal score goes to the earlier first
//! occurrence. A question with no terms has no keywords.
//!
//! # 5. Category
//! Every distinct term of the question (not only the five keywords) is looked up in the
//! rules. Per term and category, one rule counts: the rule whose keyword is the term;
//! else the longest rule whose keyword, of two Hangul syllables or more, is a prefix of the
//! Hangul term ("환불" matches "환불금"); else, for a Latin term, the rule of its singular
//! ("ticket" matches "tickets", "bus" matches "buses"). The weights are summed per
//! category; the highest sum wins, and equal sums (within a relative 1e-9) go to the
//! category name that sorts first. No match is [`OTHER`].
//!
//! Rules whose weight is not a finite positive number, and rules with an empty keyword or
//! category, are ignored; a (keyword, category) pair that appears twice after
//! normalisation keeps its larger weight. A rule keyword that is not one token (it has
//! a space, punctuation or a change of script, such as "ktx예약") can never match and is
//! reported in the log when the rules are loaded.

#[rustfmt::skip]
mod lexicon;
mod morph;
mod tokenize;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::LazyLock;

use crate::classification::{Classification, OTHER};
use lexicon::{ENGLISH_STOPWORDS, KOREAN_STOPWORDS};
use morph::Lexicon;
use tokenize::{Script, Token, canonical, script_of, tokenize};

/// The most keywords a classification carries.
const MAX_KEYWORDS: usize = 5;

/// A token longer than this (in characters) is no keyword: a pasted code, link or hash.
const MAX_TERM_CHARS: usize = 40;

/// Korean and English stopwords, one set (the scripts do not overlap).
static STOPWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    KOREAN_STOPWORDS
        .iter()
        .chain(ENGLISH_STOPWORDS)
        .copied()
        .collect()
});

/// One row of keyword_category_rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub keyword: String,
    pub category: String,
    pub weight: f64,
}

/// The built-in classifier (see the module documentation for the algorithm).
#[derive(Debug, Clone)]
pub struct BuiltinClassifier {
    /// Canonical rule keyword → (category, weight), categories ascending.
    rules: HashMap<String, Vec<(String, f64)>>,
    /// Built-in known words and the rule keywords.
    lexicon: Lexicon,
}

impl BuiltinClassifier {
    /// Provider and model names stored with each result.
    pub const PROVIDER: &'static str = "builtin";
    pub const MODEL: &'static str = "builtin-yake-2"; // bump when scoring or the lists change

    /// A classifier over these rules (keywords put in canonical form; unusable rules
    /// dropped, see the module documentation).
    pub fn new(rules: Vec<Rule>) -> Self {
        let mut merged: BTreeMap<(String, String), f64> = BTreeMap::new();
        for rule in rules {
            let keyword = canonical(&rule.keyword);
            let category = rule.category.trim().to_owned();
            if keyword.is_empty() || category.is_empty() {
                tracing::warn!(
                    keyword = %rule.keyword,
                    category = %rule.category,
                    "keyword rule ignored: empty keyword or category"
                );
                continue;
            }
            if !(rule.weight.is_finite() && rule.weight > 0.0) {
                tracing::warn!(
                    %keyword,
                    %category,
                    weight = rule.weight,
                    "keyword rule ignored: its weight is not a positive number"
                );
                continue;
            }
            let single_token =
                matches!(tokenize(&keyword).as_slice(), [token] if token.text == keyword);
            if !single_token {
                tracing::warn!(
                    %keyword,
                    %category,
                    "keyword rule can never match: its keyword is not a single token"
                );
            }
            let weight = merged.entry((keyword, category)).or_insert(rule.weight);
            *weight = weight.max(rule.weight);
        }
        let mut indexed: HashMap<String, Vec<(String, f64)>> = HashMap::new();
        // BTreeMap order: each keyword's categories come out ascending.
        for ((keyword, category), weight) in merged {
            indexed.entry(keyword).or_default().push((category, weight));
        }
        let lexicon = Lexicon::new(indexed.keys().map(String::as_str));
        Self {
            rules: indexed,
            lexicon,
        }
    }

    /// Reads every rule from keyword_category_rule (one query: SELECT keyword, category,
    /// weight FROM keyword_category_rule); rule keywords are normalised with
    /// common::chat::normalize on load (and NFKC, see the module documentation).
    ///
    /// # Errors
    /// The query's error.
    pub async fn load(pool: &sqlx::MySqlPool) -> Result<Self, sqlx::Error> {
        let rows: Vec<(String, String, f64)> =
            sqlx::query_as("SELECT keyword, category, weight FROM keyword_category_rule")
                .fetch_all(pool)
                .await?;
        let rules = rows
            .into_iter()
            .map(|(keyword, category, weight)| Rule {
                keyword,
                category,
                weight,
            })
            .collect();
        Ok(Self::new(rules))
    }

    /// Deterministic: the same text and rules give the same answer.
    pub fn classify(&self, question: &str) -> Classification {
        let terms = self.terms(question);
        let keywords = rank(&terms, MAX_KEYWORDS);
        let category = self.category(&terms);
        Classification { category, keywords }
    }

    /// The tokens (after particle/ending removal and stopwords) — public for tests and docs.
    ///
    /// The `max` best-scored distinct terms, best first.
    pub fn keywords(&self, question: &str, max: usize) -> Vec<String> {
        rank(&self.terms(question), max)
    }

    /// The question's terms in order, repeats included. A counter after a number ("9시에",
    /// "3번", "5만원") says how many of something, not what is asked: it is no term.
    fn terms(&self, question: &str) -> Vec<String> {
        let mut after_number = false;
        tokenize(&canonical(question))
            .into_iter()
            .filter_map(|token| {
                let counter = after_number
                    && token.script == Script::Hangul
                    && is_counter_phrase(&token.text)
                    && !self.rules.contains_key(&token.text);
                after_number = token.script == Script::Digit;
                if counter { None } else { self.term(token) }
            })
            .collect()
    }

    /// The term a token gives, if any.
    fn term(&self, token: Token) -> Option<String> {
        if self.rules.contains_key(&token.text) {
            return Some(token.text);
        }
        let term = match token.script {
            Script::Hangul => {
                let stem = morph::strip(&token.text, &self.lexicon)?;
                if self.rules.contains_key(&stem) {
                    return Some(stem);
                }
                // The token too: some stopwords strip to a word that is not one
                // ("감사합니다" → "감사").
                if is_stopword(&token.text)
                    || is_stopword(&stem)
                    || (stem.chars().count() == 1 && !self.lexicon.contains(&stem))
                {
                    return None;
                }
                stem
            }
            Script::Latin => {
                let word = token.text.strip_suffix("'s").unwrap_or(&token.text);
                if self.rules.contains_key(word) {
                    return Some(word.to_owned());
                }
                if is_stopword(word) || word.chars().count() < 2 {
                    return None;
                }
                word.to_owned()
            }
            Script::Han | Script::Kana => token.text,
            Script::Other if token.text.chars().count() >= 2 => token.text,
            Script::Other | Script::Digit | Script::Jamo => return None,
        };
        (term.chars().count() <= MAX_TERM_CHARS).then_some(term)
    }

    /// The category of a question with these terms (see the module documentation).
    fn category(&self, terms: &[String]) -> String {
        let mut seen = HashSet::new();
        let mut sums: BTreeMap<&str, f64> = BTreeMap::new();
        for term in terms {
            if !seen.insert(term.as_str()) {
                continue;
            }
            for (category, weight) in self.matches(term) {
                *sums.entry(category).or_insert(0.0) += weight;
            }
        }
        let mut best: Option<(&str, f64)> = None;
        // Ascending names: a later category must beat the best, not only equal it.
        for (category, sum) in sums {
            let better = match best {
                None => true,
                Some((_, best_sum)) => sum - best_sum > 1e-9 * best_sum.abs().max(1.0),
            };
            if better {
                best = Some((category, sum));
            }
        }
        best.map_or_else(|| OTHER.to_owned(), |(category, _)| category.to_owned())
    }

    /// Per category, the weight of the one rule that counts for this term: exact keyword,
    /// else the longest Hangul prefix, else a Latin singular.
    fn matches(&self, term: &str) -> BTreeMap<&str, f64> {
        let mut found: BTreeMap<&str, f64> = BTreeMap::new();
        let mut add = |keyword: &str| {
            for (category, weight) in self.rules.get(keyword).into_iter().flatten() {
                found.entry(category.as_str()).or_insert(*weight);
            }
        };
        add(term);
        let chars: Vec<char> = term.chars().collect();
        if chars.iter().all(|&c| script_of(c) == Some(Script::Hangul)) {
            for len in (2..chars.len()).rev() {
                add(&chars[..len].iter().collect::<String>());
            }
        } else if chars.iter().all(|&c| script_of(c) == Some(Script::Latin)) {
            for plural in ["es", "s"] {
                if let Some(singular) = term.strip_suffix(plural).filter(|s| s.len() >= 2) {
                    add(singular);
                }
            }
        }
        found
    }
}

/// Korean counters (units counted with a number before them).
const COUNTERS: &[&str] = &[
    "시", "시간", "분", "초", "번", "번째", "개", "원", "만원", "천원", "일", "월", "년", "층",
    "호", "호선", "명", "장", "회", "주", "주일", "살", "대", "건", "박", "인", "매", "km", "분간",
];

/// What may follow a counter in the same word ("9시에", "3번째로", "2박만").
const COUNTER_TAILS: &[&str] = &[
    "", "에", "에서", "은", "는", "이", "가", "을", "를", "도", "만", "까지", "부터", "쯤", "정도",
    "째", "짜리", "이나", "으로", "로", "의", "동안", "전", "후", "에는", "이요", "요",
];

/// A counter, alone or with one of its tails.
fn is_counter_phrase(token: &str) -> bool {
    COUNTERS.iter().any(|counter| {
        token
            .strip_prefix(counter)
            .is_some_and(|tail| COUNTER_TAILS.contains(&tail))
    })
}

fn is_stopword(word: &str) -> bool {
    STOPWORDS.contains(word)
}

/// A term's length in units: 2 per Hangul, Han or kana character, 1 otherwise.
fn length_units(term: &str) -> usize {
    term.chars()
        .map(|c| match script_of(c) {
            Some(Script::Hangul | Script::Han | Script::Kana) => 2,
            _ => 1,
        })
        .sum()
}

/// The `max` best distinct terms by the YAKE-like score (see the module documentation).
fn rank(terms: &[String], max: usize) -> Vec<String> {
    // (term, first position, occurrences), in order of first occurrence.
    let mut distinct: Vec<(&str, usize, usize)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (position, term) in terms.iter().enumerate() {
        match index.get(term.as_str()) {
            Some(&i) => distinct[i].2 += 1,
            None => {
                index.insert(term, distinct.len());
                distinct.push((term, position, 1));
            }
        }
    }
    if distinct.is_empty() {
        return Vec::new();
    }
    let n = distinct.len() as f64;
    let mean = distinct.iter().map(|d| d.2 as f64).sum::<f64>() / n;
    let variance = distinct
        .iter()
        .map(|d| (d.2 as f64 - mean).powi(2))
        .sum::<f64>()
        / n;
    let spread = mean + variance.sqrt();
    let mut scored: Vec<(f64, usize, &str)> = distinct
        .iter()
        .map(|&(term, position, count)| {
            let position_feature = (3.0 + position as f64).ln().ln();
            let length_feature = (1.0 + length_units(term) as f64).ln();
            let frequency_feature = count as f64 / spread;
            let score = position_feature / (length_feature + frequency_feature);
            (score, position, term)
        })
        .collect();
    // Positions are distinct, so the order is total.
    scored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    scored
        .into_iter()
        .take(max)
        .map(|(_, _, term)| term.to_owned())
        .collect()
}

#[cfg(test)]
mod tests;
