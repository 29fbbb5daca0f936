-- 0011_reports: the monthly reports of the servicedesk and the suppliers,
-- in versions, their entries, and the potential incidents the entries open.
-- docs/PROTOCOL.md (REPORT) says how a report arrives; bevisd parses it and
-- hands the entries to bevis_report_ingest() in the transaction that stores
-- the report's submission, so a report is stored whole or not at all.

-- One version of one report. The source is the authenticated sender of the
-- submission; version n + 1 supersedes version n of the same source, kind
-- and period.
CREATE TABLE report (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    submission_id  bigint NOT NULL UNIQUE REFERENCES submission (id),
    supplier_id    integer NOT NULL REFERENCES supplier (id),
    kind           text NOT NULL CHECK (kind IN ('servicedesk', 'supplier')),
    period         text NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    version        integer NOT NULL CHECK (version >= 1),
    supersedes     bigint REFERENCES report (id),
    title          text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 500),
    author         text NOT NULL CHECK (char_length(author) BETWEEN 1 AND 200),
    -- The charset the body was declared in (the entries' texts are UTF-8).
    charset        text NOT NULL DEFAULT 'utf-8'
                   CHECK (charset IN ('utf-8', 'windows-1252')),
    received_at    timestamptz NOT NULL,
    UNIQUE (supplier_id, kind, period, version),
    CHECK ((version = 1) = (supersedes IS NULL))
);
CREATE INDEX report_period_idx ON report (period);

-- One entry of one version. Present entries (new, changed, unchanged) point
-- into the submission body by raw_offset and raw_length (bytes, 0-based),
-- as an event does; a removed entry is a row of the version it left, with
-- no bytes, pointing at the row it was in before. origin_id is the entry's
-- row in the version that first had it: its incident links to that row.
-- The texts are UTF-8, converted from the report's charset.
CREATE TABLE report_entry (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    report_id           bigint NOT NULL REFERENCES report (id),
    entry_id            text NOT NULL CHECK (char_length(entry_id) BETWEEN 1 AND 200),
    state               text NOT NULL
                        CHECK (state IN ('new', 'changed', 'unchanged', 'removed')),
    previous_id         bigint REFERENCES report_entry (id),
    origin_id           bigint REFERENCES report_entry (id),
    changed_fields      text[] NOT NULL DEFAULT '{}',
    item_no             integer,          -- its item of the submission
    line                integer,          -- 1-based line of its first byte
    raw_offset          integer,
    raw_length          integer,
    occurred_at         timestamptz,
    detected_at         timestamptz,
    reported_at         timestamptz,
    title               text,
    description         text,
    system              text,
    unit                text,             -- school or unit
    category            text,
    cia_impact          text,
    severity            text,
    personal_data       text CHECK (personal_data IN ('unknown', 'no', 'yes')),
    protected_identity  text CHECK (protected_identity IN ('unknown', 'no', 'yes')),
    verdict             text,             -- the supplier's own verdict
    status              text,             -- the source's own status
    actions             text,             -- actions taken
    log_ref             text,
    attrs               jsonb,            -- the columns no map names
    UNIQUE (report_id, entry_id),
    UNIQUE (report_id, item_no),
    CHECK ((state = 'removed') = (item_no IS NULL)),
    CHECK ((state = 'removed') = (raw_offset IS NULL)),
    CHECK ((state = 'new') = (previous_id IS NULL)),
    CHECK (origin_id IS NOT NULL OR state = 'new')
);
CREATE INDEX report_entry_origin_idx ON report_entry (origin_id);

ALTER TABLE incident_link
    ADD CONSTRAINT incident_link_report_entry_fkey
    FOREIGN KEY (report_entry_id) REFERENCES report_entry (id);

