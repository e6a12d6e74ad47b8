/*
 * alloc: aborting allocation wrappers for the daemon and tools (RD zmalloc).
 *
 * Inside the broker and the CLIs, running out of memory is not a condition
 * the code can recover from, so these abort with a message instead of
 * returning NULL. libquire's public API must never abort its host process:
 * client/ code uses plain malloc and returns QUIRE_ERR_NO_MEMORY instead.
 */
#ifndef QR_ALLOC_H
#define QR_ALLOC_H

#include <stddef.h>

/**
 * @brief malloc that aborts on failure. qr_malloc(0) returns a unique
 * pointer. @returns owned memory, free with free().
 * @locality any  @locks none
 */
void *qr_malloc(size_t size);

/** @brief calloc that aborts on failure or on nmemb*size overflow.
 * @returns owned, zeroed memory. @locality any @locks none */
void *qr_calloc(size_t nmemb, size_t size);

/** @brief realloc that aborts on failure. @p ptr is consumed on success
 * (and the process ends on failure). @returns owned memory.
 * @locality any @locks none */
void *qr_realloc(void *ptr, size_t size);

/** @brief strdup that aborts on failure. @returns owned copy.
 * @locality any @locks none */
char *qr_strdup(const char *s);

/** @brief strndup that aborts on failure. @returns owned copy.
 * @locality any @locks none */
char *qr_strndup(const char *s, size_t n);

/** @brief Bytes of a cache line on the machines quire targets (x86-64,
 * arm64): what keeps a field written by one thread off the line another
 * thread reads. */
#define QR_CACHE_LINE 64

/** @brief Number of elements of a true array (not a pointer). */
#define QR_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif /* QR_ALLOC_H */
