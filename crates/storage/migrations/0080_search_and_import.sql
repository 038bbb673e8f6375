-- Search and import (issue 23). The full-text documents and their triggers differ by
-- database: SQLite's FTS5 tables are in migrations-sqlite/200080, PostgreSQL's tsvector and
-- GIN index in migrations-postgres/100080. What both share is here.
--
-- Imported rows keep the id they had in the help desk they came from, unique per
-- organisation, so that importing the same file again finds them instead of adding twice.
ALTER TABLE customers ADD COLUMN external_id TEXT;
ALTER TABLE tickets ADD COLUMN external_id TEXT;
ALTER TABLE comments ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX customers_external ON customers (tenant_id, external_id)
    WHERE external_id IS NOT NULL;
CREATE UNIQUE INDEX tickets_external ON tickets (tenant_id, external_id)
    WHERE external_id IS NOT NULL;
CREATE UNIQUE INDEX comments_external ON comments (tenant_id, external_id)
    WHERE external_id IS NOT NULL;
-- `GET /tickets` lists newest first; a status or an assignee filter walks its own index in
-- that order and stops at the page's end, instead of filtering the whole organisation's
-- (the other filters are common enough that walking `tickets_by_tenant` finds a page soon).
CREATE INDEX tickets_by_status ON tickets (tenant_id, status, created_at, id);
CREATE INDEX tickets_by_assignee ON tickets (tenant_id, assignee_id, created_at, id);
