/* parse_cef.c - application/cef: one ArcSight CEF record per line, bare or
 * behind a syslog header (docs/FORMATS.md, "CEF"). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "event.h"
#include "parse.h"
#include "parse_text.h"
#include "utf8.h"

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

static const char *const header_keys[7] = { "cef_version", "device_vendor",
	"device_product", "device_version", "signature_id", "name",
	"cef_severity" };

/* CEF severity, 0..10 or a name, onto 0..6: 0-3 Low, 4-6 Medium, 7-8 High,
 * 9-10 Very-High (ArcSight's bands). -1 when it is neither. */
int
cef_severity_map(const char *s, size_t n)
{
	static const struct { const char *name; int sev; } names[] = {
		{ "unknown", SEVERITY_UNKNOWN }, { "low", SEVERITY_LOW },
		{ "medium", SEVERITY_MEDIUM }, { "high", SEVERITY_HIGH },
		{ "very-high", SEVERITY_CRITICAL },
		{ "very high", SEVERITY_CRITICAL },
		{ "veryhigh", SEVERITY_CRITICAL },
	};
	int v = 0;

	if (n >= 1 && n <= 2 && s[0] >= '0' && s[0] <= '9' &&
	    (n == 1 || (s[1] >= '0' && s[1] <= '9'))) {
		v = s[0] - '0';
		if (n == 2)
			v = v * 10 + (s[1] - '0');
		if (v > 10)
			return -1;
		return v <= 3 ? SEVERITY_LOW : v <= 6 ? SEVERITY_MEDIUM :
		    v <= 8 ? SEVERITY_HIGH : SEVERITY_CRITICAL;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == n &&
		    strncasecmp(s, names[i].name, n) == 0)
			return names[i].sev;
	return severity_from_name(s, n);
}

static int
is_key_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-' ||
	    c == '[' || c == ']';
}

/* Is there "key=" at s[i]? Returns the index of '=' or 0. */
static size_t
key_at(const unsigned char *s, size_t n, size_t i)
{
	size_t k = i;

	while (k < n && is_key_char(s[k]))
		k++;
	return k > i && k < n && s[k] == '=' ? k : 0;
}

static int
dig2(const char *p)
{
	return p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9';
}

struct ext_pair {
	size_t k, kn;		/* key in the line */
	size_t v, vn;		/* decoded value in tp->text */
	int used;
};

/* A CEF time: epoch milliseconds, "MMM dd [yyyy] HH:mm:ss[.SSS] [zone]" or
 * RFC 3339. Returns 0 and *us, or -1. */
