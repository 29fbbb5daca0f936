/* checkpoint.c - signed notes, note keys and checkpoints, compatible with
 * golang.org/x/mod/sumdb/note and c2sp.org/tlog-checkpoint. */
#include "checkpoint.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sha256.h"
#include "utf8.h"
#include "xmalloc.h"

#define ALG_ED25519	0x01
#define SIGNER_PREFIX	"PRIVATE+KEY+"
/* U+2014 EM DASH and a space start every signature line. */
#define SIG_PREFIX	"\xe2\x80\x94 "
#define SIG_PREFIX_LEN	4
#define ED25519_SIG_LEN	64

static void errf(char *err, size_t errlen, const char *fmt, ...)
    PRINTF_LIKE(3, 4);

static void
errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- helpers ------------------------------------------------------------ */

/* Decodes one code point of valid UTF-8 at s, advancing *i. */
static uint32_t
utf8_next(const unsigned char *s, size_t *i)
{
	uint32_t c = s[*i];
	int more;

	if (c < 0x80)
		more = 0;
	else if (c < 0xe0) {
		c &= 0x1f;
		more = 1;
	} else if (c < 0xf0) {
		c &= 0x0f;
		more = 2;
	} else {
		c &= 0x07;
		more = 3;
	}
	(*i)++;
	while (more-- > 0)
		c = c << 6 | (s[(*i)++] & 0x3f);
	return c;
}

/* Go's unicode.IsSpace, which note names must avoid: the ASCII spaces,
 * U+0085, U+00A0 and the other White_Space code points. */
static int
unicode_space(uint32_t c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || c == 0x85 || c == 0xa0 ||
	    c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 ||
	    c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

/* Returns why name is not a valid key name, or NULL when it is. */
static const char *
name_problem(const char *name, size_t len)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t i = 0;

	if (len == 0)
		return "key name is empty";
	if (len > CHECKPOINT_NAME_MAX)
		return "key name is longer than 255 bytes";
	if (utf8_invalid_at(s, len) != (size_t)-1)
		return "key name is not valid UTF-8";
	while (i < len) {
		uint32_t c = utf8_next(s, &i);

		if (c == '+')
			return "key name contains '+'";
		if (unicode_space(c))
			return "key name contains a space";
		if (c < 0x20)
			return "key name contains a control character";
	}
	return NULL;
}

int
checkpoint_name_valid(const char *name, size_t len)
{
	return name_problem(name, len) == NULL;
}

/* First four bytes, big-endian, of SHA-256(name || "\n" || key), where key
 * is the algorithm byte and the public key, as in Go's note.keyHash. */
static uint32_t
key_hash(const char *name, size_t name_len, const unsigned char *key,
    size_t key_len)
{
	struct buf b = BUF_INIT;
	unsigned char h[SHA256_LEN];

	buf_append(&b, name, name_len);
	buf_putc(&b, '\n');
	buf_append(&b, key, key_len);
	sha256(b.data, b.len, h);
	buf_free(&b);
	return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
	    (uint32_t)h[2] << 8 | h[3];
}

static uint32_t
ed25519_key_hash(const char *name, const unsigned char pk[32])
{
	unsigned char key[33];

	key[0] = ALG_ED25519;
	memcpy(key + 1, pk, 32);
	return key_hash(name, strlen(name), key, sizeof(key));
}

static void
b64_append(struct buf *out, const unsigned char *p, size_t n)
{
	size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);

	buf_reserve(out, cap);
	sodium_bin2base64((char *)out->data + out->len, cap, p, n,
	    sodium_base64_VARIANT_ORIGINAL);
	out->len += cap - 1;
}

/* Decodes standard, padded base64 of exactly n characters into out (room for
 * max bytes). Only the canonical encoding is accepted: the one we would
 * write, so that a note's bytes and its meaning correspond one to one. */
