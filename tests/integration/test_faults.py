"""The reliability issue: an acknowledged item is never lost, and a resent item
is never stored twice, through crashes of bevisd (SIGKILL), database outages,
full spools, damaged spool files and restarts.

Every test streams numbered events (event(seq)) from retrying senders
(bevistest.Sender: resend on timeout under the same request id, wait on busy)
and ends with chkseq: every acknowledged seq (an `ok` or `spooled` reply) is
in the event table, no seq or id is stored twice, nothing is stored that was
never sent, and no request body is stored as two submissions.

Tests that stop PostgreSQL run on a cluster of their own (own_cluster()).
Every wait has a deadline that means "hung"; no test fails on speed.
BEVIS_FAULT_SEED=N repeats the crash test's random kill moments."""
import os
import random
import re
import time

from bevistest import (SANITIZE, Client, Daemon, Senders, Sender, TestFailure, Throttle,
                       assert_chkseq, check, chkseq, eq, event, free_port, http_get,
                       metrics, ndjson, own_cluster, proc_mem, spool_records,
                       spool_segments, wait_for)

MiB = 1 << 20


def note(msg):
    print(f"  faults: {msg}", flush=True)


def spool_state(d, port):
    m = metrics(port)
    files = {os.path.basename(p): os.path.getsize(p) for p in spool_segments(d.spool_dir)}
    return m, files


def wait_spool_empty(d, port, seconds=30):
    """bevis_spool_records 0 and no segment file with data in it."""
    def empty():
        m, files = spool_state(d, port)
        return m.get("bevis_spool_records") == 0 and not any(files.values())
    try:
        wait_for(empty, seconds, "an empty spool", interval=0.1)
    except TestFailure as e:
        m, files = spool_state(d, port)
        raise TestFailure(f"{e}: bevis_spool_records {m.get('bevis_spool_records')}, "
                          f"segments {files}")


def finish_and_check(senders, d, port, db, tag, what):
    """The end of a spool test: the senders resend until every request is
    answered, the spool empties, and the sequence check passes."""
    senders.finish(60)
    wait_spool_empty(d, port)
    senders.check_replies()
    report = chkseq(db, None, senders.union("acked"), senders.union("issued"))
    note(f"{tag}: {report}; replies {dict(senders.statuses())}")
    assert_chkseq(report, what)


def seq_ranges(n_senders, per_sender, base=0):
    return [range(base + i * per_sender, base + (i + 1) * per_sender)
            for i in range(n_senders)]


