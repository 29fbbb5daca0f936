-- quality.sql - pgTAP tests of sql/0017_quality.sql: every measure of a
-- supplier-month with known flaws (tests/sql/fixtures/quality_month.sql),
-- the score and its weights, chain breaks and forks, that the summaries
-- bevisd keeps up batch by batch equal a rebuild, the lag buckets, bad
-- input, and who may call what. Run by tests/integration/test_sql.py with
-- pg_prove; rolled back.
BEGIN;
SELECT plan(38);

CREATE ROLE tap_quality_isam LOGIN IN ROLE bevis_isam;
CREATE ROLE tap_quality_auditor LOGIN IN ROLE bevis_auditor;
CREATE ROLE tap_quality_ingest LOGIN IN ROLE bevis_ingest;

SET TimeZone = 'Europe/Stockholm';
\ir fixtures/quality_month.sql

CREATE TEMP VIEW q AS
SELECT * FROM bevis_quality('acme', '2026-10', '2026-10', '{"acme": 10}', NULL,
                            '2026-12-02 12:00+00');
GRANT SELECT ON q TO PUBLIC;

SET SESSION AUTHORIZATION tap_quality_auditor;

-- ---- each measure of acme, October 2026 ----------------------------------------
SELECT results_eq('SELECT events, volume_median, round(volume_share::numeric, 4) FROM q',
    $$VALUES (3710::bigint, 7200::double precision, 0.5153)$$,
    'volume: 3,710 events against a median of 7,200 (September)');
SELECT results_eq('SELECT covered_hours, active_hours, hourly, silent_hours FROM q',
    $$VALUES (745, 742, true, 3)$$,
    'silence: 3 silent hours of 745 (October has the extra hour of winter time)');
SELECT results_eq('SELECT share_actor_user, share_action, share_outcome, share_src_ip, share_target FROM q',
    $$VALUES (0.8::double precision, 1::double precision, 1::double precision,
              1::double precision, 1::double precision)$$,
    'completeness: 20 % without actor.user, the rest all there');
SELECT results_eq('SELECT lag_p50, lag_p99, future_events, late_events FROM q',
    $$VALUES (30::double precision, 7200::double precision, 5::bigint, 2::bigint)$$,
    'clock: median 30 s, p99 2 h, 5 in the future, 2 more than 24 h late');
SELECT results_eq('SELECT seq_events, seq_gaps, seq_missing, seq_repeats, seq_reorders FROM q',
    $$VALUES (3710::bigint, 2::bigint, 4::bigint, 1::bigint, 0::bigint)$$,
    'sequence: 2 gaps (4 missing) and 1 repeat');
SELECT results_eq('SELECT items, quarantined, duplicates FROM q',
    $$VALUES (3822::bigint, 38::bigint, 74::bigint)$$,
    'rejects: 38 quarantined and 74 resent of 3,822 items');
SELECT results_eq('SELECT report_status, report_days_late, report_received_at, report_due_at FROM q',
    $$VALUES ('late', 4, '2026-11-14 10:00+01'::timestamptz, '2026-11-11 00:00+01'::timestamptz)$$,
    'reporting: due by the end of 10 November, came on the 14th: 4 days late');
SELECT results_eq('SELECT scores, score FROM q',
    $$VALUES ('{"volume": 51.5, "silence": 95.8, "completeness": 96.0, "clock": 99.8,
               "sequence": 99.9, "chain": null, "rejects": 97.1, "reporting": 60}'::jsonb,
              88.2::double precision)$$,
    'the sub-scores, and the score they make with the default weights');

-- ---- other months, other weights ------------------------------------------------
SELECT results_eq(
    $$SELECT supplier, period, score FROM bevis_quality(NULL, NULL, '2026-10', '{"acme": 10}', NULL, '2026-12-02 12:00+00')$$,
    $$VALUES ('acme', '2026-09', 100::double precision), ('acme', '2026-10', 88.2),
             ('kedja', '2026-10', 53.6)$$,
    'every supplier from its first month; September was flawless');
