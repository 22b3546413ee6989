/* Atomic status files: see status.h. */
#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int status_write_file(const char *dir, const char *name, const char *content) {
    char tmp[4096], path[4096];
    if (snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name) >= (int)sizeof tmp ||
        snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    size_t len = strlen(content), off = 0;
    while (off < len) {
        ssize_t n = write(fd, content + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            errno = e;
            return -1;
        }
        off += (size_t)n;
    }
    /* The runtime may read it after a host crash: the content is on disk before the name. */
    fsync(fd);
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

int status_write_started(const char *dir, pid_t pid, long long started_ns) {
    char buf[128];
    snprintf(buf, sizeof buf, "{\"pid\":%d,\"startedNs\":\"%lld\"}\n", (int)pid, started_ns);
    return status_write_file(dir, STATUS_STARTED, buf);
}

/* Appends s as a JSON string body (without quotes), escaping what JSON requires. */
static size_t json_escape(char *out, size_t cap, const char *s) {
    size_t o = 0;
    for (; *s && o + 7 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch < 0x20) {
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", ch);
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o] = 0;
    return o;
}

int status_write_exit(const char *dir, const struct status_exit *e) {
    char buf[2048], err[1024];
    int n = snprintf(buf, sizeof buf,
                     "{\"pid\":%d,\"exitCode\":%d,\"signal\":%d,\"startedNs\":\"%lld\","
                     "\"finishedNs\":\"%lld\"",
                     (int)e->pid, e->exit_code, e->signal, e->started_ns, e->finished_ns);
    if (e->error) {
        json_escape(err, sizeof err, e->error);
        n += snprintf(buf + n, sizeof buf - (size_t)n, ",\"error\":\"%s\"", err);
    }
    snprintf(buf + n, sizeof buf - (size_t)n, "}\n");
    return status_write_file(dir, STATUS_EXIT, buf);
}
