/* spool.c - the durable spool: requests bevisd could not write to the
 * database, kept on disk until they are committed.
 *
 * Files. <dir>/ holds segment files named by a 16-digit zero-padded number,
 * e.g. 0000000000000001.spool, mode 0600. Records are appended to the
 * highest-numbered segment. An append that would take a non-empty segment
 * past the segment size, clamp(max_bytes / 8, 64 KiB, 64 MiB), goes to a
 * new segment, so a batch bigger than that is alone in its segment. The
 * directory is fsync'd after a segment is created, before anything in it
 * is acknowledged. <dir>/corrupt/ receives damaged bytes, as
 * <segment number>-<offset>.bad.
 *
 * <dir>/key holds the spool's key: 16 random bytes, mode 0600, made by
 * the first spool_open of the directory (written to key.tmp, fsync'd,
 * renamed, the directory fsync'd) before any segment can exist. Segment
 * files without a key file are refused: they cannot be verified (written
 * by a bevisd from before the key, or the key was deleted), and the
 * operator decides what becomes of them (move them out of the directory).
 *
 * Record, all integers little-endian:
 *   magic        4 bytes "BVS1"
 *   length       u32, of the payload: 29 .. 2^30
 *   crc          u32, CRC-32C (Castagnoli) of the key, the 4 length bytes
 *                and the payload: crc32c(seed, length || payload) with
 *                seed = crc32c(0, key) (spool_key_seed), so a garbled
 *                length is caught too
 *   payload:
 *     seq          u64   increases over the spool's life
 *     received_us  i64   receipt time, µs since the epoch
 *     supplier_id  i32   0 if none
 *     ct           u8    enum content_type
 *     request id   u8 length 1..128, then visible ASCII (0x21..0x7e)
 *     supplier     u8 length 0..63, then its name (no NUL)
 *     key          u8 length 0..32, then its fingerprint (no NUL)
 *     body         u32 length, then the body as received
 *   The field lengths must add up to the payload length exactly.
 *
 * Why the key. A body is what a supplier sent, not checked when spooled,
 * so it can hold a whole record in this format, naming any supplier. Read
 * in order such a quote is only body bytes; but when its record is damaged
 * (a crash during its write), the scan below looks past the damage for the
 * next record, and must not take the quote for one. Two things see to it.
 * The key: a supplier, who never sees the spool's files, can only guess a
 * record's CRC, and each quote passes with a chance of 2^-32 (for given
 * bytes, each seed gives another CRC). And the scan never looks inside the
 * span a sound header claims (below): what a crash leaves is a record cut
 * short or with garbage in its tail, its header intact, so the quotes in
 * its body are never looked at. Only when the damage hit the magic or the
 * length field of the record around them does the scan look at each magic
 * in it; then a record quoting n of them lets one through with a chance of
 * at most n * 2^-32, n < b / 4 for a body of b bytes (the magic cannot
 * overlap itself): a residue only a longer tag would remove. Whoever can
 * read the spool's files can forge records anyway.
 *
 * Appending. The records of one spool_append go out in one pwrite at the
 * end of the newest segment and one fdatasync; only then does the reader
 * see them and the caller answer "spooled". If the write or fdatasync
 * fails, the file is truncated back and the segment gets no more appends:
 * after a failed fdatasync the page cache no longer tells what is on disk.
 *
 * Replay. One reader takes records in order and commits them; a segment is
 * deleted once all its records are committed, and when everything is
 * committed no segment is left. The read position is not stored: after a
 * crash the records of the oldest segments are replayed again, which the
 * database answers from the stored outcome by request id.
 *
 * Recovery at open. Each segment is decoded from offset 0. Where a record
 * does not decode, the scan looks for the next one, which must decode and
 * have a seq above all seen before it (so an old record of this spool,
 * quoted in a body, is not taken for one). Where it looks:
 *   - A sound header (the magic and a length in 29 .. 2^30) claims the
 *     span [offset, offset + 12 + length), and nothing inside that span is
 *     looked at. If the span runs to the end of the data or past it, all
 *     from the offset on is the tail: a torn write, or the last record
 *     damaged. Otherwise the next record is looked for at the span's end,
 *     where it should be; if none decodes there, the same rule applies to
 *     what is there: a sound header is skipped over in turn.
 *   - Where there is no sound header (a damaged magic or length field, or
 *     junk), the scan looks forward byte by byte for a magic followed by a
 *     record that decodes. The CRCs of the places tried are computed
 *     together, in one pass over the bytes (see "resync"), so that a body
 *     full of magics and long lengths costs time in proportion to its size,
 *     not its square.
 * The cost: a length field damaged into a longer length still in range
 * loses the records inside the span it claims (all after it, when it runs
 * past the end): they cannot be told from quotes. A shorter one costs
 * nothing, as its span ends inside its own record. Then:
 *   - found: the bytes in between are copied to corrupt/ (fsync'd),
 *     logged as a warning with segment, offset, length and the copy's
 *     name, counted in stats.corrupt, and skipped by replay (a list of
 *     bad ranges in memory; the segment goes once replayed anyway);
 *   - not found, newest segment: a torn tail, never acknowledged: logged
 *     as info, and the file is truncated after its last good record. But
 *     when a record that decodes starts inside a span a sound header
 *     claimed (a quote that met its 2^-32, or, likelier, acknowledged
 *     records behind a damaged length), the bytes are first copied to
 *     corrupt/ and counted as above, and none of them is replayed;
 *   - not found, older segment: treated as corrupt, as above.
 * A record damaged after open is found by spool_read and moved aside the
 * same way. If that damage runs to the end of the newest segment, the
 * segment gets no more appends: at the next open, a damaged length there
 * would claim the records appended after it.
 *
 * Locks. append_mu makes appends take turns and is held over their write
 * and fdatasync; mu guards the segment list, sizes, counters and the read
 * position, and is never held over a read, write or sync. Only the reader
 * (spool_read, spool_commit, spool_rewind, one call at a time) deletes
 * segments, opens older segments and adds bad ranges; the appender touches
 * only the newest segment, which always has its file open. */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "xmalloc.h"

