#include "ledgerdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

int
ledger_fetch_nodes(PGconn *conn, struct merkle_nodes *ns, char *err,
    size_t errlen)
{
	struct buf lv = BUF_INIT, ix = BUF_INIT;
	PGresult *res;
	int rc = -1;

	buf_putc(&lv, '{');
	buf_putc(&ix, '{');
	for (size_t i = 0; i < ns->count; i++) {
		buf_printf(&lv, "%s%u", i ? "," : "", ns->level[i]);
		buf_printf(&ix, "%s%llu", i ? "," : "",
		    (unsigned long long)ns->index[i]);
	}
	buf_putc(&lv, '}');
	buf_putc(&ix, '}');
	const char *params[2] = { buf_cstr(&lv), buf_cstr(&ix) };
	res = PQexecParams(conn,
	    "SELECT w.l, w.i, coalesce(n.hash, f.hash) "
	    "  FROM unnest($1::int[], $2::bigint[]) AS w(l, i) "
	    "  LEFT JOIN ledger_node n ON w.l > 0 AND n.level = w.l AND n.idx = w.i "
	    "  LEFT JOIN ledger_leaf f ON w.l = 0 AND f.idx = w.i",
	    2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", PQerrorMessage(conn));
		goto out;
	}
	for (int r = 0; r < PQntuples(res); r++) {
		size_t n;
		unsigned char *h;

		if (PQgetisnull(res, r, 2)) {
			snprintf(err, errlen, "ledger node (level %s, index %s) is "
			    "missing", PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
			goto out;
		}
		h = PQunescapeBytea((const unsigned char *)PQgetvalue(res, r, 2), &n);
		if (h == NULL || n != MERKLE_HASH_LEN ||
		    merkle_nodes_set(ns, (unsigned)atoi(PQgetvalue(res, r, 0)),
		    strtoull(PQgetvalue(res, r, 1), NULL, 10), h) < 0) {
			PQfreemem(h);
			snprintf(err, errlen, "ledger node (level %s, index %s) is "
			    "malformed", PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
			goto out;
		}
		PQfreemem(h);
	}
	rc = 0;
out:
	PQclear(res);
	buf_free(&lv);
	buf_free(&ix);
	return rc;
}

int
ledger_inclusion(PGconn *conn, uint64_t leaf, uint64_t size,
    unsigned char path[][MERKLE_HASH_LEN], size_t *len,
    unsigned char root[MERKLE_HASH_LEN], unsigned char leaf_hash[MERKLE_HASH_LEN],
    char *err, size_t errlen)
{
	struct merkle_nodes ns;
	unsigned levels[MERKLE_MAX_LEVELS];
	uint64_t idx[MERKLE_MAX_LEVELS];
	size_t nf, nincl;

	if (leaf >= size) {
		snprintf(err, errlen, "leaf %llu is not in a tree of size %llu",
		    (unsigned long long)leaf, (unsigned long long)size);
		return -1;
	}
	merkle_nodes_init(&ns);
	if (merkle_inclusion_nodes(leaf, size, ns.level, ns.index, &nincl) < 0) {
		snprintf(err, errlen, "bad leaf or tree size");
		return -1;
	}
	ns.count = nincl;
	/* The root's nodes and the leaf itself, unless listed already. */
	merkle_frontier_nodes(size, levels, idx, &nf);
	for (size_t i = 0; i <= nf; i++) {
		unsigned l = i < nf ? levels[i] : 0;
		uint64_t x = i < nf ? idx[i] : leaf;
		int dup = 0;
		for (size_t k = 0; k < ns.count; k++)
			if (ns.level[k] == l && ns.index[k] == x)
				dup = 1;
		if (!dup && ns.count < MERKLE_MAX_NODES) {
			ns.level[ns.count] = l;
			ns.index[ns.count++] = x;
		}
	}
	if (ledger_fetch_nodes(conn, &ns, err, errlen) < 0)
		return -1;
	if (merkle_inclusion_proof(leaf, size, merkle_nodes_get, &ns, path,
	    len) != 0 || merkle_root(size, merkle_nodes_get, &ns, root) != 0 ||
	    merkle_nodes_get(&ns, 0, leaf, leaf_hash) != 0) {
		snprintf(err, errlen, "cannot build the proof from the stored nodes");
		return -1;
	}
	return 0;
}
