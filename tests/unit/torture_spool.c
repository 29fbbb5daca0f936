/* torture_spool.c - the durable spool (daemon/spool.c): CRC-32C against the
 * RFC 3720 vectors, the record framing (round trips, every prefix, every
 * byte changed, another key), and the files in a temporary directory: the
 * key file, append, replay, commit, the bound, rollover, reopen, torn
 * tails, damaged records (a damaged length field among them), records
 * forged inside a body, a resync over a body full of magics, a failed
 * write, and appends from several threads during replay. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "buf.h"
#include "log.h"
#include "spool.h"

#define FP	"0123456789abcdef0123456789abcdef"

/* The framing tests' key, and its seed (set in main). */
static const unsigned char test_key[SPOOL_KEY_LEN] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
};
static uint32_t seed;

/* ---- helpers ------------------------------------------------------------- */

struct fixture {
	char root[64];		/* mkdtemp */
	char dir[96];		/* root/spool, created by spool_open */
};

static void
rmtree(const char *dir)
{
	char path[512];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) < 0)
			rmtree(path);
	}
	closedir(d);
	rmdir(dir);
}

static int
setup_dir(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->root, sizeof(f->root), "/tmp/torture_spool.XXXXXX");
	assert_non_null(mkdtemp(f->root));
	snprintf(f->dir, sizeof(f->dir), "%s/spool", f->root);
	*state = f;
	return 0;
}

static int
teardown_dir(void **state)
{
	struct fixture *f = *state;

	rmtree(f->root);
	free(f);
	return 0;
}

/* Body bytes that depend on the request id and the place, NULs included. */
static unsigned char
body_byte(const char *rid, size_t i)
{
	return (unsigned char)(rid[i % strlen(rid)] + i * 7);
}

static void
mkrec(struct spool_rec *r, const char *rid, unsigned char *body, size_t len)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->request_id, sizeof(r->request_id), "%s", rid);
	snprintf(r->supplier_name, sizeof(r->supplier_name), "acme");
	snprintf(r->key_fp, sizeof(r->key_fp), FP);
	r->received_us = 1700000000000000 + (int64_t)len;
	r->supplier_id = 42;
	r->ct = CT_NDJSON;
	for (size_t i = 0; i < len; i++)
		body[i] = body_byte(rid, i);
	r->body = body;
	r->body_len = len;
}

static void
check_rec(const struct spool_rec *r)
{
	assert_string_equal(r->supplier_name, "acme");
	assert_string_equal(r->key_fp, FP);
	assert_int_equal(r->supplier_id, 42);
	assert_int_equal(r->ct, CT_NDJSON);
	assert_true(r->received_us == 1700000000000000 + (int64_t)r->body_len);
	for (size_t i = 0; i < r->body_len; i++)
		if (r->body[i] != body_byte(r->request_id, i))
			fail_msg("%s: body byte %zu differs", r->request_id, i);
}

static uint64_t
append_one(struct spool *s, const char *rid, size_t len)
{
	struct spool_rec r;
	unsigned char *body = malloc(len ? len : 1);

	assert_non_null(body);
	mkrec(&r, rid, body, len);
	if (spool_append(s, &r, 1) != 0)
		fail_msg("append %s: %s", rid, strerror(errno));
	free(body);
	return r.seq;
}

static size_t
rec_len(const char *rid, size_t body_len)
{
	struct spool_rec r;
	unsigned char dummy[1];

	mkrec(&r, rid, dummy, 0);
	return spool_encoded_len(&r) + body_len;
}

static struct spool *
open_ok(const char *dir, uint64_t max)
{
	char err[512];
	struct spool *s = spool_open(dir, max, err, sizeof(err));

	if (s == NULL)
		fail_msg("spool_open: %s", err);
	return s;
}

/* Reads all that is pending, max_recs at a time, committing each batch
 * when commit is set; returns the request ids, space-separated (free). */
static char *
read_ids(struct spool *s, size_t max_recs, int commit)
{
	struct spool_batch b;
	struct buf ids = BUF_INIT;
	uint64_t last = 0;
	int n;

	memset(&b, 0, sizeof(b));
	while ((n = spool_read(s, max_recs, SIZE_MAX, &b)) > 0) {
		assert_int_equal(b.n, n);
		assert_true(b.n <= max_recs);
		for (size_t i = 0; i < b.n; i++) {
			check_rec(&b.recs[i]);
			assert_true(b.recs[i].seq > last);
			last = b.recs[i].seq;
			if (ids.len)
				buf_putc(&ids, ' ');
			buf_puts(&ids, b.recs[i].request_id);
		}
		if (commit)
			spool_commit(s, &b);
	}
	assert_int_equal(n, 0);
	spool_batch_free(&b);
	buf_cstr(&ids);
	return (char *)ids.data;
}

#define ASSERT_IDS(s, max_recs, want) do {				\
	char *got_ = read_ids(s, max_recs, 1);				\
	if (strcmp(got_, want) != 0)					\
		fail_msg("read '%s', want '%s'", got_, want);		\
	free(got_);							\
} while (0)

static void
seg_path(char *out, size_t n, const char *dir, unsigned num)
{
	snprintf(out, n, "%s/%016u.spool", dir, num);
}

/* The number of segment files and their bytes. */
static size_t
count_segs(const char *dir, uint64_t *bytes)
{
	char path[512];
	struct dirent *de;
	struct stat st;
	size_t n = 0;
	DIR *d = opendir(dir);

	*bytes = 0;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len < 6 || strcmp(de->d_name + len - 6, ".spool") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		*bytes += (uint64_t)st.st_size;
		n++;
	}
	closedir(d);
	return n;
}

static unsigned char *
slurp(const char *path, size_t *len)
{
	struct stat st;
	unsigned char *p;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	p = malloc((size_t)st.st_size + 1);
	assert_non_null(p);
	assert_int_equal(read(fd, p, (size_t)st.st_size), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return p;
}

static void
spit(const char *path, const void *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, len), (ssize_t)len);
	close(fd);
}

static off_t
file_size(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -1;
	return st.st_size;
}

/* The seed of the spool in dir, from its key file. */
static uint32_t
dir_seed(const char *dir)
{
	char path[512];
	size_t len;
	unsigned char *k;
	uint32_t sd;

	snprintf(path, sizeof(path), "%s/key", dir);
	k = slurp(path, &len);
	assert_int_equal(len, SPOOL_KEY_LEN);
	sd = spool_key_seed(k);
	free(k);
	return sd;
}

/* ---- CRC-32C ------------------------------------------------------------- */

static void
test_crc32c(void **state)
{
	unsigned char b[300];

	(void)state;
	assert_int_equal(spool_crc32c(0, "123456789", 9), 0xe3069283);
	assert_int_equal(spool_crc32c(0, "", 0), 0);
	/* RFC 3720, B.4 */
	memset(b, 0, 32);
	assert_int_equal(spool_crc32c(0, b, 32), 0x8a9136aa);
	memset(b, 0xff, 32);
	assert_int_equal(spool_crc32c(0, b, 32), 0x62a8ab43);
	for (int i = 0; i < 32; i++)
		b[i] = (unsigned char)i;
	assert_int_equal(spool_crc32c(0, b, 32), 0x46dd794e);
	for (int i = 0; i < 32; i++)
		b[i] = (unsigned char)(31 - i);
	assert_int_equal(spool_crc32c(0, b, 32), 0x113fdb5c);
	/* In two pieces, split anywhere, as in one. */
	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = (unsigned char)(i * 131 + 7);
	uint32_t whole = spool_crc32c(0, b, sizeof(b));
	for (size_t k = 0; k <= sizeof(b); k++)
		assert_int_equal(spool_crc32c(spool_crc32c(0, b, k), b + k,
		    sizeof(b) - k), whole);
	/* The seed is the CRC-32C of the key. */
	assert_int_equal(spool_key_seed(test_key), 0xd9c908eb);
	assert_int_equal(spool_key_seed(test_key),
	    spool_crc32c(0, test_key, SPOOL_KEY_LEN));
}

/* ---- framing ------------------------------------------------------------- */

static unsigned char big_body[1000];

