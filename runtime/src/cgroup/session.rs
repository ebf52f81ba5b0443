//! [`CgroupSession`]: the cgroups of one sandbox, from creation to removal.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use phantom_bundle::CgroupLimits;

use super::detect::{Controller, Detection, Hierarchy, Layout, Version};
use super::fs::{CgroupFs, RealFs};
use super::CgroupError;

/// The default prefix of the directories a session creates: `phantom-<pid>-<n>`.
pub const DEFAULT_PREFIX: &str = "phantom";

/// How [`CgroupSession::create_with`] behaves where the host falls short.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgroupOptions {
    /// Run with the limits that can be enforced and record the others in
    /// [`CgroupSession::not_enforced`], instead of failing.
    pub allow_degraded: bool,
    /// cgroup v2 only: when controllers must be enabled for the children of our own
    /// cgroup, and phantom's process is the only one in it, move phantom's process into
    /// a leaf child `<prefix>-<pid>-supervisor` first (the no-internal-processes rule
    /// forbids enabling controllers otherwise). Other processes are never moved.
    pub move_self_to_leaf: bool,
    /// The first part of the directory names (default `phantom`).
    pub prefix: String,
    /// Also create directories in the v1 hierarchies of memory, cpu, cpuacct, pids and
    /// blkio where no limit needs them, so the session's use can be read (`phantom
    /// monitor`). Nothing is written to them.
    pub account: bool,
    /// Also join the v2 hierarchy where no limit needs it, for its `cgroup.kill`. Off,
    /// a hybrid host's session is v1 alone (killing then goes through the v1 freezer,
    /// where [`freezer_for_killing`](Self::freezer_for_killing) has one), so that its
    /// processes can move in by themselves ([`CgroupSession::entry_files`]).
    pub unified_for_killing: bool,
    /// Also join the v1 freezer where no limit needs it, so that a kill freezes the
    /// session first and no process forks past it. Off where a pid namespace ends every
    /// process of the session with its init (a sandbox's), which the freezer could
    /// only repeat: a directory fewer to make, enter and remove on every run. Off, the
    /// caller must end that init before [`CgroupSession::kill_all`] or
    /// [`CgroupSession::destroy`], whose kill is then a signal to each listed process,
    /// which a process forking fast enough could outrun.
    pub freezer_for_killing: bool,
}

impl Default for CgroupOptions {
    fn default() -> Self {
        CgroupOptions {
            allow_degraded: false,
            move_self_to_leaf: false,
            prefix: DEFAULT_PREFIX.to_owned(),
            account: false,
            unified_for_killing: true,
            freezer_for_killing: true,
        }
    }
}

/// What the limits did to the workload so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LimitEvents {
    /// Processes killed by the OOM killer because of the memory limit
    /// (v2 `memory.events` `oom_kill`, v1 `memory.oom_control` `oom_kill`).
    pub oom_kills: u64,
    /// Forks refused because of the pids limit (`pids.events` `max`).
    pub pids_max_hits: u64,
}

/// One directory a session created.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionDir {
    pub path: PathBuf,
    pub version: Version,
    /// The controllers limited through this directory; `Freezer` for a v1 freezer
    /// hierarchy. A v2 directory without controllers still serves to kill and freeze.
    pub controllers: Vec<Controller>,
}

/// What [`sweep_stale`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Directories removed (their processes killed first).
    pub removed: Vec<PathBuf>,
    /// Directories (or hierarchies) that could not be swept, and why.
    pub failed: Vec<(PathBuf, String)>,
}

/// The cgroups of one sandbox: one directory beneath our own cgroup in every hierarchy
/// that holds a needed controller, plus, for killing, the v1 freezer and the v2
/// hierarchy (as [`CgroupOptions`] say), all named alike. Dropping the session kills
/// its processes and removes the directories; [`CgroupSession::destroy`] does the same
/// and reports errors.
#[derive(Debug)]
pub struct CgroupSession<F: CgroupFs = RealFs> {
    fs: F,
    name: String,
    dirs: Vec<SessionDir>,
    enforced: Vec<String>,
    not_enforced: Vec<String>,
    notes: Vec<String>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Attempts and pause for `rmdir` while processes exit (about one second).
const RMDIR_ATTEMPTS: u32 = 100;
const RMDIR_PAUSE: Duration = Duration::from_millis(10);
/// The first pauses are shorter: a directory is usually busy only until the parent of
/// its last process (not always phantom) reaps it, a fraction of a millisecond.
const RMDIR_FIRST_PAUSE: Duration = Duration::from_micros(250);
/// Rounds of signalling in `kill_all`, and the pause between them.
const KILL_ROUNDS: u32 = 200;
const KILL_PAUSE: Duration = Duration::from_millis(2);

fn own_pid() -> i32 {
    i32::try_from(std::process::id()).unwrap_or(i32::MAX)
}

impl CgroupSession<RealFs> {
    /// Creates the session's cgroups on this host and writes `limits`, refusing if any
    /// limit cannot be enforced. See [`CgroupSession::create_with`].
    pub fn create(limits: &CgroupLimits, name_hint: &str) -> Result<Self, CgroupError> {
        Self::create_with(RealFs, limits, name_hint, &CgroupOptions::default())
    }
}

/// Controllers, each with the descriptions of the limits it enforces.
type Wants = Vec<(Controller, Vec<String>)>;

/// The description of each limit, by controller (memory: memory then swap).
fn wanted(limits: &CgroupLimits) -> Wants {
    let mut wants = Vec::new();
    let memory: Vec<String> = [
        limits.memory_max.map(describe_memory),
        limits.swap_max.map(describe_swap),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !memory.is_empty() {
        wants.push((Controller::Memory, memory));
    }
    if let Some(cpu) = limits.cpu {
        wants.push((
            Controller::Cpu,
            vec![describe_cpu(cpu.quota_us, cpu.period_us)],
        ));
    }
    if let Some(pids) = limits.pids_max {
        wants.push((Controller::Pids, vec![describe_pids(pids)]));
    }
    if let Some(weight) = limits.io_weight {
        wants.push((Controller::Io, vec![describe_io(weight)]));
    }
    wants
}

fn bytes(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (size, unit) in UNITS {
        // The sizes are powers of two.
        if n != 0 && n & (size - 1) == 0 {
            return format!("{} {unit}", n / size);
        }
    }
    format!("{n} B")
}

fn describe_memory(n: u64) -> String {
    format!("memory limit {}", bytes(n))
}

fn describe_swap(n: u64) -> String {
    format!("swap limit {}", bytes(n))
}

fn describe_cpu(quota: u64, period: u64) -> String {
    if period == 0 {
        return format!("cpu limit {quota}/{period} µs");
    }
    // Hundredths of a CPU, in integers.
    let hundredths = quota.saturating_mul(100) / period;
    format!(
        "cpu limit {quota}/{period} µs ({}.{:02} CPU)",
        hundredths / 100,
        hundredths % 100
    )
}

fn describe_pids(n: u64) -> String {
    format!("pids limit {n}")
}

fn describe_io(w: u16) -> String {
    format!("io weight {w}")
}

/// `name_hint` reduced to characters safe in a directory name, at most 48 of them.
fn sanitize(hint: &str) -> String {
    hint.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(48)
        .collect()
}

/// The pid in `<prefix>-<pid>-<rest>`, for directories a session (or a moved
/// supervisor) of process `<pid>` created.
pub(crate) fn stale_pid(name: &str, prefix: &str) -> Option<i32> {
    let rest = name.strip_prefix(prefix)?.strip_prefix('-')?;
    let (pid, tail) = rest.split_once('-')?;
    if tail.is_empty() || pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok().filter(|&p| p > 0)
}

/// The pid namespace a directory's creator lived in, from its name (`None` for names
/// made before names carried it).
pub(crate) fn namespace_tag<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = name.strip_prefix(prefix)?.strip_prefix('-')?;
    let (_pid, tail) = rest.split_once('-')?;
    let segment = tail.split('-').next()?;
    segment.split_once('.').map(|(_, tag)| tag)
}

/// This process's pid namespace, as names carry it: the pids in a name mean something
/// only in the namespace they were taken in, so a directory made by a runtime in
/// another pid namespace is never judged (nor swept) by its pid here.
pub(crate) fn own_namespace_tag() -> &'static str {
    static TAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TAG.get_or_init(|| {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self/ns/pid")
            .map_or_else(|_| String::new(), |m| format!("{:x}", m.ino()))
    })
}

