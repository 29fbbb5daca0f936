/* torture_config.c - bevisd.conf (common/config.c): defaults, a good file,
 * every error as "file:line: reason", sizes, and the sample config that
 * must name every option of the table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "config.h"
#include "config_source.h"
#include "keyfile.h"
#include "proto.h"

#define SAMPLE_CONFIG	"conf/bevisd.conf"

/* Writes text to a new temporary file; the caller unlinks path. */
static void
write_temp(char path[64], const char *text)
{
	int fd;
	size_t len = strlen(text);

	snprintf(path, 64, "/tmp/torture_config.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* Loads text over the defaults and expects "path:line: reason". */
static void
load_err_at(const char *text, int line, const char *reason, const char *file,
    int srcline)
{
	struct config cfg;
	char path[64], err[512], want[600];
	int rc;

	write_temp(path, text);
	config_defaults(&cfg);
	rc = config_load(path, &cfg, err, sizeof(err));
	config_free(&cfg);
	unlink(path);
	if (rc == 0)
		fail_msg("%s:%d: accepted, want line %d: %s", file, srcline, line,
		    reason);
	assert_int_equal(rc, -1);
	snprintf(want, sizeof(want), "%s:%d: %s", path, line, reason);
	if (strcmp(err, want) != 0)
		fail_msg("%s:%d: got '%s'\n   want '%s'", file, srcline, err, want);
}

#define LOAD_ERR(text, line, reason) \
	load_err_at(text, line, reason, __FILE__, __LINE__)

static void
load_ok(const char *text, struct config *cfg)
{
	char path[64], err[512] = "";
	int rc;

	write_temp(path, text);
	config_defaults(cfg);
	rc = config_load(path, cfg, err, sizeof(err));
	unlink(path);
	if (rc != 0)
		fail_msg("unexpected error: %s", err);
}

static void
test_defaults(void **state)
{
	struct config cfg;

	(void)state;
	config_defaults(&cfg);
	assert_string_equal(cfg.endpoint, DEFAULT_ENDPOINT);
	assert_string_equal(cfg.endpoint, "tcp://127.0.0.1:7341");
	assert_string_equal(cfg.db, "dbname=bevis");
	assert_int_equal(cfg.writers, 2);
	assert_int_equal(cfg.batch_max_rows, 20000);
	assert_int_equal(cfg.batch_max_bytes, 16L << 20);
	assert_int_equal(cfg.batch_max_ms, 0);
	assert_int_equal(cfg.max_message_size, 16L << 20);
	assert_int_equal(cfg.max_message_size, DEFAULT_MAX_MESSAGE);
	assert_int_equal(cfg.max_inflight_bytes, 256L << 20);
	assert_int_equal(cfg.log_level, LOG_LVL_INFO);
	assert_int_equal(cfg.rules, 1);
	config_free(&cfg);
	assert_null(cfg.endpoint);
	assert_null(cfg.db);
	config_free(&cfg);
}

/* Every default in the table is in range and parses; every option has a
 * section and a help line. */
static void
test_option_table(void **state)
{
	size_t n = 0;

	(void)state;
	for (const struct config_option *o = config_options; o->name; o++, n++) {
		assert_non_null(o->section);
		assert_non_null(o->def);
		assert_non_null(o->help);
		assert_true(o->help[0] != '\0');
		for (const struct config_option *p = config_options; p != o; p++)
			if (strcmp(p->name, o->name) == 0)
				fail_msg("option '%s' twice", o->name);
		if (o->type == OPT_INT || o->type == OPT_SIZE)
			assert_true(o->min <= o->max);
	}
	assert_int_equal(n, 55);
}

static void
test_good_file(void **state)
{
	struct config cfg;

	(void)state;
	load_ok("; a comment\n"
	    "# another comment\n"
	    "\n"
	    "[bevisd]\n"
	    "endpoint = tcp://0.0.0.0:7341\n"
	    "db = host=/run/postgresql dbname=bevis user=bevisd\n"
	    "writers=4\n"
	    "batch_max_rows   =   500   \n"
	    "batch_max_bytes = 1 MiB\n"
	    "batch_max_ms = 10000\n"
	    "max_message_size = 512k\n"
	    "max_inflight_bytes = 1G\n"
	    "log_level = DEBUG ; inline comment\n", &cfg);
	assert_string_equal(cfg.endpoint, "tcp://0.0.0.0:7341");
	/* Only the first '=' separates name and value. */
	assert_string_equal(cfg.db, "host=/run/postgresql dbname=bevis user=bevisd");
	assert_int_equal(cfg.writers, 4);
	assert_int_equal(cfg.batch_max_rows, 500);
	assert_int_equal(cfg.batch_max_bytes, 1L << 20);
	assert_int_equal(cfg.batch_max_ms, 10000);
	assert_int_equal(cfg.max_message_size, 512L << 10);
	assert_int_equal(cfg.max_inflight_bytes, 1L << 30);
	assert_int_equal(cfg.log_level, LOG_LVL_DEBUG);
	config_free(&cfg);

	/* An empty file, a section alone, and CRLF endings. */
	load_ok("", &cfg);
	assert_int_equal(cfg.writers, 2);
	config_free(&cfg);
	load_ok("[bevisd]\n", &cfg);
	assert_string_equal(cfg.db, "dbname=bevis");
	config_free(&cfg);
	load_ok("[bevisd]\r\nwriters = 16\r\nlog_level = warn\r\n", &cfg);
	assert_int_equal(cfg.writers, 16);
	assert_int_equal(cfg.log_level, LOG_LVL_WARN);
	config_free(&cfg);
	/* A section of no interest with nothing in it is fine. */
	load_ok("[other]\n[bevisd]\nwriters = 1\n", &cfg);
	assert_int_equal(cfg.writers, 1);
	config_free(&cfg);
	/* rules: on or off (and the other boolean spellings). */
	load_ok("[bevisd]\nrules = off\n", &cfg);
	assert_int_equal(cfg.rules, 0);
	config_free(&cfg);
	load_ok("[bevisd]\nrules = on\n", &cfg);
	assert_int_equal(cfg.rules, 1);
	config_free(&cfg);
}

static void
test_repeated_option(void **state)
{
	struct config cfg;
	char path[64], err[512];

	(void)state;
	/* The last value wins, and the earlier strings are freed (ASan). */
	load_ok("[bevisd]\ndb = dbname=a\ndb = dbname=b\ndb =\nwriters = 3\n"
	    "writers = 5\n", &cfg);
	assert_string_equal(cfg.db, "");
	assert_int_equal(cfg.writers, 5);
	/* A second load over the same struct replaces, too. */
	write_temp(path, "[bevisd]\ndb = dbname=c\nendpoint = ipc:///run/b.sock\n");
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), 0);
	unlink(path);
	assert_string_equal(cfg.db, "dbname=c");
	assert_string_equal(cfg.endpoint, "ipc:///run/b.sock");
	assert_int_equal(cfg.writers, 5);
	config_free(&cfg);
}

