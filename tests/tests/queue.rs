//! End-to-end tests of the `queue` kind: the real `gcrecon` against gcsim,
//! every outcome read from `/_sim/dump`. A queue is created in a managed
//! division with its defaults, re-plans empty, is updated in place, shows
//! drift when changed behind gcrecon's back (and apply puts it back), is
//! taken over with `import` and with `adopt = true`, is exported with
//! `--kinds queue` (and plans empty from the export), and `destroy`
//! removes it.

use serde_json::{json, Value};
use test_support::Workdir;

const FIXTURE: &str = r#"
[org]
name = "Acme"
short_name = "acme"
region = "ap-southeast-2"

[[users]]
email = "admin@acme.example"
name = "Ada Admin"
division = "Home"
roles = ["admin"]

[[queues]]
name = "Legacy Queue"
division = "Home"

[[oauth_clients]]
name = "gcrecon-ci"
client_id = "ci-client"
client_secret = "ci-secret"
roles = ["admin"]
"#;

/// A queue in a division of its own; `extra` is added to the queue's
/// table (a `description` there replaces the first one).
fn manifest(extra: &str) -> String {
    let description = if extra.contains("description") {
        ""
    } else {
        "description = \"First line\"\n"
    };
    format!(
        r#"
[gcrecon]
version = 1
name = "acme"

[division.service]
name = "Service Desk"

[queue.support]
name = "Support"
division = "${{division.service.id}}"
{description}acw_timeout_ms = 30000
{extra}
"#
    )
}

/// The objects of `collection` named `name` in the dump.
fn named(dump: &Value, collection: &str, name: &str) -> Vec<Value> {
    dump[collection]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["name"] == name)
        .cloned()
        .collect()
}

/// The one object of `collection` named `name`.
fn one(w: &Workdir, collection: &str, name: &str) -> Value {
    let found = named(&w.sim.dump(), collection, name);
    assert_eq!(found.len(), 1, "{collection} named {name}: {found:#?}");
    found[0].clone()
}

/// The plan's changes other than no-ops and reads: (address, actions, changed keys).
fn changes(plan: &Value) -> Vec<(String, Value, Value)> {
    plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["change"]["actions"] != json!(["no-op"]) && c["change"]["actions"] != json!(["read"])
        })
        .map(|c| {
            (
                c["address"].as_str().unwrap().to_owned(),
                c["change"]["actions"].clone(),
                c["changed_keys"].clone(),
            )
        })
        .collect()
}

fn plan_json(w: &Workdir, code: i32) -> Value {
    w.run(&["plan", "--format", "json", "--detailed-exitcode"])
        .expect(code)
        .json()
}

