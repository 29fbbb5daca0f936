"""Issue 13, reports: monthly reports over REPORT (CSV and JSON), column
maps, versions, entries that open potential incidents, and bad input that
stores nothing. The daemon logs in as an ingest login, so the machine's
decisions carry its name."""
import copy
import hashlib
import json
import os
import time
import uuid

from bevistest import ROOT, Daemon, check, eq
from test_curve import Keys, curve_client
from test_ledger import keygen, verify, wait_for_head

DATA = os.path.join(ROOT, "tests", "data", "reports")

SERVICEDESK_MAP = """
[report_map servicedesk]
id = Ärende-ID | Ärendenummer
occurred_at = Datum
title = Rubrik
description = Beskrivning
category = Kategori
severity = Allvarlighetsgrad
personal_data = Personuppgifter
"""


def read(name):
    with open(os.path.join(DATA, name), "rb") as f:
        return f.read()


def ct(kind, period, fmt="csv", charset=None, title="Oktober", author="Åsa Ek"):
    s = "text/csv" if fmt == "csv" else "application/json"
    if charset:
        s += f"; charset={charset}"
    s += f'; kind={kind}; period={period}; title="{title}"; author="{author}"'
    return s.encode()


class Setup:
    """A database, an ingest login for bevisd, the servicedesk and a
    supplier with CURVE keys, and bevisd with the servicedesk's map."""

    def __init__(self, cluster):
        self.db = cluster.new_database(suppliers=())
        self.login = f"{self.db.name}_ingest_{uuid.uuid4().hex[:8]}"
        self.db.sql(f'CREATE ROLE "{self.login}" LOGIN IN ROLE bevis_ingest')
        self.keys = Keys()
        self.keys.supplier(self.db, "servicedesk")
        self.keys.supplier(self.db, "skolplattform")
        as_ingest = copy.copy(self.db)
        as_ingest.conninfo = self.db.conninfo.replace("user=postgres", f"user={self.login}")
        self.ledger_key, self.ledger_pub = keygen(self.keys.dir)
        self.d = Daemon(as_ingest, curve_secret_key=self.keys.server_key,
                        ledger_key=self.ledger_key)
        self.d.stop()
        with open(self.d.conf, "a") as f:
            f.write(SERVICEDESK_MAP)
        self.d.start()
        self.clients = {}

    def send(self, source, ctype, body, rid=None):
        if source not in self.clients:
            self.clients[source] = curve_client(self.d, self.keys, source)
        return self.clients[source].request(b"REPORT", ctype, body, rid=rid, timeout=120)

    def counts(self):
        return {t: self.db.count(t) for t in ("submission", "report", "report_entry",
                                              "incident", "decision", "quarantine")}

    def stop(self):
        for c in self.clients.values():
            c.close()
        eq(self.d.stop(), 0, "bevisd exit code")


