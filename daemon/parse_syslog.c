/* parse_syslog.c - text/syslog: one RFC 5424 or RFC 3164 message per line,
 * told apart line by line (docs/FORMATS.md, "Syslog"). The header reader
 * is shared with parse_cef.c, for CEF behind a syslog header. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "event.h"
#include "parse.h"
#include "parse_text.h"
#include "utf8.h"

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

static int
dig(unsigned char c)
{
	return c >= '0' && c <= '9';
}

int
syslog_severity_map(int sev)
{
	/* emerg, alert, crit, err, warning, notice, info, debug */
	static const int map[8] = { SEVERITY_FATAL, SEVERITY_CRITICAL,
		SEVERITY_CRITICAL, SEVERITY_HIGH, SEVERITY_MEDIUM, SEVERITY_LOW,
		SEVERITY_INFORMATIONAL, SEVERITY_INFORMATIONAL };

	return sev >= 0 && sev < 8 ? map[sev] : -1;
}

size_t
bsd_time_parse(const unsigned char *s, size_t n, int *month, int *day,
    int *year, int *hour, int *min, int *sec, int64_t *frac, int *zero_pad)
{
	size_t i = 0;

	*year = 0;
	*frac = 0;
	*zero_pad = 0;
	if (n < 15)
		return 0;
	*month = 0;
	for (int m = 0; m < 12; m++)
		if (strncasecmp((const char *)s, months[m], 3) == 0)
			*month = m + 1;
	if (*month == 0 || s[3] != ' ')
		return 0;
	i = 4;
	if (s[i] == ' ' && dig(s[i + 1])) {
		*day = s[i + 1] - '0';
		i += 2;
	} else if (dig(s[i]) && dig(s[i + 1])) {
		*day = (s[i] - '0') * 10 + (s[i + 1] - '0');
		*zero_pad = s[i] == '0';
		i += 2;
	} else if (dig(s[i]) && s[i + 1] == ' ') {
		*day = s[i] - '0';	/* "Jun 8", seen from some relays */
		*zero_pad = 1;
		i += 1;
	} else {
		return 0;
	}
	if (*day < 1 || *day > 31 || i >= n || s[i++] != ' ')
		return 0;
	/* "Mmm dd yyyy hh:mm:ss" (Cisco, ArcSight) */
	if (i + 5 <= n && dig(s[i]) && dig(s[i + 1]) && dig(s[i + 2]) &&
	    dig(s[i + 3]) && s[i + 4] == ' ') {
		*year = (s[i] - '0') * 1000 + (s[i + 1] - '0') * 100 +
		    (s[i + 2] - '0') * 10 + (s[i + 3] - '0');
		i += 5;
	}
	if (i + 8 > n || !dig(s[i]) || !dig(s[i + 1]) || s[i + 2] != ':' ||
	    !dig(s[i + 3]) || !dig(s[i + 4]) || s[i + 5] != ':' ||
	    !dig(s[i + 6]) || !dig(s[i + 7]))
		return 0;
	*hour = (s[i] - '0') * 10 + (s[i + 1] - '0');
	*min = (s[i + 3] - '0') * 10 + (s[i + 4] - '0');
	*sec = (s[i + 6] - '0') * 10 + (s[i + 7] - '0');
	if (*hour > 23 || *min > 59 || *sec > 60)
		return 0;
	if (*sec == 60)
		*sec = 59;	/* a leap second; stays in its minute */
	i += 8;
	if (i + 1 < n && s[i] == '.' && dig(s[i + 1])) {
		int64_t scale = 100000;
		i++;
		while (i < n && dig(s[i])) {
			*frac += (s[i] - '0') * scale;
			scale /= 10;
			i++;
		}
	}
	if (i < n && s[i] != ' ')
		return 0;
	return i;
}

static size_t
token_end(const unsigned char *s, size_t n, size_t i)
{
	while (i < n && s[i] != ' ')
		i++;
	return i;
}

/* Structured data: one or more [SD-ID (SP PARAM-NAME="VALUE")*] into
 * attrs.sd = {"SD-ID": {"PARAM": "VALUE"}}; a repeated SD-ID or PARAM
 * gets "#2" as attrs keys do. */
