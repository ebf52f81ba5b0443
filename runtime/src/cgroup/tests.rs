//! The cgroup logic against [`FakeFs`], the in-memory model of the kernel's rules.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a test failure"
)]

use std::path::{Path, PathBuf};

use phantom_bundle::{CgroupLimits, CpuQuota};

use super::detect::{parse_mountinfo, parse_proc_cgroup};
use super::fake::{FakeFs, FakeOp};
use super::session::stale_pid;
use super::*;

const MIB: u64 = 1 << 20;

fn limits() -> CgroupLimits {
    CgroupLimits {
        memory_max: Some(64 * MIB),
        swap_max: Some(0),
        cpu: Some(CpuQuota {
            quota_us: 50_000,
            period_us: 100_000,
        }),
        pids_max: Some(16),
        io_weight: None,
    }
}

fn strict() -> CgroupOptions {
    CgroupOptions::default()
}

fn degraded() -> CgroupOptions {
    CgroupOptions {
        allow_degraded: true,
        ..CgroupOptions::default()
    }
}

fn create<'a>(
    fs: &'a FakeFs,
    limits: &CgroupLimits,
    options: &CgroupOptions,
) -> Result<CgroupSession<&'a FakeFs>, CgroupError> {
    CgroupSession::create_with(fs, limits, "test", options)
}

/// A pure cgroup v2 host; this process is in the root cgroup.
fn v2_root() -> FakeFs {
    let fs = FakeFs::new();
    fs.mount_v2("/sys/fs/cgroup", &["cpuset", "cpu", "io", "memory", "pids"]);
    fs
}

/// A cgroup v2 host where this process is in `/sys/fs/cgroup/svc/app.scope`, whose
/// parents enable memory, cpu and pids (not io).
fn v2_nested() -> FakeFs {
    let fs = v2_root();
    fs.mkdir_p("/sys/fs/cgroup/svc/app.scope", &["cpu", "memory", "pids"]);
    fs.place_self("/sys/fs/cgroup/svc/app.scope");
    fs
}

/// Like this machine: controllers on v1, our memory cgroup nested, the v2 hierarchy
/// at /sys/fs/cgroup/unified with only hugetlb.
fn hybrid() -> FakeFs {
    let fs = FakeFs::new();
    for c in [
        "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
    ] {
        fs.mount_v1(&format!("/sys/fs/cgroup/{c}"), &[c]);
    }
    fs.mount_v2("/sys/fs/cgroup/unified", &["hugetlb"]);
    fs.mkdir_p("/sys/fs/cgroup/memory/process_api/abc", &[]);
    fs.place_self("/sys/fs/cgroup/memory/process_api/abc");
    fs
}

/// cgroup v1 only: memory, cpu,cpuacct (one hierarchy), pids, freezer.
fn legacy() -> FakeFs {
    let fs = FakeFs::new();
    fs.mount_v1("/sys/fs/cgroup/memory", &["memory"]);
    fs.mount_v1("/sys/fs/cgroup/cpu,cpuacct", &["cpu", "cpuacct"]);
    fs.mount_v1("/sys/fs/cgroup/pids", &["pids"]);
    fs.mount_v1("/sys/fs/cgroup/freezer", &["freezer"]);
    fs
}

fn has_write(fs: &FakeFs, path: &str, data: &str) -> bool {
    fs.writes().iter().any(|(p, d)| p == path && d == data)
}

fn position(fs: &FakeFs, path: &str) -> usize {
    fs.writes()
        .iter()
        .position(|(p, _)| p == path)
        .unwrap_or_else(|| panic!("no write to {path}: {:#?}", fs.writes()))
}

fn attempted(fs: &FakeFs, suffix: &str) -> bool {
    fs.ops().iter().any(|op| match op {
        FakeOp::Write { path, .. } => path.ends_with(suffix),
        _ => false,
    })
}

fn no_kill_of(fs: &FakeFs, pid: i32) -> bool {
    !fs.ops().contains(&FakeOp::Kill { pid })
}

// ---------------------------------------------------------------------------------
// Detection

const THIS_MACHINE_CGROUP: &str = "9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/abc
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
";

const THIS_MACHINE_MOUNTINFO: &str = "\
24 1 253:0 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

#[test]
fn detects_this_machines_hybrid_layout() {
    let fs = hybrid();
    fs.set_file("/proc/self/cgroup", THIS_MACHINE_CGROUP);
    fs.set_file("/proc/self/mountinfo", THIS_MACHINE_MOUNTINFO);
    let d = Detection::detect(&&fs).unwrap();
    assert_eq!(d.layout, Layout::Hybrid);
    let dir = |c| d.hierarchy_for(c).map(|h| h.own_dir.clone());
    assert_eq!(
        dir(Controller::Memory),
        Some(PathBuf::from("/sys/fs/cgroup/memory/process_api/abc"))
    );
    assert_eq!(
        dir(Controller::Cpu),
        Some(PathBuf::from("/sys/fs/cgroup/cpu"))
    );
    assert_eq!(
        dir(Controller::Pids),
        Some(PathBuf::from("/sys/fs/cgroup/pids"))
    );
    assert_eq!(
        dir(Controller::Io),
        Some(PathBuf::from("/sys/fs/cgroup/blkio"))
    );
    assert_eq!(
        dir(Controller::Freezer),
        Some(PathBuf::from("/sys/fs/cgroup/freezer"))
    );
    let v2 = d.v2().unwrap();
    assert_eq!(v2.own_dir, PathBuf::from("/sys/fs/cgroup/unified"));
    assert_eq!(v2.controllers, vec!["hugetlb"]);
    // name=systemd has no controllers and is not listed; the rest are.
    assert_eq!(d.hierarchies.len(), 9);
    assert!(d.problems.is_empty(), "{:?}", d.problems);
    let text = d.to_string();
    assert!(text.contains("hybrid"), "{text}");
    assert!(
        text.contains("Memory: cgroup v1 at /sys/fs/cgroup/memory/process_api/abc"),
        "{text}"
    );
}

