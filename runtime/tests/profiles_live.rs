//! `phantom run --profile` on the real kernel, with the stdlib profiles as shipped.
//!
//! Two halves:
//! - **No false denials**: real workloads (Python's standard library, venv and
//!   offline pip, Node and npm, a shell pipeline, `cargo test`, `go test`) succeed
//!   under their profile, in sandbox and in hardened mode.
//! - **The block list**: every item is its own test, run in sandbox and hardened
//!   mode, asserting exactly how the call is refused (killed by seccomp, or which
//!   errno). System calls are issued raw from Python with ctypes (x86_64 numbers),
//!   one sandbox per probe, so a seccomp kill is the sandbox's own exit status
//!   (128 + SIGSYS) together with phantom's "killed by seccomp" note.
//!
//! Plus `phantom run` from awkward places (`/`, a temp dir, an unprivileged user)
//! and what direct mode promises (writes, sockets, signals).
//!
//! Root is needed for cgroups (CI runs as root); otherwise runs pass
//! `--allow-degraded`. Tools that are missing on the host (Go, Node, a Rust
//! toolchain) make their test print why it is skipped and pass.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a test failure"
)]

mod common;
use common::{err, give_tree_to, is_root, out, WORKSPACE_OWNER};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use Outcome::{Allowed, Killed};

const MODES: [&str; 2] = ["sandbox", "hardened"];

/// The interpreter the sandbox sees (the host's /usr, read-only).
const PYTHON: &str = "/usr/bin/python3";

/// Prints why a test does nothing here (seen with `--nocapture`) and says to return.
fn skip(test: &str, why: &str) -> bool {
    eprintln!("{test}: skipped: {why}");
    true
}

fn no_python(test: &str) -> bool {
    !Path::new(PYTHON).exists() && skip(test, "no /usr/bin/python3 on this host")
}

/// A project directory: the workspace (`ws`, the current directory of every run),
/// and phantom's bundle cache, so tests never share `~/.cache`.
/// As root its workspace belongs to `owner`, whose project it is: a user's
/// ([`WORKSPACE_OWNER`]), as the sandbox runs as the workspace's owner; root's for
/// direct mode, whose workload is phantom's caller.
struct Project {
    dir: tempfile::TempDir,
    ws: PathBuf,
    owner: u32,
}

fn project() -> Project {
    project_in(&std::env::temp_dir(), WORKSPACE_OWNER)
}

fn project_in(parent: &Path, owner: u32) -> Project {
    let dir = tempfile::tempdir_in(parent).expect("tempdir");
    let ws = dir.path().join("ws");
    std::fs::create_dir(&ws).expect("workspace");
    give_tree_to(&ws, owner);
    Project { dir, ws, owner }
}

impl Project {
    /// Writes `text` to `rel` in the workspace, creating directories (the owner's).
    fn write(&self, rel: &str, text: &str) {
        let path = self.ws.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
        give_tree_to(&self.ws, self.owner);
    }

    /// `phantom run` in the workspace, with a private cache and no user settings.
    fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_phantom"));
        c.current_dir(&self.ws)
            .env("PHANTOM_CACHE_DIR", self.dir.path().join("cache"))
            .env_remove("PHANTOM_CONFIG_PATH")
            .env_remove("PHANTOM_DEFAULT_PROFILE")
            .env_remove("PHANTOM_NO_CACHE")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, profile: &str, mode: &str, flags: &[&str], cmd: &[&str]) -> Output {
        let mut c = self.command();
        c.args(["run", "--profile", profile, "--mode", mode])
            .args(flags);
        if !is_root() {
            c.arg("--allow-degraded");
        }
        c.arg("--").args(cmd);
        c.output().expect("phantom runs")
    }

    fn sh(&self, profile: &str, mode: &str, script: &str) -> Output {
        self.run(profile, mode, &[], &["/bin/sh", "-c", script])
    }
}

/// Asserts that a workload run succeeded, showing everything it said if not.
fn assert_ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what}: exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        out(o),
        err(o)
    );
}

/// Asserts that the workload printed `line` (one of its self-checks passed).
fn assert_line(o: &Output, line: &str, what: &str) {
    assert!(
        out(o).lines().any(|l| l.trim_end() == line),
        "{what}: expected the line `{line}`\n--- stdout\n{}\n--- stderr\n{}",
        out(o),
        err(o)
    );
}

// ---------------------------------------------------------------------------------
// Raw system calls from Python
// ---------------------------------------------------------------------------------

/// `python3 probe.py NAME`: makes one raw system call and prints `ok` or `errno NAME`.
/// Arguments that would have an effect if a call got through point into the
/// sandbox's own /tmp or at nothing.
const PROBE_PY: &str = r#"
import ctypes, errno, os, sys

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
KEEP = []

def mem(size=256):
    buf = ctypes.create_string_buffer(size)
    KEEP.append(buf)
    return ctypes.addressof(buf)

def cstr(text):
    buf = ctypes.create_string_buffer(text.encode())
    KEEP.append(buf)
    return ctypes.addressof(buf)

AT_FDCWD = -100
KEY_SPEC_SESSION_KEYRING = -3
CLONE_NEWUSER, CLONE_NEWNS, SIGCHLD = 0x10000000, 0x00020000, 17
S_IFCHR, S_IFBLK, S_IFIFO = 0o020000, 0o060000, 0o010000
AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, AF_PACKET = 1, 2, 10, 16, 17
SOCK_STREAM, SOCK_DGRAM, SOCK_RAW = 1, 2, 3
TIOCSTI, TIOCLINUX, TIOCSETD, TIOCEXCL, TCXONC = 0x5412, 0x541C, 0x5423, 0x540C, 0x540A
S_IFREG, S_ISUID, S_ISGID = 0o100000, 0o4000, 0o2000
O_WRONLY, O_CREAT = 0o1, 0o100

