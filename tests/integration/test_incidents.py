"""Incidents against a real bevisd: a decision taken with no supplier traffic
is covered by a signed tree head within checkpoint_interval, because every
ledger append NOTIFYs bevis_ledger and bevisd LISTENs."""
import tempfile
import time

from bevistest import Client, Daemon, check, eq, event, ndjson
from test_ledger import keygen


def ledger_size(db):
    return int(db.value("SELECT coalesce(max(idx) + 1, 0) FROM ledger_leaf"))


def head_size(db):
    return int(db.value("SELECT coalesce(max(tree_size), 0) FROM tree_head"))


def wait_head(db, size, seconds):
    t0 = time.time()
    while time.time() - t0 < seconds:
        if head_size(db) >= size:
            return time.time() - t0
        time.sleep(0.05)
    raise AssertionError(f"no signed head covers {size} leaves after {seconds} s "
                         f"(newest: {head_size(db)})")


def test_a_decision_without_traffic_gets_a_signed_head(cluster):
    key, _pub = keygen(tempfile.mkdtemp(prefix="bevis-key-"))
    db = cluster.new_database()
    d = Daemon(db, ledger_key=key, checkpoint_interval=1)
    try:
        eq(Client(d.endpoint).events(ndjson([event(1)]))["status"], "ok", "send")
        wait_head(db, 1, 10)
        # Nothing from suppliers from here on: only decisions.
        ref = db.value("SELECT bevis_incident_open('{\"title\": \"Phishing\"}', "
                       "'[{\"event\": \"demo:ev-0000001\"}]')")
        size = ledger_size(db)
        eq(size, 3, "ledger: a submission, the open decision and the link")
        took = wait_head(db, size, 5)
        print(f"  incidents: head over {size} leaves signed {took:.2f} s after the decision")
        db.value(f"SELECT bevis_incident_decide('{ref}', "
                 "'{\"status\": \"assessing\"}', NULL)")
        wait_head(db, size + 1, 5)
        # A rolled-back decision appends nothing and wakes nothing.
        db.sql(f"BEGIN; SELECT bevis_incident_decide('{ref}', "
               "'{\"status\": \"confirmed\"}', NULL); ROLLBACK")
        eq(ledger_size(db), size + 1, "ledger after a rollback")
    finally:
        eq(d.stop(), 0, "bevisd exit code")


def test_a_restarted_bevisd_signs_what_grew_while_it_was_down(cluster):
    key, _pub = keygen(tempfile.mkdtemp(prefix="bevis-key-"))
    db = cluster.new_database()
    d = Daemon(db, ledger_key=key, checkpoint_interval=1)
    eq(Client(d.endpoint).events(ndjson([event(1)]))["status"], "ok", "send")
    wait_head(db, 1, 10)
    eq(d.stop(), 0, "bevisd exit code")
    db.value("SELECT bevis_incident_open('{\"title\": \"while bevisd was down\"}')")
    check(head_size(db) < ledger_size(db), "the decision is not yet covered")
    d = Daemon(db, ledger_key=key, checkpoint_interval=1)
    try:
        wait_head(db, ledger_size(db), 5)
    finally:
        eq(d.stop(), 0, "bevisd exit code")


# ---- the incident CLI, as an ISAM would use it (issue 11, the CLI half) ------
#
# Every command runs as a real login in bevis_isam (or bevis_auditor, or
# bevis_protected), against a real bevisd's events, with the default
# timezone Europe/Stockholm.

import csv
import re
import io
import json

from bevistest import run_bevis
from test_roles import conninfo_as, login


def setup(cluster, n=6):
    """A database with n events from demo (ev-0000001..) through bevisd,
    and logins in bevis_isam and bevis_auditor."""
    db = cluster.new_database()
    d = Daemon(db)
    try:
        eq(Client(d.endpoint).events(ndjson([event(i) for i in range(1, n + 1)]))
           ["status"], "ok", "send")
    finally:
        eq(d.stop(), 0, "bevisd exit code")
    return db, login(db, "bevis_isam"), login(db, "bevis_auditor")


def bevis(db, user, *args, config=None):
    extra = ["-c", config] if config else []
    out = run_bevis(db, *extra, "--db", conninfo_as(db, user), *args)
    return out.returncode, out.stdout.decode(), out.stderr.decode()


