/* The runc tether's exec server: execs (probes, hooks, kubectl and docker exec without a
 * terminal) run by the tether itself, already inside the container, rather than by a `runc exec`
 * process per exec (about 23 ms of CPU each: the cost that kept 100 pods' exec probes over half
 * a core).
 *
 * The VCH binds a unix socket in the container's own directory on the host (which the
 * container cannot reach) and hands its listening fd to the tether (--exec-fd). Each connection
 * carries one exec in the agent's messages (tether/protocol.h): the VCH writes an exec line
 * (ID "-": this container) and maybe an execsignal line; the tether answers with execout lines
 * and one execexit line, then closes. A connection that closes early kills the exec's process.
 *
 * The process is the tether's child: it is in every namespace and the cgroup of the container,
 * under its seccomp filter (inherited), and gets the container's capabilities and
 * no_new_privs, as a runc exec would. Nothing here blocks the tether's loop: sockets and pipes
 * are non-blocking, and while an exec's line waits for the VCH its pipes are not read. */
#ifndef TETHER_EXEC_SERVER_H
#define TETHER_EXEC_SERVER_H

#include <poll.h>
#include <sys/types.h>

#include "supervise.h"

/* At most this many execs at once; another connection is answered with an execexit (126). */
#define EXEC_SESSIONS 16
/* The pollfds exec_server_poll may fill. */
#define EXEC_POLL_MAX (1 + EXEC_SESSIONS * 3)

/* Takes the listening socket (made close-on-exec and non-blocking) and the container's
 * capabilities and no_new_privs, which every exec gets. 0, or -1 with errno. */
int exec_server_init(int listen_fd, const struct sup_spawn_opts *container);
/* Fills p with what to wait for; may lower *timeout_ms. Returns how many. */
int exec_server_poll(struct pollfd *p, int *timeout_ms);
/* Acts on what poll reported for the n pollfds exec_server_poll filled. */
void exec_server_handle(const struct pollfd *p, int n);
/* 1 when pid was an exec's process (now reaped), else 0. */
int exec_server_reaped(pid_t pid, int wstatus);

#endif
