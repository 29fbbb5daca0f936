/* verify_incidents.c - the incident pass of bevis verify: decisions against
 * their ledger leaves, incidents against the replay of their decisions, and
 * links against the link decisions (docs/LEDGER.md, "What verify checks for
 * incidents").
 *
 *   leaves     every decision leaf decodes, and is the encoding of the
 *              decision row that names it (leaf_idx; the reference from
 *              the incident); every decision row has its leaf.
 *   sequence   each incident's decisions run 1, 2, ... without a gap, the
 *              first is its open decision and the only one, its actor is
 *              the incident's opened_by, and incident.version counts them.
 *   replay     the decisions folded in seq order give every field of the
 *              incident row.
 *   links      each incident_link row is what its decision says, and the
 *              links in force are what the link and unlink decisions leave.
 *
 * The folds and comparisons run in PostgreSQL, so that both sides of each
 * comparison are rendered by one server in one session: a timestamp in a
 * decision's JSON and the row's timestamptz compare as instants, arrays as
 * arrays. Row-level security hides protected incidents from readers outside
 * bevis_protected; their decision leaves are counted as not checked, never
 * reported as tampering. Reads on conn[0], in the snapshot of the other
 * passes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "hex.h"
#include "ledger.h"
#include "verify.h"
#include "xmalloc.h"

/* Runs a query in text format; NULL (with the error printed) on failure. */
static PGresult *
query(struct verify *v, const char *sql)
{
	PGresult *res = PQexec(v->conn[0], sql);

	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		return res;
	fprintf(stderr, "bevis verify: cannot read the incidents: %s",
	    PQerrorMessage(v->conn[0]));
	PQclear(res);
	return NULL;
}

/* ---- decisions against their leaves ---- */

#define DEC_LEAF_QUERY "SELECT idx, data FROM ledger_leaf " \
	"WHERE kind = 'decision' ORDER BY idx"
/* i.ref is NULL for a decision whose incident row is gone. */
#define DEC_ROW_QUERY "SELECT d.leaf_idx, i.ref, d.seq, d.kind, " \
	"d.before::text, d.after::text, d.rationale, d.actor, " \
	"(extract(epoch FROM d.at) * 1000000)::bigint, d.id, d.incident_id, " \
	"encode(d.salt, 'hex') " \
	"FROM decision d LEFT JOIN incident i ON i.id = d.incident_id " \
	"ORDER BY d.leaf_idx"
/* Protected incidents this reader cannot see: incident_overview lists every
 * reference, the rows themselves are behind row-level security. */
#define HIDDEN_QUERY "SELECT o.ref FROM incident_overview o " \
	"WHERE NOT EXISTS (SELECT 1 FROM incident i WHERE i.id = o.id) " \
	"ORDER BY o.ref"

static int
is_hidden(const PGresult *hr, const char *ref)
{
	for (int i = 0; i < PQntuples(hr); i++)
		if (strcmp(PQgetvalue(hr, i, 0), ref) == 0)
			return 1;
	return 0;
}

/* Decision row j of dr as its leaf holds it: the texts as their keyed
 * digests (ledger.h). -1 when the row's salt is not 16 bytes. */
int
row_decision(const PGresult *dr, int j, struct ledger_decision *row)
{
	unsigned char salt[LEDGER_DECISION_SALT_LEN];
	const char *hex = PQgetvalue(dr, j, 11);

	memset(row, 0, sizeof(*row));
	if (hex_decode(hex, strlen(hex), salt, sizeof(salt)) < 0)
		return -1;
	row->incident_ref = PQgetvalue(dr, j, 1);
	row->seq = atoi(PQgetvalue(dr, j, 2));
	row->kind = PQgetvalue(dr, j, 3);
	ledger_decision_digest(salt, LEDGER_DIGEST_BEFORE, PQgetvalue(dr, j, 4),
	    row->before_sha256);
	ledger_decision_digest(salt, LEDGER_DIGEST_AFTER, PQgetvalue(dr, j, 5),
	    row->after_sha256);
	ledger_decision_digest(salt, LEDGER_DIGEST_RATIONALE,
	    PQgetvalue(dr, j, 6), row->rationale_sha256);
	row->actor = PQgetvalue(dr, j, 7);
	row->at_us = atoll(PQgetvalue(dr, j, 8));
	return 0;
}

