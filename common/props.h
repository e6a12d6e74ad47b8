/*
 * props: a Java .properties reader that reads files exactly as
 * java.util.Properties.load does (JDK 9 and later; Kafka's server.properties
 * is read that way).
 *
 * - A logical line is one or more natural lines; natural lines end in LF,
 *   CR or CRLF. Leading whitespace (space, tab, form feed) is dropped.
 * - A line whose first non-whitespace character is '#' or '!' is a comment.
 *   A comment never continues onto the next line.
 * - A line ending in an odd number of backslashes continues on the next
 *   natural line; that backslash and the next line's leading whitespace go.
 * - The key ends at the first unescaped '=', ':' or whitespace; whitespace
 *   around the separator is skipped and one '=' or ':' after whitespace
 *   is a separator too ("a = b", "a b", "a:b"). The value may be empty.
 * - Escapes in keys and values: \t \n \r \f, \uXXXX (written as UTF-8; a
 *   surrogate pair becomes one code point, a lone surrogate U+FFFD), and
 *   any other \c is c (so \= \: \# \! \<space> \\ are literal).
 *
 * Differences from Java, forced by C strings: the file is taken as UTF-8
 * (bytes >= 0x80 pass through unchanged, as Properties.load(Reader) with a
 * UTF-8 reader would; load(InputStream) would read Latin-1), and a NUL
 * character (a raw 0 byte or \u0000) in a key or value is refused rather
 * than silently cutting the string short.
 */
#ifndef QR_PROPS_H
#define QR_PROPS_H

#include <stddef.h>

#include "err.h"

/** Largest file qr_props_parse_file() reads (bounded before allocating). */
#define QR_PROPS_MAX_FILE (16 * 1024 * 1024)

/**
 * @brief Called once per key/value pair, in file order.
 * @param key    unescaped key, NUL-terminated; borrowed until the callback
 *               returns
 * @param value  unescaped value, NUL-terminated, possibly ""; borrowed
 *               until the callback returns
 * @param line   1-based line number of the key's first natural line
 * @param opaque the caller's pointer, as given to the parse call
 * @returns QUIRE_ERR_NONE to go on; any other value stops parsing and the
 *          parse call returns it unchanged.
 */
typedef quire_err_t (*qr_props_cb_t)(const char *key, const char *value,
                                     int line, void *opaque);

/**
 * @brief Parses @p len bytes at @p buf (need not be NUL-terminated).
 * @param name        what to call the input in messages ("server.properties")
 * @param errline     if not NULL, receives the line of the problem (the key's
 *                    first line) on a parse error or when the callback stops
 *                    parsing; 0 otherwise
 * @param errstr      on a parse error receives "<name>:<line>: <reason>";
 *                    left alone when the callback stops parsing
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_CONF_INVALID for a malformed \uXXXX
 *          escape or a NUL character; or the callback's non-zero return.
 * @locality any  @locks none
 */
quire_err_t qr_props_parse_buf(const char *name, const char *buf, size_t len,
                               qr_props_cb_t cb, void *opaque, int *errline,
                               char *errstr, size_t errstr_size);

/**
 * @brief Reads the file at @p path (at most QR_PROPS_MAX_FILE bytes) and
 * parses it as qr_props_parse_buf() does, naming it @p path in messages.
 * @returns as qr_props_parse_buf(), or QUIRE_ERR_IO ("<path>: <strerror>",
 *          or "<path>: file larger than ..." ) when it cannot be read.
 * @locality any  @locks none
 */
quire_err_t qr_props_parse_file(const char *path, qr_props_cb_t cb,
                                void *opaque, int *errline, char *errstr,
                                size_t errstr_size);

#endif /* QR_PROPS_H */
