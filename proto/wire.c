/*
 * wire: protobuf-c <-> quire's request and response structs (wire.h).
 *
 * Decoding unpacks the header with a protobuf-c allocator that draws from a
 * per-message arena (qr_wire_mem_t), then converts into the plain structs,
 * whose arrays come from the same arena; the strings stay where protobuf-c
 * unpacked them (also in the arena). One free releases everything, and an
 * allocation failure is told apart from a malformed header by the arena's
 * oom flag, so the client library can report NO_MEMORY instead of aborting
 * (alloc.h: libquire never aborts its host).
 *
 * Encoding builds the protobuf-c message tree in a temporary arena, packs
 * it after the 8-byte frame prefix and drops the arena.
 */
#include "config.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "quire.pb-c.h"
#include "wire.h"

/* ---- the arena ---- */

struct mem_block {
    struct mem_block *next;
    size_t cap;
    size_t used;
    max_align_t data[]; /* aligned for anything */
};

struct qr_wire_mem {
    struct mem_block *head;
    /* The first block, which lives inside the same allocation as this
     * struct (decode) or on the caller's stack (encode): never freed alone. */
    struct mem_block *first;
    size_t next_cap; /* size of the next block; doubles up to a cap */
    ProtobufCAllocator pba;
    bool oom;
    bool on_heap; /* this struct was malloc'd by mem_new */
};

#define MEM_FIRST_BLOCK 2048 /* decode; encode starts on the stack */
#define MEM_MAX_BLOCK   (1024 * 1024)
#define MEM_ALIGN       (alignof(max_align_t))

static void *mem_alloc(qr_wire_mem_t *mem, size_t size)
{
    struct mem_block *b = mem->head;
    size_t need;

    if (size > SIZE_MAX - MEM_ALIGN) {
        mem->oom = true;
        return NULL;
    }
    need = (size + MEM_ALIGN - 1) & ~(MEM_ALIGN - 1);
    if (b == NULL || b->cap - b->used < need) {
        size_t cap = need > mem->next_cap ? need : mem->next_cap;
        if (cap > SIZE_MAX - sizeof(*b) || !(b = malloc(sizeof(*b) + cap))) {
            mem->oom = true;
            return NULL;
        }
        b->cap = cap;
        b->used = 0;
        b->next = mem->head;
        mem->head = b;
        if (mem->next_cap < MEM_MAX_BLOCK)
            mem->next_cap *= 2;
    }
    b->used += need;
    return (unsigned char *)b->data + b->used - need;
}

/* An array of @p n elements of @p size; zeroed, as the structs are read by
 * callers who expect every field set. */
static void *mem_array(qr_wire_mem_t *mem, size_t n, size_t size)
{
    void *p;

    if (size && n > SIZE_MAX / size) {
        mem->oom = true;
        return NULL;
    }
    if ((p = mem_alloc(mem, n * size)) != NULL)
        memset(p, 0, n * size);
    return p;
}

static void *pb_alloc(void *data, size_t size)
{
    return mem_alloc(data, size);
}

static void pb_free(void *data, void *ptr)
{
    /* Everything goes at once with the arena. */
    (void)data;
    (void)ptr;
}

static void mem_init(qr_wire_mem_t *mem, struct mem_block *first,
                     size_t first_cap)
{
    memset(mem, 0, sizeof(*mem));
    first->next = NULL;
    first->cap = first_cap;
    first->used = 0;
    mem->head = mem->first = first;
    mem->next_cap = first_cap * 2;
    mem->pba.alloc = pb_alloc;
    mem->pba.free = pb_free;
    mem->pba.allocator_data = mem;
}

/* The struct and its first block in one allocation: a small request costs
 * one malloc. */
static qr_wire_mem_t *mem_new(void)
{
    size_t off = (sizeof(qr_wire_mem_t) + MEM_ALIGN - 1) & ~(MEM_ALIGN - 1);
    unsigned char *p = malloc(off + sizeof(struct mem_block) + MEM_FIRST_BLOCK);
    qr_wire_mem_t *mem = (qr_wire_mem_t *)p;

    if (p == NULL)
        return NULL;
    mem_init(mem, (struct mem_block *)(p + off), MEM_FIRST_BLOCK);
    mem->on_heap = true;
    return mem;
}

/* Frees the blocks grown after the first, which lives with the arena. */
static void mem_free_blocks(qr_wire_mem_t *mem)
{
    struct mem_block *b, *next;

    for (b = mem->head; b; b = next) {
        next = b->next;
        if (b != mem->first)
            free(b);
    }
}

static void mem_destroy(qr_wire_mem_t *mem)
{
    if (mem == NULL)
        return;
    mem_free_blocks(mem);
    if (mem->on_heap)
        free(mem);
}

/* Scratch for one encode: the arena and its first block on the stack, so
 * a typical response costs no malloc at all. */
typedef struct mem_stack {
    qr_wire_mem_t mem;
    union {
        max_align_t align;
        unsigned char bytes[sizeof(struct mem_block) + 4096];
    } first;
} mem_stack_t;

static qr_wire_mem_t *mem_stack_init(mem_stack_t *ms)
{
    mem_init(&ms->mem, (struct mem_block *)ms->first.bytes,
             sizeof(ms->first.bytes) - sizeof(struct mem_block));
    return &ms->mem;
}

/* ---- versions ---- */

static const qr_api_version_t api_versions[] = {
    {QR_API_PRODUCE, 0, 0},
    {QR_API_FETCH, 0, 0},
    {QR_API_LIST_OFFSETS, 0, 0},
    {QR_API_METADATA, 0, 0},
    {QR_API_API_VERSIONS, 0, 0},
    {QR_API_INIT_PRODUCER_ID, 0, 0},
    {QR_API_OFFSET_FOR_LEADER_EPOCH, 0, 0},
};

static const struct {
    qr_api_t api;
    const char *name;
} api_names[] = {
    {QR_API_PRODUCE, "Produce"},
    {QR_API_FETCH, "Fetch"},
    {QR_API_LIST_OFFSETS, "ListOffsets"},
    {QR_API_METADATA, "Metadata"},
    {QR_API_API_VERSIONS, "ApiVersions"},
    {QR_API_INIT_PRODUCER_ID, "InitProducerId"},
    {QR_API_OFFSET_FOR_LEADER_EPOCH, "OffsetForLeaderEpoch"},
    /* Kafka's listener only (issue 13): named for logs and metrics */
    {QR_API_OFFSET_COMMIT, "OffsetCommit"},
    {QR_API_OFFSET_FETCH, "OffsetFetch"},
    {QR_API_FIND_COORDINATOR, "FindCoordinator"},
    {QR_API_JOIN_GROUP, "JoinGroup"},
    {QR_API_HEARTBEAT, "Heartbeat"},
    {QR_API_LEAVE_GROUP, "LeaveGroup"},
    {QR_API_SYNC_GROUP, "SyncGroup"},
    {QR_API_DESCRIBE_GROUPS, "DescribeGroups"},
    {QR_API_LIST_GROUPS, "ListGroups"},
    {QR_API_CREATE_TOPICS, "CreateTopics"},
    {QR_API_DELETE_TOPICS, "DeleteTopics"},
    {QR_API_DESCRIBE_CONFIGS, "DescribeConfigs"},
};

_Static_assert(
    (int)QR_API_PRODUCE == (int)QUIRE__API_KEY__PRODUCE &&
        (int)QR_API_FETCH == (int)QUIRE__API_KEY__FETCH &&
        (int)QR_API_LIST_OFFSETS == (int)QUIRE__API_KEY__LIST_OFFSETS &&
        (int)QR_API_METADATA == (int)QUIRE__API_KEY__METADATA &&
        (int)QR_API_API_VERSIONS == (int)QUIRE__API_KEY__API_VERSIONS &&
        (int)QR_API_OFFSET_FOR_LEADER_EPOCH ==
            (int)QUIRE__API_KEY__OFFSET_FOR_LEADER_EPOCH &&
        (int)QR_API_INIT_PRODUCER_ID == (int)QUIRE__API_KEY__INIT_PRODUCER_ID,
    "qr_api_t and quire.proto's ApiKey must agree");

const qr_api_version_t *qr_wire_api_versions(size_t *count)
{
    *count = sizeof(api_versions) / sizeof(api_versions[0]);
    return api_versions;
}

static const qr_api_version_t *find_api(int api)
{
    for (size_t i = 0; i < sizeof(api_versions) / sizeof(api_versions[0]); i++)
        if ((int)api_versions[i].api_key == api)
            return &api_versions[i];
    return NULL;
}

quire_err_t qr_wire_api_check(int api, int version)
{
    const qr_api_version_t *v = find_api(api);

    if (v == NULL || version < v->min_version || version > v->max_version)
        return QUIRE_ERR_UNSUPPORTED_VERSION;
    return QUIRE_ERR_NONE;
}

const char *qr_wire_api_name(int api)
{
    for (size_t i = 0; i < sizeof(api_names) / sizeof(api_names[0]); i++)
        if ((int)api_names[i].api == api)
            return api_names[i].name;
    return "Unknown";
}

/* ---- error codes ---- */

