/*
 * group: one member of a consumer group, over Kafka's ZooKeeper layout
 * (DESIGN.md §5-6, Kafka's ZookeeperConsumerConnector):
 *
 *   /consumers/<g>/ids/<consumer-id>    ephemeral  {"version":1,
 *       "subscription":{"<topic>":1,...},"pattern":"static",
 *       "timestamp":"<ms>"}   (a regular expression subscription:
 *       {"<regex>":1} with "pattern":"white_list")
 *   /consumers/<g>/owners/<t>/<p>       ephemeral  the owner's consumer id
 *   /consumers/<g>/offsets/<t>/<p>      persistent the next offset, decimal
 *
 * The group object runs on the loop of the qr_zk_t it is given and tells
 * its user (libquire's group consumer, the test member program) what to
 * fetch through two callbacks:
 *   revoked(tps)   stop fetching these now. Called before their owner
 *                  nodes are released; the user may store final positions
 *                  (qr_group_offset_store()) inside the callback, and the
 *                  group commits them and waits until ZooKeeper has them
 *                  before it releases anything, so the next owner starts
 *                  from them.
 *   assigned(tps)  start fetching these, each from tps[i].offset (the
 *                  committed next offset, or QR_GROUP_OFFSET_NONE: apply
 *                  auto.offset.reset). Called only after every owner node
 *                  of the new assignment is ours.
 *
 * A rebalance attempt (rebalance.c): read the members, their
 * subscriptions, the subscribed topics' partition lists and (sticky) the
 * current owners, leaving watches; compute the assignment (assignor.h);
 * revoke what the user fetches and will no longer own (range and
 * roundrobin: everything, as Kafka's eager rebalance; sticky: only the
 * partitions that move, so the rest keep flowing); commit; release owner
 * nodes no longer assigned; claim the new ones (ephemeral create). A claim
 * that finds the node taken leaves a watch on it and retries as soon as it
 * goes, or after rebalance.backoff.ms; after rebalance.max.retries
 * attempts the error is reported through the error callback and the group
 * keeps retrying every rebalance.backoff.ms * 4: it never sits idle with
 * partitions nobody owns (KAFKA-4228). Watch events that arrive in a burst
 * (within rebalance.coalesce.ms) make one rebalance; events during an
 * attempt make one more after it.
 *
 * Sessions: on expiry everything is revoked at once (our ephemerals are
 * gone, so another member may own the partitions already); on the new
 * session the member registers again and rebalances. When the connection
 * stays lost for a whole session timeout, everything is revoked too: the
 * session may have expired without our knowing. Owner and registration
 * nodes that still carry our id but belong to an older session of ours
 * (ephemeralOwner) are waited out, never taken for ours.
 *
 * Connection loss (the same session comes back): a request whose answer
 * was lost may have been applied or not. So an owner node is deleted only
 * after reading it in the same attempt and finding our session and id
 * (a delete of the version read); every attempt first re-reads the owner
 * nodes it holds or whose claim went unanswered, and takes the answer as
 * the truth (ours: held; gone or someone else's: not held, and revoked
 * when fetched). Once the delete of an owner node goes out, no commit of
 * that partition does. Member nodes are read with a watch, so a
 * subscription change rebalances every member. While the session may
 * still be alive but ZooKeeper has not answered for a while, the lease
 * (qr_group_lease_until_ns()) tells the user to stop handing out records.
 *
 * Ownership: the conf and callbacks are copied; @c opaque is borrowed for
 * the group's lifetime; the qr_zk_t is borrowed and must outlive the group.
 * Every callback runs on the loop, from inside ZooKeeper processing or a
 * timer; it must not destroy the group (schedule that).
 */
#ifndef QR_GROUP_H
#define QR_GROUP_H

#include <stddef.h>
#include <stdint.h>

#include "assignor.h"
#include "err.h"
#include "zk.h"

typedef struct qr_group qr_group_t;

/** No committed offset: the user applies auto.offset.reset. */
#define QR_GROUP_OFFSET_NONE (-1)

