-- PostgreSQL only: what migration 0085 needs here.
--
-- Its tenant id compares as bytes, as every id does (100001).
ALTER TABLE ticket_hours ALTER COLUMN tenant_id TYPE text COLLATE "C";

-- The tickets per hour, kept by statement triggers in the writer's transaction: one upsert
-- per statement and hour, its rows locked in key order so that two writers never wait on
-- each other crosswise (tickets are never updated in tenant or creation time; the delete
-- keeps the count exact for any writer that removes one).
CREATE FUNCTION ladder_ticket_hours_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ticket_hours (tenant_id, hour, tickets)
        SELECT tenant_id, created_at / 3600000000, COUNT(*) FROM new_tickets
        GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (tenant_id, hour) DO UPDATE SET tickets = ticket_hours.tickets + EXCLUDED.tickets;
    RETURN NULL;
END $$;
CREATE TRIGGER tickets_count_hour_insert AFTER INSERT ON tickets
    REFERENCING NEW TABLE AS new_tickets
    FOR EACH STATEMENT EXECUTE FUNCTION ladder_ticket_hours_insert();

CREATE FUNCTION ladder_ticket_hours_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ticket_hours h SET tickets = h.tickets - d.n
        FROM (SELECT tenant_id, created_at / 3600000000 AS hour, COUNT(*) AS n FROM old_tickets
              GROUP BY 1, 2) d
        WHERE h.tenant_id = d.tenant_id AND h.hour = d.hour;
    RETURN NULL;
END $$;
CREATE TRIGGER tickets_count_hour_delete AFTER DELETE ON tickets
    REFERENCING OLD TABLE AS old_tickets
    FOR EACH STATEMENT EXECUTE FUNCTION ladder_ticket_hours_delete();
