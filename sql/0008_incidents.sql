-- 0008_incidents: potential and confirmed incidents, the decisions that
-- change them, and their links to evidence. docs/INCIDENTS.md describes the
-- model; docs/LEDGER.md the decision leaf (kind 4).
--
-- One write path: incidents, decisions and links change only through the
-- SECURITY DEFINER functions below (bevis_incident_open, _decide, _link,
-- _unlink, _merge, _unmerge). Each call writes its decision rows and their
-- ledger leaves in the same transaction; the actor is session_user, the
-- login that connected. Direct INSERT, UPDATE and DELETE are revoked for
-- every bevis role and refused by ENABLE ALWAYS triggers.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bevis_protected') THEN
        BEGIN
            CREATE ROLE bevis_protected NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
END
$$;

-- ---- the vocabularies --------------------------------------------------------

-- CERT-SE's ten incident categories.
CREATE FUNCTION bevis_incident_categories() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['software_hardware_disruption', 'environment_disruption',
                 'information_loss', 'information_corruption', 'blocked_access',
                 'product_vulnerability', 'attack', 'handling_error',
                 'critical_infrastructure_disruption', 'other']
$$;

CREATE FUNCTION bevis_incident_causes() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['human', 'technical', 'external_attack', 'supplier', 'other']
$$;

CREATE FUNCTION bevis_subject_categories() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['pupils', 'guardians', 'staff', 'other']
$$;

CREATE FUNCTION bevis_data_categories() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['personal_identity_numbers', 'protected_identity',
                 'grades_assessments', 'pupil_health', 'special_categories', 'other']
$$;

-- ---- tables ------------------------------------------------------------------

CREATE TABLE incident (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ref                 text NOT NULL UNIQUE CHECK (ref ~ '^INC-[0-9]{4}-[0-9]{4,}$'),
    title               text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 500),
    description         text CHECK (char_length(description) <= 20000),
    supplier_id         integer REFERENCES supplier (id),
    occurred_at         timestamptz,
    detected_at         timestamptz,
    aware_at            timestamptz,
    status              text NOT NULL DEFAULT 'new'
                        CHECK (status IN ('new', 'assessing', 'confirmed', 'dismissed',
                                          'closed', 'merged')),
    merged_into         bigint REFERENCES incident (id),
    -- CIA impact: the review's own definition of an incident.
    cia_disclosure      boolean NOT NULL DEFAULT false,
    cia_loss            boolean NOT NULL DEFAULT false,
    cia_change          boolean NOT NULL DEFAULT false,
    category            text CHECK (category = ANY (bevis_incident_categories())),
    cause               text CHECK (cause = ANY (bevis_incident_causes())),
    personal_data       text NOT NULL DEFAULT 'unknown'
                        CHECK (personal_data IN ('unknown', 'no', 'yes')),
    subject_categories  text[] NOT NULL DEFAULT '{}'
                        CHECK (subject_categories <@ bevis_subject_categories()),
    data_categories     text[] NOT NULL DEFAULT '{}'
                        CHECK (data_categories <@ bevis_data_categories()),
    subjects_count      integer CHECK (subjects_count >= 0),
    records_count       bigint CHECK (records_count >= 0),
    -- GDPR Art. 33: the supervisory authority (IMY).
    imy                 text NOT NULL DEFAULT 'not_assessed'
                        CHECK (imy IN ('not_assessed', 'not_required', 'required',
                                       'notified')),
    imy_notified_at     timestamptz,
    imy_ref             text CHECK (char_length(imy_ref) BETWEEN 1 AND 200),
    imy_late_reason     text,
    -- GDPR Art. 34: the data subjects.
    subjects            text NOT NULL DEFAULT 'not_assessed'
                        CHECK (subjects IN ('not_assessed', 'not_required', 'pending',
                                            'informed')),
    subjects_informed_at timestamptz,
    -- Skyddade personuppgifter: only bevis_protected reads the row in full.
    protected_identity  boolean NOT NULL DEFAULT false,
    opened_at           timestamptz NOT NULL,
    opened_by           text NOT NULL,
    -- The number of decisions taken on it: 0 only inside the opening call.
    version             integer NOT NULL CHECK (version >= 0),
    CHECK ((status = 'merged') = (merged_into IS NOT NULL)),
    CHECK (merged_into IS DISTINCT FROM id),
    CHECK ((imy = 'notified') = (imy_notified_at IS NOT NULL AND imy_ref IS NOT NULL)),
    CHECK ((subjects = 'informed') = (subjects_informed_at IS NOT NULL))
);

-- INC-YYYY-NNNN numbers, per year without gaps: the counter row is taken
-- and bumped in the opening transaction, so a rollback gives it back.
CREATE TABLE incident_counter (
    year  integer PRIMARY KEY,
    last  integer NOT NULL
);

-- Every change to an incident, in order (seq from 1, per incident), each
-- one a ledger leaf. before and after hold the fields that changed.
CREATE TABLE decision (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id  bigint NOT NULL REFERENCES incident (id),
    seq          integer NOT NULL CHECK (seq >= 1),
    kind         text NOT NULL
                 CHECK (kind IN ('open', 'triage', 'reopen', 'link', 'unlink', 'merge',
                                 'unmerge', 'merged_from', 'unmerged_from')),
    before       jsonb NOT NULL,
    after        jsonb NOT NULL,
    rationale    text NOT NULL DEFAULT '' CHECK (char_length(rationale) <= 10000),
    -- Keys the digests of before, after and rationale in the ledger leaf.
    salt         bytea NOT NULL CHECK (length(salt) = 16),
    actor        text NOT NULL CHECK (actor <> ''),
    at           timestamptz NOT NULL,
    leaf_idx     bigint NOT NULL UNIQUE,
    UNIQUE (incident_id, seq)
);

