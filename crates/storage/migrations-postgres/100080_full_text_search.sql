-- PostgreSQL only: the full-text indexes of issue 23 (SQLite's are in
-- migrations-sqlite/200080), and the byte-wise collation of migration 80's columns.
ALTER TABLE customers ALTER COLUMN external_id TYPE text COLLATE "C";
ALTER TABLE tickets ALTER COLUMN external_id TYPE text COLLATE "C";
ALTER TABLE comments ALTER COLUMN external_id TYPE text COLLATE "C";

-- Tickets: one tsvector per ticket, its subject (weight A), description (B) and comments (C),
-- in a table of its own so that a comment does not rewrite the ticket's row and all its
-- indexes. Kept in step by triggers, in the writing transaction, whoever writes.
CREATE TABLE ticket_search (
    ticket_id  text COLLATE "C" PRIMARY KEY REFERENCES tickets(id) ON DELETE CASCADE,
    tenant_id  text COLLATE "C" NOT NULL,
    doc        tsvector NOT NULL
);
CREATE FUNCTION ladder_ticket_doc(ticket text) RETURNS tsvector LANGUAGE sql STABLE AS $$
    SELECT setweight(to_tsvector('english', t.subject), 'A')
        || setweight(to_tsvector('english', t.description), 'B')
        || coalesce((SELECT setweight(to_tsvector('english', string_agg(c.body, E'\n')), 'C')
                     FROM comments c WHERE c.ticket_id = t.id), ''::tsvector)
    FROM tickets t WHERE t.id = ticket
$$;
INSERT INTO ticket_search (ticket_id, tenant_id, doc)
    SELECT id, tenant_id, ladder_ticket_doc(id) FROM tickets;
CREATE INDEX ticket_search_doc ON ticket_search USING gin (doc);

CREATE FUNCTION ladder_ticket_search_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ticket_search (ticket_id, tenant_id, doc) VALUES (NEW.id, NEW.tenant_id,
        setweight(to_tsvector('english', NEW.subject), 'A')
        || setweight(to_tsvector('english', NEW.description), 'B'));
    RETURN NULL;
END $$;
CREATE TRIGGER tickets_search_insert AFTER INSERT ON tickets
    FOR EACH ROW EXECUTE FUNCTION ladder_ticket_search_insert();

CREATE FUNCTION ladder_ticket_search_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ticket_search SET doc = ladder_ticket_doc(NEW.id) WHERE ticket_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER tickets_search_update AFTER UPDATE OF subject, description ON tickets
    FOR EACH ROW EXECUTE FUNCTION ladder_ticket_search_update();

-- A comment adds its words to the document (tsvector concatenation), without re-reading
-- the others.
CREATE FUNCTION ladder_comment_search_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ticket_search SET doc = doc || setweight(to_tsvector('english', NEW.body), 'C')
        WHERE ticket_id = NEW.ticket_id;
    RETURN NULL;
END $$;
CREATE TRIGGER comments_search_insert AFTER INSERT ON comments
    FOR EACH ROW EXECUTE FUNCTION ladder_comment_search_insert();

-- Customers: substrings of name, email and phone digits through a trigram index on one
-- expression (pg_trgm is a trusted extension: the database's owner may create it).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE FUNCTION ladder_customer_doc(name text, email text, phone text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT lower(name) || ' ' || lower(coalesce(email, '')) || ' '
        || regexp_replace(coalesce(phone, ''), '[^0-9]', '', 'g')
$$;
CREATE INDEX customers_search ON customers
    USING gin (ladder_customer_doc(name, email, phone) gin_trgm_ops);
-- Queries of one or two letters have no trigram: they match the start of the name.
CREATE INDEX customers_by_name ON customers (tenant_id, (lower(name) COLLATE "C"));
