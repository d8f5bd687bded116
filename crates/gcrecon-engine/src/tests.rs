//! Engine tests: real manifests planned and applied against the in-memory
//! [`FakeProvider`], checking the organization afterwards and that a plan
//! after an apply is empty.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use gcrecon_core::manifest::{load, Manifest, Source, Variables};
use gcrecon_core::plan::{Action, CallerGrantAction};
use gcrecon_core::provider::{CallerKind, Provider as _};
use gcrecon_core::state::{PendingKind, State};
use gcrecon_core::value::Value;
use gcrecon_core::{Address, Kind};

use crate::apply::{apply, ApplyInput, ApplyOptions, ApplyReport, Status};
use crate::error::EngineError;
use crate::events::{Cancel, Recorder, Silent};
use crate::fake::FakeProvider;
use crate::planner::{plan, PlanInput, PlanOptions, Planned};
use crate::saved::{manifest_sha256, SavedPlan};
use crate::secrets::SecretsFile;
use crate::store::StateStore;

struct Harness {
    provider: Arc<FakeProvider>,
    _dir: tempfile::TempDir,
    state_path: PathBuf,
    secrets_path: PathBuf,
}

struct Loaded {
    manifest: Manifest,
    variables: Variables,
    sha: String,
}

fn load_manifest(text: &str) -> Loaded {
    let sources = [Source::new("gcrecon.toml", text)];
    let manifest = load(&sources).unwrap_or_else(|d| panic!("{}", d.render(&sources, false)));
    let variables = manifest
        .resolve_variables(&BTreeMap::new(), &BTreeMap::new())
        .unwrap_or_else(|d| panic!("{}", d.render(&sources, false)));
    Loaded {
        manifest,
        variables,
        sha: manifest_sha256(&sources),
    }
}

impl Harness {
    fn new(caller: CallerKind) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Harness {
            provider: Arc::new(FakeProvider::new(caller)),
            state_path: dir.path().join("state/t.gcstate.json"),
            secrets_path: dir.path().join("state/t.secrets.json"),
            _dir: dir,
        }
    }

    fn store(&self) -> StateStore {
        StateStore::open(&self.state_path, "t").unwrap()
    }

    fn state(&self) -> State {
        self.store().state().clone()
    }

    async fn plan_with(&self, m: &Loaded, options: PlanOptions) -> Result<Planned, EngineError> {
        let store = self.store();
        plan(
            &self.provider,
            PlanInput {
                manifest: &m.manifest,
                variables: &m.variables,
                name: "t",
                manifest_sha256: &m.sha,
            },
            store.state(),
            store.is_on_disk(),
            options,
            &Silent,
        )
        .await
    }

    async fn plan(&self, m: &Loaded) -> Planned {
        match self.plan_with(m, PlanOptions::default()).await {
            Ok(p) => p,
            Err(EngineError::Manifest(d)) => panic!("{}", d.render(&m.manifest.sources(), false)),
            Err(e) => panic!("{e}"),
        }
    }

    async fn apply_planned(&self, m: &Loaded, planned: Planned) -> ApplyReport {
        let (report, _) = apply(
            Arc::clone(&self.provider),
            ApplyInput {
                manifest: &m.manifest,
                variables: &m.variables,
                name: "t",
                manifest_sha256: &m.sha,
            },
            self.store(),
            planned,
            ApplyOptions {
                parallelism: 4,
                secrets: SecretsFile::new(&self.secrets_path),
                cancel: Cancel::new(),
            },
            Arc::new(Silent),
        )
        .await
        .unwrap();
        report
    }

    /// Plan and apply; every change must succeed.
    async fn converge(&self, m: &Loaded) -> ApplyReport {
        let planned = self.plan(m).await;
        let report = self.apply_planned(m, planned).await;
        assert!(report.succeeded(), "{report:#?}");
        report
    }

    async fn assert_clean(&self, m: &Loaded) {
        let p = self.plan(m).await;
        let changes: Vec<_> = p
            .plan
            .resource_changes
            .iter()
            .filter(|c| c.is_change())
            .map(|c| {
                (
                    c.address.to_string(),
                    c.actions.clone(),
                    c.changed_keys.clone(),
                )
            })
            .collect();
        assert!(
            !p.has_changes(),
            "plan after apply is not empty: {changes:?} {:?} {:?}",
            p.plan.caller_grants,
            p.plan.output_changes
        );
    }
}

fn actions_of(p: &Planned) -> BTreeMap<String, Vec<Action>> {
    p.plan
        .resource_changes
        .iter()
        .map(|c| (c.address.to_string(), c.actions.clone()))
        .collect()
}

const BASIC: &str = r#"
[gcrecon]
version = 1
name = "t"

[division.sales]
name = "Sales"

[role.reader]
name = "Reader"
permissions = ["routing:queue:view", "analytics:conversationDetail:view"]

[group.ops]
name = "Ops"
description = "operators"

[output.reader_id]
value = "${role.reader.id}"
"#;