/* A few records: the smallest, the longest fields, odd values. */
static void
sample_recs(struct spool_rec *r, size_t *n)
{
	static const unsigned char json[] = "{\"id\":\"e1\"}";

	for (size_t i = 0; i < sizeof(big_body); i++)
		big_body[i] = (unsigned char)(i % 3 ? i : 0);
	memset(r, 0, 4 * sizeof(*r));
	/* the smallest: a one-byte id, nothing else */
	snprintf(r[0].request_id, sizeof(r[0].request_id), "x");
	/* every field at its longest */
	memset(r[1].request_id, '~', PROTO_REQUEST_ID_MAX);
	r[1].request_id[0] = '!';
	memset(r[1].supplier_name, 0xff, 63);
	memset(r[1].key_fp, 'f', 32);
	r[1].seq = UINT64_MAX;
	r[1].received_us = INT64_MIN;
	r[1].supplier_id = INT32_MIN;
	r[1].ct = 255;
	r[1].body = big_body;
	r[1].body_len = sizeof(big_body);
	/* ordinary */
	snprintf(r[2].request_id, sizeof(r[2].request_id), "req-0001");
	snprintf(r[2].supplier_name, sizeof(r[2].supplier_name), "acme");
	snprintf(r[2].key_fp, sizeof(r[2].key_fp), FP);
	r[2].seq = 7;
	r[2].received_us = 1700000000123456;
	r[2].supplier_id = 3;
	r[2].ct = CT_JSON;
	r[2].body = json;
	r[2].body_len = sizeof(json) - 1;
	/* empty body, a name but no key */
	snprintf(r[3].request_id, sizeof(r[3].request_id), "a/b:c");
	snprintf(r[3].supplier_name, sizeof(r[3].supplier_name), "dev");
	r[3].seq = 1;
	r[3].received_us = -1;
	r[3].body = (const unsigned char *)"";
	*n = 4;
}

static void
rec_equal(const struct spool_rec *a, const struct spool_rec *b)
{
	assert_true(a->seq == b->seq);
	assert_true(a->received_us == b->received_us);
	assert_int_equal(a->supplier_id, b->supplier_id);
	assert_int_equal(a->ct, b->ct);
	assert_string_equal(a->request_id, b->request_id);
	assert_string_equal(a->supplier_name, b->supplier_name);
	assert_string_equal(a->key_fp, b->key_fp);
	assert_int_equal(a->body_len, b->body_len);
	if (a->body_len)
		assert_memory_equal(a->body, b->body, a->body_len);
}

static void
test_roundtrip(void **state)
{
	struct spool_rec in[4], out;
	struct buf b = BUF_INIT;
	size_t n, used, off, starts[4];

	(void)state;
	sample_recs(in, &n);
	buf_puts(&b, "junk");		/* appends after what is there */
	for (size_t i = 0; i < n; i++) {
		assert_true(spool_rec_valid(&in[i]));
		starts[i] = b.len;
		spool_encode(&b, &in[i], seed);
		assert_int_equal(b.len - starts[i], spool_encoded_len(&in[i]));
	}
	assert_memory_equal(b.data, "junk", 4);
	off = 4;
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(off, starts[i]);
		assert_int_equal(spool_decode(b.data + off, b.len - off, &out,
		    &used, seed), 1);
		rec_equal(&in[i], &out);
		/* The body is read in place. */
		assert_ptr_equal(out.body, b.data + off + used - out.body_len);
		off += used;
	}
	assert_int_equal(off, b.len);
	buf_free(&b);
}

/* The format, byte by byte, as spool.c describes it, under test_key: the
 * CRC-32C of the key, the length bytes and the payload (computed apart,
 * with Python). */
static void
test_golden(void **state)
{
	static const unsigned char payload[] = {
		1, 0, 0, 0, 0, 0, 0, 0,			/* seq */
		0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,	/* received_us -2 */
		3, 0, 0, 0,				/* supplier_id */
		2,					/* ct */
		2, 'i', 'd',				/* request id */
		1, 's',					/* supplier */
		0,					/* key */
		2, 0, 0, 0, '{', '}',			/* body */
	};
	unsigned char want[12 + sizeof(payload)];
	struct spool_rec r;
	struct buf b = BUF_INIT;
	uint32_t crc;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.seq = 1;
	r.received_us = -2;
	r.supplier_id = 3;
	r.ct = 2;
	snprintf(r.request_id, sizeof(r.request_id), "id");
	snprintf(r.supplier_name, sizeof(r.supplier_name), "s");
	r.body = (const unsigned char *)"{}";
	r.body_len = 2;
	memcpy(want, "BVS1", 4);
	want[4] = sizeof(payload);
	want[5] = want[6] = want[7] = 0;
	memcpy(want + 12, payload, sizeof(payload));
	want[8] = 61, want[9] = 6, want[10] = 92, want[11] = 61;
	crc = spool_crc32c(spool_crc32c(spool_crc32c(0, test_key,
	    SPOOL_KEY_LEN), want + 4, 4), payload, sizeof(payload));
	assert_int_equal(crc, 0x3d5c063d);
	spool_encode(&b, &r, spool_key_seed(test_key));
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.data, want, sizeof(want));
	buf_free(&b);
}

/* Each record in a buffer of exactly its size, so ASan sees any read
 * past the end. */
static unsigned char *
encode_exact(const struct spool_rec *r, size_t *len)
{
	struct buf b = BUF_INIT;
	unsigned char *p;

	spool_encode(&b, r, seed);
	*len = b.len;
	p = malloc(b.len);
	assert_non_null(p);
	memcpy(p, b.data, b.len);
	buf_free(&b);
	return p;
}

/* A record cut anywhere is waited for, not refused. */
static void
test_prefixes(void **state)
{
	struct spool_rec in[4], out;
	size_t n, len, used;

	(void)state;
	sample_recs(in, &n);
	for (size_t i = 0; i < n; i++) {
		unsigned char *p = encode_exact(&in[i], &len);

		for (size_t k = 0; k < len; k++) {
			unsigned char *q = malloc(k ? k : 1);

			assert_non_null(q);
			memcpy(q, p, k);
			if (spool_decode(q, k, &out, &used, seed) != 0)
				fail_msg("record %zu cut to %zu of %zu bytes: not 0",
				    i, k, len);
			free(q);
		}
		assert_int_equal(spool_decode(p, len, &out, &used, seed), 1);
		free(p);
	}
}

/* Any change of one byte is refused at once: the magic, the length range,
 * the field lengths that must add up to the length (which also catches a
 * changed length while the body length is in the buffer) and the CRC
 * (which catches every error of up to 32 bits in a row). A length made
 * bigger is only waited for (0) while the bytes end before the body
 * length. */
static void
test_byte_flips(void **state)
{
	struct spool_rec in[4], out;
	size_t n, len, used;

	(void)state;
	sample_recs(in, &n);
	for (size_t i = 0; i < n; i++) {
		unsigned char *p = encode_exact(&in[i], &len);

		for (size_t k = 0; k < len; k++) {
			for (unsigned x = 1; x < 256; x++) {
				p[k] ^= (unsigned char)x;
				if (spool_decode(p, len, &out, &used, seed) != -1)
					fail_msg("record %zu, byte %zu ^ 0x%02x: "
					    "not -1", i, k, x);
				p[k] ^= (unsigned char)x;
			}
		}
		/* Only the header: a bigger length in range waits. */
		p[6] ^= 0x01;
		assert_int_equal(spool_decode(p, SPOOL_HDR_LEN, &out, &used,
		    seed), 0);
		p[6] ^= 0x01;
		free(p);
	}
}

/* Rewrites the CRC of the record at p (under sd) after a change, so that
 * the change itself is what decode must notice. */
static void
recrc(unsigned char *p, size_t len, uint32_t sd)
{
	uint32_t crc = spool_crc32c(spool_crc32c(sd, p + 4, 4), p + 12, len - 12);

	for (int i = 0; i < 4; i++)
		p[8 + i] = (unsigned char)(crc >> (8 * i));
}

