/* The output side of the iolog writer (see iolog.h): writing batches of whole entries, rotation,
 * and a full disk.
 *
 * Who rotates: the tether itself, when its file would pass max_size. It is the only writer of
 * the file and knows where every entry ends, so each file starts and ends at an entry boundary
 * and nothing is lost or written twice; a rotation by the host (copy and truncate, or rename and
 * signal) would race the tether's writes, and would need a process on the host per container,
 * which the design has none of (the log keeps flowing while the VCH is down). It renames in the
 * directory it was handed (dir_fd) and creates the new file there itself: it cannot reach the
 * host's path from inside the container. Readers (src/iolog/rotated.ts) list the files by
 * name and tolerate the moment in which output.log has been renamed and its successor not yet
 * put in place. */
#include "iolog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void iolog_out_init(struct iolog_writer *w) {
    struct stat st;
    if (fstat(w->fd, &st) == 0 && S_ISREG(st.st_mode)) {
        w->regular = 1;
        w->file_size = st.st_size;
    }
}

void iolog_rotate_at(struct iolog_writer *w, int dir_fd, const char *name, int64_t max_size,
                     int max_files) {
    if (!w->regular) return;
    w->dir_fd = dir_fd;
    w->name = name;
    w->max_size = max_size < IOLOG_MAX_ENTRY ? IOLOG_MAX_ENTRY : max_size;
    w->max_files = max_files < 2 ? 2 : max_files;
}

void iolog_rotate_by(struct iolog_writer *w, int64_t max_size, int64_t size,
                     int (*hook)(struct iolog_writer *w, void *ctx), void *ctx) {
    w->max_size = max_size < IOLOG_MAX_ENTRY ? IOLOG_MAX_ENTRY : max_size;
    w->file_size = size;
    w->rotate_hook = hook;
    w->rotate_ctx = ctx;
}

int iolog_resume(struct iolog_writer *w, int fd) {
    w->fd = fd;
    w->file_size = 0;
    w->awaiting = 0;
    return iolog_flush(w);
}

static int b64(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : 63;
}

/* Length of the entry at p (one the writer made: its header is valid). */
static size_t entry_len(const unsigned char *p) {
    unsigned b8 = ((unsigned)(b64(p[10]) & 3) << 6) | (unsigned)b64(p[11]);
    unsigned b9 = ((unsigned)b64(p[12]) << 2) | ((unsigned)b64(p[13]) >> 4);
    return IOLOG_HEADER + (((b8 | b9 << 8) >> 4));
}

/* Bytes of the whole entries at the start of p[0..n) that end at or before `room`. */
static size_t whole_entries(const unsigned char *p, size_t n, size_t room) {
    size_t limit = n < room ? n : room, off = 0;
    for (;;) {
        if (off + IOLOG_HEADER > n) return off;
        size_t len = entry_len(p + off);
        if (off + len > limit) return off;
        off += len;
    }
}

/* output.log → output.log.1 → … → output.log.(max_files-1) (deleted), and a fresh output.log. */
static int rotate(struct iolog_writer *w) {
    char from[320], to[320];
    if (strlen(w->name) > 256) return -1;
    /* The successor is created first under a name no reader lists, so a failure (no inode
     * left) leaves everything as it was, and then put in place by rename. */
    snprintf(from, sizeof from, ".%s.next", w->name);
    int fd = openat(w->dir_fd, from, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC |
                                         O_NOFOLLOW, 0640);
    if (fd < 0) return -1;
    /* Shift the files only when the name is still our file: were it deleted or replaced under
     * us, every try would delete another rotated file. Then the fresh file just takes the name. */
    struct stat ours, named;
    int shift = fstat(w->fd, &ours) == 0 &&
                fstatat(w->dir_fd, w->name, &named, AT_SYMLINK_NOFOLLOW) == 0 &&
                ours.st_ino == named.st_ino && ours.st_dev == named.st_dev;
    int ok = 1;
    if (shift) {
        snprintf(to, sizeof to, "%s.%d", w->name, w->max_files - 1);
        unlinkat(w->dir_fd, to, 0);
        for (int k = w->max_files - 2; k >= 1; k--) {
            snprintf(from, sizeof from, "%s.%d", w->name, k);
            snprintf(to, sizeof to, "%s.%d", w->name, k + 1);
            renameat(w->dir_fd, from, w->dir_fd, to); /* ENOENT: fewer files so far */
        }
        snprintf(to, sizeof to, "%s.1", w->name);
        ok = renameat(w->dir_fd, w->name, w->dir_fd, to) == 0;
    }
    snprintf(from, sizeof from, ".%s.next", w->name);
    /* Never over our own file: had it kept its name, the rename would delete it. */
    if (!ok || renameat(w->dir_fd, from, w->dir_fd, w->name) < 0) {
        unlinkat(w->dir_fd, from, 0);
        close(fd);
        return -1;
    }
    close(w->fd);
    w->fd = fd;
    w->file_size = 0;
    return 0;
}

