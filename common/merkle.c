/* merkle.c - RFC 9162 Merkle tree hashing, appends, proofs and their
 * verification, over perfect subtrees kept by the caller. */
#include "merkle.h"

#include <string.h>

#include <openssl/evp.h>

#include "sha256.h"

void
merkle_leaf_hash(const void *data, size_t len, unsigned char out[MERKLE_HASH_LEN])
{
	static const unsigned char prefix = 0x00;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned int n = 0;

	if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, &prefix, 1) != 1 ||
	    EVP_DigestUpdate(c, data, len) != 1 ||
	    EVP_DigestFinal_ex(c, out, &n) != 1 || n != MERKLE_HASH_LEN)
		fatalx("merkle_leaf_hash: SHA-256 failed");
	EVP_MD_CTX_free(c);
}

void
merkle_node_hash(const unsigned char left[MERKLE_HASH_LEN],
    const unsigned char right[MERKLE_HASH_LEN], unsigned char out[MERKLE_HASH_LEN])
{
	/* One contiguous input lets EVP_Digest run without a context
	 * allocation, and makes out aliasing left or right harmless. */
	unsigned char in[1 + 2 * MERKLE_HASH_LEN];

	in[0] = 0x01;
	memcpy(in + 1, left, MERKLE_HASH_LEN);
	memcpy(in + 1 + MERKLE_HASH_LEN, right, MERKLE_HASH_LEN);
	sha256(in, sizeof(in), out);
}

void
merkle_empty_root(unsigned char out[MERKLE_HASH_LEN])
{
	sha256("", 0, out);
}

/* The largest power of two below n, for n >= 2: RFC 9162's k. */
static uint64_t
split_point(uint64_t n)
{
	return (uint64_t)1 << (63 - __builtin_clzll(n - 1));
}

/* ---- appending ---------------------------------------------------------- */

void
merkle_frontier_init(struct merkle_frontier *f)
{
	memset(f, 0, sizeof(*f));
}

int
merkle_frontier_append(struct merkle_frontier *f,
    const unsigned char leaf_hash[MERKLE_HASH_LEN], merkle_node_cb *cb, void *ctx)
{
	unsigned char h[MERKLE_HASH_LEN];
	uint64_t index = f->size;
	unsigned level = 0;

	if (f->size == UINT64_MAX)
		return -1;
	memcpy(h, leaf_hash, MERKLE_HASH_LEN);
	if (cb != NULL)
		cb(ctx, 0, index, h);
	/* Adding one carries through the set low bits of size: each carry
	 * is a left sibling that the new node completes. */
	while (f->size >> level & 1) {
		merkle_node_hash(f->node[level], h, h);
		/* Unused slots stay zero, so equal trees have equal bytes. */
		memset(f->node[level], 0, MERKLE_HASH_LEN);
		level++;
		index >>= 1;
		if (cb != NULL)
			cb(ctx, level, index, h);
	}
	memcpy(f->node[level], h, MERKLE_HASH_LEN);
	f->size++;
	return 0;
}

void
merkle_frontier_root(const struct merkle_frontier *f,
    unsigned char out[MERKLE_HASH_LEN])
{
	unsigned char r[MERKLE_HASH_LEN];
	unsigned level;

	if (f->size == 0) {
		merkle_empty_root(out);
		return;
	}
	/* MTH splits off the largest power of two first, so the root is the
	 * perfect subtrees folded from the right: the smallest is innermost. */
	level = (unsigned)__builtin_ctzll(f->size);
	memcpy(r, f->node[level], MERKLE_HASH_LEN);
	for (level++; level < MERKLE_MAX_LEVELS; level++)
		if (f->size >> level & 1)
			merkle_node_hash(f->node[level], r, r);
	memcpy(out, r, MERKLE_HASH_LEN);
}

void
merkle_frontier_nodes(uint64_t size, unsigned levels[MERKLE_MAX_LEVELS],
    uint64_t indexes[MERKLE_MAX_LEVELS], size_t *count)
{
	size_t n = 0;

	for (int level = MERKLE_MAX_LEVELS - 1; level >= 0; level--) {
		if (!(size >> level & 1))
			continue;
		levels[n] = (unsigned)level;
		indexes[n] = (size >> level) - 1;
		n++;
	}
	*count = n;
}

