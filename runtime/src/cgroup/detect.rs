//! Where the cgroup controllers are, and where this process is in each hierarchy.
//!
//! Nothing is assumed about `/sys/fs/cgroup`: the hierarchies this process belongs to
//! come from `/proc/self/cgroup` (`ID:CONTROLLERS:PATH`, one line per hierarchy, `0::PATH`
//! for cgroup v2), and where each is mounted from `/proc/self/mountinfo` (filesystem
//! type `cgroup` with the controllers in its super options, or `cgroup2`). A hierarchy
//! is usable when a mount of it shows our own cgroup (the mount's root is a prefix of
//! our path); our directory is then the mount point joined with the rest of the path.

use std::fmt;
use std::path::{Path, PathBuf};

use super::fs::CgroupFs;
use super::CgroupError;

/// A controller the runtime uses.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Controller {
    Memory,
    Cpu,
    Pids,
    /// `io` on v2, `blkio` on v1.
    Io,
    /// v1 only: on v2 freezing is part of every cgroup (`cgroup.freeze`).
    Freezer,
}

impl Controller {
    /// Its name in a v1 mount's options and in `/proc/self/cgroup`.
    pub fn v1_name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Cpu => "cpu",
            Controller::Pids => "pids",
            Controller::Io => "blkio",
            Controller::Freezer => "freezer",
        }
    }

    /// Its name in v2's `cgroup.controllers`; `None` for the freezer, which v2 has in
    /// every cgroup.
    pub fn v2_name(self) -> Option<&'static str> {
        match self {
            Controller::Memory => Some("memory"),
            Controller::Cpu => Some("cpu"),
            Controller::Pids => Some("pids"),
            Controller::Io => Some("io"),
            Controller::Freezer => None,
        }
    }
}

/// cgroup v1 or v2.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Version {
    V1,
    V2,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::V1 => "cgroup v1",
            Version::V2 => "cgroup v2",
        })
    }
}

/// How the host arranges its hierarchies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Only cgroup v2.
    Unified,
    /// Only cgroup v1 hierarchies with controllers.
    Legacy,
    /// Controllers on v1, and a v2 hierarchy too (often with few or no controllers).
    Hybrid,
    /// No usable hierarchy (none mounted, or none showing our cgroup).
    None,
}

/// One hierarchy this process is in, and where our cgroup is in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hierarchy {
    pub version: Version,
    /// The hierarchy's number in `/proc/self/cgroup` (0 for v2).
    pub id: u32,
    /// v1: the controllers bound to the hierarchy. v2: those our cgroup may hand to its
    /// children (its `cgroup.controllers`).
    pub controllers: Vec<String>,
    /// v2: the controllers already enabled for our cgroup's children
    /// (`cgroup.subtree_control`). Empty on v1.
    pub subtree_control: Vec<String>,
    pub mount_point: PathBuf,
    /// The mount's root inside the hierarchy (not `/` for a bind mount of a subtree).
    pub mount_root: String,
    /// The mount is read-only.
    pub read_only: bool,
    /// Our cgroup, as `/proc/self/cgroup` names it.
    pub own_path: String,
    /// Our cgroup's directory.
    pub own_dir: PathBuf,
}

impl Hierarchy {
    /// Whether this hierarchy provides `controller` to cgroups created beneath ours.
    pub fn offers(&self, controller: Controller) -> bool {
        let name = match self.version {
            Version::V1 => Some(controller.v1_name()),
            Version::V2 => controller.v2_name(),
        };
        name.is_some_and(|name| self.controllers.iter().any(|c| c == name))
    }
}

/// What [`Detection::detect`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detection {
    pub layout: Layout,
    /// Usable hierarchies, v1 first in `/proc/self/cgroup` order, then v2.
    pub hierarchies: Vec<Hierarchy>,
    /// Hierarchies we are in but cannot use, and why.
    pub problems: Vec<String>,
    /// systemd is the init system (`/run/systemd/system` exists).
    pub systemd_running: bool,
    /// Where `systemd-run` is, if installed (looked for on the PATH where systemd
    /// runs, in `/usr/bin` and `/bin` elsewhere).
    pub systemd_run: Option<PathBuf>,
}

pub(crate) const PROC_CGROUP: &str = "/proc/self/cgroup";
pub(crate) const PROC_MOUNTINFO: &str = "/proc/self/mountinfo";

