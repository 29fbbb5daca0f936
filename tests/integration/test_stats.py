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
2025: 14 potential incidents, 11 confirmed, 9 personal-data breaches, 7 notified to IMY (2024: 9 potential incidents, 8 confirmed, 5 personal-data breaches, 3 notified to IMY)

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
    check(out.startswith("2031: 0 potential incidents, 0 confirmed, 0 personal-data breaches, "
                         "0 notified to IMY (2030: 0 potential incidents, 0 confirmed, "
                         "0 personal-data breaches, 0 notified to IMY)\n"),
          out)
    check("confirmed incidents                      0     0\n" in out, out)
    check("median hours, awareness to notification  -     -\n" in out, out)
    # Without --year: this year in Stockholm; the fixture has nothing in it.
    this = int(db.value("SELECT extract(year FROM now() AT TIME ZONE 'Europe/Stockholm')"))
    rows = [json.loads(l) for l in ok(db, auditor, "stats", "--json").splitlines()]
    eq([(r["year"], r["previous_year"], r["value"]) for r in rows[:2]],
       [(this, this - 1, 0), (this, this - 1, 0)], "the default year")
    rows = [json.loads(l) for l in ok(db, auditor, "stats", "--year", "2031",
                                      "--json").splitlines()]
    eq(rows[5], {"figure": "notified_72h_pct", "label": "share notified within 72 hours (%)",
                 "year": 2031, "value": None, "previous_year": 2030, "previous": None},
       "no share without notifications")


def test_stats_headline_counts_potential_incidents(cluster):
    """The case that was reported: a year whose incidents are all still
    potential (new, from a monthly report) headed "0 incidents" above a
    table with 21 potential ones. The headline names both."""
    db, isam, auditor = setup(cluster)
    for i in range(21):
        ok(db, isam, "incident", "new", "--title", f"Rapportpost {i}", "--detected-at",
           f"2021-03-{1 + i:02d} 10:00")
    out = ok(db, auditor, "stats", "--year", "2021")
    check(out.startswith("2021: 21 potential incidents, 0 confirmed, 0 personal-data "
                         "breaches, 0 notified to IMY (2020: 0 potential incidents, "
                         "0 confirmed, 0 personal-data breaches, 0 notified to IMY)\n\n"), out)
    check("potential incidents                      21    0\n" in out, out)
    check("still being assessed                     21    0\n" in out, out)
    ok(db, isam, "incident", "new", "--title", "Ensam", "--detected-at", "2022-01-02 10:00")
    out = ok(db, auditor, "stats", "--year", "2022")
    check(out.startswith("2022: 1 potential incident, 0 confirmed, 0 personal-data "
                         "breaches, 0 notified to IMY (2021: 21 potential incidents, "), out)


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


def review(db, user, *args):
    d = tempfile.mkdtemp(prefix="bevis-review-")
    out = os.path.join(d, "review")
    rc, stdout, err = bevis(db, user, "review", *args, "--out", out)
    return rc, stdout, err, out


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def bars(svg_path):
    """The SVG parsed as XML: {(year, month): count} from its bars, and its texts."""
    root = ET.parse(svg_path).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    eq(root.tag, ns + "svg", "the SVG's root")
    got = {}
    for r in root.iter(ns + "rect"):
        if r.get("class") == "bar":
            got[(int(r.get("data-year")), int(r.get("data-month")))] = int(r.get("data-count"))
    texts = [t.text for t in root.iter(ns + "text")]
    return got, texts, root


# With the suppliers' log quality (test_review_quality.py): no supplier
# sent logs in 2025, so there is no chart of one.
NAMES = ["incidents-2025.md", "incidents-2025-per-month.svg", "incidents-2025.csv",
         "incidents-2025-per-month.csv", "quality-2025.md", "quality-2025.csv"]


