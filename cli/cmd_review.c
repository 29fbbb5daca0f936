/* cmd_review.c - bevis review: the incident section of the annual
 * management review (Ledningens genomgång), in Swedish by default or in
 * English: a Markdown page with the funnel and the tables by month,
 * category, cause and supplier; an SVG chart of incidents per month, this
 * year against the last; and the figures as CSV. Then the suppliers' log
 * quality (issue 16): a Markdown page with a section per supplier, its
 * months' scores beside their measures and an SVG chart of the score per
 * month, and every column as CSV. The figures come from sql/0010_stats.sql
 * (stats.h) and bevis_quality() (sql/0017_quality.sql); nothing is written
 * until all of them are read and every file is rendered, and a failure
 * part-way removes what was written. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "config_source.h"
#include "files.h"
#include "output.h"
#include "quality.h"
#include "stats.h"
#include "xmalloc.h"

#define MODE_REVIEW_FILE	0644
#define MODE_REVIEW_DIR		0755

/* The SVG's geometry, in user units. */
#define SVG_W		760
#define SVG_H		400
#define SVG_LEFT	56
#define SVG_RIGHT	16
#define SVG_TOP		72
#define SVG_BOTTOM	56
#define SVG_BAR		18

/* The quality charts: one per supplier, score 0-100 by month. */
#define QSVG_W		760
#define QSVG_H		300
#define QSVG_LEFT	56
#define QSVG_RIGHT	32
#define QSVG_TOP	56
#define QSVG_BOTTOM	44

/* One file of the review: its name in --out and what it will hold. */
struct review_file {
	char name[96];
	struct buf data;
};

struct review {
	int year;
	enum stats_lang lang;
	const char *dir;
	const char *tz;
	const char *due, *weights;	/* bevis_quality's p_due, p_weights */
	PGresult *funnel, *month, *category, *cause, *supplier;
	PGresult *quality, *quality_all;	/* bevis_quality(), two forms */
	struct review_file *files;
	size_t nfiles;
};

/* Adds a file named by fmt to the review and returns its buffer. */
static struct buf *
review_file(struct review *r, const char *fmt, ...) PRINTF_LIKE(2, 3);

static struct buf *
review_file(struct review *r, const char *fmt, ...)
{
	va_list ap;
	struct review_file *f;

	r->files = xrealloc(r->files, (r->nfiles + 1) * sizeof(*r->files));
	f = &r->files[r->nfiles++];
	memset(f, 0, sizeof(*f));
	va_start(ap, fmt);
	vsnprintf(f->name, sizeof(f->name), fmt, ap);
	va_end(ap);
	return &f->data;
}

static const char *
tr(const struct review *r, const char *en, const char *sv)
{
	return r->lang == STATS_SV ? sv : en;
}

/* Text for XML character data and attribute values. */
static void
xml_escape(struct buf *b, const char *s)
{
	struct buf t = BUF_INIT;

	out_escape_text(&t, s, strlen(s));
	for (size_t i = 0; i < t.len; i++) {
		switch (t.data[i]) {
		case '&': buf_puts(b, "&amp;"); break;
		case '<': buf_puts(b, "&lt;"); break;
		case '>': buf_puts(b, "&gt;"); break;
		case '"': buf_puts(b, "&quot;"); break;
		case '\'': buf_puts(b, "&#39;"); break;
		default: buf_putc(b, (char)t.data[i]);
		}
	}
	buf_free(&t);
}

/* Text for a Markdown table cell: controls escaped, and every character
 * Markdown or a table would read backslash-escaped. */
static void
md_escape(struct buf *b, const char *s)
{
	struct buf t = BUF_INIT;

	out_escape_text(&t, s, strlen(s));
	for (size_t i = 0; i < t.len; i++) {
		if (strchr("\\|*_[]<>`#~!&", t.data[i]) != NULL)
			buf_putc(b, '\\');
		buf_putc(b, (char)t.data[i]);
	}
	buf_free(&t);
}

/* A number from the database for people: "-" for NULL, a decimal comma
 * in Swedish. */
static void
md_number(struct buf *b, const struct review *r, PGresult *res, int row,
    int col, const char *unit)
{
	if (PQgetisnull(res, row, col)) {
		buf_puts(b, "–");
		return;
	}
	for (const char *p = PQgetvalue(res, row, col); *p; p++)
		buf_putc(b, *p == '.' && r->lang == STATS_SV ? ',' : *p);
	buf_puts(b, unit);
}

static void
md_funnel(struct review *r, struct buf *b)
{
	buf_printf(b, "| %s | %d | %d |\n|---|---:|---:|\n",
	    tr(r, "Figure", "Mått"), r->year, r->year - 1);
	for (int i = 0; i < PQntuples(r->funnel); i++) {
		const char *fig = PQgetvalue(r->funnel, i, 1);
		const char *unit = strcmp(fig, "notified_72h_pct") == 0 ? " %" :
		    strncmp(fig, "median_hours", 12) == 0 ? " h" : "";
		buf_puts(b, "| ");
		md_escape(b, stats_label(fig, r->lang));
		buf_puts(b, " | ");
		md_number(b, r, r->funnel, i, 2, unit);
		buf_puts(b, " | ");
		md_number(b, r, r->funnel, i, 3, unit);
		buf_puts(b, " |\n");
	}
}

