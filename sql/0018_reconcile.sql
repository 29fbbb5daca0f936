-- 0018_reconcile: a supplier's monthly report reconciled against the
-- supplier's own events (issue 16, item 2). docs/RECONCILE.md states every
-- matching rule; bevis reconcile calls these functions.
--
-- bevis_reconcile() only reads. It runs as its owner, so that it sees every
-- incident link (a protected incident covers an event like any other), and
-- applies protected identity itself, as incident_overview does: outside
-- bevis_protected a protected incident shows its reference only, never its
-- title or its events. bevis_reconcile_open() opens the potential incidents
-- of the unreported events through bevis_incident_open() (sql/0008), the
-- one write path, as the caller's login.

-- ---- the matching rules -------------------------------------------------------

-- The names of the severities 0..6 (common/event.c has the same list).
CREATE FUNCTION bevis_severity_name(p integer) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT (ARRAY['unknown', 'informational', 'low', 'medium', 'high', 'critical',
                  'fatal'])[p + 1]
$$;

-- The log references of a report entry's log_ref cell: the cell cut at
-- commas, semicolons and blanks (a no-break space too), and the whole cell
-- as well (so that an id with a blank inside still matches when it stands
-- alone), each without surrounding blanks, empty ones dropped. In their
-- own case; they are compared lower-cased.
CREATE FUNCTION bevis_reconcile_refs(p_log_ref text) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(array_agg(DISTINCT t), '{}')
      FROM (SELECT x AS t
              FROM regexp_split_to_table(p_log_ref, '[,;[:space:]\u00a0]+') x
            UNION
            SELECT regexp_replace(p_log_ref, '^[[:space:]\u00a0]+|[[:space:]\u00a0]+$', '',
                                  'g')) y
     WHERE t <> ''
$$;

-- The time window of a report entry without a log reference: from the
-- earlier of its occurred and detected times less an hour, to the later of
-- them plus an hour. A report gives times in Swedish local time
-- (bevis_report_time, sql/0011), and a date without a time is stored as
-- 00:00 of that day: a later time of exactly 00:00 there stands for its
-- whole day, so the window runs to the end of that day plus an hour. NULL
-- when the entry has neither time. Both ends belong to the window.
CREATE FUNCTION bevis_reconcile_window(p_occurred timestamptz, p_detected timestamptz)
RETURNS tstzrange
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT CASE WHEN x.a IS NOT NULL THEN
           tstzrange(x.a - interval '1 hour',
                     CASE WHEN (x.b AT TIME ZONE 'Europe/Stockholm')::time = '00:00'
                          THEN ((x.b AT TIME ZONE 'Europe/Stockholm')::date + 1)::timestamp
                               AT TIME ZONE 'Europe/Stockholm'
                          ELSE x.b END + interval '1 hour', '[]') END
      FROM (SELECT least(p_occurred, p_detected) AS a,
                   greatest(p_occurred, p_detected) AS b) x
$$;

-- ---- which report, and what it is compared with -------------------------------------

-- One finding of bevis reconcile. finding is claimed_no_evidence (about a
-- report entry: report, entry, entry_id, log_ref), unreported_event (about
-- an event: submission, item, event_id, severity, personal_data) or
-- unmentioned_rule_incident (about an incident: incident, rule). at is
-- the entry's earlier time, the event's occurred_at or the rule's first
-- event. incident on a claimed entry is the incident the entry opened; on
-- an unreported event the one --open opened for it (opened true). title
-- and why are for people.
CREATE TYPE bevis_reconcile_finding AS (
    finding        text,
    at             timestamptz,
    report         bigint,
    entry          bigint,
    entry_id       text,
    log_ref        text,
    submission     bigint,
    item           integer,
    event_id       text,
    severity       smallint,
    personal_data  boolean,
    incident       text,
    opened         boolean,
    rule           text,
    title          text,
    why            text
);

