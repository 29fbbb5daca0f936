-- 0014_protocol11: protocol 1.1 (docs/PROTOCOL.md). A supplier's key can be
-- rotated without a new name: bevis_supplier_rotate() makes the new key the
-- supplier's, and the old one stays valid until the end of an overlap, after
-- which bevisd refuses it with no further step. The supplier keeps its id,
-- so its event id deduplication and its request id scope stay as they were.
-- Each rotation is a ledger leaf of kind 7 (docs/LEDGER.md) and a row of
-- supplier_key_rotation; bevis verify replays them with the kind 3 leaves.

-- ---- the ledger kind --------------------------------------------------------

-- Other migrations add leaf kinds too. Whatever order they run in, this one
-- adds 'supplier_key_rotation' to the kinds the constraint allows now, and
-- keeps every kind it finds there.
DO $do$
DECLARE
    v_def   text;
    v_kinds text[];
BEGIN
    SELECT pg_get_constraintdef(c.oid) INTO v_def
      FROM pg_constraint c
     WHERE c.conrelid = 'ledger_leaf'::regclass AND c.contype = 'c'
       AND pg_get_constraintdef(c.oid) LIKE '%kind%';
    SELECT array_agg(DISTINCT m[1]) INTO v_kinds
      FROM regexp_matches(coalesce(v_def, ''), '''([a-z_]+)''', 'g') AS m;
    v_kinds := array(SELECT DISTINCT k FROM unnest(coalesce(v_kinds, '{}'::text[])
                                                   || ARRAY['supplier_key_rotation']) k
                     ORDER BY k);
    EXECUTE (SELECT string_agg(format('ALTER TABLE ledger_leaf DROP CONSTRAINT %I',
                                      conname), '; ')
               FROM pg_constraint
              WHERE conrelid = 'ledger_leaf'::regclass AND contype = 'c'
                AND pg_get_constraintdef(oid) LIKE '%kind%');
    EXECUTE format('ALTER TABLE ledger_leaf ADD CONSTRAINT ledger_leaf_kind_check '
                   'CHECK (kind = ANY (%L::text[]))', v_kinds);
END
$do$;

-- ---- rotations ----------------------------------------------------------------

-- One row per rotation, with its ledger leaf. Append-only evidence. The old
-- key is valid until old_valid_until (bevisd refuses it from then on).
CREATE TABLE supplier_key_rotation (
    leaf_idx         bigint PRIMARY KEY,
    supplier_id      integer NOT NULL REFERENCES supplier (id),
    old_key          text NOT NULL CHECK (length(old_key) = 40),
    old_fingerprint  text NOT NULL CHECK (old_fingerprint ~ '^[0-9a-f]{32}$'),
    new_key          text NOT NULL CHECK (length(new_key) = 40),
    new_fingerprint  text NOT NULL CHECK (new_fingerprint ~ '^[0-9a-f]{32}$'),
    old_valid_until  timestamptz NOT NULL,
    actor            text NOT NULL CHECK (actor <> ''),
    at               timestamptz NOT NULL,
    CHECK (old_valid_until >= at)
);
CREATE INDEX supplier_key_rotation_supplier_idx
    ON supplier_key_rotation (supplier_id, leaf_idx);
CREATE UNIQUE INDEX supplier_key_rotation_old_key ON supplier_key_rotation (old_key);

CREATE TRIGGER supplier_key_rotation_append_only
    BEFORE UPDATE OR DELETE ON supplier_key_rotation
    FOR EACH ROW EXECUTE FUNCTION bevis_append_only();
CREATE TRIGGER supplier_key_rotation_no_truncate
    BEFORE TRUNCATE ON supplier_key_rotation
    FOR EACH STATEMENT EXECUTE FUNCTION bevis_append_only();
ALTER TABLE supplier_key_rotation ENABLE ALWAYS TRIGGER supplier_key_rotation_append_only;
ALTER TABLE supplier_key_rotation ENABLE ALWAYS TRIGGER supplier_key_rotation_no_truncate;

-- A key rotated out is never a key again, of this supplier or another one:
-- bevis_supplier_add() checks only the keys suppliers hold now.
CREATE FUNCTION bevis_supplier_key_unused() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $fn$
DECLARE
    v_rot  supplier_key_rotation%ROWTYPE;
