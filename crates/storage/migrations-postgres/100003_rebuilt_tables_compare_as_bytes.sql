-- PostgreSQL only. Migration 8 rebuilt the outbox and the audit trail; their ids and keys
-- compare byte by byte again, as in 100001 (on a new database 100001 already did this).
DO $$
DECLARE c record;
BEGIN
    FOR c IN
        SELECT table_name, column_name FROM information_schema.columns
        WHERE table_schema = current_schema() AND data_type = 'text'
          AND table_name IN ('outbox', 'audit_events')
          AND (column_name IN ('id', 'kind') OR column_name LIKE '%\_id'
               OR column_name LIKE '%\_key')
          AND collation_name IS DISTINCT FROM 'C'
        ORDER BY table_name, column_name
    LOOP
        EXECUTE format('ALTER TABLE %I ALTER COLUMN %I TYPE text COLLATE "C"',
                       c.table_name, c.column_name);
    END LOOP;
END $$;
