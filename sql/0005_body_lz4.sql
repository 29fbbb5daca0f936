-- 0005_body_lz4: request bodies compressed with lz4 after all.
-- Measured with make bench on these machines: uncompressed (STORAGE
-- EXTERNAL) bodies double what PostgreSQL writes, and lz4 costs less CPU
-- than that saves: bevis/copy 0.70-0.72 with lz4 against 0.62-0.63
-- without. pglz (the default) is slower still (../shared/PERF.md).
ALTER TABLE submission ALTER COLUMN body SET STORAGE EXTENDED;
ALTER TABLE submission ALTER COLUMN body SET COMPRESSION lz4;
