/* fuzz_spool.c - libFuzzer harness for the spool's framing and recovery
 * scan (daemon/spool_format.c), all under the key FUZZ_KEY:
 *  - spool_decode at every offset of the input: a record that decodes is
 *    valid, encodes back to the same bytes, is 0 at every shorter cut and
 *    -1 under another key; -1 never turns into 0 or 1 with more bytes;
 *  - the recovery scan over the input as a segment: its items tile the
 *    input, good ones decode there, and bad bytes end where the rules of
 *    spool.c put the next record, worked out the long way (spool_decode at
 *    every place, against the scan's CRCs of ranges): past a sound header
 *    (the magic, a length in range) at the end it claims, or the rest is
 *    tail if that is at or past the end; past any other bytes, at the
 *    first record with a seq above those before it. No record is taken
 *    inside the span a sound header claims, and a tail says whether a
 *    record that decodes hides in such spans;
 *  - the CRC of a message from the CRCs of its two parts (spool_crc_zeros);
 *  - records built from the input, damaged once (a changed byte, a cut, or
 *    junk between records), scanned: every record the damage did not touch
 *    comes back, and the damage is reported where it is; none of them
 *    decodes under another key. A changed length field in range moves the
 *    damage to where the new length says;
 *  - records, one of which quotes in its body a record framed with the
 *    right key, then damaged: the CRC, or a cut after the header, and the
 *    quote is not taken (a tail reports it hidden); the length field out
 *    of range, and it is.
 * tests/fuzz/seeds/spool_segment.bin is a segment framed under FUZZ_KEY.
 * Invariants that fail call abort(). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#include "spool_format.h"

/* The key of the seed segment; its seed is 0xd9c908eb. */
static const unsigned char FUZZ_KEY[SPOOL_KEY_LEN] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
};
static uint32_t seed;

/* A copy in an allocation of exactly n bytes, so ASan sees any read past
 * the end. */
static unsigned char *
exact_copy(const void *p, size_t n)
{
	unsigned char *q = malloc(n ? n : 1);

	CHECK(q != NULL);
	if (n)
		memcpy(q, p, n);
	return q;
}

struct mem {
	const unsigned char *p;
	size_t size;
};

static const unsigned char *
mem_get(void *arg, uint64_t off, size_t n)
{
	struct mem *m = arg;

	CHECK(off <= m->size && n <= m->size - off);
	return m->p + off;
}

static int
has_magic(const unsigned char *p, size_t n)
{
	return n >= 4 && memcmp(p, SPOOL_MAGIC, 4) == 0;
}

/* ---- spool_decode at every offset ---------------------------------------- */

static void
check_record(const unsigned char *p, size_t len, const struct spool_rec *r,
    size_t used)
{
	struct buf b = BUF_INIT;
	struct spool_rec again;
	size_t u2;

	CHECK(used >= SPOOL_HDR_LEN + SPOOL_PAYLOAD_MIN && used <= len);
	CHECK(r->body >= p && r->body + r->body_len == p + used);
	CHECK(spool_rec_valid(r));
	CHECK(spool_encoded_len(r) == used);
	spool_encode(&b, r, seed);
	CHECK(b.len == used && memcmp(b.data, p, used) == 0);
	buf_free(&b);
	/* Every shorter cut waits for more. */
	for (size_t k = 0; k < used; k++)
		CHECK(spool_decode(p, k, &again, &u2, seed) == 0);
	CHECK(spool_decode(p, used, &again, &u2, seed) == 1 && u2 == used);
	/* Another seed, another CRC. */
	CHECK(spool_decode(p, used, &again, &u2, seed ^ used) == -1);
}

static void
decode_everywhere(const unsigned char *p, size_t size)
{
	for (size_t i = 0; i < size; i++) {
		const unsigned char *q = p + i;
		size_t len = size - i, used = 0;
		struct spool_rec r;
		int rc = spool_decode(q, len, &r, &used, seed);

		CHECK(rc >= -1 && rc <= 1);
		CHECK(rc == -1 || memcmp(q, SPOOL_MAGIC, len < 4 ? len : 4) == 0);
		if (rc == 1) {
			check_record(q, len, &r, used);
			continue;
		}
		if (rc == 0) {
			/* -1 is final: no shorter cut may be -1. */
			size_t lim = len < 300 ? len : 300;

			for (size_t k = 0; k < lim; k++)
				CHECK(spool_decode(q, k, &r, &used, seed) == 0);
		}
	}
}

