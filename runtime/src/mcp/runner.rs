//! One sandboxed run: the `phantom` binary as a child process, its output captured
//! within the caps, its ending turned into a result the model can read.
//!
//! The runtime library is deliberately not used in-process: it forks, and forking a
//! multi-threaded tokio process is unsound. A child `phantom` also keeps each run's
//! failures (and its cgroup, namespaces, mounts) away from the server.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::capture::{read_capped, Capture};

/// phantom's own exit statuses (runtime/src/bin/phantom.rs).
const EXIT_TIMEOUT: i32 = 124;
const EXIT_SETUP: i32 = 125;
const EXIT_NOT_EXECUTABLE: i32 = 126;
const EXIT_NOT_FOUND: i32 = 127;

/// Extra stderr bytes kept beyond the cap, so phantom's closing lines are always
/// within the kept tail when they are taken out.
const TRAILER_SLACK: usize = 4096;

/// How long after phantom exits its pipes may stay open (something it left holding
/// them) before the capture is taken as it is.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// phantom enforces the timeout itself; the server kills phantom only if it overruns
/// that by this much (a stuck setup), so no call can hang forever.
const KILL_GRACE: Duration = Duration::from_secs(10);

/// How the server runs phantom: the same for every call.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// The `phantom` binary.
    pub phantom: PathBuf,
    /// phantom's `--mode` (direct, sandbox, hardened); None leaves phantom's default.
    pub isolation: Option<String>,
    /// Pass `--allow-degraded` (hosts without a writable cgroup or user namespaces).
    pub allow_degraded: bool,
    /// Zygote mode: the socket of the `phantom serve` this server started; runs go
    /// to its parked sandboxes (`phantom run --warm`).
    pub warm_socket: Option<PathBuf>,
    /// Bytes of each stream's beginning and end kept for the model.
    pub head_bytes: usize,
    pub tail_bytes: usize,
}

/// One call's run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub profile: String,
    pub command: Vec<String>,
    pub workspace: PathBuf,
    pub stdin: Option<String>,
    pub timeout: Duration,
    pub env: Vec<(String, String)>,
}

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Reason {
    /// The workload exited by itself (`exit_code` is its status).
    Exited,
    /// The wall-clock limit ended it.
    Timeout,
    /// The memory limit was exceeded (the kernel's OOM killer ended it).
    Memory,
    /// The process/thread limit was reached.
    Pids,
    /// It made a syscall the profile forbids.
    Seccomp,
    /// It was killed by a signal (`signal` names it).
    Signal,
}

/// A finished run, as the tools return it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RunResult {
    /// The workload's exit status when it exited; null when it was killed or timed out.
    pub exit_code: Option<i32>,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
    pub reason: Reason,
    /// Output for the model: the head and tail of each stream within the cap.
    pub stdout: String,
    pub stderr: String,
    /// Whether either stream was cut to fit the cap.
    pub truncated: bool,
    /// Total bytes each stream carried.
    pub stdout_bytes: u64,
    pub stderr_bytes: u64,
    pub duration_ms: u64,
    /// The sandbox's own remarks (limits hit, limits not enforced), not the workload's.
    pub notes: Vec<String>,
}

/// A run that did not start, or could not be supervised.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot start `{}`: {source}", phantom.display())]
    Spawn {
        phantom: PathBuf,
        source: std::io::Error,
    },
    /// A command word or variable holds a NUL byte, which no command line or
    /// environment can carry (the model's input, not phantom, is at fault).
    #[error(
        "the {0} contains a NUL byte, which no command line or environment can carry; remove it"
    )]
    NulByte(&'static str),
    /// phantom could not start the workload (setup failure, command not found or not
    /// executable): its message, and its exit status.
    #[error("the sandbox did not start the command (exit {code}): {message}")]
    NotStarted { code: i32, message: String },
}

