//! `phantom-mcp`: the Model Context Protocol server (stdio) that gives LLM agents
//! sandboxed code execution through `phantom`. See README.md ("Agents: phantom-mcp").

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "phantom-mcp",
    version,
    about = "MCP server (stdio) running agents' code in Phantom Fragment sandboxes"
)]
struct Cli {
    /// The MCP transport; stdio is the one there is.
    #[arg(long, value_enum, default_value_t = Transport::Stdio)]
    transport: Transport,
    /// How runs start. `zygote` is accepted, but there is no zygote pool yet: runs are
    /// cold starts, exactly as with `cold`, and the startup log line says so.
    #[arg(long, value_enum, default_value_t = StartMode::Cold, env = "PHANTOM_MCP_MODE")]
    mode: StartMode,
    /// The languages (or profile names) served, comma-separated: python, node, go, shell.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "python,node,go,shell",
        env = "PHANTOM_MCP_PROFILES"
    )]
    profiles: Vec<String>,
    /// phantom's isolation mode for every run (docs/modes.md); default: sandbox.
    #[arg(long, value_enum, env = "PHANTOM_MCP_ISOLATION")]
    isolation: Option<Isolation>,
    /// Default wall-clock limit of a run, in seconds.
    #[arg(long, default_value_t = 30.0, env = "PHANTOM_MCP_TIMEOUT")]
    timeout: f64,
    /// The highest `timeout_s` a call may ask for, in seconds.
    #[arg(long, default_value_t = 300.0, env = "PHANTOM_MCP_MAX_TIMEOUT")]
    max_timeout: f64,
    /// Bytes of each output stream returned to the model: its first and last halves.
    #[arg(long, default_value_t = 16 * 1024, env = "PHANTOM_MCP_OUTPUT_LIMIT")]
    output_limit: usize,
    /// Seconds a workspace may go unused before it is destroyed.
    #[arg(long, default_value_t = 900, env = "PHANTOM_MCP_IDLE_TIMEOUT")]
    idle_timeout: u64,
    /// Largest file write_file writes and read_file reads, in bytes.
    #[arg(long, default_value_t = 1 << 20, env = "PHANTOM_MCP_MAX_FILE_SIZE")]
    max_file_size: u64,
    /// Runs at once; further calls wait (default: 4 per CPU, at most 32).
    #[arg(long, env = "PHANTOM_MCP_MAX_CONCURRENT")]
    max_concurrent: Option<usize>,
    /// Where workspaces live (default: $XDG_STATE_HOME/phantom/mcp/PID, or
    /// ~/.local/state/phantom/mcp/PID); removed on shutdown.
    #[arg(long, env = "PHANTOM_MCP_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// The phantom binary (default: next to this one, then PATH).
    #[arg(long, env = "PHANTOM_BIN")]
    phantom: Option<PathBuf>,
    /// Pass --allow-degraded to phantom: run where cgroup limits or user namespaces
    /// are unavailable (not root, no delegated cgroup), phantom naming what is lost.
    #[arg(long)]
    allow_degraded: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Transport {
    Stdio,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum StartMode {
    Cold,
    Zygote,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Isolation {
    Direct,
    Sandbox,
    Hardened,
}

impl Isolation {
    fn name(self) -> &'static str {
        match self {
            Isolation::Direct => "direct",
            Isolation::Sandbox => "sandbox",
            Isolation::Hardened => "hardened",
        }
    }
}

#[cfg(target_os = "linux")]
fn main() -> anyhow::Result<()> {
    use phantom_runtime::mcp::{self, log, Level};
    mcp::init_logging();
    let cli = Cli::parse();
    let setup = setup(cli)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut setup = setup;
    let zygote = setup.zygote.take();
    let result = runtime.block_on(serve(setup));
    // Runs still in flight are dropped with the runtime: their phantom children are
    // killed (kill_on_drop), and their sandboxes die with them.
    runtime.shutdown_timeout(Duration::from_secs(2));
    drop(zygote);
    if let Err(e) = result {
        log(Level::Error, &format!("{e:#}"));
        std::process::exit(1);
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn main() -> anyhow::Result<()> {
    bail!("phantom-mcp runs on Linux only")
}

#[cfg(target_os = "linux")]
struct Setup {
    settings: phantom_runtime::mcp::server::Settings,
    idle: Duration,
    /// Kept alive until the server has stopped.
    zygote: Option<Zygote>,
}

#[cfg(target_os = "linux")]
fn setup(cli: Cli) -> anyhow::Result<Setup> {
    use phantom_runtime::mcp::languages;
    use phantom_runtime::mcp::runner::{locate_phantom, RunnerConfig};
    use phantom_runtime::mcp::server::{Limits, Settings};
    use phantom_runtime::mcp::workspace::Workspaces;
    use phantom_runtime::mcp::{log, Level};

    let mut served = Vec::new();
    for name in cli.profiles.iter().filter(|n| !n.trim().is_empty()) {
        let Some(language) = languages::lookup(name) else {
            let known: Vec<&str> = languages::KNOWN.iter().map(|l| l.name).collect();
            bail!("--profiles: unknown `{name}`; known: {}", known.join(", "));
        };
        if !served.contains(&language) {
            served.push(language);
        }
    }
    if served.is_empty() {
        bail!("--profiles: name at least one of python, node, go, shell");
    }
    if !(cli.timeout > 0.0 && cli.max_timeout >= cli.timeout && cli.max_timeout.is_finite()) {
        bail!("--timeout must be positive and at most --max-timeout");
    }
    // A day is far above any run an agent waits for, and far within what a Duration holds.
    const A_DAY: f64 = 86_400.0;
    if cli.max_timeout > A_DAY {
        bail!("--max-timeout (or PHANTOM_MCP_MAX_TIMEOUT) is over a day: give at most {A_DAY} s");
    }
    if cli.output_limit < 64 {
        bail!("--output-limit must be at least 64 bytes");
    }
    let Some(phantom) = locate_phantom(cli.phantom.as_deref()) else {
        bail!(
            "cannot find the `phantom` binary next to phantom-mcp or on PATH; pass --phantom PATH"
        )
    };
    let state_dir = match cli.state_dir {
        Some(dir) => dir,
        None => {
            let base = default_state_base();
            sweep_stale(&base);
            base.join(std::process::id().to_string())
        }
    };
    let idle = Duration::from_secs(cli.idle_timeout);
    let workspaces = Workspaces::new(state_dir.clone(), idle).with_context(|| {
        format!(
            "cannot create the state directory `{}`",
            state_dir.display()
        )
    })?;
    let max_concurrent = cli.max_concurrent.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map_or(4, |n| n.get() * 4)
            .min(32)
    });

    let env_note = |name: &str| {
        std::env::var(name).map_or_else(|_| format!("{name} unset"), |v| format!("{name}={v}"))
    };
    let pool = env_note("PHANTOM_ZYGOTE_POOL_SIZE");
    let performance = env_note("PHANTOM_PERFORMANCE_MODE");
    // Zygote mode: a `phantom serve` of this server's own, on a socket in its state
    // directory, keeps sandboxes of the served profiles parked.
    let zygote = match cli.mode {
        StartMode::Cold => None,
        StartMode::Zygote => Some(Zygote::start(
            &phantom,
            &private_socket_dir(&state_dir.join("serve"))?.join("serve.sock"),
            &served.iter().map(|l| l.profile).collect::<Vec<_>>(),
            // Python runs start in interpreters that have started already.
            &served
                .iter()
                .filter(|l| l.name == "python")
                .map(|l| l.profile)
                .collect::<Vec<_>>(),
            cli.isolation.map(|i| i.name()),
            cli.allow_degraded,
        )?),
    };
    let start_mode = match &zygote {
        None => "cold".to_string(),
        Some(z) => format!("zygote (phantom serve on {})", z.socket.display()),
    };
    let names: Vec<&str> = served.iter().map(|l| l.name).collect();
    log(
        Level::Info,
        &format!(
            "serving {} over stdio; mode {start_mode}; {pool} and {performance}; isolation {}; phantom {}; state {}{}",
            names.join(","),
            cli.isolation.map_or("sandbox", Isolation::name),
            phantom.display(),
            state_dir.display(),
            if cli.allow_degraded { "; --allow-degraded" } else { "" },
        ),
    );
    let head = cli.output_limit / 2;
    Ok(Setup {
        settings: Settings {
            runner: RunnerConfig {
                phantom,
                isolation: cli.isolation.map(|i| i.name().to_string()),
                allow_degraded: cli.allow_degraded,
                warm_socket: zygote.as_ref().map(|z| z.socket.clone()),
                head_bytes: head,
                tail_bytes: cli.output_limit - head,
            },
            languages: served,
            limits: Limits {
                default_timeout: Duration::from_secs_f64(cli.timeout),
                max_timeout: Duration::from_secs_f64(cli.max_timeout),
                max_file_bytes: cli.max_file_size,
                max_stdin_bytes: 1 << 20,
                max_list_entries: 1000,
            },
            workspaces,
            max_concurrent,
            start_mode: match cli.mode {
                StartMode::Cold => "cold".into(),
                StartMode::Zygote => "zygote".into(),
            },
        },
        idle,
        zygote,
    })
}

/// `dir`, made private (0700): `phantom serve` refuses a socket directory others can
/// enter.
#[cfg(target_os = "linux")]
fn private_socket_dir(dir: &std::path::Path) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create `{}`", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot make `{}` private", dir.display()))?;
    Ok(dir.to_path_buf())
}