/// `.TAG` after a name's counter, or nothing where the namespace cannot be read.
fn tag_suffix() -> String {
    match own_namespace_tag() {
        "" => String::new(),
        tag => format!(".{tag}"),
    }
}

pub(crate) fn supervisor_name(prefix: &str, pid: i32) -> String {
    format!("{prefix}-{pid}-supervisor{}", tag_suffix())
}

/// The v1 controllers whose hierarchies an accounting session (`CgroupOptions::account`)
/// joins; cpuacct (cpu time) is often a hierarchy of its own, apart from cpu.
const ACCOUNTING: [&str; 5] = ["memory", "cpu", "cpuacct", "pids", "blkio"];

/// Whether an accounting session makes a directory in this hierarchy.
fn accounts(h: &Hierarchy) -> bool {
    h.version == Version::V1
        && h.controllers
            .iter()
            .any(|c| ACCOUNTING.contains(&c.as_str()))
}

/// Whether a session ever makes a directory in this hierarchy: v2, one that offers a
/// controller a limit or killing needs, or one an accounting session joins. The
/// others (devices, cpuset, perf_event, named hierarchies…) cannot hold one of ours,
/// and the sweep does not list them.
fn may_hold_sessions(h: &Hierarchy) -> bool {
    h.version == Version::V2
        || [
            Controller::Memory,
            Controller::Cpu,
            Controller::Pids,
            Controller::Io,
            Controller::Freezer,
        ]
        .into_iter()
        .any(|c| h.offers(c))
        || accounts(h)
}

/// Where sessions are created in a hierarchy: our own cgroup, or its parent if we are
/// in the leaf `move_self_to_leaf` made.
fn base_dir(h: &Hierarchy, prefix: &str, pid: i32) -> PathBuf {
    if h.version == Version::V2
        && h.own_dir.file_name().and_then(|n| n.to_str()) == Some(&supervisor_name(prefix, pid))
    {
        if let Some(parent) = h.own_dir.parent() {
            return parent.to_path_buf();
        }
    }
    h.own_dir.clone()
}

fn parse_pids(text: &str) -> Vec<i32> {
    text.split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect()
}

/// The value after `key` in a `key value` file (`memory.events`, `pids.events`, ...).
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(char::is_whitespace)?;
        if k == key {
            v.trim().parse().ok()
        } else {
            None
        }
    })
}

fn errno_is(e: &io::Error, errno: i32) -> bool {
    e.raw_os_error() == Some(errno)
}

/// Advice that depends on the host; built once per session creation.
struct Ctx<'a> {
    det: &'a Detection,
    opts: &'a CgroupOptions,
    euid: u32,
    pid: i32,
}

