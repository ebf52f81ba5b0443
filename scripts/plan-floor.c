/* phantom's whole cold start, done as plainly as C allows, for scripts/bench-exec.py.
 *
 * ns-floor.c measures what the namespaces alone cost. This does everything phantom does
 * for a bundle, with the same system calls in the same order and the same processes
 * (phantom, init, the network helper, the workload), and nothing else: no bundle to
 * read, no checks beyond the return codes, no error reports, no bookkeeping. The
 * difference between its row and phantom's is phantom's own overhead; its row against
 * a target says whether phantom's design can reach that target on this machine at all.
 *
 *     plan-floor PLAN FILTER CGROUPS COMMAND [ARG...]
 *     exit status: the command's (125: set-up failed)
 *
 * PLAN is the bundle's mount plan, one step a line (bench-exec.py writes it from
 * `phantomc inspect --json`):
 *     symlink TARGET TO           mkdir TARGET MODE           proc TARGET
 *     tmpfs TARGET SIZE MODE      mask TARGET                 ro TARGET
 *     bind TARGET SOURCE ro|rw    dev TARGET NODE...
 *     net none|host               limits MEMORY PIDS          (0: none)
 *     ids UID GID                 (outside, for 1000 inside: the workspace's owner)
 *     landlock PATH ro|rw         (a Landlock rule, in the sandbox's paths)
 * FILTER is the raw `struct sock_filter` array of this machine's architecture (`phantomc compile --emit bpf`);
 * CGROUPS the directories beneath which the run's cgroups are made (the caller's own):
 * v1's memory and pids hierarchies separated by a colon, or v2's one directory. Run as
 * root, as phantom is in the benchmark.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "floor.h"

/* The kernel's own, which musl-gcc's headers leave out (open_tree_attr: Linux 6.15). */
#define SYS_open_tree_attr_ 467
#define CAPABILITY_VERSION_3_ 0x20080522
#define SECCOMP_SET_MODE_FILTER_ 1
#define LANDLOCK_CREATE_RULESET_VERSION_ 1
#define LANDLOCK_RULE_PATH_BENEATH_ 1
struct landlock_ruleset_attr_ {
    unsigned long long handled_access_fs, handled_access_net, scoped;
};
struct __attribute__((packed)) landlock_path_beneath_attr_ {
    unsigned long long allowed_access;
    int parent_fd;
};
struct cap_header_ {
    unsigned version;
    int pid;
};
struct cap_data_ {
    unsigned effective, permitted, inheritable;
};
struct sock_filter_ {
    unsigned short code;
    unsigned char jt, jf;
    unsigned k;
};
struct sock_fprog_ {
    unsigned short len;
    struct sock_filter_ *filter;
};

#define ROOT "/tmp"
#define MAX_STEPS 128
#define MAX_WORDS 16

struct step {
    int words;
    char *word[MAX_WORDS];
    int tree[MAX_WORDS]; /* captured sources: [0] for a bind, [i] for dev node i */
};

static struct step plan[MAX_STEPS];
static int steps, own_network = 1;
static unsigned long long memory_limit, pids_limit;
static char outer_uid[16] = "65534", outer_gid[16] = "65534";
static char *landlock_path[64];
static int landlock_rw[64], landlock_rules;
static struct sock_filter_ filter[4096];
static unsigned short filter_len;
static char **command;
static int go[2], ready[2], to_workload[2], to_init[2];

static void fail(const char *what)
{
    perror(what);
    _exit(125);
}

