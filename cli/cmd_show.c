/* cmd_show.c - bevis show INC: one incident, its links (with those of the
 * incidents merged into it), its decisions as a timeline and its open
 * deadlines, and the open incidents that may be the same (similar.c), as
 * text or as one JSON object. A protected incident read by a
 * login outside bevis_protected shows what incident_overview shows; row-level
 * security hides the rest (the links and decisions come back empty). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "custody.h"
#include "output.h"

/* $1 the reference. Everyone may read incident_overview. */
#define SHOW_SQL(T) \
    "SELECT o.ref, o.status, o.merged_into_ref, o.title, o.description, " \
    "       o.supplier, " T("o.occurred_at") " AS occurred_at, " \
    "       " T("o.detected_at") " AS detected_at, " \
    "       " T("o.aware_at") " AS aware_at, o.cia_disclosure, o.cia_loss, " \
    "       o.cia_change, o.category, o.cause, o.personal_data, o.imy, " \
    "       " T("o.imy_notified_at") " AS imy_notified_at, o.imy_ref, " \
    "       o.subjects, " T("o.subjects_informed_at") " AS subjects_informed_at, " \
    "       o.protected_identity, " T("o.opened_at") " AS opened_at, " \
    "       o.opened_by, o.version, o.id " \
    "  FROM incident_overview o WHERE o.ref = upper(btrim($1))"
enum { I_REF, I_STATUS, I_MERGED, I_TITLE, I_DESC, I_SUPPLIER, I_OCCURRED,
	I_DETECTED, I_AWARE, I_CIA_D, I_CIA_L, I_CIA_C, I_CATEGORY, I_CAUSE,
	I_PERSONAL, I_IMY, I_IMY_AT, I_IMY_REF, I_SUBJECTS, I_SUBJECTS_AT,
	I_PROTECTED, I_OPENED, I_OPENED_BY, I_VERSION, I_ID };

/* $1 the incident id: what row-level security may hide. The categories
 * as "a,b" for people, as a JSON array for --json. */
#define LIST_TEXT(x) "array_to_string(" x ", ',')"
#define LIST_JSON(x) "to_jsonb(" x ")"
#define FULL_SQL(L) \
    "SELECT " L("subject_categories") " AS subject_categories, " \
    "       " L("data_categories") " AS data_categories, " \
    "       subjects_count, records_count, imy_late_reason " \
    "  FROM incident WHERE id = $1::bigint"

/* The links in force, this incident's and those of the incidents merged
 * into it (via names the merged one). */
#define LINKS_SQL(T) \
    "SELECT l.target_kind AS kind, " \
    "       CASE l.target_kind WHEN 'event' THEN sp.name || ':' || e.source_event_id " \
    "            WHEN 'submission' THEN l.submission_id::text " \
    "            WHEN 'incident' THEN oi.ref " \
    "            ELSE rsp.name || ':' || re.entry_id END AS target, " \
    "       l.event_submission_id AS submission, l.event_item_no AS item, " \
    "       CASE WHEN i.id <> $1::bigint THEN i.ref END AS via, " \
    "       " T("d.at") " AS linked_at, d.actor AS linked_by, " \
    "       l.report_entry_id AS report_entry, r.kind AS report_kind, " \
    "       r.period AS report_period, r.version AS report_version " \
    "  FROM incident_link_current l " \
    "  JOIN incident i ON i.id = l.incident_id " \
    "  JOIN decision d ON d.id = l.decision_id " \
    "  LEFT JOIN event e ON e.submission_id = l.event_submission_id " \
    "                   AND e.item_no = l.event_item_no " \
    "  LEFT JOIN supplier sp ON sp.id = e.supplier_id " \
    "  LEFT JOIN incident oi ON oi.id = l.other_incident_id " \
    "  LEFT JOIN report_entry re ON re.id = l.report_entry_id " \
    "  LEFT JOIN report r ON r.id = re.report_id " \
    "  LEFT JOIN supplier rsp ON rsp.id = r.supplier_id " \
    " WHERE l.incident_id = $1::bigint " \
    "    OR (i.status = 'merged' AND i.merged_into = $1::bigint) " \
    " ORDER BY d.at, l.id"

