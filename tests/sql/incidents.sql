-- incidents.sql - pgTAP tests of sql/0008_incidents.sql: the state machine,
-- the rationale rules, the roles, the append-only triggers, session_user as
-- the actor, protected identity, links, merges, deadlines and the decision
-- leaf. Run by tests/integration/test_sql.py with pg_prove on a freshly
-- migrated database; everything happens in one transaction, rolled back.
BEGIN;
SELECT plan(104);

-- Logins of each kind, made here and gone with the rollback.
CREATE ROLE tap_isam LOGIN IN ROLE bevis_isam;
CREATE ROLE tap_isam2 LOGIN IN ROLE bevis_isam;
CREATE ROLE tap_prot LOGIN IN ROLE bevis_isam, bevis_protected;
CREATE ROLE tap_auditor LOGIN IN ROLE bevis_auditor;
CREATE ROLE tap_ingest LOGIN IN ROLE bevis_ingest;

-- Evidence to link: one supplier, one submission, two events.
INSERT INTO supplier (name) VALUES ('skolplattform');
INSERT INTO submission (id, supplier_id, request_id, content_type, received_at, sha256,
                        body, item_count)
VALUES (1, (SELECT id FROM supplier WHERE name = 'skolplattform'), 'r1',
        'application/x-ndjson', now(), sha256('x'), 'x', 2);
INSERT INTO event (submission_id, item_no, supplier_id, source_event_id, occurred_at,
                   raw_offset, raw_length)
SELECT 1, n, (SELECT id FROM supplier WHERE name = 'skolplattform'), 'ev-' || n, now(), 0, 1
  FROM generate_series(0, 1) n;