/** Longest group id accepted (a path component, checked like a topic). */
#define QR_GROUP_ID_MAX 249

typedef struct qr_group_conf {
    const char *group_id;        /* group.id, [A-Za-z0-9._-]{1,249} */
    const char *consumer_id;     /* NULL: <group>_<host>-<ms>-<8 hex> */
    qr_assignor_kind_t strategy; /* partition.assignment.strategy */
    int rebalance_backoff_ms;    /* rebalance.backoff.ms (Kafka: 2000) */
    int rebalance_max_retries;   /* rebalance.max.retries (Kafka: 4) */
    int rebalance_coalesce_ms;   /* quiet time before a rebalance (100) */
    int auto_commit_interval_ms; /* auto.commit.interval.ms; 0: off */
} qr_group_conf_t;

/** One partition handed to a callback; strings borrowed for the call. */
typedef struct qr_group_tp {
    const char *topic;
    int32_t partition;
    int64_t offset; /* assigned: where to start; revoked: the stored
                       position, QR_GROUP_OFFSET_NONE if none */
} qr_group_tp_t;

typedef struct qr_group_cbs {
    void *opaque; /* borrowed, passed to every callback */
    /* stop fetching @p tps (sorted by topic, partition); see above */
    void (*revoked)(void *opaque, qr_group_t *g, const qr_group_tp_t *tps,
                    size_t n);
    /* start fetching @p tps (sorted) from tps[i].offset */
    void (*assigned)(void *opaque, qr_group_t *g, const qr_group_tp_t *tps,
                     size_t n);
    /* a problem worth telling: rebalance still failing after
     * rebalance.max.retries (the group keeps trying), bad member data,
     * session expired. @p msg borrowed for the call. May be NULL. */
    void (*error)(void *opaque, qr_group_t *g, quire_err_t err,
                  const char *msg);
    /* qr_group_close() finished: our nodes are gone. May be NULL. */
    void (*closed)(void *opaque, qr_group_t *g);
    /* the lease on the owned partitions now lasts until @p until_ns
     * (qr_clock_mono_ns(); 0: no lease). Called when it is renewed (every
     * quarter of the session timeout while ZooKeeper answers) and before
     * each assigned(). May be NULL. See qr_group_lease_until_ns(). */
    void (*lease)(void *opaque, qr_group_t *g, int64_t until_ns);
} qr_group_cbs_t;

/** The lease: the share of the negotiated session timeout, counted from
 * the issue time of the latest request ZooKeeper answered, during which
 * this member may hand out records of the partitions it owns. */
#define QR_GROUP_LEASE_NUM 3
#define QR_GROUP_LEASE_DEN 4

/** Completion of qr_group_commit(): QUIRE_ERR_NONE once every changed
 * offset is in ZooKeeper. */
typedef void(qr_group_commit_cb_t)(qr_group_t *g, quire_err_t err,
                                   void *opaque);

/**
 * @brief Fills @p conf with Kafka's defaults (range, backoff 2000 ms,
 * 4 retries, coalesce 100 ms, auto commit every 5000 ms).
 * @locality any  @locks none
 */
void qr_group_conf_init(qr_group_conf_t *conf);

/**
 * @brief Checks @p conf and builds the member; nothing is contacted until
 * qr_group_start().
 * @returns owned (qr_group_destroy()), or NULL with one line in @p errstr
 *          (bad group id, consumer id or number).
 * @locality main loop  @locks none
 */
qr_group_t *qr_group_new(qr_zk_t *zk, const qr_group_conf_t *conf,
                         const qr_group_cbs_t *cbs, char *errstr,
                         size_t errstr_size);

/**
 * @brief Subscribes to a list of topics (replacing any subscription). Before
 * qr_group_start() it only records them; afterwards it rewrites the
 * registration and rebalances.
 * @param topics borrowed, copied; each must be a legal topic name.
 * @returns QUIRE_ERR_NONE, QUIRE_ERR_INVALID_TOPIC_EXCEPTION (@p errstr
 *          names it) or QUIRE_ERR_BAD_ARG (none given).
 * @locality main loop  @locks none
 */
