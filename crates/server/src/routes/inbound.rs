//! Email in (`POST /inbound/email`, the organisation's inbound token, its IMAP mailbox) and
//! attachments (`GET /attachments/{id}`, a ticket's list).

use axum::body::Body;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use ladder_core::{TenantId, TicketId};
use ladder_storage::inbound as store;
use ladder_storage::{tickets, StorageError};
use serde::{Deserialize, Serialize};

use crate::auth::{token_hash, Caller};
use crate::error::{ApiError, ApiResult};
use crate::flows::attachments::{self, NewFile};
use crate::inbound::{self, imap::Tls, Outcome, SetMailbox, Source, Us};
use crate::json::Json;
use crate::state::AppState;
use crate::transport::BodyTimedOut;

/// What became of a message sent to `POST /inbound/email`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct InboundResult {
    /// The ticket it opened or was added to; null when ignored.
    pub ticket_id: Option<String>,
    /// Whether it opened a ticket (now or, for a duplicate, the first time).
    pub created: bool,
    pub outcome: Outcome,
    /// The same message (by Message-ID) was taken before: nothing was written.
    pub duplicate: bool,
    /// Why it was ignored (an auto-reply, a bounce, our own mail).
    pub reason: Option<String>,
}

/// The organisation an inbound request is for: its inbound token, or an owner's or admin's
/// bearer token.
async fn inbound_tenant(state: &AppState, headers: &HeaderMap) -> ApiResult<TenantId> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .ok_or_else(|| {
            ApiError::Unauthorized(
                "send Authorization: Bearer <the organisation's inbound token>".into(),
            )
        })?;
    if let Some(tenant) = store::tenant_of_token(&state.db, &token_hash(token)).await? {
        return Ok(tenant);
    }
    let caller = Caller::of_token(state, token)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("the token is unknown, expired or revoked".into()))?;
    caller.require_manager("post email with a personal token; use the inbound token")?;
    Ok(caller.tenant_id().clone())
}

/// Takes in one raw RFC 5322 message (`Content-Type: message/rfc822`): a new message opens a
/// ticket for the customer found (or added) by its sender; a reply (In-Reply-To, References,
/// or the ticket's `[#id]` in the subject) is added to its ticket, reopening a resolved one.
/// Auto-replies, bounces and our own mail open nothing (200, `ignored`). The same Message-ID
/// twice is taken once (200, `duplicate`). Authenticated by the organisation's inbound token
/// (`POST /inbound/token`) or an owner's or admin's bearer token.
#[utoipa::path(post, path = "/inbound/email", operation_id = "receive_inbound_email", tag = "inbound",
    request_body(content = String, content_type = "message/rfc822", description = "One raw RFC 5322 message"),
    responses(
        (status = 201, body = InboundResult, description = "A ticket was opened or a message added"),
        (status = 200, body = InboundResult, description = "Ignored, or taken before"),
        (status = 413, body = crate::error::Problem),
        (status = 415, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn receive(State(state): State<AppState>, req: Request) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    let tenant = inbound_tenant(&state, &parts.headers).await?;
    let ctype = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ctype
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("message/rfc822"))
    {
        return Err(ApiError::Invalid {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            field: None,
            detail: "send the raw message with Content-Type: message/rfc822".into(),
        });
    }
    let raw = read_body(body, state.inbound.max_message_bytes).await?;
    // Parsing a message of up to the limit (25 MiB by default) takes long enough to hold up
    // whatever else the thread runs: here, every write (`on_write_lane`).
    let settings = state.inbound.clone();
    let message = tokio::task::spawn_blocking(move || inbound::prepare(&settings, raw.to_vec()))
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("parsing the message: {e}")))??;
    let received = inbound::receive(
        &state.db,
        &Us::of(&state.notifier),
        &state.inbound,
        &tenant,
        message,
        Source::Http,
        state.now(),
    )
    .await?;
    let wrote = !received.duplicate && received.outcome != Outcome::Ignored;
    if wrote {
        state.metrics.event(match received.outcome {
            Outcome::Created => "ticket_created",
            _ => "inbound_reply",
        });
    }
    let body = InboundResult {
        ticket_id: received.ticket_id.map(|t| t.0),
        created: received.outcome == Outcome::Created,
        outcome: received.outcome,
        duplicate: received.duplicate,
        reason: received.reason,
    };
    let status = if wrote {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(body)).into_response())
}

