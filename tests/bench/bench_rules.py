"""The rules phase of make bench (issue 13): bevis end to end as in
bench.py, with 5 rules enabled, and how long the rules evaluator takes to
catch up after the last acknowledgement. bench.py prints its ratio against
the same run's `psql \\copy` beside the ratio without rules.

The rules are the kind an ISAM would write for this traffic: two threshold
rules that count many events (failed logins per account, blocked
connections per source address) but rarely reach their threshold, and three
plain rules that each match a few events in a thousand or none."""
import os
import subprocess
import tempfile
import time

import bevistest
from bevistest import BEVIS, Daemon

RULES = [
    ["brute-force", "--category", "authentication", "--outcome", "failure",
     "--group-by", "actor.user", "--count", "10", "--within", "5m"],
    ["port-scan", "--category", "network", "--action", "block",
     "--group-by", "src.ip", "--count", "20", "--within", "1m"],
    ["pupil-export", "--action", "export", "--personal-data", "yes",
     "--attr", "/export/format=csv"],
    ["quarantine-failed", "--supplier", "stadsnat", "--category", "malware",
     "--action", "quarantine", "--outcome", "failure", "--severity-min", "6"],
    ["tenant-grant", "--supplier", "elevregister", "--category", "account_change",
     "--action", "grant", "--severity-min", "5", "--attr", "/tenant=kommun-0"],
]


def caught_up(db):
    return db.value("SELECT NOT EXISTS (SELECT 1 FROM ledger_leaf WHERE kind = "
                    "'submission' AND idx > (SELECT leaf_idx FROM rule_position))") == "t"


def rules_phase(suppliers, nd, n, writers, window, evaluator="on", cpu=None):
    """Sends nd (n events) to a bevisd with the 5 rules enabled; returns
    (seconds to the last acknowledgement, seconds from then until the
    evaluator has caught up, incidents opened, rule matches). With
    evaluator "off" (bevisd's rules = off) nothing evaluates, so it does
    not wait: the lag is None. With cpu, a pair of functions (the cluster's
    CPU seconds, a process's CPU seconds), it also returns the CPU seconds
    of bevisd and of PostgreSQL from the send to the catch-up."""
    cluster = bevistest.Cluster()
    keydir = tempfile.mkdtemp(prefix="bevis-bench-key-")
    try:
        db = cluster.new_database(suppliers)
        for r in RULES:
            out = subprocess.run([BEVIS, "--db", db.conninfo, "rule", "add", *r],
                                 capture_output=True, text=True)
            assert out.returncode == 0, f"rule add {r[0]}: {out.stderr}"
        subprocess.run([BEVIS, "keygen", "--ledger", keydir, "--name", "bench"],
                       check=True, capture_output=True)
        d = Daemon(db, writers=writers, log_level="warning", rules=evaluator,
                   ledger_key=os.path.join(keydir, "ledger.key"))
        try:
            db.sql("CHECKPOINT")
            if cpu:
                pg0, d0 = cpu[0](cluster), cpu[1](d.proc.pid)
            t0 = time.monotonic()
            out = subprocess.run([BEVIS, "send", "--quiet", "--endpoint", d.endpoint,
                                  "--window", str(window), "--chunk-items", "1000",
                                  "--timeout", "120", nd], capture_output=True, text=True)
            t_send = time.monotonic() - t0
            assert out.returncode == 0, f"bevis send failed: {out.stdout} {out.stderr}"
            t1 = time.monotonic()
            t_lag = None
            while evaluator == "on" and not caught_up(db):
                assert time.monotonic() - t1 < 600, "the rules did not catch up in 600 s"
                time.sleep(0.01)
            if evaluator == "on":
                t_lag = time.monotonic() - t1
            if cpu:
                used = (cpu[1](d.proc.pid) - d0, cpu[0](cluster) - pg0)
        finally:
            d.stop()
        got = db.count("event")
        assert got == n, f"bevis stored {got} rows"
        incidents = db.count("incident")
        matches = int(db.value("SELECT count(*) FROM rule_hit")) + db.count(
            "rule_incident", "grp IS NULL")
        if cpu:
            return t_send, t_lag, incidents, matches, used
        return t_send, t_lag, incidents, matches
    finally:
        cluster.stop()
        subprocess.run(["rm", "-rf", keydir])