/* What a code becomes on the wire: local codes never leave the process. */
static Quire__ErrorCode err_out(quire_err_t err)
{
    if ((int)err > QUIRE_ERR_LOCAL_MAX && quire_err_known((int)err))
        return (Quire__ErrorCode)err;
    switch (err) {
    case QUIRE_ERR_IO:
        return QUIRE__ERROR_CODE__KAFKA_STORAGE_ERROR;
    case QUIRE_ERR_TIMED_OUT:
        return QUIRE__ERROR_CODE__REQUEST_TIMED_OUT;
    default:
        return QUIRE__ERROR_CODE__UNKNOWN_SERVER_ERROR;
    }
}

static quire_err_t err_in(Quire__ErrorCode code)
{
    return quire_err_from_wire((int)code);
}

/* ---- decoding helpers ---- */

/*
 * Every decode helper reports bad input as INVALID_REQUEST (a code a broker
 * can send back); qr_wire_resp_decode turns it into BAD_FRAME. Allocation
 * failure is NO_MEMORY.
 */
#define BAD QUIRE_ERR_INVALID_REQUEST
#define OOM QUIRE_ERR_NO_MEMORY

/* Budget of partitions for one message, all topics together. */
typedef struct dec_ctx {
    qr_wire_mem_t *mem;
    size_t parts_left;
} dec_ctx_t;

static quire_err_t dec_string(const char *s, size_t max, const char **out)
{
    /* protobuf-c NUL-terminates what it unpacks; absent means "". */
    if (s == NULL) {
        *out = "";
        return QUIRE_ERR_NONE;
    }
    if (strnlen(s, max + 1) > max)
        return BAD;
    *out = s;
    return QUIRE_ERR_NONE;
}

/* Takes @p n partitions out of the budget and allocates their array. */
static quire_err_t dec_parts(dec_ctx_t *ctx, size_t n, size_t size, void **out)
{
    if (n > ctx->parts_left)
        return BAD;
    ctx->parts_left -= n;
    *out = mem_array(ctx->mem, n, size);
    return *out || n == 0 ? QUIRE_ERR_NONE : OOM;
}

static quire_err_t dec_topics(dec_ctx_t *ctx, size_t n, size_t size, void **out)
{
    if (n > QR_WIRE_TOPICS_MAX)
        return BAD;
    *out = mem_array(ctx->mem, n, size);
    return *out || n == 0 ? QUIRE_ERR_NONE : OOM;
}

/* Hands out consecutive slices of the payload; used up exactly at the end. */
typedef struct payload_cursor {
    const uint8_t *p;
    uint64_t left;
} payload_cursor_t;

static quire_err_t take_records(payload_cursor_t *cur, uint32_t len,
                                const uint8_t **out)
{
    if (len > cur->left)
        return BAD;
    *out = len ? cur->p : NULL;
    cur->p += len;
    cur->left -= len;
    return QUIRE_ERR_NONE;
}

#define TRY(expr)                       \
    do {                                \
        quire_err_t try_err_ = (expr);  \
        if (try_err_ != QUIRE_ERR_NONE) \
            return try_err_;            \
    } while (0)

/* ---- decoding request bodies ---- */

static quire_err_t dec_metadata_req(dec_ctx_t *ctx,
                                    const Quire__MetadataRequest *pb,
                                    qr_metadata_req_t *out)
{
    const char **topics;

    TRY(dec_topics(ctx, pb->n_topics, sizeof(*topics), (void **)&topics));
    for (size_t i = 0; i < pb->n_topics; i++)
        TRY(dec_string(pb->topics[i], QR_WIRE_TOPIC_MAX, &topics[i]));
    out->topic_count = pb->n_topics;
    out->topics = topics;
    out->allow_auto_topic_creation = pb->allow_auto_topic_creation != 0;
    return QUIRE_ERR_NONE;
}

static quire_err_t dec_produce_req(dec_ctx_t *ctx,
                                   const Quire__ProduceRequest *pb,
                                   const qr_frame_t *frame,
                                   qr_produce_req_t *out)
{
    payload_cursor_t cur = {frame->payload, frame->payload_len};
    qr_produce_topic_t *topics;

    if (pb->acks != -1 && pb->acks != 0 && pb->acks != 1)
        return QUIRE_ERR_INVALID_REQUIRED_ACKS;
    if (pb->timeout_ms < 0)
        return BAD;
    TRY(dec_topics(ctx, pb->n_topic_data, sizeof(*topics), (void **)&topics));
    for (size_t i = 0; i < pb->n_topic_data; i++) {
        const Quire__ProduceRequest__TopicData *td = pb->topic_data[i];
        qr_produce_part_t *parts;

        TRY(dec_string(td->topic, QR_WIRE_TOPIC_MAX, &topics[i].topic));
        TRY(dec_parts(ctx, td->n_data, sizeof(*parts), (void **)&parts));
        for (size_t j = 0; j < td->n_data; j++) {
            parts[j].partition = td->data[j]->partition;
            parts[j].records_length = td->data[j]->records_length;
            TRY(take_records(&cur, parts[j].records_length, &parts[j].records));
        }
        topics[i].partition_count = td->n_data;
        topics[i].partitions = parts;
    }
    /* The lengths must describe the payload exactly: a gap or a tail would
     * mean the client and broker disagree about where batches start. */
    if (cur.left != 0)
        return BAD;
    out->acks = (int16_t)pb->acks;
    out->timeout_ms = pb->timeout_ms;
    out->topic_count = pb->n_topic_data;
    out->topics = topics;
    return QUIRE_ERR_NONE;
}

static quire_err_t dec_fetch_req(dec_ctx_t *ctx, const Quire__FetchRequest *pb,
                                 qr_fetch_req_t *out)
{
    qr_fetch_topic_t *topics;

    if (pb->max_wait_ms < 0 || pb->min_bytes < 0 || pb->max_bytes < 0)
        return BAD;
    TRY(dec_topics(ctx, pb->n_topics, sizeof(*topics), (void **)&topics));
    for (size_t i = 0; i < pb->n_topics; i++) {
        const Quire__FetchRequest__Topic *t = pb->topics[i];
        qr_fetch_part_t *parts;

        TRY(dec_string(t->topic, QR_WIRE_TOPIC_MAX, &topics[i].topic));
        TRY(dec_parts(ctx, t->n_partitions, sizeof(*parts), (void **)&parts));
        for (size_t j = 0; j < t->n_partitions; j++) {
            const Quire__FetchRequest__Partition *p = t->partitions[j];
            if (p->partition_max_bytes < 0)
                return BAD;
            parts[j].partition = p->partition;
            parts[j].fetch_offset = p->fetch_offset;
            parts[j].partition_max_bytes = p->partition_max_bytes;
            parts[j].current_leader_epoch = p->current_leader_epoch;
            parts[j].replica_synced_offset = p->replica_synced_offset;
        }
        topics[i].partition_count = t->n_partitions;
        topics[i].partitions = parts;
    }
    out->replica_id = pb->replica_id;
    out->max_wait_ms = pb->max_wait_ms;
    out->min_bytes = pb->min_bytes;
    out->max_bytes = pb->max_bytes;
    out->topic_count = pb->n_topics;
    out->topics = topics;
    return QUIRE_ERR_NONE;
}

static quire_err_t dec_list_offsets_req(dec_ctx_t *ctx,
                                        const Quire__ListOffsetsRequest *pb,
                                        qr_list_offsets_req_t *out)
{
    qr_list_offsets_topic_t *topics;

    TRY(dec_topics(ctx, pb->n_topics, sizeof(*topics), (void **)&topics));
    for (size_t i = 0; i < pb->n_topics; i++) {
        const Quire__ListOffsetsRequest__Topic *t = pb->topics[i];
        qr_list_offsets_part_t *parts;

        TRY(dec_string(t->topic, QR_WIRE_TOPIC_MAX, &topics[i].topic));
        TRY(dec_parts(ctx, t->n_partitions, sizeof(*parts), (void **)&parts));
        for (size_t j = 0; j < t->n_partitions; j++) {
            /* Below -2 means nothing in Kafka's protocol. */
            if (t->partitions[j]->timestamp < QR_OFFSET_EARLIEST)
                return BAD;
            parts[j].partition = t->partitions[j]->partition;
            parts[j].timestamp = t->partitions[j]->timestamp;
        }
        topics[i].partition_count = t->n_partitions;
        topics[i].partitions = parts;
    }
    out->replica_id = pb->replica_id;
    out->topic_count = pb->n_topics;
    out->topics = topics;
    return QUIRE_ERR_NONE;
}