/// Reads a body whole, up to `limit` bytes: 413 beyond, 408 when it stops arriving.
async fn read_body(body: Body, limit: usize) -> ApiResult<bytes::Bytes> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|e| match BodyTimedOut::in_chain(&e) {
            Some(t) => ApiError::Invalid {
                status: StatusCode::REQUEST_TIMEOUT,
                field: None,
                detail: t.to_string(),
            },
            None => ApiError::Invalid {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                field: None,
                detail: format!("the message is over the limit of {limit} bytes (or was cut off)"),
            },
        })
}

/// `POST /tickets/{id}/comments` as `multipart/form-data`, for the OpenAPI document: the
/// comment as JSON in a part named `comment`, and one part named `file` per file.
#[derive(utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // describes the form; the handler reads it with multer
pub struct NewCommentUpload {
    /// The comment, as the JSON body of the plain request (`{body, public, …}`).
    #[schema(content_media_type = "application/json")]
    comment: crate::routes::tickets::NewCommentRequest,
    /// The files, one part each, with its file name and content type; each at most
    /// `--attachment-max-bytes`, the whole request at most `--inbound-max-message-bytes`.
    /// Any bytes are a file, so the schema states no type (a typed one let the contract
    /// test call a part of the "wrong" type invalid, which no server can tell).
    #[schema(value_type = serde_json::Value)]
    #[serde(default)]
    file: Option<Vec<Vec<u8>>>,
}

/// The comment and its files of `POST /tickets/{id}/comments`: a JSON body (no files), or a
/// `multipart/form-data` one, read up to the message limit, each file up to the file limit
/// (413 naming the part beyond either; an email's oversized file is left out with a note
/// instead, but a person sending one can be told).
pub async fn comment_parts(
    state: &AppState,
    req: Request,
) -> ApiResult<(crate::routes::tickets::NewCommentRequest, Vec<NewFile>)> {
    let ctype = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let multipart = ctype
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("multipart/form-data"));
    if !multipart {
        let Json(comment) = Json::from_request(req, state).await?;
        return Ok((comment, Vec::new()));
    }
    let boundary = multer::parse_boundary(&ctype).map_err(|e| ApiError::Invalid {
        status: StatusCode::BAD_REQUEST,
        field: None,
        detail: format!("the multipart Content-Type: {e}"),
    })?;
    let raw = read_body(req.into_body(), state.inbound.max_message_bytes).await?;
    let malformed = |e: multer::Error| ApiError::Invalid {
        status: StatusCode::BAD_REQUEST,
        field: None,
        detail: format!("the multipart body: {e}"),
    };
    let mut form = multer::Multipart::new(
        futures::stream::once(async move { Ok::<_, std::convert::Infallible>(raw) }),
        boundary,
    );
    let mut comment = None;
    let mut files = Vec::new();
    while let Some(part) = form.next_field().await.map_err(malformed)? {
        match part.name().unwrap_or("") {
            "comment" if comment.is_none() => {
                let json = part.bytes().await.map_err(malformed)?;
                let parsed = crate::json::parse(&json).map_err(|e| match e {
                    ApiError::Invalid {
                        status,
                        field,
                        detail,
                    } => ApiError::Invalid {
                        status,
                        field: Some(field.map_or("comment".into(), |f| format!("comment.{f}"))),
                        detail,
                    },
                    e => e,
                })?;
                comment = Some(parsed);
            }
            "file" => {
                let at = format!("file[{}]", files.len());
                // A part without a file name (a form field, a client that sent none) is still
                // a file: it is named for the download.
                let filename = part
                    .file_name()
                    .filter(|n| !n.trim().is_empty())
                    .unwrap_or("attachment")
                    .to_owned();
                let content_type = part
                    .content_type()
                    .map_or("application/octet-stream".into(), |m| m.to_string());
                let data = part.bytes().await.map_err(malformed)?;
                let limit = state.inbound.max_file_bytes;
                if data.len() > limit {
                    return Err(ApiError::Invalid {
                        status: StatusCode::PAYLOAD_TOO_LARGE,
                        field: Some(at),
                        detail: format!(
                            "{filename:?} is {} bytes, over the limit of {limit} bytes a file",
                            data.len()
                        ),
                    });
                }
                files.push(NewFile {
                    filename,
                    content_type,
                    data: data.to_vec(),
                });
            }
            other => {
                return Err(ApiError::field(
                    if other.is_empty() { "form" } else { other },
                    "send the comment as JSON in one part named `comment` and each file in a part named `file`",
                ))
            }
        }
    }
    let comment = comment.ok_or_else(|| {
        ApiError::field("comment", "the comment's JSON in a part named `comment`")
    })?;
    attachments::check(&files, "file")?;
    Ok((comment, files))
}

