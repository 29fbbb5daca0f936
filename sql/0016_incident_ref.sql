-- 0016_incident_ref: the 10,000th incident of a year gets INC-YYYY-10000.
--
-- 0008's bevis_incident_open() formatted the number with lpad(n, 4, '0'),
-- which in PostgreSQL also cuts a longer string to 4 characters: the
-- 10,000th incident of a year would have been INC-YYYY-1000 again, refused
-- by incident.ref's UNIQUE constraint. A monthly report of more than 9,999
-- entries, or a busy rule, got there. The function is otherwise unchanged
-- (CREATE OR REPLACE keeps its grants); 0008 stays as applied, because
-- bevis migrate checks the SHA-256 of every applied migration.

CREATE OR REPLACE FUNCTION bevis_incident_open(p_fields jsonb, p_links jsonb DEFAULT '[]',
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
    -- At least four digits: lpad() alone would cut 10000 to '1000'.
    v_ref := format('INC-%s-%s', v_year,
                    CASE WHEN v_num < 1000 THEN lpad(v_num::text, 4, '0')
                         ELSE v_num::text END);
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
