//! Parked sandboxes (`sandbox::zygote`) on the real kernel: built ahead of time,
//! started with one command, the workspace bound late through the portal.
//!
//! One test function: parking clones from this process, which must not have other
//! threads doing work at the time (the harness's main thread only waits).

#![cfg(target_os = "linux")]
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a test failure"
)]

mod common;
use common::{give_to, is_root, NOBODY};

use std::io::Read;
use std::os::fd::OwnedFd;
use std::time::Instant;

use phantom_compiler::{bundle, check, io::MemoryFs, Input};
use phantom_runtime::sandbox::zygote::{self, Start};
use phantom_runtime::sandbox::{ExecOptions, Outcome, Overrides};

fn python_dev() -> phantom_bundle::Bundle {
    let checked = check(&Input::Stdlib("python-dev".into()), &MemoryFs::new()).unwrap();
    bundle::build(checked.policy.as_ref().unwrap(), &checked.sources).unwrap()
}

/// Runs `command` in a freshly parked sandbox; its stdout, and the outcome.
fn run_parked(
    bundle: &phantom_bundle::Bundle,
    options: &ExecOptions,
    workspace: &std::path::Path,
    command: &[&str],
) -> (String, Outcome) {
    let parked = zygote::park(bundle, options).expect("parks");
    let (mut out_r, out_w) = std::io::pipe().unwrap();
    let stdin: OwnedFd = std::fs::File::open("/dev/null").unwrap().into();
    let stderr: OwnedFd = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .unwrap()
        .into();
    let report = parked
        .start(
            Start {
                command: command.iter().map(|s| s.to_string()).collect(),
                env: vec![("GREETING".into(), "hi".into())],
                workspace: Some(workspace.to_path_buf()),
                stdio: [stdin, out_w.into(), stderr],
            },
            None,
        )
        .expect("starts");
    let mut out = String::new();
    out_r.read_to_string(&mut out).unwrap();
    (out, report.outcome)
}

#[test]
fn parked_sandboxes_run_one_command_each_with_the_workspace_bound_late() {
    let bundle = python_dev();
    let options = ExecOptions {
        workspace: None,
        command: Vec::new(),
        overrides: Overrides::default(),
        allow_degraded: !is_root(),
        tty: false,
        seccomp_agent: None,
    };
    let ws = parked_workspace();
    std::fs::write(ws.path().join("hello.txt"), "from the host\n").unwrap();

    // The command runs in the sandbox, sees the workspace, may write it, gets the env.
    let (out, outcome) = run_parked(
        &bundle,
        &options,
        ws.path(),
        &[
            "/bin/sh",
            "-c",
            "cat /workspace/hello.txt; echo made > /workspace/new.txt; pwd; echo $GREETING; \
             id -u; touch /tmp/left-by-run-1; ls /proc | grep -c '^[0-9]'",
        ],
    );
    assert_eq!(outcome, Outcome::Exited(0), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..4],
        ["from the host", "/workspace", "hi", "1000"],
        "{out}"
    );
    // Only init and the workload (and its pipeline): no portal left behind.
    assert!(lines[4].parse::<u32>().unwrap() <= 4, "{out}");
    assert_eq!(
        std::fs::read_to_string(ws.path().join("new.txt")).unwrap(),
        "made\n"
    );

    // Single use: the next sandbox starts clean.
    let (out, outcome) = run_parked(
        &bundle,
        &options,
        ws.path(),
        &[
            "/bin/sh",
            "-c",
            "if test -e /tmp/left-by-run-1; then echo leaked; fi",
        ],
    );
    assert_eq!(outcome, Outcome::Exited(0));
    assert!(!out.contains("leaked"), "{out}");

    // The same isolation as phantom exec: no host files, read-only root.
    let (out, _) = run_parked(
        &bundle,
        &options,
        ws.path(),
        &[
            "/bin/sh",
            "-c",
            "test -e /etc/shadow && echo shadow; echo x > /usr/x 2>/dev/null || echo ro",
        ],
    );
    assert_eq!(out, "ro\n");

    // A missing command is reported as exec reports it.
    let (_, outcome) = run_parked(&bundle, &options, ws.path(), &["no-such-command"]);
    assert!(
        matches!(outcome, Outcome::Failed { code: 127, .. }),
        "{outcome:?}"
    );

    // An unused parked sandbox leaves nothing when dropped.
    let unused = zygote::park(&bundle, &options).unwrap();
    drop(unused);

    // Start-to-exit of /bin/true from a parked sandbox (printed, not asserted).
    let mut times = Vec::new();
    for _ in 0..20 {
        let parked = zygote::park(&bundle, &options).unwrap();
        let null = || -> OwnedFd {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")
                .unwrap()
                .into()
        };
        let started = Instant::now();
        let report = parked
            .start(
                Start {
                    command: vec!["/bin/true".into()],
                    env: Vec::new(),
                    workspace: Some(ws.path().to_path_buf()),
                    stdio: [null(), null(), null()],
                },
                None,
            )
            .unwrap();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(report.outcome, Outcome::Exited(0));
    }
    times.sort_by(f64::total_cmp);
    eprintln!(
        "parked python-dev sandbox, start to exit of /bin/true: median {:.2} ms",
        times[times.len() / 2]
    );
}

/// A workspace for a parked sandbox: as root, nobody's, since a parked sandbox's user
/// is nobody (its workspace is not known when it is built; phantom's user never is
/// root).
fn parked_workspace() -> tempfile::TempDir {
    let ws = tempfile::tempdir().unwrap();
    give_to(ws.path(), NOBODY);
    ws
}
