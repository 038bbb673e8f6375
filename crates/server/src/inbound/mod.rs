//! Email in: a raw message (from `POST /api/v1/inbound/email`, `ladder mailgate` or an
//! IMAP mailbox) becomes a ticket, or a message on the ticket it answers.
//!
//! [`receive`] parses first ([`parse`]; a message that is not one is refused and nothing is
//! written), then in one write transaction: claims the Message-ID (the same message twice
//! makes one ticket), drops what a machine sent or what we sent ourselves, finds or adds the
//! customer by the sender's address, threads (In-Reply-To/References against the messages
//! we sent and received, then the `[#<ticket>]` reference in the subject), reopens a
//! resolved ticket, and calls the same flows as the API (`flows::tickets::create_in`,
//! `comment_in`), so audit events, triggers, timers and notifications are the API's. Files
//! are stored with the message ([`ladder_storage::inbound`]).

pub mod imap;
pub mod parse;
pub mod secret;

use jiff::Timestamp;
use ladder_core::text::{LongText, ShortText};
use ladder_core::{AuditKind, Channel, CustomerTier, TenantId, TicketId, TicketStatus};
use ladder_storage::directory::{self, Customer, NewCustomer};
use ladder_storage::inbound as store;
use ladder_storage::{tickets, Backend, Db, WriteTx};
use serde_json::json;

use crate::flows::attachments::store_files;
use crate::flows::tickets::{comment_in, create_in, AddComment, OpenTicket};
use crate::flows::{policy_in, record, Actor, FlowError, FlowResult};
use crate::{sla, triggers};

/// The limits of email in: `ladder serve --inbound-max-message-bytes`,
/// `--attachment-max-bytes`, `--imap-interval`, and the key IMAP passwords are sealed with.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The largest raw message taken (a larger one is refused with 413, or left unread in
    /// an IMAP mailbox with the error on the mailbox).
    pub max_message_bytes: usize,
    /// The largest file kept; a larger one is left out and the message says so.
    pub max_file_bytes: usize,
    /// Seals IMAP passwords at rest; without it no mailbox can be set.
    pub secret_key: Option<secret::SecretKey>,
    /// How often each organisation's mailbox is polled (without IDLE), and the longest a
    /// watch idles before taking again (with it).
    pub imap_interval: std::time::Duration,
    /// Whether `serve` runs the IMAP poller (the tests poll by hand).
    pub imap_worker: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            max_message_bytes: 25 * 1024 * 1024,
            max_file_bytes: 10 * 1024 * 1024,
            secret_key: None,
            imap_interval: std::time::Duration::from_secs(60),
            imap_worker: false,
        }
    }
}

/// Where a message came from. From a mailbox, its UID is recorded with the ticket.
#[derive(Clone, Copy, Debug)]
pub enum Source {
    Http,
    Imap { uid_validity: u32, uid: u32 },
}