-- The decision kinds of every issue that extends them (the same union in
-- each migration that replaces this constraint, whatever their order).
ALTER TABLE decision DROP CONSTRAINT decision_kind_check;
ALTER TABLE decision ADD CONSTRAINT decision_kind_check
    CHECK (kind IN ('open', 'triage', 'reopen', 'link', 'unlink', 'merge', 'unmerge',
                    'merged_from', 'unmerged_from', 'report_entry_changed',
                    'report_entry_removed', 'rule_match'));

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['report', 'report_entry'] LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I '
                       'FOR EACH ROW EXECUTE FUNCTION bevis_append_only()',
                       t || '_append_only', t);
        EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION bevis_append_only()',
                       t || '_no_truncate', t);
        EXECUTE format('ALTER TABLE %I ENABLE ALWAYS TRIGGER %I', t, t || '_append_only');
        EXECUTE format('ALTER TABLE %I ENABLE ALWAYS TRIGGER %I', t, t || '_no_truncate');
    END LOOP;
END
$$;

-- Each entry with its report, its raw bytes and the incident it opened
-- (through its origin row's link).
CREATE VIEW report_entry_view AS
SELECT e.*, r.supplier_id, sp.name AS source, r.kind, r.period, r.version,
       r.submission_id,
       substring(s.body FROM e.raw_offset + 1 FOR e.raw_length) AS raw,
       (SELECT l.incident_id FROM incident_link l
         WHERE l.target_kind = 'report_entry' AND l.action = 'link'
           AND l.report_entry_id = coalesce(e.origin_id, e.id)
         ORDER BY l.id LIMIT 1) AS incident_id
  FROM report_entry e
  JOIN report r ON r.id = e.report_id
  JOIN supplier sp ON sp.id = r.supplier_id
  JOIN submission s ON s.id = r.submission_id;

-- Each version with its entries counted by state, and those quarantined.
CREATE VIEW report_view AS
SELECT r.*, sp.name AS source,
       count(e.id) FILTER (WHERE e.state = 'new') AS entries_new,
       count(e.id) FILTER (WHERE e.state = 'changed') AS entries_changed,
       count(e.id) FILTER (WHERE e.state = 'unchanged') AS entries_unchanged,
       count(e.id) FILTER (WHERE e.state = 'removed') AS entries_removed,
       (SELECT count(*) FROM quarantine q WHERE q.submission_id = r.submission_id)
           AS entries_quarantined
  FROM report r
  JOIN supplier sp ON sp.id = r.supplier_id
  LEFT JOIN report_entry e ON e.report_id = r.id
 GROUP BY r.id, sp.name;

-- The fields of an entry that a new version may change, as jsonb (NULLs
-- left out); attrs under "attrs".
CREATE FUNCTION bevis_report_entry_fields(e report_entry) RETURNS jsonb
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'occurred_at', e.occurred_at, 'detected_at', e.detected_at,
        'reported_at', e.reported_at, 'title', e.title, 'description', e.description,
        'system', e.system, 'unit', e.unit, 'category', e.category,
        'cia_impact', e.cia_impact, 'severity', e.severity,
        'personal_data', e.personal_data, 'protected_identity', e.protected_identity,
        'verdict', e.verdict, 'status', e.status, 'actions', e.actions,
        'log_ref', e.log_ref, 'attrs', e.attrs))
$$;

-- A report entry as a link target: now that report entries exist, the link
-- target {"report_entry": N} is resolved like the others.
CREATE OR REPLACE FUNCTION bevis_link_target(p_target jsonb) RETURNS incident_link
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    l      incident_link;
    v_s    text;
    v_sup  text;
    v_id   text;
BEGIN
    IF jsonb_typeof(p_target) <> 'object' OR (SELECT count(*) FROM jsonb_object_keys(p_target)) <> 1
    THEN
        RAISE EXCEPTION 'bevis: a link target is one of event, submission, incident, report_entry'
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
        l.target_kind := 'report_entry';
        BEGIN
            l.report_entry_id := (p_target ->> 'report_entry')::bigint;
        EXCEPTION WHEN invalid_text_representation THEN
            RAISE EXCEPTION 'bevis: a report entry is a number, not %',
                p_target ->> 'report_entry'
                USING ERRCODE = 'invalid_parameter_value';
        END;
        PERFORM 1 FROM report_entry WHERE id = l.report_entry_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'bevis: no report entry %', l.report_entry_id
                USING ERRCODE = 'no_data_found';
        END IF;
    ELSE
        RAISE EXCEPTION 'bevis: a link target is one of event, submission, incident, report_entry'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN l;