-- The supplier p_supplier (refused when there is none), and the bounds of
-- month p_period in the session's time zone (the CLI sets the config's).
CREATE FUNCTION bevis_reconcile_args(p_supplier text, p_period text,
                                     OUT supplier_id integer, OUT period_from timestamptz,
                                     OUT period_to timestamptz)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF p_period IS NULL OR p_period !~ '^[0-9]{4}-(0[1-9]|1[0-2])$' THEN
        RAISE EXCEPTION 'bevis: the period is a month like 2026-10, not %', p_period
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT s.id INTO supplier_id FROM supplier s WHERE s.name = p_supplier;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'bevis: no supplier %', p_supplier
            USING ERRCODE = 'no_data_found',
                  HINT = 'bevis supplier list shows the suppliers.';
    END IF;
    period_from := (p_period || '-01')::date::timestamp
                   AT TIME ZONE current_setting('TimeZone');
    period_to := ((p_period || '-01')::date + interval '1 month')::timestamp
                 AT TIME ZONE current_setting('TimeZone');
END
$$;

-- The report supplier p_supplier_id itself sent for p_period: its newest
-- version, of kind supplier when it sent both kinds; NULL when none came.
CREATE FUNCTION bevis_reconcile_report(p_supplier_id integer, p_period text) RETURNS bigint
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT x.id FROM report x
     WHERE x.supplier_id = p_supplier_id AND x.period = p_period
     ORDER BY x.kind = 'supplier' DESC, x.version DESC LIMIT 1
$$;