/// What became of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It opened a ticket.
    Created,
    /// It was added to the ticket it answers.
    Replied,
    /// A machine sent it (an auto-reply, a bounce) or we did: no ticket.
    Ignored,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Replied => "replied",
            Outcome::Ignored => "ignored",
        }
    }

    fn parse(s: &str) -> Option<Outcome> {
        match s {
            "created" => Some(Outcome::Created),
            "replied" => Some(Outcome::Replied),
            "ignored" => Some(Outcome::Ignored),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub outcome: Outcome,
    pub ticket_id: Option<TicketId>,
    /// Taken before: nothing was written this time.
    pub duplicate: bool,
    /// Why it was ignored.
    pub reason: Option<String>,
}

/// Who we are, for loop detection: the domain of our Message-IDs and our From address.
#[derive(Clone, Debug)]
pub struct Us {
    pub domain: String,
    pub address: String,
}

impl Us {
    pub fn of(notifier: &crate::notify::Notifier) -> Us {
        Us {
            domain: notifier.message_id_domain().to_ascii_lowercase(),
            address: notifier.from_address().to_ascii_lowercase(),
        }
    }

    /// Whether the message is one we sent: its own Message-ID is in our domain, or it is
    /// from our address.
    fn sent(&self, email: &parse::Email) -> bool {
        let domain = email
            .message_id
            .trim_end_matches('>')
            .rsplit_once('@')
            .map(|(_, d)| d.to_ascii_lowercase());
        domain.as_deref() == Some(self.domain.as_str())
            || email.from_email.eq_ignore_ascii_case(&self.address)
    }

    /// The ticket a thread id of ours names (`<ticket-<id>@domain>`, set on customer email).
    fn thread_ticket(&self, id: &str) -> Option<TicketId> {
        let inner = id.strip_prefix("<ticket-")?.strip_suffix('>')?;
        let (ticket, domain) = inner.rsplit_once('@')?;
        domain
            .eq_ignore_ascii_case(&self.domain)
            .then(|| TicketId(ticket.to_owned()))
    }
}

/// The `[#<ticket id>]` references in a subject, in order.
fn subject_references(subject: &str) -> Vec<TicketId> {
    subject
        .match_indices("[#")
        .filter_map(|(at, _)| {
            let rest = &subject[at + 2..];
            let end = rest.find(']')?;
            let id = &rest[..end];
            (!id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
                .then(|| TicketId(id.to_owned()))
        })
        .collect()
}

/// A message parsed and checked, ready to be taken in: what the edge refuses happens in
/// [`prepare`], before any transaction.
pub struct Prepared {
    pub email: parse::Email,
    raw: Vec<u8>,
}

/// Parses and checks a raw message against the limits. A refusal names the part at fault.
pub fn prepare(settings: &Settings, raw: Vec<u8>) -> FlowResult<Prepared> {
    if raw.len() > settings.max_message_bytes {
        return Err(FlowError::field(
            "message",
            format!(
                "the message is {} bytes, over the limit of {}",
                raw.len(),
                settings.max_message_bytes
            ),
        ));
    }
    let email = parse::parse(&raw).map_err(|e| FlowError::field(e.field, e.detail))?;
    Ok(Prepared { email, raw })
}

/// Takes a prepared message in for the organisation `tenant`.
pub async fn receive(
    db: &Db,
    us: &Us,
    settings: &Settings,
    tenant: &TenantId,
    message: Prepared,
    source: Source,
    now: Timestamp,
) -> FlowResult<Received> {
    let email = &message.email;
    let (text, keep_original) = body_within_limits(email, settings);
    let subject = short_text(&email.subject, "(no subject)");
    let body = long_text(&text);
    // Scanned before the write lock, as the API's create and comment are. Whether the message
    // opens a ticket (its subject and text) or answers one (its text) is known only inside,
    // so both are scanned; what a machine or we sent is never scanned.
    let scans = match (&subject, &body) {
        (Ok(subject), Ok(body)) if email.automatic.is_none() && !us.sent(email) => {
            let opening = format!("{}\n\n{}", subject.as_str(), body.as_str());
            let [reply, new] =
                triggers::Scanned::early_each(db, tenant, [body.as_str(), opening.as_str()])
                    .await?;
            (Some(reply), Some(new))
        }
        _ => (None, None),
    };
    let mut tx = db.write().await?;
    if let Source::Imap { uid_validity, uid } = source {
        if !store::take_uid(tx.conn(), tenant, uid_validity, uid, now).await? {
            tx.rollback().await?;
            return Ok(Received {
                outcome: Outcome::Ignored,
                ticket_id: None,
                duplicate: true,
                reason: Some("taken from the mailbox before".into()),
            });
        }
    }
    if let Some(before) = store::claim_message(tx.conn(), tenant, &email.message_id, now).await? {
        // Taken before: the UID (if any) is recorded, nothing else changes.
        tx.commit().await?;
        let outcome = Outcome::parse(&before.outcome).ok_or_else(|| {
            FlowError::Storage(ladder_storage::StorageError::Corrupt {
                table: "inbound_messages",
                detail: format!(
                    "row {}: unknown outcome {:?}",
                    email.message_id, before.outcome
                ),
            })
        })?;
        return Ok(Received {
            outcome,
            ticket_id: before.ticket_id,
            duplicate: true,
            reason: None,
        });
    }
    let ignored = if us.sent(email) {
        Some("sent by this help desk (a mail loop)".to_owned())
    } else {
        email.automatic.clone()
    };
    if let Some(reason) = ignored {
        store::finish_message(tx.conn(), tenant, &email.message_id, "ignored", None, None).await?;
        tx.commit().await?;
        tracing::info!(message_id = %email.message_id, %reason, "inbound email ignored");
        return Ok(Received {
            outcome: Outcome::Ignored,
            ticket_id: None,
            duplicate: false,
            reason: Some(reason),
        });
    }
    let customer = customer_for(&mut tx, tenant, email, now).await?;
    let thread = thread(&mut tx, db, us, tenant, email, &customer).await?;
    let (reply_scan, new_scan) = scans;
    let (outcome, ticket_id, comment_id) = match thread {
        Some(mut ticket) => {
            if ticket.status == TicketStatus::Resolved
                && policy_in(tx.conn(), tenant)
                    .await?
                    .inbound
                    .reopen_resolved_on_reply
            {
                reopen(&mut tx, tenant, &mut ticket, now).await?;
            }
            let ticket_id = ticket.id.clone();
            let c = comment_in(
                &mut tx,
                tenant,
                ticket,
                None,
                AddComment {
                    body: body?,
                    public: true,
                    from_customer: true,
                    logged_call: false,
                },
                reply_scan,
                now,
            )
            .await?;
            (Outcome::Replied, ticket_id, Some(c.id))
        }
        None => {
            let d = create_in(
                &mut tx,
                db,
                tenant,
                None,
                OpenTicket {
                    subject: subject?,
                    description: body?,
                    customer_id: customer.id.clone(),
                    channel: Channel::Email,
                    category: None,
                    priority: None,
                    assignee_id: None,
                    team_id: None,
                },
                new_scan,
                now,
            )
            .await?;
            (Outcome::Created, d.ticket.id, None)
        }
    };
    let mut files: Vec<(String, String, &[u8])> = Vec::new();
    for f in &email.files {
        if f.data.len() <= settings.max_file_bytes {
            files.push((f.filename.clone(), f.content_type.clone(), &f.data));
        }
    }
    if keep_original {
        files.push((
            "original-message.eml".into(),
            "message/rfc822".into(),
            &message.raw,
        ));
    }
    let files: Vec<(&str, &str, &[u8])> = files
        .iter()
        .map(|(n, t, d)| (n.as_str(), t.as_str(), *d))
        .collect();
    store_files(
        &mut tx,
        tenant,
        &ticket_id,
        comment_id.as_ref(),
        None,
        &files,
        now,
    )
    .await?;
    store::finish_message(
        tx.conn(),
        tenant,
        &email.message_id,
        outcome.as_str(),
        Some(&ticket_id),
        comment_id.as_ref(),
    )
    .await?;
    tx.commit().await?;
    Ok(Received {
        outcome,
        ticket_id: Some(ticket_id),
        duplicate: false,
        reason: None,
    })
}

/// The text to store, and whether the original message must be kept as a file because the
/// text had to be cut or a file was left out.
fn body_within_limits(email: &parse::Email, settings: &Settings) -> (String, bool) {
    // Room for the notes below inside LongText's 20,000 characters.
    const ROOM: usize = 19_000;
    let mut text = email.text.clone();
    let mut keep_original = false;
    if text.chars().count() > ROOM {
        text = text.chars().take(ROOM).collect();
        text.push_str(
            "\n\n[The message was longer; the whole of it is attached as original-message.eml.]",
        );
        keep_original = true;
    }
    for f in &email.files {
        if f.data.len() > settings.max_file_bytes {
            text.push_str(&format!(
                "\n\n[The attachment \"{}\" ({} bytes) is over the limit of {} bytes and was not kept.]",
                f.filename,
                f.data.len(),
                settings.max_file_bytes
            ));
        }
    }
    if text.trim().is_empty() {
        text = if email.files.is_empty() {
            "(The message has no text.)".into()
        } else {
            "(The message has no text; see its attachments.)".into()
        };
    }
    (text, keep_original)
}

fn long_text(text: &str) -> FlowResult<LongText> {
    LongText::new(text).map_err(|e| FlowError::field("message", format!("its text: {e}")))
}

/// One line of at most 200 characters, or `empty` when nothing is left.
fn short_text(s: &str, empty: &str) -> FlowResult<ShortText> {
    let line: String = s.chars().take(200).collect();
    let line = if line.trim().is_empty() {
        empty.to_owned()
    } else {
        line
    };
    ShortText::new(line).map_err(|e| FlowError::field("Subject", e.to_string()))
}

/// The sender's customer, found whatever the case of the address, or added.
async fn customer_for(
    tx: &mut WriteTx,
    tenant: &TenantId,
    email: &parse::Email,
    now: Timestamp,
) -> FlowResult<Customer> {
    if let Some(c) = store::customer_by_email(tx.conn(), tenant, &email.from_email).await? {
        return Ok(c);
    }
    let fallback = email.from_email.split('@').next().unwrap_or("customer");
    let name = short_text(email.from_name.as_deref().unwrap_or(fallback), fallback)?;
    let c = directory::insert_customer(
        tx.conn(),
        tenant,
        NewCustomer {
            name: name.as_str(),
            email: Some(&email.from_email),
            phone: None,
            tier: CustomerTier::Standard,
        },
        now,
    )
    .await?;
    record(
        tx,
        tenant,
        None,
        None,
        AuditKind::CustomerCreated,
        json!({"customer_id": c.id, "after": {"name": c.name, "email": c.email, "phone": c.phone, "tier": c.tier}, "source": "email"}),
        now,
    );
    Ok(c)
}

/// The ticket the message answers, locked: by its headers (any sender: they had our
/// message), else by the reference in its subject when the sender is the ticket's customer
/// (a reference alone is easy to copy). A closed ticket is final: the message opens a new one.
async fn thread(
    tx: &mut WriteTx,
    db: &Db,
    us: &Us,
    tenant: &TenantId,
    email: &parse::Email,
    customer: &Customer,
) -> FlowResult<Option<tickets::Ticket>> {
    let pg = db.backend() == Backend::Postgres;
    let mut candidates: Vec<TicketId> = Vec::new();
    for id in &email.replies_to {
        if let Some(t) = us.thread_ticket(id) {
            candidates.push(t);
        } else if let Some(t) =
            store::ticket_of_messages(tx.conn(), tenant, std::slice::from_ref(id)).await?
        {
            candidates.push(t);
        }
    }
    for id in candidates {
        if let Some(t) = tickets::get_for_update(tx.conn(), pg, tenant, &id).await? {
            if t.status != TicketStatus::Closed {
                return Ok(Some(t));
            }
        }
    }
    for id in subject_references(&email.subject) {
        if let Some(t) = tickets::get_for_update(tx.conn(), pg, tenant, &id).await? {
            if t.customer_id == customer.id && t.status != TicketStatus::Closed {
                return Ok(Some(t));
            }
        }
    }
    Ok(None)
}

/// The customer wrote again about a resolved ticket: it is open again, as a person reopening
/// it through the API would leave it (the same audit event, the first-response clock).
async fn reopen(
    tx: &mut WriteTx,
    tenant: &TenantId,
    t: &mut tickets::Ticket,
    now: Timestamp,
) -> FlowResult<()> {
    let before = t.status;
    t.status = TicketStatus::Open;
    tickets::update(tx.conn(), tenant, t, now).await?;
    let policy = policy_in(tx.conn(), tenant).await?;
    let customer = directory::customer(tx.conn(), tenant, &t.customer_id).await?;
    sla::schedule_first_response(tx.conn(), tenant, &policy, t, customer.as_ref(), now).await?;
    record(
        tx,
        tenant,
        Some(&t.id),
        None,
        AuditKind::Reopened,
        json!({"before": {"status": before}, "after": {"status": t.status}, "by": "customer_email"}),
        now,
    );
    t.updated_at = now;
    Ok(())
}

/// Sets a new inbound token for the actor's organisation (owners and admins), replacing the
/// one before; returns it, the only time it is shown.
pub async fn new_token(db: &Db, actor: &Actor, now: Timestamp) -> FlowResult<String> {
    actor.require_manager("set the organisation's inbound email token")?;
    // The same randomness as a session token, told apart by its prefix.
    let (token, _) = crate::auth::new_token();
    let token = format!("ldr_in_{}", token.trim_start_matches("ldr_"));
    let hash = crate::auth::token_hash(&token);
    let mut tx = db.write().await?;
    store::set_token(tx.conn(), actor.tenant(), &hash, Some(actor.id()), now).await?;
    record(
        &mut tx,
        actor.tenant(),
        None,
        Some(actor.id()),
        AuditKind::InboundTokenSet,
        json!({}),
        now,
    );
    tx.commit().await?;
    Ok(token)
}

/// The command to set the organisation's IMAP mailbox.
pub struct SetMailbox {
    pub host: String,
    pub port: u16,
    pub tls: imap::Tls,
    pub username: String,
    /// `None` keeps the password set before (the settings page never shows it back).
    pub password: Option<secrecy::SecretString>,
    pub folder: String,
    /// Where a message taken goes; `None` leaves it in `folder`, flagged `\Seen`.
    pub processed_folder: Option<String>,
}

/// Sets the organisation's IMAP mailbox (owners and admins), its password sealed with the
/// server's key. Without a key nothing is stored: a password kept in clear is not an option.
pub async fn set_mailbox(
    db: &Db,
    settings: &Settings,
    actor: &Actor,
    cmd: SetMailbox,
    now: Timestamp,
) -> FlowResult<store::Mailbox> {
    actor.require_manager("set the organisation's mailbox")?;
    let key = settings.secret_key.as_ref().ok_or_else(|| {
        FlowError::Conflict(
            "this server has no secret key to seal mailbox passwords with: start it with \
             --secret-key (or LADDER_SECRET_KEY)"
                .into(),
        )
    })?;
    let mut problems = Vec::new();
    let host_ok = !cmd.host.is_empty()
        && cmd.host.len() <= 253
        && cmd
            .host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    if !host_ok {
        problems.push(crate::flows::FieldError {
            field: "host".into(),
            detail: "a host name or IP address".into(),
        });
    }
    if cmd.port == 0 {
        problems.push(crate::flows::FieldError {
            field: "port".into(),
            detail: "a port from 1 to 65535".into(),
        });
    }
    let processed = cmd
        .processed_folder
        .as_ref()
        .filter(|f| !f.trim().is_empty());
    let mut names = vec![("username", &cmd.username), ("folder", &cmd.folder)];
    if let Some(p) = processed {
        names.push(("processed_folder", p));
    }
    for (field, value) in names {
        // As the document's ShortText says, in characters.
        if value.trim().is_empty()
            || value.chars().count() > 200
            || value.chars().any(char::is_control)
        {
            problems.push(crate::flows::FieldError {
                field: field.into(),
                detail: "not blank, at most 200 characters, no control characters".into(),
            });
        }
    }
    if processed == Some(&cmd.folder) {
        problems.push(crate::flows::FieldError {
            field: "processed_folder".into(),
            detail: "another folder than the one polled".into(),
        });
    }
    let password = cmd
        .password
        .as_ref()
        .filter(|p| !secrecy::ExposeSecret::expose_secret(*p).is_empty());
    let mut tx = db.write().await?;
    let before = store::mailbox(tx.conn(), actor.tenant()).await?;
    let sealed = match (password, &before) {
        (Some(p), _) => Some(
            key.seal(actor.tenant().as_str(), p)
                .map_err(|e| FlowError::Internal(anyhow::anyhow!(e)))?,
        ),
        (None, Some(b)) => Some(b.password_sealed.clone()),
        (None, None) => {
            problems.push(crate::flows::FieldError {
                field: "password".into(),
                detail: "the mailbox's password".into(),
            });
            None
        }
    };
    let sealed = match sealed {
        Some(s) if problems.is_empty() => s,
        _ => {
            tx.rollback().await?;
            return Err(FlowError::InvalidFields(problems));
        }
    };
    let m = store::Mailbox {
        tenant_id: actor.tenant().clone(),
        host: cmd.host,
        port: cmd.port,
        tls: cmd.tls.as_str().to_owned(),
        username: cmd.username,
        password_sealed: sealed,
        folder: cmd.folder,
        processed_folder: processed.cloned(),
        last_polled_at: None,
        last_error: None,
        updated_at: now,
    };
    store::set_mailbox(tx.conn(), &m).await?;
    record(
        &mut tx,
        actor.tenant(),
        None,
        Some(actor.id()),
        AuditKind::InboundMailboxSet,
        json!({"host": m.host, "port": m.port, "tls": m.tls, "username": m.username, "folder": m.folder,
               "processed_folder": m.processed_folder, "password_changed": password.is_some()}),
        now,
    );
    let stored = store::mailbox(tx.conn(), actor.tenant())
        .await?
        .ok_or_else(|| FlowError::Internal(anyhow::anyhow!("the mailbox just set is missing")))?;
    tx.commit().await?;
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_references_are_found() {
        assert_eq!(
            subject_references("Re: [#0197abc] Broken crown [#x y]"),
            vec![TicketId("0197abc".into())]
        );
        assert!(subject_references("Re: nothing").is_empty());
    }

    #[test]
    fn our_thread_ids_name_their_ticket() {
        let us = Us {
            domain: "desk.example".into(),
            address: "ladder@desk.example".into(),
        };
        assert_eq!(
            us.thread_ticket("<ticket-abc@desk.example>"),
            Some(TicketId("abc".into()))
        );
        assert_eq!(us.thread_ticket("<ticket-abc@elsewhere.example>"), None);
        assert_eq!(us.thread_ticket("<abc@desk.example>"), None);
    }
}
