"""Issue 15: protocol 1.1. A replay answers the stored outcome word for word
and refuses another content type; STATUS request-id; whoami in the pong; a
charset parameter; the id of a quarantined item; key rotation that keeps the
supplier's identity (name, dedup scope, request ids), as a ledger leaf that
bevis verify replays."""
import json
import os
import signal
import threading
import time
import uuid

import zmq

from bevistest import (Client, Daemon, check, eq, event, ndjson, own_cluster, run_bevis,
                       wait_for)
from test_curve import Keys, curve_client, curve_daemon
from test_ledger import keygen, verify, wait_for_head
from test_roles import conninfo_as, login
from test_suppliers import fingerprint

ND = b"application/x-ndjson"
JS = b"application/json"


def raw_request(c, cmd, ct, body, rid):
    """Sends one request and returns the raw status frame (bytes)."""
    c.send(cmd, ct, body, rid)
    if not c.sock.poll(30000):
        raise TimeoutError("no reply")
    frames = c.sock.recv_multipart()
    eq(frames[:2], [b"bevis/1", rid], "reply version and request id")
    return frames[2]


def mixed_body(run, n):
    """n events; those whose number is not a multiple of 3 have an impossible
    time and are quarantined."""
    evs = []
    for i in range(n):
        e = event(i, prefix=f"mix-{run}")
        if i % 3:
            e["time"] = "2026-10-05T25:61:00Z"
        evs.append(e)
    return ndjson(evs)


def test_replay_is_the_stored_outcome_and_another_type_conflicts(cluster):
    db = cluster.new_database()
    d = Daemon(db)
    try:
        c = Client(d.endpoint)
        run = uuid.uuid4().hex[:8]
        body = mixed_body(run, 126) + b'{"id": "x", "time": 1}\nnot json\n'
        rid = f"mix-{run}".encode()
        first = raw_request(c, b"EVENTS", ND, body, rid)
        r1 = json.loads(first)
        eq((r1["items"], r1["accepted"], r1["duplicate"], r1["quarantined"]),
           (128, 42, 0, 86), "first reply counts")
        # 1.1: a quarantined item names its id when it could be read.
        q = [o for o in r1["outcomes"] if o["outcome"] == "quarantined"]
        eq(q[0], {"item": 1, "outcome": "quarantined", "id": f"mix-{run}-0000001",
                  "reason": "field 'time' is not an RFC 3339 date-time: "
                            "'2026-10-05T25:61:00Z'"}, "quarantined outcome with id")
        eq(q[-2], {"item": 126, "outcome": "quarantined", "id": "x",
                   "reason": "field 'time' must be an RFC 3339 string, got int"},
           "a wrong time type still names the id")
        eq(q[-1], {"item": 127, "outcome": "quarantined",
                   "reason": "invalid JSON at byte 1: null expected"},
           "unreadable item: no id")
        # The same bytes as the same type: the first reply, word for word,
        # with "replay":true after the submission.
        again = raw_request(c, b"EVENTS", ND, body, rid)
        sub = f'"submission":{r1["submission"]},'.encode()
        eq(again, first.replace(sub, sub + b'"replay":true,'), "replay, byte for byte")
        # The same bytes as another type: a conflict, nothing stored.
        r3 = json.loads(raw_request(c, b"EVENTS", JS, body, rid))
        eq((r3["status"], r3["error"], r3["message"]),
           ("error", "request_id_conflict",
            "request id already used for the same body with another content type"),
           "another content type")
        eq((db.count("submission"), db.count("event"), db.count("quarantine")),
           (1, 42, 86), "stored once")
        # Both in one batch: the second copy conflicts with the first.
        rid2 = f"pair-{run}".encode()
        one = ndjson([event(1000, prefix=f"pair-{run}")])
        c.send(b"EVENTS", ND, one, rid2)
        c.send(b"EVENTS", JS, one, rid2)
        replies = sorted(json.dumps(c.recv()[1], sort_keys=True) for _ in range(2))
        kinds = sorted(json.loads(r).get("error", json.loads(r)["status"]) for r in replies)
        eq(kinds, ["ok", "request_id_conflict"], "same id, two types, maybe one batch")
        eq(db.count("submission"), 2, "the pair stored once")
    finally:
        eq(d.stop(), 0, "bevisd exit code")