static int
b64_decode(const char *s, size_t n, unsigned char *out, size_t max,
    size_t *out_len)
{
	struct buf again = BUF_INIT;
	int ok;

	if (n == 0 || n % 4 != 0 ||
	    sodium_base642bin(out, max, s, n, NULL, out_len, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0)
		return -1;
	b64_append(&again, out, *out_len);
	ok = again.len == n && memcmp(again.data, s, n) == 0;
	/* It may be a signer key. */
	sodium_memzero(again.data, again.len);
	buf_free(&again);
	return ok ? 0 : -1;
}

static int
hex8(const char *s, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < 8; i++) {
		char c = s[i];
		int d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v << 4 | (uint32_t)d;
	}
	*out = v;
	return 0;
}

/* ---- keys --------------------------------------------------------------- */

/* Splits "<name>+<8 hex>+<base64>" into its parts, as Go's chop does: the
 * name ends at the first '+', the hash at the second. */
static int
key_split(const char *text, size_t len, const char **name, size_t *name_len,
    uint32_t *hash, const char **b64, size_t *b64_len, char *err,
    size_t errlen)
{
	const char *plus = memchr(text, '+', len);
	const char *problem;
	size_t rest;

	if (plus == NULL) {
		errf(err, errlen, "key has no '+' after its name");
		return -1;
	}
	*name = text;
	*name_len = (size_t)(plus - text);
	if ((problem = name_problem(*name, *name_len)) != NULL) {
		errf(err, errlen, "%s", problem);
		return -1;
	}
	rest = len - *name_len - 1;
	if (rest < 9 || plus[9] != '+' || hex8(plus + 1, hash) != 0) {
		errf(err, errlen, "key hash is not 8 hex digits followed by '+'");
		return -1;
	}
	*b64 = plus + 10;
	*b64_len = rest - 9;
	return 0;
}

/* Decodes the base64 key data of a key text into a new buffer, which the
 * caller frees (after wiping it, for a signer key). */
static unsigned char *
key_decode(const char *b64, size_t b64_len, size_t *key_len, char *err,
    size_t errlen)
{
	size_t max = b64_len / 4 * 3 + 3;
	unsigned char *key = xmalloc(max);

	if (b64_decode(b64, b64_len, key, max, key_len) != 0) {
		sodium_memzero(key, max);
		free(key);
		errf(err, errlen, "key is not canonical, padded base64");
		return NULL;
	}
	return key;
}

int
checkpoint_verifier_parse(struct checkpoint_verifier *v, const char *text,
    size_t len, char *err, size_t errlen)
{
	unsigned char *key;
	const char *name, *b64;
	size_t name_len, b64_len, key_len;
	uint32_t hash, want;
	int rc = -1;

	memset(v, 0, sizeof(*v));
	if (key_split(text, len, &name, &name_len, &hash, &b64, &b64_len, err,
	    errlen) != 0 ||
	    (key = key_decode(b64, b64_len, &key_len, err, errlen)) == NULL)
		return -1;
	/* Go hashes the key as written, algorithm byte included, before it
	 * looks at the algorithm; so do we, to fail in the same cases. */
	if ((want = key_hash(name, name_len, key, key_len)) != hash) {
		errf(err, errlen, "key hash %08x does not match the key "
		    "(which hashes to %08x)", hash, want);
		goto out;
	}
	if (key[0] != ALG_ED25519) {
		errf(err, errlen, "unknown key algorithm %u (Ed25519 is 1)",
		    key[0]);
		goto out;
	}
	if (key_len != 33) {
		errf(err, errlen, "Ed25519 public key is %zu bytes, want 32",
		    key_len - 1);
		goto out;
	}
	memcpy(v->name, name, name_len);
	v->name[name_len] = '\0';
	v->key_hash = hash;
	memcpy(v->pk, key + 1, 32);
	rc = 0;
out:
	free(key);
	return rc;
}