def ok(db, user, *args):
    rc, out, err = bevis(db, user, *args)
    eq(rc, 0, f"bevis {' '.join(args)}: {err}")
    return out


def fails(db, user, args, rc_want, message):
    """The command fails with message and changes nothing."""
    before = db.value("SELECT count(*) FROM decision")
    rc, out, err = bevis(db, user, *args)
    eq(rc, rc_want, f"bevis {' '.join(args)}: exit code ({out}{err})")
    check(message in err, f"bevis {' '.join(args)}: want {message!r}, got {err!r}")
    eq(db.value("SELECT count(*) FROM decision"), before, "decisions after a refusal")
    return err


def shown(db, user, ref):
    return json.loads(ok(db, user, "show", ref, "--json"))


def year(db):
    return db.value("SELECT to_char(now() AT TIME ZONE 'Europe/Stockholm', 'YYYY')")


def local(db, sql_interval):
    """now() - interval, as local Stockholm time without an offset."""
    return db.value(f"SELECT to_char((now() - interval '{sql_interval}') AT TIME ZONE "
                    "'Europe/Stockholm', 'YYYY-MM-DD HH24:MI')")


def test_cli_whole_flow_as_isam(cluster):
    db, isam, _aud = setup(cluster)
    y = year(db)
    a, b = f"INC-{y}-0001", f"INC-{y}-0002"

    # Open from events: only the reference on stdout.
    out = ok(db, isam, "incident", "new", "--title", "Phishing mail to staff",
             "--supplier", "demo", "--event", "demo:ev-0000001",
             "--event", "demo:ev-0000002", "--aware-at", local(db, "2 hours"))
    eq(out, a + "\n", "incident new prints the reference alone")
    s = shown(db, isam, a)
    eq((s["status"], s["title"], s["supplier"], s["opened_by"], s["restricted"]),
       ("new", "Phishing mail to staff", "demo", isam, False), "show after new")
    eq([l["target"] for l in s["links"]], ["demo:ev-0000001", "demo:ev-0000002"], "links")
    eq([(d["seq"], d["kind"], d["actor"]) for d in s["decisions"]],
       [(1, "open", isam), (2, "link", isam), (3, "link", isam)], "decisions")
    eq(s["decisions"][1]["after"], {"link": {"event": {
        "supplier": "demo", "id": "ev-0000001", "submission": 1, "item": 0}}}, "link decision")
    eq(sorted(d["kind"] for d in s["deadlines"]), ["imy", "triage"], "deadlines open")
    text = ok(db, isam, "show", a)
    check(text.startswith(f"{a}  new\n"), text)
    check("title:               Phishing mail to staff\n" in text, text)
    check("  event      demo:ev-0000001 (submission 1, item 0)  linked " in text, text)
    check("  1. " in text and f"  {isam}  open\n" in text, text)
    check("h left\n" in text and "  IMY      " in text, text)

    # Triage.
    out = ok(db, isam, "triage", a, "--status", "assessing", "--category", "attack",
             "--cause", "external-attack", "--cia", "disclosure",
             "--personal-data", "yes", "--subject-categories", "pupils,staff",
             "--subjects", "120", "--records", "400")
    eq(out, f"{a}: recorded (decision 4)\n", "triage output")
    s = shown(db, isam, a)
    eq((s["status"], s["category"], s["cause"], s["cia_disclosure"], s["cia_loss"],
        s["personal_data"]), ("assessing", "attack", "external_attack", True, False, "yes"),
       "show after triage")
    eq((s["details"]["subject_categories"], s["details"]["subjects_count"],
        s["details"]["records_count"]), (["pupils", "staff"], 120, 400), "details")
    d4 = s["decisions"][3]
    eq((d4["seq"], d4["kind"], d4["before"]["status"], d4["after"]["status"]),
       (4, "triage", "new", "assessing"), "decision 4")
    text = ok(db, isam, "show", a)
    check('status: "new" -> "assessing"' in text, text)
    check("subjects (approx.):  120\n" in text, text)

    # A second incident; link evidence to the first.
    eq(ok(db, isam, "incident", "new", "--title", "Same wave, other school",
          "--event", "demo:ev-0000003"), b + "\n", "second reference")
    sub = db.value("SELECT submission_id FROM event WHERE source_event_id = 'ev-0000004'")
    eq(ok(db, isam, "link", a, "--submission", sub), f"{a}: linked (1 linked)\n", "link")
    s = shown(db, isam, a)
    eq([l["target"] for l in s["links"]],
       ["demo:ev-0000001", "demo:ev-0000002", sub], "links after link")
    eq(s["decisions"][-1]["kind"], "link", "link decision")

    # Unlink needs a rationale.
    fails(db, isam, ["unlink", a, "--event", "demo:ev-0000002"], 1,
          f"unlinking from {a} needs a rationale")
    eq(ok(db, isam, "unlink", a, "--event", "demo:ev-0000002", "--rationale",
          "a different user"), f"{a}: unlinked (1 unlinked)\n", "unlink")
    s = shown(db, isam, a)
    eq([l["target"] for l in s["links"]], ["demo:ev-0000001", sub], "links after unlink")
    eq((s["decisions"][-1]["kind"], s["decisions"][-1]["rationale"]),
       ("unlink", "a different user"), "unlink decision")

    # Merge: the survivor shows both sets of links, the merged one points to it.
    eq(ok(db, isam, "merge", b, "--into", a, "--rationale", "the same phishing wave"),
       f"{b}: merged (into {a})\n", "merge")
    sb = shown(db, isam, b)
    eq((sb["status"], sb["merged_into_ref"]), ("merged", a), "merged one")
    s = shown(db, isam, a)
    eq([(l["target"], l["via"]) for l in s["links"]],
       [("demo:ev-0000001", None), ("demo:ev-0000003", b), (sub, None)],
       "survivor's links")
    eq((s["decisions"][-1]["kind"], s["decisions"][-1]["after"]),
       ("merged_from", {"merged_from": b}), "merged_from decision")
    check(f"[via {b}, merged into this one]" in ok(db, isam, "show", a), "via shown")
    check(ok(db, isam, "show", b).startswith(f"{b}  merged into {a}\n"), "merged shown")
    row = [l for l in ok(db, isam, "incidents").splitlines() if l.startswith(b)][0]
    check(row.split()[1] == "merged" and
          row.endswith(f"(merged into {a}) Same wave, other school"), row)

    # Unmerge.
    eq(ok(db, isam, "unmerge", b, "--rationale", "a different campaign"),
       f"{b}: unmerged (status assessing)\n", "unmerge")
    eq(shown(db, isam, b)["status"], "assessing", "after unmerge")
    s = shown(db, isam, a)
    eq([l["via"] for l in s["links"]], [None, None], "survivor after unmerge")
    eq(s["decisions"][-1]["kind"], "unmerged_from", "unmerged_from decision")

    # Notify IMY in time: no rationale needed.
    ok(db, isam, "triage", a, "--imy", "required")
    ok(db, isam, "triage", a, "--imy-notified-at", local(db, "1 hour"),
       "--imy-ref", "IMY-2026-0042")
    s = shown(db, isam, a)
    eq((s["imy"], s["imy_ref"], s["details"]["imy_late_reason"]),
       ("notified", "IMY-2026-0042", None), "notified in time")
    check([d for d in s["deadlines"] if d["kind"] == "imy"] == [], "no IMY deadline")

    # Notify late: the reasons for the delay, as Art. 33(1) asks.
    ok(db, isam, "triage", b, "--aware-at", "2026-10-24 10:00", "--personal-data", "yes",
       "--imy", "required")
    fails(db, isam, ["triage", b, "--imy-notified-at", "2026-10-28 10:00",
                     "--imy-ref", "IMY-2026-0043"], 1, "after the 72-hour deadline")
    ok(db, isam, "triage", b, "--imy-notified-at", "2026-10-28 10:00",
       "--imy-ref", "IMY-2026-0043", "--rationale", "the supplier told us a week late")
    sb = shown(db, isam, b)
    eq((sb["imy"], sb["imy_notified_at"], sb["details"]["imy_late_reason"]),
       ("notified", "2026-10-28T10:00:00+01:00", "the supplier told us a week late"),
       "notified late")
    check("  late because:      the supplier told us a week late\n"
          in ok(db, isam, "show", b), "late reason shown")

    # Close.
    ok(db, isam, "triage", a, "--status", "confirmed", "--subjects-informed", "pending")
    ok(db, isam, "triage", a, "--status", "closed")
    s = shown(db, isam, a)
    eq((s["status"], s["subjects"], s["deadlines"]), ("closed", "pending", []), "closed")
    eq(len(s["decisions"]), int(db.value(
        f"SELECT count(*) FROM decision d JOIN incident i ON i.id = d.incident_id "
        f"WHERE i.ref = '{a}'")), "every decision shown")
    check("deadlines:\n  none open\n" in ok(db, isam, "show", a), "no deadlines shown")


