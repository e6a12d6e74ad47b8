/*
 * conf: the typed config table engine (STYLE.md §7).
 *
 * Values are read the way Kafka's ConfigDef.parseType reads them: the text
 * is trimmed first (String.trim: every byte <= ' ' at either end), BOOL is
 * "true"/"false" in any case, numbers are plain decimal integers (no units,
 * no hex; overflow and trailing garbage are errors), a LIST splits on commas
 * with the items trimmed. One difference: Kafka keeps empty list items
 * ("a,,b"); they are refused here, since no quire list has a use for "".
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "conf.h"
#include "props.h"

static const char *const type_names[] = {
    [QR_CONF_INT] = "int",   [QR_CONF_INT64] = "int64",
    [QR_CONF_BOOL] = "bool", [QR_CONF_STRING] = "string",
    [QR_CONF_ENUM] = "enum", [QR_CONF_LIST] = "list",
    [QR_CONF_SIZE] = "size", [QR_CONF_DURATION_MS] = "duration_ms",
};
_Static_assert(QR_ARRAY_LEN(type_names) == QR_CONF_TYPE_COUNT,
               "type_names out of step with qr_conf_type_t");

const char *qr_conf_type2str(qr_conf_type_t type)
{
    if ((unsigned)type >= QR_CONF_TYPE_COUNT)
        return "?";
    return type_names[type];
}

/* ---- helpers ---- */

static void fail(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    va_list ap;

    if (!errstr || !errstr_size)
        return;
    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
}

static void *field(void *obj, const qr_conf_prop_t *prop)
{
    return (char *)obj + prop->offset;
}

static uint64_t *set_bits(const qr_conf_table_t *table, void *obj)
{
    return (uint64_t *)((char *)obj + table->set_offset);
}

static int has_range(const qr_conf_prop_t *prop)
{
    return prop->min <= prop->max;
}

/* Java's String.trim(): [s, s+n) without bytes <= ' ' at either end. */
static const char *trim(const char *s, size_t *np)
{
    size_t n = strlen(s);

    while (n && (unsigned char)*s <= ' ') {
        s++;
        n--;
    }
    while (n && (unsigned char)s[n - 1] <= ' ')
        n--;
    *np = n;
    return s;
}

static void list_free(qr_conf_list_t *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->v[i]);
    free(list->v);
    list->v = NULL;
    list->n = 0;
}

/* The value a NULLABLE (or REQUIRED) prop holds before it is given. */
static void store_unset(const qr_conf_prop_t *prop, void *obj)
{
    void *f = field(obj, prop);

    switch (prop->type) {
    case QR_CONF_INT:
    case QR_CONF_BOOL:
    case QR_CONF_ENUM:
        *(int *)f = -1;
        break;
    case QR_CONF_INT64:
    case QR_CONF_SIZE:
    case QR_CONF_DURATION_MS:
        *(int64_t *)f = -1;
        break;
    case QR_CONF_STRING:
        free(*(char **)f);
        *(char **)f = NULL;
        break;
    case QR_CONF_LIST:
        list_free(f);
        break;
    case QR_CONF_TYPE_COUNT:
        break;
    }
}

/* ---- parsing one value ---- */

/* Long.parseLong: optional sign, decimal digits, nothing else. Returns 0,
 * -1 when it is not an integer, -2 when it does not fit in 64 bits. */
static int parse_int64(const char *s, size_t n, int64_t *out)
{
    char *tmp, *end;
    long long v;
    int rc = 0;

    if (n == 0)
        return -1;
    if (!(s[0] == '-' || s[0] == '+' || (s[0] >= '0' && s[0] <= '9')))
        return -1;
    tmp = qr_strndup(s, n);
    errno = 0;
    v = strtoll(tmp, &end, 10);
    if (end == tmp || *end != '\0')
        rc = -1;
    else if (errno == ERANGE)
        rc = -2;
    else
        *out = v;
    free(tmp);
    return rc;
}

