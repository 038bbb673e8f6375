-- SQLite only: what migration 0085 needs here.
--
-- The tickets per hour, kept by triggers in the writer's transaction (tickets are never
-- updated in tenant or creation time; the delete keeps the count exact for any writer that
-- removes one).
CREATE TRIGGER tickets_count_hour_insert AFTER INSERT ON tickets BEGIN
    INSERT INTO ticket_hours (tenant_id, hour, tickets)
        VALUES (NEW.tenant_id, NEW.created_at / 3600000000, 1)
        ON CONFLICT (tenant_id, hour) DO UPDATE SET tickets = tickets + 1;
END;
CREATE TRIGGER tickets_count_hour_delete AFTER DELETE ON tickets BEGIN
    UPDATE ticket_hours SET tickets = tickets - 1
        WHERE tenant_id = OLD.tenant_id AND hour = OLD.created_at / 3600000000;
END;

-- A period's runs are read from the index alone: its entries carry the packed facts and the
-- columns an agent's own report filters on. Run rows are deleted and inserted again as their
-- tickets change, so in the table they lie in the order they were last written, not opened.
DROP INDEX escalation_runs_by_opening;
CREATE INDEX escalation_runs_by_opening ON escalation_runs
    (tenant_id, opened_at, requested_by, owner_id, packed);
