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
 *     ns-floor [-n] COMMAND [ARG...]   exit status: the command's (125: set-up failed)
 *
 * -n leaves the network namespace out (what the others cost without it).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int go[2];
static char **command;
static char stack[64 * 1024];

static int child(void *unused)
{
    char byte;
    (void)unused;
    close(go[1]);
    if (read(go[0], &byte, 1) != 1)
        _exit(125);
    execv(command[0], command);
    _exit(127);
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

int main(int argc, char **argv)
{
    int network = CLONE_NEWNET;
    if (argc > 1 && strcmp(argv[1], "-n") == 0) {
        network = 0;
        argv++;
        argc--;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: ns-floor [-n] COMMAND [ARG...]\n");
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
    snprintf(map, sizeof map, "0 %u 1\n", (unsigned)getuid());
    int failed = write_file(path, map);
    snprintf(path, sizeof path, "/proc/%d/setgroups", (int)pid);
    failed |= write_file(path, "deny");
    snprintf(path, sizeof path, "/proc/%d/gid_map", (int)pid);
    snprintf(map, sizeof map, "0 %u 1\n", (unsigned)getgid());
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