static void
md_groups(struct review *r, struct buf *b, PGresult *res, const char *by,
    const char *heading)
{
	if (strcmp(by, "month") != 0)
		buf_printf(b, "\n## %s\n\n", heading);
	else
		buf_puts(b, "\n");
	if (PQntuples(res) == 0) {
		buf_printf(b, "%s\n", tr(r, "No incidents.", "Inga incidenter."));
		return;
	}
	buf_puts(b, "| ");
	md_escape(b, heading);
	buf_printf(b, " | %s %d | %s %d | %s %d | %s %d | %s %d | %s %d |\n"
	    "|---|---:|---:|---:|---:|---:|---:|\n",
	    tr(r, "Incidents", "Incidenter"), r->year,
	    tr(r, "Incidents", "Incidenter"), r->year - 1,
	    tr(r, "Personal data", "Personuppgifter"), r->year,
	    tr(r, "Personal data", "Personuppgifter"), r->year - 1,
	    tr(r, "Notified", "Anmälda"), r->year,
	    tr(r, "Notified", "Anmälda"), r->year - 1);
	for (int i = 0; i < PQntuples(res); i++) {
		buf_puts(b, "| ");
		md_escape(b, stats_group_label(by, PQgetvalue(res, i, 0),
		    r->lang));
		/* confirmed, personal_data, notified: columns 2-4 and 6-8 */
		for (int c = 2; c <= 4; c++)
			buf_printf(b, " | %s | %s", PQgetvalue(res, i, c),
			    PQgetvalue(res, i, c + 4));
		buf_puts(b, " |\n");
	}
}

static void
render_markdown(struct review *r, struct buf *b)
{
	buf_printf(b, "# %s %d\n\n**%d: ", tr(r,
	    "Information security incidents",
	    "Informationssäkerhetsincidenter"), r->year, r->year);
	stats_headline(b, r->funnel, 2, r->lang);
	buf_printf(b, ".**\n\n%d (%s): ", r->year - 1, tr(r, "the year before",
	    "året innan"));
	stats_headline(b, r->funnel, 3, r->lang);
	buf_puts(b, ".\n\n");
	buf_printf(b, "## %s\n\n", tr(r,
	    "From potential incident to notification",
	    "Från potentiell incident till anmälan"));
	md_funnel(r, b);
	buf_printf(b, "\n## %s\n\n![%s](%s)\n", tr(r, "Incidents per month",
	    "Incidenter per månad"), tr(r,
	    "Confirmed incidents per month, this year and the last",
	    "Bekräftade incidenter per månad, i år och förra året"),
	    r->files[1].name);
	md_groups(r, b, r->month, "month", tr(r, "Month", "Månad"));
	md_groups(r, b, r->category, "category", tr(r, "Category (CERT-SE)",
	    "Kategori (CERT-SE)"));
	md_groups(r, b, r->cause, "cause", tr(r, "Cause", "Orsak"));
	md_groups(r, b, r->supplier, "supplier", tr(r, "Supplier",
	    "Leverantör"));
	buf_printf(b, "\n## %s\n\n", tr(r, "What is counted", "Vad som räknas"));
	if (r->lang == STATS_SV)
		buf_puts(b, "En incident räknas till det år och den månad den "
		    "upptäcktes (detected_at), eller öppnades i bevis när "
		    "upptäcktstiden saknas, i tidszonen ");
	else
		buf_puts(b, "An incident counts in the year and month it was "
		    "detected (detected_at), or opened in bevis when that is "
		    "unknown, in the time zone ");
	md_escape(b, r->tz);
	if (r->lang == STATS_SV)
		buf_puts(b, ". *Incidenter* är de bekräftade (status confirmed "
		    "eller closed); *potentiella incidenter* är alla utom de "
		    "sammanslagna, som räknas en gång genom den incident de "
		    "slogs samman med. *Personuppgiftsincidenter* är bekräftade "
		    "incidenter som rör personuppgifter; *anmälda* är de av dem "
		    "som anmälts till IMY (GDPR art. 33). 72 timmar räknas från "
		    "kännedom (aware_at). Incidenter med skyddade personuppgifter "
		    "räknas med. Siffrorna beräknas av bevis_stats() i "
		    "databasen (docs/STATS.md).\n");
	else
		buf_puts(b, ". *Incidents* are the confirmed ones (status "
		    "confirmed or closed); *potential incidents* are all but the "
		    "merged ones, which count once through the incident they "
		    "were merged into. *Personal-data incidents* are confirmed "
		    "incidents involving personal data; *notified* are those of "
		    "them notified to IMY (GDPR Art. 33). The 72 hours run from "
		    "awareness (aware_at). Incidents involving protected "
		    "identities are counted. The figures are computed by "
		    "bevis_stats() in the database (docs/STATS.md).\n");
}

static long
month_count(PGresult *res, int month, int col)
{
	for (int i = 0; i < PQntuples(res); i++)
		if (atoi(PQgetvalue(res, i, 0)) == month)
			return atol(PQgetvalue(res, i, col));
	return 0;
}

