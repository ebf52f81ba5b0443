/* The least a sandbox with phantom's namespaces can do, for scripts/bench-exec.py.
 *
 * Clones into new user, mount, pid, ipc, uts, network and cgroup namespaces, maps the
 * caller's uid and gid to 0 inside, and execs the command as the namespace's pid 1:
 * no mounts, no root of its own, no cgroups, no init, no filter, loopback left down.
 * Built static (musl where at hand) so that no dynamic loader or C library start-up
 * is in the number. What a row of this costs is what the kernel takes to make and
 * tear down those namespaces around the command here; a target below it is below
 * what any sandbox with those namespaces could reach.
 *
 *     ns-floor [-n] [-u] [-i] [-r] COMMAND [ARG...]
 *     exit status: the command's (125: set-up failed)
 *
 * -n leaves the network namespace out (what the others cost without it). The rest add,
 * each as plainly as the kernel allows, what phantom's smallest sandbox does
 * (`--parts`' first phantom row: host network, no limits, no filter), so that the
 * difference between the two rows is phantom's own: -u maps uid and gid 1000 inside
 * to nobody outside, as phantom run as root does, and takes them before anything
 * else; -i runs the command as a child of pid 1, which waits for it; -r builds that
 * row's root (a tmpfs with /usr bound read-only, three symlinks and a tmpfs /tmp,
 * sealed read-only), pivots into it and detaches the host's root.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "floor.h"

static int go[2];
static char **command;
static char stack[64 * 1024];
static int as_user, with_init, with_root;

/* -r: the root of phantom's smallest sandbox, built on the host's /tmp (this mount
 * namespace's copy of it), then pivoted into. Returns 0, or -1 with errno set. */
static int build_root(void)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return -1;
    int usr = (int)syscall(SYS_open_tree, AT_FDCWD, "/usr", OPEN_TREE_CLONE_ | O_CLOEXEC | AT_RECURSIVE_);
    struct mount_attr_ read_only = {.attr_set = MOUNT_ATTR_RDONLY_ | MOUNT_ATTR_NOSUID_ | MOUNT_ATTR_NODEV_};
    if (usr < 0 ||
        syscall(SYS_mount_setattr, usr, "", AT_EMPTY_PATH | AT_RECURSIVE_, &read_only, sizeof read_only) != 0 ||
        mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=1m") != 0)
        return -1;
    if (symlink("usr/bin", "/tmp/bin") != 0 || symlink("usr/lib", "/tmp/lib") != 0 ||
        symlink("usr/lib64", "/tmp/lib64") != 0 || mkdir("/tmp/tmp", 0755) != 0 ||
        mount("tmpfs", "/tmp/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m") != 0 ||
        mkdir("/tmp/usr", 0755) != 0 ||
        syscall(SYS_move_mount, usr, "", AT_FDCWD, "/tmp/usr", MOVE_MOUNT_F_EMPTY_PATH_) != 0)
        return -1;
    close(usr);
    if (syscall(SYS_mount_setattr, AT_FDCWD, "/tmp", 0, &read_only, sizeof read_only) != 0 ||
        chdir("/tmp") != 0 || syscall(SYS_pivot_root, ".", ".") != 0 ||
        umount2(".", MNT_DETACH) != 0 || chdir("/") != 0)
        return -1;
    return 0;
}

static int child(void *unused)
{
    char byte;
    (void)unused;
    close(go[1]);
    if (read(go[0], &byte, 1) != 1)
        _exit(125);
    if (as_user && (setresgid(1000, 1000, 1000) != 0 || setresuid(1000, 1000, 1000) != 0)) {
        perror("ns-floor: ids");
        _exit(125);
    }
    if (with_root && build_root() != 0) {
        perror("ns-floor: root");
        _exit(125);
    }
    if (with_init) {
        pid_t pid = fork();
        if (pid < 0)
            _exit(125);
        if (pid == 0) {
            execv(command[0], command);
            _exit(127);
        }
        int status;
        if (waitpid(pid, &status, 0) != pid)
            _exit(125);
        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    }
    execv(command[0], command);
    _exit(127);
}

int main(int argc, char **argv)
{
    int network = CLONE_NEWNET;
    for (; argc > 1 && argv[1][0] == '-' && argv[1][1] && !argv[1][2]; argv++, argc--) {
        switch (argv[1][1]) {
        case 'n': network = 0; break;
        case 'u': as_user = 1; break;
        case 'i': with_init = 1; break;
        case 'r': with_root = 1; break;
        default: argc = 0; break;
        }
        if (argc == 0)
            break;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: ns-floor [-n] [-u] [-i] [-r] COMMAND [ARG...]\n");
        return 125;
    }
    command = argv + 1;
    if (pipe2(go, O_CLOEXEC) != 0) {
        perror("ns-floor: pipe");
        return 125;
    }
    int flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS |
                network | CLONE_NEWCGROUP | SIGCHLD;
    pid_t pid = clone(child, stack + sizeof stack, flags, NULL);
    if (pid < 0) {
        perror("ns-floor: clone");
        return 125;
    }
    close(go[0]);
    char path[64], map[64];
    snprintf(path, sizeof path, "/proc/%d/uid_map", (int)pid);
    /* -u: 1000 inside; outside, nobody when root (as phantom), else the caller. */
    unsigned inside = as_user ? 1000 : 0;
    unsigned uid = as_user && getuid() == 0 ? 65534 : (unsigned)getuid();
    unsigned gid = as_user && getuid() == 0 ? 65534 : (unsigned)getgid();
    snprintf(map, sizeof map, "%u %u 1\n", inside, uid);
    int failed = write_file(path, map);
    snprintf(path, sizeof path, "/proc/%d/setgroups", (int)pid);
    failed |= write_file(path, "deny");
    snprintf(path, sizeof path, "/proc/%d/gid_map", (int)pid);
    snprintf(map, sizeof map, "%u %u 1\n", inside, gid);
    failed |= write_file(path, map);
    if (failed) {
        perror("ns-floor: id maps");
        kill(pid, SIGKILL);
    } else if (write(go[1], "g", 1) != 1) {
        perror("ns-floor: go-ahead");
    }
    close(go[1]);
    int status;
    if (waitpid(pid, &status, 0) != pid)
        return 125;
    if (failed)
        return 125;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
