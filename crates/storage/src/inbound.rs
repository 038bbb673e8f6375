//! Email in: the messages taken in (by Message-ID), the organisations' inbound tokens, the
//! IMAP mailboxes polled and the UIDs taken from them, and attachments (bytes stored once per
//! organisation and SHA-256, linked to a ticket's message).

use jiff::Timestamp;
use ladder_core::{CommentId, CustomerId, TenantId, TicketId, UserId};
use sqlx::AnyConnection;

use crate::directory::{customer_from_row, Customer};
use crate::row::{in_table, micros, new_id, RowExt};
use crate::sql::{Sql, CHUNK};
use crate::{Db, Result, StorageError};

// --- messages -------------------------------------------------------------------------------

/// What became of a message taken in earlier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taken {
    /// `created`, `replied`, `ignored`, or `pending` inside the transaction taking it.
    pub outcome: String,
    pub ticket_id: Option<TicketId>,
}

/// Claims `message_id` for this organisation inside the caller's write transaction: `None`
/// when it is new (a `pending` row now holds it until [`finish_message`]), else what was made
/// of it before. On PostgreSQL a second transaction claiming the same id waits for the first
/// to end, so a message delivered twice at once still makes one ticket.
pub async fn claim_message(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    message_id: &str,
    now: Timestamp,
) -> Result<Option<Taken>> {
    let inserted = sqlx::query(
        "INSERT INTO inbound_messages (tenant_id, message_id, outcome, received_at) \
         VALUES ($1, $2, 'pending', $3) ON CONFLICT DO NOTHING",
    )
    .bind(tenant_id.as_str())
    .bind(message_id)
    .bind(micros(now))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(None);
    }
    let row: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT outcome, ticket_id FROM inbound_messages WHERE tenant_id = $1 AND message_id = $2",
    )
    .bind(tenant_id.as_str())
    .bind(message_id)
    .fetch_optional(conn)
    .await?;
    let (outcome, ticket_id) = row.ok_or_else(|| StorageError::Corrupt {
        table: "inbound_messages",
        detail: format!("message {message_id:?} was neither inserted nor found"),
    })?;
    Ok(Some(Taken {
        outcome,
        ticket_id: ticket_id.map(TicketId),
    }))
}

/// Records what a claimed message became (`created`, `replied` or `ignored`).
pub async fn finish_message(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    message_id: &str,
    outcome: &str,
    ticket_id: Option<&TicketId>,
    comment_id: Option<&CommentId>,
) -> Result<()> {
    sqlx::query(
        "UPDATE inbound_messages SET outcome = $3, ticket_id = $4, comment_id = $5 \
         WHERE tenant_id = $1 AND message_id = $2",
    )
    .bind(tenant_id.as_str())
    .bind(message_id)
    .bind(outcome)
    .bind(ticket_id.map(TicketId::as_str))
    .bind(comment_id.map(CommentId::as_str))
    .execute(conn)
    .await?;
    Ok(())
}

/// The ticket of the first of `message_ids` (most relevant first) that names a message this
/// organisation received or sent, if any.
pub async fn ticket_of_messages(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    message_ids: &[String],
) -> Result<Option<TicketId>> {
    for id in message_ids {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT ticket_id FROM inbound_messages \
             WHERE tenant_id = $1 AND message_id = $2 AND ticket_id IS NOT NULL \
             UNION ALL \
             SELECT ticket_id FROM deliveries \
             WHERE idempotency_key = $2 AND tenant_id = $1 AND ticket_id IS NOT NULL \
             LIMIT 1",
        )
        .bind(tenant_id.as_str())
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some((t,)) = row {
            return Ok(Some(TicketId(t)));
        }
    }
    Ok(None)
}

/// The organisation's customer with this email address, whatever its case (the oldest, if
/// several share it). SQLite's `lower` folds ASCII only, as for sign-in.
pub async fn customer_by_email(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    email: &str,
) -> Result<Option<Customer>> {
    let row = sqlx::query(
        "SELECT id, name, email, phone, tier, created_at FROM customers \
         WHERE tenant_id = $1 AND lower(email) = lower($2) ORDER BY created_at, id LIMIT 1",
    )
    .bind(tenant_id.as_str())
    .bind(email)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(customer_from_row).transpose()
}

