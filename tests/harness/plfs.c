/*
 * plfs: a FUSE filesystem that forgets what was not made durable, for
 * power-loss tests (LazyFS's semantics, issue 19).
 *
 *   plfs BACKING MOUNTPOINT
 *
 * The durable layer lives in BACKING, on the real disk: data/<ino> holds a
 * file's contents as of its last fsync, dirs/<ino> a directory's entries as
 * of its last fsync ("<ino> <d|f> <mode> <name>" lines; inode 1 is the
 * root). Everything else lives only in this process's memory: file data
 * written but not fsync'd (4 KiB blocks over the durable contents, with a
 * low-water mark for truncations) and every directory entry created,
 * renamed or removed since its directory was last fsync'd.
 *
 * A power loss is: kill -9 this process, unmount (umount -l), start a new
 * one over the same BACKING. At start it loads the durable tree from
 * dirs/1 down and deletes whatever is not reachable from it (data fsync'd
 * under a name that never was). So after the "power loss" a file exists
 * only if its directory entry was fsync'd (in its parent), and holds only
 * what was fsync'd in it; a rename or unlink not followed by an fsync of
 * the directory is undone.
 *
 * fsync of a file makes its data and size durable; fsync (or fdatasync) of
 * a directory makes its current entries durable (not its children's
 * contents). rename across directories and hard links are refused (EXDEV,
 * EPERM): no quire code needs them, and their durability would need both
 * directories synced atomically.
 *
 * SIGUSR1 arms a failure: the next fsync of a regular file fails with EIO,
 * and, like Linux after a failed writeback, the blocks it did not write
 * stay readable ("in the page cache") but are never written by a later
 * fsync, which reports success, unless written again; a power loss drops
 * them (PostgreSQL's fsyncgate).
 *
 * Single-threaded (one FUSE loop): no locks. Entry and attribute timeouts
 * are 0 and the page cache is not kept across opens, so the kernel caches
 * nothing that outlives what this process says.
 */
#define FUSE_USE_VERSION 35

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BLK 4096u

typedef struct dent {
    char *name;
    uint64_t ino;
} dent_t;

typedef struct node {
    uint64_t ino;
    int is_dir;
    mode_t mode;
    uint64_t nlookup; /* the kernel's references */
    int nlink;        /* 1 while some directory names it */
    int nopen;
    struct timespec mtime;
    /* regular files: current size; durable size; durable bytes at and
     * above `low` read as zeros (a truncation not yet synced) */
    uint64_t size, dsize, low;
    uint8_t **blk; /* the unsynced overlay, by block number */
    char *poison;  /* a failed fsync left this block unwritten */
    size_t nblk;
    int datafd;
    /* directories */
    dent_t *ents;
    size_t nents, cap;
} node_t;

static char *back;
static node_t **nodes; /* by inode number; NULL when free */
static size_t nnodes;
static uint64_t next_ino = 2;
static volatile sig_atomic_t fail_next_fsync;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "plfs: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        die("out of memory");
    return p;
}

static void *xrealloc(void *p, size_t size)
{
    p = realloc(p, size ? size : 1);
    if (!p)
        die("out of memory");
    return p;
}

/* ---- nodes ---- */

static node_t *node_get(uint64_t ino)
{
    return ino < nnodes ? nodes[ino] : NULL;
}

static node_t *node_new(uint64_t ino, int is_dir, mode_t mode)
{
    if (ino >= nnodes) {
        size_t n = nnodes ? nnodes : 64;
        while (n <= ino)
            n *= 2;
        nodes = xrealloc(nodes, n * sizeof(*nodes));
        memset(nodes + nnodes, 0, (n - nnodes) * sizeof(*nodes));
        nnodes = n;
    }
    node_t *nd = xcalloc(1, sizeof(*nd));
    nd->ino = ino;
    nd->is_dir = is_dir;
    nd->mode = (mode & 07777) | (is_dir ? S_IFDIR : S_IFREG);
    nd->datafd = -1;
    clock_gettime(CLOCK_REALTIME, &nd->mtime);
    nodes[ino] = nd;
    if (ino >= next_ino)
        next_ino = ino + 1;
    return nd;
}

static void path_of(char *out, size_t size, const char *kind, uint64_t ino)
{
    snprintf(out, size, "%s/%s/%llu", back, kind, (unsigned long long)ino);
}

