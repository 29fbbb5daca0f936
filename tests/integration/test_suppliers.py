"""Issue 4, the CLI and database side: CURVE key pairs from bevis keygen
--curve, suppliers added, listed and revoked through bevis_supplier_add()
and bevis_supplier_revoke(), their ledger leaves (kind 3, docs/LEDGER.md),
and bevis verify replaying them against the supplier table. The daemon's
side (ZAP, mismatches, revocation at reload) is in test_curve.py."""
import hashlib
import json
import os
import re
import stat
import tempfile
import threading

import zmq
from zmq.utils import z85

from bevistest import ROOT, check, eq, run_bevis
from test_ledger import ledger_with_data, tamper, verify
from test_roles import Reader, check_ledger, conninfo_as, login, refused


# ---- helpers ---------------------------------------------------------------

def fingerprint(pub):
    """Lowercase hex of the first 16 bytes of SHA-256 of the raw key."""
    if isinstance(pub, str):
        pub = pub.encode()
    return hashlib.sha256(z85.decode(pub)).hexdigest()[:32]


def curve_keygen(tmpdir, name=None):
    args = ["keygen", "--curve", tmpdir] + (["--name", name] if name else [])
    out = run_bevis(None, *args)
    eq(out.returncode, 0, "keygen --curve: " + out.stderr.decode())
    base = os.path.join(tmpdir, name or "curve")
    with open(base + ".pub") as f:
        pub = f.read().strip()
    with open(base + ".key") as f:
        sec = f.read().strip()
    return base + ".pub", base + ".key", pub, sec, out.stdout.decode()


def bevis_as(db, user, *args):
    out = run_bevis(db, "--db", conninfo_as(db, user), *args)
    return out.returncode, out.stdout.decode(), out.stderr.decode()


def decode_supplier_key_leaf(data):
    r = Reader(data)
    eq(r.take(4), b"BVL1", "magic")
    eq(r.int(1), 3, "kind")
    leaf = {"action": r.int(1), "name": r.str(), "public_key": r.str(),
            "fingerprint": r.str(), "actor": r.str(), "at_us": r.int(8, True)}
    r.end()
    return leaf


def keypair():
    pub, sec = zmq.curve_keypair()
    return pub.decode(), sec.decode()


# ---- keygen --curve ----------------------------------------------------------

def test_keygen_curve_writes_a_key_pair(cluster):
    tmp = tempfile.mkdtemp(prefix="bevis-curve-")
    d = os.path.join(tmp, "keys")
    pubf, secf, pub, sec, out = curve_keygen(d, "skolplattform")
    eq(oct(stat.S_IMODE(os.stat(secf).st_mode)), "0o600", "secret key mode")
    eq(oct(stat.S_IMODE(os.stat(pubf).st_mode)), "0o644", "public key mode")
    eq(oct(stat.S_IMODE(os.stat(d).st_mode)), "0o700", "new key directory mode")
    eq((len(pub), len(sec)), (40, 40), "Z85 key lengths")
    eq(open(secf).read(), sec + "\n", "secret key file: the key and a newline")
    eq(zmq.curve_public(sec.encode()).decode(), pub, "public key belongs to the secret key")
    check(pubf in out and secf in out, out)
    check(f"fingerprint {fingerprint(pub)}" in out, out)
    # The default name, and two pairs are two different keys.
    pubf2, secf2, pub2, _sec2, _ = curve_keygen(d)
    eq(os.path.basename(pubf2), "curve.pub", "default name")
    check(pub2 != pub, "a new key each time")
    # Never overwritten.
    out = run_bevis(None, "keygen", "--curve", d, "--name", "skolplattform")
    eq(out.returncode, 1, "keygen over existing files")
    check(b"File exists" in out.stderr, out.stderr)
    eq(open(secf).read(), sec + "\n", "secret key unchanged")
    # A public key left from before keeps the secret one from being written.
    open(os.path.join(d, "half.pub"), "w").write("x\n")
    out = run_bevis(None, "keygen", "--curve", d, "--name", "half")
    eq(out.returncode, 1, "keygen over a public key file")
    check(not os.path.exists(os.path.join(d, "half.key")), "no secret key written")
    for args in (["--curve", d, "--name", "a/b"], ["--curve", d, "--ledger", d], [],
                 ["--curve"], ["--curve", d, "extra"]):
        out = run_bevis(None, "keygen", *args)
        eq(out.returncode, 2, f"keygen {args}")
    # The ledger mode is as it was.
    out = run_bevis(None, "keygen", "--ledger", os.path.join(tmp, "ledger"))
    eq(out.returncode, 0, "keygen --ledger")
    eq(oct(stat.S_IMODE(os.stat(os.path.join(tmp, "ledger", "ledger.key")).st_mode)),
       "0o600", "ledger key mode")


