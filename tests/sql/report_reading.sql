-- report_reading.sql - pgTAP tests of sql/0015_report_reading.sql: the
-- diff between report versions and report_overview's counts, the expected
-- reports of bevis deadlines, and "possibly the same incident" with its
-- reasons, its order and protected identity. Run by
-- tests/integration/test_sql.py; one transaction, rolled back.
BEGIN;
SELECT plan(34);

SET TimeZone = 'Europe/Stockholm';

CREATE ROLE tap_rr_isam LOGIN IN ROLE bevis_isam;
CREATE ROLE tap_rr_prot LOGIN IN ROLE bevis_isam, bevis_protected;
CREATE ROLE tap_rr_auditor LOGIN IN ROLE bevis_auditor;

INSERT INTO supplier (name, created_at) VALUES
    ('servicedesk', '2026-08-15 09:00+02'), ('skolplattform', '2026-01-01 00:00+01'),
    ('gammal', '2025-01-01 00:00+01');
UPDATE supplier SET active = false WHERE name = 'gammal';

-- ---- versions and their diff -------------------------------------------------------
-- Through bevis_report_ingest (sql/0011), as bevisd stores them.
INSERT INTO submission (id, supplier_id, request_id, content_type, received_at, sha256,
                        body, item_count)
SELECT n, (SELECT id FROM supplier WHERE name = 'servicedesk'), 'rr' || n, 'text/csv',
       '2026-11-03 09:00+01', sha256(n::text::bytea), 'x', 3
  FROM generate_series(9001, 9003) n;
CREATE TEMP TABLE rr_v (version integer, id bigint);
GRANT SELECT ON rr_v TO PUBLIC;
INSERT INTO rr_v SELECT version, report_id FROM bevis_report_ingest(9001, 'servicedesk', '2026-10',
    'Oktober', 'Servicedesk', '[
     {"item": 0, "line": 2, "off": 0, "len": 1, "id": "SD-1",
      "fields": {"title": "Nätfiske", "severity": "2", "system": "Mejl"},
      "attrs": {"Handläggare": "Eva"}},
     {"item": 1, "line": 3, "off": 0, "len": 1, "id": "SD-2",
      "fields": {"title": "Borttappad dator", "severity": "3"},
      "attrs": {"Handläggare": "Eva"}},
     {"item": 2, "line": 4, "off": 0, "len": 1, "id": "SD-3",
      "fields": {"title": "Fel mottagare", "severity": "1"}}]', 0);
INSERT INTO rr_v SELECT version, report_id FROM bevis_report_ingest(9002, 'servicedesk', '2026-10',
    'Oktober, rättad', 'Servicedesk', '[
     {"item": 0, "line": 2, "off": 0, "len": 1, "id": "SD-4",
      "fields": {"title": "Ny händelse", "severity": "2"}},
     {"item": 1, "line": 3, "off": 0, "len": 1, "id": "SD-1",
      "fields": {"title": "Nätfiske", "severity": "2", "system": "Mejl"},
      "attrs": {"Handläggare": "Eva"}},
     {"item": 2, "line": 4, "off": 0, "len": 1, "id": "SD-2",
      "fields": {"title": "Borttappad dator, krypterad", "severity": "3",
                 "system": "Lärplattan"},
      "attrs": {"Handläggare": "Örjan"}}]', 1);
SELECT bevis_report_ingest(9003, 'servicedesk', '2026-09', 'September', 'Servicedesk', '[]', 0);

SET SESSION AUTHORIZATION tap_rr_auditor;
SELECT results_eq(
    $$SELECT entry_id, state, field, before, after
        FROM bevis_report_diff((SELECT id FROM rr_v WHERE version = 1))$$,
    $$VALUES ('SD-1', 'new', NULL::text, NULL::text, NULL::text),
             ('SD-2', 'new', NULL, NULL, NULL), ('SD-3', 'new', NULL, NULL, NULL)$$,
    'a first version: every entry is new');
