/* cmd_incident.c - bevis incident new, incidents, triage, link, unlink,
 * merge and unmerge: the ISAM's incident commands (docs/INCIDENTS.md).
 * Each is one call of a SECURITY DEFINER function of sql/0008_incidents.sql
 * or one query of incident_overview; every rule lives there, and its
 * message is printed as it comes. bevis show is in cmd_show.c, bevis
 * deadlines in cmd_deadlines.c. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "output.h"
#include "xmalloc.h"

PGconn *
cli_connect_zoned(struct cli *cli, const char *who)
{
	cli_load_config(cli);
	PGconn *conn = cli_connect(cli);
	const char *params[1] = { cli->cfg.timezone };
	PGresult *res = cli_exec_params(who, conn,
	    "SELECT set_config('TimeZone', $1, false)", 1, params,
	    PGRES_TUPLES_OK);
	if (res == NULL) {
		fprintf(stderr, "bevis %s: timezone '%s' in the config is not a "
		    "time zone PostgreSQL knows\n", who, cli->cfg.timezone);
		PQfinish(conn);
		exit(2);
	}
	PQclear(res);
	return conn;
}

void
cli_incident_error(const char *who, PGconn *conn, const PGresult *res)
{
	const char *msg = res ? PQresultErrorField(res,
	    PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) :
	    NULL;
	const char *detail, *hint;

	if (msg == NULL) {
		cli_pg_error(who, conn, res);
		return;
	}
	/* The functions' messages start "bevis: "; ours already does. */
	if (strncmp(msg, "bevis: ", 7) == 0)
		msg += 7;
	fprintf(stderr, "bevis %s: %s\n", who, msg);
	if ((detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL)))
		fprintf(stderr, "  %s\n", detail);
	if ((hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT)))
		fprintf(stderr, "  hint: %s\n", hint);
	/* 42501 without our own message: a function not granted. */
	if (state && strcmp(state, "42501") == 0 &&
	    strncmp(msg, "permission denied", 17) == 0)
		fprintf(stderr, "  %s needs a login in role bevis_isam "
		    "(bevis_auditor may only read)\n", who);
}

/* Runs sql with n parameters; on an error prints it and returns NULL. */
static PGresult *
incident_call(const char *who, PGconn *conn, const char *sql, int n,
    const char *const *params)
{
	PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		cli_incident_error(who, conn, res);
		PQclear(res);
		return NULL;
	}
	return res;
}

/* ---- building the JSON arguments ------------------------------------------- */

/* "key": to an object under construction (a ',' first unless it is empty). */
static void
arg_key(struct buf *b, const char *key)
{
	if (b->len > 1)
		buf_putc(b, ',');
	out_json_string(b, key, strlen(key));
	buf_putc(b, ':');
}

static void
arg_str(struct buf *b, const char *key, const char *val)
{
	arg_key(b, key);
	out_json_string(b, val, strlen(val));
}

static void
arg_raw(struct buf *b, const char *key, const char *val)
{
	arg_key(b, key);
	buf_puts(b, val);
}

/* A vocabulary word as the SQL spells it: not-required -> not_required. */
static char *
word(const char *s)
{
	char *w = xstrdup(s);

	for (char *p = w; *p; p++)
		if (*p == '-')
			*p = '_';
	return w;
}

static void
arg_word(struct buf *b, const char *key, const char *val)
{
	char *w = word(val);

	arg_str(b, key, w);
	free(w);
}

/* A comma-separated list as a JSON array of words ("" or "none": []). */
static void
arg_list(struct buf *b, const char *key, const char *list)
{
	char *copy = word(list), *save = NULL;
	int first = 1;

	arg_key(b, key);
	buf_putc(b, '[');
	if (strcmp(copy, "none") != 0) {
		for (char *t = strtok_r(copy, ",", &save); t;
		    t = strtok_r(NULL, ",", &save)) {
			while (*t == ' ')
				t++;
			if (!first)
				buf_putc(b, ',');
			out_json_string(b, t, strlen(t));
			first = 0;
		}
	}
	buf_putc(b, ']');
	free(copy);
}

/* A whole number in 0..max, or -1. */
static long long
count_arg(const char *s, long long max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || *end || errno || v < 0 || v > max)
		return -1;
	return v;
}

/* One link target from an option: e (--event SUPPLIER:ID), s
 * (--submission ID) or i (--incident INC); appended to the array in b. */