SELECT results_eq(
    $$SELECT period, events, covered_hours, report_status, report_days_late, score
        FROM bevis_quality('acme', '2026-11', NULL, '{"acme": 10}', NULL, '2026-12-02 12:00+00')$$,
    $$VALUES ('2026-11', 0::bigint, 720, 'not_due', NULL::integer, 0::double precision),
             ('2026-12', 0::bigint, 37, 'not_due', NULL::integer, 0::double precision)$$,
    'a silent month scores 0: no volume against the median, and every hour silent');
SELECT results_eq(
    $$SELECT silent_hours, scores ->> 'silence' FROM bevis_quality('acme', '2026-11', '2026-11', '{}', NULL, '2026-12-02 12:00+00')$$,
    $$VALUES (720, '0.0')$$,
    'November: 720 silent hours');
SELECT results_eq(
    $$SELECT score FROM bevis_quality('acme', '2026-10', '2026-10', '{"acme": 10}',
                                      '{"reporting": 0, "volume": 0}', '2026-12-02 12:00+00')$$,
    $$VALUES (97.5::double precision)$$,
    'weights from the config: without volume and reporting, 97.5');
SELECT results_eq(
    $$SELECT report_status, score FROM bevis_quality('acme', '2026-10', '2026-10', '{}', NULL, '2026-12-02 12:00+00')$$,
    $$VALUES ('not_expected', 91.8::double precision)$$,
    'no report_due_day: reporting does not count');
SELECT results_eq(
    $$SELECT report_status, report_days_late FROM bevis_quality('acme', '2026-10', '2026-10', '{"acme": 10}', NULL, '2026-11-12 12:00+01')$$,
    $$VALUES ('missing', 2)$$,
    'before it came, the report was missing: 2 days late on the 12th');

-- ---- chains -----------------------------------------------------------------------
SELECT results_eq(
    $$SELECT chain_events, chain_starts, chain_breaks, chain_forks, scores ->> 'chain'
        FROM bevis_quality('kedja', '2026-10', '2026-10', '{}', NULL, '2026-12-02 12:00+00')$$,
    $$VALUES (7::bigint, 1::bigint, 1::bigint, 1::bigint, '71.4')$$,
    'kedja: 7 chained events, one break, one fork');
SELECT results_eq(
    $$SELECT kind, item_no, source_event_id, other FROM bevis_quality_chain('kedja', '2026-10')$$,
    $$VALUES ('break', 3, 'k5', NULL), ('fork', 6, 'k8', '300001:5 k7')$$,
    'the break is at k5 (k4 was never sent); k8 forks from k7');
SELECT is_empty($$SELECT * FROM bevis_quality_chain('acme', '2026-10')$$,
    'no chain, no breaks');

-- ---- kept up as events arrive = rebuilt -------------------------------------------
RESET SESSION AUTHORIZATION;
CREATE TEMP TABLE rebuilt AS
SELECT supplier_id, hour, sum(events) ev, sum(items) it, sum(quarantined) qu,
       sum(with_user) wu, sum(future) fu, sum(late) la, sum(seq_gaps) sg,
       sum(seq_missing) sm, sum(seq_repeats) sr, sum(seq_reorders) so, sum(chain_events) ce,
       sum(chain_starts) cs, sum(chain_breaks) cb, sum(chain_forks) cf
  FROM quality_hour GROUP BY 1, 2;
CREATE TEMP TABLE rebuilt_lag AS
SELECT supplier_id, hour, bucket, sum(n) n FROM quality_lag GROUP BY 1, 2, 3;
DELETE FROM quality_hour;
DELETE FROM quality_lag;
DELETE FROM quality_seq_state;
DELETE FROM quality_seq_gap;
DELETE FROM quality_seq_fill;
DELETE FROM event_chain;
-- One submission at a time, as bevisd's batches add them.
DO $$
DECLARE s bigint;
BEGIN
    FOR s IN SELECT id FROM submission ORDER BY id LOOP
        PERFORM bevis_quality_add(ARRAY[s]);
    END LOOP;
