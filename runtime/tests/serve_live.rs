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

mod common;
use common::{alive, err, give_to, is_root, out, NOBODY};

use phantom_compiler::{bundle, check, io::MemoryFs, Input};
use phantom_runtime::sandbox::zygote;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    socket: PathBuf,
    dir: tempfile::TempDir,
}

impl Server {
    fn start(pool: usize) -> Server {
        Server::start_with(pool, &["--profiles", "shell"])
    }

    /// A server with these pool arguments (`--profiles`, `--warm-python`).
    fn start_with(pool: usize, pools: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let sockdir = dir.path().join("sock");
        std::fs::create_dir(&sockdir).unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&sockdir, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        let socket = sockdir.join("serve.sock");
        let mut c = Command::new(env!("CARGO_BIN_EXE_phantom"));
        c.arg("serve")
            .args(pools)
            .arg("--pool-size")
            .arg(pool.to_string())
            .env("PHANTOM_SOCKET", &socket)
            .env("PHANTOM_CACHE_DIR", dir.path().join("cache"))
            .env_remove("PHANTOM_CONFIG_PATH")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("serve.log")).unwrap());
        if !is_root() {
            c.arg("--allow-degraded");
        }
        let mut child = c.spawn().expect("phantom serve starts");
        // Ready once it accepts: the socket's file exists a moment before the server
        // listens on it, and a client connecting in that moment is refused.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(dir.path().join("serve.log"));
                panic!("phantom serve ended with {status} before listening: {log:?}");
            }
            assert!(Instant::now() < deadline, "not listening after 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        Server { child, socket, dir }
    }

    /// What the server wrote to stderr so far, for failure messages.
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }

    fn run(&self, workspace: &Path, args: &[&str]) -> Output {
        self.run_command(workspace, &[], args)
            .output()
            .expect("phantom runs")
    }

    /// `phantom run --warm --profile shell --workspace W FLAGS -- ARGS`.
    fn run_command(&self, workspace: &Path, flags: &[&str], args: &[&str]) -> Command {
        self.run_profile(workspace, "shell", flags, args)
    }

    /// `phantom run --warm --profile PROFILE --workspace W FLAGS -- ARGS`.
    fn run_profile(
        &self,
        workspace: &Path,
        profile: &str,
        flags: &[&str],
        args: &[&str],
    ) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_phantom"));
        c.args(["run", "--warm", "--profile", profile, "--workspace"])
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
        assert!(
            status.success(),
            "phantom serve ended with {status}; its log:\n{}",
            self.log()
        );
        assert!(!self.socket.exists(), "the socket was left behind");
    }
}

