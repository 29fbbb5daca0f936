/* cmd_export.c - bevis export: an offline evidence bundle (docs/LEDGER.md,
 * "Offline bundles").
 *
 * export reads chosen submissions in one read-only snapshot and writes
 *   checkpoint.txt             the newest signed tree head, byte for byte
 *   bodies/<id>.bin            each raw body (none for a redacted one)
 *   events/<id>.copy           its event rows, a complete binary COPY file
 *   quarantine/<id>.copy       its quarantine rows, likewise
 *   manifest.json              what is where, each leaf's data and its
 *                              inclusion proof against the checkpoint
 * and then checks what it wrote exactly as verify-bundle does (bundle.c),
 * less the signature. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "buf.h"
#include "bundle.h"
#include "bundle_incident.h"
#include "checkpoint.h"
#include "cli.h"
#include "numarg.h"
#include "files.h"
#include "event.h"
#include "hex.h"
#include "ledger.h"
#include "ledgerdb.h"
#include "merkle.h"
#include "pgcopy.h"
#include "xmalloc.h"

struct exp_sub {
	int64_t id;
	char *supplier;			/* NULL when unauthenticated */
	char *key_fp;			/* NULL without CURVE */
	int64_t received_us;
	char *request_id, *content_type, *body_sha256;
	int body_null;
	long long items;
	int64_t leaf;			/* -1: none */
	struct buf leaf_data, proof;	/* proof: 32-byte hashes */
	int redacted;
	char *red_by, *red_reason;
	int64_t red_at_us, red_leaf;
	struct buf red_data, red_proof;
	long events, quarantined;
};

static void
exp_sub_free(struct exp_sub *s)
{
	free(s->supplier);
	free(s->key_fp);
	free(s->request_id);
	free(s->content_type);
	free(s->body_sha256);
	free(s->red_by);
	free(s->red_reason);
	buf_free(&s->leaf_data);
	buf_free(&s->proof);
	buf_free(&s->red_data);
	buf_free(&s->red_proof);
}

#define EXPORT_COLUMNS "SELECT s.id, sp.name, " \
	"(extract(epoch FROM s.received_at) * 1000000)::bigint, s.request_id, " \
	"s.content_type, encode(s.sha256, 'hex'), s.body IS NULL, s.item_count, " \
	"l.idx, encode(l.data, 'hex'), r.redacted_by, " \
	"(extract(epoch FROM r.redacted_at) * 1000000)::bigint, r.reason, " \
	"r.leaf_idx, encode(rl.data, 'hex'), nullif(s.key_fingerprint, '') " \
	"FROM submission s LEFT JOIN supplier sp ON sp.id = s.supplier_id " \
	"LEFT JOIN ledger_leaf l ON l.kind = 'submission' AND " \
	"l.submission_id = s.id " \
	"LEFT JOIN redaction r ON r.submission_id = s.id " \
	"LEFT JOIN ledger_leaf rl ON rl.idx = r.leaf_idx AND " \
	"rl.kind = 'redaction' "

static int
export_usage(void)
{
	return cli_usage("export", stderr);
}

/* The output of COPY (query) TO STDOUT (FORMAT binary), as sent. */
static int
copy_out(PGconn *conn, const char *query, struct buf *out)
{
	char *sql = xasprintf("COPY (%s) TO STDOUT (FORMAT binary)", query);
	PGresult *res = PQexec(conn, sql);
	char *msg;
	int n, ok;

	free(sql);
	buf_reset(out);
	if (PQresultStatus(res) != PGRES_COPY_OUT) {
		fprintf(stderr, "bevis export: %s", PQerrorMessage(conn));
		PQclear(res);
		return -1;
	}
	PQclear(res);
	while ((n = PQgetCopyData(conn, &msg, 0)) > 0) {
		buf_append(out, msg, (size_t)n);
		PQfreemem(msg);
	}
	res = PQgetResult(conn);
	ok = n == -1 && PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		fprintf(stderr, "bevis export: %s", PQerrorMessage(conn));
	PQclear(res);
	while ((res = PQgetResult(conn)) != NULL)
		PQclear(res);
	return ok ? 0 : -1;
}

