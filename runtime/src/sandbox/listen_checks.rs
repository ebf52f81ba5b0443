//! `listen` under a filtered network with ports to bind (`network { bind [...] }`).
//!
//! Landlock checks the port a socket is bound to with `bind`, but `listen` on a socket
//! never bound takes an ephemeral port on every interface of the host, which no
//! Landlock rule sees. (Without ports to bind, the `network-filtered-no-bind.pfp`
//! overlay refuses `listen` outright.) So phantom supervises `listen` itself: the
//! workload stacks a second, small seccomp filter that leaves `listen` to a supervisor
//! (`seccomp::listen_supervision`), and hands its listener to phantom as it would to a
//! seccomp agent ([`super::sys::Courier`]). For each call phantom takes a copy of the
//! caller's socket (`pidfd_getfd`, through a pidfd for the calling thread), refuses it
//! (EACCES) if it is an IPv4 or IPv6 socket bound to no port, and otherwise makes the
//! call itself, on that copy, and answers with its result. Acting on the socket it
//! checked, not letting the call go on, leaves no moment between the check and the
//! call for another thread to swap the descriptor.
//!
//! Two consequences of phantom making the call, and what is done about them:
//! - a Unix socket records who called `listen`, and its clients read that
//!   (`SO_PEERCRED`): as root, phantom calls it with the sandbox's user as its
//!   effective ids, so they read that user's, as without these checks (the pid they
//!   read is phantom's);
//! - the copy may be the socket's last reference (another thread of the workload
//!   closed its own meanwhile), and closing a TCP socket with `SO_LINGER` set and data
//!   unsent waits until it is sent: the copies are closed by a thread of their own
//!   ([`Closer`]), never by phantom's loop, whose timeout must keep working.
//!
//! Not here: the ports themselves (Landlock's), and any other call. A bundle whose
//! filter has `notify` rules of its own cannot have these checks too (the kernel
//! allows one supervisor); such a run is refused. phantom's answers cost it about
//! 10 µs of CPU each, outside the sandbox's cgroup.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::mpsc;

use phantom_bundle::Bundle;

use super::identity::HostIdentity;
use super::sys;

/// Whether a run of `bundle` needs its `listen` calls supervised.
pub(super) fn wanted(bundle: &Bundle) -> bool {
    bundle.landlock.restrict_net && !bundle.landlock.bind_ports.is_empty()
}

/// A run's supervision of `listen`.
pub(super) struct ListenChecks {
    /// The listener of the workload's small filter.
    listener: OwnedFd,
    /// Who the sandbox's user is on the host.
    host: HostIdentity,
    /// Started at the first copy to close.
    closer: Option<Closer>,
}

impl ListenChecks {
    pub(super) fn new(listener: OwnedFd, host: HostIdentity) -> ListenChecks {
        ListenChecks {
            listener,
            host,
            closer: None,
        }
    }

    pub(super) fn listener(&self) -> &OwnedFd {
        &self.listener
    }

    /// Reads and answers one notification. Errors of phantom's own (the caller gone
    /// meanwhile, say) end only that call.
    pub(super) fn answer(&mut self) {
        let Ok(call) = sys::seccomp_notif_recv(self.listener.as_raw_fd()) else {
            return;
        };
        let errno = match self.checked_listen(&call) {
            Ok(()) => 0,
            Err(e) => e.raw_os_error().unwrap_or(libc::EACCES),
        };
        let _ = sys::seccomp_notif_answer(self.listener.as_raw_fd(), call.id, 0, errno);
    }

    /// `listen(fd, backlog)` for the caller, unless `fd` is an unbound IPv4/IPv6 socket.
    fn checked_listen(&mut self, call: &sys::Notification) -> io::Result<()> {
        // `int` arguments: the low 32 bits, as the kernel takes them.
        let [fd, backlog, ..] = call.args;
        let fd = fd as u32 as i32;
        let backlog = backlog as u32 as i32;
        let pidfd = sys::pidfd_open_thread(call.pid)?;
        // The id was the caller's when the notification was read; still waiting, the
        // caller is alive, so the pidfd is its.
        if !sys::seccomp_notif_valid(self.listener.as_raw_fd(), call.id) {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        }
        let socket = sys::pidfd_getfd(&pidfd, fd)?;
        let result = self.listen_on(&socket, backlog);
        self.close(socket);
        result
    }

    fn listen_on(&self, socket: &OwnedFd, backlog: i32) -> io::Result<()> {
        if sys::inet_socket_unbound(socket)? {
            return Err(io::Error::from_raw_os_error(libc::EACCES));
        }
        if sys::uid() == 0 && self.host.uid != 0 {
            sys::as_effective_ids(self.host.uid, self.host.gid, || {
                sys::listen(socket, backlog)
            })?
        } else {
            sys::listen(socket, backlog)
        }
    }

    fn close(&mut self, socket: OwnedFd) {
        if self.closer.is_none() {
            self.closer = Closer::start();
        }
        match &self.closer {
            Some(closer) => closer.close(socket),
            // No thread to be had: closed here, as a last resort.
            None => drop(socket),
        }
    }
}

/// A thread that closes what it is sent, so that a close that waits (a lingering
/// TCP socket's last reference) keeps only it waiting. It ends with phantom (a process
/// that exits does not linger on its sockets).
struct Closer(mpsc::Sender<OwnedFd>);

impl Closer {
    fn start() -> Option<Closer> {
        let (sender, receiver) = mpsc::channel::<OwnedFd>();
        std::thread::Builder::new()
            .name("phantom-closer".into())
            .spawn(move || receiver.into_iter().for_each(drop))
            .ok()?;
        Some(Closer(sender))
    }

    fn close(&self, socket: OwnedFd) {
        if let Err(unsent) = self.0.send(socket) {
            drop(unsent.0);
        }
    }
}
