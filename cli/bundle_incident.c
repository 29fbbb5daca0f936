/* bundle_incident.c - an incident in an offline bundle (bundle_incident.h,
 * docs/LEDGER.md "Incident bundles").
 *
 * bevis export --incident INC writes, besides the submissions linked to
 * the incident (and to the incidents merged into it), one file per
 * incident, incidents/INC-YYYY-NNNN.json (mode 0600: titles and
 * rationales may name people), with
 *   decisions   every decision row as stored (before and after as the
 *               text PostgreSQL prints for the jsonb, the rationale, the
 *               salt) with its ledger leaf and inclusion proof;
 *   links       every incident_link row, link and unlink, with the target
 *               it names (built from the row, not from the decision) and
 *               the seq of its decision.
 * verify-bundle checks each decision leaf against the checkpoint, that the
 * leaf is the encoding of the row, that the seqs run 1, 2, ..., and that
 * each link row is what its decision says. The export is then recorded as
 * custody (sql/0009_custody.sql). */
#include "bundle_incident.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "event.h"
#include "files.h"
#include "hex.h"
#include "ledger.h"
#include "merkle.h"
#include "sha256.h"
#include "verify.h"
#include "xmalloc.h"

#define INC_SCOPE "WITH RECURSIVE scope(id) AS (SELECT $1::bigint UNION " \
	"SELECT i.id FROM incident i JOIN scope s ON i.merged_into = s.id " \
	"AND i.status = 'merged') "
#define INC_DECISIONS_SQL "SELECT d.seq, d.kind, d.before::text, " \
	"d.after::text, d.rationale, encode(d.salt, 'hex'), d.actor, " \
	"(extract(epoch FROM d.at) * 1000000)::bigint, d.leaf_idx, " \
	"encode(l.data, 'hex') FROM decision d LEFT JOIN ledger_leaf l ON " \
	"l.idx = d.leaf_idx AND l.kind = 'decision' " \
	"WHERE d.incident_id = $1::bigint ORDER BY d.seq"
enum { ID_SEQ, ID_KIND, ID_BEFORE, ID_AFTER, ID_RATIONALE, ID_SALT, ID_ACTOR,
	ID_AT, ID_LEAF, ID_DATA };
/* The target from the link row itself, in the form the decisions use. */
#define INC_LINKS_SQL "SELECT l.action, d.seq, (CASE l.target_kind " \
	"WHEN 'event' THEN jsonb_build_object('event', jsonb_build_object(" \
	"'supplier', sp.name, 'id', e.source_event_id, 'submission', " \
	"l.event_submission_id, 'item', l.event_item_no)) " \
	"WHEN 'submission' THEN jsonb_build_object('submission', l.submission_id) " \
	"WHEN 'incident' THEN jsonb_build_object('incident', oi.ref) " \
	"ELSE jsonb_build_object('report_entry', l.report_entry_id) END)::text, " \
	"EXISTS (SELECT 1 FROM incident_link_current c WHERE c.id = l.id) " \
	"FROM incident_link l JOIN decision d ON d.id = l.decision_id " \
	"LEFT JOIN event e ON e.submission_id = l.event_submission_id " \
	"AND e.item_no = l.event_item_no " \
	"LEFT JOIN supplier sp ON sp.id = e.supplier_id " \
	"LEFT JOIN incident oi ON oi.id = l.other_incident_id " \
	"WHERE l.incident_id = $1::bigint ORDER BY l.id"
/* Submissions linked in force: directly, by an event, or by a report entry
 * (issue 13), whose raw bytes lie in the submission that carried its
 * report. */
#define INC_SUBS_SQL INC_SCOPE "SELECT coalesce(k.submission_id, " \
	"k.event_submission_id) FROM incident_link_current k WHERE " \
	"k.incident_id IN (SELECT id FROM scope) AND k.target_kind IN " \
	"('submission', 'event') UNION SELECT r.submission_id " \
	"FROM incident_link_current k JOIN report_entry re ON " \
	"re.id = k.report_entry_id JOIN report r ON r.id = re.report_id " \
	"WHERE k.incident_id IN (SELECT id FROM scope) ORDER BY 1"

static PGresult *
q1(PGconn *conn, const char *sql, const char *arg)
{
	const char *p[1] = { arg };

	return cli_exec_params("export", conn, sql, 1, p, PGRES_TUPLES_OK);
}

