/*
 * assignor_range: Kafka's RangeAssignor (and the ZooKeeper consumer's
 * RangeAssignor before it), topic by topic.
 *
 * For each topic, the c members subscribed to it, in sorted order, split
 * its n partitions into contiguous ranges: each gets n/c, and the first
 * n%c members one more. Member i starts at i*(n/c) + min(i, n%c).
 * Kafka's example (RangeAssignor javadoc): C0 and C1 on t0 and t1, three
 * partitions each, give C0 [t0p0, t0p1, t1p0, t1p1] and C1 [t0p2, t1p2].
 */
#include "config.h"

#include "assignor.h"

void qr_assignor_range(const qr_asg_in_t *in, int32_t *owner)
{
    size_t base = 0;
    for (size_t t = 0; t < in->topic_cnt; t++) {
        size_t n = (size_t)in->topics[t].part_cnt;
        size_t c = 0;
        for (size_t m = 0; m < in->member_cnt; m++)
            c += in->subs[m * in->topic_cnt + t] != 0;
        if (c == 0) {
            for (size_t p = 0; p < n; p++)
                owner[base + p] = -1;
            base += n;
            continue;
        }
        size_t per = n / c, extra = n % c, i = 0;
        for (size_t m = 0; m < in->member_cnt; m++) {
            if (!in->subs[m * in->topic_cnt + t])
                continue;
            size_t start = per * i + (i < extra ? i : extra);
            size_t len = per + (i < extra ? 1 : 0);
            for (size_t p = start; p < start + len; p++)
                owner[base + p] = (int32_t)m;
            i++;
        }
        base += n;
    }
}