SELECT results_eq(
    $$SELECT entry_id, state, field, before, after
        FROM bevis_report_diff((SELECT id FROM rr_v WHERE version = 2))$$,
    $$VALUES ('SD-4', 'new', NULL::text, NULL::text, NULL::text),
             ('SD-1', 'unchanged', NULL, NULL, NULL),
             ('SD-2', 'changed', 'attrs.Handläggare', 'Eva', 'Örjan'),
             ('SD-2', 'changed', 'system', NULL, 'Lärplattan'),
             ('SD-2', 'changed', 'title', 'Borttappad dator', 'Borttappad dator, krypterad'),
             ('SD-3', 'removed', NULL, NULL, NULL)$$,
    'version 2: new, unchanged, changed field by field (attrs too), removed last');
SELECT is((SELECT count(*)::int FROM bevis_report_diff(-1)), 0, 'no such report: no rows');
RESET SESSION AUTHORIZATION;

-- A protected entry: which fields changed shows to all, the values only
-- to bevis_protected.
INSERT INTO submission (id, supplier_id, request_id, content_type, received_at, sha256,
                        body, item_count)
SELECT n, (SELECT id FROM supplier WHERE name = 'skolplattform'), 'rr' || n,
       'application/json', '2026-09-03 09:00+02', sha256(n::text::bytea), 'x', 1
  FROM generate_series(9011, 9012) n;
INSERT INTO rr_v SELECT 10 + version, report_id FROM bevis_report_ingest(9011, 'supplier', '2026-08',
    'Augusti', 'Säkerhetsansvarig', '[{"item": 0, "line": 1, "off": 0, "len": 1, "id": "SP-9",
      "fields": {"title": "Elev med skyddad identitet", "unit": "Tallåsens skola",
                 "protected_identity": "yes"}}]', 0);
INSERT INTO rr_v SELECT 10 + version, report_id FROM bevis_report_ingest(9012, 'supplier', '2026-08',
    'Augusti', 'Säkerhetsansvarig', '[{"item": 0, "line": 1, "off": 0, "len": 1, "id": "SP-9",
      "fields": {"title": "Elev med skyddad identitet", "unit": "Björkskolan",
                 "protected_identity": "yes"}}]', 0);
SET SESSION AUTHORIZATION tap_rr_isam;
SELECT results_eq(
    $$SELECT entry_id, state, field, before, after
        FROM bevis_report_diff((SELECT id FROM rr_v WHERE version = 12))$$,
    $$VALUES ('SP-9', 'changed', 'unit', '(restricted to bevis_protected)',
              '(restricted to bevis_protected)')$$,
    'a protected entry: the field, not its values, outside bevis_protected');
SET SESSION AUTHORIZATION tap_rr_prot;
SELECT results_eq(
    $$SELECT entry_id, state, field, before, after
        FROM bevis_report_diff((SELECT id FROM rr_v WHERE version = 12))$$,
    $$VALUES ('SP-9', 'changed', 'unit', 'Tallåsens skola', 'Björkskolan')$$,
    'bevis_protected sees the values');
SELECT is((SELECT i.protected_identity FROM incident i JOIN incident_link l
            ON l.incident_id = i.id AND l.target_kind = 'report_entry'
           JOIN report_entry e ON e.id = l.report_entry_id WHERE e.entry_id = 'SP-9'),
          true, 'its incident is protected too');
RESET SESSION AUTHORIZATION;

-- ---- expected reports -------------------------------------------------------------
SELECT results_eq(
    $$SELECT source, period, to_char(due_at, 'YYYY-MM-DD HH24:MI TZ')
        FROM bevis_report_deadlines('{"servicedesk": 10}', '2026-12-02 10:00+01')$$,
    $$VALUES ('servicedesk', '2026-08', '2026-09-11 00:00 CEST'),
             ('servicedesk', '2026-11', '2026-12-11 00:00 CET')$$,
    'expected from the month of registration; due by the end of day 10; 09 and 10 came');
SELECT is((SELECT min(due_at) FROM bevis_report_deadlines('{"servicedesk": 10}',
                                                           '2026-12-02 10:00+01')),
          '2026-09-10 22:00+00'::timestamptz, 'the end of day 10 in the local zone, as an instant');
SELECT is((SELECT count(*)::int FROM bevis_report_deadlines('{"servicedesk": 10}',
                                                             '2026-08-31 23:00+02')),
          0, 'nothing is expected of the month that has not ended');