/* The timeline; changes is before -> after per field, for the text form. */
#define DECISIONS_SQL(T) \
    "SELECT d.seq, " T("d.at") " AS at, d.actor, d.kind, d.before, d.after, " \
    "       d.rationale, d.leaf_idx AS leaf, " \
    "       (SELECT string_agg(CASE WHEN d.before ? a.key " \
    "                   THEN format('%s: %s -> %s', a.key, d.before -> a.key, a.value) " \
    "                   ELSE format('%s: %s', a.key, a.value) END, '; ' " \
    "                   ORDER BY a.key) " \
    "          FROM jsonb_each(d.after) a) AS changes " \
    "  FROM decision d WHERE d.incident_id = $1::bigint ORDER BY d.seq"

#define DEADLINES_SQL(T) \
    "SELECT kind, " T("due_at") " AS due_at, " \
    "       floor(extract(epoch FROM due_at - now()))::bigint AS seconds_left " \
    "  FROM bevis_deadlines($2::interval) WHERE ref = $1"

/* One row of res as a JSON object, each column by its type. */
static void
row_object(struct buf *b, const PGresult *res, int r)
{
	buf_putc(b, '{');
	for (int c = 0; c < PQnfields(res); c++) {
		const char *name = PQfname(res, c);
		const char *v = PQgetvalue(res, r, c);
		Oid t = PQftype(res, c);

		if (c)
			buf_putc(b, ',');
		out_json_string(b, name, strlen(name));
		buf_putc(b, ':');
		if (PQgetisnull(res, r, c))
			buf_puts(b, "null");
		else if (t == 16)	/* bool */
			buf_puts(b, v[0] == 't' ? "true" : "false");
		else if (t == 20 || t == 21 || t == 23 || t == 114 || t == 3802)
			buf_puts(b, v);	/* int8, int2, int4, json, jsonb */
		else
			out_json_string(b, v, strlen(v));
	}
	buf_putc(b, '}');
}

static void
rows_array(struct buf *b, const char *key, const PGresult *res)
{
	buf_putc(b, ',');
	out_json_string(b, key, strlen(key));
	buf_puts(b, ":[");
	for (int r = 0; res && r < PQntuples(res); r++) {
		if (r)
			buf_putc(b, ',');
		row_object(b, res, r);
	}
	buf_putc(b, ']');
}

/* "label: value", the value escaped (it may quote supplier bytes). */
static void
line(struct buf *b, const char *label, const char *value)
{
	buf_printf(b, "%-20s ", label);
	if (value == NULL || *value == '\0')
		buf_putc(b, '-');
	else
		out_escape_text(b, value, strlen(value));
	buf_putc(b, '\n');
}

static const char *
cell(const PGresult *res, int r, int c)
{
	return PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
}

