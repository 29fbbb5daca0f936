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
            "key_fingerprint": s(), "received_us": struct.unpack(">q", take(8))[0], "request_id": s(),
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


# ---- bevis verify against tampering ---------------------------------------

from bevistest import BEVIS, run_bevis  # noqa: E402


def keygen(tmpdir, name="bevis.test/ledger"):
    out = subprocess.run([BEVIS, "keygen", "--ledger", tmpdir, "--name", name],
                         capture_output=True, text=True)
    eq(out.returncode, 0, "keygen: " + out.stderr)
    key = os.path.join(tmpdir, "ledger.key")
    eq(oct(os.stat(key).st_mode & 0o777), "0o600", "secret key mode")
    return key, os.path.join(tmpdir, "ledger.pub")


def wait_for_head(db, size, timeout=20):
    import time
    deadline = time.time() + timeout
    while time.time() < deadline:
        if int(db.value("SELECT coalesce(max(tree_size), 0) FROM tree_head")) >= size:
            return
        time.sleep(0.1)
    raise AssertionError(f"no tree head of size {size}")


def ledger_with_data(cluster, requests=30, keydir=None):
    """A real ledger written by a real bevisd: 30 submissions, signed."""
    keydir = keydir or tempfile.mkdtemp(prefix="bevis-key-")
    key, pub = keygen(keydir)
    db = cluster.new_database()
    d = Daemon(db, ledger_key=key, checkpoint_interval=1)
    try:
        c = Client(d.endpoint)
        for r in range(requests):
            body = ndjson([event(r * 100 + k) for k in range(20)])
            if r % 7 == 0:
                body += b'{"supplier":"demo","id":"bad"}\n'
            eq(c.events(body)["status"], "ok", "send")
        wait_for_head(db, requests)
    finally:
        eq(d.stop(), 0, "bevisd exit code")
    return db, key, pub


def verify(db, pub, *extra):
    out = run_bevis(db, "--db", db.conninfo, "verify", "--key", pub, *extra)
    return out.returncode, out.stdout.decode(), out.stderr.decode()


def tamper(db, sql):
    """As a superuser who switches the append-only triggers off."""
    tables = ["submission", "event", "quarantine", "ledger_leaf", "ledger_node", "tree_head"]
    off = "; ".join(f"ALTER TABLE {t} DISABLE TRIGGER ALL" for t in tables)
    db.sql(f"{off}; {sql}")


def test_verify_passes_on_an_untouched_ledger(cluster):
    db, _key, pub = ledger_with_data(cluster)
    rc, out, err = verify(db, pub)
    eq((rc, err), (0, ""), "verify exit code")
    check(out.startswith("verified: 30 leaves (30 submissions, 0 redacted)"), out)
    check(" 600 events" in out, out)


def test_verify_catches_a_flipped_body_byte(cluster):
    db, _key, pub = ledger_with_data(cluster)
    sub = db.value("SELECT submission_id FROM ledger_leaf WHERE idx = 11")
    tamper(db, f"UPDATE submission SET body = set_byte(body, 40, get_byte(body, 40) # 1) "
               f"WHERE id = {sub}")
    rc, _out, err = verify(db, pub)
    eq(rc, 1, "exit code")
    eq(err.splitlines()[0], f"bevis verify: submission {sub}: the body does not match its SHA-256",
       "message")


def test_verify_catches_a_changed_event_field(cluster):
    db, _key, pub = ledger_with_data(cluster)
    sub = db.value("SELECT submission_id FROM ledger_leaf WHERE idx = 4")
    tamper(db, f"UPDATE event SET outcome = 'success' WHERE submission_id = {sub} AND item_no = 5")
    rc, _out, err = verify(db, pub)
    eq(rc, 1, "exit code")
    eq(err.splitlines()[0], f"bevis verify: leaf 4 (submission {sub}): the event rows "
       "differ from what was committed", "message")


def test_verify_catches_a_deleted_leaf(cluster):
    db, _key, pub = ledger_with_data(cluster)
    tamper(db, "DELETE FROM ledger_leaf WHERE idx = 7")
    rc, _out, err = verify(db, pub)
    eq(rc, 1, "exit code")
    eq(err.splitlines()[0], "bevis verify: leaf 7 is missing", "message")


