/* cmd_rule.c - bevis rule add|list|disable: the rules over events
 * (docs/RULES.md). Rules change only through the server's bevis_rule_add()
 * and bevis_rule_disable(), which check the rule, record who changed it
 * and append a ledger leaf (kind 6); this file only gathers the options
 * into a JSON object and prints what the server did. */
#include <getopt.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "output.h"

static int
rule_usage(void)
{
	return cli_usage("rule", stderr);
}

/* Runs fn ("bevis_rule_add($1, $2::jsonb)" or "bevis_rule_disable($1)")
 * in a transaction of its own and prints the version it wrote. */
static int
rule_change(struct cli *cli, const char *who, const char *call, int n,
    const char *const *params)
{
	char sql[256];
	PGconn *conn = cli_connect(cli);
	PGresult *res;

	snprintf(sql, sizeof(sql), "SELECT r.name, r.version, r.enabled, "
	    "r.actor, r.leaf_idx, r.spec::text FROM %s r", call);
	res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		cli_incident_error(who, conn, res);
		PQclear(res);
		PQfinish(conn);
		return 1;
	}
	printf("rule %s: version %s (%s) by %s; ledger leaf %s\n",
	    PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
	    PQgetvalue(res, 0, 2)[0] == 't' ? "enabled" : "disabled",
	    PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4));
	PQclear(res);
	PQfinish(conn);
	return 0;
}

/* bevisd reads the same file: with rules = off there, that bevisd does not
 * evaluate what was just stored. Said on stderr; the rule is stored all
 * the same (another bevisd may evaluate it, or this one after a restart
 * with rules = on). */
static void
warn_rules_off(struct cli *cli, const char *who)
{
	struct buf path = BUF_INIT;

	if (cli->config_path == NULL || cli->cfg.rules)
		return;
	out_escape_text(&path, cli->config_path, strlen(cli->config_path));
	buf_putc(&path, '\0');
	fprintf(stderr, "bevis %s: warning: %s says rules = off: the bevisd "
	    "that reads it evaluates no rules; a bevisd with rules = on will "
	    "apply this one to the events committed from now on\n", who,
	    (const char *)path.data);
	buf_free(&path);
}

static int
rule_add(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "supplier", required_argument, NULL, 's' },
		{ "category", required_argument, NULL, 'C' },
		{ "action", required_argument, NULL, 'a' },
		{ "outcome", required_argument, NULL, 'o' },
		{ "severity-min", required_argument, NULL, 'S' },
		{ "personal-data", required_argument, NULL, 'p' },
		{ "attr", required_argument, NULL, 'A' },
		{ "count", required_argument, NULL, 'n' },
		{ "group-by", required_argument, NULL, 'g' },
		{ "within", required_argument, NULL, 'w' },
		{ "title", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 } };
	static const struct { int ch; const char *key; } keys[] = {
		{ 's', "supplier" }, { 'C', "category" }, { 'a', "action" },
		{ 'o', "outcome" }, { 'S', "severity_min" },
		{ 'p', "personal_data" }, { 'n', "count" }, { 'g', "group_by" },
		{ 'w', "within" }, { 't', "title" } };
	json_object *spec = json_object_new_object();
	json_object *attrs = NULL;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		if (ch == 'A') {
			if (attrs == NULL) {
				attrs = json_object_new_array();
				json_object_object_add(spec, "attrs", attrs);
			}
			json_object_array_add(attrs,
			    json_object_new_string(optarg));
			continue;
		}
		size_t i;
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (keys[i].ch == ch)
				break;
		if (i == sizeof(keys) / sizeof(keys[0])) {
			json_object_put(spec);
			return rule_usage();
		}
		/* The server checks every value and names what is wrong. */
		json_object_object_add(spec, keys[i].key,
		    json_object_new_string(optarg));
	}
	if (optind + 1 != argc) {
		json_object_put(spec);
		return rule_usage();
	}
	const char *params[2] = { argv[optind],
		json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN) };
	/* Before the change: a bad file stops it, as in every command. */
	cli_load_config(cli);
	rc = rule_change(cli, "rule add", "bevis_rule_add($1, $2::jsonb)", 2,
	    params);
	json_object_put(spec);
	if (rc == 0)
		warn_rules_off(cli, "rule add");
	return rc;
}

static int
rule_disable(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 } };
	int ch;

	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1)
		if (!cli_common_opt(cli, ch, optarg))
			return rule_usage();
	if (optind + 1 != argc)
		return rule_usage();
	const char *params[1] = { argv[optind] };
	return rule_change(cli, "rule disable", "bevis_rule_disable($1)", 1,
	    params);
}

