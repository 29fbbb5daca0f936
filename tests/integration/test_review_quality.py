"""Issue 16 item 5: the suppliers' log quality in the management review
(bevis review's quality-Y.md, quality-Y.csv and one SVG per supplier) and on
/metrics (the bevis_quality_* gauges), against a real PostgreSQL and a real
bevisd. The review reads tests/sql/fixtures/quality_month.sql, whose
supplier-months have known scores: acme 2026-09 100.0, acme 2026-10 88.2,
kedja 2026-10 53.6 (with acme's report due on the 10th)."""
import csv
import datetime
import io
import json
import os
import subprocess
import tempfile
import xml.etree.ElementTree as ET

from bevistest import (PGBIN, ROOT, Client, Daemon, check, eq, event, free_port,
                       metrics, ndjson, own_cluster, run_bevis, wait_for)
from test_curve import Keys, curve_client
from test_roles import conninfo_as, db_as, login

FIXTURE = os.path.join(ROOT, "tests", "sql", "fixtures", "quality_month.sql")
SVG = "{http://www.w3.org/2000/svg}"
# The chart's plot area (cli/cmd_review.c): score 100 at y 56, 0 at y 256;
# month m at x 56 + 672 * (m - 0.5) / 12.
PLOT_TOP, PLOT_H, PLOT_LEFT, PLOT_W = 56, 200, 56, 672


