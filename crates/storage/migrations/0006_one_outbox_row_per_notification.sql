-- A notification is one row with everyone it goes to, not one row per recipient: a rung
-- timeout told three people the same 600 bytes in three rows of four index entries each, the
-- largest share of what the timer engine wrote. Staff recipients are a JSON array of user
-- ids; a customer message has none and an email address instead.
CREATE TABLE outbox_by_notification (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL,
    ticket_id           TEXT,
    recipient_user_ids  TEXT NOT NULL,
    recipient_email     TEXT,
    audience            TEXT NOT NULL,
    kind                TEXT NOT NULL,
    payload             TEXT NOT NULL,
    idempotency_key     TEXT NOT NULL UNIQUE,
    created_at          BIGINT NOT NULL,
    attempts            BIGINT NOT NULL,
    next_attempt_at     BIGINT NOT NULL,
    delivered_at        BIGINT,
    last_error          TEXT
);
-- Messages already queued keep their own rows; ids are hexadecimal, so the array needs no
-- escaping.
INSERT INTO outbox_by_notification (id, tenant_id, ticket_id, recipient_user_ids, recipient_email,
    audience, kind, payload, idempotency_key, created_at, attempts, next_attempt_at, delivered_at,
    last_error)
SELECT id, tenant_id, ticket_id,
    CASE WHEN recipient_user_id IS NULL THEN '[]' ELSE '["' || recipient_user_id || '"]' END,
    recipient_email, audience, kind, payload, idempotency_key, created_at, attempts,
    next_attempt_at, delivered_at, last_error
FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_by_notification RENAME TO outbox;
CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE delivered_at IS NULL;
CREATE INDEX outbox_by_ticket ON outbox (ticket_id, created_at);
