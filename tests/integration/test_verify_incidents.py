"""Issue 11, the auditor's half: bevis verify checks every decision against
its ledger leaf, replays each incident's decisions against its row, and the
link decisions against incident_link, and names what was changed behind the
functions' back. Incidents are built through the SQL functions (open with a
link, triage, link and unlink, merge and unmerge, notify) on a ledger that a
real bevisd signs; each tamper runs in a copy of that database of its own."""
import datetime
import json
import os
import subprocess
import tempfile

from bevistest import PGBIN, Client, Daemon, Database, check, eq, event, ndjson
from test_incidents import ledger_size, wait_head
from test_ledger import keygen, verify
from test_roles import login, conninfo_as

# The incident tables' own triggers, and the ledger's notify trigger, are
# what a superuser must switch off to change anything.
TABLES = ["incident", "decision", "incident_link", "ledger_leaf"]


def tamper(db, sql):
    """As a superuser who switches the triggers off (in this copy, for good)."""
    off = "; ".join(f"ALTER TABLE {t} DISABLE TRIGGER ALL" for t in TABLES)
    db.sql(f"{off}; {sql}")


def q(s):
    """A SQL string literal."""
    return "'" + s.replace("'", "''") + "'"


def js(v):
    return q(json.dumps(v))


_BASE = {}


def incidents_db(cluster):
    """The database every test starts from (built once per run), and the
    ledger's public key: 3 submissions and 2 incidents with every kind of
    decision, all of it covered by a signed tree head."""
    if "db" in _BASE:
        return _BASE["db"], _BASE["pub"]
    key, pub = keygen(tempfile.mkdtemp(prefix="bevis-key-"))
    # Aware two days ago, notified 23 hours later, written in Stockholm's
    # winter offset: verify must compare them with the rows as instants.
    cet = datetime.timezone(datetime.timedelta(hours=1))
    aware = (datetime.datetime.now(cet) - datetime.timedelta(days=2)).replace(microsecond=0)
    notified = aware + datetime.timedelta(hours=23)
    db = cluster.new_database()
    d = Daemon(db, ledger_key=key, checkpoint_interval=1)
    try:
        c = Client(d.endpoint)
        for i in range(3):
            eq(c.events(ndjson([event(i * 10 + k) for k in range(1, 4)]))["status"],
               "ok", "send")
        sub = db.value("SELECT min(id) FROM submission")
        a = db.value("SELECT bevis_incident_open(" + js(
            {"title": "Phishing of pupils' accounts", "description": "Mail to class 7b",
             "occurred_at": "2026-10-01T08:00:00+02:00"}) + ", "
            + js([{"event": "demo:ev-0000001"}]) + ")")
        db.value(f"SELECT bevis_incident_decide({q(a)}, " + js(
            {"status": "assessing", "category": "attack", "cause": "external_attack",
             "cia_disclosure": True, "personal_data": "yes",
             "subject_categories": ["pupils", "guardians"],
             "data_categories": ["personal_identity_numbers"], "subjects_count": 31,
             "aware_at": aware.isoformat()}) + ", 'first look: real accounts')")
        db.value(f"SELECT bevis_incident_link({q(a)}, " + js(
            [{"submission": int(sub)}, {"event": "demo:ev-0000012"}]) + ")")
        db.value(f"SELECT bevis_incident_unlink({q(a)}, "
                 + js([{"event": "demo:ev-0000001"}]) + ", 'not the same sender')")
        b = db.value("SELECT bevis_incident_open(" + js({"title": "Same phishing, reported twice"})
                     + ", " + js([{"incident": a}]) + ")")
        db.value(f"SELECT bevis_incident_merge({q(b)}, {q(a)}, 'the same mail')")
        db.value(f"SELECT bevis_incident_unmerge({q(b)}, 'a different campaign after all')")
        db.value(f"SELECT bevis_incident_merge({q(b)}, {q(a)}, 'the same campaign again')")
        db.value(f"SELECT bevis_incident_decide({q(a)}, "
                 + js({"imy": "required", "subjects": "pending"}) + ", 'pupils affected')")
        db.value(f"SELECT bevis_incident_decide({q(a)}, " + js(
            {"imy": "notified", "imy_notified_at": notified.isoformat(),
             "imy_ref": "IMY-2026-4711", "status": "confirmed"}) + ", 'notified in time')")
        wait_head(db, ledger_size(db), 10)
    finally:
        eq(d.stop(), 0, "bevisd exit code")
    _BASE.update(db=db, pub=pub, a=a, b=b)
    return db, pub