#[tokio::test]
async fn create_update_delete_cycle() {
    let h = Harness::new(CallerKind::User);
    let m = load_manifest(BASIC);
    let p = h.plan(&m).await;
    assert_eq!(
        p.plan.summary().to_string(),
        "Plan: 3 to add, 0 to change, 0 to destroy."
    );
    let outputs: Vec<_> = p
        .plan
        .output_changes
        .iter()
        .map(|o| (o.name.clone(), o.actions.clone()))
        .collect();
    assert_eq!(outputs, [("reader_id".to_owned(), vec![Action::Create])]);
    h.converge(&m).await;
    assert_eq!(h.provider.objects_of(Kind::Role).len(), 1);
    let state = h.state();
    assert_eq!(state.resources.len(), 3);
    assert!(state.pending.is_empty());
    assert_eq!(state.org_id.as_deref(), Some("org-fake"));
    let role_id = state
        .resource(&"role.reader".parse().unwrap())
        .unwrap()
        .id
        .clone();
    assert_eq!(
        state.outputs["reader_id"].value,
        Some(Value::from(role_id.as_str()))
    );
    h.assert_clean(&m).await;

    // Change one key: only that object is updated.
    let m2 =
        load_manifest(&BASIC.replace("description = \"operators\"", "description = \"on call\""));
    let p = h.plan(&m2).await;
    let changed: Vec<_> = p
        .plan
        .resource_changes
        .iter()
        .filter(|c| c.is_change())
        .collect();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].address.to_string(), "group.ops");
    assert_eq!(changed[0].actions, [Action::Update]);
    assert_eq!(changed[0].changed_keys, ["description"]);
    h.converge(&m2).await;
    assert_eq!(
        h.provider.objects_of(Kind::Group)[0].attrs["description"],
        Value::from("on call")
    );
    h.assert_clean(&m2).await;

    // Remove a block: it is deleted.
    let m3 = load_manifest(&m2_without_group(
        &BASIC.replace("description = \"operators\"", "description = \"on call\""),
    ));
    let p = h.plan(&m3).await;
    assert_eq!(actions_of(&p)["group.ops"], [Action::Delete]);
    h.converge(&m3).await;
    assert!(h.provider.objects_of(Kind::Group).is_empty());
    assert!(h.state().resource(&"group.ops".parse().unwrap()).is_none());
    h.assert_clean(&m3).await;
}

fn m2_without_group(text: &str) -> String {
    text.replace(
        "[group.ops]\nname = \"Ops\"\ndescription = \"on call\"\n",
        "",
    )
}

#[tokio::test]
async fn permission_order_and_server_defaults_never_diff() {
    let h = Harness::new(CallerKind::User);
    let m = load_manifest(BASIC);
    h.converge(&m).await;
    // The fake adds `visibility` to groups; reorder the permissions live.
    let role = h.provider.objects_of(Kind::Role).remove(0);
    h.provider.mutate(Kind::Role, role.id.as_str(), |o| {
        o.attrs.insert(
            "permissions".into(),
            Value::strings(["analytics:conversationDetail:view", "routing:queue:view"]),
        );
    });
    h.assert_clean(&m).await;
}

