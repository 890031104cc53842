//! The command line every app gets from [`crate::App::run`].
//!
//! ```text
//! app [--stage NAME] [--json] [--state-dir DIR] [--config FILE] <COMMAND>
//!   plan     [--target ID]... [--destroy] [--detailed-exitcode] [--graph FILE] [--refresh]
//!   deploy   [--yes] [--concurrency N] [--target ID]... [--refresh] [--adopt]
//!   destroy  [--yes] [--concurrency N] [--target ID]... [--refresh]
//!   outputs
//!   dev      [--port N]
//!   state list | state show ID | state unlock | state export | state import FILE [--force]
//! ```
//!
//! # Exit codes
//! | code | meaning |
//! |---|---|
//! | 0 | success (for `plan`: also when there are changes, unless `--detailed-exitcode`) |
//! | 1 | an error before anything changed: bad input, bad state, a missing secret key, ... |
//! | 2 | bad usage of the command line |
//! | 3 | `plan --detailed-exitcode`: the plan has changes |
//! | 4 | `deploy`/`destroy` ran and some steps failed; state is recorded, a rerun resumes |
//! | 5 | the state is locked by another deploy |
//! | 130 | `deploy`/`destroy` stopped by Ctrl-C after the steps in flight; rerun to go on |

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::{json, Value};

use crate::app::App;
use crate::apply::{Engine, Keyring, Outcome, Progress, Report, StepReport};
use crate::error::{Error, Result};
use crate::plan::{plan, render_human, Action, Change, Plan, PlanOptions};
use crate::platform::Platform;
use crate::provider::Providers;
use crate::secret::{has_sealed, has_secrets, redact, Cipher};
use crate::stack::Stack;
use crate::state::{Lease, LeaseOwner, Snapshot, StateBackend};

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: an error before anything changed.
pub const EXIT_ERROR: u8 = 1;
/// Exit code: bad usage.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: `plan --detailed-exitcode` found changes.
pub const EXIT_CHANGES: u8 = 3;
/// Exit code: some steps of a deploy or destroy failed.
pub const EXIT_STEPS_FAILED: u8 = 4;
/// Exit code: the state is locked by another deploy.
pub const EXIT_LOCKED: u8 = 5;
/// Exit code: a deploy or destroy stopped by Ctrl-C (after finishing the steps in flight).
pub const EXIT_INTERRUPTED: u8 = 130;

/// The first Ctrl-C lets the steps in flight finish; a second one stops at once.
///
/// The handler is installed before this returns, so a Ctrl-C right after is not missed.
fn watch_interrupts(flag: Arc<AtomicBool>) -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupts =
        signal(SignalKind::interrupt()).map_err(|e| Error::io("cannot listen for Ctrl-C", e))?;
    Ok(async move {
        if interrupts.recv().await.is_none() {
            return;
        }
        flag.store(true, Ordering::SeqCst);
        eprintln!("\nInterrupted: finishing the steps in progress, then stopping. Ctrl-C again stops at once (the next deploy resumes).");
        if interrupts.recv().await.is_some() {
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
    })
}

const LEASE_TTL: Duration = Duration::from_secs(30);

#[derive(Debug, Parser)]
#[command(about = "Plan, deploy and destroy this app", long_about = None)]
struct Cli {
    /// The stage: its own state and resources.
    #[arg(long, global = true, default_value = "dev", env = "ALCHEMY_STAGE")]
    stage: String,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Where state is kept (default `.alchemy` in the working directory).
    #[arg(long, global = true, env = "ALCHEMY_STATE_DIR")]
    state_dir: Option<std::path::PathBuf>,
    /// The stage configuration (default: `ALCHEMY_CONFIG`, else `alchemy.toml` in the working
    /// directory; without one every stage is local).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show what a deploy would change.
    Plan {
        #[command(flatten)]
        targets: Targets,
        /// Plan a destroy instead.
        #[arg(long)]
        destroy: bool,
        /// Exit with 3 when the plan has changes.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Also write the dependency graph to this file: `.dot` for Graphviz, `.svg` for a
        /// drawing, `.html` for a self-contained page.
        #[arg(long, value_name = "FILE")]
        graph: Option<std::path::PathBuf>,
        /// Read every deployed resource from its provider first, and show what changed
        /// outside Alchemy.
        #[arg(long)]
        refresh: bool,
    },
    /// Apply the plan: create, update, replace and delete resources.
    Deploy(ApplyArgs),
    /// Delete every resource of the stage (resources that retain are only forgotten).
    Destroy(ApplyArgs),
    /// Print the outputs of the deployed resources.
    Outputs,
    /// Deploy the app on the local provider and serve its services until Ctrl-C.
    Dev {
        /// The port of the first service (0: any free port); further services take the next ports.
        #[arg(long, default_value_t = 8787)]
        port: u16,
        /// At most this many provider calls at once.
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
        concurrency: u32,
        /// Evict an actor instance after this many idle milliseconds (its WebSockets stay open).
        #[arg(long, value_name = "MS")]
        actor_idle_ms: Option<u64>,
    },
    /// Look at or repair the state.
    State {
        #[command(subcommand)]
        command: StateCommand,
    },
}

