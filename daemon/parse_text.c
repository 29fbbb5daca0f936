/* parse_text.c - the shared half of the line formats (see parse_text.h):
 * context, supplier zones, year inference and the attrs builder. */
#include "parse_text.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "hex.h"
#include "sha256.h"
#include "xmalloc.h"

/* ---- zones ---- */

/* The built-in rule of Europe/Stockholm, for a machine without tzdata. */
#define DEFAULT_ZONE		"Europe/Stockholm"
#define DEFAULT_ZONE_RULE	"CET-1CEST,M3.5.0,M10.5.0/3"

struct zone_entry {
	char *supplier;
	struct tzrule tz;
};

/* Written once at start, before the writers run; read-only after. */
static struct tzrule default_zone;
static struct zone_entry *zones;
static size_t nzones;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void
default_zone_load(void)
{
	char err[256];

	if (default_zone.name[0])
		return;		/* configured */
	if (tzrule_load(DEFAULT_ZONE, &default_zone, err, sizeof(err)) < 0) {
		snprintf(default_zone.name, sizeof(default_zone.name), "%s",
		    DEFAULT_ZONE);
		if (tzrule_parse_posix(DEFAULT_ZONE_RULE, &default_zone) < 0)
			fatalx("built-in zone rule does not parse");
	}
}

int
parse_zones_configure(const struct config *cfg, char *err, size_t errlen)
{
	struct tzrule tz;

	if (cfg->syslog_timezone && cfg->syslog_timezone[0]) {
		if (tzrule_load(cfg->syslog_timezone, &tz, err, errlen) < 0)
			return -1;
		default_zone = tz;
	}
	pthread_once(&default_once, default_zone_load);
	for (size_t i = 0; i < cfg->nsyslog_zones; i++) {
		if (tzrule_load(cfg->syslog_zones[i].zone, &tz, err, errlen) < 0)
			return -1;
		zones = xrealloc(zones, (nzones + 1) * sizeof(*zones));
		zones[nzones].supplier = xstrdup(cfg->syslog_zones[i].supplier);
		zones[nzones].tz = tz;
		nzones++;
	}
	return 0;
}

const struct tzrule *
parse_zone_for(const char *supplier)
{
	pthread_once(&default_once, default_zone_load);
	for (size_t i = 0; supplier && i < nzones; i++)
		if (strcmp(zones[i].supplier, supplier) == 0)
			return &zones[i].tz;
	return &default_zone;
}

/* ---- context ---- */

static _Thread_local struct parse_ctx tls_ctx;
static _Thread_local int tls_ctx_set;

void
parse_ctx_set(int64_t received_us, const char *supplier)
{
	tls_ctx.received_us = received_us;
	tls_ctx.tz = parse_zone_for(supplier);
	tls_ctx_set = 1;
}

const struct parse_ctx *
parse_ctx_get(void)
{
	if (!tls_ctx_set) {
		tls_ctx.received_us = clock_real_us();
		tls_ctx.tz = parse_zone_for(NULL);
	}
	return &tls_ctx;
}

/* ---- local times ---- */

int64_t
local_time_to_utc(const struct tzrule *tz, int year, int month, int day,
    int hour, int min, int sec, int64_t frac_us)
{
	int64_t local = days_from_civil(year, month, day) * 86400 +
	    hour * 3600 + min * 60 + sec;

	return tzrule_local_to_utc(tz, local) * 1000000 + frac_us;
}

static int
date_exists(int y, int m, int d)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
		30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m >= 1 && m <= 12 && d >= 1 &&
	    d <= mdays[m - 1] + (m == 2 && leap);
}

int64_t
local_time_infer_year(const struct tzrule *tz, int64_t received_us,
    int month, int day, int hour, int min, int sec, int64_t frac_us)
{
	int y = (int)tzrule_year_at(tz, received_us / 1000000);

	for (int cand = y + 1; cand >= y - 4; cand--) {
		if (!date_exists(cand, month, day))
			continue;
		int64_t t = local_time_to_utc(tz, cand, month, day, hour, min,
		    sec, frac_us);
		if (t <= received_us + 7LL * 86400 * 1000000)
			return t;
	}
	return -1;
}

/* ---- the builder ---- */

static _Thread_local struct textparse *tls_tp;

struct textparse *
tp_begin(void)
{
	struct textparse *tp = tls_tp;

	if (tp == NULL)
		tp = tls_tp = xcalloc(1, sizeof(*tp));
	buf_reset(&tp->text);
	buf_reset(&tp->attrs);
	buf_reset(&tp->keys);
	buf_reset(&tp->warn);
	tp->key_bloom = 0;
	memset(&tp->category, 0, 6 * sizeof(struct tview));
	tp->id[0] = '\0';
	return tp;
}

