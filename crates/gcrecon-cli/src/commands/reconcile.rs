//! `plan`, `apply` and `destroy`: refresh, plan, confirm, walk, report.

use std::sync::Arc;

use anyhow::Result;
use gcrecon_cli::render;
use gcrecon_core::manifest::Variables;
use gcrecon_core::plan::Action;
use gcrecon_core::value::Value;
use gcrecon_core::Address;
use gcrecon_engine::{
    plan_document, with_plan_document, ApplyInput, ApplyOptions, ApplyReport, EngineError,
    PlanInput, PlanOptions, Planned, SavedPlan, SecretsFile, StateStore, Status,
};
use gcrecon_genesys::GenesysProvider;

use crate::args::{ApplyArgs, DestroyArgs, Format, PlanArgs, PlanningArgs};
use crate::commands::{engine_error, parse_address, policy, Ctx};
use crate::failure::{Exit, Hinted};
use crate::project::{connect_loading_state, Project};

fn plan_options(planning: &PlanningArgs, refresh_only: bool, destroy: bool) -> Result<PlanOptions> {
    Ok(PlanOptions {
        targets: planning
            .targets
            .iter()
            .map(|t| parse_address(t))
            .collect::<Result<_>>()?,
        refresh_only,
        destroy,
        allow_caller_demotion: planning.allow_caller_demotion,
    })
}

/// Refresh and plan, stopping at the first Ctrl-C.
async fn make_plan(
    ctx: &Ctx,
    project: &Project,
    variables: &Variables,
    provider: &Arc<GenesysProvider>,
    store: &StateStore,
    options: PlanOptions,
) -> Result<Planned> {
    let input = PlanInput {
        manifest: &project.manifest,
        variables,
        name: &project.name,
        manifest_sha256: &project.sha256,
    };
    let progress = ctx.progress();
    let planning = gcrecon_engine::plan(
        provider,
        input,
        store.state(),
        store.is_on_disk(),
        options,
        progress.as_ref(),
    );
    tokio::select! {
        planned = planning => planned.map_err(|e| engine_error(project, e)),
        () = ctx.interrupts.cancel.cancelled() => Err(EngineError::Interrupted.into()),
    }
}

/// `gcrecon plan`.
pub async fn plan(ctx: &Ctx, args: &PlanArgs) -> Result<Exit> {
    let login = ctx.start_login();
    let project = ctx.project()?;
    let variables = project.variables(&ctx.global)?;
    let options = plan_options(&args.planning, args.refresh_only, false)?;
    let policies = policy::load(args.planning.policy.as_deref())?;
    let lock = ctx.lock(&project.backend, "plan")?;
    let (provider, store) = connect_loading_state(login, &project).await?;
    let planned = make_plan(ctx, &project, &variables, &provider, &store, options).await?;
    lock.release()?;
    // Policies read the plan JSON whole, and `--format json` then prints
    // that same document; without policies it is written as it is built.
    // Of a large plan it is the biggest thing gcrecon could hold, so
    // nothing else builds it.
    let whole = policies.as_ref().map(|_| plan_document(&planned));
    let verdict = match &whole {
        Some(doc) => policy::evaluate(policies.as_ref(), doc)?,
        None => None,
    };
    let text = match (args.format, &verdict) {
        (Format::Json, _) => None,
        (Format::Human, None) => Some(render::human(&planned.plan, ctx.printer.color)),
        (Format::Human, Some(report)) => {
            Some(render::human(&planned.plan, ctx.printer.color) + &render::policy_human(report))
        }
        (Format::Markdown, None) => Some(render::markdown(&planned.plan)),
        (Format::Markdown, Some(report)) => Some(render::policy_markdown(
            report,
            &render::markdown(&planned.plan),
        )),
    };
    match text {
        Some(text) => {
            ctx.printer.out(&text);
            if !text.ends_with('\n') {
                ctx.printer.out("\n");
            }
        }
        None => match whole {
            Some(doc) => ctx
                .printer
                .out_with(|out| render::write_json_value(doc, verdict.as_ref(), out)),
            None => with_plan_document(&planned, |doc| {
                ctx.printer
                    .out_with(|out| render::write_json(doc, verdict.as_ref(), out));
            }),
        },
    }
    if let Some(report) = verdict.as_ref().filter(|r| !r.passed()) {
        let what = match &args.out {
            Some(out) => format!("the plan was not saved to {}", out.display()),
            None => "the plan is blocked".to_owned(),
        };
        return Err(policy::denied(report, &what));
    }
    if let Some(out) = &args.out {
        SavedPlan::new(&planned, &variables).write(out)?;
        let note = format!(
            "Saved the plan to {}. To apply exactly this plan, run: gcrecon apply {}",
            out.display(),
            out.display()
        );
        if args.format == Format::Human {
            ctx.printer.line(&format!("\n{note}"));
        } else {
            ctx.printer.note(&note);
        }
    }
    let exit = if args.detailed_exitcode && planned.has_changes() {
        Exit::Changes
    } else {
        Exit::Success
    };
    // The process ends with this command. Freeing the plan and the state
    // one object at a time costs about a tenth of a 10,000-resource plan's
    // CPU (docs/performance.md); the system takes their pages back at exit
    // at once. Neither holds anything to close (the lock is released above,
    // the store's backend is dropped as usual).
    std::mem::forget(planned);
    std::mem::forget(store.into_state());
    Ok(exit)
}

