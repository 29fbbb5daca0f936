#include "curvekey.h"

#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "buf.h"
#include "hex.h"
#include "keyfile.h"
#include "sha256.h"

int
curvekey_valid(const char *z85)
{
	uint8_t raw[32];

	return strlen(z85) == CURVE_Z85_LEN && zmq_z85_decode(raw, z85) != NULL;
}

/* The Curve25519 points of small order (1, 2, 4 and 8), as u-coordinates,
 * little-endian: the blocklist of has_small_order() in libsodium's
 * src/libsodium/crypto_scalarmult/curve25519/ref10/x25519_ref10.c, which
 * libsodium does not export. A shared secret with such a key is one of at
 * most 8 values whatever the other side's secret, so it authenticates
 * nobody. Bit 255 is ignored by X25519, so it is masked before comparing. */
static const uint8_t small_order[][32] = {
	/* 0 (order 4) */
	{ 0 },
	/* 1 (order 1) */
	{ 1 },
	/* 325606250916557431795983626356110631294008115727848805560023387167927233504
	 * (order 8) */
	{ 0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
	  0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
	  0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00 },
	/* 39382357235489614581723060781553021112529911719440698176882885853963445705823
	 * (order 8) */
	{ 0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1,
	  0x55, 0x9c, 0x83, 0xef, 0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c,
	  0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57 },
	/* p - 1 (order 2) */
	{ 0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
	/* p (= 0, order 4) */
	{ 0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
	/* p + 1 (= 1, order 1) */
	{ 0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
};

int
curvekey_raw_small_order(const uint8_t raw[32])
{
	uint8_t k[32];

	memcpy(k, raw, 32);
	k[31] &= 0x7f;
	for (size_t i = 0; i < sizeof(small_order) / sizeof(small_order[0]); i++)
		if (memcmp(k, small_order[i], 32) == 0)
			return 1;
	return 0;
}

int
curvekey_small_order(const char *z85)
{
	uint8_t raw[32];

	return curvekey_valid(z85) && zmq_z85_decode(raw, z85) != NULL &&
	    curvekey_raw_small_order(raw);
}

int
curvekey_fingerprint(const char *z85, char out[CURVE_FINGERPRINT_LEN + 1])
{
	uint8_t raw[32];
	unsigned char h[SHA256_LEN];

	if (!curvekey_valid(z85) || zmq_z85_decode(raw, z85) == NULL)
		return -1;
	sha256(raw, sizeof(raw), h);
	hex_encode(h, CURVE_FINGERPRINT_LEN / 2, out);
	return 0;
}

int
curvekey_read(const char *path, int secret, char out[CURVE_Z85_LEN + 1],
    char *err, size_t errlen)
{
	struct buf b = BUF_INIT;
	int rc = -1;

	if (keyfile_read(path, secret, &b, err, errlen) == 0) {
		const char *s = (const char *)b.data;
		if (!curvekey_valid(s)) {
			snprintf(err, errlen, "%s: not a Z85 CURVE key (40 "
			    "characters, as bevis keygen --curve writes)", path);
		} else {
			memcpy(out, s, CURVE_Z85_LEN + 1);
			rc = 0;
		}
		memset(b.data, 0, b.len);
	}
	buf_free(&b);
	return rc;
}