def test_sample_month(cluster):
    s = Setup(cluster)
    try:
        sd = read("servicedesk-2026-10.cp1252.csv")
        r = s.send("servicedesk", ct("servicedesk", "2026-10", charset="windows-1252"), sd)
        check(r["status"] == "ok", json.dumps(r)[:600])
        eq((r["status"], r["source"], r["kind"], r["period"], r["version"], r["duplicate"],
            r["entries"], r["new"], r["changed"], r["unchanged"], r["removed"],
            r["quarantined"], r["accepted"]),
           ("ok", "servicedesk", "servicedesk", "2026-10", 1, False, 20, 20, 0, 0, 0, 0, 20),
           "first report: " + json.dumps(r)[:400])
        year = s.db.value("SELECT extract(year FROM now() AT TIME ZONE 'Europe/Stockholm')")
        eq(r["incidents"], [f"INC-{year}-{n:04d}" for n in range(1, 21)], "incidents opened")
        eq([o["id"] for o in r["outcomes"]], [f"SD-2026-{n}" for n in range(1001, 1021)],
           "entry ids")
        # The body as sent, each entry's bytes in it, the text converted.
        eq(s.db.value("SELECT encode(sha256(body), 'hex') FROM submission"),
           hashlib.sha256(sd).hexdigest(), "raw body stored as sent")
        eq(s.db.value("SELECT count(*) FROM report_entry_view "
                      "WHERE convert_from(raw, 'WIN1252') LIKE entry_id || ';%'"),
           "20", "every entry points at its own record")
        eq(s.db.sql("SELECT entry_id, line, title, personal_data, attrs ->> 'Skola', "
                    "to_char(occurred_at AT TIME ZONE 'Europe/Stockholm', 'YYYY-MM-DD HH24:MI') "
                    "FROM report_entry WHERE entry_id IN ('SD-2026-1003', 'SD-2026-1004', "
                    "'SD-2026-1007') ORDER BY entry_id"),
           [["SD-2026-1003", "4", "Phishing-mejl till personal", "yes", "Centralt",
             "2026-10-02 13:45"],
            ["SD-2026-1004", "6", "Fel mottagare av åtgärdsprogram", "yes",
             "Tallåsens skola", "2026-10-03 09:00"],
            ["SD-2026-1007", "9", "USB-minne hittat i personalrum", "unknown",
             "Tallåsens skola", "2026-10-07 10:15"]], "entries")
        eq(s.db.value("SELECT replace(description, E'\\n', '<LF>') FROM report_entry "
                      "WHERE entry_id = 'SD-2026-1017'"),
           "Kurator skickade utredning; med personnummer;<LF>okrypterat till extern mottagare.",
           "a quoted field with ';' and a line break")
        # Each entry's incident: new, linked to it, opened by bevisd's login.
        eq(s.db.sql("SELECT count(*), count(DISTINCT i.id), min(i.status), max(i.status), "
                    "min(i.opened_by), max(i.opened_by) FROM report_entry_view e "
                    "JOIN incident i ON i.id = e.incident_id"),
           [["20", "20", "new", "new", s.login, s.login]], "incidents of the entries")
        eq(s.db.sql("SELECT kind, count(*), min(actor), max(actor) FROM decision "
                    "GROUP BY kind ORDER BY kind"),
           [["link", "20", s.login, s.login], ["open", "20", s.login, s.login]],
           "decisions: open and link, by bevisd's login")
        eq(s.db.sql("SELECT i.title, i.personal_data, sp.name FROM incident i "
                    "JOIN supplier sp ON sp.id = i.supplier_id WHERE i.ref = "
                    f"'INC-{year}-0008'"),
           [["Betyg synliga för andra elever", "yes", "servicedesk"]], "an incident")

        # The same bytes again: a duplicate, nothing new but the submission.
        r = s.send("servicedesk", ct("servicedesk", "2026-10", charset="windows-1252"), sd)
        eq((r["status"], r["duplicate"], r["version"], r["report"], r["incidents"],
            r["accepted"], r["duplicate_items"]),
           ("ok", True, 1, 1, [], 0, 20), "resent bytes")
        eq(s.counts(), {"submission": 2, "report": 1, "report_entry": 20, "incident": 20,
                        "decision": 40, "quarantine": 0}, "after the duplicate")

        # The same report as UTF-8 with a BOM: version 2, every entry unchanged.
        r = s.send("servicedesk", ct("servicedesk", "2026-10"),
                   read("servicedesk-2026-10.utf8.csv"))
        eq((r["version"], r["duplicate"], r["new"], r["changed"], r["unchanged"],
            r["removed"], r["incidents"]), (2, False, 0, 0, 20, 0, []), "UTF-8 version")
        eq(s.db.sql("SELECT version, supersedes, charset, title, author FROM report "
                    "ORDER BY version"),
           [["1", "", "windows-1252", "Oktober", "Åsa Ek"], ["2", "1", "utf-8", "Oktober",
                                                             "Åsa Ek"]],
           "version 2 supersedes version 1")
        eq(s.db.value("SELECT count(*) FROM report_entry a JOIN report_entry b "
                      "ON b.previous_id = a.id WHERE b.report_id = 2 AND "
                      "bevis_report_entry_fields(a) = bevis_report_entry_fields(b)"),
           "20", "both encodings read alike")

        # The supplier's JSON report, then its correction.
        v1 = read("supplier-2026-10.json")
        r = s.send("skolplattform", ct("supplier", "2026-10", fmt="json"), v1)
        eq((r["version"], r["new"], r["quarantined"], len(r["incidents"])), (1, 6, 0, 6),
           "supplier report " + json.dumps(r)[:300])
        eq(s.db.value("SELECT i.protected_identity FROM report_entry_view e JOIN incident i "
                      "ON i.id = e.incident_id WHERE e.entry_id = 'SP-305'"), "t",
           "a protected identity restricts the incident")
        eq(s.db.value("SELECT attrs ->> 'ticket_system' FROM report_entry "
                      "WHERE entry_id = 'SP-301'"), "Jira", "unmapped key in attrs")
        v2 = read("supplier-2026-10.v2.json")
        rid = b"supplier-2026-10-v2"
        r = s.send("skolplattform", ct("supplier", "2026-10", fmt="json"), v2, rid=rid)
        want = (2, 1, 2, 3, 1, [f"INC-{year}-0027"])
        eq((r["version"], r["new"], r["changed"], r["unchanged"], r["removed"],
            r["incidents"]), want, "corrected version")
        eq(s.db.sql("SELECT e.entry_id, e.state, array_to_string(e.changed_fields, ',') "
                    "FROM report_entry e JOIN report r ON r.id = e.report_id "
                    "WHERE r.kind = 'supplier' AND r.version = 2 ORDER BY e.entry_id"),
           [["SP-301", "unchanged", ""], ["SP-302", "changed", "actions,status"],
            ["SP-303", "changed", "verdict"], ["SP-304", "removed", ""],
            ["SP-305", "unchanged", ""], ["SP-306", "unchanged", ""],
            ["SP-307", "new", ""]], "entry states")
        eq(s.db.sql("SELECT e.entry_id, d.kind, d.after -> 'fields', d.after ->> 'version', "
                    "d.actor, i.status, d.rationale FROM decision d "
                    "JOIN incident i ON i.id = d.incident_id "
                    "JOIN report_entry_view e ON e.incident_id = i.id AND e.state = 'new' "
                    "WHERE d.kind LIKE 'report_entry_%' ORDER BY e.entry_id"),
           [["SP-302", "report_entry_changed", '["actions", "status"]', "2", s.login, "new",
             "skolplattform changed actions, status in version 2 of its supplier report "
             "of 2026-10"],
            ["SP-303", "report_entry_changed", '["verdict"]', "2", s.login, "new",
             "skolplattform changed verdict in version 2 of its supplier report of 2026-10"],
            ["SP-304", "report_entry_removed", "", "2", s.login, "new",
             "skolplattform removed entry SP-304 in version 2 of its supplier report "
             "of 2026-10"]], "the machine's decisions")
        before = s.counts()
        # The same request id again: answered from what was stored.
        r = s.send("skolplattform", ct("supplier", "2026-10", fmt="json"), v2, rid=rid)
        eq((r.get("replay"), r["version"], r["new"], r["changed"], r["unchanged"],
            r["removed"]), (True, 2, 1, 2, 3, 1), "replayed request id")
        eq(s.counts(), before, "a replay stores nothing")

        # An entry that cannot be read is quarantined; the rest is stored.
        bad = ("Ärendenummer;Datum;Rubrik;Beskrivning;Kategori;Allvarlighetsgrad;"
               "Personuppgifter\r\nN-1;2026-11-02;Okej;d;k;Låg;Nej\r\n"
               "N-2;2 november;Fel datum;d;k;Låg;Nej\r\n").encode("cp1252")
        r = s.send("servicedesk", ct("servicedesk", "2026-11", charset="windows-1252"), bad)
        eq((r["version"], r["entries"], r["new"], r["quarantined"]), (1, 2, 1, 1),
           "a report with a bad entry")
        eq(r["outcomes"][1]["reason"], "line 3, column 2 (Datum): '2 november' is not a "
           "date (YYYY-MM-DD or YYYY-MM-DD HH:MM)", "reason names line and column")
        eq(s.db.sql("SELECT item_no, reason, convert_from(raw, 'WIN1252') FROM "
                    "quarantine_item"),
           [["1", r["outcomes"][1]["reason"], "N-2;2 november;Fel datum;d;k;Låg;Nej"]],
           "quarantine row")
        eq(s.counts(), {"submission": 6, "report": 5, "report_entry": 54, "incident": 28,
                        "decision": 59, "quarantine": 1}, "totals")
        # The auditor's check: 2 supplier keys, 6 submissions, 59 decisions.
        wait_for_head(s.db, 67)
        rc, out, err = verify(s.db, s.ledger_pub)
        eq((rc, err), (0, ""), "bevis verify")
        check(out.startswith("verified: 67 leaves (6 submissions, 0 redacted), 0 events, "),
              out)
    finally:
        s.stop()


