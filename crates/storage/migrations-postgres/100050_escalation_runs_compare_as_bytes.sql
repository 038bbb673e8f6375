-- PostgreSQL only: the ids of migration 50 compare as bytes, as 100001 made the older
-- tables' do (a report lists runs of the same instant by id, the same on both databases).
ALTER TABLE escalation_runs
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN tenant_id TYPE text COLLATE "C",
    ALTER COLUMN ticket_id TYPE text COLLATE "C",
    ALTER COLUMN last_id TYPE text COLLATE "C";