int
merkle_frontier_restore(struct merkle_frontier *f, uint64_t size,
    merkle_get_cb *get, void *ctx)
{
	unsigned levels[MERKLE_MAX_LEVELS];
	uint64_t indexes[MERKLE_MAX_LEVELS];
	size_t n;
	int rc;

	merkle_frontier_init(f);
	merkle_frontier_nodes(size, levels, indexes, &n);
	for (size_t i = 0; i < n; i++) {
		if ((rc = get(ctx, levels[i], indexes[i], f->node[levels[i]])) != 0) {
			merkle_frontier_init(f);
			return rc;
		}
	}
	f->size = size;
	return 0;
}

size_t
merkle_frontier_encode(const struct merkle_frontier *f,
    unsigned char out[MERKLE_FRONTIER_MAX_ENCODED])
{
	size_t off = 8;

	for (int i = 0; i < 8; i++)
		out[i] = (unsigned char)(f->size >> (56 - 8 * i));
	for (int level = MERKLE_MAX_LEVELS - 1; level >= 0; level--) {
		if (!(f->size >> level & 1))
			continue;
		memcpy(out + off, f->node[level], MERKLE_HASH_LEN);
		off += MERKLE_HASH_LEN;
	}
	return off;
}

int
merkle_frontier_decode(struct merkle_frontier *f, const unsigned char *p,
    size_t len)
{
	uint64_t size = 0;
	size_t off = 8;

	if (len < 8)
		return -1;
	for (int i = 0; i < 8; i++)
		size = size << 8 | p[i];
	if (len != 8 + (size_t)__builtin_popcountll(size) * MERKLE_HASH_LEN)
		return -1;
	merkle_frontier_init(f);
	for (int level = MERKLE_MAX_LEVELS - 1; level >= 0; level--) {
		if (!(size >> level & 1))
			continue;
		memcpy(f->node[level], p + off, MERKLE_HASH_LEN);
		off += MERKLE_HASH_LEN;
	}
	f->size = size;
	return 0;
}

/* ---- roots and proofs from stored nodes --------------------------------- */

int
merkle_subtree_root(uint64_t start, uint64_t end, merkle_get_cb *get,
    void *ctx, unsigned char out[MERKLE_HASH_LEN])
{
	unsigned char piece[MERKLE_MAX_LEVELS][MERKLE_HASH_LEN];
	uint64_t size = end - start, off = start;
	int top, n = 0, rc;

	if (end < start)
		return -1;
	if (size == 0) {
		merkle_empty_root(out);
		return 0;
	}
	/* The tiling follows the bits of size from the top, so each piece is
	 * aligned (hence stored) exactly when the first one is. */
	top = 63 - __builtin_clzll(size);
	if (start & (((uint64_t)1 << top) - 1))
		return -1;
	for (int level = top; level >= 0; level--) {
		if (!(size >> level & 1))
			continue;
		if ((rc = get(ctx, (unsigned)level, off >> level, piece[n])) != 0)
			return rc;
		off += (uint64_t)1 << level;
		n++;
	}
	while (--n > 0)
		merkle_node_hash(piece[n - 1], piece[n], piece[n - 1]);
	memcpy(out, piece[0], MERKLE_HASH_LEN);
	return 0;
}

int
merkle_root(uint64_t tree_size, merkle_get_cb *get, void *ctx,
    unsigned char out[MERKLE_HASH_LEN])
{
	return merkle_subtree_root(0, tree_size, get, ctx, out);
}

struct proof {
	merkle_get_cb *get;
	void *ctx;
	unsigned char (*path)[MERKLE_HASH_LEN];
	size_t len;
};

/* Appends MTH(D[start:end]) to the proof. */
static int
proof_add(struct proof *p, uint64_t start, uint64_t end)
{
	int rc;

	if (p->len == MERKLE_MAX_PATH)
		return -1;		/* cannot happen for 64-bit sizes */
	if ((rc = merkle_subtree_root(start, end, p->get, p->ctx,
	    p->path[p->len])) != 0)
		return rc;
	p->len++;
	return 0;
}

/* PATH(m, D[start:start+n]) of RFC 9162 section 2.1.3.1, with 0 <= m < n:
 *   PATH(0, {d0}) = {}
 *   PATH(m, D_n) = PATH(m, D[0:k]) : MTH(D[k:n])	for m < k
 *   PATH(m, D_n) = PATH(m - k, D[k:n]) : MTH(D[0:k])	for m >= k */
static int
inclusion_path(struct proof *p, uint64_t m, uint64_t start, uint64_t n)
{
	uint64_t k;
	int rc;

	if (n == 1)
		return 0;
	k = split_point(n);
	if (m < k) {
		if ((rc = inclusion_path(p, m, start, k)) != 0)
			return rc;
		return proof_add(p, start + k, start + n);
	}
	if ((rc = inclusion_path(p, m - k, start + k, n - k)) != 0)
		return rc;
	return proof_add(p, start, start + k);
}

