/* Percent-encoded tokens: see tokens.h. */
#include "tokens.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t token_encode(const char *s, char *out, size_t cap) {
    if (cap == 0) return 0;
    size_t o = 0;
    if (!*s && cap > 1) out[o++] = '-';
    /* Each round needs room for an escape (3 bytes) and the NUL. */
    for (; *s && o + 4 <= cap; s++) {
        unsigned char c = (unsigned char)*s;
        /* "-" alone would read as the empty string: its dash is escaped. */
        int lone_dash = c == '-' && o == 0 && s[1] == 0;
        if (c <= ' ' || c > '~' || c == '%' || lone_dash) {
            snprintf(out + o, cap - o, "%%%02X", c);
            o += 3;
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = 0;
    return o;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int token_decode(char *t) {
    if (!strcmp(t, "-")) {
        t[0] = 0;
        return 0;
    }
    char *o = t;
    for (char *p = t; *p; p++) {
        if (*p != '%') {
            *o++ = *p;
            continue;
        }
        int h = hexval(p[1]), l = h < 0 ? -1 : hexval(p[2]);
        if (l < 0) return -1;
        *o++ = (char)(h * 16 + l);
        p += 2;
    }
    *o = 0;
    return 0;
}

int token_parse_ll(const char *s, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t token_base64(const unsigned char *in, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < n) v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < n) v |= in[i + 2];
        out[o++] = B64[v >> 18 & 63];
        out[o++] = B64[v >> 12 & 63];
        out[o++] = i + 1 < n ? B64[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? B64[v & 63] : '=';
    }
    return o;
}
