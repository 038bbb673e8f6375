-- PostgreSQL only. Migration 8 rebuilt the outbox and the audit trail; their ids and keys
-- compare byte by byte again, as 100001 made them (on a new database it already has, since
-- 100001 runs after every shared migration, and then these change nothing).
ALTER TABLE outbox
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN tenant_id TYPE text COLLATE "C",
    ALTER COLUMN ticket_id TYPE text COLLATE "C",
    ALTER COLUMN kind TYPE text COLLATE "C",
    ALTER COLUMN idempotency_key TYPE text COLLATE "C";
ALTER TABLE audit_events
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN tenant_id TYPE text COLLATE "C",
    ALTER COLUMN ticket_id TYPE text COLLATE "C",
    ALTER COLUMN actor_id TYPE text COLLATE "C",
    ALTER COLUMN kind TYPE text COLLATE "C";
