-- reports.sql - pgTAP tests of sql/0011_reports.sql: bevis_report_ingest's
-- versions, duplicates, entry states, the incidents and decisions it makes
-- as session_user, its refusals, the roles, the append-only triggers, and
-- report entries as link targets. Run by tests/integration/test_sql.py;
-- everything happens in one transaction, rolled back.
BEGIN;
SELECT plan(31);

CREATE ROLE tap_rep_ingest LOGIN IN ROLE bevis_ingest;
CREATE ROLE tap_rep_isam LOGIN IN ROLE bevis_isam;
CREATE ROLE tap_rep_auditor LOGIN IN ROLE bevis_auditor;

INSERT INTO supplier (name) VALUES ('rep_sd'), ('rep_sp');
-- Four submissions of rep_sd and one without a source; bodies are what the
-- entries point into.
INSERT INTO submission (id, supplier_id, request_id, content_type, received_at, sha256,
                        body, item_count)
SELECT 900 + n, CASE WHEN n = 5 THEN NULL ELSE (SELECT id FROM supplier WHERE name = 'rep_sd') END,
       'rep' || n, 'text/csv', now(),
       sha256(convert_to(CASE WHEN n = 2 THEN 'v1' ELSE 'v' || n END, 'UTF8')),
       convert_to('body ' || n, 'UTF8'), 2
  FROM generate_series(1, 5) n;

