/* report_entries.c - the entries of a parsed report (report_entries.h). */
#include "report_entries.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pnr.h"
#include "utf8.h"
#include "xmalloc.h"

#define ID_MAX_CHARS	200

/* The ids of the entries read so far: open addressing over the items'
 * own id strings. */
struct idset {
	const char **slot;
	size_t cap, n;
};

static uint64_t
id_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* Adds s; returns 0 when it was there already. */
static int
idset_add(struct idset *set, const char *s)
{
	if ((set->n + 1) * 2 > set->cap) {
		struct idset big = { NULL, set->cap ? set->cap * 2 : 256, 0 };
		big.slot = xcalloc(big.cap, sizeof(*big.slot));
		for (size_t i = 0; i < set->cap; i++)
			if (set->slot[i])
				(void)idset_add(&big, set->slot[i]);
		free(set->slot);
		*set = big;
	}
	for (size_t i = id_hash(s) & (set->cap - 1);; i = (i + 1) & (set->cap - 1)) {
		if (set->slot[i] == NULL) {
			set->slot[i] = s;
			set->n++;
			return 1;
		}
		if (strcmp(set->slot[i], s) == 0)
			return 0;
	}
}

void
report_refuse(struct report_parsed *rp, const char *code, const char *fmt, ...)
{
	va_list ap;

	if (rp->error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(rp->error, sizeof(rp->error), fmt, ap);
	va_end(ap);
	/* A reason quotes the report: keep it valid UTF-8. */
	rp->error[utf8_cut(rp->error, strlen(rp->error), strlen(rp->error))] = '\0';
	rp->error_code = code;
}

int
report_entry_begin(struct report_parsed *rp, size_t off, size_t len, size_t line)
{
	if (rp->max_items && rp->n == rp->max_items) {
		report_refuse(rp, "too_many_items", "the report has more than "
		    "%zu entries (max_items)", rp->max_items);
		return -1;
	}
	if (rp->n == rp->cap) {
		rp->cap = rp->cap ? rp->cap * 2 : 64;
		rp->items = xrealloc(rp->items, rp->cap * sizeof(*rp->items));
	}
	struct report_item *it = &rp->items[rp->n++];
	memset(it, 0, sizeof(*it));
	it->off = off;
	it->len = len;
	it->line = line;
	buf_reset(&rp->fields);
	buf_reset(&rp->attrs);
	memset(rp->have, 0, sizeof(rp->have));
	rp->cur_pnr = 0;
	rp->cur_pd = -1;
	rp->cur_pw_named = 0;
	free(rp->cur_reason);
	rp->cur_reason = NULL;
	return 0;
}

void
report_entry_quarantine(struct report_parsed *rp, const char *fmt, ...)
{
	char reason[600];
	va_list ap;

	if (rp->cur_reason)
		return;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	reason[utf8_cut(reason, strlen(reason), strlen(reason))] = '\0';
	/* A reason may quote a value: it is stored, so mask any number. */
	buf_reset(&rp->pnr);
	if (pnr_mask(reason, strlen(reason), &rp->pnr))
		rp->cur_reason = xstrdup(buf_cstr(&rp->pnr));
	else
		rp->cur_reason = xstrdup(reason);
}

static void
where_str(const struct report_where *w, char *out, size_t n)
{
	if (w->col)
		snprintf(out, n, "line %zu, column %zu (%s)", w->line, w->col,
		    w->name);
	else
		snprintf(out, n, "line %zu, field \"%s\"", w->line, w->name);
}

static int
digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return -1;
	int v = 0;
	for (int i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

int
report_time_valid(const char *v, size_t n)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
		30, 31 };

	if (n != 10 && n != 16 && n != 19)
		return 0;
	int y = digits(v, 4), mo = digits(v + 5, 2), d = digits(v + 8, 2);
	if (y < 1970 || v[4] != '-' || v[7] != '-' || mo < 1 || mo > 12 ||
	    d < 1 || d > mdays[mo - 1])
		return 0;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return 0;
	if (n == 10)
		return 1;
	int h = digits(v + 11, 2), mi = digits(v + 14, 2);
	if ((v[10] != ' ' && v[10] != 'T') || v[13] != ':' || h < 0 || h > 23 ||
	    mi < 0 || mi > 59)
		return 0;
	if (n == 16)
		return 1;
	int s = digits(v + 17, 2);
	return v[16] == ':' && s >= 0 && s <= 59;
}