static void
arg_target(struct buf *b, int ch, const char *val)
{
	buf_putc(b, b->len == 0 ? '[' : ',');
	buf_putc(b, '{');
	out_json_string(b, ch == 'e' ? "event" : ch == 's' ? "submission" :
	    "incident", ch == 'e' ? 5 : ch == 's' ? 10 : 8);
	buf_putc(b, ':');
	out_json_string(b, val, strlen(val));
	buf_putc(b, '}');
}

static const char *
arg_targets_end(struct buf *b)
{
	if (b->len == 0)
		buf_putc(b, '[');
	buf_putc(b, ']');
	return buf_cstr(b);
}

/* ---- bevis incident new ---------------------------------------------------- */

static int
incident_new(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "title", required_argument, NULL, 't' },
		{ "description", required_argument, NULL, 'd' },
		{ "supplier", required_argument, NULL, 'S' },
		{ "event", required_argument, NULL, 'e' },
		{ "submission", required_argument, NULL, 's' },
		{ "occurred-at", required_argument, NULL, 'o' },
		{ "detected-at", required_argument, NULL, 'T' },
		{ "aware-at", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	struct buf fields = BUF_INIT, targets = BUF_INIT;
	int ch, rc = 1, titled = 0;

	buf_putc(&fields, '{');
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		switch (ch) {
		case 't': arg_str(&fields, "title", optarg); titled = 1; break;
		case 'd': arg_str(&fields, "description", optarg); break;
		case 'S': arg_str(&fields, "supplier", optarg); break;
		case 'o': arg_str(&fields, "occurred_at", optarg); break;
		case 'T': arg_str(&fields, "detected_at", optarg); break;
		case 'a': arg_str(&fields, "aware_at", optarg); break;
		case 'e': case 's': arg_target(&targets, ch, optarg); break;
		default: goto usage;
		}
	}
	if (optind != argc || !titled)
		goto usage;
	buf_putc(&fields, '}');
	PGconn *conn = cli_connect_zoned(cli, "incident new");
	const char *params[2] = { buf_cstr(&fields), arg_targets_end(&targets) };
	PGresult *res = incident_call("incident new", conn,
	    "SELECT bevis_incident_open($1::jsonb, $2::jsonb, NULL)", 2, params);
	if (res) {
		/* Only the reference on stdout, for scripts. */
		printf("%s\n", PQgetvalue(res, 0, 0));
		PQclear(res);
		rc = 0;
	}
	PQfinish(conn);
	buf_free(&fields);
	buf_free(&targets);
	return rc;
usage:
	buf_free(&fields);
	buf_free(&targets);
	return cli_usage("incident", stderr);
}

int
cmd_incident(struct cli *cli, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "new") == 0)
		return incident_new(cli, argc - 1, argv + 1);
	if (argc >= 2)
		fprintf(stderr, "bevis incident: unknown subcommand '%s'\n",
		    argv[1]);
	return cli_usage("incident", stderr);
}

/* ---- bevis incidents ------------------------------------------------------- */

/* $1 status, $2 supplier, $3 since, $4 until (of the time opened), $5
 * personal data only, $6 overdue only, $7 triage_within; NULL: no filter.
 * The deadline shown is the nearer of the IMY and the triage one. */
#define INCIDENTS_SQL(T) \
    "WITH o AS (SELECT o.*, CASE WHEN o.status = 'new' " \
    "                  THEN o.opened_at + $7::interval END AS triage_due " \
    "             FROM incident_overview o) " \
    "SELECT o.ref, o.status, " T("o.opened_at") ", o.supplier, o.category, " \
    "       o.personal_data, o.imy, " \
    "       " T("least(o.imy_deadline, o.triage_due)") ", " \
    "       least(o.imy_deadline, o.triage_due) < now(), " \
    "       o.merged_into_ref, o.protected_identity, o.title " \
    "  FROM o " \
    " WHERE ($1::text IS NULL OR o.status = $1) " \
    "   AND ($2::text IS NULL OR o.supplier = $2) " \
    "   AND ($3::timestamptz IS NULL OR o.opened_at >= $3) " \
    "   AND ($4::timestamptz IS NULL OR o.opened_at < $4) " \
    "   AND ($5::text IS NULL OR o.personal_data = 'yes') " \
    "   AND ($6::text IS NULL OR least(o.imy_deadline, o.triage_due) < now()) " \
    " ORDER BY o.opened_at, o.ref"

