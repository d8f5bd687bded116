//! Tests of the renderers: snapshots of every view for a mixed plan, an
//! empty plan, an oversized plan and a drift report; the JSON shape; and
//! that a sensitive value reaches no view.

use std::collections::BTreeMap;

use gcrecon_core::diff;
use gcrecon_core::drift::{
    ActorKind, AuditActor, AuditChange, AuditEntry, Coverage, DriftReport, DriftedObject,
    KeyChange, MissingObject, UnmanagedObject,
};
use gcrecon_core::plan::{
    Action, CallerGrantAction, CallerGrantChange, OutputChange, Plan, ResourceChange,
    PLAN_FORMAT_VERSION,
};
use gcrecon_core::provider::GenesysId;
use gcrecon_core::value::Attrs;
use gcrecon_core::{Address, Kind, Value};

use super::*;

const SECRET: &str = "hunter2-very-secret-value";

fn attrs<const N: usize>(pairs: [(&str, Value); N]) -> Attrs {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn change(
    kind: Kind,
    name: &str,
    actions: Vec<Action>,
    before: Option<Attrs>,
    after: Option<Attrs>,
) -> ResourceChange {
    ResourceChange {
        address: Address::resource(kind, name),
        kind,
        name: name.into(),
        actions,
        before,
        after,
        id: None,
        changed_keys: vec![],
        replace_because: vec![],
        sensitive_keys: vec![],
        keys: vec![],
        live_version: None,
        note: None,
    }
}

/// `rc` with the per-key results the planner computes: from the
/// `changed_keys` and `replace_because` the fixture names, or else from
/// core's diff of `after` (as desired) against `before` (as live). The
/// fixture's own fields stay as written, so the JSON view is unchanged.
fn with_key_changes(mut rc: ResourceChange) -> ResourceChange {
    let (Some(before), Some(after)) = (&rc.before, &rc.after) else {
        return rc;
    };
    let d = if rc.changed_keys.is_empty() {
        diff::diff(&diff::DiffInput {
            kind: rc.kind,
            desired: after,
            live: before,
            applied: None,
            ignore_changes: &[],
            home_division_id: None,
        })
    } else {
        diff::AttrDiff {
            changed_keys: rc.changed_keys.clone(),
            replace_because: rc.replace_because.clone(),
        }
    };
    rc.keys = diff::key_changes(rc.kind, &d, Some(before), Some(after), &rc.sensitive_keys);
    rc
}

fn plan(resource_changes: Vec<ResourceChange>) -> Plan {
    let resource_changes = resource_changes.into_iter().map(with_key_changes).collect();
    Plan {
        format_version: PLAN_FORMAT_VERSION,
        manifest_name: "emite".into(),
        manifest_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
        state_lineage: Some("5b3c1f2e-0000-4000-8000-000000000001".into()),
        state_serial: 7,
        resource_changes,
        caller_grants: vec![],
        output_changes: vec![],
        warnings: vec![],
        api_calls: BTreeMap::new(),
    }
}

/// One of everything: create (with an instance key), update with set
/// changes, a long string, a map and a multi-line string, replace, delete,
/// no-op (one adopted, with a note), a caller grant, outputs (one
/// sensitive) and a plan warning.
fn mixed_plan() -> Plan {
    let create = ResourceChange {
        id: None,
        ..change(
            Kind::Role,
            "adapter",
            vec![Action::Create],
            None,
            Some(attrs([
                ("name", "eMite Adapter".into()),
                ("description", "Reads analytics for eMite".into()),
                (
                    "permissions",
                    Value::strings(["analytics:conversationDetail:view", "routing:queue:view"]),
                ),
                ("grant_to_caller", "auto".into()),
            ])),
        )
    };
    let mut create_instance = change(
        Kind::Division,
        "region",
        vec![Action::Create],
        None,
        Some(attrs([("name", "Home | APAC".into())])),
    );
    create_instance.address = create_instance.address.with_key("APAC");

    let update = ResourceChange {
        id: Some(GenesysId::from("2f1e0c7a-role-reporting")),
        changed_keys: vec!["description".into(), "permissions".into()],
        ..change(
            Kind::Role,
            "reporting",
            vec![Action::Update],
            Some(attrs([
                ("name", "Reporting".into()),
                ("description", "Lets the reporting service read queue and conversation details for dashboards".into()),
                ("permissions", Value::strings([
                    "analytics:conversationDetail:view",
                    "analytics:queueObservation:view",
                    "routing:queue:view",
                    "users:user:view",
                ])),
            ])),
            Some(attrs([
                ("name", "Reporting".into()),
                ("description", "Lets the reporting service read queue, user and conversation details for dashboards".into()),
                ("permissions", Value::strings([
                    "analytics:conversationDetail:view",
                    "routing:queue:view",
                    "users:user:view",
                    "analytics:userObservation:view",
                ])),
            ])),
        )
    };

    let integration = ResourceChange {
        id: Some(GenesysId::from("a9b8-integration")),
        ..change(
            Kind::Integration,
            "emite",
            vec![Action::Update],
            Some(attrs([
                ("name", "eMite".into()),
                ("type", "embedded-client-app".into()),
                ("notes", "Owner: analytics team\nContact: #emite\nReviewed: 2024-01\nTicket: OPS-1\nOn call: Sam".into()),
                ("config", Value::Map(gcrecon_core::vecmap::VecMap::from([
                    ("url".to_owned(), "https://old.emite.example/app".into()),
                    ("sandbox".to_owned(), "allow-scripts".into()),
                    ("serverDefault".to_owned(), Value::from(true)),
                ]))),
            ])),
            Some(attrs([
                ("name", "eMite".into()),
                ("type", "embedded-client-app".into()),
                ("notes", "Owner: analytics team\nContact: #emite-support\nReviewed: 2024-01\nTicket: OPS-1\nOn call: Sam".into()),
                ("config", Value::Map(gcrecon_core::vecmap::VecMap::from([
                    ("url".to_owned(), "https://new.emite.example/app".into()),
                    ("sandbox".to_owned(), "allow-scripts".into()),
                    ("displayType".to_owned(), "standalone".into()),
                ]))),
            ])),
        )
    };

    let replace = ResourceChange {
        id: Some(GenesysId::from("c0ffee00-client-sso")),
        changed_keys: vec!["grant_type".into(), "roles".into()],
        replace_because: vec!["grant_type".into()],
        sensitive_keys: vec!["secret".into()],
        ..change(
            Kind::OauthClient,
            "apidata",
            vec![Action::Delete, Action::Create],
            Some(attrs([
                ("name", "eMite API".into()),
                ("grant_type", "code".into()),
                ("roles", Value::List(vec![])),
                ("secret", "(sensitive)".into()),
            ])),
            Some(attrs([
                ("name", "eMite API".into()),
                ("grant_type", "client_credentials".into()),
                (
                    "roles",
                    Value::List(vec![Value::Map(gcrecon_core::vecmap::VecMap::from([
                        ("role".to_owned(), Value::Unknown),
                        ("divisions".to_owned(), Value::strings(["*"])),
                    ]))]),
                ),
                ("secret", Value::Unknown),
            ])),
        )
    };

    let delete = ResourceChange {
        id: Some(GenesysId::from("77aa-group-legacy")),
        ..change(
            Kind::Group,
            "legacy",
            vec![Action::Delete],
            Some(attrs([
                ("name", "Legacy dashboards".into()),
                ("visibility", "public".into()),
                ("members", Value::strings(["u-1", "u-2"])),
            ])),
            None,
        )
    };

    let noop = ResourceChange {
        id: Some(GenesysId::from("home-division")),
        ..change(
            Kind::Division,
            "home",
            vec![Action::NoOp],
            Some(attrs([("name", "Home".into())])),
            Some(attrs([("name", "Home".into())])),
        )
    };
    let adopted = ResourceChange {
        id: Some(GenesysId::from("g-sales")),
        note: Some("adopted: an existing group named \"Sales\"".into()),
        ..change(
            Kind::Group,
            "sales",
            vec![Action::NoOp],
            Some(attrs([("name", "Sales".into())])),
            Some(attrs([("name", "Sales".into())])),
        )
    };

    let mut plan = plan(vec![
        delete,
        replace,
        update,
        noop,
        create,
        integration,
        adopted,
        create_instance,
    ]);
    plan.caller_grants = vec![CallerGrantChange {
        role: Address::resource(Kind::Role, "adapter"),
        role_name: "eMite Adapter".into(),
        divisions: vec!["*".into()],
        action: CallerGrantAction::Grant,
        temporary: true,
        needed_by: vec![Address::resource(Kind::OauthClient, "apidata")],
    }];
    plan.output_changes = vec![
        OutputChange {
            name: "client_id".into(),
            actions: vec![Action::Create],
            before: None,
            after: Some(Value::Unknown),
            sensitive: false,
        },
        OutputChange {
            name: "client_secret".into(),
            actions: vec![Action::Update],
            before: None,
            after: None,
            sensitive: true,
        },
        OutputChange {
            name: "region".into(),
            actions: vec![Action::Update],
            before: Some("ap-southeast-2".into()),
            after: Some("eu-west-1".into()),
            sensitive: false,
        },
        OutputChange {
            name: "org".into(),
            actions: vec![Action::NoOp],
            before: Some("acme".into()),
            after: Some("acme".into()),
            sensitive: false,
        },
    ];
    plan.warnings =
        vec!["group.legacy is public: deleting it removes the dashboards of 2 members".into()];
    plan.api_calls = BTreeMap::from([("GET /api/v2/authorization/roles".to_owned(), 2)]);
    plan
}

fn empty_plan() -> Plan {
    let noop = ResourceChange {
        id: Some(GenesysId::from("home-division")),
        ..change(
            Kind::Division,
            "home",
            vec![Action::NoOp],
            Some(attrs([("name", "Home".into())])),
            Some(attrs([("name", "Home".into())])),
        )
    };
    plan(vec![noop])
}

/// `n` role updates, each with a long description diff and a permission
/// added (none taken away, so no warnings): far more than 65,000
/// characters of markdown.
fn big_plan(n: usize) -> Plan {
    let changes = (0..n)
        .map(|i| ResourceChange {
            id: Some(GenesysId::from(format!("role-{i:04}"))),
            changed_keys: vec!["description".into(), "permissions".into()],
            ..change(
                Kind::Role,
                &format!("role_{i:04}"),
                vec![Action::Update],
                Some(attrs([
                    ("name", format!("Role {i}").into()),
                    ("description", format!("Role number {i} of the generated plan, before the change, with enough words").into()),
                    ("permissions", Value::strings(["a:b:view", "c:d:view"])),
                ])),
                Some(attrs([
                    ("name", format!("Role {i}").into()),
                    ("description", format!("Role number {i} of the generated plan, after the change, with enough words").into()),
                    ("permissions", Value::strings(["a:b:view", "c:d:view", "e:f:edit"])),
                ])),
            )
        })
        .collect();
    plan(changes)
}

fn drift_report() -> DriftReport {
    DriftReport {
        drifted: vec![
            DriftedObject {
                address: Address::resource(Kind::Role, "reporting"),
                kind: Kind::Role,
                id: GenesysId::from("2f1e0c7a-role-reporting"),
                changes: vec![
                    KeyChange {
                        key: "permissions".into(),
                        expected: Value::strings([
                            "analytics:conversationDetail:view",
                            "routing:queue:view",
                        ]),
                        actual: Value::strings([
                            "analytics:conversationDetail:view",
                            "routing:queue:view",
                            "users:user:edit",
                        ]),
                    },
                    KeyChange {
                        key: "description".into(),
                        expected: "Reporting".into(),
                        actual: "Reporting (edited in the admin UI)".into(),
                    },
                ],
                audit: vec![AuditEntry {
                    at: "2026-03-02T09:14:07.412Z".into(),
                    action: "Update".into(),
                    actor: AuditActor {
                        kind: ActorKind::User,
                        id: "5d1c-user-alice".into(),
                        name: Some("Alice Admin".into()),
                        gcrecon: false,
                    },
                    service: "PeoplePermissions".into(),
                    changes: vec![
                        AuditChange {
                            property: "description".into(),
                            old: vec!["Reporting".into()],
                            new: vec!["Reporting (edited in the admin UI)".into()],
                        },
                        AuditChange {
                            property: "permissions".into(),
                            old: vec![
                                "analytics:conversationDetail:view".into(),
                                "routing:queue:view".into(),
                            ],
                            new: vec![
                                "analytics:conversationDetail:view".into(),
                                "routing:queue:view".into(),
                                "users:user:edit".into(),
                            ],
                        },
                    ],
                }],
            },
            DriftedObject {
                address: Address::resource(Kind::OauthClient, "apidata"),
                kind: Kind::OauthClient,
                id: GenesysId::from("c0ffee00-client"),
                changes: vec![
                    KeyChange {
                        key: "token_ttl_seconds".into(),
                        expected: Value::from(86_400),
                        actual: Value::from(3_600),
                    },
                    KeyChange {
                        key: "secret".into(),
                        expected: SECRET.into(),
                        actual: "another-secret".into(),
                    },
                ],
                audit: vec![],
            },
        ],
        missing: vec![MissingObject {
            address: Address::resource(Kind::Group, "legacy"),
            kind: Kind::Group,
            id: GenesysId::from("77aa-group-legacy"),
            audit: vec![],
        }],
        unmanaged: vec![
            UnmanagedObject {
                kind: Kind::Role,
                id: GenesysId::from("r-ops"),
                name: "Ops | on call".into(),
                audit: vec![AuditEntry {
                    at: "2026-03-01T22:03:41.000Z".into(),
                    action: "Create".into(),
                    actor: AuditActor {
                        kind: ActorKind::Client,
                        id: "9e8d-vendor-client".into(),
                        name: Some("vendor-sync".into()),
                        gcrecon: false,
                    },
                    service: "PeoplePermissions".into(),
                    changes: vec![AuditChange {
                        property: "name".into(),
                        old: vec![],
                        new: vec!["Ops | on call".into()],
                    }],
                }],
            },
            UnmanagedObject {
                kind: Kind::Group,
                id: GenesysId::from("g-sales"),
                name: "Sales".into(),
                audit: vec![],
            },
        ],
        coverage: vec![
            Coverage {
                kind: Kind::Role,
                managed: 2,
                total: 3,
            },
            Coverage {
                kind: Kind::Group,
                managed: 1,
                total: 2,
            },
            Coverage {
                kind: Kind::Division,
                managed: 0,
                total: 0,
            },
        ],
        audit_note: None,
    }
}

#[test]
fn human_mixed_plan() {
    insta::assert_snapshot!(human(&mixed_plan(), false));
}

#[test]
fn human_empty_plan() {
    let text = human(&empty_plan(), false);
    assert_eq!(text, "No changes. The organization matches the manifest.\n");
    insta::assert_snapshot!(text);
}

#[test]
fn markdown_mixed_plan() {
    let text = markdown(&mixed_plan());
    assert!(text.starts_with("Plan: 3 to add, 2 to change, 2 to destroy.\n"));
    assert!(text.contains(
        "**Takes permissions away** from `role.reporting`: `analytics:queueObservation:view`"
    ));
    insta::assert_snapshot!(text);
}

#[test]
fn markdown_empty_plan() {
    insta::assert_snapshot!(markdown(&empty_plan()));
}

#[test]
fn summary_lines() {
    assert_eq!(
        summary_line(&mixed_plan()),
        "Plan: 3 to add, 2 to change, 2 to destroy."
    );
    assert_eq!(
        summary_line(&empty_plan()),
        "No changes. The organization matches the manifest."
    );
}

#[test]
fn markdown_over_the_limit_drops_details_first() {
    let plan = big_plan(400);
    let text = markdown(&plan);
    assert!(text.len() <= MARKDOWN_LIMIT, "{} bytes", text.len());
    assert!(text.chars().count() <= 65_000);
    // Every address still has its table row; only details were cut.
    assert!(text.contains("| update | `role.role_0399` |"));
    let details = text.matches("<details>").count();
    assert!(details > 0 && details < 400, "{details} details kept");
    let note = format!(
        "_Details of {} resources omitted to fit the 65,000-character limit; run `gcrecon plan` locally for the full plan._\n",
        400 - details
    );
    assert!(text.ends_with(&note), "{}", &text[text.len() - 300..]);
    // The cut falls between blocks: every details block that opened closes.
    assert_eq!(text.matches("</details>").count(), details);
    // The last details block kept, then the note.
    insta::assert_snapshot!(&text[text.rfind("<details>").unwrap()..]);
}

#[test]
fn markdown_far_over_the_limit_drops_table_rows_too() {
    let plan = big_plan(3000);
    let text = markdown(&plan);
    assert!(text.len() <= MARKDOWN_LIMIT, "{} bytes", text.len());
    assert!(!text.contains("<details>"));
    assert!(text.contains("| update | `role.role_0000` |"));
    assert!(!text.contains("`role.role_2999`"));
    let tail = text.lines().last().unwrap();
    assert!(
        tail.starts_with("_Details of all 3000 resources and ")
            && tail.contains(" of 3000 table rows omitted to fit the 65,000-character limit"),
        "{tail}"
    );
}

#[test]
fn markdown_with_too_many_warnings_cuts_them_last() {
    // Many thousand objects: also proves the fitting stays linear.
    let changes = (0..20_000)
        .map(|i| ResourceChange {
            id: Some(GenesysId::from(format!("group-{i:05}"))),
            ..change(
                Kind::Group,
                &format!("group_{i:04}"),
                vec![Action::Delete],
                Some(attrs([("name", format!("Group {i}").into())])),
                None,
            )
        })
        .collect();
    let text = markdown(&plan(changes));
    assert!(text.len() <= MARKDOWN_LIMIT, "{} bytes", text.len());
    assert!(text.starts_with("Plan: 0 to add, 0 to change, 20000 to destroy.\n"));
    assert!(text.contains("> - **Destroys** `group.group_0000` (id `group-00000`)\n"));
    assert!(!text.contains("| delete |"));
    let tail = text.lines().last().unwrap();
    assert!(
        tail.starts_with("_Details of all 20000 resources, 20000 of 20000 table rows and ")
            && tail.contains(" of 20000 warnings omitted to fit the 65,000-character limit"),
        "{tail}"
    );
}

#[test]
fn json_has_the_documented_shape() {
    // Terraform's plan JSON shape (format_version 2): `type`, `mode`,
    // `index` and a `change` object per resource, gcrecon's own sections
    // beside them.
    let doc: serde_json::Value = serde_json::from_str(&json(&mixed_plan())).unwrap();
    assert_eq!(doc["format_version"], "2");
    for key in [
        "resource_changes",
        "output_changes",
        "caller_grants",
        "warnings",
        "summary",
        "api_calls",
    ] {
        assert!(doc.get(key).is_some(), "missing {key}");
    }
    assert_eq!(
        doc["summary"],
        serde_json::json!({"add": 3, "change": 2, "destroy": 2})
    );
    let changes = doc["resource_changes"].as_array().unwrap();
    assert_eq!(changes.len(), 8);
    for rc in changes {
        for key in ["address", "mode", "type", "name", "change"] {
            assert!(rc.get(key).is_some(), "{} lacks {key}", rc["address"]);
        }
        for key in [
            "actions",
            "before",
            "after",
            "after_unknown",
            "before_sensitive",
            "after_sensitive",
        ] {
            assert!(
                rc["change"].get(key).is_some(),
                "{} lacks change.{key}",
                rc["address"]
            );
        }
    }
    let by_address = |a: &str| changes.iter().find(|rc| rc["address"] == a).unwrap();
    assert_eq!(
        by_address("group.legacy")["change"]["actions"],
        serde_json::json!(["delete"])
    );
    assert_eq!(
        by_address("group.legacy")["change"]["after"],
        serde_json::Value::Null
    );
    assert_eq!(
        by_address("division.home")["change"]["actions"],
        serde_json::json!(["no-op"])
    );
    let apac = by_address("division.region[\"APAC\"]");
    assert_eq!(apac["type"], "division");
    assert_eq!(apac["name"], "region");
    assert_eq!(apac["index"], "APAC");
    assert_eq!(apac["mode"], "managed");
    let replace = by_address("oauth_client.apidata");
    assert_eq!(
        replace["change"]["actions"],
        serde_json::json!(["delete", "create"])
    );
    assert_eq!(
        replace["change"]["after_unknown"],
        serde_json::json!({"roles": true, "secret": true})
    );
    assert_eq!(
        replace["change"]["after_sensitive"],
        serde_json::json!({"secret": true})
    );
    assert_eq!(
        replace["change"]["before"]["secret"],
        serde_json::Value::Null
    );
    assert_eq!(
        replace["change"]["after"]["grant_type"],
        "client_credentials"
    );
    assert_eq!(
        replace["change"]["after"]["roles"][0]["role"],
        serde_json::Value::Null
    );
    let create = by_address("role.adapter");
    assert_eq!(create["change"]["actions"], serde_json::json!(["create"]));
    assert_eq!(create["change"]["before"], serde_json::Value::Null);
    assert_eq!(create["change"]["before_sensitive"], false);
    assert_eq!(
        create["change"]["after"]["permissions"][1],
        "routing:queue:view"
    );

    let outputs = doc["output_changes"].as_object().unwrap();
    assert_eq!(outputs["client_id"]["after_unknown"], true);
    assert_eq!(
        outputs["client_id"]["actions"],
        serde_json::json!(["create"])
    );
    assert_eq!(outputs["client_secret"]["after_sensitive"], true);
    assert_eq!(outputs["client_secret"]["after"], serde_json::Value::Null);
    assert_eq!(outputs["region"]["before"], "ap-southeast-2");
    assert_eq!(doc["caller_grants"][0]["role"], "role.adapter");
    insta::assert_snapshot!(json(&mixed_plan()));
}

#[test]
fn json_of_an_empty_plan() {
    let doc: serde_json::Value = serde_json::from_str(&json(&empty_plan())).unwrap();
    assert_eq!(doc["has_changes"], false);
    assert_eq!(
        doc["summary"],
        serde_json::json!({"add": 0, "change": 0, "destroy": 0})
    );
    assert_eq!(
        doc["resource_changes"][0]["change"]["actions"],
        serde_json::json!(["no-op"])
    );
    assert_eq!(doc["output_changes"], serde_json::json!({}));
}

/// A plan in which secrets leaked into every place a value can sit: a key
/// the plan marks sensitive, a key the schema knows as a secret but the plan
/// forgot to mark, and a sensitive output carrying values anyway.
fn leaky_plan() -> Plan {
    let mut rc = change(
        Kind::OauthClient,
        "sso",
        vec![Action::Update],
        Some(attrs([
            ("name", "SSO".into()),
            ("secret", SECRET.into()),
            ("token", format!("old-{SECRET}").into()),
        ])),
        Some(attrs([
            ("name", "SSO".into()),
            ("secret", format!("{SECRET}-2").into()),
            ("token", format!("new-{SECRET}").into()),
        ])),
    );
    rc.sensitive_keys = vec!["token".into()];
    rc.changed_keys = vec!["secret".into(), "token".into()];
    let mut delete = change(
        Kind::OauthClient,
        "old",
        vec![Action::Delete],
        Some(attrs([("name", "Old".into()), ("secret", SECRET.into())])),
        None,
    );
    delete.id = Some(GenesysId::from("old-id"));
    let create = change(
        Kind::OauthClient,
        "new",
        vec![Action::Create],
        None,
        Some(attrs([("name", "New".into()), ("secret", SECRET.into())])),
    );
    let mut plan = plan(vec![rc, delete, create]);
    plan.output_changes = vec![OutputChange {
        name: "sso_secret".into(),
        actions: vec![Action::Update],
        before: Some(SECRET.into()),
        after: Some(format!("{SECRET}-2").into()),
        sensitive: true,
    }];
    plan
}

#[test]
fn sensitive_values_appear_in_no_rendering() {
    let plan = leaky_plan();
    let report = drift_report();
    let renderings = [
        ("human", human(&plan, false)),
        ("human color", human(&plan, true)),
        ("markdown", markdown(&plan)),
        ("json", json(&plan)),
        ("drift human", drift_human(&report, false)),
        ("drift human color", drift_human(&report, true)),
        ("drift markdown", drift_markdown(&report)),
        ("drift json", drift_json(&report)),
    ];
    for (name, text) in renderings {
        assert!(!text.contains("hunter2"), "{name} shows a secret:\n{text}");
        assert!(
            !text.contains("another-secret"),
            "{name} shows a secret:\n{text}"
        );
    }
    let text = human(&plan, false);
    assert!(text.contains("~ secret = (sensitive)"), "{text}");
    assert!(text.contains("~ token  = (sensitive)"), "{text}");
    assert!(text.contains("~ sso_secret = (sensitive)"), "{text}");
    let doc: serde_json::Value = serde_json::from_str(&json(&plan)).unwrap();
    for side in ["before_sensitive", "after_sensitive"] {
        assert_eq!(
            doc["resource_changes"][0]["change"][side],
            serde_json::json!({"secret": true, "token": true})
        );
    }
}

#[test]
fn colors_only_when_asked() {
    let plan = mixed_plan();
    let plain = human(&plan, false);
    assert!(!plain.contains('\x1b'));
    let colored = human(&plan, true);
    for code in ["\x1b[32m+", "\x1b[33m~", "\x1b[31m-", "\x1b[1m"] {
        assert!(colored.contains(code), "no {code:?}");
    }
    // Without the escapes, the colored text is the plain one (plus the
    // emphasis of changed words, which only colors show).
    let stripped = strip_ansi(&colored);
    assert_eq!(stripped, plain);
    assert!(!drift_human(&drift_report(), false).contains('\x1b'));
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn rendering_does_not_depend_on_the_plan_order() {
    let plan = mixed_plan();
    let mut reversed = plan.clone();
    reversed.resource_changes.reverse();
    reversed.output_changes.reverse();
    assert_eq!(human(&plan, false), human(&reversed, false));
    assert_eq!(markdown(&plan), markdown(&reversed));
}

#[test]
fn control_characters_in_values_are_escaped() {
    let rc = change(
        Kind::Role,
        "evil",
        vec![Action::Create],
        None,
        Some(attrs([
            ("name", "\x1b[2Jcleared".into()),
            ("description", "line one\n\x1b]0;title\x07".into()),
        ])),
    );
    let text = human(&plan(vec![rc]), false);
    assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text:?}");
    assert!(text.contains("\"\\u001b[2Jcleared\""), "{text}");
}

#[test]
fn markdown_code_fences_survive_backticks_in_values() {
    let rc = change(
        Kind::Integration,
        "docs",
        vec![Action::Create],
        None,
        Some(attrs([
            ("name", "Docs".into()),
            ("notes", "see\n```\nnot the end\n```".into()),
        ])),
    );
    let text = markdown(&plan(vec![rc]));
    assert!(text.contains("````diff\n"), "{text}");
}

#[test]
fn drift_human_report() {
    insta::assert_snapshot!(drift_human(&drift_report(), false));
}

#[test]
fn drift_markdown_report() {
    let text = drift_markdown(&drift_report());
    assert!(text.starts_with("Drift: 2 changed, 1 missing, 2 unmanaged.\n"));
    insta::assert_snapshot!(text);
}

#[test]
fn drift_json_report() {
    let text = drift_json(&drift_report());
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["format_version"], "1");
    assert_eq!(doc["resource_changes"], serde_json::json!([]));
    assert_eq!(doc["output_changes"], serde_json::json!({}));
    assert_eq!(doc["has_drift"], true);
    assert_eq!(doc["drifted"][0]["changes"][0]["key"], "permissions");
    assert_eq!(doc["drifted"][1]["changes"][1]["sensitive"], true);
    assert_eq!(
        doc["drifted"][1]["changes"][1]["expected"],
        serde_json::Value::Null
    );
    assert_eq!(doc["missing"][0]["address"], "group.legacy");
    assert_eq!(doc["unmanaged"][1]["name"], "Sales");
    assert_eq!(
        doc["coverage"][0],
        serde_json::json!({"kind": "role", "managed": 2, "total": 3})
    );
    insta::assert_snapshot!(text);
}

