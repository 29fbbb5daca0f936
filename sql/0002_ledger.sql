-- 0002_ledger: one global, append-only Merkle log (RFC 9162) over every
-- submission and, later, every custody and triage record. docs/LEDGER.md
-- describes the leaf encoding and how to verify.

-- leaf_hash = SHA-256(0x00 || data). idx is gapless from 0.
CREATE TABLE ledger_leaf (
    idx            bigint PRIMARY KEY CHECK (idx >= 0),
    kind           text NOT NULL
                   CHECK (kind IN ('submission', 'redaction', 'supplier_key', 'decision', 'link')),
    data           bytea NOT NULL,
    hash           bytea NOT NULL CHECK (length(hash) = 32),
    submission_id  bigint,
    appended_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX ledger_leaf_submission_key ON ledger_leaf (submission_id)
    WHERE kind = 'submission';

-- Every complete perfect subtree: node (level, idx) covers the leaves
-- [idx * 2^level, (idx + 1) * 2^level), hash = SHA-256(0x01 || left || right).
-- Level 0 is ledger_leaf.hash. About one row per leaf, so any root or proof
-- needs at most 2 log2(n) lookups.
CREATE TABLE ledger_node (
    level  smallint NOT NULL CHECK (level > 0),
    idx    bigint NOT NULL,
    hash   bytea NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
);

-- Signed tree heads, as transparency-log checkpoints (docs/LEDGER.md).
CREATE TABLE tree_head (
    tree_size   bigint PRIMARY KEY,
    root        bytea NOT NULL CHECK (length(root) = 32),
    checkpoint  text NOT NULL,
    signed_at   timestamptz NOT NULL DEFAULT now()
);

-- The hash of a stored node or leaf; NULL when it does not exist.
CREATE FUNCTION ledger_node_hash(p_level integer, p_idx bigint) RETURNS bytea
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_level = 0
                THEN (SELECT hash FROM ledger_leaf WHERE idx = p_idx)
                ELSE (SELECT hash FROM ledger_node WHERE level = p_level AND idx = p_idx)
           END
$$;

-- Appends leaves in order and returns the index of the first. Positions are
-- assigned under a transaction-scoped advisory lock, so any number of
-- writers stay gapless; the lock is held until the caller commits, so call
-- this as the last step before COMMIT. Each append costs O(log n).
CREATE FUNCTION ledger_append(p_kinds text[], p_data bytea[], p_submissions bigint[])
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    first  bigint;
    n      bigint;
    i      bigint;
    lvl    integer;
    h      bytea;
    lefth  bytea;
BEGIN
    IF coalesce(array_length(p_data, 1), 0) = 0 THEN
        RETURN NULL;
    END IF;
    PERFORM pg_advisory_xact_lock(7341002);
    SELECT coalesce(max(idx) + 1, 0) INTO n FROM ledger_leaf;
    first := n;
    FOR j IN 1 .. array_length(p_data, 1) LOOP
        h := sha256('\x00'::bytea || p_data[j]);
        INSERT INTO ledger_leaf (idx, kind, data, hash, submission_id)
        VALUES (n, p_kinds[j], p_data[j], h, p_submissions[j]);
        -- Each time the new node is a right child, its parent is complete.
        i := n;
        lvl := 0;
        WHILE i % 2 = 1 LOOP
            lefth := ledger_node_hash(lvl, i - 1);
            IF lefth IS NULL THEN
                RAISE EXCEPTION 'ledger node (%, %) is missing', lvl, i - 1;
            END IF;
            h := sha256('\x01'::bytea || lefth || h);
            lvl := lvl + 1;
            i := i / 2;
            INSERT INTO ledger_node (level, idx, hash) VALUES (lvl, i, h);
        END LOOP;
        n := n + 1;
    END LOOP;
    RETURN first;
END
$$;

-- The RFC 9162 root (MTH) of the first p_size leaves, from the perfect
-- subtrees that make them up: largest first, folded from the right.
CREATE FUNCTION ledger_root(p_size bigint) RETURNS bytea
LANGUAGE plpgsql STABLE AS $$
DECLARE
    parts  bytea[] := '{}';
    off    bigint := 0;
    acc    bytea;
    h      bytea;
BEGIN
    IF p_size = 0 THEN
        RETURN sha256(''::bytea);
    END IF;
    FOR k IN REVERSE 62 .. 0 LOOP
        IF (p_size >> k) & 1 = 1 THEN
            h := ledger_node_hash(k, off >> k);
            IF h IS NULL THEN
                RAISE EXCEPTION 'ledger node (%, %) is missing', k, off >> k;
            END IF;
            parts := parts || h;
            off := off + (1::bigint << k);
        END IF;
    END LOOP;
    acc := parts[array_length(parts, 1)];
    FOR j IN REVERSE array_length(parts, 1) - 1 .. 1 LOOP
        acc := sha256('\x01'::bytea || parts[j] || acc);
    END LOOP;
    RETURN acc;
END
$$;
