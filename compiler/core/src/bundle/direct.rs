//! Direct mode's lowering: no mount plan; the policy's filesystem entries become
//! Landlock rules on host paths, which is the filesystem layer in this mode.

use phantom_bundle as pfb;

use crate::policy::{FsEntry, FsKind, Network};

/// Everything readable and executable; writable only what the policy makes writable
/// (binds marked `rw` at their host source, its scratch tmpfs at the same host path,
/// the devices of a `dev` entry). A network of `none` refuses every TCP connect and bind.
pub fn landlock(entries: &[FsEntry], network: &Network) -> pfb::Landlock {
    let mut paths = vec![pfb::LandlockPath {
        path: "/".into(),
        access: pfb::Access::ReadExecute,
    }];
    let mut writable = |path: &str| {
        if !paths.iter().any(|p| p.path == path) {
            paths.push(pfb::LandlockPath {
                path: path.to_string(),
                access: pfb::Access::ReadWrite,
            });
        }
    };
    for entry in entries {
        match &entry.kind {
            FsKind::Bind {
                source,
                writable: true,
                ..
            } => writable(&source.0),
            FsKind::Tmpfs { .. } => writable(&entry.target.0),
            FsKind::Dev => pfb::paths::DEVICES.iter().for_each(|d| writable(d)),
            _ => {}
        }
    }
    let (restrict_net, connect_ports, bind_ports) = match network {
        Network::None => (true, Vec::new(), Vec::new()),
        Network::Filtered { connect, bind } => (true, connect.clone(), bind.clone()),
        Network::Host => (false, Vec::new(), Vec::new()),
    };
    pfb::Landlock {
        paths,
        restrict_net,
        connect_ports,
        bind_ports,
    }
}

/// A path of the sandbox's view as the host sees it (see `pfb::paths::host_path`).
pub fn host_path(entries: &[FsEntry], path: &str) -> String {
    let binds = entries.iter().filter_map(|e| match &e.kind {
        FsKind::Bind { source, .. } => Some((e.target.0.as_str(), source.0.as_str())),
        _ => None,
    });
    pfb::paths::host_path(binds, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Origin, PathTemplate};

    fn bind(target: &str, source: &str, writable: bool) -> FsEntry {
        FsEntry {
            target: PathTemplate(target.into()),
            kind: FsKind::Bind {
                source: PathTemplate(source.into()),
                writable,
                optional: false,
            },
            origin: Origin {
                file: crate::source::FileId(0),
                span: pfp_syntax::Span::default(),
            },
        }
    }

    #[test]
    fn paths_under_a_bind_map_to_its_source() {
        let entries = [
            bind("/workspace", "${workspace}", true),
            bind("/workspace/data", "/srv/data", false),
        ];
        assert_eq!(host_path(&entries, "/workspace"), "${workspace}");
        assert_eq!(host_path(&entries, "/workspace/src"), "${workspace}/src");
        assert_eq!(host_path(&entries, "/workspace/data/x"), "/srv/data/x");
    }

    #[test]
    fn only_writable_binds_become_writable_rules() {
        let entries = [
            bind("/workspace", "${workspace}", true),
            bind("/usr", "/usr", false),
        ];
        let rules = landlock(&entries, &Network::None);
        let writable: Vec<_> = rules
            .paths
            .iter()
            .filter(|p| p.access == pfb::Access::ReadWrite)
            .map(|p| p.path.as_str())
            .collect();
        assert_eq!(writable, ["${workspace}"]);
        assert!(rules.restrict_net && rules.connect_ports.is_empty());
    }
}
