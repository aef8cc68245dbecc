-- Acknowledged events are deleted by key: each application remembers the highest sequence
-- number whose acknowledged events are already gone, so the cleanup deletes exactly the
-- range (purged_seq, acked_max_seq] of that application through the events primary key
-- instead of scanning the whole log. Sequence numbers are gap-free, so that range is never
-- empty while purged_seq < acked_max_seq.
ALTER TABLE applications ADD COLUMN purged_seq INTEGER NOT NULL DEFAULT 0;
-- Existing rows: everything below the first event still stored is gone already.
UPDATE applications SET purged_seq = MIN(acked_max_seq,
    COALESCE((SELECT MIN(seq) FROM events WHERE events.app_id = applications.id) - 1, acked_max_seq));
-- The applications with cleanup to do: small (only those acknowledged since the last pass).
CREATE INDEX applications_unpurged ON applications (id) WHERE acked_max_seq > purged_seq;
