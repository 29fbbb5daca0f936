-- 0009_custody: the chain of custody of an incident's evidence. Every
-- export of an incident's evidence (bevis export --incident) is a custody
-- record with the fields ISO/IEC 27037 asks of one: who (the login), when,
-- what (the incident, the items, the digest of the bundle and the signed
-- tree head it proves against), why (the reason), where to (host and
-- directory), and with which tool, and each record is a ledger leaf
-- (kind 5, docs/LEDGER.md). docs/ROLES.md says who may record custody.
--
-- One write path: bevis_custody_record(), SECURITY DEFINER, with the actor
-- session_user. The table is append-only (ENABLE ALWAYS triggers) and
-- guarded by the same row-level security as the incident's decisions.

-- The ledger gets a kind for it.
ALTER TABLE ledger_leaf DROP CONSTRAINT ledger_leaf_kind_check;
ALTER TABLE ledger_leaf ADD CONSTRAINT ledger_leaf_kind_check
    CHECK (kind IN ('submission', 'redaction', 'supplier_key', 'decision', 'link',
                    'custody'));

CREATE TABLE custody (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id    bigint NOT NULL REFERENCES incident (id),
    -- 1, 2, ... per incident: "custody 2 of INC-2026-0001".
    seq            integer NOT NULL CHECK (seq >= 1),
    -- What was done with the evidence. Only export so far.
    action         text NOT NULL CHECK (action IN ('export')),
    actor          text NOT NULL CHECK (actor <> ''),
    at             timestamptz NOT NULL,
    reason         text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 2000),
    -- Where the evidence went: "host:/absolute/directory".
    destination    text NOT NULL CHECK (char_length(destination) BETWEEN 1 AND 4200),
    -- What: {"incidents": [...], "submissions": [...], "decisions": N,
    -- "links": N}.
    items          jsonb NOT NULL CHECK (jsonb_typeof(items) = 'object'),
    -- The signed tree head the bundle's proofs lead to, and the SHA-256 of
    -- its manifest.json (which holds every leaf it proves).
    tree_size      bigint NOT NULL CHECK (tree_size >= 1),
    bundle_sha256  bytea NOT NULL CHECK (length(bundle_sha256) = 32),
    -- The tool and its version: "bevis 0.1".
    tool           text NOT NULL CHECK (char_length(tool) BETWEEN 1 AND 200),
    -- Keys the digests of reason, destination and items in the leaf.
    salt           bytea NOT NULL CHECK (length(salt) = 16),
    leaf_idx       bigint NOT NULL UNIQUE,
    UNIQUE (incident_id, seq)
);

ALTER TABLE custody ENABLE ROW LEVEL SECURITY;
CREATE POLICY custody_read ON custody FOR SELECT
    USING (NOT bevis_incident_is_protected(incident_id) OR bevis_sees_protected());

-- ---- the custody leaf (kind 5) -----------------------------------------------

-- "BVL1", kind 5, then: incident reference (uint16 length + UTF-8), custody
-- seq (int4), action (uint16 + UTF-8), actor (uint16 + UTF-8), at (int8,
-- microseconds since the Unix epoch), tree size (int8), the bundle's
-- SHA-256 (32 bytes), the keyed digests SHA-256(salt || tag || text) of
-- the items' jsonb text (tag 1), the reason (tag 2) and the destination
-- (tag 3), and the tool (uint16 + UTF-8). Big-endian throughout. Digests,
-- not texts, for the reason the decision leaf gives: every bevis role reads
-- the ledger, and a reason may name a person.
CREATE FUNCTION bevis_custody_leaf(p_ref text, p_seq integer, p_action text,
                                   p_actor text, p_at timestamptz, p_tree_size bigint,
                                   p_bundle_sha256 bytea, p_items jsonb, p_reason text,
                                   p_destination text, p_salt bytea, p_tool text)
RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT convert_to('BVL1', 'UTF8') || '\x05'::bytea
        || bevis_leaf_str16(p_ref) || int4send(p_seq) || bevis_leaf_str16(p_action)
        || bevis_leaf_str16(p_actor)
        || int8send((extract(epoch FROM p_at) * 1000000)::bigint)
        || int8send(p_tree_size) || p_bundle_sha256
        || bevis_decision_digest(p_salt, 1, p_items::text)
        || bevis_decision_digest(p_salt, 2, p_reason)
        || bevis_decision_digest(p_salt, 3, p_destination)
        || bevis_leaf_str16(p_tool)
$$;

-- ---- append-only, and the one way in -------------------------------------------

CREATE FUNCTION bevis_custody_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    w  text := current_setting('bevis.custody_write', true);
BEGIN
    IF TG_OP = 'INSERT' AND w IS NOT NULL AND w <> '' AND NEW.incident_id::text = w THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'bevis: custody is append-only and written only by '
                    'bevis_custody_record(): % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = 'Every custody record is a ledger leaf with an actor and a reason.';
END
$$;

CREATE TRIGGER custody_guard BEFORE INSERT OR UPDATE OR DELETE ON custody
    FOR EACH ROW EXECUTE FUNCTION bevis_custody_guard();
