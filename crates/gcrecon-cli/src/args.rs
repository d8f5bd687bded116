//! The command line, as clap derives it: every command and flag of
//! `docs/cli.md`, each with long help.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// gcrecon: a declarative reconciler for Genesys Cloud.
///
/// Describe divisions, roles, groups, role grants, OAuth clients and
/// integrations in a TOML manifest; gcrecon reads the live organization,
/// shows a plan, and applies it in dependency order, recording every
/// completed API call in a state file.
///
/// Exit codes: 0 success (with --detailed-exitcode: no changes), 1 error,
/// 2 changes present (plan --detailed-exitcode), 3 state locked.
#[derive(Debug, Parser)]
#[command(
    name = "gcrecon",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub global: Global,
}

/// Flags every command accepts.
#[derive(Clone, Debug, Args)]
pub struct Global {
    /// The manifest: a TOML file, or a directory whose *.toml files are merged.
    ///
    /// The state and secrets files live in `state/` beside it.
    #[arg(
        short = 'm',
        long,
        global = true,
        value_name = "PATH",
        default_value = "gcrecon.toml"
    )]
    pub manifest: PathBuf,

    /// The state file.
    ///
    /// Default: `state/<manifest name>.gcstate.json` beside the manifest
    /// (`state/<name>.<workspace>.gcstate.json` for a workspace other than
    /// `default`).
    #[arg(long, global = true, value_name = "PATH")]
    pub state: Option<PathBuf>,

    /// Set a manifest variable, e.g. `--var aws_account_id=123456789012`.
    ///
    /// Repeatable. Takes precedence over `GCRECON_VAR_<NAME>` in the
    /// environment and over the variable's default. The value is converted
    /// to the declared type (bool, number, list and map values are JSON).
    #[arg(long = "var", global = true, value_name = "NAME=VALUE")]
    pub vars: Vec<String>,

    /// One state per workspace, e.g. one per organization applied from the same manifest.
    #[arg(
        long,
        global = true,
        env = "GCRECON_WORKSPACE",
        default_value = "default",
        value_name = "NAME"
    )]
    pub workspace: String,

    /// Where state and lock live: unset (or `local`) for the state file
    /// beside the manifest, or `postgres://USER:PASSWORD@HOST:PORT/DB`.
    ///
    /// PostgreSQL keeps every workspace's state (row key
    /// `<manifest name>/<workspace>`, with its serial history) and the lock,
    /// so many CI runners share one store. TLS as libpq: `sslmode` (disable,
    /// prefer, require, verify-ca, verify-full) and `sslrootcert=FILE` in
    /// the query. The password is never printed. Secrets go to the local
    /// secrets file, or, encrypted to `--secrets-recipient`, to the table
    /// gcrecon_secrets beside the state.
    #[arg(long, global = true, env = "GCRECON_BACKEND", value_name = "URL")]
    pub backend: Option<String>,

    /// Genesys Cloud region: an AWS region name (`ap-southeast-2`) or a
    /// domain (`mypurecloud.com.au`). Default: `GENESYSCLOUD_REGION`.
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,

    /// API base URL, overriding the region (e.g. `http://127.0.0.1:8765` for
    /// the gcsim simulator). Default: `GENESYSCLOUD_API_REGION`.
    #[arg(long, global = true, value_name = "URL")]
    pub api_url: Option<String>,

    /// Never color the output (colors are used only on a terminal anyway; `NO_COLOR` works too).
    #[arg(long, global = true)]
    pub no_color: bool,

    /// Print only results and errors: no progress, no notes.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// More logs on stderr (-v info, -vv debug, -vvv trace); `RUST_LOG` overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and check the manifest offline: syntax, kinds, keys, references, cycles.
    ///
    /// No network. Every problem is reported with file:line:col.
    Validate,

    /// Refresh the live organization, compare it with the manifest and print the plan.
    Plan(PlanArgs),

    /// Apply a saved plan, or plan and apply.
    ///
    /// Without FILE, plans first and asks for `yes` on a terminal (unless
    /// --auto-approve); without a terminal, --auto-approve is required.
    /// With FILE (from `gcrecon plan --out FILE`), applies exactly that
    /// plan, and refuses if the manifest, the state or any object it
    /// changes has changed since.
    Apply(ApplyArgs),

    /// Delete everything in the state, in reverse dependency order.
    Destroy(DestroyArgs),

    /// Compare the live organization with the state and the manifest.
    ///
    /// Reports managed objects changed outside gcrecon (key by key), managed
    /// objects gone, and unmanaged objects of the managed kinds (minus those
    /// `.gcreconignore` silences), with coverage per kind. Reads only: no
    /// lock, no state write. Exit codes: 0 nothing found, 2 drift found, 1 error.
    Drift(crate::commands::drift::DriftArgs),

    /// Take an existing object under management at ADDR.
    Import(ImportArgs),

    /// Write a manifest, and the state beside it, for the objects already in the organization.
    ///
    /// References replace ids (`${role.x.id}`), built-in roles and divisions
    /// become data sources, names derive from display names. A plan of the
    /// result right after is empty.
    Export(crate::commands::export::ExportArgs),

    /// Print the outputs of the last apply.
    Output(OutputArgs),

    /// Print the dependency graph of the manifest.
    Graph(GraphArgs),

    /// Inspect and edit the state.
    #[command(subcommand)]
    State(StateCommand),

    /// List the workspaces of the manifest in the state backend.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),

    /// Remove a stale state lock by its id.
    #[command(name = "force-unlock")]
    ForceUnlock(ForceUnlockArgs),

    /// Regenerate an OAuth client's secret and write it to the secrets file.
    Rotate(RotateArgs),

    /// Read the delivered OAuth client secrets.
    #[command(subcommand)]
    Secrets(SecretsCommand),

    /// Print a shell completion script.
    ///
    /// bash: `gcrecon completions bash > /etc/bash_completion.d/gcrecon`
    /// (or `source <(gcrecon completions bash)` in ~/.bashrc); zsh:
    /// `gcrecon completions zsh > "${fpath[1]}/_gcrecon"`; fish:
    /// `gcrecon completions fish > ~/.config/fish/completions/gcrecon.fish`.
    Completions(CompletionsArgs),

    /// Write the man pages (gcrecon.1 and one per command) into DIR.
    #[command(hide = true)]
    Man(ManArgs),

    /// Plan or drift every workspace of a fleet file, one summary.
    ///
    /// A fleet file names one manifest and one workspace per organization,
    /// each with its own credentials, region and variables. The workspaces
    /// run concurrently (--parallelism), each with its own login, state
    /// and rate budget; one workspace's failure does not stop the others.
    /// Exit codes: 1 a workspace failed, else 2 changes or drift in some
    /// workspace, else 0.
    #[command(subcommand)]
    Fleet(crate::commands::fleet::FleetCommand),

    /// Work with the Rego policies that `--policy DIR` checks plans against.
    #[command(subcommand)]
    Policy(PolicyCommand),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: CompletionShell,
}

