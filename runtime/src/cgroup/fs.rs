//! The only door to the kernel for the cgroup code: [`CgroupFs`].
//!
//! Everything the session does (reading `/proc/self/cgroup`, creating directories,
//! writing limit files, signalling the processes of a cgroup) goes through this trait,
//! so the logic can run against [`super::fake::FakeFs`], an in-memory model of the
//! kernel's cgroup rules, as well as against the real system ([`RealFs`]).

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// File and process operations the cgroup code needs.
///
/// Paths are absolute. Errors are the kernel's (`io::Error` with its errno), so the
/// caller can tell `EBUSY` from `EACCES` from `ENOENT`.
pub trait CgroupFs {
    /// The whole contents of a file.
    fn read(&self, path: &Path) -> io::Result<String>;
    /// Writes `data` to an existing file in one write (never creates or truncates).
    fn write(&self, path: &Path, data: &str) -> io::Result<()>;
    /// Creates one directory (its parent must exist).
    fn mkdir(&self, path: &Path) -> io::Result<()>;
    /// Removes one empty directory (for a cgroup: one without children or processes).
    fn rmdir(&self, path: &Path) -> io::Result<()>;
    /// The names of the subdirectories of `path` (for a cgroup: its child cgroups).
    fn list(&self, path: &Path) -> io::Result<Vec<String>>;
    /// Whether a file or directory exists.
    fn exists(&self, path: &Path) -> bool;
    /// Sends SIGKILL to one process. A process that is already gone is not an error.
    /// Refuses `pid <= 0` (which would mean a process group or every process).
    fn kill(&self, pid: i32) -> io::Result<()>;
    /// Whether a process with this id exists (zombies included).
    fn process_exists(&self, pid: i32) -> bool;
    /// The effective user id of this process (for the advice in error messages).
    fn euid(&self) -> u32;
    /// Waits a little (while processes exit or a freezer settles).
    fn sleep(&self, duration: Duration);
}

impl<T: CgroupFs + ?Sized> CgroupFs for &T {
    fn read(&self, path: &Path) -> io::Result<String> {
        (**self).read(path)
    }
    fn write(&self, path: &Path, data: &str) -> io::Result<()> {
        (**self).write(path, data)
    }
    fn mkdir(&self, path: &Path) -> io::Result<()> {
        (**self).mkdir(path)
    }
    fn rmdir(&self, path: &Path) -> io::Result<()> {
        (**self).rmdir(path)
    }
    fn list(&self, path: &Path) -> io::Result<Vec<String>> {
        (**self).list(path)
    }
    fn exists(&self, path: &Path) -> bool {
        (**self).exists(path)
    }
    fn kill(&self, pid: i32) -> io::Result<()> {
        (**self).kill(pid)
    }
    fn process_exists(&self, pid: i32) -> bool {
        (**self).process_exists(pid)
    }
    fn euid(&self) -> u32 {
        (**self).euid()
    }
    fn sleep(&self, duration: Duration) {
        (**self).sleep(duration)
    }
}

/// The real system: files under the cgroup mounts and `/proc`, `kill(2)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealFs;

impl CgroupFs for RealFs {
    fn read(&self, path: &Path) -> io::Result<String> {
        // Kernel files say their size is 0, so `fs::read_to_string` would ask for the
        // size and position first, then start from a 32-byte probe and double: a
        // dozen calls for /proc/self/mountinfo. A page to start with (grown as
        // needed), read through `Take` (which asks for no size), takes most in one.
        let mut text = String::with_capacity(4096);
        fs::File::open(path)?
            .take(u64::MAX)
            .read_to_string(&mut text)?;
        Ok(text)
    }

    fn write(&self, path: &Path, data: &str) -> io::Result<()> {
        // cgroup files take one value per write(2); the data is short, so write_all is
        // one call in practice, and a short write would be reported as an error.
        let mut file = OpenOptions::new().write(true).open(path)?;
        file.write_all(data.as_bytes())
    }

    fn mkdir(&self, path: &Path) -> io::Result<()> {
        fs::create_dir(path)
    }

    fn rmdir(&self, path: &Path) -> io::Result<()> {
        fs::remove_dir(path)
    }

    fn list(&self, path: &Path) -> io::Result<Vec<String>> {
        list_subdirectories(path)
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn kill(&self, pid: i32) -> io::Result<()> {
        if pid <= 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        match kill(Pid::from_raw(pid), Signal::SIGKILL) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
            Err(errno) => Err(io::Error::from_raw_os_error(errno as i32)),
        }
    }

    fn process_exists(&self, pid: i32) -> bool {
        if pid <= 0 {
            return false;
        }
        // Signal 0 checks for existence; EPERM means it exists but is not ours.
        !matches!(
            kill(Pid::from_raw(pid), None),
            Err(nix::errno::Errno::ESRCH)
        )
    }

    fn euid(&self) -> u32 {
        nix::unistd::geteuid().as_raw()
    }

    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// The names of the subdirectories of `path`, sorted. Read with getdents64 into a
/// buffer on the stack: libc's `opendir` (under `fs::read_dir`) allocates its buffer
/// through musl's own malloc, which maps a fresh page for it and unmaps it again at
/// `closedir` — a page fault and two system calls per directory, and the stale-cgroup
/// sweep lists one directory per hierarchy on every run.
fn list_subdirectories(path: &Path) -> io::Result<Vec<String>> {
    use rustix::fs::{FileType, Mode, OFlags, RawDir};
    use std::mem::MaybeUninit;
    let dir = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
    let mut entries = RawDir::new(&dir, &mut buf);
    let mut names = Vec::new();
    while let Some(entry) = entries.next() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let is_dir = match entry.file_type() {
            FileType::Directory => true,
            // A file system that does not say (cgroupfs always does): ask.
            FileType::Unknown => rustix::fs::statat(
                &dir,
                entry.file_name(),
                rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
            )
            .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory),
            _ => false,
        };
        if let (true, Ok(name)) = (is_dir, std::str::from_utf8(name)) {
            names.push(name.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_names_the_subdirectories_alone_sorted() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b-dir", "a-dir", "c-dir"] {
            fs::create_dir(dir.path().join(name)).unwrap();
        }
        fs::write(dir.path().join("a-file"), "").unwrap();
        std::os::unix::fs::symlink("a-dir", dir.path().join("a-link")).unwrap();
        // More entries than one getdents64 call returns into the buffer.
        for i in 0..300 {
            fs::create_dir(dir.path().join(format!("many-{i:03}-{}", "x".repeat(40)))).unwrap();
        }
        let names = RealFs.list(dir.path()).unwrap();
        assert_eq!(names.len(), 303);
        assert_eq!(&names[..3], ["a-dir", "b-dir", "c-dir"]);
        assert!(names.windows(2).all(|w| w[0] < w[1]));
        assert!(!names
            .iter()
            .any(|n| n == "a-file" || n == "a-link" || n == "." || n == ".."));
    }

    #[test]
    fn listing_a_missing_directory_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let e = RealFs.list(&dir.path().join("gone")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }
}