END
$$;
SELECT results_eq(
    $$SELECT supplier_id, hour, sum(events) ev, sum(items) it, sum(quarantined) qu,
             sum(with_user) wu, sum(future) fu, sum(late) la, sum(seq_gaps) sg,
             sum(seq_missing) sm, sum(seq_repeats) sr, sum(seq_reorders) so, sum(chain_events) ce,
             sum(chain_starts) cs, sum(chain_breaks) cb, sum(chain_forks) cf
        FROM quality_hour GROUP BY 1, 2 ORDER BY 1, 2$$,
    'SELECT * FROM rebuilt ORDER BY 1, 2',
    'added one submission at a time, the hours equal the rebuild');
SELECT results_eq(
    'SELECT supplier_id, hour, bucket, sum(n) FROM quality_lag GROUP BY 1, 2, 3 ORDER BY 1, 2, 3',
    'SELECT * FROM rebuilt_lag ORDER BY 1, 2, 3',
    'and so do the lag buckets');

-- A late number fills its gap: a reordering, no longer missing.
INSERT INTO submission (id, supplier_id, request_id, content_type, received_at, sha256, body, item_count)
SELECT 400001, id, 'late-seq', 'application/x-ndjson', '2026-10-31 20:10', sha256('\x03'::bytea), '\x03', 1
  FROM supplier WHERE name = 'acme';
INSERT INTO event (submission_id, item_no, supplier_id, source_event_id, occurred_at, seq, raw_offset, raw_length)
SELECT 400001, 0, id, 'late-1001', '2026-10-31 20:09', 1001, 0, 1 FROM supplier WHERE name = 'acme';
SELECT bevis_quality_add(ARRAY[400001::bigint]);
SELECT results_eq(
    $$SELECT seq_gaps, seq_missing, seq_repeats, seq_reorders FROM bevis_quality('acme', '2026-10', '2026-10', '{}', NULL, '2026-12-02 12:00+00')$$,
    $$VALUES (2::bigint, 3::bigint, 1::bigint, 1::bigint)$$,
    'seq 1001 arriving last: 1 reordering, 3 missing');

-- Below the lowest number: a reordering, and the numbers up to the lowest
-- are missing until they come; one of them twice is a repeat. A number that
-- fills its gap within a minute is no reordering (requests in flight).
INSERT INTO supplier (name, created_at) VALUES ('lagom', '2026-10-01');
INSERT INTO submission (id, supplier_id, request_id, content_type, received_at, sha256, body, item_count)
SELECT 500000 + n, (SELECT id FROM supplier WHERE name = 'lagom'), 'l' || n,
       'application/x-ndjson',
       timestamptz '2026-10-03 10:00' + (ARRAY[0, 0, 180, 240, 240, 300, 300.5])[n] * interval '1 minute',
       sha256(int8send(n)), '\x04', 1
  FROM generate_series(1, 7) n;
INSERT INTO event (submission_id, item_no, supplier_id, source_event_id, occurred_at, seq, raw_offset, raw_length)
SELECT 500000 + n, 0, (SELECT id FROM supplier WHERE name = 'lagom'), 'l' || n,
       '2026-10-03 10:00', (ARRAY[10, 11, 5, 7, 7, 13, 12])[n], 0, 1
  FROM generate_series(1, 7) n;