# ---- add, list, revoke -------------------------------------------------------

def test_supplier_add_list_revoke(cluster):
    db = cluster.new_database()             # with `demo`, no key, as in dev setups
    isam = login(db, "bevis_isam")
    tmp = tempfile.mkdtemp(prefix="bevis-sup-")
    pubf, secf, pub, _sec, _ = curve_keygen(tmp, "skolplattform")
    fp = fingerprint(pub)
    leaves = int(db.value("SELECT count(*) FROM ledger_leaf"))

    rc, out, err = bevis_as(db, isam, "supplier", "add", "skolplattform",
                            "--key-file", pubf)
    eq((rc, err), (0, ""), "supplier add")
    eq(out.splitlines()[0], f"supplier skolplattform: key {fp} added by {isam} "
       f"(a new supplier, active); ledger leaf {leaves}", "add output")
    eq(db.sql("SELECT public_key, active FROM supplier WHERE name = 'skolplattform'"),
       [[pub, "t"]], "supplier row")
    eq(db.value("SELECT bevis_curve_fingerprint(public_key) FROM supplier "
                "WHERE name = 'skolplattform'"), fp, "fingerprint in SQL")

    # demo exists without a key: it gets one and is active.
    db.sql("UPDATE supplier SET active = false WHERE name = 'demo'")
    demo_pub, _ = keypair()
    rc, out, err = bevis_as(db, isam, "supplier", "add", "demo", "--public-key", demo_pub)
    eq((rc, err), (0, ""), "supplier add demo")
    eq(out.splitlines()[0], f"supplier demo: key {fingerprint(demo_pub)} added by {isam} "
       f"(the supplier existed without a key; it is active now); ledger leaf {leaves + 1}",
       "add output for demo")
    eq(db.sql("SELECT public_key, active FROM supplier WHERE name = 'demo'"),
       [[demo_pub, "t"]], "demo row")

    # Refusals: exit 1 with the server's precise message, nothing changed.
    other_pub, _ = keypair()
    for args, msg in [
            (["skolplattform", "--public-key", other_pub],
             f"bevis supplier add: bevis: supplier skolplattform already has key {fp}, "
             f"added by {isam} at "),
            (["stadsnat", "--key-file", pubf],
             f"bevis supplier add: bevis: key {fp} already belongs to supplier "
             f"skolplattform\n"),
            (["Stadsnat", "--public-key", other_pub],
             "bevis supplier add: bevis: 'Stadsnat' is not a supplier name\n"),
    ]:
        rc, out, err = bevis_as(db, isam, "supplier", "add", *args)
        eq(rc, 1, f"supplier add {args}: {err}")
        check(err.startswith(msg), f"supplier add {args}: want {msg!r}, got {err!r}")
    # Usage errors, exit 2, before the database is asked.
    open(os.path.join(tmp, "junk.pub"), "w").write("not a key\n")
    for args, msg in [
            (["x", "--key-file", secf], f"{secf} is a secret key file"),
            (["x", "--key-file", os.path.join(tmp, "junk.pub")], "not a Z85 CURVE key"),
            (["x", "--key-file", os.path.join(tmp, "absent.pub")], "No such file"),
            (["x", "--public-key", "abc"], "not a CURVE public key"),
            (["x", "--public-key", pub[:-1] + "~"], "not a CURVE public key"),
            (["x"], "usage:"), (["x", "--public-key", pub, "--key-file", pubf], "usage:"),
            (["-x", "--public-key", other_pub], "usage:"),
            ([], "usage:")]:
        rc, out, err = bevis_as(db, isam, "supplier", "add", *args)
        eq(rc, 2, f"supplier add {args}")
        check(msg in err, f"supplier add {args}: want {msg!r} in {err!r}")
    eq(db.count("supplier_key_change"), 2, "key changes after the refusals")

    # list, before any traffic
    rc, out, err = bevis_as(db, isam, "supplier", "list")
    eq((rc, err), (0, "2 suppliers\n"), "supplier list")
    lines = out.splitlines()
    check(re.match(r"NAME +FINGERPRINT +ACTIVE +EVENTS +LAST SEEN \(UTC\)$", lines[0]),
          lines[0])
    eq([ln.split() for ln in lines[1:]],
       [["demo", fingerprint(demo_pub), "yes", "0", "-"],
        ["skolplattform", fp, "yes", "0", "-"]], "list rows")

    # Two submissions and three events of skolplattform, as bevisd would
    # store them: the list counts them and shows the newer receipt.
    sid = db.value("SELECT id FROM supplier WHERE name = 'skolplattform'")
    for n, when in ((1, "2026-10-01 08:00:00+00"), (2, "2026-10-03 09:30:15.25+00")):
        db.sql(f"INSERT INTO submission (id, supplier_id, request_id, content_type, "
               f"received_at, sha256, body, item_count, key_fingerprint) VALUES "
               f"({n}, {sid}, 'r{n}', 'application/x-ndjson', '{when}', sha256('b'), "
               f"'b', 1, '{fp}')")
    for n in range(3):
        db.sql(f"INSERT INTO event (submission_id, item_no, supplier_id, source_event_id, "
               f"occurred_at, raw_offset, raw_length) VALUES ({1 + n // 2}, {n}, {sid}, "
               f"'e{n}', now(), 0, 1)")
    rc, out, err = bevis_as(db, isam, "supplier", "list", "--json")
    eq(rc, 0, "supplier list --json")
    rows = [json.loads(ln) for ln in out.splitlines()]
    eq(rows, [{"name": "demo", "public_key": demo_pub, "fingerprint": fingerprint(demo_pub),
               "active": True, "events": 0, "last_seen": None},
              {"name": "skolplattform", "public_key": pub, "fingerprint": fp,
               "active": True, "events": 3,
               "last_seen": "2026-10-03T09:30:15.250000Z"}], "list --json")
    rc, out, err = bevis_as(db, isam, "supplier", "list")
    eq(out.splitlines()[2].split(), ["skolplattform", fp, "yes", "3", "2026-10-03",
                                     "09:30:15"], "list row with traffic")
    # The last receipt is one probe of an index, not a scan.
    plan = "\n".join(r[0] for r in db.sql(
        f"SET enable_seqscan = off; "
        f"EXPLAIN SELECT max(received_at) FROM submission WHERE supplier_id = {sid}"))
    check("submission_supplier_received_idx" in plan, plan)

    # revoke
    rc, out, err = bevis_as(db, isam, "supplier", "revoke", "skolplattform")
    eq((rc, err), (0, ""), "supplier revoke")
    eq(out.splitlines()[0], f"supplier skolplattform: key {fp} revoked by {isam} "
       f"(the supplier is inactive now); ledger leaf {leaves + 2}", "revoke output")
    eq(db.sql("SELECT public_key, active FROM supplier WHERE name = 'skolplattform'"),
       [[pub, "f"]], "revoked: the key stays, inactive")
    db.sql("INSERT INTO supplier (name) VALUES ('keyless')")
    for name, msg in [
            ("skolplattform", f"bevis supplier revoke: bevis: supplier skolplattform "
                              f"(key {fp}) was already revoked by {isam} at "),
            ("nobody", "bevis supplier revoke: bevis: supplier nobody does not exist\n"),
            ("keyless", "bevis supplier revoke: bevis: supplier keyless has no key to "
                        "revoke\n")]:
        rc, out, err = bevis_as(db, isam, "supplier", "revoke", name)
        eq(rc, 1, f"revoke {name}")
        check(err.startswith(msg), f"revoke {name}: want {msg!r}, got {err!r}")
    # A revoked key is still on record: nobody else may register it, and
    # the supplier does not get a second one.
    rc, out, err = bevis_as(db, isam, "supplier", "add", "stadsnat", "--key-file", pubf)
    eq(rc, 1, "add of a revoked key")
    check(f"key {fp} already belongs to supplier skolplattform (revoked)" in err, err)
    rc, out, err = bevis_as(db, isam, "supplier", "add", "skolplattform",
                            "--public-key", other_pub)
    eq(rc, 1, "add to a revoked supplier")
    check(f"already has key {fp} (revoked), added by {isam}" in err, err)
    for args in (["revoke"], ["revoke", "a", "b"], ["frob"], [], ["list", "x"]):
        rc, out, err = bevis_as(db, isam, "supplier", *args)
        eq(rc, 2, f"supplier {args}")
    rc, out, err = bevis_as(db, isam, "supplier", "list")
    eq([ln.split()[:3] for ln in out.splitlines()[1:]],
       [["demo", fingerprint(demo_pub), "yes"], ["keyless", "-", "yes"],
        ["skolplattform", fp, "no"]], "list after revoke")

    # Who recorded what.
    eq(db.sql("SELECT sp.name, k.action, k.public_key, k.fingerprint, k.actor "
              "FROM supplier_key_change k JOIN supplier sp ON sp.id = k.supplier_id "
              "ORDER BY k.leaf_idx"),
       [["skolplattform", "added", pub, fp, isam],
        ["demo", "added", demo_pub, fingerprint(demo_pub), isam],
        ["skolplattform", "revoked", pub, fp, isam]], "supplier_key_change")
    eq(db.value("SELECT string_agg(leaf_idx::text, ',' ORDER BY leaf_idx) "
                "FROM supplier_key_change"),
       f"{leaves},{leaves + 1},{leaves + 2}", "leaf indexes")
    check_ledger(db)