static void
test_log_levels(void **state)
{
	static const struct { const char *name; int level; } levels[] = {
		{ "error", LOG_LVL_ERROR }, { "warning", LOG_LVL_WARN },
		{ "warn", LOG_LVL_WARN }, { "info", LOG_LVL_INFO },
		{ "debug", LOG_LVL_DEBUG }, { "ERROR", LOG_LVL_ERROR },
		{ "Warning", LOG_LVL_WARN },
	};
	struct config cfg;
	char text[128];

	(void)state;
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		snprintf(text, sizeof(text), "[bevisd]\nlog_level = %s\n",
		    levels[i].name);
		load_ok(text, &cfg);
		assert_int_equal(cfg.log_level, levels[i].level);
		config_free(&cfg);
	}
	LOAD_ERR("[bevisd]\nlog_level = loud\n", 2,
	    "log_level: unknown log level 'loud'");
	LOAD_ERR("[bevisd]\nlog_level = 3\n", 2, "log_level: unknown log level '3'");
	LOAD_ERR("[bevisd]\nlog_level =\n", 2, "log_level: unknown log level ''");
	LOAD_ERR("[bevisd]\nlog_level = info # comment\n", 2,
	    "log_level: unknown log level 'info # comment'");
}

static void
test_unknown_names(void **state)
{
	(void)state;
	LOAD_ERR("[bevisd]\nwriters = 2\nbogus = 1\n", 3,
	    "unknown option 'bogus' in section [bevisd]");
	LOAD_ERR("[bevisd]\nWriters = 2\n", 2,
	    "unknown option 'Writers' in section [bevisd]");
	/* An unknown section: its options are unknown there. */
	LOAD_ERR("[bevisd]\nwriters = 2\n\n[nosuch]\nwriters = 3\n", 5,
	    "unknown option 'writers' in section [nosuch]");
	LOAD_ERR("[Bevisd]\nwriters = 3\n", 2,
	    "unknown option 'writers' in section [Bevisd]");
	/* An option before any section. */
	LOAD_ERR("writers = 3\n[bevisd]\n", 1,
	    "unknown option 'writers' in section []");
}

