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

#include "spool_format.h"

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
