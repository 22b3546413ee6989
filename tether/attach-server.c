/* The runc tether's attach server: see attach-server.h. */
#include "attach-server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "protocol.h"
#include "tokens.h"

/* A line: the longest is an attachin with VIC_EXEC_CHUNK bytes in base64. */
#define LINE_MAX_LEN (64 + (VIC_EXEC_CHUNK + 2) / 3 * 4)

struct session {
    int conn; /* -1: the slot is free */
    int opened; /* its attach line came */
    int has_stdin;
    int input_over; /* attachclose came */
    char in[LINE_MAX_LEN + 1];
    size_t in_len;
    unsigned char pend[VIC_EXEC_CHUNK]; /* input the process has not taken yet */
    size_t pend_len, pend_off;
};

static struct session sessions[ATTACH_SESSIONS];
static int listen_sock = -1;
static int input = -1; /* the process's stdin: pipe write end or terminal master; -1: none */
static int term = -1;  /* the terminal's master (resizes), or -1 */
static int once;
static int once_used; /* stdinOnce: the first stdin session has ended */

int attach_server_init(int listen_fd, int input_fd, int term_fd, int stdin_once) {
    int fl = fcntl(listen_fd, F_GETFL);
    if (fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
        fcntl(listen_fd, F_SETFD, FD_CLOEXEC) < 0)
        return -1;
    listen_sock = listen_fd;
    input = input_fd;
    term = term_fd;
    once = stdin_once;
    for (int i = 0; i < ATTACH_SESSIONS; i++) sessions[i].conn = -1;
    return 0;
}

/* stdinOnce: the container's stdin closes once (a pipe: EOF for the process; a terminal keeps
 * its output flowing to the log and takes no more input). */
static void input_ended(struct session *s) {
    if (!s->has_stdin || !once || once_used) return;
    once_used = 1;
    if (input >= 0 && input != term) close(input);
    input = -1;
}

static void end_session(struct session *s) {
    if (!s->input_over) input_ended(s);
    close(s->conn);
    memset(s, 0, sizeof *s);
    s->conn = -1;
}

static int b64val(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Decodes padded base64 into out (cap bytes): the length, or -1 when malformed or too long. */
static long b64decode(const char *t, unsigned char *out, size_t cap) {
    size_t n = strlen(t), o = 0;
    if (n % 4) return -1;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++) {
            v[k] = t[i + k] == '=' && i + 4 == n && k >= 2 ? 0 : b64val(t[i + k]);
            if (v[k] < 0) return -1;
        }
        int bytes = t[i + 2] == '=' && i + 4 == n ? 1 : t[i + 3] == '=' && i + 4 == n ? 2 : 3;
        if (t[i + 2] == '=' && t[i + 3] != '=') return -1;
        if (o + (size_t)bytes > cap) return -1;
        unsigned long w = (unsigned long)v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3];
        out[o++] = (unsigned char)(w >> 16);
        if (bytes > 1) out[o++] = (unsigned char)(w >> 8);
        if (bytes > 2) out[o++] = (unsigned char)w;
    }
    return (long)o;
}

/* Writes what the session holds to the process: 1 once it is all taken (or dropped), 0 while
 * the process has not read. */
