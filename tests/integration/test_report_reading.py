"""Reading the monthly reports (issue 13, items 4, 6 and 7), as the ISAM and
the auditor use it: bevis reports and bevis report show [--diff], "possibly
the same" in bevis show, and the expected reports of bevis deadlines. The
reports are stored by bevis_report_ingest() as bevisd's login (a member of
bevis_ingest) calls it; the events come through a real bevisd; every
command runs as a real login."""
import copy
import json
import os
import re
import tempfile

from bevistest import Client, Daemon, check, eq, event, ndjson
from test_incidents import bevis, ok, year
from test_roles import login, psql_as

V1 = [
    {"item": 0, "line": 2, "off": 0, "len": 1, "id": "SD-101",
     "fields": {"title": "Nätfiske mot rektorer", "severity": "Hög", "system": "Mejl",
                "occurred_at": "2026-10-05 14:30"},
     "attrs": {"Handläggare": "Eva"}},
    {"item": 1, "line": 3, "off": 0, "len": 1, "id": "SD-102",
     "fields": {"title": "Borttappad dator", "severity": "Medel"},
     "attrs": {"Handläggare": "Eva"}},
    {"item": 2, "line": 5, "off": 0, "len": 1, "id": "SD-103",
     "fields": {"title": "Fel mottagare", "severity": "Låg"}},
]
V2 = [
    {"item": 0, "line": 2, "off": 0, "len": 1, "id": "SD-104",
     "fields": {"title": "Ny händelse", "severity": "Låg"}},
    dict(V1[0], item=1, line=3),
    {"item": 2, "line": 4, "off": 0, "len": 1, "id": "SD-102",
     "fields": {"title": "Borttappad dator, krypterad", "severity": "Medel",
                "system": "Lärplattan\x1b[31m"},
     "attrs": {"Handläggare": "Örjan"}},
]


def ingest(db, user, source, kind, period, title, entries, n):
    """A report as bevisd stores it: its submission, then
    bevis_report_ingest() in the same transaction, as bevisd's login."""
    body = json.dumps(entries, ensure_ascii=False).replace("'", "''")
    q = (f"BEGIN; INSERT INTO submission (id, supplier_id, request_id, content_type, "
         f"received_at, sha256, body, item_count) SELECT {n}, id, 'rr-{n}', "
         f"'application/json', '2026-11-03 09:00+01', sha256('{n}'), 'x', {len(entries)} "
         f"FROM supplier WHERE name = '{source}'; "
         f"SELECT report_id, version, n_new, n_changed, n_unchanged, n_removed, incidents "
         f"FROM bevis_report_ingest({n}, '{kind}', '{period}', '{title}', 'Säkerhetsansvarig', "
         f"'{body}', 0); COMMIT")
    out = psql_as(db, user, q)
    eq(out.returncode, 0, "ingest: " + out.stderr)
    return [line for line in out.stdout.splitlines() if "\t" in line][0].split("\t")


def setup(cluster):
    db = cluster.new_database(suppliers=("demo", "servicedesk"))
    return (db, login(db, "bevis_ingest"), login(db, "bevis_isam"),
            login(db, "bevis_auditor"))