def test_cli_incidents_filters_and_the_72_hour_clock(cluster):
    db, isam, _aud = setup(cluster)
    y = year(db)
    x, w, z = f"INC-{y}-0001", f"INC-{y}-0002", f"INC-{y}-0003"
    # The DST example: aware 2026-10-24 10:00 Stockholm; clocks go back on 25 October.
    ok(db, isam, "incident", "new", "--title", "Autumn", "--supplier", "demo",
       "--aware-at", "2026-10-24 10:00", "--event", "demo:ev-0000001")
    ok(db, isam, "triage", x, "--personal-data", "yes")
    # Across the spring change (29 March): 2026-03-28 10:00 CET + 72 h.
    ok(db, isam, "incident", "new", "--title", "Spring", "--aware-at", "2026-03-28 10:00")
    ok(db, isam, "triage", w, "--status", "assessing", "--personal-data", "no")
    ok(db, isam, "incident", "new", "--title", "False alarm")
    ok(db, isam, "triage", z, "--status", "dismissed", "--rationale", "a test mail")

    text = ok(db, isam, "show", x)
    check("  IMY      2026-10-27 09:00 CET  overdue by " in text, text)
    sx = shown(db, isam, x)
    eq([(d["kind"], d["due_at"]) for d in sx["deadlines"] if d["kind"] == "imy"],
       [("imy", "2026-10-27T09:00:00+01:00")], "DST example in JSON")
    # personal_data no: no IMY deadline; show the instant it would have had.
    eq(db.value("SELECT bevis_imy_deadline('2026-03-28 10:00 Europe/Stockholm') "
                "AT TIME ZONE 'Europe/Stockholm'"), "2026-03-31 11:00:00", "spring change")
    ok(db, isam, "triage", w, "--personal-data", "yes")
    check("  IMY      2026-03-31 11:00 CEST  overdue by " in ok(db, isam, "show", w),
          "spring change through the CLI")

    def refs(*args):
        rc, out, err = bevis(db, isam, "incidents", *args)
        eq(rc, 0, err)
        return [line.split()[0] for line in out.splitlines()[1:]]

    eq(refs(), [x, w, z], "all")
    eq(refs("--status", "new"), [x], "--status new")
    eq(refs("--status", "dismissed"), [z], "--status dismissed")
    eq(refs("--supplier", "demo"), [x], "--supplier")
    eq(refs("--personal-data"), [x, w], "--personal-data")
    eq(refs("--overdue"), [x, w], "--overdue")
    eq(refs("--since", "2000-01-01", "--until", "2001-01-01"), [], "--since/--until")
    rc, out, err = bevis(db, isam, "incidents")
    eq(err, "3 incidents, 2 overdue\n", "count line")
    check("2026-10-27 09:00 CET OVERDUE" in out, out)
    rows = list(csv.reader(io.StringIO(ok(db, isam, "incidents", "--csv"))))
    eq(rows[0], ["ref", "status", "opened_at", "supplier", "category", "personal_data",
                 "imy", "deadline", "overdue", "merged_into", "protected_identity",
                 "title"], "CSV header")
    eq([(r[0], r[1], r[7], r[11]) for r in rows[1:]],
       [(x, "new", "2026-10-27T09:00:00+01:00", "Autumn"),
        (w, "assessing", "2026-03-31T11:00:00+02:00", "Spring"),
        (z, "dismissed", "", "False alarm")], "CSV rows")
    lines = [json.loads(l) for l in ok(db, isam, "incidents", "--json").splitlines()]
    eq([(j["ref"], j["overdue"]) for j in lines], [(x, True), (w, True), (z, None)],
       "JSON lines")

    # bevis deadlines: overdue -> 1, listed.
    rc, out, err = bevis(db, isam, "deadlines")
    eq(rc, 1, "deadlines with something overdue")
    check(f"{w}" in out and "2026-03-31 11:00 CEST" in out and "overdue by" in out, out)
    check(f"{x}" in out and "IMY (Art. 33)" in out, out)
    rc, out, err = bevis(db, isam, "deadlines", "--within", "3 days")
    eq((rc, out), (2, ""), "a bad --within")
    check("--within: '3 days' is not a duration" in err, err)
    rc, out, err = bevis(db, isam, "deadlines", "--json")
    eq(rc, 1, "--json exit code")
    eq([(j["ref"], j["kind"], j["overdue"]) for j in map(json.loads, out.splitlines())],
       [(w, "imy", True), (x, "imy", True), (x, "triage", False)], "deadlines --json")

    # Text typed in (or pasted from a supplier's mail) is escaped for a terminal.
    e = f"INC-{y}-0004"
    ok(db, isam, "incident", "new", "--title", "Bell\x07 and \x1b[31mred")
    check("Bell\\x07 and \\x1b[31mred" in ok(db, isam, "incidents"), "escaped in the table")
    check("title:               Bell\\x07 and \\x1b[31mred\n" in ok(db, isam, "show", e),
          "escaped in show")
    eq(shown(db, isam, e)["title"], "Bell\x07 and \x1b[31mred", "exact in --json")