impl Ctx<'_> {
    fn scope_hint(&self) -> String {
        if self.det.systemd_scope_possible() {
            String::from(
                " (systemd runs here: `phantom run` and `phantom exec` start themselves in a \
                 delegated scope of the user's own, `systemd-run --user --scope -p \
                 Delegate=yes`, when their cgroup is refused; if this is already such a \
                 scope, the user's systemd manager does not delegate the controller)",
            )
        } else if self.det.systemd_run.is_some() {
            String::from(
                " (systemd-run is installed, but systemd is not running here (no \
                 /run/systemd/system), so a transient systemd scope is not available)",
            )
        } else {
            String::new()
        }
    }

    /// Why a write or mkdir beneath `h` failed, and what to do.
    fn access_fix(&self, h: &Hierarchy, e: &io::Error) -> String {
        let errno = e.raw_os_error();
        if h.read_only || errno == Some(libc::EROFS) {
            return format!(
                "the cgroup filesystem at {} is mounted read-only: give phantom a writable \
                 cgroup hierarchy (in a container: a private cgroup namespace with a \
                 writable, delegated cgroup v2 subtree){}",
                h.mount_point.display(),
                self.scope_hint()
            );
        }
        match errno {
            Some(libc::EACCES) | Some(libc::EPERM) if self.euid != 0 => format!(
                "phantom runs as uid {} and may not write beneath {}: run it as root, or \
                 delegate a cgroup v2 subtree to this user (its directory, cgroup.procs and \
                 cgroup.subtree_control owned by the user){}",
                self.euid,
                h.own_dir.display(),
                self.scope_hint()
            ),
            Some(libc::EACCES) | Some(libc::EPERM) => format!(
                "even root may not write beneath {} (a container without cgroup \
                 delegation, or a security module, forbids it): run phantom where this \
                 cgroup hierarchy is writable{}",
                h.own_dir.display(),
                self.scope_hint()
            ),
            Some(libc::EAGAIN) => format!(
                "the hierarchy refuses more cgroups: raise cgroup.max.descendants or \
                 cgroup.max.depth of {} or an ancestor, or remove leftover sessions \
                 (sweep_stale)",
                h.own_dir.display()
            ),
            Some(libc::ENOSPC) => String::from(
                "the kernel ran out of cgroup ids or memory: remove leftover sessions \
                 (sweep_stale) and check the kernel log (dmesg)",
            ),
            _ => format!(
                "check that {} is a working cgroup filesystem and see the kernel log (dmesg)",
                h.mount_point.display()
            ),
        }
    }

    fn unavailable_fix(&self, controller: Controller) -> String {
        let v1 = controller.v1_name();
        let mut fix = match (self.det.layout, controller.v2_name(), self.det.v2()) {
            (Layout::Unified, Some(v2), Some(h)) => format!(
                "enable {v2} for phantom's cgroup: write +{v2} to cgroup.subtree_control of \
                 each ancestor of {} (or run phantom in a cgroup delegated with the \
                 controller enabled){}",
                h.own_dir.display(),
                self.scope_hint()
            ),
            (Layout::None, _, _) => format!(
                "mount a cgroup filesystem (mount -t cgroup2 none /sys/fs/cgroup) or run \
                 phantom where one is mounted{}",
                self.scope_hint()
            ),
            _ => format!(
                "mount the {v1} controller as a cgroup v1 hierarchy (mount -t cgroup -o {v1} \
                 cgroup /sys/fs/cgroup/{v1}), or boot with cgroup v2 \
                 (systemd.unified_cgroup_hierarchy=1) and the controller enabled{}",
                self.scope_hint()
            ),
        };
        if controller == Controller::Io {
            fix.push_str("; io weights also need the BFQ I/O scheduler or blk-iocost");
        }
        fix
    }

    fn internal_processes_fix(&self, controllers: &str, alone: bool) -> String {
        let opt = if alone {
            "phantom's process is the only one in its cgroup: set \
             CgroupOptions::move_self_to_leaf to move it into a leaf child first, or "
        } else {
            "other processes share phantom's cgroup: "
        };
        format!(
            "{opt}start phantom in a cgroup of its own whose parent enables {controllers} \
             for its children{}",
            self.scope_hint()
        )
    }
}

impl<F: CgroupFs> CgroupSession<F> {
    /// Creates the session's cgroups and writes `limits`.
    ///
    /// One directory `<prefix>-<pid>-<n>[-<name_hint>]` (unique within this process and
    /// not existing before) is made beneath our own cgroup in each hierarchy that holds a
    /// needed controller and, for [`CgroupSession::kill_all`], in the v1 freezer
    /// hierarchy and the v2 hierarchy as `options` ask (failing to create those two is no
    /// error).
    /// Where a limit cannot be enforced, the error names it and the fix, unless
    /// `options.allow_degraded` is set: then the session records it in
    /// [`CgroupSession::not_enforced`]. On error, whatever was created is removed.
    pub fn create_with(
        fs: F,
        limits: &CgroupLimits,
        name_hint: &str,
        options: &CgroupOptions,
    ) -> Result<Self, CgroupError> {
        let detection = Detection::detect(&fs)?;
        Self::create_detected(fs, &detection, limits, name_hint, options)
    }

    /// [`CgroupSession::create_with`] with a detection made before.
    pub fn create_detected(
        fs: F,
        detection: &Detection,
        limits: &CgroupLimits,
        name_hint: &str,
        options: &CgroupOptions,
    ) -> Result<Self, CgroupError> {
        let ctx = Ctx {
            det: detection,
            opts: options,
            euid: fs.euid(),
            pid: own_pid(),
        };
        let mut session = CgroupSession {
            fs,
            name: String::new(),
            dirs: Vec::new(),
            enforced: Vec::new(),
            not_enforced: Vec::new(),
            notes: Vec::new(),
        };

        // Which hierarchy serves which controller.
        let mut plan: Vec<(&Hierarchy, Wants)> = Vec::new();
        for (controller, descs) in wanted(limits) {
            match detection.hierarchies.iter().find(|h| h.offers(controller)) {
                Some(h) => match plan.iter_mut().find(|(p, _)| std::ptr::eq(*p, h)) {
                    Some((_, wants)) => wants.push((controller, descs)),
                    None => plan.push((h, vec![(controller, descs)])),
                },
                None => {
                    let err = CgroupError::ControllerUnavailable {
                        limits: descs.join(", "),
                        controller: controller.v1_name(),
                        reason: detection.why_missing(controller),
                        fix: ctx.unavailable_fix(controller),
                    };
                    session.give_up(&ctx, &descs, err)?;
                }
            }
        }
        // The hierarchies that help killing: the v1 freezer, and v2 (cgroup.kill).
        let helpers = detection.hierarchies.iter().filter(|h| {
            (h.version == Version::V2 && options.unified_for_killing)
                || (h.offers(Controller::Freezer) && options.freezer_for_killing)
        });
        for h in helpers {
            if !plan.iter().any(|(p, _)| std::ptr::eq(*p, h)) {
                plan.push((h, Vec::new()));
            }
        }
        if options.account {
            for h in detection.hierarchies.iter().filter(|h| accounts(h)) {
                if !plan.iter().any(|(p, _)| std::ptr::eq(*p, h)) {
                    plan.push((h, Vec::new()));
                }
            }
        }

        let bases: Vec<PathBuf> = plan
            .iter()
            .map(|(h, _)| base_dir(h, &options.prefix, ctx.pid))
            .collect();
        session.name = session.unique_name(&bases, &options.prefix, ctx.pid, name_hint);

        for ((h, wants), base) in plan.iter().zip(&bases) {
            let usable = if h.version == Version::V2 && !wants.is_empty() {
                session.prepare_v2(&ctx, h, base, wants)?
            } else {
                wants.clone()
            };
            let path = base.join(&session.name);
            if let Err(source) = session.fs.mkdir(&path) {
                if usable.is_empty() {
                    session.notes.push(format!(
                        "no {} directory for killing at {}: {source}",
                        h.version,
                        path.display()
                    ));
                    continue;
                }
                let descs: Vec<String> = usable.iter().flat_map(|(_, d)| d.clone()).collect();
                let fix = ctx.access_fix(h, &source);
                let err = CgroupError::CreateDir {
                    limits: descs.join(", "),
                    path,
                    source,
                    fix,
                };
                session.give_up(&ctx, &descs, err)?;
                continue;
            }
            let mut controllers: Vec<Controller> = usable.iter().map(|(c, _)| *c).collect();
            if h.version == Version::V1 && h.offers(Controller::Freezer) {
                controllers.push(Controller::Freezer);
            }
            session.dirs.push(SessionDir {
                path: path.clone(),
                version: h.version,
                controllers,
            });
            for (controller, _) in &usable {
                session.apply(&ctx, h, &path, *controller, limits)?;
            }
        }
        Ok(session)
    }

