"""Issue 2: events over ZeroMQ into PostgreSQL, acknowledged after COMMIT,
resends and retries never stored twice."""
import json
import threading

import zmq

from bevistest import Client, Daemon, check, eq, event, ndjson, sha256_hex


def make_requests():
    """10 requests of 1,000 events; 5 malformed events, all in requests 0 and 1."""
    bodies = []
    bad = {(0, 10): b'{"supplier":"demo","id":"bad-1","time":"2026-13-01T00:00:00Z"}',
           (0, 500): b'{"supplier":"demo","time":"2026-10-01T00:00:00Z"}',
           (0, 999): b'{"supplier":"demo","id":"bad-3","time":"2026-10-01T00:00:00Z"',
           (1, 0): b'{"supplier":"demo","id":"bad-4","time":"2026-10-01T00:00:00Z","src.ip":"not-an-ip"}',
           (1, 7): b'{"supplier":"demo","id":"bad-5","time":"2026-10-01T00:00:00Z","msg":"\xff\xfe"}'}
    for r in range(10):
        lines = []
        for k in range(1000):
            if (r, k) in bad:
                lines.append(bad[(r, k)] + b"\n")
            else:
                lines.append(ndjson([event(r * 1000 + k)]))
        bodies.append(b"".join(lines))
    return bodies, bad


def strip_replay(reply):
    r = dict(reply)
    r.pop("replay", None)
    return r


def test_ten_thousand_events_resends_and_retry(cluster):
    db = cluster.new_database()
    d = Daemon(db)
    try:
        bodies, bad = make_requests()
        dealer = Client(d.endpoint)
        req = Client(d.endpoint, zmq.REQ)
        rids, replies = [], []
        # Half over DEALER with several in flight, half over REQ one by one.
        for body in bodies[:5]:
            rids.append(dealer.send(b"EVENTS", b"application/x-ndjson", body))
        got = {}
        for _ in range(5):
            rid, rep = dealer.recv(60)
            got[rid] = rep
        replies = [got[r] for r in rids]
        for body in bodies[5:]:
            rid = f"req-{len(rids)}".encode()
            replies.append(req.events(body, rid=rid))
            rids.append(rid)
        for i, rep in enumerate(replies):
            eq(rep["status"], "ok", f"request {i} status")
            want_q = sum(1 for (r, _k) in bad if r == i)
            eq(rep["quarantined"], want_q, f"request {i} quarantined")
            eq(rep["accepted"], 1000 - want_q, f"request {i} accepted")
            eq(len(rep["outcomes"]), 1000, f"request {i} outcomes")
        for (r, k), _ in bad.items():
            o = replies[r]["outcomes"][k]
            eq(o["outcome"], "quarantined", f"request {r} item {k}")
            check(o["reason"], "a quarantine reason")
        eq(replies[0]["outcomes"][10]["reason"],
           "field 'time' is not an RFC 3339 date-time: '2026-13-01T00:00:00Z'", "reason")
        eq(replies[0]["outcomes"][500]["reason"], "missing required field 'id'", "reason")
        eq(replies[1]["outcomes"][7]["reason"], "invalid UTF-8 at byte 69 of the item", "reason")

        # Three requests resent under new request ids: all duplicates.
        for i in (5, 6, 7):
            rep = dealer.events(bodies[i])
            eq(rep["status"], "ok", "resend status")
            eq(rep["duplicate"], 1000, f"resend of request {i}: duplicates")
            eq(rep["accepted"], 0, f"resend of request {i}: accepted")
            check(all(o["outcome"] == "duplicate" for o in rep["outcomes"]), "all duplicate")
        # One request repeated under its original request id, as a retry.
        retry = dealer.events(bodies[0], rid=rids[0])
        eq(retry.get("replay"), True, "retry is marked as a replay")
        eq(strip_replay(retry), replies[0], "retry gets the original outcome")

        eq(db.count("event"), 9995, "event rows")
        eq(db.count("quarantine"), 5, "quarantine rows")
        eq(db.count("submission"), 13, "submissions")
        sent = sorted(sha256_hex(b) for b in bodies + [bodies[5], bodies[6], bodies[7]])
        stored = sorted(r[0] for r in db.sql(
            "SELECT encode(sha256, 'hex') FROM submission"))
        eq(stored, sent, "submission SHA-256 equal the bytes sent")
        recomputed = db.value("SELECT count(*) FROM submission "
                              "WHERE sha256 <> sha256(body)")
        eq(recomputed, "0", "stored sha256 matches stored body")
        # Every event's raw bytes are its line of the body, exactly.
        mismatched = db.value(
            "SELECT count(*) FROM event_view WHERE (convert_from(raw, 'UTF8')::jsonb"
            " ->> 'id') <> source_event_id")
        eq(mismatched, "0", "raw_offset/raw_length point at each event's own item")
        raw = db.value("SELECT encode(raw, 'escape') FROM quarantine_item "
                       "WHERE reason = 'missing required field ''id'''")
        eq(raw, bad[(0, 500)].decode(), "quarantined raw item")
        dealer.close()
        req.close()
    finally:
        eq(d.stop(), 0, "bevisd exit code")


