/*
 * qt_plfs: start, "power-cut" and stop the plfs filesystem
 * (tests/harness/plfs.c) from C tests.
 *
 * A test calls qt_plfs_require() first: it exits 77 (SKIP, said on stderr)
 * when the platform has no FUSE at all (no /dev/fuse, no fuse in
 * /proc/filesystems), and 99 (a hard error, never a pass) when FUSE is
 * there but unusable here (not root, /dev/fuse not openable).
 */
#ifndef QT_PLFS_H
#define QT_PLFS_H

#include <sys/types.h>

typedef struct qt_plfs {
    pid_t pid; /* 0 when not mounted */
    char root[256];
    char back[300]; /* root/back: the durable layer */
    char mnt[300];  /* root/mnt: the mount point */
    char log[300];  /* root/plfs.log: the daemon's stderr */
} qt_plfs_t;

/** @brief Exits 77 or 99 unless FUSE mounts can be made here. */
void qt_plfs_require(void);

/**
 * @brief Makes root/back and root/mnt and mounts plfs there.
 * @param bin the plfs program.
 * @returns 0, or -1 with a line on stderr.
 */
int qt_plfs_init(qt_plfs_t *fs, const char *bin, const char *root);

/** @brief (Re)mounts over the same durable layer; waits until mounted.
 * @returns 0 or -1. */
int qt_plfs_mount(qt_plfs_t *fs, const char *bin);

/**
 * @brief A power loss: kill -9 the daemon (its unsynced layer dies with
 * it), then a lazy unmount. Whoever still uses the mount sees errors.
 */
void qt_plfs_powercut(qt_plfs_t *fs);

/** @brief Arms a failure: the next fsync of a file fails with EIO. */
int qt_plfs_fail_next_fsync(qt_plfs_t *fs);

/** @brief Unmounts (as a power cut: the test is over) and removes root. */
void qt_plfs_destroy(qt_plfs_t *fs);

#endif /* QT_PLFS_H */
