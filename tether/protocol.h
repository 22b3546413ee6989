/* The control protocol between the VCH and vic-agent (a pod VM's PID 1), and the status records
 * that the runc tether writes to its status fd in the same line format. This header is the one
 * place they are defined: the agent (tether/agent*.c) and the tether (tether/main.c) include it,
 * and the TypeScript side declares the same names (a unit test reads this file and checks them).
 *
 * Lines: space-separated tokens ending in '\n'. Each token is percent-encoded (tether/tokens.h):
 * bytes outside '!'..'~', and '%' itself, are written as %XX; the empty string is written "-",
 * and the string "-" as "%2D". A line's first token is the message name; its fields follow in
 * the order of the message's _FIELDS string below. A field name ending in "..." stands for as
 * many tokens as the field before it says (ARGC ARG... : ARGC tokens of ARG). _NFIELDS is the
 * number of fields after the name; for a message with repeated fields, the number of its fixed
 * fields (the repeated tokens come on top).
 *
 * Where: a pod VM's virtio-serial port named VIC_CONTROL_PORT (a unix socket on the host), one
 * connection at a time. Lines from the guest are dropped while no host is connected (the agent
 * never blocks on the port); the host asks for `status` after every hello, so no start or exit
 * is lost for good. Container output does not travel here: the agent writes it as iolog entries
 * to the container's own port, VIC_LOG_PORT_PREFIX followed by the container's id. The share
 * tagged VIC_SHARE_TAG (virtio-9p) holds the containers' rootfs directories, ID/rootfs; nothing
 * status-related is read from it.
 *
 * Status records (the same lines on a runc tether's status fd and on the control port):
 *
 *   started ID PID STARTNS
 *   exited ID CODE SIGNAL STARTNS FINNS OOM ERROR
 *
 *   ID       the container's id (64 lowercase hex) on the control port; "-" (empty) on a runc
 *            tether's status fd, which belongs to one container
 *   PID      decimal: the process (runc) or the container's init in the guest (vm)
 *   STARTNS  unix ns when it was started, decimal; FINNS unix ns when it had exited
 *   CODE     0..255: the exit code, 128+N for death by signal N, 126/127 when it could not exec
 *   SIGNAL   0, or the number of the signal that killed it
 *   OOM      1 when the kernel's OOM killer struck in the container's cgroup, else 0 (the runc
 *            tether always writes 0: the host reads runc's cgroup itself)
 *   ERROR    "-" (empty) when the process ran, else why it could not start
 *
 * On the status fd the tether writes each record with one write() to an O_APPEND fd (never torn,
 * never interleaved) and fsyncs it; a reader takes the last `started` and the last `exited`. */
#ifndef TETHER_PROTOCOL_H
#define TETHER_PROTOCOL_H

/* Names the host uses for the VM's devices. */
#define VIC_SHARE_TAG "vic.containers"  /* virtio-9p: the containers' rootfs directories */
#define VIC_CONTROL_PORT "vic.control"  /* virtio-serial: this protocol */
#define VIC_LOG_PORT_PREFIX "vic.log."  /* virtio-serial: + container id, its iolog output */
#define VIC_DATA_PORT "vic.data"        /* virtio-serial: channels' bytes (frames, below) */

/* The longest line the agent reads (a start with its argv and environment). */
#define VIC_MAX_LINE 262144

/* The most bytes of an exec's output one execout line carries (base64: 4/3 of it, so an execout
 * line stays under 3 KiB and fits send_line's buffer). */
#define VIC_EXEC_CHUNK 2048

/* ---- the data port: channels ----
 *
 * Bytes of interactive execs (stdin, stdout, stderr) and of port-forward connections travel on
 * the port VIC_DATA_PORT, not on the control port, in binary frames, so that a busy stream
 * never delays a control line and no line needs base64. Each stream is a channel: CHAN, a
 * number the host hands out (1..2^32-1, never reused while the host stays connected) in the
 * request that opens it (execio, connect). A frame is an 8-byte header and LEN bytes:
 *
 *   CHAN (4 bytes, big-endian)  TYPE (1)  0 (1)  LEN (2, big-endian, at most VIC_FRAME_MAX)
 *
 * TYPE:
 *   VIC_FRAME_DATA    bytes: host -> guest an exec's stdin or what goes to the connection;
 *                     guest -> host an exec's stdout (with a terminal: the terminal's output)
 *                     or what came from the connection
 *   VIC_FRAME_STDERR  guest -> host: an exec's stderr (none with a terminal)
 *   VIC_FRAME_EOF     no more DATA from the sender: host -> guest stdin is closed (ignored
 *                     with a terminal) or the connection is half-closed (shutdown SHUT_WR);
 *                     guest -> host all of the exec's output has been sent (it comes before
 *                     its execexit) or the connection's peer has closed its side
 *   VIC_FRAME_CREDIT  LEN 4: a big-endian count of DATA/STDERR bytes the receiver has passed on
 *                     since its last CREDIT
 *   VIC_FRAME_RESET   the channel is over, whatever is in flight: host -> guest the agent
 *                     closes its ends (an exec's process sees EOF or EPIPE, a connection is
 *                     closed); guest -> host the agent has given it up (a write failed)
 *
 * The agent opens its side of a channel with a CREDIT of VIC_DATA_WINDOW: the host sends no
 * frame on a channel before that (the request that opens it travels on the control port, and
 * the two ports keep no order between them).
 *
 * Flow control, per channel and direction: a sender has at most VIC_DATA_WINDOW bytes of
 * DATA/STDERR sent and not yet credited back; the receiver buffers at most that much per
 * channel and treats more as a broken peer (it resets the channel). So a slow reader holds up
 * only its own channel, never the port. The agent frees a channel once it has sent its EOF (or
 * RESET) and has the host's EOF or RESET (an exec without stdin: its EOF only); frames for a
 * channel it does not have are dropped. With no host on the port (it hangs up) every channel
 * is reset. The host trusts no channel number it did not hand out. */