def test_review_in_swedish_and_english(cluster):
    db, _isam, auditor = setup(cluster)
    rc, out, err, d = review(db, auditor, "--year", "2025")
    eq(rc, 0, "review: " + err)
    eq(out, "2025: 14 potentiella incidenter; 11 incidenter, varav 9 "
       "personuppgiftsincidenter, 7 anmälda till IMY\n"
       + "".join(f"wrote {d}/{n}\n" for n in NAMES), "review's output")
    eq(sorted(os.listdir(d)), sorted(NAMES), "the files written")

    # Markdown, Swedish by default: the figures at a glance, then the tables.
    md = read(os.path.join(d, "incidents-2025.md"))
    check(md.startswith("# Informationssäkerhetsincidenter 2025\n\n"
                        "**2025: 14 potentiella incidenter; 11 incidenter, varav 9 "
                        "personuppgiftsincidenter, 7 anmälda till IMY.**\n\n"
                        "2024 (året innan): 9 potentiella incidenter; 8 incidenter, varav 5 "
                        "personuppgiftsincidenter, 3 anmälda till IMY.\n"), md)
    for line in ["| Mått | 2025 | 2024 |",
                 "| Potentiella incidenter | 14 | 9 |",
                 "| Bekräftade incidenter | 11 | 8 |",
                 "| varav personuppgiftsincidenter | 9 | 5 |",
                 "| varav anmälda till IMY | 7 | 3 |",
                 "| anmälda inom 72 timmar | 6 | 2 |",
                 "| andel anmälda inom 72 timmar (%) | 85,7 % | 66,7 % |",
                 "| Avfärdade | 2 | 1 |",
                 "| Under bedömning | 1 | 0 |",
                 "| mediantid i timmar, från kännedom till anmälan | 40,0 h | 48,0 h |",
                 "![Bekräftade incidenter per månad, i år och förra året]"
                 "(incidents-2025-per-month.svg)",
                 "| januari | 1 | 0 | 1 | 0 | 1 | 0 |",
                 "| mars | 2 | 1 | 2 | 0 | 2 | 0 |",
                 "| juli | 0 | 0 | 0 | 0 | 0 | 0 |",
                 "| december | 1 | 1 | 0 | 1 | 0 | 1 |",
                 "| angrepp | 3 | 2 | 3 | 2 | 3 | 1 |",
                 "| människa | 5 | 4 | 5 | 3 | 4 | 2 |",
                 "| skolplattform | 6 | 4 | 5 | 3 | 4 | 2 |",
                 "| (ej angiven) | 1 | 1 | 1 | 0 | 1 | 0 |"]:
        check("\n" + line + "\n" in md, f"want {line!r} in:\n{md}")
    check("tidszonen Europe/Stockholm" in md, md)
    check("incidents" not in md.replace("incidents-2025", ""), "English words in Swedish")

    # The SVG: well-formed XML, both years, the confirmed incidents per month.
    got, texts, root = bars(os.path.join(d, "incidents-2025-per-month.svg"))
    eq(len(got), 24, "a bar per month and year")
    eq((sum(c for (y, _m), c in got.items() if y == 2025),
        sum(c for (y, _m), c in got.items() if y == 2024)), (11, 8), "bars add up")
    eq([got[(2025, m)] for m in range(1, 13)], [1, 1, 2, 1, 1, 1, 0, 0, 1, 1, 1, 1],
       "2025 per month")
    eq([got[(2024, m)] for m in range(1, 13)], [0, 1, 1, 1, 0, 1, 0, 0, 1, 1, 1, 1],
       "2024 per month")
    check("2025" in texts and "2024" in texts, f"the legend names both years: {texts}")
    eq(root.find("{http://www.w3.org/2000/svg}title").text,
       "Bekräftade incidenter per månad, 2025 och 2024", "the chart's title")
    check("jan" in texts and "okt" in texts, texts)

    # The figures as CSV.
    rows = list(csv.reader(io.StringIO(read(os.path.join(d, "incidents-2025.csv")))))
    eq(rows[0], ["figure", "label", "year", "value", "previous_year", "previous"], "CSV head")
    eq([(r[0], r[3], r[5]) for r in rows[1:5]],
       [("potential", "14", "9"), ("confirmed", "11", "8"), ("personal_data", "9", "5"),
        ("notified", "7", "3")], "CSV figures")
    eq(rows[2][1], "Bekräftade incidenter", "CSV labels in the review's language")
    rows = list(csv.reader(io.StringIO(read(os.path.join(d, "incidents-2025-per-month.csv")))))
    eq(len(rows), 13, "per-month CSV: a header and twelve months")
    eq(rows[3], ["03", "2025", "2", "2", "2", "2", "2024", "1", "1", "0", "0"], "March")

    # --lang en.
    rc, out, err, d = review(db, auditor, "--year", "2025", "--lang", "en")
    eq(rc, 0, "review --lang en: " + err)
    check(out.startswith("2025: 14 potential incidents, 11 confirmed, 9 personal-data "
                         "breaches, 7 notified to IMY\n"), out)
    md = read(os.path.join(d, "incidents-2025.md"))
    check(md.startswith("# Information security incidents 2025\n\n"
                        "**2025: 14 potential incidents, 11 confirmed, 9 personal-data "
                        "breaches, 7 notified to IMY.**\n\n"
                        "2024 (the year before): 9 potential incidents, 8 confirmed, "
                        "5 personal-data breaches, 3 notified to IMY.\n"), md)
    for line in ["| confirmed incidents | 11 | 8 |",
                 "| share notified within 72 hours (%) | 85.7 % | 66.7 % |",
                 "| January | 1 | 0 | 1 | 0 | 1 | 0 |",
                 "| external attack | 3 | 2 | 3 | 2 | 3 | 1 |"]:
        check("\n" + line + "\n" in md, f"want {line!r} in:\n{md}")
    check("incidenter" not in md, "Swedish words in English")
    _got, texts, root = bars(os.path.join(d, "incidents-2025-per-month.svg"))
    eq(root.find("{http://www.w3.org/2000/svg}title").text,
       "Confirmed incidents per month, 2025 and 2024", "the English chart's title")


