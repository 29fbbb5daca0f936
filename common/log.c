/* log.c - small, exact logging in the OpenSMTPD manner. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const char *log_ident = "bevis";
static enum log_level log_level = LOG_LVL_INFO;
/* Under systemd, stderr goes to the journal, which stamps time itself and
 * understands the <N> priority prefix. */
static int log_journal;

static const char *const level_names[] = { "error", "warning", "info", "debug" };

void
log_init(const char *ident, enum log_level level)
{
	log_ident = ident;
	log_level = level;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void
log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level
log_get_level(void)
{
	return log_level;
}

int
log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(name, level_names[i]) == 0)
			return (int)i;
	if (strcasecmp(name, "warn") == 0)
		return LOG_LVL_WARN;
	return -1;
}

static void
vlog(enum log_level level, int with_errno, const char *fmt, va_list ap)
{
	static const int syslog_prio[] = { 3, 4, 6, 7 };
	char msg[2048];
	int saved = errno;

	if (level > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		size_t n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved));
	}
	if (log_journal) {
		fprintf(stderr, "<%d>%s\n", syslog_prio[level], msg);
	} else {
		char ts[32];
		struct timespec now;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ldZ %s[%d] %s: %s\n", ts,
		    now.tv_nsec / 1000000, log_ident, (int)getpid(),
		    level_names[level], msg);
	}
	errno = saved;
}

#define LOGFN(name, level, with_errno)                  \
	void name(const char *fmt, ...)                 \
	{                                               \
		va_list ap;                             \
		va_start(ap, fmt);                      \
		vlog(level, with_errno, fmt, ap);       \
		va_end(ap);                             \
	}

LOGFN(log_debug, LOG_LVL_DEBUG, 0)
LOGFN(log_info, LOG_LVL_INFO, 0)
LOGFN(log_warn, LOG_LVL_WARN, 1)
LOGFN(log_warnx, LOG_LVL_WARN, 0)
LOGFN(log_error, LOG_LVL_ERROR, 0)

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERROR, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