/* ---- the scan over the input as a segment -------------------------------- */

/* The first place in [from, to) where a record with a seq above last
 * decodes, the long way; to if none. */
static size_t
next_valid_to(const unsigned char *p, size_t size, size_t from, size_t to,
    uint64_t last)
{
	for (size_t q = from; q < to; q++) {
		struct spool_rec r;
		size_t used;

		if (has_magic(p + q, size - q) &&
		    spool_decode(p + q, size - q, &r, &used, seed) == 1 &&
		    r.seq > last)
			return q;
	}
	return to;
}

static size_t
next_valid(const unsigned char *p, size_t size, size_t from, uint64_t last)
{
	return next_valid_to(p, size, from, size, last);
}

/* 1 and the end it claims (which may lie past size) when a sound header
 * starts at q: the magic and a payload length in range. */
static int
sound_header(const unsigned char *p, size_t size, size_t q, uint64_t *end)
{
	uint32_t plen;

	if (size - q < 8 || !has_magic(p + q, size - q))
		return 0;
	plen = (uint32_t)p[q + 4] | (uint32_t)p[q + 5] << 8 |
	    (uint32_t)p[q + 6] << 16 | (uint32_t)p[q + 7] << 24;
	if (plen < SPOOL_PAYLOAD_MIN || plen > SPOOL_PAYLOAD_MAX)
		return 0;
	*end = (uint64_t)q + SPOOL_HDR_LEN + plen;
	return 1;
}

/* The rules of spool.c, the long way: where the record after the bad
 * bytes at `at` starts (size if none), and whether, for a tail, a record
 * that decodes hides in the spans skipped. */
static size_t
ref_resync(const unsigned char *p, size_t size, size_t at, uint64_t last,
    int *hidden)
{
	size_t q = at, from = size, found = size;
	uint64_t end;

	for (;;) {
		if (!sound_header(p, size, q, &end)) {
			from = q + 1;
			found = next_valid(p, size, from, last);
			break;
		}
		if (end >= size)
			break;
		q = (size_t)end;
		if (next_valid_to(p, size, q, q + 1, last) == q) {
			found = q;
			break;
		}
	}
	*hidden = found == size && from > at + 1 &&
	    next_valid_to(p, size, at + 1, from, last) < from;
	return found;
}

static void
scan_buffer(const unsigned char *p, size_t size, uint64_t last_seq)
{
	struct mem m = { p, size };
	struct spool_scan sc;
	struct spool_scan_item it;
	uint64_t last = last_seq;
	size_t at = 0;
	int prev = -1, rc;

	memset(&sc, 0, sizeof(sc));
	sc.get = mem_get;
	sc.arg = &m;
	sc.size = size;
	sc.last_seq = last_seq;
	sc.seed = seed;
	while ((rc = spool_scan_next(&sc, &it)) != SPOOL_SCAN_END) {
		struct spool_rec r;
		size_t used;

		CHECK(rc == (int)it.kind);
		CHECK(it.off == at && it.len > 0 && it.len <= size - at);
		CHECK(rc == SPOOL_SCAN_TAIL || it.hidden == 0);
		CHECK(prev != SPOOL_SCAN_TAIL);
		if (prev == SPOOL_SCAN_BAD)
			CHECK(rc == SPOOL_SCAN_GOOD && it.seq > last);
		switch (rc) {
		case SPOOL_SCAN_GOOD:
			CHECK(spool_decode(p + at, size - at, &r, &used, seed) == 1);
			CHECK(used == it.len && r.seq == it.seq);
			if (r.seq > last)
				last = r.seq;
			break;
		case SPOOL_SCAN_BAD:
		case SPOOL_SCAN_TAIL: {
			uint64_t end;
			int hidden;

			CHECK(spool_decode(p + at, size - at, &r, &used, seed) != 1);
			CHECK(ref_resync(p, size, at, last, &hidden) == at + it.len);
			CHECK(rc == SPOOL_SCAN_BAD ? at + it.len < size :
			    at + it.len == size);
			CHECK(it.hidden == (rc == SPOOL_SCAN_TAIL && hidden));
			/* Nothing taken inside a sound header's span. */
			if (sound_header(p, size, at, &end))
				CHECK(at + it.len >= end || at + it.len == size);
			break;
		}
		default:
			CHECK(0);
		}
		at += it.len;
		prev = rc;
	}
	CHECK(at == size && it.off == size && sc.last_seq == last);
}

