//! Progress events and cancellation.
//!
//! The engine never prints: it reports what it does to an [`Observer`]
//! (the CLI shows progress on a terminal, tests collect events), and it
//! stops starting new work when a [`Cancel`] token is triggered (Ctrl-C),
//! letting the calls in flight finish and be recorded.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gcrecon_core::provider::GenesysId;
use gcrecon_core::{Address, Kind};

/// Something the engine is doing or has done.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// Reading the objects of a kind from the organization.
    Listing { kind: Kind },
    /// A data source was looked up.
    DataRead { address: Address },
    /// A change starts (`verb`: creating, updating, deleting, replacing, adopting).
    Started {
        address: Address,
        verb: &'static str,
    },
    /// A change finished.
    Finished {
        address: Address,
        verb: &'static str,
        id: Option<GenesysId>,
        elapsed: Duration,
    },
    /// A change failed; its dependents are skipped.
    Failed { address: Address, message: String },
    /// A change was not attempted because something it needs failed.
    Skipped { address: Address, because: Address },
    /// A role was granted to (or removed from) the caller.
    CallerGrant {
        role: Address,
        divisions: Vec<String>,
        granted: bool,
    },
    /// A secret was written to the secrets file.
    SecretWritten {
        address: Address,
        path: std::path::PathBuf,
    },
    /// Something the user should know.
    Warning(String),
}

/// Receives [`Event`]s. Must be cheap: it is called from the apply walk.
pub trait Observer: Send + Sync {
    fn event(&self, event: &Event);
}

/// An observer that ignores everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Observer for Silent {
    fn event(&self, _: &Event) {}
}

/// An observer that keeps every event (for tests and reports).
#[derive(Debug, Default)]
pub struct Recorder(pub std::sync::Mutex<Vec<Event>>);

impl Observer for Recorder {
    fn event(&self, event: &Event) {
        if let Ok(mut events) = self.0.lock() {
            events.push(event.clone());
        }
    }
}

impl Recorder {
    /// The events so far.
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

/// A cancellation flag shared between the CLI's signal handler and the engine.
#[derive(Clone, Debug, Default)]
pub struct Cancel {
    flag: Arc<AtomicBool>,
    notify: Arc<tokio::sync::Notify>,
}

impl Cancel {
    pub fn new() -> Self {
        Self::default()
    }

    /// Ask the engine to stop starting new work.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// True once [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Resolves when cancelled.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}
