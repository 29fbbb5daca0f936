/* cmd_verify.c - bevis verify: recomputes the evidence ledger from the
 * stored rows and checks it against the tree heads and against checkpoints
 * kept outside the database.
 *
 * Three passes, the first two streaming in bounded memory apart from one hash per
 * leaf (32 bytes: 320 MB at ten million leaves):
 *   tree     the leaves in index order: gapless, each hash recomputed from
 *            its data, every stored subtree node and every tree head's
 *            root recomputed from the leaves, every signature checked,
 *            every external checkpoint proved to be a prefix of the log.
 *   content  submissions, their leaves, events and quarantine rows merged
 *            by submission id: every leaf's data encoded again from what is
 *            stored, every body hashed again.
 *   incidents decisions against their leaves, incidents against their
 *            replayed decisions, links against theirs (verify_incidents.c).
 * All connections read one snapshot (pg_export_snapshot), so a live bevisd
 * appending meanwhile does not disturb the result. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checkpoint.h"
#include "clock.h"
#include "cli.h"
#include "copystream.h"
#include "curvekey.h"
#include "custody.h"
#include "keyfile.h"
#include "ledger.h"
#include "merkle.h"
#include "sha256.h"
#include "verify.h"
#include "xmalloc.h"

#define MAX_PROBLEMS 20

void
verify_problem(struct verify *v, const char *fmt, ...)
{
	va_list ap;

	v->problems++;
	if (v->problems > MAX_PROBLEMS)
		return;
	fputs("bevis verify: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The submission leaf fields, in encoding order, for precise messages. */
static const char *
leaf_difference(const struct buf *want, const unsigned char *got, size_t glen)
{
	static const struct { size_t len; const char *what; } fields[] = {
		{ 5, "leaf version or kind" }, { 8, "submission id" },
		{ 0, "supplier" }, { 0, "key fingerprint" }, { 8, "receipt time" },
		{ 0, "request id" },
		{ 0, "content type" }, { 32, "body SHA-256" }, { 4, "item count" },
		{ 4, "number of event rows" }, { 32, "event rows" },
		{ 32, "redacted event rows" }, { 4, "number of quarantine rows" },
		{ 32, "quarantine rows" },
	};
	size_t a = 0, b = 0;

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		size_t la = fields[i].len, lb = fields[i].len;

		if (la == 0) {		/* a string: 16-bit length first */
			if (a + 2 > want->len || b + 2 > glen)
				return fields[i].what;
			la = 2 + (size_t)(want->data[a] << 8 | want->data[a + 1]);
			lb = 2 + (size_t)(got[b] << 8 | got[b + 1]);
		}
		if (a + la > want->len || b + lb > glen || la != lb ||
		    memcmp(want->data + a, got + b, la) != 0)
			return fields[i].what;
		a += la;
		b += lb;
	}
	return a == want->len && b == glen ? NULL : "leaf length";
}

/* Feeds the event rows of submission sub into rows; the stream stands on
 * the first row of a later submission afterwards. */
static int
take_rows(struct verify *v, struct copystream *cs, int *have, int64_t sub,
    const char *what, struct ledger_rows *rows, EVP_MD_CTX *plain,
    uint32_t *count)
{
	int64_t last = -1;

	while (*have == 1) {
		int64_t s = pgcopy_get_int8(&cs->t, 0);

		if (s > sub)
			return 0;
		if (s < sub) {
			if (s != last)
				verify_problem(v, "%s rows of submission %lld, "
				    "which does not exist", what, (long long)s);
			last = s;
		} else if (rows) {
			if (ledger_rows_add(rows, cs->t.data, cs->t.len) < 0)
				verify_problem(v, "submission %lld: an event row "
				    "cannot be read", (long long)sub);
		} else {
			EVP_DigestUpdate(plain, cs->t.data, cs->t.len);
			(*count)++;
		}
		*have = copystream_next(cs);
	}
	return *have < 0 ? -1 : 0;
}

#define SUB_QUERY "SELECT s.id, coalesce(sp.name, ''), s.received_at, " \
	"s.request_id, s.content_type, s.sha256, s.body, s.item_count, " \
	"coalesce(s.key_fingerprint, '') " \
	"FROM submission s LEFT JOIN supplier sp ON sp.id = s.supplier_id " \
	"ORDER BY s.id"
#define LEAF_QUERY "SELECT submission_id, idx, data FROM ledger_leaf " \
	"WHERE kind = 'submission' ORDER BY submission_id, idx"
#define EVENT_QUERY "SELECT " LEDGER_EVENT_COLUMNS " FROM event " \
	"ORDER BY submission_id, item_no"
#define QUAR_QUERY "SELECT " LEDGER_QUARANTINE_COLUMNS " FROM quarantine " \
	"ORDER BY submission_id, item_no"

static int
is_redacted(const struct verify *v, int64_t sub)
{
	size_t lo = 0, hi = v->nredacted;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v->redacted[mid] == sub)
			return 1;
		if (v->redacted[mid] < sub)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Recomputes every submission leaf from its stored rows. It is one merge
 * walk over four COPY streams (submissions, leaves, events, quarantine,
 * each in submission order), and stays one function of about 135 lines:
 * the four cursors advance together, and split up they would need a
 * struct of shared state for no gain in reading. */
