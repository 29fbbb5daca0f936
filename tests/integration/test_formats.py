"""Issue 14: CEF and syslog (RFC 5424 and 3164) through a real bevisd over
CURVE into PostgreSQL; every sample file under tests/data/ parses, with exact
counts and values; personal identity numbers are masked in the normalized
fields of every format and kept in the raw body; bad lines are quarantined
with the byte or field named."""
import json
import os
import subprocess
import tempfile

from bevistest import BEVISD, ROOT, check, eq, event, ndjson
from test_curve import Keys, curve_client, curve_daemon

CEF = b"application/cef"
SYSLOG = b"text/syslog"
DATA = os.path.join(ROOT, "tests", "data")

# file: (content type, lines, new events): a line seen before, in the file or
# in an earlier one, is a duplicate (its id is the line's SHA-256)
SAMPLES = {
    "cef/azure-sentinel_CitrixADC.txt": (CEF, 6, 6),
    "cef/azure-sentinel_IllumioCore": (CEF, 2, 2),
    "cef/azure-sentinel_RadiflowIsid_RawLogs.txt": (CEF, 36, 36),
    "cef/crowdsec-hub_cef-logs.log": (CEF, 4, 4),
    # its first line is crowdsec-hub_cef-logs.log's first, sent before
    "cef/crowdsec-hub_unifi-cef_cef-logs.log": (CEF, 3, 2),
    "cef/tenzir_checkpoint.log": (CEF, 3, 3),
    "syslog3164/azure-sentinel_Exabeam.txt": (SYSLOG, 2, 2),
    "syslog3164/azure-sentinel_OpenVPN.txt": (SYSLOG, 32, 32),
    "syslog3164/crowdsec-hub_iptables-logs.log": (SYSLOG, 4, 4),
    # the same line repeated is the same event (its id is the line's SHA-256)
    "syslog5424/crowdsec-hub_charon-ipsec-logs_mixed5424-3164.log": (SYSLOG, 154, 72),
    "syslog5424/crowdsec-hub_opnsense-sshd.log": (SYSLOG, 10, 10),
    "syslog5424/crowdsec-hub_pf-logs_mixed3164-5424.log": (SYSLOG, 9, 9),
    "syslog5424/crowdsec-hub_pfsense-rfc5424-filterlog.log": (SYSLOG, 4, 4),
    "syslog5424/crowdsec-hub_pfsense-rfc5424-nginx.log": (SYSLOG, 1, 1),
}