void
tp_thread_done(void)
{
	struct textparse *tp = tls_tp;

	if (tp == NULL)
		return;
	buf_free(&tp->text);
	buf_free(&tp->attrs);
	buf_free(&tp->keys);
	buf_free(&tp->warn);
	free(tp);
	tls_tp = NULL;
}

struct tview
tp_text(struct textparse *tp, const void *p, size_t n)
{
	struct tview v = { tp->text.len, n, 1 };

	buf_append(&tp->text, p, n);
	return v;
}

/* The keys so far, each as a 2-byte length and its bytes. */
static int
key_seen(const struct textparse *tp, const char *key, size_t klen)
{
	const unsigned char *p = tp->keys.data, *end = p + tp->keys.len;

	while (p < end) {
		size_t l = (size_t)p[0] << 8 | p[1];
		if (l == klen && memcmp(p + 2, key, klen) == 0)
			return 1;
		p += 2 + l;
	}
	return 0;
}

static uint64_t
key_bit(const char *key, size_t klen)
{
	unsigned h = (unsigned)klen * 31u + (unsigned char)key[0] * 7u +
	    (unsigned char)key[klen - 1];

	return 1ULL << (h & 63);
}

/* Writes the key (made unique) and the ':' of a new member. */
static void
put_key(struct textparse *tp, const char *key, size_t klen)
{
	char alt[300];

	if (klen > 256)
		klen = 256;
	if (klen == 0) {
		key = "(empty)";
		klen = 7;
	}
	if ((tp->key_bloom & key_bit(key, klen)) && key_seen(tp, key, klen)) {
		for (int k = 2; ; k++) {
			int l = snprintf(alt, sizeof(alt), "%.*s#%d", (int)klen,
			    key, k);
			if (!key_seen(tp, alt, (size_t)l)) {
				key = alt;
				klen = (size_t)l;
				break;
			}
		}
	}
	tp->key_bloom |= key_bit(key, klen);
	buf_put_be16(&tp->keys, (uint16_t)klen);
	buf_append(&tp->keys, key, klen);
	buf_putc(&tp->attrs, tp->attrs.len ? ',' : '{');
	buf_put_json_string(&tp->attrs, key, klen);
	buf_putc(&tp->attrs, ':');
}

void
tp_attr(struct textparse *tp, const char *key, size_t klen, const char *val,
    size_t vlen)
{
	put_key(tp, key, klen);
	buf_put_json_string(&tp->attrs, val, vlen);
}

void
tp_attr_json(struct textparse *tp, const char *key, size_t klen,
    const char *json, size_t jlen)
{
	put_key(tp, key, klen);
	buf_append(&tp->attrs, json, jlen);
}

void
tp_warn(struct textparse *tp, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	buf_putc(&tp->warn, tp->warn.len ? ',' : '[');
	buf_put_json_string(&tp->warn, msg, strlen(msg));
}

void
tp_id_from_line(struct textparse *tp, const unsigned char *line, size_t n,
    struct sec_event *ev)
{
	unsigned char h[SHA256_LEN];

	sha256(line, n, h);
	hex_encode(h, SHA256_LEN, tp->id);
	ev->id.p = tp->id;
	ev->id.n = 2 * SHA256_LEN;
}

static void
set_view(const struct textparse *tp, const struct tview *v,
    struct strview *out)
{
	if (v->set) {
		out->p = (const char *)tp->text.data + v->off;
		out->n = v->n;
		if (out->p == NULL)
			out->p = "";
	}
}

void
tp_finish(struct textparse *tp, struct sec_event *ev)
{
	if (tp->warn.len) {
		buf_putc(&tp->warn, ']');
		tp_attr_json(tp, "parse_warnings", 14,
		    (const char *)tp->warn.data, tp->warn.len);
	}
	if (tp->attrs.len) {
		buf_putc(&tp->attrs, '}');
		ev->attrs.p = (const char *)tp->attrs.data;
		ev->attrs.n = tp->attrs.len;
	}
	set_view(tp, &tp->category, &ev->category);
	set_view(tp, &tp->action, &ev->action);
	set_view(tp, &tp->outcome, &ev->outcome);
	set_view(tp, &tp->actor_user, &ev->actor_user);
	set_view(tp, &tp->target, &ev->target);
	set_view(tp, &tp->message, &ev->message);
}
