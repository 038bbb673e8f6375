//! Creating and changing tickets: fields, status, comments, watchers and links.

use jiff::Timestamp;
use ladder_core::escalation::check_public_reply;
use ladder_core::sla::counts_as_response;
use ladder_core::sla::TimerKind;
use ladder_core::text::{LongText, ShortText};
use ladder_core::{AuditKind, NotificationKind};
use ladder_core::{Category, Channel, EscalationState, LinkKind, Priority, TicketStatus};
use ladder_core::{CustomerId, TeamId, TenantId, TicketId, UserId};
use ladder_storage::escalations::{self, Escalation};
use ladder_storage::tickets::{self, Comment, Link, NewTicket, Ticket};
use ladder_storage::{directory, Backend, Db, WriteTx};
use serde_json::json;
use sqlx::AnyConnection;

use super::Actor;
use super::{policy_in, record};
use crate::flows::{FlowError, FlowResult};
use crate::sla;
use crate::triggers;

/// A ticket with what a person needs beside it.
pub struct TicketDetail {
    pub ticket: Ticket,
    pub active_escalation: Option<Escalation>,
    pub watchers: Vec<UserId>,
    pub links: Vec<Link>,
}

/// The command to open a ticket.
pub struct OpenTicket {
    pub subject: ShortText,
    pub description: LongText,
    pub customer_id: CustomerId,
    pub channel: Channel,
    pub category: Option<Category>,
    pub priority: Option<Priority>,
    /// Defaults to the creator when they work tickets.
    pub assignee_id: Option<UserId>,
    pub team_id: Option<TeamId>,
}

/// Which tenant a ticket belongs to for this actor, or not found. Platform support reach a
/// ticket of any tenant only if it was escalated to the platform.
pub async fn ticket_tenant(
    conn: &mut AnyConnection,
    actor: &Actor,
    ticket_id: &TicketId,
) -> FlowResult<TenantId> {
    if actor.is_platform() {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT tenant_id FROM escalations WHERE ticket_id = $1 AND target_key = 'platform' LIMIT 1",
        )
        .bind(ticket_id.as_str())
        .fetch_optional(conn)
        .await
        .map_err(ladder_storage::StorageError::from)?;
        row.map(|(t,)| TenantId(t))
            .ok_or_else(|| FlowError::NotFound("ticket"))
    } else {
        Ok(actor.tenant_id.clone())
    }
}

/// Loads a ticket the actor may see, locking it for the rest of the transaction.
pub async fn load_for_update(
    tx: &mut WriteTx,
    db: &Db,
    actor: &Actor,
    ticket_id: &TicketId,
) -> FlowResult<(TenantId, Ticket)> {
    let tenant = ticket_tenant(tx.conn(), actor, ticket_id).await?;
    let ticket = tickets::get_for_update(
        tx.conn(),
        db.backend() == Backend::Postgres,
        &tenant,
        ticket_id,
    )
    .await?
    .ok_or_else(|| FlowError::NotFound("ticket"))?;
    Ok((tenant, ticket))
}

/// The ticket with its active escalation, watchers and links.
pub async fn detail(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    ticket: Ticket,
) -> FlowResult<TicketDetail> {
    let active_escalation = active_escalation(conn, tenant, &ticket).await?;
    let watchers = tickets::watchers(conn, tenant, &ticket.id).await?;
    let links = tickets::links(conn, tenant, &ticket.id).await?;
    Ok(TicketDetail {
        ticket,
        active_escalation,
        watchers,
        links,
    })
}

async fn check_user(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    field: &'static str,
    id: &UserId,
) -> FlowResult<()> {
    let found = directory::users_by_id(conn, tenant, std::slice::from_ref(&id.0)).await?;
    if found.is_empty() {
        return Err(FlowError::field(
            field,
            format!("no user with id {:?} in this organisation", id.0),
        ));
    }
    Ok(())
}

async fn check_team(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    field: &'static str,
    id: &TeamId,
) -> FlowResult<()> {
    if directory::team(conn, tenant, id).await?.is_none() {
        return Err(FlowError::field(
            field,
            format!("no team with id {id:?} in this organisation"),
        ));
    }
    Ok(())
}

