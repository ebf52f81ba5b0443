//! The command line of `phantom`, shared by both of its binaries: `phantom` (the small
//! front that runs sandboxes) and `phantom-full` (every other command), so help,
//! usage errors and options are the same whichever one handles a command.

#![allow(
    dead_code,
    reason = "both binaries include this module; each reads only its own commands' fields"
)]

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "phantom",
    version,
    about = "Runs workloads in sandboxes built from compiled Phantom Fragment bundles"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
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
pub struct CreateArgs {
    /// The workspace's name (letters, digits, `_`, `-`, `.`).
    #[arg(long)]
    pub name: String,
    /// The profile (as for `phantom run`).
    #[arg(long, short = 'p')]
    pub profile: Option<String>,
    /// sandbox (default) or hardened.
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Create it even where a limit cannot be enforced on this host, saying which.
    #[arg(long)]
    pub allow_degraded: bool,
}

#[derive(clap::Args, Debug)]
pub struct MonitorArgs {
    pub name: String,
    /// Every counter, in the Prometheus text format.
    #[arg(long)]
    pub metrics: bool,
    /// JSON.
    #[arg(long)]
    pub json: bool,
    /// Refresh like `top` until interrupted.
    #[arg(long, short = 'w')]
    pub watch: bool,
    /// Seconds between refreshes with --watch.
    #[arg(long, default_value_t = 1.0)]
    pub interval: f64,
}

#[derive(clap::Args, Debug, Default)]
pub struct ExecArgs {
    /// The compiled bundle (.pfb), from `phantomc compile`. Not with --in.
    pub bundle: Option<PathBuf>,
    /// Run in this persistent workspace (`phantom create`) instead of a fresh sandbox
    /// from a bundle: `phantom exec --in NAME -- CMD...`.
    #[arg(long = "in", value_name = "WORKSPACE")]
    pub in_workspace: Option<String>,
    /// Refuse the bundle unless it is signed by this public key (`phantomc key generate`).
    #[arg(long)]
    pub verify_key: Option<PathBuf>,
    /// The Unix socket of a seccomp agent, which answers the system calls the bundle's
    /// filter leaves to a supervisor (`notify` rules): phantom hands it the filter's
    /// listener and the sandbox's state as OCI runtimes do (docs/seccomp.md). Required
    /// by such a bundle.
    #[arg(long, value_name = "SOCKET")]
    pub seccomp_agent: Option<PathBuf>,
    #[command(flatten)]
    pub settings: RunSettings,
}

#[derive(clap::Args, Debug, Default)]
pub struct RunArgs {
    /// A stdlib profile (`phantom profile list`), a profile in a configured profile
    /// directory, or a path to a .pfp policy or a .pfb bundle. Default:
    /// $PHANTOM_DEFAULT_PROFILE, then the config file's `default_profile`.
    #[arg(long, short = 'p')]
    pub profile: Option<String>,
    /// direct, sandbox (default) or hardened; see docs/modes.md.
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Run in a sandbox built ahead of time by `phantom serve` (see docs/benchmarks.md).
    #[arg(long)]
    pub warm: bool,
    #[command(flatten)]
    pub settings: RunSettings,
}

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Sandboxes kept parked per profile and mode (default: $PHANTOM_ZYGOTE_POOL_SIZE, else 3).
    #[arg(long)]
    pub pool_size: Option<usize>,
    /// Profiles whose pools are filled at start (comma-separated); others on first use.
    #[arg(long, value_delimiter = ',')]
    pub profiles: Vec<String>,
    /// Profiles whose pools of warm Python interpreters are filled at start
    /// (comma-separated): `python3 -c CODE` and `python3 FILE` runs then start in an
    /// interpreter that has already started. Made on the first such run otherwise.
    #[arg(long, value_delimiter = ',')]
    pub warm_python: Vec<String>,
    /// Park sandboxes even where a limit cannot be enforced on this host, saying which.
    #[arg(long)]
    pub allow_degraded: bool,
    /// The mode of the pools filled at start.
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Stop (as on SIGTERM) when the process that started this one ends.
    #[arg(long)]
    pub die_with_parent: bool,
}

