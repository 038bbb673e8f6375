-- PostgreSQL only: the ids, keys and vocabulary columns of migration 25 compare as bytes, as
-- 100001 made the older tables' do.
ALTER TABLE deliveries
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN tenant_id TYPE text COLLATE "C",
    ALTER COLUMN message_key TYPE text COLLATE "C",
    ALTER COLUMN ticket_id TYPE text COLLATE "C",
    ALTER COLUMN channel TYPE text COLLATE "C",
    ALTER COLUMN recipient TYPE text COLLATE "C",
    ALTER COLUMN kind TYPE text COLLATE "C",
    ALTER COLUMN state TYPE text COLLATE "C";
ALTER TABLE webhooks
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN tenant_id TYPE text COLLATE "C";
ALTER TABLE email_opt_outs
    ALTER COLUMN tenant_id TYPE text COLLATE "C",
    ALTER COLUMN subject TYPE text COLLATE "C",
    ALTER COLUMN kind TYPE text COLLATE "C";
