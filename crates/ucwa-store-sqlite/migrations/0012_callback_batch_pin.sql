-- The end of the callback batch being delivered, pinned at its first attempt: until it is
-- delivered, every attempt sends exactly these events under the same ack, so a receiver can
-- drop a repeat by its delivery id. NULL: no batch in flight.
ALTER TABLE callback_routes ADD COLUMN batch_through INTEGER;