#[tokio::test]
async fn a_name_clash_needs_import_or_adopt() {
    let h = Harness::new(CallerKind::User);
    let m = load_manifest(BASIC);
    h.converge(&m).await;
    // A second state (another checkout) plans the same manifest.
    let other = Harness {
        provider: Arc::clone(&h.provider),
        ..Harness::new(CallerKind::User)
    };
    let err = other
        .plan_with(&m, PlanOptions::default())
        .await
        .unwrap_err();
    let EngineError::Manifest(d) = err else {
        panic!("{err}")
    };
    let text = d.render(&m.manifest.sources(), false);
    let role_id = h.provider.objects_of(Kind::Role)[0].id.clone();
    assert!(
        text.contains(&format!("gcrecon import role.reader {role_id}")),
        "{text}"
    );
    assert!(
        text.contains("gcrecon.toml:"),
        "errors carry file:line:col: {text}"
    );

    let adopting = load_manifest(
        &BASIC
            .replace("[role.reader]\n", "[role.reader]\nadopt = true\n")
            .replace(
                "[group.ops]\nname = \"Ops\"\n",
                "[group.ops]\nadopt = true\nname = \"Ops\"\n",
            )
            .replace("[division.sales]\n", "[division.sales]\nadopt = true\n"),
    );
    let p = other.plan(&adopting).await;
    let role = p
        .plan
        .resource_changes
        .iter()
        .find(|c| c.address.to_string() == "role.reader")
        .unwrap();
    assert_eq!(role.actions, [Action::Update]);
    assert!(role.note.as_deref().unwrap().contains("adopt"), "{role:?}");
    other.converge(&adopting).await;
    assert_eq!(
        h.provider.objects_of(Kind::Role).len(),
        1,
        "adopted, not duplicated"
    );
    assert_eq!(
        other
            .state()
            .resource(&"role.reader".parse().unwrap())
            .unwrap()
            .id,
        role_id
    );
    other.assert_clean(&adopting).await;
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_adopted_not_duplicated() {
    let h = Harness::new(CallerKind::User);
    let m = load_manifest(BASIC);
    h.provider
        .with(|o| o.lose_create_answer.insert("Reader".into()));
    let p = h.plan(&m).await;
    let report = h.apply_planned(&m, p).await;
    assert!(!report.succeeded());
    let state = h.state();
    assert!(state
        .pending
        .iter()
        .any(|p| p.operation == PendingKind::Create && p.name == "Reader"));
    assert!(state.resource(&"role.reader".parse().unwrap()).is_none());
    let p = h.plan(&m).await;
    let role = p
        .plan
        .resource_changes
        .iter()
        .find(|c| c.address.to_string() == "role.reader")
        .unwrap();
    assert!(
        role.note.as_deref().unwrap().contains("interrupted"),
        "{role:?}"
    );
    h.converge(&m).await;
    assert_eq!(h.provider.objects_of(Kind::Role).len(), 1);
    assert!(h.state().pending.is_empty());
    h.assert_clean(&m).await;
}

const CLIENT: &str = r#"
[gcrecon]
version = 1
name = "t"

[role.reader]
name = "Reader"
permissions = ["routing:queue:view"]

[oauth_client.api]
name = "API"
grant_type = "client_credentials"
roles = [{ role = "${role.reader.id}", divisions = ["*"] }]

[output.client_id]
value = "${oauth_client.api.client_id}"

[output.secret]
value = "${oauth_client.api.secret}"
sensitive = true
"#;

#[tokio::test]
async fn the_caller_is_granted_a_role_before_a_client_gets_it_and_loses_it_after() {
    for caller in [CallerKind::User, CallerKind::Client] {
        let h = Harness::new(caller);
        let m = load_manifest(CLIENT);
        let p = h.plan(&m).await;
        assert_eq!(p.plan.caller_grants.len(), 1, "{:?}", p.plan.caller_grants);
        let g = &p.plan.caller_grants[0];
        assert_eq!(g.role.to_string(), "role.reader");
        assert_eq!(g.action, CallerGrantAction::Grant);
        assert!(g.temporary);
        assert_eq!(g.divisions, ["*"]);
        assert_eq!(g.needed_by[0].to_string(), "oauth_client.api");
        let report = h.apply_planned(&m, p).await;
        assert!(report.succeeded(), "{report:#?}");
        let (granted, revoked) = h
            .provider
            .with(|o| (o.granted_to_caller.clone(), o.revoked_from_caller.clone()));
        assert_eq!(granted.len(), 1);
        assert_eq!(revoked, granted, "auto grants are removed after the walk");
        assert!(h.state().caller_grants.is_empty());
        assert_eq!(h.provider.objects_of(Kind::OauthClient).len(), 1);
        h.assert_clean(&m).await;
    }
}

#[tokio::test]
async fn a_client_created_by_an_interrupted_apply_gets_a_new_secret() {
    let h = Harness::new(CallerKind::Client);
    let m = load_manifest(CLIENT);
    h.provider
        .with(|o| o.lose_create_answer.insert("API".into()));
    let p = h.plan(&m).await;
    assert!(!h.apply_planned(&m, p).await.succeeded());
    let secrets = SecretsFile::new(&h.secrets_path);
    let address: Address = "oauth_client.api".parse().unwrap();
    assert!(
        secrets.secret(&address).unwrap().is_none(),
        "the first secret was lost"
    );
    let p = h.plan(&m).await;
    let c = p
        .plan
        .resource_changes
        .iter()
        .find(|c| c.address == address)
        .unwrap();
    assert!(c.note.as_deref().unwrap().contains("new secret"), "{c:?}");
    h.apply_planned(&m, p).await;
    let clients = h.provider.objects_of(Kind::OauthClient);
    assert_eq!(clients.len(), 1, "adopted, not duplicated");
    let latest = h.provider.with(|o| o.secrets.last().cloned().unwrap());
    assert!(latest.starts_with("rotated-"), "{latest}");
    assert_eq!(secrets.secret(&address).unwrap().unwrap().expose(), latest);
    assert_eq!(
        secrets.client_id(&address).unwrap().as_deref(),
        Some(clients[0].id.as_str())
    );
    h.assert_clean(&m).await;
}

#[tokio::test]
async fn a_caller_without_a_permission_is_stopped_before_any_change() {
    let h = Harness::new(CallerKind::Client);
    h.provider.with(|o| {
        if let Some(c) = o.caller.as_mut() {
            c.permissions = [
                "authorization:role:*",
                "authorization:grant:add",
                "authorization:grant:delete",
            ]
            .into_iter()
            .map(str::to_owned)
            .collect();
        }
    });
    let m = load_manifest(CLIENT);
    let err = h.plan_with(&m, PlanOptions::default()).await.unwrap_err();
    let EngineError::Manifest(d) = err else {
        panic!("{err}")
    };
    let text = d.render(&m.manifest.sources(), false);
    assert!(
        text.contains("`oauth:client:add`") && text.contains("create oauth_client.api"),
        "{text}"
    );
    assert!(
        !text.contains("authorization:role:add"),
        "wildcards count: {text}"
    );
    assert!(h.provider.objects_of(Kind::Role).is_empty());
}

#[tokio::test]
async fn grant_to_caller_never_fails_the_plan_and_keep_keeps_it() {
    let h = Harness::new(CallerKind::User);
    let never = load_manifest(&CLIENT.replace(
        "permissions = [\"routing:queue:view\"]",
        "permissions = [\"routing:queue:view\"]\ngrant_to_caller = \"never\"",
    ));
    let err = h
        .plan_with(&never, PlanOptions::default())
        .await
        .unwrap_err();
    let EngineError::Manifest(d) = err else {
        panic!("{err}")
    };
    let text = d.render(&never.manifest.sources(), false);
    assert!(text.contains("grant_to_caller = \"never\""), "{text}");

    let keep = load_manifest(&CLIENT.replace(
        "permissions = [\"routing:queue:view\"]",
        "permissions = [\"routing:queue:view\"]\ngrant_to_caller = \"keep\"",
    ));
    let p = h.plan(&keep).await;
    assert!(!p.plan.caller_grants[0].temporary);
    h.converge(&keep).await;
    assert!(h.provider.with(|o| o.revoked_from_caller.is_empty()));
    assert!(
        h.state().caller_grants.is_empty(),
        "kept grants are the caller's, not gcrecon's"
    );
    h.assert_clean(&keep).await;
}

#[tokio::test]
async fn secrets_go_to_the_secrets_file_only() {
    let h = Harness::new(CallerKind::Client);
    let m = load_manifest(CLIENT);
    let p = h.plan(&m).await;
    let plan_json = serde_json::to_string(&p.plan).unwrap();
    let report = h.converge(&m).await;
    let _ = p;
    assert_eq!(report.secrets_written.len(), 1);
    let secret = h.provider.with(|o| o.secrets[0].clone());
    let state_text = std::fs::read_to_string(&h.state_path).unwrap();
    assert!(!state_text.contains(&secret));
    assert!(!plan_json.contains(&secret));
    let secrets: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&h.secrets_path).unwrap()).unwrap();
    assert_eq!(
        secrets["oauth_client.api"]["client_secret"],
        secret.as_str()
    );
    let state = h.state();
    assert!(state.outputs["secret"].sensitive);
    assert!(state.outputs["secret"].value.is_none());
    assert!(state.outputs["client_id"].value.is_some());
}

