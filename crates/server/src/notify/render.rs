//! What a notification says: the subject, text and HTML bodies of its emails (askama
//! templates under `templates/email/`, one pair per kind, compiled into the binary), and
//! the body of its webhook events.

use std::ops::Deref;

use askama::Template;
use jiff::Timestamp;
use ladder_core::NotificationKind;
use serde_json::Value;

/// Everything an email template may show, as text ready to print. Built from the
/// notification's payload and what the delivery worker looks up (names, the ticket).
#[derive(Clone, Debug, Default, Template)]
#[template(path = "email/_body.txt")]
pub struct Mail {
    pub kind: &'static str,
    /// To staff (a link to the ticket page and the preferences note) or to a customer.
    pub staff: bool,
    pub org: String,
    pub to_name: String,
    /// The ticket's subject.
    pub subject_line: String,
    /// The ticket's reference, as it appears in subjects: `[#<ticket id>]`.
    pub reference: String,
    /// The ticket page.
    pub link: String,
    pub requested_by: Option<String>,
    pub urgency: Option<String>,
    /// The customer, with how to reach them.
    pub customer: Option<String>,
    pub contact_method: Option<String>,
    pub category: Option<String>,
    pub priority: Option<String>,
    pub note: Option<String>,
    pub tried: Option<String>,
    /// Each trigger with its evidence.
    pub triggers: Vec<String>,
    /// Each deadline, named.
    pub deadlines: Vec<String>,
    /// The escalation's owner.
    pub owner: Option<String>,
    /// Who did what the notification is about.
    pub actor: Option<String>,
    pub summary: Option<String>,
    pub reason: Option<String>,
    pub target: Option<String>,
    pub amount: Option<String>,
    pub clock: Option<String>,
    pub due: Option<String>,
    pub next_update: Option<String>,
    /// A public reply's text.
    pub body: Option<String>,
}

/// The same fields, as HTML (escaped by askama).
#[derive(Template)]
#[template(path = "email/_body.html")]
struct Html<'a> {
    mail: &'a Mail,
}

impl Deref for Html<'_> {
    type Target = Mail;
    fn deref(&self) -> &Mail {
        self.mail
    }
}

/// A rendered email.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Mail {
    /// The subject line and both bodies.
    pub fn render(&self) -> Result<Rendered, askama::Error> {
        Ok(Rendered {
            subject: self.subject(),
            text: Template::render(self)?,
            html: Html { mail: self }.render()?,
        })
    }

    fn subject(&self) -> String {
        let s = &self.subject_line;
        let r = &self.reference;
        let clock = self.clock.as_deref().unwrap_or("SLA");
        match self.kind {
            "escalation_requested" => format!("Escalated to you: {s} {r}"),
            "escalation_acknowledged" => match &self.owner {
                Some(o) => format!("{o} took your escalation: {s} {r}"),
                None => format!("Your escalation was taken: {s} {r}"),
            },
            "escalation_resolved" => format!("Resolved: {s} {r}"),
            "escalation_de_escalated" => format!("De-escalated: {s} {r}"),
            "escalation_moved_up" => format!("Moved up: {s} {r}"),
            "escalation_skipped_you" => format!("Went past you: {s} {r}"),
            "approval_requested" => format!("Approval needed: {s} {r}"),
            "approval_granted" => format!("Compensation approved: {s} {r}"),
            "approval_denied" => format!("Compensation denied: {s} {r}"),
            "sla_reminder" => format!("Reminder, {clock} deadline: {s} {r}"),
            "sla_breached" => format!("Breached, {clock} deadline: {s} {r}"),
            "sla_breached_below" => format!("Breached below you, {clock} deadline: {s} {r}"),
            "customer_acknowledgement" => format!("{r} {s}: we are on it"),
            "resolution_verification_request" => format!("{r} {s}: resolved?"),
            "public_reply" => format!("Re: {r} {s}"),
            _ => format!("{s} {r}"),
        }
    }
}

/// The reference of a ticket in email subjects, which replies keep.
pub fn reference(ticket_id: &str) -> String {
    format!("[#{ticket_id}]")
}

