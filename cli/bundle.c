/* bundle.c - bevis verify-bundle, and the check of a bundle that export
 * also runs on what it wrote (docs/LEDGER.md, "Offline bundles"). A bundle
 * needs no database to check: only its files and the ledger's public key,
 * which the verifier names (a bundle carries none). */
#include "bundle.h"
#include "bundle_incident.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "cli.h"
#include "files.h"
#include "event.h"
#include "hex.h"
#include "keyfile.h"
#include "ledger.h"
#include "merkle.h"
#include "output.h"
#include "pgcopy.h"
#include "sha256.h"
#include "xmalloc.h"

/* ---- binary COPY files -------------------------------------------------- */

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

/* ---- checking a bundle -------------------------------------------------- */


/* Problems and the summary quote what a bundle says, so they go out
 * escaped (output.c): a bundle must not drive the terminal it is shown on. */
static void check_problem(struct bundle *c, const char *fmt, ...) PRINTF_LIKE(2, 3);

static void
check_problem(struct bundle *c, const char *fmt, ...)
{
	char line[2048];
	struct buf b = BUF_INIT;
	va_list ap;

	c->problems++;
	if (c->problems > MAX_PROBLEMS)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	buf_printf(&b, "%s: ", c->prog);
	out_escape_text(&b, line, strlen(line));
	buf_putc(&b, '\n');
	fwrite(b.data, 1, b.len, stderr);
	buf_free(&b);
}