/// What `/proc` says of this process's cgroups: `/proc/self/cgroup` and the cgroup
/// mounts of `/proc/self/mountinfo`, the first half of [`Detection::detect`] and enough
/// for [`Probe::may_be_unified`].
#[derive(Clone, Debug)]
pub struct Probe {
    lines: Vec<CgroupLine>,
    mounts: Vec<CgroupMount>,
}

impl Probe {
    pub fn read(fs: &impl CgroupFs) -> Result<Probe, CgroupError> {
        let read = |path: &str| {
            fs.read(Path::new(path))
                .map_err(|source| CgroupError::Detect {
                    path: PathBuf::from(path),
                    source,
                })
        };
        Ok(Probe {
            lines: parse_proc_cgroup(&read(PROC_CGROUP)?),
            mounts: parse_mountinfo(&read(PROC_MOUNTINFO)?),
        })
    }

    /// Whether this host may have cgroup v2 alone: `false` once a v1 hierarchy with
    /// controllers holds this process and a v1 mount shows those controllers here
    /// (`/proc/self/cgroup` also lists hierarchies no mount here shows, as in a
    /// container whose host has some, which the full detection leaves out).
    pub fn may_be_unified(&self) -> bool {
        !self.lines.iter().filter(|line| line.id != 0).any(|line| {
            let controllers = line.v1_controllers();
            !controllers.is_empty() && self.mounts.iter().any(|m| m.shows_v1(&controllers))
        })
    }
}

impl Detection {
    /// Reads `/proc/self/cgroup`, `/proc/self/mountinfo` and, on v2, our cgroup's
    /// `cgroup.controllers` and `cgroup.subtree_control`.
    pub fn detect(fs: &impl CgroupFs) -> Result<Detection, CgroupError> {
        Detection::from_probe(fs, Probe::read(fs)?)
    }

    /// [`detect`](Self::detect), `/proc` already read.
    pub fn from_probe(fs: &impl CgroupFs, probe: Probe) -> Result<Detection, CgroupError> {
        let Probe { lines, mounts } = probe;
        let mut hierarchies = Vec::new();
        let mut problems = Vec::new();
        for line in &lines {
            let version = if line.id == 0 && line.controllers.is_empty() {
                Version::V2
            } else {
                Version::V1
            };
            let controllers = line.v1_controllers();
            if version == Version::V1 && controllers.is_empty() {
                continue; // a named hierarchy (name=systemd): no controllers, not ours to use
            }
            let label = match version {
                Version::V1 => format!(
                    "cgroup v1 hierarchy {} ({})",
                    line.id,
                    controllers.join(",")
                ),
                Version::V2 => String::from("cgroup v2 hierarchy"),
            };
            let candidates = mounts.iter().filter(|m| match version {
                Version::V2 => m.version == Version::V2,
                Version::V1 => m.shows_v1(&controllers),
            });
            let mut found = None;
            let mut hidden = Vec::new();
            for mount in candidates {
                match relative(&line.path, &mount.root) {
                    Some(rel) => {
                        found = Some((mount, rel));
                        break;
                    }
                    None => hidden.push(mount),
                }
            }
            let Some((mount, rel)) = found else {
                problems.push(if hidden.is_empty() {
                    format!("{label}: not mounted in this mount namespace")
                } else {
                    format!(
                        "{label}: our cgroup {} is outside every mount of it ({})",
                        line.path,
                        hidden
                            .iter()
                            .map(|m| format!("{} shows {}", m.mount_point.display(), m.root))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                });
                continue;
            };
            // (`join("")` would add a trailing slash.)
            let own_dir = if rel.as_os_str().is_empty() {
                mount.mount_point.clone()
            } else {
                mount.mount_point.join(rel)
            };
            let (controllers, subtree_control) = match version {
                Version::V1 => (controllers, Vec::new()),
                Version::V2 => {
                    let words = |name: &str| {
                        fs.read(&own_dir.join(name))
                            .map(|text| text.split_whitespace().map(String::from).collect())
                    };
                    match (words("cgroup.controllers"), words("cgroup.subtree_control")) {
                        (Ok(c), Ok(s)) => (c, s),
                        (Err(e), _) | (_, Err(e)) => {
                            problems.push(format!(
                                "{label}: cannot read the controllers of {}: {e}",
                                own_dir.display()
                            ));
                            (Vec::new(), Vec::new())
                        }
                    }
                }
            };
            hierarchies.push(Hierarchy {
                version,
                id: line.id,
                controllers,
                subtree_control,
                mount_point: mount.mount_point.clone(),
                mount_root: mount.root.clone(),
                read_only: mount.read_only,
                own_path: line.path.clone(),
                own_dir,
            });
        }
        hierarchies.sort_by_key(|h| h.version);

        let has_v1 = hierarchies.iter().any(|h| h.version == Version::V1);
        let has_v2 = hierarchies.iter().any(|h| h.version == Version::V2);
        let layout = match (has_v1, has_v2) {
            (true, true) => Layout::Hybrid,
            (true, false) => Layout::Legacy,
            (false, true) => Layout::Unified,
            (false, false) => Layout::None,
        };

        let systemd_running = fs.exists(Path::new("/run/systemd/system"));
        // Where systemd runs, a scope may be started: systemd-run is looked for on the
        // PATH. Elsewhere it only adds a hint to an error, and the usual places do
        // (every run detects: a dozen failed lookups along the PATH are not free).
        let mut search: Vec<PathBuf> = if systemd_running {
            std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).collect())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        search.extend(["/usr/bin", "/bin"].map(PathBuf::from));
        let systemd_run = search
            .into_iter()
            .map(|dir| dir.join("systemd-run"))
            .find(|p| p.is_absolute() && fs.exists(p));

        Ok(Detection {
            layout,
            hierarchies,
            problems,
            systemd_running,
            systemd_run,
        })
    }

