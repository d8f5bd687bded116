//! Damaged files for `cargo xtask fuzz`: the state file, the saved-plan
//! file and the secrets file, each read by gcrecon-engine as the CLI reads
//! it, after damage of the kinds a disk, an editor or another version
//! leaves: truncation, bit flips, values of the wrong type, huge values,
//! a newer format version, cut or repeated ranges, empty files.
//!
//! Each input must either be accepted or refused with an error that names
//! the file; a refused file must keep its bytes (the secrets file is also
//! asked to store a new secret, which must be refused without rewriting
//! it). A panic is caught, counted and its input saved. The seeds are
//! real files of a Nectar apply against gcsim (`xtask/fuzz-seeds/`; the
//! secrets file's values replaced by placeholders); input `i` of seed `S`
//! is a pure function of `(S, i)`.

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use gcrecon_core::{Address, Secret};
use gcrecon_engine::{SavedPlan, SecretsFile, StateStore};
use serde_json::{json, Value};

use crate::fuzz::Rng;

/// The formats fuzzed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    State,
    Plan,
    Secrets,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 3] = [Format::State, Format::Plan, Format::Secrets];

    /// The file name the inputs are written to (and the seed's).
    fn file_name(self) -> &'static str {
        match self {
            Format::State => "nectar.gcstate.json",
            Format::Plan => "change.gcplan",
            Format::Secrets => "nectar.secrets.json",
        }
    }

    fn seed_name(self) -> &'static str {
        match self {
            Format::State => "state.json",
            Format::Plan => "plan.json",
            Format::Secrets => "secrets.json",
        }
    }

    /// The key holding the format version, if the format has one.
    fn version_key(self) -> Option<&'static str> {
        match self {
            Format::State => Some("format_version"),
            Format::Plan => Some("format_version"),
            Format::Secrets => None,
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::State => "state file",
            Format::Plan => "saved-plan file",
            Format::Secrets => "secrets file",
        })
    }
}

/// Reads the seed of `format` under `root/xtask/fuzz-seeds`.
pub fn seed(root: &Path, format: Format) -> Result<Vec<u8>, String> {
    let p = root
        .join("xtask")
        .join("fuzz-seeds")
        .join(format.seed_name());
    std::fs::read(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))
}

/// A value of another type, or a huge one.
fn odd_value(rng: &mut Rng) -> Value {
    match rng.below(12) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-1),
        3 => json!(18_446_744_073_709_551_615_u64),
        4 => serde_json::from_str("1e308").unwrap_or(Value::Null),
        5 => json!(""),
        6 => json!("x".repeat(1 << (8 + rng.below(9)))),
        7 => json!([]),
        8 => json!({}),
        9 => json!([1, "two", null, {"three": 3}]),
        10 => {
            let mut v = json!(0);
            for _ in 0..(1 + rng.below(300)) {
                v = json!([v]);
            }
            v
        }
        _ => json!("\u{202e}\u{0}\u{fffd}"),
    }
}

/// Replaces (or removes) one value somewhere in `v`.
fn damage_value(v: &mut Value, rng: &mut Rng, depth: usize) {
    let descend = depth < 8 && !rng.one_in(3);
    match v {
        Value::Object(m) if !m.is_empty() => {
            let key = m
                .keys()
                .nth(rng.below(m.len()))
                .cloned()
                .unwrap_or_default();
            if descend && m.get(&key).is_some_and(|c| c.is_object() || c.is_array()) {
                if let Some(child) = m.get_mut(&key) {
                    damage_value(child, rng, depth + 1);
                }
            } else if rng.one_in(4) {
                m.remove(&key);
            } else {
                m.insert(key, odd_value(rng));
            }
        }
        Value::Array(a) if !a.is_empty() => {
            let i = rng.below(a.len());
            if descend && (a[i].is_object() || a[i].is_array()) {
                damage_value(&mut a[i], rng, depth + 1);
            } else if rng.one_in(4) {
                a.remove(i);
            } else {
                a[i] = odd_value(rng);
            }
        }
        other => *other = odd_value(rng),
    }
}