static quire_err_t dec_epoch_req(dec_ctx_t *ctx,
                                 const Quire__OffsetForLeaderEpochRequest *pb,
                                 qr_epoch_req_t *out)
{
    qr_epoch_req_topic_t *topics;

    TRY(dec_topics(ctx, pb->n_topics, sizeof(*topics), (void **)&topics));
    for (size_t i = 0; i < pb->n_topics; i++) {
        const Quire__OffsetForLeaderEpochRequest__Topic *t = pb->topics[i];
        qr_epoch_req_part_t *parts;

        TRY(dec_string(t->topic, QR_WIRE_TOPIC_MAX, &topics[i].topic));
        TRY(dec_parts(ctx, t->n_partitions, sizeof(*parts), (void **)&parts));
        for (size_t j = 0; j < t->n_partitions; j++) {
            const Quire__OffsetForLeaderEpochRequest__Partition *p =
                t->partitions[j];
            /* -1 means none; below it means nothing */
            if (p->current_leader_epoch < -1 || p->leader_epoch < -1)
                return BAD;
            parts[j].partition = p->partition;
            parts[j].current_leader_epoch = p->current_leader_epoch;
            parts[j].leader_epoch = p->leader_epoch;
        }
        topics[i].partition_count = t->n_partitions;
        topics[i].partitions = parts;
    }
    out->replica_id = pb->replica_id;
    out->topic_count = pb->n_topics;
    out->topics = topics;
    return QUIRE_ERR_NONE;
}

/* Reads a protobuf varint; @returns bytes used, 0 when malformed. */
static size_t read_varint(const uint8_t *p, size_t len, uint64_t *v)
{
    *v = 0;
    for (size_t i = 0; i < len && i < 10; i++) {
        *v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80))
            return i + 1;
    }
    return 0;
}

/*
 * Looks for Request.correlation_id (field 3, varint) at the top level of a
 * header protobuf-c refused, so the broker can still answer with
 * INVALID_REQUEST instead of dropping the connection. Stops at the first
 * malformed field. @returns whether it was found.
 */
static bool scan_correlation_id(const uint8_t *p, size_t len, int32_t *cid)
{
    bool found = false;
    size_t pos = 0, n;
    uint64_t key, v;

    while (pos < len && (n = read_varint(p + pos, len - pos, &key)) != 0) {
        pos += n;
        switch (key & 7) {
        case 0: /* varint */
            if ((n = read_varint(p + pos, len - pos, &v)) == 0)
                return found;
            if (key >> 3 == 3) {
                *cid = (int32_t)(uint32_t)v;
                found = true;
            }
            pos += n;
            break;
        case 1: /* 64-bit */
            if (len - pos < 8)
                return found;
            pos += 8;
            break;
        case 2: /* length-delimited */
            if ((n = read_varint(p + pos, len - pos, &v)) == 0 ||
                v > len - pos - n)
                return found;
            pos += n + (size_t)v;
            break;
        case 5: /* 32-bit */
            if (len - pos < 4)
                return found;
            pos += 4;
            break;
        default:
            return found;
        }
    }
    return found;
}

/* ---- InitProducerId (issue 22) ---- */

static quire_err_t dec_init_pid_req(const Quire__InitProducerIdRequest *pb,
                                    qr_init_pid_req_t *out)
{
    TRY(dec_string(pb->transactional_id, QR_WIRE_STRING_MAX,
                   &out->transactional_id));
    out->transaction_timeout_ms = pb->transaction_timeout_ms;
    return QUIRE_ERR_NONE;
}

static quire_err_t dec_init_pid_resp(const Quire__InitProducerIdResponse *pb,
                                     qr_init_pid_resp_t *out)
{
    out->error_code = err_in(pb->error_code);
    out->producer_id = pb->producer_id;
    if (pb->producer_epoch < INT16_MIN || pb->producer_epoch > INT16_MAX)
        return BAD;
    out->producer_epoch = (int16_t)pb->producer_epoch;
    return QUIRE_ERR_NONE;
}

static quire_err_t dec_req_body(dec_ctx_t *ctx, const Quire__Request *pb,
                                const qr_frame_t *frame, qr_req_t *req)
{
    /* Only Produce carries a payload. */
    if (req->api != QR_API_PRODUCE && frame->payload_len != 0)
        return BAD;
    switch (req->api) {
    case QR_API_API_VERSIONS:
        /* No fields: an absent body is as good as an empty one. */
        if (pb->body_case != QUIRE__REQUEST__BODY__NOT_SET &&
            pb->body_case != QUIRE__REQUEST__BODY_API_VERSIONS)
            return BAD;
        return QUIRE_ERR_NONE;
    case QR_API_METADATA:
        if (pb->body_case != QUIRE__REQUEST__BODY_METADATA)
            return BAD;
        return dec_metadata_req(ctx, pb->metadata, &req->u.metadata);
    case QR_API_PRODUCE:
        if (pb->body_case != QUIRE__REQUEST__BODY_PRODUCE)
            return BAD;
        return dec_produce_req(ctx, pb->produce, frame, &req->u.produce);
    case QR_API_FETCH:
        if (pb->body_case != QUIRE__REQUEST__BODY_FETCH)
            return BAD;
        return dec_fetch_req(ctx, pb->fetch, &req->u.fetch);
    case QR_API_LIST_OFFSETS:
        if (pb->body_case != QUIRE__REQUEST__BODY_LIST_OFFSETS)
            return BAD;
        return dec_list_offsets_req(ctx, pb->list_offsets,
                                    &req->u.list_offsets);
    case QR_API_INIT_PRODUCER_ID:
        if (pb->body_case != QUIRE__REQUEST__BODY_INIT_PRODUCER_ID)
            return BAD;
        return dec_init_pid_req(pb->init_producer_id, &req->u.init_pid);
    case QR_API_OFFSET_FOR_LEADER_EPOCH:
        if (pb->body_case != QUIRE__REQUEST__BODY_OFFSET_FOR_LEADER_EPOCH)
            return BAD;
        return dec_epoch_req(ctx, pb->offset_for_leader_epoch,
                             &req->u.offset_for_leader_epoch);
    default:
        return QUIRE_ERR_UNSUPPORTED_VERSION;
    }
}

quire_err_t qr_wire_req_decode(const qr_frame_t *frame, qr_req_t *req)
{
    dec_ctx_t ctx;
    Quire__Request *pb;
    quire_err_t err;

    memset(req, 0, sizeof(*req));
    req->api = QR_API_UNKNOWN;
    req->client_id = "";
    if ((req->mem = mem_new()) == NULL)
        return OOM;
    ctx.mem = req->mem;
    ctx.parts_left = QR_WIRE_PARTITIONS_MAX;

    pb = quire__request__unpack(&req->mem->pba, frame->header_len,
                                frame->header);
    if (pb == NULL) {
        if (req->mem->oom)
            return OOM;
        req->has_correlation_id = scan_correlation_id(
            frame->header, frame->header_len, &req->correlation_id);
        return BAD;
    }
    if (!pb->has_correlation_id)
        return BAD;
    req->correlation_id = pb->correlation_id;
    req->has_correlation_id = true;
    if (!pb->has_api)
        return BAD;
    if (find_api(pb->api) != NULL)
        req->api = (qr_api_t)pb->api;
    if (pb->api_version >= INT16_MIN && pb->api_version <= INT16_MAX)
        req->api_version = (int16_t)pb->api_version;
    if ((err = qr_wire_api_check(pb->api, pb->api_version)) != 0)
        return err;
    TRY(dec_string(pb->client_id, QR_WIRE_STRING_MAX, &req->client_id));
    return dec_req_body(&ctx, pb, frame, req);
}

void qr_wire_req_free(qr_req_t *req)
{
    if (req == NULL)
        return;
    mem_destroy(req->mem);
    memset(req, 0, sizeof(*req));
}

/* ---- decoding response bodies ---- */

static quire_err_t dec_api_versions_resp(dec_ctx_t *ctx,
                                         const Quire__ApiVersionsResponse *pb,
                                         qr_api_versions_resp_t *out)
{
    qr_api_version_t *apis;

    /* One row per api key: a few hundred at most in any Kafka. */
    if (pb->n_api_versions > 1024)
        return BAD;
    apis = mem_array(ctx->mem, pb->n_api_versions, sizeof(*apis));
    if (apis == NULL && pb->n_api_versions)
        return OOM;
    for (size_t i = 0; i < pb->n_api_versions; i++) {
        const Quire__ApiVersionsResponse__ApiVersion *v = pb->api_versions[i];
        if (v->min_version < 0 || v->max_version > INT16_MAX ||
            v->min_version > v->max_version)
            return BAD;
        /* An api this build does not know stays as its number. */
        apis[i].api_key = (qr_api_t)v->api_key;
        apis[i].min_version = (int16_t)v->min_version;
        apis[i].max_version = (int16_t)v->max_version;
    }
    out->error_code = err_in(pb->error_code);
    out->api_count = pb->n_api_versions;
    out->apis = apis;
    return QUIRE_ERR_NONE;
}

static quire_err_t dec_int32s(dec_ctx_t *ctx, size_t n, const int32_t *in,
                              size_t *count, const int32_t **out)
{
    int32_t *a;

    if (n > QR_WIRE_REPLICAS_MAX)
        return BAD;
    if ((a = mem_array(ctx->mem, n, sizeof(*a))) == NULL && n)
        return OOM;
    if (n)
        memcpy(a, in, n * sizeof(*a));
    *count = n;
    *out = a;
    return QUIRE_ERR_NONE;
}

