-- PostgreSQL only: the customer id migration 0097 gave escalation runs compares as bytes,
-- as every id does (100001).
ALTER TABLE escalation_runs ALTER COLUMN customer_id TYPE text COLLATE "C";
