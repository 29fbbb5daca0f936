/* checkpoint.h - signed tree heads as transparency-log checkpoints
 * (c2sp.org/tlog-checkpoint) in the signed-note format (c2sp.org/signed-note)
 * of Go's golang.org/x/mod/sumdb/note, with Ed25519 keys in that package's
 * text form, so that Go's tools and witnesses verify ours and we verify
 * theirs.
 *
 * A signed note is its text (ending in "\n"), a blank line, and one line per
 * signature: "\u2014 <key name> <base64(key hash[4] || signature[64])>\n".
 * The signature is over the text including its final newline, not the blank
 * line. The key hash is the first four bytes, big-endian, of
 * SHA-256(key name || "\n" || 0x01 || Ed25519 public key).
 *
 * A checkpoint's text is three lines: origin, tree size in decimal, and the
 * base64 of the root hash. Extension lines are allowed by c2sp but bevis
 * writes none, and refuses them when it reads.
 *
 * Keys:
 *   signer    PRIVATE+KEY+<name>+<hash as 8 hex>+<base64(0x01 || seed[32])>
 *   verifier  <name>+<hash as 8 hex>+<base64(0x01 || public key[32])>
 * A key name is non-empty UTF-8 without Unicode spaces and without '+'.
 *
 * Error reasons go to err (errlen bytes, always NUL-terminated). Call
 * sodium_init() before any of these, as both binaries do at start. */
#ifndef BEVIS_CHECKPOINT_H
#define BEVIS_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "log.h"

#define CHECKPOINT_HASH_LEN	32
/* Longer key names are refused; the formats set no limit, we need one. */
#define CHECKPOINT_NAME_MAX	255
/* As Go's note.Open: more signature lines than this make a note malformed. */
#define CHECKPOINT_MAX_SIGS	100

/* Holds the secret key: clear it with checkpoint_signer_clear. */
struct checkpoint_signer {
	char name[CHECKPOINT_NAME_MAX + 1];
	uint32_t key_hash;
	unsigned char sk[64];		/* libsodium's seed || public key */
};

struct checkpoint_verifier {
	char name[CHECKPOINT_NAME_MAX + 1];
	uint32_t key_hash;
	unsigned char pk[32];
};

/* Returns nonzero when name is a valid key name (len bytes, no NUL). */
int checkpoint_name_valid(const char *name, size_t len);

/* Makes a new key pair for name and appends the signer key text to skey
 * and the verifier key text to vkey (no newlines). Returns -1 only for an
 * invalid name. */
int checkpoint_key_generate(const char *name, struct buf *skey,
    struct buf *vkey, char *err, size_t errlen) MUSTCHECK;
/* Parse key texts of len bytes, without a trailing newline. The key hash
 * must match the key. Return 0, or -1 with the reason in err. */
int checkpoint_signer_parse(struct checkpoint_signer *s, const char *text,
    size_t len, char *err, size_t errlen) MUSTCHECK;
int checkpoint_verifier_parse(struct checkpoint_verifier *v, const char *text,
    size_t len, char *err, size_t errlen) MUSTCHECK;
/* Append the key text (no newline). */
void checkpoint_signer_format(const struct checkpoint_signer *s,
    struct buf *out);
void checkpoint_verifier_format(const struct checkpoint_verifier *v,
    struct buf *out);
/* The verifier of a signer's key. */
void checkpoint_signer_verifier(const struct checkpoint_signer *s,
    struct checkpoint_verifier *v);
/* Wipes the secret key. */
void checkpoint_signer_clear(struct checkpoint_signer *s);

/* Appends text (len bytes: valid note text, ending in "\n"), the blank line
 * and s's signature line to out. Returns -1 when text is not valid. */
int checkpoint_note_sign(const char *text, size_t len,
    const struct checkpoint_signer *s, struct buf *out, char *err,
    size_t errlen) MUSTCHECK;
/* Checks that msg (len bytes) is a well-formed signed note with at least one
 * signature by v's key and that every signature by v's key verifies;
 * signatures by other keys are checked for form only, as c2sp requires.
 * On success returns 0 and sets *text_len to the length of the signed text
 * at the start of msg. */
int checkpoint_note_open(const char *msg, size_t len,
    const struct checkpoint_verifier *v, size_t *text_len, char *err,
    size_t errlen) MUSTCHECK;

/* Appends the checkpoint (origin, size, root) signed by s to out. origin
 * must be a non-empty line of valid UTF-8 without control characters. */
int checkpoint_sign(const char *origin, uint64_t size,
    const unsigned char root[CHECKPOINT_HASH_LEN],
    const struct checkpoint_signer *s, struct buf *out, char *err,
    size_t errlen) MUSTCHECK;
/* Checks text (len bytes) strictly as a checkpoint signed by v's key. On
 * success returns 0 and sets *origin (a new string; the caller frees it),
 * *size and root. The caller must still check that the origin is that of
 * the log it expects: the signature only says which key signed. */
int checkpoint_parse_verify(const char *text, size_t len,
    const struct checkpoint_verifier *v, char **origin, uint64_t *size,
    unsigned char root[CHECKPOINT_HASH_LEN], char *err, size_t errlen)
    MUSTCHECK;
/* The same parse, strictly, without checking any signature: for bevis
 * export, which reads the head it is about to prove against and need not
 * hold the public key (verify-bundle checks the signature). Nothing it
 * returns is authenticated. */
int checkpoint_parse_unverified(const char *text, size_t len, char **origin,
    uint64_t *size, unsigned char root[CHECKPOINT_HASH_LEN], char *err,
    size_t errlen) MUSTCHECK;

#endif
