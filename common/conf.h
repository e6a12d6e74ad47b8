/*
 * conf: typed configuration tables (STYLE.md §7, RD static_configs[],
 * RK rd_kafka_properties[]).
 *
 * A config file has one table of qr_conf_prop_t describing its keys (Kafka's
 * names), each bound by offsetof() to a field of the caller's struct. The
 * same table parses the properties file (through props), rejects unknown keys
 * and bad values with "<file>:<line>: <key>: <reason>", prints --help-config
 * and generates the key list of the man page.
 *
 * Field types by qr_conf_type_t:
 *   INT          int           BOOL   int (0/1)     STRING  char * (owned)
 *   INT64        int64_t       SIZE   int64_t bytes DURATION_MS int64_t ms
 *   ENUM         int (index into the prop's `values`)
 *   LIST         qr_conf_list_t (comma-separated; owned)
 * A prop with QR_CONF_F_NULLABLE and default NULL is "unset" until given:
 * numbers read as -1 then, and qr_conf_is_set() tells (for Kafka's
 * log.retention.ms > .minutes > .hours precedence).
 *
 * (contract: broker/ and coordinator/ build their tables on this API.)
 */
#ifndef QR_CONF_H
#define QR_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

typedef enum qr_conf_type {
    QR_CONF_INT,
    QR_CONF_INT64,
    QR_CONF_BOOL,
    QR_CONF_STRING,
    QR_CONF_ENUM,
    QR_CONF_LIST,
    QR_CONF_SIZE,
    QR_CONF_DURATION_MS,
    QR_CONF_TYPE_COUNT
} qr_conf_type_t;

#define QR_CONF_F_RESTART    0x1 /* takes effect on restart only */
#define QR_CONF_F_RELOADABLE 0x2 /* may change at run time */
#define QR_CONF_F_REQUIRED   0x4 /* no default: must be given */
#define QR_CONF_F_NULLABLE   0x8 /* may stay unset (default NULL) */

/** A parsed comma-separated list; both levels owned by the config struct. */
typedef struct qr_conf_list {
    char **v;
    size_t n;
} qr_conf_list_t;

typedef struct qr_conf_prop {
    const char *name; /* Kafka's key name */
    qr_conf_type_t type;
    size_t offset;             /* offsetof() into the config struct */
    const char *defval;        /* default as text, parsed like a value; NULL:
                                  none (REQUIRED or NULLABLE) */
    int64_t min, max;          /* numeric range (inclusive); min > max: none */
    const char *const *values; /* ENUM: NULL-terminated allowed words */
    int flags;
    const char *doc; /* one line, for --help-config and the man page */
} qr_conf_prop_t;

typedef struct qr_conf_table {
    const char *name;            /* "server.properties" */
    const qr_conf_prop_t *props; /* static table, borrowed */
    size_t count;
    size_t set_offset; /* offsetof() of a uint64_t[] bitmap, one bit per
                          prop, in the struct: which keys were given */
} qr_conf_table_t;

/** Bitmap words needed in the struct for a table of @p n props. */
#define QR_CONF_SET_WORDS(n) (((n) + 63) / 64)

/**
 * @brief Fills @p obj (zeroed by the caller) with every default.
 * @returns QUIRE_ERR_NONE, or QUIRE_ERR_CONF_INVALID when a table default
 *          does not parse (a programming error, reported in @p errstr).
 * @locality any  @locks none
 */
quire_err_t qr_conf_defaults(const qr_conf_table_t *table, void *obj,
                             char *errstr, size_t errstr_size);

/**
 * @brief Sets @p key to @p value (text), checking type and range.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_CONF_UNKNOWN ("<key>: unknown
 *          configuration key"); QUIRE_ERR_CONF_INVALID ("<key>: <reason>").
 * @locality any  @locks none
 */
quire_err_t qr_conf_set(const qr_conf_table_t *table, void *obj,
                        const char *key, const char *value, char *errstr,
                        size_t errstr_size);

/**
 * @brief Reads a Java properties file and sets every key in it; the first
 * problem stops it with "<file>:<line>: <key>: <reason>" in @p errstr.
 * @returns QUIRE_ERR_NONE, QUIRE_ERR_IO, QUIRE_ERR_CONF_UNKNOWN or
 *          QUIRE_ERR_CONF_INVALID.
 * @locality any  @locks none
 */
quire_err_t qr_conf_load_file(const qr_conf_table_t *table, void *obj,
                              const char *path, char *errstr,
                              size_t errstr_size);

/**
 * @brief Checks that every REQUIRED key was given.
 * @returns QUIRE_ERR_NONE or QUIRE_ERR_CONF_INVALID naming the key.
 */
quire_err_t qr_conf_check_required(const qr_conf_table_t *table,
                                   const void *obj, char *errstr,
                                   size_t errstr_size);

/** @brief Whether @p key was given (by file or qr_conf_set), not defaulted.
 * @returns 1, 0, or -1 for a key not in the table. */
int qr_conf_is_set(const qr_conf_table_t *table, const void *obj,
                   const char *key);

/** @brief Frees the strings and lists @p obj owns; @p obj itself is the
 * caller's. @locality any @locks none */
void qr_conf_free(const qr_conf_table_t *table, void *obj);

/** @brief Prints every key, type, default, range and doc (--help-config). */
void qr_conf_print_help(const qr_conf_table_t *table, FILE *fp);

/** @brief Prints the table as man(7) markup, one .TP entry per key; the man
 * page's key list is generated from this and tested against it. */
void qr_conf_print_man(const qr_conf_table_t *table, FILE *fp);

/* ---- additions (not part of the original contract) ----
 *
 * How values are read (Kafka's ConfigDef.parseType): the text is trimmed
 * (every byte <= ' ' at either end) before anything else; STRING keeps the
 * trimmed text; BOOL is true/false in any case; the numeric types are plain
 * decimal integers (sign allowed; units, hex, overflow and trailing garbage
 * refused); ENUM words match case-sensitively (Kafka's ValidString); LIST
 * splits on ',' and trims each item, "" is the empty list and an empty item
 * ("a,,b", "a,") is refused. min/max (when min <= max) bound the value of
 * the numeric types and the item count of a LIST; BOOL, STRING and ENUM
 * ignore them.
 *
 * qr_conf_print_man() writes, per key:
 *   .TP
 *   .B <key>
 *   <doc> (<type>; default: <default>[; range: <min> to <max>]
 *         [; values: a, b][; items: <min> to <max>][; restart|reloadable])
 * (the last part on the same line), with roff's backslash and leading-dot
 * escapes applied.
 */

/** @brief The entry of @p key in @p table.
 * @returns a pointer into the (static) table, or NULL for an unknown key.
 * @locality any @locks none */
const qr_conf_prop_t *qr_conf_find(const qr_conf_table_t *table,
                                   const char *key);

/** @brief The name of @p type as --help-config prints it ("duration_ms").
 * @returns a static string; "?" for a value out of the enum.
 * @locality any @locks none */
const char *qr_conf_type2str(qr_conf_type_t type);

/** @brief The current value of @p prop in @p obj as text, as a
 * properties file would give it (BOOL true/false, ENUM its word, LIST
 * comma-separated).
 * @returns owned (free()); NULL for an unset NULLABLE key or string.
 * @locality any @locks none */
char *qr_conf_value_str(const qr_conf_prop_t *prop, const void *obj);

#endif /* QR_CONF_H */
