/* torture_merkle.c - the RFC 9162 Merkle tree of the ledger (common/merkle.c):
 * known answers from the Certificate Transparency reference implementations,
 * then every proof of every small tree against a direct recursive reading
 * of the RFC, then trees near 2^64 leaves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "merkle.h"

#define H MERKLE_HASH_LEN

/* ---- known answers -------------------------------------------------------
 * The eight-leaf reference tree of google/certificate-transparency,
 * cpp/merkletree/merkle_tree_test.cc (kInputs, kSHA256Roots, kSHA256Paths,
 * kSHA256Proofs; leaf numbers there are 1-based, here 0-based), repeated in
 * transparency-dev/merkle, proof/verify_test.go (inclusionProofs,
 * consistencyProofs, roots, leaves), which adds the 6 -> 7 proof. */
static const struct {
	const char *hex;
} kat_leaves[8] = {
	{ "" }, { "00" }, { "10" }, { "2021" }, { "3031" }, { "40414243" },
	{ "5051525354555657" }, { "606162636465666768696a6b6c6d6e6f" },
};

static const char *const kat_empty_root =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

static const char *const kat_roots[8] = {
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

struct kat_path {
	uint64_t a, b;		/* leaf index and size, or old and new size */
	size_t len;
	const char *hash[3];
};

static const struct kat_path kat_inclusion[] = {
	{ 0, 1, 0, { NULL } },
	{ 0, 8, 3, {
	    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
	    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4" } },
	{ 5, 8, 3, {
	    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
	    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
	    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" } },
	{ 2, 3, 1, {
	    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125" } },
	{ 1, 5, 3, {
	    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b" } },
};

static const struct kat_path kat_consistency[] = {
	{ 1, 1, 0, { NULL } },
	{ 1, 8, 3, {
	    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
	    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4" } },
	{ 6, 8, 3, {
	    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
	    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
	    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" } },
	{ 2, 5, 2, {
	    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b" } },
	{ 6, 7, 3, {
	    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
	    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
	    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" } },
};

static void
unhex(const char *s, unsigned char *out, size_t *len)
{
	size_t n = strlen(s);

	assert_int_equal(hex_decode(s, n, out, n / 2), 0);
	*len = n / 2;
}

static void
unhex32(const char *s, unsigned char out[H])
{
	assert_int_equal(hex_decode(s, strlen(s), out, H), 0);
}

/* ---- a node store, filled by the append callback ------------------------ */

#define STORE_LEAVES	512
#define STORE_LEVELS	10	/* 2^9 = 512 */

struct store {
	unsigned char hash[STORE_LEVELS][STORE_LEAVES][H];
	unsigned reported[STORE_LEVELS][STORE_LEAVES];
	uint64_t limit;		/* nodes must lie within [0, limit) */
	unsigned reads;
};

static void
store_put(void *ctx, unsigned level, uint64_t index, const unsigned char hash[H])
{
	struct store *st = ctx;

	assert_true(level < STORE_LEVELS);
	assert_true(index < STORE_LEAVES);
	memcpy(st->hash[level][index], hash, H);
	st->reported[level][index]++;
}

static int
store_get(void *ctx, unsigned level, uint64_t index, unsigned char out[H])
{
	struct store *st = ctx;

	/* A proof or root for a tree of size n must only read nodes that
	 * existed when the tree had n leaves. */
	if (level >= STORE_LEVELS || index >= STORE_LEAVES ||
	    ((index + 1) << level) > st->limit || !st->reported[level][index])
		fail_msg("read of node (%u, %llu), beyond size %llu or not "
		    "stored", level, (unsigned long long)index,
		    (unsigned long long)st->limit);
	memcpy(out, st->hash[level][index], H);
	st->reads++;
	return 0;
}

static struct store *
store_new(const unsigned char (*leaves)[H], size_t n)
{
	struct store *st = calloc(1, sizeof(*st));
	struct merkle_frontier f;

	assert_non_null(st);
	merkle_frontier_init(&f);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(merkle_frontier_append(&f, leaves[i], store_put,
		    st), 0);
	st->limit = n;
	return st;
}

/* ---- the RFC read directly, over a list of leaf hashes ------------------ */

static uint64_t
ref_split(uint64_t n)
{
	uint64_t k = 1;

	while (k << 1 < n)
		k <<= 1;
	return k;
}

/* MTH(D[0:n]), section 2.1.1. */
static void
ref_mth(const unsigned char (*d)[H], uint64_t n, unsigned char out[H])
{
	unsigned char l[H], r[H];
	uint64_t k;

	if (n == 0) {
		merkle_empty_root(out);
		return;
	}
	if (n == 1) {
		memcpy(out, d[0], H);
		return;
	}
	k = ref_split(n);
	ref_mth(d, k, l);
	ref_mth(d + k, n - k, r);
	merkle_node_hash(l, r, out);
}

/* PATH(m, D[0:n]), section 2.1.3.1. */
static void
ref_path(uint64_t m, const unsigned char (*d)[H], uint64_t n,
    unsigned char (*out)[H], size_t *len)
{
	uint64_t k;

	if (n == 1)
		return;
	k = ref_split(n);
	if (m < k) {
		ref_path(m, d, k, out, len);
		ref_mth(d + k, n - k, out[(*len)++]);
	} else {
		ref_path(m - k, d + k, n - k, out, len);
		ref_mth(d, k, out[(*len)++]);
	}
}

/* SUBPROOF(m, D[0:n], b), section 2.1.4.1. */
static void
ref_subproof(uint64_t m, const unsigned char (*d)[H], uint64_t n, int b,
    unsigned char (*out)[H], size_t *len)
{
	uint64_t k;

	if (m == n) {
		if (!b)
			ref_mth(d, m, out[(*len)++]);
		return;
	}
	k = ref_split(n);
	if (m <= k) {
		ref_subproof(m, d, k, b, out, len);
		ref_mth(d + k, n - k, out[(*len)++]);
	} else {
		ref_subproof(m - k, d + k, n - k, 0, out, len);
		ref_mth(d, k, out[(*len)++]);
	}
}

/* ---- corrupted proofs, after transparency-dev/merkle proof/verify_test.go
 * corruptInclusionProof and corruptConsistencyProof ------------------------ */

static const unsigned char zero_hash[H];

static int
try_inclusion(const unsigned char leaf[H], uint64_t i, uint64_t n,
    const unsigned char (*p)[H], size_t len, const unsigned char root[H])
{
	return merkle_verify_inclusion(leaf, i, n, p, len, root);
}

static void
check_inclusion_corruptions(const unsigned char leaf[H], uint64_t i,
    uint64_t n, const unsigned char (*path)[H], size_t len,
    const unsigned char root[H])
{
	unsigned char p[MERKLE_MAX_PATH + 2][H], other[H], empty[H];
	const char *what = NULL;

	merkle_empty_root(empty);
	merkle_leaf_hash("WrongLeaf", 9, other);
	assert_int_equal(try_inclusion(leaf, i, n, path, len, root), 0);
#define BAD(desc, expr) do {						\
	if ((expr) == 0) { what = (desc); goto fail; }			\
} while (0)
	BAD("leaf index - 1", try_inclusion(leaf, i - 1, n, path, len, root));
	BAD("leaf index + 1", try_inclusion(leaf, i + 1, n, path, len, root));
	BAD("leaf index ^ 2", try_inclusion(leaf, i ^ 2, n, path, len, root));
	BAD("tree size * 2", try_inclusion(leaf, i, n * 2, path, len, root));
	BAD("tree size / 2", try_inclusion(leaf, i, n / 2, path, len, root));
	BAD("wrong leaf", try_inclusion(other, i, n, path, len, root));
	BAD("empty root", try_inclusion(leaf, i, n, path, len, empty));
	BAD("leaf as root", len ? try_inclusion(leaf, i, n, path, len, leaf) : -1);
	memcpy(p, path, len * H);
	memcpy(p[len], zero_hash, H);
	BAD("trailing garbage", try_inclusion(leaf, i, n, p, len + 1, root));
	memcpy(p[len], root, H);
	BAD("trailing root", try_inclusion(leaf, i, n, p, len + 1, root));
	memcpy(p[0], zero_hash, H);
	memcpy(p[1], path, len * H);
	BAD("preceding garbage", try_inclusion(leaf, i, n, p, len + 1, root));
	memcpy(p[0], root, H);
	BAD("preceding root", try_inclusion(leaf, i, n, p, len + 1, root));
	for (size_t j = 0; j < len; j++) {
		memcpy(p, path, len * H);
		p[j][0] ^= 8;
		BAD("flipped bit", try_inclusion(leaf, i, n, p, len, root));
	}
	if (len > 0)
		BAD("removed component", try_inclusion(leaf, i, n, path, len - 1,
		    root));
	if (len > 1) {
		memcpy(p[0], path[0], H);
		memcpy(p[1], other, H);
		memcpy(p[2], path[1], (len - 1) * H);
		BAD("inserted component", try_inclusion(leaf, i, n, p, len + 1,
		    root));
	}
	return;
fail:
	fail_msg("inclusion of %llu in %llu verified with %s",
	    (unsigned long long)i, (unsigned long long)n, what);
}

static int
try_consistency(uint64_t m, uint64_t n, const unsigned char r1[H],
    const unsigned char r2[H], const unsigned char (*p)[H], size_t len)
{
	return merkle_verify_consistency(m, n, r1, r2, p, len);
}

static void
check_consistency_corruptions(uint64_t m, uint64_t n, const unsigned char r1[H],
    const unsigned char r2[H], const unsigned char (*path)[H], size_t len)
{
	unsigned char p[MERKLE_MAX_PATH + 2][H], wrong[H];
	const char *what = NULL;

	assert_int_equal(try_consistency(m, n, r1, r2, path, len), 0);
	if (len == 0)
		return;
	merkle_leaf_hash("WrongRoot", 9, wrong);
	BAD("size1 - 1", try_consistency(m - 1, n, r1, r2, path, len));
	BAD("size1 + 1", try_consistency(m + 1, n, r1, r2, path, len));
	BAD("size1 ^ 2", try_consistency(m ^ 2, n, r1, r2, path, len));
	BAD("size2 * 2", try_consistency(m, n * 2, r1, r2, path, len));
	BAD("size2 / 2", try_consistency(m, n / 2, r1, r2, path, len));
	BAD("wrong root1", try_consistency(m, n, wrong, r2, path, len));
	BAD("wrong root2", try_consistency(m, n, r1, wrong, path, len));
	BAD("swapped roots", try_consistency(m, n, r2, r1, path, len));
	BAD("empty proof", try_consistency(m, n, r1, r2, path, 0));
	memcpy(p, path, len * H);
	memcpy(p[len], zero_hash, H);
	BAD("trailing garbage", try_consistency(m, n, r1, r2, p, len + 1));
	memcpy(p[len], r1, H);
	BAD("trailing root1", try_consistency(m, n, r1, r2, p, len + 1));
	memcpy(p[len], r2, H);
	BAD("trailing root2", try_consistency(m, n, r1, r2, p, len + 1));
	memcpy(p[1], path, len * H);
	memcpy(p[0], zero_hash, H);
	BAD("preceding garbage", try_consistency(m, n, r1, r2, p, len + 1));
	memcpy(p[0], r1, H);
	BAD("preceding root1", try_consistency(m, n, r1, r2, p, len + 1));
	memcpy(p[0], r2, H);
	BAD("preceding root2", try_consistency(m, n, r1, r2, p, len + 1));
	memcpy(p[0], path[0], H);
	BAD("preceding proof[0]", try_consistency(m, n, r1, r2, p, len + 1));
	BAD("truncated proof", try_consistency(m, n, r1, r2, path, len - 1));
	for (size_t j = 0; j < len; j++) {
		memcpy(p, path, len * H);
		p[j][0] ^= 16;
		BAD("flipped bit", try_consistency(m, n, r1, r2, p, len));
	}
#undef BAD
	return;
fail:
	fail_msg("consistency %llu -> %llu verified with %s",
	    (unsigned long long)m, (unsigned long long)n, what);
}

/* ---- known answer tests ------------------------------------------------- */

static void
kat_leaf_hashes(unsigned char leaves[8][H])
{
	unsigned char data[16];
	size_t len;

	for (int i = 0; i < 8; i++) {
		unhex(kat_leaves[i].hex, data, &len);
		merkle_leaf_hash(data, len, leaves[i]);
	}
}

static void
test_kat_roots(void **state)
{
	unsigned char leaves[8][H], want[H], got[H], enc[MERKLE_FRONTIER_MAX_ENCODED];
	struct merkle_frontier f, g;
	struct store *st;

	(void)state;
	kat_leaf_hashes(leaves);
	st = store_new((const unsigned char (*)[H])leaves, 8);
	merkle_frontier_init(&f);
	unhex32(kat_empty_root, want);
	merkle_frontier_root(&f, got);
	assert_memory_equal(got, want, H);
	st->limit = 0;
	assert_int_equal(merkle_root(0, store_get, st, got), 0);
	assert_memory_equal(got, want, H);
	for (int n = 1; n <= 8; n++) {
		unhex32(kat_roots[n - 1], want);
		assert_int_equal(merkle_frontier_append(&f, leaves[n - 1], NULL,
		    NULL), 0);
		merkle_frontier_root(&f, got);
		assert_memory_equal(got, want, H);
		st->limit = (uint64_t)n;
		assert_int_equal(merkle_root((uint64_t)n, store_get, st, got), 0);
		assert_memory_equal(got, want, H);
		ref_mth((const unsigned char (*)[H])leaves, (uint64_t)n, got);
		assert_memory_equal(got, want, H);
		assert_int_equal(merkle_frontier_decode(&g, enc,
		    merkle_frontier_encode(&f, enc)), 0);
		merkle_frontier_root(&g, got);
		assert_memory_equal(got, want, H);
	}
	/* The leaf hash of the empty string is the one-leaf root. */
	merkle_leaf_hash("", 0, got);
	unhex32(kat_roots[0], want);
	assert_memory_equal(got, want, H);
	free(st);
}

static void
test_kat_inclusion(void **state)
{
	unsigned char leaves[8][H], want[3][H], path[MERKLE_MAX_PATH][H];
	unsigned char root[H];
	struct store *st;
	size_t len;

	(void)state;
	kat_leaf_hashes(leaves);
	st = store_new((const unsigned char (*)[H])leaves, 8);
	for (size_t t = 0; t < sizeof(kat_inclusion) / sizeof(kat_inclusion[0]);
	    t++) {
		const struct kat_path *k = &kat_inclusion[t];

		for (size_t j = 0; j < k->len; j++)
			unhex32(k->hash[j], want[j]);
		st->limit = k->b;
		assert_int_equal(merkle_inclusion_proof(k->a, k->b, store_get, st,
		    path, &len), 0);
		assert_int_equal(len, k->len);
		if (len > 0)
			assert_memory_equal(path, want, len * H);
		unhex32(kat_roots[k->b - 1], root);
		check_inclusion_corruptions(leaves[k->a], k->a, k->b,
		    (const unsigned char (*)[H])want, k->len, root);
	}
	free(st);
}

static void
test_kat_consistency(void **state)
{
	unsigned char leaves[8][H], want[3][H], path[MERKLE_MAX_PATH][H];
	unsigned char r1[H], r2[H];
	struct store *st;
	size_t len;

	(void)state;
	kat_leaf_hashes(leaves);
	st = store_new((const unsigned char (*)[H])leaves, 8);
	for (size_t t = 0;
	    t < sizeof(kat_consistency) / sizeof(kat_consistency[0]); t++) {
		const struct kat_path *k = &kat_consistency[t];

		for (size_t j = 0; j < k->len; j++)
			unhex32(k->hash[j], want[j]);
		st->limit = k->b;
		assert_int_equal(merkle_consistency_proof(k->a, k->b, store_get,
		    st, path, &len), 0);
		assert_int_equal(len, k->len);
		if (len > 0)
			assert_memory_equal(path, want, len * H);
		unhex32(kat_roots[k->a - 1], r1);
		unhex32(kat_roots[k->b - 1], r2);
		check_consistency_corruptions(k->a, k->b, r1, r2,
		    (const unsigned char (*)[H])want, k->len);
	}
	free(st);
}

/* The node lists of transparency-dev/merkle, proof/proof_test.go
 * (TestInclusion, TestConsistency), as (level, index) pairs. That code
 * orders a recomputed right-edge subtree's nodes bottom-up; we read them
 * left to right, so the lists are compared as sets. */
struct kat_nodes {
	uint64_t a, b;		/* size and leaf index, or size1 and size2 */
	size_t n;
	struct { unsigned level; uint64_t index; } id[9];
};

static const struct kat_nodes kat_inclusion_nodes[] = {
	{ 1, 0, 0, { { 0, 0 } } },
	{ 2, 0, 1, { { 0, 1 } } },
	{ 2, 1, 1, { { 0, 0 } } },
	{ 3, 1, 2, { { 0, 0 }, { 0, 2 } } },
	{ 7, 0, 4, { { 0, 1 }, { 1, 1 }, { 0, 6 }, { 1, 2 } } },
	{ 7, 1, 4, { { 0, 0 }, { 1, 1 }, { 0, 6 }, { 1, 2 } } },
	{ 7, 2, 4, { { 0, 3 }, { 1, 0 }, { 0, 6 }, { 1, 2 } } },
	{ 7, 3, 4, { { 0, 2 }, { 1, 0 }, { 0, 6 }, { 1, 2 } } },
	{ 7, 4, 3, { { 0, 5 }, { 0, 6 }, { 2, 0 } } },
	{ 7, 5, 3, { { 0, 4 }, { 0, 6 }, { 2, 0 } } },
	{ 7, 6, 2, { { 1, 2 }, { 2, 0 } } },
	{ 4, 2, 2, { { 0, 3 }, { 1, 0 } } },
	{ 5, 3, 3, { { 0, 2 }, { 1, 0 }, { 0, 4 } } },
	{ 6, 3, 3, { { 0, 2 }, { 1, 0 }, { 1, 2 } } },
	{ 6, 4, 2, { { 0, 5 }, { 2, 0 } } },
	{ 15, 10, 5, { { 0, 11 }, { 1, 4 }, { 0, 14 }, { 1, 6 }, { 3, 0 } } },
	{ 31, 24, 6, { { 0, 25 }, { 1, 13 }, { 0, 30 }, { 1, 14 }, { 3, 2 },
	    { 4, 0 } } },
	{ 95, 81, 8, { { 0, 80 }, { 1, 41 }, { 2, 21 }, { 0, 94 }, { 1, 46 },
	    { 2, 22 }, { 4, 4 }, { 6, 0 } } },
};

static const struct kat_nodes kat_consistency_nodes[] = {
	{ 1, 2, 1, { { 0, 1 } } },
	{ 1, 4, 2, { { 0, 1 }, { 1, 1 } } },
	{ 1, 6, 3, { { 0, 1 }, { 1, 1 }, { 1, 2 } } },
	{ 2, 3, 1, { { 0, 2 } } },
	{ 2, 8, 2, { { 1, 1 }, { 2, 1 } } },
	{ 3, 7, 5, { { 0, 2 }, { 0, 3 }, { 1, 0 }, { 0, 6 }, { 1, 2 } } },
	{ 4, 7, 2, { { 0, 6 }, { 1, 2 } } },
	{ 5, 7, 4, { { 0, 4 }, { 0, 5 }, { 0, 6 }, { 2, 0 } } },
	{ 6, 7, 3, { { 1, 2 }, { 0, 6 }, { 2, 0 } } },
	{ 7, 8, 4, { { 0, 6 }, { 0, 7 }, { 1, 2 }, { 2, 0 } } },
	{ 1, 1, 0, { { 0, 0 } } },
	{ 2, 2, 0, { { 0, 0 } } },
	{ 3, 3, 0, { { 0, 0 } } },
	{ 4, 4, 0, { { 0, 0 } } },
	{ 5, 5, 0, { { 0, 0 } } },
	{ 7, 7, 0, { { 0, 0 } } },
	{ 8, 8, 0, { { 0, 0 } } },
	{ 2, 4, 1, { { 1, 1 } } },
	{ 3, 5, 4, { { 0, 2 }, { 0, 3 }, { 1, 0 }, { 0, 4 } } },
	{ 3, 6, 4, { { 0, 2 }, { 0, 3 }, { 1, 0 }, { 1, 2 } } },
	{ 4, 6, 1, { { 1, 2 } } },
	{ 1, 7, 4, { { 0, 1 }, { 1, 1 }, { 0, 6 }, { 1, 2 } } },
	{ 10, 15, 5, { { 1, 4 }, { 1, 5 }, { 0, 14 }, { 1, 6 }, { 3, 0 } } },
	{ 24, 31, 5, { { 3, 2 }, { 0, 30 }, { 1, 14 }, { 2, 6 }, { 4, 0 } } },
	{ 81, 95, 9, { { 0, 80 }, { 0, 81 }, { 1, 41 }, { 2, 21 }, { 0, 94 },
	    { 1, 46 }, { 2, 22 }, { 4, 4 }, { 6, 0 } } },
};

static int
same_node_set(const struct kat_nodes *k, const unsigned *levels,
    const uint64_t *indexes, size_t n)
{
	if (n != k->n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		size_t hits = 0;

		for (size_t j = 0; j < n; j++)
			hits += levels[j] == k->id[i].level &&
			    indexes[j] == k->id[i].index;
		if (hits != 1)
			return 0;
	}
	return 1;
}

static void
test_kat_node_lists(void **state)
{
	unsigned levels[MERKLE_MAX_NODES];
	uint64_t indexes[MERKLE_MAX_NODES];
	size_t n;

	(void)state;
	for (size_t t = 0; t < sizeof(kat_inclusion_nodes) /
	    sizeof(kat_inclusion_nodes[0]); t++) {
		const struct kat_nodes *k = &kat_inclusion_nodes[t];

		assert_int_equal(merkle_inclusion_nodes(k->b, k->a, levels,
		    indexes, &n), 0);
		if (!same_node_set(k, levels, indexes, n))
			fail_msg("inclusion nodes of %llu in %llu differ",
			    (unsigned long long)k->b, (unsigned long long)k->a);
	}
	for (size_t t = 0; t < sizeof(kat_consistency_nodes) /
	    sizeof(kat_consistency_nodes[0]); t++) {
		const struct kat_nodes *k = &kat_consistency_nodes[t];

		assert_int_equal(merkle_consistency_nodes(k->a, k->b, levels,
		    indexes, &n), 0);
		if (!same_node_set(k, levels, indexes, n))
			fail_msg("consistency nodes of %llu -> %llu differ",
			    (unsigned long long)k->a, (unsigned long long)k->b);
	}
	/* The bad parameters of the same tests. */
	assert_int_equal(merkle_inclusion_nodes(0, 0, levels, indexes, &n), -1);
	assert_int_equal(merkle_inclusion_nodes(1, 0, levels, indexes, &n), -1);
	assert_int_equal(merkle_inclusion_nodes(2, 1, levels, indexes, &n), -1);
	assert_int_equal(merkle_inclusion_nodes(3, 0, levels, indexes, &n), -1);
	assert_int_equal(merkle_inclusion_nodes(8, 7, levels, indexes, &n), -1);
	assert_int_equal(merkle_consistency_nodes(5, 0, levels, indexes, &n), -1);
	assert_int_equal(merkle_consistency_nodes(9, 8, levels, indexes, &n), -1);
}

/* ---- every proof of every tree of 1..64 leaves -------------------------- */

#define ALL_MAX 64

static void
all_leaves(unsigned char leaves[][H], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char data[32];
		int len = snprintf(data, sizeof(data), "leaf %zu", i);

		merkle_leaf_hash(data, (size_t)len, leaves[i]);
	}
}

/* A node list names as many nodes as the proof read, each once; the
 * callers then compute the proof again from the listed nodes alone. */
static void
check_node_list(const unsigned *levels, const uint64_t *indexes, size_t count,
    unsigned reads)
{
	assert_true(count <= MERKLE_MAX_NODES);
	assert_int_equal(count, reads);
	for (size_t i = 0; i < count; i++)
		for (size_t j = 0; j < i; j++)
			if (levels[i] == levels[j] && indexes[i] == indexes[j])
				fail_msg("node (%u, %llu) listed twice", levels[i],
				    (unsigned long long)indexes[i]);
}

static void
test_all_inclusion(void **state)
{
	unsigned char (*leaves)[H] = calloc(ALL_MAX, H);
	unsigned char path[MERKLE_MAX_PATH][H], want[MERKLE_MAX_PATH][H];
	unsigned char root[H], got[H];
	struct store *st;
	struct merkle_nodes ns;
	size_t len, wlen, proofs = 0;

	(void)state;
	assert_non_null(leaves);
	all_leaves(leaves, ALL_MAX);
	st = store_new((const unsigned char (*)[H])leaves, ALL_MAX);
	for (uint64_t n = 1; n <= ALL_MAX; n++) {
		st->limit = n;
		ref_mth((const unsigned char (*)[H])leaves, n, root);
		assert_int_equal(merkle_root(n, store_get, st, got), 0);
		assert_memory_equal(got, root, H);
		for (uint64_t i = 0; i < n; i++) {
			wlen = 0;
			ref_path(i, (const unsigned char (*)[H])leaves, n, want,
			    &wlen);
			st->reads = 0;
			assert_int_equal(merkle_inclusion_proof(i, n, store_get,
			    st, path, &len), 0);
			assert_int_equal(len, wlen);
			if (len > 0)
				assert_memory_equal(path, want, len * H);
			check_inclusion_corruptions(leaves[i], i, n,
			    (const unsigned char (*)[H])path, len, root);

			/* The same proof from its listed nodes only. */
			merkle_nodes_init(&ns);
			assert_int_equal(merkle_inclusion_nodes(i, n, ns.level,
			    ns.index, &ns.count), 0);
			check_node_list(ns.level, ns.index, ns.count, st->reads);
			for (size_t j = 0; j < ns.count; j++) {
				assert_int_equal(store_get(st, ns.level[j],
				    ns.index[j], got), 0);
				assert_int_equal(merkle_nodes_set(&ns, ns.level[j],
				    ns.index[j], got), 0);
			}
			memset(path, 0, sizeof(path));
			assert_int_equal(merkle_inclusion_proof(i, n,
			    merkle_nodes_get, &ns, path, &len), 0);
			assert_int_equal(len, wlen);
			if (len > 0)
				assert_memory_equal(path, want, len * H);
			proofs++;
		}
		/* Out of range. */
		assert_int_equal(merkle_inclusion_proof(n, n, store_get, st, path,
		    &len), -1);
		assert_int_equal(merkle_verify_inclusion(leaves[0], n, n,
		    (const unsigned char (*)[H])path, 0, root), -1);
	}
	assert_int_equal(proofs, ALL_MAX * (ALL_MAX + 1) / 2);
	free(st);
	free(leaves);
}

static void
test_all_consistency(void **state)
{
	unsigned char (*leaves)[H] = calloc(ALL_MAX, H);
	unsigned char path[MERKLE_MAX_PATH][H], want[MERKLE_MAX_PATH][H];
	unsigned char r1[H], r2[H], got[H];
	struct store *st;
	struct merkle_nodes ns;
	size_t len, wlen, proofs = 0;

	(void)state;
	assert_non_null(leaves);
	all_leaves(leaves, ALL_MAX);
	st = store_new((const unsigned char (*)[H])leaves, ALL_MAX);
	for (uint64_t n = 1; n <= ALL_MAX; n++) {
		st->limit = n;
		ref_mth((const unsigned char (*)[H])leaves, n, r2);
		for (uint64_t m = 1; m <= n; m++) {
			ref_mth((const unsigned char (*)[H])leaves, m, r1);
			wlen = 0;
			if (m < n)
				ref_subproof(m, (const unsigned char (*)[H])leaves,
				    n, 1, want, &wlen);
			st->reads = 0;
			assert_int_equal(merkle_consistency_proof(m, n, store_get,
			    st, path, &len), 0);
			assert_int_equal(len, wlen);
			if (len > 0)
				assert_memory_equal(path, want, len * H);
			check_consistency_corruptions(m, n, r1, r2,
			    (const unsigned char (*)[H])path, len);

			merkle_nodes_init(&ns);
			assert_int_equal(merkle_consistency_nodes(m, n, ns.level,
			    ns.index, &ns.count), 0);
			check_node_list(ns.level, ns.index, ns.count, st->reads);
			for (size_t j = 0; j < ns.count; j++) {
				assert_int_equal(store_get(st, ns.level[j],
				    ns.index[j], got), 0);
				assert_int_equal(merkle_nodes_set(&ns, ns.level[j],
				    ns.index[j], got), 0);
			}
			memset(path, 0, sizeof(path));
			assert_int_equal(merkle_consistency_proof(m, n,
			    merkle_nodes_get, &ns, path, &len), 0);
			assert_int_equal(len, wlen);
			if (len > 0)
				assert_memory_equal(path, want, len * H);
			proofs++;
		}
		/* From the empty tree, and back in time. */
		merkle_empty_root(r1);
		assert_int_equal(merkle_consistency_proof(0, n, store_get, st,
		    path, &len), 0);
		assert_int_equal(len, 0);
		assert_int_equal(merkle_verify_consistency(0, n, r1, r2,
		    (const unsigned char (*)[H])path, 0), 0);
		assert_int_equal(merkle_verify_consistency(0, n, r2, r2,
		    (const unsigned char (*)[H])path, 0), -1);
		assert_int_equal(merkle_verify_consistency(0, n, r1, r2,
		    (const unsigned char (*)[H])&r1, 1), -1);
		assert_int_equal(merkle_consistency_proof(n + 1, n, store_get, st,
		    path, &len), -1);
		assert_int_equal(merkle_verify_consistency(n, n - 1, r2, r2,
		    (const unsigned char (*)[H])path, 0), -1);
	}
	assert_int_equal(proofs, ALL_MAX * (ALL_MAX + 1) / 2);
	free(st);
	free(leaves);
}

/* The special cases of transparency-dev/merkle TestVerifyConsistency. */
static void
test_consistency_edges(void **state)
{
	unsigned char a[H], b[H], empty[H];
	const unsigned char (*none)[H] = NULL;

	(void)state;
	merkle_leaf_hash("don't care 1", 12, a);
	merkle_leaf_hash("don't care 2", 12, b);
	merkle_empty_root(empty);
	assert_int_equal(merkle_verify_consistency(0, 0, empty, empty, none, 0), 0);
	assert_int_equal(merkle_verify_consistency(0, 0, empty, b, none, 0), -1);
	assert_int_equal(merkle_verify_consistency(0, 1, empty, b, none, 0), 0);
	assert_int_equal(merkle_verify_consistency(1, 1, a, a, none, 0), 0);
	assert_int_equal(merkle_verify_consistency(1, 1, a, b, none, 0), -1);
	assert_int_equal(merkle_verify_consistency(1, 0, a, b, none, 0), -1);
	assert_int_equal(merkle_verify_consistency(2, 1, a, b, none, 0), -1);
	assert_int_equal(merkle_verify_consistency(1, 2, a, b, none, 0), -1);
	assert_int_equal(merkle_verify_consistency(0, 0, empty, empty,
	    (const unsigned char (*)[H])&empty, 1), -1);
	assert_int_equal(merkle_verify_consistency(1, 1, empty, empty,
	    (const unsigned char (*)[H])&empty, 1), -1);
	/* Inclusion in a one-leaf tree: the leaf is the root. */
	assert_int_equal(merkle_verify_inclusion(a, 0, 1, none, 0, a), 0);
	assert_int_equal(merkle_verify_inclusion(a, 0, 1, none, 0, b), -1);
	assert_int_equal(merkle_verify_inclusion(a, 0, 0, none, 0, a), -1);
	assert_int_equal(merkle_verify_inclusion(a, 1, 1, none, 0, a), -1);
}

/* ---- the frontier ------------------------------------------------------- */

#define FRONTIER_MAX 300

static void
test_frontier(void **state)
{
	unsigned char (*leaves)[H] = calloc(FRONTIER_MAX, H);
	unsigned char want[H], got[H], enc[MERKLE_FRONTIER_MAX_ENCODED];
	unsigned levels[MERKLE_MAX_LEVELS];
	uint64_t indexes[MERKLE_MAX_LEVELS];
	struct store *st = calloc(1, sizeof(*st));
	struct merkle_frontier f, g;
	size_t count, elen;

	(void)state;
	assert_non_null(leaves);
	assert_non_null(st);
	all_leaves(leaves, FRONTIER_MAX);
	merkle_frontier_init(&f);
	for (uint64_t n = 0; n <= FRONTIER_MAX; n++) {
		if (n > 0)
			assert_int_equal(merkle_frontier_append(&f, leaves[n - 1],
			    store_put, st), 0);
		assert_int_equal(f.size, n);
		ref_mth((const unsigned char (*)[H])leaves, n, want);
		merkle_frontier_root(&f, got);
		assert_memory_equal(got, want, H);

		/* Every perfect node within [0, n) reported exactly once, with
		 * the hash of its leaves, and no other. */
		for (unsigned level = 0; level < STORE_LEVELS; level++) {
			for (uint64_t i = 0; i < STORE_LEAVES; i++) {
				uint64_t lo = i << level, hi = (i + 1) << level;
				unsigned want_n = hi <= n;

				if (st->reported[level][i] != want_n)
					fail_msg("size %llu: node (%u, %llu) "
					    "reported %u times", (unsigned long
					    long)n, level, (unsigned long long)i,
					    st->reported[level][i]);
				/* Reported once, so never overwritten: the
				 * hash is checked once, at the end. */
				if (!want_n || n != FRONTIER_MAX)
					continue;
				ref_mth((const unsigned char (*)[H])leaves + lo,
				    hi - lo, want);
				assert_memory_equal(st->hash[level][i], want, H);
			}
		}

		/* Rebuilt from the stored nodes it names, and from bytes. */
		st->limit = n;
		merkle_frontier_nodes(n, levels, indexes, &count);
		assert_int_equal(count, (size_t)__builtin_popcountll(n));
		assert_int_equal(merkle_frontier_restore(&g, n, store_get, st), 0);
		assert_memory_equal(&g, &f, sizeof(f));
		elen = merkle_frontier_encode(&f, enc);
		assert_int_equal(elen, 8 + count * H);
		assert_int_equal(merkle_frontier_decode(&g, enc, elen), 0);
		assert_memory_equal(&g, &f, sizeof(f));
		assert_int_equal(merkle_frontier_decode(&g, enc, elen - 1), -1);
		assert_int_equal(merkle_frontier_decode(&g, enc, elen + 1), -1);
	}

	/* A restored frontier appends like the original. */
	st->limit = 100;
	assert_int_equal(merkle_frontier_restore(&g, 100, store_get, st), 0);
	for (uint64_t n = 100; n < FRONTIER_MAX; n++)
		assert_int_equal(merkle_frontier_append(&g, leaves[n], NULL, NULL),
		    0);
	merkle_frontier_root(&g, got);
	merkle_frontier_root(&f, want);
	assert_memory_equal(got, want, H);
	free(st);
	free(leaves);
}

static int
failing_get(void *ctx, unsigned level, uint64_t index, unsigned char out[H])
{
	(void)ctx;
	(void)level;
	(void)index;
	memset(out, 0, H);
	return 7;
}

static void
test_errors(void **state)
{
	unsigned char path[MERKLE_MAX_PATH][H], h[H];
	struct merkle_frontier f;
	struct merkle_nodes ns;
	size_t len;

	(void)state;
	/* A failing lookup's own result comes back. */
	assert_int_equal(merkle_inclusion_proof(3, 10, failing_get, NULL, path,
	    &len), 7);
	assert_int_equal(merkle_consistency_proof(3, 10, failing_get, NULL,
	    path, &len), 7);
	assert_int_equal(merkle_root(10, failing_get, NULL, h), 7);
	merkle_frontier_init(&f);
	f.size = 3;
	assert_int_equal(merkle_frontier_restore(&f, 3, failing_get, NULL), 7);
	assert_int_equal(f.size, 0);
	/* Ranges no stored nodes tile. */
	assert_int_equal(merkle_subtree_root(1, 3, failing_get, NULL, h), -1);
	assert_int_equal(merkle_subtree_root(2, 6, failing_get, NULL, h), -1);
	assert_int_equal(merkle_subtree_root(5, 4, failing_get, NULL, h), -1);
	assert_int_equal(merkle_subtree_root(2, 5, failing_get, NULL, h), 7);
	/* A full tree takes no more leaves. */
	f.size = UINT64_MAX;
	assert_int_equal(merkle_frontier_append(&f, h, NULL, NULL), -1);
	assert_int_equal(f.size, UINT64_MAX);
	/* The node set refuses what it did not list. */
	merkle_nodes_init(&ns);
	assert_int_equal(merkle_inclusion_nodes(2, 5, ns.level, ns.index,
	    &ns.count), 0);
	assert_int_equal(merkle_nodes_set(&ns, 0, 2, h), -1);
	assert_int_equal(merkle_nodes_get(&ns, ns.level[0], ns.index[0], h), -1);
	assert_int_equal(merkle_nodes_set(&ns, ns.level[0], ns.index[0], h), 0);
	assert_int_equal(merkle_nodes_get(&ns, ns.level[0], ns.index[0], h), 0);
}

/* ---- trees near 2^64 leaves ----------------------------------------------
 * A tree whose leaves are all equal has the same hash for every node of a
 * level, so any size can be served without storage, consistently. */

static unsigned char same[MERKLE_MAX_LEVELS][H];

static int
same_get(void *ctx, unsigned level, uint64_t index, unsigned char out[H])
{
	uint64_t size = *(const uint64_t *)ctx;

	if (level >= MERKLE_MAX_LEVELS || (index + 1) > size >> level)
		fail_msg("node (%u, %llu) beyond size %llu", level,
		    (unsigned long long)index, (unsigned long long)size);
	memcpy(out, same[level], H);
	return 0;
}

static void
test_huge(void **state)
{
	static const uint64_t sizes[] = {
		UINT64_MAX, UINT64_MAX - 1, (uint64_t)1 << 63,
		((uint64_t)1 << 63) + 1, ((uint64_t)1 << 63) - 1,
		0x5555555555555555ULL, 0xaaaaaaaaaaaaaaabULL,
	};
	unsigned char path[MERKLE_MAX_PATH][H], r1[H], r2[H];
	unsigned levels[MERKLE_MAX_NODES];
	uint64_t indexes[MERKLE_MAX_NODES];
	struct merkle_frontier f;
	size_t len, count, most_nodes = 0, most_path = 0;

	(void)state;
	merkle_leaf_hash("same", 4, same[0]);
	for (int k = 1; k < MERKLE_MAX_LEVELS; k++)
		merkle_node_hash(same[k - 1], same[k - 1], same[k]);

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint64_t n = sizes[s];
		const uint64_t picks[] = { 0, 1, n / 3, n / 2, n - 2, n - 1 };

		/* The frontier of this size gives the same root. */
		merkle_frontier_init(&f);
		f.size = n;
		for (int k = 0; k < MERKLE_MAX_LEVELS; k++)
			memcpy(f.node[k], same[k], H);
		merkle_frontier_root(&f, r2);
		assert_int_equal(merkle_root(n, same_get, &n, r1), 0);
		assert_memory_equal(r1, r2, H);

		for (size_t p = 0; p < sizeof(picks) / sizeof(picks[0]); p++) {
			uint64_t i = picks[p], m = picks[p];

			assert_int_equal(merkle_inclusion_proof(i, n, same_get, &n,
			    path, &len), 0);
			assert_int_equal(merkle_verify_inclusion(same[0], i, n,
			    (const unsigned char (*)[H])path, len, r2), 0);
			assert_int_equal(merkle_inclusion_nodes(i, n, levels,
			    indexes, &count), 0);
			most_nodes = count > most_nodes ? count : most_nodes;
			most_path = len > most_path ? len : most_path;

			if (m == 0)
				continue;
			assert_int_equal(merkle_root(m, same_get, &m, r1), 0);
			assert_int_equal(merkle_consistency_proof(m, n, same_get,
			    &n, path, &len), 0);
			assert_int_equal(merkle_verify_consistency(m, n, r1, r2,
			    (const unsigned char (*)[H])path, len), 0);
			if (len > 0)
				assert_int_equal(merkle_verify_consistency(m, n,
				    r2, r1, (const unsigned char (*)[H])path,
				    len), -1);
			assert_int_equal(merkle_consistency_nodes(m, n, levels,
			    indexes, &count), 0);
			most_nodes = count > most_nodes ? count : most_nodes;
			most_path = len > most_path ? len : most_path;
		}
	}
	/* The worst cases reach the bounds the header promises, not more. */
	assert_true(most_path <= MERKLE_MAX_PATH);
	assert_true(most_nodes <= MERKLE_MAX_NODES);
	assert_true(most_path >= 64);
	assert_true(most_nodes >= 126);
	/* A consistency proof of 65 hashes: to 2^64 - 1 leaves from 2^63 + 1,
	 * whose last leaf is one of the deepest. */
	{
		uint64_t n = UINT64_MAX, m = ((uint64_t)1 << 63) + 1;

		assert_int_equal(merkle_consistency_proof(m, n, same_get, &n, path,
		    &len), 0);
		assert_int_equal(len, MERKLE_MAX_PATH);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kat_roots),
		cmocka_unit_test(test_kat_inclusion),
		cmocka_unit_test(test_kat_consistency),
		cmocka_unit_test(test_kat_node_lists),
		cmocka_unit_test(test_all_inclusion),
		cmocka_unit_test(test_all_consistency),
		cmocka_unit_test(test_consistency_edges),
		cmocka_unit_test(test_frontier),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_huge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
