-- stats.sql - pgTAP tests of sql/0010_stats.sql: the funnel, the shares and
-- medians, each with the year before; groups by month, supplier, category
-- and cause; which year an incident belongs to (detected_at in the session's
-- TimeZone); merged ones counted once; protected ones counted for everyone;
-- a year with no data; bad input; who may call what. Run by
-- tests/integration/test_sql.py with pg_prove; rolled back.
BEGIN;
SELECT plan(26);

CREATE ROLE tap_stats_isam LOGIN IN ROLE bevis_isam;
CREATE ROLE tap_stats_auditor LOGIN IN ROLE bevis_auditor;
CREATE ROLE tap_stats_ingest LOGIN IN ROLE bevis_ingest;

SET TimeZone = 'Europe/Stockholm';
\ir fixtures/stats_two_years.sql

SET SESSION AUTHORIZATION tap_stats_auditor;

-- ---- the funnel ------------------------------------------------------------------
SELECT results_eq(
    'SELECT ord, figure, this_year, last_year FROM bevis_stats(2025)',
    $$VALUES (1, 'potential', 14::numeric, 9::numeric),
             (2, 'confirmed', 11, 8),
             (3, 'personal_data', 9, 5),
             (4, 'notified', 7, 3),
             (5, 'notified_72h', 6, 2),
             (6, 'notified_72h_pct', 85.7, 66.7),
             (7, 'dismissed', 2, 1),
             (8, 'still_open', 1, 0),
             (9, 'median_hours_to_decision', 0.0, 0.0),
             (10, 'median_hours_to_notification', 40.0, 48.0)$$,
    'bevis_stats(2025): the review''s 11 / 9 / 7, with 2024 beside it');
SELECT results_eq(
    'SELECT figure, this_year, last_year FROM bevis_stats(2024)',
    $$VALUES ('potential', 9::numeric, 1::numeric), ('confirmed', 8, 1),
             ('personal_data', 5, 0), ('notified', 3, 0), ('notified_72h', 2, 0),
             ('notified_72h_pct', 66.7, NULL), ('dismissed', 1, 0), ('still_open', 0, 0),
             ('median_hours_to_decision', 0.0, 0.0),
             ('median_hours_to_notification', 48.0, NULL)$$,
    'bevis_stats(2024), with 2023''s one incident beside it');
SELECT results_eq(
    'SELECT this_year, last_year FROM bevis_stats(2030) ORDER BY ord',
    $$VALUES (0::numeric, 0::numeric), (0, 0), (0, 0), (0, 0), (0, 0), (NULL, NULL),
             (0, 0), (0, 0), (NULL, NULL), (NULL, NULL)$$,
    'a year with no data: zeros, and no share or median');

-- ---- groups ----------------------------------------------------------------------
SELECT results_eq(
    'SELECT grp, potential, confirmed, personal_data, notified, last_potential, '
    '       last_confirmed, last_personal_data, last_notified '
    '  FROM bevis_stats_by(2025, ''month'')',
    $$VALUES ('01', 1::bigint, 1::bigint, 1::bigint, 1::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint),
             ('02', 1, 1, 1, 1, 1, 1, 1, 1),
             ('03', 2, 2, 2, 2, 1, 1, 0, 0),
             ('04', 1, 1, 0, 0, 1, 1, 1, 1),
             ('05', 1, 1, 1, 1, 1, 0, 0, 0),
             ('06', 1, 1, 1, 1, 1, 1, 1, 0),
             ('07', 0, 0, 0, 0, 0, 0, 0, 0),
             ('08', 1, 0, 0, 0, 0, 0, 0, 0),
             ('09', 1, 1, 1, 1, 1, 1, 1, 0),
             ('10', 2, 1, 1, 0, 1, 1, 0, 0),
             ('11', 1, 1, 1, 0, 1, 1, 0, 0),
             ('12', 2, 1, 0, 0, 1, 1, 1, 1)$$,
    'by month: all twelve, this year and last');
SELECT results_eq(
    'SELECT grp, potential, confirmed, personal_data, notified, last_confirmed '
    '  FROM bevis_stats_by(2025, ''supplier'')',
    $$VALUES ('skolplattform', 8::bigint, 6::bigint, 5::bigint, 4::bigint, 4::bigint),
             ('m365', 5, 4, 3, 2, 3),
             ('(none)', 1, 1, 1, 1, 1)$$,
    'by supplier: largest first, (none) for no supplier');
SELECT results_eq(
    'SELECT grp, confirmed, last_confirmed FROM bevis_stats_by(2025, ''cause'')',
    $$VALUES ('human', 5::bigint, 4::bigint), ('external_attack', 3, 2),
             ('technical', 2, 1), ('supplier', 1, 0), ('(none)', 0, 0), ('other', 0, 1)$$,
    'by cause');
SELECT is((SELECT sum(confirmed) FROM bevis_stats_by(2025, 'category')), 11::numeric,
          'by category: the confirmed add up to 11');
SELECT is((SELECT confirmed FROM bevis_stats_by(2025, 'category') WHERE grp = 'attack'),
          3::bigint, 'by category: 3 attacks confirmed in 2025');

