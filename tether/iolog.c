/* The iolog entry writer: see iolog.h. Mirrors the behaviour of src/iolog/writer.ts (the two
 * must produce the same bytes from the same input and clock; tether.test.ts checks both against
 * VIC's vectors). */
#include "iolog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int64_t iolog_realtime_ns(void *ctx) {
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t iolog_stepping_ns(void *ctx) {
    struct iolog_stepping_clock *c = ctx;
    c->now += c->step;
    return c->now;
}

int64_t iolog_monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Header characters 0..9 from the timestamp alone, and in chars[10] the high bits of character
 * 10, which it shares with the size (as encodeTime in src/iolog/format.ts). */
static void encode_time(int64_t ns, unsigned char chars[11]) {
    unsigned char b[9];
    uint64_t u = (uint64_t)ns;
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(u >> (8 * i));
    b[8] = 0;
    int o = 0;
    for (int i = 0; i < 9; i += 3) {
        unsigned v = ((unsigned)b[i] << 16) | ((unsigned)b[i + 1] << 8) | b[i + 2];
        chars[o++] = (unsigned char)B64[v >> 18];
        chars[o++] = (unsigned char)B64[(v >> 12) & 63];
        if (o == 10) break;
        chars[o++] = (unsigned char)B64[(v >> 6) & 63];
        chars[o++] = (unsigned char)B64[v & 63];
    }
    chars[10] = (unsigned char)((b[7] & 15) << 2);
}

/* The 16 header bytes from encode_time's characters, the size and the stream. */
static void put_header(unsigned char *out, const unsigned char chars[11], unsigned size,
                       int stream) {
    unsigned word = (size << 4) | ((unsigned)stream << 3);
    unsigned b8 = word & 0xff, b9 = word >> 8;
    memcpy(out, chars, 10);
    out[10] = (unsigned char)B64[chars[10] | (b8 >> 6)];
    out[11] = (unsigned char)B64[b8 & 63];
    out[12] = (unsigned char)B64[b9 >> 2];
    out[13] = (unsigned char)B64[(b9 & 3) << 4];
    out[14] = '=';
    out[15] = '=';
}

void iolog_encode_header(unsigned char out[IOLOG_HEADER], int64_t ns, unsigned size, int stream) {
    unsigned char chars[11];
    encode_time(ns, chars);
    put_header(out, chars, size, stream);
}

int iolog_init(struct iolog_writer *w, int fd, iolog_clock_fn clock, void *clock_ctx) {
    unsigned char *batch = w->batch;
    size_t cap = w->batch_cap;
    memset(w, 0, sizeof *w);
    if (!batch) {
        cap = IOLOG_BATCH + IOLOG_MAX_ENTRY;
        batch = malloc(cap);
    }
    w->batch = batch;
    w->batch_cap = batch ? cap : 0;
    w->fd = fd;
    w->clock = clock ? clock : iolog_realtime_ns;
    w->clock_ctx = clock_ctx;
    w->stamp_encoded = -1;
    w->dir_fd = -1;
    iolog_out_init(w);
    if (!batch) w->error = ENOMEM;
    return batch ? 0 : -1;
}

void iolog_free(struct iolog_writer *w) {
    free(w->batch);
    w->batch = NULL;
    w->batch_cap = 0;
}

/* One entry: header and the message, which may come in two parts. */
static void entry(struct iolog_writer *w, int stream, const unsigned char *a, size_t an,
                  const unsigned char *b, size_t bn) {
    if (w->batch_len + IOLOG_MAX_ENTRY > w->batch_cap && iolog_reserve(w, IOLOG_MAX_ENTRY) < 0)
        return; /* a write error (not a full disk): output is dropped from here on */
    int64_t ns = w->one_stamp ? w->stamp : w->clock(w->clock_ctx);
    if (ns != w->stamp_encoded) {
        encode_time(ns, w->time_chars);
        w->stamp_encoded = ns;
    }
    unsigned char *p = w->batch + w->batch_len;
    put_header(p, w->time_chars, (unsigned)(an + bn), stream);
    p += IOLOG_HEADER;
    if (an) memcpy(p, a, an);
    if (bn) memcpy(p + an, b, bn);
    w->batch_len += IOLOG_HEADER + an + bn;
}