SELECT bevis_quality_add(ARRAY[500001, 500002::bigint]);
SELECT bevis_quality_add(ARRAY[500003::bigint]);
SELECT bevis_quality_add(ARRAY[500004, 500005::bigint]);
SELECT bevis_quality_add(ARRAY[500006::bigint]);
SELECT bevis_quality_add(ARRAY[500007::bigint]);
SELECT results_eq(
    $$SELECT seq_events, seq_gaps, seq_missing, seq_repeats, seq_reorders FROM bevis_quality('lagom', '2026-10', '2026-10', '{}', NULL, '2026-12-02 12:00+00')$$,
    $$VALUES (7::bigint, 2::bigint, 3::bigint, 1::bigint, 2::bigint)$$,
    '10, 11, 5 (3 h later), 7, 7, 13, 12 (30 s after 13): 6-9 missing once 5 came, 7 filled, then repeated; 12 filled at once');
SELECT results_eq(
    $$SELECT n FROM quality_seq_gap g, generate_series(g.lo, g.hi) n
       WHERE g.supplier_id = (SELECT id FROM supplier WHERE name = 'lagom')
         AND NOT EXISTS (SELECT 1 FROM quality_seq_fill f WHERE f.supplier_id = g.supplier_id AND f.seq = n)
       ORDER BY n$$,
    $$VALUES (6::bigint), (8::bigint), (9::bigint)$$,
    'the numbers still missing: 6, 8 and 9');

-- The largest seq a supplier may send (PROTOCOL.md) must not overflow.
INSERT INTO supplier (name, created_at) VALUES ('stor', '2026-10-01');
INSERT INTO submission (id, supplier_id, request_id, content_type, received_at, sha256, body, item_count)
SELECT 600000 + n, (SELECT id FROM supplier WHERE name = 'stor'), 's' || n,
       'application/x-ndjson', '2026-10-04 10:00', sha256(int8send(600000 + n)), '\x05', 1
  FROM generate_series(1, 3) n;
INSERT INTO event (submission_id, item_no, supplier_id, source_event_id, occurred_at, seq, raw_offset, raw_length)
SELECT 600000 + n, 0, (SELECT id FROM supplier WHERE name = 'stor'), 's' || n, '2026-10-04 10:00',
       (ARRAY[9223372036854775806, 9223372036854775807, 0])[n], 0, 1
  FROM generate_series(1, 3) n;
SELECT lives_ok('SELECT bevis_quality_add(ARRAY[600001, 600002, 600003::bigint])',
    'seq 2^63 - 2, 2^63 - 1 and then 0: no overflow');
SELECT results_eq(
    $$SELECT seq_gaps, seq_missing FROM bevis_quality('stor', '2026-10', '2026-10', '{}', NULL, '2026-12-02 12:00+00')$$,
    $$VALUES (1::bigint, 9223372036854775805::bigint)$$,
    '0 below the lowest leaves 1 .. 2^63 - 3 missing');

-- The missing k4 arrives after all: k5 is no longer a break.
DO $$
DECLARE
    sp   integer := (SELECT id FROM supplier WHERE name = 'kedja');
    line text := format('{"id":"k4","time":"2026-10-01T10:00:00Z","chain":{"prev":"%s"}}',
                        (SELECT encode(sha256, 'hex') FROM event_chain
                          WHERE submission_id = 300001 AND item_no = 2));
BEGIN
    INSERT INTO submission (id, supplier_id, request_id, content_type, received_at, sha256,
                            body, item_count)
    VALUES (300002, sp, 'chain-2', 'application/x-ndjson', '2026-10-02 09:00',
            sha256(convert_to(line, 'UTF8')), convert_to(line, 'UTF8'), 1);
    INSERT INTO event (submission_id, item_no, supplier_id, source_event_id, occurred_at,
                       attrs, raw_offset, raw_length)
    VALUES (300002, 0, sp, 'k4', '2026-10-01 12:00',
            json_build_object('chain', (line::json) -> 'chain'), 0, octet_length(line));
END
$$;
SELECT bevis_quality_add(ARRAY[300002::bigint]);
SELECT results_eq(
    $$SELECT chain_events, chain_breaks, chain_forks
        FROM bevis_quality('kedja', '2026-10', '2026-10', '{}', NULL, '2026-12-02 12:00+00')$$,
    $$VALUES (8::bigint, 0::bigint, 1::bigint)$$,
    'k4 came late: 8 chained events, no break, still the fork');
