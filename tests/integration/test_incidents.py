"""Incidents against a real bevisd: a decision taken with no supplier traffic
is covered by a signed tree head within checkpoint_interval, because every
ledger append NOTIFYs bevis_ledger and bevisd LISTENs."""
import tempfile
import time

from bevistest import Client, Daemon, check, eq, event, ndjson
from test_ledger import keygen


def ledger_size(db):
    return int(db.value("SELECT coalesce(max(idx) + 1, 0) FROM ledger_leaf"))


def head_size(db):
    return int(db.value("SELECT coalesce(max(tree_size), 0) FROM tree_head"))


def wait_head(db, size, seconds):
    t0 = time.time()
    while time.time() - t0 < seconds:
        if head_size(db) >= size:
            return time.time() - t0
        time.sleep(0.05)
    raise AssertionError(f"no signed head covers {size} leaves after {seconds} s "
                         f"(newest: {head_size(db)})")


def test_a_decision_without_traffic_gets_a_signed_head(cluster):
    key, _pub = keygen(tempfile.mkdtemp(prefix="bevis-key-"))
    db = cluster.new_database()
    d = Daemon(db, ledger_key=key, checkpoint_interval=1)
    try:
        eq(Client(d.endpoint).events(ndjson([event(1)]))["status"], "ok", "send")
        wait_head(db, 1, 10)
        # Nothing from suppliers from here on: only decisions.
        ref = db.value("SELECT bevis_incident_open('{\"title\": \"Phishing\"}', "
                       "'[{\"event\": \"demo:ev-0000001\"}]')")
        size = ledger_size(db)
        eq(size, 3, "ledger: a submission, the open decision and the link")
        took = wait_head(db, size, 5)
        print(f"  incidents: head over {size} leaves signed {took:.2f} s after the decision")
        db.value(f"SELECT bevis_incident_decide('{ref}', "
                 "'{\"status\": \"assessing\"}', NULL)")
        wait_head(db, size + 1, 5)
        # A rolled-back decision appends nothing and wakes nothing.
        db.sql(f"BEGIN; SELECT bevis_incident_decide('{ref}', "
               "'{\"status\": \"confirmed\"}', NULL); ROLLBACK")
        eq(ledger_size(db), size + 1, "ledger after a rollback")
    finally:
        eq(d.stop(), 0, "bevisd exit code")


def test_a_restarted_bevisd_signs_what_grew_while_it_was_down(cluster):
    key, _pub = keygen(tempfile.mkdtemp(prefix="bevis-key-"))
    db = cluster.new_database()
    d = Daemon(db, ledger_key=key, checkpoint_interval=1)
    eq(Client(d.endpoint).events(ndjson([event(1)]))["status"], "ok", "send")
    wait_head(db, 1, 10)
    eq(d.stop(), 0, "bevisd exit code")
    db.value("SELECT bevis_incident_open('{\"title\": \"while bevisd was down\"}')")
    check(head_size(db) < ledger_size(db), "the decision is not yet covered")
    d = Daemon(db, ledger_key=key, checkpoint_interval=1)
    try:
        wait_head(db, ledger_size(db), 5)
    finally:
        eq(d.stop(), 0, "bevisd exit code")