# (file, item_no, column expression, value): a few exact fields per file.
# 3164 times have no year: they are checked without it.
FIELDS = [
    ("cef/azure-sentinel_CitrixADC.txt", 0, "severity", "3"),
    ("cef/azure-sentinel_CitrixADC.txt", 0, "attrs->>'device_vendor'", "Citrix"),
    ("cef/azure-sentinel_IllumioCore", 0, "occurred_at", "2022-05-11 07:11:59.9+00"),
    ("cef/azure-sentinel_IllumioCore", 0, "message", "User Login Success"),
    ("cef/azure-sentinel_IllumioCore", 0, "category", "audit_events"),
    ("cef/azure-sentinel_RadiflowIsid_RawLogs.txt", 0, "host(src_ip)", "172.16.2.41"),
    ("cef/azure-sentinel_RadiflowIsid_RawLogs.txt", 0, "severity", "3"),
    ("cef/azure-sentinel_RadiflowIsid_RawLogs.txt", 0, "attrs->>'hostname'",
     "radiflow-labs-isid"),
    ("cef/azure-sentinel_RadiflowIsid_RawLogs.txt", 0, "attrs->>'DstName'", "172.16.8.17 - 0"),
    ("cef/azure-sentinel_RadiflowIsid_RawLogs.txt", 0,
     "to_char(occurred_at AT TIME ZONE 'UTC', 'MM-DD HH24:MI:SS')", "05-18 14:02:00"),
    ("cef/crowdsec-hub_cef-logs.log", 1, "attrs->'parse_warnings'->>0", "space after 'CEF:'"),
    ("cef/crowdsec-hub_cef-logs.log", 2, "attrs->'parse_warnings'->>0",
     "no 'CEF:' before the version"),
    ("cef/crowdsec-hub_cef-logs.log", 3, "severity", "5"),
    ("cef/crowdsec-hub_cef-logs.log", 3, "target", "192.168.1.100"),
    ("cef/crowdsec-hub_unifi-cef_cef-logs.log", 1, "attrs->>'device_product'", "UniFi Network"),
    ("cef/tenzir_checkpoint.log", 0, "occurred_at", "2018-11-26 22:17:32+00"),
    ("cef/tenzir_checkpoint.log", 0, "action", "Accept"),
    ("cef/tenzir_checkpoint.log", 0, "attrs->>'originsicname'", "CN=R80,O=R80_M..6u6bdo"),
    ("cef/tenzir_checkpoint.log", 0, "attrs->>'Matched Category'", "Business / Economy"),
    ("cef/tenzir_checkpoint.log", 0, "severity", "0"),
    ("syslog3164/azure-sentinel_Exabeam.txt", 0, "severity", "2"),
    ("syslog3164/azure-sentinel_Exabeam.txt", 0, "attrs->>'timestamp'", "May 06 12:31:17"),
    ("syslog3164/azure-sentinel_Exabeam.txt", 0,
     "to_char(occurred_at AT TIME ZONE 'UTC', 'MM-DD HH24:MI:SS')", "05-06 10:31:17"),
    ("syslog3164/azure-sentinel_OpenVPN.txt", 1, "attrs->>'app_name'", "openvpn"),
    ("syslog3164/azure-sentinel_OpenVPN.txt", 1, "attrs->>'procid'", "30264"),
    ("syslog3164/azure-sentinel_OpenVPN.txt", 1, "message",
     "1.2.3.4:41445 peer info: IV_TCPNL=1"),
    ("syslog3164/crowdsec-hub_iptables-logs.log", 3, "attrs->>'hostname'", "ubuntu-focal"),
    ("syslog5424/crowdsec-hub_charon-ipsec-logs_mixed5424-3164.log", 0, "occurred_at",
     "2024-02-17 18:29:57+00"),
    ("syslog5424/crowdsec-hub_charon-ipsec-logs_mixed5424-3164.log", 0,
     "attrs->'sd'->'meta'->>'sequenceId'", "31"),
    ("syslog5424/crowdsec-hub_opnsense-sshd.log", 0, "message",
     "Invalid user tutu from 1.2.3.4 port 33166"),
    ("syslog5424/crowdsec-hub_opnsense-sshd.log", 0, "severity", "1"),
    ("syslog5424/crowdsec-hub_pf-logs_mixed3164-5424.log", 0, "attrs->>'format'", "rfc3164"),
    ("syslog5424/crowdsec-hub_pf-logs_mixed3164-5424.log", 3, "attrs->>'format'", "rfc5424"),
    ("syslog5424/crowdsec-hub_pfsense-rfc5424-filterlog.log", 0, "occurred_at",
     "2025-11-06 11:32:42.868451+00"),
    ("syslog5424/crowdsec-hub_pfsense-rfc5424-nginx.log", 0, "severity", "4"),
    ("syslog5424/crowdsec-hub_pfsense-rfc5424-nginx.log", 0, "attrs->>'procid'", None),
]


def read(name):
    with open(os.path.join(DATA, name), "rb") as f:
        return f.read()


def test_every_sample_file_parses(cluster):
    db = cluster.new_database(suppliers=())
    keys = Keys()
    keys.supplier(db, "lev")
    d = curve_daemon(db, keys)
    try:
        c = curve_client(d, keys, "lev")
        subs = {}
        for name, (ct, lines, distinct) in SAMPLES.items():
            rep = c.events(read(name), ct=ct)
            eq((rep["status"], rep["items"], rep["accepted"], rep["quarantined"]),
               ("ok", lines, distinct, 0), f"{name}: reply")
            eq(rep["duplicate"], lines - distinct, f"{name}: duplicates")
            subs[name] = rep["submission"]
            eq(db.count("event", f"submission_id = {rep['submission']}"), distinct,
               f"{name}: events stored")
            eq(db.count("quarantine", f"submission_id = {rep['submission']}"), 0,
               f"{name}: quarantined")
            # Each event points at its own line of the body, byte-exact.
            bad = db.value(
                "SELECT count(*) FROM event e JOIN submission s ON s.id = e.submission_id "
                f"WHERE e.submission_id = {rep['submission']} AND e.source_event_id <> "
                "encode(sha256(substring(s.body FROM e.raw_offset + 1 FOR e.raw_length)), "
                "'hex') AND e.attrs->>'cef_version' IS NULL")
            eq(bad, "0", f"{name}: ids are the SHA-256 of the raw line")
        for name, item, expr, want in FIELDS:
            rows = db.sql("SET TimeZone = 'UTC'; SELECT " + expr +
                          f" FROM event WHERE submission_id = {subs[name]} "
                          f"AND item_no = {item}")
            got = rows[-1][0] if rows and rows[-1] != [""] else None
            eq(got, want, f"{name} item {item}: {expr}")
        # A resend stores nothing new.
        name = "cef/tenzir_checkpoint.log"
        rep = c.events(read(name), ct=CEF)
        eq((rep["accepted"], rep["duplicate"]), (0, 3), "resend of a CEF file")
        eq(db.count("event"), sum(v[2] for v in SAMPLES.values()), "events in all")
    finally:
        d.stop()


