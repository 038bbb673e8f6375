-- One schema for SQLite and PostgreSQL. Portable types only: ids and JSON are TEXT,
-- instants are BIGINT microseconds since the Unix epoch (UTC), money is BIGINT minor units
-- beside a TEXT currency, flags are BOOLEAN.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    slug        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id),
    email          TEXT NOT NULL,
    name           TEXT NOT NULL,
    role           TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    away_until     BIGINT,
    created_at     BIGINT NOT NULL,
    UNIQUE (tenant_id, email)
);
CREATE INDEX users_by_role ON users (tenant_id, role);

CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE teams (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE team_members (
    tenant_id  TEXT NOT NULL,
    team_id    TEXT NOT NULL REFERENCES teams(id),
    user_id    TEXT NOT NULL REFERENCES users(id),
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_by_user ON team_members (user_id);

CREATE TABLE customers (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    name        TEXT NOT NULL,
    email       TEXT,
    phone       TEXT,
    tier        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX customers_by_tenant ON customers (tenant_id, created_at, id);

CREATE TABLE tickets (
    id                    TEXT PRIMARY KEY,
    tenant_id             TEXT NOT NULL REFERENCES tenants(id),
    subject               TEXT NOT NULL,
    description           TEXT NOT NULL,
    customer_id           TEXT NOT NULL REFERENCES customers(id),
    channel               TEXT NOT NULL,
    category              TEXT,
    priority              TEXT NOT NULL,
    status                TEXT NOT NULL,
    assignee_id           TEXT REFERENCES users(id),
    team_id               TEXT REFERENCES teams(id),
    tags                  TEXT NOT NULL,
    triggers              TEXT NOT NULL,
    active_escalation_id  TEXT,
    first_response_at     BIGINT,
    created_by            TEXT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
-- "Mine": the open work of one assignee, oldest first. Partial, so resolved history does
-- not slow the queue down as it grows.
CREATE INDEX tickets_mine ON tickets (tenant_id, assignee_id, created_at, id)
    WHERE status IN ('new', 'open', 'pending');
CREATE INDEX tickets_by_customer ON tickets (tenant_id, customer_id, created_at);
CREATE INDEX tickets_by_tenant ON tickets (tenant_id, created_at, id);

CREATE TABLE comments (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    ticket_id   TEXT NOT NULL REFERENCES tickets(id),
    author_id   TEXT REFERENCES users(id),
    body        TEXT NOT NULL,
    public      BOOLEAN NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX comments_by_ticket ON comments (ticket_id, created_at);

CREATE TABLE watchers (
    tenant_id   TEXT NOT NULL,
    ticket_id   TEXT NOT NULL REFERENCES tickets(id),
    user_id     TEXT NOT NULL REFERENCES users(id),
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (ticket_id, user_id)
);
CREATE INDEX watchers_by_user ON watchers (tenant_id, user_id, created_at, ticket_id);

CREATE TABLE ticket_links (
    tenant_id       TEXT NOT NULL,
    from_ticket_id  TEXT NOT NULL REFERENCES tickets(id),
    to_ticket_id    TEXT NOT NULL REFERENCES tickets(id),
    kind            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (from_ticket_id, to_ticket_id, kind)
);
CREATE INDEX ticket_links_to ON ticket_links (to_ticket_id);

CREATE TABLE escalations (
    id                    TEXT PRIMARY KEY,
    tenant_id             TEXT NOT NULL REFERENCES tenants(id),
    ticket_id             TEXT NOT NULL REFERENCES tickets(id),
    state                 TEXT NOT NULL,
    -- 'user:<id>', 'team:<id>', 'role:<role>' or 'platform': who sees it in their queue.
    target_key            TEXT NOT NULL,
    target_kind           TEXT NOT NULL,
    target_ref            TEXT,
    rung                  BIGINT NOT NULL,
    category              TEXT NOT NULL,
    note                  TEXT NOT NULL,
    tried                 TEXT,
    contact_method        TEXT NOT NULL,
    urgency               TEXT NOT NULL,
    priority              TEXT NOT NULL,
    triggers              TEXT NOT NULL,
    requested_by          TEXT,
    escalation_owner_id   TEXT REFERENCES users(id),
    previous_status       TEXT NOT NULL,
    previous_assignee_id  TEXT,
    previous_team_id      TEXT,
    snapshot              TEXT,
    -- The next deadline that matters (acknowledge while requested, then resolve): the
    -- escalations queue is ordered by it.
    due_at                BIGINT,
    ack_due_at            BIGINT,
    update_due_at         BIGINT,
    resolve_due_at        BIGINT,
    acknowledged_at       BIGINT,
    closed_at             BIGINT,
    resolution            TEXT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
CREATE INDEX escalations_queue ON escalations (tenant_id, target_key, due_at, id)
    WHERE state IN ('requested', 'acknowledged');
CREATE INDEX escalations_owned ON escalations (tenant_id, escalation_owner_id, due_at, id)
    WHERE state IN ('requested', 'acknowledged');
CREATE INDEX escalations_platform ON escalations (due_at, id)
    WHERE target_key = 'platform' AND state IN ('requested', 'acknowledged');
CREATE INDEX escalations_by_ticket ON escalations (ticket_id, created_at);
-- At most one active escalation per ticket, enforced by the database itself.
CREATE UNIQUE INDEX escalations_one_active ON escalations (ticket_id)
    WHERE state IN ('requested', 'acknowledged');

CREATE TABLE approvals (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    escalation_id  TEXT NOT NULL REFERENCES escalations(id),
    ticket_id      TEXT NOT NULL REFERENCES tickets(id),
    requested_by   TEXT NOT NULL REFERENCES users(id),
    approver_role  TEXT NOT NULL,
    amount_minor   BIGINT NOT NULL,
    currency       TEXT NOT NULL,
    state          TEXT NOT NULL,
    resolution     TEXT NOT NULL,
    decided_by     TEXT,
    decision_reason TEXT,
    created_at     BIGINT NOT NULL,
    decided_at     BIGINT
);
CREATE INDEX approvals_pending ON approvals (tenant_id, approver_role, created_at) WHERE state = 'pending';
CREATE UNIQUE INDEX approvals_one_pending ON approvals (escalation_id) WHERE state = 'pending';

-- Append-only, hash-chained per tenant: hash = sha256(prev_hash | seq | fields).
CREATE TABLE audit_events (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    ticket_id    TEXT,
    actor_id     TEXT,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    occurred_at  BIGINT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL,
    UNIQUE (tenant_id, seq)
);
CREATE INDEX audit_events_by_ticket ON audit_events (ticket_id, seq);

-- The head of each tenant's chain. Updating it takes a row lock on PostgreSQL, which is
-- what serialises appends per tenant without locking the whole table.
CREATE TABLE audit_heads (
    tenant_id  TEXT PRIMARY KEY,
    seq        BIGINT NOT NULL,
    hash       TEXT NOT NULL
);

-- Notifications written in the same transaction as the change they announce.
CREATE TABLE outbox (
    id                 TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL,
    ticket_id          TEXT,
    recipient_user_id  TEXT,
    recipient_email    TEXT,
    audience           TEXT NOT NULL,
    kind               TEXT NOT NULL,
    payload            TEXT NOT NULL,
    idempotency_key    TEXT NOT NULL UNIQUE,
    created_at         BIGINT NOT NULL,
    attempts           BIGINT NOT NULL,
    next_attempt_at    BIGINT NOT NULL,
    delivered_at       BIGINT,
    last_error         TEXT
);
CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE delivered_at IS NULL;
CREATE INDEX outbox_by_ticket ON outbox (ticket_id, created_at);

CREATE TABLE policies (
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    version     BIGINT NOT NULL,
    document    TEXT NOT NULL,
    created_by  TEXT,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, version)
);