CREATE TRIGGER custody_no_truncate BEFORE TRUNCATE ON custody
    FOR EACH STATEMENT EXECUTE FUNCTION bevis_append_only();
ALTER TABLE custody ENABLE ALWAYS TRIGGER custody_guard;
ALTER TABLE custody ENABLE ALWAYS TRIGGER custody_no_truncate;

-- Records that p_ref's evidence left the database: the row and its leaf in
-- one transaction, the actor session_user, the time the clock's. Refuses an
-- unknown incident, one the caller may not read (protected identity), a
-- missing reason or destination, and a tree size that no signed tree head
-- has. Returns the record's seq in the incident.
CREATE FUNCTION bevis_custody_record(p_ref text, p_action text, p_reason text,
                                     p_destination text, p_items jsonb,
                                     p_tree_size bigint, p_bundle_sha256 bytea,
                                     p_tool text)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_actor  text := session_user;
    v_at     timestamptz := clock_timestamp();
    v_inc    incident;
    v_seq    integer;
    v_leaf   bigint;
    v_reason text := btrim(p_reason, E' \t\r\n');
    v_salt   bytea := uuid_send(gen_random_uuid());	-- 16 random bytes
BEGIN
    SELECT * INTO v_inc FROM incident WHERE ref = upper(btrim(p_ref)) FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'bevis: no incident %', coalesce(p_ref, 'NULL')
            USING ERRCODE = 'no_data_found',
                  HINT = 'A reference looks like INC-2026-0001; bevis incidents lists them.';
    END IF;
    IF v_inc.protected_identity AND NOT bevis_sees_protected() THEN
        RAISE EXCEPTION 'bevis: incident % involves a protected identity; only members '
                        'of bevis_protected may take out its evidence', v_inc.ref
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF v_reason IS NULL OR v_reason = '' THEN
        RAISE EXCEPTION 'bevis: taking evidence of % out needs a reason', v_inc.ref
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Say why, with --reason: the custody record is kept in the ledger.';
    END IF;
    IF char_length(v_reason) > 2000 THEN
        RAISE EXCEPTION 'bevis: the reason is % characters long; at most 2000',
            char_length(v_reason) USING ERRCODE = 'string_data_right_truncation';
    END IF;
    IF p_action IS NULL OR p_action <> 'export' THEN
        RAISE EXCEPTION 'bevis: custody action %: only export is recorded', p_action
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF coalesce(btrim(p_destination), '') = '' OR coalesce(btrim(p_tool), '') = '' THEN
        RAISE EXCEPTION 'bevis: a custody record says where the evidence went and '
                        'with which tool' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_items IS NULL OR jsonb_typeof(p_items) <> 'object' THEN
        RAISE EXCEPTION 'bevis: the items of a custody record are a JSON object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_bundle_sha256 IS NULL OR length(p_bundle_sha256) <> 32 THEN
        RAISE EXCEPTION 'bevis: the bundle digest is 32 bytes of SHA-256'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM 1 FROM tree_head WHERE tree_size = p_tree_size;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'bevis: no signed tree head of size %', p_tree_size
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT coalesce(max(seq), 0) + 1 INTO v_seq FROM custody WHERE incident_id = v_inc.id;
    v_leaf := ledger_append(ARRAY['custody'],
                            ARRAY[bevis_custody_leaf(v_inc.ref, v_seq, p_action, v_actor,
                                                     v_at, p_tree_size, p_bundle_sha256,
                                                     p_items, v_reason, p_destination,
                                                     v_salt, p_tool)],
                            ARRAY[NULL::bigint]);
    PERFORM set_config('bevis.custody_write', v_inc.id::text, true);
    INSERT INTO custody (incident_id, seq, action, actor, at, reason, destination, items,
                         tree_size, bundle_sha256, tool, salt, leaf_idx)
    VALUES (v_inc.id, v_seq, p_action, v_actor, v_at, v_reason, p_destination, p_items,
            p_tree_size, p_bundle_sha256, p_tool, v_salt, v_leaf);
    PERFORM set_config('bevis.custody_write', '', true);
    RETURN v_seq;
END
$$;

-- ---- privileges ------------------------------------------------------------------

REVOKE ALL ON custody FROM PUBLIC;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON custody
    FROM bevis_ingest, bevis_isam, bevis_auditor, bevis_protected;
REVOKE EXECUTE ON FUNCTION
    bevis_custody_leaf(text, integer, text, text, timestamptz, bigint, bytea, jsonb, text,
                       text, bytea, text),
    bevis_custody_record(text, text, text, text, jsonb, bigint, bytea, text),
    bevis_custody_guard()
    FROM PUBLIC;
GRANT SELECT ON custody TO bevis_isam, bevis_auditor;
GRANT EXECUTE ON FUNCTION
    bevis_custody_leaf(text, integer, text, text, timestamptz, bigint, bytea, jsonb, text,
                       text, bytea, text)
    TO bevis_isam, bevis_auditor;
-- Both take evidence out: the auditor for the audit file or an
-- investigator, the ISAM for IMY or the police (docs/ROLES.md).
GRANT EXECUTE ON FUNCTION
    bevis_custody_record(text, text, text, text, jsonb, bigint, bytea, text)
    TO bevis_isam, bevis_auditor;
