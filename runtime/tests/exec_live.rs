//! `phantom exec` on the real kernel: isolation, limits, exit statuses, cleanup.
//!
//! Bundles are compiled in-process from small policies extending the stdlib `base`
//! profile; the `phantom` binary runs them. Root is needed for cgroups (CI runs as
//! root); the unprivileged path is tested with `setpriv` and `--allow-degraded`.

#![cfg(target_os = "linux")]
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a test failure"
)]

mod common;
use common::{err, give_to, is_root, out, WORKSPACE_OWNER};

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use phantom_compiler::{bundle, io::MemoryFs, modes, modes::Mode, Input};

/// The `phantom` under test: this build's, or the one `PHANTOM_TEST_BINARY` names
/// (scripts/test.sh runs these tests again with the static release binary as shipped,
/// whose C library makes some system calls differently).
fn phantom() -> PathBuf {
    std::env::var_os("PHANTOM_TEST_BINARY").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_phantom")),
        PathBuf::from,
    )
}

/// Compiles `policy` (extending base) into a bundle file in `dir`.
fn bundle_file(dir: &Path, name: &str, extra: &str) -> PathBuf {
    let text = format!("policy \"{name}\"\nextends \"base\"\n{extra}\n");
    let input = Input::Text {
        name: format!("{name}.pfp"),
        text,
        dir: "/".into(),
    };
    // As phantomc compiles it (in sandbox mode, a filtered network's overlay).
    let checked = modes::check(&input, &MemoryFs::new(), Mode::Sandbox).expect("in memory");
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let policy = checked.policy.clone().expect("valid");
    let bytes = bundle::encode(&bundle::build(&policy, &checked.sources).expect("builds"))
        .expect("encodes");
    let path = dir.join(format!("{name}.pfb"));
    std::fs::write(&path, bytes).expect("write bundle");
    path
}

struct Sandbox {
    dir: tempfile::TempDir,
    workspace: PathBuf,
    bundle: PathBuf,
}

fn sandbox(extra: &str) -> Sandbox {
    let dir = tempfile::tempdir().expect("tempdir");
    let workspace = dir.path().join("ws");
    std::fs::create_dir(&workspace).expect("workspace");
    give_to(&workspace, WORKSPACE_OWNER);
    let bundle = bundle_file(dir.path(), "t", extra);
    Sandbox {
        dir,
        workspace,
        bundle,
    }
}

impl Sandbox {
    /// `phantom exec` of the bundle with `flags`, `--allow-degraded` where not root.
    fn command(&self, flags: &[&str], cmd: &[&str]) -> Command {
        let mut c = Command::new(phantom());
        c.arg("exec")
            .arg(&self.bundle)
            .arg("--workspace")
            .arg(&self.workspace)
            .args(flags);
        if !is_root() {
            c.arg("--allow-degraded");
        }
        c.arg("--").args(cmd).stdin(Stdio::null());
        c
    }

    fn run(&self, flags: &[&str], cmd: &[&str]) -> Output {
        self.command(flags, cmd).output().expect("phantom runs")
    }

    /// Started and left running.
    fn spawn(&self, cmd: &[&str]) -> std::process::Child {
        self.command(&[], cmd).spawn().expect("spawn")
    }

    fn sh(&self, script: &str) -> Output {
        self.run(&[], &["/bin/sh", "-c", script])
    }
}

#[test]
fn exit_status_and_signals_propagate() {
    let s = sandbox("");
    assert_eq!(s.sh("exit 7").status.code(), Some(7));
    assert_eq!(s.sh("kill -TERM $$").status.code(), Some(128 + 15));
    let nf = s.run(&[], &["/no/such/program"]);
    assert_eq!(nf.status.code(), Some(127), "{}", err(&nf));
    assert!(err(&nf).contains("cannot run"), "{}", err(&nf));
    let ne = s.run(&[], &["/etc"]);
    assert_eq!(ne.status.code(), Some(126), "{}", err(&ne));
    // A script that is there, whose interpreter is not: the interpreter is named.
    std::fs::write(s.workspace.join("bad.sh"), "#!/no/such/shell -e\ntrue\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        s.workspace.join("bad.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let o = s.run(&[], &["/workspace/bad.sh"]);
    assert_eq!(o.status.code(), Some(127), "{}", err(&o));
    assert!(
        err(&o).contains("its interpreter `/no/such/shell`"),
        "{}",
        err(&o)
    );
}

/// phantom is a Rust program, whose runtime ignores SIGPIPE; an ignored signal
/// survives execve, so without care every workload would inherit it.
#[test]
fn a_broken_pipe_ends_the_writer_quietly() {
    let s = sandbox("");
    let o = s.sh("yes | head -n 1; grep SigIgn /proc/self/status");
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(err(&o), "");
    let ignored = out(&o)
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .expect("SigIgn");
    assert_eq!(ignored & (1 << (libc::SIGPIPE - 1)), 0, "{}", out(&o));
}

/// The sandbox fails by itself before phantom's go-ahead: the error names the cause,
/// whichever of the two gets there first (it once read "Broken pipe").
#[test]
fn a_missing_workspace_is_named_however_early_the_sandbox_fails() {
    let s = sandbox("");
    for _ in 0..20 {
        let mut c = Command::new(phantom());
        c.arg("exec").arg(&s.bundle);
        if !is_root() {
            c.arg("--allow-degraded");
        }
        let o = c.args(["--", "/bin/true"]).output().expect("phantom runs");
        assert_eq!(o.status.code(), Some(125), "{}", err(&o));
        assert!(err(&o).contains("--workspace DIR"), "{}", err(&o));
    }
}

/// The workload enters its working directory itself, early, before phantom's go-ahead:
/// a missing one is a setup failure that names it, every time.
#[test]
fn a_missing_working_directory_is_named() {
    let s = sandbox("process {\n    cwd /nowhere\n}");
    for _ in 0..5 {
        let o = s.run(&[], &["/bin/true"]);
        assert_eq!(o.status.code(), Some(125), "{}", err(&o));
        assert!(
            err(&o).contains("entering the working directory `/nowhere`"),
            "{}",
            err(&o)
        );
    }
}

/// A working directory reached through a `..` (here a symlink in the workspace,
/// `src -> ..`, which a cloned repository or an earlier run can plant) is the
/// sandbox's `/`, never the host's root: the workload resolves no path before init has
/// detached the host's root, which is stacked on the new `/` until then and which a
/// `..` there would step into. Runs under CPU load, where the race showed (185 of 300
/// runs landed on the host's root filesystem before the fix).
#[test]
fn a_working_directory_through_dotdot_is_never_the_hosts_root() {
    let s = sandbox("process {\n    cwd /workspace/src\n}");
    std::os::unix::fs::symlink("..", s.workspace.join("src")).expect("symlink");
    let host_root_dev = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/").expect("host root").dev()
    };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hogs: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        })
        .collect();
    let mut seen = Vec::new();
    for _ in 0..60 {
        let o = s.sh("stat -c '%d %D' . /");
        assert!(o.status.success(), "{}", err(&o));
        seen.push(out(&o));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for h in hogs {
        let _ = h.join();
    }
    for shown in &seen {
        let mut lines = shown.lines();
        let (cwd, root) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
        assert_eq!(
            cwd, root,
            "the working directory is not the sandbox's /: {shown}"
        );
        let cwd_dev: u64 = cwd.split(' ').next().unwrap_or("0").parse().unwrap_or(0);
        assert_ne!(cwd_dev, host_root_dev, "the host's root: {shown}");
    }
}