#[tokio::test]
async fn a_failure_skips_dependents_and_independent_branches_finish() {
    let h = Harness::new(CallerKind::User);
    let m = load_manifest(&format!("{CLIENT}\n[group.ops]\nname = \"Ops\"\n"));
    h.provider.with(|o| o.fail_create.insert("Reader".into()));
    let p = h.plan(&m).await;
    let report = h.apply_planned(&m, p).await;
    let status: BTreeMap<String, Status> = report
        .outcomes
        .iter()
        .map(|o| (o.address.to_string(), o.status.clone()))
        .collect();
    assert!(
        matches!(status["role.reader"], Status::Failed { .. }),
        "{status:?}"
    );
    assert_eq!(
        status["oauth_client.api"],
        Status::Skipped {
            because: "role.reader".parse().unwrap()
        }
    );
    assert_eq!(status["group.ops"], Status::Done);
    assert!(
        h.state().pending.is_empty(),
        "a refused create leaves no pending entry"
    );
    h.provider.with(|o| o.fail_create.clear());
    h.converge(&m).await;
    h.assert_clean(&m).await;
}

#[tokio::test]
async fn objects_deleted_outside_are_planned_again_with_a_note() {
    let h = Harness::new(CallerKind::User);
    let m = load_manifest(BASIC);
    h.converge(&m).await;
    let group = h.provider.objects_of(Kind::Group).remove(0);
    h.provider
        .with(|o| o.objects.remove(&(Kind::Group, group.id.clone())));
    let p = h.plan(&m).await;
    let g = p
        .plan
        .resource_changes
        .iter()
        .find(|c| c.address.to_string() == "group.ops")
        .unwrap();
    assert_eq!(g.actions, [Action::Create]);
    assert!(g
        .note
        .as_deref()
        .unwrap()
        .contains("deleted outside gcrecon"));
    h.converge(&m).await;
    h.assert_clean(&m).await;
}

#[tokio::test]
async fn replacement_and_prevent_destroy() {
    let h = Harness::new(CallerKind::Client);
    let m = load_manifest(CLIENT);
    h.converge(&m).await;
    let old = h.provider.objects_of(Kind::OauthClient)[0].id.clone();
    let code = load_manifest(&CLIENT.replace("client_credentials", "code"));
    let p = h.plan(&code).await;
    let c = p
        .plan
        .resource_changes
        .iter()
        .find(|c| c.address.to_string() == "oauth_client.api")
        .unwrap();
    assert_eq!(c.actions, [Action::Delete, Action::Create]);
    assert_eq!(c.replace_because, ["grant_type"]);
    h.converge(&code).await;
    let clients = h.provider.objects_of(Kind::OauthClient);
    assert_eq!(clients.len(), 1);
    assert_ne!(clients[0].id, old);
    h.assert_clean(&code).await;

    let protected_text = CLIENT
        .replace(
            "[oauth_client.api]\n",
            "[oauth_client.api]\nprevent_destroy = true\n",
        )
        .replace("client_credentials", "code");
    let protected = load_manifest(&protected_text);
    h.converge(&protected).await;
    assert!(
        h.state()
            .resource(&"oauth_client.api".parse().unwrap())
            .unwrap()
            .prevent_destroy
    );
    let err = h
        .plan_with(
            &load_manifest(&protected_text.replace("\"code\"", "\"client_credentials\"")),
            PlanOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Manifest(_)), "{err}");
    // Removing the block does not lift the protection recorded in the state.
    let without = load_manifest("[gcrecon]\nversion = 1\nname = \"t\"\n");
    assert!(h.plan_with(&without, PlanOptions::default()).await.is_err());
    let err = h
        .plan_with(
            &without,
            PlanOptions {
                destroy: true,
                ..PlanOptions::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Manifest(_)));
}