/* The first field in which the decoded leaf k and the row differ, or
 * NULL. */
const char *
decision_difference(const struct ledger_decision *k,
    const struct ledger_decision *row)
{
	return strcmp(k->incident_ref, row->incident_ref) != 0 ?
	    "incident reference" :
	    k->seq != row->seq ? "sequence number" :
	    strcmp(k->kind, row->kind) != 0 ? "kind" :
	    memcmp(k->before_sha256, row->before_sha256, SHA256_LEN) != 0 ?
	    "before value" :
	    memcmp(k->after_sha256, row->after_sha256, SHA256_LEN) != 0 ?
	    "after value" :
	    memcmp(k->rationale_sha256, row->rationale_sha256, SHA256_LEN) != 0 ?
	    "rationale" :
	    strcmp(k->actor, row->actor) != 0 ? "actor" :
	    k->at_us != row->at_us ? "time" : NULL;
}

/* The row, encoded as its leaf, against the leaf's bytes. */
static int
row_encodes_to(const struct ledger_decision *row, const unsigned char *d,
    size_t n)
{
	struct buf b = BUF_INIT;

	ledger_encode_decision(&b, row);
	int same = b.len == n && memcmp(b.data, d, n) == 0;
	buf_free(&b);
	return same;
}

/* One decision leaf (idx li, data d) with its row j of dr, or none (j < 0). */
static void
check_decision_leaf(struct verify *v, long long li, const unsigned char *d,
    size_t n, const PGresult *dr, int j, const PGresult *hr)
{
	struct ledger_decision k;
	const char *why = ledger_decode_decision(d, n, &k);

	if (why) {
		verify_problem(v, "leaf %lld: a decision leaf that does not "
		    "decode: %s", li, why);
		return;
	}
	if (j < 0) {
		if (is_hidden(hr, k.incident_ref))
			v->decisions_hidden++;
		else
			verify_problem(v, "leaf %lld: decision %d of %s has no "
			    "decision row", li, k.seq, k.incident_ref);
	} else if (PQgetisnull(dr, j, 1)) {
		verify_problem(v, "decision %s of %s (leaf %lld): its incident "
		    "row (id %s) is gone", PQgetvalue(dr, j, 2), k.incident_ref,
		    li, PQgetvalue(dr, j, 10));
	} else {
		struct ledger_decision row;
		const char *what = row_decision(dr, j, &row) < 0 ?
		    "salt" : decision_difference(&k, &row);

		if (what)
			verify_problem(v, "decision %s of %s (leaf %lld): its %s "
			    "differs from its ledger leaf", PQgetvalue(dr, j, 2),
			    PQgetvalue(dr, j, 1), li, what);
		else if (!row_encodes_to(&row, d, n))
			verify_problem(v, "decision %s of %s (leaf %lld): the leaf "
			    "is not the encoding of the row", PQgetvalue(dr, j, 2),
			    PQgetvalue(dr, j, 1), li);
		v->decisions++;
	}
	ledger_decision_free(&k);
}