static int send_fd(int socket, int fd, char tag)
{
    char byte = tag, control[CMSG_SPACE(sizeof(int))] = {0};
    struct iovec iov = {&byte, 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                         .msg_controllen = sizeof control};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    return sendmsg(socket, &msg, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

/* waitpid, through interruptions: 0 once `pid` is reaped. */
static int reap(pid_t pid, int *status)
{
    pid_t r;
    while ((r = waitpid(pid, status, 0)) < 0 && errno == EINTR)
        ;
    return r == pid ? 0 : -1;
}

static int recv_fd(int socket, char *tag)
{
    char byte, control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {&byte, 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                         .msg_controllen = sizeof control};
    if (recvmsg(socket, &msg, MSG_CMSG_CLOEXEC) != 1)
        return -1;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    int fd;
    if (!c || c->cmsg_type != SCM_RIGHTS)
        return -1;
    memcpy(&fd, CMSG_DATA(c), sizeof fd);
    if (tag)
        *tag = byte;
    return fd;
}

static void read_plan(const char *path)
{
    static char text[1 << 16];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, text, sizeof text - 1);
    if (n < 0)
        fail("plan-floor: plan");
    close(fd);
    text[n] = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *save, *w = strtok_r(line, " ", &save);
        if (!strcmp(w, "net")) {
            own_network = !strcmp(strtok_r(NULL, " ", &save), "none");
        } else if (!strcmp(w, "limits")) {
            memory_limit = strtoull(strtok_r(NULL, " ", &save), NULL, 10);
            pids_limit = strtoull(strtok_r(NULL, " ", &save), NULL, 10);
        } else if (!strcmp(w, "landlock") && landlock_rules < 64) {
            landlock_path[landlock_rules] = strtok_r(NULL, " ", &save);
            landlock_rw[landlock_rules++] = !strcmp(strtok_r(NULL, " ", &save), "rw");
        } else if (!strcmp(w, "ids")) {
            snprintf(outer_uid, sizeof outer_uid, "%s", strtok_r(NULL, " ", &save));
            snprintf(outer_gid, sizeof outer_gid, "%s", strtok_r(NULL, " ", &save));
        } else if (steps < MAX_STEPS) {
            struct step *s = &plan[steps++];
            for (; w && s->words < MAX_WORDS; w = strtok_r(NULL, " ", &save))
                s->word[s->words++] = w;
        }
    }
}

static void read_filter(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, filter, sizeof filter);
    if (n <= 0)
        fail("plan-floor: filter");
    close(fd);
    filter_len = (unsigned short)(n / sizeof filter[0]);
}

static char *under(const char *target)
{
    static char path[4096];
    snprintf(path, sizeof path, ROOT "%s", target);
    return path;
}

static int open_tree_attr(const char *path, unsigned long long set)
{
    struct mount_attr_ attr = {.attr_set = set};
    return (int)syscall(SYS_open_tree_attr_, AT_FDCWD, path,
                        OPEN_TREE_CLONE_ | O_CLOEXEC | AT_RECURSIVE_, &attr, sizeof attr);
}

static int move_to(int tree, const char *target)
{
    int r = (int)syscall(SYS_move_mount, tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH_);
    close(tree);
    return r;
}

static int tmpfs(const char *target, const char *data, unsigned long flags)
{
    return mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV | flags, data);
}

static const unsigned long long SEALED = MOUNT_ATTR_RDONLY_ | MOUNT_ATTR_NOSUID_ | MOUNT_ATTR_NODEV_;

/* Phase 1, as phantom's: every source captured while the host is in view. */
static void capture(void)
{
    for (int i = 0; i < steps; i++) {
        struct step *s = &plan[i];
        if (!strcmp(s->word[0], "bind")) {
            int ro = !strcmp(s->word[3], "ro");
            s->tree[0] = open_tree_attr(s->word[2], MOUNT_ATTR_NOSUID_ | MOUNT_ATTR_NODEV_ |
                                                         (ro ? MOUNT_ATTR_RDONLY_ : 0));
        } else if (!strcmp(s->word[0], "dev")) {
            char host[256];
            for (int n = 2; n < s->words; n++) {
                snprintf(host, sizeof host, "/dev/%s", s->word[n]);
                s->tree[n] = (int)syscall(SYS_open_tree, AT_FDCWD, host,
                                          OPEN_TREE_CLONE_ | O_CLOEXEC | AT_RECURSIVE_);
            }
        }
    }
}