-- Links and unlinks, append-only: a link is never deleted, an unlink is a
-- later row (and a decision) that ends it. incident_link_current has the
-- links in force.
CREATE TABLE incident_link (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id          bigint NOT NULL REFERENCES incident (id),
    decision_id          bigint NOT NULL UNIQUE REFERENCES decision (id),
    action               text NOT NULL CHECK (action IN ('link', 'unlink')),
    target_kind          text NOT NULL
                         CHECK (target_kind IN ('event', 'submission', 'incident',
                                                'report_entry')),
    event_submission_id  bigint,
    event_item_no        integer,
    submission_id        bigint REFERENCES submission (id),
    other_incident_id    bigint REFERENCES incident (id),
    report_entry_id      bigint,
    FOREIGN KEY (event_submission_id, event_item_no)
        REFERENCES event (submission_id, item_no),
    CHECK (num_nonnulls(event_submission_id, submission_id, other_incident_id,
                        report_entry_id) = 1),
    CHECK ((target_kind = 'event') = (event_submission_id IS NOT NULL
                                      AND event_item_no IS NOT NULL)),
    CHECK ((target_kind = 'submission') = (submission_id IS NOT NULL)),
    CHECK ((target_kind = 'incident') = (other_incident_id IS NOT NULL)),
    CHECK ((target_kind = 'report_entry') = (report_entry_id IS NOT NULL))
);
CREATE INDEX incident_link_incident ON incident_link (incident_id);

-- Whether two link rows name the same target. (No SET clause, so that the
-- planner can inline it; it reads nothing but its arguments.)
CREATE FUNCTION bevis_link_same_target(a incident_link, b incident_link)
RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT a.target_kind = b.target_kind
       AND (a.event_submission_id, a.event_item_no, a.submission_id,
            a.other_incident_id, a.report_entry_id)
           IS NOT DISTINCT FROM
           (b.event_submission_id, b.event_item_no, b.submission_id,
            b.other_incident_id, b.report_entry_id)
$$;

-- security_invoker: the reader's row-level security applies (a protected
-- incident's links stay hidden from those outside bevis_protected).
CREATE VIEW incident_link_current WITH (security_invoker = true) AS
SELECT l.*
  FROM incident_link l
 WHERE l.action = 'link'
   AND NOT EXISTS (SELECT 1 FROM incident_link u
                    WHERE u.incident_id = l.incident_id
                      AND u.action = 'unlink' AND u.id > l.id
                      AND bevis_link_same_target(u, l));

-- ---- protected identity: row-level security ----------------------------------

CREATE FUNCTION bevis_sees_protected() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT pg_has_role(session_user, 'bevis_protected', 'MEMBER')
$$;

CREATE FUNCTION bevis_incident_is_protected(p_id bigint) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT coalesce((SELECT protected_identity FROM incident WHERE id = p_id), false)
$$;

ALTER TABLE incident ENABLE ROW LEVEL SECURITY;
ALTER TABLE decision ENABLE ROW LEVEL SECURITY;
ALTER TABLE incident_link ENABLE ROW LEVEL SECURITY;
CREATE POLICY incident_read ON incident FOR SELECT
    USING (NOT protected_identity OR bevis_sees_protected());
CREATE POLICY decision_read ON decision FOR SELECT
    USING (NOT bevis_incident_is_protected(incident_id) OR bevis_sees_protected());
CREATE POLICY incident_link_read ON incident_link FOR SELECT
    USING (NOT bevis_incident_is_protected(incident_id) OR bevis_sees_protected());

-- ---- deadlines ---------------------------------------------------------------