#[test]
fn parses_mountinfo_escapes_combined_controllers_bind_roots_and_read_only() {
    let text = "\
30 20 0:26 / /sys/fs/cgroup/cpu,cpuacct ro,nosuid shared:9 - cgroup cgroup rw,cpu,cpuacct
31 20 0:27 /docker/abc /sys/fs/my\\040cgroups rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
32 20 0:28 / /proc rw - proc proc rw
";
    let mounts = parse_mountinfo(text);
    assert_eq!(mounts.len(), 2);
    assert_eq!(mounts[0].version, Version::V1);
    assert_eq!(
        mounts[0].mount_point,
        PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")
    );
    assert!(mounts[0].options.contains(&"cpuacct".to_owned()));
    assert!(mounts[0].read_only);
    assert_eq!(mounts[1].version, Version::V2);
    assert_eq!(mounts[1].root, "/docker/abc");
    assert_eq!(mounts[1].mount_point, PathBuf::from("/sys/fs/my cgroups"));
    assert!(!mounts[1].read_only);

    let lines =
        parse_proc_cgroup("2:cpu,cpuacct:/a\n1:name=systemd:/\n0::/docker/abc/x (deleted)\nbad\n");
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0].controllers, vec!["cpu", "cpuacct"]);
    assert_eq!(lines[2].path, "/docker/abc/x");
}

#[test]
fn a_cgroup_outside_every_mount_of_its_hierarchy_is_reported_not_guessed() {
    let fs = v2_root();
    fs.set_file("/proc/self/cgroup", "0::/other/place\n");
    fs.set_file(
        "/proc/self/mountinfo",
        "41 31 0:38 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
    );
    let d = Detection::detect(&&fs).unwrap();
    assert_eq!(d.layout, Layout::None);
    assert_eq!(d.problems.len(), 1);
    assert!(
        d.problems[0].contains("outside every mount"),
        "{:?}",
        d.problems
    );
}

#[test]
fn a_bind_mounted_subtree_maps_our_path_below_its_mount_point() {
    let fs = v2_root();
    fs.mkdir_p("/sys/fs/cgroup/x", &["memory"]);
    fs.set_file("/proc/self/cgroup", "0::/docker/abc/x\n");
    fs.set_file(
        "/proc/self/mountinfo",
        "41 31 0:38 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
    );
    let d = Detection::detect(&&fs).unwrap();
    assert_eq!(d.layout, Layout::Unified);
    assert_eq!(d.hierarchies[0].own_dir, PathBuf::from("/sys/fs/cgroup/x"));
    assert_eq!(d.hierarchies[0].controllers, vec!["memory"]);
}

#[test]
fn missing_proc_is_a_detect_error_naming_the_file() {
    let fs = v2_root();
    fs.hide_proc();
    let e = Detection::detect(&&fs).unwrap_err();
    assert!(matches!(e, CgroupError::Detect { .. }), "{e}");
    assert!(
        e.to_string().contains("could not read /proc/self/cgroup"),
        "{e}"
    );
    let e = create(&fs, &limits(), &degraded()).unwrap_err();
    assert!(matches!(e, CgroupError::Detect { .. }), "{e}");
}

// ---------------------------------------------------------------------------------
// cgroup v2

#[test]
fn v2_root_enables_controllers_and_writes_every_limit() {
    let fs = v2_root();
    let mut l = limits();
    l.swap_max = Some(8 * MIB);
    l.io_weight = Some(200);
    let s = create(&fs, &l, &strict()).unwrap();
    let dir = format!("/sys/fs/cgroup/{}", s.name());
    assert!(s.name().starts_with(&format!("phantom-{}-", fs.self_pid())));
    assert!(s.name().ends_with("-test"));
    // The root cgroup is exempt from the no-internal-processes rule.
    for c in ["+cpu", "+memory", "+pids", "+io"] {
        assert!(
            has_write(&fs, "/sys/fs/cgroup/cgroup.subtree_control", c),
            "{c}"
        );
    }
    assert!(has_write(&fs, &format!("{dir}/memory.max"), "67108864"));
    assert!(has_write(&fs, &format!("{dir}/memory.swap.max"), "8388608"));
    assert!(has_write(&fs, &format!("{dir}/cpu.max"), "50000 100000"));
    assert!(has_write(&fs, &format!("{dir}/pids.max"), "16"));
    assert!(has_write(&fs, &format!("{dir}/io.weight"), "default 200"));
    assert_eq!(
        s.enforced(),
        [
            "memory limit 64 MiB",
            "swap limit 8 MiB",
            "cpu limit 50000/100000 µs (0.50 CPU)",
            "pids limit 16",
            "io weight 200"
        ]
    );
    assert!(s.not_enforced().is_empty());
    assert_eq!(s.dirs().len(), 1);

    fs.spawn(4000, "/sys/fs/cgroup");
    s.add(4000).unwrap();
    assert_eq!(fs.procs(&dir), vec![4000]);
    s.destroy().unwrap();
    assert!(!fs.alive(4000));
    assert!(has_write(&fs, &format!("{dir}/cgroup.kill"), "1"));
    assert!(!fs.cgroups().contains(&PathBuf::from(&dir)));
    assert!(fs.alive(fs.self_pid()));
}

#[test]
fn v2_refuses_to_enable_controllers_below_a_cgroup_with_processes() {
    let fs = v2_nested();
    let own = "/sys/fs/cgroup/svc/app.scope";
    let before = fs.cgroups();
    let e = create(&fs, &limits(), &strict()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, CgroupError::InternalProcesses { .. }), "{msg}");
    assert!(msg.contains("memory limit 64 MiB"), "{msg}");
    assert!(msg.contains(own), "{msg}");
    assert!(msg.contains("no-internal-processes"), "{msg}");
    assert!(msg.contains("move_self_to_leaf"), "{msg}");
    // Nothing was tried on the host's cgroup, nobody was moved, nothing is left.
    assert!(!attempted(&fs, "cgroup.subtree_control"));
    assert!(!attempted(&fs, "cgroup.procs"));
    assert_eq!(fs.cgroups(), before);
    assert_eq!(fs.procs(own), vec![fs.self_pid()]);
}

