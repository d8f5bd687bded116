//! The short reliability and security suite, in the normal `cargo test`
//! run: the real `gcrecon` binary against a real `gcsim`, on the Nectar
//! example (the smallest), plus 20,000 fuzzed manifests in-process.
//!
//! The code is `xtask/src/reliability.rs` and `xtask/src/fuzz.rs`, included
//! here with `#[path]`; `cargo xtask reliability` runs the same scenarios
//! on all five examples with more repetitions, and `cargo xtask fuzz` a
//! million inputs. See `docs/reliability.md`.

use std::path::{Path, PathBuf};

#[allow(dead_code)]
#[path = "../../xtask/src/fuzz.rs"]
mod fuzz;
#[allow(dead_code)]
#[path = "../../xtask/src/fuzz_files.rs"]
mod fuzz_files;
#[allow(dead_code)]
#[path = "../../xtask/src/reliability.rs"]
mod reliability;

/// The example every short scenario runs on.
const EXAMPLE: &str = "nectar";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace root")
        .to_path_buf()
}

fn ok<T>(r: Result<T, String>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn apply_killed_after_every_mutating_call_converges_on_rerun() {
    // Strict: a kill that loses an OAuth client's secret is a failure.
    let r = ok(reliability::crash_every_step(
        &root(),
        EXAMPLE,
        None,
        reliability::LostSecrets::Fail,
    ));
    assert!(r.calls > 0);
    assert_eq!(r.kills, r.calls, "one kill per mutating call");
    eprintln!(
        "{EXAMPLE}: {} mutating calls, {} kills survived, {} gcrecon runs",
        r.calls, r.kills, r.runs
    );
}

#[test]
fn apply_and_plan_converge_under_injected_faults() {
    let r = ok(reliability::faults(&root(), EXAMPLE, 0.2, 1, 3));
    eprintln!(
        "{EXAMPLE}: apply converged in {} runs, {} plans ({} failed cleanly), {} faults injected",
        r.applies, r.plans, r.failed_plans, r.faults
    );
}

#[test]
fn failed_reads_never_plan_a_delete_or_create() {
    let r = ok(reliability::faulty_reads_never_plan_changes(
        &root(),
        EXAMPLE,
        0.2,
        5,
    ));
    assert!(r.faults > 0, "no fault was injected");
    eprintln!(
        "{EXAMPLE}: {} plans under faults ({} failed cleanly), {} faults injected",
        r.plans, r.failed_plans, r.faults
    );
}

#[test]
fn apply_converges_through_a_429_storm() {
    // A nectar apply makes ~20 requests per token: 10 a minute makes gcsim
    // answer 429 with `Retry-After` for the rest of its minute.
    let r = ok(reliability::rate_limit_storm(&root(), EXAMPLE, 10));
    assert!(r.rate_limited > 0, "no request was answered 429");
    eprintln!(
        "{EXAMPLE}: converged; {} requests answered 429",
        r.rate_limited
    );
}

#[test]
fn no_duplicate_creates_under_eventual_consistency() {
    ok(reliability::eventual(&root(), EXAMPLE, 3000));
}

#[test]
fn two_applies_at_once_one_waits_with_exit_3() {
    ok(reliability::concurrent_applies(&root(), EXAMPLE));
}

#[test]
fn stale_locks_are_broken_or_reported_and_force_unlocked() {
    ok(reliability::stale_locks(&root(), EXAMPLE));
}

#[test]
fn bad_states_are_refused_and_left_untouched() {
    let n = ok(reliability::bad_states(&root(), EXAMPLE));
    assert!(n >= 16);
}

#[test]
fn a_damaged_secrets_file_stops_apply_before_any_change() {
    assert_eq!(ok(reliability::bad_secrets_file(&root(), EXAMPLE)), 3);
}

#[test]
fn a_caller_without_a_permission_is_stopped_at_plan_time() {
    ok(reliability::least_privilege(
        &root(),
        EXAMPLE,
        "oauth:client:add",
    ));
}

#[test]
fn no_secret_or_token_in_any_file_or_output() {
    let (secrets, _) = ok(reliability::secrets(&root(), EXAMPLE));
    assert!(secrets >= 3, "too few secrets to search for: {secrets}");
}

#[test]
fn twenty_thousand_mutated_manifests_never_panic_the_core() {
    let corpus = ok(fuzz::Corpus::load(&root()));
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let r = fuzz::fuzz(&corpus, 20_000, 0x7e57, threads, None);
    eprintln!(
        "fuzz: {} inputs, {} loaded, {} panics, {:.0} inputs/s",
        r.inputs,
        r.loaded,
        r.panics,
        r.rate()
    );
    assert_eq!(r.inputs, 20_000);
    assert_eq!(r.panics, 0, "panics: {:?}", r.first_panics);
    assert!(
        r.loaded > 0,
        "no mutated manifest loaded: the mutations are too coarse"
    );
}

#[test]
fn destroy_killed_after_every_mutating_call_finishes_on_rerun() {
    // The first, a middle and the last call (every one in `cargo xtask reliability`).
    let (_, calls) = ok(reliability::clean_destroy(&root(), EXAMPLE));
    let ks = vec![1, calls.div_ceil(2), calls];
    let r = ok(reliability::crash_destroy(&root(), EXAMPLE, Some(ks)));
    assert_eq!(r.calls, calls);
    assert_eq!(r.kills, 3);
    eprintln!(
        "{EXAMPLE}: destroy: {} mutating calls, {} kills survived",
        r.calls, r.kills
    );
}

#[test]
fn rotate_killed_before_delivering_the_secret_rotates_again_on_rerun() {
    let r = ok(reliability::crash_rotate(&root(), EXAMPLE));
    assert!(r.kills > 0);
    eprintln!(
        "{EXAMPLE}: rotate: {} mutating calls, {} kills survived",
        r.calls, r.kills
    );
}

#[test]
fn import_killed_after_every_request_finishes_on_rerun() {
    let r = ok(reliability::crash_import(&root(), EXAMPLE, Some(1)));
    assert!(r.kills >= 3, "too few kill points: {}", r.kills);
    assert_eq!(r.kills, r.calls, "one kill per request");
    eprintln!(
        "{EXAMPLE}: import: {} requests, {} kills survived",
        r.calls, r.kills
    );
}

#[test]
fn state_rm_and_force_unlock_finish_from_every_crash_image() {
    let r = ok(reliability::crash_local_writes(&root(), EXAMPLE));
    assert_eq!(r.images, 8);
}

#[test]
fn a_state_dir_turned_read_only_mid_apply_reports_what_it_could_not_record() {
    // The first, a middle and the last mutating call (all of them in `cargo xtask reliability`).
    let (_, calls) = ok(reliability::clean_apply(&root(), EXAMPLE));
    let ks = vec![1, calls.div_ceil(2), calls];
    let reported = ok(reliability::read_only_state_dir(&root(), EXAMPLE, Some(ks)));
    assert!(reported > 0, "no change was reported as not recorded");
    eprintln!("{EXAMPLE}: {reported} changes reported as not recorded, all imported");
}

#[test]
fn damaged_state_plan_and_secrets_files_are_refused_naming_the_file_and_untouched() {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    for format in fuzz_files::Format::ALL {
        let seed = ok(fuzz_files::seed(&root(), format));
        let r = ok(fuzz_files::fuzz(
            format, &seed, 2_000, 0x7e57, threads, None,
        ));
        eprintln!(
            "fuzz: {} damaged {format}s, {} accepted, {} refused, {} panics, {:.0} inputs/s",
            r.inputs,
            r.accepted,
            r.refused,
            r.panics,
            r.rate()
        );
        assert_eq!(r.inputs, 2_000);
        assert_eq!(r.failed, 0, "{format}: {:?}", r.failures);
        assert!(
            r.refused > 0 && r.accepted > 0,
            "{format}: the damage is too coarse or too fine"
        );
    }
}
