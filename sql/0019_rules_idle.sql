-- 0019_rules_idle: the rules evaluator costs nothing per batch while no
-- rule is enabled, and its lag is cheap to read (docs/RULES.md, "The
-- evaluator"). Measured in make bench: with no rule enabled, evaluating
-- every batch anyway, and counting the events behind the position after
-- each one (bevis_rules_lag read every unevaluated event: half a second
-- with 200,000 of them), cost PostgreSQL more CPU than the ingest itself.

-- ---- a rule change wakes the evaluator ---------------------------------------------

-- bevisd's evaluator sleeps on this channel while no rule is enabled
-- (it no longer listens to bevis_ledger then, which fires on every
-- commit). Delivered at COMMIT, not at all on ROLLBACK.
CREATE FUNCTION bevis_rules_notify() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    PERFORM pg_notify('bevis_rules', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER rule_notify AFTER INSERT ON rule
    FOR EACH STATEMENT EXECUTE FUNCTION bevis_rules_notify();
ALTER TABLE rule ENABLE ALWAYS TRIGGER rule_notify;

-- ---- one step of the evaluator -----------------------------------------------------

-- What bevisd calls instead of bevis_rules_evaluate(): the same, with two
-- cheap cases first, both in the caller's transaction.
--  * No rule enabled: the position moves to the end of the committed
--    ledger and nothing is read per event. That is what evaluating those
--    leaves with no rule would have done (nothing matches), but for the
--    events count of rule_position, which counts evaluated events only.
--  * The position is before the leaf of the oldest enabled rule version:
--    it moves to just before that leaf. No enabled rule existed when
--    those leaves were committed, so none applies to them, however late
--    the evaluator comes to them (bevisd with rules = off for a while, or
--    an evaluator that slept while no rule was enabled).
-- So a rule applies to the events committed after its version was
-- written, while it is enabled. rules is the number of enabled rules;
-- leaves counts skipped leaves too; leaf_idx and rules are NULL when
-- another evaluator holds the position.
CREATE FUNCTION bevis_rules_step(p_max_leaves integer, p_max_events integer)
RETURNS TABLE (leaves integer, events bigint, matches bigint, opened integer,
               joined integer, leaf_idx bigint, rules integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_pos    bigint;
    v_first  bigint;
    v_end    bigint;
    v_rules  integer;
    v_skip   integer := 0;
BEGIN
    -- Nothing committed past the position: answer without locking it, so
    -- that the step after a catch-up writes nothing and its COMMIT waits
    -- for no WAL flush. (Another evaluator only moves it forward.)
    SELECT p.leaf_idx INTO v_pos FROM rule_position p;
    IF NOT EXISTS (SELECT 1 FROM ledger_leaf l WHERE l.idx > v_pos) THEN
        RETURN QUERY SELECT 0, 0::bigint, 0::bigint, 0, 0, v_pos,
                            (SELECT count(*)::integer FROM rule_current rc WHERE rc.enabled);
        RETURN;
    END IF;
    SELECT p.leaf_idx INTO v_pos FROM rule_position p FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 0, 0::bigint, 0::bigint, 0, 0, NULL::bigint, NULL::integer;
        RETURN;
    END IF;
    -- One statement, so one snapshot: a rule committed after it is not
    -- seen, and neither is any leaf after that rule's (leaves are
    -- appended under one lock held to COMMIT).
    SELECT (SELECT count(*) FROM rule_current rc WHERE rc.enabled),
           (SELECT min(rc.leaf_idx) FROM rule_current rc WHERE rc.enabled),
           (SELECT max(l.idx) FROM ledger_leaf l)
      INTO v_rules, v_first, v_end;
    IF v_rules = 0 THEN
        IF v_end > v_pos THEN
            UPDATE rule_position p SET leaf_idx = v_end, at = clock_timestamp();
            v_skip := (v_end - v_pos)::integer;
            v_pos := v_end;
        END IF;
        RETURN QUERY SELECT v_skip, 0::bigint, 0::bigint, 0, 0, v_pos, 0;
        RETURN;
    END IF;
    IF v_pos < v_first - 1 THEN
        UPDATE rule_position p SET leaf_idx = v_first - 1, at = clock_timestamp();
        v_skip := (v_first - 1 - v_pos)::integer;
    END IF;
    -- bevis_rules_evaluate locks the row again (this transaction holds it)
    -- and reads the position as moved.
    RETURN QUERY SELECT e.leaves + v_skip, e.events, e.matches, e.opened, e.joined,
                        e.leaf_idx, v_rules
                   FROM bevis_rules_evaluate(p_max_leaves, p_max_events) e;
END
$$;

-- ---- the lag, without counting events ----------------------------------------------

-- The same columns as before, but events is now the items of the
-- submissions not yet evaluated (submission.item_count: their events, and
-- any quarantined or duplicate items among them), read from one row per
-- leaf instead of one per event: 0 exactly when nothing is left.
CREATE OR REPLACE FUNCTION bevis_rules_lag(OUT events bigint, OUT seconds double precision,
                                           OUT leaf_idx bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT coalesce((SELECT sum(s.item_count) FROM ledger_leaf l
                       JOIN submission s ON s.id = l.submission_id
                      WHERE l.idx > p.leaf_idx AND l.kind = 'submission'), 0)::bigint,
           coalesce((SELECT extract(epoch FROM clock_timestamp() - min(l.appended_at))
                       FROM ledger_leaf l WHERE l.idx > p.leaf_idx), 0)::double precision,
           p.leaf_idx
      FROM rule_position p
$$;

REVOKE EXECUTE ON FUNCTION bevis_rules_step(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bevis_rules_step(integer, integer) TO bevis_ingest;
