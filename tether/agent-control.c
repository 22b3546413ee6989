/* vic-agent, control: the control port (tether/protocol.h). Reads the host's lines, decodes and
 * checks them and hands each request to the part of the agent that does it; sends the agent's
 * lines. Writes never block: with no host connected, a line is dropped (the host asks for
 * `status` when it connects). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "protocol.h"
#include "supervise.h"
#include "tokens.h"

#define MAX_TOKENS 8192
#define MAX_ARGS 4096

int control_fd = -1;
static long long retry_ms; /* while no host is connected (POLLHUP), look again at this time */

void send_line(const char *fmt, ...) {
    if (control_fd < 0) return;
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (n > (int)sizeof line - 2) n = (int)sizeof line - 2;
    line[n++] = '\n';
    /* One write: the port is non-blocking, and a line is whole or not there. */
    ssize_t r = write(control_fd, line, (size_t)n);
    (void)r;
}

void send_error(const char *id, const char *msg) {
    char eid[200], enc[1024];
    token_encode(id, eid, sizeof eid);
    token_encode(msg, enc, sizeof enc);
    agent_log("%s: %s", *id ? id : "-", msg);
    send_line(VIC_TO_HOST_ERROR " %s %s", eid, enc);
}

static void send_hello(void) {
    struct utsname u;
    uname(&u);
    char rel[256];
    token_encode(u.release, rel, sizeof rel);
    send_line(VIC_TO_HOST_HELLO " %s", rel);
}

int control_open(void) {
    control_fd = open_port(VIC_CONTROL_PORT, O_RDWR | O_NONBLOCK, PORT_WAIT_MS);
    if (control_fd < 0) return -1;
    send_hello();
    return 0;
}

static void set_clock(long long ns) {
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    clock_settime(CLOCK_REALTIME, &ts);
}

/* time NS: follow the host's clock; slewed when close, so log times never go back. */
static void follow_clock(long long host) {
    long long delta = host - sup_now_ns();
    if (delta > 1000000000LL || delta < -1000000000LL) return set_clock(host);
    struct timeval tv = {(time_t)(delta / 1000000000),
                         (suseconds_t)(delta % 1000000000 / 1000)};
    adjtime(&tv, NULL);
}

static int valid_id(const char *id) {
    size_t n = strlen(id);
    if (n != 64) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'))) return 0;
    return 1;
}

/* The process fields start and exec share, from tok[3] on: UID GID GIDS CWD ARGC ARG... ENVC
 * ENV... (nt tokens in all; *end: the index after them). NULL, or what is wrong. argv and envp
 * are static: a request is done with them before the next is read. */
static const char *parse_proc(char **tok, int nt, struct proc_req *p, int *end) {
    long long uid, gid, argc, envc;
    if (token_parse_ll(tok[3], &uid) < 0 || token_parse_ll(tok[4], &gid) < 0 || uid < 0 ||
        gid < 0 || uid > 0xfffffffeLL || gid > 0xfffffffeLL)
        return "bad uid or gid";
    p->uid = (uid_t)uid;
    p->gid = (gid_t)gid;
    p->ngids = 0;
    char *save;
    for (char *g = strtok_r(tok[5], ",", &save); g && p->ngids < 64; g = strtok_r(NULL, ",", &save))
        p->gids[p->ngids++] = (gid_t)atoll(g);
    p->cwd = *tok[6] ? tok[6] : "/";
    if (token_parse_ll(tok[7], &argc) < 0 || argc < 1 || 8 + argc >= nt) return "bad argv";
    if (token_parse_ll(tok[8 + argc], &envc) < 0 || envc < 0 || 9 + argc + envc > nt)
        return "bad env";
    *end = (int)(9 + argc + envc);
    static char *argv[MAX_ARGS], *envp[MAX_ARGS];
    if (argc >= MAX_ARGS || envc >= MAX_ARGS) return "too many arguments";
    for (long long i = 0; i < argc; i++) argv[i] = tok[8 + i];
    argv[argc] = NULL;
    for (long long i = 0; i < envc; i++) envp[i] = tok[9 + argc + i];
    envp[envc] = NULL;
    p->argv = argv;
    p->envp = envp;
    return NULL;
}

