//! `phantom-full`: every `phantom` command, the compiler included.
//!
//! Users type `phantom`; the small `phantom` binary runs sandboxes itself and hands
//! every other command (serve, workspaces, profiles, and runs whose profile must be
//! compiled first) to this one, beside it, with the same arguments. Run directly it
//! behaves exactly as `phantom`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Parser;
use phantom_runtime::{config, profiles, profiles::Cache};

#[path = "phantom/cli.rs"]
mod cli;
#[path = "phantom/runs.rs"]
mod runs;

use cli::{Cli, Command, ModeArg, ProfileCommand, RunArgs, ServeArgs};
use runs::run_warm;

#[cfg(target_os = "linux")]
#[path = "phantom/workspace_cmds.rs"]
mod workspace_cmds;

#[cfg(not(target_os = "linux"))]
mod workspace_cmds {
    const LINUX_ONLY: &str = "workspaces run on Linux only";
    pub fn create(_: crate::cli::CreateArgs) -> anyhow::Result<()> {
        anyhow::bail!(LINUX_ONLY)
    }
    pub fn list(_: bool) -> anyhow::Result<()> {
        anyhow::bail!(LINUX_ONLY)
    }
    pub fn monitor(_: crate::cli::MonitorArgs) -> anyhow::Result<()> {
        anyhow::bail!(LINUX_ONLY)
    }
    pub fn destroy(_: &[String]) -> anyhow::Result<i32> {
        anyhow::bail!(LINUX_ONLY)
    }
}

fn main() -> ExitCode {
    runs::mark_client_start();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Exec(mut args) => match args.in_workspace.take() {
            Some(name) => exec_in(&name, args),
            None => runs::exec(args),
        },
        Command::Run(args) => run(args),
        Command::Serve(args) => serve(args).map(|()| 0),
        Command::Profile(ProfileCommand::List { benchmark, runs }) => {
            profile_list(benchmark, runs).map(|()| 0)
        }
        Command::Profile(ProfileCommand::Show { name, mode, json }) => {
            profile_show(&name, mode, json).map(|()| 0)
        }
        Command::Create(args) => workspace_cmds::create(args).map(|()| 0),
        Command::List { json } => workspace_cmds::list(json).map(|()| 0),
        Command::Monitor(args) => workspace_cmds::monitor(args).map(|()| 0),
        Command::Destroy { names } => workspace_cmds::destroy(&names),
    };
    match result {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(255)),
        Err(e) => {
            eprintln!("phantom: {e:#}");
            ExitCode::from(125)
        }
    }
}

/// `phantom exec --in NAME -- CMD`: a run in a persistent workspace.
fn exec_in(name: &str, mut args: cli::ExecArgs) -> anyhow::Result<i32> {
    if args.verify_key.is_some() {
        anyhow::bail!("--verify-key is not available with --in: the workspace runs the bundle `phantom create` stored for it");
    }
    if args.seccomp_agent.is_some() {
        anyhow::bail!("--seccomp-agent is not available with --in: a persistent workspace's runs have no seccomp agent (a bundle with `notify` rules runs with `phantom exec BUNDLE --seccomp-agent SOCKET`)");
    }
    // With --in there is no bundle: the first word after `--` lands in its slot. (A
    // bundle named before `--` would land there too, and run as the command.)
    if let Some(first) = args
        .bundle
        .as_ref()
        .filter(|b| b.extension().is_some_and(|e| e == "pfb") && b.is_file())
    {
        anyhow::bail!(
            "`{}` is a bundle, but --in runs in the workspace's own: `phantom exec --in {name} -- CMD...`",
            first.display()
        );
    }
    if let Some(first) = args.bundle.take() {
        args.settings
            .command
            .insert(0, first.to_string_lossy().into_owned());
    }
    workspace_cmds::exec_in(name, args.settings)
}

/// Where `phantom run` looks for profiles and how it caches them.
struct Settings {
    profile_dirs: Vec<PathBuf>,
    configured: Vec<profiles::ProfileRef>,
    default_profile: Option<String>,
    default_mode: Option<phantom_bundle::Mode>,
    cache: Cache,
}