def test_status_committed_unknown_and_spooled(cluster):
    """On a cluster of its own: the database goes away."""
    with own_cluster() as cl:
        db = cl.new_database()
        d = Daemon(db, spool_max_bytes="16MiB", spool_after_ms=200)
        try:
            c = Client(d.endpoint)
            run = uuid.uuid4().hex[:8]
            body = mixed_body(run, 6)
            rid = f"st-{run}".encode()
            first = raw_request(c, b"EVENTS", ND, body, rid)
            # STATUS: the stored outcome, word for word, with its state.
            st = raw_request(c, b"STATUS", b"", b"", rid)
            eq(st, first.replace(b'{"status":"ok",', b'{"status":"ok","state":"committed",', 1),
               "STATUS of a committed request")
            eq(json.loads(raw_request(c, b"STATUS", b"", b"", b"never-sent")),
               {"status": "ok", "state": "unknown"}, "STATUS of an unknown id")
            # The database goes away: the request is spooled, and STATUS says so.
            cl.pg_stop()
            rid2 = f"sp-{run}".encode()
            sp = json.loads(raw_request(c, b"EVENTS", ND, ndjson([event(1, prefix=f"sp-{run}")]),
                                        rid2))
            eq(sp["status"], "spooled", "spooled while the database is down")
            eq(json.loads(raw_request(c, b"STATUS", b"", b"", rid2)),
               {"status": "ok", "state": "spooled", "spool_record": sp["spool_record"]},
               "STATUS of a spooled request")
            eq(json.loads(raw_request(c, b"STATUS", b"", b"", b"never-sent"))["error"],
               "unavailable", "STATUS of an unknown id while the database is down")
            # A restart with the record still in the spool still knows it.
            eq(d.stop(), 0, "bevisd exit code while the database is down")
            d.start()
            c = Client(d.endpoint)
            eq(json.loads(raw_request(c, b"STATUS", b"", b"", rid2))["state"], "spooled",
               "STATUS after a restart, record still spooled")
            cl.pg_start()

            def committed():
                r = json.loads(raw_request(c, b"STATUS", b"", b"", rid2))
                return r if r.get("state") == "committed" else None
            r = wait_for(committed, 30, "the spooled request to be written")
            eq((r["items"], r["accepted"], r["outcomes"][0]["id"]),
               (1, 1, f"sp-{run}-0000001"), "STATUS after the replay")
        finally:
            if not os.path.exists(os.path.join(cl.dir, "data", "postmaster.pid")):
                cl.pg_start()
            eq(d.stop(), 0, "bevisd exit code")


def test_charset_parameter(cluster):
    db = cluster.new_database()
    d = Daemon(db)
    try:
        c = Client(d.endpoint)
        for i, ct in enumerate([b"application/json; charset=utf-8",
                                b"APPLICATION/X-NDJSON;CHARSET=\"UTF-8\"",
                                b"application/json ;  charset = Utf-8 "]):
            r = c.events(ndjson([event(i, prefix="cs")]), ct=ct)
            eq((r["status"], r["accepted"]), ("ok", 1), f"content type {ct!r}")
        eq(db.sql("SELECT DISTINCT content_type FROM submission ORDER BY 1"),
           [["application/json"], ["application/x-ndjson"]], "stored without parameters")
        for ct, msg in [
                (b"application/json; charset=iso-8859-1",
                 "charset 'iso-8859-1' is not supported: bodies must be UTF-8 "
                 "(charset=utf-8, or no charset)"),
                (b"application/json; boundary=x",
                 "the content type parameter 'boundary' is not supported; the only one "
                 "taken is charset=utf-8"),
                (b"application/json; charset",
                 "the content type parameter 'charset' has no value"),
                (b"text/plain; charset=utf-8",
                 "the content type must be application/json, application/x-ndjson, "
                 "application/cef, text/syslog or application/x-mapped-ndjson")]:
            r = c.events(ndjson([event(9, prefix="cs")]), ct=ct)
            eq((r["status"], r["error"], r["message"]),
               ("error", "unsupported_content_type", msg), f"content type {ct!r}")
        eq(db.count("submission"), 3, "refused ones not stored")
    finally:
        eq(d.stop(), 0, "bevisd exit code")