PROBES = {
    "ptrace_traceme": lambda: (101, 0, 0, 0, 0),
    "ptrace_attach_init": lambda: (101, 16, 1, 0, 0),
    "process_vm_readv": lambda: (310, 1, mem(), 1, mem(), 1, 0),
    "mount_tmpfs": lambda: (165, cstr("none"), cstr("/tmp"), cstr("tmpfs"), 0, 0),
    "umount2": lambda: (166, cstr("/tmp"), 0),
    "fsopen": lambda: (430, cstr("tmpfs"), 0),
    "unshare_newuser": lambda: (272, CLONE_NEWUSER),
    "unshare_newns": lambda: (272, CLONE_NEWNS),
    "clone_newuser": lambda: (56, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0),
    "clone3": lambda: (435, mem(88), 88),
    "keyctl": lambda: (250, 0, KEY_SPEC_SESSION_KEYRING, 0),
    "add_key": lambda: (248, cstr("user"), cstr("k"), mem(), 1, KEY_SPEC_SESSION_KEYRING),
    "bpf": lambda: (321, 5, mem(128), 128),
    "perf_event_open": lambda: (298, mem(128), 0, -1, -1, 0),
    "io_uring_setup": lambda: (425, 8, mem(120)),
    "userfaultfd": lambda: (323, 0),
    "socket_packet_raw": lambda: (41, AF_PACKET, SOCK_RAW, 0),
    "socket_packet_dgram": lambda: (41, AF_PACKET, SOCK_DGRAM, 0),
    "socket_inet_raw": lambda: (41, AF_INET, SOCK_RAW, 1),
    "socket_netlink_route_raw": lambda: (41, AF_NETLINK, SOCK_RAW, 0),
    "socket_netlink_route_dgram": lambda: (41, AF_NETLINK, SOCK_DGRAM, 0),
    "socket_inet_stream": lambda: (41, AF_INET, SOCK_STREAM, 0),
    "socket_inet6_stream": lambda: (41, AF_INET6, SOCK_STREAM, 0),
    "socket_unix_stream": lambda: (41, AF_UNIX, SOCK_STREAM, 0),
    "ioctl_tiocsti": lambda: (16, 0, TIOCSTI, cstr("x")),
    "ioctl_tiocsti_high_bits": lambda: (16, 0, (1 << 32) | TIOCSTI, cstr("x")),
    "ioctl_tioclinux": lambda: (16, 0, TIOCLINUX, cstr("\x02")),
    "ioctl_tiocsetd": lambda: (16, 0, TIOCSETD, mem(4)),
    "ioctl_tiocexcl": lambda: (16, 0, TIOCEXCL, 0),
    "ioctl_tcxonc": lambda: (16, 0, TCXONC, 0),
    "chmod_setuid": lambda: (90, cstr("/tmp/missing"), S_ISUID | 0o755),
    "fchmod_setgid": lambda: (91, 1, S_ISGID | 0o755),
    "fchmodat_setuid_high_bits": lambda: (268, AT_FDCWD, cstr("/tmp/missing"), (1 << 32) | S_ISUID | 0o755),
    "fchmodat2_setgid": lambda: (452, AT_FDCWD, cstr("/tmp/missing"), S_ISGID | 0o755, 0),
    "open_creat_setuid": lambda: (2, cstr("/tmp/suid"), O_WRONLY | O_CREAT, S_ISUID | 0o755),
    "openat_creat_setgid": lambda: (257, AT_FDCWD, cstr("/tmp/sgid"), O_WRONLY | O_CREAT, S_ISGID | 0o755),
    "creat_setuid": lambda: (85, cstr("/tmp/suid"), S_ISUID | 0o755),
    "mknod_setuid_file": lambda: (133, cstr("/tmp/suid"), S_IFREG | S_ISUID | 0o755, 0),
    "openat2": lambda: (437, AT_FDCWD, cstr("/tmp"), mem(24), 24),
    "chmod_plain": lambda: (90, cstr("/tmp/missing"), 0o1777),
    "chroot": lambda: (161, cstr("/tmp")),
    "open_by_handle_at": lambda: (304, AT_FDCWD, mem(), 0),
    "name_to_handle_at": lambda: (303, AT_FDCWD, cstr("/tmp"), mem(), mem(), 0),
    "reboot": lambda: (169, 0xFEE1DEAD, 672274793, 0x01234567, 0),
    "kexec_load": lambda: (246, 0, 0, 0, 0),
    "init_module": lambda: (175, mem(), 0, cstr("")),
    "finit_module": lambda: (313, 0, cstr(""), 0),
    "delete_module": lambda: (176, cstr("loop"), 0),
    "mknod_char": lambda: (133, cstr("/tmp/null2"), S_IFCHR | 0o666, (1 << 8) | 3),
    "mknodat_block": lambda: (259, AT_FDCWD, cstr("/tmp/vda2"), S_IFBLK | 0o666, (254 << 8) | 0),
    "mknod_fifo": lambda: (133, cstr("/tmp/fifo"), S_IFIFO | 0o666, 0),
    "personality_addr_no_randomize": lambda: (135, 0x0040000),
    "personality_read_implies_exec": lambda: (135, 0x0400000),
    "personality_linux32": lambda: (135, 0x0008),
}

name = sys.argv[1]
nr, *args = PROBES[name]()
result = libc.syscall(ctypes.c_long(nr), *[ctypes.c_ulong(a & (2**64 - 1)) for a in args])
code = ctypes.get_errno()
if result == 0 and name == "clone_newuser":
    os._exit(0)  # the child of a clone that got through
print("ok" if result >= 0 else "errno " + errno.errorcode.get(code, str(code)))
"#;

/// How a probe (or any refused operation) ended.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    /// The call succeeded.
    Allowed,
    /// The call failed with this errno.
    Errno(String),
    /// seccomp killed the process (the sandbox exited 128 + SIGSYS, and said why).
    Killed,
    /// Anything else: the probe itself is broken.
    Broken(String),
}

fn errno(name: &str) -> Outcome {
    Outcome::Errno(name.into())
}

fn outcome(o: &Output) -> Outcome {
    let text = out(o);
    match o.status.code() {
        Some(159) if err(o).contains("killed by seccomp") => Killed,
        Some(0) if text.trim() == "ok" => Allowed,
        Some(0) if text.starts_with("errno ") => Outcome::Errno(text[6..].trim().into()),
        code => Outcome::Broken(format!(
            "exit {code:?}, stdout {text:?}, stderr {:?}",
            err(o)
        )),
    }
}

impl Project {
    fn with_probe() -> Project {
        let p = project();
        p.write("probe.py", PROBE_PY);
        p
    }

    fn probe(&self, profile: &str, mode: &str, name: &str) -> Outcome {
        outcome(&self.run(profile, mode, &[], &[PYTHON, "probe.py", name]))
    }
}

/// Runs each probe under `profile`, in its own sandbox, in sandbox and hardened
/// mode, and asserts the outcome: `(probe, in sandbox mode, in hardened mode)`.
fn assert_probes(test: &str, profile: &str, cases: &[(&str, Outcome, Outcome)]) {
    if no_python(test) {
        return;
    }
    let p = Project::with_probe();
    for (probe, sandbox, hardened) in cases {
        for (mode, expected) in [("sandbox", sandbox), ("hardened", hardened)] {
            let got = p.probe(profile, mode, probe);
            assert_eq!(
                &got, expected,
                "{test}: `{probe}` under {profile} in {mode} mode must end as {expected:?}"
            );
        }
    }
}

/// `python3 write.py PATH...`: tries to create each path and prints `PATH ok` or
/// `PATH ERRNO`, one line each.
const WRITE_PY: &str = r#"
import errno, sys
for path in sys.argv[1:]:
    try:
        with open(path, "w") as f:
            f.write("x")
        print(path, "ok")
    except OSError as e:
        print(path, errno.errorcode.get(e.errno, str(e.errno)))
"#;

/// Tries to create `paths` in a sandbox and returns each path's result.
fn try_writes(p: &Project, profile: &str, mode: &str, paths: &[&str]) -> BTreeMap<String, String> {
    p.write("write.py", WRITE_PY);
    let mut cmd = vec![PYTHON, "write.py"];
    cmd.extend_from_slice(paths);
    let o = p.run(profile, mode, &[], &cmd);
    assert_ok(&o, &format!("write probes in {mode} mode"));
    out(&o)
        .lines()
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(path, result)| (path.to_string(), result.to_string()))
        .collect()
}

// ---------------------------------------------------------------------------------
// No false denials: real workloads
// ---------------------------------------------------------------------------------

const PYTHON_STDLIB_PY: &str = r#"
import asyncio, multiprocessing as mp, os, sqlite3, ssl, subprocess, threading
from multiprocessing import shared_memory

def square(x):
    return x * x

def main():
    seen = []
    lock = threading.Lock()
    def work(i):
        with lock:
            seen.append(i)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("threads", sorted(seen) == list(range(8)))

    for method in ("fork", "spawn", "forkserver"):
        with mp.get_context(method).Pool(2) as pool:
            print("pool", method, pool.map(square, range(6)))

    with mp.Manager() as manager:
        d = manager.dict(a=1)
        print("manager", dict(d))
    shm = shared_memory.SharedMemory(create=True, size=16)
    shm.buf[0] = 42
    print("shared_memory", shm.buf[0])
    shm.close()
    shm.unlink()

    done = subprocess.run(["sh", "-c", "echo child"], capture_output=True, text=True, check=True)
    print("subprocess", done.stdout.strip())

    async def amain():
        await asyncio.sleep(0.01)
        proc = await asyncio.create_subprocess_exec("echo", "async-child", stdout=asyncio.subprocess.PIPE)
        line = (await proc.stdout.read()).decode().strip()
        await proc.wait()
        results = await asyncio.gather(*(asyncio.sleep(0.01, result=i) for i in range(3)))
        return line, results
    print("asyncio", *asyncio.run(amain()))

    db = sqlite3.connect("/workspace/probe.db")
    db.execute("pragma journal_mode=wal")
    db.execute("create table t (x integer)")
    db.executemany("insert into t values (?)", [(i,) for i in range(10)])
    db.commit()
    print("sqlite3", db.execute("select sum(x) from t").fetchone()[0])
    db.close()

    ctx = ssl.create_default_context()
    ctx.load_default_certs()
    print("ssl", ctx.verify_mode == ssl.CERT_REQUIRED, ctx.cert_store_stats()["x509_ca"])

