//! The pure core of `phantomc`: from `.pfp` text to a checked [`Policy`].
//!
//! ```text
//! text ──lex──▶ tokens ──parse──▶ syntax tree ──resolve──▶ layers ──check──▶ Policy ──▶ back-ends
//!       (pfp-syntax)             (pfp-syntax)   (resolve)           (check)
//! ```
//!
//! Every stage goes on after an error and reports all it finds as [`Diagnostic`]s with
//! stable [`Code`]s. The core does no I/O of its own: files come through a
//! [`io::FileSystem`], and rendering is a separate step ([`render`]). It builds on any
//! OS and never calls the kernel.
//!
//! ```
//! use phantom_compiler::{check, Input, io::MemoryFs};
//!
//! let input = Input::Text {
//!     name: "demo.pfp".into(),
//!     text: "syscalls { default errno(ENOSYS)\n allow read, write }".into(),
//!     dir: ".".into(),
//! };
//! let checked = check(&input, &MemoryFs::new()).expect("the input is in memory");
//! assert!(checked.diagnostics.is_empty());
//! assert_eq!(checked.policy.map(|p| p.name), Some("demo".to_string()));
//! ```

pub mod bundle;
pub mod check;
pub mod codes;
pub mod diagnostic;
pub mod import;
pub mod io;
pub mod modes;
pub mod policy;
pub mod render;
pub mod resolve;
pub mod seccomp;
pub mod source;
pub mod stdlib;
pub mod suggest;
pub mod tables;

pub use codes::Code;
pub use diagnostic::{Diagnostic, Severity};
pub use policy::Policy;
pub use resolve::{Input, InputError};
pub use source::SourceMap;

/// The outcome of checking one policy.
#[derive(Debug)]
pub struct Checked {
    /// Every file read, for rendering the diagnostics.
    pub sources: SourceMap,
    /// Errors and warnings, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
    /// The merged policy; `None` when there is any error.
    pub policy: Option<Policy>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses, composes and checks a policy.
///
/// Fails only when the root input itself cannot be read; every other problem is a
/// diagnostic in the result.
pub fn check(input: &Input, fs: &dyn io::FileSystem) -> Result<Checked, InputError> {
    let mut sources = SourceMap::default();
    let mut diags = diagnostic::Diagnostics::default();
    let resolved = resolve::resolve(input, fs, &mut sources, &mut diags)?;
    let policy = check::check_layers(&resolved, &sources, &mut diags);
    let policy = (!diags.has_errors()).then_some(policy);
    Ok(Checked {
        sources,
        diagnostics: diags.into_sorted(),
        policy,
    })
}
