-- reconcile.sql - pgTAP tests of sql/0018_reconcile.sql: a supplier's
-- monthly report against its own events (docs/RECONCILE.md): the exact
-- findings of a small built month, the matching rules one by one (log
-- references in a list, case and blanks; a date without a time; the month in
-- the session's time zone; coverage by incidents; rule incidents mentioned
-- or not), protected identity, who may read and who may --open, and that
-- --open opens each unreported event's incident once. Run by
-- tests/integration/test_sql.py; one transaction, rolled back.
BEGIN;
SELECT plan(32);

SET TimeZone = 'Europe/Stockholm';

CREATE ROLE tap_rc_isam LOGIN IN ROLE bevis_isam;
CREATE ROLE tap_rc_prot LOGIN IN ROLE bevis_isam, bevis_protected;
CREATE ROLE tap_rc_auditor LOGIN IN ROLE bevis_auditor;
CREATE ROLE tap_rc_ingest LOGIN IN ROLE bevis_ingest;

INSERT INTO supplier (name) VALUES ('skolplattform'), ('annan');

SELECT is((SELECT array_agg(proname::text ORDER BY proname) FROM pg_proc
            WHERE proname IN ('bevis_reconcile', 'bevis_reconcile_open',
                              'bevis_reconcile_summary')
              AND prosecdef AND proconfig = ARRAY['search_path=pg_catalog, public, pg_temp']),
          ARRAY['bevis_reconcile', 'bevis_reconcile_open', 'bevis_reconcile_summary'],
          'the reconcile functions are security definers with a fixed search_path');

-- ---- the rules' parts ---------------------------------------------------------------
SELECT is(bevis_reconcile_refs(E' EV-1 ,ev-2;\tev-3\u00a0'),
          ARRAY['EV-1', 'EV-1 ,ev-2;' || E'\t' || 'ev-3', 'ev-2', 'ev-3'],
          'a log_ref cell: cut at commas, semicolons and blanks, and the whole cell, trimmed');
SELECT is(bevis_reconcile_refs('  '), '{}'::text[], 'a blank cell is no log reference');
SELECT is(bevis_reconcile_window('2026-10-06 00:00+02', NULL),
          tstzrange('2026-10-05 23:00+02', '2026-10-07 01:00+02', '[]'),
          'a date without a time: its whole (Swedish) day, an hour either side');
SELECT is(bevis_reconcile_window('2026-10-06 14:30+02', '2026-10-06 12:00+02'),
          tstzrange('2026-10-06 11:00+02', '2026-10-06 15:30+02', '[]'),
          'from the earlier time less an hour to the later plus an hour');
SELECT is(bevis_reconcile_window(NULL, NULL), NULL, 'no time, no window');

-- ---- the month ------------------------------------------------------------------------
-- Events of skolplattform (and one of annan), as bevisd stores them.
INSERT INTO event (submission_id, item_no, supplier_id, source_event_id, occurred_at, severity,
                   category, action, outcome, personal_data, actor_user, raw_offset, raw_length)
SELECT 9500, n, (SELECT id FROM supplier WHERE name = s), id, t::timestamptz, sev,
       'authentication', 'login', 'failure', pd, 'elev.anna', 0, 1
  FROM (VALUES
    (0,  'skolplattform', 'ev-0',  '2026-10-01 00:15+02', 4, false),  -- October here, not in UTC
    (1,  'skolplattform', 'ev-1',  '2026-10-05 10:00+02', 4, false),  -- SP-1 names it
    (2,  'skolplattform', 'ev-2',  '2026-10-06 14:30+02', 5, false),  -- in SP-2's day
    (3,  'skolplattform', 'ev-3',  '2026-10-07 09:00+02', 4, false),  -- unreported
    (4,  'skolplattform', 'ev-4',  '2026-10-08 09:00+02', 2, true),   -- unreported: personal data
    (5,  'skolplattform', 'ev-5',  '2026-10-09 09:00+02', 6, false),  -- an incident covers it
    (6,  'skolplattform', 'ev-6',  '2026-10-10 09:00+02', 3, false),  -- below high
    (7,  'skolplattform', 'ev-7',  '2026-11-01 00:30+01', 5, false),  -- November here
    (8,  'skolplattform', 'ev-9',  '2026-10-12 10:00+02', 4, false),  -- a rule's
    (9,  'skolplattform', 'ev-10', '2026-10-13 10:00+02', 1, false),  -- another rule's
    (10, 'annan',         'x-1',   '2026-10-15 12:00+02', 6, false),  -- not skolplattform's
    (11, 'skolplattform', 'ev-11', '2026-10-14 10:00+02', 4, false),  -- merged incident's
    (12, 'skolplattform', 'ev-12', '2026-10-16 10:00+02', 5, false),  -- dismissed incident's
    (13, 'skolplattform', 'ev-sep', '2026-09-30 10:00+02', 1, false), -- SP-7 names it
    (14, 'skolplattform', 'fw 77', '2026-10-17 10:00+02', 5, false))  -- SP-8 names it, blank and all
    v (n, s, id, t, sev, pd);

