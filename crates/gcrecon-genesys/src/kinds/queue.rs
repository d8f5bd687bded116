//! `queue`: routing queues (`/api/v2/routing/queues`).
//!
//! | manifest | wire (`CreateQueueRequest`, `QueueRequest`, `Queue`) |
//! |---|---|
//! | `name` | `name` |
//! | `division` | `division.id` |
//! | `description` | `description` |
//! | `acw_wrapup_prompt` | `acwSettings.wrapupPrompt` |
//! | `acw_timeout_ms` | `acwSettings.timeoutMs` |
//! | `skill_evaluation_method` | `skillEvaluationMethod` |
//! | `scoring_method` | `scoringMethod` |
//! | `auto_answer_only` | `autoAnswerOnly` |
//! | `enable_transcription` | `enableTranscription` |
//! | `enable_manual_assignment` | `enableManualAssignment` |
//! | `suppress_in_queue_call_recording` | `suppressInQueueCallRecording` |
//! | `enable_audio_monitoring` | `enableAudioMonitoring` |
//! | `calling_party_name` | `callingPartyName` |
//! | `calling_party_number` | `callingPartyNumber` |
//!
//! A flag (`autoAnswerOnly`, ...) the queue leaves out reads as `false`.
//!
//! `PUT` replaces the whole queue: fields gcrecon does not manage (media
//! settings, flows, member groups, ...) would be cleared by a body of the
//! manifest's keys alone. An update therefore reads the queue, sets the
//! changed keys on what it read and puts that back. Queues carry no
//! `version`; the fingerprint of the attributes stands in. Members (the
//! queue's agents) are not managed here; `data.users` reads them.

use gcrecon_core::provider::{GenesysId, LiveObject, ProviderError};
use gcrecon_core::value::{Attrs, Value};
use gcrecon_core::Kind;
use serde_json::{Map, Value as Json};

use crate::http::Request;
use crate::kinds::{OpFuture, RestKind, RestOps, Update};
use crate::listing::{ListSpec, NameLookup};
use crate::wire::{fingerprint, id_of, str_field, AttrReader};
use crate::Ctx;

const ONE: &str = "/api/v2/routing/queues/{queueId}";

pub const SPEC: ListSpec = ListSpec {
    what: "queue",
    list: "/api/v2/routing/queues",
    page_size: 100,
    id_filter: Some(("id", 100)),
    by_id: Some((ONE, "queueId")),
    extra_query: &[],
    names: NameLookup::Query("name"),
};

static REST: RestKind = RestKind {
    kind: Kind::Queue,
    audit_entity: Some("Queue"),
    listing: SPEC,
    to_live,
    page: None,
    to_wire,
};

/// Each manifest key (but `name`) and the path of its wire field.
const FIELDS: &[(&str, &[&str])] = &[
    ("division", &["division", "id"]),
    ("description", &["description"]),
    ("acw_wrapup_prompt", &["acwSettings", "wrapupPrompt"]),
    ("acw_timeout_ms", &["acwSettings", "timeoutMs"]),
    ("skill_evaluation_method", &["skillEvaluationMethod"]),
    ("scoring_method", &["scoringMethod"]),
    ("auto_answer_only", &["autoAnswerOnly"]),
    ("enable_transcription", &["enableTranscription"]),
    ("enable_manual_assignment", &["enableManualAssignment"]),
    (
        "suppress_in_queue_call_recording",
        &["suppressInQueueCallRecording"],
    ),
    ("enable_audio_monitoring", &["enableAudioMonitoring"]),
    ("calling_party_name", &["callingPartyName"]),
    ("calling_party_number", &["callingPartyNumber"]),
];

/// Boolean keys a `Queue` may leave out: absent reads as `false`, as the
/// service omits a flag that was never set.
const FLAGS: &[&str] = &[
    "auto_answer_only",
    "enable_transcription",
    "enable_manual_assignment",
    "suppress_in_queue_call_recording",
    "enable_audio_monitoring",
];

/// Fields of a `Queue` the service owns: left out of a `PUT` body.
const SERVER_OWNED: &[&str] = &[
    "id",
    "dateCreated",
    "dateModified",
    "modifiedBy",
    "createdBy",
    "memberCount",
    "userMemberCount",
    "joinedMemberCount",
    "selfUri",
];

/// Queues: the REST defaults, but an update reads the queue first and
/// changes only the keys the plan found changed.
pub struct Queue;

impl RestOps for Queue {
    fn rest(&self) -> &'static RestKind {
        &REST
    }

    fn update<'a>(&'a self, ctx: &'a Ctx, update: Update<'a>) -> OpFuture<'a, LiveObject> {
        Box::pin(read_and_put(ctx, update))
    }
}

async fn read_and_put(ctx: &Ctx, update: Update<'_>) -> Result<LiveObject, ProviderError> {
    let id = &update.live.id;
    let current = ctx
        .api
        .send(Request::get(ONE).param("queueId", id.as_str()))
        .await
        .map_err(|e| ctx.gone(e, Kind::Queue, id))?;
    let body = put_body(current, update.desired, update.changed)?;
    REST.put(ctx, id, body).await
}

