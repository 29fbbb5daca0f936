"""The examples in docs/PROTOCOL.md and the README's walk-through run as
written, against a real bevisd."""
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
    """bevis send of the sample file, then bevis events, as the README shows."""
    import tempfile
    keydir = tempfile.mkdtemp(prefix="bevis-readme-")
    out = run_bevis(None, "keygen", "--ledger", os.path.join(keydir, "ledger"))
    eq(out.returncode, 0, "keygen")
    db = cluster.new_database()
    d = Daemon(db, ledger_key=os.path.join(keydir, "ledger", "ledger.key"))
    try:
        sample = os.path.join(ROOT, "docs", "examples", "events.ndjson")
        env = {"BEVIS_CONFIG": d.conf}
        out = run_bevis(db, "send", sample, env=env)
        eq(out.returncode, 1, "send exit code (one item quarantined)")
        eq(out.stdout.decode().splitlines()[-1],
           f"{sample}: 6 items in 1 requests: 5 accepted, 0 duplicate, 1 quarantined",
           "send summary")
        check(f"{sample}:6: quarantined: field 'time' is not an RFC 3339" in out.stderr.decode(),
              out.stderr.decode())
        out = run_bevis(db, "events", "--since", "2026-10-01", env=env)
        eq(out.returncode, 0, "events exit code")
        lines = out.stdout.decode().splitlines()
        eq(len(lines), 6, "table header + 5 events")
        check(lines[0].startswith("OCCURRED (UTC)"), lines[0])
        check("evt-0005" in lines[5] and "critical" in lines[5], lines[5])
        eq(out.stderr.decode(), "5 events\n", "count line")
        # Sending again stores nothing new.
        out = run_bevis(db, "send", sample, env=env)
        check("0 accepted, 5 duplicate, 1 quarantined" in out.stdout.decode(), out.stdout)
        eq(db.count("event"), 5, "events after resend")
        # The signed head, kept aside, and verify against it.
        import time
        deadline = time.time() + 10
        while db.value("SELECT max(tree_size) FROM tree_head") != "2" and time.time() < deadline:
            time.sleep(0.1)
        out = run_bevis(db, "checkpoint", env=env)
        eq(out.returncode, 0, "bevis checkpoint")
        cp = os.path.join(keydir, "checkpoint.txt")
        with open(cp, "wb") as f:
            f.write(out.stdout)
        out = run_bevis(db, "verify", "--checkpoint", cp, env=env)
        eq((out.returncode, out.stderr), (0, b""), "bevis verify")
        check(out.stdout.startswith(b"verified: 2 leaves (2 submissions, 0 redacted), 5 events, "),
              out.stdout)
    finally:
        eq(d.stop(), 0, "bevisd exit code")