def test_whoami_in_the_pong(cluster):
    db = cluster.new_database()
    d = Daemon(db)
    try:
        r = Client(d.endpoint).request(b"PING", b"", b"")
        eq((r["protocol"], r["whoami"]), ("1.1", {"mechanism": "NULL"}), "plaintext pong")
    finally:
        eq(d.stop(), 0, "bevisd exit code")
    db = cluster.new_database(suppliers=())
    keys = Keys()
    pub, _ = keys.supplier(db, "skolplattform")
    d = curve_daemon(db, keys)
    try:
        c = curve_client(d, keys, "skolplattform")
        r = c.request(b"PING", b"", b"")
        eq(r["whoami"], {"mechanism": "CURVE", "supplier": "skolplattform",
                         "key_fingerprint": fingerprint(pub), "key_active": True},
           "CURVE pong")
        # bevis ping says it too.
        out = run_bevis(db, "ping", "--endpoint", d.endpoint, "--server-key",
                        keys.write("server.pub", keys.server_pub, 0o644), "--key",
                        keys.write("s.key", keys.suppliers["skolplattform"][1], 0o600))
        eq((out.returncode, out.stdout.decode().splitlines()[1:]),
           (0, [f"this key: {fingerprint(pub)}, supplier skolplattform, active"]),
           "bevis ping: " + out.stderr.decode())
        db.sql("SELECT bevis_supplier_revoke('skolplattform')")
        d.proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        r = c.request(b"PING", b"", b"")
        eq(r["whoami"], {"mechanism": "CURVE", "supplier": None,
                         "key_fingerprint": fingerprint(pub), "key_active": False},
           "pong on a connection whose key was revoked")
    finally:
        eq(d.stop(), 0, "bevisd exit code")


class CurveSender(threading.Thread):
    """Sends events rot-N, 20 a request, one request at a time, with one key
    pair, until stopped; keeps every reply by request id."""

    def __init__(self, d, keys, pub, sec):
        super().__init__(daemon=True)
        self.d, self.keys, self.pub, self.sec = d, keys, pub, sec
        self.replies, self.bodies = {}, {}
        self.stop_ev = threading.Event()
        self.exc = None

    def run(self):
        try:
            ctx = zmq.Context.instance()
            s = ctx.socket(zmq.DEALER)
            s.setsockopt(zmq.LINGER, 0)
            s.curve_serverkey = self.keys.server_pub
            s.curve_publickey, s.curve_secretkey = self.pub, self.sec
            s.connect(self.d.endpoint)
            n = 0
            while not self.stop_ev.is_set():
                rid = f"rot-{n}".encode()
                body = ndjson([{k: v for k, v in event(n * 20 + i, prefix="rot").items()
                                if k != "supplier"} for i in range(20)])
                s.send_multipart([b"bevis/1", b"EVENTS", rid, ND, body])
                check(s.poll(30000), f"no reply to {rid!r}")
                f = s.recv_multipart()
                self.replies[rid], self.bodies[rid] = json.loads(f[2]), body
                n += 1
                time.sleep(0.02)
            s.close()
        except Exception as e:  # checked by the test
            self.exc = e