static quire_err_t parse_list(const qr_conf_prop_t *prop, const char *s,
                              size_t n, qr_conf_list_t *out, char *errstr,
                              size_t errstr_size)
{
    qr_conf_list_t list = {NULL, 0};
    size_t cap = 0;

    /* "" (after trimming) is the empty list, as in Kafka. */
    while (n) {
        const char *comma = memchr(s, ',', n);
        size_t seg = comma ? (size_t)(comma - s) : n;
        const char *item = s;
        size_t ilen = seg;

        while (ilen && (unsigned char)*item <= ' ') {
            item++;
            ilen--;
        }
        while (ilen && (unsigned char)item[ilen - 1] <= ' ')
            ilen--;
        if (ilen == 0) {
            fail(errstr, errstr_size, "%s: empty item in list", prop->name);
            list_free(&list);
            return QUIRE_ERR_CONF_INVALID;
        }
        if (list.n == cap) {
            cap = cap ? cap * 2 : 4;
            list.v = qr_realloc(list.v, cap * sizeof(*list.v));
        }
        list.v[list.n++] = qr_strndup(item, ilen);
        if (!comma)
            break;
        s = comma + 1;
        n -= seg + 1;
        if (n == 0) { /* "a," : a trailing empty item */
            fail(errstr, errstr_size, "%s: empty item in list", prop->name);
            list_free(&list);
            return QUIRE_ERR_CONF_INVALID;
        }
    }
    if (has_range(prop) &&
        ((int64_t)list.n < prop->min || (int64_t)list.n > prop->max)) {
        fail(errstr, errstr_size,
             "%s: must have between %" PRId64 " and %" PRId64 " items, got %zu",
             prop->name, prop->min, prop->max, list.n);
        list_free(&list);
        return QUIRE_ERR_CONF_INVALID;
    }
    *out = list;
    return QUIRE_ERR_NONE;
}

/*
 * Parses @p text for @p prop and stores it in @p obj; on error @p obj is
 * unchanged and errstr holds "<key>: <reason>".
 */
static quire_err_t store(const qr_conf_prop_t *prop, void *obj,
                         const char *text, char *errstr, size_t errstr_size)
{
    void *f = field(obj, prop);
    size_t n;
    const char *s = trim(text, &n);
    int64_t v = 0, lo, hi;
    int rc;

    switch (prop->type) {
    case QR_CONF_INT:
    case QR_CONF_INT64:
    case QR_CONF_SIZE:
    case QR_CONF_DURATION_MS:
        rc = parse_int64(s, n, &v);
        if (rc == -1) {
            fail(errstr, errstr_size, "%s: expected an integer, got '%s'",
                 prop->name, text);
            return QUIRE_ERR_CONF_INVALID;
        }
        lo = prop->type == QR_CONF_INT ? INT_MIN : INT64_MIN;
        hi = prop->type == QR_CONF_INT ? INT_MAX : INT64_MAX;
        if (rc == -2 || v < lo || v > hi) {
            fail(errstr, errstr_size, "%s: integer out of range, got '%s'",
                 prop->name, text);
            return QUIRE_ERR_CONF_INVALID;
        }
        if (has_range(prop) && (v < prop->min || v > prop->max)) {
            fail(errstr, errstr_size,
                 "%s: must be between %" PRId64 " and %" PRId64
                 ", got %" PRId64,
                 prop->name, prop->min, prop->max, v);
            return QUIRE_ERR_CONF_INVALID;
        }
        if (prop->type == QR_CONF_INT)
            *(int *)f = (int)v;
        else
            *(int64_t *)f = v;
        return QUIRE_ERR_NONE;

    case QR_CONF_BOOL:
        if (n == 4 && strncasecmp(s, "true", 4) == 0) {
            *(int *)f = 1;
        } else if (n == 5 && strncasecmp(s, "false", 5) == 0) {
            *(int *)f = 0;
        } else {
            fail(errstr, errstr_size, "%s: expected true or false, got '%s'",
                 prop->name, text);
            return QUIRE_ERR_CONF_INVALID;
        }
        return QUIRE_ERR_NONE;

    case QR_CONF_STRING:
        free(*(char **)f);
        *(char **)f = qr_strndup(s, n);
        return QUIRE_ERR_NONE;

    case QR_CONF_ENUM:
        for (int i = 0; prop->values && prop->values[i]; i++) {
            if (strlen(prop->values[i]) == n &&
                memcmp(prop->values[i], s, n) == 0) {
                *(int *)f = i;
                return QUIRE_ERR_NONE;
            }
        }
        {
            char words[512];
            size_t w = 0;

            words[0] = '\0';
            for (int i = 0; prop->values && prop->values[i]; i++) {
                int k = snprintf(words + w, sizeof(words) - w, "%s%s",
                                 i ? ", " : "", prop->values[i]);
                if (k < 0 || (size_t)k >= sizeof(words) - w)
                    break;
                w += (size_t)k;
            }
            fail(errstr, errstr_size, "%s: must be one of %s; got '%s'",
                 prop->name, words, text);
        }
        return QUIRE_ERR_CONF_INVALID;

    case QR_CONF_LIST: {
        qr_conf_list_t list;
        quire_err_t err = parse_list(prop, s, n, &list, errstr, errstr_size);
        if (err != QUIRE_ERR_NONE)
            return err;
        list_free(f);
        *(qr_conf_list_t *)f = list;
        return QUIRE_ERR_NONE;
    }

    case QR_CONF_TYPE_COUNT:
        break;
    }
    fail(errstr, errstr_size, "%s: bad type %d in the config table", prop->name,
         (int)prop->type);
    return QUIRE_ERR_CONF_INVALID;
}

