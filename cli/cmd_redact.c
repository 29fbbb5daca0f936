/* cmd_redact.c - bevis redact: GDPR erasure of one submission through the
 * server's bevis_redact(), the only path that may change evidence. It
 * nulls the body and the personal columns of the submission's events,
 * records who and why, and appends a ledger leaf (docs/ROLES.md). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "xmalloc.h"

static int
redact_usage(void)
{
	return cli_usage("redact", stderr);
}

int
cmd_redact(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "submission", required_argument, NULL, 's' },
		{ "reason", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	const char *sub = NULL, *reason = NULL;
	char *end, idbuf[24];
	int ch;

	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		switch (ch) {
		case 's': sub = optarg; break;
		case 'r': reason = optarg; break;
		default: return redact_usage();
		}
	}
	if (optind != argc || sub == NULL || reason == NULL)
		return redact_usage();
	errno = 0;
	long long id = strtoll(sub, &end, 10);
	if (errno || end == sub || *end || id < 1) {
		fprintf(stderr, "bevis redact: --submission must be a submission "
		    "id (a positive integer), not '%s'\n", sub);
		return 2;
	}
	/* An empty or too long reason is left to the server to refuse, so
	 * the rule lives in one place. */

	PGconn *conn = cli_connect(cli);
	snprintf(idbuf, sizeof(idbuf), "%lld", id);
	const char *params[2] = { idbuf, reason };
	PGresult *res;

	if (cli_exec("redact", conn, "BEGIN", PGRES_COMMAND_OK) < 0)
		goto fail;
	/* session_user is the actor bevis_redact() records. */
	res = PQexecParams(conn, "SELECT bevis_redact($1::bigint, $2::text), "
	    "session_user", 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    PQgetisnull(res, 0, 0)) {
		cli_pg_error("redact", conn, res);
		PQclear(res);
		goto fail;
	}
	long long leaf = atoll(PQgetvalue(res, 0, 0));
	char *actor = xstrdup(PQgetvalue(res, 0, 1));
	PQclear(res);
	if (cli_exec("redact", conn, "COMMIT", PGRES_COMMAND_OK) < 0) {
		free(actor);
		goto fail;
	}
	printf("submission %lld redacted by %s; ledger leaf %lld\n", id, actor,
	    leaf);
	free(actor);
	PQfinish(conn);
	return 0;
fail:
	PQfinish(conn);
	return 1;
}
