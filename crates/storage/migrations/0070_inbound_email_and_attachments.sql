-- Email in. Every message taken in is kept by its Message-ID (per organisation), so the same
-- message delivered twice (an MTA's retry, a mailbox polled again) makes one ticket, and a
-- later reply that names it in In-Reply-To/References finds its ticket. `outcome` is
-- `created`, `replied` or `ignored` (an auto-reply, a bounce, our own mail): an ignored
-- message has no ticket.
CREATE TABLE inbound_messages (
    tenant_id    TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    ticket_id    TEXT,
    comment_id   TEXT,
    received_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, message_id)
);

-- A reply to an email we sent names its Message-ID (the delivery's idempotency key).
CREATE INDEX deliveries_by_message_id ON deliveries (idempotency_key);

-- The sender finds their customer whatever the case of the address.
CREATE INDEX customers_by_email ON customers (tenant_id, lower(email));

-- The token a mail server's pipe (`ladder mailgate`) posts with: one per organisation, kept
-- as its SHA-256 like a session's.
CREATE TABLE inbound_tokens (
    tenant_id   TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    created_by  TEXT,
    created_at  BIGINT NOT NULL
);

-- Attachments: the bytes once per organisation and content (SHA-256, hex), and one link row
-- per file on a ticket's message. `comment_id` is NULL for the message that opened the
-- ticket. `data` is read through `substr(data, 1)` (see attachments.rs): SQLite's declared
-- type BYTEA is not one sqlx's Any driver describes, while the expression's value is a blob.
CREATE TABLE attachment_blobs (
    tenant_id   TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    size        BIGINT NOT NULL,
    data        BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, sha256)
);
CREATE TABLE attachments (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    ticket_id     TEXT NOT NULL,
    comment_id    TEXT,
    sha256        TEXT NOT NULL,
    filename      TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size          BIGINT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX attachments_by_ticket ON attachments (tenant_id, ticket_id, created_at, id);

-- A mailbox polled over IMAP, one per organisation. The password is sealed with the
-- server's key (ChaCha20-Poly1305, `inbound::secret`), never stored in clear.
CREATE TABLE inbound_mailboxes (
    tenant_id        TEXT PRIMARY KEY,
    host             TEXT NOT NULL,
    port             BIGINT NOT NULL,
    tls              TEXT NOT NULL,
    username         TEXT NOT NULL,
    password_sealed  TEXT NOT NULL,
    folder           TEXT NOT NULL,
    last_polled_at   BIGINT,
    last_error       TEXT,
    updated_at       BIGINT NOT NULL
);
-- The messages taken from a mailbox, by UIDVALIDITY and UID, written in the transaction
-- that makes their ticket: a message flagged \Seen after a crash is still taken once.
CREATE TABLE inbound_mailbox_taken (
    tenant_id     TEXT NOT NULL,
    uid_validity  BIGINT NOT NULL,
    uid           BIGINT NOT NULL,
    taken_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, uid_validity, uid)
);