#define VIC_FRAME_HEADER 8
#define VIC_FRAME_MAX 16384
#define VIC_DATA_WINDOW 262144
#define VIC_FRAME_DATA 0
#define VIC_FRAME_STDERR 1
#define VIC_FRAME_EOF 2
#define VIC_FRAME_CREDIT 3
#define VIC_FRAME_RESET 4

/* ---- host -> guest: requests ---- */

/* Sets the guest's clock (unix ns) and hostname; answered by hello. */
#define VIC_TO_GUEST_HELLO "hello"
#define VIC_TO_GUEST_HELLO_FIELDS "NS HOSTNAME"
#define VIC_TO_GUEST_HELLO_NFIELDS 2

/* Runs container ID. OPTS: "private" or "shared" (its PID namespace), then optionally ",mem=BYTES"
 * and ",cpu=MILLIS" (the limits of its cgroup in the guest), ",caps=HEX" (the capabilities its
 * processes may hold, bit N for capability N: the bounding set; without it, every one), ",nnp"
 * (no_new_privs for its processes), ",ro" (its root mounted read-only), ",tlog=HEX" (the
 * terminationMessagePath), ",seccomp=HEX" (a seccomp BPF program, struct sock_filter[] in
 * hex, installed before exec) and ",log=MAX:FILES:SIZE" (its log is rotated at MAX bytes into
 * FILES files; its current file holds SIZE bytes: see rotate); its execs get the same capabilities, no_new_privs and seccomp
 * filter. GIDS: a comma list, or "-" for none. CWD: "-" for "/". Then, optionally, its volumes:
 * MOUNTC and per volume NAME (bound by the host at the share's ID/mounts/NAME), DEST (absolute,
 * in the container) and FLAGS ("ro" or "rw", then ",dir" or ",file"). Answered by started, or by
 * exited (it could not exec), or by error. */
#define VIC_TO_GUEST_START "start"
#define VIC_TO_GUEST_START_FIELDS "ID OPTS UID GID GIDS CWD ARGC ARG... ENVC ENV... [MOUNTC (NAME DEST FLAGS)...]"
#define VIC_TO_GUEST_START_NFIELDS 8

/* Container ID's log port has a fresh file behind it (the answer to rotate): the agent goes on
 * writing. */
#define VIC_TO_GUEST_ROTATED "rotated"
#define VIC_TO_GUEST_ROTATED_FIELDS "ID"
#define VIC_TO_GUEST_ROTATED_NFIELDS 1

/* Sends signal SIGNO to container ID's process (through its init). */
#define VIC_TO_GUEST_SIGNAL "signal"
#define VIC_TO_GUEST_SIGNAL_FIELDS "ID SIGNO"
#define VIC_TO_GUEST_SIGNAL_NFIELDS 2

/* Container ID is being removed: the agent lets go of its log port and its last exit record. */
#define VIC_TO_GUEST_FORGET "forget"
#define VIC_TO_GUEST_FORGET_FIELDS "ID"
#define VIC_TO_GUEST_FORGET_NFIELDS 1

/* The host's clock now (unix ns): the guest's follows it (slewed when close, so log times never
 * go back; stepped when far off). */
#define VIC_TO_GUEST_TIME "time"
#define VIC_TO_GUEST_TIME_FIELDS "NS"
#define VIC_TO_GUEST_TIME_NFIELDS 1

/* Asks for every container's state: answered by one started line for each container that runs
 * now and one exited line for each that has exited and was not started again or forgotten since
 * (the agent keeps the last exit of each container until then). */
