"""make bench: bevis end to end against `psql \\copy` of the same rows, in the
same run, on the same PostgreSQL cluster.

  baseline  psql \\copy of the normalized event rows (text format, one
            transaction) into a freshly migrated database: the same table,
            indexes and constraints that bevisd writes to.
  bevis     `bevis send` pushes the events as NDJSON requests of 1,000 items
            with 16 requests in flight and waits for every acknowledgement;
            bevisd parses, stores each request body as a submission, COPYs the
            events and replies after COMMIT.
  rules     the same with the 5 rules of bench_rules.py enabled, and the
            time until the rules evaluator has caught up.
Each run also prints CPU milliseconds per 1,000 events for each process:
the sender (bevis send, psql), bevisd, and the PostgreSQL cluster (the
postmaster and all its children, backends and background writers alike),
read from /proc and wait4. The ratio moves with the machine; CPU per event
shows where the time goes.
With --cef (make bench passes it), each run also sends the same events as
CEF lines (application/cef, one supplier over CURVE, since CEF lines name no
supplier) and prints that ratio beside the JSON one, against the same
\copy.
With --rules off, every bevisd runs without its rules evaluator (the
config's rules = off): the rules phase then only sends, and prints no lag.
Usage: bench.py [--events N] [--writers N] [--runs N] [--cef] [--rules on|off]"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import bevistest  # noqa: E402
from bevistest import BEVIS, PGBIN, Daemon  # noqa: E402
from bench_rules import RULES, rules_phase  # noqa: E402

SUPPLIERS = ["skolplattform", "m365-tenant", "stadsnat", "servicedesk", "elevregister"]
CATEGORIES = ["authentication", "data_access", "network", "malware", "account_change"]
ACTIONS = ["login", "logout", "read", "export", "block", "grant", "quarantine"]


def make_events(n, seed=7):
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        sup = SUPPLIERS[i % len(SUPPLIERS)]
        t = 1790812800 + i * 7  # 2026-10-01 onwards
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % rnd.randrange(10**6)
        user = "user%04d@skola.example.se" % rnd.randrange(5000)
        e = {"supplier": sup, "id": "%s-%09d" % (sup[:3], i), "time": ts,
             "severity": rnd.randrange(7), "category": rnd.choice(CATEGORIES),
             "action": rnd.choice(ACTIONS), "outcome": rnd.choice(["success", "failure"]),
             "actor": {"user": user},
             "src": {"ip": "10.%d.%d.%d" % (rnd.randrange(256), rnd.randrange(256), rnd.randrange(1, 255))},
             "target": "app-%02d.kommun.example.se" % rnd.randrange(40),
             "message": "User %s performed %s on resource /api/v2/records/%d from device %08x; "
                        "session %016x" % (user, rnd.choice(ACTIONS), rnd.randrange(10**6),
                                          rnd.randrange(2**32), rnd.randrange(2**64)),
             "seq": i, "tenant": "kommun-%d" % rnd.randrange(3), "user_agent": "Mozilla/5.0"}
        out.append(e)
    return out


def cef_escape(v, header=False):
    v = str(v).replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    return v.replace("|", "\\|") if header else v.replace("=", "\\=")


def cef_line(e):
    """The event as an ArcSight CEF line, its fields under CEF's keys."""
    import datetime
    t = datetime.datetime.fromisoformat(e["time"].replace("Z", "+00:00"))
    ms = int(t.timestamp() * 1000)
    ext = [("externalId", e["id"]), ("rt", ms), ("cat", e["category"]),
           ("act", e["action"]), ("outcome", e["outcome"]),
           ("suser", e["actor"]["user"]), ("src", e["src"]["ip"]),
           ("dhost", e["target"]), ("cn1", e["seq"]), ("cn1Label", "seq"),
           ("cs1", e["tenant"]), ("cs1Label", "tenant"),
           ("requestClientApplication", e["user_agent"]), ("msg", e["message"])]
    head = "CEF:0|bevis|bench|1.0|%s|%s|%d|" % (
        cef_escape(e["category"], True), cef_escape(e["action"], True), e["severity"])
    return (head + " ".join("%s=%s" % (k, cef_escape(v)) for k, v in ext)).encode() + b"\n"


