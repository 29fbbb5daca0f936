#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

static const char *
file_kind(mode_t m)
{
	return S_ISFIFO(m) ? "a FIFO" : S_ISDIR(m) ? "a directory" :
	    S_ISCHR(m) ? "a character device" : S_ISSOCK(m) ? "a socket" :
	    S_ISBLK(m) ? "a block device" : "not a file";
}

int
keyfile_check_regular(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		if (errno == ENOENT || errno == EACCES)
			return 0;	/* for the start to report */
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file (%s)", path,
		    file_kind(st.st_mode));
		return -1;
	}
	return 0;
}

int
keyfile_open_regular(const char *path, char *err, size_t errlen)
{
	struct stat st;
	/* O_NONBLOCK: opening a FIFO for reading would wait for a writer. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file (%s)", path,
		    file_kind(st.st_mode));
		close(fd);
		return -1;
	}
	/* A regular file never blocks; reads go on as usual. */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
keyfile_read(const char *path, int secret, struct buf *out, char *err,
    size_t errlen)
{
	struct stat st;
	int fd = keyfile_open_regular(path, err, errlen);
	ssize_t n;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (secret && (st.st_mode & 077)) {
		snprintf(err, errlen, "%s: a secret key must not be readable by "
		    "group or others (mode %03o; chmod 600 it)", path,
		    (unsigned)(st.st_mode & 0777));
		close(fd);
		return -1;
	}
	buf_reset(out);
	while ((n = read(fd, (buf_reserve(out, 4096), out->data + out->len),
	    4096)) > 0 && out->len < 65536)
		out->len += (size_t)n;
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (out->len && (out->data[out->len - 1] == '\n' ||
	    out->data[out->len - 1] == '\r'))
		out->len--;
	buf_cstr(out);
	return 0;
}

int
keyfile_write(const char *path, const void *data, size_t len, int mode,
    char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* The umask must not loosen or tighten what was asked for. */
	if (fchmod(fd, (mode_t)mode) < 0 || write(fd, data, len) != (ssize_t)len ||
	    fsync(fd) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return close(fd);
}

int
keyfile_read_signer(const char *path, struct checkpoint_signer *s, char *err,
    size_t errlen)
{
	struct buf b = BUF_INIT;
	char why[200];
	int rc = -1;

	if (keyfile_read(path, 1, &b, err, errlen) == 0) {
		if (checkpoint_signer_parse(s, (const char *)b.data, b.len, why,
		    sizeof(why)) == 0)
			rc = 0;
		else
			snprintf(err, errlen, "%s: %s", path, why);
		sodium_memzero(b.data, b.len);
	}
	buf_free(&b);
	return rc;
}

int
keyfile_read_verifier(const char *path, struct checkpoint_verifier *v,
    char *err, size_t errlen)
{
	struct buf b = BUF_INIT;
	char why[200];
	int rc = -1;

	if (keyfile_read(path, 0, &b, err, errlen) == 0) {
		if (checkpoint_verifier_parse(v, (const char *)b.data, b.len, why,
		    sizeof(why)) == 0)
			rc = 0;
		else
			snprintf(err, errlen, "%s: %s", path, why);
	}
	buf_free(&b);
	return rc;
}