#[test]
fn v2_degraded_records_each_limit_and_keeps_a_directory_for_killing() {
    let fs = v2_nested();
    let s = create(&fs, &limits(), &degraded()).unwrap();
    let ne = s.not_enforced();
    assert_eq!(ne.len(), 4, "{ne:#?}");
    assert!(
        ne[0].starts_with("memory limit 64 MiB (cgroup v2 cannot enable"),
        "{ne:#?}"
    );
    assert!(ne[1].starts_with("swap limit 0 B ("), "{ne:#?}");
    assert!(ne.iter().any(|n| n.starts_with("cpu limit")));
    assert!(ne.iter().any(|n| n.starts_with("pids limit 16")));
    assert!(s.enforced().is_empty());
    assert_eq!(s.dirs().len(), 1);
    assert!(s.dirs()[0].controllers.is_empty());
    assert!(!attempted(&fs, "cgroup.subtree_control"));
}

#[test]
fn v2_moves_only_its_own_process_into_a_leaf_when_asked() {
    let fs = v2_nested();
    let own = "/sys/fs/cgroup/svc/app.scope";
    let options = CgroupOptions {
        move_self_to_leaf: true,
        ..CgroupOptions::default()
    };
    let s = create(&fs, &limits(), &options).unwrap();
    let leaf = format!(
        "{own}/{}",
        super::session::supervisor_name("phantom", fs.self_pid())
    );
    assert_eq!(fs.procs(&leaf), vec![fs.self_pid()]);
    assert!(
        position(&fs, &format!("{leaf}/cgroup.procs"))
            < position(&fs, &format!("{own}/cgroup.subtree_control"))
    );
    let dir = format!("{own}/{}", s.name());
    assert!(has_write(&fs, &format!("{dir}/memory.max"), "67108864"));
    assert_eq!(s.enforced().len(), 4);
    assert!(s
        .notes()
        .iter()
        .any(|n| n.contains("moved phantom's own process")));

    // A second session is created next to the first, not below the leaf.
    let t = create(&fs, &limits(), &options).unwrap();
    assert!(t.dirs()[0].path.starts_with(own));
    assert_eq!(t.dirs()[0].path.parent(), Some(Path::new(own)));
    drop(s);
    drop(t);
    // The leaf stays while phantom lives (sweep_stale leaves live pids alone).
    let report = sweep_stale_with(&fs, "phantom").unwrap();
    assert!(report.removed.is_empty());
    assert!(fs.cgroups().contains(&PathBuf::from(&leaf)));
}

#[test]
fn v2_never_moves_other_processes() {
    let fs = v2_nested();
    let own = "/sys/fs/cgroup/svc/app.scope";
    fs.spawn(777, own);
    let options = CgroupOptions {
        move_self_to_leaf: true,
        ..CgroupOptions::default()
    };
    let e = create(&fs, &limits(), &options).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("other processes share"), "{msg}");
    assert!(
        msg.contains(&format!("{} 777", fs.self_pid()))
            || msg.contains(&format!("777 {}", fs.self_pid())),
        "{msg}"
    );
    assert!(!attempted(&fs, "cgroup.procs"));
    assert!(fs.procs(own).contains(&777));
}

#[test]
fn v2_a_controller_the_parent_does_not_offer_is_named_with_the_fix() {
    let fs = v2_nested();
    // Already a delegated, empty cgroup with controllers enabled: give it the rights.
    let own = "/sys/fs/cgroup/svc";
    fs.place_self("/sys/fs/cgroup/svc/app.scope");
    let mut l = limits();
    l.io_weight = Some(100);
    fs.set_file("/proc/self/cgroup", "0::/svc\n");
    let e = create(&fs, &l, &strict()).unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, CgroupError::ControllerUnavailable { .. }),
        "{msg}"
    );
    assert!(msg.contains("io weight 100"), "{msg}");
    assert!(msg.contains(own), "{msg}");
    assert!(msg.contains("cgroup.subtree_control"), "{msg}");

    let s = create(&fs, &l, &degraded()).unwrap();
    assert_eq!(s.not_enforced().len(), 1);
    assert!(
        s.not_enforced()[0].starts_with(
            "io weight 100 (no cgroup v1 hierarchy has the blkio controller, and the cgroup v2 \
             hierarchy does not offer io to our cgroup /sys/fs/cgroup/svc (its \
             cgroup.controllers: cpu memory pids)"
        ),
        "{:#?}",
        s.not_enforced()
    );
    // The others were enabled in the (process-free) cgroup and written.
    assert_eq!(s.enforced().len(), 4, "{:?}", s.enforced());
    assert!(has_write(
        &fs,
        &format!("{own}/{}/pids.max", s.name()),
        "16"
    ));
}

#[test]
fn v2_subtree_control_rules_of_the_fake_match_the_kernel() {
    let fs = v2_nested();
    let own = Path::new("/sys/fs/cgroup/svc/app.scope");
    // +c needs c in cgroup.controllers.
    let e = fs
        .write(&own.join("cgroup.subtree_control"), "+io")
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
    // ... and no processes in a non-root cgroup.
    let e = fs
        .write(&own.join("cgroup.subtree_control"), "+memory")
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EBUSY));
    // A cgroup with controllers enabled for children takes no processes.
    fs.mkdir(&own.join("child")).unwrap();
    let parent = Path::new("/sys/fs/cgroup/svc");
    let e = fs.write(&parent.join("cgroup.procs"), "1").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ESRCH));
    fs.spawn(55, "/sys/fs/cgroup");
    let e = fs.write(&parent.join("cgroup.procs"), "55").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EBUSY));
    // rmdir of a populated cgroup or one with children is EBUSY.
    assert_eq!(fs.rmdir(own).unwrap_err().raw_os_error(), Some(libc::EBUSY));
    // The root offers everything; a child only what its parent enabled.
    assert!(fs.exists(&own.join("memory.max")));
    assert!(!fs.exists(&own.join("io.weight")));
    assert!(!fs.exists(Path::new("/sys/fs/cgroup/memory.max")));
}