def copy_escape(v):
    if v is None:
        return "\\N"
    s = str(v)
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def baseline_rows(events, lines, supplier_ids):
    """The rows bevisd would write, as COPY text."""
    rows = []
    off = 0
    for i, (e, line) in enumerate(zip(events, lines)):
        attrs = {"tenant": e["tenant"], "user_agent": e["user_agent"]}
        rows.append("\t".join(copy_escape(v) for v in [
            1 + i // 1000, i % 1000, supplier_ids[e["supplier"]], e["id"], e["time"],
            e["severity"], e["category"], e["action"], e["outcome"], e["actor"]["user"],
            e["src"]["ip"], e["target"], e["message"], "f", e["seq"],
            json.dumps(attrs), off, len(line) - 1]))
        off = 0 if (i + 1) % 1000 == 0 else off + len(line)
    return "\n".join(rows) + "\n"


CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid, children=False):
    """CPU seconds (user + system) of a live process from /proc/PID/stat;
    with children, also those of its children it has reaped."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3), fields[1] the ppid (field 4); utime
    # is field 14, cutime field 16.
    t = int(fields[11]) + int(fields[12])
    if children:
        t += int(fields[13]) + int(fields[14])
    return t / CLK_TCK


def postgres_cpu(cluster):
    """CPU seconds of the whole cluster: the postmaster, its live children
    (backends, walwriter, checkpointer, ...) and every child it reaped."""
    with open(os.path.join(cluster.dir, "data", "postmaster.pid")) as f:
        pm = int(f.readline())
    total = proc_cpu(pm, children=True)
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid == pm:
                total += proc_cpu(int(d))
        except (OSError, ValueError):
            pass
    return total


def run_measured(argv):
    """Runs argv to the end; returns (CompletedProcess, its CPU seconds)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(argv, stdout=out, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        done = subprocess.CompletedProcess(argv, p.returncode, out.read().decode(),
                                           err.read().decode())
    return done, ru.ru_utime + ru.ru_stime


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def bench_cef(args, path, n):
    """bevis end to end with CEF lines: one supplier, CURVE, a fresh
    cluster. Returns the seconds bevis send took."""
    cluster = bevistest.Cluster()
    db = cluster.new_database(())
    keydir = tempfile.mkdtemp(prefix="bevis-bench-cef-")
    os.chmod(keydir, 0o755)
    for name in ("server", "lev"):
        subprocess.run([BEVIS, "keygen", "--curve", keydir, "--name", name],
                       check=True, capture_output=True)
    pub = open(os.path.join(keydir, "lev.pub")).read().strip()
    db.sql(f"SELECT bevis_supplier_add('lev', '{pub}')")
    # info: a CURVE server answers no plaintext PING; its log says ready.
    d = Daemon(db, writers=args.writers, log_level="info", rules=args.rules,
               curve_secret_key=os.path.join(keydir, "server.key"))
    db.sql("CHECKPOINT")
    t0 = time.monotonic()
    out = subprocess.run([BEVIS, "send", "--quiet", "--type", "cef", "--endpoint",
                          d.endpoint, "--server-key", os.path.join(keydir, "server.pub"),
                          "--key", os.path.join(keydir, "lev.key"), "--window",
                          str(args.window), "--chunk-items", "1000", "--timeout", "120",
                          path], capture_output=True, text=True)
    t = time.monotonic() - t0
    d.stop()
    assert out.returncode == 0, f"bevis send --type cef failed: {out.stdout} {out.stderr}"
    got = db.count("event")
    assert got == n, f"bevis stored {got} CEF rows"
    cluster.stop()
    subprocess.run(["rm", "-rf", keydir])
    return t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=int(os.environ.get("BENCH_EVENTS", 200000)))
    ap.add_argument("--writers", type=int, default=2)
    ap.add_argument("--window", type=int, default=16)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rules", choices=("on", "off"), default="on",
                    help="bevisd's rules option (off: no rules evaluator)")
    ap.add_argument("--cef", action="store_true",
                    help="also send the events as CEF lines over CURVE")
    args = ap.parse_args()
    n = args.events
    events = make_events(n)
    lines = [json.dumps(e, separators=(",", ":")).encode() + b"\n" for e in events]
    avg = sum(len(x) for x in lines) / n
    tmp = tempfile.mkdtemp(prefix="bevis-bench-")
    nd = os.path.join(tmp, "events.ndjson")
    with open(nd, "wb") as f:
        f.writelines(lines)
    cef = os.path.join(tmp, "events.cef")
    if args.cef:
        with open(cef, "wb") as f:
            f.writelines(cef_line(e) for e in events)

    ratios = []
    cef_ratios = []
    rule_ratios = []
    cpus = []
    print(f"bench: {n} events, {avg:.0f} bytes each on average, {len(SUPPLIERS)} suppliers")
    try:
        for run in range(args.runs):
            # Each phase gets a new cluster: neither inherits the other's
            # WAL segments, dirty buffers or cache.
            cluster = bevistest.Cluster()
            db = cluster.new_database(SUPPLIERS)
            keydir = tempfile.mkdtemp(prefix="bevis-bench-key-")
            subprocess.run([BEVIS, "keygen", "--ledger", keydir, "--name", "bench"],
                           check=True, capture_output=True)
            d = Daemon(db, writers=args.writers, log_level="warning", rules=args.rules,
                       ledger_key=os.path.join(keydir, "ledger.key"))
            db.sql("CHECKPOINT")
            pg0, d0 = postgres_cpu(cluster), proc_cpu(d.proc.pid)
            t0 = time.monotonic()
            out, cpu_send = run_measured([BEVIS, "send", "--quiet", "--endpoint",
                                          d.endpoint, "--window", str(args.window),
                                          "--chunk-items", "1000", "--timeout", "120", nd])
            t_bevis = time.monotonic() - t0
            cpu_bevisd = proc_cpu(d.proc.pid) - d0
            rss = peak_rss_kib(d.proc.pid)
            d.stop()
            # The writers' backends have ended with bevisd's connections;
            # a backend that has exited but is not yet reaped would be
            # counted neither live nor in the postmaster's children.
            time.sleep(0.5)
            cpu_pg = postgres_cpu(cluster) - pg0
            assert out.returncode == 0, f"bevis send failed: {out.stdout} {out.stderr}"
            got = db.count("event")
            assert got == n, f"bevis stored {got} rows"
            t0 = time.monotonic()
            out = subprocess.run([BEVIS, "--db", db.conninfo, "verify", "--key",
                                  os.path.join(keydir, "ledger.pub")], capture_output=True, text=True)
            t_verify = time.monotonic() - t0
            assert out.returncode == 0, f"bevis verify failed: {out.stdout} {out.stderr}"
            cluster.stop()
            subprocess.run(["rm", "-rf", keydir])
            t_cef = bench_cef(args, cef, n) if args.cef else None
            t_rules, t_lag, rule_incidents, rule_matches, rule_cpu = rules_phase(
                SUPPLIERS, nd, n, args.writers, args.window, args.rules,
                cpu=(postgres_cpu, proc_cpu))
            cluster = bevistest.Cluster()
            db = cluster.new_database(SUPPLIERS)
            ids = {r[1]: int(r[0]) for r in db.sql("SELECT id, name FROM supplier")}
            tsv = os.path.join(tmp, "events.tsv")
            with open(tsv, "w") as f:
                f.write(baseline_rows(events, lines, ids))
            cols = ("submission_id, item_no, supplier_id, source_event_id, occurred_at, "
                    "severity, category, action, outcome, actor_user, src_ip, target, "
                    "message, personal_data, seq, attrs, raw_offset, raw_length")
            # Each phase starts with clean shared buffers, so neither pays
            # for writing out the other's dirty pages.
            db.sql("CHECKPOINT")
            pg0 = postgres_cpu(cluster)
            t0 = time.monotonic()
            out, cpu_psql = run_measured([os.path.join(PGBIN, "psql"), "-X", "-q", "-v",
                                          "ON_ERROR_STOP=1", "-d", db.conninfo, "-c",
                                          f"\\copy event ({cols}) FROM '{tsv}'"])
            t_copy = time.monotonic() - t0
            assert out.returncode == 0, f"psql \\copy failed: {out.stderr}"
            time.sleep(0.5)  # psql's backend reaped (see above)
            cpu_pg_copy = postgres_cpu(cluster) - pg0
            got = db.count("event")
            assert got == n, f"baseline stored {got} rows"
            cluster.stop()

            r_copy, r_bevis = n / t_copy, n / t_bevis
            print(f"bench run {run + 1}: psql \\copy {r_copy:,.0f} events/s ({t_copy:.2f} s); "
                  f"bevis {r_bevis:,.0f} events/s ({t_bevis:.2f} s); "
                  f"ratio bevis/copy {r_bevis / r_copy:.2f}; bevisd peak RSS {rss / 1024:.1f} MiB")
            ratios.append(r_bevis / r_copy)
            if t_cef:
                r_cef = n / t_cef
                cef_ratios.append(r_cef / r_copy)
                print(f"bench run {run + 1}: CEF input: bevis {r_cef:,.0f} events/s "
                      f"({t_cef:.2f} s); ratio bevis/copy {r_cef / r_copy:.2f} "
                      f"(JSON {r_bevis / r_copy:.2f})")
            r_rules = n / t_rules
            rule_ratios.append(r_rules / r_copy)
            lag = (f"rules lag back to 0 {t_lag:.2f} s after the last acknowledgement; "
                   f"{rule_matches} matches, {rule_incidents} incidents opened"
                   if t_lag is not None else "rules = off: nothing evaluated, no lag measured")
            print(f"bench run {run + 1}: with {len(RULES)} rules: bevis {r_rules:,.0f} events/s "
                  f"({t_rules:.2f} s); ratio bevis/copy {r_rules / r_copy:.2f} against "
                  f"{r_bevis / r_copy:.2f} without rules ({100 * (r_rules / r_bevis - 1):+.1f} %); "
                  + lag)
            print(f"bench run {run + 1}: with {len(RULES)} rules, CPU ms per 1,000 events from the "
                  f"send to the catch-up: bevisd {rule_cpu[0] / (n / 1e6):.1f}, postgres "
                  f"{rule_cpu[1] / (n / 1e6):.1f} (without rules: bevisd "
                  f"{cpu_bevisd / (n / 1e6):.1f}, postgres {cpu_pg / (n / 1e6):.1f})")
            k = n / 1000
            cpu = {"bevis send": cpu_send, "bevisd": cpu_bevisd, "postgres (bevis)": cpu_pg,
                   "psql": cpu_psql, "postgres (\\copy)": cpu_pg_copy}
            cpus.append(cpu)
            print(f"bench run {run + 1}: CPU ms per 1,000 events: "
                  f"bevis send {1000 * cpu_send / k:.1f}, bevisd {1000 * cpu_bevisd / k:.1f}, "
                  f"postgres {1000 * cpu_pg / k:.1f} (bevis path, total "
                  f"{1000 * (cpu_send + cpu_bevisd + cpu_pg) / k:.1f}); "
                  f"psql {1000 * cpu_psql / k:.1f}, postgres {1000 * cpu_pg_copy / k:.1f} "
                  f"(\\copy path, total {1000 * (cpu_psql + cpu_pg_copy) / k:.1f})")
            print(f"bench run {run + 1}: bevis verify of that ledger ({n} events, "
                  f"{n // 1000} leaves, every body re-hashed): {t_verify:.2f} s, "
                  f"{n / t_verify:,.0f} events/s")
        ratios.sort()
        print(f"bench: median ratio bevis/copy {ratios[len(ratios) // 2]:.2f} over {len(ratios)} runs "
              f"(min {ratios[0]:.2f}, max {ratios[-1]:.2f})")
        if cef_ratios:
            cef_ratios.sort()
            print(f"bench: median ratio bevis/copy with CEF input "
                  f"{cef_ratios[len(cef_ratios) // 2]:.2f} over {len(cef_ratios)} runs "
                  f"(JSON {ratios[len(ratios) // 2]:.2f})")
        rule_ratios.sort()
        print(f"bench: median ratio bevis/copy with {len(RULES)} rules "
              f"{rule_ratios[len(rule_ratios) // 2]:.2f} (without rules "
              f"{ratios[len(ratios) // 2]:.2f})")
        # CPU per event does not move with the machine the way the ratio
        # does: it says where the next performance step should aim.
        print("bench: median CPU ms per 1,000 events: " + ", ".join(
            f"{name} {1000 * sorted(c[name] for c in cpus)[len(cpus) // 2] / (n / 1000):.1f}"
            for name in cpus[0]))
    finally:
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