def test_cli_deadlines_exit_codes(cluster):
    db, isam, _aud = setup(cluster)
    y = year(db)
    rc, out, err = bevis(db, isam, "deadlines")
    eq((rc, err), (0, "0 open deadlines, 0 overdue\n"), "nothing due")
    ok(db, isam, "incident", "new", "--title", "Due soon", "--aware-at", local(db, "1 hour"))
    rc, out, err = bevis(db, isam, "deadlines", "--within", "72h")
    eq(rc, 0, "due soon, not overdue")
    lines = out.splitlines()
    eq(len(lines), 2, "header and the IMY deadline: " + out)
    check(lines[1].startswith(f"INC-{y}-0001") and "IMY (Art. 33)" in lines[1]
          and lines[1].rstrip().endswith("left"), lines[1])
    eq(err, "1 open deadline within 72 hours, 0 overdue\n", "count line")
    rc, out, err = bevis(db, isam, "deadlines", "--within", "90m")
    eq((rc, out.splitlines()[1:]), (0, []), "nothing within 90 minutes")
    rc, out, err = bevis(db, isam, "deadlines", "--within", "31d")
    eq((rc, len(out.splitlines())), (0, 3), "IMY and triage within 31 days")
    # triage_within from the config: 1 day still lies ahead.
    conf = tempfile.mktemp(prefix="bevis-conf-")
    with open(conf, "w") as f:
        f.write("[client]\ntriage_within = 1\n")
    rc, out, err = bevis(db, isam, "deadlines", "--within", "2d", config=conf)
    lines = out.splitlines()
    eq((rc, len(lines)), (0, 2), "triage within 1 day: " + out)
    check(" triage " in lines[1] and re.search(r" 23h [0-9]+m left$", lines[1].rstrip()), lines[1])
    with open(conf, "w") as f:
        f.write("[client]\ntimezone = Mars/Olympus\n")
    rc, out, err = bevis(db, isam, "deadlines", config=conf)
    eq(rc, 2, "an unknown timezone")
    check("timezone 'Mars/Olympus'" in err, err)