static quire_err_t
dec_metadata_topic(dec_ctx_t *ctx,
                   const Quire__MetadataResponse__TopicMetadata *t,
                   qr_metadata_topic_t *out)
{
    qr_metadata_part_t *parts;

    out->error_code = err_in(t->error_code);
    TRY(dec_string(t->topic, QR_WIRE_TOPIC_MAX, &out->topic));
    TRY(dec_parts(ctx, t->n_partitions, sizeof(*parts), (void **)&parts));
    for (size_t j = 0; j < t->n_partitions; j++) {
        const Quire__MetadataResponse__PartitionMetadata *p = t->partitions[j];
        parts[j].error_code = err_in(p->error_code);
        parts[j].partition = p->partition;
        parts[j].leader = p->leader;
        parts[j].leader_epoch = p->leader_epoch;
        TRY(dec_int32s(ctx, p->n_replicas, p->replicas, &parts[j].replica_count,
                       &parts[j].replicas));
        TRY(dec_int32s(ctx, p->n_isr, p->isr, &parts[j].isr_count,
                       &parts[j].isr));
    }
    out->partition_count = t->n_partitions;
    out->partitions = parts;
    return QUIRE_ERR_NONE;
}

static quire_err_t dec_metadata_resp(dec_ctx_t *ctx,
                                     const Quire__MetadataResponse *pb,
                                     qr_metadata_resp_t *out)
{
    qr_metadata_broker_t *brokers;
    qr_metadata_topic_t *topics;

    if (pb->n_brokers > QR_WIRE_BROKERS_MAX)
        return BAD;
    brokers = mem_array(ctx->mem, pb->n_brokers, sizeof(*brokers));
    if (brokers == NULL && pb->n_brokers)
        return OOM;
    for (size_t i = 0; i < pb->n_brokers; i++) {
        const Quire__MetadataResponse__Broker *b = pb->brokers[i];
        if (b->port < 0 || b->port > 65535)
            return BAD;
        brokers[i].node_id = b->node_id;
        brokers[i].port = b->port;
        TRY(dec_string(b->host, QR_WIRE_STRING_MAX, &brokers[i].host));
    }
    TRY(dec_topics(ctx, pb->n_topics, sizeof(*topics), (void **)&topics));
    for (size_t i = 0; i < pb->n_topics; i++)
        TRY(dec_metadata_topic(ctx, pb->topics[i], &topics[i]));
    out->broker_count = pb->n_brokers;
    out->brokers = brokers;
    out->controller_id = pb->controller_id;
    out->topic_count = pb->n_topics;
    out->topics = topics;
    return QUIRE_ERR_NONE;
}

static quire_err_t dec_produce_resp(dec_ctx_t *ctx,
                                    const Quire__ProduceResponse *pb,
                                    qr_produce_resp_t *out)
{
    qr_produce_topic_resp_t *topics;

    TRY(dec_topics(ctx, pb->n_responses, sizeof(*topics), (void **)&topics));
    for (size_t i = 0; i < pb->n_responses; i++) {
        const Quire__ProduceResponse__TopicResponse *t = pb->responses[i];
        qr_produce_part_resp_t *parts;

        TRY(dec_string(t->topic, QR_WIRE_TOPIC_MAX, &topics[i].topic));
        TRY(dec_parts(ctx, t->n_partition_responses, sizeof(*parts),
                      (void **)&parts));
        for (size_t j = 0; j < t->n_partition_responses; j++) {
            const Quire__ProduceResponse__PartitionResponse *p =
                t->partition_responses[j];
            parts[j].partition = p->partition;
            parts[j].error_code = err_in(p->error_code);
            parts[j].base_offset = p->base_offset;
            parts[j].log_append_time = p->log_append_time;
            parts[j].log_start_offset = p->log_start_offset;
        }
        topics[i].partition_count = t->n_partition_responses;
        topics[i].partitions = parts;
    }
    out->topic_count = pb->n_responses;
    out->topics = topics;
    return QUIRE_ERR_NONE;
}

static quire_err_t dec_fetch_resp(dec_ctx_t *ctx,
                                  const Quire__FetchResponse *pb,
                                  const qr_frame_t *frame, qr_fetch_resp_t *out)
{
    payload_cursor_t cur = {frame->payload, frame->payload_len};
    qr_fetch_topic_resp_t *topics;

    TRY(dec_topics(ctx, pb->n_responses, sizeof(*topics), (void **)&topics));
    for (size_t i = 0; i < pb->n_responses; i++) {
        const Quire__FetchResponse__TopicResponse *t = pb->responses[i];
        qr_fetch_part_resp_t *parts;

        TRY(dec_string(t->topic, QR_WIRE_TOPIC_MAX, &topics[i].topic));
        TRY(dec_parts(ctx, t->n_partition_responses, sizeof(*parts),
                      (void **)&parts));
        for (size_t j = 0; j < t->n_partition_responses; j++) {
            const Quire__FetchResponse__PartitionResponse *p =
                t->partition_responses[j];
            parts[j].partition = p->partition;
            parts[j].error_code = err_in(p->error_code);
            parts[j].high_watermark = p->high_watermark;
            parts[j].log_start_offset = p->log_start_offset;
            parts[j].records_length = p->records_length;
            TRY(take_records(&cur, p->records_length, &parts[j].records));
        }
        topics[i].partition_count = t->n_partition_responses;
        topics[i].partitions = parts;
    }
    if (cur.left != 0)
        return BAD;
    out->topic_count = pb->n_responses;
    out->topics = topics;
    return QUIRE_ERR_NONE;
}

static quire_err_t dec_list_offsets_resp(dec_ctx_t *ctx,
                                         const Quire__ListOffsetsResponse *pb,
                                         qr_list_offsets_resp_t *out)
{
    qr_list_offsets_topic_resp_t *topics;

    TRY(dec_topics(ctx, pb->n_responses, sizeof(*topics), (void **)&topics));
    for (size_t i = 0; i < pb->n_responses; i++) {
        const Quire__ListOffsetsResponse__TopicResponse *t = pb->responses[i];
        qr_list_offsets_part_resp_t *parts;

        TRY(dec_string(t->topic, QR_WIRE_TOPIC_MAX, &topics[i].topic));
        TRY(dec_parts(ctx, t->n_partition_responses, sizeof(*parts),
                      (void **)&parts));
        for (size_t j = 0; j < t->n_partition_responses; j++) {
            const Quire__ListOffsetsResponse__PartitionResponse *p =
                t->partition_responses[j];
            parts[j].partition = p->partition;
            parts[j].error_code = err_in(p->error_code);
            parts[j].timestamp = p->timestamp;
            parts[j].offset = p->offset;
        }
        topics[i].partition_count = t->n_partition_responses;
        topics[i].partitions = parts;
    }
    out->topic_count = pb->n_responses;
    out->topics = topics;
    return QUIRE_ERR_NONE;
}

static quire_err_t dec_epoch_resp(dec_ctx_t *ctx,
                                  const Quire__OffsetForLeaderEpochResponse *pb,
                                  qr_epoch_resp_t *out)
{
    qr_epoch_topic_resp_t *topics;

    TRY(dec_topics(ctx, pb->n_topics, sizeof(*topics), (void **)&topics));
    for (size_t i = 0; i < pb->n_topics; i++) {
        const Quire__OffsetForLeaderEpochResponse__TopicResponse *t =
            pb->topics[i];
        qr_epoch_part_resp_t *parts;

        TRY(dec_string(t->topic, QR_WIRE_TOPIC_MAX, &topics[i].topic));
        TRY(dec_parts(ctx, t->n_partitions, sizeof(*parts), (void **)&parts));
        for (size_t j = 0; j < t->n_partitions; j++) {
            const Quire__OffsetForLeaderEpochResponse__PartitionResponse *p =
                t->partitions[j];
            parts[j].partition = p->partition;
            parts[j].error_code = err_in(p->error_code);
            parts[j].leader_epoch = p->leader_epoch;
            parts[j].end_offset = p->end_offset;
        }
        topics[i].partition_count = t->n_partitions;
        topics[i].partitions = parts;
    }
    out->topic_count = pb->n_topics;
    out->topics = topics;
    return QUIRE_ERR_NONE;
}

/* The oneof case that goes with each api, for both envelopes (the field
 * numbers are the same in Request and Response). */
_Static_assert((int)QUIRE__REQUEST__BODY_API_VERSIONS ==
                       (int)QUIRE__RESPONSE__BODY_API_VERSIONS &&
                   (int)QUIRE__REQUEST__BODY_METADATA ==
                       (int)QUIRE__RESPONSE__BODY_METADATA &&
                   (int)QUIRE__REQUEST__BODY_PRODUCE ==
                       (int)QUIRE__RESPONSE__BODY_PRODUCE &&
                   (int)QUIRE__REQUEST__BODY_FETCH ==
                       (int)QUIRE__RESPONSE__BODY_FETCH &&
                   (int)QUIRE__REQUEST__BODY_LIST_OFFSETS ==
                       (int)QUIRE__RESPONSE__BODY_LIST_OFFSETS &&
                   (int)QUIRE__REQUEST__BODY_INIT_PRODUCER_ID ==
                       (int)QUIRE__RESPONSE__BODY_INIT_PRODUCER_ID &&
                   (int)QUIRE__REQUEST__BODY_OFFSET_FOR_LEADER_EPOCH ==
                       (int)QUIRE__RESPONSE__BODY_OFFSET_FOR_LEADER_EPOCH,
               "Request and Response oneof cases must match");