/* ---- records built from the input, damaged once -------------------------- */

struct cursor {
	const uint8_t *p;
	size_t n;
};

/* The next input byte; zeros once it runs out. */
static uint8_t
take(struct cursor *c)
{
	if (c->n == 0)
		return 0;
	c->n--;
	return *c->p++;
}

#define MAX_RECS	6
#define QUOTE		MAX_RECS	/* bt->r[QUOTE]: the quoted record */

struct built {
	struct spool_rec r[MAX_RECS + 1];
	unsigned char body[MAX_RECS + 1][1024];
	size_t off[MAX_RECS + 1];	/* off[n]: the end */
	size_t n;
	int qk;			/* the record whose body holds the quote, or -1 */
	size_t qat, qend;	/* the quote's place in the output */
};

/* Fills r from the input: fields, and a body of up to max_body bytes. */
static void
fill_rec(struct cursor *c, struct spool_rec *r, unsigned char *body,
    size_t max_body)
{
	size_t len;

	memset(r, 0, sizeof(*r));
	r->received_us = (int64_t)((uint64_t)take(c) << 56 | take(c));
	r->supplier_id = (int32_t)((uint32_t)take(c) << 24 | take(c));
	r->ct = take(c);
	len = 1 + take(c) % PROTO_REQUEST_ID_MAX;
	for (size_t k = 0; k < len; k++)
		r->request_id[k] = (char)(0x21 + take(c) % 94);
	len = take(c) % 64;
	for (size_t k = 0; k < len; k++)
		r->supplier_name[k] = (char)(take(c) | 1);
	len = take(c) % 33;
	for (size_t k = 0; k < len; k++)
		r->key_fp[k] = (char)(take(c) | 1);
	len = take(c) * 2u % (max_body + 1);
	for (size_t k = 0; k < len; k++)
		body[k] = take(c);
	r->body = body;
	r->body_len = len;
}

/* Records from the input; when qk >= 0, record qk's body holds a record
 * framed with the right key, quoted: its seq is qk's own (a supplier
 * names the seq its reply told), so the records after it stay above. */
static void
build(struct cursor *c, struct built *bt, struct buf *out, int qk)
{
	uint64_t seq = take(c) % 4;

	bt->n = 1 + take(c) % MAX_RECS;
	bt->qk = qk >= 0 ? (int)((size_t)qk % bt->n) : -1;
	for (size_t i = 0; i < bt->n; i++) {
		struct spool_rec *r = &bt->r[i], again;
		size_t used;

		seq += 1 + take(c) % 3;
		fill_rec(c, r, bt->body[i], 510);
		r->seq = seq;
		if ((int)i == bt->qk) {
			struct spool_rec *q = &bt->r[QUOTE];
			struct buf qb = BUF_INIT;
			size_t split = take(c) % (r->body_len + 1);
			unsigned char *b = bt->body[i];

			fill_rec(c, q, bt->body[QUOTE], 64);
			q->seq = seq;
			spool_encode(&qb, q, seed);
			CHECK(r->body_len + qb.len <= sizeof(bt->body[i]));
			memmove(b + split + qb.len, b + split, r->body_len - split);
			memcpy(b + split, qb.data, qb.len);
			r->body_len += qb.len;
			/* the header, the fields, the body length, then the body */
			bt->qat = out->len + spool_encoded_len(r) - r->body_len +
			    split;
			bt->qend = bt->qat + qb.len;
			buf_free(&qb);
		}
		bt->off[i] = out->len;
		spool_encode(out, r, seed);
		CHECK(spool_decode(out->data + bt->off[i], out->len - bt->off[i],
		    &again, &used, seed ^ (1u << (r->body_len % 32))) == -1);
	}
	bt->off[bt->n] = out->len;
	if (bt->qk >= 0) {
		struct spool_rec q;
		size_t used;

		CHECK(spool_decode(out->data + bt->qat, bt->qend - bt->qat, &q,
		    &used, seed) == 1 && used == bt->qend - bt->qat);
	}
}