static void
test_decode_rejects(void **state)
{
	struct spool_rec r, out;
	unsigned char body[4] = { 'a', 'b', 'c', 'd' };
	unsigned char *p, *q;
	size_t len, used;

	(void)state;
	mkrec(&r, "rid", body, sizeof(body));
	p = encode_exact(&r, &len);
	q = malloc(len);
	assert_non_null(q);
	/* request id "rid" starts at 12 + 21 = 33 (its length byte) */
#define TRY(edit, want) do {						\
	memcpy(q, p, len);						\
	edit;								\
	recrc(q, len, seed);						\
	assert_int_equal(spool_decode(q, len, &out, &used, seed), want); \
} while (0)
	TRY((void)0, 1);
	TRY(q[34] = ' ', -1);			/* not visible ASCII */
	TRY(q[34] = 0x7f, -1);
	TRY(q[34] = 0x80, -1);
	TRY(q[34] = 0x21, 1);
	TRY(q[33] = 0, -1);			/* empty request id */
	TRY(q[38] = 'x', 1);			/* the name "acme" changed */
	TRY(q[38] = 0, -1);			/* a NUL in it */
	TRY(q[43] = 0, -1);			/* a NUL in the fingerprint */
	TRY(q[37] = 5, -1);			/* the name's length */
	TRY(q[len - 8]++, -1);			/* body length one more */
	TRY(q[len - 8]--, -1);			/* one less */
	TRY(q[0] = 'b', -1);			/* magic */
	/* lengths out of range */
	TRY((q[4] = 28, q[5] = q[6] = q[7] = 0), -1);
	memcpy(q, p, len);
	q[4] = 1, q[5] = 0, q[6] = 0, q[7] = 0x40;	/* 2^30 + 1 */
	assert_int_equal(spool_decode(q, len, &out, &used, seed), -1);
	q[4] = 0;				/* 2^30: sane, so waited for */
	assert_int_equal(spool_decode(q, 8, &out, &used, seed), 0);
	/* more bytes than the record: only the record is used */
	unsigned char *two = malloc(2 * len);
	assert_non_null(two);
	memcpy(two, p, len);
	memcpy(two + len, p, len);
	assert_int_equal(spool_decode(two, 2 * len, &out, &used, seed), 1);
	assert_int_equal(used, len);
	assert_int_equal(spool_decode(two, len + 3, &out, &used, seed), 1);
	free(two);
#undef TRY
	free(q);
	free(p);
}

static void
test_rec_valid(void **state)
{
	struct spool_rec r;
	unsigned char body[8] = { 0 };

	(void)state;
	mkrec(&r, "ok", body, sizeof(body));
	assert_true(spool_rec_valid(&r));
	r.request_id[0] = '\0';
	assert_false(spool_rec_valid(&r));
	snprintf(r.request_id, sizeof(r.request_id), "has space");
	assert_false(spool_rec_valid(&r));
	memset(r.request_id, 'a', sizeof(r.request_id));	/* unterminated */
	assert_false(spool_rec_valid(&r));
	mkrec(&r, "ok", body, sizeof(body));
	memset(r.supplier_name, 'n', sizeof(r.supplier_name));
	assert_false(spool_rec_valid(&r));
	mkrec(&r, "ok", body, sizeof(body));
	memset(r.key_fp, 'k', sizeof(r.key_fp));
	assert_false(spool_rec_valid(&r));
	mkrec(&r, "ok", body, sizeof(body));
	r.body = NULL;
	assert_false(spool_rec_valid(&r));
	r.body_len = 0;
	assert_true(spool_rec_valid(&r));
	r.body_len = SPOOL_PAYLOAD_MAX;
	r.body = body;				/* not read: refused first */
	assert_false(spool_rec_valid(&r));
}

/* The scan over a buffer: good records, bad bytes between, a torn end. */
struct mem {
	const unsigned char *p;
};

static const unsigned char *
mem_get(void *arg, uint64_t off, size_t n)
{
	(void)n;
	return ((struct mem *)arg)->p + off;
}

static void
test_scan_buffer(void **state)
{
	struct spool_rec r;
	struct buf b = BUF_INIT;
	unsigned char body[100];
	size_t at[4], len3;
	struct mem m;
	struct spool_scan sc;
	struct spool_scan_item it;
	static const struct { int kind; int from, to; } want[] = {
		{ SPOOL_SCAN_GOOD, 0, 1 }, { SPOOL_SCAN_GOOD, 1, 2 },
		{ SPOOL_SCAN_BAD, 2, 3 }, { SPOOL_SCAN_GOOD, 3, 4 },
		{ SPOOL_SCAN_TAIL, 4, 5 }, { SPOOL_SCAN_END, 5, 5 },
	};
	size_t marks[6];

	(void)state;
	for (int i = 0; i < 4; i++) {
		char rid[16];

		snprintf(rid, sizeof(rid), "r%d", i + 1);
		mkrec(&r, rid, body, sizeof(body));
		r.seq = (uint64_t)i + 1;
		at[i] = b.len;
		if (i == 2) {
			/* garbage, with a magic in it, before r3 */
			buf_puts(&b, "garbage BVS1 garbage");
			at[i] = b.len;
		}
		spool_encode(&b, &r, seed);
	}
	len3 = b.len - at[3];
	b.len -= len3 / 2;			/* r4 torn */
	marks[0] = at[0];
	marks[1] = at[1];
	marks[2] = at[1] + (at[2] - at[1] - 20);	/* end of r2 */
	marks[3] = at[2];
	marks[4] = at[3];
	marks[5] = b.len;
	m.p = b.data;
	memset(&sc, 0, sizeof(sc));
	sc.get = mem_get;
	sc.arg = &m;
	sc.size = b.len;
	sc.seed = seed;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(spool_scan_next(&sc, &it), want[i].kind);
		assert_int_equal(it.kind, want[i].kind);
		assert_int_equal(it.off, marks[want[i].from]);
		if (it.kind != SPOOL_SCAN_END)
			assert_int_equal(it.off + it.len, marks[want[i].to]);
	}
	assert_int_equal(sc.last_seq, 3);
	buf_free(&b);
}

/* A record framed under another key does not decode, whatever the record:
 * for given bytes, each seed gives another CRC. Its prefixes are still
 * waited for (the CRC comes last). */
static void
test_other_key(void **state)
{
	static const unsigned char other_key[SPOOL_KEY_LEN] = {
		0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16,
	};
	const uint32_t other = spool_key_seed(other_key);
	struct spool_rec in[4], out;
	size_t n, len, used;

	(void)state;
	assert_true(other != seed);
	sample_recs(in, &n);
	for (size_t i = 0; i < n; i++) {
		unsigned char *p = encode_exact(&in[i], &len);

		assert_int_equal(spool_decode(p, len, &out, &used, seed), 1);
		assert_int_equal(spool_decode(p, len, &out, &used, other), -1);
		assert_int_equal(spool_decode(p, len, &out, &used, 0), -1);
		assert_int_equal(spool_decode(p, len - 1, &out, &used, other), 0);
		free(p);
	}
}

/* A 41-byte record header at p, sound up to the body, whose body runs to
 * end: the most a supplier can do without the key. The CRC is junk. */
static size_t
put_fake(unsigned char *p, size_t at, size_t end, uint32_t junk)
{
	unsigned char *q = p + at;
	uint32_t plen = (uint32_t)(end - at - SPOOL_HDR_LEN);
	uint32_t blen = plen - SPOOL_PAYLOAD_MIN;

	memcpy(q, SPOOL_MAGIC, 4);
	for (int i = 0; i < 4; i++) {
		q[4 + i] = (unsigned char)(plen >> (8 * i));
		q[8 + i] = (unsigned char)(junk >> (8 * i));
		q[37 + i] = (unsigned char)(blen >> (8 * i));
	}
	memset(q + 12, 0xff, 8);		/* seq: above anything */
	memset(q + 20, 0, 13);			/* received, supplier, ct */
	q[33] = 1, q[34] = 'x', q[35] = 0, q[36] = 0;	/* id "x", no name, key */
	return 41;
}

/* A damaged record whose body is full of such headers, with lengths that
 * overlap. With its magic or its length field damaged (out of range), the
 * resync looks at each, but checks their CRCs in one pass over the bytes,
 * not one pass each (here 100,000 places and about 200 GB of CRC); a
 * record framed with the key at the end of the body is found among them,
 * under another key it is not. With its header sound (the CRC damaged),
 * the resync goes straight to its end and takes nothing inside it, not
 * even the record framed with the key. With a longer length in range that
 * runs past the end, all is tail, and the look for a record hidden in it
 * (there is: the one with the key, and r3) is one pass too. */
