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