quire_err_t qr_group_subscribe(qr_group_t *g, const char *const *topics,
                               size_t n, char *errstr, size_t errstr_size);

/**
 * @brief Subscribes to every topic matching @p pattern (POSIX extended
 * regular expression, anchored at both ends as Java's matches() is),
 * including topics created later.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_BAD_ARG (the regcomp error in
 *          @p errstr).
 * @locality main loop  @locks none
 */
quire_err_t qr_group_subscribe_regex(qr_group_t *g, const char *pattern,
                                     char *errstr, size_t errstr_size);

/**
 * @brief Joins: registers under ids once the session is up, then
 * rebalances. Needs a subscription.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_STATE.
 * @locality main loop  @locks none
 */
quire_err_t qr_group_start(qr_group_t *g);

/** @brief This member's consumer id. @returns borrowed, valid for @p g's
 * lifetime. @locality any @locks none */
const char *qr_group_consumer_id(const qr_group_t *g);

/**
 * @brief Called inside the revoked callback: the group waits, before it
 * commits and releases what it revoked (a rebalance, or close), until
 * qr_group_revoke_done() has been called once for each call of this.
 * libquire hands the revocation to the application's poll this way, so
 * the application's own callback runs, and may commit, while the owner
 * nodes are still ours. A revocation that nobody waits for (a session
 * lost) is simply counted down.
 * @locality main loop  @locks none
 */
void qr_group_revoke_defer(qr_group_t *g);

/**
 * @brief Ends one qr_group_revoke_defer(); when none is left the waiting
 * rebalance or close goes on (from inside this call).
 * @locality main loop (not from inside a group callback)  @locks none
 */
void qr_group_revoke_done(qr_group_t *g);

/**
 * @brief Records the position (next offset to read) of an assigned
 * partition; committed on the next commit if it changed.
 * @returns QUIRE_ERR_NONE, QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION when the
 *          partition is not assigned to this member now, or
 *          QUIRE_ERR_BAD_ARG for a negative offset.
 * @locality main loop  @locks none
 */
quire_err_t qr_group_offset_store(qr_group_t *g, const char *topic,
                                  int32_t partition, int64_t offset);

/**
 * @brief Commits every stored position that differs from what ZooKeeper
 * has, for the partitions this member owns (or is releasing).
 * @param cb may be NULL; otherwise called exactly once, later, from the
 *        loop (also when there was nothing to write).
 * @returns QUIRE_ERR_NONE (cb will run), or QUIRE_ERR_STATE when closed.
 * @locality main loop  @locks none
 */
quire_err_t qr_group_commit(qr_group_t *g, qr_group_commit_cb_t *cb,
                            void *opaque);

/**
 * @brief The last committed offset of @p topic-@p partition this member
 * knows (read when assigned, or written since).
 * @returns QUIRE_ERR_NONE with *@p offset (QR_GROUP_OFFSET_NONE when none),
 *          or QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION when not assigned.
 * @locality main loop  @locks none
 */
quire_err_t qr_group_committed(const qr_group_t *g, const char *topic,
                               int32_t partition, int64_t *offset);

/**
 * @brief The partitions the user should be fetching now (assigned and not
 * revoked), sorted.
 * @returns the count; *@p tps borrowed until the next callback or call on
 *          @p g.
 * @locality main loop  @locks none
 */
size_t qr_group_assignment(const qr_group_t *g, const qr_group_tp_t **tps);

/**
 * @brief Until when this member may treat its owned partitions as its own
 * (monotonic ns, qr_clock_mono_ns()): qr_zk_heard_ns() plus
 * QR_GROUP_LEASE_NUM/QR_GROUP_LEASE_DEN of the negotiated session timeout.
 * ZooKeeper cannot expire the session, and so nobody else can own these
 * partitions, before qr_zk_heard_ns() plus the whole timeout; the rest
 * covers the time between a check of the lease and the use of a record.
 * @returns 0 when nothing was heard in this session.
 * @locality main loop  @locks none
 */
