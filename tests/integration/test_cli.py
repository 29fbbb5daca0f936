"""bevis migrate, events filters and formats, connection precedence, and
send's resend on timeout (Lazy Pirate) against a daemon that starts late."""
import csv
import io
import json
import os
import subprocess
import time

from bevistest import BEVIS, ROOT, Daemon, Client, check, eq, event, ndjson, run_bevis


def test_migrate_is_idempotent(cluster):
    db = cluster.new_database()
    out = run_bevis(db, "--db", db.conninfo, "migrate")
    eq(out.returncode, 0, "second migrate")
    check(b"0 applied now" in out.stdout, out.stdout)
    nsql = len([f for f in os.listdir(os.path.join(ROOT, "sql")) if f.endswith(".sql")])
    eq(db.value("SELECT count(*) FROM schema_migration"), str(nsql), "recorded migrations")
    # A changed migration is refused, not applied again.
    db.sql("UPDATE schema_migration SET sha256 = 'x' WHERE version = 1")
    out = run_bevis(db, "--db", db.conninfo, "migrate")
    eq(out.returncode, 1, "migrate with a changed migration")
    check(b"0001_core was applied with different contents" in out.stderr, out.stderr)


def test_events_filters_and_formats(cluster):
    db = cluster.new_database(suppliers=("demo", "other"))
    d = Daemon(db)
    try:
        evs = [event(i, severity=i % 7, category="network" if i % 2 else "authentication")
               for i in range(40)]
        evs += [event(100 + i, supplier="other", prefix="o") for i in range(5)]
        eq(Client(d.endpoint).events(ndjson(evs))["accepted"], 45, "accepted")
        env = {"PGHOST": "/nonexistent"}  # --db must win over the environment

        def q(*args):
            out = run_bevis(db, "--db", db.conninfo, "events", *args, env=env)
            eq(out.returncode, 0, f"bevis events {args}: {out.stderr}")
            return out.stdout.decode()

        rows = [json.loads(x) for x in q("--json", "--limit", "1000").splitlines()]
        eq(len(rows), 45, "all events")
        check({"id", "occurred_at", "received_at", "supplier", "severity",
               "submission", "item"} <= set(rows[0]), f"json keys {sorted(rows[0])}")
        eq(len(q("--json", "--supplier", "other").splitlines()), 5, "--supplier")
        eq(len(q("--json", "--severity-min", "high").splitlines()),
           sum(1 for e in evs if e["severity"] >= 4), "--severity-min high")
        eq(len(q("--json", "--severity-min", "5").splitlines()),
           sum(1 for e in evs if e["severity"] >= 5), "--severity-min 5")
        eq(len(q("--json", "--category", "network", "--supplier", "demo").splitlines()),
           20, "--category")
        eq(len(q("--json", "--since", "2026-10-05", "--until", "2026-10-07").splitlines()),
           sum(1 for e in evs if "2026-10-05" <= e["time"][:10] < "2026-10-07"),
           "--since/--until")
        eq(len(q("--json", "--limit", "7").splitlines()), 7, "--limit")
        rows = list(csv.reader(io.StringIO(q("--csv", "--supplier", "other"))))
        eq(rows[0][:4], ["occurred_at", "received_at", "supplier", "id"], "csv header")
        eq(len(rows), 6, "csv rows")
        out = run_bevis(db, "--db", db.conninfo, "events", "--limit", "3")
        check(b"more match" in out.stderr, out.stderr)
        # The config file is used when neither --db nor PG* variables are set.
        out = run_bevis(db, "events", "--json", env={"BEVIS_CONFIG": d.conf})
        eq(len(out.stdout.splitlines()), 45, "connection from the config file")
        out = run_bevis(db, "events", "--severity-min", "9")
        eq(out.returncode, 2, "bad severity")
    finally:
        eq(d.stop(), 0, "bevisd exit code")


