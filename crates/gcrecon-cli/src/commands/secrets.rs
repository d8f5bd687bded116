//! `gcrecon secrets show`: print the delivered OAuth client secrets, from
//! the local secrets file or the PostgreSQL table beside the state,
//! decrypting those encrypted to age recipients with `--identity`.

use anyhow::Result;
use gcrecon_engine::SecretsFile;

use crate::args::SecretsShowArgs;
use crate::commands::{parse_address, Ctx};
use crate::failure::Exit;

/// Where a secret went, for the apply and rotate reports: the place, and
/// how it is protected.
pub fn where_written(secrets: &SecretsFile) -> String {
    if secrets.encrypts() {
        format!(
            "{}, encrypted to the age recipients (`gcrecon secrets show --identity FILE` decrypts)",
            secrets.describe()
        )
    } else {
        format!("{} (mode 0600)", secrets.describe())
    }
}

/// `gcrecon secrets show [ADDR] [--identity FILE]`.
pub fn show(ctx: &Ctx, args: &SecretsShowArgs) -> Result<Exit> {
    let only = args.address.as_deref().map(parse_address).transpose()?;
    let project = ctx.project()?;
    let identities = match &args.identity {
        Some(path) => gcrecon_engine::read_identities(path)?,
        None => Vec::new(),
    };
    // With a postgres:// backend, secrets encrypted to recipients are in
    // the database beside the state; clear ones in the local file.
    let local = || SecretsFile::new(project.paths.secrets.clone());
    let secrets = match &args.secrets_out {
        Some(path) => SecretsFile::new(path),
        None if project.backend.keeps_secrets() => {
            let db = SecretsFile::in_backend(project.backend.clone(), Vec::new());
            if args.identity.is_some() || !db.is_empty()? {
                db
            } else {
                local()
            }
        }
        None => local(),
    };
    let all = secrets.reveal(only.as_ref(), &identities)?;
    let entry = |d: &gcrecon_engine::Delivered| serde_json::json!({ "client_id": d.client_id, "client_secret": d.secret.expose() });
    let doc = match &only {
        Some(a) => all
            .get(&a.to_string())
            .map(entry)
            .unwrap_or(serde_json::Value::Null),
        None => serde_json::Value::Object(all.iter().map(|(a, d)| (a.clone(), entry(d))).collect()),
    };
    ctx.printer
        .out(&(serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"));
    Ok(Exit::Success)
}
