-- Issue 14, as the SQLite store's migration 0011 has it: notices of a meeting command whose
-- events are appended by a second save (the fan-out to everyone the command did not change;
-- `MeetingRecord::pending`), NULL when there are none. Whichever node loads the meeting next
-- completes them; the version check lets exactly one node do so.
ALTER TABLE meetings ADD COLUMN pending TEXT;
-- The housekeeping sweep finds them (`meetings_due`) through this small index.
CREATE INDEX meetings_pending ON meetings (id) WHERE pending IS NOT NULL;
