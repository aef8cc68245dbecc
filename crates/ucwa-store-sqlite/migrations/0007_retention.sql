-- Retention: from when a meeting is finished (computed by ucwa-core's
-- `Meeting::finished_at` on every save; NULL while someone is in it). Meetings finished
-- longer than the retention period ago are deleted in bounded chunks.
ALTER TABLE meetings ADD COLUMN finished_ms INTEGER;
-- Existing meetings: the same rule, with their creation standing in for the unknown moment
-- the last session left.
UPDATE meetings SET finished_ms = CASE
    WHEN EXISTS (SELECT 1 FROM meeting_sessions s WHERE s.meeting_id = meetings.id AND s.live = 1) THEN NULL
    WHEN ended = 1 OR kind = 'TwoParty' THEN created_ms
    ELSE MAX(created_ms, COALESCE(json_extract(settings, '$.expiration_ms'), created_ms))
END;
CREATE INDEX meetings_finished ON meetings (finished_ms) WHERE finished_ms IS NOT NULL;