-- The reports skolplattform sent for October: its supplier report in two
-- versions (SP-0 removed in the second), and one of kind servicedesk.
INSERT INTO submission (id, supplier_id, request_id, content_type, received_at, sha256,
                        body, item_count)
SELECT n, (SELECT id FROM supplier WHERE name = 'skolplattform'), 'rc' || n,
       'application/json', '2026-11-03 09:00+01', sha256(n::text::bytea), 'x', 1
  FROM generate_series(9501, 9503) n;
SELECT lives_ok($$SELECT bevis_report_ingest(9501, 'supplier', '2026-10', 'Oktober', 'Anna',
    '[{"item": 0, "line": 1, "off": 0, "len": 1, "id": "SP-0",
       "fields": {"title": "Borttagen", "log_ref": "inget"}}]', 0)$$, 'version 1');
SELECT lives_ok($$SELECT bevis_report_ingest(9502, 'supplier', '2026-10', 'Oktober', 'Anna', '[
     {"item": 0, "line": 1, "off": 0, "len": 1, "id": "SP-1",
      "fields": {"title": "Inloggningsförsök", "log_ref": "EV-1 , ev-99",
                 "occurred_at": "2026-10-05 10:00"}},
     {"item": 1, "line": 2, "off": 0, "len": 1, "id": "SP-2",
      "fields": {"title": "Lösenordsattack", "occurred_at": "2026-10-06"}},
     {"item": 2, "line": 3, "off": 0, "len": 1, "id": "SP-3",
      "fields": {"title": "Påstådd händelse", "log_ref": "x-1",
                 "occurred_at": "2026-10-15 12:00"}},
     {"item": 3, "line": 4, "off": 0, "len": 1, "id": "SP-4",
      "fields": {"title": "Regelträff", "log_ref": "EV-10"}},
     {"item": 4, "line": 5, "off": 0, "len": 1, "id": "SP-5",
      "fields": {"title": "Nattlig export", "occurred_at": "2026-10-20 03:00",
                 "detected_at": "2026-10-20 03:30"}},
     {"item": 5, "line": 6, "off": 0, "len": 1, "id": "SP-6",
      "fields": {"title": "Elev med skyddad identitet", "protected_identity": "yes"}},
     {"item": 6, "line": 7, "off": 0, "len": 1, "id": "SP-7",
      "fields": {"title": "Sent i september", "log_ref": "ev-sep"}},
     {"item": 7, "line": 8, "off": 0, "len": 1, "id": "SP-8",
      "fields": {"title": "Brandvägg", "log_ref": " FW 77 "}}]', 0)$$,
    'version 2');
SELECT lives_ok($$SELECT bevis_report_ingest(9503, 'servicedesk', '2026-10', 'Oktober', 'Anna',
    '[{"item": 0, "line": 1, "off": 0, "len": 1, "id": "SD-1", "fields": {"title": "X"}}]', 0)$$,
    'a report of the other kind');

-- An incident covers ev-5; rules opened incidents for ev-9, ev-10 and ev-11.
SELECT lives_ok($$SELECT bevis_incident_open('{"title": "Handläggs"}',
                                             '[{"event": "skolplattform:ev-5"}]')$$,
                'an incident linked to ev-5');
