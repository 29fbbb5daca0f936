/* cmd_migrate.c - bevis migrate: applies the numbered migrations in sql/,
 * each once, each in its own transaction, and records them. */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "hex.h"
#include "migrations.h"

int
cmd_migrate(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 } };
	int ch, applied = 0, total = 0;
	PGconn *conn;

	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1)
		if (!cli_common_opt(cli, ch, optarg))
			return cli_usage("migrate", stderr);
	conn = cli_connect(cli);
	if (cli_exec("migrate", conn, "SET client_min_messages = warning", PGRES_COMMAND_OK) ||
	    cli_exec("migrate", conn, "CREATE TABLE IF NOT EXISTS schema_migration ("
	    "version integer PRIMARY KEY, name text NOT NULL, "
	    "sha256 text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
	    PGRES_COMMAND_OK) ||
	    /* One migrator at a time. */
	    cli_exec("migrate", conn, "SELECT pg_advisory_lock(7341001)", PGRES_TUPLES_OK))
		goto fail;
	for (const struct migration *m = migrations; m->name; m++) {
		unsigned char h[crypto_hash_sha256_BYTES];
		char hex[2 * sizeof(h) + 1], ver[16];
		const char *params[3] = { ver, m->name, hex };
		PGresult *res;

		total++;
		crypto_hash_sha256(h, (const unsigned char *)m->sql, strlen(m->sql));
		hex_encode(h, sizeof(h), hex);
		snprintf(ver, sizeof(ver), "%d", m->version);
		res = PQexecParams(conn, "SELECT sha256 FROM schema_migration "
		    "WHERE version = $1", 1, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			fprintf(stderr, "bevis migrate: %s", PQerrorMessage(conn));
			PQclear(res);
			goto fail;
		}
		if (PQntuples(res) == 1) {
			int same = strcmp(PQgetvalue(res, 0, 0), hex) == 0;
			PQclear(res);
			if (!same) {
				fprintf(stderr, "bevis migrate: %s was applied with "
				    "different contents; the database and this "
				    "build disagree\n", m->name);
				goto fail;
			}
			continue;
		}
		PQclear(res);
		if (cli_exec("migrate", conn, "BEGIN", PGRES_COMMAND_OK) ||
		    cli_exec("migrate", conn, m->sql, PGRES_COMMAND_OK))
			goto fail;
		res = PQexecParams(conn, "INSERT INTO schema_migration (version, "
		    "name, sha256) VALUES ($1, $2, $3)", 3, NULL, params, NULL,
		    NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			fprintf(stderr, "bevis migrate: %s", PQerrorMessage(conn));
			PQclear(res);
			goto fail;
		}
		PQclear(res);
		if (cli_exec("migrate", conn, "COMMIT", PGRES_COMMAND_OK))
			goto fail;
		printf("applied %s\n", m->name);
		applied++;
	}
	printf("schema is up to date: %d migrations, %d applied now\n", total,
	    applied);
	PQfinish(conn);
	return 0;
fail:
	PQfinish(conn);
	return 1;
}
