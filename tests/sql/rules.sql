-- rules.sql - pgTAP tests of sql/0012_rules.sql: rule versions and their
-- ledger leaves, session_user as the actor, who may change rules, the
-- checks of a rule, the append-only rule table, JSON Pointers, and the
-- evaluator: what it opens and joins, that it moves its position with what
-- it writes, and that evaluating again finds nothing twice. Run by
-- tests/integration/test_sql.py; one transaction, rolled back.
BEGIN;
SELECT plan(41);

CREATE ROLE tap_r_isam LOGIN IN ROLE bevis_isam;
CREATE ROLE tap_r_auditor LOGIN IN ROLE bevis_auditor;
CREATE ROLE tap_r_ingest LOGIN IN ROLE bevis_ingest;
INSERT INTO supplier (name) VALUES ('skolplattform');

-- ---- security definers -----------------------------------------------------------
SELECT is((SELECT array_agg(proname::text ORDER BY proname) FROM pg_proc
            WHERE proname IN ('bevis_rule_add', 'bevis_rule_disable', 'bevis_rule_write',
                              'bevis_rule_link', 'bevis_rule_open', 'bevis_rules_evaluate',
                              'bevis_rules_lag')
              AND prosecdef AND proconfig = ARRAY['search_path=pg_catalog, public, pg_temp']),
          ARRAY['bevis_rule_add', 'bevis_rule_disable', 'bevis_rule_link', 'bevis_rule_open',
                'bevis_rule_write', 'bevis_rules_evaluate', 'bevis_rules_lag'],
          'the rule functions are security definers with a fixed search_path');

-- ---- JSON Pointers --------------------------------------------------------------
SELECT is(bevis_json_pointer_path('/a~1b/c~0d/0'), ARRAY['a/b', 'c~d', '0'],
          'a JSON Pointer becomes a path, ~1 and ~0 unescaped');
SELECT is(bevis_json_pointer_path('a/b'), NULL, 'a pointer starts with /');
SELECT is(bevis_json_pointer_path('/a~2'), NULL, '~ only as ~0 or ~1');
SELECT ok(bevis_rule_attrs_match('{"export": {"format": "csv", "rows": 1200}}',
                                 '[{"pointer": "/export/format", "value": "csv"},
                                   {"pointer": "/export/rows", "value": "1200"}]'),
          'every attribute must equal its value, by its text');
SELECT ok(NOT bevis_rule_attrs_match('{"export": {"format": "pdf"}}',
                                     '[{"pointer": "/export/format", "value": "csv"}]'),
          'a different value does not match');
SELECT ok(NOT bevis_rule_attrs_match(NULL, '[{"pointer": "/x", "value": "1"}]'),
          'no attributes do not match');

