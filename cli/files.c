/* files.c - whole-file reads and writes for the commands that handle files
 * (export, verify-bundle). */
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
file_read_whole(const char *path, size_t max, struct buf *out, char *err,
    size_t errlen)
{
	struct stat st;
	ssize_t n;
	/* O_NONBLOCK: opening a FIFO would wait for a writer; a regular
	 * file reads the same with or without it. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	buf_reset(out);
	if (fd < 0) {
		snprintf(err, errlen, "%s", errno == ENOENT ? "missing" :
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		close(fd);
		return -1;
	}
	for (;;) {
		buf_reserve(out, 65536);
		n = read(fd, out->data + out->len, 65536);
		if (n <= 0)
			break;
		out->len += (size_t)n;
		if (out->len > max) {
			snprintf(err, errlen, "larger than %zu bytes", max);
			close(fd);
			return -1;
		}
	}
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	return 0;
}

int
file_write_new(const char *path, const void *data, size_t len, mode_t mode,
    char *err, size_t errlen)
{
	const unsigned char *p = data;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    mode);

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fchmod(fd, mode) < 0)
		goto fail;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
fail:
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
	close(fd);
	return -1;
}
