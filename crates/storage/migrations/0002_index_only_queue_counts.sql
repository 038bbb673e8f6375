-- Queue counts by status read only the partial indexes: the status (or state) column is
-- carried in the index so counting never visits the table.
DROP INDEX tickets_mine;
CREATE INDEX tickets_mine ON tickets (tenant_id, assignee_id, created_at, id, status)
    WHERE status IN ('new', 'open', 'pending');
DROP INDEX escalations_queue;
CREATE INDEX escalations_queue ON escalations (tenant_id, target_key, due_at, id, state)
    WHERE state IN ('requested', 'acknowledged');
DROP INDEX escalations_owned;
CREATE INDEX escalations_owned ON escalations (tenant_id, escalation_owner_id, due_at, id, state)
    WHERE state IN ('requested', 'acknowledged');