/* Whether the comma list opts has the item `name` exactly. */
static int has_opt(const char *opts, const char *name) {
    size_t n = strlen(name);
    for (const char *o = opts; o; o = strchr(o, ',')) {
        if (*o == ',') o++;
        if (!strncmp(o, name, n) && (o[n] == ',' || !o[n])) return 1;
    }
    return 0;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* ",tlog=HEX": the terminationMessagePath, hex (a path may hold commas). 0, or -1 when bad. */
static int parse_tlog(const char *opts, struct start_req *r) {
    const char *t = strstr(opts, ",tlog=");
    if (!t) return 0;
    size_t n = 0;
    for (t += 6; *t && *t != ','; t += 2) {
        int hi = hexval(t[0]), lo = hi < 0 ? -1 : hexval(t[1]);
        if (lo < 0 || n + 1 >= sizeof r->tlog) return -1;
        char c = (char)(hi << 4 | lo);
        if (c == 0) return -1;
        r->tlog[n++] = c;
    }
    r->tlog[n] = 0;
    return r->tlog[0] == '/' ? 0 : -1;
}


/* ",seccomp=HEX" of a start's OPTS, if any, into a buffer of its own: 0, or -1 when bad. */
static int parse_seccomp(const char *opts, struct proc_req *p) {
    const char *s = strstr(opts, ",seccomp=");
    if (!s) return 0;
    s += 9;
    size_t n = strcspn(s, ",");
    /* whole instructions (8 bytes each), at most BPF_MAXINSNS of them */
    if (n == 0 || n % 16 || n / 2 > 4096 * 8) return -1;
    unsigned char *prog = malloc(n / 2);
    if (!prog) return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (!isxdigit((unsigned char)s[2 * i]) || !isxdigit((unsigned char)s[2 * i + 1]) ||
            sscanf(s + 2 * i, "%2x", &v) != 1) {
            free(prog);
            return -1;
        }
        prog[i] = (unsigned char)v;
    }
    p->seccomp = prog;
    p->seccomp_len = n / 2;
    return 0;
}

/* The items of a start's OPTS past its limits: ",caps=HEX", ",nnp", ",ro", ",log=MAX:FILES:SIZE",
 * ",tlog=HEX", ",seccomp=HEX". 0, or -1
 * when bad. */
static int parse_security(const char *opts, struct start_req *r) {
    const char *caps = strstr(opts, ",caps=");
    if (caps) {
        char *end;
        errno = 0;
        r->p.caps = strtoull(caps + 6, &end, 16);
        if (errno || end == caps + 6 || (*end && *end != ',')) return -1;
        r->p.set_caps = 1;
    }
    r->p.no_new_privs = has_opt(opts, "nnp");
    r->readonly_root = has_opt(opts, "ro");
    const char *log = strstr(opts, ",log=");
    if (log) {
        long long files;
        int used = 0;
        if (sscanf(log + 5, "%lld:%lld:%lld%n", &r->log_max, &files, &r->log_size, &used) != 3 ||
            (log[5 + used] && log[5 + used] != ',') || r->log_max < 1 || r->log_size < 0)
            return -1;
    }
    if (parse_tlog(opts, r) < 0) return -1;
    return parse_seccomp(opts, &r->p);
}

/* A start's volumes from tok[i]: MOUNTC (NAME DEST FLAGS)..., FLAGS "ro|rw,dir|file". NULL, or
 * what is wrong. */
static const char *parse_mounts(char **tok, int i, int nt, struct start_req *r) {
    if (i == nt) return NULL; /* a host from before volumes */
    long long n;
    if (token_parse_ll(tok[i], &n) < 0 || n < 0 || n > MAX_MOUNTS || i + 1 + 3 * n != nt)
        return "bad mounts";
    r->nmounts = (int)n;
    for (int m = 0; m < n; m++) {
        char *name = tok[i + 1 + 3 * m], *dest = tok[i + 2 + 3 * m], *flags = tok[i + 3 + 3 * m];
        if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..") ||
            dest[0] != '/')
            return "bad mount";
        r->mounts[m].name = name;
        r->mounts[m].dest = dest;
        r->mounts[m].readonly = has_opt(flags, "ro");
        r->mounts[m].is_dir = has_opt(flags, "dir");
    }
    return NULL;
}

/* start ID OPTS UID GID GIDS CWD ARGC ARG... ENVC ENV... [MOUNTC (NAME DEST FLAGS)...]
 * (tok[0] is "start"; nt tokens). */
