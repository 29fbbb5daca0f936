#include "sha256.h"

#include <openssl/evp.h>

#include "log.h"

void
sha256(const void *data, size_t len, unsigned char out[SHA256_LEN])
{
	unsigned int n = 0;

	if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 ||
	    n != SHA256_LEN)
		fatalx("EVP_Digest(sha256) failed");
}
