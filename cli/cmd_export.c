/* cmd_export.c - bevis export and bevis verify-bundle: offline evidence
 * bundles (docs/LEDGER.md, "Offline bundles").
 *
 * export reads chosen submissions in one read-only snapshot and writes
 *   checkpoint.txt             the newest signed tree head, byte for byte
 *   bodies/<id>.bin            each raw body (none for a redacted one)
 *   events/<id>.copy           its event rows, a complete binary COPY file
 *   quarantine/<id>.copy       its quarantine rows, likewise
 *   manifest.json              what is where, each leaf's data and its
 *                              inclusion proof against the checkpoint
 * and then checks what it wrote exactly as verify-bundle does, less the
 * signature. verify-bundle needs no database: only the bundle and the
 * ledger's public key, which the verifier names (a bundle carries none). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "buf.h"
#include "checkpoint.h"
#include "cli.h"
#include "hex.h"
#include "keyfile.h"
#include "ledger.h"
#include "ledgerdb.h"
#include "merkle.h"
#include "pgcopy.h"
#include "sha256.h"
#include "xmalloc.h"

#define BUNDLE_FORMAT	"bevis-bundle/1"
#define MANIFEST	"manifest.json"
#define CHECKPOINT	"checkpoint.txt"
/* manifest.json and checkpoint.txt hold ids, times and digests. */
#define MODE_PUBLIC	0644
/* Bodies and event rows hold personal data (names, addresses, messages). */
#define MODE_PERSONAL	0600
#define MODE_DIR	0700
/* No file of a bundle is read beyond this. */
#define FILE_MAX	((size_t)1 << 30)
#define MAX_PROBLEMS	50

/* ---- small helpers ------------------------------------------------------ */

/* Microseconds since the Unix epoch as RFC 3339 UTC with six decimals,
 * the one form the manifest uses. */
static void
format_us(int64_t us, char *out, size_t outlen)
{
	int64_t s = us / 1000000, f = us % 1000000;
	struct tm tm;

	if (f < 0) {
		f += 1000000;
		s--;
	}
	time_t t = (time_t)s;
	if (gmtime_r(&t, &tm) == NULL) {
		snprintf(out, outlen, "(time %lld)", (long long)us);
		return;
	}
	snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (int)f);
}

/* Reads a whole regular file, at most FILE_MAX bytes. */
static int
read_whole(const char *path, struct buf *out, char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	buf_reset(out);
	if (fd < 0) {
		snprintf(err, errlen, "%s", errno == ENOENT ? "missing" :
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		close(fd);
		return -1;
	}
	for (;;) {
		buf_reserve(out, 65536);
		n = read(fd, out->data + out->len, 65536);
		if (n <= 0)
			break;
		out->len += (size_t)n;
		if (out->len > FILE_MAX) {
			snprintf(err, errlen, "larger than %zu bytes", FILE_MAX);
			close(fd);
			return -1;
		}
	}
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Creates path (it must not exist) with exactly mode, whatever the umask,
 * and writes data to disk. */
static int
write_new(const char *path, const void *data, size_t len, mode_t mode,
    char *err, size_t errlen)
{
	const unsigned char *p = data;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    mode);

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fchmod(fd, mode) < 0)
		goto fail;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
fail:
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
	close(fd);
	return -1;
}

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

struct check {
	const char *prog;	/* prefix of every problem line */
	const char *dir;
	long problems;
	int head_ok;		/* a usable checkpoint, agreeing with the manifest */
	uint64_t size;
	unsigned char root[32];
	char *origin;
	long submissions, redacted;
	int64_t *ids, *body_ids;	/* what the manifest names, for the scan */
	size_t nids, nbody_ids;
	struct buf info;	/* lines about redactions, printed on success */
};