def test_every_field_is_stored(cluster):
    db = cluster.new_database()
    d = Daemon(db)
    try:
        e = {"supplier": "demo", "id": "full-1", "time": "2026-10-02T13:05:00.123456+02:00",
             "severity": "high", "category": "data_access", "action": "export",
             "outcome": "success", "actor": {"user": "svc", "mfa": False},
             "src": {"ip": "2001:db8::7", "port": 443}, "target": "elevregister",
             "message": "Bulk export åäö", "seq": 42, "personal_data": True,
             "rows": 1204, "nested": {"a": [1, 2]}}
        rep = Client(d.endpoint).events(json.dumps(e).encode(), ct=b"application/json")
        eq(rep["accepted"], 1, "accepted")
        row = db.sql("SELECT source_event_id, occurred_at AT TIME ZONE 'UTC', severity, "
                     "category, action, outcome, actor_user, host(src_ip), target, message, "
                     "seq, personal_data, attrs::text, supplier FROM event_view")[0]
        eq(row, ["full-1", "2026-10-02 11:05:00.123456", "4", "data_access", "export",
                 "success", "svc", "2001:db8::7", "elevregister", "Bulk export åäö", "42",
                 "t", '{"actor":{"mfa":false},"src":{"port":443},"rows":1204,'
                 '"nested":{"a":[1,2]}}', "demo"], "stored row")
    finally:
        eq(d.stop(), 0, "bevisd exit code")


def test_json_array_body_and_bad_bodies(cluster):
    db = cluster.new_database()
    d = Daemon(db)
    try:
        c = Client(d.endpoint)
        body = json.dumps([event(1), {"id": "x"}, event(2), [1, 2]]).encode()
        rep = c.events(body, ct=b"application/json")
        eq([o["outcome"] for o in rep["outcomes"]],
           ["accepted", "quarantined", "accepted", "quarantined"], "array outcomes")
        eq(rep["outcomes"][1]["reason"], "missing required field 'time'", "reason")
        eq(rep["outcomes"][3]["reason"], "item must be a JSON object, got array", "reason")
        # A structurally broken body is one quarantined item, and stored.
        rep = c.events(b'[{"id":"a"', ct=b"application/json")
        eq((rep["items"], rep["quarantined"]), (1, 1), "broken array")
        eq(rep["outcomes"][0]["reason"], "invalid JSON body: unterminated JSON array", "reason")
        # Unknown supplier, and out-of-range times.
        rep = c.events(ndjson([event(3, supplier="nobody"),
                               event(4, time="1969-12-31T23:59:59Z"),
                               event(5, time="2100-01-01T00:00:00Z"),
                               event(6, time="2099-12-31T23:59:59.999999Z")]))
        eq([o["outcome"] for o in rep["outcomes"]],
           ["quarantined", "quarantined", "quarantined", "accepted"], "outcomes")
        eq(rep["outcomes"][0]["reason"], "unknown supplier 'nobody'", "reason")
        check("out of range" in rep["outcomes"][1]["reason"], "time range reason")
        # A reason that quotes a long name is cut on a character boundary,
        # so the database takes it and the good item beside it is stored.
        rep = c.events(ndjson([event(7, supplier="a" * 63 + "é"), event(8)]))
        eq([o["outcome"] for o in rep["outcomes"]], ["quarantined", "accepted"], "long name")
        eq(rep["outcomes"][0]["reason"], "unknown supplier '" + "a" * 63 + "'", "cut reason")
        # An empty array is a request of zero items.
        rep = c.events(b"[]", ct=b"application/json")
        eq((rep["status"], rep["items"]), ("ok", 0), "empty array")
        eq(db.count("event"), 4, "events")
        eq(db.count("quarantine"), 7, "quarantine rows")
        eq(db.count("submission"), 5, "submissions")
    finally:
        eq(d.stop(), 0, "bevisd exit code")


def test_same_request_id_in_flight_twice(cluster):
    """A client that resends before the first reply arrived: one submission,
    two identical replies."""
    db = cluster.new_database()
    d = Daemon(db, batch_max_ms=50)
    try:
        c = Client(d.endpoint)
        body = ndjson([event(i) for i in range(100)])
        c.send(b"EVENTS", b"application/x-ndjson", body, rid=b"same-id")
        c.send(b"EVENTS", b"application/x-ndjson", body, rid=b"same-id")
        r1 = c.recv()[1]
        r2 = c.recv()[1]
        eq(strip_replay(r1), strip_replay(r2), "both replies")
        eq(r1["accepted"], 100, "accepted")
        eq(db.count("submission"), 1, "submissions")
        eq(db.count("event"), 100, "events")
        # The same id with another body is refused, and nothing is stored.
        rep = c.events(ndjson([event(500)]), rid=b"same-id")
        eq(rep["status"], "error", "conflict status")
        eq(rep["error"], "request_id_conflict", "conflict code")
        eq(db.count("submission"), 1, "submissions after conflict")
    finally:
        eq(d.stop(), 0, "bevisd exit code")


