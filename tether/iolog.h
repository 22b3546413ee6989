/* VIC's container-VM log format (see src/iolog/format.ts), written from C.
 *
 * An entry is a 16-byte header (padded base64 of int64 LE unix ns, then uint16 LE
 * size << 4 | stream << 3) and `size` message bytes. Each stream's output is cut after every
 * '\n' and at 4095 bytes; an unterminated remainder waits for the rest of its line.
 *
 * While one stream is in the middle of a line longer than 4095 bytes (pieces already written),
 * the other stream's output is held back so that it does not land inside that line, as
 * src/iolog/writer.ts does: for at most IOLOG_HOLD_MS (the caller drives that with
 * iolog_hold_deadline/iolog_expire_hold) or IOLOG_HOLD_BYTES, after which the long line is cut.
 *
 * Entries are gathered in a batch and written with one write() per batch, so on an O_APPEND fd
 * no entry is ever torn or interleaved with another writer's. iolog_write flushes before it
 * returns; nothing is kept in the batch between calls. */
#ifndef TETHER_IOLOG_H
#define TETHER_IOLOG_H

#include <stddef.h>
#include <stdint.h>

#define IOLOG_HEADER 16
#define IOLOG_MAX_MESSAGE 4095
#define IOLOG_MAX_ENTRY (IOLOG_HEADER + IOLOG_MAX_MESSAGE)
#define IOLOG_HOLD_BYTES 65536
#define IOLOG_HOLD_MS 50
#define IOLOG_BATCH 65536

/* Returns the timestamp (unix ns) of the next entry; read once per entry, in order. */
typedef int64_t (*iolog_clock_fn)(void *ctx);

/* CLOCK_REALTIME in ns (ctx unused). */
int64_t iolog_realtime_ns(void *ctx);

/* The vectors' clock: each call returns the previous value plus step; the first start+step. */
struct iolog_stepping_clock {
    int64_t now;
    int64_t step;
};
int64_t iolog_stepping_ns(void *ctx); /* ctx: struct iolog_stepping_clock * */

struct iolog_stream {
    unsigned char partial[IOLOG_MAX_MESSAGE]; /* unterminated remainder of the current line */
    size_t partial_len;
    int open;                                 /* pieces of the current line already written */
    unsigned char held[IOLOG_HOLD_BYTES];     /* output held back during the other's long line */
    size_t held_len;
};

struct iolog_writer {
    int fd;
    iolog_clock_fn clock;
    void *clock_ctx;
    struct iolog_stream streams[2];
    int64_t hold_since_ms; /* CLOCK_MONOTONIC ms when output was first held; 0 when none */
    unsigned char batch[IOLOG_BATCH];
    size_t batch_len;
    int error; /* first errno of a failed write; later output is dropped, input still taken */
};

/* Writes the 16 header bytes for one entry into out. */
void iolog_encode_header(unsigned char out[IOLOG_HEADER], int64_t ns, unsigned size, int stream);

/* w is large (~200 KiB): give it static storage or the heap. */
void iolog_init(struct iolog_writer *w, int fd, iolog_clock_fn clock, void *clock_ctx);
/* Appends output of stream 0 (stdout) or 1 (stderr). Returns 0, or -1 with w->error set. */
int iolog_write(struct iolog_writer *w, int stream, const unsigned char *buf, size_t n);
/* Milliseconds (CLOCK_MONOTONIC) until held output must be released, or -1 when none is held:
 * a poll() timeout. */
int iolog_hold_timeout_ms(const struct iolog_writer *w);
/* Releases held output whose time is up (cuts the other stream's long line). Call when the
 * timeout from iolog_hold_timeout_ms has passed. */
int iolog_expire_hold(struct iolog_writer *w);
/* Reads what the non-blocking pipe *fd holds now into stream's output; at EOF (or an error)
 * closes it and sets *fd to -1. Stops after 1 MiB so that other fds and signals get a turn.
 * Returns the bytes read. */
size_t iolog_pump(struct iolog_writer *w, int *fd, int stream);
/* Ends both streams: writes unterminated remainders and held output. Does not close fd. */
int iolog_close(struct iolog_writer *w);

#endif