int
incident_export_select(PGconn *conn, struct inc_export *ie, int64_t **ids,
    size_t *nids)
{
	PGresult *inc;
	const char *pr[1] = { ie->ref_arg };
	PGresult *one = cli_exec_params("export", conn, "SELECT i.id, "
	    "(SELECT count(*) FROM incident_overview o WHERE o.ref = "
	    "upper(btrim($1))) FROM (SELECT 1) x LEFT JOIN incident i ON i.ref = "
	    "upper(btrim($1))", 1, pr, PGRES_TUPLES_OK);
	if (one == NULL)
		return -1;
	if (PQgetisnull(one, 0, 0)) {
		if (atoi(PQgetvalue(one, 0, 1)) > 0)
			fprintf(stderr, "bevis export: incident %s involves a "
			    "protected identity: only a member of bevis_protected "
			    "may export its evidence\n", ie->ref_arg);
		else
			fprintf(stderr, "bevis export: no incident %s\n  hint: a "
			    "reference looks like INC-2026-0001; bevis incidents "
			    "lists them\n", ie->ref_arg);
		PQclear(one);
		return -1;
	}
	char id[24];
	snprintf(id, sizeof(id), "%s", PQgetvalue(one, 0, 0));
	PQclear(one);
	if ((inc = q1(conn, INC_SCOPE "SELECT i.id, i.ref FROM scope s JOIN "
	    "incident i ON i.id = s.id ORDER BY s.id <> $1::bigint, i.ref", id))
	    == NULL)
		return -1;
	ie->nparts = (size_t)PQntuples(inc);
	ie->parts = xcalloc(ie->nparts, sizeof(*ie->parts));
	for (size_t k = 0; k < ie->nparts; k++) {
		struct inc_part *p = &ie->parts[k];
		const char *iid = PQgetvalue(inc, (int)k, 0);

		p->ref = xstrdup(PQgetvalue(inc, (int)k, 1));
		if ((p->decisions = q1(conn, INC_DECISIONS_SQL, iid)) == NULL ||
		    (p->links = q1(conn, INC_LINKS_SQL, iid)) == NULL) {
			PQclear(inc);
			return -1;
		}
		int nd = PQntuples(p->decisions);
		p->proofs = xcalloc((size_t)nd + 1, sizeof(struct buf));
		p->data = xcalloc((size_t)nd + 1, sizeof(struct buf));
		for (int r = 0; r < nd; r++) {
			if (PQgetisnull(p->decisions, r, ID_DATA)) {
				fprintf(stderr, "bevis export: decision %s of %s has no "
				    "ledger leaf: run bevis verify\n",
				    PQgetvalue(p->decisions, r, ID_SEQ), p->ref);
				PQclear(inc);
				return -1;
			}
			const char *hex = PQgetvalue(p->decisions, r, ID_DATA);
			(void)hex_decode_buf(hex, strlen(hex), &p->data[r]);
		}
		ie->decisions += nd;
		ie->links += PQntuples(p->links);
	}
	PQclear(inc);
	PGresult *subs = q1(conn, INC_SUBS_SQL, id);
	if (subs == NULL)
		return -1;
	*nids = (size_t)PQntuples(subs);
	*ids = xcalloc(*nids + 1, sizeof(int64_t));
	for (size_t r = 0; r < *nids; r++)
		(*ids)[r] = atoll(PQgetvalue(subs, (int)r, 0));
	PQclear(subs);
	return 0;
}

int64_t
incident_export_maxleaf(const struct inc_export *ie)
{
	int64_t m = -1;

	for (size_t k = 0; k < ie->nparts; k++)
		for (int r = 0; r < PQntuples(ie->parts[k].decisions); r++) {
			int64_t l = atoll(PQgetvalue(ie->parts[k].decisions, r,
			    ID_LEAF));
			if (l > m)
				m = l;
		}
	return m;
}

int
incident_export_prove(PGconn *conn, struct inc_export *ie, uint64_t size,
    const unsigned char root[32])
{
	for (size_t k = 0; k < ie->nparts; k++) {
		struct inc_part *p = &ie->parts[k];
		for (int r = 0; r < PQntuples(p->decisions); r++)
			if (export_prove_leaf(conn, atoll(PQgetvalue(p->decisions, r,
			    ID_LEAF)), &p->data[r], size, root, &p->proofs[r]) < 0)
				return -1;
	}
	return 0;
}

