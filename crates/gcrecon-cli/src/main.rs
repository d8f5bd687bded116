//! The `gcrecon` binary: parses the command line, sets up logging, runs the
//! command and turns its outcome into an exit code (docs/cli.md): 0 success,
//! 1 error, 2 changes present (`plan --detailed-exitcode`), 3 state locked.

mod args;
mod commands;
mod failure;
mod fleet;
mod printer;
mod progress;
mod project;
mod signals;

use clap::Parser;

use crate::args::Cli;
use crate::failure::Exit;
use crate::printer::Printer;

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                Exit::Error as i32
            } else {
                0
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let printer = Printer::new(cli.global.no_color, cli.global.quiet);
    init_logging(&cli.global, &printer);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            printer.error(&format!("cannot start the async runtime: {e}"), &[], None);
            std::process::exit(Exit::Error as i32);
        }
    };
    let code = runtime.block_on(async {
        let interrupts = signals::Interrupts::install(printer.clone());
        let ctx = commands::Ctx {
            global: cli.global,
            printer: printer.clone(),
            interrupts,
        };
        match commands::run(cli.command, &ctx).await {
            Ok(exit) => exit,
            Err(e) => failure::report(&printer, &e),
        }
    });
    // Let no background task outlive the command (the signal watcher).
    runtime.shutdown_background();
    std::process::exit(code as i32);
}

/// Logs to stderr: `RUST_LOG` if set, else by -q/-v.
fn init_logging(global: &args::Global, printer: &Printer) {
    let default = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(printer.color_err)
        .with_target(global.verbose > 1)
        .try_init();
}
