//! What both `phantom` binaries do to run a sandbox: a bundle (`exec`), a profile's
//! bundle already at hand (`run`), a warm run (the client of `phantom serve`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::cli::{parse_duration_ms, parse_size, ExecArgs, NetworkArg, RunArgs, RunSettings};

/// With `PHANTOM_TIMING`, the first mark: when this process's `main` began.
pub fn mark_client_start() {
    #[cfg(target_os = "linux")]
    if phantom_runtime::sandbox::exec::timing_requested() {
        eprintln!(
            "phantom timing: client start (clock {})",
            phantom_runtime::sandbox::exec::wall_clock()
        );
    }
}

/// With `PHANTOM_TIMING`, how `run` came by its profile's bundle, since `started`;
/// `more` is added to the line as it is.
pub fn mark_profile_loaded(
    started: std::time::Instant,
    reference: &phantom_runtime::profiles::ProfileRef,
    bundle: &phantom_bundle::Bundle,
    source: phantom_runtime::profiles::Source,
    more: &str,
) {
    #[cfg(target_os = "linux")]
    if phantom_runtime::sandbox::exec::timing_requested() {
        eprintln!(
            "phantom timing: {:8.3} ms {} ({} mode) {}{more}",
            started.elapsed().as_secs_f64() * 1000.0,
            reference.describe(),
            bundle.mode.name(),
            source.describe(),
        );
    }
}

#[cfg(target_os = "linux")]
pub fn exec(args: ExecArgs) -> anyhow::Result<i32> {
    let Some(bundle_path) = args.bundle.clone() else {
        bail!("give a bundle (`phantom exec BUNDLE.pfb -- CMD`) or a workspace (`phantom exec --in NAME -- CMD`)")
    };
    let bytes = phantom_bundle::read_file(&bundle_path, phantom_bundle::MAX_BUNDLE_SIZE)
        .with_context(|| format!("cannot read the bundle `{}`", bundle_path.display()))?;
    let key = match &args.verify_key {
        Some(path) => {
            let raw = phantom_bundle::read_key_file(path)
                .with_context(|| format!("cannot read the key `{}`", path.display()))?;
            Some(
                phantom_bundle::VerifyingKey::from_bytes(&raw)
                    .with_context(|| format!("`{}` is not a valid ed25519 key", path.display()))?,
            )
        }
        None => None,
    };
    let bundle = phantom_bundle::decode(&bytes, key.as_ref())
        .with_context(|| format!("`{}`", bundle_path.display()))?;
    let seccomp_agent = args
        .seccomp_agent
        .map(|socket| phantom_runtime::sandbox::SeccompAgent {
            socket,
            bundle: std::path::absolute(&bundle_path).unwrap_or_else(|_| bundle_path.clone()),
        });
    let code = run_bundle(&bundle, args.settings, None, &[bundle_path], seccomp_agent);
    // The process ends next: the caller waits for that, not for the bundle's hundreds
    // of allocations to be handed back one by one.
    std::mem::forget(bundle);
    code
}