int
report_yesno(const char *v, size_t n)
{
	static const char *const yes[] = { "ja", "j", "yes", "y", "true", "1" };
	static const char *const no[] = { "nej", "n", "no", "false", "0" };

	if (n == 0)
		return -1;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (strlen(yes[i]) == n && strncasecmp(v, yes[i], n) == 0)
			return 1;
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (strlen(no[i]) == n && strncasecmp(v, no[i], n) == 0)
			return 0;
	return -2;
}

static void
put_key(struct buf *b, const char *k, size_t n)
{
	buf_putc(b, b->len ? ',' : '{');
	buf_put_json_string(b, k, n);
	buf_putc(b, ':');
}

static void
set_text(struct report_parsed *rp, enum report_field f, const char *v, size_t n)
{
	const char *name = report_field_name(f);
	size_t found = report_field_type(f) == RFT_TEXT ? pnr_count(v, n) : 0;

	rp->have[f] = 1;
	put_key(&rp->fields, name, strlen(name));
	if (f == RF_PERSONAL_DATA) {
		rp->cur_pd = v[0] == 'y';
		rp->pd_off = rp->fields.len;
	}
	rp->cur_pnr += found;
	if (found && f != RF_ID) {
		/* The id is kept as sent: masking it could make two entries
		 * one, and versions are matched by it. */
		buf_reset(&rp->pnr);
		(void)pnr_mask(v, n, &rp->pnr);
		buf_put_json_string(&rp->fields, (const char *)rp->pnr.data,
		    rp->pnr.len);
	} else {
		buf_put_json_string(&rp->fields, v, n);
	}
	if (f == RF_PERSONAL_DATA)
		rp->pd_end = rp->fields.len;
}

/* Masks the numbers in the entry's attrs and records what was found:
 * attrs.pnr_count, personal_data yes (over a "no", with a note). */
static void
entry_pnr(struct report_parsed *rp)
{
	size_t in_attrs = 0;

	if (rp->attrs.len)
		in_attrs = pnr_mask_json((const char *)rp->attrs.data,
		    rp->attrs.len, NULL);
	if (in_attrs) {
		struct buf t;

		buf_reset(&rp->pnr);
		(void)pnr_mask_json((const char *)rp->attrs.data, rp->attrs.len,
		    &rp->pnr);
		t = rp->attrs;
		rp->attrs = rp->pnr;
		rp->pnr = t;
	}
	size_t total = rp->cur_pnr + in_attrs;
	if (total == 0)
		return;
	put_key(&rp->attrs, "pnr_count", 9);
	buf_printf(&rp->attrs, "%zu", total);
	if (rp->cur_pd == 0) {
		/* The number wins: the reporter's "no" is overruled, and
		 * said so where the ISAM reads the entry. */
		const char *k = rp->cur_pw_named ? "bevis_parse_warnings" :
		    "parse_warnings";
		put_key(&rp->attrs, k, strlen(k));
		buf_printf(&rp->attrs, "[\"personal_data: the report says no, "
		    "but the entry holds %zu personal identity number%s; stored "
		    "as yes\"]", total, total == 1 ? "" : "s");
		buf_reset(&rp->pnr);
		buf_append(&rp->pnr, rp->fields.data, rp->pd_off);
		buf_puts(&rp->pnr, "\"yes\"");
		buf_append(&rp->pnr, rp->fields.data + rp->pd_end,
		    rp->fields.len - rp->pd_end);
		buf_reset(&rp->fields);
		buf_append(&rp->fields, rp->pnr.data, rp->pnr.len);
	} else if (rp->cur_pd < 0) {
		put_key(&rp->fields, "personal_data", 13);
		buf_puts(&rp->fields, "\"yes\"");
	}
	rp->cur_pd = 1;
}

