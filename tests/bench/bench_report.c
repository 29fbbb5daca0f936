/* bench_report.c - the report parser's speed on one core: CSV rows per
 * second through report_parse_csv (libcsv, iconv, the column map, the
 * entries' JSON), for a Windows-1252 and a UTF-8 body of the servicedesk's
 * columns. `make bench` runs it; it is not a test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "parse.h"
#include "report.h"
#include "report_entries.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
run(const char *name, enum report_charset cs, size_t rows)
{
	static const char *const lines[][2] = {
		{ "id", "Ärende-ID | Ärendenummer" }, { "occurred_at", "Datum" },
		{ "title", "Rubrik" }, { "description", "Beskrivning" },
		{ "category", "Kategori" }, { "severity", "Allvarlighetsgrad" },
		{ "personal_data", "Personuppgifter" },
	};
	/* "Ärende-ID;...", and a row with å ä ö, a quoted ';' and a line break. */
	const char *hdr = cs == RCS_UTF8 ?
	    "\xc3\x84rende-ID;Datum;Rubrik;Beskrivning;Kategori;Allvarlighetsgrad;"
	    "Personuppgifter;Skola\r\n" :
	    "\xc4rende-ID;Datum;Rubrik;Beskrivning;Kategori;Allvarlighetsgrad;"
	    "Personuppgifter;Skola\r\n";
	const char *row = cs == RCS_UTF8 ?
	    ";2026-10-05 14:30;L\xc3\xb6senord delat;\"Elev p\xc3\xa5 skolan; "
	    "delade\nl\xc3\xb6senordet\";Obeh\xc3\xb6rig \xc3\xa5tkomst;H\xc3\xb6g;Ja;"
	    "Bj\xc3\xb6rkskolan\r\n" :
	    ";2026-10-05 14:30;L\xf6senord delat;\"Elev p\xe5 skolan; "
	    "delade\nl\xf6senordet\";Obeh\xf6rig \xe5tkomst;H\xf6g;Ja;"
	    "Bj\xf6rkskolan\r\n";
	struct buf body = BUF_INIT;
	struct report_map *maps = NULL;
	struct report_meta m;
	struct report_parsed rp;
	size_t n = 0;
	char reason[200];

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		if (report_map_add(&maps, &n, "servicedesk", lines[i][0],
		    lines[i][1], reason, sizeof(reason)) < 0)
			abort();
	buf_puts(&body, hdr);
	for (size_t i = 0; i < rows; i++) {
		char id[32];
		int k = snprintf(id, sizeof(id), "SD-%zu", i);
		buf_append(&body, id, (size_t)k);
		buf_puts(&body, row);
	}
	memset(&m, 0, sizeof(m));
	m.ct = CT_CSV;
	m.charset = cs;
	m.map = maps;
	double best = 1e9;
	for (int round = 0; round < 3; round++) {
		memset(&rp, 0, sizeof(rp));
		double t0 = now_s();
		report_parse_csv(&m, body.data, body.len, &rp);
		double t = now_s() - t0;
		if (rp.error[0] || rp.readable != rows) {
			fprintf(stderr, "bench_report: %s: %s (%zu of %zu)\n", name,
			    rp.error, rp.readable, rows);
			exit(1);
		}
		report_parsed_free(&rp);
		if (t < best)
			best = t;
	}
	printf("bench: report parser, %s CSV: %zu rows (%.1f MiB) in %.3f s CPU: "
	    "%.0f rows/s on one core\n", name, rows, body.len / 1048576.0, best,
	    rows / best);
	report_maps_free(maps, n);
	buf_free(&body);
}

int
main(int argc, char **argv)
{
	size_t rows = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;

	run("Windows-1252", RCS_WINDOWS_1252, rows);
	run("UTF-8", RCS_UTF8, rows);
	return 0;
}
