//! The stdlib profiles, embedded so that `extends "python-dev"` works anywhere.
//!
//! The files live in `stdlib-profiles/` at the top of the repository; this module is
//! the only place that knows where. `syscall-sets.pfp` is the prelude: its sets are
//! visible to every policy.

/// The prelude's name, as shown in diagnostics.
pub const PRELUDE_NAME: &str = "<stdlib>/syscall-sets.pfp";
pub const PRELUDE: &str = include_str!("../../../stdlib-profiles/syscall-sets.pfp");

/// `(name, source)` of every stdlib profile.
pub const PROFILES: &[(&str, &str)] = &[
    ("base", include_str!("../../../stdlib-profiles/base.pfp")),
    (
        "minimal",
        include_str!("../../../stdlib-profiles/minimal.pfp"),
    ),
    ("shell", include_str!("../../../stdlib-profiles/shell.pfp")),
    (
        "python-dev",
        include_str!("../../../stdlib-profiles/python-dev.pfp"),
    ),
    (
        "node-dev",
        include_str!("../../../stdlib-profiles/node-dev.pfp"),
    ),
    (
        "go-dev",
        include_str!("../../../stdlib-profiles/go-dev.pfp"),
    ),
    (
        "rust-dev",
        include_str!("../../../stdlib-profiles/rust-dev.pfp"),
    ),
];

pub fn profile(name: &str) -> Option<&'static str> {
    PROFILES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, src)| *src)
}

pub fn names() -> impl Iterator<Item = &'static str> {
    PROFILES.iter().map(|(n, _)| *n)
}

/// How a stdlib profile is shown in diagnostics.
pub fn display_name(name: &str) -> String {
    format!("<stdlib>/{name}.pfp")
}

/// Whether an `extends` target names a stdlib profile rather than a file.
pub fn is_stdlib_reference(target: &str) -> bool {
    !target.contains('/') && !target.ends_with(".pfp")
}
