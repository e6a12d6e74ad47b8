/*
 * qt_plfs: see qt_plfs.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qt_plfs.h"

static int fuse_in_kernel(void)
{
    char line[256];
    int found = 0;
    FILE *fp = fopen("/proc/filesystems", "r");
    while (fp && fgets(line, sizeof(line), fp))
        if (strstr(line, "\tfuse\n"))
            found = 1;
    if (fp)
        fclose(fp);
    return found;
}

void qt_plfs_require(void)
{
    if (access("/dev/fuse", F_OK) != 0 && !fuse_in_kernel()) {
        fprintf(stderr, "SKIP: this platform has no FUSE (no /dev/fuse, no "
                        "fuse in /proc/filesystems)\n");
        exit(77);
    }
    if (geteuid() != 0) {
        fprintf(stderr, "ERROR: the power-loss tests mount a FUSE filesystem "
                        "and need root\n");
        exit(99);
    }
    int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "ERROR: /dev/fuse: %s (FUSE is there but unusable)\n",
                strerror(errno));
        exit(99);
    }
    close(fd);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Mounted when the mount point's device differs from its parent's. */
static int mounted(const qt_plfs_t *fs)
{
    struct stat a, b;
    return stat(fs->mnt, &a) == 0 && stat(fs->root, &b) == 0 &&
           a.st_dev != b.st_dev;
}

static void print_log(const qt_plfs_t *fs)
{
    char line[512];
    FILE *fp = fopen(fs->log, "r");
    while (fp && fgets(line, sizeof(line), fp))
        fprintf(stderr, "plfs.log: %s", line);
    if (fp)
        fclose(fp);
}

static int mount_once(qt_plfs_t *fs, const char *bin);

/* A mount right after a lazy unmount of the same point can fail once;
 * a few tries, each reported. */
int qt_plfs_mount(qt_plfs_t *fs, const char *bin)
{
    for (int i = 0; i < 3; i++) {
        if (mount_once(fs, bin) == 0)
            return 0;
        print_log(fs);
        usleep(300000);
    }
    return -1;
}

static int mount_once(qt_plfs_t *fs, const char *bin)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* a test that fails exits without its teardown: plfs then gets
         * SIGTERM, which its FUSE loop takes as "unmount and exit", so no
         * dead mount is left behind (one had been, from a failed run) */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
            _exit(1);
        int fd = open(fs->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        execl(bin, bin, fs->back, fs->mnt, (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    fs->pid = pid;
    for (long long end = now_ms() + 10000; now_ms() < end;) {
        int status;
        if (mounted(fs))
            return 0;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "qt_plfs: plfs exited before mounting (see %s)\n",
                    fs->log);
            fs->pid = 0;
            return -1;
        }
        usleep(10000);
    }
    fprintf(stderr, "qt_plfs: %s not mounted within 10 s\n", fs->mnt);
    qt_plfs_powercut(fs);
    return -1;
}

int qt_plfs_init(qt_plfs_t *fs, const char *bin, const char *root)
{
    memset(fs, 0, sizeof(*fs));
    snprintf(fs->root, sizeof(fs->root), "%s", root);
    snprintf(fs->back, sizeof(fs->back), "%s/back", root);
    snprintf(fs->mnt, sizeof(fs->mnt), "%s/mnt", root);
    snprintf(fs->log, sizeof(fs->log), "%s/plfs.log", root);
    if ((mkdir(fs->back, 0755) != 0 && errno != EEXIST) ||
        (mkdir(fs->mnt, 0755) != 0 && errno != EEXIST)) {
        fprintf(stderr, "qt_plfs: mkdir under %s: %s\n", root, strerror(errno));
        return -1;
    }
    return qt_plfs_mount(fs, bin);
}

void qt_plfs_powercut(qt_plfs_t *fs)
{
    if (fs->pid > 0) {
        kill(fs->pid, SIGKILL);
        waitpid(fs->pid, NULL, 0);
        fs->pid = 0;
    }
    if (umount2(fs->mnt, MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
        fprintf(stderr, "qt_plfs: umount %s: %s\n", fs->mnt, strerror(errno));
}

int qt_plfs_fail_next_fsync(qt_plfs_t *fs)
{
    return fs->pid > 0 ? kill(fs->pid, SIGUSR1) : -1;
}

static void rm_tree(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "qt_plfs: could not remove %s\n", path);
}

void qt_plfs_destroy(qt_plfs_t *fs)
{
    qt_plfs_powercut(fs);
    if (!mounted(fs))
        rm_tree(fs->root);
}
