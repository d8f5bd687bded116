//! `cargo xtask fuzz [--inputs N] [--seed S] [--threads T] [--replay I]`:
//! feed mutated manifests to gcrecon-core's parser, validator and
//! evaluator in-process and count panics (there must be none).
//!
//! Every input is derived from the five example manifests
//! (`examples/<vendor>/gcrecon.toml`) by one to four stacked mutations: byte
//! flips, token swaps (within one example or with tokens of another), line
//! deletions and duplications, and splices (the start of one example, the
//! end of another), sometimes split into two files as a manifest directory
//! would be. Input `i` of seed `S` is a pure function of `(S, i)`, so a
//! panic found by a long run is replayed with `--replay i`. A panicking
//! input is written to `target/fuzz/crashes/`.
//!
//! What is exercised is everything the CLI does offline with a manifest:
//! `load` (syntax, kinds, keys, references, cycles), rendering diagnostics,
//! the block graph (dot and text), variables (from the examples'
//! `gcsim/vars.env`), data queries (answered with made-up ids),
//! `desired` with nothing known and then with everything known, the apply
//! order, every instance's re-evaluation and the outputs.
//!
//! This file is also compiled into the short test run
//! (`tests/tests/reliability.rs` includes it with `#[path]`), which fuzzes
//! 20,000 inputs; the xtask default is 1,000,000.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use gcrecon_core::manifest::{self, EvalContext, Source};
use gcrecon_core::value::Attrs;
use gcrecon_core::{Address, DataKind, Value};

/// The vendors whose manifests seed the fuzzer.
pub const VENDORS: [&str; 5] = ["cognigy", "eightbyeight", "emite", "nectar", "pureengage"];

/// Default number of inputs of `cargo xtask fuzz`.
pub const DEFAULT_INPUTS: u64 = 1_000_000;

/// Default number of damaged files per format (state, saved plan, secrets).
pub const DEFAULT_FILE_INPUTS: u64 = 100_000;

/// The seed corpus: the example manifests and the variable values of their
/// test runs.
#[derive(Clone, Debug, Default)]
pub struct Corpus {
    /// `(file name, text)` of each example manifest.
    pub texts: Vec<(String, String)>,
    /// Tokens of every example, for swaps across examples.
    pub tokens: Vec<String>,
    /// `GCRECON_VAR_*` values of every example (prefix stripped).
    pub env: BTreeMap<String, String>,
}

impl Corpus {
    /// Reads the examples under `root/examples`.
    pub fn load(root: &Path) -> Result<Corpus, String> {
        let mut corpus = Corpus::default();
        for vendor in VENDORS {
            let dir = root.join("examples").join(vendor);
            let path = dir.join("gcrecon.toml");
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            corpus
                .tokens
                .extend(tokens(&text).into_iter().map(str::to_owned));
            corpus.texts.push((format!("{vendor}.toml"), text));
            if let Ok(vars) = std::fs::read_to_string(dir.join("gcsim").join("vars.env")) {
                corpus.env.extend(parse_env(&vars));
            }
        }
        corpus.tokens.sort();
        corpus.tokens.dedup();
        Ok(corpus)
    }
}

/// `NAME=value` lines of a vars.env file with `GCRECON_VAR_` stripped and
/// surrounding quotes removed, as a shell would read them.
pub fn parse_env(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("GCRECON_VAR_"))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .unwrap_or(v);
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// A small deterministic generator (splitmix64): no dependency, and input
/// `i` of a run is reproducible from `(seed, i)` alone.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for input `index` of a run with `seed`.
    pub fn for_input(seed: u64, index: u64) -> Rng {
        let mut r = Rng(seed ^ index.wrapping_mul(0xA076_1D64_78BD_642F));
        r.next();
        r
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    /// True with probability `1/n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
}

/// Splits a manifest into tokens: identifiers and dotted names, quoted
/// strings, `${`, runs of whitespace, and single punctuation characters.
/// Concatenating the tokens gives the text back.
pub fn tokens(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        let c = b[i];
        let word = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b':');
        if word(c) {
            while i < b.len() && word(b[i]) {
                i += 1;
            }
        } else if c == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(b.len());
        } else if c == b'$' && b.get(i + 1) == Some(&b'{') {
            i += 2;
        } else if c.is_ascii_whitespace() {
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
        } else {
            // One character, however many bytes it has.
            i += text[i..].chars().next().map_or(1, char::len_utf8);
        }
        // Escapes at the very end may step past a char boundary.
        while i < b.len() && !text.is_char_boundary(i) {
            i += 1;
        }
        out.push(&text[start..i]);
    }
    out
}