/* SUBPROOF(m, D[start:start+n], b) of RFC 9162 section 2.1.4.1, with
 * 0 < m <= n:
 *   SUBPROOF(m, D[m], true) = {}
 *   SUBPROOF(m, D[m], false) = {MTH(D[m])}
 *   SUBPROOF(m, D_n, b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])	for m <= k
 *   SUBPROOF(m, D_n, b) = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
 *							for m > k */
static int
consistency_subproof(struct proof *p, uint64_t m, uint64_t start, uint64_t n,
    int b)
{
	uint64_t k;
	int rc;

	if (m == n)
		return b ? 0 : proof_add(p, start, start + n);
	k = split_point(n);
	if (m <= k) {
		if ((rc = consistency_subproof(p, m, start, k, b)) != 0)
			return rc;
		return proof_add(p, start + k, start + n);
	}
	if ((rc = consistency_subproof(p, m - k, start + k, n - k, 0)) != 0)
		return rc;
	return proof_add(p, start, start + k);
}

int
merkle_inclusion_proof(uint64_t leaf_index, uint64_t tree_size,
    merkle_get_cb *get, void *ctx, unsigned char path[][MERKLE_HASH_LEN],
    size_t *len)
{
	struct proof p = { get, ctx, path, 0 };
	int rc;

	*len = 0;
	if (leaf_index >= tree_size)
		return -1;
	if ((rc = inclusion_path(&p, leaf_index, 0, tree_size)) != 0)
		return rc;
	*len = p.len;
	return 0;
}

int
merkle_consistency_proof(uint64_t old_size, uint64_t new_size,
    merkle_get_cb *get, void *ctx, unsigned char path[][MERKLE_HASH_LEN],
    size_t *len)
{
	struct proof p = { get, ctx, path, 0 };
	int rc;

	*len = 0;
	if (old_size > new_size)
		return -1;
	if (old_size == 0 || old_size == new_size)
		return 0;
	if ((rc = consistency_subproof(&p, old_size, 0, new_size, 1)) != 0)
		return rc;
	*len = p.len;
	return 0;
}

/* Listing the nodes runs the proof itself with a lookup that records what
 * it is asked for, so the list cannot drift from what the proof reads. */
struct recorder {
	unsigned *levels;
	uint64_t *indexes;
	size_t count;
};

static int
record_get(void *ctx, unsigned level, uint64_t index,
    unsigned char out[MERKLE_HASH_LEN])
{
	struct recorder *r = ctx;

	if (r->count == MERKLE_MAX_NODES)
		return -1;		/* cannot happen for 64-bit sizes */
	r->levels[r->count] = level;
	r->indexes[r->count] = index;
	r->count++;
	memset(out, 0, MERKLE_HASH_LEN);
	return 0;
}

int
merkle_inclusion_nodes(uint64_t leaf_index, uint64_t tree_size,
    unsigned levels[MERKLE_MAX_NODES], uint64_t indexes[MERKLE_MAX_NODES],
    size_t *count)
{
	unsigned char path[MERKLE_MAX_PATH][MERKLE_HASH_LEN];
	struct recorder r = { levels, indexes, 0 };
	size_t len;
	int rc;

	*count = 0;
	if ((rc = merkle_inclusion_proof(leaf_index, tree_size, record_get, &r,
	    path, &len)) != 0)
		return rc;
	*count = r.count;
	return 0;
}

int
merkle_consistency_nodes(uint64_t old_size, uint64_t new_size,
    unsigned levels[MERKLE_MAX_NODES], uint64_t indexes[MERKLE_MAX_NODES],
    size_t *count)
{
	unsigned char path[MERKLE_MAX_PATH][MERKLE_HASH_LEN];
	struct recorder r = { levels, indexes, 0 };
	size_t len;
	int rc;

	*count = 0;
	if ((rc = merkle_consistency_proof(old_size, new_size, record_get, &r,
	    path, &len)) != 0)
		return rc;
	*count = r.count;
	return 0;
}

void
merkle_nodes_init(struct merkle_nodes *ns)
{
	memset(ns, 0, sizeof(*ns));
}

static size_t
nodes_find(const struct merkle_nodes *ns, unsigned level, uint64_t index)
{
	for (size_t i = 0; i < ns->count && i < MERKLE_MAX_NODES; i++)
		if (ns->level[i] == level && ns->index[i] == index)
			return i;
	return (size_t)-1;
}

