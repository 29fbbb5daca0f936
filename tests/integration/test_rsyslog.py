"""Issue 14, item 9: a sender nobody here wrote. A real rsyslogd (Debian's
rsyslog and rsyslog-czmq) reads a file with imfile and forwards each line
with omczmq as a CURVE client over PUSH to bevisd's pull_endpoint; the
lines become requests of pull_content_type and land in PostgreSQL."""
import os
import shutil
import signal
import subprocess
import time

import zmq

from bevistest import (BEVISD, ROOT, check, eq, free_port, metrics, wait_for)
from test_curve import Keys, curve_daemon

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"


def zcert(path, public, secret=None):
    """A CZMQ certificate file as omczmq's zcert_load reads it (ZPL)."""
    with open(path, "w") as f:
        f.write("#   ZeroMQ CURVE %s Certificate\n\nmetadata\ncurve\n"
                % ("**Secret**" if secret else "Public"))
        f.write(f'    public-key = "{public.decode()}"\n')
        if secret:
            f.write(f'    secret-key = "{secret.decode()}"\n')
    os.chmod(path, 0o600 if secret else 0o644)


class Rsyslog:
    """rsyslogd in the foreground on a config of its own: imfile reads
    in.log from its start, omczmq pushes each line as it was written."""

    def __init__(self, keys, supplier, endpoint, template="%rawmsg%"):
        self.dir = os.path.join(keys.dir, "rsyslog")
        os.makedirs(os.path.join(self.dir, "work"))
        pub, sec = keys.suppliers[supplier]
        # zcert_load(X) reads X_secret first: the client's pair, then.
        zcert(os.path.join(self.dir, "client.cert"), pub)
        zcert(os.path.join(self.dir, "client.cert_secret"), pub, sec)
        zcert(os.path.join(self.dir, "server.cert"), keys.server_pub)
        self.input = os.path.join(self.dir, "in.log")
        open(self.input, "w").close()
        # The shipped snippet, with this test's paths and endpoint.
        snippet = open(os.path.join(ROOT, "conf", "rsyslog-bevis.conf")).read()
        snippet = (snippet.replace("/etc/bevis/rsyslog/server.cert",
                                   os.path.join(self.dir, "server.cert"))
                   .replace("/etc/bevis/rsyslog/client.cert",
                            os.path.join(self.dir, "client.cert"))
                   .replace("tcp://bevis.example.se:7342", endpoint)
                   .replace('string="%rawmsg%"', f'string="{template}"'))
        self.conf = os.path.join(self.dir, "rsyslog.conf")
        with open(self.conf, "w") as f:
            f.write(f'global(workDirectory="{self.dir}/work")\n'
                    'module(load="imfile" mode="polling" PollingInterval="1")\n')
            f.write(snippet)
            f.write(f'input(type="imfile" file="{self.input}" tag="t" '
                    'ruleset="bevis")\n')
        self.log = open(os.path.join(self.dir, "rsyslogd.log"), "w")
        self.proc = subprocess.Popen(
            [RSYSLOGD, "-n", "-f", self.conf, "-i", os.path.join(self.dir, "pid")],
            stdout=self.log, stderr=subprocess.STDOUT)

    def write(self, lines):
        with open(self.input, "ab") as f:
            for line in lines:
                f.write(line + b"\n")

    def logtext(self):
        with open(os.path.join(self.dir, "rsyslogd.log"), "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        """SIGTERM; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.log.closed:
            self.log.close()
        return self.proc.returncode


def native(i):
    return (b'{"id":"rs-%d","time":"2026-10-05T14:30:00Z","category":"auth",'
            b'"message":"line %d from rsyslog"}' % (i, i))


def test_rsyslog_forwards_through_pull_endpoint(cluster):
    """2,500 lines through rsyslogd's omczmq: every one stored once, in
    requests of pull_content_type, none quarantined; a line that is not an
    event is quarantined with its reason; a SIGTERM with a batch still
    filling (pull_batch_ms = 10 s) hands it over before bevisd exits."""
    db = cluster.new_database(suppliers=())
    keys = Keys()
    keys.supplier(db, "skolnat-syslog")
    pull_ep = f"tcp://127.0.0.1:{free_port()}"
    http = free_port()
    d = curve_daemon(db, keys, pull_endpoint=pull_ep,
                     pull_content_type="application/x-ndjson", pull_batch_ms=10000,
                     http_listen=f"127.0.0.1:{http}")
    rs = None
    try:
        rs = Rsyslog(keys, "skolnat-syslog", pull_ep)
        n = 2500
        rs.write([native(i) for i in range(n)] + [b"not an event"])

        def lines_read():
            return metrics(http).get("bevis_pull_lines_total", 0) == n + 1
        wait_for(lines_read, 60, "bevisd to read the lines: " + rs.logtext())
        # 5000 lines fill no batch and 10 s have not passed: the lines
        # wait in bevisd's batch. SIGTERM hands them to the writers.
        eq(db.count("event"), 0, "events before SIGTERM")
        d.stop()
        eq(db.count("event"), n, "events")
        eq(db.count("quarantine"), 1, "quarantined")
        eq(db.value("SELECT reason FROM quarantine_item"),
           "invalid JSON at byte 1: null expected", "reason")
        eq(db.sql("SELECT count(*), sum(item_count), min(content_type), "
                  "min(p.name) FROM submission s JOIN supplier p ON "
                  "p.id = s.supplier_id"),
           [["1", str(n + 1), "application/x-ndjson", "skolnat-syslog"]],
           "submissions")
        eq(db.value("SELECT count(DISTINCT source_event_id) FROM event"), str(n),
           "distinct ids")
        eq(db.value("SELECT message FROM event WHERE source_event_id = 'rs-2499'"),
           "line 2499 from rsyslog", "last line")

        # Again, batches by time: 300 more lines in requests of their own.
        d.start()
        rs.write([native(n + i) for i in range(300)])
        wait_for(lambda: db.count("event") == n + 300, 60,
                 "the next lines: " + rs.logtext())
        eq(db.count("quarantine"), 1, "quarantined after")
        m = metrics(http)
        eq((m.get("bevis_pull_lines_total"), m.get("bevis_pull_lost_requests_total")),
           (300, 0), "pull metrics")
        check("error" not in rs.logtext().lower(),
              "rsyslogd reported an error: " + rs.logtext())
        # omczmq (unlike imczmq of 8.2302) stops cleanly.
        eq(rs.stop(), 0, "rsyslogd's exit status: " + rs.logtext())
    finally:
        if rs:
            rs.stop()
        if d.running():
            d.stop()


def test_pull_endpoint_config(cluster):
    """The pull_ options are checked at `bevisd -n`."""
    d = os.path.join(cluster.dir, "pullconf")
    os.makedirs(d, exist_ok=True)
    conf = os.path.join(d, "bevisd.conf")
    cases = [
        ("pull_endpoint = tcp://127.0.0.1:7342\n",
         f"{conf}: pull_endpoint without curve_secret_key needs pull_supplier: "
         "the supplier the lines are from\n"),
        ("pull_endpoint = tcp://127.0.0.1:7342\npull_supplier = demo\n"
         "pull_content_type = text/csv\n",
         f"{conf}: pull_content_type: bevisd reads no 'text/csv'; one of "),
        ("pull_endpoint = tcp://0.0.0.0:7342\npull_supplier = demo\n"
         "pull_content_type = application/x-ndjson\n",
         f"{conf}: allow_plaintext serves without authentication, so only on a "
         "loopback or ipc endpoint, not pull_endpoint tcp://0.0.0.0:7342\n"),
    ]
    for text, want in cases:
        with open(conf, "w") as f:
            f.write("[bevisd]\nallow_plaintext = yes\n" + text)
        out = subprocess.run([BEVISD, "-n", "-c", conf], capture_output=True,
                             text=True)
        eq(out.returncode, 1, f"bevisd -n: {text!r}")
        check(out.stderr.startswith(want), f"{text!r}: {out.stderr!r}")
