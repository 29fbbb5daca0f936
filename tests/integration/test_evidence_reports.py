"""Issues 12 and 13 together: the evidence chain follows report entries.
The servicedesk's sample month is sent over CURVE; each entry opens a
potential incident linked to it. As an auditor login, bevis evidence lists
the entry behind such an incident with its report, its raw bytes' SHA-256
(a slice of the report's submission body) and that submission's ledger leaf
and inclusion proof; bevis export --incident carries the report's
submission so that verify-bundle accepts it with no database; bevis show
prints the link as source, period, version and entry. A changed body byte
inside the entry's slice is named."""
import copy
import hashlib
import json
import os
import subprocess
import uuid

from bevistest import PGBIN, Daemon, Database, check, eq, run_bevis
from test_curve import Keys, curve_client
from test_evidence import bevis, items, new_dir, ok
from test_incidents import ledger_size, wait_head
from test_ledger import keygen
from test_reports import SERVICEDESK_MAP, ct, read
from test_roles import login

ENTRY = "SD-2026-1008"
_BASE = {}


def base(cluster):
    """Once per run: the servicedesk's October report (Windows-1252), sent
    over CURVE by bevisd's ingest login, every leaf under a signed head."""
    if "db" in _BASE:
        return _BASE
    db = cluster.new_database(suppliers=())
    ingest = f"{db.name}_ingest_{uuid.uuid4().hex[:8]}"
    db.sql(f'CREATE ROLE "{ingest}" LOGIN IN ROLE bevis_ingest')
    auditor = login(db, "bevis_auditor")
    keys = Keys()
    keys.supplier(db, "servicedesk")
    as_ingest = copy.copy(db)
    as_ingest.conninfo = db.conninfo.replace("user=postgres", f"user={ingest}")
    key, pub = keygen(keys.dir)
    d = Daemon(as_ingest, curve_secret_key=keys.server_key, ledger_key=key,
               checkpoint_interval=1)
    d.stop()
    with open(d.conf, "a") as f:
        f.write(SERVICEDESK_MAP)
    d.start()
    c = None
    try:
        c = curve_client(d, keys, "servicedesk")
        r = c.request(b"REPORT", ct("servicedesk", "2026-10", charset="windows-1252"),
                      read("servicedesk-2026-10.cp1252.csv"), timeout=120)
        eq((r["status"], r["new"]), ("ok", 20), "the sample month: " + json.dumps(r)[:400])
        wait_head(db, ledger_size(db), 20)
    finally:
        if c is not None:
            c.close()
        eq(d.stop(), 0, "bevisd exit code")
    row = db.sql("SELECT i.ref, e.submission_id, e.item_no, e.id, e.raw_offset, "
                 "encode(sha256(e.raw), 'hex'), l.idx, s.key_fingerprint "
                 "FROM report_entry_view e JOIN incident i ON i.id = e.incident_id "
                 "JOIN submission s ON s.id = e.submission_id "
                 "JOIN ledger_leaf l ON l.kind = 'submission' AND l.submission_id = s.id "
                 f"WHERE e.entry_id = '{ENTRY}'")[0]
    _BASE.update(db=db, auditor=auditor, pub=pub, ref=row[0], sub=int(row[1]),
                 item=int(row[2]), row=int(row[3]), offset=int(row[4]), sha=row[5],
                 leaf=int(row[6]), fp=row[7])
    return _BASE


def copy_db(cluster, s):
    """A copy of the base database, for a test that changes it."""
    cluster.n += 1
    name = f"{s['db'].name}_copy{cluster.n}"
    subprocess.run([os.path.join(PGBIN, "createdb"), "-h", cluster.sock, "-p",
                    str(cluster.port), "-U", "postgres", "-T", s["db"].name, name], check=True)
    return Database(cluster, name)


def entry_name(s):
    return f"report entry servicedesk:{ENTRY} (submission {s['sub']}, item {s['item']})"


def test_evidence_follows_a_report_entry(cluster):
    s = base(cluster)
    db, auditor, ref = s["db"], s["auditor"], s["ref"]
    out = ok(db, auditor, "evidence", ref, "--key", s["pub"])
    last = out.splitlines()[-1]
    check(last.startswith(
        f"verified: 4 items behind {ref} (1 submission, 0 events, 1 report entry, "
        "2 decisions, 0 custody records), each against the signed tree head of size "),
        out)
    check(last.endswith("(checked with the ledger key)"), out)

    rc, out, err = bevis(db, auditor, "evidence", ref, "--key", s["pub"], "--json")
    eq((rc, err), (0, ""), "evidence --json")
    got = items(out)
    eq([i["item"] for i in got],
       [f"submission {s['sub']}", entry_name(s), f"decision 1 of {ref}",
        f"decision 2 of {ref}"], "every item, in order")
    eq([i["verified"] for i in got], [True] * 4, "each verifies")
    ent = got[1]
    eq((ent["what"], ent["supplier"], ent["key_fingerprint"], ent["sha256"], ent["leaf"],
        ent.get("problem")),
       ("servicedesk report 2026-10 version 1", "servicedesk", s["fp"], s["sha"], s["leaf"],
        None), "the entry: its report, raw bytes' SHA-256 and its submission's leaf")
    raw = read("servicedesk-2026-10.cp1252.csv")
    check(raw[s["offset"]:].startswith(ENTRY.encode() + b";"), "the slice is the entry's record")
    eq((got[0]["supplier"], got[0]["sha256"], got[0]["leaf"]),
       ("servicedesk", hashlib.sha256(raw).hexdigest(), s["leaf"]), "the report's submission")