static int body_case_of(qr_api_t api)
{
    switch (api) {
    case QR_API_API_VERSIONS:
        return QUIRE__RESPONSE__BODY_API_VERSIONS;
    case QR_API_METADATA:
        return QUIRE__RESPONSE__BODY_METADATA;
    case QR_API_PRODUCE:
        return QUIRE__RESPONSE__BODY_PRODUCE;
    case QR_API_FETCH:
        return QUIRE__RESPONSE__BODY_FETCH;
    case QR_API_LIST_OFFSETS:
        return QUIRE__RESPONSE__BODY_LIST_OFFSETS;
    case QR_API_INIT_PRODUCER_ID:
        return QUIRE__RESPONSE__BODY_INIT_PRODUCER_ID;
    case QR_API_OFFSET_FOR_LEADER_EPOCH:
        return QUIRE__RESPONSE__BODY_OFFSET_FOR_LEADER_EPOCH;
    default:
        return QUIRE__RESPONSE__BODY__NOT_SET;
    }
}

static quire_err_t dec_resp_body(dec_ctx_t *ctx, const Quire__Response *pb,
                                 const qr_frame_t *frame, qr_resp_t *resp)
{
    if (resp->api != QR_API_FETCH && frame->payload_len != 0)
        return BAD;
    /* An error answer may come without a body; a body must match the api. */
    if (pb->body_case == QUIRE__RESPONSE__BODY__NOT_SET)
        return QUIRE_ERR_NONE;
    if ((int)pb->body_case != body_case_of(resp->api))
        return BAD;
    switch (resp->api) {
    case QR_API_API_VERSIONS:
        return dec_api_versions_resp(ctx, pb->api_versions,
                                     &resp->u.api_versions);
    case QR_API_METADATA:
        return dec_metadata_resp(ctx, pb->metadata, &resp->u.metadata);
    case QR_API_PRODUCE:
        return dec_produce_resp(ctx, pb->produce, &resp->u.produce);
    case QR_API_FETCH:
        return dec_fetch_resp(ctx, pb->fetch, frame, &resp->u.fetch);
    case QR_API_LIST_OFFSETS:
        return dec_list_offsets_resp(ctx, pb->list_offsets,
                                     &resp->u.list_offsets);
    case QR_API_INIT_PRODUCER_ID:
        return dec_init_pid_resp(pb->init_producer_id, &resp->u.init_pid);
    case QR_API_OFFSET_FOR_LEADER_EPOCH:
        return dec_epoch_resp(ctx, pb->offset_for_leader_epoch,
                              &resp->u.offset_for_leader_epoch);
    default:
        return BAD;
    }
}

quire_err_t qr_wire_resp_decode(const qr_frame_t *frame, qr_resp_t *resp)
{
    dec_ctx_t ctx;
    Quire__Response *pb;
    quire_err_t err;

    memset(resp, 0, sizeof(*resp));
    resp->api = QR_API_UNKNOWN;
    if ((resp->mem = mem_new()) == NULL)
        return OOM;
    ctx.mem = resp->mem;
    ctx.parts_left = QR_WIRE_PARTITIONS_MAX;

    pb = quire__response__unpack(&resp->mem->pba, frame->header_len,
                                 frame->header);
    if (pb == NULL)
        return resp->mem->oom ? OOM : QUIRE_ERR_BAD_FRAME;
    if (!pb->has_correlation_id)
        return QUIRE_ERR_BAD_FRAME;
    resp->correlation_id = pb->correlation_id;
    resp->error_code = err_in(pb->error_code);
    if (pb->has_api) {
        if (find_api(pb->api) == NULL)
            return QUIRE_ERR_BAD_FRAME;
        resp->api = (qr_api_t)pb->api;
    } else if (pb->body_case != QUIRE__RESPONSE__BODY__NOT_SET) {
        return QUIRE_ERR_BAD_FRAME;
    }
    err = dec_resp_body(&ctx, pb, frame, resp);
    if (err == BAD)
        err = QUIRE_ERR_BAD_FRAME;
    return err;
}

void qr_wire_resp_free(qr_resp_t *resp)
{
    if (resp == NULL)
        return;
    mem_destroy(resp->mem);
    memset(resp, 0, sizeof(*resp));
}

/* ---- encoding helpers ---- */

/*
 * Encoders check the caller's struct against the same limits the decoders
 * enforce, so quire never sends what a quire peer would refuse; violations
 * are caller bugs and come back as BAD_ARG.
 */
typedef struct enc_ctx {
    qr_wire_mem_t *mem;
    size_t parts_left;
} enc_ctx_t;

#define NEW_MSG(ctx, type, init, var)                              \
    do {                                                           \
        if (((var) = mem_alloc((ctx)->mem, sizeof(type))) == NULL) \
            return OOM;                                            \
        init(var);                                                 \
    } while (0)

#define NEW_PTRS(ctx, n, var)                                               \
    do {                                                                    \
        if (((var) = mem_array((ctx)->mem, (n), sizeof(*(var)))) == NULL && \
            (n))                                                            \
            return OOM;                                                     \
    } while (0)

static quire_err_t enc_string(const char *s, size_t max, char **out)
{
    if (s == NULL) {
        *out = NULL;
        return QUIRE_ERR_NONE;
    }
    if (strnlen(s, max + 1) > max)
        return QUIRE_ERR_BAD_ARG;
    /* protobuf-c does not write through this pointer when packing. */
    *out = (char *)s;
    return QUIRE_ERR_NONE;
}

static quire_err_t enc_parts(enc_ctx_t *ctx, size_t parts)
{
    if (parts > ctx->parts_left)
        return QUIRE_ERR_BAD_ARG;
    ctx->parts_left -= parts;
    return QUIRE_ERR_NONE;
}

#define ENC_TOPICS(n)                 \
    do {                              \
        if ((n) > QR_WIRE_TOPICS_MAX) \
            return QUIRE_ERR_BAD_ARG; \
    } while (0)

/* Sets an optional error_code only when it is not NONE, the default. */
#define SET_ERR(msg, err)                                                     \
    do {                                                                      \
        (msg)->error_code = err_out(err);                                     \
        (msg)->has_error_code = (msg)->error_code != QUIRE__ERROR_CODE__NONE; \
    } while (0)

#define SET(msg, field, val)    \
    do {                        \
        (msg)->field = (val);   \
        (msg)->has_##field = 1; \
    } while (0)

/* ---- encoding InitProducerId (issue 22) ---- */

static quire_err_t enc_init_pid_req(enc_ctx_t *ctx, const qr_init_pid_req_t *in,
                                    Quire__InitProducerIdRequest **out)
{
    Quire__InitProducerIdRequest *pb;

    NEW_MSG(ctx, Quire__InitProducerIdRequest,
            quire__init_producer_id_request__init, pb);
    TRY(enc_string(in->transactional_id, QR_WIRE_STRING_MAX,
                   &pb->transactional_id));
    SET(pb, transaction_timeout_ms, in->transaction_timeout_ms);
    *out = pb;
    return QUIRE_ERR_NONE;
}

static quire_err_t enc_init_pid_resp(enc_ctx_t *ctx,
                                     const qr_init_pid_resp_t *in,
                                     Quire__InitProducerIdResponse **out)
{
    Quire__InitProducerIdResponse *pb;

    NEW_MSG(ctx, Quire__InitProducerIdResponse,
            quire__init_producer_id_response__init, pb);
    SET_ERR(pb, in->error_code);
    SET(pb, producer_id, in->producer_id);
    SET(pb, producer_epoch, in->producer_epoch);
    *out = pb;
    return QUIRE_ERR_NONE;
}

/* ---- encoding request bodies ---- */

static quire_err_t enc_metadata_req(enc_ctx_t *ctx, const qr_metadata_req_t *in,
                                    Quire__MetadataRequest **out)
{
    Quire__MetadataRequest *pb;

    ENC_TOPICS(in->topic_count);
    NEW_MSG(ctx, Quire__MetadataRequest, quire__metadata_request__init, pb);
    NEW_PTRS(ctx, in->topic_count, pb->topics);
    for (size_t i = 0; i < in->topic_count; i++) {
        /* A repeated string cannot hold NULL. */
        if (in->topics[i] == NULL)
            return QUIRE_ERR_BAD_ARG;
        TRY(enc_string(in->topics[i], QR_WIRE_TOPIC_MAX, &pb->topics[i]));
    }
    pb->n_topics = in->topic_count;
    SET(pb, allow_auto_topic_creation, in->allow_auto_topic_creation);
    *out = pb;
    return QUIRE_ERR_NONE;
}