/// Snippets that are likely to reach deep paths of the parser.
const SNIPPETS: &[&str] = &[
    "${",
    "}",
    "\"",
    "'",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "=",
    "\n",
    "$${",
    "\\u0000",
    "\\",
    "${each.value}",
    "${each.key}",
    "${var.x}",
    "${local.a[local.b]}",
    "${data.org.id}",
    "${role.readonly.id}",
    "${oauth_client.api.secret}",
    "\nfor_each = 3\n",
    "\nfor_each = \"${var.nope}\"\n",
    "\nwhen = false\n",
    "\ndepends_on = [\"role.readonly\", \"group.x\"]\n",
    "\nadopt = true\n",
    "\n[role.x]\nname = \"${role.x.id}\"\npermissions = []\n",
    "\n[locals]\na = \"${local.a}\"\n",
    "\n[variables.v]\ntype = \"list\"\n",
    "🦀",
    "\u{202e}",
    "\r\n",
    "\t",
    "99999999999999999999",
    "-0",
    "1e400",
    "inf",
    "nan",
    "1979-05-27T07:32:00Z",
];

/// One input: one or two files derived from the corpus.
pub fn input(corpus: &Corpus, seed: u64, index: u64) -> Vec<Source> {
    let mut rng = Rng::for_input(seed, index);
    let base = rng.below(corpus.texts.len());
    let (name, text) = &corpus.texts[base];
    let mut bytes = text.clone().into_bytes();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        bytes = mutate(corpus, &mut rng, bytes);
    }
    let text = String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    if rng.one_in(8) {
        // Split at a line boundary into two files, as `-m DIR` merges them.
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let at = rng.below(lines.len() + 1);
        let first: String = lines[..at].concat();
        let second: String = lines[at..].concat();
        return vec![
            Source::new(format!("a/{name}"), first),
            Source::new(format!("a/z-{name}"), second),
        ];
    }
    vec![Source::new(name.clone(), text)]
}

fn char_floor(text: &[u8], mut i: usize) -> usize {
    // Keep swaps and splices on UTF-8 boundaries when the text is UTF-8.
    while i > 0 && i < text.len() && (text[i] & 0xC0) == 0x80 {
        i -= 1;
    }
    i.min(text.len())
}

fn mutate(corpus: &Corpus, rng: &mut Rng, mut bytes: Vec<u8>) -> Vec<u8> {
    match rng.below(10) {
        // Byte flips: a few bits, or a few bytes set to anything.
        0 | 1 => {
            if bytes.is_empty() {
                return bytes;
            }
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(bytes.len());
                if rng.one_in(2) {
                    bytes[at] ^= 1 << rng.below(8);
                } else {
                    bytes[at] = rng.next() as u8;
                }
            }
            bytes
        }
        // Token swap within the text.
        2 | 3 => {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let mut toks: Vec<&str> = tokens(&text);
            if toks.len() >= 2 {
                let a = rng.below(toks.len());
                let b = rng.below(toks.len());
                toks.swap(a, b);
            }
            toks.concat().into_bytes()
        }
        // Token replaced by a token of any example, or a snippet.
        4 | 5 => {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let mut toks: Vec<&str> = tokens(&text);
            let with: &str = if rng.one_in(3) {
                SNIPPETS[rng.below(SNIPPETS.len())]
            } else {
                &corpus.tokens[rng.below(corpus.tokens.len())]
            };
            if toks.is_empty() {
                return with.as_bytes().to_vec();
            }
            let at = rng.below(toks.len());
            match rng.below(3) {
                0 => toks[at] = with,
                1 => toks.insert(at, with),
                _ => {
                    toks.remove(at);
                }
            }
            toks.concat().into_bytes()
        }
        // Lines deleted, duplicated or moved.
        6 | 7 => {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
            if lines.is_empty() {
                return bytes;
            }
            let a = rng.below(lines.len());
            let n = 1 + rng.below(4);
            let end = (a + n).min(lines.len());
            match rng.below(3) {
                0 => {
                    lines.drain(a..end);
                }
                1 => {
                    let copy: Vec<&str> = lines[a..end].to_vec();
                    let to = rng.below(lines.len() + 1);
                    lines.splice(to..to, copy);
                }
                _ => {
                    let moved: Vec<&str> = lines.drain(a..end).collect();
                    let to = rng.below(lines.len() + 1);
                    lines.splice(to..to, moved);
                }
            }
            lines.concat().into_bytes()
        }
        // Splice: this text up to a point, another example from a point.
        _ => {
            let (_, other) = &corpus.texts[rng.below(corpus.texts.len())];
            let other = other.as_bytes();
            let cut = char_floor(&bytes, rng.below(bytes.len() + 1));
            let from = char_floor(other, rng.below(other.len() + 1));
            bytes.truncate(cut);
            bytes.extend_from_slice(&other[from..]);
            bytes
        }
    }
}