def test_suppliers_change_only_through_the_functions(cluster):
    db = cluster.new_database()
    isam, auditor, ingest = (login(db, r) for r in ("bevis_isam", "bevis_auditor",
                                                     "bevis_ingest"))
    pub, _ = keypair()
    # The auditor and bevisd's role may read, not change.
    for user in (auditor, ingest):
        rc, out, err = bevis_as(db, user, "supplier", "add", "x", "--public-key", pub)
        eq(rc, 1, f"add as {user}")
        check("permission denied for function bevis_supplier_add" in err, err)
        rc, out, err = bevis_as(db, user, "supplier", "revoke", "demo")
        eq(rc, 1, f"revoke as {user}")
        check("permission denied for function bevis_supplier_revoke" in err, err)
    rc, out, err = bevis_as(db, auditor, "supplier", "list")
    eq((rc, err), (0, "1 supplier\n"), "the auditor lists")
    for user in (isam, auditor, ingest):
        refused(db, user, "UPDATE supplier SET active = false", "42501",
                "permission denied for table supplier")
        refused(db, user, f"INSERT INTO supplier (name, public_key) VALUES ('x', '{pub}')",
                "42501", "permission denied for table supplier")
        refused(db, user, "DELETE FROM supplier_key_change", "42501",
                "permission denied for table supplier_key_change")
        refused(db, user, "SELECT bevis_supplier_key_leaf(1, 'a', 'b', 'c', 'd', now())",
                "42501", "permission denied for function bevis_supplier_key_leaf")
    refused(db, ingest, "SELECT * FROM supplier_key_change", "42501",
            "permission denied for table supplier_key_change")
    rc, out, err = bevis_as(db, isam, "supplier", "add", "demo", "--public-key", pub)
    eq(rc, 0, "add as the ISAM: " + err)
    # supplier_key_change is evidence: not even a superuser changes it
    # while the triggers stand (also in replica mode).
    for prefix in ("", "SET session_replication_role = replica; "):
        for sql, op in (("UPDATE supplier_key_change SET actor = 'x'", "UPDATE"),
                        ("DELETE FROM supplier_key_change", "DELETE"),
                        ("TRUNCATE supplier_key_change", "TRUNCATE")):
            refused(db, "postgres", prefix + sql, "42501",
                    f"bevis: supplier_key_change is append-only: {op} refused")
    eq(db.sql("SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = "
              "'supplier_key_change'::regclass AND NOT tgisinternal ORDER BY 1"),
       [["supplier_key_change_append_only", "A"], ["supplier_key_change_no_truncate", "A"]],
       "triggers")
    # The SQL checks the key itself, also when called without bevis.
    for key in ("x" * 39, "~" * 40, "%" * 40):   # '%%%%%' is above 2^32 - 1
        refused(db, isam, f"SELECT bevis_supplier_add('y', '{key}')", "22023",
                "bevis: the key given for supplier y is not a CURVE public key: it must "
                "be 40 characters of Z85")
    eq(db.value("SELECT bevis_z85_decode('HelloWorld') = '\\x864fd26fb559f75b'::bytea"),
       "t", "Z85 test vector of ZeroMQ RFC 32")
    eq(db.count("supplier_key_change"), 1, "one key change")