int64_t qr_group_lease_until_ns(const qr_group_t *g);

/** @brief Number of completed rebalances (for tests and metrics).
 * @locality main loop @locks none */
uint64_t qr_group_rebalances(const qr_group_t *g);

/**
 * @brief Leaves the group cleanly: revokes everything (callback), commits,
 * deletes our owner nodes and our registration, then calls cbs->closed.
 * Idempotent. A session that is down makes it finish at once (the
 * ephemerals go with the session).
 * @locality main loop (not from inside a group callback)  @locks none
 */
void qr_group_close(qr_group_t *g);

/**
 * @brief Frees @p g; nothing of it runs afterwards (its ZooKeeper requests
 * are forgotten). Without a prior qr_group_close() the ephemerals stay
 * until the session ends. Accepts NULL.
 * @locality main loop (not from inside a group callback)  @locks none
 */
void qr_group_destroy(qr_group_t *g);

/* ---- the registration JSON (pure; tested without ZooKeeper) ---- */

/**
 * @brief Generates a consumer id, Kafka's way: <group>_<host>-<ms>-<8 hex
 * random>, never a sequential node.
 * @returns owned string.
 * @locality any  @locks none
 */
char *qr_group_make_consumer_id(const char *group_id);

/** A member's registration, decoded. */
typedef struct qr_group_member {
    int white_list; /* 1: topics[0] is a regular expression */
    char **topics;  /* owned, sorted, distinct */
    size_t topic_cnt;
    int64_t timestamp;
} qr_group_member_t;

/**
 * @brief The ids/<consumer-id> JSON for a subscription.
 * @param topics borrowed: names, or one pattern when @p white_list.
 * @returns owned string.
 * @locality any  @locks none
 */
char *qr_group_member_encode(int white_list, const char *const *topics,
                             size_t n, int64_t ts_ms);

/**
 * @brief Parses a registration (@p data of @p len bytes, borrowed). Accepts
 * what Kafka's consumers write ("static", "white_list"; a count per topic
 * >= 1; the timestamp as a string or number).
 * @param out filled on success; release with qr_group_member_free().
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_BAD_JSON (@p errstr).
 * @locality any  @locks none
 */
quire_err_t qr_group_member_decode(const char *data, int len,
                                   qr_group_member_t *out, char *errstr,
                                   size_t errstr_size);

/** @brief Frees what @p m owns and zeroes it. Accepts NULL. */
void qr_group_member_free(qr_group_member_t *m);

/**
 * @brief Parses an offsets/<t>/<p> node: a decimal int64 >= 0 (surrounding
 * whitespace allowed, as Kafka's tools write it), optionally followed by a
 * newline and the commit's metadata string (issue 13: a Kafka-protocol
 * OffsetCommit's metadata; nodes without metadata are Kafka 0.8's format
 * exactly, see qr_group_offset_encode()).
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_BAD_ARG.
 * @locality any  @locks none
 */
quire_err_t qr_group_offset_decode(const char *data, int len, int64_t *out);

/**
 * @brief qr_group_offset_decode() that also gives the metadata.
 * @param meta, meta_len set to a view into @p data (length 0 when none).
 * @locality any  @locks none
 */
quire_err_t qr_group_offset_decode_meta(const char *data, int len, int64_t *out,
                                        const char **meta, size_t *meta_len);

/**
 * @brief An offsets/<t>/<p> node's data: the decimal offset, then, when
 * @p meta is non-empty, a newline and @p meta. One node keeps offset and
 * metadata together (one write, never one without the other, as Kafka's
 * single offset record).
 * @param meta may be NULL (none).
 * @returns owned (free()); its length in @p len.
 * @locality any  @locks none
 */
char *qr_group_offset_encode(int64_t offset, const char *meta, int *len);

/** @brief Whether @p id is a usable group or consumer id (the topic-name
 * character set, 1..249 bytes). @locality any @locks none */
int qr_group_id_valid(const char *id);

#endif /* QR_GROUP_H */