-- ---- adding, versions, leaves ---------------------------------------------------
SET SESSION AUTHORIZATION tap_r_isam;
SELECT is((SELECT version FROM bevis_rule_add('brute', '{"category": "authentication",
           "outcome": "failure", "group_by": "actor.user", "count": "3", "within": "5m"}')),
          1, 'a new rule is version 1');
SELECT is((SELECT spec FROM rule WHERE name = 'brute'),
          '{"category": "authentication", "outcome": "failure", "group_by": "actor.user",
            "count": 3, "window_s": 300}'::jsonb, 'the rule is stored in its canonical form');
SELECT is((SELECT actor FROM rule WHERE name = 'brute'), 'tap_r_isam', 'the actor is session_user');
SELECT is((SELECT l.data FROM ledger_leaf l JOIN rule r ON r.leaf_idx = l.idx WHERE r.name = 'brute'),
          (SELECT bevis_rule_leaf(name, version, enabled, spec, actor, at) FROM rule
            WHERE name = 'brute'), 'each version is a ledger leaf of its own encoding');
SELECT is((SELECT l.kind FROM ledger_leaf l JOIN rule r ON r.leaf_idx = l.idx WHERE r.name = 'brute'),
          'rule', 'of kind rule');
SELECT is(bevis_rule_leaf('brute', 2, true, '{"count": 3, "group_by": "actor.user"}', 'isam',
                          '2026-10-05 12:00:00.5+00'),
          decode('42564c31060005627275746500000002010026'
                 '7b22636f756e74223a20332c202267726f75705f6279223a20226163746f722e75736572227d'
                 '00046973616d00065d169f1e7120', 'hex'),
          'the rule leaf has fixed bytes (docs/LEDGER.md, tests/unit/torture_ledger.c)');
SELECT is((SELECT version FROM bevis_rule_add('brute', '{"category": "authentication",
           "outcome": "failure", "group_by": "actor.user", "count": "2", "within": "5m"}')),
          2, 'a changed rule is its next version');
SELECT throws_ok($$SELECT bevis_rule_add('brute', '{"category": "authentication",
                   "outcome": "failure", "group_by": "actor.user", "count": "2", "within": "5m"}')$$,
                 '23505', 'bevis: rule brute version 2 already says this', 'the same rule again');
SELECT is((SELECT enabled FROM bevis_rule_disable('brute')), false, 'disable writes a version');
SELECT is((SELECT version || '/' || enabled FROM rule_current WHERE name = 'brute'), '3/false',
          'the current version is disabled');
SELECT throws_ok($$SELECT bevis_rule_disable('brute')$$, '55000',
                 'bevis: rule brute is already disabled (version 3)', 'disabling twice');
SELECT throws_ok($$SELECT bevis_rule_disable('nope')$$, 'P0002', 'bevis: no rule nope',
                 'an unknown rule');
SELECT is((SELECT version FROM bevis_rule_add('brute', '{"category": "authentication",
           "outcome": "failure", "group_by": "actor.user", "count": "2", "within": "5m"}')),
          4, 'adding it again enables it');

-- ---- the checks of a rule ----------------------------------------------------------
SELECT throws_ok($$SELECT bevis_rule_add('r', '{}')$$, '22023',
                 'bevis: a rule must match on something: supplier, category, action, outcome, severity_min, personal_data or attrs',
                 'a rule that matches everything is refused');
SELECT throws_ok($$SELECT bevis_rule_add('r', '{"colour": "red"}')$$, '22023',
                 'bevis: colour is not an option of a rule', 'an unknown option');
SELECT throws_ok($$SELECT bevis_rule_add('r', '{"severity_min": "high"}')$$, '22023',
                 'bevis: severity_min must be 0 to 6, not high', 'a bad severity');
SELECT throws_ok($$SELECT bevis_rule_add('r', '{"attrs": ["x=1"]}')$$, '22023',
                 'bevis: attribute match x=1 is not POINTER=VALUE with a JSON Pointer such as /device/os=Windows',
                 'a bad pointer');
SELECT throws_ok($$SELECT bevis_rule_add('r', '{"supplier": "okand"}')$$, '22023',
                 'bevis: no supplier okand', 'an unknown supplier');
SELECT throws_ok($$SELECT bevis_rule_add('r', '{"category": "a", "count": "5"}')$$, '22023',
                 'bevis: a count above 1 needs group_by: the events counted together share its value',
                 'a count without a group');
SELECT throws_ok($$SELECT bevis_rule_add('Bad Name', '{"category": "a"}')$$, '22023',
                 'bevis: ''Bad Name'' is not a rule name', 'a bad name');

-- ---- who may change rules ---------------------------------------------------------
SET SESSION AUTHORIZATION tap_r_auditor;
SELECT throws_ok($$SELECT bevis_rule_add('r', '{"category": "a"}')$$, '42501', NULL,
                 'an auditor may not add rules');
SELECT is((SELECT count(*)::int FROM rule), 4, 'an auditor reads every version');
SET SESSION AUTHORIZATION tap_r_ingest;
SELECT throws_ok($$SELECT bevis_rule_disable('brute')$$, '42501', NULL,
                 'bevisd may not change rules');
RESET SESSION AUTHORIZATION;
SELECT throws_ok($$UPDATE rule SET actor = 'x'$$, NULL, NULL,
                 'the rule table is append-only, for its owner too');

-- ---- evaluation -----------------------------------------------------------------------
SET SESSION AUTHORIZATION tap_r_isam;
SELECT lives_ok($$SELECT bevis_rule_add('big-export', '{"action": "export",
                  "personal_data": "yes", "attrs": ["/export/format=csv"]}')$$,
                'a plain rule');
RESET SESSION AUTHORIZATION;
-- One submission of five events, with its leaf, as bevisd writes them.
INSERT INTO submission (id, supplier_id, request_id, content_type, received_at, sha256,
                        body, item_count)
VALUES (1, (SELECT id FROM supplier WHERE name = 'skolplattform'), 'r1',
        'application/x-ndjson', now(), sha256('x'), 'x', 5);
INSERT INTO event (submission_id, item_no, supplier_id, source_event_id, occurred_at,
                   category, action, outcome, actor_user, personal_data, attrs,
                   raw_offset, raw_length)
SELECT 1, n, (SELECT id FROM supplier WHERE name = 'skolplattform'), 'ev-' || n,
       '2026-10-05 10:00+00'::timestamptz + n * interval '1 minute',
       CASE WHEN n < 3 THEN 'authentication' ELSE 'data_access' END,
       CASE WHEN n < 3 THEN 'login' ELSE 'export' END, 'failure', 'elev.anna',
       n >= 3, CASE WHEN n >= 3 THEN '{"export": {"format": "csv"}}'::json END, 0, 1
  FROM generate_series(0, 4) n;
SELECT ledger_append_submissions(ARRAY['\x42564c3101'::bytea || int8send(1)], ARRAY[1::bigint]);

SET SESSION AUTHORIZATION tap_r_ingest;
SELECT is((SELECT leaves || '/' || events || '/' || matches || '/' || opened || '/' || joined
             FROM bevis_rules_evaluate(100, 10000)),
          '6/5/5/3/1', 'six leaves, five events: brute opens one and joins one, big-export opens two');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT count(*)::int FROM rule_position WHERE leaf_idx =
           (SELECT max(idx) FROM ledger_leaf l WHERE l.kind = 'submission')), 1,
          'the position moved past the submission, with the incidents');
SELECT is((SELECT array_agg(title ORDER BY id) FROM incident),
          ARRAY['Rule brute (actor.user elev.anna)', 'Rule big-export', 'Rule big-export'],
          'the incidents and their titles');
SELECT is((SELECT array_agg(DISTINCT opened_by) FROM incident), ARRAY['tap_r_ingest'],
          'opened by bevisd''s login');
SELECT is((SELECT array_agg(e.source_event_id ORDER BY l.id) FROM incident_link_current l
             JOIN event e ON e.submission_id = l.event_submission_id AND e.item_no = l.event_item_no
             JOIN incident i ON i.id = l.incident_id WHERE i.title LIKE 'Rule brute%'),
          ARRAY['ev-0', 'ev-1', 'ev-2'], 'two failures open it, the third joins it');
SELECT is((SELECT array_agg(r.name || ' v' || r.version ORDER BY ri.incident_id)
             FROM rule_incident ri JOIN rule r ON r.id = ri.rule_id),
          ARRAY['brute v4', 'big-export v1', 'big-export v1'],
          'each incident names the rule version that opened it');
SET SESSION AUTHORIZATION tap_r_ingest;
SELECT is((SELECT leaves || '/' || events || '/' || matches FROM bevis_rules_evaluate(100, 10000)),
          '12/0/0', 'the next call evaluates only the decisions it wrote');
SELECT is((SELECT leaves FROM bevis_rules_evaluate(100, 10000)), 0, 'then nothing is left');
SELECT is((SELECT events || '/' || seconds FROM bevis_rules_lag()), '0/0', 'no lag');
RESET SESSION AUTHORIZATION;

SELECT * FROM finish();
ROLLBACK;