/* ---- the API ---- */

const qr_conf_prop_t *qr_conf_find(const qr_conf_table_t *table,
                                   const char *key)
{
    for (size_t i = 0; i < table->count; i++)
        if (strcmp(table->props[i].name, key) == 0)
            return &table->props[i];
    return NULL;
}

quire_err_t qr_conf_defaults(const qr_conf_table_t *table, void *obj,
                             char *errstr, size_t errstr_size)
{
    memset(set_bits(table, obj), 0,
           QR_CONF_SET_WORDS(table->count) * sizeof(uint64_t));
    for (size_t i = 0; i < table->count; i++) {
        const qr_conf_prop_t *prop = &table->props[i];

        if (!prop->defval) {
            store_unset(prop, obj);
            continue;
        }
        quire_err_t err = store(prop, obj, prop->defval, errstr, errstr_size);
        if (err != QUIRE_ERR_NONE)
            return err;
    }
    return QUIRE_ERR_NONE;
}

quire_err_t qr_conf_set(const qr_conf_table_t *table, void *obj,
                        const char *key, const char *value, char *errstr,
                        size_t errstr_size)
{
    const qr_conf_prop_t *prop = qr_conf_find(table, key);

    if (!prop) {
        fail(errstr, errstr_size, "%s: unknown configuration key", key);
        return QUIRE_ERR_CONF_UNKNOWN;
    }
    quire_err_t err = store(prop, obj, value, errstr, errstr_size);
    if (err != QUIRE_ERR_NONE)
        return err;
    size_t i = (size_t)(prop - table->props);
    set_bits(table, obj)[i / 64] |= UINT64_C(1) << (i % 64);
    return QUIRE_ERR_NONE;
}

typedef struct load_ctx {
    const qr_conf_table_t *table;
    void *obj;
    const char *path;
    char *errstr;
    size_t errstr_size;
} load_ctx_t;

static quire_err_t on_prop(const char *key, const char *value, int line,
                           void *opaque)
{
    load_ctx_t *ctx = opaque;
    char why[1024];
    quire_err_t err;

    /* A key given twice: each set replaces the last, so the later wins as
     * in Java's Properties. */
    err = qr_conf_set(ctx->table, ctx->obj, key, value, why, sizeof(why));
    if (err != QUIRE_ERR_NONE)
        fail(ctx->errstr, ctx->errstr_size, "%s:%d: %s", ctx->path, line, why);
    return err;
}

quire_err_t qr_conf_load_file(const qr_conf_table_t *table, void *obj,
                              const char *path, char *errstr,
                              size_t errstr_size)
{
    load_ctx_t ctx = {table, obj, path, errstr, errstr_size};

    return qr_props_parse_file(path, on_prop, &ctx, NULL, errstr, errstr_size);
}

quire_err_t qr_conf_check_required(const qr_conf_table_t *table,
                                   const void *obj, char *errstr,
                                   size_t errstr_size)
{
    for (size_t i = 0; i < table->count; i++) {
        const qr_conf_prop_t *prop = &table->props[i];

        if ((prop->flags & QR_CONF_F_REQUIRED) &&
            qr_conf_is_set(table, obj, prop->name) != 1) {
            fail(errstr, errstr_size, "%s: missing required configuration key",
                 prop->name);
            return QUIRE_ERR_CONF_INVALID;
        }
    }
    return QUIRE_ERR_NONE;
}

int qr_conf_is_set(const qr_conf_table_t *table, const void *obj,
                   const char *key)
{
    const qr_conf_prop_t *prop = qr_conf_find(table, key);
    const uint64_t *bits;

    if (!prop)
        return -1;
    size_t i = (size_t)(prop - table->props);
    bits = (const uint64_t *)((const char *)obj + table->set_offset);
    return (bits[i / 64] >> (i % 64)) & 1 ? 1 : 0;
}

void qr_conf_free(const qr_conf_table_t *table, void *obj)
{
    if (!obj)
        return;
    for (size_t i = 0; i < table->count; i++) {
        const qr_conf_prop_t *prop = &table->props[i];

        if (prop->type == QR_CONF_STRING) {
            free(*(char **)field(obj, prop));
            *(char **)field(obj, prop) = NULL;
        } else if (prop->type == QR_CONF_LIST) {
            list_free(field(obj, prop));
        }
    }
}

/* ---- --help-config and the man page ---- */

static void print_default(const qr_conf_prop_t *prop, FILE *fp)
{
    if (prop->defval)
        fprintf(fp, prop->defval[0] ? "%s" : "\"%s\"", prop->defval);
    else if (prop->flags & QR_CONF_F_REQUIRED)
        fputs("none (required)", fp);
    else
        fputs("unset", fp);
}

