"""make bench: bevis end to end against `psql \\copy` of the same rows, in the
same run, on the same PostgreSQL cluster.

  baseline  psql \\copy of the normalized event rows (text format, one
            transaction) into a freshly migrated database: the same table,
            indexes and constraints that bevisd writes to.
  bevis     `bevis send` pushes the events as NDJSON requests of 1,000 items
            with 16 requests in flight and waits for every acknowledgement;
            bevisd parses, stores each request body as a submission, COPYs the
            events and replies after COMMIT.
Usage: bench.py [--events N] [--writers N] [--runs N]"""
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


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=int(os.environ.get("BENCH_EVENTS", 200000)))
    ap.add_argument("--writers", type=int, default=2)
    ap.add_argument("--window", type=int, default=16)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    n = args.events
    events = make_events(n)
    lines = [json.dumps(e, separators=(",", ":")).encode() + b"\n" for e in events]
    avg = sum(len(x) for x in lines) / n
    tmp = tempfile.mkdtemp(prefix="bevis-bench-")
    nd = os.path.join(tmp, "events.ndjson")
    with open(nd, "wb") as f:
        f.writelines(lines)

    ratios = []
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
            d = Daemon(db, writers=args.writers, log_level="warning",
                       ledger_key=os.path.join(keydir, "ledger.key"))
            db.sql("CHECKPOINT")
            t0 = time.monotonic()
            out = subprocess.run([BEVIS, "send", "--quiet", "--endpoint", d.endpoint,
                                  "--window", str(args.window), "--chunk-items", "1000",
                                  "--timeout", "120", nd], capture_output=True, text=True)
            t_bevis = time.monotonic() - t0
            rss = peak_rss_kib(d.proc.pid)
            d.stop()
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
            t0 = time.monotonic()
            subprocess.run([os.path.join(PGBIN, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                            "-d", db.conninfo, "-c", f"\\copy event ({cols}) FROM '{tsv}'"],
                           check=True)
            t_copy = time.monotonic() - t0
            got = db.count("event")
            assert got == n, f"baseline stored {got} rows"
            cluster.stop()

            r_copy, r_bevis = n / t_copy, n / t_bevis
            print(f"bench run {run + 1}: psql \\copy {r_copy:,.0f} events/s ({t_copy:.2f} s); "
                  f"bevis {r_bevis:,.0f} events/s ({t_bevis:.2f} s); "
                  f"ratio bevis/copy {r_bevis / r_copy:.2f}; bevisd peak RSS {rss / 1024:.1f} MiB")
            ratios.append(r_bevis / r_copy)
            print(f"bench run {run + 1}: bevis verify of that ledger ({n} events, "
                  f"{n // 1000} leaves, every body re-hashed): {t_verify:.2f} s, "
                  f"{n / t_verify:,.0f} events/s")
        ratios.sort()
        print(f"bench: median ratio bevis/copy {ratios[len(ratios) // 2]:.2f} over {len(ratios)} runs "
              f"(min {ratios[0]:.2f}, max {ratios[-1]:.2f})")
    finally:
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
