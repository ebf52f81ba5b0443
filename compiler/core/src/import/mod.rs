//! Importing profiles written for other sandboxes as `.pfp` text.
//!
//! An importer reads a foreign format and prints a `.pfp` policy in canonical style
//! (the output of `phantomc fmt`), with a header comment that says where it came from
//! and what could not be carried over. It never reads files itself: the caller hands
//! it the text, as everywhere in this crate.
//!
//! * [`docker`]: Docker/OCI seccomp JSON profiles (`phantomc import docker-seccomp`).
//! * [`config_yaml`]: the profiles of the runtime's YAML configuration file
//!   (`phantomc import config-yaml`).

pub mod config_yaml;
pub mod docker;

pub use docker::{docker_to_pfp, DockerImportOptions, ImportError};

/// The result of an import: the policy text, and what was left out or changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    /// A `.pfp` policy in canonical style; `phantomc check` accepts it.
    pub text: String,
    /// One sentence per thing the import left out or wrote differently, and why. The
    /// header comment of `text` lists them too.
    pub notes: Vec<String>,
}

/// For the importers' tests: `text` checks with no diagnostic at all and is already in
/// canonical style; its policy.
#[cfg(test)]
#[allow(clippy::expect_used, clippy::panic, reason = "test code")]
pub(crate) fn checked_clean(text: &str, dir: &str) -> crate::Policy {
    let input = crate::Input::Text {
        name: "imported.pfp".into(),
        text: text.into(),
        dir: dir.into(),
    };
    let checked = crate::check(&input, &crate::io::MemoryFs::new()).expect("in memory");
    assert!(
        checked.diagnostics.is_empty(),
        "{}\n{text}",
        crate::render::to_string(&checked.sources, &checked.diagnostics)
    );
    assert_eq!(
        pfp_syntax::format::format(text).as_deref(),
        Ok(text),
        "not canonical"
    );
    checked.policy.expect("no errors, so a policy")
}