def test_verify_catches_two_swapped_leaves(cluster):
    db, _key, pub = ledger_with_data(cluster)
    tamper(db, "UPDATE ledger_leaf SET idx = 1000003 WHERE idx = 3; "
               "UPDATE ledger_leaf SET idx = 3 WHERE idx = 4; "
               "UPDATE ledger_leaf SET idx = 4 WHERE idx = 1000003")
    rc, _out, err = verify(db, pub)
    eq(rc, 1, "exit code")
    check(err.splitlines()[0].startswith("bevis verify: ledger node (level 1, index 1) "
                                         "does not match the leaves below it"), err)


def test_verify_catches_the_newest_leaves_dropped(cluster):
    db, _key, pub = ledger_with_data(cluster)
    tamper(db, "DELETE FROM ledger_leaf WHERE idx >= 20; "
               "DELETE FROM ledger_node WHERE (idx + 1) * (1::bigint << level) > 20")
    rc, _out, err = verify(db, pub)
    eq(rc, 1, "exit code")
    check("bevis verify: tree head at size 30 is beyond the log (20 leaves): "
          "leaves were removed" in err, err)


def test_a_rebuilt_log_is_caught_only_by_an_older_checkpoint(cluster):
    """Someone with the database and the signing key rebuilds the whole log
    from altered data: it is consistent in itself, and only a checkpoint
    saved outside the database before the rewrite shows it."""
    keydir = tempfile.mkdtemp(prefix="bevis-key-")
    db, key, pub = ledger_with_data(cluster, keydir=keydir)
    out = run_bevis(db, "--db", db.conninfo, "checkpoint")
    eq(out.returncode, 0, "bevis checkpoint")
    saved = os.path.join(keydir, "saved-checkpoint")
    with open(saved, "wb") as f:
        f.write(out.stdout)
    eq(verify(db, pub, "--checkpoint", saved)[0], 0, "verify against the saved checkpoint")
    # The rewrite: the same submissions, one event altered, sent again
    # through a real bevisd with the same key into a fresh database.
    forged = cluster.new_database()
    d = Daemon(forged, ledger_key=key)
    try:
        c = Client(d.endpoint)
        for r in range(30):
            evs = [event(r * 100 + k) for k in range(20)]
            if r == 12:
                evs[3]["outcome"] = "success"
            body = ndjson(evs)
            if r % 7 == 0:
                body += b'{"supplier":"demo","id":"bad"}\n'
            c.events(body)
        wait_for_head(forged, 30)
    finally:
        eq(d.stop(), 0, "bevisd exit code")
    rc, out, err = verify(forged, pub)
    eq((rc, err), (0, ""), "the forged log is consistent in itself")
    rc, out, err = verify(forged, pub, "--checkpoint", saved)
    eq(rc, 1, "exit code against the saved checkpoint")
    eq(err.splitlines()[0], f"bevis verify: checkpoint {saved} (size 30): the log does not "
       "extend it: its root differs at that size", "message")