/// The `phantom serve` a zygote-mode server runs; stopped (SIGTERM) when dropped, and
/// started with `--die-with-parent`, so it never outlives this server.
#[cfg(target_os = "linux")]
struct Zygote {
    child: std::process::Child,
    socket: PathBuf,
}

#[cfg(target_os = "linux")]
impl Zygote {
    fn start(
        phantom: &std::path::Path,
        socket: &std::path::Path,
        profiles: &[&str],
        warm_python: &[&str],
        mode: Option<&str>,
        allow_degraded: bool,
    ) -> anyhow::Result<Zygote> {
        let mut cmd = std::process::Command::new(phantom);
        cmd.arg("serve")
            .arg("--die-with-parent")
            .arg("--profiles")
            .arg(profiles.join(","));
        if !warm_python.is_empty() {
            cmd.arg("--warm-python").arg(warm_python.join(","));
        }
        cmd.env("PHANTOM_SOCKET", socket)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null());
        if let Some(mode) = mode {
            cmd.arg("--mode").arg(mode);
        }
        if allow_degraded {
            cmd.arg("--allow-degraded");
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting `{} serve`", phantom.display()))?;
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while !socket.exists() {
            if let Ok(Some(status)) = child.try_wait() {
                bail!("`phantom serve` ended at start ({status}); its errors are above");
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                bail!("`phantom serve` did not open its socket within 15 s");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(Zygote {
            child,
            socket: socket.to_path_buf(),
        })
    }
}

#[cfg(target_os = "linux")]
impl Drop for Zygote {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let _ = self.child.wait();
    }
}

/// `$XDG_STATE_HOME/phantom/mcp`, `~/.local/state/phantom/mcp`, or the temp dir's.
#[cfg(target_os = "linux")]
fn default_state_base() -> PathBuf {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|h| h.join(".local/state"))
        })
        .unwrap_or_else(std::env::temp_dir);
    state.join("phantom").join("mcp")
}