static json_object *
jget(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* The string member key of o, or NULL (a problem) when it is not one. */
static const char *
jstr(struct bundle *c, const char *what, json_object *o, const char *key,
    size_t *len)
{
	json_object *v = jget(o, key);

	if (v == NULL || !json_object_is_type(v, json_type_string)) {
		check_problem(c, MANIFEST ": %s: '%s' is missing or not a string",
		    what, key);
		return NULL;
	}
	if (len)
		*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

static int
jint(struct bundle *c, const char *what, json_object *o, const char *key,
    int64_t *out)
{
	json_object *v = jget(o, key);

	if (v == NULL || !json_object_is_type(v, json_type_int)) {
		check_problem(c, MANIFEST ": %s: '%s' is missing or not an integer",
		    what, key);
		return -1;
	}
	errno = 0;
	*out = json_object_get_int64(v);
	if (errno) {
		check_problem(c, MANIFEST ": %s: '%s' is out of range", what, key);
		return -1;
	}
	return 0;
}

static int
jhash(struct bundle *c, const char *what, json_object *o, const char *key,
    unsigned char out[32])
{
	size_t n;
	const char *s = jstr(c, what, o, key, &n);

	if (s == NULL)
		return -1;
	if (hex_decode(s, n, out, 32) < 0) {
		check_problem(c, MANIFEST ": %s: '%s' is not 64 hex digits", what,
		    key);
		return -1;
	}
	return 0;
}

static int
same_str(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* Checks one leaf's index, data, hash and inclusion proof (the members
 * leaf_index, leaf_data, leaf_hash, inclusion_proof of o). Returns 0 with
 * the leaf data in data when it can be read. */
static int
check_leaf(struct bundle *c, const char *what, json_object *o, struct buf *data,
    int64_t *index)
{
	unsigned char path[MERKLE_MAX_PATH][MERKLE_HASH_LEN], lh[32], want[32];
	size_t n, plen = 0;
	const char *hex;
	int ok_hash;

	if (jint(c, what, o, "leaf_index", index) < 0)
		return -1;
	if ((hex = jstr(c, what, o, "leaf_data", &n)) == NULL)
		return -1;
	if (hex_decode_buf(hex, n, data) < 0) {
		check_problem(c, MANIFEST ": %s: 'leaf_data' is not hex", what);
		return -1;
	}
	merkle_leaf_hash(data->data, data->len, lh);
	ok_hash = jhash(c, what, o, "leaf_hash", want) == 0;
	if (ok_hash && memcmp(lh, want, 32) != 0)
		check_problem(c, MANIFEST ": %s: leaf_hash is not "
		    "SHA-256(0x00 || leaf_data)", what);
	json_object *proof = jget(o, "inclusion_proof");
	if (proof == NULL || !json_object_is_type(proof, json_type_array) ||
	    json_object_array_length(proof) > MERKLE_MAX_PATH) {
		check_problem(c, MANIFEST ": %s: 'inclusion_proof' is missing or "
		    "not a list of at most %d hashes", what, MERKLE_MAX_PATH);
		return 0;
	}
	plen = json_object_array_length(proof);
	for (size_t i = 0; i < plen; i++) {
		json_object *h = json_object_array_get_idx(proof, i);
		if (!json_object_is_type(h, json_type_string) ||
		    hex_decode(json_object_get_string(h),
		    (size_t)json_object_get_string_len(h), path[i], 32) < 0) {
			check_problem(c, MANIFEST ": %s: inclusion_proof[%zu] is not "
			    "64 hex digits", what, i);
			return 0;
		}
	}
	if (!c->head_ok)
		return 0;
	if (*index < 0 || (uint64_t)*index >= c->size)
		check_problem(c, MANIFEST ": %s: leaf %lld is not in the tree of "
		    CHECKPOINT " (size %llu)", what, (long long)*index,
		    (unsigned long long)c->size);
	else if (merkle_verify_inclusion(lh, (uint64_t)*index, c->size, path, plen,
	    c->root) != 0)
		check_problem(c, MANIFEST ": %s: the inclusion proof of leaf %lld "
		    "does not lead to the root of " CHECKPOINT " (tree size %llu)",
		    what, (long long)*index, (unsigned long long)c->size);
	return 0;
}

/* A readable string field of the manifest against the leaf's. */
static void
agree_str(struct bundle *c, const char *what, json_object *o, const char *key,
    const char *leaf, size_t leaflen, long long leaf_index)
{
	size_t n;
	const char *s = jstr(c, what, o, key, &n);

	if (s && !same_str(s, n, leaf, leaflen))
		check_problem(c, MANIFEST ": %s: %s '%s' is not the one in leaf %lld "
		    "('%s')", what, key, s, leaf_index, leaf);
}

/* The same for a string the manifest gives as null when the leaf's is
 * empty. */
static void
agree_opt_str(struct bundle *c, const char *what, json_object *o,
    const char *key, const char *leaf, size_t leaflen, long long leaf_index)
{
	json_object *v = NULL;
	/* json-c gives JSON null as a NULL object. */
	int present = json_object_object_get_ex(o, key, &v);

	if (present && v == NULL) {
		if (leaflen != 0)
			check_problem(c, MANIFEST ": %s: %s null is not the one in "
			    "leaf %lld ('%s')", what, key, leaf_index, leaf);
	} else if (v != NULL && json_object_is_type(v, json_type_string) &&
	    json_object_get_string_len(v) == 0) {
		check_problem(c, MANIFEST ": %s: %s is \"\", not null", what, key);
	} else {
		agree_str(c, what, o, key, leaf, leaflen, leaf_index);
	}
}

static void
agree_int(struct bundle *c, const char *what, json_object *o, const char *key,
    int64_t leaf, long long leaf_index)
{
	int64_t v;

	if (jint(c, what, o, key, &v) == 0 && v != leaf)
		check_problem(c, MANIFEST ": %s: %s %lld is not the one in leaf %lld "
		    "(%lld)", what, key, (long long)v, leaf_index, (long long)leaf);
}

/* The redaction of a submission: its own leaf, proved like any other, must
 * name the submission and say who, when and why as the manifest does. */
static void
check_redaction(struct bundle *c, const char *what, json_object *sub, int64_t id)
{
	json_object *r = jget(sub, "redaction");
	struct buf data = BUF_INIT;
	struct ledger_redaction rl;
	char rwhat[96], at[64];
	int64_t idx;

	snprintf(rwhat, sizeof(rwhat), "%s's redaction", what);
	if (r == NULL || !json_object_is_type(r, json_type_object)) {
		check_problem(c, MANIFEST ": %s: redacted, but 'redaction' is "
		    "missing or not an object", what);
		return;
	}
	if (check_leaf(c, rwhat, r, &data, &idx) < 0) {
		buf_free(&data);
		return;
	}
	if (ledger_decode_redaction(data.data, data.len, &rl) != NULL) {
		check_problem(c, MANIFEST ": %s: leaf %lld is not a redaction leaf",
		    rwhat, (long long)idx);
	} else {
		if (rl.submission_id != id)
			check_problem(c, MANIFEST ": %s: leaf %lld redacts submission "
			    "%lld", rwhat, (long long)idx, (long long)rl.submission_id);
		agree_str(c, rwhat, r, "by", rl.actor, strlen(rl.actor), idx);
		rfc3339_format(rl.at_us, at);
		agree_str(c, rwhat, r, "at", at, strlen(at), idx);
		agree_str(c, rwhat, r, "reason", rl.reason, strlen(rl.reason), idx);
		/* For the summary. */
		buf_printf(&c->info, "%s redacted by ", what);
		out_escape_text(&c->info, rl.actor, strlen(rl.actor));
		buf_printf(&c->info, " at %s: ", at);
		out_escape_text(&c->info, rl.reason, strlen(rl.reason));
		buf_putc(&c->info, '\n');
	}
	ledger_redaction_free(&rl);
	buf_free(&data);
}

/* A file the manifest names must have the one name the bundle format
 * gives it: verify-bundle never opens a path it was handed. */
static int
named(struct bundle *c, const char *what, json_object *sub, const char *key,
    const char *want)
{
	size_t n;
	const char *s = jstr(c, what, sub, key, &n);

	if (s == NULL)
		return -1;
	if (!same_str(s, n, want, strlen(want))) {
		check_problem(c, MANIFEST ": %s: %s is '%s', not '%s'", what, key,
		    s, want);
		return -1;
	}
	return 0;
}

static void
check_rows(struct bundle *c, const char *what, json_object *sub, int64_t id,
    const struct ledger_submission *l, long long idx, int redacted)
{
	char name[64], path[4200], err[256];
	struct buf b = BUF_INIT;
	const char *why;
	long n;

	/* Events. */
	snprintf(name, sizeof(name), "events/%lld.copy", (long long)id);
	if (named(c, what, sub, "events_file", name) == 0) {
		snprintf(path, sizeof(path), "%s/%s", c->dir, name);
		if (file_read_whole(path, FILE_MAX, &b, err, sizeof(err)) < 0) {
			check_problem(c, "%s: %s", name, err);
		} else {
			struct ledger_rows rows;
			unsigned char full[32], red[32];

			ledger_rows_init(&rows);
			n = pgcopy_walk(b.data, b.len, LEDGER_EVENT_NCOLS, rows_cb,
			    &rows, &why);
			ledger_rows_final(&rows, full, red);
			if (n < 0)
				check_problem(c, "%s: %s", name, why);
			else if ((uint32_t)n != l->events || n > UINT32_MAX)
				check_problem(c, "%s: %ld rows, but leaf %lld commits "
				    "to %u", name, n, idx, l->events);
			else if (memcmp(redacted ? red : full, redacted ?
			    l->events_redacted_sha256 : l->events_sha256, 32) != 0)
				check_problem(c, "%s: the rows do not match the %s "
				    "digest in leaf %lld", name, redacted ?
				    "redacted event rows" : "event rows", idx);
		}
	}
	/* Quarantine. */
	snprintf(name, sizeof(name), "quarantine/%lld.copy", (long long)id);
	if (named(c, what, sub, "quarantine_file", name) == 0) {
		snprintf(path, sizeof(path), "%s/%s", c->dir, name);
		if (file_read_whole(path, FILE_MAX, &b, err, sizeof(err)) < 0) {
			check_problem(c, "%s: %s", name, err);
		} else {
			EVP_MD_CTX *md = EVP_MD_CTX_new();
			unsigned char d[32];

			if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(),
			    NULL) != 1)
				fatalx("EVP_DigestInit sha256 failed");
			n = pgcopy_walk(b.data, b.len, 5, digest_cb, md, &why);
			EVP_DigestFinal_ex(md, d, NULL);
			EVP_MD_CTX_free(md);
			if (n < 0)
				check_problem(c, "%s: %s", name, why);
			else if ((uint32_t)n != l->quarantined || n > UINT32_MAX)
				check_problem(c, "%s: %ld rows, but leaf %lld commits "
				    "to %u", name, n, idx, l->quarantined);
			else if (memcmp(d, l->quarantine_sha256, 32) != 0)
				check_problem(c, "%s: the rows do not match the "
				    "quarantine rows digest in leaf %lld", name, idx);
		}
	}
	buf_free(&b);
}

