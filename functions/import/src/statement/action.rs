//! The `action` row: verb, object (Activity, Agent, Group, StatementRef, SubStatement) and
//! course.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::{
    MappingRules, Rejection,
    actor::{actor_identity, identify},
    key_hash, reject,
    values::{cut, language_map_text, opt},
};

#[derive(Debug, Clone, PartialEq)]
pub struct ActionRow {
    pub id: u64,
    pub verb_id: String,
    pub verb_display: Option<String>,
    pub object_id: String,
    pub object_type: Option<String>,
    pub object_name: Option<String>,
    pub course_id: Option<String>,
}

/// Column limits (characters): identifiers are rejected when longer, since a cut
/// identifier would merge distinct things; display texts (and the activity type) are cut.
const MAX_VERB_ID: usize = 512;
const MAX_OBJECT_ID: usize = 1024;
const MAX_COURSE_ID: usize = 128;
const MAX_VERB_DISPLAY: usize = 255;
const MAX_OBJECT_TYPE: usize = 255;
const MAX_OBJECT_NAME: usize = 512;

/// Maps verb and object; the course id is looked for in `parent_ids`, then `grouping_ids`
/// (the context activities), then the object id.
pub(super) fn map_action(
    verb: Option<&Value>,
    object: Option<&Value>,
    parent_ids: &[String],
    grouping_ids: &[String],
    rules: &MappingRules,
) -> Result<ActionRow, Rejection> {
    let (verb_id, verb) = verb_of(verb, "verb")?;
    let verb_display = language_map_text(verb.get("display")).map(|s| cut(s, MAX_VERB_DISPLAY));
    let object = present_object(object, "object")?;
    let (object_id, object_type) = object_of(object, "object", true)?;
    let object_type = object_type.map(|t| cut(t, MAX_OBJECT_TYPE));
    let object_name = language_map_text(object.get("definition").and_then(|d| d.get("name")))
        .map(|s| cut(s, MAX_OBJECT_NAME));
    let course_id = course_id(
        parent_ids.iter().chain(grouping_ids).chain([&object_id]),
        rules,
    )?;
    let id = key_hash(&[
        &verb_id,
        opt(&verb_display),
        &object_id,
        opt(&object_type),
        opt(&object_name),
        opt(&course_id),
    ]);
    Ok(ActionRow {
        id,
        verb_id,
        verb_display,
        object_id,
        object_type,
        object_name,
        course_id,
    })
}

/// The verb at `path` and its id.
fn verb_of<'v>(
    verb: Option<&'v Value>,
    path: &str,
) -> Result<(String, &'v Map<String, Value>), Rejection> {
    let verb = present_object(verb, path)?;
    let verb_id = match verb.get("id") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        None | Some(Value::Null) => return reject(format!("{path}.id is missing")),
        Some(_) => return reject(format!("{path}.id is not a non-empty string")),
    };
    if verb_id.chars().count() > MAX_VERB_ID {
        return reject(format!("{path}.id longer than {MAX_VERB_ID} characters"));
    }
    Ok((verb_id, verb))
}

fn present_object<'v>(
    value: Option<&'v Value>,
    path: &str,
) -> Result<&'v Map<String, Value>, Rejection> {
    match value {
        None | Some(Value::Null) => reject(format!("{path} is missing")),
        Some(Value::Object(map)) => Ok(map),
        Some(_) => reject(format!("{path} is not an object")),
    }
}

/// The object id and `object_type` column of the object at `path`. A SubStatement is
/// allowed only at the top (xAPI forbids one inside another).
fn object_of(
    object: &Map<String, Value>,
    path: &str,
    sub_statement_allowed: bool,
) -> Result<(String, Option<String>), Rejection> {
    let kind = match object.get("objectType") {
        None | Some(Value::Null) => "Activity",
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return reject(format!("{path}.objectType is not a string")),
    };
    let (object_id, object_type) = match kind {
        "Activity" => activity(object, path)?,
        "Agent" | "Group" => (identify(object, path)?.uid, Some(kind.to_owned())),
        "StatementRef" => match object
            .get("id")
            .and_then(Value::as_str)
            .map(Uuid::parse_str)
        {
            Some(Ok(id)) => (id.hyphenated().to_string(), Some(kind.to_owned())),
            _ => return reject(format!("{path}.id of a StatementRef is not a UUID")),
        },
        "SubStatement" if sub_statement_allowed => {
            (sub_statement(object, path)?, Some(kind.to_owned()))
        }
        "SubStatement" => {
            return reject(format!(
                "{path} is a SubStatement inside a SubStatement, which xAPI forbids"
            ));
        }
        other => {
            return reject(format!(
                "{path}.objectType {other:?} is not an xAPI object type"
            ));
        }
    };
    if object_id.chars().count() > MAX_OBJECT_ID {
        return reject(format!("{path}.id longer than {MAX_OBJECT_ID} characters"));
    }
    Ok((object_id, object_type))
}