#define SEG_MIN		((uint64_t)64 << 10)
#define SEG_MAX		((uint64_t)64 << 20)
#define SEG_NAME_LEN	22		/* 16 digits and ".spool" */
#define CORRUPT_DIR	"corrupt"
#define KEY_FILE	"key"
#define KEY_TMP		"key.tmp"

/* ---- the spool on disk --------------------------------------------------- */

struct range {
	uint64_t off, end;
};

struct seg {
	uint64_t num;
	int fd;			/* -1 until needed; the newest always has one */
	uint64_t size;		/* bytes on disk; the newest's durable end */
	struct range *bad;	/* moved aside, skipped by replay; ascending */
	size_t nbad;
	int retired;		/* a write failed: no more appends */
};

/* A place in the spool: a segment number and an offset in it. */
struct pos {
	uint64_t seg, off;
};

struct spool {
	char *dir;
	int dirfd;		/* also holds the lock against a second bevisd */
	uint32_t seed;		/* spool_key_seed of <dir>/key */
	pthread_mutex_t append_mu;
	pthread_mutex_t mu;
	/* under mu */
	struct seg **segs;	/* ascending by number */
	size_t nsegs, capsegs;
	uint64_t next_num;	/* of the next new segment */
	uint64_t max_bytes, seg_size;
	uint64_t bytes, records;
	uint64_t appended, replayed, corrupt;
	int appending;		/* an append writes to the newest segment */
	struct pos rd;		/* where the next spool_read starts */
	struct pos cm;		/* the end of what is committed */
	/* under append_mu */
	uint64_t next_seq;
	/* the reader's */
	uint64_t last_seq;	/* of the last record handed out */
	struct buf scanbuf;	/* bytes for spool_scan */
};

static void
seg_name(char *out, size_t n, uint64_t num)
{
	snprintf(out, n, "%016" PRIu64 ".spool", num);
}

static int
pos_lt(struct pos a, struct pos b)
{
	return a.seg < b.seg || (a.seg == b.seg && a.off < b.off);
}

static int
pos_eq(struct pos a, struct pos b)
{
	return a.seg == b.seg && a.off == b.off;
}

static uint64_t
seg_size_for(uint64_t max_bytes)
{
	uint64_t n = max_bytes / 8;

	return n < SEG_MIN ? SEG_MIN : n > SEG_MAX ? SEG_MAX : n;
}

