//! Whole statements through [`normalise`]; each part's own rules are tested beside it.

use super::*;
use serde_json::json;

fn rules() -> MappingRules {
    MappingRules::with_base(
        "https://example.edu/x/",
        None,
        Regex::new(r"/course/(?:view\.php\?id=)?([^/?#&]+)").expect("pattern"),
        chrono_tz::Asia::Taipei,
    )
}

fn origin() -> Origin<'static> {
    Origin {
        entry_name: "logs/2024-05-01.jsonl",
        entry_file_name: "2024-05-01.jsonl",
        named_log_date: NaiveDate::from_ymd_opt(2024, 5, 1),
        received_at: "2024-05-02T00:00:00Z".parse().expect("instant"),
    }
}

/// An entry whose name holds no date, arriving at `received_at`.
fn undated_origin(received_at: &str) -> Origin<'static> {
    Origin {
        entry_name: "statements.jsonl",
        entry_file_name: "statements.jsonl",
        named_log_date: None,
        received_at: received_at.parse().expect("instant"),
    }
}

fn minimal() -> Value {
    json!({"actor": {"mbox": "mailto:A@x.org"}, "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
           "object": {"id": "https://example.edu/course/view.php?id=770"}})
}

fn with(field: &str, value: Value) -> Value {
    let mut s = minimal();
    s[field] = value;
    s
}

fn accepted(statement: Value) -> Normalised {
    normalise(statement, origin(), &rules()).expect("valid")
}

fn rejected(statement: Value) -> String {
    normalise(statement, origin(), &rules())
        .expect_err("rejected")
        .0
}

/// `levels` nested objects around a number.
fn nested(levels: usize) -> Value {
    (0..levels).fold(json!(1), |inner, _| json!({ "k": inner }))
}

#[test]
fn a_statement_without_id_gets_a_stable_derived_id() {
    let a = accepted(minimal());
    let b = accepted(minimal());
    assert!(a.derived_id);
    assert_eq!(a.statement_id, b.statement_id);
    let mut other = minimal();
    other["verb"]["id"] = json!("http://adlnet.gov/expapi/verbs/attempted");
    assert_ne!(accepted(other).statement_id, a.statement_id);
}

#[test]
fn a_statement_without_timestamp_takes_the_log_date_at_local_midnight() {
    let n = accepted(minimal());
    assert_eq!(
        n.log_date,
        NaiveDate::from_ymd_opt(2024, 5, 1).expect("date")
    );
    // Midnight in Taipei (UTC+8) is 16:00 the day before in UTC.
    assert_eq!(n.event_time.to_string(), "2024-04-30 16:00:00");
    assert_eq!(n.event_info.event_time, None);
}

#[test]
fn an_undated_day_that_skips_midnight_starts_at_its_first_local_hour() {
    // São Paulo skipped midnight on 2018-11-04: the day began at 01:00 local, 03:00 UTC.
    let mut rules = rules();
    rules.business_time_zone = chrono_tz::America::Sao_Paulo;
    let origin = Origin {
        named_log_date: NaiveDate::from_ymd_opt(2018, 11, 4),
        ..origin()
    };
    let n = normalise(minimal(), origin, &rules).expect("valid");
    assert_eq!(n.event_time.to_string(), "2018-11-04 03:00:00");
}

#[test]
fn course_id_comes_from_the_parent_before_the_object() {
    let s = with(
        "context",
        json!({"contextActivities": {"parent": [{"id": "https://example.edu/course/view.php?id=941"}]}}),
    );
    assert_eq!(accepted(s).action.course_id.as_deref(), Some("941"));
    assert_eq!(accepted(minimal()).action.course_id.as_deref(), Some("770"));
}

#[test]
fn each_missing_part_is_named_in_the_rejection() {
    for (field, reason) in [
        ("actor", "actor is missing"),
        ("verb", "verb is missing"),
        ("object", "object is missing"),
    ] {
        let mut s = minimal();
        s.as_object_mut().expect("object").remove(field);
        assert_eq!(rejected(s), reason);
    }
    assert!(rejected(with("timestamp", json!("yesterday"))).contains("timestamp"));
    assert_eq!(
        rejected(with("result", json!({"success": "yes"}))),
        "result.success is not a boolean"
    );
    assert!(rejected(with("actor", json!({"name": "nobody"}))).contains("no identifier"));
    assert_eq!(
        normalise(json!([1]), origin(), &rules())
            .expect_err("rejected")
            .0,
        "statement is not a JSON object"
    );
}

