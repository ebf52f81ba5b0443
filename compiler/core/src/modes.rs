//! The three modes (direct, sandbox, hardened): what each adds to a policy.
//!
//! A mode is applied at compile time, in two parts, so the bundle is the whole truth
//! and `phantom profile show NAME --mode M` can print it:
//! - an **overlay**, a `.pfp` layer from `stdlib-profiles/modes/` laid on top of the
//!   policy, for what is policy text (syscall rules, the network);
//! - a **tightening** of the checked [`Policy`], for what depends on the policy's own
//!   values (limits lowered to a ceiling, writable binds made read-only).
//!
//! Sandbox mode is the policy as written, but for a filtered network's overlay
//! ([`overlay`]). docs/modes.md is the user-facing account; keep the two in step.

use crate::diagnostic::Diagnostics;
use crate::io::FileSystem;
use crate::policy::{FsKind, Limit, Network, Policy};
use crate::resolve::{self, Input, InputError, Overlay};
use crate::source::SourceMap;
use crate::Checked;

pub use phantom_bundle::Mode;

/// An overlay of `stdlib-profiles/modes/`, embedded, named as diagnostics show it.
macro_rules! overlay {
    ($file:literal) => {
        Overlay {
            name: concat!("<stdlib>/modes/", $file),
            text: include_str!(concat!("../../../stdlib-profiles/modes/", $file)),
        }
    };
}

const HARDENED: Overlay = overlay!("hardened.pfp");
const DIRECT_OFFLINE: Overlay = overlay!("direct-offline.pfp");
const NETWORK_FILTERED: Overlay = overlay!("network-filtered.pfp");
const NETWORK_FILTERED_NO_BIND: Overlay = overlay!("network-filtered-no-bind.pfp");

/// Every overlay, for fingerprinting what the compiler embeds.
pub const OVERLAYS: [Overlay; 4] = [
    HARDENED,
    DIRECT_OFFLINE,
    NETWORK_FILTERED,
    NETWORK_FILTERED_NO_BIND,
];

/// Hardened mode's ceilings: a limit above one (or unlimited) is lowered to it.
pub mod hardened {
    pub const MEMORY: u64 = 1 << 30;
    pub const PIDS: u64 = 256;
    pub const TIMEOUT_MS: u64 = 5 * 60 * 1000;
    /// Thousandths of a CPU.
    pub const CPU_MILLIS: u64 = 2000;
    pub const TMP_SIZE: u64 = 256 << 20;
    pub const OPEN_FILES: u64 = 1024;
    pub const FILE_SIZE: u64 = 512 << 20;
    /// The only targets that stay writable besides binds of the workspace.
    pub const WRITABLE_TMPFS: &[&str] = &["/tmp"];
}

/// The overlay `mode` lays on a policy whose network (before the overlay) is `network`.
/// A filtered network gets one in every mode that keeps it: Landlock, which filters
/// it, governs TCP alone, so other IPv4 and IPv6 sockets are refused.
pub fn overlay(mode: Mode, network: &Network) -> Option<Overlay> {
    match (mode, network) {
        // Its network becomes `none`.
        (Mode::Hardened, _) => Some(HARDENED),
        // Without a port to bind, no listening either: Landlock does not see the port
        // listen() picks for a socket never bound.
        (_, Network::Filtered { bind, .. }) if bind.is_empty() => Some(NETWORK_FILTERED_NO_BIND),
        (_, Network::Filtered { .. }) => Some(NETWORK_FILTERED),
        (Mode::Sandbox, _) => None,
        // Direct mode has no network namespace: "no network" becomes a socket rule.
        (Mode::Direct, network) => (*network == Network::None).then_some(DIRECT_OFFLINE),
    }
}

/// [`crate::check`] in a mode: the policy, its mode's overlay, then the tightening.
///
/// The overlay depends on the policy's network, so a policy that needs one is checked
/// twice (a fraction of a millisecond; bundles are cached by the runtime).
pub fn check(input: &Input, fs: &dyn FileSystem, mode: Mode) -> Result<Checked, InputError> {
    let plain = crate::check(input, fs)?;
    let Some((network, name)) = plain
        .policy
        .as_ref()
        .map(|p| (p.network.clone(), p.name.clone()))
    else {
        return Ok(plain);
    };
    let Some(layer) = overlay(mode, &network) else {
        return Ok(tightened(plain, mode));
    };
    let mut sources = SourceMap::default();
    let mut diags = Diagnostics::default();
    let resolved = resolve::resolve_with_overlay(input, Some(layer), fs, &mut sources, &mut diags)?;
    let mut policy = crate::check::check_layers(&resolved, &sources, &mut diags);
    // The overlay has no name of its own; without this it would lend its file's.
    policy.name = name;
    let policy = (!diags.has_errors()).then_some(policy);
    Ok(tightened(
        Checked {
            sources,
            diagnostics: diags.into_sorted(),
            policy,
        },
        mode,
    ))
}

