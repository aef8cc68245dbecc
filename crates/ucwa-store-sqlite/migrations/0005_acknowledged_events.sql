-- The highest event sequence number the client has acknowledged (by asking for the batch
-- after the one that carried it). Saving a batch records it in the same single UPDATE;
-- acknowledged events are then deleted in the background instead of on the delivery path.
ALTER TABLE applications ADD COLUMN acked_max_seq INTEGER NOT NULL DEFAULT 0;
