-- Acknowledged events are deleted by key: each application remembers the highest sequence
-- number whose acknowledged events are already gone, so the cleanup deletes exactly the
-- range (purged_seq, acked_max_seq] of that application through the events primary key
-- instead of scanning the whole log. Existing rows start at 0: their first pass deletes
-- whatever acknowledged events are left, range by range.
ALTER TABLE applications ADD COLUMN purged_seq INTEGER NOT NULL DEFAULT 0;
-- The applications with cleanup to do: small (only those acknowledged since the last pass).
CREATE INDEX applications_unpurged ON applications (id) WHERE acked_max_seq > purged_seq;
