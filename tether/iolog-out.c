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

int iolog_flush(struct iolog_writer *w) {
    size_t off = 0;
    w->stalled = 0;
    while (off < w->batch_len && !w->error) {
        size_t n = w->batch_len - off;
        if (w->dir_fd >= 0 && w->file_size + (int64_t)n > w->max_size) {
            size_t room = w->file_size < w->max_size ? (size_t)(w->max_size - w->file_size) : 0;
            size_t fit = whole_entries(w->batch + off, n, room);
            if (fit == 0 && w->file_size > 0 && rotate(w) == 0) continue;
            if (fit > 0) n = fit; /* else: rotation failed; the file grows past max_size */
        }
        ssize_t r = write(w->fd, w->batch + off, n);
        if (r < 0) {
            if (errno == EINTR) continue;
            if (w->regular && (errno == ENOSPC || errno == EDQUOT)) {
                stall(w, errno);
                break;
            }
            w->error = errno;
            break;
        }
        if (w->regular && (size_t)r < n) {
            /* The disk filled partway through: back to the last whole entry, the rest waits. */
            size_t keep = whole_entries(w->batch + off, n, (size_t)r);
            if (ftruncate(w->fd, w->file_size + (off_t)keep) < 0) {
                w->error = errno;
                break;
            }
            w->file_size += (int64_t)keep;
            off += keep;
            stall(w, ENOSPC);
            break;
        }
        /* A serial port or pipe may take part of a batch; the rest goes next (nobody else
         * writes to those). */
        off += (size_t)r;
        if (w->regular) w->file_size += r;
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
    if (!w->stalled && iolog_flush(w) < 0) return -1;
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
