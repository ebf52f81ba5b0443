//! `phantomc import config-yaml`: conversion, output destinations, exit codes, and that
//! the result checks and compiles.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a test failure"
)]

mod common;
use common::{phantomc, text, write_str as write};
use std::path::Path;

/// The README's profile, with the runtime settings the same file may hold, and a second
/// profile with the network on and a relative source.
const CONFIG: &str = r#"profile_dirs:
  - /etc/phantom/profiles
default_profile: my-custom-profile
default_mode: sandbox
cache_dir: ~/.cache/phantom
profiles:
  my-custom-profile:
    name: "my-custom-profile"
    driver: "bwrap"  # The execution driver to use (Bubblewrap on Linux)
    cpu: "1"         # CPU core limit
    memory: "512m"   # Memory limit
    network:
      enabled: false # Disable network access for this profile
    mounts:
      - source: "./workspace" # Mount the local './workspace' directory...
        target: "/workspace"  # ...to '/workspace' inside the sandbox
        mode: "rw"            # with read-write permissions
  online:
    cpu: 0.5
    memory: 2GiB
    network:
      enabled: true
    mounts:
      - source: ./data
        target: /data
"#;

/// Checks, format-checks and compiles a converted policy (the bundle, and the seccomp
/// filter of both architectures).
fn check_and_compile(pfp: &str, dir: &Path) {
    let check = phantomc(&["check", "--deny-warnings", pfp]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    let fmt = phantomc(&["fmt", "--check", pfp]);
    assert_eq!(fmt.status.code(), Some(0), "{}", text(&fmt.stdout));
    let bundle = dir.join("out.pfb");
    let bundle = bundle.to_str().expect("UTF-8 path");
    let compile = phantomc(&["compile", pfp, "-o", bundle]);
    assert_eq!(compile.status.code(), Some(0), "{}", text(&compile.stderr));
    assert!(std::fs::metadata(bundle).expect("bundle written").len() > 0);
    for arch in ["x86_64", "aarch64"] {
        let compile = phantomc(&["compile", pfp, "--arch", arch, "--emit", "bpf-asm"]);
        assert_eq!(compile.status.code(), Some(0), "{}", text(&compile.stderr));
    }
}

#[test]
fn one_profile_to_stdout_then_check_and_compile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write(dir.path(), "phantom.yaml", CONFIG);
    let out = phantomc(&[
        "import",
        "config-yaml",
        &config,
        "--profile",
        "my-custom-profile",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("# Converted from phantom.yaml, profile `my-custom-profile`,\n"),
        "{stdout}"
    );
    for needle in [
        "policy \"my-custom-profile\"\n",
        "extends \"base\"\n",
        "    rw /workspace from ${workspace}\n",
        "    cpu 1\n",
        "    memory 512MiB\n",
        "\nnetwork none\n",
        "Bubblewrap is not used",
    ] {
        assert!(stdout.contains(needle), "{needle}\n{stdout}");
    }
    let pfp = write(dir.path(), "my-custom-profile.pfp", &stdout);
    check_and_compile(&pfp, dir.path());
}

#[test]
fn all_profiles_to_a_directory_then_check_and_compile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write(dir.path(), "phantom.yaml", CONFIG);
    let outdir = dir.path().join("policies");
    let outdir_arg = format!("{}/", outdir.display());
    let out = phantomc(&["import", "config-yaml", &config, "-o", &outdir_arg]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("my-custom-profile.pfp"), "{stderr}");
    assert!(stderr.contains("online.pfp"), "{stderr}");
    let online = outdir.join("online.pfp");
    let written = std::fs::read_to_string(&online).expect("online.pfp written");
    assert!(written.contains("\nnetwork host\n"), "{written}");
    assert!(written.contains("    cpu 0.5\n"), "{written}");
    assert!(written.contains("    memory 2GiB\n"), "{written}");
    // Relative sources are relative to the configuration file.
    let data = dir.path().join("data");
    assert!(
        written.contains(&format!("    ro /data from {}\n", data.display())),
        "{written}"
    );
    for name in ["my-custom-profile.pfp", "online.pfp"] {
        let pfp = outdir.join(name);
        check_and_compile(pfp.to_str().expect("UTF-8 path"), dir.path());
    }
    // An existing directory needs no trailing slash, and overwriting is fine.
    let again = phantomc(&[
        "import",
        "config-yaml",
        &config,
        "-o",
        outdir.to_str().expect("UTF-8 path"),
    ]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
}

#[test]
fn one_profile_to_a_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write(dir.path(), "phantom.yaml", CONFIG);
    let output = dir.path().join("online.pfp");
    let output = output.to_str().expect("UTF-8 path");
    let out = phantomc(&[
        "import",
        "config-yaml",
        &config,
        "--profile",
        "online",
        "-o",
        output,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    let written = std::fs::read_to_string(output).expect("written");
    assert!(written.contains("policy \"online\"\n"), "{written}");
    check_and_compile(output, dir.path());
}

#[test]
fn several_profiles_to_stdout_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write(dir.path(), "phantom.yaml", CONFIG);
    let out = phantomc(&["import", "config-yaml", &config]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = text(&out.stderr);
    assert!(
        stderr
            .contains("has 2 profiles (my-custom-profile, online); choose one with --profile NAME"),
        "{stderr}"
    );
    let file = dir.path().join("both.pfp");
    let out = phantomc(&[
        "import",
        "config-yaml",
        &config,
        "-o",
        file.to_str().expect("UTF-8 path"),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(!file.exists());
}

#[test]
fn unknown_profile_is_a_usage_error_with_a_suggestion() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write(dir.path(), "phantom.yaml", CONFIG);
    let out = phantomc(&["import", "config-yaml", &config, "--profile", "onlin"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("has no profile `onlin`; did you mean `online`?"),
        "{stderr}"
    );
}

#[test]
fn unknown_key_is_refused_with_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write(
        dir.path(),
        "phantom.yaml",
        &CONFIG.replace("memory: \"512m\"", "memroy: \"512m\""),
    );
    let out = phantomc(&["import", "config-yaml", &config, "--profile", "online"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "phantom.yaml:11:5: unknown key `memroy` in a profile\n  help: did you mean `memory`?"
        ),
        "{stderr}"
    );
}

#[test]
fn bad_memory_unit_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write(
        dir.path(),
        "phantom.yaml",
        &CONFIG.replace("memory: \"512m\"", "memory: lots"),
    );
    let unused = dir.path().join("unused");
    let out = phantomc(&[
        "import",
        "config-yaml",
        &config,
        "-o",
        &format!("{}/", unused.display()),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("phantom.yaml:11:13: `memory: lots` is not a size"),
        "{stderr}"
    );
    assert!(
        stderr.contains("help: write a number with k, m, g or t"),
        "{stderr}"
    );
    assert!(!unused.exists());
}

#[test]
fn mount_the_base_profile_cannot_place_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write(
        dir.path(),
        "phantom.yaml",
        &CONFIG.replace("target: /data", "target: /lib/data"),
    );
    let outdir = dir.path().join("out");
    let out = phantomc(&[
        "import",
        "config-yaml",
        &config,
        "-o",
        &format!("{}/", outdir.display()),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("error[PFP0307]"), "{stderr}");
    assert!(
        stderr.contains("the policy converted from profile `online` (line 18 of"),
        "{stderr}"
    );
    assert!(!outdir.exists());
}

#[test]
fn unreadable_or_empty_config_exits_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.yaml");
    let out = phantomc(&[
        "import",
        "config-yaml",
        missing.to_str().expect("UTF-8 path"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot read"));
    let empty = write(dir.path(), "empty.yaml", "default_mode: direct\n");
    let out = phantomc(&["import", "config-yaml", &empty]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("has no profiles"),
        "{}",
        text(&out.stderr)
    );
}
