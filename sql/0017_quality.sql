-- 0017_quality: the log quality of each supplier, month by month, behind
-- `bevis quality`, the review's supplier section and /metrics
-- (docs/QUALITY.md has every measure, its formula and why it matters).
--
-- The figures come from summaries kept up as events arrive, never from a
-- scan of the events: bevisd calls bevis_quality_add() with the
-- submissions of each batch, in the batch's transaction, after its ledger
-- leaves (so under the ledger's lock: batches are added one at a time, in
-- commit order). bevis_quality_rebuild() computes the same summaries from
-- scratch; a test checks that both agree.
--
-- The summaries are derived data, not evidence: they are not in the ledger
-- and may be rebuilt at any time. The hours are whole UTC hours of the
-- receipt time (submission.received_at); a month is a month of the
-- session's TimeZone (the CLI sets the config's timezone), which is made of
-- whole UTC hours in every zone with whole-hour offsets (Europe/Stockholm).

-- Per supplier and hour. slot is the writing backend's process id, so that
-- two writers never wait for each other's row; readers sum the slots.
CREATE TABLE quality_hour (
    supplier_id    integer NOT NULL,
    hour           timestamptz NOT NULL,
    slot           integer NOT NULL,
    items          bigint NOT NULL DEFAULT 0,   -- items of event requests received
    events         bigint NOT NULL DEFAULT 0,   -- of them stored as events
    quarantined    bigint NOT NULL DEFAULT 0,   -- of them quarantined
    with_user      bigint NOT NULL DEFAULT 0,
    with_action    bigint NOT NULL DEFAULT 0,
    with_outcome   bigint NOT NULL DEFAULT 0,
    with_src_ip    bigint NOT NULL DEFAULT 0,
    with_target    bigint NOT NULL DEFAULT 0,
    future         bigint NOT NULL DEFAULT 0,   -- occurred > 5 min after receipt
    late           bigint NOT NULL DEFAULT 0,   -- received > 24 h after it occurred
    seq_events     bigint NOT NULL DEFAULT 0,
    seq_gaps       bigint NOT NULL DEFAULT 0,
    seq_missing    bigint NOT NULL DEFAULT 0,   -- a late number that fills a gap subtracts 1
    seq_repeats    bigint NOT NULL DEFAULT 0,
    seq_reorders   bigint NOT NULL DEFAULT 0,
    chain_events   bigint NOT NULL DEFAULT 0,
    chain_starts   bigint NOT NULL DEFAULT 0,   -- chain.prev of 64 zeros
    chain_breaks   bigint NOT NULL DEFAULT 0,   -- a predecessor arriving later subtracts 1
    chain_forks    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (supplier_id, hour, slot)
);

-- received_at - occurred_at, counted in buckets (bevis_quality_lag_bucket).
CREATE TABLE quality_lag (
    supplier_id  integer NOT NULL,
    hour         timestamptz NOT NULL,
    slot         integer NOT NULL,
    bucket       smallint NOT NULL,
    n            bigint NOT NULL,
    PRIMARY KEY (supplier_id, hour, slot, bucket)
);

-- The highest and lowest seq number seen from each supplier so far.
CREATE TABLE quality_seq_state (
    supplier_id  integer PRIMARY KEY,
    low          bigint NOT NULL,
    high         bigint NOT NULL,
    low_at       timestamptz NOT NULL     -- when the lowest number came
);

-- Events that carry chain.prev: their own SHA-256 (of their raw bytes, as
-- sent) and their predecessor's. prev is NULL when chain.prev was not 64
-- hex digits (a break). bevis_quality_chain() lists the breaks and forks
-- from here; the counts are kept in quality_hour.
CREATE TABLE event_chain (
    supplier_id    integer NOT NULL,
    submission_id  bigint NOT NULL,
    item_no        integer NOT NULL,
    received_at    timestamptz NOT NULL,
    sha256         bytea NOT NULL,
    prev           bytea,
    PRIMARY KEY (submission_id, item_no)
);
CREATE INDEX event_chain_sha_idx ON event_chain (supplier_id, sha256);
CREATE INDEX event_chain_prev_idx ON event_chain (supplier_id, prev);
CREATE INDEX event_chain_received_idx ON event_chain (supplier_id, received_at);

-- Where each supplier's seq numbers left gaps: a range of numbers that had
-- not come when a higher (or, below the lowest, a lower) one did. A number
-- at or below the highest fills its place when it lies in a range and has
-- not filled it before (quality_seq_fill), and is a repeat otherwise.
-- Ranges never overlap and never change, so one index probe finds a
-- number's range, and events in order cost nothing here.
CREATE TABLE quality_seq_gap (
    supplier_id  integer NOT NULL,
    lo           bigint NOT NULL,
    hi           bigint NOT NULL CHECK (hi >= lo),
    opened_at    timestamptz NOT NULL,    -- receipt of the number that left it
    PRIMARY KEY (supplier_id, lo)
);
CREATE TABLE quality_seq_fill (
    supplier_id  integer NOT NULL,
    seq          bigint NOT NULL,
    PRIMARY KEY (supplier_id, seq)
);

-- ---- the lag histogram ----------------------------------------------------------

-- Bucket of a lag in seconds: roughly two to each doubling, at bounds a
-- reader would name (0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45 s, 1, 1.5,
-- 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45 min, 1, 1.5, 2, 3, 4, 6, 8, 12,
-- 18 h, 1, 1.5, 2, 3, 4, 5, 7, 10, 14, 21, 30, 45, 60, 90, 120, 180, 270,
-- 365 days), so an hour of one supplier holds a few dozen buckets at most.
-- A negative lag (dated after receipt) gets the negated bucket of its size.
-- (No SET search_path: it would keep the planner from inlining these two,
-- which run once per event; they call built-in functions only.)
CREATE FUNCTION bevis_quality_lag_bucket(p_seconds double precision) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((CASE WHEN p_seconds < 0 THEN -1 ELSE 1 END)
            * width_bucket(abs(p_seconds), '{0,1,2,3,4,5,6,8,10,15,20,30,45,60,90,120,180,240,300,360,480,600,900,1200,1800,2700,3600,5400,7200,10800,14400,21600,28800,43200,64800,86400,129600,172800,259200,345600,432000,604800,864000,1209600,1814400,2592000,3888000,5184000,7776000,10368000,15552000,23328000,31536000}'::double precision[]))::smallint
