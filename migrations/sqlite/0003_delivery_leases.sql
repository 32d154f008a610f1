-- Schema version 3: a message handed to a reader is leased, not deleted, until the
-- reader's transport has written the reply; a reader that dies before that leaves
-- the lease to expire, and the message goes to the next reader with the same id.
-- `lease_id` is random per take; `lease_until` is in microseconds since the epoch.
-- NULL in both: not handed out. Rows of a lease that was never acknowledged are
-- handed out again once `lease_until` has passed, in message order.
ALTER TABLE pending_deliveries ADD COLUMN lease_id INTEGER;
ALTER TABLE pending_deliveries ADD COLUMN lease_until INTEGER;
