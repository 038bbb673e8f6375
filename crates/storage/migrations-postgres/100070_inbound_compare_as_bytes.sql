-- PostgreSQL only: the ids and keys of migration 70 compare as bytes, as 100001 made the
-- older tables' do.
ALTER TABLE inbound_messages
    ALTER COLUMN tenant_id TYPE text COLLATE "C",
    ALTER COLUMN message_id TYPE text COLLATE "C",
    ALTER COLUMN outcome TYPE text COLLATE "C",
    ALTER COLUMN ticket_id TYPE text COLLATE "C",
    ALTER COLUMN comment_id TYPE text COLLATE "C";
ALTER TABLE inbound_tokens
    ALTER COLUMN tenant_id TYPE text COLLATE "C",
    ALTER COLUMN token_hash TYPE text COLLATE "C";
ALTER TABLE attachment_blobs
    ALTER COLUMN tenant_id TYPE text COLLATE "C",
    ALTER COLUMN sha256 TYPE text COLLATE "C";
ALTER TABLE attachments
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN tenant_id TYPE text COLLATE "C",
    ALTER COLUMN ticket_id TYPE text COLLATE "C",
    ALTER COLUMN comment_id TYPE text COLLATE "C",
    ALTER COLUMN sha256 TYPE text COLLATE "C";
ALTER TABLE inbound_mailboxes
    ALTER COLUMN tenant_id TYPE text COLLATE "C";
ALTER TABLE inbound_mailbox_taken
    ALTER COLUMN tenant_id TYPE text COLLATE "C";
