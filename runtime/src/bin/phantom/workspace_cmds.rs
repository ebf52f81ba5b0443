//! `phantom create`, `exec --in`, `list`, `monitor`, `destroy`: the command line of
//! persistent workspaces (the work is `phantom_runtime::workspaces`).

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use phantom_runtime::workspaces::{lifecycle, metrics, show, Record, Store};

use crate::cli::{parse_duration_ms, CreateArgs, ModeArg, MonitorArgs, RunSettings};
use crate::{load_profile, settings};

fn store() -> anyhow::Result<Store> {
    Ok(Store::open()?)
}

pub fn create(args: CreateArgs) -> anyhow::Result<()> {
    phantom_runtime::workspaces::validate_name(&args.name)?;
    let settings = settings()?;
    let Some(profile) = args
        .profile
        .clone()
        .or_else(|| settings.default_profile.clone())
    else {
        bail!("no profile given: use `--profile NAME` (`phantom profile list` shows them)")
    };
    if matches!(args.mode, Some(ModeArg::Direct)) {
        bail!("a workspace needs a sandbox: use --mode sandbox or --mode hardened");
    }
    let mode = args
        .mode
        .map(ModeArg::mode)
        .or(settings.default_mode)
        .filter(|m| m.uses_namespaces());
    let (bundle, _) = load_profile(&profile, mode, &settings)?;
    let store = store()?;
    let record = lifecycle::create(
        &store,
        &lifecycle::CreateOptions {
            name: &args.name,
            profile: &profile,
            bundle: &bundle,
            allow_degraded: args.allow_degraded,
        },
    )?;
    for what in &record.not_enforced {
        eprintln!("phantom: warning: not enforced on this host: {what}");
    }
    println!(
        "workspace `{}` created: profile {}, {} mode; its files are in {}",
        record.name,
        record.profile,
        record.mode,
        store.files(&record.name).display()
    );
    Ok(())
}

pub fn exec_in(name: &str, args: RunSettings) -> anyhow::Result<i32> {
    let unsupported = [
        (args.workspace.is_some(), "--workspace"),
        (args.memory.is_some(), "--memory"),
        (args.cpu.is_some(), "--cpu"),
        (args.pids.is_some(), "--pids"),
        (args.tmp_size.is_some(), "--tmp-size"),
        (args.network.is_some(), "--network"),
        (args.allow_loosen, "--allow-loosen"),
        (args.allow_degraded, "--allow-degraded"),
    ];
    if let Some((_, flag)) = unsupported.iter().find(|(given, _)| *given) {
        bail!("{flag} is not available with --in: a workspace's sandbox, files and limits are set by `phantom create`")
    }
    if args.command.is_empty() {
        bail!("no command: `phantom exec --in {name} -- CMD...`");
    }
    let mut env = Vec::new();
    for kv in &args.env {
        let Some((k, v)) = kv.split_once('=') else {
            bail!("--env `{kv}`: expected KEY=VALUE")
        };
        env.push((k.to_string(), v.to_string()));
    }
    let timeout = args
        .timeout
        .as_deref()
        .map(parse_duration_ms)
        .transpose()?
        .map(Duration::from_millis);
    // Signals for the run are read from a signalfd and forwarded, not acted on here.
    let signals = phantom_runtime::sandbox::exec::forwarded_signals()?;
    let store = store()?;
    let (report, restarted) = lifecycle::exec_in(
        &store,
        name,
        lifecycle::RunOptions {
            command: args.command,
            env,
            timeout,
            signals: Some(&signals),
            tty: args.tty,
        },
    )?;
    if let Some(why) = restarted {
        eprintln!("phantom: workspace `{name}` had stopped ({why}); started it again, its files as they were");
    }
    for what in &report.not_enforced {
        eprintln!("phantom: note: {what}");
    }
    for what in &report.limits_hit {
        eprintln!("phantom: {what}");
    }
    if let phantom_runtime::sandbox::Outcome::Failed { message, .. } = &report.outcome {
        eprintln!("phantom: {message}");
    }
    Ok(report.outcome.exit_code())
}

fn with_metrics(record: Record) -> (Record, metrics::Metrics) {
    let m = match (&record.cgroup, record.status()) {
        (Some(c), phantom_runtime::workspaces::Status::Running) => metrics::read(&c.dirs),
        _ => metrics::Metrics::default(),
    };
    (record, m)
}

pub fn list(json: bool) -> anyhow::Result<()> {
    let store = store()?;
    // Workspaces whose keeper died are cleaned and shown stopped.
    store.reconcile()?;
    let mut rows = Vec::new();
    for name in store.names()? {
        match store.load(&name) {
            Ok(record) => rows.push(with_metrics(record)),
            Err(e) => eprintln!("phantom: {e}"),
        }
    }
    if json {
        let all: Vec<_> = rows.iter().map(|(r, m)| show::json(r, m)).collect();
        println!("{}", serde_json::to_string_pretty(&all)?);
    } else if rows.is_empty() {
        println!("no workspaces (`phantom create --name NAME --profile P` makes one)");
    } else {
        print!("{}", show::list_table(&rows));
    }
    Ok(())
}

pub fn monitor(args: MonitorArgs) -> anyhow::Result<()> {
    let store = store()?;
    let render = |record: &Record, m: &metrics::Metrics, cpu_percent: Option<f64>| {
        anyhow::Ok(if args.json {
            format!(
                "{}\n",
                serde_json::to_string_pretty(&show::json(record, m))?
            )
        } else if args.metrics {
            show::prometheus(record, m)
        } else {
            show::monitor_text(record, m, cpu_percent)
        })
    };
    if !args.watch {
        let (record, m) = with_metrics(store.load(&args.name)?);
        print!("{}", render(&record, &m, None)?);
        return Ok(());
    }
    if !(args.interval.is_finite() && args.interval >= 0.1) {
        bail!("--interval must be at least 0.1 seconds");
    }
    let interval = Duration::from_secs_f64(args.interval);
    let mut previous: Option<(Instant, u64)> = None;
    loop {
        let now = Instant::now();
        let (record, m) = with_metrics(store.load(&args.name).context("the workspace is gone")?);
        // CPU use since the previous sample, in percent of one CPU.
        let percent = match (previous, m.cpu_usec) {
            (Some((then, before)), Some(used)) => {
                let wall = now.duration_since(then).as_micros() as f64;
                (wall > 0.0).then(|| used.saturating_sub(before) as f64 * 100.0 / wall)
            }
            _ => None,
        };
        if let Some(used) = m.cpu_usec {
            previous = Some((now, used));
        }
        let text = render(&record, &m, percent)?;
        // Home, clear, then the sample: a refresh in place, like top.
        let mut out = std::io::stdout().lock();
        write!(out, "\x1b[H\x1b[2J{text}")?;
        out.flush()?;
        drop(out);
        std::thread::sleep(interval);
    }
}

pub fn destroy(names: &[String]) -> anyhow::Result<i32> {
    let store = store()?;
    let mut failed = false;
    for name in names {
        match lifecycle::destroy(&store, name) {
            Ok(()) => println!("workspace `{name}` destroyed"),
            Err(e) => {
                eprintln!("phantom: {e}");
                failed = true;
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}
