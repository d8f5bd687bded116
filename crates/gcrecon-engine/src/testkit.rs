//! What the engine's tests share: real manifests planned and applied
//! against the in-memory [`FakeProvider`] in a temporary directory
//! ([`Harness`]), and the manifests several tests use.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use gcrecon_core::manifest::{load, Manifest, Source, Variables};
use gcrecon_core::plan::Action;
use gcrecon_core::provider::CallerKind;
use gcrecon_core::state::State;

use crate::apply::{apply, ApplyInput, ApplyOptions, ApplyReport};
use crate::error::EngineError;
use crate::events::{Cancel, Silent};
use crate::fake::FakeProvider;
use crate::planner::{plan, PlanInput, PlanOptions, Planned};
use crate::saved::manifest_sha256;
use crate::secrets::SecretsFile;
use crate::store::StateStore;

pub(crate) struct Harness {
    pub(crate) provider: Arc<FakeProvider>,
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) state_path: PathBuf,
    pub(crate) secrets_path: PathBuf,
}

pub(crate) struct Loaded {
    pub(crate) manifest: Manifest,
    pub(crate) variables: Variables,
    pub(crate) sha: String,
}

pub(crate) fn load_manifest(text: &str) -> Loaded {
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
    pub(crate) fn new(caller: CallerKind) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Harness {
            provider: Arc::new(FakeProvider::new(caller)),
            state_path: dir.path().join("state/t.gcstate.json"),
            secrets_path: dir.path().join("state/t.secrets.json"),
            _dir: dir,
        }
    }

    pub(crate) fn store(&self) -> StateStore {
        StateStore::open(&self.state_path, "t").unwrap()
    }

    pub(crate) fn state(&self) -> State {
        self.store().state().clone()
    }

    pub(crate) async fn plan_with(
        &self,
        m: &Loaded,
        options: PlanOptions,
    ) -> Result<Planned, EngineError> {
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

    pub(crate) async fn plan(&self, m: &Loaded) -> Planned {
        match self.plan_with(m, PlanOptions::default()).await {
            Ok(p) => p,
            Err(EngineError::Manifest(d)) => panic!("{}", d.render(&m.manifest.sources(), false)),
            Err(e) => panic!("{e}"),
        }
    }

    pub(crate) async fn apply_planned(&self, m: &Loaded, planned: Planned) -> ApplyReport {
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
    pub(crate) async fn converge(&self, m: &Loaded) -> ApplyReport {
        let planned = self.plan(m).await;
        let report = self.apply_planned(m, planned).await;
        assert!(report.succeeded(), "{report:#?}");
        report
    }

    pub(crate) async fn assert_clean(&self, m: &Loaded) {
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

pub(crate) fn actions_of(p: &Planned) -> BTreeMap<String, Vec<Action>> {
    p.plan
        .resource_changes
        .iter()
        .map(|c| (c.address.to_string(), c.actions.clone()))
        .collect()
}

pub(crate) const BASIC: &str = r#"
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

pub(crate) fn m2_without_group(text: &str) -> String {
    text.replace(
        "[group.ops]\nname = \"Ops\"\ndescription = \"on call\"\n",
        "",
    )
}

pub(crate) const CLIENT: &str = r#"
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

pub(crate) const GRANT: &str = r#"
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
