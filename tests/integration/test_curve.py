"""Issue 4: suppliers authenticated by CURVE keys through ZAP, identity bound
to what they send, limits against hostile clients, least privilege."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import zmq

from bevistest import (BEVISD, ROOT, Client, Daemon, check, eq, event, free_port, ndjson)

ND = b"application/x-ndjson"


class Keys:
    """A server key pair and supplier key pairs, as files."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="bevis-curve-")
        os.chmod(self.dir, 0o755)
        self.server_pub, self.server_sec = zmq.curve_keypair()
        self.server_key = self.write("server.key", self.server_sec, 0o600)
        self.suppliers = {}

    def write(self, name, data, mode):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data + b"\n")
        os.chmod(path, mode)
        return path

    def supplier(self, db, name):
        pub, sec = zmq.curve_keypair()
        self.suppliers[name] = (pub, sec)
        db.sql(f"SELECT bevis_supplier_add('{name}', '{pub.decode()}')")
        return pub, sec


def curve_client(d, keys, name, kind=zmq.DEALER):
    c = Client.__new__(Client)
    c.endpoint, c.kind, c.ctx, c.sock = d.endpoint, kind, zmq.Context.instance(), None
    pub, sec = keys.suppliers[name]
    c.sock = c.ctx.socket(kind)
    c.sock.setsockopt(zmq.LINGER, 0)
    c.sock.curve_serverkey = keys.server_pub
    c.sock.curve_publickey = pub
    c.sock.curve_secretkey = sec
    c.sock.connect(d.endpoint)
    return c


def curve_daemon(db, keys, **opts):
    return Daemon(db, curve_secret_key=keys.server_key, **opts)


def test_suppliers_are_who_their_keys_say(cluster):
    db = cluster.new_database(suppliers=())
    keys = Keys()
    keys.supplier(db, "skolplattform")
    keys.supplier(db, "stadsnat")
    d = curve_daemon(db, keys)
    try:
        a = curve_client(d, keys, "skolplattform")
        rep = a.events(ndjson([{k: v for k, v in event(1).items() if k != "supplier"},
                               event(2, supplier="skolplattform"),
                               event(3, supplier="stadsnat")]))
        eq([o["outcome"] for o in rep["outcomes"]], ["accepted", "accepted", "quarantined"],
           "outcomes")
        eq(rep["outcomes"][2]["reason"],
           "supplier mismatch: item names 'stadsnat', key belongs to 'skolplattform'", "reason")
        fp = db.value("SELECT bevis_curve_fingerprint(public_key) FROM supplier "
                      "WHERE name = 'skolplattform'")
        eq(db.sql("SELECT sp.name, s.key_fingerprint FROM submission s "
                  "JOIN supplier sp ON sp.id = s.supplier_id"), [["skolplattform", fp]],
           "submission stamped with supplier and key")
        eq(db.value("SELECT count(*) FROM event e JOIN supplier sp ON sp.id = e.supplier_id "
                    "WHERE sp.name = 'skolplattform'"), "2", "events of the key's supplier")
        # Request ids are per supplier: the other supplier may reuse one.
        b = curve_client(d, keys, "stadsnat")
        eq(b.events(ndjson([event(9, supplier="stadsnat")]), rid=b"r-1")["accepted"], 1, "b")
        eq(a.events(ndjson([event(10, supplier="skolplattform")]), rid=b"r-1")["accepted"], 1,
           "a, same request id")
    finally:
        eq(d.stop(), 0, "bevisd exit code")


def test_unknown_key_and_plaintext_get_no_session(cluster):
    db = cluster.new_database(suppliers=())
    keys = Keys()
    keys.supplier(db, "known")
    d = curve_daemon(db, keys)
    try:
        keys.suppliers["stranger"] = zmq.curve_keypair()
        s = curve_client(d, keys, "stranger")
        s.send(b"EVENTS", ND, ndjson([event(1, supplier="known")]))
        try:
            s.recv(2)
            raise AssertionError("an unknown key got a reply")
        except TimeoutError:
            pass
        p = Client(d.endpoint)  # plaintext against a CURVE server
        p.send(b"EVENTS", ND, ndjson([event(2, supplier="known")]))
        try:
            p.recv(1)
            raise AssertionError("a plaintext client got a reply")
        except TimeoutError:
            pass
        eq(db.count("submission"), 0, "nothing stored")
        check("refused a connection from" in d.logtext(), "refusal logged")
        # The known key is served in the same run.
        eq(curve_client(d, keys, "known").events(ndjson([event(3, supplier="known")]))
           ["accepted"], 1, "known key")
    finally:
        eq(d.stop(), 0, "bevisd exit code")