BEGIN
    IF NEW.public_key IS NOT NULL THEN
        SELECT * INTO v_rot FROM supplier_key_rotation WHERE old_key = NEW.public_key;
        IF FOUND THEN
            RAISE EXCEPTION 'bevis: key % was rotated out by % at %; a key is never '
                            'used again', v_rot.old_fingerprint, v_rot.actor, v_rot.at
                USING ERRCODE = 'unique_violation',
                      HINT = 'Make a new key pair with bevis keygen --curve.';
        END IF;
    END IF;
    RETURN NEW;
END
$fn$;
CREATE TRIGGER supplier_key_unused
    BEFORE INSERT OR UPDATE OF public_key ON supplier
    FOR EACH ROW EXECUTE FUNCTION bevis_supplier_key_unused();
ALTER TABLE supplier ENABLE ALWAYS TRIGGER supplier_key_unused;

-- The leaf data of a rotation (docs/LEDGER.md, kind 7), big-endian:
--   "BVL1", kind 7 (1 byte), name, old key, old fingerprint, new key, new
--   fingerprint, actor (each uint16 length + UTF-8), at, old valid until
--   (each int8, microseconds since the Unix epoch).
CREATE FUNCTION bevis_supplier_rotation_leaf(p_name text, p_old_key text, p_old_fp text,
                                             p_new_key text, p_new_fp text,
                                             p_actor text, p_at timestamptz,
                                             p_until timestamptz) RETURNS bytea
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, public, pg_temp AS $fn$
    SELECT convert_to('BVL1', 'UTF8')
        || '\x07'::bytea
        || int2send(octet_length(convert_to(p_name, 'UTF8'))::smallint)
        || convert_to(p_name, 'UTF8')
        || int2send(octet_length(convert_to(p_old_key, 'UTF8'))::smallint)
        || convert_to(p_old_key, 'UTF8')
        || int2send(octet_length(convert_to(p_old_fp, 'UTF8'))::smallint)
        || convert_to(p_old_fp, 'UTF8')
        || int2send(octet_length(convert_to(p_new_key, 'UTF8'))::smallint)
        || convert_to(p_new_key, 'UTF8')
        || int2send(octet_length(convert_to(p_new_fp, 'UTF8'))::smallint)
        || convert_to(p_new_fp, 'UTF8')
        || int2send(octet_length(convert_to(p_actor, 'UTF8'))::smallint)
        || convert_to(p_actor, 'UTF8')
        || int8send((extract(epoch FROM p_at) * 1000000)::bigint)
        || int8send((extract(epoch FROM p_until) * 1000000)::bigint)
$fn$;

-- ---- bevis_supplier_rotate ----------------------------------------------------

-- Makes p_new_key the CURVE key of the active supplier p_name. Its old key
-- stays valid for p_overlap (0 to 30 days), then bevisd refuses it. The
-- supplier keeps its id and name, so its events still deduplicate against
-- what it sent before and its request ids keep their scope. The actor is
-- session_user. Returns the ledger leaf index.
CREATE FUNCTION bevis_supplier_rotate(p_name text, p_new_key text, p_overlap interval)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $fn$
DECLARE
    v_actor  text := session_user;
    v_at     timestamptz;
    v_until  timestamptz;
    v_fp     text;
    v_oldfp  text;
    v_sup    supplier%ROWTYPE;
    v_other  supplier%ROWTYPE;
    v_leaf   bigint;
