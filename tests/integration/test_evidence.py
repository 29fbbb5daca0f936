"""Issue 12, part A: the evidence chain and its custody. An ISAM login triages
an incident; an auditor login follows it back to its raw bytes with bevis
evidence, exports it with bevis export --incident (checked by verify-bundle
with no database) and finds the export as a custody record in bevis show.
Then, in copies of that database, a superuser changes one event byte, one
decision row and one custody row, and bevis evidence names each of them."""
import json
import os
import re
import subprocess
import tempfile

from bevistest import PGBIN, Client, Daemon, Database, check, eq, event, ndjson, run_bevis
from test_incidents import ledger_size, wait_head
from test_ledger import keygen, verify
from test_roles import conninfo_as, login

REASON = "Begäran från internrevisionen, ärende 2026/117"
_BASE = {}


def bevis(db, user, *args):
    out = run_bevis(db, "--db", conninfo_as(db, user), *args)
    return out.returncode, out.stdout.decode(), out.stderr.decode()


def ok(db, user, *args):
    rc, out, err = bevis(db, user, *args)
    eq(rc, 0, f"bevis {' '.join(args)}: {out}{err}")
    return out


def new_dir():
    return os.path.join(tempfile.mkdtemp(prefix="bevis-evidence-"), "bundle")


def base(cluster):
    """The auditor's flow, once per run: two submissions of three events,
    incident A (an event and a submission linked, triaged) and B (an event
    linked) merged into A, all by an ISAM login; then the auditor's export
    of A, recorded as custody and covered by a signed tree head."""
    if "db" in _BASE:
        return _BASE
    key, pub = keygen(tempfile.mkdtemp(prefix="bevis-key-"))
    db = cluster.new_database()
    isam, auditor = login(db, "bevis_isam"), login(db, "bevis_auditor")
    d = Daemon(db, ledger_key=key, checkpoint_interval=1)
    try:
        c = Client(d.endpoint)
        for r in range(2):
            eq(c.events(ndjson([event(r * 3 + k) for k in range(1, 4)]))["status"], "ok",
               "send")
        sub_a, sub_b = [int(x) for x in
                        db.value("SELECT string_agg(id::text, ' ' ORDER BY id) "
                                 "FROM submission").split()]
        a = ok(db, isam, "incident", "new", "--title", "Nätfiske mot elevkonton",
               "--event", "demo:ev-0000001", "--submission", str(sub_b)).strip()
        ok(db, isam, "triage", a, "--status", "assessing", "--personal-data", "yes",
           "--rationale", "riktiga elevkonton berörs")
        b = ok(db, isam, "incident", "new", "--title", "Samma nätfiske, anmält igen",
               "--event", "demo:ev-0000005").strip()
        ok(db, isam, "merge", b, "--into", a, "--rationale", "samma kampanj")
        wait_head(db, ledger_size(db), 20)

        # As the auditor: every item verifies.
        rc, out, err = bevis(db, auditor, "evidence", a, "--key", pub)
        eq((rc, err), (0, ""), "evidence before the export")
        _BASE["evidence_before"] = out

        bundle = new_dir()
        rc, out, err = bevis(db, auditor, "export", "--incident", a, "--out", bundle,
                             "--reason", REASON)
        eq((rc, err), (0, ""), "export --incident")
        _BASE["export_out"] = out
        wait_head(db, ledger_size(db), 20)
    finally:
        eq(d.stop(), 0, "bevisd exit code")
    _BASE.update(db=db, key=key, pub=pub, isam=isam, auditor=auditor, a=a, b=b, sub_a=sub_a,
                 sub_b=sub_b, bundle=bundle)
    return _BASE


def fresh(cluster):
    """A copy of the base database for one test to change."""
    base_db = base(cluster)["db"]
    cluster.n += 1
    name = f"{base_db.name}_copy{cluster.n}"
    subprocess.run([os.path.join(PGBIN, "createdb"), "-h", cluster.sock, "-p",
                    str(cluster.port), "-U", "postgres", "-T", base_db.name, name], check=True)
    return Database(cluster, name)


def items(out):
    """bevis evidence --json: one object per line."""
    return [json.loads(line) for line in out.splitlines()]


