-- Meetings: the aggregate header. Sessions live in their own rows so a command that moves
-- one participant rewrites one row, not a thousand.
CREATE TABLE meetings (
    id                TEXT PRIMARY KEY,      -- onlineMeetingId
    organizer_uri     TEXT NOT NULL,
    settings          TEXT NOT NULL,         -- MeetingSettings as JSON
    ended             INTEGER NOT NULL,
    version           INTEGER NOT NULL,
    settings_revision INTEGER NOT NULL,
    join_url          TEXT NOT NULL,
    created_ms        INTEGER NOT NULL,
    next_deadline_ms  INTEGER               -- earliest lobby deadline, for the timer sweep
);
CREATE INDEX meetings_organizer ON meetings (organizer_uri, created_ms);
CREATE INDEX meetings_deadline ON meetings (next_deadline_ms) WHERE next_deadline_ms IS NOT NULL;

CREATE TABLE meeting_sessions (
    session_id TEXT PRIMARY KEY,            -- conversation and invitation id
    meeting_id TEXT NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    app_id     TEXT NOT NULL,
    live       INTEGER NOT NULL,            -- not yet disconnected
    state      TEXT NOT NULL                -- Session as JSON
);
CREATE INDEX meeting_sessions_meeting ON meeting_sessions (meeting_id);
CREATE INDEX meeting_sessions_app ON meeting_sessions (app_id) WHERE live = 1;
