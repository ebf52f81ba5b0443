//! The Phantom Fragment runtime: runs a compiled bundle's workload under its policy.
//! It never parses `.pfp`; it takes the compiler's output as it is.

#[cfg(target_os = "linux")]
pub mod cgroup;
#[cfg(target_os = "linux")]
pub mod harden;
#[cfg(target_os = "linux")]
pub mod sandbox;
#[cfg(target_os = "linux")]
pub mod seccomp;
