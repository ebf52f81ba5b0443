//! `phantom`: runs compiled bundles in sandboxes.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand, ValueEnum};

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
}

#[derive(clap::Args, Debug)]
struct ExecArgs {
    /// The compiled bundle (.pfb), from `phantomc compile`.
    bundle: PathBuf,
    /// The directory bound as `${workspace}`.
    #[arg(long)]
    workspace: Option<PathBuf>,
    /// Refuse the bundle unless it is signed by this public key (`phantomc key generate`).
    #[arg(long)]
    verify_key: Option<PathBuf>,
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
    #[arg(last = true)]
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
    let cli = Cli::parse();
    match cli.command {
        Command::Exec(args) => match exec(args) {
            Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(255)),
            Err(e) => {
                eprintln!("phantom: {e:#}");
                ExitCode::from(125)
            }
        },
    }
}

#[cfg(target_os = "linux")]
fn exec(args: ExecArgs) -> anyhow::Result<i32> {
    use phantom_runtime::sandbox::{self, ExecOptions, Outcome, Overrides};
    let bytes = std::fs::read(&args.bundle)
        .with_context(|| format!("cannot read the bundle `{}`", args.bundle.display()))?;
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
        .with_context(|| format!("`{}`", args.bundle.display()))?;
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
        workspace: args.workspace,
        command: args.command,
        overrides,
        allow_degraded: args.allow_degraded,
        tty: args.tty,
    };
    let report = sandbox::run(&bundle, &options)?;
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

#[cfg(not(target_os = "linux"))]
fn exec(_: ExecArgs) -> anyhow::Result<i32> {
    bail!("`phantom exec` runs on Linux only")
}
