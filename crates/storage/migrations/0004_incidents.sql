-- The same problem reported by many customers at once. Each new ticket carries the key of
-- its problem (category + a few content words); when enough distinct customers share a key
-- within minutes, one parent incident ticket groups them.
ALTER TABLE tickets ADD COLUMN incident_key TEXT;
CREATE INDEX tickets_by_incident_key ON tickets (tenant_id, incident_key, created_at)
    WHERE incident_key IS NOT NULL;

CREATE TABLE incidents (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants(id),
    incident_key      TEXT NOT NULL,
    parent_ticket_id  TEXT NOT NULL REFERENCES tickets(id),
    -- Distinct customers among the linked children, as of the last link.
    customers         BIGINT NOT NULL,
    -- Set once the parent was escalated for the incident, so it escalates only once.
    escalated_at      BIGINT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    -- Set when the parent ticket was found resolved or closed: later reports start afresh.
    closed_at         BIGINT
);
-- At most one open incident per problem, enforced by the database itself.
CREATE UNIQUE INDEX incidents_one_open ON incidents (tenant_id, incident_key)
    WHERE closed_at IS NULL;
CREATE INDEX incidents_by_parent ON incidents (parent_ticket_id);
