//! `phantomc compile` to bundles, `inspect`, `sign` and `key generate`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a test failure"
)]

mod common;
use common::{phantomc_in as phantomc, repo, text};

#[test]
fn every_shipped_policy_compiles_to_a_reproducible_bundle() {
    let repo = repo();
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    let mut count = 0;
    for dir in ["stdlib-profiles", "policies"] {
        for entry in std::fs::read_dir(repo.join(dir)).expect("dir").flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "pfp") || path.ends_with("syscall-sets.pfp") {
                continue;
            }
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            // Once by absolute path from one directory, once by relative path from another.
            let out_a = a.path().join(format!("{name}.pfb"));
            let run = phantomc(
                a.path(),
                &[
                    "compile",
                    path.to_str().unwrap(),
                    "-o",
                    out_a.to_str().unwrap(),
                ],
            );
            assert_eq!(run.status.code(), Some(0), "{name}: {}", text(&run.stderr));
            let relative = format!("{dir}/{}", path.file_name().unwrap().to_string_lossy());
            let out_b = b.path().join(format!("{name}.pfb"));
            let run = phantomc(
                &repo,
                &["compile", &relative, "-o", out_b.to_str().unwrap()],
            );
            assert_eq!(run.status.code(), Some(0), "{name}: {}", text(&run.stderr));
            assert_eq!(
                std::fs::read(&out_a).unwrap(),
                std::fs::read(&out_b).unwrap(),
                "{name}: bundles differ"
            );
            count += 1;
        }
    }
    assert!(count >= 12, "only {count} policies compiled");
}

#[test]
fn inspect_shows_each_part_and_json_is_complete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = repo().join("stdlib-profiles/python-dev.pfp");
    let out = dir.path().join("py.pfb");
    assert!(phantomc(
        dir.path(),
        &[
            "compile",
            policy.to_str().unwrap(),
            "-o",
            out.to_str().unwrap()
        ]
    )
    .status
    .success());
    let run = phantomc(
        dir.path(),
        &["inspect", out.to_str().unwrap(), "--disassemble"],
    );
    assert!(run.status.success(), "{}", text(&run.stderr));
    let shown = text(&run.stdout);
    for part in [
        "bundle python-dev",
        "seccomp",
        "mounts (in order",
        "bind-rw   /workspace",
        "limits",
        "memory",
        "network",
        "landlock",
        "process",
        "run-time variables",
        "${workspace}",
        "ret  #ALLOW",
    ] {
        assert!(shown.contains(part), "missing `{part}` in:\n{shown}");
    }
    let run = phantomc(dir.path(), &["inspect", "--json", out.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&run.stdout).expect("JSON");
    assert_eq!(v["name"], "python-dev");
    assert_eq!(v["bundle"]["format_version"], 2);
    assert_eq!(v["mode"], "Sandbox");
    assert_eq!(v["seccomp"][0]["arch"], "x86_64");
    assert!(v["mounts"].as_array().is_some_and(|m| m.len() > 10));
    // Inspecting the policy itself shows the same bundle.
    let run = phantomc(dir.path(), &["inspect", "--json", policy.to_str().unwrap()]);
    let w: serde_json::Value = serde_json::from_slice(&run.stdout).expect("JSON");
    assert_eq!(v["bundle"]["content_hash"], w["bundle"]["content_hash"]);
}

#[test]
fn corrupted_and_truncated_bundles_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = repo().join("policies/hello.pfp");
    let out = dir.path().join("h.pfb");
    assert!(phantomc(
        dir.path(),
        &[
            "compile",
            policy.to_str().unwrap(),
            "-o",
            out.to_str().unwrap()
        ]
    )
    .status
    .success());
    let good = std::fs::read(&out).unwrap();
    let cases: [(&str, Vec<u8>, &str); 3] = [
        (
            "flipped",
            {
                let mut b = good.clone();
                let i = b.len() - 10;
                b[i] ^= 0x40;
                b
            },
            "corrupted",
        ),
        ("truncated", good[..good.len() / 2].to_vec(), "truncated"),
        (
            "newer",
            {
                let mut b = good.clone();
                b[8] = 9;
                b
            },
            "version 9",
        ),
    ];
    for (name, bytes, expect) in cases {
        let path = dir.path().join(format!("{name}.pfb"));
        std::fs::write(&path, bytes).unwrap();
        let run = phantomc(dir.path(), &["inspect", path.to_str().unwrap()]);
        assert_eq!(run.status.code(), Some(1), "{name}");
        assert!(
            text(&run.stderr).contains(expect),
            "{name}: {}",
            text(&run.stderr)
        );
    }
}

