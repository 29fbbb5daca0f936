/* sha256.h - SHA-256 of request bodies and ledger data. OpenSSL's libcrypto
 * (already loaded by libpq) uses the CPU's SHA extensions and hashes about
 * four times faster here than libsodium's portable code; the body hash is on
 * the ingest hot path. */
#ifndef BEVIS_SHA256_H
#define BEVIS_SHA256_H

#include <stddef.h>

#define SHA256_LEN 32

void sha256(const void *data, size_t len, unsigned char out[SHA256_LEN]);

#endif
