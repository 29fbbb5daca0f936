/* pnr.c - personnummer and samordningsnummer (see pnr.h).
 *
 * A number is YYMMDD-NNNC or YYMMDD+NNNC (10 digits, '+' from the year one
 * turns 100), YYMMDDNNNC, YYYYMMDD-NNNC or YYYYMMDDNNNC: a real date (day
 * + 60 for a samordningsnummer), and C the Luhn check digit over the ten
 * digits from YY. It stands on its own: no letter or digit next to it, and
 * not glued to more digits by '-', '+', '.', ':' or '/' (a phone number,
 * a date, an address), nor to a word by '-', '+', '.' or '/' (an order
 * number "ORD-..."). */
#include "pnr.h"

#include <stdint.h>
#include <string.h>

/* 1: digit, 2: letter (or '_'), 4: joiner ('-', '+', '.', ':', '/') */
static const unsigned char cls[256] = {
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
	['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
	['A'] = 2, ['B'] = 2, ['C'] = 2, ['D'] = 2, ['E'] = 2, ['F'] = 2,
	['G'] = 2, ['H'] = 2, ['I'] = 2, ['J'] = 2, ['K'] = 2, ['L'] = 2,
	['M'] = 2, ['N'] = 2, ['O'] = 2, ['P'] = 2, ['Q'] = 2, ['R'] = 2,
	['S'] = 2, ['T'] = 2, ['U'] = 2, ['V'] = 2, ['W'] = 2, ['X'] = 2,
	['Y'] = 2, ['Z'] = 2, ['_'] = 2,
	['a'] = 2, ['b'] = 2, ['c'] = 2, ['d'] = 2, ['e'] = 2, ['f'] = 2,
	['g'] = 2, ['h'] = 2, ['i'] = 2, ['j'] = 2, ['k'] = 2, ['l'] = 2,
	['m'] = 2, ['n'] = 2, ['o'] = 2, ['p'] = 2, ['q'] = 2, ['r'] = 2,
	['s'] = 2, ['t'] = 2, ['u'] = 2, ['v'] = 2, ['w'] = 2, ['x'] = 2,
	['y'] = 2, ['z'] = 2,
	['-'] = 4, ['+'] = 4, ['.'] = 4, [':'] = 4, ['/'] = 4,
};

#define IS_DIGIT(c)	(cls[(unsigned char)(c)] & 1)
#define IS_ALNUM(c)	(cls[(unsigned char)(c)] & 3)
#define IS_JOINER(c)	(cls[(unsigned char)(c)] & 4)

static int
two(const unsigned char *p)
{
	return (p[0] - '0') * 10 + (p[1] - '0');
}

/* d: the ten digits YYMMDDNNNC; century: 0 when unknown, else 18..20. */
static int
valid(const unsigned char *d, int century)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
		30, 31 };
	int yy = two(d), mm = two(d + 2), dd = two(d + 4), sum = 0;

	if (mm < 1 || mm > 12)
		return 0;
	if (dd > 60)
		dd -= 60;		/* samordningsnummer */
	if (dd < 1 || dd > mdays[mm - 1])
		return 0;
	if (mm == 2 && dd == 29) {
		int y = century ? century * 100 + yy : yy;
		if (y % 4 != 0 || (century && y % 100 == 0 && y % 400 != 0))
			return 0;
	}
	for (int i = 0; i < 10; i++) {
		int v = (d[i] - '0') * (i % 2 == 0 ? 2 : 1);
		sum += v > 9 ? v - 9 : v;
	}
	return sum % 10 == 0;
}