static char *
dup_or_null(const PGresult *res, int r, int c)
{
	return PQgetisnull(res, r, c) ? NULL : xstrdup(PQgetvalue(res, r, c));
}

/* An inclusion proof of leaf against the head, from the stored nodes,
 * checked before it is written. */
int
export_prove_leaf(PGconn *conn, int64_t leaf, const struct buf *data, uint64_t size,
    const unsigned char root[32], struct buf *proof)
{
	unsigned char path[MERKLE_MAX_PATH][MERKLE_HASH_LEN], r[32], lh[32],
	    want[32];
	size_t len;
	char err[300];

	if (ledger_inclusion(conn, (uint64_t)leaf, size, path, &len, r, lh, err,
	    sizeof(err)) < 0) {
		fprintf(stderr, "bevis export: leaf %lld: %s\n", (long long)leaf,
		    err);
		return -1;
	}
	merkle_leaf_hash(data->data, data->len, want);
	if (memcmp(want, lh, 32) != 0) {
		fprintf(stderr, "bevis export: leaf %lld: the stored hash is not "
		    "SHA-256(0x00 || data): run bevis verify\n", (long long)leaf);
		return -1;
	}
	if (merkle_verify_inclusion(lh, (uint64_t)leaf, size, path, len, r) != 0) {
		fprintf(stderr, "bevis export: leaf %lld: the stored nodes give a "
		    "proof that does not verify: run bevis verify\n",
		    (long long)leaf);
		return -1;
	}
	if (memcmp(r, root, 32) != 0) {
		fprintf(stderr, "bevis export: the root of the first %llu leaves is "
		    "not the one the signed tree head gives: run bevis verify\n",
		    (unsigned long long)size);
		return -1;
	}
	buf_reset(proof);
	for (size_t i = 0; i < len; i++)
		buf_append(proof, path[i], 32);
	return 0;
}

static void
manifest_proof(struct buf *j, const struct buf *proof)
{
	buf_puts(j, "[");
	for (size_t i = 0; i < proof->len / 32; i++) {
		buf_puts(j, i ? ", \"" : "\"");
		hex_append(j, proof->data + 32 * i, 32);
		buf_putc(j, '"');
	}
	buf_puts(j, "]");
}

static void
manifest_str(struct buf *j, const char *s)
{
	if (s == NULL)
		buf_puts(j, "null");
	else
		buf_put_json_string(j, s, strlen(s));
}