static int data_fd(node_t *nd)
{
    char path[PATH_MAX];
    if (nd->datafd < 0) {
        path_of(path, sizeof(path), "data", nd->ino);
        nd->datafd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (nd->datafd < 0)
            die("open %s: %s", path, strerror(errno));
    }
    return nd->datafd;
}

static void drop_overlay(node_t *nd)
{
    for (size_t i = 0; i < nd->nblk; i++)
        free(nd->blk[i]);
    free(nd->blk);
    free(nd->poison);
    nd->blk = NULL;
    nd->poison = NULL;
    nd->nblk = 0;
}

/* Frees a node nobody can reach any more (its durable data stays on disk
 * until the next start's clean-up). */
static void node_maybe_free(node_t *nd)
{
    if (nd->nlink > 0 || nd->nopen > 0 || nd->nlookup > 0 || nd->ino == 1)
        return;
    drop_overlay(nd);
    if (nd->datafd >= 0)
        close(nd->datafd);
    for (size_t i = 0; i < nd->nents; i++)
        free(nd->ents[i].name);
    free(nd->ents);
    nodes[nd->ino] = NULL;
    free(nd);
}

static dent_t *dir_find(node_t *dir, const char *name)
{
    for (size_t i = 0; i < dir->nents; i++)
        if (!strcmp(dir->ents[i].name, name))
            return &dir->ents[i];
    return NULL;
}

static void dir_add(node_t *dir, const char *name, uint64_t ino)
{
    if (dir->nents == dir->cap) {
        dir->cap = dir->cap ? dir->cap * 2 : 16;
        dir->ents = xrealloc(dir->ents, dir->cap * sizeof(*dir->ents));
    }
    dir->ents[dir->nents].name = strdup(name);
    dir->ents[dir->nents].ino = ino;
    dir->nents++;
}

static void dir_del(node_t *dir, dent_t *de)
{
    free(de->name);
    *de = dir->ents[--dir->nents];
}

/* ---- file contents: the durable file plus the overlay ---- */

/* Fills one block as the file currently reads (overlay or durable). */
static void read_block(node_t *nd, size_t b, uint8_t *out)
{
    if (b < nd->nblk && nd->blk[b]) {
        memcpy(out, nd->blk[b], BLK);
        return;
    }
    memset(out, 0, BLK);
    uint64_t start = (uint64_t)b * BLK;
    uint64_t lim = nd->dsize < nd->low ? nd->dsize : nd->low;
    if (start < lim) {
        size_t n = lim - start < BLK ? (size_t)(lim - start) : BLK;
        if (pread(data_fd(nd), out, n, (off_t)start) < 0)
            die("pread: %s", strerror(errno));
    }
}

static uint8_t *dirty_block(node_t *nd, size_t b)
{
    if (b >= nd->nblk) {
        size_t n = nd->nblk ? nd->nblk : 16;
        while (n <= b)
            n *= 2;
        nd->blk = xrealloc(nd->blk, n * sizeof(*nd->blk));
        nd->poison = xrealloc(nd->poison, n);
        memset(nd->blk + nd->nblk, 0, (n - nd->nblk) * sizeof(*nd->blk));
        memset(nd->poison + nd->nblk, 0, n - nd->nblk);
        nd->nblk = n;
    }
    if (!nd->blk[b]) {
        uint8_t *p = xcalloc(1, BLK);
        read_block(nd, b, p);
        nd->blk[b] = p;
    }
    nd->poison[b] = 0; /* written again: the next fsync writes it */
    return nd->blk[b];
}

static void file_write(node_t *nd, const char *buf, size_t len, uint64_t off)
{
    while (len > 0) {
        size_t b = (size_t)(off / BLK), at = (size_t)(off % BLK);
        size_t n = BLK - at < len ? BLK - at : len;
        memcpy(dirty_block(nd, b) + at, buf, n);
        buf += n;
        len -= n;
        off += n;
        if (off > nd->size)
            nd->size = off;
    }
    clock_gettime(CLOCK_REALTIME, &nd->mtime);
}

static void file_truncate(node_t *nd, uint64_t size)
{
    if (size < nd->size) {
        size_t first = (size_t)((size + BLK - 1) / BLK);
        for (size_t b = first; b < nd->nblk; b++) {
            free(nd->blk[b]);
            nd->blk[b] = NULL;
            nd->poison[b] = 0;
        }
        if (size % BLK && size / BLK < nd->nblk && nd->blk[size / BLK])
            memset(nd->blk[size / BLK] + size % BLK, 0, BLK - size % BLK);
        if (size < nd->low)
            nd->low = size;
    }
    nd->size = size;
    clock_gettime(CLOCK_REALTIME, &nd->mtime);
}