// --- tokens ---------------------------------------------------------------------------------

/// Sets the organisation's inbound token (by its hash), replacing the one before.
pub async fn set_token(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    token_hash: &str,
    created_by: Option<&UserId>,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO inbound_tokens (tenant_id, token_hash, created_by, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id) DO UPDATE \
         SET token_hash = excluded.token_hash, created_by = excluded.created_by, \
             created_at = excluded.created_at",
    )
    .bind(tenant_id.as_str())
    .bind(token_hash)
    .bind(created_by.map(UserId::as_str))
    .bind(micros(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// When the organisation's inbound token was set, if it has one (never the token itself).
pub async fn token_set_at(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
) -> Result<Option<Timestamp>> {
    let row = sqlx::query("SELECT created_at FROM inbound_tokens WHERE tenant_id = $1")
        .bind(tenant_id.as_str())
        .fetch_optional(conn)
        .await?;
    row.map(|r| in_table("inbound_tokens", &r, |r| r.time("created_at")))
        .transpose()
}

/// The organisation whose inbound token hashes to `token_hash`.
pub async fn tenant_of_token(db: &Db, token_hash: &str) -> Result<Option<TenantId>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT tenant_id FROM inbound_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(db.pool())
            .await?;
    Ok(row.map(|(t,)| TenantId(t)))
}

// --- attachments ----------------------------------------------------------------------------

/// One file on a ticket's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub id: String,
    pub ticket_id: TicketId,
    /// `None`: on the message that opened the ticket.
    pub comment_id: Option<CommentId>,
    pub sha256: String,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub created_at: Timestamp,
}

pub struct NewAttachment<'a> {
    pub ticket_id: &'a TicketId,
    pub comment_id: Option<&'a CommentId>,
    pub filename: &'a str,
    pub content_type: &'a str,
    /// Lower-case hex of the SHA-256 of `data`.
    pub sha256: &'a str,
    pub data: &'a [u8],
}

