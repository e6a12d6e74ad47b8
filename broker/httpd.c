/*
 * httpd: libmicrohttpd on its own thread (see httpd.h).
 */
#include "config.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "alloc.h"
#include "httpd.h"
#include "logging.h"

struct qr_httpd {
    struct MHD_Daemon *d;
    qr_httpd_handler_t *handler;
    void *opaque;
    int port;
};

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    size_t n;

    (void)cls;
    vsnprintf(line, sizeof(line), fmt, ap);
    n = strlen(line);
    if (n > 0 && line[n - 1] == '\n')
        line[n - 1] = '\0';
    QR_LOG_WARN("HTTP", "%s", line);
}

static enum MHD_Result reply(struct MHD_Connection *c, int status, char *body,
                             size_t len, const char *ctype)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result ret;

    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    qr_httpd_t *hd = cls;
    char *body = NULL;
    size_t len = 0;
    const char *ctype = "text/plain; charset=utf-8";
    int status;

    (void)version;
    (void)upload;
    (void)con_cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
        strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        if (*upload_size > 0) { /* discard a body; answer at its end */
            *upload_size = 0;
            return MHD_YES;
        }
        body = qr_strdup("method not allowed: GET or HEAD only\n");
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, body, strlen(body), ctype);
    }
    status = hd->handler(hd->opaque, url, &body, &len, &ctype);
    return reply(c, status, body, len, ctype);
}

/* "http://HOST:PORT" into an address; one line in errstr when not. */
static int parse_url(const char *url, struct sockaddr_storage *ss, char *errstr,
                     size_t errstr_size)
{
    const char *hp, *colon;
    char host[256], port[16];
    struct addrinfo hints, *res = NULL;
    size_t hl;
    int rc;

    if (strncmp(url, "http://", 7) != 0) {
        snprintf(errstr, errstr_size,
                 "%s: expected http://HOST:PORT (only http is served)", url);
        return -1;
    }
    hp = url + 7;
    colon = strrchr(hp, ':');
    if (!colon || colon == hp || strlen(colon + 1) == 0 ||
        strlen(colon + 1) >= sizeof(port) ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1)) {
        snprintf(errstr, errstr_size, "%s: expected http://HOST:PORT", url);
        return -1;
    }
    hl = (size_t)(colon - hp);
    if (hl >= 2 && hp[0] == '[' && hp[hl - 1] == ']') { /* [v6] */
        hp++;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof(host)) {
        snprintf(errstr, errstr_size, "%s: bad host", url);
        return -1;
    }
    memcpy(host, hp, hl);
    host[hl] = '\0';
    snprintf(port, sizeof(port), "%s", colon + 1);
    if (atoi(port) > 65535) {
        snprintf(errstr, errstr_size, "%s: port out of range", url);
        return -1;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(errstr, errstr_size, "%s: %s", url, gai_strerror(rc));
        return -1;
    }
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

qr_httpd_t *qr_httpd_start(const char *url, qr_httpd_handler_t *handler,
                           void *opaque, char *errstr, size_t errstr_size)
{
    struct sockaddr_storage ss;
    const union MHD_DaemonInfo *info;
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    qr_httpd_t *hd;

    if (parse_url(url, &ss, errstr, errstr_size) != 0)
        return NULL;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    hd = qr_calloc(1, sizeof(*hd));
    hd->handler = handler;
    hd->opaque = opaque;
    hd->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, hd, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)QR_HTTPD_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)QR_HTTPD_MAX_CONNS, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_END);
    if (!hd->d) {
        snprintf(errstr, errstr_size,
                 "%s: cannot listen (address in use or not local?)", url);
        free(hd);
        return NULL;
    }
    info = MHD_get_daemon_info(hd->d, MHD_DAEMON_INFO_BIND_PORT);
    hd->port = info ? (int)info->port : 0;
    return hd;
}

int qr_httpd_port(const qr_httpd_t *hd)
{
    return hd->port;
}

void qr_httpd_stop(qr_httpd_t *hd)
{
    if (!hd)
        return;
    MHD_stop_daemon(hd->d);
    free(hd);
}
