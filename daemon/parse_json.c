/* parse_json.c - the native JSON event (docs/PROTOCOL.md, "The native JSON
 * event") onto struct sec_event. */
#include <arpa/inet.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "event.h"
#include "parse.h"
#include "utf8.h"
#include "xmalloc.h"

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

static const char *
type_name(struct json_object *v)
{
	return json_type_to_name(json_object_get_type(v));
}

/* Takes an optional string field; null means absent. */
static int
take_string(const char *name, struct json_object *v, struct strview *out,
    char *err, size_t errlen)
{
	if (v == NULL || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		FAIL("field '%s' must be a string, got %s", name, type_name(v));
	out->p = json_object_get_string(v);
	out->n = (size_t)json_object_get_string_len(v);
	return 0;
}

static int
skip_digits(const char *s, size_t n, size_t *i)
{
	size_t start = *i;

	while (*i < n && s[*i] >= '0' && s[*i] <= '9')
		(*i)++;
	return *i > start;
}

/* An RFC 8259 number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int
number_is_strict(const char *s, size_t n)
{
	size_t i = 0;

	if (i < n && s[i] == '-')
		i++;
	if (i < n && s[i] == '0')
		i++;
	else if (i >= n || s[i] < '1' || s[i] > '9' || !skip_digits(s, n, &i))
		return 0;
	if (i < n && s[i] == '.' && (++i, !skip_digits(s, n, &i)))
		return 0;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (!skip_digits(s, n, &i))
			return 0;
	}
	return i == n;
}

/* One pass over the raw bytes of an item that json-c has read, for what
 * json-c reads differently from an RFC 8259 reader (json-c 0.16):
 * - a raw control character (U+0000..U+001F) inside a string, which RFC
 *   8259 forbids and json-c takes;
 * - \u0000, which json-c decodes into a NUL that cuts a member name short
 *   ("id\u0000x" becomes a second "id") and that PostgreSQL text refuses;
 * - a lone surrogate escape, which json-c turns into U+FFFD;
 * - an integer with a leading zero after '-' ("-01"), which json-c reads
 *   as -1;
 * - an integer outside the 64-bit range, which json-c clamps: counted here
 *   and given its exact text by keep_big_integers.
 * It also counts member names, so that a duplicate, which json-c drops
 * silently, shows as a shorter object. Strings are skipped a byte at a time
 * only past '"', '\\' and control bytes. */
struct scan {
	const unsigned char *s;
	size_t n;
	size_t members;			/* member names in the item */
	size_t big_integers;		/* integers outside the 64-bit range */
	const char *field;		/* the top-level member being read */
	size_t field_len;
};

static int
hex4(const unsigned char *p, unsigned *out)
{
	unsigned v = 0;

	for (int k = 0; k < 4; k++) {
		unsigned char c = p[k];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			v |= (unsigned)((c | 0x20) - 'a' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* Where a fault is, for a reason: "field 'x'", "a member name", "a member
 * name inside 'x'", or "a string" outside any member. */
static void
fault_place(const struct scan *sc, int is_key, int depth, char *out,
    size_t outlen)
{
	size_t q = sc->field ? utf8_cut(sc->field, sc->field_len, 40) : 0;

	if (is_key && depth <= 1)
		snprintf(out, outlen, "a member name");
	else if (is_key && sc->field)
		snprintf(out, outlen, "a member name inside '%.*s'", (int)q,
		    sc->field);
	else if (sc->field)
		snprintf(out, outlen, "field '%.*s'", (int)q, sc->field);
	else
		snprintf(out, outlen, "a string");
}

/* Is the integer text s[0..n) (digits, maybe a leading '-') outside
 * int64_t for a negative and outside uint64_t otherwise? */
static int
integer_out_of_range(const unsigned char *s, size_t n)
{
	int neg = s[0] == '-';
	const char *lim = neg ? "9223372036854775808" : "18446744073709551615";
	size_t d = n - (size_t)neg, ln = strlen(lim);

	if (d != ln)
		return d > ln;
	return memcmp(s + neg, lim, ln) > 0;
}

/* Returns the first index from i of '"', '\\' or a byte below 0x20, or n;
 * eight bytes at a time (the has-zero-byte trick). */
static size_t
string_skip(const unsigned char *s, size_t n, size_t i)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;

#ifdef __SSE2__
	/* Sixteen at a time where SSE2 is there (every x86-64). */
	const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
	    c1f = _mm_set1_epi8(0x1f);
	while (n - i >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		__m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
		    _mm_cmpeq_epi8(v, bslash)),
		    _mm_cmpeq_epi8(_mm_max_epu8(v, c1f), c1f));
		unsigned mask = (unsigned)_mm_movemask_epi8(hit);
		if (mask)
			return i + (size_t)__builtin_ctz(mask);
		i += 16;
	}
#endif
	while (n - i >= 8) {
		uint64_t v, q, b, hit;
		memcpy(&v, s + i, 8);
		q = v ^ (ones * '"');
		b = v ^ (ones * '\\');
		hit = (((q - ones) & ~q) | ((b - ones) & ~b) |
		    ((v - ones * 0x20) & ~v)) & highs;
		if (hit) {
			/* The lowest flagged byte is exact; a borrow only
			 * flags bytes above it. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			return i + (size_t)__builtin_ctzll(hit) / 8;
#else
			break;
#endif
		}
		i += 8;
	}
	while (i < n && s[i] != '"' && s[i] != '\\' && s[i] >= 0x20)
		i++;
	return i;
}

/* Nonzero for the bytes scan_item acts on outside strings. */
static const unsigned char byte_class[256] = {
	['{'] = 1, ['['] = 1, ['}'] = 1, [']'] = 1, ['"'] = 1, ['-'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
	['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
};

static int
scan_item(struct scan *sc, char *err, size_t errlen)
{
	const unsigned char *s = sc->s;
	size_t n = sc->n, i = 0;
	int depth = 0;
	char place[80];

	while (i < n) {
		unsigned char c = s[i];

		if (byte_class[c] == 0) {	/* , : blanks, literals */
			i++;
			continue;
		}
		if (c == '{' || c == '[') {
			depth++;
			i++;
		} else if (c == '}' || c == ']') {
			depth--;
			i++;
		} else if (c == '"') {
			size_t start = ++i, fault_at = 0;
			int fault = 0;	/* 1 control, 2 \u0000, 3 lone surrogate */

			for (;;) {
				i = string_skip(s, n, i);
				if (i >= n)
					return 0;	/* json-c said it ends */
				if (s[i] == '"')
					break;
				if (s[i] < 0x20) {
					if (!fault) {
						fault = 1;
						fault_at = i;
					}
					i++;
					continue;
				}
				unsigned u, lo;
				if (i + 5 >= n || s[i + 1] != 'u' ||
				    hex4(s + i + 2, &u) < 0) {
					i += 2;		/* a one-letter escape */
					continue;
				}
				if (u >= 0xd800 && u <= 0xdbff && i + 11 < n &&
				    s[i + 6] == '\\' && s[i + 7] == 'u' &&
				    hex4(s + i + 8, &lo) == 0 && lo >= 0xdc00 &&
				    lo <= 0xdfff) {
					i += 12;	/* a surrogate pair */
					continue;
				}
				if (!fault && (u == 0 || (u >= 0xd800 &&
				    u <= 0xdfff))) {
					fault = u == 0 ? 2 : 3;
					fault_at = i;
				}
				i += 6;
			}
			size_t end = i++, j = i;
			while (j < n && (s[j] == ' ' || s[j] == '\t' ||
			    s[j] == '\n' || s[j] == '\r'))
				j++;
			int is_key = j < n && s[j] == ':';
			if (is_key) {
				sc->members++;
				if (depth == 1) {
					sc->field = (const char *)s + start;
					sc->field_len = end - start;
				}
			}
			if (fault) {
				if (is_key && depth == 1)
					sc->field = NULL;
				fault_place(sc, is_key, depth, place, sizeof(place));
				if (fault == 1)
					FAIL("%s holds a raw control character "
					    "(0x%02x) at byte %zu; RFC 8259 wants "
					    "it escaped", place, s[fault_at],
					    fault_at);
				if (fault == 2)
					FAIL("%s holds \\u0000 at byte %zu", place,
					    fault_at);
				FAIL("%s holds a lone surrogate escape '%.6s' "
				    "at byte %zu", place,
				    (const char *)s + fault_at, fault_at);
			}
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			size_t start = i;
			int integer = 1;

			while (i < n && ((s[i] >= '0' && s[i] <= '9') ||
			    s[i] == '-' || s[i] == '+' || s[i] == '.' ||
			    s[i] == 'e' || s[i] == 'E')) {
				if (s[i] == '.' || s[i] == 'e' || s[i] == 'E')
					integer = 0;
				i++;
			}
			/* Doubles are checked on their json-c text (check_value);
			 * "-Infinity" is not a number token here. */
			if (!integer || i - start <= (size_t)1 + (c == '-'))
				continue;
			if (!number_is_strict((const char *)s + start, i - start)) {
				size_t q = i - start < 40 ? i - start : 40;
				fault_place(sc, 0, depth, place, sizeof(place));
				FAIL("%s holds a number that is not strict JSON: "
				    "'%.*s'", place, (int)q, (const char *)s + start);
			}
			if (i - start >= 19 && integer_out_of_range(s + start,
			    i - start))
				sc->big_integers++;
		} else {
			i++;
		}
	}
	return 0;
}

/* Appends the decoded text of the JSON string at s[*i] (its opening quote)
 * to b and leaves *i past its closing quote. The string was checked by
 * json-c and scan_item. */
static void
decode_string(const unsigned char *s, size_t n, size_t *i, struct buf *b)
{
	size_t k = *i + 1;

	while (k < n && s[k] != '"') {
		if (s[k] != '\\') {
			buf_putc(b, (char)s[k++]);
			continue;
		}
		unsigned char e = k + 1 < n ? s[k + 1] : 0;
		unsigned u = 0, lo = 0;
		if (e != 'u' || k + 5 >= n || hex4(s + k + 2, &u) < 0) {
			const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
			const char *p = e ? strchr(from, e) : NULL;
			buf_putc(b, p ? to[p - from] : (char)e);
			k += 2;
			continue;
		}
		k += 6;
		if (u >= 0xd800 && u <= 0xdbff && k + 5 < n &&
		    hex4(s + k + 2, &lo) == 0) {
			u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
			k += 6;
		}
		if (u < 0x80) {
			buf_putc(b, (char)u);
		} else if (u < 0x800) {
			buf_putc(b, (char)(0xc0 | u >> 6));
			buf_putc(b, (char)(0x80 | (u & 0x3f)));
		} else if (u < 0x10000) {
			buf_putc(b, (char)(0xe0 | u >> 12));
			buf_putc(b, (char)(0x80 | (u >> 6 & 0x3f)));
			buf_putc(b, (char)(0x80 | (u & 0x3f)));
		} else {
			buf_putc(b, (char)(0xf0 | u >> 18));
			buf_putc(b, (char)(0x80 | (u >> 12 & 0x3f)));
			buf_putc(b, (char)(0x80 | (u >> 6 & 0x3f)));
			buf_putc(b, (char)(0x80 | (u & 0x3f)));
		}
	}
	*i = k + 1;
}

struct member_name {
	size_t object;			/* which object, in order of opening */
	size_t at;			/* byte of its opening quote */
	size_t len;			/* the raw name, between the quotes */
	size_t dec, dec_len;		/* the decoded name, in the names buffer */
	size_t field, field_len;	/* the top-level member it is under */
};

/* The names buffer the comparator reads: per thread, since every writer
 * thread parses items at once. */
static _Thread_local const unsigned char *sort_names;

static int
cmp_member_name(const void *a, const void *b)
{
	const struct member_name *x = a, *y = b;

	if (x->object != y->object)
		return x->object < y->object ? -1 : 1;
	if (x->dec_len != y->dec_len)
		return x->dec_len < y->dec_len ? -1 : 1;
	int c = memcmp(sort_names + x->dec, sort_names + y->dec, x->dec_len);
	if (c)
		return c;
	return x->at < y->at ? -1 : x->at > y->at;
}

/* The slow path, once json-c's objects hold fewer members than the item
 * names: finds the first repeated member name, in byte order, comparing
 * names as an RFC 8259 reader does, after unescaping ("a" and "\u0061" are
 * one name). Sorting keeps it O(n log n) for an item of many names. */
static void
find_duplicate(const unsigned char *s, size_t n, char *err, size_t errlen)
{
	size_t stack[64], cap = 64, count = 0, objects = 0, i = 0, field = 0,
	    field_len = 0;
	int depth = 0;
	struct member_name *names = NULL;
	struct buf dec = BUF_INIT;

	while (i < n) {
		unsigned char c = s[i];

		if (c == '{' || c == '[') {
			if (depth < 64)
				stack[depth] = c == '{' ? objects++ : (size_t)-1;
			depth++;
			i++;
		} else if (c == '}' || c == ']') {
			depth--;
			i++;
		} else if (c == '"') {
			size_t at = i, d = dec.len;
			decode_string(s, n, &i, &dec);
			size_t j = i;
			while (j < n && (s[j] == ' ' || s[j] == '\t' ||
			    s[j] == '\n' || s[j] == '\r'))
				j++;
			if (j >= n || s[j] != ':' || depth < 1 || depth > 64)
				continue;
			if (depth == 1) {
				field = at + 1;
				field_len = i - at - 2;
			}
			if (names == NULL || count == cap) {
				if (names)
					cap *= 2;
				names = xrealloc(names, cap * sizeof(*names));
			}
			names[count++] = (struct member_name){ stack[depth - 1],
			    at, i - at - 2, d, dec.len - d, field, field_len };
		} else {
			i++;
		}
	}
	sort_names = dec.data;
	qsort(names, count, sizeof(*names), cmp_member_name);
	struct member_name *first = NULL;
	for (size_t k = 1; k < count; k++)
		if (names[k - 1].object == names[k].object &&
		    names[k - 1].dec_len == names[k].dec_len &&
		    memcmp(dec.data + names[k - 1].dec, dec.data + names[k].dec,
		    names[k].dec_len) == 0 && (first == NULL ||
		    names[k].at < first->at))
			first = &names[k];
	if (first == NULL) {
		snprintf(err, errlen, "a member name is repeated in one object");
	} else {
		const char *k = (const char *)s + first->at + 1;
		const char *f = (const char *)s + first->field;
		size_t kq = utf8_cut(k, first->len, 40);
		size_t fq = utf8_cut(f, first->field_len, 40);
		if (first->field == first->at + 1)
			snprintf(err, errlen, "duplicate member name '%.*s' at "
			    "byte %zu", (int)kq, k, first->at);
		else
			snprintf(err, errlen, "duplicate member name '%.*s' "
			    "inside '%.*s' at byte %zu", (int)kq, k, (int)fq, f,
			    first->at);
	}
	free(names);
	buf_free(&dec);
}

/* Walks the tree json-c built: numbers jsonb cannot hold, and the member
 * count that shows a duplicate name. */
static int
check_value(struct json_object *v, const char *key, char *err, size_t errlen,
    int depth, size_t *members)
{
	switch (json_object_get_type(v)) {
	case json_type_double: {
		size_t n;
		const char *t;

		if (!isfinite(json_object_get_double(v)))
			FAIL("field '%s' holds a number out of range", key);
		/* attrs keeps the number's text, which json-c takes in forms
		 * that jsonb refuses ("1.", "-.5", "00.5"). */
		t = json_object_to_json_string_length(v, JSON_C_TO_STRING_PLAIN, &n);
		if (!number_is_strict(t, n))
			FAIL("field '%s' holds a number that is not strict JSON: "
			    "'%.*s'", key, (int)(n < 40 ? n : 40), t);
		return 0;
	}
	case json_type_array: {
		size_t n = json_object_array_length(v);
		for (size_t i = 0; i < n; i++)
			if (check_value(json_object_array_get_idx(v, i), key,
			    err, errlen, depth + 1, members) < 0)
				return -1;
		return 0;
	}
	case json_type_object: {
		*members += (size_t)json_object_object_length(v);
		json_object_object_foreach(v, k, child) {
			if (child && check_value(child, depth ? key : k, err,
			    errlen, depth + 1, members) < 0)
				return -1;
		}
		return 0;
	}
	default:
		return 0;
	}
}

/* Integers outside the 64-bit range are kept in attrs as their exact text,
 * not refused: an RFC 8259 reader reads them as sent (a 128-bit id sent
 * as a number, say), and the attrs column (PostgreSQL json) keeps the text
 * as written; jsonb's numeric would hold them exactly too. Refusing them
 * would quarantine valid JSON. json-c clamps them, so the text is taken from the item and
 * hung on the json-c integer as its userdata, which put_json_value writes.
 * The tree is walked in the item's order (json-c keeps members in
 * insertion order, and there are no duplicates by now), taking the next
 * integer token of the item for each integer node. */
struct int_cursor {
	const unsigned char *s;
	size_t n, i;
};

static int
next_integer(struct int_cursor *c, size_t *start, size_t *len)
{
	const unsigned char *s = c->s;

	while (c->i < c->n) {
		unsigned char ch = s[c->i];
		if (ch == '"') {
			for (c->i++; c->i < c->n && s[c->i] != '"'; c->i++)
				if (s[c->i] == '\\')
					c->i++;
			c->i++;
		} else if (ch == '-' || (ch >= '0' && ch <= '9')) {
			size_t b = c->i;
			int integer = 1;
			while (c->i < c->n && ((s[c->i] >= '0' && s[c->i] <= '9') ||
			    s[c->i] == '-' || s[c->i] == '+' || s[c->i] == '.' ||
			    s[c->i] == 'e' || s[c->i] == 'E')) {
				if (s[c->i] == '.' || s[c->i] == 'e' ||
				    s[c->i] == 'E')
					integer = 0;
				c->i++;
			}
			if (integer && c->i - b > (size_t)(ch == '-')) {
				*start = b;
				*len = c->i - b;
				return 1;
			}
		} else {
			c->i++;
		}
	}
	return 0;
}

static void
free_text(struct json_object *v, void *text)
{
	(void)v;
	free(text);
}

static void
keep_big_integers(struct json_object *v, struct int_cursor *c)
{
	size_t start, len;

	switch (json_object_get_type(v)) {
	case json_type_int:
		if (next_integer(c, &start, &len) && len >= 19 &&
		    integer_out_of_range(c->s + start, len)) {
			char *t = xmalloc(len + 1);
			memcpy(t, c->s + start, len);
			t[len] = '\0';
			json_object_set_userdata(v, t, free_text);
		}
		break;
	case json_type_array: {
		size_t n = json_object_array_length(v);
		for (size_t i = 0; i < n; i++)
			keep_big_integers(json_object_array_get_idx(v, i), c);
		break;
	}
	case json_type_object: {
		json_object_object_foreach(v, k, child) {
			(void)k;
			if (child)
				keep_big_integers(child, c);
		}
		break;
	}
	default:
		break;
	}
}

static int
take_ip(const char *name, struct json_object *v, struct sec_event *ev, char *err,
    size_t errlen)
{
	struct strview s = { 0 };
	char tmp[64];

	if (take_string(name, v, &s, err, errlen) < 0)
		return -1;
	if (s.p == NULL)
		return 0;
	if (s.n >= sizeof(tmp))
		FAIL("field '%s' is not an IP address", name);
	memcpy(tmp, s.p, s.n);
	tmp[s.n] = '\0';
	if (inet_pton(AF_INET, tmp, ev->src_ip) == 1)
		ev->src_family = 4;
	else if (inet_pton(AF_INET6, tmp, ev->src_ip) == 1)
		ev->src_family = 6;
	else
		FAIL("field '%s' is not an IP address: '%s'", name, tmp);
	return 0;
}

/* The parser's working memory, kept per thread so that items do not pay
 * for a tokener and an attrs buffer each. */
static _Thread_local struct json_tokener *tls_tok;
static _Thread_local struct buf tls_attrs;
/* The id of the last item that failed, when it could be read (1.1: a
 * quarantined item's outcome names it); "" when not. */
static _Thread_local char tls_failed_id[EVENT_ID_MAX + 1];
static _Thread_local int tls_names_checked;	/* passed the duplicate check */

void
event_parser_thread_done(void)
{
	if (tls_tok)
		json_tokener_free(tls_tok);
	tls_tok = NULL;
	buf_free(&tls_attrs);
}

/* Writes v as JSON. Strings were checked to be valid UTF-8 without NUL. */
static void
put_json_value(struct buf *b, struct json_object *v)
{
	size_t n;

	switch (json_object_get_type(v)) {
	case json_type_null:
		buf_puts(b, "null");
		break;
	case json_type_boolean:
		buf_puts(b, json_object_get_boolean(v) ? "true" : "false");
		break;
	case json_type_int: {
		int64_t i = json_object_get_int64(v);
		const char *text = json_object_get_userdata(v);
		if (text)	/* outside 64 bits: see keep_big_integers */
			buf_puts(b, text);
		else if (i == INT64_MAX)	/* json-c keeps larger values unsigned */
			buf_printf(b, "%llu",
			    (unsigned long long)json_object_get_uint64(v));
		else
			buf_printf(b, "%lld", (long long)i);
		break;
	}
	case json_type_double: {
		const char *t = json_object_to_json_string_length(v,
		    JSON_C_TO_STRING_PLAIN, &n);
		buf_append(b, t, n);
		break;
	}
	case json_type_string:
		buf_put_json_string(b, json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
		break;
	case json_type_array:
		n = json_object_array_length(v);
		buf_putc(b, '[');
		for (size_t i = 0; i < n; i++) {
			if (i)
				buf_putc(b, ',');
			put_json_value(b, json_object_array_get_idx(v, i));
		}
		buf_putc(b, ']');
		break;
	case json_type_object: {
		int first = 1;
		buf_putc(b, '{');
		json_object_object_foreach(v, k, child) {
			if (!first)
				buf_putc(b, ',');
			first = 0;
			buf_put_json_string(b, k, strlen(k));
			buf_putc(b, ':');
			put_json_value(b, child);
		}
		buf_putc(b, '}');
		break;
	}
	}
}

/* Keeps an unmapped member in attrs; the text is opened with ',' and
 * parse_object turns the first one into '{'. */
static void
keep_attr(const char *key, struct json_object *v)
{
	buf_putc(&tls_attrs, ',');
	buf_put_json_string(&tls_attrs, key, strlen(key));
	buf_putc(&tls_attrs, ':');
	put_json_value(&tls_attrs, v);
}

/* "actor": {"user": ...} and "src": {"ip": ...}: takes the mapped member and
 * keeps the others in attrs under the same parent key. */
static int
take_nested(struct sec_event *ev, const char *parent, struct json_object *obj,
    char *err, size_t errlen)
{
	if (json_object_is_type(obj, json_type_null))
		return 0;
	if (!json_object_is_type(obj, json_type_object))
		FAIL("field '%s' must be an object, got %s", parent, type_name(obj));
	int opened = 0;
	json_object_object_foreach(obj, k, v) {
		if (strcmp(parent, "actor") == 0 && strcmp(k, "user") == 0) {
			if (take_string("actor.user", v, &ev->actor_user, err,
			    errlen) < 0)
				return -1;
		} else if (strcmp(parent, "src") == 0 && strcmp(k, "ip") == 0) {
			if (take_ip("src.ip", v, ev, err, errlen) < 0)
				return -1;
		} else {
			if (!opened) {
				buf_putc(&tls_attrs, ',');
				buf_put_json_string(&tls_attrs, parent, strlen(parent));
				buf_puts(&tls_attrs, ":{");
			} else {
				buf_putc(&tls_attrs, ',');
			}
			opened = 1;
			buf_put_json_string(&tls_attrs, k, strlen(k));
			buf_putc(&tls_attrs, ':');
			put_json_value(&tls_attrs, v);
		}
	}
	if (opened)
		buf_putc(&tls_attrs, '}');
	return 0;
}

static int
map_field(struct sec_event *ev, const char *k, struct json_object *v,
    struct json_object **id, struct json_object **time, char *err,
    size_t errlen)
{
	if (strcmp(k, "id") == 0)
		*id = v;
	else if (strcmp(k, "time") == 0)
		*time = v;
	else if (strcmp(k, "supplier") == 0)
		return take_string(k, v, &ev->supplier, err, errlen);
	else if (strcmp(k, "category") == 0)
		return take_string(k, v, &ev->category, err, errlen);
	else if (strcmp(k, "action") == 0)
		return take_string(k, v, &ev->action, err, errlen);
	else if (strcmp(k, "outcome") == 0)
		return take_string(k, v, &ev->outcome, err, errlen);
	else if (strcmp(k, "target") == 0)
		return take_string(k, v, &ev->target, err, errlen);
	else if (strcmp(k, "message") == 0)
		return take_string(k, v, &ev->message, err, errlen);
	else if (strcmp(k, "actor.user") == 0)
		return take_string(k, v, &ev->actor_user, err, errlen);
	else if (strcmp(k, "src.ip") == 0)
		return take_ip(k, v, ev, err, errlen);
	else if (strcmp(k, "actor") == 0 || strcmp(k, "src") == 0)
		return take_nested(ev, k, v, err, errlen);
	else if (strcmp(k, "severity") == 0) {
		if (v == NULL || json_object_is_type(v, json_type_null))
			return 0;
		if (json_object_is_type(v, json_type_int)) {
			int64_t s = json_object_get_int64(v);
			if (s < 0 || s > 6)
				FAIL("field 'severity' must be 0..6 or a name, "
				    "got %lld", (long long)s);
			ev->severity = (int)s;
		} else if (json_object_is_type(v, json_type_string)) {
			ev->severity = severity_from_name(json_object_get_string(v),
			    (size_t)json_object_get_string_len(v));
			if (ev->severity < 0)
				FAIL("field 'severity' must be 0..6 or one of "
				    "unknown, informational, low, medium, high, "
				    "critical, fatal");
		} else
			FAIL("field 'severity' must be an integer or a string, "
			    "got %s", type_name(v));
	} else if (strcmp(k, "seq") == 0) {
		if (v == NULL || json_object_is_type(v, json_type_null))
			return 0;
		if (!json_object_is_type(v, json_type_int))
			FAIL("field 'seq' must be an integer, got %s", type_name(v));
		int64_t s = json_object_get_int64(v);
		if (s < 0 || (s == INT64_MAX && json_object_get_uint64(v) != INT64_MAX))
			FAIL("field 'seq' must be 0..%lld", (long long)INT64_MAX);
		ev->has_seq = 1;
		ev->seq = s;
	} else if (strcmp(k, "personal_data") == 0) {
		if (v == NULL || json_object_is_type(v, json_type_null))
			return 0;
		if (!json_object_is_type(v, json_type_boolean))
			FAIL("field 'personal_data' must be true or false, got %s",
			    type_name(v));
		ev->personal_data = json_object_get_boolean(v);
	} else
		keep_attr(k, v);
	return 0;
}

/* The checks an RFC 8259 reader would make that json-c does not (see
 * struct scan), on the object json-c read from item. */
static int
check_item(struct json_object *root, const unsigned char *item, size_t len,
    char *err, size_t errlen)
{
	struct scan sc = { item, len, 0, 0, NULL, 0 };
	size_t members = 0;

	if (!json_object_is_type(root, json_type_object))
		FAIL("item must be a JSON object, got %s", type_name(root));
	if (scan_item(&sc, err, errlen) < 0 ||
	    check_value(root, "", err, errlen, 0, &members) < 0)
		return -1;
	/* A repeated name anywhere: readers disagree on which value wins
	 * (json-c and jsonb keep the last, others the first or both), so no
	 * stored value could be the one every reader sees. */
	if (members != sc.members) {
		find_duplicate(item, len, err, errlen);
		return -1;
	}
	tls_names_checked = 1;
	if (sc.big_integers) {
		struct int_cursor c = { item, len, 0 };
		keep_big_integers(root, &c);
	}
	return 0;
}

static int
parse_object(struct sec_event *ev, char *err, size_t errlen)
{
	struct json_object *id = NULL, *time = NULL;
	char tbuf[64];

	json_object_object_foreach(ev->root, k, v) {
		if (map_field(ev, k, v, &id, &time, err, errlen) < 0)
			return -1;
	}
	if (id == NULL || json_object_is_type(id, json_type_null))
		FAIL("missing required field 'id'");
	if (!json_object_is_type(id, json_type_string))
		FAIL("field 'id' must be a string, got %s", type_name(id));
	ev->id.p = json_object_get_string(id);
	ev->id.n = (size_t)json_object_get_string_len(id);
	if (ev->id.n == 0)
		FAIL("field 'id' must not be empty");
	if (ev->id.n > EVENT_ID_MAX)
		FAIL("field 'id' is longer than %d bytes", EVENT_ID_MAX);
	if (time == NULL || json_object_is_type(time, json_type_null))
		FAIL("missing required field 'time'");
	if (!json_object_is_type(time, json_type_string))
		FAIL("field 'time' must be an RFC 3339 string, got %s",
		    type_name(time));
	const char *ts = json_object_get_string(time);
	size_t tn = (size_t)json_object_get_string_len(time);
	/* Quote at most 40 bytes, cut on a character boundary: the reason is
	 * stored as text and must stay valid UTF-8. */
	size_t tq = tn < 40 ? tn : 40;
	while (tq > 0 && tq < tn && ((unsigned char)ts[tq] & 0xc0) == 0x80)
		tq--;
	snprintf(tbuf, sizeof(tbuf), "%.*s", (int)tq, ts);
	if (rfc3339_parse(ts, tn, &ev->occurred_us) < 0)
		FAIL("field 'time' is not an RFC 3339 date-time: '%s'", tbuf);
	if (ev->occurred_us < EVENT_TIME_MIN_US ||
	    ev->occurred_us >= EVENT_TIME_MAX_US)
		FAIL("field 'time' is out of range (1970-01-01T00:00:00Z up to "
		    "2100-01-01T00:00:00Z): '%s'", tbuf);
	if (tls_attrs.len) {
		tls_attrs.data[0] = '{';
		buf_putc(&tls_attrs, '}');
		ev->attrs.p = (const char *)tls_attrs.data;
		ev->attrs.n = tls_attrs.len;
	}
	return 0;
}

/* A failed item's id is worth naming when the item is an object whose
 * encoding and member names passed (no second "id" to choose from) and
 * whose id is a string of 1 to EVENT_ID_MAX bytes. */
static void
keep_failed_id(struct json_object *root)
{
	struct json_object *id;

	if (!tls_names_checked || root == NULL ||
	    !json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "id", &id) ||
	    !json_object_is_type(id, json_type_string))
		return;
	size_t n = (size_t)json_object_get_string_len(id);
	if (n == 0 || n > EVENT_ID_MAX)
		return;
	memcpy(tls_failed_id, json_object_get_string(id), n);
	tls_failed_id[n] = '\0';
}

int
event_json_read(const unsigned char *item, size_t len, struct json_object **root,
    char *err, size_t errlen)
{
	struct json_tokener *tok;
	size_t bad;

	*root = NULL;
	tls_failed_id[0] = '\0';
	if (len == 0)
		FAIL("invalid JSON: empty item");
	if ((bad = utf8_invalid_at(item, len)) != (size_t)-1)
		FAIL("invalid UTF-8 at byte %zu of the item", bad);
	if (len > INT32_MAX)
		FAIL("item too large");
	if (tls_tok == NULL) {
		if ((tls_tok = json_tokener_new()) == NULL)
			FAIL("out of memory");
		json_tokener_set_flags(tls_tok, JSON_TOKENER_STRICT);
	} else {
		json_tokener_reset(tls_tok);
	}
	tok = tls_tok;
	*root = json_tokener_parse_ex(tok, (const char *)item, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue) {
		/* A bare number or literal ends only at a delimiter; the NUL
		 * (never in an item: see utf8_invalid_at) says the item is over. */
		*root = json_tokener_parse_ex(tok, "", 1);
		if (json_tokener_get_error(tok) != json_tokener_success) {
			json_object_put(*root);
			*root = NULL;
			FAIL("invalid JSON: unexpected end of item");
		}
		jerr = json_tokener_success;
	}
	if (jerr != json_tokener_success) {
		json_object_put(*root);
		*root = NULL;
		FAIL("invalid JSON at byte %zu: %s", end,
		    json_tokener_error_desc(jerr));
	}
	if (*root == NULL)	/* the item is the literal null */
		FAIL("item must be a JSON object, got null");
	tls_names_checked = 0;
	if (check_item(*root, item, len, err, errlen) < 0) {
		keep_failed_id(*root);
		json_object_put(*root);
		*root = NULL;
		return -1;
	}
	return 0;
}

void
event_json_put(struct buf *b, struct json_object *v)
{
	put_json_value(b, v);
}

int
event_parse_json(const unsigned char *item, size_t len, struct sec_event *ev,
    char *err, size_t errlen)
{
	struct json_object *root;

	memset(ev, 0, sizeof(*ev));
	ev->severity = -1;
	buf_reset(&tls_attrs);
	if (event_json_read(item, len, &root, err, errlen) < 0)
		return -1;
	ev->root = root;
	if (parse_object(ev, err, errlen) < 0) {
		keep_failed_id(ev->root);
		event_clear(ev);
		return -1;
	}
	return 0;
}

const char *
event_json_failed_id(void)
{
	return tls_failed_id[0] ? tls_failed_id : NULL;
}

void
event_clear(struct sec_event *ev)
{
	json_object_put(ev->root);
	ev->root = NULL;
}

/* The native JSON event arrives as one object or an array of them
 * (application/json), or as one object per line (application/x-ndjson). */
const struct parser parser_json = {
	.name = "json",
	.label = "JSON",
	.ct = CT_JSON,
	.split = split_json,
	.parse = event_parse_json,
	.clear = event_clear,
	.thread_done = event_parser_thread_done,
	.failed_id = event_json_failed_id,
};

const struct parser parser_ndjson = {
	.name = "ndjson",
	.label = "JSON",
	.ct = CT_NDJSON,
	.split = split_ndjson,
	.parse = event_parse_json,
	.clear = event_clear,
	.thread_done = event_parser_thread_done,
	.failed_id = event_json_failed_id,
};
