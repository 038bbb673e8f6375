-- Where a message taken from an organisation's IMAP mailbox goes: NULL leaves it in its
-- folder flagged \Seen (as before); a folder name moves it there once its ticket is written.
ALTER TABLE inbound_mailboxes ADD COLUMN processed_folder TEXT;