/* Confirmed incidents per month: the year before in light blue, the year
 * in dark blue, side by side; each bar says its count in a title. */
static void
render_svg(struct review *r, struct buf *b)
{
	const int pw = SVG_W - SVG_LEFT - SVG_RIGHT, ph = SVG_H - SVG_TOP -
	    SVG_BOTTOM;
	const struct { int col, year; const char *fill; } series[2] = {
		{ 6, r->year - 1, "#9ecae1" }, { 2, r->year, "#08519c" } };
	long max = 0, step, top;
	char title[200];

	for (int m = 1; m <= 12; m++)
		for (int s = 0; s < 2; s++)
			if (month_count(r->month, m, series[s].col) > max)
				max = month_count(r->month, m, series[s].col);
	step = max <= 5 ? 1 : max <= 10 ? 2 : (max + 4) / 5;
	top = max <= 5 ? 5 : 5 * step;
	if (r->lang == STATS_SV)
		snprintf(title, sizeof(title), "Bekräftade incidenter per "
		    "månad, %d och %d", r->year, r->year - 1);
	else
		snprintf(title, sizeof(title), "Confirmed incidents per month, "
		    "%d and %d", r->year, r->year - 1);

	buf_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	    "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
	    "aria-labelledby=\"chart-title\" font-family=\"sans-serif\" "
	    "font-size=\"12\">\n<title id=\"chart-title\">", SVG_W, SVG_H,
	    SVG_W, SVG_H);
	xml_escape(b, title);
	buf_printf(b, "</title>\n<rect width=\"%d\" height=\"%d\" "
	    "fill=\"#ffffff\"/>\n<text x=\"%d\" y=\"28\" font-size=\"16\" "
	    "font-weight=\"bold\">", SVG_W, SVG_H, SVG_LEFT);
	xml_escape(b, title);
	buf_puts(b, "</text>\n");
	/* the legend */
	for (int s = 0; s < 2; s++) {
		int x = SVG_W - SVG_RIGHT - 150 + s * 75;
		buf_printf(b, "<rect x=\"%d\" y=\"40\" width=\"14\" "
		    "height=\"14\" fill=\"%s\"/><text x=\"%d\" y=\"52\" "
		    "class=\"legend\">%d</text>\n", x, series[s].fill, x + 20,
		    series[s].year);
	}
	/* the value axis and its grid */
	for (long v = 0; v <= top; v += step) {
		double y = SVG_TOP + ph - (double)ph * (double)v / (double)top;
		buf_printf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
		    "stroke=\"#dddddd\"/><text x=\"%d\" y=\"%.1f\" "
		    "text-anchor=\"end\">%ld</text>\n", SVG_LEFT, y,
		    SVG_W - SVG_RIGHT, y, SVG_LEFT - 8, y + 4, v);
	}
	for (int m = 1; m <= 12; m++) {
		double gx = SVG_LEFT + (double)pw * (m - 1) / 12.0;
		double gw = (double)pw / 12.0;
		char code[16];
		snprintf(code, sizeof(code), "%02d", m);
		const char *mname = stats_group_label("month", code, r->lang);
		for (int s = 0; s < 2; s++) {
			long c = month_count(r->month, m, series[s].col);
			double h = (double)ph * (double)c / (double)top;
			double x = gx + gw / 2 - SVG_BAR - 1 + s * (SVG_BAR + 2);
			buf_printf(b, "<rect class=\"bar\" data-year=\"%d\" "
			    "data-month=\"%d\" data-count=\"%ld\" x=\"%.1f\" "
			    "y=\"%.1f\" width=\"%d\" height=\"%.1f\" "
			    "fill=\"%s\"><title>", series[s].year, m, c, x,
			    SVG_TOP + ph - h, SVG_BAR, h, series[s].fill);
			xml_escape(b, mname);
			buf_printf(b, " %d: %ld</title></rect>\n",
			    series[s].year, c);
			if (c > 0)
				buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" "
				    "text-anchor=\"middle\" font-size=\"10\">"
				    "%ld</text>\n", x + SVG_BAR / 2.0,
				    SVG_TOP + ph - h - 3, c);
		}
		buf_printf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">",
		    gx + gw / 2, SVG_TOP + ph + 18);
		char abbr[8];
		snprintf(abbr, sizeof(abbr), "%.3s", mname);
		xml_escape(b, abbr);
		buf_puts(b, "</text>\n");
	}
	buf_printf(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
	    "stroke=\"#333333\"/>\n</svg>\n", SVG_LEFT, SVG_TOP + ph,
	    SVG_W - SVG_RIGHT, SVG_TOP + ph);
}

/* ---- the suppliers' log quality (issue 16) ---------------------------- */

/* One row per supplier and month of the year, formatted for people. The
 * lowest of the five A.8.15 field shares stands for completeness, with
 * its field (the first in this order on a tie). */
