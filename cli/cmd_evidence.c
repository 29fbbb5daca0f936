/* cmd_evidence.c - bevis evidence INC: the auditor's view of an incident.
 *
 * Everything behind the incident and the incidents merged into it: each
 * submission and event linked to it (incident_link_current), each decision
 * and each custody record. For each item: what it is, when it was received
 * or recorded, supplier and key fingerprint (or the actor), the SHA-256 of
 * its raw bytes recomputed from the stored body, its ledger leaf, and
 * whether it verifies, recomputed on the spot:
 *
 *   submission  the body's SHA-256 and its event and quarantine rows are
 *               what its leaf commits to, field by field;
 *   event       its raw bytes lie in that body, and its submission verifies;
 *   report entry  likewise: its raw bytes lie in the body of the submission
 *               that carried its report (issue 13), which verifies;
 *   decision    the row (texts through their keyed digests) is its leaf;
 *   custody     likewise (custody.c);
 *   every leaf  SHA-256(0x00 || data) is the stored hash, and its inclusion
 *               proof, built from the stored nodes, leads to the root of
 *               the newest signed tree head, whose checkpoint is checked
 *               with the ledger key when one is found.
 *
 * Exits 1 and names each item that fails. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "buf.h"
#include "checkpoint.h"
#include "cli.h"
#include "custody.h"
#include "event.h"
#include "hex.h"
#include "keyfile.h"
#include "ledger.h"
#include "ledgerdb.h"
#include "merkle.h"
#include "output.h"
#include "pgcopy.h"
#include "sha256.h"
#include "verify.h"
#include "xmalloc.h"

/* The incident and every incident merged into it, however deep. $1 the id. */
#define SCOPE "WITH RECURSIVE scope(id) AS (SELECT $1::bigint UNION " \
	"SELECT i.id FROM incident i JOIN scope s ON i.merged_into = s.id " \
	"AND i.status = 'merged') "
#define US(x) "(extract(epoch FROM " x ") * 1000000)::bigint"

/* Submissions linked, or carrying a linked event. */
#define SUBS_SQL SCOPE \
	"SELECT s.id, sp.name, nullif(s.key_fingerprint, ''), " \
	US("s.received_at") ", s.request_id, s.content_type, " \
	"encode(s.body, 'hex'), s.body IS NULL, r.submission_id IS NOT NULL, " \
	"l.idx, encode(l.data, 'hex'), s.item_count " \
	"FROM submission s LEFT JOIN supplier sp ON sp.id = s.supplier_id " \
	"LEFT JOIN redaction r ON r.submission_id = s.id " \
	"LEFT JOIN ledger_leaf l ON l.kind = 'submission' AND l.submission_id = s.id " \
	"WHERE s.id IN (SELECT coalesce(k.submission_id, k.event_submission_id) " \
	"FROM incident_link_current k WHERE k.incident_id IN (SELECT id FROM scope) " \
	"UNION SELECT r.submission_id FROM incident_link_current k " \
	"JOIN report_entry re ON re.id = k.report_entry_id " \
	"JOIN report r ON r.id = re.report_id " \
	"WHERE k.incident_id IN (SELECT id FROM scope)) " \
	"ORDER BY s.id"
enum { S_ID, S_SUPPLIER, S_FP, S_AT, S_REQ, S_CTYPE, S_BODY, S_BODYNULL,
	S_REDACTED, S_LEAF, S_DATA, S_ITEMS };

#define EVENTS_SQL SCOPE \
	"SELECT sp.name || ':' || e.source_event_id, e.submission_id, e.item_no, " \
	US("s.received_at") ", sp.name, nullif(s.key_fingerprint, ''), " \
	"encode(substring(s.body FROM e.raw_offset + 1 FOR e.raw_length), 'hex'), " \
	"s.body IS NULL, concat_ws(' ', e.category, e.action, e.outcome), " \
	"octet_length(s.body) >= e.raw_offset + e.raw_length " \
	"FROM incident_link_current k " \
	"JOIN event e ON e.submission_id = k.event_submission_id " \
	"AND e.item_no = k.event_item_no " \
	"JOIN submission s ON s.id = e.submission_id " \
	"JOIN supplier sp ON sp.id = e.supplier_id " \
	"WHERE k.incident_id IN (SELECT id FROM scope) " \
	"ORDER BY e.submission_id, e.item_no"
