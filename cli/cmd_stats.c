/* cmd_stats.c - bevis stats: the yearly incident funnel (potential ->
 * confirmed -> personal-data incidents -> notified to IMY), the share
 * notified within 72 hours and the median times, each beside the year
 * before; or the funnel per month, supplier, category or cause. Every
 * figure comes from sql/0010_stats.sql; this file only labels and renders
 * (and holds what bevis review shares, stats.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "numarg.h"
#include "output.h"
#include "stats.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *figure, *en, *sv;
} figure_labels[] = {
	{ "potential", "potential incidents", "Potentiella incidenter" },
	{ "confirmed", "confirmed incidents", "Bekräftade incidenter" },
	{ "personal_data", "personal-data incidents",
	    "varav personuppgiftsincidenter" },
	{ "notified", "notified to IMY", "varav anmälda till IMY" },
	{ "notified_72h", "notified within 72 hours",
	    "anmälda inom 72 timmar" },
	{ "notified_72h_pct", "share notified within 72 hours (%)",
	    "andel anmälda inom 72 timmar (%)" },
	{ "dismissed", "dismissed", "Avfärdade" },
	{ "still_open", "still being assessed", "Under bedömning" },
	{ "median_hours_to_decision", "median hours, opening to decision",
	    "mediantid i timmar, från öppnande till beslut" },
	{ "median_hours_to_notification",
	    "median hours, awareness to notification",
	    "mediantid i timmar, från kännedom till anmälan" },
};

static const struct {
	const char *code, *en, *sv;
} group_labels[] = {
	{ "(none)", "(not set)", "(ej angiven)" },
	/* CERT-SE's categories */
	{ "software_hardware_disruption", "software or hardware disruption",
	    "störning i mjuk- eller hårdvara" },
	{ "environment_disruption", "disruption in the environment",
	    "störning i omgivningen" },
	{ "information_loss", "loss of information", "förlust av information" },
	{ "information_corruption", "corruption of information",
	    "förvanskning av information" },
	{ "blocked_access", "blocked access", "blockerad åtkomst" },
	{ "product_vulnerability", "product vulnerability",
	    "sårbarhet i produkt" },
	{ "attack", "attack", "angrepp" },
	{ "handling_error", "handling error", "felhantering" },
	{ "critical_infrastructure_disruption",
	    "critical infrastructure disruption",
	    "störning i samhällsviktig infrastruktur" },
	{ "other", "other", "annat" },
	/* causes */
	{ "human", "human", "människa" },
	{ "technical", "technical", "teknik" },
	{ "external_attack", "external attack", "yttre angrepp" },
	{ "supplier", "supplier", "leverantör" },
};

static const char *const months_en[12] = { "January", "February", "March",
	"April", "May", "June", "July", "August", "September", "October",
	"November", "December" };
static const char *const months_sv[12] = { "januari", "februari", "mars",
	"april", "maj", "juni", "juli", "augusti", "september", "oktober",
	"november", "december" };

const char *
stats_label(const char *figure, enum stats_lang lang)
{
	for (size_t i = 0; i < ARRAY_LEN(figure_labels); i++)
		if (strcmp(figure_labels[i].figure, figure) == 0)
			return lang == STATS_SV ? figure_labels[i].sv :
			    figure_labels[i].en;
	return figure;
}

const char *
stats_group_label(const char *by, const char *grp, enum stats_lang lang)
{
	if (strcmp(by, "month") == 0) {
		int m = atoi(grp);
		if (m >= 1 && m <= 12)
			return lang == STATS_SV ? months_sv[m - 1] :
			    months_en[m - 1];
		return grp;
	}
	if (strcmp(by, "supplier") == 0 && strcmp(grp, "(none)") != 0)
		return grp;
	for (size_t i = 0; i < ARRAY_LEN(group_labels); i++)
		if (strcmp(group_labels[i].code, grp) == 0)
			return lang == STATS_SV ? group_labels[i].sv :
			    group_labels[i].en;
	return grp;
}

int
stats_by_known(const char *by)
{
	return strcmp(by, "month") == 0 || strcmp(by, "supplier") == 0 ||
	    strcmp(by, "category") == 0 || strcmp(by, "cause") == 0;
}

PGresult *
stats_funnel(PGconn *conn, const char *who, int year)
{
	char y[16];
	const char *params[1] = { y };

	snprintf(y, sizeof(y), "%d", year);
	PGresult *res = cli_exec_params(who, conn, "SELECT ord, figure, "
	    "this_year, last_year FROM bevis_stats($1::integer) ORDER BY ord",
	    1, params, PGRES_TUPLES_OK);
	if (res && PQntuples(res) != 10) {
		fprintf(stderr, "bevis %s: bevis_stats gave %d figures, not 10: "
		    "run bevis migrate\n", who, PQntuples(res));
		PQclear(res);
		return NULL;
	}
	return res;
}

