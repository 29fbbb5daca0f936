/* custody.c - custody records (custody.h): checked against their ledger
 * leaves by bevis evidence and bevis verify, listed by bevis show. */
#include "custody.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hex.h"
#include "output.h"

int
custody_row(const PGresult *res, int j, struct ledger_custody *row)
{
	unsigned char salt[LEDGER_DECISION_SALT_LEN];
	const char *s = PQgetvalue(res, j, CU_SALT);
	const char *b = PQgetvalue(res, j, CU_BUNDLE);

	memset(row, 0, sizeof(*row));
	if (hex_decode(s, strlen(s), salt, sizeof(salt)) < 0 ||
	    hex_decode(b, strlen(b), row->bundle_sha256, SHA256_LEN) < 0)
		return -1;
	row->incident_ref = PQgetvalue(res, j, CU_REF);
	row->seq = atoi(PQgetvalue(res, j, CU_SEQ));
	row->action = PQgetvalue(res, j, CU_ACTION);
	row->actor = PQgetvalue(res, j, CU_ACTOR);
	row->at_us = atoll(PQgetvalue(res, j, CU_AT));
	row->tree_size = atoll(PQgetvalue(res, j, CU_TREE));
	ledger_decision_digest(salt, LEDGER_CUSTODY_ITEMS,
	    PQgetvalue(res, j, CU_ITEMS), row->items_sha256);
	ledger_decision_digest(salt, LEDGER_CUSTODY_REASON,
	    PQgetvalue(res, j, CU_REASON), row->reason_sha256);
	ledger_decision_digest(salt, LEDGER_CUSTODY_DESTINATION,
	    PQgetvalue(res, j, CU_DEST), row->destination_sha256);
	row->tool = PQgetvalue(res, j, CU_TOOL);
	return 0;
}

static const char *
custody_difference(const struct ledger_custody *k, const struct ledger_custody *r)
{
	return strcmp(k->incident_ref, r->incident_ref) != 0 ?
	    "incident reference" :
	    k->seq != r->seq ? "sequence number" :
	    strcmp(k->action, r->action) != 0 ? "action" :
	    strcmp(k->actor, r->actor) != 0 ? "actor" :
	    k->at_us != r->at_us ? "time" :
	    k->tree_size != r->tree_size ? "tree size" :
	    memcmp(k->bundle_sha256, r->bundle_sha256, SHA256_LEN) != 0 ?
	    "bundle digest" :
	    memcmp(k->items_sha256, r->items_sha256, SHA256_LEN) != 0 ? "items" :
	    memcmp(k->reason_sha256, r->reason_sha256, SHA256_LEN) != 0 ?
	    "reason" :
	    memcmp(k->destination_sha256, r->destination_sha256, SHA256_LEN)
	    != 0 ? "destination" :
	    strcmp(k->tool, r->tool) != 0 ? "tool" : NULL;
}

const char *
custody_check(const PGresult *res, int j)
{
	struct ledger_custody k, row;
	struct buf data = BUF_INIT, enc = BUF_INIT;
	const char *what;

	if (PQgetisnull(res, j, CU_DATA))
		return "leaf";
	const char *hex = PQgetvalue(res, j, CU_DATA);
	if (hex_decode_buf(hex, strlen(hex), &data) < 0 ||
	    ledger_decode_custody(data.data, data.len, &k) != NULL) {
		buf_free(&data);
		return "leaf";
	}
	if (custody_row(res, j, &row) < 0) {
		what = "salt";
	} else if ((what = custody_difference(&k, &row)) == NULL) {
		ledger_encode_custody(&enc, &row);
		if (enc.len != data.len || memcmp(enc.data, data.data, enc.len))
			what = "encoding";
	}
	ledger_custody_free(&k);
	buf_free(&data);
	buf_free(&enc);
	return what;
}

/* ---- bevis verify ---- */

static PGresult *
query(struct verify *v, const char *sql)
{
	PGresult *res = PQexec(v->conn[0], sql);

	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		return res;
	fprintf(stderr, "bevis verify: cannot read the custody records: %s",
	    PQerrorMessage(v->conn[0]));
	PQclear(res);
	return NULL;
}

/* Every custody row against its leaf, every custody leaf against its row
 * (a leaf of a protected incident the reader cannot see is left alone, as
 * the decision pass does), and each incident's records numbered 1, 2, ...
 * against a tree head that existed before the record. */
