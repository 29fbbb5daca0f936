-- protocol11.sql - pgTAP tests of sql/0014_protocol11.sql: key rotation
-- through bevis_supplier_rotate() (the actor is session_user, the leaf is
-- kind 7 with the row's values, the supplier keeps its id), the keys bevisd
-- admits (supplier_key_valid), a rotated-out key never used again, the
-- checks, the roles and the append-only rows. Run by test_sql.py.
BEGIN;
SELECT plan(22);

CREATE ROLE tap11_isam LOGIN IN ROLE bevis_isam;
CREATE ROLE tap11_auditor LOGIN IN ROLE bevis_auditor;
CREATE ROLE tap11_ingest LOGIN IN ROLE bevis_ingest;

-- Three CURVE public keys (any 32 bytes in Z85 do).
CREATE TEMP TABLE k (n int PRIMARY KEY, key text);
INSERT INTO k VALUES (1, '=S9-cTO!:#2u$y!/}^ZWSc[%.mo@n(Er27ZE2]7y'),
                     (2, '.^p!E1ca^JxXU29:5(bo{5}.em.6mE{G!!JbtzSV'),
                     (3, 'i!Twfn8Qn=GCWVT{F5)dlEv=:Ae]AhIZ{<8KeZ$?');
GRANT SELECT ON k TO PUBLIC;

SET ROLE tap11_isam;
SELECT isnt(bevis_supplier_add('skolplattform', (SELECT key FROM k WHERE n = 1)), NULL,
            'a supplier with its first key');
RESET ROLE;
SELECT id AS sup INTO TEMP s0 FROM supplier WHERE name = 'skolplattform';

SET ROLE tap11_auditor;
SELECT throws_ok($$SELECT bevis_supplier_rotate('skolplattform',
                    (SELECT key FROM k WHERE n = 2), '1 hour')$$, '42501', NULL,
                 'an auditor may not rotate');
RESET ROLE;

SET SESSION AUTHORIZATION tap11_isam;
SELECT throws_ok($$SELECT bevis_supplier_rotate('skolplattform',
                    (SELECT key FROM k WHERE n = 2), '31 days')$$, '22023',
                 'bevis: the overlap must be 0 to 30 days, not 31 days', 'overlap bound');
SELECT throws_ok($$SELECT bevis_supplier_rotate('skolplattform', 'short', '1 hour')$$,
                 '22023', NULL, 'not a CURVE key');
SELECT throws_ok($$SELECT bevis_supplier_rotate('nobody',
                    (SELECT key FROM k WHERE n = 2), '1 hour')$$, 'P0002',
                 'bevis: supplier nobody does not exist', 'unknown supplier');
SELECT throws_ok($$SELECT bevis_supplier_rotate('skolplattform',
                    (SELECT key FROM k WHERE n = 1), '1 hour')$$, '22023', NULL,
                 'the key it has already');
SELECT isnt(bevis_supplier_rotate('skolplattform', (SELECT key FROM k WHERE n = 2),
                                  '1 hour'), NULL, 'rotated');
RESET SESSION AUTHORIZATION;

SELECT is((SELECT id FROM supplier WHERE name = 'skolplattform'), (SELECT sup FROM s0),
          'the supplier keeps its id');
SELECT is((SELECT public_key FROM supplier WHERE name = 'skolplattform'),
          (SELECT key FROM k WHERE n = 2), 'the new key is the supplier''s');
SELECT is((SELECT actor FROM supplier_key_rotation), 'tap11_isam',
          'the actor is session_user');
SELECT is((SELECT old_valid_until - at FROM supplier_key_rotation), interval '1 hour',
          'the old key is valid for the overlap');
SELECT is((SELECT kind FROM ledger_leaf l JOIN supplier_key_rotation r ON r.leaf_idx = l.idx),
          'supplier_key_rotation', 'a ledger leaf of its own kind');
SELECT is((SELECT l.data FROM ledger_leaf l JOIN supplier_key_rotation r ON r.leaf_idx = l.idx),
          (SELECT bevis_supplier_rotation_leaf('skolplattform', old_key, old_fingerprint,
                                               new_key, new_fingerprint, actor, at,
                                               old_valid_until)
             FROM supplier_key_rotation),
          'the leaf holds the row''s values');
SELECT is((SELECT get_byte(l.data, 4) FROM ledger_leaf l
             JOIN supplier_key_rotation r ON r.leaf_idx = l.idx), 7, 'kind byte 7');
SELECT results_eq($$SELECT public_key, valid_until IS NULL FROM supplier_key_valid
                     ORDER BY 2 DESC$$,
                  $$VALUES ((SELECT key FROM k WHERE n = 2), true),
                           ((SELECT key FROM k WHERE n = 1), false)$$,
                  'both keys admit the supplier in the overlap');

SET ROLE tap11_ingest;
SELECT is((SELECT count(*)::int FROM supplier_key_valid), 2, 'bevisd may read the keys');
RESET ROLE;

SET SESSION AUTHORIZATION tap11_isam;
SELECT throws_ok($$SELECT bevis_supplier_add('other', (SELECT key FROM k WHERE n = 1))$$,
                 '23505', NULL, 'a rotated-out key is never a key again');
SELECT isnt(bevis_supplier_rotate('skolplattform', (SELECT key FROM k WHERE n = 3),
                                  '0 seconds'), NULL, 'rotated again, no overlap');
SELECT lives_ok($$SELECT bevis_supplier_revoke('skolplattform')$$, 'then revoked');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT count(*)::int FROM supplier_key_valid), 0,
          'a revoked supplier has no key that admits it');
SELECT throws_ok($$UPDATE supplier_key_rotation SET actor = 'x'$$, NULL, NULL,
                 'rotation rows are append-only');
SELECT throws_ok($$SELECT bevis_supplier_rotate('skolplattform',
                    (SELECT key FROM k WHERE n = 1), '1 hour')$$, '55000', NULL,
                 'a revoked supplier cannot rotate');

SELECT * FROM finish();
ROLLBACK;