/// Refuse to wait for a `yes` that cannot come.
fn require_approval_possible(ctx: &Ctx, auto_approve: bool, command: &str) -> Result<()> {
    if auto_approve || ctx.printer.stdin_tty {
        return Ok(());
    }
    Err(Hinted::new(
        format!("`gcrecon {command}` asks for confirmation, and there is no terminal to ask on"),
        format!("review the plan, then run `gcrecon {command} --auto-approve`, or save a plan with `gcrecon plan --out plan.json` and apply that file"),
    ))
}

fn confirm(ctx: &Ctx, question: &str) -> Result<()> {
    let answer = ctx.printer.ask(&format!(
        "\n{question}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
    ));
    if answer == "yes" {
        Ok(())
    } else {
        Err(Hinted::new("cancelled", "nothing was changed"))
    }
}

/// `gcrecon apply [FILE]`.
pub async fn apply(ctx: &Ctx, args: &ApplyArgs) -> Result<Exit> {
    let login = ctx.start_login();
    let project = ctx.project()?;
    let saved = args.plan_file.as_deref().map(SavedPlan::read).transpose()?;
    let variables = match (&saved, &args.plan_file) {
        (Some(saved), Some(path)) => project.variables_for(&ctx.global, saved, path)?,
        _ => project.variables(&ctx.global)?,
    };
    if saved.is_none() {
        require_approval_possible(ctx, args.auto_approve, "apply")?;
    }
    let policies = policy::load(args.planning.policy.as_deref())?;
    let _lock = ctx.lock(&project.backend, "apply")?;
    let (provider, store) = connect_loading_state(login, &project).await?;
    let planned = if let (Some(saved), Some(path)) = (&saved, &args.plan_file) {
        saved.check_inputs(
            path,
            &project.sha256,
            &variables,
            store.state(),
            store.is_on_disk(),
        )?;
        let planned = make_plan(
            ctx,
            &project,
            &variables,
            &provider,
            &store,
            saved.options(),
        )
        .await?;
        saved.check_fresh(path, &planned)?;
        if let Some(report) = policy::evaluate(policies.as_ref(), &plan_document(&planned))? {
            ctx.printer.out(&render::policy_human(&report));
            if !report.passed() {
                return Err(policy::denied(&report, "nothing was applied"));
            }
        }
        planned
    } else {
        let options = plan_options(&args.planning, args.refresh_only, false)?;
        let planned = make_plan(ctx, &project, &variables, &provider, &store, options).await?;
        ctx.printer
            .out(&render::human(&planned.plan, ctx.printer.color));
        if let Some(report) = policy::evaluate(policies.as_ref(), &plan_document(&planned))? {
            ctx.printer.out(&render::policy_human(&report));
            if !report.passed() {
                return Err(policy::denied(&report, "nothing was applied"));
            }
        }
        if planned.has_changes() && !args.auto_approve {
            confirm(ctx, "Do you want to perform these actions?\n  gcrecon will perform the actions described above.")?;
        }
        planned
    };
    if !planned.needs_apply() {
        if saved.is_some() {
            ctx.printer
                .line(render::summary_line(&planned.plan).as_str());
        }
        return Ok(Exit::Success);
    }
    let secrets = project.secrets_store(
        args.secrets.secrets_out.as_deref(),
        &args.secrets.secrets_recipients,
    )?;
    walk(
        ctx,
        &project,
        &variables,
        provider,
        store,
        planned,
        args.parallelism,
        secrets,
        "Apply",
    )
    .await
}