int
verify_content(struct verify *v)
{
	struct copystream s, l, e, q;
	int hs, hl, he, hq, rc = -1;
	struct buf want = BUF_INIT;

	if (copystream_open(&s, v->conn[0], SUB_QUERY) < 0 ||
	    copystream_open(&l, v->conn[1], LEAF_QUERY) < 0 ||
	    copystream_open(&e, v->conn[2], EVENT_QUERY) < 0 ||
	    copystream_open(&q, v->conn[3], QUAR_QUERY) < 0) {
		fprintf(stderr, "bevis verify: cannot read the tables: %s%s%s%s",
		    s.err, l.err, e.err, q.err);
		return -1;
	}
	hs = copystream_next(&s);
	hl = copystream_next(&l);
	he = copystream_next(&e);
	hq = copystream_next(&q);
	while (hs == 1) {
		int64_t sub = pgcopy_get_int8(&s.t, 0);
		struct ledger_submission ls;
		struct ledger_rows rows;
		EVP_MD_CTX *qctx = EVP_MD_CTX_new();
		unsigned char body_sha[SHA256_LEN];
		char supplier[256], rid[256], ct[64], fp[80];

		/* Leaves naming submissions that are gone. */
		while (hl == 1 && pgcopy_get_int8(&l.t, 0) < sub) {
			verify_problem(v, "leaf %lld names submission %lld, which "
			    "does not exist", (long long)pgcopy_get_int8(&l.t, 1),
			    (long long)pgcopy_get_int8(&l.t, 0));
			hl = copystream_next(&l);
		}
		memset(&ls, 0, sizeof(ls));
		ls.submission_id = sub;
		snprintf(supplier, sizeof(supplier), "%.*s", (int)s.t.flen[1], s.t.f[1]);
		snprintf(rid, sizeof(rid), "%.*s", (int)s.t.flen[3], s.t.f[3]);
		snprintf(ct, sizeof(ct), "%.*s", (int)s.t.flen[4], s.t.f[4]);
		snprintf(fp, sizeof(fp), "%.*s", (int)s.t.flen[8], s.t.f[8]);
		ls.supplier = supplier;
		ls.key_fingerprint = fp;
		ls.request_id = rid;
		ls.content_type = ct;
		ls.received_us = pgcopy_get_timestamptz(&s.t, 2);
		if (s.t.flen[5] == SHA256_LEN)
			memcpy(ls.body_sha256, s.t.f[5], SHA256_LEN);
		ls.item_count = (uint32_t)pgcopy_get_int4(&s.t, 7);
		int redacted = is_redacted(v, sub);
		if (s.t.f[6] == NULL) {
			if (!redacted)
				verify_problem(v, "submission %lld: the body is "
				    "gone and no redaction is recorded",
				    (long long)sub);
		} else {
			sha256(s.t.f[6], s.t.flen[6], body_sha);
			if (memcmp(body_sha, ls.body_sha256, SHA256_LEN) != 0)
				verify_problem(v, "submission %lld: the body does "
				    "not match its SHA-256", (long long)sub);
		}
		ledger_rows_init(&rows);
		EVP_DigestInit_ex(qctx, EVP_sha256(), NULL);
		if (take_rows(v, &e, &he, sub, "event", &rows, NULL, NULL) < 0 ||
		    take_rows(v, &q, &hq, sub, "quarantine", NULL, qctx,
		    &ls.quarantined) < 0) {
			EVP_MD_CTX_free(qctx);
			ledger_rows_final(&rows, ls.events_sha256,
			    ls.events_redacted_sha256);
			goto out;
		}
		ls.events = rows.count;
		ledger_rows_final(&rows, ls.events_sha256, ls.events_redacted_sha256);
		/* After a redaction the personal columns must be NULL: then, and
		 * only then, the rows hash the same with or without them. */
		if (redacted && memcmp(ls.events_sha256, ls.events_redacted_sha256,
		    SHA256_LEN) != 0)
			verify_problem(v, "submission %lld: redacted, but its event "
			    "rows hold personal data again", (long long)sub);
		EVP_DigestFinal_ex(qctx, ls.quarantine_sha256, NULL);
		EVP_MD_CTX_free(qctx);
		v->events += ls.events;

		if (hl != 1 || pgcopy_get_int8(&l.t, 0) != sub) {
			verify_problem(v, "submission %lld has no ledger leaf",
			    (long long)sub);
		} else {
			int64_t idx = pgcopy_get_int8(&l.t, 1);
			buf_reset(&want);
			if (redacted) {
				/* The personal columns are gone: the redacted
				 * digest is what the stored rows must match. */
				const unsigned char *g = l.t.f[2];
				size_t gl = l.t.flen[2];
				if (gl >= 32 + 4 + 32)
					memcpy(ls.events_sha256,
					    g + gl - 32 - 4 - 32 - 32, 32);
				v->redactions_seen++;
			}
			ledger_encode_submission(&want, &ls);
			const char *diff = leaf_difference(&want, l.t.f[2], l.t.flen[2]);
			if (diff)
				verify_problem(v, "leaf %lld (submission %lld): the "
				    "%s differ%s from what was committed",
				    (long long)idx, (long long)sub, diff,
				    diff[strlen(diff) - 1] == 's' ? "" : "s");
			hl = copystream_next(&l);
			if (hl == 1 && pgcopy_get_int8(&l.t, 0) == sub) {
				verify_problem(v, "submission %lld has a second "
				    "leaf %lld", (long long)sub,
				    (long long)pgcopy_get_int8(&l.t, 1));
				while (hl == 1 && pgcopy_get_int8(&l.t, 0) == sub)
					hl = copystream_next(&l);
			}
		}
		v->submissions++;
		hs = copystream_next(&s);
	}
	while (hl == 1) {
		verify_problem(v, "leaf %lld names submission %lld, which does "
		    "not exist", (long long)pgcopy_get_int8(&l.t, 1), (long long)pgcopy_get_int8(&l.t, 0));
		hl = copystream_next(&l);
	}
	if (take_rows(v, &e, &he, INT64_MAX, "event", NULL, NULL, NULL) < 0 ||
	    take_rows(v, &q, &hq, INT64_MAX, "quarantine", NULL, NULL, NULL) < 0)
		goto out;
	rc = (hs < 0 || hl < 0 || he < 0 || hq < 0) ? -1 : 0;
	if (rc < 0)
		fprintf(stderr, "bevis verify: reading failed: %s%s%s%s", s.err,
		    l.err, e.err, q.err);
out:
	copystream_close(&s);
	copystream_close(&l);
	copystream_close(&e);
	copystream_close(&q);
	buf_free(&want);
	return rc;
}