def test_reports_versions_and_diff(cluster):
    db, ingest_user, isam, aud = setup(cluster)
    y = year(db)
    eq(ingest(db, ingest_user, "servicedesk", "servicedesk", "2026-10", "Oktober", V1, 1001),
       ["1", "1", "3", "0", "0", "0", f"{{INC-{y}-0001,INC-{y}-0002,INC-{y}-0003}}"],
       "version 1")
    eq(ingest(db, ingest_user, "servicedesk", "servicedesk", "2026-10", "Oktober, rättad",
              V2, 1002),
       ["2", "2", "1", "1", "1", "1", f"{{INC-{y}-0004}}"], "version 2")
    eq(ingest(db, ingest_user, "demo", "supplier", "2026-09", "September", [], 1003)[:2],
       ["3", "1"], "another source")

    eq(ok(db, aud, "reports"),
       "ID  SOURCE       KIND         PERIOD   VERSION              RECEIVED              "
       "NEW  CHANGED  UNCHANGED  REMOVED  QUARANTINED  TITLE\n"
       "3   demo         supplier     2026-09  1                    2026-11-03 09:00 CET  "
       "0    0        0          0        0            September\n"
       "1   servicedesk  servicedesk  2026-10  1 (superseded by 2)  2026-11-03 09:00 CET  "
       "3    0        0          0        0            Oktober\n"
       "2   servicedesk  servicedesk  2026-10  2                    2026-11-03 09:00 CET  "
       "1    1        1          1        0            Oktober, rättad\n", "bevis reports")
    rc, out, err = bevis(db, aud, "reports", "--source", "servicedesk", "--period", "2026-10",
                         "--json")
    eq((rc, err), (0, ""), "reports --json")
    rows = [json.loads(line) for line in out.splitlines()]
    eq([(r["id"], r["version"], r["superseded_by"], r["supersedes"]) for r in rows],
       [(1, 1, 2, None), (2, 2, None, 1)], "versions in --json")
    eq(rows[1]["received_at"], "2026-11-03T09:00:00+01:00", "RFC 3339 in --json")
    rc, out, err = bevis(db, aud, "reports", "--source", "nobody")
    eq((rc, out.split()[:2], err), (0, ["ID", "SOURCE"], "0 report versions\n"),
       "no such source: the heading alone")
    rc, out, err = bevis(db, aud, "reports", "--period", "2026-13")
    eq((rc, out, err), (2, "", "bevis reports: --period: '2026-13' is not a month like "
                               "2026-10\n"), "a bad period")

    eq(ok(db, isam, "report", "show", "2"),
       "report 2  servicedesk  servicedesk 2026-10  version 2, supersedes report 1\n"
       "title:       Oktober, rättad\n"
       "author:      Säkerhetsansvarig\n"
       "received:    2026-11-03 09:00 CET\n"
       "submission:  1002\n"
       "entries:     1 new, 1 changed, 1 unchanged, 1 removed, 0 quarantined\n"
       "\n"
       "ENTRY   STATE      LINE  OCCURRED               SYSTEM              "
       "UNIT  SEVERITY  PERSONAL  INCIDENT       TITLE\n"
       f"SD-104  new        2     -                      -                   "
       f"-     Låg       unknown   INC-{y}-0004  Ny händelse\n"
       f"SD-101  unchanged  3     2026-10-05 14:30 CEST  Mejl                "
       f"-     Hög       unknown   INC-{y}-0001  Nätfiske mot rektorer\n"
       f"SD-102  changed    4     -                      Lärplattan\\x1b[31m  "
       f"-     Medel     unknown   INC-{y}-0002  Borttappad dator, krypterad\n",
       "report show: the entries, escape sequences escaped")
    eq(ok(db, isam, "report", "show", "2", "--diff"),
       "report 2  servicedesk  servicedesk 2026-10  version 2, supersedes report 1\n"
       "title:       Oktober, rättad\n"
       "author:      Säkerhetsansvarig\n"
       "received:    2026-11-03 09:00 CET\n"
       "submission:  1002\n"
       "entries:     1 new, 1 changed, 1 unchanged, 1 removed, 0 quarantined\n"
       "\n"
       "changes since version 1:\n"
       "  SD-104  new\n"
       "  SD-102  changed\n"
       "      attrs.Handläggare: Eva -> Örjan\n"
       "      system: - -> Lärplattan\\x1b[31m\n"
       "      title: Borttappad dator -> Borttappad dator, krypterad\n"
       "  SD-103  removed\n", "report show --diff")
    out = ok(db, isam, "report", "show", "1", "--diff")
    check(out.startswith("report 1  servicedesk  servicedesk 2026-10  version 1, "
                         "superseded by report 2\n"), out)
    check(out.endswith("\nversion 1: every entry is new\n  SD-101  new\n  SD-102  new\n"
                       "  SD-103  new\n"), out)
    rc, out, err = bevis(db, aud, "report", "show", "2", "--diff", "--json")
    eq(rc, 0, err)
    eq([json.loads(line) for line in out.splitlines()],
       [{"entry_id": "SD-104", "state": "new", "field": None, "before": None, "after": None},
        {"entry_id": "SD-101", "state": "unchanged", "field": None, "before": None,
         "after": None},
        {"entry_id": "SD-102", "state": "changed", "field": "attrs.Handläggare",
         "before": "Eva", "after": "Örjan"},
        {"entry_id": "SD-102", "state": "changed", "field": "system", "before": None,
         "after": "Lärplattan\x1b[31m"},
        {"entry_id": "SD-102", "state": "changed", "field": "title",
         "before": "Borttappad dator", "after": "Borttappad dator, krypterad"},
        {"entry_id": "SD-103", "state": "removed", "field": None, "before": None,
         "after": None}], "report show --diff --json: exact")
    rc, out, err = bevis(db, aud, "report", "show", "2", "--json")
    eq([(r["entry_id"], r["incident"]) for r in map(json.loads, out.splitlines())],
       [("SD-104", f"INC-{y}-0004"), ("SD-101", f"INC-{y}-0001"),
        ("SD-102", f"INC-{y}-0002")], "report show --json")
    eq(bevis(db, aud, "report", "show", "99"),
       (1, "", "bevis report show: no report 99\n  hint: bevis reports lists them\n"),
       "no such report")
    eq(bevis(db, aud, "report", "show", "x")[0::2],
       (2, "bevis report show: report id: 'x' is not a whole number\n"
           "  hint: bevis reports lists them\n"), "not a number")
    eq(bevis(db, aud, "report", "list")[0], 2, "report list is no command")


