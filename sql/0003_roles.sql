-- 0003_roles: the three PostgreSQL roles, least privilege, append-only
-- evidence enforced by triggers that fire even in replica mode, and GDPR
-- erasure through bevis_redact() as the one way to change evidence.
-- docs/ROLES.md explains all of it.

-- Roles are cluster-wide: the first database migrated creates them, every
-- later one finds them. NOLOGIN: a deployment grants them to login roles.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['bevis_ingest', 'bevis_isam', 'bevis_auditor'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;   -- another database's migration created it just now
            END;
        END IF;
    END LOOP;
END
$$;

-- ---- GDPR erasure: who redacted which submission, and why ---------------

CREATE TABLE redaction (
    submission_id  bigint PRIMARY KEY REFERENCES submission (id),
    reason         text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 1000),
    redacted_by    text NOT NULL CHECK (redacted_by <> ''),
    redacted_at    timestamptz NOT NULL,
    leaf_idx       bigint NOT NULL UNIQUE
);

-- ---- append-only evidence -----------------------------------------------

-- One trigger function for every evidence table. It refuses UPDATE,
-- DELETE and TRUNCATE with SQLSTATE 42501 (insufficient_privilege), the
-- code a role without the privilege gets, and lets through exactly one
-- kind of UPDATE: the one bevis_redact() makes. That needs all of
--   * bevis.redaction (a transaction-local setting) naming the row's
--     submission,
--   * a redaction row for that submission whose ledger leaf exists,
--   * a change that only sets submission.body, or the personal columns of
--     event (actor_user, src_ip, target, message, attrs), to NULL.
CREATE FUNCTION bevis_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    sub  text := current_setting('bevis.redaction', true);
    o    record;
    ok   boolean := false;
BEGIN
    IF TG_OP = 'UPDATE' AND sub IS NOT NULL AND sub <> ''
       AND TG_TABLE_NAME IN ('submission', 'event') THEN
        o := OLD;
        IF TG_TABLE_NAME = 'submission' THEN
            ok := OLD.id::text = sub AND NEW.body IS NULL;
            o.body := NULL;
        ELSE
            ok := OLD.submission_id::text = sub
                  AND NEW.actor_user IS NULL AND NEW.src_ip IS NULL
                  AND NEW.target IS NULL AND NEW.message IS NULL
                  AND NEW.attrs IS NULL;
            o.actor_user := NULL;
            o.src_ip := NULL;
            o.target := NULL;
            o.message := NULL;
            o.attrs := NULL;
        END IF;
        -- Every other column exactly as it was. The text form compares
        -- every column, json included, byte for byte.
        ok := ok AND o::text = NEW::text
              AND EXISTS (SELECT 1
                            FROM redaction r
                            JOIN ledger_leaf l ON l.idx = r.leaf_idx
                           WHERE r.submission_id = sub::bigint
                             AND l.kind = 'redaction'
                             AND l.submission_id = r.submission_id);
        IF ok THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'bevis: % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = CASE WHEN TG_TABLE_NAME IN ('submission', 'event')
                            THEN 'Evidence changes only through bevis_redact(), '
                                 'which erases personal data and records it in '
                                 'the ledger.'
                            ELSE 'Evidence is never changed or removed.' END;
END
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['submission', 'event', 'quarantine', 'ledger_leaf',
                             'ledger_node', 'tree_head', 'redaction'] LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I '
                       'FOR EACH ROW EXECUTE FUNCTION bevis_append_only()',
                       t || '_append_only', t);
        EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION bevis_append_only()',
                       t || '_no_truncate', t);
        -- ALWAYS: session_replication_role = replica does not silence them.
        EXECUTE format('ALTER TABLE %I ENABLE ALWAYS TRIGGER %I', t,
                       t || '_append_only');
        EXECUTE format('ALTER TABLE %I ENABLE ALWAYS TRIGGER %I', t,
                       t || '_no_truncate');
    END LOOP;
END
$$;

-- ---- the ledger functions ------------------------------------------------

-- bevis_ingest may append but not write ledger_leaf or ledger_node itself.
-- pg_temp last: a caller's temporary table cannot stand in for a real one.
ALTER FUNCTION ledger_append(text[], bytea[], bigint[])
    SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION ledger_root(bigint)
    SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION ledger_node_hash(integer, bigint)
    SET search_path = pg_catalog, public, pg_temp;

-- ---- bevis_redact ---------------------------------------------------------

