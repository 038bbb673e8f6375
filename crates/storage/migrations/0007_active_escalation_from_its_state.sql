-- A ticket's active escalation is the one whose state is requested or acknowledged; the
-- partial unique index escalations_one_active finds it and allows one per ticket. The copy
-- kept on the ticket row had to be rewritten on every move up a rung: a new row version and
-- an entry in each of the ticket's indexes, a seventh of what PostgreSQL did while timers
-- fired. Escalations and tickets agreed on it at every commit, so nothing is lost.
ALTER TABLE tickets DROP COLUMN active_escalation_id;
