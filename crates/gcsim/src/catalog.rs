//! Built-in content of every simulated org: the permission catalog, the
//! built-in (default) roles, the integration types and the region list.
//!
//! The catalog holds several hundred `domain:entity:action` permissions
//! shaped like the real one, including every permission the five seed guides
//! use. `integration:emiteApps:view` is NOT in the default catalog: as in a
//! real org it only exists once the premium app is licensed, which a fixture
//! models with `[catalog] extra_permissions`.

use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// (domain, entity, actions) rows of the default catalog.
const CATALOG: &[(&str, &str, &[&str])] = &[
    ("admin", "organization", &["view", "edit"]),
    ("alerting", "alert", &["view", "edit", "delete"]),
    ("alerting", "rule", &["view", "add", "edit", "delete"]),
    ("analytics", "agentConversationDetail", &["view"]),
    ("analytics", "conversationAggregate", &["view"]),
    ("analytics", "conversationDetail", &["view"]),
    ("analytics", "conversationProperties", &["index", "view"]),
    (
        "analytics",
        "dashboards",
        &["view", "add", "edit", "delete"],
    ),
    (
        "analytics",
        "dataExport",
        &["view", "add", "edit", "delete"],
    ),
    ("analytics", "evaluationAggregate", &["view"]),
    ("analytics", "flowAggregate", &["view"]),
    ("analytics", "flowObservation", &["view"]),
    ("analytics", "queueObservation", &["view"]),
    ("analytics", "reportingSettings", &["view", "edit"]),
    ("analytics", "surveyAggregate", &["view"]),
    ("analytics", "userAggregate", &["view"]),
    ("analytics", "userDetail", &["view"]),
    ("analytics", "userObservation", &["view"]),
    ("architect", "datatable", &["view", "add", "edit", "delete"]),
    (
        "architect",
        "datatableRow",
        &["view", "add", "edit", "delete"],
    ),
    ("architect", "dependencyTracking", &["view", "rebuild"]),
    (
        "architect",
        "emergencyGroup",
        &["view", "add", "edit", "delete"],
    ),
    (
        "architect",
        "flow",
        &[
            "view", "add", "edit", "delete", "publish", "unlock", "search",
        ],
    ),
    ("architect", "flowOutcome", &["view", "add", "edit"]),
    ("architect", "ivr", &["view", "add", "edit", "delete"]),
    ("architect", "schedule", &["view", "add", "edit", "delete"]),
    (
        "architect",
        "scheduleGroup",
        &["view", "add", "edit", "delete"],
    ),
    (
        "architect",
        "userPrompt",
        &["view", "add", "edit", "delete"],
    ),
    ("audits", "audit", &["view"]),
    (
        "authorization",
        "division",
        &["view", "add", "edit", "delete"],
    ),
    ("authorization", "grant", &["view", "add", "delete"]),
    (
        "authorization",
        "orgTrusteeUser",
        &["view", "add", "delete"],
    ),
    ("authorization", "orgTrustor", &["view", "add", "delete"]),
    ("authorization", "role", &["view", "add", "edit", "delete"]),
    ("billing", "subscription", &["view"]),
    ("bots", "bot", &["view", "add", "edit", "delete"]),
    (
        "coaching",
        "appointment",
        &["view", "add", "edit", "delete"],
    ),
    (
        "contentmanagement",
        "document",
        &["view", "add", "edit", "delete"],
    ),
    (
        "contentmanagement",
        "workspace",
        &["view", "add", "edit", "delete"],
    ),
    (
        "conversation",
        "call",
        &["view", "record", "monitor", "coach", "pull"],
    ),
    (
        "conversation",
        "communication",
        &["view", "disconnect", "transfer"],
    ),
    ("conversation", "email", &["view", "create"]),
    ("conversation", "message", &["view", "create"]),
    (
        "conversation",
        "participant",
        &["attributesview", "wrapup", "attributesedit"],
    ),
    ("conversation", "transcription", &["view"]),
    ("conversation", "webchat", &["view", "monitor"]),
    ("directory", "group", &["view", "add", "edit", "delete"]),
    ("directory", "location", &["view", "add", "edit", "delete"]),
    ("directory", "organization", &["admin", "view"]),
    (
        "directory",
        "user",
        &["view", "add", "edit", "delete", "setPassword"],
    ),
    ("directory", "userProfile", &["view", "edit"]),
    ("employee", "profile", &["view", "edit"]),
    (
        "externalContacts",
        "contact",
        &["view", "add", "edit", "delete"],
    ),
    (
        "externalContacts",
        "externalOrganization",
        &["view", "add", "edit", "delete"],
    ),
    ("groups", "team", &["view", "add", "edit", "delete"]),
    ("integration", "8x8", &["view"]),
    ("integration", "eightByEight", &["view"]),
    (
        "integration",
        "presence",
        &["view", "add", "edit", "delete"],
    ),
    ("integration", "unifiedCommunications", &["view"]),
    ("integration", "microsoftTeams", &["view"]),
    ("integration", "zoomPhone", &["view"]),
    (
        "integrations",
        "action",
        &["view", "add", "edit", "delete", "execute"],
    ),
    (
        "integrations",
        "credential",
        &["view", "add", "edit", "delete"],
    ),
    (
        "integrations",
        "integration",
        &["view", "add", "edit", "delete"],
    ),
    ("journey", "actionmap", &["view", "add", "edit", "delete"]),
    (
        "journey",
        "actionTemplate",
        &["view", "add", "edit", "delete"],
    ),
    ("journey", "outcome", &["view", "add", "edit", "delete"]),
    ("journey", "segment", &["view", "add", "edit", "delete"]),
    ("journey", "session", &["view"]),
    ("knowledge", "document", &["view", "add", "edit", "delete"]),
    (
        "knowledge",
        "knowledgebase",
        &["view", "add", "edit", "delete"],
    ),
    ("learning", "module", &["view", "add", "edit", "delete"]),
    (
        "messaging",
        "integration",
        &["view", "add", "edit", "delete"],
    ),
    (
        "messaging",
        "supportedContent",
        &["view", "add", "edit", "delete"],
    ),
    ("notifications", "channel", &["view", "add"]),
    (
        "oauth",
        "client",
        &["view", "add", "edit", "delete", "authorize"],
    ),
    (
        "outbound",
        "attemptLimits",
        &["view", "add", "edit", "delete"],
    ),
    (
        "outbound",
        "callabletimeset",
        &["view", "add", "edit", "delete"],
    ),
    ("outbound", "campaign", &["view", "add", "edit", "delete"]),
    (
        "outbound",
        "campaignRule",
        &["view", "add", "edit", "delete"],
    ),
    (
        "outbound",
        "campaignSequence",
        &["view", "add", "edit", "delete"],
    ),
    ("outbound", "contact", &["view", "add", "edit", "delete"]),
    (
        "outbound",
        "contactList",
        &["view", "add", "edit", "delete"],
    ),
    ("outbound", "dnclist", &["view", "add", "edit", "delete"]),
    (
        "outbound",
        "responseSet",
        &["view", "add", "edit", "delete"],
    ),
    ("outbound", "ruleset", &["view", "add", "edit", "delete"]),
    ("outbound", "wrapUpCodeMapping", &["view", "edit"]),
    (
        "presence",
        "presenceDefinition",
        &["view", "add", "edit", "delete"],
    ),
    ("presence", "userPresence", &["view", "edit"]),
    ("presence", "source", &["view", "add", "edit", "delete"]),
    ("quality", "calibration", &["view", "add", "edit", "delete"]),
    (
        "quality",
        "evaluation",
        &["view", "add", "edit", "delete", "editScore"],
    ),
    (
        "quality",
        "evaluationForm",
        &["view", "add", "edit", "delete"],
    ),
    ("quality", "surveyForm", &["view", "add", "edit", "delete"]),
    ("recording", "recording", &["view", "delete", "export"]),
    ("recording", "recordingSegment", &["view"]),
    (
        "recording",
        "retentionPolicy",
        &["view", "add", "edit", "delete"],
    ),
    ("recording", "screenRecording", &["view"]),
    ("responses", "library", &["view", "add", "edit", "delete"]),
    ("responses", "response", &["view", "add", "edit", "delete"]),
    ("routing", "callRoute", &["view", "edit"]),
    ("routing", "emailDomain", &["view", "add", "edit", "delete"]),
    (
        "routing",
        "language",
        &["view", "add", "edit", "delete", "assign"],
    ),
    (
        "routing",
        "queue",
        &[
            "view", "add", "edit", "delete", "join", "search", "readonly", "member",
        ],
    ),
    ("routing", "queueMember", &["manage"]),
    (
        "routing",
        "skill",
        &["view", "add", "edit", "delete", "assign"],
    ),
    ("routing", "skillGroup", &["view", "add", "edit", "delete"]),
    ("routing", "utilization", &["view", "edit"]),
    ("routing", "wrapupCode", &["view", "add", "edit", "delete"]),
    (
        "scripter",
        "script",
        &["view", "add", "edit", "delete", "publish"],
    ),
    (
        "speechAndTextAnalytics",
        "program",
        &["view", "add", "edit", "delete"],
    ),
    (
        "speechAndTextAnalytics",
        "topic",
        &["view", "add", "edit", "delete"],
    ),
    ("sso", "provider", &["view", "add", "edit", "delete"]),
    ("telephony", "edge", &["view", "add", "edit", "delete"]),
    ("telephony", "phone", &["view", "add", "edit", "delete"]),
    ("telephony", "plugin", &["all"]),
    ("telephony", "site", &["view", "add", "edit", "delete"]),
    ("telephony", "trunk", &["view", "add", "edit", "delete"]),
    ("users", "user", &["view"]),
    ("webchat", "deployment", &["view", "add", "edit", "delete"]),
    (
        "webdeployments",
        "configuration",
        &["view", "add", "edit", "delete"],
    ),
    (
        "webdeployments",
        "deployment",
        &["view", "add", "edit", "delete"],
    ),
    ("wfm", "activityCode", &["view", "add", "edit", "delete"]),
    ("wfm", "adhocForecast", &["view"]),
    ("wfm", "agent", &["view", "edit"]),
    ("wfm", "agentSchedule", &["view"]),
    ("wfm", "agentScheduleNotification", &["view"]),
    ("wfm", "businessUnit", &["view", "add", "edit", "delete"]),
    ("wfm", "historicalAdherence", &["view"]),
    ("wfm", "intraday", &["view"]),
    ("wfm", "managementUnit", &["view", "add", "edit", "delete"]),
    ("wfm", "realtimeAdherence", &["view"]),
    (
        "wfm",
        "schedule",
        &["view", "add", "edit", "delete", "publish"],
    ),
    (
        "wfm",
        "shortTermForecast",
        &["view", "add", "edit", "delete"],
    ),
    ("wfm", "timeOffRequest", &["view", "add", "edit"]),
    ("wfm", "workPlan", &["view", "add", "edit", "delete"]),
    ("workitems", "workbin", &["view", "add", "edit", "delete"]),
    ("workitems", "workitem", &["view", "add", "edit", "delete"]),
    ("workitems", "worktype", &["view", "add", "edit", "delete"]),
];

