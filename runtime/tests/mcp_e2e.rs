//! phantom-mcp end to end, through a client this project did not write: the official
//! MCP Python SDK, in the virtual environment scripts/test.sh creates at
//! target/mcp-venv. The checks themselves are in tests/mcp/client_test.py.
#![cfg(target_os = "linux")]

use std::path::PathBuf;
use std::process::Command;

#[test]
#[allow(clippy::panic, reason = "a test fails by panicking")]
fn mcp_python_sdk_end_to_end() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    let python = std::env::var_os("PHANTOM_MCP_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/mcp-venv/bin/python"));
    let has_sdk = Command::new(&python)
        .args(["-c", "import mcp"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_sdk {
        eprintln!(
            "mcp_e2e: skipped: no MCP Python SDK at {} (scripts/test.sh creates it with `pip install mcp`)",
            python.display()
        );
        return;
    }
    let mut args = vec![
        "--phantom".to_string(),
        env!("CARGO_BIN_EXE_phantom").to_string(),
    ];
    // cgroup limits need root here (as in CI); elsewhere run without them, as
    // phantom-mcp users would with --allow-degraded.
    if nix::unistd::geteuid().as_raw() != 0 {
        args.push("--allow-degraded".into());
    }
    let output = Command::new(&python)
        .arg(root.join("tests/mcp/client_test.py"))
        .arg(env!("CARGO_BIN_EXE_phantom-mcp"))
        .args(&args)
        .output();
    let output = match output {
        Ok(output) => output,
        Err(e) => panic!("cannot run the MCP client: {e}"),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "MCP client checks failed:\n{stdout}\n--- stderr ---\n{stderr}"
    );
}