enum { E_NAME, E_SUB, E_ITEM, E_AT, E_SUPPLIER, E_FP, E_RAW, E_BODYNULL,
	E_WHAT, E_INBODY };

/* Report entries linked in force (issue 13), each with its report and its
 * raw bytes: the slice of the body of the submission that carried its
 * report, checked through that submission like an event. */
#define ENTRIES_SQL SCOPE \
	"SELECT re.id, sp.name, r.kind, r.period, r.version, re.entry_id, " \
	"r.submission_id, re.item_no, " US("s.received_at") ", " \
	"nullif(s.key_fingerprint, ''), " \
	"encode(substring(s.body FROM re.raw_offset + 1 FOR re.raw_length), 'hex'), " \
	"s.body IS NULL, " \
	"octet_length(s.body) >= re.raw_offset + re.raw_length, " \
	"s.supplier_id IS NOT DISTINCT FROM r.supplier_id " \
	"FROM incident_link_current k " \
	"JOIN report_entry re ON re.id = k.report_entry_id " \
	"JOIN report r ON r.id = re.report_id " \
	"JOIN submission s ON s.id = r.submission_id " \
	"JOIN supplier sp ON sp.id = r.supplier_id " \
	"WHERE k.incident_id IN (SELECT id FROM scope) " \
	"AND k.target_kind = 'report_entry' ORDER BY r.submission_id, re.item_no, re.id"
enum { RE_ID, RE_SOURCE, RE_KIND, RE_PERIOD, RE_VERSION, RE_ENTRY, RE_SUB,
	RE_ITEM, RE_AT, RE_FP, RE_RAW, RE_BODYNULL, RE_INBODY, RE_SAMESRC };

/* The columns verify_incidents.c's row_decision reads, then the leaf and
 * the previous seq. */
#define DECISIONS_SQL SCOPE \
	"SELECT d.leaf_idx, i.ref, d.seq, d.kind, d.before::text, d.after::text, " \
	"d.rationale, d.actor, " US("d.at") ", d.id, d.incident_id, " \
	"encode(d.salt, 'hex'), encode(l.data, 'hex'), " \
	"coalesce(lag(d.seq) OVER (PARTITION BY d.incident_id ORDER BY d.seq), 0) " \
	"FROM decision d JOIN incident i ON i.id = d.incident_id " \
	"LEFT JOIN ledger_leaf l ON l.idx = d.leaf_idx AND l.kind = 'decision' " \
	"WHERE d.incident_id IN (SELECT id FROM scope) " \
	"ORDER BY d.incident_id <> $1::bigint, i.ref, d.seq"
enum { D_LEAF, D_REF, D_SEQ, D_KIND, D_ACTOR = 7, D_AT, D_DATA = 12, D_PREV };

#define CUSTODY_SQL SCOPE "SELECT " CUSTODY_ROW_COLUMNS ", " US("c.at") " " \
	CUSTODY_FROM "WHERE c.incident_id IN (SELECT id FROM scope) " \
	"ORDER BY i.ref, c.seq"

static const struct out_col evidence_cols[] = {
	{ "item", 48, OUT_TEXT, 0 },
	{ "what", 40, OUT_TEXT, 1 },
	{ "at", 0, OUT_TEXT, 0 },
	{ "supplier", 24, OUT_TEXT, 1 },
	{ "key_fingerprint", 0, OUT_TEXT, 1 },
	{ "actor", 24, OUT_TEXT, 1 },
	{ "sha256", 0, OUT_TEXT, 1 },
	{ "leaf", 0, OUT_NUMBER, 1 },
	{ "verified", 0, OUT_BOOL, 0 },
	{ "problem", 0, OUT_TEXT, 1 },
};
enum { C_ITEM, C_WHAT, C_AT, C_SUPPLIER, C_FP, C_ACTOR, C_SHA, C_LEAF,
	C_OK, C_PROBLEM, NCOLS };

struct evidence {
	PGconn *conn;
	struct out out;
	uint64_t size;			/* the newest signed tree head */
	unsigned char root[32];
	int have_head;
	long items, failed;
	struct buf failures;		/* one line per failed item */
	/* submissions that failed, for their events */
	int64_t *bad_subs;
	size_t nbad;
};

/* One item: its cells (NULL: none), the leaf's data, and what failed so
 * far (empty: nothing). Checks the leaf, then prints the row. */
