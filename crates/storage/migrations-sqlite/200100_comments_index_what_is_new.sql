-- SQLite only: a ticket's document holds of each comment what `comments.indexed_chars`
-- says (migration 0098), the whole body when it is NULL.
DROP TRIGGER tickets_search_update;
CREATE TRIGGER tickets_search_update AFTER UPDATE OF subject, description ON tickets BEGIN
    DELETE FROM ticket_fts WHERE rowid = (SELECT doc FROM ticket_search WHERE ticket_id = NEW.id);
    INSERT INTO ticket_fts (rowid, subject, body)
        SELECT s.doc, NEW.subject, NEW.description || coalesce(char(10) ||
            (SELECT group_concat(CASE WHEN c.indexed_chars IS NULL THEN c.body
                                      ELSE substr(c.body, 1, c.indexed_chars) END, char(10))
             FROM comments c WHERE c.ticket_id = NEW.id), '')
        FROM ticket_search s WHERE s.ticket_id = NEW.id;
END;
DROP TRIGGER comments_search_insert;
CREATE TRIGGER comments_search_insert AFTER INSERT ON comments BEGIN
    DELETE FROM ticket_fts
        WHERE rowid = (SELECT doc FROM ticket_search WHERE ticket_id = NEW.ticket_id);
    INSERT INTO ticket_fts (rowid, subject, body)
        SELECT s.doc, t.subject, t.description || coalesce(char(10) ||
            (SELECT group_concat(CASE WHEN c.indexed_chars IS NULL THEN c.body
                                      ELSE substr(c.body, 1, c.indexed_chars) END, char(10))
             FROM comments c WHERE c.ticket_id = t.id), '')
        FROM ticket_search s JOIN tickets t ON t.id = s.ticket_id
        WHERE s.ticket_id = NEW.ticket_id;
END;
