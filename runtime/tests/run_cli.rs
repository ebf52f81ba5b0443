//! `phantom run` and `phantom profile` as a user meets them: profile references, the
//! configuration file and environment variables, the cache, `profile list` / `show`.
//! (The workloads and the block list are in profiles_live.rs.)

#![cfg(target_os = "linux")]
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a test failure"
)]

mod common;
use common::{err, is_root, out};

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `phantom ARGS` in `dir`, with its own cache and no configuration from outside.
fn phantom(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_phantom"));
    c.current_dir(dir)
        .env("PHANTOM_CACHE_DIR", dir.join(".cache"))
        .env_remove("PHANTOM_CONFIG_PATH")
        .env_remove("PHANTOM_DEFAULT_PROFILE")
        .env_remove("PHANTOM_DEBUG")
        .env_remove("PHANTOM_TIMING")
        .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    let degraded = !is_root() && args.first() == Some(&"run");
    let mut args = args.to_vec();
    if degraded {
        args.insert(1, "--allow-degraded");
    }
    c.args(args).output().expect("phantom runs")
}

#[test]
fn profile_list_names_every_stdlib_profile_with_its_description() {
    let dir = tempfile::tempdir().unwrap();
    let o = phantom(dir.path(), &[], &["profile", "list"]);
    assert!(o.status.success(), "{}", err(&o));
    for name in [
        "base",
        "minimal",
        "shell",
        "python-dev",
        "node-dev",
        "go-dev",
        "rust-dev",
    ] {
        assert!(
            out(&o).lines().any(|l| l.starts_with(name)),
            "{name} missing:\n{}",
            out(&o)
        );
    }
    assert!(out(&o).contains("Python 3"), "{}", out(&o));
}

#[test]
fn profile_list_benchmark_measures_each_profile() {
    if !is_root() {
        return; // needs cgroups; the benchmark does not degrade
    }
    let dir = tempfile::tempdir().unwrap();
    let o = phantom(
        dir.path(),
        &[],
        &["profile", "list", "--benchmark", "--runs", "2"],
    );
    assert!(o.status.success(), "{}", err(&o));
    let measured = out(&o).lines().filter(|l| l.contains(" ms ")).count();
    assert_eq!(measured, 7, "{}", out(&o));
}

