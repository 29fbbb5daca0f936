-- 0012_rules: rules over events (docs/RULES.md). A rule is versioned: every
-- change (bevis_rule_add, bevis_rule_disable) is a new row of rule and a
-- ledger leaf (kind 6, docs/LEDGER.md), so an auditor sees which rule, in
-- which version, opened an incident. bevisd follows the committed ledger
-- in order (daemon/rules.c) and calls bevis_rules_evaluate(), which opens
-- or extends potential incidents through the incidents write path of
-- 0008 and moves the position forward in the same transaction.

-- ---- the ledger and decision vocabularies --------------------------------------

-- Replaced whole, as the other migrations that add a kind do, so that the
-- order in which they run does not matter.
ALTER TABLE ledger_leaf DROP CONSTRAINT IF EXISTS ledger_leaf_kind_check;
ALTER TABLE ledger_leaf ADD CONSTRAINT ledger_leaf_kind_check
    CHECK (kind IN ('submission', 'redaction', 'supplier_key', 'decision', 'link',
                    'custody', 'rule'));
ALTER TABLE decision DROP CONSTRAINT IF EXISTS decision_kind_check;
ALTER TABLE decision ADD CONSTRAINT decision_kind_check
    CHECK (kind IN ('open', 'triage', 'reopen', 'link', 'unlink', 'merge', 'unmerge',
                    'merged_from', 'unmerged_from', 'report_entry_changed',
                    'report_entry_removed', 'rule_match'));

-- ---- rules ---------------------------------------------------------------------

-- Every version of every rule, append-only. spec is the canonical form
-- bevis_rule_spec() makes; its text is in the ledger leaf.
CREATE TABLE rule (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name      text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    version   integer NOT NULL CHECK (version >= 1),
    enabled   boolean NOT NULL,
    spec      jsonb NOT NULL CHECK (jsonb_typeof(spec) = 'object'),
    actor     text NOT NULL CHECK (actor <> ''),
    at        timestamptz NOT NULL,
    leaf_idx  bigint NOT NULL UNIQUE,
    UNIQUE (name, version)
);

CREATE TRIGGER rule_append_only BEFORE UPDATE OR DELETE ON rule
    FOR EACH ROW EXECUTE FUNCTION bevis_append_only();
CREATE TRIGGER rule_no_truncate BEFORE TRUNCATE ON rule
    FOR EACH STATEMENT EXECUTE FUNCTION bevis_append_only();
ALTER TABLE rule ENABLE ALWAYS TRIGGER rule_append_only;
ALTER TABLE rule ENABLE ALWAYS TRIGGER rule_no_truncate;

-- The newest version of each rule.
CREATE VIEW rule_current AS
SELECT DISTINCT ON (name) * FROM rule ORDER BY name, version DESC;

-- Where evaluation stands: every ledger leaf up to leaf_idx has been
-- evaluated (-1: none). One row, moved only by bevis_rules_evaluate(), in
-- the transaction that writes what the evaluation found.
CREATE TABLE rule_position (
    one       boolean PRIMARY KEY DEFAULT true CHECK (one),
    leaf_idx  bigint NOT NULL CHECK (leaf_idx >= -1),
    events    bigint NOT NULL DEFAULT 0,	-- evaluated in all
    at        timestamptz NOT NULL DEFAULT now()
);
INSERT INTO rule_position (leaf_idx) VALUES (-1);

-- Every event a grouped rule matched, with its group's value: what a
-- threshold counts. The key keeps one event from counting twice for a rule.
CREATE TABLE rule_hit (
    rule_name      text NOT NULL,
    rule_id        bigint NOT NULL REFERENCES rule (id),
    grp            text NOT NULL,
    submission_id  bigint NOT NULL,
    item_no        integer NOT NULL,
    occurred_at    timestamptz NOT NULL,
    incident_id    bigint REFERENCES incident (id),
    PRIMARY KEY (rule_name, submission_id, item_no)
);
CREATE INDEX rule_hit_group_idx ON rule_hit (rule_name, grp, occurred_at);