/* What a rule matches, and its threshold, as a reader writes them. */
#define MATCH_SQL "concat_ws(' ', 'supplier=' || (r.spec ->> 'supplier'), " \
	"'category=' || (r.spec ->> 'category'), " \
	"'action=' || (r.spec ->> 'action'), " \
	"'outcome=' || (r.spec ->> 'outcome'), " \
	"'severity>=' || (r.spec ->> 'severity_min'), " \
	"'personal_data=' || CASE (r.spec ->> 'personal_data')::boolean " \
	"WHEN true THEN 'yes' WHEN false THEN 'no' END, " \
	"(SELECT string_agg((a ->> 'pointer') || '=' || (a ->> 'value'), ' ') " \
	"FROM jsonb_array_elements(r.spec -> 'attrs') a))"
#define WINDOW_SQL "(SELECT CASE WHEN w % 86400 = 0 THEN w / 86400 || 'd' " \
	"WHEN w % 3600 = 0 THEN w / 3600 || 'h' WHEN w % 60 = 0 THEN w / 60 || 'm' " \
	"ELSE w || 's' END FROM (SELECT (r.spec ->> 'window_s')::bigint) x(w))"
#define THRESHOLD_SQL "CASE WHEN r.spec ? 'group_by' THEN " \
	"format('%s per %s within %s', r.spec ->> 'count', " \
	"r.spec ->> 'group_by', " WINDOW_SQL ") ELSE 'each event' END"

static int
rule_list(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "all", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 } };
	int ch, json = 0, all = 0;

	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		if (ch == 'j')
			json = 1;
		else if (ch == 'a')
			all = 1;
		else
			return rule_usage();
	}
	if (optind != argc)
		return rule_usage();
	PGconn *conn = cli_connect(cli);
#define LIST_SQL(from, by) "SELECT r.name, r.version, r.enabled, " \
	MATCH_SQL ", " THRESHOLD_SQL ", r.actor, " \
	"to_char(r.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), " \
	"r.leaf_idx, r.spec::text, (SELECT count(*) FROM rule_incident ri " \
	"WHERE ri." by ") FROM " from " r ORDER BY r.name, r.version"
	PGresult *res = cli_exec_params("rule list", conn, all ?
	    LIST_SQL("rule", "rule_id = r.id") :
	    LIST_SQL("rule_current", "rule_name = r.name"), 0, NULL,
	    PGRES_TUPLES_OK);
	if (res == NULL) {
		PQfinish(conn);
		return 1;
	}
	static const struct out_col table_cols[] = {
		{ "NAME", 0, OUT_TEXT, 0 }, { "VERSION", 0, OUT_NUMBER, 0 },
		{ "STATE", 0, OUT_TEXT, 0 }, { "MATCHES", 60, OUT_TEXT, 0 },
		{ "THRESHOLD", 0, OUT_TEXT, 0 }, { "INCIDENTS", 0, OUT_NUMBER, 0 },
		{ "CHANGED BY", 0, OUT_TEXT, 0 }, { "AT (UTC)", 0, OUT_TEXT, 0 } };
	static const struct out_col json_cols[] = {
		{ "name", 0, OUT_TEXT, 1 }, { "version", 0, OUT_NUMBER, 1 },
		{ "enabled", 0, OUT_BOOL, 1 }, { "spec", 0, OUT_RAWJSON, 1 },
		{ "incidents", 0, OUT_NUMBER, 1 }, { "actor", 0, OUT_TEXT, 1 },
		{ "at", 0, OUT_TEXT, 1 }, { "leaf", 0, OUT_NUMBER, 1 } };
	int rows = PQntuples(res);
	struct out o;

	out_init(&o, stdout, json ? OUT_JSON : OUT_TABLE, json ? json_cols :
	    table_cols, 8);
	for (int r = 0; r < rows; r++) {
		const char *v[10];

		for (int c = 0; c < 10; c++)
			v[c] = PQgetvalue(res, r, c);
		if (json) {
			const char *cells[] = { v[0], v[1], v[2], v[8], v[9],
				v[5], v[6], v[7] };
			out_row(&o, cells);
		} else {
			const char *cells[] = { v[0], v[1], v[2][0] == 't' ?
				"enabled" : "disabled", v[3], v[4], v[9], v[5],
				v[6] };
			out_row(&o, cells);
		}
	}
	out_finish(&o);
	if (!json)
		fprintf(stderr, "%d rule%s%s\n", rows, rows == 1 ? "" : "s",
		    all ? " versions" : "");
	PQclear(res);
	PQfinish(conn);
	return 0;
}

int
cmd_rule(struct cli *cli, int argc, char **argv)
{
	if (argc < 2)
		return rule_usage();
	/* The subcommand's options follow it: parse argv[1..] with argv[1]
	 * standing where getopt expects the program name. */
	if (strcmp(argv[1], "add") == 0)
		return rule_add(cli, argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0)
		return rule_list(cli, argc - 1, argv + 1);
	if (strcmp(argv[1], "disable") == 0)
		return rule_disable(cli, argc - 1, argv + 1);
	fprintf(stderr, "bevis rule: unknown subcommand '%s'\n", argv[1]);
	return rule_usage();
}
