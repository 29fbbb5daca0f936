/* spool.h - the durable spool. While PostgreSQL is away, bevisd appends
 * each request here and answers "spooled" only after fdatasync; one writer
 * replays the spool, oldest first, once the database is back, and a record
 * leaves it only after its COMMIT. spool.c describes the format, the
 * spool's key and the recovery after a crash. */
#ifndef BEVIS_SPOOL_H
#define BEVIS_SPOOL_H

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

/* ---- framing: pure, used by the file code, the unit test and the fuzzer */

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

/* ---- recovery scan: the rules of spool.c over any byte source ---------- */

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

/* ---- the spool on disk -------------------------------------------------- */

struct spool;

/* Creates dir (mode 0700) if missing, takes an exclusive lock on it, reads
 * its key (<dir>/key, created with mode 0600 for a spool with no segment
 * yet, from libsodium's randombytes_buf; segments without a key file are
 * refused), scans every segment (recovering as spool.c describes) and
 * returns the spool; NULL with a message in err on failure. max_bytes
 * bounds the bytes of all segment files together. Calls sodium_init. */
struct spool *spool_open(const char *dir, uint64_t max_bytes, char *err,
    size_t errlen);
/* For a SIGHUP reload. Bytes already spooled stay, even above the bound. */
void spool_set_max(struct spool *s, uint64_t max_bytes);
/* Appends n records with one write and one fdatasync, and sets each
 * rec's seq. Returns 0 when all are durable. Returns -1 with errno set,
 * and nothing counts as spooled, when
 *   ENOSPC    the records would take the spool over max_bytes (nothing
 *             written; the caller answers "busy"), or the disk is full;
 *   EINVAL    a record cannot be framed (spool_rec_valid);
 *   other     a write or fdatasync failed: the segment is truncated back,
 *             never appended to again, and the next append starts a new one.
 * Thread-safe; blocks on the write and fdatasync (and, for a new segment,
 * on an fsync of the directory), one append at a time. */
int spool_append(struct spool *s, struct spool_rec *recs, size_t n) MUSTCHECK;

struct spool_batch {
	struct spool_rec *recs;
	size_t n;
	/* private */
	struct buf data;	/* the records' bytes; bodies point here */
	size_t *body_off;	/* each body's place in data */
	size_t cap;		/* of recs and body_off */
	uint64_t start_seg, start_off;	/* where the first record was read */
	uint64_t end_seg, end_off;	/* the place after the last one */
};

/* Reads the records after the last ones handed out, oldest first: up to
 * max_recs records and, past the first, max_bytes bytes of body, all from
 * one segment. b must be zeroed before its first use; it is reused by each
 * call and owns the bytes recs point to until spool_batch_free. Returns
 * b->n (0 when nothing is pending) or -1 on an I/O error (logged). One
 * reader at a time: the caller makes sure that spool_read, spool_commit
 * and spool_rewind never overlap (they may come from different threads in
 * turn); any number of spool_append calls may run meanwhile. Each batch
 * is committed or rewound, in the order read. Reading removes nothing. A
 * record damaged since open is found here and moved aside as at open. */
int spool_read(struct spool *s, size_t max_recs, size_t max_bytes,
    struct spool_batch *b) MUSTCHECK;
/* The records of b and all before them are committed to the database:
 * segments wholly before the end of b are deleted, and when everything
 * appended so far is committed the spool is empty (no segment file left).
 * Part of the reader's turn: never at the same time as spool_read. */
void spool_commit(struct spool *s, struct spool_batch *b);
/* The records of b were not committed: the next spool_read starts again
 * at b's first record. Part of the reader's turn, as spool_commit. */
void spool_rewind(struct spool *s, struct spool_batch *b);
void spool_batch_free(struct spool_batch *b);

struct spool_stats {
	uint64_t bytes;		/* segment file sizes: what the bound is about */
	uint64_t records;	/* on disk and not yet committed */
	uint64_t max_bytes;
	uint64_t appended, replayed, corrupt;	/* since open; corrupt counts
						 * bad ranges moved aside */
};

void spool_stats(struct spool *s, struct spool_stats *st);
/* 1 if records wait for replay (not yet handed out by spool_read). */
int spool_pending(struct spool *s);
/* Closes the files and frees s; deletes nothing. No call may be running. */
void spool_close(struct spool *s);

#endif