#[test]
fn no_drift() {
    let report = DriftReport::default();
    let line = "No drift. The organization matches the state and the manifest.";
    assert_eq!(drift_summary_line(&report), line);
    assert_eq!(drift_human(&report, false), format!("{line}\n"));
    assert_eq!(drift_markdown(&report), format!("{line}\n\n"));
    let doc: serde_json::Value = serde_json::from_str(&drift_json(&report)).unwrap();
    assert_eq!(doc["has_drift"], false);
    assert_eq!(doc["drifted"], serde_json::json!([]));
}

#[test]
fn drift_markdown_stays_under_the_limit() {
    let mut report = DriftReport::default();
    for i in 0..3000 {
        report.unmanaged.push(UnmanagedObject {
            kind: Kind::Group,
            id: GenesysId::from(format!("group-{i:05}-0000-0000-0000-000000000000")),
            name: format!("Group number {i}"),
            audit: vec![AuditEntry {
                at: "2026-03-01T22:03:41.000Z".into(),
                action: "Create".into(),
                actor: AuditActor {
                    kind: ActorKind::User,
                    id: format!("user-{i}"),
                    name: Some("Alice Admin".into()),
                    gcrecon: false,
                },
                service: "Directory".into(),
                changes: vec![AuditChange {
                    property: "name".into(),
                    old: vec![],
                    new: vec![format!("Group number {i}")],
                }],
            }],
        });
    }
    let text = drift_markdown(&report);
    assert!(text.len() <= MARKDOWN_LIMIT);
    assert!(
        !text.contains("Who changed group Group number 2999 "),
        "attribution details are cut before table rows"
    );
    assert!(text.contains("| unmanaged | group `Group number 0` |"));
    assert!(text.contains("table rows omitted to fit the 65,000-character limit; run `gcrecon drift` locally for the full report._"));
}