static int
parse_sd(const unsigned char *s, size_t n, size_t *pi, struct textparse *tp,
    char *err, size_t errlen)
{
	size_t i = *pi;
	struct buf *sd = &tp->text;	/* scratch at the end of text */
	size_t start = sd->len, nelem = 0;
	char ids[16][48];

	buf_putc(sd, '{');
	while (i < n && s[i] == '[') {
		size_t id = ++i, nparam = 0;
		char names[32][48];

		while (i < n && s[i] > ' ' && s[i] < 0x7f && s[i] != '=' &&
		    s[i] != ']' && s[i] != '"')
			i++;
		if (i == id || i - id > 32)
			FAIL("structured data: SD-ID at byte %zu is %s", id,
			    i == id ? "empty" : "longer than 32 characters");
		if (i >= n || (s[i] != ' ' && s[i] != ']'))
			FAIL("structured data: unexpected byte 0x%02x at byte %zu "
			    "in SD-ID", i < n ? s[i] : 0, i);
		char idk[48];
		int idl = snprintf(idk, sizeof(idk), "%.*s", (int)(i - id),
		    (const char *)s + id);
		for (size_t k = 0, c = 2; k < nelem && k < 16; k++)
			if (strcmp(ids[k], idk) == 0) {
				idl = snprintf(idk, sizeof(idk), "%.*s#%zu",
				    (int)(i - id), (const char *)s + id, c++);
				k = (size_t)-1;
			}
		if (nelem < 16)
			snprintf(ids[nelem], sizeof(ids[0]), "%s", idk);
		if (nelem++)
			buf_putc(sd, ',');
		buf_put_json_string(sd, idk, (size_t)idl);
		buf_puts(sd, ":{");
		while (i < n && s[i] == ' ') {
			size_t name = ++i;
			while (i < n && s[i] > ' ' && s[i] < 0x7f && s[i] != '=' &&
			    s[i] != ']' && s[i] != '"')
				i++;
			if (i == name || i - name > 32 || i >= n || s[i] != '=')
				FAIL("structured data: PARAM-NAME=\"value\" "
				    "expected at byte %zu", name);
			size_t nlen = i - name;
			if (++i >= n || s[i] != '"')
				FAIL("structured data: '\"' expected at byte %zu", i);
			size_t vstart = ++i;
			struct buf *t = &tp->keys;	/* scratch: value */
			size_t kmark = t->len;
			while (i < n && s[i] != '"') {
				if (s[i] == '\\' && i + 1 < n && (s[i + 1] == '"' ||
				    s[i + 1] == '\\' || s[i + 1] == ']')) {
					buf_putc(t, (char)s[i + 1]);
					i += 2;
					continue;
				}
				buf_putc(t, (char)s[i++]);
			}
			if (i >= n)
				FAIL("structured data: the value that starts at "
				    "byte %zu has no closing '\"'", vstart);
			i++;
			char nk[48];
			int nl = snprintf(nk, sizeof(nk), "%.*s", (int)nlen,
			    (const char *)s + name);
			for (size_t k = 0, c = 2; k < nparam && k < 32; k++)
				if (strcmp(names[k], nk) == 0) {
					nl = snprintf(nk, sizeof(nk), "%.*s#%zu",
					    (int)nlen, (const char *)s + name, c++);
					k = (size_t)-1;
				}
			if (nparam < 32)
				snprintf(names[nparam], sizeof(names[0]), "%s", nk);
			if (nparam++)
				buf_putc(sd, ',');
			buf_put_json_string(sd, nk, (size_t)nl);
			buf_putc(sd, ':');
			buf_put_json_string(sd, (const char *)t->data + kmark,
			    t->len - kmark);
			t->len = kmark;
		}
		if (i >= n || s[i] != ']')
			FAIL("structured data: ']' expected at byte %zu", i);
		i++;
		buf_putc(sd, '}');
	}
	buf_putc(sd, '}');
	tp_attr_json(tp, "sd", 2, (const char *)sd->data + start,
	    sd->len - start);
	sd->len = start;
	*pi = i;
	return 0;
}

/* RFC 5424 from VERSION on (s[*pi] is '1'). */
static int
header_5424(const unsigned char *s, size_t n, size_t i, struct textparse *tp,
    struct syslog_hdr *h, char *err, size_t errlen)
{
	static const char *const names[] = { "HOSTNAME", "APP-NAME", "PROCID",
		"MSGID" };
	static const char *const keys[] = { "hostname", "app_name", "procid",
		"msgid" };
	static const size_t maxlen[] = { 255, 48, 128, 32 };
	size_t e;