fn settings() -> anyhow::Result<Settings> {
    let config = config::load()?;
    let default_profile = std::env::var("PHANTOM_DEFAULT_PROFILE")
        .ok()
        .filter(|p| !p.is_empty())
        .or(config.default_profile);
    let cache = if std::env::var_os("PHANTOM_NO_CACHE").is_some() {
        Cache::disabled()
    } else {
        Cache::at(
            std::env::var_os("PHANTOM_CACHE_DIR")
                .map(PathBuf::from)
                .or(config.cache_dir),
        )
    };
    Ok(Settings {
        profile_dirs: config.profile_dirs,
        configured: config.profiles,
        default_profile,
        default_mode: config.default_mode,
        cache,
    })
}

fn load_profile(
    name: &str,
    mode: Option<phantom_bundle::Mode>,
    settings: &Settings,
) -> anyhow::Result<(phantom_bundle::Bundle, Vec<PathBuf>)> {
    let started = std::time::Instant::now();
    let reference = profiles::resolve(name, &settings.profile_dirs, &settings.configured)?;
    let (bundle, source, mut files) = profiles::load(&reference, mode, &settings.cache)?;
    // The configuration decides the run too (its profiles, the default mode).
    files.extend(
        std::env::var_os("PHANTOM_CONFIG_PATH")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from),
    );
    let cache = settings.cache.dir().map_or_else(
        || ", no cache".to_string(),
        |d| format!(", cache {}", d.display()),
    );
    runs::mark_profile_loaded(started, &reference, &bundle, source, &cache);
    Ok((bundle, files))
}

fn run(args: RunArgs) -> anyhow::Result<i32> {
    let settings = settings()?;
    let Some(name) = args
        .profile
        .clone()
        .or_else(|| settings.default_profile.clone())
    else {
        bail!("no profile given: use `--profile NAME` (`phantom profile list` shows them) or set PHANTOM_DEFAULT_PROFILE")
    };
    let mode = args.mode.map(ModeArg::mode).or(settings.default_mode);
    if args.warm {
        return run_warm(&name, mode, args.settings);
    }
    let (bundle, files) = load_profile(&name, mode, &settings)?;
    runs::run_profile(&bundle, args, &files)
}

