"""bevisd's lifecycle: SIGHUP reloads (and keeps the running configuration
when the file is bad), sd_notify READY/RELOADING/STOPPING/WATCHDOG on a real
notify socket, and shutdown_timeout ending a drain that hangs."""
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

from bevistest import PGBIN, Client, Daemon, check, eq, event, ndjson, wait_for


def rewrite_conf(d, **changes):
    """Rewrites d's config file with some options changed (None removes)."""
    opts = dict(d.opts)
    for k, v in changes.items():
        if v is None:
            opts.pop(k, None)
        else:
            opts[k] = str(v)
    with open(d.conf, "w") as f:
        f.write("[bevisd]\n")
        for k, v in opts.items():
            f.write(f"{k} = {v}\n")


def wait_log(d, pattern, seconds=10):
    return wait_for(lambda: re.search(pattern, d.logtext()), seconds,
                    f"log line /{pattern}/")


def test_sighup_applies_limits_and_keeps_the_config_when_bad(cluster):
    db = cluster.new_database()
    d = Daemon(db, max_items=5)
    try:
        c = Client(d.endpoint)
        six = ndjson([event(i) for i in range(6)])
        rep = c.events(six)
        eq((rep["status"], rep.get("error")), ("error", "too_many_items"), "limit 5")

        # A new limit, and an option that only a restart can change.
        rewrite_conf(d, max_items=10, writers=3)
        d.proc.send_signal(signal.SIGHUP)
        wait_log(d, r"configuration reloaded: changed max_items; these take a "
                    r"restart and keep their running values: writers")
        rep = c.events(six)
        eq((rep["status"], rep["accepted"]), ("ok", 6), "limit 10 after SIGHUP")

        # A bad file: refused, and the running limit (10) stays.
        with open(d.conf, "a") as f:
            f.write("max_items = many\n")
        d.proc.send_signal(signal.SIGHUP)
        wait_log(d, r"reload refused, keeping the running configuration: .*"
                    r"max_items: 'many' is not an integer")
        rep = c.events(ndjson([event(i) for i in range(10, 19)]))
        eq((rep["status"], rep["accepted"]), ("ok", 9), "still limit 10")
        check(d.running(), "bevisd survived the bad reload")
    finally:
        eq(d.stop(), 0, "exit code")


def test_sd_notify_ready_reloading_watchdog_stopping(cluster):
    db = cluster.new_database()
    tmp = tempfile.mkdtemp(prefix="bevis-notify-")
    os.chmod(tmp, 0o755)
    path = os.path.join(tmp, "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    os.chmod(path, 0o777)		# bevisd runs as nobody under root
    sock.settimeout(0.2)
    saved = dict(os.environ)
    os.environ["NOTIFY_SOCKET"] = path
    os.environ["WATCHDOG_USEC"] = "400000"
    try:
        d = Daemon(db)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    got = []

    def drain(seconds):
        end = time.time() + seconds
        while time.time() < end:
            try:
                got.extend(sock.recv(4096).decode().split("\n"))
            except socket.timeout:
                pass

    try:
        drain(1.0)
        check("READY=1" in got, f"READY=1 sent: {got}")
        # Every 200 ms (half of WatchdogSec): at least 3 in a second.
        check(got.count("WATCHDOG=1") >= 3, f"WATCHDOG=1 pings: {got}")
        got.clear()
        d.proc.send_signal(signal.SIGHUP)
        drain(0.5)
        check("RELOADING=1" in got and "READY=1" in got[got.index("RELOADING=1"):],
              f"RELOADING=1 then READY=1 on SIGHUP: {got}")
        got.clear()
        d.terminate()
        eq(d.stop(), 0, "exit code")
        drain(0.3)
        check("STOPPING=1" in got, f"STOPPING=1 on SIGTERM: {got}")
    finally:
        if d.running():
            d.kill()
        sock.close()


def test_shutdown_timeout_ends_a_hung_drain(cluster):
    """A database that takes connections but does not answer (a lock held on
    the event table) hangs the writer in COPY; the first SIGTERM then ends
    after shutdown_timeout with exit 1, and nothing half-done is stored."""
    db = cluster.new_database()
    d = Daemon(db, shutdown_timeout=2)
    locker = subprocess.Popen([os.path.join(PGBIN, "psql"), "-X", "-q", "-d", db.conninfo],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        c = Client(d.endpoint)
        eq(c.events(ndjson([event(1)]))["accepted"], 1, "before the lock")
        locker.stdin.write("BEGIN; LOCK TABLE event IN ACCESS EXCLUSIVE MODE;\n")
        locker.stdin.flush()
        wait_for(lambda: db.value("SELECT count(*) FROM pg_locks WHERE mode = "
                                  "'AccessExclusiveLock' AND relation = 'event'::regclass "
                                  "AND granted") == "1", 10, "the lock")
        c.send(b"EVENTS", b"application/x-ndjson", ndjson([event(2)]), rid=b"hung")
        wait_for(lambda: db.value("SELECT count(*) FROM pg_locks WHERE relation = "
                                  "'event'::regclass AND NOT granted") != "0", 10,
                 "bevisd waiting on the lock")
        t0 = time.time()
        d.terminate()
        rc = d.stop(timeout=30)
        took = time.time() - t0
        eq(rc, 1, "exit code after shutdown_timeout")
        check(took < 20, f"exited after the timeout ({took:.1f} s)")
        check("shutdown_timeout passed with requests still in flight" in d.logtext(),
              "the log says why")
        try:
            c.recv(0.5)
            raise AssertionError("a reply for the hung request")
        except TimeoutError:
            pass
    finally:
        locker.stdin.write("ROLLBACK;\n")
        locker.stdin.close()
        locker.wait(10)
        if d.running():
            d.kill()
    eq(db.count("submission", "request_id = 'hung'"), 0, "the hung request is not stored")
    eq(db.count("event"), 1, "events")
