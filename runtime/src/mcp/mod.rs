//! `phantom-mcp`: the Model Context Protocol server giving LLM agents sandboxed code
//! execution. The binary (src/bin/phantom-mcp.rs) parses flags and serves stdio;
//! everything else is here.
//!
//! | module | owns |
//! |---|---|
//! | `server` | the tools on rmcp's router: arguments checked, results with JSON and text |
//! | `runner` | one run: `phantom run` as a child process, reasons from its status and closing lines |
//! | `capture` | output kept within head + tail caps while it is read |
//! | `workspace` | workspaces under the state directory, expiry, confined file access |
//! | `languages` | served languages, their profiles and commands |

pub mod capture;
pub mod languages;
pub mod runner;
pub mod server;
pub mod workspace;

use std::sync::atomic::{AtomicU8, Ordering};

/// Log levels; stderr only, since stdout carries the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error = 0,
    Info = 1,
    Debug = 2,
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);

/// Sets the level from `PHANTOM_DEBUG` (true/1/yes/debug: debug; false/0/no or
/// unset: info; `error` or `quiet`: errors only).
pub fn init_logging() {
    let level = match std::env::var("PHANTOM_DEBUG")
        .unwrap_or_default()
        .to_ascii_lowercase()
        .as_str()
    {
        "1" | "true" | "yes" | "on" | "debug" => Level::Debug,
        "error" | "quiet" => Level::Error,
        _ => Level::Info,
    };
    LEVEL.store(level as u8, Ordering::Relaxed);
}

/// Writes one line to stderr if `level` is enabled.
pub fn log(level: Level, message: &str) {
    if level as u8 <= LEVEL.load(Ordering::Relaxed) {
        eprintln!("phantom-mcp: {message}");
    }
}