int
cmd_incidents(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "status", required_argument, NULL, 's' },
		{ "supplier", required_argument, NULL, 'S' },
		{ "since", required_argument, NULL, 'f' },
		{ "until", required_argument, NULL, 'u' },
		{ "personal-data", no_argument, NULL, 'p' },
		{ "overdue", no_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "csv", no_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	static const struct out_col cols[] = {
		{ "ref", 0, OUT_TEXT, 1 }, { "status", 0, OUT_TEXT, 1 },
		{ "opened_at", 0, OUT_TEXT, 1 }, { "supplier", 0, OUT_TEXT, 1 },
		{ "category", 0, OUT_TEXT, 1 }, { "personal_data", 0, OUT_TEXT, 1 },
		{ "imy", 0, OUT_TEXT, 1 }, { "deadline", 0, OUT_TEXT, 1 },
		{ "overdue", 0, OUT_BOOL, 1 }, { "merged_into", 0, OUT_TEXT, 1 },
		{ "protected_identity", 0, OUT_BOOL, 1 },
		{ "title", 0, OUT_TEXT, 1 } };
	static const struct out_col table_cols[] = {
		{ "REF", 0, OUT_TEXT, 0 }, { "STATUS", 0, OUT_TEXT, 0 },
		{ "OPENED", 0, OUT_TEXT, 0 }, { "SUPPLIER", 16, OUT_TEXT, 0 },
		{ "CATEGORY", 0, OUT_TEXT, 0 }, { "PERSONAL", 0, OUT_TEXT, 0 },
		{ "IMY", 0, OUT_TEXT, 0 }, { "DEADLINE", 0, OUT_TEXT, 0 },
		{ "TITLE", 80, OUT_TEXT, 0 } };
	const char *params[7] = { NULL };
	char *status = NULL, within[32];
	enum out_format format = OUT_TABLE;
	int ch;

	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		switch (ch) {
		case 's': free(status); params[0] = status = word(optarg); break;
		case 'S': params[1] = optarg; break;
		case 'f': params[2] = optarg; break;
		case 'u': params[3] = optarg; break;
		case 'p': params[4] = "yes"; break;
		case 'o': params[5] = "yes"; break;
		case 'j': format = OUT_JSON; break;
		case 'x': format = OUT_CSV; break;
		default: free(status); return cli_usage("incidents", stderr);
		}
	}
	if (optind != argc) {
		free(status);
		return cli_usage("incidents", stderr);
	}
	PGconn *conn = cli_connect_zoned(cli, "incidents");
	snprintf(within, sizeof(within), "%ld days", cli->cfg.triage_within);
	params[6] = within;
	PGresult *res = incident_call("incidents", conn, format == OUT_TABLE ?
	    INCIDENTS_SQL(CLI_LOCAL_TIME) : INCIDENTS_SQL(CLI_JSON_TIME), 7, params);
	free(status);
	if (res == NULL) {
		PQfinish(conn);
		return 1;
	}
	int rows = PQntuples(res), overdue = 0;
	struct out o;
	const char *cells[12];

	out_init(&o, stdout, format, format == OUT_TABLE ? table_cols : cols,
	    format == OUT_TABLE ? 9 : 12);
	for (int r = 0; r < rows; r++) {
		for (int c = 0; c < 12; c++)
			cells[c] = PQgetisnull(res, r, c) ? NULL :
			    PQgetvalue(res, r, c);
		int late = cells[8] && cells[8][0] == 't';
		overdue += late;
		if (format != OUT_TABLE) {
			out_row(&o, cells);
			continue;
		}
		char deadline[64];
		struct buf title = BUF_INIT;
		snprintf(deadline, sizeof(deadline), "%s%s", cells[7] ?
		    cells[7] : "-", late ? " OVERDUE" : "");
		cells[7] = deadline;
		if (cells[9])
			buf_printf(&title, "(merged into %s) ", cells[9]);
		buf_puts(&title, cells[11] ? cells[11] :
		    "(restricted to bevis_protected)");
		cells[8] = buf_cstr(&title);
		for (int c = 3; c < 7; c++)
			if (cells[c] == NULL)
				cells[c] = "-";
		out_row(&o, cells);
		buf_free(&title);
	}
	out_finish(&o);
	if (format == OUT_TABLE)
		fprintf(stderr, "%d incident%s, %d overdue\n", rows,
		    rows == 1 ? "" : "s", overdue);
	PQclear(res);
	PQfinish(conn);
	return 0;
}

/* ---- bevis triage ---------------------------------------------------------- */

