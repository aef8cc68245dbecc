-- The body of an application's last delivered batch (9 KB on average in the join benchmark,
-- up to the batch limit) is rewritten on every delivery and goes to TOAST compressed. With
-- PostgreSQL's default compression, pglz, that compression was 2-3 % of the database's CPU
-- under load (docs/BENCHMARKS.md, issue 9). lz4 compresses it several times faster. It needs
-- PostgreSQL 14 built with lz4 (Debian's and the official images are); elsewhere the column
-- keeps pglz and everything works the same. Rows already stored keep their compression.
DO $$
BEGIN
    IF current_setting('server_version_num')::int >= 140000 THEN
        EXECUTE 'ALTER TABLE applications ALTER COLUMN batch_body SET COMPRESSION lz4';
    END IF;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available: batch bodies stay compressed with pglz';
END
$$;
