//! `phantomc import docker-seccomp`: output, notes, exit codes.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a test failure"
)]

mod common;
use common::{phantomc, text, write_str as write};
use std::path::PathBuf;

/// Docker's default profile in `shared/corpus` beside the repository, if present.
fn docker_default() -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/docker-default-seccomp.json");
    if path.is_file() {
        Some(path)
    } else {
        println!("skipped: no {}", path.display());
        None
    }
}

const SMALL: &str = r#"{
    "defaultAction": "SCMP_ACT_ERRNO",
    "syscalls": [
        {"names": ["read", "write", "_llseek"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
        {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}}
    ]
}"#;

#[test]
fn writes_pfp_to_stdout_and_notes_to_stderr() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = write(dir.path(), "small.json", SMALL);
    let out = phantomc(&["import", "docker-seccomp", &profile]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("# Imported from small.json by `phantomc import docker-seccomp`."),
        "{stdout}"
    );
    assert!(stdout.contains("    allow read, write\n"), "{stdout}");
    assert!(
        stdout.contains("    allow socket if domain == 1\n"),
        "{stdout}"
    );
    assert!(!stdout.contains("allow mount"), "{stdout}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("phantomc: note: syscalls[2] (mount): needs CAP_SYS_ADMIN; left out"),
        "{stderr}"
    );
    assert!(
        stderr.contains("phantomc: note: not on x86_64 or aarch64: _llseek"),
        "{stderr}"
    );
}

#[test]
fn with_cap_and_output_file_and_the_result_checks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = write(dir.path(), "small.json", SMALL);
    let output = dir.path().join("small.pfp");
    let output = output.to_str().expect("UTF-8 path");
    let out = phantomc(&[
        "import",
        "docker-seccomp",
        &profile,
        "-o",
        output,
        "--with-cap",
        "CAP_SYS_ADMIN",
        "--name",
        "small",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    let written = std::fs::read_to_string(output).expect("output written");
    assert!(written.contains("policy \"small\"\n"), "{written}");
    assert!(written.contains("    allow mount\n"), "{written}");
    assert!(
        written.contains("# Capabilities assumed: CAP_SYS_ADMIN."),
        "{written}"
    );
    // Overwriting is fine.
    let again = phantomc(&["import", "docker-seccomp", &profile, "-o", output]);
    assert_eq!(again.status.code(), Some(0));
    let check = phantomc(&["check", "--deny-warnings", output]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    let fmt = phantomc(&["fmt", "--check", output]);
    assert_eq!(fmt.status.code(), Some(0), "{}", text(&fmt.stdout));
}

#[test]
fn docker_default_profile_round_trip() {
    let Some(profile) = docker_default() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    for caps in [&[][..], &["--with-cap", "CAP_SYS_ADMIN"][..]] {
        let output = dir.path().join("docker.pfp");
        let output = output.to_str().expect("UTF-8 path");
        let mut args = vec![
            "import",
            "docker-seccomp",
            profile.to_str().expect("UTF-8 path"),
            "-o",
            output,
        ];
        args.extend_from_slice(caps);
        let out = phantomc(&args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let stderr = text(&out.stderr);
        assert!(
            stderr.lines().all(|l| l.starts_with("phantomc: note: ")),
            "{stderr}"
        );
        let check = phantomc(&["check", "--deny-warnings", output]);
        assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
        for arch in ["x86_64", "aarch64"] {
            let compile = phantomc(&["compile", output, "--arch", arch, "--emit", "bpf-asm"]);
            assert_eq!(compile.status.code(), Some(0), "{}", text(&compile.stderr));
        }
        let written = std::fs::read_to_string(output).expect("written");
        let admin = written.contains("allow bpf, clone, clone3,");
        assert_eq!(admin, !caps.is_empty(), "{written}");
        assert_eq!(written.contains("errno(ENOSYS) clone3"), caps.is_empty());
    }
}

#[test]
fn bad_profiles_exit_1_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            "truncated.json",
            "{\"defaultAction\": \"SCMP_ACT_ALLOW\",\n \"syscalls\": [",
            "line 2 column",
        ),
        (
            "action.json",
            r#"{"defaultAction": "SCMP_ACT_NOPE"}"#,
            "defaultAction: unknown action `SCMP_ACT_NOPE`",
        ),
        (
            "op.json",
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_KILL", "args": [{"index": 0, "value": 1, "op": "EQ"}]}]}"#,
            "syscalls[0].args[0]: unknown operator `EQ`",
        ),
        (
            "index.json",
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_KILL", "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
            "argument index 7 is out of range",
        ),
        (
            "types.json",
            r#"{"defaultAction": ["SCMP_ACT_ALLOW"]}"#,
            "invalid type",
        ),
    ];
    for (name, json, needle) in cases {
        let profile = write(dir.path(), name, json);
        let out = phantomc(&["import", "docker-seccomp", &profile]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert!(out.stdout.is_empty(), "{name}");
        let stderr = text(&out.stderr);
        assert!(stderr.starts_with("phantomc: `"), "{name}: {stderr}");
        assert!(stderr.contains(needle), "{name}: {stderr}");
    }
    let missing = dir.path().join("missing.json");
    let out = phantomc(&["import", "docker-seccomp", missing.to_str().expect("UTF-8")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot read"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["import"][..],
        &["import", "docker-seccomp"][..],
        &["import", "podman", "x.json"][..],
        &[
            "import",
            "docker-seccomp",
            "x.json",
            "--with-capability",
            "X",
        ][..],
    ] {
        let out = phantomc(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}