/* ---- the tree pass ---- */

struct head {
	int64_t size;
	unsigned char root[SHA256_LEN];
	char *label;		/* "tree head" or "checkpoint FILE" */
	int external;
};

struct tree_ctx {
	struct verify *v;
	struct copystream *nodes;
	int have;
};

/* Compares each node the frontier completes with the stored one; both come
 * in order of completion. */
static void
check_node(void *arg, unsigned level, uint64_t index,
    const unsigned char hash[MERKLE_HASH_LEN])
{
	struct tree_ctx *t = arg;
	struct copystream *cs = t->nodes;

	if (level == 0)
		return;
	if (t->have != 1) {
		verify_problem(t->v, "ledger node (level %u, index %llu) is missing",
		    level, (unsigned long long)index);
		return;
	}
	unsigned sl = (unsigned)pgcopy_get_int4(&cs->t, 0);
	uint64_t si = (uint64_t)pgcopy_get_int8(&cs->t, 1);
	if (sl != level || si != index) {
		verify_problem(t->v, "ledger node (level %u, index %llu) is "
		    "missing or out of place (found level %u, index %llu)", level,
		    (unsigned long long)index, sl, (unsigned long long)si);
		/* Skip ahead to the node we expected, if it is there. */
		while (t->have == 1 && ((uint64_t)pgcopy_get_int8(&cs->t, 1) + 1) <<
		    pgcopy_get_int4(&cs->t, 0) < (index + 1) << level)
			t->have = copystream_next(cs);
		return;
	}
	if (cs->t.flen[2] != MERKLE_HASH_LEN || memcmp(cs->t.f[2], hash, 32) != 0)
		verify_problem(t->v, "ledger node (level %u, index %llu) does not "
		    "match the leaves below it (%llu to %llu)", level,
		    (unsigned long long)index,
		    (unsigned long long)(index << level),
		    (unsigned long long)(((index + 1) << level) - 1));
	t->have = copystream_next(cs);
}

static int
cmp_head(const void *a, const void *b)
{
	const struct head *x = a, *y = b;

	return x->size < y->size ? -1 : x->size > y->size;
}

static int
verify_tree(struct verify *v, struct head *heads, size_t nheads)
{
	struct copystream lc, nc;
	struct merkle_frontier f;
	struct tree_ctx t = { v, &nc, 0 };
	size_t h = 0;
	int64_t expect = 0;
	int have;

	qsort(heads, nheads, sizeof(*heads), cmp_head);
	if (copystream_open(&lc, v->conn[0], "SELECT idx, data, hash, kind FROM "
	    "ledger_leaf ORDER BY idx") < 0 ||
	    copystream_open(&nc, v->conn[1], "SELECT level::int, idx, hash FROM "
	    "ledger_node ORDER BY (idx + 1) * (1::bigint << level), level") < 0) {
		fprintf(stderr, "bevis verify: cannot read the ledger: %s%s",
		    lc.err, nc.err);
		return -1;
	}
	merkle_frontier_init(&f);
	t.have = copystream_next(&nc);
	/* Heads of the empty tree, if any. */
	while ((have = copystream_next(&lc)) == 1) {
		int64_t idx = pgcopy_get_int8(&lc.t, 0);
		unsigned char lh[MERKLE_HASH_LEN];

		if (idx != expect) {
			if (idx > expect)
				verify_problem(v, "leaf %lld is missing%s",
				    (long long)expect, idx > expect + 1 ?
				    " (and the ones up to the next present)" : "");
			else
				verify_problem(v, "leaf %lld is out of order",
				    (long long)idx);
		}
		/* The kind column is not hashed; the kind byte in the data is. */
		const char *kind = ledger_kind_name(ledger_kind(lc.t.f[1],
		    lc.t.flen[1]));
		if (kind == NULL || lc.t.f[3] == NULL ||
		    strlen(kind) != lc.t.flen[3] ||
		    memcmp(kind, lc.t.f[3], lc.t.flen[3]) != 0)
			verify_problem(v, "leaf %lld: its kind column does not say "
			    "what its data is", (long long)idx);
		merkle_leaf_hash(lc.t.f[1], lc.t.flen[1], lh);
		if (lc.t.flen[2] != MERKLE_HASH_LEN || memcmp(lc.t.f[2], lh, 32) != 0)
			verify_problem(v, "leaf %lld: the stored hash is not "
			    "SHA-256(0x00 || data)", (long long)idx);
		/* The tree is built from what the leaves hold, whatever
		 * their stored hash says. */
		if (merkle_frontier_append(&f, lh, check_node, &t) < 0)
			break;
		expect = idx + 1;
		v->leaves++;
		while (h < nheads && heads[h].size <= (int64_t)f.size) {
			unsigned char root[MERKLE_HASH_LEN];
			if (heads[h].size == (int64_t)f.size) {
				merkle_frontier_root(&f, root);
				if (memcmp(root, heads[h].root, 32) != 0)
					verify_problem(v, "%s (size %lld): %s",
					    heads[h].label, (long long)heads[h].size,
					    heads[h].external ? "the log does not "
					    "extend it: its root differs at that size"
					    : "the root does not match the leaves");
			}
			h++;
		}
	}
	if (have < 0)
		fprintf(stderr, "bevis verify: reading the leaves failed: %s",
		    lc.err);
	for (; h < nheads; h++)
		verify_problem(v, "%s at size %lld is beyond the log (%llu "
		    "leaves): leaves were removed", heads[h].label,
		    (long long)heads[h].size, (unsigned long long)f.size);
	while (t.have == 1) {
		verify_problem(v, "ledger node (level %d, index %lld) is beyond "
		    "the leaves", pgcopy_get_int4(&nc.t, 0), (long long)pgcopy_get_int8(&nc.t, 1));
		t.have = copystream_next(&nc);
	}
	copystream_close(&lc);
	copystream_close(&nc);
	return have < 0 || t.have < 0 ? -1 : 0;
}

