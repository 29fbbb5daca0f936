-- 0015_report_reading: reading the monthly reports (issue 13, items 4, 6
-- and 7): their versions and what changed between them, the open
-- incidents that may be the same as one, and the reports that are expected
-- and have not come. docs/REPORT_READING.md describes them.
--
-- Nothing here writes. What reads reports is SECURITY INVOKER, so that the
-- reader's own rights and row-level security apply; what reads incidents
-- runs as its owner and applies protected identity itself, as
-- incident_overview does.

-- ---- reports and their versions ------------------------------------------------

-- An entry's fields as a reader compares them between versions: those of
-- bevis_report_entry_fields() (sql/0011), with each unmapped column of
-- attrs as a field of its own, "attrs.<column>".
CREATE FUNCTION bevis_report_entry_flat(e report_entry) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT (bevis_report_entry_fields(e) - 'attrs')
        || coalesce((SELECT jsonb_object_agg('attrs.' || a.key, a.value)
                       FROM jsonb_each(CASE WHEN jsonb_typeof(e.attrs) = 'object'
                                            THEN e.attrs END) a
                      WHERE a.value <> 'null'::jsonb), '{}'::jsonb)
$$;

-- What changed in report p_report since the version it supersedes, entry
-- by entry, as bevis_report_ingest() (sql/0011) classed them: state new,
-- changed, unchanged or removed. A changed entry has one row per field
-- that changed, with the value before and after (NULL: not there; an
-- entry back after a version without it is compared with the last version
-- that had it); the others one row with field NULL. A first version has
-- every entry new. In the order of the entries, removed ones last.
-- SECURITY INVOKER: the reader's own rights apply. The values of an entry
-- the source marked protected_identity (in either version) show only to
-- bevis_protected, as the incident it opened does; others see which fields
-- changed.
CREATE FUNCTION bevis_report_diff(p_report bigint)
RETURNS TABLE (entry_id text, state text, field text, before text, after text)
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    WITH cur AS (
        SELECT e.*, bevis_report_entry_flat(e) AS cf,
               (SELECT bevis_report_entry_flat(p)
                  FROM report_entry p
                 WHERE p.id = (SELECT CASE WHEN q.state = 'removed' THEN q.previous_id
                                           ELSE q.id END
                                 FROM report_entry q WHERE q.id = e.previous_id)) AS pf
          FROM report_entry e WHERE e.report_id = p_report
    )
    SELECT c.entry_id, c.state, k.key,
           CASE WHEN r.hidden THEN '(restricted to bevis_protected)' ELSE c.pf ->> k.key END,
           CASE WHEN r.hidden THEN '(restricted to bevis_protected)' ELSE c.cf ->> k.key END
      FROM cur c
     CROSS JOIN LATERAL (
          SELECT 'yes' IN (c.pf ->> 'protected_identity', c.cf ->> 'protected_identity')
                 AND NOT bevis_sees_protected() AS hidden) r
      LEFT JOIN LATERAL (
          SELECT ks.key FROM (SELECT jsonb_object_keys(c.pf)
                              UNION SELECT jsonb_object_keys(c.cf)) ks (key)
           WHERE c.state = 'changed'
             AND (c.pf -> ks.key) IS DISTINCT FROM (c.cf -> ks.key)) k ON true
     ORDER BY c.item_no NULLS LAST, c.entry_id, k.key
$$;

-- ---- expected reports (bevis deadlines) ----------------------------------------