#[derive(Debug, Args)]
struct Targets {
    /// Only this resource and what it depends on (repeatable).
    #[arg(long = "target", value_name = "ID")]
    ids: Vec<String>,
}

#[derive(Debug, Args)]
struct ApplyArgs {
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    yes: bool,
    /// At most this many provider calls at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    concurrency: u32,
    #[command(flatten)]
    targets: Targets,
    /// Read every deployed resource from its provider first: what changed outside Alchemy is
    /// set back, and what was deleted outside it is made again.
    #[arg(long)]
    refresh: bool,
    /// Take over resources that exist with the names new ones would get, instead of failing.
    #[arg(long)]
    adopt: bool,
}

#[derive(Debug, Subcommand)]
enum StateCommand {
    /// List the resources in state.
    List,
    /// Show one resource's record (secrets redacted).
    Show {
        /// The resource.
        id: String,
    },
    /// Remove the lease of a deploy that is gone.
    Unlock,
    /// Print the whole state as JSON (secrets stay sealed), to move it to another backend.
    Export,
    /// Replace the state of the stage with an exported one, under the stage's lease (to move
    /// a stage to another backend: export with the old configuration, import with the new).
    Import {
        /// The file `state export` wrote.
        file: std::path::PathBuf,
        /// Replace a state that already has resources.
        #[arg(long)]
        force: bool,
    },
}

/// Runs the command line for `app`; returns the exit code.
pub fn main(app: App) -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let json = cli.json;
    match runtime.block_on(execute(app, cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if json {
                println!("{}", json!({ "error": e.to_string() }));
            } else {
                eprintln!("error: {e}");
            }
            ExitCode::from(match e {
                Error::Locked { .. } => EXIT_LOCKED,
                _ => EXIT_ERROR,
            })
        }
    }
}

/// Everything a command needs about its stage.
struct Stage {
    stack: Stack,
    providers: Providers,
    backend: Box<dyn StateBackend>,
}

async fn open(app: &App, stage: &str, platform: Arc<dyn Platform>) -> Result<Stage> {
    let stack = app.stack(stage, platform.as_ref()).await?;
    let providers = platform.providers();
    let backend = app.state_backend(&app.config()?, stage).await?;
    Ok(Stage {
        stack,
        providers,
        backend,
    })
}