def test_evidence_lists_and_verifies_every_item(cluster):
    s = base(cluster)
    db, a, b, auditor = s["db"], s["a"], s["b"], s["auditor"]
    out = s["evidence_before"]
    check(out.splitlines()[-1].startswith(
        f"verified: 12 items behind {a} (2 submissions, 2 events, 8 decisions, "
        "0 custody records), each against the signed tree head of size "), out)
    check(out.splitlines()[-1].endswith("(checked with the ledger key)"), out)

    # After the export: the custody record is an item too; --json gives the same.
    rc, out, err = bevis(db, auditor, "evidence", a, "--key", s["pub"], "--json")
    eq((rc, err), (0, ""), "evidence --json")
    got = items(out)
    names = [i["item"] for i in got]
    eq(names, [f"submission {s['sub_a']}", f"submission {s['sub_b']}",
               f"event demo:ev-0000001 (submission {s['sub_a']}, item 0)",
               f"event demo:ev-0000005 (submission {s['sub_b']}, item 1)"]
       + [f"decision {k} of {a}" for k in range(1, 6)]
       + [f"decision {k} of {b}" for k in range(1, 4)]
       + [f"custody 1 of {a}"], "every item, in order")
    check(all(i["verified"] is True for i in got), got)
    leaves = {int(x.split(":")[0]): x.split(":")[1] for x in db.value(
        "SELECT string_agg(idx || ':' || kind, ' ') FROM ledger_leaf").split()}
    for i in got:
        check(i["leaf"] in leaves, i)
    # The body's SHA-256, recomputed from the stored bytes, and the supplier.
    sub = got[0]
    eq(sub["sha256"], db.value(f"SELECT encode(sha256(body), 'hex') FROM submission "
                               f"WHERE id = {s['sub_a']}"), "the body's SHA-256")
    # bevisd runs without CURVE here: the submission has no authenticated
    # supplier or key (the event names its supplier).
    eq((sub.get("supplier"), sub.get("key_fingerprint"), sub["leaf"]),
       (None, None, int(db.value(f"SELECT idx FROM ledger_leaf WHERE submission_id = "
                             f"{s['sub_a']} AND kind = 'submission'"))), "supplier, key and leaf")
    ev = got[2]
    eq(ev["supplier"], "demo", "the event's supplier")
    eq(ev["sha256"], db.value(
        f"SELECT encode(sha256(substring(s.body FROM e.raw_offset + 1 FOR e.raw_length)), "
        f"'hex') FROM event e JOIN submission s ON s.id = e.submission_id "
        f"WHERE e.source_event_id = 'ev-0000001'"), "the event's raw bytes")
    eq(got[-1]["actor"], auditor, "custody: who")


def test_export_writes_a_bundle_that_verifies_offline(cluster):
    s = base(cluster)
    db, a, b, bundle = s["db"], s["a"], s["b"], s["bundle"]
    check(f"exported {a}: 2 incidents, 8 decisions, 3 link rows" in s["export_out"],
          s["export_out"])
    check(re.search(rf"recorded as custody 1 of {a} \(ledger leaf \d+\): manifest.json "
                    r"SHA-256 [0-9a-f]{64}", s["export_out"]), s["export_out"])
    eq(sorted(os.listdir(os.path.join(bundle, "incidents"))), sorted([f"{a}.json", f"{b}.json"]),
       "one file per incident")
    eq(oct(os.stat(os.path.join(bundle, "incidents", f"{a}.json")).st_mode & 0o777), "0o600",
       "incident files hold rationales: owner only")
    m = json.load(open(os.path.join(bundle, "manifest.json")))
    eq(m["selection"], {"incident": a}, "selection")
    eq([x["id"] for x in m["submissions"]], [s["sub_a"], s["sub_b"]], "the linked submissions")
    eq([(x["ref"], x["decisions"], x["links"]) for x in m["incidents"]],
       [(a, 5, 2), (b, 3, 1)], "incidents in the manifest")
    # No database: verify-bundle runs with no connection settings at all.
    r = run_bevis(None, "verify-bundle", bundle, "--key", s["pub"])
    out = r.stdout.decode()
    eq((r.returncode, r.stderr.decode()), (0, ""), "verify-bundle")
    check("incidents verified: 2, with 8 decisions and their links\n" in out, out)
    check(out.startswith("incidents verified") and
          "bundle verified: 2 submissions (0 redacted)" in out, out)
    # The custody row holds the manifest's digest and where it went.
    import hashlib
    digest = hashlib.sha256(open(os.path.join(bundle, "manifest.json"), "rb").read()).hexdigest()
    eq(db.value("SELECT encode(bundle_sha256, 'hex') || ' ' || actor || ' ' || action "
                "FROM custody"), f"{digest} {s['auditor']} export", "custody row")
    check(db.value("SELECT destination FROM custody").endswith(":" + os.path.realpath(bundle)),
          "destination")
    eq(json.loads(db.value("SELECT items::text FROM custody")),
       {"incidents": [a, b], "submissions": [s["sub_a"], s["sub_b"]], "decisions": 8,
        "links": 3}, "items")

    # A changed decision in the bundle is named.
    tampered = new_dir()
    subprocess.run(["cp", "-a", bundle, tampered], check=True)
    path = os.path.join(tampered, "incidents", f"{a}.json")
    f = json.load(open(path))
    f["decisions"][1]["rationale"] = "inget särskilt"
    f["decisions"][3]["rationale"] = "inget särskilt"
    json.dump(f, open(path, "w"))
    r = run_bevis(None, "verify-bundle", tampered, "--key", s["pub"])
    eq(r.returncode, 1, "verify-bundle of a changed decision")
    check(f"incidents/{a}.json: decision 4: its rationale is not the one in leaf "
          in r.stderr.decode(), r.stderr.decode())


