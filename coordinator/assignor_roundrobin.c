/*
 * assignor_roundrobin: Kafka's RoundRobinAssignor (the new consumer's, which
 * allows members with different subscriptions; the ZooKeeper consumer's
 * required identical ones and sorted by hash code).
 *
 * Every topic-partition, topics by name then partitions by number, goes to
 * the next member of a circular walk over the sorted members; members not
 * subscribed to the partition's topic are skipped (Kafka's
 * CircularIterator: peek until subscribed, then take and advance).
 * Kafka's examples (RoundRobinAssignor javadoc):
 *   C0, C1 on t0, t1 (3 partitions each):
 *     C0 [t0p0, t0p2, t1p1], C1 [t0p1, t1p0, t1p2]
 *   C0 on t0; C1 on t0, t1; C2 on t0, t1, t2 (1, 2, 3 partitions):
 *     C0 [t0p0], C1 [t1p0], C2 [t1p1, t2p0, t2p1, t2p2]
 */
#include "config.h"

#include "assignor.h"

void qr_assignor_roundrobin(const qr_asg_in_t *in, int32_t *owner)
{
    size_t base = 0, next = 0, mc = in->member_cnt;
    for (size_t t = 0; t < in->topic_cnt; t++) {
        size_t n = (size_t)in->topics[t].part_cnt;
        int any = 0;
        for (size_t m = 0; m < mc && !any; m++)
            any = in->subs[m * in->topic_cnt + t] != 0;
        for (size_t p = 0; p < n; p++) {
            if (!any) {
                owner[base + p] = -1;
                continue;
            }
            while (!in->subs[next * in->topic_cnt + t])
                next = (next + 1) % mc;
            owner[base + p] = (int32_t)next;
            next = (next + 1) % mc;
        }
        base += n;
    }
}