def fresh(cluster):
    """A copy of the base database for one test to change."""
    base, pub = incidents_db(cluster)
    cluster.n += 1
    name = f"{base.name}_copy{cluster.n}"
    subprocess.run([os.path.join(PGBIN, "createdb"), "-h", cluster.sock, "-p",
                    str(cluster.port), "-U", "postgres", "-T", base.name, name], check=True)
    return Database(cluster, name), pub


def failing(db, pub):
    rc, out, err = verify(db, pub)
    eq(rc, 1, "verify exit code: " + out + err)
    check(out.startswith("FAILED: "), out)
    return [line.removeprefix("bevis verify: ") for line in err.splitlines()]


def decision_of(db, ref, seq, what="leaf_idx"):
    return db.value(f"SELECT d.{what} FROM decision d JOIN incident i ON i.id = d.incident_id "
                    f"WHERE i.ref = {q(ref)} AND d.seq = {seq}")


def test_verify_replays_untouched_incidents(cluster):
    db, pub = fresh(cluster)
    a, b = _BASE["a"], _BASE["b"]
    eq(db.value("SELECT string_agg(i.ref || ':' || d.seq || ':' || d.kind, ' ' "
                "ORDER BY i.ref, d.seq) FROM decision d JOIN incident i ON i.id = d.incident_id"),
       f"{a}:1:open {a}:2:link {a}:3:triage {a}:4:link {a}:5:link {a}:6:unlink "
       f"{a}:7:merged_from {a}:8:unmerged_from {a}:9:merged_from {a}:10:triage "
       f"{a}:11:triage {b}:1:open {b}:2:link {b}:3:merge {b}:4:unmerge {b}:5:merge",
       "the decisions built")
    rc, out, err = verify(db, pub)
    eq((rc, err), (0, ""), "verify")
    check(out.startswith("verified: 19 leaves (3 submissions, 0 redacted), 9 events, "), out)
    check(", 16 decisions replayed against 2 incidents, in " in out, out)
    eq(len(out.splitlines()), 1, "no protected incidents to skip")


def test_a_changed_rationale_is_named(cluster):
    db, pub = fresh(cluster)
    a = _BASE["a"]
    leaf = decision_of(db, a, 3)
    tamper(db, "UPDATE decision SET rationale = 'nothing to see' WHERE leaf_idx = " + leaf)
    eq(failing(db, pub), [f"decision 3 of {a} (leaf {leaf}): its rationale differs from "
                          "its ledger leaf"], "problems")


def test_a_decision_changed_with_its_incident_is_named(cluster):
    """Changing a decision and the incident row to match still leaves the
    leaf, and who opened it is the open decision's actor."""
    db, pub = fresh(cluster)
    a = _BASE["a"]
    leaf = decision_of(db, a, 3)
    tamper(db, "UPDATE decision SET after = jsonb_set(after, '{subjects_count}', '3') "
               f"WHERE leaf_idx = {leaf}; UPDATE incident SET subjects_count = 3, "
               f"opened_by = 'someone' WHERE ref = {q(a)}")
    eq(failing(db, pub), [f"decision 3 of {a} (leaf {leaf}): its after value differs from "
                          "its ledger leaf",
                          f"incident {a}: its opened_by is someone, but its open decision's "
                          "actor is postgres"], "problems")


def test_a_changed_incident_status_is_named(cluster):
    db, pub = fresh(cluster)
    a = _BASE["a"]
    tamper(db, f"UPDATE incident SET status = 'dismissed' WHERE ref = {q(a)}")
    eq(failing(db, pub), [f'incident {a}: its status is "dismissed", but its decisions say '
                          '"confirmed"'], "problems")


