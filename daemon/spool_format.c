/* spool_format.c - the pure part of the spool (spool.c has the files): the
 * CRC-32C, the record framing, and the recovery scan with its resync, over
 * any byte source. The unit test and the fuzzer link this file alone. The
 * format itself is described at the top of spool.c. */
#include "spool_format.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

#define FIXED_LEN	21		/* seq, received_us, supplier_id, ct */
#define NAME_MAX_LEN	63
#define FP_MAX_LEN	32

/* ---- CRC-32C -------------------------------------------------------------
 * None of our libraries (libcrypto, libsodium, libzmq, libpq, json-c)
 * offers CRC-32C, so here it is, one table lookup per byte: plenty for a
 * spool that only fills while the database is away. Reflected polynomial
 * 0x82f63b78; the check value of "123456789" is 0xe3069283.
 *
 * spool_crc_raw is the register without the inversions at both ends: with
 * U(c, M) = spool_crc_raw(c, M), spool_crc32c(c, M) = ~U(~c, M). U is linear:
 * U(c, M) = Z_n(c) ^ U(0, M) for n = |M|, where Z_n(c) = U(c, n zero
 * bytes) multiplies c by x^8n modulo the polynomial (spool_crc_zeros, as zlib's
 * crc32_combine). The resync uses it to get the CRC of any range from the
 * registers at its two ends. */

#define CRC_POLY	0x82f63b78u

static uint32_t crc_table[256];
static uint32_t x2n_table[64];	/* x^(2^k) modulo the polynomial */
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

/* a * b modulo the polynomial; bit 31 is the coefficient of x^0. */
static uint32_t
gf2_mul(uint32_t a, uint32_t b)
{
	uint32_t p = 0;

	for (int i = 0; i < 32; i++) {
		if (a & (UINT32_C(0x80000000) >> i))
			p ^= b;
		b = b & 1 ? (b >> 1) ^ CRC_POLY : b >> 1;
	}
	return p;
}

static void
crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ CRC_POLY : c >> 1;
		crc_table[i] = c;
	}
	x2n_table[0] = UINT32_C(1) << 30;	/* x^1 */
	for (int k = 1; k < 64; k++)
		x2n_table[k] = gf2_mul(x2n_table[k - 1], x2n_table[k - 1]);
}

uint32_t
spool_crc_raw(uint32_t reg, const unsigned char *p, size_t n)
{
	pthread_once(&crc_once, crc_init);
	while (n--)
		reg = crc_table[(reg ^ *p++) & 0xff] ^ (reg >> 8);
	return reg;
}

/* Z_n(reg): the register after n zero bytes, n < 2^60. */
uint32_t
spool_crc_zeros(uint32_t reg, uint64_t n)
{
	uint32_t x = UINT32_C(0x80000000);	/* x^0 */

	pthread_once(&crc_once, crc_init);
	for (int k = 3; n != 0; n >>= 1, k++)
		if (n & 1)
			x = gf2_mul(x2n_table[k], x);
	return gf2_mul(x, reg);
}

uint32_t
spool_crc32c(uint32_t crc, const void *p, size_t n)
{
	return ~spool_crc_raw(~crc, p, n);
}

uint32_t
spool_key_seed(const unsigned char key[SPOOL_KEY_LEN])
{
	return spool_crc32c(0, key, SPOOL_KEY_LEN);
}

/* ---- framing ------------------------------------------------------------- */