/// Runs one request under phantom and waits for it.
pub async fn run(config: &RunnerConfig, request: RunRequest) -> Result<RunResult, RunError> {
    if request.command.iter().any(|word| word.contains('\0')) {
        return Err(RunError::NulByte("code or command"));
    }
    if request
        .env
        .iter()
        .any(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        return Err(RunError::NulByte("environment"));
    }
    let mut cmd = Command::new(&config.phantom);
    cmd.arg("run").arg("--profile").arg(&request.profile);
    if let Some(socket) = &config.warm_socket {
        cmd.arg("--warm").env("PHANTOM_SOCKET", socket);
    }
    if let Some(mode) = &config.isolation {
        cmd.arg("--mode").arg(mode);
    }
    if config.allow_degraded {
        cmd.arg("--allow-degraded");
    }
    cmd.arg("--workspace")
        .arg(&request.workspace)
        .arg("--timeout")
        .arg(format!("{}ms", request.timeout.as_millis().max(1)));
    for (k, v) in &request.env {
        cmd.arg("--env").arg(format!("{k}={v}"));
    }
    cmd.arg("--").args(&request.command);
    // phantom's timing lines are printed during setup, before the workload's output,
    // where they could not be told apart from it: never ask for them.
    cmd.env_remove("PHANTOM_DEBUG")
        .env_remove("PHANTOM_TIMING")
        .current_dir(&request.workspace)
        .stdin(if request.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);

    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|source| RunError::Spawn {
        phantom: config.phantom.clone(),
        source,
    })?;

    if let (Some(mut pipe), Some(text)) = (child.stdin.take(), request.stdin) {
        // A workload that never reads its stdin must not block the call: the writer
        // ends with a broken pipe when the workload is gone.
        tokio::spawn(async move {
            let _ = pipe.write_all(text.as_bytes()).await;
            let _ = pipe.shutdown().await;
        });
    }
    let stdout = spawn_reader(child.stdout.take(), config.head_bytes, config.tail_bytes);
    let stderr = spawn_reader(
        child.stderr.take(),
        config.head_bytes,
        config.tail_bytes + TRAILER_SLACK,
    );

    let mut killed_by_server = false;
    let status = match tokio::time::timeout(request.timeout + KILL_GRACE, child.wait()).await {
        Ok(status) => status.ok(),
        Err(_) => {
            // phantom overran its own timeout: kill it; init dies with it
            // (PR_SET_PDEATHSIG), and the whole sandbox with init.
            killed_by_server = true;
            let _ = child.kill().await;
            None
        }
    };
    let duration_ms = started.elapsed().as_millis() as u64;
    let out = stdout.finish().await;
    let mut err = stderr.finish().await;
    let trailer = take_trailer(&mut err);
    err.limit_tail(config.tail_bytes);

    let code = status.and_then(|s| s.code());
    if let Some(code) = code {
        if matches!(code, EXIT_SETUP | EXIT_NOT_EXECUTABLE | EXIT_NOT_FOUND) && !trailer.is_empty()
        {
            return Err(RunError::NotStarted {
                code,
                message: trailer.join("\n"),
            });
        }
    }
    let has = |needle: &str| trailer.iter().any(|l| l.starts_with(needle));
    let (reason, exit_code, signal) = classify(code, killed_by_server, &has);
    let notes = trailer
        .into_iter()
        .filter(|l| !l.starts_with("timing"))
        .collect();
    Ok(RunResult {
        exit_code,
        signal,
        reason,
        stdout: out.render(),
        stderr: err.render(),
        truncated: out.truncated() || err.truncated(),
        stdout_bytes: out.total(),
        stderr_bytes: err.total(),
        duration_ms,
        notes,
    })
}

/// Reason, exit code and signal from phantom's status and its closing lines.
fn classify(
    code: Option<i32>,
    killed_by_server: bool,
    has: &dyn Fn(&str) -> bool,
) -> (Reason, Option<i32>, Option<i32>) {
    if killed_by_server || (code == Some(EXIT_TIMEOUT) && has("timeout ")) {
        return (Reason::Timeout, None, None);
    }
    let signal = code.filter(|c| (129..=192).contains(c)).map(|c| c - 128);
    let exit_code = if signal.is_some() { None } else { code };
    let reason = if has("memory limit ") {
        Reason::Memory
    } else if has("pids limit ") {
        Reason::Pids
    } else if has("killed by seccomp") {
        Reason::Seccomp
    } else if signal.is_some() || code.is_none() {
        Reason::Signal
    } else {
        Reason::Exited
    };
    (reason, exit_code, signal)
}

/// A stream being read into a capture that stays readable if the reader is abandoned.
struct Reader {
    capture: Arc<Mutex<Capture>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

fn spawn_reader<R>(pipe: Option<R>, head: usize, tail: usize) -> Reader
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    let capture = Arc::new(Mutex::new(Capture::new(head, tail)));
    let task = pipe.map(|pipe| {
        let capture = Arc::clone(&capture);
        tokio::spawn(async move {
            read_capped(pipe, |chunk| {
                capture
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push(chunk)
            })
            .await
        })
    });
    Reader { capture, task }
}

impl Reader {
    async fn finish(mut self) -> Capture {
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(DRAIN_GRACE, &mut task).await.is_err() {
                task.abort();
            }
        }
        let guard = self
            .capture
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.clone()
    }
}