if __name__ == "__main__":
    main()
"#;

#[test]
fn python_threads_multiprocessing_subprocess_asyncio_sqlite_and_ssl_work() {
    let test = "python_threads_multiprocessing_subprocess_asyncio_sqlite_and_ssl_work";
    if no_python(test) {
        return;
    }
    // The host's trust store, as the sandbox sees it (base mounts /etc/ssl/certs).
    let host_has_certs = Path::new("/etc/ssl/certs/ca-certificates.crt").exists();
    for mode in MODES {
        let p = project();
        p.write("stdlib_check.py", PYTHON_STDLIB_PY);
        let o = p.run("python-dev", mode, &[], &[PYTHON, "stdlib_check.py"]);
        let what = format!("python-dev, {mode} mode");
        assert_ok(&o, &what);
        assert_line(&o, "threads True", &format!("{what}: threads"));
        for method in ["fork", "spawn", "forkserver"] {
            assert_line(
                &o,
                &format!("pool {method} [0, 1, 4, 9, 16, 25]"),
                &format!("{what}: multiprocessing Pool ({method})"),
            );
        }
        assert_line(&o, "manager {'a': 1}", &format!("{what}: Manager"));
        assert_line(&o, "shared_memory 42", &format!("{what}: shared_memory"));
        assert_line(&o, "subprocess child", &format!("{what}: subprocess"));
        assert_line(
            &o,
            "asyncio async-child [0, 1, 2]",
            &format!("{what}: asyncio"),
        );
        assert_line(&o, "sqlite3 45", &format!("{what}: sqlite3 (WAL)"));
        let ssl = out(&o)
            .lines()
            .find_map(|l| l.strip_prefix("ssl True ").map(str::to_string))
            .unwrap_or_else(|| panic!("{what}: ssl context\n{}\n{}", out(&o), err(&o)));
        if host_has_certs {
            let cas: u32 = ssl.trim().parse().expect("a count");
            assert!(cas > 0, "{what}: no CA certificates loaded");
        }
    }
}

