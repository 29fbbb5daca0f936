/* fuzz_spool.c - libFuzzer harness for the spool's framing and recovery
 * scan (daemon/spool.c), all under the key FUZZ_KEY:
 *  - spool_decode at every offset of the input: a record that decodes is
 *    valid, encodes back to the same bytes, is 0 at every shorter cut and
 *    -1 under another key; -1 never turns into 0 or 1 with more bytes;
 *  - the recovery scan over the input as a segment: its items tile the
 *    input, good ones decode there, and bad bytes end at the first record
 *    with a seq above those before it (found the long way: spool_decode at
 *    every place, against the scan's CRCs of ranges), or run to the end;
 *  - the CRC of a message from the CRCs of its two parts (crc_zeros);
 *  - records built from the input, damaged once (a changed byte, a cut, or
 *    junk between records), scanned: every record the damage did not touch
 *    comes back, and the damage is reported where it is; none of them
 *    decodes under another key.
 * tests/fuzz/seeds/spool_segment.bin is a segment framed under FUZZ_KEY.
 * Invariants that fail call abort(). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The Makefile's fuzz rule compiles the common sources and names the
 * daemon files it needs; spool.c is brought in here so that the rule can
 * stay as it is. Should the rule ever list daemon/spool.c, include
 * spool.h instead. */
#include "spool.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The key of the seed segment; its seed is 0xd9c908eb. */
static const unsigned char FUZZ_KEY[SPOOL_KEY_LEN] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
};
static uint32_t seed;

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

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

/* The first place in [from, size) where a record with a seq above last
 * decodes, the long way; size if none. */
static size_t
next_valid(const unsigned char *p, size_t size, size_t from, uint64_t last)
{
	for (size_t q = from; q < size; q++) {
		struct spool_rec r;
		size_t used;

		if (has_magic(p + q, size - q) &&
		    spool_decode(p + q, size - q, &r, &used, seed) == 1 &&
		    r.seq > last)
			return q;
	}
	return size;
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
			CHECK(spool_decode(p + at, size - at, &r, &used, seed) != 1);
			CHECK(next_valid(p, size, at + 1, last) == at + it.len);
			break;
		case SPOOL_SCAN_TAIL:
			CHECK(spool_decode(p + at, size - at, &r, &used, seed) != 1);
			CHECK(at + it.len == size);
			CHECK(next_valid(p, size, at + 1, last) == size);
			break;
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

struct built {
	struct spool_rec r[MAX_RECS];
	unsigned char body[MAX_RECS][512];
	size_t off[MAX_RECS + 1];	/* off[n]: the end */
	size_t n;
};

static void
build(struct cursor *c, struct built *bt, struct buf *out)
{
	uint64_t seq = take(c) % 4;

	bt->n = 1 + take(c) % MAX_RECS;
	for (size_t i = 0; i < bt->n; i++) {
		struct spool_rec *r = &bt->r[i], again;
		size_t len, used;

		memset(r, 0, sizeof(*r));
		seq += 1 + take(c) % 3;
		r->seq = seq;
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
		len = take(c) * 2u;
		for (size_t k = 0; k < len; k++)
			bt->body[i][k] = take(c);
		r->body = bt->body[i];
		r->body_len = len;
		bt->off[i] = out->len;
		spool_encode(out, r, seed);
		CHECK(spool_decode(out->data + bt->off[i], out->len - bt->off[i],
		    &again, &used, seed ^ (1u << (len % 32))) == -1);
	}
	bt->off[bt->n] = out->len;
}

struct want {
	int kind;
	size_t off, len;
	int rec;		/* GOOD: which built record, else -1 */
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

static void
damage_and_scan(struct cursor *c)
{
	static struct built bt;
	struct want w[MAX_RECS + 2];
	struct buf b = BUF_INIT;
	size_t nw = 0, total, pos, k;
	int op;

	build(c, &bt, &b);
	total = b.len;
	op = take(c) % 4;
	pos = ((size_t)take(c) << 8 | take(c)) % total;
	for (k = 0; k + 1 < bt.n && bt.off[k + 1] <= pos; k++)
		;			/* record k holds pos */
	switch (op) {
	case 0:			/* none */
		for (size_t i = 0; i < bt.n; i++)
			w[nw++] = (struct want){ SPOOL_SCAN_GOOD, bt.off[i],
			    bt.off[i + 1] - bt.off[i], (int)i };
		break;
	case 1: {		/* one byte changed */
		struct spool_rec r;
		size_t used;

		b.data[pos] ^= (unsigned char)(1 + take(c) % 255);
		/* A changed length can, rarely, meet its CRC. */
		if (spool_decode(b.data + bt.off[k], total - bt.off[k], &r,
		    &used, seed) == 1)
			goto out;
		for (size_t i = 0; i < bt.n; i++)
			w[nw++] = (struct want){ i != k ? SPOOL_SCAN_GOOD :
			    i + 1 < bt.n ? SPOOL_SCAN_BAD : SPOOL_SCAN_TAIL,
			    bt.off[i], bt.off[i + 1] - bt.off[i],
			    i != k ? (int)i : -1 };
		break;
	}
	case 2:			/* cut at pos */
		b.len = pos;
		for (size_t i = 0; i < k; i++)
			w[nw++] = (struct want){ SPOOL_SCAN_GOOD, bt.off[i],
			    bt.off[i + 1] - bt.off[i], (int)i };
		if (pos > bt.off[k])
			w[nw++] = (struct want){ SPOOL_SCAN_TAIL, bt.off[k],
			    pos - bt.off[k], -1 };
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
				    n, -1 };
			if (i < bt.n)
				w[nw++] = (struct want){ SPOOL_SCAN_GOOD,
				    bt.off[i] + (i >= j ? n : 0),
				    bt.off[i + 1] - bt.off[i], (int)i };
		}
		/* The magic is expected at the records' new places. */
		for (size_t i = j; i <= bt.n; i++)
			bt.off[i] += n;
		break;
	}
	}
	/* Bodies and names can hold the magic, and a record quoted in a body
	 * is taken for one where the scan looks past bad bytes: the exact
	 * outcome is only known without such quotes. */
	if (!magic_only_at(b.data, b.len, bt.off, bt.n))
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
		CHECK(crc_raw(0, p, size) == (crc_zeros(crc_raw(0, p, k),
		    size - k) ^ crc_raw(0, p + k, size - k)));
		CHECK(crc_raw(0, p + k, size - k) == (crc_raw(0, p, size) ^
		    crc_zeros(crc_raw(0, p, k), size - k)));
	}
	free(p);
	damage_and_scan(&c);
	return 0;
}