/// What evaluation knows of resource attributes.
type Knower = dyn Fn(&Address, &str) -> Option<Value>;

/// Runs everything the CLI does offline with a manifest. Answers whether it
/// loaded.
pub fn exercise(sources: &[Source], env: &BTreeMap<String, String>) -> bool {
    let m = match manifest::load(sources) {
        Ok(m) => m,
        Err(d) => {
            assert!(!d.is_empty(), "load failed without a diagnostic");
            let _ = d.render(sources, true);
            let _ = d.render(sources, false);
            let _ = d.to_string();
            return false;
        }
    };
    let g = m.block_graph();
    let _ = g.to_dot();
    let _ = g.to_text();
    let vars = match m.resolve_variables(&BTreeMap::new(), env) {
        Ok(v) => v,
        Err(d) => {
            let _ = d.render(sources, false);
            m.resolve_variables(&BTreeMap::new(), &BTreeMap::new())
                .unwrap_or_default()
        }
    };
    let mut org = Attrs::new();
    for (k, v) in [
        ("id", "11111111-2222-3333-4444-555555555555"),
        ("name", "Acme"),
        ("short_name", "acme"),
        ("region", "ap-southeast-2"),
        ("domain", "mypurecloud.com.au"),
        ("api_url", "https://api.mypurecloud.com.au"),
        ("login_url", "https://login.mypurecloud.com.au"),
    ] {
        org.insert(k.into(), Value::from(v));
    }
    let mut caller = Attrs::new();
    for (k, v) in [
        ("kind", "oauth_client"),
        ("id", "ci"),
        ("name", "gcrecon-ci"),
    ] {
        caller.insert(k.into(), Value::from(v));
    }
    let mut data: BTreeMap<Address, Attrs> = [
        (Address::data(DataKind::Org, ""), org),
        (Address::data(DataKind::Caller, ""), caller),
    ]
    .into();
    for block in m.data_blocks_in_order() {
        let ctx = EvalContext::new(&vars, &data, &manifest::nothing_known);
        match m.data_queries(&block, &ctx) {
            Ok(queries) => {
                for q in queries {
                    let mut a = Attrs::new();
                    for attr in gcrecon_core::schema::data_keys(q.kind).1 {
                        let v = if attr.ends_with('s') {
                            Value::strings([format!("{}-1", q.address), format!("{}-2", q.address)])
                        } else {
                            Value::from(format!("{}-{attr}", q.address))
                        };
                        a.insert((*attr).to_string(), v);
                    }
                    data.insert(q.address, a);
                }
            }
            Err(d) => {
                let _ = d.render(sources, false);
            }
        }
    }
    let known = |a: &Address, k: &str| Some(Value::from(format!("{a}/{k}")));
    let knowers: [&Knower; 2] = [&manifest::nothing_known, &known];
    for resources in knowers {
        let ctx = EvalContext::new(&vars, &data, resources);
        match m.desired(&ctx) {
            Ok(d) => {
                let _ = d.graph.apply_order();
                let _ = d.graph.destroy_order();
                for i in &d.instances {
                    let _ = m.eval_instance(&i.address, &ctx);
                    let _ = m.span_of(&i.address, Some("name"));
                    let _ = i.address.to_string();
                }
            }
            Err(e) => {
                let _ = e.render(sources, false);
            }
        }
        let _ = m.outputs(&ctx);
    }
    true
}

