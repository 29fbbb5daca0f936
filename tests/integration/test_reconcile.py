"""Issue 16, item 2: bevis reconcile, a supplier's monthly report against its
own events (docs/RECONCILE.md). A real bevisd over CURVE takes the supplier's
events and its report (REPORT, as test_reports.py sends it); bevis reconcile
runs as real isam and auditor logins. The month: one entry with no event
behind it, two high-severity events no entry covers, one event named by an
entry's log reference (in another case), one in another entry's time
window, and one low event that is no finding until --min-severity low. The
claimed entry's title carries an escape sequence: escaped in the table, exact in
--json."""
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor

from bevistest import check, eq
from test_curve import curve_client
from test_incidents import bevis, year
from test_reports import Setup, ct
from test_roles import login

EVENTS = [
    # id, time (UTC), severity
    ("fw-1001", "2026-10-05T08:00:00Z", 4),   # SP-1 names it (as FW-1001)
    ("fw-1002", "2026-10-06T12:30:00Z", 5),   # 14:30 local: in SP-2's window
    ("fw-1003", "2026-10-09T10:00:00Z", 4),   # unreported
    ("fw-1004", "2026-10-20T18:45:00Z", 5),   # unreported
    ("fw-1005", "2026-10-11T10:00:00Z", 2),   # low
    ("fw-1006", "2026-11-02T09:00:00Z", 6),   # November
]

REPORT = {"entries": [
    {"id": "SP-1", "title": "Misslyckade inloggningar", "log_ref": "FW-1001",
     "occurred_at": "2026-10-05 10:00"},
    {"id": "SP-2", "title": "Överbelastning", "occurred_at": "2026-10-06 14:00"},
    {"id": "SP-3", "title": "Påstått intrång\x1b[2J", "log_ref": "fw-9999",
     "occurred_at": "2026-10-15 09:00", "severity": "Hög"},
]}


def cells(table):
    """A table's lines cut into their cells (columns are 2 or more blanks apart)."""
    return [re.split(r"  +", line) for line in table.splitlines()]


def send_events(s):
    c = curve_client(s.d, s.keys, "skolplattform")
    try:
        body = b"".join(json.dumps(
            {"id": i, "time": t, "severity": sev, "category": "network",
             "action": "block", "outcome": "failure", "message": "blocked " + i}).encode()
            + b"\n" for i, t, sev in EVENTS)
        r = c.events(body)
        eq((r["status"], r["accepted"]), ("ok", len(EVENTS)), "events: " + json.dumps(r)[:300])
    finally:
        c.close()