static void check_problem(struct check *c, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* Appends s with control characters as '?': what a bundle says must not
 * drive the terminal it is shown on. */
static void
put_printable(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_putc(b, (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i]);
}

static void
check_problem(struct check *c, const char *fmt, ...)
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
	put_printable(&b, line, strlen(line));
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
jstr(struct check *c, const char *what, json_object *o, const char *key,
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
jint(struct check *c, const char *what, json_object *o, const char *key,
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
jhash(struct check *c, const char *what, json_object *o, const char *key,
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
check_leaf(struct check *c, const char *what, json_object *o, struct buf *data,
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
agree_str(struct check *c, const char *what, json_object *o, const char *key,
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
agree_opt_str(struct check *c, const char *what, json_object *o,
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
agree_int(struct check *c, const char *what, json_object *o, const char *key,
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
check_redaction(struct check *c, const char *what, json_object *sub, int64_t id)
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
		format_us(rl.at_us, at, sizeof(at));
		agree_str(c, rwhat, r, "at", at, strlen(at), idx);
		agree_str(c, rwhat, r, "reason", rl.reason, strlen(rl.reason), idx);
		/* For the summary. */
		buf_printf(&c->info, "%s redacted by ", what);
		put_printable(&c->info, rl.actor, strlen(rl.actor));
		buf_printf(&c->info, " at %s: ", at);
		put_printable(&c->info, rl.reason, strlen(rl.reason));
		buf_putc(&c->info, '\n');
	}
	ledger_redaction_free(&rl);
	buf_free(&data);
}

/* A file the manifest names must have the one name the bundle format
 * gives it: verify-bundle never opens a path it was handed. */
static int
named(struct check *c, const char *what, json_object *sub, const char *key,
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
check_rows(struct check *c, const char *what, json_object *sub, int64_t id,
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
		if (read_whole(path, &b, err, sizeof(err)) < 0) {
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
		if (read_whole(path, &b, err, sizeof(err)) < 0) {
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
check_body(struct check *c, const char *what, json_object *sub, int64_t id,
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
	if (read_whole(path, &b, err, sizeof(err)) < 0) {
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
check_submission(struct check *c, json_object *sub, size_t pos)
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
	format_us(l.received_us, t, sizeof(t));
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
scan_dir(struct check *c, const char *sub, const char *ext, const int64_t *ids,
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
load_checkpoint(struct check *c, const struct checkpoint_verifier *key,
    const char *keypath)
{
	char path[4200], err[300];
	struct buf b = BUF_INIT;

	snprintf(path, sizeof(path), "%s/" CHECKPOINT, c->dir);
	if (read_whole(path, &b, err, sizeof(err)) < 0) {
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
static long
bundle_check(struct check *c, const struct checkpoint_verifier *key,
    const char *keypath)
{
	char path[4200], err[300], hex[65];
	struct buf b = BUF_INIT;
	json_object *m = NULL;
	int cp_ok;

	cp_ok = load_checkpoint(c, key, keypath) == 0;
	snprintf(path, sizeof(path), "%s/" MANIFEST, c->dir);
	if (read_whole(path, &b, err, sizeof(err)) < 0) {
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
	if (subs == NULL || !json_object_is_type(subs, json_type_array) ||
	    json_object_array_length(subs) == 0) {
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
out:
	if (m)
		json_object_put(m);
	buf_free(&b);
	return c->problems;
}

static void
check_free(struct check *c)
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
	struct check c;
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
		check_free(&c);
		return 1;
	}
	if (c.info.len)
		fwrite(c.info.data, 1, c.info.len, stdout);
	printf("bundle verified: %ld submission%s (%ld redacted), tree size %llu, "
	    "checkpoint signed by %s\n", c.submissions, c.submissions == 1 ? "" :
	    "s", c.redacted, (unsigned long long)c.size, key.name);
	check_free(&c);
	return 0;
usage:
	return cli_usage("verify-bundle", stderr);
}

/* ---- bevis export --------------------------------------------------------- */

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

static int
exec_ok(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
		fprintf(stderr, "bevis export: %s", PQerrorMessage(conn));
	PQclear(res);
	return ok ? 0 : -1;
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
static int
prove(PGconn *conn, int64_t leaf, const struct buf *data, uint64_t size,
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
json_proof(struct buf *j, const struct buf *proof)
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
json_str(struct buf *j, const char *s)
{
	if (s == NULL)
		buf_puts(j, "null");
	else
		buf_put_json_string(j, s, strlen(s));
}

static void
json_sub(struct buf *j, const struct exp_sub *s, int last)
{
	char t[64];

	buf_printf(j, "    {\n      \"id\": %lld,\n      \"supplier\": ",
	    (long long)s->id);
	json_str(j, s->supplier);
	buf_puts(j, ",\n      \"key_fingerprint\": ");
	json_str(j, s->key_fp);
	buf_puts(j, ",\n      \"request_id\": ");
	json_str(j, s->request_id);
	format_us(s->received_us, t, sizeof(t));
	buf_printf(j, ",\n      \"received_at\": \"%s\",\n      \"content_type\": ",
	    t);
	json_str(j, s->content_type);
	buf_printf(j, ",\n      \"leaf_index\": %lld,\n      \"leaf_data\": \"",
	    (long long)s->leaf);
	hex_append(j, s->leaf_data.data, s->leaf_data.len);
	unsigned char lh[32];
	merkle_leaf_hash(s->leaf_data.data, s->leaf_data.len, lh);
	buf_puts(j, "\",\n      \"leaf_hash\": \"");
	hex_append(j, lh, 32);
	buf_puts(j, "\",\n      \"inclusion_proof\": ");
	json_proof(j, &s->proof);
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
		json_str(j, s->red_by);
		format_us(s->red_at_us, t, sizeof(t));
		buf_printf(j, ",\n        \"at\": \"%s\",\n        \"reason\": ", t);
		json_str(j, s->red_reason);
		buf_printf(j, ",\n        \"leaf_index\": %lld,\n        "
		    "\"leaf_data\": \"", (long long)s->red_leaf);
		hex_append(j, s->red_data.data, s->red_data.len);
		merkle_leaf_hash(s->red_data.data, s->red_data.len, lh);
		buf_puts(j, "\",\n        \"leaf_hash\": \"");
		hex_append(j, lh, 32);
		buf_puts(j, "\",\n        \"inclusion_proof\": ");
		json_proof(j, &s->red_proof);
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
		int w = write_new(path, PQgetvalue(res, 0, 0),
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
	if (write_new(path, b.data, b.len, MODE_PERSONAL, err, sizeof(err)) < 0) {
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
	if (write_new(path, b.data, b.len, MODE_PERSONAL, err, sizeof(err)) < 0) {
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
	char *end;

	errno = 0;
	long long v = strtoll(arg, &end, 10);
	if (errno || end == arg || *end || v < 1) {
		fprintf(stderr, "bevis export: --submission must be a submission "
		    "id (a positive integer), not '%s'\n", arg);
		return -1;
	}
	*out = v;
	return 0;
}

int
cmd_export(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "submission", required_argument, NULL, 's' },
		{ "since", required_argument, NULL, 'S' },
		{ "until", required_argument, NULL, 'U' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	const char *since = NULL, *until = NULL, *dir = NULL;
	int64_t *ids = xcalloc((size_t)argc + 1, sizeof(int64_t));
	size_t nids = 0;
	struct exp_sub *subs = NULL;
	long nsubs = 0, redacted = 0;
	struct buf j = BUF_INIT, cp = BUF_INIT;
	PGconn *conn = NULL;
	char err[4400], path[4200], hex[65], t[64];
	int ch, rc = 1, exists;

	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		switch (ch) {
		case 's': {
			int64_t id;
			if (parse_id(optarg, &id) < 0)
				goto usage;
			int dup = 0;
			for (size_t i = 0; i < nids; i++)
				dup |= ids[i] == id;
			if (!dup)
				ids[nids++] = id;
			break;
		}
		case 'S': since = optarg; break;
		case 'U': until = optarg; break;
		case 'o': dir = optarg; break;
		default: goto usage;
		}
	}
	if (optind != argc || dir == NULL || *dir == '\0' ||
	    (nids > 0) == (since != NULL || until != NULL))
		goto usage;
	if (strlen(dir) > 4000) {
		fprintf(stderr, "bevis export: the directory's name is too long\n");
		free(ids);
		return 2;
	}
	if ((exists = out_dir_state(dir)) < 0)
		goto out;

	conn = cli_connect(cli);
	/* One snapshot for everything; bare times in UTC; text as UTF-8, the
	 * encoding the ledger's digests were made over. */
	if (exec_ok(conn, "SET client_encoding = 'UTF8'") < 0 ||
	    exec_ok(conn, "SET TimeZone = 'UTC'") < 0 ||
	    exec_ok(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") < 0)
		goto out;
	if (select_subs(conn, ids, nids, since, until, &subs, &nsubs) < 0)
		goto out;
	if (nsubs == 0) {
		fprintf(stderr, "bevis export: no submission was received in "
		    "[%s, %s): nothing to export\n", since ? since : "-infinity",
		    until ? until : "infinity");
		goto out;
	}

	/* The newest signed tree head; it must hold every exported leaf. */
	int64_t maxleaf = -1;
	for (long i = 0; i < nsubs; i++) {
		if (subs[i].leaf > maxleaf)
			maxleaf = subs[i].leaf;
		if (subs[i].redacted && subs[i].red_leaf > maxleaf)
			maxleaf = subs[i].red_leaf;
	}
	PGresult *res = PQexec(conn, "SELECT tree_size, encode(root, 'hex'), "
	    "checkpoint FROM tree_head ORDER BY tree_size DESC LIMIT 1");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "bevis export: %s", PQerrorMessage(conn));
		PQclear(res);
		goto out;
	}
	long long head = PQntuples(res) ? atoll(PQgetvalue(res, 0, 0)) : 0;
	if (PQntuples(res) == 0 || head <= maxleaf) {
		fprintf(stderr, "bevis export: no signed tree head covers leaf %lld "
		    "yet; try again in a second (bevisd signs one at most every "
		    "checkpoint_interval seconds; %s)\n", (long long)maxleaf,
		    PQntuples(res) ? "the newest holds fewer leaves" :
		    "there is none yet");
		PQclear(res);
		goto out;
	}
	unsigned char head_root[32], cp_root[32];
	uint64_t cp_size;
	char *origin = NULL;
	buf_puts(&cp, PQgetvalue(res, 0, 2));
	int bad = hex_decode(PQgetvalue(res, 0, 1),
	    (size_t)PQgetlength(res, 0, 1), head_root, 32) < 0 ||
	    checkpoint_parse_unverified((const char *)cp.data, cp.len, &origin,
	    &cp_size, cp_root, err, sizeof(err)) < 0 ||
	    cp_size != (uint64_t)head ||
	    memcmp(cp_root, head_root, 32) != 0;
	PQclear(res);
	if (bad) {
		fprintf(stderr, "bevis export: the tree head of size %lld does not "
		    "match its own checkpoint text: run bevis verify\n", head);
		free(origin);
		goto out;
	}

	/* Every proof, checked, before anything is written. */
	for (long i = 0; i < nsubs; i++) {
		struct exp_sub *s = &subs[i];
		if (prove(conn, s->leaf, &s->leaf_data, (uint64_t)head, head_root,
		    &s->proof) < 0 || (s->redacted && prove(conn, s->red_leaf,
		    &s->red_data, (uint64_t)head, head_root, &s->red_proof) < 0)) {
			free(origin);
			goto out;
		}
		redacted += s->redacted;
	}

	if (!exists && mkdir(dir, MODE_DIR) < 0) {
		fprintf(stderr, "bevis export: %s: %s\n", dir, strerror(errno));
		free(origin);
		goto out;
	}
	static const char *const subdirs[] = { "bodies", "events", "quarantine" };
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, subdirs[i]);
		if (mkdir(path, MODE_DIR) < 0) {
			fprintf(stderr, "bevis export: %s: %s\n", path,
			    strerror(errno));
			free(origin);
			goto out;
		}
	}
	time_t now = time(NULL);
	format_us((int64_t)now * 1000000, t, sizeof(t));
	buf_printf(&j, "{\n  \"format\": \"" BUNDLE_FORMAT "\",\n  \"origin\": ");
	json_str(&j, origin);
	free(origin);
	hex_encode(head_root, 32, hex);
	buf_printf(&j, ",\n  \"tree_size\": %lld,\n  \"root\": \"%s\",\n"
	    "  \"checkpoint\": \"" CHECKPOINT "\",\n  \"exported_at\": \"%s\",\n"
	    "  \"selection\": ", head, hex, t);
	if (nids) {
		buf_puts(&j, "{\"submissions\": [");
		for (size_t i = 0; i < nids; i++)
			buf_printf(&j, "%s%lld", i ? ", " : "", (long long)ids[i]);
		buf_puts(&j, "]}");
	} else {
		buf_puts(&j, "{\"since\": ");
		json_str(&j, since);
		buf_puts(&j, ", \"until\": ");
		json_str(&j, until);
		buf_puts(&j, "}");
	}
	buf_puts(&j, ",\n  \"submissions\": [\n");
	for (long i = 0; i < nsubs; i++) {
		if (write_sub(conn, dir, &subs[i]) < 0) {
			fprintf(stderr, "bevis export: %s is incomplete (it has no "
			    MANIFEST "): remove it\n", dir);
			goto out;
		}
		json_sub(&j, &subs[i], i + 1 == nsubs);
	}
	buf_puts(&j, "  ]\n}\n");
	(void)exec_ok(conn, "COMMIT");
	PQfinish(conn);
	conn = NULL;

	/* The checkpoint, then the manifest last: a bundle with a manifest
	 * is complete. */
	snprintf(path, sizeof(path), "%s/" CHECKPOINT, dir);
	if (write_new(path, cp.data, cp.len, MODE_PUBLIC, err, sizeof(err)) < 0) {
		fprintf(stderr, "bevis export: %s\n", err);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/" MANIFEST, dir);
	if (write_new(path, j.data, j.len, MODE_PUBLIC, err, sizeof(err)) < 0) {
		fprintf(stderr, "bevis export: %s\n", err);
		goto out;
	}

	/* What verify-bundle will check, less the signature (export need not
	 * hold the public key): read back from the files just written. */
	struct check c;
	memset(&c, 0, sizeof(c));
	c.prog = "bevis export";
	c.dir = dir;
	if (bundle_check(&c, NULL, NULL) > 0) {
		fprintf(stderr, "bevis export: the bundle in %s does not check out "
		    "against its own ledger leaves; do not use it, and run bevis "
		    "verify\n", dir);
		check_free(&c);
		goto out;
	}
	check_free(&c);
	printf("exported %ld submission%s (%ld redacted) to %s, with inclusion "
	    "proofs against the signed tree head of size %lld\n"
	    "check it with: bevis verify-bundle %s --key ledger.pub\n", nsubs,
	    nsubs == 1 ? "" : "s", redacted, dir, head, dir);
	rc = 0;
out:
	if (conn)
		PQfinish(conn);
	for (long i = 0; subs && i < nsubs; i++)
		exp_sub_free(&subs[i]);
	free(subs);
	free(ids);
	buf_free(&j);
	buf_free(&cp);
	return rc;
usage:
	free(ids);
	return export_usage();
}