def test_bad_lines_are_quarantined_with_the_place(cluster):
    db = cluster.new_database(suppliers=())
    keys = Keys()
    keys.supplier(db, "lev")
    d = curve_daemon(db, keys)
    try:
        c = curve_client(d, keys, "lev")
        body = (b"CEF:0|V|P|1|2|N|1|msg=ok\n"
                b"CEF:0|V|P|1|2|N\n"
                b"not cef at all\r\n"
                b"CEF:0|V|P|1|2|N|1|msg=\xff\n")
        rep = c.events(body, ct=CEF)
        eq([o["outcome"] for o in rep["outcomes"]],
           ["accepted", "quarantined", "quarantined", "quarantined"], "CEF outcomes")
        eq([o.get("reason") for o in rep["outcomes"][1:]], [
            "CEF header: field 6 (name) at byte 14 has no closing '|'; the header has "
            "7 fields",
            "not a CEF record: no 'CEF:' in the line, and it does not start with a "
            "version and '|' (byte 0)",
            "invalid UTF-8 at byte 22 of the line"], "CEF reasons")
        body = (b"<13>1 2026-01-01T00:00:00Z h a p m [x a=b] y\n"
                b"<13>Jun  9 19:23:44 h t: fine\n"
                b"<300>Jun  9 19:23:44 h t: m\n"
                b"hello\n")
        rep = c.events(body, ct=SYSLOG)
        eq([o["outcome"] for o in rep["outcomes"]],
           ["quarantined", "accepted", "quarantined", "quarantined"], "syslog outcomes")
        eq([rep["outcomes"][i].get("reason") for i in (0, 2, 3)], [
            "structured data: '\"' expected at byte 40",
            "PRI <300> at byte 0 is above 191",
            "RFC 3164 TIMESTAMP expected at byte 0 ('Mmm dd hh:mm:ss'), got 'hello'"],
           "syslog reasons")
        eq(db.sql("SELECT item_no, convert_from(raw, 'UTF8') FROM quarantine_item WHERE reason LIKE 'PRI%'"),
           [["2", "<300>Jun  9 19:23:44 h t: m"]], "raw of the quarantined line")
    finally:
        d.stop()


PNR_MSG = "elev 19811218-9876 loggade in, ring 070-123 45 67"