#[test]
fn stdout_streams_large_output() {
    let s = sandbox("");
    let o = s.sh("head -c 20000000 /dev/zero | tr '\\0' 'x'");
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(o.stdout.len(), 20_000_000);
}

#[test]
fn the_root_is_read_only_and_the_workspace_writable() {
    let s = sandbox("");
    let o = s.sh("touch /newfile 2>/dev/null && echo root-writable; touch /usr/x 2>/dev/null && echo usr-writable; echo hi > /workspace/out && echo ws-ok; echo t > /tmp/t && echo tmp-ok");
    assert_eq!(out(&o), "ws-ok\ntmp-ok\n", "{}", err(&o));
    assert_eq!(
        std::fs::read_to_string(s.workspace.join("out")).unwrap(),
        "hi\n"
    );
}

#[test]
fn host_files_and_processes_are_invisible() {
    let s = sandbox("");
    let o = s.sh("test -e /etc/shadow && echo shadow; test -e /root && echo root; test -e /home && echo home; ls /proc | grep -c '^[0-9]'");
    let shown = out(&o);
    assert!(
        !shown.contains("shadow") && !shown.contains("root\n") && !shown.contains("home"),
        "{shown}"
    );
    let pids: u32 = shown
        .lines()
        .last()
        .unwrap_or("99")
        .trim()
        .parse()
        .unwrap_or(99);
    assert!(pids <= 4, "too many processes visible: {shown}");
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let o = s.sh("cat /proc/sys/kernel/hostname");
    assert_eq!(out(&o).trim(), "sandbox", "host name {host}");
    // The host's root, which init detaches while the workload gets ready, is gone from
    // the mount table before the workload runs: one mount at `/`, the sandbox's tmpfs.
    let o = s.sh("cut -d' ' -f5,9 /proc/self/mountinfo | grep '^/ '");
    assert_eq!(out(&o).trim(), "/ tmpfs", "{}", out(&o));
}

#[test]
fn network_none_has_only_loopback() {
    let s = sandbox("");
    let o = s.sh("cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '");
    assert_eq!(out(&o).trim(), "lo", "{}", err(&o));
}

