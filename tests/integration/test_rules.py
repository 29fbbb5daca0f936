"""Issue 13, rules over events: rules added by an ISAM with bevis rule, a
real bevisd (logged in as an ingest login) that evaluates committed events
in a thread of its own, the incidents and links that come out, a resend
that opens nothing, /metrics, bevis verify over the rule leaves, and a
SIGKILL in the middle of evaluation."""
import json
import tempfile
import time
import urllib.request

from bevistest import Client, Daemon, check, eq, event, free_port, ndjson, wait_for
from test_incidents import bevis, ok, year
from test_ledger import keygen, verify
from test_roles import db_as, login


def caught_up(db):
    """True when every committed submission leaf has been evaluated."""
    return db.value("SELECT NOT EXISTS (SELECT 1 FROM ledger_leaf WHERE kind = "
                    "'submission' AND idx > (SELECT leaf_idx FROM rule_position))") == "t"


def metric(port, name):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def failed_login(i, user, minute, second=0, **extra):
    fields = dict(time=f"2026-10-05T10:{minute:02d}:{second:02d}Z",
                  category="authentication", action="login", outcome="failure",
                  actor={"user": user})
    fields.update(extra)
    return event(i, prefix="login", **fields)


def links(db, ref):
    return [r[0] for r in db.sql(
        "SELECT e.source_event_id FROM incident_link_current l JOIN incident i "
        "ON i.id = l.incident_id JOIN event e ON e.submission_id = l.event_submission_id "
        f"AND e.item_no = l.event_item_no WHERE i.ref = '{ref}' ORDER BY l.id")]