static void
manifest_sub(struct buf *j, const struct exp_sub *s, int last)
{
	char t[64];

	buf_printf(j, "    {\n      \"id\": %lld,\n      \"supplier\": ",
	    (long long)s->id);
	manifest_str(j, s->supplier);
	buf_puts(j, ",\n      \"key_fingerprint\": ");
	manifest_str(j, s->key_fp);
	buf_puts(j, ",\n      \"request_id\": ");
	manifest_str(j, s->request_id);
	rfc3339_format(s->received_us, t);
	buf_printf(j, ",\n      \"received_at\": \"%s\",\n      \"content_type\": ",
	    t);
	manifest_str(j, s->content_type);
	buf_printf(j, ",\n      \"leaf_index\": %lld,\n      \"leaf_data\": \"",
	    (long long)s->leaf);
	hex_append(j, s->leaf_data.data, s->leaf_data.len);
	unsigned char lh[32];
	merkle_leaf_hash(s->leaf_data.data, s->leaf_data.len, lh);
	buf_puts(j, "\",\n      \"leaf_hash\": \"");
	hex_append(j, lh, 32);
	buf_puts(j, "\",\n      \"inclusion_proof\": ");
	manifest_proof(j, &s->proof);
	if (s->redacted)
		buf_puts(j, ",\n      \"body\": null");
	else
		buf_printf(j, ",\n      \"body\": \"bodies/%lld.bin\"",
		    (long long)s->id);
	buf_printf(j, ",\n      \"body_sha256\": \"%s\",\n      \"redacted\": %s,"
	    "\n      \"redaction\": ", s->body_sha256,
	    s->redacted ? "true" : "false");
	if (s->redacted) {
		buf_puts(j, "{\n        \"by\": ");
		manifest_str(j, s->red_by);
		rfc3339_format(s->red_at_us, t);
		buf_printf(j, ",\n        \"at\": \"%s\",\n        \"reason\": ", t);
		manifest_str(j, s->red_reason);
		buf_printf(j, ",\n        \"leaf_index\": %lld,\n        "
		    "\"leaf_data\": \"", (long long)s->red_leaf);
		hex_append(j, s->red_data.data, s->red_data.len);
		merkle_leaf_hash(s->red_data.data, s->red_data.len, lh);
		buf_puts(j, "\",\n        \"leaf_hash\": \"");
		hex_append(j, lh, 32);
		buf_puts(j, "\",\n        \"inclusion_proof\": ");
		manifest_proof(j, &s->red_proof);
		buf_puts(j, "\n      }");
	} else {
		buf_puts(j, "null");
	}
	buf_printf(j, ",\n      \"items\": %lld,\n      \"events\": %ld,\n"
	    "      \"quarantined\": %ld,\n"
	    "      \"events_file\": \"events/%lld.copy\",\n"
	    "      \"quarantine_file\": \"quarantine/%lld.copy\"\n    }%s\n",
	    s->items, s->events, s->quarantined, (long long)s->id,
	    (long long)s->id, last ? "" : ",");
}

/* DIR must be new or an empty directory; returns 1 if it exists. */
static int
out_dir_state(const char *dir)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	int empty = 1;

	if (stat(dir, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		fprintf(stderr, "bevis export: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "bevis export: %s is not a directory\n", dir);
		return -1;
	}
	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "bevis export: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	if (!empty) {
		fprintf(stderr, "bevis export: %s is not empty: give a new or "
		    "empty directory\n", dir);
		return -1;
	}
	return 1;
}

/* Reads the selected submissions into *out (*count of them). Returns 0,
 * or -1 when one is missing or its ledger entries are. */
