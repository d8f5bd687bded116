//! Commands on one object: `import`, `rotate` and `state rm`.

use anyhow::Result;
use gcrecon_core::provider::GenesysId;
use gcrecon_engine::{ops, StateStore};

use crate::args::{ImportArgs, RotateArgs};
use crate::commands::{parse_address, Ctx};
use crate::failure::Exit;
use crate::project::connect;

/// `gcrecon import ADDR ID`.
pub async fn import(ctx: &Ctx, args: &ImportArgs) -> Result<Exit> {
    let address = parse_address(&args.address)?;
    let project = ctx.project()?;
    if !project.manifest.contains(&address) {
        ctx.printer.warn(&format!(
            "{address} is not in the manifest; the next plan will delete the imported object unless you add the block"
        ));
    }
    let provider = connect(&ctx.global, &ctx.printer).await?;
    let _lock = ctx.lock(&project.backend, "import")?;
    let mut store = StateStore::load(project.backend.clone(), &project.name)?;
    let id = GenesysId::from(args.id.as_str());
    // Running an import again (after an interrupted one) is not an error.
    if let Some(existing) = store.state().resource(&address) {
        if existing.id == id {
            ctx.printer.line(&format!(
                "{address} is already imported: {} `{}` [id={}]. Nothing to do.",
                existing.kind, existing.name, existing.id
            ));
            return Ok(Exit::Success);
        }
    }
    let record = ops::import(provider.as_ref(), &mut store, &address, &id).await?;
    ctx.printer.line(&format!(
        "Imported {address}: {} `{}` [id={}]. Run `gcrecon plan` to see how it differs from the manifest.",
        record.kind, record.name, record.id
    ));
    Ok(Exit::Success)
}

/// `gcrecon rotate ADDR`.
pub async fn rotate(ctx: &Ctx, args: &RotateArgs) -> Result<Exit> {
    let address = parse_address(&args.address)?;
    let project = ctx.project()?;
    let provider = connect(&ctx.global, &ctx.printer).await?;
    let _lock = ctx.lock(&project.backend, "rotate")?;
    let store = StateStore::load_existing(project.backend.clone())?;
    let secrets = project.secrets_store(
        args.secrets.secrets_out.as_deref(),
        &args.secrets.secrets_recipients,
    )?;
    let id = ops::rotate(
        provider.as_ref(),
        &store,
        &address,
        &secrets,
        ctx.progress().as_ref(),
    )
    .await?;
    ctx.printer.line(&format!(
        "A new secret for {address} [id={id}] was written to {}. The old secret no longer works.",
        crate::commands::secrets::where_written(&secrets)
    ));
    Ok(Exit::Success)
}

/// `gcrecon state rm ADDR`.
pub fn state_rm(ctx: &Ctx, address: &str) -> Result<Exit> {
    let address = parse_address(address)?;
    let backend = crate::project::backend_only(&ctx.global)?;
    let _lock = ctx.lock(&backend, "state rm")?;
    let mut store = StateStore::load_existing(backend)?;
    let record = ops::state_rm(&mut store, &address)?;
    ctx.printer.line(&format!(
        "Removed {address} [id={}] from the state. The object itself is unchanged; gcrecon no longer manages it.",
        record.id
    ));
    Ok(Exit::Success)
}