#[cfg(target_os = "linux")]
fn serve(args: ServeArgs) -> anyhow::Result<()> {
    use phantom_runtime::sandbox::serve;
    let settings = settings()?;
    let pool_size = match args.pool_size {
        Some(n) => n,
        None => match std::env::var("PHANTOM_ZYGOTE_POOL_SIZE") {
            Ok(v) => v
                .trim()
                .parse()
                .with_context(|| format!("PHANTOM_ZYGOTE_POOL_SIZE `{v}` is not a number"))?,
            Err(_) => 3,
        },
    };
    // Each parked sandbox holds two processes and a dozen descriptors: thousands would
    // run into the descriptor limit while parking (and were once announced anyway).
    const MAX_POOL: usize = 64;
    if pool_size > MAX_POOL {
        anyhow::bail!("a pool of {pool_size} parked sandboxes per profile (--pool-size, PHANTOM_ZYGOTE_POOL_SIZE): give at most {MAX_POOL}");
    }
    if args.die_with_parent {
        serve::stop_with_parent()?;
    }
    // Workspaces whose keeper died (with a crashed machine or server, say) are cleaned
    // up now and shown stopped; those alive are left alone.
    if let Ok(store) = phantom_runtime::workspaces::Store::open() {
        match store.reconcile() {
            Ok(cleaned) if !cleaned.is_empty() => eprintln!(
                "phantom serve: workspaces found stopped and cleaned up: {}",
                cleaned.join(", ")
            ),
            Ok(_) => {}
            Err(e) => eprintln!("phantom serve: checking the workspaces: {e}"),
        }
    }
    let mode = args.mode.map(ModeArg::mode);
    let load = move |name: &str, mode| {
        load_profile(name, mode, &settings)
            .map(|(bundle, _)| bundle)
            .map_err(|e| format!("{e:#}"))
    };
    serve::serve(serve::ServeOptions {
        pool_size,
        preload: args.profiles.into_iter().map(|p| (p, mode)).collect(),
        preload_python: args.warm_python.into_iter().map(|p| (p, mode)).collect(),
        load: Box::new(load),
        allow_degraded: args.allow_degraded,
    })?;
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn serve(_: ServeArgs) -> anyhow::Result<()> {
    bail!("`phantom serve` runs on Linux only")
}

fn profile_list(benchmark: bool, runs: u32) -> anyhow::Result<()> {
    let settings = settings()?;
    let listed = profiles::list(&settings.profile_dirs, &settings.configured);
    let width = listed
        .iter()
        .map(|l| l.name.len())
        .max()
        .unwrap_or(4)
        .max(7);
    if benchmark {
        println!("{:width$}  {:>12}  description", "profile", "cold start");
    } else {
        println!("{:width$}  description", "profile");
    }
    for entry in listed {
        let bundle = profiles::load(&entry.reference, None, &settings.cache);
        let description = match &bundle {
            Ok((b, _, _)) => b.description.clone().unwrap_or_default(),
            Err(e) => format!(
                "(does not compile: {})",
                e.to_string().lines().last().unwrap_or_default()
            ),
        };
        if !benchmark {
            println!("{:width$}  {description}", entry.name);
            continue;
        }
        let median = match &bundle {
            Ok((b, _, _)) => benchmark_cold_start(b, runs)
                .map_or_else(|e| format!("n/a ({e})"), |ms| format!("{ms:.2} ms")),
            Err(_) => "n/a".into(),
        };
        println!("{:width$}  {median:>12}  {description}", entry.name);
    }
    if benchmark {
        println!("\n(median of {runs} runs of /bin/true in sandbox mode, workspace an empty directory, measured now)");
    }
    Ok(())
}

/// Median wall time of `runs` sandboxes running /bin/true, in milliseconds.
#[cfg(target_os = "linux")]
fn benchmark_cold_start(bundle: &phantom_bundle::Bundle, runs: u32) -> anyhow::Result<f64> {
    use phantom_runtime::sandbox::{self, ExecOptions, Outcome, Overrides};
    let scratch = tempfile::tempdir()?;
    let options = ExecOptions {
        workspace: Some(scratch.path().to_path_buf()),
        command: vec!["/bin/true".into()],
        overrides: Overrides::default(),
        allow_degraded: false,
        tty: false,
        seccomp_agent: None,
    };
    let mut times = Vec::new();
    for _ in 0..runs.max(1) {
        let start = std::time::Instant::now();
        runs::start_in_systemd_scope_if_needed(bundle)?;
        let report = sandbox::run(bundle, &options)?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        if report.outcome != Outcome::Exited(0) {
            bail!("/bin/true failed: {:?}", report.outcome);
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(times.get(times.len() / 2).copied().unwrap_or_default())
}

#[cfg(not(target_os = "linux"))]
fn benchmark_cold_start(_: &phantom_bundle::Bundle, _: u32) -> anyhow::Result<f64> {
    bail!("Linux only")
}

fn profile_show(name: &str, mode: ModeArg, json: bool) -> anyhow::Result<()> {
    let settings = settings()?;
    let (bundle, _) = load_profile(name, Some(mode.mode()), &settings)?;
    let bytes = phantom_bundle::encode(&bundle).context("encoding the bundle")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&bundle)?);
    } else {
        print!("{}", phantom_bundle::describe::describe(&bundle, &bytes));
    }
    Ok(())
}

// In a musl build (the static release build of scripts/build-release.sh) the allocator
// is dlmalloc's: with musl's own, this program's many small allocations make a start
// slower than glibc's (docs/benchmarks.md, "Cold start"). It suits a
// single-threaded process, as this one is: one global spin lock (`allocator.rs`), and
// no `fork` handlers.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: phantom_runtime::allocator::SpinDlmalloc =
    phantom_runtime::allocator::SpinDlmalloc::new();
