-- PostgreSQL only: migration 65's customer id on comments compares as bytes, as every id does.
ALTER TABLE comments ALTER COLUMN contact_customer_id TYPE text COLLATE "C";
