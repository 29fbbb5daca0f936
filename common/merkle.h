/* merkle.h - the evidence ledger's Merkle tree, exactly as RFC 9162
 * (Certificate Transparency v2) section 2.1 defines it, without storage.
 *
 * Nodes are named by (level, index): the node at level k and index i is the
 * root of the perfect subtree over leaves [i * 2^k, (i + 1) * 2^k). Level 0
 * is the leaf hash itself. Only such perfect nodes are ever stored; a node
 * of a tree whose size is not a power of two (RFC 9162's "ephemeral" nodes
 * on the right edge) is always recomputed from perfect ones, so a stored
 * node never changes once written.
 *
 * Storage is the caller's: appends report the perfect nodes they complete
 * through a callback, and proofs read them back through a lookup callback.
 * To read them in one query, ask first which nodes a proof needs
 * (merkle_inclusion_nodes, merkle_consistency_nodes, merkle_frontier_nodes),
 * fetch those rows into a struct merkle_nodes, and pass merkle_nodes_get
 * as the lookup; the proof functions then ask for exactly those nodes. */
#ifndef BEVIS_MERKLE_H
#define BEVIS_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"

#define MERKLE_HASH_LEN		32
/* Levels 0..63: a tree of at most 2^64 - 1 leaves. */
#define MERKLE_MAX_LEVELS	64
/* The longest inclusion path (64) or consistency proof (64 + 1 hashes). */
#define MERKLE_MAX_PATH		65
/* The most perfect nodes one proof or root needs: the path, with its one
 * possibly non-perfect element split into up to 63 perfect ones. */
#define MERKLE_MAX_NODES	128

/* Stores nothing; the node's hash is only valid during the call. */
typedef void merkle_node_cb(void *ctx, unsigned level, uint64_t index,
    const unsigned char hash[MERKLE_HASH_LEN]);
/* Writes the hash of stored node (level, index) into out and returns 0, or
 * returns nonzero (passed back to the caller of the proof) when it cannot. */
typedef int merkle_get_cb(void *ctx, unsigned level, uint64_t index,
    unsigned char out[MERKLE_HASH_LEN]);

/* SHA-256(0x00 || data). */
void merkle_leaf_hash(const void *data, size_t len,
    unsigned char out[MERKLE_HASH_LEN]);
/* SHA-256(0x01 || left || right). out may alias left or right. */
void merkle_node_hash(const unsigned char left[MERKLE_HASH_LEN],
    const unsigned char right[MERKLE_HASH_LEN],
    unsigned char out[MERKLE_HASH_LEN]);
/* SHA-256 of the empty string: the root of the empty tree. */
void merkle_empty_root(unsigned char out[MERKLE_HASH_LEN]);

/* ---- appending ----------------------------------------------------------
 * The frontier (a "compact range" over [0, size)) holds one perfect subtree
 * per set bit of size: enough to append and to give the root, in O(log n)
 * time and 2 KiB, without reading any stored node. */
struct merkle_frontier {
	uint64_t size;
	/* node[k] is the perfect subtree at level k when bit k of size is
	 * set (it covers the leaves just left of those of lower levels), and
	 * zero otherwise, so that equal frontiers compare equal bytewise. */
	unsigned char node[MERKLE_MAX_LEVELS][MERKLE_HASH_LEN];
};

/* The empty tree. */
void merkle_frontier_init(struct merkle_frontier *f);
/* Appends leaf hash (not leaf data) at index f->size. Calls cb, if not
 * NULL, once for the leaf (level 0) and once for every perfect node the
 * leaf completes, lowest level first. Returns -1, changing nothing, when
 * the tree already has 2^64 - 1 leaves. */
int merkle_frontier_append(struct merkle_frontier *f,
    const unsigned char leaf_hash[MERKLE_HASH_LEN], merkle_node_cb *cb,
    void *ctx) MUSTCHECK;
/* The RFC 9162 root (MTH) of the first f->size leaves. */
void merkle_frontier_root(const struct merkle_frontier *f,
    unsigned char out[MERKLE_HASH_LEN]);
/* The perfect nodes a tree of size leaves is made of, left to right
 * (highest level first): one per set bit of size, so at most 64. These are
 * the nodes merkle_frontier_restore and merkle_root read. */
void merkle_frontier_nodes(uint64_t size, unsigned levels[MERKLE_MAX_LEVELS],
    uint64_t indexes[MERKLE_MAX_LEVELS], size_t *count);
/* Rebuilds the frontier of a tree of size leaves from its stored nodes.
 * Returns 0, or get's nonzero result (f is then the empty tree). */
int merkle_frontier_restore(struct merkle_frontier *f, uint64_t size,
    merkle_get_cb *get, void *ctx) MUSTCHECK;
/* Appends the frontier as the 8-byte big-endian size followed by its nodes
 * in merkle_frontier_nodes order: 8 + 32 * popcount(size) bytes, at most
 * MERKLE_FRONTIER_MAX_ENCODED. */
#define MERKLE_FRONTIER_MAX_ENCODED (8 + MERKLE_MAX_LEVELS * MERKLE_HASH_LEN)
size_t merkle_frontier_encode(const struct merkle_frontier *f,
    unsigned char out[MERKLE_FRONTIER_MAX_ENCODED]);
