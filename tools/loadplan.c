/*
 * loadplan: Camus names and the coverage of committed files
 * (loadplan.h).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "loadplan.h"

void qr_lranges_add(qr_lranges_t *rs, int64_t first, int64_t last)
{
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 16;
        rs->v = qr_realloc(rs->v, rs->cap * sizeof(*rs->v));
    }
    rs->v[rs->n].first = first;
    rs->v[rs->n].last = last;
    rs->n++;
}

void qr_lranges_free(qr_lranges_t *rs)
{
    free(rs->v);
    memset(rs, 0, sizeof(*rs));
}

const char *qr_lname_ext(const char *format)
{
    if (!strcmp(format, "avro"))
        return "avro";
    if (!strcmp(format, "json"))
        return "json";
    if (!strcmp(format, "text"))
        return "txt";
    return NULL;
}

static int ext_known(const char *ext)
{
    return !strcmp(ext, "avro") || !strcmp(ext, "json") || !strcmp(ext, "txt");
}

/* A whole non-negative decimal number ending at @p end. */
static int parse_num(const char *s, const char *end, int64_t max, int64_t *out)
{
    int64_t v = 0;
    if (s == end || end - s > 19)
        return -1;
    for (; s < end; s++) {
        if (*s < '0' || *s > '9' || v > (max - (*s - '0')) / 10)
            return -1;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return 0;
}

int qr_lname_parse(const char *name, const char *topic, int32_t *partp,
                   int64_t *firstp, int64_t *lastp)
{
    size_t tlen = strlen(topic);
    int64_t p, first, last;
    if (strncmp(name, topic, tlen) != 0 || name[tlen] != '+')
        return -1;
    const char *s = name + tlen + 1, *e1 = strchr(s, '+');
    const char *e2 = e1 ? strchr(e1 + 1, '+') : NULL;
    const char *dot = e2 ? strchr(e2 + 1, '.') : NULL;
    if (!dot || !ext_known(dot + 1) || parse_num(s, e1, INT32_MAX, &p) ||
        parse_num(e1 + 1, e2, INT64_MAX, &first) ||
        parse_num(e2 + 1, dot, INT64_MAX, &last) || first > last)
        return -1;
    *partp = (int32_t)p;
    *firstp = first;
    *lastp = last;
    return 0;
}

int qr_lpath_hour(char *buf, size_t size, const char *output, const char *topic,
                  int64_t ts_ms)
{
    /* floor, so that -1 (no timestamp) is 1969-12-31 23h, not 1970 */
    time_t t = (time_t)(ts_ms >= 0 ? ts_ms / 1000 : (ts_ms - 999) / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    int n = snprintf(buf, size, "%s/%s/%04d/%02d/%02d/%02d", output, topic,
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* ---- scanning the output ---- */

/* Walks @p depth more levels of yyyy/mm/dd/hh under @p dir, then reads
 * the file names of the hour directory. */
static quire_err_t scan_dir(const char *dir, int depth, const char *topic,
                            qr_lranges_t *out, int32_t part_cnt, char *errstr,
                            size_t errstr_size)
{
    DIR *d = opendir(dir);
    quire_err_t err = QUIRE_ERR_NONE;
    struct dirent *de;
    if (!d) {
        if (errno == ENOENT)
            return QUIRE_ERR_NONE;
        snprintf(errstr, errstr_size, "cannot read %s: %s", dir,
                 strerror(errno));
        return QUIRE_ERR_IO;
    }
    while (err == QUIRE_ERR_NONE && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || de->d_name[0] == '_')
            continue;
        if (depth > 0) {
            size_t n = strlen(dir) + strlen(de->d_name) + 2;
            char *sub = qr_malloc(n);
            snprintf(sub, n, "%s/%s", dir, de->d_name);
            if (strspn(de->d_name, "0123456789") == strlen(de->d_name))
                err = scan_dir(sub, depth - 1, topic, out, part_cnt, errstr,
                               errstr_size);
            free(sub);
            continue;
        }
        int32_t p;
        int64_t first, last;
        if (qr_lname_parse(de->d_name, topic, &p, &first, &last) == 0 &&
            p < part_cnt)
            qr_lranges_add(&out[p], first, last);
    }
    closedir(d);
    return err;
}

quire_err_t qr_lscan_topic(const char *output, const char *topic,
                           qr_lranges_t *out, int32_t part_cnt, char *errstr,
                           size_t errstr_size)
{
    size_t n = strlen(output) + strlen(topic) + 2;
    char *dir = qr_malloc(n);
    snprintf(dir, n, "%s/%s", output, topic);
    quire_err_t err =
        scan_dir(dir, 4, topic, out, part_cnt, errstr, errstr_size);
    free(dir);
    return err;
}

/* ---- coverage and gaps ---- */

static int range_cmp(const void *a, const void *b)
{
    const qr_lrange_t *x = a, *y = b;
    return (x->first > y->first) - (x->first < y->first);
}

/* qsort may not be given NULL, even for no element */
static void sort_ranges(qr_lranges_t *rs)
{
    if (rs->n > 1)
        qsort(rs->v, rs->n, sizeof(*rs->v), range_cmp);
}

int64_t qr_lcover_end(qr_lranges_t *rs, int64_t from)
{
    sort_ranges(rs);
    int64_t next = from;
    for (size_t i = 0; i < rs->n; i++) {
        if (rs->v[i].first < from || rs->v[i].first > next)
            continue;
        if (rs->v[i].first == next)
            next = rs->v[i].last + 1;
    }
    return next;
}

/* Appends [first, last] cut into pieces of at most @p split records. */
static void add_split(qr_lranges_t *out, int64_t first, int64_t last,
                      int64_t split)
{
    while (split > 0 && last - first + 1 > split) {
        qr_lranges_add(out, first, first + split - 1);
        first += split;
    }
    qr_lranges_add(out, first, last);
}

int64_t qr_lplan_gaps(qr_lranges_t *rs, int64_t from, int64_t end,
                      int64_t split, qr_lranges_t *out)
{
    int64_t next = from, total = 0;
    sort_ranges(rs);
    for (size_t i = 0; i < rs->n && next < end; i++) {
        if (rs->v[i].last < next)
            continue;
        if (rs->v[i].first > next) {
            int64_t last =
                rs->v[i].first - 1 < end - 1 ? rs->v[i].first - 1 : end - 1;
            add_split(out, next, last, split);
            total += last - next + 1;
        }
        next = rs->v[i].last + 1;
    }
    if (next < end) {
        add_split(out, next, end - 1, split);
        total += end - next;
    }
    return total;
}