#[test]
fn sign_and_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = repo().join("policies/hello.pfp");
    let out = dir.path().join("h.pfb");
    assert!(phantomc(
        dir.path(),
        &[
            "compile",
            policy.to_str().unwrap(),
            "-o",
            out.to_str().unwrap()
        ]
    )
    .status
    .success());
    assert!(phantomc(dir.path(), &["key", "generate", "ci.key"])
        .status
        .success());
    assert!(phantomc(dir.path(), &["key", "generate", "other.key"])
        .status
        .success());
    assert!(
        phantomc(dir.path(), &["key", "generate", "ci.key"])
            .status
            .code()
            != Some(0),
        "never overwrites a key"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("ci.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let unsigned = phantomc(
        dir.path(),
        &["inspect", "h.pfb", "--verify-key", "ci.key.pub"],
    );
    assert_eq!(unsigned.status.code(), Some(1));
    assert!(text(&unsigned.stderr).contains("not signed"));
    // A public key is refused as a signing key: anyone holding it could sign too.
    let public = phantomc(dir.path(), &["sign", "h.pfb", "--key", "ci.key.pub"]);
    assert_ne!(public.status.code(), Some(0));
    assert!(
        text(&public.stderr).contains("is a public key"),
        "{}",
        text(&public.stderr)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let copy = dir.path().join("copied.key");
        std::fs::copy(dir.path().join("ci.key"), &copy).unwrap();
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o644)).unwrap();
        let open = phantomc(dir.path(), &["sign", "h.pfb", "--key", "copied.key"]);
        assert_ne!(open.status.code(), Some(0));
        assert!(
            text(&open.stderr).contains("chmod 600"),
            "{}",
            text(&open.stderr)
        );
    }
    assert!(phantomc(dir.path(), &["sign", "h.pfb", "--key", "ci.key"])
        .status
        .success());
    let ok = phantomc(
        dir.path(),
        &["inspect", "h.pfb", "--verify-key", "ci.key.pub"],
    );
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains(", signed,"));
    let wrong = phantomc(
        dir.path(),
        &["inspect", "h.pfb", "--verify-key", "other.key.pub"],
    );
    assert_eq!(wrong.status.code(), Some(1));
    assert!(text(&wrong.stderr).contains("signature is invalid"));
}

#[test]
fn what_is_not_a_regular_file_is_refused_without_being_read() {
    // /dev/zero never ends and a FIFO blocks its reader: both were once read whole
    // (until memory ran out) or waited on forever.
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("policy.pfp");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    for args in [
        vec!["check", "/dev/zero"],
        vec!["inspect", "/dev/zero"],
        vec!["check", fifo.to_str().unwrap()],
        vec!["compile", fifo.to_str().unwrap(), "-o", "x.pfb"],
    ] {
        let o = phantomc(dir.path(), &args);
        assert_ne!(o.status.code(), Some(0), "{args:?}");
        assert!(
            text(&o.stderr).contains("not a regular file"),
            "{args:?}: {}",
            text(&o.stderr)
        );
    }
}

#[test]
fn a_broken_pfb_is_reported_as_a_bundle_not_compiled_as_a_policy() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("empty.pfb"), b"").unwrap();
    std::fs::write(dir.path().join("short.pfb"), b"PFBUN").unwrap();
    for name in ["empty.pfb", "short.pfb"] {
        let o = phantomc(dir.path(), &["inspect", name]);
        assert_eq!(o.status.code(), Some(1), "{name}");
        assert!(
            text(&o.stderr).contains("too short for a bundle header"),
            "{name}: {}",
            text(&o.stderr)
        );
    }
}
