-- 0007_writer_locks: locks nobody else can take, and no small-order keys.
--
-- ledger_append and the supplier key functions serialised on advisory locks
-- (7341002, 7341003). Any role may take any advisory lock, so a read-only
-- auditor login holding pg_advisory_lock(7341002) stopped every commit for as
-- long as it liked. They now lock a row of bevis_writer_lock instead: a table
-- that only its owner may read or lock, so only these SECURITY DEFINER
-- functions (which run as the owner) can queue on it. A row lock is held to
-- the end of the transaction, like the advisory transaction lock was, and
-- is subject to lock_timeout (bevisd sets one: db_lock_timeout).
--
-- bevis_supplier_add also refuses a Curve25519 key of small order (the
-- all-zero key among them): with such a key the CURVE shared secret is one of
-- at most 8 values, so the key proves nobody's identity. bevisd and the CLI
-- refuse the same list (common/curvekey.c).
--
-- bevis migrate still serialises on advisory lock 7341001: a login that holds
-- it only delays a migration, which an operator runs by hand and sees wait;
-- it cannot hold up ingestion.

CREATE TABLE bevis_writer_lock (
    name  text PRIMARY KEY CHECK (name IN ('ledger', 'supplier'))
);
INSERT INTO bevis_writer_lock (name) VALUES ('ledger'), ('supplier');
REVOKE ALL ON bevis_writer_lock FROM PUBLIC;
-- Whatever a deployment granted: nobody but the owner.
REVOKE ALL ON bevis_writer_lock FROM bevis_ingest, bevis_isam, bevis_auditor;

-- ---- small-order Curve25519 keys -------------------------------------------

