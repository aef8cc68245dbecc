-- Issue 9: a poll claims its application's event channel and reads the events waiting on it
-- in one statement (`Store::claim_poll`), one round trip where there were two; every
-- statement a join cycle sends costs the node and the database about 90 microseconds of CPU
-- beyond its own work (docs/BENCHMARKS.md). The read is a function for the reason the append's
-- row steps are (0007): a statement's snapshot is taken before the claim waits for the
-- application's row, which an appender often holds, and a read with that snapshot would miss
-- the events that appender commits. A statement in a volatile function takes its snapshot
-- when it starts, after the claim got the row, and sees them.

-- Up to `lim` events of application `app` numbered above `after_seq`, in order.
CREATE FUNCTION ucwa_events_after(app TEXT, after_seq BIGINT, lim BIGINT)
RETURNS SETOF events LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RETURN QUERY SELECT * FROM events WHERE app_id = app AND seq > after_seq ORDER BY seq LIMIT lim;
END
$$;
