"""Issue 2: malformed requests get precise errors and the daemon keeps
serving; a client that vanishes loses only its reply. bevisd runs under
valgrind here."""
import os
import re
import subprocess
import time

import zmq

from bevistest import (ROOT, Client, Daemon, check, eq, event, ndjson)

ND = b"application/x-ndjson"


def test_malformed_frames_under_valgrind(cluster):
    db = cluster.new_database()
    d = Daemon(db, valgrind=True, max_message_size="64KiB")
    try:
        c = Client(d.endpoint)
        good = ndjson([event(1)])
        cases = [
            ([b"bevis/1"], "bad_frames"),
            ([b"bevis/1", b"EVENTS", b"r1"], "bad_frames"),
            ([b"bevis/1", b"EVENTS", b"r1", ND, good, b"extra"], "bad_frames"),
            ([b"bevis/1"] * 12, "bad_frames"),
            ([b"bevis/2", b"EVENTS", b"r2", ND, good], "unsupported_version"),
            ([b"\x00\xff", b"EVENTS", b"r2", ND, good], "unsupported_version"),
            ([b"bevis/1", b"DELETE", b"r3", ND, good], "unknown_command"),
            ([b"bevis/1", b"REPORT", b"r3", ND, good], "unauthenticated"),
            ([b"bevis/1", b"EVENTS", b"", ND, good], "bad_request_id"),
            ([b"bevis/1", b"EVENTS", b"has space", ND, good], "bad_request_id"),
            ([b"bevis/1", b"EVENTS", b"x" * 129, ND, good], "bad_request_id"),
            ([b"bevis/1", b"EVENTS", b"r4", b"text/plain", good], "unsupported_content_type"),
            ([b"bevis/1", b"EVENTS", b"r5", ND, b"x" * (64 * 1024 + 1)], "too_large"),
        ]
        for frames, code in cases:
            c.send(None, None, None, frames=frames)
            _rid, rep = c.recv(30)
            eq(rep.get("status"), "error", f"status for {code}")
            eq(rep.get("error"), code, f"error code for frames {[f[:16] for f in frames]}")
            check(rep.get("message"), "an error message")
        # REQ clients get the same answers, through the delimiter.
        r = Client(d.endpoint, zmq.REQ)
        r.send(None, None, None, frames=[b"bevis/1", b"EVENTS"])
        eq(r.recv(30)[1]["error"], "bad_frames", "REQ bad frames")
        # Binary junk in every frame of a well-sized message.
        junk = [os.urandom(n) for n in (7, 3, 40, 11, 100)]
        c.send(None, None, None, frames=junk)
        eq(c.recv(30)[1]["status"], "error", "junk")
        # Bad items: invalid JSON, bad UTF-8, out-of-range time, wrong types.
        rep = c.events(b"not json\n"
                       b'{"supplier":"demo","id":"u","time":"2026-10-01T00:00:00Z","m":"\xc3\x28"}\n'
                       b'{"supplier":"demo","id":"t","time":"1900-01-01T00:00:00Z"}\n'
                       b'{"supplier":"demo","id":5,"time":"2026-10-01T00:00:00Z"}\n'
                       b'{"supplier":"demo","id":"s","time":"2026-10-01T00:00:00Z","severity":"huge"}\n'
                       + good, timeout=60)
        eq([o["outcome"] for o in rep["outcomes"]],
           ["quarantined"] * 5 + ["accepted"], "item outcomes")
        reasons = [o.get("reason") for o in rep["outcomes"][:5]]
        check(reasons[0].startswith("invalid JSON at byte "), f"reason {reasons[0]}")
        eq(reasons[1], "invalid UTF-8 at byte 63 of the item", "utf-8 reason")
        check("out of range" in reasons[2], reasons[2])
        eq(reasons[3], "field 'id' must be a string, got int", "type reason")
        check(reasons[4].startswith("field 'severity' must be 0..6 or one of"), reasons[4])
        eq(db.count("quarantine"), 5, "quarantine rows")
        eq(db.count("event"), 1, "event rows")
        # Protocol errors store nothing; the one good request made one submission.
        eq(db.count("submission"), 1, "submissions")
        # And the daemon still serves a good client.
        eq(Client(d.endpoint).events(ndjson([event(2)]), timeout=60)["accepted"], 1, "after")
    finally:
        eq(d.stop(), 0, "bevisd exit code (valgrind: 99 means errors)")


def test_client_vanishes_before_reply(cluster):
    db = cluster.new_database()
    d = Daemon(db)
    try:
        ctx = zmq.Context.instance()
        s = ctx.socket(zmq.DEALER)
        s.connect(d.endpoint)
        s.send_multipart([b"bevis/1", b"EVENTS", b"gone-1", ND,
                          ndjson([event(i) for i in range(2000)])])
        s.close(linger=2000)  # the message leaves; nobody reads the reply
        deadline = time.time() + 30
        while time.time() < deadline and db.count("event") < 2000:
            time.sleep(0.1)
        eq(db.count("event"), 2000, "events committed for a vanished client")
        # The retry of that request id, from a new socket, gets the outcome.
        rep = Client(d.endpoint).events(ndjson([event(i) for i in range(2000)]),
                                        rid=b"gone-1")
        eq((rep["accepted"], rep.get("replay")), (2000, True), "replayed outcome")
        eq(db.count("submission"), 1, "submissions")
    finally:
        eq(d.stop(), 0, "bevisd exit code")