def test_revoked_supplier_is_refused_after_sighup(cluster):
    db = cluster.new_database(suppliers=())
    keys = Keys()
    keys.supplier(db, "leaving")
    d = curve_daemon(db, keys)
    try:
        c = curve_client(d, keys, "leaving")
        eq(c.events(ndjson([event(1, supplier="leaving")]))["accepted"], 1, "before")
        db.sql("SELECT bevis_supplier_revoke('leaving')")
        d.proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        # The open session's next request is refused...
        rep = c.events(ndjson([event(2, supplier="leaving")]))
        eq((rep["status"], rep["error"]), ("error", "supplier_revoked"), "open session")
        # ...and a new connection gets none.
        n = curve_client(d, keys, "leaving")
        n.send(b"EVENTS", ND, ndjson([event(3, supplier="leaving")]))
        try:
            n.recv(2)
            raise AssertionError("a revoked key got a reply")
        except TimeoutError:
            pass
        eq(db.count("event"), 1, "only the event from before")
    finally:
        eq(d.stop(), 0, "bevisd exit code")


def test_flooding_supplier_gets_busy_and_others_are_served(cluster):
    db = cluster.new_database(suppliers=())
    keys = Keys()
    keys.supplier(db, "flood")
    keys.supplier(db, "calm")
    # A slow database makes requests pile up: 20 ms per submission row.
    db.sql("CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS "
           "$$BEGIN PERFORM pg_sleep(0.02); RETURN NEW; END$$; "
           "CREATE TRIGGER slow BEFORE INSERT ON submission FOR EACH ROW EXECUTE FUNCTION slow()")
    d = curve_daemon(db, keys, supplier_inflight_bytes="256KiB", writers=1)
    try:
        f = curve_client(d, keys, "flood")
        body = ndjson([event(i, supplier="flood", message="x" * 400) for i in range(200)])
        rids = [f.send(b"EVENTS", ND, body) for _ in range(40)]
        c = curve_client(d, keys, "calm")
        calm = c.events(ndjson([event(100000, supplier="calm")]), timeout=60)
        eq(calm["accepted"], 1, "the calm supplier is served meanwhile")
        statuses = {}
        for _ in rids:
            rid, rep = f.recv(60)
            statuses[rid] = rep
        busy = [r for r in statuses.values() if r["status"] == "busy"]
        ok = [r for r in statuses.values() if r["status"] == "ok"]
        check(busy and ok, f"some busy, some stored: {len(busy)} busy, {len(ok)} ok")
        check(all(r["retry_after_ms"] > 0 for r in busy), "retry_after_ms")
        eq(len(busy) + len(ok), 40, "every request answered")
        eq(int(db.value("SELECT count(*) FROM submission s JOIN supplier sp ON "
                        "sp.id = s.supplier_id WHERE sp.name = 'flood'")), len(ok),
           "a busy request stores nothing")
    finally:
        eq(d.stop(), 0, "bevisd exit code")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_hostile_messages_do_not_hurt(cluster):
    """A 100 MiB message, zero frames, 1,000 frames and junk, in plaintext
    on loopback so that they reach the protocol layer; bevisd stays within
    its memory bound and serves the next good client."""
    db = cluster.new_database()
    d = Daemon(db, max_message_size="1MiB")
    try:
        base = rss_kib(d.proc.pid)
        ctx = zmq.Context.instance()
        big = ctx.socket(zmq.DEALER)
        big.setsockopt(zmq.LINGER, 0)
        big.connect(d.endpoint)
        big.send_multipart([b"bevis/1", b"EVENTS", b"big", ND, b"x" * (100 << 20)])
        time.sleep(2)
        big.close()
        grown = rss_kib(d.proc.pid) - base
        check(grown < 16 * 1024, f"RSS grew by {grown} KiB for a 100 MiB message")
        c = Client(d.endpoint)
        c.send(None, None, None, frames=[b""])
        eq(c.recv(10)[1]["error"], "bad_frames", "an empty frame only")
        c.send(None, None, None, frames=[b"f%d" % i for i in range(1000)])
        eq(c.recv(10)[1]["error"], "bad_frames", "1,000 frames")
        c.send(None, None, None, frames=[os.urandom(64) for _ in range(5)])
        eq(c.recv(10)[1]["status"], "error", "junk in every frame")
        # A raw TCP client speaking no ZMTP at all.
        host, port = d.endpoint[len("tcp://"):].rsplit(":", 1)
        with socket.create_connection((host, int(port))) as s:
            s.sendall(os.urandom(4096))
            time.sleep(0.2)
        eq(Client(d.endpoint).events(ndjson([event(1)]))["accepted"], 1, "then a good client")
    finally:
        eq(d.stop(), 0, "bevisd exit code")


