//! End-to-end tests of the graph walk: the real `gcrecon` against gcsim,
//! outcomes checked in `/_sim/dump`.
//!
//! - A create that Genesys Cloud refuses fails its node: what depends on it
//!   is skipped and reported so, everything independent is still made, and
//!   the next apply (with the manifest fixed) finishes the rest.
//! - Resources that leave the manifest are deleted in the reverse of their
//!   recorded dependencies: an OAuth client, which is first set inactive
//!   with its roles, goes before the role and the division it names, so
//!   the apply succeeds; `gcrecon destroy` walks the same way.

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

[[oauth_clients]]
name = "gcrecon-ci"
client_id = "ci-client"
client_secret = "ci-secret"
roles = ["admin"]
"#;

/// `integration.broken` names an integration type gcsim does not have, so
/// its create is refused; `group.after_broken` references it.
const BROKEN: &str = r#"
[gcrecon]
version = 1
name = "acme"

[integration.broken]
type = "no-such-integration-type"
name = "Broken"

[group.after_broken]
name = "After Broken"
description = "next to ${integration.broken.id}"

[role.reader]
name = "Queue Reader"
permissions = ["routing:queue:view"]

[group.independent]
name = "Independent"
description = "reads with ${role.reader.id}"
"#;

const LINKED: &str = r#"
[gcrecon]
version = 1
name = "acme"

[division.team]
name = "Team"

[role.reader]
name = "Queue Reader"
permissions = ["routing:queue:view"]

[oauth_client.api]
name = "Acme API"
grant_type = "client_credentials"
roles = [{ role = "${role.reader.id}", divisions = ["${division.team.id}"] }]

[group.keep]
name = "Keep"
"#;

const ONLY_THE_GROUP: &str = r#"
[gcrecon]
version = 1
name = "acme"

[group.keep]
name = "Keep"
"#;

/// The names in `collection` of `/_sim/dump`.
fn names(w: &Workdir, collection: &str) -> Vec<String> {
    let dump = w.sim.dump();
    let mut names: Vec<String> = dump[collection]
        .as_array()
        .unwrap_or_else(|| panic!("no {collection} in the dump"))
        .iter()
        .filter(|o| o["state"] != "deleted")
        .filter_map(|o| o["name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

#[test]
fn a_failed_create_skips_its_dependents_and_independent_branches_finish() {
    let w = Workdir::new(FIXTURE, BROKEN);
    let run = w.run(&["apply", "--auto-approve"]).expect(1);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("integration.broken"), "{all}");
    assert!(
        all.contains("group.after_broken") && all.contains("skipped"),
        "the dependent is reported skipped: {all}"
    );
    let groups = names(&w, "groups");
    assert!(groups.contains(&"Independent".to_owned()), "{groups:?}");
    assert!(!groups.contains(&"After Broken".to_owned()), "{groups:?}");
    assert!(names(&w, "roles").contains(&"Queue Reader".to_owned()));
    assert!(!names(&w, "integrations").contains(&"Broken".to_owned()));

    // With the type fixed, the next apply makes only what is left.
    w.write(
        "gcrecon.toml",
        &BROKEN.replace("no-such-integration-type", "embedded-client-app"),
    );
    w.run(&["apply", "--auto-approve"]).expect(0);
    let groups = names(&w, "groups");
    assert!(groups.contains(&"After Broken".to_owned()), "{groups:?}");
    assert_eq!(
        groups.iter().filter(|g| *g == "Independent").count(),
        1,
        "{groups:?}"
    );
    assert!(names(&w, "integrations").contains(&"Broken".to_owned()));
    w.run(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn resources_leaving_the_manifest_are_deleted_after_their_dependents() {
    let w = Workdir::new(FIXTURE, LINKED);
    w.run(&["apply", "--auto-approve"]).expect(0);
    assert!(names(&w, "oauth_clients").contains(&"Acme API".to_owned()));
    assert!(names(&w, "divisions").contains(&"Team".to_owned()));

    w.write("gcrecon.toml", ONLY_THE_GROUP);
    w.run(&["apply", "--auto-approve", "--parallelism", "10"])
        .expect(0);
    assert!(!names(&w, "oauth_clients").contains(&"Acme API".to_owned()));
    assert!(!names(&w, "roles").contains(&"Queue Reader".to_owned()));
    assert!(!names(&w, "divisions").contains(&"Team".to_owned()));
    assert!(names(&w, "groups").contains(&"Keep".to_owned()));
    w.run(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn destroy_walks_the_recorded_dependencies_in_reverse() {
    let w = Workdir::new(FIXTURE, LINKED);
    w.run(&["apply", "--auto-approve"]).expect(0);
    w.run(&["destroy", "--auto-approve"]).expect(0);
    let dump = w.sim.dump();
    for (collection, name) in [
        ("oauth_clients", "Acme API"),
        ("roles", "Queue Reader"),
        ("divisions", "Team"),
        ("groups", "Keep"),
    ] {
        assert!(
            !names(&w, collection).contains(&name.to_owned()),
            "{collection} still has {name}: {}",
            dump[collection]
        );
    }
}