/// Takes phantom's own closing lines (`phantom: ...`, printed after the workload
/// ended) off the end of stderr and returns them without the prefix, in order.
///
/// phantom shares its stderr with the workload, but writes its own lines only once
/// the sandbox is gone, each starting with `phantom: `; so they are exactly the
/// stream's last lines with that prefix. (A workload can print such lines itself
/// and so mislabel its own result; it cannot affect anything else.)
pub fn take_trailer(capture: &mut Capture) -> Vec<String> {
    let ending = capture.ending();
    let mut cut = ending.len();
    let mut lines = Vec::new();
    while let Some(without_nl) = ending.get(..cut).and_then(|b| b.strip_suffix(b"\n")) {
        let start = without_nl
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        let line = without_nl.get(start..).unwrap_or_default();
        if let Some(rest) = strip_phantom(line) {
            lines.push(String::from_utf8_lossy(rest).into_owned());
            cut = start;
            continue;
        }
        // The workload's last output did not end in a newline: phantom's line
        // follows it on the same line.
        if let Some(pos) = find(line, b"phantom: ") {
            if let Some(rest) = line.get(pos..).and_then(strip_phantom) {
                lines.push(String::from_utf8_lossy(rest).into_owned());
                cut = start + pos;
            }
        } else if lines.is_empty() && line.starts_with(b"(") {
            // A message phantom continued on a second line (its cgroup error
            // does): keep it with the line before, if that was phantom's.
            if start > 0 {
                let prev_end = start - 1;
                let prev_start = ending
                    .get(..prev_end)
                    .and_then(|b| b.iter().rposition(|&c| c == b'\n'))
                    .map_or(0, |p| p + 1);
                let prev = ending.get(prev_start..prev_end).unwrap_or_default();
                if strip_phantom(prev).is_some() {
                    lines.push(String::from_utf8_lossy(line).into_owned());
                    cut = start;
                    continue;
                }
            }
        }
        break;
    }
    lines.reverse();
    capture.drop_last(ending.len() - cut);
    lines
}

fn strip_phantom(line: &[u8]) -> Option<&[u8]> {
    line.strip_prefix(b"phantom: ").or_else(|| {
        line.strip_prefix(b"phantom timing: ")
            .map(|_| &b"timing"[..])
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The `phantom` binary: `--phantom` if given, else next to this executable (how
/// cargo and packages install them), else on PATH.
pub fn locate_phantom(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_path_buf());
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        let candidate = dir.join("phantom");
        if candidate.is_file() {
            return Some(candidate);
        }
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("phantom"))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(text: &str) -> Capture {
        let mut c = Capture::new(1024, 1024 + TRAILER_SLACK);
        c.push(text.as_bytes());
        c
    }

    #[test]
    fn trailer_lines_are_taken_off_stderr() {
        let mut c = capture("oops\nphantom: memory limit 256 MiB exceeded\n");
        let lines = take_trailer(&mut c);
        assert_eq!(lines, ["memory limit 256 MiB exceeded"]);
        assert_eq!(c.render(), "oops\n");
        assert_eq!(c.total(), 5);
    }

    #[test]
    fn a_trailer_after_output_without_newline() {
        let mut c = capture("partial phantom: timeout 1s\n");
        assert_eq!(take_trailer(&mut c), ["timeout 1s"]);
        assert_eq!(c.render(), "partial ");
    }

    #[test]
    fn workload_output_alone_is_left_alone() {
        let mut c = capture("Traceback\nValueError: x\n");
        assert!(take_trailer(&mut c).is_empty());
        assert_eq!(c.render(), "Traceback\nValueError: x\n");
    }

    #[test]
    fn a_continued_setup_message_is_kept_whole() {
        let mut c = capture("phantom: cgroup: no\n(to run anyway, pass --allow-degraded)\n");
        assert_eq!(
            take_trailer(&mut c),
            ["cgroup: no", "(to run anyway, pass --allow-degraded)"]
        );
        assert_eq!(c.render(), "");
    }

    #[test]
    fn reasons_follow_status_and_lines() {
        let none = |_: &str| false;
        assert_eq!(
            classify(Some(0), false, &none),
            (Reason::Exited, Some(0), None)
        );
        assert_eq!(
            classify(Some(137), false, &none),
            (Reason::Signal, None, Some(9))
        );
        let memory = |l: &str| l == "memory limit ";
        assert_eq!(
            classify(Some(137), false, &memory),
            (Reason::Memory, None, Some(9))
        );
        let timeout = |l: &str| l == "timeout ";
        assert_eq!(
            classify(Some(124), false, &timeout),
            (Reason::Timeout, None, None)
        );
        // A workload may exit 124 by itself.
        assert_eq!(
            classify(Some(124), false, &none),
            (Reason::Exited, Some(124), None)
        );
        assert_eq!(classify(None, true, &none), (Reason::Timeout, None, None));
    }
}