/// Runs `bundle` with the settings of one `exec` or `run`; `default_workspace` is
/// used when --workspace is not given; `profile_files`: the files the bundle came from
/// (the bundle, a policy and what it extends or includes, the configuration), refused
/// inside a workspace the sandbox may write; `seccomp_agent`: `exec --seccomp-agent`'s.
#[cfg(target_os = "linux")]
pub fn run_bundle(
    bundle: &phantom_bundle::Bundle,
    args: RunSettings,
    default_workspace: Option<PathBuf>,
    profile_files: &[PathBuf],
    seccomp_agent: Option<phantom_runtime::sandbox::SeccompAgent>,
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
                let cpus = c
                    .parse::<f64>()
                    .with_context(|| format!("--cpu `{c}` is not a number"))?;
                // The kernel's smallest quota is 1 ms of every 100 ms period.
                if !(0.01..=1e6).contains(&cpus) {
                    bail!("--cpu `{c}`: give a number of CPUs from 0.01 up (e.g. 0.5, 2)");
                }
                Ok((cpus * 1000.0) as u64)
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
        seccomp_agent,
    };
    let writes_workspace = bundle.mounts.iter().any(|m| {
        matches!(m, phantom_bundle::MountStep::Bind { source, writable: true, .. }
            if source.contains("${workspace}"))
    });
    if let Some(workspace) = options.workspace.as_deref().filter(|_| writes_workspace) {
        refuse_profile_in_workspace(profile_files, workspace)?;
    }
    start_in_systemd_scope_if_needed(bundle)?;
    if let Some(notice) = options
        .workspace
        .as_deref()
        .filter(|_| writes_workspace && bundle.mode.uses_namespaces())
        .and_then(sandbox::identity::root_workspace_notice)
    {
        eprintln!("phantom: note: {notice}");
    }
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
pub fn start_in_systemd_scope_if_needed(bundle: &phantom_bundle::Bundle) -> anyhow::Result<()> {
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
pub fn exec(_: ExecArgs) -> anyhow::Result<i32> {
    bail!("`phantom exec` runs on Linux only")
}

#[cfg(not(target_os = "linux"))]
pub fn run_bundle(
    _: &phantom_bundle::Bundle,
    _: RunSettings,
    _: Option<PathBuf>,
    _: &[PathBuf],
    _: Option<std::convert::Infallible>,
) -> anyhow::Result<i32> {
    bail!("sandboxes run on Linux only")
}

/// `phantom run --warm`: the run goes to `phantom serve`, with this process's stdio.
#[cfg(target_os = "linux")]
pub fn run_warm(
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
    if let Some(ws) = workspace.as_deref().filter(|_| profile.starts_with('/')) {
        // The server's profiles bind the workspace writable (as every stdlib one does).
        refuse_profile_in_workspace(&[PathBuf::from(&profile)], ws)?;
    }
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
pub fn run_warm(_: &str, _: Option<phantom_bundle::Mode>, _: RunSettings) -> anyhow::Result<i32> {
    bail!("--warm runs on Linux only")
}

/// `phantom run`'s workspace when none is given: the current directory, unless that
/// would hand the sandbox something it must never write to (the root, a system
/// directory, the home directory itself): then an empty scratch directory, removed
/// after the run, and a note saying so.
pub fn default_workspace(
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
    phantom_runtime::sandbox::identity::give_to_sandbox(scratch.path())
        .context("cannot give the scratch workspace to the sandbox's user")?;
    eprintln!(
        "phantom: not using `{}` as the workspace (the sandbox could write all of it); using an empty scratch directory instead. Pass --workspace DIR or run from a project directory.",
        cwd.display()
    );
    Ok((Some(scratch.path().to_path_buf()), Some(scratch)))
}

/// A file a profile comes from (`files`) inside `workspace`, which the sandbox may
/// write, is refused: a run could rewrite the profile of the next (allow itself the
/// network, bind the host's root), and nothing would tell the two apart.
#[cfg(target_os = "linux")]
fn refuse_profile_in_workspace(files: &[PathBuf], workspace: &Path) -> anyhow::Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    use phantom_runtime::sandbox::canonicalize;
    let Ok(workspace) = canonicalize(workspace) else {
        return Ok(()); // a missing workspace is reported where it is opened
    };
    // (A file that cannot be resolved was reported where it was read.)
    if let Some(file) = files
        .iter()
        .filter_map(|f| canonicalize(f).ok())
        .find(|f| f.starts_with(&workspace))
    {
        bail!(
            "the profile's file `{}` is inside the workspace `{}`, which the sandbox may write: a run could rewrite the profile of the next. Keep policies, what they extend or include, bundles and the configuration outside the workspace, or give the sandbox a directory that does not hold them (`--workspace DIR`)",
            file.display(),
            workspace.display()
        );
    }
    Ok(())
}

/// `phantom run` once its profile's bundle is at hand; `profile_files`: the files it
/// came from (see [`run_bundle`]).
pub fn run_profile(
    bundle: &phantom_bundle::Bundle,
    args: RunArgs,
    profile_files: &[PathBuf],
) -> anyhow::Result<i32> {
    if args.mode.is_none() && !bundle.mode.uses_namespaces() {
        // Chosen by the configuration or a compiled bundle, not on this command line.
        eprintln!(
            "phantom: note: running in direct mode (the host's filesystem view; see docs/modes.md)"
        );
    }
    let (workspace, _scratch) = default_workspace(&args.settings)?;
    run_bundle(bundle, args.settings, workspace, profile_files, None)
}