def test_a_protected_entry_shows_only_to_bevis_protected(cluster):
    db, ingest_user, isam, aud = setup(cluster)
    prot = login(db, "bevis_auditor")
    db.sql(f'GRANT bevis_protected TO "{prot}"')
    y = year(db)
    entry = {"item": 0, "line": 2, "off": 0, "len": 1, "id": "SD-201",
             "fields": {"title": "Elev med skyddad identitet", "unit": "Tallåsens skola",
                        "system": "Elevregistret", "protected_identity": "yes"}}
    ingest(db, ingest_user, "servicedesk", "servicedesk", "2026-10", "Oktober", [entry], 1001)
    moved = copy.deepcopy(entry)
    moved["fields"]["unit"] = "Björkskolan"
    ingest(db, ingest_user, "servicedesk", "servicedesk", "2026-10", "Oktober", [moved], 1002)
    out = ok(db, aud, "report", "show", "2")
    eq(out.split("\n\n")[1],
       "ENTRY   STATE    LINE  OCCURRED  SYSTEM  UNIT  SEVERITY  PERSONAL  INCIDENT       "
       "TITLE\n"
       f"SD-201  changed  2     -         -       -     -         unknown   INC-{y}-0001  "
       "(restricted to bevis_protected)\n", "report show outside bevis_protected")
    eq(ok(db, aud, "report", "show", "2", "--diff").split("\n\n")[1],
       "changes since version 1:\n  SD-201  changed\n"
       "      unit: (restricted to bevis_protected) -> (restricted to bevis_protected)\n",
       "report show --diff outside bevis_protected")
    eq(ok(db, prot, "report", "show", "2", "--diff").split("\n\n")[1],
       "changes since version 1:\n  SD-201  changed\n"
       "      unit: Tallåsens skola -> Björkskolan\n", "bevis_protected reads it")
    check("Elevregistret" in ok(db, prot, "report", "show", "2"), "and the entry")