    /// A name no planned base holds yet.
    fn unique_name(&self, bases: &[PathBuf], prefix: &str, pid: i32, hint: &str) -> String {
        let hint = sanitize(hint);
        let suffix = if hint.is_empty() {
            String::new()
        } else {
            format!("-{hint}")
        };
        let mut name = String::new();
        for _ in 0..10_000 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            name = format!("{prefix}-{pid}-{n}{}{suffix}", tag_suffix());
            if !bases.iter().any(|b| self.fs.exists(&b.join(&name))) {
                break;
            }
        }
        name
    }

    /// Records `limits` as not enforced (degraded) or returns `err`.
    fn give_up(
        &mut self,
        ctx: &Ctx<'_>,
        limits: &[String],
        err: CgroupError,
    ) -> Result<(), CgroupError> {
        if ctx.opts.allow_degraded {
            let reason = err.reason();
            self.not_enforced
                .extend(limits.iter().map(|l| format!("{l} ({reason})")));
            Ok(())
        } else {
            Err(err)
        }
    }

    /// cgroup v2: makes sure each wanted controller is enabled for the children of
    /// `base`, within the rules; returns those that are.
    fn prepare_v2(
        &mut self,
        ctx: &Ctx<'_>,
        h: &Hierarchy,
        base: &Path,
        wants: &[(Controller, Vec<String>)],
    ) -> Result<Wants, CgroupError> {
        let words = |name: &str| -> Vec<String> {
            self.fs
                .read(&base.join(name))
                .map(|t| t.split_whitespace().map(String::from).collect())
                .unwrap_or_default()
        };
        let available = words("cgroup.controllers");
        let enabled = words("cgroup.subtree_control");
        let mut usable = Vec::new();
        let mut to_enable = Vec::new();
        for (controller, descs) in wants {
            let Some(name) = controller.v2_name() else {
                continue;
            };
            if enabled.iter().any(|c| c == name) {
                usable.push((*controller, descs.clone()));
            } else if !available.iter().any(|c| c == name) {
                let err = CgroupError::ControllerUnavailable {
                    limits: descs.join(", "),
                    controller: name,
                    reason: format!(
                        "the cgroup v2 controller {name} is not available to our cgroup {} \
                         (its cgroup.controllers: {})",
                        base.display(),
                        if available.is_empty() {
                            String::from("none")
                        } else {
                            available.join(" ")
                        }
                    ),
                    fix: ctx.unavailable_fix(*controller),
                };
                self.give_up(ctx, descs, err)?;
            } else {
                to_enable.push((*controller, name, descs.clone()));
            }
        }
        if to_enable.is_empty() {
            return Ok(usable);
        }
        let all_descs: Vec<String> = to_enable.iter().flat_map(|(_, _, d)| d.clone()).collect();
        let names: Vec<&str> = to_enable.iter().map(|(_, n, _)| *n).collect();

        // The no-internal-processes rule: controllers may be enabled for the children
        // of the root, or of a cgroup without processes.
        let is_root = !self.fs.exists(&base.join("cgroup.type"));
        let procs = if is_root {
            Vec::new()
        } else {
            self.fs
                .read(&base.join("cgroup.procs"))
                .map(|t| parse_pids(&t))
                .unwrap_or_default()
        };
        if !procs.is_empty() {
            let alone = procs == [ctx.pid];
            if alone && ctx.opts.move_self_to_leaf {
                let leaf = base.join(supervisor_name(&ctx.opts.prefix, ctx.pid));
                let moved = match self.fs.mkdir(&leaf) {
                    Ok(()) => Ok(()),
                    Err(e) if errno_is(&e, libc::EEXIST) => Ok(()),
                    Err(e) => Err(e),
                }
                .and_then(|()| {
                    self.fs
                        .write(&leaf.join("cgroup.procs"), &ctx.pid.to_string())
                });
                match moved {
                    Ok(()) => self.notes.push(format!(
                        "moved phantom's own process {} into {} so that controllers can be \
                         enabled in {}",
                        ctx.pid,
                        leaf.display(),
                        base.display()
                    )),
                    Err(source) => {
                        let fix = ctx.access_fix(h, &source);
                        let err = CgroupError::MoveSelf {
                            limits: all_descs.join(", "),
                            path: leaf,
                            source,
                            fix,
                        };
                        self.give_up(ctx, &all_descs, err)?;
                        return Ok(usable);
                    }
                }
            } else {
                let pids: Vec<String> = procs.iter().map(i32::to_string).collect();
                let err = CgroupError::InternalProcesses {
                    limits: all_descs.join(", "),
                    controllers: names.join(", "),
                    dir: base.to_path_buf(),
                    pids: pids.join(" "),
                    fix: ctx.internal_processes_fix(&names.join(", "), alone),
                };
                self.give_up(ctx, &all_descs, err)?;
                return Ok(usable);
            }
        }

        let control = base.join("cgroup.subtree_control");
        for (controller, name, descs) in to_enable {
            match self.fs.write(&control, &format!("+{name}")) {
                Ok(()) => {
                    self.notes
                        .push(format!("enabled {name} in {}", control.display()));
                    usable.push((controller, descs));
                }
                Err(source) => {
                    let fix = match source.raw_os_error() {
                        Some(libc::EBUSY) => ctx.internal_processes_fix(name, false),
                        Some(libc::ENOENT) => ctx.unavailable_fix(controller),
                        _ => ctx.access_fix(h, &source),
                    };
                    let err = CgroupError::EnableController {
                        limits: descs.join(", "),
                        controller: name,
                        path: control.clone(),
                        source,
                        fix,
                    };
                    self.give_up(ctx, &descs, err)?;
                }
            }
        }
        Ok(usable)
    }

    /// Writes one value of one limit. `Ok(true)` if written, `Ok(false)` if given up.
    fn write_limit(
        &mut self,
        ctx: &Ctx<'_>,
        h: &Hierarchy,
        path: PathBuf,
        value: String,
        limit: &str,
        missing_fix: &str,
    ) -> Result<bool, CgroupError> {
        let err = if !self.fs.exists(&path) {
            CgroupError::LimitFileMissing {
                limit: limit.to_owned(),
                path,
                fix: missing_fix.to_owned(),
            }
        } else {
            match self.fs.write(&path, &value) {
                Ok(()) => return Ok(true),
                Err(source) if errno_is(&source, libc::ENOENT) => CgroupError::LimitFileMissing {
                    limit: limit.to_owned(),
                    path,
                    fix: missing_fix.to_owned(),
                },
                Err(source) => {
                    let fix = match source.raw_os_error() {
                        Some(libc::EINVAL) | Some(libc::ERANGE) => String::from(
                            "the kernel refused the value: it is out of the range this \
                             kernel accepts (e.g. a cpu quota below 1 ms, a period outside \
                             1 ms to 1 s, or a v1 cpu quota above its parent's); change the \
                             policy's limit",
                        ),
                        Some(libc::EBUSY) => String::from(
                            "the cgroup already uses more than the new limit; set the limit \
                             before adding processes",
                        ),
                        _ => ctx.access_fix(h, &source),
                    };
                    CgroupError::WriteLimit {
                        limit: limit.to_owned(),
                        path,
                        value,
                        source,
                        fix,
                    }
                }
            }
        };
        self.give_up(ctx, &[limit.to_owned()], err)?;
        Ok(false)
    }

    /// Writes the limits of `controller` into the session's directory `dir`.
    fn apply(
        &mut self,
        ctx: &Ctx<'_>,
        h: &Hierarchy,
        dir: &Path,
        controller: Controller,
        limits: &CgroupLimits,
    ) -> Result<(), CgroupError> {
        let v1 = h.version == Version::V1;
        let mut done = Vec::new();
        match controller {
            Controller::Memory => {
                let memory_written = match limits.memory_max {
                    Some(m) => {
                        let file = if v1 {
                            "memory.limit_in_bytes"
                        } else {
                            "memory.max"
                        };
                        let desc = describe_memory(m);
                        let ok = self.write_limit(
                            ctx,
                            h,
                            dir.join(file),
                            m.to_string(),
                            &desc,
                            "the memory controller is present but lacks its limit file; \
                             check the kernel's cgroup support",
                        )?;
                        if ok {
                            done.push(desc);
                        }
                        ok
                    }
                    None => false,
                };
                if let Some(s) = limits.swap_max {
                    let desc = describe_swap(s);
                    if v1 {
                        if s == 0 {
                            // Best effort: the memsw limit below is what enforces it.
                            let _ = self.fs.write(&dir.join("memory.swappiness"), "0");
                        }
                        match limits.memory_max {
                            None => {
                                let err = CgroupError::Unsupported {
                                    limit: desc.clone(),
                                    reason: String::from(
                                        "cgroup v1 limits swap only together with memory \
                                         (memory.memsw.limit_in_bytes bounds memory plus \
                                         swap): give the policy a memory limit, or use \
                                         cgroup v2",
                                    ),
                                };
                                self.give_up(ctx, std::slice::from_ref(&desc), err)?;
                            }
                            Some(_) if !memory_written => {
                                let err = CgroupError::Unsupported {
                                    limit: desc.clone(),
                                    reason: String::from(
                                        "on cgroup v1 it is part of the memory limit, which \
                                         could not be set",
                                    ),
                                };
                                self.give_up(ctx, std::slice::from_ref(&desc), err)?;
                            }
                            Some(m) => {
                                if self.write_limit(
                                    ctx,
                                    h,
                                    dir.join("memory.memsw.limit_in_bytes"),
                                    m.saturating_add(s).to_string(),
                                    &desc,
                                    "cgroup v1 swap accounting is off: boot with \
                                     swapaccount=1 (or use cgroup v2 with memory.swap.max); \
                                     the memory limit still applies, but swap use is not \
                                     bounded",
                                )? {
                                    done.push(desc);
                                }
                            }
                        }
                    } else if self.write_limit(
                        ctx,
                        h,
                        dir.join("memory.swap.max"),
                        s.to_string(),
                        &desc,
                        "swap accounting is off in this kernel (CONFIG_MEMCG_SWAP, or \
                         swapaccount=0 on the command line); the memory limit still applies, \
                         but swap use is not bounded",
                    )? {
                        done.push(desc);
                    }
                }
            }
            Controller::Cpu => {
                if let Some(cpu) = limits.cpu {
                    let desc = describe_cpu(cpu.quota_us, cpu.period_us);
                    let missing = "the cpu controller lacks CFS bandwidth control \
                                   (CONFIG_CFS_BANDWIDTH)";
                    let ok = if v1 {
                        self.write_limit(
                            ctx,
                            h,
                            dir.join("cpu.cfs_period_us"),
                            cpu.period_us.to_string(),
                            &desc,
                            missing,
                        )? && self.write_limit(
                            ctx,
                            h,
                            dir.join("cpu.cfs_quota_us"),
                            cpu.quota_us.to_string(),
                            &desc,
                            missing,
                        )?
                    } else {
                        self.write_limit(
                            ctx,
                            h,
                            dir.join("cpu.max"),
                            format!("{} {}", cpu.quota_us, cpu.period_us),
                            &desc,
                            missing,
                        )?
                    };
                    if ok {
                        done.push(desc);
                    }
                }
            }
            Controller::Pids => {
                if let Some(n) = limits.pids_max {
                    let desc = describe_pids(n);
                    if self.write_limit(
                        ctx,
                        h,
                        dir.join("pids.max"),
                        n.to_string(),
                        &desc,
                        "the pids controller lacks pids.max; check the kernel's cgroup support",
                    )? {
                        done.push(desc);
                    }
                }
            }
            Controller::Io => {
                if let Some(w) = limits.io_weight {
                    let desc = describe_io(w);
                    // v2: io.weight (blk-iocost, 1..10000) or io.bfq.weight (1..1000);
                    // v1: blkio.weight (CFQ, 10..1000) or blkio.bfq.weight (1..1000).
                    // Defaults are 100 everywhere, so the value is kept and clamped.
                    let candidates: [(&str, String); 2] = if v1 {
                        [
                            ("blkio.weight", w.clamp(10, 1000).to_string()),
                            ("blkio.bfq.weight", w.clamp(1, 1000).to_string()),
                        ]
                    } else {
                        [
                            ("io.weight", format!("default {}", w.clamp(1, 10000))),
                            ("io.bfq.weight", w.clamp(1, 1000).to_string()),
                        ]
                    };
                    let file = candidates
                        .iter()
                        .find(|(f, _)| self.fs.exists(&dir.join(f)))
                        .or(candidates.first())
                        .cloned();
                    if let Some((file, value)) = file {
                        if self.write_limit(
                            ctx,
                            h,
                            dir.join(file),
                            value,
                            &desc,
                            "io weights need the BFQ I/O scheduler (io.bfq.weight, \
                             blkio.bfq.weight) or blk-iocost (io.weight) in this kernel",
                        )? {
                            done.push(desc);
                        }
                    }
                }
            }
            Controller::Freezer => {}
        }
        self.enforced.extend(done);
        Ok(())
    }

    /// The directory name shared by every hierarchy (`phantom-<pid>-<n>[-hint]`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The directories created, one per hierarchy.
    pub fn dirs(&self) -> &[SessionDir] {
        &self.dirs
    }

    /// The directory limiting `controller`, if the session has one.
    pub fn dir_for(&self, controller: Controller) -> Option<&SessionDir> {
        self.dirs
            .iter()
            .find(|d| d.controllers.contains(&controller))
    }

    /// The limits written, described (`memory limit 64 MiB`, ...).
    pub fn enforced(&self) -> &[String] {
        &self.enforced
    }

    /// The limits not enforced (only with `allow_degraded`), each with the reason and
    /// the fix: `memory limit 256 MiB (could not create ...: Permission denied; run ...)`.
    pub fn not_enforced(&self) -> &[String] {
        &self.not_enforced
    }

    /// What the session changed outside its own directories, and helpers it could not
    /// create (controllers enabled in our cgroup, phantom's process moved into a leaf).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Moves process `pid` (with all its threads) into the session, in every hierarchy.
    /// Its children, forked afterwards, are in the session too.
    pub fn add(&self, pid: i32) -> Result<(), CgroupError> {
        self.add_where(pid, |_| true)
    }

    fn add_where(&self, pid: i32, which: impl Fn(&SessionDir) -> bool) -> Result<(), CgroupError> {
        for dir in self.dirs.iter().filter(|d| which(d)) {
            let path = dir.path.join("cgroup.procs");
            let result = if pid <= 0 {
                Err(io::Error::from_raw_os_error(libc::EINVAL))
            } else {
                self.fs.write(&path, &pid.to_string())
            };
            if let Err(source) = result {
                let fix = match source.raw_os_error() {
                    Some(libc::ESRCH) => String::from("the process has already exited"),
                    Some(libc::EINVAL) => String::from("a process id is a positive number"),
                    Some(libc::EBUSY) => String::from(
                        "cgroup v2 puts processes only in cgroups without controllers \
                         enabled for children (the session's directories never enable any; \
                         was it changed from outside?)",
                    ),
                    Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EROFS) => String::from(
                        "moving a process needs write access to cgroup.procs of the target \
                         and, on cgroup v2, of the common ancestor of the process's current \
                         cgroup and the target: run phantom as root, or keep both in one \
                         delegated subtree",
                    ),
                    _ => String::from("see the kernel log (dmesg)"),
                };
                return Err(CgroupError::AddProcess {
                    pid,
                    path,
                    source,
                    fix,
                });
            }
        }
        Ok(())
    }

    /// Moves process `pid` into the session's v2 directories only (see
    /// [`CgroupSession::entry_files`] for a move of one's own).
    pub fn add_v2(&self, pid: i32) -> Result<(), CgroupError> {
        self.add_where(pid, |d| d.version == Version::V2)
    }

    /// The file of each directory through which a process moves itself in by writing
    /// `0` to a descriptor the session's creator opened (permission is the opener's:
    /// root, or the owner of the moving process): v1 `tasks`, v2 `cgroup.procs`. Through
    /// v1 `tasks` a single-threaded process moves without the kernel's global lock for
    /// migrations (Linux 5.19+), which after an idle moment waits for an RCU grace
    /// period (10-17 ms here: docs/benchmarks.md); through v2 `cgroup.procs` the whole
    /// process moves, under that lock, as a move by pid does.
    pub fn entry_files(&self) -> Vec<PathBuf> {
        self.dirs
            .iter()
            .map(|d| {
                d.path.join(match d.version {
                    Version::V1 => "tasks",
                    Version::V2 => "cgroup.procs",
                })
            })
            .collect()
    }

    /// The processes in the session (all hierarchies, nested cgroups included).
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        let mut all = BTreeSet::new();
        for dir in &self.dirs {
            for d in tree(&self.fs, &dir.path) {
                all.extend(read_procs(&self.fs, &d)?);
            }
        }
        Ok(all.into_iter().collect())
    }

    /// What the limits did so far. Counters of hierarchies the session does not limit
    /// stay 0.
    pub fn events(&self) -> Result<LimitEvents, CgroupError> {
        let mut events = LimitEvents::default();
        for dir in &self.dirs {
            let read = |name: &str| read_optional(&self.fs, &dir.path.join(name));
            if dir.controllers.contains(&Controller::Memory) {
                match dir.version {
                    Version::V2 => {
                        if let Some(text) = read("memory.events")? {
                            events.oom_kills += keyed(&text, "oom_kill").unwrap_or(0);
                        }
                    }
                    Version::V1 => {
                        if let Some(text) = read("memory.oom_control")? {
                            events.oom_kills += keyed(&text, "oom_kill").unwrap_or(0);
                        }
                    }
                }
            }
            if dir.controllers.contains(&Controller::Pids) {
                if let Some(text) = read("pids.events")? {
                    events.pids_max_hits += keyed(&text, "max").unwrap_or(0);
                }
            }
        }
        Ok(events)
    }

    /// Kills every process in the session: v2 `cgroup.kill` where the kernel has it,
    /// otherwise the session is frozen (v2 `cgroup.freeze` or the v1 freezer), each
    /// process listed in its `cgroup.procs` gets SIGKILL, and it is thawed so the
    /// signals land; repeated until the session is empty (about half a second at most).
    /// Only processes in the session's own directories are signalled, never phantom
    /// itself.
    pub fn kill_all(&self) -> Result<(), CgroupError> {
        let dirs: Vec<(PathBuf, Version, bool)> = self
            .dirs
            .iter()
            .map(|d| {
                (
                    d.path.clone(),
                    d.version,
                    d.controllers.contains(&Controller::Freezer),
                )
            })
            .collect();
        kill_dirs(&self.fs, &dirs, own_pid())
    }

    /// The session recorded earlier by [`name`](Self::name) and [`dirs`](Self::dirs),
    /// owned again by this process (a persistent workspace's cgroups, read or
    /// destroyed by a later command). Use [`hand_over`](Self::hand_over) to let go of
    /// it without removing it.
    pub fn adopt(fs: F, name: String, dirs: Vec<SessionDir>) -> Self {
        CgroupSession {
            fs,
            name,
            dirs,
            enforced: Vec::new(),
            not_enforced: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Gives the session up without removing it: another process (the supervisor
    /// `phantom serve` forks for a run) owns and destroys it from now on.
    pub fn hand_over(mut self) {
        self.dirs.clear();
    }

    /// Kills the session's processes and removes its directories, retrying briefly while
    /// processes exit. Reports the first failure; directories that could not be removed
    /// are tried again on drop.
    pub fn destroy(mut self) -> Result<(), CgroupError> {
        self.teardown()
    }

    fn teardown(&mut self) -> Result<(), CgroupError> {
        // The common end of a run: every process gone. A cgroup that rmdir takes had
        // neither processes nor children, so nothing needed killing; only the others
        // get the kill and the walk of their tree (a process left in one of ours is
        // in all of them, so none of them is removed then).
        let fs = &self.fs;
        self.dirs.retain(|dir| fs.rmdir(&dir.path).is_err());
        if self.dirs.is_empty() {
            return Ok(());
        }
        let mut first = self.kill_all().err();
        let mut remaining = Vec::new();
        for dir in std::mem::take(&mut self.dirs) {
            if let Err(e) = remove_tree(&self.fs, &dir.path) {
                first.get_or_insert(e);
                remaining.push(dir);
            }
        }
        self.dirs = remaining;
        first.map_or(Ok(()), Err)
    }
}

impl<F: CgroupFs> Drop for CgroupSession<F> {
    fn drop(&mut self) {
        let _ = self.teardown();
    }
}

/// `dir` and every cgroup beneath it, parents before children.
fn tree(fs: &impl CgroupFs, dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while let Some(d) = out.get(i).cloned() {
        if let Ok(children) = fs.list(&d) {
            out.extend(children.into_iter().map(|c| d.join(c)));
        }
        i += 1;
    }
    out
}

/// The pids in a cgroup's `cgroup.procs`; a cgroup that is gone has none.
fn read_procs(fs: &impl CgroupFs, dir: &Path) -> Result<Vec<i32>, CgroupError> {
    let path = dir.join("cgroup.procs");
    match fs.read(&path) {
        Ok(text) => Ok(parse_pids(&text)),
        Err(e) if errno_is(&e, libc::ENOENT) => Ok(Vec::new()),
        Err(source) => Err(CgroupError::Kill { path, source }),
    }
}

fn read_optional(fs: &impl CgroupFs, path: &Path) -> Result<Option<String>, CgroupError> {
    match fs.read(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if errno_is(&e, libc::ENOENT) => Ok(None),
        Err(source) => Err(CgroupError::ReadEvents {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Freezes a cgroup: returns the file and value that thaw it, if it was frozen.
fn freeze(
    fs: &impl CgroupFs,
    dir: &Path,
    version: Version,
    freezer: bool,
) -> Option<(PathBuf, &'static str)> {
    let (file, on, off) = match version {
        Version::V2 => (dir.join("cgroup.freeze"), "1", "0"),
        Version::V1 if freezer => (dir.join("freezer.state"), "FROZEN", "THAWED"),
        Version::V1 => return None,
    };
    if !fs.exists(&file) || fs.write(&file, on).is_err() {
        return None;
    }
    // Freezing is asynchronous; wait a little for it to settle.
    for _ in 0..50 {
        let settled = match version {
            Version::V2 => {
                fs.read(&dir.join("cgroup.events"))
                    .ok()
                    .and_then(|t| keyed(&t, "frozen"))
                    == Some(1)
            }
            Version::V1 => fs.read(&file).map(|t| t.trim() == "FROZEN").unwrap_or(true),
        };
        if settled {
            break;
        }
        fs.sleep(Duration::from_millis(2));
    }
    Some((file, off))
}

/// Kills every process in `dirs` (path, version, is a v1 freezer) and beneath them.
fn kill_dirs(
    fs: &impl CgroupFs,
    dirs: &[(PathBuf, Version, bool)],
    own: i32,
) -> Result<(), CgroupError> {
    if dirs.is_empty() {
        return Ok(());
    }
    // cgroup.kill (Linux 5.14): the kernel kills the whole subtree, forks included.
    let mut kernel_killed = false;
    for (dir, version, _) in dirs {
        let file = dir.join("cgroup.kill");
        if *version == Version::V2 && fs.exists(&file) && fs.write(&file, "1").is_ok() {
            kernel_killed = true;
        }
    }
    // Otherwise: freeze, signal, thaw; and in any case signal stragglers until empty.
    let mut frozen: Vec<(PathBuf, &'static str)> = if kernel_killed {
        Vec::new()
    } else {
        dirs.iter()
            .filter_map(|(dir, version, freezer)| freeze(fs, dir, *version, *freezer))
            .collect()
    };
    let thaw = |frozen: &mut Vec<(PathBuf, &'static str)>| {
        for (file, value) in frozen.drain(..) {
            let _ = fs.write(&file, value);
        }
    };
    let mut result = Ok(());
    for _ in 0..KILL_ROUNDS {
        let mut pids = BTreeSet::new();
        for (dir, _, _) in dirs {
            for d in tree(fs, dir) {
                match read_procs(fs, &d) {
                    Ok(p) => pids.extend(p),
                    Err(e) => {
                        result = Err(e);
                    }
                }
            }
        }
        // pid 0: a process outside our pid namespace; never signal it, nor ourselves.
        pids.retain(|&p| p > 0 && p != own);
        if pids.is_empty() {
            break;
        }
        for pid in pids {
            if let Err(source) = fs.kill(pid) {
                result = Err(CgroupError::Kill {
                    path: dirs.first().map(|d| d.0.clone()).unwrap_or_default(),
                    source,
                });
            }
        }
        // Frozen v1 tasks die only once thawed.
        thaw(&mut frozen);
        if result.is_err() {
            break;
        }
        fs.sleep(KILL_PAUSE);
    }
    thaw(&mut frozen);
    result
}

/// Removes `dir` and the cgroups beneath it (children first), retrying on EBUSY while
/// processes exit. A directory already gone is not an error.
fn remove_tree(fs: &impl CgroupFs, dir: &Path) -> Result<(), CgroupError> {
    for d in tree(fs, dir).iter().rev() {
        let mut attempt = 0;
        loop {
            match fs.rmdir(d) {
                Ok(()) => break,
                Err(e) if errno_is(&e, libc::ENOENT) => break,
                Err(e) if errno_is(&e, libc::EBUSY) && attempt + 1 < RMDIR_ATTEMPTS => {
                    attempt += 1;
                    for pid in read_procs(fs, d).unwrap_or_default() {
                        if pid > 0 && pid != own_pid() {
                            let _ = fs.kill(pid);
                        }
                    }
                    let backoff = RMDIR_FIRST_PAUSE.saturating_mul(1 << attempt.min(6));
                    fs.sleep(backoff.min(RMDIR_PAUSE));
                }
                Err(source) => {
                    let fix = match source.raw_os_error() {
                        Some(libc::EBUSY) => String::from(
                            "processes are still in it (perhaps stuck in the kernel) or it \
                             has child cgroups: kill them and retry; `sweep_stale` removes \
                             leftovers later",
                        ),
                        Some(libc::EACCES) | Some(libc::EPERM) => String::from(
                            "removing needs write access to the parent directory: run as \
                             the user that created it, or root",
                        ),
                        _ => String::from("see the kernel log (dmesg)"),
                    };
                    return Err(CgroupError::Remove {
                        path: d.clone(),
                        source,
                        fix,
                    });
                }
            }
        }
    }
    Ok(())
}

/// Removes leftover session directories `<prefix>-<pid>-*` beneath our own cgroups
/// whose process `<pid>` no longer exists (a runtime killed with SIGKILL leaves them),
/// killing their processes first. Directories of live processes, and anything not
/// named so, are left alone. (A pid reused by an unrelated process keeps its
/// directories until that process exits.)
pub fn sweep_stale(prefix: &str) -> Result<SweepReport, CgroupError> {
    sweep_stale_with(&RealFs, prefix)
}

/// [`sweep_stale`] through any [`CgroupFs`].
pub fn sweep_stale_with(fs: &impl CgroupFs, prefix: &str) -> Result<SweepReport, CgroupError> {
    sweep_stale_detected(fs, &Detection::detect(fs)?, prefix)
}

/// [`sweep_stale`] with the host's cgroups already detected (once per run).
pub fn sweep_stale_detected(
    fs: &impl CgroupFs,
    detection: &Detection,
    prefix: &str,
) -> Result<SweepReport, CgroupError> {
    let own = own_pid();
    let mut report = SweepReport::default();
    let mut seen = BTreeSet::new();
    for h in detection
        .hierarchies
        .iter()
        .filter(|h| may_hold_sessions(h))
    {
        let base = base_dir(h, prefix, own);
        if !seen.insert(base.clone()) {
            continue;
        }
        let names = match fs.list(&base) {
            Ok(names) => names,
            Err(e) => {
                report.failed.push((base, e.to_string()));
                continue;
            }
        };
        for name in names {
            let Some(pid) = stale_pid(&name, prefix) else {
                continue;
            };
            if namespace_tag(&name, prefix).is_some_and(|tag| tag != own_namespace_tag()) {
                continue; // another pid namespace's: its pid means nothing here
            }
            if pid == own || fs.process_exists(pid) {
                continue;
            }
            let dir = base.join(&name);
            let target = [(dir.clone(), h.version, h.offers(Controller::Freezer))];
            let result = kill_dirs(fs, &target, own).and_then(|()| remove_tree(fs, &dir));
            match result {
                Ok(()) => report.removed.push(dir),
                Err(e) => report.failed.push((dir, e.to_string())),
            }
        }
    }
    Ok(report)
}
