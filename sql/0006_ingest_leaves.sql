-- 0006_ingest_leaves: bevisd may append submission leaves only.
-- With EXECUTE on ledger_append the ingest role could append a leaf of any
-- kind (a forged redaction or key change), and since the ledger is
-- append-only, verify would then fail for good. The daemon now goes through
-- this narrower function, which checks that each leaf is the kind-1 leaf of
-- a submission that exists and has none yet.
CREATE FUNCTION ledger_append_submissions(p_data bytea[], p_submissions bigint[])
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    n integer := coalesce(array_length(p_data, 1), 0);
    bad bigint;
BEGIN
    IF n = 0 OR n IS DISTINCT FROM array_length(p_submissions, 1) THEN
        RAISE EXCEPTION 'bevis: ledger_append_submissions needs one submission id per leaf'
            USING ERRCODE = '22023';
    END IF;
    SELECT u.s INTO bad
      FROM unnest(p_data, p_submissions) AS u(d, s)
     WHERE u.s IS NULL
        OR substring(u.d FROM 1 FOR 5) <> '\x42564c3101'::bytea
        OR substring(u.d FROM 6 FOR 8) <> int8send(u.s)
        OR NOT EXISTS (SELECT 1 FROM submission WHERE id = u.s)
        OR EXISTS (SELECT 1 FROM ledger_leaf l
                    WHERE l.submission_id = u.s AND l.kind = 'submission')
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'bevis: not the first submission leaf of an existing submission (%)', bad
            USING ERRCODE = '22023';
    END IF;
    RETURN ledger_append(array_fill('submission'::text, ARRAY[n]), p_data, p_submissions);
END
$$;

REVOKE EXECUTE ON FUNCTION ledger_append_submissions(bytea[], bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger_append_submissions(bytea[], bigint[]) TO bevis_ingest;
REVOKE EXECUTE ON FUNCTION ledger_append(text[], bytea[], bigint[]) FROM bevis_ingest;