def test_bad_reports_store_nothing(cluster):
    s = Setup(cluster)
    try:
        sd = read("servicedesk-2026-10.utf8.csv")
        cases = [
            (ct("servicedesk", "2026-13"), sd, "bad_report_metadata",
             "malformed period '2026-13': the period is a month, YYYY-MM (for example "
             "2026-10)"),
            (b'text/csv; kind=helpdesk; period=2026-10; title=t; author=a', sd,
             "bad_report_metadata", "unknown report kind 'helpdesk': the kind is "
             "servicedesk or supplier"),
            (b'text/csv; kind=servicedesk; period=2026-10; author=a', sd,
             "bad_report_metadata", "the report's title is missing: give it as a "
             "content-type parameter (title=...)"),
            (ct("servicedesk", "2026-10"),
             "SD-1;2026-10-01;Rubrik;Text;Kategori;Hög;Ja\n".encode(), "bad_report",
             "the header lacks the column 'Ärende-ID' or 'Ärendenummer', which "
             "[report_map servicedesk] maps to id"),
            (ct("servicedesk", "2026-10"),
             "Nummer;Datum;Rubrik;Beskrivning;Kategori;Allvarlighetsgrad;Personuppgifter\n"
             "1;2026-10-01;a;b;c;d;Ja\n".encode(), "bad_report",
             "the header lacks the column 'Ärende-ID' or 'Ärendenummer', which "
             "[report_map servicedesk] maps to id"),
            (ct("servicedesk", "2026-10"), b"", "bad_report",
             "the report is empty: it has no header row"),
            (ct("servicedesk", "2026-10"), read("servicedesk-2026-10.cp1252.csv"),
             "bad_charset", "byte 0xc4 at line 1, column 1 is not valid UTF-8"),
            (ct("supplier", "2026-10", fmt="json"), b'{"rows": []}', "bad_report",
             'a JSON report is an object with an "entries" array'),
        ]
        for ctype, body, code, msg in cases:
            r = s.send("servicedesk", ctype, body)
            eq((r["status"], r["error"], r["message"]), ("error", code, msg),
               f"refused: {ctype!r}")
        eq(s.counts(), {"submission": 0, "report": 0, "report_entry": 0, "incident": 0,
                        "decision": 0, "quarantine": 0}, "nothing stored")
    finally:
        s.stop()