def test_a_plain_rule_and_a_threshold_rule_open_incidents(cluster):
    key, pub = keygen(tempfile.mkdtemp(prefix="bevis-key-"))
    db = cluster.new_database()
    isam = login(db, "bevis_isam")
    ingest = login(db, "bevis_ingest")
    y = year(db)
    eq(ok(db, isam, "rule", "add", "brute-force", "--category", "authentication",
          "--outcome", "failure", "--group-by", "actor.user", "--count", "10",
          "--within", "5m", "--title", "Misslyckade inloggningar"),
       f"rule brute-force: version 1 (enabled) by {isam}; ledger leaf 0\n", "add brute-force")
    eq(ok(db, isam, "rule", "add", "pupil-export", "--supplier", "demo", "--action",
          "export", "--personal-data", "yes", "--attr", "/export/format=csv",
          "--title", "Export av elevregister"),
       f"rule pupil-export: version 1 (enabled) by {isam}; ledger leaf 1\n",
       "add pupil-export")
    port = free_port()
    d = Daemon(db_as(db, ingest), ledger_key=key, checkpoint_interval=1,
               http_listen=f"127.0.0.1:{port}")
    try:
        c = Client(d.endpoint)
        # 12 failed logins for alice within 4 minutes, 9 for bob (below
        # the threshold), 3 successful ones for alice.
        evs = [failed_login(i, "alice", i // 3, (i % 3) * 20) for i in range(12)]
        evs += [failed_login(100 + i, "bob", i // 3) for i in range(9)]
        evs += [failed_login(200 + i, "alice", 1, outcome="success") for i in range(3)]
        eq(c.events(ndjson(evs))["accepted"], 24, "logins accepted")
        # A bulk export of pupil records as CSV matches; as PDF, or without
        # personal data, it does not.
        exp = dict(category="data_access", action="export", personal_data=True,
                   time="2026-10-05T11:00:00Z")
        exports = [event(1, prefix="exp", export={"format": "csv", "rows": 1200}, **exp),
                   event(2, prefix="exp", export={"format": "pdf", "rows": 1200}, **exp),
                   event(3, prefix="exp", export={"format": "csv", "rows": 3},
                         **dict(exp, personal_data=False))]
        eq(c.events(ndjson(exports))["accepted"], 3, "exports accepted")
        wait_for(lambda: caught_up(db), 20, "the rules to catch up")

        a, b = f"INC-{y}-0001", f"INC-{y}-0002"
        eq(db.sql("SELECT ref, title, status, opened_by FROM incident ORDER BY id"),
           [[a, "Misslyckade inloggningar (actor.user alice)", "new", ingest],
            [b, "Export av elevregister", "new", ingest]], "incidents")
        eq(links(db, a), [f"login-{i:07d}" for i in range(12)], "alice's failures linked")
        eq(links(db, b), ["exp-0000001"], "the CSV export linked")
        # Ten events open it (one rule_match, ten links); the 11th and 12th
        # each join it with a rule_match and a link.
        eq(db.sql(f"SELECT d.kind, d.after -> 'rule_match' ->> 'events', d.rationale "
                  f"FROM decision d JOIN incident i ON i.id = d.incident_id "
                  f"WHERE i.ref = '{a}' AND d.kind <> 'link' ORDER BY d.seq"),
           [["open", "", "rule brute-force version 1"],
            ["rule_match", "10", "rule brute-force version 1"],
            ["rule_match", "1", "rule brute-force version 1"],
            ["rule_match", "1", "rule brute-force version 1"]], "decisions of the threshold")
        eq(db.count("decision d JOIN incident i ON i.id = d.incident_id",
                    f"i.ref = '{a}' AND d.kind = 'link'"), 12, "link decisions")
        eq(db.sql(f"SELECT seq, kind, after -> 'rule_match' ->> 'rule', "
                  f"after -> 'rule_match' ->> 'version', actor FROM decision d "
                  f"JOIN incident i ON i.id = d.incident_id WHERE i.ref = '{b}' ORDER BY seq"),
           [["1", "open", "", "", ingest],
            ["2", "rule_match", "pupil-export", "1", ingest],
            ["3", "link", "", "", ingest]], "decisions of the plain rule")
        eq(db.sql("SELECT i.ref, r.name, r.version, ri.grp FROM rule_incident ri "
                  "JOIN incident i ON i.id = ri.incident_id JOIN rule r ON r.id = ri.rule_id "
                  "ORDER BY i.id"),
           [[a, "brute-force", "1", "alice"], [b, "pupil-export", "1", ""]],
           "which rule, in which version")
        eq(db.count("rule_hit", "grp = 'bob'"), 9, "bob's failures counted")
        eq(db.count("rule_hit", "grp = 'bob' AND incident_id IS NOT NULL"), 0,
           "bob has no incident")
        eq(db.value("SELECT events FROM rule_position"), "27", "events evaluated")

        # Resent (a new request id, the same events): duplicates, no new incident.
        rep = c.events(ndjson(exports + evs[:12]))
        eq((rep["accepted"], rep["duplicate"]), (0, 15), "resend")
        wait_for(lambda: caught_up(db), 20, "the rules to catch up")
        eq(db.count("incident"), 2, "incidents after the resend")

        # The lag is back to zero, and /metrics says so.
        wait_for(lambda: metric(port, "bevis_rules_lag_events") == 0, 10, "lag 0")
        eq(metric(port, 'bevis_rules_incidents_total{action="opened"}'), 2, "opened")
        eq(metric(port, 'bevis_rules_incidents_total{action="joined"}'), 2, "joined")
        eq(metric(port, "bevis_rules_matches_total"), 22, "matches")
        check(metric(port, "bevis_rules_lag_seconds") < 5, "lag seconds")

        # A disabled rule opens nothing more.
        eq(ok(db, isam, "rule", "disable", "pupil-export").split(";")[0],
           f"rule pupil-export: version 2 (disabled) by {isam}", "disable")
        eq(c.events(ndjson([event(9, prefix="exp", export={"format": "csv"}, **exp)]))
           ["accepted"], 1, "another export")
        wait_for(lambda: caught_up(db), 20, "the rules to catch up")
        eq(db.count("incident"), 2, "incidents after disable")

        out = ok(db, isam, "rule", "list", "--json")
        rows = [json.loads(line) for line in out.splitlines()]
        eq([(r["name"], r["version"], r["enabled"], r["incidents"]) for r in rows],
           [("brute-force", 1, True, 1), ("pupil-export", 2, False, 1)], "rule list")
        eq(rows[0]["spec"], {"category": "authentication", "outcome": "failure",
                             "group_by": "actor.user", "count": 10, "window_s": 300,
                             "title": "Misslyckade inloggningar"}, "canonical spec")
        table = ok(db, isam, "rule", "list")
        check("brute-force   1        enabled   category=authentication outcome=failure"
              in table, table)
        check("10 per actor.user within 5m" in table, table)
        c.close()
    finally:
        eq(d.stop(), 0, "bevisd exit code")
    rc, out, err = verify(db, pub)
    eq((rc, err), (0, ""), "verify: " + out)
    # A rule leaf changed behind the functions' back is named.
    db.sql("ALTER TABLE rule DISABLE TRIGGER ALL; "
           "UPDATE rule SET actor = 'mallory' WHERE name = 'brute-force'")
    rc, out, err = verify(db, pub)
    eq(rc, 1, "verify after tampering")
    check("leaf 0 (rule brute-force version 1): the actor differs from its rule row"
          in err, err)


def test_rule_add_refuses_bad_input_precisely(cluster):
    db = cluster.new_database()
    isam = login(db, "bevis_isam")
    auditor = login(db, "bevis_auditor")
    cases = [
        (["X", "--category", "a"], "'X' is not a rule name"),
        (["r"], "a rule must match on something"),
        (["r", "--severity-min", "7"], "severity_min must be 0 to 6, not 7"),
        (["r", "--personal-data", "kanske"], "personal_data must be yes or no, not kanske"),
        (["r", "--attr", "export/format=csv"],
         "attribute match export/format=csv is not POINTER=VALUE"),
        (["r", "--attr", "/a~2b=1"], "attribute match /a~2b=1 is not POINTER=VALUE"),
        (["r", "--supplier", "nobody"], "no supplier nobody"),
        (["r", "--category", "a", "--group-by", "actor.email", "--within", "5m"],
         "group_by must be one of actor.user, src.ip, target, not actor.email"),
        (["r", "--category", "a", "--count", "10"], "a count above 1 needs group_by"),
        (["r", "--category", "a", "--group-by", "src.ip"], "group_by needs within"),
        (["r", "--category", "a", "--group-by", "src.ip", "--within", "5 minutes"],
         "within must be a number and s, m, h or d (such as 5m), not 5 minutes"),
        (["r", "--category", "a", "--group-by", "src.ip", "--within", "40d"],
         "within must be from 1 second to 31 days, not 40d"),
        (["r", "--category", "a", "--count", "0"],
         "count must be a whole number from 1 to 999999, not 0"),
    ]
    for args, message in cases:
        rc, out, err = bevis(db, isam, "rule", "add", *args)
        eq((rc, out), (1, ""), f"rule add {args}: {err}")
        eq(err.splitlines()[0].startswith("bevis rule add: " + message), True,
           f"rule add {args}: {err}")
    eq((db.count("rule"), db.count("ledger_leaf")), (0, 0), "nothing stored")
    rc, _out, err = bevis(db, auditor, "rule", "add", "r", "--category", "a")
    eq(rc, 1, "auditor may not add")
    check("permission denied" in err, err)
    rc, _out, err = bevis(db, isam, "rule", "disable", "r")
    eq((rc, err), (1, "bevis rule disable: no rule r\n  hint: bevis rule list shows "
                      "the rules.\n"), "disable unknown")
    ok(db, isam, "rule", "add", "r", "--category", "a")
    rc, _out, err = bevis(db, isam, "rule", "add", "r", "--category", "a")
    eq((rc, err), (1, "bevis rule add: rule r version 1 already says this\n"), "same again")
    eq(ok(db, auditor, "rule", "list", "--json").count("\n"), 1, "auditor reads")


def test_sigkill_during_evaluation_opens_each_incident_once(cluster):
    db = cluster.new_database()
    isam = login(db, "bevis_isam")
    ok(db, isam, "rule", "add", "every-failure", "--outcome", "failure")
    n = 400
    d = Daemon(db)
    killed_at = None
    try:
        c = Client(d.endpoint)
        # Requests of 10: the evaluator takes up to 16 submissions a
        # transaction, so the 400 incidents take three transactions.
        for k in range(0, n, 10):
            eq(c.events(ndjson([failed_login(k + i, f"u{k + i}", 1)
                                for i in range(10)]))["accepted"], 10, "send")
        # Kill it while it is opening incidents.
        opened = wait_for(lambda: int(db.value("SELECT count(*) FROM incident")) or None,
                          30, "the first incidents")
        d.kill()
        killed_at = int(db.value("SELECT count(*) FROM incident"))
        check(killed_at < n, f"killed after all {n} incidents: test too slow to bite")
        print(f"  rules: SIGKILL after {opened}..{killed_at} of {n} incidents")
        d.restart()
        wait_for(lambda: caught_up(db), 120, "the rules to catch up after the crash")
    finally:
        if d.running():
            eq(d.stop(), 0, "bevisd exit code")
    eq(db.count("incident"), n, "one incident per failed login")
    eq(db.value("SELECT count(*) FROM (SELECT l.event_submission_id, l.event_item_no "
                "FROM incident_link l GROUP BY 1, 2 HAVING count(*) <> 1) x"), "0",
       "each event linked exactly once")
    eq(db.count("decision", "kind = 'rule_match'"), n, "rule_match decisions")
    eq(db.value("SELECT events FROM rule_position"), str(n), "events evaluated once")


def metrics_text(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def position(db):
    return int(db.value("SELECT leaf_idx FROM rule_position"))


def test_rules_off_no_evaluator_and_a_warning(cluster):
    """rules = off: no evaluator thread, /metrics says so, the position never
    moves, and bevis rule add (reading the same config) stores the rule and
    warns."""
    db = cluster.new_database()
    isam = login(db, "bevis_isam")
    port = free_port()
    d = Daemon(db, rules="off", http_listen=f"127.0.0.1:{port}")
    try:
        c = Client(d.endpoint)
        eq(c.events(ndjson([failed_login(i, "eve", 1) for i in range(5)]))["accepted"], 5,
           "sent")
        text = metrics_text(port)
        check("\nbevis_rules_enabled 0\n" in text, text)
        check("bevis_rules_position" not in text and "bevis_rules_lag" not in text, text)
        check("rules: off (rules = off in the configuration): this bevisd evaluates no rules"
              in d.logtext(), d.logtext())
        rc, out, err = bevis(db, isam, "rule", "add", "failures", "--outcome", "failure",
                             config=d.conf)
        eq((rc, out, err),
           (0, f"rule failures: version 1 (enabled) by {isam}; ledger leaf 1\n",
            f"bevis rule add: warning: {d.conf} says rules = off: the bevisd that reads it "
            "evaluates no rules; a bevisd with rules = on will apply this one to the events "
            "committed from now on\n"), "rule add with rules = off")
        # Without a config that says off there is no warning.
        rc, out, err = bevis(db, isam, "rule", "add", "exports", "--action", "export")
        eq((rc, err), (0, ""), "rule add without that config")
        eq(c.events(ndjson([failed_login(10 + i, "eve", 2) for i in range(3)]))["accepted"], 3,
           "sent after the rule")
        time.sleep(1.5)
        eq((position(db), db.count("incident")), (-1, 0), "nothing evaluated")
        c.close()
    finally:
        eq(d.stop(), 0, "bevisd exit code")


def test_an_evaluator_without_rules_sleeps_until_one_is_added(cluster):
    """rules = on and no rule enabled: the evaluator does nothing per batch
    (the position stays put across commits and follows the ledger at the
    next idle step, within 5 s); a rule added wakes it at once (NOTIFY
    bevis_rules), and it applies to the events committed after the rule,
    not to those before; disabling the last rule puts it to sleep again."""
    db = cluster.new_database()
    isam = login(db, "bevis_isam")
    port = free_port()
    d = Daemon(db, http_listen=f"127.0.0.1:{port}")
    try:
        c = Client(d.endpoint)
        # Its first step (the ledger is empty) may come after bevisd is ready.
        wait_for(lambda: "\nbevis_rules_active 0\n" in metrics_text(port), 10,
                 "the evaluator's first step")
        t0 = time.monotonic()
        for k in range(5):
            eq(c.events(ndjson([failed_login(k * 10 + i, f"u{k}", 1) for i in range(10)]))
               ["accepted"], 10, "sent with no rule")
        if time.monotonic() - t0 < 3:
            # Five commits, no step: the evaluator sleeps on bevis_rules.
            eq(metric(port, "bevis_rules_position"), -1, "asleep across commits")
        wait_for(lambda: position(db) == 4, 10, "the idle step to pass the 5 leaves")
        eq((metric(port, "bevis_rules_enabled"), metric(port, "bevis_rules_active"),
            metric(port, "bevis_rules_lag_events"), metric(port, "bevis_rules_events_total")),
           (1, 0, 0, 0), "/metrics while asleep")
        eq(db.value("SELECT events FROM rule_position"), "0", "no event evaluated")
        check("rules: no rule is enabled; the evaluator sleeps until one is" in d.logtext(),
              d.logtext())
        t1 = time.monotonic()
        ok(db, isam, "rule", "add", "failures", "--outcome", "failure")
        wait_for(lambda: metric(port, "bevis_rules_active") == 1, 3, "a wake-up by the rule")
        print(f"  rules: awake {time.monotonic() - t1:.2f} s after rule add")
        eq(c.events(ndjson([failed_login(100 + i, "late", 2) for i in range(2)]))["accepted"],
           2, "sent after the rule")
        wait_for(lambda: caught_up(db) and db.count("incident") == 2, 10, "two incidents")
        eq(sorted(r[0] for r in db.sql(
            "SELECT e.source_event_id FROM incident_link_current l JOIN event e ON "
            "e.submission_id = l.event_submission_id AND e.item_no = l.event_item_no")),
           ["login-0000100", "login-0000101"], "only the events after the rule")
        eq(db.value("SELECT events FROM rule_position"), "2", "events evaluated")
        check("rules: 1 rule(s) enabled; evaluating" in d.logtext(), d.logtext())
        ok(db, isam, "rule", "disable", "failures")
        wait_for(lambda: metric(port, "bevis_rules_active") == 0, 3, "asleep again")
        c.close()
    finally:
        eq(d.stop(), 0, "bevisd exit code")