def test_send_resends_until_the_daemon_answers(cluster):
    db = cluster.new_database()
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "bevis-late-%d.ndjson" % os.getpid())
    with open(path, "wb") as f:
        f.write(ndjson([event(i) for i in range(3000)]))
    # Start the sender first; the daemon comes up 2.5 s later on that port.
    from bevistest import free_port
    port = free_port()
    proc = subprocess.Popen([BEVIS, "send", "--endpoint", f"tcp://127.0.0.1:{port}",
                             "--timeout", "1", "--retries", "10", path],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(2.5)
    d = Daemon(db, endpoint=f"tcp://127.0.0.1:{port}")
    try:
        out, err = proc.communicate(timeout=60)
        eq(proc.returncode, 0, "send exit code: " + err.decode())
        check(b"resending" in err, err)
        check(b"3000 accepted" in out, out)
        eq(db.count("event"), 3000, "events")
    finally:
        os.unlink(path)
        eq(d.stop(), 0, "bevisd exit code")


def test_events_escape_supplier_bytes(cluster):
    """Issue 10 item 10: what a supplier sends cannot drive the terminal
    (ESC, BEL, C1) or a spreadsheet (formula cells) of whoever lists it."""
    db = cluster.new_database()
    d = Daemon(db)
    try:
        ev = event(1, message="=1+2\x1b[31mred\x07 \u009b2J \u00c5",
                   target="@SUM(A1)", actor={"user": "-x\x7f"})
        eq(Client(d.endpoint).events(ndjson([ev]))["accepted"], 1, "accepted")
        out = run_bevis(db, "--db", db.conninfo, "events")
        eq((out.returncode, out.stderr), (0, b"1 event\n"), "events")
        eq(out.stdout.decode(),
           "OCCURRED (UTC)       SUPPLIER  ID          SEV            CATEGORY        "
           "ACTION  OUTCOME  ACTOR   SRC       MESSAGE\n"
           "2026-10-02 01:01:01  demo      ev-0000001  informational  authentication  "
           "login   success  -x\\x7f  10.1.1.2  "
           "=1+2\\x1b[31mred\\x07 \\u009b2J \u00c5\n", "table")
        out = run_bevis(db, "--db", db.conninfo, "events", "--csv")
        eq(out.returncode, 0, "events --csv")
        lines = out.stdout.decode().split("\r\n")
        eq(lines[0], "occurred_at,received_at,supplier,id,severity,category,action,"
           "outcome,actor_user,src_ip,target,message,personal_data,seq,attrs,"
           "submission,item", "csv header")
        received = db.value("SELECT to_char(received_at AT TIME ZONE 'UTC', "
                            "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM submission")
        eq(lines[1], f"2026-10-02T01:01:01.000000Z,{received},demo,ev-0000001,1,"
           "authentication,login,success,'-x\\x7f,10.1.1.2,'@SUM(A1),"
           "'=1+2\\x1b[31mred\\x07 \\u009b2J \u00c5,f,1,,1,0", "csv row")
        eq(lines[2:], [""], "one row")
        # JSON is the exact form: the stored bytes, escaped per RFC 8259.
        out = run_bevis(db, "--db", db.conninfo, "events", "--json")
        check(b'"message":"=1+2\\u001b[31mred\\u0007 \\u009b2J \xc3\x85"' in out.stdout,
              out.stdout)
        eq(json.loads(out.stdout)["message"], ev["message"], "json round trip")
    finally:
        eq(d.stop(), 0, "bevisd exit code")


def test_every_command_answers_help(cluster):
    """bevis COMMAND --help (and -h) prints that command's usage on stdout
    and exits 0, for every command bevis --help lists, with no database."""
    db = cluster.new_database()
    out = run_bevis(db, "--help")
    eq((out.returncode, out.stderr), (0, b""), "bevis --help")
    listed = out.stdout.decode().split("commands:\n")[1].split("\n\n")[0]
    names = []
    for line in listed.splitlines():
        if line.startswith("  ") and not line.startswith("   "):
            name = line.split()[0]
            if name not in names:
                names.append(name)
    eq(names, ["migrate", "send", "ping", "events", "redact", "keygen", "supplier",
               "incident", "incidents", "show", "triage", "link", "unlink", "merge",
               "unmerge", "deadlines", "stats", "quality", "review", "reports", "report", "reconcile",
               "rule", "checkpoint", "verify", "proof", "export", "verify-bundle", "evidence"],
       "commands")
    env = {"PGHOST": "/nonexistent", "BEVIS_CONFIG": "/nonexistent"}
    for name in names:
        for flag in ("--help", "-h"):
            r = run_bevis(db, name, flag, env=env)
            eq((r.returncode, r.stderr), (0, b""), f"bevis {name} {flag}")
            check(r.stdout.startswith(f"usage: bevis {name}".encode()), r.stdout)
        # A usage error prints the same usage on stderr, exit 2.
        r = run_bevis(db, name, "--no-such-option", env=env)
        eq(r.returncode, 2, f"bevis {name} --no-such-option")
        if name not in ("send", "ping"):   # cmd_send.c keeps its own text for now
            check(run_bevis(db, name, "--help").stdout in r.stderr, r.stderr)
    # Options after the command, and subcommands, too.
    for args in (["proof", "--submission", "1", "--help"], ["supplier", "add", "--help"],
                 ["events", "--json", "-h"]):
        r = run_bevis(db, *args, env=env)
        eq(r.returncode, 0, f"bevis {args}")
        check(r.stdout.startswith(f"usage: bevis {args[0]}".encode()), r.stdout)
