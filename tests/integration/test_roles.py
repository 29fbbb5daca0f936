"""Issue steps 6 and 7: the PostgreSQL roles bevis_ingest, bevis_isam and
bevis_auditor, append-only evidence enforced by triggers that even a superuser
meets (also in replica mode), and GDPR redaction through bevis_redact()
(docs/ROLES.md)."""
import copy
import hashlib
import os
import pwd
import subprocess
import uuid

from bevistest import PGBIN, ROOT, Client, Daemon, check, eq, event, ndjson, run_bevis

EVIDENCE = ["submission", "event", "quarantine", "ledger_leaf", "ledger_node",
            "tree_head", "redaction"]
PERSONAL = ["actor_user", "src_ip", "target", "message", "attrs"]
EVENT_COLUMNS = ("submission_id, item_no, supplier_id, source_event_id, occurred_at, "
                 "severity, category, action, outcome, actor_user, src_ip, target, "
                 "message, personal_data, seq, attrs, raw_offset, raw_length")
# One harmless-looking change per evidence table.
UPDATES = {"submission": "body = NULL", "event": "severity = 0",
           "quarantine": "reason = 'x'", "ledger_leaf": "kind = 'decision'",
           "ledger_node": "hash = sha256('x')", "tree_head": "checkpoint = 'x'",
           "redaction": "reason = 'x'"}
KEPT_COLUMNS = ("submission_id, item_no, supplier_id, source_event_id, occurred_at, "
                "severity, category, action, outcome, personal_data, seq, raw_offset, "
                "raw_length")


# ---- helpers ---------------------------------------------------------------

def conninfo_as(db, user):
    return (f"host={db.cluster.sock} port={db.cluster.port} dbname={db.name} "
            f"user={user}")


def db_as(db, user):
    """db, connecting as user. Daemon(db, db=...) cannot work: its first
    parameter is named db, so Daemon's config takes db.conninfo from this."""
    other = copy.copy(db)
    other.conninfo = conninfo_as(db, user)
    return other


def login(db, group):
    """A new login role, unique in the cluster, member only of group."""
    name = f"{db.name}_{group.replace('bevis_', '')}_{uuid.uuid4().hex[:8]}"
    db.sql(f'CREATE ROLE "{name}" LOGIN IN ROLE {group}')
    return name


def psql_as(db, user, query, binary=False):
    """Runs query as user; errors come back with their SQLSTATE."""
    return subprocess.run([os.path.join(PGBIN, "psql"), "-X", "-At", "-F", "\t",
                           "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose",
                           "-d", conninfo_as(db, user), "-c", query],
                          capture_output=True, text=not binary,
                          env=dict(os.environ, PGCLIENTENCODING="UTF8"))


def allowed(db, user, query):
    out = psql_as(db, user, query)
    check(out.returncode == 0, f"as {user}: {query}: {out.stderr}")
    return [line.split("\t") for line in out.stdout.splitlines()]


def refused(db, user, query, sqlstate, message):
    out = psql_as(db, user, query)
    check(out.returncode != 0, f"as {user}: {query} was not refused")
    check(f"ERROR:  {sqlstate}: {message}" in out.stderr,
          f"as {user}: {query}: want {sqlstate} {message!r}, got {out.stderr!r}")


def populate(db, d, prefix="p"):
    """Three requests through bevisd: two of events with personal data, the
    first with one quarantined item; returns their submission ids."""
    c = Client(d.endpoint)
    bodies = [ndjson([event(i, prefix=prefix + "a", note=f"called 070-{i:07d}")
                      for i in range(5)]) + b'{"supplier":"demo","id":"x"}\n',
              ndjson([event(i, prefix=prefix + "b") for i in range(5, 9)]),
              ndjson([event(i, prefix=prefix + "c") for i in range(9, 12)])]
    rids = []
    for body in bodies:
        rid = uuid.uuid4().hex
        rep = c.events(body, rid=rid.encode())
        eq(rep["status"], "ok", "populate: status")
        rids.append(rid)
    c.close()
    return [int(db.value(f"SELECT id FROM submission WHERE request_id = '{r}'"))
            for r in rids]


def mth(hashes):
    """RFC 9162 Merkle tree hash of leaf hashes."""
    n = len(hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + mth(hashes[:k]) + mth(hashes[k:])).digest()


def check_ledger(db):
    """Leaves gapless from 0, each hash = SHA-256(0x00 || data), and the
    server's root equal to one computed here. Returns the leaves."""
    rows = db.sql("SELECT idx, kind, encode(data, 'hex'), encode(hash, 'hex'), "
                  "coalesce(submission_id::text, '') FROM ledger_leaf ORDER BY idx")
    eq([int(r[0]) for r in rows], list(range(len(rows))), "ledger leaf indexes")
    hashes = []
    for r in rows:
        data = bytes.fromhex(r[2])
        eq(r[3], hashlib.sha256(b"\x00" + data).hexdigest(), f"leaf {r[0]} hash")
        hashes.append(bytes.fromhex(r[3]))
    eq(db.value(f"SELECT encode(ledger_root({len(rows)}), 'hex')"), mth(hashes).hex(),
       "ledger root")
    return rows


