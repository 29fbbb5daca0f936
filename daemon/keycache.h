/* keycache.h - the last supplier table bevisd loaded, kept in
 * state_dir/suppliers so that a bevisd started while PostgreSQL is away
 * still admits (and spools for) the suppliers it knew. */
#ifndef BEVIS_KEYCACHE_H
#define BEVIS_KEYCACHE_H

#include <stddef.h>

#include "auth.h"
#include "sha256.h"

#define KEYCACHE_FILE	"suppliers"

/* Writes the n suppliers of s to dir/suppliers atomically (a temporary
 * file, fsync, rename, fsync of dir), mode 0600, with a SHA-256 checksum.
 * Skips the write when the table's checksum equals *last; sets *last to it
 * after a write. Returns -1 with err set on failure. */
int keycache_save(const char *dir, const struct supplier *s, size_t n,
    unsigned char last[SHA256_LEN], char *err, size_t errlen) MUSTCHECK;
/* Reads dir/suppliers. On success *out is a new array of *n suppliers
 * (the caller frees it) and 0 is returned; -1 with err set when the file is
 * missing, is not a regular file, or fails its checksum or any check. */
int keycache_load(const char *dir, struct supplier **out, size_t *n,
    char *err, size_t errlen) MUSTCHECK;

#endif