static const char review_quality_sql[] =
    "SELECT q.supplier, substr(q.period, 6, 2), to_char(q.score, 'FM990.0'), "
    "       q.events, q.silent_hours, "
    "       to_char(100 * lo.v, 'FM990.0') || ' % (' || lo.f || ')', "
    "       q.future_events || ' / ' || q.late_events, "
    "       CASE WHEN q.seq_events > 0 THEN q.seq_missing END, "
    "       CASE WHEN q.chain_events > 0 "
    "            THEN q.chain_breaks || ' / ' || q.chain_forks END, "
    "       to_char(100 * q.quarantine_share, 'FM990.00') || ' %', "
    "       q.report_status, q.report_days_late, "
    "       q.period = to_char(now(), 'YYYY-MM') "
    "  FROM bevis_quality(NULL, $1, $2, $3::jsonb, $4::jsonb) q "
    "  LEFT JOIN LATERAL ("
    "       SELECT f.f, f.v FROM (VALUES ('actor.user', q.share_actor_user, 1), "
    "              ('action', q.share_action, 2), ('outcome', q.share_outcome, 3), "
    "              ('src.ip', q.share_src_ip, 4), ('target', q.share_target, 5)) "
    "              f (f, v, n) "
    "        WHERE f.v IS NOT NULL ORDER BY f.v, f.n LIMIT 1) lo ON true "
    " ORDER BY q.supplier, q.period";

enum { Q_SUPPLIER, Q_MONTH, Q_SCORE, Q_EVENTS, Q_SILENT, Q_COMPLETE,
	Q_CLOCK, Q_SEQ, Q_CHAIN, Q_QUAR, Q_RSTATUS, Q_RLATE, Q_CURRENT };

/* The month is not over yet: its figures will still change. */
static int
in_progress(const struct review *r, int row)
{
	return strcmp(PQgetvalue(r->quality, row, Q_CURRENT), "t") == 0;
}

/* A supplier name is [a-z0-9][a-z0-9._-]* (sql/0001): safe in a file
 * name. Anything else is refused rather than written as a path. */
static int
name_is_safe(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')) ||
	    strlen(s) > 63)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._-") ==
	    strlen(s);
}

static void
quality_chart_title(struct buf *b, const struct review *r, const char *sup)
{
	buf_printf(b, "%s %d, %s", tr(r, "Log quality per month",
	    "Loggkvalitet per månad"), r->year, sup);
}

/* The report's punctuality, in words. */
static void
md_report(struct buf *b, const struct review *r, int row)
{
	const char *st = PQgetvalue(r->quality, row, Q_RSTATUS);
	const char *days = PQgetvalue(r->quality, row, Q_RLATE);
	int one = strcmp(days, "1") == 0;

	if (strcmp(st, "on_time") == 0)
		buf_puts(b, tr(r, "on time", "i tid"));
	else if (strcmp(st, "late") == 0)
		buf_printf(b, "%s %s", days, r->lang == STATS_SV ?
		    (one ? "dag sen" : "dagar sen") :
		    (one ? "day late" : "days late"));
	else if (strcmp(st, "missing") == 0)
		buf_printf(b, "%s, %s %s", tr(r, "missing", "saknas"), days,
		    r->lang == STATS_SV ? (one ? "dag" : "dagar") :
		    (one ? "day" : "days"));
	else if (strcmp(st, "not_due") == 0)
		buf_puts(b, tr(r, "not due", "ej förfallen"));
	else
		buf_puts(b, "–");
}

/* A cell of r->quality: "–" for NULL; in Swedish a decimal comma where a
 * point stands between digits (not in "actor.user"); escaped. */
static void
md_qcell(struct buf *b, const struct review *r, int row, int col)
{
	struct buf t = BUF_INIT;
	const char *v = PQgetvalue(r->quality, row, col);

	if (PQgetisnull(r->quality, row, col)) {
		buf_puts(b, "–");
		return;
	}
	for (size_t i = 0; v[i]; i++)
		buf_putc(&t, v[i] == '.' && r->lang == STATS_SV && i > 0 &&
		    v[i - 1] >= '0' && v[i - 1] <= '9' && v[i + 1] >= '0' &&
		    v[i + 1] <= '9' ? ',' : v[i]);
	md_escape(b, buf_cstr(&t));
	buf_free(&t);
}

static void
md_quality_row(struct buf *b, const struct review *r, int row)
{
	static const int cols[] = { Q_EVENTS, Q_SILENT, Q_COMPLETE, Q_CLOCK,
		Q_SEQ, Q_CHAIN, Q_QUAR };
	PGresult *q = r->quality;

	buf_puts(b, "| ");
	md_escape(b, stats_group_label("month", PQgetvalue(q, row, Q_MONTH),
	    r->lang));
	if (in_progress(r, row))
		buf_printf(b, " (%s)", tr(r, "in progress", "pågår"));
	buf_puts(b, " | ");
	md_qcell(b, r, row, Q_SCORE);
	for (size_t c = 0; c < sizeof(cols) / sizeof(cols[0]); c++) {
		buf_puts(b, " | ");
		md_qcell(b, r, row, cols[c]);
	}
	buf_puts(b, " | ");
	md_report(b, r, row);
	buf_puts(b, " |\n");
}