async fn execute(mut app: App, cli: Cli) -> Result<u8> {
    if let Some(dir) = &cli.state_dir {
        app = app.state_dir(dir.clone());
    }
    if let Some(path) = &cli.config {
        app = app.config_path(path.clone());
    }
    let platform = app.platform_for(&cli.stage)?;
    if matches!(cli.command, Command::Dev { .. }) && platform.name() != "local" {
        // Before the stack is built: nothing of another provider is planned or packaged.
        return Err(Error::Config(format!(
            "dev runs an app on the local provider, and stage `{}` is on `{}`: pick a local stage with --stage",
            cli.stage,
            platform.name()
        )));
    }
    if matches!(cli.command, Command::Dev { .. }) {
        let config = app.config()?;
        if let Some(entry) = config.stage(&cli.stage) {
            for service in app.service_ids() {
                let placed = entry
                    .place
                    .get(service)
                    .or_else(|| entry.place.get(crate::placement::SERVICE_KIND));
                if let Some(provider) = placed.filter(|p| *p != crate::config::LOCAL) {
                    return Err(Error::Config(format!(
                        "dev serves the app's services on the local provider, and stage `{}` places `{service}` on `{provider}`: remove that placement to serve it locally, or deploy the stage with `deploy --stage {}`",
                        cli.stage, cli.stage
                    )));
                }
            }
        }
    }
    let stage = open(&app, &cli.stage, platform).await?;
    match cli.command {
        Command::Plan {
            targets,
            destroy,
            detailed_exitcode,
            graph,
            refresh,
        } => {
            let (mut state, keyring) = load(&stage, &app, &cli.stage).await?;
            check_secrets(&stage.stack, keyring.as_ref())?;
            let options = PlanOptions {
                targets: targets.ids,
                destroy,
                adopt: false,
            };
            let drift = if refresh {
                crate::plan::refresh(&stage.stack, &mut state, &stage.providers, &options).await?
            } else {
                Vec::new()
            };
            let mut plan = plan(&stage.stack, &state, &stage.providers, &options).await?;
            plan.drift = drift;
            print_plan(&plan, cli.json);
            if let Some(path) = graph {
                write_graph(&plan, &path)?;
            }
            Ok(if detailed_exitcode && plan.has_changes() {
                EXIT_CHANGES
            } else {
                EXIT_OK
            })
        }
        Command::Deploy(args) => apply(&app, &stage, &cli.stage, args, false, cli.json).await,
        Command::Destroy(args) => apply(&app, &stage, &cli.stage, args, true, cli.json).await,
        Command::Dev {
            port,
            concurrency,
            actor_idle_ms,
        } => {
            let mut actors = crate::local::actor::LocalActorsOptions::default();
            if let Some(ms) = actor_idle_ms {
                actors = actors.idle_timeout(Duration::from_millis(ms));
            }
            dev(
                &app,
                &stage,
                &cli.stage,
                port,
                concurrency,
                actors,
                cli.json,
            )
            .await
        }
        Command::Outputs => {
            let (state, _) = load(&stage, &app, &cli.stage).await?;
            print_outputs(&state, cli.json);
            Ok(EXIT_OK)
        }
        Command::State { command } => match command {
            StateCommand::List => {
                let (state, _) = load(&stage, &app, &cli.stage).await?;
                if cli.json {
                    let list: Vec<Value> = state
                        .resources
                        .iter()
                        .map(|(id, r)| json!({ "id": id, "kind": r.kind, "provider": r.provider, "status": r.status }))
                        .collect();
                    println!("{}", Value::Array(list));
                } else if state.resources.is_empty() {
                    println!("No resources in the state of stage {}.", cli.stage);
                } else {
                    for (id, r) in &state.resources {
                        let status = serde_json::to_value(r.status).unwrap_or(Value::Null);
                        println!(
                            "{id}\t{}\t{}\t{}",
                            r.kind,
                            r.provider,
                            status.as_str().unwrap_or("")
                        );
                    }
                }
                Ok(EXIT_OK)
            }
            StateCommand::Show { id } => {
                let (state, _) = load(&stage, &app, &cli.stage).await?;
                let rec = state.resources.get(&id).ok_or_else(|| {
                    Error::Config(format!("`{id}` is not in the state of stage {}", cli.stage))
                })?;
                let v = redact(&serde_json::to_value(rec)?);
                println!("{}", serde_json::to_string_pretty(&v)?);
                Ok(EXIT_OK)
            }
            StateCommand::Export => {
                let state = stage
                    .backend
                    .load()
                    .await?
                    .unwrap_or_else(|| Snapshot::new(app.name(), &cli.stage));
                println!("{}", serde_json::to_string_pretty(&state)?);
                Ok(EXIT_OK)
            }
            StateCommand::Import { file, force } => {
                let text = std::fs::read_to_string(&file).map_err(|e| {
                    Error::io(
                        format!("cannot read the state to import from {}", file.display()),
                        e,
                    )
                })?;
                let imported: Snapshot = serde_json::from_str(&text).map_err(|e| {
                    Error::Config(format!(
                        "{} is not a state written by `state export`: {e}",
                        file.display()
                    ))
                })?;
                if imported.version > crate::state::FORMAT_VERSION {
                    return Err(Error::StateTooNew {
                        path: file.clone(),
                        found: imported.version,
                        supported: crate::state::FORMAT_VERSION,
                    });
                }
                if imported.app != app.name() || imported.stage != cli.stage {
                    return Err(Error::Config(format!(
                        "{} is the state of app `{}` stage `{}`, not of app `{}` stage `{}`: import it into its own stage",
                        file.display(),
                        imported.app,
                        imported.stage,
                        app.name(),
                        cli.stage
                    )));
                }
                let lease = stage
                    .backend
                    .lock(&LeaseOwner::current(), LEASE_TTL)
                    .await?;
                let result = async {
                    let current = stage.backend.load().await?;
                    if !force && current.as_ref().is_some_and(|s| !s.resources.is_empty()) {
                        return Err(Error::Config(format!(
                            "stage `{}` already has state in {}: pass --force to replace it",
                            cli.stage,
                            stage.backend.describe()
                        )));
                    }
                    stage.backend.commit(&lease, &imported).await
                }
                .await;
                stage.backend.unlock(&lease).await?;
                result?;
                if !cli.json {
                    println!(
                        "Imported {} resources into the state of stage {} ({}).",
                        imported.resources.len(),
                        cli.stage,
                        stage.backend.describe()
                    );
                }
                Ok(EXIT_OK)
            }
            StateCommand::Unlock => {
                stage.backend.force_unlock().await?;
                if !cli.json {
                    println!("The state of stage {} is unlocked.", cli.stage);
                }
                Ok(EXIT_OK)
            }
        },
    }
}

