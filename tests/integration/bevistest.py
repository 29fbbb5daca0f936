"""Helpers for the integration tests: a real PostgreSQL cluster in a temporary
directory, real bevisd processes and real ZeroMQ sockets."""
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
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
        opts.update({k: str(v) for k, v in options.items()})
        self.opts = opts
        with open(self.conf, "w") as f:
            f.write("[bevisd]\n")
            for k, v in opts.items():
                f.write(f"{k} = {v}\n")
        os.chmod(self.conf, 0o644)
        self.log = os.path.join(self.dir, "bevisd.log")
        cmd = [BEVISD, "-f", "-c", self.conf]
        self.valgrind = valgrind and not SANITIZE
        if self.valgrind:
            self.vglog = os.path.join(self.dir, "valgrind.log")
            cmd = ["valgrind", "--error-exitcode=99", "--leak-check=full",
                   "--errors-for-leak-kinds=definite", "--track-fds=no",
                   f"--log-file={self.vglog}"] + cmd
        self.proc = subprocess.Popen(cmd, stdout=open(self.log, "w"),
                                     stderr=subprocess.STDOUT)
        self.wait_ready(60 if self.valgrind else 10)

    def wait_ready(self, seconds):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise TestFailure(f"bevisd exited with {self.proc.returncode}: "
                                  f"{self.logtext()}")
            if "allow_plaintext" not in self.opts:
                # A CURVE server answers no plaintext PING: read its log.
                if " ready: " in self.logtext():
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

    def logtext(self):
        with open(self.log, errors="replace") as f:
            return f.read()

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