static int feed(struct session *s) {
    while (s->pend_off < s->pend_len) {
        if (input < 0) break; /* no stdin, or closed: dropped */
        ssize_t n = write(input, s->pend + s->pend_off, s->pend_len - s->pend_off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return 0;
        if (n < 0) break; /* the reader is gone (EPIPE): what is left is moot */
        s->pend_off += (size_t)n;
    }
    s->pend_len = s->pend_off = 0;
    return 1;
}

/* One line of the session: 0, or -1 when it is malformed (the session ends). */
static int take_line(struct session *s, char *line) {
    char *tok[8];
    int nt = 0;
    for (char *t = strtok(line, " "); t; t = strtok(NULL, " ")) {
        if (nt == 8) return -1;
        tok[nt++] = t;
    }
    if (nt < 2 || strcmp(tok[1], "-")) return -1;
    if (!s->opened) {
        if (nt != 1 + VIC_TO_GUEST_ATTACH_NFIELDS || strcmp(tok[0], VIC_TO_GUEST_ATTACH) ||
            (strcmp(tok[2], "0") && strcmp(tok[2], "1")))
            return -1;
        s->opened = 1;
        s->has_stdin = tok[2][0] == '1';
        return 0;
    }
    if (!strcmp(tok[0], VIC_TO_GUEST_ATTACHIN) && nt == 1 + VIC_TO_GUEST_ATTACHIN_NFIELDS) {
        if (!s->has_stdin || s->input_over) return -1;
        long n = strcmp(tok[2], "-") ? b64decode(tok[2], s->pend, sizeof s->pend) : 0;
        if (n < 0) return -1;
        s->pend_len = (size_t)n;
        s->pend_off = 0;
        return 0;
    }
    if (!strcmp(tok[0], VIC_TO_GUEST_ATTACHCLOSE) && nt == 1 + VIC_TO_GUEST_ATTACHCLOSE_NFIELDS) {
        if (!s->input_over) input_ended(s);
        s->input_over = 1;
        return 0;
    }
    if (!strcmp(tok[0], VIC_TO_GUEST_ATTACHRESIZE) && nt == 1 + VIC_TO_GUEST_ATTACHRESIZE_NFIELDS) {
        long long cols, rows;
        if (token_parse_ll(tok[2], &cols) < 0 || token_parse_ll(tok[3], &rows) < 0 || cols < 1 ||
            rows < 1 || cols > 65535 || rows > 65535)
            return -1;
        if (term >= 0) {
            struct winsize ws = {(unsigned short)rows, (unsigned short)cols, 0, 0};
            ioctl(term, TIOCSWINSZ, &ws);
        }
        return 0;
    }
    return -1;
}

/* Reads the session's lines while its input is taken; EOF or a bad line ends it. */
static void read_conn(struct session *s) {
    for (;;) {
        if (!feed(s)) return;
        char *nl = memchr(s->in, '\n', s->in_len);
        if (nl) {
            *nl = 0;
            size_t used = (size_t)(nl - s->in) + 1;
            int bad = take_line(s, s->in) < 0;
            memmove(s->in, s->in + used, s->in_len - used);
            s->in_len -= used;
            if (bad) return end_session(s);
            continue;
        }
        if (s->in_len == LINE_MAX_LEN) return end_session(s); /* a line too long */
        ssize_t n = read(s->conn, s->in + s->in_len, LINE_MAX_LEN - s->in_len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        if (n <= 0) return end_session(s);
        s->in_len += (size_t)n;
    }
}

static void accept_all(void) {
    for (;;) {
        int c = accept4(listen_sock, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) return;
        struct session *s = NULL;
        for (int i = 0; i < ATTACH_SESSIONS && !s; i++)
            if (sessions[i].conn < 0) s = &sessions[i];
        if (!s) {
            close(c);
            continue;
        }
        memset(s, 0, sizeof *s);
        s->conn = c;
    }
}

int attach_server_poll(struct pollfd *p) {
    if (listen_sock < 0) return 0;
    int n = 0, waiting = 0;
    p[n++] = (struct pollfd){listen_sock, POLLIN, 0};
    for (int i = 0; i < ATTACH_SESSIONS; i++) {
        struct session *s = &sessions[i];
        if (s->conn < 0) continue;
        /* A session whose input the process has not taken is not read. */
        if (s->pend_len > s->pend_off) waiting = 1;
        else p[n++] = (struct pollfd){s->conn, POLLIN, 0};
    }
    if (waiting && input >= 0) p[n++] = (struct pollfd){input, POLLOUT, 0};
    return n;
}

void attach_server_handle(const struct pollfd *p, int n) {
    if (listen_sock < 0) return;
    if (n > 0 && p[0].revents) accept_all();
    for (int i = 0; i < ATTACH_SESSIONS; i++)
        if (sessions[i].conn >= 0) read_conn(&sessions[i]);
}

void attach_server_close(void) {
    if (listen_sock < 0) return;
    for (int i = 0; i < ATTACH_SESSIONS; i++) {
        struct session *s = &sessions[i];
        if (s->conn < 0) continue;
        close(s->conn);
        s->conn = -1;
    }
    close(listen_sock);
    listen_sock = -1;
    if (input >= 0 && input != term) close(input);
    if (term >= 0) close(term);
    input = term = -1;
}
