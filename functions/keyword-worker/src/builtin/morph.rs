//! Removing Korean particles, the copula and verb endings from the end of a Hangul token
//! (see the module documentation of [`super`] for the rules).

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use super::lexicon::{
    CASE_PARTICLES, COPULA, GENERAL_ENDINGS, LIGHT_VERB_LOOKALIKES, PROTECTED_NOUNS, SHORT_NOUNS,
    STACKING_PARTICLES, VERB_GROUPS,
};

/// At most this many suffixes come off one token ("변경할수있나요": 있나요, then 할수).
const MAX_ROUNDS: usize = 4;

/// What a suffix is, which decides what a too-short stem means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A particle after a noun: a too-short stem means the token is a noun that happens to
    /// end like a particle ("결과"), so the cut is not made.
    Particle,
    /// A light verb on its own ("할", "해", "한"): as for a particle, since many nouns end in
    /// one ("역할", "이해", "제한").
    BareVerb,
    /// A verb ending or the copula: a too-short stem means the whole token is a verb ("찾으려면",
    /// "있나요"), which is no keyword.
    Ending,
}

/// Every suffix, in canonical form, with its kind.
struct Suffixes {
    kinds: HashMap<String, Kind>,
    max_chars: usize,
}

static SUFFIXES: LazyLock<Suffixes> = LazyLock::new(|| {
    let mut kinds = HashMap::new();
    // Later inserts win: where a particle and an ending are spelt alike ("나요" is 나 + 요
    // and an ending), the ending is what a question means.
    for particle in CASE_PARTICLES.iter().chain(STACKING_PARTICLES) {
        kinds.insert((*particle).to_owned(), Kind::Particle);
    }
    for case in CASE_PARTICLES {
        for stacked in STACKING_PARTICLES {
            kinds.insert(format!("{case}{stacked}"), Kind::Particle);
        }
    }
    for group in VERB_GROUPS {
        for base in group.bare {
            kinds.insert((*base).to_owned(), Kind::BareVerb);
        }
    }
    for group in VERB_GROUPS {
        for base in group.bases {
            for ending in group.endings.iter().filter(|e| !e.is_empty()) {
                kinds.insert(format!("{base}{ending}"), Kind::Ending);
            }
        }
    }
    for ending in COPULA.iter().chain(GENERAL_ENDINGS) {
        kinds.insert((*ending).to_owned(), Kind::Ending);
    }
    let max_chars = kinds.keys().map(|k| k.chars().count()).max().unwrap_or(0);
    Suffixes { kinds, max_chars }
});

/// Known words: the built-in protected nouns, light-verb look-alikes and one-syllable nouns
/// plus the rule keywords. A token that is one is never cut, and a one-syllable stem is a
/// word only if it is one; a cut does not fall inside a protected noun or rule keyword
/// unless the stem it leaves is a known word.
#[derive(Debug, Clone)]
pub(super) struct Lexicon {
    words: HashSet<String>,
    /// The words a cut must not fall inside (of two characters or more).
    guarded: HashSet<String>,
    max_guarded_chars: usize,
}

impl Lexicon {
    /// The built-in words and `extra` (the rule keywords).
    pub(super) fn new<'a>(extra: impl IntoIterator<Item = &'a str>) -> Self {
        let extra: Vec<&str> = extra.into_iter().collect();
        let guarded: HashSet<String> = PROTECTED_NOUNS
            .iter()
            .chain(&extra)
            .filter(|w| w.chars().count() >= 2)
            .map(|w| (*w).to_owned())
            .collect();
        let words: HashSet<String> = LIGHT_VERB_LOOKALIKES
            .iter()
            .chain(SHORT_NOUNS)
            .chain(&extra)
            .map(|w| (*w).to_owned())
            .chain(guarded.iter().cloned())
            .collect();
        let max_guarded_chars = guarded.iter().map(|w| w.chars().count()).max().unwrap_or(0);
        Self {
            words,
            guarded,
            max_guarded_chars,
        }
    }

    pub(super) fn contains(&self, word: &str) -> bool {
        self.words.contains(word)
    }

    /// Whether cutting `chars` before index `cut` would split a guarded word: one that
    /// starts before the cut and ends after it.
    fn cuts_inside(&self, chars: &[char], cut: usize) -> bool {
        let mut word = String::new();
        for start in cut.saturating_sub(self.max_guarded_chars)..cut {
            word.clear();
            word.extend(&chars[start..cut]);
            for (end, &c) in chars.iter().enumerate().skip(cut) {
                if end - start >= self.max_guarded_chars {
                    break;
                }
                word.push(c);
                if self.guarded.contains(&word) {
                    return true;
                }
            }
        }
        false
    }
}

