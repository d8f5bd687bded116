//! The engine's errors. Each says what failed, for which address or file,
//! and (through [`EngineError::hint`]) what to do next. Whether an error
//! means "state is locked" (exit code 3) is decided here too, so the CLI
//! maps errors to exit codes in one place.

use std::path::PathBuf;

use gcrecon_core::manifest::Diagnostics;
use gcrecon_core::provider::ProviderError;
use gcrecon_core::Address;

use crate::backend::BackendError;
use crate::lock::LockError;

/// Everything that can make an engine operation fail.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The manifest could not be evaluated, or the plan is refused for
    /// reasons tied to manifest blocks (data source not found, name clash,
    /// unknown permission, prevent_destroy). The CLI renders them with the
    /// manifest's sources: file:line:col, address, hint.
    #[error("{} problem(s) in the manifest", .0.len())]
    Manifest(Diagnostics),
    /// The state backend failed: an unusable state (left untouched), a
    /// file or database error, a write refused because another run wrote
    /// first.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// Reading or writing a file failed.
    #[error("{action} {path}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The state belongs to another organization.
    #[error("the state {path} belongs to organization {state_org}, but the credentials are for organization {live_org}")]
    OtherOrg {
        path: PathBuf,
        state_org: String,
        live_org: String,
    },
    /// The state lock could not be taken or released.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// A call to Genesys Cloud failed outside the apply walk (refresh, rotate).
    #[error("{context}")]
    Provider {
        context: String,
        #[source]
        source: ProviderError,
    },
    /// A saved plan no longer matches the manifest, the state or the live objects.
    #[error("the saved plan {path} is stale: {reason}")]
    StalePlan { path: PathBuf, reason: String },
    /// A saved plan file cannot be read.
    #[error("cannot read the saved plan {path}: {reason}")]
    BadPlanFile { path: PathBuf, reason: String },
    /// An address the command needs is not in the state.
    #[error("{0} is not in the state")]
    NotInState(Address),
    /// A command was asked something that does not make sense.
    #[error("{message}")]
    Usage {
        message: String,
        hint: Option<String>,
    },
    /// The operation was interrupted (Ctrl-C) before it finished.
    #[error("interrupted; every completed change is recorded in the state")]
    Interrupted,
}

impl EngineError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            EngineError::Backend(e) => e.hint(),
            EngineError::OtherOrg { .. } => {
                Some("use one state per organization: `--workspace NAME` or `--state PATH`".into())
            }
            EngineError::StalePlan { .. } => {
                Some("run `gcrecon plan --out FILE` again and review the new plan".into())
            }
            EngineError::NotInState(_) => {
                Some("`gcrecon state list` shows the addresses in the state".into())
            }
            EngineError::Lock(e) => e.hint(),
            EngineError::Usage { hint, .. } => hint.clone(),
            EngineError::Provider { source, .. } => provider_hint(source),
            _ => None,
        }
    }

    /// True when the error is "the state is locked by someone else" (exit
    /// code 3); an unreadable lock file counts, since someone created it.
    pub fn is_locked(&self) -> bool {
        matches!(
            self,
            EngineError::Lock(
                LockError::Held { .. }
                    | LockError::SessionHeld { .. }
                    | LockError::Unreadable { .. }
            )
        )
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        EngineError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn provider(context: impl Into<String>, source: ProviderError) -> Self {
        EngineError::Provider {
            context: context.into(),
            source,
        }
    }
}

/// A hint for a provider error, where one helps.
pub fn provider_hint(e: &ProviderError) -> Option<String> {
    match e {
        ProviderError::Forbidden { permissions, .. } if !permissions.is_empty() => Some(format!(
            "the caller needs one of these permissions: {}",
            permissions.join(", ")
        )),
        ProviderError::Auth(_) => Some(
            "check GENESYSCLOUD_OAUTHCLIENT_ID and GENESYSCLOUD_OAUTHCLIENT_SECRET (a client-credentials client of the organization) or GENESYSCLOUD_ACCESS_TOKEN, and that GENESYSCLOUD_REGION or --api-url names the organization's region".into(),
        ),
        ProviderError::Transport(_) => Some(
            "check the region (GENESYSCLOUD_REGION or --region; GENESYSCLOUD_API_REGION or --api-url for a base URL), that this machine reaches the host (network, firewall, DNS), and the proxy settings (HTTPS_PROXY, NO_PROXY)".into(),
        ),
        _ => None,
    }
}