/// The parked or running sandboxes (their inits) a server process owns.
fn inits_of(server: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let status = std::fs::read_to_string(e.path().join("status")).ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            (status.contains(&format!("PPid:\t{server}\n")) && cmdline.starts_with(b"phantom-init"))
                .then_some(pid)
        })
        .collect()
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
    let ws = parked_workspace();
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
    // Refills wait a moment after a run is handed out.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut parked = inits_of(server.child.id());
    while parked.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        parked = inits_of(server.child.id());
    }
    assert!(!parked.is_empty());
    server.stop();
    let deadline = Instant::now() + Duration::from_secs(2);
    while parked.iter().any(|&p| alive(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let survivors: Vec<u32> = parked.into_iter().filter(|&p| alive(p)).collect();
    assert!(
        survivors.is_empty(),
        "parked sandboxes survived the server: {survivors:?}"
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

#[test]
fn a_pool_too_large_to_park_is_refused_before_parking() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_phantom"))
        .args(["serve", "--profiles", "shell"])
        .env("PHANTOM_SOCKET", dir.path().join("s.sock"))
        .env("PHANTOM_ZYGOTE_POOL_SIZE", "100000")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_ne!(o.status.code(), Some(0));
    assert!(err(&o).contains("give at most 64"), "{}", err(&o));
}

/// How many cgroup directories of the sessions of server `server` exist.
fn phantom_cgroups_of(server: u32) -> usize {
    common::cgroup_dirs_named(&format!("phantom-{server}-")).len()
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

#[test]
fn a_thousand_sequential_and_fifty_concurrent_warm_runs_leak_nothing() {
    let server = Server::start(3);
    let ws = parked_workspace();
    // Warm up: the pool is full and the server's descriptors settle.
    for _ in 0..5 {
        let o = server.run(ws.path(), &["/bin/true"]);
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    }
    std::thread::sleep(Duration::from_millis(300));
    let fds_before = open_fds(server.child.id());
    let inits_before = inits_of(server.child.id()).len();

    for i in 0..1000 {
        let o = server.run(ws.path(), &["/bin/true"]);
        assert_eq!(o.status.code(), Some(0), "run {i}: {}", err(&o));
    }
    let children: Vec<(usize, Child)> = (0..50)
        .map(|i| {
            let child = server
                .run_command(ws.path(), &[], &["/bin/sh", "-c", &format!("echo {i}")])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (i, child)
        })
        .collect();
    for (i, child) in children {
        let o = child.wait_with_output().unwrap();
        assert_eq!(out(&o), format!("{i}\n"), "{}", err(&o));
    }

    // Once the pools are full again: as many parked sandboxes as before, the
    // server's descriptors as before, and no cgroups beyond the parked ones'.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        inits_of(server.child.id()).len(),
        inits_before,
        "sandboxes leaked"
    );
    assert_eq!(
        open_fds(server.child.id()),
        fds_before,
        "descriptors leaked"
    );
    if is_root() {
        // The server's sessions are named after it: one per parked sandbox and
        // hierarchy, nothing of the 1,050 runs.
        let ours = phantom_cgroups_of(server.child.id());
        assert!(
            ours <= inits_before * 10,
            "{ours} cgroup directories for {inits_before} parked sandboxes"
        );
    }
    let pid = server.child.id();
    server.stop();
    std::thread::sleep(Duration::from_millis(300));
    if is_root() {
        assert_eq!(
            phantom_cgroups_of(pid),
            0,
            "cgroups left after the server stopped"
        );
    }
}

#[test]
fn a_killed_server_takes_its_sandboxes_with_it_and_a_new_one_starts() {
    let server = Server::start(2);
    let ws = parked_workspace();
    let o = server.run(ws.path(), &["/bin/true"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let pid = server.child.id();
    let socket = server.socket.clone();
    let dir = server.dir;
    let mut child = server.child;
    child.kill().unwrap(); // SIGKILL: no cleanup of its own
    let _ = child.wait();
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read_to_string(e.path().join("status"))
            .is_ok_and(|s| s.contains(&format!("PPid:\t{pid}\n")))
    }) {
        assert!(
            Instant::now() < deadline,
            "the killed server's children survived"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The socket file is left; a new server replaces it and serves.
    assert!(socket.exists());
    let server = {
        let mut c = Command::new(env!("CARGO_BIN_EXE_phantom"));
        c.args(["serve", "--profiles", "shell", "--pool-size", "1"])
            .env("PHANTOM_SOCKET", &socket)
            .env("PHANTOM_CACHE_DIR", dir.path().join("cache"))
            .env_remove("PHANTOM_CONFIG_PATH")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if !is_root() {
            c.arg("--allow-degraded");
        }
        let child = c.spawn().unwrap();
        // The stale socket file stays until the new server replaces it: wait until
        // a connection is accepted, not for the file.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            assert!(Instant::now() < deadline, "the new server did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Server { child, socket, dir }
    };
    let o = server.run(ws.path(), &["/bin/sh", "-c", "echo again"]);
    assert_eq!(out(&o), "again\n", "{}", err(&o));
    server.stop();
}

/// A Python client speaking the wire format by hand (length, NUL-separated fields,
/// then descriptors): `mode` picks the misbehaviour.
const HOSTILE_CLIENT: &str = r#"
import array, os, socket, sys, time
path, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
fields = ["1", "shell", "", "", "", "1", "/bin/true", "0"]
body = b"".join(f.encode() + b"\0" for f in fields)
msg = len(body).to_bytes(4, "little") + body
if mode == "many-fds":
    s.sendall(msg)
    fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(12)]
    s.sendmsg([b"\0"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
elif mode == "slow":
    for b in msg:
        s.sendall(bytes([b]))
        time.sleep(0.5)
elif mode == "listen":
    pass
s.settimeout(10)
try:
    print(s.recv(4096))
except Exception as e:
    print("error", e)
"#;

fn hostile(server: &Server, mode: &str) -> Output {
    Command::new("python3")
        .args(["-c", HOSTILE_CLIENT])
        .arg(&server.socket)
        .arg(mode)
        .output()
        .expect("python3 runs")
}

#[test]
fn hostile_clients_cannot_leak_descriptors_or_stall_the_server() {
    if Command::new("python3").arg("-V").output().is_err() {
        eprintln!("skipped: no python3");
        return;
    }
    let server = Server::start(1);
    let ws = parked_workspace();
    let o = server.run(ws.path(), &["/bin/true"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    std::thread::sleep(Duration::from_millis(300));
    let fds_before = open_fds(server.child.id());
    for _ in 0..5 {
        let _ = hostile(&server, "many-fds");
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        open_fds(server.child.id()),
        fds_before,
        "descriptors leaked"
    );

    // A client that drips its request is cut off at the deadline, and the server
    // serves the next one.
    let started = Instant::now();
    let _ = hostile(&server, "slow");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "the slow client held on"
    );
    let o = server.run(ws.path(), &["/bin/sh", "-c", "echo still"]);
    assert_eq!(out(&o), "still\n", "{}", err(&o));
    server.stop();
}

#[test]
fn a_sandboxed_process_may_not_use_the_server() {
    let server = Server::start(1);
    // A cold sandbox whose workspace holds the server's socket.
    let sockdir = server.socket.parent().unwrap().to_path_buf();
    if is_root() {
        // The sandbox's user is nobody here (root owns the workspace): let it reach the
        // socket, so that the server's own refusal is what stops it.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&sockdir, std::fs::Permissions::from_mode(0o711)).unwrap();
        std::fs::set_permissions(&server.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    }
    let script = "import socket; s = socket.socket(socket.AF_UNIX); \
        s.connect('/workspace/serve.sock'); s.settimeout(5); print(s.recv(4096))";
    let mut c = Command::new(env!("CARGO_BIN_EXE_phantom"));
    c.args(["run", "--profile", "python-dev", "--workspace"])
        .arg(&sockdir)
        .env("PHANTOM_CACHE_DIR", server.dir.path().join("cache"))
        .env_remove("PHANTOM_CONFIG_PATH");
    if !is_root() {
        c.arg("--allow-degraded");
    }
    let o = c.args(["--", "python3", "-c", script]).output().unwrap();
    // As root the sandbox's user is nobody, refused as another user before anything.
    assert!(
        out(&o).contains("refused") && (is_root() || out(&o).contains("sandboxed")),
        "stdout: {} stderr: {}",
        out(&o),
        err(&o)
    );
    server.stop();
}

#[test]
fn a_warm_run_cannot_outlast_its_profiles_timeout() {
    let server = Server::start(1);
    let ws = parked_workspace();
    // Beside the workspace: one inside it is refused (a run could rewrite it).
    let policy = server.dir.path().join("short.pfp");
    std::fs::write(
        &policy,
        "policy \"short\"\nextends \"shell\"\nresources { timeout 1s }\n",
    )
    .unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_phantom"));
    c.args(["run", "--warm", "--profile"])
        .arg(&policy)
        .args(["--timeout", "30s", "--workspace"])
        .arg(ws.path())
        .args(["--", "sleep", "3"])
        .env("PHANTOM_SOCKET", &server.socket)
        .env("PHANTOM_CACHE_DIR", server.dir.path().join("cache"));
    let o = c.output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(124),
        "{}\nthe server's log:\n{}",
        err(&o),
        server.log()
    );
    server.stop();
}

/// Python runs in warm interpreters: they behave as `python3 -c` / `python3 FILE` would
/// (output, status, arguments, environment, working directory, stdin, tracebacks),
/// never share randomness, get the same Landlock as a cold run, and leave nothing.
#[test]
fn warm_python_interpreters_run_code_as_python3_would() {
    let server = Server::start_with(2, &["--warm-python", "python-dev"]);
    let ws = parked_workspace();
    let python = |flags: &[&str], args: &[&str]| -> Output {
        let mut all = vec!["python3"];
        all.extend_from_slice(args);
        server
            .run_profile(ws.path(), "python-dev", flags, &all)
            .output()
            .unwrap()
    };
    // Wait until the interpreters are parked: the first runs may take plain sandboxes.
    let deadline = Instant::now() + Duration::from_secs(20);
    let parked_interpreters = || {
        let inits = inits_of(server.child.id());
        pids_with("<phantom-warm>")
            .into_iter()
            .filter(|&pid| parent_of(pid).is_some_and(|p| inits.contains(&p)))
            .count()
    };
    while parked_interpreters() < 2 {
        assert!(
            Instant::now() < deadline,
            "no warm interpreter parked after 20 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let probe = "import os, sys\n\
        print(sys.argv, os.getcwd(), os.environ.get('GREETING'), sys.stdin.read().strip())\n\
        print(open('/workspace/out', 'w').write('x'))\n\
        try:\n    os.kill(1, 0); print('signals init')\n\
        except PermissionError:\n    print('init out of reach')\n\
        print(type(sys.modules.get('json')).__name__)";
    let mut c = server.run_profile(
        ws.path(),
        "python-dev",
        &["--env", "GREETING=hi"],
        &["python3", "-c", probe, "a", "b"],
    );
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"from stdin\n")
            .unwrap();
    }
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", err(&o));
    // `json` imported already: this ran in a warm interpreter.
    assert_eq!(
        out(&o),
        "['-c', 'a', 'b'] /workspace hi from stdin\n1\ninit out of reach\nmodule\n",
        "{}",
        err(&o)
    );
    assert_eq!(std::fs::read_to_string(ws.path().join("out")).unwrap(), "x");

    // Nothing of the bootstrap's is left to the user's code: its control socket,
    // Landlock ruleset and report pipe are closed before the code runs.
    let fds = python(
        &[],
        &[
            "-c",
            "import os; print(sorted(int(f) for f in os.listdir('/proc/self/fd')))",
        ],
    );
    assert_eq!(out(&fds), "[0, 1, 2, 3]\n", "{}", err(&fds));

    // Exit statuses and tracebacks as python3's own.
    assert_eq!(
        python(&[], &["-c", "import sys; sys.exit(3)"])
            .status
            .code(),
        Some(3)
    );
    let e = python(&[], &["-c", "import sys; sys.exit('bye')"]);
    assert_eq!((e.status.code(), err(&e).as_str()), (Some(1), "bye\n"));
    let boom = python(&[], &["-c", "def f():\n    raise ValueError('boom')\nf()"]);
    assert_eq!(boom.status.code(), Some(1));
    assert!(
        err(&boom).starts_with("Traceback (most recent call last):\n  File \"<string>\", line 3"),
        "{}",
        err(&boom)
    );
    assert!(!err(&boom).contains("_phantom_main"), "{}", err(&boom));
    let syntax = python(&[], &["-c", "x = ("]);
    assert_eq!(syntax.status.code(), Some(1));
    assert!(err(&syntax).contains("SyntaxError"), "{}", err(&syntax));
    // A script file, with its directory first on sys.path; and atexit and threads.
    std::fs::write(ws.path().join("helper.py"), "VALUE = 42\n").unwrap();
    std::fs::write(
        ws.path().join("main.py"),
        "import atexit, sys, threading, time, helper\n\
         atexit.register(lambda: print('atexit'))\n\
         threading.Thread(target=lambda: (time.sleep(0.1), print('thread'))).start()\n\
         print(__name__, sys.argv, helper.VALUE)\n",
    )
    .unwrap();
    let script = python(&[], &["main.py", "x"]);
    assert_eq!(
        out(&script),
        "__main__ ['main.py', 'x'] 42\nthread\natexit\n",
        "{}",
        err(&script)
    );
    let missing = python(&[], &["nope.py"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        err(&missing).contains("can't open file 'nope.py'"),
        "{}",
        err(&missing)
    );

    // No two runs share random state, os.urandom, the hash seed or uuid4.
    let mut seen = std::collections::HashSet::new();
    for _ in 0..4 {
        let r = python(&[], &["-c", "import os, random, uuid; print(random.random(), os.urandom(8).hex(), hash('phantom'), uuid.uuid4())"]);
        assert!(r.status.success(), "{}", err(&r));
        for value in out(&r).split_whitespace() {
            assert!(seen.insert(value.to_string()), "{value} repeated");
        }
    }
    // Interpreter options and PYTHON* variables go to a plain sandbox, and still work.
    let unbuffered = python(
        &["--env", "PYTHONDONTWRITEBYTECODE=1"],
        &[
            "-u",
            "-c",
            "import sys; print(sys.stdout.write_through, sys.dont_write_bytecode)",
        ],
    );
    assert_eq!(out(&unbuffered), "True True\n", "{}", err(&unbuffered));
    let server_pid = server.child.id();
    // The parked interpreters are children of this server's sandboxes' inits.
    let inits = inits_of(server_pid);
    let interpreters: Vec<u32> = pids_with("<phantom-warm>")
        .into_iter()
        .filter(|&pid| parent_of(pid).is_some_and(|p| inits.contains(&p)))
        .collect();
    assert!(!interpreters.is_empty());
    server.stop();
    assert!(inits_of(server_pid).is_empty());
    let deadline = Instant::now() + Duration::from_secs(2);
    while interpreters.iter().any(|&p| alive(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let left: Vec<u32> = interpreters.into_iter().filter(|&p| alive(p)).collect();
    assert!(
        left.is_empty(),
        "warm interpreters outlived their server: {left:?}"
    );
}

fn pids_with(marker: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            String::from_utf8_lossy(&cmdline)
                .contains(marker)
                .then_some(pid)
        })
        .collect()
}

fn parent_of(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .and_then(|p| p.trim().parse().ok())
}

/// A warm interpreter completes and enforces Landlock itself, so only profiles whose
/// filter allows that get warm interpreters; python-dev's does (base's `@sandbox`).
/// (Here, not in zygote_live: that file's test clones from its own process, which must
/// then have no other thread running, as the library requires.)
#[test]
fn warm_interpreters_only_where_the_filter_lets_them_restrict_themselves() {
    let python_dev = {
        let checked = check(&Input::Stdlib("python-dev".into()), &MemoryFs::new()).unwrap();
        bundle::build(checked.policy.as_ref().unwrap(), &checked.sources).unwrap()
    };
    assert!(zygote::can_warm_python(&python_dev));
    let input = Input::Text {
        name: "strict.pfp".into(),
        text: "policy \"strict\"\nextends \"python-dev\"\nsyscalls {\n    errno(EPERM) landlock_restrict_self\n}\n".into(),
        dir: "/".into(),
    };
    let checked = check(&input, &MemoryFs::new()).unwrap();
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let strict = bundle::build(checked.policy.as_ref().unwrap(), &checked.sources).unwrap();
    assert!(!zygote::can_warm_python(&strict));
}

/// A workspace for a parked sandbox: as root, nobody's, since a parked sandbox's user
/// is nobody (its workspace is not known when it is built; phantom's user never is
/// root).
fn parked_workspace() -> tempfile::TempDir {
    let ws = tempfile::tempdir().unwrap();
    give_to(ws.path(), NOBODY);
    ws
}