-- A helper: opens an incident as the current login and walks it to a status.
CREATE FUNCTION pg_temp.incident_in(p_status text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r text := bevis_incident_open('{"title": "test"}');
BEGIN
    IF p_status IN ('assessing', 'confirmed', 'closed', 'dismissed') THEN
        PERFORM bevis_incident_decide(r, '{"status": "assessing"}', NULL);
    END IF;
    IF p_status IN ('confirmed', 'closed') THEN
        PERFORM bevis_incident_decide(r, '{"status": "confirmed"}', NULL);
    END IF;
    IF p_status = 'closed' THEN
        PERFORM bevis_incident_decide(r, '{"status": "closed"}', NULL);
    END IF;
    IF p_status = 'dismissed' THEN
        PERFORM bevis_incident_decide(r, '{"status": "dismissed"}', 'a false alarm');
    END IF;
    RETURN r;
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.incident_in(text) TO PUBLIC;

SET SESSION AUTHORIZATION tap_isam;

-- ---- opening ------------------------------------------------------------------
SELECT is(bevis_incident_open('{"title": "Phishing mot rektorer", "description": "Tre rektorer fick ett falskt inloggningsmejl", "supplier": "skolplattform", "occurred_at": "2026-10-05T08:00:00Z"}',
                              '[{"event": "skolplattform:ev-0"}]'),
          'INC-' || extract(year FROM now() AT TIME ZONE 'Europe/Stockholm') || '-0001',
          'the first incident of the year is number 0001');
CREATE TEMP VIEW inc1 AS SELECT * FROM incident WHERE ref LIKE 'INC-%-0001';
SELECT is((SELECT status FROM inc1), 'new', 'an incident opens as new');
SELECT is((SELECT opened_by FROM inc1), 'tap_isam', 'opened_by is session_user');
SELECT is((SELECT version FROM inc1), 2, 'version counts the decisions: open and one link');
SELECT is((SELECT array_agg(kind ORDER BY seq) FROM decision WHERE incident_id = (SELECT id FROM inc1)),
          ARRAY['open', 'link'], 'opening writes an open decision and a link decision');
SELECT is((SELECT actor FROM decision WHERE incident_id = (SELECT id FROM inc1) AND seq = 1),
          'tap_isam', 'the actor is session_user');
SELECT is((SELECT after ->> 'title' FROM decision WHERE incident_id = (SELECT id FROM inc1) AND seq = 1),
          'Phishing mot rektorer', 'the open decision holds the opening values');
SELECT is((SELECT count(*)::int FROM incident_link_current WHERE incident_id = (SELECT id FROM inc1)),
          1, 'the event is linked');
SELECT is(bevis_incident_open('{"title": "second"}'),
          'INC-' || extract(year FROM now() AT TIME ZONE 'Europe/Stockholm') || '-0002',
          'numbers follow on');
SELECT throws_ok($$SELECT bevis_incident_open('{"description": "no title"}')$$, '22023',
                 'bevis: a new incident needs a title', 'a title is required');
SELECT throws_ok($$SELECT bevis_incident_open('{"title": "x", "status": "confirmed"}')$$, '22023',
                 NULL, 'an incident cannot open in another status');
SELECT throws_ok($$SELECT bevis_incident_open('{"title": "x"}', '[{"event": "skolplattform:nope"}]')$$,
                 'P0002', 'bevis: no event nope from supplier skolplattform', 'an unknown event is refused');
SELECT is(bevis_incident_open('{"title": "third"}'),
          'INC-' || extract(year FROM now() AT TIME ZONE 'Europe/Stockholm') || '-0003',
          'a refused opening does not use up a number');
SELECT throws_ok($$SELECT bevis_incident_open('{"title": "x", "aware_at": "2999-01-01T00:00:00Z"}')$$,
                 '22023', NULL, 'aware_at in the future is refused');
SELECT throws_ok($$SELECT bevis_incident_open('{"title": "x", "category": "aliens"}')$$, '22023',
                 'bevis: unknown category aliens', 'an unknown category is refused');
SELECT throws_ok($$SELECT bevis_incident_open('{"title": "x", "colour": "red"}')$$, '22023',
                 'bevis: colour is not a field a decision may change', 'an unknown field is refused');
SELECT throws_ok($$SELECT bevis_incident_open('{"title": "x", "aware_at": "yesterday-ish"}')$$, '22023',
                 NULL, 'a bad time is refused');

-- ---- the ledger leaf of a decision --------------------------------------------
SELECT is((SELECT l.data FROM ledger_leaf l JOIN decision d ON d.leaf_idx = l.idx
            WHERE d.incident_id = (SELECT id FROM inc1) AND d.seq = 1),
          (SELECT bevis_decision_leaf(i.ref, d.seq, d.kind, d.before, d.after, d.rationale,
                                      d.salt, d.actor, d.at)
             FROM decision d JOIN incident i ON i.id = d.incident_id
            WHERE d.incident_id = (SELECT id FROM inc1) AND d.seq = 1),
          'each decision is a ledger leaf with its own encoding');
SELECT is((SELECT substring(l.data FROM 1 FOR 5) FROM ledger_leaf l JOIN decision d ON d.leaf_idx = l.idx
            WHERE d.incident_id = (SELECT id FROM inc1) AND d.seq = 1),
          '\x42564c3104'::bytea, 'the decision leaf is BVL1 kind 4');
SELECT is((SELECT l.kind FROM ledger_leaf l JOIN decision d ON d.leaf_idx = l.idx
            WHERE d.incident_id = (SELECT id FROM inc1) AND d.seq = 2),
          'decision', 'a link is a decision leaf too');
SELECT is(bevis_decision_leaf('INC-2026-0001', 1, 'open', '{}', '{"a": 1}', '',
                              '\x000102030405060708090a0b0c0d0e0f', 'x',
                              '2026-01-01T00:00:00Z'),
          '\x42564c3104000d494e432d323032362d303030310000000100046f70656ea4c389e38ccbc5c5bfa9d07da6e7850755fdfcd9a9b192eed602e2cbce3bb1d0548829f41f91c46d9ebe12861dd00c99c8187a0705774b43b6ab706b7c47ebe04ec5ceca52eaac2b4a05cd9617c96081ed50c2d1b5d96325bb4866e8ba3759040001780006474846204000'::bytea,
          'the decision leaf has fixed bytes (docs/LEDGER.md)');
SELECT ok((SELECT position(convert_to('Phishing mot rektorer', 'UTF8') IN l.data) = 0
             FROM ledger_leaf l JOIN decision d ON d.leaf_idx = l.idx
            WHERE d.incident_id = (SELECT id FROM inc1) AND d.seq = 1),
          'the leaf holds digests, not the title: the ledger is readable by every role');

-- ---- the state machine --------------------------------------------------------
SELECT lives_ok(format($$SELECT bevis_incident_decide(%L, '{"status": "assessing"}', NULL)$$, pg_temp.incident_in('new')), 'new -> assessing');
SELECT lives_ok(format($$SELECT bevis_incident_decide(%L, '{"status": "confirmed"}', NULL)$$, pg_temp.incident_in('new')), 'new -> confirmed');
SELECT lives_ok(format($$SELECT bevis_incident_decide(%L, '{"status": "dismissed"}', 'not ours')$$, pg_temp.incident_in('new')), 'new -> dismissed');
SELECT throws_ok(format($$SELECT bevis_incident_decide(%L, '{"status": "closed"}', NULL)$$, pg_temp.incident_in('new')), '22023', NULL, 'new -> closed refused');
SELECT lives_ok(format($$SELECT bevis_incident_decide(%L, '{"status": "confirmed"}', NULL)$$, pg_temp.incident_in('assessing')), 'assessing -> confirmed');
SELECT lives_ok(format($$SELECT bevis_incident_decide(%L, '{"status": "dismissed"}', 'duplicate report')$$, pg_temp.incident_in('assessing')), 'assessing -> dismissed');
SELECT throws_ok(format($$SELECT bevis_incident_decide(%L, '{"status": "new"}', 'x')$$, pg_temp.incident_in('assessing')), '22023', NULL, 'assessing -> new refused');
SELECT throws_ok(format($$SELECT bevis_incident_decide(%L, '{"status": "closed"}', NULL)$$, pg_temp.incident_in('assessing')), '22023', NULL, 'assessing -> closed refused');
SELECT lives_ok(format($$SELECT bevis_incident_decide(%L, '{"status": "closed"}', NULL)$$, pg_temp.incident_in('confirmed')), 'confirmed -> closed');
SELECT lives_ok(format($$SELECT bevis_incident_decide(%L, '{"status": "assessing"}', 'new facts')$$, pg_temp.incident_in('confirmed')), 'confirmed -> assessing with a rationale');
SELECT throws_ok(format($$SELECT bevis_incident_decide(%L, '{"status": "dismissed"}', 'x')$$, pg_temp.incident_in('confirmed')), '22023', NULL, 'confirmed -> dismissed refused');
SELECT lives_ok(format($$SELECT bevis_incident_decide(%L, '{"status": "assessing"}', 'it came back')$$, pg_temp.incident_in('closed')), 'closed -> assessing (reopen)');
SELECT throws_ok(format($$SELECT bevis_incident_decide(%L, '{"status": "confirmed"}', 'x')$$, pg_temp.incident_in('closed')), '22023', NULL, 'closed -> confirmed refused');
SELECT lives_ok(format($$SELECT bevis_incident_decide(%L, '{"status": "assessing"}', 'was real after all')$$, pg_temp.incident_in('dismissed')), 'dismissed -> assessing (reopen)');
SELECT throws_ok(format($$SELECT bevis_incident_decide(%L, '{"status": "closed"}', 'x')$$, pg_temp.incident_in('dismissed')), '22023', NULL, 'dismissed -> closed refused');
SELECT throws_ok(format($$SELECT bevis_incident_decide(%L, '{"status": "merged"}', 'x')$$, pg_temp.incident_in('new')), '22023', 'bevis: merging is bevis merge, not a status', 'merged is not a status to set');
SELECT throws_ok(format($$SELECT bevis_incident_decide(%L, '{"status": "closed"}', NULL)$$, pg_temp.incident_in('new')), '22023',
                 NULL, 'the refusal names the allowed statuses');
SELECT is((SELECT kind FROM decision WHERE seq = (SELECT max(seq) FROM decision d2 WHERE d2.incident_id = decision.incident_id)
             AND incident_id = (SELECT i.id FROM incident i WHERE i.status = 'assessing' ORDER BY i.id DESC LIMIT 1)),
          'reopen', 'going back to assessing from dismissed is a reopen decision');
SELECT throws_ok(format($$SELECT bevis_incident_decide(%L, '{"title": "test"}', NULL)$$, pg_temp.incident_in('new')), '22023',
                 NULL, 'a decision that changes nothing is refused');

-- ---- rationale rules ----------------------------------------------------------
SELECT throws_ok(format($$SELECT bevis_incident_decide(%L, '{"status": "dismissed"}', '  ')$$, pg_temp.incident_in('new')), '22023', NULL, 'dismissing needs a rationale');
SELECT throws_ok(format($$SELECT bevis_incident_decide(%L, '{"status": "assessing"}', NULL)$$, pg_temp.incident_in('closed')), '22023', NULL, 'reopening needs a rationale');
SELECT throws_ok(format($$SELECT bevis_incident_decide(%L, '{"imy": "not_required"}', '')$$, pg_temp.incident_in('new')), '22023', NULL, 'IMY not required needs a rationale');
SELECT lives_ok(format($$SELECT bevis_incident_decide(%L, '{"imy": "not_required", "personal_data": "no"}', 'no personal data involved')$$, pg_temp.incident_in('new')), 'IMY not required with a rationale');
SELECT throws_ok(format($$SELECT bevis_incident_decide(%L, '{"subjects": "not_required"}', NULL)$$, pg_temp.incident_in('new')), '22023', NULL, 'Art. 34 not required needs a rationale');

-- ---- the IMY track ---------------------------------------------------------------
CREATE TEMP TABLE imy AS SELECT pg_temp.incident_in('assessing') AS ref;
SELECT throws_ok($$SELECT bevis_incident_decide((SELECT ref FROM imy), '{"imy": "notified", "imy_notified_at": "2026-01-01T00:00:00Z", "imy_ref": "IMY-1"}', NULL)$$,
                 '22023', NULL, 'notified before required is refused');
SELECT throws_ok($$SELECT bevis_incident_decide((SELECT ref FROM imy), '{"imy": "required"}', NULL)$$,
                 '22023', NULL, 'required needs aware_at');
SELECT lives_ok($$SELECT bevis_incident_decide((SELECT ref FROM imy), format('{"imy": "required", "personal_data": "yes", "aware_at": "%s"}', now() - interval '100 hours')::jsonb, NULL)$$,
                'required with aware_at');
SELECT throws_ok($$SELECT bevis_incident_decide((SELECT ref FROM imy), format('{"imy": "notified", "imy_notified_at": "%s", "imy_ref": "IMY-2026-1"}', now() - interval '1 hour')::jsonb, NULL)$$,
                 '22023', NULL, 'a late notification needs the reasons for the delay');
SELECT throws_ok($$SELECT bevis_incident_decide((SELECT ref FROM imy), '{"status": "confirmed"}', NULL) FROM imy
                   UNION ALL SELECT bevis_incident_decide((SELECT ref FROM imy), '{"status": "closed"}', NULL)$$,
                 '55000', NULL, 'an incident that IMY must hear of cannot be closed before');
SELECT throws_ok($$SELECT bevis_incident_decide(r, '{"personal_data": "yes"}', NULL),
                          bevis_incident_decide(r, '{"status": "closed"}', NULL)
                     FROM (SELECT pg_temp.incident_in('confirmed') AS r) x$$,
                 '55000', NULL, 'a personal-data incident cannot close before IMY is assessed');
SELECT lives_ok($$SELECT bevis_incident_decide((SELECT ref FROM imy), format('{"imy": "notified", "imy_notified_at": "%s", "imy_ref": "IMY-2026-1"}', now() - interval '1 hour')::jsonb, 'the supplier told us late')$$,
                'a late notification with its reasons');
SELECT is((SELECT imy_late_reason FROM incident WHERE ref = (SELECT ref FROM imy)), 'the supplier told us late',
          'the late reason is kept');
SELECT throws_ok($$SELECT bevis_incident_decide((SELECT ref FROM imy), format('{"imy_notified_at": "%s"}', now() - interval '10 minutes')::jsonb, NULL)$$,
                 '22023', NULL, 'moving a late notification needs its reasons again');
SELECT throws_ok($$SELECT bevis_incident_decide((SELECT ref FROM imy), '{"imy": "required"}', 'x')$$,
                 '22023', NULL, 'a notification to IMY cannot be undone');
SELECT throws_ok($$SELECT bevis_incident_decide((SELECT ref FROM imy), '{"personal_data": "no"}', NULL)$$,
                 '22023', NULL, 'no personal data after IMY was required needs a rationale');
SELECT throws_ok($$SELECT bevis_incident_decide((SELECT ref FROM imy), '{"imy": "not_assessed"}', 'x')$$,
                 '22023', NULL, 'the IMY assessment cannot be undone');
SELECT throws_ok($$SELECT bevis_incident_decide((SELECT ref FROM imy), format('{"aware_at": "%s"}', now() + interval '1 day')::jsonb, 'x')$$,
                 '22023', NULL, 'aware_at in the future is refused');

CREATE TEMP TABLE cl AS SELECT pg_temp.incident_in('closed') AS ref;
SELECT throws_ok($$SELECT bevis_incident_decide((SELECT ref FROM cl), '{"personal_data": "yes"}', NULL)$$,
                 '55000', NULL, 'a closed incident cannot become a personal-data one without the IMY decision');
SELECT throws_ok($$SELECT bevis_incident_decide((SELECT ref FROM cl), format('{"imy": "required", "aware_at": "%s"}', now() - interval '1 hour')::jsonb, 'x')$$,
                 '55000', NULL, 'a closed incident cannot be left requiring a notification');
SELECT throws_ok($$SELECT bevis_incident_open('{"title": "x", "imy": "not_required"}')$$, '22023', NULL,
                 'an incident opens with its tracks not assessed');

-- ---- the 72-hour clock ---------------------------------------------------------
SELECT is(bevis_imy_deadline('2026-10-24 10:00 Europe/Stockholm') AT TIME ZONE 'Europe/Stockholm',
          '2026-10-27 09:00'::timestamp, 'aware 24 Oct 10:00: deadline 27 Oct 09:00 (clocks go back)');
SELECT is(bevis_imy_deadline('2026-03-28 10:00 Europe/Stockholm') AT TIME ZONE 'Europe/Stockholm',
          '2026-03-31 11:00'::timestamp, 'aware 28 Mar 10:00: deadline 31 Mar 11:00 (clocks go forward)');
SELECT ok((SELECT count(*) FROM bevis_deadlines('30 days') WHERE kind = 'triage') > 0,
          'a new incident has a triage deadline');
SELECT is((SELECT count(*)::int FROM incident_overview o WHERE o.status = 'closed' AND o.imy_deadline IS NOT NULL),
          0, 'a closed incident has no IMY deadline left');
SELECT is((SELECT count(*)::int FROM bevis_deadlines('30 days') d WHERE d.ref = (SELECT ref FROM imy)),
          0, 'a notified incident has no IMY deadline');

-- ---- links ----------------------------------------------------------------------
CREATE TEMP TABLE lk AS SELECT pg_temp.incident_in('assessing') AS ref;
SELECT is(bevis_incident_link((SELECT ref FROM lk), '[{"event": "skolplattform:ev-1"}, {"submission": 1}]'),
          2, 'two links, two decisions');
SELECT throws_ok($$SELECT bevis_incident_link((SELECT ref FROM lk), '[{"submission": 1}]')$$, '23505', NULL,
                 'linking what is linked is refused');
SELECT throws_ok($$SELECT bevis_incident_unlink((SELECT ref FROM lk), '[{"submission": 1}]', '')$$, '22023', NULL,
                 'unlinking needs a rationale');
SELECT is(bevis_incident_unlink((SELECT ref FROM lk), '[{"submission": 1}]', 'wrong upload'), 1, 'unlink');
SELECT is((SELECT count(*)::int FROM incident_link_current WHERE incident_id = (SELECT id FROM incident WHERE ref = (SELECT ref FROM lk))),
          1, 'the unlinked target is no longer current');
SELECT is((SELECT count(*)::int FROM incident_link WHERE incident_id = (SELECT id FROM incident WHERE ref = (SELECT ref FROM lk))),
          3, 'but the link row stays, with the unlink after it');
SELECT throws_ok($$SELECT bevis_incident_unlink((SELECT ref FROM lk), '[{"submission": 1}]', 'again')$$, 'P0002', NULL,
                 'unlinking what is not linked is refused');
SELECT throws_ok($$SELECT bevis_incident_link((SELECT ref FROM lk), format('[{"incident": "%s"}]', (SELECT ref FROM lk))::jsonb)$$,
                 '22023', NULL, 'an incident cannot be linked to itself');
SELECT throws_ok($$SELECT bevis_incident_decide('INC-1999-0001', '{"status": "assessing"}', NULL)$$, 'P0002',
                 'bevis: no incident INC-1999-0001', 'an unknown reference is refused');

-- ---- merges ---------------------------------------------------------------------
CREATE TEMP TABLE mg AS SELECT pg_temp.incident_in('new') AS a, pg_temp.incident_in('assessing') AS b,
                               pg_temp.incident_in('new') AS c;
SELECT throws_ok($$SELECT bevis_incident_merge((SELECT a FROM mg), (SELECT a FROM mg), 'x')$$, '22023', NULL,
                 'a merge into itself is refused');
SELECT throws_ok($$SELECT bevis_incident_merge((SELECT a FROM mg), (SELECT b FROM mg), '')$$, '22023', NULL,
                 'merging needs a rationale');
SELECT lives_ok($$SELECT bevis_incident_merge((SELECT a FROM mg), (SELECT b FROM mg), 'same phishing wave')$$, 'merge');
SELECT is((SELECT status FROM incident WHERE ref = (SELECT a FROM mg)), 'merged', 'the merged one is merged');
SELECT is((SELECT m.ref FROM incident i JOIN incident m ON m.id = i.merged_into WHERE i.ref = (SELECT a FROM mg)),
          (SELECT b FROM mg), 'and points to the survivor');
SELECT is((SELECT after ->> 'merged_from' FROM decision WHERE incident_id = (SELECT id FROM incident WHERE ref = (SELECT b FROM mg))
            ORDER BY seq DESC LIMIT 1), (SELECT a FROM mg), 'the survivor records the merge');
SELECT throws_ok($$SELECT bevis_incident_merge((SELECT c FROM mg), (SELECT a FROM mg), 'x')$$, '55000', NULL,
                 'a merge into a merged incident is refused');
SELECT throws_ok($$SELECT bevis_incident_decide((SELECT a FROM mg), '{"status": "assessing"}', 'x')$$, '55000', NULL,
                 'a merged incident takes no status decision');
SELECT lives_ok($$SELECT bevis_incident_unmerge((SELECT a FROM mg), 'two waves after all')$$, 'unmerge');
SELECT is((SELECT status FROM incident WHERE ref = (SELECT a FROM mg)), 'assessing', 'an unmerged incident is assessing');

-- ---- append-only and the roles ----------------------------------------------------
SELECT throws_ok($$UPDATE incident SET title = 'x'$$, '42501', NULL, 'bevis_isam cannot update an incident');
SELECT throws_ok($$INSERT INTO decision (incident_id, seq, kind, before, after, actor, at, leaf_idx) VALUES (1, 99, 'triage', '{}', '{}', 'x', now(), 999)$$,
                 '42501', NULL, 'bevis_isam cannot insert a decision');
SELECT throws_ok($$DELETE FROM incident_link$$, '42501', NULL, 'bevis_isam cannot delete a link');
SELECT throws_ok($$SELECT bevis_incident_record(i, i, 'triage', '{}', '{}', 'x') FROM incident i LIMIT 1$$,
                 '42501', NULL, 'the internal write function is not callable');

RESET SESSION AUTHORIZATION;
SELECT throws_ok($$UPDATE incident SET title = 'x' WHERE ref LIKE '%-0001'$$, '42501', NULL,
                 'even the owner meets the trigger');
SELECT throws_ok($$DELETE FROM decision$$, '42501', NULL, 'decisions are never deleted');
SELECT throws_ok($$TRUNCATE incident_link$$, '42501', NULL, 'links are never truncated');
SELECT has_trigger('ledger_leaf', 'ledger_leaf_notify', 'every ledger append notifies bevisd');

SET SESSION AUTHORIZATION tap_auditor;
SELECT ok((SELECT count(*) FROM incident) > 0, 'bevis_auditor reads incidents');
SELECT ok((SELECT count(*) FROM incident_counter) > 0, 'bevis_auditor reads the reference counter');
SELECT throws_ok($$SELECT bevis_incident_open('{"title": "auditor"}')$$, '42501', NULL, 'bevis_auditor cannot open');
SELECT throws_ok($$SELECT bevis_incident_decide((SELECT ref FROM incident LIMIT 1), '{"status": "assessing"}', NULL)$$,
                 '42501', NULL, 'bevis_auditor cannot decide');

SET SESSION AUTHORIZATION tap_ingest;
SELECT throws_ok($$SELECT count(*) FROM incident$$, '42501', NULL, 'bevis_ingest does not read incidents');

-- ---- protected identity -----------------------------------------------------------
SET SESSION AUTHORIZATION tap_prot;
CREATE TEMP TABLE pr AS SELECT bevis_incident_open('{"title": "Elev med skyddad identitet", "protected_identity": true}') AS ref;
GRANT SELECT ON pr TO PUBLIC;
SELECT is((SELECT title FROM incident WHERE ref = (SELECT ref FROM pr)), 'Elev med skyddad identitet',
          'bevis_protected reads the protected incident');
SET SESSION AUTHORIZATION tap_isam2;
SELECT is((SELECT count(*)::int FROM incident WHERE ref = (SELECT ref FROM pr)), 0,
          'others do not read its row');
SELECT is((SELECT status || '/' || coalesce(title, '(hidden)') FROM incident_overview WHERE ref = (SELECT ref FROM pr)),
          'new/(hidden)', 'others see its reference and status, not its title');
SELECT is((SELECT count(*)::int FROM decision d JOIN incident_overview o ON o.id = d.incident_id WHERE o.ref = (SELECT ref FROM pr)), 0,
          'others do not read its decisions');
SELECT throws_ok($$SELECT bevis_incident_decide((SELECT ref FROM pr), '{"status": "assessing"}', NULL)$$, '42501', NULL,
                 'others cannot change it');

RESET SESSION AUTHORIZATION;
SELECT * FROM finish();
ROLLBACK;