/* fsync: the overlay (but poisoned blocks) and the size become durable. */
static void file_sync(node_t *nd)
{
    int fd = data_fd(nd);
    uint64_t lim = nd->dsize < nd->low ? nd->dsize : nd->low;

    if (ftruncate(fd, (off_t)lim) != 0)
        die("ftruncate: %s", strerror(errno));
    for (size_t b = 0; b < nd->nblk; b++) {
        uint64_t start = (uint64_t)b * BLK;
        if (!nd->blk[b] || nd->poison[b] || start >= nd->size)
            continue;
        size_t n = nd->size - start < BLK ? (size_t)(nd->size - start) : BLK;
        if (pwrite(fd, nd->blk[b], n, (off_t)start) != (ssize_t)n)
            die("pwrite: %s", strerror(errno));
        free(nd->blk[b]);
        nd->blk[b] = NULL;
    }
    if (ftruncate(fd, (off_t)nd->size) != 0)
        die("ftruncate: %s", strerror(errno));
    nd->dsize = nd->low = nd->size;
}

/* ---- directories: the manifest ---- */

static void dir_sync(node_t *dir)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    path_of(path, sizeof(path), "dirs", dir->ino);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *fp = fopen(tmp, "w");
    if (!fp)
        die("fopen %s: %s", tmp, strerror(errno));
    for (size_t i = 0; i < dir->nents; i++) {
        node_t *c = node_get(dir->ents[i].ino);
        fprintf(fp, "%llu %c %o %s\n", (unsigned long long)c->ino,
                c->is_dir ? 'd' : 'f', (unsigned)(c->mode & 07777),
                dir->ents[i].name);
    }
    if (fclose(fp) != 0 || rename(tmp, path) != 0)
        die("writing %s: %s", path, strerror(errno));
}

/* Loads the durable tree under dir (recursively). */
static size_t reach_len; /* entries of load's reach array */

static void load_dir(node_t *dir, char *reach)
{
    char path[PATH_MAX], line[PATH_MAX + 64];
    path_of(path, sizeof(path), "dirs", dir->ino);
    /* inodes past every backing file have nothing to keep: no mark */
    if (dir->ino < reach_len)
        reach[dir->ino] |= 2;
    FILE *fp = fopen(path, "r");
    if (!fp)
        return; /* never synced: empty */
    while (fgets(line, sizeof(line), fp)) {
        unsigned long long ino;
        char kind;
        unsigned mode;
        int n = 0;
        line[strcspn(line, "\n")] = '\0';
        if (sscanf(line, "%llu %c %o %n", &ino, &kind, &mode, &n) < 3 || !n)
            die("%s: bad line \"%s\"", path, line);
        node_t *c = node_new(ino, kind == 'd', mode);
        c->nlink = 1;
        dir_add(dir, line + n, ino);
        if (c->is_dir) {
            load_dir(c, reach);
        } else {
            struct stat st;
            char dpath[PATH_MAX];
            path_of(dpath, sizeof(dpath), "data", ino);
            if (stat(dpath, &st) == 0) {
                c->size = c->dsize = c->low = (uint64_t)st.st_size;
                c->mtime = st.st_mtim;
            }
            if (ino < reach_len)
                reach[ino] |= 1;
        }
    }
    fclose(fp);
}

/* Deletes the durable files the tree does not reach. */
static void clean_unreached(const char *kind, int bit, const char *reach,
                            size_t nreach)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", back, kind);
    DIR *d = opendir(path);
    struct dirent *de;
    if (!d)
        die("opendir %s: %s", path, strerror(errno));
    while ((de = readdir(d)) != NULL) {
        char *end;
        unsigned long long ino = strtoull(de->d_name, &end, 10);
        if (de->d_name[0] == '.')
            continue;
        if (*end || ino >= nreach || !(reach[ino] & bit)) {
            char p[PATH_MAX + 256];
            snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
            unlink(p);
        }
    }
    closedir(d);
}

static size_t max_ino_in(const char *kind)
{
    char path[PATH_MAX];
    size_t max = 1;
    snprintf(path, sizeof(path), "%s/%s", back, kind);
    DIR *d = opendir(path);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        size_t v = strtoull(de->d_name, NULL, 10);
        if (v > max)
            max = v;
    }
    if (d)
        closedir(d);
    return max;
}