static int build_dev(struct step *s, char *target)
{
    char path[4096];
    if (mkdir(target, 0755) != 0 || tmpfs(target, "mode=755,size=65536", 0) != 0)
        return -1;
    for (int n = 2; n < s->words; n++) {
        snprintf(path, sizeof path, "%s/%s", target, s->word[n]);
        if (s->tree[n] < 0)
            continue;
        if (mknod(path, S_IFREG | 0644, 0) != 0 || move_to(s->tree[n], path) != 0)
            return -1;
    }
    snprintf(path, sizeof path, "%s/pts", target);
    if (mkdir(path, 0755) != 0 ||
        mount("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") != 0)
        return -1;
    snprintf(path, sizeof path, "%s/shm", target);
    if (mkdir(path, 01777) != 0 || tmpfs(path, "mode=1777", 0) != 0)
        return -1;
    static const char *links[][2] = {{"ptmx", "pts/ptmx"}, {"fd", "/proc/self/fd"},
                                     {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
                                     {"stderr", "/proc/self/fd/2"}};
    for (unsigned l = 0; l < sizeof links / sizeof links[0]; l++) {
        snprintf(path, sizeof path, "%s/%s", target, links[l][0]);
        if (symlink(links[l][1], path) != 0)
            return -1;
    }
    struct mount_attr_ sealed = {.attr_set = SEALED};
    return (int)syscall(SYS_mount_setattr, AT_FDCWD, target, 0, &sealed, sizeof sealed);
}

/* Phase 2: the steps, in order, on a tmpfs at ROOT; then sealed, pivoted into. */
static int build_root(void)
{
    umask(0);
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return -1;
    capture();
    /* The sources were captured with root's access to the host's files; from here on,
     * as phantom's init does, the sandbox's ids. */
    if (setresgid(1000, 1000, 1000) != 0 || setresuid(1000, 1000, 1000) != 0 ||
        tmpfs(ROOT, "mode=755,size=1m", 0) != 0)
        return -1;
    for (int i = 0; i < steps; i++) {
        struct step *s = &plan[i];
        char *op = s->word[0], *target = under(s->word[1]);
        struct stat st;
        int r = 0;
        if (!strcmp(op, "symlink")) {
            r = symlink(s->word[2], target);
        } else if (!strcmp(op, "mkdir")) {
            r = mkdir(target, (mode_t)strtoul(s->word[2], NULL, 8));
        } else if (!strcmp(op, "proc")) {
            r = mkdir(target, 0755) || mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        } else if (!strcmp(op, "tmpfs")) {
            char data[64];
            snprintf(data, sizeof data, "mode=%s,size=%s", s->word[3], s->word[2]);
            r = mkdir(target, 0755) || tmpfs(target, data, 0);
        } else if (!strcmp(op, "bind")) {
            if (s->tree[0] < 0)
                continue; /* optional and absent */
            r = fstat(s->tree[0], &st);
            if (!r)
                r = S_ISDIR(st.st_mode) ? mkdir(target, 0755) : mknod(target, S_IFREG | 0644, 0);
            r = r || move_to(s->tree[0], target);
        } else if (!strcmp(op, "dev")) {
            r = build_dev(s, target);
        } else if (!strcmp(op, "mask")) {
            if (lstat(target, &st) != 0)
                continue;
            if (S_ISDIR(st.st_mode)) {
                r = tmpfs(target, "mode=000,size=0", MS_RDONLY);
            } else {
                int null = open_tree_attr("/dev/null", SEALED);
                r = null < 0 || move_to(null, target);
            }
        } else if (!strcmp(op, "ro")) {
            int tree = open_tree_attr(target, SEALED);
            if (tree < 0)
                continue;
            r = move_to(tree, target);
        }
        if (r != 0)
            return -1;
    }
    struct mount_attr_ sealed = {.attr_set = SEALED};
    if (syscall(SYS_mount_setattr, AT_FDCWD, ROOT, 0, &sealed, sizeof sealed) != 0 ||
        chdir(ROOT) != 0 || syscall(SYS_pivot_root, ".", ".") != 0)
        return -1;
    return 0;
}

/* Landlock as phantom's workload enforces it: every filesystem right of this kernel's
 * ABI handled, the plan's paths allowed read and execute, or everything. */
static void landlock(void)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION_);
    if (abi < 1)
        return;
    unsigned long long all = abi >= 5 ? 0xffff : abi >= 3 ? 0x7fff : abi >= 2 ? 0x3fff : 0x1fff;
    unsigned long long read_exec = 0x1 | 0x4 | 0x8; /* execute, read a file, read a directory */
    unsigned long long file_rights = 0x1 | 0x2 | 0x4 | 0x4000 | 0x8000; /* + write, truncate, ioctl */
    struct landlock_ruleset_attr_ attr = {.handled_access_fs = all};
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr.handled_access_fs, 0);
    if (ruleset < 0)
        fail("plan-floor: landlock");
    for (int i = 0; i < landlock_rules; i++) {
        struct landlock_path_beneath_attr_ rule = {.parent_fd = open(landlock_path[i], O_PATH | O_CLOEXEC)};
        struct stat st;
        if (rule.parent_fd < 0 || fstat(rule.parent_fd, &st) != 0)
            continue;
        rule.allowed_access = (landlock_rw[i] ? all : read_exec) & (S_ISDIR(st.st_mode) ? all : file_rights);
        if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH_, &rule, 0) != 0)
            fail("plan-floor: landlock rule");
        close(rule.parent_fd);
    }
    if (syscall(SYS_landlock_restrict_self, ruleset, 0) != 0)
        fail("plan-floor: landlock");
    close(ruleset);
}

