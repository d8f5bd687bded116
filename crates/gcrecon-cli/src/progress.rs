//! Progress of refresh and apply on stderr, when stderr is a terminal: the
//! CLI's [`Observer`] of engine events.

use gcrecon_engine::{Event, Observer};

use crate::printer::Printer;

/// Prints engine events as progress lines.
pub struct Progress {
    pub printer: Printer,
}

impl Observer for Progress {
    fn event(&self, event: &Event) {
        let p = &self.printer;
        match event {
            Event::Listing { kind } => p.progress(&format!("Refreshing {kind} objects...")),
            Event::DataRead { address } => p.progress(&format!("{address}: read")),
            Event::Started { address, verb } => p.progress(&format!("{address}: {verb}...")),
            Event::Finished {
                address,
                verb,
                id,
                elapsed,
            } => {
                let id = id
                    .as_ref()
                    .map(|i| format!(" [id={i}]"))
                    .unwrap_or_default();
                p.progress(&format!(
                    "{address}: {verb} done after {:.1}s{id}",
                    elapsed.as_secs_f64()
                ));
            }
            Event::Failed { address, .. } => p.progress(&format!("{address}: failed")),
            Event::Skipped { address, because } => {
                p.progress(&format!("{address}: skipped ({because} failed)"));
            }
            Event::CallerGrant {
                role,
                divisions,
                granted,
            } => p.progress(&format!(
                "{} {role} {} the caller (divisions {})",
                if *granted { "granted" } else { "removed" },
                if *granted { "to" } else { "from" },
                divisions.join(", ")
            )),
            Event::SecretWritten { address, path } => {
                p.progress(&format!("{address}: secret written to {}", path.display()));
            }
            Event::Warning(w) => p.warn(w),
        }
    }
}