def test_possibly_the_same_in_show(cluster):
    db, ingest_user, isam, aud = setup(cluster)
    prot = login(db, "bevis_isam")
    db.sql(f'GRANT bevis_protected TO "{prot}"')
    y = year(db)
    d = Daemon(db)
    try:
        # ev-0000005: user5 on 2026-10-06 05:05Z; ev-0000007 another day, USER5.
        eq(Client(d.endpoint).events(ndjson([event(5), event(7, actor={"user": "USER5"})]))
           ["status"], "ok", "send")
    finally:
        eq(d.stop(), 0, "bevisd exit code")
    a = ok(db, isam, "incident", "new", "--title", "Misstänkt inloggning", "--event",
           "demo:ev-0000005").strip()
    b = ok(db, isam, "incident", "new", "--title", "Konto låst", "--event",
           "demo:ev-0000007").strip()
    _, _, _, _, _, _, incs = ingest(db, ingest_user, "demo", "supplier", "2026-10", "Oktober", [
        {"item": 0, "line": 1, "off": 0, "len": 1, "id": "SP-1",
         "fields": {"title": "Inloggning från okänt land", "system": "Elevportal",
                    "unit": "Björkskolan", "log_ref": "ev-0000005",
                    "occurred_at": "2026-10-06 09:00"}},
        {"item": 1, "line": 2, "off": 0, "len": 1, "id": "SP-2",
         "fields": {"title": "Delad skärm på lektion", "unit": "björkskolan ",
                    "occurred_at": "2026-10-20"}}], 2001)
    c, e = incs.strip("{}").split(",")
    p = ok(db, isam, "incident", "new", "--title", "Skyddad elev", "--event",
           "demo:ev-0000005").strip()
    ok(db, isam, "triage", p, "--protected-identity", "yes")
    eq([a, b, c, e, p], [f"INC-{y}-{n:04d}" for n in range(1, 6)], "references")

    out = ok(db, isam, "show", c)
    check(out.endswith(
        "\npossibly the same (suggested; merging is your decision: bevis merge):\n"
        f"  {a}  new  Misstänkt inloggning\n"
        "      same log reference: ev-0000005\n"
        "      overlapping time: 2026-10-06\n"
        f"  {e}  new  Delad skärm på lektion\n"
        "      same school or unit: björkskolan\n"), out)
    out = ok(db, isam, "show", a)
    check(out.endswith(
        "\npossibly the same (suggested; merging is your decision: bevis merge):\n"
        f"  {c}  new  Inloggning från okänt land\n"
        "      same log reference: ev-0000005\n"
        "      overlapping time: 2026-10-06\n"
        f"  {b}  new  Konto låst\n"
        "      same user: USER5\n"), "the protected one is not suggested: " + out)
    s = json.loads(ok(db, aud, "show", a, "--json"))
    eq(s["possibly_same"],
       [{"ref": c, "status": "new", "title": "Inloggning från okänt land",
         "reasons": [{"reason": "same_log_ref", "value": "ev-0000005"},
                     {"reason": "overlapping_time", "value": "2026-10-06"}]},
        {"ref": b, "status": "new", "title": "Konto låst",
         "reasons": [{"reason": "same_user", "value": "USER5"}]}], "--json")
    # bevis_protected sees the protected one, first: three reasons.
    s = json.loads(ok(db, prot, "show", a, "--json"))
    eq([(x["ref"], [r["reason"] for r in x["reasons"]]) for x in s["possibly_same"]],
       [(p, ["same_log_ref", "same_user", "overlapping_time"]),
        (c, ["same_log_ref", "overlapping_time"]), (b, ["same_user"])], "protected reader")
    # Outside bevis_protected, a protected incident shows no suggestions.
    out = ok(db, isam, "show", p)
    check("possibly the same" not in out, out)
    eq("possibly_same" in json.loads(ok(db, isam, "show", p, "--json")), False,
       "no possibly_same in a restricted --json")
    # Merging stays the ISAM's decision; once merged, no longer suggested.
    ok(db, isam, "merge", e, "--into", c, "--rationale", "samma händelse")
    out = ok(db, isam, "show", a)
    check(f"  {e}  " not in out and f"  {c}  new  " in out, out)
    # c now spans 6 to 20 October with the link of e merged into it.
    eq(ok(db, isam, "show", b).split("bevis merge):\n")[1],
       f"  {a}  new  Misstänkt inloggning\n      same user: user5\n"
       f"  {c}  new  Inloggning från okänt land\n      overlapping time: 2026-10-08\n",
       "from b's side")


