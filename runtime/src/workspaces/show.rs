//! What `phantom list` and `phantom monitor` print: text for people, JSON and the
//! Prometheus text format for programs.

use std::fmt::Write as _;

use serde_json::json;

use super::metrics::Metrics;
use super::{now_ms, Record, Status};
use crate::sandbox::exec::{humantime, size};

/// A size for people with one decimal: `987.1 KiB`, `3.0 MiB`.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS.get(unit).copied().unwrap_or("TiB"))
}

fn or_na(value: Option<String>) -> String {
    value.unwrap_or_else(|| "n/a".to_string())
}

fn ago(ms: u64) -> String {
    let secs = now_ms().saturating_sub(ms) / 1000;
    humantime(std::time::Duration::from_secs(secs))
}

fn status_word(status: &Status) -> &'static str {
    match status {
        Status::Running => "running",
        Status::Stopped(_) => "stopped",
    }
}

/// `phantom list`: one line per workspace.
pub fn list_table(rows: &[(Record, Metrics)]) -> String {
    let mut out = String::new();
    let width = rows
        .iter()
        .map(|(r, _)| r.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        out,
        "{:<width$}  {:<8}  {:<14}  {:<8}  {:>8}  {:>5}  {:>4}  {:>10}  {:>4}",
        "NAME", "STATUS", "PROFILE", "MODE", "UPTIME", "RUNS", "LAST", "MEMORY", "PIDS"
    );
    for (r, m) in rows {
        let status = r.status();
        let up = match status {
            Status::Running => super::lifecycle::uptime(r),
            Status::Stopped(_) => None,
        };
        let _ = writeln!(
            out,
            "{:<width$}  {:<8}  {:<14}  {:<8}  {:>8}  {:>5}  {:>4}  {:>10}  {:>4}",
            r.name,
            status_word(&status),
            r.profile,
            r.mode,
            up.unwrap_or_else(|| "-".into()),
            r.runs,
            r.last_exit.map_or("-".into(), |c| c.to_string()),
            m.memory_bytes.map_or("-".into(), human),
            m.pids.map_or("-".into(), |p| p.to_string()),
        );
    }
    out
}

/// `phantom monitor NAME`: the workspace and its use, for people. `cpu_percent` is
/// the use since the previous sample (with `--watch`).
pub fn monitor_text(r: &Record, m: &Metrics, cpu_percent: Option<f64>) -> String {
    let mut out = String::new();
    let status = r.status();
    let state = match &status {
        Status::Running => format!("running, up {}", or_na(super::lifecycle::uptime(r))),
        Status::Stopped(why) => format!("stopped: {why}"),
    };
    let _ = writeln!(out, "workspace  {} ({state})", r.name);
    let _ = writeln!(out, "profile    {}, {} mode", r.profile, r.mode);
    let _ = writeln!(
        out,
        "runs       {}{}",
        r.runs,
        match (r.last_exit, r.last_run_ms) {
            (Some(code), Some(at)) => format!(", the last exited {code} ({} ago)", ago(at)),
            _ => String::new(),
        }
    );
    if status != Status::Running {
        return out;
    }
    let _ = writeln!(
        out,
        "memory     {}{}{}",
        or_na(m.memory_bytes.map(human)),
        m.memory_limit_bytes
            .map_or(String::new(), |l| format!(" of {}", size(l))),
        m.memory_peak_bytes
            .map_or(String::new(), |p| format!(" (peak {})", human(p))),
    );
    let seconds = |us: u64| format!("{:.2} s", us as f64 / 1e6);
    let _ = writeln!(
        out,
        "cpu        {}{}{}",
        or_na(m.cpu_usec.map(seconds)),
        match (m.cpu_user_usec, m.cpu_system_usec) {
            (Some(u), Some(s)) => format!(" (user {}, system {})", seconds(u), seconds(s)),
            _ => String::new(),
        },
        cpu_percent.map_or(String::new(), |p| format!(", {p:.1}% now")),
    );
    let _ = writeln!(
        out,
        "pids       {}{}",
        or_na(m.pids.map(|p| p.to_string())),
        m.pids_limit.map_or(String::new(), |l| format!(" of {l}")),
    );
    let _ = writeln!(
        out,
        "io         {}",
        match (m.io_read_bytes, m.io_write_bytes) {
            (Some(r), Some(w)) => format!("read {}, written {}", human(r), human(w)),
            _ => "n/a".to_string(),
        }
    );
    let _ = writeln!(
        out,
        "limits     {}",
        if r.limits.is_empty() {
            "none".to_string()
        } else {
            r.limits.join(", ")
        }
    );
    let events = [
        m.oom_kills
            .filter(|&n| n > 0)
            .map(|n| format!("{n} OOM kill(s)")),
        m.pids_limit_hits
            .filter(|&n| n > 0)
            .map(|n| format!("{n} fork(s) refused at the pids limit")),
    ];
    let events: Vec<String> = events.into_iter().flatten().collect();
    if !events.is_empty() {
        let _ = writeln!(out, "events     {}", events.join(", "));
    }
    for what in &r.not_enforced {
        let _ = writeln!(out, "warning    not enforced on this host: {what}");
    }
    out
}

