/*
 * group_audit: see group_audit.h.
 */
#include "config.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "group_audit.h"
#include "qt_zk.h"

#define T_MS 5000

void qa_init(qa_t *qa)
{
    memset(qa, 0, sizeof(*qa));
    const char *tmp = getenv("TMPDIR");
    snprintf(qa->path, sizeof(qa->path), "%s/qa-events-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(qa->path);
    if (fd < 0) {
        perror("qa_init: mkstemp");
        abort();
    }
    close(fd);
}

void qa_fini(qa_t *qa)
{
    if (getenv("QA_KEEP"))
        fprintf(stderr, "events kept in %s\n", qa->path);
    else
        unlink(qa->path);
}

void qa_note(qa_t *qa, const char *what, const char *id)
{
    char line[256];
    int n = snprintf(line, sizeof(line), "%" PRId64 " test %s %s\n",
                     qt_now_ms(), what, id);
    int fd = open(qa->path, O_WRONLY | O_APPEND);
    if (fd < 0 || write(fd, line, (size_t)n) != n) {
        perror("qa_note");
        abort();
    }
    close(fd);
}

static qa_part_t *part(qa_t *qa, const char *topic, int32_t p)
{
    for (size_t i = 0; i < qa->part_cnt; i++)
        if (qa->parts[i].partition == p &&
            strcmp(qa->parts[i].topic, topic) == 0)
            return &qa->parts[i];
    if (qa->part_cnt == QA_MAX_PARTS)
        abort();
    qa_part_t *pp = &qa->parts[qa->part_cnt++];
    memset(pp, 0, sizeof(*pp));
    snprintf(pp->topic, sizeof(pp->topic), "%s", topic);
    pp->partition = p;
    pp->lastpos = -1;
    return pp;
}

static int set_has(char (*set)[QA_ID_MAX], size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(set[i], id) == 0)
            return 1;
    return 0;
}

static void set_add(char (*set)[QA_ID_MAX], size_t *n, const char *id)
{
    if (set_has(set, *n, id))
        return;
    for (size_t i = 0; i < *n; i++) {
        if (!set[i][0]) { /* a slot set_del() emptied */
            snprintf(set[i], QA_ID_MAX, "%s", id);
            return;
        }
    }
    if (*n == QA_MAX_MEMBERS * 4)
        abort();
    snprintf(set[(*n)++], QA_ID_MAX, "%s", id);
}

static void set_del(char (*set)[QA_ID_MAX], size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(set[i], id) == 0)
            set[i][0] = '\0';
}

static int is_dead(qa_t *qa, const char *id)
{
    return set_has(qa->dead, qa->dead_cnt, id);
}