static void
show_text(struct buf *b, const PGresult *inc, const PGresult *full,
    const PGresult *links, const PGresult *decisions, const PGresult *deadlines)
{
	char tmp[256];

	buf_printf(b, "%s  %s", cell(inc, 0, I_REF), cell(inc, 0, I_STATUS));
	if (cell(inc, 0, I_MERGED))
		buf_printf(b, " into %s", cell(inc, 0, I_MERGED));
	buf_putc(b, '\n');
	if (full) {
		line(b, "title:", cell(inc, 0, I_TITLE));
		line(b, "description:", cell(inc, 0, I_DESC));
	}
	line(b, "supplier:", cell(inc, 0, I_SUPPLIER));
	line(b, "occurred:", cell(inc, 0, I_OCCURRED));
	line(b, "detected:", cell(inc, 0, I_DETECTED));
	line(b, "aware:", cell(inc, 0, I_AWARE));
	snprintf(tmp, sizeof(tmp), "%s by %s", cell(inc, 0, I_OPENED),
	    cell(inc, 0, I_OPENED_BY));
	line(b, "opened:", tmp);
	snprintf(tmp, sizeof(tmp), "%s%s%s",
	    *cell(inc, 0, I_CIA_D) == 't' ? "disclosure " : "",
	    *cell(inc, 0, I_CIA_L) == 't' ? "loss " : "",
	    *cell(inc, 0, I_CIA_C) == 't' ? "change " : "");
	if (tmp[0])
		tmp[strlen(tmp) - 1] = '\0';
	line(b, "cia:", tmp[0] ? tmp : "none");
	line(b, "category:", cell(inc, 0, I_CATEGORY));
	line(b, "cause:", cell(inc, 0, I_CAUSE));
	line(b, "personal data:", cell(inc, 0, I_PERSONAL));
	if (full) {
		line(b, "subject categories:", cell(full, 0, 0));
		line(b, "data categories:", cell(full, 0, 1));
		line(b, "subjects (approx.):", cell(full, 0, 2));
		line(b, "records (approx.):", cell(full, 0, 3));
	}
	if (cell(inc, 0, I_IMY_AT))
		snprintf(tmp, sizeof(tmp), "notified %s, case %s",
		    cell(inc, 0, I_IMY_AT), cell(inc, 0, I_IMY_REF));
	else
		snprintf(tmp, sizeof(tmp), "%s", cell(inc, 0, I_IMY));
	line(b, "IMY (Art. 33):", tmp);
	if (full && cell(full, 0, 4))
		line(b, "  late because:", cell(full, 0, 4));
	if (cell(inc, 0, I_SUBJECTS_AT))
		snprintf(tmp, sizeof(tmp), "informed %s",
		    cell(inc, 0, I_SUBJECTS_AT));
	else
		snprintf(tmp, sizeof(tmp), "%s", cell(inc, 0, I_SUBJECTS));
	line(b, "subjects (Art. 34):", tmp);
	line(b, "protected identity:",
	    *cell(inc, 0, I_PROTECTED) == 't' ? "yes" : "no");

	buf_puts(b, "\ndeadlines:\n");
	if (PQntuples(deadlines) == 0)
		buf_puts(b, "  none open\n");
	for (int r = 0; r < PQntuples(deadlines); r++) {
		char left[64];
		cli_time_left(strtoll(cell(deadlines, r, 2), NULL, 10), left,
		    sizeof(left));
		buf_printf(b, "  %-8s %s  %s\n", strcmp(cell(deadlines, r, 0),
		    "imy") == 0 ? "IMY" : cell(deadlines, r, 0),
		    cell(deadlines, r, 1), left);
	}
	if (full == NULL) {
		buf_puts(b, "\nthe title, description, links and decisions of this "
		    "incident are restricted to bevis_protected\n");
		return;
	}
	buf_puts(b, "\nlinks:\n");
	if (PQntuples(links) == 0)
		buf_puts(b, "  none\n");
	for (int r = 0; r < PQntuples(links); r++) {
		buf_printf(b, "  %-10s ", cell(links, r, 0));
		out_escape_text(b, cell(links, r, 1), strlen(cell(links, r, 1)));
		if (cell(links, r, 2))
			buf_printf(b, " (submission %s, item %s)", cell(links, r, 2),
			    cell(links, r, 3));
		if (cell(links, r, 7))
			buf_printf(b, " (%s report %s, version %s, entry row %s)",
			    cell(links, r, 8), cell(links, r, 9), cell(links, r, 10),
			    cell(links, r, 7));
		buf_printf(b, "  linked %s by ", cell(links, r, 5));
		out_escape_text(b, cell(links, r, 6), strlen(cell(links, r, 6)));
		if (cell(links, r, 4))
			buf_printf(b, "  [via %s, merged into this one]",
			    cell(links, r, 4));
		buf_putc(b, '\n');
	}
	buf_puts(b, "\ndecisions:\n");
	for (int r = 0; r < PQntuples(decisions); r++) {
		const char *changes = cell(decisions, r, 8);
		const char *why = cell(decisions, r, 6);
		buf_printf(b, "  %s. %s  ", cell(decisions, r, 0),
		    cell(decisions, r, 1));
		out_escape_text(b, cell(decisions, r, 2),
		    strlen(cell(decisions, r, 2)));
		buf_printf(b, "  %s\n      ", cell(decisions, r, 3));
		if (changes)
			out_escape_text(b, changes, strlen(changes));
		buf_putc(b, '\n');
		if (why && *why) {
			buf_puts(b, "      why: ");
			out_escape_text(b, why, strlen(why));
			buf_putc(b, '\n');
		}
	}
}