int
checkpoint_signer_parse(struct checkpoint_signer *s, const char *text,
    size_t len, char *err, size_t errlen)
{
	const size_t plen = sizeof(SIGNER_PREFIX) - 1;
	unsigned char *key, pk[32];
	const char *name, *b64;
	size_t name_len, b64_len, key_len;
	uint32_t hash, want;
	int rc = -1;

	memset(s, 0, sizeof(*s));
	if (len < plen || memcmp(text, SIGNER_PREFIX, plen) != 0) {
		errf(err, errlen, "signer key does not start with "
		    SIGNER_PREFIX);
		return -1;
	}
	if (key_split(text + plen, len - plen, &name, &name_len, &hash, &b64,
	    &b64_len, err, errlen) != 0 ||
	    (key = key_decode(b64, b64_len, &key_len, err, errlen)) == NULL)
		return -1;
	if (key[0] != ALG_ED25519) {
		errf(err, errlen, "unknown key algorithm %u (Ed25519 is 1)",
		    key[0]);
		goto out;
	}
	if (key_len != 33) {
		errf(err, errlen, "Ed25519 private key is %zu bytes, want 32",
		    key_len - 1);
		goto out;
	}
	/* The hash is of the public key, which only the seed gives. */
	crypto_sign_seed_keypair(pk, s->sk, key + 1);
	memcpy(s->name, name, name_len);
	s->name[name_len] = '\0';
	if ((want = ed25519_key_hash(s->name, pk)) != hash) {
		errf(err, errlen, "key hash %08x does not match the key "
		    "(which hashes to %08x)", hash, want);
		checkpoint_signer_clear(s);
		goto out;
	}
	s->key_hash = hash;
	rc = 0;
out:
	sodium_memzero(key, key_len);
	free(key);
	return rc;
}

void
checkpoint_verifier_format(const struct checkpoint_verifier *v,
    struct buf *out)
{
	unsigned char key[33];

	key[0] = ALG_ED25519;
	memcpy(key + 1, v->pk, 32);
	buf_printf(out, "%s+%08x+", v->name, v->key_hash);
	b64_append(out, key, sizeof(key));
}

void
checkpoint_signer_format(const struct checkpoint_signer *s, struct buf *out)
{
	unsigned char key[33];

	key[0] = ALG_ED25519;
	memcpy(key + 1, s->sk, 32);		/* the seed */
	buf_printf(out, SIGNER_PREFIX "%s+%08x+", s->name, s->key_hash);
	b64_append(out, key, sizeof(key));
	sodium_memzero(key, sizeof(key));
}

void
checkpoint_signer_verifier(const struct checkpoint_signer *s,
    struct checkpoint_verifier *v)
{
	memset(v, 0, sizeof(*v));
	memcpy(v->name, s->name, sizeof(v->name));
	v->key_hash = s->key_hash;
	memcpy(v->pk, s->sk + 32, 32);
}

void
checkpoint_signer_clear(struct checkpoint_signer *s)
{
	sodium_memzero(s, sizeof(*s));
}

int
checkpoint_key_generate(const char *name, struct buf *skey, struct buf *vkey,
    char *err, size_t errlen)
{
	struct checkpoint_signer s;
	struct checkpoint_verifier v;
	unsigned char pk[32];
	const char *problem;
	size_t len = strlen(name);

	if ((problem = name_problem(name, len)) != NULL) {
		errf(err, errlen, "%s", problem);
		return -1;
	}
	memset(&s, 0, sizeof(s));
	crypto_sign_keypair(pk, s.sk);
	memcpy(s.name, name, len + 1);
	s.key_hash = ed25519_key_hash(s.name, pk);
	checkpoint_signer_verifier(&s, &v);
	checkpoint_signer_format(&s, skey);
	checkpoint_verifier_format(&v, vkey);
	checkpoint_signer_clear(&s);
	return 0;
}

/* ---- notes -------------------------------------------------------------- */

/* Checks what c2sp and Go's note.Open require of a whole note, or of a
 * text to be signed: UTF-8 without control characters other than "\n". */
