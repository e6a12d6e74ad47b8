/*
 * qt_zkproxy: the C side of tests/harness/zkproxy.py (see qt_zkproxy.h).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qt_zk.h"
#include "qt_zkproxy.h"

#ifndef QT_HARNESS_DIR
#error "QT_HARNESS_DIR must name tests/harness (set by Makefile.am)"
#endif

static void event_add(qt_zkproxy_t *p, const char *line)
{
    if (p->event_cnt == p->event_cap) {
        p->event_cap = p->event_cap ? p->event_cap * 2 : 64;
        p->events = realloc(p->events, p->event_cap * sizeof(char *));
        if (!p->events)
            abort();
    }
    p->events[p->event_cnt++] = strdup(line);
}

/* Reads one line (without its newline) into @p line, waiting until
 * @p deadline; event lines are queued and skipped unless @p events. */
static bool read_line(qt_zkproxy_t *p, int64_t deadline, char *line,
                      size_t size, bool events)
{
    for (;;) {
        char *nl = memchr(p->buf, '\n', p->buf_len);
        if (nl) {
            size_t n = (size_t)(nl - p->buf);
            *nl = '\0';
            bool ev = strncmp(p->buf, "EVENT ", 6) == 0;
            if (ev)
                event_add(p, p->buf + 6);
            if (!ev || events) {
                snprintf(line, size, "%s", p->buf);
                memmove(p->buf, nl + 1, p->buf_len - n - 1);
                p->buf_len -= n + 1;
                return true;
            }
            memmove(p->buf, nl + 1, p->buf_len - n - 1);
            p->buf_len -= n + 1;
            continue;
        }
        int64_t left = deadline - qt_now_ms();
        if (p->buf_len == sizeof(p->buf))
            return false;
        /* one look even when the deadline has passed (a pump with 0) */
        struct pollfd pfd = {.fd = p->out_fd, .events = POLLIN};
        int rc = poll(&pfd, 1, left > 0 ? (int)left : 0);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return false;
        ssize_t r =
            read(p->out_fd, p->buf + p->buf_len, sizeof(p->buf) - p->buf_len);
        if (r <= 0)
            return false;
        p->buf_len += (size_t)r;
    }
}

qt_zkproxy_t *qt_zkproxy_start(const char *upstream, int timeout_ms)
{
    return qt_proxy_start(QT_HARNESS_DIR "/zkproxy.py", upstream, timeout_ms);
}

qt_zkproxy_t *qt_proxy_start(const char *script, const char *upstream,
                             int timeout_ms)
{
    int in[2], outp[2];
    if (pipe(in) != 0 || pipe(outp) != 0)
        return NULL;
    pid_t pid = fork();
    if (pid < 0)
        return NULL;
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(outp[1], 1);
        close(in[0]);
        close(in[1]);
        close(outp[0]);
        close(outp[1]);
        execl("/usr/bin/python3", "python3", script, upstream, (char *)NULL);
        fprintf(stderr, "zkproxy: exec /usr/bin/python3: %s\n",
                strerror(errno));
        _exit(127);
    }
    close(in[0]);
    close(outp[1]);
    qt_zkproxy_t *p = calloc(1, sizeof(*p));
    if (!p)
        abort();
    p->pid = pid;
    p->in_fd = in[1];
    p->out_fd = outp[0];
    char line[4096];
    if (!read_line(p, qt_now_ms() + timeout_ms, line, sizeof(line), false) ||
        sscanf(line, "PORT %d", &p->port) != 1) {
        fprintf(stderr, "zkproxy: no port within %d ms\n", timeout_ms);
        qt_zkproxy_stop(p);
        return NULL;
    }
    return p;
}

bool qt_zkproxy_cmd(qt_zkproxy_t *p, int timeout_ms, const char *fmt, ...)
{
    char cmd[512], line[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof(cmd) - 1, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= (int)sizeof(cmd) - 1)
        return false;
    cmd[n++] = '\n';
    if (write(p->in_fd, cmd, (size_t)n) != n)
        return false;
    if (!read_line(p, qt_now_ms() + timeout_ms, line, sizeof(line), false))
        return false;
    if (strcmp(line, "OK") != 0) {
        fprintf(stderr, "zkproxy: %.*s: %s\n", n - 1, cmd, line);
        return false;
    }
    return true;
}

void qt_zkproxy_pump(qt_zkproxy_t *p, int ms)
{
    char line[4096];
    int64_t deadline = qt_now_ms() + ms;
    while (read_line(p, deadline, line, sizeof(line), true))
        if (strncmp(line, "EVENT ", 6) != 0)
            fprintf(stderr, "zkproxy: unexpected: %s\n", line);
}

bool qt_zkproxy_wait_event(qt_zkproxy_t *p, const char *prefix, int timeout_ms,
                           char *line, size_t line_size)
{
    int64_t deadline = qt_now_ms() + timeout_ms;
    size_t plen = strlen(prefix);
    for (;;) {
        for (size_t i = 0; i < p->event_cnt; i++) {
            if (strncmp(p->events[i], prefix, plen) != 0)
                continue;
            if (line)
                snprintf(line, line_size, "%s", p->events[i]);
            for (size_t j = 0; j <= i; j++)
                free(p->events[j]);
            memmove(p->events, p->events + i + 1,
                    (p->event_cnt - i - 1) * sizeof(char *));
            p->event_cnt -= i + 1;
            return true;
        }
        int64_t left = deadline - qt_now_ms();
        if (left <= 0)
            return false;
        qt_zkproxy_pump(p, left < 20 ? (int)left : 20);
    }
}

char *qt_zkproxy_connect_string(const qt_zkproxy_t *p, const char *chroot)
{
    char *s = NULL;
    if (asprintf(&s, "127.0.0.1:%d%s", p->port, chroot ? chroot : "") < 0)
        abort();
    return s;
}

void qt_zkproxy_stop(qt_zkproxy_t *p)
{
    if (!p)
        return;
    close(p->in_fd); /* end of input: it quits */
    kill(p->pid, SIGTERM);
    while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    close(p->out_fd);
    for (size_t i = 0; i < p->event_cnt; i++)
        free(p->events[i]);
    free(p->events);
    free(p);
}