SELECT is((SELECT string_agg(period, ',' ORDER BY period)
             FROM bevis_report_deadlines('{"skolplattform": 5}', '2026-04-01 00:00+02')),
          '2026-01,2026-02,2026-03', 'a source with no report: every month since registration');
SELECT is((SELECT count(*)::int FROM bevis_report_deadlines('{"gammal": 5}',
                                                             '2026-04-01 00:00+02')),
          0, 'a source no longer active is expected nothing');
SELECT is((SELECT count(*)::int FROM bevis_report_deadlines('{}', now())), 0,
          'no source configured: nothing expected');
SELECT throws_ok($$SELECT * FROM bevis_report_deadlines('{"servicedsek": 10}')$$, 'P0002',
                 'bevis: [source servicedsek] in the config names no registered source',
                 'a misspelt source is refused, so that the deadlines check fails loudly');
SELECT throws_ok($$SELECT * FROM bevis_report_deadlines('{"servicedesk": 29}')$$, '22023',
                 'bevis: report_due_day of servicedesk is 29, not a day from 1 to 28',
                 'a due day past 28 is refused');
SELECT throws_ok($$SELECT * FROM bevis_report_deadlines('[10]')$$, '22023',
                 'bevis: report due days must be a JSON object of source: day',
                 'due days that are not an object are refused');

-- ---- possibly the same incident ---------------------------------------------------
INSERT INTO submission (id, supplier_id, request_id, content_type, received_at, sha256,
                        body, item_count)
VALUES (9100, (SELECT id FROM supplier WHERE name = 'skolplattform'), 'rr-ev',
        'application/x-ndjson', now(), sha256('ev'), 'x', 6);
INSERT INTO event (submission_id, item_no, supplier_id, source_event_id, occurred_at,
                   actor_user, raw_offset, raw_length)
VALUES (9100, 0, (SELECT id FROM supplier WHERE name = 'skolplattform'), 'log-1',
        '2026-10-05 08:00+02', 'anna.svensson', 0, 1),
       (9100, 1, (SELECT id FROM supplier WHERE name = 'skolplattform'), 'log-2',
        '2026-10-05 23:30+02', 'Anna.Svensson ', 0, 1),
       (9100, 2, (SELECT id FROM supplier WHERE name = 'skolplattform'), 'log-3',
        '2026-10-20 10:00+02', 'cecilia', 0, 1),
       (9100, 3, (SELECT id FROM supplier WHERE name = 'skolplattform'), 'log-4',
        '2026-11-20 10:00+01', 'CECILIA', 0, 1),
       (9100, 4, (SELECT id FROM supplier WHERE name = 'skolplattform'), 'log-5',
        '2026-10-04 22:30+00', NULL, 0, 1);

SET SESSION AUTHORIZATION tap_rr_prot;
CREATE TEMP TABLE rr_inc (name text PRIMARY KEY, ref text);
GRANT ALL ON rr_inc TO PUBLIC;
-- a: anna's event log-1 on 5 October.
INSERT INTO rr_inc VALUES ('a', bevis_incident_open('{"title": "Inloggning från utlandet"}',
                                                     '[{"event": "skolplattform:log-1"}]'));
-- b: the same user (another case, a blank), another event, the same day.
INSERT INTO rr_inc VALUES ('b', bevis_incident_open('{"title": "Lösenordsbyte"}',
                                                     '[{"event": "skolplattform:log-2"}]'));
-- c: the very same event: log reference, user and day.
INSERT INTO rr_inc VALUES ('c', bevis_incident_open('{"title": "Samma logg"}',
                                                     '[{"event": "skolplattform:log-1"}]'));
-- d: the same event, but protected.
INSERT INTO rr_inc VALUES ('d', bevis_incident_open('{"title": "Skyddad elev", "protected_identity": true}',
                                                     '[{"event": "skolplattform:log-1"}]'));
-- e: the same event, but dismissed.
INSERT INTO rr_inc VALUES ('e', bevis_incident_open('{"title": "Avfärdad"}',
                                                     '[{"event": "skolplattform:log-1"}]'));
SELECT bevis_incident_decide((SELECT ref FROM rr_inc WHERE name = 'e'),
                             '{"status": "dismissed"}', 'falsklarm');