static int
note_chars_valid(const char *what, const char *p, size_t len, char *err,
    size_t errlen)
{
	size_t bad;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 0x20 && c != '\n') {
			errf(err, errlen, "%s has control character 0x%02x at "
			    "byte %zu", what, c, i);
			return -1;
		}
	}
	if ((bad = utf8_invalid_at((const unsigned char *)p, len)) !=
	    (size_t)-1) {
		errf(err, errlen, "%s is not valid UTF-8 at byte %zu", what, bad);
		return -1;
	}
	return 0;
}

/* Finds the text of a note: everything up to and including the newline
 * before the last blank line. */
static int
note_split(const char *msg, size_t len, size_t *text_len, char *err,
    size_t errlen)
{
	size_t i;

	if (note_chars_valid("note", msg, len, err, errlen) != 0)
		return -1;
	for (i = len; i >= 2; i--)
		if (msg[i - 2] == '\n' && msg[i - 1] == '\n')
			break;
	if (i < 2) {
		errf(err, errlen, "note has no blank line before its signatures");
		return -1;
	}
	if (i == len) {
		errf(err, errlen, "note has no signature lines after its last "
		    "blank line");
		return -1;
	}
	if (msg[len - 1] != '\n') {
		errf(err, errlen, "note does not end in a newline");
		return -1;
	}
	*text_len = i - 1;
	return 0;
}

/* Checks one signature line (n bytes at p, without its newline) of a note
 * whose signed text is msg[0:text_len]; counts it in *found when it is a
 * valid signature by v's key. */
static int
note_sig_line(const char *p, size_t n, size_t line, const char *msg,
    size_t text_len, const struct checkpoint_verifier *v, size_t *found,
    char *err, size_t errlen)
{
	const char *name, *sp, *problem;
	size_t name_len, b64_len, sig_len, max;
	unsigned char *sig;
	uint32_t hash;
	int rc = -1;

	if (n < SIG_PREFIX_LEN || memcmp(p, SIG_PREFIX, SIG_PREFIX_LEN) != 0) {
		errf(err, errlen, "signature line %zu does not start with an em "
		    "dash and a space", line);
		return -1;
	}
	name = p + SIG_PREFIX_LEN;
	n -= SIG_PREFIX_LEN;
	if ((sp = memchr(name, ' ', n)) == NULL) {
		errf(err, errlen, "signature line %zu has no space after the key "
		    "name", line);
		return -1;
	}
	name_len = (size_t)(sp - name);
	if ((problem = name_problem(name, name_len)) != NULL) {
		errf(err, errlen, "signature line %zu: %s", line, problem);
		return -1;
	}
	b64_len = n - name_len - 1;
	max = b64_len / 4 * 3 + 3;
	sig = xmalloc(max);
	if (b64_decode(sp + 1, b64_len, sig, max, &sig_len) != 0) {
		errf(err, errlen, "signature line %zu: signature is not "
		    "canonical, padded base64", line);
		goto out;
	}
	if (sig_len < 5) {
		errf(err, errlen, "signature line %zu: signature is %zu bytes, "
		    "too short for a key hash and a signature", line, sig_len);
		goto out;
	}
	hash = (uint32_t)sig[0] << 24 | (uint32_t)sig[1] << 16 |
	    (uint32_t)sig[2] << 8 | sig[3];
	/* c2sp: a signature is by a known key when both the name and the key
	 * hash match, and then it must verify; all others are ignored. */
	if (name_len != strlen(v->name) || memcmp(name, v->name, name_len) != 0 ||
	    hash != v->key_hash) {
		rc = 0;
		goto out;
	}
	if (sig_len != 4 + ED25519_SIG_LEN) {
		errf(err, errlen, "signature line %zu by key %s+%08x has %zu "
		    "signature bytes, want %d", line, v->name, v->key_hash,
		    sig_len - 4, ED25519_SIG_LEN);
		goto out;
	}
	if (crypto_sign_verify_detached(sig + 4, (const unsigned char *)msg,
	    text_len, v->pk) != 0) {
		errf(err, errlen, "signature line %zu by key %s+%08x does not "
		    "verify", line, v->name, v->key_hash);
		goto out;
	}
	(*found)++;
	rc = 0;
out:
	free(sig);
	return rc;
}