#define VIC_TO_GUEST_STATUS "status"
#define VIC_TO_GUEST_STATUS_FIELDS ""
#define VIC_TO_GUEST_STATUS_NFIELDS 0

/* Runs a process in running container ID (docker exec, kubectl exec, exec probes): it joins the
 * container's cgroup and its init's mount and PID namespaces (so the container's root, /proc
 * and processes), drops to UID/GID/GIDS (as in start) and runs ARG... with exactly ENV... in
 * CWD ("-" for "/"). EXECID: the host's name for this exec, 1..32 of [0-9a-z], unique among the
 * container's running execs. Answered by execout lines with its output and one execexit line,
 * also when it could not run (then with ERROR). Its stdin is /dev/null. The agent reads an
 * exec's output only while the control port takes lines: a host that reads slowly slows the
 * exec'd process (its pipes fill), never the agent. */
#define VIC_TO_GUEST_EXEC "exec"
#define VIC_TO_GUEST_EXEC_FIELDS "ID EXECID UID GID GIDS CWD ARGC ARG... ENVC ENV..."
#define VIC_TO_GUEST_EXEC_NFIELDS 8

/* As exec, with its streams on channel CHAN of the data port rather than in execout lines:
 * FLAGS is "-", or a comma list of "stdin" (its stdin reads the channel's DATA; else
 * /dev/null) and "tty" (it runs on a pseudo-terminal of COLS x ROWS characters, 0..65535:
 * stdin, stdout and stderr are the terminal, its output comes as DATA). Answered by the
 * channel's output and EOF, then an execexit line (as for exec; a refusal comes as execexit
 * alone, and the agent resets the channel). */
#define VIC_TO_GUEST_EXECIO "execio"
#define VIC_TO_GUEST_EXECIO_FIELDS "ID EXECID UID GID GIDS CWD ARGC ARG... ENVC ENV... CHAN FLAGS COLS ROWS"
#define VIC_TO_GUEST_EXECIO_NFIELDS 12

/* The terminal of exec EXECID of container ID is now COLS x ROWS (its process gets SIGWINCH). */
#define VIC_TO_GUEST_EXECRESIZE "execresize"
#define VIC_TO_GUEST_EXECRESIZE_FIELDS "ID EXECID COLS ROWS"
#define VIC_TO_GUEST_EXECRESIZE_NFIELDS 4

/* Opens a TCP connection inside the guest to its loopback, 127.0.0.1:PORT (then [::1]:PORT),
 * whose bytes travel on channel CHAN of the data port (kubectl port-forward). Answered by
 * connected, or by connfail. */
#define VIC_TO_GUEST_CONNECT "connect"
#define VIC_TO_GUEST_CONNECT_FIELDS "CHAN PORT"
#define VIC_TO_GUEST_CONNECT_NFIELDS 2

/* Sends signal SIGNO to exec EXECID of container ID (SIGKILL: its timeout is up). */
#define VIC_TO_GUEST_EXECSIGNAL "execsignal"
#define VIC_TO_GUEST_EXECSIGNAL_FIELDS "ID EXECID SIGNO"
#define VIC_TO_GUEST_EXECSIGNAL_NFIELDS 3

/* ---- host -> runc tether: a container's own stdin and terminal (attach) ----
 * On the attach socket (tether/attach-server.h), one connection per attach session; ID is "-"
 * (the socket belongs to one container). Nothing is sent back: the container's output is read
 * from its log, and the tether closes the connection when the container's process is over. */

/* Opens the session: STDIN 1 when it feeds the container's stdin (its end is what stdinOnce
 * waits for), 0 for a session that only resizes. */
#define VIC_TO_GUEST_ATTACH "attach"
#define VIC_TO_GUEST_ATTACH_FIELDS "ID STDIN"
#define VIC_TO_GUEST_ATTACH_NFIELDS 2

/* Bytes for the container's stdin: DATA in base64 (RFC 4648, padded; at most VIC_EXEC_CHUNK
 * bytes). Dropped when the container has no stdin or it was closed (stdinOnce). */
#define VIC_TO_GUEST_ATTACHIN "attachin"
#define VIC_TO_GUEST_ATTACHIN_FIELDS "ID DATA"
#define VIC_TO_GUEST_ATTACHIN_NFIELDS 2

/* The session's input is over (the client's stdin reached EOF). With stdinOnce the container's
 * stdin closes (EOF for a pipe; a terminal takes no more input); without, it stays open for
 * the next session. A session with stdin that hangs up counts the same. */
#define VIC_TO_GUEST_ATTACHCLOSE "attachclose"
#define VIC_TO_GUEST_ATTACHCLOSE_FIELDS "ID"
#define VIC_TO_GUEST_ATTACHCLOSE_NFIELDS 1