struct item {
	const char *cell[NCOLS];
	int64_t leaf;			/* -1: none */
	struct buf data;
	struct buf problem;
};

static void
item_problem(struct item *it, const char *fmt, ...) PRINTF_LIKE(2, 3);

static void
item_problem(struct item *it, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (it->problem.len)
		buf_puts(&it->problem, "; ");
	buf_puts(&it->problem, line);
}

/* The leaf's hash and its inclusion proof against the newest head. */
static void
check_inclusion(struct evidence *e, struct item *it)
{
	unsigned char path[MERKLE_MAX_PATH][MERKLE_HASH_LEN], r[32], lh[32],
	    want[32];
	size_t len;
	char err[300];

	if (it->leaf < 0)
		return;
	if (!e->have_head || (uint64_t)it->leaf >= e->size) {
		item_problem(it, "no signed tree head covers leaf %lld yet",
		    (long long)it->leaf);
		return;
	}
	if (ledger_inclusion(e->conn, (uint64_t)it->leaf, e->size, path, &len, r,
	    lh, err, sizeof(err)) < 0) {
		item_problem(it, "no inclusion proof of leaf %lld: %s",
		    (long long)it->leaf, err);
		return;
	}
	merkle_leaf_hash(it->data.data, it->data.len, want);
	if (memcmp(want, lh, 32) != 0)
		item_problem(it, "the stored hash of leaf %lld is not SHA-256(0x00 "
		    "|| its data)", (long long)it->leaf);
	else if (merkle_verify_inclusion(lh, (uint64_t)it->leaf, e->size, path,
	    len, e->root) != 0)
		item_problem(it, "the inclusion proof of leaf %lld does not lead "
		    "to the root of the signed tree head of size %llu",
		    (long long)it->leaf, (unsigned long long)e->size);
}

static void
item_emit(struct evidence *e, struct item *it)
{
	char leaf[24];

	check_inclusion(e, it);
	if (it->leaf >= 0) {
		snprintf(leaf, sizeof(leaf), "%lld", (long long)it->leaf);
		it->cell[C_LEAF] = leaf;
	}
	it->cell[C_OK] = it->problem.len ? "f" : "t";
	it->cell[C_PROBLEM] = it->problem.len ? buf_cstr(&it->problem) : NULL;
	out_row(&e->out, it->cell);
	e->items++;
	if (it->problem.len) {
		e->failed++;
		buf_printf(&e->failures, "  %s: ", it->cell[C_ITEM]);
		out_escape_text(&e->failures, (const char *)it->problem.data,
		    it->problem.len);
		buf_putc(&e->failures, '\n');
	}
	buf_free(&it->data);
	buf_free(&it->problem);
}

static PGresult *
query(struct evidence *e, const char *sql, const char *id)
{
	const char *p[1] = { id };

	return cli_exec_params("evidence", e->conn, sql, 1, p, PGRES_TUPLES_OK);
}

static const char *
cell(const PGresult *res, int r, int c)
{
	return PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
}

static int
rows_cb(void *ctx, const struct pgcopy_tuple *t)
{
	return ledger_rows_add(ctx, t->data, t->len);
}

static int
digest_cb(void *ctx, const struct pgcopy_tuple *t)
{
	return EVP_DigestUpdate(ctx, t->data, t->len) == 1 ? 0 : -1;
}

/* The output of COPY (SELECT cols FROM table WHERE submission_id = id
 * ORDER BY item_no) TO STDOUT (FORMAT binary), as verify and export read
 * it. id is digits the database gave. */
static int
copy_rows(PGconn *conn, const char *cols, const char *table, const char *id,
    struct buf *b)
{
	char *sql = xasprintf("COPY (SELECT %s FROM %s WHERE submission_id = %s "
	    "ORDER BY item_no) TO STDOUT (FORMAT binary)", cols, table, id);
	PGresult *res = PQexec(conn, sql);
	char *msg;
	int n, rc = 0;

	free(sql);
	buf_reset(b);
	if (PQresultStatus(res) != PGRES_COPY_OUT) {
		fprintf(stderr, "bevis evidence: %s", PQerrorMessage(conn));
		PQclear(res);
		return -1;
	}
	PQclear(res);
	while ((n = PQgetCopyData(conn, &msg, 0)) > 0) {
		buf_append(b, msg, (size_t)n);
		PQfreemem(msg);
	}
	while ((res = PQgetResult(conn)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			fprintf(stderr, "bevis evidence: %s", PQerrorMessage(conn));
			rc = -1;
		}
		PQclear(res);
	}
	return rc;
}