/// Removes the state directories of servers that died without cleaning up (named
/// by their pid, which no longer exists).
#[cfg(target_os = "linux")]
fn sweep_stale(base: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if !std::path::Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(target_os = "linux")]
async fn serve(setup: Setup) -> anyhow::Result<()> {
    use phantom_runtime::mcp::server::PhantomServer;
    use phantom_runtime::mcp::{log, Level};
    use rmcp::ServiceExt;

    let workspaces = std::sync::Arc::clone(&setup.settings.workspaces);
    warm_profile_cache(&setup.settings);
    let server = PhantomServer::new(setup.settings);
    let service = server
        .serve(rmcp::transport::stdio())
        .await
        .context("MCP initialization failed")?;

    let expiry = {
        let workspaces = std::sync::Arc::clone(&workspaces);
        let every = (setup.idle / 4).clamp(Duration::from_millis(250), Duration::from_secs(30));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                for id in workspaces.expire_idle() {
                    log(Level::Info, &format!("workspace {id} expired (idle)"));
                }
            }
        })
    };

    let token = service.cancellation_token();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        quit = service.waiting() => {
            log(Level::Debug, &format!("client gone: {quit:?}"));
        }
        _ = tokio::signal::ctrl_c() => {
            log(Level::Info, "interrupted; shutting down");
            token.cancel();
        }
        _ = terminate.recv() => {
            log(Level::Info, "terminated; shutting down");
            token.cancel();
        }
    }
    expiry.abort();
    if let Err(e) = workspaces.remove_all() {
        log(
            Level::Error,
            &format!("removing `{}`: {e}", workspaces.root().display()),
        );
    }
    Ok(())
}

/// Compiles the served profiles into phantom's bundle cache in the background, so
/// the first call does not pay for compilation.
#[cfg(target_os = "linux")]
fn warm_profile_cache(settings: &phantom_runtime::mcp::server::Settings) {
    for language in &settings.languages {
        let mut cmd = tokio::process::Command::new(&settings.runner.phantom);
        cmd.args(["profile", "show", language.profile]);
        if let Some(mode) = &settings.runner.isolation {
            cmd.args(["--mode", mode]);
        }
        cmd.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .env_remove("PHANTOM_DEBUG")
            .kill_on_drop(true);
        tokio::spawn(async move {
            let _ = cmd.status().await;
        });
    }
}
