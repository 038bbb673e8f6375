-- PostgreSQL only: a search with a status ("open tickets about a refund") reads only the
-- matches with that status. Each match is a visit to a heap page of `ticket_search`, and a
-- word found in 13,000 of a million tickets cost 70-160 ms when they were all read to
-- find the newest 300 open ones. The search row keeps its ticket's status, and one GIN
-- index over status and document (btree_gin, a trusted extension like pg_trgm) finds the
-- matches with both; a search without a status reads the same index by its document alone.
CREATE EXTENSION IF NOT EXISTS btree_gin;
ALTER TABLE ticket_search ADD COLUMN status text COLLATE "C";
UPDATE ticket_search s SET status = t.status FROM tickets t WHERE t.id = s.ticket_id;
ALTER TABLE ticket_search ALTER COLUMN status SET NOT NULL;
DROP INDEX ticket_search_doc;
CREATE INDEX ticket_search_doc ON ticket_search USING gin (status, doc);

CREATE OR REPLACE FUNCTION ladder_ticket_search_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ticket_search (ticket_id, tenant_id, status, doc) VALUES (NEW.id, NEW.tenant_id,
        NEW.status,
        setweight(to_tsvector('english', NEW.subject), 'A')
        || setweight(to_tsvector('english', NEW.description), 'B'));
    RETURN NULL;
END $$;

CREATE FUNCTION ladder_ticket_search_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ticket_search SET status = NEW.status WHERE ticket_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER tickets_search_status AFTER UPDATE OF status ON tickets
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION ladder_ticket_search_status();
