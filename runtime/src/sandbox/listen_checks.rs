//! `listen` under a filtered network with ports to bind (`network { bind [...] }`).
//!
//! Landlock checks the port a socket is bound to with `bind`, but `listen` on a socket
//! never bound takes an ephemeral port on every interface of the host, which no
//! Landlock rule sees. (Without ports to bind, the `network-filtered-no-bind.pfp`
//! overlay refuses `listen` outright.) So phantom supervises `listen` itself: the
//! workload stacks a second, small seccomp filter that leaves `listen` to a supervisor
//! (`seccomp::listen_supervision`), and hands its listener to phantom as it would to a
//! seccomp agent ([`super::sys::Courier`]). For each call phantom takes a copy of the
//! caller's socket (`pidfd_getfd`), refuses it (EACCES) if it is an IPv4 or IPv6 socket
//! bound to no port, and otherwise makes the call itself, on that copy, and answers
//! with its result. Acting on the socket it checked, not letting the call go on,
//! leaves no moment between the check and the call for another thread to swap the
//! descriptor.
//!
//! Not here: the ports themselves (Landlock's), and any other call. A bundle whose
//! filter has `notify` rules of its own cannot have these checks too (the kernel
//! allows one supervisor); such a run is refused.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use phantom_bundle::Bundle;

use super::sys;

/// Whether a run of `bundle` needs its `listen` calls supervised.
pub(super) fn wanted(bundle: &Bundle) -> bool {
    bundle.landlock.restrict_net && !bundle.landlock.bind_ports.is_empty()
}

/// Reads and answers one notification on `listener`. Errors of phantom's own (the
/// caller gone meanwhile, say) end only that call.
pub(super) fn answer(listener: &OwnedFd) {
    let Ok(call) = sys::seccomp_notif_recv(listener.as_raw_fd()) else {
        return;
    };
    let errno = match checked_listen(listener, &call) {
        Ok(()) => 0,
        Err(e) => e.raw_os_error().unwrap_or(libc::EACCES),
    };
    let _ = sys::seccomp_notif_answer(listener.as_raw_fd(), call.id, 0, errno);
}

/// `listen(fd, backlog)` for the caller, unless `fd` is an unbound IPv4/IPv6 socket.
fn checked_listen(listener: &OwnedFd, call: &sys::Notification) -> io::Result<()> {
    // `int` arguments: the low 32 bits, as the kernel takes them.
    let [fd, backlog, ..] = call.args;
    let fd = fd as u32 as i32;
    let backlog = backlog as u32 as i32;
    let pidfd = sys::pidfd_open(call.pid)?;
    // The pid was the caller's when the notification was read; still waiting, the
    // caller is alive, so the pidfd is its.
    if !sys::seccomp_notif_valid(listener.as_raw_fd(), call.id) {
        return Err(io::Error::from_raw_os_error(libc::ENOENT));
    }
    let socket = sys::pidfd_getfd(&pidfd, fd)?;
    if sys::inet_socket_unbound(&socket)? {
        return Err(io::Error::from_raw_os_error(libc::EACCES));
    }
    sys::listen(&socket, backlog)
}
