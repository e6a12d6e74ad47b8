/*
 * assignor_sticky: balanced within one partition, then sticky.
 *
 * The rule, in three steps over the sorted view:
 *
 * 1. Quotas: how many partitions each member gets. When every member has
 *    the same subscription (the usual case), the N partitions of the
 *    subscribed topics give each of the M members N/M, and E = N%M of them
 *    one more: first the members that already own at least N/M+1 of them,
 *    in member order, then the first other members in member order. With
 *    different subscriptions, the quotas are the counts of a greedy
 *    balanced assignment (partitions with the fewest candidate members
 *    first, each to the candidate with the fewest so far), so they are
 *    always achievable.
 * 2. Keep: each member keeps the partitions it owns now (prev), in sorted
 *    order, up to its quota. Owners that left the group own nothing.
 * 3. Fill: members in order take the remaining partitions of their topics,
 *    in sorted order, up to their quota; anything still unplaced (possible
 *    only with different subscriptions) goes to the candidate member with
 *    the fewest partitions.
 *
 * Why it suits a group that rebalances without a leader: a member reads the
 * owner nodes (prev) at a moment of its own, possibly after some members
 * released or claimed part of the same rebalance. With equal
 * subscriptions the answer does not change: a member over its quota only
 * ever releases partitions beyond its first `quota` ones, which step 2
 * dropped anyway; a member that claimed partitions of its fill block keeps
 * them in step 2 and takes the rest of the same block in step 3, and the
 * members before and after it see the same remaining list; and step 1
 * gives the extra partitions to the same members, because releases stop
 * at the quota and claims reach N/M+1 only for a member that got an extra.
 * So members agree, and the only partitions released are the ones that
 * move (incremental rebalance).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "assignor.h"

typedef struct sticky {
    const qr_asg_in_t *in;
    size_t parts;     /* flat partition count */
    size_t *topic_of; /* per flat partition */
    size_t *quota;    /* per member */
    size_t *cnt;      /* per member: assigned so far */
    int32_t *owner;   /* the output */
} sticky_t;

static int eligible(const sticky_t *s, size_t m, size_t p)
{
    return s->in->subs[m * s->in->topic_cnt + s->topic_of[p]] != 0;
}

static int uniform_subs(const qr_asg_in_t *in)
{
    for (size_t m = 1; m < in->member_cnt; m++)
        if (memcmp(in->subs, in->subs + m * in->topic_cnt, in->topic_cnt))
            return 0;
    return 1;
}

static void quota_uniform(sticky_t *s)
{
    const qr_asg_in_t *in = s->in;
    size_t mc = in->member_cnt, n = 0;
    for (size_t p = 0; p < s->parts; p++)
        n += eligible(s, 0, p);
    size_t per = n / mc, extra = n % mc;
    size_t *held = qr_calloc(mc, sizeof(*held));
    unsigned char *more = qr_calloc(mc, 1);
    for (size_t p = 0; in->prev && p < s->parts; p++) {
        int32_t m = in->prev[p];
        if (m >= 0 && eligible(s, (size_t)m, p))
            held[m]++;
    }
    for (size_t m = 0; m < mc && extra > 0; m++) {
        if (held[m] >= per + 1) {
            more[m] = 1;
            extra--;
        }
    }
    for (size_t m = 0; m < mc && extra > 0; m++) {
        if (!more[m]) {
            more[m] = 1;
            extra--;
        }
    }
    for (size_t m = 0; m < mc; m++)
        s->quota[m] = per + more[m];
    free(held);
    free(more);
}

/* Partitions of the topics with the fewest candidates first (a topic's
 * partitions stay together, in number order), each to the candidate with
 * the fewest so far, ties to the lowest index. Only the counts are used. */
static void quota_greedy(sticky_t *s)
{
    const qr_asg_in_t *in = s->in;
    size_t tc = in->topic_cnt, mc = in->member_cnt;
    size_t *cands = qr_calloc(tc ? tc : 1, sizeof(*cands));
    for (size_t t = 0; t < tc; t++)
        for (size_t m = 0; m < mc; m++)
            cands[t] += in->subs[m * tc + t] != 0;
    for (size_t c = 1; c <= mc; c++) {
        for (size_t t = 0; t < tc; t++) {
            if (cands[t] != c)
                continue;
            for (int32_t p = 0; p < in->topics[t].part_cnt; p++) {
                size_t best = mc;
                for (size_t m = 0; m < mc; m++)
                    if (in->subs[m * tc + t] &&
                        (best == mc || s->quota[m] < s->quota[best]))
                        best = m;
                s->quota[best]++;
            }
        }
    }
    free(cands);
}

static void keep_prev(sticky_t *s)
{
    const qr_asg_in_t *in = s->in;
    for (size_t p = 0; in->prev && p < s->parts; p++) {
        int32_t m = in->prev[p];
        if (m < 0 || !eligible(s, (size_t)m, p) || s->cnt[m] >= s->quota[m])
            continue;
        s->owner[p] = m;
        s->cnt[m]++;
    }
}

static void fill(sticky_t *s)
{
    size_t mc = s->in->member_cnt, first = 0;
    for (size_t m = 0; m < mc; m++) {
        /* every partition before `first` is placed: skip them */
        while (first < s->parts && s->owner[first] >= 0)
            first++;
        for (size_t p = first; p < s->parts && s->cnt[m] < s->quota[m]; p++) {
            if (s->owner[p] >= 0 || !eligible(s, m, p))
                continue;
            s->owner[p] = (int32_t)m;
            s->cnt[m]++;
        }
    }
    for (size_t p = first; p < s->parts; p++) {
        if (s->owner[p] >= 0)
            continue;
        size_t best = mc;
        for (size_t m = 0; m < mc; m++)
            if (eligible(s, m, p) && (best == mc || s->cnt[m] < s->cnt[best]))
                best = m;
        if (best < mc) {
            s->owner[p] = (int32_t)best;
            s->cnt[best]++;
        }
    }
}

void qr_assignor_sticky(const qr_asg_in_t *in, int32_t *owner)
{
    sticky_t s = {.in = in, .owner = owner, .parts = qr_asg_part_total(in)};
    for (size_t p = 0; p < s.parts; p++)
        owner[p] = -1;
    if (in->member_cnt == 0 || s.parts == 0)
        return;
    s.topic_of = qr_malloc(s.parts * sizeof(*s.topic_of));
    for (size_t t = 0, p = 0; t < in->topic_cnt; t++)
        for (int32_t i = 0; i < in->topics[t].part_cnt; i++)
            s.topic_of[p++] = t;
    s.quota = qr_calloc(in->member_cnt, sizeof(*s.quota));
    s.cnt = qr_calloc(in->member_cnt, sizeof(*s.cnt));
    if (uniform_subs(in))
        quota_uniform(&s);
    else
        quota_greedy(&s);
    keep_prev(&s);
    fill(&s);
    free(s.topic_of);
    free(s.quota);
    free(s.cnt);
}