	h->version = 1;
	i += 2;
	e = token_end(s, n, i);
	h->ts_off = i;
	h->ts_n = e - i;
	if (e - i == 1 && s[i] == '-') {
		h->has_time = 0;
	} else if (rfc3339_parse((const char *)s + i, e - i, &h->time_us) == 0) {
		h->has_time = 1;
	} else {
		FAIL("RFC 5424 TIMESTAMP at byte %zu is not an RFC 3339 time: "
		    "'%.*s'", i, (int)utf8_cut((const char *)s + i, e - i, 40),
		    (const char *)s + i);
	}
	if (h->has_time)
		tp_attr(tp, "timestamp", 9, (const char *)s + i, e - i);
	i = e;
	for (int f = 0; f < 4; f++) {
		if (i >= n || s[i] != ' ' || i + 1 >= n)
			FAIL("RFC 5424 header ends at byte %zu before %s", i,
			    names[f]);
		i++;
		e = token_end(s, n, i);
		if (e == i)
			FAIL("RFC 5424 %s at byte %zu is empty (two spaces)",
			    names[f], i);
		if (e - i > maxlen[f])
			tp_warn(tp, "%s is longer than %zu characters", names[f],
			    maxlen[f]);
		if (!(e - i == 1 && s[i] == '-')) {
			tp_attr(tp, keys[f], strlen(keys[f]), (const char *)s + i,
			    e - i);
			if (f == 0) {
				h->host_off = i;
				h->host_n = e - i;
			}
		}
		i = e;
	}
	if (i >= n || s[i] != ' ' || i + 1 >= n)
		FAIL("RFC 5424 header ends at byte %zu before STRUCTURED-DATA", i);
	i++;
	if (s[i] == '-') {
		i++;
	} else if (s[i] == '[') {
		if (parse_sd(s, n, &i, tp, err, errlen) < 0)
			return -1;
	} else {
		FAIL("RFC 5424 STRUCTURED-DATA at byte %zu must be '-' or "
		    "start with '['", i);
	}
	if (i < n && s[i] != ' ')
		FAIL("RFC 5424: a space expected after STRUCTURED-DATA at byte %zu",
		    i);
	h->end = i < n ? i + 1 : n;
	return 0;
}

int
syslog_header_parse(const unsigned char *s, size_t n, struct textparse *tp,
    struct syslog_hdr *h, char *err, size_t errlen)
{
	size_t i = 0;
	int month, day, year, hour, min, sec, zero_pad;
	int64_t frac;

	memset(h, 0, sizeof(*h));
	h->pri = -1;
	if (n > 0 && s[0] == '<') {
		int v = 0;
		for (i = 1; i < n && i <= 4 && dig(s[i]); i++)
			v = v * 10 + (s[i] - '0');
		if (i == 1 || i > 4 || i >= n || s[i] != '>')
			FAIL("PRI at byte 0 must be '<' 1 to 3 digits '>'");
		if (v > 191)
			FAIL("PRI <%d> at byte 0 is above 191", v);
		if (i > 2 && s[1] == '0')
			tp_warn(tp, "PRI has a leading zero");
		h->pri = v;
		i++;
	}
	if (i + 2 < n && s[i] == '1' && s[i + 1] == ' ' &&
	    (dig(s[i + 2]) || s[i + 2] == '-'))
		return header_5424(s, n, i, tp, h, err, errlen);
	/* RFC 3164 */
	size_t used = bsd_time_parse(s + i, n - i, &month, &day, &year, &hour,
	    &min, &sec, &frac, &zero_pad);
	const struct parse_ctx *ctx = parse_ctx_get();
	if (used) {
		if (zero_pad)
			tp_warn(tp, "day of month not space-padded (RFC 3164)");
		h->time_us = year ? local_time_to_utc(ctx->tz, year, month, day,
		    hour, min, sec, frac) : local_time_infer_year(ctx->tz,
		    ctx->received_us, month, day, hour, min, sec, frac);
		if (h->time_us == -1)
			FAIL("RFC 3164 TIMESTAMP at byte %zu: no year near the "
			    "receipt time has that date", i);
		h->has_time = 1;
	} else {
		/* rsyslog's high-precision form: an RFC 3339 time. */
		size_t e = token_end(s, n, i);
		if (rfc3339_parse((const char *)s + i, e - i, &h->time_us) < 0)
			FAIL("RFC 3164 TIMESTAMP expected at byte %zu "
			    "('Mmm dd hh:mm:ss'), got '%.*s'", i,
			    (int)utf8_cut((const char *)s + i, n - i, 15),
			    (const char *)s + i);
		used = e - i;
		h->has_time = 1;
	}
	h->ts_off = i;
	h->ts_n = used;
	tp_attr(tp, "timestamp", 9, (const char *)s + i, used);
	i += used;
	while (i < n && s[i] == ' ')
		i++;
	size_t e = token_end(s, n, i);
	/* "host tag:" or, from some relays, only "tag:" */
	if (e > i && s[e - 1] != ':' && memchr(s + i, '[', e - i) == NULL &&
	    memchr(s + i, '=', e - i) == NULL && !(e - i >= 4 &&
	    memcmp(s + i, "CEF:", 4) == 0)) {
		h->host_off = i;
		h->host_n = e - i;
		tp_attr(tp, "hostname", 8, (const char *)s + i, e - i);
		i = e < n ? e + 1 : n;
	} else if (e > i) {
		tp_warn(tp, "no HOSTNAME after the timestamp");
	}
	h->end = i;
	return 0;
}