static void
jstr_member(struct buf *j, const char *key, const char *v, int last)
{
	buf_printf(j, "\"%s\": ", key);
	buf_put_json_string(j, v, strlen(v));
	if (!last)
		buf_puts(j, ", ");
}

static void
part_json(const struct inc_part *p, struct buf *j)
{
	char t[40];
	unsigned char lh[32];

	buf_puts(j, "{\n  \"ref\": ");
	buf_put_json_string(j, p->ref, strlen(p->ref));
	buf_puts(j, ",\n  \"decisions\": [");
	for (int r = 0; r < PQntuples(p->decisions); r++) {
		const PGresult *d = p->decisions;
		buf_printf(j, "%s\n    {\"seq\": %s, ", r ? "," : "",
		    PQgetvalue(d, r, ID_SEQ));
		jstr_member(j, "kind", PQgetvalue(d, r, ID_KIND), 0);
		jstr_member(j, "before", PQgetvalue(d, r, ID_BEFORE), 0);
		jstr_member(j, "after", PQgetvalue(d, r, ID_AFTER), 0);
		jstr_member(j, "rationale", PQgetvalue(d, r, ID_RATIONALE), 0);
		jstr_member(j, "salt", PQgetvalue(d, r, ID_SALT), 0);
		jstr_member(j, "actor", PQgetvalue(d, r, ID_ACTOR), 0);
		rfc3339_format(atoll(PQgetvalue(d, r, ID_AT)), t);
		jstr_member(j, "at", t, 0);
		buf_printf(j, "\n     \"leaf_index\": %s, \"leaf_data\": \"",
		    PQgetvalue(d, r, ID_LEAF));
		hex_append(j, p->data[r].data, p->data[r].len);
		merkle_leaf_hash(p->data[r].data, p->data[r].len, lh);
		buf_puts(j, "\", \"leaf_hash\": \"");
		hex_append(j, lh, 32);
		buf_puts(j, "\",\n     \"inclusion_proof\": [");
		for (size_t i = 0; i < p->proofs[r].len / 32; i++) {
			buf_puts(j, i ? ", \"" : "\"");
			hex_append(j, p->proofs[r].data + 32 * i, 32);
			buf_putc(j, '"');
		}
		buf_puts(j, "]}");
	}
	buf_puts(j, "\n  ],\n  \"links\": [");
	for (int r = 0; r < PQntuples(p->links); r++) {
		const PGresult *l = p->links;
		buf_printf(j, "%s\n    {", r ? "," : "");
		jstr_member(j, "action", PQgetvalue(l, r, 0), 0);
		buf_printf(j, "\"decision\": %s, \"target\": %s, \"in_force\": %s}",
		    PQgetvalue(l, r, 1), PQgetvalue(l, r, 2),
		    PQgetvalue(l, r, 3)[0] == 't' ? "true" : "false");
	}
	buf_puts(j, "\n  ]\n}\n");
}

int
incident_export_write(struct inc_export *ie, const char *dir,
    struct buf *manifest)
{
	char path[4200], err[4400];
	struct buf j = BUF_INIT;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/" INCIDENTS_DIR, dir);
	if (mkdir(path, MODE_DIR) < 0) {
		fprintf(stderr, "bevis export: %s: %s\n", path, strerror(errno));
		return -1;
	}
	buf_puts(manifest, ",\n  \"incidents\": [");
	for (size_t k = 0; k < ie->nparts && rc == 0; k++) {
		struct inc_part *p = &ie->parts[k];
		buf_reset(&j);
		part_json(p, &j);
		snprintf(path, sizeof(path), "%s/" INCIDENTS_DIR "/%s.json", dir,
		    p->ref);
		if (file_write_new(path, j.data, j.len, MODE_PERSONAL, err,
		    sizeof(err)) < 0) {
			fprintf(stderr, "bevis export: %s\n", err);
			rc = -1;
		}
		buf_printf(manifest, "%s\n    {\"ref\": \"%s\", \"file\": \""
		    INCIDENTS_DIR "/%s.json\", \"decisions\": %d, \"links\": %d}",
		    k ? "," : "", p->ref, p->ref, PQntuples(p->decisions),
		    PQntuples(p->links));
	}
	buf_puts(manifest, "\n  ]");
	buf_free(&j);
	return rc;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level > 0 && remove(path) < 0)
		fprintf(stderr, "bevis export: cannot remove %s: %s\n", path,
		    strerror(errno));
	return 0;
}

