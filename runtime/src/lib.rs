//! The Phantom Fragment runtime: runs a compiled bundle's workload under its policy.
//! `sandbox` never parses `.pfp`; it takes the compiler's output as it is. Only
//! `profiles` (for `phantom run --profile`) compiles policies, through the compiler
//! library, before a sandbox exists.

#[cfg(target_os = "linux")]
pub mod allocator;
#[cfg(target_os = "linux")]
pub mod cgroup;
pub mod config;
#[cfg(target_os = "linux")]
pub mod harden;
#[cfg(target_os = "linux")]
pub mod mcp;
pub mod profiles;
#[cfg(target_os = "linux")]
pub mod sandbox;
#[cfg(target_os = "linux")]
pub mod seccomp;
#[cfg(target_os = "linux")]
pub mod workspaces;