def test_cli_bad_input_changes_nothing(cluster):
    db, isam, _aud = setup(cluster)
    y = year(db)
    a, b, c = f"INC-{y}-0001", f"INC-{y}-0002", f"INC-{y}-0003"
    for t in ("A", "B", "C"):
        ok(db, isam, "incident", "new", "--title", t)
    ok(db, isam, "merge", b, "--into", a, "--rationale", "duplicate")
    unknown = f"INC-{y}-9999"
    rc, out, err = bevis(db, isam, "show", unknown)
    eq((rc, out), (1, ""), "show unknown")
    check(f"bevis show: no incident {unknown}" in err, err)
    fails(db, isam, ["triage", unknown, "--status", "assessing"], 1,
          f"bevis triage: no incident {unknown}")
    fails(db, isam, ["link", unknown, "--event", "demo:ev-0000001"], 1,
          f"no incident {unknown}")
    fails(db, isam, ["link", a, "--event", "demo:nope"], 1,
          "no event nope from supplier demo")
    fails(db, isam, ["triage", a, "--aware-at", "2026-13-45 10:00"], 1,
          "bevis triage: date/time field value out of range")
    fails(db, isam, ["triage", a, "--category", "phishing"], 1,
          "bevis triage: unknown category phishing")
    fails(db, isam, ["triage", a, "--status", "dismissed"], 1,
          f"bevis triage: dismissing {a} needs a rationale")
    fails(db, isam, ["triage", a, "--imy", "not-required"], 1,
          f"deciding that IMY need not be notified of {a} needs a rationale")
    fails(db, isam, ["triage", a, "--status", "closed"], 1,
          f"{a} cannot go from new to closed")
    fails(db, isam, ["merge", a, "--into", a.lower(), "--rationale", "x"], 1,
          "cannot be merged into itself")
    fails(db, isam, ["merge", c, "--into", b, "--rationale", "x"], 1,
          f"{b} is itself merged into another incident")
    fails(db, isam, ["merge", c, "--into", a], 1, f"merging {c} needs a rationale")
    fails(db, isam, ["triage", a, "--subjects", "-1"], 2, "--subjects: '-1' is not")
    fails(db, isam, ["triage", a, "--cia", "secrecy"], 2, "--cia: 'secrecy' is not")
    fails(db, isam, ["triage", a], 2, "nothing to decide")
    before = db.value("SELECT count(*) FROM incident")
    rc, out, err = bevis(db, isam, "incident", "new", "--title", "T", "--aware-at", "soon")
    eq((rc, out), (1, ""), "a bad time")
    check('invalid input syntax for type timestamp with time zone: "soon"' in err, err)
    eq(db.value("SELECT count(*) FROM incident"), before, "no incident opened")
    eq(db.value("SELECT max(last) FROM incident_counter"), "3", "no number used")


