-- A search for a common word walks an organisation's newest tickets backwards until it has
-- enough matches (`storage::search`), instead of reading every match through the GIN index.
CREATE INDEX ticket_search_by_tenant ON ticket_search (tenant_id, ticket_id);
