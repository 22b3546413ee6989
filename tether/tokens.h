/* The tokens of the control protocol and of the status records (tether/protocol.h): bytes
 * outside '!'..'~', and '%' itself, as %XX; the empty string as "-", the string "-" as "%2D".
 * Shared by the agent and the runc tether, so both write the host exactly one encoding. */
#ifndef TETHER_TOKENS_H
#define TETHER_TOKENS_H

#include <stddef.h>

/* Encodes s into out (cap bytes, NUL-terminated). What does not fit is left off, never half an
 * escape. Returns the length written. */
size_t token_encode(const char *s, char *out, size_t cap);

/* Decodes t in place. 0, or -1 when it holds a malformed escape. */
int token_decode(char *t);

/* A decimal integer that is all of s (no sign games beyond strtoll's, no trailing bytes, no
 * overflow). 0 with *out set, or -1. */
int token_parse_ll(const char *s, long long *out);

/* Writes n bytes as base64 (RFC 4648, padded) to out, which holds (n + 2) / 3 * 4 bytes; no NUL.
 * Returns the length written. */
size_t token_base64(const unsigned char *in, size_t n, char *out);

#endif