#[test]
fn profile_show_prints_the_effective_policy_of_a_mode() {
    let dir = tempfile::tempdir().unwrap();
    let o = phantom(
        dir.path(),
        &[],
        &["profile", "show", "python-dev", "--mode", "hardened"],
    );
    assert!(o.status.success(), "{}", err(&o));
    let shown = out(&o);
    assert!(
        shown.contains("bundle python-dev (hardened mode)"),
        "{shown}"
    );
    assert!(shown.contains("memory      1 GiB"), "{shown}");
    let o = phantom(
        dir.path(),
        &[],
        &[
            "profile",
            "show",
            "python-dev",
            "--mode",
            "direct",
            "--json",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(v["mode"], "Direct");
    assert_eq!(v["mounts"].as_array().map(Vec::len), Some(0));
}

#[test]
fn an_unknown_profile_is_refused_with_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let o = phantom(
        dir.path(),
        &[],
        &["run", "--profile", "pyhton-dev", "--", "true"],
    );
    assert_eq!(o.status.code(), Some(125));
    assert!(err(&o).contains("did you mean `python-dev`"), "{}", err(&o));
    let o = phantom(dir.path(), &[], &["run", "--", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(err(&o).contains("--profile"), "{}", err(&o));
}

#[test]
fn the_default_profile_comes_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let o = phantom(
        dir.path(),
        &[("PHANTOM_DEFAULT_PROFILE", "shell")],
        &["run", "--", "/bin/sh", "-c", "echo in $PWD"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out(&o), "in /workspace\n");
}

#[test]
fn policies_and_bundles_are_profiles_too_and_compiled_ones_are_cached() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("mine.pfp"),
        "policy \"mine\"\nextends \"shell\"\nprocess { env { GREETING = \"hello\" } }\n",
    )
    .unwrap();
    // Run from a project beside the policy: the current directory is the workspace.
    let project = dir.path().join("project");
    std::fs::create_dir(&project).unwrap();
    let debug = [("PHANTOM_DEBUG", "true")];
    let script = ["--", "/bin/sh", "-c", "echo $GREETING"];
    let first = phantom(
        &project,
        &debug,
        &[&["run", "--profile", "../mine.pfp"][..], &script].concat(),
    );
    assert_eq!(out(&first), "hello\n", "{}", err(&first));
    assert!(err(&first).contains("compiled"), "{}", err(&first));
    assert!(err(&first).contains("phantom timing:"), "{}", err(&first));
    let second = phantom(
        &project,
        &debug,
        &[&["run", "--profile", "../mine.pfp"][..], &script].concat(),
    );
    assert_eq!(out(&second), "hello\n");
    assert!(err(&second).contains("from the cache"), "{}", err(&second));

    // A compiled bundle runs as it is.
    let checked = phantom_compiler::check(
        &phantom_compiler::Input::File(dir.path().join("mine.pfp")),
        &phantom_compiler::io::NativeFs,
    )
    .unwrap();
    let policy = checked.policy.clone().expect("valid");
    let built = phantom_compiler::bundle::build(&policy, &checked.sources).unwrap();
    let bundle = dir.path().join("mine.pfb");
    std::fs::write(&bundle, phantom_compiler::bundle::encode(&built).unwrap()).unwrap();
    let o = phantom(
        &project,
        &[],
        &[&["run", "--profile", bundle.to_str().unwrap()][..], &script].concat(),
    );
    assert_eq!(out(&o), "hello\n", "{}", err(&o));

    // Inside the workspace, which the sandbox may write, neither is taken: a run could
    // rewrite the profile of the next.
    for profile in ["./mine.pfp", "./mine.pfb"] {
        let o = phantom(
            dir.path(),
            &[],
            &[&["run", "--profile", profile][..], &script].concat(),
        );
        assert_ne!(o.status.code(), Some(0), "{profile}");
        assert!(
            err(&o).contains("inside the workspace"),
            "{profile}: {}",
            err(&o)
        );
        assert!(
            err(&o).contains("--workspace DIR"),
            "{profile}: {}",
            err(&o)
        );
    }
    let o = Command::new(env!("CARGO_BIN_EXE_phantom"))
        .arg("exec")
        .arg(&bundle)
        .arg("--workspace")
        .arg(dir.path())
        .args(script)
        .output()
        .unwrap();
    assert!(err(&o).contains("inside the workspace"), "{}", err(&o));
    // Nor a file the policy extends from inside it, compiled now or found in the cache.
    std::fs::write(
        project.join("lib.pfp"),
        "policy \"lib\"\nextends \"shell\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("main.pfp"),
        "policy \"main\"\nextends \"./project/lib.pfp\"\n",
    )
    .unwrap();
    for _ in 0..2 {
        let o = phantom(
            &project,
            &[],
            &[&["run", "--profile", "../main.pfp"][..], &script].concat(),
        );
        assert!(
            err(&o).contains("lib.pfp` is inside the workspace"),
            "{}",
            err(&o)
        );
    }
}

#[test]
fn the_configuration_file_adds_profiles_and_defaults() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("profiles")).unwrap();
    std::fs::write(
        dir.path().join("profiles/from-dir.pfp"),
        "policy \"from-dir\"\nextends \"shell\"\n",
    )
    .unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        "default_profile: my-custom-profile\nprofile_dirs: [profiles]\nprofiles:\n  my-custom-profile:\n    name: \"my-custom-profile\"\n    driver: \"bwrap\"\n    cpu: \"1\"\n    memory: \"512m\"\n    network:\n      enabled: false\n",
    )
    .unwrap();
    let env = [("PHANTOM_CONFIG_PATH", config.to_str().unwrap())];
    // Runs from a project beside the profiles (the current directory is the workspace).
    let project = dir.path().join("project");
    std::fs::create_dir(&project).unwrap();
    let o = phantom(dir.path(), &env, &["profile", "list"]);
    assert!(out(&o).contains("my-custom-profile"), "{}", out(&o));
    assert!(out(&o).contains("from-dir"), "{}", out(&o));
    let o = phantom(
        &project,
        &env,
        &["run", "--", "/bin/sh", "-c", "echo default"],
    );
    assert_eq!(out(&o), "default\n", "{}", err(&o));
    let o = phantom(
        &project,
        &env,
        &["run", "--profile", "from-dir", "--", "/bin/true"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let o = phantom(dir.path(), &env, &["profile", "show", "my-custom-profile"]);
    assert!(out(&o).contains("memory      512 MiB"), "{}", out(&o));

    // A configuration inside the workspace is refused as a policy there is: a run
    // could rewrite it (make the next run direct mode, say).
    let inside = project.join("config.yaml");
    std::fs::copy(&config, &inside).unwrap();
    let o = phantom(
        &project,
        &[("PHANTOM_CONFIG_PATH", inside.to_str().unwrap())],
        &["run", "--", "/bin/true"],
    );
    assert!(
        err(&o).contains("config.yaml` is inside the workspace"),
        "{}",
        err(&o)
    );

    std::fs::write(&config, "profiles:\n  broken:\n    memroy: 1g\n").unwrap();
    let o = phantom(dir.path(), &env, &["run", "--", "/bin/true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        err(&o).contains("config.yaml") && err(&o).contains("memory"),
        "{}",
        err(&o)
    );
}

/// Run on a terminal of its own (a pty, from python3): the workload shares it without
/// `--tty`, turns echo off and makes the shared stdin non-blocking, and leaves; after
/// phantom returns, both are as they were.
const SHARED_TERMINAL_PY: &str = r#"
import fcntl, os, pty, sys, termios
pid, master = pty.fork()
if pid == 0:
    size = lambda: fcntl.ioctl(0, termios.TIOCGWINSZ, bytes(8))
    before = termios.tcgetattr(0), fcntl.fcntl(0, fcntl.F_GETFL), size()
    code = os.spawnv(os.P_WAIT, sys.argv[1], sys.argv[1:])
    after = termios.tcgetattr(0), fcntl.fcntl(0, fcntl.F_GETFL), size()
    print("exit", code, "terminal", before[0] == after[0], "flags", before[1] == after[1], "size", before[2] == after[2], flush=True)
    os._exit(0)
out = b""
while True:
    try:
        data = os.read(master, 4096)
    except OSError:
        break
    if not data:
        break
    out += data
os.waitpid(pid, 0)
print(out.decode(errors="replace").strip())
"#;

#[test]
fn what_a_workload_changes_on_the_shared_terminal_is_put_back() {
    if !Path::new("/usr/bin/python3").exists() {
        eprintln!("skipped: no /usr/bin/python3 on this host");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    std::fs::create_dir(&ws).unwrap();
    common::give_to(&ws, common::WORKSPACE_OWNER);
    let mut args = vec![env!("CARGO_BIN_EXE_phantom"), "run"];
    if !is_root() {
        args.push("--allow-degraded");
    }
    args.extend([
        "--profile",
        "python-dev",
        "--workspace",
        ws.to_str().unwrap(),
        "--",
        "/usr/bin/python3",
        "-c",
        "import fcntl, os, termios\n\
         attrs = termios.tcgetattr(0); attrs[3] &= ~(termios.ECHO | termios.ICANON)\n\
         termios.tcsetattr(0, termios.TCSANOW, attrs)\n\
         fcntl.fcntl(0, fcntl.F_SETFL, fcntl.fcntl(0, fcntl.F_GETFL) | os.O_NONBLOCK)\n\
         fcntl.ioctl(0, termios.TIOCSWINSZ, bytes([7, 0, 9, 0, 0, 0, 0, 0]))",
    ]);
    let o = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(SHARED_TERMINAL_PY)
        .args(&args)
        .env_remove("PHANTOM_CONFIG_PATH")
        .env("PHANTOM_CACHE_DIR", dir.path().join(".cache"))
        .output()
        .unwrap();
    assert!(
        out(&o).contains("exit 0 terminal True flags True size True"),
        "{}\n{}",
        out(&o),
        err(&o)
    );
}