SET SESSION AUTHORIZATION tap_rc_isam;
SELECT lives_ok($$SELECT bevis_rule_add('hog', '{"severity_min": "4"}')$$, 'a rule');
RESET SESSION AUTHORIZATION;
CREATE TEMP TABLE rc_ri (name text, id bigint);
GRANT SELECT ON rc_ri TO PUBLIC;
INSERT INTO rc_ri
SELECT x.name, bevis_rule_open((SELECT r FROM rule r WHERE r.name = 'hog'), NULL,
                               jsonb_build_array(jsonb_build_object('event', 'skolplattform:' || x.ev)),
                               'skolplattform', x.t::timestamptz, x.t::timestamptz)
  FROM (VALUES ('unmentioned', 'ev-9', '2026-10-12 10:00+02'),
               ('mentioned', 'ev-10', '2026-10-13 10:00+02'),
               ('merged', 'ev-11', '2026-10-14 10:00+02'),
               ('dismissed', 'ev-12', '2026-10-16 10:00+02')) x (name, ev, t);
-- The unmentioned one is protected; the merged one is merged into it; the
-- last one is dismissed (its link still covers ev-12).
SELECT lives_ok($$SELECT bevis_incident_decide((SELECT ref FROM incident i JOIN rc_ri r ON r.id = i.id
                                                 WHERE r.name = 'unmentioned'),
                                                '{"protected_identity": true}', 'Skyddad identitet')$$,
                'protected');
SELECT lives_ok($$SELECT bevis_incident_merge((SELECT ref FROM incident i JOIN rc_ri r ON r.id = i.id
                                                WHERE r.name = 'merged'),
                                               (SELECT ref FROM incident i JOIN rc_ri r ON r.id = i.id
                                                 WHERE r.name = 'unmentioned'), 'Samma')$$,
                'merged');
SELECT lives_ok($$SELECT bevis_incident_decide((SELECT ref FROM incident i JOIN rc_ri r ON r.id = i.id
                                                 WHERE r.name = 'dismissed'),
                                                '{"status": "dismissed"}', 'Falsklarm')$$,
                'dismissed');

CREATE FUNCTION pg_temp.ref(p_name text) RETURNS text LANGUAGE sql SECURITY DEFINER AS $$
    SELECT i.ref FROM incident i JOIN rc_ri r ON r.id = i.id WHERE r.name = p_name
$$;
CREATE FUNCTION pg_temp.entry_inc(p_entry text) RETURNS text LANGUAGE sql SECURITY DEFINER AS $$
    SELECT i.ref FROM report_entry e
      JOIN incident_link l ON l.report_entry_id = coalesce(e.origin_id, e.id)
      JOIN incident i ON i.id = l.incident_id
     WHERE e.entry_id = p_entry ORDER BY e.id LIMIT 1
$$;
GRANT EXECUTE ON FUNCTION pg_temp.ref(text), pg_temp.entry_inc(text) TO PUBLIC;

-- ---- the findings ----------------------------------------------------------------------
SET SESSION AUTHORIZATION tap_rc_auditor;
SELECT results_eq(
    $$SELECT report, kind, version, entries, events FROM bevis_reconcile_summary('skolplattform', '2026-10')$$,
    $$SELECT (SELECT id FROM report WHERE submission_id = 9502), 'supplier'::text, 2, 8::bigint,
             12::bigint$$,
    'the newest version of its supplier report, 8 present entries, 12 events in October');
SELECT results_eq(
    $$SELECT finding, to_char(at, 'YYYY-MM-DD HH24:MI'), entry_id, log_ref, event_id, severity::int,
             personal_data, incident, opened, rule, title, why
        FROM bevis_reconcile('skolplattform', '2026-10')$$,
    $$VALUES
      ('claimed_no_evidence', '2026-10-15 12:00', 'SP-3', 'x-1', NULL::text, NULL::int,
       NULL::boolean, pg_temp.entry_inc('SP-3'), false, NULL::text, 'Påstådd händelse',
       'log reference x-1 matches no event of skolplattform'),
      ('claimed_no_evidence', '2026-10-20 03:00', 'SP-5', NULL, NULL, NULL, NULL,
       pg_temp.entry_inc('SP-5'), false, NULL, 'Nattlig export',
       'no log reference, and no event of skolplattform from 2026-10-20 02:00 to 2026-10-20 04:30 CEST'),
      ('claimed_no_evidence', NULL, 'SP-6', NULL, NULL, NULL, NULL,
       pg_temp.entry_inc('SP-6'), false, NULL, '(restricted to bevis_protected)',
       'no log reference and no time to look for events by'),
      ('unreported_event', '2026-10-01 00:15', NULL, NULL, 'ev-0', 4, false, NULL, false, NULL,
       'authentication login failure', 'severity high (4)'),
      ('unreported_event', '2026-10-07 09:00', NULL, NULL, 'ev-3', 4, false, NULL, false, NULL,
       'authentication login failure', 'severity high (4)'),
      ('unreported_event', '2026-10-08 09:00', NULL, NULL, 'ev-4', 2, true, NULL, false, NULL,
       'authentication login failure', 'personal data'),
      ('unmentioned_rule_incident', '2026-10-12 10:00', NULL, NULL, NULL, NULL, NULL,
       pg_temp.ref('unmentioned'), false, 'hog', '(restricted to bevis_protected)',
       'opened by rule hog, events from 2026-10-12 10:00 to 2026-10-12 10:00 CEST')$$,
    'the exact findings of October, for a reader outside bevis_protected (SP-7 names an event '
    'of September; SP-8 an id with a blank, which covers that event)');
