-- 0001_core: suppliers, submissions (the raw bodies), normalized events and
-- the quarantine. DESIGN.md outlines the model; this file is the truth.

CREATE TABLE supplier (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE
                CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    public_key  text UNIQUE,          -- CURVE public key (Z85), later
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Every request body exactly as received. Ids come from the sequence in
-- batches, so they are unique but may have gaps.
CREATE SEQUENCE submission_id_seq AS bigint;
CREATE TABLE submission (
    id            bigint PRIMARY KEY DEFAULT nextval('submission_id_seq'),
    supplier_id   integer REFERENCES supplier (id), -- authenticated sender; NULL in dev mode
    request_id    text NOT NULL,
    content_type  text NOT NULL,
    received_at   timestamptz NOT NULL,
    sha256        bytea NOT NULL CHECK (length(sha256) = 32),
    body          bytea,
    item_count    integer NOT NULL,
    -- A resent request id is answered from here, never stored twice.
    CONSTRAINT submission_request_key UNIQUE NULLS NOT DISTINCT (supplier_id, request_id)
);
ALTER SEQUENCE submission_id_seq OWNED BY submission.id;
-- Bodies are stored as sent: compressing them costs more ingest time than
-- the disk it saves (see ../shared/PERF.md).
ALTER TABLE submission ALTER COLUMN body SET STORAGE EXTERNAL;
CREATE INDEX submission_received_at_idx ON submission (received_at);

-- One row per accepted item. The raw text is not copied: raw_offset and
-- raw_length (bytes, 0-based) point into submission.body. There is no
-- foreign key to submission: the writer sets it from the same transaction,
-- and a per-row foreign-key check would cost more than the insert itself.
CREATE TABLE event (
    submission_id    bigint NOT NULL,
    item_no          integer NOT NULL,
    supplier_id      integer NOT NULL,
    source_event_id  text NOT NULL,
    occurred_at      timestamptz NOT NULL,
    severity         smallint CHECK (severity BETWEEN 0 AND 6),
    category         text,
    action           text,
    outcome          text,
    actor_user       text,
    src_ip           inet,
    target           text,
    message          text,
    personal_data    boolean NOT NULL DEFAULT false,
    seq              bigint,
    -- json, not jsonb: stored as normalized, byte for byte, so the ledger's
    -- digest of the event rows can be recomputed from what is stored.
    attrs            json,
    raw_offset       integer NOT NULL,
    raw_length       integer NOT NULL,
    -- Where the event came from. Submission ids grow, so inserts land at the
    -- right edge of this index; verify reads events in this order.
    PRIMARY KEY (submission_id, item_no),
    CONSTRAINT event_source_key UNIQUE (supplier_id, source_event_id)
);
CREATE INDEX event_occurred_at_idx ON event (occurred_at);

-- Items that could not be accepted, with the reason. The raw item is the
-- byte range in the submission body (see quarantine_item).
CREATE TABLE quarantine (
    submission_id  bigint NOT NULL REFERENCES submission (id),
    item_no        integer NOT NULL,
    reason         text NOT NULL,
    raw_offset     integer NOT NULL,
    raw_length     integer NOT NULL,
    PRIMARY KEY (submission_id, item_no)
);

CREATE VIEW quarantine_item AS
SELECT q.submission_id, q.item_no, s.received_at, s.request_id,
       sp.name AS supplier, q.reason,
       substring(s.body FROM q.raw_offset + 1 FOR q.raw_length) AS raw
  FROM quarantine q
  JOIN submission s ON s.id = q.submission_id
  LEFT JOIN supplier sp ON sp.id = s.supplier_id;

-- The events with what a reader wants next to them: supplier name, receipt
-- time and the raw item.
CREATE VIEW event_view AS
SELECT e.*, sp.name AS supplier, s.received_at,
       substring(s.body FROM e.raw_offset + 1 FOR e.raw_length) AS raw
  FROM event e
  JOIN supplier sp ON sp.id = e.supplier_id
  JOIN submission s ON s.id = e.submission_id;