/* The digests of a submission's event rows (full and redacted) and
 * quarantine rows, with their counts. -1 when they cannot be read. */
static int
row_digests(PGconn *conn, const char *id, unsigned char full[32],
    unsigned char red[32], long *ne, unsigned char q[32], long *nq)
{
	struct buf b = BUF_INIT;
	struct ledger_rows rows;
	const char *why;
	EVP_MD_CTX *md;
	int rc = -1;

	if (copy_rows(conn, LEDGER_EVENT_COLUMNS, "event", id, &b) < 0)
		goto out;
	ledger_rows_init(&rows);
	*ne = pgcopy_walk(b.data, b.len, LEDGER_EVENT_NCOLS, rows_cb, &rows,
	    &why);
	ledger_rows_final(&rows, full, red);
	if (copy_rows(conn, LEDGER_QUARANTINE_COLUMNS, "quarantine", id, &b) < 0)
		goto out;
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		fatalx("EVP_DigestInit sha256 failed");
	*nq = pgcopy_walk(b.data, b.len, 5, digest_cb, md, &why);
	EVP_DigestFinal_ex(md, q, NULL);
	EVP_MD_CTX_free(md);
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

static void
check_submission(struct evidence *e, const PGresult *res, int r)
{
	struct item it;
	struct ledger_submission l;
	struct buf body = BUF_INIT;
	char name[64], at[40], sha[65], what[160];
	const char *id = PQgetvalue(res, r, S_ID);
	int redacted = PQgetvalue(res, r, S_REDACTED)[0] == 't';

	memset(&it, 0, sizeof(it));
	memset(&l, 0, sizeof(l));
	snprintf(name, sizeof(name), "submission %s", id);
	snprintf(what, sizeof(what), "%s, %s items%s", PQgetvalue(res, r, S_CTYPE),
	    PQgetvalue(res, r, S_ITEMS), redacted ? ", redacted" : "");
	rfc3339_format(atoll(PQgetvalue(res, r, S_AT)), at);
	it.cell[C_ITEM] = name;
	it.cell[C_WHAT] = what;
	it.cell[C_AT] = at;
	it.cell[C_SUPPLIER] = cell(res, r, S_SUPPLIER);
	it.cell[C_FP] = cell(res, r, S_FP);
	it.leaf = PQgetisnull(res, r, S_LEAF) ? -1 : atoll(PQgetvalue(res, r,
	    S_LEAF));
	if (!PQgetisnull(res, r, S_BODY)) {
		const char *hex = PQgetvalue(res, r, S_BODY);
		unsigned char d[32];
		(void)hex_decode_buf(hex, strlen(hex), &body);
		sha256(body.data, body.len, d);
		hex_encode(d, 32, sha);
		it.cell[C_SHA] = sha;
	}
	if (it.leaf < 0) {
		item_problem(&it, "it has no ledger leaf");
		goto out;
	}
	const char *hex = PQgetvalue(res, r, S_DATA);
	(void)hex_decode_buf(hex, strlen(hex), &it.data);
	if (ledger_decode_submission(it.data.data, it.data.len, &l) != NULL) {
		item_problem(&it, "leaf %lld is not a submission leaf",
		    (long long)it.leaf);
		goto out;
	}
	if (PQgetvalue(res, r, S_BODYNULL)[0] == 't' && !redacted)
		item_problem(&it, "its body is gone and no redaction is recorded");
	else if (!redacted) {
		unsigned char d[32];
		sha256(body.data, body.len, d);
		if (memcmp(d, l.body_sha256, 32) != 0)
			item_problem(&it, "the SHA-256 of its stored body is not the "
			    "one in its ledger leaf %lld: the body was changed",
			    (long long)it.leaf);
	}
	const char *sup = cell(res, r, S_SUPPLIER), *fp = cell(res, r, S_FP);
	if (l.submission_id != atoll(id) || strcmp(l.supplier, sup ? sup : "") ||
	    strcmp(l.key_fingerprint, fp ? fp : "") ||
	    l.received_us != atoll(PQgetvalue(res, r, S_AT)) ||
	    strcmp(l.request_id, PQgetvalue(res, r, S_REQ)) ||
	    strcmp(l.content_type, PQgetvalue(res, r, S_CTYPE)) ||
	    (long long)l.item_count != atoll(PQgetvalue(res, r, S_ITEMS)))
		item_problem(&it, "its id, supplier, key, time, request id, content "
		    "type or item count is not what its ledger leaf %lld says",
		    (long long)it.leaf);
	unsigned char full[32], red[32], q[32];
	long ne, nq;
	if (row_digests(e->conn, id, full, red, &ne, q, &nq) == 0) {
		if (ne != (long)l.events || memcmp(redacted ? red : full, redacted ?
		    l.events_redacted_sha256 : l.events_sha256, 32) != 0)
			item_problem(&it, "its event rows are not what its ledger "
			    "leaf %lld commits to: an event was changed",
			    (long long)it.leaf);
		if (nq != (long)l.quarantined || memcmp(q, l.quarantine_sha256, 32) != 0)
			item_problem(&it, "its quarantine rows are not what its "
			    "ledger leaf %lld commits to", (long long)it.leaf);
	} else {
		item_problem(&it, "its rows cannot be read");
	}
out:
	if (it.problem.len) {
		e->bad_subs = xrealloc(e->bad_subs, (e->nbad + 1) *
		    sizeof(int64_t));
		e->bad_subs[e->nbad++] = atoll(id);
	}
	item_emit(e, &it);
	ledger_submission_free(&l);
	buf_free(&body);
}

/* The submission's leaf (and its data) when it has one, and a problem when
 * it failed. */
static void
via_submission(struct evidence *e, struct item *it, int64_t sub,
    const PGresult *subs)
{
	for (int s = 0; s < PQntuples(subs); s++)
		if (atoll(PQgetvalue(subs, s, S_ID)) == sub &&
		    !PQgetisnull(subs, s, S_LEAF)) {
			it->leaf = atoll(PQgetvalue(subs, s, S_LEAF));
			const char *hex = PQgetvalue(subs, s, S_DATA);
			buf_reset(&it->data);
			(void)hex_decode_buf(hex, strlen(hex), &it->data);
		}
	for (size_t k = 0; k < e->nbad; k++)
		if (e->bad_subs[k] == sub)
			item_problem(it, "its submission %lld does not verify",
			    (long long)sub);
}

static void
check_event(struct evidence *e, const PGresult *res, int r,
    const PGresult *subs)
{
	struct item it;
	char name[600], at[40], sha[65];
	int64_t sub = atoll(PQgetvalue(res, r, E_SUB));

	memset(&it, 0, sizeof(it));
	snprintf(name, sizeof(name), "event %s (submission %s, item %s)",
	    PQgetvalue(res, r, E_NAME), PQgetvalue(res, r, E_SUB),
	    PQgetvalue(res, r, E_ITEM));
	rfc3339_format(atoll(PQgetvalue(res, r, E_AT)), at);
	it.cell[C_ITEM] = name;
	it.cell[C_WHAT] = PQgetvalue(res, r, E_WHAT);
	it.cell[C_AT] = at;
	it.cell[C_SUPPLIER] = cell(res, r, E_SUPPLIER);
	it.cell[C_FP] = cell(res, r, E_FP);
	it.leaf = -1;
	if (!PQgetisnull(res, r, E_RAW)) {
		struct buf raw = BUF_INIT;
		const char *hex = PQgetvalue(res, r, E_RAW);
		unsigned char d[32];
		(void)hex_decode_buf(hex, strlen(hex), &raw);
		sha256(raw.data, raw.len, d);
		hex_encode(d, 32, sha);
		it.cell[C_SHA] = sha;
		buf_free(&raw);
		if (PQgetvalue(res, r, E_INBODY)[0] != 't')
			item_problem(&it, "its raw bytes lie beyond the end of its "
			    "submission's body");
	}
	/* Its leaf is its submission's, checked there. */
	via_submission(e, &it, sub, subs);
	item_emit(e, &it);
}

/* A report entry: its raw bytes are a slice of its report's submission
 * body, and its leaf is that submission's, checked there. */
static void
check_entry(struct evidence *e, const PGresult *res, int r,
    const PGresult *subs)
{
	struct item it;
	char name[600], at[40], sha[65], what[200];
	int64_t sub = atoll(PQgetvalue(res, r, RE_SUB));

	memset(&it, 0, sizeof(it));
	snprintf(name, sizeof(name), "report entry %s:%s (submission %s, item "
	    "%s)", PQgetvalue(res, r, RE_SOURCE), PQgetvalue(res, r, RE_ENTRY),
	    PQgetvalue(res, r, RE_SUB), PQgetisnull(res, r, RE_ITEM) ? "none" :
	    PQgetvalue(res, r, RE_ITEM));
	snprintf(what, sizeof(what), "%s report %s version %s",
	    PQgetvalue(res, r, RE_KIND), PQgetvalue(res, r, RE_PERIOD),
	    PQgetvalue(res, r, RE_VERSION));
	rfc3339_format(atoll(PQgetvalue(res, r, RE_AT)), at);
	it.cell[C_ITEM] = name;
	it.cell[C_WHAT] = what;
	it.cell[C_AT] = at;
	it.cell[C_SUPPLIER] = PQgetvalue(res, r, RE_SOURCE);
	it.cell[C_FP] = cell(res, r, RE_FP);
	it.leaf = -1;
	if (!PQgetisnull(res, r, RE_RAW)) {
		struct buf raw = BUF_INIT;
		const char *hex = PQgetvalue(res, r, RE_RAW);
		unsigned char d[32];
		(void)hex_decode_buf(hex, strlen(hex), &raw);
		sha256(raw.data, raw.len, d);
		hex_encode(d, 32, sha);
		it.cell[C_SHA] = sha;
		buf_free(&raw);
		if (PQgetvalue(res, r, RE_INBODY)[0] != 't')
			item_problem(&it, "its raw bytes lie beyond the end of its "
			    "report's submission body");
	} else if (PQgetvalue(res, r, RE_BODYNULL)[0] != 't') {
		item_problem(&it, "it has no raw bytes in its report's submission");
	}
	if (PQgetvalue(res, r, RE_SAMESRC)[0] != 't')
		item_problem(&it, "its report's source is not the supplier that "
		    "sent its submission %lld", (long long)sub);
	via_submission(e, &it, sub, subs);
	item_emit(e, &it);
}

static void
check_decision(struct evidence *e, const PGresult *res, int r)
{
	struct item it;
	struct ledger_decision k, row;
	char name[96], at[40];
	const char *ref = PQgetvalue(res, r, D_REF);
	int seq = atoi(PQgetvalue(res, r, D_SEQ));

	memset(&it, 0, sizeof(it));
	snprintf(name, sizeof(name), "decision %d of %s", seq, ref);
	rfc3339_format(atoll(PQgetvalue(res, r, D_AT)), at);
	it.cell[C_ITEM] = name;
	it.cell[C_WHAT] = PQgetvalue(res, r, D_KIND);
	it.cell[C_AT] = at;
	it.cell[C_ACTOR] = PQgetvalue(res, r, D_ACTOR);
	it.leaf = atoll(PQgetvalue(res, r, D_LEAF));
	if (seq != atoi(PQgetvalue(res, r, D_PREV)) + 1)
		item_problem(&it, "decision %d of %s before it is missing",
		    atoi(PQgetvalue(res, r, D_PREV)) + 1, ref);
	if (PQgetisnull(res, r, D_DATA)) {
		item_problem(&it, "there is no decision leaf at %lld",
		    (long long)it.leaf);
		it.leaf = -1;
		item_emit(e, &it);
		return;
	}
	const char *hex = PQgetvalue(res, r, D_DATA);
	(void)hex_decode_buf(hex, strlen(hex), &it.data);
	if (ledger_decode_decision(it.data.data, it.data.len, &k) != NULL) {
		item_problem(&it, "leaf %lld does not decode", (long long)it.leaf);
	} else {
		const char *what = row_decision(res, r, &row) < 0 ? "salt" :
		    decision_difference(&k, &row);
		if (what)
			item_problem(&it, "its %s differs from its ledger leaf %lld",
			    what, (long long)it.leaf);
		ledger_decision_free(&k);
	}
	item_emit(e, &it);
}

static void
check_custody(struct evidence *e, const PGresult *res, int r)
{
	struct item it;
	char name[96], at[40], what[64];
	const char *bad = custody_check(res, r);

	memset(&it, 0, sizeof(it));
	snprintf(name, sizeof(name), "custody %s of %s", PQgetvalue(res, r,
	    CU_SEQ), PQgetvalue(res, r, CU_REF));
	snprintf(what, sizeof(what), "%s (tree size %s)", PQgetvalue(res, r,
	    CU_ACTION), PQgetvalue(res, r, CU_TREE));
	rfc3339_format(atoll(PQgetvalue(res, r, CU_AT)), at);
	it.cell[C_ITEM] = name;
	it.cell[C_WHAT] = what;
	it.cell[C_AT] = at;
	it.cell[C_ACTOR] = PQgetvalue(res, r, CU_ACTOR);
	it.cell[C_SHA] = PQgetvalue(res, r, CU_BUNDLE);
	it.leaf = atoll(PQgetvalue(res, r, CU_LEAF));
	if (bad && strcmp(bad, "leaf") == 0) {
		item_problem(&it, "there is no custody leaf at %lld, or it does "
		    "not decode", (long long)it.leaf);
		it.leaf = -1;
	} else {
		const char *hex = PQgetvalue(res, r, CU_DATA);
		(void)hex_decode_buf(hex, strlen(hex), &it.data);
		if (bad)
			item_problem(&it, "its %s differs from its ledger leaf %lld",
			    bad, (long long)it.leaf);
	}
	item_emit(e, &it);
}

/* The newest signed tree head, its checkpoint checked against its root,
 * and with the ledger key when there is one. */
static int
load_head(struct evidence *e, struct cli *cli, const char *keypath,
    const char **signer)
{
	struct checkpoint_verifier key;
	unsigned char cp_root[32];
	uint64_t cp_size;
	char *origin = NULL, err[300];
	int have_key = 0;

	keypath = cli_ledger_pubkey(cli, keypath);
	if (keypath) {
		if (keyfile_read_verifier(keypath, &key, err, sizeof(err)) < 0) {
			fprintf(stderr, "bevis evidence: %s\n", err);
			return -1;
		}
		have_key = 1;
	}
	PGresult *res = PQexec(e->conn, "SELECT tree_size, encode(root, 'hex'), "
	    "checkpoint FROM tree_head ORDER BY tree_size DESC LIMIT 1");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "bevis evidence: %s", PQerrorMessage(e->conn));
		PQclear(res);
		return -1;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 0;	/* every leaf then fails: none is covered */
	}
	e->size = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	const char *cp = PQgetvalue(res, 0, 2);
	int bad = hex_decode(PQgetvalue(res, 0, 1), 64, e->root, 32) < 0 ||
	    (have_key ? checkpoint_parse_verify(cp, strlen(cp), &key, &origin,
	    &cp_size, cp_root, err, sizeof(err)) :
	    checkpoint_parse_unverified(cp, strlen(cp), &origin, &cp_size,
	    cp_root, err, sizeof(err))) < 0 || cp_size != e->size ||
	    memcmp(cp_root, e->root, 32) != 0;
	PQclear(res);
	free(origin);
	if (bad) {
		fprintf(stderr, "bevis evidence: the newest tree head (size %llu) "
		    "is not %s: run bevis verify\n", (unsigned long long)e->size,
		    have_key ? "signed by the ledger key, or not its own "
		    "checkpoint" : "the one its checkpoint text gives");
		buf_printf(&e->failures, "  the newest signed tree head: it does "
		    "not verify\n");
		e->failed++;
		return 0;
	}
	e->have_head = 1;
	*signer = have_key ? "checked with the ledger key" :
	    "signature not checked: no ledger key found (give --key)";
	return 0;
}

