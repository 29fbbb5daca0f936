/* treehead.c - signs the ledger's tree head as a checkpoint and stores it
 * in tree_head (docs/LEDGER.md). */
#include "treehead.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "checkpoint.h"
#include "hex.h"
#include "log.h"
#include "sha256.h"

int
treehead_sign(PGconn *conn, const struct checkpoint_signer *signer)
{
	struct buf note = BUF_INIT;
	char err[256], size[24], root_hex[2 + 2 * SHA256_LEN + 1];
	unsigned char root[SHA256_LEN];
	PGresult *res;
	int rc = -1;

	res = PQexecParams(conn, "SELECT n, ledger_root(n), "
	    "n > coalesce((SELECT max(tree_size) FROM tree_head), 0) "
	    "FROM (SELECT coalesce(max(idx) + 1, 0) AS n FROM ledger_leaf) s",
	    0, NULL, NULL, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    PQgetlength(res, 0, 1) != SHA256_LEN) {
		log_warnx("cannot read the tree to sign: %s",
		    PQerrorMessage(conn));
		goto out;
	}
	const unsigned char *n = (const unsigned char *)PQgetvalue(res, 0, 0);
	uint64_t tree_size = 0;
	for (int k = 0; k < 8; k++)
		tree_size = tree_size << 8 | n[k];
	memcpy(root, PQgetvalue(res, 0, 1), SHA256_LEN);
	if (!*PQgetvalue(res, 0, 2)) {
		rc = 0;		/* nothing new */
		goto out;
	}
	if (checkpoint_sign(signer->name, tree_size, root, signer, &note, err,
	    sizeof(err)) < 0) {
		log_error("cannot sign the tree head: %s", err);
		goto out;
	}
	snprintf(size, sizeof(size), "%llu", (unsigned long long)tree_size);
	memcpy(root_hex, "\\x", 2);
	hex_encode(root, SHA256_LEN, root_hex + 2);
	const char *params[3] = { size, root_hex, buf_cstr(&note) };
	PQclear(res);
	res = PQexecParams(conn, "INSERT INTO tree_head (tree_size, root, "
	    "checkpoint) VALUES ($1, $2, $3) ON CONFLICT (tree_size) DO NOTHING",
	    3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		log_warnx("cannot store the tree head: %s",
		    PQerrorMessage(conn));
		goto out;
	}
	log_debug("signed tree head at size %llu", (unsigned long long)tree_size);
	rc = 0;
out:
	PQclear(res);
	buf_free(&note);
	return rc;
}
