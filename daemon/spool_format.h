/* spool_format.h - the spool's records on disk, as pure functions: the
 * CRC-32C, the framing of one record, and the recovery scan of a segment
 * over any byte source. spool.c uses them on files; the unit test and the
 * fuzzer use them on memory. */
#ifndef BEVIS_SPOOL_FORMAT_H
#define BEVIS_SPOOL_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "log.h"
#include "proto.h"		/* PROTO_REQUEST_ID_MAX */

#define SPOOL_MAGIC		"BVS1"
#define SPOOL_KEY_LEN		16	/* bytes of <dir>/key */
#define SPOOL_HDR_LEN		12	/* magic, payload length, CRC-32C */
#define SPOOL_PAYLOAD_MIN	29	/* a one-byte request id, the rest empty */
/* A longer length field is garbage, not a record to wait for. */
#define SPOOL_PAYLOAD_MAX	(1u << 30)
/* The header and the longest payload before the body's bytes: enough to
 * learn a record's body length. */
#define SPOOL_PREFIX_MAX	(SPOOL_HDR_LEN + 21 + 1 + PROTO_REQUEST_ID_MAX + \
				 1 + 63 + 1 + 32 + 4)

struct spool_rec {
	uint64_t seq;		/* set by spool_append: increases over the
				 * spool's life, continuing after the highest
				 * seen at open */
	int64_t received_us;	/* receipt time, µs since the epoch */
	int32_t supplier_id;	/* 0 if none */
	uint8_t ct;		/* enum content_type value, not checked here */
	char request_id[PROTO_REQUEST_ID_MAX + 1];
	char supplier_name[64];
	char key_fp[33];
	const unsigned char *body;	/* append: the caller's bytes; read:
					 * points into the batch's buffer */
	size_t body_len;
};

/* ---- framing */

/* CRC-32C (Castagnoli); crc is 0 to start or the result of the previous
 * call, so a message can be fed in pieces. */
uint32_t spool_crc32c(uint32_t crc, const void *p, size_t n);
/* The seed of a spool's record CRCs: spool_crc32c(0, key, SPOOL_KEY_LEN).
 * A record's CRC is spool_crc32c(seed, length bytes || payload), so only
 * who knows the key can frame a record that decodes (spool.c says why). */
uint32_t spool_key_seed(const unsigned char key[SPOOL_KEY_LEN]);
/* Nonzero when r can be framed: a valid request id, NUL-terminated name
 * and fingerprint without overlong contents, a body that fits. */
int spool_rec_valid(const struct spool_rec *r);
/* The bytes spool_encode appends for r. */
size_t spool_encoded_len(const struct spool_rec *r);
/* Appends one record framed with the CRC seed of its spool (spool_key_seed).
 * r must be valid (spool_rec_valid); an invalid one ends the process, as it
 * is a bug of the caller. */
void spool_encode(struct buf *out, const struct spool_rec *r, uint32_t seed);
/* Decodes one record at p, framed with seed. Returns 1 and sets *r and
 * *used on success (r->body points into p); 0 if p[0..len) is a prefix of a
 * record that could still be valid (torn: more bytes needed); -1 if it is
 * not a valid record (bad magic, a length out of range, fields that do not
 * add up to the payload length, a bad request id, a NUL in the name or
 * fingerprint, a CRC mismatch, as for a record framed with another seed).
 * Never reads p[len] or beyond. Once -1, more bytes cannot make it 0 or 1. */
int spool_decode(const unsigned char *p, size_t len, struct spool_rec *r,
    size_t *used, uint32_t seed) MUSTCHECK;
/* spool_decode that also reports the body length (*blen, may be NULL) as
 * soon as the bytes get that far, so a reader can weigh a record before
 * reading all of it. */
int spool_frame_check(const unsigned char *p, size_t len, struct spool_rec *r,
    size_t *used, uint32_t *blen, uint32_t seed) MUSTCHECK;

/* The payload length a record's header (SPOOL_HDR_LEN bytes) claims. */
uint32_t spool_payload_len(const unsigned char *hdr);

/* The CRC register without the inversions at both ends, and the register
 * after n zero bytes: the linear pieces the resync combines (exposed for
 * the fuzzer's check of that algebra). */
uint32_t spool_crc_raw(uint32_t reg, const unsigned char *p, size_t n);
uint32_t spool_crc_zeros(uint32_t reg, uint64_t n);

/* ---- recovery scan: the rules of spool.c over any byte source ---------- */

#define SPOOL_SCAN_CHUNK	((size_t)64 << 10)	/* bytes read at a time */

enum spool_scan_kind {
	SPOOL_SCAN_END,		/* nothing left */
	SPOOL_SCAN_GOOD,	/* a record */
	SPOOL_SCAN_BAD,		/* bytes that are no record, a record follows */
	SPOOL_SCAN_TAIL,	/* bytes up to the end with no record after
				 * them: torn (newest segment) or corrupt */
};

struct spool_scan_item {
	enum spool_scan_kind kind;
	uint64_t off, len;	/* the record's or the bad bytes' place */
	uint64_t seq;		/* GOOD: the record's seq */
	/* TAIL: 1 when a record that decodes, with a seq above last_seq,
	 * starts inside a span that a sound header claimed, and so was not
	 * taken: a quote that met its 2^-32, or records behind a length field
	 * damaged within range. Such a tail is worth a copy. */
	int hidden;
};

struct spool_scan {
	/* Returns n bytes at off (off + n <= size), valid until the next
	 * call; NULL on an I/O error (errno set). */
	const unsigned char *(*get)(void *arg, uint64_t off, size_t n);
	void *arg;
	uint64_t size;		/* bytes in the segment */
	uint64_t off;		/* where the next item starts: 0 at first */
	/* The highest seq seen so far (0: none). A record found by looking
	 * past bad bytes must be above it, so an old record of this spool
	 * quoted inside a body is not taken for one. Kept up to date by the
	 * scan. */
	uint64_t last_seq;
	uint32_t seed;		/* of the spool's key: spool_key_seed */
};

/* Reports the next item of the segment, in order; the items tile
 * [off, size) without gaps. Past a record that does not decode, a sound
 * header (the magic and a length in range) is skipped over whole: no
 * record is taken inside the span it claims, and if that span reaches
 * size, the rest is TAIL. Only where there is no sound header is the next
 * record looked for byte by byte. Returns the item's kind, or -1 when get
 * failed. Looking past bad bytes takes time in proportion to the bytes
 * looked at, and memory of a 64th of them. */
int spool_scan_next(struct spool_scan *sc, struct spool_scan_item *it)
    MUSTCHECK;

#endif
