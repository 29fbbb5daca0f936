"""Issue 3, step 5: offline evidence bundles. bevis export writes chosen
submissions from a real ledger with their inclusion proofs against a signed
tree head; bevis verify-bundle checks them with no database, and names each
thing tampered with."""
import base64
import hashlib
import json
import os
import shutil
import struct
import subprocess
import tempfile

from bevistest import PGBIN, Client, Cluster, Daemon, check, eq, event, ndjson, run_bevis
from test_ledger import (EVENT_COLUMNS, copy_binary, decode_submission_leaf, ledger_with_data,
                         wait_for_head)


def export(db, out, *args):
    r = run_bevis(db, "--db", db.conninfo, "export", *args, "--out", out)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def verify_bundle(bundle, *args):
    r = run_bevis(None, "verify-bundle", bundle, *args)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def new_dir():
    """A path for a bundle that does not exist yet."""
    return os.path.join(tempfile.mkdtemp(prefix="bevis-bundle-"), "bundle")


def copy_of(bundle):
    dst = new_dir()
    shutil.copytree(bundle, dst)
    return dst


def manifest(bundle):
    with open(os.path.join(bundle, "manifest.json")) as f:
        return json.load(f)


def write_manifest(bundle, m):
    with open(os.path.join(bundle, "manifest.json"), "w") as f:
        json.dump(m, f, indent=2)


def checkpoint_bytes(db, where="true"):
    """tree_head.checkpoint exactly (psql would split its lines)."""
    return bytes.fromhex(db.value(f"SELECT encode(convert_to(checkpoint, 'UTF8'), 'hex') "
                                  f"FROM tree_head WHERE {where} ORDER BY tree_size DESC LIMIT 1"))


def sub_ids(db, *leaves):
    return [db.value(f"SELECT submission_id FROM ledger_leaf WHERE idx = {i}") for i in leaves]


def rfc9162_root(leaf_hash, index, size, path):
    """RFC 9162 2.1.3.2, in Python: the root an inclusion path leads to."""
    fn, sn, r = index, size - 1, leaf_hash
    for h in path:
        check(sn != 0, "path too long")
        if fn % 2 == 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + h + r).digest()
            while fn % 2 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = hashlib.sha256(b"\x01" + r + h).digest()
        fn >>= 1
        sn >>= 1
    eq(sn, 0, "path length")
    return r


def copy_file_tuples(data):
    """The tuples of a complete binary COPY file, as one bytes object."""
    eq(data[:11], b"PGCOPY\n\xff\r\n\x00", "COPY signature")
    eq(data[-2:], b"\xff\xff", "COPY trailer")
    return data[19 + struct.unpack(">I", data[15:19])[0]:-2]