BEGIN
    IF p_name IS NULL OR p_overlap IS NULL THEN
        RAISE EXCEPTION 'bevis: rotating needs a supplier name and an overlap'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_overlap < interval '0' OR p_overlap > interval '30 days' THEN
        RAISE EXCEPTION 'bevis: the overlap must be 0 to 30 days, not %', p_overlap
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_fp := bevis_curve_fingerprint(p_new_key);
    IF v_fp IS NULL THEN
        RAISE EXCEPTION 'bevis: the new key given for supplier % is not a CURVE '
                        'public key: it must be 40 characters of Z85', p_name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'bevis keygen --curve writes a key pair; give the '
                         'public key (NAME.pub).';
    END IF;
    IF bevis_curve_small_order(p_new_key) THEN
        RAISE EXCEPTION 'bevis: the new key given for supplier % is a Curve25519 point '
                        'of small order (fingerprint %), which proves nobody''s identity',
                        p_name, v_fp
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- One key change at a time, queued as bevis_supplier_add() and _revoke()
    -- queue (0007).
    PERFORM 1 FROM bevis_writer_lock WHERE name = 'supplier' FOR UPDATE;
    SELECT * INTO v_sup FROM supplier WHERE name = p_name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'bevis: supplier % does not exist', p_name
            USING ERRCODE = 'no_data_found';
    END IF;
    IF v_sup.public_key IS NULL OR NOT v_sup.active THEN
        RAISE EXCEPTION 'bevis: supplier % has no active key to rotate', p_name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'bevis supplier add gives a supplier without a key its first one.';
    END IF;
    IF v_sup.public_key = p_new_key THEN
        RAISE EXCEPTION 'bevis: key % is already the key of supplier %', v_fp, p_name
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO v_other FROM supplier WHERE public_key = p_new_key;
    IF FOUND THEN
        RAISE EXCEPTION 'bevis: key % already belongs to supplier %', v_fp, v_other.name
            USING ERRCODE = 'unique_violation',
                  HINT = 'Each supplier needs a key pair of its own.';
    END IF;
    v_oldfp := bevis_curve_fingerprint(v_sup.public_key);
    IF v_oldfp IS NULL THEN
        RAISE EXCEPTION 'bevis: supplier % has a stored key that is not a CURVE key',
            p_name
            USING ERRCODE = 'data_corrupted';
    END IF;

    v_at := clock_timestamp();
    v_until := v_at + p_overlap;
    v_leaf := ledger_append(ARRAY['supplier_key_rotation'],
                            ARRAY[bevis_supplier_rotation_leaf(p_name, v_sup.public_key,
                                                               v_oldfp, p_new_key, v_fp,
                                                               v_actor, v_at, v_until)],
                            ARRAY[NULL::bigint]);
    INSERT INTO supplier_key_rotation (leaf_idx, supplier_id, old_key, old_fingerprint,
                                       new_key, new_fingerprint, old_valid_until,
                                       actor, at)
    VALUES (v_leaf, v_sup.id, v_sup.public_key, v_oldfp, p_new_key, v_fp, v_until,
            v_actor, v_at);
    UPDATE supplier SET public_key = p_new_key WHERE id = v_sup.id;
    RETURN v_leaf;
END
$fn$;

-- ---- the keys bevisd admits ---------------------------------------------------

-- Every key that admits a supplier now or later: the current key of each
-- active supplier (valid_until NULL), and each key rotated out whose overlap
-- has not ended. bevisd loads this and also checks valid_until itself, so a
-- key stops at the end of its overlap, not at the next reload.
CREATE VIEW supplier_key_valid AS
    SELECT s.id AS supplier_id, s.name, s.public_key, NULL::timestamptz AS valid_until
      FROM supplier s
     WHERE s.active AND s.public_key IS NOT NULL
    UNION ALL
    SELECT s.id, s.name, r.old_key, r.old_valid_until
      FROM supplier_key_rotation r JOIN supplier s ON s.id = r.supplier_id
     WHERE s.active AND r.old_valid_until > now();

-- ---- privileges -------------------------------------------------------------

REVOKE ALL ON supplier_key_rotation FROM PUBLIC;
REVOKE UPDATE, DELETE, TRUNCATE ON supplier_key_rotation
    FROM bevis_ingest, bevis_isam, bevis_auditor;
REVOKE EXECUTE ON FUNCTION bevis_supplier_rotation_leaf(text, text, text, text, text,
                                                        text, timestamptz, timestamptz),
                           bevis_supplier_rotate(text, text, interval),
                           bevis_supplier_key_unused()
    FROM PUBLIC;
GRANT SELECT ON supplier_key_rotation TO bevis_isam, bevis_auditor;
GRANT SELECT ON supplier_key_valid TO bevis_ingest, bevis_isam, bevis_auditor;
GRANT EXECUTE ON FUNCTION bevis_supplier_rotate(text, text, interval) TO bevis_isam;