/* Tree heads from the database, each with a signature that must verify. */
static int
load_heads(struct verify *v, const struct checkpoint_verifier *key,
    struct head **heads, size_t *n, size_t *cap)
{
	PGresult *res = PQexec(v->conn[0], "SELECT tree_size, root, checkpoint "
	    "FROM tree_head ORDER BY tree_size");

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "bevis verify: %s", PQerrorMessage(v->conn[0]));
		PQclear(res);
		return -1;
	}
	for (int r = 0; r < PQntuples(res); r++) {
		struct head *hd;
		size_t rl;
		unsigned char *root = PQunescapeBytea((const unsigned char *)
		    PQgetvalue(res, r, 1), &rl);
		const char *cp = PQgetvalue(res, r, 2);
		char *origin = NULL, err[256];
		uint64_t size;
		unsigned char sroot[32];
		int64_t ts = atoll(PQgetvalue(res, r, 0));

		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			*heads = xrealloc(*heads, *cap * sizeof(**heads));
		}
		hd = &(*heads)[(*n)++];
		hd->size = ts;
		hd->external = 0;
		hd->label = xstrdup("tree head");
		memset(hd->root, 0, 32);
		if (root && rl == 32)
			memcpy(hd->root, root, 32);
		PQfreemem(root);
		v->heads++;
		if (checkpoint_parse_verify(cp, strlen(cp), key, &origin, &size,
		    sroot, err, sizeof(err)) < 0) {
			verify_problem(v, "tree head %lld: the signature does not "
			    "verify: %s", (long long)ts, err);
		} else if (strcmp(origin, key->name) != 0) {
			verify_problem(v, "tree head %lld: signed for the log '%s', "
			    "not '%s'", (long long)ts, origin, key->name);
		} else if ((int64_t)size != ts || memcmp(sroot, hd->root, 32) != 0) {
			verify_problem(v, "tree head %lld: the signed checkpoint "
			    "says size %llu with another root", (long long)ts,
			    (unsigned long long)size);
		}
		free(origin);
	}
	PQclear(res);
	return 0;
}

static int
load_checkpoint(struct verify *v, const char *path,
    const struct checkpoint_verifier *key, struct head **heads, size_t *n,
    size_t *cap)
{
	struct buf b = BUF_INIT;
	char err[300], *origin = NULL;
	uint64_t size;
	unsigned char root[32];

	if (keyfile_read(path, 0, &b, err, sizeof(err)) < 0) {
		fprintf(stderr, "bevis verify: %s\n", err);
		buf_free(&b);
		return -1;
	}
	buf_putc(&b, '\n');	/* keyfile_read took the final newline */
	if (checkpoint_parse_verify((const char *)b.data, b.len, key, &origin,
	    &size, root, err, sizeof(err)) < 0) {
		verify_problem(v, "checkpoint %s: %s", path, err);
		buf_free(&b);
		return 0;
	}
	if (strcmp(origin, key->name) != 0) {
		verify_problem(v, "checkpoint %s: it is for the log '%s', not '%s'",
		    path, origin, key->name);
		free(origin);
		buf_free(&b);
		return 0;
	}
	free(origin);
	buf_free(&b);
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*heads = xrealloc(*heads, *cap * sizeof(**heads));
	}
	struct head *hd = &(*heads)[(*n)++];
	hd->size = (int64_t)size;
	memcpy(hd->root, root, 32);
	hd->label = xasprintf("checkpoint %s", path);
	hd->external = 1;
	v->checkpoints++;
	return 0;
}

