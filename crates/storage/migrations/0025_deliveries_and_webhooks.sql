-- Notifications leave the building. The outbox keeps one row per notification; the delivery
-- worker fans each out into one delivery per recipient and channel (an email address, a
-- webhook endpoint), rendered once, with the idempotency key the receiver sees (the email's
-- Message-ID, the webhook's `webhook-id`). A fanned-out outbox row gets `delivered_at`: it
-- was handed over to its deliveries, in the transaction that wrote them.
CREATE TABLE deliveries (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    -- The outbox row it came from (its idempotency key), and the ticket it is about.
    message_key      TEXT NOT NULL,
    ticket_id        TEXT,
    -- `email` or `webhook`; the recipient is an email address or a webhook's id.
    channel          TEXT NOT NULL,
    recipient        TEXT NOT NULL,
    -- The notification kind (email) or event name (webhook).
    kind             TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL,
    subject          TEXT NOT NULL,
    body_text        TEXT NOT NULL,
    body_html        TEXT,
    -- A customer email's thread: the Message-ID it replies to, if any.
    thread_id        TEXT,
    state            TEXT NOT NULL,
    attempts         BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    delivered_at     BIGINT
);
CREATE UNIQUE INDEX deliveries_one_per_recipient ON deliveries (message_key, channel, recipient);
CREATE INDEX deliveries_due ON deliveries (channel, next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_by_tenant ON deliveries (tenant_id, state, created_at);

CREATE TABLE webhooks (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    url         TEXT NOT NULL,
    -- JSON array of event names.
    events      TEXT NOT NULL,
    secret      TEXT NOT NULL,
    created_by  TEXT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX webhooks_by_tenant ON webhooks (tenant_id, created_at);

-- Kinds of email turned off: by a staff member for themselves (`subject` is their user id),
-- or by the organisation for its customers (`subject` is `customers`).
CREATE TABLE email_opt_outs (
    tenant_id  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, subject, kind)
);
