"""The scale phase of make bench (issue 16): `bevis quality` over 5 suppliers
and 10 million events. The events are generated in SQL (generate_series,
the bulk-load path, not through bevisd), a month at a time; after each month
bevis_quality_add() adds that month's submissions to the summaries, as
bevisd does after each batch. Then the real CLI is timed: every supplier and
month, one supplier-month with its sub-scores, and --json.

Prints the times; never fails on them (tests assert figures, not speed).
  --events N   total events (default 10,000,000), spread over 5 suppliers
               and 12 months, one submission per supplier and hour."""
import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
import bevistest  # noqa: E402
from bevistest import BEVIS  # noqa: E402

SUPPLIERS = ["skolplattform", "elevregister", "stadsnat", "lonesystem", "servicedesk"]
MONTHS = ["2025-12", "2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06",
          "2026-07", "2026-08", "2026-09", "2026-10", "2026-11"]

# One month of one supplier: a submission per hour with PER events, received
# at a quarter past; 1 in 10 events without actor.user, lags of 0-119 s,
# 1 in 5,000 dated 10 minutes ahead, a seq gap every 50,000 events.
MONTH_SQL = """
WITH h AS (
    SELECT sp.id AS sp, sp.ord, hr,
           (date_trunc('month', timestamp '{month}-01') AT TIME ZONE 'Europe/Stockholm')
               + hr * interval '1 hour' + interval '15 minutes' AS received_at
      FROM (SELECT id, row_number() OVER (ORDER BY id) AS ord FROM supplier) sp,
           generate_series(0, {hours} - 1) hr
), s AS (
    INSERT INTO submission (id, supplier_id, request_id, content_type, received_at, sha256,
                            body, item_count)
    SELECT {base} + h.ord * 10000 + h.hr, h.sp, '{month}-' || h.ord || '-' || h.hr,
           'application/x-ndjson', h.received_at, sha256(int8send({base} + h.ord * 10000 + h.hr)),
           '\\x78'::bytea, {per}
      FROM h
    RETURNING id
)
INSERT INTO event (submission_id, item_no, supplier_id, source_event_id, occurred_at, severity,
                   category, action, outcome, actor_user, src_ip, target, message, seq,
                   raw_offset, raw_length)
SELECT {base} + h.ord * 10000 + h.hr, i, h.sp, '{month}-' || h.hr || '-' || i,
       h.received_at - CASE WHEN n % 5000 = 7 THEN interval '-10 minutes'
                            ELSE (n % 120) * interval '1 second' END,
       (n % 7)::smallint, 'authentication', 'login', CASE WHEN n % 9 = 0 THEN 'failure' ELSE 'success' END,
       CASE WHEN n % 10 <> 0 THEN 'user' || (n % 997) END, '192.0.2.1'::inet, 'elevportal',
       'sign-in', n + n / 50000, 0, 1
  FROM h, generate_series(0, {per} - 1) i,
       LATERAL (SELECT {first} + h.hr::bigint * {per} + i AS n) x
"""


def psql(db, sql):
    out = subprocess.run([os.path.join(bevistest.PGBIN, "psql"), "-X", "-q", "-At",
                          "-v", "ON_ERROR_STOP=1", "-d", db.conninfo, "-c", sql],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"bench_quality: {out.stderr}")
    return out.stdout.strip()


def timed(argv):
    t = time.monotonic()
    out = subprocess.run(argv, capture_output=True, text=True)
    dt = time.monotonic() - t
    if out.returncode != 0:
        raise SystemExit(f"bench_quality: {' '.join(argv)}: {out.stderr}")
    return dt, out.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=10_000_000)
    args = ap.parse_args()

    cluster = bevistest.Cluster()
    try:
        db = cluster.new_database(tuple(SUPPLIERS))
        psql(db, "UPDATE supplier SET created_at = '2025-11-01'")
        per_supplier_month = args.events // (len(SUPPLIERS) * len(MONTHS))
        gen = add = 0.0
        first = 0
        for k, month in enumerate(MONTHS):
            hours = int(psql(db, f"SELECT (extract(epoch FROM ((date_trunc('month', timestamp "
                                 f"'{month}-01') + interval '1 month') AT TIME ZONE "
                                 f"'Europe/Stockholm') - (timestamp '{month}-01' AT TIME ZONE "
                                 f"'Europe/Stockholm')) / 3600)::integer"))
            per = max(1, per_supplier_month // hours)
            base = 1_000_000 * (k + 1)
            t = time.monotonic()
            psql(db, MONTH_SQL.format(month=month, hours=hours, per=per, base=base, first=first))
            gen += time.monotonic() - t
            t = time.monotonic()
            psql(db, f"SELECT bevis_quality_add(array_agg(id ORDER BY id)) FROM submission "
                     f"WHERE id >= {base} AND id < {base + 1_000_000}")
            add += time.monotonic() - t
            first += hours * per
        events = int(psql(db, "SELECT count(*) FROM event"))
        psql(db, "VACUUM ANALYZE")
        print(f"quality scale: {events:,} events, {len(SUPPLIERS)} suppliers, "
              f"{len(MONTHS)} months generated in SQL in {gen:.0f} s; summaries added "
              f"month by month in {add:.1f} s ({1000 * add / events * 1000:.2f} ms per "
              f"1,000 events)")
        base = [BEVIS, "--db", db.conninfo]
        for what, argv in [
                ("every supplier and month", ["quality"]),
                ("every supplier and month, --json", ["quality", "--json"]),
                ("one supplier-month with its sub-scores",
                 ["quality", "--supplier", "stadsnat", "--period", "2026-06"]),
                ("one supplier, a year, --csv",
                 ["quality", "--supplier", "stadsnat", "--from", "2025-12", "--to", "2026-11",
                  "--csv"])]:
            runs = [timed(base + argv) for _ in range(3)]
            rows = len([l for l in runs[0][1].splitlines() if l.strip()])
            print(f"quality scale: bevis {' '.join(argv)} ({what}): "
                  f"median {sorted(r[0] for r in runs)[1]:.2f} s of 3 runs, "
                  f"{rows} lines (target: under 10 s)")
        size = psql(db, "SELECT pg_size_pretty(pg_total_relation_size('quality_hour') + "
                        "pg_total_relation_size('quality_lag'))")
        print(f"quality scale: the summaries take {size} for {events:,} events")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
