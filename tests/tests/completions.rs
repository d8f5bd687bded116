//! End-to-end tests of the documents the CLI generates from its own
//! definition: `gcrecon completions bash|zsh|fish` (bash's script is loaded
//! into a real bash and asked to complete) and the man pages of the hidden
//! `gcrecon man --out DIR` that `cargo xtask man` runs.

use std::process::Command;

use test_support::{bin_path, temp_dir, Run};

fn gcrecon(args: &[&str]) -> Run {
    let out = Command::new(bin_path("gcrecon"))
        .args(args)
        .output()
        .expect("cannot run gcrecon");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// What bash completes after `gcrecon WORDS...` with the generated script.
fn bash_completes(words: &[&str]) -> Vec<String> {
    let dir = temp_dir();
    let script = dir.path().join("gcrecon.bash");
    std::fs::write(&script, gcrecon(&["completions", "bash"]).expect(0).stdout).unwrap();
    let words_list = words.join(" ");
    let program = format!(
        "source '{}'; COMP_WORDS=(gcrecon {words_list}); COMP_CWORD={}; COMP_LINE='gcrecon {words_list}'; COMP_POINT=${{#COMP_LINE}}; _gcrecon gcrecon '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        words.len(),
        words.last().unwrap(),
        if words.len() > 1 { words[words.len() - 2] } else { "gcrecon" },
    );
    let out = Command::new("bash")
        .args(["--norc", "-c", &program])
        .output()
        .expect("cannot run bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_commands_and_flags() {
    let commands = bash_completes(&["se"]);
    assert_eq!(commands, vec!["secrets"], "{commands:?}");
    let flags = bash_completes(&["apply", "--secrets-r"]);
    assert_eq!(flags, vec!["--secrets-recipient"], "{flags:?}");
    let shells = bash_completes(&["completions", ""]);
    for shell in ["bash", "zsh", "fish"] {
        assert!(shells.iter().any(|s| s == shell), "{shells:?}");
    }
}

#[test]
fn zsh_and_fish_scripts_name_every_command() {
    let zsh = gcrecon(&["completions", "zsh"]).expect(0).stdout;
    assert!(
        zsh.starts_with("#compdef gcrecon"),
        "{}",
        &zsh[..80.min(zsh.len())]
    );
    let fish = gcrecon(&["completions", "fish"]).expect(0).stdout;
    for command in ["plan", "apply", "drift", "secrets", "rotate", "completions"] {
        assert!(zsh.contains(&format!("'{command}:")), "zsh lacks {command}");
        assert!(
            fish.contains(&format!("-a \"{command}\"")),
            "fish lacks {command}"
        );
    }
    assert!(fish.contains("-l secrets-recipient"));
    let refused = gcrecon(&["completions", "tcsh"]).expect(1);
    assert!(
        refused.stderr.contains("possible values: bash, zsh, fish"),
        "{}",
        refused.stderr
    );
}

#[test]
fn man_pages_cover_every_command() {
    let dir = temp_dir();
    let out = dir.path().join("man");
    let run = gcrecon(&["man", "--out", out.to_str().unwrap()]).expect(0);
    assert!(run.stdout.contains("man page(s)"), "{}", run.stdout);
    let main = std::fs::read_to_string(out.join("gcrecon.1")).unwrap();
    assert!(main.contains(".TH gcrecon 1"), "{main}");
    for page in [
        "validate",
        "plan",
        "apply",
        "destroy",
        "drift",
        "import",
        "export",
        "output",
        "graph",
        "state",
        "state-list",
        "force-unlock",
        "rotate",
        "secrets",
        "secrets-show",
        "completions",
    ] {
        let text = std::fs::read_to_string(out.join(format!("gcrecon-{page}.1")))
            .unwrap_or_else(|e| panic!("gcrecon-{page}.1: {e}"));
        assert!(text.contains(&format!(".TH gcrecon-{page} 1")), "{text}");
    }
    let apply = std::fs::read_to_string(out.join("gcrecon-apply.1")).unwrap();
    assert!(apply.contains("secrets\\-recipient"), "{apply}");
    assert!(apply.contains("GCRECON_SECRETS_RECIPIENTS"), "{apply}");
    assert!(!out.join("gcrecon-man.1").exists());
}
