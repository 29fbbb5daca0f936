"""The examples in docs/PROTOCOL.md and the README's walk-through run as
written, against a real bevisd."""
import json
import os
import re
import subprocess
import sys

from bevistest import ROOT, Daemon, eq, check, run_bevis


def extract(name):
    with open(os.path.join(ROOT, "docs", "PROTOCOL.md")) as f:
        text = f.read()
    m = re.search(r"<!-- example: %s -->\n```python\n(.*?)\n```" % re.escape(name), text, re.S)
    check(m, f"example {name} not found in docs/PROTOCOL.md")
    return m.group(1)


def run_example(d, name):
    return subprocess.run([sys.executable, "-c", extract(name)], capture_output=True,
                          text=True, timeout=120,
                          env=dict(os.environ, BEVIS_ENDPOINT=d.endpoint))


def test_protocol_examples_run_verbatim(cluster):
    db = cluster.new_database()
    d = Daemon(db)
    try:
        out = run_example(d, "pyzmq-events")
        eq(out.returncode, 0, "events example exit code: " + out.stdout + out.stderr)
        check("2 accepted" in out.stdout and "1 quarantined" in out.stdout, out.stdout)
        eq(db.count("event"), 2, "events stored by the example")
        eq(db.count("quarantine"), 1, "quarantined by the example")
        out = run_example(d, "pyzmq-ping")
        eq(out.returncode, 0, "ping example exit code: " + out.stdout + out.stderr)
        check("pong" in out.stdout, out.stdout)
    finally:
        eq(d.stop(), 0, "bevisd exit code")