static void handle_start(char **tok, int nt) {
    struct start_req r = {0};
    r.id = tok[1];
    if (!valid_id(r.id)) return send_error("", "bad container id");
    r.shared_pid = !strncmp(tok[2], "shared", 6);
    char *mem = strstr(tok[2], ",mem="), *cpu = strstr(tok[2], ",cpu=");
    if (mem) r.memory_max = atoll(mem + 5);
    if (cpu) r.cpu_millis = atoll(cpu + 5);
    int end;
    const char *bad = parse_proc(tok, nt, &r.p, &end);
    if (!bad) bad = parse_mounts(tok, end, nt, &r);
    if (bad) return send_error(r.id, bad);
    if (parse_security(tok[2], &r) < 0) return send_error(r.id, "bad options");
    container_start(&r);
    free(r.p.seccomp); /* the container keeps a copy */
}

/* exec ID EXECID UID GID GIDS CWD ARGC ARG... ENVC ENV...: the same layout from tok[3] on. */
static void handle_exec(char **tok, int nt) {
    struct exec_req r = {0};
    r.id = tok[1];
    r.exec_id = tok[2];
    if (!valid_id(r.id)) return send_error("", "bad container id");
    int end;
    const char *bad = parse_proc(tok, nt, &r.p, &end);
    if (!bad && end != nt) bad = "bad env";
    if (bad) return task_refuse(r.id, r.exec_id, bad);
    container_privileges(r.id, &r.p);
    task_start(&r);
}

/* A number of the protocol within lo..hi: 0, or -1. */
static int parse_range(const char *t, long long lo, long long hi, long long *out) {
    return token_parse_ll(t, out) == 0 && *out >= lo && *out <= hi ? 0 : -1;
}

/* execio ID EXECID UID GID GIDS CWD ARGC ARG... ENVC ENV... CHAN FLAGS COLS ROWS: exec's
 * layout, and the channel and terminal after it. */
static void handle_execio(char **tok, int nt) {
    struct exec_req r = {0};
    r.id = tok[1];
    r.exec_id = tok[2];
    if (!valid_id(r.id)) return send_error("", "bad container id");
    int end;
    long long chan = 0, cols = 0, rows = 0;
    const char *bad = parse_proc(tok, nt, &r.p, &end);
    if (!bad && end != nt - 4) bad = "bad env";
    if (!bad && parse_range(tok[end], 1, 0xffffffffLL, &chan) < 0) bad = "bad channel";
    if (!bad && (parse_range(tok[end + 2], 0, 65535, &cols) < 0 ||
                 parse_range(tok[end + 3], 0, 65535, &rows) < 0))
        bad = "bad terminal size";
    r.chan = (uint32_t)chan;
    if (bad) {
        chan_refused(r.chan);
        return task_refuse(r.id, r.exec_id, bad);
    }
    r.with_stdin = has_opt(tok[end + 1], "stdin");
    r.p.tty = has_opt(tok[end + 1], "tty");
    r.cols = (int)cols;
    r.rows = (int)rows;
    container_privileges(r.id, &r.p);
    task_start(&r);
}

/* Whether tok[0] is request `name` with `nfields` fields after it. */
#define IS(name, nfields) (!strcmp(tok[0], name) && nt == 1 + (nfields))