#[test]
fn unmapped_extensions_are_kept_and_mapped_ones_are_not_repeated() {
    let mut s = minimal();
    s["context"] = json!({"extensions": {
        "https://example.edu/x/student-level": "國中",
        "https://example.edu/x/session-id": "s1",
        "https://w3id.org/xapi/video/extensions/length": 60,
        "http://other.org/ext": {"a": 1}}});
    s["result"] = json!({"extensions": {"https://w3id.org/xapi/video/extensions/time": 12.5}});
    let n = accepted(s);
    assert_eq!(n.actor.category.as_deref(), Some("國中"));
    assert_eq!(
        n.cookie.as_ref().and_then(|c| c.session_id.as_deref()),
        Some("s1")
    );
    let video = n.video.expect("video row");
    assert_eq!((video.length, video.video_time), (Some(60.0), Some(12.5)));
    assert_eq!(
        n.event_info.extensions,
        Some(json!({"context": {"http://other.org/ext": {"a": 1}}}))
    );
}

// Timestamps.

#[test]
fn a_timestamp_without_seconds_is_accepted_with_z_as_with_an_offset() {
    let z = accepted(with("timestamp", json!("2024-05-01T10:00Z")));
    assert_eq!(z.event_time.to_string(), "2024-05-01 10:00:00");
    let offset = accepted(with("timestamp", json!("2024-05-01T18:00+08:00")));
    assert_eq!(offset.event_time, z.event_time);
    assert_eq!(
        offset.event_info.event_time,
        Some(z.event_time),
        "event_info keeps the instant"
    );
}

#[test]
fn timestamp_fractions_are_truncated_to_milliseconds() {
    let n = accepted(with("timestamp", json!("2024-05-01T10:00:00.123987Z")));
    assert_eq!(n.event_time.to_string(), "2024-05-01 10:00:00.123");
    let s = accepted(with("stored", json!("2024-05-01T10:00:00.4567891+00:00")));
    assert_eq!(
        s.event_info.stored_time.map(|t| t.to_string()).as_deref(),
        Some("2024-05-01 10:00:00.456")
    );
}

#[test]
fn other_date_time_forms_are_rejected_with_the_profile() {
    for text in [
        "2024-05-01",
        "20240501T1000Z",
        "2024-W18-3T10:00Z",
        "12024-05-01T10:00Z",
    ] {
        let reason = rejected(with("timestamp", json!(text)));
        assert!(
            reason.starts_with(&format!("timestamp {text:?} is not an ISO 8601 date-time")),
            "{reason}"
        );
    }
}