SELECT results_eq(
    $$SELECT f.report, f.entry, f.submission, f.item
        FROM bevis_reconcile('skolplattform', '2026-10') f WHERE f.entry_id = 'SP-3' OR f.event_id = 'ev-3'$$,
    $$VALUES ((SELECT id FROM report WHERE submission_id = 9502),
              (SELECT e.id FROM report_entry e JOIN report r ON r.id = e.report_id
                WHERE r.submission_id = 9502 AND e.entry_id = 'SP-3'), NULL::bigint, NULL::integer),
             (NULL, NULL, 9500, 3)$$,
    'each row links to its entry (report/row) or its event (submission:item)');
SELECT is((SELECT count(*)::int FROM bevis_reconcile('skolplattform', '2026-10', 3)
            WHERE finding = 'unreported_event'), 4, 'down to medium: ev-6 too');
SELECT results_eq(
    $$SELECT s.report, s.events FROM bevis_reconcile_summary('skolplattform', '2026-11') s$$,
    $$VALUES (NULL::bigint, 1::bigint)$$, 'no report for November');
SELECT results_eq(
    $$SELECT finding, event_id FROM bevis_reconcile('skolplattform', '2026-11')$$,
    $$VALUES ('unreported_event', 'ev-7')$$,
    'with no report every event of the month that qualifies is unreported');
SELECT throws_ok($$SELECT * FROM bevis_reconcile('ingen', '2026-10')$$, 'P0002',
                 'bevis: no supplier ingen', 'an unknown supplier');
SELECT throws_ok($$SELECT * FROM bevis_reconcile('skolplattform', '2026-13')$$, '22023',
                 'bevis: the period is a month like 2026-10, not 2026-13', 'a bad period');
SELECT throws_ok($$SELECT * FROM bevis_reconcile('skolplattform', '2026-10', 7)$$, '22023',
                 'bevis: the least severity is 0 to 6, not 7', 'a bad severity');
SELECT throws_ok($$SELECT * FROM bevis_reconcile_open('skolplattform', '2026-10')$$, '42501',
                 NULL, 'the auditor may not --open');

SET SESSION AUTHORIZATION tap_rc_prot;
SELECT results_eq(
    $$SELECT entry_id, incident, title FROM bevis_reconcile('skolplattform', '2026-10')
       WHERE finding <> 'unreported_event'$$,
    $$VALUES ('SP-3', pg_temp.entry_inc('SP-3'), 'Påstådd händelse'),
             ('SP-5', pg_temp.entry_inc('SP-5'), 'Nattlig export'),
             ('SP-6', pg_temp.entry_inc('SP-6'), 'Elev med skyddad identitet'),
             (NULL, pg_temp.ref('unmentioned'), 'Rule hog')$$,
    'bevis_protected reads the protected titles');

-- ---- --open --------------------------------------------------------------------------------
SET SESSION AUTHORIZATION tap_rc_ingest;
SELECT throws_ok($$SELECT * FROM bevis_reconcile_open('skolplattform', '2026-10')$$, '42501',
                 NULL, 'nor may the ingest role');