/* Checks the signature lines after the text (text_len bytes) of msg. */
static int
note_verify(const char *msg, size_t len, size_t text_len,
    const struct checkpoint_verifier *v, char *err, size_t errlen)
{
	size_t off = text_len + 1, line = 0, found = 0;

	/* note_split made sure the last line ends in a newline. */
	while (off < len) {
		const char *p = msg + off, *nl = memchr(p, '\n', len - off);
		size_t n = (size_t)(nl - p);

		if (++line > CHECKPOINT_MAX_SIGS) {
			errf(err, errlen, "note has more than %d signatures",
			    CHECKPOINT_MAX_SIGS);
			return -1;
		}
		if (note_sig_line(p, n, line, msg, text_len, v, &found, err,
		    errlen) != 0)
			return -1;
		off += n + 1;
	}
	if (found == 0) {
		errf(err, errlen, "note has no signature by key %s+%08x",
		    v->name, v->key_hash);
		return -1;
	}
	return 0;
}

int
checkpoint_note_open(const char *msg, size_t len,
    const struct checkpoint_verifier *v, size_t *text_len, char *err,
    size_t errlen)
{
	size_t tl;

	*text_len = 0;
	if (note_split(msg, len, &tl, err, errlen) != 0 ||
	    note_verify(msg, len, tl, v, err, errlen) != 0)
		return -1;
	*text_len = tl;
	return 0;
}

int
checkpoint_note_sign(const char *text, size_t len,
    const struct checkpoint_signer *s, struct buf *out, char *err,
    size_t errlen)
{
	unsigned char sig[4 + ED25519_SIG_LEN];

	if (len == 0 || text[len - 1] != '\n') {
		errf(err, errlen, "note text does not end in a newline");
		return -1;
	}
	if (note_chars_valid("note text", text, len, err, errlen) != 0)
		return -1;
	sig[0] = (unsigned char)(s->key_hash >> 24);
	sig[1] = (unsigned char)(s->key_hash >> 16);
	sig[2] = (unsigned char)(s->key_hash >> 8);
	sig[3] = (unsigned char)s->key_hash;
	crypto_sign_detached(sig + 4, NULL, (const unsigned char *)text, len,
	    s->sk);
	buf_append(out, text, len);
	buf_puts(out, "\n" SIG_PREFIX);
	buf_puts(out, s->name);
	buf_putc(out, ' ');
	b64_append(out, sig, sizeof(sig));
	buf_putc(out, '\n');
	return 0;
}

/* ---- checkpoints -------------------------------------------------------- */

int
checkpoint_sign(const char *origin, uint64_t size,
    const unsigned char root[CHECKPOINT_HASH_LEN],
    const struct checkpoint_signer *s, struct buf *out, char *err,
    size_t errlen)
{
	struct buf body = BUF_INIT;
	size_t olen = strlen(origin);
	int rc;

	if (olen == 0) {
		errf(err, errlen, "checkpoint origin is empty");
		return -1;
	}
	if (memchr(origin, '\n', olen) != NULL) {
		errf(err, errlen, "checkpoint origin has a newline");
		return -1;
	}
	buf_append(&body, origin, olen);
	buf_printf(&body, "\n%llu\n", (unsigned long long)size);
	b64_append(&body, root, CHECKPOINT_HASH_LEN);
	buf_putc(&body, '\n');
	rc = checkpoint_note_sign((const char *)body.data, body.len, s, out,
	    err, errlen);
	buf_free(&body);
	return rc;
}

/* Parses the three lines of a checkpoint's text (text_len bytes, ending in
 * a newline), c2sp.org/tlog-checkpoint, refusing extension lines. */