# ---- the ledger ----------------------------------------------------------------

def test_supplier_key_leaves_decode_to_the_documented_fields(cluster):
    db = cluster.new_database(suppliers=())
    isam = login(db, "bevis_isam")
    keys = {n: keypair()[0] for n in ("skolplattform", "stadsnat", "m365")}
    for n, pub in keys.items():
        rc, out, err = bevis_as(db, isam, "supplier", "add", n, "--public-key", pub)
        eq(rc, 0, f"add {n}: {err}")
    rc, out, err = bevis_as(db, isam, "supplier", "revoke", "stadsnat")
    eq(rc, 0, "revoke: " + err)
    rows = db.sql("SELECT l.idx, l.kind, encode(l.data, 'hex'), "
                  "coalesce(l.submission_id::text, 'null'), sp.name, k.action, "
                  "k.public_key, k.fingerprint, k.actor, "
                  "(extract(epoch FROM k.at) * 1000000)::bigint "
                  "FROM ledger_leaf l JOIN supplier_key_change k ON k.leaf_idx = l.idx "
                  "JOIN supplier sp ON sp.id = k.supplier_id ORDER BY l.idx")
    eq(len(rows), 4, "four key changes")
    want = [("skolplattform", 1), ("stadsnat", 1), ("m365", 1), ("stadsnat", 2)]
    for (idx, kind, data, sub, name, action, pub, fp, actor, at), (wn, wa) in zip(rows, want):
        eq((kind, sub), ("supplier_key", "null"), f"leaf {idx} kind, no submission")
        leaf = decode_supplier_key_leaf(bytes.fromhex(data))
        eq(leaf, {"action": wa, "name": wn, "public_key": keys[wn],
                  "fingerprint": fingerprint(keys[wn]), "actor": isam, "at_us": int(at)},
           f"leaf {idx}")
        eq((name, action, pub, fp, actor),
           (wn, "added" if wa == 1 else "revoked", keys[wn], fingerprint(keys[wn]), isam),
           f"row of leaf {idx}")
    # The exact bytes, for the first leaf.
    idx, _, data, *_ = rows[0]
    at = int(rows[0][9])
    eq(bytes.fromhex(data),
       b"BVL1\x03\x01" + b"\x00\x0dskolplattform" + b"\x00\x28" + keys["skolplattform"].encode()
       + b"\x00\x20" + fingerprint(keys["skolplattform"]).encode()
       + len(isam).to_bytes(2, "big") + isam.encode() + at.to_bytes(8, "big", signed=True),
       "leaf bytes")
    check_ledger(db)
    # The example in docs/LEDGER.md is what the database encodes.
    with open(os.path.join(ROOT, "docs", "LEDGER.md")) as f:
        doc = f.read()
    block = doc[doc.index("### Kind 3"):doc.index("## Verifying")]
    key, fp = re.search(r"gets the key\s+`([^`]+)` \(fingerprint\s+`([0-9a-f]{32})`\)",
                        block).groups()
    eq(fingerprint(key), fp, "the example's fingerprint")
    lines = re.search(r"```\n(.*?)```", block, re.S).group(1).splitlines()
    doc_hex = "".join(lines[0::2]).replace(" ", "")
    eq(db.value(f"SELECT encode(bevis_supplier_key_leaf(1, 'acme', '{key}', '{fp}', "
                f"'anna', '2026-10-05T12:00:00Z'), 'hex')"), doc_hex, "LEDGER.md example")
    eq(len(doc_hex) // 2, 102, "example length")


def test_verify_replays_the_supplier_keys(cluster):
    db, _key, pub = ledger_with_data(cluster, requests=5)
    # Suppliers added and revoked between submissions; several at once.
    keys = {f"s{i}": keypair()[0] for i in range(6)}

    def add(n):
        out = run_bevis(db, "--db", db.conninfo, "supplier", "add", n, "--public-key", keys[n])
        eq(out.returncode, 0, f"add {n}: {out.stderr.decode()}")
    threads = [threading.Thread(target=add, args=(n,)) for n in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n in ("s1", "s4"):
        eq(run_bevis(db, "--db", db.conninfo, "supplier", "revoke", n).returncode, 0,
           f"revoke {n}")
    rc, out, err = verify(db, pub)
    eq((rc, err), (0, ""), "verify after adds and revokes")
    check(out.startswith("verified: 13 leaves (5 submissions, 0 redacted)"), out)
    rows = check_ledger(db)
    eq([r[1] for r in rows].count("supplier_key"), 8, "supplier_key leaves")
    leaf_of = dict(db.sql("SELECT sp.name, max(k.leaf_idx) FROM supplier_key_change k "
                          "JOIN supplier sp ON sp.id = k.supplier_id GROUP BY sp.name"))

    # A superuser flips the flag behind the functions' back (supplier has
    # no triggers: only the ledger shows it).
    db.sql("UPDATE supplier SET active = true WHERE name = 's1'")
    rc, _out, err = verify(db, pub)
    eq(rc, 1, "exit code")
    eq(err.splitlines(), [f"bevis verify: supplier s1: its active flag differs from what "
                          f"the ledger records (leaf {leaf_of['s1']}: revoked)"], "message")
    db.sql("UPDATE supplier SET active = false WHERE name IN ('s1', 's2')")
    rc, _out, err = verify(db, pub)
    eq(err.splitlines(), [f"bevis verify: supplier s2: its active flag differs from what "
                          f"the ledger records (leaf {leaf_of['s2']}: active)"], "message")
    db.sql("UPDATE supplier SET active = true WHERE name = 's2'")
    eq(verify(db, pub)[0], 0, "put back")

    # Another key slipped in for a supplier, and a supplier with a key
    # that never went through bevis_supplier_add().
    other, _ = keypair()
    db.sql(f"UPDATE supplier SET public_key = '{other}' WHERE name = 's3'")
    db.sql(f"INSERT INTO supplier (name, public_key) VALUES ('sneaky', '{keypair()[0]}')")
    rc, _out, err = verify(db, pub)
    eq(err.splitlines(), [f"bevis verify: supplier s3: its key differs from what the ledger "
                          f"records (leaf {leaf_of['s3']})",
                          "bevis verify: supplier sneaky: it has a key that the ledger "
                          "does not record"], "messages")
    db.sql(f"UPDATE supplier SET public_key = '{keys['s3']}' WHERE name = 's3'; "
           f"DELETE FROM supplier WHERE name = 'sneaky'")
    eq(verify(db, pub)[0], 0, "put back")

    # The record of who changed a key, altered with the triggers off.
    idx = leaf_of["s5"]
    tamper(db, f"ALTER TABLE supplier_key_change DISABLE TRIGGER ALL; "
               f"UPDATE supplier_key_change SET actor = 'someone_else' WHERE leaf_idx = {idx}")
    rc, _out, err = verify(db, pub)
    eq(err.splitlines(), [f"bevis verify: leaf {idx} (supplier s5): the actor differs "
                          f"from its supplier_key_change row"], "message")

    # A key change appended to the ledger without its row (and so without
    # its supplier changing), by someone who may call ledger_append.
    forged = (b"BVL1\x03\x02\x00\x02s0\x00\x28" + keys["s0"].encode() + b"\x00\x20"
              + fingerprint(keys["s0"]).encode() + b"\x00\x01x" + (0).to_bytes(8, "big"))
    n = int(db.value(f"SELECT ledger_append(ARRAY['supplier_key'], "
                     f"ARRAY['\\x{forged.hex()}'::bytea], ARRAY[NULL::bigint])"))
    rc, _out, err = verify(db, pub)
    eq(rc, 1, "exit code")
    eq(err.splitlines()[1:], [f"bevis verify: leaf {n} (supplier s0): a key change with no "
                              f"supplier_key_change row",
                              f"bevis verify: supplier s0: its active flag differs from what "
                              f"the ledger records (leaf {n}: revoked)"], "messages")


# ---- small-order keys (issue 10, item 16) ------------------------------------

# The Curve25519 points of small order, little-endian u-coordinates, as
# libsodium's has_small_order() lists them; each also with bit 255 set.
SMALL_ORDER = [bytes.fromhex(h) for h in (
    "00" * 32,
    "01" + "00" * 31,
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ec" + "ff" * 30 + "7f",
    "ed" + "ff" * 30 + "7f",
    "ee" + "ff" * 30 + "7f",
)]


def test_small_order_keys_are_refused_by_the_cli_and_the_database(cluster):
    db = cluster.new_database(suppliers=())
    isam = login(db, "bevis_isam")
    keys = []
    for raw in SMALL_ORDER:
        keys.append(z85.encode(raw).decode())
        keys.append(z85.encode(raw[:31] + bytes([raw[31] | 0x80])).decode())
    eq(keys[0], "0" * 40, "the all-zero key in Z85")
    tmp = tempfile.mkdtemp(prefix="bevis-small-")
    for i, key in enumerate(keys):
        rc, out, err = bevis_as(db, isam, "supplier", "add", f"s{i}", "--public-key", key)
        eq((rc, out), (2, ""), f"bevis supplier add with small-order key {key}")
        eq(err, f"bevis supplier add: {key} is a Curve25519 key of small order "
           "(such as all zeros), which proves nobody's identity; refused\n",
           "the CLI's message")
        path = os.path.join(tmp, f"s{i}.pub")
        with open(path, "w") as f:
            f.write(key + "\n")
        rc, _, err = bevis_as(db, isam, "supplier", "add", f"s{i}", "--key-file", path)
        eq(rc, 2, f"--key-file with small-order key {key}: {err}")
        # Straight to the database: refused there too.
        refused(db, isam, f"SELECT bevis_supplier_add('s{i}', '{key}')", "22023",
                f"bevis: the key given for supplier s{i} is a Curve25519 point of "
                f"small order (fingerprint {fingerprint(key)}), which proves "
                "nobody's identity")
    eq(db.count("supplier"), 0, "no supplier was registered")
    eq(db.count("supplier_key_change"), 0, "no key change was recorded")
    eq(db.count("ledger_leaf"), 0, "no ledger leaf")
    # An ordinary key still goes in.
    pub, _ = keypair()
    rc, out, err = bevis_as(db, isam, "supplier", "add", "fine", "--public-key", pub)
    eq(rc, 0, f"an ordinary key: {err}")
    eq(db.value(f"SELECT bevis_curve_small_order('{pub}')"), "f", "ordinary key")
    eq(db.value(f"SELECT bevis_curve_small_order('{keys[0]}')"), "t", "zero key")
