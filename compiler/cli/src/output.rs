//! Writing what phantomc makes (a formatted policy, a bundle) without ever leaving a
//! file cut off.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// Writes `bytes` to `path` through a temporary file beside it, renamed over it: a full
/// disk or a crash midway leaves the old file whole (`phantomc fmt` once truncated a
/// policy on a full disk and lost it). A file replaced keeps its permissions. What is
/// not a regular file (`/dev/null`, a FIFO) is written in place.
pub fn write_replacing(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let existing = std::fs::metadata(path).ok();
    if existing.as_ref().is_some_and(|m| !m.is_file()) {
        return std::fs::write(path, bytes)
            .with_context(|| format!("cannot write `{}`", path.display()));
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let cannot = || format!("cannot write `{}`", path.display());
    let mut file = tempfile::Builder::new()
        .prefix(".phantomc-")
        .tempfile_in(dir)
        .with_context(cannot)?;
    file.write_all(bytes).with_context(cannot)?;
    file.as_file().sync_all().with_context(cannot)?;
    if let Some(meta) = existing {
        std::fs::set_permissions(file.path(), meta.permissions()).with_context(cannot)?;
    }
    file.persist(path)
        .map_err(|e| e.error)
        .with_context(cannot)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_replaced_whole_keeping_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.pfp");
        std::fs::write(&path, "old").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        }
        write_replacing(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o640);
        }
        // Nothing left beside it.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        write_replacing(Path::new("/dev/null"), b"x").unwrap();
    }
}