static int
select_subs(PGconn *conn, const int64_t *ids, size_t nids, const char *since,
    const char *until, struct exp_sub **out, long *count)
{
	PGresult *res;
	struct buf arr = BUF_INIT;
	long n;
	int rc = 0;

	if (nids) {
		buf_putc(&arr, '{');
		for (size_t i = 0; i < nids; i++)
			buf_printf(&arr, "%s%lld", i ? "," : "", (long long)ids[i]);
		buf_putc(&arr, '}');
		const char *params[1] = { buf_cstr(&arr) };
		res = PQexecParams(conn, EXPORT_COLUMNS "WHERE s.id = "
		    "ANY($1::bigint[]) ORDER BY s.id", 1, NULL, params, NULL,
		    NULL, 0);
	} else {
		const char *params[2] = { since, until };
		res = PQexecParams(conn, EXPORT_COLUMNS "WHERE ($1::timestamptz "
		    "IS NULL OR s.received_at >= $1::timestamptz) AND "
		    "($2::timestamptz IS NULL OR s.received_at < $2::timestamptz) "
		    "ORDER BY s.id", 2, NULL, params, NULL, NULL, 0);
	}
	buf_free(&arr);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "bevis export: %s", PQerrorMessage(conn));
		PQclear(res);
		return -1;
	}
	n = PQntuples(res);
	struct exp_sub *subs = xcalloc((size_t)n + 1, sizeof(*subs));
	*out = subs;
	*count = n;
	for (long r = 0; r < n; r++) {
		struct exp_sub *s = &subs[r];
		int i = (int)r;

		s->id = atoll(PQgetvalue(res, i, 0));
		s->supplier = dup_or_null(res, i, 1);
		s->received_us = atoll(PQgetvalue(res, i, 2));
		s->request_id = xstrdup(PQgetvalue(res, i, 3));
		s->content_type = xstrdup(PQgetvalue(res, i, 4));
		s->body_sha256 = xstrdup(PQgetvalue(res, i, 5));
		s->body_null = PQgetvalue(res, i, 6)[0] == 't';
		s->items = atoll(PQgetvalue(res, i, 7));
		s->leaf = PQgetisnull(res, i, 8) ? -1 : atoll(PQgetvalue(res, i, 8));
		if (s->leaf >= 0)
			(void)hex_decode_buf(PQgetvalue(res, i, 9),
			    (size_t)PQgetlength(res, i, 9), &s->leaf_data);
		s->redacted = !PQgetisnull(res, i, 10);
		s->red_by = dup_or_null(res, i, 10);
		s->red_at_us = atoll(PQgetvalue(res, i, 11));
		s->red_reason = dup_or_null(res, i, 12);
		s->red_leaf = PQgetisnull(res, i, 14) ? -1 :
		    atoll(PQgetvalue(res, i, 13));
		if (s->red_leaf >= 0)
			(void)hex_decode_buf(PQgetvalue(res, i, 14),
			    (size_t)PQgetlength(res, i, 14), &s->red_data);
		s->key_fp = dup_or_null(res, i, 15);
	}
	PQclear(res);
	/* Each id asked for must exist. */
	for (size_t k = 0; k < nids; k++) {
		int found = 0;
		for (long r = 0; r < n && !found; r++)
			found = subs[r].id == ids[k];
		if (!found) {
			fprintf(stderr, "bevis export: submission %lld does not "
			    "exist\n", (long long)ids[k]);
			rc = -1;
		}
	}
	/* What the ledger must hold for each. */
	for (long r = 0; r < n; r++) {
		struct exp_sub *s = &subs[r];
		if (s->leaf < 0) {
			fprintf(stderr, "bevis export: submission %lld has no ledger "
			    "leaf: run bevis verify\n", (long long)s->id);
			rc = -1;
		} else if (s->redacted && s->red_leaf < 0) {
			fprintf(stderr, "bevis export: the redaction of submission "
			    "%lld has no ledger leaf: run bevis verify\n",
			    (long long)s->id);
			rc = -1;
		} else if (s->body_null && !s->redacted) {
			fprintf(stderr, "bevis export: submission %lld: the body is "
			    "gone and no redaction is recorded: run bevis verify\n",
			    (long long)s->id);
			rc = -1;
		}
	}
	return rc;
}