#[test]
fn a_filtered_network_is_the_hosts_with_tcp_to_its_ports_alone() {
    // Listeners on the host's loopback: the sandbox may connect to the first only.
    let allowed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = |l: &std::net::TcpListener| l.local_addr().unwrap().port();
    let s = sandbox(&format!("network {{\n    connect [{}]\n}}", port(&allowed)));
    let host = std::fs::read_link("/proc/self/ns/net").unwrap();
    let script = format!(
        "readlink /proc/self/ns/net; python3 -c '
import errno, socket
def attempt(name, make):
    try:
        make()
        print(name, \"ok\")
    except OSError as e:
        print(name, errno.errorcode[e.errno])
attempt(\"listed\", lambda: socket.create_connection((\"127.0.0.1\", {}), timeout=2))
attempt(\"unlisted\", lambda: socket.create_connection((\"127.0.0.1\", {}), timeout=2))
# Landlock governs TCP alone: UDP, ping and MPTCP sockets would reach any port.
attempt(\"udp\", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
attempt(\"ping\", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP))
attempt(\"mptcp\", lambda: socket.socket(socket.AF_INET6, socket.SOCK_STREAM, 262))
# Without a port to bind, no listening: Landlock does not see the port listen() picks.
attempt(\"listen\", lambda: socket.socket().listen())'",
        port(&allowed),
        port(&other)
    );
    let o = s.sh(&script);
    let text = out(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            host.to_str().unwrap(),
            "listed ok",
            "unlisted EACCES",
            "udp EPERM",
            "ping EPERM",
            "mptcp EPERM",
            "listen EPERM"
        ],
        "{}",
        err(&o)
    );
    // `--network host`, allowed to loosen, lifts the port rules; the filter's rule that
    // IPv4/IPv6 sockets be TCP's was compiled in and stays.
    let o = s.run(
        &["--network", "host", "--allow-loosen"],
        &["/bin/sh", "-c", &script],
    );
    let text = out(&o);
    assert!(text.contains("unlisted ok"), "{text}{}", err(&o));
    assert!(text.contains("udp EPERM"), "{text}");
}

#[test]
fn landlock_holds_inside_the_sandbox() {
    // /proc is mounted writable, and a process's own /proc/self/comm is its own to
    // write; the policy's Landlock rules give /proc read and execute only. The ruleset
    // is built by init while phantom finishes the cgroups, and enforced by the workload.
    let s = sandbox("");
    let o = s.sh("echo renamed > /proc/self/comm && echo written; cat /proc/self/comm");
    assert!(!out(&o).contains("written"), "{}", out(&o));
    assert!(err(&o).contains("Permission denied"), "{}", err(&o));
    // Outside, the same write is allowed: the refusal is Landlock's.
    std::fs::write("/proc/thread-self/comm", "phantom-test").expect("own comm is writable");
}

#[test]
fn network_none_is_a_namespace_of_its_own_with_loopback_up() {
    // The namespace is made beside init and joined before the workload starts
    // (runtime/src/sandbox/netns.rs): the workload must be in it, not in the host's.
    let s = sandbox("");
    let host = std::fs::read_link("/proc/self/ns/net").unwrap();
    let script = "readlink /proc/self/ns/net; \
                  echo $(tail -n +3 /proc/1/net/dev | cut -d: -f1); python3 -c '
import socket
server = socket.socket(); server.bind((\"127.0.0.1\", 0)); server.listen()
client = socket.create_connection(server.getsockname(), timeout=2)
print(\"loopback carries\", client.getsockname()[0])'";
    let o = s.sh(script);
    let text = out(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}{}", err(&o));
    assert!(lines[0].starts_with("net:["), "{text}");
    assert_ne!(
        lines[0],
        host.to_string_lossy(),
        "the workload is in the host's network"
    );
    // Init (pid 1) is in it too: /proc/1/net, readable to the workload, shows only the
    // sandbox's loopback, never the host's interfaces.
    assert_eq!(lines[1], "lo", "{text}");
    assert_eq!(lines[2], "loopback carries 127.0.0.1", "{}", err(&o));
}

#[test]
fn no_inherited_file_descriptors() {
    let s = sandbox("");
    // phantom started with a descriptor its caller left open (fd 9), as a careless
    // caller's pipe would be.
    let mut c = Command::new("/bin/sh");
    c.arg("-c")
        .arg("exec \"$0\" \"$@\" 9</dev/null")
        .arg(env!("CARGO_BIN_EXE_phantom"))
        .arg("exec")
        .arg(&s.bundle)
        .arg("--workspace")
        .arg(&s.workspace);
    if !is_root() {
        c.arg("--allow-degraded");
    }
    // The workload lists its own; init's are listed from here, since the workload may
    // not look into init (non-dumpable, and not the workload's on the host).
    let script = "ls /proc/self/fd | tr '\\n' ' '; echo; sleep 2";
    let child = c
        .args(["--", "/bin/sh", "-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    // phantom's one child by then: init (the network helper is long gone).
    let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", child.id()))
        .unwrap_or_default();
    let init_fds: Vec<String> = children
        .split_whitespace()
        .next()
        .and_then(|init| std::fs::read_dir(format!("/proc/{init}/fd")).ok())
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let o = child.wait_with_output().unwrap();
    let text = out(&o);
    // The workload: 0, 1, 2 and the directory ls itself reads.
    assert_eq!(text.split_whitespace().count(), 4, "{text}");
    if is_root() {
        // Init (readable as root): stdio and its report pipe, not the caller's fd 9.
        assert!(!init_fds.iter().any(|f| f == "9"), "{init_fds:?}");
        assert_eq!(init_fds.len(), 4, "{init_fds:?}");
    }
}

#[test]
fn timeout_is_enforced_and_reported() {
    let s = sandbox("");
    let start = std::time::Instant::now();
    let o = s.run(&["--timeout", "1s"], &["/bin/sleep", "30"]);
    assert_eq!(o.status.code(), Some(124), "{}", err(&o));
    assert!(err(&o).contains("timeout 1s"), "{}", err(&o));
    assert!(start.elapsed().as_secs() < 10);
}

#[test]
fn memory_limit_is_enforced_and_reported() {
    if !is_root() {
        return;
    }
    let s = sandbox("");
    if !Path::new("/usr/bin/python3").exists() {
        return;
    }
    let o = s.run(
        &["--memory", "32MiB"],
        &[
            "/usr/bin/python3",
            "-c",
            "a = b'x' * (200 << 20); print('survived')",
        ],
    );
    assert!(!out(&o).contains("survived"), "{}", out(&o));
    assert!(
        err(&o).contains("memory limit 32 MiB exceeded"),
        "{}",
        err(&o)
    );
}

#[test]
fn pids_limit_is_enforced_and_reported() {
    if !is_root() {
        return;
    }
    let s = sandbox("");
    let o = s.run(
        &["--pids", "8"],
        &[
            "/bin/sh",
            "-c",
            "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 3 & done; wait",
        ],
    );
    assert!(err(&o).contains("pids limit 8 reached"), "{}", err(&o));
}

#[test]
fn overrides_only_tighten_unless_allowed() {
    let s = sandbox("");
    let o = s.run(&["--memory", "8GiB"], &["/bin/true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(err(&o).contains("--allow-loosen"), "{}", err(&o));
    // Values that look tighter but that the kernel takes for no limit, or refuses at
    // every start: a tmpfs of size 0 is unlimited.
    for (flag, value) in [
        ("--tmp-size", "0"),
        ("--tmp-size", "-5"),
        ("--memory", "-1"),
        ("--memory", "512KiB"),
        ("--cpu", "0.001"),
        ("--pids", "0"),
        ("--timeout", "-1s"),
    ] {
        let o = s.run(&[flag, value], &["/bin/true"]);
        assert_eq!(o.status.code(), Some(125), "{flag} {value}: {}", err(&o));
        assert!(
            err(&o).contains(value) || err(&o).contains(flag),
            "{flag} {value}: {}",
            err(&o)
        );
    }
}

#[test]
fn seccomp_kills_forbidden_syscalls_and_says_so() {
    let s = sandbox("syscalls {\n    kill chroot\n}\n");
    let o = s.run(
        &[],
        &["/usr/bin/python3", "-c", "import os; os.chroot('/')"],
    );
    if !Path::new("/usr/bin/python3").exists() {
        return;
    }
    assert_eq!(o.status.code(), Some(128 + 31), "{}", err(&o));
    assert!(err(&o).contains("killed by seccomp"), "{}", err(&o));
}

#[test]
fn nothing_is_left_behind_after_many_runs() {
    let s = sandbox("");
    for _ in 0..200 {
        assert!(s.run(&[], &["/bin/true"]).status.success());
    }
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    for line in own.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if controllers.is_empty() || controllers.starts_with("name=") {
            continue;
        }
        let dir = Path::new("/sys/fs/cgroup")
            .join(controllers.split(',').next().unwrap_or(""))
            .join(path.trim_start_matches('/'));
        if let Ok(entries) = std::fs::read_dir(&dir) {
            let ours: Vec<_> = entries
                .flatten()
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with(&format!("phantom-{}-", std::process::id()))
                })
                .collect();
            assert!(ours.is_empty(), "leftover cgroups in {}", dir.display());
        }
    }
}

#[test]
fn killing_phantom_kills_the_sandbox() {
    let s = sandbox("");
    let marker = format!("{}", 40000 + std::process::id() % 10000);
    let mut child = s.spawn(&["/bin/sleep", &marker]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    child.kill().expect("kill -9");
    let _ = child.wait();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let leftover = std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read_to_string(e.path().join("cmdline"))
            .is_ok_and(|c| c.contains(&format!("sleep\0{marker}")))
    });
    assert!(!leftover, "the sandboxed sleep survived phantom's death");
    if is_root() {
        // phantom could not remove its cgroups; the next run sweeps them (or a run of
        // a concurrent test already did).
        let o = s.run(&[], &["/bin/true"]);
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
        let left = cgroup_dirs_of(child.id());
        assert!(left.is_empty(), "not swept by the next run: {left:?}");
    }
    let _ = s.dir;
}

/// Seen from the host, the workload sits in the run's own cgroup in every hierarchy
/// that holds a limit (it moved itself there: `exec::move_in`); where v2 holds no limit
/// beside v1 controllers, in no new v2 cgroup; and in no freezer cgroup of the run's,
/// which could only repeat what the pid namespace does when its init ends.
#[test]
fn the_workload_is_in_the_runs_cgroups() {
    if !is_root() {
        return; // without cgroups of its own to write (degraded), nothing to check
    }
    let s = sandbox("resources { memory 256MiB pids 64 }");
    // A second and a bit, the bit unique to this test process.
    let marker = format!("1.{:06}", std::process::id() % 1_000_000);
    let mut child = Command::new(phantom())
        .arg("exec")
        .arg(&s.bundle)
        .arg("--workspace")
        .arg(&s.workspace)
        .args(["--", "/bin/sleep", &marker])
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let workload = loop {
        let found = std::fs::read_dir("/proc").unwrap().flatten().find(|e| {
            std::fs::read_to_string(e.path().join("cmdline"))
                .is_ok_and(|c| c == format!("/bin/sleep\0{marker}\0"))
        });
        if let Some(e) = found {
            break e.path();
        }
        assert!(std::time::Instant::now() < deadline, "no workload");
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let theirs = std::fs::read_to_string(workload.join("cgroup")).unwrap();
    let run = format!("/phantom-{}-", child.id());
    let ours = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let hybrid =
        ours.lines().any(|l| l.starts_with("0::")) && ours.lines().any(|l| l.contains(":memory:"));
    for line in theirs.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
        let limited = controllers
            .split(',')
            .any(|c| ["memory", "pids"].contains(&c));
        if limited || (controllers.is_empty() && !hybrid) {
            assert!(path.contains(&run), "{line} (all: {theirs})");
        } else if controllers.is_empty() {
            assert!(!path.contains(&run), "joined v2 needlessly: {line}");
        } else if controllers == "freezer" {
            assert!(
                !path.contains(&run),
                "joined the freezer needlessly: {line}"
            );
        }
    }
    assert!(child.wait().unwrap().success());
}

/// The cgroup directories of the runs of phantom process `pid`.
fn cgroup_dirs_of(pid: u32) -> Vec<PathBuf> {
    common::cgroup_dirs_named(&format!("phantom-{pid}-"))
}

#[test]
fn unprivileged_users_get_a_sandbox_with_the_degradation_stated() {
    if !is_root() || Command::new("setpriv").arg("--help").output().is_err() {
        return;
    }
    let s = sandbox("");
    // The nobody user must be able to reach the files.
    let _ = Command::new("chmod")
        .args(["-R", "a+rwX"])
        .arg(s.dir.path())
        .status();
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_phantom"))
        .arg("exec")
        .arg(&s.bundle)
        .arg("--workspace")
        .arg(&s.workspace)
        .args(["--", "/bin/sh", "-c", "echo hi from $(id -u)"])
        .output()
        .expect("setpriv runs");
    // Without --allow-degraded: refused with the reason, or run if cgroups are delegated.
    if o.status.code() == Some(125) {
        assert!(
            err(&o).contains("--allow-degraded") || err(&o).contains("cgroup"),
            "{}",
            err(&o)
        );
        let o = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_phantom"))
            .arg("exec")
            .arg(&s.bundle)
            .arg("--workspace")
            .arg(&s.workspace)
            .args([
                "--allow-degraded",
                "--",
                "/bin/sh",
                "-c",
                "echo hi from $(id -u)",
            ])
            .output()
            .expect("setpriv runs");
        assert_eq!(out(&o), "hi from 1000\n", "{}", err(&o));
        assert!(err(&o).contains("not enforced"), "{}", err(&o));
    } else {
        assert_eq!(out(&o), "hi from 1000\n", "{}", err(&o));
    }
}

#[test]
fn tty_gives_the_workload_a_terminal_of_its_own() {
    if Command::new("script").arg("--version").output().is_err() {
        return;
    }
    let s = sandbox("");
    let flags = if is_root() { "" } else { " --allow-degraded" };
    let cmd = format!(
        "stty cols 91 rows 17; {} exec {} --workspace {}{flags} --tty -- /bin/sh -c 'tty; stty size'",
        env!("CARGO_BIN_EXE_phantom"),
        s.bundle.display(),
        s.workspace.display()
    );
    let o = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script runs");
    let shown = out(&o);
    assert!(shown.contains("/dev/pts/0"), "{shown:?}");
    assert!(shown.contains("17 91"), "{shown:?}");
}

#[test]
fn what_an_attacker_tries_first_fails() {
    std::env::set_var("PHANTOM_TEST_SECRET", "hunter2");
    let s = sandbox("");
    let probes = [
        ("init's environment", "cat /proc/1/environ"),
        ("init's memory", "head -c 16 /proc/1/mem"),
        ("the host's root through init", "ls /proc/1/root/etc"),
        ("mount a filesystem", "mount -t tmpfs none /tmp"),
        ("a new user namespace", "unshare -r true"),
        ("writing /proc/sys", "echo 1 > /proc/sys/kernel/sysrq"),
        ("the kernel's memory", "head -c 1 /proc/kcore"),
        ("/sys", "ls /sys/kernel"),
        ("the host's disks", "ls /dev/sda /dev/vda /dev/nvme0n1"),
        ("ptrace", "python3 -c 'import ctypes; print(ctypes.CDLL(None).ptrace(16, 1, 0, 0))' | grep -qv -- -1"),
    ];
    for (what, probe) in probes {
        let o = s.sh(&format!("{probe} >/dev/null 2>&1 && echo LEAK"));
        assert!(!out(&o).contains("LEAK"), "{what}: `{probe}` succeeded");
        assert!(
            !out(&o).contains("hunter2"),
            "{what}: the host's environment leaked"
        );
    }
    let o = s.sh("cat /proc/1/environ 2>/dev/null; env");
    assert!(!out(&o).contains("hunter2"), "{}", out(&o));
}

/// Runs `phantom exec ARGS` where user namespaces cannot be created: in a user
/// namespace of our own whose `user.max_user_namespaces` is 0 (that limit is per
/// namespace, so the host is untouched).
fn without_user_namespaces(s: &Sandbox, args: &[&str]) -> Option<Output> {
    let probe = Command::new("unshare")
        .args(["--user", "--map-root-user", "true"])
        .output()
        .ok()?;
    if !probe.status.success() {
        return None;
    }
    let mut script = String::from("echo 0 > /proc/sys/user/max_user_namespaces && exec \"$@\"");
    script.push('\n');
    Some(
        Command::new("unshare")
            .args(["--user", "--map-root-user", "sh", "-c", &script, "sh"])
            .arg(env!("CARGO_BIN_EXE_phantom"))
            .arg("exec")
            .arg(&s.bundle)
            .arg("--workspace")
            .arg(&s.workspace)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("unshare runs"),
    )
}

#[test]
fn without_user_namespaces_phantom_refuses_unless_degraded_and_landlock_confines() {
    let s = sandbox("");
    // phantom runs as root of a user namespace that maps root alone: direct mode's
    // workload is that root, whose workspace this is.
    give_to(&s.workspace, 0);
    let Some(refused) = without_user_namespaces(&s, &["--", "/bin/true"]) else {
        eprintln!("skipped: unshare --user is not available here");
        return;
    };
    assert_eq!(refused.status.code(), Some(125), "{}", err(&refused));
    assert!(
        err(&refused).contains("user namespace"),
        "{}",
        err(&refused)
    );
    assert!(
        err(&refused).contains("--allow-degraded"),
        "{}",
        err(&refused)
    );

    let script = "echo ok > out.txt && echo wrote; \
        (echo x > /etc/phantom-probe) 2>/dev/null || echo etc-refused; \
        (cat /etc/shadow) >/dev/null 2>&1 || echo shadow-refused; \
        (ls /root) >/dev/null 2>&1 || echo root-refused";
    let o = without_user_namespaces(&s, &["--allow-degraded", "--", "/bin/sh", "-c", script])
        .expect("available");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    for expected in ["wrote", "etc-refused", "shadow-refused", "root-refused"] {
        assert!(
            out(&o).contains(expected),
            "missing {expected}: {}",
            out(&o)
        );
    }
    assert_eq!(
        std::fs::read_to_string(s.workspace.join("out.txt")).unwrap(),
        "ok\n"
    );
    // Each thing not isolated is named.
    for named in [
        "Landlock confines the filesystem",
        "host processes are visible",
        "UDP",
    ] {
        assert!(err(&o).contains(named), "not named: {named}: {}", err(&o));
    }
}

/// The directory a killed phantom (pid `pid`, in this pid namespace) would have left
/// in the hierarchy whose `/proc/self/cgroup` line names `controller`.
fn stale_dir(controller: &str, pid: u32) -> Option<PathBuf> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = own.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers
            .split(',')
            .any(|c| c == controller)
            .then(|| path.to_owned())
    })?;
    // The name carries the creator's pid namespace (its inode, in hex), so that a
    // runtime in another namespace is never judged by a pid of ours.
    let ns = std::fs::read_link("/proc/self/ns/pid").ok()?;
    let inode: u64 = ns
        .to_string_lossy()
        .trim_start_matches("pid:[")
        .trim_end_matches(']')
        .parse()
        .ok()?;
    Some(
        Path::new("/sys/fs/cgroup")
            .join(controller)
            .join(path.trim_start_matches('/'))
            .join(format!("phantom-{pid}-0.{inode:x}-stale")),
    )
}

/// The sweep of directories left by killed runs starts once the workload is past its
/// setup (it closes a pipe before its hardening), runs once per run, and still runs
/// when the workload never starts (a command that is not there).
#[test]
fn stale_cgroups_are_swept_once_per_run_after_the_setup_and_on_a_failed_start() {
    if !is_root() {
        return; // no cgroups of our own to leave directories in
    }
    let s = sandbox("");
    // A pid that is gone: a child of ours, reaped.
    let dead = {
        let mut child = Command::new("/bin/true").spawn().expect("true");
        let pid = child.id();
        child.wait().expect("wait");
        pid
    };
    for (cmd, status) in [(&["/bin/true"][..], 0), (&["/no/such/program"][..], 127)] {
        let dirs: Vec<PathBuf> = ["memory", "pids"]
            .iter()
            .filter_map(|c| stale_dir(c, dead))
            .collect();
        assert!(!dirs.is_empty(), "no memory or pids hierarchy of ours");
        for d in &dirs {
            std::fs::create_dir(d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        }
        let o = Command::new(phantom())
            .arg("exec")
            .arg(&s.bundle)
            .arg("--workspace")
            .arg(&s.workspace)
            .arg("--")
            .args(cmd)
            .env("PHANTOM_TIMING", "1")
            .stdin(Stdio::null())
            .output()
            .expect("phantom runs");
        assert_eq!(o.status.code(), Some(status), "{}", err(&o));
        let left: Vec<_> = dirs.iter().filter(|d| d.exists()).collect();
        for d in &left {
            let _ = std::fs::remove_dir(d);
        }
        assert!(left.is_empty(), "{cmd:?}: not swept: {left:?}");
        // The marks of three processes share stderr; each phrase is written whole.
        let e = err(&o);
        assert_eq!(e.matches("swept stale cgroups").count(), 1, "{e}");
        if status == 0 {
            let landlock = e.find("workload: Landlock").expect("the workload's mark");
            let swept = e.find("swept stale cgroups").unwrap_or(0);
            assert!(
                landlock < swept,
                "swept before the workload's setup ended: {e}"
            );
        }
    }
}

/// Direct mode has no pid namespace whose end kills its processes: its session keeps a
/// freezer cgroup of its own (where the host has a v1 freezer), which a sandbox's skips.
#[test]
fn a_direct_mode_run_keeps_a_freezer_cgroup_of_its_own() {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let freezer = |text: &str| {
        text.lines()
            .find(|l| l.split(':').nth(1) == Some("freezer"))
            .map(str::to_owned)
    };
    if !is_root() || freezer(&own).is_none() {
        return; // no cgroups of our own, or no v1 freezer here
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let o = direct_run(dir.path())
        .args(["--", "/bin/cat", "/proc/self/cgroup"])
        .stdin(Stdio::null())
        .output()
        .expect("phantom runs");
    assert!(o.status.success(), "{}", err(&o));
    let line = freezer(&out(&o)).unwrap_or_default();
    assert!(line.contains("/phantom-"), "{line} (all: {})", out(&o));
}

/// Processes that keep forking in sessions of their own (the first thing a workload
/// trying to outlive its sandbox would do) all end with the run: on its timeout, and
/// when phantom itself is killed. The sandbox's cgroups have no freezer; its pid
/// namespace ends them with init.
#[test]
fn forking_daemons_end_with_the_run_on_timeout_and_on_kill() {
    let s = sandbox("resources { pids 64 }");
    let marker = format!("{}", 50000 + std::process::id() % 10000);
    let script = format!(
        "for i in 1 2 3; do setsid sh -c 'while :; do sleep {marker} & sleep 0.01; done' \
         </dev/null >/dev/null 2>&1 & done; exec sleep {marker}"
    );
    let survivors = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|e| {
                std::fs::read_to_string(e.path().join("cmdline"))
                    .is_ok_and(|c| c == format!("sleep\0{marker}\0"))
            })
            .filter(|e| common::alive(e.file_name().to_string_lossy()))
            .count()
    };
    // The timeout: phantom returns once init, and with it the namespace, is gone.
    let o = s.run(&["--timeout", "1s"], &["/bin/sh", "-c", &script]);
    assert_eq!(o.status.code(), Some(124), "{}", err(&o));
    assert_eq!(survivors(), 0, "left running after the timeout");
    // kill -9 of phantom: init dies with it (its parent-death signal), and the rest
    // with init.
    let mut child = s.spawn(&["/bin/sh", "-c", &script]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(survivors() > 3, "the daemons did not start");
    child.kill().expect("kill -9");
    let _ = child.wait();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while survivors() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "{} left running after phantom's death",
            survivors()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Seen from the host: the user namespace of a running sandbox's init, and its owner
/// (`NS_GET_OWNER_UID`), from python3.
const NAMESPACE_OWNER_PY: &str = r#"
import fcntl, os, struct, sys, time
phantom = int(sys.argv[1])
for _ in range(200):
    children = open(f"/proc/{phantom}/task/{phantom}/children").read().split()
    if children:
        break
    time.sleep(0.01)
fd = os.open(f"/proc/{children[0]}/ns/user", os.O_RDONLY)
print(struct.unpack("I", fcntl.ioctl(fd, 0xB704, bytes(4)))[0])
"#;

/// As root, the sandbox's user namespace belongs to the sandbox's user on the host,
/// not to root: what the kernel counts per user inside it (inotify instances, of
/// which a sandbox could otherwise take all of root's) is charged to that user.
#[test]
fn as_root_the_sandboxs_user_namespace_belongs_to_its_user() {
    if !is_root() || !Path::new("/usr/bin/python3").exists() {
        return; // rootless, the caller owns it, as any namespace it makes
    }
    // Nobody's (a root-owned workspace) stays root's: every host process running as
    // nobody would own it otherwise.
    for (owner, expected) in [(WORKSPACE_OWNER, WORKSPACE_OWNER), (0, 0)] {
        let s = sandbox("");
        give_to(&s.workspace, owner);
        let mut phantom = s.spawn(&["/bin/sleep", "5"]);
        let o = Command::new("/usr/bin/python3")
            .args(["-c", NAMESPACE_OWNER_PY, &phantom.id().to_string()])
            .output()
            .unwrap();
        let _ = phantom.kill();
        let _ = phantom.wait();
        assert_eq!(out(&o).trim(), expected.to_string(), "{}", err(&o));
    }
}

/// As root, phantom maps the sandbox's user to the workspace's owner, or to nobody
/// where root owns it: never to root, whose uid alone (no capability needed) would own
/// every root-owned file the sandbox can reach, the host's device nodes in its /dev
/// among them, and make whatever it writes to the workspace root's (a setuid-root
/// program for any host user to run).
#[test]
fn as_root_the_workload_is_never_root_on_the_host() {
    if !is_root() {
        return; // rootless, the sandbox's user is the caller, and nobody else
    }
    let probe = "cat /proc/self/uid_map /proc/self/gid_map; grep Groups /proc/self/status; \
        chmod 600 /dev/full 2>/dev/null && echo dev-chmod; \
        touch /workspace/f 2>/dev/null && chmod 755 /workspace/f && echo wrote";
    // The workspace is root's: the workload is nobody, reads it and writes nothing.
    let s = sandbox("");
    give_to(&s.workspace, 0);
    let o = s.sh(probe);
    let text = out(&o);
    assert!(text.contains("1000      65534          1"), "{text}");
    assert!(!text.contains("dev-chmod"), "{text}");
    assert!(!text.contains("wrote"), "{text}");
    assert!(
        err(&o).contains("runs the workload as nobody"),
        "{}",
        err(&o)
    );
    assert!(err(&o).contains("chown -R USER"), "{}", err(&o));
    let groups = text
        .lines()
        .find(|l| l.starts_with("Groups:"))
        .unwrap_or_default();
    assert_eq!(groups.split_whitespace().count(), 1, "{text}");
    // The workspace is a user's: the workload is that user, and what it makes is theirs.
    let s = sandbox("");
    let o = s.sh(probe);
    let text = out(&o);
    assert!(text.contains("1000       1000          1"), "{text}");
    assert!(text.contains("wrote"), "{}{}", text, err(&o));
    assert!(!text.contains("dev-chmod"), "{text}");
    assert_eq!(err(&o), "");
    let meta = std::fs::metadata(s.workspace.join("f")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!((meta.uid(), meta.gid()), (WORKSPACE_OWNER, WORKSPACE_OWNER));
    assert_eq!(
        std::fs::metadata("/dev/full").unwrap().mode() & 0o777,
        0o666
    );
}

/// inotify instances (and watches, fanotify groups and marks) are counted per user on
/// the host: the user owning the sandbox's user namespace, root where phantom runs as
/// root and the workload as nobody. A sandbox gets a quarter of each, set in its own
/// user namespace, so it cannot take all of them (with all 128 of root's instances
/// gone, systemd cannot watch anything). Both ways the limit is set: by the network
/// namespace's helper, and by init where there is no network namespace of its own.
#[test]
fn a_sandbox_takes_at_most_a_quarter_of_its_users_inotify_budget() {
    let host: u64 = std::fs::read_to_string("/proc/sys/fs/inotify/max_user_instances")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let share = (host / 4).max(1);
    let probe = format!(
        "cat /proc/sys/user/max_inotify_instances; python3 -c '
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
n = 0
while n < {} and libc.inotify_init1(0) >= 0:
    n += 1
print(n, ctypes.get_errno())'",
        host * 2
    );
    let s = sandbox("");
    if is_root() {
        give_to(&s.workspace, 0); // the workload is nobody, the namespace root's
    }
    for flags in [&[][..], &["--network", "host", "--allow-loosen"][..]] {
        let o = s.run(flags, &["/bin/sh", "-c", &probe]);
        let text = out(&o);
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some(share.to_string().as_str()),
            "{text}{}",
            err(&o)
        );
        let (taken, errno) = lines
            .next()
            .and_then(|l| l.split_once(' '))
            .unwrap_or_else(|| panic!("{text}{}", err(&o)));
        let taken: u64 = taken.parse().unwrap();
        assert!(taken <= share, "took {taken} of {host}: {text}");
        assert_eq!(errno, libc::EMFILE.to_string(), "{text}");
    }
}

/// A bind whose source is inside the workspace is resolved beneath it: a workload that
/// left a symbolic link (or the policy a `..`) where the policy names a directory of the
/// workspace does not get the host's directory bound in the next run.
#[test]
fn a_bind_source_inside_the_workspace_cannot_lead_out_of_it() {
    let s = sandbox("filesystem {\n    ro /data from ${workspace}/data optional\n}");
    // A real directory of the workspace: bound.
    std::fs::create_dir(s.workspace.join("data")).unwrap();
    std::fs::write(s.workspace.join("data/in-ws"), "mine\n").unwrap();
    let o = s.sh("cat /data/in-ws");
    assert_eq!(out(&o), "mine\n", "{}", err(&o));
    // Replaced by a link out of the workspace, as a previous run could have done.
    std::fs::remove_dir_all(s.workspace.join("data")).unwrap();
    for target in ["/etc", "../../../etc"] {
        let _ = std::fs::remove_file(s.workspace.join("data"));
        std::os::unix::fs::symlink(target, s.workspace.join("data")).unwrap();
        let o = s.sh("ls /data/passwd && echo LEAK");
        assert!(!out(&o).contains("LEAK"), "{target}: {}", out(&o));
        assert_eq!(o.status.code(), Some(125), "{target}: {}", err(&o));
        assert!(err(&o).contains("leads out of it"), "{target}: {}", err(&o));
    }
    // A link that stays inside the workspace is followed.
    std::fs::remove_file(s.workspace.join("data")).unwrap();
    std::fs::create_dir(s.workspace.join("real")).unwrap();
    std::fs::write(s.workspace.join("real/f"), "linked\n").unwrap();
    std::os::unix::fs::symlink("real", s.workspace.join("data")).unwrap();
    let o = s.sh("cat /data/f");
    assert_eq!(out(&o), "linked\n", "{}", err(&o));
}

/// Direct mode's private HOME is named for its phantom and pid namespace; one that a
/// killed phantom (SIGKILL) left in the shared temporary directory is removed by the
/// next direct-mode run, and nothing else is: not another live runtime's, not one of
/// another pid namespace's, not one that is not ours.
#[test]
fn a_killed_direct_runs_private_home_is_removed_by_the_next() {
    let tmp = std::env::temp_dir();
    let ns = std::fs::metadata("/proc/self/ns/pid")
        .map(|m| {
            use std::os::unix::fs::MetadataExt;
            format!("{:x}", m.ino())
        })
        .unwrap_or_default();
    let mut gone = Command::new("/bin/true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    let stale = tmp.join(format!("phantom-home-{dead}-0.{ns}-testleft"));
    let live = tmp.join(format!(
        "phantom-home-{}-0.{ns}-testlive",
        std::process::id()
    ));
    let elsewhere = tmp.join(format!("phantom-home-{dead}-0.1234abcd-testother"));
    let others = tmp.join(format!("phantom-home-{dead}-0.{ns}-testothers"));
    for d in [&stale, &live, &elsewhere, &others] {
        std::fs::create_dir(d).unwrap();
        std::fs::write(d.join(".profile"), "x").unwrap();
    }
    // Another user's (as root, where there can be one): named like a stale one.
    give_to(&others, 2001);
    let others_is_someone_elses = is_root();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = direct_run(dir.path());
    if !is_root() {
        c.arg("--allow-degraded");
    }
    let o = c
        .args(["--", "/bin/sh", "-c", "echo $HOME"])
        .stdin(Stdio::null())
        .output()
        .expect("phantom runs");
    let home = out(&o);
    let removed = !stale.exists();
    let kept = live.exists() && elsewhere.exists();
    let others_kept = others.exists();
    for d in [&stale, &live, &elsewhere, &others] {
        let _ = std::fs::remove_dir_all(d);
    }
    assert!(
        others_kept || !others_is_someone_elses,
        "another user's HOME was removed"
    );
    assert!(o.status.success(), "{}", err(&o));
    assert!(removed, "the stale HOME is still there");
    assert!(kept, "a HOME that was not stale was removed");
    // The run's own is named for it, and gone with it.
    assert!(home.contains("phantom-home-"), "{home}");
    assert!(!Path::new(home.trim()).exists(), "{home}");
}

/// `phantom run --profile shell --mode direct --workspace WORKSPACE`, to be completed.
fn direct_run(workspace: &Path) -> Command {
    let mut c = Command::new(phantom());
    c.args([
        "run",
        "--profile",
        "shell",
        "--mode",
        "direct",
        "--workspace",
    ])
    .arg(workspace);
    c
}

/// As root the workload runs as the workspace's owner, so who that is must be the
/// caller's choice: a workspace reached through another user's symbolic link (alice's
/// link to bob's private directory) is refused, naming the directory to give instead; a
/// link of root's, or of the owner's, is followed.
#[test]
fn as_root_a_workspace_through_another_users_link_is_refused() {
    if !is_root() {
        return; // rootless, the workload is the caller whatever the path
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let bob = dir.path().join("bob");
    std::fs::create_dir(&bob).unwrap();
    give_to(&bob, 2002);
    let link = dir.path().join("alices-project");
    std::os::unix::fs::symlink(&bob, &link).unwrap();
    std::os::unix::fs::lchown(&link, Some(2001), Some(2001)).unwrap();
    let bundle = bundle_file(dir.path(), "t", "");
    let run = || {
        Command::new(phantom())
            .arg("exec")
            .arg(&bundle)
            .arg("--workspace")
            .arg(&link)
            .args([
                "--",
                "/bin/sh",
                "-c",
                "grep Uid /proc/self/status; cat /proc/self/uid_map",
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let o = run();
    assert_eq!(o.status.code(), Some(125), "{}", out(&o));
    assert!(err(&o).contains("symbolic link of uid 2001"), "{}", err(&o));
    assert!(
        err(&o).contains(&format!("--workspace {}", bob.display())),
        "{}",
        err(&o)
    );
    std::os::unix::fs::lchown(&link, Some(0), Some(0)).unwrap();
    let o = run();
    assert!(o.status.success(), "{}", err(&o));
    // (Inside, the policy's uid; the host's is bob's: the map says so.)
    assert!(out(&o).contains("1000"), "{}", out(&o));
    assert!(
        out(&o).contains("1000       2002          1"),
        "{}",
        out(&o)
    );
}

#[test]
fn a_bundle_that_is_not_a_regular_file_is_refused_unread() {
    // /dev/zero was once read until memory ran out; a FIFO was waited on forever.
    let s = sandbox("");
    let fifo = s.dir.path().join("fifo.pfb");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    for bundle in [Path::new("/dev/zero"), fifo.as_path()] {
        let o = Command::new(phantom())
            .arg("exec")
            .arg(bundle)
            .arg("--workspace")
            .arg(&s.workspace)
            .args(["--", "/bin/true"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(125), "{}", err(&o));
        assert!(err(&o).contains("not a regular file"), "{}", err(&o));
    }
}

/// A seccomp agent for the tests, in Python: takes one handover on `socket` (the
/// state, as JSON, to `log`'s first line), then answers every notification — `mkdir`
/// with ETXTBSY, anything else by letting it run (SECCOMP_USER_NOTIF_FLAG_CONTINUE) —
/// logging `pid nr` of each, until the listener's processes are gone.
const TEST_AGENT: &str = r#"
import socket, struct, fcntl, sys, os
path, log = sys.argv[1], open(sys.argv[2], "w", buffering=1)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path + ".tmp"); s.listen(1); os.rename(path + ".tmp", path)
c, _ = s.accept()
msg, fds, _, _ = socket.recv_fds(c, 65536, 4)
log.write(msg.decode() + "\n")
RECV, SEND, CONTINUE, MKDIR = 0xc0502100, 0xc0182101, 1, 83
while True:
    buf = bytearray(80)
    try:
        fcntl.ioctl(fds[0], RECV, buf)
    except OSError:
        break
    ident, pid, _, nr = struct.unpack_from("<QIIi", buf)
    log.write(f"{pid} {nr}\n")
    answer = struct.pack("<QqiI", ident, 0, -26, 0) if nr == MKDIR else struct.pack("<QqiI", ident, 0, 0, CONTINUE)
    try:
        fcntl.ioctl(fds[0], SEND, bytearray(answer))
    except OSError:
        pass  # the caller was killed meanwhile
"#;

/// The test agent listening at `<dir>/agent.sock`; its log is `<dir>/agent.log`.
fn start_agent(dir: &Path) -> (std::process::Child, PathBuf, PathBuf) {
    start_agent_from(dir, TEST_AGENT)
}

/// [`start_agent`] with another agent's source.
fn start_agent_from(dir: &Path, source: &str) -> (std::process::Child, PathBuf, PathBuf) {
    let script = dir.join("agent.py");
    std::fs::write(&script, source).unwrap();
    let socket = dir.join("agent.sock");
    let log = dir.join("agent.log");
    let child = Command::new("python3")
        .arg(&script)
        .arg(&socket)
        .arg(&log)
        .spawn()
        .expect("python3 runs the test agent");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !socket.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the agent never listened"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    (child, socket, log)
}

#[test]
fn notify_rules_are_answered_by_the_seccomp_agent() {
    if !Path::new("/usr/bin/python3").exists() {
        return;
    }
    // Left to the agent: mkdir, and the very calls the workload makes after its filter
    // is on (handing the listener over, closing, writing, execve), which once waited
    // for an agent that had not yet got the listener (runc and crun hung so).
    let s = sandbox("syscalls {\n    notify mkdir, execve, sendmsg, close, write\n}\n");
    let (mut agent, socket, log) = start_agent(s.dir.path());
    let o = s.run(
        &["--seccomp-agent", socket.to_str().unwrap()],
        &["/bin/sh", "-c", "echo before; mkdir /tmp/d; echo after"],
    );
    let _ = agent.kill();
    let _ = agent.wait();
    assert_eq!(out(&o), "before\nafter\n", "{}", err(&o));
    assert!(err(&o).contains("Text file busy"), "{}", err(&o));
    let log = std::fs::read_to_string(&log).unwrap();
    let mut lines = log.lines();
    let state: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(state["fds"], serde_json::json!(["seccompFd"]), "{state}");
    assert_eq!(state["state"]["bundle"], s.bundle.display().to_string());
    assert_eq!(state["state"]["annotations"]["org.phantom.policy"], "t");
    // The pid is the workload's as the agent sees it: the first call it is asked
    // about is the workload's execve (59 on x86_64), from that pid.
    let pid = state["pid"].as_u64().unwrap();
    let first = lines.next().unwrap();
    assert!(first.starts_with(&format!("{pid} ")), "{first} / {pid}");
    assert!(log.lines().any(|l| l.ends_with(" 83")), "{log}");
}

#[test]
fn notify_rules_without_an_agent_are_refused_unless_degraded() {
    let s = sandbox("syscalls {\n    notify mkdir\n}\n");
    let run = |extra: &[&str]| {
        Command::new(phantom())
            .arg("exec")
            .arg(&s.bundle)
            .arg("--workspace")
            .arg(&s.workspace)
            .args(extra)
            .args(["--", "/bin/mkdir", "/tmp/d"])
            .output()
            .unwrap()
    };
    if is_root() {
        let o = run(&[]);
        assert_eq!(o.status.code(), Some(125), "{}", err(&o));
        assert!(err(&o).contains("--seccomp-agent SOCKET"), "{}", err(&o));
    }
    let o = run(&["--allow-degraded"]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(err(&o).contains("Function not implemented"), "{}", err(&o));
    assert!(err(&o).contains("no seccomp agent"), "{}", err(&o));
    // An agent that is not there fails the run before anything starts.
    let missing = s.dir.path().join("no-agent.sock");
    let o = run(&["--seccomp-agent", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(125), "{}", err(&o));
    assert!(err(&o).contains("the seccomp agent at"), "{}", err(&o));
    // An agent for a bundle that leaves nothing to one is a mistake, said so.
    let plain = sandbox("");
    let o = plain.run(
        &["--seccomp-agent", missing.to_str().unwrap()],
        &["/bin/true"],
    );
    assert_eq!(o.status.code(), Some(125), "{}", err(&o));
    assert!(err(&o).contains("no `notify` rule"), "{}", err(&o));
}

#[test]
fn an_agent_gone_before_answering_fails_the_calls_instead_of_hanging() {
    if !Path::new("/usr/bin/python3").exists() {
        return;
    }
    // It takes the listener and closes it at once, so the workload's execve, left to
    // it, has no supervisor: the kernel fails it (ENOSYS) once no copy of the listener
    // is open. (The workload's own copy once stayed open across that execve, which
    // then waited for ever.)
    let careless = TEST_AGENT.replace(
        "log.write(msg.decode() + \"\\n\")",
        "log.write(msg.decode() + \"\\n\"); os.close(fds[0]); sys.exit(0)",
    );
    assert_ne!(careless, TEST_AGENT);
    let s = sandbox("syscalls {\n    notify execve\n}\n");
    let (mut agent, socket, _) = start_agent_from(s.dir.path(), &careless);
    let o = s.run(
        &[
            "--seccomp-agent",
            socket.to_str().unwrap(),
            "--timeout",
            "30s",
        ],
        &["/bin/true"],
    );
    let _ = agent.kill();
    let _ = agent.wait();
    assert_eq!(o.status.code(), Some(126), "{}", err(&o));
}

#[test]
fn parked_and_persistent_sandboxes_refuse_notify_rules() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("n.pfp");
    std::fs::write(
        &policy,
        "policy \"n\"\nextends \"base\"\nsyscalls {\n    notify mkdir\n}\n",
    )
    .unwrap();
    let o = Command::new(phantom())
        .env("PHANTOM_STATE_DIR", dir.path())
        .env("PHANTOM_CACHE_DIR", dir.path().join(".cache"))
        .env_remove("PHANTOM_CONFIG_PATH")
        .args(["create", "--name", "n", "--allow-degraded", "--profile"])
        .arg(&policy)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_ne!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        err(&o).contains("a persistent workspace takes no seccomp agent"),
        "{}",
        err(&o)
    );
}

#[test]
fn with_ports_to_bind_only_a_bound_socket_listens() {
    // A port free now on the host's loopback, for the sandbox to bind.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = sandbox(&format!(
        "network {{\n    connect [{port}]\n    bind [{port}]\n}}"
    ));
    let script = format!(
        "python3 -c '
import errno, os, socket
def attempt(name, call):
    try:
        call()
        print(name, \"ok\", flush=True)
    except OSError as e:
        print(name, errno.errorcode[e.errno], flush=True)
# listen() on a socket never bound would take an ephemeral port on every interface,
# which no Landlock rule sees: phantom refuses it.
attempt(\"unbound\", lambda: socket.socket().listen())
attempt(\"unbound6\", lambda: socket.socket(socket.AF_INET6).listen())
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
attempt(\"bind\", lambda: server.bind((\"127.0.0.1\", {port})))
attempt(\"listen\", lambda: server.listen(4))
attempt(\"connect\", lambda: socket.create_connection((\"127.0.0.1\", {port}), timeout=2))
attempt(\"accept\", lambda: server.accept())
# Not a socket, or no descriptor: listen fails as it would.
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
def raw_listen(fd):
    if libc.listen(fd, 1) != 0:
        raise OSError(ctypes.get_errno(), \"listen\")
attempt(\"file\", lambda: raw_listen(os.open(\"/tmp\", os.O_RDONLY)))
attempt(\"no descriptor\", lambda: raw_listen(999))
unix = socket.socket(socket.AF_UNIX)
unix.bind(\"/tmp/s\")
attempt(\"unix\", lambda: unix.listen())
# phantom made that call; the listener still names the workload user to its clients.
import struct
client = socket.socket(socket.AF_UNIX)
client.connect(\"/tmp/s\")
peer_uid = struct.unpack(\"3i\", client.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]
print(\"peer is the workload\", peer_uid == os.getuid(), flush=True)
# From a thread that does not lead its process (Java servers, threaded Python).
import threading
def in_thread():
    attempt(\"thread unbound\", lambda: socket.socket().listen())
thread = threading.Thread(target=in_thread)
thread.start()
thread.join()
# From another process of the workload too.
pid = os.fork()
if pid == 0:
    attempt(\"child unbound\", lambda: socket.socket().listen())
    os._exit(0)
os.waitpid(pid, 0)'"
    );
    let o = s.sh(&script);
    assert_eq!(
        out(&o).lines().collect::<Vec<_>>(),
        [
            "unbound EACCES",
            "unbound6 EACCES",
            "bind ok",
            "listen ok",
            "connect ok",
            "accept ok",
            "file ENOTSOCK",
            "no descriptor EBADF",
            "unix ok",
            "peer is the workload True",
            "thread unbound EACCES",
            "child unbound EACCES"
        ],
        "{}",
        err(&o)
    );
    // (`notify` rules cannot come with these checks, one supervisor to a process:
    // phantomc refuses such a policy, PFP0503, and phantom such a bundle.)
}
