-- pushdesk schema, version 0002: GET /api/v1/messages?unread=1 lists the
-- messages of an org (a customer: of their tickets) oldest first, by seq,
-- keeping those the caller has not read (message_reads' primary key answers
-- that per message). This index walks an org's messages in that order
-- instead of sorting all of them for each page.
CREATE INDEX messages_org_seq_idx ON messages (org_id, seq);
