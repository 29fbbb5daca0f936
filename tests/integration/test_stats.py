"""bevis stats and bevis review (issue 12) against a real PostgreSQL: two
years of incidents with known figures (tests/sql/fixtures/stats_two_years.sql,
opened and decided through the bevis_incident_* functions), read by real
logins in bevis_auditor and bevis_isam, with the default timezone
Europe/Stockholm. 2025 is the review's year: 11 incidents, 9 personal-data
incidents, 7 notified to IMY; 2024 had 8, 5 and 3."""
import csv
import io
import json
import os
import subprocess
import tempfile
import xml.etree.ElementTree as ET

from bevistest import PGBIN, ROOT, check, eq, run_bevis
from test_roles import conninfo_as, login

FIXTURE = os.path.join(ROOT, "tests", "sql", "fixtures", "stats_two_years.sql")


def setup(cluster):
    db = cluster.new_database()
    out = subprocess.run([os.path.join(PGBIN, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                          "-d", db.conninfo, "-f", FIXTURE], capture_output=True, text=True)
    eq(out.returncode, 0, "fixture: " + out.stderr)
    eq(db.count("incident"), 25, "incidents in the fixture")
    return db, login(db, "bevis_isam"), login(db, "bevis_auditor")


def bevis(db, user, *args):
    out = run_bevis(db, "--db", conninfo_as(db, user), *args)
    return out.returncode, out.stdout.decode(), out.stderr.decode()


def ok(db, user, *args):
    rc, out, err = bevis(db, user, *args)
    eq(rc, 0, f"bevis {' '.join(args)}: {err}")
    return out


STATS_2025 = """\
2025: 11 incidents, 9 personal-data incidents, 7 notified to IMY (2024: 8 incidents, 5 personal-data incidents, 3 notified to IMY)

FIGURE                                   2025  2024
potential incidents                      14    9
confirmed incidents                      11    8
personal-data incidents                  9     5
notified to IMY                          7     3
notified within 72 hours                 6     2
share notified within 72 hours (%)       85.7  66.7
dismissed                                2     1
still being assessed                     1     0
median hours, opening to decision        0.0   0.0
median hours, awareness to notification  40.0  48.0
"""


def test_stats_prints_the_figures_beside_the_year_before(cluster):
    db, isam, auditor = setup(cluster)
    out = ok(db, auditor, "stats", "--year", "2025")
    eq(out, STATS_2025, "bevis stats --year 2025")
    # The ISAM sees the same totals; neither may read the protected row.
    eq(ok(db, isam, "stats", "--year", "2025"), STATS_2025, "as the ISAM")

    rows = [json.loads(l) for l in ok(db, auditor, "stats", "--year", "2025",
                                      "--json").splitlines()]
    eq(len(rows), 10, "JSON lines")
    eq(rows[1], {"figure": "confirmed", "label": "confirmed incidents", "year": 2025,
                 "value": 11, "previous_year": 2024, "previous": 8}, "JSON confirmed")
    eq({r["figure"]: (r["value"], r["previous"]) for r in rows},
       {"potential": (14, 9), "confirmed": (11, 8), "personal_data": (9, 5),
        "notified": (7, 3), "notified_72h": (6, 2), "notified_72h_pct": (85.7, 66.7),
        "dismissed": (2, 1), "still_open": (1, 0), "median_hours_to_decision": (0.0, 0.0),
        "median_hours_to_notification": (40.0, 48.0)}, "JSON figures")
    table = list(csv.reader(io.StringIO(ok(db, auditor, "stats", "--year", "2025", "--csv"))))
    eq(table[0], ["figure", "label", "year", "value", "previous_year", "previous"], "CSV header")
    eq(table[4], ["notified", "notified to IMY", "2025", "7", "2024", "3"], "CSV notified")

    # 2024, beside 2023's one incident; a year before the data: zeros and no medians.
    rows = [json.loads(l) for l in ok(db, auditor, "stats", "--year", "2024",
                                      "--json").splitlines()]
    eq([(r["figure"], r["value"], r["previous"]) for r in rows[:4]],
       [("potential", 9, 1), ("confirmed", 8, 1), ("personal_data", 5, 0),
        ("notified", 3, 0)], "2024 beside 2023")
    out = ok(db, auditor, "stats", "--year", "2031")
    check(out.startswith("2031: 0 incidents, 0 personal-data incidents, 0 notified to IMY "
                         "(2030: 0 incidents, 0 personal-data incidents, 0 notified to IMY)\n"),
          out)
    check("confirmed incidents                      0     0\n" in out, out)
    check("median hours, awareness to notification  -     -\n" in out, out)
    rows = [json.loads(l) for l in ok(db, auditor, "stats", "--year", "2031",
                                      "--json").splitlines()]
    eq(rows[5], {"figure": "notified_72h_pct", "label": "share notified within 72 hours (%)",
                 "year": 2031, "value": None, "previous_year": 2030, "previous": None},
       "no share without notifications")


def test_stats_by_group(cluster):
    db, _isam, auditor = setup(cluster)
    rows = [json.loads(l) for l in ok(db, auditor, "stats", "--year", "2025", "--by", "month",
                                      "--json").splitlines()]
    eq([r["month"] for r in rows], [f"{m:02d}" for m in range(1, 13)], "all twelve months")
    eq((sum(r["confirmed"] for r in rows), sum(r["previous_confirmed"] for r in rows),
        sum(r["personal_data"] for r in rows), sum(r["notified"] for r in rows)),
       (11, 8, 9, 7), "months add up to the funnel")
    eq(rows[0], {"month": "01", "year": 2025, "potential": 1, "confirmed": 1,
                 "personal_data": 1, "notified": 1, "previous_year": 2024,
                 "previous_potential": 0, "previous_confirmed": 0,
                 "previous_personal_data": 0, "previous_notified": 0},
       "January: the new-year incident counts in 2025 (Stockholm time)")
    eq((rows[11]["confirmed"], rows[11]["previous_confirmed"]), (1, 1), "December")
    out = ok(db, auditor, "stats", "--year", "2025", "--by", "supplier")
    eq(out.splitlines()[0].split(), ["SUPPLIER", "POTENTIAL", "2025", "2024", "CONFIRMED",
                                     "2025", "2024", "PERSONAL", "DATA", "2025", "2024",
                                     "NOTIFIED", "2025", "2024"], "heading by supplier")
    eq(out.splitlines()[1:],
       ["skolplattform  8               5     6               4     "
        "5                   3     4              2",
        "m365           5               3     4               3     "
        "3                   2     2              1",
        "(not set)      1               1     1               1     "
        "1                   0     1              0"], "by supplier")
    table = list(csv.reader(io.StringIO(ok(db, auditor, "stats", "--year", "2025", "--by",
                                           "cause", "--csv"))))
    eq(table[0][:3], ["cause", "year", "potential"], "CSV header by cause")
    eq([(r[0], r[3]) for r in table[1:]],
       [("human", "5"), ("external_attack", "3"), ("technical", "2"), ("supplier", "1"),
        ("(none)", "0"), ("other", "0")], "confirmed by cause")
    out = ok(db, auditor, "stats", "--year", "2025", "--by", "category")
    check(out.startswith("CATEGORY "), out)
    check("\nattack " in out, out)


def test_stats_bad_input(cluster):
    db, _isam, auditor = setup(cluster)
    for args, msg in [
            (["--year", "20x5"], "bevis stats: --year: "),
            (["--year", "1900"], "bevis stats: --year: "),
            (["--year", ""], "bevis stats: --year: "),
            (["--by", "weekday"],
             "bevis stats: --by: 'weekday' is not month, supplier, category or cause"),
            (["--bogus"], "usage: bevis stats")]:
        rc, out, err = bevis(db, auditor, "stats", *args)
        eq((rc, out), (2, ""), f"stats {args}: {err}")
        check(msg in err, f"stats {args}: want {msg!r}, got {err!r}")
    ingest = login(db, "bevis_ingest")
    rc, out, err = bevis(db, ingest, "stats", "--year", "2025")
    eq((rc, out), (1, ""), "stats as the daemon's role")
    check("permission denied for function bevis_stats" in err, err)
