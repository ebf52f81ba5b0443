//! A workspace's use, read from its cgroups (`phantom monitor`): whichever of the v1
//! and v2 files its directories hold. What no directory holds stays `None` (shown as
//! `n/a`), never 0.

use std::path::Path;

use serde::Serialize;

use crate::cgroup::{SessionDir, Version};

/// v1 `cpuacct.stat` counts in USER_HZ, which is 100 on every Linux architecture.
const USER_HZ: u64 = 100;

/// v1 writes an unlimited memory limit as a huge number (`PAGE_COUNTER_MAX` pages).
const V1_UNLIMITED: u64 = 1 << 62;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Metrics {
    pub memory_bytes: Option<u64>,
    pub memory_peak_bytes: Option<u64>,
    pub memory_limit_bytes: Option<u64>,
    /// CPU time used, in microseconds.
    pub cpu_usec: Option<u64>,
    pub cpu_user_usec: Option<u64>,
    pub cpu_system_usec: Option<u64>,
    pub pids: Option<u64>,
    pub pids_limit: Option<u64>,
    pub io_read_bytes: Option<u64>,
    pub io_write_bytes: Option<u64>,
    /// Processes the OOM killer ended because of the memory limit.
    pub oom_kills: Option<u64>,
    /// Forks refused at the pids limit.
    pub pids_limit_hits: Option<u64>,
}

/// Reads the metrics of these directories from the kernel.
pub fn read(dirs: &[SessionDir]) -> Metrics {
    read_with(dirs, |path| std::fs::read_to_string(path).ok())
}

/// [`read`] with the files read by `read_file` (tests give canned contents).
pub fn read_with(dirs: &[SessionDir], read_file: impl Fn(&Path) -> Option<String>) -> Metrics {
    let mut m = Metrics::default();
    for dir in dirs {
        let file = |name: &str| read_file(&dir.path.join(name));
        let number = |name: &str| file(name).and_then(|t| t.trim().parse::<u64>().ok());
        let limit = |name: &str| {
            file(name).and_then(|t| match t.trim() {
                "max" => None,
                n => n.parse::<u64>().ok().filter(|&n| n < V1_UNLIMITED),
            })
        };
        match dir.version {
            Version::V1 => {
                m.memory_bytes = m.memory_bytes.or(number("memory.usage_in_bytes"));
                m.memory_peak_bytes = m.memory_peak_bytes.or(number("memory.max_usage_in_bytes"));
                m.memory_limit_bytes = m.memory_limit_bytes.or(limit("memory.limit_in_bytes"));
                m.oom_kills = m
                    .oom_kills
                    .or(file("memory.oom_control").and_then(|t| keyed(&t, "oom_kill")));
                m.cpu_usec = m.cpu_usec.or(number("cpuacct.usage").map(|ns| ns / 1000));
                if let Some(stat) = file("cpuacct.stat") {
                    let usec = |key| keyed(&stat, key).map(|t| t * (1_000_000 / USER_HZ));
                    m.cpu_user_usec = m.cpu_user_usec.or(usec("user"));
                    m.cpu_system_usec = m.cpu_system_usec.or(usec("system"));
                }
                if let Some(text) = file("blkio.throttle.io_service_bytes_recursive")
                    .or_else(|| file("blkio.throttle.io_service_bytes"))
                {
                    let (read, write) = blkio_bytes(&text);
                    m.io_read_bytes = m.io_read_bytes.or(Some(read));
                    m.io_write_bytes = m.io_write_bytes.or(Some(write));
                }
            }
            Version::V2 => {
                m.memory_bytes = m.memory_bytes.or(number("memory.current"));
                m.memory_peak_bytes = m.memory_peak_bytes.or(number("memory.peak"));
                m.memory_limit_bytes = m.memory_limit_bytes.or(limit("memory.max"));
                m.oom_kills = m
                    .oom_kills
                    .or(file("memory.events").and_then(|t| keyed(&t, "oom_kill")));
                if let Some(stat) = file("cpu.stat") {
                    m.cpu_usec = m.cpu_usec.or(keyed(&stat, "usage_usec"));
                    m.cpu_user_usec = m.cpu_user_usec.or(keyed(&stat, "user_usec"));
                    m.cpu_system_usec = m.cpu_system_usec.or(keyed(&stat, "system_usec"));
                }
                if let Some(text) = file("io.stat") {
                    let (read, write) = io_stat_bytes(&text);
                    m.io_read_bytes = m.io_read_bytes.or(Some(read));
                    m.io_write_bytes = m.io_write_bytes.or(Some(write));
                }
            }
        }
        m.pids = m.pids.or(number("pids.current"));
        m.pids_limit = m.pids_limit.or(limit("pids.max"));
        m.pids_limit_hits = m
            .pids_limit_hits
            .or(file("pids.events").and_then(|t| keyed(&t, "max")));
    }
    m
}

