//! The `phantomc` command line: exit codes, output formats, `fmt`, `explain`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a test failure"
)]

mod common;
use common::{phantomc, text, write_file as write};
use std::path::Path;

const CLEAN: &str =
    "policy \"clean\"\nextends \"python-dev\"\n\nresources {\n    memory 256MiB\n}\n";

#[test]
fn check_exits_0_on_a_clean_policy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "clean.pfp", CLEAN);
    let out = phantomc(&["check", file.to_str().unwrap_or_default()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty());
}

#[test]
fn check_exits_1_on_errors_and_reports_every_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = write(dir.path(), "bad.pfp", "syscalls {\n    allow opne\n}\n");
    let good = write(dir.path(), "good.pfp", CLEAN);
    let out = phantomc(&[
        "check",
        bad.to_str().unwrap_or_default(),
        good.to_str().unwrap_or_default(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error[PFP0101]: unknown syscall `opne`"),
        "{stderr}"
    );
    assert!(stderr.contains("bad.pfp:2:11"), "{stderr}");
    assert!(stderr.contains("did you mean `open`?"), "{stderr}");
}

#[test]
fn warnings_pass_unless_denied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "warn.pfp",
        "syscalls {\n    allow ptrace\n    kill ptrace\n}\n",
    );
    let path = file.to_str().unwrap_or_default();
    let out = phantomc(&["check", path]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("warning[PFP0108]"));
    let out = phantomc(&["check", "--deny-warnings", path]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(phantomc(&["check"]).status.code(), Some(2));
    assert_eq!(phantomc(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(
        phantomc(&["check", "--format", "xml", "x.pfp"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(phantomc(&["explain", "PFP9999"]).status.code(), Some(2));
}

#[test]
fn a_missing_or_binary_file_is_a_clean_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.pfp");
    let out = phantomc(&["check", missing.to_str().unwrap_or_default()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot read"),
        "{}",
        text(&out.stderr)
    );

    let binary = dir.path().join("binary.pfp");
    std::fs::write(&binary, [0u8, 159, 146, 150, 0xff, 0xfe]).expect("write");
    let out = phantomc(&["check", binary.to_str().unwrap_or_default()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("error[PFP0011]") && text(&out.stderr).contains("not UTF-8"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn json_diagnostics_are_machine_readable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "bad.pfp", "resources {\n    timeout 5MiB\n}\n");
    let out = phantomc(&[
        "check",
        "--format",
        "json",
        file.to_str().unwrap_or_default(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let first = &value[0];
    assert_eq!(first["code"], "PFP0202");
    assert_eq!(first["message"], "`MiB` is not a duration unit");
    assert_eq!(first["severity"], "error");
    assert_eq!(first["line"], 2);
    assert_eq!(first["column"], 13);
    assert!(first["help"]
        .as_str()
        .unwrap_or_default()
        .contains("durations"));
}

#[test]
fn fmt_rewrites_once_and_check_reports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "messy.pfp",
        "policy \"m\"  # name\nsyscalls{allow read,write\n# keep me\nkill ptrace}",
    );
    let path = file.to_str().unwrap_or_default();
    let out = phantomc(&["fmt", "--check", path]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("messy.pfp"));

    assert_eq!(phantomc(&["fmt", path]).status.code(), Some(0));
    let formatted = std::fs::read_to_string(&file).expect("read");
    assert_eq!(
        formatted,
        "policy \"m\" # name\n\nsyscalls {\n    allow read, write\n    # keep me\n    kill ptrace\n}\n"
    );
    let out = phantomc(&["fmt", "--check", path]);
    assert_eq!(out.status.code(), Some(0), "formatting is idempotent");
}

#[test]
fn fmt_refuses_a_broken_file_and_leaves_it_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let original = "syscalls { allow }\n";
    let file = write(dir.path(), "broken.pfp", original);
    let out = phantomc(&["fmt", file.to_str().unwrap_or_default()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&file).expect("read"), original);
}

#[test]
fn explain_prints_the_long_text() {
    let out = phantomc(&["explain", "pfp0105"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("PFP0105 (error)"));
    let out = phantomc(&["explain", "all"]);
    assert!(text(&out.stdout).lines().count() > 40);
}

#[test]
fn every_shipped_policy_checks_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for dir in ["stdlib-profiles", "policies", "policies/fragments"] {
        for entry in std::fs::read_dir(root.join(dir))
            .expect("dir exists")
            .flatten()
        {
            if entry.path().extension().is_some_and(|e| e == "pfp") {
                files.push(entry.path().to_string_lossy().into_owned());
            }
        }
    }
    assert!(files.len() >= 14);
    let mut args = vec!["check", "--deny-warnings"];
    args.extend(files.iter().map(String::as_str));
    let out = phantomc(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut args = vec!["fmt", "--check"];
    args.extend(files.iter().map(String::as_str));
    let out = phantomc(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "not in canonical style: {}",
        text(&out.stdout)
    );
}

#[test]
fn a_reader_that_stops_early_is_no_panic() {
    // Enough diagnostics to fill the pipe, whose reader then goes away.
    let dir = tempfile::tempdir().expect("tempdir");
    let body: String = (0..3000).map(|i| format!("    bad{i} bad\n")).collect();
    let policy = write(
        dir.path(),
        "many.pfp",
        &format!("policy \"many\"\nfilesystem {{\n{body}}}\n"),
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_phantomc"))
        .arg("check")
        .arg(&policy)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("phantomc starts");
    drop(child.stderr.take());
    let status = child.wait().expect("phantomc ends");
    assert_ne!(status.code(), Some(101), "phantomc panicked");
}

#[test]
fn compiling_onto_the_policy_itself_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = write(dir.path(), "p.pfp", "policy \"p\"\nextends \"base\"\n");
    let before = std::fs::read(&policy).unwrap();
    let o = phantomc(&[
        "compile",
        policy.to_str().unwrap(),
        "-o",
        policy.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("would replace it"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(std::fs::read(&policy).unwrap(), before);
}

#[test]
fn arch_without_a_filter_to_emit_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = write(dir.path(), "p.pfp", "policy \"p\"\nextends \"base\"\n");
    let out = dir.path().join("p.pfb");
    let o = phantomc(&[
        "compile",
        policy.to_str().unwrap(),
        "--arch",
        "x86_64",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("every architecture"),
        "{}",
        text(&o.stderr)
    );
    assert!(!out.exists());
}