static void
render_quality_markdown(struct review *r, struct buf *b)
{
	PGresult *q = r->quality;
	int n = PQntuples(q);

	buf_printf(b, "# %s %d\n\n", tr(r, "Suppliers' log quality",
	    "Leverantörernas loggkvalitet"), r->year);
	if (r->lang == STATS_SV)
		buf_puts(b, "Varje leverantörs loggar, månad för månad: poängen "
		    "(0–100) och måtten den bygger på. Poängen är ett viktat "
		    "medelvärde av delbetygen för volym, tystnad, "
		    "fullständighet, klocka, sekvens, kedja, avvisningar och "
		    "rapportering, av dem som gäller för månaden; den ska "
		    "alltid läsas tillsammans med måtten bredvid.\n");
	else
		buf_puts(b, "Each supplier's logs, month by month: the score "
		    "(0–100) and the measures it is made of. The score is a "
		    "weighted mean of the sub-scores for volume, silence, "
		    "completeness, clock, sequence, chain, rejects and "
		    "reporting, of those that apply to the month; always read "
		    "it with the measures beside it.\n");
	if (n == 0)
		buf_printf(b, "\n%s %d.\n", tr(r, "No supplier sent logs in",
		    "Ingen leverantör skickade loggar under"), r->year);
	for (int i = 0; i < n; i++) {
		const char *sup = PQgetvalue(q, i, Q_SUPPLIER);
		if (i > 0 && strcmp(sup, PQgetvalue(q, i - 1, Q_SUPPLIER)) == 0) {
			md_quality_row(b, r, i);
			continue;
		}
		if (i > 0) {
			struct buf t = BUF_INIT;
			const char *prev = PQgetvalue(q, i - 1, Q_SUPPLIER);
			quality_chart_title(&t, r, prev);
			buf_puts(b, "\n![");
			md_escape(b, buf_cstr(&t));
			buf_printf(b, "](quality-%d-%s.svg)\n", r->year, prev);
			buf_free(&t);
		}
		buf_puts(b, "\n## ");
		md_escape(b, sup);
		buf_printf(b, "\n\n| %s | %s | %s | %s | %s | %s | %s | %s | %s "
		    "| %s |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
		    tr(r, "Month", "Månad"), tr(r, "Score", "Poäng"),
		    tr(r, "Events", "Händelser"),
		    tr(r, "Silent hours", "Tysta timmar"),
		    tr(r, "Completeness (lowest field)",
		    "Fullständighet (lägsta fält)"),
		    tr(r, "Future / late", "I framtiden / sena"),
		    tr(r, "Seq missing", "Saknade (seq)"),
		    tr(r, "Chain breaks / forks", "Kedjebrott / grenar"),
		    tr(r, "Quarantined", "Karantän"), tr(r, "Report", "Rapport"));
		md_quality_row(b, r, i);
	}
	if (n > 0) {
		struct buf t = BUF_INIT;
		const char *last = PQgetvalue(q, n - 1, Q_SUPPLIER);
		quality_chart_title(&t, r, last);
		buf_puts(b, "\n![");
		md_escape(b, buf_cstr(&t));
		buf_printf(b, "](quality-%d-%s.svg)\n", r->year, last);
		buf_free(&t);
	}
	buf_printf(b, "\n## %s\n\n", tr(r, "What is measured", "Vad som mäts"));
	if (r->lang == STATS_SV)
		buf_puts(b, "En månad är en kalendermånad i tidszonen ");
	else
		buf_puts(b, "A month is a calendar month in the time zone ");
	md_escape(b, r->tz);
	if (r->lang == STATS_SV)
		buf_puts(b, ", räknad på när bevis tog emot händelserna; en "
		    "månad som pågår (en ofylld punkt i diagrammet) kan ännu "
		    "ändras. "
		    "*Tysta timmar*: hela timmar utan en enda händelse, för en "
		    "leverantör som annars skickar varje timme (– annars). "
		    "*Fullständighet*: den lägsta andelen händelser som har ett "
		    "av fälten actor.user, action, outcome, src.ip och target "
		    "(ISO/IEC 27001:2022 A.8.15), och vilket fält det är. "
		    "*I framtiden / sena*: händelser daterade mer än 5 minuter "
		    "efter mottagandet, och mottagna mer än 24 timmar efter att "
		    "de inträffade. *Saknade (seq)*: nummer som hoppats över i "
		    "leverantörens seq (– utan seq). *Kedjebrott / grenar*: "
		    "händelser vars chain.prev inte pekar på någon lagrad "
		    "händelse, och två händelser med samma föregångare (– utan "
		    "kedja). *Karantän*: andelen poster som inte kunde läsas. "
		    "*Rapport*: när månadens rapport kom i förhållande till "
		    "förfallodagen (report\\_due\\_day). Varje mått och "
		    "delbetyg, med vikterna, finns i quality-");
	else
		buf_puts(b, ", by when bevis received the events; a month "
		    "in progress (a hollow point in the chart) may still "
		    "change. *Silent "
		    "hours*: whole hours without a single event, for a supplier "
		    "that otherwise sends every hour (– otherwise). "
		    "*Completeness*: the lowest share of events that carry one "
		    "of the fields actor.user, action, outcome, src.ip and "
		    "target (ISO/IEC 27001:2022 A.8.15), and which field it is. "
		    "*Future / late*: events dated more than 5 minutes after "
		    "receipt, and received more than 24 hours after they "
		    "occurred. *Seq missing*: numbers skipped in the supplier's "
		    "seq (– without seq). *Chain breaks / forks*: events whose "
		    "chain.prev names no stored event, and two events naming the "
		    "same predecessor (– without a chain). *Quarantined*: the "
		    "share of items that could not be read. *Report*: when the "
		    "month's report came against its due day "
		    "(report\\_due\\_day). Every measure and sub-score, with the "
		    "weights, is in quality-");
	buf_printf(b, "%d.csv %s\n", r->year, tr(r, "(bevis quality --csv; "
	    "docs/STATS.md).", "(bevis quality --csv; docs/STATS.md)."));
}

