-- Each row the timer engine writes costs an entry in every index of its table, and on
-- PostgreSQL that index work was the largest part of a burst of firings. Two tables kept
-- indexes nothing needs.
--
-- A notification is identified by what caused it: its idempotency key, the audit event and
-- the kind of message. That key becomes the outbox's primary key. The random id stays as a
-- column (the API shows it) but nothing looks a message up by it, so it has no index. Nor is
-- there an index by ticket: a ticket's notifications are found through its audit events,
-- which are indexed by ticket already, and the events' ids begin their messages' keys.
CREATE TABLE outbox_by_event (
    id                  TEXT NOT NULL,
    tenant_id           TEXT NOT NULL,
    ticket_id           TEXT,
    recipient_user_ids  TEXT NOT NULL,
    recipient_email     TEXT,
    audience            TEXT NOT NULL,
    kind                TEXT NOT NULL,
    payload             TEXT NOT NULL,
    idempotency_key     TEXT PRIMARY KEY,
    created_at          BIGINT NOT NULL,
    attempts            BIGINT NOT NULL,
    next_attempt_at     BIGINT NOT NULL,
    delivered_at        BIGINT,
    last_error          TEXT
);
INSERT INTO outbox_by_event (id, tenant_id, ticket_id, recipient_user_ids, recipient_email,
    audience, kind, payload, idempotency_key, created_at, attempts, next_attempt_at,
    delivered_at, last_error)
SELECT id, tenant_id, ticket_id, recipient_user_ids, recipient_email, audience, kind, payload,
    idempotency_key, created_at, attempts, next_attempt_at, delivered_at, last_error
FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_by_event RENAME TO outbox;
CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE delivered_at IS NULL;

-- An audit event's identity is its place in its organisation's chain, (tenant_id, seq): the
-- chain is read and verified in that order, and appending relies on it being unique. Its id
-- names it in links and in its messages' keys; no query finds an event by id, so the id's
-- own unique index is gone too.
CREATE TABLE audit_events_by_seq (
    id           TEXT NOT NULL,
    tenant_id    TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    ticket_id    TEXT,
    actor_id     TEXT,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    occurred_at  BIGINT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
INSERT INTO audit_events_by_seq (id, tenant_id, seq, ticket_id, actor_id, kind, payload,
    occurred_at, prev_hash, hash)
SELECT id, tenant_id, seq, ticket_id, actor_id, kind, payload, occurred_at, prev_hash, hash
FROM audit_events;
DROP TABLE audit_events;
ALTER TABLE audit_events_by_seq RENAME TO audit_events;
CREATE INDEX audit_events_by_ticket ON audit_events (ticket_id, seq);