/* Resizes the container's terminal to COLS x ROWS (1..65535; ignored without a terminal). */
#define VIC_TO_GUEST_ATTACHRESIZE "attachresize"
#define VIC_TO_GUEST_ATTACHRESIZE_FIELDS "ID COLS ROWS"
#define VIC_TO_GUEST_ATTACHRESIZE_NFIELDS 3

/* Asks for container ID's usage figures from its cgroup in the guest: answered by stats, or by
 * error when it does not run (or the guest has no cgroups). */
#define VIC_TO_GUEST_STATS "stats"
#define VIC_TO_GUEST_STATS_FIELDS "ID"
#define VIC_TO_GUEST_STATS_NFIELDS 1

/* Kills everything and powers the VM off. */
#define VIC_TO_GUEST_POWEROFF "poweroff"
#define VIC_TO_GUEST_POWEROFF_FIELDS ""
#define VIC_TO_GUEST_POWEROFF_NFIELDS 0

/* ---- guest -> host: news ---- */

/* The agent is ready (at boot, and in answer to hello). */
#define VIC_TO_HOST_HELLO "hello"
#define VIC_TO_HOST_HELLO_FIELDS "KERNEL-RELEASE"
#define VIC_TO_HOST_HELLO_NFIELDS 1

/* Container ID's process has exec'd (and in answer to status while it runs). */
#define VIC_TO_HOST_STARTED "started"
#define VIC_TO_HOST_STARTED_FIELDS "ID PID STARTNS"
#define VIC_TO_HOST_STARTED_NFIELDS 3

/* Container ID's process has exited, or could not exec (and in answer to status until the
 * container is started again or forgotten). */
#define VIC_TO_HOST_EXITED "exited"
#define VIC_TO_HOST_EXITED_FIELDS "ID CODE SIGNAL STARTNS FINNS OOM ERROR"
#define VIC_TO_HOST_EXITED_NFIELDS 7

/* Output of exec EXECID of container ID: STREAM 1 (stdout) or 2 (stderr), DATA the bytes in
 * base64 (RFC 4648, padded; at most VIC_EXEC_CHUNK bytes; "-" for none). In the order written. */
#define VIC_TO_HOST_EXECOUT "execout"
#define VIC_TO_HOST_EXECOUT_FIELDS "ID EXECID STREAM DATA"
#define VIC_TO_HOST_EXECOUT_NFIELDS 4

/* Exec EXECID of container ID is over, after all its execout lines: CODE 0..255 (128+N for
 * death by signal N), ERROR "-" when it ran, else why it could not (CODE 126, or 127 when the
 * program was not found; also for a request the agent refused: no such container, bad fields). */
#define VIC_TO_HOST_EXECEXIT "execexit"
#define VIC_TO_HOST_EXECEXIT_FIELDS "ID EXECID CODE ERROR"
#define VIC_TO_HOST_EXECEXIT_NFIELDS 4

/* The connection of channel CHAN is made: its bytes follow on the data port. */
#define VIC_TO_HOST_CONNECTED "connected"
#define VIC_TO_HOST_CONNECTED_FIELDS "CHAN"
#define VIC_TO_HOST_CONNECTED_NFIELDS 1

/* The connection of channel CHAN could not be made: why (the channel is no more). */
#define VIC_TO_HOST_CONNFAIL "connfail"
#define VIC_TO_HOST_CONNFAIL_FIELDS "CHAN MESSAGE"
#define VIC_TO_HOST_CONNFAIL_NFIELDS 2

/* Container ID's log file is full: the agent has written SIZE bytes to it through the port, ends
 * at an entry boundary and writes nothing more until rotated. The host, once the file holds
 * SIZE bytes (bytes in flight through the port land first), rotates the files (output.log →
 * output.log.1 …) and puts a fresh output.log behind the port (QMP chardev-change). Sent again
 * when the host connects while it waits. */
#define VIC_TO_HOST_ROTATE "rotate"
#define VIC_TO_HOST_ROTATE_FIELDS "ID SIZE"
#define VIC_TO_HOST_ROTATE_NFIELDS 2

/* Container ID's cgroup v2 figures, decimal: cpu.stat's usage_usec, memory.current, memory.max
 * ("max" when none), and memory.stat's inactive_file, anon, pgfault and pgmajfault. */
#define VIC_TO_HOST_STATS "stats"
#define VIC_TO_HOST_STATS_FIELDS "ID USAGEUSEC CURRENT MAX INACTIVEFILE ANON PGFAULT PGMAJFAULT"
#define VIC_TO_HOST_STATS_NFIELDS 8

/* A request about ID ("-" for none) could not be done. */
#define VIC_TO_HOST_ERROR "error"
#define VIC_TO_HOST_ERROR_FIELDS "ID MESSAGE"
#define VIC_TO_HOST_ERROR_NFIELDS 2

#endif