/// The outcome of one round.
enum Cut {
    /// Keep the first `n` characters.
    At(usize, Kind),
    /// The token is a function word or a verb form: no keyword.
    Drop,
}

/// The longest acceptable suffix of `chars` (see [`strip`]), or `None` when none applies.
fn cut_once(chars: &[char], lexicon: &Lexicon) -> Option<Cut> {
    let suffixes = &*SUFFIXES;
    let mut suffix = String::new();
    for len in (1..=chars.len().min(suffixes.max_chars)).rev() {
        let stem_len = chars.len() - len;
        suffix.clear();
        suffix.extend(&chars[stem_len..]);
        let Some(&kind) = suffixes.kinds.get(&suffix) else {
            continue;
        };
        if stem_len == 0 {
            return Some(Cut::Drop);
        }
        if lexicon.cuts_inside(chars, stem_len)
            && !lexicon.contains(&chars[..stem_len].iter().collect::<String>())
        {
            continue;
        }
        if stem_len == 1 && !lexicon.contains(&chars[0].to_string()) {
            match kind {
                Kind::Ending => return Some(Cut::Drop),
                Kind::Particle | Kind::BareVerb => continue,
            }
        }
        return Some(Cut::At(stem_len, kind));
    }
    None
}

/// The stem of a Hangul token, or `None` when the token is only a particle, a verb form or
/// function word. Rounds of [`cut_once`] (at most [`MAX_ROUNDS`]) go on after an ending or
/// light verb (what precedes it may be another ending, or a particle in unspaced text:
/// "예약을하려면") and stop after a particle, after reaching a known word, or when nothing
/// more applies.
pub(super) fn strip(token: &str, lexicon: &Lexicon) -> Option<String> {
    let mut chars: Vec<char> = token.chars().collect();
    if lexicon.contains(token) {
        return Some(token.to_owned());
    }
    for _ in 0..MAX_ROUNDS {
        match cut_once(&chars, lexicon) {
            None => break,
            Some(Cut::Drop) => return None,
            Some(Cut::At(n, kind)) => {
                chars.truncate(n);
                if kind == Kind::Particle || lexicon.contains(&chars.iter().collect::<String>()) {
                    break;
                }
            }
        }
    }
    // A syllable closed by ㅆ (했, 됐, 었, 렸, 졌) is a past-tense or existential verb form,
    // never the end of a noun: "잊어버렸어요" leaves "잊어버렸", which is no keyword.
    if chars.last().is_some_and(|&c| ends_in_ssang_siot(c)) {
        return None;
    }
    Some(chars.into_iter().collect())
}