static void load(void)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/data", back);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/dirs", back);
    mkdir(path, 0755);
    size_t nreach =
        (max_ino_in("data") > max_ino_in("dirs") ? max_ino_in("data")
                                                 : max_ino_in("dirs")) +
        2;
    char *reach = xcalloc(nreach, 1);
    reach_len = nreach;
    node_t *root = node_new(1, 1, 0755);
    root->nlink = 1;
    load_dir(root, reach);
    clean_unreached("data", 1, reach, nreach);
    clean_unreached("dirs", 2, reach, nreach);
    free(reach);
}

/* ---- FUSE operations ---- */

static void fill_attr(const node_t *nd, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_ino = nd->ino;
    st->st_mode = nd->mode;
    st->st_nlink = nd->is_dir ? 2 : (nlink_t)nd->nlink;
    st->st_size = nd->is_dir ? 4096 : (off_t)nd->size;
    st->st_blksize = BLK;
    st->st_blocks = (st->st_size + 511) / 512;
    st->st_mtim = st->st_ctim = st->st_atim = nd->mtime;
}

static void reply_entry(fuse_req_t req, node_t *nd)
{
    struct fuse_entry_param e;
    memset(&e, 0, sizeof(e));
    e.ino = nd->ino;
    e.generation = 1;
    fill_attr(nd, &e.attr);
    nd->nlookup++;
    if (fuse_reply_entry(req, &e) != 0)
        nd->nlookup--;
}

#define NODE_OR_ERR(nd, ino)         \
    node_t *nd = node_get(ino);      \
    if (!nd) {                       \
        fuse_reply_err(req, ESTALE); \
        return;                      \
    }

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    NODE_OR_ERR(dir, parent);
    dent_t *de = dir->is_dir ? dir_find(dir, name) : NULL;
    if (!de) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    reply_entry(req, node_get(de->ino));
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t n)
{
    node_t *nd = node_get(ino);
    if (nd) {
        nd->nlookup = nd->nlookup > n ? nd->nlookup - n : 0;
        node_maybe_free(nd);
    }
    fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count,
                            struct fuse_forget_data *fd)
{
    for (size_t i = 0; i < count; i++) {
        node_t *nd = node_get(fd[i].ino);
        if (nd) {
            nd->nlookup =
                nd->nlookup > fd[i].nlookup ? nd->nlookup - fd[i].nlookup : 0;
            node_maybe_free(nd);
        }
    }
    fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
                       struct fuse_file_info *fi)
{
    struct stat st;
    (void)fi;
    NODE_OR_ERR(nd, ino);
    fill_attr(nd, &st);
    fuse_reply_attr(req, &st, 0);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
                       int to_set, struct fuse_file_info *fi)
{
    struct stat st;
    (void)fi;
    NODE_OR_ERR(nd, ino);
    if (to_set & FUSE_SET_ATTR_SIZE) {
        if (nd->is_dir) {
            fuse_reply_err(req, EISDIR);
            return;
        }
        file_truncate(nd, (uint64_t)attr->st_size);
    }
    if (to_set & FUSE_SET_ATTR_MODE)
        nd->mode = (nd->mode & S_IFMT) | (attr->st_mode & 07777);
    if (to_set & FUSE_SET_ATTR_MTIME)
        nd->mtime = attr->st_mtim;
    if (to_set & FUSE_SET_ATTR_MTIME_NOW)
        clock_gettime(CLOCK_REALTIME, &nd->mtime);
    fill_attr(nd, &st);
    fuse_reply_attr(req, &st, 0);
}