int
pnr_match_at(const unsigned char *s, size_t n, size_t i, int prev_ok,
    size_t *end, char masked[PNR_MASKED_LEN])
{
	unsigned char d[10];
	size_t run = 0, j, k;
	int century = 0;

	if (!prev_ok)
		return 0;
	while (i + run < n && IS_DIGIT(s[i + run]) && run < 13)
		run++;
	j = i + run;
	if (run == 6 || run == 8) {
		/* YYMMDD-NNNC, YYYYMMDD-NNNC */
		if (j + 5 > n || (s[j] != '-' && s[j] != '+'))
			return 0;
		for (k = 1; k <= 4; k++)
			if (!IS_DIGIT(s[j + k]))
				return 0;
		if (j + 5 < n && IS_DIGIT(s[j + 5]))
			return 0;
		size_t h = run - 6;
		memcpy(d, s + i + h, 6);
		memcpy(d + 6, s + j + 1, 4);
		if (run == 8)
			century = two(s + i);
		j += 5;
	} else if (run == 10 || run == 12) {
		memcpy(d, s + i + run - 10, 10);
		if (run == 12)
			century = two(s + i);
	} else {
		return 0;
	}
	if (century && (century < 18 || century > 20))
		return 0;
	if (j < n && (IS_ALNUM(s[j]) || (IS_JOINER(s[j]) && j + 1 < n &&
	    IS_DIGIT(s[j + 1]))))
		return 0;
	if (!valid(d, century))
		return 0;
	*end = j;
	memcpy(masked, d, 6);
	memcpy(masked + 6, "-XXXX", 5);
	return 1;
}

/* May a number start at s[i]? Not after a letter or digit, nor after a
 * joiner that follows a digit ("070-", "12:"), nor after '-', '+', '.' or
 * '/' that follows a letter ("ORD-", "v."): those are parts of another
 * identifier. "pnr:" and "pnr=" introduce one. */
static int
prev_ok_at(const unsigned char *s, size_t i)
{
	if (i == 0)
		return 1;
	if (IS_ALNUM(s[i - 1]))
		return 0;
	if (!IS_JOINER(s[i - 1]) || i < 2)
		return 1;
	if (IS_DIGIT(s[i - 2]))
		return 0;
	return !(s[i - 1] != ':' && IS_ALNUM(s[i - 2]));
}

/* The next byte from i that could start a number, or n. Most text has few
 * digits, so this is where the time goes. */
static size_t
next_digit(const unsigned char *s, size_t n, size_t i)
{
	while (i < n && !IS_DIGIT(s[i]))
		i++;
	return i;
}

/* Every form has at least ten digits. Counting them eight bytes at a
 * time costs a fraction of the scan, and most fields (names, categories,
 * ids, attrs) have fewer: they are then not scanned at all. A byte is a
 * digit when b ^ 0x30 is 0..9; (x & 0x7f) + 0x76 sets a byte's high bit
 * when x & 0x7f is 10 or more, without a carry into the next byte, and
 * "| x" sets it when x is 0x80 or more. */
#define PNR_MIN_DIGITS	10

static size_t
count_digits(const unsigned char *s, size_t n)
{
	const uint64_t ones = 0x0101010101010101ULL;
	size_t i = 0, c = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w, x, big;

		memcpy(&w, s + i, 8);
		x = w ^ (ones * 0x30);
		big = ((x & (ones * 0x7f)) + ones * 0x76) | x;
		c += (size_t)((((~big & (ones * 0x80)) >> 7) * ones) >> 56);
	}
	for (; i < n; i++)
		c += IS_DIGIT(s[i]);
	return c;
}

static int
too_few_digits(const unsigned char *s, size_t n)
{
	return n < PNR_MIN_DIGITS || count_digits(s, n) < PNR_MIN_DIGITS;
}

static size_t
skip_run(const unsigned char *s, size_t n, size_t i)
{
	while (i < n && IS_DIGIT(s[i]))
		i++;
	return i;
}

size_t
pnr_count(const char *text, size_t n)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t count = 0, i = 0, end;
	char m[PNR_MASKED_LEN];

	if (too_few_digits(s, n))
		return 0;
	while ((i = next_digit(s, n, i)) < n) {
		if (pnr_match_at(s, n, i, prev_ok_at(s, i), &end, m)) {
			count++;
			i = end;
		} else {
			i = skip_run(s, n, i);
		}
	}
	return count;
}

size_t
pnr_mask(const char *text, size_t n, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t count = 0, i = 0, from = 0, end;
	char m[PNR_MASKED_LEN];

	if (too_few_digits(s, n)) {
		buf_append(out, s, n);
		return 0;
	}
	while ((i = next_digit(s, n, i)) < n) {
		if (pnr_match_at(s, n, i, prev_ok_at(s, i), &end, m)) {
			buf_append(out, s + from, i - from);
			buf_append(out, m, sizeof(m));
			count++;
			i = from = end;
		} else {
			i = skip_run(s, n, i);
		}
	}
	buf_append(out, s + from, n - from);
	return count;
}

