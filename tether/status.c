/* Status records: see status.h and tether/protocol.h. */
#include "status.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "protocol.h"
#include "tokens.h"

/* An error is at most this long once encoded (an id, 200): the numbers fit in what is left. */
#define STATUS_MAX_TOKEN 1400

size_t status_format_started(char *buf, const char *id, long long pid, long long started_ns) {
    char eid[200];
    token_encode(id, eid, sizeof eid);
    int n = snprintf(buf, STATUS_MAX_LINE, VIC_TO_HOST_STARTED " %s %lld %lld", eid, pid,
                     started_ns);
    return n < STATUS_MAX_LINE ? (size_t)n : STATUS_MAX_LINE - 1;
}

size_t status_format_exited(char *buf, const char *id, const struct status_exit *e) {
    char eid[200], err[STATUS_MAX_TOKEN];
    token_encode(id, eid, sizeof eid);
    token_encode(e->error ? e->error : "", err, sizeof err);
    int n = snprintf(buf, STATUS_MAX_LINE, VIC_TO_HOST_EXITED " %s %d %d %lld %lld %d %s", eid,
                     e->exit_code, e->signal, e->started_ns, e->finished_ns, e->oom ? 1 : 0, err);
    return n < STATUS_MAX_LINE ? (size_t)n : STATUS_MAX_LINE - 1;
}

int status_write_line(int fd, const char *line) {
    char buf[STATUS_MAX_LINE + 1];
    size_t len = strnlen(line, STATUS_MAX_LINE);
    memcpy(buf, line, len);
    buf[len++] = '\n';
    ssize_t n;
    do n = write(fd, buf, len);
    while (n < 0 && errno == EINTR);
    if (n < 0) return -1;
    if ((size_t)n != len) {
        errno = EIO; /* a short write to a full disk: the host ignores the torn line */
        return -1;
    }
    /* A pipe or socket cannot be synced (EINVAL): the line is with the reader already. */
    if (fsync(fd) < 0 && errno != EINVAL) return -1;
    return 0;
}
