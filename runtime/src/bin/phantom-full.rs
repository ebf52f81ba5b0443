//! `phantom`: runs compiled bundles in sandboxes.

use std::path::PathBuf;
use std::process::ExitCode;

use std::path::Path;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand, ValueEnum};
use phantom_runtime::{config, profiles, profiles::Cache};

#[cfg(target_os = "linux")]
#[path = "phantom/workspace_cmds.rs"]
mod workspace_cmds;

#[cfg(not(target_os = "linux"))]
mod workspace_cmds {
    const LINUX_ONLY: &str = "workspaces run on Linux only";
    pub fn create(_: super::CreateArgs) -> anyhow::Result<()> {
        anyhow::bail!(LINUX_ONLY)
    }
    pub fn list(_: bool) -> anyhow::Result<()> {
        anyhow::bail!(LINUX_ONLY)
    }
    pub fn monitor(_: super::MonitorArgs) -> anyhow::Result<()> {
        anyhow::bail!(LINUX_ONLY)
    }
    pub fn destroy(_: &[String]) -> anyhow::Result<i32> {
        anyhow::bail!(LINUX_ONLY)
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "phantom",
    version,
    about = "Runs workloads in sandboxes built from compiled Phantom Fragment bundles"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a bundle's workload in a fresh sandbox, streaming its stdio; exit with its status.
    ///
    /// Exit status: the workload's own; 128+N if killed by signal N; 124 on the timeout;
    /// 125 if the sandbox could not be started; 126/127 if the command is not
    /// executable / not found.
    Exec(ExecArgs),
    /// Run a command under a profile: `phantom run --profile python-dev -- python3 x.py`.
    ///
    /// The profile is compiled on first use and cached by content; the current
    /// directory is the workspace unless --workspace says otherwise. Exit status as
    /// for `exec`.
    Run(RunArgs),
    /// Keep pools of parked sandboxes for `phantom run --warm` (on a Unix socket of
    /// this user's: $XDG_RUNTIME_DIR/phantom/serve.sock). Runs until SIGTERM/SIGINT.
    Serve(ServeArgs),
    /// List profiles, or show one's effective policy.
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Create a persistent workspace: a named, long-lived sandbox with files of its own.
    ///
    /// Run in it with `phantom exec --in NAME -- CMD...`: files persist between runs,
    /// and processes a run leaves in the background keep running until `phantom
    /// destroy NAME`. State lives in $PHANTOM_STATE_DIR, else
    /// $XDG_STATE_HOME/phantom, else ~/.local/state/phantom.
    Create(CreateArgs),
    /// List the persistent workspaces.
    List {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show a workspace's use: memory, cpu, pids, I/O (from its cgroups), uptime, runs.
    Monitor(MonitorArgs),
    /// Stop a workspace's processes and remove every trace of it, its files included.
    Destroy {
        /// The workspaces to destroy.
        #[arg(required = true)]
        names: Vec<String>,
    },
}

#[derive(clap::Args, Debug)]
struct CreateArgs {
    /// The workspace's name (letters, digits, `_`, `-`, `.`).
    #[arg(long)]
    name: String,
    /// The profile (as for `phantom run`).
    #[arg(long, short = 'p')]
    profile: Option<String>,
    /// sandbox (default) or hardened.
    #[arg(long, value_enum)]
    mode: Option<ModeArg>,
    /// Create it even where a limit cannot be enforced on this host, saying which.
    #[arg(long)]
    allow_degraded: bool,
}

#[derive(clap::Args, Debug)]
struct MonitorArgs {
    name: String,
    /// Every counter, in the Prometheus text format.
    #[arg(long)]
    metrics: bool,
    /// JSON.
    #[arg(long)]
    json: bool,
    /// Refresh like `top` until interrupted.
    #[arg(long, short = 'w')]
    watch: bool,
    /// Seconds between refreshes with --watch.
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
}

#[derive(clap::Args, Debug)]
struct ExecArgs {
    /// The compiled bundle (.pfb), from `phantomc compile`. Not with --in.
    bundle: Option<PathBuf>,
    /// Run in this persistent workspace (`phantom create`) instead of a fresh sandbox
    /// from a bundle: `phantom exec --in NAME -- CMD...`.
    #[arg(long = "in", value_name = "WORKSPACE")]
    in_workspace: Option<String>,
    /// Refuse the bundle unless it is signed by this public key (`phantomc key generate`).
    #[arg(long)]
    verify_key: Option<PathBuf>,
    #[command(flatten)]
    settings: RunSettings,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// A stdlib profile (`phantom profile list`), a profile in a configured profile
    /// directory, or a path to a .pfp policy or a .pfb bundle. Default:
    /// $PHANTOM_DEFAULT_PROFILE, then the config file's `default_profile`.
    #[arg(long, short = 'p')]
    profile: Option<String>,
    /// direct, sandbox (default) or hardened; see docs/modes.md.
    #[arg(long, value_enum)]
    mode: Option<ModeArg>,
    /// Run in a sandbox built ahead of time by `phantom serve` (see docs/benchmarks.md).
    #[arg(long)]
    warm: bool,
    #[command(flatten)]
    settings: RunSettings,
}

#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// Sandboxes kept parked per profile and mode (default: $PHANTOM_ZYGOTE_POOL_SIZE, else 3).
    #[arg(long)]
    pool_size: Option<usize>,
    /// Profiles whose pools are filled at start (comma-separated); others on first use.
    #[arg(long, value_delimiter = ',')]
    profiles: Vec<String>,
    /// Profiles whose pools of warm Python interpreters are filled at start
    /// (comma-separated): `python3 -c CODE` and `python3 FILE` runs then start in an
    /// interpreter that has already started. Made on the first such run otherwise.
    #[arg(long, value_delimiter = ',')]
    warm_python: Vec<String>,
    /// Park sandboxes even where a limit cannot be enforced on this host, saying which.
    #[arg(long)]
    allow_degraded: bool,
    /// The mode of the pools filled at start.
    #[arg(long, value_enum)]
    mode: Option<ModeArg>,
    /// Stop (as on SIGTERM) when the process that started this one ends.
    #[arg(long)]
    die_with_parent: bool,
}

/// The seed's modes; docs/modes.md says exactly what each adds.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum ModeArg {
    /// The host's filesystem view, writes limited by Landlock, seccomp, rlimits, cgroups.
    Direct,
    /// Full isolation: namespaces, the profile's mount plan, cgroups, Landlock, seccomp.
    Sandbox,
    /// Sandbox, plus fewer syscalls, no network, tighter limits, read-only but the workspace.
    Hardened,
}