/* What export wrote: everything in dir, which was new or empty. */
static void
remove_bundle(const char *dir, int dir_existed)
{
	(void)nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (!dir_existed)
		(void)rmdir(dir);
}

int
incident_export_record(struct cli *cli, struct inc_export *ie,
    const char *dir, int dir_existed, long long tree_size,
    const struct buf *manifest, const int64_t *ids, size_t nids)
{
	char host[256], real[PATH_MAX], ts[24], hex[65];
	unsigned char d[32];
	struct buf items = BUF_INIT, dest = BUF_INIT;
	PGresult *res = NULL;
	PGconn *conn;
	int rc = -1;

	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	if (realpath(dir, real) == NULL)
		snprintf(real, sizeof(real), "%s", dir);
	buf_printf(&dest, "%s:%s", host, real);
	buf_puts(&items, "{\"incidents\": [");
	for (size_t k = 0; k < ie->nparts; k++) {
		buf_puts(&items, k ? ", " : "");
		buf_put_json_string(&items, ie->parts[k].ref,
		    strlen(ie->parts[k].ref));
	}
	buf_puts(&items, "], \"submissions\": [");
	for (size_t k = 0; k < nids; k++)
		buf_printf(&items, "%s%lld", k ? ", " : "", (long long)ids[k]);
	buf_printf(&items, "], \"decisions\": %ld, \"links\": %ld}",
	    ie->decisions, ie->links);
	sha256(manifest->data, manifest->len, d);
	hex_encode(d, 32, hex);
	snprintf(ts, sizeof(ts), "%lld", tree_size);
	char *bundle = xasprintf("\\x%s", hex);
	const char *p[7] = { ie->parts[0].ref, ie->reason, buf_cstr(&dest),
		buf_cstr(&items), ts, bundle, "bevis " BEVIS_VERSION };

	conn = cli_connect(cli);
	if (cli_exec("export", conn, "SET client_encoding = 'UTF8'",
	    PGRES_COMMAND_OK) == 0 &&
	    (res = cli_exec_params("export", conn, "SELECT "
	    "bevis_custody_record($1, 'export', $2, $3, $4::jsonb, $5::bigint, "
	    "$6::bytea, $7)", 7, p, PGRES_TUPLES_OK)) != NULL) {
		const char *q[2] = { ie->parts[0].ref, PQgetvalue(res, 0, 0) };
		PGresult *lr = cli_exec_params("export", conn, "SELECT c.leaf_idx "
		    "FROM custody c JOIN incident i ON i.id = c.incident_id WHERE "
		    "i.ref = $1 AND c.seq = $2::integer", 2, q, PGRES_TUPLES_OK);
		printf("recorded as custody %s of %s (ledger leaf %s): "
		    "manifest.json SHA-256 %s\n", PQgetvalue(res, 0, 0),
		    ie->parts[0].ref, lr && PQntuples(lr) == 1 ?
		    PQgetvalue(lr, 0, 0) : "?", hex);
		PQclear(lr);
		rc = 0;
	}
	PQclear(res);
	PQfinish(conn);
	if (rc < 0) {
		remove_bundle(dir, dir_existed);
		fprintf(stderr, "bevis export: the export could not be recorded "
		    "as custody, so the bundle was removed\n");
	}
	free(bundle);
	buf_free(&items);
	buf_free(&dest);
	return rc;
}

void
incident_export_free(struct inc_export *ie)
{
	for (size_t k = 0; k < ie->nparts; k++) {
		struct inc_part *p = &ie->parts[k];
		int nd = p->decisions ? PQntuples(p->decisions) : 0;
		for (int r = 0; p->data && r < nd; r++) {
			buf_free(&p->data[r]);
			buf_free(&p->proofs[r]);
		}
		free(p->data);
		free(p->proofs);
		PQclear(p->decisions);
		PQclear(p->links);
		free(p->ref);
	}
	free(ie->parts);
}

/* ---- verify-bundle ---- */

static json_object *
member(json_object *o, const char *key, json_type t)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, t))
		return NULL;
	return v;
}

static const char *
mstr(json_object *o, const char *key)
{
	json_object *v = member(o, key, json_type_string);

	return v ? json_object_get_string(v) : NULL;
}