/* Leaves and rows merged by leaf index, as for the supplier keys. */
static int
verify_decision_leaves(struct verify *v)
{
	PGresult *lr = query(v, DEC_LEAF_QUERY);
	PGresult *dr = lr ? query(v, DEC_ROW_QUERY) : NULL;
	PGresult *hr = dr ? query(v, HIDDEN_QUERY) : NULL;

	if (hr == NULL) {
		PQclear(lr);
		PQclear(dr);
		return -1;
	}
	v->incidents_hidden = PQntuples(hr);
	int nl = PQntuples(lr), nd = PQntuples(dr), i = 0, j = 0;
	while (i < nl || j < nd) {
		long long li = i < nl ? atoll(PQgetvalue(lr, i, 0)) : -1;
		long long di = j < nd ? atoll(PQgetvalue(dr, j, 0)) : -1;

		if (i >= nl || (j < nd && di < li)) {
			verify_problem(v, "decision %s of %s (leaf %lld): there is "
			    "no decision leaf at %lld", PQgetvalue(dr, j, 2),
			    PQgetisnull(dr, j, 1) ? "a missing incident" :
			    PQgetvalue(dr, j, 1), di, di);
			j++;
			continue;
		}
		size_t dl;
		unsigned char *d = PQunescapeBytea((const unsigned char *)
		    PQgetvalue(lr, i, 1), &dl);
		if (d == NULL)
			fatalx("out of memory");
		check_decision_leaf(v, li, d, dl, dr, j < nd && di == li ? j : -1,
		    hr);
		PQfreemem(d);
		if (j < nd && di == li)
			j++;
		i++;
	}
	PQclear(lr);
	PQclear(dr);
	PQclear(hr);
	return 0;
}

/* ---- each incident's sequence of decisions ---- */

/* One pass over the decisions in (incident, seq) order: a gap is a seq
 * that is not the one before it plus one. */
#define SEQ_QUERY "WITH d AS (SELECT incident_id, seq, kind, actor, " \
	"coalesce(lag(seq) OVER (PARTITION BY incident_id ORDER BY seq), 0) " \
	"AS prev FROM decision), " \
	"c AS (SELECT incident_id, count(*) AS n, max(seq) AS mx, " \
	"count(*) FILTER (WHERE kind = 'open') AS nopen, " \
	"bool_or(seq = 1 AND kind = 'open') AS open1, " \
	"min(prev + 1) FILTER (WHERE seq <> prev + 1) AS missing, " \
	"min(actor) FILTER (WHERE seq = 1 AND kind = 'open') AS opener " \
	"FROM d GROUP BY incident_id) " \
	"SELECT i.ref, i.version, coalesce(c.n, 0), coalesce(c.mx, 0), " \
	"coalesce(c.nopen, 0), coalesce(c.open1, false), c.missing, " \
	"i.opened_by, c.opener " \
	"FROM incident i LEFT JOIN c ON c.incident_id = i.id ORDER BY i.id"

static int
verify_decision_sequences(struct verify *v)
{
	PGresult *res = query(v, SEQ_QUERY);

	if (res == NULL)
		return -1;
	for (int r = 0; r < PQntuples(res); r++) {
		const char *ref = PQgetvalue(res, r, 0);
		long version = atol(PQgetvalue(res, r, 1));
		long n = atol(PQgetvalue(res, r, 2));
		long mx = atol(PQgetvalue(res, r, 3));

		if (n == 0) {
			verify_problem(v, "incident %s: it has no decisions, not "
			    "even its open decision", ref);
		} else {
			if (!PQgetisnull(res, r, 6))
				verify_problem(v, "incident %s: decision %s is "
				    "missing (it has %ld decisions, up to %ld)", ref,
				    PQgetvalue(res, r, 6), n, mx);
			if (PQgetvalue(res, r, 5)[0] != 't')
				verify_problem(v, "incident %s: its first decision "
				    "is not its open decision", ref);
			else if (atol(PQgetvalue(res, r, 4)) > 1)
				verify_problem(v, "incident %s: it has %s open "
				    "decisions", ref, PQgetvalue(res, r, 4));
			/* Who opened it is the open decision's actor. */
			if (!PQgetisnull(res, r, 8) && strcmp(PQgetvalue(res, r,
			    7), PQgetvalue(res, r, 8)) != 0)
				verify_problem(v, "incident %s: its opened_by is "
				    "%s, but its open decision's actor is %s", ref,
				    PQgetvalue(res, r, 7), PQgetvalue(res, r, 8));
		}
		if (version != n)
			verify_problem(v, "incident %s: its version is %ld, but it "
			    "has %ld decisions", ref, version, n);
		v->incidents++;
	}
	PQclear(res);
	return 0;
}

