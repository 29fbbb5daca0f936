/* cmd_supplier.c - bevis supplier add|list|revoke|rotate: the suppliers and their
 * CURVE public keys. Keys change only through the server's
 * bevis_supplier_add() and bevis_supplier_revoke(), which check the change,
 * record who made it and append a ledger leaf (docs/ROLES.md). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "curvekey.h"
#include "output.h"
#include "xmalloc.h"

static int
supplier_usage(void)
{
	return cli_usage("supplier", stderr);
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
	char who[32];

	snprintf(who, sizeof(who), "supplier %s", what);
	if (key && curvekey_fingerprint(key, fp) < 0)
		return 2;
	PGconn *conn = cli_connect(cli);
	if (cli_exec(who, conn, "BEGIN", PGRES_COMMAND_OK) < 0)
		goto fail;
	if (key) {
		/* Only for the message: bevis_supplier_add() decides. */
		res = cli_exec_params(who, conn, "SELECT 1 FROM supplier "
		    "WHERE name = $1", 1, params, PGRES_TUPLES_OK);
		if (res == NULL)
			goto fail;
		existed = PQntuples(res) == 1;
		PQclear(res);
		res = cli_exec_params(who, conn, "SELECT "
		    "bevis_supplier_add($1, $2), session_user", 2, params,
		    PGRES_TUPLES_OK);
	} else {
		res = cli_exec_params(who, conn, "SELECT "
		    "bevis_supplier_revoke($1), session_user", 1, params,
		    PGRES_TUPLES_OK);
	}
	if (res == NULL)
		goto fail;
	char *leaf = xstrdup(PQgetvalue(res, 0, 0));
	char *actor = xstrdup(PQgetvalue(res, 0, 1));
	PQclear(res);
	const char *lp[1] = { leaf };
	res = cli_exec_params(who, conn, "SELECT fingerprint FROM "
	    "supplier_key_change WHERE leaf_idx = $1::bigint", 1, lp,
	    PGRES_TUPLES_OK);
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
	if (cli_exec(who, conn, "COMMIT", PGRES_COMMAND_OK) < 0) {
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

/* The public key of --public-key (key) or --key-file (file), checked; z85
 * holds it when it came from a file. NULL after a message. */
static const char *
public_key_arg(const char *what, const char *key, const char *file,
    char z85[CURVE_Z85_LEN + 1])
{
	char err[600];

	if (file) {
		size_t l = strlen(file);
		if (l >= 4 && strcmp(file + l - 4, ".key") == 0) {
			fprintf(stderr, "bevis supplier %s: %s is a secret key "
			    "file: the supplier keeps it; register the public "
			    "key (the .pub file next to it)\n", what, file);
			return NULL;
		}
		if (curvekey_read(file, 0, z85, err, sizeof(err)) < 0) {
			fprintf(stderr, "bevis supplier %s: %s\n", what, err);
			return NULL;
		}
		key = z85;
	} else if (!curvekey_valid(key)) {
		fprintf(stderr, "bevis supplier %s: --public-key: not a CURVE "
		    "public key (40 characters of Z85, as in the NAME.pub file "
		    "bevis keygen --curve writes)\n", what);
		return NULL;
	}
	if (curvekey_small_order(key)) {
		fprintf(stderr, "bevis supplier %s: %s is a Curve25519 key of "
		    "small order (such as all zeros), which proves nobody's "
		    "identity; refused\n", what, key);
		return NULL;
	}
	return key;
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
	char z85[CURVE_Z85_LEN + 1];
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
	if ((key = public_key_arg("add", key, file, z85)) == NULL)
		return 2;
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

/* bevis supplier rotate NAME (--key-file F.pub | --public-key Z85)
 * [--overlap DURATION]: one call of bevis_supplier_rotate(), which checks
 * the change, records the actor and appends a ledger leaf of kind 7. */
static int
supplier_rotate(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "public-key", required_argument, NULL, 'p' },
		{ "key-file", required_argument, NULL, 'f' },
		{ "overlap", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	const char *key = NULL, *file = NULL;
	char z85[CURVE_Z85_LEN + 1], overlap[64] = "24 hours";
	char fp[CURVE_FINGERPRINT_LEN + 1];
	int ch;

	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		switch (ch) {
		case 'p': key = optarg; break;
		case 'f': file = optarg; break;
		case 'o':
			if (parse_duration(optarg, overlap, sizeof(overlap)) < 0) {
				fprintf(stderr, "bevis supplier rotate: --overlap: "
				    "'%s' is not a duration like 0s, 90m, 24h, "
				    "3d or 2w\n", optarg);
				return 2;
			}
			break;
		default: return supplier_usage();
		}
	}
	if (optind + 1 != argc || (key == NULL) == (file == NULL))
		return supplier_usage();
	if ((key = public_key_arg("rotate", key, file, z85)) == NULL ||
	    curvekey_fingerprint(key, fp) < 0)
		return 2;
	const char *params[3] = { argv[optind], key, overlap };
	PGconn *conn = cli_connect(cli);
	PGresult *res = NULL;
	char *leaf = NULL, *actor = NULL;

	if (cli_exec("supplier rotate", conn, "BEGIN", PGRES_COMMAND_OK) < 0 ||
	    (res = cli_exec_params("supplier rotate", conn, "SELECT "
	    "bevis_supplier_rotate($1, $2, $3::interval), session_user", 3,
	    params, PGRES_TUPLES_OK)) == NULL)
		goto fail;
	leaf = xstrdup(PQgetvalue(res, 0, 0));
	actor = xstrdup(PQgetvalue(res, 0, 1));
	PQclear(res);
	const char *lp[1] = { leaf };
	res = cli_exec_params("supplier rotate", conn, "SELECT old_fingerprint, "
	    "new_fingerprint, to_char(old_valid_until AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM supplier_key_rotation "
	    "WHERE leaf_idx = $1::bigint", 1, lp, PGRES_TUPLES_OK);
	if (res == NULL)
		goto fail;
	if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 1), fp) != 0) {
		fprintf(stderr, "bevis supplier rotate: the database recorded "
		    "fingerprint %s for the new key, not %s: nothing was "
		    "changed\n", PQntuples(res) == 1 ? PQgetvalue(res, 0, 1) :
		    "(none)", fp);
		goto fail;
	}
	if (cli_exec("supplier rotate", conn, "COMMIT", PGRES_COMMAND_OK) < 0)
		goto fail;
	printf("supplier %s: key %s rotated to %s by %s; ledger leaf %s\n"
	    "the old key is valid until %s, then refused; the supplier keeps "
	    "its name, its events and its request ids\n", argv[optind],
	    PQgetvalue(res, 0, 0), fp, actor, leaf, PQgetvalue(res, 0, 2));
	printf("bevisd accepts the new key at its next supplier reload "
	    "(supplier_refresh seconds, or at once on SIGHUP)\n");
	PQclear(res);
	free(leaf);
	free(actor);
	PQfinish(conn);
	return 0;