/// The state of the stage with its secrets opened, and the key when secrets are in play.
async fn load(stage: &Stage, app: &App, name: &str) -> Result<(Snapshot, Option<Keyring>)> {
    let mut state = stage
        .backend
        .load()
        .await?
        .unwrap_or_else(|| Snapshot::new(app.name(), name));
    let needs_key = state.secrets.is_some()
        || state
            .resources
            .values()
            .any(|r| has_sealed(&serde_json::to_value(r).unwrap_or(Value::Null)))
        || carries_secrets(&stage.stack);
    if !needs_key {
        return Ok((state, None));
    }
    let (cipher, header) = Cipher::from_env(state.secrets.as_ref())?;
    for rec in state.resources.values_mut() {
        rec.props = cipher.open(&rec.props)?;
        if let Some(o) = &rec.output {
            rec.output = Some(cipher.open(o)?);
        }
        if let Some(p) = &rec.pending_props {
            rec.pending_props = Some(cipher.open(p)?);
        }
        for r in &mut rec.retired {
            r.props = cipher.open(&r.props)?;
            if let Some(o) = &r.output {
                r.output = Some(cipher.open(o)?);
            }
        }
    }
    Ok((state, Some(Keyring { cipher, header })))
}

/// Whether `stack` puts secrets in state: secrets in its props, or bindings passing secret
/// outputs (credentials made in the deploy) to a service.
fn carries_secrets(stack: &Stack) -> bool {
    stack.resources().iter().any(|d| has_secrets(&d.props))
        || stack
            .bindings()
            .iter()
            .any(|b| !b.contribution.secrets.is_empty())
}

fn check_secrets(stack: &Stack, keyring: Option<&Keyring>) -> Result<()> {
    if keyring.is_none() && carries_secrets(stack) {
        return Err(Error::MissingSecretKey);
    }
    Ok(())
}

async fn apply(
    app: &App,
    stage: &Stage,
    name: &str,
    args: ApplyArgs,
    destroy: bool,
    json: bool,
) -> Result<u8> {
    let owner = LeaseOwner::current();
    let lease = stage.backend.lock(&owner, LEASE_TTL).await?;
    let result = apply_locked(app, stage, name, args, destroy, json, lease.clone()).await;
    let unlocked = stage.backend.unlock(&lease).await;
    let code = result?;
    unlocked?;
    Ok(code)
}

