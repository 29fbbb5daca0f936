/* hex.h - lower-case hex encoding and strict decoding, the one copy both
 * binaries and the tests use. */
#ifndef BEVIS_HEX_H
#define BEVIS_HEX_H

#include <stddef.h>

#include "buf.h"

/* Writes 2 * n lower-case hex digits and a NUL to out (2 * n + 1 bytes). */
void hex_encode(const unsigned char *p, size_t n, char *out);
/* Appends 2 * n lower-case hex digits to b (no NUL). */
void hex_append(struct buf *b, const unsigned char *p, size_t n);
/* Exactly 2 * n hex digits (either case) into n bytes; -1 otherwise. */
int hex_decode(const char *s, size_t slen, unsigned char *out, size_t n);
/* A hex string of any even length into b, replacing its contents; -1 when
 * it is not one (b is then empty). */
int hex_decode_buf(const char *s, size_t slen, struct buf *b);

#endif