PGresult *
stats_by(PGconn *conn, const char *who, int year, const char *by)
{
	char y[16];
	const char *params[2] = { y, by };

	snprintf(y, sizeof(y), "%d", year);
	return cli_exec_params(who, conn, "SELECT grp, potential, confirmed, "
	    "personal_data, notified, last_potential, last_confirmed, "
	    "last_personal_data, last_notified "
	    "FROM bevis_stats_by($1::integer, $2)", 2, params,
	    PGRES_TUPLES_OK);
}

int
stats_this_year(PGconn *conn, const char *who)
{
	PGresult *res = cli_exec_params(who, conn, "SELECT extract(year FROM "
	    "now())::integer", 0, NULL, PGRES_TUPLES_OK);
	if (res == NULL)
		return -1;
	int y = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return y;
}

static const char *
cell(PGresult *res, int r, int c)
{
	return PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
}

void
stats_render_funnel(FILE *f, enum out_format format, PGresult *res, int year,
    enum stats_lang lang)
{
	char ys[16], ps[16];
	struct out o;

	snprintf(ys, sizeof(ys), "%d", year);
	snprintf(ps, sizeof(ps), "%d", year - 1);
	const struct out_col table_cols[] = {
		{ "FIGURE", 0, OUT_TEXT, 0 }, { ys, 0, OUT_TEXT, 0 },
		{ ps, 0, OUT_TEXT, 0 } };
	static const struct out_col cols[] = {
		{ "figure", 0, OUT_TEXT, 1 }, { "label", 0, OUT_TEXT, 1 },
		{ "year", 0, OUT_NUMBER, 1 }, { "value", 0, OUT_NUMBER, 1 },
		{ "previous_year", 0, OUT_NUMBER, 1 },
		{ "previous", 0, OUT_NUMBER, 1 } };

	if (format == OUT_TABLE)
		out_init(&o, f, format, table_cols, ARRAY_LEN(table_cols));
	else
		out_init(&o, f, format, cols, ARRAY_LEN(cols));
	for (int r = 0; r < PQntuples(res); r++) {
		const char *fig = PQgetvalue(res, r, 1);
		const char *v = cell(res, r, 2), *p = cell(res, r, 3);
		if (format == OUT_TABLE) {
			const char *cells[3] = { stats_label(fig, lang),
				v ? v : "-", p ? p : "-" };
			out_row(&o, cells);
		} else {
			const char *cells[6] = { fig, stats_label(fig, lang), ys,
				v, ps, p };
			out_row(&o, cells);
		}
	}
	out_finish(&o);
}

void
stats_render_by(FILE *f, enum out_format format, PGresult *res, int year,
    const char *by, enum stats_lang lang)
{
	static const char *const names[4] = { "potential", "confirmed",
		"personal_data", "notified" };
	static const char *const heads[4] = { "POTENTIAL", "CONFIRMED",
		"PERSONAL DATA", "NOTIFIED" };
	char ys[16], ps[16], th[4][32], ph[4][32], byu[16];
	struct out_col cols[11];
	size_t n = 0;
	struct out o;

	snprintf(ys, sizeof(ys), "%d", year);
	snprintf(ps, sizeof(ps), "%d", year - 1);
	if (format == OUT_TABLE) {
		size_t i;
		for (i = 0; by[i] && i + 1 < sizeof(byu); i++)
			byu[i] = (char)(by[i] >= 'a' && by[i] <= 'z' ?
			    by[i] - 'a' + 'A' : by[i]);
		byu[i] = '\0';
		cols[n++] = (struct out_col){ byu, 0, OUT_TEXT, 0 };
		for (i = 0; i < 4; i++) {
			snprintf(th[i], sizeof(th[i]), "%s %d", heads[i], year);
			snprintf(ph[i], sizeof(ph[i]), "%d", year - 1);
			cols[n++] = (struct out_col){ th[i], 0, OUT_TEXT, 0 };
			cols[n++] = (struct out_col){ ph[i], 0, OUT_TEXT, 0 };
		}
	} else {
		cols[n++] = (struct out_col){ by, 0, OUT_TEXT, 1 };
		cols[n++] = (struct out_col){ "year", 0, OUT_NUMBER, 1 };
		for (size_t i = 0; i < 4; i++)
			cols[n++] = (struct out_col){ names[i], 0, OUT_NUMBER, 1 };
		cols[n++] = (struct out_col){ "previous_year", 0, OUT_NUMBER, 1 };
		for (size_t i = 0; i < 4; i++) {
			snprintf(ph[i], sizeof(ph[i]), "previous_%s", names[i]);
			cols[n++] = (struct out_col){ ph[i], 0, OUT_NUMBER, 1 };
		}
	}
	out_init(&o, f, format, cols, n);
	for (int r = 0; r < PQntuples(res); r++) {
		const char *cells[11];
		const char *grp = PQgetvalue(res, r, 0);
		size_t k = 0;

		if (format == OUT_TABLE) {
			cells[k++] = stats_group_label(by, grp, lang);
			for (int i = 0; i < 4; i++) {
				cells[k++] = PQgetvalue(res, r, 1 + i);
				cells[k++] = PQgetvalue(res, r, 5 + i);
			}
		} else {
			cells[k++] = grp;
			cells[k++] = ys;
			for (int i = 0; i < 4; i++)
				cells[k++] = PQgetvalue(res, r, 1 + i);
			cells[k++] = ps;
			for (int i = 0; i < 4; i++)
				cells[k++] = PQgetvalue(res, r, 5 + i);
		}
		out_row(&o, cells);
	}
	out_finish(&o);
}

