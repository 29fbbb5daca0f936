-- 0010_stats: the yearly incident statistics behind `bevis stats` and
-- `bevis review` (docs/STATS.md says what counts).
--
-- Every figure is computed here, by SECURITY DEFINER functions that read
-- every incident, protected ones included, and return only counts and
-- medians: everyone gets the true totals, and nobody outside
-- bevis_protected sees a protected row through them.
--
-- An incident belongs to the year (and month) of detected_at, or of
-- opened_at when detected_at is unknown, in the session's TimeZone (the
-- CLI sets it from the config's timezone, Europe/Stockholm by default).
-- Merged incidents are not counted: the survivor counts once for all.

-- One row per counted incident of p_year and p_year - 1, with what the
-- figures need. Internal: EXECUTE is granted to nobody.
CREATE FUNCTION bevis_stats_incidents(p_year integer)
RETURNS TABLE (year integer, month integer, supplier text, category text, cause text,
               confirmed boolean, personal_data boolean, notified boolean,
               within_72h boolean, dismissed boolean, still_open boolean,
               hours_to_decision double precision, hours_to_notification double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    WITH i AS (
        SELECT i.*,
               coalesce(i.detected_at, i.opened_at)
                   AT TIME ZONE current_setting('TimeZone') AS local_at,
               i.status IN ('confirmed', 'closed') AS is_confirmed
          FROM incident i
         WHERE i.status <> 'merged'
    )
    SELECT extract(year FROM i.local_at)::integer,
           extract(month FROM i.local_at)::integer,
           coalesce(sp.name, '(none)'),
           coalesce(i.category, '(none)'),
           coalesce(i.cause, '(none)'),
           i.is_confirmed,
           i.is_confirmed AND i.personal_data = 'yes',
           i.is_confirmed AND i.personal_data = 'yes' AND i.imy = 'notified',
           i.is_confirmed AND i.personal_data = 'yes' AND i.imy = 'notified'
               AND i.imy_notified_at <= bevis_imy_deadline(i.aware_at),
           i.status = 'dismissed',
           i.status IN ('new', 'assessing'),
           -- The verdict: the first decision that confirmed or dismissed it.
           (SELECT extract(epoch FROM d.at - i.opened_at) / 3600
              FROM decision d
             WHERE d.incident_id = i.id
               AND d.after ->> 'status' IN ('confirmed', 'dismissed')
             ORDER BY d.seq LIMIT 1),
           CASE WHEN i.is_confirmed AND i.personal_data = 'yes' AND i.imy = 'notified'
                THEN extract(epoch FROM i.imy_notified_at - i.aware_at) / 3600 END
      FROM i
      LEFT JOIN supplier sp ON sp.id = i.supplier_id
     WHERE extract(year FROM i.local_at) IN (p_year, p_year - 1)
$$;

CREATE FUNCTION bevis_stats_check(p_year integer, p_by text) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF p_year IS NULL OR p_year < 1971 OR p_year > 9999 THEN
        RAISE EXCEPTION 'bevis: % is not a year bevis counts', coalesce(p_year::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A year is four digits, 1971 to 9999.';
    END IF;
    IF p_by IS NOT NULL AND p_by NOT IN ('month', 'supplier', 'category', 'cause') THEN
        RAISE EXCEPTION 'bevis: statistics cannot be grouped by %', p_by
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Group by month, supplier, category or cause.';
    END IF;
END
$$;

-- The funnel and the times, for p_year and the year before, one figure a
-- row in a fixed order (ord). this_year and last_year are counts, except
-- notified_72h_pct (a percentage, one decimal) and the two medians (hours,
-- one decimal); those are NULL when there is nothing to take them over.
CREATE FUNCTION bevis_stats(p_year integer)
RETURNS TABLE (ord integer, figure text, this_year numeric, last_year numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    PERFORM bevis_stats_check(p_year, NULL);
    RETURN QUERY
    WITH s AS (SELECT * FROM bevis_stats_incidents(p_year)),
    y AS (
        SELECT g.y,
               (SELECT count(*) FROM s WHERE s.year = g.y)::numeric AS potential,
               (SELECT count(*) FILTER (WHERE s.confirmed) FROM s WHERE s.year = g.y)::numeric
                   AS confirmed,
               (SELECT count(*) FILTER (WHERE s.personal_data) FROM s WHERE s.year = g.y)::numeric
                   AS personal_data,
               (SELECT count(*) FILTER (WHERE s.notified) FROM s WHERE s.year = g.y)::numeric
                   AS notified,
               (SELECT count(*) FILTER (WHERE s.within_72h) FROM s WHERE s.year = g.y)::numeric
                   AS within_72h,
               (SELECT count(*) FILTER (WHERE s.dismissed) FROM s WHERE s.year = g.y)::numeric
                   AS dismissed,
               (SELECT count(*) FILTER (WHERE s.still_open) FROM s WHERE s.year = g.y)::numeric
                   AS still_open,
               (SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY s.hours_to_decision)
                             ::numeric, 1)
                  FROM s WHERE s.year = g.y) AS to_decision,
               (SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY s.hours_to_notification)
                             ::numeric, 1)
                  FROM s WHERE s.year = g.y) AS to_notification
          FROM (VALUES (p_year), (p_year - 1)) g (y)
    ),
    f AS (
        SELECT y.y, v.ord, v.figure, v.value
          FROM y, LATERAL (VALUES
              (1, 'potential', y.potential),
              (2, 'confirmed', y.confirmed),
              (3, 'personal_data', y.personal_data),
              (4, 'notified', y.notified),
              (5, 'notified_72h', y.within_72h),
              (6, 'notified_72h_pct',
               CASE WHEN y.notified > 0 THEN round(100 * y.within_72h / y.notified, 1) END),
              (7, 'dismissed', y.dismissed),
              (8, 'still_open', y.still_open),
              (9, 'median_hours_to_decision', y.to_decision),
              (10, 'median_hours_to_notification', y.to_notification)) v (ord, figure, value)
    )
    SELECT a.ord, a.figure, a.value, b.value
      FROM f a JOIN f b ON b.ord = a.ord AND b.y = p_year - 1
     WHERE a.y = p_year
     ORDER BY a.ord;