struct want {
	int kind;
	size_t off, len;
	int rec;		/* GOOD: which built record, else -1 */
	int hidden;		/* TAIL: it.hidden */
};

/* The scan of p must give exactly w[0..nw). */
static void
scan_expect(const unsigned char *p, size_t size, const struct built *bt,
    const struct want *w, size_t nw)
{
	unsigned char *copy = exact_copy(p, size);
	struct mem m = { copy, size };
	struct spool_scan sc;
	struct spool_scan_item it;

	memset(&sc, 0, sizeof(sc));
	sc.get = mem_get;
	sc.arg = &m;
	sc.size = size;
	sc.seed = seed;
	for (size_t i = 0; i <= nw; i++) {
		int rc = spool_scan_next(&sc, &it);

		if (i == nw) {
			CHECK(rc == SPOOL_SCAN_END);
			break;
		}
		CHECK(rc == w[i].kind && it.off == w[i].off && it.len == w[i].len);
		CHECK(it.hidden == w[i].hidden);
		if (rc == SPOOL_SCAN_GOOD) {
			const struct spool_rec *a = &bt->r[w[i].rec];
			struct spool_rec r;
			size_t used;

			CHECK(spool_decode(copy + it.off, it.len, &r, &used,
			    seed) == 1);
			CHECK(r.seq == a->seq && it.seq == a->seq);
			CHECK(r.received_us == a->received_us);
			CHECK(r.supplier_id == a->supplier_id && r.ct == a->ct);
			CHECK(strcmp(r.request_id, a->request_id) == 0);
			CHECK(strcmp(r.supplier_name, a->supplier_name) == 0);
			CHECK(strcmp(r.key_fp, a->key_fp) == 0);
			CHECK(r.body_len == a->body_len);
			CHECK(memcmp(r.body, a->body, r.body_len) == 0);
		}
	}
	free(copy);
}

/* 1 when the magic appears in p only at the given places. */
static int
magic_only_at(const unsigned char *p, size_t size, const size_t *at, size_t n)
{
	for (size_t q = 0; q + 4 <= size; q++) {
		int ok = 0;

		if (memcmp(p + q, SPOOL_MAGIC, 4) != 0)
			continue;
		for (size_t i = 0; i < n; i++)
			ok |= at[i] == q;
		if (!ok)
			return 0;
	}
	return 1;
}

/* The items when record k is bad and the next record is looked for from
 * where the bad bytes may end, as the scan does with no magic but at the
 * records' starts: a sound header's claimed end `end` (0: none, or a
 * length out of range: byte by byte from off[k] + 1). Records before k
 * are good. */
static size_t
want_bad(const struct built *bt, size_t k, uint64_t end, size_t total,
    struct want *w)
{
	size_t nw = 0, j, from;
	int hidden = 0;

	for (size_t i = 0; i < k; i++)
		w[nw++] = (struct want){ SPOOL_SCAN_GOOD, bt->off[i],
		    bt->off[i + 1] - bt->off[i], (int)i, 0 };
	if (end >= total) {
		/* All the rest is tail; the records after k hide in it. */
		j = bt->n;
		hidden = k + 1 < bt->n;
	} else if (end != 0) {
		/* A record starts there, or no magic: byte by byte after it. */
		for (j = k + 1; j < bt->n && bt->off[j] < end; j++)
			;
		from = bt->off[j] == end ? end : (size_t)end + 1;
		for (; j < bt->n && bt->off[j] < from; j++)
			;
		hidden = j == bt->n && k + 1 < bt->n && bt->off[k + 1] < from;
	} else {
		j = k + 1;
	}
	w[nw++] = (struct want){ j < bt->n ? SPOOL_SCAN_BAD : SPOOL_SCAN_TAIL,
	    bt->off[k], bt->off[j] - bt->off[k], -1, j < bt->n ? 0 : hidden };
	for (size_t i = j; i < bt->n; i++)
		w[nw++] = (struct want){ SPOOL_SCAN_GOOD, bt->off[i],
		    bt->off[i + 1] - bt->off[i], (int)i, 0 };
	return nw;
}