/* The reverse; returns -1 unless len is exactly what the size needs. */
int merkle_frontier_decode(struct merkle_frontier *f, const unsigned char *p,
    size_t len) MUSTCHECK;

/* ---- roots and proofs from stored nodes ---------------------------------
 * All return 0, -1 for arguments out of range, or get's nonzero result. */

/* The RFC 9162 MTH of leaves [start, end), folded from the perfect nodes
 * that tile it. The range must be tileable by stored nodes: start must be a
 * multiple of the largest power of two not above end - start, which holds
 * for every subtree of an RFC 9162 tree and for every [0, n). An empty
 * range gives the empty tree's hash. */
int merkle_subtree_root(uint64_t start, uint64_t end, merkle_get_cb *get,
    void *ctx, unsigned char out[MERKLE_HASH_LEN]) MUSTCHECK;
/* MTH of the first tree_size leaves. */
int merkle_root(uint64_t tree_size, merkle_get_cb *get, void *ctx,
    unsigned char out[MERKLE_HASH_LEN]) MUSTCHECK;
/* RFC 9162 section 2.1.3.1 PATH(leaf_index, D[tree_size]), leaf first,
 * into path; *len gets the number of hashes (at most MERKLE_MAX_PATH). */
int merkle_inclusion_proof(uint64_t leaf_index, uint64_t tree_size,
    merkle_get_cb *get, void *ctx, unsigned char path[][MERKLE_HASH_LEN],
    size_t *len) MUSTCHECK;
/* RFC 9162 section 2.1.4.1 PROOF(old_size, D[new_size]). The RFC defines
 * it for 0 < old_size < new_size; for old_size 0 or old_size == new_size
 * the proof is empty (there is nothing to prove). */
int merkle_consistency_proof(uint64_t old_size, uint64_t new_size,
    merkle_get_cb *get, void *ctx, unsigned char path[][MERKLE_HASH_LEN],
    size_t *len) MUSTCHECK;

/* The stored nodes the matching proof function reads, in the order it
 * reads them, each once: at most MERKLE_MAX_NODES. Same -1 cases. */
int merkle_inclusion_nodes(uint64_t leaf_index, uint64_t tree_size,
    unsigned levels[MERKLE_MAX_NODES], uint64_t indexes[MERKLE_MAX_NODES],
    size_t *count) MUSTCHECK;
int merkle_consistency_nodes(uint64_t old_size, uint64_t new_size,
    unsigned levels[MERKLE_MAX_NODES], uint64_t indexes[MERKLE_MAX_NODES],
    size_t *count) MUSTCHECK;

/* A small in-memory set of fetched nodes, for a proof computed from one
 * query's rows:
 *
 *	struct merkle_nodes ns;
 *	merkle_nodes_init(&ns);
 *	if (merkle_inclusion_nodes(i, n, ns.level, ns.index, &ns.count) == -1)
 *		...
 *	SELECT level, idx, hash ... WHERE (level, idx) IN
 *	    (SELECT * FROM unnest($1::int[], $2::bigint[]))
 *	for each row: merkle_nodes_set(&ns, level, idx, hash)
 *	merkle_inclusion_proof(i, n, merkle_nodes_get, &ns, path, &len)
 */
struct merkle_nodes {
	size_t count;
	unsigned level[MERKLE_MAX_NODES];
	uint64_t index[MERKLE_MAX_NODES];
	unsigned char hash[MERKLE_MAX_NODES][MERKLE_HASH_LEN];
	unsigned char have[MERKLE_MAX_NODES];
};

void merkle_nodes_init(struct merkle_nodes *ns);
/* Records the hash of a listed node. Returns -1 when (level, index) is not
 * in the list, so a query that returns the wrong rows is noticed. */
int merkle_nodes_set(struct merkle_nodes *ns, unsigned level, uint64_t index,
    const unsigned char hash[MERKLE_HASH_LEN]) MUSTCHECK;
/* A merkle_get_cb over a struct merkle_nodes; returns -1 for a node that
 * was not listed or not set. */
int merkle_nodes_get(void *ns, unsigned level, uint64_t index,
    unsigned char out[MERKLE_HASH_LEN]);

/* ---- verifying (no stored nodes needed) ---------------------------------
 * Both return 0 when the proof is valid and -1 otherwise. */

/* RFC 9162 section 2.1.3.2. */
int merkle_verify_inclusion(const unsigned char leaf_hash[MERKLE_HASH_LEN],
    uint64_t leaf_index, uint64_t tree_size,
    const unsigned char path[][MERKLE_HASH_LEN], size_t len,
    const unsigned char root[MERKLE_HASH_LEN]) MUSTCHECK;
/* RFC 9162 section 2.1.4.2 for 0 < old_size < new_size. Beyond the RFC:
 * equal sizes need an empty proof and equal roots, and old_size 0 needs an
 * empty proof and old_root the empty tree's hash (new_root too if
 * new_size is 0). */
int merkle_verify_consistency(uint64_t old_size, uint64_t new_size,
    const unsigned char old_root[MERKLE_HASH_LEN],
    const unsigned char new_root[MERKLE_HASH_LEN],
    const unsigned char path[][MERKLE_HASH_LEN], size_t len) MUSTCHECK;

#endif