static void violation(qa_t *qa, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void violation(qa_t *qa, const char *fmt, ...)
{
    va_list ap;
    if (qa->violations++ == 0) {
        va_start(ap, fmt);
        vsnprintf(qa->first, sizeof(qa->first), fmt, ap);
        va_end(ap);
    }
    va_start(ap, fmt);
    fprintf(stderr, "AUDIT: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* A member that was killed or stopped holds nothing from here on. */
static void drop_holder(qa_t *qa, const char *id)
{
    for (size_t i = 0; i < qa->part_cnt; i++) {
        if (strcmp(qa->parts[i].holder, id) == 0) {
            qa->parts[i].holder[0] = '\0';
            qa->parts[i].clean = 0;
        }
    }
}

static void replay(qa_t *qa, const char *line)
{
    char id[QA_ID_MAX], what[16], topic[64];
    long long ms, off;
    int p;
    if (sscanf(line, "%lld %95s %15s", &ms, id, what) != 3)
        return;
    if (strcmp(id, "test") == 0) {
        char who[QA_ID_MAX];
        if (sscanf(line, "%lld test %15s %95s", &ms, what, who) != 3)
            return;
        if (strcmp(what, "KILL") == 0 || strcmp(what, "STOP") == 0) {
            drop_holder(qa, who);
            set_add(qa->dead, &qa->dead_cnt, who);
        } else if (strcmp(what, "CONT") == 0) {
            set_del(qa->dead, qa->dead_cnt, who);
        }
        return;
    }
    if (strcmp(what, "ERROR") == 0) {
        qa->errors++;
        if (strstr(line, "REBALANCE_IN_PROGRESS"))
            qa->rebalance_errors++;
        /* revocations that follow come without a commit */
        if (strstr(line, "SESSION_EXPIRED") || strstr(line, "CONNECTION_LOSS"))
            set_add(qa->lost, &qa->lost_cnt, id);
        return;
    }
    if (sscanf(line, "%*s %*s %*s %63s %d %lld", topic, &p, &off) != 3)
        return;
    qa_part_t *pp = part(qa, topic, p);
    if (strcmp(what, "ASSIGN") == 0) {
        qa->assigns++;
        if (is_dead(qa, id))
            violation(qa, "%s assigned %s-%d while killed/stopped", id, topic,
                      p);
        else if (pp->holder[0])
            violation(qa, "%s-%d assigned to %s while %s holds it", topic, p,
                      id, pp->holder);
        if (pp->clean && pp->lastpos >= 0) {
            qa->handovers_checked++;
            if (off != pp->lastpos)
                violation(qa,
                          "%s-%d: %s starts at %lld, the last owner stopped "
                          "at %lld",
                          topic, p, id, off, (long long)pp->lastpos);
        }
        snprintf(pp->holder, sizeof(pp->holder), "%s", id);
        pp->clean = 0;
        set_del(qa->lost, qa->lost_cnt, id);
        if (qa->expect_parts) {
            size_t held = 0;
            for (size_t i = 0; i < qa->part_cnt; i++)
                held += qa->parts[i].holder[0] != '\0';
            if (held == qa->expect_parts)
                qa->full_ms = ms;
        }
    } else if (strcmp(what, "REVOKE") == 0) {
        qa->revokes++;
        /* a stopped member revokes after it wakes up: it held nothing
         * since its STOP line */
        if (strcmp(pp->holder, id) != 0)
            return;
        pp->holder[0] = '\0';
        pp->clean = !set_has(qa->lost, qa->lost_cnt, id);
        pp->lastpos = off;
    }
}

void qa_update(qa_t *qa)
{
    FILE *fp = fopen(qa->path, "r");
    if (!fp)
        abort();
    fseek(fp, qa->off, SEEK_SET);
    char line[1024];
    while (fgets(line, sizeof(line), fp)) {
        size_t n = strlen(line);
        if (n == 0 || line[n - 1] != '\n')
            break; /* a partial line: next time */
        qa->off += (long)n;
        replay(qa, line);
    }
    fclose(fp);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* One look: 1 when settled, else 0 with the reason in @p why. */
static int check_once(qa_t *qa, zhandle_t *zh, const char *group,
                      const qa_topic_t *topics, size_t topic_cnt,
                      const char **live, size_t live_cnt,
                      qr_assignor_kind_t kind, char *why, size_t why_size)
{
    char path[512];
    struct String_vector ids;
    snprintf(path, sizeof(path), "/consumers/%s/ids", group);
    if (qt_zk_children(zh, path, &ids, false, T_MS) != ZOK) {
        snprintf(why, why_size, "no ids");
        return 0;
    }
    int same = (size_t)ids.count == live_cnt;
    for (size_t i = 0; same && i < live_cnt; i++)
        same = strcmp(ids.data[i], live[i]) == 0;
    deallocate_String_vector(&ids);
    if (!same) {
        snprintf(why, why_size, "registrations differ from the %zu live",
                 live_cnt);
        return 0;
    }
    /* the assignor's answer over the same sorted view */
    size_t total = 0;
    qr_asg_topic_t at[16];
    for (size_t t = 0; t < topic_cnt; t++) {
        at[t].name = topics[t].name;
        at[t].part_cnt = topics[t].parts;
        total += (size_t)topics[t].parts;
    }
    uint8_t subs[QA_MAX_MEMBERS * 16];
    memset(subs, 1, sizeof(subs));
    qr_asg_in_t in = {at, topic_cnt, live, live_cnt, subs, NULL};
    int32_t want[QA_MAX_PARTS];
    char errstr[128];
    if (qr_assignor_run(kind == QR_ASSIGNOR_STICKY ? QR_ASSIGNOR_RANGE : kind,
                        &in, want, errstr, sizeof(errstr)) != QUIRE_ERR_NONE)
        abort();
    size_t cnt[QA_MAX_MEMBERS] = {0}, flat = 0;
    for (size_t t = 0; t < topic_cnt; t++) {
        for (int32_t p = 0; p < topics[t].parts; p++, flat++) {
            char *data = NULL;
            snprintf(path, sizeof(path), "/consumers/%s/owners/%s/%d", group,
                     topics[t].name, (int)p);
            int rc = qt_zk_get(zh, path, &data, NULL, NULL, false, T_MS);
            const char *const *hit =
                data ? bsearch(&data, live, live_cnt, sizeof(char *), cmp_str)
                     : NULL;
            qa_part_t *pp = part(qa, topics[t].name, p);
            int ok = rc == ZOK && hit && strcmp(pp->holder, data) == 0 &&
                     (kind == QR_ASSIGNOR_STICKY ||
                      (size_t)want[flat] == (size_t)(hit - live));
            if (!ok)
                snprintf(why, why_size,
                         "%s-%d: owner node %s, events say %s, assignor "
                         "says %s",
                         topics[t].name, (int)p, rc == ZOK ? data : "(none)",
                         pp->holder[0] ? pp->holder : "(none)",
                         live_cnt ? live[want[flat]] : "(none)");
            if (hit)
                cnt[hit - live]++;
            free(data);
            if (!ok)
                return 0;
        }
    }
    size_t lo = total, hi = 0;
    for (size_t m = 0; m < live_cnt; m++) {
        lo = cnt[m] < lo ? cnt[m] : lo;
        hi = cnt[m] > hi ? cnt[m] : hi;
    }
    /* range balances per topic only (its answer was compared above) */
    if (kind != QR_ASSIGNOR_RANGE && live_cnt && hi > lo + 1) {
        snprintf(why, why_size, "unbalanced: %zu .. %zu", lo, hi);
        return 0;
    }
    return 1;
}

int qa_settled(qa_t *qa, zhandle_t *zh, const char *group,
               const qa_topic_t *topics, size_t topic_cnt,
               const char *const *live, size_t live_cnt,
               qr_assignor_kind_t kind, int timeout_ms, char *why,
               size_t why_size)
{
    const char *sorted[QA_MAX_MEMBERS];
    if (live_cnt > QA_MAX_MEMBERS || topic_cnt > 16)
        abort();
    memcpy(sorted, live, live_cnt * sizeof(char *));
    qsort(sorted, live_cnt, sizeof(char *), cmp_str);
    int64_t deadline = qt_now_ms() + timeout_ms;
    for (;;) {
        qa_update(qa);
        if (check_once(qa, zh, group, topics, topic_cnt, sorted, live_cnt, kind,
                       why, why_size))
            return 1;
        if (qt_now_ms() > deadline)
            return 0;
        qt_sleep_ms(100);
    }
}