def test_crash_sigkill_five_times_while_streaming(cluster):
    """4 senders stream 100,000 events in requests of 100; bevisd is killed
    with SIGKILL at 5 random moments and restarted each time. Senders resend
    unanswered requests until they are acknowledged, so in the end every
    event is stored, once."""
    seed = int(os.environ.get("BEVIS_FAULT_SEED") or random.randrange(1 << 32))
    note(f"crash: seed {seed} (BEVIS_FAULT_SEED={seed} repeats it)")
    rng = random.Random(seed)
    N, S, K = 100_000, 4, 100
    db = cluster.new_database()
    d = Daemon(db, writers=2)
    senders = Senders(Sender(d.endpoint, r, per_request=K, window=2, timeout=2.0,
                             name=f"crash{i}", deadline=100)
                      for i, r in enumerate(seq_ranges(S, N // S)))
    # Kill at random points of the stream: when this much is acknowledged,
    # plus a few random milliseconds.
    marks = sorted(int(rng.uniform(0.05, 0.9) * N) for _ in range(5))
    try:
        t0 = time.monotonic()
        senders.start()
        for i, mark in enumerate(marks):
            wait_for(lambda: senders.acked_count() >= mark, 60,
                     f"{mark} acknowledged events before kill {i + 1}:\n"
                     + senders.describe(), interval=0.005)
            time.sleep(rng.uniform(0, 0.05))
            acked, stored = senders.acked_count(), db.count("event")
            d.kill()
            note(f"crash: kill {i + 1} at {acked} acknowledged, {stored} stored, "
                 f"{sum(s.outstanding for s in senders)} requests unanswered")
            time.sleep(rng.uniform(0, 0.3))
            d.restart()
        senders.wait(90)
        note(f"crash: streamed in {time.monotonic() - t0:.1f} s; "
             f"replies {dict(senders.statuses())}; "
             f"{sum(s.timeouts for s in senders)} timeouts, "
             f"{sum(s.replays for s in senders)} replays, "
             f"{sum(s.sends for s in senders) - sum(s.requests for s in senders)} resends")
        senders.check_replies()
        acked = senders.union("acked")
        report = chkseq(db, None, acked, N)
        note(f"crash: {report}")
        assert_chkseq(report, "crash")
        eq(len(acked), N, "acknowledged events")
        eq(db.count("event"), N, "event rows")
        eq(db.count("submission"), N // K, "submissions: one per request")
    finally:
        senders.stop()
        d.stop()


def test_database_outage_spools_and_replays(cluster):
    """Senders stream; PostgreSQL stops (fast) for 10 s and starts again.
    Some requests are answered `spooled`; in the end everything acknowledged
    is stored, once, and the spool is empty."""
    with own_cluster() as c:
        db = c.new_database()
        port = free_port()
        d = Daemon(db, http_listen=f"127.0.0.1:{port}",
                   spool_max_bytes="64MiB", spool_after_ms=300)
        senders = Senders(Sender(d.endpoint, r, per_request=100, window=1, timeout=3.0,
                                 pause=0.05, name=f"outage{i}", deadline=100)
                          for i, r in enumerate(seq_ranges(4, 10**6)))
        try:
            senders.start()
            time.sleep(2)
            before = senders.statuses()
            c.pg_stop()
            t_down = time.monotonic()
            health = []     # /healthz once requests are being spooled
            while time.monotonic() - t_down < 10:
                if senders.status_count("spooled") > before["spooled"]:
                    health.append(http_get(port, "/healthz", timeout=2)[0])
                time.sleep(0.25)
            c.pg_start()
            during = senders.statuses() - before
            note(f"outage: replies during the 10 s outage {dict(during)}; "
                 f"/healthz {sorted(set(health), key=str)}")
            time.sleep(2)
            finish_and_check(senders, d, port, db, "outage", "database outage")
            check(senders.status_count("spooled") > 0,
                  f"no request was answered 'spooled' during the outage: "
                  f"{dict(senders.statuses())}")
            check(health and 200 in health, f"/healthz while spooling: {health}")
            m = metrics(port)
            check(m.get("bevis_spool_appended_total", 0) > 0 and
                  m.get("bevis_spool_replayed_total", 0) > 0,
                  f"spool counters: appended {m.get('bevis_spool_appended_total')}, "
                  f"replayed {m.get('bevis_spool_replayed_total')}")
        finally:
            senders.stop()
            d.stop()


def test_crash_during_spool_replay(cluster):
    """With the database down, requests are spooled (several hundred KB);
    bevisd is killed; the database returns, slowed down, and bevisd is
    restarted and killed again as soon as the replay has begun; then
    restarted for good. Everything acknowledged is stored once, and the
    spool ends empty."""
    with own_cluster() as c:
        db = c.new_database()
        throttle = Throttle(db, 0)   # made while the database is up; off for now
        port = free_port()
        # Batches of about 2 requests (28 KB each), in the replay too: the
        # replay of 40 or more takes 20 or more slowed-down commits.
        d = Daemon(db, http_listen=f"127.0.0.1:{port}", writers=2, batch_max_rows=200,
                   batch_max_bytes="64KiB",
                   spool_max_bytes="64MiB", spool_after_ms=200)
        senders = Senders(Sender(d.endpoint, r, per_request=100, window=2, timeout=3.0,
                                 name=f"replay{i}", deadline=100)
                          for i, r in enumerate(seq_ranges(4, 10**6)))
        try:
            c.pg_stop()
            senders.start()
            t0 = time.monotonic()
            while senders.status_count("spooled") < 40:
                check(time.monotonic() - t0 < 30, "40 requests spooled within 30 s: "
                      f"{dict(senders.statuses())}")
                check(time.monotonic() - t0 < 8 or senders.status_count("spooled") > 0,
                      f"no request answered 'spooled' in 8 s with the database down: "
                      f"{dict(senders.statuses())}")
                time.sleep(0.05)
            senders.finish()        # no new requests; unanswered ones are resent
            m, files = spool_state(d, port)
            d.kill()
            # Only the replay stores the requests answered `spooled` (their
            # senders do not resend them): once one is stored, it has begun.
            spooled = ",".join("'" + r.decode() + "'" for r in senders.rids("spooled"))
            note(f"replay: killed with {senders.status_count('spooled')} spooled replies, "
                 f"bevis_spool_bytes {m.get('bevis_spool_bytes')}, segments {files}")
            c.pg_start()
            throttle.set(0.1)       # 0.1 s per INSERT: the replay takes a while
            d.restart(ready_seconds=30)

            def replay_begun():
                m = metrics(port)
                return (m.get("bevis_spool_replayed_total", 0) > 0 or int(db.value(
                    f"SELECT count(*) FROM submission WHERE request_id IN ({spooled})"
                )) > 0) and m
            m = wait_for(replay_begun, 30, "the spool replay to begin", interval=0.01)
            d.kill()
            stored = db.count("event")
            note(f"replay: killed again with {stored} events stored, "
                 f"bevis_spool_replayed_total {m.get('bevis_spool_replayed_total')}, "
                 f"bevis_spool_records {m.get('bevis_spool_records')} left")
            check(m.get("bevis_spool_records", 0) > 0,
                  "the replay had already ended at the second kill, so this run did "
                  "not crash in the middle of it (batch_max_bytes no longer bounds "
                  "a replay batch?)")
            throttle.set(0)
            d.restart(ready_seconds=30)
            finish_and_check(senders, d, port, db, "replay", "crash during spool replay")
        finally:
            senders.stop()
            d.stop()


def test_crash_while_spooling(cluster):
    """With the database down, senders stream and bevisd spools; it is
    killed with SIGKILL at 3 random moments (a spool write may be cut
    short) and restarted each time. Then the database returns: everything
    acknowledged (`spooled` or `ok`) is stored, once, and the spool ends
    empty."""
    seed = int(os.environ.get("BEVIS_FAULT_SEED") or random.randrange(1 << 32))
    note(f"spoolcrash: seed {seed} (BEVIS_FAULT_SEED={seed} repeats it)")
    rng = random.Random(seed)
    with own_cluster() as c:
        db = c.new_database()
        port = free_port()
        d = Daemon(db, http_listen=f"127.0.0.1:{port}",
                   spool_max_bytes="64MiB", spool_after_ms=200)
        senders = Senders(Sender(d.endpoint, r, per_request=100, window=2, timeout=2.0,
                                 pause=0.02, name=f"spoolcrash{i}", deadline=100)
                          for i, r in enumerate(seq_ranges(4, 10**6)))
        try:
            c.pg_stop()
            senders.start()
            for i in range(3):
                time.sleep(rng.uniform(0.3, 1.2))
                d.kill()
                note(f"spoolcrash: kill {i + 1} after {senders.status_count('spooled')} "
                     f"spooled replies, {sum(s.outstanding for s in senders)} requests "
                     f"unanswered")
                d.restart(ready_seconds=30)
            time.sleep(0.5)
            c.pg_start()
            finish_and_check(senders, d, port, db, "spoolcrash", "crash while spooling")
            check(senders.status_count("spooled") > 0,
                  f"no request was answered 'spooled' with the database down: "
                  f"{dict(senders.statuses())}")
        finally:
            senders.stop()
            d.stop()


def test_full_spool_answers_busy(cluster):
    """A 64 KiB spool with the database down fills up: further requests are
    answered `busy` (and /healthz says 503). Once the database is back,
    everything acknowledged is stored, once."""
    with own_cluster() as c:
        db = c.new_database()
        port = free_port()
        d = Daemon(db, http_listen=f"127.0.0.1:{port}",
                   spool_max_bytes="64KiB", spool_after_ms=200)
        # Requests of about 6 KB: a batch of several still fits, so some are
        # spooled before the spool is full.
        senders = Senders(Sender(d.endpoint, r, per_request=20, window=2, timeout=3.0,
                                 name=f"full{i}", deadline=100)
                          for i, r in enumerate(seq_ranges(2, 10**6)))
        try:
            c.pg_stop()
            senders.start()
            t0 = time.monotonic()
            health = []
            while time.monotonic() - t0 < 8 and not (
                    senders.status_count("busy") > 0 and 503 in health):
                health.append(http_get(port, "/healthz", timeout=2)[0])
                time.sleep(0.1)
            down = dict(senders.statuses())
            note(f"full: replies with the database down {down}; "
                 f"/healthz {sorted(set(health), key=str)}")
            c.pg_start()
            finish_and_check(senders, d, port, db, "full", "full spool")
            check(down.get("spooled", 0) > 0 and down.get("busy", 0) > 0,
                  f"with the database down and a 64 KiB spool, want some 'spooled' "
                  f"then 'busy' replies, got {down}")
            check(503 in health, f"/healthz with the database down and the spool full: "
                  f"{health}")
        finally:
            senders.stop()
            d.stop()


def spool_requests(d, n, per_request=50, prefix="sp"):
    """With the database down: n requests, one at a time, each answered
    `spooled`. Returns [(request id, seqs, reply)]."""
    cl = Client(d.endpoint)
    out = []
    try:
        for i in range(n):
            seqs = range(i * per_request, (i + 1) * per_request)
            rid = f"{prefix}-{i}".encode()
            try:
                rep = cl.events(ndjson([event(q) for q in seqs]), rid=rid, timeout=5)
            except TimeoutError:
                raise TestFailure(f"request {i}: no reply within 5 s with the database "
                                  f"down; want 'spooled'")
            eq(rep.get("status"), "spooled", f"request {i} with the database down")
            out.append((rid, seqs, rep))
    finally:
        cl.close()
    return out


def replay_all_but(c, d, db, port, reqs, lost, what):
    """Starts the database and bevisd again; every spooled request but
    reqs[lost] is replayed, once, and the spool ends empty."""
    c.pg_start()
    d.restart(ready_seconds=30)
    kept = [r for i, r in enumerate(reqs) if i != lost]
    acked = {q for _rid, seqs, _rep in kept for q in seqs}
    wait_for(lambda: db.count("event") >= len(acked), 30,
             f"{len(acked)} events replayed")
    wait_for(lambda: metrics(port).get("bevis_spool_records") == 0, 30,
             "bevis_spool_records 0")
    report = chkseq(db, None, acked, {q for _r, s, _p in reqs for q in s})
    note(f"{what}: {report}")
    assert_chkseq(report, f"{what} record")


def record_owner(path, offset, length, reqs):
    """Which request a spool record holds: the one whose request id is in
    its payload (None if none or several are)."""
    with open(path, "rb") as f:
        f.seek(offset + 12)
        payload = f.read(length)
    hits = [i for i, (rid, _s, _r) in enumerate(reqs) if rid in payload]
    return hits[0] if len(hits) == 1 else None


def test_torn_spool_record_is_ignored(cluster):
    """A crash in the middle of a spool write leaves a torn last record:
    bevisd ignores it (and says so), and replays every record before it.
    The torn request counts as never acknowledged, as if the crash had come
    before the fdatasync."""
    with own_cluster() as c:
        db = c.new_database()
        port = free_port()
        d = Daemon(db, http_listen=f"127.0.0.1:{port}",
                   spool_max_bytes="16MiB", spool_after_ms=200)
        try:
            c.pg_stop()
            reqs = spool_requests(d, 5)
            d.kill()
            segs = spool_segments(d.spool_dir)
            check(segs, f"no segment files in {d.spool_dir}")
            newest = segs[-1]
            recs = spool_records(newest)
            check(recs and recs[-1][2], f"{newest}: no complete record: {recs}")
            off, length, _ = recs[-1]
            torn = record_owner(newest, off, length, reqs)
            torn = len(reqs) - 1 if torn is None else torn
            size = os.path.getsize(newest)
            cut = off + 12 + length - 3       # 3 bytes into the last record's payload
            os.truncate(newest, cut)
            note(f"torn: {len(segs)} segments; {os.path.basename(newest)} cut from {size} "
                 f"to {cut} bytes, into record {len(recs)} at {off} (request {torn})")
            replay_all_but(c, d, db, port, reqs, torn, "torn")
            tseqs = reqs[torn][1]
            eq(db.count("event", f"seq BETWEEN {tseqs[0]} AND {tseqs[-1]}"), 0,
               "events of the torn record")
            log = d.logtext(since_start=True)
            check(re.search(r"torn", log, re.I), f"the log does not mention the torn "
                  f"record:\n{log}")
        finally:
            d.stop()


def test_corrupt_middle_spool_record_is_moved_aside(cluster):
    """A record in the middle of a segment whose CRC does not match: its
    request's events are not stored, it is moved to spool/corrupt/, the log
    warns, bevis_spool_corrupt_total counts it, and the records after it
    are replayed."""
    with own_cluster() as c:
        db = c.new_database()
        port = free_port()
        d = Daemon(db, http_listen=f"127.0.0.1:{port}",
                   spool_max_bytes="16MiB", spool_after_ms=200)
        try:
            c.pg_stop()
            reqs = spool_requests(d, 4, prefix="cr")
            d.kill()
            segs = spool_segments(d.spool_dir)
            check(segs, f"no segment files in {d.spool_dir}")
            layout = {p: spool_records(p) for p in segs}
            seg = next((p for p, r in layout.items() if len(r) >= 3), None)
            check(seg, "no segment with 3 records or more: "
                  f"{ {os.path.basename(p): len(r) for p, r in layout.items()} }")
            off, length, _ = layout[seg][1]
            bad = record_owner(seg, off, length, reqs)
            bad = 1 if bad is None else bad
            pos = off + 12 + length // 2
            with open(seg, "r+b") as f:
                f.seek(pos)
                b = f.read(1)
                f.seek(pos)
                f.write(bytes([b[0] ^ 0x5A]))
            note(f"corrupt: flipped the byte at {pos} of {os.path.basename(seg)}, "
                 f"inside record 2 of {len(layout[seg])} (request {bad})")
            replay_all_but(c, d, db, port, reqs, bad, "corrupt")
            bseqs = reqs[bad][1]
            eq(db.count("event", f"seq BETWEEN {bseqs[0]} AND {bseqs[-1]}"), 0,
               "events of the corrupt record")
            cdir = os.path.join(d.spool_dir, "corrupt")
            check(os.path.isdir(cdir) and os.listdir(cdir),
                  f"nothing was moved to {cdir}")
            log = d.logtext(since_start=True)
            check(re.search(r"corrupt/", log), f"no warning naming corrupt/ in the "
                  f"log:\n{log}")
            m = metrics(port)
            check(m.get("bevis_spool_corrupt_total", 0) >= 1,
                  f"bevis_spool_corrupt_total {m.get('bevis_spool_corrupt_total')}")
        finally:
            d.stop()


def test_graceful_drain_on_sigterm(cluster):
    """SIGTERM in the middle of a stream: bevisd answers what it has taken
    in and exits 0, and every request answered `ok` is stored, once."""
    db = cluster.new_database()
    d = Daemon(db, writers=2)
    senders = Senders(Sender(d.endpoint, r, per_request=500, window=4, timeout=10.0,
                             name=f"drain{i}", deadline=60)
                      for i, r in enumerate(seq_ranges(4, 10**6)))
    try:
        senders.start()
        wait_for(lambda: senders.acked_count() >= 20_000, 30,
                 "20,000 events acknowledged before SIGTERM")
        t0 = time.monotonic()
        d.terminate()
        try:
            rc = d.stop(timeout=30)
        finally:
            senders.stop()
        log = d.logtext()
        drained = re.search(r"draining: (\d+) requests in flight", log)
        note(f"drain: exit {rc} {time.monotonic() - t0:.2f} s after SIGTERM, "
             f"{drained.group(1) if drained else '?'} requests in flight then; "
             f"replies {dict(senders.statuses())}")
        eq(rc, 0, "bevisd exit code after SIGTERM")
        ok = senders.union("ok_seqs")
        report = chkseq(db, None, ok, senders.union("issued"))
        note(f"drain: {report}")
        assert_chkseq(report, "graceful drain")
        for s in senders:
            check(not s.anomalies and s.dup_outcomes == 0,
                  f"{s.name}: {s.anomalies[:3]}, {s.dup_outcomes} duplicate outcomes")
    finally:
        senders.stop()
        d.stop()


def memory_run(cluster, what, sender_timeout, slow, fast, seconds=10):
    """Senders push large requests much faster than the database takes them
    for `seconds`, while bevisd's RSS is sampled every 100 ms; slow(throttle)
    makes the database slow, fast(throttle) undoes it. Then everything
    acknowledged must be stored, and the peak RSS must stay within the bound
    computed from the configuration (below)."""
    db = cluster.new_database()
    throttle = Throttle(db, 0)
    max_inflight = 4 * MiB
    rcvhwm = 4
    conns = 4
    per_request = 1000
    req_bytes = len(ndjson([event(q) for q in range(10**6, 10**6 + per_request)]))
    port = free_port()
    # One request per batch (batch_max_rows), so a 0.2 s sleep per INSERT
    # holds the writers to about 2 x 5 requests a second.
    d = Daemon(db, max_inflight_bytes=max_inflight, rcvhwm=rcvhwm, writers=2,
               batch_max_rows=per_request, http_listen=f"127.0.0.1:{port}")
    senders = Senders(Sender(d.endpoint, r, per_request=per_request, window=16,
                             timeout=sender_timeout, name=f"{what}{i}", deadline=100)
                      for i, r in enumerate(seq_ranges(conns, 10**6, base=10**6)))
    try:
        time.sleep(0.5)
        baseline = proc_mem(d.pid)["VmRSS"]
        # The bound, for docs: bevisd's resident memory stays below
        #   RSS at start
        #   + 2 x max_inflight_bytes        (the bodies held, and the writers'
        #                                    COPY data of about as much again)
        #   + rcvhwm x connections x request size   (ZeroMQ's receive queues;
        #                                    past max_inflight_bytes bevisd
        #                                    answers busy and keeps reading)
        #   + 32 MiB                        (allocator slack, libpq and libzmq
        #                                    buffers, the reply JSON)
        bound = baseline + 2 * max_inflight + rcvhwm * conns * req_bytes + 32 * MiB
        senders.start()
        wait_for(lambda: senders.acked_count() >= 8 * per_request, 30,
                 "8 requests acknowledged")
        slow(throttle)
        peak = baseline
        max_inflight_seen = 0
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            peak = max(peak, proc_mem(d.pid)["VmRSS"])
            max_inflight_seen = max(max_inflight_seen,
                                    metrics(port).get("bevis_in_flight_bytes", 0))
            time.sleep(0.1)
        hwm = proc_mem(d.pid)["VmHWM"]
        stored_slow = db.count("event")
        reconnects = sum(s.timeouts for s in senders)
        fast(throttle)
        throttle.remove()
        senders.finish(90)
        note(f"{what}: request {req_bytes} B; RSS at start {baseline / MiB:.1f} MiB, "
             f"peak sampled {peak / MiB:.1f} MiB, VmHWM {hwm / MiB:.1f} MiB, bound "
             f"{bound / MiB:.1f} MiB = {baseline / MiB:.1f} + 2 x {max_inflight / MiB:.0f} "
             f"+ {rcvhwm} x {conns} x {req_bytes / MiB:.2f} + 32; in flight at most "
             f"{max_inflight_seen / MiB:.1f} MiB; {stored_slow} events stored in the "
             f"slow {seconds} s; {reconnects} sender reconnects then; "
             f"{len(senders.union('issued'))} sent")
        senders.check_replies()
        report = chkseq(db, None, senders.union("acked"), senders.union("issued"))
        note(f"{what}: {report}")
        assert_chkseq(report, what)
        check(max_inflight_seen >= max_inflight / 2,
              f"the senders never filled bevisd's in-flight budget (at most "
              f"{max_inflight_seen} bytes): the test did not push hard enough")
        if SANITIZE:
            # ASan keeps freed memory in its quarantine (256 MiB) and adds
            # shadow memory: RSS says nothing about bevisd's own bound.
            note(f"{what}: SANITIZE build, the RSS bound is not checked")
            return
        check(peak <= bound and hwm <= bound,
              f"bevisd's memory passed its bound: peak RSS {peak / MiB:.1f} MiB, VmHWM "
              f"{hwm / MiB:.1f} MiB, bound {bound / MiB:.1f} MiB, with {reconnects} "
              f"sender reconnects while bevisd was not reading")
    finally:
        senders.stop()
        d.stop()


def test_bounded_memory_with_a_slow_database(cluster):
    """A database far slower than the senders (every INSERT into event sleeps
    0.2 s), senders that wait for their replies: bevisd's memory stays within
    what its configuration allows. Then the database is fast again and
    everything acknowledged is stored."""
    memory_run(cluster, "memory", 60.0, lambda t: t.set(0.2), lambda t: t.set(0))


def test_bounded_memory_when_senders_reconnect(cluster):
    """The database hangs (reachable, so nothing is spooled; every INSERT
    waits) for 12 s. Past max_inflight_bytes bevisd answers busy; its
    senders time out after 1 s and reconnect and resend, as PROTOCOL.md §6.5
    tells them. bevisd's memory must stay within the same bound: a reconnect
    must not leave the old connection's queued requests pinned in memory
    (libzmq keeps a gone peer's unread messages until the socket reads them,
    which is why bevisd does not stop reading)."""
    memory_run(cluster, "reconnect", 1.0, lambda t: t.stall(True),
               lambda t: t.stall(False), seconds=12)


def test_disk_full_in_the_database_spools_then_recovers(cluster):
    """SQLSTATE 53100 (disk full) with the connections up: after
    spool_after_ms the requests are spooled; once the database takes writes
    again, the spool is replayed and new requests are answered ok, not
    spooled (the writers' open connections must not keep bevisd in its
    spooling state)."""
    db = cluster.new_database()
    db.sql("CREATE TABLE disk_full (on_ boolean NOT NULL)")
    db.sql("INSERT INTO disk_full VALUES (true)")
    db.sql("CREATE FUNCTION fake_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ "
           "BEGIN IF (SELECT on_ FROM disk_full) THEN RAISE EXCEPTION 'could not "
           "extend file: No space left on device' USING ERRCODE = 'disk_full'; END IF; "
           "RETURN NULL; END $$")
    db.sql("CREATE TRIGGER fake_disk_full AFTER INSERT ON event "
           "FOR EACH STATEMENT EXECUTE FUNCTION fake_disk_full()")
    port = free_port()
    d = Daemon(db, http_listen=f"127.0.0.1:{port}", spool_after_ms=200)
    try:
        c = Client(d.endpoint)
        rep = c.events(ndjson([event(i) for i in range(10)]), timeout=30)
        eq(rep["status"], "spooled", "reply while the disk is full")
        rep = c.events(ndjson([event(i) for i in range(10, 20)]), timeout=30)
        eq(rep["status"], "spooled", "the next one is spooled at once")
        db.sql("UPDATE disk_full SET on_ = false")
        wait_for(lambda: metrics(port).get("bevis_spool_records") == 0, 30,
                 "the spool replayed")
        eq(db.count("event"), 20, "spooled events stored")
        rep = c.events(ndjson([event(i) for i in range(20, 30)]), timeout=30)
        eq((rep["status"], rep.get("accepted")), ("ok", 10),
           "a new request after recovery goes to the database")
        eq(http_get(port, "/healthz")[0], 200, "healthy")
        check("the database answers again" in d.logtext(), "the log says it recovered")
    finally:
        eq(d.stop(), 0, "exit code")