#[test]
fn a_queue_is_created_updated_drift_checked_and_destroyed() {
    let w = Workdir::new(FIXTURE, &manifest(""));

    // The create shows the defaults the manifest leaves out.
    let plan = plan_json(&w, 2);
    let create = plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "queue.support")
        .unwrap_or_else(|| panic!("no queue.support in {plan:#}"))
        .clone();
    assert_eq!(create["change"]["actions"], json!(["create"]));
    let after = &create["change"]["after"];
    assert_eq!(after["acw_wrapup_prompt"], "MANDATORY_TIMEOUT", "{after:#}");
    assert_eq!(after["skill_evaluation_method"], "ALL");
    assert_eq!(after["scoring_method"], "TimestampAndPriority");
    assert_eq!(after["auto_answer_only"], true);
    assert_eq!(after["enable_transcription"], false);
    assert_eq!(after["enable_manual_assignment"], false);
    assert_eq!(after["suppress_in_queue_call_recording"], true);

    w.run(&["apply", "--auto-approve"]).expect(0);
    let division = one(&w, "divisions", "Service Desk");
    let queue = one(&w, "queues", "Support");
    assert_eq!(queue["division"]["id"], division["id"], "{queue:#}");
    assert_eq!(queue["description"], "First line");
    assert_eq!(
        queue["acwSettings"],
        json!({"wrapupPrompt": "MANDATORY_TIMEOUT", "timeoutMs": 30000})
    );
    assert_eq!(queue["skillEvaluationMethod"], "ALL");
    assert_eq!(queue["scoringMethod"], "TimestampAndPriority");
    assert_eq!(queue["autoAnswerOnly"], true);
    assert_eq!(queue["enableTranscription"], false);
    assert_eq!(queue["enableManualAssignment"], false);
    assert_eq!(queue["suppressInQueueCallRecording"], true);
    assert!(
        queue.get("enableAudioMonitoring").is_none(),
        "not set: not sent"
    );
    let id = queue["id"].clone();

    // Converged: nothing to do, and drift finds nothing changed.
    plan_json(&w, 0);
    let report = w.run(&["drift", "--format", "json"]).json();
    assert_eq!(report["drifted"], json!([]), "{report:#}");
    assert_eq!(report["missing"], json!([]), "{report:#}");

    // A changed key and a changed default: one update in place.
    w.write(
        "gcrecon.toml",
        &manifest("description = \"First and second line\"\nskill_evaluation_method = \"BEST\""),
    );
    let plan = plan_json(&w, 2);
    assert_eq!(
        changes(&plan),
        [(
            "queue.support".to_owned(),
            json!(["update"]),
            json!(["description", "skill_evaluation_method"])
        )],
        "{plan:#}"
    );
    w.run(&["apply", "--auto-approve"]).expect(0);
    let queue = one(&w, "queues", "Support");
    assert_eq!(queue["id"], id, "updated in place, not replaced");
    assert_eq!(queue["description"], "First and second line");
    assert_eq!(queue["skillEvaluationMethod"], "BEST");
    assert_eq!(
        queue["acwSettings"]["timeoutMs"], 30000,
        "kept by the update"
    );
    plan_json(&w, 0);

    // Changed behind gcrecon's back: a defaulted key through the sim, a
    // setting gcrecon does not manage through the API.
    w.sim
        .mutate(json!({"kind": "queue", "name": "Support", "set": {
            "acwSettings": {"wrapupPrompt": "OPTIONAL"},
            "autoAnswerOnly": false,
        }}));
    let mut by_api = w.sim.api_as_admin(
        "GET",
        &format!("/api/v2/routing/queues/{}", id.as_str().unwrap()),
        None,
    );
    by_api["callingPartyName"] = json!("Acme Support");
    by_api["division"] = json!({"id": division["id"]});
    w.sim.api_as_admin(
        "PUT",
        &format!("/api/v2/routing/queues/{}", id.as_str().unwrap()),
        Some(&by_api),
    );
    let report = w.run(&["drift", "--format", "json"]).expect(2).json();
    let mut drifted: Vec<(String, String, Value, Value)> = Vec::new();
    for object in report["drifted"].as_array().unwrap() {
        for c in object["changes"].as_array().unwrap() {
            drifted.push((
                object["address"].as_str().unwrap().to_owned(),
                c["key"].as_str().unwrap().to_owned(),
                c["expected"].clone(),
                c["actual"].clone(),
            ));
        }
    }
    assert_eq!(
        drifted,
        [
            (
                "queue.support".to_owned(),
                "acw_wrapup_prompt".to_owned(),
                json!("MANDATORY_TIMEOUT"),
                json!("OPTIONAL")
            ),
            (
                "queue.support".to_owned(),
                "auto_answer_only".to_owned(),
                json!(true),
                json!(false)
            ),
        ],
        "the unmanaged calling party name is no drift: {report:#}"
    );
    let plan = plan_json(&w, 2);
    assert_eq!(
        changes(&plan),
        [(
            "queue.support".to_owned(),
            json!(["update"]),
            json!(["acw_wrapup_prompt", "auto_answer_only"])
        )],
        "{plan:#}"
    );
    w.run(&["apply", "--auto-approve"]).expect(0);
    let queue = one(&w, "queues", "Support");
    assert_eq!(queue["acwSettings"]["wrapupPrompt"], "MANDATORY_TIMEOUT");
    assert_eq!(queue["autoAnswerOnly"], true);
    assert_eq!(
        queue["callingPartyName"], "Acme Support",
        "a setting gcrecon does not manage survives its update"
    );
    let report = w.run(&["drift", "--format", "json"]).expect(2).json();
    assert_eq!(report["drifted"], json!([]), "{report:#}");
    let unmanaged: Vec<&Value> = report["unmanaged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| &u["name"])
        .collect();
    assert_eq!(unmanaged, [&json!("Legacy Queue")], "{report:#}");

    // destroy removes the queue, then its division.
    w.run(&["destroy", "--auto-approve"]).expect(0);
    let dump = w.sim.dump();
    assert!(named(&dump, "queues", "Support").is_empty(), "{dump:#}");
    assert!(named(&dump, "divisions", "Service Desk").is_empty());
    assert_eq!(
        named(&dump, "queues", "Legacy Queue").len(),
        1,
        "not managed"
    );
}