#[tokio::test]
async fn a_metadata_only_change_is_recorded_without_api_calls() {
    let h = Harness::new(CallerKind::User);
    h.converge(&load_manifest(BASIC)).await;
    let protected =
        load_manifest(&BASIC.replace("[group.ops]\n", "[group.ops]\nprevent_destroy = true\n"));
    let p = h.plan(&protected).await;
    assert!(!p.has_changes(), "no change to show or count");
    assert!(
        p.needs_apply(),
        "but the state must learn about prevent_destroy"
    );
    let calls = h.provider.call_counts();
    h.apply_planned(&protected, p).await;
    let writes: u64 = h
        .provider
        .call_counts()
        .iter()
        .filter(|(k, _)| !k.starts_with("GET"))
        .map(|(k, v)| v - calls.get(k).copied().unwrap_or(0))
        .sum();
    assert_eq!(writes, 0);
    assert!(
        h.state()
            .resource(&"group.ops".parse().unwrap())
            .unwrap()
            .prevent_destroy
    );
    assert!(!h.plan(&protected).await.needs_apply());
}

#[tokio::test]
async fn unknown_permissions_are_refused_with_suggestions() {
    let h = Harness::new(CallerKind::User);
    let m = load_manifest(&BASIC.replace("routing:queue:view", "routing:queue:veiw"));
    let err = h.plan_with(&m, PlanOptions::default()).await.unwrap_err();
    let EngineError::Manifest(d) = err else {
        panic!("{err}")
    };
    let text = d.render(&m.manifest.sources(), false);
    assert!(text.contains("routing:queue:veiw"), "{text}");
    assert!(text.contains("routing:queue:view"), "a suggestion: {text}");
    // Wildcards match.
    let ok = load_manifest(&BASIC.replace("routing:queue:view", "integration:presence:*"));
    h.plan(&ok).await;
}

#[tokio::test]
async fn data_sources_must_find_exactly_one_object() {
    let h = Harness::new(CallerKind::User);
    let m = load_manifest(&format!(
        "{BASIC}\n[data.user.ada]\nemail = \"nobody@example.com\"\n"
    ));
    let err = h.plan_with(&m, PlanOptions::default()).await.unwrap_err();
    let EngineError::Manifest(d) = err else {
        panic!("{err}")
    };
    let text = d.render(&m.manifest.sources(), false);
    assert!(
        text.contains("data.user.ada") && text.contains("nobody@example.com"),
        "{text}"
    );
}

const GRANT: &str = r#"
[gcrecon]
version = 1
name = "t"

[data.user.ada]
email = "ada@example.com"

[role.reader]
name = "Reader"
permissions = ["routing:queue:view"]

[role_grant.readers]
role = "${role.reader.id}"
subjects = ["${data.user.ada.id}", "user-2"]
"#;

#[tokio::test]
async fn role_grants_own_only_their_pairs() {
    let h = Harness::new(CallerKind::User);
    let m = load_manifest(GRANT);
    h.converge(&m).await;
    h.assert_clean(&m).await;
    let fewer = load_manifest(&GRANT.replace(", \"user-2\"", ""));
    let p = h.plan(&fewer).await;
    let g = p
        .plan
        .resource_changes
        .iter()
        .find(|c| c.address.to_string() == "role_grant.readers")
        .unwrap();
    assert_eq!(g.actions, [Action::Update]);
    assert_eq!(g.changed_keys, ["subjects"]);
    h.converge(&fewer).await;
    h.assert_clean(&fewer).await;
    let role = h.provider.objects_of(Kind::Role)[0].id.clone();
    let grants = h
        .provider
        .with(|o| o.objects[&(Kind::RoleGrant, role.clone())].attrs["grants"].clone());
    assert_eq!(grants.as_list().unwrap().len(), 1);
}

#[tokio::test]
async fn a_saved_plan_is_refused_after_a_change() {
    let h = Harness::new(CallerKind::User);
    let m = load_manifest(BASIC);
    h.converge(&m).await;
    let m2 = load_manifest(&BASIC.replace("description = \"operators\"", "description = \"x\""));
    let planned = h.plan(&m2).await;
    let saved = SavedPlan::new(&planned, &m2.variables);
    let path = h.state_path.with_file_name("plan.json");
    saved.write(&path).unwrap();
    let back = SavedPlan::read(&path).unwrap();
    assert_eq!(back, saved);
    let store = h.store();
    back.check_inputs(&path, &m2.sha, &m2.variables, store.state(), true)
        .unwrap();
    assert!(back
        .check_inputs(&path, &m.sha, &m2.variables, store.state(), true)
        .is_err());
    // Someone edits the group behind our back.
    let group = h.provider.objects_of(Kind::Group).remove(0);
    h.provider.mutate(Kind::Group, group.id.as_str(), |o| {
        o.attrs.insert("name".into(), Value::from("Ops"));
    });
    let fresh = h.plan(&m2).await;
    let err = back.check_fresh(&path, &fresh).unwrap_err();
    assert!(err.to_string().contains("group.ops changed"), "{err}");
    assert!(err.hint().unwrap().contains("plan"));
}