#[test]
fn v2_add_to_a_cgroup_that_became_a_non_leaf_explains_ebusy() {
    let fs = v2_root();
    let s = create(&fs, &limits(), &strict()).unwrap();
    let dir = s.dirs()[0].path.display().to_string();
    fs.enable(&dir, &["memory"]);
    fs.spawn(4100, "/sys/fs/cgroup");
    let e = s.add(4100).unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, CgroupError::AddProcess { pid: 4100, .. }),
        "{msg}"
    );
    assert!(msg.contains("(os error 16)"), "{msg}"); // EBUSY, in any libc's words
    assert!(msg.contains("without controllers"), "{msg}");
    fs.enable(&dir, &[]);
}

#[test]
fn v2_without_swap_accounting_reports_swap_only() {
    let fs = v2_root();
    fs.without_swap_accounting();
    let e = create(&fs, &limits(), &strict()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, CgroupError::LimitFileMissing { .. }), "{msg}");
    assert!(msg.starts_with("cannot enforce swap limit 0 B"), "{msg}");
    assert!(msg.contains("memory.swap.max does not exist"), "{msg}");
    assert!(fs.cgroups().len() == 1, "the failed session is removed");

    let s = create(&fs, &limits(), &degraded()).unwrap();
    assert_eq!(s.not_enforced().len(), 1);
    assert!(s.not_enforced()[0].starts_with("swap limit 0 B ("));
    assert!(s.enforced().contains(&"memory limit 64 MiB".to_owned()));
}

#[test]
fn unprivileged_user_gets_the_limit_and_the_fix_with_the_systemd_hint() {
    let fs = v2_root();
    fs.set_euid(1000).deny("/sys/fs/cgroup");
    fs.set_file("/run/systemd/system", "");
    fs.set_file("/usr/bin/systemd-run", "");
    let mut l = limits();
    l.memory_max = Some(256 * MIB);
    let e = create(&fs, &l, &strict()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, CgroupError::EnableController { .. }), "{msg}");
    assert!(msg.contains("memory limit 256 MiB"), "{msg}");
    assert!(msg.contains("Permission denied"), "{msg}");
    assert!(msg.contains("uid 1000"), "{msg}");
    assert!(msg.contains("systemd-run --user --scope"), "{msg}");

    let s = create(&fs, &l, &degraded()).unwrap();
    assert_eq!(s.not_enforced().len(), 4, "{:#?}", s.not_enforced());
    assert!(
        s.not_enforced()[0].starts_with(
            "memory limit 256 MiB (could not enable memory in /sys/fs/cgroup/cgroup.subtree_control: Permission denied"
        ),
        "{:#?}",
        s.not_enforced()
    );
    assert!(s.dirs().is_empty());
    assert!(s
        .notes()
        .iter()
        .any(|n| n.contains("no cgroup v2 directory for killing")));
    // Nothing to add to: a no-op, not an error.
    s.add(fs.self_pid()).unwrap();
    assert_eq!(s.events().unwrap(), LimitEvents::default());
}

#[test]
fn unprivileged_on_v1_fails_at_mkdir_and_says_systemd_is_not_running() {
    let fs = hybrid();
    fs.set_euid(65534).deny("/sys/fs/cgroup");
    fs.set_file("/usr/bin/systemd-run", "");
    let e = create(&fs, &limits(), &strict()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, CgroupError::CreateDir { .. }), "{msg}");
    assert!(
        msg.contains("/sys/fs/cgroup/memory/process_api/abc/phantom-"),
        "{msg}"
    );
    assert!(msg.contains("uid 65534"), "{msg}");
    assert!(msg.contains("systemd is not running"), "{msg}");
    let s = create(&fs, &limits(), &degraded()).unwrap();
    assert_eq!(s.not_enforced().len(), 4);
    assert!(s.dirs().is_empty());
}

// ---------------------------------------------------------------------------------
// cgroup v1

#[test]
fn v1_writes_memory_then_memsw_then_period_then_quota() {
    let fs = legacy();
    let mut l = limits();
    l.swap_max = Some(32 * MIB);
    let s = create(&fs, &l, &strict()).unwrap();
    let m = format!("/sys/fs/cgroup/memory/{}", s.name());
    let c = format!("/sys/fs/cgroup/cpu,cpuacct/{}", s.name());
    assert!(has_write(
        &fs,
        &format!("{m}/memory.limit_in_bytes"),
        "67108864"
    ));
    assert!(has_write(
        &fs,
        &format!("{m}/memory.memsw.limit_in_bytes"),
        "100663296"
    ));
    assert!(
        position(&fs, &format!("{m}/memory.limit_in_bytes"))
            < position(&fs, &format!("{m}/memory.memsw.limit_in_bytes"))
    );
    assert!(
        position(&fs, &format!("{c}/cpu.cfs_period_us"))
            < position(&fs, &format!("{c}/cpu.cfs_quota_us"))
    );
    assert!(has_write(&fs, &format!("{c}/cpu.cfs_quota_us"), "50000"));
    assert!(has_write(
        &fs,
        &format!("/sys/fs/cgroup/pids/{}/pids.max", s.name()),
        "16"
    ));
    assert_eq!(s.enforced().len(), 4);
    // Directories: memory, cpu, pids, and the freezer for killing.
    let mut versions: Vec<_> = s.dirs().iter().map(|d| d.path.clone()).collect();
    versions.sort();
    assert_eq!(versions.len(), 4);
    assert!(s.dir_for(Controller::Freezer).is_some());
    // swap 0 sets swappiness 0 (best effort) and memsw = memory.
    let fs = legacy();
    let s = create(&fs, &limits(), &strict()).unwrap();
    let m = format!("/sys/fs/cgroup/memory/{}", s.name());
    assert!(has_write(
        &fs,
        &format!("{m}/memory.memsw.limit_in_bytes"),
        "67108864"
    ));
    assert!(has_write(&fs, &format!("{m}/memory.swappiness"), "0"));
}