static node_t *make_child(fuse_req_t req, fuse_ino_t parent, const char *name,
                          int is_dir, mode_t mode)
{
    node_t *dir = node_get(parent);
    if (!dir || !dir->is_dir) {
        fuse_reply_err(req, ENOTDIR);
        return NULL;
    }
    if (dir_find(dir, name)) {
        fuse_reply_err(req, EEXIST);
        return NULL;
    }
    if (strlen(name) > 255) {
        fuse_reply_err(req, ENAMETOOLONG);
        return NULL;
    }
    node_t *nd = node_new(next_ino, is_dir, mode);
    nd->nlink = 1;
    dir_add(dir, name, nd->ino);
    clock_gettime(CLOCK_REALTIME, &dir->mtime);
    return nd;
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
                     mode_t mode)
{
    node_t *nd = make_child(req, parent, name, 1, mode);
    if (nd)
        reply_entry(req, nd);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
                      mode_t mode, struct fuse_file_info *fi)
{
    node_t *nd = make_child(req, parent, name, 0, mode);
    struct fuse_entry_param e;
    if (!nd)
        return;
    memset(&e, 0, sizeof(e));
    e.ino = nd->ino;
    e.generation = 1;
    fill_attr(nd, &e.attr);
    nd->nlookup++;
    nd->nopen++;
    fi->keep_cache = 0;
    if (fuse_reply_create(req, &e, fi) != 0) {
        nd->nlookup--;
        nd->nopen--;
    }
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    NODE_OR_ERR(nd, ino);
    if (nd->is_dir) {
        fuse_reply_err(req, EISDIR);
        return;
    }
    if (fi->flags & O_TRUNC)
        file_truncate(nd, 0);
    fi->keep_cache = 0;
    nd->nopen++;
    if (fuse_reply_open(req, fi) != 0)
        nd->nopen--;
}