def test_a_100000_entry_report_is_one_transaction(cluster):
    """max_items (100000 by default) entries: stored in one transaction, the
    report with every entry and incident, or refused whole. One more entry
    is refused before the database."""
    import time
    s = Setup(cluster)
    try:
        head = "Ärende-ID;Datum;Rubrik;Beskrivning;Kategori;Allvarlighetsgrad;Personuppgifter\n"
        rows = "".join(f"B-{i};2026-10-{1 + i % 28:02d} 12:00;Händelse {i};Text;Övrigt;Låg;Nej\n"
                       for i in range(100000))
        body = (head + rows).encode()
        r = s.send("servicedesk", ct("servicedesk", "2026-09"),
                   body + "B-x;2026-10-01;x;x;x;x;Nej\n".encode())
        eq((r["status"], r["error"], r["message"]),
           ("error", "too_many_items", "the report has more than 100000 entries (max_items)"),
           "one entry over max_items")
        t0 = time.time()
        r = s.send("servicedesk", ct("servicedesk", "2026-09"), body)
        took = time.time() - t0
        c = s.counts()
        if r["status"] == "ok":
            eq((r["new"], len(r["incidents"]), c["report_entry"], c["incident"],
                c["decision"]), (100000, 100000, 100000, 100000, 200000), "stored whole")
        else:
            eq((r["error"], r["message"]), ("too_large", "the report's 100000 entries could "
               "not be stored within db_statement_timeout; nothing was stored: send it in "
               "smaller parts, or raise db_statement_timeout"), "refused whole")
            eq(c, {"submission": 0, "report": 0, "report_entry": 0, "incident": 0,
                   "decision": 0, "quarantine": 0}, "nothing stored")
        print(f"  100000 entries: {r['status']} in {took:.1f} s")
    finally:
        s.stop()