#[test]
fn v1_without_memsw_keeps_the_memory_limit_and_reports_swap() {
    let fs = legacy();
    fs.without_swap_accounting();
    let e = create(&fs, &limits(), &strict()).unwrap_err();
    let msg = e.to_string();
    assert!(msg.starts_with("cannot enforce swap limit 0 B"), "{msg}");
    assert!(msg.contains("swapaccount=1"), "{msg}");
    let s = create(&fs, &limits(), &degraded()).unwrap();
    assert_eq!(s.not_enforced().len(), 1);
    assert!(s.not_enforced()[0].contains("memory.memsw.limit_in_bytes does not exist"));
    assert!(s.enforced().contains(&"memory limit 64 MiB".to_owned()));
}

#[test]
fn v1_swap_without_memory_cannot_be_expressed() {
    let fs = legacy();
    let l = CgroupLimits {
        swap_max: Some(0),
        ..CgroupLimits::default()
    };
    let e = create(&fs, &l, &strict()).unwrap_err();
    assert!(matches!(e, CgroupError::Unsupported { .. }), "{e}");
    assert!(e.to_string().contains("only together with memory"), "{e}");
}

#[test]
fn v1_kernel_refusal_names_the_file_value_and_range() {
    let fs = legacy();
    let mut l = limits();
    l.cpu = Some(CpuQuota {
        quota_us: 500,
        period_us: 100_000,
    });
    let e = create(&fs, &l, &strict()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, CgroupError::WriteLimit { .. }), "{msg}");
    assert!(msg.contains("cpu.cfs_quota_us"), "{msg}");
    assert!(msg.contains("\"500\""), "{msg}");
    assert!(msg.contains("below 1 ms"), "{msg}");
}

#[test]
fn a_failure_half_way_removes_what_was_created() {
    let fs = legacy();
    let before = fs.cgroups();
    // The pids hierarchy comes after memory and cpu, whose directories exist by then.
    fs.deny("/sys/fs/cgroup/pids");
    let e = create(&fs, &limits(), &strict()).unwrap_err();
    assert!(matches!(e, CgroupError::CreateDir { .. }), "{e}");
    assert!(e.to_string().contains("pids limit 16"), "{e}");
    let made = fs
        .ops()
        .iter()
        .filter(|op| matches!(op, FakeOp::Mkdir { errno: None, .. }))
        .count();
    assert_eq!(made, 2, "{:#?}", fs.ops());
    assert_eq!(fs.cgroups(), before);
}

#[test]
fn v1_kill_all_freezes_signals_only_members_and_thaws() {
    let fs = legacy();
    fs.spawn(501, "/sys/fs/cgroup/memory");
    fs.spawn(502, "/sys/fs/cgroup/memory");
    fs.spawn(600, "/sys/fs/cgroup/memory"); // not ours
    let s = create(&fs, &limits(), &strict()).unwrap();
    s.add(501).unwrap();
    s.add(502).unwrap();
    let freezer = format!("/sys/fs/cgroup/freezer/{}/freezer.state", s.name());
    fs.clear_ops();
    s.kill_all().unwrap();
    let ops = fs.ops();
    let frozen = ops
        .iter()
        .position(|o| matches!(o, FakeOp::Write { path, data, .. } if path == Path::new(&freezer) && data == "FROZEN"))
        .expect("frozen");
    let killed = ops
        .iter()
        .position(|o| *o == FakeOp::Kill { pid: 501 })
        .unwrap();
    let thawed = ops
        .iter()
        .position(|o| matches!(o, FakeOp::Write { path, data, .. } if path == Path::new(&freezer) && data == "THAWED"))
        .expect("thawed");
    assert!(frozen < killed && killed < thawed, "{ops:#?}");
    assert!(!fs.alive(501) && !fs.alive(502));
    assert!(fs.alive(600));
    assert!(no_kill_of(&fs, 600) && no_kill_of(&fs, fs.self_pid()) && no_kill_of(&fs, 0));
    s.destroy().unwrap();
    assert_eq!(fs.cgroups().len(), 4);
}

#[test]
fn kill_all_never_signals_pid_zero_or_itself_and_destroy_says_why_it_cannot_remove() {
    let fs = legacy();
    let s = create(&fs, &limits(), &strict()).unwrap();
    let dir = s
        .dir_for(Controller::Memory)
        .unwrap()
        .path
        .display()
        .to_string();
    // A process of another pid namespace shows as 0; and phantom added itself.
    fs.spawn(0, &dir);
    fs.place_self(&dir);
    s.kill_all().unwrap();
    assert!(no_kill_of(&fs, 0));
    assert!(no_kill_of(&fs, fs.self_pid()));
    let e = s.destroy().unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, CgroupError::Remove { .. }), "{msg}");
    assert!(
        msg.contains(&dir) && msg.contains("processes are still in it"),
        "{msg}"
    );
    assert!(no_kill_of(&fs, 0) && no_kill_of(&fs, fs.self_pid()));
    assert!(fs.sleeps() > 0);
}

#[test]
fn destroy_removes_nested_cgroups_and_their_processes() {
    let fs = v2_root();
    let s = create(&fs, &limits(), &strict()).unwrap();
    let dir = s.dirs()[0].path.clone();
    fs.mkdir(&dir.join("inner")).unwrap();
    fs.spawn(901, &dir.join("inner").display().to_string());
    s.destroy().unwrap();
    assert!(!fs.alive(901));
    assert_eq!(fs.cgroups(), vec![PathBuf::from("/sys/fs/cgroup")]);
}

// ---------------------------------------------------------------------------------
// Hybrid, events

