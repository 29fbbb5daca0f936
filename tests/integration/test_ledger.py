"""Issue 3: the evidence ledger, checked from outside bevis: leaves decoded
and recomputed in Python from what PostgreSQL returns."""
import hashlib
import os
import struct
import subprocess
import tempfile
import threading

from bevistest import PGBIN, Client, Daemon, check, eq, event, ndjson

EVENT_COLUMNS = ("submission_id, item_no, supplier_id, source_event_id, occurred_at, "
                 "severity, category, action, outcome, actor_user, src_ip, target, message, "
                 "personal_data, seq, attrs, raw_offset, raw_length")
PERSONAL = (9, 10, 11, 12, 15)


def copy_binary(db, query):
    """Returns the tuples of a binary COPY of query, each as bytes."""
    with tempfile.NamedTemporaryFile(delete=False) as f:
        path = f.name
    try:
        subprocess.run([os.path.join(PGBIN, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                        "-d", db.conninfo, "-c",
                        f"\\copy ({query}) TO '{path}' (FORMAT binary)"], check=True)
        data = open(path, "rb").read()
    finally:
        os.unlink(path)
    eq(data[:11], b"PGCOPY\n\xff\r\n\x00", "COPY signature")
    ext = struct.unpack(">I", data[15:19])[0]
    pos = 19 + ext
    tuples = []
    while True:
        (nf,) = struct.unpack(">h", data[pos:pos + 2])
        if nf == -1:
            break
        start = pos
        pos += 2
        fields = []
        for _ in range(nf):
            (n,) = struct.unpack(">i", data[pos:pos + 4])
            pos += 4
            fields.append(None if n < 0 else data[pos:pos + n])
            pos += max(n, 0)
        tuples.append((data[start:pos], fields))
    return tuples


def decode_submission_leaf(d):
    eq(d[:5], b"BVL1\x01", "leaf magic and kind")
    pos = 5

    def take(n):
        nonlocal pos
        v = d[pos:pos + n]
        pos += n
        return v

    def s():
        (n,) = struct.unpack(">H", take(2))
        return take(n).decode()

    leaf = {"submission_id": struct.unpack(">q", take(8))[0], "supplier": s(),
            "received_us": struct.unpack(">q", take(8))[0], "request_id": s(),
            "content_type": s(), "body_sha256": take(32),
            "item_count": struct.unpack(">I", take(4))[0],
            "events": struct.unpack(">I", take(4))[0], "events_sha256": take(32),
            "events_redacted_sha256": take(32),
            "quarantined": struct.unpack(">I", take(4))[0], "quarantine_sha256": take(32)}
    eq(pos, len(d), "leaf length")
    return leaf


def mth(hashes):
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(hashes[:k]) + mth(hashes[k:])).digest()


def test_every_submission_is_a_leaf_that_recomputes(cluster):
    db = cluster.new_database()
    d = Daemon(db, writers=2)
    try:
        def sender(n):
            c = Client(d.endpoint)
            for r in range(6):
                lines = [event(n * 1000 + r * 10 + k) for k in range(10)]
                body = ndjson(lines) + b'{"supplier":"demo","id":"q%d-%d"}\n' % (n, r)
                c.events(body)
            c.close()
        threads = [threading.Thread(target=sender, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        eq(db.count("submission"), 24, "submissions")
        rows = db.sql("SELECT idx, kind, encode(data, 'hex'), encode(hash, 'hex'), submission_id "
                      "FROM ledger_leaf ORDER BY idx")
        eq([int(r[0]) for r in rows], list(range(24)), "gapless leaf indices")
        events = {}
        for raw, f in copy_binary(db, f"SELECT {EVENT_COLUMNS} FROM event ORDER BY submission_id, item_no"):
            events.setdefault(struct.unpack(">q", f[0])[0], []).append((raw, f))
        quarantine = {}
        for raw, f in copy_binary(db, "SELECT submission_id, item_no, reason, raw_offset, raw_length "
                                      "FROM quarantine ORDER BY submission_id, item_no"):
            quarantine.setdefault(struct.unpack(">q", f[0])[0], []).append(raw)
        subs = {int(r[0]): r for r in db.sql(
            "SELECT id, request_id, content_type, encode(sha256, 'hex'), item_count, "
            "(extract(epoch FROM received_at) * 1000000)::bigint FROM submission")}
        hashes = []
        for idx, kind, data_hex, hash_hex, sub in rows:
            data = bytes.fromhex(data_hex)
            eq(hashlib.sha256(b"\x00" + data).hexdigest(), hash_hex, f"leaf {idx} hash")
            hashes.append(bytes.fromhex(hash_hex))
            leaf = decode_submission_leaf(data)
            s = subs[int(sub)]
            eq(leaf["submission_id"], int(sub), "leaf submission id")
            eq((leaf["request_id"], leaf["content_type"], leaf["body_sha256"].hex(),
                leaf["item_count"], leaf["received_us"]),
               (s[1], s[2], s[3], int(s[4]), int(s[5])), f"leaf {idx} fields")
            evs = events.get(int(sub), [])
            eq(leaf["events"], len(evs), "event count")
            eq(leaf["events_sha256"], hashlib.sha256(b"".join(r for r, _ in evs)).digest(),
               f"leaf {idx} events digest")
            red = hashlib.sha256()
            for raw, f in evs:
                red.update(raw[:2])
                for i, v in enumerate(f):
                    if i in PERSONAL or v is None:
                        red.update(b"\xff\xff\xff\xff")
                    else:
                        red.update(struct.pack(">i", len(v)) + v)
            eq(leaf["events_redacted_sha256"], red.digest(), "redacted digest")
            q = quarantine.get(int(sub), [])
            eq((leaf["quarantined"], leaf["quarantine_sha256"]),
               (len(q), hashlib.sha256(b"".join(q)).digest()), "quarantine digest")
        for size in (1, 2, 3, 7, 8, 13, 24):
            eq(db.value(f"SELECT encode(ledger_root({size}), 'hex')"), mth(hashes[:size]).hex(),
               f"ledger_root({size})")
    finally:
        eq(d.stop(), 0, "bevisd exit code")