/* With one_stamp: the time of the output about to be encoded. */
static void take_stamp(struct iolog_writer *w) {
    if (w->one_stamp) w->stamp = w->clock(w->clock_ctx);
}

static void feed(struct iolog_writer *w, int s, const unsigned char *p, size_t n);

static void release_held(struct iolog_writer *w, int s) {
    struct iolog_stream *st = &w->streams[s];
    if (st->held_len == 0) return;
    /* Feeding may hold output of this stream again: take the held bytes out first. */
    size_t n = st->held_len;
    unsigned char *copy = malloc(n);
    st->held_len = 0;
    if (w->streams[s ^ 1].held_len == 0) w->hold_since_ms = 0;
    if (!copy) { /* out of memory: cannot happen at 64 KiB in practice; keep order anyway */
        feed(w, s, st->held, n);
        return;
    }
    memcpy(copy, st->held, n);
    feed(w, s, copy, n);
    free(copy);
}

/* Gives up waiting for stream s's long line to end: the other stream's output goes now. */
static void cut_open_line(struct iolog_writer *w, int s) {
    w->streams[s].open = 0;
    release_held(w, s ^ 1);
}

static void hold(struct iolog_writer *w, int s, const unsigned char *p, size_t n) {
    struct iolog_stream *st = &w->streams[s];
    if (st->held_len + n >= IOLOG_HOLD_BYTES) {
        /* As the TS writer with holdBytes = IOLOG_HOLD_BYTES: what was held, then this chunk. */
        cut_open_line(w, s ^ 1);
        feed(w, s, p, n);
        return;
    }
    memcpy(st->held + st->held_len, p, n);
    st->held_len += n;
    if (!w->hold_since_ms) w->hold_since_ms = iolog_monotonic_ms();
}

/* Joins input onto the stream's unterminated remainder; returns how many bytes it took. */
static size_t complete_partial(struct iolog_writer *w, int s, const unsigned char *p, size_t n) {
    struct iolog_stream *st = &w->streams[s];
    size_t room = IOLOG_MAX_MESSAGE - st->partial_len;
    size_t limit = n < room ? n : room;
    const unsigned char *nl = memchr(p, '\n', limit);
    size_t take;
    if (nl) take = (size_t)(nl - p) + 1;
    else if (limit == room) take = room;
    else {
        memcpy(st->partial + st->partial_len, p, n);
        st->partial_len += n;
        return n;
    }
    entry(w, s, st->partial, st->partial_len, p, take);
    st->partial_len = 0;
    st->open = nl == NULL; /* a full 4095 bytes without a newline: the line goes on */
    return take;
}

/* Encodes input of stream s; returns how many bytes it took. Stops early just after a long line
 * of s ends while the other stream has output held back, so that output goes next. */
static size_t encode(struct iolog_writer *w, int s, const unsigned char *p, size_t n) {
    struct iolog_stream *st = &w->streams[s];
    struct iolog_stream *other = &w->streams[s ^ 1];
    size_t k = 0;
    if (st->partial_len > 0) {
        int was_open = st->open;
        k = complete_partial(w, s, p, n);
        if (was_open && !st->open && other->held_len) return k;
    }
    while (k < n) {
        const unsigned char *nl = memchr(p + k, '\n', n - k);
        size_t line_end = nl ? (size_t)(nl - p) + 1 : n;
        while (line_end - k >= IOLOG_MAX_MESSAGE && (!nl || line_end - k > IOLOG_MAX_MESSAGE)) {
            entry(w, s, p + k, IOLOG_MAX_MESSAGE, NULL, 0);
            k += IOLOG_MAX_MESSAGE;
            st->open = 1;
        }
        if (!nl) {
            if (k < n) {
                memcpy(st->partial, p + k, n - k);
                st->partial_len = n - k;
            }
            return n;
        }
        entry(w, s, p + k, line_end - k, NULL, 0);
        k = line_end;
        if (st->open) {
            st->open = 0;
            if (other->held_len) return k;
        }
    }
    return n;
}