async fn apply_locked(
    app: &App,
    stage: &Stage,
    name: &str,
    args: ApplyArgs,
    destroy: bool,
    json: bool,
    lease: Lease,
) -> Result<u8> {
    let (mut state, keyring) = load(stage, app, name).await?;
    check_secrets(&stage.stack, keyring.as_ref())?;
    let options = PlanOptions {
        targets: args.targets.ids,
        destroy,
        adopt: args.adopt && !destroy,
    };
    let drift = if args.refresh {
        crate::plan::refresh(&stage.stack, &mut state, &stage.providers, &options).await?
    } else {
        Vec::new()
    };
    let mut plan = plan(&stage.stack, &state, &stage.providers, &options).await?;
    plan.drift = drift;
    if !json {
        print!("{}", render_human(&plan));
    }
    if !plan.has_changes() {
        if json {
            println!(
                "{}",
                json!({ "plan": plan.to_json(), "steps": [], "apply_millis": 0, "outputs": outputs_json(&state) })
            );
        } else {
            println!();
            print_outputs(&state, false);
        }
        return Ok(EXIT_OK);
    }
    if !args.yes && !confirm(if destroy { "destroy" } else { "deploy" }, name)? {
        println!("Nothing was changed.");
        return Ok(EXIT_OK);
    }
    let progress = Printer { to_stderr: json };
    let interrupted = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn(watch_interrupts(interrupted.clone())?);
    let engine = Engine::new(&stage.providers, stage.backend.as_ref(), lease, LEASE_TTL)
        .keyring(keyring.as_ref())
        .concurrency(args.concurrency as usize)
        .progress(&progress)
        .interrupt(interrupted.clone());
    let report = engine.apply(&stage.stack, &plan, &mut state).await;
    watcher.abort();
    let report = report?;
    if interrupted.load(Ordering::SeqCst) {
        print_report(&report);
        eprintln!("Interrupted: what was done is recorded; run the same command again to go on.");
        return Ok(EXIT_INTERRUPTED);
    }
    if json {
        println!(
            "{}",
            json!({ "plan": plan.to_json(), "steps": report.steps, "apply_millis": report.millis, "outputs": outputs_json(&state) })
        );
    } else {
        print_report(&report);
        if !destroy {
            print_outputs(&state, false);
        }
    }
    Ok(if report.succeeded() {
        EXIT_OK
    } else {
        EXIT_STEPS_FAILED
    })
}

/// `dev`: deploy on the local provider, then serve every service until Ctrl-C or SIGTERM.
async fn dev(
    app: &App,
    stage: &Stage,
    name: &str,
    port: u16,
    concurrency: u32,
    actors: crate::local::actor::LocalActorsOptions,
    json: bool,
) -> Result<u8> {
    let args = ApplyArgs {
        yes: true,
        concurrency,
        targets: Targets { ids: Vec::new() },
        refresh: false,
        adopt: false,
    };
    let code = apply(app, stage, name, args, false, json).await?;
    if code != EXIT_OK {
        return Ok(code);
    }
    let (state, _) = load(stage, app, name).await?;
    let runtime =
        crate::local::LocalRuntime::open(&app.local_root(name), &state, app, actors).await?;
    let handlers = app.handlers(&runtime).await?;
    let mut servers = Vec::new();
    for (i, (id, handler)) in handlers.into_iter().enumerate() {
        let port = if port == 0 {
            0
        } else {
            port.saturating_add(i as u16)
        };
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let server = alchemy_http::serve(addr, handler).await.map_err(|e| {
            Error::Config(format!(
                "cannot serve `{id}` on {addr}: {e}; choose another port with --port"
            ))
        })?;
        if json {
            println!("{}", json!({ "service": id, "url": server.url() }));
        } else {
            println!("{id}: {}", server.url());
        }
        servers.push(server);
    }
    if !json {
        println!("Serving stage {name} on the local provider. Press Ctrl-C to stop.");
    }
    let _ = std::io::stdout().flush();
    stopped().await;
    for server in servers {
        server.shutdown().await;
    }
    runtime.shutdown().await;
    Ok(EXIT_OK)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn stopped() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}

