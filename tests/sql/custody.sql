-- custody.sql - pgTAP tests of sql/0009_custody.sql: bevis_custody_record()
-- as the one way in, session_user as the actor, the rules on its input, the
-- roles that may record custody, append-only, protected identity, and the
-- custody leaf (kind 5) with fixed bytes. Run by
-- tests/integration/test_sql.py; one transaction, rolled back.
BEGIN;
SELECT plan(28);

CREATE ROLE tapc_isam LOGIN IN ROLE bevis_isam;
CREATE ROLE tapc_auditor LOGIN IN ROLE bevis_auditor;
CREATE ROLE tapc_prot LOGIN IN ROLE bevis_isam, bevis_protected;
CREATE ROLE tapc_ingest LOGIN IN ROLE bevis_ingest;

-- A signed tree head to name (the signature is not checked here).
INSERT INTO tree_head (tree_size, root, checkpoint)
VALUES (1, sha256('r'), 'x'), (2, sha256('s'), 'y');

SET SESSION AUTHORIZATION tapc_isam;
CREATE TEMP TABLE refs AS
SELECT bevis_incident_open('{"title": "Nätfiske"}') AS a,
       bevis_incident_open('{"title": "Skyddad", "protected_identity": false}') AS b;
GRANT SELECT ON refs TO PUBLIC;
CREATE FUNCTION pg_temp.rec(p_ref text, p_reason text, p_tree bigint DEFAULT 1)
RETURNS integer LANGUAGE sql AS $$
    SELECT bevis_custody_record(p_ref, 'export', p_reason, 'host:/tmp/b',
                                '{"incidents": ["x"], "decisions": 1}', p_tree,
                                sha256('manifest'), 'bevis 0.1.0')
$$;
GRANT EXECUTE ON FUNCTION pg_temp.rec(text, text, bigint) TO PUBLIC;

-- ---- recording --------------------------------------------------------------------
SET SESSION AUTHORIZATION tapc_auditor;
SELECT is(pg_temp.rec((SELECT a FROM refs), '  Begäran från revisionen  '), 1,
          'the auditor records custody; the first is number 1');
SELECT is((SELECT actor FROM custody), 'tapc_auditor', 'the actor is session_user');
SELECT is((SELECT reason FROM custody), 'Begäran från revisionen', 'the reason is kept, trimmed');
SELECT is((SELECT destination || ' ' || tool || ' ' || tree_size FROM custody),
          'host:/tmp/b bevis 0.1.0 1', 'where to, the tool and the tree head are kept');
SELECT is((SELECT l.kind FROM ledger_leaf l JOIN custody c ON c.leaf_idx = l.idx), 'custody',
          'each record is a custody leaf');
SELECT is((SELECT l.data FROM ledger_leaf l JOIN custody c ON c.leaf_idx = l.idx),
          (SELECT bevis_custody_leaf(i.ref, c.seq, c.action, c.actor, c.at, c.tree_size,
                                     c.bundle_sha256, c.items, c.reason, c.destination,
                                     c.salt, c.tool)
             FROM custody c JOIN incident i ON i.id = c.incident_id),
          'the leaf is the encoding of the row');
SELECT ok((SELECT position(convert_to('revisionen', 'UTF8') IN l.data) = 0
             FROM ledger_leaf l JOIN custody c ON c.leaf_idx = l.idx),
          'the leaf holds a digest of the reason, not the reason');

SET SESSION AUTHORIZATION tapc_isam;
SELECT is(pg_temp.rec((SELECT a FROM refs), 'till IMY', 2), 2,
          'the ISAM records custody too; numbers follow on per incident');
SELECT is(pg_temp.rec((SELECT b FROM refs), 'annat'), 1, 'each incident counts from 1');
SELECT is((SELECT array_agg(actor ORDER BY seq) FROM custody c JOIN incident i ON i.id = c.incident_id
            WHERE i.ref = (SELECT a FROM refs)),
          ARRAY['tapc_auditor', 'tapc_isam'], 'who took it out, in order');

-- ---- refused, and nothing written -------------------------------------------------
CREATE TEMP TABLE counts AS SELECT (SELECT count(*) FROM custody) AS c,
                                   (SELECT count(*) FROM ledger_leaf) AS l;
SELECT throws_ok($$SELECT pg_temp.rec((SELECT a FROM refs), NULL)$$, '22023',
                 NULL, 'a missing reason is refused');
SELECT throws_ok($$SELECT pg_temp.rec((SELECT a FROM refs), E' \t\n')$$, '22023',
                 NULL, 'a blank reason is refused');
