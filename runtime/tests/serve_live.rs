//! `phantom serve` and `phantom run --warm` on the real kernel: a server with its own
//! socket, parked sandboxes used once, concurrent runs, a client that goes away, and
//! nothing left when the server stops.

#![cfg(target_os = "linux")]
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a test failure"
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
    })
}

struct Server {
    child: Child,
    socket: PathBuf,
    dir: tempfile::TempDir,
}

impl Server {
    fn start(pool: usize) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let sockdir = dir.path().join("sock");
        std::fs::create_dir(&sockdir).unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&sockdir, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        let socket = sockdir.join("serve.sock");
        let mut c = Command::new(env!("CARGO_BIN_EXE_phantom"));
        c.args(["serve", "--profiles", "shell", "--pool-size"])
            .arg(pool.to_string())
            .env("PHANTOM_SOCKET", &socket)
            .env("PHANTOM_CACHE_DIR", dir.path().join("cache"))
            .env_remove("PHANTOM_CONFIG_PATH")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if !is_root() {
            c.arg("--allow-degraded");
        }
        let child = c.spawn().expect("phantom serve starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "no socket after 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        Server { child, socket, dir }
    }

    fn run(&self, workspace: &Path, args: &[&str]) -> Output {
        self.run_command(workspace, &[], args)
            .output()
            .expect("phantom runs")
    }

    /// `phantom run --warm --profile shell --workspace W FLAGS -- ARGS`.
    fn run_command(&self, workspace: &Path, flags: &[&str], args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_phantom"));
        c.args(["run", "--warm", "--profile", "shell", "--workspace"])
            .arg(workspace)
            .args(flags)
            .arg("--")
            .args(args)
            .env("PHANTOM_SOCKET", &self.socket)
            .env("PHANTOM_CACHE_DIR", self.dir.path().join("cache"))
            .stdin(Stdio::null());
        c
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "phantom serve ended with {status}");
        assert!(!self.socket.exists(), "the socket was left behind");
    }
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Processes whose command line contains `marker`.
fn processes_with(marker: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
        })
        .count()
}

#[test]
fn warm_runs_are_isolated_single_use_concurrent_and_leave_nothing() {
    let server = Server::start(2);
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("in.txt"), "from the host\n").unwrap();

    // Output, exit status, the workspace, the sandbox's identity.
    let o = server.run(
        ws.path(),
        &[
            "/bin/sh",
            "-c",
            "cat in.txt; pwd; id -u; echo made > out.txt; touch /tmp/mark; echo oops >&2; exit 7",
        ],
    );
    assert_eq!(o.status.code(), Some(7), "{}", err(&o));
    assert_eq!(out(&o), "from the host\n/workspace\n1000\n");
    assert_eq!(err(&o), "oops\n");
    assert_eq!(
        std::fs::read_to_string(ws.path().join("out.txt")).unwrap(),
        "made\n"
    );

    // Single use: what one run left in /tmp is not in the next.
    let o = server.run(
        ws.path(),
        &[
            "/bin/sh",
            "-c",
            "if test -e /tmp/mark; then echo leaked; fi",
        ],
    );
    assert_eq!(out(&o), "", "{}", err(&o));

    // Timeout and a missing command, reported as `phantom exec` reports them.
    let o = server
        .run_command(ws.path(), &["--timeout", "300ms"], &["sleep", "5"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(124), "{}", err(&o));
    assert!(err(&o).contains("timeout"), "{}", err(&o));
    let o = server.run(ws.path(), &["no-such-command"]);
    assert_eq!(o.status.code(), Some(127), "{}", err(&o));

    // Concurrent runs never mix outputs.
    let children: Vec<(usize, Child)> = (0..8)
        .map(|i| {
            let child = server
                .run_command(ws.path(), &[], &["/bin/sh", "-c", &format!("echo run-{i}")])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (i, child)
        })
        .collect();
    for (i, child) in children {
        let o = child.wait_with_output().unwrap();
        assert_eq!(out(&o), format!("run-{i}\n"), "{}", err(&o));
    }

    // A client that goes away ends its run.
    let marker = format!("{}", 31000 + std::process::id() % 1000);
    let mut client = server
        .run_command(ws.path(), &[], &["sleep", &marker])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while processes_with(&format!("sleep\0{marker}")) == 0 {
        assert!(Instant::now() < deadline, "the run did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    client.kill().unwrap();
    let _ = client.wait();
    let deadline = Instant::now() + Duration::from_secs(5);
    while processes_with(&format!("sleep\0{marker}")) > 0 {
        assert!(
            Instant::now() < deadline,
            "the sandbox outlived its client by 5 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // Stopping the server kills what is parked and removes the socket.
    server.stop();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        processes_with("phantom-init"),
        0,
        "parked sandboxes survived the server"
    );
}

#[test]
fn without_a_server_warm_runs_say_how_to_start_one() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_phantom"))
        .args(["run", "--warm", "--profile", "shell", "--workspace"])
        .arg(dir.path())
        .args(["--", "true"])
        .env("PHANTOM_SOCKET", dir.path().join("none.sock"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(125));
    assert!(err(&o).contains("phantom serve"), "{}", err(&o));
}