class Reader:
    def __init__(self, data):
        self.data, self.off = data, 0

    def take(self, n):
        check(self.off + n <= len(self.data), "leaf data too short")
        b = self.data[self.off:self.off + n]
        self.off += n
        return b

    def int(self, n, signed=False):
        return int.from_bytes(self.take(n), "big", signed=signed)

    def str(self):
        return self.take(self.int(2)).decode("utf-8")

    def end(self):
        eq(self.off, len(self.data), "leaf data length")


def decode_redaction(data):
    r = Reader(data)
    eq(r.take(4), b"BVL1", "magic")
    eq(r.int(1), 2, "kind")
    leaf = {"submission": r.int(8, True), "actor": r.str(),
            "redacted_us": r.int(8, True), "reason": r.str()}
    r.end()
    return leaf


def submission_leaf_digests(data):
    """events, events SHA-256 and redacted events SHA-256 of a kind-1 leaf."""
    r = Reader(data)
    eq(r.take(4), b"BVL1", "magic")
    eq(r.int(1), 1, "kind")
    r.int(8)
    r.str()                 # supplier
    r.str()                 # key fingerprint
    r.int(8)                # received at
    r.str()                 # request id
    r.str()                 # content type
    r.take(32)              # body SHA-256
    r.int(4)                # item count
    return r.int(4), r.take(32), r.take(32)


def events_digest(db, sub):
    """SHA-256 of the submission's event rows as binary COPY tuples."""
    out = psql_as(db, "postgres", f"COPY (SELECT {EVENT_COLUMNS} FROM event "
                  f"WHERE submission_id = {sub} ORDER BY item_no) TO STDOUT "
                  f"(FORMAT binary)", binary=True)
    check(out.returncode == 0, out.stderr)
    b = out.stdout
    eq(b[:11], b"PGCOPY\n\xff\r\n\x00", "COPY signature")
    ext = int.from_bytes(b[15:19], "big")
    body = b[19 + ext:]
    eq(body[-2:], b"\xff\xff", "COPY trailer")
    return hashlib.sha256(body[:-2]).digest()


# ---- the roles and their privileges ----------------------------------------