/* One line from the host, without its newline. */
static void handle_line(char *line) {
    static char *tok[MAX_TOKENS];
    int nt = 0;
    char *save;
    for (char *t = strtok_r(line, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        if (nt == MAX_TOKENS) return send_error("", "too many tokens");
        if (token_decode(t) < 0) return send_error("", "malformed token");
        tok[nt++] = t;
    }
    if (nt == 0) return;
    long long n;
    if (IS(VIC_TO_GUEST_HELLO, VIC_TO_GUEST_HELLO_NFIELDS)) {
        if (token_parse_ll(tok[1], &n) == 0 && n > 0) set_clock(n);
        sethostname(tok[2], strlen(tok[2]));
        send_hello();
    } else if (!strcmp(tok[0], VIC_TO_GUEST_START) && nt >= 1 + VIC_TO_GUEST_START_NFIELDS) {
        handle_start(tok, nt);
    } else if (!strcmp(tok[0], VIC_TO_GUEST_EXEC) && nt >= 1 + VIC_TO_GUEST_EXEC_NFIELDS) {
        handle_exec(tok, nt);
    } else if (!strcmp(tok[0], VIC_TO_GUEST_EXECIO) && nt >= 1 + VIC_TO_GUEST_EXECIO_NFIELDS) {
        handle_execio(tok, nt);
    } else if (IS(VIC_TO_GUEST_EXECRESIZE, VIC_TO_GUEST_EXECRESIZE_NFIELDS)) {
        long long cols, rows;
        if (parse_range(tok[3], 0, 65535, &cols) < 0 || parse_range(tok[4], 0, 65535, &rows) < 0)
            return send_error(tok[1], "bad terminal size");
        task_resize(tok[1], tok[2], (int)cols, (int)rows);
    } else if (IS(VIC_TO_GUEST_CONNECT, VIC_TO_GUEST_CONNECT_NFIELDS)) {
        long long chan, port;
        if (parse_range(tok[1], 1, 0xffffffffLL, &chan) < 0 || parse_range(tok[2], 1, 65535, &port) < 0)
            return send_error("", "bad connect");
        chan_connect((uint32_t)chan, (int)port);
    } else if (IS(VIC_TO_GUEST_EXECSIGNAL, VIC_TO_GUEST_EXECSIGNAL_NFIELDS)) {
        if (token_parse_ll(tok[3], &n) < 0 || n < 1 || n >= NSIG)
            return send_error(tok[1], "bad signal");
        task_signal(tok[1], tok[2], (int)n);
    } else if (IS(VIC_TO_GUEST_SIGNAL, VIC_TO_GUEST_SIGNAL_NFIELDS)) {
        if (token_parse_ll(tok[2], &n) < 0 || n < 1 || n >= NSIG)
            return send_error(tok[1], "bad signal");
        container_signal(tok[1], (int)n);
    } else if (IS(VIC_TO_GUEST_TIME, VIC_TO_GUEST_TIME_NFIELDS)) {
        if (token_parse_ll(tok[1], &n) < 0 || n <= 0) return send_error("", "bad time");
        follow_clock(n);
    } else if (IS(VIC_TO_GUEST_ROTATED, VIC_TO_GUEST_ROTATED_NFIELDS)) {
        container_log_rotated(tok[1]);
    } else if (IS(VIC_TO_GUEST_FORGET, VIC_TO_GUEST_FORGET_NFIELDS)) {
        container_forget(tok[1]);
    } else if (IS(VIC_TO_GUEST_STATUS, VIC_TO_GUEST_STATUS_NFIELDS)) {
        containers_status();
    } else if (IS(VIC_TO_GUEST_STATS, VIC_TO_GUEST_STATS_NFIELDS)) {
        cgroup_send_stats(tok[1], container_init_pid(tok[1]) != 0);
    } else if (IS(VIC_TO_GUEST_POWEROFF, VIC_TO_GUEST_POWEROFF_NFIELDS)) {
        power_off();
    } else {
        send_error("", "unknown request");
    }
}

int control_pollable(void) {
    return sup_monotonic_ms() >= retry_ms;
}

/* What has come of the current line; a line too long is skipped to its end. */
static char buf[VIC_MAX_LINE];
static size_t len;
static int skipping;

static void read_lines(void) {
    for (;;) {
        ssize_t n = read(control_fd, buf + len, sizeof buf - len - 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        len += (size_t)n;
        size_t start = 0;
        for (size_t i = 0; i < len; i++) {
            if (buf[i] != '\n') continue;
            buf[i] = 0;
            if (!skipping) handle_line(buf + start);
            skipping = 0;
            start = i + 1;
        }
        memmove(buf, buf + start, len - start);
        len -= start;
        if (len >= sizeof buf - 1) {
            if (!skipping) send_error("", "line too long");
            skipping = 1;
            len = 0;
        }
    }
}

void control_ready(short revents) {
    if (revents & POLLIN) return read_lines();
    /* No host on the socket: the port reports hang-up until one connects; look again later
     * rather than spin. What came of a line from the host that went away is not a request. */
    if (revents & (POLLHUP | POLLERR | POLLNVAL)) {
        retry_ms = sup_monotonic_ms() + 200;
        len = 0;
        skipping = 0;
    }
}