static void feed(struct iolog_writer *w, int s, const unsigned char *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        if (w->streams[s ^ 1].open) {
            hold(w, s, p + i, n - i);
            return;
        }
        i += encode(w, s, p + i, n - i);
        if (w->streams[s ^ 1].held_len && !w->streams[s].open) release_held(w, s ^ 1);
    }
}

int iolog_write(struct iolog_writer *w, int stream, const unsigned char *buf, size_t n) {
    take_stamp(w);
    if (n) feed(w, stream & 1, buf, n);
    return iolog_flush(w);
}

static int hold_timeout_ms(const struct iolog_writer *w, int64_t now) {
    if (!w->hold_since_ms) return -1;
    int64_t left = w->hold_since_ms + IOLOG_HOLD_MS - now;
    return left < 0 ? 0 : (int)left;
}

int iolog_timeout_ms(const struct iolog_writer *w) {
    if (!w->hold_since_ms && !w->stalled) return -1;
    int64_t now = iolog_monotonic_ms();
    int t = hold_timeout_ms(w, now);
    if (w->stalled) {
        int64_t left = w->retry_at_ms - now;
        int r = left < 0 ? 0 : (int)left;
        if (t < 0 || r < t) t = r;
    }
    return t;
}

int iolog_stalled(const struct iolog_writer *w) {
    return w->stalled != 0 || w->awaiting;
}

int iolog_tick(struct iolog_writer *w) {
    int64_t now = iolog_monotonic_ms();
    if (w->stalled && now >= w->retry_at_ms) iolog_flush(w);
    if (!w->hold_since_ms || hold_timeout_ms(w, now) > 0) return w->error ? -1 : 0;
    take_stamp(w);
    w->hold_since_ms = 0;
    if (w->streams[0].held_len) cut_open_line(w, 1);
    if (w->streams[1].held_len) cut_open_line(w, 0);
    return iolog_flush(w);
}

void iolog_cut_partial(struct iolog_writer *w, int stream) {
    struct iolog_stream *st = &w->streams[stream & 1];
    if (!st->partial_len) return;
    take_stamp(w);
    /* As a long line is cut: an entry now, and the line goes on in the next. */
    entry(w, stream & 1, st->partial, st->partial_len, NULL, 0);
    st->partial_len = 0;
    st->open = 1;
    iolog_flush(w);
}

static void finish_line(struct iolog_writer *w, int s) {
    struct iolog_stream *st = &w->streams[s];
    if (st->partial_len) entry(w, s, st->partial, st->partial_len, NULL, 0);
    st->partial_len = 0;
    st->open = 0;
}

int iolog_close(struct iolog_writer *w) {
    take_stamp(w);
    /* A stream in the middle of a long line finishes it before the other's held output. */
    int first = w->streams[1].open ? 1 : 0;
    finish_line(w, first);
    release_held(w, first ^ 1);
    finish_line(w, first ^ 1);
    w->hold_since_ms = 0;
    iolog_flush(w);
    if (w->awaiting) return 0; /* written once the fresh file is there (iolog_resume) */
    if (w->stalled) {
        /* Still no space: the whole entries left are dropped (the file ends at a boundary). */
        if (!w->error) w->error = w->stalled;
        w->stalled = 0;
        w->batch_len = 0;
    }
    return w->error ? -1 : 0;
}

size_t iolog_pump(struct iolog_writer *w, int *fd, int stream) {
    static unsigned char buf[IOLOG_READ];
    size_t total = 0;
    while (*fd >= 0 && !w->stalled) {
        ssize_t n = read(*fd, buf, sizeof buf);
        if (n > 0) {
            iolog_write(w, stream, buf, (size_t)n);
            total += (size_t)n;
            if (total >= (1u << 20)) break; /* let the other stream and signals have a turn */
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        close(*fd); /* EOF or error */
        *fd = -1;
    }
    return total;
}

void iolog_grow_pipe(int fd) {
    /* Best effort: past /proc/sys/fs/pipe-max-size (or the user's pipe quota) the pipe keeps
     * its size, which is only slower. */
    (void)fcntl(fd, F_SETPIPE_SZ, IOLOG_PIPE);
}