def test_a_changed_opening_time_is_named(cluster):
    """The open decision's leaf holds opened_at, so moving it is caught."""
    db, pub = fresh(cluster)
    a = _BASE["a"]
    tamper(db, f"UPDATE incident SET opened_at = opened_at - interval '1 day' WHERE ref = {q(a)}")
    now, was = db.sql("SELECT to_jsonb(opened_at), to_jsonb(opened_at + interval '1 day') "
                      f"FROM incident WHERE ref = {q(a)}")[0]
    eq(failing(db, pub), [f"incident {a}: its opened_at is {now}, but its decisions say {was}"],
       "problems")


def test_a_changed_timestamp_and_array_are_named(cluster):
    """Instants compare as instants, whatever offset the decision's JSON
    has; arrays as arrays."""
    db, pub = fresh(cluster)
    a = _BASE["a"]
    tamper(db, "UPDATE incident SET aware_at = aware_at + interval '1 second', "
               "subject_categories = '{pupils}' WHERE ref = " + q(a))
    now, was = db.sql("SELECT to_jsonb(aware_at), to_jsonb(aware_at - interval '1 second') "
                      f"FROM incident WHERE ref = {q(a)}")[0]
    lines = failing(db, pub)
    eq(len(lines), 2, "problems: " + repr(lines))
    eq(lines[0], f"incident {a}: its aware_at is {now}, but its decisions say {was}",
       "the instant")
    eq(lines[1], f'incident {a}: its subject_categories is ["pupils"], but its decisions '
                 'say ["pupils", "guardians"]', "the array")


def test_a_changed_link_target_is_named(cluster):
    db, pub = fresh(cluster)
    a = _BASE["a"]
    subs = db.sql("SELECT id FROM submission ORDER BY id")
    link = db.value("SELECT l.id FROM incident_link l JOIN incident i ON i.id = l.incident_id "
                    f"WHERE i.ref = {q(a)} AND l.target_kind = 'submission'")
    tamper(db, f"UPDATE incident_link SET submission_id = {subs[2][0]} WHERE id = {link}")
    eq(failing(db, pub), [
        f"link row {link} of {a} (link submission {subs[2][0]}): its decision 4 names "
        f"submission {subs[0][0]}",
        f"incident {a}: its decisions link submission {subs[0][0]} (decision 4), but no "
        "such link is in force",
        f"incident {a}: link row {link} to submission {subs[2][0]} is in force, but its "
        "decisions do not link it"], "problems")


def test_a_deleted_decision_is_a_gap(cluster):
    db, pub = fresh(cluster)
    a = _BASE["a"]
    leaf = decision_of(db, a, 10)
    tamper(db, f"DELETE FROM decision WHERE leaf_idx = {leaf}")
    eq(failing(db, pub), [
        f"leaf {leaf}: decision 10 of {a} has no decision row",
        f"incident {a}: decision 10 is missing (it has 10 decisions, up to 11)",
        f"incident {a}: its version is 11, but it has 10 decisions",
        f'incident {a}: its subjects is "pending", but its decisions say "not_assessed"'],
       "problems")


