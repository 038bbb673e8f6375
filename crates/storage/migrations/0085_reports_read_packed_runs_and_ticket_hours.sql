-- A year's escalation report at a million tickets (issue 22) reads two small things instead
-- of decoding tens of thousands of wide rows and counting half a million tickets.
--
-- Each run's facts are also kept as one packed text (`storage::metrics` writes and reads
-- it): the report reads a period's runs as a few aggregated values, because sqlx's Any
-- driver costs about a microsecond per row and half of one per column decoded, which was
-- most of the report's time. The rows are rebuilt with it by the backfill that `Db::migrate`
-- runs after the migrations (it fills in every run that has no row).
ALTER TABLE escalation_runs ADD COLUMN packed TEXT;
DELETE FROM escalation_runs;

-- Tickets created per tenant and hour (hours since the Unix epoch, UTC), kept by triggers on
-- `tickets` in the migrations of each database, so that every writer keeps it in step in its
-- own transaction. A period's ticket count sums its whole hours and counts the tickets of its
-- partial hours at either end through `tickets_by_tenant`.
CREATE TABLE ticket_hours (
    tenant_id TEXT NOT NULL,
    hour BIGINT NOT NULL,
    tickets BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, hour)
);
INSERT INTO ticket_hours (tenant_id, hour, tickets)
    SELECT tenant_id, created_at / 3600000000, COUNT(*) FROM tickets
    GROUP BY tenant_id, created_at / 3600000000;