#[test]
fn a_leap_second_is_rejected_with_its_reason() {
    assert_eq!(
        rejected(with("timestamp", json!("2024-12-31T23:59:60Z"))),
        r#"timestamp "2024-12-31T23:59:60Z" is a leap second, which the database cannot store"#
    );
    assert!(
        rejected(with("stored", json!("2025-01-01T08:59:60.250+09:00")))
            .starts_with(r#"stored "2025-01-01T08:59:60.250+09:00" is a leap second"#)
    );
}

#[test]
fn instants_the_database_cannot_store_are_rejected() {
    for text in ["9999-12-31T23:30:00-01:00", "0001-01-01T00:00:00+01:00"] {
        let reason = rejected(with("timestamp", json!(text)));
        assert!(
            reason.starts_with(&format!(
                "timestamp {text:?} is outside what the database stores"
            )),
            "{reason}"
        );
    }
}

#[test]
fn instants_outside_the_date_window_are_rejected() {
    let reason = rejected(with("timestamp", json!("1999-12-31T23:59:59Z")));
    assert!(
        reason.contains("outside the plausible window 2000-01-01 (included) to 2100-01-01"),
        "{reason}"
    );
    assert!(rejected(with("stored", json!("2100-01-01T00:00Z"))).starts_with("stored "));
    let mut narrow = rules();
    narrow.date_window = DateWindow::new(
        NaiveDate::from_ymd_opt(2024, 1, 1).expect("date"),
        NaiveDate::from_ymd_opt(2025, 1, 1).expect("date"),
    )
    .expect("window");
    let late = with("timestamp", json!("2025-01-01T07:59:59+08:00"));
    assert!(normalise(late, origin(), &narrow).is_ok());
    let later = with("timestamp", json!("2025-01-01T08:00:00+08:00"));
    assert!(normalise(later, origin(), &narrow).is_err());
}

// Agents and groups.

#[test]
fn an_anonymous_group_is_imported_as_actor_and_as_object() {
    let group = json!({"objectType": "Group", "name": "team 3",
        "member": [{"mbox": "mailto:b@x.org"}, {"account": {"homePage": "https://x.org", "name": "c"}}]});
    let reordered = json!({"objectType": "Group",
        "member": [{"account": {"homePage": "https://x.org", "name": "c"}}, {"mbox": "mailto:B@x.org"}]});
    let actor = accepted(with("actor", group.clone())).actor;
    assert_eq!((actor.ifi, actor.object_type), ("members", "Group"));
    assert!(actor.uid.starts_with("group:") && actor.uid.len() == 38);
    assert_eq!(actor.name.as_deref(), Some("team 3"));
    assert_eq!(accepted(with("actor", reordered)).actor.uid, actor.uid);
    let action = accepted(with("object", group)).action;
    assert_eq!(action.object_id, actor.uid);
    assert_eq!(action.object_type.as_deref(), Some("Group"));
}

#[test]
fn an_anonymous_group_without_valid_members_is_rejected() {
    assert_eq!(
        rejected(with("actor", json!({"objectType": "Group", "member": []}))),
        "actor is a Group with no identifier and an empty member list"
    );
    assert_eq!(
        rejected(with("object", json!({"objectType": "Group"}))),
        "object is a Group with no identifier and no member list"
    );
}

#[test]
fn a_sub_statement_about_an_agent_is_imported() {
    let n = accepted(with(
        "object",
        json!({"objectType": "SubStatement", "actor": {"openid": "https://x.org/t"},
               "verb": {"id": "http://adlnet.gov/expapi/verbs/mentored"},
               "object": {"objectType": "Agent", "mbox": "mailto:S@x.org"}}),
    ));
    assert_eq!(n.action.object_id, "mailto:s@x.org");
    assert_eq!(n.action.object_type.as_deref(), Some("SubStatement"));
    assert_eq!(
        rejected(with(
            "object",
            json!({"objectType": "SubStatement", "verb": {"id": "v"}, "object": {"id": "o"}})
        )),
        "object.actor is missing"
    );
}

#[test]
fn an_agent_with_two_identifiers_is_rejected() {
    assert_eq!(
        rejected(with(
            "actor",
            json!({"mbox": "mailto:a@x.org", "openid": "https://x.org/a"})
        )),
        "actor has 2 identifiers (mbox, openid); xAPI requires exactly one"
    );
    assert!(
        rejected(with(
            "object",
            json!({"objectType": "Agent", "mbox": "mailto:a@x.org",
                   "account": {"homePage": "https://x.org", "name": "a"}})
        ))
        .starts_with("object has 2 identifiers (mbox, account)")
    );
}

// What the database would refuse.

#[test]
fn context_extensions_may_nest_31_levels_as_stored_and_not_32() {
    let ext = |levels| {
        with(
            "context",
            json!({"extensions": {"http://other.org/deep": nested(levels)}}),
        )
    };
    // 29 levels inside {"context": {<iri>: …}} are 31 as stored.
    let n = accepted(ext(29));
    let stored = n.event_info.extensions.expect("extensions");
    assert_eq!(values::nesting(&stored), 31);
    assert_eq!(
        rejected(ext(30)),
        "context extensions nested 32 levels deep; the database stores at most 31"
    );
    let result = with(
        "result",
        json!({"extensions": {"http://other.org/deep": nested(30)}}),
    );
    assert!(rejected(result).starts_with("result extensions nested 32 levels"));
    let mut object = minimal();
    object["object"]["definition"] = json!({"extensions": {"http://other.org/deep": nested(30)}});
    assert!(rejected(object).starts_with("object extensions nested 32 levels"));
}

#[test]
fn context_activities_and_sentence_details_obey_the_json_depth_limit() {
    let activities = |levels| {
        with(
            "context",
            json!({"contextActivities": {"other": [{"id": "https://x.org/a", "definition": nested(levels)}]}}),
        )
    };
    // {"other": [{"definition": …}]} adds three levels.
    assert!(
        accepted(activities(28))
            .event_info
            .context_activities
            .is_some()
    );
    assert_eq!(
        rejected(activities(29)),
        "context.contextActivities nested 32 levels deep; the database stores at most 31"
    );
    let sentences = |levels| {
        with(
            "result",
            json!({"extensions": {"https://example.edu/x/sentences": [{"text": "hi", "audio": nested(levels)}]}}),
        )
    };
    assert_eq!(accepted(sentences(30)).sentences.len(), 1);
    assert_eq!(
        rejected(sentences(31)),
        "sentence 0 detail nested 32 levels deep; the database stores at most 31"
    );
}

#[test]
fn an_entry_name_longer_than_its_column_is_rejected() {
    let name = format!("{}/a.json", "目".repeat(505));
    assert_eq!(name.chars().count(), 512);
    let fits = Origin {
        entry_name: &name,
        ..origin()
    };
    assert!(normalise(minimal(), fits, &rules()).is_ok());
    let longer = format!("x{name}");
    let too_long = Origin {
        entry_name: &longer,
        ..origin()
    };
    assert_eq!(
        normalise(minimal(), too_long, &rules())
            .expect_err("rejected")
            .0,
        "entry name longer than 512 characters"
    );
}

// Content hash and derived ids.

#[test]
fn the_content_hash_ignores_what_an_lrs_sets_and_the_timestamp_offset() {
    let utc = accepted(with("timestamp", json!("2024-05-01T10:00Z")));
    let mut local = with("timestamp", json!("2024-05-01T18:00:00.000+08:00"));
    local["id"] = json!("5f0c3c36-7a7e-4c57-9d0a-3f1f3e0e6b8a");
    local["stored"] = json!("2024-05-02T00:00:00Z");
    local["version"] = json!("1.0.3");
    local["authority"] = json!({"mbox": "mailto:lrs@x.org"});
    let local = accepted(local);
    assert_eq!(utc.content_hash, local.content_hash);
    assert_ne!(
        accepted(with("timestamp", json!("2024-05-01T10:00:01Z"))).content_hash,
        utc.content_hash
    );
    let reordered: Value = serde_json::from_str(
        r#"{"object": {"id": "https://example.edu/course/view.php?id=770"},
            "timestamp": "2024-05-01T10:00Z",
            "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
            "actor": {"mbox": "mailto:A@x.org"}}"#,
    )
    .expect("json");
    assert_eq!(accepted(reordered).content_hash, utc.content_hash);
}

