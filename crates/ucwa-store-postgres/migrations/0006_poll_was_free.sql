-- Whether the last claim of an application's event channel found it free (released by the
-- request that held it). Only a claim that replaced a request still holding the channel has
-- anything to tell the other nodes; `Store::claim_poll` sends its `NOTIFY` only then. The
-- claim's `UPDATE` computes this from the row it locked (its SET expressions read the newest
-- version), which a read before or beside the `UPDATE` could not do without a stale answer.
ALTER TABLE applications ADD COLUMN poll_was_free BOOLEAN NOT NULL DEFAULT FALSE;