static int
cef_time(const char *v, size_t n, int64_t *us, struct textparse *tp,
    const char *key)
{
	const struct parse_ctx *ctx = parse_ctx_get();
	int month, day, year, hour, min, sec, zp;
	int64_t frac;
	size_t i;

	if (n == 0)
		return -1;
	for (i = 0; i < n && v[i] >= '0' && v[i] <= '9'; i++)
		;
	if (i == n && n <= 15) {
		int64_t x = 0;
		for (size_t k = 0; k < n; k++)
			x = x * 10 + (v[k] - '0');
		if (n <= 10) {
			tp_warn(tp, "'%s' looks like epoch seconds, not "
			    "milliseconds", key);
			x *= 1000;
		}
		*us = x * 1000;
		return 0;
	}
	if (rfc3339_parse(v, n, us) == 0)
		return 0;
	/* ISO 8601 without the colon in the offset: 2022-05-06T12:31:03+0000 */
	if (n == 24 && (v[19] == '+' || v[19] == '-')) {
		char t[32];
		memcpy(t, v, 22);
		t[22] = ':';
		memcpy(t + 23, v + 22, 2);
		if (rfc3339_parse(t, 25, us) == 0)
			return 0;
	}
	size_t used = bsd_time_parse((const unsigned char *)v, n, &month, &day,
	    &year, &hour, &min, &sec, &frac, &zp);
	if (used == 0)
		return -1;
	const char *z = v + used;
	size_t zn = n - used;
	while (zn && *z == ' ') {
		z++;
		zn--;
	}
	int64_t local = year ? local_time_to_utc(ctx->tz, year, month, day,
	    hour, min, sec, frac) : local_time_infer_year(ctx->tz,
	    ctx->received_us, month, day, hour, min, sec, frac);
	if (local == -1)
		return -1;
	if (zn == 0) {
		*us = local;
		return 0;
	}
	int off = 0;
	if ((zn == 3 && (strncasecmp(z, "UTC", 3) == 0 ||
	    strncasecmp(z, "GMT", 3) == 0)) || (zn == 1 && *z == 'Z')) {
		off = 0;
	} else if ((zn == 5 || zn == 6) && (z[0] == '+' || z[0] == '-')) {
		/* +hhmm or +hh:mm; z is not NUL-terminated: no sscanf. */
		const char *mm = z + (zn == 6 ? 4 : 3);
		if ((zn == 6 && z[3] != ':') || !dig2(z + 1) || !dig2(mm))
			return -1;
		int h = (z[1] - '0') * 10 + (z[2] - '0');
		int m = (mm[0] - '0') * 10 + (mm[1] - '0');
		if (h > 23 || m > 59)
			return -1;
		off = (z[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
	} else {
		tp_warn(tp, "'%s': zone '%.*s' not known; read in the supplier's "
		    "zone", key, (int)utf8_cut(z, zn, 32), z);
		*us = local;
		return 0;
	}
	/* The wall time as written, less its offset; without a year, the
	 * year the supplier's zone inferred. */
	if (!year) {
		char out[40];
		rfc3339_format(local, out);
		year = atoi(out);
	}
	int64_t as_utc = (days_from_civil(year, month, day) * 86400 +
	    hour * 3600 + min * 60 + sec) * 1000000 + frac;
	*us = as_utc - (int64_t)off * 1000000;
	return 0;
}

static int
map_ip(struct sec_event *ev, const char *v, size_t n)
{
	char tmp[64];

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, v, n);
	tmp[n] = '\0';
	if (inet_pton(AF_INET, tmp, ev->src_ip) == 1)
		ev->src_family = 4;
	else if (inet_pton(AF_INET6, tmp, ev->src_ip) == 1)
		ev->src_family = 6;
	else
		return -1;
	return 0;
}

/* "<N>" (0..191), optionally followed by spaces: N, else -1. */
static int
pri_only(const unsigned char *s, size_t n)
{
	size_t i = 1;
	int v = 0;

	while (n > 0 && s[n - 1] == ' ')
		n--;
	if (n < 3 || s[0] != '<' || s[n - 1] != '>' || n > 5)
		return -1;
	for (; i < n - 1; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= 191 ? v : -1;
}

static int
cef_parse(const unsigned char *item, size_t len, struct sec_event *ev,
    char *err, size_t errlen)
{
	struct textparse *tp;
	struct syslog_hdr h = { 0 };
	const unsigned char *s = item;
	size_t n = len, bad, i, start, hdr[7][2];
	int have_hdr = 0;

	memset(ev, 0, sizeof(*ev));
	ev->severity = -1;
	if (len == 0)
		FAIL("empty line");
	if ((bad = utf8_invalid_at(item, len)) != (size_t)-1)
		FAIL("invalid UTF-8 at byte %zu of the line", bad);
	tp = tp_begin();
	size_t base = 0;
	if (n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
		tp_warn(tp, "a byte order mark at the start of the line");
		base = 3;
	}
	/* Where the record starts: "CEF:", after a syslog header or not. */
	const unsigned char *m = memmem(s + base, n - base, "CEF:", 4);
	size_t vd = base;
	while (vd < n && s[vd] >= '0' && s[vd] <= '9')
		vd++;
	/* "0|..." with a "CEF:" only later, inside a value: no prefix. */
	if (m != s + base && vd > base && vd < n && s[vd] == '|')
		m = NULL;
	if (m == s + base) {
		start = base + 4;
	} else if (m != NULL && pri_only(s + base, (size_t)(m - s) - base) >= 0) {
		/* "<134>CEF:0|...": a PRI and nothing else. */
		int pri = pri_only(s + base, (size_t)(m - s) - base);
		char num[3] = { (char)('0' + (pri >> 3) / 10),
			(char)('0' + (pri >> 3) % 10) };
		tp_attr_json(tp, "facility", 8, num + (pri < 80), pri < 80 ? 1 : 2);
		start = (size_t)(m - s) + 4;
	} else if (m != NULL) {
		size_t at = (size_t)(m - s);
		if (syslog_header_parse(s + base, at - base, tp, &h, err,
		    errlen) == 0) {
			have_hdr = 1;
			size_t e = base + h.end;
			while (e < at && s[at - 1] == ' ')
				at--;
			if (e < at)
				tp_attr(tp, "syslog_tag", 10, (const char *)s + e,
				    at - e);
			if (h.pri >= 0) {
				char num[3] = { (char)('0' + (h.pri >> 3) / 10),
					(char)('0' + (h.pri >> 3) % 10) };
				tp_attr_json(tp, "facility", 8, num + (h.pri < 80),
				    h.pri < 80 ? 1 : 2);
			}
		} else {
			tp_warn(tp, "text before 'CEF:' is not a syslog header "
			    "(%s); kept in syslog_prefix", err);
			tp_attr(tp, "syslog_prefix", 13, (const char *)s + base,
			    at - base);
		}
		start = (size_t)(m - s) + 4;
	} else {
		/* "0|vendor|...": a relay took "CEF:" for the syslog TAG. */
		i = base;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == base || i >= n || s[i] != '|')
			FAIL("not a CEF record: no 'CEF:' in the line, and it does "
			    "not start with a version and '|' (byte %zu)", i);
		tp_warn(tp, "no 'CEF:' before the version");
		start = base;
	}
	if (start < n && s[start] == ' ') {
		tp_warn(tp, "space after 'CEF:'");
		while (start < n && s[start] == ' ')
			start++;
	}
	/* The seven header fields: '|' separates, "\|" and "\\" escape. */
	i = start;
	for (int f = 0; f < 7; f++) {
		size_t b = i;
		while (i < n && s[i] != '|') {
			if (s[i] == '\\' && i + 1 < n)
				i++;
			i++;
		}
		if (i >= n)
			FAIL("CEF header: field %d (%s) at byte %zu has no closing "
			    "'|'; the header has 7 fields", f + 1, header_keys[f], b);
		hdr[f][0] = b;
		hdr[f][1] = i - b;
		i++;
	}
	size_t ext = i;
	/* Version */
	for (size_t k = 0; k < hdr[0][1]; k++)
		if (s[hdr[0][0] + k] < '0' || s[hdr[0][0] + k] > '9')
			FAIL("CEF version at byte %zu must be a number, got '%.*s'",
			    hdr[0][0], (int)utf8_cut((const char *)s + hdr[0][0],
			    hdr[0][1], 20), (const char *)s + hdr[0][0]);
	if (hdr[0][1] == 0)
		FAIL("CEF version at byte %zu is empty", hdr[0][0]);
	for (int f = 0; f < 7; f++) {
		size_t off = tp->text.len;
		if (memchr(s + hdr[f][0], '\\', hdr[f][1]) == NULL)
			buf_append(&tp->text, s + hdr[f][0], hdr[f][1]);
		else for (size_t k = hdr[f][0]; k < hdr[f][0] + hdr[f][1]; k++) {
			if (s[k] == '\\' && k + 1 < hdr[f][0] + hdr[f][1] &&
			    (s[k + 1] == '|' || s[k + 1] == '\\'))
				k++;
			buf_putc(&tp->text, (char)s[k]);
		}
		tp_attr(tp, header_keys[f], strlen(header_keys[f]),
		    (const char *)tp->text.data + off, tp->text.len - off);
		if (f == 6) {
			ev->severity = cef_severity_map((const char *)tp->text.data +
			    off, tp->text.len - off);
			if (ev->severity < 0) {
				tp_warn(tp, "CEF severity '%.*s' is neither 0..10 "
				    "nor a name; severity unknown",
				    (int)utf8_cut((const char *)tp->text.data + off,
				    tp->text.len - off, 20),
				    (const char *)tp->text.data + off);
				ev->severity = SEVERITY_UNKNOWN;
			}
		}
		if (f == 5)
			tp->message = (struct tview){ off, tp->text.len - off, 1 };
		tp->text.len = f == 5 ? tp->text.len : off;
	}
	/* The extension: key=value, values run to the next " key=". */
	struct ext_pair pairs[256];
	size_t np = 0;
	i = ext;
	while (i < n && s[i] == ' ')
		i++;
	while (i < n) {
		size_t eq = key_at(s, n, i);
		if (eq == 0)
			FAIL("CEF extension: key=value expected at byte %zu", i);
		if (np == sizeof(pairs) / sizeof(pairs[0]))
			FAIL("CEF extension: more than %zu keys (byte %zu)", np, i);
		struct ext_pair *p = &pairs[np++];
		p->k = i;
		p->kn = eq - i;
		p->used = 0;
		p->v = tp->text.len;
		size_t v = eq + 1, end = n;
		int warned_eq = 0;
		for (size_t k = v; k < n; k++) {
			if (s[k] == '\\' && k + 1 < n) {
				k++;
				continue;
			}
			if (s[k] == ' ' && key_at(s, n, k + 1)) {
				end = k;
				break;
			}
			if (s[k] == '=' && !warned_eq) {
				tp_warn(tp, "unescaped '=' in the value of '%.*s'",
				    (int)(p->kn > 40 ? 40 : p->kn),
				    (const char *)s + p->k);
				warned_eq = 1;
			}
		}
		if (memchr(s + v, '\\', end - v) == NULL) {
			buf_append(&tp->text, s + v, end - v);
			p->vn = end - v;
			i = end < n ? end + 1 : n;
			continue;
		}
		for (size_t k = v; k < end; k++) {
			if (s[k] == '\\' && k + 1 < end) {
				unsigned char e = s[k + 1];
				char c = e == 'n' ? '\n' : e == 'r' ? '\r' :
				    e == '=' || e == '\\' || e == '|' ? (char)e : 0;
				if (c) {
					buf_putc(&tp->text, c);
					k++;
					continue;
				}
			}
			buf_putc(&tp->text, (char)s[k]);
		}
		p->vn = tp->text.len - p->v;
		i = end < n ? end + 1 : n;
	}
	/* Mapped keys to columns; *Label keys name their value in attrs. */
	const char *txt = (const char *)tp->text.data;
	struct ext_pair *src_ip = NULL, *c6a2 = NULL;
	struct { const char *key; size_t len; struct tview *to; } cols[] = {
		{ "msg", 3, &tp->message }, { "cat", 3, &tp->category },
		{ "act", 3, &tp->action }, { "outcome", 7, &tp->outcome },
		{ "suser", 5, &tp->actor_user }, { "dhost", 5, &tp->target },
	};
	/* Only a line with a label pays for matching labels to values. */
	int labels = memmem(s + ext, n - ext, "Label=", 6) != NULL;
	int64_t t = 0;
	const char *tkey = NULL;
	const char *ekey = NULL;
	for (int pass = 0; pass < 2; pass++) {
		const char *want = pass == 0 ? "rt" : "start";
		for (size_t k = 0; k < np && !tkey; k++) {
			struct ext_pair *p = &pairs[k];
			if (p->kn != strlen(want) || memcmp(s + p->k, want, p->kn))
				continue;
			if (cef_time(txt + p->v, p->vn, &t, tp, want) == 0)
				tkey = want;
			else
				tp_warn(tp, "'%s' is not a time CEF knows: '%.*s'",
				    want, (int)utf8_cut(txt + p->v, p->vn, 40),
				    txt + p->v);
		}
	}
	for (size_t k = 0; k < np; k++) {
		struct ext_pair *p = &pairs[k];
		const char *key = (const char *)s + p->k;
		for (size_t c = 0; c < sizeof(cols) / sizeof(cols[0]); c++)
			if (p->kn == cols[c].len &&
			    memcmp(key, cols[c].key, p->kn) == 0 && p->vn > 0 &&
			    !(cols[c].to == &tp->message && ekey)) {
				*cols[c].to = (struct tview){ p->v, p->vn, 1 };
				p->used = 1;
				if (cols[c].to == &tp->message)
					ekey = "msg";
			}
		if (p->kn == 3 && memcmp(key, "src", 3) == 0)
			src_ip = p;
		if (p->kn == 4 && memcmp(key, "c6a2", 4) == 0)
			c6a2 = p;
		if (p->kn == 10 && memcmp(key, "externalId", 10) == 0 &&
		    p->vn > 0 && p->vn <= EVENT_ID_MAX) {
			ev->id.p = txt + p->v;	/* fixed below: text may grow */
			ev->id.n = p->vn;
			p->used = 1;
		}
	}
	if (!tp->actor_user.set)
		for (size_t k = 0; k < np; k++)
			if (pairs[k].kn == 5 && memcmp(s + pairs[k].k, "duser", 5) == 0
			    && pairs[k].vn) {
				tp->actor_user = (struct tview){ pairs[k].v,
				    pairs[k].vn, 1 };
				pairs[k].used = 1;
			}
	if (!tp->target.set)
		for (size_t k = 0; k < np; k++)
			if (((pairs[k].kn == 3 && memcmp(s + pairs[k].k, "dst", 3) == 0)
			    || (pairs[k].kn == 7 && memcmp(s + pairs[k].k,
			    "request", 7) == 0)) && pairs[k].vn && !tp->target.set) {
				tp->target = (struct tview){ pairs[k].v,
				    pairs[k].vn, 1 };
				pairs[k].used = 1;
			}
	if (src_ip && map_ip(ev, txt + src_ip->v, src_ip->vn) == 0)
		src_ip->used = 1;
	else if (c6a2 && map_ip(ev, txt + c6a2->v, c6a2->vn) == 0)
		c6a2->used = 1;
	else if (src_ip)
		tp_warn(tp, "'src' is not an IP address; kept in attrs");
	size_t id_off = ev->id.p ? (size_t)(ev->id.p - txt) : 0;
	/* Everything not mapped: into attrs, under its label when it has one. */
	for (size_t k = 0; k < np; k++) {
		struct ext_pair *p = &pairs[k];
		const char *key = (const char *)s + p->k;
		if (p->used)
			continue;
		if (!labels) {
			;
		} else if (p->kn > 5 && memcmp(key + p->kn - 5, "Label", 5) == 0) {
			/* a label whose value exists is used there */
			int has = 0;
			for (size_t q = 0; q < np; q++)
				if (pairs[q].kn == p->kn - 5 &&
				    memcmp(s + pairs[q].k, key, p->kn - 5) == 0)
					has = 1;
			if (has && p->vn)
				continue;
		} else {
			struct ext_pair *label = NULL;
			for (size_t q = 0; q < np; q++)
				if (pairs[q].kn == p->kn + 5 &&
				    memcmp(s + pairs[q].k, key, p->kn) == 0 &&
				    memcmp(s + pairs[q].k + p->kn, "Label", 5) == 0 &&
				    pairs[q].vn)
					label = &pairs[q];
			if (label) {
				tp_attr(tp, (const char *)tp->text.data + label->v,
				    label->vn, (const char *)tp->text.data + p->v,
				    p->vn);
				continue;
			}
		}
		tp_attr(tp, key, p->kn, (const char *)tp->text.data + p->v, p->vn);
	}
	if (tkey) {
		ev->occurred_us = t;
	} else if (have_hdr && h.has_time) {
		ev->occurred_us = h.time_us;
	} else {
		ev->occurred_us = parse_ctx_get()->received_us;
		tp_warn(tp, "no 'rt', 'start' or syslog time: the receipt time "
		    "is used");
	}
	if (ev->occurred_us < EVENT_TIME_MIN_US ||
	    ev->occurred_us >= EVENT_TIME_MAX_US)
		FAIL("event time out of range (1970 up to 2100)%s%s",
		    tkey ? " in " : "", tkey ? tkey : "");
	/* tp->text does not grow past here: the id can point into it. */
	if (ev->id.p)
		ev->id.p = (const char *)tp->text.data + id_off;
	else
		tp_id_from_line(tp, item, len, ev);
	tp_finish(tp, ev);
	return 0;
}

static void
cef_clear(struct sec_event *ev)
{
	(void)ev;	/* the strings live in the thread's builder */
}

int
event_parse_cef(const unsigned char *item, size_t len, struct sec_event *ev,
    char *err, size_t errlen)
{
	return cef_parse(item, len, ev, err, errlen);
}

const struct parser parser_cef = {
	.name = "cef",
	.label = "CEF",
	.ct = CT_CEF,
	.split = split_ndjson,		/* one record per line */
	.parse = cef_parse,
	.clear = cef_clear,
	.thread_done = tp_thread_done,
};