#[test]
fn hybrid_uses_v1_controllers_and_the_v2_hierarchy_to_kill() {
    let fs = hybrid();
    let s = create(&fs, &limits(), &strict()).unwrap();
    let name = s.name().to_owned();
    let mut paths: Vec<String> = s
        .dirs()
        .iter()
        .map(|d| d.path.display().to_string())
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            format!("/sys/fs/cgroup/cpu/{name}"),
            format!("/sys/fs/cgroup/freezer/{name}"),
            format!("/sys/fs/cgroup/memory/process_api/abc/{name}"),
            format!("/sys/fs/cgroup/pids/{name}"),
            format!("/sys/fs/cgroup/unified/{name}"),
        ]
    );
    fs.spawn(700, "/sys/fs/cgroup/memory/process_api/abc");
    s.add(700).unwrap();
    for p in &paths {
        assert_eq!(fs.procs(p), vec![700], "{p}");
    }
    fs.clear_ops();
    s.kill_all().unwrap();
    assert!(has_write(
        &fs,
        &format!("/sys/fs/cgroup/unified/{name}/cgroup.kill"),
        "1"
    ));
    assert!(
        !attempted(&fs, "freezer.state"),
        "cgroup.kill needs no freezing"
    );
    assert!(!fs.alive(700));
    s.destroy().unwrap();
    for p in &paths {
        assert!(!fs.cgroups().contains(&PathBuf::from(p)), "{p}");
    }
}

/// `phantom exec`'s cold path on a hybrid host: v1 alone, so that init can move itself
/// in through `tasks` (no global migration lock: no RCU grace period to wait for).
#[test]
fn a_hybrid_session_without_the_unified_helper_is_v1_alone_with_its_tasks_files() {
    let fs = hybrid();
    let options = CgroupOptions {
        unified_for_killing: false,
        ..strict()
    };
    let s = create(&fs, &limits(), &options).unwrap();
    let name = s.name().to_owned();
    let mut tasks: Vec<String> = s
        .entry_files()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    tasks.sort();
    assert_eq!(
        tasks,
        [
            format!("/sys/fs/cgroup/cpu/{name}/tasks"),
            format!("/sys/fs/cgroup/freezer/{name}/tasks"),
            format!("/sys/fs/cgroup/memory/process_api/abc/{name}/tasks"),
            format!("/sys/fs/cgroup/pids/{name}/tasks"),
        ]
    );
    assert_eq!(s.dirs().len(), 4, "no v2 directory");
    fs.spawn(700, "/sys/fs/cgroup/memory/process_api/abc");
    fs.clear_ops();
    s.add_v2(700).unwrap();
    assert!(
        !attempted(&fs, "cgroup.procs"),
        "nothing to move into on v2"
    );
    // Killing goes through the v1 freezer instead of cgroup.kill.
    s.add(700).unwrap();
    s.kill_all().unwrap();
    assert!(attempted(&fs, "freezer.state"));
    assert!(!fs.alive(700));
    s.destroy().unwrap();
}

/// A sandbox's session (its processes in a pid namespace of their own): no freezer
/// directory where no limit needs one, and killing still ends every process.
#[test]
fn a_session_without_the_freezer_helper_has_no_freezer_directory_and_still_kills() {
    let fs = hybrid();
    let options = CgroupOptions {
        unified_for_killing: false,
        freezer_for_killing: false,
        ..strict()
    };
    let s = create(&fs, &limits(), &options).unwrap();
    let name = s.name().to_owned();
    assert!(
        !fs.cgroups()
            .contains(&PathBuf::from(format!("/sys/fs/cgroup/freezer/{name}"))),
        "{:?}",
        fs.cgroups()
    );
    assert_eq!(s.dirs().len(), 3, "cpu, memory and pids: {:?}", s.dirs());
    fs.spawn(700, "/sys/fs/cgroup/memory/process_api/abc");
    s.add(700).unwrap();
    fs.clear_ops();
    s.kill_all().unwrap();
    assert!(!attempted(&fs, "freezer.state"));
    assert!(!fs.alive(700));
    s.destroy().unwrap();
}

#[test]
fn a_v2_sessions_entry_file_is_cgroup_procs_and_add_v2_moves_into_it() {
    let fs = v2_root();
    let s = create(&fs, &limits(), &strict()).unwrap();
    // What a process writes `0` to, to move itself in (`exec::move_in`).
    assert_eq!(s.entry_files(), vec![s.dirs()[0].path.join("cgroup.procs")]);
    fs.spawn(700, "/sys/fs/cgroup");
    s.add_v2(700).unwrap();
    let dir = s.dirs()[0].path.display().to_string();
    assert_eq!(fs.procs(&dir), vec![700]);
    s.kill_all().unwrap();
    s.destroy().unwrap();
}

/// The end of an ordinary run: every process gone, so each directory goes with one
/// rmdir, and nothing is frozen, killed or listed.
#[test]
fn destroying_an_empty_session_only_removes_its_directories() {
    let fs = hybrid();
    let s = create(&fs, &limits(), &strict()).unwrap();
    let dirs: Vec<PathBuf> = s.dirs().iter().map(|d| d.path.clone()).collect();
    fs.clear_ops();
    s.destroy().unwrap();
    assert!(!attempted(&fs, "cgroup.kill"));
    assert!(!attempted(&fs, "freezer.state"));
    for d in &dirs {
        assert!(!fs.cgroups().contains(d), "{}", d.display());
    }
}

#[test]
fn events_are_read_from_v1_and_v2_files() {
    let fs = v2_root();
    let s = create(&fs, &limits(), &strict()).unwrap();
    let dir = s.dirs()[0].path.display().to_string();
    fs.set_file(
        &format!("{dir}/memory.events"),
        "low 0\nhigh 0\nmax 7\noom 2\noom_kill 2\noom_group_kill 0\n",
    );
    fs.set_file(&format!("{dir}/pids.events"), "max 3\n");
    assert_eq!(
        s.events().unwrap(),
        LimitEvents {
            oom_kills: 2,
            pids_max_hits: 3,
        }
    );

    let fs = legacy();
    let s = create(&fs, &limits(), &strict()).unwrap();
    let m = s
        .dir_for(Controller::Memory)
        .unwrap()
        .path
        .display()
        .to_string();
    let p = s
        .dir_for(Controller::Pids)
        .unwrap()
        .path
        .display()
        .to_string();
    fs.set_file(
        &format!("{m}/memory.oom_control"),
        "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
    );
    fs.set_file(&format!("{p}/pids.events"), "max 9\n");
    assert_eq!(
        s.events().unwrap(),
        LimitEvents {
            oom_kills: 1,
            pids_max_hits: 9,
        }
    );
}