#[test]
fn an_existing_queue_is_imported_or_adopted_not_duplicated() {
    let legacy = "\n[queue.legacy]\nname = \"Legacy Queue\"\ndescription = \"Taken over\"\n";
    let w = Workdir::new(FIXTURE, &format!("{}{legacy}", manifest("")));
    let legacy_id = one(&w, "queues", "Legacy Queue")["id"].clone();

    // A name clash with an unmanaged queue is a plan error naming the import.
    let clash = w.run(&["plan"]).expect(1);
    assert!(
        clash.stderr.contains(&format!(
            "gcrecon import queue.legacy {}",
            legacy_id.as_str().unwrap()
        )),
        "{}",
        clash.stderr
    );

    // `gcrecon import` takes it over: the plan updates it, never creates it.
    w.run(&["import", "queue.legacy", legacy_id.as_str().unwrap()])
        .expect(0);
    let plan = plan_json(&w, 2);
    let legacy_change = changes(&plan)
        .into_iter()
        .find(|(a, _, _)| a == "queue.legacy")
        .unwrap_or_else(|| panic!("no change of queue.legacy: {plan:#}"));
    assert_eq!(legacy_change.1, json!(["update"]), "{plan:#}");
    w.run(&["apply", "--auto-approve"]).expect(0);
    let queue = one(&w, "queues", "Legacy Queue");
    assert_eq!(queue["id"], legacy_id);
    assert_eq!(queue["description"], "Taken over");
    assert_eq!(queue["acwSettings"]["wrapupPrompt"], "MANDATORY_TIMEOUT");
    plan_json(&w, 0);

    // `adopt = true` does the same without the command (a fresh state).
    let w = Workdir::new(FIXTURE, &format!("{}{legacy}adopt = true\n", manifest("")));
    let legacy_id = one(&w, "queues", "Legacy Queue")["id"].clone();
    w.run(&["apply", "--auto-approve"]).expect(0);
    let queue = one(&w, "queues", "Legacy Queue");
    assert_eq!(queue["id"], legacy_id, "adopted, not duplicated");
    assert_eq!(queue["description"], "Taken over");
    plan_json(&w, 0);
}

#[test]
fn queues_are_exported_when_asked_for_and_plan_empty() {
    let w = Workdir::new(FIXTURE, &manifest(""));
    w.run(&["apply", "--auto-approve"]).expect(0);

    // Not part of the default export.
    w.run(&["export", "-o", "everything.toml"]).expect(0);
    let everything = std::fs::read_to_string(w.path("everything.toml")).unwrap();
    assert!(!everything.contains("[queue."), "{everything}");

    w.run(&[
        "export",
        "--kinds",
        "division,queue",
        "-o",
        "exported/queues.toml",
    ])
    .expect(0);
    let exported = std::fs::read_to_string(w.path("exported/queues.toml")).unwrap();
    for expected in [
        "[queue.support]",
        "[queue.legacy_queue]",
        "name = \"Legacy Queue\"",
        "division = \"${division.service_desk.id}\"",
        "division = \"${data.division.home.id}\"",
        "auto_answer_only = false",
        "acw_timeout_ms = 30000",
    ] {
        assert!(
            exported.contains(expected),
            "no {expected:?} in\n{exported}"
        );
    }
    w.run(&["plan", "-m", "exported/queues.toml", "--detailed-exitcode"])
        .expect(0);
}