SELECT results_eq(
    $$SELECT kind, source_event_id FROM bevis_quality_chain('kedja', '2026-10')$$,
    $$VALUES ('fork', 'k8')$$,
    'and the listing agrees');

-- ---- the lag buckets --------------------------------------------------------------
SELECT results_eq(
    $$SELECT bevis_quality_lag_value(bevis_quality_lag_bucket(x))
        FROM unnest(ARRAY[0, 0.5, 59.9, 60, 61, 3599, 3600, 7300, 86399, 86400, 200000, 1e9,
                          -0.5, -600.5, -7200]::double precision[]) WITH ORDINALITY u (x, n)
       ORDER BY n$$,
    $$VALUES (0::double precision), (0), (45), (60), (60), (2700), (3600), (7200), (64800),
             (86400), (172800), (31536000), (0), (-600), (-7200)$$,
    'a lag stands for its bucket''s bound nearest zero');
SELECT is((SELECT count(DISTINCT bevis_quality_lag_bucket(s * exp(k / 100.0)))::integer
             FROM generate_series(0, 2000) k, (VALUES (1), (-1)) v (s)),
          (SELECT count(DISTINCT bevis_quality_lag_value(bevis_quality_lag_bucket(s * exp(k / 100.0))))::integer
             FROM generate_series(0, 2000) k, (VALUES (1), (-1)) v (s)),
          'no two buckets stand for the same lag (1 s to 15 years, either side)');

-- ---- bad input ------------------------------------------------------------------
SET SESSION AUTHORIZATION tap_quality_auditor;
SELECT throws_ok($$SELECT * FROM bevis_quality('acme', '2026-13', NULL, '{}', NULL)$$,
    '22023', 'bevis: a period is YYYY-MM, not 2026-13', 'a bad month');
SELECT throws_ok($$SELECT * FROM bevis_quality('nobody', NULL, NULL, '{}', NULL)$$,
    'P0002', 'bevis: no supplier named nobody', 'an unknown supplier');
SELECT throws_ok($$SELECT * FROM bevis_quality(NULL, NULL, NULL, '{}', '{"speed": 5}')$$,
    '22023', NULL, 'an unknown weight');
SELECT throws_ok($$SELECT * FROM bevis_quality(NULL, NULL, NULL, '{}', '{"clock": -1}')$$,
    '22023', 'bevis: quality weight clock is -1, not a number from 0 to 1000', 'a negative weight');
SELECT throws_ok($$SELECT * FROM bevis_quality(NULL, NULL, NULL, '{"acme": 31}', NULL)$$,
    '22023', 'bevis: report_due_day of acme is 31, not a day from 1 to 28', 'a bad due day');

-- ---- who may call what ----------------------------------------------------------
SELECT throws_ok('SELECT bevis_quality_rebuild()', '42501', NULL, 'an auditor may not rebuild');
SELECT throws_ok('SELECT bevis_quality_add(ARRAY[1::bigint])', '42501', NULL,
    'nor add to the summaries');
SELECT throws_ok('INSERT INTO quality_hour (supplier_id, hour, slot) VALUES (1, now(), 1)',
    '42501', NULL, 'nor write them directly (it may read them, as every table)');
SET SESSION AUTHORIZATION tap_quality_ingest;
SELECT throws_ok($$SELECT * FROM bevis_quality_chain('kedja', '2026-10')$$, '42501', NULL,
    'bevisd''s role reads scores, not the chain''s events');
SET SESSION AUTHORIZATION tap_quality_isam;
SELECT lives_ok('SELECT bevis_quality_rebuild()', 'the ISAM may rebuild the summaries');

RESET SESSION AUTHORIZATION;
SELECT * FROM finish();
ROLLBACK;