/// The seed's modes; docs/modes.md says exactly what each adds.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ModeArg {
    /// The host's filesystem view, writes limited by Landlock, seccomp, rlimits, cgroups.
    Direct,
    /// Full isolation: namespaces, the profile's mount plan, cgroups, Landlock, seccomp.
    Sandbox,
    /// Sandbox, plus fewer syscalls, no network, tighter limits, read-only but the workspace.
    Hardened,
}

impl ModeArg {
    pub fn mode(self) -> phantom_bundle::Mode {
        match self {
            ModeArg::Direct => phantom_bundle::Mode::Direct,
            ModeArg::Sandbox => phantom_bundle::Mode::Sandbox,
            ModeArg::Hardened => phantom_bundle::Mode::Hardened,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum ProfileCommand {
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
#[derive(clap::Args, Debug, Default)]
pub struct RunSettings {
    /// The directory bound as `${workspace}` (`phantom run`: default the current
    /// directory, mounted at /workspace, which is the working directory).
    #[arg(long)]
    pub workspace: Option<PathBuf>,
    /// Memory limit for this run (e.g. 256MiB).
    #[arg(long)]
    pub memory: Option<String>,
    /// CPUs for this run (e.g. 0.5).
    #[arg(long)]
    pub cpu: Option<String>,
    /// Process/thread limit for this run.
    #[arg(long)]
    pub pids: Option<u64>,
    /// Wall-clock limit for this run (e.g. 30s, 500ms, 2m).
    #[arg(long)]
    pub timeout: Option<String>,
    /// Size of /tmp for this run.
    #[arg(long)]
    pub tmp_size: Option<String>,
    /// Network for this run.
    #[arg(long, value_enum)]
    pub network: Option<NetworkArg>,
    /// Set an environment variable (repeatable).
    #[arg(long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// Let overrides loosen what the bundle allows.
    #[arg(long)]
    pub allow_loosen: bool,
    /// Run even where a limit cannot be enforced on this host, saying which.
    #[arg(long)]
    pub allow_degraded: bool,
    /// Give the workload a pseudo-terminal (for interactive shells).
    #[arg(long, short = 't')]
    pub tty: bool,
    /// The command and its arguments (default: the bundle's command).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum NetworkArg {
    None,
    Host,
}

/// `text` split into its number and its unit (letters), for sizes and durations.
fn number_and_unit<'a>(text: &'a str, what: &str) -> anyhow::Result<(f64, &'a str)> {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    if text.trim() == "unlimited" {
        bail!("`unlimited` is not accepted here: an option gives a limit for one run (to lift one, change the policy)");
    }
    let number: f64 = number
        .trim()
        .parse()
        .with_context(|| format!("`{text}` is not {what}"))?;
    // (A negative number would become 0 below, which a tmpfs takes for "unlimited".)
    if !number.is_finite() || number <= 0.0 {
        bail!("`{text}` is not {what}: it must be more than 0");
    }
    Ok((number, unit.trim()))
}

pub fn parse_size(text: &str) -> anyhow::Result<u64> {
    let (number, unit) = number_and_unit(text, "a size (e.g. 512MiB)")?;
    let scale: u64 = match unit {
        "" | "B" => 1,
        "k" | "K" | "KiB" => 1 << 10,
        "m" | "M" | "MiB" => 1 << 20,
        "g" | "G" | "GiB" => 1 << 30,
        "t" | "T" | "TiB" => 1 << 40,
        other => bail!("`{other}` is not a size unit: use B, KiB, MiB, GiB or TiB"),
    };
    match (number * scale as f64) as u64 {
        0 => bail!("`{text}` is less than one byte"),
        bytes => Ok(bytes),
    }
}

pub fn parse_duration_ms(text: &str) -> anyhow::Result<u64> {
    let (number, unit) = number_and_unit(text, "a duration (e.g. 30s)")?;
    let scale = match unit {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_are_positive_and_whole() {
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("1.5k").unwrap(), 1536);
        assert_eq!(parse_duration_ms("0.5s").unwrap(), 500);
        // Each of these once became 0, which a tmpfs takes for no limit at all.
        for bad in ["0", "-5", "0.4B", "-1GiB", "unlimited", "", "k"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        for bad in ["0", "-1s", "0.1ms", "unlimited"] {
            assert!(parse_duration_ms(bad).is_err(), "{bad}");
        }
    }
}