def test_readme_walkthrough(cluster):
    """What the README shows after `make run`, on the set-up `make run`
    makes (tests/pgctl.sh and tests/devsetup.sh, into a temporary var/):
    bevis send over CURVE with the demo supplier's key, bevis events, the
    ISAM's incident lines, bevis checkpoint and bevis verify."""
    import shutil
    import tempfile
    import time
    from bevistest import BEVIS, BEVISD, PGBIN, free_port
    var = tempfile.mkdtemp(prefix="bevis-var-")
    os.chmod(var, 0o755)
    port = free_port()
    env = dict(os.environ, PGBIN=PGBIN)
    subprocess.run(["sh", os.path.join(ROOT, "tests/pgctl.sh"), "start",
                    os.path.join(var, "pg"), str(port)], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    d = None
    try:
        out = subprocess.run(["sh", os.path.join(ROOT, "tests/devsetup.sh"),
                              os.path.dirname(BEVIS), var, str(port)],
                             capture_output=True, text=True, env=env)
        eq(out.returncode, 0, "devsetup: " + out.stdout + out.stderr)
        conf = os.path.join(var, "bevisd.conf")
        # The README's endpoint is fixed; give this run its own.
        ep = f"tcp://127.0.0.1:{free_port()}"
        with open(conf) as f:
            text = f.read().replace("tcp://127.0.0.1:7341", ep)
        with open(conf, "w") as f:
            f.write(text)
        d = subprocess.Popen([BEVISD, "-f", "-c", conf], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        # What `. var/env.sh` sets.
        shell = dict(os.environ, BEVIS_CONFIG=conf, PGHOST=os.path.join(var, "pg", "run"),
                     PGPORT=str(port), PGDATABASE="bevis", PGUSER="isam")

        def bevis(*args):
            return subprocess.run([BEVIS, *args], capture_output=True, text=True, env=shell)

        deadline = time.time() + 15
        while bevis("ping", "--timeout", "0.5").returncode != 0:
            check(time.time() < deadline, "bevis ping never answered")
        sample = os.path.join(ROOT, "docs", "examples", "events.ndjson")
        out = bevis("send", sample)
        eq(out.returncode, 1, "send exit code (one item quarantined): " + out.stderr)
        eq(out.stdout.splitlines()[-1],
           f"{sample}: 6 items in 1 requests: 5 accepted, 0 duplicate, 1 quarantined",
           "send summary")
        check(f"{sample}:6: quarantined: field 'time' is not an RFC 3339" in out.stderr,
              out.stderr)
        out = bevis("events", "--since", "2026-10-01")
        lines = out.stdout.splitlines()
        eq((out.returncode, len(lines)), (0, 6), "table header + 5 events")
        check(lines[0].startswith("OCCURRED (UTC)"), lines[0])
        check("evt-0005" in lines[5] and "critical" in lines[5], lines[5])
        eq(out.stderr, "5 events\n", "count line")
        # The supplier's log quality this month, as the README's line says.
        out = bevis("quality", "--supplier", "demo", "--json")
        eq(out.returncode, 0, "quality: " + out.stderr)
        rows = [json.loads(ln) for ln in out.stdout.splitlines()]
        eq([(r["events"], r["late_events"], r["items"], r["quarantined"]) for r in rows][-1],
           (5, 5, 6, 1), "bevis quality --supplier demo: this month")
        check(rows[-1]["score"] is not None, "a score")
        out = bevis("send", sample)
        check("0 accepted, 5 duplicate, 1 quarantined" in out.stdout, out.stdout)
        # The servicedesk's month, as the README sends it (its key, the
        # shipped map), then the potential incidents it opened.
        report = os.path.join(ROOT, "tests", "data", "reports",
                              "servicedesk-2026-10.cp1252.csv")
        out = bevis("send", "--key", os.path.join(var, "keys", "servicedesk.key"),
                    "--report", report, "--kind", "servicedesk", "--period", "2026-10")
        eq((out.returncode, out.stderr), (0, ""), "send --report: " + out.stdout)
        eq(out.stdout.splitlines(),
           [f"{report}: servicedesk report 2026-10 from servicedesk: version 1 (report 1), "
            "20 entries: 20 new, 0 changed, 0 unchanged, 0 removed, 0 quarantined",
            f"{report}: opened 20 potential incidents: INC-2026-0001 .. INC-2026-0020"],
           "send --report output")
        out = bevis("incidents")
        eq(out.returncode, 0, "incidents: " + out.stderr)
        check(len([ln for ln in out.stdout.splitlines() if "INC-2026-00" in ln and
                   " new " in ln]) == 20, out.stdout)
        check("Lösenord delat i klassens chatt" in out.stdout, out.stdout)
        # The ISAM's lines, as the README writes them.
        out = bevis("incident", "new", "--title", "Pupil export", "--event", "demo:evt-0003",
                    "--aware-at", "2026-10-02 14:00")
        eq((out.returncode, out.stdout), (0, "INC-2026-0021\n"), "incident new: " + out.stderr)
        out = bevis("incidents")
        check(out.returncode == 0 and "INC-2026-0021" in out.stdout and
              "Pupil export" in out.stdout, out.stdout + out.stderr)
        out = bevis("triage", "INC-2026-0021", "--status", "assessing", "--category",
                    "information_loss", "--cia", "disclosure", "--personal-data", "yes",
                    "--subject-categories", "pupils", "--imy", "required")
        eq(out.returncode, 0, "triage: " + out.stdout + out.stderr)
        out = bevis("show", "INC-2026-0021")
        check(out.returncode == 0 and "assessing" in out.stdout and "evt-0003" in out.stdout,
              out.stdout + out.stderr)
        out = bevis("deadlines")
        eq(out.returncode, 1, "deadlines: the IMY deadline is overdue: " + out.stdout)
        check("2026-10-05 14:00" in out.stdout, out.stdout)
        deadline = time.time() + 10
        # 48 leaves: the demo and servicedesk keys, three submissions, the
        # report's 20 incidents' open and link decisions, and the ISAM
        # incident's open, link and triage decisions.
        while bevis("checkpoint").stdout.splitlines()[1:2] != ["48"]:
            check(time.time() < deadline, "no signed head of size 48")
            time.sleep(0.1)
        cp = os.path.join(var, "checkpoint.txt")
        with open(cp, "w") as f:
            f.write(bevis("checkpoint").stdout)
        out = bevis("verify", "--checkpoint", cp)
        eq((out.returncode, out.stderr), (0, ""), "bevis verify")
        check(out.stdout.startswith("verified: 48 leaves (3 submissions, 0 redacted), 5 events, "),
              out.stdout)
        check("43 decisions replayed against 21 incidents" in out.stdout, out.stdout)
    finally:
        if d:
            d.terminate()
            d.wait(30)
        subprocess.run(["sh", os.path.join(ROOT, "tests/pgctl.sh"), "stop",
                        os.path.join(var, "pg"), str(port)], env=env)
        shutil.rmtree(var, ignore_errors=True)


def test_protocol_curve_example_runs_verbatim(cluster):
    from test_curve import Keys, curve_daemon
    db = cluster.new_database(suppliers=())
    keys = Keys()
    keys.supplier(db, "example-supplier")
    pub, sec = keys.suppliers["example-supplier"]
    client_key = keys.write("client.key", sec, 0o600)
    server_pub = keys.write("server.pub", keys.server_pub, 0o644)
    d = curve_daemon(db, keys)
    try:
        out = subprocess.run([sys.executable, "-c", extract("pyzmq-curve")], capture_output=True,
                             text=True, timeout=120,
                             env=dict(os.environ, BEVIS_ENDPOINT=d.endpoint,
                                      BEVIS_SERVER_KEY=server_pub, BEVIS_CLIENT_KEY=client_key))
        eq(out.returncode, 0, "curve example exit code: " + out.stdout + out.stderr)
        eq(db.value("SELECT count(*) FROM event e JOIN supplier s ON s.id = e.supplier_id "
                    "WHERE s.name = 'example-supplier'"), "2", "events stored as the key's supplier")
    finally:
        eq(d.stop(), 0, "bevisd exit code")