/* Writes one submission's files; counts its rows. */
static int
write_sub(PGconn *conn, const char *dir, struct exp_sub *s)
{
	char path[4200], err[4400], idstr[24];
	struct buf b = BUF_INIT;
	const char *why;
	int rc = -1;

	snprintf(idstr, sizeof(idstr), "%lld", (long long)s->id);
	if (!s->redacted) {
		const char *params[1] = { idstr };
		PGresult *res = PQexecParams(conn, "SELECT body FROM submission "
		    "WHERE id = $1::bigint", 1, NULL, params, NULL, NULL, 1);
		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
		    PQgetisnull(res, 0, 0)) {
			fprintf(stderr, "bevis export: submission %s: cannot read "
			    "the body: %s", idstr, PQerrorMessage(conn));
			PQclear(res);
			return -1;
		}
		snprintf(path, sizeof(path), "%s/bodies/%s.bin", dir, idstr);
		int w = file_write_new(path, PQgetvalue(res, 0, 0),
		    (size_t)PQgetlength(res, 0, 0), MODE_PERSONAL, err, sizeof(err));
		PQclear(res);
		if (w < 0) {
			fprintf(stderr, "bevis export: %s\n", err);
			return -1;
		}
	}
	char *q = xasprintf("SELECT " LEDGER_EVENT_COLUMNS " FROM event WHERE "
	    "submission_id = %lld ORDER BY item_no", (long long)s->id);
	int ok = copy_out(conn, q, &b) == 0;
	free(q);
	if (!ok)
		goto out;
	if ((s->events = pgcopy_walk(b.data, b.len, LEDGER_EVENT_NCOLS, NULL,
	    NULL, &why)) < 0) {
		fprintf(stderr, "bevis export: submission %s: events: %s\n",
		    idstr, why);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/events/%s.copy", dir, idstr);
	if (file_write_new(path, b.data, b.len, MODE_PERSONAL, err, sizeof(err)) < 0) {
		fprintf(stderr, "bevis export: %s\n", err);
		goto out;
	}
	q = xasprintf("SELECT " LEDGER_QUARANTINE_COLUMNS " FROM quarantine "
	    "WHERE submission_id = %lld ORDER BY item_no", (long long)s->id);
	ok = copy_out(conn, q, &b) == 0;
	free(q);
	if (!ok)
		goto out;
	if ((s->quarantined = pgcopy_walk(b.data, b.len, 5, NULL, NULL,
	    &why)) < 0) {
		fprintf(stderr, "bevis export: submission %s: quarantine: %s\n",
		    idstr, why);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/quarantine/%s.copy", dir, idstr);
	if (file_write_new(path, b.data, b.len, MODE_PERSONAL, err, sizeof(err)) < 0) {
		fprintf(stderr, "bevis export: %s\n", err);
		goto out;
	}
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

static int
parse_id(const char *arg, int64_t *out)
{
	char err[160];
	long long v;

	if (numarg_parse(arg, 1, INT64_MAX, &v, err, sizeof(err)) < 0) {
		fprintf(stderr, "bevis export: --submission must be a submission "
		    "id: %s\n", err);
		return -1;
	}
	*out = v;
	return 0;
}

/* One export, phase by phase. */
struct export {
	const char *since, *until, *dir;	/* the options */
	int64_t *ids;
	size_t nids;
	int dir_exists;
	PGconn *conn;				/* in one read-only snapshot */
	struct exp_sub *subs;
	long nsubs, redacted;
	long long head;				/* the signed tree head's size */
	unsigned char root[32];
	char *origin;
	struct buf checkpoint;			/* its note, byte for byte */
	struct buf manifest;
	int incident;				/* --incident: bundle_incident.c */
	struct inc_export inc;
};

/* Returns 0, or 2 after a usage message. */
static int
export_options(struct cli *cli, struct export *x, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "submission", required_argument, NULL, 's' },
		{ "since", required_argument, NULL, 'S' },
		{ "until", required_argument, NULL, 'U' },
		{ "out", required_argument, NULL, 'o' },
		{ "incident", required_argument, NULL, 'i' },
		{ "reason", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	int ch;

	x->ids = xcalloc((size_t)argc + 1, sizeof(int64_t));
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		switch (ch) {
		case 's': {
			int64_t id;
			if (parse_id(optarg, &id) < 0)
				return export_usage();
			int dup = 0;
			for (size_t i = 0; i < x->nids; i++)
				dup |= x->ids[i] == id;
			if (!dup)
				x->ids[x->nids++] = id;
			break;
		}
		case 'S': x->since = optarg; break;
		case 'U': x->until = optarg; break;
		case 'o': x->dir = optarg; break;
		case 'i': x->inc.ref_arg = optarg; x->incident = 1; break;
		case 'r': x->inc.reason = optarg; break;
		default: return export_usage();
		}
	}
	if (optind != argc || x->dir == NULL || *x->dir == '\0' ||
	    (x->incident ? x->nids > 0 || x->since || x->until :
	    (x->nids > 0) == (x->since != NULL || x->until != NULL)))
		return export_usage();
	if (x->incident && (x->inc.reason == NULL ||
	    x->inc.reason[strspn(x->inc.reason, " \t\r\n")] == '\0')) {
		fprintf(stderr, "bevis export: --incident needs --reason TEXT: say "
		    "why the evidence leaves the database (the export is recorded "
		    "as custody, with the reason, in the ledger)\n");
		return 2;
	}
	if (!x->incident && x->inc.reason) {
		fprintf(stderr, "bevis export: --reason goes with --incident\n");
		return 2;
	}
	if (strlen(x->dir) > 4000) {
		fprintf(stderr, "bevis export: the directory's name is too long\n");
		return 2;
	}
	return 0;
}

/* Connects and reads the selected submissions, in one snapshot; bare times
 * in UTC; text as UTF-8, the encoding the ledger's digests were made over. */
static int
export_select(struct cli *cli, struct export *x)
{
	x->conn = cli_connect(cli);
	if (cli_exec("export", x->conn, "SET client_encoding = 'UTF8'",
	    PGRES_COMMAND_OK) < 0 ||
	    cli_exec("export", x->conn, "SET TimeZone = 'UTC'",
	    PGRES_COMMAND_OK) < 0 ||
	    cli_exec("export", x->conn, "BEGIN ISOLATION LEVEL REPEATABLE READ "
	    "READ ONLY", PGRES_COMMAND_OK) < 0)
		return -1;
	if (x->incident) {
		free(x->ids);
		x->ids = NULL;
		if (incident_export_select(x->conn, &x->inc, &x->ids, &x->nids) < 0)
			return -1;
		if (x->nids == 0) {
			x->subs = xcalloc(1, sizeof(*x->subs));
			return 0;
		}
	}
	if (select_subs(x->conn, x->ids, x->nids, x->since, x->until, &x->subs,
	    &x->nsubs) < 0)
		return -1;
	if (x->nsubs == 0) {
		fprintf(stderr, "bevis export: no submission was received in "
		    "[%s, %s): nothing to export\n", x->since ? x->since :
		    "-infinity", x->until ? x->until : "infinity");
		return -1;
	}
	return 0;
}

/* The newest signed tree head; it must hold every exported leaf and agree
 * with its own checkpoint text. */
static int
export_head(struct export *x)
{
	unsigned char cp_root[32];
	uint64_t cp_size;
	int64_t maxleaf = -1;
	char err[300];

	for (long i = 0; i < x->nsubs; i++) {
		if (x->subs[i].leaf > maxleaf)
			maxleaf = x->subs[i].leaf;
		if (x->subs[i].redacted && x->subs[i].red_leaf > maxleaf)
			maxleaf = x->subs[i].red_leaf;
	}
	if (x->incident && incident_export_maxleaf(&x->inc) > maxleaf)
		maxleaf = incident_export_maxleaf(&x->inc);
	PGresult *res = PQexec(x->conn, "SELECT tree_size, encode(root, 'hex'), "
	    "checkpoint FROM tree_head ORDER BY tree_size DESC LIMIT 1");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "bevis export: %s", PQerrorMessage(x->conn));
		PQclear(res);
		return -1;
	}
	x->head = PQntuples(res) ? atoll(PQgetvalue(res, 0, 0)) : 0;
	if (PQntuples(res) == 0 || x->head <= maxleaf) {
		fprintf(stderr, "bevis export: no signed tree head covers leaf %lld "
		    "yet; try again in a second (bevisd signs one at most every "
		    "checkpoint_interval seconds; %s)\n", (long long)maxleaf,
		    PQntuples(res) ? "the newest holds fewer leaves" :
		    "there is none yet");
		PQclear(res);
		return -1;
	}
	buf_puts(&x->checkpoint, PQgetvalue(res, 0, 2));
	int bad = hex_decode(PQgetvalue(res, 0, 1),
	    (size_t)PQgetlength(res, 0, 1), x->root, 32) < 0 ||
	    checkpoint_parse_unverified((const char *)x->checkpoint.data,
	    x->checkpoint.len, &x->origin, &cp_size, cp_root, err,
	    sizeof(err)) < 0 ||
	    cp_size != (uint64_t)x->head || memcmp(cp_root, x->root, 32) != 0;
	PQclear(res);
	if (bad) {
		fprintf(stderr, "bevis export: the tree head of size %lld does not "
		    "match its own checkpoint text: run bevis verify\n", x->head);
		return -1;
	}
	return 0;
}

