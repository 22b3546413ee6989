/* The status records of tether/protocol.h: `started` and `exited` lines, formatted the same way
 * for the runc tether's status fd and for the agent's control port. */
#ifndef TETHER_STATUS_H
#define TETHER_STATUS_H

#include <stddef.h>

/* Room for any record: the error is cut to fit (its encoding takes up to 3 bytes a byte). */
#define STATUS_MAX_LINE 2048

struct status_exit {
    int exit_code;       /* 0..255, 128+N for signal N, 126/127 when it could not exec */
    int signal;          /* 0, or the signal that killed it */
    long long started_ns;
    long long finished_ns;
    int oom;             /* the OOM killer struck in its cgroup */
    const char *error;   /* NULL when it ran */
};

/* Formats `started ID PID STARTNS` (no newline) into buf (STATUS_MAX_LINE bytes). id: "" on a
 * runc tether's status fd. Returns the length. */
size_t status_format_started(char *buf, const char *id, long long pid, long long started_ns);
/* Formats `exited ID CODE SIGNAL STARTNS FINNS OOM ERROR` (no newline) into buf. */
size_t status_format_exited(char *buf, const char *id, const struct status_exit *e);

/* Writes line and a newline to fd with one write() (on an O_APPEND fd: never torn, never
 * interleaved) and fsyncs it, so the host finds it after a crash of its own. 0, or -1 with
 * errno. */
int status_write_line(int fd, const char *line);

#endif
