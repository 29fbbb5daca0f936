-- 0004_suppliers: supplier authentication with CURVE keys. Each supplier
-- gets its own key pair; bevisd maps the key of a connection to its
-- supplier. Keys are added and revoked only through bevis_supplier_add()
-- and bevis_supplier_revoke(), and each change is a ledger leaf (kind 3,
-- docs/LEDGER.md) and a row of supplier_key_change. docs/ROLES.md
-- describes the functions.

-- The fingerprint of the CURVE key the submission was authenticated with
-- (see bevis_curve_fingerprint); NULL when it came in without CURVE.
ALTER TABLE submission ADD COLUMN key_fingerprint text;

-- bevis supplier list: the last submission of each supplier is one probe.
CREATE INDEX submission_supplier_received_idx ON submission (supplier_id, received_at);

-- ---- Z85 and key fingerprints ---------------------------------------------

-- Z85 (ZeroMQ RFC 32) text to bytes; NULL when p_text is not Z85: a length
-- that is not a multiple of 5, a character outside the alphabet, or a group
-- worth more than 2^32 - 1 (zmq_z85_decode refuses the same).
CREATE FUNCTION bevis_z85_decode(p_text text) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, public, pg_temp AS $fn$
DECLARE
    alphabet  constant text := '0123456789abcdefghijklmnopqrstuvwxyz'
                               'ABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
    n         integer := length(p_text);
    res       bytea := '';
    v         bigint;
    d         integer;
BEGIN
    IF n % 5 <> 0 THEN
        RETURN NULL;
    END IF;
    FOR g IN 0 .. n / 5 - 1 LOOP
        v := 0;
        FOR k IN 1 .. 5 LOOP
            d := strpos(alphabet, substr(p_text, g * 5 + k, 1)) - 1;
            IF d < 0 THEN
                RETURN NULL;
            END IF;
            v := v * 85 + d;
        END LOOP;
        IF v > 4294967295 THEN
            RETURN NULL;
        END IF;
        res := res || substring(int8send(v) FROM 5 FOR 4);
    END LOOP;
    RETURN res;
END
$fn$;

