-- "Owned by me" only ever looks up an owner, and a requested escalation has none yet: left
-- out of the index, every new escalation (each rung of every chain) skips one index write.
DROP INDEX escalations_owned;
CREATE INDEX escalations_owned ON escalations (tenant_id, escalation_owner_id, due_at, id, state)
    WHERE state IN ('requested', 'acknowledged') AND escalation_owner_id IS NOT NULL;
