-- Inbox operations: how to reach a user (SLA escalations e-mail the team's manager), and
-- indexes for the inbox list under load.

-- NULL when the user gave none; checked (plain local@domain) before it is written.
ALTER TABLE users ADD COLUMN email TEXT;
