"""Issue 16, supplier quality: `bevis quality` over a supplier-month with
known flaws (tests/sql/fixtures/quality_month.sql) as an auditor reads it,
with the config's due days and weights; and the live path: events sent to a
real bevisd over CURVE, whose summaries (kept up in each batch's
transaction) must equal a rebuild from the stored events, including seq
gaps filled late, and a chained stream with a removed event and a fork."""
import copy
import datetime
import hashlib
import json
import os
import subprocess

from bevistest import PGBIN, ROOT, Daemon, check, eq, run_bevis
from test_curve import Keys, curve_client
from test_roles import conninfo_as, login

FIXTURE = os.path.join(ROOT, "tests", "sql", "fixtures", "quality_month.sql")

ACME_2026 = """\
SUPPLIER  PERIOD   SCORE  EVENTS  VOLUME%  SILENT_H  USER%  ACTION%  OUTCOME%  SRC_IP%  TARGET%  LAG_P50  LAG_P99  FUTURE  LATE  SEQ_G/M/R/O  CHAIN_B/F  QUAR%  DUP%  REPORT
acme      2026-09  100.0  7200    -        0         100.0  100.0    100.0     100.0    100.0    30s      30s      0       0     -            -          0.00   0.00  on time
acme      2026-10  88.2   3710    52       3         80.0   100.0    100.0     100.0    100.0    30s      2h       5       2     2/4/1/0      -          0.99   1.94  4 d late
"""

ACME_PARTS = """
MEASURE       SUB-SCORE       WEIGHT
volume        51.5            10
silence       95.8            10
completeness  96.0            25
clock         99.8            15
sequence      99.9            10
chain         does not apply  10
rejects       97.1            10
reporting     60.0            10
"""


def config(path, extra=""):
    with open(path, "w") as f:
        f.write("[client]\ntimezone = Europe/Stockholm\n"
                "[source acme]\nreport_due_day = 10\n" + extra)
    return path


def bevis(db, user, conf, *args):
    out = run_bevis(db, "-c", conf, "--db", conninfo_as(db, user), *args)
    return out.returncode, out.stdout.decode(), out.stderr.decode()