fn confirm(what: &str, stage: &str) -> Result<bool> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Error::Config(format!(
            "{what} needs a confirmation and there is no terminal to ask: pass --yes to {what} stage {stage}"
        )));
    }
    print!("\nDo you want to {what} stage {stage}? Only 'yes' is accepted: ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::io("cannot read the answer", e))?;
    Ok(line.trim() == "yes")
}

fn print_plan(plan: &Plan, json: bool) {
    if json {
        println!("{}", plan.to_json());
    } else {
        print!("{}", render_human(plan));
    }
}

/// Writes the plan's graph to `path`, in the format its extension names.
fn write_graph(plan: &Plan, path: &std::path::Path) -> Result<()> {
    let text = match path.extension().and_then(|e| e.to_str()) {
        Some("dot" | "gv") => crate::plan::to_dot(plan),
        Some("svg") => crate::plan::to_svg(plan),
        Some("html" | "htm") => crate::plan::to_html(plan),
        _ => {
            return Err(Error::Config(format!(
            "cannot tell the graph format of {}: name the file with .dot (Graphviz), .svg or .html",
            path.display()
        )))
        }
    };
    std::fs::write(path, text)
        .map_err(|e| Error::io(format!("cannot write the graph to {}", path.display()), e))
}

fn outputs_json(state: &Snapshot) -> Value {
    let map: serde_json::Map<String, Value> = state
        .resources
        .iter()
        .filter_map(|(id, r)| Some((id.clone(), redact(r.output.as_ref()?))))
        .collect();
    Value::Object(map)
}

fn print_outputs(state: &Snapshot, json: bool) {
    let outputs = outputs_json(state);
    if json {
        println!("{outputs}");
        return;
    }
    let Value::Object(map) = outputs else { return };
    if map.is_empty() {
        println!("No outputs: stage {} has no resources.", state.stage);
        return;
    }
    println!("Outputs:");
    for (id, out) in map {
        match out {
            Value::Object(fields) => {
                for (k, v) in fields {
                    let v = v
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string());
                    println!("  {id}.{k} = {v}");
                }
            }
            other => println!("  {id} = {other}"),
        }
    }
}

fn print_report(report: &Report) {
    let failures: Vec<&StepReport> = report.failures().collect();
    let done = report.steps.len() - failures.len();
    println!();
    if failures.is_empty() {
        println!("Applied: {done} steps succeeded.");
    } else {
        println!(
            "Applied with failures: {done} steps succeeded, {} did not:",
            failures.len()
        );
        for f in failures {
            match &f.outcome {
                Outcome::Failed { error } => println!("  ! {}: {error}", f.id),
                Outcome::Skipped { because } => {
                    println!("  ! {}: skipped because `{because}` failed", f.id)
                }
                Outcome::Done { .. } => {}
            }
        }
        println!("The state records what happened; run the same command again to resume.");
    }
}

struct Printer {
    to_stderr: bool,
}

impl Printer {
    fn line(&self, s: String) {
        if self.to_stderr {
            eprintln!("{s}");
        } else {
            println!("{s}");
        }
    }
}

impl Progress for Printer {
    fn started(&self, change: &Change) {
        let verb = match change.action {
            Action::Create => "creating",
            Action::Update => "updating",
            Action::Replace => "replacing",
            Action::Delete => "deleting",
            Action::Forget => "forgetting",
            Action::Noop => return,
        };
        self.line(format!(
            "  {} {}: {verb}...",
            change.action.sign(),
            change.id
        ));
    }

    fn finished(&self, change: &Change, report: &StepReport) {
        let s = match &report.outcome {
            Outcome::Done { action } => {
                let verb = match action {
                    Action::Create => "created",
                    Action::Update => "updated",
                    Action::Replace => "replaced",
                    Action::Delete => "deleted",
                    Action::Forget => "forgotten (left in place)",
                    Action::Noop => "already up to date",
                };
                format!(
                    "  {} {}: {verb} ({} ms)",
                    change.action.sign(),
                    change.id,
                    report.millis
                )
            }
            Outcome::Failed { error } => format!("  ! {}: failed: {error}", change.id),
            Outcome::Skipped { because } => {
                format!("  ! {}: skipped because `{because}` failed", change.id)
            }
        };
        self.line(s);
    }
}