static quire_err_t enc_produce_req(enc_ctx_t *ctx, const qr_produce_req_t *in,
                                   Quire__ProduceRequest **out)
{
    Quire__ProduceRequest *pb;

    if (in->acks != -1 && in->acks != 0 && in->acks != 1)
        return QUIRE_ERR_BAD_ARG;
    ENC_TOPICS(in->topic_count);
    NEW_MSG(ctx, Quire__ProduceRequest, quire__produce_request__init, pb);
    SET(pb, acks, in->acks);
    SET(pb, timeout_ms, in->timeout_ms);
    NEW_PTRS(ctx, in->topic_count, pb->topic_data);
    for (size_t i = 0; i < in->topic_count; i++) {
        const qr_produce_topic_t *t = &in->topics[i];
        Quire__ProduceRequest__TopicData *td;

        TRY(enc_parts(ctx, t->partition_count));
        NEW_MSG(ctx, Quire__ProduceRequest__TopicData,
                quire__produce_request__topic_data__init, td);
        TRY(enc_string(t->topic, QR_WIRE_TOPIC_MAX, &td->topic));
        NEW_PTRS(ctx, t->partition_count, td->data);
        for (size_t j = 0; j < t->partition_count; j++) {
            Quire__ProduceRequest__PartitionData *pd;
            NEW_MSG(ctx, Quire__ProduceRequest__PartitionData,
                    quire__produce_request__partition_data__init, pd);
            SET(pd, partition, t->partitions[j].partition);
            SET(pd, records_length, t->partitions[j].records_length);
            td->data[j] = pd;
        }
        td->n_data = t->partition_count;
        pb->topic_data[i] = td;
    }
    pb->n_topic_data = in->topic_count;
    *out = pb;
    return QUIRE_ERR_NONE;
}

static quire_err_t enc_fetch_req(enc_ctx_t *ctx, const qr_fetch_req_t *in,
                                 Quire__FetchRequest **out)
{
    Quire__FetchRequest *pb;

    ENC_TOPICS(in->topic_count);
    NEW_MSG(ctx, Quire__FetchRequest, quire__fetch_request__init, pb);
    SET(pb, replica_id, in->replica_id);
    SET(pb, max_wait_ms, in->max_wait_ms);
    SET(pb, min_bytes, in->min_bytes);
    SET(pb, max_bytes, in->max_bytes);
    NEW_PTRS(ctx, in->topic_count, pb->topics);
    for (size_t i = 0; i < in->topic_count; i++) {
        const qr_fetch_topic_t *t = &in->topics[i];
        Quire__FetchRequest__Topic *tp;

        TRY(enc_parts(ctx, t->partition_count));
        NEW_MSG(ctx, Quire__FetchRequest__Topic,
                quire__fetch_request__topic__init, tp);
        TRY(enc_string(t->topic, QR_WIRE_TOPIC_MAX, &tp->topic));
        NEW_PTRS(ctx, t->partition_count, tp->partitions);
        for (size_t j = 0; j < t->partition_count; j++) {
            Quire__FetchRequest__Partition *pp;
            NEW_MSG(ctx, Quire__FetchRequest__Partition,
                    quire__fetch_request__partition__init, pp);
            SET(pp, partition, t->partitions[j].partition);
            SET(pp, fetch_offset, t->partitions[j].fetch_offset);
            SET(pp, partition_max_bytes, t->partitions[j].partition_max_bytes);
            if (in->replica_id >= 0) { /* a follower's (see wire.h) */
                SET(pp, current_leader_epoch,
                    t->partitions[j].current_leader_epoch);
                SET(pp, replica_synced_offset,
                    t->partitions[j].replica_synced_offset);
            }
            tp->partitions[j] = pp;
        }
        tp->n_partitions = t->partition_count;
        pb->topics[i] = tp;
    }
    pb->n_topics = in->topic_count;
    *out = pb;
    return QUIRE_ERR_NONE;
}

static quire_err_t enc_list_offsets_req(enc_ctx_t *ctx,
                                        const qr_list_offsets_req_t *in,
                                        Quire__ListOffsetsRequest **out)
{
    Quire__ListOffsetsRequest *pb;

    ENC_TOPICS(in->topic_count);
    NEW_MSG(ctx, Quire__ListOffsetsRequest, quire__list_offsets_request__init,
            pb);
    SET(pb, replica_id, in->replica_id);
    NEW_PTRS(ctx, in->topic_count, pb->topics);
    for (size_t i = 0; i < in->topic_count; i++) {
        const qr_list_offsets_topic_t *t = &in->topics[i];
        Quire__ListOffsetsRequest__Topic *tp;

        TRY(enc_parts(ctx, t->partition_count));
        NEW_MSG(ctx, Quire__ListOffsetsRequest__Topic,
                quire__list_offsets_request__topic__init, tp);
        TRY(enc_string(t->topic, QR_WIRE_TOPIC_MAX, &tp->topic));
        NEW_PTRS(ctx, t->partition_count, tp->partitions);
        for (size_t j = 0; j < t->partition_count; j++) {
            Quire__ListOffsetsRequest__Partition *pp;
            NEW_MSG(ctx, Quire__ListOffsetsRequest__Partition,
                    quire__list_offsets_request__partition__init, pp);
            SET(pp, partition, t->partitions[j].partition);
            SET(pp, timestamp, t->partitions[j].timestamp);
            tp->partitions[j] = pp;
        }
        tp->n_partitions = t->partition_count;
        pb->topics[i] = tp;
    }
    pb->n_topics = in->topic_count;
    *out = pb;
    return QUIRE_ERR_NONE;
}

static quire_err_t enc_epoch_req(enc_ctx_t *ctx, const qr_epoch_req_t *in,
                                 Quire__OffsetForLeaderEpochRequest **out)
{
    Quire__OffsetForLeaderEpochRequest *pb;

    ENC_TOPICS(in->topic_count);
    NEW_MSG(ctx, Quire__OffsetForLeaderEpochRequest,
            quire__offset_for_leader_epoch_request__init, pb);
    SET(pb, replica_id, in->replica_id);
    NEW_PTRS(ctx, in->topic_count, pb->topics);
    for (size_t i = 0; i < in->topic_count; i++) {
        const qr_epoch_req_topic_t *t = &in->topics[i];
        Quire__OffsetForLeaderEpochRequest__Topic *tp;

        TRY(enc_parts(ctx, t->partition_count));
        NEW_MSG(ctx, Quire__OffsetForLeaderEpochRequest__Topic,
                quire__offset_for_leader_epoch_request__topic__init, tp);
        TRY(enc_string(t->topic, QR_WIRE_TOPIC_MAX, &tp->topic));
        NEW_PTRS(ctx, t->partition_count, tp->partitions);
        for (size_t j = 0; j < t->partition_count; j++) {
            const qr_epoch_req_part_t *p = &t->partitions[j];
            Quire__OffsetForLeaderEpochRequest__Partition *pp;
            if (p->current_leader_epoch < -1 || p->leader_epoch < -1)
                return QUIRE_ERR_BAD_ARG;
            NEW_MSG(ctx, Quire__OffsetForLeaderEpochRequest__Partition,
                    quire__offset_for_leader_epoch_request__partition__init,
                    pp);
            SET(pp, partition, p->partition);
            SET(pp, current_leader_epoch, p->current_leader_epoch);
            SET(pp, leader_epoch, p->leader_epoch);
            tp->partitions[j] = pp;
        }
        tp->n_partitions = t->partition_count;
        pb->topics[i] = tp;
    }
    pb->n_topics = in->topic_count;
    *out = pb;
    return QUIRE_ERR_NONE;
}

static quire_err_t enc_req(enc_ctx_t *ctx, const qr_req_t *req,
                           Quire__Request *pb)
{
    Quire__ApiVersionsRequest *av;

    if (qr_wire_api_check(req->api, req->api_version) != QUIRE_ERR_NONE)
        return QUIRE_ERR_BAD_ARG;
    SET(pb, api, (Quire__ApiKey)req->api);
    SET(pb, api_version, req->api_version);
    SET(pb, correlation_id, req->correlation_id);
    TRY(enc_string(req->client_id, QR_WIRE_STRING_MAX, &pb->client_id));
    pb->body_case = (Quire__Request__BodyCase)body_case_of(req->api);
    switch (req->api) {
    case QR_API_API_VERSIONS:
        NEW_MSG(ctx, Quire__ApiVersionsRequest,
                quire__api_versions_request__init, av);
        pb->api_versions = av;
        return QUIRE_ERR_NONE;
    case QR_API_METADATA:
        return enc_metadata_req(ctx, &req->u.metadata, &pb->metadata);
    case QR_API_PRODUCE:
        return enc_produce_req(ctx, &req->u.produce, &pb->produce);
    case QR_API_FETCH:
        return enc_fetch_req(ctx, &req->u.fetch, &pb->fetch);
    case QR_API_LIST_OFFSETS:
        return enc_list_offsets_req(ctx, &req->u.list_offsets,
                                    &pb->list_offsets);
    case QR_API_INIT_PRODUCER_ID:
        return enc_init_pid_req(ctx, &req->u.init_pid, &pb->init_producer_id);
    case QR_API_OFFSET_FOR_LEADER_EPOCH:
        return enc_epoch_req(ctx, &req->u.offset_for_leader_epoch,
                             &pb->offset_for_leader_epoch);
    default:
        return QUIRE_ERR_BAD_ARG;
    }
}

/* ---- encoding response bodies ---- */

