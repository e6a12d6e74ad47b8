/*
 * assignor: the shared part of the three strategies (the input check, flat
 * partition numbering and the dispatch). See assignor.h.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "assignor.h"

static const char *const kind_names[] = {"range", "roundrobin", "sticky"};
_Static_assert(QR_ARRAY_LEN(kind_names) == QR_ASSIGNOR_COUNT,
               "kind_names and qr_assignor_kind_t out of step");

int qr_assignor_parse(const char *name, qr_assignor_kind_t *kind)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < QR_ARRAY_LEN(kind_names); i++) {
        if (strcmp(name, kind_names[i]) == 0) {
            *kind = (qr_assignor_kind_t)i;
            return 0;
        }
    }
    return -1;
}

const char *qr_assignor_name(qr_assignor_kind_t kind)
{
    if ((unsigned)kind >= QR_ASSIGNOR_COUNT)
        return "?";
    return kind_names[kind];
}

size_t qr_asg_base(const qr_asg_in_t *in, size_t t)
{
    size_t base = 0;
    for (size_t i = 0; i < t && i < in->topic_cnt; i++)
        base += (size_t)in->topics[i].part_cnt;
    return base;
}

size_t qr_asg_part_total(const qr_asg_in_t *in)
{
    return qr_asg_base(in, in->topic_cnt);
}

static quire_err_t check_names(const qr_asg_in_t *in, char *errstr,
                               size_t errstr_size)
{
    for (size_t m = 0; m < in->member_cnt; m++) {
        if (!in->members[m]) {
            snprintf(errstr, errstr_size, "member %zu has no id", m);
            return QUIRE_ERR_BAD_ARG;
        }
        if (m > 0 && strcmp(in->members[m - 1], in->members[m]) >= 0) {
            snprintf(errstr, errstr_size,
                     "members not sorted and distinct at %zu (%s)", m,
                     in->members[m]);
            return QUIRE_ERR_BAD_ARG;
        }
    }
    for (size_t t = 0; t < in->topic_cnt; t++) {
        const qr_asg_topic_t *tp = &in->topics[t];
        if (!tp->name) {
            snprintf(errstr, errstr_size, "topic %zu has no name", t);
            return QUIRE_ERR_BAD_ARG;
        }
        if (t > 0 && strcmp(in->topics[t - 1].name, tp->name) >= 0) {
            snprintf(errstr, errstr_size,
                     "topics not sorted and distinct at %zu (%s)", t, tp->name);
            return QUIRE_ERR_BAD_ARG;
        }
    }
    return QUIRE_ERR_NONE;
}

quire_err_t qr_assignor_check(const qr_asg_in_t *in, char *errstr,
                              size_t errstr_size)
{
    if (!in || (in->member_cnt && !in->members) ||
        (in->topic_cnt && !in->topics)) {
        snprintf(errstr, errstr_size, "no input");
        return QUIRE_ERR_BAD_ARG;
    }
    if (in->member_cnt > QR_ASG_MAX_MEMBERS) {
        snprintf(errstr, errstr_size, "%zu members, at most %d", in->member_cnt,
                 QR_ASG_MAX_MEMBERS);
        return QUIRE_ERR_BAD_ARG;
    }
    if (in->member_cnt && in->topic_cnt && !in->subs) {
        snprintf(errstr, errstr_size, "no subscription matrix");
        return QUIRE_ERR_BAD_ARG;
    }
    quire_err_t err = check_names(in, errstr, errstr_size);
    if (err != QUIRE_ERR_NONE)
        return err;
    size_t total = 0;
    for (size_t t = 0; t < in->topic_cnt; t++) {
        int32_t n = in->topics[t].part_cnt;
        if (n < 0 || (size_t)n > QR_ASG_MAX_PARTITIONS - total) {
            snprintf(errstr, errstr_size,
                     "topic %s: bad partition count %d (at most %d "
                     "partitions in all)",
                     in->topics[t].name, (int)n, QR_ASG_MAX_PARTITIONS);
            return QUIRE_ERR_BAD_ARG;
        }
        total += (size_t)n;
    }
    for (size_t p = 0; in->prev && p < total; p++) {
        if (in->prev[p] < -1 || in->prev[p] >= (int64_t)in->member_cnt) {
            snprintf(errstr, errstr_size,
                     "previous owner %d of partition %zu out of range",
                     (int)in->prev[p], p);
            return QUIRE_ERR_BAD_ARG;
        }
    }
    return QUIRE_ERR_NONE;
}

quire_err_t qr_assignor_run(qr_assignor_kind_t kind, const qr_asg_in_t *in,
                            int32_t *owner, char *errstr, size_t errstr_size)
{
    quire_err_t err = qr_assignor_check(in, errstr, errstr_size);
    if (err != QUIRE_ERR_NONE)
        return err;
    switch (kind) {
    case QR_ASSIGNOR_RANGE:
        qr_assignor_range(in, owner);
        return QUIRE_ERR_NONE;
    case QR_ASSIGNOR_ROUNDROBIN:
        qr_assignor_roundrobin(in, owner);
        return QUIRE_ERR_NONE;
    case QR_ASSIGNOR_STICKY:
        qr_assignor_sticky(in, owner);
        return QUIRE_ERR_NONE;
    case QR_ASSIGNOR_COUNT:
        break;
    }
    snprintf(errstr, errstr_size, "unknown assignment strategy %d", (int)kind);
    return QUIRE_ERR_BAD_ARG;
}