def test_report_map_config_errors(cluster):
    """A map that names an unknown entry field is a config error at bevisd -n,
    naming the line; the shipped map loads."""
    import subprocess
    import tempfile
    from bevistest import BEVISD
    path = os.path.join(tempfile.mkdtemp(prefix="bevis-map-"), "bevisd.conf")
    with open(path, "w") as f:
        f.write("[bevisd]\nallow_plaintext = yes\n\n[report_map servicedesk]\n"
                "id = Ärende-ID | Ärendenummer\nskola = Skola\n")
    out = subprocess.run([BEVISD, "-n", "-c", path], capture_output=True, text=True)
    eq((out.returncode, out.stderr),
       (1, f"{path}:6: [report_map servicedesk]: 'skola' is not a report entry field (id, "
           "occurred_at, detected_at, reported_at, title, description, system, unit, "
           "category, cia_impact, severity, personal_data, protected_identity, verdict, "
           "status, actions, log_ref)\n"), "unknown field")
    with open(path, "w") as f:
        f.write("[report_map servicedesk]\ntitle = Rubrik ||\n")
    out = subprocess.run([BEVISD, "-n", "-c", path], capture_output=True, text=True)
    eq((out.returncode, out.stderr),
       (1, f"{path}:2: [report_map servicedesk]: title: an empty column name\n"), "empty column")
    out = subprocess.run([BEVISD, "-n", "-c", os.path.join(ROOT, "conf", "bevisd.conf")],
                         capture_output=True, text=True)
    eq((out.returncode, out.stdout), (0, "configuration OK\n"), "the shipped map")


def test_a_report_is_not_spooled(cluster):
    """While PostgreSQL is away a report is answered busy, not spooled; sent
    again under the same request id once it is back, it is stored once."""
    from bevistest import own_cluster
    with own_cluster() as c:
        s = Setup(c)
        try:
            body = read("supplier-2026-10.json")
            c.pg_stop()
            r = s.send("skolplattform", ct("supplier", "2026-10", fmt="json"), body,
                       rid=b"rep-down")
            eq((r["status"], r["message"]),
               ("busy", "the database is unreachable and bevisd does not spool reports; "
                "resend this report with the same request id later"), "while down")
            check(not [f for f in os.listdir(s.d.spool_dir) if f.endswith(".spool") and
                       os.path.getsize(os.path.join(s.d.spool_dir, f)) > 0]
                  if os.path.isdir(s.d.spool_dir) else True, "nothing spooled")
            c.pg_start()
            # As a client does: resend under the same id while the answer is
            # busy (bevisd notices the database is back within seconds).
            deadline = time.monotonic() + 60
            while True:
                r = s.send("skolplattform", ct("supplier", "2026-10", fmt="json"), body,
                           rid=b"rep-down")
                if r["status"] != "busy" or time.monotonic() > deadline:
                    break
                time.sleep(r.get("retry_after_ms", 1000) / 1000 / 5)
            eq((r["status"], r["version"], r["new"]), ("ok", 1, 6), "once it is back")
            eq(s.counts(), {"submission": 1, "report": 1, "report_entry": 6, "incident": 6,
                            "decision": 12, "quarantine": 0}, "stored once")
        finally:
            s.stop()