/* 0..99 as text, without printf on the hot path. */
static size_t
small_number(int v, char out[4])
{
	if (v < 10) {
		out[0] = (char)('0' + v);
		return 1;
	}
	out[0] = (char)('0' + v / 10);
	out[1] = (char)('0' + v % 10);
	return 2;
}

static int
syslog_parse(const unsigned char *item, size_t len, struct sec_event *ev,
    char *err, size_t errlen)
{
	struct textparse *tp;
	struct syslog_hdr h;
	size_t bad, i;
	const unsigned char *s = item;
	size_t n = len;

	memset(ev, 0, sizeof(*ev));
	ev->severity = -1;
	if (len == 0)
		FAIL("empty line");
	if ((bad = utf8_invalid_at(item, len)) != (size_t)-1)
		FAIL("invalid UTF-8 at byte %zu of the line", bad);
	tp = tp_begin();
	if (n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
		tp_warn(tp, "a byte order mark before the PRI");
		s += 3;
		n -= 3;
	}
	if (syslog_header_parse(s, n, tp, &h, err, errlen) < 0)
		return -1;
	i = h.end;
	tp_attr(tp, "format", 6, h.version ? "rfc5424" : "rfc3164", 7);
	if (h.pri >= 0) {
		char num[4];
		size_t l = small_number(h.pri >> 3, num);
		tp_attr_json(tp, "facility", 8, num, l);
		num[0] = (char)('0' + (h.pri & 7));
		tp_attr_json(tp, "syslog_severity", 15, num, 1);
		ev->severity = syslog_severity_map(h.pri & 7);
	} else {
		tp_warn(tp, "no PRI: severity unknown");
	}
	if (h.version == 0 && i < n) {
		/* TAG: app[pid]: or app: */
		size_t t = i;
		while (t < n && t - i < 64 && s[t] != '[' && s[t] != ':' &&
		    s[t] != ' ')
			t++;
		if (t > i && t < n && s[t] == '[') {
			size_t p = t + 1, q = p;
			while (q < n && q - p < 128 && s[q] != ']' && s[q] != ' ')
				q++;
			if (q < n && s[q] == ']') {
				tp_attr(tp, "app_name", 8, (const char *)s + i, t - i);
				tp_attr(tp, "procid", 6, (const char *)s + p, q - p);
				i = q + 1;
				if (i < n && s[i] == ':')
					i++;
				else
					tp_warn(tp, "TAG without ':'");
				if (i < n && s[i] == ' ')
					i++;
			}
		} else if (t > i && t < n && s[t] == ':') {
			tp_attr(tp, "app_name", 8, (const char *)s + i, t - i);
			i = t + 1;
			if (i < n && s[i] == ' ')
				i++;
		}
	}
	if (h.version == 1 && n - i >= 3 && memcmp(s + i, "\xef\xbb\xbf", 3) == 0)
		i += 3;		/* MSG-UTF8: the BOM says UTF-8, nothing more */
	if (i < n)
		tp->message = tp_text(tp, s + i, n - i);
	if (h.has_time) {
		ev->occurred_us = h.time_us;
	} else {
		ev->occurred_us = parse_ctx_get()->received_us;
		tp_warn(tp, "no TIMESTAMP: the receipt time is used");
	}
	if (ev->occurred_us < EVENT_TIME_MIN_US ||
	    ev->occurred_us >= EVENT_TIME_MAX_US)
		FAIL("TIMESTAMP at byte %zu is out of range (1970 up to 2100)",
		    h.ts_off);
	tp_id_from_line(tp, item, len, ev);
	tp_finish(tp, ev);
	return 0;
}

static void
syslog_clear(struct sec_event *ev)
{
	(void)ev;	/* the strings live in the thread's builder */
}

int
event_parse_syslog(const unsigned char *item, size_t len,
    struct sec_event *ev, char *err, size_t errlen)
{
	return syslog_parse(item, len, ev, err, errlen);
}

const struct parser parser_syslog = {
	.name = "syslog",
	.label = "syslog",
	.ct = CT_SYSLOG,
	.split = split_ndjson,		/* one message per line */
	.parse = syslog_parse,
	.clear = syslog_clear,
	.thread_done = tp_thread_done,
};