/// `gcrecon destroy`.
pub async fn destroy(ctx: &Ctx, args: &DestroyArgs) -> Result<Exit> {
    let login = ctx.start_login();
    let project = ctx.project()?;
    let variables = project.variables(&ctx.global)?;
    require_approval_possible(ctx, args.auto_approve, "destroy")?;
    let _lock = ctx.lock(&project.backend, "destroy")?;
    let (provider, store) = connect_loading_state(login, &project).await?;
    let options = PlanOptions {
        destroy: true,
        allow_caller_demotion: args.allow_caller_demotion,
        ..PlanOptions::default()
    };
    let planned = make_plan(ctx, &project, &variables, &provider, &store, options).await?;
    ctx.printer
        .out(&render::human(&planned.plan, ctx.printer.color));
    if !planned.has_changes() {
        return Ok(Exit::Success);
    }
    if !args.auto_approve {
        confirm(
            ctx,
            "Do you really want to destroy every object in the state?\n  gcrecon will delete them from the organization. There is no undo.",
        )?;
    }
    let secrets = SecretsFile::new(project.secrets_path(None));
    walk(
        ctx,
        &project,
        &variables,
        provider,
        store,
        planned,
        args.parallelism,
        secrets,
        "Destroy",
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn walk(
    ctx: &Ctx,
    project: &Project,
    variables: &Variables,
    provider: Arc<GenesysProvider>,
    store: StateStore,
    planned: Planned,
    parallelism: u16,
    secrets: SecretsFile,
    what: &str,
) -> Result<Exit> {
    let input = ApplyInput {
        manifest: &project.manifest,
        variables,
        name: &project.name,
        manifest_sha256: &project.sha256,
    };
    let options = ApplyOptions {
        parallelism: usize::from(parallelism),
        secrets: secrets.clone(),
        cancel: ctx.interrupts.cancel.clone(),
    };
    let (report, store) =
        gcrecon_engine::apply(provider, input, store, planned, options, ctx.progress())
            .await
            .map_err(|e| engine_error(project, e))?;
    print_report(ctx, &report, &store, &secrets, what);
    Ok(if report.succeeded() {
        Exit::Success
    } else {
        Exit::Error
    })
}

fn past(actions: &[Action]) -> &'static str {
    match actions {
        [Action::Create] => "created",
        [Action::Update] => "updated",
        [Action::Delete] => "deleted",
        [Action::Delete, Action::Create] => "replaced",
        [Action::Read] => "recorded",
        _ => "done",
    }
}

fn print_report(
    ctx: &Ctx,
    report: &ApplyReport,
    store: &StateStore,
    secrets: &SecretsFile,
    what: &str,
) {
    let p = &ctx.printer;
    p.line("");
    let mut failed = 0;
    let mut skipped = 0;
    for o in &report.outcomes {
        match &o.status {
            Status::Done => {
                let id =
                    o.id.as_ref()
                        .map(|i| format!(" [id={i}]"))
                        .unwrap_or_default();
                p.line(&format!("{}: {}{id}", o.address, past(&o.actions)));
            }
            Status::Failed { message, hint } => {
                failed += 1;
                p.line(&format!("{}: failed", o.address));
                p.error(message, &[], hint.as_deref());
            }
            Status::Skipped { because } => {
                skipped += 1;
                p.line(&format!("{}: skipped because {because} failed", o.address));
            }
            Status::NotStarted => {
                skipped += 1;
                let why = if report.state_failure.is_some() {
                    "a file gcrecon records in cannot be written"
                } else {
                    "interrupted"
                };
                p.line(&format!("{}: not started ({why})", o.address));
            }
        }
    }
    let mut roles: Vec<String> = report
        .caller_grants
        .iter()
        .map(|(r, g)| format!("{r} ({})", g.division_id))
        .collect();
    roles.dedup();
    if !roles.is_empty() {
        p.line(&format!(
            "\nGranted to the caller so it could give them to OAuth clients: {}.",
            roles.join(", ")
        ));
    }
    if !report.caller_grants_revoked.is_empty() {
        p.line(&format!(
            "Removed {} temporary role grant(s) from the caller again.",
            report.caller_grants_revoked.len()
        ));
    }
    if !report.secrets_written.is_empty() {
        let path = crate::commands::secrets::where_written(secrets);
        let who: Vec<String> = report
            .secrets_written
            .iter()
            .map(Address::to_string)
            .collect();
        p.line(&format!(
            "\nThe client secret(s) of {} were written to {path}. They appear nowhere else.",
            who.join(", ")
        ));
    }
    for e in &report.errors {
        p.error(e, &[], None);
    }
    let (added, changed, destroyed) = report.counts();
    if report.succeeded() {
        let summary = if what == "Destroy" {
            format!("\nDestroy complete! Resources: {destroyed} destroyed.")
        } else {
            format!("\n{what} complete! Resources: {added} added, {changed} changed, {destroyed} destroyed.")
        };
        p.line(&p.bold(&summary));
    } else {
        let done = report
            .outcomes
            .iter()
            .filter(|o| o.status == Status::Done)
            .count();
        if let Some(failure) = &report.state_failure {
            p.line(&format!(
                "\n{what} stopped: {done} done, {failed} failed, {skipped} not started. A file gcrecon records in could not be written, so no further change was started."
            ));
            p.error(
                &format!("cannot record what was done: {failure}"),
                &[],
                Some("the changes reported above as not recorded exist in Genesys Cloud: once the state can be written, record each with `gcrecon import ADDRESS ID` (or run apply again, which finds created objects by name)"),
            );
            return;
        }
        p.line(&format!(
            "\n{what} incomplete: {done} done, {failed} failed, {skipped} skipped. Every completed change is recorded in the state."
        ));
        p.error(
            &format!("{} did not finish", what.to_lowercase()),
            &[],
            Some("fix the problem above and run apply again: it continues from what is recorded"),
        );
    }
    let outputs = &store.state().outputs;
    if !outputs.is_empty() && what != "Destroy" {
        p.line("\nOutputs:\n");
        for (name, o) in outputs {
            let value = match (&o.value, o.sensitive) {
                (_, true) => "(sensitive)".to_owned(),
                (Some(v), false) => display_value(v),
                (None, false) => "(not known)".to_owned(),
            };
            p.line(&format!("{name} = {value}"));
        }
    }
    p.note(&format!(
        "State: {} (serial {})",
        store.address(),
        report.serial
    ));
}

/// A value as `gcrecon output` shows it: JSON.
pub fn display_value(v: &Value) -> String {
    v.to_json().map_or_else(|| v.to_string(), |j| j.to_string())
}