def test_review_of_a_year_without_data_prints_zeros(cluster):
    db = cluster.new_database()
    auditor = login(db, "bevis_auditor")
    rc, out, err, d = review(db, auditor, "--year", "2019")
    eq(rc, 0, "review of an empty year: " + err)
    check(out.startswith("2019: 0 potentiella incidenter; 0 incidenter, varav 0 "
                         "personuppgiftsincidenter, 0 anmälda till IMY\n"), out)
    md = read(os.path.join(d, "incidents-2019.md"))
    check("| Bekräftade incidenter | 0 | 0 |\n" in md, md)
    check("| andel anmälda inom 72 timmar (%) | – | – |\n" in md, md)
    check("\n## Leverantör\n\nInga incidenter.\n" in md, md)
    got, _texts, _root = bars(os.path.join(d, "incidents-2019-per-month.svg"))
    eq(set(got.values()), {0}, "empty bars")


def test_review_bad_input_writes_nothing(cluster):
    db, _isam, auditor = setup(cluster)
    base = tempfile.mkdtemp(prefix="bevis-review-bad-")
    target = os.path.join(base, "out")
    for args, rc_want, msg in [
            (["--year", "2025", "--lang", "de"], 2, "bevis review: --lang: 'de' is not sv or en"),
            (["--year", "25", "--lang", "en"], 2, "bevis review: --year: "),
            (["--year", "abc"], 2, "bevis review: --year: "),
            ([], 2, "bevis review: --year is required")]:
        rc, out, err = bevis(db, auditor, "review", *args, "--out", target)
        eq((rc, out), (rc_want, ""), f"review {args}: {err}")
        check(msg in err, f"review {args}: want {msg!r}, got {err!r}")
        check(not os.path.exists(target), f"review {args} made {target}")
    # The database refuses (a login outside bevis_isam and bevis_auditor).
    rc, out, err = bevis(db, login(db, "bevis_ingest"), "review", "--year", "2025",
                         "--out", target)
    eq((rc, out), (1, ""), "review as the daemon's role")
    check("permission denied for function bevis_stats" in err, err)
    check(not os.path.exists(target), "a refused review made its directory")
    rc, out, err = bevis(db, auditor, "review", "--year", "2025")
    eq((rc, out), (2, ""), "no --out")
    check("bevis review: --out is required" in err, err)

    # An --out that cannot be made: its parent is a file.
    afile = os.path.join(base, "a-file")
    with open(afile, "w") as f:
        f.write("x")
    rc, out, err = bevis(db, auditor, "review", "--year", "2025", "--out",
                         os.path.join(afile, "review"))
    eq((rc, out), (1, ""), "review into a file's child: " + err)
    check(f"bevis review: --out {afile}/review: Not a directory" in err, err)
    rc, out, err = bevis(db, auditor, "review", "--year", "2025", "--out", afile)
    eq((rc, out), (1, ""), "review into a file")
    check(f"bevis review: --out {afile} is not a directory" in err, err)

    # A file of the review there already: nothing is overwritten or added.
    os.mkdir(target)
    with open(os.path.join(target, "incidents-2025.csv"), "w") as f:
        f.write("mine")
    rc, out, err = bevis(db, auditor, "review", "--year", "2025", "--out", target)
    eq((rc, out), (1, ""), "review over an earlier one")
    check(f"bevis review: {target}/incidents-2025.csv exists already" in err, err)
    eq(os.listdir(target), ["incidents-2025.csv"], "nothing added")
    eq(read(os.path.join(target, "incidents-2025.csv")), "mine", "nothing overwritten")
    # Another year goes beside it.
    eq(bevis(db, auditor, "review", "--year", "2024", "--out", target)[0], 0, "2024 beside")
    eq(len(os.listdir(target)), 7, "six files beside the one there")


def test_the_configured_timezone_decides_the_year(cluster):
    """With timezone = UTC, 2025-01-01 00:30 Stockholm time (23:30 UTC the day
    before) is an incident of 2024."""
    db, _isam, auditor = setup(cluster)
    conf = os.path.join(tempfile.mkdtemp(prefix="bevis-conf-"), "bevis.conf")
    with open(conf, "w") as f:
        f.write("[client]\ntimezone = UTC\n")
    out = run_bevis(db, "-c", conf, "--db", conninfo_as(db, auditor), "stats", "--year",
                    "2025", "--json")
    eq(out.returncode, 0, out.stderr)
    rows = [json.loads(l) for l in out.stdout.decode().splitlines()]
    eq([(r["figure"], r["value"], r["previous"]) for r in rows[:4]],
       [("potential", 13, 10), ("confirmed", 10, 9), ("personal_data", 8, 6),
        ("notified", 6, 4)], "2025 and 2024 in UTC")
    d = os.path.join(tempfile.mkdtemp(prefix="bevis-review-"), "r")
    out = run_bevis(db, "-c", conf, "--db", conninfo_as(db, auditor), "review", "--year",
                    "2025", "--lang", "en", "--out", d)
    eq(out.returncode, 0, out.stderr)
    md = read(os.path.join(d, "incidents-2025.md"))
    check("**2025: 13 potential incidents, 10 confirmed, 8 personal-data breaches, "
          "6 notified to IMY.**" in md, md)
    check("in the time zone UTC." in md, md)