-- The reports that are expected and have not come. p_due maps a source's
-- name to its report_due_day from the config ({"servicedesk": 10}): each
-- month's report is due by the end of that day of the next month, in the
-- session's time zone (the CLI sets the config's timezone). A report is
-- expected for every month from the one the source was registered in up
-- to the month before p_now; any version of any kind counts as received.
-- A source that is no longer active is expected nothing; a name that is
-- no registered source is refused, so that a misspelt config alerts.
CREATE FUNCTION bevis_report_deadlines(p_due jsonb, p_now timestamptz DEFAULT now())
RETURNS TABLE (source text, period text, due_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_tz   text := current_setting('TimeZone');
    d      record;
BEGIN
    IF p_due IS NULL OR jsonb_typeof(p_due) <> 'object' THEN
        RAISE EXCEPTION 'bevis: report due days must be a JSON object of source: day'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR d IN SELECT j.key, j.value FROM jsonb_each(p_due) j LOOP
        IF jsonb_typeof(d.value) <> 'number' OR d.value::text !~ '^[0-9]+$'
           OR d.value::text::integer NOT BETWEEN 1 AND 28 THEN
            RAISE EXCEPTION 'bevis: report_due_day of % is %, not a day from 1 to 28',
                d.key, d.value USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM 1 FROM supplier sp WHERE sp.name = d.key;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'bevis: [source %] in the config names no registered source', d.key
                USING ERRCODE = 'no_data_found',
                      HINT = 'bevis supplier list shows them; bevis supplier add registers one';
        END IF;
    END LOOP;
    RETURN QUERY
    SELECT sp.name, to_char(m.month, 'YYYY-MM'),
           (m.month + interval '1 month' + (j.value::text::integer) * interval '1 day')
               AT TIME ZONE v_tz
      FROM jsonb_each(p_due) j
      JOIN supplier sp ON sp.name = j.key AND sp.active
     CROSS JOIN LATERAL generate_series(date_trunc('month', sp.created_at AT TIME ZONE v_tz),
                                        date_trunc('month', p_now AT TIME ZONE v_tz)
                                            - interval '1 month',
                                        interval '1 month') m (month)
     WHERE NOT EXISTS (SELECT 1 FROM report r
                        WHERE r.supplier_id = sp.id
                          AND r.period = to_char(m.month, 'YYYY-MM'))
     ORDER BY 3, 1;
END
$$;

-- ---- possibly the same incident ------------------------------------------------

-- The other open incidents that may be the same as open incident p_ref,
-- each with its reasons, strongest first:
--   same_log_ref  a report entry's log reference or a linked event's own id;
--   same_user     the user of a linked event;
--   same_system, same_school   of a linked report entry (any version);
--   overlapping_time   the local days (session time zone) each spans, from
--                 the earliest to the latest of its occurred and detected
--                 times and those of its linked events and report entries.
-- Values compare without case and surrounding blanks; the value given is
-- the other incident's. An incident counts the links of the incidents
-- merged into it as its own. Those already linked to p_ref (either way)
-- are left out. More reasons first, then the stronger kind, then the
-- reference. It only suggests: merging stays the ISAM's decision (bevis
-- merge). Protected identity: for a reader outside bevis_protected a
-- protected p_ref has no suggestions and a protected incident is never
-- suggested, because a shared user or log reference would tell what it is
-- about. One pass over the open incidents' links, not a query per
-- incident, so that bevis show stays quick with thousands open.
CREATE FUNCTION bevis_incident_similar(p_ref text)
RETURNS TABLE (ref text, status text, title text, reasons jsonb)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    WITH me AS (
        SELECT i.id FROM incident i
         WHERE i.ref = upper(btrim(p_ref))
           AND i.status IN ('new', 'assessing', 'confirmed')
           AND (NOT i.protected_identity OR bevis_sees_protected())
    ), cand AS (
        -- p_ref itself, and the others it is compared with.
        SELECT o.id, o.ref, o.status, o.title, o.occurred_at, o.detected_at,
               o.id = me.id AS is_me
          FROM incident o CROSS JOIN me
         WHERE o.status IN ('new', 'assessing', 'confirmed')
           AND (o.id = me.id
                OR ((NOT o.protected_identity OR bevis_sees_protected())
                    AND NOT EXISTS (
                        SELECT 1 FROM incident_link_current l
                         WHERE l.target_kind = 'incident'
                           AND ((l.incident_id = me.id AND l.other_incident_id = o.id)
                             OR (l.incident_id = o.id AND l.other_incident_id = me.id)))))
    ), fam AS (
        SELECT c.id AS owner, c.id AS member FROM cand c
        UNION ALL
        SELECT c.id, m.id FROM cand c
          JOIN incident m ON m.merged_into = c.id AND m.status = 'merged'
    ), links AS (
        SELECT f.owner, l.target_kind, l.event_submission_id, l.event_item_no,
               l.report_entry_id
          FROM fam f JOIN incident_link_current l ON l.incident_id = f.member
         WHERE l.target_kind IN ('event', 'report_entry')
    ), ev AS (
        SELECT l.owner, e.actor_user, e.source_event_id, e.occurred_at
          FROM links l
          JOIN event e ON e.submission_id = l.event_submission_id
                      AND e.item_no = l.event_item_no
    ), re AS (
        SELECT l.owner, r.system, r.unit, r.log_ref, r.occurred_at, r.detected_at
          FROM links l
          JOIN report_entry r ON coalesce(r.origin_id, r.id) = l.report_entry_id
         WHERE r.state <> 'removed'
    ), facts AS (
        SELECT DISTINCT x.owner, x.kind, btrim(x.value) AS value,
               lower(btrim(x.value)) AS norm
          FROM (SELECT ev.owner, 'user' AS kind, ev.actor_user AS value FROM ev
                UNION ALL SELECT ev.owner, 'log_ref', ev.source_event_id FROM ev
                UNION ALL
                SELECT re.owner, k.kind, k.value
                  FROM re CROSS JOIN LATERAL (VALUES ('system', re.system),
                                                     ('school', re.unit),
                                                     ('log_ref', re.log_ref)) k (kind, value)
               ) x
         WHERE coalesce(btrim(x.value), '') <> ''
    ), spans AS (
        SELECT t.owner, daterange(min(t.at)::date, max(t.at)::date, '[]') AS days
          FROM (SELECT c.id AS owner, c.occurred_at AS at FROM cand c
                UNION ALL SELECT c.id, c.detected_at FROM cand c
                UNION ALL SELECT ev.owner, ev.occurred_at FROM ev
                UNION ALL SELECT re.owner, re.occurred_at FROM re
                UNION ALL SELECT re.owner, re.detected_at FROM re) t
         WHERE t.at IS NOT NULL
         GROUP BY t.owner
    ), why AS (
        SELECT f.owner AS id, CASE f.kind WHEN 'log_ref' THEN 1 WHEN 'user' THEN 2
                                          WHEN 'system' THEN 3 ELSE 4 END AS ord,
               'same_' || f.kind AS reason, min(f.value) AS value
          FROM facts f
          JOIN facts m ON m.kind = f.kind AND m.norm = f.norm
          JOIN me ON me.id = m.owner
         WHERE f.owner <> me.id
         GROUP BY f.owner, f.kind, f.norm
        UNION ALL
        SELECT s.owner, 5, 'overlapping_time',
               CASE WHEN upper(x.days) - lower(x.days) = 1
                    THEN to_char(lower(x.days), 'YYYY-MM-DD')
                    ELSE to_char(lower(x.days), 'YYYY-MM-DD') || ' to '
                         || to_char(upper(x.days) - 1, 'YYYY-MM-DD') END
          FROM spans s
          JOIN spans m ON m.days && s.days
          JOIN me ON me.id = m.owner
         CROSS JOIN LATERAL (SELECT s.days * m.days AS days) x
         WHERE s.owner <> me.id
    )
    SELECT c.ref, c.status, c.title,
           jsonb_agg(jsonb_build_object('reason', w.reason, 'value', w.value)
                     ORDER BY w.ord, w.value)
      FROM cand c JOIN why w ON w.id = c.id
     WHERE NOT c.is_me
     GROUP BY c.id, c.ref, c.status, c.title
     ORDER BY count(*) DESC, min(w.ord), c.ref
$$;

-- ---- privileges -------------------------------------------------------------------

REVOKE EXECUTE ON FUNCTION
    bevis_report_entry_flat(report_entry),
    bevis_report_diff(bigint),
    bevis_report_deadlines(jsonb, timestamptz),
    bevis_incident_similar(text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    bevis_report_entry_flat(report_entry),
    bevis_report_diff(bigint),
    bevis_report_deadlines(jsonb, timestamptz),
    bevis_incident_similar(text)
    TO bevis_isam, bevis_auditor;
