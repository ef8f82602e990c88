//! `oidc-admin`: the operator tool. Generates the worker's secrets and writes client and
//! user records to its KV namespaces through wrangler. Run `oidc-admin --help`.

#[path = "oidc_admin/cli.rs"]
mod cli;
#[path = "oidc_admin/clients.rs"]
mod clients;
#[path = "oidc_admin/demo.rs"]
mod demo;
#[path = "oidc_admin/deploy.rs"]
mod deploy;
#[path = "oidc_admin/doctor.rs"]
mod doctor;
#[path = "oidc_admin/error.rs"]
mod error;
#[path = "oidc_admin/keys.rs"]
mod keys;
#[path = "oidc_admin/kv.rs"]
mod kv;
#[path = "oidc_admin/output.rs"]
mod output;
#[path = "oidc_admin/password.rs"]
mod password;
#[path = "oidc_admin/remote.rs"]
mod remote;
#[path = "oidc_admin/resources.rs"]
mod resources;
#[path = "oidc_admin/scopes.rs"]
mod scopes;
#[path = "oidc_admin/users.rs"]
mod users;

use clap::Parser;
use cli::{Cli, Command};
use error::{failed, usage, Result};
use kv::Target;
use output::Outcome;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(cli: &Cli) -> Result<()> {
    if cli.target.print && !cli.command.only_writes() {
        return Err(usage("--print shows the records a command would write: use it with `add` or `demo`"));
    }
    let mut target = Target::from_args(&cli.target);
    let outcome = match &cli.command {
        Command::Keys(k) => {
            // Secrets for `wrangler secret put`: printed as they are, whatever the target.
            return emit(&keys::run(k)?);
        }
        Command::Clients(c) => clients::run(c, &mut target)?,
        Command::Users(u) => users::run(u, &mut target)?,
        Command::Scopes(s) => scopes::run(s, &mut target)?,
        Command::Resources(r) => resources::run(r, &mut target)?,
        Command::Demo(d) => demo::run(d, &mut target)?,
        Command::Doctor(d) => {
            let wrangler = cli.target.wrangler.clone().unwrap_or_else(kv::default_wrangler);
            doctor::run(d, &cli.target, &mut target, &wrangler)?
        }
        Command::Deploy(d) => {
            if cli.target.print || cli.target.remote || cli.target.persist_to.is_some() {
                return Err(usage("deploy always works on the account: leave out --print, --remote and --persist-to"));
            }
            let wrangler = cli.target.wrangler.clone().unwrap_or_else(kv::default_wrangler);
            deploy::run(d, &cli.target, &wrangler)?
        }
    };
    print_outcome(&target, outcome, cli.json)
}

fn print_outcome(target: &Target, outcome: Outcome, json: bool) -> Result<()> {
    let text = match target {
        Target::Print(printer) => pretty(&printer.document(outcome.json))?,
        Target::Wrangler(_) if json => pretty(&outcome.json)?,
        Target::Wrangler(_) => outcome.human,
    };
    emit(&text)
}

/// Prints `text` and a newline on stdout; a closed pipe (`| head`) is not an error.
fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(failed(format!("cannot write to stdout: {e}"))),
        _ => Ok(()),
    }
}

fn pretty(v: &serde_json::Value) -> Result<String> {
    serde_json::to_string_pretty(v).map_err(|e| failed(format!("cannot print JSON: {e}")))
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}
