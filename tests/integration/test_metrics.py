"""/metrics and /healthz on a loopback port."""
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


def test_metrics_count_what_was_answered_and_healthz_follows_the_spool(cluster):
    own = bevistest.Cluster()  # this test stops PostgreSQL
    try:
        db = own.new_database()
        port = free_port()
        d = Daemon(db, http_listen=f"127.0.0.1:{port}", spool_max_bytes="64KiB")
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
            # The database is away: the request is spooled, and bevisd is
            # still healthy, since the spool has room.
            rep = c.events(ndjson([event(99)]), timeout=20)
            eq(rep["status"], "spooled", "reply while the database is down")
            eq(get(port, "/healthz"), (200, "database unreachable; spooling\n"),
               "healthy while spooling")
            status, text = get(port, "/metrics")
            eq(value(text, "bevis_database_up"), 0, "database down")
            eq(value(text, "bevis_spool_records"), 1, "spooled records")
            check(value(text, "bevis_spool_bytes") > 0, "spool bytes")
            # Fill the spool (64 KiB): busy, and now unhealthy.
            statuses = []
            for i in range(10):
                body = ndjson([event(1000 + 20 * i + k, message="x" * 800)
                               for k in range(20)])
                statuses.append(c.events(body, timeout=20)["status"])
                if statuses[-1] == "busy":
                    break
            eq(statuses[-1], "busy", f"a full spool answers busy ({statuses})")
            eq(get(port, "/healthz"), (503, "database unreachable and no room in "
                                       "the spool\n"), "unhealthy")
            status, text = get(port, "/metrics")
            eq(value(text, "bevis_spool_busy_total"), 1, "busy for a full spool")
            spooled = statuses.count("spooled") + 1
            eq(value(text, "bevis_spool_records"), spooled, "spooled records")
            # The database is back: the spool is written and emptied.
            subprocess.run(["sh", os.path.join(ROOT, "tests/pgctl.sh"), "start", own.dir,
                            str(own.port)], check=True, stdout=subprocess.DEVNULL)
            deadline = time.time() + 30
            while value(get(port, "/metrics")[1], "bevis_spool_records") != 0:
                check(time.time() < deadline, "the spool was not replayed")
                time.sleep(0.2)
            status, text = get(port, "/metrics")
            eq(value(text, "bevis_spool_replayed_total"), spooled, "replayed")
            eq(value(text, "bevis_spool_bytes"), 0, "spool empty on disk")
            eq(get(port, "/healthz"), (200, "ok\n"), "healthy again")
            eq(db.count("event"), 10 + 1 + 20 * (spooled - 1), "events stored")
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
