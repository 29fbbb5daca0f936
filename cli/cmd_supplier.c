/* cmd_supplier.c - bevis supplier add|list|revoke: the suppliers and their
 * CURVE public keys. Keys change only through the server's
 * bevis_supplier_add() and bevis_supplier_revoke(), which check the change,
 * record who made it and append a ledger leaf (docs/ROLES.md). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "curvekey.h"
#include "xmalloc.h"

static int
supplier_usage(void)
{
	fprintf(stderr, "usage: bevis supplier add NAME (--public-key Z85 | "
	    "--key-file FILE.pub)\n"
	    "       bevis supplier list [--json]\n"
	    "       bevis supplier revoke NAME\n"
	    "add and revoke need a login in role bevis_isam; the key pair comes "
	    "from\nbevis keygen --curve (the supplier keeps NAME.key, you "
	    "register NAME.pub).\n");
	return 2;
}

/* The server's message, with its detail and hint, on stderr. */
static void
print_error(const char *what, PGconn *conn, const PGresult *res)
{
	char who[64];

	snprintf(who, sizeof(who), "supplier %s", what);
	cli_pg_error(who, conn, res);
}

/* Runs a statement with text parameters; returns its result when the status
 * is want, else prints the error and returns NULL. */
static PGresult *
run(const char *what, PGconn *conn, const char *sql, int n,
    const char *const *params, ExecStatusType want)
{
	PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(res) != want) {
		print_error(what, conn, res);
		PQclear(res);
		return NULL;
	}
	return res;
}

static int
run_ok(const char *what, PGconn *conn, const char *sql)
{
	PGresult *res = run(what, conn, sql, 0, NULL, PGRES_COMMAND_OK);

	PQclear(res);
	return res ? 0 : -1;
}

/* Calls fn (bevis_supplier_add or _revoke) in a transaction of its own and
 * prints what it did. The fingerprint the server recorded must be the one
 * computed here from the key. */
static int
change_key(struct cli *cli, const char *what, const char *name, const char *key)
{
	char fp[CURVE_FINGERPRINT_LEN + 1] = "";
	const char *params[2] = { name, key };
	PGresult *res;
	int existed = 0;

	if (key && curvekey_fingerprint(key, fp) < 0)
		return 2;
	PGconn *conn = cli_connect(cli);
	if (run_ok(what, conn, "BEGIN") < 0)
		goto fail;
	if (key) {
		/* Only for the message: bevis_supplier_add() decides. */
		res = run(what, conn, "SELECT 1 FROM supplier WHERE name = $1", 1,
		    params, PGRES_TUPLES_OK);
		if (res == NULL)
			goto fail;
		existed = PQntuples(res) == 1;
		PQclear(res);
		res = run(what, conn, "SELECT bevis_supplier_add($1, $2), "
		    "session_user", 2, params, PGRES_TUPLES_OK);
	} else {
		res = run(what, conn, "SELECT bevis_supplier_revoke($1), "
		    "session_user", 1, params, PGRES_TUPLES_OK);
	}
	if (res == NULL)
		goto fail;
	char *leaf = xstrdup(PQgetvalue(res, 0, 0));
	char *actor = xstrdup(PQgetvalue(res, 0, 1));
	PQclear(res);
	const char *lp[1] = { leaf };
	res = run(what, conn, "SELECT fingerprint FROM supplier_key_change "
	    "WHERE leaf_idx = $1::bigint", 1, lp, PGRES_TUPLES_OK);
	if (res == NULL || PQntuples(res) != 1 ||
	    (key && strcmp(PQgetvalue(res, 0, 0), fp) != 0)) {
		if (res)
			fprintf(stderr, "bevis supplier %s: the database recorded "
			    "fingerprint %s for the key, not %s: nothing was "
			    "changed\n", what, PQntuples(res) == 1 ?
			    PQgetvalue(res, 0, 0) : "(none)", fp);
		PQclear(res);
		free(leaf);
		free(actor);
		goto fail;
	}
	snprintf(fp, sizeof(fp), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if (run_ok(what, conn, "COMMIT") < 0) {
		free(leaf);
		free(actor);
		goto fail;
	}
	if (key)
		printf("supplier %s: key %s added by %s (%s); ledger leaf %s\n",
		    name, fp, actor, existed ? "the supplier existed without a "
		    "key; it is active now" : "a new supplier, active", leaf);
	else
		printf("supplier %s: key %s revoked by %s (the supplier is "
		    "inactive now); ledger leaf %s\n", name, fp, actor, leaf);
	printf("bevisd %s the key at its next supplier reload "
	    "(supplier_refresh seconds, or at once on SIGHUP)\n",
	    key ? "accepts" : "refuses");
	free(leaf);
	free(actor);
	PQfinish(conn);
	return 0;
fail:
	PQfinish(conn);
	return 1;
}

static int
supplier_add(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "public-key", required_argument, NULL, 'p' },
		{ "key-file", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	const char *key = NULL, *file = NULL;
	char z85[CURVE_Z85_LEN + 1], err[600];
	int ch;

	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		switch (ch) {
		case 'p': key = optarg; break;
		case 'f': file = optarg; break;
		default: return supplier_usage();
		}
	}
	if (optind + 1 != argc || (key == NULL) == (file == NULL))
		return supplier_usage();
	const char *name = argv[optind];
	if (file) {
		size_t l = strlen(file);
		if (l >= 4 && strcmp(file + l - 4, ".key") == 0) {
			fprintf(stderr, "bevis supplier add: %s is a secret key "
			    "file: the supplier keeps it; register the public "
			    "key (the .pub file next to it)\n", file);
			return 2;
		}
		if (curvekey_read(file, 0, z85, err, sizeof(err)) < 0) {
			fprintf(stderr, "bevis supplier add: %s\n", err);
			return 2;
		}
		key = z85;
	} else if (!curvekey_valid(key)) {
		fprintf(stderr, "bevis supplier add: --public-key: not a CURVE "
		    "public key (40 characters of Z85, as in the NAME.pub file "
		    "bevis keygen --curve writes)\n");
		return 2;
	}
	if (curvekey_small_order(key)) {
		fprintf(stderr, "bevis supplier add: %s is a Curve25519 key of "
		    "small order (such as all zeros), which proves nobody's "
		    "identity; refused\n", key);
		return 2;
	}
	return change_key(cli, "add", name, key);
}