def setup(cluster):
    db = cluster.new_database(suppliers=())
    out = subprocess.run([os.path.join(PGBIN, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                          "-d", db.conninfo, "-f", FIXTURE], capture_output=True, text=True)
    eq(out.returncode, 0, "fixture: " + out.stderr)
    conf = os.path.join(tempfile.mkdtemp(prefix="bevis-conf-"), "bevis.conf")
    with open(conf, "w") as f:
        f.write("[source acme]\nreport_due_day = 10\n")
    return db, login(db, "bevis_auditor"), conf


def review(db, user, conf, *args):
    d = os.path.join(tempfile.mkdtemp(prefix="bevis-review-"), "review")
    out = run_bevis(db, "-c", conf, "--db", conninfo_as(db, user), "review", *args,
                    "--out", d)
    return out.returncode, out.stdout.decode(), out.stderr.decode(), d


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def points(path):
    """The SVG's points: {month: (score, cx, cy)}, its polylines, its title."""
    root = ET.parse(path).getroot()
    eq(root.tag, SVG + "svg", "the SVG's root")
    got = {}
    for c in root.iter(SVG + "circle"):
        if c.get("class") == "point":
            got[int(c.get("data-month"))] = (float(c.get("data-score")), float(c.get("cx")),
                                             float(c.get("cy")))
    lines = [l.get("points") for l in root.iter(SVG + "polyline")]
    return got, lines, root.find(SVG + "title").text


def xy(month, score):
    return (round(PLOT_LEFT + PLOT_W * (month - 0.5) / 12, 1),
            round(PLOT_TOP + PLOT_H * (100 - score) / 100, 1))


def test_review_has_each_suppliers_quality_beside_its_measures(cluster):
    db, auditor, conf = setup(cluster)
    rc, out, err, d = review(db, auditor, conf, "--year", "2026")
    eq(rc, 0, "review: " + err)
    names = ["incidents-2026.md", "incidents-2026-per-month.svg", "incidents-2026.csv",
             "incidents-2026-per-month.csv", "quality-2026.md", "quality-2026.csv",
             "quality-2026-acme.svg", "quality-2026-kedja.svg"]
    eq(out, "2026: 0 potentiella incidenter; 0 incidenter, varav 0 personuppgiftsincidenter, 0 anmälda till IMY\n"
       + "".join(f"wrote {d}/{n}\n" for n in names), "review's output")
    eq(sorted(os.listdir(d)), sorted(names), "the files written")

    md = read(os.path.join(d, "quality-2026.md"))
    check(md.startswith("# Leverantörernas loggkvalitet 2026\n"), md)
    head = ("| Månad | Poäng | Händelser | Tysta timmar | Fullständighet (lägsta fält) "
            "| I framtiden / sena | Saknade (seq) | Kedjebrott / grenar | Karantän "
            "| Rapport |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
    # The score is never alone: each month's measures stand beside it.
    for want in ["\n## acme\n\n" + head
                 + "| september | 100,0 | 7200 | 0 | 100,0 % (actor.user) | 0 / 0 | – | – "
                   "| 0,00 % | i tid |\n"
                 "| oktober | 88,2 | 3710 | 3 | 80,0 % (actor.user) | 5 / 2 | 4 | – "
                 "| 0,99 % | 4 dagar sen |\n",
                 "\n![Loggkvalitet per månad 2026, acme](quality-2026-acme.svg)\n",
                 "\n## kedja\n\n" + head
                 + "| oktober | 53,6 | 7 | – | 0,0 % (actor.user) | 0 / 0 | – | 1 / 1 "
                   "| 0,00 % | – |\n"]:
        check(want in md, f"want {want!r} in:\n{md}")
    # This month, when it is of 2026, is marked as not over yet.
    this = datetime.date.today()
    if this.year == 2026 and this.month > 10:
        check(f"| {['november', 'december'][this.month - 11]} (pågår) | " in md, md)
    # Months before a supplier's first are not in its table.
    check("| augusti |" not in md and "| januari |" not in md, md)

    # The CSV: every column of bevis quality --csv, for every row of the year.
    rows = list(csv.DictReader(io.StringIO(read(os.path.join(d, "quality-2026.csv")))))
    got = {(r["supplier"], r["period"]): r for r in rows}
    eq(got[("acme", "2026-09")]["score"], "100", "acme 2026-09 score")
    eq(got[("acme", "2026-10")]["score"], "88.2", "acme 2026-10 score")
    eq(got[("kedja", "2026-10")]["score"], "53.6", "kedja 2026-10 score")
    eq([got[("acme", "2026-10")][k] for k in ("events", "silent_hours", "share_actor_user",
                                              "future_events", "late_events", "seq_missing",
                                              "quarantined", "report_status",
                                              "report_days_late")],
       ["3710", "3", "0.8", "5", "2", "4", "38", "late", "4"], "acme 2026-10 measures")
    eq([got[("kedja", "2026-10")][k] for k in ("events", "chain_breaks", "chain_forks")],
       ["7", "1", "1"], "kedja 2026-10 chain")
    eq(json.loads(got[("acme", "2026-09")]["scores"])["completeness"], 100.0,
       "the sub-scores are in the CSV")
    check(("acme", "2026-08") not in got, "no row before acme's first month")
    eq(sorted({r["period"][:4] for r in rows}), ["2026"], "the review's year only")

    # The charts: a point per month with a score, on a 0-100 axis; a gap
    # (no point, the line broken) for a month without one.
    acme, lines, title = points(os.path.join(d, "quality-2026-acme.svg"))
    eq(title, "Loggkvalitet per månad 2026, acme", "the chart's title")
    eq(acme[9], (100.0, *xy(9, 100.0)), "acme September's point")
    eq(acme[10], (88.2, *xy(10, 88.2)), "acme October's point")
    check(not any(m in acme for m in range(1, 9)), f"no points before September: {acme}")
    check(any(l.startswith("%.1f,%.1f %.1f,%.1f" % (*xy(9, 100.0), *xy(10, 88.2)))
              for l in lines), f"September and October joined: {lines}")
    kedja, lines, _title = points(os.path.join(d, "quality-2026-kedja.svg"))
    eq(kedja[10], (53.6, *xy(10, 53.6)), "kedja October's point")
    check(not any(m in kedja for m in range(1, 10)), f"kedja's points: {kedja}")

    # --lang en.
    rc, out, err, d = review(db, auditor, conf, "--year", "2026", "--lang", "en")
    eq(rc, 0, "review --lang en: " + err)
    md = read(os.path.join(d, "quality-2026.md"))
    check(md.startswith("# Suppliers' log quality 2026\n"), md)
    for want in ["| Month | Score | Events | Silent hours | Completeness (lowest field) "
                 "| Future / late | Seq missing | Chain breaks / forks | Quarantined "
                 "| Report |\n",
                 "| October | 88.2 | 3710 | 3 | 80.0 % (actor.user) | 5 / 2 | 4 | – "
                 "| 0.99 % | 4 days late |\n"]:
        check(want in md, f"want {want!r} in:\n{md}")
    eq(points(os.path.join(d, "quality-2026-acme.svg"))[2],
       "Log quality per month 2026, acme", "the English chart's title")


def test_review_a_month_without_a_score_is_a_gap_not_a_zero(cluster):
    """sen is registered in January 2026 and sends its first 2 events on 10
    March: January and February have a row but nothing to score ("–", no
    point); March scores 100; from April on, nothing came against a median
    of 2, a score of 0, drawn as one."""
    db, auditor, conf = setup(cluster)
    db.sql("""
        INSERT INTO supplier (name, created_at) VALUES ('sen', '2026-01-01 00:00+01');
        INSERT INTO submission (id, supplier_id, request_id, content_type, received_at,
                                sha256, body, item_count)
        SELECT 400001, id, 'sen-1', 'application/x-ndjson', '2026-03-10 12:00+01',
               sha256('\\x03'::bytea), '\\x03'::bytea, 2 FROM supplier WHERE name = 'sen';
        INSERT INTO event (submission_id, item_no, supplier_id, source_event_id, occurred_at,
                           severity, category, action, outcome, actor_user, src_ip, target,
                           message, raw_offset, raw_length)
        SELECT 400001, i, sp.id, 'sen-' || i, '2026-03-10 11:59:30+01', 2, 'authentication',
               'login', 'success', 'u', '192.0.2.1', 'elevportal', 'ok', 0, 1
          FROM supplier sp, generate_series(0, 1) i WHERE sp.name = 'sen';
        SELECT bevis_quality_rebuild();""")
    rc, out, err, d = review(db, auditor, conf, "--year", "2026", "--lang", "en")
    eq(rc, 0, "review: " + err)
    md = read(os.path.join(d, "quality-2026.md"))
    for want in ["\n| January | – | 0 | – | – | 0 / 0 | – | – | – | – |\n"
                 "| February | – | 0 | – | – | 0 / 0 | – | – | – | – |\n"
                 "| March | 100.0 | 2 | – | 100.0 % (actor.user) | 0 / 0 | – | – | 0.00 % | – |\n"
                 "| April | 0.0 | 0 | – | – | 0 / 0 | – | – | – | – |\n"]:
        check(want in md, f"want {want!r} in:\n{md}")
    got, lines, _title = points(os.path.join(d, "quality-2026-sen.svg"))
    check(1 not in got and 2 not in got, f"no points for January and February: {got}")
    eq(got[3], (100.0, *xy(3, 100.0)), "March")
    eq(got[4], (0.0, *xy(4, 0.0)), "April: nothing came, a real 0")
    eq(len(lines), 1, f"one line, from March: {lines}")
    check(lines[0].startswith("%.1f,%.1f %.1f,%.1f" % (*xy(3, 100.0), *xy(4, 0.0))), lines)


def test_review_refuses_to_overwrite_a_suppliers_chart(cluster):
    db, auditor, conf = setup(cluster)
    target = os.path.join(tempfile.mkdtemp(prefix="bevis-review-"), "out")
    os.mkdir(target)
    with open(os.path.join(target, "quality-2026-kedja.svg"), "w") as f:
        f.write("mine")
    out = run_bevis(db, "-c", conf, "--db", conninfo_as(db, auditor), "review", "--year",
                    "2026", "--out", target)
    eq((out.returncode, out.stdout), (1, b""), "review over an earlier chart")
    check(f"bevis review: {target}/quality-2026-kedja.svg exists already"
          in out.stderr.decode(), out.stderr.decode())
    eq(os.listdir(target), ["quality-2026-kedja.svg"], "nothing added")
    eq(read(os.path.join(target, "quality-2026-kedja.svg")), "mine", "nothing overwritten")


def test_review_quality_of_a_year_without_suppliers(cluster):
    db, auditor, conf = setup(cluster)
    rc, out, err, d = review(db, auditor, conf, "--year", "2025", "--lang", "en")
    eq(rc, 0, "review: " + err)
    md = read(os.path.join(d, "quality-2025.md"))
    check("\nNo supplier sent logs in 2025.\n" in md, md)
    eq(read(os.path.join(d, "quality-2025.csv")).count("\n"), 1, "only the CSV's header")
    eq(sorted(n for n in os.listdir(d) if n.endswith(".svg")),
       ["incidents-2025-per-month.svg"], "no supplier chart")


def test_metrics_export_this_months_quality_per_supplier(cluster):
    db = cluster.new_database(suppliers=())
    keys = Keys()
    keys.supplier(db, "skolplattform")
    port = free_port()
    # bevisd logs in as the ingest role, which may run bevis_quality(); the
    # supplier is known by its key, as in production.
    d = Daemon(db_as(db, login(db, "bevis_ingest")), curve_secret_key=keys.server_key,
               http_listen=f"127.0.0.1:{port}", quality_refresh=1)
    try:
        now = datetime.datetime.now(datetime.timezone.utc)

        def ev(i, seq, **extra):
            e = {"id": f"q-{i}", "severity": 2,
                 "time": (now - datetime.timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "category": "authentication", "action": "login", "outcome": "success",
                 "actor": {"user": f"user{i}"}, "src": {"ip": "192.0.2.7"},
                 "target": "elevportal", "message": "ok", "seq": seq}
            e.update(extra)
            return {k: v for k, v in e.items() if v is not None}

        # 10 events: 2 without actor.user, 1 dated 10 minutes ahead, seq 1-11
        # without 5 (1 missing); and 1 item quarantined (11 items).
        events = [ev(i, s) for i, s in enumerate([1, 2, 3, 4, 6, 7, 8, 9, 10, 11])]
        events[0]["actor"] = None
        events[1]["actor"] = None
        events[2]["time"] = (now + datetime.timedelta(minutes=10)).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        events = [{k: v for k, v in e.items() if v is not None} for e in events]
        rep = curve_client(d, keys, "skolplattform").events(ndjson(events) + b'{"id":"x"}\n')
        eq(rep["status"], "ok", f"reply: {rep}")
        m = wait_for(lambda: (lambda x: x if x.get('bevis_quality_events{supplier="skolplattform"}')
                              == 10 else None)(metrics(port)), 20, "the quality gauges")
        s = 'supplier="skolplattform"'
        eq(m[f"bevis_quality_events{{{s}}}"], 10, "events")
        eq({f: m[f'bevis_quality_share{{{s},field="{f}"}}']
            for f in ("actor_user", "action", "outcome", "src_ip", "target")},
           {"actor_user": 0.8, "action": 1, "outcome": 1, "src_ip": 1, "target": 1},
           "the A.8.15 shares")
        eq((m[f"bevis_quality_future_events{{{s}}}"], m[f"bevis_quality_late_events{{{s}}}"]),
           (1, 0), "future and late")
        eq((m[f"bevis_quality_seq_missing{{{s}}}"], m[f"bevis_quality_seq_repeats{{{s}}}"],
            m[f"bevis_quality_seq_reorders{{{s}}}"]), (1, 0, 0), "seq")
        eq(round(m[f"bevis_quality_quarantine_share{{{s}}}"], 12), round(1 / 11, 12),
           "quarantine share: 1 of 11 items")
        eq(m[f"bevis_quality_duplicate_share{{{s}}}"], 0, "duplicate share")
        p50 = m[f'bevis_quality_lag_seconds{{{s},quantile="0.5"}}']
        check(30 <= p50 <= 35, f"median lag about 30 s: {p50}")
        # completeness 96, clock 90, sequence 90.9, rejects 90.9; weights
        # 25, 15, 10, 10: (2400 + 1350 + 909 + 909) / 60.
        eq(m[f"bevis_quality_score{{{s}}}"], 92.8, "score")
        # No chain, no report due: those gauges say nothing rather than 0.
        check(not any(k.startswith(("bevis_quality_chain_", "bevis_quality_report_"))
                      for k in m), f"no chain or report gauges: {sorted(m)}")
        check(m["bevis_quality_refreshed_timestamp_seconds"] >= int(now.timestamp()) - 1,
              "refreshed after the events")
        eq(m["bevis_quality_refresh_errors_total"], 0, "no failed refresh")
    finally:
        eq(d.stop(), 0, "bevisd exit code")


def test_metrics_keep_the_last_quality_while_the_database_is_away(cluster):
    """A reading that fails keeps the last figures, counts, and logs one
    warning; once the database is back the gauges are read again."""
    with own_cluster() as own:  # this test stops PostgreSQL
        db = own.new_database()
        port = free_port()
        d = Daemon(db, http_listen=f"127.0.0.1:{port}", quality_refresh=1)
        try:
            eq(Client(d.endpoint).events(ndjson([event(i) for i in range(4)]))["status"],
               "ok", "events stored")
            key = 'bevis_quality_events{supplier="demo"}'
            wait_for(lambda: metrics(port).get(key) == 4, 20, "4 events on /metrics")
            own.pg_stop()
            m = wait_for(lambda: (lambda x: x if x.get("bevis_quality_refresh_errors_total", 0)
                                  >= 2 else None)(metrics(port)), 30, "failed readings")
            eq(m[key], 4, "the last figures stay while the database is away")
            eq(d.logtext(since_start=True).count("quality: "), 1,
               "one warning for the outage: " + d.logtext(since_start=True))
            own.pg_start()
            wait_for(lambda: "quality: the /metrics gauges are read again"
                     in d.logtext(since_start=True), 30, "a reading after the outage")
            before = metrics(port)["bevis_quality_refresh_errors_total"]
            eq(Client(d.endpoint).events(ndjson([event(i) for i in range(4, 6)]),
                                         timeout=30)["status"], "ok", "events after")
            wait_for(lambda: metrics(port).get(key) == 6, 20, "6 events on /metrics")
            eq(metrics(port)["bevis_quality_refresh_errors_total"], before,
               "no failed reading once the database is back")
        finally:
            eq(d.stop(), 0, "bevisd exit code")
