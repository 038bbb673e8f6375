-- Durable SLA timers: one row per ticket, for the next moment something is due on it (a
-- rung's acknowledgement, a reminder, a deadline, a first response). Rescheduling replaces
-- the row, and firing deletes it in the same transaction as the effects it causes, which is
-- what makes each timer fire exactly once however many servers share the table.
CREATE TABLE timers (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    ticket_id      TEXT NOT NULL,
    escalation_id  TEXT,
    kind           TEXT NOT NULL,
    due_at         BIGINT NOT NULL,
    attempts       BIGINT NOT NULL,
    created_at     BIGINT NOT NULL
);
-- Workers read the head of this index: the next due timer, and the batch of overdue ones.
CREATE INDEX timers_due ON timers (due_at, id);

-- The run's SLA clocks and the escalation's position on its chain (JSON).
ALTER TABLE escalations ADD COLUMN sla TEXT;

-- The rule, chain and calendar escalations started with, stored once per distinct content
-- (the id is its SHA-256) rather than copied into every escalation of every rung.
CREATE TABLE escalation_snapshots (
    id        TEXT PRIMARY KEY,
    document  TEXT NOT NULL
);
ALTER TABLE escalations ADD COLUMN snapshot_id TEXT;

-- A phone call with the customer, logged by staff: it counts as a response.
ALTER TABLE comments ADD COLUMN logged_call BOOLEAN NOT NULL DEFAULT FALSE;
