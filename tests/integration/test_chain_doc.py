"""docs/PROTOCOL.md §7, "Chaining: chain.prev": the sender example runs as
written against a real bevisd over CURVE, and what it stores is a chain: the
SHA-256 of each event's raw bytes, recomputed in SQL from the stored body, is
the next event's chain.prev, across requests and across runs of the sender,
also after a run whose request was never acknowledged. And what the section
says a supplier must hash is the stored item: an NDJSON line without its CR
LF, an array element without the whitespace around it."""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

from bevistest import check, eq, free_port
from test_curve import Keys, curve_client, curve_daemon
from test_docs import extract

ZEROS = "0" * 64
SUPPLIER = "skolplattform"


def chain_rows(db):
    """(event id, sha256 of its stored raw bytes, its chain.prev) in the order
    the supplier sent them."""
    rows = db.sql(
        "SELECT source_event_id, encode(sha256(raw), 'hex'), "
        "coalesce(attrs->'chain'->>'prev', attrs->>'chain.prev') "
        f"FROM event_view WHERE supplier = '{SUPPLIER}' ORDER BY submission_id, raw_offset")
    return [tuple(r) for r in rows]


def test_chain_example_runs_and_links(cluster):
    db = cluster.new_database(suppliers=())
    keys = Keys()
    keys.supplier(db, SUPPLIER)
    client_key = keys.write("client.key", keys.suppliers[SUPPLIER][1], 0o600)
    server_pub = keys.write("server.pub", keys.server_pub, 0o644)
    work = tempfile.mkdtemp(prefix="bevis-chain-")
    state = os.path.join(work, "bevis-chain.state")
    pending = state + ".pending"
    code = extract("pyzmq-chain")

    def sender(endpoint):
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=60, cwd=work,
                              env=dict(os.environ, BEVIS_ENDPOINT=endpoint,
                                       BEVIS_SERVER_KEY=server_pub, BEVIS_CLIENT_KEY=client_key,
                                       BEVIS_CHAIN_STATE=state))

    # A run with no bevisd to answer: the sender keeps the request it built,
    # with its last event's hash, and has not moved its chain on yet.
    out = sender(f"tcp://127.0.0.1:{free_port()}")
    eq(out.returncode, 1, "unacknowledged run: " + out.stdout + out.stderr)
    check("not acknowledged (no reply)" in out.stderr, out.stderr)
    check(os.path.exists(pending), "the unacknowledged request is kept")
    with open(pending, "rb") as f:
        rid, last, body = f.read().split(b"\n", 2)
    lines = body.splitlines()
    eq(len(lines), 3, "events in the kept body")
    eq(json.loads(lines[0])["chain"], {"prev": ZEROS}, "a chain starts at 64 zeros")
    eq(last.decode(), hashlib.sha256(lines[2]).hexdigest(), "kept: the last event's hash")
    check(not os.path.exists(state), "the chain state waits for the acknowledgement")

    d = curve_daemon(db, keys)
    try:
        # The next run sends that same body, under the same request id; two
        # more runs each build and send three new events.
        for run in range(3):
            out = sender(d.endpoint)
            eq(out.returncode, 0, f"run {run}: " + out.stdout + out.stderr)
            check(out.stdout.startswith(f"request {rid.decode() if run == 0 else ''}")
                  and ": ok, 3 items; last hash " in out.stdout, out.stdout)
            check(not os.path.exists(pending), "nothing left to send after an ok")
        eq(db.value("SELECT request_id FROM submission ORDER BY id LIMIT 1"), rid.decode(),
           "the kept body went under its first request id")
        rows = chain_rows(db)
        eq(len(rows), 9, "events stored")
        eq(rows[0][2], ZEROS, "the first event's chain.prev")
        for i in range(1, len(rows)):
            eq(rows[i][2], rows[i - 1][1], f"event {i}'s chain.prev: the hash of event {i - 1}")
        eq(len({r[1] for r in rows}), 9, "every event's hash is its own")
        with open(state) as f:
            eq(f.read(), rows[-1][1], "the state file: the stored last event's hash")
        check(out.stdout.strip().endswith(rows[-1][1]), out.stdout)
        eq(db.value(f"SELECT count(*) FROM event_view WHERE supplier = '{SUPPLIER}' "
                    "AND jsonb_typeof(attrs::jsonb->'chain') = 'object'"), "9",
           "chain kept nested in attrs")

        # The dotted member is kept in attrs too, and resending an event
        # (a new request, the same bytes) is a duplicate that adds no event.
        c = curve_client(d, keys, SUPPLIER)
        line = json.dumps({"id": "dotted-1", "time": "2026-10-06T08:00:00Z",
                           "chain.prev": rows[-1][1]}, separators=(",", ":")).encode()
        rep = c.events(line + b"\r\n")
        eq([o["outcome"] for o in rep["outcomes"]], ["accepted"], "dotted event")
        rep = c.events(line + b"\n")
        eq([o["outcome"] for o in rep["outcomes"]], ["duplicate"], "the same event again")
        rows = chain_rows(db)
        eq(len(rows), 10, "events after the dotted one and its resend")
        eq(rows[-1][2], rows[-2][1], "the dotted chain.prev links on")
        eq(db.value("SELECT attrs->>'chain.prev' FROM event WHERE source_event_id = 'dotted-1'"),
           rows[-2][1], "the dotted member, kept as it was sent in attrs")
        eq(rows[-1][1], hashlib.sha256(line).hexdigest(),
           "an NDJSON item is its line without CR LF")

        # An array element is hashed without the whitespace around it.
        e1 = json.dumps({"id": "array-1", "time": "2026-10-06T08:00:01Z",
                         "chain": {"prev": rows[-1][1]}}).encode()
        e2 = json.dumps({"id": "array-2", "time": "2026-10-06T08:00:02Z",
                         "chain": {"prev": hashlib.sha256(e1).hexdigest()}}).encode()
        rep = c.events(b"[ " + e1 + b" ,\n\t" + e2 + b"\r\n]\n", ct=b"application/json")
        eq([o["outcome"] for o in rep["outcomes"]], ["accepted", "accepted"], "array elements")
        rows = chain_rows(db)
        eq(len(rows), 12, "events after the array")
        eq([r[1] for r in rows[-2:]], [hashlib.sha256(e).hexdigest() for e in (e1, e2)],
           "an array item is its element without the whitespace around it")
        for i in range(1, len(rows)):
            eq(rows[i][2], rows[i - 1][1], f"event {i}'s chain.prev, all the way")

        # bevis never refuses an event for its chain: a wrong, malformed or
        # mistyped chain.prev is stored like anything else in attrs.
        odd = [{"id": "odd-1", "time": "2026-10-06T08:00:03Z", "chain": {"prev": ZEROS[:-1] + "1"}},
               {"id": "odd-2", "time": "2026-10-06T08:00:04Z", "chain": {"prev": "not hex"}},
               {"id": "odd-3", "time": "2026-10-06T08:00:05Z", "chain": 42},
               {"id": "odd-4", "time": "2026-10-06T08:00:06Z", "chain.prev": None}]
        rep = c.events(b"".join(json.dumps(e).encode() + b"\n" for e in odd))
        eq([o["outcome"] for o in rep["outcomes"]], ["accepted"] * 4, "odd chains: " + str(rep))
        eq(db.sql("SELECT source_event_id, attrs::text FROM event "
                  "WHERE source_event_id LIKE 'odd-%' ORDER BY 1"),
           [["odd-1", '{"chain":{"prev":"%s"}}' % (ZEROS[:-1] + "1")],
            ["odd-2", '{"chain":{"prev":"not hex"}}'], ["odd-3", '{"chain":42}'],
            ["odd-4", '{"chain.prev":null}']], "odd chains kept as sent")
        c.close()
    finally:
        eq(d.stop(), 0, "bevisd exit code")



def test_the_ten_line_chaining_links_as_the_sender_does(cluster):
    """The short form in the section: each line names the SHA-256 of the
    line before, the first names what it was given, and it hands back the
    last line's hash to go on from."""
    ns = {}
    exec(extract("chain-ten-lines"), ns)
    body, last = ns["chained_body"]([{"id": "a"}, {"id": "b"}, {"id": "c"}], ZEROS)
    lines = body.split(b"\n")[:-1]
    eq([json.loads(l)["chain"]["prev"] for l in lines],
       [ZEROS, hashlib.sha256(lines[0]).hexdigest(), hashlib.sha256(lines[1]).hexdigest()],
       "each line names the one before")
    eq(last, hashlib.sha256(lines[2]).hexdigest(), "the hash to go on from")