static void
test_bad_values(void **state)
{
	(void)state;
	LOAD_ERR("[bevisd]\nwriters = two\n", 2, "writers: 'two' is not an integer");
	LOAD_ERR("[bevisd]\nwriters = 3x\n", 2, "writers: '3x' is not an integer");
	LOAD_ERR("[bevisd]\nwriters = 3.0\n", 2, "writers: '3.0' is not an integer");
	LOAD_ERR("[bevisd]\nwriters =\n", 2, "writers: '' is not an integer");
	LOAD_ERR("[bevisd]\nwriters = 99999999999999999999\n", 2,
	    "writers: '99999999999999999999' is not an integer");
	LOAD_ERR("[bevisd]\nwriters = 0\n", 2, "writers: 0 is outside 1..16");
	LOAD_ERR("[bevisd]\nwriters = 17\n", 2, "writers: 17 is outside 1..16");
	LOAD_ERR("[bevisd]\nwriters = -1\n", 2, "writers: -1 is outside 1..16");
	LOAD_ERR("[bevisd]\nbatch_max_rows = 1000001\n", 2,
	    "batch_max_rows: 1000001 is outside 1..1000000");
	LOAD_ERR("[bevisd]\nbatch_max_ms = -1\n", 2,
	    "batch_max_ms: -1 is outside 0..10000");
	LOAD_ERR("[bevisd]\nbatch_max_ms = 10001\n", 2,
	    "batch_max_ms: 10001 is outside 0..10000");
	/* Sizes. */
	LOAD_ERR("[bevisd]\nmax_message_size = 16XB\n", 2,
	    "max_message_size: '16XB' is not a size (for example 16MiB)");
	LOAD_ERR("[bevisd]\nmax_message_size = MiB\n", 2,
	    "max_message_size: 'MiB' is not a size (for example 16MiB)");
	LOAD_ERR("[bevisd]\nmax_message_size = -1M\n", 2,
	    "max_message_size: '-1M' is not a size (for example 16MiB)");
	LOAD_ERR("[bevisd]\nmax_message_size = 1023\n", 2,
	    "max_message_size: 1023 is outside 1024..536870912");
	LOAD_ERR("[bevisd]\nmax_message_size = 513MiB\n", 2,
	    "max_message_size: 537919488 is outside 1024..536870912");
	LOAD_ERR("[bevisd]\nbatch_max_bytes = 2G\n", 2,
	    "batch_max_bytes: 2147483648 is outside 1024..1073741824");
}

static void
test_size_limits(void **state)
{
	struct config cfg;

	(void)state;
	/* Both ends of each range are accepted. */
	load_ok("[bevisd]\nmax_inflight_bytes = 1MiB\nbatch_max_bytes = 1k\n"
	    "max_message_size = 512MiB\n", &cfg);
	assert_int_equal(cfg.max_inflight_bytes, 1L << 20);
	assert_int_equal(cfg.batch_max_bytes, 1024);
	assert_int_equal(cfg.max_message_size, 512L << 20);
	config_free(&cfg);
	load_ok("[bevisd]\nmax_inflight_bytes = 16GiB\nbatch_max_bytes = 1GiB\n",
	    &cfg);
	assert_int_equal(cfg.max_inflight_bytes, 1L << 34);
	assert_int_equal(cfg.batch_max_bytes, 1L << 30);
	config_free(&cfg);
	LOAD_ERR("[bevisd]\nmax_inflight_bytes = 1048575\n", 2,
	    "max_inflight_bytes: 1048575 is outside 1048576..17179869184");
	LOAD_ERR("[bevisd]\nmax_inflight_bytes = 17179869185\n", 2,
	    "max_inflight_bytes: 17179869185 is outside 1048576..17179869184");
}