int
cmd_show(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	PGresult *inc = NULL, *full = NULL, *links = NULL, *decisions = NULL,
	    *deadlines = NULL, *similar = NULL;
	struct buf b = BUF_INIT;
	int ch, json = 0, rc = 1;
	char within[32];

	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		if (ch == 'j')
			json = 1;
		else
			return cli_usage("show", stderr);
	}
	if (optind + 1 != argc)
		return cli_usage("show", stderr);
	PGconn *conn = cli_connect_zoned(cli, "show");
	/* One snapshot for the five queries. */
	if (cli_exec("show", conn, "BEGIN ISOLATION LEVEL REPEATABLE READ "
	    "READ ONLY", PGRES_COMMAND_OK) < 0)
		goto out;
	const char *p1[1] = { argv[optind] };
	inc = cli_exec_params("show", conn, json ? SHOW_SQL(CLI_JSON_TIME) :
	    SHOW_SQL(CLI_LOCAL_TIME), 1, p1, PGRES_TUPLES_OK);
	if (inc == NULL)
		goto out;
	if (PQntuples(inc) != 1) {
		fprintf(stderr, "bevis show: no incident %s\n  hint: a reference "
		    "looks like INC-2026-0001; bevis incidents lists them\n",
		    argv[optind]);
		goto out;
	}
	const char *id[1] = { PQgetvalue(inc, 0, I_ID) };
	snprintf(within, sizeof(within), "%ld days", cli->cfg.triage_within);
	const char *p2[2] = { PQgetvalue(inc, 0, I_REF), within };
	if ((full = cli_exec_params("show", conn, json ? FULL_SQL(LIST_JSON) :
	    FULL_SQL(LIST_TEXT), 1, id,
	    PGRES_TUPLES_OK)) == NULL ||
	    (links = cli_exec_params("show", conn, json ?
	    LINKS_SQL(CLI_JSON_TIME) : LINKS_SQL(CLI_LOCAL_TIME), 1, id,
	    PGRES_TUPLES_OK)) == NULL ||
	    (decisions = cli_exec_params("show", conn, json ?
	    DECISIONS_SQL(CLI_JSON_TIME) : DECISIONS_SQL(CLI_LOCAL_TIME), 1, id,
	    PGRES_TUPLES_OK)) == NULL ||
	    (deadlines = cli_exec_params("show", conn, json ?
	    DEADLINES_SQL(CLI_JSON_TIME) : DEADLINES_SQL(CLI_LOCAL_TIME), 2, p2,
	    PGRES_TUPLES_OK)) == NULL ||
	    (similar = similar_query("show", conn, p2[0])) == NULL)
		goto out;
	/* Row-level security: no row, the reader is outside bevis_protected. */
	int restricted = PQntuples(full) == 0;
	if (json) {
		row_object(&b, inc, 0);
		b.len--;	/* reopen the object for the lists */
		if (!restricted) {
			buf_puts(&b, ",\"details\":");
			row_object(&b, full, 0);
		}
		buf_printf(&b, ",\"restricted\":%s", restricted ? "true" : "false");
		rows_array(&b, "deadlines", deadlines);
		if (!restricted) {
			rows_array(&b, "links", links);
			rows_array(&b, "decisions", decisions);
			if (custody_show(conn, id[0], 1, &b) < 0)
				goto out;
			similar_json(&b, similar);
		}
		buf_puts(&b, "}\n");
	} else {
		show_text(&b, inc, restricted ? NULL : full, links, decisions,
		    deadlines);
		if (!restricted && custody_show(conn, id[0], 0, &b) < 0)
			goto out;
		if (!restricted)
			similar_text(&b, similar);
	}
	fwrite(b.data, 1, b.len, stdout);
	rc = 0;
out:
	buf_free(&b);
	PQclear(inc);
	PQclear(full);
	PQclear(links);
	PQclear(decisions);
	PQclear(deadlines);
	PQclear(similar);
	PQfinish(conn);
	return rc;
}