-- True when p_key (Z85) is a Curve25519 point of small order: the u-
-- coordinates 0, 1, the two of order 8, p - 1, p and p + 1, little-endian,
-- with bit 255 ignored (X25519 ignores it). The list is the blocklist of
-- has_small_order() in libsodium's crypto_scalarmult/curve25519/ref10/
-- x25519_ref10.c, as in common/curvekey.c. NULL when p_key is not Z85.
CREATE FUNCTION bevis_curve_small_order(p_key text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, public, pg_temp AS $fn$
    SELECT CASE WHEN length(p_key) = 40 AND bevis_z85_decode(p_key) IS NOT NULL THEN
        set_byte(bevis_z85_decode(p_key), 31,
                 get_byte(bevis_z85_decode(p_key), 31) & 127) = ANY (ARRAY[
            '\x0000000000000000000000000000000000000000000000000000000000000000',
            '\x0100000000000000000000000000000000000000000000000000000000000000',
            '\xe0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
            '\x5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
            '\xecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
            '\xedffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
            '\xeeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'
        ]::bytea[])
    END
$fn$;
REVOKE EXECUTE ON FUNCTION bevis_curve_small_order(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bevis_curve_small_order(text) TO bevis_isam, bevis_auditor;

-- ---- ledger_append (0002, 0003) --------------------------------------------

-- As before, but queued on the 'ledger' row of bevis_writer_lock rather
-- than on advisory lock 7341002. Ownership and grants stay as they were.
CREATE OR REPLACE FUNCTION ledger_append(p_kinds text[], p_data bytea[], p_submissions bigint[])
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    first  bigint;
    n      bigint;
    i      bigint;
    lvl    integer;
    h      bytea;
    lefth  bytea;
BEGIN
    IF coalesce(array_length(p_data, 1), 0) = 0 THEN
        RETURN NULL;
    END IF;
    -- The writers' queue: a row only the owner can lock (see above).
    PERFORM 1 FROM bevis_writer_lock WHERE name = 'ledger' FOR UPDATE;
    SELECT coalesce(max(idx) + 1, 0) INTO n FROM ledger_leaf;
    first := n;
    FOR j IN 1 .. array_length(p_data, 1) LOOP
        h := sha256('\x00'::bytea || p_data[j]);
        INSERT INTO ledger_leaf (idx, kind, data, hash, submission_id)
        VALUES (n, p_kinds[j], p_data[j], h, p_submissions[j]);
        -- Each time the new node is a right child, its parent is complete.
        i := n;
        lvl := 0;
        WHILE i % 2 = 1 LOOP
            lefth := ledger_node_hash(lvl, i - 1);
            IF lefth IS NULL THEN
                RAISE EXCEPTION 'ledger node (%, %) is missing', lvl, i - 1;
            END IF;
            h := sha256('\x01'::bytea || lefth || h);
            lvl := lvl + 1;
            i := i / 2;
            INSERT INTO ledger_node (level, idx, hash) VALUES (lvl, i, h);
        END LOOP;
        n := n + 1;
    END LOOP;
    RETURN first;
END
$$;

-- ---- bevis_supplier_add, bevis_supplier_revoke (0004) -----------------------

-- As before, queued on the 'supplier' row rather than advisory lock
-- 7341003 (always before the 'ledger' row, so the two never deadlock), and
-- refusing small-order keys.
CREATE OR REPLACE FUNCTION bevis_supplier_add(p_name text, p_public_key text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $fn$
DECLARE
    v_actor  text := session_user;
    v_at     timestamptz;
    v_fp     text;
    v_sup    supplier%ROWTYPE;
    v_other  supplier%ROWTYPE;
    v_prev   supplier_key_change%ROWTYPE;
    v_id     integer;
    v_leaf   bigint;
BEGIN
    IF p_name IS NULL OR p_name !~ '^[a-z0-9][a-z0-9._-]{0,62}$' THEN
        RAISE EXCEPTION 'bevis: ''%'' is not a supplier name', coalesce(p_name, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A supplier name is 1 to 63 characters: lower case '
                         'letters, digits, ''.'', ''_'' and ''-'', starting '
                         'with a letter or a digit.';
    END IF;
    v_fp := bevis_curve_fingerprint(p_public_key);
    IF v_fp IS NULL THEN
        RAISE EXCEPTION 'bevis: the key given for supplier % is not a CURVE '
                        'public key: it must be 40 characters of Z85', p_name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'bevis keygen --curve writes a key pair; give the '
                         'public key (NAME.pub).';
    END IF;
    IF bevis_curve_small_order(p_public_key) THEN
        RAISE EXCEPTION 'bevis: the key given for supplier % is a Curve25519 '
                        'point of small order (fingerprint %), which proves '
                        'nobody''s identity', p_name, v_fp
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'bevis keygen --curve writes a real key pair.';
    END IF;
    -- One key change at a time, so the checks below hold until COMMIT.
    PERFORM 1 FROM bevis_writer_lock WHERE name = 'supplier' FOR UPDATE;
    SELECT * INTO v_other FROM supplier
     WHERE public_key = p_public_key AND name <> p_name;
    IF FOUND THEN
        RAISE EXCEPTION USING
            MESSAGE = format('bevis: key %s already belongs to supplier %s%s', v_fp,
                             v_other.name,
                             CASE WHEN v_other.active THEN '' ELSE ' (revoked)' END),
            ERRCODE = 'unique_violation',
                  HINT = 'Each supplier needs a key pair of its own.';
    END IF;
    SELECT * INTO v_sup FROM supplier WHERE name = p_name FOR UPDATE;
    IF FOUND AND v_sup.public_key IS NOT NULL THEN
        SELECT * INTO v_prev FROM supplier_key_change
         WHERE supplier_id = v_sup.id AND action = 'added'
         ORDER BY leaf_idx DESC LIMIT 1;
        RAISE EXCEPTION USING
            MESSAGE = format('bevis: supplier %s already has key %s%s%s', p_name,
                             coalesce(bevis_curve_fingerprint(v_sup.public_key),
                                      '(not a CURVE key)'),
                             CASE WHEN v_sup.active THEN '' ELSE ' (revoked)' END,
                             CASE WHEN v_prev.leaf_idx IS NULL THEN ''
                                  ELSE format(', added by %s at %s', v_prev.actor,
                                              v_prev.at) END),
            ERRCODE = 'unique_violation',
            DETAIL = 'A supplier''s key is never replaced.';
    END IF;

    v_at := clock_timestamp();
    IF v_sup.id IS NOT NULL THEN
        v_id := v_sup.id;
    ELSE
        INSERT INTO supplier (name, public_key, active)
        VALUES (p_name, p_public_key, true)
        RETURNING id INTO v_id;
    END IF;
    v_leaf := ledger_append(ARRAY['supplier_key'],
                            ARRAY[bevis_supplier_key_leaf(1, p_name, p_public_key,
                                                          v_fp, v_actor, v_at)],
                            ARRAY[NULL::bigint]);
    INSERT INTO supplier_key_change (leaf_idx, supplier_id, action, public_key,
                                     fingerprint, actor, at)
    VALUES (v_leaf, v_id, 'added', p_public_key, v_fp, v_actor, v_at);
    IF v_sup.id IS NOT NULL THEN
        UPDATE supplier SET public_key = p_public_key, active = true
         WHERE id = v_id;
    END IF;
    RETURN v_leaf;
END
$fn$;

CREATE OR REPLACE FUNCTION bevis_supplier_revoke(p_name text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $fn$
DECLARE
    v_actor  text := session_user;
    v_at     timestamptz;
    v_fp     text;
    v_sup    supplier%ROWTYPE;
    v_prev   supplier_key_change%ROWTYPE;
    v_leaf   bigint;
BEGIN
    IF p_name IS NULL THEN
        RAISE EXCEPTION 'bevis: revoking needs a supplier name'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM 1 FROM bevis_writer_lock WHERE name = 'supplier' FOR UPDATE;
    SELECT * INTO v_sup FROM supplier WHERE name = p_name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'bevis: supplier % does not exist', p_name
            USING ERRCODE = 'no_data_found';
    END IF;
    IF v_sup.public_key IS NULL THEN
        RAISE EXCEPTION 'bevis: supplier % has no key to revoke', p_name
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    v_fp := bevis_curve_fingerprint(v_sup.public_key);
    IF NOT v_sup.active THEN
        SELECT * INTO v_prev FROM supplier_key_change
         WHERE supplier_id = v_sup.id AND action = 'revoked'
         ORDER BY leaf_idx DESC LIMIT 1;
        RAISE EXCEPTION 'bevis: supplier % (key %) was already revoked%', p_name,
            v_fp,
            CASE WHEN v_prev.leaf_idx IS NULL
                 THEN ', but not through bevis_supplier_revoke(): run bevis verify'
                 ELSE format(' by %s at %s', v_prev.actor, v_prev.at) END
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF v_fp IS NULL THEN
        RAISE EXCEPTION 'bevis: supplier % has a stored key that is not a CURVE key',
            p_name
            USING ERRCODE = 'data_corrupted',
                  HINT = 'It was not set by bevis_supplier_add(): run bevis verify.';
    END IF;

    v_at := clock_timestamp();
    v_leaf := ledger_append(ARRAY['supplier_key'],
                            ARRAY[bevis_supplier_key_leaf(2, p_name, v_sup.public_key,
                                                          v_fp, v_actor, v_at)],
                            ARRAY[NULL::bigint]);
    INSERT INTO supplier_key_change (leaf_idx, supplier_id, action, public_key,
                                     fingerprint, actor, at)
    VALUES (v_leaf, v_sup.id, 'revoked', v_sup.public_key, v_fp, v_actor, v_at);
    UPDATE supplier SET active = false WHERE id = v_sup.id;
    RETURN v_leaf;
END
$fn$;