def test_rotation_keeps_the_supplier(cluster):
    db = cluster.new_database(suppliers=())
    keys = Keys()
    old_pub, old_sec = keys.supplier(db, "skolplattform")
    new_pub, new_sec = zmq.curve_keypair()
    new_file = keys.write("new.pub", new_pub, 0o644)
    isam = login(db, "bevis_isam")
    key, ledger_pub = keygen(keys.dir)
    d = curve_daemon(db, keys, ledger_key=key, checkpoint_interval=1)
    try:
        sender = CurveSender(d, keys, old_pub, old_sec)
        sender.start()
        wait_for(lambda: len(sender.replies) >= 5, 30, "the sender to get going")
        out = run_bevis(db, "--db", conninfo_as(db, isam), "supplier", "rotate",
                        "skolplattform", "--key-file", new_file, "--overlap", "4s")
        eq(out.returncode, 0, "rotate: " + out.stderr.decode())
        leaf = db.value("SELECT max(idx) FROM ledger_leaf "
                        "WHERE kind = 'supplier_key_rotation'")
        until = db.value("SELECT to_char(old_valid_until AT TIME ZONE 'UTC', "
                         "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM supplier_key_rotation")
        eq(out.stdout.decode().splitlines()[:2],
           [f"supplier skolplattform: key {fingerprint(old_pub)} rotated to "
            f"{fingerprint(new_pub)} by {isam}; ledger leaf {leaf}",
            f"the old key is valid until {until}, then refused; the supplier keeps its "
            f"name, its events and its request ids"], "rotate output")
        d.proc.send_signal(signal.SIGHUP)
        # Both keys work in the overlap; each pong says which one it is.
        keys.suppliers["skolplattform-new"] = (new_pub, new_sec)
        newc = wait_for(lambda: _served(d, keys, "skolplattform-new"), 10,
                        "the new key to be admitted")
        w = newc.request(b"PING", b"", b"")["whoami"]
        eq(w, {"mechanism": "CURVE", "supplier": "skolplattform",
               "key_fingerprint": fingerprint(new_pub), "key_active": True}, "new key's pong")
        oldc = curve_client(d, keys, "skolplattform")
        w = oldc.request(b"PING", b"", b"")["whoami"]
        eq((w["key_fingerprint"], w["key_active"], w["key_valid_until"]),
           (fingerprint(old_pub), True, until), "old key's pong in the overlap")
        n_before = len(sender.replies)
        wait_for(lambda: len(sender.replies) >= n_before + 5, 30, "sending in the overlap")
        sender.stop_ev.set()
        sender.join(30)
        check(sender.exc is None, f"sender: {sender.exc}")
        eq({r["status"] for r in sender.replies.values()}, {"ok"}, "every reply ok")
        sent = sum(r["items"] for r in sender.replies.values())
        eq(db.count("event"), sent, "events the old key sent")
        # After the overlap the old key is refused: on its open connection...
        left = float(db.value("SELECT extract(epoch FROM old_valid_until - clock_timestamp()) "
                              "FROM supplier_key_rotation"))
        time.sleep(max(0.0, left + 0.3))
        r = oldc.events(ndjson([{k: v for k, v in event(10**6, prefix="rot").items()
                                 if k != "supplier"}]))
        eq((r["status"], r["error"]), ("error", "supplier_revoked"), "old key after the overlap")
        # ...and a new connection with it gets no session.
        late = curve_client(d, keys, "skolplattform")
        late.send(b"PING", b"", b"")
        try:
            late.recv(2)
            raise AssertionError("the old key got a session after its overlap")
        except TimeoutError:
            pass
        # The new key resends what the old one sent: same request ids are
        # replays, new request ids give duplicates. Nothing is stored twice.
        for rid, body in sender.bodies.items():
            r = newc.events(body, rid=rid)
            want = dict(sender.replies[rid], replay=True)
            eq(r, want, "same request id under the new key: a replay of the stored outcome")
            r = newc.events(body)
            eq((r["duplicate"], r["accepted"]), (20, 0), "old events under the new key")
        eq(db.count("event"), sent, "nothing stored twice")
        eq(dict(db.sql("SELECT key_fingerprint, count(*) FROM submission GROUP BY 1")),
           {fingerprint(new_pub): str(len(sender.bodies)),
            fingerprint(old_pub): str(len(sender.bodies))},
           "each submission records the key it came with")
        wait_for_head(db, int(db.value("SELECT count(*) FROM ledger_leaf")))
        rc, out, err = verify(db, ledger_pub)
        eq((rc, err), (0, ""), "bevis verify replays the rotation: " + out)
        # A rotation row changed behind the ledger's back is found.
        db.sql("ALTER TABLE supplier_key_rotation DISABLE TRIGGER ALL; "
               "UPDATE supplier_key_rotation SET actor = 'mallory'")
        rc, out, err = verify(db, ledger_pub)
        eq(rc, 1, "verify after tampering: " + out + err)
        check(f"leaf {leaf} (supplier skolplattform): the actor differs from its "
              f"supplier_key_rotation row" in out + err, out + err)
        # A rotated-out key is never a key again.
        out = run_bevis(db, "--db", conninfo_as(db, isam), "supplier", "add", "other",
                        "--public-key", old_pub.decode())
        eq(out.returncode, 1, "old key refused for another supplier")
        check(f"bevis: key {fingerprint(old_pub)} was rotated out by mallory"
              in out.stderr.decode(), out.stderr.decode())
    finally:
        eq(d.stop(), 0, "bevisd exit code")