static uint32_t
plen_at(const unsigned char *p)
{
	return (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
	    (uint32_t)p[7] << 24;
}

static void
damage_and_scan(struct cursor *c)
{
	static struct built bt;
	struct want w[MAX_RECS + 4];
	size_t magics[MAX_RECS + 1];
	struct buf b = BUF_INIT;
	size_t nw = 0, total, pos, k, nm;
	int op = take(c) % 5;

	build(c, &bt, &b, op == 4 ? take(c) : -1);
	total = b.len;
	pos = ((size_t)take(c) << 8 | take(c)) % total;
	for (k = 0; k + 1 < bt.n && bt.off[k + 1] <= pos; k++)
		;			/* record k holds pos */
	switch (op) {
	case 0:			/* none */
		for (size_t i = 0; i < bt.n; i++)
			w[nw++] = (struct want){ SPOOL_SCAN_GOOD, bt.off[i],
			    bt.off[i + 1] - bt.off[i], (int)i, 0 };
		break;
	case 1: {		/* one byte changed */
		unsigned char *h = b.data + bt.off[k];
		struct spool_rec r;
		size_t used;
		uint64_t end = 0;

		b.data[pos] ^= (unsigned char)(1 + take(c) % 255);
		/* A changed length can, rarely, meet its CRC. */
		if (spool_decode(h, total - bt.off[k], &r, &used, seed) == 1)
			goto out;
		/* Where the header, if sound, says the record ends: a
		 * changed length field moves it. */
		if (memcmp(h, SPOOL_MAGIC, 4) == 0 &&
		    plen_at(h) >= SPOOL_PAYLOAD_MIN &&
		    plen_at(h) <= SPOOL_PAYLOAD_MAX)
			end = bt.off[k] + SPOOL_HDR_LEN + plen_at(h);
		nw = want_bad(&bt, k, end, total, w);
		break;
	}
	case 2:			/* cut at pos */
		b.len = pos;
		for (size_t i = 0; i < k; i++)
			w[nw++] = (struct want){ SPOOL_SCAN_GOOD, bt.off[i],
			    bt.off[i + 1] - bt.off[i], (int)i, 0 };
		if (pos > bt.off[k])
			w[nw++] = (struct want){ SPOOL_SCAN_TAIL, bt.off[k],
			    pos - bt.off[k], -1, 0 };
		break;
	case 3: {		/* junk before record j (after all when j == n) */
		size_t j = take(c) % (bt.n + 1), n = 1 + take(c) % 16;
		unsigned char junk[16];
		struct buf nb = BUF_INIT;

		for (size_t i = 0; i < n; i++)
			junk[i] = take(c);
		buf_append(&nb, b.data, bt.off[j]);
		buf_append(&nb, junk, n);
		buf_append(&nb, b.data + bt.off[j], total - bt.off[j]);
		buf_free(&b);
		b = nb;
		for (size_t i = 0; i <= bt.n; i++) {
			if (i == j)
				w[nw++] = (struct want){ j < bt.n ?
				    SPOOL_SCAN_BAD : SPOOL_SCAN_TAIL, bt.off[j],
				    n, -1, 0 };
			if (i < bt.n)
				w[nw++] = (struct want){ SPOOL_SCAN_GOOD,
				    bt.off[i] + (i >= j ? n : 0),
				    bt.off[i + 1] - bt.off[i], (int)i, 0 };
		}
		/* The magic is expected at the records' new places. */
		for (size_t i = j; i <= bt.n; i++)
			bt.off[i] += n;
		break;
	}
	case 4: {		/* record qk, which quotes one, damaged */
		size_t qk = (size_t)bt.qk, sub = take(c) % 3;
		unsigned char *h = b.data + bt.off[qk];

		for (size_t i = 0; i < qk; i++)
			w[nw++] = (struct want){ SPOOL_SCAN_GOOD, bt.off[i],
			    bt.off[i + 1] - bt.off[i], (int)i, 0 };
		if (sub == 0) {
			/* The CRC: the header is sound, the scan goes to its
			 * end; a tail if qk is the last, the quote hidden. */
			h[8 + take(c) % 4] ^= (unsigned char)(1 + take(c) % 255);
			nw = want_bad(&bt, qk, bt.off[qk + 1], total, w);
			if (qk + 1 == bt.n)
				w[nw - 1].hidden = 1;
			break;
		}
		if (sub == 1) {
			/* Cut after the header: a tail, the quote hidden if
			 * it is whole. */
			size_t span = bt.off[qk + 1] - bt.off[qk] - 8;

			pos = bt.off[qk] + 8 + ((size_t)take(c) << 8 | take(c)) %
			    span;
			b.len = pos;
			w[nw++] = (struct want){ SPOOL_SCAN_TAIL, bt.off[qk],
			    pos - bt.off[qk], -1, pos >= bt.qend };
			bt.n = qk + 1;	/* the quote's magic may be gone */
			break;
		}
		/* The length out of range: byte by byte, and the quote is
		 * taken (with the right key, it cannot be told from a
		 * record), then the rest of the body is bad bytes. */
		h[7] |= 0x80;
		w[nw++] = (struct want){ SPOOL_SCAN_BAD, bt.off[qk],
		    bt.qat - bt.off[qk], -1, 0 };
		w[nw++] = (struct want){ SPOOL_SCAN_GOOD, bt.qat,
		    bt.qend - bt.qat, QUOTE, 0 };
		if (bt.qend < bt.off[qk + 1])
			w[nw++] = (struct want){ qk + 1 < bt.n ? SPOOL_SCAN_BAD :
			    SPOOL_SCAN_TAIL, bt.qend, bt.off[qk + 1] - bt.qend,
			    -1, 0 };
		for (size_t i = qk + 1; i < bt.n; i++)
			w[nw++] = (struct want){ SPOOL_SCAN_GOOD, bt.off[i],
			    bt.off[i + 1] - bt.off[i], (int)i, 0 };
		break;
	}
	}
	/* Bodies and names can hold the magic, and a record quoted in a body
	 * is taken for one where the scan looks past bad bytes: the exact
	 * outcome is only known without such quotes, but the one built. */
	nm = 0;
	for (size_t i = 0; i < bt.n; i++)
		magics[nm++] = bt.off[i];
	if (op == 4 && bt.qat + 4 <= b.len)
		magics[nm++] = bt.qat;
	if (!magic_only_at(b.data, b.len, magics, nm))
		goto out;
	scan_expect(b.data, b.len, &bt, w, nw);
out:
	buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *p = exact_copy(data, size);
	struct cursor c = { data, size };
	uint64_t last = 0;

	if (seed == 0)
		seed = spool_key_seed(FUZZ_KEY);
	decode_everywhere(p, size);
	scan_buffer(p, size, 0);
	/* Again with a seq floor from the input, for the resync rule. */
	for (size_t i = 0; i < 2 && i < size; i++)
		last = last << 8 | data[i];
	scan_buffer(p, size, last % 16);
	if (size > 0) {
		size_t k = data[0] % (size + 1);

		CHECK(spool_crc32c(spool_crc32c(0, p, k), p + k, size - k) ==
		    spool_crc32c(0, p, size));
		/* What the resync does: a range's CRC from the registers at
		 * its ends. */
		CHECK(spool_crc_raw(0, p, size) == (spool_crc_zeros(spool_crc_raw(0, p, k),
		    size - k) ^ spool_crc_raw(0, p + k, size - k)));
		CHECK(spool_crc_raw(0, p + k, size - k) == (spool_crc_raw(0, p, size) ^
		    spool_crc_zeros(spool_crc_raw(0, p, k), size - k)));
	}
	free(p);
	damage_and_scan(&c);
	return 0;
}
