//! `queue`: a routing queue (`/api/v2/routing/queues`), its division and
//! its basic routing settings. Keys follow the Genesys Terraform provider's
//! `genesyscloud_routing_queue`, and so do the defaults.

use super::{ExportSpec, KindSpec, Permissions, Reference};
use crate::kind::Kind;
use crate::schema::{
    key,
    DiffKind::Plain,
    KeyDefault, KeySpec,
    KeyType::{Bool, Enum, Integer, String},
};

// One key a line, as a table.
#[rustfmt::skip]
const KEYS: &[KeySpec] = &[
    key!("name", String, true, Plain, "The queue's name."),
    key!("division", String, false, Plain, "The division's id, usually `${division.x.id}` or `${data.division.x.id}`; left out, a new queue goes to the home division and an existing queue stays where it is."),
    key!("description", String, false, Plain, "Free text."),
    key!("acw_wrapup_prompt", Enum(&["MANDATORY", "OPTIONAL", "MANDATORY_TIMEOUT", "MANDATORY_FORCED_TIMEOUT", "AGENT_REQUESTED"]), false, Plain, "How the agent is prompted for a wrap-up code after the conversation. Default `MANDATORY_TIMEOUT`.", default = KeyDefault::Str("MANDATORY_TIMEOUT")),
    key!("acw_timeout_ms", Integer, false, Plain, "How long the agent may stay in after-call work, in milliseconds (1000 to 3600000); only with `MANDATORY_TIMEOUT`, `MANDATORY_FORCED_TIMEOUT` or `AGENT_REQUESTED`. Left to the service when omitted."),
    key!("skill_evaluation_method", Enum(&["NONE", "BEST", "ALL"]), false, Plain, "How agents' skills are evaluated when routing. Default `ALL`.", default = KeyDefault::Str("ALL")),
    key!("scoring_method", Enum(&["TimestampAndPriority", "PriorityOnly"]), false, Plain, "How waiting conversations are ranked. Default `TimestampAndPriority`.", default = KeyDefault::Str("TimestampAndPriority")),
    key!("auto_answer_only", Bool, false, Plain, "Whether the whisper plays only for auto-answered calls. Default `true`.", default = KeyDefault::Bool(true)),
    key!("enable_transcription", Bool, false, Plain, "Whether voice transcription is on. Default `false`.", default = KeyDefault::Bool(false)),
    key!("enable_manual_assignment", Bool, false, Plain, "Whether conversations may be assigned by hand. Default `false`.", default = KeyDefault::Bool(false)),
    key!("suppress_in_queue_call_recording", Bool, false, Plain, "Whether recording of calls waiting in the queue is suppressed. Default `true`.", default = KeyDefault::Bool(true)),
    key!("enable_audio_monitoring", Bool, false, Plain, "Whether audio monitoring is on; left to the organization when omitted."),
    key!("calling_party_name", String, false, Plain, "Caller name on outbound calls from the queue."),
    key!("calling_party_number", String, false, Plain, "Caller number on outbound calls from the queue."),
];

pub(super) const SPEC: KindSpec = KindSpec {
    kind: Kind::Queue,
    doc: "A routing queue.",
    keys: KEYS,
    name_key: Some("name"),
    label_key: "name",
    computed: &["id"],
    sensitive: &[],
    permissions: Permissions {
        create: &[&["routing:queue:add"]],
        update: &[&["routing:queue:edit"]],
        delete: &[&["routing:queue:delete"]],
    },
    references: &[Reference {
        key: "division",
        kind: Kind::Division,
    }],
    user_keys: &[],
    export: ExportSpec {
        // The default export is the org's access set-up (roles, clients,
        // integrations); a contact centre's queues are many and are
        // exported when asked for (`--kinds queue`).
        by_default: false,
        refused: None,
        left_out: &[],
        data_source: None,
    },
};
