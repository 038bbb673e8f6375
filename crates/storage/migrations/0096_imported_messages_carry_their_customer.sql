-- Comments brought over by `ladder import` from the customer (no author) did not carry their
-- customer (`contact_customer_id`, migration 0065), so repeat contact did not count them.
-- The importer sets it now; this fills it in for what was imported before.
UPDATE comments SET contact_customer_id = (
    SELECT t.customer_id FROM tickets t
    WHERE t.tenant_id = comments.tenant_id AND t.id = comments.ticket_id
) WHERE author_id IS NULL AND contact_customer_id IS NULL AND external_id IS NOT NULL;