-- What bevis reconcile compares: the report that supplier p_supplier itself
-- sent for p_period (its newest version; of kind supplier when it sent
-- both kinds), NULL when it sent none, with its present entries, and how
-- many events of the supplier occurred in the month (session time zone).
CREATE FUNCTION bevis_reconcile_summary(p_supplier text, p_period text)
RETURNS TABLE (report bigint, kind text, version integer, received_at timestamptz,
               entries bigint, events bigint, period_from timestamptz,
               period_to timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    a  record;
BEGIN
    a := bevis_reconcile_args(p_supplier, p_period);
    RETURN QUERY
    SELECT r.id, r.kind, r.version, r.received_at,
           (SELECT count(*) FROM report_entry e
             WHERE e.report_id = r.id AND e.state <> 'removed'),
           (SELECT count(*) FROM event ev
             WHERE ev.supplier_id = a.supplier_id
               AND ev.occurred_at >= a.period_from AND ev.occurred_at < a.period_to),
           a.period_from, a.period_to
      FROM (SELECT 1) one
      LEFT JOIN report r ON r.id = bevis_reconcile_report(a.supplier_id, p_period);
END
$$;

-- ---- the findings ------------------------------------------------------------------

-- The findings of supplier p_supplier's month p_period (docs/RECONCILE.md):
--   claimed_no_evidence: a present entry of the report (bevis_reconcile_report)
--     with log references none of which names an event of the supplier (any
--     time; compared lower-cased, without surrounding blanks); or, with no
--     log reference, whose time window (bevis_reconcile_window) holds no
--     event of the supplier, or which has no time at all.
--   unreported_event: an event of the supplier that occurred in the month,
--     of severity p_min_severity or more or with personal_data, that no
--     present entry covers (an entry with log references covers the events
--     they name; one without, the events in its window) and that is linked
--     to no incident (any status; merged ones keep their links).
--   unmentioned_rule_incident: an incident a rule opened for the supplier,
--     whose first event occurred in the month, neither dismissed nor
--     merged, that no present entry mentions (an entry with log references
--     names one of the events linked to it or to the incidents merged into
--     it; one without overlaps, with its window, the incident's first to
--     last event).
-- With no report every event and rule incident counts as not covered.
CREATE FUNCTION bevis_reconcile(p_supplier text, p_period text,
                                p_min_severity integer DEFAULT 4)
RETURNS SETOF bevis_reconcile_finding
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    a       record;
    v_rep   bigint;
    v_prot  boolean := bevis_sees_protected();
    v_toks  text[];
    v_hits  text[];
    v_rest  text[];
    v_refs  text[];
    v_wins  tstzmultirange;
BEGIN
    IF p_min_severity IS NULL OR p_min_severity NOT BETWEEN 0 AND 6 THEN
        RAISE EXCEPTION 'bevis: the least severity is 0 to 6, not %', p_min_severity
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    a := bevis_reconcile_args(p_supplier, p_period);
    v_rep := bevis_reconcile_report(a.supplier_id, p_period);
    -- What the entries cover: the events their log references name, and
    -- (those without) the times in their windows, each gathered once so
    -- that an event is checked against them in two steps, not entry by
    -- entry.
    SELECT coalesce(array_agg(DISTINCT lower(t)), '{}') INTO v_refs
      FROM report_entry e CROSS JOIN LATERAL unnest(bevis_reconcile_refs(e.log_ref)) t
     WHERE e.report_id = v_rep AND e.state <> 'removed';
    SELECT coalesce(range_agg(bevis_reconcile_window(e.occurred_at, e.detected_at)),
                    '{}'::tstzmultirange) INTO v_wins
      FROM report_entry e
     WHERE e.report_id = v_rep AND e.state <> 'removed'
       AND cardinality(bevis_reconcile_refs(e.log_ref)) = 0
       AND bevis_reconcile_window(e.occurred_at, e.detected_at) IS NOT NULL;
    -- The log references of the present entries that name an event of the
    -- supplier: first through the unique index, as written, lower- and
    -- upper-cased; only those still unmatched are compared with every event
    -- of the supplier, lower-cased.
    SELECT coalesce(array_agg(DISTINCT t), '{}') INTO v_toks
      FROM report_entry e CROSS JOIN LATERAL unnest(bevis_reconcile_refs(e.log_ref)) t
     WHERE e.report_id = v_rep AND e.state <> 'removed';
    SELECT coalesce(array_agg(DISTINCT lower(t)), '{}') INTO v_hits
      FROM unnest(v_toks) t
     WHERE EXISTS (SELECT 1 FROM event ev
                    WHERE ev.supplier_id = a.supplier_id
                      AND ev.source_event_id IN (t, lower(t), upper(t)));
    v_rest := ARRAY(SELECT DISTINCT lower(t) FROM unnest(v_toks) t
                     WHERE NOT lower(t) = ANY (v_hits));
    IF cardinality(v_rest) > 0 THEN
        v_hits := v_hits || ARRAY(
            SELECT DISTINCT lower(btrim(ev.source_event_id)) FROM event ev
             WHERE ev.supplier_id = a.supplier_id
               AND lower(btrim(ev.source_event_id)) = ANY (v_rest));
    END IF;
    RETURN QUERY
    WITH ent AS (
        SELECT e.id, e.report_id, e.entry_id, e.log_ref, e.title, e.protected_identity,
               least(e.occurred_at, e.detected_at) AS at,
               ARRAY(SELECT lower(t) FROM unnest(bevis_reconcile_refs(e.log_ref)) t) AS refs,
               bevis_reconcile_window(e.occurred_at, e.detected_at) AS win,
               (SELECT i.ref FROM incident_link l JOIN incident i ON i.id = l.incident_id
                 WHERE l.target_kind = 'report_entry' AND l.action = 'link'
                   AND l.report_entry_id = coalesce(e.origin_id, e.id)
                 ORDER BY l.id LIMIT 1) AS inc
          FROM report_entry e
         WHERE e.report_id = v_rep AND e.state <> 'removed'
    ), claimed AS (
        SELECT n.*,
               CASE WHEN cardinality(n.refs) > 0
                    THEN format('log reference %s matches no event of %s',
                                regexp_replace(n.log_ref,
                                               '^[[:space:]\u00a0]+|[[:space:]\u00a0]+$',
                                               '', 'g'), p_supplier)
                    WHEN n.win IS NULL
                    THEN 'no log reference and no time to look for events by'
                    ELSE format('no log reference, and no event of %s from %s to %s',
                                p_supplier, to_char(lower(n.win), 'YYYY-MM-DD HH24:MI'),
                                to_char(upper(n.win), 'YYYY-MM-DD HH24:MI TZ')) END AS why
          FROM ent n
         WHERE CASE WHEN cardinality(n.refs) > 0 THEN NOT n.refs && v_hits
                    WHEN n.win IS NULL THEN true
                    ELSE NOT EXISTS (SELECT 1 FROM event ev
                                      WHERE ev.supplier_id = a.supplier_id
                                        AND ev.occurred_at >= lower(n.win)
                                        AND ev.occurred_at <= upper(n.win)) END
    ), cand AS (
        SELECT ev.submission_id, ev.item_no, ev.source_event_id, ev.occurred_at,
               ev.severity, ev.personal_data, ev.category, ev.action, ev.outcome
          FROM event ev
         WHERE ev.supplier_id = a.supplier_id
           AND ev.occurred_at >= a.period_from AND ev.occurred_at < a.period_to
           AND (ev.severity >= p_min_severity OR ev.personal_data)
    ), unreported AS (
        SELECT c.* FROM cand c
         WHERE NOT lower(btrim(c.source_event_id)) = ANY (v_refs)
           AND NOT c.occurred_at <@ v_wins
           AND NOT EXISTS (SELECT 1 FROM incident_link_current l
                            WHERE l.target_kind = 'event'
                              AND l.event_submission_id = c.submission_id
                              AND l.event_item_no = c.item_no)
    ), ri AS (
        SELECT i.id, i.ref, i.title, i.protected_identity, r.rule_name, r.first_at,
               r.last_at
          FROM rule_incident r JOIN incident i ON i.id = r.incident_id
         WHERE i.supplier_id = a.supplier_id
           AND r.first_at >= a.period_from AND r.first_at < a.period_to
           AND i.status NOT IN ('dismissed', 'merged')
    ), ri_refs AS (
        SELECT ri.id, lower(btrim(ev.source_event_id)) AS ref
          FROM ri
          JOIN incident m ON m.id = ri.id OR (m.merged_into = ri.id AND m.status = 'merged')
          JOIN incident_link_current l ON l.incident_id = m.id AND l.target_kind = 'event'
          JOIN event ev ON ev.submission_id = l.event_submission_id
                       AND ev.item_no = l.event_item_no
    )
    SELECT f.* FROM (
        SELECT 'claimed_no_evidence'::text, c.at, c.report_id, c.id, c.entry_id, c.log_ref,
               NULL::bigint, NULL::integer, NULL::text, NULL::smallint, NULL::boolean,
               c.inc, false,
               NULL::text,
               CASE WHEN c.protected_identity = 'yes' AND NOT v_prot
                    THEN '(restricted to bevis_protected)' ELSE c.title END,
               c.why
          FROM claimed c
        UNION ALL
        SELECT 'unreported_event', u.occurred_at, NULL, NULL, NULL, NULL,
               u.submission_id, u.item_no, u.source_event_id, u.severity, u.personal_data,
               NULL, false, NULL,
               nullif(concat_ws(' ', u.category, u.action, u.outcome), ''),
               concat_ws(', ',
                         CASE WHEN u.severity >= p_min_severity
                              THEN format('severity %s (%s)', bevis_severity_name(u.severity),
                                          u.severity) END,
                         CASE WHEN u.personal_data THEN 'personal data' END)
          FROM unreported u
        UNION ALL
        SELECT 'unmentioned_rule_incident', ri.first_at, NULL, NULL, NULL, NULL,
               NULL, NULL, NULL, NULL, NULL,
               ri.ref, false, ri.rule_name,
               CASE WHEN ri.protected_identity AND NOT v_prot
                    THEN '(restricted to bevis_protected)' ELSE ri.title END,
               format('opened by rule %s, events from %s to %s', ri.rule_name,
                      to_char(ri.first_at, 'YYYY-MM-DD HH24:MI'),
                      to_char(ri.last_at, 'YYYY-MM-DD HH24:MI TZ'))
          FROM ri
         WHERE NOT EXISTS (
                   SELECT 1 FROM ent n
                    WHERE CASE WHEN cardinality(n.refs) > 0
                               THEN EXISTS (SELECT 1 FROM ri_refs x
                                             WHERE x.id = ri.id AND x.ref = ANY (n.refs))
                               ELSE n.win && tstzrange(ri.first_at, ri.last_at, '[]') END)
    ) f (finding, at, report, entry, entry_id, log_ref, submission, item, event_id, severity,
         personal_data, incident, opened, rule, title, why)
     ORDER BY CASE f.finding WHEN 'claimed_no_evidence' THEN 1
                             WHEN 'unreported_event' THEN 2 ELSE 3 END,
              f.at NULLS LAST, f.entry_id, f.submission, f.item, f.incident;
END
$$;

-- ---- --open ------------------------------------------------------------------------

-- bevis reconcile --open: the findings of bevis_reconcile(), and for each
-- unreported event a potential incident opened through
-- bevis_incident_open() (the incidents' one write path; the actor is
-- session_user), linked to the event, for the supplier, with the finding as
-- its description and rationale. The link covers the event, so running it
-- again opens nothing for it. One caller at a time per supplier: the
-- findings are read after the lock, so two at once cannot both open one.
-- The event's personal columns (user, address, target, message) stay out of
-- the incident's text, so that erasing the event (bevis redact) leaves no
-- copy behind.
CREATE FUNCTION bevis_reconcile_open(p_supplier text, p_period text,
                                     p_min_severity integer DEFAULT 4)
RETURNS SETOF bevis_reconcile_finding
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    a       record;
    f       bevis_reconcile_finding;
    v_rep   bigint;
    v_text  text;
BEGIN
    a := bevis_reconcile_args(p_supplier, p_period);
    PERFORM pg_advisory_xact_lock(hashtextextended(
        format('bevis reconcile %s', a.supplier_id), 0));
    v_rep := bevis_reconcile_report(a.supplier_id, p_period);
    FOR f IN SELECT * FROM bevis_reconcile(p_supplier, p_period, p_min_severity) LOOP
        IF f.finding = 'unreported_event' THEN
            v_text := format('Seen in the logs of %s, not in %s for %s: event %s at %s, %s%s.',
                             p_supplier,
                             CASE WHEN v_rep IS NULL THEN 'a report (none came)'
                                  ELSE 'its report' END,
                             p_period, f.event_id, to_char(f.at, 'YYYY-MM-DD HH24:MI TZ'),
                             f.why, coalesce(', ' || f.title, ''));
            f.incident := bevis_incident_open(
                jsonb_strip_nulls(jsonb_build_object(
                    'title', left(format('%s event %s, not in its report for %s',
                                         p_supplier, f.event_id, p_period), 500),
                    'description', left(v_text, 20000),
                    'supplier', p_supplier,
                    'occurred_at', CASE WHEN f.at <= clock_timestamp() THEN f.at END,
                    'personal_data', CASE WHEN f.personal_data THEN 'yes' END)),
                jsonb_build_array(jsonb_build_object('event', p_supplier || ':' || f.event_id)),
                left(v_text, 10000));
            f.opened := true;
        END IF;
        RETURN NEXT f;
    END LOOP;
END
$$;

-- ---- privileges ----------------------------------------------------------------------

REVOKE EXECUTE ON FUNCTION
    bevis_severity_name(integer), bevis_reconcile_refs(text),
    bevis_reconcile_window(timestamptz, timestamptz),
    bevis_reconcile_args(text, text), bevis_reconcile_report(integer, text),
    bevis_reconcile_summary(text, text),
    bevis_reconcile(text, text, integer),
    bevis_reconcile_open(text, text, integer)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    bevis_severity_name(integer), bevis_reconcile_refs(text),
    bevis_reconcile_window(timestamptz, timestamptz),
    bevis_reconcile_summary(text, text),
    bevis_reconcile(text, text, integer)
    TO bevis_isam, bevis_auditor;
GRANT EXECUTE ON FUNCTION bevis_reconcile_open(text, text, integer) TO bevis_isam;
