/*
 * props: java.util.Properties.load, transliterated.
 *
 * The two halves follow the JDK's own structure so they can be checked
 * against it line by line: read_line() is Properties.LineReader.readLine()
 * (JDK 9+: a '#' or '!' starts a comment whenever the logical line is still
 * empty, even after a continuation), split_line() is the key/separator/value
 * scan of Properties.load0(), unescape() is Properties.loadConvert().
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "props.h"

/* ---- line reader ---- */

typedef struct lreader {
    const unsigned char *p, *end;
    int line;    /* natural line of the next byte, 1-based */
    int prev_cr; /* the last byte consumed was CR: a LF now ends nothing */
} lreader_t;

static int next_byte(lreader_t *lr)
{
    int c = *lr->p++;
    if (c == '\r' || (c == '\n' && !lr->prev_cr))
        lr->line++;
    lr->prev_cr = (c == '\r');
    return c;
}

static int is_ws(int c)
{
    return c == ' ' || c == '\t' || c == '\f';
}

/*
 * Reads one logical line into @p buf (which has room for the whole input).
 * Returns 1 with its length in *lenp and its first natural line in *firstp,
 * or 0 at the end of the input.
 */
static int read_line(lreader_t *lr, unsigned char *buf, size_t *lenp,
                     int *firstp)
{
    size_t len = 0;
    int skip_ws = 1, appended = 0, bs = 0;

    *firstp = 0;
    for (;;) {
        if (lr->p >= lr->end) {
            if (len == 0)
                return 0;
            *lenp = bs ? len - 1 : len;
            return 1;
        }
        int c = next_byte(lr);
        if (skip_ws) {
            if (is_ws(c))
                continue;
            /* Blank lines are skipped, but not the empty line after a
             * continuation: that one ends the logical line. */
            if (!appended && (c == '\r' || c == '\n'))
                continue;
            skip_ws = 0;
            appended = 0;
        }
        if (len == 0 && (c == '#' || c == '!')) {
            /* A comment runs to the end of its natural line, backslash or
             * not. */
            while (lr->p < lr->end) {
                c = next_byte(lr);
                if (c == '\r' || c == '\n')
                    break;
            }
            skip_ws = 1;
            *firstp = 0;
            continue;
        }
        if (c != '\n' && c != '\r') {
            if (*firstp == 0)
                *firstp = lr->line;
            buf[len++] = (unsigned char)c;
            bs = (c == '\\') ? !bs : 0;
            continue;
        }
        /* End of a natural line. */
        if (len == 0) {
            skip_ws = 1;
            *firstp = 0;
            continue;
        }
        if (lr->p >= lr->end) {
            *lenp = bs ? len - 1 : len;
            return 1;
        }
        if (!bs) {
            *lenp = len;
            return 1;
        }
        /* Odd number of trailing backslashes: the last one is not part of
         * the line, which goes on after the next line's leading
         * whitespace. */
        len--;
        skip_ws = 1;
        appended = 1;
        bs = 0;
        if (c == '\r' && *lr->p == '\n')
            next_byte(lr);
    }
}

/* ---- key/value split and unescaping ---- */

/*
 * The key is buf[0, *klen); the value is buf[*vstart, len). As load0: the
 * key ends at the first unescaped '=', ':' or whitespace; then whitespace
 * and at most one '=' or ':' are skipped.
 */
static void split_line(const unsigned char *buf, size_t len, size_t *klen,
                       size_t *vstart)
{
    size_t k = 0, v = len;
    int has_sep = 0, bs = 0;

    while (k < len) {
        int c = buf[k];
        if ((c == '=' || c == ':') && !bs) {
            v = k + 1;
            has_sep = 1;
            break;
        }
        if (is_ws(c) && !bs) {
            v = k + 1;
            break;
        }
        bs = (c == '\\') ? !bs : 0;
        k++;
    }
    while (v < len) {
        int c = buf[v];
        if (!is_ws(c)) {
            if (!has_sep && (c == '=' || c == ':'))
                has_sep = 1;
            else
                break;
        }
        v++;
    }
    *klen = k;
    *vstart = v;
}