/* The score per month of one supplier (rows first..last of r->quality):
 * a point per month with a score, joined by a line; a month without one
 * (not yet, or nothing to score) is a gap, never a zero. */
static void
render_quality_svg(struct review *r, struct buf *b, int first, int last)
{
	const int pw = QSVG_W - QSVG_LEFT - QSVG_RIGHT;
	const int ph = QSVG_H - QSVG_TOP - QSVG_BOTTOM;
	PGresult *q = r->quality;
	const char *sup = PQgetvalue(q, first, Q_SUPPLIER);
	double score[13];
	int has[13] = { 0 }, now[13] = { 0 };
	struct buf title = BUF_INIT;

	for (int i = first; i <= last; i++) {
		int m = atoi(PQgetvalue(q, i, Q_MONTH));
		if (m >= 1 && m <= 12 && !PQgetisnull(q, i, Q_SCORE)) {
			score[m] = atof(PQgetvalue(q, i, Q_SCORE));
			has[m] = 1;
			now[m] = in_progress(r, i);
		}
	}
	quality_chart_title(&title, r, sup);
	buf_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	    "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
	    "aria-labelledby=\"chart-title\" font-family=\"sans-serif\" "
	    "font-size=\"12\">\n<title id=\"chart-title\">", QSVG_W, QSVG_H,
	    QSVG_W, QSVG_H);
	xml_escape(b, buf_cstr(&title));
	buf_printf(b, "</title>\n<rect width=\"%d\" height=\"%d\" "
	    "fill=\"#ffffff\"/>\n<text x=\"%d\" y=\"28\" font-size=\"16\" "
	    "font-weight=\"bold\">", QSVG_W, QSVG_H, QSVG_LEFT);
	xml_escape(b, buf_cstr(&title));
	buf_printf(b, "</text>\n<text x=\"%d\" y=\"%d\" font-size=\"11\">%s"
	    "</text>\n", QSVG_LEFT - 40, QSVG_TOP - 12,
	    tr(r, "Score", "Poäng"));
	buf_free(&title);
	for (int v = 0; v <= 100; v += 20) {
		double y = QSVG_TOP + ph * (100.0 - v) / 100.0;
		buf_printf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
		    "stroke=\"#dddddd\"/><text x=\"%d\" y=\"%.1f\" "
		    "text-anchor=\"end\">%d</text>\n", QSVG_LEFT, y,
		    QSVG_W - QSVG_RIGHT, y, QSVG_LEFT - 8, y + 4, v);
	}
	/* The line: one polyline per run of consecutive months. */
	for (int m = 1; m <= 12; m++) {
		if (!has[m] || (m > 1 && has[m - 1]))
			continue;
		int end = m;
		while (end < 12 && has[end + 1])
			end++;
		buf_puts(b, "<polyline class=\"line\" fill=\"none\" "
		    "stroke=\"#08519c\" stroke-width=\"2\" points=\"");
		for (int k = m; k <= end; k++)
			buf_printf(b, "%s%.1f,%.1f", k > m ? " " : "",
			    QSVG_LEFT + pw * (k - 0.5) / 12.0,
			    QSVG_TOP + ph * (100.0 - score[k]) / 100.0);
		buf_puts(b, "\"/>\n");
	}
	for (int m = 1; m <= 12; m++) {
		char code[16], val[16];
		double x = QSVG_LEFT + pw * (m - 0.5) / 12.0;
		snprintf(code, sizeof(code), "%02d", m);
		const char *mname = stats_group_label("month", code, r->lang);
		if (has[m]) {
			double y = QSVG_TOP + ph * (100.0 - score[m]) / 100.0;
			snprintf(val, sizeof(val), "%.1f", score[m]);
			if (r->lang == STATS_SV)
				*strchr(val, '.') = ',';
			buf_printf(b, "<circle class=\"point\" data-supplier=\"");
			xml_escape(b, sup);
			buf_printf(b, "\" data-month=\"%d\" data-score=\"%.1f\" "
			    "cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\" "
			    "stroke=\"#08519c\"><title>", m, score[m], x, y,
			    now[m] ? "#ffffff" : "#08519c");
			xml_escape(b, mname);
			if (now[m])
				buf_printf(b, " (%s)", tr(r, "in progress",
				    "pågår"));
			buf_printf(b, " %d: %s</title></circle>\n<text x=\"%.1f\" "
			    "y=\"%.1f\" text-anchor=\"middle\" font-size=\"10\">"
			    "%s</text>\n", r->year, val, x, y - 8, val);
		}
		char abbr[8];
		snprintf(abbr, sizeof(abbr), "%.3s", mname);
		buf_printf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">",
		    x, QSVG_TOP + ph + 18);
		xml_escape(b, abbr);
		buf_puts(b, "</text>\n");
	}
	buf_printf(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
	    "stroke=\"#333333\"/>\n</svg>\n", QSVG_LEFT, QSVG_TOP + ph,
	    QSVG_W - QSVG_RIGHT, QSVG_TOP + ph);
}