/// A pure-Python wheel, written by the host's Python before the sandbox runs:
/// NAME-VER.dist-info/{METADATA,WHEEL,RECORD} and one module.
const MAKE_WHEEL_PY: &str = r#"
import base64, hashlib, sys, zipfile
out = sys.argv[1]
info = "phantomprobe-0.1.dist-info"
files = {
    "phantomprobe/__init__.py": "VALUE = 'wheel-ok'\n",
    info + "/METADATA": "Metadata-Version: 2.1\nName: phantomprobe\nVersion: 0.1\n",
    info + "/WHEEL": "Wheel-Version: 1.0\nGenerator: profiles_live\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = []
for name, text in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
    record.append(f"{name},sha256={digest},{len(text.encode())}")
record.append(info + "/RECORD,,")
files[info + "/RECORD"] = "\n".join(record) + "\n"
with zipfile.ZipFile(out + "/phantomprobe-0.1-py3-none-any.whl", "w") as z:
    for name, text in files.items():
        z.writestr(name, text)
"#;

#[test]
fn python_venv_and_offline_pip_install_of_a_local_wheel_work() {
    let test = "python_venv_and_offline_pip_install_of_a_local_wheel_work";
    if no_python(test) {
        return;
    }
    let host_venv = Command::new(PYTHON)
        .args(["-c", "import ensurepip, venv"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !host_venv
        && skip(
            test,
            "the host's Python has no venv/ensurepip (python3-venv)",
        )
    {
        return;
    }
    for mode in MODES {
        let p = project();
        std::fs::create_dir(p.ws.join("wheels")).expect("mkdir");
        let made = Command::new(PYTHON)
            .args(["-c", MAKE_WHEEL_PY])
            .arg(p.ws.join("wheels"))
            .output()
            .expect("host python");
        assert_ok(&made, "building the wheel on the host");
        give_tree_to(&p.ws, p.owner);
        // One venv in /tmp, one in the workspace (it survives the sandbox).
        let o = p.sh(
            "python-dev",
            mode,
            "set -e
             python3 -m venv /tmp/venv
             /tmp/venv/bin/pip install -q --no-index --find-links /workspace/wheels phantomprobe
             /tmp/venv/bin/python -c 'import phantomprobe; print(\"tmp venv\", phantomprobe.VALUE)'
             python3 -m venv /workspace/.venv
             /workspace/.venv/bin/pip install -q --no-index --find-links /workspace/wheels phantomprobe
             /workspace/.venv/bin/python -c 'import phantomprobe; print(\"workspace venv\", phantomprobe.VALUE)'",
        );
        let what = format!("python-dev, {mode} mode: venv + pip install --no-index");
        assert_ok(&o, &what);
        assert_line(&o, "tmp venv wheel-ok", &what);
        assert_line(&o, "workspace venv wheel-ok", &what);
        assert!(
            p.ws.join(".venv/bin/python").exists(),
            "{what}: the workspace venv is not on the host"
        );
    }
}

const NODE_CHECK_JS: &str = r#"
const fs = require('fs');
const cp = require('child_process');
const { Worker } = require('worker_threads');

fs.mkdirSync('/workspace/out', { recursive: true });
fs.writeFileSync('/workspace/out/data.txt', 'hello');
console.log('fs', fs.readFileSync('/workspace/out/data.txt', 'utf8'), fs.readdirSync('/workspace/out').join(','));
console.log('execSync', cp.execSync('echo child').toString().trim());
const r = cp.spawnSync('sh', ['-c', 'echo spawned; exit 3']);
console.log('spawnSync', r.stdout.toString().trim(), r.status);
cp.exec('echo async-child', (error, stdout) => {
    console.log('exec', error ? error.message : stdout.trim());
    const w = new Worker(
        'const { parentPort } = require("worker_threads"); parentPort.postMessage(6 * 7);',
        { eval: true });
    w.on('message', (m) => { console.log('worker', m); w.terminate(); });
    w.on('error', (e) => { console.log('worker error', e.message); process.exitCode = 3; });
});
"#;

const PACKAGE_JSON: &str = r#"{
  "name": "probe",
  "version": "1.0.0",
  "private": true,
  "scripts": {
    "greet": "node -e \"console.log('npm run ok')\"",
    "test": "node check.js"
  }
}
"#;

#[test]
fn node_fs_child_process_worker_threads_and_npm_run_work_offline() {
    let test = "node_fs_child_process_worker_threads_and_npm_run_work_offline";
    let in_usr = |tool: &str| {
        Path::new("/usr/bin").join(tool).exists() || Path::new("/usr/local/bin").join(tool).exists()
    };
    if !(in_usr("node") && in_usr("npm")) && skip(test, "Node.js or npm is not installed in /usr") {
        return;
    }
    for mode in MODES {
        let p = project();
        p.write("check.js", NODE_CHECK_JS);
        p.write("package.json", PACKAGE_JSON);
        let o = p.sh(
            "node-dev",
            mode,
            "node check.js && npm run greet && npm test",
        );
        let what = format!("node-dev, {mode} mode");
        assert_ok(&o, &what);
        assert_line(&o, "fs hello data.txt", &format!("{what}: fs"));
        assert_line(&o, "execSync child", &format!("{what}: execSync"));
        assert_line(&o, "spawnSync spawned 3", &format!("{what}: spawnSync"));
        assert_line(&o, "exec async-child", &format!("{what}: exec"));
        assert_line(&o, "worker 42", &format!("{what}: worker_threads"));
        assert_line(&o, "npm run ok", &format!("{what}: npm run"));
        assert_eq!(
            out(&o).matches("worker 42").count(),
            2,
            "{what}: `npm test` runs check.js again\n{}",
            out(&o)
        );
    }
}

#[test]
fn shell_pipeline_of_coreutils_grep_sed_awk_find_and_tar_works() {
    for mode in MODES {
        let p = project();
        p.write("src/a.txt", "alpha 1\nbeta 2\ngamma 3\n");
        p.write("src/sub/b.txt", "delta 4\nalpha 5\n");
        p.write("src/sub/deeper/c.log", "alpha 100\n");
        let o = p.run(
            "shell",
            mode,
            &[],
            &[
                "/bin/bash",
                "-c",
                r#"set -euo pipefail
find src -name '*.txt' | sort | xargs cat | grep alpha | sed 's/alpha/ALPHA/' | awk '{ s += $2 } END { print "sum", s }'
grep -rl alpha src | sort | tr '\n' ' ' | sed 's/ $/\n/'
tar -czf /tmp/src.tgz src && mkdir -p out && tar -xzf /tmp/src.tgz -C out && diff -r src out/src && echo "tar roundtrip ok"
sort -k2 -n -r src/a.txt | head -n 1 | cut -d ' ' -f 1 | tr a-z A-Z
wc -l < src/sub/b.txt
mkfifo /tmp/fifo && { echo "through a fifo" > /tmp/fifo & } && cat /tmp/fifo && wait
sha256sum src/a.txt | cut -c 1-8 > out/sum && cat out/sum | wc -c
find out -type f | wc -l"#,
            ],
        );
        let what = format!("shell, {mode} mode");
        assert_ok(&o, &what);
        assert_eq!(
            out(&o),
            "sum 6\nsrc/a.txt src/sub/b.txt src/sub/deeper/c.log\ntar roundtrip ok\nGAMMA\n2\nthrough a fifo\n9\n4\n",
            "{what}\n--- stderr\n{}",
            err(&o)
        );
        assert!(
            p.ws.join("out/src/sub/deeper/c.log").exists(),
            "{what}: results not in the workspace on the host"
        );
    }
}

/// Where the host's Rust toolchain is, as rust-dev.pfp finds it; the extra flags
/// that profile needs for it; None if there is none it can use.
fn rust_toolchain() -> Option<Vec<&'static str>> {
    let home = std::env::var_os("HOME").map(PathBuf::from)?;
    if home.join(".cargo/bin/cargo").exists() && home.join(".rustup").is_dir() {
        return Some(vec![]);
    }
    if Path::new("/usr/local/cargo/bin/cargo").exists() && Path::new("/usr/local/rustup").is_dir() {
        // The official Docker images; rust-dev.pfp says to set RUSTUP_HOME for them.
        return Some(vec!["--env", "RUSTUP_HOME=/usr/local/rustup"]);
    }
    Path::new("/usr/bin/cargo").exists().then(Vec::new)
}

#[test]
fn cargo_test_of_a_small_crate_works_offline() {
    let test = "cargo_test_of_a_small_crate_works_offline";
    let Some(flags) = rust_toolchain() else {
        skip(
            test,
            "no Rust toolchain where rust-dev looks (~/.cargo + ~/.rustup, /usr/local/cargo, /usr/bin)",
        );
        return;
    };
    for mode in MODES {
        let p = project();
        p.write(
            "Cargo.toml",
            "[package]\nname = \"probe\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n",
        );
        p.write(
            "src/lib.rs",
            "pub fn add(a: u32, b: u32) -> u32 {\n    a + b\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn adds() {\n        let t = std::thread::spawn(|| super::add(2, 2));\n        assert_eq!(t.join().unwrap(), 4);\n    }\n}\n",
        );
        // Through sh: `phantom run -- cargo` itself is looked up on the host's PATH
        // (see command_is_looked_up_on_the_sandbox_path).
        let o = p.run(
            "rust-dev",
            mode,
            &flags,
            &["/bin/sh", "-c", "cargo test --offline 2>&1"],
        );
        let what = format!("rust-dev, {mode} mode: cargo test --offline");
        assert_ok(&o, &what);
        assert_line(&o, "test tests::adds ... ok", &what);
        assert!(
            p.ws.join("target/debug").is_dir(),
            "{what}: target/ is not in the workspace"
        );
    }
}

#[test]
fn go_test_of_a_small_module_works_offline() {
    let test = "go_test_of_a_small_module_works_offline";
    // The directories go-dev.pfp puts on PATH, as the host has them.
    let installed = [
        "/usr/local/go/bin/go",
        "/usr/lib/go/bin/go",
        "/usr/local/bin/go",
        "/usr/bin/go",
    ]
    .iter()
    .any(|g| Path::new(g).exists());
    if !installed
        && skip(
            test,
            "`go` is not installed (scripts/test.sh installs golang-go where it can)",
        )
    {
        return;
    }
    for mode in MODES {
        let p = project();
        p.write("go.mod", "module example.com/probe\n\ngo 1.18\n");
        p.write(
            "probe.go",
            "package probe\n\n// Add adds.\nfunc Add(a, b int) int { return a + b }\n",
        );
        p.write(
            "probe_test.go",
            r#"package probe

import (
	"os/exec"
	"strings"
	"testing"
)

func TestAdd(t *testing.T) {
	done := make(chan int)
	go func() { done <- Add(2, 2) }()
	if got := <-done; got != 4 {
		t.Fatalf("Add(2, 2) = %d", got)
	}
	out, err := exec.Command("echo", "child").Output()
	if err != nil || strings.TrimSpace(string(out)) != "child" {
		t.Fatalf("os/exec: %v %q", err, out)
	}
}
"#,
        );
        let o = p.run(
            "go-dev",
            mode,
            &["--env", "GOFLAGS=-mod=mod", "--env", "GOTOOLCHAIN=local"],
            &[
                "/bin/sh",
                "-c",
                "go test -v ./... 2>&1 && go vet ./... && echo vet ok",
            ],
        );
        let what = format!("go-dev, {mode} mode: go test ./...");
        assert_ok(&o, &what);
        assert!(
            out(&o).contains("--- PASS: TestAdd"),
            "{what}: TestAdd did not pass\n{}",
            out(&o)
        );
        assert_line(&o, "vet ok", &what);
    }
}

// ---------------------------------------------------------------------------------
// The block list (python-dev; `every_stdlib_profile_refuses_the_block_list_as_base_does`
// holds the other profiles to the same answers)
// ---------------------------------------------------------------------------------

#[test]
fn ptrace_is_killed() {
    assert_probes(
        "ptrace_is_killed",
        "python-dev",
        &[
            ("ptrace_traceme", Killed, Killed),
            ("ptrace_attach_init", Killed, Killed),
            ("process_vm_readv", Killed, Killed),
        ],
    );
    if Path::new("/usr/bin/strace").exists() {
        let p = project();
        for mode in MODES {
            let o = p.run("shell", mode, &[], &["/usr/bin/strace", "-f", "/bin/true"]);
            assert_eq!(outcome(&o), Killed, "strace in {mode} mode: {}", err(&o));
        }
    }
}

#[test]
fn mount_and_umount_are_killed() {
    assert_probes(
        "mount_and_umount_are_killed",
        "python-dev",
        &[
            ("mount_tmpfs", Killed, Killed),
            ("umount2", Killed, Killed),
            ("fsopen", Killed, Killed),
        ],
    );
}

#[test]
fn unshare_of_user_and_mount_namespaces_is_refused() {
    assert_probes(
        "unshare_of_user_and_mount_namespaces_is_refused",
        "python-dev",
        &[
            ("unshare_newuser", errno("EPERM"), errno("EPERM")),
            ("unshare_newns", errno("EPERM"), errno("EPERM")),
            // The same through clone, and clone3 (whose flags seccomp cannot read)
            // looks unimplemented so libc falls back to clone.
            ("clone_newuser", errno("EPERM"), errno("EPERM")),
            ("clone3", errno("ENOSYS"), errno("ENOSYS")),
        ],
    );
}

#[test]
fn keyctl_is_killed() {
    assert_probes(
        "keyctl_is_killed",
        "python-dev",
        &[("keyctl", Killed, Killed), ("add_key", Killed, Killed)],
    );
}

#[test]
fn bpf_is_killed() {
    assert_probes("bpf_is_killed", "python-dev", &[("bpf", Killed, Killed)]);
}

#[test]
fn perf_event_open_is_killed() {
    assert_probes(
        "perf_event_open_is_killed",
        "python-dev",
        &[("perf_event_open", Killed, Killed)],
    );
}

#[test]
fn io_uring_setup_is_killed_or_refused_with_enosys_in_node_dev() {
    let test = "io_uring_setup_is_killed_or_refused_with_enosys_in_node_dev";
    assert_probes(test, "python-dev", &[("io_uring_setup", Killed, Killed)]);
    // node-dev.pfp answers ENOSYS on purpose, so libuv falls back instead of dying.
    assert_probes(
        test,
        "node-dev",
        &[("io_uring_setup", errno("ENOSYS"), errno("ENOSYS"))],
    );
}

#[test]
fn userfaultfd_is_killed() {
    assert_probes(
        "userfaultfd_is_killed",
        "python-dev",
        &[("userfaultfd", Killed, Killed)],
    );
}

#[test]
fn raw_and_packet_sockets_are_refused() {
    // Sandbox: base refuses other families with EAFNOSUPPORT and raw IP sockets with
    // EPERM. Hardened: its overlay refuses SOCK_RAW of any family with EPERM, which
    // wins over EAFNOSUPPORT (the smaller errno wins).
    assert_probes(
        "raw_and_packet_sockets_are_refused",
        "python-dev",
        &[
            ("socket_packet_raw", errno("EAFNOSUPPORT"), errno("EPERM")),
            (
                "socket_packet_dgram",
                errno("EAFNOSUPPORT"),
                errno("EAFNOSUPPORT"),
            ),
            ("socket_inet_raw", errno("EPERM"), errno("EPERM")),
        ],
    );
}

#[test]
fn netlink_route_sockets_are_refused() {
    // (node-dev allows NETLINK_ROUTE in sandbox mode, on purpose: see node-dev.pfp.)
    assert_probes(
        "netlink_route_sockets_are_refused",
        "python-dev",
        &[
            (
                "socket_netlink_route_raw",
                errno("EAFNOSUPPORT"),
                errno("EPERM"),
            ),
            (
                "socket_netlink_route_dgram",
                errno("EAFNOSUPPORT"),
                errno("EAFNOSUPPORT"),
            ),
        ],
    );
}

#[test]
fn tiocsti_and_tioclinux_are_refused() {
    assert_probes(
        "tiocsti_and_tioclinux_are_refused",
        "python-dev",
        &[
            ("ioctl_tiocsti", errno("EPERM"), errno("EPERM")),
            // The kernel reads the request as 32 bits: high bits must not hide it.
            ("ioctl_tiocsti_high_bits", errno("EPERM"), errno("EPERM")),
            ("ioctl_tioclinux", errno("EPERM"), errno("EPERM")),
        ],
    );
}

/// Terminal changes that outlast the run: the line discipline, exclusive use, stopped
/// output.
#[test]
fn lasting_terminal_changes_are_refused() {
    assert_probes(
        "lasting_terminal_changes_are_refused",
        "python-dev",
        &[
            ("ioctl_tiocsetd", errno("EPERM"), errno("EPERM")),
            ("ioctl_tiocexcl", errno("EPERM"), errno("EPERM")),
            ("ioctl_tcxonc", errno("EPERM"), errno("EPERM")),
        ],
    );
}

/// The workspace is an ordinary directory on the host: a setuid or setgid program
/// left there would run with its owner's ids for whoever runs it outside.
#[test]
fn setuid_and_setgid_bits_cannot_be_set() {
    assert_probes(
        "setuid_and_setgid_bits_cannot_be_set",
        "python-dev",
        &[
            ("chmod_setuid", errno("EPERM"), errno("EPERM")),
            ("fchmod_setgid", errno("EPERM"), errno("EPERM")),
            // The kernel reads the mode as 32 bits: high bits must not hide the rule.
            ("fchmodat_setuid_high_bits", errno("EPERM"), errno("EPERM")),
            ("fchmodat2_setgid", errno("EPERM"), errno("EPERM")),
            ("open_creat_setuid", errno("EPERM"), errno("EPERM")),
            ("openat_creat_setgid", errno("EPERM"), errno("EPERM")),
            ("creat_setuid", errno("EPERM"), errno("EPERM")),
            ("mknod_setuid_file", errno("EPERM"), errno("EPERM")),
            // Its mode is in memory, where seccomp cannot look: unimplemented.
            ("openat2", errno("ENOSYS"), errno("ENOSYS")),
            // Other modes, the sticky bit among them, pass (to the missing file).
            ("chmod_plain", errno("ENOENT"), errno("ENOENT")),
        ],
    );
}

#[test]
fn chroot_is_refused() {
    assert_probes(
        "chroot_is_refused",
        "python-dev",
        &[("chroot", errno("EPERM"), errno("EPERM"))],
    );
}

#[test]
fn open_by_handle_at_is_killed() {
    assert_probes(
        "open_by_handle_at_is_killed",
        "python-dev",
        &[
            ("open_by_handle_at", Killed, Killed),
            ("name_to_handle_at", errno("EPERM"), errno("EPERM")),
        ],
    );
}

#[test]
fn reboot_and_kexec_are_killed() {
    assert_probes(
        "reboot_and_kexec_are_killed",
        "python-dev",
        &[("reboot", Killed, Killed), ("kexec_load", Killed, Killed)],
    );
}

#[test]
fn kernel_modules_cannot_be_loaded_or_removed() {
    assert_probes(
        "kernel_modules_cannot_be_loaded_or_removed",
        "python-dev",
        &[
            ("init_module", Killed, Killed),
            ("finit_module", Killed, Killed),
            ("delete_module", Killed, Killed),
        ],
    );
}

#[test]
fn device_nodes_cannot_be_created_but_fifos_can() {
    assert_probes(
        "device_nodes_cannot_be_created_but_fifos_can",
        "python-dev",
        &[
            ("mknod_char", errno("EPERM"), errno("EPERM")),
            ("mknodat_block", errno("EPERM"), errno("EPERM")),
            ("mknod_fifo", Allowed, Allowed),
        ],
    );
}

#[test]
fn personality_cannot_disable_aslr() {
    assert_probes(
        "personality_cannot_disable_aslr",
        "python-dev",
        &[
            (
                "personality_addr_no_randomize",
                errno("EPERM"),
                errno("EPERM"),
            ),
            (
                "personality_read_implies_exec",
                errno("EPERM"),
                errno("EPERM"),
            ),
            // Harmless in sandbox mode (linux32 builds); hardened allows PER_LINUX only.
            ("personality_linux32", Allowed, errno("EPERM")),
        ],
    );
}

/// A `sleep` on the host, killed when the test ends (also when it fails, so it
/// never outlives the test holding cargo's output pipe).
struct HostSleep(std::process::Child);

impl HostSleep {
    fn start(seconds: &str) -> HostSleep {
        HostSleep(
            Command::new("sleep")
                .arg(seconds)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("sleep"),
        )
    }

    fn alive(&mut self) -> bool {
        self.0.try_wait().expect("try_wait").is_none()
    }
}

impl Drop for HostSleep {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn host_processes_are_invisible_and_cannot_be_signalled() {
    let test = "host_processes_are_invisible_and_cannot_be_signalled";
    if no_python(test) {
        return;
    }
    let marker = format!("{}", 200_000 + std::process::id());
    let mut host = HostSleep::start(&marker);
    let host_pid = host.0.id();
    // What the probe looks for is really there on the host (once exec has set the
    // arguments up: spawn can return a moment before).
    let expected = format!("sleep\0{marker}\0").into_bytes();
    let visible_on_host = (0..100).any(|_| {
        let seen = std::fs::read(format!("/proc/{host_pid}/cmdline")).unwrap_or_default();
        seen == expected || {
            std::thread::sleep(std::time::Duration::from_millis(10));
            false
        }
    });
    assert!(visible_on_host, "the host's sleep has no cmdline");
    let p = project();
    p.write(
        "procs.py",
        r#"
import errno, os, sys
marker, host_pid = sys.argv[1], int(sys.argv[2])
pids = sorted(int(d) for d in os.listdir("/proc") if d.isdigit())
print("pids", " ".join(map(str, pids)))
def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline") as f:
            return f.read()
    except OSError:
        return ""
# argv of the host's `sleep MARKER` (this script's own argv holds MARKER too)
print("host sleep visible", any(f"sleep\0{marker}\0" in cmdline(p) for p in pids))
for sig in (0, 15):
    try:
        os.kill(host_pid, sig)
        print("kill", sig, "ok")
    except OSError as e:
        print("kill", sig, errno.errorcode[e.errno])
"#,
    );
    for mode in MODES {
        let o = p.run(
            "python-dev",
            mode,
            &[],
            &[PYTHON, "procs.py", &marker, &host_pid.to_string()],
        );
        let what = format!("{mode} mode");
        assert_ok(&o, &what);
        // Only the sandbox's init (1) and the workload (2).
        assert_line(&o, "pids 1 2", &format!("{what}: /proc shows other pids"));
        assert_line(&o, "host sleep visible False", &what);
        assert_line(
            &o,
            "kill 0 ESRCH",
            &format!("{what}: kill -0 of a host pid"),
        );
        assert_line(&o, "kill 15 ESRCH", &format!("{what}: kill of a host pid"));
        assert!(host.alive(), "{what}: the host's sleep died");
    }
}

#[test]
fn proc_sys_sys_and_cgroup_files_cannot_be_written() {
    let test = "proc_sys_sys_and_cgroup_files_cannot_be_written";
    if no_python(test) {
        return;
    }
    // /proc/sys is remounted read-only; /sys (and with it every cgroup control file)
    // is not mounted at all and cannot be created on the read-only root.
    let proc_sys = [
        "/proc/sys/kernel/core_pattern",
        "/proc/sys/vm/drop_caches",
        "/proc/sys/kernel/hostname",
        "/proc/sys/net/ipv4/ip_forward",
    ];
    let sys = [
        "/sys/kernel/mm/transparent_hugepage/enabled",
        "/sys/fs/cgroup/cgroup.procs",
        "/sys/fs/cgroup/pids.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        "/sys/fs/cgroup/cgroup.subtree_control",
    ];
    let p = project();
    for mode in MODES {
        let all: Vec<&str> = proc_sys.iter().chain(sys.iter()).copied().collect();
        let got = try_writes(&p, "python-dev", mode, &all);
        for path in proc_sys {
            if Path::new(path).exists() {
                assert_eq!(
                    got.get(path).map(String::as_str),
                    Some("EROFS"),
                    "{mode} mode: writing {path}"
                );
            }
        }
        for path in sys {
            assert_eq!(
                got.get(path).map(String::as_str),
                Some("ENOENT"),
                "{mode} mode: writing {path} (/sys must not be mounted)"
            );
        }
        let o = p.sh("python-dev", mode, "test -e /sys && echo sys-present; test -e /proc/sysrq-trigger && echo > /proc/sysrq-trigger 2>/dev/null && echo sysrq-written; true");
        assert_eq!(out(&o), "", "{mode} mode: {}", err(&o));
    }
}

#[test]
fn etc_shadow_and_the_home_directory_are_absent() {
    let p = project();
    for mode in MODES {
        let o = p.sh(
            "python-dev",
            mode,
            "for f in /etc/shadow /etc/gshadow /etc/passwd /etc/sudoers /root /home /etc/ssl/private; do \
               if test -e $f || test -L $f; then echo \"present $f\"; fi; done; echo \"HOME=$HOME\"",
        );
        assert_ok(&o, mode);
        assert_eq!(out(&o), "HOME=/tmp\n", "{mode} mode: host files visible");
    }
}

#[test]
fn writes_outside_the_workspace_and_tmp_fail() {
    let test = "writes_outside_the_workspace_and_tmp_fail";
    if no_python(test) {
        return;
    }
    let p = project();
    // The root and every bind but the workspace are read-only; /var is not there at
    // all (and cannot be made on the read-only root).
    let refused = [
        ("/usr/phantom-probe", "EROFS"),
        ("/usr/lib/phantom-probe", "EROFS"),
        ("/etc/phantom-probe", "EROFS"),
        ("/etc/ssl/certs/phantom-probe", "EROFS"),
        ("/phantom-probe", "EROFS"),
        ("/bin/phantom-probe", "EROFS"),
        ("/var/phantom-probe", "ENOENT"),
    ];
    let allowed = ["/workspace/in-workspace", "/tmp/in-tmp", "/dev/shm/in-shm"];
    for mode in MODES {
        let paths: Vec<&str> = refused
            .iter()
            .map(|(path, _)| *path)
            .chain(allowed)
            .collect();
        let got = try_writes(&p, "python-dev", mode, &paths);
        for (path, expected) in refused {
            assert_eq!(
                got.get(path).map(String::as_str),
                Some(expected),
                "{mode} mode: writing {path} must fail"
            );
        }
        for path in allowed {
            assert_eq!(
                got.get(path).map(String::as_str),
                Some("ok"),
                "{mode} mode: writing {path}"
            );
        }
        assert!(p.ws.join("in-workspace").exists(), "{mode} mode");
    }
    assert!(!Path::new("/usr/phantom-probe").exists());
    assert!(!Path::new("/etc/phantom-probe").exists());
    assert!(!Path::new("/phantom-probe").exists());
}

// ---------------------------------------------------------------------------------
// Hardened mode
// ---------------------------------------------------------------------------------

/// A TCP round trip on the sandbox's own loopback.
const LOOPBACK_PY: &str = r#"
import socket
server = socket.create_server(("127.0.0.1", 0))
client = socket.create_connection(server.getsockname())
conn, _ = server.accept()
client.sendall(b"ping")
print("loopback", conn.recv(4).decode())
"#;

#[test]
fn hardened_refuses_inet_sockets_where_sandbox_allows_them() {
    assert_probes(
        "hardened_refuses_inet_sockets_where_sandbox_allows_them",
        "python-dev",
        &[
            ("socket_inet_stream", Allowed, errno("EAFNOSUPPORT")),
            ("socket_inet6_stream", Allowed, errno("EAFNOSUPPORT")),
            ("socket_unix_stream", Allowed, Allowed),
        ],
    );
    if no_python("hardened_refuses_inet_sockets_where_sandbox_allows_them") {
        return;
    }
    // In sandbox mode the sockets work on the sandbox's own loopback.
    let p = project();
    let o = p.run("python-dev", "sandbox", &[], &[PYTHON, "-c", LOOPBACK_PY]);
    assert_ok(&o, "loopback TCP in sandbox mode");
    assert_line(&o, "loopback ping", "loopback TCP in sandbox mode");
}

#[test]
fn hardened_makes_non_workspace_binds_read_only() {
    let test = "hardened_makes_non_workspace_binds_read_only";
    if no_python(test) {
        return;
    }
    let p = project();
    let data = p.dir.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    // Writable by the sandbox's user: the workspace's owner.
    give_tree_to(&data, p.owner);
    let policy = p.dir.path().join("extra-mounts.pfp");
    std::fs::write(
        &policy,
        format!(
            "policy \"extra-mounts\"\nextends \"python-dev\"\n\nfilesystem {{\n    rw /data from \"{}\"\n    tmpfs /scratch size 16MiB\n}}\n",
            data.display()
        ),
    )
    .expect("write policy");
    let profile = policy.to_str().expect("utf-8");
    let paths = ["/data/f", "/scratch/f", "/workspace/f", "/tmp/f"];
    let sandbox = try_writes(&p, profile, "sandbox", &paths);
    for path in paths {
        assert_eq!(
            sandbox.get(path).map(String::as_str),
            Some("ok"),
            "sandbox mode: {path} is writable as the policy says"
        );
    }
    std::fs::remove_file(data.join("f")).expect("written through /data");
    let hardened = try_writes(&p, profile, "hardened", &paths);
    for (path, expected) in [
        ("/data/f", "EROFS"),
        ("/scratch/f", "EROFS"),
        ("/workspace/f", "ok"),
        ("/tmp/f", "ok"),
    ] {
        assert_eq!(
            hardened.get(path).map(String::as_str),
            Some(expected),
            "hardened mode: writing {path}"
        );
    }
    assert!(
        !data.join("f").exists(),
        "hardened mode wrote the host's dir"
    );
}

/// The hardened overlay says writes go only to the workspace, /tmp and /dev/shm: the
/// sandbox's own /dev is sealed read-only (its devices, pts and shm stay usable).
#[test]
fn hardened_dev_is_not_writable_except_shm() {
    if no_python("hardened_dev_is_not_writable_except_shm") {
        return;
    }
    let p = project();
    let got = try_writes(&p, "python-dev", "hardened", &["/dev/phantom-probe"]);
    assert_ne!(
        got.get("/dev/phantom-probe").map(String::as_str),
        Some("ok")
    );
}

// ---------------------------------------------------------------------------------
// `phantom run` from anywhere
// ---------------------------------------------------------------------------------

#[test]
fn run_from_the_root_directory_uses_an_empty_scratch_workspace() {
    let p = project();
    let tmpdir = p.dir.path().join("tmpdir");
    std::fs::create_dir(&tmpdir).expect("mkdir");
    for mode in MODES {
        let o = p
            .command()
            .current_dir("/")
            .env("TMPDIR", &tmpdir)
            .args(["run", "--profile", "shell", "--mode", mode])
            .args(if is_root() {
                &[][..]
            } else {
                &["--allow-degraded"][..]
            })
            .args([
                "--",
                "/bin/sh",
                "-c",
                "pwd; ls -A | wc -l; echo x > made && echo wrote",
            ])
            .output()
            .expect("phantom runs");
        let what = format!("from /, {mode} mode");
        assert_ok(&o, &what);
        assert_eq!(out(&o), "/workspace\n0\nwrote\n", "{what}");
        assert!(
            err(&o).contains("not using `/` as the workspace"),
            "{what}: no note on stderr: {}",
            err(&o)
        );
        let left: Vec<_> = std::fs::read_dir(&tmpdir)
            .expect("tmpdir")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(left.is_empty(), "{what}: scratch left behind: {left:?}");
    }
}

#[test]
fn run_from_a_temp_dir_uses_it_as_the_workspace() {
    for mode in MODES {
        let p = project();
        p.write("input.txt", "from the host\n");
        let o = p
            .command()
            .args(["run", "--profile", "shell", "--mode", mode])
            .args(if is_root() {
                &[][..]
            } else {
                &["--allow-degraded"][..]
            })
            .args([
                "--",
                "/bin/sh",
                "-c",
                "pwd; cat input.txt; echo back > output.txt",
            ])
            .output()
            .expect("phantom runs");
        let what = format!("from a temp dir, {mode} mode");
        assert_ok(&o, &what);
        assert_eq!(out(&o), "/workspace\nfrom the host\n", "{what}");
        assert!(
            !err(&o).contains("scratch"),
            "{what}: used a scratch dir: {}",
            err(&o)
        );
        assert_eq!(
            std::fs::read_to_string(p.ws.join("output.txt")).expect("output"),
            "back\n",
            "{what}"
        );
    }
}

#[test]
fn an_unprivileged_user_can_run_a_profile_with_allow_degraded() {
    let test = "an_unprivileged_user_can_run_a_profile_with_allow_degraded";
    if !is_root() && skip(test, "needs root to switch to the nobody user") {
        return;
    }
    if Command::new("setpriv").arg("--help").output().is_err()
        && skip(test, "setpriv is not installed")
    {
        return;
    }
    let p = project();
    // nobody must reach the workspace and make its own cache (phantom refuses a
    // cache directory others can write, so it must not exist yet).
    let _ = Command::new("chmod")
        .args(["-R", "a+rwX"])
        .arg(p.dir.path())
        .status();
    let nobody = |mode: &str, degraded: bool| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_phantom"))
            .current_dir(&p.ws)
            .env("PHANTOM_CACHE_DIR", p.dir.path().join("nobody-cache"))
            .env_remove("PHANTOM_CONFIG_PATH")
            .env_remove("PHANTOM_DEFAULT_PROFILE")
            .args(["run", "--profile", "python-dev", "--mode", mode])
            .args(if degraded {
                &["--allow-degraded"][..]
            } else {
                &[][..]
            })
            .args([
                "--",
                "/bin/sh",
                "-c",
                "echo hi from $(id -u); echo x > made-by-nobody",
            ])
            .stdin(Stdio::null())
            .output()
            .expect("setpriv runs")
    };
    for mode in MODES {
        let what = format!("uid 65534, {mode} mode");
        let strict = nobody(mode, false);
        if strict.status.code() == Some(125) {
            // Without delegated cgroups: refused, saying how to run anyway.
            assert!(
                err(&strict).contains("--allow-degraded"),
                "{what}: {}",
                err(&strict)
            );
            let o = nobody(mode, true);
            assert_ok(&o, &what);
            assert_eq!(out(&o), "hi from 1000\n", "{what}");
            assert!(err(&o).contains("not enforced"), "{what}: {}", err(&o));
        } else {
            assert_ok(&strict, &what);
            assert_eq!(out(&strict), "hi from 1000\n", "{what}");
        }
        let made = p.ws.join("made-by-nobody");
        assert!(made.exists(), "{what}: nothing written to the workspace");
        std::fs::remove_file(made).expect("remove");
    }
}

// ---------------------------------------------------------------------------------
// Direct mode (no namespaces: Landlock, seccomp, rlimits, cgroups on the host's view)
// ---------------------------------------------------------------------------------

/// A project outside /tmp (direct mode lets the workload write the host's /tmp).
fn direct_project() -> Project {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"));
    // A checkout under /tmp (as CI's may be) puts the target directory there too.
    if target.starts_with(std::env::temp_dir()) {
        project_in(Path::new("/var/tmp"), 0)
    } else {
        project_in(target, 0)
    }
}

#[test]
fn direct_mode_refuses_writes_outside_the_workspace_and_tmp() {
    let test = "direct_mode_refuses_writes_outside_the_workspace_and_tmp";
    if no_python(test) {
        return;
    }
    let p = direct_project();
    let outside = p.dir.path().join("outside");
    std::fs::create_dir(&outside).expect("mkdir");
    let outside_file = outside.join("f");
    let in_ws = p.ws.join("in-workspace");
    let in_tmp = std::env::temp_dir().join(format!("phantom-direct-{}", std::process::id()));
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let home_file = format!("{home}/phantom-direct-probe");
    let mut refused = vec![
        "/usr/phantom-direct-probe",
        "/etc/phantom-direct-probe",
        "/phantom-direct-probe",
        outside_file.to_str().expect("utf-8"),
    ];
    if !home.starts_with("/tmp") {
        refused.push(&home_file);
    }
    let mut paths = refused.clone();
    paths.extend([
        in_ws.to_str().expect("utf-8"),
        in_tmp.to_str().expect("utf-8"),
    ]);
    let got = try_writes(&p, "python-dev", "direct", &paths);
    let _ = std::fs::remove_file(&in_tmp);
    for path in refused {
        assert_eq!(
            got.get(path).map(String::as_str),
            Some("EACCES"),
            "direct mode: writing {path} must be refused by Landlock"
        );
        assert!(!Path::new(path).exists(), "direct mode wrote {path}");
    }
    assert_eq!(
        got.get(in_ws.to_str().unwrap()).map(String::as_str),
        Some("ok")
    );
    assert_eq!(
        got.get(in_tmp.to_str().unwrap()).map(String::as_str),
        Some("ok")
    );
}

#[test]
fn direct_mode_refuses_inet_sockets_when_the_profile_has_no_network() {
    let test = "direct_mode_refuses_inet_sockets_when_the_profile_has_no_network";
    if no_python(test) {
        return;
    }
    let p = direct_project();
    p.write("probe.py", PROBE_PY);
    for (probe, expected) in [
        ("socket_inet_stream", errno("EAFNOSUPPORT")),
        ("socket_inet6_stream", errno("EAFNOSUPPORT")),
        ("socket_netlink_route_raw", errno("EAFNOSUPPORT")),
        ("socket_unix_stream", Allowed),
    ] {
        assert_eq!(
            p.probe("python-dev", "direct", probe),
            expected,
            "direct mode: `{probe}`"
        );
    }
}

/// `python3 signals.py PID`: signals 0, TERM and KILL to PID, then to a child of its own.
const SIGNALS_PY: &str = r#"
import errno, os, signal, subprocess, sys
host = int(sys.argv[1])
for sig in (0, signal.SIGTERM, signal.SIGKILL):
    try:
        os.kill(host, sig)
        print("kill", int(sig), "ok")
    except OSError as e:
        print("kill", int(sig), errno.errorcode[e.errno])
own = subprocess.Popen(["sleep", "30"])
own.terminate()
print("own child", own.wait())
"#;

#[test]
fn direct_mode_cannot_signal_a_host_process() {
    let test = "direct_mode_cannot_signal_a_host_process";
    if no_python(test) {
        return;
    }
    let mut host = HostSleep::start("30");
    let p = direct_project();
    p.write("signals.py", SIGNALS_PY);
    let o = p.run(
        "python-dev",
        "direct",
        &[],
        &[PYTHON, "signals.py", &host.0.id().to_string()],
    );
    let alive = host.alive();
    assert_ok(&o, "direct mode");
    assert!(alive, "direct mode killed a host process\n{}", out(&o));
    for sig in [0, 15, 9] {
        assert_line(
            &o,
            &format!("kill {sig} EPERM"),
            &format!("direct mode: signal {sig} to a host pid (Landlock scope)"),
        );
    }
    // Its own processes it may signal.
    assert_line(&o, "own child -15", "direct mode: signalling its own child");
}

// ---------------------------------------------------------------------------------
// Every stdlib profile, every probe
// ---------------------------------------------------------------------------------

/// Every block-list probe, for the sweep over all profiles.
const BLOCK_PROBES: &[&str] = &[
    "ptrace_traceme",
    "ptrace_attach_init",
    "process_vm_readv",
    "mount_tmpfs",
    "umount2",
    "fsopen",
    "unshare_newuser",
    "unshare_newns",
    "clone_newuser",
    "keyctl",
    "add_key",
    "bpf",
    "perf_event_open",
    "io_uring_setup",
    "userfaultfd",
    "socket_packet_raw",
    "socket_packet_dgram",
    "socket_inet_raw",
    "socket_netlink_route_raw",
    "socket_netlink_route_dgram",
    "ioctl_tiocsti",
    "ioctl_tiocsti_high_bits",
    "ioctl_tioclinux",
    "chroot",
    "open_by_handle_at",
    "reboot",
    "kexec_load",
    "init_module",
    "finit_module",
    "delete_module",
    "mknod_char",
    "mknodat_block",
    "personality_addr_no_randomize",
    "personality_read_implies_exec",
];

const STDLIB_PROFILES: &[&str] = &[
    "minimal",
    "shell",
    "python-dev",
    "node-dev",
    "go-dev",
    "rust-dev",
];

/// Where a profile refuses differently from `base`, on purpose and documented in its
/// header: (profile, mode, probe, outcome: `killed`, `ok` or an errno name).
const DOCUMENTED_DEVIATIONS: &[(&str, &str, &str, &str)] = &[
    // node-dev.pfp: libuv falls back from io_uring on ENOSYS instead of dying.
    ("node-dev", "sandbox", "io_uring_setup", "ENOSYS"),
    ("node-dev", "hardened", "io_uring_setup", "ENOSYS"),
    // node-dev.pfp: os.networkInterfaces() reads the interface list through a
    // NETLINK_ROUTE socket (hardened's Unix-only socket rule replaces this).
    ("node-dev", "sandbox", "socket_netlink_route_raw", "ok"),
    ("node-dev", "sandbox", "socket_netlink_route_dgram", "ok"),
    // minimal.pfp: no sockets at all, every one EAFNOSUPPORT (hardened's socket
    // rule replaces this).
    ("minimal", "sandbox", "socket_inet_raw", "EAFNOSUPPORT"),
];

/// Runs every block-list probe in one sandbox and returns each one's outcome:
/// `killed`, `ok` or an errno name. Each probe is its own python process, so a
/// seccomp kill ends only that probe (the shell sees 159).
fn sweep(p: &Project, profile: &str, mode: &str) -> BTreeMap<String, String> {
    let script = format!(
        "for p in {}; do {PYTHON} probe.py $p >/tmp/out 2>/dev/null; echo \"$p $? $(cat /tmp/out)\"; done",
        BLOCK_PROBES.join(" ")
    );
    let o = p.sh(profile, mode, &script);
    assert_ok(&o, &format!("{profile}, {mode} mode"));
    out(&o)
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let result = match fields.as_slice() {
                [_, "159", ..] => "killed".to_string(),
                [_, "0", "ok"] => "ok".to_string(),
                [_, "0", "errno", name] => (*name).to_string(),
                _ => format!("broken: {line}"),
            };
            (fields[0].to_string(), result)
        })
        .collect()
}