    /// The hierarchy that provides `controller` beneath our cgroup: a v1 hierarchy bound
    /// to it, else the v2 hierarchy if our cgroup may hand it on.
    pub fn hierarchy_for(&self, controller: Controller) -> Option<&Hierarchy> {
        self.hierarchies.iter().find(|h| h.offers(controller))
    }

    /// The v2 hierarchy, with or without controllers.
    pub fn v2(&self) -> Option<&Hierarchy> {
        self.hierarchies.iter().find(|h| h.version == Version::V2)
    }

    /// Why no hierarchy provides `controller`, in words.
    pub fn why_missing(&self, controller: Controller) -> String {
        let mut reason = format!(
            "no cgroup v1 hierarchy has the {} controller",
            controller.v1_name()
        );
        match (self.v2(), controller.v2_name()) {
            (Some(v2), Some(name)) => reason.push_str(&format!(
                ", and the cgroup v2 hierarchy does not offer {name} to our cgroup {} \
                 (its cgroup.controllers: {})",
                v2.own_dir.display(),
                if v2.controllers.is_empty() {
                    String::from("none")
                } else {
                    v2.controllers.join(" ")
                }
            )),
            (None, _) => reason.push_str(", and no cgroup v2 hierarchy is mounted"),
            (Some(_), None) => {}
        }
        reason
    }

    /// Whether a systemd transient scope (`systemd-run --scope`) could give phantom a
    /// cgroup of its own here.
    pub fn systemd_scope_possible(&self) -> bool {
        self.systemd_running && self.systemd_run.is_some()
    }
}

impl fmt::Display for Detection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let layout = match self.layout {
            Layout::Unified => "unified (cgroup v2 only)",
            Layout::Legacy => "legacy (cgroup v1 only)",
            Layout::Hybrid => "hybrid (controllers on cgroup v1, plus a cgroup v2 hierarchy)",
            Layout::None => "none usable",
        };
        writeln!(f, "cgroup layout: {layout}")?;
        for h in &self.hierarchies {
            let controllers = if h.controllers.is_empty() {
                String::from("no controllers")
            } else {
                h.controllers.join(",")
            };
            write!(
                f,
                "  {} [{controllers}] mounted at {}{}; our cgroup {} = {}",
                h.version,
                h.mount_point.display(),
                if h.read_only { " (read-only)" } else { "" },
                h.own_path,
                h.own_dir.display()
            )?;
            if h.version == Version::V2 {
                write!(f, "; subtree_control: [{}]", h.subtree_control.join(" "))?;
            }
            writeln!(f)?;
        }
        for p in &self.problems {
            writeln!(f, "  unusable: {p}")?;
        }
        for c in [
            Controller::Memory,
            Controller::Cpu,
            Controller::Pids,
            Controller::Io,
        ] {
            match self.hierarchy_for(c) {
                Some(h) => writeln!(f, "  {:?}: {} at {}", c, h.version, h.own_dir.display())?,
                None => writeln!(f, "  {:?}: missing ({})", c, self.why_missing(c))?,
            }
        }
        write!(
            f,
            "  systemd: {}; systemd-run: {}",
            if self.systemd_running {
                "running"
            } else {
                "not running"
            },
            self.systemd_run.as_ref().map_or_else(
                || String::from("not installed"),
                |p| p.display().to_string()
            )
        )
    }
}

