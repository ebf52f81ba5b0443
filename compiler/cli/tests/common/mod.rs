//! Helpers shared by the `phantomc` command-line tests (each test file includes this
//! module; not every file uses every helper).

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `phantomc ARGS`, colours off.
pub fn phantomc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_phantomc"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("phantomc runs")
}

/// `phantomc ARGS` in `dir`, colours off.
pub fn phantomc_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_phantomc"))
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("phantomc runs")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Writes a test file and returns its path.
pub fn write_file(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write test file");
    path
}

/// [`write_file`], the path as a string (for argument lists).
pub fn write_str(dir: &Path, name: &str, contents: &str) -> String {
    write_file(dir, name, contents)
        .to_str()
        .expect("UTF-8 path")
        .to_string()
}

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo")
}