pub async fn create(
    db: &Db,
    actor: &Actor,
    req: OpenTicket,
    now: Timestamp,
) -> FlowResult<TicketDetail> {
    actor.require_staff("create tickets")?;
    // What the ticket says is scanned before the write lock is taken.
    let text = format!("{}\n\n{}", req.subject.as_str(), req.description.as_str());
    let scanned = triggers::Scanned::early(db, actor.tenant(), &text).await?;
    let mut tx = db.write().await?;
    let v = create_in(
        &mut tx,
        db,
        actor.tenant(),
        Some(actor),
        req,
        Some(scanned),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(v)
}

/// Opens a ticket inside the caller's write transaction: by `actor`, or, when `None`, by
/// the customer themselves (an email taken in), which assigns nobody and names no creator.
/// The caller checked that the actor may; everything else a new ticket does happens here.
/// `scanned` is the text's early scan ([`triggers::Scanned`]); without it the text is
/// scanned here.
pub async fn create_in(
    tx: &mut WriteTx,
    db: &Db,
    tenant: &TenantId,
    actor: Option<&Actor>,
    req: OpenTicket,
    scanned: Option<triggers::Scanned>,
    now: Timestamp,
) -> FlowResult<TicketDetail> {
    let customer = directory::customer(tx.conn(), tenant, &req.customer_id)
        .await?
        .ok_or_else(|| {
            FlowError::field(
                "customer_id",
                format!("no customer with id {:?}", req.customer_id.0),
            )
        })?;
    if let Some(a) = &req.assignee_id {
        check_user(tx.conn(), tenant, "assignee_id", a).await?;
    }
    if let Some(t) = &req.team_id {
        check_team(tx.conn(), tenant, "team_id", t).await?;
    }
    let policy = policy_in(tx.conn(), tenant).await?;
    let text = format!("{}\n\n{}", req.subject.as_str(), req.description.as_str());
    let in_text = match scanned {
        Some(scanned) => scanned.under(&policy, &text),
        None => triggers::scan(&policy, &text),
    };
    let found = triggers::detect(&policy, in_text, &customer, tx.conn(), tenant, now).await?;
    let assignee = req.assignee_id.clone().or_else(|| {
        actor
            .filter(|a| a.role.is_tenant_staff())
            .map(|a| a.user_id.clone())
    });
    let key =
        super::incidents::problem_key(req.category, req.subject.as_str(), req.description.as_str());
    let ticket = tickets::insert(
        tx.conn(),
        NewTicket {
            tenant_id: tenant,
            subject: req.subject.as_str(),
            description: req.description.as_str(),
            customer_id: &customer.id,
            channel: req.channel,
            category: req.category,
            priority: req.priority.unwrap_or(Priority::Normal),
            assignee_id: assignee.as_ref(),
            team_id: req.team_id.as_ref(),
            triggers: serde_json::to_value(&found).unwrap_or_else(|_| json!([])),
            created_by: actor.map(Actor::id),
            incident_key: key.as_deref(),
        },
        now,
    )
    .await?;
    let grouping = super::incidents::prepare(tx, db, tenant, &policy, &ticket, key, now).await?;
    let linked = grouping
        .as_ref()
        .is_some_and(super::incidents::Grouping::links);
    let created = record(
        tx,
        tenant,
        Some(&ticket.id),
        actor.map(Actor::id),
        AuditKind::TicketCreated,
        json!({
            "after": {
                "subject": ticket.subject, "customer_id": ticket.customer_id,
                "channel": ticket.channel, "category": ticket.category, "priority": ticket.priority,
                "status": ticket.status, "assignee_id": ticket.assignee_id, "team_id": ticket.team_id,
            },
            "triggers": found,
        }),
        now,
    );
    let event = json!({
        "ticket_id": ticket.id, "subject": ticket.subject, "customer_id": ticket.customer_id,
        "channel": ticket.channel, "category": ticket.category, "priority": ticket.priority,
        "triggers": found.iter().map(|f| f.kind).collect::<Vec<_>>(),
    });
    super::notify_webhooks(
        tx.conn(),
        tenant,
        &ticket.id,
        NotificationKind::TicketCreated,
        &created,
        &event.to_string(),
        now,
    )
    .await?;
    let mut ticket = ticket;
    super::incidents::apply(tx, tenant, &policy, &mut ticket, grouping, now).await?;
    // A new ticket has no timer to cancel: one is set only when its rule gives a limit.
    if let Some(due) = sla::first_response_pending(&policy, &ticket, Some(&customer))? {
        ladder_storage::timers::set(
            tx.conn(),
            tenant,
            &ticket.id,
            None,
            TimerKind::FirstResponse,
            due,
            now,
        )
        .await?;
    }
    if let Some((category, urgency, kinds)) = triggers::automatic(&policy, &found) {
        // The tenant asked for these triggers to escalate by policy, in this same transaction.
        let evidence: Vec<String> = found
            .iter()
            .filter(|f| kinds.contains(&f.kind))
            .flat_map(|f| f.evidence.as_array().cloned().unwrap_or_default())
            .filter_map(|e| e["text"].as_str().map(|t| format!("\"{t}\"")))
            .collect();
        let kinds_text: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        let note = format!(
            "Automatic escalation: {} detected {}",
            kinds_text.join(", "),
            evidence.join(", ")
        );
        let req = super::escalation::Escalate {
            target: None,
            category,
            note: LongText::new(note.trim())
                .map_err(|e| FlowError::Internal(anyhow::anyhow!("automatic note: {e}")))?,
            tried: None,
            contact_method: ladder_core::ContactMethod::Email,
            urgency,
            triggers: kinds,
        };
        super::escalation::open_escalation(tx, tenant, &mut ticket, None, req, now).await?;
    }
    // What a new ticket shows is read only where it can exist: nothing in its creation adds a
    // watcher (an automatic escalation has nobody requesting it), and it has links only when
    // it opened or joined an incident.
    let links = if linked {
        tickets::links(tx.conn(), tenant, &ticket.id).await?
    } else {
        Vec::new()
    };
    Ok(TicketDetail {
        active_escalation: active_escalation(tx.conn(), tenant, &ticket).await?,
        ticket,
        watchers: Vec::new(),
        links,
    })
}

/// The command to change a ticket's fields; `None` leaves a field as it is.
pub struct ChangeTicket {
    pub status: Option<TicketStatus>,
    pub priority: Option<Priority>,
    pub category: Option<Category>,
    /// A user id, or `Some(None)` to unassign.
    pub assignee_id: Option<Option<UserId>>,
    pub team_id: Option<Option<TeamId>>,
}

pub async fn patch(
    db: &Db,
    actor: &Actor,
    id: &TicketId,
    req: ChangeTicket,
    now: Timestamp,
) -> FlowResult<TicketDetail> {
    actor.require_staff("change tickets")?;
    let mut tx = db.write().await?;
    let (tenant, mut t) = load_for_update(&mut tx, db, actor, id).await?;
    let before = json!({
        "status": t.status, "priority": t.priority, "category": t.category,
        "assignee_id": t.assignee_id, "team_id": t.team_id,
    });
    let mut kind = AuditKind::TicketUpdated;
    let escalated = t.active_escalation_id.is_some();
    if let Some(status) = req.status {
        // While escalated, a ticket may wait on the customer (`pending`) and come back.
        let waiting_toggle = matches!(status, TicketStatus::Pending | TicketStatus::Escalated);
        if escalated && status != t.status && !waiting_toggle {
            return Err(FlowError::Conflict(
                "the ticket has an active escalation: resolve or de-escalate it to change the status \
                 (it may be set to pending while waiting on the customer)"
                    .into(),
            ));
        }
        // `escalated` is a state the ticket is in (and comes back to from `pending`), not a
        // way to escalate it: a conflict with the ticket's state, not a bad value.
        if !escalated && status == TicketStatus::Escalated {
            return Err(FlowError::Conflict(
                "the ticket is not escalated: use POST /api/v1/tickets/{id}/escalate to escalate it"
                    .into(),
            ));
        }
        if matches!(t.status, TicketStatus::Resolved | TicketStatus::Closed)
            && matches!(
                status,
                TicketStatus::Open | TicketStatus::New | TicketStatus::Pending
            )
        {
            kind = AuditKind::Reopened;
        }
        t.status = status;
    }
    if let Some(p) = req.priority {
        // An escalation went up because of what the ticket is; whoever escalated it must not
        // quietly make it look smaller while it is being handled above them.
        if escalated && p < t.priority && !actor.role.is_manager() {
            return Err(FlowError::Forbidden(
                "the ticket has an active escalation: only an owner or admin may lower its priority"
                    .into(),
            ));
        }
        t.priority = p;
    }
    if let Some(c) = req.category {
        t.category = Some(c);
    }
    if let Some(a) = req.assignee_id {
        if let Some(a) = &a {
            check_user(tx.conn(), &tenant, "assignee_id", a).await?;
        }
        t.assignee_id = a;
    }
    if let Some(team) = req.team_id {
        if let Some(team) = &team {
            check_team(tx.conn(), &tenant, "team_id", team).await?;
        }
        t.team_id = team;
    }
    let after = json!({
        "status": t.status, "priority": t.priority, "category": t.category,
        "assignee_id": t.assignee_id, "team_id": t.team_id,
    });
    if before != after {
        tickets::update(tx.conn(), &tenant, &t, now).await?;
        let mut payload = json!({"before": before, "after": after});
        if let Some(e) = active_escalation(tx.conn(), &tenant, &t).await? {
            let waiting = t.status == TicketStatus::Pending;
            if super::escalation::set_waiting(tx.conn(), &e, waiting, now).await? {
                payload["sla"] = json!(if waiting { "paused" } else { "resumed" });
            }
        } else {
            let policy = policy_in(tx.conn(), &tenant).await?;
            let customer = directory::customer(tx.conn(), &tenant, &t.customer_id).await?;
            sla::schedule_first_response(tx.conn(), &tenant, &policy, &t, customer.as_ref(), now)
                .await?;
        }
        record(
            &mut tx,
            &tenant,
            Some(&t.id),
            Some(actor.id()),
            kind,
            payload,
            now,
        );
        t.updated_at = now;
    }
    let v = detail(tx.conn(), &tenant, t).await?;
    tx.commit().await?;
    Ok(v)
}

/// The command to add a reply, a note or a logged call to a ticket.
pub struct AddComment {
    pub body: LongText,
    /// `true`: a reply the customer sees; `false`: an internal note for staff.
    pub public: bool,
    /// Set when recording what the customer sent (an inbound email, a logged call): it is
    /// scanned for escalation triggers.
    pub from_customer: bool,
    /// A phone call with the customer written up by staff. Nothing is sent, but like a
    /// public reply it counts as a response for the SLA clocks.
    pub logged_call: bool,
}

/// Adds a reply or a note. While a legal/clinical/safety escalation is active only its owner
/// and the tenant's owners/admins may reply publicly; notes stay open to all staff.
pub async fn comment(
    db: &Db,
    actor: &Actor,
    id: &TicketId,
    req: AddComment,
    now: Timestamp,
) -> FlowResult<Comment> {
    Ok(comment_with_files(db, actor, id, req, &[], now).await?.0)
}

/// [`comment`] with files, kept with the comment in its transaction (an audit event each).
pub async fn comment_with_files(
    db: &Db,
    actor: &Actor,
    id: &TicketId,
    req: AddComment,
    files: &[super::attachments::NewFile],
    now: Timestamp,
) -> FlowResult<(Comment, Vec<ladder_storage::inbound::Attachment>)> {
    if !(actor.role.is_tenant_staff() || actor.is_platform()) {
        return Err(FlowError::Forbidden(format!(
            "a user with role {} may not comment",
            actor.role
        )));
    }
    if req.logged_call && req.public {
        return Err(FlowError::field(
            "logged_call",
            "a logged call is a record for staff and is not sent to the customer: set public to false",
        ));
    }
    // What the customer wrote is scanned before the write lock is taken.
    let scanned = match req.from_customer && !actor.is_platform() {
        true => Some(triggers::Scanned::early(db, actor.tenant(), req.body.as_str()).await?),
        false => None,
    };
    let mut tx = db.write().await?;
    let (tenant, t) = load_for_update(&mut tx, db, actor, id).await?;
    // Scanned under the actor's organisation's policy: only good for its own tickets.
    let scanned = scanned.filter(|_| tenant == *actor.tenant());
    let ticket_id = t.id.clone();
    let c = comment_in(&mut tx, &tenant, t, Some(actor), req, scanned, now).await?;
    let files: Vec<(&str, &str, &[u8])> = files
        .iter()
        .map(|f| {
            (
                f.filename.as_str(),
                f.content_type.as_str(),
                f.data.as_slice(),
            )
        })
        .collect();
    let stored = super::attachments::store_files(
        &mut tx,
        &tenant,
        &ticket_id,
        Some(&c.id),
        Some(actor.id()),
        &files,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((c, stored))
}

/// Adds a comment to `t` (loaded for update) inside the caller's write transaction: by
/// `actor`, or, when `None`, a message from the customer themselves (an email taken in).
/// `scanned` is a customer message's early scan; without it the message is scanned here.
pub async fn comment_in(
    tx: &mut WriteTx,
    tenant: &TenantId,
    mut t: Ticket,
    actor: Option<&Actor>,
    req: AddComment,
    scanned: Option<triggers::Scanned>,
    now: Timestamp,
) -> FlowResult<Comment> {
    let tenant = tenant.clone();
    if actor.is_none() && !req.from_customer {
        return Err(FlowError::Internal(anyhow::anyhow!(
            "a comment without a staff author must be the customer's"
        )));
    }
    let active = active_escalation(tx.conn(), &tenant, &t).await?;
    let policy = policy_in(tx.conn(), &tenant).await?;
    if let (true, false, Some(actor)) = (req.public, req.from_customer, actor) {
        let owner_name = match active.as_ref().and_then(|e| e.escalation_owner_id.clone()) {
            Some(oid) => {
                let users =
                    directory::users_by_id(tx.conn(), &tenant, std::slice::from_ref(&oid.0))
                        .await?;
                Some((
                    oid,
                    users
                        .first()
                        .map(|u| u.name.clone())
                        .unwrap_or_else(|| "its owner".into()),
                ))
            }
            None => None,
        };
        let lock = active.as_ref().map(|e| {
            (
                e.category,
                owner_name.as_ref().map(|(i, n)| (i.as_str(), n.as_str())),
            )
        });
        check_public_reply(lock, &policy, &actor.rules())?;
    }
    // A call is written up by the staff member who took it, whoever dialled.
    let author = actor
        .filter(|_| !req.from_customer || req.logged_call)
        .map(Actor::id);
    let c = tickets::insert_comment(
        tx.conn(),
        &tenant,
        &t.id,
        author,
        req.body.as_str(),
        req.public,
        req.logged_call,
        now,
    )
    .await?;
    let kind = if req.logged_call {
        AuditKind::CallLogged
    } else if req.from_customer {
        AuditKind::CustomerMessage
    } else if req.public {
        AuditKind::Replied
    } else {
        AuditKind::NoteAdded
    };
    let mut payload = json!({"comment_id": c.id, "public": c.public, "body": c.body});
    let mut changed = false;
    let response = counts_as_response(req.public, req.logged_call, req.from_customer);
    if response && t.first_response_at.is_none() {
        t.first_response_at = Some(now);
        payload["first_response"] = json!(true);
        changed = true;
        sla::schedule_first_response(tx.conn(), &tenant, &policy, &t, None, now).await?;
    }
    if req.from_customer {
        let customer = directory::customer(tx.conn(), &tenant, &t.customer_id)
            .await?
            .ok_or_else(|| {
                FlowError::Internal(anyhow::anyhow!("ticket {} has no customer", t.id))
            })?;
        let in_text = match scanned {
            Some(scanned) => scanned.under(&policy, req.body.as_str()),
            None => triggers::scan(&policy, req.body.as_str()),
        };
        let found = triggers::detect(&policy, in_text, &customer, tx.conn(), &tenant, now).await?;
        if !found.is_empty() {
            payload["triggers"] = serde_json::to_value(&found).unwrap_or_default();
            t.triggers = triggers::merge(&t, &found)?;
            changed = true;
        }
    }
    // The escalation owner's reply or call is the update the SLA clock waits for.
    if let Some(e) = active.as_ref() {
        if response
            && e.state == EscalationState::Acknowledged
            && e.escalation_owner_id.is_some()
            && e.escalation_owner_id.as_ref() == actor.map(Actor::id)
        {
            payload["escalation_id"] = json!(e.id);
            payload["sla"] = json!("customer_updated");
            super::escalation::customer_updated(tx.conn(), e, now).await?;
        }
    }
    // The customer answered: a ticket waiting on them is worked on again.
    if req.from_customer && t.status == TicketStatus::Pending {
        t.status = match active.as_ref() {
            Some(e) => {
                super::escalation::set_waiting(tx.conn(), e, false, now).await?;
                payload["sla"] = json!("resumed");
                TicketStatus::Escalated
            }
            None => TicketStatus::Open,
        };
        payload["status"] = json!(t.status);
        changed = true;
    }
    if changed {
        tickets::update(tx.conn(), &tenant, &t, now).await?;
    }
    let event = record(
        tx,
        &tenant,
        Some(&t.id),
        actor.map(Actor::id),
        kind,
        payload,
        now,
    );
    if let (AuditKind::Replied, Some(actor)) = (kind, actor) {
        // A public reply goes to the customer.
        let customer = directory::customer(tx.conn(), &tenant, &t.customer_id).await?;
        let email = customer.as_ref().and_then(|c| c.email.as_deref());
        if email.is_some() {
            let reply = json!({"ticket_id": t.id, "subject": t.subject, "body": c.body, "author": actor.name});
            super::notify_customer(
                tx.conn(),
                &tenant,
                &t.id,
                email,
                NotificationKind::PublicReply,
                &event,
                &reply.to_string(),
                now,
            )
            .await?;
        }
    }
    Ok(c)
}

/// The ticket's active escalation, if it has one.
async fn active_escalation(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    t: &Ticket,
) -> FlowResult<Option<Escalation>> {
    Ok(match &t.active_escalation_id {
        Some(eid) => escalations::get(conn, Some(tenant), eid).await?,
        None => None,
    })
}

pub async fn link(
    db: &Db,
    actor: &Actor,
    id: &TicketId,
    to_ticket_id: &TicketId,
    kind: LinkKind,
    now: Timestamp,
) -> FlowResult<Link> {
    actor.require_staff("link tickets")?;
    let mut tx = db.write().await?;
    let (tenant, t) = load_for_update(&mut tx, db, actor, id).await?;
    if *to_ticket_id == t.id {
        return Err(FlowError::field(
            "to_ticket_id",
            "a ticket cannot be linked to itself",
        ));
    }
    if tickets::get(tx.conn(), &tenant, to_ticket_id)
        .await?
        .is_none()
    {
        return Err(FlowError::field(
            "to_ticket_id",
            format!("no ticket with id {:?}", to_ticket_id.0),
        ));
    }
    let l = tickets::insert_link(tx.conn(), &tenant, &t.id, to_ticket_id, kind, now).await?;
    let payload = json!({"to_ticket_id": l.to_ticket_id, "kind": l.kind});
    record(
        &mut tx,
        &tenant,
        Some(&t.id),
        Some(actor.id()),
        AuditKind::Linked,
        payload,
        now,
    );
    tx.commit().await?;
    Ok(l)
}

/// Starts watching a ticket (the actor, or another user when an owner/admin asks).
pub async fn watch(
    db: &Db,
    actor: &Actor,
    id: &TicketId,
    user_id: Option<UserId>,
    now: Timestamp,
) -> FlowResult<Vec<UserId>> {
    actor.require_staff("watch tickets")?;
    let mut tx = db.write().await?;
    let (tenant, t) = load_for_update(&mut tx, db, actor, id).await?;
    let who = match user_id {
        Some(u) if u != actor.user_id => {
            actor.require_manager("add other people as watchers")?;
            check_user(tx.conn(), &tenant, "user_id", &u).await?;
            u
        }
        _ => actor.user_id.clone(),
    };
    if tickets::add_watcher(tx.conn(), &tenant, &t.id, &who, now).await? {
        record(
            &mut tx,
            &tenant,
            Some(&t.id),
            Some(actor.id()),
            AuditKind::WatcherAdded,
            json!({"user_id": who}),
            now,
        );
    }
    let w = tickets::watchers(tx.conn(), &tenant, &t.id).await?;
    tx.commit().await?;
    Ok(w)
}