// ---------------------------------------------------------------------------------
// No cgroups, names, sweeping

#[test]
fn no_cgroup_filesystem_at_all() {
    let fs = FakeFs::new();
    let e = create(&fs, &limits(), &strict()).unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, CgroupError::ControllerUnavailable { .. }),
        "{msg}"
    );
    assert!(msg.contains("mount a cgroup filesystem"), "{msg}");
    let s = create(&fs, &limits(), &degraded()).unwrap();
    assert_eq!(s.not_enforced().len(), 4);
    s.add(fs.self_pid()).unwrap();
    s.kill_all().unwrap();
    s.destroy().unwrap();
}

#[test]
fn no_limits_makes_only_the_helper_directories() {
    let fs = hybrid();
    let s = create(&fs, &CgroupLimits::default(), &strict()).unwrap();
    assert!(s.enforced().is_empty() && s.not_enforced().is_empty());
    let mut kinds: Vec<_> = s.dirs().iter().map(|d| d.version).collect();
    kinds.sort();
    assert_eq!(kinds, [Version::V1, Version::V2]);
}

#[test]
fn names_are_unique_sanitized_and_parse_back() {
    let fs = v2_root();
    let a = CgroupSession::create_with(&fs, &limits(), "my build/1 ü", &strict()).unwrap();
    let b = CgroupSession::create_with(&fs, &limits(), "", &strict()).unwrap();
    assert_ne!(a.name(), b.name());
    assert!(a.name().ends_with("-my_build_1__"), "{}", a.name());
    assert_eq!(stale_pid(a.name(), "phantom"), Some(fs.self_pid()));
    assert_eq!(stale_pid(b.name(), "phantom"), Some(fs.self_pid()));
    assert_eq!(stale_pid("phantom-12-supervisor", "phantom"), Some(12));
    assert_eq!(stale_pid("phantom-12", "phantom"), None);
    assert_eq!(stale_pid("phantom-x1-2", "phantom"), None);
    assert_eq!(stale_pid("phantomx-12-2", "phantom"), None);
    assert_eq!(stale_pid("phantom-0-2", "phantom"), None);
    use super::session::{namespace_tag, own_namespace_tag};
    assert_eq!(
        namespace_tag(a.name(), "phantom"),
        Some(own_namespace_tag())
    );
    assert_eq!(
        namespace_tag("phantom-12-3.f00d-job", "phantom"),
        Some("f00d")
    );
    assert_eq!(
        namespace_tag("phantom-12-3-a.b", "phantom"),
        None,
        "a dot in the hint"
    );
    assert_eq!(namespace_tag("phantom-12-3", "phantom"), None);
    let long = "x".repeat(300);
    let c = CgroupSession::create_with(&fs, &limits(), &long, &strict()).unwrap();
    assert!(c.name().len() < 100);
}

#[test]
fn a_leftover_directory_of_the_same_name_is_skipped() {
    let fs = v2_root();
    let a = create(&fs, &limits(), &strict()).unwrap();
    let taken = a.name().to_owned();
    a.destroy().unwrap();
    // Recreate directories for the next few counter values, as a dead runtime with
    // our pid might have left them.
    let (head, _) = taken.rsplit_once('-').unwrap();
    let (head, counter) = head.rsplit_once('-').unwrap();
    // The counter, then this process's pid namespace: `7.effffffc`.
    let (n, tag) = counter.split_once('.').unwrap_or((counter, ""));
    let n: u64 = n.parse().unwrap();
    let tag = if tag.is_empty() {
        String::new()
    } else {
        format!(".{tag}")
    };
    for k in n + 1..n + 40 {
        fs.mkdir_p(&format!("/sys/fs/cgroup/{head}-{k}{tag}-test"), &[]);
    }
    let b = create(&fs, &limits(), &strict()).unwrap();
    assert!(b.dirs()[0].path.ends_with(b.name()));
    assert!(fs
        .ops()
        .iter()
        .all(|op| !matches!(op, FakeOp::Mkdir { errno: Some(_), .. })));
}

#[test]
fn sweep_skips_hierarchies_no_session_uses() {
    // devices and cpuset offer nothing a session asks for, so no phantom directory
    // can be there: the sweep does not list them (it runs after every sandbox).
    let fs = legacy();
    fs.mount_v1("/sys/fs/cgroup/devices", &["devices"]);
    fs.mount_v1("/sys/fs/cgroup/blkio", &["blkio"]);
    let dead = 999_999;
    let odd = format!("/sys/fs/cgroup/devices/phantom-{dead}-3-job");
    let stale = format!("/sys/fs/cgroup/blkio/phantom-{dead}-3-job");
    fs.mkdir_p(&odd, &[]);
    fs.mkdir_p(&stale, &[]);
    let report = sweep_stale_with(&fs, "phantom").unwrap();
    assert_eq!(report.removed, vec![PathBuf::from(&stale)], "{report:#?}");
    assert!(fs.cgroups().contains(&PathBuf::from(&odd)));
}