END
$$;

-- The funnel's four counts per group, for p_year and the year before: by
-- month (all twelve, '01' to '12'), supplier, category or cause (every
-- group that has an incident in either year, '(none)' where it is unset).
CREATE FUNCTION bevis_stats_by(p_year integer, p_by text)
RETURNS TABLE (grp text, potential bigint, confirmed bigint, personal_data bigint,
               notified bigint, last_potential bigint, last_confirmed bigint,
               last_personal_data bigint, last_notified bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    PERFORM bevis_stats_check(p_year, coalesce(p_by, '?'));
    RETURN QUERY
    WITH s AS (
        SELECT x.*, CASE p_by WHEN 'month' THEN lpad(x.month::text, 2, '0')
                              WHEN 'supplier' THEN x.supplier
                              WHEN 'category' THEN x.category
                              ELSE x.cause END AS g
          FROM bevis_stats_incidents(p_year) x
    ),
    groups AS (
        SELECT lpad(m::text, 2, '0') AS g FROM generate_series(1, 12) m
         WHERE p_by = 'month'
        UNION
        SELECT s.g FROM s
    )
    SELECT groups.g,
           count(*) FILTER (WHERE s.year = p_year),
           count(*) FILTER (WHERE s.year = p_year AND s.confirmed),
           count(*) FILTER (WHERE s.year = p_year AND s.personal_data),
           count(*) FILTER (WHERE s.year = p_year AND s.notified),
           count(*) FILTER (WHERE s.year = p_year - 1),
           count(*) FILTER (WHERE s.year = p_year - 1 AND s.confirmed),
           count(*) FILTER (WHERE s.year = p_year - 1 AND s.personal_data),
           count(*) FILTER (WHERE s.year = p_year - 1 AND s.notified)
      FROM groups
      LEFT JOIN s ON s.g = groups.g
     GROUP BY groups.g
     -- Months in order; other groups by this year's confirmed count, largest first.
     ORDER BY CASE WHEN p_by = 'month' THEN groups.g END,
              count(*) FILTER (WHERE s.year = p_year AND s.confirmed) DESC,
              count(*) FILTER (WHERE s.year = p_year) DESC,
              groups.g;
END
$$;

REVOKE EXECUTE ON FUNCTION bevis_stats_incidents(integer),
                           bevis_stats_check(integer, text),
                           bevis_stats(integer),
                           bevis_stats_by(integer, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bevis_stats(integer), bevis_stats_by(integer, text)
    TO bevis_isam, bevis_auditor;
