-- The history triggers ask whether a threshold is reached, and must cost the same whatever
-- the size of the tables.
--
-- Repeat contact counts a customer's tickets (tickets_by_customer) and the messages they sent
-- on any of their tickets. A message carries its customer so that those are read through one
-- index instead of through every ticket the customer ever had: `contact_customer_id` is set
-- on comments without an author (what the customer sent), NULL on staff's.
ALTER TABLE comments ADD COLUMN contact_customer_id TEXT;
UPDATE comments SET contact_customer_id = (
    SELECT t.customer_id FROM tickets t
    WHERE t.tenant_id = comments.tenant_id AND t.id = comments.ticket_id
) WHERE author_id IS NULL;
CREATE INDEX comments_customer_contacts ON comments (tenant_id, contact_customer_id, created_at)
    WHERE contact_customer_id IS NOT NULL;

-- Many customers counts the distinct customers reporting a problem key: with the customer
-- in the key's index, each customer is one seek (a skip scan), however many reports they
-- sent.
DROP INDEX tickets_by_incident_key;
CREATE INDEX tickets_by_incident_key ON tickets (tenant_id, incident_key, customer_id, created_at)
    WHERE incident_key IS NOT NULL;
