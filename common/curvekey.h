/* curvekey.h - CURVE keys (Z85 text, 40 characters) and their fingerprints,
 * the short name under which a key appears in submissions, the ledger and
 * `bevis supplier list`. */
#ifndef BEVIS_CURVEKEY_H
#define BEVIS_CURVEKEY_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"

#define CURVE_Z85_LEN		40
#define CURVE_FINGERPRINT_LEN	32	/* hex characters */

/* Nonzero when s (NUL-terminated) is a 40-character Z85 CURVE key. */
int curvekey_valid(const char *z85);
/* Nonzero when the public key (raw, or valid Z85) is a Curve25519 point of
 * small order (the all-zero key among them): such a key authenticates
 * nobody, and is refused wherever a supplier key is registered or loaded. */
int curvekey_raw_small_order(const uint8_t raw[32]);
int curvekey_small_order(const char *z85);
/* Lowercase hex of the first 16 bytes of SHA-256 over the 32 raw key bytes.
 * Returns -1 when z85 is not a valid key. */
int curvekey_fingerprint(const char *z85, char out[CURVE_FINGERPRINT_LEN + 1])
    MUSTCHECK;
/* Reads a key file holding one Z85 key (a secret key file must be mode
 * 0600 or stricter). */
int curvekey_read(const char *path, int secret, char out[CURVE_Z85_LEN + 1],
    char *err, size_t errlen) MUSTCHECK;

#endif