def test_sigterm_drains_in_flight(cluster):
    db = cluster.new_database()
    d = Daemon(db)
    c = Client(d.endpoint)
    rids = [c.send(b"EVENTS", ND, ndjson([event(r * 1000 + k) for k in range(1000)]))
            for r in range(20)]
    time.sleep(0.05)
    d.terminate()
    answered = []
    try:
        while True:
            rid, rep = c.recv(3)
            if rep["status"] == "ok":
                answered.append(rid)
    except TimeoutError:
        pass
    eq(d.stop(), 0, "exit code after SIGTERM")
    check(answered, "some requests were answered")
    n = db.count("event")
    # Everything that got a reply is stored.
    eq(db.count("submission", "request_id IN (%s)" % ",".join(
        "'%s'" % r.decode() for r in answered)), len(answered), "answered stored")
    check(n >= 1000 * len(answered), "events of answered requests stored")


def test_daemon_options_and_config_check(cluster):
    bevisd = os.path.join(ROOT, os.environ.get("BUILD", "build"), "bevisd")
    conf = os.path.join(ROOT, "conf", "bevisd.conf")
    out = subprocess.run([bevisd, "-n", "-c", conf], capture_output=True, text=True)
    eq((out.returncode, out.stdout), (0, "configuration OK\n"), "sample config")
    bad = "/tmp/bevis-bad-%d.conf" % os.getpid()
    with open(bad, "w") as f:
        f.write("[bevisd]\nwriters = 2\nbatch_max_rows = lots\n")
    out = subprocess.run([bevisd, "-n", "-c", bad], capture_output=True, text=True)
    os.unlink(bad)
    eq(out.returncode, 1, "bad config exit code")
    eq(out.stderr, f"{bad}:3: batch_max_rows: 'lots' is not an integer\n", "message")


def test_sigterm_while_database_down_answers_unavailable(cluster):
    """A cluster of its own, since this test stops PostgreSQL. Without a
    spool: with one, the reply is `spooled` (test_faults.py)."""
    import bevistest
    own = bevistest.Cluster()
    try:
        db = own.new_database()
        d = Daemon(db, spool_max_bytes=0)
        c = Client(d.endpoint)
        eq(c.events(ndjson([event(1)]))["accepted"], 1, "before the outage")
        subprocess.run(["sh", os.path.join(ROOT, "tests/pgctl.sh"), "stop", own.dir,
                        str(own.port)], check=True)
        c.send(b"EVENTS", ND, ndjson([event(2)]), rid=b"during-outage")
        try:
            c.recv(1.5)
            raise AssertionError("a reply while the database is down")
        except TimeoutError:
            pass
        d.terminate()
        rid, rep = c.recv(30)
        eq((rid, rep["status"], rep["error"]), (b"during-outage", "error", "unavailable"),
           "reply on SIGTERM")
        eq(d.stop(), 0, "exit code")
    finally:
        own.stop()


def test_pipelined_burst_gets_every_reply(cluster):
    """Issue 10 item 12: past the ROUTER's send high-water mark (1,000 per
    peer) replies used to vanish while zmq_send said success. 5,000
    requests sent before any reply is read get 5,000 replies."""
    from bevistest import free_port, metrics
    db = cluster.new_database()
    port = free_port()
    d = Daemon(db, http_listen=f"127.0.0.1:{port}")
    try:
        c = Client(d.endpoint)
        n = 5000
        sent = set()
        for i in range(n):
            sent.add(c.send(b"EVENTS", ND, ndjson([event(i, prefix="burst")]),
                            rid=b"burst-%d" % i))
        got = {}
        while len(got) < n:
            rid, rep = c.recv(60)
            got[rid] = rep
        eq(set(got), sent, "a reply for every request id")
        eq(sum(r.get("accepted", 0) for r in got.values()), n, "accepted items")
        eq(db.count("event"), n, "events stored")
        m = metrics(port)
        eq(m.get("bevis_replies_dropped_total"), 0, "replies dropped")
        eq(m.get("bevis_replies_held"), 0, "replies still held")
        # A peer that is gone: its reply is counted, not silently lost.
        s = zmq.Context.instance().socket(zmq.DEALER)
        s.connect(d.endpoint)
        s.send_multipart([b"bevis/1", b"EVENTS", b"gone-2", ND,
                          ndjson([event(i, prefix="gone") for i in range(3000)])])
        s.close(linger=2000)
        deadline = time.time() + 30
        while time.time() < deadline and metrics(port).get(
                "bevis_replies_dropped_total") != 1:
            time.sleep(0.1)
        eq(metrics(port).get("bevis_replies_dropped_total"), 1, "the vanished peer's reply")
        check("request gone-2: reply dropped: Host unreachable" in d.logtext(), "logged")
    finally:
        eq(d.stop(), 0, "bevisd exit code")
