-- PostgreSQL only: a ticket's document holds of each comment what `comments.indexed_chars`
-- says (migration 0098), the whole body when it is NULL.
CREATE OR REPLACE FUNCTION ladder_ticket_doc(ticket text) RETURNS tsvector LANGUAGE sql STABLE AS $$
    SELECT setweight(to_tsvector('english', t.subject), 'A')
        || setweight(to_tsvector('english', t.description), 'B')
        || coalesce((SELECT setweight(to_tsvector('english', string_agg(
                         CASE WHEN c.indexed_chars IS NULL THEN c.body
                              ELSE substr(c.body, 1, c.indexed_chars) END, E'\n')), 'C')
                     FROM comments c WHERE c.ticket_id = t.id), ''::tsvector)
    FROM tickets t WHERE t.id = ticket
$$;
CREATE OR REPLACE FUNCTION ladder_comment_search_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ticket_search SET doc = doc || setweight(to_tsvector('english',
            CASE WHEN NEW.indexed_chars IS NULL THEN NEW.body
                 ELSE substr(NEW.body, 1, NEW.indexed_chars) END), 'C')
        WHERE ticket_id = NEW.ticket_id;
    RETURN NULL;
END $$;
