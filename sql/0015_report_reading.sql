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
-- SECURITY INVOKER: the reader's own rights apply.
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
    SELECT c.entry_id, c.state, k.key, c.pf ->> k.key, c.cf ->> k.key
      FROM cur c
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

-- The links of incident p_id in force, and those of the incidents merged
-- into it: what it is about.
CREATE FUNCTION bevis_incident_family_links(p_id bigint) RETURNS SETOF incident_link
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT l.* FROM incident_link_current l JOIN incident i ON i.id = l.incident_id
     WHERE i.id = p_id OR (i.status = 'merged' AND i.merged_into = p_id)
$$;

-- What incident p_id is about, as (kind, value): the users of its linked
-- events ('user'), the system and the school or unit of its report entries
-- ('system', 'school'), and log references ('log_ref': an entry's log
-- reference, a linked event's own id). Blank values are left out.
CREATE FUNCTION bevis_incident_facts(p_id bigint) RETURNS TABLE (kind text, value text)
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT f.kind, btrim(f.value)
      FROM (SELECT 'user' AS kind, e.actor_user AS value
              FROM bevis_incident_family_links(p_id) l
              JOIN event e ON e.submission_id = l.event_submission_id
                          AND e.item_no = l.event_item_no
            UNION ALL
            SELECT 'log_ref', e.source_event_id
              FROM bevis_incident_family_links(p_id) l
              JOIN event e ON e.submission_id = l.event_submission_id
                          AND e.item_no = l.event_item_no
            UNION ALL
            SELECT x.kind, x.value
              FROM bevis_incident_family_links(p_id) l
              JOIN report_entry re ON coalesce(re.origin_id, re.id) = l.report_entry_id
                                  AND re.state <> 'removed'
             CROSS JOIN LATERAL (VALUES ('system', re.system), ('school', re.unit),
                                        ('log_ref', re.log_ref)) x (kind, value)) f
     WHERE coalesce(btrim(f.value), '') <> ''
$$;

-- The local days (session time zone) incident p_id spans: from the
-- earliest to the latest of its occurred and detected times and those of
-- its linked events and report entries. NULL when it has none.
CREATE FUNCTION bevis_incident_days(p_id bigint) RETURNS daterange
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT CASE WHEN count(t.at) > 0
                THEN daterange(min(t.at)::date, max(t.at)::date, '[]') END
      FROM (SELECT i.occurred_at AS at FROM incident i WHERE i.id = p_id
            UNION ALL SELECT i.detected_at FROM incident i WHERE i.id = p_id
            UNION ALL
            SELECT e.occurred_at FROM bevis_incident_family_links(p_id) l
              JOIN event e ON e.submission_id = l.event_submission_id
                          AND e.item_no = l.event_item_no
            UNION ALL
            SELECT x.at FROM bevis_incident_family_links(p_id) l
              JOIN report_entry re ON coalesce(re.origin_id, re.id) = l.report_entry_id
                                  AND re.state <> 'removed'
             CROSS JOIN LATERAL (VALUES (re.occurred_at), (re.detected_at)) x (at)) t
$$;

-- The other open incidents that may be the same as open incident p_ref,
-- each with its reasons, strongest first: the same log reference, user,
-- system or school (compared without case), and overlapping days. Those
-- already linked to it (either way) are left out. It only suggests:
-- merging stays the ISAM's decision (bevis merge). Protected identity:
-- for a reader outside bevis_protected a protected p_ref has no
-- suggestions and a protected incident is never suggested, because a
-- shared user or log reference would tell what it is about.
CREATE FUNCTION bevis_incident_similar(p_ref text)
RETURNS TABLE (ref text, status text, title text, reasons jsonb)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    WITH me AS (
        SELECT i.id, bevis_incident_days(i.id) AS days
          FROM incident i
         WHERE i.ref = upper(btrim(p_ref))
           AND i.status IN ('new', 'assessing', 'confirmed')
           AND (NOT i.protected_identity OR bevis_sees_protected())
    ), my_facts AS (
        SELECT DISTINCT f.kind, lower(f.value) AS norm
          FROM me CROSS JOIN LATERAL bevis_incident_facts(me.id) f
    ), cand AS (
        SELECT o.id, o.ref, o.status, o.title
          FROM incident o CROSS JOIN me
         WHERE o.id <> me.id
           AND o.status IN ('new', 'assessing', 'confirmed')
           AND (NOT o.protected_identity OR bevis_sees_protected())
           AND NOT EXISTS (SELECT 1 FROM incident_link_current l
                            WHERE l.target_kind = 'incident'
                              AND ((l.incident_id = me.id AND l.other_incident_id = o.id)
                                OR (l.incident_id = o.id AND l.other_incident_id = me.id)))
    ), why AS (
        SELECT c.id, CASE f.kind WHEN 'log_ref' THEN 1 WHEN 'user' THEN 2
                                 WHEN 'system' THEN 3 ELSE 4 END AS ord,
               'same_' || f.kind AS reason, min(f.value) AS value
          FROM cand c
         CROSS JOIN LATERAL bevis_incident_facts(c.id) f
          JOIN my_facts m ON m.kind = f.kind AND m.norm = lower(f.value)
         GROUP BY c.id, f.kind, lower(f.value)
        UNION ALL
        SELECT c.id, 5, 'overlapping_time',
               CASE WHEN upper(x.days) - lower(x.days) = 1
                    THEN to_char(lower(x.days), 'YYYY-MM-DD')
                    ELSE to_char(lower(x.days), 'YYYY-MM-DD') || ' to '
                         || to_char(upper(x.days) - 1, 'YYYY-MM-DD') END
          FROM cand c CROSS JOIN me
         CROSS JOIN LATERAL (SELECT me.days * bevis_incident_days(c.id) AS days) x
         WHERE NOT isempty(x.days)
    )
    SELECT c.ref, c.status, c.title,
           jsonb_agg(jsonb_build_object('reason', w.reason, 'value', w.value)
                     ORDER BY w.ord, w.value)
      FROM cand c JOIN why w ON w.id = c.id
     GROUP BY c.id, c.ref, c.status, c.title
     ORDER BY count(*) DESC, min(w.ord), c.ref
$$;

-- ---- privileges -------------------------------------------------------------------

REVOKE EXECUTE ON FUNCTION
    bevis_report_entry_flat(report_entry),
    bevis_report_diff(bigint),
    bevis_report_deadlines(jsonb, timestamptz),
    bevis_incident_family_links(bigint),
    bevis_incident_facts(bigint),
    bevis_incident_days(bigint),
    bevis_incident_similar(text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    bevis_report_entry_flat(report_entry),
    bevis_report_diff(bigint),
    bevis_report_deadlines(jsonb, timestamptz),
    bevis_incident_similar(text)
    TO bevis_isam, bevis_auditor;
