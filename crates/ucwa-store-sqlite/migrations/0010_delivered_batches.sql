-- The body of an application's last delivered batch moves out of its row. Every event
-- appended to an application updates that row (`next_seq`), and SQLite rewrites a whole
-- row, overflow pages included, on any update: with the body inline, each event for an
-- application whose last batch was large (a joiner's batch holding a 1,000-person roster,
-- ~200 KB) rewrote that batch, so the cost of an event grew with the meeting.
CREATE TABLE delivered_batches (
    app_id TEXT PRIMARY KEY,
    body   TEXT NOT NULL
);
INSERT INTO delivered_batches (app_id, body) SELECT id, batch_body FROM applications WHERE batch_body != '';
ALTER TABLE applications DROP COLUMN batch_body;
