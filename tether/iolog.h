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
 * Entries are gathered in a batch and written with one write() per batch (iolog-out.c), so on an
 * O_APPEND fd no entry is ever torn or interleaved with another writer's. iolog_write flushes
 * before it returns; nothing is kept in the batch between calls unless the disk is full.
 *
 * Speed (a container printing 100-byte lines as fast as it can): input comes in reads of up to
 * IOLOG_READ bytes from a pipe the tether made IOLOG_PIPE bytes large; with one_stamp set, the
 * clock is read once per iolog_write (all entries of one read share the time they were read:
 * they arrived together) and the timestamp's 10 header characters are encoded once, so an entry
 * costs a memchr, 6 header characters and a memcpy. The vectors' stepping clock is read per
 * entry, as VIC's writer does (one_stamp 0).
 *
 * A log that is a regular file (the tether's output.log) also gets:
 * - rotation (iolog_rotate_at): before a write would take the file past max_size, the batch is
 *   cut at an entry boundary, output.log becomes output.log.1 (.1 .2, the oldest beyond
 *   max_files - 1 deleted) and a fresh output.log takes the rest, so every file starts and ends
 *   at an entry boundary and the files together stay within max_size * max_files.
 * - disk full (ENOSPC, EDQUOT): the bytes a short write left are truncated back to the last whole
 *   entry, what is left waits in the batch (which grows for what the current input still makes)
 *   and iolog_stalled says so: the caller stops reading its pipes, so the container blocks on
 *   its output, and iolog_retry (after iolog_timeout_ms) writes it when space returns. Nothing
 *   is lost or torn; only iolog_close on a still-full disk drops the whole entries left. */
#ifndef TETHER_IOLOG_H
#define TETHER_IOLOG_H

#include <stddef.h>
#include <stdint.h>

#define IOLOG_HEADER 16
#define IOLOG_MAX_MESSAGE 4095
#define IOLOG_MAX_ENTRY (IOLOG_HEADER + IOLOG_MAX_MESSAGE)
#define IOLOG_HOLD_BYTES 65536
#define IOLOG_HOLD_MS 50
#define IOLOG_BATCH (1 << 20)    /* flush when the batch holds this much */
#define IOLOG_READ (256 << 10)   /* bytes per read() of a pipe */
#define IOLOG_PIPE (1 << 20)     /* pipe size asked for (F_SETPIPE_SZ; the unprivileged limit) */
#define IOLOG_RETRY_MS 100       /* disk full: try again this often */

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
    int one_stamp;          /* read the clock once per iolog_write, not per entry */
    int64_t stamp;          /* that reading */
    int64_t stamp_encoded;  /* the timestamp time_chars hold */
    unsigned char time_chars[11]; /* header chars 0..9, and char 10's high bits (format.ts) */
    struct iolog_stream streams[2];
    int64_t hold_since_ms; /* CLOCK_MONOTONIC ms when output was first held; 0 when none */
    unsigned char *batch;  /* IOLOG_BATCH + IOLOG_MAX_ENTRY bytes; more only while stalled */
    size_t batch_cap;
    size_t batch_len;
    int error; /* first errno of a failed write; later output is dropped, input still taken */
    /* The output side (iolog-out.c). */
    int regular;        /* fd is a regular file: sizes, truncation and rotation apply */
    int64_t file_size;  /* its size, kept as we write (we are its only writer) */
    int dir_fd;         /* the directory holding it, for rotation; -1: no rotation */
    const char *name;   /* its name there */
    int64_t max_size;
    int max_files;
    /* Rotation by someone else (the pod VM's host): called when the file is full, at an entry
     * boundary; it closes fd, asks for a fresh file and returns 0, and the writer awaits
     * iolog_resume. */
    int (*rotate_hook)(struct iolog_writer *w, void *ctx);
    void *rotate_ctx;
    int awaiting;        /* a fresh file asked for: nothing is written until iolog_resume */
    int stalled;         /* errno (ENOSPC, EDQUOT) while the disk is full; 0 otherwise */
    int64_t retry_at_ms; /* CLOCK_MONOTONIC ms of the next try while stalled */
};

/* Writes the 16 header bytes for one entry into out. */
void iolog_encode_header(unsigned char out[IOLOG_HEADER], int64_t ns, unsigned size, int stream);

/* w is large (~130 KiB): give it static storage or the heap, zeroed before its first iolog_init
 * (a later iolog_init reuses its batch). Returns 0, or -1 when the batch cannot be allocated. */
int iolog_init(struct iolog_writer *w, int fd, iolog_clock_fn clock, void *clock_ctx);
/* Frees the batch. */
void iolog_free(struct iolog_writer *w);
/* Rotation of the regular file w->fd, named `name` in the directory dir_fd: see above.
 * max_size must be at least IOLOG_MAX_ENTRY, max_files at least 2. */
void iolog_rotate_at(struct iolog_writer *w, int dir_fd, const char *name, int64_t max_size,
                     int max_files);
/* Rotation of a log that is not ours to rename (a pod VM's log port): the file behind fd holds
 * `size` bytes now; when it would pass max_size, hook is called (see rotate_hook). */
void iolog_rotate_by(struct iolog_writer *w, int64_t max_size, int64_t size,
                     int (*hook)(struct iolog_writer *w, void *ctx), void *ctx);
/* The fresh file is there, written through fd: goes on with what waited. */
int iolog_resume(struct iolog_writer *w, int fd);
/* Appends output of stream 0 (stdout) or 1 (stderr). Returns 0, or -1 with w->error set. */
int iolog_write(struct iolog_writer *w, int stream, const unsigned char *buf, size_t n);
/* Milliseconds (CLOCK_MONOTONIC) until iolog_tick has work: held output to release or a stalled
 * write to retry; -1 when none: a poll() timeout. */
int iolog_timeout_ms(const struct iolog_writer *w);
/* Releases held output whose time is up (cuts the other stream's long line) and retries a
 * stalled write. Call when the timeout from iolog_timeout_ms has passed. */
int iolog_tick(struct iolog_writer *w);
/* Writes stream's unterminated remainder now, as an entry the next one continues (as a long
 * line is cut): a terminal's prompt or an echo must not wait for a newline. */
void iolog_cut_partial(struct iolog_writer *w, int stream);
/* Whether the disk is full and the batch waits: read no input (iolog_pump reads none). */
int iolog_stalled(const struct iolog_writer *w);
/* Reads what the non-blocking pipe *fd holds now into stream's output; at EOF (or an error)
 * closes it and sets *fd to -1. Stops after 1 MiB so that other fds and signals get a turn, and
 * reads nothing while the disk is full (while awaiting a fresh file it does: the batch grows;
 * callers poll no pipes while iolog_stalled). Returns the bytes read. */
size_t iolog_pump(struct iolog_writer *w, int *fd, int stream);
/* Ends both streams: writes unterminated remainders and held output. Does not close fd. */
int iolog_close(struct iolog_writer *w);
/* Makes the pipe fd as large as IOLOG_PIPE, where allowed: fewer, larger reads. */
void iolog_grow_pipe(int fd);

/* (Between iolog.c and iolog-out.c.) Writes the batch out: whole entries, rotating on the way;
 * what a full disk refuses stays in the batch. Returns 0, or -1 with w->error set. */
int iolog_flush(struct iolog_writer *w);
/* Makes room for n more bytes in the batch: flushes, or grows it while stalled. */
int iolog_reserve(struct iolog_writer *w, size_t n);
int64_t iolog_monotonic_ms(void);
/* Learns whether w->fd is a regular file, and its size. */
void iolog_out_init(struct iolog_writer *w);

#endif
