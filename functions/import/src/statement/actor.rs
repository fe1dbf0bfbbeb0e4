//! The `actor` row: agents, identified groups and anonymous groups, and the identity of an
//! Agent or Group wherever it appears (actor, object, a SubStatement's actor).

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{
    MappingRules, Rejection, key_hash, reject,
    values::{cut, opt, optional_str},
};

#[derive(Debug, Clone, PartialEq)]
pub struct ActorRow {
    pub id: u64,
    pub uid: String,
    pub ifi: &'static str,
    pub object_type: &'static str,
    pub name: Option<String>,
    pub category: Option<String>,
    pub filename: String,
}

/// Column limits (characters): `uid` is an identifier (rejected when longer), `category`
/// a level name (rejected), `name` and `filename` are display texts (cut).
const MAX_UID: usize = 512;
const MAX_CATEGORY: usize = 32;
const MAX_NAME: usize = 255;
const MAX_FILENAME: usize = 255;

/// The inverse functional identifiers of xAPI, in the order the specification lists them.
const IFIS: [&str; 4] = ["mbox", "mbox_sha1sum", "openid", "account"];

/// Who an Agent or Group is: the `actor` columns that identify it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Identity {
    /// `mbox`, `mbox_sha1sum`, `openid`, `account`, or `members` for an anonymous group.
    pub ifi: &'static str,
    pub uid: String,
    /// `Agent` or `Group`.
    pub object_type: &'static str,
}

/// Takes the student level out of the context extensions (`actor.category`).
pub(super) fn student_level(
    context_ext: &mut Map<String, Value>,
    rules: &MappingRules,
) -> Result<Option<String>, Rejection> {
    match context_ext.remove(&rules.level_extension) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= MAX_CATEGORY => {
            Ok(Some(s.trim().to_owned()).filter(|c| !c.is_empty()))
        }
        Some(Value::String(_)) => reject(format!(
            "student level longer than {MAX_CATEGORY} characters"
        )),
        Some(_) => reject("student level extension is not a string"),
    }
}

pub(super) fn map_actor(
    actor: Option<&Value>,
    category: Option<String>,
    filename: &str,
) -> Result<ActorRow, Rejection> {
    let (actor, identity) = actor_identity(actor, "actor")?;
    if identity.uid.chars().count() > MAX_UID {
        return reject(format!("actor identifier longer than {MAX_UID} characters"));
    }
    let name = optional_str(actor, "name", "actor.name")?.map(|n| cut(n, MAX_NAME));
    let filename = cut(filename.to_owned(), MAX_FILENAME);
    let id = key_hash(&[&identity.uid, opt(&category), &filename]);
    Ok(ActorRow {
        id,
        uid: identity.uid,
        ifi: identity.ifi,
        object_type: identity.object_type,
        name,
        category,
        filename,
    })
}

/// An actor (of the statement or of a SubStatement, at `path`): present, an object, an
/// Agent or a Group.
pub(super) fn actor_identity<'v>(
    actor: Option<&'v Value>,
    path: &str,
) -> Result<(&'v Map<String, Value>, Identity), Rejection> {
    let Some(actor) = actor.filter(|a| !a.is_null()) else {
        return reject(format!("{path} is missing"));
    };
    let Value::Object(actor) = actor else {
        return reject(format!("{path} is not an object"));
    };
    Ok((actor, identify(actor, path)?))
}

/// The identity of an Agent (`objectType` absent or `Agent`) or a Group at `path`.
pub(super) fn identify(agent: &Map<String, Value>, path: &str) -> Result<Identity, Rejection> {
    let object_type = match agent.get("objectType") {
        None | Some(Value::Null) => "Agent",
        Some(Value::String(s)) if s == "Agent" => "Agent",
        Some(Value::String(s)) if s == "Group" => "Group",
        Some(other) => {
            return reject(format!(
                "{path}.objectType {other} is neither Agent nor Group"
            ));
        }
    };
    let present: Vec<&str> = IFIS
        .into_iter()
        .filter(|ifi| agent.get(*ifi).is_some_and(|v| !v.is_null()))
        .collect();
    let members = if object_type == "Group" {
        group_members(agent, path, present.is_empty())?
    } else {
        Vec::new()
    };
    match present.as_slice() {
        [ifi] => Ok(Identity {
            uid: identifier(agent, ifi, path)?,
            ifi,
            object_type,
        }),
        [] if object_type == "Group" => Ok(Identity {
            ifi: "members",
            uid: anonymous_group_uid(members),
            object_type,
        }),
        [] => reject(format!(
            "{path} has no identifier (mbox, mbox_sha1sum, openid or account)"
        )),
        several => reject(format!(
            "{path} has {} identifiers ({}); xAPI requires exactly one",
            several.len(),
            several.join(", ")
        )),
    }
}

/// The uids of a Group's members, each an Agent with exactly one identifier. `required`
/// for an anonymous group, which is its members; an identified group may list them.
fn group_members(
    group: &Map<String, Value>,
    path: &str,
    required: bool,
) -> Result<Vec<String>, Rejection> {
    let members = match group.get("member") {
        None | Some(Value::Null) if required => {
            return reject(format!(
                "{path} is a Group with no identifier and no member list"
            ));
        }
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(members)) => members,
        Some(_) => return reject(format!("{path}.member is not an array")),
    };
    if required && members.is_empty() {
        return reject(format!(
            "{path} is a Group with no identifier and an empty member list"
        ));
    }
    let mut uids = Vec::with_capacity(members.len());
    for (index, member) in members.iter().enumerate() {
        let at = format!("{path}.member[{index}]");
        let Value::Object(member) = member else {
            return reject(format!("{at} is not an object"));
        };
        let identity = identify(member, &at)?;
        if identity.object_type != "Agent" {
            return reject(format!("{at} is a Group; a Group's members must be Agents"));
        }
        uids.push(identity.uid);
    }
    Ok(uids)
}