static int
pread_full(int fd, void *p, size_t n, uint64_t off)
{
	unsigned char *q = p;

	while (n > 0) {
		ssize_t r = pread(fd, q, n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0) {
			errno = EIO;	/* shorter than we know it to be */
			return -1;
		}
		q += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

static int
pwrite_full(int fd, const void *p, size_t n, uint64_t off)
{
	const unsigned char *q = p;

	while (n > 0) {
		ssize_t w = pwrite(fd, q, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		q += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

static int
fdatasync_retry(int fd)
{
	int rc;

	while ((rc = fdatasync(fd)) < 0 && errno == EINTR)
		;
	return rc;
}

struct file_src {
	int fd;
	struct buf *b;
};

static const unsigned char *
file_get(void *arg, uint64_t off, size_t n)
{
	struct file_src *f = arg;

	buf_reset(f->b);
	buf_reserve(f->b, n);
	if (pread_full(f->fd, f->b->data, n, off) < 0)
		return NULL;
	return f->b->data;
}

static void
scanbuf_trim(struct spool *s)
{
	if (s->scanbuf.cap > ((size_t)1 << 20))
		buf_free(&s->scanbuf);
}

static void
bad_add(struct seg *g, uint64_t off, uint64_t end)
{
	size_t i = g->nbad;

	g->bad = xrealloc(g->bad, (g->nbad + 1) * sizeof(*g->bad));
	while (i > 0 && g->bad[i - 1].off > off) {
		g->bad[i] = g->bad[i - 1];
		i--;
	}
	g->bad[i].off = off;
	g->bad[i].end = end;
	g->nbad++;
}

/* Past any bad ranges that start at or cover off. */
static uint64_t
bad_skip(const struct seg *g, uint64_t off)
{
	for (size_t i = 0; i < g->nbad; i++)
		if (off >= g->bad[i].off && off < g->bad[i].end)
			off = g->bad[i].end;
	return off;
}

/* Copies [off, off + len) of segment g to corrupt/ and logs it. The bytes
 * count as moved aside even when the copy fails: replay skips them all
 * the same, and the warning says they are lost. */
static void
move_aside(struct spool *s, struct seg *g, int fd, uint64_t off, uint64_t len,
    const char *when)
{
	char seg[SEG_NAME_LEN + 1], name[80];
	unsigned char *chunk = NULL;
	int cfd = -1, dfd, ok = 0;

	seg_name(seg, sizeof(seg), g->num);
	snprintf(name, sizeof(name), CORRUPT_DIR "/%016" PRIu64 "-%" PRIu64
	    ".bad", g->num, off);
	if (mkdirat(s->dirfd, CORRUPT_DIR, 0700) == 0) {
		if (fsync(s->dirfd) < 0)
			log_warn("spool: cannot fsync %s", s->dir);
	} else if (errno != EEXIST) {
		log_warn("spool: cannot create %s/" CORRUPT_DIR, s->dir);
		goto out;
	}
	cfd = openat(s->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600);
	if (cfd < 0) {
		log_warn("spool: cannot create %s/%s", s->dir, name);
		goto out;
	}
	chunk = xmalloc(SPOOL_SCAN_CHUNK);
	for (uint64_t done = 0; done < len;) {
		size_t n = len - done < SPOOL_SCAN_CHUNK ? (size_t)(len - done) :
		    SPOOL_SCAN_CHUNK;

		if (pread_full(fd, chunk, n, off + done) < 0) {
			log_warn("spool: %s/%s: cannot read at offset %" PRIu64,
			    s->dir, seg, off + done);
			goto out;
		}
		if (pwrite_full(cfd, chunk, n, done) < 0) {
			log_warn("spool: cannot write %s/%s", s->dir, name);
			goto out;
		}
		done += n;
	}
	if (fsync(cfd) < 0) {
		log_warn("spool: cannot fsync %s/%s", s->dir, name);
		goto out;
	}
	/* The new name must last as long as the bytes it saves. */
	dfd = openat(s->dirfd, CORRUPT_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (fsync(dfd) < 0)
			log_warn("spool: cannot fsync %s/" CORRUPT_DIR, s->dir);
		close(dfd);
	}
	ok = 1;
out:
	free(chunk);
	if (cfd >= 0)
		close(cfd);
	if (ok)
		log_warnx("spool: %s/%s: %" PRIu64 " bad bytes at offset %" PRIu64
		    " (found %s), moved aside to %s/%s; replay skips them", s->dir,
		    seg, len, off, when, s->dir, name);
	else
		log_warnx("spool: %s/%s: %" PRIu64 " bad bytes at offset %" PRIu64
		    " (found %s) could not be saved; replay skips them and they "
		    "are lost with the segment", s->dir, seg, len, off, when);
}

/* ---- open ---------------------------------------------------------------- */

static void
seg_push(struct spool *s, struct seg *g)
{
	if (s->nsegs == s->capsegs) {
		s->capsegs = s->capsegs ? s->capsegs * 2 : 16;
		s->segs = xrealloc(s->segs, s->capsegs * sizeof(*s->segs));
	}
	s->segs[s->nsegs++] = g;
}

static void
seg_free(struct seg *g)
{
	if (g->fd >= 0)
		close(g->fd);
	free(g->bad);
	free(g);
}

static int
seg_cmp(const void *a, const void *b)
{
	const struct seg *x = *(struct seg *const *)a, *y = *(struct seg *const *)b;

	return x->num < y->num ? -1 : x->num > y->num;
}

static int
list_segments(struct spool *s, char *err, size_t errlen)
{
	int fd = fcntl(s->dirfd, F_DUPFD_CLOEXEC, 0);
	DIR *d;
	struct dirent *de;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		snprintf(err, errlen, "%s: cannot list: %s", s->dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		size_t digits = strspn(n, "0123456789");
		struct seg *g;

		if (digits != 16 || strcmp(n + 16, ".spool") != 0)
			continue;
		g = xcalloc(1, sizeof(*g));
		g->num = strtoull(n, NULL, 10);
		g->fd = -1;
		seg_push(s, g);
	}
	closedir(d);
	if (s->nsegs > 1)
		qsort(s->segs, s->nsegs, sizeof(*s->segs), seg_cmp);
	return 0;
}

/* The highest segment number named in corrupt/, 0 if none. New segments
 * are numbered above it, so a file there is never overwritten by one from
 * a later segment of the same number. */
static uint64_t
corrupt_max_num(struct spool *s)
{
	int fd = openat(s->dirfd, CORRUPT_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	uint64_t max = 0;
	DIR *d;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		uint64_t num;

		if (strspn(de->d_name, "0123456789") != 16 || de->d_name[16] != '-')
			continue;
		num = strtoull(de->d_name, NULL, 10);
		if (num > max)
			max = num;
	}
	closedir(d);
	return max;
}

/* Sets s->seed from <dir>/key; creates the key when the spool has no
 * segment, and refuses segments without one (see the top comment). After
 * list_segments. */
static int
load_key(struct spool *s, char *err, size_t errlen)
{
	unsigned char key[SPOOL_KEY_LEN + 1];	/* one more: a longer file */
	struct stat st;
	size_t got = 0;
	ssize_t n;
	int fd;

	if ((fd = openat(s->dirfd, KEY_FILE, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) >= 0) {
		if (fstat(fd, &st) < 0) {
			snprintf(err, errlen, "%s/" KEY_FILE ": %s", s->dir,
			    strerror(errno));
			close(fd);
			return -1;
		}
		for (;;) {
			n = read(fd, key + got, sizeof(key) - got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0 || (got += (size_t)n) == sizeof(key))
				break;
		}
		close(fd);
		if (n < 0 || got != SPOOL_KEY_LEN || !S_ISREG(st.st_mode)) {
			sodium_memzero(key, sizeof(key));
			if (n < 0)
				snprintf(err, errlen, "%s/" KEY_FILE ": cannot "
				    "read: %s", s->dir, strerror(errno));
			else
				snprintf(err, errlen, "%s/" KEY_FILE ": not a "
				    "spool key (%s%zu bytes, want a file of %d); "
				    "the spool's records cannot be verified without "
				    "it", s->dir, got > SPOOL_KEY_LEN ? "over " : "",
				    got > SPOOL_KEY_LEN ? (size_t)SPOOL_KEY_LEN : got,
				    SPOOL_KEY_LEN);
			return -1;
		}
		if (st.st_mode & 077)
			log_warnx("spool: %s/" KEY_FILE " can be read by others "
			    "(mode %03o): whoever reads it can forge spool "
			    "records; chmod 600 it", s->dir,
			    (unsigned)(st.st_mode & 0777));
		s->seed = spool_key_seed(key);
		sodium_memzero(key, sizeof(key));
		return 0;
	}
	if (errno != ENOENT) {
		snprintf(err, errlen, "%s/" KEY_FILE ": cannot open: %s", s->dir,
		    strerror(errno));
		return -1;
	}
	if (s->nsegs > 0) {
		snprintf(err, errlen, "%s: %zu segment file%s but no key file ("
		    KEY_FILE "): their records cannot be verified (written "
		    "before spools had keys, or the key was deleted); move the "
		    "*.spool files out of the directory to start with an empty "
		    "spool", s->dir, s->nsegs, s->nsegs == 1 ? "" : "s");
		return -1;
	}
	/* A new spool: nothing in it yet, no segment before the key is
	 * durable. A key.tmp is what a crash left here. */
	if (sodium_init() < 0) {
		snprintf(err, errlen, "%s: libsodium failed to initialise", s->dir);
		return -1;
	}
	randombytes_buf(key, SPOOL_KEY_LEN);
	if ((unlinkat(s->dirfd, KEY_TMP, 0) < 0 && errno != ENOENT) ||
	    (fd = openat(s->dirfd, KEY_TMP, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		snprintf(err, errlen, "%s/" KEY_TMP ": cannot create: %s", s->dir,
		    strerror(errno));
		sodium_memzero(key, sizeof(key));
		return -1;
	}
	if (pwrite_full(fd, key, SPOOL_KEY_LEN, 0) < 0 || fsync(fd) < 0) {
		snprintf(err, errlen, "%s/" KEY_TMP ": cannot write: %s", s->dir,
		    strerror(errno));
		close(fd);
		unlinkat(s->dirfd, KEY_TMP, 0);
		sodium_memzero(key, sizeof(key));
		return -1;
	}
	close(fd);
	if (renameat(s->dirfd, KEY_TMP, s->dirfd, KEY_FILE) < 0 ||
	    fsync(s->dirfd) < 0) {
		snprintf(err, errlen, "%s/" KEY_FILE ": cannot create: %s", s->dir,
		    strerror(errno));
		sodium_memzero(key, sizeof(key));
		return -1;
	}
	s->seed = spool_key_seed(key);
	sodium_memzero(key, sizeof(key));
	log_info("spool: %s: created a new key", s->dir);
	return 0;
}

/* Scans segment g at open, as the comment at the top says. */
static int
recover_segment(struct spool *s, struct seg *g, int newest, uint64_t *last_seq,
    char *err, size_t errlen)
{
	char name[SEG_NAME_LEN + 1];
	struct file_src fs;
	struct spool_scan sc;
	struct spool_scan_item it;
	struct stat st;
	int rc;

	seg_name(name, sizeof(name), g->num);
	if ((g->fd = openat(s->dirfd, name, O_RDWR | O_CLOEXEC)) < 0 ||
	    fstat(g->fd, &st) < 0) {
		snprintf(err, errlen, "%s/%s: cannot open: %s", s->dir, name,
		    strerror(errno));
		return -1;
	}
	fs.fd = g->fd;
	fs.b = &s->scanbuf;
	memset(&sc, 0, sizeof(sc));
	sc.get = file_get;
	sc.arg = &fs;
	sc.size = (uint64_t)st.st_size;
	sc.last_seq = *last_seq;
	sc.seed = s->seed;
	g->size = sc.size;
	while ((rc = spool_scan_next(&sc, &it)) != SPOOL_SCAN_END) {
		if (rc < 0) {
			snprintf(err, errlen, "%s/%s: cannot read: %s", s->dir,
			    name, strerror(errno));
			return -1;
		}
		if (rc == SPOOL_SCAN_GOOD) {
			s->records++;
			continue;
		}
		if (rc == SPOOL_SCAN_TAIL && newest) {
			/* The append that wrote it never returned 0, unless a
			 * damaged length hides records: then keep a copy. */
			if (it.hidden) {
				log_warnx("spool: %s/%s: the damaged record at "
				    "offset %" PRIu64 " claims the end of the "
				    "file, where records decode: a damaged length "
				    "or a quote in a body; none is replayed, the "
				    "bytes are copied and cut off", s->dir, name,
				    it.off);
				move_aside(s, g, g->fd, it.off, it.len, "at open");
				s->corrupt++;
			} else {
				log_info("spool: %s/%s: dropping a torn record at "
				    "the end (offset %" PRIu64 ", %" PRIu64 " "
				    "bytes), never acknowledged", s->dir, name,
				    it.off, it.len);
			}
			if (ftruncate(g->fd, (off_t)it.off) < 0 ||
			    fdatasync_retry(g->fd) < 0) {
				snprintf(err, errlen, "%s/%s: cannot truncate: %s",
				    s->dir, name, strerror(errno));
				return -1;
			}
			g->size = it.off;
			continue;
		}
		move_aside(s, g, g->fd, it.off, it.len, "at open");
		bad_add(g, it.off, it.off + it.len);
		s->corrupt++;
	}
	*last_seq = sc.last_seq;
	s->bytes += g->size;
	if (!newest) {
		/* Opened again when replay gets there; fds stay few. */
		close(g->fd);
		g->fd = -1;
	}
	scanbuf_trim(s);
	return 0;
}

struct spool *
spool_open(const char *dir, uint64_t max_bytes, char *err, size_t errlen)
{
	struct spool *s = xcalloc(1, sizeof(*s));
	uint64_t last_seq = 0;

	s->dir = xstrdup(dir);
	s->dirfd = -1;
	pthread_mutex_init(&s->append_mu, NULL);
	pthread_mutex_init(&s->mu, NULL);
	spool_set_max(s, max_bytes);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: cannot create: %s", dir, strerror(errno));
		goto fail;
	}
	if ((s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", dir, strerror(errno));
		goto fail;
	}
	/* Two processes appending to one spool would interleave records. */
	if (flock(s->dirfd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "%s: %s", dir, errno == EWOULDBLOCK ?
		    "in use by another process" : strerror(errno));
		goto fail;
	}
	if (list_segments(s, err, errlen) < 0 || load_key(s, err, errlen) < 0)
		goto fail;
	for (size_t i = 0; i < s->nsegs; i++)
		if (recover_segment(s, s->segs[i], i + 1 == s->nsegs, &last_seq,
		    err, errlen) < 0)
			goto fail;
	buf_free(&s->scanbuf);
	s->next_seq = last_seq + 1;
	s->next_num = corrupt_max_num(s) + 1;
	if (s->nsegs && s->segs[s->nsegs - 1]->num >= s->next_num)
		s->next_num = s->segs[s->nsegs - 1]->num + 1;
	s->rd.seg = s->nsegs ? s->segs[0]->num : s->next_num;
	s->cm = s->rd;
	return s;
fail:
	spool_close(s);
	return NULL;
}

void
spool_set_max(struct spool *s, uint64_t max_bytes)
{
	pthread_mutex_lock(&s->mu);
	s->max_bytes = max_bytes;
	s->seg_size = seg_size_for(max_bytes);
	pthread_mutex_unlock(&s->mu);
}

void
spool_close(struct spool *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nsegs; i++)
		seg_free(s->segs[i]);
	free(s->segs);
	if (s->dirfd >= 0)
		close(s->dirfd);	/* and the lock with it */
	buf_free(&s->scanbuf);
	pthread_mutex_destroy(&s->append_mu);
	pthread_mutex_destroy(&s->mu);
	free(s->dir);
	free(s);
}

/* ---- append -------------------------------------------------------------- */

static struct seg *
seg_create(struct spool *s, uint64_t num)
{
	char name[SEG_NAME_LEN + 1];
	struct seg *g;
	int fd, saved;

	seg_name(name, sizeof(name), num);
	fd = openat(s->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_warn("spool: cannot create %s/%s", s->dir, name);
		return NULL;
	}
	/* Records in it are acknowledged only once its name is durable. */
	if (fsync(s->dirfd) < 0) {
		saved = errno;
		log_warn("spool: cannot fsync %s", s->dir);
		close(fd);
		unlinkat(s->dirfd, name, 0);
		errno = saved;
		return NULL;
	}
	g = xcalloc(1, sizeof(*g));
	g->num = num;
	g->fd = fd;
	return g;
}

/* Deletes segments already taken out of the list; outside mu. */
static void
seg_delete(struct spool *s, struct seg **gone, size_t n)
{
	char name[SEG_NAME_LEN + 1];

	for (size_t i = 0; i < n; i++) {
		seg_name(name, sizeof(name), gone[i]->num);
		if (unlinkat(s->dirfd, name, 0) < 0 && errno != ENOENT)
			log_warn("spool: cannot delete %s/%s", s->dir, name);
		seg_free(gone[i]);
	}
	free(gone);
}

int
spool_append(struct spool *s, struct spool_rec *recs, size_t n)
{
	struct buf out = BUF_INIT;
	struct seg *g, *stale = NULL;
	uint64_t off = 0, old_num = 0;
	int fresh, saved, old_empty = 0;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!spool_rec_valid(&recs[i])) {
			errno = EINVAL;
			return -1;
		}
	pthread_mutex_lock(&s->append_mu);
	for (size_t i = 0; i < n; i++) {
		recs[i].seq = s->next_seq + i;
		spool_encode(&out, &recs[i], s->seed);
	}
	pthread_mutex_lock(&s->mu);
	if (out.len > s->max_bytes || s->bytes > s->max_bytes - out.len) {
		pthread_mutex_unlock(&s->mu);
		pthread_mutex_unlock(&s->append_mu);
		buf_free(&out);
		errno = ENOSPC;
		return -1;
	}
	g = s->nsegs ? s->segs[s->nsegs - 1] : NULL;
	fresh = g == NULL || g->retired ||
	    (g->size > 0 && g->size + out.len > s->seg_size);
	if (!fresh) {
		s->appending = 1;
		off = g->size;
	} else if (g != NULL) {
		/* g may be gone by the time the new segment is in the list. */
		old_num = g->num;
		old_empty = g->retired && g->size == 0;
	}
	pthread_mutex_unlock(&s->mu);

	if (fresh) {
		struct seg *ng = seg_create(s, s->next_num);

		if (ng == NULL) {
			saved = errno;
			pthread_mutex_unlock(&s->append_mu);
			buf_free(&out);
			errno = saved;
			return -1;
		}
		pthread_mutex_lock(&s->mu);
		s->next_num++;
		/* A retired segment left empty holds nothing to replay: drop
		 * it, so a full disk does not leave one empty file per try. */
		if (old_empty && s->nsegs > 0 &&
		    s->segs[s->nsegs - 1]->num == old_num) {
			stale = s->segs[--s->nsegs];
			s->bytes -= stale->size;
		}
		seg_push(s, ng);
		s->appending = 1;
		g = ng;
		pthread_mutex_unlock(&s->mu);
		if (stale) {
			struct seg **gone = xmalloc(sizeof(*gone));

			gone[0] = stale;
			seg_delete(s, gone, 1);
		}
	}
	/* Seqs are not handed out again, even if this fails: the bytes may
	 * survive a failed truncation. */
	s->next_seq += n;

	if (pwrite_full(g->fd, out.data, out.len, off) < 0 ||
	    fdatasync_retry(g->fd) < 0) {
		char name[SEG_NAME_LEN + 1];

		saved = errno;
		seg_name(name, sizeof(name), g->num);
		log_warn("spool: %s/%s: cannot append %zu records", s->dir, name, n);
		if (ftruncate(g->fd, (off_t)off) < 0)
			log_warn("spool: %s/%s: cannot truncate back to %" PRIu64,
			    s->dir, name, off);
		pthread_mutex_lock(&s->mu);
		g->retired = 1;
		s->appending = 0;
		pthread_mutex_unlock(&s->mu);
		pthread_mutex_unlock(&s->append_mu);
		buf_free(&out);
		errno = saved;
		return -1;
	}
	pthread_mutex_lock(&s->mu);
	g->size = off + out.len;
	s->bytes += out.len;
	s->records += n;
	s->appended += n;
	s->appending = 0;
	pthread_mutex_unlock(&s->mu);
	pthread_mutex_unlock(&s->append_mu);
	buf_free(&out);
	return 0;
}

/* ---- replay -------------------------------------------------------------- */

/* The first segment numbered num or above, or NULL. Under mu. */
static struct seg *
seg_find(struct spool *s, uint64_t num, size_t *idx)
{
	for (size_t i = 0; i < s->nsegs; i++)
		if (s->segs[i]->num >= num) {
			*idx = i;
			return s->segs[i];
		}
	return NULL;
}

/* Moves p past bad ranges and the ends of older segments, to where the
 * next record would start. Returns its segment, NULL if there is none.
 * Under mu. */
static struct seg *
pos_norm(struct spool *s, struct pos *p)
{
	struct seg *g;
	size_t i;

	while ((g = seg_find(s, p->seg, &i)) != NULL) {
		if (g->num != p->seg) {
			p->seg = g->num;
			p->off = 0;
		}
		p->off = bad_skip(g, p->off);
		if (p->off < g->size || i + 1 == s->nsegs)
			return g;
		p->seg = s->segs[i + 1]->num;
		p->off = 0;
	}
	return NULL;
}

/* Takes out of the list the segments wholly before s->cm, and the newest
 * when everything is committed; returns them for seg_delete. Under mu. */
static size_t
drop_committed(struct spool *s, struct seg ***gone)
{
	size_t n = 0, k;

	*gone = NULL;
	for (k = 0; k < s->nsegs; k++) {
		struct seg *g = s->segs[k];
		int newest = k + 1 == s->nsegs;

		if (newest) {
			/* All of it committed, nothing being added to it, and
			 * no batch handed out beyond it. */
			if (s->appending || !pos_eq(s->rd, s->cm) ||
			    g->num != s->cm.seg || s->cm.off < g->size)
				break;
			/* The spool is empty: the next append starts afresh. */
			s->records = 0;
			s->rd.seg = s->cm.seg = s->next_num;
			s->rd.off = s->cm.off = 0;
		} else if (g->num > s->cm.seg ||
		    (g->num == s->cm.seg && s->cm.off < g->size)) {
			break;
		}
		s->bytes -= g->size;
	}
	if (k == 0)
		return 0;
	*gone = xmalloc(k * sizeof(**gone));
	memcpy(*gone, s->segs, k * sizeof(**gone));
	memmove(s->segs, s->segs + k, (s->nsegs - k) * sizeof(*s->segs));
	s->nsegs -= k;
	n = k;
	return n;
}

/* A record at off that does not decode, in a segment whose bytes up to
 * limit were once acknowledged: moves the bad bytes aside and skips them.
 * Returns 0, or -1 on an I/O error. */
static int
read_damaged(struct spool *s, struct seg *g, int fd, uint64_t off,
    uint64_t limit)
{
	struct file_src fs = { fd, &s->scanbuf };
	struct spool_scan sc;
	struct spool_scan_item it;
	int rc;

	memset(&sc, 0, sizeof(sc));
	sc.get = file_get;
	sc.arg = &fs;
	sc.size = limit;
	sc.off = off;
	sc.last_seq = s->last_seq;
	sc.seed = s->seed;
	rc = spool_scan_next(&sc, &it);
	scanbuf_trim(s);
	if (rc < 0)
		return -1;
	if (rc != SPOOL_SCAN_BAD && rc != SPOOL_SCAN_TAIL) {
		/* It decodes now: the first read was not what is on disk. */
		errno = EIO;
		return -1;
	}
	move_aside(s, g, fd, it.off, it.len, "during replay");
	pthread_mutex_lock(&s->mu);
	bad_add(g, it.off, it.off + it.len);
	s->corrupt++;
	/* Bad bytes up to the durable end: records appended after them could
	 * lie in the span a damaged header claims, and be lost at the next
	 * open. Appends go to a new segment. */
	if (rc == SPOOL_SCAN_TAIL)
		g->retired = 1;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static void
batch_push(struct spool_batch *b, const struct spool_rec *r, size_t body_off)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 16;
		b->recs = xrealloc(b->recs, b->cap * sizeof(*b->recs));
		b->body_off = xrealloc(b->body_off, b->cap * sizeof(*b->body_off));
	}
	b->recs[b->n] = *r;
	b->body_off[b->n] = body_off;
	b->n++;
}

/* Longer than most functions here on purpose: the read position is taken
 * under mu, the segment read with mu released, and the position handed
 * back under mu again; that lock discipline is easier to check when the
 * three steps stand in one function. */
int
spool_read(struct spool *s, size_t max_recs, size_t max_bytes,
    struct spool_batch *b)
{
	char name[SEG_NAME_LEN + 1];
	unsigned char pre[SPOOL_PREFIX_MAX];
	struct seg **gone = NULL, *g;
	struct pos start, p;
	size_t ngone = 0, body_total = 0;
	uint64_t limit;
	int fd, idle;

	b->n = 0;
	buf_reset(&b->data);
	if (max_recs == 0)
		max_recs = 1;
	pthread_mutex_lock(&s->mu);
	idle = pos_eq(s->rd, s->cm);
	pos_norm(s, &s->rd);
	if (idle) {
		/* Nothing handed out: what the reader passed over (bad
		 * bytes, emptied segments) is as good as committed. */
		s->cm = s->rd;
		ngone = drop_committed(s, &gone);
	}
	g = pos_norm(s, &s->rd);
	if (g == NULL || s->rd.off >= g->size) {
		pthread_mutex_unlock(&s->mu);
		seg_delete(s, gone, ngone);
		return 0;
	}
	seg_name(name, sizeof(name), g->num);
	if (g->fd < 0 && (g->fd = openat(s->dirfd, name, O_RDWR | O_CLOEXEC)) < 0) {
		pthread_mutex_unlock(&s->mu);
		seg_delete(s, gone, ngone);
		log_warn("spool: cannot open %s/%s", s->dir, name);
		return -1;
	}
	fd = g->fd;
	limit = g->size;
	start = p = s->rd;
	pthread_mutex_unlock(&s->mu);
	seg_delete(s, gone, ngone);

	while (b->n < max_recs && p.off < limit) {
		struct spool_rec r;
		size_t n = limit - p.off < SPOOL_PREFIX_MAX ?
		    (size_t)(limit - p.off) : SPOOL_PREFIX_MAX;
		size_t used, rlen, at;
		uint32_t blen = 0;
		int rc;

		if (pread_full(fd, pre, n, p.off) < 0)
			goto ioerr;
		rc = spool_frame_check(pre, n, &r, &used, &blen, s->seed);
		/* Sound but cut short by the durable end: damaged too. With a
		 * full prefix, the length and the body length are known. */
		if (rc == 0 && n == limit - p.off)
			rc = -1;
		rlen = rc == 1 ? used :
		    rc == 0 ? SPOOL_HDR_LEN + (size_t)spool_payload_len(pre) : 0;
		if (rc < 0 || rlen > limit - p.off) {
			if (read_damaged(s, g, fd, p.off, limit) < 0)
				goto ioerr;
			p.off = bad_skip(g, p.off);
			continue;
		}
		if (b->n > 0 && body_total + blen > max_bytes)
			break;
		buf_reserve(&b->data, rlen);
		at = b->data.len;
		if (rc == 1) {
			memcpy(b->data.data + at, pre, rlen);
		} else {
			if (pread_full(fd, b->data.data + at, rlen, p.off) < 0)
				goto ioerr;
			if (spool_decode(b->data.data + at, rlen, &r, &used,
			    s->seed) != 1) {
				if (read_damaged(s, g, fd, p.off, limit) < 0)
					goto ioerr;
				p.off = bad_skip(g, p.off);
				continue;
			}
		}
		/* r.body points into pre or data: keep its offset, as data
		 * may move as it grows. */
		batch_push(b, &r, at + (rlen - r.body_len));
		b->data.len += rlen;
		body_total += r.body_len;
		s->last_seq = r.seq;
		p.off = bad_skip(g, p.off + rlen);
	}
	for (size_t i = 0; i < b->n; i++)
		b->recs[i].body = b->data.data + b->body_off[i];
	pthread_mutex_lock(&s->mu);
	if (b->n > 0) {
		b->start_seg = start.seg;
		b->start_off = start.off;
		b->end_seg = p.seg;
		b->end_off = p.off;
	}
	/* Bad bytes passed over count as read, even with no record, and as
	 * committed when nothing else is out. */
	s->rd = p;
	if (idle && b->n == 0)
		s->cm = p;
	pthread_mutex_unlock(&s->mu);
	return (int)b->n;

ioerr:
	log_warn("spool: %s/%s: cannot read at offset %" PRIu64, s->dir, name,
	    p.off);
	if (b->n == 0)
		return -1;
	/* Hand out what was read; the error comes again next time. */
	for (size_t i = 0; i < b->n; i++)
		b->recs[i].body = b->data.data + b->body_off[i];
	pthread_mutex_lock(&s->mu);
	b->start_seg = start.seg;
	b->start_off = start.off;
	b->end_seg = p.seg;
	b->end_off = p.off;
	s->rd = p;
	pthread_mutex_unlock(&s->mu);
	return (int)b->n;
}

void
spool_commit(struct spool *s, struct spool_batch *b)
{
	struct pos end = { b->end_seg, b->end_off };
	struct seg **gone;
	size_t ngone;

	if (b->n == 0)
		return;
	pthread_mutex_lock(&s->mu);
	s->replayed += b->n;
	s->records -= b->n < s->records ? b->n : s->records;
	if (pos_lt(s->cm, end))
		s->cm = end;
	pos_norm(s, &s->cm);
	/* The reader may sit at the same place unnormalized. */
	if (!pos_lt(s->cm, s->rd) && !pos_lt(s->rd, end))
		s->rd = s->cm;
	ngone = drop_committed(s, &gone);
	pthread_mutex_unlock(&s->mu);
	seg_delete(s, gone, ngone);
}

void
spool_rewind(struct spool *s, struct spool_batch *b)
{
	if (b->n == 0)
		return;
	pthread_mutex_lock(&s->mu);
	s->rd.seg = b->start_seg;
	s->rd.off = b->start_off;
	pthread_mutex_unlock(&s->mu);
}

void
spool_batch_free(struct spool_batch *b)
{
	free(b->recs);
	free(b->body_off);
	buf_free(&b->data);
	memset(b, 0, sizeof(*b));
}

void
spool_stats(struct spool *s, struct spool_stats *st)
{
	pthread_mutex_lock(&s->mu);
	st->bytes = s->bytes;
	st->records = s->records;
	st->max_bytes = s->max_bytes;
	st->appended = s->appended;
	st->replayed = s->replayed;
	st->corrupt = s->corrupt;
	pthread_mutex_unlock(&s->mu);
}

int
spool_pending(struct spool *s)
{
	struct pos p;
	struct seg *g;
	int pending;

	pthread_mutex_lock(&s->mu);
	p = s->rd;
	g = pos_norm(s, &p);
	pending = g != NULL && p.off < g->size;
	pthread_mutex_unlock(&s->mu);
	return pending;
}