def test_roles_and_least_privilege(cluster):
    db = cluster.new_database()
    # A second database in the same cluster migrates although the roles
    # exist, and migrating again is a no-op.
    out = run_bevis(db, "--db", db.conninfo, "migrate")
    eq(out.returncode, 0, "second migrate: " + out.stderr.decode())
    check(b" 0 applied now" in out.stdout, out.stdout.decode())
    rows = db.sql("SELECT rolname, rolcanlogin, rolsuper FROM pg_roles "
                  "WHERE rolname LIKE 'bevis\\_%' ORDER BY 1")
    eq(rows, [["bevis_auditor", "f", "f"], ["bevis_ingest", "f", "f"],
              ["bevis_isam", "f", "f"], ["bevis_protected", "f", "f"]], "roles")

    privs = ["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES",
             "TRIGGER"]
    rels = [r[0] for r in db.sql(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'p', 'm') ORDER BY 1")]
    for rel in ("event_view", "quarantine_item", "schema_migration", "redaction"):
        check(rel in rels, f"{rel} in {rels}")
    # supplier_key_valid (0014): the keys bevisd admits, rotated-out ones included.
    ingest = {"supplier": {"SELECT"}, "supplier_key_valid": {"SELECT"},
              "tree_head": {"SELECT", "INSERT"},
              "ledger_leaf": {"SELECT"}, "ledger_node": {"SELECT"}}
    for t in ("submission", "event", "quarantine"):
        ingest[t] = {"SELECT", "INSERT"}
    # A resent REPORT is answered from what was stored (0011).
    for t in ("report", "report_entry"):
        ingest[t] = {"SELECT"}
    # bevis_writer_lock is the owner's alone (0007): nobody else can lock it.
    want = {"bevis_ingest": ingest,
            "bevis_isam": {r: {"SELECT"} for r in rels if r != "bevis_writer_lock"},
            "bevis_auditor": {r: {"SELECT"} for r in rels if r != "bevis_writer_lock"},
            "public": {}}
    for role, table in want.items():
        for rel in rels:
            got = {p for p in privs if db.value(
                f"SELECT has_table_privilege('{role}', '{rel}', '{p}')") == "t"}
            eq(got, table.get(rel, set()), f"{role} on {rel}")

    funcs = ["ledger_append(text[],bytea[],bigint[])", "ledger_root(bigint)",
             "ledger_append_submissions(bytea[],bigint[])",
             "ledger_node_hash(integer,bigint)", "bevis_redact(bigint,text)",
             "bevis_append_only()", "bevis_supplier_add(text,text)",
             "bevis_supplier_revoke(text)", "bevis_curve_fingerprint(text)",
             "bevis_z85_decode(text)",
             "bevis_supplier_key_leaf(integer,text,text,text,text,timestamptz)",
             "bevis_report_ingest(bigint,text,text,text,text,jsonb,integer,text)"]
    fwant = {"bevis_ingest": {"ledger_append_submissions", "ledger_root", "ledger_node_hash",
                              "bevis_report_ingest"},
             "bevis_isam": {"ledger_root", "ledger_node_hash", "bevis_redact",
                            "bevis_supplier_add", "bevis_supplier_revoke",
                            "bevis_curve_fingerprint", "bevis_z85_decode"},
             "bevis_auditor": {"ledger_root", "ledger_node_hash",
                               "bevis_curve_fingerprint", "bevis_z85_decode"},
             "public": set()}
    for role, fs in fwant.items():
        got = {f.split("(")[0] for f in funcs if db.value(
            f"SELECT has_function_privilege('{role}', '{f}', 'EXECUTE')") == "t"}
        eq(got, fs, f"{role} may execute")
    eq(db.value("SELECT has_sequence_privilege('bevis_ingest', 'submission_id_seq', "
                "'USAGE')"), "t", "ingest uses the id sequence")
    eq(db.value("SELECT has_sequence_privilege('bevis_auditor', 'submission_id_seq', "
                "'USAGE')"), "f", "auditor does not")
    eq(db.value("SELECT has_database_privilege('bevis_ingest', current_database(), "
                "'TEMP')"), "t", "ingest may create event_stage")
    # Security definers run with a search path a caller cannot redirect.
    rows = db.sql("SELECT proname, prosecdef, array_to_string(proconfig, ',') "
                  "FROM pg_proc WHERE proname IN ('ledger_append', "
                  "'ledger_append_submissions', 'ledger_root', "
                  "'ledger_node_hash', 'bevis_redact', 'bevis_supplier_add', "
                  "'bevis_supplier_revoke') ORDER BY 1")
    eq(rows, [["bevis_redact", "t", "search_path=pg_catalog, public, pg_temp"],
              ["bevis_supplier_add", "t", "search_path=pg_catalog, public, pg_temp"],
              ["bevis_supplier_revoke", "t", "search_path=pg_catalog, public, pg_temp"],
              ["ledger_append", "t", "search_path=pg_catalog, public, pg_temp"],
              ["ledger_append_submissions", "t", "search_path=pg_catalog, public, pg_temp"],
              ["ledger_node_hash", "f", "search_path=pg_catalog, public, pg_temp"],
              ["ledger_root", "f", "search_path=pg_catalog, public, pg_temp"]],
       "function security")
    # Every evidence table has both triggers, enabled ALWAYS.
    for t in EVIDENCE:
        rows = db.sql(f"SELECT tgname, tgenabled FROM pg_trigger "
                      f"WHERE tgrelid = '{t}'::regclass AND NOT tgisinternal ORDER BY 1")
        want = [[f"{t}_append_only", "A"], [f"{t}_no_truncate", "A"]]
        if t == "ledger_leaf":
            # 0008: every append tells a listening bevisd (NOTIFY).
            want.append(["ledger_leaf_notify", "A"])
        eq(rows, want, f"{t} triggers")


def test_ingest_role_runs_bevisd_and_cannot_change_evidence(cluster):
    db = cluster.new_database()
    user = login(db, "bevis_ingest")
    d = Daemon(db_as(db, user))
    try:
        c = Client(d.endpoint)
        body = ndjson([event(i) for i in range(200)]) + b'{"supplier":"demo","id":"q"}\n'
        rep = c.events(body, rid=b"first")
        eq((rep["status"], rep["accepted"], rep["quarantined"]), ("ok", 200, 1),
           "first request")
        # A resend under a new id goes through event_stage (a temporary
        # table) and INSERT ... ON CONFLICT; a retry reads the stored outcome.
        rep = c.events(body, rid=b"second")
        eq((rep["accepted"], rep["duplicate"]), (0, 200), "resend")
        rep = c.events(body, rid=b"first")
        eq((rep.get("replay"), rep["accepted"]), (True, 200), "retry")
        rep = c.events(ndjson([event(i) for i in range(200, 300)]))
        eq(rep["accepted"], 100, "third request")
        c.close()
        eq(db.count("event"), 300, "events stored")
        eq(db.count("quarantine"), 2, "quarantine rows")
        eq(db.count("submission"), 3, "submissions")
        eq(db.count("ledger_leaf", "kind = 'submission'"), 3, "submission leaves")
        check_ledger(db)
        # bevisd connected as that login, not as a superuser.
        check(db.value(f"SELECT count(*) FROM pg_stat_activity WHERE usename = '{user}' "
                       f"AND application_name = 'bevisd'") != "0",
              "bevisd sessions as the ingest login")
        check("permission denied" not in d.logtext(), d.logtext())
    finally:
        eq(d.stop(), 0, "bevisd exit code")

    for t in EVIDENCE:
        refused(db, user, f"UPDATE {t} SET {UPDATES[t]}", "42501",
                f"permission denied for table {t}")
        refused(db, user, f"DELETE FROM {t}", "42501", f"permission denied for table {t}")
        refused(db, user, f"TRUNCATE {t}", "42501", f"permission denied for table {t}")
    refused(db, user, "INSERT INTO ledger_leaf (idx, kind, data, hash) "
            "VALUES (1000, 'submission', '\\x00', sha256('\\x00'))", "42501",
            "permission denied for table ledger_leaf")
    refused(db, user, "INSERT INTO ledger_node VALUES (5, 0, sha256('\\x00'))", "42501",
            "permission denied for table ledger_node")
    refused(db, user, "INSERT INTO supplier (name) VALUES ('evil')", "42501",
            "permission denied for table supplier")
    # Through its own door only submission leaves of real submissions pass.
    sub = db.value("SELECT min(id) FROM submission")
    refused(db, user, "SELECT ledger_append_submissions(ARRAY['\\x42564c3102'::bytea "
            f"|| int8send({sub})], ARRAY[{sub}::bigint])", "22023",
            f"bevis: not the first submission leaf of an existing submission ({sub})")
    refused(db, user, "SELECT ledger_append_submissions(ARRAY['\\x42564c3101'::bytea "
            f"|| int8send({sub})], ARRAY[{sub}::bigint])", "22023",
            f"bevis: not the first submission leaf of an existing submission ({sub})")
    refused(db, user, "SELECT bevis_redact(1, 'no')", "42501",
            "permission denied for function bevis_redact")
    refused(db, user, "SELECT * FROM redaction", "42501",
            "permission denied for table redaction")
    eq(allowed(db, user, "SELECT count(*) FROM event"), [["300"]], "ingest reads events")
    eq(db.count("event"), 300, "events after the attempts")
    eq(db.count("submission", "body IS NOT NULL"), 3, "bodies after the attempts")


def test_auditor_reads_everything_and_writes_nothing(cluster):
    db = cluster.new_database()
    d = Daemon(db)
    try:
        populate(db, d)
    finally:
        eq(d.stop(), 0, "bevisd exit code")
    user = login(db, "bevis_auditor")
    rels = [r[0] for r in db.sql(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'p', 'm') ORDER BY 1")]
    for rel in rels:
        if rel == "bevis_writer_lock":      # the writers' lock rows: owner only
            refused(db, user, f"SELECT count(*) FROM {rel}", "42501",
                    f"permission denied for table {rel}")
            continue
        eq(allowed(db, user, f"SELECT count(*) FROM {rel}"),
           [[db.value(f"SELECT count(*) FROM {rel}")]], f"auditor counts {rel}")
    n = db.value("SELECT count(*) FROM ledger_leaf")
    eq(allowed(db, user, f"SELECT encode(ledger_root({n}), 'hex')"),
       [[db.value(f"SELECT encode(ledger_root({n}), 'hex')")]], "auditor's ledger_root")
    eq(allowed(db, user, "SELECT ledger_node_hash(0, 0) IS NOT NULL"), [["t"]],
       "auditor's ledger_node_hash")
    for t in EVIDENCE + ["supplier"]:
        refused(db, user, f"INSERT INTO {t} DEFAULT VALUES", "42501",
                f"permission denied for table {t}")
        refused(db, user, f"DELETE FROM {t}", "42501", f"permission denied for table {t}")
        refused(db, user, f"TRUNCATE {t}", "42501", f"permission denied for table {t}")
    refused(db, user, "UPDATE submission SET body = NULL", "42501",
            "permission denied for table submission")
    refused(db, user, "UPDATE event SET message = NULL", "42501",
            "permission denied for table event")
    refused(db, user, "UPDATE supplier SET active = false", "42501",
            "permission denied for table supplier")
    refused(db, user, "SELECT ledger_append(ARRAY['submission'], ARRAY['\\x00'::bytea], "
            "ARRAY[NULL::bigint])", "42501", "permission denied for function ledger_append")
    refused(db, user, "SELECT ledger_append_submissions(ARRAY['\\x00'::bytea], "
            "ARRAY[1::bigint])", "42501",
            "permission denied for function ledger_append_submissions")
    refused(db, user, "SELECT bevis_redact(1, 'curious')", "42501",
            "permission denied for function bevis_redact")
    refused(db, user, "SELECT nextval('submission_id_seq')", "42501",
            "permission denied for sequence submission_id_seq")
    out = run_bevis(db, "--db", conninfo_as(db, user), "redact", "--submission", "1",
                    "--reason", "curious")
    eq(out.returncode, 1, "bevis redact as auditor")
    check(b"permission denied for function bevis_redact" in out.stderr, out.stderr)
    eq(db.count("redaction"), 0, "no redaction")
    check_ledger(db)


def test_triggers_refuse_even_a_superuser(cluster):
    db = cluster.new_database()
    d = Daemon(db)
    try:
        subs = populate(db, d)
    finally:
        eq(d.stop(), 0, "bevisd exit code")
    # Within the transaction of a redaction, the function's permission
    # is already gone once it returns.
    refused(db, "postgres", f"BEGIN; SELECT bevis_redact({subs[2]}, 'test data'); "
            f"UPDATE event SET message = NULL WHERE submission_id = {subs[2]}", "42501",
            "bevis: event is append-only: UPDATE refused")
    eq(db.count("redaction"), 0, "rolled back")
    db.value(f"SELECT bevis_redact({subs[2]}, 'test data')")
    n = int(db.value("SELECT count(*) FROM ledger_leaf"))
    db.sql(f"INSERT INTO tree_head (tree_size, root, checkpoint) "
           f"VALUES ({n}, ledger_root({n}), 'test') ON CONFLICT DO NOTHING")
    before = {t: db.sql(f"SELECT md5(string_agg(x::text, ',' ORDER BY x::text)), "
                        f"count(*) FROM {t} x") for t in EVIDENCE}
    for t in EVIDENCE:
        check(int(before[t][0][1]) > 0, f"{t} has rows")
        for prefix in ("", "SET session_replication_role = replica; "):
            refused(db, "postgres", f"{prefix}UPDATE {t} SET {UPDATES[t]}", "42501",
                    f"bevis: {t} is append-only: UPDATE refused")
            refused(db, "postgres", f"{prefix}DELETE FROM {t}", "42501",
                    f"bevis: {t} is append-only: DELETE refused")
            refused(db, "postgres", f"{prefix}TRUNCATE {t} CASCADE", "42501",
                    f"bevis: {t} is append-only: TRUNCATE refused")
    # Nulling personal data by hand, even with the redaction setting the
    # function uses, needs a recorded redaction of that very submission.
    for prefix in ("", f"SELECT set_config('bevis.redaction', '{subs[0]}', false); "):
        refused(db, "postgres", f"{prefix}UPDATE submission SET body = NULL "
                f"WHERE id = {subs[0]}", "42501",
                "bevis: submission is append-only: UPDATE refused")
        refused(db, "postgres", f"{prefix}UPDATE event SET message = NULL "
                f"WHERE submission_id = {subs[0]}", "42501",
                "bevis: event is append-only: UPDATE refused")
    # With a redaction on record, still nothing but the personal columns
    # to NULL.
    s = subs[2]
    refused(db, "postgres", f"SELECT set_config('bevis.redaction', '{s}', false); "
            f"UPDATE event SET seq = 7, message = NULL WHERE submission_id = {s}", "42501",
            "bevis: event is append-only: UPDATE refused")
    refused(db, "postgres", f"SELECT set_config('bevis.redaction', '{s}', false); "
            f"UPDATE submission SET body = NULL, item_count = 0 WHERE id = {s}", "42501",
            "bevis: submission is append-only: UPDATE refused")
    refused(db, "postgres", f"SELECT set_config('bevis.redaction', '{s}', false); "
            f"UPDATE event SET message = 'forged' WHERE submission_id = {s}", "42501",
            "bevis: event is append-only: UPDATE refused")
    refused(db, "postgres", f"SELECT set_config('bevis.redaction', '{s}', false); "
            f"DELETE FROM event WHERE submission_id = {s}", "42501",
            "bevis: event is append-only: DELETE refused")
    after = {t: db.sql(f"SELECT md5(string_agg(x::text, ',' ORDER BY x::text)), "
                       f"count(*) FROM {t} x") for t in EVIDENCE}
    eq(after, before, "evidence tables unchanged")
    check_ledger(db)


# ---- redaction ---------------------------------------------------------------

def test_redaction_through_bevis_redact(cluster):
    db = cluster.new_database()
    ingest = login(db, "bevis_ingest")
    d = Daemon(db_as(db, ingest))
    try:
        subs = populate(db, d)
    finally:
        eq(d.stop(), 0, "bevisd exit code")
    target, others = subs[0], subs[1:]
    isam = login(db, "bevis_isam")
    leaves_before = int(db.value("SELECT count(*) FROM ledger_leaf"))
    kept_before = db.sql(f"SELECT {KEPT_COLUMNS} FROM event ORDER BY 1, 2")
    full_before = db.sql(f"SELECT {EVENT_COLUMNS} FROM event WHERE submission_id <> "
                         f"{target} ORDER BY 1, 2")
    subs_before = db.sql("SELECT id, supplier_id, request_id, content_type, received_at, "
                         "encode(sha256, 'hex'), item_count, md5(body) FROM submission "
                         "ORDER BY id")
    quarantine_before = db.sql("SELECT * FROM quarantine ORDER BY 1, 2")
    check(db.count("event", f"submission_id = {target} AND actor_user IS NOT NULL "
                   f"AND src_ip IS NOT NULL AND target IS NOT NULL AND message IS NOT NULL "
                   f"AND attrs IS NOT NULL") == 5, "target events carry personal data")
    leaf_data = bytes.fromhex(db.value(
        f"SELECT encode(data, 'hex') FROM ledger_leaf WHERE kind = 'submission' "
        f"AND submission_id = {target}"))
    nev, full_digest, redacted_digest = submission_leaf_digests(leaf_data)
    eq(nev, 5, "events in the submission leaf")
    eq(events_digest(db, target), full_digest, "events digest before redaction")

    reason = "GDPR Art. 17 erasure, ärende 2026-0042"
    out = run_bevis(db, "--db", conninfo_as(db, isam), "redact", "--submission",
                    str(target), "--reason", reason)
    eq(out.returncode, 0, "bevis redact: " + out.stderr.decode())
    leaf = leaves_before
    eq(out.stdout.decode(), f"submission {target} redacted by {isam}; ledger leaf {leaf}\n",
       "bevis redact output")

    # The body and the personal columns of that submission's events only.
    subs_after = db.sql("SELECT id, supplier_id, request_id, content_type, received_at, "
                        "encode(sha256, 'hex'), item_count, md5(body) FROM submission "
                        "ORDER BY id")
    for b, a in zip(subs_before, subs_after):
        if int(b[0]) == target:
            eq(a[:7] + [a[7]], b[:7] + [""], "redacted submission: only the body is gone")
        else:
            eq(a, b, f"submission {b[0]} untouched")
    eq(db.count("event", f"submission_id = {target} AND (" +
                " OR ".join(f"{c} IS NOT NULL" for c in PERSONAL) + ")"), 0,
       "personal columns of the redacted events")
    eq(db.sql(f"SELECT {KEPT_COLUMNS} FROM event ORDER BY 1, 2"), kept_before,
       "other event columns unchanged")
    eq(db.sql(f"SELECT {EVENT_COLUMNS} FROM event WHERE submission_id <> {target} "
              f"ORDER BY 1, 2"), full_before, "other submissions' events unchanged")
    eq(db.sql("SELECT * FROM quarantine ORDER BY 1, 2"), quarantine_before,
       "quarantine rows unchanged")
    eq(db.value(f"SELECT count(*) FROM quarantine_item WHERE submission_id = {target} "
                f"AND raw IS NOT NULL"), "0", "quarantined raw items are gone with the body")
    # The submission leaf foresaw exactly this: the rows now hash to its
    # redacted digest.
    eq(events_digest(db, target), redacted_digest, "events digest after redaction")

    # Who, why, when, and the leaf.
    row = db.sql(f"SELECT reason, redacted_by, leaf_idx, "
                 f"(extract(epoch FROM redacted_at) * 1000000)::bigint "
                 f"FROM redaction WHERE submission_id = {target}")
    eq(row[0][:3], [reason, isam, str(leaf)], "redaction row")
    lrow = db.sql(f"SELECT kind, submission_id, encode(data, 'hex') FROM ledger_leaf "
                  f"WHERE idx = {leaf}")[0]
    eq(lrow[:2], ["redaction", str(target)], "redaction leaf")
    got = decode_redaction(bytes.fromhex(lrow[2]))
    eq(got, {"submission": target, "actor": isam, "redacted_us": int(row[0][3]),
             "reason": reason}, "decoded redaction leaf")
    rows = check_ledger(db)
    eq(len(rows), leaves_before + 1, "one leaf appended")

    # A second redaction of the same submission is refused, and changes nothing.
    out = run_bevis(db, "--db", conninfo_as(db, isam), "redact", "--submission",
                    str(target), "--reason", "again")
    eq(out.returncode, 1, "second redact exit code")
    check(f"bevis redact: bevis: submission {target} was already redacted by {isam}"
          .encode() in out.stderr, out.stderr)
    # The empty, the blank, the too long reason and an unknown submission.
    for sub, why, msg in [(others[0], "", f"redaction of submission {others[0]} needs a reason"),
                          (others[0], " \t ", f"redaction of submission {others[0]} needs a reason"),
                          (others[0], "é" * 1001,
                           "redaction reason is 1001 characters long; at most 1000"),
                          (999999, "gone", "submission 999999 does not exist")]:
        out = run_bevis(db, "--db", conninfo_as(db, isam), "redact", "--submission",
                        str(sub), "--reason", why)
        eq(out.returncode, 1, f"redact {sub} {why!r} exit code")
        check(f"bevis redact: bevis: {msg}".encode() in out.stderr, out.stderr)
    out = run_bevis(db, "--db", conninfo_as(db, isam), "redact", "--submission", "x",
                    "--reason", "r")
    eq(out.returncode, 2, "bad submission id is a usage error")
    out = run_bevis(db, "--db", conninfo_as(db, isam), "redact", "--submission", "1")
    eq(out.returncode, 2, "missing reason is a usage error")
    # The ISAM may redact but not write by hand.
    refused(db, isam, f"UPDATE submission SET body = NULL WHERE id = {others[0]}", "42501",
            "permission denied for table submission")
    refused(db, isam, f"DELETE FROM redaction", "42501",
            "permission denied for table redaction")
    refused(db, isam, "SELECT ledger_append(ARRAY['redaction'], ARRAY['\\x00'::bytea], "
            "ARRAY[1::bigint])", "42501", "permission denied for function ledger_append")
    # A superuser's UPDATE that nulls a body without the function is refused.
    refused(db, "postgres", f"UPDATE submission SET body = NULL WHERE id = {others[0]}",
            "42501", "bevis: submission is append-only: UPDATE refused")

    eq(db.count("redaction"), 1, "one redaction on record")
    eq(db.count("submission", "body IS NULL"), 1, "one body erased")
    rows = check_ledger(db)
    eq(len(rows), leaves_before + 1, "no leaf from the refused redactions")
    eq([r[1] for r in rows].count("redaction"), 1, "redaction leaves")
    # The ISAM's redaction did not need bevisd, and bevisd keeps appending
    # after it: the tree stays gapless.
    d = Daemon(db_as(db, ingest))
    try:
        rep = Client(d.endpoint).events(ndjson([event(i, prefix="after")
                                                for i in range(10)]))
        eq(rep["accepted"], 10, "accepted after the redaction")
    finally:
        eq(d.stop(), 0, "bevisd exit code")
    rows = check_ledger(db)
    eq(len(rows), leaves_before + 2, "leaves after the next submission")


# ---- the development setup (issue 10, item 9) --------------------------------

def test_the_dev_setup_hands_out_no_superuser(cluster):
    """`make run`'s cluster (tests/pgctl.sh ... dev, tests/devsetup.sh): only
    the owner reaches the superuser; bevisd (as nobody under root) reaches
    the socket and logs in as the ingest login `bevisd`; the README's
    commands work as the ISAM login `isam` that var/env.sh names."""
    import shutil
    import stat
    import tempfile
    import time
    from bevistest import BEVIS, BEVISD, Client, free_port
    var = tempfile.mkdtemp(prefix="bevis-dev-")
    os.chmod(var, 0o755)
    pg = os.path.join(var, "pg")
    port = free_port()
    env = dict(os.environ, PGBIN=PGBIN)
    root = os.getuid() == 0
    subprocess.run(["sh", os.path.join(ROOT, "tests/pgctl.sh"), "start", pg, str(port),
                    "dev"], check=True, env=env, stdout=subprocess.DEVNULL)
    d = None
    try:
        run = os.path.join(pg, "run")
        st = os.stat(run)
        if root:
            eq(oct(stat.S_IMODE(st.st_mode)), "0o750", "socket directory mode (root)")
            eq(st.st_gid, pwd.getpwnam("nobody").pw_gid, "socket directory group")
        else:
            eq(oct(stat.S_IMODE(st.st_mode)), "0o700", "socket directory mode")
            eq(oct(stat.S_IMODE(os.stat(pg).st_mode)), "0o700", "cluster directory mode")
        out = subprocess.run(["sh", os.path.join(ROOT, "tests/devsetup.sh"),
                              os.path.dirname(BEVIS), var, str(port)],
                             capture_output=True, text=True, env=env)
        eq(out.returncode, 0, "devsetup: " + out.stdout + out.stderr)
        envsh = open(os.path.join(var, "env.sh")).read()
        check("PGUSER=isam" in envsh, envsh)
        conf = os.path.join(var, "bevisd.conf")
        text = open(conf).read()
        check(f"db = host={run} port={port} dbname=bevis user=bevisd\n" in text, text)
        ep = f"tcp://127.0.0.1:{free_port()}"
        text = text.replace("tcp://127.0.0.1:7341", ep).replace(
            "127.0.0.1:9741", f"127.0.0.1:{free_port()}")
        with open(conf, "w") as f:
            f.write(text)

        def psql(user, sql, as_os=None):
            cmd = [os.path.join(PGBIN, "psql"), "-X", "-At", "-h", run, "-p", str(port),
                   "-U", user, "-d", "bevis", "-c", sql]
            if as_os:
                cmd = ["runuser", "-u", as_os, "--"] + cmd
            return subprocess.run(cmd, capture_output=True, text=True)

        # The logins are members of their group roles and nothing more.
        eq(psql("postgres", "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, "
                "(SELECT string_agg(b.rolname, ',') FROM pg_auth_members m JOIN pg_roles b "
                "ON b.oid = m.roleid WHERE m.member = r.oid) FROM pg_roles r "
                "WHERE rolname IN ('bevisd', 'isam', 'auditor') ORDER BY 1").stdout,
           "auditor|f|f|f|bevis_auditor\nbevisd|f|f|f|bevis_ingest\nisam|f|f|f|bevis_isam\n",
           "the development logins")
        if root:
            # nobody (bevisd's user) reaches the socket, but only as bevisd.
            out = psql("postgres", "SELECT 1", as_os="nobody")
            check('Peer authentication failed for user "postgres"' in out.stderr, out.stderr)
            out = psql("isam", "SELECT 1", as_os="nobody")
            check('Peer authentication failed for user "isam"' in out.stderr, out.stderr)
            eq(psql("bevisd", "SELECT current_user", as_os="nobody").stdout, "bevisd\n",
               "nobody logs in as bevisd")
            # Any other local user does not even reach the socket.
            out = psql("bevisd", "SELECT 1", as_os="daemon")
            check("Permission denied" in out.stderr, out.stderr)
        out = psql("isam", "COPY (SELECT 1) TO PROGRAM 'id'")
        check("must be superuser or have privileges of the pg_execute_server_program role" in out.stderr,
              out.stderr)

        d = subprocess.Popen([BEVISD, "-f", "-c", conf], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        shell = dict(os.environ, BEVIS_CONFIG=conf, PGHOST=run, PGPORT=str(port),
                     PGDATABASE="bevis", PGUSER="isam")

        def bevis(*args):
            return subprocess.run([BEVIS, *args], capture_output=True, text=True, env=shell)

        deadline = time.time() + 15
        while bevis("ping", "--timeout", "0.5").returncode != 0:
            check(time.time() < deadline, "bevis ping never answered")
        sample = os.path.join(ROOT, "docs", "examples", "events.ndjson")
        out = bevis("send", sample)
        check("5 accepted, 0 duplicate, 1 quarantined" in out.stdout, out.stdout + out.stderr)
        out = bevis("events", "--since", "2026-10-01")
        eq((out.returncode, out.stderr), (0, "5 events\n"), "bevis events as isam")
        eq(psql("postgres", "SELECT DISTINCT usename, (SELECT rolsuper FROM pg_roles "
                "WHERE rolname = usename) FROM pg_stat_activity "
                "WHERE application_name = 'bevisd'").stdout, "bevisd|f\n",
           "bevisd's sessions")
        keys = os.path.join(var, "more")
        eq(bevis("keygen", "--curve", keys, "--name", "skolplattform").returncode, 0, "keygen")
        out = bevis("supplier", "add", "skolplattform", "--key-file",
                    os.path.join(keys, "skolplattform.pub"))
        eq(out.returncode, 0, "supplier add as isam: " + out.stderr)
        check("added by isam" in out.stdout, out.stdout)
        out = bevis("redact", "--submission", "1", "--reason", "dev setup test")
        eq((out.returncode, out.stdout), (0, "submission 1 redacted by isam; ledger leaf 4\n"),
           "redact as isam: " + out.stderr)
        out = bevis("verify")
        eq(out.returncode, 0, "verify as isam: " + out.stderr)
        shell["PGUSER"] = "auditor"
        out = bevis("verify")
        eq(out.returncode, 0, "verify as auditor: " + out.stderr)
        out = bevis("redact", "--submission", "1", "--reason", "not mine")
        check(out.returncode != 0 and "permission denied" in out.stderr, out.stderr)
    finally:
        if d:
            d.terminate()
            d.wait(30)
        subprocess.run(["sh", os.path.join(ROOT, "tests/pgctl.sh"), "stop", pg, str(port)],
                       env=env)
        shutil.rmtree(var, ignore_errors=True)