static quire_err_t enc_api_versions_resp(enc_ctx_t *ctx,
                                         const qr_api_versions_resp_t *in,
                                         Quire__ApiVersionsResponse **out)
{
    Quire__ApiVersionsResponse *pb;

    if (in->api_count > 1024)
        return QUIRE_ERR_BAD_ARG;
    NEW_MSG(ctx, Quire__ApiVersionsResponse, quire__api_versions_response__init,
            pb);
    SET_ERR(pb, in->error_code);
    NEW_PTRS(ctx, in->api_count, pb->api_versions);
    for (size_t i = 0; i < in->api_count; i++) {
        Quire__ApiVersionsResponse__ApiVersion *v;
        NEW_MSG(ctx, Quire__ApiVersionsResponse__ApiVersion,
                quire__api_versions_response__api_version__init, v);
        SET(v, api_key, (Quire__ApiKey)in->apis[i].api_key);
        SET(v, min_version, in->apis[i].min_version);
        SET(v, max_version, in->apis[i].max_version);
        pb->api_versions[i] = v;
    }
    pb->n_api_versions = in->api_count;
    *out = pb;
    return QUIRE_ERR_NONE;
}

static quire_err_t enc_int32s(size_t n, const int32_t *in, size_t *count,
                              int32_t **out)
{
    if (n > QR_WIRE_REPLICAS_MAX)
        return QUIRE_ERR_BAD_ARG;
    *count = n;
    *out = (int32_t *)in; /* packed as is, never written */
    return QUIRE_ERR_NONE;
}

static quire_err_t
enc_metadata_topic(enc_ctx_t *ctx, const qr_metadata_topic_t *t,
                   Quire__MetadataResponse__TopicMetadata **out)
{
    Quire__MetadataResponse__TopicMetadata *tm;

    TRY(enc_parts(ctx, t->partition_count));
    NEW_MSG(ctx, Quire__MetadataResponse__TopicMetadata,
            quire__metadata_response__topic_metadata__init, tm);
    SET_ERR(tm, t->error_code);
    TRY(enc_string(t->topic, QR_WIRE_TOPIC_MAX, &tm->topic));
    NEW_PTRS(ctx, t->partition_count, tm->partitions);
    for (size_t j = 0; j < t->partition_count; j++) {
        const qr_metadata_part_t *p = &t->partitions[j];
        Quire__MetadataResponse__PartitionMetadata *pm;
        NEW_MSG(ctx, Quire__MetadataResponse__PartitionMetadata,
                quire__metadata_response__partition_metadata__init, pm);
        SET_ERR(pm, p->error_code);
        SET(pm, partition, p->partition);
        SET(pm, leader, p->leader);
        SET(pm, leader_epoch, p->leader_epoch);
        TRY(enc_int32s(p->replica_count, p->replicas, &pm->n_replicas,
                       &pm->replicas));
        TRY(enc_int32s(p->isr_count, p->isr, &pm->n_isr, &pm->isr));
        tm->partitions[j] = pm;
    }
    tm->n_partitions = t->partition_count;
    *out = tm;
    return QUIRE_ERR_NONE;
}

static quire_err_t enc_metadata_resp(enc_ctx_t *ctx,
                                     const qr_metadata_resp_t *in,
                                     Quire__MetadataResponse **out)
{
    Quire__MetadataResponse *pb;

    if (in->broker_count > QR_WIRE_BROKERS_MAX)
        return QUIRE_ERR_BAD_ARG;
    ENC_TOPICS(in->topic_count);
    NEW_MSG(ctx, Quire__MetadataResponse, quire__metadata_response__init, pb);
    NEW_PTRS(ctx, in->broker_count, pb->brokers);
    for (size_t i = 0; i < in->broker_count; i++) {
        Quire__MetadataResponse__Broker *b;
        if (in->brokers[i].port < 0 || in->brokers[i].port > 65535)
            return QUIRE_ERR_BAD_ARG;
        NEW_MSG(ctx, Quire__MetadataResponse__Broker,
                quire__metadata_response__broker__init, b);
        SET(b, node_id, in->brokers[i].node_id);
        TRY(enc_string(in->brokers[i].host, QR_WIRE_STRING_MAX, &b->host));
        SET(b, port, in->brokers[i].port);
        pb->brokers[i] = b;
    }
    pb->n_brokers = in->broker_count;
    SET(pb, controller_id, in->controller_id);
    NEW_PTRS(ctx, in->topic_count, pb->topics);
    for (size_t i = 0; i < in->topic_count; i++)
        TRY(enc_metadata_topic(ctx, &in->topics[i], &pb->topics[i]));
    pb->n_topics = in->topic_count;
    *out = pb;
    return QUIRE_ERR_NONE;
}

static quire_err_t enc_produce_resp(enc_ctx_t *ctx, const qr_produce_resp_t *in,
                                    Quire__ProduceResponse **out)
{
    Quire__ProduceResponse *pb;

    ENC_TOPICS(in->topic_count);
    NEW_MSG(ctx, Quire__ProduceResponse, quire__produce_response__init, pb);
    NEW_PTRS(ctx, in->topic_count, pb->responses);
    for (size_t i = 0; i < in->topic_count; i++) {
        const qr_produce_topic_resp_t *t = &in->topics[i];
        Quire__ProduceResponse__TopicResponse *tr;

        TRY(enc_parts(ctx, t->partition_count));
        NEW_MSG(ctx, Quire__ProduceResponse__TopicResponse,
                quire__produce_response__topic_response__init, tr);
        TRY(enc_string(t->topic, QR_WIRE_TOPIC_MAX, &tr->topic));
        NEW_PTRS(ctx, t->partition_count, tr->partition_responses);
        for (size_t j = 0; j < t->partition_count; j++) {
            const qr_produce_part_resp_t *p = &t->partitions[j];
            Quire__ProduceResponse__PartitionResponse *pr;
            NEW_MSG(ctx, Quire__ProduceResponse__PartitionResponse,
                    quire__produce_response__partition_response__init, pr);
            SET(pr, partition, p->partition);
            SET_ERR(pr, p->error_code);
            SET(pr, base_offset, p->base_offset);
            SET(pr, log_append_time, p->log_append_time);
            SET(pr, log_start_offset, p->log_start_offset);
            tr->partition_responses[j] = pr;
        }
        tr->n_partition_responses = t->partition_count;
        pb->responses[i] = tr;
    }
    pb->n_responses = in->topic_count;
    *out = pb;
    return QUIRE_ERR_NONE;
}

static quire_err_t enc_fetch_resp(enc_ctx_t *ctx, const qr_fetch_resp_t *in,
                                  Quire__FetchResponse **out)
{
    Quire__FetchResponse *pb;

    ENC_TOPICS(in->topic_count);
    NEW_MSG(ctx, Quire__FetchResponse, quire__fetch_response__init, pb);
    NEW_PTRS(ctx, in->topic_count, pb->responses);
    for (size_t i = 0; i < in->topic_count; i++) {
        const qr_fetch_topic_resp_t *t = &in->topics[i];
        Quire__FetchResponse__TopicResponse *tr;

        TRY(enc_parts(ctx, t->partition_count));
        NEW_MSG(ctx, Quire__FetchResponse__TopicResponse,
                quire__fetch_response__topic_response__init, tr);
        TRY(enc_string(t->topic, QR_WIRE_TOPIC_MAX, &tr->topic));
        NEW_PTRS(ctx, t->partition_count, tr->partition_responses);
        for (size_t j = 0; j < t->partition_count; j++) {
            const qr_fetch_part_resp_t *p = &t->partitions[j];
            Quire__FetchResponse__PartitionResponse *pr;
            NEW_MSG(ctx, Quire__FetchResponse__PartitionResponse,
                    quire__fetch_response__partition_response__init, pr);
            SET(pr, partition, p->partition);
            SET_ERR(pr, p->error_code);
            SET(pr, high_watermark, p->high_watermark);
            SET(pr, log_start_offset, p->log_start_offset);
            SET(pr, records_length, p->records_length);
            tr->partition_responses[j] = pr;
        }
        tr->n_partition_responses = t->partition_count;
        pb->responses[i] = tr;
    }
    pb->n_responses = in->topic_count;
    *out = pb;
    return QUIRE_ERR_NONE;
}

static quire_err_t enc_list_offsets_resp(enc_ctx_t *ctx,
                                         const qr_list_offsets_resp_t *in,
                                         Quire__ListOffsetsResponse **out)
{
    Quire__ListOffsetsResponse *pb;

    ENC_TOPICS(in->topic_count);
    NEW_MSG(ctx, Quire__ListOffsetsResponse, quire__list_offsets_response__init,
            pb);
    NEW_PTRS(ctx, in->topic_count, pb->responses);
    for (size_t i = 0; i < in->topic_count; i++) {
        const qr_list_offsets_topic_resp_t *t = &in->topics[i];
        Quire__ListOffsetsResponse__TopicResponse *tr;

        TRY(enc_parts(ctx, t->partition_count));
        NEW_MSG(ctx, Quire__ListOffsetsResponse__TopicResponse,
                quire__list_offsets_response__topic_response__init, tr);
        TRY(enc_string(t->topic, QR_WIRE_TOPIC_MAX, &tr->topic));
        NEW_PTRS(ctx, t->partition_count, tr->partition_responses);
        for (size_t j = 0; j < t->partition_count; j++) {
            const qr_list_offsets_part_resp_t *p = &t->partitions[j];
            Quire__ListOffsetsResponse__PartitionResponse *pr;
            NEW_MSG(ctx, Quire__ListOffsetsResponse__PartitionResponse,
                    quire__list_offsets_response__partition_response__init, pr);
            SET(pr, partition, p->partition);
            SET_ERR(pr, p->error_code);
            SET(pr, timestamp, p->timestamp);
            SET(pr, offset, p->offset);
            tr->partition_responses[j] = pr;
        }
        tr->n_partition_responses = t->partition_count;
        pb->responses[i] = tr;
    }
    pb->n_responses = in->topic_count;
    *out = pb;
    return QUIRE_ERR_NONE;
}