-- The incidents each rule opened, per group, and the times of the first
-- and last event it linked: a later match within the window joins it.
CREATE TABLE rule_incident (
    incident_id  bigint PRIMARY KEY REFERENCES incident (id),
    rule_id      bigint NOT NULL REFERENCES rule (id),	-- the version that opened it
    rule_name    text NOT NULL,
    grp          text,
    first_at     timestamptz NOT NULL,
    last_at      timestamptz NOT NULL
);
CREATE INDEX rule_incident_group_idx ON rule_incident (rule_name, grp);

-- ---- the rule leaf (kind 6) --------------------------------------------------

-- "BVL1", kind 6, then: name (uint16 length + UTF-8), version (int4),
-- enabled (1 byte: 1 or 0), spec (uint16 + UTF-8, the jsonb's text form),
-- actor (uint16 + UTF-8), at (int8, microseconds since the Unix epoch).
-- Big-endian throughout.
CREATE FUNCTION bevis_rule_leaf(p_name text, p_version integer, p_enabled boolean,
                                p_spec jsonb, p_actor text, p_at timestamptz)
RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT convert_to('BVL1', 'UTF8') || '\x06'::bytea
        || bevis_leaf_str16(p_name) || int4send(p_version)
        || CASE WHEN p_enabled THEN '\x01'::bytea ELSE '\x00'::bytea END
        || bevis_leaf_str16(p_spec::text) || bevis_leaf_str16(p_actor)
        || int8send((extract(epoch FROM p_at) * 1000000)::bigint)
$$;

-- ---- what a rule says ----------------------------------------------------------

-- A JSON Pointer (RFC 6901) as a path for #>: "/a/b~1c/0" is {a,b/c,0}.
-- NULL when p is not a pointer (it must start with '/'; '~' only as ~0, ~1).
CREATE FUNCTION bevis_json_pointer_path(p text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE WHEN p ~ '^(/([^~/]|~[01])*)+$'
                THEN ARRAY(SELECT replace(replace(s, '~1', '/'), '~0', '~')
                             FROM unnest(string_to_array(substr(p, 2), '/'))
                                  WITH ORDINALITY AS u(s, n)
                            ORDER BY n)
           END
$$;

CREATE FUNCTION bevis_rule_group_fields() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['actor.user', 'src.ip', 'target']
$$;

-- Checks p_spec, the options of `bevis rule add` as a JSON object of
-- strings, and returns its canonical form, or raises a precise error.
--   supplier, category, action, outcome: equal to the event's field
--   severity_min: 0-6, the event's severity is at least this
--   personal_data: yes|no
--   attrs: an array of "POINTER=VALUE", the attribute's text equals VALUE
--   count, group_by, within: at least count events (default 1) with the
--     same group_by value (actor.user, src.ip, target) within the window
--     within ("30s", "5m", "2h", "1d"); without group_by each matching
--     event opens an incident of its own
--   title: the title of the incidents the rule opens
CREATE FUNCTION bevis_rule_spec(p_spec jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    known  constant text[] := ARRAY['supplier', 'category', 'action', 'outcome',
                                    'severity_min', 'personal_data', 'attrs', 'count',
                                    'group_by', 'within', 'title'];
    k      text;
    s      jsonb := '{}';
    v      text;
    a      text;
    ptr    text;
    attrs  jsonb := '[]';
    n      bigint;
    m      text[];
BEGIN
    IF p_spec IS NULL OR jsonb_typeof(p_spec) <> 'object' THEN
        RAISE EXCEPTION 'bevis: a rule is a JSON object of its options'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR k IN SELECT jsonb_object_keys(p_spec) LOOP
        IF NOT k = ANY (known) THEN
            RAISE EXCEPTION 'bevis: % is not an option of a rule', k
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Options: ' || array_to_string(known, ', ');
        END IF;
        IF k <> 'attrs' AND jsonb_typeof(p_spec -> k) <> 'string' THEN
            RAISE EXCEPTION 'bevis: rule option % must be a string', k
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    FOREACH k IN ARRAY ARRAY['supplier', 'category', 'action', 'outcome', 'title'] LOOP
        v := p_spec ->> k;
        IF v IS NULL THEN
            CONTINUE;
        END IF;
        IF btrim(v) = '' OR char_length(v) > 200 THEN
            RAISE EXCEPTION 'bevis: rule option % must be 1 to 200 characters', k
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        s := s || jsonb_build_object(k, v);
    END LOOP;
    IF s ? 'supplier' AND NOT EXISTS (SELECT 1 FROM supplier WHERE name = s ->> 'supplier')
    THEN
        RAISE EXCEPTION 'bevis: no supplier %', s ->> 'supplier'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'bevis supplier list shows the suppliers.';
    END IF;
    v := p_spec ->> 'severity_min';
    IF v IS NOT NULL THEN
        IF v !~ '^[0-6]$' THEN
            RAISE EXCEPTION 'bevis: severity_min must be 0 to 6, not %', v
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        s := s || jsonb_build_object('severity_min', v::integer);
    END IF;
    v := lower(p_spec ->> 'personal_data');
    IF v IS NOT NULL THEN
        IF v NOT IN ('yes', 'no') THEN
            RAISE EXCEPTION 'bevis: personal_data must be yes or no, not %',
                p_spec ->> 'personal_data'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        s := s || jsonb_build_object('personal_data', v = 'yes');
    END IF;
    IF p_spec ? 'attrs' THEN
        IF jsonb_typeof(p_spec -> 'attrs') <> 'array' THEN
            RAISE EXCEPTION 'bevis: rule option attrs must be an array of POINTER=VALUE'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        FOR a IN SELECT x FROM jsonb_array_elements_text(p_spec -> 'attrs') x LOOP
            ptr := split_part(a, '=', 1);
            IF position('=' IN a) = 0 OR bevis_json_pointer_path(ptr) IS NULL THEN
                RAISE EXCEPTION 'bevis: attribute match % is not POINTER=VALUE with a '
                                'JSON Pointer such as /device/os=Windows', a
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'A JSON Pointer (RFC 6901) starts with /; write ~1 '
                                 'for / and ~0 for ~ inside a name.';
            END IF;
            attrs := attrs || jsonb_build_array(jsonb_build_object(
                'pointer', ptr, 'value', substr(a, length(ptr) + 2)));
        END LOOP;
        IF jsonb_array_length(attrs) > 0 THEN
            s := s || jsonb_build_object('attrs', attrs);
        END IF;
    END IF;
    IF NOT (s ?| ARRAY['supplier', 'category', 'action', 'outcome', 'severity_min',
                       'personal_data', 'attrs']) THEN
        RAISE EXCEPTION 'bevis: a rule must match on something: supplier, category, '
                        'action, outcome, severity_min, personal_data or attrs'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v := p_spec ->> 'count';
    IF v IS NOT NULL THEN
        IF v !~ '^[0-9]{1,6}$' OR v::integer < 1 THEN
            RAISE EXCEPTION 'bevis: count must be a whole number from 1 to 999999, not %', v
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        s := s || jsonb_build_object('count', v::integer);
    END IF;
    v := p_spec ->> 'group_by';
    IF v IS NOT NULL THEN
        IF NOT v = ANY (bevis_rule_group_fields()) THEN
            RAISE EXCEPTION 'bevis: group_by must be one of %, not %',
                array_to_string(bevis_rule_group_fields(), ', '), v
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        s := s || jsonb_build_object('group_by', v);
    END IF;
    v := p_spec ->> 'within';
    IF v IS NOT NULL THEN
        m := regexp_match(v, '^([0-9]{1,7})(s|m|h|d)$');
        IF m IS NULL THEN
            RAISE EXCEPTION 'bevis: within must be a number and s, m, h or d '
                            '(such as 5m), not %', v
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        n := m[1]::bigint * CASE m[2] WHEN 's' THEN 1 WHEN 'm' THEN 60
                                      WHEN 'h' THEN 3600 ELSE 86400 END;
        IF n < 1 OR n > 31 * 86400 THEN
            RAISE EXCEPTION 'bevis: within must be from 1 second to 31 days, not %', v
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        s := s || jsonb_build_object('window_s', n);
    END IF;
    IF coalesce((s ->> 'count')::integer, 1) > 1 AND NOT s ? 'group_by' THEN
        RAISE EXCEPTION 'bevis: a count above 1 needs group_by: the events counted '
                        'together share its value'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF s ? 'group_by' AND NOT s ? 'window_s' THEN
        RAISE EXCEPTION 'bevis: group_by needs within: the window in which the '
                        'events of a group count together'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF s ? 'window_s' AND NOT s ? 'group_by' THEN
        RAISE EXCEPTION 'bevis: within needs group_by'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF s ? 'group_by' AND NOT s ? 'count' THEN
        s := s || '{"count": 1}';
    END IF;
    IF octet_length(s::text) > 8000 THEN
        RAISE EXCEPTION 'bevis: the rule is too long (% bytes; at most 8000)',
            octet_length(s::text)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN s;
END
$$;

-- Writes version n + 1 of rule p_name. Internal.
CREATE FUNCTION bevis_rule_write(p_name text, p_enabled boolean, p_spec jsonb)
RETURNS rule
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_actor  text := session_user;
    v_at     timestamptz := clock_timestamp();
    r        rule;
BEGIN
    r.name := p_name;
    r.version := coalesce((SELECT max(version) FROM rule WHERE name = p_name), 0) + 1;
    r.enabled := p_enabled;
    r.spec := p_spec;
    r.actor := v_actor;
    r.at := v_at;
    r.leaf_idx := ledger_append(ARRAY['rule'],
                                ARRAY[bevis_rule_leaf(r.name, r.version, r.enabled,
                                                      r.spec, r.actor, r.at)],
                                ARRAY[NULL::bigint]);
    INSERT INTO rule (name, version, enabled, spec, actor, at, leaf_idx)
    VALUES (r.name, r.version, r.enabled, r.spec, r.actor, r.at, r.leaf_idx)
    RETURNING * INTO r;
    RETURN r;
END
$$;

-- Adds rule p_name, or a new version of it (enabled) that replaces the
-- one before. The actor is session_user. Returns the new version's row.
CREATE FUNCTION bevis_rule_add(p_name text, p_spec jsonb) RETURNS rule
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    s    jsonb;
    cur  rule;
BEGIN
    IF p_name IS NULL OR p_name !~ '^[a-z0-9][a-z0-9._-]{0,62}$' THEN
        RAISE EXCEPTION 'bevis: ''%'' is not a rule name', coalesce(p_name, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A rule name is 1 to 63 characters: lower case letters, '
                         'digits, ''.'', ''_'' and ''-'', starting with a letter or '
                         'a digit.';
    END IF;
    s := bevis_rule_spec(p_spec);
    -- One change of a rule at a time, so versions stay gapless.
    PERFORM pg_advisory_xact_lock(7341012, hashtext(p_name));
    SELECT * INTO cur FROM rule_current WHERE name = p_name;
    IF FOUND AND cur.enabled AND cur.spec = s THEN
        RAISE EXCEPTION 'bevis: rule % version % already says this', p_name, cur.version
            USING ERRCODE = 'unique_violation';
    END IF;
    RETURN bevis_rule_write(p_name, true, s);
END
$$;

-- Disables rule p_name: a new version, with the same spec, not enabled.
CREATE FUNCTION bevis_rule_disable(p_name text) RETURNS rule
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    cur  rule;
BEGIN
    PERFORM pg_advisory_xact_lock(7341012, hashtext(p_name));
    SELECT * INTO cur FROM rule_current WHERE name = p_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'bevis: no rule %', coalesce(p_name, 'NULL')
            USING ERRCODE = 'no_data_found',
                  HINT = 'bevis rule list shows the rules.';
    END IF;
    IF NOT cur.enabled THEN
        RAISE EXCEPTION 'bevis: rule % is already disabled (version %)', p_name,
            cur.version
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    RETURN bevis_rule_write(p_name, false, cur.spec);
END
$$;

-- ---- evaluation ------------------------------------------------------------------

-- Whether event attributes p_attrs hold every POINTER=VALUE of p_match.
-- (No SET clause, here and in bevis_json_pointer_path, so that the planner
-- can inline them: a SET costs a configuration save and restore per row.)
CREATE FUNCTION bevis_rule_attrs_match(p_attrs json, p_match jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_match IS NULL
        OR (p_attrs IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(p_match) m
                             WHERE (p_attrs::jsonb #>> bevis_json_pointer_path(m ->> 'pointer'))
                                   IS DISTINCT FROM m ->> 'value'))
$$;

-- Links the events p_events ({"event": "SUPPLIER:ID"} targets) to incident
-- p_ref for rule version r: a rule_match decision naming the rule, its
-- version and the group, then a link decision for each event.
CREATE FUNCTION bevis_rule_link(p_ref text, r rule, p_grp text, p_events jsonb)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_inc  incident;
    v_why  text := format('rule %s version %s', r.name, r.version);
BEGIN
    SELECT * INTO v_inc FROM incident WHERE ref = p_ref FOR UPDATE;
    PERFORM bevis_incident_record(v_inc, NULL, 'rule_match', '{}'::jsonb,
                                  jsonb_build_object('rule_match', jsonb_build_object(
                                      'rule', r.name, 'version', r.version,
                                      'group_by', r.spec -> 'group_by',
                                      'group', p_grp,
                                      'events', jsonb_array_length(p_events))),
                                  v_why);
    SELECT * INTO v_inc FROM incident WHERE ref = p_ref;
    PERFORM bevis_incident_links(v_inc, 'link', p_events, v_why);
END
$$;

-- Opens a potential incident for rule version r and links p_events.
CREATE FUNCTION bevis_rule_open(r rule, p_grp text, p_events jsonb, p_supplier text,
                                p_first timestamptz, p_last timestamptz)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_n      integer := jsonb_array_length(p_events);
    v_title  text := left(coalesce(r.spec ->> 'title', 'Rule ' || r.name)
                          || CASE WHEN p_grp IS NULL THEN ''
                                  ELSE format(' (%s %s)', r.spec ->> 'group_by', p_grp) END,
                          500);
    v_ref    text;
BEGIN
    v_ref := bevis_incident_open(
        jsonb_build_object('title', v_title,
                           'description', format('Opened by rule %s version %s: %s '
                                                 'matching event%s%s.', r.name, r.version,
                                                 v_n, CASE WHEN v_n = 1 THEN '' ELSE 's' END,
                                                 CASE WHEN p_grp IS NULL THEN ''
                                                      ELSE format(' with %s = %s',
                                                                  r.spec ->> 'group_by',
                                                                  p_grp) END),
                           'supplier', p_supplier, 'occurred_at', p_first),
        '[]'::jsonb, format('rule %s version %s', r.name, r.version));
    PERFORM bevis_rule_link(v_ref, r, p_grp, p_events);
    INSERT INTO rule_incident (incident_id, rule_id, rule_name, grp, first_at, last_at)
    SELECT id, r.id, r.name, p_grp, p_first, p_last FROM incident WHERE ref = v_ref;
    RETURN (SELECT id FROM incident WHERE ref = v_ref);
END
$$;

-- A rule version as the evaluator compares it: its spec unpacked into
-- typed fields once per batch, so that matching an event costs plain
-- comparisons, not jsonb lookups.
CREATE TYPE bevis_rule_test AS (
    r              rule,
    supplier_id    integer,
    category       text,
    action         text,
    outcome        text,
    severity_min   smallint,
    personal_data  boolean,
    attrs          jsonb,
    group_by       text,
    win            interval
);

CREATE FUNCTION bevis_rule_test(r rule) RETURNS bevis_rule_test
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT ROW(r, (SELECT id FROM supplier WHERE name = r.spec ->> 'supplier'),
               r.spec ->> 'category', r.spec ->> 'action', r.spec ->> 'outcome',
               (r.spec ->> 'severity_min')::smallint,
               (r.spec ->> 'personal_data')::boolean, r.spec -> 'attrs',
               r.spec ->> 'group_by',
               make_interval(secs => (r.spec ->> 'window_s')::double precision)
              )::bevis_rule_test
$$;

-- The matches of the rules p_tests among the events of the submissions
-- p_subs (whose leaves are p_idx): each with the rule's row, the event, its
-- group's value (NULL for a rule without group_by) and the rule's window.
-- Internal.
CREATE TYPE bevis_rule_match AS (
    r                rule,
    idx              bigint,
    submission_id    bigint,
    item_no          integer,
    occurred_at      timestamptz,
    supplier         text,
    source_event_id  text,
    grp              text,
    win              interval
);

CREATE FUNCTION bevis_rule_matches(p_idx bigint[], p_subs bigint[],
                                   p_tests bevis_rule_test[])
RETURNS SETOF bevis_rule_match
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT t.r, b.idx, e.submission_id, e.item_no, e.occurred_at, sp.name,
           e.source_event_id, g.v, t.win
      FROM event e
      JOIN unnest(p_idx, p_subs) b(idx, submission_id) ON b.submission_id = e.submission_id
      CROSS JOIN unnest(p_tests) t
      JOIN supplier sp ON sp.id = e.supplier_id
      CROSS JOIN LATERAL (SELECT CASE t.group_by
                                     WHEN 'actor.user' THEN e.actor_user
                                     WHEN 'src.ip' THEN host(e.src_ip)
                                     WHEN 'target' THEN e.target END AS v) g
     -- = ANY: an index scan of the batch's events, whatever the join
     -- estimates say (a hash join would read the whole table).
     WHERE e.submission_id = ANY (p_subs)
       AND (t.supplier_id IS NULL OR e.supplier_id = t.supplier_id)
       AND (t.category IS NULL OR e.category = t.category)
       AND (t.action IS NULL OR e.action = t.action)
       AND (t.outcome IS NULL OR e.outcome = t.outcome)
       AND (t.severity_min IS NULL OR e.severity >= t.severity_min)
       AND (t.personal_data IS NULL OR e.personal_data = t.personal_data)
       AND (t.group_by IS NULL OR g.v IS NOT NULL)
       AND (t.attrs IS NULL OR bevis_rule_attrs_match(e.attrs, t.attrs))
$$;

-- Evaluates the enabled rules over the events of the next committed ledger
-- leaves after rule_position, at most p_max_leaves of them and no more
-- than it takes to reach p_max_events items (but at least one), in ledger
-- order (which is commit order: leaves are appended under one lock held to
-- COMMIT), and moves the position past them, all in the caller's
-- transaction. A second evaluator finds the position locked and returns
-- at once with nothing done. bevisd's evaluator (daemon/rules.c) is the
-- one caller; the actor of what it opens is its login.
CREATE FUNCTION bevis_rules_evaluate(p_max_leaves integer, p_max_events integer)
RETURNS TABLE (leaves integer, events bigint, matches bigint, opened integer,
               joined integer, leaf_idx bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    v_pos     bigint;
    v_last    bigint;
    m         record;
    r         rule;
    v_win     interval;
    v_inc     rule_incident;
    v_hits    jsonb;
    v_first   timestamptz;
    v_n       integer;
    v_idx     bigint[];
    v_subs    bigint[];
    v_tests   bevis_rule_test[];
    v_m       bevis_rule_match[];
BEGIN
    leaves := 0; events := 0; matches := 0; opened := 0; joined := 0;
    SELECT p.leaf_idx INTO v_pos FROM rule_position p FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        leaf_idx := NULL;
        RETURN NEXT;
        RETURN;
    END IF;
    SELECT coalesce(array_agg(l.idx ORDER BY l.idx), '{}'),
           coalesce(array_agg(l.submission_id ORDER BY l.idx), '{}')
      INTO v_idx, v_subs
      FROM (SELECT l1.idx, l1.submission_id
              FROM (SELECT l0.idx, l0.submission_id,
                           sum(coalesce(s.item_count, 0)) OVER (ORDER BY l0.idx)
                               - coalesce(s.item_count, 0) AS before
                      FROM (SELECT * FROM ledger_leaf x WHERE x.idx > v_pos
                             ORDER BY x.idx LIMIT greatest(p_max_leaves, 1)) l0
                      LEFT JOIN submission s ON s.id = l0.submission_id) l1
             -- The first leaf always; the next while the items before it
             -- are fewer than p_max_events.
             WHERE l1.idx = (SELECT min(x.idx) FROM ledger_leaf x WHERE x.idx > v_pos)
                OR l1.before < p_max_events) l;
    leaves := cardinality(v_idx);
    IF leaves = 0 THEN
        leaf_idx := v_pos;
        RETURN NEXT;
        RETURN;
    END IF;
    v_last := v_idx[leaves];
    -- The current version of each enabled rule.
    SELECT coalesce(array_agg(bevis_rule_test(r1) ORDER BY r1.name), '{}') INTO v_tests
      FROM rule r1 WHERE r1.id IN (SELECT rc.id FROM rule_current rc WHERE rc.enabled);
    SELECT count(*) INTO events FROM event e WHERE e.submission_id = ANY (v_subs);
    -- Every event a grouped rule matches is recorded at once, set-based;
    -- only the matches of a group that can open or join an incident go
    -- through the loop below, one by one.
    v_m := ARRAY(SELECT m0 FROM bevis_rule_matches(v_idx, v_subs, v_tests) m0);
    INSERT INTO rule_hit (rule_name, rule_id, grp, submission_id, item_no, occurred_at)
    SELECT (m0.r).name, (m0.r).id, m0.grp, m0.submission_id, m0.item_no, m0.occurred_at
      FROM unnest(v_m) m0
     WHERE m0.grp IS NOT NULL
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    matches := v_n;
    FOR m IN
        SELECT * FROM (
            SELECT m1.*, bool_or(m1.live) OVER (PARTITION BY (m1.r).name, m1.grp) AS hot
              FROM (SELECT m0.*,
                           m0.grp IS NULL
                           -- an open incident of the group that it could join
                           OR EXISTS (SELECT 1 FROM rule_incident ri
                                        JOIN incident i ON i.id = ri.incident_id
                                       WHERE ri.rule_name = (m0.r).name AND ri.grp = m0.grp
                                         AND i.status IN ('new', 'assessing', 'confirmed'))
                           -- or enough unlinked events of the group around it
                           OR (SELECT count(*) FROM (
                                   SELECT 1 FROM rule_hit h
                                    WHERE h.rule_name = (m0.r).name AND h.grp = m0.grp
                                      AND h.incident_id IS NULL
                                      AND h.occurred_at BETWEEN m0.occurred_at - m0.win
                                                            AND m0.occurred_at + m0.win
                                    LIMIT ((m0.r).spec ->> 'count')::integer) x)
                              >= ((m0.r).spec ->> 'count')::integer AS live
                      FROM unnest(v_m) m0) m1) m2
         WHERE m2.hot
         ORDER BY m2.idx, m2.item_no, (m2.r).name
    LOOP
        r := m.r;
        IF NOT r.spec ? 'group_by' THEN
            matches := matches + 1;
            PERFORM bevis_rule_open(r, NULL,
                jsonb_build_array(jsonb_build_object('event',
                    m.supplier || ':' || m.source_event_id)),
                m.supplier, m.occurred_at, m.occurred_at);
            opened := opened + 1;
            CONTINUE;
        END IF;
        v_win := m.win;
        -- Recorded above (or before: then by this rule's earlier version)
        -- and not yet linked by an incident opened in this loop.
        PERFORM 1 FROM rule_hit h
         WHERE h.rule_name = r.name AND h.submission_id = m.submission_id
           AND h.item_no = m.item_no AND h.rule_id = r.id AND h.incident_id IS NULL;
        IF NOT FOUND THEN
            CONTINUE;
        END IF;
        -- An open incident of this rule and group within the window: join it.
        SELECT ri.* INTO v_inc FROM rule_incident ri JOIN incident i ON i.id = ri.incident_id
         WHERE ri.rule_name = r.name AND ri.grp = m.grp
           AND i.status IN ('new', 'assessing', 'confirmed')
           AND m.occurred_at BETWEEN ri.first_at - v_win AND ri.last_at + v_win
         ORDER BY ri.incident_id DESC LIMIT 1;
        IF FOUND THEN
            PERFORM bevis_rule_link((SELECT ref FROM incident WHERE id = v_inc.incident_id),
                r, m.grp, jsonb_build_array(jsonb_build_object('event',
                    m.supplier || ':' || m.source_event_id)));
            UPDATE rule_incident SET first_at = least(first_at, m.occurred_at),
                                     last_at = greatest(last_at, m.occurred_at)
             WHERE incident_id = v_inc.incident_id;
            UPDATE rule_hit SET incident_id = v_inc.incident_id
             WHERE rule_name = r.name AND submission_id = m.submission_id
               AND item_no = m.item_no;
            joined := joined + 1;
            CONTINUE;
        END IF;
        -- Enough events of the group within the window: open one.
        SELECT count(*), min(h.occurred_at),
               jsonb_agg(jsonb_build_object('event', sp.name || ':' || e.source_event_id)
                         ORDER BY h.occurred_at, h.submission_id, h.item_no)
          INTO v_n, v_first, v_hits
          FROM rule_hit h
          JOIN event e ON e.submission_id = h.submission_id AND e.item_no = h.item_no
          JOIN supplier sp ON sp.id = e.supplier_id
         WHERE h.rule_name = r.name AND h.grp = m.grp AND h.incident_id IS NULL
           AND h.occurred_at BETWEEN m.occurred_at - v_win AND m.occurred_at;
        IF v_n >= (r.spec ->> 'count')::integer THEN
            v_inc.incident_id := bevis_rule_open(r, m.grp, v_hits, m.supplier, v_first,
                                                 m.occurred_at);
            UPDATE rule_hit SET incident_id = v_inc.incident_id
             WHERE rule_name = r.name AND grp = m.grp AND incident_id IS NULL
               AND occurred_at BETWEEN m.occurred_at - v_win AND m.occurred_at;
            opened := opened + 1;
        END IF;
    END LOOP;
    UPDATE rule_position p SET leaf_idx = v_last, events = p.events + bevis_rules_evaluate.events,
                             at = clock_timestamp();
    leaf_idx := v_last;
    RETURN NEXT;
END
$$;

-- How far evaluation lags behind the committed ledger: the events in the
-- submissions not yet evaluated, and the age of the oldest such leaf.
CREATE FUNCTION bevis_rules_lag(OUT events bigint, OUT seconds double precision,
                                OUT leaf_idx bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT (SELECT count(*) FROM event e
             WHERE e.submission_id = ANY (ARRAY(
                       SELECT l.submission_id FROM ledger_leaf l
                        WHERE l.idx > p.leaf_idx AND l.kind = 'submission'))),
           coalesce((SELECT extract(epoch FROM clock_timestamp() - min(l.appended_at))
                       FROM ledger_leaf l WHERE l.idx > p.leaf_idx), 0)::double precision,
           p.leaf_idx
      FROM rule_position p
$$;

-- ---- privileges ------------------------------------------------------------------

REVOKE ALL ON rule, rule_current, rule_position, rule_hit, rule_incident FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION
    bevis_rule_leaf(text, integer, boolean, jsonb, text, timestamptz),
    bevis_json_pointer_path(text), bevis_rule_group_fields(), bevis_rule_spec(jsonb),
    bevis_rule_write(text, boolean, jsonb), bevis_rule_add(text, jsonb),
    bevis_rule_disable(text), bevis_rule_attrs_match(json, jsonb),
    bevis_rule_link(text, rule, text, jsonb),
    bevis_rule_open(rule, text, jsonb, text, timestamptz, timestamptz),
    bevis_rule_matches(bigint[], bigint[], bevis_rule_test[]), bevis_rule_test(rule),
    bevis_rules_evaluate(integer, integer), bevis_rules_lag()
    FROM PUBLIC;
GRANT SELECT ON rule, rule_current, rule_position, rule_hit, rule_incident
    TO bevis_isam, bevis_auditor;
GRANT EXECUTE ON FUNCTION bevis_rule_leaf(text, integer, boolean, jsonb, text, timestamptz),
                          bevis_json_pointer_path(text), bevis_rules_lag()
    TO bevis_isam, bevis_auditor;
GRANT EXECUTE ON FUNCTION bevis_rule_add(text, jsonb), bevis_rule_disable(text)
    TO bevis_isam;
GRANT EXECUTE ON FUNCTION bevis_rules_evaluate(integer, integer), bevis_rules_lag()
    TO bevis_ingest;
