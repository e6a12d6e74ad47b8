/*
 * partitioner: Kafka's murmur2 key hash and the keyed-record partition
 * choice, bit for bit as the Java client's Utils.murmur2 and
 * DefaultPartitioner (toPositive(murmur2(key)) % numPartitions). Test
 * vectors come from python3-kafka (tests/data/gen_murmur2_vectors.py).
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "quire.h"

uint32_t quire_murmur2(const void *key, size_t key_len)
{
    /* Java's int arithmetic wraps modulo 2^32, as uint32_t does; Java's
     * length is an int, so only the low 32 bits of key_len take part. */
    const uint8_t *p = key;
    const uint32_t m = 0x5bd1e995;
    const int r = 24;
    uint32_t len = (uint32_t)key_len;
    uint32_t h = 0x9747b28cu ^ len;
    size_t i, blocks = key_len / 4;

    for (i = 0; i < blocks; i++) {
        const uint8_t *b = p + i * 4;
        uint32_t k = (uint32_t)b[0] | (uint32_t)b[1] << 8 |
                     (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;

        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }
    p += blocks * 4;
    switch (key_len & 3) {
    case 3:
        h ^= (uint32_t)p[2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)p[1] << 8;
        /* fall through */
    case 1:
        h ^= p[0];
        h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return h;
}

int32_t quire_partition_for_key(const void *key, size_t key_len,
                                int32_t partition_cnt)
{
    if (partition_cnt <= 0)
        return -1;
    return (int32_t)((quire_murmur2(key, key_len) & 0x7fffffffu) %
                     (uint32_t)partition_cnt);
}