/// What a fuzz run saw.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub inputs: u64,
    /// Inputs that loaded as valid manifests.
    pub loaded: u64,
    pub panics: u64,
    /// `(input index, panic message)` of the first panics.
    pub first_panics: Vec<(u64, String)>,
    pub elapsed: Duration,
    pub threads: usize,
    /// The slowest single input and its index.
    pub slowest: (Duration, u64),
}

impl Report {
    /// Inputs per second of wall time.
    pub fn rate(&self) -> f64 {
        self.inputs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

thread_local! {
    static FUZZING: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// A panic hook that stays silent on fuzzing threads (the message is kept
/// for the report) and defers to the previous hook elsewhere.
pub fn install_quiet_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if FUZZING.with(Cell::get) {
                let msg = format!("{info}");
                LAST_PANIC.with(|p| *p.borrow_mut() = msg);
            } else {
                previous(info);
            }
        }));
    });
}

/// Marks this thread as fuzzing: its panics are kept, not printed.
pub fn set_fuzzing(on: bool) {
    FUZZING.with(|f| f.set(on));
}

/// The message of this thread's last panic while fuzzing.
pub fn last_panic() -> String {
    LAST_PANIC.with(|p| p.borrow().clone())
}

/// Fuzzes inputs `0..inputs` of `seed` on `threads` threads (2 MiB stacks,
/// the size of a spawned Rust thread, so deep recursion shows). Panicking
/// inputs are written to `crash_dir` when given.
pub fn fuzz(
    corpus: &Corpus,
    inputs: u64,
    seed: u64,
    threads: usize,
    crash_dir: Option<&Path>,
) -> Report {
    install_quiet_hook();
    let threads = threads.max(1);
    let next = Arc::new(AtomicU64::new(0));
    let report = Arc::new(Mutex::new(Report {
        threads,
        ..Report::default()
    }));
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            let next = next.clone();
            let report = report.clone();
            std::thread::Builder::new()
                .stack_size(2 << 20)
                .spawn_scoped(s, move || {
                    FUZZING.with(|f| f.set(true));
                    let (mut loaded, mut done) = (0u64, 0u64);
                    let mut slowest = (Duration::ZERO, 0u64);
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= inputs {
                            break;
                        }
                        let sources = input(corpus, seed, i);
                        let t = Instant::now();
                        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
                            exercise(&sources, &corpus.env)
                        }));
                        let took = t.elapsed();
                        if took > slowest.0 {
                            slowest = (took, i);
                        }
                        done += 1;
                        match outcome {
                            Ok(true) => loaded += 1,
                            Ok(false) => {}
                            Err(_) => {
                                let msg = LAST_PANIC.with(|p| p.borrow().clone());
                                if let Some(dir) = crash_dir {
                                    save_crash(dir, seed, i, &sources, &msg);
                                }
                                let mut r = report.lock().unwrap();
                                r.panics += 1;
                                if r.first_panics.len() < 10 {
                                    r.first_panics.push((i, msg));
                                }
                            }
                        }
                    }
                    let mut r = report.lock().unwrap();
                    r.inputs += done;
                    r.loaded += loaded;
                    if slowest.0 > r.slowest.0 {
                        r.slowest = slowest;
                    }
                })
                .expect("cannot spawn a fuzzing thread");
        }
    });
    let mut r = report.lock().unwrap().clone();
    r.elapsed = started.elapsed();
    r
}

fn save_crash(dir: &Path, seed: u64, index: u64, sources: &[Source], msg: &str) {
    let _ = std::fs::create_dir_all(dir);
    for (n, s) in sources.iter().enumerate() {
        let _ = std::fs::write(
            dir.join(format!("seed{seed}-input{index}-{n}.toml")),
            &s.text,
        );
    }
    let _ = std::fs::write(dir.join(format!("seed{seed}-input{index}.panic.txt")), msg);
}