/// One line of `/proc/self/cgroup`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CgroupLine {
    pub id: u32,
    pub controllers: Vec<String>,
    pub path: String,
}

/// Parses `/proc/self/cgroup`. Malformed lines are skipped.
pub(crate) fn parse_proc_cgroup(text: &str) -> Vec<CgroupLine> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let id = parts.next()?.trim().parse().ok()?;
            let controllers = parts.next()?;
            let path = parts.next()?;
            // A cgroup removed under us is shown with this suffix.
            let path = path.strip_suffix(" (deleted)").unwrap_or(path);
            if !path.starts_with('/') {
                return None;
            }
            Some(CgroupLine {
                id,
                controllers: controllers
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(String::from)
                    .collect(),
                path: path.to_owned(),
            })
        })
        .collect()
}

impl CgroupLine {
    /// The controllers of its hierarchy, without a `name=` of a named hierarchy (none
    /// on v2's line).
    fn v1_controllers(&self) -> Vec<String> {
        self.controllers
            .iter()
            .filter(|c| !c.starts_with("name="))
            .cloned()
            .collect()
    }
}

/// One cgroup mount from `/proc/self/mountinfo`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CgroupMount {
    pub version: Version,
    pub root: String,
    pub mount_point: PathBuf,
    /// Super options (v1: the controllers, `name=…`, flags).
    pub options: Vec<String>,
    pub read_only: bool,
}

impl CgroupMount {
    /// Whether it is a mount of the v1 hierarchy that has `controllers`.
    fn shows_v1(&self, controllers: &[String]) -> bool {
        self.version == Version::V1 && controllers.iter().all(|c| self.options.contains(c))
    }
}

/// Parses the cgroup mounts of `/proc/self/mountinfo`:
/// `ID PARENT MAJ:MIN ROOT MOUNT_POINT MOUNT_OPTIONS [OPTIONAL…] - FSTYPE SOURCE SUPER_OPTIONS`.
pub(crate) fn parse_mountinfo(text: &str) -> Vec<CgroupMount> {
    text.lines()
        .filter_map(|line| {
            // The filesystem type first: this runs before every cold start, and most
            // lines are not cgroups (`contains` is a vectorised search).
            if !line.contains(" - cgroup") {
                return None;
            }
            let (left, right) = split_at_separator(line)?;
            let mut right = right.split(' ');
            let version = match right.next()? {
                "cgroup" => Version::V1,
                "cgroup2" => Version::V2,
                _ => return None,
            };
            let mut fields = left.split(' ').skip(3);
            let root = unescape(fields.next()?);
            let mount_point = PathBuf::from(unescape(fields.next()?));
            let mount_options = fields.next()?;
            let _source = right.next();
            let options: Vec<String> = right
                .next()
                .unwrap_or("")
                .split(',')
                .map(String::from)
                .collect();
            let read_only =
                mount_options.split(',').any(|o| o == "ro") || options.iter().any(|o| o == "ro");
            Some(CgroupMount {
                version,
                root,
                mount_point,
                options,
                read_only,
            })
        })
        .collect()
}

/// A mountinfo line split at the ` - ` that ends its optional fields. (The fields
/// before it escape their spaces, so the first one is the separator; found with a byte
/// search, which `str::split_once` makes a substring search of.)
fn split_at_separator(line: &str) -> Option<(&str, &str)> {
    let bytes = line.as_bytes();
    let at = bytes.windows(3).position(|w| w == b" - ")?;
    Some((line.get(..at)?, line.get(at + 3..)?))
}

/// Undoes mountinfo's octal escapes (`\040` for a space, `\011`, `\012`, `\134`).
fn unescape(field: &str) -> String {
    if !field.contains('\\') {
        return field.to_owned();
    }
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'\\' {
            if let Some(digits) = bytes.get(i + 1..i + 4) {
                if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                    let value = digits
                        .iter()
                        .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                    if let Ok(byte) = u8::try_from(value) {
                        out.push(byte);
                        i += 4;
                        continue;
                    }
                }
            }
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `path` relative to a mount's `root`, if the mount shows it.
fn relative(path: &str, root: &str) -> Option<PathBuf> {
    let rel = Path::new(path).strip_prefix(Path::new(root)).ok()?;
    // Kernel paths have no `..`; refuse anything that would leave the mount anyway.
    if rel
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)))
    {
        Some(rel.to_path_buf())
    } else {
        None
    }
}
