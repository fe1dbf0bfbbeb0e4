use super::*;

fn rule(keyword: &str, category: &str, weight: f64) -> Rule {
    Rule {
        keyword: keyword.to_owned(),
        category: category.to_owned(),
        weight,
    }
}

/// A small rule set in the spirit of the seed migration (tests never read the SQL file).
fn rules() -> Vec<Rule> {
    vec![
        rule("교통카드", "transport", 2.0),
        rule("충전", "payment", 1.0),
        rule("환불", "payment", 2.0),
        rule("결제", "payment", 2.0),
        rule("refund", "payment", 2.0),
        rule("ticket", "transport", 1.0),
        rule("ktx", "transport", 2.0),
        rule("예약", "reservation", 2.0),
        rule("취소", "reservation", 1.0),
        rule("로그인", "account", 2.0),
        rule("bus", "transport", 2.0),
    ]
}

fn classifier() -> BuiltinClassifier {
    BuiltinClassifier::new(rules())
}

fn classification(category: &str, keywords: &[&str]) -> Classification {
    Classification {
        category: category.to_owned(),
        keywords: keywords.iter().map(|k| (*k).to_owned()).collect(),
    }
}

#[test]
fn korean_question() {
    let c = classifier();
    assert_eq!(
        c.classify("교통카드는 어디서 충전하나요?"),
        classification("transport", &["교통카드", "충전"])
    );
    assert_eq!(
        c.classify("환불하려면 어떻게 해야 하나요"),
        classification("payment", &["환불"])
    );
    assert_eq!(
        c.classify("어제 예약했는데 결제가 안 돼요"),
        classification("payment", &["어제", "예약", "결제"])
    );
}

#[test]
fn english_question() {
    let c = classifier();
    assert_eq!(
        c.classify("How do I get a refund for my ticket?"),
        classification("payment", &["refund", "ticket"])
    );
    // Plurals match their singular's rule, the possessive comes off.
    assert_eq!(
        c.classify("Where do the buses stop? The bus's route changed"),
        classification("transport", &["buses", "stop", "bus", "route", "changed"])
    );
}

#[test]
fn mixed_scripts() {
    let c = classifier();
    assert_eq!(
        c.classify("KTX예약 취소하려면"),
        classification("reservation", &["ktx", "예약", "취소"])
    );
    // Full-width letters meet their plain form; amounts are no keywords.
    assert_eq!(c.keywords("ＫＴＸ 5만원 결제", 5), ["ktx", "결제"]);
    assert_eq!(
        c.keywords("iPhone15 앱 설치 오류ㅠㅠ", 5),
        ["iphone", "앱", "설치", "오류"]
    );
}

#[test]
fn particle_and_ending_table() {
    let c = BuiltinClassifier::new(Vec::new());
    for (question, expected) in [
        ("교통카드는", &["교통카드"][..]),
        ("환불하려면", &["환불"]),
        ("예약했는데", &["예약"]),
        ("결제가", &["결제"]),
        ("어디서", &[]),
        ("있나요", &[]),
        ("충전합니다", &["충전"]),
        ("변경할까요", &["변경"]),
        ("문의하나요", &["문의"]),
        ("등록해요", &["등록"]),
        ("결제해야", &["결제"]),
        ("신청했어요", &["신청"]),
        ("로그인이안돼요", &["로그인"]),
        ("서울에서는", &["서울"]),
        ("결과는", &["결과"]),
        ("카카오페이로", &["카카오페이"]),
        ("카드등록이안되요", &["카드등록"]),
        ("보내주세요", &["보내"]),
        ("알려주세요", &[]),
        ("궁금합니다", &[]),
        ("가능한가요", &[]),
        ("ㅋㅋㅋ", &[]),
    ] {
        assert_eq!(c.keywords(question, 5), expected, "{question}");
    }
}