/// `group:` and the first 32 hex digits of SHA-256 over the members' uids, sorted and
/// joined with line feeds: the same members in any order are the same group.
fn anonymous_group_uid(mut members: Vec<String>) -> String {
    members.sort_unstable();
    let digest = Sha256::digest(members.join("\n").as_bytes());
    format!("group:{}", hex::encode(&digest[..16]))
}

/// The uid of the one identifier `ifi` that `agent` has.
fn identifier(agent: &Map<String, Value>, ifi: &str, path: &str) -> Result<String, Rejection> {
    if ifi == "account" {
        return account_uid(agent.get("account"), path);
    }
    let text = match agent.get(ifi) {
        Some(Value::String(s)) if !s.trim().is_empty() => s.as_str(),
        _ => return reject(format!("{path}.{ifi} is not a non-empty string")),
    };
    match ifi {
        "mbox" if !text.starts_with("mailto:") => {
            reject(format!("{path}.mbox does not start with mailto:"))
        }
        "mbox" => Ok(text.to_lowercase()),
        "mbox_sha1sum" => Ok(format!("sha1:{}", text.to_lowercase())),
        _ => Ok(text.to_owned()),
    }
}

fn account_uid(account: Option<&Value>, path: &str) -> Result<String, Rejection> {
    let Some(Value::Object(account)) = account else {
        return reject(format!("{path}.account is not an object"));
    };
    let home = account
        .get("homePage")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let name = match account.get("name") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    match (home, name) {
        (Some(home), Some(name)) => Ok(format!("{home}|{name}")),
        _ => reject(format!("{path}.account needs homePage and name strings")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn identity(value: Value) -> Result<Identity, Rejection> {
        let Value::Object(map) = value else {
            unreachable!("tests pass objects")
        };
        identify(&map, "actor")
    }

    #[test]
    fn an_agent_with_two_identifiers_is_rejected() {
        let error = identity(json!({"mbox": "mailto:a@x.org", "openid": "https://x.org/a"}))
            .expect_err("two identifiers");
        assert_eq!(
            error.0,
            "actor has 2 identifiers (mbox, openid); xAPI requires exactly one"
        );
        let group = json!({"objectType": "Group", "mbox_sha1sum": "ab",
            "account": {"homePage": "https://x.org", "name": "g"}});
        assert!(
            identity(group)
                .expect_err("two")
                .0
                .contains("2 identifiers")
        );
        let member = json!({"objectType": "Group", "member": [
            {"mbox": "mailto:a@x.org", "mbox_sha1sum": "ab", "openid": "https://x.org/a"}]});
        assert_eq!(
            identity(member).expect_err("three").0,
            "actor.member[0] has 3 identifiers (mbox, mbox_sha1sum, openid); xAPI requires exactly one"
        );
    }

    #[test]
    fn an_anonymous_group_is_its_members_in_any_order() {
        let a = identity(json!({"objectType": "Group", "member": [
            {"mbox": "mailto:A@x.org"}, {"account": {"homePage": "https://x.org", "name": 7}}]}))
        .expect("valid");
        let b = identity(json!({"objectType": "Group", "name": "team", "member": [
            {"objectType": "Agent", "account": {"homePage": "https://x.org", "name": "7"}},
            {"mbox": "mailto:a@x.org"}]}))
        .expect("valid");
        assert_eq!(a, b);
        assert_eq!((a.ifi, a.object_type), ("members", "Group"));
        let expected = Sha256::digest(b"https://x.org|7\nmailto:a@x.org");
        assert_eq!(a.uid, format!("group:{}", hex::encode(&expected[..16])));
        assert_eq!(a.uid.len(), 38);
        let other =
            identity(json!({"objectType": "Group", "member": [{"mbox": "mailto:a@x.org"}]}))
                .expect("valid");
        assert_ne!(other.uid, a.uid);
    }

    #[test]
    fn an_anonymous_group_needs_valid_agent_members() {
        for (group, reason) in [
            (
                json!({"objectType": "Group"}),
                "actor is a Group with no identifier and no member list",
            ),
            (
                json!({"objectType": "Group", "member": []}),
                "actor is a Group with no identifier and an empty member list",
            ),
            (
                json!({"objectType": "Group", "member": {"mbox": "mailto:a@x.org"}}),
                "actor.member is not an array",
            ),
            (
                json!({"objectType": "Group", "member": [{"mbox": "mailto:a@x.org"}, {"name": "b"}]}),
                "actor.member[1] has no identifier (mbox, mbox_sha1sum, openid or account)",
            ),
            (
                json!({"objectType": "Group", "member": [{"objectType": "Group", "mbox": "mailto:g@x.org"}]}),
                "actor.member[0] is a Group; a Group's members must be Agents",
            ),
            (
                json!({"objectType": "Group", "member": ["mailto:a@x.org"]}),
                "actor.member[0] is not an object",
            ),
        ] {
            assert_eq!(identity(group).expect_err("invalid").0, reason);
        }
    }

    #[test]
    fn an_identified_group_keeps_its_identifier_and_checks_its_members() {
        let g = identity(json!({"objectType": "Group", "openid": "https://x.org/g",
            "member": [{"mbox": "mailto:a@x.org"}]}))
        .expect("valid");
        assert_eq!((g.ifi, g.uid.as_str()), ("openid", "https://x.org/g"));
        assert!(
            identity(json!({"objectType": "Group", "openid": "https://x.org/g",
                "member": [{"name": "nobody"}]}))
            .is_err()
        );
    }
}