CREATE FUNCTION pg_temp.entries(p jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT p $$;
GRANT EXECUTE ON FUNCTION pg_temp.entries(jsonb) TO PUBLIC;

SET SESSION AUTHORIZATION tap_rep_ingest;
-- ---- version 1 -----------------------------------------------------------------
CREATE TEMP TABLE r1 AS SELECT * FROM bevis_report_ingest(901, 'servicedesk', '2026-10',
    'Oktober', 'Åsa',
    '[{"item":0,"line":2,"off":0,"len":4,"id":"A","fields":{"title":"Lösenord delat","occurred_at":"2026-10-05 14:30","personal_data":"yes"},"attrs":{"Skola":"Björk"}},
      {"item":1,"line":3,"off":5,"len":1,"id":"B","fields":{"title":"Borttappad dator"}}]', 0);
GRANT SELECT ON r1 TO PUBLIC;
RESET SESSION AUTHORIZATION;  -- bevis_ingest reads no incidents; the owner checks
SELECT is((SELECT (version, duplicate, n_new, n_changed, n_unchanged, n_removed)::text FROM r1),
          '(1,f,2,0,0,0)', 'version 1: two new entries');
SELECT is((SELECT cardinality(incidents) FROM r1), 2, 'two incidents opened');
SELECT is((SELECT string_agg(opened_by || '/' || status, ',') FROM incident), 'tap_rep_ingest/new,tap_rep_ingest/new',
          'opened as new by session_user, the ingest login');
SELECT is((SELECT string_agg(DISTINCT actor, ',') FROM decision), 'tap_rep_ingest',
          'the decisions are the ingest login''s');
SELECT is((SELECT count(*)::int FROM incident_link WHERE target_kind = 'report_entry'), 2,
          'each incident is linked to its entry');
SELECT is((SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') FROM report_entry WHERE entry_id = 'A'),
          '2026-10-05 12:30', 'a Swedish local time, stored as an instant');
SELECT is((SELECT title || '/' || personal_data || '/' || (attrs ->> 'Skola') FROM report_entry WHERE entry_id = 'A'),
          'Lösenord delat/yes/Björk', 'fields and attrs');
SELECT is((SELECT i.personal_data FROM incident i JOIN report_entry_view e ON e.incident_id = i.id WHERE e.entry_id = 'A'),
          'yes', 'the incident starts with the entry''s personal-data flag');
SELECT is((SELECT convert_from(raw, 'UTF8') FROM report_entry_view WHERE entry_id = 'A'), 'body',
          'an entry points into its submission''s body');

-- ---- the same bytes again: a duplicate ----------------------------------------------
SELECT is((SELECT (version, duplicate, n_new)::text FROM bevis_report_ingest(902, 'servicedesk', '2026-10', 'x', 'y', '[]', 0)),
          '(1,t,0)', 'the same sha256 as the latest version is a duplicate');
SELECT is((SELECT count(*)::int FROM report), 1, 'a duplicate stores no report');

-- ---- version 2: A changed, B removed, C new ----------------------------------------
SET SESSION AUTHORIZATION tap_rep_ingest;
CREATE TEMP TABLE r2 AS SELECT * FROM bevis_report_ingest(903, 'servicedesk', '2026-10', 'Oktober v2', 'Åsa',
    '[{"item":0,"line":2,"off":0,"len":4,"id":"A","fields":{"title":"Lösenord delat","occurred_at":"2026-10-05 14:30","personal_data":"yes","status":"Stängd"},"attrs":{"Skola":"Ek"}},
      {"item":1,"line":3,"off":5,"len":1,"id":"C","fields":{"title":"Ny"}}]', 0);
GRANT SELECT ON r2 TO PUBLIC;
RESET SESSION AUTHORIZATION;
SELECT is((SELECT (version, duplicate, n_new, n_changed, n_unchanged, n_removed)::text FROM r2),
          '(2,f,1,1,0,1)', 'version 2: one new, one changed, one removed');
SELECT is((SELECT supersedes FROM report WHERE version = 2), (SELECT id FROM report WHERE version = 1),
          'version 2 supersedes version 1');
SELECT is((SELECT changed_fields FROM report_entry e JOIN report r ON r.id = e.report_id WHERE r.version = 2 AND entry_id = 'A'),
          ARRAY['attrs', 'status'], 'the changed fields');
SELECT is((SELECT string_agg(d.kind, ',' ORDER BY d.seq) FROM decision d JOIN report_entry_view e ON e.incident_id = d.incident_id
            WHERE e.entry_id = 'A' AND e.state = 'new'),
          'open,link,report_entry_changed', 'a changed entry adds a decision to its incident');
SELECT is((SELECT d.after ->> 'version' || '/' || (d.after -> 'fields')::text FROM decision d WHERE d.kind = 'report_entry_changed'),
          '2/["attrs", "status"]', 'naming the fields and the version');
SELECT is((SELECT count(*)::int FROM decision WHERE kind = 'report_entry_removed'), 1,
          'a removed entry adds a decision');
SELECT is((SELECT string_agg(DISTINCT i.status, ',') FROM incident i), 'new',
          'neither changes the incident''s status');
SELECT is((SELECT (state, item_no IS NULL, previous_id IS NOT NULL)::text FROM report_entry e JOIN report r ON r.id = e.report_id
            WHERE r.version = 2 AND entry_id = 'B'), '(removed,t,t)', 'the removed entry is a row of the version it left');

-- ---- version 3: B is back ----------------------------------------------------------
SELECT is((SELECT (n_new, n_changed, n_removed)::text FROM bevis_report_ingest(904, 'servicedesk', '2026-10', 'v3', 'Åsa',
    '[{"item":0,"line":2,"off":0,"len":4,"id":"B","fields":{"title":"Borttappad dator"}}]', 0)),
          '(0,1,2)', 'an entry back after a version without it is changed, not new');
SELECT is((SELECT changed_fields FROM report_entry e JOIN report r ON r.id = e.report_id WHERE r.version = 3 AND entry_id = 'B'),
          ARRAY['restored'], 'marked restored');
SELECT is((SELECT count(*)::int FROM incident), 3, 'no second incident for B');

-- ---- refusals ------------------------------------------------------------------------
SET SESSION AUTHORIZATION tap_rep_ingest;
SELECT throws_ok($$SELECT * FROM bevis_report_ingest(905, 'servicedesk', '2026-10', 't', 'a', '[]', 0)$$,
                 '22023', 'bevis: a report needs the submission of an authenticated source',
                 'a submission without a source');
SELECT throws_ok($$SELECT * FROM bevis_report_ingest(901, 'servicedesk', '2026-11', 't', 'a', '[]', 0)$$,
                 '23505', 'bevis: submission 901 is already a report', 'one report per submission');
SELECT throws_ok($$INSERT INTO report_entry (report_id, entry_id, state) VALUES (1, 'X', 'new')$$,
                 '42501', NULL, 'bevis_ingest cannot insert entries itself');
RESET SESSION AUTHORIZATION;
SELECT throws_ok($$UPDATE report_entry SET title = 'x'$$, '42501', NULL, 'report_entry is append-only, even for the owner');
SELECT throws_ok($$DELETE FROM report$$, '42501', NULL, 'report is append-only, even for the owner');

-- ---- report entries as link targets, and the roles -----------------------------------
SET SESSION AUTHORIZATION tap_rep_isam;
CREATE TEMP TABLE manual AS SELECT bevis_incident_open('{"title": "by hand"}',
    jsonb_build_array(jsonb_build_object('report_entry', (SELECT min(id) FROM report_entry)))) AS ref;
SELECT is((SELECT count(*)::int FROM incident_link l JOIN incident i ON i.id = l.incident_id
            WHERE i.ref = (SELECT ref FROM manual) AND l.target_kind = 'report_entry'), 1,
          'the ISAM links a report entry');
SELECT throws_ok($$SELECT bevis_incident_open('{"title": "x"}', '[{"report_entry": 999999}]')$$,
                 'P0002', 'bevis: no report entry 999999', 'an unknown entry is refused');
SELECT throws_ok($$SELECT * FROM bevis_report_ingest(904, 'servicedesk', '2026-12', 't', 'a', '[]', 0)$$,
                 '42501', NULL, 'the ISAM cannot store reports');
SET SESSION AUTHORIZATION tap_rep_auditor;
SELECT is((SELECT count(*)::int FROM report_view), 3, 'the auditor reads the reports');

RESET SESSION AUTHORIZATION;
SELECT * FROM finish();
ROLLBACK;
