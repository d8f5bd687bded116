//! Commands that read the state without a lock or network: `output`,
//! `state list`, `state show`; and `force-unlock`.

use std::collections::BTreeMap;

use anyhow::Result;
use gcrecon_core::manifest::EvalContext;
use gcrecon_core::value::Value;
use gcrecon_core::Address;
use gcrecon_engine::planner::state_value;
use gcrecon_engine::{SecretsFile, StateStore};

use crate::args::OutputArgs;
use crate::commands::reconcile::display_value;
use crate::commands::{parse_address, Ctx};
use crate::failure::{Exit, Hinted};
use crate::project::backend_only;

/// `gcrecon output [NAME] [--json] [--show-sensitive]`.
pub fn output(ctx: &Ctx, args: &OutputArgs) -> Result<Exit> {
    let store = StateStore::load_existing(backend_only(&ctx.global)?)?;
    let outputs = &store.state().outputs;
    let sensitive_values = if args.show_sensitive && outputs.values().any(|o| o.sensitive) {
        sensitive_at_hand(ctx, &store, args)
    } else {
        BTreeMap::new()
    };
    let value_of = |name: &str| -> Option<Value> {
        let o = outputs.get(name)?;
        if o.sensitive {
            sensitive_values.get(name).cloned()
        } else {
            o.value.clone()
        }
    };
    if let Some(name) = &args.name {
        let Some(o) = outputs.get(name) else {
            let known: Vec<&str> = outputs.keys().map(String::as_str).collect();
            let instances: Vec<&str> = known
                .iter()
                .copied()
                .filter(|k| {
                    k.strip_prefix(name.as_str())
                        .is_some_and(|r| r.starts_with('['))
                })
                .collect();
            return Err(Hinted::new(
                format!("there is no output `{name}` in the state"),
                if let Some(first) = instances.first() {
                    format!(
                        "`{name}` has `for_each`; name one instance, e.g. `gcrecon output '{first}'` (its instances: {})",
                        instances.join(", ")
                    )
                } else if known.is_empty() {
                    "apply the manifest first; outputs are recorded by apply".to_owned()
                } else {
                    format!("the outputs are: {}", known.join(", "))
                },
            ));
        };
        match value_of(name) {
            Some(v) if args.json => ctx.printer.line(&display_value(&v)),
            Some(Value::String(s)) => ctx.printer.line(&s),
            Some(v) => ctx.printer.line(&display_value(&v)),
            None if o.sensitive => {
                return Err(Hinted::new(
                    format!("output `{name}` is sensitive"),
                    if args.show_sensitive {
                        "its value is not at hand: it derives from a secret that is not in the secrets file in clear (an encrypted one: `gcrecon secrets show --identity FILE`; a lost one: `gcrecon rotate`)"
                    } else {
                        "add --show-sensitive to print it"
                    },
                ))
            }
            None => {
                return Err(Hinted::new(
                    format!("output `{name}` has no known value"),
                    "apply the manifest again",
                ))
            }
        }
        return Ok(Exit::Success);
    }
    if args.json {
        let doc: serde_json::Map<String, serde_json::Value> = outputs
            .iter()
            .map(|(name, o)| {
                let mut entry = serde_json::Map::new();
                entry.insert(
                    "value".into(),
                    value_of(name)
                        .and_then(|v| v.to_json())
                        .unwrap_or(serde_json::Value::Null),
                );
                entry.insert("sensitive".into(), serde_json::Value::Bool(o.sensitive));
                (name.clone(), serde_json::Value::Object(entry))
            })
            .collect();
        ctx.printer
            .line(&serde_json::to_string_pretty(&doc).unwrap_or_default());
        return Ok(Exit::Success);
    }
    for (name, o) in outputs {
        let shown = match value_of(name) {
            Some(v) => display_value(&v),
            None if o.sensitive => "(sensitive)".to_owned(),
            None => "(not known)".to_owned(),
        };
        ctx.printer.line(&format!("{name} = {shown}"));
    }
    Ok(Exit::Success)
}

/// Sensitive outputs evaluated from the state and the secrets file, where
/// the manifest and its variables are at hand.
fn sensitive_at_hand(ctx: &Ctx, store: &StateStore, args: &OutputArgs) -> BTreeMap<String, Value> {
    let Ok(project) = ctx.project() else {
        return BTreeMap::new();
    };
    let Ok(variables) = project.variables(&ctx.global) else {
        return BTreeMap::new();
    };
    let secrets = SecretsFile::new(project.secrets_path(args.secrets_out.as_deref()));
    let state = store.state();
    let resolver = |a: &Address, attr: &str| -> Option<Value> {
        if attr == "secret" {
            let secret = secrets.secret(a).ok().flatten()?;
            return Some(Value::from(secret.expose()));
        }
        state_value(state, a, attr)
    };
    let ctx_eval = EvalContext::new(&variables, &state.data, &resolver);
    project
        .manifest
        .outputs(&ctx_eval)
        .map(|outs| {
            outs.into_iter()
                .filter(|o| o.sensitive && o.value.is_known())
                .map(|o| (o.name, o.value))
                .collect()
        })
        .unwrap_or_default()
}

/// `gcrecon state list`.
pub fn state_list(ctx: &Ctx) -> Result<Exit> {
    let store = StateStore::load_existing(backend_only(&ctx.global)?)?;
    for r in &store.state().resources {
        ctx.printer.line(&r.address.to_string());
    }
    Ok(Exit::Success)
}

/// `gcrecon state show ADDR`.
pub fn state_show(ctx: &Ctx, address: &str) -> Result<Exit> {
    let address = parse_address(address)?;
    let store = StateStore::load_existing(backend_only(&ctx.global)?)?;
    let record = store
        .state()
        .resource(&address)
        .ok_or(gcrecon_engine::EngineError::NotInState(address))?;
    ctx.printer
        .line(&serde_json::to_string_pretty(record).unwrap_or_default());
    Ok(Exit::Success)
}

/// `gcrecon force-unlock LOCK_ID`.
pub fn force_unlock(ctx: &Ctx, id: &str) -> Result<Exit> {
    let holder = backend_only(&ctx.global)?
        .force_unlock(id)
        .map_err(gcrecon_engine::EngineError::from)?;
    ctx.printer.line(&format!(
        "Removed the lock {} of {} (pid {}, `{}` since {}).",
        holder.id, holder.who, holder.pid, holder.operation, holder.created
    ));
    Ok(Exit::Success)
}
