-- Issue 9: the store is the arbiter of idempotent retries. One session per application and
-- operationId (`Store::save_meeting` refuses a second with `StoreError::Conflict`), so two
-- copies of one join reaching two nodes at the same moment can never both start: the second
-- save waits for the first's index entry and fails once it commits. Sessions that broke the
-- rule before it existed keep their operationId on one row only (`find_operation` answered
-- with one of them anyway).
UPDATE meeting_sessions s SET operation_id = NULL
WHERE operation_id IS NOT NULL
  AND EXISTS (SELECT 1 FROM meeting_sessions o
              WHERE o.app_id = s.app_id AND o.operation_id = s.operation_id AND o.session_id < s.session_id);
DROP INDEX meeting_sessions_operation;
CREATE UNIQUE INDEX meeting_sessions_operation ON meeting_sessions (app_id, operation_id)
    WHERE operation_id IS NOT NULL;