/// The per-item tests pin down exactly how python-dev (whose syscall rules are
/// base's) refuses each probe; this holds every other stdlib profile to the same
/// answers, so a profile layer that replaced a block-list rule shows up here.
#[test]
fn every_stdlib_profile_refuses_the_block_list_as_base_does() {
    let test = "every_stdlib_profile_refuses_the_block_list_as_base_does";
    if no_python(test) {
        return;
    }
    let p = Project::with_probe();
    for mode in MODES {
        let base = sweep(&p, "base", mode);
        for probe in BLOCK_PROBES {
            let got = base.get(*probe).map(String::as_str);
            assert!(
                matches!(got, Some(r) if r != "ok" && !r.starts_with("broken")),
                "base, {mode} mode: `{probe}` must be refused, got {got:?}"
            );
        }
        for profile in STDLIB_PROFILES {
            let got = sweep(&p, profile, mode);
            for probe in BLOCK_PROBES {
                let expected = DOCUMENTED_DEVIATIONS
                    .iter()
                    .find(|(pr, m, pb, _)| pr == profile && *m == mode && pb == probe)
                    .map(|(_, _, _, outcome)| *outcome)
                    .or(base.get(*probe).map(String::as_str));
                assert_eq!(
                    got.get(*probe).map(String::as_str),
                    expected,
                    "{profile}, {mode} mode: `{probe}` is refused differently from base; \
                     fix the profile, or document why in its header and in DOCUMENTED_DEVIATIONS"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Regressions of runtime bugs found by these tests
// ---------------------------------------------------------------------------------

/// `phantom run --profile rust-dev -- cargo ...` must find cargo on the profile's
/// PATH (/tmp/.cargo/bin), not on phantom's own (the host's).
#[test]
fn command_is_looked_up_on_the_sandbox_path() {
    let p = project();
    let o = p
        .command()
        .env("PATH", "/nonexistent")
        .args(["run", "--profile", "shell"])
        .args(if is_root() {
            &[][..]
        } else {
            &["--allow-degraded"][..]
        })
        .args(["--", "sh", "-c", "echo found"])
        .output()
        .expect("phantom runs");
    assert_eq!(out(&o), "found\n", "{}", err(&o));
}