fail:
	PQclear(res);
	free(leaf);
	free(actor);
	PQfinish(conn);
	return 1;
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
	PGresult *res = cli_exec_params("supplier list", conn, list_sql, 0,
	    NULL, PGRES_TUPLES_OK);
	if (res == NULL) {
		PQfinish(conn);
		return 1;
	}
	static const struct out_col table_cols[] = { { "NAME", 0, OUT_TEXT, 0 },
		{ "FINGERPRINT", 0, OUT_TEXT, 0 }, { "ACTIVE", 0, OUT_TEXT, 0 },
		{ "EVENTS", 0, OUT_NUMBER, 0 },
		{ "LAST SEEN (UTC)", 0, OUT_TEXT, 0 } };
	static const struct out_col json_cols[] = { { "name", 0, OUT_TEXT, 1 },
		{ "public_key", 0, OUT_TEXT, 1 }, { "fingerprint", 0, OUT_TEXT, 1 },
		{ "active", 0, OUT_BOOL, 1 }, { "events", 0, OUT_NUMBER, 1 },
		{ "last_seen", 0, OUT_TEXT, 1 } };
	int rows = PQntuples(res);
	struct out o;

	out_init(&o, stdout, json ? OUT_JSON : OUT_TABLE, json ? json_cols :
	    table_cols, json ? 6 : 5);
	for (int r = 0; r < rows; r++) {
		const char *name = PQgetvalue(res, r, 0);
		const char *key = PQgetisnull(res, r, 1) ? NULL :
		    PQgetvalue(res, r, 1);
		const char *active = PQgetvalue(res, r, 2);
		const char *events = PQgetvalue(res, r, 3);
		const char *seen = PQgetisnull(res, r, 4) ? NULL :
		    PQgetvalue(res, r, 4);
		char fp[CURVE_FINGERPRINT_LEN + 1] = "-", t[20] = "-";

		if (key && curvekey_fingerprint(key, fp) < 0)
			snprintf(fp, sizeof(fp), "(not a CURVE key)");
		if (json) {
			const char *cells[] = { name, key, key ? fp : NULL, active,
				events, seen };
			out_row(&o, cells);
			continue;
		}
		if (seen) {
			/* seconds are enough in a table */
			snprintf(t, sizeof(t), "%.19s", seen);
			t[10] = ' ';
		}
		const char *cells[] = { name, fp, active[0] == 't' ? "yes" : "no",
			events, t };
		out_row(&o, cells);
	}
	out_finish(&o);
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
	if (strcmp(argv[1], "rotate") == 0)
		return supplier_rotate(cli, argc - 1, argv + 1);
	fprintf(stderr, "bevis supplier: unknown subcommand '%s'\n", argv[1]);
	return supplier_usage();
}