SET SESSION AUTHORIZATION tap_rc_isam;
CREATE TEMP TABLE rc_open AS SELECT * FROM bevis_reconcile_open('skolplattform', '2026-10');
SELECT results_eq(
    $$SELECT finding, event_id, opened, incident IS NOT NULL FROM rc_open$$,
    $$VALUES ('claimed_no_evidence', NULL::text, false, true), ('claimed_no_evidence', NULL, false, true),
             ('claimed_no_evidence', NULL, false, true), ('unreported_event', 'ev-0', true, true),
             ('unreported_event', 'ev-3', true, true),
             ('unreported_event', 'ev-4', true, true),
             ('unmentioned_rule_incident', NULL, false, true)$$,
    '--open returns the findings, and opens one incident per unreported event');
SELECT results_eq(
    $$SELECT i.title, i.status, sp.name, i.personal_data, i.opened_by,
             to_char(i.occurred_at, 'YYYY-MM-DD HH24:MI'), i.description, d.rationale, d.actor,
             (SELECT string_agg(e.source_event_id, ',') FROM incident_link_current l
                JOIN event e ON e.submission_id = l.event_submission_id AND e.item_no = l.event_item_no
               WHERE l.incident_id = i.id)
        FROM rc_open o JOIN incident i ON i.ref = o.incident
        JOIN supplier sp ON sp.id = i.supplier_id
        JOIN decision d ON d.incident_id = i.id AND d.kind = 'open'
       WHERE o.opened ORDER BY o.event_id$$,
    $$VALUES
      ('skolplattform event ev-0, not in its report for 2026-10', 'new', 'skolplattform', 'unknown',
       'tap_rc_isam', '2026-10-01 00:15',
       'Seen in the logs of skolplattform, not in its report for 2026-10: event ev-0 at 2026-10-01 00:15 CEST, severity high (4), authentication login failure.',
       'Seen in the logs of skolplattform, not in its report for 2026-10: event ev-0 at 2026-10-01 00:15 CEST, severity high (4), authentication login failure.',
       'tap_rc_isam', 'ev-0'),
      ('skolplattform event ev-3, not in its report for 2026-10', 'new', 'skolplattform', 'unknown',
       'tap_rc_isam', '2026-10-07 09:00',
       'Seen in the logs of skolplattform, not in its report for 2026-10: event ev-3 at 2026-10-07 09:00 CEST, severity high (4), authentication login failure.',
       'Seen in the logs of skolplattform, not in its report for 2026-10: event ev-3 at 2026-10-07 09:00 CEST, severity high (4), authentication login failure.',
       'tap_rc_isam', 'ev-3'),
      ('skolplattform event ev-4, not in its report for 2026-10', 'new', 'skolplattform', 'yes',
       'tap_rc_isam', '2026-10-08 09:00',
       'Seen in the logs of skolplattform, not in its report for 2026-10: event ev-4 at 2026-10-08 09:00 CEST, personal data, authentication login failure.',
       'Seen in the logs of skolplattform, not in its report for 2026-10: event ev-4 at 2026-10-08 09:00 CEST, personal data, authentication login failure.',
       'tap_rc_isam', 'ev-4')$$,
    'each opened incident: its title, supplier, time, the finding as description and rationale, its event, session_user');
SELECT is((SELECT count(*)::int FROM bevis_reconcile_open('skolplattform', '2026-10') WHERE opened),
          0, 'a second --open opens nothing');
SELECT results_eq(
    $$SELECT finding, entry_id, incident FROM bevis_reconcile('skolplattform', '2026-10')$$,
    $$VALUES ('claimed_no_evidence', 'SP-3', pg_temp.entry_inc('SP-3')),
             ('claimed_no_evidence', 'SP-5', pg_temp.entry_inc('SP-5')),
             ('claimed_no_evidence', 'SP-6', pg_temp.entry_inc('SP-6')),
             ('unmentioned_rule_incident', NULL, pg_temp.ref('unmentioned'))$$,
    'after --open the unreported events are covered');
SELECT lives_ok($$SELECT bevis_incident_unlink((SELECT i.ref FROM incident i WHERE i.title = 'Handläggs'),
                                               '[{"event": "skolplattform:ev-5"}]', 'Fel händelse')$$,
                'ev-5 unlinked');
SELECT results_eq(
    $$SELECT event_id FROM bevis_reconcile('skolplattform', '2026-10') WHERE finding = 'unreported_event'$$,
    $$VALUES ('ev-5')$$, 'an unlinked event is no longer covered');
RESET SESSION AUTHORIZATION;

SELECT * FROM finish();
ROLLBACK;