static int
supplier_revoke(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	int ch;

	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1)
		if (!cli_common_opt(cli, ch, optarg))
			return supplier_usage();
	if (optind + 1 != argc)
		return supplier_usage();
	return change_key(cli, "revoke", argv[optind], NULL);
}

/* The last submission of a supplier is one probe of the index on
 * submission (supplier_id, received_at). */
static const char list_sql[] =
    "SELECT sp.name, sp.public_key, sp.active, "
    "       (SELECT count(*) FROM event e WHERE e.supplier_id = sp.id), "
    "       to_char((SELECT max(s.received_at) FROM submission s "
    "                 WHERE s.supplier_id = sp.id) AT TIME ZONE 'UTC', "
    "               'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') "
    "  FROM supplier sp ORDER BY sp.name";

static int
supplier_list(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	int ch, json = 0;

	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		if (ch == 'j')
			json = 1;
		else
			return supplier_usage();
	}
	if (optind != argc)
		return supplier_usage();
	PGconn *conn = cli_connect(cli);
	PGresult *res = run("list", conn, list_sql, 0, NULL, PGRES_TUPLES_OK);
	if (res == NULL) {
		PQfinish(conn);
		return 1;
	}
	int rows = PQntuples(res);
	size_t wname = 4;
	for (int r = 0; r < rows; r++)
		if (strlen(PQgetvalue(res, r, 0)) > wname)
			wname = strlen(PQgetvalue(res, r, 0));
	if (!json)
		printf("%-*s  %-32s  %-6s  %10s  %s\n", (int)wname, "NAME",
		    "FINGERPRINT", "ACTIVE", "EVENTS", "LAST SEEN (UTC)");
	struct buf b = BUF_INIT;
	for (int r = 0; r < rows; r++) {
		const char *name = PQgetvalue(res, r, 0);
		const char *key = PQgetvalue(res, r, 1);
		int haskey = !PQgetisnull(res, r, 1);
		int active = PQgetvalue(res, r, 2)[0] == 't';
		const char *events = PQgetvalue(res, r, 3);
		const char *seen = PQgetvalue(res, r, 4);
		int seen_null = PQgetisnull(res, r, 4);
		char fp[CURVE_FINGERPRINT_LEN + 1];

		if (!haskey)
			snprintf(fp, sizeof(fp), "%s", json ? "" : "-");
		else if (curvekey_fingerprint(key, fp) < 0)
			snprintf(fp, sizeof(fp), "(not a CURVE key)");
		if (json) {
			buf_reset(&b);
			buf_puts(&b, "{\"name\":");
			buf_put_json_string(&b, name, strlen(name));
			buf_puts(&b, ",\"public_key\":");
			if (haskey)
				buf_put_json_string(&b, key, strlen(key));
			else
				buf_puts(&b, "null");
			buf_puts(&b, ",\"fingerprint\":");
			if (haskey)
				buf_put_json_string(&b, fp, strlen(fp));
			else
				buf_puts(&b, "null");
			buf_printf(&b, ",\"active\":%s,\"events\":%s,\"last_seen\":",
			    active ? "true" : "false", events);
			if (seen_null)
				buf_puts(&b, "null");
			else
				buf_put_json_string(&b, seen, strlen(seen));
			buf_puts(&b, "}\n");
			fwrite(b.data, 1, b.len, stdout);
		} else {
			char t[20] = "-";
			if (!seen_null) {
				/* seconds are enough in a table */
				snprintf(t, sizeof(t), "%.19s", seen);
				t[10] = ' ';
			}
			printf("%-*s  %-32s  %-6s  %10s  %s\n", (int)wname, name, fp,
			    active ? "yes" : "no", events, t);
		}
	}
	buf_free(&b);
	if (!json)
		fprintf(stderr, "%d supplier%s\n", rows, rows == 1 ? "" : "s");
	PQclear(res);
	PQfinish(conn);
	return 0;
}

int
cmd_supplier(struct cli *cli, int argc, char **argv)
{
	if (argc < 2)
		return supplier_usage();
	/* The subcommand's options follow it: parse argv[1..] with argv[1]
	 * standing where getopt expects the program name. */
	if (strcmp(argv[1], "add") == 0)
		return supplier_add(cli, argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0)
		return supplier_list(cli, argc - 1, argv + 1);
	if (strcmp(argv[1], "revoke") == 0)
		return supplier_revoke(cli, argc - 1, argv + 1);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		supplier_usage();
		return 0;
	}
	fprintf(stderr, "bevis supplier: unknown subcommand '%s'\n", argv[1]);
	return supplier_usage();
}