def test_a_supplier_month_with_known_flaws(cluster):
    db = cluster.new_database(suppliers=())
    out = subprocess.run([os.path.join(PGBIN, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                          "-d", db.conninfo, "-f", FIXTURE], capture_output=True, text=True)
    eq(out.returncode, 0, "fixture: " + out.stderr)
    auditor, isam = login(db, "bevis_auditor"), login(db, "bevis_isam")
    tmp = os.path.join(cluster.dir, f"quality-{db.name}")
    os.makedirs(tmp, exist_ok=True)
    conf = config(os.path.join(tmp, "bevisd.conf"))

    rc, out, err = bevis(db, auditor, conf, "quality", "--supplier", "acme",
                         "--from", "2026-09", "--to", "2026-10")
    eq((rc, err), (0, "2 supplier-months; SEQ: gaps/missing/repeats/reorderings, "
                      "CHAIN: breaks/forks (docs/QUALITY.md)\n"), "bevis quality: exit, stderr")
    eq(out, ACME_2026, "the table of acme's September and October")

    # One month: the table and what its score is made of.
    rc, out, err = bevis(db, auditor, conf, "quality", "--supplier", "acme",
                         "--period", "2026-10")
    eq(rc, 0, "one month: " + err)
    eq(out, ACME_2026.splitlines(True)[0] + ACME_2026.splitlines(True)[2] + ACME_PARTS,
       "one month, with its sub-scores and weights")

    rc, out, err = bevis(db, auditor, conf, "quality", "--supplier", "acme",
                         "--period", "2026-10", "--json")
    eq(rc, 0, "--json: " + err)
    row = json.loads(out)
    want = {"supplier": "acme", "period": "2026-10", "score": 88.2, "events": 3710,
            "volume_median": 7200, "covered_hours": 745, "active_hours": 742,
            "hourly": True, "silent_hours": 3, "share_actor_user": 0.8, "share_action": 1,
            "share_outcome": 1, "share_src_ip": 1, "share_target": 1, "lag_p50": 30,
            "lag_p99": 7200, "future_events": 5, "late_events": 2, "seq_events": 3710,
            "seq_gaps": 2, "seq_missing": 4, "seq_repeats": 1, "seq_reorders": 0,
            "chain_events": 0, "chain_breaks": 0, "chain_forks": 0, "items": 3822,
            "quarantined": 38, "duplicates": 74,
            "report_due_at": "2026-11-11T00:00:00+01:00",
            "report_received_at": "2026-11-14T10:00:00+01:00",
            "report_status": "late", "report_days_late": 4}
    eq({k: row[k] for k in want}, want, "every measure of acme's October")
    eq(row["scores"], {"volume": 51.5, "silence": 95.8, "completeness": 96.0, "clock": 99.8,
                       "sequence": 99.9, "chain": None, "rejects": 97.1, "reporting": 60},
       "the sub-scores")
    eq(round(row["volume_share"], 4), 0.5153, "volume share")
    eq((round(row["quarantine_share"], 5), round(row["duplicate_share"], 5)),
       (0.00994, 0.01936), "reject shares")

    # The weights come from the config: without volume and reporting, 97.5.
    conf2 = config(os.path.join(tmp, "weights.conf"),
                   "[quality]\nweight_volume = 0\nweight_reporting = 0\n")
    rc, out, err = bevis(db, isam, conf2, "quality", "--supplier", "acme",
                         "--period", "2026-10", "--json")
    eq((rc, json.loads(out)["score"]), (0, 97.5), "score with the config's weights")
    bad = config(os.path.join(tmp, "bad.conf"), "[quality]\nweight_speed = 5\n")
    rc, out, err = bevis(db, isam, bad, "quality")
    eq(rc, 2, "an unknown [quality] option is refused")
    check("unknown option 'weight_speed' in section [quality]" in err, err)

    # The chain: its break and its fork, each named.
    rc, out, err = bevis(db, auditor, conf, "quality", "--supplier", "kedja",
                         "--period", "2026-10", "--chain", "--json")
    eq(rc, 0, "--chain: " + err)
    rows = [json.loads(l) for l in out.splitlines()]
    eq([(r["kind"], r["event"], r["id"], r["other"]) for r in rows],
       [("break", "300001:3", "k5", ""), ("fork", "300001:6", "k8", "300001:5 k7")],
       "chain breaks")
    rc, out, err = bevis(db, auditor, conf, "quality", "--chain")
    eq(rc, 2, "--chain needs one supplier and month")
    rc, out, err = bevis(db, auditor, conf, "quality", "--period", "2026-13")
    eq((rc, err), (2, "bevis quality: '2026-13' is not a month (YYYY-MM)\n"), "a bad month")
    rc, out, err = bevis(db, auditor, conf, "quality", "--supplier", "nobody")
    eq(rc, 2, "an unknown supplier")
    check("no supplier named nobody" in err, err)


class Live:
    """bevisd over CURVE, logging in as an ingest login, two suppliers."""

    def __init__(self, cluster):
        self.db = cluster.new_database(suppliers=())
        self.login = login(self.db, "bevis_ingest")
        self.keys = Keys()
        self.keys.supplier(self.db, "skolplattform")
        self.keys.supplier(self.db, "kedjeleverantor")
        as_ingest = copy.copy(self.db)
        as_ingest.conninfo = conninfo_as(self.db, self.login)
        self.d = Daemon(as_ingest, curve_secret_key=self.keys.server_key)
        self.clients = {}

    def send(self, supplier, body, rid=None):
        if supplier not in self.clients:
            self.clients[supplier] = curve_client(self.d, self.keys, supplier)
        return self.clients[supplier].request(b"EVENTS", b"application/x-ndjson", body,
                                              rid=rid, timeout=60)

    def stop(self):
        for c in self.clients.values():
            c.close()
        eq(self.d.stop(), 0, "bevisd exit code")


def line(e):
    return json.dumps(e, separators=(",", ":")).encode()


def stamp(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_kept_up_as_events_arrive_equals_a_rebuild(cluster):
    live = Live(cluster)
    try:
        now = datetime.datetime.now(datetime.timezone.utc)
        past, future = stamp(now - datetime.timedelta(seconds=30)), stamp(now + datetime.timedelta(minutes=10))

        def ev(n, seq, **kw):
            e = {"id": f"sp-{n}", "time": past, "action": "login", "outcome": "success",
                 "actor": {"user": f"u{n}"}, "src": {"ip": "192.0.2.7"}, "target": "elevportal",
                 "seq": seq}
            e.update(kw)
            return e

        # 1: seq 1-10; two without a user, two dated 10 minutes ahead; one bad line.
        first = [ev(n, n) for n in range(1, 11)]
        for e in first[:2]:
            del e["actor"]
        for e in first[2:4]:
            e["time"] = future
        body = b"\n".join([line(e) for e in first] + [b'{"id": "broken"']) + b"\n"
        rep = live.send("skolplattform", body)
        eq((rep["accepted"], rep["quarantined"]), (10, 1), "request 1")
        # 2: seq 12-20 (11 is missing) and 20 again under another id; then two resent.
        second = [ev(n, n) for n in range(12, 21)] + [ev(21, 20)]
        eq(live.send("skolplattform", b"\n".join(map(line, second)) + b"\n")["accepted"], 10,
           "request 2")
        rep = live.send("skolplattform", b"\n".join(map(line, first[4:6])) + b"\n")
        eq((rep["accepted"], rep["duplicate"]), (0, 2), "two resent")
        # 3: 11 arrives late and fills its gap: nothing is missing any more.
        # Within a minute of 12, so no reordering (requests in flight).
        eq(live.send("skolplattform", line(ev(22, 11)) + b"\n")["accepted"], 1, "request 3")

        # A chained stream: c3 is never sent (a break at c4); c6 and c7 both
        # name c5 (a fork). Hashes are of each line as sent.
        prev, sent, hashes = "0" * 64, [], {}
        for n in range(1, 8):
            if n == 7:
                prev = hashes[5]
            ln = line({"id": f"c{n}", "time": past, "action": "export", "chain": {"prev": prev}})
            hashes[n] = hashlib.sha256(ln).hexdigest()
            prev = hashes[n]
            if n != 3:
                sent.append(ln)
        eq(live.send("kedjeleverantor", b"\n".join(sent[:3]) + b"\n")["accepted"], 3, "chain 1")
        eq(live.send("kedjeleverantor", b"\n".join(sent[3:]) + b"\n")["accepted"], 3, "chain 2")

        db = live.db
        period = db.value("SELECT to_char(min(received_at) AT TIME ZONE 'Europe/Stockholm', "
                          "'YYYY-MM') FROM submission")
        auditor, isam = login(db, "bevis_auditor"), login(db, "bevis_isam")
        tmp = os.path.join(cluster.dir, f"quality-{db.name}")
        os.makedirs(tmp, exist_ok=True)
        conf = config(os.path.join(tmp, "bevisd.conf"))

        def quality(supplier):
            rc, out, err = bevis(db, auditor, conf, "quality", "--supplier", supplier,
                                 "--period", period, "--json")
            eq(rc, 0, "bevis quality: " + err)
            return json.loads(out)

        sp = quality("skolplattform")
        want = {"events": 21, "items": 24, "quarantined": 1, "duplicates": 2,
                "share_actor_user": 19 / 21, "share_action": 1, "share_src_ip": 1,
                "future_events": 2, "late_events": 0, "seq_events": 21, "seq_gaps": 1,
                "seq_missing": 0, "seq_repeats": 1, "seq_reorders": 0, "chain_events": 0,
                "volume_median": None, "report_status": "not_expected"}
        eq({k: sp[k] for k in want}, want, "skolplattform's measures, as kept up")
        check(sp["lag_p50"] in (30, 31, 32), f"median lag {sp['lag_p50']}")
        ch = quality("kedjeleverantor")
        eq((ch["chain_events"], ch["chain_starts"], ch["chain_breaks"], ch["chain_forks"]),
           (6, 1, 1, 1), "the chain: 6 events, 1 start, 1 break, 1 fork")
        rc, out, err = bevis(db, auditor, conf, "quality", "--supplier", "kedjeleverantor",
                             "--period", period, "--chain", "--json")
        eq([(r["kind"], r["id"], r["prev"]) for r in map(json.loads, out.splitlines())],
           [("break", "c4", hashes[3]), ("fork", "c7", hashes[5])],
           "the break names c4 and the hash of the c3 it never got; the fork names c7")

        # The same figures from scratch.
        rc, out, err = bevis(db, isam, conf, "quality", "--period", period, "--json")
        before = out
        eq(db.value("SELECT bevis_quality_rebuild()"), "6", "rebuild: submissions")
        rc, out, err = bevis(db, isam, conf, "quality", "--period", period, "--json")
        eq(out, before, "kept up as events arrived = rebuilt from the stored events")
    finally:
        live.stop()
