"""Helpers for the integration tests: a real PostgreSQL cluster in a temporary
directory, real bevisd processes and real ZeroMQ sockets."""
import collections
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

import zmq

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
BEVIS = os.path.join(BUILD, "bevis")
BEVISD = os.path.join(BUILD, "bevisd")
PGBIN = os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin")
SANITIZE = os.environ.get("SANITIZE", "0") == "1"
VERSION = b"bevis/1"


class TestFailure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def eq(got, want, what):
    if got != want:
        raise TestFailure(f"{what}: got {got!r}, want {want!r}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """One PostgreSQL cluster for the whole run; one database per test."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="bevis-pg-")
        self.port = free_port()
        subprocess.run(["sh", os.path.join(ROOT, "tests/pgctl.sh"), "start",
                        self.dir, str(self.port)], check=True,
                       stdout=subprocess.DEVNULL, env=dict(os.environ, PGBIN=PGBIN))
        self.sock = os.path.join(self.dir, "run")
        self.n = 0

    def conninfo(self, db):
        return f"host={self.sock} port={self.port} dbname={db} user=postgres"

    def new_database(self, suppliers=("demo",)):
        self.n += 1
        name = f"t{self.n}"
        subprocess.run([os.path.join(PGBIN, "createdb"), "-h", self.sock, "-p",
                        str(self.port), "-U", "postgres", name], check=True)
        db = Database(self, name)
        out = subprocess.run([BEVIS, "--db", db.conninfo, "migrate"],
                             capture_output=True, text=True)
        check(out.returncode == 0, f"bevis migrate failed: {out.stderr}")
        for s in suppliers:
            db.sql(f"INSERT INTO supplier (name) VALUES ('{s}')")
        return db

    def stop(self):
        subprocess.run(["sh", os.path.join(ROOT, "tests/pgctl.sh"), "stop",
                        self.dir, str(self.port)], env=dict(os.environ, PGBIN=PGBIN))
        shutil.rmtree(self.dir, ignore_errors=True)

    # An outage: PostgreSQL stops (fast: sessions are cut, open transactions
    # roll back) and starts again on the same data directory, port and socket.
    # pgctl.sh stop only runs pg_ctl stop; the data directory stays.
    def pg_stop(self):
        subprocess.run(["sh", os.path.join(ROOT, "tests/pgctl.sh"), "stop",
                        self.dir, str(self.port)], check=True,
                       stdout=subprocess.DEVNULL, env=dict(os.environ, PGBIN=PGBIN))
        check(not os.path.exists(os.path.join(self.dir, "data", "postmaster.pid")),
              "PostgreSQL did not stop")

    def pg_start(self):
        subprocess.run(["sh", os.path.join(ROOT, "tests/pgctl.sh"), "start",
                        self.dir, str(self.port)], check=True,
                       stdout=subprocess.DEVNULL, env=dict(os.environ, PGBIN=PGBIN))


@contextlib.contextmanager
def own_cluster():
    """A cluster of the test's own, for tests that stop PostgreSQL, so no
    other test ever sees the outage. Stopped and removed however the test
    ends."""
    c = Cluster()
    try:
        yield c
    finally:
        c.stop()


class Database:
    def __init__(self, cluster, name):
        self.cluster = cluster
        self.name = name
        self.conninfo = cluster.conninfo(name)

    def sql(self, query):
        """Runs query with psql; returns the rows as lists of strings."""
        out = subprocess.run([os.path.join(PGBIN, "psql"), "-X", "-At", "-F", "\t",
                              "-v", "ON_ERROR_STOP=1", "-d", self.conninfo, "-c", query],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise TestFailure(f"psql failed: {query}: {out.stderr}")
        return [line.split("\t") for line in out.stdout.splitlines()]

    def value(self, query):
        rows = self.sql(query)
        return rows[0][0] if rows else None

    def count(self, table, where="true"):
        return int(self.value(f"SELECT count(*) FROM {table} WHERE {where}"))


class Daemon:
    """One bevisd with a config file and a state directory of its own in
    self.dir. start() runs it; kill() and restart()
    give crash tests a new process on the same config, port and state_dir.
    state_dir=None leaves the option out of the file."""

    def __init__(self, db, valgrind=False, **options):
        self.db = db
        self.dir = tempfile.mkdtemp(prefix="bevisd-")
        self.endpoint = options.pop("endpoint", None) or f"tcp://127.0.0.1:{free_port()}"
        self.conf = os.path.join(self.dir, "bevisd.conf")
        opts = {"endpoint": self.endpoint, "db": db.conninfo, "log_level": "info"}
        # Plaintext unless a test gives the server a CURVE key.
        if "curve_secret_key" not in options:
            opts["allow_plaintext"] = "yes"
        # bevisd will not run as root; CI is root.
        if os.getuid() == 0:
            opts["user"] = "nobody"
            os.chmod(self.dir, 0o755)
        # Each daemon spools into its own state directory (bevisd creates it
        # and, started as root, hands it to its user).
        if "state_dir" in options:
            if options["state_dir"] is None:
                del options["state_dir"]
        else:
            options["state_dir"] = os.path.join(self.dir, "state")
        self.state_dir = options.get("state_dir")
        self.spool_dir = os.path.join(self.state_dir, "spool") if self.state_dir else None
        opts.update({k: str(v) for k, v in options.items()})
        self.opts = opts
        with open(self.conf, "w") as f:
            f.write("[bevisd]\n")
            for k, v in opts.items():
                f.write(f"{k} = {v}\n")
        os.chmod(self.conf, 0o644)
        self.log = os.path.join(self.dir, "bevisd.log")
        self.valgrind = valgrind and not SANITIZE
        self.starts = 0
        self.log_mark = 0
        self.start()

    def start(self, ready_seconds=None):
        """Runs bevisd on this config; the log of a restart is appended, and
        logtext(since_start=True) reads only the newest process's part."""
        cmd = [BEVISD, "-f", "-c", self.conf]
        if self.valgrind:
            self.vglog = os.path.join(self.dir, "valgrind.log")
            cmd = ["valgrind", "--error-exitcode=99", "--leak-check=full",
                   "--errors-for-leak-kinds=definite", "--track-fds=no",
                   f"--log-file={self.vglog}"] + cmd
        self.log_mark = os.path.getsize(self.log) if os.path.exists(self.log) else 0
        self.signalled = False
        with open(self.log, "a" if self.starts else "w") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        self.starts += 1
        self.wait_ready(ready_seconds or (60 if self.valgrind else 10))

    def restart(self, ready_seconds=None):
        """A new bevisd on the same config file, endpoint and state_dir. The
        old one must have exited (kill() or stop() first)."""
        check(self.proc.poll() is not None, "restart: bevisd is still running")
        self.start(ready_seconds)

    def kill(self):
        """SIGKILL, as a crash: nothing is flushed, nothing is answered."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            raise TestFailure("bevisd did not die on SIGKILL")
        return self.proc.returncode

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc.poll() is None

    def wait_ready(self, seconds):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise TestFailure(f"bevisd exited with {self.proc.returncode}: "
                                  f"{self.logtext()}")
            if "allow_plaintext" not in self.opts:
                # A CURVE server answers no plaintext PING: read its log.
                if " ready: " in self.logtext(since_start=True):
                    return
                time.sleep(0.05)
                continue
            try:
                reply = Client(self.endpoint).request(b"PING", b"", b"", timeout=0.5)
                if reply.get("status") == "ok":
                    return
            except TimeoutError:
                pass
        raise TestFailure("bevisd did not answer PING: " + self.logtext())

    def logtext(self, since_start=False):
        with open(self.log, "rb") as f:
            if since_start:
                f.seek(self.log_mark)
            return f.read().decode(errors="replace")

    def terminate(self):
        """The first SIGTERM: bevisd drains; stop() then only waits."""
        self.signalled = True
        self.proc.terminate()

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc.poll() is None:
            if not getattr(self, "signalled", False):
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise TestFailure("bevisd did not stop on " + str(sig))
        rc = self.proc.returncode
        if self.valgrind:
            with open(self.vglog) as f:
                vg = f.read()
            check(rc != 99, "valgrind found errors:\n" + vg[-4000:])
        return rc


class Client:
    """A protocol v1 client on a DEALER (default) or REQ socket."""

    def __init__(self, endpoint, kind=zmq.DEALER):
        self.endpoint = endpoint
        self.kind = kind
        self.ctx = zmq.Context.instance()
        self.sock = None
        self.open()

    def open(self):
        if self.sock is not None:
            self.sock.close(linger=0)
        self.sock = self.ctx.socket(self.kind)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(self.endpoint)

    def send(self, cmd, ct, body, rid=None, frames=None):
        rid = rid if rid is not None else uuid.uuid4().hex.encode()
        if frames is None:
            frames = [VERSION, cmd, rid, ct, body]
        if self.kind == zmq.DEALER:
            frames = [b""] + frames if getattr(self, "delim", False) else frames
        self.sock.send_multipart(frames)
        return rid

    def recv(self, timeout=30.0):
        if not self.sock.poll(int(timeout * 1000)):
            raise TimeoutError("no reply")
        frames = self.sock.recv_multipart()
        if frames and frames[0] == b"":
            frames = frames[1:]
        if len(frames) != 3 or frames[0] != VERSION:
            raise TestFailure(f"bad reply frames: {frames[:3]!r}")
        return frames[1], json.loads(frames[2])

    def request(self, cmd, ct, body, rid=None, timeout=30.0, frames=None):
        sent = self.send(cmd, ct, body, rid, frames)
        rid, reply = self.recv(timeout)
        if frames is None:
            eq(rid, sent, "reply request id")
        return reply

    def events(self, body, ct=b"application/x-ndjson", rid=None, timeout=60.0):
        return self.request(b"EVENTS", ct, body, rid, timeout)

    def close(self):
        self.sock.close(linger=0)


def event(i, supplier="demo", prefix="ev", **extra):
    e = {"supplier": supplier, "id": f"{prefix}-{i:07d}",
         "time": "2026-10-%02dT%02d:%02d:%02dZ" % (1 + i % 28, i % 24, i % 60, i % 60),
         "severity": i % 7, "category": "authentication", "action": "login",
         "outcome": "failure" if i % 5 == 0 else "success",
         "actor": {"user": f"user{i % 97}"}, "src": {"ip": f"10.{i % 250}.{i % 200}.{i % 100 + 1}"},
         "target": "elevportal", "message": f"sign-in number {i}", "seq": i}
    e.update(extra)
    return e


def ndjson(events):
    return b"".join(json.dumps(e, ensure_ascii=False).encode() + b"\n" for e in events)


def sha256_hex(b):
    return hashlib.sha256(b).hexdigest()


def run_bevis(db, *args, input=None, env=None):
    e = dict(os.environ)
    for k in ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE", "BEVIS_CONFIG"):
        e.pop(k, None)
    if env:
        e.update(env)
    return subprocess.run([BEVIS, *args], capture_output=True, input=input, env=e)


# ---------------------------------------------------------------------------
# Fault tests (the reliability issue): an acknowledged item is never lost, a
# resent item is never stored twice. Helpers for tests/integration/test_faults.py.

def wait_for(cond, seconds, what, interval=0.05):
    """Polls cond() until it returns something true, and returns that. Only a
    deadline that means "hung" fails."""
    deadline = time.monotonic() + seconds
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TestFailure(f"timed out after {seconds} s waiting for {what}")
        time.sleep(interval)


# --- The sequence checker, after rsyslog's chkseq ---------------------------

class SeqReport:
    """What chkseq found. missing: acknowledged seqs not stored; dup_seq: seqs
    stored in more than one row; dup_id: event ids stored more than once;
    unexpected: seqs stored that were never sent; bad_id: rows whose id does
    not end in its seq; dup_bodies: request bodies stored as more than one
    submission (every request body of a fault test is unique, so a body stored
    twice is a request stored twice)."""

    def __init__(self):
        self.stored = 0
        self.acked = 0
        self.sent = 0
        self.missing = []
        self.dup_seq = []       # (seq, rows)
        self.dup_id = []        # (id, rows)
        self.unexpected = []
        self.bad_id = []
        self.null_seq = 0
        self.dup_bodies = []    # (sha256 hex, submissions)
        self.unacked_stored = 0  # sent, not acknowledged, stored: allowed

    def ok(self):
        return not (self.missing or self.dup_seq or self.dup_id or self.unexpected
                    or self.bad_id or self.null_seq or self.dup_bodies)

    def summary(self):
        return (f"{self.stored} rows stored, {self.acked} acknowledged, {self.sent} sent; "
                f"missing {len(self.missing)}, duplicated seq {len(self.dup_seq)}, "
                f"duplicated id {len(self.dup_id)}, unexpected {len(self.unexpected)}, "
                f"id/seq mismatch {len(self.bad_id)}, null seq {self.null_seq}, "
                f"bodies stored twice {len(self.dup_bodies)}; "
                f"stored but not acknowledged {self.unacked_stored}")

    def details(self):
        out = [self.summary()]
        for name, items in (("missing", self.missing), ("duplicated seq", self.dup_seq),
                            ("duplicated id", self.dup_id), ("unexpected", self.unexpected),
                            ("id/seq mismatch", self.bad_id),
                            ("bodies stored twice", self.dup_bodies)):
            if items:
                out.append(f"  first {name} (of {len(items)}): {items[:20]}")
        return "\n".join(out)

    __str__ = summary


def chkseq(db, supplier_id, acked, sent, check_bodies=True):
    """Checks the event table against what was sent and acknowledged.
    supplier_id: only that supplier's rows (None: all). acked: the seqs whose
    request got an acknowledgement (ok or spooled). sent: every seq put in any
    request, as a collection, or an int n for 0 <= seq < n."""
    where = f"WHERE supplier_id = {int(supplier_id)}" if supplier_id is not None else ""
    rows = db.sql(f"SELECT coalesce(seq::text, ''), source_event_id FROM event {where}")
    r = SeqReport()
    r.stored = len(rows)
    acked = set(acked)
    r.acked = len(acked)
    in_sent = (lambda q: 0 <= q < sent) if isinstance(sent, int) else sent.__contains__
    r.sent = sent if isinstance(sent, int) else len(sent)
    by_seq = collections.Counter()
    by_id = collections.Counter()
    for seq, eid in rows:
        by_id[eid] += 1
        if seq == "":
            r.null_seq += 1
            continue
        q = int(seq)
        by_seq[q] += 1
        m = re.search(r"-(\d+)$", eid)
        if m and int(m.group(1)) != q:
            r.bad_id.append((q, eid))
    r.missing = sorted(q for q in acked if q not in by_seq)
    r.dup_seq = sorted((q, n) for q, n in by_seq.items() if n > 1)
    r.dup_id = sorted((i, n) for i, n in by_id.items() if n > 1)
    r.unexpected = sorted(q for q in by_seq if not in_sent(q))
    r.unacked_stored = sum(1 for q in by_seq if q not in acked)
    if check_bodies:
        r.dup_bodies = [tuple(x) for x in db.sql(
            "SELECT encode(sha256, 'hex'), count(*) FROM submission "
            # A plaintext server stores submissions with no supplier.
            + (f"WHERE supplier_id = {int(supplier_id)} OR supplier_id IS NULL "
               if supplier_id is not None else "")
            + "GROUP BY sha256 HAVING count(*) > 1 ORDER BY 1")]
    return r


def assert_chkseq(report, what="sequence check"):
    """Fails with the counts and the first 20 missing/duplicated ids."""
    if not report.ok():
        raise TestFailure(f"{what}: {report.details()}")


# --- A retrying sender ------------------------------------------------------

class _Req:
    __slots__ = ("rid", "seqs", "frames", "sent_at", "due", "sends")

    def __init__(self, rid, seqs, frames, now):
        self.rid = rid
        self.seqs = seqs
        self.frames = frames
        self.sent_at = None     # None: to be sent at self.due
        self.due = now
        self.sends = 0


class Sender(threading.Thread):
    """Sends numbered events (event(seq), see event()) in requests of
    per_request events, up to `window` requests unanswered, on a DEALER
    socket of its own (zmq sockets are not thread safe), like a careful
    client of PROTOCOL.md §6.5:

    - no reply within `timeout` s: close and reopen the socket and resend
      every unanswered request, same request id, same body;
    - busy: resend after retry_after_ms; error unavailable/internal: resend
      after retry_wait s; any other error: the request failed for good
      (self.failed), its events are not acknowledged;
    - ok or spooled: the request's seqs are acknowledged.

    finish(): no new requests, but keep resending until everything sent is
    acknowledged. stop(): give up at once. Gives up by itself at `deadline`
    seconds after start. `pause` s between new requests paces the stream."""

    def __init__(self, endpoint, seqs, per_request=100, window=1, timeout=2.0,
                 name="sender", prefix="ev", supplier="demo", pause=0.0,
                 retry_wait=0.5, deadline=120.0):
        super().__init__(name=name, daemon=True)
        self.endpoint = endpoint
        self.seqs = iter(seqs)
        self.per_request = per_request
        self.window = window
        self.timeout = timeout
        self.prefix = prefix
        self.supplier = supplier
        self.pause = pause
        self.retry_wait = retry_wait
        self.deadline_s = deadline
        self.rid_prefix = f"{name}-{uuid.uuid4().hex[:8]}"
        self._finish_ev = threading.Event()
        self._stop_ev = threading.Event()
        self.lock = threading.Lock()
        # What happened, for the checks. Read them after join(), or under lock.
        self.issued = set()      # every seq put in a request
        self.acked = set()       # seqs of requests answered ok or spooled
        self.ok_seqs = set()     # ... answered ok
        self.spooled_seqs = set()
        self.statuses = collections.Counter()   # replies seen, by status
        self.errors = collections.Counter()     # error replies, by code
        self.requests = 0        # requests made (not counting resends)
        self.sends = 0           # messages sent, resends included
        self.timeouts = 0        # times the socket was reopened
        self.replays = 0         # ok replies with "replay": true
        self.late = 0            # replies to requests already answered
        self.dup_outcomes = 0    # "duplicate" items in first, non-replay ok replies
        self.anomalies = []      # replies that do not add up
        self.failed = {}         # rid -> reply, refused for good
        self.acked_requests = {}  # rid -> (status, seqs)
        self.outstanding = 0
        self.gave_up = False
        self.exc = None

    # control, from any thread
    def finish(self):
        self._finish_ev.set()

    def stop(self):
        self._stop_ev.set()

    @property
    def acked_count(self):
        return len(self.acked)

    def _socket(self, ctx):
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(self.endpoint)
        return sock

    def _new_request(self, now):
        seqs = []
        for q in self.seqs:
            seqs.append(q)
            if len(seqs) == self.per_request:
                break
        if not seqs:
            return None
        self.requests += 1
        rid = f"{self.rid_prefix}-{self.requests}".encode()
        body = ndjson([event(q, supplier=self.supplier, prefix=self.prefix) for q in seqs])
        with self.lock:
            self.issued.update(seqs)
        return _Req(rid, seqs, [VERSION, b"EVENTS", rid, b"application/x-ndjson", body], now)

    def run(self):
        try:
            self._run()
        except Exception as e:  # reported by join_senders()
            self.exc = e

    def _run(self):
        ctx = zmq.Context.instance()
        sock = self._socket(ctx)
        pending = {}
        exhausted = False
        next_new = time.monotonic()
        give_up_at = time.monotonic() + self.deadline_s
        try:
            while not self._stop_ev.is_set():
                now = time.monotonic()
                if now > give_up_at:
                    self.gave_up = True
                    break
                while (not exhausted and not self._finish_ev.is_set()
                       and len(pending) < self.window and now >= next_new):
                    r = self._new_request(now)
                    if r is None:
                        exhausted = True
                        break
                    pending[r.rid] = r
                    next_new = now + self.pause
                self.outstanding = len(pending)
                if not pending and (exhausted or self._finish_ev.is_set()):
                    break
                if any(r.sent_at is not None and now - r.sent_at > self.timeout
                       for r in pending.values()):
                    # Lazy Pirate: a new socket, and everything unanswered again.
                    self.timeouts += 1
                    sock.close(linger=0)
                    sock = self._socket(ctx)
                    for r in pending.values():
                        if r.sent_at is not None:
                            r.sent_at = None
                            r.due = now
                blocked = False
                for r in pending.values():
                    if r.sent_at is None and r.due <= now:
                        try:
                            sock.send_multipart(r.frames, flags=zmq.NOBLOCK)
                        except zmq.Again:   # high-water mark: later
                            blocked = True
                            break
                        r.sent_at = now
                        r.sends += 1
                        self.sends += 1
                # Sleep until a reply, a timeout, a resend or a new request is due.
                wake = now + 0.1
                for r in pending.values():
                    wake = min(wake, r.sent_at + self.timeout if r.sent_at is not None
                               else r.due)
                if not exhausted and not self._finish_ev.is_set() and len(pending) < self.window:
                    wake = min(wake, next_new)
                if blocked:
                    wake = min(wake, now + 0.01)
                ms = max(0, int((wake - time.monotonic()) * 1000))
                if sock.poll(ms):
                    while True:
                        try:
                            frames = sock.recv_multipart(flags=zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        self._reply(frames, pending)
        finally:
            self.outstanding = len(pending)
            sock.close(linger=0)

    def _reply(self, frames, pending):
        if frames and frames[0] == b"":
            frames = frames[1:]
        if len(frames) != 3 or frames[0] != VERSION:
            self.anomalies.append(f"bad reply frames {frames[:3]!r}")
            return
        rid = frames[1]
        rep = json.loads(frames[2])
        st = rep.get("status")
        with self.lock:
            self.statuses[st] += 1
        r = pending.get(rid)
        if r is None:
            self.late += 1
            return
        now = time.monotonic()
        if st in ("ok", "spooled"):
            if st == "ok":
                n = len(r.seqs)
                if rep.get("items") != n or rep.get("accepted", 0) + rep.get("duplicate", 0) != n:
                    self.anomalies.append(f"{rid.decode()}: {n} events, reply {str(rep)[:300]}")
                if rep.get("replay"):
                    self.replays += 1
                else:
                    self.dup_outcomes += rep.get("duplicate", 0)
            elif rep.get("items") not in (None, len(r.seqs)):
                self.anomalies.append(f"{rid.decode()}: {len(r.seqs)} events, "
                                      f"spooled reply {str(rep)[:300]}")
            with self.lock:
                self.acked.update(r.seqs)
                (self.ok_seqs if st == "ok" else self.spooled_seqs).update(r.seqs)
                self.acked_requests[rid] = (st, r.seqs)
            del pending[rid]
        elif st == "busy":
            r.sent_at = None
            r.due = now + rep.get("retry_after_ms", 500) / 1000
        elif st == "error" and rep.get("error") in ("unavailable", "internal"):
            with self.lock:
                self.errors[rep["error"]] += 1
            r.sent_at = None
            r.due = now + self.retry_wait
        else:
            with self.lock:
                self.errors[rep.get("error", str(st))] += 1
            self.failed[rid] = rep
            del pending[rid]

    def describe(self):
        return (f"{self.name}: {self.requests} requests, {self.sends} sends, "
                f"{len(self.acked)}/{len(self.issued)} seqs acknowledged, "
                f"{self.outstanding} unanswered, replies {dict(self.statuses)}, "
                f"errors {dict(self.errors)}, {self.timeouts} timeouts, "
                f"{self.replays} replays, {self.late} late"
                + (", GAVE UP" if self.gave_up else ""))


class Senders(list):
    """A group of Senders, with the union of what they saw."""

    def start(self):
        for s in self:
            s.start()
        return self

    def acked_count(self):
        return sum(s.acked_count for s in self)

    def status_count(self, status):
        return sum(s.statuses[status] for s in self)

    def statuses(self):
        c = collections.Counter()
        for s in self:
            c.update(s.statuses)
        return c

    def union(self, attr):
        out = set()
        for s in self:
            with s.lock:
                out |= getattr(s, attr)
        return out

    def rids(self, status):
        """Request ids acknowledged with this status (ok or spooled)."""
        out = []
        for s in self:
            with s.lock:
                out += [rid for rid, (st, _q) in s.acked_requests.items() if st == status]
        return out

    def describe(self):
        return "\n".join(s.describe() for s in self)

    def finish(self, seconds=None):
        """No new requests; waits until everything sent is acknowledged.
        Fails if that takes more than `seconds` (hung). Without seconds, only
        tells them and returns."""
        for s in self:
            s.finish()
        if seconds is not None:
            self.join(seconds, "finish")

    def wait(self, seconds):
        """Waits until every sender has sent all its seqs and has them
        acknowledged. Fails after `seconds` (hung)."""
        self.join(seconds, "send everything")

    def stop(self, seconds=10):
        """Tells every sender to give up and waits for them (for finally
        blocks: never raises)."""
        for s in self:
            s.stop()
        deadline = time.monotonic() + seconds
        for s in self:
            s.join(max(0.0, deadline - time.monotonic()))

    def join(self, seconds, what="join"):
        deadline = time.monotonic() + seconds
        for s in self:
            s.join(max(0.0, deadline - time.monotonic()))
        alive = [s for s in self if s.is_alive()]
        if alive:
            for s in self:
                s.stop()
            for s in self:
                s.join(5)
            raise TestFailure(f"senders did not {what} within {seconds} s:\n"
                              + self.describe())
        for s in self:
            if s.exc is not None:
                raise TestFailure(f"{s.name} failed: {s.exc!r}")
            if s.gave_up:
                raise TestFailure(f"{s.name} gave up at its deadline:\n{self.describe()}")

    def check_replies(self):
        """Replies that add up: no request refused for good, every ok reply
        counting its events, and no event reported duplicate in a first
        (non-replay) reply, since each event is sent under one request id."""
        for s in self:
            check(not s.failed, f"{s.name}: requests refused: "
                  f"{list(s.failed.items())[:5]}")
            check(not s.anomalies, f"{s.name}: replies that do not add up: "
                  f"{s.anomalies[:5]}")
            check(s.dup_outcomes == 0, f"{s.name}: {s.dup_outcomes} events answered "
                  "'duplicate' in non-replay replies: a request was stored twice")


# --- Processes, /metrics, the spool on disk, a slow database ----------------

def proc_mem(pid):
    """VmRSS and VmHWM (peak RSS) of a process, in bytes."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) * 1024
    return out


def http_get(port, path, timeout=5):
    """(status, text); (None, reason) when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, OSError) as e:
        return None, str(e)


def metrics(port):
    """/metrics as {name or name{labels}: value}; {} when nothing answers."""
    status, text = http_get(port, "/metrics")
    if status != 200:
        return {}
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, v = line.rpartition(" ")
            try:
                out[name] = float(v)
            except ValueError:
                pass
    return out


SPOOL_MAGIC = b"BVS1"


def spool_segments(spool_dir):
    """The segment files, oldest first (names are zero-padded numbers)."""
    if not spool_dir or not os.path.isdir(spool_dir):
        return []
    return [os.path.join(spool_dir, n) for n in sorted(os.listdir(spool_dir))
            if n.endswith(".spool")]


def spool_records(path):
    """The records of a segment as (offset, payload length, complete): each is
    "BVS1", u32 LE length, u32 LE CRC-32C, payload."""
    with open(path, "rb") as f:
        data = f.read()
    recs = []
    pos = data.find(SPOOL_MAGIC)
    while 0 <= pos and pos + 12 <= len(data):
        (length,) = struct.unpack_from("<I", data, pos + 4)
        end = pos + 12 + length
        recs.append((pos, length, end <= len(data)))
        if end > len(data):
            break
        pos = end if data[end:end + 4] == SPOOL_MAGIC else data.find(SPOOL_MAGIC, end)
    return recs


def spool_bytes_on_disk(spool_dir):
    return sum(os.path.getsize(p) for p in spool_segments(spool_dir))


class Throttle:
    """Makes the database slow, or hangs it: a statement-level AFTER INSERT
    trigger on `table` that sleeps sleep_s seconds, and then waits as long as
    `stall` is on. Created as postgres in the test's database; set() and
    stall() take effect at once, even for statements already waiting (no
    lock on the table); remove() drops it all."""

    def __init__(self, db, seconds=0.0, table="event"):
        self.db = db
        self.table = table
        db.sql(f"""
            CREATE TABLE bevis_test_throttle (sleep_s float8 NOT NULL, stall boolean NOT NULL);
            INSERT INTO bevis_test_throttle VALUES ({float(seconds)}, false);
            CREATE FUNCTION bevis_test_throttle() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_sleep((SELECT sleep_s FROM bevis_test_throttle));
                WHILE (SELECT stall FROM bevis_test_throttle) LOOP
                    PERFORM pg_sleep(0.05);
                END LOOP;
                RETURN NULL;
            END $$;
            CREATE TRIGGER bevis_test_throttle AFTER INSERT ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION bevis_test_throttle();""")

    def set(self, seconds):
        self.db.sql(f"UPDATE bevis_test_throttle SET sleep_s = {float(seconds)}")

    def stall(self, on):
        """On: every INSERT into the table hangs until it is off again; the
        database stays reachable (it is not an outage, nothing is spooled)."""
        self.db.sql(f"UPDATE bevis_test_throttle SET stall = {'true' if on else 'false'}")

    def remove(self):
        self.db.sql("UPDATE bevis_test_throttle SET sleep_s = 0, stall = false")
        self.db.sql(f"DROP TRIGGER bevis_test_throttle ON {self.table}; "
                    "DROP FUNCTION bevis_test_throttle(); DROP TABLE bevis_test_throttle")
