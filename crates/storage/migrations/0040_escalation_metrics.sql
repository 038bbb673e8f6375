-- The escalation metrics read one period's escalation runs and, for each, a few facts found
-- by index seeks: its last escalation, its first response, an earlier run, a reopen or a
-- return. Three small partial indexes make each of those one seek:
--
-- The first escalation of each run (rung 1; a move up inserts rung 2, 3… and a row's rung
-- never changes), by when it was made: the period's runs, and earlier runs for repeats.
CREATE INDEX escalations_run_starts ON escalations (tenant_id, created_at, ticket_id)
    WHERE rung = 1;
-- What counts as a response (core's `counts_as_response`: a staff public reply or a logged
-- call; a customer's own message has no author): the first one after a run began.
CREATE INDEX comments_responses ON comments (ticket_id, created_at)
    WHERE logged_call OR (public AND author_id IS NOT NULL);
-- Reopens are rare among audit events: this index holds only them.
CREATE INDEX audit_events_reopened ON audit_events (ticket_id, occurred_at)
    WHERE kind = 'reopened';