static int
checkpoint_body(const char *text, size_t text_len, size_t *origin_len,
    uint64_t *size, unsigned char root[CHECKPOINT_HASH_LEN], char *err,
    size_t errlen)
{
	const char *line[3];
	size_t line_len[3], nlines = 0, off = 0, root_len;
	unsigned char rootbuf[CHECKPOINT_HASH_LEN + 3];
	uint64_t v = 0;

	while (off < text_len) {
		const char *nl = memchr(text + off, '\n', text_len - off);

		if (nlines < 3) {
			line[nlines] = text + off;
			line_len[nlines] = (size_t)(nl - (text + off));
		}
		nlines++;
		off = (size_t)(nl - text) + 1;
	}
	if (nlines != 3) {
		errf(err, errlen, "checkpoint text has %zu line(s); bevis writes "
		    "and accepts exactly 3 (origin, tree size, root hash)",
		    nlines);
		return -1;
	}
	if (line_len[0] == 0) {
		errf(err, errlen, "checkpoint origin (line 1) is empty");
		return -1;
	}
	if (line_len[1] == 0) {
		errf(err, errlen, "tree size (line 2) is empty");
		return -1;
	}
	for (size_t i = 0; i < line_len[1]; i++) {
		char c = line[1][i];

		if (c < '0' || c > '9') {
			errf(err, errlen, "tree size (line 2) is not a decimal "
			    "number");
			return -1;
		}
		if ((v > UINT64_MAX / 10) ||
		    (v == UINT64_MAX / 10 && (uint64_t)(c - '0') > UINT64_MAX % 10)) {
			errf(err, errlen, "tree size (line 2) is larger than "
			    "2^64 - 1");
			return -1;
		}
		v = v * 10 + (uint64_t)(c - '0');
	}
	if (line[1][0] == '0' && line_len[1] > 1) {
		errf(err, errlen, "tree size (line 2) has a leading zero");
		return -1;
	}
	if (b64_decode(line[2], line_len[2], rootbuf, sizeof(rootbuf),
	    &root_len) != 0) {
		errf(err, errlen, "root hash (line 3) is not canonical, padded "
		    "base64");
		return -1;
	}
	if (root_len != CHECKPOINT_HASH_LEN) {
		errf(err, errlen, "root hash (line 3) is %zu bytes, want %d",
		    root_len, CHECKPOINT_HASH_LEN);
		return -1;
	}
	*origin_len = line_len[0];
	*size = v;
	memcpy(root, rootbuf, CHECKPOINT_HASH_LEN);
	return 0;
}

int
checkpoint_parse_verify(const char *text, size_t len,
    const struct checkpoint_verifier *v, char **origin, uint64_t *size,
    unsigned char root[CHECKPOINT_HASH_LEN], char *err, size_t errlen)
{
	unsigned char r[CHECKPOINT_HASH_LEN];
	size_t text_len, origin_len;
	uint64_t n;

	*origin = NULL;
	*size = 0;
	/* The form first, then the signature: a malformed checkpoint gets
	 * the precise reason whatever key the caller holds. */
	if (note_split(text, len, &text_len, err, errlen) != 0 ||
	    checkpoint_body(text, text_len, &origin_len, &n, r, err,
	    errlen) != 0 ||
	    note_verify(text, len, text_len, v, err, errlen) != 0)
		return -1;
	*origin = xstrndup(text, origin_len);
	*size = n;
	memcpy(root, r, CHECKPOINT_HASH_LEN);
	return 0;
}

int
checkpoint_parse_unverified(const char *text, size_t len, char **origin,
    uint64_t *size, unsigned char root[CHECKPOINT_HASH_LEN], char *err,
    size_t errlen)
{
	unsigned char r[CHECKPOINT_HASH_LEN];
	size_t text_len, origin_len;
	uint64_t n;

	*origin = NULL;
	*size = 0;
	if (note_split(text, len, &text_len, err, errlen) != 0 ||
	    checkpoint_body(text, text_len, &origin_len, &n, r, err,
	    errlen) != 0)
		return -1;
	*origin = xstrndup(text, origin_len);
	*size = n;
	memcpy(root, r, CHECKPOINT_HASH_LEN);
	return 0;
}
