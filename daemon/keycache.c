/* keycache.c - the supplier table on disk (keycache.h).
 *
 * Text, so an operator can read it:
 *
 *   bevis-suppliers 1
 *   ID NAME Z85-PUBLIC-KEY          (one line per active supplier)
 *   sha256 HEX                      (of every byte before this line)
 *
 * The checksum catches a torn or damaged file; the file is 0600 in
 * state_dir, which only bevisd's user can write, so it guards against
 * accidents, not against that user. */
#include "keycache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "buf.h"
#include "curvekey.h"
#include "hex.h"
#include "keyfile.h"
#include "xmalloc.h"

#define MAGIC	"bevis-suppliers 1\n"

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
keycache_save(const char *dir, const struct supplier *s, size_t n,
    unsigned char last[SHA256_LEN], char *err, size_t errlen)
{
	struct buf b = BUF_INIT;
	unsigned char h[SHA256_LEN];
	char hx[2 * SHA256_LEN + 1], path[4096], tmp[4096], line[160];
	int fd = -1, dfd = -1, rc = -1;

	buf_append(&b, MAGIC, strlen(MAGIC));
	for (size_t i = 0; i < n; i++) {
		char z85[CURVE_Z85_LEN + 1];

		if (zmq_z85_encode(z85, s[i].key, 32) == NULL)
			continue;
		int len = s[i].valid_until_us ? snprintf(line, sizeof(line),
		    "%ld %s %s %lld\n", (long)s[i].id, s[i].name, z85,
		    (long long)s[i].valid_until_us) : snprintf(line,
		    sizeof(line), "%ld %s %s\n", (long)s[i].id, s[i].name, z85);
		buf_append(&b, line, (size_t)len);
	}
	sha256(b.data, b.len, h);
	if (memcmp(h, last, SHA256_LEN) == 0) {
		buf_free(&b);
		return 0;
	}
	hex_encode(h, SHA256_LEN, hx);
	int len = snprintf(line, sizeof(line), "sha256 %s\n", hx);
	buf_append(&b, line, (size_t)len);

	snprintf(path, sizeof(path), "%s/" KEYCACHE_FILE, dir);
	snprintf(tmp, sizeof(tmp), "%s/." KEYCACHE_FILE ".tmp", dir);
	const char *what = tmp;
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 ||
	    fchmod(fd, 0600) < 0 || write_all(fd, (const char *)b.data, b.len) < 0 ||
	    fsync(fd) < 0)
		goto out;
	if (close(fd) < 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	what = path;
	if (rename(tmp, path) < 0)
		goto out;
	/* The rename is durable once the directory is. */
	what = dir;
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fsync(dfd) < 0)
		goto out;
	memcpy(last, h, SHA256_LEN);
	rc = 0;
out:
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", what, strerror(errno));
		unlink(tmp);
	}
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	buf_free(&b);
	return rc;
}

/* One "ID NAME KEY [VALID_UNTIL_US]" line into s; -1 when it is not one.
 * The fourth field is the end of a rotated-out key's overlap. */
static int
parse_line(char *line, struct supplier *s)
{
	char *save, *end;
	char *id = strtok_r(line, " ", &save), *name = strtok_r(NULL, " ", &save),
	    *key = strtok_r(NULL, " ", &save), *until = strtok_r(NULL, " ", &save);
	long v;

	if (id == NULL || name == NULL || key == NULL || strtok_r(NULL, " ", &save))
		return -1;
	s->valid_until_us = 0;
	if (until) {
		long long u;
		errno = 0;
		u = strtoll(until, &end, 10);
		if (*end || errno || u <= 0)
			return -1;
		s->valid_until_us = u;
	}
	errno = 0;
	v = strtol(id, &end, 10);
	if (*end || errno || v <= 0 || v > INT32_MAX)
		return -1;
	size_t nl = strlen(name);
	if (nl == 0 || nl >= sizeof(s->name) ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") != nl)
		return -1;
	if (!curvekey_valid(key) || zmq_z85_decode(s->key, key) == NULL ||
	    curvekey_raw_small_order(s->key) ||
	    curvekey_fingerprint(key, s->fingerprint) < 0)
		return -1;
	s->id = (int32_t)v;
	memcpy(s->name, name, nl + 1);
	return 0;
}

int
keycache_load(const char *dir, struct supplier **out, size_t *n, char *err,
    size_t errlen)
{
	struct buf b = BUF_INIT;
	char path[4096], why[512], hx[2 * SHA256_LEN + 1];
	unsigned char h[SHA256_LEN];
	struct supplier *s = NULL;
	size_t cnt = 0, cap = 0;
	int rc = -1;

	snprintf(path, sizeof(path), "%s/" KEYCACHE_FILE, dir);
	/* The same checks as a secret key: a regular file, 0600. */
	if (keyfile_read(path, 1, &b, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s", why);
		goto out;
	}
	/* keyfile_read dropped the last newline: the checksum line is last. */
	char *text = (char *)b.data;
	char *sum = strrchr(text, '\n');
	if (strncmp(text, MAGIC, strlen(MAGIC)) != 0 || sum == NULL ||
	    strncmp(sum + 1, "sha256 ", 7) != 0) {
		snprintf(err, errlen, "%s: not a supplier cache file", path);
		goto out;
	}
	sha256(text, (size_t)(sum + 1 - text), h);
	hex_encode(h, SHA256_LEN, hx);
	if (strcmp(sum + 8, hx) != 0) {
		snprintf(err, errlen, "%s: checksum mismatch (damaged file)", path);
		goto out;
	}
	/* Keep the lines up to and with the newline before the checksum. */
	sum[1] = '\0';
	for (char *p = text + strlen(MAGIC), *nl; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		*nl = '\0';
		if (cnt == cap) {
			cap = cap ? 2 * cap : 16;
			s = xrealloc(s, cap * sizeof(*s));
		}
		memset(&s[cnt], 0, sizeof(s[cnt]));
		if (parse_line(p, &s[cnt]) < 0) {
			snprintf(err, errlen, "%s: line %zu is not a supplier", path,
			    cnt + 2);
			goto out;
		}
		cnt++;
	}
	*out = s ? s : xcalloc(1, sizeof(*s));
	*n = cnt;
	s = NULL;
	rc = 0;
out:
	free(s);
	buf_free(&b);
	return rc;
}
