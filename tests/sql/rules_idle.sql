-- rules_idle.sql - pgTAP tests of sql/0019_rules_idle.sql: bevisd's step
-- of the rules evaluator. With no rule enabled it moves the position to
-- the end of the ledger and reads no event; a rule applies to the events
-- committed after its version; a rule change notifies bevis_rules; the lag
-- counts the items behind the position. Run by
-- tests/integration/test_sql.py; one transaction, rolled back.
BEGIN;
SELECT plan(14);

CREATE ROLE tap_ri_isam LOGIN IN ROLE bevis_isam;
CREATE ROLE tap_ri_ingest LOGIN IN ROLE bevis_ingest;
INSERT INTO supplier (name) VALUES ('skolplattform');

SELECT is((SELECT prosecdef AND proconfig = ARRAY['search_path=pg_catalog, public, pg_temp']
             FROM pg_proc WHERE proname = 'bevis_rules_step'),
          true, 'bevis_rules_step is a security definer with a fixed search_path');
SELECT ok(has_function_privilege('bevis_ingest', 'bevis_rules_step(integer, integer)', 'EXECUTE')
          AND NOT has_function_privilege('bevis_isam', 'bevis_rules_step(integer, integer)',
                                         'EXECUTE'),
          'bevisd may take a step; the ISAM may not');
SELECT is((SELECT tgenabled::text FROM pg_trigger WHERE tgname = 'rule_notify'), 'A',
          'every new rule version notifies bevis_rules, whatever session_replication_role says');

-- Submission n: one event per item_no in p_items, each an export of pupil
-- records as CSV, committed with its ledger leaf as bevisd writes them.
CREATE FUNCTION pg_temp.submit(n bigint, p_items integer, p_events integer) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO submission (id, supplier_id, request_id, content_type, received_at, sha256,
                            body, item_count)
    VALUES (n, (SELECT id FROM supplier WHERE name = 'skolplattform'), 'r' || n,
            'application/x-ndjson', now(), sha256('x'), 'x', p_items);
    INSERT INTO event (submission_id, item_no, supplier_id, source_event_id, occurred_at,
                       category, action, outcome, actor_user, personal_data, attrs,
                       raw_offset, raw_length)
    SELECT n, i, (SELECT id FROM supplier WHERE name = 'skolplattform'), 'ev-' || n || '-' || i,
           '2026-10-05 10:00+00'::timestamptz + i * interval '1 minute', 'data_access',
           'export', 'success', 'elev.anna', true, '{"export": {"format": "csv"}}'::json, 0, 1
      FROM generate_series(0, p_events - 1) i;
    SELECT ledger_append_submissions(ARRAY['\x42564c3101'::bytea || int8send(n)], ARRAY[n]);
$$;

-- ---- no rule enabled: the position follows the ledger --------------------------------
SELECT pg_temp.submit(1, 3, 2);
SELECT is((SELECT events || '/' || leaf_idx FROM bevis_rules_lag()), '3/-1',
          'the lag counts the items of the submission not yet evaluated');
SET SESSION AUTHORIZATION tap_ri_ingest;
SELECT is((SELECT leaves || '/' || events || '/' || matches || '/' || opened || '/' || leaf_idx
                  || '/' || rules FROM bevis_rules_step(16, 2000)),
          '1/0/0/0/0/0', 'no rule: the position moves past the leaf, no event is read');
SELECT is((SELECT leaves || '/' || leaf_idx || '/' || rules FROM bevis_rules_step(16, 2000)),
          '0/0/0', 'nothing new: nothing moves');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT leaf_idx || '/' || events FROM rule_position), '0/0',
          'the position is stored; no event counts as evaluated');
SELECT is((SELECT events || '/' || seconds FROM bevis_rules_lag()), '0/0', 'no lag');

-- ---- a rule applies to the events committed after it ------------------------------------
-- Submission 2 comes while no step runs (bevisd with rules = off, or an
-- evaluator asleep), then the rule, then submission 3.
SELECT pg_temp.submit(2, 1, 1);
SET SESSION AUTHORIZATION tap_ri_isam;
SELECT is((SELECT leaf_idx FROM bevis_rule_add('pupil-export', '{"action": "export",
           "personal_data": "yes", "attrs": ["/export/format=csv"]}')), 2::bigint,
          'the rule is leaf 2');
RESET SESSION AUTHORIZATION;
SELECT pg_temp.submit(3, 1, 1);
SET SESSION AUTHORIZATION tap_ri_ingest;
SELECT is((SELECT leaves || '/' || events || '/' || matches || '/' || opened || '/' || leaf_idx
                  || '/' || rules FROM bevis_rules_step(16, 2000)),
          '3/1/1/1/3/1',
          'one rule: the leaf before it is passed, the rule and submission 3 are evaluated');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT array_agg(e.source_event_id ORDER BY e.source_event_id)
             FROM incident_link_current l
             JOIN event e ON e.submission_id = l.event_submission_id
                         AND e.item_no = l.event_item_no),
          ARRAY['ev-3-0'], 'only the event committed after the rule opened an incident');
SELECT is((SELECT leaf_idx || '/' || events FROM rule_position), '3/1',
          'the position moved with the incident, one event evaluated');

-- ---- with a rule enabled, the step is bevis_rules_evaluate -----------------------------
SET SESSION AUTHORIZATION tap_ri_ingest;
SELECT is((SELECT leaves || '/' || events || '/' || rules FROM bevis_rules_step(100, 10000)),
          '3/0/1', 'then the incident''s own decision leaves, with no events');
SELECT is((SELECT leaves FROM bevis_rules_step(16, 2000)), 0, 'then nothing is left');
RESET SESSION AUTHORIZATION;

SELECT * FROM finish();
ROLLBACK;