/// One damage of `bytes`.
fn damage_once(format: Format, bytes: &[u8], rng: &mut Rng) -> Vec<u8> {
    let n = bytes.len();
    match rng.below(8) {
        // Truncated (a torn write, a full disk).
        0 => bytes[..rng.below(n + 1)].to_vec(),
        // Flipped bits.
        1 => {
            let mut b = bytes.to_vec();
            for _ in 0..(1 + rng.below(8)) {
                if !b.is_empty() {
                    let i = rng.below(b.len());
                    b[i] ^= 1 << rng.below(8);
                }
            }
            b
        }
        // A value of the wrong type, huge, or missing.
        2..=4 => match serde_json::from_slice::<Value>(bytes) {
            Ok(mut v) => {
                damage_value(&mut v, rng, 0);
                serde_json::to_vec_pretty(&v).unwrap_or_default()
            }
            Err(_) => bytes[..rng.below(n + 1)].to_vec(),
        },
        // A newer (or nonsensical) format version.
        5 => match (serde_json::from_slice::<Value>(bytes), format.version_key()) {
            (Ok(mut v), Some(key)) if v.is_object() => {
                let slot = if format == Format::Plan && v["saved"].is_object() && rng.one_in(2) {
                    &mut v["saved"]["version"]
                } else {
                    &mut v[key]
                };
                *slot = match rng.below(4) {
                    0 => json!(2),
                    1 => json!(99),
                    2 => json!(u64::MAX),
                    _ => json!("1"),
                };
                serde_json::to_vec_pretty(&v).unwrap_or_default()
            }
            _ => bytes.iter().rev().copied().collect(),
        },
        // A range cut out or repeated.
        6 => {
            let a = rng.below(n + 1);
            let b = a + rng.below(n - a + 1);
            let mut out = bytes[..a].to_vec();
            if rng.one_in(2) {
                out.extend_from_slice(&bytes[a..b]);
                out.extend_from_slice(&bytes[a..]);
            } else {
                out.extend_from_slice(&bytes[b..]);
            }
            out
        }
        // Nothing, blanks, a byte-order mark, another format's file.
        _ => match rng.below(4) {
            0 => Vec::new(),
            1 => b" \n\t".to_vec(),
            2 => [b"\xef\xbb\xbf".as_slice(), bytes].concat(),
            _ => b"[1, 2, 3]".to_vec(),
        },
    }
}

/// Input `index` of a run with `seed`: the seed file under one to three
/// stacked damages.
pub fn input(format: Format, seed_file: &[u8], seed: u64, index: u64) -> Vec<u8> {
    let mut rng = Rng::for_input(seed ^ (format as u64 + 1).wrapping_mul(0x9E37), index);
    let mut bytes = seed_file.to_vec();
    for _ in 0..(1 + rng.below(3)) {
        bytes = damage_once(format, &bytes, &mut rng);
    }
    bytes
}

/// What gcrecon made of one input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    Refused,
}

/// Reads `path` (holding `bytes`) as gcrecon does; `Err` says what is wrong
/// (an error that does not name the file, a refused file rewritten).
pub fn check(format: Format, path: &Path, bytes: &[u8]) -> Result<Verdict, String> {
    let shown = path.display().to_string();
    let errors: Vec<String> = match format {
        Format::State => [
            StateStore::open(path, "nectar").err(),
            StateStore::open_existing(path).err(),
        ]
        .into_iter()
        .flatten()
        .map(|e| format!("{e}"))
        .collect(),
        Format::Plan => SavedPlan::read(path)
            .err()
            .map(|e| format!("{e}"))
            .into_iter()
            .collect(),
        Format::Secrets => {
            let file = SecretsFile::new(path);
            let address: Address = "oauth_client.api"
                .parse()
                .map_err(|e| format!("address: {e}"))?;
            match file.check() {
                Ok(()) => {
                    // Usable: reading any entry works too.
                    file.secret(&address)
                        .map_err(|e| format!("the secrets file passed its check, then: {e}"))?;
                    Vec::new()
                }
                Err(e) => {
                    let mut errs = vec![format!("{e}")];
                    // A refused file is never replaced by a store.
                    match file.store(&address, "id", &Secret::new("new".to_string())) {
                        Ok(()) => {
                            return Err("a refused secrets file was rewritten by store".into())
                        }
                        Err(e) => errs.push(format!("{e}")),
                    }
                    errs
                }
            }
        }
    };
    if let Some(e) = errors.iter().find(|e| !e.contains(&shown)) {
        return Err(format!("an error that does not name the file: {e}"));
    }
    if !errors.is_empty() {
        let after = std::fs::read(path).map_err(|e| format!("cannot read it back: {e}"))?;
        if after != bytes {
            return Err("a refused file was changed".into());
        }
        return Ok(Verdict::Refused);
    }
    Ok(Verdict::Accepted)
}