static void
check_body(struct bundle *c, const char *what, json_object *sub, int64_t id,
    const struct ledger_submission *l, long long idx, int redacted)
{
	char name[64], path[4200], err[256];
	struct buf b = BUF_INIT;
	json_object *body = jget(sub, "body");
	struct stat st;

	snprintf(name, sizeof(name), "bodies/%lld.bin", (long long)id);
	snprintf(path, sizeof(path), "%s/%s", c->dir, name);
	if (redacted) {
		if (body != NULL && !json_object_is_type(body, json_type_null))
			check_problem(c, MANIFEST ": %s: redacted, but 'body' is "
			    "not null", what);
		if (lstat(path, &st) == 0)
			check_problem(c, "%s: present, but submission %lld was "
			    "redacted", name, (long long)id);
		return;
	}
	if (named(c, what, sub, "body", name) < 0)
		return;
	if (file_read_whole(path, FILE_MAX, &b, err, sizeof(err)) < 0) {
		check_problem(c, "%s: %s", name, err);
	} else {
		unsigned char d[32];

		sha256(b.data, b.len, d);
		if (memcmp(d, l->body_sha256, 32) != 0)
			check_problem(c, "%s: its SHA-256 is not the body SHA-256 "
			    "in leaf %lld", name, idx);
	}
	buf_free(&b);
}

