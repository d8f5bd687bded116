//! Commands that need no network: `validate` and `graph`.

use anyhow::Result;

use crate::args::{GraphArgs, GraphFormat};
use crate::commands::Ctx;
use crate::failure::Exit;

/// `gcrecon validate`: parse and check the manifest offline.
pub fn validate(ctx: &Ctx) -> Result<Exit> {
    let project = ctx.project()?;
    let resources = project.manifest.resource_blocks().count();
    let outputs = project.manifest.output_names().count();
    let data = project.manifest.data_blocks_in_order().len();
    let files = project.sources.len();
    ctx.printer.line(&format!(
        "The manifest `{}` is valid: {resources} resource block(s), {data} data source(s), {outputs} output(s) in {files} file(s).",
        project.name
    ));
    Ok(Exit::Success)
}

/// `gcrecon graph`: the block-level dependency graph.
pub fn graph(ctx: &Ctx, args: &GraphArgs) -> Result<Exit> {
    let project = ctx.project()?;
    let graph = project.manifest.block_graph();
    let text = match args.format {
        GraphFormat::Dot => graph.to_dot(),
        GraphFormat::Text => graph.to_text(),
    };
    ctx.printer.out(&text);
    Ok(Exit::Success)
}
