-- Issue 9: the store is the arbiter of idempotent retries. One session per application and
-- operationId (`Store::save_meeting` refuses a second with `StoreError::Conflict`), so two
-- copies of one join can never both start, whichever node they reach. Sessions that broke the
-- rule before it existed keep their operationId on the oldest row only (`find_operation`
-- answered with one of them anyway).
UPDATE meeting_sessions SET operation_id = NULL
WHERE operation_id IS NOT NULL
  AND rowid NOT IN (SELECT min(rowid) FROM meeting_sessions WHERE operation_id IS NOT NULL
                    GROUP BY app_id, operation_id);
DROP INDEX meeting_sessions_operation;
CREATE UNIQUE INDEX meeting_sessions_operation ON meeting_sessions (app_id, operation_id)
    WHERE operation_id IS NOT NULL;