int
cmd_evidence(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "json", no_argument, NULL, 'j' },
		{ "key", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	struct evidence e;
	PGresult *inc = NULL, *subs = NULL, *events = NULL, *dec = NULL,
	    *cus = NULL, *entries = NULL;
	const char *keypath = NULL, *signer = "";
	int ch, json = 0, rc = 1;

	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		if (ch == 'j')
			json = 1;
		else if (ch == 'k')
			keypath = optarg;
		else
			return cli_usage("evidence", ch == 'h' ? stdout : stderr);
	}
	if (optind + 1 != argc)
		return cli_usage("evidence", stderr);
	memset(&e, 0, sizeof(e));
	e.conn = cli_connect(cli);
	/* One snapshot; text as UTF-8, the encoding the leaves were made in. */
	if (cli_exec("evidence", e.conn, "SET client_encoding = 'UTF8'",
	    PGRES_COMMAND_OK) < 0 || cli_exec("evidence", e.conn,
	    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
	    PGRES_COMMAND_OK) < 0)
		goto out;
	const char *p[1] = { argv[optind] };
	inc = cli_exec_params("evidence", e.conn, "SELECT i.id, i.ref, "
	    "(SELECT count(*) FROM incident_overview o WHERE o.ref = "
	    "upper(btrim($1))) FROM (SELECT 1) x LEFT JOIN incident i ON "
	    "i.ref = upper(btrim($1))", 1, p, PGRES_TUPLES_OK);
	if (inc == NULL)
		goto out;
	if (PQgetisnull(inc, 0, 0)) {
		if (atoi(PQgetvalue(inc, 0, 2)) > 0)
			fprintf(stderr, "bevis evidence: incident %s involves a "
			    "protected identity: only a member of bevis_protected "
			    "can read its evidence\n", argv[optind]);
		else
			fprintf(stderr, "bevis evidence: no incident %s\n  hint: a "
			    "reference looks like INC-2026-0001; bevis incidents "
			    "lists them\n", argv[optind]);
		goto out;
	}
	const char *id = PQgetvalue(inc, 0, 0), *ref = PQgetvalue(inc, 0, 1);
	if (load_head(&e, cli, keypath, &signer) < 0 ||
	    (subs = query(&e, SUBS_SQL, id)) == NULL ||
	    (events = query(&e, EVENTS_SQL, id)) == NULL ||
	    (entries = query(&e, ENTRIES_SQL, id)) == NULL ||
	    (dec = query(&e, DECISIONS_SQL, id)) == NULL ||
	    (cus = query(&e, CUSTODY_SQL, id)) == NULL)
		goto out;
	out_init(&e.out, stdout, json ? OUT_JSON : OUT_TABLE, evidence_cols, NCOLS);
	for (int r = 0; r < PQntuples(subs); r++)
		check_submission(&e, subs, r);
	for (int r = 0; r < PQntuples(events); r++)
		check_event(&e, events, r, subs);
	for (int r = 0; r < PQntuples(entries); r++)
		check_entry(&e, entries, r, subs);
	for (int r = 0; r < PQntuples(dec); r++)
		check_decision(&e, dec, r);
	for (int r = 0; r < PQntuples(cus); r++)
		check_custody(&e, cus, r);
	out_finish(&e.out);
	(void)cli_exec("evidence", e.conn, "COMMIT", PGRES_COMMAND_OK);
	if (e.failed) {
		fprintf(stderr, "bevis evidence: %s: %ld of %ld item%s failed to "
		    "verify:\n", ref, e.failed, e.items, e.items == 1 ? "" : "s");
		fwrite(e.failures.data, 1, e.failures.len, stderr);
		if (!json)
			printf("FAILED: %ld of %ld items behind %s\n", e.failed,
			    e.items, ref);
		goto out;
	}
	if (!json) {
		char hex[65], nentries[48] = "";
		if (PQntuples(entries) > 0)
			snprintf(nentries, sizeof(nentries), "%d report entr%s, ",
			    PQntuples(entries), PQntuples(entries) == 1 ? "y" :
			    "ies");
		hex_encode(e.root, 32, hex);
		printf("verified: %ld item%s behind %s (%d submission%s, %d "
		    "event%s, %s%d decision%s, %d custody record%s), each against "
		    "the signed tree head of size %llu, root %s (%s)\n", e.items,
		    e.items == 1 ? "" : "s", ref, PQntuples(subs),
		    PQntuples(subs) == 1 ? "" : "s", PQntuples(events),
		    PQntuples(events) == 1 ? "" : "s", nentries, PQntuples(dec),
		    PQntuples(dec) == 1 ? "" : "s", PQntuples(cus),
		    PQntuples(cus) == 1 ? "" : "s", (unsigned long long)e.size,
		    hex, signer);
	}
	rc = 0;
out:
	PQclear(inc);
	PQclear(subs);
	PQclear(events);
	PQclear(entries);
	PQclear(dec);
	PQclear(cus);
	PQfinish(e.conn);
	buf_free(&e.failures);
	free(e.bad_subs);
	return rc;
}
