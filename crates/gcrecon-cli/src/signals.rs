//! Ctrl-C and SIGTERM. The first asks the engine to stop starting new work
//! (changes in flight finish and are recorded, then the lock is released as
//! the command unwinds); the second removes the lock this process holds and
//! exits at once.

use std::sync::{Arc, Mutex};

use gcrecon_engine::{Cancel, StateBackend};

use crate::printer::Printer;

/// The lock this process holds: its backend and its id.
type HeldLock = (Arc<dyn StateBackend>, String);

/// The cancellation token and the lock to remove on a second signal.
#[derive(Clone, Default)]
pub struct Interrupts {
    pub cancel: Cancel,
    held: Arc<Mutex<Option<HeldLock>>>,
}

impl Interrupts {
    /// Listen for Ctrl-C and SIGTERM (needs a running tokio runtime).
    pub fn install(printer: Printer) -> Self {
        let me = Interrupts::default();
        let watcher = me.clone();
        tokio::spawn(async move {
            let mut count = 0;
            loop {
                if !signal().await {
                    return;
                }
                count += 1;
                if count == 1 {
                    printer.warn("interrupted: finishing the changes in flight, then stopping (interrupt again to stop now)");
                    watcher.cancel.cancel();
                } else {
                    let held = watcher.held.lock().ok().and_then(|h| h.clone());
                    if let Some((backend, id)) = held {
                        let _ = backend.force_unlock(&id);
                    }
                    printer.warn("interrupted again: stopping now; run plan to see what was done");
                    std::process::exit(1);
                }
            }
        });
        me
    }

    /// Remember the lock this process holds.
    pub fn holding(&self, backend: Arc<dyn StateBackend>, lock_id: String) {
        if let Ok(mut h) = self.held.lock() {
            *h = Some((backend, lock_id));
        }
    }
}

/// Wait for Ctrl-C or SIGTERM; false when signals cannot be watched.
async fn signal() -> bool {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            return tokio::signal::ctrl_c().await.is_ok();
        };
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.is_ok(),
            r = term.recv() => r.is_some(),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.is_ok()
    }
}