/* ---- the replay ---- */

/* The fold, as last writer wins: each open, triage, reopen, merge and
 * unmerge decision sets every field its before or after names to its after
 * value (JSON null when after leaves it out: an unmerge names merged_into in
 * before only). The result goes through jsonb_populate_record, the same
 * conversion the functions use, and is compared column by column with
 * to_jsonb() of the row; merged_into and ref are references in decisions
 * and compared as such. Link decisions change no field. */
#define FOLD_CTE "WITH w AS (SELECT d.incident_id, k.key, d.seq, " \
	"coalesce(d.after -> k.key, 'null'::jsonb) AS val FROM decision d, " \
	"LATERAL (SELECT jsonb_object_keys(CASE WHEN jsonb_typeof(d.before) = " \
	"'object' THEN d.before ELSE '{}' END) UNION SELECT jsonb_object_keys(" \
	"CASE WHEN jsonb_typeof(d.after) = 'object' THEN d.after ELSE '{}' END)) " \
	"k(key) WHERE d.kind IN ('open', 'triage', 'reopen', 'merge', 'unmerge')), " \
	"f AS (SELECT DISTINCT ON (incident_id, key) incident_id, key, val " \
	"FROM w ORDER BY incident_id, key, seq DESC), " \
	"g AS (SELECT incident_id, jsonb_object_agg(key, val) AS st FROM f " \
	"GROUP BY incident_id), " \
	"s AS (SELECT i.id, i.ref, coalesce(g.st, '{}') AS st FROM incident i " \
	"LEFT JOIN g ON g.incident_id = i.id), " \
	"p AS (SELECT s.*, to_jsonb(jsonb_populate_record(NULL::incident, s.st " \
	"- 'merged_into' - 'ref')) AS r FROM s) "
#define SKIP_COLUMNS "('id', 'ref', 'version', 'opened_by', 'merged_into')"
#define REPLAY_QUERY FOLD_CTE \
	"SELECT p.ref, e.key, e.value::text, (p.r -> e.key)::text, p.id " \
	"FROM p JOIN incident i ON i.id = p.id, LATERAL jsonb_each(to_jsonb(i)) e " \
	"WHERE e.key NOT IN " SKIP_COLUMNS " AND p.r -> e.key IS DISTINCT FROM e.value " \
	"UNION ALL SELECT p.ref, 'merged_into', to_jsonb(m.ref)::text, " \
	"coalesce(p.st -> 'merged_into', 'null')::text, p.id FROM p " \
	"JOIN incident i ON i.id = p.id LEFT JOIN incident_overview m " \
	"ON m.id = i.merged_into WHERE coalesce(to_jsonb(m.ref), 'null') " \
	"IS DISTINCT FROM coalesce(p.st -> 'merged_into', 'null') " \
	"UNION ALL SELECT p.ref, 'ref', to_jsonb(p.ref)::text, " \
	"coalesce(p.st -> 'ref', 'null')::text, p.id FROM p " \
	"WHERE to_jsonb(p.ref) IS DISTINCT FROM p.st -> 'ref' " \
	"UNION ALL SELECT p.ref, k, NULL, (p.st -> k)::text, p.id FROM p, " \
	"jsonb_object_keys(p.st) k WHERE k NOT IN ('ref', 'merged_into') " \
	"AND k NOT IN (SELECT attname FROM pg_attribute WHERE attrelid = " \
	"'incident'::regclass AND attnum > 0 AND NOT attisdropped) " \
	"ORDER BY 5, 2"

/* jsonb_populate_record fails on a value of the wrong type, which only a
 * forged decision holds: the savepoint keeps the snapshot usable, and the
 * failure is a problem like any other. */
