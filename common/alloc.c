/*
 * alloc: out of memory ends the process with a line on stderr. Logging is
 * not used here on purpose: it may itself need memory.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

static void oom(size_t size)
{
    fprintf(stderr, "quire: out of memory allocating %zu bytes\n", size);
    abort();
}

void *qr_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        oom(size);
    return p;
}

void *qr_calloc(size_t nmemb, size_t size)
{
    /* Checked here, not left to calloc: the answer is the same abort with
     * or without a sanitizer's allocator underneath. */
    if (size && nmemb > SIZE_MAX / size)
        oom(SIZE_MAX);
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (!p)
        oom(nmemb * size);
    return p;
}

void *qr_realloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (!p)
        oom(size);
    return p;
}

char *qr_strdup(const char *s)
{
    char *p = strdup(s);
    if (!p)
        oom(strlen(s) + 1);
    return p;
}

char *qr_strndup(const char *s, size_t n)
{
    /* Not strndup(3): @p s need not be NUL-terminated within @p n bytes'
     * reach, and ASan's strict_string_checks (tests/run) rightly flags
     * libc's strndup reading for a terminator past a buffer's end. */
    const char *nul = memchr(s, '\0', n);
    size_t len = nul ? (size_t)(nul - s) : n;
    char *p = malloc(len + 1);

    if (!p)
        oom(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}