/* Prints what a write call did, after COMMIT (autocommit: one call). */
static int
decide(struct cli *cli, const char *who, const char *sql, int n,
    const char *const *params, const char *done)
{
	PGconn *conn = cli_connect_zoned(cli, who);
	PGresult *res = incident_call(who, conn, sql, n, params);
	int rc = 1;

	if (res) {
		printf("%s: %s", params[0], done);
		if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) &&
		    *PQgetvalue(res, 0, 0))
			printf(" (%s)", PQgetvalue(res, 0, 0));
		printf("\n");
		PQclear(res);
		rc = 0;
	}
	PQfinish(conn);
	return rc;
}

int
cmd_triage(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "status", required_argument, NULL, 's' },
		{ "category", required_argument, NULL, 'C' },
		{ "cause", required_argument, NULL, 'u' },
		{ "cia", required_argument, NULL, 'i' },
		{ "personal-data", required_argument, NULL, 'p' },
		{ "subject-categories", required_argument, NULL, 'j' },
		{ "data-categories", required_argument, NULL, 'k' },
		{ "subjects", required_argument, NULL, 'n' },
		{ "records", required_argument, NULL, 'r' },
		{ "aware-at", required_argument, NULL, 'a' },
		{ "occurred-at", required_argument, NULL, 'o' },
		{ "detected-at", required_argument, NULL, 'T' },
		{ "imy", required_argument, NULL, 'I' },
		{ "imy-notified-at", required_argument, NULL, 'N' },
		{ "imy-ref", required_argument, NULL, 'R' },
		{ "subjects-informed", required_argument, NULL, 'b' },
		{ "protected-identity", required_argument, NULL, 'P' },
		{ "title", required_argument, NULL, 't' },
		{ "description", required_argument, NULL, 'd' },
		{ "supplier", required_argument, NULL, 'S' },
		{ "rationale", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	struct buf ch_ = BUF_INIT;
	const char *notified = NULL, *imy_ref = NULL, *rationale = NULL;
	int ch, rc;
	long long v;

	buf_putc(&ch_, '{');
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		switch (ch) {
		case 's': arg_word(&ch_, "status", optarg); break;
		case 'C': arg_word(&ch_, "category", optarg); break;
		case 'u': arg_word(&ch_, "cause", optarg); break;
		case 'p': arg_word(&ch_, "personal_data", optarg); break;
		case 'I': arg_word(&ch_, "imy", optarg); break;
		case 'j': arg_list(&ch_, "subject_categories", optarg); break;
		case 'k': arg_list(&ch_, "data_categories", optarg); break;
		case 'a': arg_str(&ch_, "aware_at", optarg); break;
		case 'o': arg_str(&ch_, "occurred_at", optarg); break;
		case 'T': arg_str(&ch_, "detected_at", optarg); break;
		case 't': arg_str(&ch_, "title", optarg); break;
		case 'd': arg_str(&ch_, "description", optarg); break;
		case 'S': arg_str(&ch_, "supplier", optarg); break;
		case 'N': notified = optarg; break;
		case 'R': imy_ref = optarg; break;
		case 'w': rationale = optarg; break;
		case 'i': {
			/* Every flag is set: those named true, the others false. */
			int d = 0, l = 0, c = 0;
			char *copy = xstrdup(optarg), *save = NULL;
			for (char *t = strtok_r(copy, ",", &save); t;
			    t = strtok_r(NULL, ",", &save)) {
				if (strcmp(t, "disclosure") == 0)
					d = 1;
				else if (strcmp(t, "loss") == 0)
					l = 1;
				else if (strcmp(t, "change") == 0)
					c = 1;
				else if (strcmp(t, "none") != 0) {
					fprintf(stderr, "bevis triage: --cia: '%s' is "
					    "not disclosure, loss, change or none\n", t);
					free(copy);
					buf_free(&ch_);
					return 2;
				}
			}
			free(copy);
			arg_raw(&ch_, "cia_disclosure", d ? "true" : "false");
			arg_raw(&ch_, "cia_loss", l ? "true" : "false");
			arg_raw(&ch_, "cia_change", c ? "true" : "false");
			break;
		}
		case 'n': case 'r': {
			char num[32];
			v = count_arg(optarg, ch == 'n' ? 2147483647LL :
			    9223372036854775807LL);
			if (v < 0) {
				fprintf(stderr, "bevis triage: --%s: '%s' is not a "
				    "whole number from 0 to %s\n", ch == 'n' ?
				    "subjects" : "records", optarg, ch == 'n' ?
				    "2147483647" : "9223372036854775807");
				buf_free(&ch_);
				return 2;
			}
			snprintf(num, sizeof(num), "%lld", v);
			arg_raw(&ch_, ch == 'n' ? "subjects_count" :
			    "records_count", num);
			break;
		}
		case 'b':
			if (strcmp(optarg, "not-required") == 0 ||
			    strcmp(optarg, "not_required") == 0 ||
			    strcmp(optarg, "pending") == 0) {
				arg_word(&ch_, "subjects", optarg);
			} else {
				arg_str(&ch_, "subjects", "informed");
				arg_str(&ch_, "subjects_informed_at", optarg);
			}
			break;
		case 'P':
			if (strcmp(optarg, "yes") != 0 && strcmp(optarg, "no") != 0) {
				fprintf(stderr, "bevis triage: --protected-identity "
				    "is yes or no\n");
				buf_free(&ch_);
				return 2;
			}
			arg_raw(&ch_, "protected_identity",
			    optarg[0] == 'y' ? "true" : "false");
			break;
		default:
			buf_free(&ch_);
			return cli_usage("triage", stderr);
		}
	}
	if ((notified == NULL) != (imy_ref == NULL)) {
		fprintf(stderr, "bevis triage: --imy-notified-at and --imy-ref go "
		    "together: when IMY was notified and its case reference\n");
		buf_free(&ch_);
		return 2;
	}
	if (notified) {
		arg_str(&ch_, "imy", "notified");
		arg_str(&ch_, "imy_notified_at", notified);
		arg_str(&ch_, "imy_ref", imy_ref);
	}
	if (optind + 1 != argc || ch_.len == 1) {
		if (optind + 1 == argc)
			fprintf(stderr, "bevis triage: nothing to decide: give "
			    "at least one change\n");
		buf_free(&ch_);
		return cli_usage("triage", stderr);
	}
	buf_putc(&ch_, '}');
	const char *params[3] = { argv[optind], buf_cstr(&ch_), rationale };
	rc = decide(cli, "triage", "SELECT 'decision ' || "
	    "bevis_incident_decide($1, $2::jsonb, $3)", 3, params,
	    "recorded");
	buf_free(&ch_);
	return rc;
}