-- f: the same event, but already linked to a as related.
INSERT INTO rr_inc VALUES ('f', bevis_incident_open('{"title": "Redan länkad"}',
                                                     '[{"event": "skolplattform:log-1"}]'));
SELECT bevis_incident_link((SELECT ref FROM rr_inc WHERE name = 'a'),
                           jsonb_build_array(jsonb_build_object('incident',
                               (SELECT ref FROM rr_inc WHERE name = 'f'))));
-- g: only the time: occurred on 5 October (local), nothing else shared.
INSERT INTO rr_inc VALUES ('g', bevis_incident_open('{"title": "Strömavbrott", "occurred_at": "2026-10-05T12:00:00+02:00"}'));
-- h: an event at 00:30 local on 5 October, 22:30 UTC on the 4th: the same local day.
INSERT INTO rr_inc VALUES ('h', bevis_incident_open('{"title": "Natt"}',
                                                     '[{"event": "skolplattform:log-5"}]'));
-- i: nothing in common (another month).
INSERT INTO rr_inc VALUES ('i', bevis_incident_open('{"title": "Annat", "occurred_at": "2026-09-01T12:00:00+02:00"}'));
-- j carries cecilia only through k, merged into it; l has CECILIA.
INSERT INTO rr_inc VALUES ('j', bevis_incident_open('{"title": "Överlevare", "occurred_at": "2026-12-01T12:00:00+01:00"}'));
INSERT INTO rr_inc VALUES ('k', bevis_incident_open('{"title": "Sammanslagen"}',
                                                     '[{"event": "skolplattform:log-3"}]'));
SELECT bevis_incident_merge((SELECT ref FROM rr_inc WHERE name = 'k'),
                            (SELECT ref FROM rr_inc WHERE name = 'j'), 'samma händelse');
INSERT INTO rr_inc VALUES ('l', bevis_incident_open('{"title": "Cecilia igen"}',
                                                     '[{"event": "skolplattform:log-4"}]'));

RESET SESSION AUTHORIZATION;
-- sp: a supplier's report entry with the log reference of a's event, the
-- system of SD-2 in its second version, and a school.
INSERT INTO submission (id, supplier_id, request_id, content_type, received_at, sha256,
                        body, item_count)
VALUES (9101, (SELECT id FROM supplier WHERE name = 'skolplattform'), 'rr-sp',
        'application/json', now(), sha256('sp'), 'x', 1);
INSERT INTO rr_inc SELECT 'sp', incidents[1] FROM bevis_report_ingest(9101, 'supplier', '2026-10',
    'Oktober', 'Säkerhetsansvarig', '[
     {"item": 0, "line": 1, "off": 0, "len": 1, "id": "SP-1",
      "fields": {"title": "Misstänkt inloggning", "system": "LÄRPLATTAN ",
                 "unit": "Björkskolan", "log_ref": "log-1"}}]', 0);
INSERT INTO rr_inc SELECT 'sd2', i.ref FROM incident i
  JOIN incident_link l ON l.incident_id = i.id AND l.target_kind = 'report_entry'
  JOIN report_entry e ON e.id = l.report_entry_id WHERE e.entry_id = 'SD-2';
CREATE FUNCTION pg_temp.similar_to(p_name text)
RETURNS TABLE (name text, status text, title text, reasons jsonb) LANGUAGE sql AS $$
    SELECT (SELECT n.name FROM rr_inc n WHERE n.ref = s.ref), s.status, s.title, s.reasons
      FROM bevis_incident_similar((SELECT ref FROM rr_inc WHERE name = p_name)) s
$$;
GRANT EXECUTE ON FUNCTION pg_temp.similar_to(text) TO PUBLIC;

SET SESSION AUTHORIZATION tap_rr_isam;
SELECT results_eq(
    $$SELECT name, reasons FROM pg_temp.similar_to('a')$$,
    $$VALUES ('c', '[{"reason": "same_log_ref", "value": "log-1"},
                     {"reason": "same_user", "value": "anna.svensson"},
                     {"reason": "overlapping_time", "value": "2026-10-05"}]'::jsonb),
             ('b', '[{"reason": "same_user", "value": "Anna.Svensson"},
                     {"reason": "overlapping_time", "value": "2026-10-05"}]'),
             ('sp', '[{"reason": "same_log_ref", "value": "log-1"}]'),
             ('g', '[{"reason": "overlapping_time", "value": "2026-10-05"}]'),
             ('h', '[{"reason": "overlapping_time", "value": "2026-10-05"}]')$$,
    'a: strongest first; no protected, dismissed or already linked one; local days');