static int
verify_replay(struct verify *v)
{
	PGconn *c = v->conn[0];
	PGresult *res = PQexec(c, "SAVEPOINT replay");

	PQclear(res);
	res = PQexec(c, REPLAY_QUERY);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		const char *e = PQerrorMessage(c);
		size_t n = strcspn(e, "\n");

		verify_problem(v, "incidents: the decisions cannot be replayed: "
		    "%.*s", (int)n, e);
		PQclear(res);
		res = PQexec(c, "ROLLBACK TO SAVEPOINT replay");
		PQclear(res);
		return 0;
	}
	for (int r = 0; r < PQntuples(res); r++) {
		if (PQgetisnull(res, r, 2))
			verify_problem(v, "incident %s: its decisions set %s, "
			    "which is not a field of an incident",
			    PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
		else
			verify_problem(v, "incident %s: its %s is %s, but its "
			    "decisions say %s", PQgetvalue(res, r, 0),
			    PQgetvalue(res, r, 1), PQgetvalue(res, r, 2),
			    PQgetvalue(res, r, 3));
	}
	PQclear(res);
	res = PQexec(c, "RELEASE SAVEPOINT replay");
	PQclear(res);
	return 0;
}

/* ---- links ---- */

/* A link target as one string: from a decision's after value (x, the
 * object under "link" or "unlink") or from an incident_link row (l, with
 * the other incident's reference o). The ids, not the names, are compared. */
#define TARGET_FROM_JSON(x) "CASE WHEN " x " ? 'event' THEN " \
	"'event (submission ' || (" x " -> 'event' ->> 'submission') || " \
	"', item ' || (" x " -> 'event' ->> 'item') || ')' WHEN " x " ? 'submission' THEN 'submission ' || (" x " ->> " \
	"'submission') WHEN " x " ? 'incident' THEN 'incident ' || (" x " ->> " \
	"'incident') WHEN " x " ? 'report_entry' THEN 'report entry ' || (" x \
	" ->> 'report_entry') END"
#define TARGET_FROM_ROW(l, o) "CASE " l ".target_kind WHEN 'event' THEN " \
	"'event (submission ' || " l ".event_submission_id || ', item ' || " \
	l ".event_item_no || ')' " \
	"WHEN 'submission' THEN 'submission ' || " l ".submission_id " \
	"WHEN 'incident' THEN 'incident ' || " o ".ref " \
	"ELSE 'report entry ' || " l ".report_entry_id END"

#define LINK_ROW_QUERY "SELECT l.id, coalesce(i.ref, 'incident id ' || " \
	"l.incident_id), l.action, " TARGET_FROM_ROW("l", "o") ", " \
	"d.id IS NOT NULL, d.seq, d.kind, d.incident_id = l.incident_id, " \
	"coalesce(" TARGET_FROM_JSON("(d.after -> d.kind)") ", '(none)'), " \
	"l.decision_id FROM incident_link l " \
	"LEFT JOIN incident i ON i.id = l.incident_id " \
	"LEFT JOIN incident_overview o ON o.id = l.other_incident_id " \
	"LEFT JOIN decision d ON d.id = l.decision_id ORDER BY l.id"
#define LINK_DECISION_QUERY "SELECT i.ref, d.seq, d.kind FROM decision d " \
	"JOIN incident i ON i.id = d.incident_id WHERE d.kind IN ('link', " \
	"'unlink') AND NOT EXISTS (SELECT 1 FROM incident_link l " \
	"WHERE l.decision_id = d.id) ORDER BY d.incident_id, d.seq"
/* The replay: the last link or unlink decision on each target decides
 * whether it is linked now. */
