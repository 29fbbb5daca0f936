/* cmd_review.c - bevis review: the incident section of the annual
 * management review (Ledningens genomgång), in Swedish by default or in
 * English: a Markdown page with the funnel and the tables by month,
 * category, cause and supplier; an SVG chart of incidents per month, this
 * year against the last; and the figures as CSV. The figures come from
 * sql/0010_stats.sql (stats.h); nothing is written until all of them are
 * read and every file is rendered, and a failure part-way removes what
 * was written. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "files.h"
#include "output.h"
#include "stats.h"

#define MODE_REVIEW_FILE	0644
#define MODE_REVIEW_DIR		0755
#define NFILES 4

/* The SVG's geometry, in user units. */
#define SVG_W		760
#define SVG_H		400
#define SVG_LEFT	56
#define SVG_RIGHT	16
#define SVG_TOP		72
#define SVG_BOTTOM	56
#define SVG_BAR		18

struct review {
	int year;
	enum stats_lang lang;
	const char *dir;
	const char *tz;
	PGresult *funnel, *month, *category, *cause, *supplier;
	char names[NFILES][64];
	struct buf files[NFILES];
};

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
	    r->names[1]);
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
	for (int i = 0; i < NFILES; i++) {
		snprintf(path, sizeof(path), "%s/%s", r->dir, r->names[i]);
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
	int made, i;

	if (strlen(r->dir) > 4000) {
		fprintf(stderr, "bevis review: --out: the name is too long\n");
		return -1;
	}
	if (review_prepare_dir(r, &made) < 0)
		return -1;
	for (i = 0; i < NFILES; i++) {
		snprintf(path, sizeof(path), "%s/%s", r->dir, r->names[i]);
		if (file_write_new(path, r->files[i].data, r->files[i].len,
		    MODE_REVIEW_FILE, err, sizeof(err)) < 0) {
			fprintf(stderr, "bevis review: %s\n", err);
			break;
		}
	}
	if (i == NFILES)
		return 0;
	while (i-- > 0) {
		snprintf(path, sizeof(path), "%s/%s", r->dir, r->names[i]);
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
	snprintf(r.names[0], sizeof(r.names[0]), "incidents-%d.md", r.year);
	snprintf(r.names[1], sizeof(r.names[1]), "incidents-%d-per-month.svg",
	    r.year);
	snprintf(r.names[2], sizeof(r.names[2]), "incidents-%d.csv", r.year);
	snprintf(r.names[3], sizeof(r.names[3]), "incidents-%d-per-month.csv",
	    r.year);
	PGconn *conn = cli_connect_zoned(cli, "review");
	r.tz = cli->cfg.timezone;	/* loaded by cli_connect_zoned */
	if (review_fetch(&r, conn) < 0)
		goto out;
	render_markdown(&r, &r.files[0]);
	render_svg(&r, &r.files[1]);
	if (render_csv(&r, &r.files[2], r.funnel, NULL) < 0 ||
	    render_csv(&r, &r.files[3], r.month, "month") < 0 ||
	    review_write(&r) < 0)
		goto out;
	struct buf b = BUF_INIT;
	buf_printf(&b, "%d: ", r.year);
	stats_headline(&b, r.funnel, 2, r.lang);
	buf_puts(&b, "\n");
	for (int i = 0; i < NFILES; i++) {
		buf_puts(&b, "wrote ");
		out_escape_text(&b, r.dir, strlen(r.dir));
		buf_printf(&b, "/%s\n", r.names[i]);
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
	for (int i = 0; i < NFILES; i++)
		buf_free(&r.files[i]);
	PQfinish(conn);
	return rc;
}
