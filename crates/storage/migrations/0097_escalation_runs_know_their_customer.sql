-- A customer's new ticket may be the return of one of their resolved escalations, so each
-- ticket created looks up the customer's resolved runs still without a return. Read through
-- the runs' tickets, that walked every run of the organisation (or every ticket of a
-- customer with thousands); a run now carries its ticket's customer (which never changes),
-- read through an index of the customer's resolved runs.
ALTER TABLE escalation_runs ADD COLUMN customer_id TEXT;
UPDATE escalation_runs SET customer_id = (
    SELECT t.customer_id FROM tickets t WHERE t.id = escalation_runs.ticket_id
);
CREATE INDEX escalation_runs_resolved_by_customer
    ON escalation_runs (tenant_id, customer_id, closed_at) WHERE state = 'resolved';

-- A ticket's runs are replaced by tenant and ticket. With the ticket alone in the index,
-- PostgreSQL's planner (whose statistics lag a bulk insert, as in migration 0085's backfill)
-- combined it with the tenant's index by opening and read every run of the organisation
-- for each ticket: the backfill of 100,000 runs grew quadratic. One index with both is
-- the obvious plan.
DROP INDEX escalation_runs_by_ticket;
CREATE INDEX escalation_runs_by_ticket ON escalation_runs (tenant_id, ticket_id);