def conf_with(text):
    fd, path = tempfile.mkstemp(prefix="bevis-conf-", suffix=".conf")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def test_deadlines_lists_expected_reports(cluster):
    db, ingest_user, isam, aud = setup(cluster)
    # servicedesk2 registered three months ago; one of its reports came.
    db.sql("INSERT INTO supplier (name, created_at) VALUES "
           "('servicedesk2', now() - interval '3 months')")
    months = [db.value("SELECT to_char(date_trunc('month', now() AT TIME ZONE "
                       f"'Europe/Stockholm') - interval '{k} months', 'YYYY-MM')")
              for k in (3, 2, 1)]
    ingest(db, ingest_user, "servicedesk2", "servicedesk", months[1], "Rapport", [], 3001)
    conf = conf_with("[source servicedesk2]\nreport_due_day = 10\n")
    want = db.sql(
        "SELECT m, to_char(to_date(m, 'YYYY-MM') + interval '1 month 10 days', "
        "'YYYY-MM-DD HH24:MI'), "
        "(to_date(m, 'YYYY-MM') + interval '1 month 10 days') "
        "AT TIME ZONE 'Europe/Stockholm' < now() "
        f"FROM unnest(ARRAY['{months[0]}', '{months[2]}']) m")
    rc, out, err = bevis(db, aud, "deadlines", config=conf)
    lines = [re.split(r"\s{2,}", line) for line in out.splitlines()]
    eq(lines[0], ["REF", "STATUS", "DEADLINE", "DUE", "LEFT"], "heading")
    got = [(line[0], line[1], line[2], line[3][:16], line[4].startswith("overdue by"))
           for line in lines[1:]]
    eq(got, [("servicedesk2", "missing", f"report {m}", due, late == "t")
             for m, due, late in want], "the two missing months, due by the end of day 10")
    overdue = sum(1 for _m, _d, late in want if late == "t")
    eq(overdue >= 1, True, "the oldest is overdue")
    eq((rc, err), (1, f"2 open deadlines, {overdue} overdue\n"),
       "exit 1: a report is overdue")
    rc, out, err = bevis(db, aud, "deadlines", "--json", config=conf)
    eq([(r["ref"], r["kind"], r["source"], r["period"], r["overdue"])
        for r in map(json.loads, out.splitlines())],
       [(None, "report", "servicedesk2", m, late == "t") for m, _d, late in want],
       "--json: source and period")
    # A misspelt source fails loudly, so the timer's unit fails.
    bad = conf_with("[source servicedsek]\nreport_due_day = 10\n")
    rc, out, err = bevis(db, aud, "deadlines", config=bad)
    eq((rc, out), (2, ""), "a misspelt source: exit 2")
    check("[source servicedsek] in the config names no registered source" in err, err)
    # A due day past 28 is a config error, naming the line.
    bad = conf_with("[client]\ntimezone = Europe/Stockholm\n[source servicedesk2]\n"
                    "report_due_day = 31\n")
    rc, out, err = bevis(db, aud, "deadlines", config=bad)
    eq(rc, 2, "a bad due day: exit 2")
    check(f"{bad}:4: report_due_day: '31' is not a day of the month from 1 to 28" in err,
          err)
    bad = conf_with("[source servicedesk2]\nreport_due = 10\n")
    rc, out, err = bevis(db, aud, "deadlines", config=bad)
    check(rc == 2 and f"{bad}:2: unknown option 'report_due' in section [source "
          "servicedesk2] (known: report_due_day)" in err, err)


# ---- the shipped sample month, through a real bevisd over CURVE ----------------