static int
open_snapshot(struct verify *v, struct cli *cli)
{
	char snap[64];
	PGresult *res;

	for (int i = 0; i < VERIFY_CONNS; i++)
		v->conn[i] = cli_connect(cli);
	res = PQexec(v->conn[0], "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
	PQclear(res);
	res = PQexec(v->conn[0], "SELECT pg_export_snapshot()");
	if (PQresultStatus(res) != PGRES_TUPLES_OK ||
	    strspn(PQgetvalue(res, 0, 0), "0123456789ABCDEF-") !=
	    strlen(PQgetvalue(res, 0, 0))) {
		fprintf(stderr, "bevis verify: %s", PQerrorMessage(v->conn[0]));
		PQclear(res);
		return -1;
	}
	snprintf(snap, sizeof(snap), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	for (int i = 1; i < VERIFY_CONNS; i++) {
		char sql[128];
		res = PQexec(v->conn[i], "BEGIN ISOLATION LEVEL REPEATABLE READ "
		    "READ ONLY");
		PQclear(res);
		/* The id comes from the server and was checked above. */
		snprintf(sql, sizeof(sql), "SET TRANSACTION SNAPSHOT '%s'", snap);
		res = PQexec(v->conn[i], sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			fprintf(stderr, "bevis verify: %s",
			    PQerrorMessage(v->conn[i]));
			PQclear(res);
			return -1;
		}
		PQclear(res);
	}
	return 0;
}

/* An int8 in binary result format. */
static int64_t
get_int8(const PGresult *res, int row, int col)
{
	const unsigned char *d = (const unsigned char *)PQgetvalue(res, row, col);
	uint64_t v = 0;

	for (int k = 0; k < 8; k++)
		v = v << 8 | d[k];
	return (int64_t)v;
}

/* Every recorded redaction against its ledger leaf: same submission, who,
 * when and why, logged after the submission itself; and no redaction leaf
 * without its record. */
static int
load_redactions(struct verify *v)
{
	PGresult *res = PQexecParams(v->conn[0], "SELECT r.submission_id, "
	    "r.leaf_idx, l.kind, l.data, r.redacted_by, "
	    "(extract(epoch FROM r.redacted_at) * 1000000)::bigint, r.reason, "
	    "sl.idx FROM redaction r "
	    "LEFT JOIN ledger_leaf l ON l.idx = r.leaf_idx "
	    "LEFT JOIN ledger_leaf sl ON sl.submission_id = r.submission_id "
	    "AND sl.kind = 'submission' ORDER BY r.submission_id",
	    0, NULL, NULL, NULL, NULL, 1);

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "bevis verify: %s", PQerrorMessage(v->conn[0]));
		PQclear(res);
		return -1;
	}
	v->nredacted = (size_t)PQntuples(res);
	v->redacted = xcalloc(v->nredacted + 1, sizeof(int64_t));
	for (int i = 0; i < PQntuples(res); i++) {
		int64_t sub = get_int8(res, i, 0);
		int64_t idx = get_int8(res, i, 1);
		const unsigned char *d = (const unsigned char *)PQgetvalue(res, i, 3);
		size_t n = (size_t)PQgetlength(res, i, 3);
		struct ledger_redaction rl;

		v->redacted[i] = sub;
		if (PQgetisnull(res, i, 2) || strcmp(PQgetvalue(res, i, 2),
		    "redaction") != 0) {
			verify_problem(v, "redaction of submission %lld: its ledger "
			    "leaf %lld is missing", (long long)sub, (long long)idx);
			continue;
		}
		if (ledger_decode_redaction(d, n, &rl) != NULL ||
		    rl.submission_id != sub) {
			ledger_redaction_free(&rl);
			verify_problem(v, "leaf %lld: not the redaction of submission "
			    "%lld it is recorded as", (long long)idx, (long long)sub);
			continue;
		}
		if (strcmp(rl.actor, PQgetvalue(res, i, 4)) != 0 ||
		    rl.at_us != get_int8(res, i, 5) ||
		    strcmp(rl.reason, PQgetvalue(res, i, 6)) != 0)
			verify_problem(v, "redaction of submission %lld: who, when or "
			    "why differs from its ledger leaf %lld", (long long)sub,
			    (long long)idx);
		ledger_redaction_free(&rl);
		if (PQgetisnull(res, i, 7) || get_int8(res, i, 7) >= idx)
			verify_problem(v, "redaction of submission %lld: its leaf "
			    "%lld does not come after the submission's", (long long)sub,
			    (long long)idx);
	}
	PQclear(res);
	res = PQexec(v->conn[0], "SELECT l.idx FROM ledger_leaf l WHERE "
	    "l.kind = 'redaction' AND NOT EXISTS (SELECT 1 FROM redaction r "
	    "WHERE r.leaf_idx = l.idx) ORDER BY l.idx");
	for (int r = 0; PQresultStatus(res) == PGRES_TUPLES_OK &&
	    r < PQntuples(res); r++)
		verify_problem(v, "leaf %s is a redaction with no redaction "
		    "recorded", PQgetvalue(res, r, 0));
	PQclear(res);
	return 0;
}

/* ---- supplier keys ---- */

/* The replayed state of one supplier, by name. */
struct key_state {
	char *name;
	char *key;			/* NULL: none recorded */
	int active;
	int64_t leaf;			/* the last change */
	int seen;			/* found in the supplier table */
};

static struct key_state *
key_state_find(struct key_state *st, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(st[i].name, name) == 0)
			return &st[i];
	return NULL;
}