static long
funnel_count(PGresult *res, const char *figure, int col)
{
	for (int r = 0; r < PQntuples(res); r++)
		if (strcmp(PQgetvalue(res, r, 1), figure) == 0 &&
		    !PQgetisnull(res, r, col))
			return atol(PQgetvalue(res, r, col));
	return 0;
}

void
stats_headline(struct buf *b, PGresult *res, int col, enum stats_lang lang)
{
	long a = funnel_count(res, "potential", col);
	long c = funnel_count(res, "confirmed", col);
	long p = funnel_count(res, "personal_data", col);
	long n = funnel_count(res, "notified", col);

	/* The review's own phrase for the confirmed ones stays whole. */
	if (lang == STATS_SV)
		buf_printf(b, "%ld %s; %ld %s, varav %ld %s, %ld %s till IMY", a,
		    a == 1 ? "potentiell incident" : "potentiella incidenter",
		    c, c == 1 ? "incident" : "incidenter", p,
		    p == 1 ? "personuppgiftsincident" :
		    "personuppgiftsincidenter", n,
		    n == 1 ? "anmäld" : "anmälda");
	else
		buf_printf(b, "%ld %s, %ld confirmed, %ld %s, %ld notified to IMY",
		    a, a == 1 ? "potential incident" : "potential incidents", c,
		    p, p == 1 ? "personal-data breach" :
		    "personal-data breaches", n);
}

/* --year Y: a whole number 1971-9999, the range bevis_stats takes. */
int
stats_parse_year(const char *who, const char *s, int *out)
{
	long long v;
	char err[200];

	if (numarg_parse(s, 1971, 9999, &v, err, sizeof(err)) < 0) {
		fprintf(stderr, "bevis %s: --year: %s\n", who, err);
		return -1;
	}
	*out = (int)v;
	return 0;
}

int
cmd_stats(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS,
		{ "year", required_argument, NULL, 'y' },
		{ "by", required_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' },
		{ "csv", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	enum out_format format = OUT_TABLE;
	const char *by = NULL;
	int ch, year = 0;

	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (cli_common_opt(cli, ch, optarg))
			continue;
		switch (ch) {
		case 'y':
			if (stats_parse_year("stats", optarg, &year) < 0)
				return 2;
			break;
		case 'b':
			if (!stats_by_known(optarg)) {
				fprintf(stderr, "bevis stats: --by: '%s' is not "
				    "month, supplier, category or cause\n",
				    optarg);
				return 2;
			}
			by = optarg;
			break;
		case 'j': format = OUT_JSON; break;
		case 'C': format = OUT_CSV; break;
		default: return cli_usage("stats", stderr);
		}
	}
	if (optind != argc)
		return cli_usage("stats", stderr);
	PGconn *conn = cli_connect_zoned(cli, "stats");
	if (year == 0 && (year = stats_this_year(conn, "stats")) < 0) {
		PQfinish(conn);
		return 1;
	}
	PGresult *res = by ? stats_by(conn, "stats", year, by) :
	    stats_funnel(conn, "stats", year);
	if (res == NULL) {
		PQfinish(conn);
		return 1;
	}
	if (by) {
		stats_render_by(stdout, format, res, year, by, STATS_EN);
	} else {
		if (format == OUT_TABLE) {
			struct buf b = BUF_INIT;
			buf_printf(&b, "%d: ", year);
			stats_headline(&b, res, 2, STATS_EN);
			buf_printf(&b, " (%d: ", year - 1);
			stats_headline(&b, res, 3, STATS_EN);
			buf_puts(&b, ")\n\n");
			fwrite(b.data, 1, b.len, stdout);
			buf_free(&b);
		}
		stats_render_funnel(stdout, format, res, year, STATS_EN);
	}
	PQclear(res);
	PQfinish(conn);
	return 0;
}