/// The outcome of fuzzing one format.
#[derive(Clone, Debug, Default)]
pub struct FileReport {
    pub inputs: u64,
    pub accepted: u64,
    pub refused: u64,
    pub panics: u64,
    /// `(input index, what)` of the first failures (panics, unnamed files,
    /// rewritten files).
    pub failures: Vec<(u64, String)>,
    pub failed: u64,
    pub elapsed: Duration,
}

impl FileReport {
    /// Inputs per second of wall time.
    pub fn rate(&self) -> f64 {
        self.inputs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Fuzzes inputs `0..inputs` of `format` on `threads` threads, each with a
/// directory of its own. Failing inputs go to `crash_dir` when given.
pub fn fuzz(
    format: Format,
    seed_file: &[u8],
    inputs: u64,
    seed: u64,
    threads: usize,
    crash_dir: Option<&Path>,
) -> Result<FileReport, String> {
    crate::fuzz::install_quiet_hook();
    let next = AtomicU64::new(0);
    let report = Mutex::new(FileReport::default());
    let dirs: Vec<tempfile::TempDir> = (0..threads.max(1))
        .map(|_| {
            tempfile::Builder::new()
                .prefix("gcrecon-fuzz-files-")
                .tempdir()
        })
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    std::thread::scope(|s| {
        for dir in &dirs {
            let (next, report) = (&next, &report);
            s.spawn(move || {
                let path: PathBuf = dir.path().join(format.file_name());
                let mut local = FileReport::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= inputs {
                        break;
                    }
                    let bytes = input(format, seed_file, seed, i);
                    local.inputs += 1;
                    let outcome = std::fs::write(&path, &bytes)
                        .map_err(|e| format!("cannot write the input: {e}"))
                        .map(|()| {
                            // Quiet only around gcrecon's code: a panic of
                            // the mutator itself is printed as usual.
                            crate::fuzz::set_fuzzing(true);
                            let r = panic::catch_unwind(AssertUnwindSafe(|| {
                                check(format, &path, &bytes)
                            }));
                            crate::fuzz::set_fuzzing(false);
                            r
                        });
                    let failure = match outcome {
                        Err(e) => Some(e),
                        Ok(Ok(Ok(Verdict::Accepted))) => {
                            local.accepted += 1;
                            None
                        }
                        Ok(Ok(Ok(Verdict::Refused))) => {
                            local.refused += 1;
                            None
                        }
                        Ok(Ok(Err(e))) => Some(e),
                        Ok(Err(_)) => {
                            local.panics += 1;
                            Some(format!("panic: {}", crate::fuzz::last_panic()))
                        }
                    };
                    if let Some(what) = failure {
                        local.failed += 1;
                        if local.failures.len() < 10 {
                            local.failures.push((i, what.clone()));
                        }
                        if let Some(d) = crash_dir {
                            let _ = std::fs::create_dir_all(d);
                            let stem = format!("{}-seed{seed}-input{i}", format.seed_name());
                            let _ = std::fs::write(d.join(&stem), &bytes);
                            let _ = std::fs::write(d.join(format!("{stem}.txt")), &what);
                        }
                    }
                }
                let mut r = report
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                r.inputs += local.inputs;
                r.accepted += local.accepted;
                r.refused += local.refused;
                r.panics += local.panics;
                r.failed += local.failed;
                let room = 10usize.saturating_sub(r.failures.len());
                r.failures.extend(local.failures.into_iter().take(room));
            });
        }
    });
    let mut r = report
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    r.elapsed = started.elapsed();
    Ok(r)
}
