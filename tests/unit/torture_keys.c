/* torture_keys.c - the small-order CURVE key check (common/curvekey.c) and
 * the supplier table on disk (daemon/keycache.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "curvekey.h"
#include "keycache.h"

/* libsodium refuses each small-order point in crypto_scalarmult (its
 * public face of has_small_order): our list must refuse the same, and
 * nothing that libsodium takes. */
static void
test_small_order_matches_libsodium(void **state)
{
	static const char *const hex[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	};
	unsigned char n[32], q[32], p[32];
	char z85[CURVE_Z85_LEN + 1];

	(void)state;
	assert_true(sodium_init() >= 0);
	randombytes_buf(n, sizeof(n));
	for (size_t i = 0; i < sizeof(hex) / sizeof(hex[0]); i++) {
		for (int top = 0; top < 2; top++) {
			assert_int_equal(sodium_hex2bin(p, 32, hex[i], 64, NULL, NULL,
			    NULL), 0);
			p[31] |= top ? 0x80 : 0;
			assert_int_equal(crypto_scalarmult(q, n, p), -1);
			assert_true(curvekey_raw_small_order(p));
			assert_non_null(zmq_z85_encode(z85, p, 32));
			assert_true(curvekey_small_order(z85));
		}
	}
	assert_true(curvekey_small_order("0000000000000000000000000000000000000000"));
	/* Real keys are not refused. */
	for (int i = 0; i < 1000; i++) {
		char pub[41], sec[41];
		assert_int_equal(zmq_curve_keypair(pub, sec), 0);
		assert_false(curvekey_small_order(pub));
	}
	assert_false(curvekey_small_order("not a key"));
}

static void
make_supplier(struct supplier *s, int32_t id, const char *name)
{
	char pub[41], sec[41];

	memset(s, 0, sizeof(*s));
	s->id = id;
	snprintf(s->name, sizeof(s->name), "%s", name);
	assert_int_equal(zmq_curve_keypair(pub, sec), 0);
	assert_non_null(zmq_z85_decode(s->key, pub));
	assert_int_equal(curvekey_fingerprint(pub, s->fingerprint), 0);
}

static void
test_keycache_round_trip_and_damage(void **state)
{
	char dir[] = "/tmp/torture_keys.XXXXXX", path[128], err[600];
	unsigned char last[SHA256_LEN] = { 0 };
	struct supplier in[3], *out = NULL;
	size_t n = 99;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/suppliers", dir);
	assert_int_equal(keycache_load(dir, &out, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file or directory"));

	make_supplier(&in[0], 1, "skolplattform");
	make_supplier(&in[1], 7, "stadsnat");
	make_supplier(&in[2], 12, "m365.tenant-op");
	assert_int_equal(keycache_save(dir, in, 3, last, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(keycache_load(dir, &out, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(out[i].id, in[i].id);
		assert_string_equal(out[i].name, in[i].name);
		assert_memory_equal(out[i].key, in[i].key, 32);
		assert_string_equal(out[i].fingerprint, in[i].fingerprint);
	}
	free(out);

	/* The same table again is not rewritten. */
	time_t before = st.st_mtime;
	ino_t ino = st.st_ino;
	assert_int_equal(keycache_save(dir, in, 3, last, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_ino, ino);
	assert_int_equal(st.st_mtime, before);

	/* An empty table is a table. */
	assert_int_equal(keycache_save(dir, in, 0, last, err, sizeof(err)), 0);
	assert_int_equal(keycache_load(dir, &out, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	free(out);

	/* One byte changed: the checksum fails. */
	assert_int_equal(keycache_save(dir, in, 2, last, err, sizeof(err)), 0);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "X", 1, 20), 1);
	close(fd);
	assert_int_equal(keycache_load(dir, &out, &n, err, sizeof(err)), -1);
	char want[200];
	snprintf(want, sizeof(want), "%s: checksum mismatch (damaged file)", path);
	assert_string_equal(err, want);

	/* Truncated: no checksum line. */
	assert_int_equal(truncate(path, 30), 0);
	assert_int_equal(keycache_load(dir, &out, &n, err, sizeof(err)), -1);

	/* Readable by others: refused like a secret key. */
	memset(last, 0, sizeof(last));
	assert_int_equal(keycache_save(dir, in, 2, last, err, sizeof(err)), 0);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(keycache_load(dir, &out, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "must not be readable by group or others"));

	/* A directory that does not exist: an error, no file. */
	memset(last, 0, sizeof(last));
	assert_int_equal(keycache_save("/nonexistent/dir", in, 2, last, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/dir/.suppliers.tmp: No such file "
	    "or directory");
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_order_matches_libsodium),
		cmocka_unit_test(test_keycache_round_trip_and_damage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