/* A reference is also a file name: only INC-YYYY-NNNN... will do. */
static int
ref_ok(const char *ref)
{
	size_t n = ref ? strlen(ref) : 0;

	if (n < 13 || n > 20 || strncmp(ref, "INC-", 4) != 0 || ref[8] != '-')
		return 0;
	for (size_t i = 4; i < n; i++)
		if (i != 8 && (ref[i] < '0' || ref[i] > '9'))
			return 0;
	return 1;
}

/* One decision of the file against its leaf. Returns its seq, or -1. */
static int
check_decision(struct bundle *c, const char *file, const char *ref,
    json_object *dj, size_t pos)
{
	struct ledger_decision k, row;
	struct buf data = BUF_INIT;
	unsigned char salt[LEDGER_DECISION_SALT_LEN];
	char what[128], t[40];
	int64_t idx;
	json_object *sv = member(dj, "seq", json_type_int);
	const char *kind = mstr(dj, "kind"), *before = mstr(dj, "before"),
	    *after = mstr(dj, "after"), *rat = mstr(dj, "rationale"),
	    *sh = mstr(dj, "salt"), *actor = mstr(dj, "actor"),
	    *at = mstr(dj, "at");
	int seq = sv ? json_object_get_int(sv) : -1;

	snprintf(what, sizeof(what), "%s: decision %d", file, seq);
	if (!sv || !kind || !before || !after || !rat || !sh || !actor || !at ||
	    hex_decode(sh, strlen(sh), salt, sizeof(salt)) < 0) {
		bundle_problem(c, "%s: decisions[%zu] lacks a field or has one of "
		    "the wrong type", file, pos);
		return -1;
	}
	if (bundle_leaf(c, what, dj, &data, &idx) < 0) {
		buf_free(&data);
		return seq;
	}
	if (ledger_decode_decision(data.data, data.len, &k) != NULL) {
		bundle_problem(c, "%s: leaf %lld is not a decision leaf", what,
		    (long long)idx);
		buf_free(&data);
		return seq;
	}
	row.incident_ref = ref;
	row.seq = seq;
	row.kind = kind;
	ledger_decision_digest(salt, LEDGER_DIGEST_BEFORE, before,
	    row.before_sha256);
	ledger_decision_digest(salt, LEDGER_DIGEST_AFTER, after, row.after_sha256);
	ledger_decision_digest(salt, LEDGER_DIGEST_RATIONALE, rat,
	    row.rationale_sha256);
	row.actor = actor;
	rfc3339_format(k.at_us, t);
	row.at_us = strcmp(t, at) == 0 ? k.at_us : k.at_us + 1;
	const char *diff = decision_difference(&k, &row);
	if (diff)
		bundle_problem(c, "%s: its %s is not the one in leaf %lld", what,
		    diff, (long long)idx);
	ledger_decision_free(&k);
	buf_free(&data);
	return seq;
}

/* Each link row names the target its decision names, and its decision is
 * one of its action. */
static void
check_link(struct bundle *c, const char *file, json_object *decisions,
    json_object *lj, size_t pos)
{
	const char *action = mstr(lj, "action");
	json_object *dv = member(lj, "decision", json_type_int);
	json_object *target = member(lj, "target", json_type_object);

	if (!action || !dv || !target) {
		bundle_problem(c, "%s: links[%zu] lacks a field or has one of the "
		    "wrong type", file, pos);
		return;
	}
	int seq = json_object_get_int(dv);
	for (size_t i = 0; i < json_object_array_length(decisions); i++) {
		json_object *d = json_object_array_get_idx(decisions, i);
		json_object *s = member(d, "seq", json_type_int);
		if (s == NULL || json_object_get_int(s) != seq)
			continue;
		const char *kind = mstr(d, "kind"), *after = mstr(d, "after");
		json_object *a = after ? json_tokener_parse(after) : NULL, *t;
		if (kind == NULL || strcmp(kind, action) != 0)
			bundle_problem(c, "%s: links[%zu] (%s) has decision %d, a %s",
			    file, pos, action, seq, kind ? kind : "?");
		else if (a == NULL || !json_object_object_get_ex(a, action, &t) ||
		    !json_object_equal(t, target))
			bundle_problem(c, "%s: links[%zu]: its decision %d names "
			    "another target", file, pos, seq);
		json_object_put(a);
		return;
	}
	bundle_problem(c, "%s: links[%zu]: there is no decision %d", file, pos,
	    seq);
}