-- ---- what counts -----------------------------------------------------------------
SELECT is((SELECT count(*) FROM incident_overview WHERE status = 'merged'), 1::bigint,
          'one incident is merged');
SELECT is((SELECT count(*) FROM incident_overview
            WHERE coalesce(detected_at, opened_at) >= '2025-01-01' AND detected_at < '2026-01-01'),
          15::bigint, '15 were opened for 2025; the merged one is not counted (14)');
SELECT is((SELECT count(*) FROM incident), 24::bigint,
          'the auditor reads 24 of the 25 incidents: one is protected');
SELECT is((SELECT this_year FROM bevis_stats(2025) WHERE figure = 'notified'), 7::numeric,
          'the protected one is counted all the same');

-- The year is the session's TimeZone: in UTC, 2025-01-01 00:30 Stockholm is 2024.
RESET SESSION AUTHORIZATION;
SET TimeZone = 'UTC';
SET SESSION AUTHORIZATION tap_stats_auditor;
SELECT results_eq(
    'SELECT this_year, last_year FROM bevis_stats(2025) WHERE ord <= 4 ORDER BY ord',
    $$VALUES (13::numeric, 10::numeric), (10, 9), (8, 6), (6, 4)$$,
    'in UTC the new-year incident moves to 2024');
RESET SESSION AUTHORIZATION;
SET TimeZone = 'Europe/Stockholm';

-- Opened to decision: the verdict (first confirmed or dismissed) minus
-- opened_at. Move the 2025 verdicts 1 to 13 hours after opening (behind the
-- guard, as only a superuser could): the median is 7 hours.
ALTER TABLE decision DISABLE TRIGGER decision_guard;
UPDATE decision d SET at = i.opened_at + make_interval(hours => v.n)
  FROM (SELECT d2.id, row_number() OVER (ORDER BY i2.detected_at)::integer AS n
          FROM decision d2 JOIN incident i2 ON i2.id = d2.incident_id
         WHERE i2.detected_at >= '2025-01-01' AND i2.detected_at < '2026-01-01'
           AND d2.after ->> 'status' IN ('confirmed', 'dismissed')) v,
       incident i
 WHERE d.id = v.id AND i.id = d.incident_id;
ALTER TABLE decision ENABLE ALWAYS TRIGGER decision_guard;
SELECT is((SELECT this_year FROM bevis_stats(2025) WHERE figure = 'median_hours_to_decision'),
          7.0, 'median hours from opening to the verdict');
SELECT is((SELECT last_year FROM bevis_stats(2025) WHERE figure = 'median_hours_to_decision'),
          0.0, 'the year before, untouched: 0.0');

-- ---- bad input -------------------------------------------------------------------
SET SESSION AUTHORIZATION tap_stats_isam;
SELECT throws_ok('SELECT * FROM bevis_stats(1900)', '22023',
                 'bevis: 1900 is not a year bevis counts', 'a year out of range');
SELECT throws_ok('SELECT * FROM bevis_stats(NULL)', '22023',
                 'bevis: NULL is not a year bevis counts', 'no year');
SELECT throws_ok('SELECT * FROM bevis_stats_by(2025, ''weekday'')', '22023',
                 'bevis: statistics cannot be grouped by weekday', 'an unknown grouping');
SELECT throws_ok('SELECT * FROM bevis_stats_by(2025, NULL)', '22023',
                 'bevis: statistics cannot be grouped by ?', 'no grouping');
SELECT is((SELECT count(*) FROM bevis_stats(2025)), 10::bigint, 'the ISAM may call it');

-- ---- who may call what -----------------------------------------------------------
SELECT throws_ok('SELECT * FROM bevis_stats_incidents(2025)', '42501', NULL,
                 'the per-incident rows stay internal (ISAM)');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION tap_stats_auditor;
SELECT throws_ok('SELECT * FROM bevis_stats_incidents(2025)', '42501', NULL,
                 'the per-incident rows stay internal (auditor)');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION tap_stats_ingest;
SELECT throws_ok('SELECT * FROM bevis_stats(2025)', '42501', NULL,
                 'the daemon''s role may not read statistics');
SELECT throws_ok('SELECT * FROM bevis_stats_by(2025, ''month'')', '42501', NULL,
                 'nor by group');
RESET SESSION AUTHORIZATION;

-- ---- the functions' settings ------------------------------------------------------
SELECT is((SELECT count(*) FROM pg_proc
            WHERE proname IN ('bevis_stats', 'bevis_stats_by', 'bevis_stats_incidents')
              AND prosecdef
              AND proconfig = ARRAY['search_path=pg_catalog, public, pg_temp']),
          3::bigint, 'SECURITY DEFINER with a fixed search_path');
SELECT is((SELECT count(*) FROM pg_proc p
            WHERE proname LIKE 'bevis_stats%'
              AND has_function_privilege('public', p.oid, 'EXECUTE')), 0::bigint,
          'PUBLIC may execute none of them');

SELECT * FROM finish();
ROLLBACK;