/// Whether a kind of notification is sent by email at all (a new ticket is a webhook event
/// only).
pub fn is_emailed(kind: NotificationKind) -> bool {
    !matches!(kind, NotificationKind::TicketCreated)
}

/// The webhook event a notification is, if any. A move up is told by the notification to
/// its new rung (`escalation_requested` past the first rung), an acknowledgement and a
/// resolution by the customer's message, which every one of them has; so each event is
/// sent once.
pub fn event_name(kind: NotificationKind, payload: &Value) -> Option<&'static str> {
    use NotificationKind as K;
    Some(match kind {
        K::TicketCreated => "ticket.created",
        K::EscalationRequested => match payload.get("rung").and_then(Value::as_i64) {
            Some(r) if r > 1 => "escalation.moved_up",
            _ => "escalation.created",
        },
        K::CustomerAcknowledgement => "escalation.acknowledged",
        K::ResolutionVerificationRequest => "escalation.resolved",
        K::EscalationDeEscalated => "escalation.de_escalated",
        K::SlaReminder => "sla.reminder",
        K::SlaBreached => "sla.breached",
        _ => return None,
    })
}

/// Every event name a webhook may subscribe to.
pub const EVENTS: [&str; 8] = [
    "ticket.created",
    "escalation.created",
    "escalation.acknowledged",
    "escalation.moved_up",
    "escalation.resolved",
    "escalation.de_escalated",
    "sla.reminder",
    "sla.breached",
];

/// The body of a webhook event: `{type, timestamp, data}`, `timestamp` being when it
/// happened.
pub fn webhook_body(
    event: &str,
    at: Timestamp,
    ticket_id: Option<&str>,
    payload: &Value,
) -> String {
    let mut data = payload.clone();
    if let (Some(obj), Some(t)) = (data.as_object_mut(), ticket_id) {
        obj.entry("ticket_id").or_insert_with(|| Value::from(t));
    }
    serde_json::json!({"type": event, "timestamp": at, "data": data}).to_string()
}

/// An instant as people read it in an email: `Mon 2 Jun 2025 14:00 UTC`.
pub fn when(t: Timestamp) -> String {
    t.strftime("%a %-d %b %Y %H:%M UTC").to_string()
}

/// A payload field as text: strings as they are, instants as [`when`], vocabulary words
/// with spaces, numbers as written.
pub fn field(payload: &Value, name: &str) -> Option<String> {
    match payload.get(name)? {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

/// A payload field holding an instant, as [`when`].
pub fn time_field(payload: &Value, name: &str) -> Option<String> {
    let s = payload.get(name)?.as_str()?;
    s.parse::<Timestamp>().ok().map(when)
}

/// A vocabulary word as people write it: `de_escalated` → `de escalated`.
pub fn words(s: &str) -> String {
    s.replace('_', " ")
}

/// A target as people read it: `the owner`, `role admin`, `platform support`.
pub fn target(t: &Value, name_of: impl Fn(&str) -> Option<String>) -> Option<String> {
    let kind = t.get("kind")?.as_str()?;
    Some(match kind {
        "owner" => "the owner".to_owned(),
        "platform" => "platform support".to_owned(),
        "role" => format!(
            "everyone with the role {}",
            t.get("role").and_then(Value::as_str).unwrap_or("?")
        ),
        "team" => "a team".to_owned(),
        "user" => t
            .get("id")
            .and_then(Value::as_str)
            .and_then(name_of)
            .unwrap_or_else(|| "a colleague".to_owned()),
        other => words(other),
    })
}

/// A ticket's stored triggers, each with its evidence: `legal threat: "my lawyer"`.
pub fn triggers(stored: &Value) -> Vec<String> {
    let Some(list) = stored.as_array() else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|t| {
            let kind = words(t.get("kind")?.as_str()?);
            let evidence: Vec<String> = t
                .get("evidence")
                .and_then(Value::as_array)
                .map(|ev| {
                    ev.iter()
                        .map(|e| match e.get("text").and_then(Value::as_str) {
                            Some(text) => format!("\"{text}\""),
                            None => e.to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            Some(if evidence.is_empty() {
                kind
            } else {
                format!("{kind}: {}", evidence.join(", "))
            })
        })
        .collect()
}