#define LINK_SET_QUERY "WITH t AS (SELECT DISTINCT ON (d.incident_id, x.t) " \
	"d.incident_id, x.t, d.kind, d.seq FROM decision d, LATERAL (SELECT " \
	TARGET_FROM_JSON("(d.after -> d.kind)") " AS t) x " \
	"WHERE d.kind IN ('link', 'unlink') AND x.t IS NOT NULL " \
	"ORDER BY d.incident_id, x.t, d.seq DESC), " \
	"r AS (SELECT incident_id, t, seq FROM t WHERE kind = 'link'), " \
	"c AS (SELECT l.incident_id, " TARGET_FROM_ROW("l", "o") " AS t, l.id " \
	"FROM incident_link_current l LEFT JOIN incident_overview o " \
	"ON o.id = l.other_incident_id) " \
	"SELECT i.ref, coalesce(r.t, c.t), r.seq, c.id FROM r FULL JOIN c " \
	"ON c.incident_id = r.incident_id AND c.t = r.t " \
	"JOIN incident i ON i.id = coalesce(r.incident_id, c.incident_id) " \
	"WHERE r.t IS NULL OR c.t IS NULL ORDER BY i.id, 2"

static void
check_link_row(struct verify *v, const PGresult *res, int r)
{
	const char *id = PQgetvalue(res, r, 0), *ref = PQgetvalue(res, r, 1);
	const char *action = PQgetvalue(res, r, 2);
	const char *target = PQgetvalue(res, r, 3);

	if (PQgetvalue(res, r, 4)[0] != 't')
		verify_problem(v, "link row %s of %s (%s %s): its decision %s "
		    "does not exist", id, ref, action, target,
		    PQgetvalue(res, r, 9));
	else if (PQgetvalue(res, r, 7)[0] != 't')
		verify_problem(v, "link row %s of %s (%s %s): its decision %s "
		    "is on another incident", id, ref, action, target,
		    PQgetvalue(res, r, 9));
	else if (strcmp(PQgetvalue(res, r, 6), action) != 0)
		verify_problem(v, "link row %s of %s (%s %s): its decision %s is "
		    "of kind %s", id, ref, action, target,
		    PQgetvalue(res, r, 5), PQgetvalue(res, r, 6));
	else if (strcmp(PQgetvalue(res, r, 8), target) != 0)
		verify_problem(v, "link row %s of %s (%s %s): its decision %s "
		    "names %s", id, ref, action, target, PQgetvalue(res, r, 5),
		    PQgetvalue(res, r, 8));
}

static int
verify_links(struct verify *v)
{
	PGresult *res = query(v, LINK_ROW_QUERY);

	if (res == NULL)
		return -1;
	for (int r = 0; r < PQntuples(res); r++) {
		check_link_row(v, res, r);
		v->links++;
	}
	PQclear(res);
	if ((res = query(v, LINK_DECISION_QUERY)) == NULL)
		return -1;
	for (int r = 0; r < PQntuples(res); r++)
		verify_problem(v, "decision %s of %s: a %s decision with no link "
		    "row", PQgetvalue(res, r, 1), PQgetvalue(res, r, 0),
		    PQgetvalue(res, r, 2));
	PQclear(res);
	if ((res = query(v, LINK_SET_QUERY)) == NULL)
		return -1;
	for (int r = 0; r < PQntuples(res); r++) {
		if (PQgetisnull(res, r, 3))
			verify_problem(v, "incident %s: its decisions link %s "
			    "(decision %s), but no such link is in force",
			    PQgetvalue(res, r, 0), PQgetvalue(res, r, 1),
			    PQgetvalue(res, r, 2));
		else
			verify_problem(v, "incident %s: link row %s to %s is in "
			    "force, but its decisions do not link it",
			    PQgetvalue(res, r, 0), PQgetvalue(res, r, 3),
			    PQgetvalue(res, r, 1));
	}
	PQclear(res);
	return 0;
}

int
verify_incidents(struct verify *v)
{
	if (verify_decision_leaves(v) < 0 || verify_decision_sequences(v) < 0 ||
	    verify_replay(v) < 0 || verify_links(v) < 0)
		return -1;
	return 0;
}