def test_two_daemons_write_one_gapless_ledger(cluster):
    keydir = tempfile.mkdtemp(prefix="bevis-key-")
    key, pub = keygen(keydir)
    db = cluster.new_database()
    daemons = [Daemon(db, ledger_key=key), Daemon(db, ledger_key=key)]
    try:
        def sender(n):
            c = Client(daemons[n % 2].endpoint)
            for r in range(15):
                c.events(ndjson([event(n * 10000 + r * 10 + k) for k in range(10)]))
            c.close()
        threads = [threading.Thread(target=sender, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wait_for_head(db, 90)
    finally:
        for d in daemons:
            eq(d.stop(), 0, "bevisd exit code")
    eq(db.sql("SELECT count(*), min(idx), max(idx) FROM ledger_leaf")[0], ["90", "0", "89"],
       "gapless leaves")
    rc, out, err = verify(db, pub)
    eq((rc, err), (0, ""), "verify")
    check(out.startswith("verified: 90 leaves (90 submissions, 0 redacted)"), out)


def test_verify_counts_a_redaction_as_redacted_not_failed(cluster):
    db, _key, pub = ledger_with_data(cluster)
    sub = db.value("SELECT submission_id FROM ledger_leaf WHERE idx = 9")
    out = run_bevis(db, "--db", db.conninfo, "redact", "--submission", sub,
                    "--reason", "GDPR Art. 17 request 2026-117")
    eq(out.returncode, 0, "redact: " + out.stderr.decode())
    rc, out, err = verify(db, pub)
    eq((rc, err), (0, ""), "verify after redaction")
    check(out.startswith("verified: 31 leaves (30 submissions, 1 redacted)"), out)
    # A redacted event changed afterwards is still caught.
    tamper(db, f"UPDATE event SET action = 'nothing' WHERE submission_id = {sub} AND item_no = 2")
    rc, _out, err = verify(db, pub)
    eq(rc, 1, "exit code")
    eq(err.splitlines()[0], f"bevis verify: leaf 9 (submission {sub}): the redacted event rows "
       "differ from what was committed", "message")


def test_proof_and_checkpoint(cluster):
    db, _key, pub = ledger_with_data(cluster)
    sub = db.value("SELECT submission_id FROM ledger_leaf WHERE idx = 17")
    out = run_bevis(db, "--db", db.conninfo, "proof", "--submission", sub, "--json")
    eq(out.returncode, 0, "proof: " + out.stderr.decode())
    import json
    p = json.loads(out.stdout)
    eq((p["leaf_index"], p["tree_size"]), (17, 30), "proof position")
    # Check it in Python, RFC 9162 2.1.3.2, against the signed root.
    fn, sn, r = 17, 29, bytes.fromhex(p["leaf_hash"])
    for h in (bytes.fromhex(x) for x in p["path"]):
        if sn == 0:
            raise AssertionError("path too long")
        if fn % 2 == 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + h + r).digest()
            while fn % 2 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = hashlib.sha256(b"\x01" + r + h).digest()
        fn >>= 1
        sn >>= 1
    eq((sn, r.hex()), (0, p["root"]), "the path leads to the root")
    leaf_data = bytes.fromhex(db.value("SELECT encode(data, 'hex') FROM ledger_leaf WHERE idx = 17"))
    eq(hashlib.sha256(b"\x00" + leaf_data).hexdigest(), p["leaf_hash"], "leaf hash")
    check(p["checkpoint"].splitlines()[1] == "30", p["checkpoint"])
    out = run_bevis(db, "--db", db.conninfo, "checkpoint")
    lines = out.stdout.decode().splitlines()
    eq((lines[0], lines[1], lines[3]), ("bevis.test/ledger", "30", ""), "checkpoint text")
    import base64
    eq(base64.b64decode(lines[2]).hex(), p["root"], "checkpoint root")
    check(lines[4].startswith("\u2014 bevis.test/ledger "), lines[4])


def test_verify_catches_tampering_around_a_redaction(cluster):
    for sql, want in (
            ("UPDATE event SET message = 'forged', actor_user = 'mallory' "
             "WHERE submission_id = {sub} AND item_no = 1",
             "bevis verify: submission {sub}: redacted, but its event rows hold personal data again"),
            ("UPDATE redaction SET reason = 'another reason' WHERE submission_id = {sub}",
             "bevis verify: redaction of submission {sub}: who, when or why differs from "
             "its ledger leaf 30"),
            ("UPDATE ledger_leaf SET kind = 'link' WHERE idx = 5",
             "bevis verify: leaf 5: its kind column does not say what its data is")):
        db, _key, pub = ledger_with_data(cluster)
        sub = db.value("SELECT submission_id FROM ledger_leaf WHERE idx = 9")
        out = run_bevis(db, "--db", db.conninfo, "redact", "--submission", sub,
                        "--reason", "GDPR Art. 17")
        eq(out.returncode, 0, "redact")
        tamper(db, "ALTER TABLE redaction DISABLE TRIGGER ALL; " + sql.format(sub=sub))
        rc, _out, err = verify(db, pub)
        eq(rc, 1, "exit code")
        check(want.format(sub=sub) in err.splitlines(), f"{want.format(sub=sub)!r} in {err!r}")
