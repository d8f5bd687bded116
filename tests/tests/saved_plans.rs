//! End-to-end tests of saved plans and their variables: `gcrecon plan --out
//! FILE --var ...` stores the values (a sensitive one only as a
//! fingerprint), `gcrecon apply FILE` needs no `--var` but the sensitive
//! ones, and a value given to `apply FILE` that differs from the saved one
//! is refused before anything changes in gcsim.

use serde_json::Value;
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

const MANIFEST: &str = r#"
[gcrecon]
version = 1
name = "acme"

[variables.aws_account_id]
description = "The AWS account events go to"

[variables.regions]
type = "list"

[variables.api_key]
sensitive = true

[division.events]
name = "Events"
description = "account ${var.aws_account_id} in ${var.regions[0]}"

[integration.app]
type = "embedded-client-app"
name = "Acme App"

[integration.app.config]
url = "https://apps.acme.example/?key=${var.api_key}"
displayType = "standalone"
"#;

const SECRET: &str = "k3y-0f-the-acme-app";

/// The org and the directory of one test.
struct Setup(Workdir);

impl std::ops::Deref for Setup {
    type Target = Workdir;
    fn deref(&self) -> &Workdir {
        &self.0
    }
}

impl Setup {
    fn new() -> Setup {
        Setup(Workdir::new(FIXTURE, MANIFEST))
    }

    /// The objects gcrecon would create, as `/_sim/dump` shows them.
    fn created(&self) -> (Option<Value>, Option<Value>) {
        let dump = self.sim.dump();
        let find = |collection: &str, name: &str| {
            dump[collection]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["name"] == name)
                .cloned()
        };
        (
            find("divisions", "Events"),
            find("integrations", "Acme App"),
        )
    }

    /// Apply `plan.json` with `args` and `env`: refused, nothing changed.
    fn refused(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let mut all = vec!["apply", "plan.json"];
        all.extend_from_slice(args);
        let run = self.run_env(&all, env).expect(1);
        assert_eq!(self.created(), (None, None), "nothing applied");
        assert!(
            !run.stderr.contains(SECRET) && !run.stdout.contains(SECRET),
            "{}",
            run.stderr
        );
        run.stderr
    }
}

fn plan(s: &Setup) {
    let run = s
        .run(&[
            "plan",
            "--out",
            "plan.json",
            "--var",
            "aws_account_id=123456789012",
            "--var",
            "regions=[\"ap-southeast-2\", \"eu-west-1\"]",
            "--var",
            &format!("api_key={SECRET}"),
        ])
        .expect(0);
    assert!(!run.stdout.contains(SECRET), "{}", run.stdout);
    let text = std::fs::read_to_string(s.path("plan.json")).unwrap();
    assert!(!text.contains(SECRET), "the plan file holds no secret");
    let saved: Value = serde_json::from_str(&text).unwrap();
    let vars = &saved["saved"]["variables"];
    assert_eq!(vars["aws_account_id"]["value"], "123456789012");
    assert_eq!(
        vars["regions"]["value"],
        serde_json::json!(["ap-southeast-2", "eu-west-1"])
    );
    assert!(vars["api_key"].get("value").is_none(), "{vars:#}");
    assert_eq!(
        vars["api_key"]["sensitive"]["sha256"]
            .as_str()
            .map(str::len),
        Some(64),
        "{vars:#}"
    );
}

#[test]
fn apply_file_takes_the_saved_values_and_needs_only_the_sensitive_ones() {
    let s = Setup::new();
    plan(&s);

    // The sensitive variable is not in the file: it must be given again.
    let stderr = s.refused(&[], &[]);
    assert!(stderr.contains("var.api_key"), "{stderr}");

    s.run(&["apply", "plan.json", "--var", &format!("api_key={SECRET}")])
        .expect(0);
    let (division, integration) = s.created();
    assert_eq!(
        division.unwrap()["description"],
        "account 123456789012 in ap-southeast-2"
    );
    assert_eq!(
        integration.unwrap()["config"]["properties"]["url"],
        format!("https://apps.acme.example/?key={SECRET}")
    );
    s.run_env(
        &["plan", "--detailed-exitcode"],
        &[
            ("GCRECON_VAR_AWS_ACCOUNT_ID", "123456789012"),
            ("GCRECON_VAR_REGIONS", "ap-southeast-2,eu-west-1"),
            ("GCRECON_VAR_API_KEY", SECRET),
        ],
    )
    .expect(0);
}

#[test]
fn the_same_values_given_again_are_accepted() {
    let s = Setup::new();
    plan(&s);
    s.run_env(
        &["apply", "plan.json", "--var", "aws_account_id=123456789012"],
        &[
            ("GCRECON_VAR_REGIONS", "[\"ap-southeast-2\",\"eu-west-1\"]"),
            ("GCRECON_VAR_API_KEY", SECRET),
        ],
    )
    .expect(0);
    assert!(s.created().0.is_some());
}

#[test]
fn a_value_that_differs_from_the_saved_one_is_refused() {
    let s = Setup::new();
    plan(&s);
    let key = format!("api_key={SECRET}");

    let stderr = s.refused(
        &["--var", "aws_account_id=999999999999", "--var", &key],
        &[],
    );
    assert!(
        stderr.contains("var.aws_account_id")
            && stderr.contains("999999999999")
            && stderr.contains("123456789012"),
        "names the variable, the value given and the saved one: {stderr}"
    );
    assert!(
        stderr.contains("hint:") && stderr.contains("new plan"),
        "{stderr}"
    );

    // From the environment as well.
    let stderr = s.refused(&["--var", &key], &[("GCRECON_VAR_REGIONS", "eu-west-1")]);
    assert!(stderr.contains("var.regions"), "{stderr}");

    // A sensitive value that does not match its fingerprint, without
    // echoing either value.
    let stderr = s.refused(&["--var", "api_key=another-key-entirely"], &[]);
    assert!(
        stderr.contains("var.api_key") && stderr.contains("does not match"),
        "{stderr}"
    );
    assert!(!stderr.contains("another-key-entirely"), "{stderr}");
}