def test_the_export_shows_as_custody(cluster):
    s = base(cluster)
    db, a, auditor = s["db"], s["a"], s["auditor"]
    out = ok(db, auditor, "show", a)
    custody = out[out.index("\ncustody:\n"):]
    check(re.search(rf"  1\. \d{{4}}-\d\d-\d\d \d\d:\d\d \S+  {auditor}  export to \S+:{re.escape(os.path.realpath(s['bundle']))}"
                    rf"\n      why: {REASON}\n", custody), custody)
    check("bundle: manifest.json SHA-256 " in custody and "with bevis " in custody, custody)
    j = json.loads(ok(db, auditor, "show", a, "--json"))
    eq([(c["seq"], c["actor"], c["action"], c["reason"]) for c in j["custody"]],
       [(1, auditor, "export", REASON)], "show --json custody")
    # The ISAM sees it too; bevis verify replays the custody leaf.
    check("\ncustody:\n  1. " in ok(db, s["isam"], "show", a), "isam show")
    rc, out, err = verify(db, s["pub"])
    eq((rc, err), (0, ""), "verify")
    check(", 1 custody record, in " in out, out)


def test_bad_input_changes_nothing(cluster):
    s = base(cluster)
    db, a, auditor = s["db"], s["a"], s["auditor"]
    before = (db.count("custody"), ledger_size(db))
    rc, out, err = bevis(db, auditor, "evidence", "INC-2099-9999")
    eq((rc, out), (1, ""), "evidence of an unknown incident")
    check(err.startswith("bevis evidence: no incident INC-2099-9999\n"), err)
    d = new_dir()
    rc, out, err = bevis(db, auditor, "export", "--incident", a, "--out", d)
    eq((rc, out), (2, ""), "export without --reason")
    check(err.startswith("bevis export: --incident needs --reason TEXT: say why"), err)
    rc, out, err = bevis(db, auditor, "export", "--incident", a, "--out", d, "--reason", " \t")
    eq(rc, 2, "export with a blank reason")
    check("--incident needs --reason TEXT" in err, err)
    rc, out, err = bevis(db, auditor, "export", "--incident", "INC-2099-9999", "--out", d,
                         "--reason", "x")
    eq((rc, out), (1, ""), "export of an unknown incident")
    check(err.startswith("bevis export: no incident INC-2099-9999\n"), err)
    check(not os.path.exists(d), "no bundle directory was made")
    eq((db.count("custody"), ledger_size(db)), before, "no custody record, no leaf")
    # The ingest login may not record custody.
    ingest = login(db, "bevis_ingest")
    rc, out, err = bevis(db, ingest, "export", "--incident", a, "--out", d, "--reason", "x")
    eq(rc, 1, "export as bevis_ingest")
    eq((db.count("custody"), ledger_size(db)), before, "still nothing recorded")