/// The default permission catalog, sorted.
pub fn default_permissions() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (domain, entity, actions) in CATALOG {
        for action in *actions {
            out.insert(format!("{domain}:{entity}:{action}"));
        }
    }
    out
}

/// Whether a role permission (possibly with `*` segments, e.g.
/// `integration:presence:*`, `presence:*` or `*`) grants `required`.
pub fn permission_matches(pattern: &str, required: &str) -> bool {
    if pattern == required || pattern == "*" {
        return true;
    }
    if !pattern.contains('*') {
        return false;
    }
    let mut p = pattern.split(':');
    let mut r = required.split(':');
    loop {
        match (p.next(), r.next()) {
            (None, None) => return true,
            (Some("*"), Some(_)) => {
                // A trailing `*` covers the rest (`presence:*`).
                if p.clone().next().is_none() {
                    return true;
                }
            }
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

/// Whether a role permission is valid for a catalog: a catalog entry, or a
/// wildcard pattern that matches at least one entry.
pub fn permission_is_known(catalog: &BTreeSet<String>, perm: &str) -> bool {
    if catalog.contains(perm) {
        return true;
    }
    perm.contains('*') && catalog.iter().any(|c| permission_matches(perm, c))
}

/// A label like the catalog's: `routing:queue:view` → `View`.
pub fn action_label(action: &str) -> String {
    let mut out = String::new();
    for (i, c) in action.chars().enumerate() {
        if i == 0 {
            out.extend(c.to_uppercase());
        } else if c.is_uppercase() {
            out.push(' ');
            out.push(c);
        } else {
            out.push(c);
        }
    }
    out
}

/// A built-in role: name (also its `defaultRoleId`), description, permissions.
pub struct BuiltinRole {
    /// Name and `defaultRoleId`.
    pub name: &'static str,
    /// Description.
    pub description: &'static str,
    /// Permissions; `None` means the whole catalog (the `admin` role).
    pub permissions: Option<&'static [&'static str]>,
}

/// The built-in roles of every org.
pub const BUILTIN_ROLES: &[BuiltinRole] = &[
    BuiltinRole {
        name: "admin",
        description: "Master Admin: every permission in the organization",
        permissions: None,
    },
    BuiltinRole {
        name: "employee",
        description: "Default role for every person in the organization",
        permissions: Some(&[
            "directory:user:view",
            "directory:group:view",
            "directory:userProfile:view",
            "directory:location:view",
            "presence:userPresence:view",
            "presence:presenceDefinition:view",
            "conversation:message:create",
        ]),
    },
    BuiltinRole {
        name: "user",
        description: "Basic access for contact center users",
        permissions: Some(&[
            "directory:user:view",
            "directory:group:view",
            "routing:queue:view",
            "routing:skill:view",
            "routing:language:view",
            "routing:wrapupCode:view",
            "conversation:call:view",
            "conversation:communication:view",
        ]),
    },
    BuiltinRole {
        name: "supervisor",
        description: "Monitor queues and agents",
        permissions: Some(&[
            "analytics:conversationAggregate:view",
            "analytics:conversationDetail:view",
            "analytics:queueObservation:view",
            "analytics:userAggregate:view",
            "analytics:userObservation:view",
            "routing:queue:view",
            "routing:queue:search",
            "directory:user:view",
            "directory:group:view",
        ]),
    },
    BuiltinRole {
        name: "developer",
        description: "Build integrations with the Platform API",
        permissions: Some(&[
            "oauth:client:view",
            "integrations:integration:view",
            "integrations:action:view",
            "integrations:action:execute",
            "architect:datatable:view",
        ]),
    },
    BuiltinRole {
        name: "aiAgent",
        description: "AI Agent: Altocloud predictive engagement",
        permissions: Some(&[
            "journey:actionmap:view",
            "journey:segment:view",
            "journey:session:view",
            "journey:outcome:view",
        ]),
    },
    BuiltinRole {
        name: "qualityAdministrator",
        description: "Manage evaluation forms and policies",
        permissions: Some(&[
            "quality:evaluationForm:view",
            "quality:evaluationForm:add",
            "quality:evaluationForm:edit",
            "quality:evaluation:view",
            "recording:recording:view",
        ]),
    },
    BuiltinRole {
        name: "telephonyAdmin",
        description: "Manage telephony",
        permissions: Some(&[
            "telephony:edge:view",
            "telephony:phone:view",
            "telephony:site:view",
            "telephony:trunk:view",
            "telephony:plugin:all",
        ]),
    },
];

/// Type of one integration config property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropType {
    /// JSON string.
    String,
    /// JSON array of strings.
    StringList,
    /// JSON boolean.
    Boolean,
    /// Any JSON value (fixture-defined types).
    Any,
}

/// One config property of an integration type.
#[derive(Debug, Clone)]
pub struct PropSpec {
    /// Property name as it appears in `config.properties`.
    pub name: String,
    /// Its JSON type.
    pub ty: PropType,
    /// Whether a config without it is refused.
    pub required: bool,
    /// Allowed values, for enumerated strings.
    pub allowed: Option<Vec<String>>,
    /// Title shown in the schema.
    pub title: String,
}

/// An integration type.
#[derive(Debug, Clone)]
pub struct IntegrationTypeSpec {
    /// `id`, e.g. `embedded-client-app`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Provider.
    pub provider: String,
    /// Category.
    pub category: String,
    /// Config properties it accepts.
    pub properties: Vec<PropSpec>,
    /// Credentials map (the `credentials` field of the type).
    pub credentials: Value,
    /// Maximum instances, if limited.
    pub max_instances: Option<u32>,
    /// Permissions a user needs to use it.
    pub user_permissions: Vec<String>,
}

fn prop(name: &str, ty: PropType, required: bool, title: &str) -> PropSpec {
    PropSpec {
        name: name.to_string(),
        ty,
        required,
        allowed: None,
        title: title.to_string(),
    }
}

/// The built-in integration types.
pub fn builtin_integration_types() -> Vec<IntegrationTypeSpec> {
    let mut display_type = prop("displayType", PropType::String, true, "Application Type");
    display_type.allowed = Some(vec!["standalone".into(), "widget".into()]);
    vec![
        IntegrationTypeSpec {
            id: "embedded-client-app".into(),
            name: "Client Application".into(),
            description: "Embeds third-party webapps via iframe in the Genesys Cloud UI.".into(),
            provider: "clientapps".into(),
            category: "Client Apps".into(),
            properties: vec![
                prop("url", PropType::String, true, "Application URL"),
                display_type,
                prop(
                    "featureCategory",
                    PropType::String,
                    false,
                    "Application Category",
                ),
                prop("sandbox", PropType::String, false, "Iframe Sandbox Options"),
                prop("groups", PropType::StringList, false, "Group Filtering"),
                // A comma-separated list of iframe features
                // (`camera,microphone`), not Genesys permissions.
                prop(
                    "permissions",
                    PropType::String,
                    false,
                    "Iframe Feature Permissions",
                ),
            ],
            credentials: json!({}),
            max_instances: None,
            user_permissions: vec![],
        },
        IntegrationTypeSpec {
            id: "embedded-client-app-interaction-widget".into(),
            name: "Interaction Widget".into(),
            description: "Embeds third-party webapps in the interaction panel.".into(),
            provider: "clientapps".into(),
            category: "Client Apps".into(),
            properties: vec![
                prop("url", PropType::String, true, "Application URL"),
                prop("sandbox", PropType::String, false, "Iframe Sandbox Options"),
                prop("groups", PropType::StringList, false, "Group Filtering"),
                prop(
                    "queueIdFilterList",
                    PropType::StringList,
                    false,
                    "Queue Filtering",
                ),
                prop(
                    "communicationTypeFilter",
                    PropType::String,
                    false,
                    "Communication Type Filtering",
                ),
                // A comma-separated list of iframe features
                // (`camera,microphone`), not Genesys permissions.
                prop(
                    "permissions",
                    PropType::String,
                    false,
                    "Iframe Feature Permissions",
                ),
            ],
            credentials: json!({}),
            max_instances: None,
            user_permissions: vec![],
        },
        IntegrationTypeSpec {
            id: "amazon-eventbridge-source".into(),
            name: "Amazon EventBridge Source".into(),
            description: "Sends Genesys Cloud notification events to Amazon EventBridge.".into(),
            provider: "genesys".into(),
            category: "Event Integrations".into(),
            properties: vec![
                prop("awsAccountId", PropType::String, true, "AWS Account ID"),
                prop(
                    "awsAccountRegion",
                    PropType::String,
                    true,
                    "AWS Account Region",
                ),
                prop(
                    "eventSourceSuffix",
                    PropType::String,
                    true,
                    "Event Source Suffix",
                ),
                prop(
                    "eventFilter",
                    PropType::StringList,
                    false,
                    "Topic Filtering",
                ),
            ],
            credentials: json!({}),
            max_instances: None,
            user_permissions: vec![],
        },
        IntegrationTypeSpec {
            id: "purecloud-data-actions".into(),
            name: "Genesys Cloud Data Actions".into(),
            description: "Data actions that call the Genesys Cloud Platform API.".into(),
            provider: "genesys".into(),
            category: "Data Actions".into(),
            properties: vec![],
            credentials: json!({
                "pureCloudOAuthClient": {
                    "required": true,
                    "title": "OAuth client credentials",
                    "credentialTypes": ["pureCloudOAuthClient"]
                }
            }),
            max_instances: None,
            user_permissions: vec![],
        },
        IntegrationTypeSpec {
            id: "custom-rest-actions".into(),
            name: "Web Services Data Actions".into(),
            description: "Data actions that call third-party web services.".into(),
            provider: "genesys".into(),
            category: "Data Actions".into(),
            properties: vec![],
            credentials: json!({
                "basicAuth": {
                    "required": false,
                    "title": "Credentials",
                    "credentialTypes": ["basicAuth", "userDefined", "userDefinedOAuth"]
                }
            }),
            max_instances: None,
            user_permissions: vec![],
        },
        IntegrationTypeSpec {
            id: "eight-by-eight".into(),
            name: "8x8".into(),
            description:
                "8x8 unified communications: presence sync and call transfer to 8x8 users.".into(),
            provider: "genesys".into(),
            category: "Unified Communications".into(),
            properties: vec![],
            credentials: json!({}),
            max_instances: Some(1),
            user_permissions: vec![
                "integration:8x8:view".into(),
                "integration:unifiedCommunications:view".into(),
            ],
        },
    ]
}

impl IntegrationTypeSpec {
    /// The JSON schema document of `properties` (`configschemas/properties`).
    pub fn properties_schema(&self) -> Value {
        let mut props = Map::new();
        for p in &self.properties {
            let mut s = Map::new();
            s.insert("title".into(), json!(p.title));
            match p.ty {
                PropType::String => {
                    s.insert("type".into(), json!("string"));
                }
                PropType::StringList => {
                    s.insert("type".into(), json!("array"));
                    s.insert("items".into(), json!({"type": "string"}));
                }
                PropType::Boolean => {
                    s.insert("type".into(), json!("boolean"));
                }
                PropType::Any => {}
            }
            if let Some(a) = &p.allowed {
                s.insert("enum".into(), json!(a));
            }
            props.insert(p.name.clone(), Value::Object(s));
        }
        let required: Vec<&str> = self
            .properties
            .iter()
            .filter(|p| p.required)
            .map(|p| p.name.as_str())
            .collect();
        json!({
            "id": format!("/api/v2/integrations/types/{}/configschemas/properties", self.id),
            "$schema": "http://json-schema.org/draft-04/schema#",
            "title": format!("{} properties", self.name),
            "description": format!("Configuration properties of {}", self.name),
            "type": "object",
            "required": required,
            "properties": props,
            "additionalProperties": false,
        })
    }

    /// Checks each property against the type: known names, right types,
    /// allowed values. Required properties are not enforced on save (the
    /// real service saves a disabled integration's config with
    /// `properties: {}`).
    pub fn check_properties(&self, props: &Map<String, Value>) -> Result<(), String> {
        for (k, v) in props {
            let Some(spec) = self.properties.iter().find(|p| &p.name == k) else {
                let known: Vec<&str> = self.properties.iter().map(|p| p.name.as_str()).collect();
                return Err(format!(
                    "Input validation error: property \"{k}\" is not defined by integration type \"{}\" (known properties: [{}])",
                    self.id,
                    known.join(", ")
                ));
            };
            let ok = match spec.ty {
                PropType::String => v.is_string(),
                PropType::StringList => {
                    v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
                }
                PropType::Boolean => v.is_boolean(),
                PropType::Any => true,
            };
            if !ok {
                return Err(format!(
                    "Input validation error: property \"{k}\" of integration type \"{}\" has the wrong type",
                    self.id
                ));
            }
            if let (Some(allowed), Some(s)) = (&spec.allowed, v.as_str()) {
                if !allowed.iter().any(|a| a == s) {
                    return Err(format!(
                        "Input validation error: property \"{k}\" must be one of [{}], got \"{s}\"",
                        allowed.join(", ")
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A Genesys Cloud region: (AWS region, API/login domain).
pub const REGIONS: &[(&str, &str)] = &[
    ("us-east-1", "mypurecloud.com"),
    ("us-east-2", "use2.us-gov-pure.cloud"),
    ("us-west-2", "usw2.pure.cloud"),
    ("ca-central-1", "cac1.pure.cloud"),
    ("sa-east-1", "sae1.pure.cloud"),
    ("mx-central-1", "mxc1.pure.cloud"),
    ("eu-west-1", "mypurecloud.ie"),
    ("eu-west-2", "euw2.pure.cloud"),
    ("eu-central-1", "mypurecloud.de"),
    ("eu-central-2", "euc2.pure.cloud"),
    ("me-central-1", "mec1.pure.cloud"),
    ("ap-south-1", "aps1.pure.cloud"),
    ("ap-northeast-1", "mypurecloud.jp"),
    ("ap-northeast-2", "apne2.pure.cloud"),
    ("ap-northeast-3", "apne3.pure.cloud"),
    ("ap-southeast-1", "apse1.pure.cloud"),
    ("ap-southeast-2", "mypurecloud.com.au"),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The table is the published region list kept beside the contract.
    #[test]
    fn regions_match_regions_json() {
        let list: Vec<serde_json::Value> =
            serde_json::from_str(include_str!("../contract/regions.json")).unwrap();
        let mut published: Vec<(String, String)> = list
            .iter()
            .map(|r| {
                (
                    r["region"].as_str().unwrap().to_owned(),
                    r["publicDomainName"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let mut ours: Vec<(String, String)> = REGIONS
            .iter()
            .map(|(r, d)| ((*r).to_owned(), (*d).to_owned()))
            .collect();
        published.sort();
        ours.sort();
        assert!(!published.is_empty());
        assert_eq!(ours, published);
    }

    #[test]
    fn catalog_is_large_and_has_seed_permissions() {
        let c = default_permissions();
        assert!(c.len() > 400, "{}", c.len());
        for p in [
            "analytics:conversationDetail:view",
            "authorization:grant:view",
            "wfm:managementUnit:edit",
            "outbound:wrapUpCodeMapping:view",
            "routing:queue:readonly",
            "integration:presence:view",
            "integration:unifiedCommunications:view",
            "conversation:participant:attributesview",
            "groups:team:view",
        ] {
            assert!(c.contains(p), "{p}");
        }
        assert!(!c.contains("integration:emiteApps:view"));
    }

    #[test]
    fn wildcards() {
        assert!(permission_matches("*", "a:b:c"));
        assert!(permission_matches(
            "presence:*",
            "presence:userPresence:edit"
        ));
        assert!(permission_matches(
            "integration:presence:*",
            "integration:presence:view"
        ));
        assert!(permission_matches("routing:*:view", "routing:queue:view"));
        assert!(!permission_matches("routing:*:view", "routing:queue:edit"));
        assert!(!permission_matches(
            "routing:queue:view",
            "routing:queue:edit"
        ));
        assert!(!permission_matches(
            "presence:*",
            "integration:presence:view"
        ));
        let c = default_permissions();
        assert!(permission_is_known(&c, "integration:presence:*"));
        assert!(!permission_is_known(&c, "nosuch:*"));
    }
}
