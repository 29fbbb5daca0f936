"""/metrics and /healthz on a loopback port (a first part of issue 5)."""
import os
import subprocess
import time
import urllib.error
import urllib.request

import bevistest
from bevistest import ROOT, Client, Daemon, check, eq, event, free_port, ndjson


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def value(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")


def test_metrics_count_what_was_answered_and_healthz_follows_the_database(cluster):
    own = bevistest.Cluster()  # this test stops PostgreSQL
    try:
        db = own.new_database()
        port = free_port()
        d = Daemon(db, http_listen=f"127.0.0.1:{port}")
        try:
            c = Client(d.endpoint)
            c.events(ndjson([event(i) for i in range(10)]) + b'{"id":"x"}\n')
            c.events(ndjson([event(i) for i in range(5)]))
            c.send(None, None, None, frames=[b"bevis/1"])
            c.recv(10)
            status, text = get(port, "/metrics")
            eq(status, 200, "/metrics status")
            eq(value(text, 'bevis_items_total{outcome="accepted"}'), 10, "accepted")
            eq(value(text, 'bevis_items_total{outcome="duplicate"}'), 5, "duplicate")
            eq(value(text, 'bevis_items_total{outcome="quarantined"}'), 1, "quarantined")
            eq(value(text, "bevis_requests_total"), 2, "requests")
            eq(value(text, "bevis_requests_refused_total"), 1, "refused")
            eq(value(text, "bevis_commit_seconds_count"), value(text, "bevis_batches_total"),
               "one commit per batch")
            eq(value(text, 'bevis_supplier_items_total{supplier="(plaintext)",'
                           'outcome="accepted"}'), 10, "per supplier")
            eq(value(text, "bevis_database_up"), 1, "database up")
            eq(get(port, "/healthz"), (200, "ok\n"), "healthy")
            eq(get(port, "/nothing")[0], 404, "unknown path")
            subprocess.run(["sh", os.path.join(ROOT, "tests/pgctl.sh"), "stop", own.dir,
                            str(own.port)], check=True)
            # The writers notice when they next try the database.
            c.send(b"EVENTS", b"application/x-ndjson", ndjson([event(99)]))
            deadline = time.time() + 20
            while get(port, "/healthz")[0] != 503:
                check(time.time() < deadline, "healthz never said 503")
                time.sleep(0.2)
            eq(get(port, "/healthz"), (503, "database unreachable\n"), "unhealthy")
        finally:
            eq(d.stop(), 0, "bevisd exit code")
    finally:
        own.stop()


def test_metrics_only_on_loopback(cluster):
    db = cluster.new_database()
    try:
        Daemon(db, http_listen=f"0.0.0.0:{free_port()}")
        raise AssertionError("bevisd served /metrics on every address")
    except bevistest.TestFailure as e:
        check("not a loopback address" in str(e), str(e))
