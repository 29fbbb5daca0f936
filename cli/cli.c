/* cli.c - what the subcommands share (cli.h): configuration, the database
 * connection and its error reports. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "xmalloc.h"

#define DEFAULT_CONFIG "/etc/bevis/bevisd.conf"

int
cli_common_opt(struct cli *cli, int ch, const char *arg)
{
	switch (ch) {
	case 'D':
		cli->db = arg;
		return 1;
	case 'c':
		cli->config_path = arg;
		cli->cfg_loaded = 0;
		return 1;
	}
	return 0;
}

void
cli_load_config(struct cli *cli)
{
	const char *path = cli->config_path;
	char err[512];

	if (cli->cfg_loaded)
		return;
	config_free(&cli->cfg);
	config_defaults(&cli->cfg);
	cli->cfg_loaded = 1;
	if (path == NULL)
		path = getenv("BEVIS_CONFIG");
	if (path == NULL && access(DEFAULT_CONFIG, R_OK) == 0)
		path = DEFAULT_CONFIG;
	if (path == NULL)
		return;
	if (config_load(path, &cli->cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "bevis: %s\n", err);
		exit(2);
	}
	cli->config_path = path;
}

static int
libpq_env_set(void)
{
	static const char *const vars[] = { "PGSERVICE", "PGHOST", "PGHOSTADDR",
		"PGDATABASE", "PGPORT", "PGUSER", NULL };

	for (size_t i = 0; vars[i]; i++)
		if (getenv(vars[i]) && *getenv(vars[i]))
			return 1;
	return 0;
}

PGconn *
cli_connect(struct cli *cli)
{
	static const char *const keys[] = { "dbname", "fallback_application_name",
		NULL };
	const char *conninfo = "";
	PGconn *conn;

	if (cli->db) {
		conninfo = cli->db;
	} else if (!libpq_env_set()) {
		cli_load_config(cli);
		if (cli->config_path)
			conninfo = cli->cfg.db;
	}
	const char *vals[] = { conninfo, "bevis", NULL };
	conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "bevis: cannot connect to the database: %s",
		    PQerrorMessage(conn));
		PQfinish(conn);
		exit(2);
	}
	return conn;
}

char *
cli_endpoint(struct cli *cli, const char *opt)
{
	const char *ep = opt;

	if (ep == NULL && getenv("BEVIS_ENDPOINT"))
		ep = getenv("BEVIS_ENDPOINT");
	if (ep == NULL) {
		cli_load_config(cli);
		ep = cli->cfg.endpoint;
	}
	/* A daemon bound to every address is reached over loopback. */
	const char *star = strstr(ep, "://*:");
	const char *any4 = strstr(ep, "://0.0.0.0:");
	const char *any6 = strstr(ep, "://[::]:");
	if (star)
		return xasprintf("%.*s://127.0.0.1:%s", (int)(star - ep), ep,
		    star + 5);
	if (any4)
		return xasprintf("%.*s://127.0.0.1:%s", (int)(any4 - ep), ep,
		    any4 + 11);
	if (any6)
		return xasprintf("%.*s://[::1]:%s", (int)(any6 - ep), ep, any6 + 8);
	return xstrdup(ep);
}

void
cli_pg_error(const char *who, PGconn *conn, const PGresult *res)
{
	const char *msg = res ? PQresultErrorField(res,
	    PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail, *hint;

	if (msg == NULL) {
		fprintf(stderr, "bevis %s: %s", who, PQerrorMessage(conn));
		return;
	}
	fprintf(stderr, "bevis %s: %s\n", who, msg);
	if ((detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL)))
		fprintf(stderr, "  %s\n", detail);
	if ((hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT)))
		fprintf(stderr, "  hint: %s\n", hint);
}

PGresult *
cli_exec_params(const char *who, PGconn *conn, const char *sql, int n,
    const char *const *params, ExecStatusType want)
{
	/* Without parameters, the simple protocol: a migration is several
	 * statements, which a prepared statement cannot hold. */
	PGresult *res = n == 0 ? PQexec(conn, sql) :
	    PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(res) != want) {
		cli_pg_error(who, conn, res);
		PQclear(res);
		return NULL;
	}
	return res;
}

int
cli_exec(const char *who, PGconn *conn, const char *sql, ExecStatusType want)
{
	PGresult *res = cli_exec_params(who, conn, sql, 0, NULL, want);

	PQclear(res);
	return res ? 0 : -1;
}

const char *
cli_ledger_pubkey(struct cli *cli, const char *opt)
{
	static char guess[4096];

	if (opt)
		return opt;
	cli_load_config(cli);
	if (cli->cfg.ledger_key[0] == '\0')
		return NULL;
	snprintf(guess, sizeof(guess), "%s", cli->cfg.ledger_key);
	char *slash = strrchr(guess, '/');
	snprintf(slash ? slash + 1 : guess, sizeof(guess) -
	    (size_t)(slash ? slash + 1 - guess : 0), "ledger.pub");
	return guess;
}

int
cli_month_ok(const char *s)
{
	if (strlen(s) != 7 || s[4] != '-')
		return 0;
	for (int i = 0; i < 7; i++)
		if (i != 4 && (s[i] < '0' || s[i] > '9'))
			return 0;
	int month = (s[5] - '0') * 10 + (s[6] - '0');
	return month >= 1 && month <= 12;
}