static void workload(void)
{
    char byte;
    close(ready[1]); /* (init closed the rest before the fork) */
    if (read(go[0], &byte, 1) != 1)
        _exit(125);
    /* The cgroups' `tasks` files, then the network namespace, as phantom sends them. */
    char tag;
    for (int fd; (fd = recv_fd(to_workload[0], &tag)) >= 0;) {
        if (tag == 'c') {
            if (write(fd, "0", 1) != 1)
                fail("plan-floor: cgroup");
        } else if (setns(fd, CLONE_NEWNET) != 0) {
            fail("plan-floor: workload's network");
        }
        close(fd);
    }
    if (read(ready[0], &byte, 1) != 1)
        _exit(125);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    signal(SIGPIPE, SIG_DFL);
    umask(022);
    if (setsid() < 0 || chdir("/workspace") != 0)
        fail("plan-floor: session");
    landlock();
    if (unshare(CLONE_NEWCGROUP) != 0)
        fail("plan-floor: cgroup namespace");
    struct rlimit fsize = {1 << 30, 1 << 30}, nofile = {1024, 1024}, core = {0, 0};
    if (setrlimit(RLIMIT_FSIZE, &fsize) || setrlimit(RLIMIT_NOFILE, &nofile) || setrlimit(RLIMIT_CORE, &core))
        fail("plan-floor: rlimits");
    if (syscall(SYS_close_range, 3, ~0U, 0) != 0)
        fail("plan-floor: close_range");
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    for (int cap = 0; prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0; cap++)
        ;
    struct cap_header_ header = {CAPABILITY_VERSION_3_, 0};
    struct cap_data_ none[2] = {{0}};
    if (syscall(SYS_capset, &header, none) != 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        fail("plan-floor: capabilities");
    struct sock_fprog_ program = {filter_len, filter};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER_, 0, &program) != 0)
        fail("plan-floor: seccomp");
    execv(command[0], command);
    _exit(127);
}