def test_identity_numbers_are_masked_in_every_format(cluster):
    from test_ledger import keygen, verify, wait_for_head
    db = cluster.new_database(suppliers=())
    keys = Keys()
    keys.supplier(db, "lev")
    lkey, lpub = keygen(tempfile.mkdtemp(prefix="bevis-key-"))
    d = curve_daemon(db, keys, ledger_key=lkey, checkpoint_interval=1)
    try:
        c = curve_client(d, keys, "lev")
        e = {k: v for k, v in event(1, prefix="pnr").items() if k != "supplier"}
        e.update(message=PNR_MSG, actor={"user": "701063-2391"}, elev="8112189876")
        plain = {k: v for k, v in event(2, prefix="pnr").items() if k != "supplier"}
        rep = c.events(ndjson([e, plain]))
        eq(rep["accepted"], 2, "JSON accepted")
        js = rep["submission"]
        rep = c.events(("CEF:0|V|P|1|2|Login|3|suser=811218-9876 msg=" + PNR_MSG +
                        " cs1=121212-1212 cs1Label=Pupil\n").encode(), ct=CEF)
        eq(rep["accepted"], 1, "CEF accepted")
        cs = rep["submission"]
        rep = c.events(("<13>Jun  9 19:23:44 h t: " + PNR_MSG + "\n").encode(), ct=SYSLOG)
        eq(rep["accepted"], 1, "syslog accepted")
        ss = rep["submission"]
        eq(db.sql("SELECT message, actor_user, personal_data, attrs->>'pnr_count', "
                  f"attrs->>'elev' FROM event WHERE submission_id = {js} ORDER BY item_no"),
           [["elev 811218-XXXX loggade in, ring 070-123 45 67", "701063-XXXX", "t", "3",
             "811218-XXXX"], ["sign-in number 2", "user2", "f", "", ""]], "JSON event")
        eq(db.sql("SELECT message, actor_user, personal_data, attrs->>'pnr_count', "
                  f"attrs->>'Pupil' FROM event WHERE submission_id = {cs}"),
           [["elev 811218-XXXX loggade in, ring 070-123 45 67", "811218-XXXX", "t", "3",
             "121212-XXXX"]], "CEF event")
        eq(db.sql("SELECT message, personal_data, attrs->>'pnr_count' FROM event "
                  f"WHERE submission_id = {ss}"),
           [["elev 811218-XXXX loggade in, ring 070-123 45 67", "t", "1"]], "syslog event")
        # The raw bodies keep the numbers as sent.
        for sub, want in ((js, b"19811218-9876"), (cs, b"811218-9876"), (ss, b"19811218-9876")):
            body = db.value(f"SELECT encode(body, 'escape') FROM submission WHERE id = {sub}")
            check(want.decode() in body, f"submission {sub} keeps {want!r}")
        # bevis verify recomputes the ledger from the rows as stored, masked.
        wait_for_head(db, int(db.value("SELECT count(*) FROM ledger_leaf")))
        rc, out, err = verify(db, lpub)
        eq(rc, 0, f"bevis verify: {out}{err}")
    finally:
        d.stop()


def test_syslog_timezone_config(cluster):
    tmp = tempfile.mkdtemp(prefix="bevis-tz-")
    conf = os.path.join(tmp, "bevisd.conf")
    with open(conf, "w") as f:
        f.write("[bevisd]\nallow_plaintext = yes\nsyslog_timezone = UTC\n"
                "[syslog_timezone]\nacme = America/New_York\nbad = Mars/Olympus\n")
    out = subprocess.run([BEVISD, "-n", "-c", conf], capture_output=True, text=True)
    eq((out.returncode, out.stderr), (1, f"{conf}:6: [syslog_timezone] bad: unknown time "
       "zone 'Mars/Olympus' (an IANA name such as Europe/Stockholm, UTC, or a POSIX TZ "
       "rule)\n"), "bad zone")
    with open(conf, "w") as f:
        f.write("[bevisd]\nallow_plaintext = yes\nsyslog_timezone = Nowhere/Else\n")
    out = subprocess.run([BEVISD, "-n", "-c", conf], capture_output=True, text=True)
    eq((out.returncode, out.stderr), (1, f"{conf}: unknown time zone 'Nowhere/Else' (an "
       "IANA name such as Europe/Stockholm, UTC, or a POSIX TZ rule)\n"), "bad default")

    db = cluster.new_database(suppliers=())
    keys = Keys()
    keys.supplier(db, "acme")
    keys.supplier(db, "lev")
    d = curve_daemon(db, keys, syslog_timezone="UTC")
    with open(d.conf, "a") as f:
        f.write("[syslog_timezone]\nacme = America/New_York\n")
    d.stop()
    d.restart()
    try:
        line = b"<13>2026-07-01T12:00:00Z h t: a\n<13>Jul  1 12:00:00 h t: b\n"
        for name, want in (("acme", "2026-07-01 16:00:00+00"), ("lev", "2026-07-01 12:00:00+00")):
            rep = curve_client(d, keys, name).events(line, ct=SYSLOG)
            eq(rep["accepted"], 2, f"{name}: accepted")
            got = db.sql("SET TimeZone = 'UTC'; SELECT to_char(occurred_at AT TIME ZONE "
                         "'UTC', 'MM-DD HH24:MI:SS') FROM event WHERE submission_id = "
                         f"{rep['submission']} AND item_no = 1")[-1][0]
            eq(got, want[5:19], f"{name}: 3164 time in its zone")
    finally:
        d.stop()