/// A new inbound token, shown once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct InboundToken {
    /// For `ladder mailgate --token` and `POST /inbound/email`; it only posts email.
    pub token: String,
}

/// Sets a new inbound token for the organisation (owners and admins), replacing the one
/// before. The token is shown only in this response.
#[utoipa::path(post, path = "/inbound/token", operation_id = "create_inbound_token", tag = "inbound",
    responses((status = 201, body = InboundToken)), security(("bearer" = [])))]
pub async fn new_token(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<(StatusCode, Json<InboundToken>)> {
    let token = inbound::new_token(&state.db, &caller.actor, state.now()).await?;
    Ok((StatusCode::CREATED, Json(InboundToken { token })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MailboxRequest {
    /// A host name or IP address.
    #[schema(min_length = 1, max_length = 253, pattern = r"^[A-Za-z0-9.:\[\]-]+$")]
    pub host: String,
    #[schema(minimum = 1, maximum = 65535)]
    pub port: u16,
    /// `tls` (port 993), `starttls` (port 143) or `none`.
    pub tls: TlsMode,
    #[schema(value_type = ladder_core::text::ShortText)]
    pub username: String,
    /// Kept sealed with the server's key; never shown again. Left out (or empty) when the
    /// mailbox is changed, it keeps the password set before; required the first time.
    #[schema(value_type = Option<String>, format = Password)]
    #[serde(default)]
    pub password: Option<secrecy::SecretString>,
    #[serde(default = "inbox")]
    #[schema(value_type = ladder_core::text::ShortText, default = "INBOX")]
    pub folder: String,
    /// Where a message goes once it is a ticket (created if missing): moved with `UID MOVE`
    /// where the server has it, else copied and expunged. Null or left out: it stays in
    /// `folder`, flagged `\Seen`.
    #[serde(default)]
    pub processed_folder: Option<String>,
}

/// How the connection to the mailbox is protected.
#[derive(Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    None,
    Tls,
    Starttls,
}

impl From<TlsMode> for Tls {
    fn from(m: TlsMode) -> Tls {
        match m {
            TlsMode::None => Tls::None,
            TlsMode::Tls => Tls::Tls,
            TlsMode::Starttls => Tls::StartTls,
        }
    }
}

fn inbox() -> String {
    "INBOX".into()
}

/// The organisation's IMAP mailbox, without its password.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MailboxView {
    pub host: String,
    pub port: u16,
    pub tls: String,
    pub username: String,
    pub folder: String,
    /// Where a message taken goes; null: it stays in `folder`, flagged `\Seen`.
    pub processed_folder: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_polled_at: Option<Timestamp>,
    /// What went wrong in the last poll, if anything.
    pub last_error: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl From<store::Mailbox> for MailboxView {
    fn from(m: store::Mailbox) -> MailboxView {
        MailboxView {
            host: m.host,
            port: m.port,
            tls: m.tls,
            username: m.username,
            folder: m.folder,
            processed_folder: m.processed_folder,
            last_polled_at: m.last_polled_at,
            last_error: m.last_error,
            updated_at: m.updated_at,
        }
    }
}

/// Sets the IMAP mailbox the server watches for the organisation (owners and admins): with
/// IDLE where the server offers it, else polled. Its messages become tickets, each once, and
/// are then moved to `processed_folder`, or (without one) flagged `\Seen`.
#[utoipa::path(put, path = "/inbound/imap", operation_id = "set_inbound_mailbox", tag = "inbound", request_body = MailboxRequest,
    responses((status = 200, body = MailboxView), (status = 409, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn set_mailbox(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<MailboxRequest>,
) -> ApiResult<Json<MailboxView>> {
    let m = inbound::set_mailbox(
        &state.db,
        &state.inbound,
        &caller.actor,
        SetMailbox {
            host: req.host,
            port: req.port,
            tls: req.tls.into(),
            username: req.username,
            password: req.password,
            folder: req.folder,
            processed_folder: req.processed_folder,
        },
        state.now(),
    )
    .await?;
    Ok(Json(m.into()))
}

/// The organisation's IMAP mailbox and how its last poll went (owners and admins).
#[utoipa::path(get, path = "/inbound/imap", operation_id = "get_inbound_mailbox", tag = "inbound",
    responses((status = 200, body = MailboxView), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn get_mailbox(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<MailboxView>> {
    caller.require_manager("see the organisation's mailbox")?;
    let mut conn = state.db.conn().await?;
    let m = store::mailbox(&mut conn, caller.tenant_id())
        .await?
        .ok_or_else(|| ApiError::not_found("mailbox"))?;
    Ok(Json(m.into()))
}

/// A file on a ticket's message.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AttachmentView {
    pub id: String,
    pub ticket_id: String,
    /// The comment it came with; null for the message that opened the ticket.
    pub comment_id: Option<String>,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    /// Where to download it.
    pub url: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<store::Attachment> for AttachmentView {
    fn from(a: store::Attachment) -> AttachmentView {
        AttachmentView {
            url: format!("/api/v1/attachments/{}", a.id),
            id: a.id,
            ticket_id: a.ticket_id.0,
            comment_id: a.comment_id.map(|c| c.0),
            filename: a.filename,
            content_type: a.content_type,
            size: a.size,
            created_at: a.created_at,
        }
    }
}

/// The organisation whose ticket the caller may read, or not found.
async fn readable(
    state: &AppState,
    caller: &Caller,
    ticket: &TicketId,
) -> ApiResult<(TenantId, tickets::Ticket)> {
    let mut conn = state.db.conn().await?;
    let tenant = crate::flows::tickets::ticket_tenant(&mut conn, &caller.actor, ticket).await?;
    let t = tickets::get(&mut conn, &tenant, ticket)
        .await?
        .ok_or_else(|| ApiError::not_found("ticket"))?;
    Ok((tenant, t))
}

/// A ticket's attachments, oldest first.
#[utoipa::path(get, path = "/tickets/{id}/attachments", operation_id = "list_ticket_attachments", tag = "tickets", params(("id" = String, Path)),
    responses((status = 200, body = Vec<AttachmentView>), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<AttachmentView>>> {
    let (tenant, t) = readable(&state, &caller, &TicketId(id)).await?;
    let mut conn = state.db.conn().await?;
    let list = store::ticket_attachments(&mut conn, &tenant, &t.id).await?;
    Ok(Json(list.into_iter().map(AttachmentView::from).collect()))
}

/// Content types a browser would run or render as a page: they are sent as bytes to save.
fn served_type(stored: &str) -> &str {
    let t = stored.to_ascii_lowercase();
    let active = t.contains("html")
        || t.contains("xml")
        || t.contains("javascript")
        || t.contains("ecmascript")
        || t.starts_with("multipart/");
    if active {
        "application/octet-stream"
    } else {
        stored
    }
}

/// `attachment; filename="…"; filename*=UTF-8''…` (RFC 6266): an ASCII name for old clients
/// and the exact one percent-encoded.
fn disposition(filename: &str) -> String {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let exact = percent_encoding::utf8_percent_encode(filename, percent_encoding::NON_ALPHANUMERIC);
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{exact}")
}

/// Downloads an attachment, to those who may read its ticket. It is always a download
/// (`Content-Disposition: attachment`), never rendered: HTML and other active content is sent
/// as `application/octet-stream`, under a sandboxing Content-Security-Policy.
#[utoipa::path(get, path = "/attachments/{id}", operation_id = "get_attachment", tag = "tickets", params(("id" = String, Path)),
    responses((status = 200, description = "The file's bytes", content_type = "application/octet-stream"), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let mut conn = state.db.conn().await?;
    let tenant = if caller.is_platform() {
        store::attachment_tenant_for_platform(&mut conn, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("attachment"))?
    } else {
        caller.tenant_id().clone()
    };
    let a = store::attachment(&mut conn, &tenant, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("attachment"))?;
    drop(conn);
    // Whoever may read the ticket may read its files.
    readable(&state, &caller, &a.ticket_id)
        .await
        .map_err(|_| ApiError::not_found("attachment"))?;
    let mut conn = state.db.conn().await?;
    let data = store::attachment_data(&mut conn, &tenant, &a)
        .await
        .map_err(|e: StorageError| ApiError::from(e))?;
    let ctype = HeaderValue::from_str(served_type(&a.content_type))
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&disposition(&a.filename))
        .unwrap_or(HeaderValue::from_static("attachment"));
    let mut res = Response::new(Body::from(data));
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, ctype);
    h.insert(header::CONTENT_DISPOSITION, disposition);
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_content_is_sent_as_bytes() {
        assert_eq!(served_type("text/html"), "application/octet-stream");
        assert_eq!(served_type("image/svg+xml"), "application/octet-stream");
        assert_eq!(served_type("application/pdf"), "application/pdf");
        assert_eq!(served_type("text/calendar"), "text/calendar");
    }

    #[test]
    fn file_names_are_quoted_safely() {
        assert_eq!(
            disposition("résumé \"1\".pdf"),
            "attachment; filename=\"r_sum_ _1_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%221%22%2Epdf"
        );
    }
}