def test_show_prints_the_entry(cluster):
    s = base(cluster)
    out = ok(s["db"], s["auditor"], "show", s["ref"])
    links = out[out.index("\nlinks:\n"):out.index("\ndecisions:\n")]
    lines = links.strip("\n").splitlines()
    eq(len(lines), 2, links)
    check(lines[1].startswith(
        f"  report_entry servicedesk:{ENTRY} (servicedesk report 2026-10, version 1, "
        f"entry row {s['row']})  linked "), links)
    j = json.loads(ok(s["db"], s["auditor"], "show", s["ref"], "--json"))
    eq([(l["kind"], l["target"], l["report_entry"], l["report_kind"], l["report_period"],
         l["report_version"]) for l in j["links"]],
       [("report_entry", f"servicedesk:{ENTRY}", s["row"], "servicedesk", "2026-10", 1)],
       "show --json links")


def test_export_carries_the_report_submission(cluster):
    s = base(cluster)
    # In a copy: the export adds a custody record and a leaf.
    db, auditor, ref = copy_db(cluster, s), s["auditor"], s["ref"]
    bundle = new_dir()
    rc, out, err = bevis(db, auditor, "export", "--incident", ref, "--out", bundle,
                         "--reason", "Granskning av servicedeskens oktoberrapport")
    eq((rc, err), (0, ""), "export --incident")
    lines = out.splitlines()
    eq(lines[0][:lines[0].index(": manifest.json")],
       f"recorded as custody 1 of {ref} (ledger leaf 42)", out)
    eq(lines[1], f"exported {ref}: 1 incident, 2 decisions, 1 link row", out)
    eq(lines[2], f"exported 1 submission (0 redacted) to {bundle}, with inclusion proofs "
       "against the signed tree head of size 42", out)
    m = json.load(open(os.path.join(bundle, "manifest.json")))
    eq([x["id"] for x in m["submissions"]], [s["sub"]], "the report's submission")
    r = run_bevis(None, "verify-bundle", bundle, "--key", s["pub"])
    out = r.stdout.decode()
    eq((r.returncode, r.stderr.decode()), (0, ""), "verify-bundle")
    # One key leaf, the report's submission, each of 20 entries' open and link.
    eq(out, "incidents verified: 1, with 2 decisions and their links\n"
       "bundle verified: 1 submission (0 redacted), tree size 42, checkpoint signed by "
       "bevis.test/ledger\n", "verify-bundle output")

    # A byte inside the entry's slice of the report's body, changed offline.
    tampered = new_dir()
    subprocess.run(["cp", "-a", bundle, tampered], check=True)
    p = os.path.join(tampered, "bodies", f"{s['sub']}.bin")
    data = bytearray(open(p, "rb").read())
    eq(hashlib.sha256(data).hexdigest(), hashlib.sha256(
        read("servicedesk-2026-10.cp1252.csv")).hexdigest(), "the bundled body as sent")
    data[s["offset"] + 4] ^= 1
    open(p, "wb").write(data)
    r = run_bevis(None, "verify-bundle", tampered, "--key", s["pub"])
    eq(r.returncode, 1, "verify-bundle of a changed entry byte: " + r.stdout.decode())
    check(r.stdout.decode().startswith("FAILED: "), r.stdout.decode())
    eq(r.stderr.decode().splitlines(),
       [f"bevis verify-bundle: bodies/{s['sub']}.bin: its SHA-256 is not the body SHA-256 "
        f"in leaf {s['leaf']}"], "the changed body is named")


def test_a_changed_byte_in_the_entry_is_named(cluster):
    s = base(cluster)
    ref, auditor = s["ref"], s["auditor"]
    db = copy_db(cluster, s)
    db.sql("ALTER TABLE submission DISABLE TRIGGER ALL; "
           "UPDATE submission SET body = overlay(body PLACING '\\x58'::bytea FROM "
           f"{s['offset'] + 4} FOR 1) WHERE id = {s['sub']}")
    rc, out, err = bevis(db, auditor, "evidence", ref, "--key", s["pub"])
    eq(rc, 1, "evidence after the change: " + out + err)
    eq(out.splitlines()[-1], f"FAILED: 2 of 4 items behind {ref}", out)
    lines = err.splitlines()
    eq(lines[0], f"bevis evidence: {ref}: 2 of 4 items failed to verify:", err)
    check(lines[1].startswith(f"  submission {s['sub']}: the SHA-256 of its stored body is "
                              f"not the one in its ledger leaf {s['leaf']}: the body was "
                              "changed"), err)
    eq(lines[2], f"  {entry_name(s)}: its submission {s['sub']} does not verify", err)
    eq(len(lines), 3, err)
    rc, out, err = bevis(db, auditor, "evidence", ref, "--key", s["pub"], "--json")
    eq(rc, 1, "evidence --json after the change")
    got = items(out)
    eq([i["item"] for i in got if not i["verified"]],
       [f"submission {s['sub']}", entry_name(s)], "failed items in --json")
    # The entry's SHA-256 is recomputed from the changed bytes.
    check(got[1]["sha256"] != s["sha"], got[1])
    eq(got[1]["sha256"], db.value("SELECT encode(sha256(raw), 'hex') FROM report_entry_view "
                                  f"WHERE id = {s['row']}"), "recomputed from the slice")