/// Stores a file: its bytes once per organisation and content, and its link to the message.
pub async fn insert_attachment(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    a: NewAttachment<'_>,
    now: Timestamp,
) -> Result<Attachment> {
    let size = i64::try_from(a.data.len()).map_err(|e| StorageError::Corrupt {
        table: "attachment_blobs",
        detail: format!("a file of {} bytes: {e}", a.data.len()),
    })?;
    sqlx::query(
        "INSERT INTO attachment_blobs (tenant_id, sha256, size, data, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(tenant_id.as_str())
    .bind(a.sha256)
    .bind(size)
    .bind(a.data.to_vec())
    .bind(micros(now))
    .execute(&mut *conn)
    .await?;
    let id = new_id();
    sqlx::query(
        "INSERT INTO attachments (id, tenant_id, ticket_id, comment_id, sha256, filename, \
         content_type, size, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(tenant_id.as_str())
    .bind(a.ticket_id.as_str())
    .bind(a.comment_id.map(CommentId::as_str))
    .bind(a.sha256)
    .bind(a.filename)
    .bind(a.content_type)
    .bind(size)
    .bind(micros(now))
    .execute(conn)
    .await?;
    Ok(Attachment {
        id,
        ticket_id: a.ticket_id.clone(),
        comment_id: a.comment_id.cloned(),
        sha256: a.sha256.to_owned(),
        filename: a.filename.to_owned(),
        content_type: a.content_type.to_owned(),
        size,
        created_at: now,
    })
}

const ATTACHMENT_COLS: &str =
    "id, ticket_id, comment_id, sha256, filename, content_type, size, created_at";

fn attachment_from_row(row: &sqlx::any::AnyRow) -> Result<Attachment> {
    in_table("attachments", row, |row| {
        let size = row.int("size")?;
        if size < 0 {
            return Err(StorageError::Corrupt {
                table: "?",
                detail: format!("negative size {size}"),
            });
        }
        Ok(Attachment {
            id: row.text("id")?,
            ticket_id: TicketId(row.text("ticket_id")?),
            comment_id: row.opt_text("comment_id")?.map(CommentId),
            sha256: row.text("sha256")?,
            filename: row.text("filename")?,
            content_type: row.text("content_type")?,
            size,
            created_at: row.time("created_at")?,
        })
    })
}

/// One attachment of the organisation.
pub async fn attachment(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    id: &str,
) -> Result<Option<Attachment>> {
    let row = sqlx::query(&format!(
        "SELECT {ATTACHMENT_COLS} FROM attachments WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant_id.as_str())
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(attachment_from_row).transpose()
}

/// A ticket's attachments, oldest first.
pub async fn ticket_attachments(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    ticket_id: &TicketId,
) -> Result<Vec<Attachment>> {
    let rows = sqlx::query(&format!(
        "SELECT {ATTACHMENT_COLS} FROM attachments WHERE tenant_id = $1 AND ticket_id = $2 \
         ORDER BY created_at, id"
    ))
    .bind(tenant_id.as_str())
    .bind(ticket_id.as_str())
    .fetch_all(conn)
    .await?;
    rows.iter().map(attachment_from_row).collect()
}

/// The bytes of an attachment. Bytes that are missing or of another length than recorded are
/// a corrupt row, never a shorter download.
pub async fn attachment_data(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    a: &Attachment,
) -> Result<Vec<u8>> {
    // `substr(data, 1)`: the whole value, typed as a blob on SQLite too (see the migration).
    let row: Option<(Vec<u8>,)> = sqlx::query_as(
        "SELECT substr(data, 1) FROM attachment_blobs WHERE tenant_id = $1 AND sha256 = $2",
    )
    .bind(tenant_id.as_str())
    .bind(&a.sha256)
    .fetch_optional(conn)
    .await?;
    match row {
        Some((data,)) if i64::try_from(data.len()).ok() == Some(a.size) => Ok(data),
        Some((data,)) => Err(StorageError::Corrupt {
            table: "attachment_blobs",
            detail: format!(
                "row {}: {} bytes stored for attachment {} of {} bytes",
                a.sha256,
                data.len(),
                a.id,
                a.size
            ),
        }),
        None => Err(StorageError::Corrupt {
            table: "attachments",
            detail: format!("row {}: no stored bytes for {}", a.id, a.sha256),
        }),
    }
}

// --- IMAP mailboxes -------------------------------------------------------------------------

/// An organisation's mailbox, its password still sealed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mailbox {
    pub tenant_id: TenantId,
    pub host: String,
    pub port: u16,
    /// `none`, `starttls` or `tls`.
    pub tls: String,
    pub username: String,
    pub password_sealed: String,
    pub folder: String,
    /// Where a message taken goes; `None`: it stays in `folder`, flagged `\Seen`.
    pub processed_folder: Option<String>,
    pub last_polled_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub updated_at: Timestamp,
}

const MAILBOX_COLS: &str = "tenant_id, host, port, tls, username, password_sealed, folder, \
                            processed_folder, last_polled_at, last_error, updated_at";

fn mailbox_from_row(row: &sqlx::any::AnyRow) -> Result<Mailbox> {
    in_table("inbound_mailboxes", row, |row| {
        let port = row.int("port")?;
        Ok(Mailbox {
            tenant_id: TenantId(row.text("tenant_id")?),
            host: row.text("host")?,
            port: u16::try_from(port).map_err(|e| StorageError::Corrupt {
                table: "?",
                detail: format!("port {port}: {e}"),
            })?,
            tls: row.text("tls")?,
            username: row.text("username")?,
            password_sealed: row.text("password_sealed")?,
            folder: row.text("folder")?,
            processed_folder: row.opt_text("processed_folder")?,
            last_polled_at: row.opt_time("last_polled_at")?,
            last_error: row.opt_text("last_error")?,
            updated_at: row.time("updated_at")?,
        })
    })
}

/// Sets the organisation's mailbox (replacing the one before).
pub async fn set_mailbox(conn: &mut AnyConnection, m: &Mailbox) -> Result<()> {
    sqlx::query(
        "INSERT INTO inbound_mailboxes (tenant_id, host, port, tls, username, password_sealed, \
         folder, processed_folder, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (tenant_id) DO UPDATE SET host = excluded.host, port = excluded.port, \
         tls = excluded.tls, username = excluded.username, \
         password_sealed = excluded.password_sealed, folder = excluded.folder, \
         processed_folder = excluded.processed_folder, \
         last_error = NULL, updated_at = excluded.updated_at",
    )
    .bind(m.tenant_id.as_str())
    .bind(&m.host)
    .bind(i64::from(m.port))
    .bind(&m.tls)
    .bind(&m.username)
    .bind(&m.password_sealed)
    .bind(&m.folder)
    .bind(m.processed_folder.as_deref())
    .bind(micros(m.updated_at))
    .execute(conn)
    .await?;
    Ok(())
}

/// The organisation's mailbox, if it set one.
pub async fn mailbox(conn: &mut AnyConnection, tenant_id: &TenantId) -> Result<Option<Mailbox>> {
    let row = sqlx::query(&format!(
        "SELECT {MAILBOX_COLS} FROM inbound_mailboxes WHERE tenant_id = $1"
    ))
    .bind(tenant_id.as_str())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(mailbox_from_row).transpose()
}

/// Every organisation's mailbox: what the poller visits.
pub async fn mailboxes(db: &Db) -> Result<Vec<Mailbox>> {
    let rows = sqlx::query(&format!(
        "SELECT {MAILBOX_COLS} FROM inbound_mailboxes ORDER BY tenant_id"
    ))
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(mailbox_from_row).collect()
}

/// Records a poll of the organisation's mailbox and what failed in it, if anything.
pub async fn mark_polled(
    db: &Db,
    tenant_id: &TenantId,
    error: Option<&str>,
    now: Timestamp,
) -> Result<()> {
    let mut tx = db.write().await?;
    sqlx::query(
        "UPDATE inbound_mailboxes SET last_polled_at = $2, last_error = $3 WHERE tenant_id = $1",
    )
    .bind(tenant_id.as_str())
    .bind(micros(now))
    .bind(error)
    .execute(tx.conn())
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Records a message taken from the mailbox, in the transaction that makes its ticket:
/// `false` when it was taken before.
pub async fn take_uid(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    uid_validity: u32,
    uid: u32,
    now: Timestamp,
) -> Result<bool> {
    let n = sqlx::query(
        "INSERT INTO inbound_mailbox_taken (tenant_id, uid_validity, uid, taken_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(tenant_id.as_str())
    .bind(i64::from(uid_validity))
    .bind(i64::from(uid))
    .bind(micros(now))
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Which of `uids` (under `uid_validity`) were taken already.
pub async fn taken_uids(
    db: &Db,
    tenant_id: &TenantId,
    uid_validity: u32,
    uids: &[u32],
) -> Result<Vec<u32>> {
    let mut out = Vec::new();
    let mut conn = db.conn().await?;
    for chunk in uids.chunks(CHUNK) {
        let mut q = Sql::new("");
        let t = q.text_arg(tenant_id.0.clone());
        let v = q.int_arg(i64::from(uid_validity));
        let mut list = String::new();
        for (i, uid) in chunk.iter().enumerate() {
            if i > 0 {
                list.push_str(", ");
            }
            list.push_str(&q.int_arg(i64::from(*uid)).to_string());
        }
        q.push(&format!(
            "SELECT uid FROM inbound_mailbox_taken WHERE tenant_id = {t} AND uid_validity = {v} \
             AND uid IN ({list})"
        ));
        for row in q.fetch_all(&mut conn).await? {
            let uid = row.int("uid")?;
            out.push(u32::try_from(uid).map_err(|e| StorageError::Corrupt {
                table: "inbound_mailbox_taken",
                detail: format!("uid {uid}: {e}"),
            })?);
        }
    }
    Ok(out)
}

/// The customer of a ticket, for threading checks.
pub async fn ticket_customer(
    conn: &mut AnyConnection,
    tenant_id: &TenantId,
    ticket_id: &TicketId,
) -> Result<Option<CustomerId>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT customer_id FROM tickets WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id.as_str())
            .bind(ticket_id.as_str())
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|(c,)| CustomerId(c)))
}

/// The organisation of an attachment on a ticket escalated to the platform: the one
/// cross-organisation read, for platform support (as `flows::tickets::ticket_tenant`).
pub async fn attachment_tenant_for_platform(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<TenantId>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT a.tenant_id FROM attachments a WHERE a.id = $1 AND EXISTS (\
         SELECT 1 FROM escalations e WHERE e.tenant_id = a.tenant_id \
         AND e.ticket_id = a.ticket_id AND e.target_key = 'platform')",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(t,)| TenantId(t)))
}