/* Every proof, checked, before anything is written. */
static int
export_prove(struct export *x)
{
	for (long i = 0; i < x->nsubs; i++) {
		struct exp_sub *s = &x->subs[i];
		if (export_prove_leaf(x->conn, s->leaf, &s->leaf_data,
		    (uint64_t)x->head, x->root, &s->proof) < 0 ||
		    (s->redacted && export_prove_leaf(x->conn,
		    s->red_leaf, &s->red_data, (uint64_t)x->head, x->root,
		    &s->red_proof) < 0))
			return -1;
		x->redacted += s->redacted;
	}
	if (x->incident && incident_export_prove(x->conn, &x->inc,
	    (uint64_t)x->head, x->root) < 0)
		return -1;
	return 0;
}

static int
export_mkdirs(const struct export *x)
{
	static const char *const subdirs[] = { "bodies", "events", "quarantine" };
	char path[4200];

	if (!x->dir_exists && mkdir(x->dir, MODE_DIR) < 0) {
		fprintf(stderr, "bevis export: %s: %s\n", x->dir, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", x->dir, subdirs[i]);
		if (mkdir(path, MODE_DIR) < 0) {
			fprintf(stderr, "bevis export: %s: %s\n", path,
			    strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* The manifest's head: the tree head, when, and what was asked for. */
static void
manifest_head(struct export *x)
{
	struct buf *j = &x->manifest;
	char hex[65], t[64];

	rfc3339_format((int64_t)time(NULL) * 1000000, t);
	buf_printf(j, "{\n  \"format\": \"" BUNDLE_FORMAT "\",\n  \"origin\": ");
	manifest_str(j, x->origin);
	hex_encode(x->root, 32, hex);
	buf_printf(j, ",\n  \"tree_size\": %lld,\n  \"root\": \"%s\",\n"
	    "  \"checkpoint\": \"" CHECKPOINT "\",\n  \"exported_at\": \"%s\",\n"
	    "  \"selection\": ", x->head, hex, t);
	if (x->incident) {
		buf_puts(j, "{\"incident\": ");
		manifest_str(j, x->inc.parts[0].ref);
		buf_puts(j, "}");
	} else if (x->nids) {
		buf_puts(j, "{\"submissions\": [");
		for (size_t i = 0; i < x->nids; i++)
			buf_printf(j, "%s%lld", i ? ", " : "", (long long)x->ids[i]);
		buf_puts(j, "]}");
	} else {
		buf_puts(j, "{\"since\": ");
		manifest_str(j, x->since);
		buf_puts(j, ", \"until\": ");
		manifest_str(j, x->until);
		buf_puts(j, "}");
	}
	buf_puts(j, ",\n  \"submissions\": [\n");
}

/* Each submission's files, then (the snapshot done) the checkpoint and the
 * manifest last: a bundle with a manifest is complete. */
static int
export_write(struct export *x)
{
	char path[4200], err[4400];

	manifest_head(x);
	for (long i = 0; i < x->nsubs; i++) {
		if (write_sub(x->conn, x->dir, &x->subs[i]) < 0) {
			fprintf(stderr, "bevis export: %s is incomplete (it has no "
			    MANIFEST "): remove it\n", x->dir);
			return -1;
		}
		manifest_sub(&x->manifest, &x->subs[i], i + 1 == x->nsubs);
	}
	buf_puts(&x->manifest, "  ]");
	if (x->incident && incident_export_write(&x->inc, x->dir,
	    &x->manifest) < 0) {
		fprintf(stderr, "bevis export: %s is incomplete (it has no "
		    MANIFEST "): remove it\n", x->dir);
		return -1;
	}
	buf_puts(&x->manifest, "\n}\n");
	(void)cli_exec("export", x->conn, "COMMIT", PGRES_COMMAND_OK);
	PQfinish(x->conn);
	x->conn = NULL;

	snprintf(path, sizeof(path), "%s/" CHECKPOINT, x->dir);
	if (file_write_new(path, x->checkpoint.data, x->checkpoint.len,
	    MODE_PUBLIC, err, sizeof(err)) < 0) {
		fprintf(stderr, "bevis export: %s\n", err);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/" MANIFEST, x->dir);
	if (file_write_new(path, x->manifest.data, x->manifest.len, MODE_PUBLIC,
	    err, sizeof(err)) < 0) {
		fprintf(stderr, "bevis export: %s\n", err);
		return -1;
	}
	return 0;
}

/* What verify-bundle will check, less the signature (export need not hold
 * the public key): read back from the files just written. */
static int
export_self_check(const struct export *x)
{
	struct bundle c;
	long problems;

	memset(&c, 0, sizeof(c));
	c.prog = "bevis export";
	c.dir = x->dir;
	problems = bundle_check(&c, NULL, NULL);
	bundle_free(&c);
	if (problems > 0) {
		fprintf(stderr, "bevis export: the bundle in %s does not check out "
		    "against its own ledger leaves; do not use it, and run bevis "
		    "verify\n", x->dir);
		return -1;
	}
	return 0;
}

static void
export_free(struct export *x)
{
	if (x->conn)
		PQfinish(x->conn);
	for (long i = 0; x->subs && i < x->nsubs; i++)
		exp_sub_free(&x->subs[i]);
	free(x->subs);
	free(x->ids);
	free(x->origin);
	buf_free(&x->manifest);
	buf_free(&x->checkpoint);
	incident_export_free(&x->inc);
}

int
cmd_export(struct cli *cli, int argc, char **argv)
{
	struct export x;
	int rc;

	memset(&x, 0, sizeof(x));
	if ((rc = export_options(cli, &x, argc, argv)) != 0) {
		export_free(&x);
		return rc;
	}
	rc = 1;
	if ((x.dir_exists = out_dir_state(x.dir)) < 0 ||
	    export_select(cli, &x) < 0 ||
	    export_head(&x) < 0 ||
	    export_prove(&x) < 0 ||
	    export_mkdirs(&x) < 0 ||
	    export_write(&x) < 0 ||
	    export_self_check(&x) < 0 ||
	    (x.incident && incident_export_record(cli, &x.inc, x.dir,
	    x.dir_exists, x.head, &x.manifest, x.ids, x.nids) < 0))
		goto out;
	if (x.incident)
		printf("exported %s: %zu incident%s, %ld decision%s, %ld link "
		    "row%s\n", x.inc.parts[0].ref, x.inc.nparts,
		    x.inc.nparts == 1 ? "" : "s", x.inc.decisions,
		    x.inc.decisions == 1 ? "" : "s", x.inc.links,
		    x.inc.links == 1 ? "" : "s");
	printf("exported %ld submission%s (%ld redacted) to %s, with inclusion "
	    "proofs against the signed tree head of size %lld\n"
	    "check it with: bevis verify-bundle %s --key ledger.pub\n", x.nsubs,
	    x.nsubs == 1 ? "" : "s", x.redacted, x.dir, x.head, x.dir);
	rc = 0;
out:
	export_free(&x);
	return rc;
}