-- The fingerprint of a CURVE public key (40 characters of Z85): lowercase
-- hex of the first 16 bytes of SHA-256 over the 32 raw key bytes, as
-- common/curvekey.c computes it. NULL when p_key is not such a key.
CREATE FUNCTION bevis_curve_fingerprint(p_key text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, public, pg_temp AS $fn$
    SELECT CASE WHEN length(p_key) = 40 AND bevis_z85_decode(p_key) IS NOT NULL
                THEN encode(substring(sha256(bevis_z85_decode(p_key)) FROM 1 FOR 16),
                            'hex')
           END
$fn$;

-- ---- who changed which supplier's key, when ----------------------------

-- One row per key change, each with its ledger leaf. Append-only evidence.
CREATE TABLE supplier_key_change (
    leaf_idx     bigint PRIMARY KEY,
    supplier_id  integer NOT NULL REFERENCES supplier (id),
    action       text NOT NULL CHECK (action IN ('added', 'revoked')),
    public_key   text NOT NULL CHECK (length(public_key) = 40),
    fingerprint  text NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{32}$'),
    actor        text NOT NULL CHECK (actor <> ''),
    at           timestamptz NOT NULL
);
CREATE INDEX supplier_key_change_supplier_idx ON supplier_key_change (supplier_id, leaf_idx);

CREATE TRIGGER supplier_key_change_append_only
    BEFORE UPDATE OR DELETE ON supplier_key_change
    FOR EACH ROW EXECUTE FUNCTION bevis_append_only();
CREATE TRIGGER supplier_key_change_no_truncate
    BEFORE TRUNCATE ON supplier_key_change
    FOR EACH STATEMENT EXECUTE FUNCTION bevis_append_only();
ALTER TABLE supplier_key_change ENABLE ALWAYS TRIGGER supplier_key_change_append_only;
ALTER TABLE supplier_key_change ENABLE ALWAYS TRIGGER supplier_key_change_no_truncate;

-- The leaf data of a key change (docs/LEDGER.md, kind 3), big-endian:
--   "BVL1", kind 3 (1 byte), action (1 byte: 1 added, 2 revoked),
--   name, public key, fingerprint, actor (each uint16 length + UTF-8),
--   at (int8, microseconds since the Unix epoch).
CREATE FUNCTION bevis_supplier_key_leaf(p_action integer, p_name text, p_key text,
                                        p_fingerprint text, p_actor text,
                                        p_at timestamptz) RETURNS bytea
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, public, pg_temp AS $fn$
    SELECT convert_to('BVL1', 'UTF8')
        || '\x03'::bytea
        || substring(int4send(p_action) FROM 4 FOR 1)
        || int2send(octet_length(convert_to(p_name, 'UTF8'))::smallint)
        || convert_to(p_name, 'UTF8')
        || int2send(octet_length(convert_to(p_key, 'UTF8'))::smallint)
        || convert_to(p_key, 'UTF8')
        || int2send(octet_length(convert_to(p_fingerprint, 'UTF8'))::smallint)
        || convert_to(p_fingerprint, 'UTF8')
        || int2send(octet_length(convert_to(p_actor, 'UTF8'))::smallint)
        || convert_to(p_actor, 'UTF8')
        || int8send((extract(epoch FROM p_at) * 1000000)::bigint)
$fn$;

-- ---- bevis_supplier_add ----------------------------------------------------

-- Registers p_public_key as the CURVE key of supplier p_name and makes it
-- active. A new name creates the supplier; an existing supplier without a
-- key (such as a development `demo`) gets the key and becomes active. A
-- supplier that has a key keeps it, and a key belongs to one supplier only.
-- The fingerprint is computed here from the key, not taken from the caller.
-- Returns the ledger leaf index. The actor is session_user (as in
-- bevis_redact: current_user is the owner inside SECURITY DEFINER).
CREATE FUNCTION bevis_supplier_add(p_name text, p_public_key text) RETURNS bigint
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
    -- One key change at a time, so the checks below hold until COMMIT.
    PERFORM pg_advisory_xact_lock(7341003);
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

-- ---- bevis_supplier_revoke ---------------------------------------------------

-- Revokes the key of supplier p_name: active becomes false, and bevisd
-- refuses the key from its next supplier reload on. The key stays on record
-- (no other supplier can register it). Returns the ledger leaf index.
CREATE FUNCTION bevis_supplier_revoke(p_name text) RETURNS bigint
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
    PERFORM pg_advisory_xact_lock(7341003);
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

-- ---- privileges -------------------------------------------------------------

REVOKE ALL ON supplier_key_change FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION bevis_z85_decode(text),
                           bevis_curve_fingerprint(text),
                           bevis_supplier_key_leaf(integer, text, text, text, text,
                                                   timestamptz),
                           bevis_supplier_add(text, text),
                           bevis_supplier_revoke(text)
    FROM PUBLIC;
-- Suppliers change only through the two functions. (0003 granted SELECT
-- only; this makes the rule explicit whatever a deployment granted.)
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON supplier
    FROM bevis_ingest, bevis_isam, bevis_auditor;
REVOKE UPDATE, DELETE, TRUNCATE ON supplier_key_change
    FROM bevis_ingest, bevis_isam, bevis_auditor;

GRANT SELECT ON supplier_key_change TO bevis_isam, bevis_auditor;
GRANT EXECUTE ON FUNCTION bevis_z85_decode(text), bevis_curve_fingerprint(text)
    TO bevis_isam, bevis_auditor;
GRANT EXECUTE ON FUNCTION bevis_supplier_add(text, text), bevis_supplier_revoke(text)
    TO bevis_isam;