/* quality-Y.md, quality-Y.csv (through output.c, as bevis quality --csv)
 * and quality-Y-SUPPLIER.svg for each supplier with a row in the year. */
static int
render_quality(struct review *r)
{
	PGresult *q = r->quality;
	char *data = NULL;
	size_t len = 0;
	FILE *f;
	struct out o;
	const char **cells = xcalloc(quality_all_ncols, sizeof(*cells));

	render_quality_markdown(r, review_file(r, "quality-%d.md", r->year));
	if ((f = open_memstream(&data, &len)) == NULL) {
		fprintf(stderr, "bevis review: %s\n", strerror(errno));
		free(cells);
		return -1;
	}
	out_init(&o, f, OUT_CSV, quality_all_cols, quality_all_ncols);
	for (int i = 0; i < PQntuples(r->quality_all); i++) {
		for (size_t c = 0; c < quality_all_ncols; c++)
			cells[c] = PQgetisnull(r->quality_all, i, (int)c) ? NULL :
			    PQgetvalue(r->quality_all, i, (int)c);
		out_row(&o, cells);
	}
	out_finish(&o);
	free(cells);
	if (fclose(f) != 0) {
		fprintf(stderr, "bevis review: %s\n", strerror(errno));
		free(data);
		return -1;
	}
	buf_append(review_file(r, "quality-%d.csv", r->year), data, len);
	free(data);
	for (int i = 0, n = PQntuples(q); i < n; ) {
		const char *sup = PQgetvalue(q, i, Q_SUPPLIER);
		int last = i;
		while (last + 1 < n && strcmp(PQgetvalue(q, last + 1,
		    Q_SUPPLIER), sup) == 0)
			last++;
		if (!name_is_safe(sup)) {
			fprintf(stderr, "bevis review: a supplier's name is not "
			    "fit for a file name\n");
			return -1;
		}
		render_quality_svg(r, review_file(r, "quality-%d-%s.svg",
		    r->year, sup), i, last);
		i = last + 1;
	}
	return 0;
}

/* Renders through output.c's CSV into b. */
static int
render_csv(struct review *r, struct buf *b, PGresult *res, const char *by)
{
	char *data = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&data, &len);

	if (f == NULL) {
		fprintf(stderr, "bevis review: %s\n", strerror(errno));
		return -1;
	}
	if (by)
		stats_render_by(f, OUT_CSV, res, r->year, by, r->lang);
	else
		stats_render_funnel(f, OUT_CSV, res, r->year, r->lang);
	if (fclose(f) != 0) {
		fprintf(stderr, "bevis review: %s\n", strerror(errno));
		free(data);
		return -1;
	}
	buf_append(b, data, len);
	free(data);
	return 0;
}

/* All figures in one snapshot. */
static int
review_fetch(struct review *r, PGconn *conn)
{
	if (cli_exec("review", conn, "BEGIN ISOLATION LEVEL REPEATABLE READ "
	    "READ ONLY", PGRES_COMMAND_OK) < 0)
		return -1;
	if ((r->funnel = stats_funnel(conn, "review", r->year)) == NULL ||
	    (r->month = stats_by(conn, "review", r->year, "month")) == NULL ||
	    (r->category = stats_by(conn, "review", r->year,
	    "category")) == NULL ||
	    (r->cause = stats_by(conn, "review", r->year, "cause")) == NULL ||
	    (r->supplier = stats_by(conn, "review", r->year,
	    "supplier")) == NULL)
		return -1;
	/* The suppliers' log quality, in the same snapshot. */
	char from[16], to[16];
	struct buf sql = BUF_INIT;
	snprintf(from, sizeof(from), "%04d-01", r->year);
	snprintf(to, sizeof(to), "%04d-12", r->year);
	const char *params[5] = { NULL, from, to, r->due, r->weights };
	if ((r->quality = cli_exec_params("review", conn, review_quality_sql,
	    4, params + 1, PGRES_TUPLES_OK)) == NULL)
		return -1;
	quality_all_query(&sql, 0);
	r->quality_all = cli_exec_params("review", conn, buf_cstr(&sql), 5,
	    params, PGRES_TUPLES_OK);
	buf_free(&sql);
	if (r->quality_all == NULL)
		return -1;
	return cli_exec("review", conn, "COMMIT", PGRES_COMMAND_OK);
}

/* Creates DIR if it is missing; refuses a file of ours that is there
 * already, so that nothing is overwritten and nothing half-written. */