END
$$;
REVOKE EXECUTE ON FUNCTION bevis_link_target(jsonb) FROM PUBLIC;

-- A Swedish local time as the entry gives it ("2026-10-05" or
-- "2026-10-05 14:30", bevisd checked the form), NULL when absent or in the
-- future (an incident refuses a time in the future).
CREATE FUNCTION bevis_report_time(p text) RETURNS timestamptz
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT CASE WHEN t <= clock_timestamp() THEN t END
      FROM (SELECT (p::timestamp AT TIME ZONE 'Europe/Stockholm') AS t) x
$$;

-- Stores one report parsed by bevisd: p_submission is its submission, written
-- in this transaction; p_entries a JSON array of its readable entries, each
-- {"item", "line", "off", "len", "id", "fields": {...}, "attrs": {...}}
-- with the field names of report_entry; p_quarantined how many entries were
-- quarantined (bevisd writes their quarantine rows). Resent bytes (the latest version's sha256) are a duplicate and
-- store nothing. Otherwise the report is version n + 1 of its source, kind
-- and period; each entry is new, changed or unchanged against version n, and
-- the entries of version n it lacks are removed. A new entry opens a
-- potential incident linked to it; a changed or removed one adds a decision
-- to its incident. The actor is session_user: bevisd's login.
CREATE FUNCTION bevis_report_ingest(p_submission bigint, p_kind text, p_period text,
                                    p_title text, p_author text, p_entries jsonb,
                                    p_quarantined integer, p_charset text DEFAULT 'utf-8',
                                    OUT report_id bigint, OUT version integer,
                                    OUT duplicate boolean, OUT n_new integer,
                                    OUT n_changed integer, OUT n_unchanged integer,
                                    OUT n_removed integer, OUT incidents text[])
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    s       submission;
    prev    report;
    v_src   text;
    x       jsonb;
    f       jsonb;
    e       report_entry;
    o       report_entry;
    inc     incident;
    v_ref   text;
    v_diff  text[];
    v_a     jsonb;
    v_b     jsonb;
    v_title text;
    v_desc  text;
    v_report bigint;
    v_version integer;
BEGIN
    SELECT * INTO s FROM submission WHERE id = p_submission;
    IF NOT FOUND OR s.supplier_id IS NULL THEN
        RAISE EXCEPTION 'bevis: a report needs the submission of an authenticated source'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM 1 FROM report r WHERE r.submission_id = p_submission;
    IF FOUND THEN
        RAISE EXCEPTION 'bevis: submission % is already a report', p_submission
            USING ERRCODE = 'unique_violation';
    END IF;
    IF p_entries IS NULL OR jsonb_typeof(p_entries) <> 'array' THEN
        RAISE EXCEPTION 'bevis: the entries must be a JSON array'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT name INTO v_src FROM supplier WHERE id = s.supplier_id;
    -- One version at a time per source, kind and period.
    PERFORM pg_advisory_xact_lock(hashtextextended(
        format('bevis report %s %s %s', s.supplier_id, p_kind, p_period), 0));
    SELECT * INTO prev FROM report r
     WHERE r.supplier_id = s.supplier_id AND r.kind = p_kind AND r.period = p_period
     ORDER BY r.version DESC LIMIT 1;
    n_new := 0; n_changed := 0; n_unchanged := 0; n_removed := 0;
    incidents := '{}';
    IF prev.id IS NOT NULL
       AND (SELECT ps.sha256 FROM submission ps WHERE ps.id = prev.submission_id) = s.sha256
    THEN
        report_id := prev.id;
        version := prev.version;
        duplicate := true;
        RETURN;
    END IF;
    duplicate := false;
    v_version := coalesce(prev.version, 0) + 1;
    version := v_version;
    INSERT INTO report (submission_id, supplier_id, kind, period, version, supersedes,
                        title, author, charset, received_at)
    VALUES (p_submission, s.supplier_id, p_kind, p_period, v_version, prev.id,
            p_title, p_author, p_charset, s.received_at)
    RETURNING id INTO v_report;
    report_id := v_report;
    FOR x IN SELECT value FROM jsonb_array_elements(p_entries) LOOP
        f := coalesce(x -> 'fields', '{}'::jsonb);
        e := NULL;
        e.report_id := v_report;
        e.entry_id := x ->> 'id';
        e.item_no := (x ->> 'item')::integer;
        e.line := (x ->> 'line')::integer;
        e.raw_offset := (x ->> 'off')::integer;
        e.raw_length := (x ->> 'len')::integer;
        e.occurred_at := bevis_report_time(f ->> 'occurred_at');
        e.detected_at := bevis_report_time(f ->> 'detected_at');
        e.reported_at := bevis_report_time(f ->> 'reported_at');
        e.title := f ->> 'title';
        e.description := f ->> 'description';
        e.system := f ->> 'system';
        e.unit := f ->> 'unit';
        e.category := f ->> 'category';
        e.cia_impact := f ->> 'cia_impact';
        e.severity := f ->> 'severity';
        e.personal_data := coalesce(f ->> 'personal_data', 'unknown');
        e.protected_identity := coalesce(f ->> 'protected_identity', 'unknown');
        e.verdict := f ->> 'verdict';
        e.status := f ->> 'status';
        e.actions := f ->> 'actions';
        e.log_ref := f ->> 'log_ref';
        e.attrs := CASE WHEN x -> 'attrs' = '{}'::jsonb THEN NULL ELSE x -> 'attrs' END;
        o := NULL;
        IF prev.id IS NOT NULL THEN
            SELECT * INTO o FROM report_entry pe
             WHERE pe.report_id = prev.id AND pe.entry_id = e.entry_id;
        END IF;
        IF o.id IS NULL THEN
            e.state := 'new';
        ELSE
            e.previous_id := o.id;
            e.origin_id := coalesce(o.origin_id, o.id);
            IF o.state = 'removed' THEN
                -- Back after a version without it: compared with the
                -- version that had it last.
                SELECT * INTO o FROM report_entry pe WHERE pe.id = o.previous_id;
            END IF;
            v_a := bevis_report_entry_fields(o);
            v_b := bevis_report_entry_fields(e);
            SELECT coalesce(array_agg(k ORDER BY k), '{}') INTO v_diff
              FROM (SELECT jsonb_object_keys(v_a) UNION SELECT jsonb_object_keys(v_b)) kk(k)
             WHERE v_a -> k IS DISTINCT FROM v_b -> k;
            IF e.previous_id <> o.id THEN
                v_diff := v_diff || 'restored'::text;
            END IF;
            e.state := CASE WHEN cardinality(v_diff) = 0 THEN 'unchanged' ELSE 'changed' END;
            e.changed_fields := v_diff;
        END IF;
        INSERT INTO report_entry (report_id, entry_id, state, previous_id, origin_id,
                                  changed_fields, item_no, line, raw_offset, raw_length,
                                  occurred_at, detected_at, reported_at, title,
                                  description, system, unit, category, cia_impact,
                                  severity, personal_data, protected_identity, verdict,
                                  status, actions, log_ref, attrs)
        VALUES (e.report_id, e.entry_id, e.state, e.previous_id, e.origin_id,
                coalesce(e.changed_fields, '{}'), e.item_no, e.line, e.raw_offset,
                e.raw_length,
                e.occurred_at, e.detected_at, e.reported_at, e.title, e.description,
                e.system, e.unit, e.category, e.cia_impact, e.severity, e.personal_data,
                e.protected_identity, e.verdict, e.status, e.actions, e.log_ref, e.attrs)
        RETURNING * INTO e;
        IF e.state = 'new' THEN
            n_new := n_new + 1;
            v_title := left(coalesce(nullif(btrim(e.title), ''),
                                     format('%s report entry %s', v_src, e.entry_id)), 500);
            v_desc := left(concat_ws(E'\n\n', e.description,
                                     format('Entry %s of the %s report of %s from %s, '
                                            'version %s.', e.entry_id, p_kind, p_period,
                                            v_src, v_version)), 20000);
            v_ref := bevis_incident_open(
                jsonb_strip_nulls(jsonb_build_object(
                    'title', v_title, 'description', v_desc, 'supplier', v_src,
                    'occurred_at', e.occurred_at, 'detected_at', e.detected_at,
                    'personal_data', e.personal_data,
                    'protected_identity', e.protected_identity = 'yes')),
                jsonb_build_array(jsonb_build_object('report_entry', e.id)),
                NULL);
            incidents := incidents || v_ref;
        ELSIF e.state = 'changed' THEN
            n_changed := n_changed + 1;
            SELECT i.* INTO inc FROM incident i JOIN incident_link l ON l.incident_id = i.id
             WHERE l.target_kind = 'report_entry' AND l.action = 'link'
               AND l.report_entry_id = e.origin_id
             ORDER BY l.id LIMIT 1 FOR UPDATE OF i;
            IF inc.id IS NOT NULL THEN
                PERFORM bevis_incident_record(inc, NULL, 'report_entry_changed',
                    jsonb_build_object('report_entry', e.previous_id),
                    jsonb_build_object('report_entry', e.id, 'entry', e.entry_id,
                                       'report', v_report, 'version', v_version,
                                       'fields', to_jsonb(e.changed_fields)),
                    format('%s changed %s in version %s of its %s report of %s',
                           v_src, array_to_string(e.changed_fields, ', '), v_version,
                           p_kind, p_period));
            END IF;
        ELSE
            n_unchanged := n_unchanged + 1;
        END IF;
    END LOOP;
    -- The entries of version n that this version lacks.
    IF prev.id IS NOT NULL THEN
        FOR o IN SELECT * FROM report_entry pe
                  WHERE pe.report_id = prev.id AND pe.state <> 'removed'
                    AND NOT EXISTS (SELECT 1 FROM report_entry ne
                                     WHERE ne.report_id = v_report
                                       AND ne.entry_id = pe.entry_id)
                  ORDER BY pe.item_no LOOP
            INSERT INTO report_entry (report_id, entry_id, state, previous_id, origin_id)
            VALUES (v_report, o.entry_id, 'removed', o.id, coalesce(o.origin_id, o.id))
            RETURNING * INTO e;
            n_removed := n_removed + 1;
            SELECT i.* INTO inc FROM incident i JOIN incident_link l ON l.incident_id = i.id
             WHERE l.target_kind = 'report_entry' AND l.action = 'link'
               AND l.report_entry_id = e.origin_id
             ORDER BY l.id LIMIT 1 FOR UPDATE OF i;
            IF inc.id IS NOT NULL THEN
                PERFORM bevis_incident_record(inc, NULL, 'report_entry_removed',
                    jsonb_build_object('report_entry', o.id),
                    jsonb_build_object('report_entry', e.id, 'entry', e.entry_id,
                                       'report', v_report, 'version', v_version),
                    format('%s removed entry %s in version %s of its %s report of %s',
                           v_src, e.entry_id, v_version, p_kind, p_period));
            END IF;
        END LOOP;
    END IF;
END
$$;

REVOKE ALL ON report, report_entry, report_entry_view, report_view FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION
    bevis_report_ingest(bigint, text, text, text, text, jsonb, integer, text),
    bevis_report_time(text), bevis_report_entry_fields(report_entry)
    FROM PUBLIC;
GRANT SELECT ON report, report_entry, report_entry_view, report_view
    TO bevis_isam, bevis_auditor;
-- bevisd answers a resent request id from what was stored.
GRANT SELECT ON report, report_entry TO bevis_ingest;
GRANT EXECUTE ON FUNCTION bevis_report_ingest(bigint, text, text, text, text, jsonb, integer, text)
    TO bevis_ingest;
GRANT EXECUTE ON FUNCTION bevis_report_entry_fields(report_entry)
    TO bevis_isam, bevis_auditor;