static void stall(struct iolog_writer *w, int err) {
    w->stalled = err;
    w->retry_at_ms = iolog_monotonic_ms() + IOLOG_RETRY_MS;
}

/* Writes the n bytes at p, which start at an entry boundary: all of them, as a serial port or
 * pipe may take a write in parts (a pod VM's port takes at most 32 KiB at a time). On a full disk
 * the file goes back to the last whole entry and the writer stalls. Returns the bytes written:
 * whole entries, unless a write failed otherwise (w->error). */
static size_t write_entries(struct iolog_writer *w, const unsigned char *p, size_t n) {
    size_t done = 0;
    while (done < n) {
        ssize_t r = write(w->fd, p + done, n - done);
        if (r < 0 && errno == EINTR) continue;
        int full = w->regular && ((r < 0 && (errno == ENOSPC || errno == EDQUOT)) ||
                                  (r >= 0 && (size_t)r < n - done));
        if (full) {
            /* The disk filled partway through: back to the last whole entry; the rest waits. */
            size_t keep = whole_entries(p, n, done + (r > 0 ? (size_t)r : 0));
            if (keep != done + (r > 0 ? (size_t)r : 0) &&
                ftruncate(w->fd, w->file_size + (off_t)keep) < 0) {
                w->error = errno;
                return done;
            }
            stall(w, r < 0 ? errno : ENOSPC);
            return keep;
        }
        if (r < 0) {
            w->error = errno;
            return done;
        }
        done += (size_t)r;
    }
    return done;
}

int iolog_flush(struct iolog_writer *w) {
    size_t off = 0; /* an entry boundary */
    w->stalled = 0;
    while (off < w->batch_len && !w->error && !w->awaiting && !w->stalled) {
        size_t n = w->batch_len - off;
        if (w->max_size > 0 && w->file_size + (int64_t)n > w->max_size) {
            size_t room = w->file_size < w->max_size ? (size_t)(w->max_size - w->file_size) : 0;
            size_t fit = whole_entries(w->batch + off, n, room);
            if (fit == 0 && w->file_size > 0 && w->rotate_hook) {
                if (w->rotate_hook(w, w->rotate_ctx) == 0) w->awaiting = 1;
                continue;
            }
            if (fit == 0 && w->file_size > 0 && w->dir_fd >= 0 && rotate(w) == 0) continue;
            if (fit > 0) n = fit; /* else: rotation failed; the file grows past max_size */
        }
        size_t done = write_entries(w, w->batch + off, n);
        off += done;
        w->file_size += (int64_t)done;
    }
    if (w->error) {
        w->batch_len = 0;
        w->stalled = 0;
        return -1;
    }
    memmove(w->batch, w->batch + off, w->batch_len - off);
    w->batch_len -= off;
    return 0;
}

int iolog_reserve(struct iolog_writer *w, size_t n) {
    if (!iolog_stalled(w) && iolog_flush(w) < 0) return -1;
    if (w->batch_len + n <= w->batch_cap) return 0;
    /* Stalled: the input being encoded still needs room (the pump reads no more meanwhile). */
    size_t cap = w->batch_cap * 2 > w->batch_len + n ? w->batch_cap * 2 : w->batch_len + n;
    unsigned char *b = realloc(w->batch, cap);
    if (!b) {
        w->error = ENOMEM;
        w->batch_len = 0;
        return -1;
    }
    w->batch = b;
    w->batch_cap = cap;
    return 0;
}