def test_tampering_is_named(cluster):
    s = base(cluster)
    a, auditor = s["a"], s["auditor"]
    db = fresh(cluster)
    # One event byte (in the raw body), one decision row, one custody row.
    db.sql("ALTER TABLE submission DISABLE TRIGGER ALL; "
           "ALTER TABLE decision DISABLE TRIGGER ALL; "
           "ALTER TABLE custody DISABLE TRIGGER ALL; "
           f"UPDATE submission SET body = overlay(body PLACING '\\x58'::bytea FROM "
           f"(SELECT raw_offset + 10 FROM event WHERE source_event_id = 'ev-0000001') "
           f"FOR 1) WHERE id = {s['sub_a']}; "
           f"UPDATE decision SET rationale = 'inga elevkonton' WHERE seq = 4 AND incident_id = "
           f"(SELECT id FROM incident WHERE ref = '{a}'); "
           "UPDATE custody SET reason = 'rutinkontroll'")
    rc, out, err = bevis(db, auditor, "evidence", a, "--key", s["pub"])
    eq(rc, 1, "evidence exit code after tampering: " + out + err)
    check(out.splitlines()[-1] == f"FAILED: 4 of 13 items behind {a}", out)
    lines = err.splitlines()
    eq(lines[0], f"bevis evidence: {a}: 4 of 13 items failed to verify:", err)
    sa = s["sub_a"]
    want = [f"  submission {sa}: the SHA-256 of its stored body is not the one in its ledger leaf ",
            f"  event demo:ev-0000001 (submission {sa}, item 0): its submission {sa} does not verify",
            f"  decision 4 of {a}: its rationale differs from its ledger leaf ",
            f"  custody 1 of {a}: its reason differs from its ledger leaf "]
    for w in want:
        check(any(line.startswith(w) for line in lines), f"{w!r} in\n{err}")
    # --json says the same per item.
    rc, out, err = bevis(db, auditor, "evidence", a, "--key", s["pub"], "--json")
    eq(rc, 1, "evidence --json exit code")
    bad = [i["item"] for i in items(out) if not i["verified"]]
    eq(bad, [f"submission {sa}", f"event demo:ev-0000001 (submission {sa}, item 0)",
             f"decision 4 of {a}", f"custody 1 of {a}"], "failed items in --json")
    # bevis verify names the custody row too.
    rc, out, err = verify(db, s["pub"])
    eq(rc, 1, "verify")
    check(f"custody 1 of {a} (leaf " in err and "its reason differs from its ledger leaf" in err,
          err)


def test_an_incident_without_evidence_and_a_head_not_yet_signed(cluster):
    s = base(cluster)
    isam, auditor = s["isam"], s["auditor"]
    db = fresh(cluster)
    c = ok(db, isam, "incident", "new", "--title", "Anmälan utan underlag").strip()
    leaf = ledger_size(db) - 1
    # No bevisd runs: no signed tree head covers its open decision yet.
    rc, out, err = bevis(db, auditor, "evidence", c, "--key", s["pub"])
    eq(rc, 1, "evidence before a head covers it")
    check(f"  decision 1 of {c}: no signed tree head covers leaf {leaf} yet\n" in err, err)
    before = (db.count("custody"), ledger_size(db))
    d = new_dir()
    rc, out, err = bevis(db, auditor, "export", "--incident", c, "--out", d, "--reason", "x")
    eq(rc, 1, "export before a head covers it")
    check(f"no signed tree head covers leaf {leaf} yet" in err, err)
    check(not os.path.exists(d), "no bundle")
    eq((db.count("custody"), ledger_size(db)), before, "nothing recorded")
    # With bevisd signing: an incident with decisions and no submission.
    dm = Daemon(db, ledger_key=s["key"], checkpoint_interval=1)
    try:
        wait_head(db, ledger_size(db), 20)
        rc, out, err = bevis(db, auditor, "export", "--incident", c, "--out", d, "--reason",
                             "till dataskyddsombudet")
        eq((rc, err), (0, ""), "export of an incident without evidence")
        check(f"exported {c}: 1 incident, 1 decision, 0 link rows\n" in out, out)
        r = run_bevis(None, "verify-bundle", d, "--key", s["pub"])
        eq((r.returncode, r.stderr.decode()), (0, ""), "verify-bundle")
        check("incidents verified: 1, with 1 decision and their links\n"
              "bundle verified: 0 submissions (0 redacted)" in r.stdout.decode(),
              r.stdout.decode())
        wait_head(db, ledger_size(db), 20)
        rc, out, err = bevis(db, auditor, "evidence", c, "--key", s["pub"])
        eq((rc, err), (0, ""), "evidence after the export")
        check(f"verified: 2 items behind {c} (0 submissions, 0 events, 1 decision, "
              "1 custody record)" in out, out)
    finally:
        eq(dm.stop(), 0, "bevisd exit code")