#[test]
fn stopwords_only() {
    let c = classifier();
    for question in [
        "어디서 어떻게 하나요?",
        "How do I do it?",
        "",
        "   ",
        "?!",
        "123 456",
        "ㅠㅠ",
    ] {
        assert_eq!(
            c.classify(question),
            classification(OTHER, &[]),
            "{question:?}"
        );
    }
}

#[test]
fn keywords_are_distinct_bounded_and_never_empty() {
    let c = classifier();
    assert_eq!(c.keywords("환불 환불요 환불은 환불!", 5), ["환불"]);
    let long = "교통카드 버스 지하철 기차 택시 공항 정류장 노선";
    let all = c.classify(long).keywords;
    assert_eq!(all, ["교통카드", "버스", "지하철", "기차", "택시"]);
    assert_eq!(c.keywords(long, 2), ["교통카드", "버스"]);
    assert!(c.keywords(long, 0).is_empty());
    assert!(c.keywords(long, 100).iter().all(|k| !k.is_empty()));
    assert_eq!(c.keywords(long, 100).len(), 8);
}

#[test]
fn scoring_prefers_early_and_repeated_terms() {
    let c = BuiltinClassifier::new(Vec::new());
    // Same length, one occurrence each: first occurrence wins.
    assert_eq!(c.keywords("ticket refund", 5), ["ticket", "refund"]);
    assert_eq!(c.keywords("refund ticket", 5), ["refund", "ticket"]);
    // Position weighs most; repetition can lift a later term above an earlier one of the
    // same length…
    assert_eq!(
        c.keywords("abcd efgh wxyz wxyz wxyz", 5),
        ["abcd", "efgh", "wxyz"]
    );
    assert_eq!(
        c.keywords("abcd efgh wxyz wxyz wxyz wxyz wxyz", 5),
        ["abcd", "wxyz", "efgh"]
    );
    // …and so can length.
    assert_eq!(
        c.keywords("ab cd reimbursement", 5),
        ["ab", "reimbursement", "cd"]
    );
    assert_eq!(c.keywords("앱 표 교통카드", 5), ["앱", "교통카드", "표"]);
}

#[test]
fn determinism() {
    let question = "KTX 예약 취소하고 환불받으려면 교통카드로 결제해야 하나요?";
    let first = classifier().classify(question);
    for _ in 0..10 {
        assert_eq!(classifier().classify(question), first);
    }
    let mut reversed = rules();
    reversed.reverse();
    assert_eq!(BuiltinClassifier::new(reversed).classify(question), first);
    assert_eq!(first.keywords, ["ktx", "예약", "취소", "교통카드", "환불"]);
    // Every term counts for the category, not only the five keywords: reservation 3,
    // payment 2 + 2 (환불, 결제), transport 2 + 2 (ktx, 교통카드).
    assert_eq!(first.category, "payment");
}

#[test]
fn rule_prefix_match() {
    let c = classifier();
    assert_eq!(
        c.classify("환불금은 언제 들어오나요"),
        classification("payment", &["환불금", "들어오"])
    );
    // An exact rule is preferred to a prefix rule of the same category, and the longest
    // prefix rule counts once.
    let c = BuiltinClassifier::new(vec![
        rule("환불", "payment", 1.0),
        rule("환불금", "payment", 3.0),
        rule("환불금액", "payment", 5.0),
        rule("환불", "support", 2.0),
    ]);
    assert_eq!(
        c.classify("환불금액조회"),
        classification("payment", &["환불금액조회"])
    );
    assert_eq!(
        c.matches("환불금액조회"),
        BTreeMap::from([("payment", 5.0), ("support", 2.0)])
    );
    assert_eq!(
        c.matches("환불금"),
        BTreeMap::from([("payment", 3.0), ("support", 2.0)])
    );
    // A one-syllable rule matches only exactly; Latin rules are no prefixes.
    let c = BuiltinClassifier::new(vec![
        rule("차", "transport", 1.0),
        rule("pay", "payment", 1.0),
    ]);
    assert_eq!(
        c.classify("차량 등록"),
        classification(OTHER, &["차량", "등록"])
    );
    assert_eq!(
        c.classify("차 등록"),
        classification("transport", &["차", "등록"])
    );
    assert_eq!(c.classify("payment"), classification(OTHER, &["payment"]));
}