static void op_release(fuse_req_t req, fuse_ino_t ino,
                       struct fuse_file_info *fi)
{
    node_t *nd = node_get(ino);
    (void)fi;
    if (nd && nd->nopen > 0) {
        nd->nopen--;
        node_maybe_free(nd);
    }
    fuse_reply_err(req, 0);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    (void)fi;
    NODE_OR_ERR(nd, ino);
    if ((uint64_t)off >= nd->size) {
        fuse_reply_buf(req, NULL, 0);
        return;
    }
    if ((uint64_t)off + size > nd->size)
        size = (size_t)(nd->size - (uint64_t)off);
    char *buf = xcalloc(1, size);
    uint8_t blk[BLK];
    for (size_t done = 0; done < size;) {
        uint64_t pos = (uint64_t)off + done;
        size_t at = (size_t)(pos % BLK);
        size_t n = BLK - at < size - done ? BLK - at : size - done;
        read_block(nd, (size_t)(pos / BLK), blk);
        memcpy(buf + done, blk + at, n);
        done += n;
    }
    fuse_reply_buf(req, buf, size);
    free(buf);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
                     size_t size, off_t off, struct fuse_file_info *fi)
{
    (void)fi;
    NODE_OR_ERR(nd, ino);
    file_write(nd, buf, size, (uint64_t)off);
    fuse_reply_write(req, size);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    (void)fi;
    fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
                     struct fuse_file_info *fi)
{
    (void)datasync;
    (void)fi;
    NODE_OR_ERR(nd, ino);
    if (fail_next_fsync) {
        /* the writeback failed: what was dirty is never written now */
        fail_next_fsync = 0;
        for (size_t b = 0; b < nd->nblk; b++)
            if (nd->blk[b])
                nd->poison[b] = 1;
        fprintf(stderr, "plfs: failing fsync of inode %llu (EIO)\n",
                (unsigned long long)ino);
        fuse_reply_err(req, EIO);
        return;
    }
    file_sync(nd);
    fuse_reply_err(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
                        struct fuse_file_info *fi)
{
    (void)datasync;
    (void)fi;
    NODE_OR_ERR(nd, ino);
    dir_sync(nd);
    fuse_reply_err(req, 0);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
    (void)fi;
    NODE_OR_ERR(dir, ino);
    char *buf = xcalloc(1, size);
    size_t used = 0;
    /* offsets: 1 ".", 2 "..", 3+i entry i */
    for (off_t i = off; i < (off_t)dir->nents + 2; i++) {
        struct stat st;
        const char *name;
        memset(&st, 0, sizeof(st));
        if (i < 2) {
            name = i == 0 ? "." : "..";
            st.st_ino = dir->ino;
            st.st_mode = S_IFDIR;
        } else {
            node_t *c = node_get(dir->ents[i - 2].ino);
            name = dir->ents[i - 2].name;
            st.st_ino = c->ino;
            st.st_mode = c->mode;
        }
        size_t n =
            fuse_add_direntry(req, buf + used, size - used, name, &st, i + 1);
        if (n > size - used)
            break;
        used += n;
    }
    fuse_reply_buf(req, buf, used);
    free(buf);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    NODE_OR_ERR(dir, parent);
    dent_t *de = dir_find(dir, name);
    if (!de) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    node_t *nd = node_get(de->ino);
    if (nd->is_dir) {
        fuse_reply_err(req, EISDIR);
        return;
    }
    dir_del(dir, de);
    nd->nlink = 0;
    node_maybe_free(nd);
    fuse_reply_err(req, 0);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    NODE_OR_ERR(dir, parent);
    dent_t *de = dir_find(dir, name);
    if (!de) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    node_t *nd = node_get(de->ino);
    if (!nd->is_dir) {
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    if (nd->nents > 0) {
        fuse_reply_err(req, ENOTEMPTY);
        return;
    }
    dir_del(dir, de);
    nd->nlink = 0;
    node_maybe_free(nd);
    fuse_reply_err(req, 0);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
                      fuse_ino_t newparent, const char *newname,
                      unsigned int flags)
{
    NODE_OR_ERR(dir, parent);
    if (parent != newparent) {
        fuse_reply_err(req, EXDEV);
        return;
    }
    if (flags) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    dent_t *de = dir_find(dir, name);
    if (!de) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    node_t *nd = node_get(de->ino);
    dent_t *old = dir_find(dir, newname);
    if (old == de) {
        fuse_reply_err(req, 0);
        return;
    }
    if (old) {
        node_t *victim = node_get(old->ino);
        if (victim->is_dir != nd->is_dir ||
            (victim->is_dir && victim->nents > 0)) {
            fuse_reply_err(req, victim->is_dir ? ENOTEMPTY : EISDIR);
            return;
        }
        uint64_t ino = de->ino;
        dir_del(dir, old); /* may move de: find it again */
        victim->nlink = 0;
        node_maybe_free(victim);
        de = dir_find(dir, name);
        (void)ino;
    }
    free(de->name);
    de->name = strdup(newname);
    fuse_reply_err(req, 0);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
                    const char *newname)
{
    (void)ino;
    (void)newparent;
    (void)newname;
    fuse_reply_err(req, EPERM);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
    struct statvfs sv;
    (void)ino;
    memset(&sv, 0, sizeof(sv));
    sv.f_bsize = sv.f_frsize = BLK;
    sv.f_blocks = sv.f_bfree = sv.f_bavail = 1u << 24;
    sv.f_files = sv.f_ffree = 1u << 20;
    sv.f_namemax = 255;
    fuse_reply_statfs(req, &sv);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
                         off_t len, struct fuse_file_info *fi)
{
    (void)fi;
    NODE_OR_ERR(nd, ino);
    if (mode != 0) {
        fuse_reply_err(req, EOPNOTSUPP);
        return;
    }
    if ((uint64_t)(off + len) > nd->size)
        nd->size = (uint64_t)(off + len);
    fuse_reply_err(req, 0);
}

static const struct fuse_lowlevel_ops ops = {
    .lookup = op_lookup,
    .forget = op_forget,
    .forget_multi = op_forget_multi,
    .getattr = op_getattr,
    .setattr = op_setattr,
    .mkdir = op_mkdir,
    .unlink = op_unlink,
    .rmdir = op_rmdir,
    .rename = op_rename,
    .link = op_link,
    .open = op_open,
    .read = op_read,
    .write = op_write,
    .flush = op_flush,
    .release = op_release,
    .fsync = op_fsync,
    .readdir = op_readdir,
    .fsyncdir = op_fsyncdir,
    .statfs = op_statfs,
    .create = op_create,
    .fallocate = op_fallocate,
};

static void on_usr1(int sig)
{
    (void)sig;
    fail_next_fsync = 1;
}

int main(int argc, char **argv)
{
    if (argc != 3 || argv[1][0] == '-') {
        fprintf(stderr, "usage: plfs BACKING MOUNTPOINT\n"
                        "  kill -USR1: fail the next file fsync (EIO)\n"
                        "  kill -9, then umount -l: a power loss\n");
        return 2;
    }
    back = realpath(argv[1], NULL);
    if (!back)
        die("%s: %s", argv[1], strerror(errno));
    load();

    char *fargv[] = {argv[0], "-o", "fsname=plfs,subtype=plfs", NULL};
    struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
    struct fuse_session *se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
    if (!se)
        die("fuse_session_new failed");
    if (fuse_set_signal_handlers(se) != 0)
        die("cannot set signal handlers");
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    if (fuse_session_mount(se, argv[2]) != 0)
        die("cannot mount on %s", argv[2]);
    int rc = fuse_session_loop(se);
    fuse_session_unmount(se);
    fuse_remove_signal_handlers(se);
    fuse_session_destroy(se);
    return rc ? 1 : 0;
}