static void
test_resync_many_fakes(void **state)
{
	enum { MAGIC, MAGIC_OTHER_KEY, LEN_HUGE, CRC, LEN_PAST_END, ROUNDS };
	const size_t body_len = 4 << 20;
	unsigned char *body = malloc(body_len);
	struct spool_rec r1, r2, r3, v;
	unsigned char b1[10], b3[10], vbody[1000];
	struct buf b = BUF_INIT, vb = BUF_INIT;
	struct spool_scan sc;
	struct spool_scan_item it;
	struct timespec t0, t1;
	struct mem m;
	size_t at, nfakes = 0, off2, off3;

	(void)state;
	assert_non_null(body);
	mkrec(&v, "v", vbody, sizeof(vbody));
	v.seq = 3;
	for (int round = 0; round < ROUNDS; round++) {
		buf_reset(&vb);
		spool_encode(&vb, &v, round == MAGIC_OTHER_KEY ? seed ^ 1 : seed);
		assert_true(vb.len > SPOOL_PREFIX_MAX);
		for (at = 0, nfakes = 0; at + 41 <= body_len - vb.len; nfakes++)
			at += put_fake(body, at, body_len, (uint32_t)at);
		memset(body + at, 'j', body_len - vb.len - at);
		memcpy(body + body_len - vb.len, vb.data, vb.len);
		buf_reset(&b);
		mkrec(&r1, "r1", b1, sizeof(b1));
		r1.seq = 1;
		spool_encode(&b, &r1, seed);
		off2 = b.len;
		mkrec(&r2, "r2", body, 0);
		r2.body = body;
		r2.body_len = body_len;
		r2.seq = 2;
		spool_encode(&b, &r2, seed);
		switch (round) {
		case MAGIC:
		case MAGIC_OTHER_KEY:
			b.data[off2 + 1] ^= 1;
			break;
		case LEN_HUGE:
			b.data[off2 + 7] ^= 0x80;	/* over 2^30 */
			break;
		case CRC:
			b.data[off2 + 8] ^= 1;
			break;
		case LEN_PAST_END:
			b.data[off2 + 7] ^= 0x10;	/* + 2^28 */
			break;
		}
		off3 = b.len;
		mkrec(&r3, "r3", b3, sizeof(b3));
		r3.seq = 4;
		spool_encode(&b, &r3, seed);

		m.p = b.data;
		memset(&sc, 0, sizeof(sc));
		sc.get = mem_get;
		sc.arg = &m;
		sc.size = b.len;
		sc.seed = seed;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(spool_scan_next(&sc, &it), SPOOL_SCAN_GOOD);
		if (round == LEN_PAST_END) {
			assert_int_equal(spool_scan_next(&sc, &it),
			    SPOOL_SCAN_TAIL);
			assert_int_equal(it.off, off2);
			assert_int_equal(it.len, b.len - off2);
			assert_int_equal(it.hidden, 1);
		} else {
			assert_int_equal(spool_scan_next(&sc, &it),
			    SPOOL_SCAN_BAD);
			assert_int_equal(it.off, off2);
			assert_int_equal(it.hidden, 0);
			if (round == MAGIC || round == LEN_HUGE) {
				/* up to v, which is good */
				assert_int_equal(it.len, off3 - vb.len - off2);
				assert_int_equal(spool_scan_next(&sc, &it),
				    SPOOL_SCAN_GOOD);
				assert_int_equal(it.seq, 3);
			} else {
				assert_int_equal(it.len, off3 - off2);
			}
			assert_int_equal(spool_scan_next(&sc, &it),
			    SPOOL_SCAN_GOOD);
			assert_int_equal(it.seq, 4);
		}
		assert_int_equal(spool_scan_next(&sc, &it), SPOOL_SCAN_END);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		/* A fraction of a second; one pass per place would take hours. */
		if (t1.tv_sec - t0.tv_sec > 30)
			fail_msg("the resync over %zu places took %ld s", nfakes,
			    (long)(t1.tv_sec - t0.tv_sec));
	}
	assert_true(nfakes > 100000);
	buf_free(&b);
	buf_free(&vb);
	free(body);
}

/* ---- files --------------------------------------------------------------- */

