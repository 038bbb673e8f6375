//! An organisation's webhooks, and the kinds of email people turn off: each change checked,
//! written and audited in one transaction.

use jiff::Timestamp;
use ladder_core::{AuditKind, NotificationKind};
use ladder_storage::deliveries::{self, Webhook, CUSTOMERS};
use ladder_storage::{new_id, Db};
use serde_json::json;

use super::{record, Actor};
use crate::flows::{FlowError, FlowResult};
use crate::notify::{render, webhook};

/// The command to add a webhook.
pub struct AddWebhook {
    pub url: String,
    pub events: Vec<String>,
}

/// Adds a webhook to the actor's organisation (owners and admins), with a new secret. A URL
/// on loopback or a private network (also by what its host resolves to) is refused unless
/// `allow_private`.
pub async fn add(
    db: &Db,
    actor: &Actor,
    cmd: AddWebhook,
    allow_private: bool,
    now: Timestamp,
) -> FlowResult<Webhook> {
    actor.require_manager("manage webhooks")?;
    if cmd.url.len() > 2000 {
        return Err(FlowError::field("url", "must be at most 2,000 characters"));
    }
    let url = webhook::check_url(&cmd.url, allow_private)
        .await
        .map_err(|e| FlowError::field("url", e))?;
    if cmd.events.is_empty() {
        return Err(FlowError::field("events", "name at least one event"));
    }
    let mut events: Vec<String> = Vec::new();
    for (i, e) in cmd.events.iter().enumerate() {
        if !render::EVENTS.contains(&e.as_str()) {
            return Err(FlowError::field(
                format!("events[{i}]"),
                format!("unknown event {e:?}; one of {}", render::EVENTS.join(", ")),
            ));
        }
        if !events.contains(e) {
            events.push(e.clone());
        }
    }
    let w = Webhook {
        id: new_id(),
        tenant_id: actor.tenant().clone(),
        url: url.to_string(),
        events,
        secret: webhook::new_secret(),
        created_at: now,
    };
    let mut tx = db.write().await?;
    deliveries::insert_webhook(tx.conn(), &w, Some(actor.id())).await?;
    record(
        &mut tx,
        actor.tenant(),
        None,
        Some(actor.id()),
        AuditKind::WebhookCreated,
        json!({"webhook_id": w.id, "url": w.url, "events": w.events}),
        now,
    );
    tx.commit().await?;
    Ok(w)
}

/// Deletes a webhook of the actor's organisation; its pending deliveries fail on their next
/// attempt, naming why.
pub async fn delete(db: &Db, actor: &Actor, id: &str, now: Timestamp) -> FlowResult<()> {
    actor.require_manager("manage webhooks")?;
    let mut tx = db.write().await?;
    if !deliveries::delete_webhook(tx.conn(), actor.tenant(), id).await? {
        tx.rollback().await?;
        return Err(FlowError::NotFound("webhook"));
    }
    record(
        &mut tx,
        actor.tenant(),
        None,
        Some(actor.id()),
        AuditKind::WebhookDeleted,
        json!({"webhook_id": id}),
        now,
    );
    tx.commit().await?;
    Ok(())
}

/// Parses kinds of email named in `field`, each once, in order.
pub fn kinds(field: &str, names: &[String]) -> FlowResult<Vec<NotificationKind>> {
    let mut out = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let k: NotificationKind = n.parse().map_err(|_| {
            FlowError::field(
                format!("{field}[{i}]"),
                format!(
                    "unknown kind of email {n:?}; one of {}",
                    emailed_kinds().join(", ")
                ),
            )
        })?;
        if !render::is_emailed(k) {
            return Err(FlowError::field(
                format!("{field}[{i}]"),
                format!("{n} is not sent by email"),
            ));
        }
        if !out.contains(&k) {
            out.push(k);
        }
    }
    Ok(out)
}

/// Every kind of notification sent by email.
pub fn emailed_kinds() -> Vec<&'static str> {
    NotificationKind::names()
        .into_iter()
        .filter(|n| n.parse().is_ok_and(render::is_emailed))
        .collect()
}

/// Who a preference is for: the actor themselves, or the organisation's customers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    Me,
    Customers,
}

/// Replaces the kinds of email turned off, for the actor (any staff member, for
/// themselves) or for the organisation's customers (owners and admins).
pub async fn set_emails_off(
    db: &Db,
    actor: &Actor,
    subject: Subject,
    off: Vec<NotificationKind>,
    now: Timestamp,
) -> FlowResult<Vec<NotificationKind>> {
    let who = match subject {
        Subject::Me => actor.id().as_str().to_owned(),
        Subject::Customers => {
            actor.require_manager("choose the emails customers receive")?;
            CUSTOMERS.to_owned()
        }
    };
    let names: Vec<&str> = off.iter().map(|k| k.as_str()).collect();
    let mut tx = db.write().await?;
    deliveries::set_opt_outs(tx.conn(), actor.tenant(), &who, &names).await?;
    record(
        &mut tx,
        actor.tenant(),
        None,
        Some(actor.id()),
        AuditKind::EmailPreferencesChanged,
        json!({"for": if subject == Subject::Me { "user" } else { "customers" }, "user_id": actor.id(), "off": names}),
        now,
    );
    tx.commit().await?;
    Ok(off)
}

/// The kinds of email turned off, for the actor or the organisation's customers.
pub async fn emails_off(db: &Db, actor: &Actor, subject: Subject) -> FlowResult<Vec<String>> {
    let who = match subject {
        Subject::Me => actor.id().as_str().to_owned(),
        Subject::Customers => CUSTOMERS.to_owned(),
    };
    let mut conn = db.conn().await?;
    Ok(
        deliveries::opt_outs(&mut conn, actor.tenant(), &[who.as_str()])
            .await?
            .into_iter()
            .map(|(_, k)| k)
            .collect(),
    )
}

/// Puts a failed or pending delivery of the actor's organisation back in line at `now`
/// (owners and admins).
pub async fn retry_delivery(
    db: &Db,
    actor: &Actor,
    id: &str,
    now: Timestamp,
) -> FlowResult<deliveries::Delivery> {
    actor.require_manager("retry deliveries")?;
    let mut tx = db.write().await?;
    match deliveries::retry(tx.conn(), actor.tenant(), id, now).await? {
        Some(d) => {
            tx.commit().await?;
            Ok(d)
        }
        None => {
            tx.rollback().await?;
            match deliveries::get(db, actor.tenant(), id).await? {
                Some(_) => Err(FlowError::Conflict(
                    "this delivery was delivered already".into(),
                )),
                None => Err(FlowError::NotFound("delivery")),
            }
        }
    }
}