/// `phantom monitor NAME --json` (and each element of `phantom list --json`).
pub fn json(r: &Record, m: &Metrics) -> serde_json::Value {
    let status = r.status();
    json!({
        "name": r.name,
        "status": status_word(&status),
        "stopped_reason": match &status { Status::Stopped(why) => Some(why.clone()), Status::Running => None },
        "profile": r.profile,
        "mode": r.mode,
        "created_ms": r.created_ms,
        "started_ms": r.started_ms,
        "uptime_s": r.started_ms.filter(|_| status == Status::Running).map(|s| now_ms().saturating_sub(s) / 1000),
        "runs": r.runs,
        "last_exit": r.last_exit,
        "last_run_ms": r.last_run_ms,
        "limits": r.limits,
        "not_enforced": r.not_enforced,
        "metrics": m,
    })
}

/// `phantom monitor NAME --metrics`: every counter in the Prometheus text format.
pub fn prometheus(r: &Record, m: &Metrics) -> String {
    let mut out = String::new();
    let label = format!("{{workspace=\"{}\"}}", r.name);
    let running = u8::from(r.status() == Status::Running);
    // Names ending in `_total` are counters, the others gauges.
    let mut metric = |name: &str, help: &str, value: Option<u64>| {
        if let Some(v) = value {
            let kind = if name.ends_with("_total") {
                "counter"
            } else {
                "gauge"
            };
            let _ = writeln!(out, "# HELP phantom_workspace_{name} {help}");
            let _ = writeln!(out, "# TYPE phantom_workspace_{name} {kind}");
            let _ = writeln!(out, "phantom_workspace_{name}{label} {v}");
        }
    };
    metric(
        "up",
        "1 while the workspace's sandbox runs",
        Some(running.into()),
    );
    metric("runs_total", "runs so far", Some(r.runs));
    metric(
        "uptime_seconds",
        "seconds since the sandbox started",
        r.started_ms
            .filter(|_| running == 1)
            .map(|s| now_ms().saturating_sub(s) / 1000),
    );
    metric("memory_bytes", "memory in use", m.memory_bytes);
    metric(
        "memory_peak_bytes",
        "highest memory use",
        m.memory_peak_bytes,
    );
    metric("memory_limit_bytes", "memory limit", m.memory_limit_bytes);
    metric("cpu_usec_total", "CPU time used, microseconds", m.cpu_usec);
    metric(
        "cpu_user_usec_total",
        "user CPU time, microseconds",
        m.cpu_user_usec,
    );
    metric(
        "cpu_system_usec_total",
        "system CPU time, microseconds",
        m.cpu_system_usec,
    );
    metric("pids", "processes and threads", m.pids);
    metric("pids_limit", "process and thread limit", m.pids_limit);
    metric(
        "io_read_bytes_total",
        "bytes read from block devices",
        m.io_read_bytes,
    );
    metric(
        "io_write_bytes_total",
        "bytes written to block devices",
        m.io_write_bytes,
    );
    metric(
        "oom_kills_total",
        "processes killed at the memory limit",
        m.oom_kills,
    );
    metric(
        "pids_limit_hits_total",
        "forks refused at the pids limit",
        m.pids_limit_hits,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_for_people() {
        assert_eq!(human(0), "0 B");
        assert_eq!(human(1023), "1023 B");
        assert_eq!(human(987_136), "964.0 KiB");
        assert_eq!(human(3 << 20), "3.0 MiB");
        assert_eq!(human(5 << 30), "5.0 GiB");
    }
}
