-- Issue 9: the two steps of an append that touch an application row, as functions. An
-- append is one statement with one snapshot, taken before it waits for any row lock. Written
-- as plain SQL, its lock (`SELECT ... FOR UPDATE`) and its sequence bump (`UPDATE`) each
-- found, whenever another appender had committed the row meanwhile (on the organizer's
-- application, most of the time), a newer version than the snapshot's, and PostgreSQL
-- re-checked it by starting a second copy of the statement's plan: every common table
-- expression of a meeting save, 8 % of the database's CPU in the join benchmark
-- (docs/BENCHMARKS.md, issue 9). A PL/pgSQL statement in a volatile function runs with a
-- snapshot of its own, taken when it starts, and the re-check of a one-row plan costs little;
-- the bump then runs on the row this transaction already holds locked, whose newest version
-- its snapshot sees, so it is never re-checked at all. The locking order and the argument
-- that numbers are gap-free and in commit order are unchanged (src/events.rs).

-- Locks application `app` until the transaction ends; its status, NULL when there is none.
CREATE FUNCTION ucwa_lock_application(app TEXT) RETURNS TEXT LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    found_status TEXT;
BEGIN
    SELECT status INTO found_status FROM applications WHERE id = app FOR UPDATE;
    RETURN found_status;
END
$$;

-- Takes the next `n` sequence numbers of application `app`, which the caller holds locked;
-- the first of them.
CREATE FUNCTION ucwa_take_sequence(app TEXT, n BIGINT) RETURNS BIGINT LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    first BIGINT;
BEGIN
    UPDATE applications SET next_seq = next_seq + n WHERE id = app RETURNING next_seq - n INTO first;
    RETURN first;
END
$$;