-- Art. 33(1): 72 hours from becoming aware, an absolute instant (so it is
-- right across a daylight-saving change, whatever zone shows it).
CREATE FUNCTION bevis_imy_deadline(p_aware_at timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_aware_at + interval '72 hours'
$$;

-- Every incident, as everyone may see it: the reference, the status, the
-- tracks and the deadlines. Title and description only where the reader may
-- read the row (bevis_protected for a protected one). Runs with its owner's
-- rights, so protected rows are listed, but never their contents.
CREATE VIEW incident_overview AS
SELECT i.id, i.ref, i.status,
       (SELECT m.ref FROM incident m WHERE m.id = i.merged_into) AS merged_into_ref,
       CASE WHEN NOT i.protected_identity OR bevis_sees_protected()
            THEN i.title END AS title,
       CASE WHEN NOT i.protected_identity OR bevis_sees_protected()
            THEN i.description END AS description,
       sp.name AS supplier, i.occurred_at, i.detected_at, i.aware_at,
       i.cia_disclosure, i.cia_loss, i.cia_change, i.category, i.cause,
       i.personal_data, i.imy, i.imy_notified_at, i.imy_ref, i.subjects,
       i.subjects_informed_at, i.protected_identity, i.opened_at, i.opened_by,
       i.version,
       CASE WHEN i.aware_at IS NOT NULL
                 AND i.status NOT IN ('dismissed', 'merged', 'closed')
                 AND i.personal_data <> 'no'
                 AND i.imy IN ('not_assessed', 'required')
            THEN bevis_imy_deadline(i.aware_at) END AS imy_deadline
  FROM incident i
  LEFT JOIN supplier sp ON sp.id = i.supplier_id;

-- The open deadlines, for `bevis deadlines`: IMY (Art. 33) while a
-- personal-data incident is neither notified nor found not to need it, and
-- triage while a potential incident is still new p_triage_within after it
-- was opened.
CREATE FUNCTION bevis_deadlines(p_triage_within interval)
RETURNS TABLE (ref text, status text, kind text, due_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT o.ref, o.status, 'imy', o.imy_deadline
      FROM incident_overview o WHERE o.imy_deadline IS NOT NULL
    UNION ALL
    SELECT i.ref, i.status, 'triage', i.opened_at + p_triage_within
      FROM incident i WHERE i.status = 'new'
    ORDER BY 4, 1
$$;

-- ---- the decision leaf (kind 4) --------------------------------------------

CREATE FUNCTION bevis_leaf_str16(p text) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT int2send(octet_length(convert_to(p, 'UTF8'))::smallint) || convert_to(p, 'UTF8')
$$;

CREATE FUNCTION bevis_leaf_str32(p text) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT int4send(octet_length(convert_to(p, 'UTF8'))) || convert_to(p, 'UTF8')
$$;

-- A keyed digest of one of a decision's texts: SHA-256(salt || tag || text).
-- The leaf holds these, not the texts: the ledger can be read by every bevis
-- role, and a protected incident's title or rationale must not be. The salt
-- (16 random bytes, in the decision row, which row-level security guards)
-- keeps a short or guessable text from being confirmed by hashing guesses.
CREATE FUNCTION bevis_decision_digest(p_salt bytea, p_tag integer, p_text text)
RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT sha256(p_salt || substring(int4send(p_tag) FROM 4 FOR 1)
                  || convert_to(p_text, 'UTF8'))
$$;

-- "BVL1", kind 4, then: incident reference (uint16 length + UTF-8),
-- decision seq (int4), decision kind (uint16 + UTF-8), the digests of before
-- (tag 1, the jsonb's text form), after (tag 2) and the rationale (tag 3),
-- 32 bytes each, actor (uint16 + UTF-8), at (int8, microseconds since the
-- Unix epoch). Big-endian throughout.
CREATE FUNCTION bevis_decision_leaf(p_ref text, p_seq integer, p_kind text,
                                    p_before jsonb, p_after jsonb, p_rationale text,
                                    p_salt bytea, p_actor text, p_at timestamptz)
RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT convert_to('BVL1', 'UTF8') || '\x04'::bytea
        || bevis_leaf_str16(p_ref) || int4send(p_seq) || bevis_leaf_str16(p_kind)
        || bevis_decision_digest(p_salt, 1, p_before::text)
        || bevis_decision_digest(p_salt, 2, p_after::text)
        || bevis_decision_digest(p_salt, 3, p_rationale)
        || bevis_leaf_str16(p_actor)
        || int8send((extract(epoch FROM p_at) * 1000000)::bigint)
$$;

-- ---- append-only, and the one way round it -----------------------------------

-- INSERT, UPDATE and DELETE are refused unless bevis.incident_write names
-- the incident (a transaction-local setting that only the functions below
-- set, and only for the row they change). Nobody but the owner has the
-- privileges anyway; this stops the owner's mistakes and replica-mode
-- tricks, and makes a superuser's change show up in bevis verify instead.
CREATE FUNCTION bevis_incident_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    w  text := current_setting('bevis.incident_write', true);
BEGIN
    IF TG_OP = 'INSERT' AND w IS NOT NULL AND w <> '' THEN
        IF TG_TABLE_NAME = 'incident' AND w = 'open' THEN
            RETURN NEW;
        ELSIF TG_TABLE_NAME IN ('decision', 'incident_link')
              AND NEW.incident_id::text = w THEN
            RETURN NEW;
        END IF;
    ELSIF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'incident' AND w IS NOT NULL THEN
        -- Nested: NEW.version exists only on incident.
        IF OLD.id::text = w AND NEW.id = OLD.id AND NEW.version = OLD.version + 1 THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'bevis: % changes only through the bevis_incident_* functions: % refused',
        TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = 'Every change to an incident is a decision with an actor, a '
                       'rationale and a ledger leaf.';
END
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['incident', 'decision', 'incident_link'] LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE OR DELETE ON %I '
                       'FOR EACH ROW EXECUTE FUNCTION bevis_incident_guard()',
                       t || '_guard', t);
        EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION bevis_append_only()',
                       t || '_no_truncate', t);
        EXECUTE format('ALTER TABLE %I ENABLE ALWAYS TRIGGER %I', t, t || '_guard');
        EXECUTE format('ALTER TABLE %I ENABLE ALWAYS TRIGGER %I', t, t || '_no_truncate');
    END LOOP;
END
$$;

-- Every ledger append tells a listening bevisd, so that a leaf appended
-- from the CLI (a decision, a redaction, a key change) gets a signed tree
-- head within checkpoint_interval, not only after the next submission.
-- NOTIFY is delivered at COMMIT, and not at all on ROLLBACK.
CREATE FUNCTION bevis_ledger_notify() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    PERFORM pg_notify('bevis_ledger', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER ledger_leaf_notify AFTER INSERT ON ledger_leaf
    FOR EACH STATEMENT EXECUTE FUNCTION bevis_ledger_notify();
ALTER TABLE ledger_leaf ENABLE ALWAYS TRIGGER ledger_leaf_notify;

-- ---- the write path ------------------------------------------------------------

-- Writes one decision of p_kind on incident p_inc (the row as it is now):
-- its row, its ledger leaf, and p_new as the incident's new state (NULL:
-- the incident row does not change, as for a link). Returns the decision
-- id. Internal: EXECUTE is granted to nobody.
CREATE FUNCTION bevis_incident_record(p_inc incident, p_new incident, p_kind text,
                                      p_before jsonb, p_after jsonb, p_rationale text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_actor  text := session_user;
    v_at     timestamptz := clock_timestamp();
    v_seq    integer;
    v_leaf   bigint;
    v_id     bigint;
    v_rat    text := coalesce(btrim(p_rationale, E' \t\r\n'), '');
    v_salt   bytea := uuid_send(gen_random_uuid());	-- 16 random bytes
BEGIN
    SELECT coalesce(max(seq), 0) + 1 INTO v_seq FROM decision
     WHERE incident_id = p_inc.id;
    v_leaf := ledger_append(ARRAY['decision'],
                            ARRAY[bevis_decision_leaf(p_inc.ref, v_seq, p_kind, p_before,
                                                      p_after, v_rat, v_salt, v_actor,
                                                      v_at)],
                            ARRAY[NULL::bigint]);
    PERFORM set_config('bevis.incident_write', p_inc.id::text, true);
    INSERT INTO decision (incident_id, seq, kind, before, after, rationale, salt, actor,
                          at, leaf_idx)
    VALUES (p_inc.id, v_seq, p_kind, p_before, p_after, v_rat, v_salt, v_actor, v_at,
            v_leaf)
    RETURNING id INTO v_id;
    -- p_new.id, not p_new IS NOT NULL: a row with any NULL field is not
    -- "NOT NULL" in SQL.
    IF p_new.id IS NOT NULL THEN
        UPDATE incident SET
            title = p_new.title, description = p_new.description,
            supplier_id = p_new.supplier_id, occurred_at = p_new.occurred_at,
            detected_at = p_new.detected_at, aware_at = p_new.aware_at,
            status = p_new.status, merged_into = p_new.merged_into,
            cia_disclosure = p_new.cia_disclosure, cia_loss = p_new.cia_loss,
            cia_change = p_new.cia_change, category = p_new.category,
            cause = p_new.cause, personal_data = p_new.personal_data,
            subject_categories = p_new.subject_categories,
            data_categories = p_new.data_categories,
            subjects_count = p_new.subjects_count, records_count = p_new.records_count,
            imy = p_new.imy, imy_notified_at = p_new.imy_notified_at,
            imy_ref = p_new.imy_ref, imy_late_reason = p_new.imy_late_reason,
            subjects = p_new.subjects, subjects_informed_at = p_new.subjects_informed_at,
            protected_identity = p_new.protected_identity,
            version = p_inc.version + 1
         WHERE id = p_inc.id;
    ELSE
        UPDATE incident SET version = p_inc.version + 1 WHERE id = p_inc.id;
    END IF;
    PERFORM set_config('bevis.incident_write', '', true);
    RETURN v_id;
END
$$;

-- The incident by reference, locked for the change; refuses an unknown one,
-- and a protected one for a caller outside bevis_protected.
CREATE FUNCTION bevis_incident_take(p_ref text) RETURNS incident
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v incident;
BEGIN
    SELECT * INTO v FROM incident WHERE ref = upper(btrim(p_ref)) FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'bevis: no incident %', coalesce(p_ref, 'NULL')
            USING ERRCODE = 'no_data_found',
                  HINT = 'A reference looks like INC-2026-0001; bevis incidents lists them.';
    END IF;
    IF v.protected_identity AND NOT bevis_sees_protected() THEN
        RAISE EXCEPTION 'bevis: incident % involves a protected identity; only members '
                        'of bevis_protected may change it', v.ref
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN v;
END
$$;

CREATE FUNCTION bevis_need_rationale(p_rationale text, p_what text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_rationale IS NULL OR btrim(p_rationale, E' \t\r\n') = '' THEN
        RAISE EXCEPTION 'bevis: % needs a rationale', p_what
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Say why, with --rationale: the decision is kept in the ledger.';
    END IF;
END
$$;

-- The statuses each status may go to by a triage decision (merging has a
-- function of its own).
CREATE FUNCTION bevis_incident_next(p_status text) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_status
        WHEN 'new'       THEN ARRAY['assessing', 'confirmed', 'dismissed']
        WHEN 'assessing' THEN ARRAY['confirmed', 'dismissed']
        WHEN 'confirmed' THEN ARRAY['closed', 'assessing']
        WHEN 'dismissed' THEN ARRAY['assessing']
        WHEN 'closed'    THEN ARRAY['assessing']
        ELSE ARRAY[]::text[]
    END
$$;

-- Checks a whole new state against the old one and the rules; raises with
-- the rule broken.
CREATE FUNCTION bevis_incident_check(o incident, n incident, p_rationale text)
RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_now  timestamptz := clock_timestamp();
BEGIN
    IF n.status IS DISTINCT FROM o.status THEN
        IF o.status = 'merged' THEN
            RAISE EXCEPTION 'bevis: % is merged into another incident; unmerge it first',
                o.ref USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        IF n.status = 'merged' THEN
            RAISE EXCEPTION 'bevis: merging is bevis merge, not a status'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF NOT n.status = ANY (bevis_incident_next(o.status)) THEN
            RAISE EXCEPTION 'bevis: % cannot go from % to %', o.ref, o.status, n.status
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = format('From %s it may go to: %s.', o.status,
                                    array_to_string(bevis_incident_next(o.status), ', '));
        END IF;
        IF n.status = 'dismissed' THEN
            PERFORM bevis_need_rationale(p_rationale, 'dismissing ' || o.ref);
        END IF;
        IF n.status = 'assessing' AND o.status IN ('dismissed', 'closed', 'confirmed') THEN
            PERFORM bevis_need_rationale(p_rationale, 'reopening ' || o.ref);
        END IF;
    END IF;
    -- A closed incident stays consistent, whatever a later decision changes.
    IF n.status = 'closed' AND n.personal_data = 'yes' AND n.imy = 'not_assessed' THEN
        RAISE EXCEPTION 'bevis: % involves personal data: decide whether IMY must be '
                        'notified before it is closed', o.ref
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Decide --imy required or --imy not-required (with a rationale).';
    END IF;
    IF n.status = 'closed' AND n.imy = 'required' THEN
        RAISE EXCEPTION 'bevis: % must be notified to IMY before it is closed', o.ref
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Record the notification with --imy-notified-at and --imy-ref.';
    END IF;
    IF o.personal_data = 'yes' AND n.personal_data <> 'yes'
       AND o.imy IN ('required', 'notified') THEN
        PERFORM bevis_need_rationale(p_rationale, 'deciding that ' || o.ref ||
                                     ' involves no personal data after IMY was required');
    END IF;
    IF n.aware_at > v_now OR n.occurred_at > v_now + interval '5 minutes'
       OR n.detected_at > v_now + interval '5 minutes' THEN
        RAISE EXCEPTION 'bevis: a time of % lies in the future', o.ref
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF n.aware_at IS DISTINCT FROM o.aware_at AND o.aware_at IS NOT NULL THEN
        PERFORM bevis_need_rationale(p_rationale, 'changing when we became aware of '
                                                  || o.ref);
    END IF;
    -- Art. 33: the IMY track.
    IF n.imy IS DISTINCT FROM o.imy THEN
        IF n.imy = 'notified' AND o.imy <> 'required' THEN
            RAISE EXCEPTION 'bevis: % cannot be notified to IMY before it is found to '
                            'require it (it is %)', o.ref, o.imy
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Decide --imy required first.';
        END IF;
        IF n.imy = 'not_required' THEN
            PERFORM bevis_need_rationale(p_rationale,
                                         'deciding that IMY need not be notified of ' || o.ref);
        END IF;
        IF n.imy = 'required' AND n.aware_at IS NULL THEN
            RAISE EXCEPTION 'bevis: % needs --aware-at before IMY is required: the '
                            '72 hours run from then', o.ref
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF n.imy = 'not_assessed' THEN
            RAISE EXCEPTION 'bevis: the IMY assessment of % cannot be undone', o.ref
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF o.imy = 'notified' THEN
            RAISE EXCEPTION 'bevis: % was notified to IMY; that cannot be undone', o.ref
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
    -- A notification, new or with its time or the awareness moved, meets
    -- the same rules.
    IF n.imy = 'notified' AND (o.imy <> 'notified'
       OR n.imy_notified_at IS DISTINCT FROM o.imy_notified_at
       OR n.aware_at IS DISTINCT FROM o.aware_at) THEN
        IF n.imy_notified_at > v_now THEN
            RAISE EXCEPTION 'bevis: the IMY notification of % lies in the future', o.ref
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF n.imy_notified_at > bevis_imy_deadline(n.aware_at)
           AND coalesce(btrim(n.imy_late_reason), '') = '' THEN
            RAISE EXCEPTION 'bevis: % was notified to IMY % after the 72-hour deadline; '
                            'Art. 33(1) asks for the reasons for the delay',
                o.ref, n.imy_notified_at - bevis_imy_deadline(n.aware_at)
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Give them with --rationale.';
        END IF;
    END IF;
    -- Art. 34: the data subjects.
    IF n.subjects IS DISTINCT FROM o.subjects THEN
        IF n.subjects = 'not_required' THEN
            PERFORM bevis_need_rationale(p_rationale, 'deciding that the data subjects of '
                                                      || o.ref || ' need not be informed');
        END IF;
        IF n.subjects = 'not_assessed' THEN
            RAISE EXCEPTION 'bevis: the Art. 34 assessment of % cannot be undone', o.ref
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
    IF n.subjects = 'informed' AND n.subjects_informed_at > v_now THEN
        RAISE EXCEPTION 'bevis: informing the data subjects of % lies in the future',
            o.ref USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- The fields of b that differ from a, with b's values, as jsonb.
CREATE FUNCTION bevis_incident_diff(a incident, b incident) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(jsonb_object_agg(x.key, x.value), '{}'::jsonb)
      FROM jsonb_each(to_jsonb(b)) x
     WHERE x.key NOT IN ('id', 'ref', 'version', 'opened_at', 'opened_by')
       AND to_jsonb(a) -> x.key IS DISTINCT FROM x.value
$$;

-- The fields a triage decision may set, with their jsonb keys.
CREATE FUNCTION bevis_incident_fields() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['title', 'description', 'supplier', 'occurred_at', 'detected_at',
                 'aware_at', 'status', 'cia_disclosure', 'cia_loss', 'cia_change',
                 'category', 'cause', 'personal_data', 'subject_categories',
                 'data_categories', 'subjects_count', 'records_count', 'imy',
                 'imy_notified_at', 'imy_ref', 'subjects', 'subjects_informed_at',
                 'protected_identity']
$$;

-- Applies p_changes to a copy of o. 'supplier' is a supplier name; the late
-- reason of an IMY notification is the rationale.
CREATE FUNCTION bevis_incident_apply(o incident, p_changes jsonb, p_rationale text)
RETURNS incident
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    n      incident;
    k      text;
    v_sup  integer;
BEGIN
    IF p_changes IS NULL OR jsonb_typeof(p_changes) <> 'object' THEN
        RAISE EXCEPTION 'bevis: the changes must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR k IN SELECT jsonb_object_keys(p_changes) LOOP
        IF NOT k = ANY (bevis_incident_fields()) THEN
            RAISE EXCEPTION 'bevis: % is not a field a decision may change', k
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Fields: ' || array_to_string(bevis_incident_fields(), ', ');
        END IF;
    END LOOP;
    BEGIN
        n := jsonb_populate_record(o, p_changes - 'supplier');
    EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow
                   OR invalid_text_representation OR invalid_parameter_value
                   OR numeric_value_out_of_range THEN
        RAISE EXCEPTION 'bevis: %', SQLERRM USING ERRCODE = 'invalid_parameter_value';
    END;
    IF p_changes ? 'supplier' THEN
        IF jsonb_typeof(p_changes -> 'supplier') = 'null' THEN
            n.supplier_id := NULL;
        ELSE
            SELECT id INTO v_sup FROM supplier WHERE name = p_changes ->> 'supplier';
            IF NOT FOUND THEN
                RAISE EXCEPTION 'bevis: no supplier %', p_changes ->> 'supplier'
                    USING ERRCODE = 'no_data_found';
            END IF;
            n.supplier_id := v_sup;
        END IF;
    END IF;
    IF n.imy = 'notified' AND (o.imy <> 'notified'
       OR n.imy_notified_at IS DISTINCT FROM o.imy_notified_at
       OR n.aware_at IS DISTINCT FROM o.aware_at) THEN
        n.imy_late_reason := CASE WHEN n.imy_notified_at > bevis_imy_deadline(n.aware_at)
                                  THEN btrim(p_rationale) END;
    END IF;
    -- The vocabularies, with the allowed words in the message.
    IF n.category IS NOT NULL AND NOT n.category = ANY (bevis_incident_categories()) THEN
        RAISE EXCEPTION 'bevis: unknown category %', n.category
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Categories: ' || array_to_string(bevis_incident_categories(), ', ');
    END IF;
    IF n.cause IS NOT NULL AND NOT n.cause = ANY (bevis_incident_causes()) THEN
        RAISE EXCEPTION 'bevis: unknown cause %', n.cause
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Causes: ' || array_to_string(bevis_incident_causes(), ', ');
    END IF;
    IF NOT n.subject_categories <@ bevis_subject_categories() THEN
        RAISE EXCEPTION 'bevis: unknown data-subject category in %', n.subject_categories
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Categories: ' || array_to_string(bevis_subject_categories(), ', ');
    END IF;
    IF NOT n.data_categories <@ bevis_data_categories() THEN
        RAISE EXCEPTION 'bevis: unknown data category in %', n.data_categories
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Categories: ' || array_to_string(bevis_data_categories(), ', ');
    END IF;
    IF n.personal_data NOT IN ('unknown', 'no', 'yes') THEN
        RAISE EXCEPTION 'bevis: personal_data is unknown, no or yes, not %', n.personal_data
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF n.imy NOT IN ('not_assessed', 'not_required', 'required', 'notified')
       OR n.subjects NOT IN ('not_assessed', 'not_required', 'pending', 'informed')
       OR n.status NOT IN ('new', 'assessing', 'confirmed', 'dismissed', 'closed', 'merged')
    THEN
        RAISE EXCEPTION 'bevis: unknown value: status %, imy %, subjects %',
            n.status, n.imy, n.subjects
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN n;
END
$$;

-- Resolves one link target, {"event": "SUPPLIER:ID"}, {"submission": N},
-- {"incident": "INC-…"} or {"report_entry": N}, onto an incident_link row
-- (its target columns only), refusing one that does not exist.
CREATE FUNCTION bevis_link_target(p_target jsonb) RETURNS incident_link
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    l      incident_link;
    v_s    text;
    v_sup  text;
    v_id   text;
BEGIN
    IF jsonb_typeof(p_target) <> 'object' OR (SELECT count(*) FROM jsonb_object_keys(p_target)) <> 1
    THEN
        RAISE EXCEPTION 'bevis: a link target is one of event, submission, incident'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_target ? 'event' THEN
        v_s := p_target ->> 'event';
        v_sup := split_part(v_s, ':', 1);
        v_id := substr(v_s, length(v_sup) + 2);
        IF position(':' IN coalesce(v_s, '')) = 0 OR v_id = '' THEN
            RAISE EXCEPTION 'bevis: an event is named SUPPLIER:ID, not %', v_s
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        l.target_kind := 'event';
        SELECT e.submission_id, e.item_no INTO l.event_submission_id, l.event_item_no
          FROM event e JOIN supplier sp ON sp.id = e.supplier_id
         WHERE sp.name = v_sup AND e.source_event_id = v_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'bevis: no event % from supplier %', v_id, v_sup
                USING ERRCODE = 'no_data_found';
        END IF;
    ELSIF p_target ? 'submission' THEN
        l.target_kind := 'submission';
        BEGIN
            l.submission_id := (p_target ->> 'submission')::bigint;
        EXCEPTION WHEN invalid_text_representation THEN
            RAISE EXCEPTION 'bevis: a submission is a number, not %', p_target ->> 'submission'
                USING ERRCODE = 'invalid_parameter_value';
        END;
        PERFORM 1 FROM submission WHERE id = l.submission_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'bevis: no submission %', l.submission_id
                USING ERRCODE = 'no_data_found';
        END IF;
    ELSIF p_target ? 'incident' THEN
        l.target_kind := 'incident';
        SELECT id INTO l.other_incident_id FROM incident
         WHERE ref = upper(btrim(p_target ->> 'incident'));
        IF NOT FOUND THEN
            RAISE EXCEPTION 'bevis: no incident %', p_target ->> 'incident'
                USING ERRCODE = 'no_data_found';
        END IF;
    ELSIF p_target ? 'report_entry' THEN
        RAISE EXCEPTION 'bevis: report entries arrive with the monthly reports'
            USING ERRCODE = 'feature_not_supported';
    ELSE
        RAISE EXCEPTION 'bevis: a link target is one of event, submission, incident'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN l;
END
$$;

-- The link target as it goes into a decision: what a reader needs to find
-- it again without the database's internal ids alone.
CREATE FUNCTION bevis_link_json(l incident_link) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT CASE l.target_kind
        WHEN 'event' THEN (
            SELECT jsonb_build_object('event', jsonb_build_object(
                       'supplier', sp.name, 'id', e.source_event_id,
                       'submission', e.submission_id, 'item', e.item_no))
              FROM event e JOIN supplier sp ON sp.id = e.supplier_id
             WHERE e.submission_id = l.event_submission_id AND e.item_no = l.event_item_no)
        WHEN 'submission' THEN jsonb_build_object('submission', l.submission_id)
        WHEN 'incident' THEN jsonb_build_object('incident',
            (SELECT ref FROM incident WHERE id = l.other_incident_id))
        ELSE jsonb_build_object('report_entry', l.report_entry_id)
    END
$$;

-- Whether target t is linked to incident p_id now.
CREATE FUNCTION bevis_link_active(p_id bigint, t incident_link) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM incident_link_current c
                    WHERE c.incident_id = p_id
                      AND bevis_link_same_target(ROW(c.*)::incident_link, t))
$$;

-- Links or unlinks each target of p_targets (a JSON array) as a decision of
-- its own. Linking what is already linked, or unlinking what is not, is
-- refused.
CREATE FUNCTION bevis_incident_links(p_inc incident, p_action text, p_targets jsonb,
                                     p_rationale text) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    t      jsonb;
    l      incident_link;
    v_inc  incident := p_inc;
    v_dec  bigint;
    n      integer := 0;
BEGIN
    IF p_targets IS NULL OR jsonb_typeof(p_targets) <> 'array' THEN
        RAISE EXCEPTION 'bevis: link targets must be a JSON array'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR t IN SELECT jsonb_array_elements(p_targets) LOOP
        l := bevis_link_target(t);
        IF l.other_incident_id = v_inc.id THEN
            RAISE EXCEPTION 'bevis: % cannot be linked to itself', v_inc.ref
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF p_action = 'link' AND bevis_link_active(v_inc.id, l) THEN
            RAISE EXCEPTION 'bevis: % is already linked to %', v_inc.ref, bevis_link_json(l)
                USING ERRCODE = 'unique_violation';
        END IF;
        IF p_action = 'unlink' AND NOT bevis_link_active(v_inc.id, l) THEN
            RAISE EXCEPTION 'bevis: % is not linked to %', v_inc.ref, bevis_link_json(l)
                USING ERRCODE = 'no_data_found';
        END IF;
        v_dec := bevis_incident_record(v_inc, NULL, p_action, '{}'::jsonb,
                                       jsonb_build_object(p_action, bevis_link_json(l)),
                                       p_rationale);
        PERFORM set_config('bevis.incident_write', v_inc.id::text, true);
        INSERT INTO incident_link (incident_id, decision_id, action, target_kind,
                                   event_submission_id, event_item_no, submission_id,
                                   other_incident_id, report_entry_id)
        VALUES (v_inc.id, v_dec, p_action, l.target_kind, l.event_submission_id,
                l.event_item_no, l.submission_id, l.other_incident_id, l.report_entry_id);
        PERFORM set_config('bevis.incident_write', '', true);
        v_inc.version := v_inc.version + 1;
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

-- ---- the functions the CLI calls -----------------------------------------------

-- Opens an incident (status new) and returns its reference. p_fields holds
-- the fields of bevis_incident_fields() to start with (title is required);
-- p_links a JSON array of link targets, each linked as a decision of its own.
CREATE FUNCTION bevis_incident_open(p_fields jsonb, p_links jsonb DEFAULT '[]',
                                    p_rationale text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_at    timestamptz := clock_timestamp();
    v_year  integer := extract(year FROM v_at AT TIME ZONE 'Europe/Stockholm')::integer;
    v_num   integer;
    v_ref   text;
    o       incident;
    n       incident;
BEGIN
    IF p_fields IS NULL OR jsonb_typeof(p_fields) <> 'object'
       OR coalesce(btrim(p_fields ->> 'title'), '') = '' THEN
        RAISE EXCEPTION 'bevis: a new incident needs a title'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_fields ?| ARRAY['imy', 'imy_notified_at', 'imy_ref', 'subjects',
                         'subjects_informed_at'] THEN
        RAISE EXCEPTION 'bevis: an incident opens with the IMY and data-subject tracks '
                        'not assessed; decide them with a triage after'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_fields ? 'status' AND p_fields ->> 'status' <> 'new' THEN
        RAISE EXCEPTION 'bevis: an incident opens as new; triage it after'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The counter row serializes openings within a year.
    INSERT INTO incident_counter (year, last) VALUES (v_year, 1)
        ON CONFLICT (year) DO UPDATE SET last = incident_counter.last + 1
        RETURNING last INTO v_num;
    v_ref := format('INC-%s-%s', v_year, lpad(v_num::text, 4, '0'));
    o.ref := v_ref;
    o.title := '-';
    o.status := 'new';
    o.personal_data := 'unknown';
    o.imy := 'not_assessed';
    o.subjects := 'not_assessed';
    o.cia_disclosure := false;
    o.cia_loss := false;
    o.cia_change := false;
    o.subject_categories := '{}';
    o.data_categories := '{}';
    o.protected_identity := false;
    n := bevis_incident_apply(o, p_fields, p_rationale);
    PERFORM bevis_incident_check(o, n, p_rationale);
    PERFORM set_config('bevis.incident_write', 'open', true);
    INSERT INTO incident (ref, title, description, supplier_id, occurred_at, detected_at,
                          aware_at, cia_disclosure, cia_loss, cia_change, category, cause,
                          personal_data, subject_categories, data_categories,
                          subjects_count, records_count, protected_identity,
                          opened_at, opened_by, version)
    VALUES (v_ref, n.title, n.description, n.supplier_id, n.occurred_at, n.detected_at,
            n.aware_at, n.cia_disclosure, n.cia_loss, n.cia_change, n.category, n.cause,
            n.personal_data, n.subject_categories, n.data_categories, n.subjects_count,
            n.records_count, n.protected_identity, v_at, session_user, 0)
    RETURNING * INTO n;
    PERFORM set_config('bevis.incident_write', '', true);
    -- The open decision, the first (version 0 -> 1): everything the
    -- incident started with.
    PERFORM bevis_incident_record(n, n, 'open', '{}'::jsonb,
                                  bevis_incident_diff(
                                      jsonb_populate_record(NULL::incident, '{}'), n)
                                  || jsonb_build_object('ref', n.ref,
                                                        'opened_at', n.opened_at,
                                                        'opened_by', n.opened_by),
                                  p_rationale);
    SELECT * INTO n FROM incident WHERE id = n.id;
    PERFORM bevis_incident_links(n, 'link', coalesce(p_links, '[]'::jsonb), NULL);
    RETURN v_ref;
END
$$;

-- A triage decision: the fields in p_changes (bevis_incident_fields())
-- take their new values, after every rule is checked. Returns the
-- decision's sequence number in the incident.
CREATE FUNCTION bevis_incident_decide(p_ref text, p_changes jsonb, p_rationale text)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    o       incident := bevis_incident_take(p_ref);
    n       incident;
    v_diff  jsonb;
    v_kind  text := 'triage';
BEGIN
    n := bevis_incident_apply(o, p_changes, p_rationale);
    PERFORM bevis_incident_check(o, n, p_rationale);
    v_diff := bevis_incident_diff(o, n);
    IF v_diff = '{}'::jsonb THEN
        RAISE EXCEPTION 'bevis: the decision changes nothing in %', o.ref
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF n.status = 'assessing' AND o.status IN ('dismissed', 'closed', 'confirmed') THEN
        v_kind := 'reopen';
    END IF;
    PERFORM bevis_incident_record(o, n, v_kind, bevis_incident_diff(n, o), v_diff,
                                  p_rationale);
    RETURN o.version + 1;
END
$$;

CREATE FUNCTION bevis_incident_link(p_ref text, p_targets jsonb, p_rationale text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    o  incident := bevis_incident_take(p_ref);
BEGIN
    IF o.status = 'merged' THEN
        RAISE EXCEPTION 'bevis: % is merged; link to the incident it was merged into', o.ref
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    RETURN bevis_incident_links(o, 'link', p_targets, p_rationale);
END
$$;

CREATE FUNCTION bevis_incident_unlink(p_ref text, p_targets jsonb, p_rationale text)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    o  incident := bevis_incident_take(p_ref);
BEGIN
    PERFORM bevis_need_rationale(p_rationale, 'unlinking from ' || o.ref);
    RETURN bevis_incident_links(o, 'unlink', p_targets, p_rationale);
END
$$;

-- Merges p_ref into p_into: p_ref becomes merged and points to the
-- survivor, which records it too. Both keep their links.
CREATE FUNCTION bevis_incident_merge(p_ref text, p_into text, p_rationale text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    o   incident;
    s   incident;
    n   incident;
BEGIN
    IF upper(btrim(p_ref)) = upper(btrim(p_into)) THEN
        RAISE EXCEPTION 'bevis: % cannot be merged into itself', p_ref
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Lock in reference order, so two crossed merges cannot deadlock.
    IF upper(btrim(p_ref)) < upper(btrim(p_into)) THEN
        o := bevis_incident_take(p_ref);
        s := bevis_incident_take(p_into);
    ELSE
        s := bevis_incident_take(p_into);
        o := bevis_incident_take(p_ref);
    END IF;
    PERFORM bevis_need_rationale(p_rationale, 'merging ' || o.ref);
    IF o.status NOT IN ('new', 'assessing', 'confirmed') THEN
        RAISE EXCEPTION 'bevis: % is %; only an open incident can be merged', o.ref, o.status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF s.status = 'merged' THEN
        RAISE EXCEPTION 'bevis: % is itself merged into another incident; merge into that one',
            s.ref USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    n := o;
    n.status := 'merged';
    n.merged_into := s.id;
    PERFORM bevis_incident_record(o, n, 'merge',
                                  jsonb_build_object('status', o.status, 'merged_into', NULL),
                                  jsonb_build_object('status', 'merged', 'merged_into', s.ref),
                                  p_rationale);
    PERFORM bevis_incident_record(s, NULL, 'merged_from', '{}'::jsonb,
                                  jsonb_build_object('merged_from', o.ref), p_rationale);
END
$$;

-- Undoes a merge: p_ref goes back to assessing, and its survivor records it.
CREATE FUNCTION bevis_incident_unmerge(p_ref text, p_rationale text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    o   incident;
    s   incident;
    n   incident;
    v_into text;
BEGIN
    SELECT m.ref INTO v_into FROM incident i JOIN incident m ON m.id = i.merged_into
     WHERE i.ref = upper(btrim(p_ref));
    -- Both through bevis_incident_take (protected identity), locked in
    -- reference order as bevis_incident_merge does, so the two cannot
    -- deadlock.
    IF v_into IS NOT NULL AND v_into < upper(btrim(p_ref)) THEN
        s := bevis_incident_take(v_into);
        o := bevis_incident_take(p_ref);
    ELSE
        o := bevis_incident_take(p_ref);
        IF v_into IS NOT NULL THEN
            s := bevis_incident_take(v_into);
        END IF;
    END IF;
    PERFORM bevis_need_rationale(p_rationale, 'unmerging ' || o.ref);
    IF o.status <> 'merged' OR s.id IS DISTINCT FROM o.merged_into THEN
        RAISE EXCEPTION 'bevis: % is not merged', o.ref
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    n := o;
    n.status := 'assessing';
    n.merged_into := NULL;
    PERFORM bevis_incident_record(o, n, 'unmerge',
                                  jsonb_build_object('status', 'merged', 'merged_into', s.ref),
                                  jsonb_build_object('status', 'assessing',
                                                     'merged_into', NULL), p_rationale);
    PERFORM bevis_incident_record(s, NULL, 'unmerged_from', '{}'::jsonb,
                                  jsonb_build_object('unmerged_from', o.ref), p_rationale);
END
$$;

-- ---- privileges ------------------------------------------------------------------

REVOKE ALL ON incident, incident_counter, decision, incident_link, incident_link_current,
              incident_overview
    FROM PUBLIC;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON incident, incident_counter, decision,
                                           incident_link
    FROM bevis_ingest, bevis_isam, bevis_auditor, bevis_protected;
-- New functions are executable by PUBLIC by default: the internal ones
-- would be a way round every rule.
REVOKE EXECUTE ON FUNCTION
    bevis_incident_record(incident, incident, text, jsonb, jsonb, text),
    bevis_incident_take(text),
    bevis_incident_links(incident, text, jsonb, text),
    bevis_incident_check(incident, incident, text),
    bevis_incident_apply(incident, jsonb, text),
    bevis_incident_diff(incident, incident),
    bevis_link_target(jsonb), bevis_link_json(incident_link),
    bevis_link_active(bigint, incident_link),
    bevis_need_rationale(text, text),
    bevis_decision_leaf(text, integer, text, jsonb, jsonb, text, bytea, text, timestamptz),
    bevis_decision_digest(bytea, integer, text),
    bevis_leaf_str16(text), bevis_leaf_str32(text),
    bevis_deadlines(interval),
    bevis_incident_open(jsonb, jsonb, text),
    bevis_incident_decide(text, jsonb, text),
    bevis_incident_link(text, jsonb, text),
    bevis_incident_unlink(text, jsonb, text),
    bevis_incident_merge(text, text, text),
    bevis_incident_unmerge(text, text),
    bevis_incident_guard(), bevis_ledger_notify()
    FROM PUBLIC;
-- incident_counter too: both roles read every table (docs/ROLES.md), and an
-- auditor checks from it that the numbering has no gaps.
GRANT SELECT ON incident, incident_counter, decision, incident_link,
                incident_link_current, incident_overview
    TO bevis_isam, bevis_auditor;
GRANT EXECUTE ON FUNCTION bevis_deadlines(interval),
                          bevis_decision_leaf(text, integer, text, jsonb, jsonb, text,
                                              bytea, text, timestamptz),
                          bevis_decision_digest(bytea, integer, text),
                          bevis_leaf_str16(text), bevis_leaf_str32(text)
    TO bevis_isam, bevis_auditor;
GRANT EXECUTE ON FUNCTION bevis_incident_open(jsonb, jsonb, text),
                          bevis_incident_decide(text, jsonb, text),
                          bevis_incident_link(text, jsonb, text),
                          bevis_incident_unlink(text, jsonb, text),
                          bevis_incident_merge(text, text, text),
                          bevis_incident_unmerge(text, text)
    TO bevis_isam;
