-- SQLite only: the full-text indexes of issue 23, kept in step with the tables by triggers,
-- so that every writer (a request, the importer, another process) updates them in its own
-- transaction.
--
-- Tickets: one FTS5 document per ticket, its subject and a body made of its description and
-- every comment. The FTS table is contentless (the text lives in tickets and comments only);
-- `contentless_delete` lets a document be replaced when a comment arrives. FTS5 keys its
-- rows by integer, and a table without an INTEGER PRIMARY KEY may see its rowids renumbered
-- by VACUUM, so `ticket_search` gives each ticket a stable document number.
CREATE TABLE ticket_search (
    doc        INTEGER PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    ticket_id  TEXT NOT NULL UNIQUE
);
CREATE VIRTUAL TABLE ticket_fts USING fts5(
    subject, body,
    content = '', contentless_delete = 1,
    tokenize = 'porter unicode61 remove_diacritics 2'
);
INSERT INTO ticket_search (tenant_id, ticket_id)
    SELECT tenant_id, id FROM tickets ORDER BY created_at, id;
INSERT INTO ticket_fts (rowid, subject, body)
    SELECT s.doc, t.subject, t.description || coalesce(char(10) ||
        (SELECT group_concat(c.body, char(10)) FROM comments c WHERE c.ticket_id = t.id), '')
    FROM ticket_search s JOIN tickets t ON t.id = s.ticket_id;

CREATE TRIGGER tickets_search_insert AFTER INSERT ON tickets BEGIN
    INSERT INTO ticket_search (tenant_id, ticket_id) VALUES (NEW.tenant_id, NEW.id);
    INSERT INTO ticket_fts (rowid, subject, body)
        VALUES ((SELECT doc FROM ticket_search WHERE ticket_id = NEW.id),
                NEW.subject, NEW.description);
END;
-- A comment (or a changed subject or description) rewrites its ticket's document.
CREATE TRIGGER tickets_search_update AFTER UPDATE OF subject, description ON tickets BEGIN
    DELETE FROM ticket_fts WHERE rowid = (SELECT doc FROM ticket_search WHERE ticket_id = NEW.id);
    INSERT INTO ticket_fts (rowid, subject, body)
        SELECT s.doc, NEW.subject, NEW.description || coalesce(char(10) ||
            (SELECT group_concat(c.body, char(10)) FROM comments c WHERE c.ticket_id = NEW.id), '')
        FROM ticket_search s WHERE s.ticket_id = NEW.id;
END;
CREATE TRIGGER tickets_search_delete AFTER DELETE ON tickets BEGIN
    DELETE FROM ticket_fts WHERE rowid = (SELECT doc FROM ticket_search WHERE ticket_id = OLD.id);
    DELETE FROM ticket_search WHERE ticket_id = OLD.id;
END;
CREATE TRIGGER comments_search_insert AFTER INSERT ON comments BEGIN
    DELETE FROM ticket_fts
        WHERE rowid = (SELECT doc FROM ticket_search WHERE ticket_id = NEW.ticket_id);
    INSERT INTO ticket_fts (rowid, subject, body)
        SELECT s.doc, t.subject, t.description || coalesce(char(10) ||
            (SELECT group_concat(c.body, char(10)) FROM comments c WHERE c.ticket_id = t.id), '')
        FROM ticket_search s JOIN tickets t ON t.id = s.ticket_id
        WHERE s.ticket_id = NEW.ticket_id;
END;

-- Customers: substrings of their name, email and phone (digits only) through a trigram
-- index, which finds "mith" in "Smith" and "4567" in "+1 (555) 012-4567".
CREATE TABLE customer_search (
    doc          INTEGER PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    customer_id  TEXT NOT NULL UNIQUE
);
CREATE VIRTUAL TABLE customer_fts USING fts5(
    text,
    content = '', contentless_delete = 1,
    tokenize = 'trigram'
);
INSERT INTO customer_search (tenant_id, customer_id)
    SELECT tenant_id, id FROM customers ORDER BY created_at, id;
-- The phone's usual punctuation is dropped so that its digits are one run: what the
-- server does to a query that looks like a phone number (`storage::search`).
INSERT INTO customer_fts (rowid, text)
    SELECT s.doc, c.name || ' ' || coalesce(c.email, '') || ' ' ||
        replace(replace(replace(replace(replace(replace(coalesce(c.phone, ''),
            ' ', ''), '-', ''), '(', ''), ')', ''), '+', ''), '.', '')
    FROM customer_search s JOIN customers c ON c.id = s.customer_id;
CREATE TRIGGER customers_search_insert AFTER INSERT ON customers BEGIN
    INSERT INTO customer_search (tenant_id, customer_id) VALUES (NEW.tenant_id, NEW.id);
    INSERT INTO customer_fts (rowid, text)
        VALUES ((SELECT doc FROM customer_search WHERE customer_id = NEW.id),
                NEW.name || ' ' || coalesce(NEW.email, '') || ' ' ||
                replace(replace(replace(replace(replace(replace(coalesce(NEW.phone, ''),
                    ' ', ''), '-', ''), '(', ''), ')', ''), '+', ''), '.', ''));
END;
CREATE TRIGGER customers_search_update AFTER UPDATE OF name, email, phone ON customers BEGIN
    DELETE FROM customer_fts
        WHERE rowid = (SELECT doc FROM customer_search WHERE customer_id = NEW.id);
    INSERT INTO customer_fts (rowid, text)
        VALUES ((SELECT doc FROM customer_search WHERE customer_id = NEW.id),
                NEW.name || ' ' || coalesce(NEW.email, '') || ' ' ||
                replace(replace(replace(replace(replace(replace(coalesce(NEW.phone, ''),
                    ' ', ''), '-', ''), '(', ''), ')', ''), '+', ''), '.', ''));
END;
CREATE TRIGGER customers_search_delete AFTER DELETE ON customers BEGIN
    DELETE FROM customer_fts
        WHERE rowid = (SELECT doc FROM customer_search WHERE customer_id = OLD.id);
    DELETE FROM customer_search WHERE customer_id = OLD.id;
END;
-- Queries of one or two letters have no trigram: they match the start of the name.
CREATE INDEX customers_by_name ON customers (tenant_id, lower(name));
