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
            first = ndjson([event(i) for i in range(10)]) + b'{"id":"x"}\n'
            c.events(first, rid=b"m-1")
            c.events(ndjson([event(i) for i in range(5)]))
            # The same request again: answered again, written no more.
            eq(c.events(first, rid=b"m-1").get("replay"), True, "a replay")
            c.send(None, None, None, frames=[b"bevis/1"])
            c.recv(10)
            status, text = get(port, "/metrics")
            eq(status, 200, "/metrics status")
            eq(value(text, 'bevis_items_total{outcome="accepted"}'), 20, "accepted answered")
            eq(value(text, 'bevis_items_total{outcome="duplicate"}'), 5, "duplicate answered")
            eq(value(text, 'bevis_items_total{outcome="quarantined"}'), 2,
               "quarantined answered")
            # Issue 10 item 8: what was written, counted once.
            eq(value(text, 'bevis_rows_written_total{table="event"}'), 10, "event rows")
            eq(value(text, 'bevis_rows_written_total{table="quarantine"}'), 1,
               "quarantine rows")
            eq(value(text, 'bevis_rows_written_total{table="submission"}'), 2,
               "submission rows")
            eq(value(text, "bevis_replays_total"), 1, "replays")
            eq(db.count("event"), 10, "events stored")
            eq(value(text, "bevis_requests_total"), 3, "requests")
            eq(value(text, "bevis_requests_refused_total"), 1, "refused")
            eq(value(text, "bevis_commit_seconds_count"), value(text, "bevis_batches_total"),
               "one commit per batch")
            eq(value(text, 'bevis_supplier_items_total{supplier="(plaintext)",'
                           'outcome="accepted"}'), 20, "per supplier, answered")
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


def raw_http(port, data, read_timeout=10):
    """Sends data as it is and returns the status line (or "" when bevisd
    closed without one) and the seconds until the connection closed."""
    import socket
    t0 = time.time()
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as s:
        try:
            s.sendall(data)
        except OSError:
            pass  # bevisd may close before reading it all
        got = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        except OSError:
            pass
    return got.split(b"\r\n", 1)[0].decode(errors="replace"), time.time() - t0


def test_metrics_http_limits(cluster):
    """Issue 10 item 4: GET only, bounded headers and body, a timeout."""
    db = cluster.new_database()
    port = free_port()
    d = Daemon(db, http_listen=f"127.0.0.1:{port}")
    try:
        rss0 = bevistest.proc_mem(d.pid)["VmRSS"]
        status, _ = raw_http(port, b"POST /metrics HTTP/1.1\r\nHost: x\r\n"
                             b"Content-Length: 0\r\n\r\n")
        eq(status, "HTTP/1.1 405 Method Not Allowed", "POST")
        status, _ = raw_http(port, b"PUT /metrics HTTP/1.1\r\nHost: x\r\n"
                             b"Content-Length: 0\r\n\r\n")
        eq(status, "HTTP/1.1 405 Method Not Allowed", "PUT")
        # 16 MiB of headers: refused once 8 KiB have come.
        hdr = b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + b"X-A: " + b"a" * (16 << 20)
        status, _ = raw_http(port, hdr)
        eq(status, "HTTP/1.1 400 Bad Request", "16 MiB of headers")
        # A body of 16 MiB: refused before it is read.
        body = b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (16 << 20)
        status, _ = raw_http(port, body + b"b" * (16 << 20))
        eq(status, "HTTP/1.1 413 Request Entity Too Large", "a 16 MiB body")
        # A request that never ends is dropped after the timeout (5 s).
        status, secs = raw_http(port, b"GET /metrics HTTP/1.1\r\n", read_timeout=20)
        check(4 <= secs < 15, f"an unfinished request was dropped after {secs:.1f} s")
        grew = bevistest.proc_mem(d.pid)["VmRSS"] - rss0
        check(grew < 8 << 20, f"bevisd grew by {grew} bytes")
        eq(get(port, "/metrics")[0], 200, "GET still served")
    finally:
        eq(d.stop(), 0, "bevisd exit code")
