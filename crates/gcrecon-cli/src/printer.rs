//! The [`Printer`]: the only way the CLI writes to the terminal. Results go
//! to stdout; progress, notes, warnings and errors to stderr. Colors only on
//! a terminal and never with `--no-color` or `NO_COLOR`.

use std::io::{IsTerminal, Write};

/// Where and how the CLI prints.
#[derive(Clone, Debug)]
pub struct Printer {
    /// Color stdout.
    pub color: bool,
    /// Color stderr.
    pub color_err: bool,
    pub quiet: bool,
    /// stderr is a terminal (progress is shown only then).
    pub stderr_tty: bool,
    pub stdin_tty: bool,
}

const BOLD_RED: &str = "\x1b[1;31m";
const BOLD_YELLOW: &str = "\x1b[1;33m";
const BOLD_CYAN: &str = "\x1b[1;36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

impl Printer {
    pub fn new(no_color: bool, quiet: bool) -> Self {
        let colors_allowed = !no_color && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let stderr_tty = std::io::stderr().is_terminal();
        Printer {
            color: colors_allowed && std::io::stdout().is_terminal(),
            color_err: colors_allowed && stderr_tty,
            quiet,
            stderr_tty,
            stdin_tty: std::io::stdin().is_terminal(),
        }
    }

    /// Write `text` to stdout as is.
    pub fn out(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(text.as_bytes());
        let _ = stdout.flush();
    }

    /// Write to stdout through `write`, buffered: for output too large to
    /// build as one string first.
    pub fn out_with(&self, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) {
        let mut stdout = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
        let _ = write(&mut stdout);
        let _ = stdout.flush();
    }

    /// Write a line to stdout.
    pub fn line(&self, text: &str) {
        self.out(&format!("{text}\n"));
    }

    /// A note on stderr (not with `-q`).
    pub fn note(&self, text: &str) {
        if !self.quiet {
            self.err(&format!("{text}\n"));
        }
    }

    /// Progress on stderr: only on a terminal, not with `-q`.
    pub fn progress(&self, text: &str) {
        if self.stderr_tty && !self.quiet {
            self.err(&format!("{text}\n"));
        }
    }

    /// `warning: ...` on stderr.
    pub fn warn(&self, text: &str) {
        let label = self.paint_err("warning", BOLD_YELLOW);
        self.err(&format!("{label}: {text}\n"));
    }

    /// `hint: ...` on stderr.
    pub fn hint(&self, text: &str) {
        let label = self.paint_err("hint", BOLD_CYAN);
        self.err(&format!("{label}: {text}\n"));
    }

    /// An error: `error: ...`, then `Caused by: ...` lines, then `hint: ...`.
    pub fn error(&self, message: &str, causes: &[String], hint: Option<&str>) {
        let label = self.paint_err("error", BOLD_RED);
        let mut text = format!("{label}: {message}\n");
        for c in causes {
            text.push_str(&format!("  Caused by: {c}\n"));
        }
        self.err(&text);
        if let Some(h) = hint {
            self.hint(h);
        }
    }

    /// Text already rendered for stderr (manifest diagnostics).
    pub fn raw_err(&self, text: &str) {
        self.err(text);
        if !text.ends_with('\n') {
            self.err("\n");
        }
    }

    /// `text` in bold on stdout, when colored.
    pub fn bold(&self, text: &str) -> String {
        if self.color {
            format!("{BOLD}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }

    /// Ask a question on stderr and read one line from stdin.
    pub fn ask(&self, question: &str) -> String {
        self.err(question);
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        answer.trim().to_owned()
    }

    fn paint_err(&self, text: &str, style: &str) -> String {
        if self.color_err {
            format!("{style}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }

    fn err(&self, text: &str) {
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(text.as_bytes());
        let _ = stderr.flush();
    }
}