/// The shells `gcrecon completions` writes for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The directory to write the pages into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Where secrets are delivered and to whom they are encrypted (`apply`, `rotate`).
#[derive(Debug, Args, Clone)]
pub struct SecretsArgs {
    /// Where created or rotated OAuth client secrets are written (mode 0600).
    ///
    /// Default: `state/<manifest name>.secrets.json` beside the manifest;
    /// with a postgres:// backend and --secrets-recipient, the table
    /// gcrecon_secrets beside the workspace's state. Secrets appear nowhere
    /// else: not in the state, a plan, a log or the terminal.
    #[arg(long, value_name = "PATH")]
    pub secrets_out: Option<PathBuf>,

    /// Encrypt each secret to this age public key (`age1...`) before it is
    /// stored; repeatable. Nothing is then stored in clear, and `gcrecon
    /// secrets show --identity FILE` decrypts.
    #[arg(
        long = "secrets-recipient",
        env = "GCRECON_SECRETS_RECIPIENTS",
        value_delimiter = ',',
        value_name = "AGE_PUBLIC_KEY"
    )]
    pub secrets_recipients: Vec<String>,
}

/// `gcrecon secrets ...`.
#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Print the delivered secrets as JSON (decrypting those encrypted to age recipients).
    ///
    /// Without ADDR: `{ "oauth_client.sso": { "client_id": ..., "client_secret": ... } }`;
    /// with ADDR: that client's `{ "client_id": ..., "client_secret": ... }`.
    Show(SecretsShowArgs),
}

#[derive(Debug, Args)]
pub struct SecretsShowArgs {
    /// Only this OAuth client, e.g. `oauth_client.sso`.
    #[arg(value_name = "ADDR")]
    pub address: Option<String>,

    /// An age identity file (`age-keygen -o FILE`) to decrypt with.
    #[arg(long, env = "GCRECON_SECRETS_IDENTITY", value_name = "FILE")]
    pub identity: Option<PathBuf>,

    /// Read this secrets file instead of the default (as for `apply`).
    #[arg(long, value_name = "PATH")]
    pub secrets_out: Option<PathBuf>,
}

/// `gcrecon policy ...`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Run the policies' own tests: every `test_*` rule of the *.rego files
    /// in DIR, as `opa test` does.
    ///
    /// A test passes when its rule is true. Exit codes: 0 all passed, 1 a
    /// test failed or did not evaluate, or a file does not parse.
    Test(PolicyTestArgs),
}

#[derive(Debug, Args)]
pub struct PolicyTestArgs {
    /// The directory holding the *.rego files (not searched recursively).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// Plan output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Terraform-like text for a terminal.
    Human,
    /// A pull-request comment (at most 65,000 characters); fits `$GITHUB_STEP_SUMMARY`.
    Markdown,
    /// One JSON document (`format_version`, `resource_changes`, `output_changes`, ...).
    Json,
}

