//! Errors as the user sees them, and exit codes.
//!
//! Commands return `anyhow::Result<Exit>`; [`report`] prints an error as
//! `error: ...`, `Caused by: ...` and `hint: ...` (or the manifest's own
//! rendered diagnostics) and picks the exit code: 3 when the state is
//! locked, 1 otherwise.

use std::fmt;

use gcrecon_engine::lock::LockError;
use gcrecon_engine::EngineError;

use crate::printer::Printer;

/// The exit codes of `docs/cli.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    Error = 1,
    /// `plan --detailed-exitcode`: changes present.
    Changes = 2,
    /// The state is locked by someone else.
    Locked = 3,
}

/// An error with a hint, raised by the CLI itself.
#[derive(Debug)]
pub struct Hinted {
    pub message: String,
    pub hint: String,
}

impl Hinted {
    /// The error, ready to return from a command (hence not `Self`).
    #[allow(clippy::new_ret_no_self)]
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(Hinted {
            message: message.into(),
            hint: hint.into(),
        })
    }
}

impl fmt::Display for Hinted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Hinted {}

/// Manifest diagnostics, rendered with their sources (file:line:col,
/// address, hint) and printed as they are.
#[derive(Debug)]
pub struct Diagnosed {
    pub rendered: String,
}

impl fmt::Display for Diagnosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rendered)
    }
}

impl std::error::Error for Diagnosed {}

/// An error taken apart the way [`report`] prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explained {
    /// The top message, or the manifest's rendered diagnostics.
    pub message: String,
    pub causes: Vec<String>,
    pub hint: Option<String>,
    /// The state is locked by someone else (exit 3).
    pub locked: bool,
    /// `message` is rendered manifest diagnostics, to print as they are.
    pub rendered: bool,
}

/// Take `err` apart: message, causes, the first hint along the chain, and
/// whether it means the state is locked.
pub fn explain(err: &anyhow::Error) -> Explained {
    if let Some(d) = err.downcast_ref::<Diagnosed>() {
        return Explained {
            message: d.rendered.clone(),
            causes: Vec::new(),
            hint: None,
            locked: false,
            rendered: true,
        };
    }
    let mut hint = None;
    let mut locked = false;
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<EngineError>() {
            locked |= e.is_locked();
            hint = hint.or_else(|| e.hint());
        } else if let Some(e) = cause.downcast_ref::<LockError>() {
            locked |= matches!(
                e,
                LockError::Held { .. }
                    | LockError::SessionHeld { .. }
                    | LockError::Unreadable { .. }
            );
            hint = hint.or_else(|| e.hint());
        } else if let Some(h) = cause.downcast_ref::<Hinted>() {
            hint = hint.or_else(|| Some(h.hint.clone()));
        }
    }
    Explained {
        message: err.to_string(),
        causes: err.chain().skip(1).map(ToString::to_string).collect(),
        hint,
        locked,
        rendered: false,
    }
}

/// Print `err` and return the exit code it means.
pub fn report(printer: &Printer, err: &anyhow::Error) -> Exit {
    let e = explain(err);
    if e.rendered {
        printer.raw_err(&e.message);
        return Exit::Error;
    }
    printer.error(&e.message, &e.causes, e.hint.as_deref());
    if e.locked {
        Exit::Locked
    } else {
        Exit::Error
    }
}