def _served(d, keys, name):
    c = curve_client(d, keys, name)
    c.send(b"PING", b"", b"")
    try:
        c.recv(0.5)
        return c
    except TimeoutError:
        c.close()
        return None


def test_monitor_example_tells_each_refusal(cluster):
    """docs/PROTOCOL.md §1.3: the monitor snippet, run verbatim, tells an
    accepted key from a refused one, a wrong server key and a plaintext
    server."""
    import subprocess
    import sys
    from test_docs import extract
    code = extract("pyzmq-monitor")
    db = cluster.new_database(suppliers=())
    keys = Keys()
    _, sec = keys.supplier(db, "known")
    known = keys.write("known.key", sec, 0o600)
    stranger = keys.write("stranger.key", zmq.curve_keypair()[1], 0o600)
    server = keys.write("server.pub", keys.server_pub, 0o644)
    wrong = keys.write("wrong.pub", zmq.curve_keypair()[0], 0o644)

    def run(d, client, server_key):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=60, env=dict(os.environ, BEVIS_ENDPOINT=d.endpoint,
                                                  BEVIS_SERVER_KEY=server_key,
                                                  BEVIS_CLIENT_KEY=client))
        return out.returncode, out.stdout.strip()

    d = curve_daemon(db, keys)
    try:
        eq(run(d, known, server), (0, "the key is accepted"), "registered key")
        eq(run(d, stranger, server),
           (3, "the key is refused: unknown, revoked, rotated out, or too many sessions "
               "(ZAP status 400)"), "unknown key")
        eq(run(d, known, wrong)[0], 4, "wrong server key")
        # A plaintext client of the CURVE server: §1.3, second row.
        from zmq.utils.monitor import recv_monitor_message
        s = zmq.Context.instance().socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        mon = s.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                   zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                   zmq.EVENT_HANDSHAKE_SUCCEEDED)
        s.connect(d.endpoint)
        check(mon.poll(5000), "no handshake event for a plaintext client")
        got = recv_monitor_message(mon)["event"]
        check(got in (zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL),
              f"plaintext client of a CURVE server: {got!r}")
        s.disable_monitor()
        mon.close()
        s.close()
    finally:
        eq(d.stop(), 0, "bevisd exit code")
    d = Daemon(cluster.new_database())
    try:
        rc = run(d, known, server)[0]
        check(rc in (4, 5), f"CURVE against a plaintext server: exit {rc}, want 4 or 5 "
                            f"(libzmq reports either)")
    finally:
        eq(d.stop(), 0, "bevisd exit code")


def test_ping_example_over_curve_says_who(cluster):
    """docs/PROTOCOL.md §9.2 run verbatim with a key: it says who the key is."""
    import subprocess
    import sys
    from test_docs import extract
    db = cluster.new_database(suppliers=())
    keys = Keys()
    pub, sec = keys.supplier(db, "skolplattform")
    d = curve_daemon(db, keys)
    try:
        out = subprocess.run([sys.executable, "-c", extract("pyzmq-ping")],
                             capture_output=True, text=True, timeout=60,
                             env=dict(os.environ, BEVIS_ENDPOINT=d.endpoint,
                                      BEVIS_SERVER_KEY=keys.write("server.pub", keys.server_pub,
                                                                  0o644),
                                      BEVIS_CLIENT_KEY=keys.write("c.key", sec, 0o600)))
        eq(out.returncode, 0, "ping example: " + out.stderr)
        eq(out.stdout.splitlines()[1],
           f"this key: {fingerprint(pub)}, supplier skolplattform, active", "who am I")
        check(", protocol 1.1, " in out.stdout.splitlines()[0], out.stdout)
    finally:
        eq(d.stop(), 0, "bevisd exit code")