static int
review_prepare_dir(struct review *r, int *made)
{
	struct stat st;
	char path[4200];

	*made = 0;
	if (stat(r->dir, &st) < 0) {
		if (errno != ENOENT || mkdir(r->dir, MODE_REVIEW_DIR) < 0) {
			fprintf(stderr, "bevis review: --out %s: %s\n", r->dir,
			    strerror(errno));
			return -1;
		}
		*made = 1;
	} else if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "bevis review: --out %s is not a directory\n",
		    r->dir);
		return -1;
	}
	for (size_t i = 0; i < r->nfiles; i++) {
		snprintf(path, sizeof(path), "%s/%s", r->dir, r->files[i].name);
		if (lstat(path, &st) == 0) {
			fprintf(stderr, "bevis review: %s exists already: give "
			    "another --out directory or move it away\n", path);
			goto fail;
		}
	}
	return 0;
fail:
	if (*made)
		rmdir(r->dir);
	return -1;
}

static int
review_write(struct review *r)
{
	char path[4200], err[4400];
	int made;
	size_t i;

	if (strlen(r->dir) > 4000) {
		fprintf(stderr, "bevis review: --out: the name is too long\n");
		return -1;
	}
	if (review_prepare_dir(r, &made) < 0)
		return -1;
	for (i = 0; i < r->nfiles; i++) {
		snprintf(path, sizeof(path), "%s/%s", r->dir, r->files[i].name);
		if (file_write_new(path, r->files[i].data.data,
		    r->files[i].data.len,
		    MODE_REVIEW_FILE, err, sizeof(err)) < 0) {
			fprintf(stderr, "bevis review: %s\n", err);
			break;
		}
	}
	if (i == r->nfiles)
		return 0;
	while (i-- > 0) {
		snprintf(path, sizeof(path), "%s/%s", r->dir, r->files[i].name);
		unlink(path);
	}
	if (made)
		rmdir(r->dir);
	return -1;
}

int
cmd_review(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "year", required_argument, NULL, 'y' },
		{ "lang", required_argument, NULL, 'l' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	struct review r;
	struct buf due = BUF_INIT, weights = BUF_INIT;
	int ch, rc = 1;

	memset(&r, 0, sizeof(r));
	r.lang = STATS_SV;
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		switch (ch) {
		case 'y':
			if (stats_parse_year("review", optarg, &r.year) < 0)
				return 2;
			break;
		case 'l':
			if (strcmp(optarg, "sv") == 0)
				r.lang = STATS_SV;
			else if (strcmp(optarg, "en") == 0)
				r.lang = STATS_EN;
			else {
				fprintf(stderr, "bevis review: --lang: '%s' is "
				    "not sv or en\n", optarg);
				return 2;
			}
			break;
		case 'o': r.dir = optarg; break;
		default: return cli_usage("review", stderr);
		}
	}
	if (optind != argc)
		return cli_usage("review", stderr);
	if (r.year == 0 || r.dir == NULL || r.dir[0] == '\0') {
		fprintf(stderr, "bevis review: %s is required\n",
		    r.year == 0 ? "--year" : "--out");
		return cli_usage("review", stderr);
	}
	/* The incident files first: the Markdown names the chart. */
	review_file(&r, "incidents-%d.md", r.year);
	review_file(&r, "incidents-%d-per-month.svg", r.year);
	review_file(&r, "incidents-%d.csv", r.year);
	review_file(&r, "incidents-%d-per-month.csv", r.year);
	PGconn *conn = cli_connect_zoned(cli, "review");
	r.tz = cli->cfg.timezone;	/* loaded by cli_connect_zoned */
	config_source_due_json(&cli->cfg, &due);
	config_quality_weights_json(&cli->cfg, &weights);
	r.due = buf_cstr(&due);
	r.weights = buf_cstr(&weights);
	if (review_fetch(&r, conn) < 0)
		goto out;
	render_markdown(&r, &r.files[0].data);
	render_svg(&r, &r.files[1].data);
	if (render_csv(&r, &r.files[2].data, r.funnel, NULL) < 0 ||
	    render_csv(&r, &r.files[3].data, r.month, "month") < 0 ||
	    render_quality(&r) < 0 || review_write(&r) < 0)
		goto out;
	struct buf b = BUF_INIT;
	buf_printf(&b, "%d: ", r.year);
	stats_headline(&b, r.funnel, 2, r.lang);
	buf_puts(&b, "\n");
	for (size_t i = 0; i < r.nfiles; i++) {
		buf_puts(&b, "wrote ");
		out_escape_text(&b, r.dir, strlen(r.dir));
		buf_printf(&b, "/%s\n", r.files[i].name);
	}
	fwrite(b.data, 1, b.len, stdout);
	buf_free(&b);
	rc = 0;
out:
	PQclear(r.funnel);
	PQclear(r.month);
	PQclear(r.category);
	PQclear(r.cause);
	PQclear(r.supplier);
	PQclear(r.quality);
	PQclear(r.quality_all);
	for (size_t i = 0; i < r.nfiles; i++)
		buf_free(&r.files[i].data);
	free(r.files);
	buf_free(&due);
	buf_free(&weights);
	PQfinish(conn);
	return rc;
}