fn tightened(mut checked: Checked, mode: Mode) -> Checked {
    if let Some(policy) = &mut checked.policy {
        tighten(policy, mode);
    }
    checked
}

/// The part of a mode that depends on the policy's values.
pub fn tighten(policy: &mut Policy, mode: Mode) {
    if mode != Mode::Hardened {
        return;
    }
    let r = &mut policy.resources;
    let ceiling = |limit: &mut Option<Limit>, max: u64| {
        *limit = Some(match *limit {
            Some(Limit::Value(v)) => Limit::Value(v.min(max)),
            Some(Limit::Unlimited) | None => Limit::Value(max),
        });
    };
    ceiling(&mut r.memory, hardened::MEMORY);
    r.swap = Some(Limit::Value(0));
    ceiling(&mut r.pids, hardened::PIDS);
    ceiling(&mut r.timeout_ms, hardened::TIMEOUT_MS);
    ceiling(&mut r.cpu_millis, hardened::CPU_MILLIS);
    ceiling(&mut r.tmp_size, hardened::TMP_SIZE);
    ceiling(&mut r.open_files, hardened::OPEN_FILES);
    ceiling(&mut r.file_size, hardened::FILE_SIZE);
    policy.network = Network::None;
    for entry in &mut policy.filesystem {
        match &mut entry.kind {
            FsKind::Bind {
                source, writable, ..
            } if !source.0.starts_with("${workspace}") => *writable = false,
            FsKind::Tmpfs { mode, .. }
                if !hardened::WRITABLE_TMPFS.contains(&entry.target.0.as_str()) =>
            {
                // Scratch space other than /tmp becomes an empty read-only directory.
                entry.kind = FsKind::Dir {
                    mode: *mode & 0o555,
                };
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::MemoryFs;
    use crate::policy::Action;
    use crate::tables::Arch;

    fn checked(name: &str, mode: Mode) -> Policy {
        let c = check(&Input::Stdlib(name.into()), &MemoryFs::new(), mode).expect("stdlib");
        assert!(!c.has_errors(), "{name} in {mode:?}: {:#?}", c.diagnostics);
        c.policy.expect("policy")
    }

    #[test]
    fn every_stdlib_profile_checks_in_every_mode() {
        for name in crate::stdlib::names() {
            for mode in Mode::ALL {
                checked(name, mode);
            }
        }
    }

    #[test]
    fn a_filtered_network_gets_its_overlay_in_every_mode_that_keeps_it() {
        let filtered = Network::Filtered {
            connect: vec![443],
            bind: Vec::new(),
        };
        let name = |mode, network: &Network| overlay(mode, network).map(|o| o.name);
        assert_eq!(
            name(Mode::Sandbox, &filtered),
            Some(NETWORK_FILTERED_NO_BIND.name)
        );
        assert_eq!(
            name(Mode::Direct, &filtered),
            Some(NETWORK_FILTERED_NO_BIND.name)
        );
        let serving = Network::Filtered {
            connect: Vec::new(),
            bind: vec![8080],
        };
        assert_eq!(name(Mode::Sandbox, &serving), Some(NETWORK_FILTERED.name));
        // Hardened mode's network is none.
        assert_eq!(name(Mode::Hardened, &filtered), Some(HARDENED.name));
        assert_eq!(name(Mode::Sandbox, &Network::None), None);
        assert_eq!(name(Mode::Sandbox, &Network::Host), None);
        assert_eq!(
            name(Mode::Direct, &Network::None),
            Some(DIRECT_OFFLINE.name)
        );
    }

    #[test]
    fn a_mode_keeps_the_policy_name() {
        for mode in Mode::ALL {
            assert_eq!(checked("python-dev", mode).name, "python-dev");
        }
    }

    #[test]
    fn sandbox_mode_is_the_policy_as_written() {
        let plain = crate::check(&Input::Stdlib("python-dev".into()), &MemoryFs::new())
            .expect("stdlib")
            .policy;
        assert_eq!(Some(checked("python-dev", Mode::Sandbox)), plain);
    }

    #[test]
    fn hardened_lowers_limits_and_never_raises_them() {
        let p = checked("python-dev", Mode::Hardened);
        assert_eq!(p.resources.memory, Some(Limit::Value(hardened::MEMORY)));
        assert_eq!(p.resources.pids, Some(Limit::Value(hardened::PIDS)));
        assert_eq!(
            p.resources.timeout_ms,
            Some(Limit::Value(hardened::TIMEOUT_MS))
        );
        assert_eq!(
            p.resources.cpu_millis,
            Some(Limit::Value(hardened::CPU_MILLIS))
        );
        let minimal = checked("minimal", Mode::Sandbox);
        let minimal_hardened = checked("minimal", Mode::Hardened);
        if let (Some(Limit::Value(a)), Some(Limit::Value(b))) =
            (minimal.resources.memory, minimal_hardened.resources.memory)
        {
            assert!(b <= a);
        }
    }

    #[test]
    fn hardened_keeps_only_the_workspace_writable() {
        let p = checked("rust-dev", Mode::Hardened);
        for entry in &p.filesystem {
            if let FsKind::Bind {
                source, writable, ..
            } = &entry.kind
            {
                assert_eq!(*writable, source.0.starts_with("${workspace}"), "{entry:?}");
            }
        }
        assert_eq!(p.network, Network::None);
    }

    fn verdict(p: &Policy, nr: u32, args: [u64; 6]) -> Action {
        let data = crate::seccomp::interp::SeccompData {
            nr,
            arch: Arch::X86_64.audit_arch(),
            instruction_pointer: 0,
            args,
        };
        crate::seccomp::meaning::verdict(&p.syscalls, Arch::X86_64, &data)
    }

    #[test]
    fn hardened_allows_unix_sockets_only() {
        const SOCKET: u32 = 41; // x86_64
        let (unix, inet, stream, raw) = (1, 2, 1, 3);
        let sandbox = checked("python-dev", Mode::Sandbox);
        let hardened = checked("python-dev", Mode::Hardened);
        assert_eq!(
            verdict(&sandbox, SOCKET, [inet, stream, 0, 0, 0, 0]),
            Action::Allow
        );
        assert_eq!(
            verdict(&hardened, SOCKET, [inet, stream, 0, 0, 0, 0]),
            Action::Errno(97)
        );
        assert_eq!(
            verdict(&hardened, SOCKET, [unix, stream, 0, 0, 0, 0]),
            Action::Allow
        );
        assert_ne!(
            verdict(&hardened, SOCKET, [unix, raw, 0, 0, 0, 0]),
            Action::Allow
        );
        const PERSONALITY: u32 = 135;
        assert_eq!(
            verdict(&hardened, PERSONALITY, [0, 0, 0, 0, 0, 0]),
            Action::Allow
        );
        assert_ne!(
            verdict(&hardened, PERSONALITY, [8, 0, 0, 0, 0, 0]),
            Action::Allow
        );
        let direct = checked("python-dev", Mode::Direct);
        assert_eq!(
            verdict(&direct, SOCKET, [unix, stream, 0, 0, 0, 0]),
            Action::Allow
        );
        assert_eq!(
            verdict(&direct, SOCKET, [inet, stream, 0, 0, 0, 0]),
            Action::Errno(97)
        );
    }

    /// A mode may refuse more than the profile, never less: for every stdlib profile,
    /// every syscall number and argument values around the overlays' constants, the
    /// verdict in hardened and direct mode is at least as strict as in sandbox mode.
    #[test]
    fn no_mode_is_more_permissive_than_the_profile() {
        let values: [u64; 12] = [
            0,
            1,
            2,
            3,
            5,
            10,
            16,
            17,
            0x8,
            0x40_0000,
            0xffff_ffff,
            1 << 33,
        ];
        for name in crate::stdlib::names() {
            let sandbox = checked(name, Mode::Sandbox);
            for mode in [Mode::Hardened, Mode::Direct] {
                let stricter = checked(name, mode);
                for arch in Arch::ALL {
                    for nr in crate::tables::syscalls(arch).iter().map(|s| s.nr) {
                        for &a in &values {
                            for &b in &values[..4] {
                                let data = crate::seccomp::interp::SeccompData {
                                    nr,
                                    arch: arch.audit_arch(),
                                    instruction_pointer: 0,
                                    args: [a, b, 0, 0, 0, 0],
                                };
                                let base = crate::seccomp::meaning::verdict(
                                    &sandbox.syscalls,
                                    arch,
                                    &data,
                                );
                                let now = crate::seccomp::meaning::verdict(
                                    &stricter.syscalls,
                                    arch,
                                    &data,
                                );
                                assert!(
                                    now.rank() >= base.rank(),
                                    "{name} in {mode:?} on {arch:?}: syscall {nr} args ({a:#x}, {b:#x}) is {} but the profile says {}",
                                    now.describe(),
                                    base.describe()
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_profile_that_refuses_sockets_still_refuses_them_in_hardened_mode() {
        const SOCKET: u32 = 41;
        let minimal = checked("minimal", Mode::Sandbox);
        let hardened = checked("minimal", Mode::Hardened);
        let unix = [1, 1, 0, 0, 0, 0];
        assert_eq!(
            verdict(&hardened, SOCKET, unix),
            verdict(&minimal, SOCKET, unix)
        );
        assert_ne!(verdict(&hardened, SOCKET, unix), Action::Allow);
    }

    #[test]
    fn direct_mode_restricts_sockets_only_without_a_network() {
        assert!(overlay(Mode::Direct, &Network::None).is_some());
        assert!(overlay(Mode::Direct, &Network::Host).is_none());
        assert!(overlay(Mode::Sandbox, &Network::None).is_none());
    }
}