def test_export_by_id_and_by_range_then_verify(cluster):
    db, _key, pub = ledger_with_data(cluster)
    ids = sub_ids(db, 3, 17, 28)
    out = new_dir()
    rc, stdout, err = export(db, out, *sum((["--submission", i] for i in ids), []))
    eq((rc, err), (0, ""), "export")
    check(stdout.startswith(f"exported 3 submissions (0 redacted) to {out}, with inclusion "
                            "proofs against the signed tree head of size 30"), stdout)
    # The files, their modes: personal data 0600, the rest 0644.
    eq(sorted(os.listdir(out)), ["bodies", "checkpoint.txt", "events", "manifest.json",
                                 "quarantine"], "bundle files")
    eq(sorted(os.listdir(os.path.join(out, "bodies"))), sorted(f"{i}.bin" for i in ids), "bodies")
    eq(oct(os.stat(os.path.join(out, "manifest.json")).st_mode & 0o777), "0o644", "manifest mode")
    eq(oct(os.stat(os.path.join(out, "checkpoint.txt")).st_mode & 0o777), "0o644",
       "checkpoint mode")
    for d in ("bodies", "events", "quarantine"):
        for fn in os.listdir(os.path.join(out, d)):
            eq(oct(os.stat(os.path.join(out, d, fn)).st_mode & 0o777), "0o600", f"{d}/{fn} mode")
    # checkpoint.txt is the signed head, byte for byte.
    with open(os.path.join(out, "checkpoint.txt"), "rb") as f:
        cp = f.read()
    eq(cp, checkpoint_bytes(db, "tree_size = 30"), "checkpoint")
    cp = cp.decode()
    m = manifest(out)
    eq((m["format"], m["origin"], m["tree_size"], m["root"]),
       ("bevis-bundle/1", "bevis.test/ledger", 30, base64.b64decode(cp.splitlines()[2]).hex()),
       "manifest head")
    eq([str(s["id"]) for s in m["submissions"]], sorted(ids, key=int), "manifest ids")
    for s in m["submissions"]:
        sid = s["id"]
        row = db.sql(f"SELECT l.idx, encode(l.data, 'hex'), encode(s.body, 'hex'), s.request_id, "
                     f"to_char(s.received_at AT TIME ZONE 'UTC', "
                     f"'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') "
                     f"FROM ledger_leaf l JOIN submission s ON s.id = l.submission_id "
                     f"WHERE l.kind = 'submission' AND l.submission_id = {sid}")[0]
        eq((s["leaf_index"], s["leaf_data"], s["request_id"], s["received_at"]),
           (int(row[0]), row[1], row[3], row[4]), f"submission {sid} leaf")
        leaf = decode_submission_leaf(bytes.fromhex(s["leaf_data"]))
        eq((s["supplier"], s["key_fingerprint"], s["items"], s["events"], s["quarantined"], s["redacted"],
            s["redaction"], s["body"]),
           (None, None, leaf["item_count"], leaf["events"], leaf["quarantined"], False, None,
            f"bodies/{sid}.bin"), f"submission {sid} fields")
        with open(os.path.join(out, s["body"]), "rb") as f:
            eq(f.read().hex(), row[2], f"submission {sid} body, byte for byte")
        # The proof, checked in Python against the signed root.
        lh = hashlib.sha256(b"\x00" + bytes.fromhex(s["leaf_data"])).digest()
        eq(s["leaf_hash"], lh.hex(), "leaf hash")
        eq(rfc9162_root(lh, s["leaf_index"], 30, [bytes.fromhex(h) for h in s["inclusion_proof"]])
           .hex(), m["root"], f"submission {sid} proof")
        # The rows: the very tuples COPY returns, whose digest the leaf holds.
        with open(os.path.join(out, s["events_file"]), "rb") as f:
            tuples = copy_file_tuples(f.read())
        want = copy_binary(db, f"SELECT {EVENT_COLUMNS} FROM event WHERE submission_id = {sid} "
                               "ORDER BY item_no")
        eq(tuples, b"".join(r for r, _ in want), f"submission {sid} event rows")
        eq(hashlib.sha256(tuples).digest(), leaf["events_sha256"], "events digest")
        with open(os.path.join(out, s["quarantine_file"]), "rb") as f:
            q = copy_file_tuples(f.read())
        eq(hashlib.sha256(q).digest(), leaf["quarantine_sha256"], "quarantine digest")
    eq(manifest(out)["submissions"][2]["quarantined"], 1, "leaf 28 has a quarantined item")
    # The COPY files load as they are (docs/LEDGER.md says so).
    db.sql("CREATE TABLE bundle_ev (LIKE event)")
    subprocess.run([os.path.join(PGBIN, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d",
                    db.conninfo, "-c", f"\\copy bundle_ev FROM "
                    f"'{os.path.join(out, 'events', ids[0] + '.copy')}' (FORMAT binary)"],
                   check=True)
    eq(db.value("SELECT count(*) FROM bundle_ev e JOIN event f USING (submission_id, item_no) "
                "WHERE e::text = f::text"), "20", "events/ID.copy loaded into a table")

    rc, stdout, err = verify_bundle(out, "--key", pub)
    eq((rc, err), (0, ""), "verify-bundle")
    eq(stdout, "bundle verified: 3 submissions (0 redacted), tree size 30, checkpoint signed by "
       "bevis.test/ledger\n", "verify-bundle output")

    # By time of receipt, [since, until).
    since, until = [db.value(f"SELECT to_char(s.received_at AT TIME ZONE 'UTC', "
                             f"'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM submission s "
                             f"JOIN ledger_leaf l ON l.submission_id = s.id "
                             f"WHERE l.kind = 'submission' AND l.idx = {i}") for i in (10, 20)]
    want = [int(r[0]) for r in db.sql(
        f"SELECT id FROM submission WHERE received_at >= '{since}' AND received_at < '{until}' "
        "ORDER BY id")]
    check(len(want) >= 1, "some submissions in the range")
    out2 = new_dir()
    rc, stdout, err = export(db, out2, "--since", since, "--until", until)
    eq((rc, err), (0, ""), "export by range")
    m2 = manifest(out2)
    eq([s["id"] for s in m2["submissions"]], want, "the range's submissions")
    eq(m2["selection"], {"since": since, "until": until}, "selection")
    rc, stdout, err = verify_bundle(out2, "--key", pub)
    eq((rc, err), (0, ""), "verify-bundle of the range")
    check(stdout.startswith(f"bundle verified: {len(want)} submission"), stdout)

    # Refusals.
    rc, _o, err = export(db, out, "--submission", ids[0])
    eq((rc, err), (1, f"bevis export: {out} is not empty: give a new or empty directory\n"),
       "non-empty directory")
    rc, _o, err = export(db, new_dir(), "--since", "2001-01-01", "--until", "2001-01-02")
    eq((rc, err), (1, "bevis export: no submission was received in [2001-01-01, 2001-01-02): "
                      "nothing to export\n"), "empty selection")
    rc, _o, err = export(db, new_dir(), "--submission", "999999")
    eq((rc, err), (1, "bevis export: submission 999999 does not exist\n"), "unknown id")
    rc, _o, err = export(db, new_dir(), "--submission", ids[0], "--since", since)
    eq(rc, 2, "ids and a range together: usage")
    empty = tempfile.mkdtemp(prefix="bevis-bundle-")
    rc, _o, err = export(db, empty, "--submission", ids[0])
    eq((rc, err), (0, ""), "an existing empty directory is fine")
    # The verifier names the key it trusts: a bundle carries none.
    conf = os.path.join(empty, "..", "empty.conf")
    open(conf, "w").close()
    rc, _o, err = verify_bundle(out, "-c", conf)
    eq(rc, 2, "no key: usage")
    check("name the ledger public key you trust with --key FILE" in err, err)
    rc, _o, err = verify_bundle(out + "-nowhere", "--key", pub)
    eq((rc, err), (2, f"bevis verify-bundle: {out}-nowhere: No such file or directory\n"),
       "no bundle there")


def other_head_same_key(cluster, key, requests=5):
    """A checkpoint signed by the same key over another log."""
    other = cluster.new_database()
    d = Daemon(other, ledger_key=key, checkpoint_interval=1)
    try:
        c = Client(d.endpoint)
        for r in range(requests):
            eq(c.events(ndjson([event(900000 + r)]))["status"], "ok", "send")
        wait_for_head(other, requests)
    finally:
        eq(d.stop(), 0, "bevisd exit code")
    return checkpoint_bytes(other, f"tree_size = {requests}")


def test_verify_bundle_names_what_was_tampered_with(cluster):
    db, key, pub = ledger_with_data(cluster)
    ids = sub_ids(db, 3, 17, 28)
    out = new_dir()
    rc, _o, err = export(db, out, *sum((["--submission", i] for i in ids), []))
    eq((rc, err), (0, ""), "export")
    m = manifest(out)
    leaf = {str(s["id"]): s["leaf_index"] for s in m["submissions"]}

    def failing(b, what):
        rc, stdout, err = verify_bundle(b, "--key", pub)
        eq(rc, 1, f"{what}: exit code ({stdout}{err})")
        check(stdout.startswith("FAILED: "), stdout)
        return err.splitlines()

    # A flipped body byte.
    b = copy_of(out)
    p = os.path.join(b, "bodies", f"{ids[1]}.bin")
    data = bytearray(open(p, "rb").read())
    data[40] ^= 1
    open(p, "wb").write(data)
    eq(failing(b, "body"), [f"bevis verify-bundle: bodies/{ids[1]}.bin: its SHA-256 is not the "
                            f"body SHA-256 in leaf {leaf[ids[1]]}"], "body message")

    # One byte of one event's message.
    b = copy_of(out)
    p = os.path.join(b, "events", f"{ids[0]}.copy")
    data = open(p, "rb").read()
    pos = data.index(b"sign-in number")
    open(p, "wb").write(data[:pos] + b"S" + data[pos + 1:])
    eq(failing(b, "events"), [f"bevis verify-bundle: events/{ids[0]}.copy: the rows do not match "
                              f"the event rows digest in leaf {leaf[ids[0]]}"], "events message")

    # One byte of a quarantine row.
    b = copy_of(out)
    p = os.path.join(b, "quarantine", f"{ids[2]}.copy")
    data = bytearray(open(p, "rb").read())
    data[-3] ^= 1
    open(p, "wb").write(data)
    eq(failing(b, "quarantine"), [f"bevis verify-bundle: quarantine/{ids[2]}.copy: the rows do not "
                                  f"match the quarantine rows digest in leaf {leaf[ids[2]]}"],
       "quarantine message")

    # One hash of an inclusion proof.
    b = copy_of(out)
    mm = manifest(b)
    h = mm["submissions"][1]["inclusion_proof"][2]
    mm["submissions"][1]["inclusion_proof"][2] = ("1" if h[0] != "1" else "2") + h[1:]
    write_manifest(b, mm)
    eq(failing(b, "proof"), [f"bevis verify-bundle: manifest.json: submission {ids[1]}: the "
                             f"inclusion proof of leaf {leaf[ids[1]]} does not lead to the root of "
                             "checkpoint.txt (tree size 30)"], "proof message")

    # A checkpoint signed by another key (same name, another key pair).
    other_db, _k2, _p2 = ledger_with_data(cluster, requests=3)
    b = copy_of(out)
    with open(os.path.join(b, "checkpoint.txt"), "wb") as f:
        f.write(checkpoint_bytes(other_db))
    lines = failing(b, "other key")
    eq(len(lines), 1, "one problem")
    check(lines[0].startswith(f"bevis verify-bundle: checkpoint.txt: not a checkpoint signed by "
                              f"the key in {pub}: note has no signature by key bevis.test/ledger+"),
          lines[0])

    # A checkpoint by the right key, of another log and size.
    b = copy_of(out)
    other = other_head_same_key(cluster, key)
    with open(os.path.join(b, "checkpoint.txt"), "wb") as f:
        f.write(other)
    lines = failing(b, "other head")
    eq(len(lines), 1, "one problem")
    check(lines[0].startswith("bevis verify-bundle: manifest.json: tree size 30 and its root are "
                              "not those of checkpoint.txt (size 5, root "), lines[0])

    # The readable request id, edited.
    b = copy_of(out)
    mm = manifest(b)
    real = mm["submissions"][0]["request_id"]
    mm["submissions"][0]["request_id"] = "not-the-one"
    write_manifest(b, mm)
    eq(failing(b, "request id"), [f"bevis verify-bundle: manifest.json: submission {ids[0]}: "
                                  f"request_id 'not-the-one' is not the one in leaf "
                                  f"{leaf[ids[0]]} ('{real}')"], "request id message")
    # ... to one that would drive a terminal: the problem shows it escaped.
    mm["submissions"][0]["request_id"] = "x\x1b]0;owned\x07\u009b2J"
    write_manifest(b, mm)
    eq(failing(b, "escaped request id"),
       [f"bevis verify-bundle: manifest.json: submission {ids[0]}: request_id "
        f"'x\\x1b]0;owned\\x07\\u009b2J' is not the one in leaf {leaf[ids[0]]} ('{real}')"],
       "escaped request id message")

    # A body slipped in that the manifest does not name.
    b = copy_of(out)
    shutil.copy(os.path.join(b, "bodies", f"{ids[0]}.bin"), os.path.join(b, "bodies", "4242.bin"))
    eq(failing(b, "extra file"), ["bevis verify-bundle: bodies/4242.bin: not named in "
                                  "manifest.json"], "extra file message")

    # Leaf data changed with its hash: the proof no longer leads to the root.
    b = copy_of(out)
    mm = manifest(b)
    s = mm["submissions"][0]
    d = bytearray(bytes.fromhex(s["leaf_data"]))
    d[-1] ^= 1
    s["leaf_data"] = d.hex()
    s["leaf_hash"] = hashlib.sha256(b"\x00" + bytes(d)).hexdigest()
    write_manifest(b, mm)
    lines = failing(b, "leaf data")
    eq(lines[0], f"bevis verify-bundle: manifest.json: submission {ids[0]}: the inclusion proof "
       f"of leaf {leaf[ids[0]]} does not lead to the root of checkpoint.txt (tree size 30)",
       "leaf data message")

    # The original is untouched by all of that.
    eq(verify_bundle(out, "--key", pub)[0], 0, "the original still verifies")


def test_bundle_with_a_redacted_submission(cluster):
    db, key, pub = ledger_with_data(cluster)
    red, kept = sub_ids(db, 9, 12)
    out = run_bevis(db, "--db", db.conninfo, "redact", "--submission", red,
                    "--reason", "GDPR Art. 17 request 2026-117")
    eq(out.returncode, 0, "redact: " + out.stderr.decode())
    # The redaction is leaf 30; no head covers it while no bevisd runs.
    rc, _o, err = export(db, new_dir(), "--submission", red)
    eq(rc, 1, "export before a head covers the redaction")
    check(err.startswith("bevis export: no signed tree head covers leaf 30 yet; try again in a "
                         "second"), err)
    d = Daemon(db, ledger_key=key, checkpoint_interval=1)
    try:
        eq(Client(d.endpoint).events(ndjson([event(777777)]))["status"], "ok", "send")
        wait_for_head(db, 32)
    finally:
        eq(d.stop(), 0, "bevisd exit code")
    out = new_dir()
    rc, stdout, err = export(db, out, "--submission", red, "--submission", kept)
    eq((rc, err), (0, ""), "export")
    check("(1 redacted)" in stdout, stdout)
    eq(os.listdir(os.path.join(out, "bodies")), [f"{kept}.bin"], "no body for the redacted one")
    s = [x for x in manifest(out)["submissions"] if str(x["id"]) == red][0]
    eq((s["body"], s["redacted"], s["redaction"]["by"], s["redaction"]["reason"],
        s["redaction"]["leaf_index"]),
       (None, True, "postgres", "GDPR Art. 17 request 2026-117", 30), "redaction in the manifest")
    rc, stdout, err = verify_bundle(out, "--key", pub)
    eq((rc, err), (0, ""), "verify-bundle")
    lines = stdout.splitlines()
    eq(len(lines), 2, "two lines")
    check(lines[0].startswith(f"submission {red} redacted by postgres at ")
          and lines[0].endswith(": GDPR Art. 17 request 2026-117"), lines[0])
    eq(lines[1], "bundle verified: 2 submissions (1 redacted), tree size 32, checkpoint signed by "
       "bevis.test/ledger", "summary")
    # The redacted rows are checked against the redacted digest: a change
    # to one of them is still caught.
    b = copy_of(out)
    p = os.path.join(b, "events", f"{red}.copy")
    data = open(p, "rb").read()
    pos = data.index(b"authentication")
    open(p, "wb").write(data[:pos] + b"A" + data[pos + 1:])
    rc, _o, err = verify_bundle(b, "--key", pub)
    eq((rc, err.splitlines()[0]), (1, f"bevis verify-bundle: events/{red}.copy: the rows do not "
                                      "match the redacted event rows digest in leaf 9"),
       "changed redacted row")
    # Claiming a redaction that the log does not hold fails: the reason
    # is signed in leaf 30.
    b = copy_of(out)
    mm = manifest(b)
    for x in mm["submissions"]:
        if str(x["id"]) == red:
            x["redaction"]["reason"] = "routine cleanup"
    write_manifest(b, mm)
    rc, _o, err = verify_bundle(b, "--key", pub)
    eq((rc, err.splitlines()[0]), (1, f"bevis verify-bundle: manifest.json: submission {red}'s "
                                      "redaction: reason 'routine cleanup' is not the one in leaf "
                                      "30 ('GDPR Art. 17 request 2026-117')"), "edited reason")


def test_verify_bundle_needs_no_database(cluster):
    """The bundle is checked after its database cluster is gone."""
    own = Cluster()
    try:
        db, _key, pub = ledger_with_data(own, requests=8)
        out = new_dir()
        rc, _o, err = export(db, out, "--since", "2000-01-01", "--until", "2100-01-01")
        eq((rc, err), (0, ""), "export")
    finally:
        own.stop()
    check(not os.path.exists(own.dir), "the cluster is gone")
    r = run_bevis(db, "--db", db.conninfo, "verify", "--key", pub)
    eq(r.returncode, 2, "bevis verify cannot reach the database")
    rc, stdout, err = verify_bundle(out, "--key", pub)
    eq((rc, err), (0, ""), "verify-bundle with no database")
    eq(stdout, "bundle verified: 8 submissions (0 redacted), tree size 8, checkpoint signed by "
       "bevis.test/ledger\n", "summary")
