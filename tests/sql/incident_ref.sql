-- incident_ref.sql - pgTAP tests of sql/0016_incident_ref.sql: incident
-- numbers past 9999 in a year keep all their digits. Run by
-- tests/integration/test_sql.py; one transaction, rolled back.
BEGIN;
SELECT plan(4);

CREATE ROLE tapr_isam LOGIN IN ROLE bevis_isam;

SET SESSION AUTHORIZATION tapr_isam;
CREATE TEMP TABLE r1 AS SELECT bevis_incident_open('{"title": "Först"}') AS ref;
RESET SESSION AUTHORIZATION;
SELECT alike((SELECT ref FROM r1), 'INC-____-0001', 'the first of a year has four digits');

-- Skip to the end of the four-digit numbers.
UPDATE incident_counter SET last = 9998;
GRANT SELECT ON r1 TO PUBLIC;
SET SESSION AUTHORIZATION tapr_isam;
CREATE TEMP TABLE r2 AS
SELECT bevis_incident_open('{"title": "Nummer 9999"}') AS a,
       bevis_incident_open('{"title": "Nummer 10000"}') AS b,
       bevis_incident_open('{"title": "Nummer 10001"}') AS c;
RESET SESSION AUTHORIZATION;
SELECT is((SELECT a FROM r2), replace((SELECT ref FROM r1), '0001', '9999'), '9999 as it was');
SELECT is((SELECT b FROM r2), replace((SELECT ref FROM r1), '0001', '10000'),
          'the 10000th keeps five digits, not INC-YYYY-1000 again');
SELECT is((SELECT count(DISTINCT ref)::integer FROM incident), 4, 'four incidents, four references');

SELECT * FROM finish();
ROLLBACK;