/// Whether `c` is a Hangul syllable whose final consonant (종성) is ㅆ.
fn ends_in_ssang_siot(c: char) -> bool {
    const SSANG_SIOT_FINAL: u32 = 20;
    matches!(u32::from(c), 0xAC00..=0xD7A3 if (u32::from(c) - 0xAC00) % 28 == SSANG_SIOT_FINAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stem(token: &str) -> Option<String> {
        strip(token, &Lexicon::new([]))
    }

    #[test]
    fn particles_come_off_nouns() {
        for (token, expected) in [
            ("교통카드는", "교통카드"),
            ("결제가", "결제"),
            ("서울에서는", "서울"),
            ("카드로도", "카드"),
            ("환불은요", "환불"),
            ("정류장에서", "정류장"),
            ("비밀번호를", "비밀번호"),
            ("앱이", "앱"),
            ("카드인가요", "카드"),
            ("로그인이", "로그인"),
        ] {
            assert_eq!(stem(token).as_deref(), Some(expected), "{token}");
        }
    }

    #[test]
    fn light_verbs_and_endings_come_off_to_the_noun() {
        for (token, expected) in [
            ("환불하려면", "환불"),
            ("예약했는데", "예약"),
            ("충전하나요", "충전"),
            ("취소하고", "취소"),
            ("결제하는", "결제"),
            ("문의해요", "문의"),
            ("변경합니다", "변경"),
            ("취소할까요", "취소"),
            ("환불해야", "환불"),
            ("예약했어요", "예약"),
            ("변경할", "변경"),
            ("변경할수있나요", "변경"),
            ("결제되지않아요", "결제"),
            ("로그인이안돼요", "로그인"),
            ("환불받으려면", "환불"),
            ("예약을하려면", "예약"),
            ("취소해주세요", "취소"),
            ("해지하고싶어요", "해지"),
            ("재고있어요", "재고"),
            ("설치된", "설치"),
            ("결제안됨", "결제"),
        ] {
            assert_eq!(stem(token).as_deref(), Some(expected), "{token}");
        }
    }

    #[test]
    fn verb_forms_and_bare_particles_are_dropped() {
        for token in [
            "잊어버렸어요",
            "했는데도",
            "있나요",
            "하나요",
            "해요",
            "찾으려면",
            "할수있나요",
            "되나요",
            "를",
            "에서",
        ] {
            assert_eq!(stem(token), None, "{token}");
        }
    }

    #[test]
    fn nouns_that_look_inflected_are_kept() {
        for token in [
            "문의",
            "결과",
            "역할",
            "이해",
            "추가",
            "카카오페이",
            "고객문의",
            "할인가",
        ] {
            assert_eq!(stem(token).as_deref(), Some(token), "{token}");
        }
        for (token, expected) in [
            ("결과는", "결과"),
            ("문의가", "문의"),
            ("카카오페이로", "카카오페이"),
            ("이해했는데", "이해"),
            ("카드추가", "카드추가"),
            ("세미나요", "세미나"),
        ] {
            assert_eq!(stem(token).as_deref(), Some(expected), "{token}");
        }
    }

    #[test]
    fn rule_keywords_protect_their_spelling() {
        // Without the rule, 의 comes off as a particle; with it, the rule's spelling stays.
        assert_eq!(stem("통화의").as_deref(), Some("통화"));
        let lexicon = Lexicon::new(["통화의"]);
        assert_eq!(strip("통화의", &lexicon).as_deref(), Some("통화의"));
        assert_eq!(strip("통화의는", &lexicon).as_deref(), Some("통화의"));
        // A one-syllable rule keyword is a stem of its own.
        assert_eq!(stem("쿡이"), Some("쿡이".to_owned()));
        assert_eq!(strip("쿡이", &Lexicon::new(["쿡"])).as_deref(), Some("쿡"));
    }

    #[test]
    fn light_verb_look_alikes_do_not_block_light_verbs() {
        // 지하, 영하, 제한 are nouns, but inside these tokens they straddle noun + light verb.
        for (token, expected) in [
            ("운영하려면", "운영"),
            ("해지하고싶어요", "해지"),
            ("삭제한", "삭제"),
            ("이해", "이해"),
            ("방해", "방해"),
        ] {
            assert_eq!(stem(token).as_deref(), Some(expected), "{token}");
        }
    }

    #[test]
    fn a_known_stem_overrides_a_guarded_word() {
        // 경과 is guarded, so 변경과 stays whole unless 변경 is known.
        assert_eq!(stem("변경과").as_deref(), Some("변경과"));
        assert_eq!(
            strip("변경과", &Lexicon::new(["변경"])).as_deref(),
            Some("변경")
        );
    }

    #[test]
    fn one_syllable_stems_need_the_lexicon() {
        // 방 is a built-in one-syllable noun; 모 is not, so 모과 is not 모 + 과.
        assert_eq!(stem("방이").as_deref(), Some("방"));
        assert_eq!(stem("모과").as_deref(), Some("모과"));
    }
}