static void
test_syntax_errors(void **state)
{
	(void)state;
	LOAD_ERR("[bevisd]\nno equals sign here\n", 2, "syntax error");
	LOAD_ERR("[bevisd\nwriters = 3\n", 1, "syntax error");
	/* A syntax error is reported as such even when a later line has a bad
	 * value: inih reports the first bad line. */
	LOAD_ERR("[bevisd]\njunk\nwriters = x\n", 2, "syntax error");
	LOAD_ERR("[bevisd\nbogus = 1\n", 1, "syntax error");
	/* inih reads an indented line as the continuation of the value above. */
	LOAD_ERR("[bevisd]\nwriters = 4\n  batch_max_rows = 500\n", 3,
	    "writers: 'batch_max_rows = 500' is not an integer");
	/* The first bad line wins, whatever follows. */
	LOAD_ERR("[bevisd]\nwriters = x\njunk\nbogus = 1\n", 2,
	    "writers: 'x' is not an integer");
	LOAD_ERR("[bevisd]\nwriters = 0\nwriters = x\n", 2,
	    "writers: 0 is outside 1..16");
	LOAD_ERR("[bevisd]\nbogus = 1\nwriters = 0\n", 2,
	    "unknown option 'bogus' in section [bevisd]");
}

/* inih reads lines of at most 199 bytes and takes the rest of a longer
 * line as a line of its own: a long line is an error, never half read. */
static void
test_long_lines(void **state)
{
	struct config cfg;
	char text[1024], value[400];

	(void)state;
	/* 198 characters and LF fit. */
	memset(value, 'x', 188);
	value[188] = '\0';
	snprintf(text, sizeof(text), "[bevisd]\ndb = host=%s\n", value);
	assert_int_equal(strlen("db = host=") + 188, 198);
	load_ok(text, &cfg);
	assert_int_equal(strlen(cfg.db), 5 + 188);
	config_free(&cfg);
	/* One more does not. */
	snprintf(text, sizeof(text), "[bevisd]\ndb = host=%sx\n", value);
	LOAD_ERR(text, 2, "line is longer than 197 characters");
	/* The rest of the line starts with a blank: inih would have taken it
	 * as a new value for db ("dbname=other"). */
	memset(value, 'x', 189);
	value[189] = '\0';
	snprintf(text, sizeof(text), "[bevisd]\nwriters = 3\ndb = host=%s "
	    "dbname=other\nwriters = 4\n", value);
	LOAD_ERR(text, 3, "line is longer than 197 characters");
	/* A long comment is no different. */
	memset(value, '-', 300);
	value[300] = '\0';
	snprintf(text, sizeof(text), "[bevisd]\nwriters = 3\n; %s\n", value);
	LOAD_ERR(text, 3, "line is longer than 197 characters");
	/* An error before the long line comes first. */
	snprintf(text, sizeof(text), "[bevisd]\nwriters = 0\n; %s\n", value);
	LOAD_ERR(text, 2, "writers: 0 is outside 1..16");
}