static void
check_submission(struct bundle *c, json_object *sub, size_t pos)
{
	char what[64], t[64];
	struct buf data = BUF_INIT;
	struct ledger_submission l;
	int64_t id, idx;
	int redacted = 0;
	json_object *r;
	unsigned char d[32];

	memset(&l, 0, sizeof(l));
	snprintf(what, sizeof(what), "submissions[%zu]", pos);
	if (!json_object_is_type(sub, json_type_object)) {
		check_problem(c, MANIFEST ": %s is not an object", what);
		return;
	}
	if (jint(c, what, sub, "id", &id) < 0)
		return;
	snprintf(what, sizeof(what), "submission %lld", (long long)id);
	for (size_t i = 0; i < c->nids; i++)
		if (c->ids[i] == id) {
			check_problem(c, MANIFEST ": %s is listed twice", what);
			return;
		}
	c->ids[c->nids++] = id;
	c->submissions++;
	r = jget(sub, "redacted");
	if (r == NULL || !json_object_is_type(r, json_type_boolean))
		check_problem(c, MANIFEST ": %s: 'redacted' is missing or not "
		    "true or false", what);
	else
		redacted = json_object_get_boolean(r);
	if (!redacted)
		c->body_ids[c->nbody_ids++] = id;
	if (check_leaf(c, what, sub, &data, &idx) < 0)
		goto out;
	if (ledger_decode_submission(data.data, data.len, &l) != NULL) {
		check_problem(c, MANIFEST ": %s: leaf %lld is not a submission "
		    "leaf", what, (long long)idx);
		goto out;
	}
	if (l.submission_id != id)
		check_problem(c, MANIFEST ": %s: leaf %lld is that of submission "
		    "%lld", what, (long long)idx, (long long)l.submission_id);
	/* The readable fields, each against the leaf. */
	agree_opt_str(c, what, sub, "supplier", l.supplier, strlen(l.supplier),
	    idx);
	agree_opt_str(c, what, sub, "key_fingerprint", l.key_fingerprint,
	    strlen(l.key_fingerprint), idx);
	agree_str(c, what, sub, "request_id", l.request_id, strlen(l.request_id),
	    idx);
	rfc3339_format(l.received_us, t);
	agree_str(c, what, sub, "received_at", t, strlen(t), idx);
	agree_str(c, what, sub, "content_type", l.content_type,
	    strlen(l.content_type), idx);
	agree_int(c, what, sub, "items", l.item_count, idx);
	agree_int(c, what, sub, "events", l.events, idx);
	agree_int(c, what, sub, "quarantined", l.quarantined, idx);
	if (jhash(c, what, sub, "body_sha256", d) == 0 &&
	    memcmp(d, l.body_sha256, 32) != 0)
		check_problem(c, MANIFEST ": %s: body_sha256 is not the one in "
		    "leaf %lld", what, (long long)idx);

	if (redacted) {
		c->redacted++;
		check_redaction(c, what, sub, id);
	} else {
		json_object *ro = jget(sub, "redaction");
		if (ro != NULL && !json_object_is_type(ro, json_type_null))
			check_problem(c, MANIFEST ": %s: not redacted, but has a "
			    "'redaction'", what);
	}
	check_body(c, what, sub, id, &l, idx, redacted);
	check_rows(c, what, sub, id, &l, idx, redacted);
out:
	ledger_submission_free(&l);
	buf_free(&data);
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Every file in bodies/, events/ and quarantine/ must be one the manifest
 * names: nothing unchecked sits among the evidence. */
static void
scan_dir(struct bundle *c, const char *sub, const char *ext, const int64_t *ids,
    size_t nids)
{
	char path[4200];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", c->dir, sub);
	if ((d = opendir(path)) == NULL) {
		if (errno != ENOENT || nids > 0)
			check_problem(c, "%s/: %s", sub, strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		const char *nm = de->d_name;
		char *end;
		int ok = 0;

		if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0)
			continue;
		if (nm[0] >= '1' && nm[0] <= '9') {
			errno = 0;
			long long id = strtoll(nm, &end, 10);
			int64_t key = id;
			ok = errno == 0 && strcmp(end, ext) == 0 &&
			    bsearch(&key, ids, nids, sizeof(*ids), cmp_i64) != NULL;
		}
		if (!ok)
			check_problem(c, "%s/%s: not named in " MANIFEST, sub, nm);
	}
	closedir(d);
}

static int
load_checkpoint(struct bundle *c, const struct checkpoint_verifier *key,
    const char *keypath)
{
	char path[4200], err[300];
	struct buf b = BUF_INIT;

	snprintf(path, sizeof(path), "%s/" CHECKPOINT, c->dir);
	if (file_read_whole(path, FILE_MAX, &b, err, sizeof(err)) < 0) {
		check_problem(c, CHECKPOINT ": %s", err);
		buf_free(&b);
		return -1;
	}
	if (key) {
		if (checkpoint_parse_verify((const char *)b.data, b.len, key,
		    &c->origin, &c->size, c->root, err, sizeof(err)) < 0) {
			check_problem(c, CHECKPOINT ": not a checkpoint signed by "
			    "the key in %s: %s", keypath, err);
			buf_free(&b);
			return -1;
		}
		if (strcmp(c->origin, key->name) != 0) {
			check_problem(c, CHECKPOINT ": signed for the log '%s', "
			    "not '%s'", c->origin, key->name);
			buf_free(&b);
			return -1;
		}
	} else if (checkpoint_parse_unverified((const char *)b.data, b.len,
	    &c->origin, &c->size, c->root, err, sizeof(err)) < 0) {
		check_problem(c, CHECKPOINT ": not a checkpoint");
		buf_free(&b);
		return -1;
	}
	buf_free(&b);
	return 0;
}

/* Checks the bundle in dir: with key, the checkpoint's signature too.
 * Returns the number of problems, each already printed. */
long
bundle_check(struct bundle *c, const struct checkpoint_verifier *key,
    const char *keypath)
{
	char path[4200], err[300], hex[65];
	struct buf b = BUF_INIT;
	json_object *m = NULL;
	int cp_ok;

	cp_ok = load_checkpoint(c, key, keypath) == 0;
	snprintf(path, sizeof(path), "%s/" MANIFEST, c->dir);
	if (file_read_whole(path, FILE_MAX, &b, err, sizeof(err)) < 0) {
		check_problem(c, MANIFEST ": %s", err);
		goto out;
	}
	struct json_tokener *tok = json_tokener_new();
	m = json_tokener_parse_ex(tok, (const char *)b.data, (int)b.len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t end = jerr == json_tokener_success ?
	    json_tokener_get_parse_end(tok) : 0;
	json_tokener_free(tok);
	if (m == NULL || jerr != json_tokener_success ||
	    strspn((const char *)b.data + end, " \t\r\n") != b.len - end) {
		check_problem(c, MANIFEST ": not valid JSON%s%s", jerr !=
		    json_tokener_success ? ": " : "", jerr == json_tokener_success ?
		    "" : jerr == json_tokener_continue ? "it is cut short" :
		    json_tokener_error_desc(jerr));
		goto out;
	}
	if (!json_object_is_type(m, json_type_object)) {
		check_problem(c, MANIFEST ": not a JSON object");
		goto out;
	}
	size_t n;
	const char *s = jstr(c, "the bundle", m, "format", &n);
	if (s == NULL)
		goto out;
	if (!same_str(s, n, BUNDLE_FORMAT, strlen(BUNDLE_FORMAT))) {
		check_problem(c, MANIFEST ": format '%s' is not " BUNDLE_FORMAT, s);
		goto out;
	}
	/* The tree head the manifest names must be the signed one. */
	int64_t ts;
	unsigned char root[32];
	const char *origin = jstr(c, "the bundle", m, "origin", &n);
	int head_read = jint(c, "the bundle", m, "tree_size", &ts) == 0;
	head_read &= jhash(c, "the bundle", m, "root", root) == 0;
	if (cp_ok && origin && !same_str(origin, n, c->origin, strlen(c->origin)))
		check_problem(c, MANIFEST ": origin '%s' is not that of "
		    CHECKPOINT " ('%s')", origin, c->origin);
	else if (cp_ok && head_read && ((uint64_t)ts != c->size ||
	    memcmp(root, c->root, 32) != 0)) {
		hex_encode(c->root, 32, hex);
		check_problem(c, MANIFEST ": tree size %lld and its root are not "
		    "those of " CHECKPOINT " (size %llu, root %s)", (long long)ts,
		    (unsigned long long)c->size, hex);
	} else if (cp_ok && origin && head_read)
		c->head_ok = 1;
	/* Without a head both agree on, no proof can be checked: each would
	 * only repeat that problem. */

	json_object *subs = jget(m, "submissions");
	/* An incident's bundle may hold decisions and no submission. */
	if (subs == NULL || !json_object_is_type(subs, json_type_array) ||
	    (json_object_array_length(subs) == 0 && jget(m, "incidents") == NULL)) {
		check_problem(c, MANIFEST ": 'submissions' is missing or empty");
		goto out;
	}
	size_t count = json_object_array_length(subs);
	c->ids = xcalloc(count, sizeof(int64_t));
	c->body_ids = xcalloc(count, sizeof(int64_t));
	for (size_t i = 0; i < count; i++)
		check_submission(c, json_object_array_get_idx(subs, i), i);
	qsort(c->ids, c->nids, sizeof(int64_t), cmp_i64);
	qsort(c->body_ids, c->nbody_ids, sizeof(int64_t), cmp_i64);
	scan_dir(c, "bodies", ".bin", c->body_ids, c->nbody_ids);
	scan_dir(c, "events", ".copy", c->ids, c->nids);
	scan_dir(c, "quarantine", ".copy", c->ids, c->nids);
	bundle_check_incidents(c, m);
out:
	if (m)
		json_object_put(m);
	buf_free(&b);
	return c->problems;
}

/* For bundle_incident.c. */
void
bundle_problem(struct bundle *c, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	check_problem(c, "%s", line);
}

int
bundle_leaf(struct bundle *c, const char *what, json_object *o,
    struct buf *data, int64_t *index)
{
	return check_leaf(c, what, o, data, index);
}

void
bundle_free(struct bundle *c)
{
	free(c->origin);
	free(c->ids);
	free(c->body_ids);
	buf_free(&c->info);
}

/* ---- bevis verify-bundle ------------------------------------------------ */

int
cmd_verify_bundle(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "key", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	struct checkpoint_verifier key;
	struct bundle c;
	const char *keypath = NULL;
	char err[300];
	int ch;

	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		if (ch == 'k')
			keypath = optarg;
		else
			goto usage;
	}
	if (optind + 1 != argc)
		goto usage;
	struct stat st;
	if (stat(argv[optind], &st) < 0) {
		fprintf(stderr, "bevis verify-bundle: %s: %s\n", argv[optind],
		    strerror(errno));
		return 2;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "bevis verify-bundle: %s is not a directory\n",
		    argv[optind]);
		return 2;
	}
	if (strlen(argv[optind]) > 4000) {
		fprintf(stderr, "bevis verify-bundle: the directory's name is too "
		    "long\n");
		return 2;
	}
	/* Next to the signing key the config names, as ledger.pub. */
	keypath = cli_ledger_pubkey(cli, keypath);
	if (keypath == NULL) {
		fprintf(stderr, "bevis verify-bundle: name the ledger public key "
		    "you trust with --key FILE (ledger.pub from bevis keygen "
		    "--ledger); a bundle carries no key of its own\n");
		return 2;
	}
	if (keyfile_read_verifier(keypath, &key, err, sizeof(err)) < 0) {
		fprintf(stderr, "bevis verify-bundle: %s\n", err);
		return 2;
	}
	memset(&c, 0, sizeof(c));
	c.prog = "bevis verify-bundle";
	c.dir = argv[optind];
	if (bundle_check(&c, &key, keypath) > 0) {
		if (c.problems > MAX_PROBLEMS)
			fprintf(stderr, "bevis verify-bundle: ... %ld problems in "
			    "all\n", c.problems);
		printf("FAILED: %ld problem%s in the bundle %s\n", c.problems,
		    c.problems == 1 ? "" : "s", c.dir);
		bundle_free(&c);
		return 1;
	}
	if (c.info.len)
		fwrite(c.info.data, 1, c.info.len, stdout);
	if (c.incidents)
		printf("incidents verified: %ld, with %ld decision%s and their "
		    "links\n", c.incidents, c.decisions, c.decisions == 1 ? "" :
		    "s");
	printf("bundle verified: %ld submission%s (%ld redacted), tree size %llu, "
	    "checkpoint signed by %s\n", c.submissions, c.submissions == 1 ? "" :
	    "s", c.redacted, (unsigned long long)c.size, key.name);
	bundle_free(&c);
	return 0;
usage:
	return cli_usage("verify-bundle", stderr);
}