def test_too_many_items_and_too_large_items(cluster):
    db = cluster.new_database()
    d = Daemon(db, max_items=10, max_item_bytes=300)
    try:
        c = Client(d.endpoint)
        rep = c.events(ndjson([event(i) for i in range(11)]))
        eq((rep["status"], rep["error"]), ("error", "too_many_items"), "11 items")
        rep = c.events(ndjson([event(1), event(2, message="y" * 400)]))
        eq([o["outcome"] for o in rep["outcomes"]], ["accepted", "quarantined"], "outcomes")
        check(rep["outcomes"][1]["reason"].startswith("the item has "), rep["outcomes"][1])
        eq(db.count("submission"), 1, "the refused request stored nothing")
    finally:
        eq(d.stop(), 0, "bevisd exit code")


def start_fails(conf_text, keys_dir=None):
    tmp = tempfile.mkdtemp(prefix="bevisd-bad-")
    conf = os.path.join(tmp, "bevisd.conf")
    with open(conf, "w") as f:
        f.write(conf_text)
    out = subprocess.run([BEVISD, "-f", "-c", conf], capture_output=True, text=True, timeout=20)
    shutil.rmtree(tmp)
    return out


def test_refusals_at_start(cluster):
    keys = Keys()
    loose = keys.write("loose.key", keys.server_sec, 0o644)
    user = "user = nobody\n" if os.getuid() == 0 else ""
    out = start_fails(f"[bevisd]\ncurve_secret_key = {loose}\n{user}")
    eq(out.returncode, 1, "loose key exit code")
    check("must not be readable by group or others" in out.stderr, out.stderr)
    out = start_fails(f"[bevisd]\nendpoint = tcp://0.0.0.0:{free_port()}\nallow_plaintext = yes\n{user}")
    eq(out.returncode, 1, "plaintext on a public endpoint")
    check("only on a loopback or ipc endpoint" in out.stderr, out.stderr)
    out = start_fails(f"[bevisd]\nendpoint = tcp://127.0.0.1:{free_port()}\n{user}")
    eq(out.returncode, 1, "no key and no plaintext")
    check("no curve_secret_key" in out.stderr, out.stderr)
    if os.getuid() == 0:
        out = start_fails(f"[bevisd]\nendpoint = tcp://127.0.0.1:{free_port()}\n"
                          "allow_plaintext = yes\n")
        eq(out.returncode, 1, "root without user")
        check("refuses to run as root" in out.stderr, out.stderr)


def test_systemd_unit_verifies(cluster):
    if shutil.which("systemd-analyze") is None:
        return
    tmp = tempfile.mkdtemp(prefix="bevis-unit-")
    with open(os.path.join(ROOT, "systemd", "bevisd.service")) as f:
        unit = f.read().replace("@SBINDIR@", os.path.dirname(BEVISD))
    path = os.path.join(tmp, "bevisd.service")
    with open(path, "w") as f:
        f.write(unit)
    out = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True)
    shutil.rmtree(tmp)
    eq((out.returncode, out.stderr.strip()), (0, ""), "systemd-analyze verify")


def test_plaintext_only_on_literal_loopback(cluster):
    """Issue 10 item 11: libzmq binds what follows a ';' (the source part),
    so a string that starts with 127.0.0.1 may serve on every interface."""
    port = free_port()
    refused = [f"tcp://127.0.0.1:1;0.0.0.0:{port}", f"tcp://localhost:{port}",
               f"tcp://lo:{port}", f"tcp://*:{port}", f"tcp://127.0.0.1.nip.io:{port}",
               f"tcp://[::ffff:10.0.0.1]:{port}", "inproc://bevis"]
    allowed = [f"tcp://127.0.0.1:{port}", f"tcp://127.1.2.3:{port}",
               f"tcp://[::1]:{port}", f"tcp://[::ffff:127.0.0.1]:{port}",
               "ipc:///tmp/bevis-test.sock"]
    tmp = tempfile.mkdtemp(prefix="bevisd-ep-")
    conf = os.path.join(tmp, "bevisd.conf")
    try:
        for ep in refused + allowed:
            with open(conf, "w") as f:
                f.write(f"[bevisd]\nendpoint = {ep}\nallow_plaintext = yes\n")
            out = subprocess.run([BEVISD, "-n", "-c", conf], capture_output=True,
                                 text=True, timeout=20)
            if ep in refused:
                eq(out.returncode, 1, f"bevisd -n exit code for {ep}")
                check("only on a loopback or ipc endpoint" in out.stderr, out.stderr)
            else:
                eq((out.returncode, out.stdout), (0, "configuration OK\n"), ep)
    finally:
        shutil.rmtree(tmp)
    # And at start: the bypass string never gets to bind.
    user = "user = nobody\n" if os.getuid() == 0 else ""
    out = start_fails(f"[bevisd]\nendpoint = tcp://127.0.0.1:1;0.0.0.0:{port}\n"
                      f"allow_plaintext = yes\n{user}")
    eq(out.returncode, 1, "bevisd refuses the bypass string at start")
    check("only on a loopback or ipc endpoint" in out.stderr, out.stderr)
    with socket.socket() as s:
        eq(s.connect_ex(("127.0.0.1", port)), 111, "nothing listens on the port")
