/* What scripts/ns-floor.c and scripts/plan-floor.c share: the new mount API's
 * constants, which musl's headers do not carry, and writing a small file whole. */
#ifndef PHANTOM_FLOOR_H
#define PHANTOM_FLOOR_H

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define OPEN_TREE_CLONE_ 1
#define AT_RECURSIVE_ 0x8000
#define MOVE_MOUNT_F_EMPTY_PATH_ 4
#define MOUNT_ATTR_RDONLY_ 1
#define MOUNT_ATTR_NOSUID_ 2
#define MOUNT_ATTR_NODEV_ 4
struct mount_attr_ {
    unsigned long long attr_set, attr_clr, propagation, userns_fd;
};

/* 0 once `text` is written to `path` whole, -1 (errno set) otherwise. */
static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

#endif