#[test]
fn the_same_undated_file_uploaded_on_two_days_gives_the_same_ids() {
    let first =
        normalise(minimal(), undated_origin("2024-05-02T01:00:00Z"), &rules()).expect("valid");
    let again =
        normalise(minimal(), undated_origin("2024-05-09T01:00:00Z"), &rules()).expect("valid");
    assert_eq!(first.statement_id, again.statement_id);
    // The log date still falls back to the day it arrived, in the business zone.
    assert_eq!(first.log_date.to_string(), "2024-05-02");
    assert_eq!(again.log_date.to_string(), "2024-05-09");
}

#[test]
fn an_undated_statement_in_two_named_log_files_is_two_events() {
    let day = |d| Origin {
        named_log_date: NaiveDate::from_ymd_opt(2024, 5, d),
        ..origin()
    };
    let first = normalise(minimal(), day(1), &rules()).expect("valid");
    let second = normalise(minimal(), day(2), &rules()).expect("valid");
    assert_ne!(first.statement_id, second.statement_id);
    assert_eq!(first.content_hash, second.content_hash);
    // With a timestamp the name's date is not part of the id.
    let dated = with("timestamp", json!("2024-05-01T10:00:00Z"));
    assert_eq!(
        normalise(dated.clone(), day(1), &rules())
            .expect("valid")
            .statement_id,
        normalise(dated, day(2), &rules())
            .expect("valid")
            .statement_id
    );
}