/// `cargo xtask fuzz [--inputs N] [--seed S] [--threads T] [--replay I]`.
pub fn run(root: &Path, args: &[String]) -> Result<(), String> {
    let mut inputs = DEFAULT_INPUTS;
    let mut seed = 0x6763_7265_636f_6e00_u64; // "gcrecon\0"
    let mut threads = std::thread::available_parallelism().map_or(1, usize::from);
    let mut replay: Option<u64> = None;
    let mut file_inputs = DEFAULT_FILE_INPUTS;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            it.next()
                .and_then(|v| v.replace('_', "").parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match a.as_str() {
            "--inputs" => inputs = value("--inputs")?,
            "--seed" => seed = value("--seed")?,
            "--threads" => threads = value("--threads")? as usize,
            "--replay" => replay = Some(value("--replay")?),
            "--file-inputs" => file_inputs = value("--file-inputs")?,
            "-h" | "--help" => {
                println!("usage: cargo xtask fuzz [--inputs N (default {DEFAULT_INPUTS})] [--file-inputs N (per damaged file format, default {DEFAULT_FILE_INPUTS})] [--seed S] [--threads T] [--replay I]");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    if cfg!(debug_assertions) && std::env::var_os("GCRECON_FUZZ_IN_DEBUG").is_none() {
        // The parser unoptimized is an order of magnitude slower: rerun this
        // command from a release build (GCRECON_FUZZ_IN_DEBUG=1 to skip).
        println!("fuzz: running from a release build of xtask");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = std::process::Command::new(cargo)
            .current_dir(root)
            .args([
                "run",
                "--quiet",
                "--release",
                "--package",
                "xtask",
                "--",
                "fuzz",
            ])
            .args(args)
            .env("GCRECON_FUZZ_IN_DEBUG", "1")
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        return if status.success() {
            Ok(())
        } else {
            Err(format!("the release fuzz run failed ({status})"))
        };
    }
    let corpus = Corpus::load(root)?;
    if let Some(i) = replay {
        let sources = input(&corpus, seed, i);
        for s in &sources {
            println!("--- {} ---\n{}", s.path.display(), s.text);
        }
        let loaded = exercise(&sources, &corpus.env);
        println!("input {i} of seed {seed}: no panic (loaded: {loaded})");
        return Ok(());
    }
    let crash_dir: PathBuf = root.join("target").join("fuzz").join("crashes");
    println!(
        "fuzz: {inputs} mutated manifests from {} examples, seed {seed}, {threads} threads",
        corpus.texts.len()
    );
    let r = fuzz(&corpus, inputs, seed, threads, Some(&crash_dir));
    println!(
        "fuzz: {} inputs in {:.1} s ({:.0} inputs/s on {} threads); {} loaded as valid manifests, {} rejected with diagnostics; {} panics; slowest input {} took {} ms",
        r.inputs,
        r.elapsed.as_secs_f64(),
        r.rate(),
        r.threads,
        r.loaded,
        r.inputs - r.loaded - r.panics,
        r.panics,
        r.slowest.1,
        r.slowest.0.as_millis()
    );
    if r.panics > 0 {
        for (i, msg) in &r.first_panics {
            println!("  panic on input {i}: {msg}");
        }
        return Err(format!(
            "{} panics; inputs saved in {} (replay with --seed {seed} --replay I)",
            r.panics,
            crash_dir.display()
        ));
    }
    let mut failed = 0;
    for format in crate::fuzz_files::Format::ALL {
        let seed_file = crate::fuzz_files::seed(root, format)?;
        let r = crate::fuzz_files::fuzz(
            format,
            &seed_file,
            file_inputs,
            seed,
            threads,
            Some(&crash_dir),
        )?;
        println!(
            "fuzz: {} damaged {format}s in {:.1} s ({:.0} inputs/s); {} accepted, {} refused naming the file and left untouched; {} panics; {} failures",
            r.inputs,
            r.elapsed.as_secs_f64(),
            r.rate(),
            r.accepted,
            r.refused,
            r.panics,
            r.failed
        );
        for (i, what) in &r.failures {
            println!("  input {i}: {what}");
        }
        failed += r.failed;
    }
    if failed > 0 {
        return Err(format!(
            "{failed} damaged files were mishandled; inputs saved in {}",
            crash_dir.display()
        ));
    }
    Ok(())
}
