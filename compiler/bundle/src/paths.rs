//! Paths of a sandbox's view as the host sees them, for the lowerings that have no
//! mount namespace: direct mode (in the compiler) and the Landlock-only fallback where
//! user namespaces are unavailable (in the runtime).

/// The device files a `dev` entry lets a workload without its own `/dev` (direct mode,
/// the Landlock-only fallback) write. Not `/dev/pts`: on the host's view that would
/// open the user's other terminals to it.
pub const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/tty",
    "/dev/shm",
];

/// `path` of the sandbox's view as the host sees it, given the binds as
/// `(target, source)`: under a bind's target, the same place under its source
/// (`/workspace/src` is `${workspace}/src`; the deepest bind wins); elsewhere itself.
pub fn host_path<'a>(binds: impl IntoIterator<Item = (&'a str, &'a str)>, path: &str) -> String {
    let mut best: Option<(usize, String)> = None;
    for (target, source) in binds {
        let rest = if target == "/" {
            Some(path.strip_prefix('/').unwrap_or(path))
        } else {
            path.strip_prefix(target)
                .filter(|r| r.is_empty() || r.starts_with('/'))
                .map(|r| r.trim_start_matches('/'))
        };
        let Some(rest) = rest else { continue };
        if best.as_ref().is_none_or(|(len, _)| target.len() > *len) {
            let mapped = if rest.is_empty() {
                source.to_string()
            } else {
                format!("{}/{rest}", source.trim_end_matches('/'))
            };
            best = Some((target.len(), mapped));
        }
    }
    best.map_or_else(|| path.to_string(), |(_, p)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_under_a_bind_map_to_its_source() {
        let binds = [
            ("/workspace", "${workspace}"),
            ("/workspace/data", "/srv/data"),
        ];
        assert_eq!(host_path(binds, "/workspace"), "${workspace}");
        assert_eq!(host_path(binds, "/workspace/src"), "${workspace}/src");
        assert_eq!(host_path(binds, "/workspace/data/x"), "/srv/data/x");
        assert_eq!(host_path(binds, "/workspaces"), "/workspaces");
        assert_eq!(host_path(binds, "/"), "/");
        assert_eq!(host_path([("/", "/srv/root")], "/etc"), "/srv/root/etc");
    }
}