impl ModeArg {
    fn mode(self) -> phantom_bundle::Mode {
        match self {
            ModeArg::Direct => phantom_bundle::Mode::Direct,
            ModeArg::Sandbox => phantom_bundle::Mode::Sandbox,
            ModeArg::Hardened => phantom_bundle::Mode::Hardened,
        }
    }
}

#[derive(Subcommand, Debug)]
enum ProfileCommand {
    /// List the profiles: the stdlib's, then those in the configured directories.
    List {
        /// Add each profile's median cold start of /bin/true, measured now on this host.
        #[arg(long)]
        benchmark: bool,
        /// Runs per profile for --benchmark.
        #[arg(long, default_value_t = 20)]
        runs: u32,
    },
    /// Print a profile's effective policy in a mode: everything its bundle holds.
    Show {
        name: String,
        #[arg(long, value_enum, default_value_t = ModeArg::Sandbox)]
        mode: ModeArg,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// What `phantom exec` and `phantom run` share: the workspace, overrides, the command.
#[derive(clap::Args, Debug)]
struct RunSettings {
    /// The directory bound as `${workspace}` (`phantom run`: default the current
    /// directory, mounted at /workspace, which is the working directory).
    #[arg(long)]
    workspace: Option<PathBuf>,
    /// Memory limit for this run (e.g. 256MiB).
    #[arg(long)]
    memory: Option<String>,
    /// CPUs for this run (e.g. 0.5).
    #[arg(long)]
    cpu: Option<String>,
    /// Process/thread limit for this run.
    #[arg(long)]
    pids: Option<u64>,
    /// Wall-clock limit for this run (e.g. 30s, 500ms, 2m).
    #[arg(long)]
    timeout: Option<String>,
    /// Size of /tmp for this run.
    #[arg(long)]
    tmp_size: Option<String>,
    /// Network for this run.
    #[arg(long, value_enum)]
    network: Option<NetworkArg>,
    /// Set an environment variable (repeatable).
    #[arg(long = "env", value_name = "K=V")]
    env: Vec<String>,
    /// Let overrides loosen what the bundle allows.
    #[arg(long)]
    allow_loosen: bool,
    /// Run even where a limit cannot be enforced on this host, saying which.
    #[arg(long)]
    allow_degraded: bool,
    /// Give the workload a pseudo-terminal (for interactive shells).
    #[arg(long, short = 't')]
    tty: bool,
    /// The command and its arguments (default: the bundle's command).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum NetworkArg {
    None,
    Host,
}

fn parse_size(text: &str) -> anyhow::Result<u64> {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .trim()
        .parse()
        .with_context(|| format!("`{text}` is not a size (e.g. 512MiB)"))?;
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "k" | "K" | "KiB" => 1 << 10,
        "m" | "M" | "MiB" => 1 << 20,
        "g" | "G" | "GiB" => 1 << 30,
        "t" | "T" | "TiB" => 1 << 40,
        other => bail!("`{other}` is not a size unit: use B, KiB, MiB, GiB or TiB"),
    };
    Ok((number * scale as f64) as u64)
}

fn parse_duration_ms(text: &str) -> anyhow::Result<u64> {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .trim()
        .parse()
        .with_context(|| format!("`{text}` is not a duration (e.g. 30s)"))?;
    let scale = match unit.trim() {
        "ms" => 1.0,
        "" | "s" => 1000.0,
        "m" | "min" => 60_000.0,
        "h" => 3_600_000.0,
        other => bail!("`{other}` is not a duration unit: use ms, s, m or h"),
    };
    let ms = (number * scale) as u64;
    if ms == 0 {
        bail!("a timeout of 0 ends every run at once");
    }
    Ok(ms)
}

fn main() -> ExitCode {
    #[cfg(target_os = "linux")]
    if phantom_runtime::sandbox::exec::timing_requested() {
        eprintln!(
            "phantom timing: client start (clock {})",
            phantom_runtime::sandbox::exec::wall_clock()
        );
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Exec(args) => exec(args),
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

#[cfg(target_os = "linux")]
fn exec(mut args: ExecArgs) -> anyhow::Result<i32> {
    if let Some(name) = args.in_workspace.take() {
        // With --in there is no bundle: the first word after `--` lands in its slot.
        if let Some(first) = args.bundle.take() {
            args.settings
                .command
                .insert(0, first.to_string_lossy().into_owned());
        }
        return workspace_cmds::exec_in(&name, args.settings);
    }
    let Some(bundle_path) = args.bundle.clone() else {
        bail!("give a bundle (`phantom exec BUNDLE.pfb -- CMD`) or a workspace (`phantom exec --in NAME -- CMD`)")
    };
    let bytes = std::fs::read(&bundle_path)
        .with_context(|| format!("cannot read the bundle `{}`", bundle_path.display()))?;
    let key = match &args.verify_key {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the key `{}`", path.display()))?;
            let text = text.trim();
            let mut raw = [0u8; 32];
            if text.len() != 64 {
                bail!(
                    "`{}` is not a public key (expected 64 hex digits)",
                    path.display()
                );
            }
            for (i, slot) in raw.iter_mut().enumerate() {
                *slot = u8::from_str_radix(text.get(2 * i..2 * i + 2).unwrap_or("zz"), 16)
                    .with_context(|| format!("`{}` is not a public key", path.display()))?;
            }
            Some(
                phantom_bundle::VerifyingKey::from_bytes(&raw)
                    .with_context(|| format!("`{}` is not a valid ed25519 key", path.display()))?,
            )
        }
        None => None,
    };
    let bundle = phantom_bundle::decode(&bytes, key.as_ref())
        .with_context(|| format!("`{}`", bundle_path.display()))?;
    run_bundle(&bundle, args.settings, None)
}

/// Runs `bundle` with the settings of one `exec` or `run`; `default_workspace` is
/// used when --workspace is not given.
#[cfg(target_os = "linux")]
fn run_bundle(
    bundle: &phantom_bundle::Bundle,
    args: RunSettings,
    default_workspace: Option<PathBuf>,
) -> anyhow::Result<i32> {
    use phantom_runtime::sandbox::{self, ExecOptions, Outcome, Overrides};
    let mut env = Vec::new();
    for kv in &args.env {
        let Some((k, v)) = kv.split_once('=') else {
            bail!("--env `{kv}`: expected KEY=VALUE")
        };
        env.push((k.to_string(), v.to_string()));
    }
    let overrides = Overrides {
        memory: args.memory.as_deref().map(parse_size).transpose()?,
        cpu_millis: args
            .cpu
            .as_deref()
            .map(|c| {
                c.parse::<f64>()
                    .map(|v| (v * 1000.0) as u64)
                    .with_context(|| format!("--cpu `{c}` is not a number"))
            })
            .transpose()?,
        pids: args.pids,
        timeout_ms: args.timeout.as_deref().map(parse_duration_ms).transpose()?,
        tmp_size: args.tmp_size.as_deref().map(parse_size).transpose()?,
        network_host: args.network.map(|n| matches!(n, NetworkArg::Host)),
        env,
        allow_loosen: args.allow_loosen,
    };
    let options = ExecOptions {
        workspace: args.workspace.or(default_workspace),
        command: args.command,
        overrides,
        allow_degraded: args.allow_degraded,
        tty: args.tty,
    };
    start_in_systemd_scope_if_needed(bundle)?;
    let report = sandbox::run(bundle, &options)?;
    for what in &report.not_enforced {
        eprintln!("phantom: warning: not enforced on this host: {what}");
    }
    for what in &report.limits_hit {
        eprintln!("phantom: {what}");
    }
    if let Outcome::Failed { message, .. } = &report.outcome {
        eprintln!("phantom: {message}");
    }
    Ok(report.outcome.exit_code())
}

/// Where phantom may not create cgroups but systemd would give it a delegated scope,
/// starts phantom again in one (see `cgroup::scope`); returns only if it need not.
#[cfg(target_os = "linux")]
fn start_in_systemd_scope_if_needed(bundle: &phantom_bundle::Bundle) -> anyhow::Result<()> {
    use phantom_runtime::cgroup::{self, scope};
    use std::os::unix::process::CommandExt;
    // Cheap checks first: this runs before every cold run.
    let root = nix::unistd::geteuid().is_root();
    if scope::in_scope()
        || root
        || bundle.cgroup == phantom_bundle::CgroupLimits::default()
        || !std::path::Path::new("/run/systemd/system").exists()
    {
        return Ok(());
    }
    let Ok(detection) = cgroup::detect() else {
        return Ok(()); // the run itself reports what is wrong
    };
    let exe = std::env::current_exe().context("cannot tell where phantom is")?;
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let Some(argv) =
        scope::reexec_under_systemd(cgroup::RealFs, &detection, &bundle.cgroup, &exe, &args)
    else {
        return Ok(());
    };
    eprintln!("phantom: no cgroup of this user's may hold the sandbox here; starting again in a delegated systemd scope");
    let (program, rest) = argv.split_first().context("empty command")?;
    let e = std::process::Command::new(program)
        .args(rest)
        .env(scope::IN_SCOPE_ENV, "1")
        .exec();
    bail!("cannot start `{}`: {e}", program.to_string_lossy())
}

#[cfg(not(target_os = "linux"))]
fn exec(_: ExecArgs) -> anyhow::Result<i32> {
    bail!("`phantom exec` runs on Linux only")
}

#[cfg(not(target_os = "linux"))]
fn run_bundle(
    _: &phantom_bundle::Bundle,
    _: RunSettings,
    _: Option<PathBuf>,
) -> anyhow::Result<i32> {
    bail!("sandboxes run on Linux only")
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
) -> anyhow::Result<phantom_bundle::Bundle> {
    let debug = phantom_runtime::sandbox::exec::timing_requested();
    let started = std::time::Instant::now();
    let reference = profiles::resolve(name, &settings.profile_dirs, &settings.configured)?;
    let (bundle, source) = profiles::load(&reference, mode, &settings.cache)?;
    if debug {
        let how = match source {
            profiles::Source::Given => "read",
            profiles::Source::CacheHit => "from the cache",
            profiles::Source::Compiled => "compiled",
        };
        eprintln!(
            "phantom timing: {:8.3} ms {} ({} mode) {how}{}",
            started.elapsed().as_secs_f64() * 1000.0,
            reference.describe(),
            bundle.mode.name(),
            settings.cache.dir().map_or_else(
                || ", no cache".to_string(),
                |d| format!(", cache {}", d.display())
            )
        );
    }
    Ok(bundle)
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
    let bundle = load_profile(&name, mode, &settings)?;
    if args.mode.is_none() && !bundle.mode.uses_namespaces() {
        // Chosen by the configuration or a compiled bundle, not on this command line.
        eprintln!(
            "phantom: note: running in direct mode (the host's filesystem view; see docs/modes.md)"
        );
    }
    let (workspace, _scratch) = default_workspace(&args.settings)?;
    run_bundle(&bundle, args.settings, workspace)
}

/// `phantom run --warm`: the run goes to `phantom serve`, with this process's stdio.
#[cfg(target_os = "linux")]
fn run_warm(
    name: &str,
    mode: Option<phantom_bundle::Mode>,
    settings: RunSettings,
) -> anyhow::Result<i32> {
    use phantom_runtime::sandbox::serve;
    let unsupported = [
        (settings.memory.is_some(), "--memory"),
        (settings.cpu.is_some(), "--cpu"),
        (settings.pids.is_some(), "--pids"),
        (settings.tmp_size.is_some(), "--tmp-size"),
        (settings.network.is_some(), "--network"),
        (settings.allow_loosen, "--allow-loosen"),
        (settings.tty, "--tty"),
    ];
    if let Some((_, flag)) = unsupported.iter().find(|(given, _)| *given) {
        bail!("{flag} is not available with --warm (parked sandboxes are built with the profile's limits); run without --warm")
    }
    // Paths are the client's: make them absolute for the server.
    let profile = if name.contains('/') || name.ends_with(".pfp") || name.ends_with(".pfb") {
        std::path::absolute(name)?.display().to_string()
    } else {
        name.to_string()
    };
    let (workspace, _scratch) = default_workspace(&settings)?;
    let workspace = match settings.workspace.or(workspace) {
        Some(w) => Some(std::path::absolute(w)?),
        None => None,
    };
    let mut env = Vec::new();
    for kv in &settings.env {
        let Some((k, v)) = kv.split_once('=') else {
            bail!("--env `{kv}`: expected KEY=VALUE")
        };
        env.push((k.to_string(), v.to_string()));
    }
    if settings.command.is_empty() {
        bail!("--warm needs a command after `--`");
    }
    let request = serve::Request {
        profile,
        mode,
        workspace,
        timeout: settings
            .timeout
            .as_deref()
            .map(parse_duration_ms)
            .transpose()?
            .map(std::time::Duration::from_millis),
        command: settings.command,
        env,
    };
    let response = serve::request(&request)?;
    for remark in &response.remarks {
        eprintln!("phantom: {remark}");
    }
    Ok(response.code)
}

#[cfg(not(target_os = "linux"))]
fn run_warm(_: &str, _: Option<phantom_bundle::Mode>, _: RunSettings) -> anyhow::Result<i32> {
    bail!("--warm runs on Linux only")
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
    let load =
        move |name: &str, mode| load_profile(name, mode, &settings).map_err(|e| format!("{e:#}"));
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

/// `phantom run`'s workspace when none is given: the current directory, unless that
/// would hand the sandbox something it must never write to (the root, a system
/// directory, the home directory itself): then an empty scratch directory, removed
/// after the run, and a note saying so.
fn default_workspace(
    settings: &RunSettings,
) -> anyhow::Result<(Option<PathBuf>, Option<tempfile::TempDir>)> {
    if settings.workspace.is_some() {
        return Ok((None, None));
    }
    let cwd = std::env::current_dir().context("cannot tell the current directory")?;
    let home = std::env::var_os("HOME").map(PathBuf::from);
    // The root and the directories every user shares, themselves; anything inside the
    // system's own trees; the home directory or anything above it.
    const SHARED: &[&str] = &[
        "/", "/home", "/opt", "/srv", "/tmp", "/var", "/var/tmp", "/mnt", "/media",
    ];
    const SYSTEM: &[&str] = &[
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/lib",
        "/lib32",
        "/lib64",
        "/proc",
        "/root",
        "/run",
        "/sbin",
        "/sys",
        "/usr",
        "/var/lib",
        "/var/log",
        "/var/spool",
        "/var/cache",
    ];
    let unsafe_dir = SHARED.iter().any(|s| cwd == Path::new(s))
        || SYSTEM.iter().any(|s| cwd.starts_with(s))
        || home.as_deref().is_some_and(|h| h.starts_with(&cwd));
    if !unsafe_dir {
        return Ok((Some(cwd), None));
    }
    let scratch = tempfile::Builder::new()
        .prefix("phantom-workspace-")
        .tempdir()
        .context("cannot create a scratch workspace")?;
    eprintln!(
        "phantom: not using `{}` as the workspace (the sandbox could write all of it); using an empty scratch directory instead. Pass --workspace DIR or run from a project directory.",
        cwd.display()
    );
    Ok((Some(scratch.path().to_path_buf()), Some(scratch)))
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
            Ok((b, _)) => b.description.clone().unwrap_or_default(),
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
            Ok((b, _)) => benchmark_cold_start(b, runs)
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
    };
    let mut times = Vec::new();
    for _ in 0..runs.max(1) {
        let start = std::time::Instant::now();
        start_in_systemd_scope_if_needed(bundle)?;
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
    let bundle = load_profile(name, Some(mode.mode()), &settings)?;
    let bytes = phantom_bundle::encode(&bundle).context("encoding the bundle")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&bundle)?);
    } else {
        print!("{}", phantom_bundle::describe::describe(&bundle, &bytes));
    }
    Ok(())
}
