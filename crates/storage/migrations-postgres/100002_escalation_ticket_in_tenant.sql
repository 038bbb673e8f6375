-- PostgreSQL only. An escalation's ticket and organisation are checked by one foreign key,
-- (tenant_id, ticket_id) against the ticket's (tenant_id, id), instead of one key on each
-- column. It says more (the ticket belongs to the escalation's organisation, which exists
-- because the ticket's own key says so) and costs one lookup per new escalation instead of
-- two: PostgreSQL runs each foreign-key check as a query of its own, and the two took as much
-- time as the rest of inserting the escalation when a burst of timers moved thousands of
-- escalations up a rung. SQLite checks foreign keys in-process, cheaply, and keeps its two.
CREATE UNIQUE INDEX tickets_tenant_and_id ON tickets (tenant_id, id);
ALTER TABLE escalations
    DROP CONSTRAINT escalations_tenant_id_fkey,
    DROP CONSTRAINT escalations_ticket_id_fkey,
    ADD CONSTRAINT escalations_ticket_in_tenant
        FOREIGN KEY (tenant_id, ticket_id) REFERENCES tickets (tenant_id, id);