static void print_limits(const qr_conf_prop_t *prop, FILE *fp, const char *sep)
{
    if (prop->type == QR_CONF_ENUM && prop->values) {
        fprintf(fp, "%svalues: ", sep);
        for (int i = 0; prop->values[i]; i++)
            fprintf(fp, "%s%s", i ? ", " : "", prop->values[i]);
    } else if (has_range(prop) && prop->type != QR_CONF_BOOL &&
               prop->type != QR_CONF_STRING) {
        fprintf(fp, "%s%s: %" PRId64 " to %" PRId64, sep,
                prop->type == QR_CONF_LIST ? "items" : "range", prop->min,
                prop->max);
    }
}

static const char *flag_text(const qr_conf_prop_t *prop)
{
    if (prop->flags & QR_CONF_F_RELOADABLE)
        return "reloadable";
    if (prop->flags & QR_CONF_F_RESTART)
        return "restart";
    return NULL;
}

void qr_conf_print_help(const qr_conf_table_t *table, FILE *fp)
{
    fprintf(fp, "Keys of %s:\n\n", table->name);
    for (size_t i = 0; i < table->count; i++) {
        const qr_conf_prop_t *prop = &table->props[i];
        const char *ft = flag_text(prop);

        fprintf(fp, "%s\n    type: %s; default: ", prop->name,
                qr_conf_type2str(prop->type));
        print_default(prop, fp);
        print_limits(prop, fp, "; ");
        if (ft)
            fprintf(fp, "; %s", ft);
        fprintf(fp, "\n    %s\n", prop->doc ? prop->doc : "");
    }
}

/* Text for a roff line: backslashes as \e, and a leading '.' or '\''
 * guarded by \& so it is not read as a request. */
static void put_roff(const char *s, FILE *fp)
{
    if (*s == '.' || *s == '\'')
        fputs("\\&", fp);
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\e", fp);
        else if (*s == '\n')
            fputc(' ', fp);
        else
            fputc(*s, fp);
    }
}

void qr_conf_print_man(const qr_conf_table_t *table, FILE *fp)
{
    for (size_t i = 0; i < table->count; i++) {
        const qr_conf_prop_t *prop = &table->props[i];
        const char *ft = flag_text(prop);

        fputs(".TP\n.B ", fp);
        put_roff(prop->name, fp);
        fputc('\n', fp);
        /* One line: the doc, then type, default and limits, built in a
         * memory stream so the whole line goes through put_roff(). */
        char *line = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&line, &len);
        if (!mem)
            abort();
        fprintf(mem, "%s (%s; default: ", prop->doc ? prop->doc : "",
                qr_conf_type2str(prop->type));
        print_default(prop, mem);
        print_limits(prop, mem, "; ");
        if (ft)
            fprintf(mem, "; %s", ft);
        fputc(')', mem);
        fclose(mem);
        put_roff(line, fp);
        fputc('\n', fp);
        free(line);
    }
}

/* ---- a value as text (issue 13: DescribeConfigs) ---- */

char *qr_conf_value_str(const qr_conf_prop_t *prop, const void *obj)
{
    const void *f = (const char *)obj + prop->offset;
    char buf[32];

    switch (prop->type) {
    case QR_CONF_INT:
        if (*(const int *)f < 0 && (prop->flags & QR_CONF_F_NULLABLE) &&
            !prop->defval)
            return NULL;
        snprintf(buf, sizeof(buf), "%d", *(const int *)f);
        return qr_strdup(buf);
    case QR_CONF_BOOL:
        return qr_strdup(*(const int *)f ? "true" : "false");
    case QR_CONF_ENUM: {
        int v = *(const int *)f;
        return v >= 0 && prop->values ? qr_strdup(prop->values[v]) : NULL;
    }
    case QR_CONF_INT64:
    case QR_CONF_SIZE:
    case QR_CONF_DURATION_MS:
        if (*(const int64_t *)f < 0 && (prop->flags & QR_CONF_F_NULLABLE) &&
            !prop->defval)
            return NULL;
        snprintf(buf, sizeof(buf), "%lld", (long long)*(const int64_t *)f);
        return qr_strdup(buf);
    case QR_CONF_STRING:
        return *(char *const *)f ? qr_strdup(*(char *const *)f) : NULL;
    case QR_CONF_LIST: {
        const qr_conf_list_t *l = f;
        size_t n = 1;
        for (size_t i = 0; i < l->n; i++)
            n += strlen(l->v[i]) + 1;
        char *s = qr_malloc(n);
        s[0] = '\0';
        for (size_t i = 0; i < l->n; i++) {
            if (i)
                strcat(s, ",");
            strcat(s, l->v[i]);
        }
        return s;
    }
    case QR_CONF_TYPE_COUNT:
        break;
    }
    return NULL;
}