#[tokio::test]
async fn the_plan_carries_per_key_results_and_a_saved_plan_keeps_them() {
    let h = Harness::new(CallerKind::User);
    let m = load_manifest(BASIC);
    h.converge(&m).await;
    let m2 = load_manifest(
        &BASIC
            .replace("description = \"operators\"", "description = \"x\"")
            .replace("\"routing:queue:view\", ", ""),
    );
    let planned = h.plan(&m2).await;
    let keys =
        |c: &gcrecon_core::plan::ResourceChange| -> Vec<(String, Option<Value>, Option<Value>)> {
            c.keys
                .iter()
                .map(|k| (k.key.clone(), k.before.clone(), k.after.clone()))
                .collect()
        };
    let change = |address: &str| {
        planned
            .plan
            .resource_changes
            .iter()
            .find(|c| c.address.to_string() == address)
            .unwrap()
            .clone()
    };
    let group = change("group.ops");
    assert_eq!(
        keys(&group),
        [(
            "description".to_owned(),
            Some(Value::from("operators")),
            Some(Value::from("x"))
        )]
    );
    assert_eq!(group.changed_keys, ["description"]);
    let role = change("role.reader");
    assert_eq!(role.keys.len(), 1);
    assert_eq!(role.keys[0].key, "permissions");
    assert!(!role.keys[0].forces_replacement && !role.keys[0].sensitive);
    assert!(change("division.sales").keys.is_empty());

    let saved = SavedPlan::new(&planned, &m2.variables);
    let path = h.state_path.with_file_name("plan.json");
    saved.write(&path).unwrap();
    let back = SavedPlan::read(&path).unwrap();
    assert_eq!(back, saved);
}

#[tokio::test]
async fn targets_limit_the_plan_to_an_address_and_its_dependencies() {
    let h = Harness::new(CallerKind::User);
    let m = load_manifest(&format!("{CLIENT}\n[group.ops]\nname = \"Ops\"\n"));
    let p = h
        .plan_with(
            &m,
            PlanOptions {
                targets: vec!["oauth_client.api".parse().unwrap()],
                ..PlanOptions::default()
            },
        )
        .await
        .unwrap();
    let addresses: Vec<String> = p
        .plan
        .resource_changes
        .iter()
        .map(|c| c.address.to_string())
        .collect();
    assert_eq!(addresses, ["role.reader", "oauth_client.api"]);
    assert!(!p.plan.warnings.is_empty());
}

#[tokio::test]
async fn refresh_only_records_what_changed_outside() {
    let h = Harness::new(CallerKind::User);
    let m = load_manifest(BASIC);
    h.converge(&m).await;
    let group = h.provider.objects_of(Kind::Group).remove(0);
    h.provider.mutate(Kind::Group, group.id.as_str(), |o| {
        o.attrs.insert("description".into(), Value::from("edited"));
    });
    let refresh_only = PlanOptions {
        refresh_only: true,
        ..PlanOptions::default()
    };
    let p = h.plan_with(&m, refresh_only.clone()).await.unwrap();
    assert!(p.has_changes());
    assert_eq!(actions_of(&p)["group.ops"], [Action::Read]);
    let report = h.apply_planned(&m, p).await;
    assert!(report.succeeded(), "{report:?}");
    let state = h.state();
    let read = &state.resource(&"group.ops".parse().unwrap()).unwrap().read;
    assert_eq!(read["description"], Value::from("edited"));
    assert!(!h.plan_with(&m, refresh_only).await.unwrap().has_changes());
    // The normal plan still wants its description back.
    assert_eq!(actions_of(&h.plan(&m).await)["group.ops"], [Action::Update]);
}