static int hex4(const unsigned char *p, const unsigned char *end, uint32_t *out)
{
    uint32_t v = 0;

    if (end - p < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        int c = p[i];
        if (c >= '0' && c <= '9')
            v = (v << 4) + (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = (v << 4) + 10 + (uint32_t)(c - 'a');
        else if (c >= 'A' && c <= 'F')
            v = (v << 4) + 10 + (uint32_t)(c - 'A');
        else
            return -1;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/*
 * Unescapes in[0, n) into @p out (room for n + 1 bytes: no escape grows,
 * "\uXXXX" is 6 bytes for at most 3 of UTF-8, a surrogate pair 12 for 4).
 * Returns NULL, or the reason it is malformed.
 */
static const char *unescape(const unsigned char *in, size_t n, char *out)
{
    const unsigned char *end = in + n;
    size_t o = 0;

    while (in < end) {
        int c = *in++;
        if (c == '\0')
            return "NUL character in key or value";
        if (c != '\\') {
            out[o++] = (char)c;
            continue;
        }
        /* read_line() and split_line() never leave an odd backslash at the
         * end; a stray one is dropped rather than read past. */
        if (in >= end)
            break;
        c = *in++;
        switch (c) {
        case 't':
            out[o++] = '\t';
            continue;
        case 'n':
            out[o++] = '\n';
            continue;
        case 'r':
            out[o++] = '\r';
            continue;
        case 'f':
            out[o++] = '\f';
            continue;
        case 'u':
            break;
        case '\0':
            return "NUL character in key or value";
        default:
            out[o++] = (char)c;
            continue;
        }
        uint32_t cp, lo;
        if (hex4(in, end, &cp) < 0)
            return "malformed \\uxxxx encoding";
        in += 4;
        if (cp == 0)
            return "NUL character (\\u0000) in key or value";
        if (cp >= 0xd800 && cp <= 0xdbff && end - in >= 6 && in[0] == '\\' &&
            in[1] == 'u' && hex4(in + 2, end, &lo) == 0 && lo >= 0xdc00 &&
            lo <= 0xdfff) {
            /* A UTF-16 surrogate pair is one code point in UTF-8. */
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            in += 6;
        } else if (cp >= 0xd800 && cp <= 0xdfff) {
            cp = 0xfffd; /* a lone surrogate has no UTF-8 form */
        }
        o += put_utf8(out + o, cp);
    }
    out[o] = '\0';
    return NULL;
}

/* ---- entry points ---- */

quire_err_t qr_props_parse_buf(const char *name, const char *buf, size_t len,
                               qr_props_cb_t cb, void *opaque, int *errline,
                               char *errstr, size_t errstr_size)
{
    lreader_t lr = {(const unsigned char *)buf,
                    (const unsigned char *)buf + len, 1, 0};
    unsigned char *line = qr_malloc(len + 1);
    char *key = qr_malloc(len + 1);
    char *value = qr_malloc(len + 1);
    quire_err_t err = QUIRE_ERR_NONE;
    size_t n, klen, vstart;
    int first;

    if (errline)
        *errline = 0;
    while (read_line(&lr, line, &n, &first)) {
        const char *why;

        split_line(line, n, &klen, &vstart);
        why = unescape(line, klen, key);
        if (!why)
            why = unescape(line + vstart, n - vstart, value);
        if (why) {
            if (errline)
                *errline = first;
            if (errstr && errstr_size)
                snprintf(errstr, errstr_size, "%s:%d: %s", name, first, why);
            err = QUIRE_ERR_CONF_INVALID;
            break;
        }
        err = cb(key, value, first, opaque);
        if (err != QUIRE_ERR_NONE) {
            if (errline)
                *errline = first;
            break;
        }
    }
    free(line);
    free(key);
    free(value);
    return err;
}

/* Reads all of @p fp; the size is bounded before each allocation. */
static quire_err_t slurp(FILE *fp, const char *path, char **bufp, size_t *lenp,
                         char *errstr, size_t errstr_size)
{
    size_t cap = 4096, len = 0;
    char *buf = qr_malloc(cap);

    for (;;) {
        if (len == cap) {
            if (cap > QR_PROPS_MAX_FILE) {
                if (errstr && errstr_size)
                    snprintf(errstr, errstr_size,
                             "%s: file larger than %d bytes", path,
                             QR_PROPS_MAX_FILE);
                free(buf);
                return QUIRE_ERR_IO;
            }
            cap = cap > QR_PROPS_MAX_FILE / 2 ? (size_t)QR_PROPS_MAX_FILE + 1
                                              : cap * 2;
            buf = qr_realloc(buf, cap);
        }
        size_t got = fread(buf + len, 1, cap - len, fp);
        int ioerr = errno;
        len += got;
        if (got == 0) {
            if (ferror(fp)) {
                if (errstr && errstr_size)
                    snprintf(errstr, errstr_size, "%s: %s", path,
                             strerror(ioerr));
                free(buf);
                return QUIRE_ERR_IO;
            }
            break;
        }
    }
    *bufp = buf;
    *lenp = len;
    return QUIRE_ERR_NONE;
}

quire_err_t qr_props_parse_file(const char *path, qr_props_cb_t cb,
                                void *opaque, int *errline, char *errstr,
                                size_t errstr_size)
{
    char *buf;
    size_t len;
    quire_err_t err;
    FILE *fp;

    if (errline)
        *errline = 0;
    fp = fopen(path, "rb");
    if (!fp) {
        int ioerr = errno;
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "%s: %s", path, strerror(ioerr));
        return QUIRE_ERR_IO;
    }
    err = slurp(fp, path, &buf, &len, errstr, errstr_size);
    fclose(fp);
    if (err != QUIRE_ERR_NONE)
        return err;
    err = qr_props_parse_buf(path, buf, len, cb, opaque, errline, errstr,
                             errstr_size);
    free(buf);
    return err;
}
