-- Schema version 9: a message's position in its conversation (1, 2, 3, …),
-- for the bound on a recipient's unread messages
-- (`limits.max_pending_messages`).
--
-- A send checks the bound under its conversation's lock. Queued messages
-- hold distinct positions between the oldest one queued for the recipient
-- and the send's own, so while fewer positions than the limit separate the
-- two no inbox can be full and nothing is counted. Message ids cannot serve:
-- every conversation draws them from one sequence, so in a busy database
-- the span between two of one conversation's ids passes the limit long
-- before its inbox does, and the inbox was counted on most sends.
--
-- A message's position is the last message's plus one, read under the
-- conversation's lock. A message written by an older server during a
-- rolling upgrade has none (NULL): the next one counts the conversation's
-- messages instead, so every position stays exact, and a bound whose oldest
-- queued message has none counts the inbox, as before.
ALTER TABLE messages ADD COLUMN seq BIGINT;

UPDATE messages m SET seq = n.seq
  FROM (SELECT id, row_number() OVER (PARTITION BY conversation_id ORDER BY id) AS seq
          FROM messages) n
 WHERE m.id = n.id;
