/* The status files the runtime reads: small JSON objects written atomically (a temporary file
 * in the same directory, fsync, rename), so a reader sees the old file or the new one, never a
 * half-written one. Nanosecond times are JSON strings: they exceed a double's 2^53.
 *
 *   started.json  {"pid":N,"startedNs":"..."}                           once the child has exec'd
 *   exit.json     {"pid":N,"exitCode":N,"signal":N,"startedNs":"...","finishedNs":"...",
 *                  "error":"..."}                                        before the init exits
 *
 * "error" is present only when the process could not be started (exitCode is then 126 or 127,
 * as a shell reports). */
#ifndef TETHER_STATUS_H
#define TETHER_STATUS_H

#include <sys/types.h>

#define STATUS_STARTED "started.json"
#define STATUS_EXIT "exit.json"

struct status_exit {
    pid_t pid;
    int exit_code;
    int signal;
    long long started_ns;
    long long finished_ns;
    const char *error; /* NULL when it ran */
};

/* Writes content as dir/name atomically. 0, or -1 with errno. */
int status_write_file(const char *dir, const char *name, const char *content);
int status_write_started(const char *dir, pid_t pid, long long started_ns);
int status_write_exit(const char *dir, const struct status_exit *e);

#endif
