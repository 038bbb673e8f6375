-- PostgreSQL only: an organisation's tickets of an hour are counted in up to 16 rows, one per
-- shard, instead of one. Every creation upserts its hour's count, and that row stays locked
-- until the creating transaction commits: with one row, concurrent creations in an
-- organisation queued on it for most of their time (sampling `pg_stat_activity` with 8
-- clients, 36% of the backends' time went to an INSERT INTO tickets waiting on another
-- transaction). A connection counts in the shard of its backend's pid, so writers on
-- different connections seldom meet. Readers sum the rows (`metrics::tickets_created_in`);
-- SQLite, whose writes are one at a time, keeps one row (shard 0).
ALTER TABLE ticket_hours ADD COLUMN shard integer NOT NULL DEFAULT 0;
ALTER TABLE ticket_hours DROP CONSTRAINT ticket_hours_pkey;
ALTER TABLE ticket_hours ADD PRIMARY KEY (tenant_id, hour, shard);

CREATE OR REPLACE FUNCTION ladder_ticket_hours_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ticket_hours (tenant_id, hour, shard, tickets)
        SELECT tenant_id, created_at / 3600000000, pg_backend_pid() % 16, COUNT(*)
        FROM new_tickets
        GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (tenant_id, hour, shard)
            DO UPDATE SET tickets = ticket_hours.tickets + EXCLUDED.tickets;
    RETURN NULL;
END $$;

-- A ticket may have been counted in any shard of its hour, so a removal folds the hour's
-- shards into shard 0 and subtracts there: no row goes below zero, which readers take for
-- corruption. (Nothing in Ladder removes tickets; this keeps the count exact for whoever does.)
CREATE OR REPLACE FUNCTION ladder_ticket_hours_delete() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE d record;
BEGIN
    FOR d IN
        SELECT tenant_id, created_at / 3600000000 AS hour, COUNT(*) AS n FROM old_tickets
        GROUP BY 1, 2 ORDER BY 1, 2
    LOOP
        WITH folded AS (
            DELETE FROM ticket_hours
            WHERE tenant_id = d.tenant_id AND hour = d.hour AND shard <> 0
            RETURNING tickets
        )
        INSERT INTO ticket_hours (tenant_id, hour, shard, tickets)
            SELECT d.tenant_id, d.hour, 0, COALESCE((SELECT SUM(tickets) FROM folded), 0) - d.n
            ON CONFLICT (tenant_id, hour, shard)
                DO UPDATE SET tickets = ticket_hours.tickets + EXCLUDED.tickets;
    END LOOP;
    RETURN NULL;
END $$;
