"""Issue 10, item 6: writers queue on a lock that only bevis's own SECURITY
DEFINER functions can take, so no other login can stop ingestion; and a
database that accepts connections but stops answering is an outage (the
batch spools), not a writer that hangs for good."""
import os
import signal
import subprocess
import time

from bevistest import (PGBIN, Client, Daemon, check, eq, event, ndjson, wait_for)
from test_roles import conninfo_as, db_as, login, refused


class Session:
    """A psql session of user's that stays open, fed statement by statement,
    so that what it locks stays locked until close()."""

    def __init__(self, db, user):
        self.p = subprocess.Popen(
            [os.path.join(PGBIN, "psql"), "-X", "-At", "-q", "-v", "VERBOSITY=verbose",
             "-d", conninfo_as(db, user)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, bufsize=1)
        self.n = 0

    def run(self, sql):
        """Runs sql; returns its output lines (errors included)."""
        self.n += 1
        mark = f"--done {self.n}--"
        self.p.stdin.write(f"{sql};\n\\echo {mark}\n")
        self.p.stdin.flush()
        lines = []
        while True:
            line = self.p.stdout.readline()
            check(line != "", f"psql ended: {lines}")
            if line.strip() == mark:
                return lines
            lines.append(line.rstrip("\n"))

    def close(self):
        self.p.stdin.close()
        self.p.wait(10)


def test_an_auditor_holding_the_old_locks_does_not_stop_ingestion(cluster):
    db = cluster.new_database()
    auditor = login(db, "bevis_auditor")
    isam = login(db, "bevis_isam")
    ingest = login(db, "bevis_ingest")
    # The new lock rows are out of everyone's reach but the owner's.
    for user, sqlstate in ((auditor, "42501"), (isam, "42501"), (ingest, "42501")):
        refused(db, user, "SELECT 1 FROM bevis_writer_lock FOR UPDATE", sqlstate,
                "permission denied for table bevis_writer_lock")
        refused(db, user, "BEGIN; LOCK TABLE bevis_writer_lock; COMMIT", sqlstate,
                "permission denied for table bevis_writer_lock")
    s = Session(db, auditor)
    d = None
    try:
        # Both advisory locks the writers used to queue on, held for good
        # (the row lock is refused to every role: see above).
        s.run("SELECT pg_advisory_lock(7341002), pg_advisory_lock(7341003)")
        wait_for(lambda: db.value(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
            "AND objid IN (7341002, 7341003) AND granted") == "2", 5,
            "the auditor's advisory locks")
        eq(db.value("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND objid IN (7341002, 7341003) AND granted"), "2",
           "the advisory locks are held while bevisd ingests")

        d = Daemon(db_as(db, ingest))
        c = Client(d.endpoint)
        t0 = time.monotonic()
        for i in range(3):
            rep = c.events(ndjson([event(i * 100 + k) for k in range(100)]),
                           rid=f"lock-{i}".encode(), timeout=10)
            eq((rep["status"], rep["accepted"]), ("ok", 100), f"request {i}")
        took = time.monotonic() - t0
        check(took < 5, f"three commits took {took:.1f} s")
        c.close()
        eq(db.count("ledger_leaf", "kind = 'submission'"), 3, "submission leaves")
        # A key change (the supplier lock, then the ledger lock) goes on too.
        pub = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
        out = subprocess.run([os.path.join(PGBIN, "psql"), "-X", "-At", "-d",
                              conninfo_as(db, isam), "-c",
                              f"SELECT bevis_supplier_add('locked-out', '{pub}')"],
                             capture_output=True, text=True, timeout=10)
        eq((out.returncode, out.stdout.strip()), (0, "3"),
           f"supplier add while the auditor holds 7341003: {out.stderr}")
    finally:
        s.close()
        if d:
            eq(d.stop(), 0, "bevisd exit code")


def test_a_stopped_backend_is_an_outage_and_the_batch_spools(cluster):
    """The writer's backend stops (SIGSTOP): it reads nothing and answers
    nothing, and neither statement_timeout (its own timer) nor keepalives
    (its kernel answers them) can fire. bevisd's guard closes the connection
    after db_statement_timeout + 2 s, the batch spools, and once the backend
    runs again the spool replays it: stored once."""
    db = cluster.new_database()
    d = Daemon(db, writers=1, spool_max_bytes="16MiB", spool_after_ms=300,
               db_statement_timeout=1000)
    pids = []
    try:
        c = Client(d.endpoint)
        eq(c.events(ndjson([event(0)]), rid=b"warm")["status"], "ok", "warm-up request")
        pids = [int(r[0]) for r in db.sql(
            f"SELECT pid FROM pg_stat_activity WHERE datname = '{db.name}' "
            f"AND application_name = 'bevisd'")]
        eq(len(pids), 1, "the one writer's backend")
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        t0 = time.monotonic()
        body = ndjson([event(i) for i in range(1, 201)])
        rep = c.events(body, rid=b"while-stopped", timeout=15)
        took = time.monotonic() - t0
        eq(rep["status"], "spooled", f"reply while the backend is stopped: {rep}")
        # 1 s statement_timeout + 2 s grace + a guard tick; well within 6 s.
        check(3.0 <= took < 6.0, f"spooled after {took:.1f} s")
        check("the database has not answered for" in d.logtext(), d.logtext())
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
        pids = []
        wait_for(lambda: db.count("submission", "request_id = 'while-stopped'") == 1,
                 20, "the spooled request replayed")
        time.sleep(1)
        eq(db.count("submission", "request_id = 'while-stopped'"), 1,
           "the request stored once")
        eq(db.count("event", "source_event_id LIKE 'ev-%'"), 201, "events stored once")
        rep = c.events(body, rid=b"while-stopped", timeout=10)
        eq((rep["status"], rep.get("replay")), ("ok", True), "a resend is a replay")
        c.close()
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
        eq(d.stop(), 0, "bevisd exit code")


def test_a_writer_waits_for_a_lock_no_longer_than_db_lock_timeout(cluster):
    """Only the owner (here the superuser) can hold the ledger's lock row; if
    it does, a writer gives up after db_lock_timeout (three tries) and the
    sender is told nothing was stored, instead of the writer hanging."""
    db = cluster.new_database()
    d = Daemon(db, db_lock_timeout=300)
    s = Session(db, "postgres")
    try:
        s.run("BEGIN")
        eq(s.run("SELECT name FROM bevis_writer_lock WHERE name = 'ledger' FOR UPDATE"),
           ["ledger"], "the owner holds the ledger's lock row")
        c = Client(d.endpoint)
        t0 = time.monotonic()
        rep = c.events(ndjson([event(0)]), rid=b"locked", timeout=20)
        took = time.monotonic() - t0
        eq((rep["status"], rep["error"]), ("error", "internal"), f"reply: {rep}")
        check(rep["message"].startswith("database refused the batch: canceling "
                                        "statement due to lock timeout (SQLSTATE 55P03)"),
              rep["message"])
        check(took < 5, f"answered after {took:.1f} s")
        eq(db.count("submission"), 0, "nothing stored")
        s.run("ROLLBACK")
        rep = c.events(ndjson([event(0)]), rid=b"locked", timeout=10)
        eq((rep["status"], rep["accepted"]), ("ok", 1), "the resend, once the lock is free")
        c.close()
    finally:
        s.close()
        eq(d.stop(), 0, "bevisd exit code")


def keepalive_sockets(port):
    """The established TCP connections to 127.0.0.1:port from this host
    whose keepalive timer runs and fires within 5 s (/proc/net/tcp: st 01,
    tr 2, tm->when in clock ticks of 1/100 s): db_keepalives_idle = 1, where
    the system's default is 7200 s."""
    n = 0
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            rem, st, (tr, when) = fields[2], fields[3], fields[5].split(":")
            if rem == f"0100007F:{port:04X}" and st == "01" and tr == "02" and \
                    int(when, 16) <= 500:
                n += 1
    return n


def test_over_tcp_keepalives_run_and_a_stopped_backend_spools(cluster):
    """bevisd's connections over TCP carry keepalives (db_keepalives_*), and
    the guard notices a stopped backend there too (from TCP_INFO)."""
    from bevistest import own_cluster
    old = os.environ.get("PGCTL_TCP")
    os.environ["PGCTL_TCP"] = "1"
    try:
        with own_cluster() as c:
            db = c.new_database()
            user = login(db, "bevis_ingest")
            db.sql(f"ALTER ROLE \"{user}\" PASSWORD 'tcp-test'")
            tcp = db_as(db, user)
            tcp.conninfo = (f"host=127.0.0.1 port={c.port} dbname={db.name} "
                            f"user={user} password=tcp-test")
            d = Daemon(tcp, writers=2, spool_max_bytes="16MiB", spool_after_ms=300,
                       db_statement_timeout=1000, db_keepalives_idle=1,
                       db_keepalives_interval=1, db_keepalives_count=3)
            pids = []
            try:
                cl = Client(d.endpoint)
                eq(cl.events(ndjson([event(0)]), rid=b"warm")["status"], "ok", "warm-up")
                pids = [int(r[0]) for r in db.sql(
                    f"SELECT pid FROM pg_stat_activity WHERE datname = '{db.name}' "
                    f"AND application_name = 'bevisd' AND client_addr IS NOT NULL")]
                eq(len(pids), 2, "two writers over TCP")
                wait_for(lambda: keepalive_sockets(c.port) >= 2, 5,
                         "keepalive timers on bevisd's TCP connections")
                for pid in pids:
                    os.kill(pid, signal.SIGSTOP)
                t0 = time.monotonic()
                rep = cl.events(ndjson([event(i) for i in range(1, 51)]), rid=b"tcp-stopped",
                                timeout=15)
                took = time.monotonic() - t0
                eq(rep["status"], "spooled", f"reply: {rep}")
                check(3.0 <= took < 6.0, f"spooled after {took:.1f} s")
                for pid in pids:
                    os.kill(pid, signal.SIGCONT)
                pids = []
                wait_for(lambda: db.count("submission", "request_id = 'tcp-stopped'") == 1,
                         20, "the spooled request replayed")
                eq(db.count("event"), 51, "events stored once")
                cl.close()
            finally:
                for pid in pids:
                    os.kill(pid, signal.SIGCONT)
                eq(d.stop(), 0, "bevisd exit code")
    finally:
        if old is None:
            del os.environ["PGCTL_TCP"]
        else:
            os.environ["PGCTL_TCP"] = old
