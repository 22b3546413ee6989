/* The runc tether's attach server: a container created with stdin and/or a terminal keeps them
 * in its tether (its PID 1), so attach sessions (kubectl attach, docker attach, docker run -it)
 * can come and go while the process runs.
 *
 * As for execs (exec-server.h), the VCH's runner binds a unix socket in the container's own
 * directory on the host, out of the container's reach, and hands its listening fd to the tether
 * (--attach-fd). Each connection is one session speaking the attach lines of tether/protocol.h:
 * its stdin bytes, the end of its input, terminal sizes. Nothing is sent back: the container's
 * output goes to its log as always (a terminal's output as stdout), and the VCH follows the log
 * from the moment of the attach. The connections close when the process is over.
 *
 * Input is written to the process's stdin (a pipe, or the terminal's master) without blocking:
 * while a session's bytes wait for the process to read, that session is not read (its client
 * is held up, never the tether). stdinOnce: the first session with stdin that ends (its input
 * over, or its connection gone) closes the container's stdin for good. */
#ifndef TETHER_ATTACH_SERVER_H
#define TETHER_ATTACH_SERVER_H

#include <poll.h>

/* At most this many sessions at once; another connection is closed at once. */
#define ATTACH_SESSIONS 16
/* The pollfds attach_server_poll may fill. */
#define ATTACH_POLL_MAX (1 + ATTACH_SESSIONS + 1)

/* Takes the listening socket (made close-on-exec and non-blocking); input_fd: where input goes
 * (the write end of the process's stdin pipe, or the terminal's master; -1: none, input is
 * dropped); term_fd: the terminal's master, for resizes (-1: none; "closing" a terminal's
 * input stops it, the terminal stays); stdin_once as above. Both fds non-blocking; the server
 * owns them. 0, or -1 with errno. */
int attach_server_init(int listen_fd, int input_fd, int term_fd, int stdin_once);
/* Fills p with what to wait for. Returns how many. */
int attach_server_poll(struct pollfd *p);
/* Acts on what poll reported for the n pollfds attach_server_poll filled. */
void attach_server_handle(const struct pollfd *p, int n);
/* The process is over: every session is closed, and so is its stdin. */
void attach_server_close(void);

#endif