static void
check_part(struct bundle *c, json_object *entry, size_t pos, char **names,
    size_t *nnames)
{
	char file[64], path[4200], err[300];
	const char *ref = mstr(entry, "ref");
	struct buf b = BUF_INIT;
	json_object *f = NULL;

	if (!ref_ok(ref)) {
		bundle_problem(c, MANIFEST ": incidents[%zu]: 'ref' is not a "
		    "reference INC-YYYY-NNNN", pos);
		return;
	}
	snprintf(file, sizeof(file), INCIDENTS_DIR "/%s.json", ref);
	const char *given = mstr(entry, "file");
	if (given == NULL || strcmp(given, file) != 0) {
		bundle_problem(c, MANIFEST ": incident %s: file is not '%s'", ref,
		    file);
		return;
	}
	names[(*nnames)++] = xstrdup(strchr(file, '/') + 1);
	snprintf(path, sizeof(path), "%s/%s", c->dir, file);
	if (file_read_whole(path, FILE_MAX, &b, err, sizeof(err)) < 0) {
		bundle_problem(c, "%s: %s", file, err);
		goto out;
	}
	buf_putc(&b, '\0');
	f = json_tokener_parse((const char *)b.data);
	json_object *decisions = f ? member(f, "decisions", json_type_array) : NULL;
	json_object *links = f ? member(f, "links", json_type_array) : NULL;
	const char *fref = f ? mstr(f, "ref") : NULL;
	if (!decisions || !links || !fref) {
		bundle_problem(c, "%s: not an incident file (ref, decisions, links)",
		    file);
		goto out;
	}
	if (strcmp(fref, ref) != 0)
		bundle_problem(c, "%s: it is the file of %s", file, fref);
	size_t nd = json_object_array_length(decisions);
	for (size_t i = 0; i < nd; i++) {
		int seq = check_decision(c, file, ref,
		    json_object_array_get_idx(decisions, i), i);
		if (seq >= 0 && (size_t)seq != i + 1)
			bundle_problem(c, "%s: decision %zu is missing (decisions[%zu] "
			    "is decision %d)", file, i + 1, i, seq);
	}
	size_t nl = json_object_array_length(links);
	for (size_t i = 0; i < nl; i++)
		check_link(c, file, decisions, json_object_array_get_idx(links, i),
		    i);
	json_object *md = member(entry, "decisions", json_type_int);
	json_object *ml = member(entry, "links", json_type_int);
	if (!md || !ml || (size_t)json_object_get_int64(md) != nd ||
	    (size_t)json_object_get_int64(ml) != nl)
		bundle_problem(c, MANIFEST ": incident %s: its counts are not those "
		    "of %s (%zu decisions, %zu links)", ref, file, nd, nl);
	c->incidents++;
	c->decisions += (long)nd;
out:
	json_object_put(f);
	buf_free(&b);
}

void
bundle_check_incidents(struct bundle *c, json_object *m)
{
	json_object *incs;
	char path[4200];
	char **names;
	size_t n, nnames = 0;
	DIR *d;
	struct dirent *de;

	if (!json_object_object_get_ex(m, "incidents", &incs))
		return;
	if (!json_object_is_type(incs, json_type_array) ||
	    (n = json_object_array_length(incs)) == 0) {
		bundle_problem(c, MANIFEST ": 'incidents' is not a list of "
		    "incidents");
		return;
	}
	names = xcalloc(n, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		check_part(c, json_object_array_get_idx(incs, i), i, names,
		    &nnames);
	/* Nothing unchecked among them. */
	snprintf(path, sizeof(path), "%s/" INCIDENTS_DIR, c->dir);
	if ((d = opendir(path)) == NULL) {
		bundle_problem(c, INCIDENTS_DIR "/: %s", strerror(errno));
	} else {
		while ((de = readdir(d)) != NULL) {
			int ok = strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0;
			for (size_t i = 0; i < nnames && !ok; i++)
				ok = strcmp(names[i], de->d_name) == 0;
			if (!ok)
				bundle_problem(c, INCIDENTS_DIR "/%s: not named in "
				    MANIFEST, de->d_name);
		}
		closedir(d);
	}
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
}