def test_personal_identity_numbers_in_entries(cluster):
    """Issue 14 item 7 over reports: numbers in an entry's fields are stored
    masked, counted in attrs.pnr_count and make personal_data yes (over the
    reporter's Nej, with a note); the raw body keeps them; the incident
    carries personal_data yes; a resend in other bytes is unchanged."""
    from test_incidents import ok
    from test_roles import login
    s = Setup(cluster)
    try:
        head = "Ärende-ID;Datum;Rubrik;Beskrivning;Kategori;Allvarlighetsgrad;Personuppgifter\r\n"
        p1 = ('P-1;2026-11-03;Elevlista 121212-1212;"Lista med 19811218-9876 och\r\n'
              '701063-2391 mejlades";Dataläcka;Hög;Nej\r\n')
        p2 = "P-2;2026-11-04;Inget nummer;ring 070-123 45 67;Övrigt;Låg;\r\n"
        body = (head + p1 + p2).encode()
        r = s.send("servicedesk", ct("servicedesk", "2026-11"), body)
        eq((r["status"], r["version"], r["new"], r["quarantined"]), ("ok", 1, 2, 0),
           "report with numbers: " + json.dumps(r)[:400])
        eq(s.db.sql("SELECT entry_id, title, replace(description, E'\\r\\n', '<CRLF>'), "
                    "personal_data, attrs ->> 'pnr_count', attrs -> 'parse_warnings' "
                    "FROM report_entry ORDER BY entry_id"),
           [["P-1", "Elevlista 121212-XXXX",
             "Lista med 811218-XXXX och<CRLF>701063-XXXX mejlades", "yes", "3",
             '["personal_data: the report says no, but the entry holds 3 personal '
             'identity numbers; stored as yes"]'],
            ["P-2", "Inget nummer", "ring 070-123 45 67", "unknown", "", ""]],
           "masked fields, pnr_count, personal_data")
        raw = s.db.value("SELECT replace(replace(convert_from(raw, 'UTF8'), E'\\r', '<CR>'), "
                         "E'\\n', '<LF>') FROM report_entry_view WHERE entry_id = 'P-1'")
        check(raw.startswith("P-1;") and "19811218-9876 och<CR><LF>701063-2391" in raw
              and "121212-1212" in raw, "the raw slice keeps the numbers as sent: " + raw)
        eq(s.db.value("SELECT count(*) FROM submission WHERE position("
                      "'19811218-9876'::bytea IN body) > 0"), "1", "raw body as sent")
        eq(s.db.value("SELECT count(*) FROM report_entry WHERE "
                      "bevis_report_entry_fields(report_entry)::text ~ "
                      "'1212-1212|9876|2391'"), "0", "no number stored in clear")
        eq(s.db.sql("SELECT i.personal_data, i.title, position('19811218' IN i.description), "
                    "position('811218-XXXX' IN i.description) > 0 FROM report_entry_view e "
                    "JOIN incident i ON i.id = e.incident_id ORDER BY e.entry_id"),
           [["yes", "Elevlista 121212-XXXX", "0", "t"],
            ["unknown", "Inget nummer", "0", "f"]], "the incidents")
        isam = login(s.db, "bevis_isam")
        out = ok(s.db, isam, "report", "show", "1")
        check("Elevlista 121212-XXXX" in out and "1212-1212" not in out,
              "report show masks: " + out)
        out = ok(s.db, isam, "show", r["incidents"][0])
        check("811218-XXXX" in out and "19811218" not in out and "2391" not in out,
              "bevis show masks the incident's description: " + out)

        # Other bytes, same entries (LF line ends, a third entry): version 2,
        # the entries with numbers unchanged since both sides are masked.
        p3 = "P-3;2026-11-05;Tredje;Elev 8112189876;Övrigt;Låg;Ja\n"
        body2 = (head + p1 + p2).replace("\r\n", "\n").replace(
            "och\n701063", "och\r\n701063").encode() + p3.encode()
        r = s.send("servicedesk", ct("servicedesk", "2026-11"), body2)
        eq((r["version"], r["new"], r["changed"], r["unchanged"], r["removed"]),
           (2, 1, 0, 2, 0), "version 2: " + json.dumps(r)[:400])
        eq(s.db.sql("SELECT e.entry_id, e.state, e.description, e.personal_data, "
                    "e.attrs ->> 'pnr_count', e.attrs ? 'parse_warnings' FROM report_entry e "
                    "JOIN report r ON r.id = e.report_id WHERE r.version = 2 "
                    "AND e.entry_id = 'P-3'"),
           [["P-3", "new", "Elev 811218-XXXX", "yes", "1", "f"]], "a Ja with a number")
    finally:
        s.stop()