$$;

-- The lag a bucket stands for: its bound nearest zero, in seconds.
CREATE FUNCTION bevis_quality_lag_value(p_bucket smallint) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (CASE WHEN p_bucket < 0 THEN -1 ELSE 1 END)
           * ('{0,1,2,3,4,5,6,8,10,15,20,30,45,60,90,120,180,240,300,360,480,600,900,1200,1800,2700,3600,5400,7200,10800,14400,21600,28800,43200,64800,86400,129600,172800,259200,345600,432000,604800,864000,1209600,1814400,2592000,3888000,5184000,7776000,10368000,15552000,23328000,31536000}'::double precision[])[abs(p_bucket)]
$$;

-- ---- kept up as events arrive --------------------------------------------------

-- The batch's events that carry seq, in order of arrival, each with the
-- highest and lowest number of its supplier before it (the state before the
-- batch, then the batch's own). For bevis_quality_add; an SQL function with
-- no SET, so the planner inlines it.
CREATE FUNCTION bevis_quality_seq_rows(p_subs bigint[])
RETURNS TABLE (supplier_id integer, seq bigint, hour timestamptz, received_at timestamptz,
               low_at timestamptz, submission_id bigint, item_no integer,
               prev_high bigint, prev_low bigint)
LANGUAGE sql STABLE AS $$
            SELECT e.supplier_id, e.seq, date_trunc('hour', s.received_at) AS hour,
                   s.received_at, st.low_at, e.submission_id, e.item_no,
                   greatest(st.high, max(e.seq) OVER w) AS prev_high,
                   least(st.low, min(e.seq) OVER w) AS prev_low
              FROM unnest(p_subs) u (id)
              JOIN submission s ON s.id = u.id
              CROSS JOIN LATERAL (SELECT * FROM event e WHERE e.submission_id = s.id OFFSET 0) e
              LEFT JOIN quality_seq_state st ON st.supplier_id = e.supplier_id
             WHERE e.seq IS NOT NULL
            WINDOW w AS (PARTITION BY e.supplier_id ORDER BY e.submission_id, e.item_no
                         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
$$;


-- Adds the submissions p_subs (event requests; reports are skipped) to the
-- summaries. The caller adds each submission once, in the order they were
-- committed: bevisd after each batch's ledger leaves, the rebuild in id
-- order. Within the call, events are taken in (submission_id, item_no)
-- order, which is their order of arrival.
CREATE FUNCTION bevis_quality_add(p_subs bigint[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
-- One plan, kept: planning the statement below costs more than running it
-- for a batch of a few hundred events. That plan is made when the
-- connection first calls this, maybe while event is nearly empty, when a
-- sequential scan looks cheapest; every table here is read by its keys, so
-- sequential scans are off. (And no JIT: see bevis_quality.)
SET jit = off SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
DECLARE
    v_slot integer := pg_backend_pid();
    v_late bigint;
BEGIN
    -- The seq numbers that are not simply the next one, in order of arrival,
    -- against the state before this batch. First the gaps: a number above
    -- the highest so far leaves the numbers in between missing; one below
    -- the lowest, those up to the lowest.
    WITH y AS (
        SELECT * FROM bevis_quality_seq_rows(p_subs)
    ), gap AS (
        SELECT y.supplier_id, y.hour, y.received_at, y.prev_high + 1 AS lo, y.seq - 1 AS hi
          FROM y
         WHERE y.seq - 1 > y.prev_high     -- (not prev_high + 1: seq may be 2^63 - 1)
        UNION ALL
        SELECT y.supplier_id, y.hour, y.received_at, y.seq + 1, y.prev_low - 1 FROM y
         WHERE y.seq < y.prev_low - 1
    ), gi AS (
        INSERT INTO quality_seq_gap (supplier_id, lo, hi, opened_at)
        SELECT gap.supplier_id, gap.lo, gap.hi, gap.received_at FROM gap
        RETURNING 1
    ), gh AS (
        INSERT INTO quality_hour AS q (supplier_id, hour, slot, seq_gaps, seq_missing)
        SELECT gap.supplier_id, gap.hour, v_slot, count(*), sum(gap.hi - gap.lo + 1)
          FROM gap
         GROUP BY gap.supplier_id, gap.hour
        ON CONFLICT (supplier_id, hour, slot) DO UPDATE
           SET seq_gaps = q.seq_gaps + excluded.seq_gaps,
               seq_missing = q.seq_missing + excluded.seq_missing
        RETURNING 1
    )
    SELECT count(*) INTO v_late FROM y WHERE y.seq <= y.prev_high;

    -- Then the numbers at or below the highest, against those gaps (this
    -- batch's included: no gap made later in the batch can hold an earlier
    -- number, since a gap starts above the highest number before it). In a
    -- gap, and its first time: it fills its place, no longer missing. Else,
    -- unless below the lowest: a repeat. A number that fills a gap, or
    -- comes below the lowest, more than a minute after the number that
    -- left the gap (or the lowest) is a reordering: closer than that,
    -- requests in flight together and bevisd's parallel writers may have
    -- swapped them, which is no fault of the supplier.
    IF v_late > 0 THEN
    WITH r AS (
        SELECT y.*,
               row_number() OVER (PARTITION BY y.supplier_id, y.seq
                                  ORDER BY y.submission_id, y.item_no) AS nth
          FROM bevis_quality_seq_rows(p_subs) y
         WHERE y.seq <= y.prev_high
    ), rg AS (
        SELECT r.*, g.hi, g.opened_at
          FROM r
          LEFT JOIN LATERAL (SELECT g.hi, g.opened_at FROM quality_seq_gap g
                              WHERE g.supplier_id = r.supplier_id AND g.lo <= r.seq
                              ORDER BY g.lo DESC LIMIT 1) g ON true
    ), c AS (
        SELECT rg.supplier_id, rg.hour, rg.seq,
               rg.seq < rg.prev_low AS below,
               rg.seq >= rg.prev_low AND rg.nth = 1 AND coalesce(rg.hi >= rg.seq, false)
               AND NOT EXISTS (SELECT 1 FROM quality_seq_fill f
                                WHERE f.supplier_id = rg.supplier_id AND f.seq = rg.seq) AS fills,
               CASE WHEN rg.seq < rg.prev_low THEN rg.received_at > rg.low_at + interval '1 minute'
                    ELSE rg.received_at > rg.opened_at + interval '1 minute' END AS late
          FROM rg
    ), fi AS (
        INSERT INTO quality_seq_fill (supplier_id, seq)
        SELECT c.supplier_id, c.seq FROM c WHERE c.fills
        RETURNING 1
    )
    INSERT INTO quality_hour AS q (supplier_id, hour, slot, seq_reorders, seq_missing,
                                   seq_repeats)
    SELECT c.supplier_id, c.hour, v_slot,
           count(*) FILTER (WHERE (c.below OR c.fills) AND coalesce(c.late, false)),
           -count(*) FILTER (WHERE c.fills), count(*) FILTER (WHERE NOT (c.below OR c.fills))
      FROM c
     GROUP BY c.supplier_id, c.hour
    ON CONFLICT (supplier_id, hour, slot) DO UPDATE
       SET seq_reorders = q.seq_reorders + excluded.seq_reorders,
           seq_missing = q.seq_missing + excluded.seq_missing,
           seq_repeats = q.seq_repeats + excluded.seq_repeats;
    END IF;

    -- Then one statement, one pass over the batch's events (ev): every part
    -- reads the tables as they were before the statement. The ledger lock
    -- (held by the caller) keeps two batches from interleaving.
    WITH ev AS MATERIALIZED (
        SELECT e.supplier_id, e.submission_id, e.item_no, e.seq, s.received_at,
               date_trunc('hour', s.received_at) AS hour,
               bevis_quality_lag_bucket(extract(epoch FROM s.received_at - e.occurred_at)::double precision)
                   AS bucket,
               (coalesce(e.actor_user, '') <> '')::integer AS has_user,
               (coalesce(e.action, '') <> '')::integer AS has_action,
               (coalesce(e.outcome, '') <> '')::integer AS has_outcome,
               (e.src_ip IS NOT NULL)::integer AS has_src_ip,
               (coalesce(e.target, '') <> '')::integer AS has_target,
               (e.occurred_at > s.received_at + interval '5 minutes')::integer AS is_future,
               (s.received_at > e.occurred_at + interval '24 hours')::integer AS is_late,
               -- only what may be a chained event keeps its attrs
               CASE WHEN strpos(e.attrs::text, 'chain') > 0 THEN e.attrs END AS cattrs,
               e.raw_offset, e.raw_length
          -- LATERAL with OFFSET 0 (kept from being pulled up into a join):
          -- each submission's events by the primary key. A plain join let
          -- the planner scan the whole event table for each batch.
          FROM unnest(p_subs) u (id)
          JOIN submission s ON s.id = u.id
          CROSS JOIN LATERAL (SELECT * FROM event e WHERE e.submission_id = s.id OFFSET 0) e
    ), hb AS (
        -- per supplier, hour and lag bucket: the lag histogram, and the
        -- counts the hour's row sums up from it
        SELECT ev.supplier_id, ev.hour, ev.bucket, count(*) AS n,
               sum(ev.has_user) AS with_user, sum(ev.has_action) AS with_action,
               sum(ev.has_outcome) AS with_outcome, sum(ev.has_src_ip) AS with_src_ip,
               sum(ev.has_target) AS with_target, sum(ev.is_future) AS future,
               sum(ev.is_late) AS late, count(ev.seq) AS seq_events
          FROM ev
         GROUP BY 1, 2, 3
    ), lg AS (
        INSERT INTO quality_lag AS l (supplier_id, hour, slot, bucket, n)
        SELECT hb.supplier_id, hb.hour, v_slot, hb.bucket, hb.n FROM hb
        ON CONFLICT (supplier_id, hour, slot, bucket) DO UPDATE SET n = l.n + excluded.n
        RETURNING 1
    ), st AS (
        INSERT INTO quality_seq_state AS st (supplier_id, low, high, low_at)
        SELECT ev.supplier_id, min(ev.seq), max(ev.seq),
               (array_agg(ev.received_at ORDER BY ev.seq))[1]
          FROM ev
         WHERE ev.seq IS NOT NULL GROUP BY ev.supplier_id
        ON CONFLICT (supplier_id) DO UPDATE
           SET low = least(st.low, excluded.low), high = greatest(st.high, excluded.high),
               low_at = CASE WHEN excluded.low < st.low THEN excluded.low_at ELSE st.low_at END
        RETURNING 1
    ), cs AS (
        -- chained events: their own hash and their predecessor's
        SELECT c.supplier_id, c.submission_id, c.item_no, c.received_at, c.hour,
               sha256(substring(s.body FROM c.raw_offset + 1 FOR c.raw_length)) AS sha,
               CASE WHEN c.prev_hex ~ '^[0-9a-fA-F]{64}$' THEN decode(c.prev_hex, 'hex') END
                   AS prev
          FROM (SELECT ev.*,
                       coalesce(ev.cattrs -> 'chain' ->> 'prev', ev.cattrs ->> 'chain.prev')
                           AS prev_hex
                  FROM ev
                 WHERE ev.cattrs IS NOT NULL
                   AND coalesce(json_typeof(coalesce(ev.cattrs -> 'chain' -> 'prev',
                                                     ev.cattrs -> 'chain.prev')), 'null')
                       <> 'null') c
          JOIN submission s ON s.id = c.submission_id
    ), cc AS (
        -- start: names 64 zeros; break: names no event stored before or in
        -- this batch; fork: an earlier event names the same predecessor
        SELECT cs.*,
               coalesce(cs.prev = '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea,
                        false) AS is_start,
               cs.prev IS NULL
               OR (cs.prev <> '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea
                   AND NOT EXISTS (SELECT 1 FROM event_chain p
                                    WHERE p.supplier_id = cs.supplier_id AND p.sha256 = cs.prev)
                   AND NOT EXISTS (SELECT 1 FROM cs p
                                    WHERE p.supplier_id = cs.supplier_id AND p.sha = cs.prev))
                   AS is_break,
               coalesce(cs.prev <> '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea
                   AND (EXISTS (SELECT 1 FROM event_chain o
                                 WHERE o.supplier_id = cs.supplier_id AND o.prev = cs.prev)
                        OR EXISTS (SELECT 1 FROM cs o
                                    WHERE o.supplier_id = cs.supplier_id AND o.prev = cs.prev
                                      AND (o.submission_id, o.item_no)
                                          < (cs.submission_id, cs.item_no))), false) AS is_fork
          FROM cs
    ), heal AS (
        -- an event stored before whose missing predecessor has now come:
        -- no longer a break, in the hour it was counted
        SELECT d.supplier_id, date_trunc('hour', d.received_at) AS hour, count(*) AS n
          FROM cs JOIN event_chain d ON d.supplier_id = cs.supplier_id AND d.prev = cs.sha
         GROUP BY 1, 2
    ), ch AS (
        INSERT INTO event_chain (supplier_id, submission_id, item_no, received_at, sha256, prev)
        SELECT cs.supplier_id, cs.submission_id, cs.item_no, cs.received_at, cs.sha, cs.prev
          FROM cs
        RETURNING 1
    )
    INSERT INTO quality_hour AS q (supplier_id, hour, slot, items, events, quarantined,
                                   with_user, with_action, with_outcome, with_src_ip,
                                   with_target, future, late, seq_events, seq_gaps,
                                   seq_missing, seq_repeats, seq_reorders, chain_events,
                                   chain_starts, chain_breaks, chain_forks)
    SELECT x.supplier_id, x.hour, v_slot, sum(x.items), sum(x.events), sum(x.quarantined),
           sum(x.with_user), sum(x.with_action), sum(x.with_outcome), sum(x.with_src_ip),
           sum(x.with_target), sum(x.future), sum(x.late), sum(x.seq_events),
           sum(x.seq_gaps), sum(x.seq_missing), sum(x.seq_repeats), sum(x.seq_reorders),
           sum(x.chain_events), sum(x.chain_starts), sum(x.chain_breaks), sum(x.chain_forks)
      FROM (
        -- what was received
        SELECT s.supplier_id, date_trunc('hour', s.received_at) AS hour,
               s.item_count::bigint AS items, 0::bigint AS events,
               (SELECT count(*) FROM quarantine q WHERE q.submission_id = s.id) AS quarantined,
               0::bigint AS with_user, 0::bigint AS with_action, 0::bigint AS with_outcome,
               0::bigint AS with_src_ip, 0::bigint AS with_target, 0::bigint AS future,
               0::bigint AS late, 0::bigint AS seq_events, 0::bigint AS seq_gaps,
               0::bigint AS seq_missing, 0::bigint AS seq_repeats, 0::bigint AS seq_reorders,
               0::bigint AS chain_events, 0::bigint AS chain_starts, 0::bigint AS chain_breaks,
               0::bigint AS chain_forks
          FROM unnest(p_subs) u (id)
          JOIN submission s ON s.id = u.id
         WHERE s.supplier_id IS NOT NULL
           -- not a report: stored (a report row), or a resent CSV one that
           -- was a duplicate and stored only its submission (CSV is only
           -- ever a report; a duplicate JSON report still counts here)
           AND NOT EXISTS (SELECT 1 FROM report r WHERE r.submission_id = s.id)
           AND s.content_type <> 'text/csv'
        UNION ALL
        -- what was stored
        SELECT hb.supplier_id, hb.hour, 0, sum(hb.n), 0, sum(hb.with_user), sum(hb.with_action),
               sum(hb.with_outcome), sum(hb.with_src_ip), sum(hb.with_target), sum(hb.future),
               sum(hb.late), sum(hb.seq_events), 0, 0, 0, 0, 0, 0, 0, 0
          FROM hb
         GROUP BY 1, 2
        UNION ALL
        SELECT cc.supplier_id, cc.hour, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, count(*),
               count(*) FILTER (WHERE cc.is_start), count(*) FILTER (WHERE cc.is_break),
               count(*) FILTER (WHERE cc.is_fork)
          FROM cc
         GROUP BY 1, 2
        UNION ALL
        SELECT heal.supplier_id, heal.hour, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
               -heal.n, 0
          FROM heal
      ) x
     GROUP BY x.supplier_id, x.hour
    ON CONFLICT (supplier_id, hour, slot) DO UPDATE SET
        items = q.items + excluded.items, events = q.events + excluded.events,
        quarantined = q.quarantined + excluded.quarantined,
        with_user = q.with_user + excluded.with_user,
        with_action = q.with_action + excluded.with_action,
        with_outcome = q.with_outcome + excluded.with_outcome,
        with_src_ip = q.with_src_ip + excluded.with_src_ip,
        with_target = q.with_target + excluded.with_target,
        future = q.future + excluded.future, late = q.late + excluded.late,
        seq_events = q.seq_events + excluded.seq_events,
        seq_gaps = q.seq_gaps + excluded.seq_gaps,
        seq_missing = q.seq_missing + excluded.seq_missing,
        seq_repeats = q.seq_repeats + excluded.seq_repeats,
        seq_reorders = q.seq_reorders + excluded.seq_reorders,
        chain_events = q.chain_events + excluded.chain_events,
        chain_starts = q.chain_starts + excluded.chain_starts,
        chain_breaks = q.chain_breaks + excluded.chain_breaks,
        chain_forks = q.chain_forks + excluded.chain_forks;
END
$$;

-- Throws the summaries away and computes them again from every stored
-- submission, in id order. Returns the number of submissions added.
CREATE FUNCTION bevis_quality_rebuild() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_subs bigint[];
BEGIN
    LOCK TABLE quality_hour, quality_lag, quality_seq_state, quality_seq_gap,
        quality_seq_fill, event_chain IN EXCLUSIVE MODE;
    DELETE FROM quality_hour;
    DELETE FROM quality_lag;
    DELETE FROM quality_seq_state;
    DELETE FROM quality_seq_gap;
    DELETE FROM quality_seq_fill;
    DELETE FROM event_chain;
    SELECT array_agg(id ORDER BY id) INTO v_subs FROM submission;
    IF v_subs IS NOT NULL THEN
        PERFORM bevis_quality_add(v_subs);
    END IF;
    RETURN coalesce(array_length(v_subs, 1), 0);
END
$$;

-- ---- what bevis quality prints -------------------------------------------------

-- The score's weights: the defaults, overridden by p_weights (the config's
-- [quality] weight_NAME options). Refuses unknown names and weights that
-- are not numbers from 0 to 1000.
CREATE FUNCTION bevis_quality_weights(p_weights jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    w jsonb := '{"volume": 10, "silence": 10, "completeness": 25, "clock": 15,
                 "sequence": 10, "chain": 10, "rejects": 10, "reporting": 10}';
    d record;
BEGIN
    IF p_weights IS NULL THEN
        RETURN w;
    END IF;
    IF jsonb_typeof(p_weights) <> 'object' THEN
        RAISE EXCEPTION 'bevis: quality weights must be a JSON object of name: weight'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR d IN SELECT j.key, j.value FROM jsonb_each(p_weights) j LOOP
        IF NOT w ? d.key THEN
            RAISE EXCEPTION 'bevis: % is no quality weight (known: volume, silence, completeness, clock, sequence, chain, rejects, reporting)', d.key
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF jsonb_typeof(d.value) <> 'number' OR d.value::text::numeric NOT BETWEEN 0 AND 1000 THEN
            RAISE EXCEPTION 'bevis: quality weight % is %, not a number from 0 to 1000', d.key, d.value
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        w := jsonb_set(w, ARRAY[d.key], d.value);
    END LOOP;
    RETURN w;
END
$$;

-- One row per supplier and month, from the month of the supplier's first
-- event (or its registration, if earlier) to the month of p_now, limited to
-- p_supplier and the months p_from..p_to (YYYY-MM; NULL: no limit). p_due
-- maps a source's name to its report_due_day ({"servicedesk": 10}), as for
-- bevis_report_deadlines; p_weights as bevis_quality_weights. Shares are
-- 0..1; lags are seconds; scores are 0..100, NULL where a measure does not
-- apply. docs/QUALITY.md has each formula.
CREATE FUNCTION bevis_quality(p_supplier text, p_from text, p_to text,
                              p_due jsonb DEFAULT '{}', p_weights jsonb DEFAULT NULL,
                              p_now timestamptz DEFAULT now())
RETURNS TABLE (supplier text, period text, events bigint,
               volume_median double precision, volume_share double precision,
               covered_hours integer, active_hours integer, hourly boolean,
               silent_hours integer,
               share_actor_user double precision, share_action double precision,
               share_outcome double precision, share_src_ip double precision,
               share_target double precision,
               lag_p50 double precision, lag_p99 double precision,
               future_events bigint, future_share double precision,
               late_events bigint, late_share double precision,
               seq_events bigint, seq_gaps bigint, seq_missing bigint,
               seq_repeats bigint, seq_reorders bigint,
               chain_events bigint, chain_starts bigint, chain_breaks bigint,
               chain_forks bigint,
               items bigint, quarantined bigint, duplicates bigint,
               quarantine_share double precision, duplicate_share double precision,
               report_due_at timestamptz, report_received_at timestamptz,
               report_status text, report_days_late integer,
               scores jsonb, score double precision)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
-- The planner's guesses for this query are far too high (a few hundred rows
-- come out), and JIT would spend seconds compiling it.
SET jit = off AS $$
#variable_conflict use_column
DECLARE
    v_tz text := current_setting('TimeZone');
    v_w  jsonb := bevis_quality_weights(p_weights);
    d    record;
BEGIN
    IF p_from IS NOT NULL AND p_from !~ '^[0-9]{4}-(0[1-9]|1[0-2])$'
       OR p_to IS NOT NULL AND p_to !~ '^[0-9]{4}-(0[1-9]|1[0-2])$' THEN
        RAISE EXCEPTION 'bevis: a period is YYYY-MM, not %', coalesce(p_from, p_to)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
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
    END LOOP;
    IF p_supplier IS NOT NULL AND NOT EXISTS (SELECT 1 FROM supplier sp WHERE sp.name = p_supplier) THEN
        RAISE EXCEPTION 'bevis: no supplier named %', p_supplier
            USING ERRCODE = 'no_data_found',
                  HINT = 'bevis supplier list shows them';
    END IF;

    RETURN QUERY
    WITH sup AS (
        SELECT sp.id, sp.name, sp.created_at FROM supplier sp
         WHERE p_supplier IS NULL OR sp.name = p_supplier
    ), hrs AS (
        SELECT q.supplier_id, q.hour,
               date_trunc('month', q.hour AT TIME ZONE v_tz) AS month,
               sum(q.items) AS items, sum(q.events) AS events,
               sum(q.quarantined) AS quarantined,
               sum(q.with_user) AS with_user, sum(q.with_action) AS with_action,
               sum(q.with_outcome) AS with_outcome, sum(q.with_src_ip) AS with_src_ip,
               sum(q.with_target) AS with_target, sum(q.future) AS future,
               sum(q.late) AS late, sum(q.seq_events) AS seq_events,
               sum(q.seq_gaps) AS seq_gaps, sum(q.seq_missing) AS seq_missing,
               sum(q.seq_repeats) AS seq_repeats, sum(q.seq_reorders) AS seq_reorders,
               sum(q.chain_events) AS chain_events, sum(q.chain_starts) AS chain_starts,
               sum(q.chain_breaks) AS chain_breaks, sum(q.chain_forks) AS chain_forks
          FROM quality_hour q
          JOIN sup ON sup.id = q.supplier_id
         WHERE q.hour <= p_now
         GROUP BY q.supplier_id, q.hour
    ), mon AS (
        SELECT h.supplier_id, h.month,
               sum(h.items) AS items, sum(h.events) AS events,
               sum(h.quarantined) AS quarantined,
               sum(h.with_user) AS with_user, sum(h.with_action) AS with_action,
               sum(h.with_outcome) AS with_outcome, sum(h.with_src_ip) AS with_src_ip,
               sum(h.with_target) AS with_target, sum(h.future) AS future,
               sum(h.late) AS late, sum(h.seq_events) AS seq_events,
               sum(h.seq_gaps) AS seq_gaps, sum(h.seq_missing) AS seq_missing,
               sum(h.seq_repeats) AS seq_repeats, sum(h.seq_reorders) AS seq_reorders,
               sum(h.chain_events) AS chain_events, sum(h.chain_starts) AS chain_starts,
               sum(h.chain_breaks) AS chain_breaks, sum(h.chain_forks) AS chain_forks,
               count(*) FILTER (WHERE h.events > 0
                                  AND h.hour < date_trunc('hour', p_now))::integer
                   AS active_hours
          FROM hrs h
         GROUP BY h.supplier_id, h.month
    ), first AS (
        SELECT sup.id AS supplier_id, sup.name, sup.created_at, f.first_hour
          FROM sup
          LEFT JOIN (SELECT h.supplier_id, min(h.hour) AS first_hour FROM hrs h
                      WHERE h.events > 0 GROUP BY h.supplier_id) f ON f.supplier_id = sup.id
    ), months AS (
        SELECT f.supplier_id, f.name, f.first_hour, m.m AS month,
               (m.m AT TIME ZONE v_tz) AS m_start,
               ((m.m + interval '1 month') AT TIME ZONE v_tz) AS m_end
          FROM first f,
               LATERAL generate_series(
                   date_trunc('month', least(coalesce(f.first_hour, f.created_at), f.created_at)
                                       AT TIME ZONE v_tz),
                   date_trunc('month', p_now AT TIME ZONE v_tz),
                   interval '1 month') m (m)
    ), agg AS (
        SELECT mo.*,
               coalesce(a.items, 0) AS items, coalesce(a.events, 0) AS events,
               coalesce(a.quarantined, 0) AS quarantined,
               coalesce(a.with_user, 0) AS with_user, coalesce(a.with_action, 0) AS with_action,
               coalesce(a.with_outcome, 0) AS with_outcome,
               coalesce(a.with_src_ip, 0) AS with_src_ip,
               coalesce(a.with_target, 0) AS with_target,
               coalesce(a.future, 0) AS future, coalesce(a.late, 0) AS late,
               coalesce(a.seq_events, 0) AS seq_events, coalesce(a.seq_gaps, 0) AS seq_gaps,
               greatest(coalesce(a.seq_missing, 0), 0) AS seq_missing,
               coalesce(a.seq_repeats, 0) AS seq_repeats,
               coalesce(a.seq_reorders, 0) AS seq_reorders,
               coalesce(a.chain_events, 0) AS chain_events,
               coalesce(a.chain_starts, 0) AS starts,
               greatest(coalesce(a.chain_breaks, 0), 0) AS breaks,
               coalesce(a.chain_forks, 0) AS forks,
               coalesce(a.active_hours, 0) AS active_hours,
               -- The hours the supplier could have sent in: from its first
               -- event to the last whole hour before p_now.
               CASE WHEN mo.first_hour IS NULL THEN 0
                    ELSE greatest(0, floor(extract(epoch FROM
                             least(mo.m_end, date_trunc('hour', p_now))
                             - greatest(mo.m_start, mo.first_hour)) / 3600))::integer
               END AS covered_hours
          FROM months mo
          LEFT JOIN mon a ON a.supplier_id = mo.supplier_id AND a.month = mo.month
    ), lagm AS (
        -- the lag histogram of each supplier-month, and its percentiles
        SELECT c.supplier_id, c.month,
               min(c.v) FILTER (WHERE c.cum >= 0.5 * c.tot) AS p50,
               min(c.v) FILTER (WHERE c.cum >= 0.99 * c.tot) AS p99
          FROM (SELECT b.*,
                       sum(b.n) OVER (PARTITION BY b.supplier_id, b.month ORDER BY b.v) AS cum,
                       sum(b.n) OVER (PARTITION BY b.supplier_id, b.month) AS tot
                  FROM (SELECT l.supplier_id,
                               date_trunc('month', l.hour AT TIME ZONE v_tz) AS month,
                               bevis_quality_lag_value(l.bucket) AS v, sum(l.n) AS n
                          FROM quality_lag l
                          JOIN sup ON sup.id = l.supplier_id
                         WHERE l.hour <= p_now
                         GROUP BY 1, 2, 3) b) c
         GROUP BY c.supplier_id, c.month
    ), win AS (
        SELECT agg.*,
               coalesce(sum(agg.active_hours) OVER six, 0) AS active_6,
               coalesce(sum(agg.covered_hours) OVER six, 0) AS covered_6
          FROM agg
        WINDOW six AS (PARTITION BY agg.supplier_id ORDER BY agg.month
                       ROWS BETWEEN 6 PRECEDING AND 1 PRECEDING)
    ), base AS (
        SELECT w.*,
               (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY p.events)
                  FROM agg p
                 WHERE p.supplier_id = w.supplier_id
                   AND p.month >= w.month - interval '6 months' AND p.month < w.month
                   AND p.covered_hours > 0) AS median6,
               -- Sends every hour: in at least 90 % of its hours over the
               -- 6 months before (the month itself when it has no past).
               CASE WHEN w.covered_6 > 0 THEN w.active_6 >= 0.9 * w.covered_6
                    ELSE w.covered_hours > 0 AND w.active_hours >= 0.9 * w.covered_hours
               END AS is_hourly,
               lag.p50, lag.p99,
               (p_due ->> w.name)::integer AS due_day,
               (SELECT min(r.received_at) FROM report r
                 WHERE r.supplier_id = w.supplier_id
                   AND r.period = to_char(w.month, 'YYYY-MM')
                   AND r.received_at <= p_now) AS report_at
          FROM win w
          LEFT JOIN lagm lag ON lag.supplier_id = w.supplier_id AND lag.month = w.month
         WHERE (p_from IS NULL OR w.month >= to_date(p_from, 'YYYY-MM'))
           AND (p_to IS NULL OR w.month <= to_date(p_to, 'YYYY-MM'))
    ), rep AS (
        SELECT b.*,
               CASE WHEN b.due_day IS NOT NULL THEN
                   (b.month + interval '1 month' + (b.due_day - 1) * interval '1 day')::date
               END AS due_date
          FROM base b
    ), fig AS (
        SELECT r.*,
               CASE WHEN r.events > 0 THEN r.with_user::double precision / r.events END AS s_user,
               CASE WHEN r.events > 0 THEN r.with_action::double precision / r.events END AS s_action,
               CASE WHEN r.events > 0 THEN r.with_outcome::double precision / r.events END AS s_outcome,
               CASE WHEN r.events > 0 THEN r.with_src_ip::double precision / r.events END AS s_src_ip,
               CASE WHEN r.events > 0 THEN r.with_target::double precision / r.events END AS s_target,
               CASE WHEN r.median6 > 0 THEN r.events / r.median6 END AS v_share,
               greatest(r.items - r.events - r.quarantined, 0) AS dups,
               CASE WHEN r.due_date IS NULL THEN 'not_expected'
                    WHEN r.report_at IS NOT NULL
                         AND (r.report_at AT TIME ZONE v_tz)::date <= r.due_date THEN 'on_time'
                    WHEN r.report_at IS NOT NULL THEN 'late'
                    WHEN (p_now AT TIME ZONE v_tz)::date > r.due_date THEN 'missing'
                    ELSE 'not_due'
               END AS rstatus,
               CASE WHEN r.due_date IS NULL THEN NULL
                    WHEN r.report_at IS NOT NULL
                        THEN greatest(0, (r.report_at AT TIME ZONE v_tz)::date - r.due_date)
                    WHEN (p_now AT TIME ZONE v_tz)::date > r.due_date
                        THEN (p_now AT TIME ZONE v_tz)::date - r.due_date
               END AS rlate
          FROM rep r
    ), sc AS (
        SELECT f.*,
               jsonb_build_object(
                 'volume', CASE WHEN f.median6 > 0 THEN round((100 * least(1, f.events / f.median6))::numeric, 1) END,
                 'silence', CASE WHEN f.is_hourly THEN
                     round((100 * greatest(0, 1 - (f.covered_hours - f.active_hours) / 72.0))::numeric, 1) END,
                 'completeness', CASE WHEN f.events > 0 THEN
                     round((100.0 * (f.with_user + f.with_action + f.with_outcome + f.with_src_ip
                                     + f.with_target) / (5 * f.events))::numeric, 1) END,
                 'clock', CASE WHEN f.events > 0 THEN
                     round((100 * greatest(0, 1 - (f.future + f.late)::numeric / f.events)), 1) END,
                 'sequence', CASE WHEN f.seq_events > 0 THEN
                     round((100 * greatest(0, 1 - (f.seq_missing + f.seq_repeats + f.seq_reorders)::numeric
                                            / (f.seq_events + f.seq_missing))), 1) END,
                 'chain', CASE WHEN f.chain_events > 0 THEN
                     round((100 * greatest(0, 1 - (f.breaks + f.forks)::numeric / f.chain_events)), 1) END,
                 'rejects', CASE WHEN f.items > 0 THEN
                     round((100 * greatest(0, 1 - (f.quarantined + f.dups)::numeric / f.items)), 1) END,
                 'reporting', CASE f.rstatus WHEN 'on_time' THEN 100.0
                     WHEN 'late' THEN greatest(0, 100 - 10 * f.rlate)::numeric
                     WHEN 'missing' THEN 0.0 END
               ) AS sub
          FROM fig f
    )
    SELECT s.name, to_char(s.month, 'YYYY-MM'), s.events::bigint,
           s.median6, s.v_share,
           s.covered_hours, s.active_hours, s.is_hourly,
           CASE WHEN s.is_hourly THEN s.covered_hours - s.active_hours END,
           s.s_user, s.s_action, s.s_outcome, s.s_src_ip, s.s_target,
           s.p50, s.p99,
           s.future::bigint, CASE WHEN s.events > 0 THEN s.future::double precision / s.events END,
           s.late::bigint, CASE WHEN s.events > 0 THEN s.late::double precision / s.events END,
           s.seq_events::bigint, s.seq_gaps::bigint, s.seq_missing::bigint,
           s.seq_repeats::bigint, s.seq_reorders::bigint,
           s.chain_events::bigint, s.starts::bigint, s.breaks::bigint, s.forks::bigint,
           s.items::bigint, s.quarantined::bigint, s.dups::bigint,
           CASE WHEN s.items > 0 THEN s.quarantined::double precision / s.items END,
           CASE WHEN s.items > 0 THEN s.dups::double precision / s.items END,
           CASE WHEN s.due_date IS NOT NULL THEN (s.due_date + 1)::timestamp AT TIME ZONE v_tz END,
           s.report_at, s.rstatus, s.rlate,
           s.sub,
           (SELECT round(sum((v_w ->> k.key)::numeric * k.value::text::numeric)
                         / nullif(sum((v_w ->> k.key)::numeric), 0), 1)::double precision
              FROM jsonb_each(s.sub) k
             WHERE jsonb_typeof(k.value) = 'number')
      FROM sc s
     ORDER BY s.name, s.month;
END
$$;

-- The chain breaks and forks of one supplier and month, one row per event:
--   break  its chain.prev names no stored event of the supplier (or is not
--          64 hex digits: other says 'malformed');
--   fork   an earlier event names the same predecessor (other: that one).
CREATE FUNCTION bevis_quality_chain(p_supplier text, p_period text)
RETURNS TABLE (kind text, received_at timestamptz, submission_id bigint, item_no integer,
               source_event_id text, prev text, other text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    v_tz  text := current_setting('TimeZone');
    v_sp  integer;
    v_lo  timestamptz;
    v_hi  timestamptz;
    zero  bytea := '\x0000000000000000000000000000000000000000000000000000000000000000';
BEGIN
    IF p_period IS NULL OR p_period !~ '^[0-9]{4}-(0[1-9]|1[0-2])$' THEN
        RAISE EXCEPTION 'bevis: a period is YYYY-MM, not %', coalesce(p_period, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT sp.id INTO v_sp FROM supplier sp WHERE sp.name = p_supplier;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'bevis: no supplier named %', coalesce(p_supplier, 'NULL')
            USING ERRCODE = 'no_data_found', HINT = 'bevis supplier list shows them';
    END IF;
    v_lo := to_date(p_period, 'YYYY-MM')::timestamp AT TIME ZONE v_tz;
    v_hi := (to_date(p_period, 'YYYY-MM') + interval '1 month') AT TIME ZONE v_tz;
    RETURN QUERY
    SELECT x.kind, x.received_at, x.submission_id, x.item_no, e.source_event_id,
           x.prev, x.other
      FROM (
        SELECT 'break'::text AS kind, c.received_at, c.submission_id, c.item_no,
               encode(c.prev, 'hex') AS prev,
               CASE WHEN c.prev IS NULL THEN 'malformed' END AS other
          FROM event_chain c
         WHERE c.supplier_id = v_sp AND c.received_at >= v_lo AND c.received_at < v_hi
           AND (c.prev IS NULL
                OR c.prev <> zero AND NOT EXISTS (SELECT 1 FROM event_chain p
                                                   WHERE p.supplier_id = v_sp
                                                     AND p.sha256 = c.prev))
        UNION ALL
        SELECT 'fork', c.received_at, c.submission_id, c.item_no, encode(c.prev, 'hex'),
               (SELECT o.submission_id || ':' || o.item_no || ' ' || oe.source_event_id
                  FROM event_chain o
                  JOIN event oe ON oe.submission_id = o.submission_id AND oe.item_no = o.item_no
                 WHERE o.supplier_id = v_sp AND o.prev = c.prev
                   AND (o.submission_id, o.item_no) < (c.submission_id, c.item_no)
                 ORDER BY o.submission_id, o.item_no LIMIT 1)
          FROM event_chain c
         WHERE c.supplier_id = v_sp AND c.received_at >= v_lo AND c.received_at < v_hi
           AND c.prev <> zero
           AND EXISTS (SELECT 1 FROM event_chain o
                        WHERE o.supplier_id = v_sp AND o.prev = c.prev
                          AND (o.submission_id, o.item_no) < (c.submission_id, c.item_no))
      ) x
      JOIN event e ON e.submission_id = x.submission_id AND e.item_no = x.item_no
     ORDER BY x.submission_id, x.item_no, x.kind;
END
$$;

-- ---- privileges -------------------------------------------------------------------

REVOKE ALL ON quality_hour, quality_lag, quality_seq_state, quality_seq_gap, quality_seq_fill,
    event_chain FROM PUBLIC;
-- The ISAM and the auditor read every table (docs/ROLES.md); only the
-- functions write these.
GRANT SELECT ON quality_hour, quality_lag, quality_seq_state, quality_seq_gap, quality_seq_fill,
    event_chain TO bevis_isam, bevis_auditor;
REVOKE EXECUTE ON FUNCTION
    bevis_quality_seq_rows(bigint[]),
    bevis_quality_add(bigint[]),
    bevis_quality_rebuild(),
    bevis_quality_weights(jsonb),
    bevis_quality(text, text, text, jsonb, jsonb, timestamptz),
    bevis_quality_chain(text, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bevis_quality_add(bigint[]) TO bevis_ingest;
-- bevisd exports the current month's figures on /metrics.
GRANT EXECUTE ON FUNCTION
    bevis_quality_weights(jsonb),
    bevis_quality(text, text, text, jsonb, jsonb, timestamptz)
    TO bevis_ingest, bevis_isam, bevis_auditor;
GRANT EXECUTE ON FUNCTION bevis_quality_chain(text, text) TO bevis_isam, bevis_auditor;
GRANT EXECUTE ON FUNCTION bevis_quality_rebuild() TO bevis_isam;

-- The summaries of what is already stored (a DO block: a migration returns
-- no rows).
DO $$ BEGIN PERFORM bevis_quality_rebuild(); END $$;
