"""Issue 14, item 9: a sender nobody here wrote. A real rsyslogd (Debian's
rsyslog and rsyslog-czmq) reads files with imfile and forwards each line
with omczmq as a CURVE client over PUSH to bevisd's pull_endpoint; the
lines become text/syslog requests and land in PostgreSQL."""
import hashlib
import os
import shutil
import signal
import subprocess
import time

import zmq

from bevistest import (BEVISD, ROOT, Daemon, check, eq, free_port, metrics, wait_for)
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
    in.log from its start, omczmq pushes each line as it was written, or in
    the template named."""

    def __init__(self, keys, supplier, endpoint, name="rsyslog", template=None):
        self.dir = os.path.join(keys.dir, name)
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
                   .replace("tcp://bevis.example.se:7342", endpoint))
        if template:	# one of rsyslog's own instead of the line as read
            snippet = snippet.replace('template="bevis_line"',
                                      f'template="{template}"')
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


def syslog_line(i):
    return (b'<134>1 2026-10-05T14:%02d:%02d.%06dZ web01 sshd %d ID47 '
            b'[origin ip="10.1.2.3"] line %d from rsyslog'
            % (i // 3600 % 60, i // 60 % 60, i % 1000000, 1000 + i, i))


def test_rsyslog_forwards_through_pull_endpoint(cluster):
    """2,500 RFC 5424 lines through rsyslogd's omczmq to the default
    pull_content_type, text/syslog: every one stored once, none twice, in
    one request handed over at SIGTERM while its batch still filled
    (pull_batch_ms = 10 s); a line that is not syslog quarantined with its
    reason. Then 300 plain lines that rsyslog itself writes as RFC 5424, in
    requests made when the batch is 10 s old."""
    db = cluster.new_database(suppliers=())
    keys = Keys()
    keys.supplier(db, "skolnat-syslog")
    pull_ep = f"tcp://127.0.0.1:{free_port()}"
    http = free_port()
    d = curve_daemon(db, keys, pull_endpoint=pull_ep, pull_batch_ms=10000,
                     http_listen=f"127.0.0.1:{http}")
    rs = None
    try:
        rs = Rsyslog(keys, "skolnat-syslog", pull_ep)
        n = 2500
        lines = [syslog_line(i) for i in range(n)]
        rs.write(lines + [b"not syslog at all"])

        def lines_read():
            return metrics(http).get("bevis_pull_lines_total", 0) == n + 1
        wait_for(lines_read, 60, "bevisd to read the lines")
        eq(db.count("event"), 0, "events before SIGTERM")
        eq(d.stop(), 0, "bevisd's exit status: " + d.logtext()[-2000:])
        eq(db.count("event"), n, "events")
        eq(db.count("quarantine"), 1, "quarantined")
        eq(db.value("SELECT reason FROM quarantine_item"),
           "RFC 3164 TIMESTAMP expected at byte 0 ('Mmm dd hh:mm:ss'), got "
           "'not syslog at a'", "reason")
        eq(db.sql("SELECT count(*), sum(item_count), min(content_type), "
                  "min(p.name) FROM submission s JOIN supplier p ON "
                  "p.id = s.supplier_id"),
           [["1", str(n + 1), "text/syslog", "skolnat-syslog"]], "submissions")
        eq(db.value("SELECT count(DISTINCT source_event_id) FROM event"), str(n),
           "distinct ids")
        eq(db.sql("SELECT source_event_id, severity, message, "
                  "attrs::jsonb ->> 'hostname', attrs::jsonb ->> 'msgid' "
                  "FROM event WHERE item_no = 2499"),
           [[hashlib.sha256(lines[2499]).hexdigest(), "1",
             "line 2499 from rsyslog", "web01", "ID47"]], "the last line")

        rs.stop()

        # rsyslog's own RFC 5424 of plain lines, batched by time.
        d.start()
        rs = Rsyslog(keys, "skolnat-syslog", pull_ep, name="rsyslog2",
                     template="RSYSLOG_SyslogProtocol23Format")
        rs.write([b"plain %d" % i for i in range(300)])
        wait_for(lambda: db.count("event") == n + 300, 60, "the plain lines")
        eq(db.count("quarantine"), 1, "quarantined after")
        eq(db.sql("SELECT count(*), min(message), max(message), "
                  "min(attrs::jsonb ->> 'app_name'), min(attrs::jsonb ->> "
                  "'format') FROM event WHERE message LIKE 'plain %'"),
           [["300", "plain 0", "plain 99", "t", "rfc5424"]], "plain lines")
        m = metrics(http)
        eq((m.get("bevis_pull_lines_total"), m.get("bevis_pull_lost_requests_total"),
            m.get("bevis_pull_dropped_total")), (300, 0, 0), "pull metrics")
        check("error" not in rs.logtext().lower(),
              "rsyslogd reported an error: " + rs.logtext())
        # Its exit status is not checked: rsyslog 8.2302 with omczmq at times
        # aborts in its own shutdown ("double free or corruption"), after
        # every line was sent.
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


def push_client(keys, supplier, endpoint):
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.PUSH)
    s.setsockopt(zmq.LINGER, 5000)
    if keys:
        pub, sec = keys.suppliers[supplier]
        s.curve_serverkey = keys.server_pub
        s.curve_publickey = pub
        s.curve_secretkey = sec
    s.connect(endpoint)
    return s


def test_pull_endpoint_cef_by_key(cluster):
    """application/cef lines from two suppliers' keys over PUSH: each line is
    its key's supplier's, in requests of their own; a message of two frames
    is dropped and counted; the real CEF sample stores what it holds."""
    db = cluster.new_database(suppliers=())
    keys = Keys()
    keys.supplier(db, "brandvagg-a")
    keys.supplier(db, "brandvagg-b")
    pull_ep = f"tcp://127.0.0.1:{free_port()}"
    http = free_port()
    d = curve_daemon(db, keys, pull_endpoint=pull_ep, pull_batch_ms=50,
                     pull_content_type="application/cef",
                     http_listen=f"127.0.0.1:{http}")
    try:
        sample = open(os.path.join(ROOT, "tests", "data", "cef",
                                   "tenzir_checkpoint.log"), "rb").read()
        a = push_client(keys, "brandvagg-a", pull_ep)
        b = push_client(keys, "brandvagg-b", pull_ep)
        for line in sample.split(b"\n"):
            a.send(line + b"\n")	# 3 lines and 2 empty: LF dropped, empty skipped
        a.send_multipart([b"CEF:0|x|y|1|1|two frames|1|", b"src=10.0.0.1"])
        for i in range(100):
            b.send(b"CEF:0|Skolnat|FW|1.0|%d|Blocked|5|src=10.0.0.%d act=drop" % (i, i))
        # Open until delivered: libzmq drops what a socket closed before its
        # CURVE handshake ended still held.
        wait_for(lambda: db.count("event") == 103, 30, "the CEF lines")
        a.close()
        b.close()
        eq(db.count("quarantine"), 0, "quarantined")
        eq(db.sql("SELECT p.name, count(*) FROM event e JOIN supplier p ON "
                  "p.id = e.supplier_id GROUP BY 1 ORDER BY 1"),
           [["brandvagg-a", "3"], ["brandvagg-b", "100"]], "events by supplier")
        eq(db.sql("SELECT DISTINCT content_type FROM submission"),
           [["application/cef"]], "content type")
        eq(db.sql("SELECT action, host(src_ip) FROM event e JOIN supplier p ON "
                  "p.id = e.supplier_id WHERE p.name = 'brandvagg-b' AND "
                  "message = 'Blocked' ORDER BY src_ip DESC LIMIT 1"),
           [["drop", "10.0.0.99"]], "a CEF line's fields")
        m = metrics(http)
        eq((m.get("bevis_pull_lines_total"), m.get("bevis_pull_dropped_total")),
           (103, 1), "pull metrics")
        check("a message of several frames, dropped" in d.logtext(), d.logtext())
    finally:
        d.stop()


def test_pull_endpoint_plaintext_mapped_json(cluster):
    """Without CURVE (allow_plaintext, loopback) the lines are
    pull_supplier's, and its field map applies to
    application/x-mapped-ndjson lines."""
    db = cluster.new_database(suppliers=("skolmoln",))
    d0 = os.path.join(cluster.dir, "plainpull")
    os.makedirs(d0, exist_ok=True)
    maps = os.path.join(d0, "maps.conf")
    with open(maps, "w") as f:
        f.write("[suppliers]\nskolmoln = cloudtrail\n[map cloudtrail]\n"
                "id = /eventID\ntime = /eventTime\naction = /eventName\n")
    os.chmod(maps, 0o644)
    os.chmod(d0, 0o755)
    pull_ep = f"tcp://127.0.0.1:{free_port()}"
    d = Daemon(db, pull_endpoint=pull_ep, pull_supplier="skolmoln",
               pull_content_type="application/x-mapped-ndjson", json_maps=maps,
               pull_batch_ms=50)
    try:
        s = push_client(None, None, pull_ep)
        sample = open(os.path.join(ROOT, "tests", "data",
                                   "crowdsec-hub_aws-cloudtrail.log"), "rb").read()
        for line in sample.splitlines():
            s.send(line)
        wait_for(lambda: db.count("event") == 2, 30, "the CloudTrail lines")
        s.close()
        eq(db.sql("SELECT source_event_id, action FROM event ORDER BY 1"),
           [["<eventId>", "ConsoleLogin"], ["<eventid>", "GetCallerIdentity"]],
           "mapped by pull_supplier's map")
        eq(db.value("SELECT count(*) FROM submission WHERE supplier_id IS NULL"),
           "1", "a plaintext submission")
    finally:
        d.stop()