void
report_entry_field(struct report_parsed *rp, enum report_field f,
    const char *v, size_t n, const struct report_where *w)
{
	char where[300];

	while (n && isspace((unsigned char)*v))
		v++, n--;
	while (n && isspace((unsigned char)v[n - 1]))
		n--;
	if (n == 0 || rp->have[f])
		return;
	switch (report_field_type(f)) {
	case RFT_TIME:
		if (!report_time_valid(v, n)) {
			where_str(w, where, sizeof(where));
			report_entry_quarantine(rp, "%s: '%.*s' is not a date "
			    "(YYYY-MM-DD or YYYY-MM-DD HH:MM)", where,
			    (int)utf8_cut(v, n, 40), v);
			return;
		}
		break;
	case RFT_YESNO: {
		int yn = report_yesno(v, n);
		if (yn == -2) {
			where_str(w, where, sizeof(where));
			report_entry_quarantine(rp, "%s: '%.*s' is not Ja, Nej, "
			    "J, N, yes, no or empty", where,
			    (int)utf8_cut(v, n, 40), v);
			return;
		}
		set_text(rp, f, yn ? "yes" : "no", yn ? 3 : 2);
		return;
	}
	case RFT_TEXT:
		if (f == RF_ID) {
			size_t chars = 0;
			for (size_t i = 0; i < n; i++)
				chars += ((unsigned char)v[i] & 0xc0) != 0x80;
			if (chars > ID_MAX_CHARS) {
				where_str(w, where, sizeof(where));
				report_entry_quarantine(rp, "%s: the id has %zu "
				    "characters; at most %d", where, chars,
				    ID_MAX_CHARS);
				return;
			}
			free(rp->items[rp->n - 1].id);
			rp->items[rp->n - 1].id = xstrndup(v, n);
		}
		break;
	}
	set_text(rp, f, v, n);
}

void
report_entry_bool(struct report_parsed *rp, enum report_field f, int yes)
{
	if (!rp->have[f])
		set_text(rp, f, yes ? "yes" : "no", yes ? 3 : 2);
}

void
report_entry_attr(struct report_parsed *rp, const char *name, size_t nlen,
    const char *v, size_t n, int json)
{
	if (nlen == 14 && memcmp(name, "parse_warnings", 14) == 0)
		rp->cur_pw_named = 1;
	put_key(&rp->attrs, name, nlen);
	if (json)
		buf_append(&rp->attrs, v, n);
	else
		buf_put_json_string(&rp->attrs, v, n);
}

void
report_entry_end(struct report_parsed *rp, const struct report_where *idw)
{
	struct report_item *it = &rp->items[rp->n - 1];
	char idwhere[300];

	where_str(idw, idwhere, sizeof(idwhere));
	if (!rp->cur_reason && !it->id)
		report_entry_quarantine(rp, "%s: the entry has no id", idwhere);
	if (!rp->cur_reason) {
		if (rp->ids == NULL)
			rp->ids = xcalloc(1, sizeof(struct idset));
		if (!idset_add(rp->ids, it->id))
			report_entry_quarantine(rp, "%s: the id '%.*s' repeats an "
			    "earlier entry's", idwhere,
			    (int)utf8_cut(it->id, strlen(it->id), 60), it->id);
	}
	if (rp->cur_reason) {
		it->reason = rp->cur_reason;
		rp->cur_reason = NULL;
		return;
	}
	rp->readable++;
	entry_pnr(rp);
	buf_puts(&rp->json, rp->json.len ? ",{" : "[{");
	buf_printf(&rp->json, "\"item\":%zu,\"line\":%zu,\"off\":%zu,\"len\":%zu,"
	    "\"id\":", rp->n - 1, it->line, it->off, it->len);
	buf_put_json_string(&rp->json, it->id, strlen(it->id));
	buf_puts(&rp->json, ",\"fields\":");
	if (rp->fields.len) {
		buf_append(&rp->json, rp->fields.data, rp->fields.len);
		buf_putc(&rp->json, '}');
	} else {
		buf_puts(&rp->json, "{}");
	}
	if (rp->attrs.len) {
		buf_puts(&rp->json, ",\"attrs\":");
		buf_append(&rp->json, rp->attrs.data, rp->attrs.len);
		buf_putc(&rp->json, '}');
	}
	buf_putc(&rp->json, '}');
}

void
report_parsed_finish(struct report_parsed *rp)
{
	if (rp->json.len == 0)
		buf_putc(&rp->json, '[');
	buf_putc(&rp->json, ']');
}

void
report_parsed_free(struct report_parsed *rp)
{
	for (size_t i = 0; i < rp->n; i++) {
		free(rp->items[i].id);
		free(rp->items[i].reason);
	}
	free(rp->items);
	buf_free(&rp->json);
	buf_free(&rp->fields);
	buf_free(&rp->attrs);
	buf_free(&rp->pnr);
	free(rp->cur_reason);
	if (rp->ids) {
		free(((struct idset *)rp->ids)->slot);
		free(rp->ids);
	}
	memset(rp, 0, sizeof(*rp));
}
