/* bench_parse.c - single-core lines per second of each parser (make
 * bench): native JSON, CEF, syslog RFC 5424 and RFC 3164, the
 * identity-number scanner over typical message text, and the whole item
 * path of a CEF line (parse, then scan and mask). A microbenchmark: one
 * thread, no database, timed in the thread's own CPU seconds, so it is
 * little disturbed by other load. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "event.h"
#include "parse.h"
#include "parse_text.h"
#include "pnr.h"

#define LINES	4096

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef int (*parse_fn)(const unsigned char *, size_t, struct sec_event *,
    char *, size_t);

struct corpus {
	char *line[LINES];
	size_t len[LINES];
	size_t bytes;
};

static void
add(struct corpus *c, int i, const char *fmt, ...)
{
	char tmp[2048];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	c->line[i] = strdup(tmp);
	c->len[i] = (size_t)n;
	c->bytes += (size_t)n;
}

static const char *only;	/* argv[2]: run the parsers whose name has it */

static void
run(const char *name, parse_fn fn, const struct corpus *c, int pnr,
    double seconds)
{
	struct sec_event ev;
	struct buf scratch = BUF_INIT;
	char err[512];
	long n = 0, bad = 0;
	double t0 = now(), t;

	if (only && strstr(name, only) == NULL)
		return;
	do {
		for (int i = 0; i < LINES; i++) {
			if (fn((const unsigned char *)c->line[i], c->len[i], &ev, err,
			    sizeof(err)) < 0) {
				bad++;
				continue;
			}
			if (pnr)
				pnr_event_mask(&ev, &scratch);
			if (fn == event_parse_json)
				event_clear(&ev);
		}
		n += LINES;
	} while ((t = now() - t0) < seconds);
	printf("bench: parse %-22s %9.0f lines/s  (%.0f bytes/line, %.0f MB/s)%s\n",
	    name, (double)n / t, (double)c->bytes / LINES,
	    (double)n / t * (double)c->bytes / LINES / 1e6,
	    bad ? "  (some refused!)" : "");
	buf_free(&scratch);
}

int
main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;

	only = argc > 2 ? argv[2] : NULL;
	static struct corpus json, cef, s5424, s3164, text;

	parse_ctx_set(1796083200000000LL, NULL);
	for (int i = 0; i < LINES; i++) {
		add(&json, i, "{\"id\":\"ev-%07d\",\"time\":\"2026-10-%02dT%02d:%02d:"
		    "%02dZ\",\"severity\":%d,\"category\":\"authentication\",\"action\":"
		    "\"login\",\"outcome\":\"success\",\"actor\":{\"user\":\"user%d\"},"
		    "\"src\":{\"ip\":\"10.%d.%d.%d\"},\"target\":\"elevportal\","
		    "\"message\":\"sign-in number %d from the pupil portal, session "
		    "started with two factors\",\"seq\":%d,\"device\":\"fw-%d\"}", i,
		    1 + i % 28, i % 24, i % 60, i % 60, i % 7, i % 97, i % 250, i % 200,
		    i % 100 + 1, i, i, i % 13);
		add(&cef, i, "<134>Oct 26 20:01:%02d fw-%d CEF:0|Ubiquiti|UniFi "
		    "Network|9.4.19|201|Threat Detected and Blocked|7|proto=TCP "
		    "src=10.%d.%d.%d spt=%d dst=192.168.1.100 dpt=443 "
		    "UNIFIcategory=Security UNIFIsubCategory=Intrusion Prevention "
		    "UNIFIhost=UDM-Gent UNIFIdeviceMac=78:45:58:de:fc:e7 "
		    "suser=user%d act=blocked rt=%lld cs1=Rule %d cs1Label=Rule Name "
		    "msg=A network intrusion attempt from 10.%d.%d.%d to "
		    "192.168.1.100 has been detected and blocked.", i % 60, i % 9,
		    i % 250, i % 200, i % 100 + 1, 40000 + i % 20000, i % 97,
		    1796083200000LL + i * 1000LL, i % 31, i % 250, i % 200,
		    i % 100 + 1);
		add(&s5424, i, "<38>1 2026-11-19T14:23:%02d.%06d+01:00 "
		    "OPNsense.localdomain sshd %d - [meta sequenceId=\"%d\"]"
		    "[origin ip=\"10.0.0.%d\"] Invalid user tutu%d from "
		    "1.2.%d.%d port %d ssh2 after two failed attempts in a row",
		    i % 60, i, 40000 + i, i, i % 250, i % 97, i % 250, i % 200,
		    30000 + i);
		add(&s3164, i, "<86>Nov %2d 11:17:%02d demo-host.local "
		    "openvpn[%d]: 1.2.%d.%d:%d peer info: IV_CIPHERS=AES-256-GCM:"
		    "AES-128-GCM:CHACHA20-POLY1305 client user%d authenticated "
		    "with certificate", 1 + i % 28, i % 60, 30000 + i, i % 250,
		    i % 200, 40000 + i, i % 97);
		add(&text, i, "User user%d signed in to the pupil portal from "
		    "10.%d.%d.%d at 2026-11-19 14:23:%02d, order %d, call "
		    "070-123 45 67%s", i % 97, i % 250, i % 200, i % 100 + 1,
		    i % 60, 100000 + i, i % 50 == 0 ? ", elev 811218-9876" : "");
	}
	printf("bench: single-core parsers, %d distinct lines each, %.1f s each\n",
	    LINES, seconds);
	run("json (native)", event_parse_json, &json, 0, seconds);
	run("cef", event_parse_cef, &cef, 0, seconds);
	run("syslog rfc5424", event_parse_syslog, &s5424, 0, seconds);
	run("syslog rfc3164", event_parse_syslog, &s3164, 0, seconds);
	run("json + identity numbers", event_parse_json, &json, 1, seconds);
	run("cef + identity numbers", event_parse_cef, &cef, 1, seconds);
	/* The scanner alone over message text (one line in 50 holds one). */
	{
		size_t found = 0;
		long n = 0;
		double t0 = now(), t;
		do {
			for (int i = 0; i < LINES; i++)
				found += pnr_count(text.line[i], text.len[i]);
			n += LINES;
		} while ((t = now() - t0) < seconds);
		printf("bench: pnr scan %-21s %9.0f lines/s  (%.0f bytes/line, "
		    "%zu found per %d lines)\n", "message text", (double)n / t,
		    (double)text.bytes / LINES, found / (size_t)(n / LINES), LINES);
	}
	parsers_thread_done();
	return 0;
}