SELECT is((SELECT title FROM pg_temp.similar_to('a') WHERE name = 'c'), 'Samma logg',
          'the title of a suggestion');
SELECT is((SELECT status FROM pg_temp.similar_to('a') WHERE name = 'c'), 'new',
          'the status of a suggestion');
SELECT is((SELECT count(*)::int FROM pg_temp.similar_to('d')), 0,
          'a protected incident has no suggestions outside bevis_protected');
SELECT results_eq(
    $$SELECT name, reasons FROM pg_temp.similar_to('l')$$,
    $$VALUES ('j', '[{"reason": "same_user", "value": "cecilia"},
                     {"reason": "overlapping_time", "value": "2026-11-20"}]'::jsonb)$$,
    'the links of an incident merged into another count as the survivor''s');
SELECT is((SELECT count(*)::int FROM pg_temp.similar_to('k')), 0,
          'a merged incident has no suggestions: it is not open');
SELECT results_eq(
    $$SELECT name, reasons FROM pg_temp.similar_to('sp')$$,
    $$VALUES ('a', '[{"reason": "same_log_ref", "value": "log-1"}]'::jsonb),
             ('c', '[{"reason": "same_log_ref", "value": "log-1"}]'),
             ('f', '[{"reason": "same_log_ref", "value": "log-1"}]'),
             ('sd2', '[{"reason": "same_system", "value": "Lärplattan"}]')$$,
    'report entries: the log reference and the system (of a later version), without case');
SELECT is((SELECT count(*)::int FROM pg_temp.similar_to('i')), 0,
          'nothing in common: no suggestion');
SELECT is((SELECT count(*)::int FROM bevis_incident_similar('INC-1999-0001')), 0,
          'an unknown reference: no rows');
SELECT is((SELECT count(*)::int FROM pg_temp.similar_to('e')), 0,
          'a dismissed incident has no suggestions');
SELECT ok((SELECT 'a' IN (SELECT name FROM pg_temp.similar_to('g'))),
          'suggestions go both ways');
SELECT ok((SELECT 'a' NOT IN (SELECT name FROM pg_temp.similar_to('f'))),
          'a linked incident is left out from its side too');

SET SESSION AUTHORIZATION tap_rr_prot;
SELECT results_eq(
    $$SELECT name FROM pg_temp.similar_to('a')$$,
    $$VALUES ('c'), ('d'), ('b'), ('sp'), ('g'), ('h')$$,
    'bevis_protected sees the protected one among the suggestions');
SELECT results_eq(
    $$SELECT name FROM pg_temp.similar_to('d')$$,
    $$VALUES ('a'), ('c'), ('f'), ('b'), ('sp'), ('g'), ('h')$$,
    'and the suggestions of a protected incident');

SET SESSION AUTHORIZATION tap_rr_auditor;
SELECT is((SELECT count(*)::int FROM pg_temp.similar_to('a')), 5,
          'an auditor reads the suggestions too');
RESET SESSION AUTHORIZATION;

-- ---- privileges -----------------------------------------------------------------
SELECT ok(NOT has_function_privilege('bevis_ingest', 'bevis_incident_similar(text)', 'EXECUTE'),
          'bevisd has no use for the suggestions');
SELECT ok(NOT has_function_privilege('bevis_ingest', 'bevis_report_diff(bigint)', 'EXECUTE'),
          'nor for the diffs');
SELECT ok(has_function_privilege('bevis_auditor', 'bevis_report_deadlines(jsonb, timestamp with time zone)', 'EXECUTE'),
          'an auditor computes the expected reports');
SELECT ok(has_function_privilege('bevis_auditor', 'bevis_report_diff(bigint)', 'EXECUTE'),
          'an auditor reads the diffs');

SELECT * FROM finish();
ROLLBACK;