int
merkle_nodes_set(struct merkle_nodes *ns, unsigned level, uint64_t index,
    const unsigned char hash[MERKLE_HASH_LEN])
{
	size_t i = nodes_find(ns, level, index);

	if (i == (size_t)-1)
		return -1;
	memcpy(ns->hash[i], hash, MERKLE_HASH_LEN);
	ns->have[i] = 1;
	return 0;
}

int
merkle_nodes_get(void *ctx, unsigned level, uint64_t index,
    unsigned char out[MERKLE_HASH_LEN])
{
	const struct merkle_nodes *ns = ctx;
	size_t i = nodes_find(ns, level, index);

	if (i == (size_t)-1 || !ns->have[i])
		return -1;
	memcpy(out, ns->hash[i], MERKLE_HASH_LEN);
	return 0;
}

/* ---- verifying ---------------------------------------------------------- */

/* The right shifts of RFC 9162 steps "right-shift both fn and sn equally
 * until either LSB(fn) is set or fn is 0". */
static void
shift_to_set_bit(uint64_t *fn, uint64_t *sn)
{
	while (!(*fn & 1) && *fn != 0) {
		*fn >>= 1;
		*sn >>= 1;
	}
}

int
merkle_verify_inclusion(const unsigned char leaf_hash[MERKLE_HASH_LEN],
    uint64_t leaf_index, uint64_t tree_size,
    const unsigned char path[][MERKLE_HASH_LEN], size_t len,
    const unsigned char root[MERKLE_HASH_LEN])
{
	unsigned char r[MERKLE_HASH_LEN];
	uint64_t fn, sn;

	/* 1. */
	if (leaf_index >= tree_size)
		return -1;
	/* 2. and 3. */
	fn = leaf_index;
	sn = tree_size - 1;
	memcpy(r, leaf_hash, MERKLE_HASH_LEN);
	/* 4. */
	for (size_t i = 0; i < len; i++) {
		if (sn == 0)
			return -1;
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(path[i], r, r);
			if (!(fn & 1))
				shift_to_set_bit(&fn, &sn);
		} else
			merkle_node_hash(r, path[i], r);
		fn >>= 1;
		sn >>= 1;
	}
	/* 5. */
	if (sn != 0 || memcmp(r, root, MERKLE_HASH_LEN) != 0)
		return -1;
	return 0;
}

int
merkle_verify_consistency(uint64_t old_size, uint64_t new_size,
    const unsigned char old_root[MERKLE_HASH_LEN],
    const unsigned char new_root[MERKLE_HASH_LEN],
    const unsigned char path[][MERKLE_HASH_LEN], size_t len)
{
	unsigned char fr[MERKLE_HASH_LEN], sr[MERKLE_HASH_LEN];
	unsigned char empty[MERKLE_HASH_LEN];
	uint64_t fn, sn;
	size_t i;

	if (old_size > new_size)
		return -1;
	if (old_size == 0) {
		merkle_empty_root(empty);
		if (len != 0 || memcmp(old_root, empty, MERKLE_HASH_LEN) != 0 ||
		    (new_size == 0 && memcmp(new_root, empty, MERKLE_HASH_LEN) != 0))
			return -1;
		return 0;
	}
	if (old_size == new_size) {
		if (len != 0 || memcmp(old_root, new_root, MERKLE_HASH_LEN) != 0)
			return -1;
		return 0;
	}
	/* 1. */
	if (len == 0)
		return -1;
	/* 2. Prepending first_hash is done by starting from it and reading
	 * the path from its first element instead of its second. */
	i = 0;
	if ((old_size & (old_size - 1)) == 0) {
		memcpy(fr, old_root, MERKLE_HASH_LEN);
	} else {
		memcpy(fr, path[0], MERKLE_HASH_LEN);
		i = 1;
	}
	/* 3. */
	fn = old_size - 1;
	sn = new_size - 1;
	/* 4. */
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	/* 5. */
	memcpy(sr, fr, MERKLE_HASH_LEN);
	/* 6. */
	for (; i < len; i++) {
		if (sn == 0)
			return -1;
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(path[i], fr, fr);
			merkle_node_hash(path[i], sr, sr);
			if (!(fn & 1))
				shift_to_set_bit(&fn, &sn);
		} else
			merkle_node_hash(sr, path[i], sr);
		fn >>= 1;
		sn >>= 1;
	}
	/* 7. */
	if (memcmp(fr, old_root, MERKLE_HASH_LEN) != 0 ||
	    memcmp(sr, new_root, MERKLE_HASH_LEN) != 0 || sn != 0)
		return -1;
	return 0;
}
