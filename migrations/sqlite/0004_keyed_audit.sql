-- Schema version 4: the audit chain becomes keyed.
--
-- From here on every record is sealed with HMAC-SHA256 under a key derived
-- from bridge.key, and the chain head (the row with seq = 9223372036854775807)
-- is signed too: `count` = the last record's seq, `hash` = its hash,
-- `detail` = the anchor (JSON: `keyed_from`, the first keyed seq, and after
-- retention pruning a `pruned` checkpoint), `prev_hash` = the head's MAC.
-- Records already in the trail keep the unkeyed SHA-256 rule they were written
-- with: the switch-over point recorded here says up to where. The MAC itself
-- needs the key, so the bridge signs the head right after this script, in the
-- same transaction.

UPDATE audit_log SET detail = json_object('keyed_from', coalesce(count, 0) + 1)
WHERE seq = 9223372036854775807;

INSERT INTO audit_log (seq, at, actor, action, outcome, count, prev_hash, hash, detail)
SELECT 9223372036854775807, 0, 'head', 'head', 'ok', 0, '',
       '0000000000000000000000000000000000000000000000000000000000000000',
       json_object('keyed_from', 1)
WHERE NOT EXISTS (SELECT 1 FROM audit_log WHERE seq = 9223372036854775807);