def test_cli_auditor_reads_and_protected_identity(cluster):
    db, isam, aud = setup(cluster)
    prot = login(db, "bevis_isam")
    db.sql(f'GRANT bevis_protected TO "{prot}"')
    y = year(db)
    a, p = f"INC-{y}-0001", f"INC-{y}-0002"
    ok(db, isam, "incident", "new", "--title", "Open to all", "--event", "demo:ev-0000001")
    ok(db, prot, "incident", "new", "--title", "Skyddad elev", "--event", "demo:ev-0000002")
    ok(db, prot, "triage", p, "--protected-identity", "yes")

    # The auditor reads, and may not decide.
    eq([l.split()[0] for l in ok(db, aud, "incidents").splitlines()[1:]], [a, p],
       "auditor lists")
    check(ok(db, aud, "show", a).startswith(f"{a}  new\n"), "auditor shows")
    err = fails(db, aud, ["triage", a, "--status", "assessing"], 1,
                "bevis triage: permission denied for function bevis_incident_decide")
    check("triage needs a login in role bevis_isam" in err, err)
    fails(db, aud, ["incident", "new", "--title", "x"], 1,
          "permission denied for function bevis_incident_open")

    # Outside bevis_protected: reference, status and deadlines, no title.
    for user in (isam, aud):
        out = ok(db, user, "incidents")
        check("Skyddad" not in out and "(restricted to bevis_protected)" in out, out)
        out = ok(db, user, "show", p)
        check("Skyddad" not in out and "ev-0000002" not in out, out)
        check(out.startswith(f"{p}  new\n"), out)
        check("restricted to bevis_protected" in out and "  triage   " in out, out)
        s = shown(db, user, p)
        eq((s["title"], s["restricted"], "links" in s, len(s["deadlines"])),
           (None, True, False, 1), "restricted JSON")
        check("Skyddad" not in ok(db, user, "incidents", "--json"), "JSON list")
    fails(db, isam, ["triage", p, "--status", "assessing"], 1,
          "involves a protected identity")
    # A member sees it all.
    s = shown(db, prot, p)
    eq((s["title"], s["restricted"], [l["target"] for l in s["links"]]),
       ("Skyddad elev", False, ["demo:ev-0000002"]), "member's view")
    check("Skyddad elev" in ok(db, prot, "incidents"), "member's list")