#[tokio::test]
async fn destroy_deletes_everything_in_reverse_order() {
    let h = Harness::new(CallerKind::User);
    let m = load_manifest(CLIENT);
    h.converge(&m).await;
    let p = h
        .plan_with(
            &m,
            PlanOptions {
                destroy: true,
                ..PlanOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        p.plan.summary().to_string(),
        "Plan: 0 to add, 0 to change, 2 to destroy."
    );
    let recorder = Arc::new(Recorder::default());
    let (report, store) = apply(
        Arc::clone(&h.provider),
        ApplyInput {
            manifest: &m.manifest,
            variables: &m.variables,
            name: "t",
            manifest_sha256: &m.sha,
        },
        h.store(),
        p,
        ApplyOptions {
            parallelism: 10,
            secrets: SecretsFile::new(&h.secrets_path),
            cancel: Cancel::new(),
        },
        recorder.clone(),
    )
    .await
    .unwrap();
    assert!(report.succeeded(), "{report:?}");
    assert!(store.state().resources.is_empty());
    assert!(store.state().outputs.is_empty());
    let order: Vec<String> = recorder
        .events()
        .into_iter()
        .filter_map(|e| match e {
            crate::events::Event::Finished { address, .. } => Some(address.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(
        order,
        ["oauth_client.api", "role.reader"],
        "the client goes before its role"
    );
    assert!(h.provider.objects_of(Kind::Role).is_empty());
}

#[tokio::test]
async fn a_state_from_another_org_is_refused() {
    let h = Harness::new(CallerKind::User);
    let mut store = h.store();
    store
        .write(|s| s.org_id = Some("someone-else".into()))
        .unwrap();
    let err = h
        .plan_with(&load_manifest(BASIC), PlanOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::OtherOrg { .. }), "{err}");
}

#[tokio::test]
async fn import_and_state_rm() {
    let h = Harness::new(CallerKind::User);
    let m = load_manifest(BASIC);
    h.converge(&m).await;
    let role = h
        .state()
        .resource(&"role.reader".parse().unwrap())
        .unwrap()
        .clone();
    let mut store = h.store();
    crate::ops::state_rm(&mut store, &role.address).unwrap();
    assert!(
        h.plan_with(&m, PlanOptions::default()).await.is_err(),
        "now a name clash"
    );
    let mut store = h.store();
    let address: Address = "role.reader".parse().unwrap();
    crate::ops::import(h.provider.as_ref(), &mut store, &address, &role.id)
        .await
        .unwrap();
    assert!(
        crate::ops::import(h.provider.as_ref(), &mut store, &address, &role.id)
            .await
            .is_err()
    );
    h.assert_clean(&m).await;
}

#[tokio::test]
async fn rotate_writes_only_the_secrets_file() {
    let h = Harness::new(CallerKind::Client);
    let m = load_manifest(CLIENT);
    h.converge(&m).await;
    let store = h.store();
    let address: Address = "oauth_client.api".parse().unwrap();
    let secrets = SecretsFile::new(&h.secrets_path);
    crate::ops::rotate(h.provider.as_ref(), &store, &address, &secrets, &Silent)
        .await
        .unwrap();
    let rotated = h.provider.with(|o| o.secrets.last().cloned().unwrap());
    assert_eq!(secrets.secret(&address).unwrap().unwrap().expose(), rotated);
    assert!(!std::fs::read_to_string(&h.state_path)
        .unwrap()
        .contains(&rotated));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// A manifest from a random selection of blocks with random values.
    fn manifest_text(
        groups: &[(String, Option<String>)],
        perms: &[&str],
        with_client: bool,
    ) -> String {
        let mut s = String::from(
            "[gcrecon]\nversion = 1\nname = \"t\"\n\n[role.r]\nname = \"R\"\npermissions = [",
        );
        s.push_str(
            &perms
                .iter()
                .map(|p| format!("\"{p}\""))
                .collect::<Vec<_>>()
                .join(", "),
        );
        s.push_str("]\n");
        for (i, (name, description)) in groups.iter().enumerate() {
            s.push_str(&format!("\n[group.g{i}]\nname = \"{name}\"\n"));
            if let Some(d) = description {
                s.push_str(&format!("description = \"{d}\"\n"));
            }
        }
        if with_client {
            s.push_str("\n[oauth_client.c]\nname = \"C\"\ngrant_type = \"client_credentials\"\nroles = [{ role = \"${role.r.id}\" }]\n");
        }
        s
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn applying_a_plan_then_planning_again_is_empty(
            first in prop::collection::vec(("[A-Z][a-z]{2,6}", prop::option::of("[a-z ]{0,8}")), 0..4),
            second in prop::collection::vec(("[A-Z][a-z]{2,6}", prop::option::of("[a-z ]{0,8}")), 0..4),
            perms in prop::sample::subsequence(vec!["routing:queue:view", "directory:user:view", "analytics:conversationDetail:view"], 1..3),
            client in any::<bool>(),
        ) {
            let unique = |v: Vec<(String, Option<String>)>| {
                let mut seen = std::collections::BTreeSet::new();
                v.into_iter().filter(|(n, _)| seen.insert(n.clone())).collect::<Vec<_>>()
            };
            let (first, second) = (unique(first), unique(second));
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let h = Harness::new(CallerKind::User);
                for groups in [&first, &second] {
                    let m = load_manifest(&manifest_text(groups, &perms, client));
                    h.converge(&m).await;
                    h.assert_clean(&m).await;
                    let names: std::collections::BTreeSet<String> = h.provider.objects_of(Kind::Group).into_iter().map(|g| g.name).collect();
                    let want: std::collections::BTreeSet<String> = groups.iter().map(|(n, _)| n.clone()).collect();
                    assert_eq!(names, want);
                }
            });
        }
    }
}

mod schema {
    //! Real state files against `state/schema.json`, with a validator for
    //! the subset of JSON Schema the file uses (type, const, enum, required,
    //! properties, additionalProperties, items, $ref; patterns are not checked).

    use super::*;
    use gcrecon_core::state::{CallerGrantRecord, CallerGrantStatus, PendingOperation};
    use serde_json::Value as Json;

    fn resolve<'a>(root: &'a Json, schema: &'a Json) -> &'a Json {
        match schema.get("$ref").and_then(Json::as_str) {
            Some(r) => {
                let name = r.strip_prefix("#/$defs/").expect("only local $refs");
                resolve(root, &root["$defs"][name])
            }
            None => schema,
        }
    }

    fn type_matches(ty: &str, value: &Json) -> bool {
        match ty {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_u64() || value.is_i64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            other => panic!("unsupported type {other}"),
        }
    }

    fn validate(root: &Json, schema: &Json, value: &Json, path: &str, errors: &mut Vec<String>) {
        let schema = resolve(root, schema);
        if let Some(t) = schema.get("type") {
            let ok = match t {
                Json::String(t) => type_matches(t, value),
                Json::Array(ts) => ts.iter().any(|t| type_matches(t.as_str().unwrap(), value)),
                _ => true,
            };
            if !ok {
                errors.push(format!("{path}: {value} is not of type {t}"));
                return;
            }
        }
        if let Some(c) = schema.get("const") {
            if c != value {
                errors.push(format!("{path}: {value} is not {c}"));
            }
        }
        if let Some(e) = schema.get("enum").and_then(Json::as_array) {
            if !e.contains(value) {
                errors.push(format!("{path}: {value} is not one of {e:?}"));
            }
        }
        if let Some(obj) = value.as_object() {
            for r in schema
                .get("required")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
            {
                if !obj.contains_key(r.as_str().unwrap()) {
                    errors.push(format!("{path}: missing {r}"));
                }
            }
            let props = schema.get("properties").and_then(Json::as_object);
            for (k, v) in obj {
                match props.and_then(|p| p.get(k)) {
                    Some(s) => validate(root, s, v, &format!("{path}.{k}"), errors),
                    None => match schema.get("additionalProperties") {
                        Some(Json::Bool(false)) => {
                            errors.push(format!("{path}: unexpected key {k}"));
                        }
                        Some(s @ Json::Object(_)) => {
                            validate(root, s, v, &format!("{path}.{k}"), errors);
                        }
                        _ => {}
                    },
                }
            }
        }
        if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
            for (i, v) in arr.iter().enumerate() {
                validate(root, items, v, &format!("{path}[{i}]"), errors);
            }
        }
    }

    #[tokio::test]
    async fn state_files_match_the_published_schema() {
        let schema_path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../state/schema.json");
        let schema: Json =
            serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
        let h = Harness::new(CallerKind::Client);
        let m = load_manifest(&format!(
            "{CLIENT}\n[data.user.ada]\nemail = \"ada@example.com\"\n\n[role_grant.readers]\nrole = \"${{role.reader.id}}\"\nsubjects = [\"${{data.user.ada.id}}\"]\n"
        ));
        h.converge(&m).await;
        // Fill the sections a clean apply leaves empty.
        let mut store = h.store();
        store
            .write(|s| {
                s.pending.push(PendingOperation {
                    address: "group.g".parse().unwrap(),
                    kind: Kind::Group,
                    operation: PendingKind::Create,
                    name: "G".into(),
                    id: None,
                    started: crate::lock::now_rfc3339(),
                });
                s.caller_grants.push(CallerGrantRecord {
                    role: "role.reader".parse().unwrap(),
                    role_id: "r".into(),
                    division_id: "*".into(),
                    caller_id: "client-ci".into(),
                    status: CallerGrantStatus::Held,
                });
            })
            .unwrap();
        let state: Json =
            serde_json::from_str(&std::fs::read_to_string(&h.state_path).unwrap()).unwrap();
        for section in ["resources", "pending", "caller_grants", "data", "outputs"] {
            assert!(!state[section].is_null(), "the sample has {section}");
        }
        let mut errors = Vec::new();
        validate(&schema, &schema, &state, "$", &mut errors);
        assert!(errors.is_empty(), "{errors:#?}");
        // The validator does catch a stray key.
        let mut bad = state.clone();
        bad["resources"][0]["secret"] = Json::from("x");
        let mut errors = Vec::new();
        validate(&schema, &schema, &bad, "$", &mut errors);
        assert_eq!(errors.len(), 1, "{errors:?}");
    }
}