def test_concurrent_senders_share_batches(cluster):
    """Many clients at once, two writers: every reply accounted for, no
    duplicate rows, and the same events from two clients stored once."""
    db = cluster.new_database()
    d = Daemon(db, writers=2)
    try:
        results = []

        def sender(n):
            c = Client(d.endpoint)
            for r in range(5):
                body = ndjson([event(n * 10000 + r * 100 + k) for k in range(100)])
                results.append(c.events(body))
            # Everyone also sends one shared request body.
            results.append(c.events(ndjson([event(900000 + k) for k in range(50)])))
            c.close()

        threads = [threading.Thread(target=sender, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        eq(len(results), 48, "replies")
        eq(sum(r["accepted"] for r in results), 8 * 500 + 50, "accepted")
        eq(sum(r["duplicate"] for r in results), 7 * 50, "duplicates")
        eq(db.count("event"), 4050, "event rows")
    finally:
        eq(d.stop(), 0, "bevisd exit code")


def test_items_json_c_reads_differently_are_quarantined(cluster):
    """Issue 10 item 13: every item is stored with exactly what an RFC 8259
    reader gets from its raw bytes, or quarantined with a reason that names
    the byte. One request over a real bevisd, one item per case."""
    db = cluster.new_database()
    d = Daemon(db)
    t = b'"supplier":"demo","time":"2026-10-01T00:00:00Z"'

    def at(item, marker, reason):
        """reason, with the byte offset of marker in item (its first place)."""
        return (item, "quarantined", reason % item.index(marker))

    cases = [
        # (raw item, outcome, reason)
        at(b'{"id":"A","id\\u0000x":"B",' + t + b'}', b"\\u0000",
           "a member name holds \\u0000 at byte %d"),
        at(b'{"id":"n1",' + t + b',"supplier\\u0000":"x"}', b"\\u0000",
           "a member name holds \\u0000 at byte %d"),
        at(b'{"id":"n2",' + t + b',"msg":"a\\u0000"}', b"\\u0000",
           "field 'msg' holds \\u0000 at byte %d"),
        at(b'{"id":"c1",' + t + b',"msg":"a\tb"}', b"\t",
           "field 'msg' holds a raw control character (0x09) at byte %d; "
           "RFC 8259 wants it escaped"),
        at(b'{"id":"s1",' + t + b',"msg":"x\\ud800y"}', b"\\ud800",
           "field 'msg' holds a lone surrogate escape '\\ud800' at byte %d"),
        at(b'{"id":"s2",' + t + b',"\\udc00":1}', b"\\udc00",
           "a member name holds a lone surrogate escape '\\udc00' at byte %d"),
        at(b'{"id":"d1",' + t + b',"id":"d2"}', b'"id":"d2"',
           "duplicate member name 'id' at byte %d"),
        at(b'{"id":"d3",' + t + b',"actor":{"user":"a","user":"b"}}', b'"user":"b"',
           "duplicate member name 'user' inside 'actor' at byte %d"),
        (b'{"id":"i1",' + t + b',"x":-01}', "quarantined",
         "field 'x' holds a number that is not strict JSON: '-01'"),
        (b'{"id":"big",' + t + b',"n":123456789012345678901234567890,'
         b'"m":-99999999999999999999,"u":18446744073709551615}', "accepted", None),
        (b'{"id":"pair",' + t + b',"msg":"\\ud83d\\ude00"}', "accepted", None),
    ]
    # The offsets are those of the raw bytes: the backslash of an escape.
    eq(cases[0][2], "a member name holds \\u0000 at byte 13", "offset of the first case")
    try:
        body = b"".join(c[0] + b"\n" for c in cases)
        rep = Client(d.endpoint).events(body)
        eq(rep["status"], "ok", "status")
        got = [(o["outcome"], o.get("reason")) for o in rep["outcomes"]]
        eq(got, [(c[1], c[2]) for c in cases], "outcome and reason per item")
        # Stored exactly: the big integers keep their text, the pair decodes.
        eq(db.sql("SELECT attrs::text FROM event_view WHERE source_event_id = 'big'"),
           [['{"n":123456789012345678901234567890,"m":-99999999999999999999,'
             '"u":18446744073709551615}']], "big integers in attrs")
        eq(db.value("SELECT attrs->>'msg' FROM event_view WHERE source_event_id = 'pair'"),
           "\U0001F600", "surrogate pair")
        eq(db.count("event"), 2, "events")
        eq(db.count("quarantine"), 9, "quarantine rows")
        eq(db.sql("SELECT reason FROM quarantine ORDER BY item_no"),
           [[c[2]] for c in cases if c[2]], "stored reasons")
    finally:
        eq(d.stop(), 0, "bevisd exit code")