/// The value after `key` in a `key value` file.
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(char::is_whitespace)?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// Read and write bytes summed over devices, from v1's `MAJ:MIN Read N` lines.
fn blkio_bytes(text: &str) -> (u64, u64) {
    let (mut read, mut write) = (0u64, 0u64);
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if let [_, op, n] = fields.as_slice() {
            let n: u64 = n.parse().unwrap_or(0);
            match *op {
                "Read" => read = read.saturating_add(n),
                "Write" => write = write.saturating_add(n),
                _ => {}
            }
        }
    }
    (read, write)
}

/// Read and write bytes summed over devices, from v2's `MAJ:MIN rbytes=N wbytes=N ...`.
fn io_stat_bytes(text: &str) -> (u64, u64) {
    let (mut read, mut write) = (0u64, 0u64);
    for field in text.split_whitespace() {
        if let Some((key, value)) = field.split_once('=') {
            let n: u64 = value.parse().unwrap_or(0);
            match key {
                "rbytes" => read = read.saturating_add(n),
                "wbytes" => write = write.saturating_add(n),
                _ => {}
            }
        }
    }
    (read, write)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::PathBuf;

    use super::*;
    use crate::cgroup::Controller;

    fn dir(path: &str, version: Version) -> SessionDir {
        SessionDir {
            path: PathBuf::from(path),
            version,
            controllers: vec![Controller::Memory],
        }
    }

    fn files(entries: &[(&str, &str)]) -> impl Fn(&Path) -> Option<String> {
        let map: HashMap<PathBuf, String> = entries
            .iter()
            .map(|(p, t)| (PathBuf::from(p), t.to_string()))
            .collect();
        move |p: &Path| map.get(p).cloned()
    }

    #[test]
    fn v1_hierarchies_each_give_their_part() {
        let dirs = [
            dir("/m/ws", Version::V1),
            dir("/c/ws", Version::V1),
            dir("/p/ws", Version::V1),
            dir("/b/ws", Version::V1),
        ];
        let m = read_with(
            &dirs,
            files(&[
                ("/m/ws/memory.usage_in_bytes", "1048576\n"),
                ("/m/ws/memory.max_usage_in_bytes", "2097152\n"),
                ("/m/ws/memory.limit_in_bytes", "9223372036854771712\n"),
                (
                    "/m/ws/memory.oom_control",
                    "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
                ),
                ("/c/ws/cpuacct.usage", "1500000000\n"),
                ("/c/ws/cpuacct.stat", "user 120\nsystem 30\n"),
                ("/p/ws/pids.current", "4\n"),
                ("/p/ws/pids.max", "64\n"),
                ("/p/ws/pids.events", "max 1\n"),
                (
                    "/b/ws/blkio.throttle.io_service_bytes_recursive",
                    "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:16 Read 1\nTotal 12289\n",
                ),
            ]),
        );
        assert_eq!(
            m,
            Metrics {
                memory_bytes: Some(1 << 20),
                memory_peak_bytes: Some(2 << 20),
                memory_limit_bytes: None,
                cpu_usec: Some(1_500_000),
                cpu_user_usec: Some(1_200_000),
                cpu_system_usec: Some(300_000),
                pids: Some(4),
                pids_limit: Some(64),
                io_read_bytes: Some(4097),
                io_write_bytes: Some(8192),
                oom_kills: Some(2),
                pids_limit_hits: Some(1),
            }
        );
    }

    #[test]
    fn v2_files_and_what_is_missing() {
        let m = read_with(
            &[dir("/u/ws", Version::V2)],
            files(&[
                ("/u/ws/memory.current", "4096\n"),
                ("/u/ws/memory.max", "max\n"),
                (
                    "/u/ws/cpu.stat",
                    "usage_usec 250\nuser_usec 200\nsystem_usec 50\n",
                ),
                ("/u/ws/io.stat", "8:0 rbytes=10 wbytes=20 rios=1 wios=2\n"),
            ]),
        );
        assert_eq!(m.memory_bytes, Some(4096));
        assert_eq!(m.memory_limit_bytes, None);
        assert_eq!(m.cpu_usec, Some(250));
        assert_eq!((m.io_read_bytes, m.io_write_bytes), (Some(10), Some(20)));
        assert_eq!(m.pids, None);
        assert_eq!(m.oom_kills, None);
    }
}