fn activity(
    object: &Map<String, Value>,
    path: &str,
) -> Result<(String, Option<String>), Rejection> {
    let id = match object.get("id") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        None | Some(Value::Null) => return reject(format!("{path}.id is missing")),
        Some(_) => return reject(format!("{path}.id is not a non-empty string")),
    };
    let activity_type = match object.get("definition").and_then(|d| d.get("type")) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return reject(format!("{path}.definition.type is not a string")),
    };
    Ok((id, activity_type))
}

/// A SubStatement needs an actor, a verb and an object of its own; its object's id (an
/// activity id, an agent or group uid, or a statement id) is the action's object id.
fn sub_statement(sub: &Map<String, Value>, path: &str) -> Result<String, Rejection> {
    actor_identity(sub.get("actor"), &format!("{path}.actor"))?;
    verb_of(sub.get("verb"), &format!("{path}.verb"))?;
    let inner_path = format!("{path}.object");
    let inner = present_object(sub.get("object"), &inner_path)?;
    Ok(object_of(inner, &inner_path, false)?.0)
}

/// The first match of the course-id pattern among `ids`: its first capture group, or the
/// whole match.
fn course_id<'a>(
    mut ids: impl Iterator<Item = &'a String>,
    rules: &MappingRules,
) -> Result<Option<String>, Rejection> {
    let course_id = ids
        .find_map(|id| {
            rules.course_id_pattern.captures(id).map(|c| {
                c.get(1)
                    .or_else(|| c.get(0))
                    .map_or("", |m| m.as_str())
                    .to_owned()
            })
        })
        .filter(|c| !c.is_empty());
    if course_id
        .as_ref()
        .is_some_and(|c| c.chars().count() > MAX_COURSE_ID)
    {
        return reject(format!("course id longer than {MAX_COURSE_ID} characters"));
    }
    Ok(course_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Result<(String, Option<String>), Rejection> {
        let Value::Object(map) = value else {
            unreachable!("tests pass objects")
        };
        object_of(&map, "object", true)
    }

    fn sub(object: Value) -> Value {
        json!({"objectType": "SubStatement", "actor": {"mbox": "mailto:a@x.org"},
               "verb": {"id": "http://adlnet.gov/expapi/verbs/mentored"}, "object": object})
    }

    #[test]
    fn a_sub_statement_about_an_agent_or_group_is_mapped() {
        let agent = object(sub(
            json!({"objectType": "Agent", "mbox": "mailto:B@x.org"}),
        ))
        .expect("valid");
        assert_eq!(
            agent,
            ("mailto:b@x.org".to_owned(), Some("SubStatement".to_owned()))
        );
        let group = object(sub(json!({"objectType": "Group",
            "member": [{"mbox": "mailto:b@x.org"}]})))
        .expect("valid");
        assert!(group.0.starts_with("group:"), "{group:?}");
        let activity = object(sub(json!({"id": "https://x.org/a"}))).expect("valid");
        assert_eq!(activity.0, "https://x.org/a");
        let id = "0F3C1D22-5B6E-4D8F-9C0A-1B2C3D4E5F60";
        let reference =
            object(sub(json!({"objectType": "StatementRef", "id": id}))).expect("valid");
        assert_eq!(reference.0, id.to_lowercase());
    }

    #[test]
    fn a_sub_statement_needs_its_own_actor_verb_and_object() {
        let mut no_actor = sub(json!({"id": "https://x.org/a"}));
        no_actor.as_object_mut().expect("object").remove("actor");
        let mut no_verb_id = sub(json!({"id": "https://x.org/a"}));
        no_verb_id["verb"] = json!({"display": {"en": "x"}});
        for (value, reason) in [
            (no_actor, "object.actor is missing"),
            (no_verb_id, "object.verb.id is missing"),
            (sub(Value::Null), "object.object is missing"),
            (
                sub(json!({"objectType": "Agent"})),
                "object.object has no identifier (mbox, mbox_sha1sum, openid or account)",
            ),
            (
                sub(sub(json!({"id": "https://x.org/a"}))),
                "object.object is a SubStatement inside a SubStatement, which xAPI forbids",
            ),
        ] {
            assert_eq!(object(value).expect_err("invalid").0, reason);
        }
    }

    #[test]
    fn an_anonymous_group_object_gets_its_group_uid() {
        let (id, kind) = object(json!({"objectType": "Group",
            "member": [{"mbox": "mailto:b@x.org"}, {"openid": "https://x.org/c"}]}))
        .expect("valid");
        assert!(id.starts_with("group:") && id.len() == 38, "{id}");
        assert_eq!(kind.as_deref(), Some("Group"));
    }
}