struct key_states {
	struct key_state *st;
	size_t n, cap;
};

/* One decoded key change applied to the replayed state, which it must fit. */
static void
key_replay(struct verify *v, struct key_states *ks,
    const struct ledger_supplier_key *k, long long li)
{
	struct key_state *s = key_state_find(ks->st, ks->n, k->supplier);

	if (s == NULL) {
		if (ks->n == ks->cap) {
			ks->cap = ks->cap ? ks->cap * 2 : 16;
			ks->st = xrealloc(ks->st, ks->cap * sizeof(*ks->st));
		}
		s = &ks->st[ks->n++];
		memset(s, 0, sizeof(*s));
		s->name = xstrdup(k->supplier);
	}
	if (k->action == LEDGER_KEY_ADDED) {
		if (s->key)
			verify_problem(v, "leaf %lld (supplier %s): adds a key "
			    "to a supplier that has one since leaf %lld", li,
			    k->supplier, (long long)s->leaf);
		free(s->key);
		s->key = xstrdup(k->public_key);
		s->active = 1;
	} else {
		if (s->key == NULL || strcmp(s->key, k->public_key) != 0)
			verify_problem(v, "leaf %lld (supplier %s): revokes a "
			    "key the supplier does not have", li, k->supplier);
		else if (!s->active)
			verify_problem(v, "leaf %lld (supplier %s): revokes a "
			    "key revoked before, at leaf %lld", li, k->supplier,
			    (long long)s->leaf);
		s->active = 0;
	}
	s->leaf = li;
}

/* A rotation leaf (kind 7) against its supplier_key_rotation row (rr,
 * from *j on, by leaf index), applied to the replayed state: the supplier
 * must hold the old key, active, and holds the new one from then on. */
static void
rotation_replay(struct verify *v, struct key_states *ks, const unsigned char *d,
    size_t dl, long long li, const PGresult *rr, int *j)
{
	struct ledger_key_rotation k;
	const char *why = ledger_decode_key_rotation(d, dl, &k);
	char fo[CURVE_FINGERPRINT_LEN + 1], fn[CURVE_FINGERPRINT_LEN + 1];

	if (why) {
		verify_problem(v, "leaf %lld: a supplier_key_rotation leaf that "
		    "does not decode: %s", li, why);
		return;
	}
	if (curvekey_fingerprint(k.old_key, fo) < 0 ||
	    curvekey_fingerprint(k.new_key, fn) < 0 ||
	    strcmp(fo, k.old_fingerprint) != 0 ||
	    strcmp(fn, k.new_fingerprint) != 0)
		verify_problem(v, "leaf %lld (supplier %s): a fingerprint is not "
		    "that of its key", li, k.supplier);
	while (*j < PQntuples(rr) && atoll(PQgetvalue(rr, *j, 0)) < li) {
		verify_problem(v, "supplier %s: the key rotation recorded with "
		    "leaf %s has no supplier_key_rotation leaf there",
		    PQgetvalue(rr, *j, 1), PQgetvalue(rr, *j, 0));
		(*j)++;
	}
	if (*j >= PQntuples(rr) || atoll(PQgetvalue(rr, *j, 0)) != li) {
		verify_problem(v, "leaf %lld (supplier %s): a key rotation with "
		    "no supplier_key_rotation row", li, k.supplier);
	} else {
		const char *const got[] = { k.supplier, k.old_key, k.new_key,
			k.actor };
		static const char *const what[] = { "supplier", "old key",
			"new key", "actor" };
		for (int c = 0; c < 4; c++)
			if (strcmp(PQgetvalue(rr, *j, c + 1), got[c]) != 0)
				verify_problem(v, "leaf %lld (supplier %s): the %s "
				    "differs from its supplier_key_rotation row",
				    li, k.supplier, what[c]);
		if (atoll(PQgetvalue(rr, *j, 5)) != k.at_us ||
		    atoll(PQgetvalue(rr, *j, 6)) != k.until_us)
			verify_problem(v, "leaf %lld (supplier %s): a time differs "
			    "from its supplier_key_rotation row", li, k.supplier);
		(*j)++;
	}
	struct key_state *s = key_state_find(ks->st, ks->n, k.supplier);
	if (s == NULL || s->key == NULL || strcmp(s->key, k.old_key) != 0 ||
	    !s->active) {
		verify_problem(v, "leaf %lld (supplier %s): rotates a key the "
		    "supplier does not hold active", li, k.supplier);
	} else {
		free(s->key);
		s->key = xstrdup(k.new_key);
		s->leaf = li;
	}
	ledger_key_rotation_free(&k);
}