int
verify_custody(struct verify *v)
{
	PGresult *rows = query(v, "SELECT " CUSTODY_ROW_COLUMNS ", "
	    "coalesce(lag(c.seq) OVER (PARTITION BY c.incident_id ORDER BY "
	    "c.seq), 0) " CUSTODY_FROM "ORDER BY c.leaf_idx");
	PGresult *orphans = rows ? query(v, "SELECT l.idx, encode(l.data, "
	    "'hex') FROM ledger_leaf l WHERE l.kind = 'custody' AND NOT EXISTS "
	    "(SELECT 1 FROM custody c WHERE c.leaf_idx = l.idx) ORDER BY l.idx") :
	    NULL;
	PGresult *hidden = orphans ? query(v, "SELECT o.ref FROM "
	    "incident_overview o WHERE NOT EXISTS (SELECT 1 FROM incident i "
	    "WHERE i.id = o.id)") : NULL;

	if (hidden == NULL) {
		PQclear(rows);
		PQclear(orphans);
		return -1;
	}
	for (int j = 0; j < PQntuples(rows); j++) {
		const char *what = custody_check(rows, j);
		const char *ref = PQgetvalue(rows, j, CU_REF);
		const char *seq = PQgetvalue(rows, j, CU_SEQ);
		long long li = atoll(PQgetvalue(rows, j, CU_LEAF));

		if (what && strcmp(what, "leaf") == 0)
			verify_problem(v, "custody %s of %s (leaf %lld): there is no "
			    "custody leaf there, or it does not decode", seq, ref, li);
		else if (what)
			verify_problem(v, "custody %s of %s (leaf %lld): its %s "
			    "differs from its ledger leaf", seq, ref, li, what);
		if (atoi(seq) != atoi(PQgetvalue(rows, j, CU_DATA + 1)) + 1)
			verify_problem(v, "incident %s: custody record %d is missing",
			    ref, atoi(PQgetvalue(rows, j, CU_DATA + 1)) + 1);
		if (atoll(PQgetvalue(rows, j, CU_TREE)) > li)
			verify_problem(v, "custody %s of %s (leaf %lld): it names a "
			    "tree head of size %s, which came after it", seq, ref, li,
			    PQgetvalue(rows, j, CU_TREE));
		v->custody++;
	}
	for (int j = 0; j < PQntuples(orphans); j++) {
		struct buf d = BUF_INIT;
		struct ledger_custody k;
		const char *hex = PQgetvalue(orphans, j, 1);
		const char *why = hex_decode_buf(hex, strlen(hex), &d) < 0 ?
		    "not hex" : ledger_decode_custody(d.data, d.len, &k);
		int hid = 0;

		if (why) {
			verify_problem(v, "leaf %s: a custody leaf that does not "
			    "decode: %s", PQgetvalue(orphans, j, 0), why);
		} else {
			for (int h = 0; h < PQntuples(hidden); h++)
				hid |= strcmp(PQgetvalue(hidden, h, 0),
				    k.incident_ref) == 0;
			if (hid)
				v->custody_hidden++;
			else
				verify_problem(v, "leaf %s: custody %d of %s has no "
				    "custody row", PQgetvalue(orphans, j, 0), k.seq,
				    k.incident_ref);
			ledger_custody_free(&k);
		}
		buf_free(&d);
	}
	PQclear(rows);
	PQclear(orphans);
	PQclear(hidden);
	return 0;
}

const char *
custody_summary(const struct verify *v)
{
	static char s[64];

	if (v->custody == 0)
		return "";
	snprintf(s, sizeof(s), ", %lld custody record%s", (long long)v->custody,
	    v->custody == 1 ? "" : "s");
	return s;
}

/* ---- bevis show ---- */

/* Times as bevis show prints them: in the session's zone, for people or
 * RFC 3339 for --json. */
#define SHOW_CUSTODY_SQL(T) "SELECT c.seq, " T("c.at") ", c.actor, " \
	"c.action, c.reason, c.destination, c.tool, c.tree_size, " \
	"encode(c.bundle_sha256, 'hex'), c.items::text, c.leaf_idx " \
	"FROM custody c WHERE c.incident_id = $1::bigint ORDER BY c.seq"

static void
json_member(struct buf *b, const char *key, const char *v, int raw)
{
	out_json_string(b, key, strlen(key));
	buf_putc(b, ':');
	if (raw)
		buf_puts(b, v);
	else
		out_json_string(b, v, strlen(v));
}

int
custody_show(PGconn *conn, const char *id, int json, struct buf *b)
{
	static const char *const keys[] = { "seq", "at", "actor", "action",
		"reason", "destination", "tool", "tree_size", "bundle_sha256",
		"items", "leaf" };
	static const int raw[] = { 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1 };
	const char *p[1] = { id };
	PGresult *res = cli_exec_params("show", conn, json ?
	    SHOW_CUSTODY_SQL(CLI_JSON_TIME) : SHOW_CUSTODY_SQL(CLI_LOCAL_TIME), 1,
	    p, PGRES_TUPLES_OK);

	if (res == NULL)
		return -1;
	if (json) {
		buf_puts(b, ",\"custody\":[");
		for (int r = 0; r < PQntuples(res); r++) {
			buf_puts(b, r ? ",{" : "{");
			for (int c = 0; c < 11; c++) {
				if (c)
					buf_putc(b, ',');
				json_member(b, keys[c], PQgetvalue(res, r, c), raw[c]);
			}
			buf_putc(b, '}');
		}
		buf_putc(b, ']');
		PQclear(res);
		return 0;
	}
	buf_puts(b, "\ncustody:\n");
	if (PQntuples(res) == 0)
		buf_puts(b, "  none: no evidence of it has been exported\n");
	for (int r = 0; r < PQntuples(res); r++) {
		const char *v;

		buf_printf(b, "  %s. %s  ", PQgetvalue(res, r, 0),
		    PQgetvalue(res, r, 1));
		v = PQgetvalue(res, r, 2);
		out_escape_text(b, v, strlen(v));
		buf_printf(b, "  %s to ", PQgetvalue(res, r, 3));
		v = PQgetvalue(res, r, 5);
		out_escape_text(b, v, strlen(v));
		buf_puts(b, "\n      why: ");
		v = PQgetvalue(res, r, 4);
		out_escape_text(b, v, strlen(v));
		buf_puts(b, "\n      what: ");
		v = PQgetvalue(res, r, 9);
		out_escape_text(b, v, strlen(v));
		buf_printf(b, "\n      bundle: manifest.json SHA-256 %s, tree "
		    "size %s, with ", PQgetvalue(res, r, 8), PQgetvalue(res, r, 7));
		v = PQgetvalue(res, r, 6);
		out_escape_text(b, v, strlen(v));
		buf_printf(b, " (leaf %s)\n", PQgetvalue(res, r, 10));
	}
	PQclear(res);
	return 0;
}