static void
test_missing_file(void **state)
{
	struct config cfg;
	char err[512];

	(void)state;
	config_defaults(&cfg);
	assert_int_equal(config_load("/nonexistent/dir/bevisd.conf", &cfg, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/dir/bevisd.conf:0: cannot open: "
	    "No such file or directory");
	/* The defaults are untouched. */
	assert_int_equal(cfg.writers, 2);
	/* Only a regular file is read: a directory, a device or a FIFO is
	 * refused at once (a FIFO without a writer would block forever). */
	assert_int_equal(config_load("/tmp", &cfg, err, sizeof(err)), -1);
	assert_string_equal(err, "/tmp:0: cannot open: not a regular file "
	    "(a directory)");
	assert_int_equal(config_load("/dev/null", &cfg, err, sizeof(err)), -1);
	assert_string_equal(err, "/dev/null:0: cannot open: not a regular file "
	    "(a character device)");
	char dir[] = "/tmp/torture_config.XXXXXX", fifo[64];
	assert_non_null(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(config_load(fifo, &cfg, err, sizeof(err)), -1);
	char want[160];
	snprintf(want, sizeof(want), "%s:0: cannot open: not a regular file "
	    "(a FIFO)", fifo);
	assert_string_equal(err, want);
	struct buf b = BUF_INIT;
	assert_int_equal(keyfile_read(fifo, 1, &b, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: not a regular file (a FIFO)", fifo);
	assert_string_equal(err, want);
	buf_free(&b);
	unlink(fifo);
	rmdir(dir);
	assert_int_equal(cfg.writers, 2);
	config_free(&cfg);
}

static void
test_parse_size(void **state)
{
	static const struct { const char *s; long v; } good[] = {
		{ "0", 0 }, { "1", 1 }, { "1048576", 1048576 }, { "1b", 1 },
		{ "512k", 512L << 10 }, { "512K", 512L << 10 },
		{ "512kb", 512L << 10 }, { "512KB", 512L << 10 },
		{ "512KiB", 512L << 10 }, { "512kib", 512L << 10 },
		{ "16M", 16L << 20 }, { "16m", 16L << 20 }, { "16MB", 16L << 20 },
		{ "16MiB", 16L << 20 }, { "16 MiB", 16L << 20 },
		{ "16\tMiB", 16L << 20 }, { "2G", 2L << 30 }, { "2g", 2L << 30 },
		{ "2GB", 2L << 30 }, { "2GiB", 2L << 30 }, { "+5", 5 },
		{ " 7", 7 }, { "007", 7 }, { "16 ", 16 },
		{ "9223372036854775807", 9223372036854775807L },
		{ "8589934591G", 8589934591L << 30 },
	};
	static const char *const bad[] = {
		"", " ", "k", "MiB", "abc", "-1", "-1k", "1.5M", "1,5M", "0x10",
		"16XB", "16 M B", "16MiBs", "16MiB x", "1T", "1TiB", "1e3",
		"16mi", "16i", "9223372036854775808", "9223372036854775807k",
		"8589934592G", "99999999999999999999",
	};
	long v;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = -42;
		if (config_parse_size(good[i].s, &v) != 0)
			fail_msg("'%s' rejected", good[i].s);
		if (v != good[i].v)
			fail_msg("'%s': got %ld, want %ld", good[i].s, v, good[i].v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = -42;
		if (config_parse_size(bad[i], &v) != -1)
			fail_msg("'%s' accepted as %ld", bad[i], v);
		assert_int_equal(v, -42);
	}
}

/* conf/bevisd.conf parses and names every option of the table at the start
 * of a line as "name =", inside the option's section. */
static void
test_sample_config(void **state)
{
	struct config cfg;
	char err[512], line[1024], section[64] = "";
	int found[64] = { 0 };
	size_t nopt = 0;
	FILE *f;

	(void)state;
	for (const struct config_option *o = config_options; o->name; o++)
		nopt++;
	assert_true(nopt <= sizeof(found) / sizeof(found[0]));

	config_defaults(&cfg);
	if (config_load(SAMPLE_CONFIG, &cfg, err, sizeof(err)) != 0) {
		config_free(&cfg);
		fail_msg("%s", err);
	}
	/* What its header says: each value is the default, but for
	 * curve_secret_key, which names where keygen puts the server's key. */
	struct config def;
	config_defaults(&def);
	for (const struct config_option *o = config_options; o->name; o++) {
		const char *a = (const char *)&cfg + o->offset;
		const char *b = (const char *)&def + o->offset;
		int same;

		if (o->type == OPT_STRING)
			same = strcmp(*(char *const *)(const void *)a,
			    *(char *const *)(const void *)b) == 0;
		else if (o->type == OPT_INT || o->type == OPT_SIZE)
			same = *(const long *)(const void *)a ==
			    *(const long *)(const void *)b;
		else
			same = *(const int *)(const void *)a ==
			    *(const int *)(const void *)b;
		if (strcmp(o->name, "curve_secret_key") == 0)
			assert_string_equal(cfg.curve_secret_key,
			    "/etc/bevis/server.key");
		else if (!same)
			fail_msg("%s: %s is not its default %s", SAMPLE_CONFIG,
			    o->name, o->def);
	}
	config_free(&def);
	config_free(&cfg);

	f = fopen(SAMPLE_CONFIG, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *p = line;

		if (*p == '[') {
			char *end = strchr(p, ']');

			assert_non_null(end);
			snprintf(section, sizeof(section), "%.*s", (int)(end - p - 1),
			    p + 1);
			continue;
		}
		for (size_t i = 0; i < nopt; i++) {
			const struct config_option *o = &config_options[i];
			size_t n = strlen(o->name);
			const char *q = p + n;

			if (strncmp(p, o->name, n) != 0)
				continue;
			while (*q == ' ' || *q == '\t')
				q++;
			if (*q == '=' && strcmp(section, o->section) == 0)
				found[i] = 1;
		}
	}
	fclose(f);
	for (size_t i = 0; i < nopt; i++)
		if (!found[i])
			fail_msg("%s: no line '%s =' in section [%s]", SAMPLE_CONFIG,
			    config_options[i].name, config_options[i].section);
}

/* [source NAME] sections (common/config_source.c): report_due_day per
 * source, the last value of a repeated one, and the JSON bevis deadlines
 * passes to bevis_report_deadlines(). */
static void
test_source_sections(void **state)
{
	struct config cfg;
	char path[64], err[512];
	struct buf b = BUF_INIT;

	(void)state;
	write_temp(path, "[source servicedesk]\nreport_due_day = 10\n"
	    "[source skolplattform]\nreport_due_day = 5\n"
	    "[source servicedesk]\nreport_due_day = 12\n");
	config_defaults(&cfg);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), 0);
	unlink(path);
	assert_int_equal(cfg.nsources, 2);
	assert_int_equal(config_source_find(&cfg, "servicedesk")->report_due_day, 12);
	assert_int_equal(config_source_find(&cfg, "skolplattform")->report_due_day, 5);
	assert_null(config_source_find(&cfg, "nobody"));
	config_source_due_json(&cfg, &b);
	assert_string_equal(buf_cstr(&b), "{\"servicedesk\":12,\"skolplattform\":5}");
	buf_free(&b);
	config_free(&cfg);
	assert_null(cfg.sources);

	config_defaults(&cfg);
	config_source_due_json(&cfg, &b);
	assert_string_equal(buf_cstr(&b), "{}");
	buf_free(&b);
	config_free(&cfg);

	load_err_at("[source servicedesk]\nreport_due_day = 29\n", 2,
	    "report_due_day: '29' is not a day of the month from 1 to 28",
	    __FILE__, __LINE__);
	load_err_at("[source servicedesk]\nreport_due_day = 0\n", 2,
	    "report_due_day: '0' is not a day of the month from 1 to 28",
	    __FILE__, __LINE__);
	load_err_at("[source servicedesk]\nreport_due_day = 1x\n", 2,
	    "report_due_day: '1x' is not a day of the month from 1 to 28",
	    __FILE__, __LINE__);
	load_err_at("[source servicedesk]\nreport_due = 10\n", 2,
	    "unknown option 'report_due' in section [source servicedesk] "
	    "(known: report_due_day)", __FILE__, __LINE__);
	load_err_at("[bevisd]\nwriters = 2\n[source Service Desk]\n"
	    "report_due_day = 10\n", 4,
	    "[source Service Desk]: a source name is 1 to 63 of a-z, 0-9, "
	    "'.', '_', '-', starting with a letter or digit, as in bevis "
	    "supplier add", __FILE__, __LINE__);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_option_table),
		cmocka_unit_test(test_good_file),
		cmocka_unit_test(test_repeated_option),
		cmocka_unit_test(test_log_levels),
		cmocka_unit_test(test_unknown_names),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_size_limits),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_sample_config),
		cmocka_unit_test(test_source_sections),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