SELECT throws_ok($$SELECT pg_temp.rec('INC-2099-9999', 'x')$$, 'P0002',
                 'bevis: no incident INC-2099-9999', 'an unknown incident is refused');
SELECT throws_ok($$SELECT pg_temp.rec((SELECT a FROM refs), 'x', 7)$$, '22023',
                 'bevis: no signed tree head of size 7', 'a tree head that does not exist is refused');
SELECT throws_ok($$SELECT bevis_custody_record((SELECT a FROM refs), 'copy', 'x', 'h:/d', '{}', 1,
                                               sha256('m'), 'bevis')$$, '22023',
                 NULL, 'only export is a custody action');
SELECT throws_ok($$SELECT bevis_custody_record((SELECT a FROM refs), 'export', 'x', 'h:/d', '{}', 1,
                                               '\x00', 'bevis')$$, '22023',
                 NULL, 'the bundle digest is 32 bytes');
SELECT throws_ok($$SELECT bevis_custody_record((SELECT a FROM refs), 'export', 'x', ' ', '{}', 1,
                                               sha256('m'), 'bevis')$$, '22023',
                 NULL, 'a destination is required');
SELECT is((SELECT count(*) FROM custody) || '/' || (SELECT count(*) FROM ledger_leaf),
          (SELECT c || '/' || l FROM counts), 'the refusals wrote no row and no leaf');

-- ---- append-only --------------------------------------------------------------------
SELECT throws_ok($$INSERT INTO custody (incident_id, seq, action, actor, at, reason, destination,
                                        items, tree_size, bundle_sha256, tool, salt, leaf_idx)
                   VALUES (1, 9, 'export', 'x', now(), 'r', 'd', '{}', 1, sha256('m'), 't',
                           '\x000102030405060708090a0b0c0d0e0f', 999)$$,
                 '42501', NULL, 'the ISAM cannot insert custody directly');
SELECT throws_ok($$UPDATE custody SET reason = 'other'$$, '42501', NULL,
                 'nor change it');
RESET SESSION AUTHORIZATION;
SELECT throws_ok($$UPDATE custody SET reason = 'other'$$, '42501',
                 'bevis: custody is append-only and written only by bevis_custody_record(): UPDATE refused',
                 'the owner cannot change it either: the trigger refuses');
SELECT throws_ok($$DELETE FROM custody$$, '42501', NULL, 'nor delete it');

-- ---- roles ------------------------------------------------------------------------
SET SESSION AUTHORIZATION tapc_ingest;
SELECT throws_ok($$SELECT bevis_custody_record('INC-2026-0001', 'export', 'x', 'h:/d', '{}', 1,
                                               sha256('m'), 'bevis')$$, '42501', NULL,
                 'bevis_ingest may not record custody');
SELECT throws_ok($$SELECT count(*) FROM custody$$, '42501', NULL, 'nor read it');

-- ---- protected identity -------------------------------------------------------------
SET SESSION AUTHORIZATION tapc_prot;
SELECT lives_ok(format($$SELECT bevis_incident_decide(%L, '{"protected_identity": true}', 'skyddad identitet')$$,
                       (SELECT b FROM refs)), 'b becomes protected');
SET SESSION AUTHORIZATION tapc_auditor;
SELECT is((SELECT count(*)::int FROM custody c JOIN incident_overview o ON o.id = c.incident_id
            WHERE o.ref = (SELECT b FROM refs)), 0,
          'outside bevis_protected, its custody records are hidden');
SELECT throws_ok($$SELECT pg_temp.rec((SELECT b FROM refs), 'x')$$, '42501', NULL,
                 'and its evidence cannot be taken out');

-- ---- the leaf's fixed bytes (docs/LEDGER.md, tests/unit/torture_ledger.c) ----------
SELECT is(bevis_custody_leaf('INC-2026-0001', 1, 'export', 'x', '2026-01-01T00:00:00Z', 7,
                             sha256('b'), '{"a": 1}', 'why', 'h:/d',
                             '\x000102030405060708090a0b0c0d0e0f', 'bevis 0.1.0'),
          '\x42564c3105000d494e432d323032362d303030310000000100066578706f7274000178000647484620400000000000000000073e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009dbc3122634d506fa2e84856feb91a426079a2d7672fb97c8f38056c1772173785d97731155ab68d10b3ccd12d3ef36eef117362aa673a759efbd6f46887df40879e4b75d3f31404c9036207b27bc613d5d7705cdf82e4f0e242e6c8ccd5518004000b626576697320302e312e30'::bytea,
          'the custody leaf has fixed bytes');

RESET SESSION AUTHORIZATION;
SELECT * FROM finish();
ROLLBACK;