static quire_err_t enc_epoch_resp(enc_ctx_t *ctx, const qr_epoch_resp_t *in,
                                  Quire__OffsetForLeaderEpochResponse **out)
{
    Quire__OffsetForLeaderEpochResponse *pb;

    ENC_TOPICS(in->topic_count);
    NEW_MSG(ctx, Quire__OffsetForLeaderEpochResponse,
            quire__offset_for_leader_epoch_response__init, pb);
    NEW_PTRS(ctx, in->topic_count, pb->topics);
    for (size_t i = 0; i < in->topic_count; i++) {
        const qr_epoch_topic_resp_t *t = &in->topics[i];
        Quire__OffsetForLeaderEpochResponse__TopicResponse *tr;

        TRY(enc_parts(ctx, t->partition_count));
        NEW_MSG(ctx, Quire__OffsetForLeaderEpochResponse__TopicResponse,
                quire__offset_for_leader_epoch_response__topic_response__init,
                tr);
        TRY(enc_string(t->topic, QR_WIRE_TOPIC_MAX, &tr->topic));
        NEW_PTRS(ctx, t->partition_count, tr->partitions);
        for (size_t j = 0; j < t->partition_count; j++) {
            const qr_epoch_part_resp_t *p = &t->partitions[j];
            Quire__OffsetForLeaderEpochResponse__PartitionResponse *pr;
            NEW_MSG(
                ctx, Quire__OffsetForLeaderEpochResponse__PartitionResponse,
                quire__offset_for_leader_epoch_response__partition_response__init,
                pr);
            SET(pr, partition, p->partition);
            SET_ERR(pr, p->error_code);
            SET(pr, leader_epoch, p->leader_epoch);
            SET(pr, end_offset, p->end_offset);
            tr->partitions[j] = pr;
        }
        tr->n_partitions = t->partition_count;
        pb->topics[i] = tr;
    }
    pb->n_topics = in->topic_count;
    *out = pb;
    return QUIRE_ERR_NONE;
}

static quire_err_t enc_resp(enc_ctx_t *ctx, const qr_resp_t *resp,
                            Quire__Response *pb)
{
    SET(pb, correlation_id, resp->correlation_id);
    SET_ERR(pb, resp->error_code);
    if (resp->api == QR_API_UNKNOWN)
        return QUIRE_ERR_NONE; /* an answer to a request we could not read */
    if (find_api(resp->api) == NULL)
        return QUIRE_ERR_BAD_ARG;
    SET(pb, api, (Quire__ApiKey)resp->api);
    pb->body_case = (Quire__Response__BodyCase)body_case_of(resp->api);
    switch (resp->api) {
    case QR_API_API_VERSIONS:
        return enc_api_versions_resp(ctx, &resp->u.api_versions,
                                     &pb->api_versions);
    case QR_API_METADATA:
        return enc_metadata_resp(ctx, &resp->u.metadata, &pb->metadata);
    case QR_API_PRODUCE:
        return enc_produce_resp(ctx, &resp->u.produce, &pb->produce);
    case QR_API_FETCH:
        return enc_fetch_resp(ctx, &resp->u.fetch, &pb->fetch);
    case QR_API_LIST_OFFSETS:
        return enc_list_offsets_resp(ctx, &resp->u.list_offsets,
                                     &pb->list_offsets);
    case QR_API_INIT_PRODUCER_ID:
        return enc_init_pid_resp(ctx, &resp->u.init_pid, &pb->init_producer_id);
    case QR_API_OFFSET_FOR_LEADER_EPOCH:
        return enc_epoch_resp(ctx, &resp->u.offset_for_leader_epoch,
                              &pb->offset_for_leader_epoch);
    default:
        return QUIRE_ERR_BAD_ARG;
    }
}

/* ---- packing ---- */

/*
 * Packs @p msg after a frame prefix counting @p payload_len payload bytes,
 * into @p buf (cap bytes) or, when @p alloc_out is non-NULL, into a buffer
 * of exactly the right size.
 */
static quire_err_t pack_frame(const ProtobufCMessage *msg, uint64_t payload_len,
                              size_t header_max, uint8_t *buf, size_t cap,
                              size_t *len, uint8_t **alloc_out)
{
    uint8_t prefix[QR_FRAME_PREFIX];
    size_t hlen = protobuf_c_message_get_packed_size(msg);

    if (hlen > header_max)
        return QUIRE_ERR_FRAME_TOO_LARGE;
    TRY(qr_frame_prefix(prefix, hlen, payload_len));
    *len = QR_FRAME_PREFIX + hlen;
    if (alloc_out) {
        if ((buf = malloc(*len)) == NULL)
            return OOM;
        *alloc_out = buf;
    } else if (cap < *len) {
        return QUIRE_ERR_BUF_FULL;
    }
    memcpy(buf, prefix, QR_FRAME_PREFIX);
    protobuf_c_message_pack(msg, buf + QR_FRAME_PREFIX);
    return QUIRE_ERR_NONE;
}

uint64_t qr_wire_req_payload_len(const qr_req_t *req)
{
    uint64_t sum = 0;

    if (req->api != QR_API_PRODUCE)
        return 0;
    for (size_t i = 0; i < req->u.produce.topic_count; i++) {
        const qr_produce_topic_t *t = &req->u.produce.topics[i];
        for (size_t j = 0; j < t->partition_count; j++)
            sum += t->partitions[j].records_length;
    }
    return sum;
}

uint64_t qr_wire_resp_payload_len(const qr_resp_t *resp)
{
    uint64_t sum = 0;

    if (resp->api != QR_API_FETCH)
        return 0;
    for (size_t i = 0; i < resp->u.fetch.topic_count; i++) {
        const qr_fetch_topic_resp_t *t = &resp->u.fetch.topics[i];
        for (size_t j = 0; j < t->partition_count; j++)
            sum += t->partitions[j].records_length;
    }
    return sum;
}

static quire_err_t req_encode(const qr_req_t *req, uint8_t *buf, size_t cap,
                              size_t *len, uint8_t **alloc_out)
{
    Quire__Request pb = QUIRE__REQUEST__INIT;
    mem_stack_t ms;
    enc_ctx_t ctx;
    quire_err_t err;

    ctx.mem = mem_stack_init(&ms);
    ctx.parts_left = QR_WIRE_PARTITIONS_MAX;
    err = enc_req(&ctx, req, &pb);
    if (err == QUIRE_ERR_NONE)
        err = pack_frame(&pb.base, qr_wire_req_payload_len(req),
                         QR_FRAME_REQ_HEADER_MAX, buf, cap, len, alloc_out);
    /* Not mem_destroy(): the arena is on the stack, and gcc -O2 warns
     * (-Wfree-nonheap-object) about its free() even behind on_heap. */
    mem_free_blocks(ctx.mem);
    return err;
}

quire_err_t qr_wire_req_encode(const qr_req_t *req, uint8_t *buf, size_t cap,
                               size_t *len)
{
    return req_encode(req, buf, cap, len, NULL);
}

quire_err_t qr_wire_req_encode_alloc(const qr_req_t *req, uint8_t **out,
                                     size_t *len)
{
    return req_encode(req, NULL, 0, len, out);
}

static quire_err_t resp_encode(const qr_resp_t *resp, uint8_t *buf, size_t cap,
                               size_t *len, uint8_t **alloc_out)
{
    Quire__Response pb = QUIRE__RESPONSE__INIT;
    mem_stack_t ms;
    enc_ctx_t ctx;
    quire_err_t err;

    ctx.mem = mem_stack_init(&ms);
    ctx.parts_left = QR_WIRE_PARTITIONS_MAX;
    err = enc_resp(&ctx, resp, &pb);
    if (err == QUIRE_ERR_NONE)
        err = pack_frame(&pb.base, qr_wire_resp_payload_len(resp),
                         QR_FRAME_RESP_HEADER_MAX, buf, cap, len, alloc_out);
    /* Not mem_destroy(): the arena is on the stack, and gcc -O2 warns
     * (-Wfree-nonheap-object) about its free() even behind on_heap. */
    mem_free_blocks(ctx.mem);
    return err;
}

quire_err_t qr_wire_resp_encode(const qr_resp_t *resp, uint8_t *buf, size_t cap,
                                size_t *len)
{
    return resp_encode(resp, buf, cap, len, NULL);
}

quire_err_t qr_wire_resp_encode_alloc(const qr_resp_t *resp, uint8_t **out,
                                      size_t *len)
{
    return resp_encode(resp, NULL, 0, len, out);
}
