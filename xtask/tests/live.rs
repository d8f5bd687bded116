//! `cargo xtask live` against gcsim: the built xtask binary drives the real
//! gcrecon binary through the whole loop, pointed at a simulator by
//! `GENESYSCLOUD_API_REGION` as a maintainer points it at a sandbox org.
//! Outcomes are asserted on gcsim's `/_sim/dump` and `/_sim/stats`.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use test_support::{bin_path, Sim};

const PREFIX: &str = "gcrecon-live-";

/// `xtask live ARGS` with the environment pointing at `sim`; `live` is the
/// value of GCRECON_LIVE (unset when `None`).
fn xtask_live(sim: &Sim, live: Option<&str>, gcrecon: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.arg("live")
        .arg("--gcrecon")
        .arg(gcrecon)
        .env("GENESYSCLOUD_API_REGION", sim.url())
        .env("GENESYSCLOUD_OAUTHCLIENT_ID", sim.admin_client_id())
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", sim.admin_client_secret())
        .env_remove("GENESYSCLOUD_REGION")
        .env_remove("GENESYSCLOUD_ACCESS_TOKEN")
        .env_remove("GCRECON_BACKEND")
        .env_remove("GCRECON_WORKSPACE")
        .env("NO_COLOR", "1");
    match live {
        Some(v) => cmd.env("GCRECON_LIVE", v),
        None => cmd.env_remove("GCRECON_LIVE"),
    };
    cmd.output().expect("cannot run the xtask binary")
}

fn text(out: &Output) -> String {
    format!(
        "exit: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every object of the dump whose name starts with `gcrecon-live-` and that
/// does not read as deleted.
fn live_objects(dump: &Value) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                let name = m.get("name").and_then(Value::as_str).unwrap_or("");
                let deleted = m.get("state").and_then(Value::as_str) == Some("deleted");
                if name.starts_with(PREFIX) && !deleted {
                    out.push(name.to_owned());
                }
                m.values().for_each(|x| walk(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(dump, &mut out);
    out
}

fn calls(sim: &Sim, route: &str) -> u64 {
    sim.stats()["by_route"][route].as_u64().unwrap_or(0)
}

/// The routes that create and delete each kind of the sandbox.
const CREATES: &[&str] = &[
    "POST /api/v2/authorization/divisions",
    "POST /api/v2/authorization/roles",
    "POST /api/v2/groups",
    "POST /api/v2/oauth/clients",
    "POST /api/v2/integrations",
];
const DELETES: &[&str] = &[
    "DELETE /api/v2/authorization/divisions/{divisionId}",
    "DELETE /api/v2/authorization/roles/{roleId}",
    "DELETE /api/v2/groups/{groupId}",
    "DELETE /api/v2/oauth/clients/{clientId}",
    "DELETE /api/v2/integrations/{integrationId}",
];

fn assert_created_and_deleted_each_kind(sim: &Sim, out: &Output) {
    for route in CREATES.iter().chain(DELETES) {
        assert!(
            calls(sim, route) >= 1,
            "no `{route}` call: {:?}\n{}",
            sim.stats()["by_route"],
            text(out)
        );
    }
}

/// Against a lagging gcsim, as the real service lags: new objects are
/// missing from listings and grants reach tokens only after two seconds.
#[test]
fn live_check_runs_the_whole_loop_against_gcsim_and_leaves_nothing() {
    let sim = Sim::builder()
        .eventual_ms(2000)
        .grant_delay_ms(2000)
        .start();
    let out = xtask_live(&sim, Some("1"), &bin_path("gcrecon"));
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in [
        "It will create, check and then delete again:",
        "ok    division:",
        "ok    role: permissionPolicies grant exactly the 4 permissions",
        "ok    group:",
        "ok    role grant: the group holds the role in the division",
        "ok    OAuth client:",
        "ok    client login: logs in with the delivered secret",
        "ok    integration:",
        "ok    no object named gcrecon-live-",
        "live check passed",
    ] {
        assert!(stdout.contains(line), "missing `{line}`:\n{all}");
    }
    // It announces what it will create before the first gcrecon step.
    let announced = stdout.find("It will create").unwrap();
    assert!(announced < stdout.find("=== gcrecon validate").unwrap());
    assert_created_and_deleted_each_kind(&sim, &out);
    // The new client logged in itself (the admin logs in too).
    assert!(calls(&sim, "POST /oauth/token") >= 2, "{all}");
    let left = live_objects(&sim.dump());
    assert!(left.is_empty(), "left behind: {left:?}\n{all}");
    assert!(
        !all.contains(sim.admin_client_secret()),
        "a secret was printed"
    );
}

/// A gcrecon whose `command` exits 1 and that passes every other command
/// to the real binary.
#[cfg(unix)]
fn gcrecon_failing(dir: &Path, command: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;

    let wrapper = dir.join("gcrecon");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nif [ \"$1\" = {command} ]; then echo '{command}: failed on purpose' >&2; exit 1; fi\nexec '{}' \"$@\"\n",
            bin_path("gcrecon").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    wrapper
}

/// A step that fails after apply (here `gcrecon drift`) is reported, and
/// everything apply created is destroyed all the same.
#[cfg(unix)]
#[test]
fn live_check_destroys_what_it_created_when_a_step_fails() {
    let sim = Sim::start();
    let dir = test_support::temp_dir();
    let out = xtask_live(&sim, Some("1"), &gcrecon_failing(dir.path(), "drift"));
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("live check failed (everything it created was destroyed)")
            && stderr.contains("`gcrecon drift` ended with"),
        "{all}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let failed = stdout.find("FAILED: `gcrecon drift`").expect(&all);
    let destroy = stdout.find("=== gcrecon destroy").expect(&all);
    assert!(failed < destroy, "{all}");
    assert_created_and_deleted_each_kind(&sim, &out);
    let left = live_objects(&sim.dump());
    assert!(left.is_empty(), "left behind: {left:?}\n{all}");
}

/// A failure before apply (here the first plan) creates nothing and
/// destroys nothing.
#[cfg(unix)]
#[test]
fn live_check_that_fails_before_apply_creates_nothing() {
    let sim = Sim::start();
    let before = sim.dump();
    let dir = test_support::temp_dir();
    let out = xtask_live(&sim, Some("1"), &gcrecon_failing(dir.path(), "plan"));
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("live check failed before apply")
            && stderr.contains("`gcrecon plan --detailed-exitcode` ended with"),
        "{all}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("nothing was created"), "{all}");
    assert!(!stdout.contains("=== gcrecon apply"), "{all}");
    for route in CREATES.iter().chain(DELETES) {
        assert_eq!(calls(&sim, route), 0, "`{route}` was called:\n{all}");
    }
    assert_eq!(sim.dump(), before);
}

#[test]
fn live_check_refuses_without_gcrecon_live_and_touches_nothing() {
    let sim = Sim::start();
    let before = sim.dump();
    for live in [None, Some("0"), Some("yes"), Some("")] {
        let out = xtask_live(&sim, live, &bin_path("gcrecon"));
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "GCRECON_LIVE={live:?}: {all}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        for part in [
            "refusing to run",
            "creates real objects",
            "GCRECON_LIVE=1",
            "gcrecon-live-",
            "-role",
            "-client",
        ] {
            assert!(stderr.contains(part), "missing `{part}`:\n{all}");
        }
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("=== gcrecon"),
            "{all}"
        );
    }
    assert_eq!(
        sim.stats()["total"],
        0,
        "a refused run sent requests: {}",
        sim.stats()
    );
    assert_eq!(sim.dump(), before);
}
