/* cmd_ledger.c - bevis checkpoint and proof: the ledger's latest signed tree
 * head, and inclusion proofs. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hex.h"
#include "ledgerdb.h"
#include "merkle.h"
#include "xmalloc.h"

int
cmd_checkpoint(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 } };
	int ch;

	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1)
		if (!cli_common_opt(cli, ch, optarg))
			return cli_usage("checkpoint", stderr);
	PGconn *conn = cli_connect(cli);
	PGresult *res = PQexec(conn, "SELECT checkpoint FROM tree_head "
	    "ORDER BY tree_size DESC LIMIT 1");
	int rc = 1;
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fprintf(stderr, "bevis checkpoint: %s", PQerrorMessage(conn));
	else if (PQntuples(res) == 0)
		fprintf(stderr, "bevis checkpoint: no signed tree head yet\n");
	else {
		fputs(PQgetvalue(res, 0, 0), stdout);
		rc = 0;
	}
	PQclear(res);
	PQfinish(conn);
	return rc;
}

static int
query_int(PGconn *conn, const char *sql, const char *param, long long *out)
{
	const char *params[1] = { param };
	PGresult *res = PQexecParams(conn, sql, param ? 1 : 0, NULL, params,
	    NULL, NULL, 0);
	int rc = -1;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fprintf(stderr, "bevis: %s", PQerrorMessage(conn));
	else if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
		*out = atoll(PQgetvalue(res, 0, 0));
		rc = 0;
	} else
		rc = 1;
	PQclear(res);
	return rc;
}

int
cmd_proof(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "submission", required_argument, NULL, 's' },
		{ "leaf", required_argument, NULL, 'l' },
		{ "tree-size", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 } };
	const char *sub = NULL, *leaf_arg = NULL, *size_arg = NULL;
	unsigned char path[MERKLE_MAX_PATH][MERKLE_HASH_LEN], root[32], lh[32];
	char hex[65], err[300];
	long long leaf = -1, size = -1;
	size_t len;
	int ch, json = 0, rc = 1;

	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		switch (ch) {
		case 's': sub = optarg; break;
		case 'l': leaf_arg = optarg; break;
		case 't': size_arg = optarg; break;
		case 'j': json = 1; break;
		default: goto usage;
		}
	}
	if (optind != argc || (sub == NULL) == (leaf_arg == NULL))
		goto usage;
	PGconn *conn = cli_connect(cli);
	if (sub && query_int(conn, "SELECT idx FROM ledger_leaf WHERE "
	    "kind = 'submission' AND submission_id = $1::bigint", sub, &leaf) != 0) {
		fprintf(stderr, "bevis proof: submission %s has no ledger leaf\n", sub);
		goto out;
	}
	if (leaf_arg)
		leaf = atoll(leaf_arg);
	/* By default against the newest signed head that holds the leaf. */
	if (size_arg)
		size = atoll(size_arg);
	else if (query_int(conn, "SELECT max(tree_size) FROM tree_head", NULL,
	    &size) != 0 || size <= leaf)
		if (query_int(conn, "SELECT max(idx) + 1 FROM ledger_leaf", NULL,
		    &size) != 0)
			size = 0;
	if (leaf < 0 || size <= leaf) {
		fprintf(stderr, "bevis proof: leaf %lld is not in a tree of size "
		    "%lld\n", leaf, size);
		goto out;
	}
	if (ledger_inclusion(conn, (uint64_t)leaf, (uint64_t)size, path, &len,
	    root, lh, err, sizeof(err)) < 0) {
		fprintf(stderr, "bevis proof: %s\n", err);
		goto out;
	}
	if (merkle_verify_inclusion(lh, (uint64_t)leaf, (uint64_t)size, path, len,
	    root) != 0) {
		fprintf(stderr, "bevis proof: the stored nodes give a proof that "
		    "does not verify: run bevis verify\n");
		goto out;
	}
	char sizestr[24];
	snprintf(sizestr, sizeof(sizestr), "%lld", size);
	const char *params[1] = { sizestr };
	PGresult *res = PQexecParams(conn, "SELECT checkpoint, root FROM tree_head "
	    "WHERE tree_size = $1::bigint", 1, NULL, params, NULL, NULL, 1);
	const char *cp = PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : NULL;
	if (cp && (PQgetlength(res, 0, 1) != 32 ||
	    memcmp(PQgetvalue(res, 0, 1), root, 32) != 0)) {
		fprintf(stderr, "bevis proof: the signed head of size %lld has "
		    "another root: run bevis verify\n", size);
		PQclear(res);
		goto out;
	}
	if (json) {
		struct buf b = BUF_INIT;
		hex_encode(lh, 32, hex);
		buf_printf(&b, "{\"leaf_index\":%lld,\"tree_size\":%lld,"
		    "\"leaf_hash\":\"%s\",", leaf, size, hex);
		hex_encode(root, 32, hex);
		buf_printf(&b, "\"root\":\"%s\",\"path\":[", hex);
		for (size_t i = 0; i < len; i++) {
			hex_encode(path[i], 32, hex);
			buf_printf(&b, "%s\"%s\"", i ? "," : "", hex);
		}
		buf_puts(&b, "],\"checkpoint\":");
		if (cp)
			buf_put_json_string(&b, cp, strlen(cp));
		else
			buf_puts(&b, "null");
		buf_puts(&b, "}\n");
		fwrite(b.data, 1, b.len, stdout);
		buf_free(&b);
	} else {
		printf("leaf %lld in the tree of size %lld%s\n", leaf, size,
		    cp ? " (a signed tree head)" : " (not signed yet)");
		hex_encode(lh, 32, hex);
		printf("leaf hash  %s\n", hex);
		hex_encode(root, 32, hex);
		printf("root       %s\n", hex);
		printf("path       %zu hashes\n", len);
		for (size_t i = 0; i < len; i++) {
			hex_encode(path[i], 32, hex);
			printf("  %s\n", hex);
		}
		printf("verified (RFC 9162 2.1.3.2)\n");
		if (cp)
			printf("\n%s", cp);
	}
	PQclear(res);
	rc = 0;
out:
	PQfinish(conn);
	return rc;
usage:
	return cli_usage("proof", stderr);
}