size_t
pnr_mask_json(const char *text, size_t n, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t count = 0, i = 0, from = 0, end;
	int in_string = 0, after_escape = 0;
	char m[PNR_MASKED_LEN];

	if (too_few_digits(s, n)) {
		if (out)
			buf_append(out, s, n);
		return 0;
	}
	while (i < n) {
		unsigned char c = s[i];

		if (in_string && c == '\\') {
			/* \n, \t, \" ... end a word: a number may follow. */
			i += s[i + 1 < n ? i + 1 : i] == 'u' ? 6 : 2;
			after_escape = 1;
			continue;
		}
		if (c == '"') {
			in_string = !in_string;
			i++;
			after_escape = 0;
			continue;
		}
		if (!IS_DIGIT(c)) {
			i++;
			after_escape = 0;
			continue;
		}
		int prev = after_escape || prev_ok_at(s, i);
		/* Outside strings: a whole JSON number only, never after '-'. */
		if (!in_string && (i == 0 || s[i - 1] == '-'))
			prev = 0;
		if (pnr_match_at(s, n, i, prev, &end, m) && (in_string ||
		    end >= n || s[end] == ',' || s[end] == '}' || s[end] == ']' ||
		    s[end] == ' ' || s[end] == '\n' || s[end] == '\r' ||
		    s[end] == '\t')) {
			if (out) {
				buf_append(out, s + from, i - from);
				if (!in_string)
					buf_putc(out, '"');
				buf_append(out, m, sizeof(m));
				if (!in_string)
					buf_putc(out, '"');
			}
			count++;
			i = from = end;
		} else {
			i = skip_run(s, n, i);
		}
		after_escape = 0;
	}
	if (out)
		buf_append(out, s + from, n - from);
	return count;
}

size_t
pnr_event_mask(struct sec_event *ev, struct buf *scratch)
{
	struct strview *texts[] = { &ev->category, &ev->action, &ev->outcome,
		&ev->actor_user, &ev->target, &ev->message };
	enum { NTEXT = sizeof(texts) / sizeof(texts[0]) };
	size_t found[NTEXT], off[NTEXT + 1], len[NTEXT + 1], total = 0, fa = 0;

	for (size_t k = 0; k < NTEXT; k++) {
		found[k] = texts[k]->p ? pnr_count(texts[k]->p, texts[k]->n) : 0;
		total += found[k];
	}
	if (ev->attrs.p) {
		fa = pnr_mask_json(ev->attrs.p, ev->attrs.n, NULL);
		total += fa;
	}
	size_t id_count = ev->id.p ? pnr_count(ev->id.p, ev->id.n) : 0;
	if (total + id_count == 0)
		return 0;
	buf_reset(scratch);
	for (size_t k = 0; k < NTEXT; k++) {
		off[k] = scratch->len;
		if (found[k])
			pnr_mask(texts[k]->p, texts[k]->n, scratch);
		len[k] = scratch->len - off[k];
	}
	off[NTEXT] = scratch->len;
	size_t in_attrs = 0;
	if (ev->attrs.p && ev->attrs.n >= 2) {
		in_attrs = pnr_mask_json(ev->attrs.p, ev->attrs.n - 1, scratch);
		if (scratch->len - off[NTEXT] > 1)
			buf_putc(scratch, ',');
	} else {
		buf_putc(scratch, '{');
	}
	(void)in_attrs;		/* == fa */
	total += id_count;
	buf_printf(scratch, "\"pnr_count\":%zu}", total);
	len[NTEXT] = scratch->len - off[NTEXT];
	for (size_t k = 0; k < NTEXT; k++)
		if (found[k]) {
			texts[k]->p = (const char *)scratch->data + off[k];
			texts[k]->n = len[k];
		}
	ev->attrs.p = (const char *)scratch->data + off[NTEXT];
	ev->attrs.n = len[NTEXT];
	ev->personal_data = 1;
	return total;
}