def test_a_forged_decision_without_a_leaf(cluster):
    db, pub = fresh(cluster)
    a = _BASE["a"]
    size = ledger_size(db)
    tamper(db, "INSERT INTO decision (incident_id, seq, kind, before, after, rationale, "
               "salt, actor, at, leaf_idx) SELECT id, 12, 'triage', "
               "'{\"status\": \"confirmed\"}', '{\"status\": \"closed\"}', 'closed quietly', "
               "'\\x000102030405060708090a0b0c0d0e0f', 'mallory', now(), 1000 "
               f"FROM incident WHERE ref = {q(a)}; "
               f"UPDATE incident SET status = 'closed', version = 12 WHERE ref = {q(a)}")
    eq(failing(db, pub), [f"decision 12 of {a} (leaf 1000): there is no decision leaf at 1000"],
       "problems")
    # A forger who uses a leaf that exists, but is not a decision, fares
    # no better.
    tamper(db, f"UPDATE decision SET leaf_idx = {size - 19} WHERE leaf_idx = 1000")
    eq(failing(db, pub), [f"decision 12 of {a} (leaf {size - 19}): there is no decision "
                          f"leaf at {size - 19}"], "problems")
    # A field that no incident has is named too.
    tamper(db, "UPDATE decision SET after = after || '{\"colour\": \"red\"}' "
               "WHERE leaf_idx = " + str(size - 19))
    eq(failing(db, pub), [f"decision 12 of {a} (leaf {size - 19}): there is no decision "
                          f"leaf at {size - 19}",
                          f"incident {a}: its decisions set colour, which is not a field of "
                          "an incident"], "problems")


def test_a_forged_value_that_does_not_convert(cluster):
    """The replay fails in SQL on a value of the wrong type: one problem,
    and the checks after it still run."""
    db, pub = fresh(cluster)
    a = _BASE["a"]
    leaf = decision_of(db, a, 3)
    link = db.value("SELECT l.id FROM incident_link l JOIN incident i ON i.id = l.incident_id "
                    f"WHERE i.ref = {q(a)} AND l.action = 'unlink'")
    tamper(db, "UPDATE decision SET after = jsonb_set(after, '{subjects_count}', '\"many\"') "
               f"WHERE leaf_idx = {leaf}; UPDATE incident_link SET action = 'link' "
               f"WHERE id = {link}")
    eq(failing(db, pub), [
        f"decision 3 of {a} (leaf {leaf}): its after value differs from its ledger leaf",
        'incidents: the decisions cannot be replayed: ERROR:  invalid input syntax for type '
        'integer: "many"',
        f"link row {link} of {a} (link event (submission 1, item 0)): its decision 6 is "
        "of kind unlink",
        f"incident {a}: link row {link} to event (submission 1, item 0) is in force, but its "
        "decisions do not link it",
        f"incident {a}: link row 1 to event (submission 1, item 0) is in force, but its "
        "decisions do not link it"],
       "problems")


def test_protected_incidents_are_counted_not_failed(cluster):
    """Row-level security hides a protected incident from an auditor outside
    bevis_protected: verify says how many decision leaves it could not
    check, and passes on the rest; a member checks them all."""
    db, pub = fresh(cluster)
    a = _BASE["a"]
    db.value(f"SELECT bevis_incident_decide({q(a)}, '{{\"protected_identity\": true}}', "
             "'a pupil with protected identity')")
    auditor = login(db, "bevis_auditor")
    rc, out, err = verify_as(db, pub, auditor)
    eq((rc, err), (0, ""), "verify as an auditor")
    check(", 5 decisions replayed against 1 incident, in " in out, out)
    eq(out.splitlines()[1], "not checked: 12 decision leaves of 1 protected incident "
       "(only a member of bevis_protected can read them)", "the note")
    db.sql(f'GRANT bevis_protected TO "{auditor}"')
    rc, out, err = verify_as(db, pub, auditor)
    eq((rc, err), (0, ""), "verify as a member of bevis_protected")
    check(", 17 decisions replayed against 2 incidents, in " in out, out)
    eq(len(out.splitlines()), 1, "nothing left unchecked")
    # A change to the protected incident is still caught by those who may
    # read it.
    tamper(db, f"UPDATE incident SET title = 'Something else' WHERE ref = {q(a)}")
    rc, out, err = verify_as(db, pub, auditor)
    eq((rc, err.splitlines()), (1, [f'bevis verify: incident {a}: its title is '
                                    '"Something else", but its decisions say "Phishing of '
                                    'pupils\' accounts"']), "verify after the change")


def verify_as(db, pub, user):
    from bevistest import run_bevis
    out = run_bevis(db, "--db", conninfo_as(db, user), "verify", "--key", pub)
    return out.returncode, out.stdout.decode(), out.stderr.decode()