static void
test_append_read_commit(void **state)
{
	struct fixture *f = *state;
	struct spool_rec recs[3];
	unsigned char bodies[3][64];
	struct spool_stats st;
	struct stat sb;
	uint64_t bytes;
	struct spool *s = open_ok(f->dir, 1 << 20);

	assert_int_equal(stat(f->dir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	assert_int_equal(spool_pending(s), 0);
	assert_int_equal(count_segs(f->dir, &bytes), 0);
	mkrec(&recs[0], "a1", bodies[0], 10);
	mkrec(&recs[1], "a2", bodies[1], 0);
	mkrec(&recs[2], "a3", bodies[2], 64);
	assert_int_equal(spool_append(s, recs, 3), 0);
	assert_true(recs[0].seq == 1 && recs[1].seq == 2 && recs[2].seq == 3);
	assert_true(append_one(s, "a4", 5) == 4);
	assert_int_equal(spool_append(s, recs, 0), 0);
	spool_stats(s, &st);
	assert_int_equal(st.appended, 4);
	assert_int_equal(st.records, 4);
	assert_int_equal(st.max_bytes, 1 << 20);
	assert_int_equal(st.bytes, rec_len("a1", 10) + rec_len("a2", 0) +
	    rec_len("a3", 64) + rec_len("a4", 5));
	assert_int_equal(count_segs(f->dir, &bytes), 1);
	assert_int_equal(bytes, st.bytes);
	assert_int_equal(spool_pending(s), 1);
	ASSERT_IDS(s, 10, "a1 a2 a3 a4");
	/* All committed: nothing on disk. */
	spool_stats(s, &st);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.records, 0);
	assert_int_equal(st.replayed, 4);
	assert_int_equal(count_segs(f->dir, &bytes), 0);
	assert_int_equal(spool_pending(s), 0);
	/* And it goes on. */
	assert_true(append_one(s, "a5", 3) == 5);
	assert_int_equal(spool_pending(s), 1);
	ASSERT_IDS(s, 1, "a5");
	assert_int_equal(count_segs(f->dir, &bytes), 0);
	spool_close(s);
}

static void
test_invalid_append(void **state)
{
	struct fixture *f = *state;
	struct spool_rec recs[2];
	unsigned char body[4];
	uint64_t bytes;
	struct spool *s = open_ok(f->dir, 1 << 20);

	mkrec(&recs[0], "good", body, sizeof(body));
	mkrec(&recs[1], "bad id", body, sizeof(body));
	errno = 0;
	assert_int_equal(spool_append(s, recs, 2), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(count_segs(f->dir, &bytes), 0);
	assert_int_equal(spool_pending(s), 0);
	spool_close(s);
}

static void
test_max_bytes(void **state)
{
	struct fixture *f = *state;
	struct spool_rec r;
	unsigned char body[1000];
	struct spool_stats st;
	size_t one = rec_len("m1", 1000);
	struct spool *s = open_ok(f->dir, 4096);

	append_one(s, "m1", 1000);
	append_one(s, "m2", 1000);
	append_one(s, "m3", 1000);
	assert_true(4 * one > 4096);
	mkrec(&r, "refused", body, sizeof(body));
	errno = 0;
	assert_int_equal(spool_append(s, &r, 1), -1);
	assert_int_equal(errno, ENOSPC);
	spool_stats(s, &st);
	assert_int_equal(st.bytes, 3 * one);
	assert_int_equal(st.records, 3);
	/* A small one still fits. */
	mkrec(&r, "small", body, 10);
	assert_int_equal(spool_append(s, &r, 1), 0);
	/* Room again after a reload. */
	spool_set_max(s, 8192);
	append_one(s, "m4", 1000);
	spool_set_max(s, 100);
	mkrec(&r, "refused2", body, 1);
	assert_int_equal(spool_append(s, &r, 1), -1);
	assert_int_equal(errno, ENOSPC);
	spool_stats(s, &st);
	assert_int_equal(st.max_bytes, 100);
	ASSERT_IDS(s, 2, "m1 m2 m3 small m4");
	/* Empty again, but one record alone is over the bound. */
	spool_set_max(s, 500);
	mkrec(&r, "big", body, 1000);
	assert_int_equal(spool_append(s, &r, 1), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(spool_pending(s), 0);
	spool_close(s);
}

static void
test_reopen(void **state)
{
	struct fixture *f = *state;
	struct spool_stats st;
	struct spool_batch b;
	struct spool *s = open_ok(f->dir, 1 << 20);
	char rid[16];

	for (int i = 1; i <= 5; i++) {
		snprintf(rid, sizeof(rid), "o%d", i);
		append_one(s, rid, (size_t)i * 10);
	}
	/* Two committed, but their segment stays: replayed again. */
	memset(&b, 0, sizeof(b));
	assert_int_equal(spool_read(s, 2, SIZE_MAX, &b), 2);
	spool_commit(s, &b);
	spool_batch_free(&b);
	spool_close(s);
	s = open_ok(f->dir, 1 << 20);
	spool_stats(s, &st);
	assert_int_equal(st.records, 5);
	assert_int_equal(st.appended, 0);
	assert_int_equal(st.corrupt, 0);
	assert_int_equal(spool_pending(s), 1);
	assert_true(append_one(s, "o6", 1) == 6);
	ASSERT_IDS(s, 4, "o1 o2 o3 o4 o5 o6");
	spool_close(s);
	/* Empty, and a second process is kept out. */
	s = open_ok(f->dir, 1 << 20);
	char err[256];
	assert_null(spool_open(f->dir, 1 << 20, err, sizeof(err)));
	assert_non_null(strstr(err, "in use by another process"));
	spool_stats(s, &st);
	assert_int_equal(st.records, 0);
	assert_int_equal(st.bytes, 0);
	spool_close(s);
}

static void
test_open_errors(void **state)
{
	struct fixture *f = *state;
	char err[512], path[256], other[256];
	struct spool *s;

	snprintf(path, sizeof(path), "%s/no/such/dir", f->root);
	assert_null(spool_open(path, 1 << 20, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot create"));
	/* Files that are no segments are left alone. */
	assert_int_equal(mkdir(f->dir, 0700), 0);
	snprintf(other, sizeof(other), "%s/notes.txt", f->dir);
	spit(other, "hello", 5);
	snprintf(path, sizeof(path), "%s/123.spool", f->dir);
	spit(path, "BVS1", 4);
	s = open_ok(f->dir, 1 << 20);
	assert_int_equal(spool_pending(s), 0);
	append_one(s, "x", 1);
	ASSERT_IDS(s, 1, "x");
	spool_close(s);
	assert_int_equal(file_size(other), 5);
	assert_int_equal(file_size(path), 4);
}

/* The key: made at the first open, mode 0600, kept across reopens, needed
 * by segments. */
static void
test_key_file(void **state)
{
	struct fixture *f = *state;
	char key[256], tmp[256], seg[256], err[512];
	unsigned char *k1, *k2, *p;
	size_t len, klen;
	struct spool_rec r;
	struct stat st;
	size_t used;
	struct spool *s = open_ok(f->dir, 1 << 20);

	snprintf(key, sizeof(key), "%s/key", f->dir);
	snprintf(tmp, sizeof(tmp), "%s/key.tmp", f->dir);
	seg_path(seg, sizeof(seg), f->dir, 1);
	assert_int_equal(stat(key, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, SPOOL_KEY_LEN);
	assert_int_equal(file_size(tmp), -1);
	k1 = slurp(key, &klen);
	append_one(s, "k1", 10);
	spool_close(s);
	/* The records are framed with it, and with no other key. */
	p = slurp(seg, &len);
	assert_int_equal(spool_decode(p, len, &r, &used, spool_key_seed(k1)), 1);
	assert_string_equal(r.request_id, "k1");
	assert_int_equal(spool_decode(p, len, &r, &used, seed), -1);
	free(p);

	/* Reopened: the same key, and the record is there. */
	s = open_ok(f->dir, 1 << 20);
	k2 = slurp(key, &klen);
	assert_memory_equal(k1, k2, SPOOL_KEY_LEN);
	free(k2);
	append_one(s, "k2", 10);
	spool_close(s);

	/* Segments without a key file are refused, the directory named. */
	assert_int_equal(unlink(key), 0);
	assert_null(spool_open(f->dir, 1 << 20, err, sizeof(err)));
	assert_non_null(strstr(err, f->dir));
	assert_non_null(strstr(err, "no key file"));
	assert_int_equal(file_size(key), -1);	/* nor is one made up */
	assert_int_equal(file_size(seg), (off_t)(rec_len("k1", 10) +
	    rec_len("k2", 10)));
	/* A key of another size too. */
	spit(key, k1, SPOOL_KEY_LEN - 1);
	assert_null(spool_open(f->dir, 1 << 20, err, sizeof(err)));
	assert_non_null(strstr(err, "not a spool key"));
	unsigned char longer[SPOOL_KEY_LEN + 1] = { 0 };
	spit(key, longer, sizeof(longer));
	assert_null(spool_open(f->dir, 1 << 20, err, sizeof(err)));
	assert_non_null(strstr(err, "not a spool key"));
	/* The right one back: all is there. */
	spit(key, k1, SPOOL_KEY_LEN);
	s = open_ok(f->dir, 1 << 20);
	ASSERT_IDS(s, 10, "k1 k2");
	spool_close(s);

	/* No segment left: a spool without a key gets a new one, over what
	 * a crash may have left in key.tmp. */
	assert_int_equal(file_size(seg), -1);
	assert_int_equal(unlink(key), 0);
	spit(tmp, "leftover", 8);
	s = open_ok(f->dir, 1 << 20);
	assert_int_equal(file_size(tmp), -1);
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	k2 = slurp(key, &klen);
	assert_int_equal(klen, SPOOL_KEY_LEN);
	assert_memory_not_equal(k1, k2, SPOOL_KEY_LEN);
	append_one(s, "k3", 1);
	ASSERT_IDS(s, 10, "k3");
	spool_close(s);
	free(k2);
	free(k1);
}

/* Every record pending, as "id/supplier" (free). */
static char *
read_all(struct spool *s)
{
	struct spool_batch b;
	struct buf ids = BUF_INIT;
	int n;

	memset(&b, 0, sizeof(b));
	while ((n = spool_read(s, 100, SIZE_MAX, &b)) > 0) {
		for (size_t i = 0; i < b.n; i++)
			buf_printf(&ids, "%s%s/%s", ids.len ? " " : "",
			    b.recs[i].request_id, b.recs[i].supplier_name);
		spool_commit(s, &b);
	}
	assert_int_equal(n, 0);
	spool_batch_free(&b);
	buf_cstr(&ids);
	return (char *)ids.data;
}

/* A supplier's body holds a whole record naming another supplier; then its
 * own record is damaged. Framed with another key (here: test_key) the
 * quote is never taken. Framed with the right one (read from the spool's
 * directory), which a supplier never sees, it is still not taken as long
 * as the header of the record around it is sound: torn in the suffix after
 * the quote (at open: the tail is copied to corrupt/ as a record decodes
 * in it, and cut off), its CRC damaged (found during replay) or a byte of
 * its body before the quote (at open): the scan goes from the header to
 * the end it claims. Only with the length field damaged out of range does
 * the scan look inside the body byte by byte, and take the quote: that
 * damage, and a 2^-32 guess, are what a forgery needs. */
static void
test_forged_record(void **state)
{
	enum { TORN, CRC, BODY, LEN, MODES };
	struct fixture *f = *state;
	struct spool_rec r, forged;
	struct spool_stats st;
	struct buf fb = BUF_INIT, body = BUF_INIT;
	unsigned char b1[10], fbody[400];
	char path[256], bad[256], *got;
	size_t len, evil, evil_end;
	unsigned char *p;

	seg_path(path, sizeof(path), f->dir, 1);
	for (int round = 0; round < 2 * MODES; round++) {
		int right = round % 2, mode = round / 2;
		struct spool *s = open_ok(f->dir, 1 << 20);

		/* The forgery, and the body around it. */
		memset(&forged, 0, sizeof(forged));
		snprintf(forged.request_id, sizeof(forged.request_id), "forged");
		snprintf(forged.supplier_name, sizeof(forged.supplier_name),
		    "victim");
		snprintf(forged.key_fp, sizeof(forged.key_fp), "%s",
		    "ffffffffffffffffffffffffffffffff");
		forged.supplier_id = 7;
		forged.seq = 2;		/* evil's own, as its reply tells */
		memset(fbody, '{', sizeof(fbody));
		forged.body = fbody;
		forged.body_len = sizeof(fbody);
		buf_reset(&fb);
		spool_encode(&fb, &forged, right ? dir_seed(f->dir) : seed);
		buf_reset(&body);
		buf_puts(&body, "[\"a prefix\"]");
		buf_append(&body, fb.data, fb.len);
		buf_puts(&body, "[\"and a suffix after the quote\"]");

		append_one(s, "t1", 10);
		mkrec(&r, "evil", b1, 0);
		r.body = body.data;
		r.body_len = body.len;
		assert_int_equal(spool_append(s, &r, 1), 0);
		append_one(s, "t3", 10);
		spool_close(s);
		evil = rec_len("t1", 10);
		evil_end = evil + rec_len("evil", body.len);
		p = slurp(path, &len);
		switch (mode) {
		case TORN:
			/* Cut in the suffix, after the quote: t3 is gone too,
			 * as if the crash had come before it. */
			spit(path, p, evil_end - 5);
			s = open_ok(f->dir, 1 << 20);
			assert_int_equal(file_size(path), evil);
			break;
		case CRC:
		case LEN:
			s = open_ok(f->dir, 1 << 20);
			if (mode == CRC)
				p[evil + 8] ^= 0x01;
			else
				p[evil + 7] ^= 0x80;	/* over 2^30 */
			spit(path, p, len);		/* found in replay */
			break;
		case BODY:
			/* in the prefix, before the quote */
			p[evil_end - body.len + 2] ^= 1;
			spit(path, p, len);
			s = open_ok(f->dir, 1 << 20);
			break;
		}
		got = read_all(s);
		spool_stats(s, &st);
		if (mode == TORN) {
			assert_string_equal(got, "t1/acme");
			/* right: forged decodes in the tail, which is copied */
			assert_int_equal(st.corrupt, right);
			snprintf(bad, sizeof(bad), "%s/corrupt/"
			    "0000000000000001-%zu.bad", f->dir, evil);
			assert_int_equal(file_size(bad),
			    right ? (off_t)(evil_end - 5 - evil) : -1);
		} else if (mode == LEN && right) {
			assert_string_equal(got,
			    "t1/acme forged/victim t3/acme");
			assert_int_equal(st.corrupt, 2);
		} else {
			assert_string_equal(got, "t1/acme t3/acme");
			assert_int_equal(st.corrupt, 1);
		}
		free(got);
		free(p);
		spool_close(s);
		rmtree(f->dir);
	}
	buf_free(&fb);
	buf_free(&body);
}

static void
test_rewind(void **state)
{
	struct fixture *f = *state;
	struct spool_batch b;
	struct spool *s = open_ok(f->dir, 1 << 20);

	append_one(s, "w1", 1000);
	append_one(s, "w2", 1000);
	append_one(s, "w3", 1000);
	append_one(s, "w4", 1000);
	memset(&b, 0, sizeof(b));
	assert_int_equal(spool_read(s, 2, SIZE_MAX, &b), 2);
	assert_string_equal(b.recs[1].request_id, "w2");
	spool_rewind(s, &b);
	assert_int_equal(spool_pending(s), 1);
	assert_int_equal(spool_read(s, 2, SIZE_MAX, &b), 2);
	assert_string_equal(b.recs[0].request_id, "w1");
	assert_string_equal(b.recs[1].request_id, "w2");
	check_rec(&b.recs[0]);
	check_rec(&b.recs[1]);
	spool_commit(s, &b);
	/* The byte bound counts bodies past the first. */
	assert_int_equal(spool_read(s, 10, 1500, &b), 1);
	assert_string_equal(b.recs[0].request_id, "w3");
	spool_rewind(s, &b);
	assert_int_equal(spool_read(s, 10, 0, &b), 1);
	spool_rewind(s, &b);
	assert_int_equal(spool_read(s, 10, 2000, &b), 2);
	assert_string_equal(b.recs[1].request_id, "w4");
	assert_int_equal(spool_pending(s), 0);
	spool_rewind(s, &b);
	assert_int_equal(spool_pending(s), 1);
	spool_batch_free(&b);
	ASSERT_IDS(s, 10, "w3 w4");
	spool_close(s);
}

/* Segments of 64 KiB (512 KiB / 8), eight 8000-byte bodies in each. */
static void
test_rollover(void **state)
{
	struct fixture *f = *state;
	struct spool_batch b;
	struct spool_stats st;
	char rid[16], path[256];
	uint64_t bytes;
	struct spool *s = open_ok(f->dir, 512 << 10);

	for (int i = 1; i <= 20; i++) {
		snprintf(rid, sizeof(rid), "s%d", i);
		append_one(s, rid, 8000);
	}
	assert_int_equal(count_segs(f->dir, &bytes), 3);
	/* Bigger than a segment: alone in one, and the next goes on. */
	append_one(s, "huge", 100 << 10);
	append_one(s, "after", 10);
	assert_int_equal(count_segs(f->dir, &bytes), 5);
	spool_stats(s, &st);
	assert_int_equal(st.bytes, bytes);
	seg_path(path, sizeof(path), f->dir, 4);
	assert_int_equal(file_size(path), rec_len("huge", 100 << 10));

	/* A batch ends at its segment's end; committing it deletes it. */
	memset(&b, 0, sizeof(b));
	assert_int_equal(spool_read(s, 100, SIZE_MAX, &b), 8);
	assert_string_equal(b.recs[7].request_id, "s8");
	seg_path(path, sizeof(path), f->dir, 1);
	assert_true(file_size(path) > 0);
	spool_commit(s, &b);
	assert_int_equal(file_size(path), -1);
	assert_int_equal(count_segs(f->dir, &bytes), 4);
	/* Part of a segment: it stays. */
	assert_int_equal(spool_read(s, 3, SIZE_MAX, &b), 3);
	spool_commit(s, &b);
	seg_path(path, sizeof(path), f->dir, 2);
	assert_true(file_size(path) > 0);
	spool_batch_free(&b);
	spool_stats(s, &st);
	assert_int_equal(st.bytes, bytes);
	ASSERT_IDS(s, 3, "s12 s13 s14 s15 s16 s17 s18 s19 s20 huge after");
	assert_int_equal(count_segs(f->dir, &bytes), 0);
	spool_stats(s, &st);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.records, 0);
	/* The numbers go on. */
	append_one(s, "next", 1);
	seg_path(path, sizeof(path), f->dir, 6);
	assert_true(file_size(path) > 0);
	spool_close(s);
}

/* Five records in segment 1, closed; returns the file's bytes and each
 * record's offset (off[5] = the end). */
static unsigned char *
five_records(struct fixture *f, size_t off[6], size_t *len)
{
	char path[256], rid[16];
	struct spool *s = open_ok(f->dir, 1 << 20);

	off[0] = 0;
	for (int i = 1; i <= 5; i++) {
		snprintf(rid, sizeof(rid), "t%d", i);
		append_one(s, rid, (size_t)(20 + i));
		off[i] = off[i - 1] + rec_len(rid, (size_t)(20 + i));
	}
	spool_close(s);
	seg_path(path, sizeof(path), f->dir, 1);
	unsigned char *p = slurp(path, len);
	assert_int_equal(*len, off[5]);
	return p;
}

/* The last record cut anywhere: dropped, the file truncated to the good
 * end, not counted as corrupt, and appends go on after it. */
static void
test_torn_tail(void **state)
{
	struct fixture *f = *state;
	struct spool_stats st;
	size_t off[6], len, last;
	char path[256];
	unsigned char *p = five_records(f, off, &len);

	seg_path(path, sizeof(path), f->dir, 1);
	last = off[5] - off[4];
	for (size_t cut = 1; cut <= last; cut++) {
		spit(path, p, len - cut);
		log_set_level(cut == 1 ? LOG_LVL_INFO : LOG_LVL_WARN);
		struct spool *s = open_ok(f->dir, 1 << 20);
		spool_stats(s, &st);
		assert_int_equal(st.records, 4);
		assert_int_equal(st.corrupt, 0);
		assert_int_equal(st.bytes, off[4]);
		assert_int_equal(file_size(path), off[4]);
		assert_true(append_one(s, "new", 3) == 5);
		char *ids = read_ids(s, 10, 0);
		assert_string_equal(ids, "t1 t2 t3 t4 new");
		free(ids);
		spool_close(s);
		assert_int_equal(file_size(path), off[4] + rec_len("new", 3));
	}
	log_set_level(LOG_LVL_INFO);
	free(p);
}

/* Junk after the last record: a crash while appending. An old record
 * after the junk (a seq not above those before) is junk too; a record
 * with a higher seq is not, and the junk before it is moved aside. */
static void
test_garbage_tail(void **state)
{
	struct fixture *f = *state;
	struct spool_stats st;
	struct spool_rec r;
	struct buf b = BUF_INIT;
	unsigned char body[30];
	size_t off[6], len;
	char path[256], bad[256];
	unsigned char *p = five_records(f, off, &len);
	struct spool *s;

	seg_path(path, sizeof(path), f->dir, 1);
	buf_append(&b, p, len);
	for (int i = 0; i < 100; i++)
		buf_putc(&b, (char)(i * 37 + 1));
	spit(path, b.data, b.len);
	s = open_ok(f->dir, 1 << 20);
	spool_stats(s, &st);
	assert_int_equal(st.corrupt, 0);
	assert_int_equal(file_size(path), len);
	char *ids = read_ids(s, 10, 0);
	assert_string_equal(ids, "t1 t2 t3 t4 t5");
	free(ids);
	spool_close(s);

	/* junk, then a copy of t2 */
	b.len = len;
	buf_puts(&b, "BVS1\xff\xff junk");
	buf_append(&b, p + off[1], off[2] - off[1]);
	spit(path, b.data, b.len);
	s = open_ok(f->dir, 1 << 20);
	spool_stats(s, &st);
	assert_int_equal(st.corrupt, 0);
	assert_int_equal(file_size(path), len);
	spool_close(s);

	/* junk, then a record with a higher seq */
	b.len = len;
	buf_puts(&b, "BVS1\xff\xff junk");
	mkrec(&r, "t9", body, sizeof(body));
	r.seq = 9;
	spool_encode(&b, &r, dir_seed(f->dir));
	spit(path, b.data, b.len);
	s = open_ok(f->dir, 1 << 20);
	spool_stats(s, &st);
	assert_int_equal(st.corrupt, 1);
	assert_int_equal(st.records, 6);
	snprintf(bad, sizeof(bad), "%s/corrupt/0000000000000001-%zu.bad",
	    f->dir, len);
	assert_int_equal(file_size(bad), 11);
	ASSERT_IDS(s, 10, "t1 t2 t3 t4 t5 t9");
	assert_true(append_one(s, "t10", 1) == 10);
	spool_close(s);
	buf_free(&b);
	free(p);
}

/* Sets the payload length field of the record at p. */
static void
set_plen(unsigned char *p, uint32_t plen)
{
	for (int i = 0; i < 4; i++)
		p[4 + i] = (unsigned char)(plen >> (8 * i));
}

/* The five records of five_records with t2 damaged by one of these. */
enum damage {
	D_MAGIC0, D_MAGIC3,		/* a byte of the magic */
	D_LEN_HUGE, D_LEN_ZERO,		/* the length out of range */
	D_LEN_SHORT,			/* a shorter length in range */
	D_CRC, D_PAYLOAD12, D_PAYLOAD30, D_PAYLOAD_LAST,
	D_LEN_INTO_T3,			/* longer: the span ends inside t3 */
	D_LEN_TO_T4,			/* longer: the span ends where t4 starts */
	D_LEN_PAST_END,			/* longer: the span runs past the end */
	D_LEN_BIT28,			/* the same, one bit of the top byte */
};

static void
damage_t2(unsigned char *d, const unsigned char *p, size_t len,
    const size_t off[6], enum damage how)
{
	unsigned char *r2 = d + off[1];
	const uint32_t plen = (uint32_t)(off[2] - off[1] - SPOOL_HDR_LEN);

	memcpy(d, p, len);
	switch (how) {
	case D_MAGIC0:		r2[0] ^= 0x10; break;
	case D_MAGIC3:		r2[3] ^= 0x10; break;
	case D_LEN_HUGE:	r2[7] ^= 0x80; break;
	case D_LEN_ZERO:	set_plen(r2, 0); break;
	case D_LEN_SHORT:	set_plen(r2, SPOOL_PAYLOAD_MIN); break;
	case D_CRC:		r2[9] ^= 0x10; break;
	case D_PAYLOAD12:	r2[12] ^= 0x10; break;
	case D_PAYLOAD30:	r2[30] ^= 0x10; break;
	case D_PAYLOAD_LAST:	r2[off[2] - off[1] - 1] ^= 0x10; break;
	case D_LEN_INTO_T3:	set_plen(r2, plen + 16); break;
	case D_LEN_TO_T4:
		set_plen(r2, plen + (uint32_t)(off[3] - off[2]));
		break;
	case D_LEN_PAST_END:	r2[5] ^= 0x10; break;	/* + 4096 */
	case D_LEN_BIT28:	r2[7] ^= 0x10; break;
	}
}

/* A damaged record with good ones after it: moved aside, the rest
 * replayed. Wherever the damage is: in the magic, or a length out of range
 * (the next record is found byte by byte); in the CRC or the payload (the
 * sound header says where the next record is); a shorter length (its span
 * ends inside its own record; byte by byte from there). */
static void
test_corrupt_middle(void **state)
{
	static const enum damage how[] = {
		D_MAGIC0, D_MAGIC3, D_LEN_HUGE, D_LEN_ZERO, D_LEN_SHORT, D_CRC,
		D_PAYLOAD12, D_PAYLOAD30, D_PAYLOAD_LAST,
	};
	struct fixture *f = *state;
	struct spool_stats st;
	size_t off[6], len, blen;
	char path[256], bad[256];
	unsigned char *p = five_records(f, off, &len), *q, *d = malloc(len);
	const size_t r2 = off[1], r2len = off[2] - off[1];

	assert_non_null(d);
	seg_path(path, sizeof(path), f->dir, 1);
	snprintf(bad, sizeof(bad), "%s/corrupt/0000000000000001-%zu.bad",
	    f->dir, r2);
	for (size_t i = 0; i < sizeof(how) / sizeof(how[0]); i++) {
		damage_t2(d, p, len, off, how[i]);
		spit(path, d, len);
		struct spool *s = open_ok(f->dir, 1 << 20);
		spool_stats(s, &st);
		assert_int_equal(st.corrupt, 1);
		assert_int_equal(st.records, 4);
		/* the bytes stay in the segment until it is replayed */
		assert_int_equal(st.bytes, len);
		q = slurp(bad, &blen);
		assert_int_equal(blen, r2len);
		assert_memory_equal(q, d + r2, r2len);
		free(q);
		ASSERT_IDS(s, 2, "t1 t3 t4 t5");
		assert_int_equal(file_size(path), -1);
		spool_stats(s, &st);
		assert_int_equal(st.bytes, 0);
		spool_close(s);
		unlink(bad);
	}
	/* The last record damaged cannot be told from a torn one. */
	p[off[4] + 30] ^= 0x10;
	spit(path, p, len);
	struct spool *s = open_ok(f->dir, 1 << 20);
	spool_stats(s, &st);
	assert_int_equal(st.corrupt, 0);
	assert_int_equal(file_size(path), off[4]);
	ASSERT_IDS(s, 10, "t1 t2 t3 t4");
	spool_close(s);
	free(d);
	free(p);
}

/* A length made longer but still in range is a sound header: the records
 * in the span it claims are not taken, as they cannot be told from
 * records quoted in a body. Ending inside t3 or where t4 starts, the span
 * takes t3 with it; running past the end, it takes all after t2, the
 * tail of the newest segment. That tail is then not just cut off: records
 * that decode inside it may have been acknowledged, so it is copied to
 * corrupt/ and counted first (none replayed), and appends go on after t1. */
static void
test_corrupt_length(void **state)
{
	static const enum damage how[] = {
		D_LEN_INTO_T3, D_LEN_TO_T4, D_LEN_PAST_END, D_LEN_BIT28,
	};
	struct fixture *f = *state;
	struct spool_stats st;
	size_t off[6], len, blen;
	char path[256], bad[256];
	unsigned char *p = five_records(f, off, &len), *q, *d = malloc(len);
	const size_t r2 = off[1];

	assert_non_null(d);
	seg_path(path, sizeof(path), f->dir, 1);
	snprintf(bad, sizeof(bad), "%s/corrupt/0000000000000001-%zu.bad",
	    f->dir, r2);
	for (size_t i = 0; i < sizeof(how) / sizeof(how[0]); i++) {
		int tail = how[i] == D_LEN_PAST_END || how[i] == D_LEN_BIT28;
		size_t bad_len = tail ? len - r2 : off[3] - r2;

		damage_t2(d, p, len, off, how[i]);
		spit(path, d, len);
		struct spool *s = open_ok(f->dir, 1 << 20);
		spool_stats(s, &st);
		assert_int_equal(st.corrupt, 1);
		assert_int_equal(st.records, tail ? 1 : 3);
		assert_int_equal(file_size(path), tail ? r2 : len);
		q = slurp(bad, &blen);
		assert_int_equal(blen, bad_len);
		assert_memory_equal(q, d + r2, bad_len);
		free(q);
		if (tail) {
			assert_true(append_one(s, "new", 3) == 2);
			ASSERT_IDS(s, 10, "t1 new");
		} else {
			ASSERT_IDS(s, 10, "t1 t4 t5");
		}
		assert_int_equal(file_size(path), -1);
		spool_close(s);
		unlink(bad);
	}
	free(d);
	free(p);
}

/* In an older segment even an unfinished tail is damage: it was once
 * acknowledged, as a newer segment exists. */
static void
test_corrupt_older_segment(void **state)
{
	struct fixture *f = *state;
	struct spool_stats st;
	char rid[16], path[256];
	size_t len, one = rec_len("c1", 8000);
	unsigned char *p;
	struct spool *s = open_ok(f->dir, 512 << 10);

	for (int i = 1; i <= 9; i++) {
		snprintf(rid, sizeof(rid), "c%d", i);
		append_one(s, rid, 8000);
	}
	spool_close(s);
	seg_path(path, sizeof(path), f->dir, 1);
	p = slurp(path, &len);
	assert_int_equal(len, 8 * one);

	/* damage in its last record */
	p[7 * one + 100] ^= 1;
	spit(path, p, len);
	s = open_ok(f->dir, 512 << 10);
	spool_stats(s, &st);
	assert_int_equal(st.corrupt, 1);
	assert_int_equal(file_size(path), len);
	ASSERT_IDS(s, 3, "c1 c2 c3 c4 c5 c6 c7 c9");
	spool_close(s);
	assert_int_equal(file_size(path), -1);

	/* cut short; the numbers go on above the file in corrupt/ */
	s = open_ok(f->dir, 512 << 10);
	for (int i = 1; i <= 9; i++) {
		snprintf(rid, sizeof(rid), "c%d", i);
		append_one(s, rid, 8000);
	}
	spool_close(s);
	seg_path(path, sizeof(path), f->dir, 2);
	assert_int_equal(file_size(path), 8 * one);
	assert_int_equal(truncate(path, (off_t)(8 * one - 100)), 0);
	s = open_ok(f->dir, 512 << 10);
	spool_stats(s, &st);
	assert_int_equal(st.corrupt, 1);
	ASSERT_IDS(s, 100, "c1 c2 c3 c4 c5 c6 c7 c9");
	spool_close(s);
	free(p);
}

/* Damage that appears after open is found by spool_read. When it runs to
 * the end of the newest segment (here t3's length made longer, past the
 * end), the segment gets no more appends: after a crash, records appended
 * behind it would lie in the span t3 claims, and be lost at the next open.
 * They go to a new segment and are replayed. */
static void
test_corrupt_during_replay(void **state)
{
	struct fixture *f = *state;
	struct spool_stats st;
	size_t off[6], len;
	char path[256], bad[256];
	unsigned char *p = five_records(f, off, &len);
	struct spool *s = open_ok(f->dir, 1 << 20);
	uint64_t bytes;
	char *ids;

	seg_path(path, sizeof(path), f->dir, 1);
	p[off[2] + 20] ^= 0x01;			/* t3 */
	spit(path, p, len);
	ASSERT_IDS(s, 10, "t1 t2 t4 t5");
	spool_stats(s, &st);
	assert_int_equal(st.corrupt, 1);
	snprintf(bad, sizeof(bad), "%s/corrupt/0000000000000001-%zu.bad",
	    f->dir, off[2]);
	assert_int_equal(file_size(bad), off[3] - off[2]);
	spool_close(s);
	p[off[2] + 20] ^= 0x01;
	rmtree(f->dir);

	free(p);
	p = five_records(f, off, &len);
	s = open_ok(f->dir, 1 << 20);
	p[off[2] + 5] ^= 0x10;			/* t3's length, + 4096 */
	spit(path, p, len);
	ids = read_ids(s, 10, 0);
	assert_string_equal(ids, "t1 t2");
	free(ids);
	spool_stats(s, &st);
	assert_int_equal(st.corrupt, 1);
	assert_int_equal(file_size(bad), len - off[2]);
	assert_true(append_one(s, "new", 3) == 6);
	assert_int_equal(file_size(path), len);
	assert_int_equal(count_segs(f->dir, &bytes), 2);
	spool_close(s);				/* as if it crashed */
	unlink(bad);
	s = open_ok(f->dir, 1 << 20);
	spool_stats(s, &st);
	assert_int_equal(st.corrupt, 1);	/* t3 on, again */
	ASSERT_IDS(s, 10, "t1 t2 new");
	spool_close(s);
	free(p);
}

/* A write that fails (here: over RLIMIT_FSIZE) leaves nothing behind, and
 * the next append goes to a new segment. */
static void
test_write_failure(void **state)
{
	struct fixture *f = *state;
	struct spool_rec r;
	struct spool_stats st;
	struct rlimit old, lim;
	unsigned char *body = malloc(10000);
	char path[256];
	uint64_t bytes;
	struct spool *s = open_ok(f->dir, 1 << 20);

	assert_non_null(body);
	append_one(s, "f1", 10);
	seg_path(path, sizeof(path), f->dir, 1);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)(rec_len("f1", 10) + 5000);
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	mkrec(&r, "f2", body, 10000);
	errno = 0;
	assert_int_equal(spool_append(s, &r, 1), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(file_size(path), rec_len("f1", 10));
	spool_stats(s, &st);
	assert_int_equal(st.records, 1);
	assert_int_equal(st.appended, 1);
	assert_int_equal(st.bytes, rec_len("f1", 10));
	append_one(s, "f3", 10);
	assert_int_equal(file_size(path), rec_len("f1", 10));
	assert_int_equal(count_segs(f->dir, &bytes), 2);
	ASSERT_IDS(s, 10, "f1 f3");
	assert_int_equal(count_segs(f->dir, &bytes), 0);
	spool_close(s);
	free(body);
}

/* Four threads append while the reader replays, rewinding now and then:
 * every record is committed once, in seq order. */
#define THREADS		4
#define PER_THREAD	150

struct appender {
	struct spool *s;
	int num;
};

static void *
appender_main(void *arg)
{
	struct appender *a = arg;
	unsigned char body[2][600];

	for (int i = 0; i < PER_THREAD; i++) {
		struct spool_rec r[2];
		char rid[32];
		size_t n = i % 3 == 0 ? 2 : 1;

		for (size_t k = 0; k < n; k++) {
			snprintf(rid, sizeof(rid), "p%d-%d-%zu", a->num, i, k);
			mkrec(&r[k], rid, body[k], (size_t)(i * 4 % 600));
		}
		while (spool_append(a->s, r, n) < 0) {
			if (errno != ENOSPC)
				abort();
			usleep(1000);		/* the reader makes room */
		}
	}
	return NULL;
}

static void
test_threads(void **state)
{
	struct fixture *f = *state;
	pthread_t th[THREADS];
	struct appender ap[THREADS];
	struct spool_batch b;
	struct spool_stats st;
	uint64_t last = 0, bytes;
	const size_t total = THREADS * (PER_THREAD + (PER_THREAD + 2) / 3);
	size_t committed = 0, turn = 0;
	unsigned char *seen = calloc(total + 1, 1);
	struct spool *s = open_ok(f->dir, 256 << 10);

	assert_non_null(seen);
	memset(&b, 0, sizeof(b));
	for (int i = 0; i < THREADS; i++) {
		ap[i].s = s;
		ap[i].num = i;
		assert_int_equal(pthread_create(&th[i], NULL, appender_main,
		    &ap[i]), 0);
	}
	while (committed < total) {
		int n = spool_read(s, 7, 4000, &b);

		assert_true(n >= 0);
		if (n == 0) {
			usleep(200);
			continue;
		}
		for (size_t i = 0; i < b.n; i++)
			check_rec(&b.recs[i]);
		if (++turn % 4 == 0) {
			spool_rewind(s, &b);
			continue;
		}
		for (size_t i = 0; i < b.n; i++) {
			uint64_t seq = b.recs[i].seq;

			assert_true(seq > last && seq <= total);
			assert_int_equal(seen[seq], 0);
			seen[seq] = 1;
			last = seq;
		}
		committed += b.n;
		spool_commit(s, &b);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(spool_read(s, 7, 4000, &b), 0);
	spool_batch_free(&b);
	spool_stats(s, &st);
	assert_int_equal(st.appended, total);
	assert_int_equal(st.replayed, total);
	assert_int_equal(st.records, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(count_segs(f->dir, &bytes), 0);
	spool_close(s);
	free(seen);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_byte_flips),
		cmocka_unit_test(test_decode_rejects),
		cmocka_unit_test(test_rec_valid),
		cmocka_unit_test(test_scan_buffer),
		cmocka_unit_test(test_other_key),
		cmocka_unit_test(test_resync_many_fakes),
#define FILES(t) cmocka_unit_test_setup_teardown(t, setup_dir, teardown_dir)
		FILES(test_append_read_commit),
		FILES(test_invalid_append),
		FILES(test_max_bytes),
		FILES(test_reopen),
		FILES(test_open_errors),
		FILES(test_key_file),
		FILES(test_forged_record),
		FILES(test_rewind),
		FILES(test_rollover),
		FILES(test_torn_tail),
		FILES(test_garbage_tail),
		FILES(test_corrupt_middle),
		FILES(test_corrupt_length),
		FILES(test_corrupt_older_segment),
		FILES(test_corrupt_during_replay),
		FILES(test_write_failure),
		FILES(test_threads),
#undef FILES
	};

	log_init("torture_spool", LOG_LVL_INFO);
	if (sodium_init() < 0)
		fatalx("libsodium failed to initialise");
	seed = spool_key_seed(test_key);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