/// Options shared by the commands that plan.
#[derive(Debug, Args, Clone)]
pub struct PlanningArgs {
    /// Plan only this address (a block address covers all its instances) and
    /// what it depends on. Repeatable.
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,

    /// Allow a `role_grant` change that takes a role away from the caller itself.
    #[arg(long)]
    pub allow_caller_demotion: bool,

    /// Check the plan against the Rego policies (*.rego) in DIR, as conftest does.
    ///
    /// The plan JSON (as `--format json` prints it) is the `input`; the
    /// `deny` and `warn` rules of `package main` and `package gcrecon` are
    /// sets of messages. Any `deny` message fails the command (exit 1) after
    /// the plan is printed, and `apply` changes nothing; `warn` messages are
    /// printed. See docs/policies.md.
    #[arg(long, env = "GCRECON_POLICY", value_name = "DIR")]
    pub policy: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Save the plan to FILE for `gcrecon apply FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// How to print the plan.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,

    /// Exit 0 when there are no changes, 2 when there are (1 stays an error).
    #[arg(long)]
    pub detailed_exitcode: bool,

    /// Only bring the state up to date with the organization: record what
    /// changed outside gcrecon and drop objects that are gone.
    #[arg(long)]
    pub refresh_only: bool,

    #[command(flatten)]
    pub planning: PlanningArgs,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved by `gcrecon plan --out FILE`.
    #[arg(value_name = "FILE")]
    pub plan_file: Option<PathBuf>,

    /// Apply without asking for confirmation.
    #[arg(long)]
    pub auto_approve: bool,

    /// Changes in flight at once.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=256), value_name = "N")]
    pub parallelism: u16,

    #[command(flatten)]
    pub secrets: SecretsArgs,

    /// Only bring the state up to date with the organization (see `plan --refresh-only`).
    #[arg(long)]
    pub refresh_only: bool,

    #[command(flatten)]
    pub planning: PlanningArgs,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Destroy without asking for confirmation.
    #[arg(long)]
    pub auto_approve: bool,

    /// Allow deleting a `role_grant` that gives a role to the caller itself
    /// (without it, such a destroy is refused, so that nobody locks
    /// themselves out by accident).
    #[arg(long)]
    pub allow_caller_demotion: bool,

    /// Deletions in flight at once.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=256), value_name = "N")]
    pub parallelism: u16,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The address to record the object at, e.g. `role.adapter`.
    #[arg(value_name = "ADDR")]
    pub address: String,
    /// The object's Genesys Cloud id (for an identity provider, its name,
    /// e.g. `pureengage`; for a role_grant, the role id).
    #[arg(value_name = "ID")]
    pub id: String,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Print only this output's value.
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Print sensitive values too, where they are at hand (the secrets file).
    #[arg(long)]
    pub show_sensitive: bool,
    /// The secrets file to read sensitive values from (default as for `apply`).
    #[arg(long, value_name = "PATH")]
    pub secrets_out: Option<PathBuf>,
}

/// Graph formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Graphviz DOT.
    Dot,
    /// One line per dependency.
    Text,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// How to print the graph.
    #[arg(long, value_enum, default_value = "text")]
    pub format: GraphFormat,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List the addresses in the state.
    List,
    /// Print what the state records for ADDR (JSON).
    Show {
        /// The address, e.g. `oauth_client.sso`.
        #[arg(value_name = "ADDR")]
        address: String,
    },
    /// Forget ADDR: remove it from the state without touching the object.
    Rm {
        /// The address, e.g. `oauth_client.sso`.
        #[arg(value_name = "ADDR")]
        address: String,
    },
    /// List the state's writes kept by the backend: serial, time, who, command.
    ///
    /// PostgreSQL keeps every serial; the local backend keeps the current
    /// state and its backup.
    History,
    /// Copy the local state files of every workspace of the manifest into PostgreSQL.
    ///
    /// Each workspace's latest local state is written to the database under
    /// `<manifest name>/<workspace>` with its serial. A workspace whose
    /// database state is as new or newer is refused (one already copied,
    /// same lineage and serial, is skipped). The local files are left in
    /// place.
    Migrate {
        /// The database: `postgres://USER:PASSWORD@HOST:PORT/DB[?sslmode=...]`.
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// List the manifest's workspaces (`*` marks `--workspace`), with their latest serial.
    List,
}

#[derive(Debug, Args)]
pub struct ForceUnlockArgs {
    /// The lock id, as printed by the command that found the state locked.
    #[arg(value_name = "LOCK_ID")]
    pub lock_id: String,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// The OAuth client's address, e.g. `oauth_client.sso`.
    #[arg(value_name = "ADDR")]
    pub address: String,
    #[command(flatten)]
    pub secrets: SecretsArgs,
}