#[tokio::test]
async fn a_state_that_cannot_be_written_stops_the_walk_before_the_next_change() {
    let h = Harness::new(CallerKind::User);
    let m = load_manifest(&format!("{CLIENT}\n[group.ops]\nname = \"Ops\"\n"));
    let p = h.plan(&m).await;
    let store = h.store();
    // A directory where the state file goes: every write's rename fails.
    std::fs::create_dir_all(&h.state_path).unwrap();
    let (report, _) = apply(
        Arc::clone(&h.provider),
        ApplyInput {
            manifest: &m.manifest,
            variables: &m.variables,
            name: "t",
            manifest_sha256: &m.sha,
        },
        store,
        p,
        ApplyOptions {
            parallelism: 1,
            secrets: SecretsFile::new(&h.secrets_path),
            cancel: Cancel::new(),
        },
        Arc::new(Silent),
    )
    .await
    .expect("the walk reports a failed write, it does not end in an error");
    assert!(!report.succeeded());
    let failure = report.state_failure.as_deref().unwrap_or_default();
    assert!(failure.contains("t.gcstate.json"), "{failure}");
    assert!(
        report
            .outcomes
            .iter()
            .any(|o| o.status == Status::NotStarted),
        "no change after the first failed write: {report:#?}"
    );
    let names = |kind| -> Vec<String> {
        h.provider
            .objects_of(kind)
            .into_iter()
            .map(|o| o.name)
            .collect()
    };
    for (kind, name) in [
        (Kind::Group, "Ops"),
        (Kind::Role, "Reader"),
        (Kind::OauthClient, "API"),
    ] {
        assert!(
            !names(kind).iter().any(|n| n == name),
            "{name} was created although its create could not be announced in the state"
        );
    }
}

#[tokio::test]
async fn a_damaged_secrets_file_stops_apply_before_any_change() {
    let h = Harness::new(CallerKind::User);
    let m = load_manifest(CLIENT);
    let p = h.plan(&m).await;
    std::fs::create_dir_all(h.secrets_path.parent().unwrap()).unwrap();
    std::fs::write(&h.secrets_path, b"{\"oauth_client.api\": 5}").unwrap();
    let result = apply(
        Arc::clone(&h.provider),
        ApplyInput {
            manifest: &m.manifest,
            variables: &m.variables,
            name: "t",
            manifest_sha256: &m.sha,
        },
        h.store(),
        p,
        ApplyOptions {
            parallelism: 4,
            secrets: SecretsFile::new(&h.secrets_path),
            cancel: Cancel::new(),
        },
        Arc::new(Silent),
    )
    .await;
    let err = result.expect_err("a damaged secrets file is refused");
    assert!(err.to_string().contains("t.secrets.json"), "{err}");
    for (kind, name) in [(Kind::Role, "Reader"), (Kind::OauthClient, "API")] {
        assert!(
            h.provider.objects_of(kind).iter().all(|o| o.name != name),
            "{name} was created before the secrets file was checked"
        );
    }
    assert_eq!(
        std::fs::read(&h.secrets_path).unwrap(),
        b"{\"oauth_client.api\": 5}",
        "the file is left as it was"
    );
}