/* The replayed state against what the supplier table (sr) holds. */
static void
key_compare_table(struct verify *v, struct key_states *ks, const PGresult *sr)
{
	for (int r = 0; r < PQntuples(sr); r++) {
		const char *name = PQgetvalue(sr, r, 0);
		int haskey = !PQgetisnull(sr, r, 1);
		const char *key = PQgetvalue(sr, r, 1);
		int active = PQgetvalue(sr, r, 2)[0] == 't';
		struct key_state *s = key_state_find(ks->st, ks->n, name);

		if (s)
			s->seen = 1;
		if (!haskey && (s == NULL || s->key == NULL))
			continue;	/* no key, none recorded */
		if (s == NULL || s->key == NULL)
			verify_problem(v, "supplier %s: it has a key that the ledger "
			    "does not record", name);
		else if (!haskey || strcmp(s->key, key) != 0)
			verify_problem(v, "supplier %s: its key differs from what "
			    "the ledger records (leaf %lld)", name, (long long)s->leaf);
		else if (s->active != active)
			verify_problem(v, "supplier %s: its active flag differs from "
			    "what the ledger records (leaf %lld: %s)", name,
			    (long long)s->leaf, s->active ? "active" : "revoked");
	}
	for (size_t k = 0; k < ks->n; k++)
		if (!ks->st[k].seen)
			verify_problem(v, "supplier %s: the ledger records its key "
			    "(leaf %lld), but the supplier table has no such "
			    "supplier", ks->st[k].name, (long long)ks->st[k].leaf);
}

/* Every supplier_key leaf decodes and matches its supplier_key_change row
 * (and each row has its leaf); replaying the leaves in order gives exactly
 * the key and active flag of every supplier that has a key. Reads on
 * conn[0], in the snapshot of the other passes. */
static int
verify_supplier_keys(struct verify *v)
{
	PGconn *c = v->conn[0];
	PGresult *lr = PQexec(c, "SELECT idx, data FROM ledger_leaf "
	    "WHERE kind IN ('supplier_key', 'supplier_key_rotation') ORDER BY idx");
	PGresult *rr = PQexec(c, "SELECT r.leaf_idx, coalesce(sp.name, ''), "
	    "r.old_key, r.new_key, r.actor, "
	    "(extract(epoch FROM r.at) * 1000000)::bigint, "
	    "(extract(epoch FROM r.old_valid_until) * 1000000)::bigint "
	    "FROM supplier_key_rotation r LEFT JOIN supplier sp "
	    "ON sp.id = r.supplier_id ORDER BY r.leaf_idx");
	PGresult *cr = PQexec(c, "SELECT k.leaf_idx, coalesce(sp.name, ''), "
	    "k.action, k.public_key, k.fingerprint, k.actor, "
	    "(extract(epoch FROM k.at) * 1000000)::bigint "
	    "FROM supplier_key_change k LEFT JOIN supplier sp "
	    "ON sp.id = k.supplier_id ORDER BY k.leaf_idx");
	PGresult *sr = PQexec(c, "SELECT name, public_key, active FROM supplier "
	    "ORDER BY name");
	struct key_states ks = { NULL, 0, 0 };
	int rc = -1;

	if (PQresultStatus(lr) != PGRES_TUPLES_OK ||
	    PQresultStatus(cr) != PGRES_TUPLES_OK ||
	    PQresultStatus(sr) != PGRES_TUPLES_OK ||
	    PQresultStatus(rr) != PGRES_TUPLES_OK) {
		fprintf(stderr, "bevis verify: cannot read the supplier keys: %s",
		    PQerrorMessage(c));
		goto out;
	}
	int nl = PQntuples(lr), nc = PQntuples(cr), i = 0, j = 0, jr = 0;
	/* Leaves and rows merged by leaf index. */
	while (i < nl || j < nc) {
		long long li = i < nl ? atoll(PQgetvalue(lr, i, 0)) : -1;
		long long ci = j < nc ? atoll(PQgetvalue(cr, j, 0)) : -1;

		if (i >= nl || (j < nc && ci < li)) {
			verify_problem(v, "supplier %s: the key change recorded "
			    "with leaf %lld has no supplier_key leaf there",
			    PQgetvalue(cr, j, 1), ci);
			j++;
			continue;
		}
		struct ledger_supplier_key k;
		size_t dl;

		memset(&k, 0, sizeof(k));
		unsigned char *d = PQunescapeBytea((const unsigned char *)
		    PQgetvalue(lr, i, 1), &dl);
		if (d && ledger_kind(d, dl) == LEDGER_KIND_KEY_ROTATION) {
			rotation_replay(v, &ks, d, dl, li, rr, &jr);
			PQfreemem(d);
			i++;
			continue;
		}
		const char *why = d ? ledger_decode_supplier_key(d, dl, &k) :
		    "it cannot be read";
		char fp[CURVE_FINGERPRINT_LEN + 1];
		PQfreemem(d);
		i++;
		if (why) {
			verify_problem(v, "leaf %lld: a supplier_key leaf that does "
			    "not decode: %s", li, why);
			ledger_supplier_key_free(&k);
			if (j < nc && ci == li)
				j++;
			continue;
		}
		if (curvekey_fingerprint(k.public_key, fp) < 0)
			verify_problem(v, "leaf %lld (supplier %s): its public key "
			    "is not a CURVE key", li, k.supplier);
		else if (strcmp(fp, k.fingerprint) != 0)
			verify_problem(v, "leaf %lld (supplier %s): its fingerprint "
			    "is not that of its key", li, k.supplier);
		if (j >= nc || ci != li) {
			verify_problem(v, "leaf %lld (supplier %s): a key change "
			    "with no supplier_key_change row", li, k.supplier);
		} else {
			const char *act = PQgetvalue(cr, j, 2);
			const char *what =
			    strcmp(PQgetvalue(cr, j, 1), k.supplier) != 0 ? "supplier" :
			    strcmp(act, k.action == LEDGER_KEY_ADDED ? "added" :
			    "revoked") != 0 ?
			    "action" :
			    strcmp(PQgetvalue(cr, j, 3), k.public_key) != 0 ? "public key" :
			    strcmp(PQgetvalue(cr, j, 4), k.fingerprint) != 0 ? "fingerprint" :
			    strcmp(PQgetvalue(cr, j, 5), k.actor) != 0 ? "actor" :
			    atoll(PQgetvalue(cr, j, 6)) != k.at_us ? "time" : NULL;
			if (what)
				verify_problem(v, "leaf %lld (supplier %s): the %s "
				    "differs from its supplier_key_change row", li,
				    k.supplier, what);
			j++;
		}
		key_replay(v, &ks, &k, li);
		ledger_supplier_key_free(&k);
	}
	for (; jr < PQntuples(rr); jr++)
		verify_problem(v, "supplier %s: the key rotation recorded with "
		    "leaf %s has no supplier_key_rotation leaf there",
		    PQgetvalue(rr, jr, 1), PQgetvalue(rr, jr, 0));
	key_compare_table(v, &ks, sr);
	rc = 0;
out:
	for (size_t k = 0; k < ks.n; k++) {
		free(ks.st[k].name);
		free(ks.st[k].key);
	}
	free(ks.st);
	PQclear(lr);
	PQclear(cr);
	PQclear(sr);
	PQclear(rr);
	return rc;
}