#[test]
fn unspaced_text_still_finds_a_prefix_rule() {
    let c = classifier();
    assert_eq!(
        c.classify("교통카드어디서충전하나요"),
        classification("transport", &["교통카드어디서충전"])
    );
}

#[test]
fn category_ties_go_to_the_first_name() {
    let c = BuiltinClassifier::new(vec![
        rule("alpha", "zulu", 1.0),
        rule("beta", "alpha", 1.0),
        rule("gamma", "mike", 0.5),
        rule("delta", "mike", 0.5),
    ]);
    assert_eq!(c.classify("alpha beta").category, "alpha");
    assert_eq!(c.classify("beta alpha").category, "alpha");
    assert_eq!(c.classify("alpha gamma delta").category, "mike");
    // Sums that differ only by rounding are a tie.
    let c = BuiltinClassifier::new(vec![
        rule("one", "b", 0.1),
        rule("two", "b", 0.2),
        rule("three", "a", 0.3),
    ]);
    assert_eq!(c.classify("one two three").category, "a");
}

#[test]
fn bad_weights_and_empty_rules_are_ignored() {
    let c = BuiltinClassifier::new(vec![
        rule("환불", "payment", f64::NAN),
        rule("환불", "refunds", f64::INFINITY),
        rule("환불", "negative", -1.0),
        rule("환불", "zero", 0.0),
        rule("", "empty", 1.0),
        rule("환불", "  ", 1.0),
    ]);
    assert_eq!(
        c.classify("환불 문의"),
        classification(OTHER, &["환불", "문의"])
    );
    let c = BuiltinClassifier::new(vec![
        rule("환불", "payment", -1.0),
        rule("환불", "money", 0.5),
    ]);
    assert_eq!(c.classify("환불").category, "money");
}

#[test]
fn rule_keywords_are_normalised_and_merged() {
    let c = BuiltinClassifier::new(vec![
        rule("  ＫＴＸ ", "transport", 1.0),
        rule("KTX", "transport", 3.0),
        rule("ktx", "rail", 2.0),
    ]);
    assert_eq!(
        c.matches("ktx"),
        BTreeMap::from([("rail", 2.0), ("transport", 3.0)])
    );
    assert_eq!(c.classify("ktx 예매").category, "transport");
}

#[test]
fn rule_keywords_override_the_filters() {
    let plain = BuiltinClassifier::new(Vec::new());
    assert_eq!(plain.keywords("결제 가능한가요", 5), ["결제"]);
    let c = BuiltinClassifier::new(vec![
        rule("가능", "capability", 1.0),
        rule("쿡", "brand", 1.0),
        rule("112", "emergency", 1.0),
    ]);
    assert_eq!(c.keywords("결제 가능한가요", 5), ["결제", "가능"]);
    assert_eq!(c.classify("쿡이 뭐예요"), classification("brand", &["쿡"]));
    assert_eq!(
        c.classify("112 번호"),
        classification("emergency", &["112", "번호"])
    );
}

#[test]
fn counters_after_a_number_are_no_keywords() {
    let c = BuiltinClassifier::new(Vec::new());
    assert_eq!(
        c.keywords("강남역에서 9시에 교통카드 충전 가능한가요? (3번)", 5),
        ["강남역", "교통카드", "충전"]
    );
    assert_eq!(c.keywords("2박 3일 예약 변경", 5), ["예약", "변경"]);
    // Without a number before it, the same word is an ordinary term.
    assert!(c.keywords("시간 변경 문의", 5).contains(&"시간".to_owned()));
}