#[test]
fn sweep_removes_only_dead_runtimes_directories_killing_members_first() {
    let fs = legacy();
    let dead = 999_999;
    let live = 4242;
    fs.spawn(live, "/sys/fs/cgroup/memory");
    let stale = format!("/sys/fs/cgroup/memory/phantom-{dead}-3-job");
    fs.mkdir_p(&format!("{stale}/nested"), &[]);
    fs.spawn(31337, &format!("{stale}/nested"));
    let stale_freezer = format!("/sys/fs/cgroup/freezer/phantom-{dead}-3-job");
    fs.mkdir_p(&stale_freezer, &[]);
    fs.write(
        Path::new(&format!("{stale_freezer}/freezer.state")),
        "FROZEN",
    )
    .unwrap();
    // Named by a runtime of our pid namespace: judged by its pid like the untagged.
    let ours_tagged = format!(
        "/sys/fs/cgroup/memory/phantom-{dead}-4.{}-job",
        super::session::own_namespace_tag()
    );
    fs.mkdir_p(&ours_tagged, &[]);
    // Named by a runtime in another pid namespace, where pid 999999 may well be alive:
    // not ours to judge, so neither it nor its processes are touched.
    let foreign = format!("/sys/fs/cgroup/memory/phantom-{dead}-5.1-job");
    fs.mkdir_p(&foreign, &[]);
    fs.spawn(31338, &foreign);
    let keep = [
        foreign.clone(),
        format!("/sys/fs/cgroup/memory/phantom-{live}-1"),
        format!("/sys/fs/cgroup/memory/phantom-{}-7", fs.self_pid()),
        format!("/sys/fs/cgroup/memory/other-{dead}-1"),
        "/sys/fs/cgroup/memory/phantom-abc-1".to_owned(),
        format!("/sys/fs/cgroup/pids/phantom-{dead}"),
    ];
    for k in &keep {
        fs.mkdir_p(k, &[]);
    }
    let report = sweep_stale_with(&fs, "phantom").unwrap();
    let mut removed = report.removed.clone();
    removed.sort();
    let mut expected = vec![
        PathBuf::from(&stale_freezer),
        PathBuf::from(&stale),
        PathBuf::from(&ours_tagged),
    ];
    expected.sort();
    assert_eq!(removed, expected, "{report:#?}");
    assert!(report.failed.is_empty(), "{report:#?}");
    assert!(!fs.alive(31337));
    assert!(
        fs.alive(31338),
        "a process of another namespace's runtime was killed"
    );
    assert!(fs.alive(live));
    for k in &keep {
        assert!(fs.cgroups().contains(&PathBuf::from(k)), "{k}");
    }
}

// ---------------------------------------------------------------------------------
// Accounting (persistent workspaces)

#[test]
fn accounting_adds_v1_hierarchies_without_writing_limits_there() {
    let fs = hybrid();
    let only_memory = CgroupLimits {
        memory_max: Some(64 * MIB),
        ..CgroupLimits::default()
    };
    let options = CgroupOptions {
        account: true,
        ..CgroupOptions::default()
    };
    let session = create(&fs, &only_memory, &options).unwrap();
    let paths: Vec<String> = session
        .dirs()
        .iter()
        .map(|d| d.path.display().to_string())
        .collect();
    for hierarchy in ["memory/process_api/abc", "cpu", "cpuacct", "pids", "blkio"] {
        let path = format!("/sys/fs/cgroup/{hierarchy}/{}", session.name());
        assert!(paths.contains(&path), "{path} missing from {paths:#?}");
    }
    // The only limit is the one the policy set.
    let limit_writes: Vec<_> = fs
        .writes()
        .into_iter()
        .filter(|(p, _)| !p.ends_with("cgroup.procs"))
        .collect();
    assert_eq!(
        limit_writes
            .iter()
            .map(|(p, _)| p.rsplit('/').next().unwrap_or_default())
            .collect::<Vec<_>>(),
        ["memory.limit_in_bytes"],
        "{limit_writes:#?}"
    );
}

#[test]
fn without_accounting_only_limited_and_killing_hierarchies_get_directories() {
    let fs = hybrid();
    let only_memory = CgroupLimits {
        memory_max: Some(64 * MIB),
        ..CgroupLimits::default()
    };
    let session = create(&fs, &only_memory, &strict()).unwrap();
    assert!(session
        .dirs()
        .iter()
        .all(|d| !d.path.starts_with("/sys/fs/cgroup/pids")));
}

#[test]
fn an_adopted_session_is_destroyed_like_the_original() {
    let fs = legacy();
    let session = create(&fs, &limits(), &strict()).unwrap();
    let (name, dirs) = (session.name().to_string(), session.dirs().to_vec());
    session.hand_over();
    assert!(!fs.cgroups().is_empty());
    let record = serde_json::to_string(&dirs).unwrap();
    let dirs: Vec<SessionDir> = serde_json::from_str(&record).unwrap();
    CgroupSession::adopt(&fs, name, dirs).destroy().unwrap();
    assert!(
        fs.cgroups()
            .iter()
            .all(|c| !c.display().to_string().contains("phantom-")),
        "{:#?}",
        fs.cgroups()
    );
}

/// `phantom exec` detects after the clone where `may_be_unified` says no: that must
/// never be a host the full detection calls v2-only (whose runs are born in their
/// cgroup, so need the detection before the clone).
#[test]
fn may_be_unified_is_false_only_where_the_layout_is_not_unified() {
    // A container on a host with a v1 hierarchy it does not mount: listed in
    // /proc/self/cgroup, shown by no mount here.
    let unmounted_v1 = v2_root();
    unmounted_v1.set_file("/proc/self/cgroup", "3:net_cls,net_prio:/\n0::/\n");
    for (name, fs) in [
        ("v2 root", v2_root()),
        ("v2 nested", v2_nested()),
        ("hybrid", hybrid()),
        ("legacy", legacy()),
        ("v2 with an unmounted v1 hierarchy", unmounted_v1),
    ] {
        let layout = Detection::detect(&fs).unwrap().layout;
        let probe = Probe::read(&fs).unwrap();
        assert_eq!(
            probe.may_be_unified(),
            layout == Layout::Unified,
            "{name}: {layout:?}"
        );
        let finished = Detection::from_probe(&fs, probe).unwrap();
        assert_eq!(finished, Detection::detect(&fs).unwrap(), "{name}");
    }
}