static void
put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void
put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t
get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
get_le64(const unsigned char *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

uint32_t
spool_payload_len(const unsigned char *hdr)
{
	return get_le32(hdr + 4);
}

int
spool_rec_valid(const struct spool_rec *r)
{
	size_t rid = strnlen(r->request_id, sizeof(r->request_id));
	size_t name = strnlen(r->supplier_name, sizeof(r->supplier_name));
	size_t fp = strnlen(r->key_fp, sizeof(r->key_fp));

	if (rid == sizeof(r->request_id) || name == sizeof(r->supplier_name) ||
	    fp == sizeof(r->key_fp))
		return 0;
	if (!proto_request_id_valid(r->request_id, rid))
		return 0;
	if (r->body_len > SPOOL_PAYLOAD_MAX - (FIXED_LEN + 3 + rid + name + fp + 4))
		return 0;
	return r->body != NULL || r->body_len == 0;
}

size_t
spool_encoded_len(const struct spool_rec *r)
{
	return SPOOL_HDR_LEN + FIXED_LEN + 1 + strlen(r->request_id) + 1 +
	    strlen(r->supplier_name) + 1 + strlen(r->key_fp) + 4 + r->body_len;
}

static unsigned char *
put_str(unsigned char *q, const char *s)
{
	size_t n = strlen(s);

	*q++ = (unsigned char)n;
	memcpy(q, s, n);
	return q + n;
}

void
spool_encode(struct buf *out, const struct spool_rec *r, uint32_t seed)
{
	size_t len, plen;
	unsigned char *p, *q;
	uint32_t crc;

	if (!spool_rec_valid(r))
		fatalx("spool_encode: record %s cannot be framed", r->request_id);
	len = spool_encoded_len(r);
	plen = len - SPOOL_HDR_LEN;
	buf_reserve(out, len);
	p = out->data + out->len;
	memcpy(p, SPOOL_MAGIC, 4);
	put_le32(p + 4, (uint32_t)plen);
	q = p + SPOOL_HDR_LEN;
	put_le64(q, r->seq);
	put_le64(q + 8, (uint64_t)r->received_us);
	put_le32(q + 16, (uint32_t)r->supplier_id);
	q[20] = r->ct;
	q = put_str(q + FIXED_LEN, r->request_id);
	q = put_str(q, r->supplier_name);
	q = put_str(q, r->key_fp);
	put_le32(q, (uint32_t)r->body_len);
	if (r->body_len)
		memcpy(q + 4, r->body, r->body_len);
	crc = spool_crc32c(seed, p + 4, 4);
	crc = spool_crc32c(crc, p + SPOOL_HDR_LEN, plen);
	put_le32(p + 8, crc);
	out->len += len;
}

/* spool_decode, which also reports the body length (*blen) as soon as the
 * bytes get that far, so a reader can weigh a record before reading all
 * of it. Every check is made as far as the bytes go, so a prefix that can
 * no longer become a record is -1 at once, and stays -1. */
int
spool_frame_check(const unsigned char *p, size_t len, struct spool_rec *r,
    size_t *used, uint32_t *blen, uint32_t seed)
{
	static const size_t fmax[3] = { PROTO_REQUEST_ID_MAX, NAME_MAX_LEN,
		FP_MAX_LEN };
	size_t flen[3], foff[3], end, avail, off;
	uint32_t plen, bl, crc;

	if (len == 0)
		return 0;
	if (memcmp(p, SPOOL_MAGIC, len < 4 ? len : 4) != 0)
		return -1;
	if (len < 8)
		return 0;
	plen = get_le32(p + 4);
	if (plen < SPOOL_PAYLOAD_MIN || plen > SPOOL_PAYLOAD_MAX)
		return -1;
	end = SPOOL_HDR_LEN + (size_t)plen;
	avail = len < end ? len : end;
	off = SPOOL_HDR_LEN + FIXED_LEN;
	for (int i = 0; i < 3; i++) {
		/* After this field: the other length bytes, the body length. */
		size_t rest = (size_t)(2 - i) + 4;

		if (avail <= off)
			return 0;
		flen[i] = p[off];
		foff[i] = off + 1;
		if ((i == 0 && flen[i] == 0) || flen[i] > fmax[i] ||
		    foff[i] + flen[i] + rest > end)
			return -1;
		for (size_t k = foff[i]; k < foff[i] + flen[i] && k < avail; k++)
			if (i == 0 ? p[k] < 0x21 || p[k] > 0x7e : p[k] == 0)
				return -1;
		off = foff[i] + flen[i];
	}
	if (avail < off + 4)
		return 0;
	bl = get_le32(p + off);
	if (bl != end - off - 4)
		return -1;
	if (blen)
		*blen = bl;
	off += 4;
	if (len < end)
		return 0;
	crc = spool_crc32c(seed, p + 4, 4);
	crc = spool_crc32c(crc, p + SPOOL_HDR_LEN, plen);
	if (crc != get_le32(p + 8))
		return -1;
	if (r) {
		const unsigned char *q = p + SPOOL_HDR_LEN;

		r->seq = get_le64(q);
		r->received_us = (int64_t)get_le64(q + 8);
		r->supplier_id = (int32_t)get_le32(q + 16);
		r->ct = q[20];
		memcpy(r->request_id, p + foff[0], flen[0]);
		r->request_id[flen[0]] = '\0';
		memcpy(r->supplier_name, p + foff[1], flen[1]);
		r->supplier_name[flen[1]] = '\0';
		memcpy(r->key_fp, p + foff[2], flen[2]);
		r->key_fp[flen[2]] = '\0';
		r->body = p + off;
		r->body_len = bl;
	}
	if (used)
		*used = end;
	return 1;
}

int
spool_decode(const unsigned char *p, size_t len, struct spool_rec *r,
    size_t *used, uint32_t seed)
{
	return spool_frame_check(p, len, r, used, NULL, seed);
}

/* ---- recovery scan ------------------------------------------------------- */

/* spool_decode at off, reading no more than the record. Returns as
 * spool_decode, or -2 when get failed. */
static int
scan_decode(struct spool_scan *sc, uint64_t off, struct spool_rec *r,
    size_t *used)
{
	uint64_t avail = sc->size - off;
	size_t n = avail < SPOOL_PREFIX_MAX ? (size_t)avail : SPOOL_PREFIX_MAX;
	const unsigned char *p;
	size_t rlen;
	int rc;

	if ((p = sc->get(sc->arg, off, n)) == NULL)
		return -2;
	rc = spool_decode(p, n, r, used, sc->seed);
	if (rc != 0 || n == avail)
		return rc;
	/* Sound so far with SPOOL_PREFIX_MAX bytes: the length is sane. */
	rlen = SPOOL_HDR_LEN + (size_t)get_le32(p + 4);
	if (rlen > avail)
		return 0;
	if ((p = sc->get(sc->arg, off, rlen)) == NULL)
		return -2;
	return spool_decode(p, rlen, r, used, sc->seed);
}

/* Sets *at to the first place q in [from, end) where the magic starts
 * (q + 4 <= size), or to end if there is none. The chunks read grow from
 * small, so that magics close together cost little each. */
static int
scan_find_magic(struct spool_scan *sc, uint64_t from, uint64_t end,
    uint64_t *at)
{
	uint64_t lim = sc->size < 4 ? 0 : sc->size - 3;	/* places q */
	size_t chunk = 256;

	if (lim > end)
		lim = end;
	while (from < lim) {
		size_t n = lim - from < chunk ? (size_t)(lim - from) : chunk;
		/* n places need n + 3 bytes: from + n + 3 <= size */
		const unsigned char *p = sc->get(sc->arg, from, n + 3);
		const unsigned char *m;

		if (p == NULL)
			return -1;
		if ((m = memmem(p, n + 3, SPOOL_MAGIC, 4)) != NULL) {
			*at = from + (uint64_t)(m - p);
			return 0;
		}
		from += n;
		if (chunk < SPOOL_SCAN_CHUNK)
			chunk *= 2;
	}
	*at = end;
	return 0;
}

/* Whether a sound header starts at off: the magic and a payload length in
 * range. Returns 1 and sets *end to the end of the span it claims, which
 * may lie past size; 0 if there is none (a magic or length damaged, fewer
 * than 8 bytes); -1 when get failed. */
static int
scan_claim(struct spool_scan *sc, uint64_t off, uint64_t *end)
{
	const unsigned char *p;
	uint32_t plen;

	if (sc->size - off < 8)
		return 0;
	if ((p = sc->get(sc->arg, off, 8)) == NULL)
		return -1;
	if (memcmp(p, SPOOL_MAGIC, 4) != 0)
		return 0;
	plen = get_le32(p + 4);
	if (plen < SPOOL_PAYLOAD_MIN || plen > SPOOL_PAYLOAD_MAX)
		return 0;
	*end = off + SPOOL_HDR_LEN + plen;
	return 1;
}

/* ---- resync: the CRCs of all the places tried, in one pass ---------------
 * A body may hold a magic every few bytes, each with a sound header whose
 * length runs to the body's end. Running the CRC over each would cost
 * their number times their length: quadratic. Instead the resync keeps the
 * register U(0, bytes [base, x)) (see CRC-32C) at every x = base + i *
 * RESYNC_STEP it has reached, and gets a record's CRC from the registers at
 * the start and the end of its payload and one spool_crc_zeros: the bytes go
 * through the CRC once, and each place costs at most 2 * RESYNC_STEP table
 * steps and a few hundred more. */

#define RESYNC_STEP	256

struct resync {
	struct spool_scan *sc;
	uint64_t base;		/* where the resync started */
	uint32_t *reg;		/* reg[i]: U(0, [base, base + i * RESYNC_STEP)) */
	size_t n, cap;
};

/* Sets *out to U(0, [base, at)), base <= at <= size. Returns -1 when get
 * failed. */
static int
resync_reg(struct resync *rs, uint64_t at, uint32_t *out)
{
	struct spool_scan *sc = rs->sc;
	size_t i = (size_t)((at - rs->base) / RESYNC_STEP), rest;
	const unsigned char *p;

	if (rs->n == 0) {
		rs->cap = 64;
		rs->reg = xmalloc(rs->cap * sizeof(*rs->reg));
		rs->reg[rs->n++] = 0;
	}
	while (rs->n <= i) {
		/* Up to base + i * RESYNC_STEP <= at, a chunk at a time. */
		uint64_t from = rs->base + (uint64_t)(rs->n - 1) * RESYNC_STEP;
		size_t steps = i + 1 - rs->n;

		if (steps > SPOOL_SCAN_CHUNK / RESYNC_STEP)
			steps = SPOOL_SCAN_CHUNK / RESYNC_STEP;
		if ((p = sc->get(sc->arg, from, steps * RESYNC_STEP)) == NULL)
			return -1;
		if (rs->n + steps > rs->cap) {
			while (rs->n + steps > rs->cap)
				rs->cap *= 2;
			rs->reg = xrealloc(rs->reg, rs->cap * sizeof(*rs->reg));
		}
		for (size_t k = 0; k < steps; k++, rs->n++)
			rs->reg[rs->n] = spool_crc_raw(rs->reg[rs->n - 1],
			    p + k * RESYNC_STEP, RESYNC_STEP);
	}
	rest = (size_t)(at - rs->base - (uint64_t)i * RESYNC_STEP);
	if (rest == 0) {
		*out = rs->reg[i];
		return 0;
	}
	if ((p = sc->get(sc->arg, at - rest, rest)) == NULL)
		return -1;
	*out = spool_crc_raw(rs->reg[i], p, rest);
	return 0;
}

/* Whether a record with a seq above sc->last_seq starts at q (>= base):
 * 1 or 0; -1 when get failed. */
static int
resync_try(struct resync *rs, uint64_t q)
{
	struct spool_scan *sc = rs->sc;
	uint64_t avail = sc->size - q;
	size_t n = avail < SPOOL_PREFIX_MAX ? (size_t)avail : SPOOL_PREFIX_MAX;
	const unsigned char *p;
	unsigned char lenb[4];
	struct spool_rec r;
	size_t used;
	uint32_t plen, want, start, end, reg;
	int rc;

	if ((p = sc->get(sc->arg, q, n)) == NULL)
		return -1;
	rc = spool_decode(p, n, &r, &used, sc->seed);
	if (rc == 1)
		return r.seq > sc->last_seq;
	if (rc < 0 || n == avail)
		return 0;
	/* Sound up to the body (SPOOL_PREFIX_MAX reaches it): only the
	 * body's bytes and the CRC are left to check. */
	plen = get_le32(p + 4);
	if (SPOOL_HDR_LEN + (uint64_t)plen > avail)
		return 0;		/* runs past the end: torn */
	if (get_le64(p + SPOOL_HDR_LEN) <= sc->last_seq)
		return 0;
	memcpy(lenb, p + 4, 4);		/* p is gone at the next get */
	want = get_le32(p + 8);
	if (resync_reg(rs, q + SPOOL_HDR_LEN, &start) < 0 ||
	    resync_reg(rs, q + SPOOL_HDR_LEN + plen, &end) < 0)
		return -1;
	/* U(U(~seed, length), payload), payload = [q + 12, q + 12 + plen) */
	reg = spool_crc_raw(~sc->seed, lenb, 4);
	return ~(spool_crc_zeros(reg ^ start, plen) ^ end) == want;
}

/* Sets *at to the first place in [from, to) where a record with a seq
 * above sc->last_seq starts, or to to. from >= rs->base. */
static int
resync_first(struct resync *rs, uint64_t from, uint64_t to, uint64_t *at)
{
	uint64_t q;
	int rc;

	for (q = from; q < to; q++) {
		if (scan_find_magic(rs->sc, q, to, &q) < 0)
			return -1;
		if (q >= to)
			break;
		if ((rc = resync_try(rs, q)) < 0)
			return -1;
		if (rc == 1) {
			*at = q;
			return 0;
		}
	}
	*at = to;
	return 0;
}

int
spool_scan_next(struct spool_scan *sc, struct spool_scan_item *it)
{
	struct resync rs;
	struct spool_rec r;
	size_t used;
	uint64_t q, end, at, from, hid;
	int rc;

	memset(it, 0, sizeof(*it));
	it->off = sc->off;
	if (sc->off >= sc->size)
		return it->kind = SPOOL_SCAN_END;
	if ((rc = scan_decode(sc, sc->off, &r, &used)) == -2)
		return -1;
	if (rc == 1) {
		it->kind = SPOOL_SCAN_GOOD;
		it->len = used;
		it->seq = r.seq;
		if (r.seq > sc->last_seq)
			sc->last_seq = r.seq;
		sc->off += used;
		return it->kind;
	}
	/* Not a record: the next one that is, if any, ends the bad bytes.
	 * Sound headers are skipped over whole (the top comment says why);
	 * from the first place without one, the search goes byte by byte.
	 * at: where the next record starts, or size; from: where the byte by
	 * byte search started, or size. */
	memset(&rs, 0, sizeof(rs));
	rs.sc = sc;
	rs.base = sc->off + 1;
	at = from = sc->size;
	for (q = sc->off;;) {
		if ((rc = scan_claim(sc, q, &end)) < 0)
			goto ioerr;
		if (rc == 0) {
			from = q + 1;
			if (resync_first(&rs, from, sc->size, &at) < 0)
				goto ioerr;
			break;
		}
		if (end >= sc->size)
			break;		/* the rest is the tail */
		q = end;
		if ((rc = resync_try(&rs, q)) < 0)
			goto ioerr;
		if (rc == 1) {
			at = q;
			break;
		}
	}
	if (at == sc->size && from > rs.base) {
		/* Is a record hidden in the spans skipped? Not taken, but the
		 * caller keeps a copy of such a tail. */
		if (resync_first(&rs, rs.base, from, &hid) < 0)
			goto ioerr;
		it->hidden = hid < from;
	}
	free(rs.reg);
	it->kind = at < sc->size ? SPOOL_SCAN_BAD : SPOOL_SCAN_TAIL;
	it->len = at - sc->off;
	sc->off = at;
	return it->kind;
ioerr:
	free(rs.reg);
	return -1;
}
