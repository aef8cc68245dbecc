-- Notices of a meeting command whose events are appended by a second save (the fan-out to
-- everyone the command did not change; `MeetingRecord::pending`). NULL when there are none.
ALTER TABLE meetings ADD COLUMN pending TEXT;
-- The housekeeping sweep finds them (`meetings_due`) through this small index.
CREATE INDEX meetings_pending ON meetings (id) WHERE pending IS NOT NULL;
