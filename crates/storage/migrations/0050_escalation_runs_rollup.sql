-- One row per escalation run (keyed by its first escalation), kept up to date by the
-- storage writes that change what the escalation metrics read (escalations, responses,
-- reopens, new tickets, links) in the same transaction (`storage::metrics::refresh`). A
-- report reads a period's rows through `escalation_runs_by_opening` instead of joining the
-- events. Times are microseconds; facts that depend on a policy window are kept as times
-- (the latest earlier run, the first return) so that the window is applied when reading.
CREATE TABLE escalation_runs (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    opened_at BIGINT NOT NULL,
    category TEXT NOT NULL,
    team_id TEXT,
    requested_by TEXT,
    -- The run's last escalation, its state, owner and end.
    last_id TEXT NOT NULL,
    state TEXT NOT NULL,
    owner_id TEXT,
    closed_at BIGINT,
    -- Resolved with a compensation other than `none`: 1, else 0.
    compensated BIGINT NOT NULL,
    -- The first response while the run lasted, and the business seconds to it and to the
    -- resolution on the run's calendar (NULL for runs without a policy snapshot).
    first_response_at BIGINT,
    first_response_business_s BIGINT,
    resolution_business_s BIGINT,
    -- The SLA clocks (core's `DueTimes`); has_clocks = 0 for runs from before SLA clocks.
    has_clocks BIGINT NOT NULL,
    acknowledge_due BIGINT,
    acknowledged_at BIGINT,
    update_due BIGINT,
    resolve_due BIGINT,
    clocks_closed_at BIGINT,
    -- The latest earlier run of the ticket or a linked ticket; the first reopen or return
    -- after a resolution.
    previous_run_at BIGINT,
    returned_at BIGINT
);
CREATE INDEX escalation_runs_by_opening ON escalation_runs (tenant_id, opened_at);
CREATE INDEX escalation_runs_by_ticket ON escalation_runs (ticket_id);
