/* cmd_ledger.c - bevis keygen, checkpoint and proof: the ledger's keys,
 * its latest signed tree head, and inclusion proofs. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "checkpoint.h"
#include "cli.h"
#include "curvekey.h"
#include "keyfile.h"
#include "hex.h"
#include "ledgerdb.h"
#include "merkle.h"
#include "xmalloc.h"

/* bevis keygen --curve DIR [--name NAME]: a CURVE key pair for bevisd or
 * for a supplier, as DIR/NAME.key (the Z85 secret key, 0600) and
 * DIR/NAME.pub (the Z85 public key, 0644). */
static int
keygen_curve(const char *dir, const char *name)
{
	char pub[CURVE_Z85_LEN + 1], sec[CURVE_Z85_LEN + 1], line[CURVE_Z85_LEN + 2];
	char fp[CURVE_FINGERPRINT_LEN + 1], err[300];
	int rc = 1;

	if (*name == '\0' || strchr(name, '/') || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0) {
		fprintf(stderr, "bevis keygen: --name must be a file name without "
		    "'/', not '%s'\n", name);
		return 2;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "bevis keygen: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	if (zmq_curve_keypair(pub, sec) < 0 ||
	    curvekey_fingerprint(pub, fp) < 0) {
		fprintf(stderr, "bevis keygen: no CURVE key pair: %s\n",
		    zmq_strerror(errno));
		return 1;
	}
	char *skp = xasprintf("%s/%s.key", dir, name);
	char *pkp = xasprintf("%s/%s.pub", dir, name);
	/* Neither file is overwritten; check both before writing either. */
	if (access(skp, F_OK) == 0 || access(pkp, F_OK) == 0) {
		fprintf(stderr, "bevis keygen: %s: %s\n", access(skp, F_OK) == 0 ?
		    skp : pkp, strerror(EEXIST));
		goto out;
	}
	snprintf(line, sizeof(line), "%s\n", sec);
	if (keyfile_write(skp, line, strlen(line), 0600, err, sizeof(err)) < 0) {
		fprintf(stderr, "bevis keygen: %s\n", err);
		goto out;
	}
	snprintf(line, sizeof(line), "%s\n", pub);
	if (keyfile_write(pkp, line, strlen(line), 0644, err, sizeof(err)) < 0) {
		fprintf(stderr, "bevis keygen: %s\n", err);
		unlink(skp);
		goto out;
	}
	printf("CURVE secret key %s (mode 0600): it stays where it is used\n"
	    "CURVE public key %s, fingerprint %s\n"
	    "for bevisd: curve_secret_key = %s, and clients get %s\n"
	    "for a supplier: bevis supplier add SUPPLIER --key-file %s, and "
	    "the supplier gets %s\n", skp, pkp, fp, skp, pkp, pkp, skp);
	rc = 0;
out:
	memset(sec, 0, sizeof(sec));
	memset(line, 0, sizeof(line));
	free(skp);
	free(pkp);
	return rc;
}

int
cmd_keygen(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "ledger", required_argument, NULL, 'l' },
		{ "curve", required_argument, NULL, 'C' },
		{ "name", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 } };
	const char *dir = NULL, *curve = NULL, *name = NULL;
	char host[128] = "localhost", defname[160], err[300];
	struct buf sk = BUF_INIT, vk = BUF_INIT;
	int ch, rc = 1;

	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		if (ch == 'l')
			dir = optarg;
		else if (ch == 'C')
			curve = optarg;
		else if (ch == 'n')
			name = optarg;
		else
			goto usage;
	}
	if ((dir == NULL) == (curve == NULL) || optind != argc)
		goto usage;
	if (curve)
		return keygen_curve(curve, name ? name : "curve");
	if (name == NULL) {
		gethostname(host, sizeof(host) - 1);
		snprintf(defname, sizeof(defname), "bevis-%s", host);
		name = defname;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "bevis keygen: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	if (checkpoint_key_generate(name, &sk, &vk, err, sizeof(err)) < 0) {
		fprintf(stderr, "bevis keygen: %s\n", err);
		return 1;
	}
	char *skp = xasprintf("%s/ledger.key", dir);
	char *vkp = xasprintf("%s/ledger.pub", dir);
	buf_putc(&sk, '\n');
	buf_putc(&vk, '\n');
	if (keyfile_write(skp, sk.data, sk.len, 0600, err, sizeof(err)) < 0 ||
	    keyfile_write(vkp, vk.data, vk.len, 0644, err, sizeof(err)) < 0) {
		fprintf(stderr, "bevis keygen: %s\n", err);
	} else {
		printf("ledger signing key %s (secret, mode 0600)\n"
		    "ledger public key  %s: give it to auditors\n"
		    "set ledger_key = %s in bevisd.conf\n", skp, vkp, skp);
		rc = 0;
	}
	memset(sk.data, 0, sk.len);
	buf_free(&sk);
	buf_free(&vk);
	free(skp);
	free(vkp);
	return rc;
usage:
	return cli_usage("keygen", stderr);
}

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
