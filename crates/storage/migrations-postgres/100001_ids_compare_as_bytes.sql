-- PostgreSQL only. Ids, keys, hashes and vocabulary values (state, status, kind, role) compare
-- byte by byte,
-- as they do on SQLite, instead of through the database's locale: every index lookup and
-- insert on them called strcoll, which cost the timer engine about a tenth of PostgreSQL's
-- time. Their order does not change (they are ASCII); human text keeps the locale.
DO $$
DECLARE c record;
BEGIN
    FOR c IN
        SELECT table_name, column_name FROM information_schema.columns
        WHERE table_schema = current_schema() AND data_type = 'text'
          AND table_name <> '_sqlx_migrations'
          AND (column_name IN ('id', 'state', 'status', 'kind', 'role', 'token_hash')
               OR column_name LIKE '%\_id' OR column_name LIKE '%\_key'
               OR column_name LIKE '%\_role')
        ORDER BY table_name, column_name
    LOOP
        EXECUTE format('ALTER TABLE %I ALTER COLUMN %I TYPE text COLLATE "C"',
                       c.table_name, c.column_name);
    END LOOP;
END $$;