/* ---- bevis link, unlink, merge, unmerge ------------------------------------ */

static int
link_command(struct cli *cli, int argc, char **argv, int unlink)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "event", required_argument, NULL, 'e' },
		{ "submission", required_argument, NULL, 's' },
		{ "incident", required_argument, NULL, 'i' },
		{ "rationale", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	const char *who = unlink ? "unlink" : "link", *rationale = NULL;
	struct buf targets = BUF_INIT;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		switch (ch) {
		case 'e': case 's': case 'i': arg_target(&targets, ch, optarg); break;
		case 'w': rationale = optarg; break;
		default: buf_free(&targets); return cli_usage(who, stderr);
		}
	}
	if (optind + 1 != argc || targets.len == 0) {
		buf_free(&targets);
		return cli_usage(who, stderr);
	}
	const char *params[3] = { argv[optind], arg_targets_end(&targets),
		rationale };
	rc = decide(cli, who, unlink ?
	    "SELECT bevis_incident_unlink($1, $2::jsonb, $3) || ' unlinked'" :
	    "SELECT bevis_incident_link($1, $2::jsonb, $3) || ' linked'",
	    3, params, unlink ? "unlinked" : "linked");
	buf_free(&targets);
	return rc;
}

int
cmd_link(struct cli *cli, int argc, char **argv)
{
	return link_command(cli, argc, argv, 0);
}

int
cmd_unlink(struct cli *cli, int argc, char **argv)
{
	return link_command(cli, argc, argv, 1);
}

int
cmd_merge(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "into", required_argument, NULL, 'i' },
		{ "rationale", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	const char *into = NULL, *rationale = NULL;
	int ch;

	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		switch (ch) {
		case 'i': into = optarg; break;
		case 'w': rationale = optarg; break;
		default: return cli_usage("merge", stderr);
		}
	}
	if (optind + 1 != argc || into == NULL)
		return cli_usage("merge", stderr);
	const char *params[3] = { argv[optind], into, rationale };
	return decide(cli, "merge", "SELECT 'into ' || upper(btrim($2)) "
	    "FROM bevis_incident_merge($1, $2, $3)", 3, params, "merged");
}

int
cmd_unmerge(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "rationale", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	const char *rationale = NULL;
	int ch;

	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		if (ch == 'w')
			rationale = optarg;
		else
			return cli_usage("unmerge", stderr);
	}
	if (optind + 1 != argc)
		return cli_usage("unmerge", stderr);
	const char *params[2] = { argv[optind], rationale };
	return decide(cli, "unmerge", "SELECT 'status assessing' "
	    "FROM bevis_incident_unmerge($1, $2)", 2, params, "unmerged");
}