int
cmd_verify(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "checkpoint", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 } };
	struct checkpoint_verifier key;
	struct verify v;
	struct head *heads = NULL;
	size_t nheads = 0, cap = 0;
	const char *keypath = NULL;
	const char *cps[64];
	size_t ncp = 0;
	char err[300];
	int64_t t0;
	int ch, rc = 2;

	memset(&v, 0, sizeof(v));
	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		if (ch == 'C' && ncp < 64)
			cps[ncp++] = optarg;
		else if (ch == 'k')
			keypath = optarg;
		else
			goto usage;
	}
	if (optind != argc)
		goto usage;
	/* Next to the signing key the config names, as ledger.pub. */
	keypath = cli_ledger_pubkey(cli, keypath);
	if (keypath == NULL) {
		fprintf(stderr, "bevis verify: give the ledger's public key with "
		    "--key FILE (ledger.pub from bevis keygen --ledger)\n");
		return 2;
	}
	if (keyfile_read_verifier(keypath, &key, err, sizeof(err)) < 0) {
		fprintf(stderr, "bevis verify: %s\n", err);
		return 2;
	}
	t0 = clock_mono_ms();
	if (open_snapshot(&v, cli) < 0 || load_redactions(&v) < 0 ||
	    load_heads(&v, &key, &heads, &nheads, &cap) < 0)
		goto out;
	for (size_t i = 0; i < ncp; i++)
		if (load_checkpoint(&v, cps[i], &key, &heads, &nheads, &cap) < 0)
			goto out;
	if (verify_tree(&v, heads, nheads) < 0 || verify_content(&v) < 0 ||
	    verify_supplier_keys(&v) < 0 || verify_incidents(&v) < 0 ||
	    verify_custody(&v) < 0 || verify_rules(&v) < 0)
		goto out;
	double secs = (double)(clock_mono_ms() - t0) / 1e3;
	if (v.problems) {
		if (v.problems > 20)
			fprintf(stderr, "bevis verify: ... %ld problems in all\n",
			    v.problems);
		printf("FAILED: %ld problem%s in %lld leaves\n", v.problems,
		    v.problems == 1 ? "" : "s", (long long)v.leaves);
		rc = 1;
	} else {
#define PLURAL(n) ((n) == 1 ? "" : "s")
		printf("verified: %lld lea%s (%lld submission%s, %lld redacted), "
		    "%lld event%s, %lld tree head%s, %lld checkpoint%s, %lld "
		    "decision%s replayed against %lld incident%s%s, in %.2f s\n",
		    (long long)v.leaves, v.leaves == 1 ? "f" : "ves",
		    (long long)v.submissions, PLURAL(v.submissions),
		    (long long)v.redactions_seen, (long long)v.events,
		    PLURAL(v.events), (long long)v.heads, PLURAL(v.heads),
		    (long long)v.checkpoints, PLURAL(v.checkpoints),
		    (long long)v.decisions, PLURAL(v.decisions),
		    (long long)v.incidents, PLURAL(v.incidents),
		    custody_summary(&v), secs);
#undef PLURAL
		rc = 0;
	}
	/* Row-level security: not a failure, and not a pass either. */
	if (v.decisions_hidden || v.incidents_hidden)
		printf("not checked: %lld decision lea%s of %lld protected "
		    "incident%s (only a member of bevis_protected can read "
		    "them)\n", (long long)v.decisions_hidden,
		    v.decisions_hidden == 1 ? "f" : "ves",
		    (long long)v.incidents_hidden,
		    v.incidents_hidden == 1 ? "" : "s");
	if (v.custody_hidden)
		printf("not checked: %lld custody lea%s of protected incidents "
		    "(only a member of bevis_protected can read them)\n",
		    (long long)v.custody_hidden, v.custody_hidden == 1 ? "f" :
		    "ves");
out:
	for (size_t i = 0; i < nheads; i++)
		free(heads[i].label);
	free(heads);
	free(v.redacted);
	for (int i = 0; i < VERIFY_CONNS; i++)
		if (v.conn[i])
			PQfinish(v.conn[i]);
	return rc;
usage:
	return cli_usage("verify", stderr);
}