static int init(void *unused)
{
    char byte;
    (void)unused;
    close(go[1]);
    close(to_workload[1]);
    close(to_init[1]);
    if (read(go[0], &byte, 1) != 1) /* the id maps */
        _exit(125);
    if (build_root() != 0)
        fail("plan-floor: root");
    if (pipe2(ready, O_CLOEXEC) != 0)
        fail("plan-floor: pipe");
    pid_t pid = fork();
    if (pid == 0)
        workload();
    close(go[0]);
    close(to_workload[0]);
    close(ready[0]);
    if (pid < 0 || umount2(".", MNT_DETACH) != 0 || chdir("/") != 0 || sethostname("sandbox", 7) != 0)
        fail("plan-floor: detach");
    if (own_network) {
        int net = recv_fd(to_init[0], NULL);
        if (net < 0 || setns(net, CLONE_NEWNET) != 0)
            fail("plan-floor: init's network");
        close(net);
    }
    if (write(ready[1], "j", 1) != 1)
        _exit(125);
    int status;
    if (reap(pid, &status) != 0)
        _exit(125);
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

/* The network helper: in init's user namespace, a quarter of each of its owner's
 * inotify and fanotify budgets, then a network namespace with loopback up. */
static void helper(int user_ns, int answer)
{
    static const char *budgets[][2] = {
        {"inotify/max_user_instances", "max_inotify_instances"},
        {"inotify/max_user_watches", "max_inotify_watches"},
        {"fanotify/max_user_groups", "max_fanotify_groups"},
        {"fanotify/max_user_marks", "max_fanotify_marks"},
    };
    if (setns(user_ns, CLONE_NEWUSER) != 0)
        _exit(1);
    int host = open("/proc/sys/fs", O_PATH | O_DIRECTORY | O_CLOEXEC);
    int own = open("/proc/sys/user", O_PATH | O_DIRECTORY | O_CLOEXEC);
    for (unsigned i = 0; i < sizeof budgets / sizeof budgets[0]; i++) {
        char number[32] = {0};
        int fd = openat(host, budgets[i][0], O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue; /* a budget this kernel does not have */
        if (read(fd, number, sizeof number - 1) <= 0)
            _exit(1);
        close(fd);
        unsigned long long share = strtoull(number, NULL, 10) / 4;
        snprintf(number, sizeof number, "%llu", share ? share : 1);
        fd = openat(own, budgets[i][1], O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, number, strlen(number)) <= 0)
            _exit(1);
        close(fd);
    }
    if (unshare(CLONE_NEWNET) != 0)
        _exit(1);
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq req = {0};
    strcpy(req.ifr_name, "lo");
    req.ifr_flags = IFF_UP | IFF_RUNNING;
    int net = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (s < 0 || ioctl(s, SIOCSIFFLAGS, &req) != 0 || net < 0 || send_fd(answer, net, 'n') != 0)
        _exit(1);
    _exit(0);
}

static char stack[256 * 1024];

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: plan-floor PLAN FILTER MEMORY_CGROUP:PIDS_CGROUP COMMAND [ARG...]\n");
        return 125;
    }
    read_plan(argv[1]);
    read_filter(argv[2]);
    char *memory_parent = argv[3], *pids_parent = strchr(argv[3], ':');
    int v2 = !pids_parent;
    if (!v2)
        *pids_parent++ = 0;
    command = argv + 4;
    if (pipe2(go, O_CLOEXEC) != 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, to_workload) != 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, to_init) != 0)
        fail("plan-floor: pipes");
    pid_t pid = clone(init, stack + sizeof stack,
                      CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | SIGCHLD, NULL);
    if (pid < 0)
        fail("plan-floor: clone");
    close(go[0]);
    close(to_workload[0]);
    close(to_init[0]);
    char path[4096];
    snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
    int user_ns = own_network ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    snprintf(path, sizeof path, "/proc/%d/setgroups", (int)pid);
    int failed = write_file(path, "deny");
    char map[64];
    snprintf(path, sizeof path, "/proc/%d/uid_map", (int)pid);
    snprintf(map, sizeof map, "1000 %s 1\n", outer_uid);
    failed |= write_file(path, map);
    snprintf(path, sizeof path, "/proc/%d/gid_map", (int)pid);
    snprintf(map, sizeof map, "1000 %s 1\n", outer_gid);
    failed |= write_file(path, map);
    if (failed || write(go[1], "m", 1) != 1)
        fail("plan-floor: id maps");
    int answer[2] = {-1, -1};
    pid_t helper_pid = -1;
    if (own_network) {
        if (user_ns < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, answer) != 0)
            fail("plan-floor: helper");
        helper_pid = fork();
        if (helper_pid == 0)
            helper(user_ns, answer[1]);
        close(answer[1]);
    }
    /* The cgroups (v1: a memory and a pids hierarchy; v2: one), limited, and the files
     * that move a process in sent to the workload. */
    char memory[4096], pids[4096], number[32];
    snprintf(memory, sizeof memory, "%s/plan-floor-%d", memory_parent, (int)getpid());
    snprintf(pids, sizeof pids, "%s/plan-floor-%d", v2 ? memory_parent : pids_parent, (int)getpid());
    if (mkdir(memory, 0755) != 0)
        fail("plan-floor: cgroups");
    if (!v2 && mkdir(pids, 0755) != 0) {
        rmdir(memory);
        fail("plan-floor: cgroups");
    }
    if (memory_limit) {
        snprintf(number, sizeof number, "%llu", memory_limit);
        snprintf(path, sizeof path, "%s/%s", memory, v2 ? "memory.max" : "memory.limit_in_bytes");
        failed |= write_file(path, number);
        /* No swap: v1 limits memory and swap together, v2 swap alone. */
        snprintf(path, sizeof path, "%s/%s", memory, v2 ? "memory.swap.max" : "memory.memsw.limit_in_bytes");
        failed |= write_file(path, v2 ? "0" : number);
    }
    if (pids_limit) {
        snprintf(number, sizeof number, "%llu", pids_limit);
        snprintf(path, sizeof path, "%s/pids.max", pids);
        failed |= write_file(path, number);
    }
    for (int i = 0; i < 2 - v2; i++) {
        snprintf(path, sizeof path, "%s/%s", i ? pids : memory, v2 ? "cgroup.procs" : "tasks");
        int tasks = open(path, O_WRONLY | O_CLOEXEC);
        failed |= tasks < 0 || send_fd(to_workload[1], tasks, 'c') != 0;
        close(tasks);
    }
    if (own_network) {
        int net = recv_fd(answer[0], NULL);
        waitpid(helper_pid, NULL, 0);
        failed |= net < 0 || send_fd(to_workload[1], net, 'n') != 0 || send_fd(to_init[1], net, 'n') != 0;
        close(net);
    }
    shutdown(to_workload[1], SHUT_WR);
    if (failed || write(go[1], "g", 1) != 1)
        kill(pid, SIGKILL);
    int status;
    failed |= reap(pid, &status);
    rmdir(memory);
    if (!v2)
        rmdir(pids);
    if (failed)
        return 125;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