/// The `QueueRequest` for an update: the queue as read, without the
/// fields the service owns and with the `changed` keys set from `desired`
/// (a changed key the manifest no longer sets is left as read).
fn put_body(current: Json, desired: &Attrs, changed: &[String]) -> Result<Json, ProviderError> {
    let Json::Object(mut body) = current else {
        return Err(crate::wire::malformed("a queue that is not a JSON object"));
    };
    for field in SERVER_OWNED {
        body.remove(*field);
    }
    // A `Division` as read carries its name and URI; a request names it by id.
    if let Some(division) = body.get("division").and_then(|d| str_field(d, "id")) {
        let division = division.to_owned();
        body.insert("division".into(), serde_json::json!({ "id": division }));
    }
    let r = AttrReader::new(Kind::Queue, desired);
    if changed.iter().any(|k| k == "name") {
        body.insert("name".into(), Json::from(r.required_string("name")?));
    }
    for (key, path) in FIELDS {
        if !changed.iter().any(|k| k == key) {
            continue;
        }
        if let Some(v) = r.json(key)? {
            set_path(&mut body, path, v);
        }
    }
    Ok(Json::Object(body))
}

/// Sets `value` at `path`, making the objects on the way.
fn set_path(object: &mut Map<String, Json>, path: &[&str], value: Json) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut at = object;
    for p in parents {
        let slot = at.entry(*p).or_insert_with(|| Json::Object(Map::new()));
        if !slot.is_object() {
            *slot = Json::Object(Map::new());
        }
        let Json::Object(next) = slot else {
            unreachable!("made an object just above")
        };
        at = next;
    }
    at.insert((*last).to_owned(), value);
}

fn get_path<'a>(wire: &'a Json, path: &[&str]) -> Option<&'a Json> {
    path.iter()
        .try_fold(wire, |at, p| at.get(*p))
        .filter(|v| !v.is_null())
}

/// Wire → live object.
pub fn to_live(wire: &Json) -> Result<LiveObject, ProviderError> {
    let id = id_of(wire, "queue")?;
    let name = str_field(wire, "name").unwrap_or_default().to_owned();
    let mut attrs = Attrs::new();
    attrs.insert("name".into(), Value::from(name.clone()));
    for (key, path) in FIELDS {
        if let Some(v) = get_path(wire, path) {
            attrs.insert((*key).to_owned(), Value::from_json(v));
        }
    }
    for flag in FLAGS {
        attrs.get_or_insert_with((*flag).to_owned(), || Value::Bool(false));
    }
    Ok(LiveObject {
        kind: Kind::Queue,
        id: GenesysId::from(id),
        name,
        version: fingerprint(&attrs),
        attrs,
        builtin: false,
    })
}

/// Manifest attributes → `CreateQueueRequest` body (every key the
/// manifest sets, defaults included).
pub fn to_wire(desired: &Attrs) -> Result<Json, ProviderError> {
    let r = AttrReader::new(Kind::Queue, desired);
    let mut body = Map::new();
    body.insert("name".into(), Json::from(r.required_string("name")?));
    for (key, path) in FIELDS {
        if let Some(v) = r.json(key)? {
            set_path(&mut body, path, v);
        }
    }
    Ok(Json::Object(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn wire() -> Json {
        json!({
            "id": "q1", "name": "Support",
            "division": {"id": "d1", "name": "Service", "selfUri": "/d"},
            "description": "first line",
            "acwSettings": {"wrapupPrompt": "MANDATORY_TIMEOUT", "timeoutMs": 30000},
            "skillEvaluationMethod": "BEST", "scoringMethod": "TimestampAndPriority",
            "autoAnswerOnly": true, "enableTranscription": false,
            "enableManualAssignment": false, "suppressInQueueCallRecording": true,
            "mediaSettings": {"call": {"alertingTimeoutSeconds": 8}},
            "memberCount": 3, "dateCreated": "2026-01-01T00:00:00Z", "selfUri": "/q",
        })
    }

    #[test]
    fn mapping_round_trip() {
        let live = to_live(&wire()).unwrap();
        assert_eq!(live.name, "Support");
        assert_eq!(live.attrs["division"], Value::from("d1"));
        assert_eq!(live.attrs["acw_timeout_ms"], Value::from(30_000_i64));
        assert_eq!(live.attrs["skill_evaluation_method"], Value::from("BEST"));
        assert!(!live.attrs.contains_key("calling_party_name"));
        assert_eq!(
            live.attrs["enable_audio_monitoring"],
            Value::Bool(false),
            "a flag left out is off"
        );
        let mut attrs = live.attrs;
        attrs.remove("enable_audio_monitoring");
        assert_eq!(
            to_wire(&attrs).unwrap(),
            json!({
                "name": "Support", "division": {"id": "d1"}, "description": "first line",
                "acwSettings": {"wrapupPrompt": "MANDATORY_TIMEOUT", "timeoutMs": 30000},
                "skillEvaluationMethod": "BEST", "scoringMethod": "TimestampAndPriority",
                "autoAnswerOnly": true, "enableTranscription": false,
                "enableManualAssignment": false, "suppressInQueueCallRecording": true,
            })
        );
        assert!(to_live(&json!({"name": "no id"})).is_err());
    }

    #[test]
    fn an_update_keeps_what_it_does_not_manage() {
        let mut desired = to_live(&wire()).unwrap().attrs;
        desired.insert("acw_wrapup_prompt".into(), Value::from("OPTIONAL"));
        desired.insert("description".into(), Value::from("changed"));
        let body = put_body(wire(), &desired, &["acw_wrapup_prompt".to_owned()]).unwrap();
        assert_eq!(body["acwSettings"]["wrapupPrompt"], "OPTIONAL");
        assert_eq!(body["acwSettings"]["timeoutMs"], 30000, "kept as read");
        assert_eq!(body["description"], "first line", "not changed by the plan");
        assert_eq!(body["mediaSettings"]["call"]["alertingTimeoutSeconds"], 8);
        assert_eq!(body["division"], json!({"id": "d1"}));
        for owned in SERVER_OWNED {
            assert!(body.get(*owned).is_none(), "{owned} is sent");
        }
    }
}