def test_reconcile_a_supplier_month(cluster):
    s = Setup(cluster)
    try:
        send_events(s)
        r = s.send("skolplattform", ct("supplier", "2026-10", fmt="json"),
                   json.dumps(REPORT, ensure_ascii=False).encode())
        eq((r["status"], r["version"], r["new"]), ("ok", 1, 3), "report: " + json.dumps(r)[:300])
    finally:
        s.stop()
    db = s.db
    isam, aud = login(db, "bevis_isam"), login(db, "bevis_auditor")
    y = year(db)
    sub = db.value("SELECT submission_id FROM event WHERE source_event_id = 'fw-1003'")
    rep = db.value("SELECT id FROM report")
    sp3 = db.value("SELECT id FROM report_entry WHERE entry_id = 'SP-3'")
    items = dict(db.sql("SELECT source_event_id, item_no FROM event"))
    received = db.sql("SELECT set_config('TimeZone', 'Europe/Stockholm', false); "
                        "SELECT to_char(received_at, 'YYYY-MM-DD HH24:MI TZ') FROM report")[-1][0]
    eq(db.value("SELECT count(*) FROM incident"), "3", "the report's entries opened 3")

    # The findings: SP-3, then fw-1003 and fw-1004; exit 1.
    rc, out, err = bevis(db, aud, "reconcile", "--supplier", "skolplattform",
                         "--period", "2026-10")
    eq((rc, cells(out), err), (1, [
        ["FINDING", "AT", "ABOUT", "INCIDENT", "TITLE", "WHY"],
        ["claimed_no_evidence", "2026-10-15 09:00 CEST", f"entry {rep}/{sp3} SP-3",
         f"INC-{y}-0003", "Påstått intrång\\x1b[2J",
         "log reference fw-9999 matches no event of skolplattform"],
        ["unreported_event", "2026-10-09 12:00 CEST", f"event {sub}:{items['fw-1003']} fw-1003",
         "-", "network block failure", "severity high (4)"],
        ["unreported_event", "2026-10-20 20:45 CEST", f"event {sub}:{items['fw-1004']} fw-1004",
         "-", "network block failure", "severity critical (5)"]],
        f"skolplattform 2026-10: report {rep} (supplier, version 1, received {received}), "
        "3 entries, against 5 events in the month: 1 claimed with no evidence, "
        "2 unreported events, 0 unmentioned rule incidents\n"), "reconcile: the table")

    rc, out, err = bevis(db, aud, "reconcile", "--supplier", "skolplattform",
                         "--period", "2026-10", "--json")
    eq(rc, 1, err)
    eq([json.loads(line) for line in out.splitlines()], [
        {"finding": "claimed_no_evidence", "at": "2026-10-15T09:00:00+02:00", "report": int(rep),
         "entry": int(sp3), "entry_id": "SP-3", "log_ref": "fw-9999", "submission": None,
         "item": None, "event_id": None, "severity": None, "personal_data": None,
         "incident": f"INC-{y}-0003", "opened": False, "rule": None,
         "title": "Påstått intrång\x1b[2J",
         "why": "log reference fw-9999 matches no event of skolplattform"},
        {"finding": "unreported_event", "at": "2026-10-09T12:00:00+02:00", "report": None,
         "entry": None, "entry_id": None, "log_ref": None, "submission": int(sub),
         "item": int(items["fw-1003"]), "event_id": "fw-1003", "severity": 4,
         "personal_data": False, "incident": None, "opened": False, "rule": None,
         "title": "network block failure", "why": "severity high (4)"},
        {"finding": "unreported_event", "at": "2026-10-20T20:45:00+02:00", "report": None,
         "entry": None, "entry_id": None, "log_ref": None, "submission": int(sub),
         "item": int(items["fw-1004"]), "event_id": "fw-1004", "severity": 5,
         "personal_data": False, "incident": None, "opened": False, "rule": None,
         "title": "network block failure", "why": "severity critical (5)"}],
       "reconcile --json: exact")
    rc, out, err = bevis(db, aud, "reconcile", "--supplier", "skolplattform",
                         "--period", "2026-10", "--csv")
    eq((rc, out.split("\r\n")[0]),
       (1, "finding,at,report,entry,entry_id,log_ref,submission,item,event_id,severity,"
           "personal_data,incident,opened,rule,title,why"), "reconcile --csv: the header")
    eq(len(out.split("\r\n")), 5, "--csv: 3 rows")
    rc, out, err = bevis(db, aud, "reconcile", "--supplier", "skolplattform",
                         "--period", "2026-10", "--min-severity", "low", "--json")
    eq([json.loads(line)["event_id"] for line in out.splitlines()][1:],
       ["fw-1003", "fw-1005", "fw-1004"], "--min-severity low: fw-1005 too")
    # The same from the config's [quality] reconcile_min_severity.
    conf = os.path.join(s.keys.dir, "reconcile.conf")
    with open(conf, "w") as f:
        f.write("[quality]\nreconcile_min_severity = low\n")
    rc, out, err = bevis(db, aud, "reconcile", "--supplier", "skolplattform",
                         "--period", "2026-10", "--json", config=conf)
    eq([json.loads(line)["event_id"] for line in out.splitlines()][1:],
       ["fw-1003", "fw-1005", "fw-1004"], "reconcile_min_severity = low: fw-1005 too")
    with open(conf, "w") as f:
        f.write("[quality]\nreconcile_min_severity = huge\n")
    rc, out, err = bevis(db, aud, "reconcile", "--supplier", "skolplattform",
                         "--period", "2026-10", config=conf)
    eq((rc, err), (2, "bevis reconcile: [quality] reconcile_min_severity: 'huge' is not a "
                      "severity (informational, low, medium, high, critical, fatal)\n"),
       "a bad reconcile_min_severity")

    # Errors: exit 2, nothing opened.
    for args, msg in (
            (["--supplier", "nobody", "--period", "2026-10"],
             "bevis reconcile: no supplier nobody\n  hint: bevis supplier list shows the "
             "suppliers.\n"),
            (["--supplier", "skolplattform", "--period", "2026-13"],
             "bevis reconcile: --period: '2026-13' is not a month like 2026-10\n"),
            (["--supplier", "skolplattform", "--period", "2026-10", "--min-severity", "huge"],
             "bevis reconcile: --min-severity: 'huge' is not a whole number, or a name "
             "(informational, low, medium, high, critical, fatal)\n")):
        eq(bevis(db, aud, "reconcile", *args), (2, "", msg), f"reconcile {args}")
    eq(bevis(db, aud, "reconcile", "--period", "2026-10")[0], 2, "--supplier is required")
    rc, out, err = bevis(db, aud, "reconcile", "--supplier", "skolplattform",
                         "--period", "2026-10", "--open")
    eq(rc, 2, "the auditor may not --open")
    check("reconcile needs a login in role bevis_isam" in err, err)
    eq(db.value("SELECT count(*) FROM incident"), "3", "nothing opened by the auditor")

    # --open: an incident for each unreported event, linked to it. Two at
    # once: they take turns, and the second finds the events covered.
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: bevis(db, isam, "reconcile", "--supplier",
                                             "skolplattform", "--period", "2026-10",
                                             "--open"), range(2)))
    runs.sort(key=lambda r: "opened no incident" in r[2])
    eq([(r[0], r[2].splitlines()[1]) for r in runs][1],
       (1, "opened no incident: no unreported event is left without one"),
       "the --open that came second")
    eq([(c[0], c[3]) for c in cells(runs[1][1])[1:]], [("claimed_no_evidence", f"INC-{y}-0003")],
       "the second --open: only the claimed entry is left")
    rc, out, err = runs[0]
    eq(rc, 1, err)
    eq([(c[0], c[3]) for c in cells(out)[1:]],
       [("claimed_no_evidence", f"INC-{y}-0003"),
        ("unreported_event", f"INC-{y}-0004 (opened)"),
        ("unreported_event", f"INC-{y}-0005 (opened)")],
       "--open: the findings, and what it opened")
    eq(err.splitlines()[1], f"opened 2 potential incidents: INC-{y}-0004, INC-{y}-0005",
       "--open: the incidents opened")
    eq(db.sql("SELECT i.ref, i.title, i.status, sp.name, i.opened_by, i.description, "
              "  d.rationale, d.actor, "
              "  (SELECT string_agg(e.source_event_id, ',') FROM incident_link_current l "
              "     JOIN event e ON e.submission_id = l.event_submission_id "
              "                 AND e.item_no = l.event_item_no WHERE l.incident_id = i.id) "
              "FROM incident i JOIN supplier sp ON sp.id = i.supplier_id "
              "JOIN decision d ON d.incident_id = i.id AND d.kind = 'open' "
              "WHERE i.id > 3 ORDER BY i.id"),
       [[f"INC-{y}-0004", "skolplattform event fw-1003, not in its report for 2026-10", "new",
         "skolplattform", isam,
         "Seen in the logs of skolplattform, not in its report for 2026-10: event fw-1003 at "
         "2026-10-09 12:00 CEST, severity high (4), network block failure.",
         "Seen in the logs of skolplattform, not in its report for 2026-10: event fw-1003 at "
         "2026-10-09 12:00 CEST, severity high (4), network block failure.", isam, "fw-1003"],
        [f"INC-{y}-0005", "skolplattform event fw-1004, not in its report for 2026-10", "new",
         "skolplattform", isam,
         "Seen in the logs of skolplattform, not in its report for 2026-10: event fw-1004 at "
         "2026-10-20 20:45 CEST, severity critical (5), network block failure.",
         "Seen in the logs of skolplattform, not in its report for 2026-10: event fw-1004 at "
         "2026-10-20 20:45 CEST, severity critical (5), network block failure.", isam,
         "fw-1004"]],
       "the opened incidents: title, supplier, the finding as description and rationale, "
       "the event linked, the ISAM as actor")

    # A second --open opens none; only the claimed entry is left.
    rc, out, err = bevis(db, isam, "reconcile", "--supplier", "skolplattform",
                         "--period", "2026-10", "--open")
    eq((rc, len(out.splitlines()), err.splitlines()[1]),
       (1, 2, "opened no incident: no unreported event is left without one"),
       "a second --open")
    eq(db.value("SELECT count(*) FROM incident"), "5", "no third incident")
    rc, out, err = bevis(db, aud, "reconcile", "--supplier", "skolplattform",
                         "--period", "2026-10", "--json")
    eq((rc, [(f["finding"], f["entry_id"]) for f in map(json.loads, out.splitlines())]),
       (1, [("claimed_no_evidence", "SP-3")]), "after --open: the claimed entry alone")
    check("0 unreported events" in err, err)

    # November: no report, the unreported event still listed; exit 1.
    rc, out, err = bevis(db, aud, "reconcile", "--supplier", "skolplattform",
                         "--period", "2026-11", "--json")
    eq((rc, [(f["finding"], f["event_id"]) for f in map(json.loads, out.splitlines())], err),
       (1, [("unreported_event", "fw-1006")],
        "skolplattform 2026-11: no report from skolplattform for this month (bevis reports "
        "lists those that came); 1 event in the month: 0 claimed with no evidence, "
        "1 unreported event, 0 unmentioned rule incidents\n"), "no report")


def test_reconcile_nothing_to_follow_up_exits_0(cluster):
    s = Setup(cluster)
    try:
        send_events(s)
        r = s.send("skolplattform", ct("supplier", "2026-11", fmt="json"),
                   json.dumps({"entries": [{"id": "SP-9", "title": "Blockerad trafik",
                                            "log_ref": " FW-1006 "}]}).encode())
        eq(r["status"], "ok", json.dumps(r)[:300])
    finally:
        s.stop()
    aud = login(s.db, "bevis_auditor")
    rc, out, err = bevis(s.db, aud, "reconcile", "--supplier", "skolplattform",
                         "--period", "2026-11")
    eq((rc, out.splitlines()), (0, ["FINDING  AT  ABOUT  INCIDENT  TITLE  WHY"]),
       "every entry evidenced, every event reported")
    check(err.endswith("1 event in the month: 0 claimed with no evidence, 0 unreported "
                       "events, 0 unmentioned rule incidents\n"), err)
