//! Documents generated from the command line itself: shell completions
//! (`gcrecon completions bash|zsh|fish`, clap_complete) and the man pages
//! (the hidden `gcrecon man --out DIR`, clap_mangen, which `cargo xtask
//! man` runs), so neither can drift from the flags.

use std::path::Path;

use anyhow::{Context as _, Result};
use clap::CommandFactory;
use clap_complete::Shell;

use crate::args::{Cli, CompletionShell};
use crate::commands::Ctx;
use crate::failure::Exit;

/// `gcrecon completions SHELL`: the script on stdout.
pub fn completions(ctx: &Ctx, shell: CompletionShell) -> Result<Exit> {
    let shell = match shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "gcrecon", &mut script);
    ctx.printer.out(&String::from_utf8_lossy(&script));
    Ok(Exit::Success)
}

/// `gcrecon man --out DIR`: `gcrecon.1` and `gcrecon-<command>.1` for
/// every visible command.
pub fn man(ctx: &Ctx, out: &Path) -> Result<Exit> {
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create the directory {}", out.display()))?;
    clap_mangen::generate_to(Cli::command(), out)
        .with_context(|| format!("cannot write the man pages into {}", out.display()))?;
    let mut pages: Vec<String> = std::fs::read_dir(out)
        .with_context(|| format!("cannot read {}", out.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("gcrecon") && n.ends_with(".1"))
        .collect();
    pages.sort();
    ctx.printer.line(&format!(
        "Wrote {} man page(s) to {}: {}",
        pages.len(),
        out.display(),
        pages.join(", ")
    ));
    Ok(Exit::Success)
}