def test_sample_supplier_report_read_back(cluster):
    """The supplier's JSON report of October and its corrected version, and
    the servicedesk's CSV (tests/data/reports), sent as REPORT by their
    CURVE keys to a bevisd that logs in as an ingest login; then read back
    as the ISAM: the versions, the diff, and the incidents the servicedesk
    and the supplier both reported, suggested as possibly the same."""
    import copy
    import uuid
    from bevistest import ROOT
    from test_curve import Keys, curve_client
    db = cluster.new_database(suppliers=())
    ingest_login = f"{db.name}_ingest_{uuid.uuid4().hex[:8]}"
    db.sql(f'CREATE ROLE "{ingest_login}" LOGIN IN ROLE bevis_ingest')
    isam = login(db, "bevis_isam")
    keys = Keys()
    keys.supplier(db, "skolplattform")
    keys.supplier(db, "servicedesk")
    as_ingest = copy.copy(db)
    as_ingest.conninfo = db.conninfo.replace("user=postgres", f"user={ingest_login}")
    d = Daemon(as_ingest, curve_secret_key=keys.server_key)
    # The shipped servicedesk map, and its column Skola as the school.
    d.stop()
    with open(d.conf, "a") as f:
        f.write(SERVICEDESK_MAP)
    d.start()
    data = os.path.join(ROOT, "tests", "data", "reports")
    ctype = ('application/json; kind=supplier; period=2026-10; title="Oktober"; '
             'author="Säkerhetsansvarig"').encode()
    c = curve_client(d, keys, "skolplattform")
    sd = curve_client(d, keys, "servicedesk")
    try:
        for name in ("supplier-2026-10.json", "supplier-2026-10.v2.json"):
            with open(os.path.join(data, name), "rb") as f:
                r = c.request(b"REPORT", ctype, f.read(), timeout=120)
            eq(r["status"], "ok", f"{name}: {r}")
        with open(os.path.join(data, "servicedesk-2026-10.cp1252.csv"), "rb") as f:
            r = sd.request(b"REPORT", b'text/csv; charset=windows-1252; kind=servicedesk; '
                           b'period=2026-10; title="Oktober"; author="Servicedesk"', f.read(),
                           timeout=120)
        eq(r["status"], "ok", f"servicedesk: {r}")
    finally:
        c.close()
        sd.close()
        eq(d.stop(), 0, "bevisd exit code")
    y = year(db)
    out = ok(db, isam, "reports", "--source", "skolplattform")
    eq([re.split(r"\s{2,}", line)[:11] for line in out.splitlines()[1:]],
       [["1", "skolplattform", "supplier", "2026-10", "1 (superseded by 2)",
         line_received(db, 1), "6", "0", "0", "0", "0"],
        ["2", "skolplattform", "supplier", "2026-10", "2",
         line_received(db, 2), "1", "2", "3", "1", "0"]],
       "the two versions: 2 changed, 1 removed, 1 new")
    diff = ok(db, isam, "report", "show", "2", "--diff").split("\n\n", 1)[1]
    eq(diff,
       "changes since version 1:\n"
       "  SP-302  changed\n"
       "      actions: Release återställd. -> Release återställd; rollmappning rättad.\n"
       "      status: Utreds -> Åtgärdad\n"
       "  SP-303  changed\n"
       "      verdict: Utreds -> Ingen incident\n"
       "  SP-307  new\n"
       "  SP-304  removed\n", "the corrected version, field by field")
    # SP-301..SP-306 opened INC-…-0001..0006 in order, SP-307 0007.
    eq(db.value("SELECT string_agg(e.entry_id || '=' || o.ref, ',' ORDER BY o.ref) "
                "FROM report_entry_view e JOIN incident o ON o.id = e.incident_id "
                "WHERE e.state = 'new' AND e.source = 'skolplattform'"),
       ",".join(f"SP-30{n}=INC-{y}-000{n}" for n in range(1, 8)), "the incidents opened")
    inc = [None] + [f"INC-{y}-{n:04d}" for n in range(1, 8)]
    # SP-302 (Lärplattformen, Björkskolan) and SP-304, removed from version 2
    # but still an open incident, on Lärplattformen in version 1.
    # The servicedesk's SD-2026-1001..1020 opened 0008..0027. SD-2026-1008
    # is SP-302 as the servicedesk saw it: the same school, the same day.
    sd_inc = {f"SD-2026-{1000 + n}": f"INC-{y}-{n + 7:04d}" for n in range(1, 21)}
    eq(db.value("SELECT o.ref FROM report_entry_view e JOIN incident o "
                "ON o.id = e.incident_id WHERE e.entry_id = 'SD-2026-1008'"),
       sd_inc["SD-2026-1008"], "SD-2026-1008's incident")
    similar = json.loads(ok(db, isam, "show", inc[2], "--json"))["possibly_same"]
    eq(similar[:2],
       [{"ref": sd_inc["SD-2026-1008"], "status": "new",
         "title": "Betyg synliga för andra elever",
         "reasons": [{"reason": "same_school", "value": "Björkskolan"},
                     {"reason": "overlapping_time", "value": "2026-10-08"}]},
        {"ref": inc[4], "status": "new", "title": "Driftstopp i lärplattformen",
         "reasons": [{"reason": "same_system", "value": "Lärplattformen"}]}],
       "SP-302's incident: the servicedesk's report of it first")
    # Then the servicedesk's other entries at Björkskolan, by reference.
    eq([(x["ref"], x["reasons"]) for x in similar[2:]],
       [(sd_inc[k], [{"reason": "same_school", "value": "Björkskolan"}])
        for k in ("SD-2026-1001", "SD-2026-1005", "SD-2026-1012", "SD-2026-1015",
                  "SD-2026-1020")], "the same school alone")
    # SP-303, an unusual sign-in at Ekbackens skola on 15 October: the
    # servicedesk's SD-2026-1013 first, then one reason each.
    out = ok(db, isam, "show", inc[3])
    eq(out.split("\n\npossibly the same")[1],
       " (suggested; merging is your decision: bevis merge):\n"
       f"  {sd_inc['SD-2026-1013']}  new  Inloggning från utlandet\n"
       "      same school or unit: Ekbackens skola\n"
       "      overlapping time: 2026-10-15\n"
       f"  {inc[1]}  new  Nätfiskesida mot skolans inloggning\n"
       "      same system: Skolportalen\n"
       f"  {inc[6]}  new  Sårbarhet i inloggningstjänst\n"
       "      same system: Skolportalen\n"
       f"  {inc[7]}  new  Skadlig bilaga i mejl\n"
       "      same school or unit: Ekbackens skola\n"
       f"  {sd_inc['SD-2026-1002']}  new  Borttappad dator\n"
       "      same school or unit: Ekbackens skola\n"
       f"  {sd_inc['SD-2026-1006']}  new  Konto låst efter många inloggningsförsök\n"
       "      same school or unit: Ekbackens skola\n"
       f"  {sd_inc['SD-2026-1009']}  new  Misstänkt skadlig kod på elevdator\n"
       "      same school or unit: Ekbackens skola\n"
       f"  {sd_inc['SD-2026-1017']}  new  Mejl med personnummer okrypterat\n"
       "      same school or unit: Ekbackens skola\n", "SP-303's incident")


SERVICEDESK_MAP = """
[report_map servicedesk]
id = Ärende-ID | Ärendenummer
occurred_at = Datum
title = Rubrik
description = Beskrivning
category = Kategori
severity = Allvarlighetsgrad
personal_data = Personuppgifter
unit = Skola
"""


def line_received(db, report_id):
    """When report_id came, as the table shows it (Stockholm time)."""
    return db.sql("SET TimeZone = 'Europe/Stockholm'; SELECT to_char(received_at, "
                  f"'YYYY-MM-DD HH24:MI TZ') FROM report WHERE id = {report_id}")[-1][0]
