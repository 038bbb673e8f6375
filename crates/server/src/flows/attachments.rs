//! Files kept with a ticket's message: an email's attachments ([`crate::inbound`]) and the
//! files a staff member sends with a comment through the API. The bytes are stored once per
//! organisation and SHA-256 (`ladder_storage::inbound`), each file linked to its message.

use jiff::Timestamp;
use ladder_core::{AuditKind, CommentId, TenantId, TicketId, UserId};
use ladder_storage::inbound::{self as store, Attachment, NewAttachment};
use ladder_storage::WriteTx;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{record, FieldError, FlowError, FlowResult};

/// A file to keep.
pub struct NewFile {
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// Checks the names and types of files sent with a comment (`field` names them in a refusal);
/// their sizes are the edge's to check, before it reads them whole.
pub fn check(files: &[NewFile], field: &str) -> FlowResult<()> {
    let mut problems = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let name_ok = !f.filename.trim().is_empty()
            && f.filename.chars().count() <= 255
            && !f.filename.chars().any(char::is_control);
        if !name_ok {
            problems.push(FieldError {
                field: format!("{field}[{i}].filename"),
                detail: "a file name, at most 255 characters, no control characters".into(),
            });
        }
        let type_ok = f.content_type.len() <= 255
            && f.content_type
                .split_once('/')
                .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty() && f.content_type.is_ascii())
            && !f.content_type.chars().any(char::is_control);
        if !type_ok {
            problems.push(FieldError {
                field: format!("{field}[{i}].content_type"),
                detail: "a media type such as application/pdf".into(),
            });
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(FlowError::InvalidFields(problems))
    }
}

/// Stores files with a ticket's message inside the caller's write transaction: the message
/// that opened the ticket (`comment_id` none) or a comment. With `actor` (a staff member's
/// comment) each file is an audit event; an email's files are told by its own event.
#[allow(clippy::too_many_arguments)] // where the files go, who sent them, when
pub async fn store_files(
    tx: &mut WriteTx,
    tenant: &TenantId,
    ticket_id: &TicketId,
    comment_id: Option<&CommentId>,
    actor: Option<&UserId>,
    files: &[(&str, &str, &[u8])],
    now: Timestamp,
) -> FlowResult<Vec<Attachment>> {
    let mut stored = Vec::with_capacity(files.len());
    for (filename, content_type, data) in files {
        let sha = hex::encode(Sha256::digest(data));
        let a = store::insert_attachment(
            tx.conn(),
            tenant,
            NewAttachment {
                ticket_id,
                comment_id,
                filename,
                content_type,
                sha256: &sha,
                data,
            },
            now,
        )
        .await?;
        if let Some(actor) = actor {
            record(
                tx,
                tenant,
                Some(ticket_id),
                Some(actor),
                AuditKind::AttachmentAdded,
                json!({"attachment_id": a.id, "comment_id": comment_id, "filename": a.filename,
                       "content_type": a.content_type, "size": a.size, "sha256": a.sha256}),
                now,
            );
        }
        stored.push(a);
    }
    Ok(stored)
}