-- Erases the personal data of one submission: its body, and in its events
-- actor_user, src_ip, target, message and attrs. Records who and why in
-- redaction and appends a 'redaction' leaf to the ledger; returns the leaf
-- index. The leaf data (docs/ROLES.md), big-endian:
--   "BVL1", kind 2 (1 byte), submission id (int8), actor (uint16 length +
--   UTF-8), redacted at (int8, microseconds since the Unix epoch),
--   reason (uint16 length + UTF-8).
-- The actor is session_user, the login that connected: inside SECURITY
-- DEFINER, current_user is the function's owner.
CREATE FUNCTION bevis_redact(p_submission bigint, p_reason text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    v_actor  text := session_user;
    v_at     timestamptz := clock_timestamp();
    v_prev   redaction%ROWTYPE;
    v_data   bytea;
    v_leaf   bigint;
BEGIN
    IF p_submission IS NULL THEN
        RAISE EXCEPTION 'bevis: redaction needs a submission id'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_reason IS NULL OR btrim(p_reason, E' \t\r\n') = '' THEN
        RAISE EXCEPTION 'bevis: redaction of submission % needs a reason',
            p_submission
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF char_length(p_reason) > 1000 THEN
        RAISE EXCEPTION 'bevis: redaction reason is % characters long; at most 1000',
            char_length(p_reason)
            USING ERRCODE = 'string_data_right_truncation';
    END IF;
    -- The row lock makes a concurrent second redaction wait, then fail below.
    PERFORM 1 FROM submission WHERE id = p_submission FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'bevis: submission % does not exist', p_submission
            USING ERRCODE = 'no_data_found';
    END IF;
    SELECT * INTO v_prev FROM redaction WHERE submission_id = p_submission;
    IF FOUND THEN
        RAISE EXCEPTION 'bevis: submission % was already redacted by % at %',
            p_submission, v_prev.redacted_by, v_prev.redacted_at
            USING ERRCODE = 'unique_violation',
                  DETAIL = 'Reason: ' || v_prev.reason;
    END IF;

    v_data := convert_to('BVL1', 'UTF8')
           || '\x02'::bytea
           || int8send(p_submission)
           || int2send(octet_length(convert_to(v_actor, 'UTF8'))::smallint)
           || convert_to(v_actor, 'UTF8')
           || int8send((extract(epoch FROM v_at) * 1000000)::bigint)
           || int2send(octet_length(convert_to(p_reason, 'UTF8'))::smallint)
           || convert_to(p_reason, 'UTF8');
    v_leaf := ledger_append(ARRAY['redaction'], ARRAY[v_data],
                            ARRAY[p_submission]);
    INSERT INTO redaction (submission_id, reason, redacted_by, redacted_at, leaf_idx)
    VALUES (p_submission, p_reason, v_actor, v_at, v_leaf);

    PERFORM set_config('bevis.redaction', p_submission::text, true);
    UPDATE submission SET body = NULL WHERE id = p_submission;
    UPDATE event
       SET actor_user = NULL, src_ip = NULL, target = NULL, message = NULL,
           attrs = NULL
     WHERE submission_id = p_submission;
    PERFORM set_config('bevis.redaction', '', true);
    RETURN v_leaf;
END
$$;

-- ---- privileges -------------------------------------------------------------

REVOKE ALL ON supplier, submission, event, quarantine, ledger_leaf, ledger_node,
              tree_head, redaction, event_view, quarantine_item
    FROM PUBLIC;
REVOKE ALL ON SEQUENCE submission_id_seq FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION ledger_append(text[], bytea[], bigint[]),
                           ledger_root(bigint),
                           ledger_node_hash(integer, bigint),
                           bevis_redact(bigint, text),
                           bevis_append_only()
    FROM PUBLIC;
-- Nobody but the owner (and a superuser) may change evidence; the
-- triggers above stop them too.
REVOKE UPDATE, DELETE, TRUNCATE
    ON submission, event, quarantine, ledger_leaf, ledger_node, tree_head, redaction
    FROM bevis_ingest, bevis_isam, bevis_auditor;

-- Schema and database, in case a deployment takes them from PUBLIC.
GRANT USAGE ON SCHEMA public TO bevis_ingest, bevis_isam, bevis_auditor;
DO $$
BEGIN
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO bevis_ingest',
                   current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO bevis_isam, bevis_auditor',
                   current_database());
END
$$;

-- bevis_ingest: bevisd. Reads suppliers, appends submissions, events,
-- quarantine rows (event_stage is its own temporary table), ledger leaves
-- through ledger_append, and signed tree heads.
GRANT SELECT ON supplier TO bevis_ingest;
GRANT SELECT, INSERT ON submission, event, quarantine, tree_head TO bevis_ingest;
GRANT SELECT ON ledger_leaf, ledger_node TO bevis_ingest;
GRANT USAGE ON SEQUENCE submission_id_seq TO bevis_ingest;
GRANT EXECUTE ON FUNCTION ledger_append(text[], bytea[], bigint[]),
                          ledger_root(bigint),
                          ledger_node_hash(integer, bigint)
    TO bevis_ingest;

-- bevis_auditor and bevis_isam: read everything; the ISAM may also redact.
GRANT SELECT ON supplier, submission, event, quarantine, ledger_leaf, ledger_node,
                tree_head, redaction, event_view, quarantine_item
    TO bevis_isam, bevis_auditor;
GRANT EXECUTE ON FUNCTION ledger_root(bigint), ledger_node_hash(integer, bigint)
    TO bevis_isam, bevis_auditor;
GRANT EXECUTE ON FUNCTION bevis_redact(bigint, text) TO bevis_isam;

-- schema_migration is made by `bevis migrate` itself; absent when these
-- files are applied by hand.
DO $$
BEGIN
    IF to_regclass('schema_migration') IS NOT NULL THEN
        REVOKE ALL ON schema_migration FROM PUBLIC;
        GRANT SELECT ON schema_migration TO bevis_isam, bevis_auditor;
    END IF;
END
$$;
