//! The ticket page: the conversation with the customer's trigger words highlighted, the reply
//! box, the Escalate dialog and the escalation panel, and the forms they post. Every post
//! goes through the flow the API uses and comes back to the page: with a message when it
//! worked, or the same form re-rendered with the message next to the field when it did not.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use ladder_core::escalation::check_public_reply;
use ladder_core::text::LongText;
use ladder_core::{
    Category, CompensationKind, ContactMethod, EscalationId, EscalationState, Role, Target,
    TargetKind, TicketId, TriggerKind, Urgency, UserId,
};
use ladder_storage::audit;
use ladder_storage::directory::{self, Team, User};
use ladder_storage::escalations::{self as stored, Escalation};
use ladder_storage::tickets;
use serde::Deserialize;

use super::deadline::{self, Chip};
use super::{render_status, see_other_with, shown, words, Chrome, CsrfForm, PageError, Viewer};
use crate::flows::escalation::{self as flow, Compensation, Escalate, Resolve};
use crate::flows::tickets::{self as ticket_flow, AddComment};
use crate::flows::{Actor, FlowError};
use crate::state::AppState;

/// A run of text, highlighted or not.
pub struct Segment {
    pub text: String,
    pub mark: bool,
}

/// One entry of the conversation.
pub struct Entry {
    /// `customer`, `public`, `note` or `call`.
    pub kind: &'static str,
    pub author: String,
    pub when: String,
    pub body: Vec<Segment>,
    /// The quoted history of a customer's email, shown folded.
    pub history: Option<String>,
    /// The files that came with the message.
    pub files: Vec<FileLink>,
}

/// An attachment as the conversation lists it: name, size, where to download it.
pub struct FileLink {
    pub name: String,
    pub size: String,
    pub url: String,
}

/// A size as people read it.
fn size_text(bytes: i64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

/// A detected trigger with the customer's words that fired it.
pub struct Trigger {
    pub label: String,
    pub quotes: Vec<String>,
}

/// The active escalation as the panel shows it.
pub struct Panel {
    pub id: String,
    pub state: &'static str,
    pub target: String,
    pub rung: i64,
    pub owner: Option<String>,
    pub category: &'static str,
    pub urgency: &'static str,
    pub contact_method: &'static str,
    pub note: String,
    pub tried: Option<String>,
    pub chips: Vec<Chip>,
    pub may_acknowledge: bool,
    pub may_act: bool,
    /// The compensation waiting for an approver: "450.00 EUR refund waiting for an admin's approval".
    pub approval: Option<String>,
    /// What the viewer may grant alone, and who approves more.
    pub authority: String,
    /// The most the viewer may grant alone (minor units), when there is a most: above it the
    /// script makes the Resolve button "Request approval".
    pub limit: Option<i64>,
    /// Who approves an amount above `limit`, by range, as the script reads it (JSON).
    pub approvers: String,
    /// The form came back with an amount above the viewer's limit: who must approve it.
    pub needs_approval: Option<String>,
}

/// What the page can say of the ticket's events in the organisation's hash chain.
pub enum Chain {
    /// No events (nothing to say).
    Empty,
    /// The stretch of the chain holding them recomputes and links (`audit::check_stretch`).
    Verified,
    /// Where and why it does not.
    Broken(String),
    /// Too long a stretch for a page; `ladder audit verify` checks it.
    Unchecked,
}

/// How many of the organisation's events a page reads to check a ticket's stretch of the
/// chain: a few milliseconds at most.
const STRETCH_LIMIT: i64 = 1_000;

/// An option of a select.
pub struct Choice {
    pub value: String,
    pub label: String,
}

/// What the forms were sent with, shown again beside their errors.
#[derive(Default)]
pub struct Sent {
    pub escalate: EscalateForm,
    pub reply: ReplyForm,
    pub resolve: ResolveForm,
    pub de_escalate: ReasonForm,
    pub re_escalate: NoteForm,
    /// Errors by `form.field` (`escalate.note`), or `form` alone for the form as a whole.
    pub errors: BTreeMap<String, String>,
}

#[derive(Template)]
#[template(path = "ticket.html")]
struct TicketPage {
    chrome: Chrome,
    id: String,
    subject: String,
    /// The subject with the trigger words the detector found in it marked.
    subject_marked: Vec<Segment>,
    customer: String,
    customer_id: String,
    tier: &'static str,
    status: &'static str,
    priority: &'static str,
    assignee: String,
    category: Option<&'static str>,
    triggers: Vec<Trigger>,
    /// The banner's "Escalate with these": category and trigger names to prefill.
    suggested_category: &'static str,
    trigger_names: String,
    conversation: Vec<Entry>,
    /// Why a public reply is refused now, in people's words.
    reply_lock: Option<String>,
    panel: Option<Panel>,
    /// Why the ticket cannot be escalated now (already escalated, resolved…).
    may_escalate: bool,
    targets: Vec<Choice>,
    categories: Vec<&'static str>,
    links: Vec<(String, String)>,
    watchers: Vec<String>,
    history: Vec<(String, String, &'static str)>,
    timeline: Vec<(String, String)>,
    chain: Chain,
    sent: Sent,
    /// The dialog opens by itself: the escalate form came back with errors.
    escalate_open: bool,
}

impl TicketPage {
    fn err(&self, key: &str) -> Option<&str> {
        self.sent.errors.get(key).map(String::as_str)
    }

    fn selected_target(&self, value: &str) -> bool {
        let sent = self.sent.escalate.target.as_str();
        if sent.is_empty() {
            value == "owner"
        } else {
            sent == value
        }
    }
}

pub async fn page(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    match ticket_page(&state, &viewer, &TicketId(id), Sent::default()).await {
        Ok(res) => Ok(shown(&viewer, res)),
        Err(e) => Err(e.page(Some(&viewer))),
    }
}

/// Renders the page; `sent` carries what a form came back with.
async fn ticket_page(
    state: &AppState,
    viewer: &Viewer,
    id: &TicketId,
    sent: Sent,
) -> Result<Response, PageError> {
    let now = state.now();
    let actor = &viewer.caller.actor;
    let mut conn = state.db.conn().await?;
    let tenant = ticket_flow::ticket_tenant(&mut conn, actor, id).await?;
    let ticket = tickets::get(&mut conn, &tenant, id)
        .await?
        .ok_or(PageError::NotFound)?;
    let detail = ticket_flow::detail(&mut conn, &tenant, ticket).await?;
    let t = &detail.ticket;
    let customer = directory::customer(&mut conn, &tenant, &t.customer_id).await?;
    let users = directory::users(&state.db, &tenant).await?;
    let teams = directory::teams(&state.db, &tenant).await?;
    let names: HashMap<&str, &str> = users
        .iter()
        .map(|u| (u.id.as_str(), u.name.as_str()))
        .collect();
    let name_of = |id: Option<&UserId>| -> String {
        id.and_then(|id| names.get(id.as_str()).copied())
            .unwrap_or("someone")
            .to_owned()
    };
    let policy = crate::flows::policy_in(&mut conn, &tenant).await?;
    let tz = policy
        .calendar("default")
        .or(policy.calendars.first())
        .map(|c| deadline::zone(&c.time_zone))
        .transpose()?
        .unwrap_or(TimeZone::UTC);

    // Triggers and the words that fired them.
    let found = crate::triggers::stored(t)?;
    let mut quotes: Vec<String> = Vec::new();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut triggers = Vec::new();
    for f in &found {
        let mut q = Vec::new();
        for ev in f.evidence.as_array().into_iter().flatten() {
            if let Some(text) = ev.get("text").and_then(|v| v.as_str()) {
                q.push(text.to_owned());
                quotes.push(text.to_owned());
            }
            if let (Some(s), Some(e)) = (
                ev.get("start").and_then(|v| v.as_u64()),
                ev.get("end").and_then(|v| v.as_u64()),
            ) {
                spans.push((s as usize, e as usize));
            }
        }
        triggers.push(Trigger {
            label: words(f.kind.as_str()),
            quotes: q,
        });
    }
    let suggested_category = found
        .first()
        .map(|f| policy.trigger_category(f.kind))
        .or(t.category)
        .unwrap_or(Category::Other)
        .as_str();
    let trigger_names = found
        .iter()
        .map(|f| f.kind.as_str())
        .collect::<Vec<_>>()
        .join(",");

    // The conversation: the ticket's own text first (the customer's first message), then
    // every comment, oldest first.
    let attachments =
        ladder_storage::inbound::ticket_attachments(&mut conn, &tenant, &t.id).await?;
    let files_of = |comment: Option<&ladder_core::CommentId>| -> Vec<FileLink> {
        attachments
            .iter()
            .filter(|a| a.comment_id.as_ref() == comment)
            .map(|a| FileLink {
                name: a.filename.clone(),
                size: size_text(a.size),
                url: format!("/api/v1/attachments/{}", a.id),
            })
            .collect()
    };
    let mut conversation = vec![Entry {
        files: files_of(None),
        history: None,
        kind: "customer",
        author: customer
            .as_ref()
            .map_or_else(|| "Customer".to_owned(), |c| c.name.clone()),
        when: deadline::when(t.created_at, &tz),
        body: description_segments(&t.subject, &t.description, &spans, &quotes),
    }];
    for c in tickets::comments(&mut conn, &tenant, &t.id).await? {
        let (kind, author) = match (&c.author_id, c.public, c.logged_call) {
            (None, _, _) => (
                "customer",
                customer
                    .as_ref()
                    .map_or_else(|| "Customer".to_owned(), |c| c.name.clone()),
            ),
            (Some(a), _, true) => ("call", name_of(Some(a))),
            (Some(a), true, false) => ("public", name_of(Some(a))),
            (Some(a), false, false) => ("note", name_of(Some(a))),
        };
        let mut history = None;
        let body = if kind == "customer" {
            // A customer's email: what is new, with the quoted history folded below it.
            let (new, quoted) = crate::inbound::parse::split_quoted(&c.body);
            history = quoted.map(str::to_owned);
            highlight(new, &find_all(new, &quotes))
        } else {
            vec![Segment {
                text: c.body.clone(),
                mark: false,
            }]
        };
        conversation.push(Entry {
            files: files_of(Some(&c.id)),
            history,
            kind,
            author,
            when: deadline::when(c.created_at, &tz),
            body,
        });
    }

    // The reply lock, as the flow will judge a public reply.
    let active = detail.active_escalation.as_ref();
    let reply_lock = match active {
        Some(e) => {
            let owner = e
                .escalation_owner_id
                .as_ref()
                .map(|o| (o.as_str(), name_of(Some(o))));
            let lock = Some((e.category, owner.as_ref().map(|(i, n)| (*i, n.as_str()))));
            check_public_reply(lock, &policy, &actor.rules())
                .err()
                .map(|_| match &owner {
                    Some((_, name)) => format!(
                        "Replies are locked while {name} handles this {} escalation. Add an internal note instead.",
                        e.category
                    ),
                    None => format!(
                        "Replies are locked until someone takes this {} escalation. Add an internal note instead.",
                        e.category
                    ),
                })
        }
        None => None,
    };

    let panel = match active {
        Some(e) => Some(
            panel(
                &mut conn,
                &tenant,
                e,
                actor,
                &policy,
                (&users, &teams),
                &sent.resolve,
                now,
            )
            .await?,
        ),
        None => None,
    };
    let may_escalate = active.is_none()
        && actor.role.is_tenant_staff()
        && !matches!(
            t.status,
            ladder_core::TicketStatus::Resolved | ladder_core::TicketStatus::Closed
        );

    let mut targets = vec![
        Choice {
            value: "owner".into(),
            label: "Owner".into(),
        },
        Choice {
            value: "role:admin".into(),
            label: "Admin team (every admin)".into(),
        },
    ];
    for team in &teams {
        targets.push(Choice {
            value: format!("team:{}", team.id),
            label: format!("Team: {}", team.name),
        });
    }
    for u in users
        .iter()
        .filter(|u| u.id != actor.user_id && u.role.is_tenant_staff())
    {
        targets.push(Choice {
            value: format!("user:{}", u.id),
            label: format!("{} ({})", u.name, words(u.role.as_str())),
        });
    }
    targets.push(Choice {
        value: "platform".into(),
        label: "Platform support (software problem)".into(),
    });

    let links = detail
        .links
        .iter()
        .map(|l| {
            let other = if l.from_ticket_id == t.id {
                &l.to_ticket_id
            } else {
                &l.from_ticket_id
            };
            (other.as_str().to_owned(), words(l.kind.as_str()))
        })
        .collect();
    let watchers = detail.watchers.iter().map(|w| name_of(Some(w))).collect();
    let history = tickets::customer_tickets(&mut conn, &tenant, &t.customer_id, 8)
        .await?
        .into_iter()
        .filter(|h| h.id != t.id)
        .map(|h| (h.id.as_str().to_owned(), h.subject, h.status.as_str()))
        .collect();
    let events = audit::for_ticket(&state.db, &tenant, &t.id).await?;
    let chain = match (events.first(), events.last()) {
        (Some(first), Some(last)) => {
            match audit::check_stretch(&mut conn, &tenant, first.seq, last.seq, STRETCH_LIMIT)
                .await?
            {
                audit::Stretch::Intact => Chain::Verified,
                audit::Stretch::Broken(b) => {
                    Chain::Broken(format!("at event {}: {}", b.seq, b.reason))
                }
                audit::Stretch::TooLong { .. } => Chain::Unchecked,
            }
        }
        _ => Chain::Empty,
    };
    let timeline = events
        .iter()
        .map(|ev| {
            let who = ev
                .actor_id
                .as_ref()
                .map_or_else(|| "Ladder".to_owned(), |a| name_of(Some(a)));
            (
                deadline::when(ev.occurred_at, &tz),
                format!("{} · {who}", words(ev.kind.as_str())),
            )
        })
        .collect();

    let escalate_open = sent.errors.keys().any(|k| k.starts_with("escalate"));
    let status = if sent.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let chrome = Chrome::load(state, viewer, "").await?;
    let page = TicketPage {
        chrome,
        id: t.id.as_str().to_owned(),
        subject: t.subject.clone(),
        subject_marked: subject_segments(&t.subject, &spans, &quotes),
        customer: customer
            .as_ref()
            .map_or_else(|| "—".to_owned(), |c| c.name.clone()),
        customer_id: t.customer_id.as_str().to_owned(),
        tier: customer.as_ref().map_or("standard", |c| c.tier.as_str()),
        status: t.status.as_str(),
        priority: t.priority.as_str(),
        assignee: t
            .assignee_id
            .as_ref()
            .map_or_else(|| "nobody".to_owned(), |a| name_of(Some(a))),
        category: t.category.map(Category::as_str),
        triggers,
        suggested_category,
        trigger_names,
        conversation,
        reply_lock,
        panel,
        may_escalate,
        targets,
        categories: Category::names(),
        links,
        watchers,
        history,
        timeline,
        chain,
        sent,
        escalate_open,
    };
    Ok(render_status(status, &page))
}

#[allow(clippy::too_many_arguments)] // what the panel shows comes from each
async fn panel(
    conn: &mut sqlx::AnyConnection,
    tenant: &ladder_core::TenantId,
    e: &Escalation,
    actor: &Actor,
    policy: &ladder_core::Policy,
    (users, teams): (&[User], &[Team]),
    sent: &ResolveForm,
    now: Timestamp,
) -> Result<Panel, PageError> {
    let owner = e.escalation_owner_id.as_ref().map(|o| {
        users
            .iter()
            .find(|u| &u.id == o)
            .map_or_else(|| "someone who left".to_owned(), |u| u.name.clone())
    });
    let may_handle = actor.rules().may_handle(&e.target);
    let approval = stored::pending_approval_for(conn, tenant, &e.id)
        .await?
        .map(|a| {
            format!(
                "{} {} waiting for {} approval",
                money(a.amount_minor, &a.currency),
                words(
                    a.resolution
                        .pointer("/compensation/kind")
                        .and_then(|k| k.as_str())
                        .unwrap_or("compensation")
                )
                .to_lowercase(),
                article(a.approver_role)
            )
        });
    let authority = match policy.authority_limit(actor.role) {
        ladder_core::policy::AuthorityLimit::Unlimited => "You may grant any amount.".to_owned(),
        ladder_core::policy::AuthorityLimit::UpTo(limit) => {
            let approver = ladder_core::escalation::approval_needed(
                limit.saturating_add(1),
                actor.role,
                policy,
            )
            .map_or_else(|| "an owner's".to_owned(), article);
            format!(
                "You may grant up to {} yourself; more waits for {approver} approval.",
                money(limit, &policy.currency)
            )
        }
    };
    let limit = match policy.authority_limit(actor.role) {
        ladder_core::policy::AuthorityLimit::UpTo(limit) => Some(limit),
        ladder_core::policy::AuthorityLimit::Unlimited => None,
    };
    let needs_approval = match (sent.compensation.as_str(), minor_units(&sent.amount)) {
        ("" | "none", _) | (_, None) => None,
        (_, Some(amount)) => {
            ladder_core::escalation::approval_needed(amount, actor.role, policy).map(approver_says)
        }
    };
    Ok(Panel {
        authority,
        limit,
        approvers: approvers(limit, actor.role, policy),
        needs_approval,
        id: e.id.as_str().to_owned(),
        state: e.state.as_str(),
        target: target_label(&e.target, users, teams),
        rung: e.rung,
        owner,
        category: e.category.as_str(),
        urgency: e.urgency.as_str(),
        contact_method: e.contact_method.as_str(),
        note: e.note.clone(),
        tried: e.tried.clone(),
        chips: deadline::chips(e, now)?,
        may_acknowledge: may_handle && e.state == EscalationState::Requested,
        may_act: may_handle,
        approval,
    })
}

/// Beside the "Request approval" button: who decides, and what happens then.
fn approver_says(role: Role) -> String {
    let who = article(role);
    let mut chars = who.chars();
    let who = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect::<String>())
        .unwrap_or_default();
    format!("{who} approval is needed first; the escalation is resolved once it is given.")
}

/// Who approves an amount above the viewer's `limit`, by range of amounts, for the script:
/// `[{"above": 20000, "up_to": 100000, "says": "An admin's approval…"}, …]`, `up_to` null for
/// the last range. The ranges end at the roles' limits, between which
/// `escalation::approval_needed` (the flow's own rule, asked at each range's top) cannot
/// change its answer.
fn approvers(limit: Option<i64>, role: Role, policy: &ladder_core::Policy) -> String {
    let Some(limit) = limit else {
        return "[]".to_owned();
    };
    let mut tops: Vec<i64> = [Role::Specialist, Role::Admin, Role::Owner]
        .into_iter()
        .filter_map(|r| match policy.authority_limit(r) {
            ladder_core::policy::AuthorityLimit::UpTo(l) if l > limit => Some(l),
            _ => None,
        })
        .collect();
    tops.sort_unstable();
    tops.dedup();
    let mut ranges = Vec::new();
    let mut above = limit;
    for top in tops.into_iter().map(Some).chain([None]) {
        let asked = top.unwrap_or(above.saturating_add(1));
        if let Some(r) = ladder_core::escalation::approval_needed(asked, role, policy) {
            ranges
                .push(serde_json::json!({"above": above, "up_to": top, "says": approver_says(r)}));
        }
        if let Some(t) = top {
            above = t;
        }
    }
    serde_json::Value::Array(ranges).to_string()
}

fn article(role: Role) -> String {
    let name = words(role.as_str()).to_lowercase();
    if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {name}'s")
    } else {
        format!("a {name}'s")
    }
}

/// "€450.00"-like, without guessing symbols: "450.00 EUR".
fn money(minor: i64, currency: &str) -> String {
    format!("{}.{:02} {currency}", minor / 100, (minor % 100).abs())
}

/// Who an escalation is addressed to, in words.
pub fn target_label(target: &Target, users: &[User], teams: &[Team]) -> String {
    match target {
        Target::Owner => {
            let owners: Vec<&str> = users
                .iter()
                .filter(|u| u.role == Role::Owner)
                .map(|u| u.name.as_str())
                .collect();
            if owners.is_empty() {
                "the owner".to_owned()
            } else {
                owners.join(" and ")
            }
        }
        Target::User { id } => users
            .iter()
            .find(|u| &u.id == id)
            .map_or_else(|| "someone who left".to_owned(), |u| u.name.clone()),
        Target::Team { id } => teams
            .iter()
            .find(|t| &t.id == id)
            .map_or_else(|| "a team".to_owned(), |t| format!("the {} team", t.name)),
        Target::Role { role } => format!("every {}", words(role.as_str()).to_lowercase()),
        Target::Platform => "platform support".to_owned(),
    }
}

/// The ticket's first message: subject and description, as the detector read them
/// (`subject\n\ndescription`), with its evidence spans; a span that does not fall on the
/// words it quotes (a later message's) is looked for by its words instead.
fn description_segments(
    subject: &str,
    description: &str,
    spans: &[(usize, usize)],
    quotes: &[String],
) -> Vec<Segment> {
    let offset = subject.len() + 2;
    let mut marks: Vec<(usize, usize)> = spans
        .iter()
        .filter_map(|&(s, e)| {
            let (s, e) = (s.checked_sub(offset)?, e.checked_sub(offset)?);
            description
                .get(s..e)
                .is_some_and(|t| quotes.iter().any(|q| q == t))
                .then_some((s, e))
        })
        .collect();
    marks.extend(find_all(description, quotes));
    highlight(description, &marks)
}

/// The subject, the start of what the detector read, with the spans that fall in it.
fn subject_segments(subject: &str, spans: &[(usize, usize)], quotes: &[String]) -> Vec<Segment> {
    let marks: Vec<(usize, usize)> = spans
        .iter()
        .copied()
        .filter(|&(s, e)| {
            subject
                .get(s..e)
                .is_some_and(|t| quotes.iter().any(|q| q == t))
        })
        .collect();
    highlight(subject, &marks)
}

/// Where the quoted words occur in `text`.
fn find_all(text: &str, quotes: &[String]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for q in quotes.iter().filter(|q| !q.is_empty()) {
        let mut from = 0;
        while let Some(at) = text.get(from..).and_then(|rest| rest.find(q.as_str())) {
            out.push((from + at, from + at + q.len()));
            from += at + q.len();
        }
    }
    out
}

/// Splits `text` into runs, marking the (possibly overlapping) byte ranges.
fn highlight(text: &str, marks: &[(usize, usize)]) -> Vec<Segment> {
    let mut marks: Vec<(usize, usize)> = marks
        .iter()
        .copied()
        .filter(|&(s, e)| {
            s < e && e <= text.len() && text.is_char_boundary(s) && text.is_char_boundary(e)
        })
        .collect();
    marks.sort_unstable();
    let mut out = Vec::new();
    let mut at = 0;
    for (s, e) in marks {
        if e <= at {
            continue;
        }
        let s = s.max(at);
        if s > at {
            out.push(Segment {
                text: text[at..s].to_owned(),
                mark: false,
            });
        }
        out.push(Segment {
            text: text[s..e].to_owned(),
            mark: true,
        });
        at = e;
    }
    if at < text.len() {
        out.push(Segment {
            text: text[at..].to_owned(),
            mark: false,
        });
    }
    out
}

// --- the forms ------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct ReplyForm {
    /// `public`, `note` or `call`.
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub body: String,
}

#[derive(Deserialize, Default)]
pub struct EscalateForm {
    /// `owner`, `role:admin`, `team:<id>`, `user:<id>` or `platform`.
    #[serde(default)]
    pub target: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub tried: String,
    #[serde(default)]
    pub contact_method: String,
    #[serde(default)]
    pub urgency: String,
    /// Trigger names, comma-separated, when escalating from the banner.
    #[serde(default)]
    pub triggers: String,
}

#[derive(Deserialize, Default)]
pub struct ResolveForm {
    #[serde(default)]
    pub escalation_id: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub root_cause: String,
    #[serde(default)]
    pub actions: String,
    #[serde(default)]
    pub preventive_actions: String,
    /// `none`, `refund`, `credit` or `other`.
    #[serde(default)]
    pub compensation: String,
    /// In the currency's units, as typed: "45" or "45.50".
    #[serde(default)]
    pub amount: String,
}

#[derive(Deserialize, Default)]
pub struct EscalationForm {
    #[serde(default)]
    pub escalation_id: String,
}

#[derive(Deserialize, Default)]
pub struct ReasonForm {
    #[serde(default)]
    pub escalation_id: String,
    #[serde(default)]
    pub reason: String,
}

#[derive(Deserialize, Default)]
pub struct NoteForm {
    #[serde(default)]
    pub escalation_id: String,
    #[serde(default)]
    pub note: String,
}

/// Collects a form's field errors under `form.field`.
struct Check {
    form: &'static str,
    errors: BTreeMap<String, String>,
}

impl Check {
    fn new(form: &'static str) -> Check {
        Check {
            form,
            errors: BTreeMap::new(),
        }
    }

    fn text(&mut self, field: &str, value: &str, required: &str) -> Option<LongText> {
        match LongText::new(value) {
            Ok(t) => Some(t),
            Err(ladder_core::text::TextError::Blank) => {
                self.errors
                    .insert(format!("{}.{field}", self.form), required.to_owned());
                None
            }
            Err(e) => {
                self.errors
                    .insert(format!("{}.{field}", self.form), format!("This {e}."));
                None
            }
        }
    }

    fn optional(&mut self, field: &str, value: &str) -> Option<LongText> {
        if value.trim().is_empty() {
            None
        } else {
            self.text(field, value, "")
        }
    }

    fn choice<T: std::str::FromStr>(&mut self, field: &str, value: &str, what: &str) -> Option<T> {
        match value.parse() {
            Ok(v) => Some(v),
            Err(_) => {
                self.errors
                    .insert(format!("{}.{field}", self.form), format!("Choose {what}."));
                None
            }
        }
    }

    fn fail(&mut self, field: Option<&str>, message: String) {
        let key = match field {
            Some(f) => format!("{}.{f}", self.form),
            None => self.form.to_owned(),
        };
        self.errors.insert(key, message);
    }

    fn ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// A flow's refusal, shown on the form: a field's next to it, anything else above the form.
/// Not found stays a 404 page.
fn refused(check: &mut Check, e: FlowError) -> Result<(), PageError> {
    match e {
        FlowError::Invalid { field, detail } => {
            check.fail(
                Some(field.split(['.', '[']).next().unwrap_or("")),
                capital(&detail),
            );
        }
        FlowError::InvalidFields(list) => {
            for f in list {
                check.fail(
                    Some(f.field.split(['.', '[']).next().unwrap_or("")),
                    capital(&f.detail),
                );
            }
        }
        FlowError::Forbidden(m) | FlowError::Conflict(m) => check.fail(None, capital(&m)),
        other => return Err(other.into()),
    }
    Ok(())
}

fn capital(s: &str) -> String {
    let mut out = words(s);
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// Re-renders the ticket with a form's errors and what it was sent with.
async fn again(
    state: &AppState,
    viewer: &Viewer,
    id: &TicketId,
    check: Check,
    fill: impl FnOnce(&mut Sent),
) -> Response {
    let mut sent = Sent {
        errors: check.errors,
        ..Sent::default()
    };
    fill(&mut sent);
    match ticket_page(state, viewer, id, sent).await {
        Ok(res) => res,
        Err(e) => e.page(Some(viewer)),
    }
}

fn back(id: &TicketId) -> String {
    format!("/tickets/{}", id.as_str())
}

pub async fn reply(
    State(state): State<AppState>,
    Path(id): Path<String>,
    f: CsrfForm<ReplyForm>,
) -> Response {
    let (viewer, form, id) = (f.viewer, f.form, TicketId(id));
    let mut check = Check::new("reply");
    let body = check.text("body", &form.body, "Write the message before sending it.");
    let (public, logged_call, done) = match form.kind.as_str() {
        "public" => (true, false, "Reply sent to the customer."),
        "note" => (false, false, "Internal note added."),
        "call" => (false, true, "Call logged."),
        _ => {
            check.fail(
                Some("kind"),
                "Choose a public reply, an internal note or a logged call.".into(),
            );
            (false, false, "")
        }
    };
    if let (true, Some(body)) = (check.ok(), body) {
        let cmd = AddComment {
            body,
            public,
            from_customer: false,
            logged_call,
        };
        match ticket_flow::comment(&state.db, &viewer.caller.actor, &id, cmd, state.now()).await {
            Ok(_) => return see_other_with(&back(&id), done),
            Err(e) => {
                if let Err(e) = refused(&mut check, e) {
                    return e.page(Some(&viewer));
                }
            }
        }
    }
    again(&state, &viewer, &id, check, |s| s.reply = form).await
}

/// The target a form names: `owner`, `role:admin`, `team:<id>`, `user:<id>`, `platform`.
fn parse_target(value: &str) -> Option<Target> {
    let (kind, reference) = match value.split_once(':') {
        Some((k, r)) => (k, Some(r)),
        None => (value, None),
    };
    let kind: TargetKind = kind.parse().ok()?;
    Target::from_parts(kind, reference)
}

pub async fn escalate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    f: CsrfForm<EscalateForm>,
) -> Response {
    let (viewer, form, id) = (f.viewer, f.form, TicketId(id));
    let mut check = Check::new("escalate");
    let target = match form.target.as_str() {
        "" => None,
        t => match parse_target(t) {
            Some(t) => Some(t),
            None => {
                check.fail(Some("target"), "Choose who to escalate to.".into());
                None
            }
        },
    };
    let category: Option<Category> = check.choice("category", &form.category, "a category");
    let note = check.text(
        "note",
        &form.note,
        "Say what the issue is and why you are escalating it.",
    );
    let tried = check.optional("tried", &form.tried);
    let contact: Option<ContactMethod> = check.choice(
        "contact_method",
        &form.contact_method,
        "how the customer wants to be contacted",
    );
    let urgency: Option<Urgency> = check.choice("urgency", &form.urgency, "urgent or standard");
    let triggers: Vec<TriggerKind> = form
        .triggers
        .split(',')
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect();
    if let (true, Some(category), Some(note), Some(contact_method), Some(urgency)) =
        (check.ok(), category, note, contact, urgency)
    {
        let cmd = Escalate {
            target,
            category,
            note,
            tried,
            contact_method,
            urgency,
            triggers,
        };
        // The dialog sends triggers only when opened from the banner; otherwise the ticket's
        // detected triggers go with the escalation, as through the API.
        let carried = if cmd.triggers.is_empty() {
            flow::Carried::Detected
        } else {
            flow::Carried::Chosen
        };
        let actor = &viewer.caller.actor;
        match flow::escalate(&state.db, actor, &id, cmd, carried, state.now()).await {
            Ok(e) => {
                state.metrics.event("escalated");
                let to = match escalated_to(&state, &e).await {
                    Ok(to) => to,
                    Err(err) => return err.page(Some(&viewer)),
                };
                return see_other_with(
                    &back(&id),
                    &format!("Escalated to {to}. You'll find it under Watching."),
                );
            }
            Err(e) => {
                if let Err(e) = refused(&mut check, e) {
                    return e.page(Some(&viewer));
                }
            }
        }
    }
    again(&state, &viewer, &id, check, |s| s.escalate = form).await
}

async fn escalated_to(state: &AppState, e: &Escalation) -> Result<String, PageError> {
    let users = directory::users(&state.db, &e.tenant_id).await?;
    let teams = directory::teams(&state.db, &e.tenant_id).await?;
    Ok(target_label(&e.target, &users, &teams))
}

fn escalation_id(check: &mut Check, value: &str) -> Option<EscalationId> {
    if value.trim().is_empty() {
        check.fail(
            None,
            "This form lost its escalation; reload the page and try again.".into(),
        );
        return None;
    }
    Some(EscalationId(value.trim().to_owned()))
}

pub async fn acknowledge(
    State(state): State<AppState>,
    Path(id): Path<String>,
    f: CsrfForm<EscalationForm>,
) -> Response {
    let (viewer, form, id) = (f.viewer, f.form, TicketId(id));
    let mut check = Check::new("panel");
    if let Some(eid) = escalation_id(&mut check, &form.escalation_id) {
        match flow::acknowledge(&state.db, &viewer.caller.actor, &eid, state.now()).await {
            Ok(e) if e.ticket_id == id => {
                state.metrics.event("acknowledged");
                return see_other_with(&back(&id), "Acknowledged: you own this escalation now.");
            }
            Ok(_) => return PageError::NotFound.page(Some(&viewer)),
            Err(e) => {
                if let Err(e) = refused(&mut check, e) {
                    return e.page(Some(&viewer));
                }
            }
        }
    }
    again(&state, &viewer, &id, check, |_| {}).await
}

/// Reads "45", "45.5" or "45.50" as minor units (4550).
fn minor_units(amount: &str) -> Option<i64> {
    let amount = amount.trim();
    let (whole, fraction) = amount.split_once(['.', ',']).unwrap_or((amount, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || fraction.len() > 2 {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let cents = match fraction.len() {
        0 => 0,
        1 => fraction.parse::<i64>().ok()? * 10,
        _ => fraction.parse::<i64>().ok()?,
    };
    whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(cents)
}

pub async fn resolve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    f: CsrfForm<ResolveForm>,
) -> Response {
    let (viewer, form, id) = (f.viewer, f.form, TicketId(id));
    let mut check = Check::new("resolve");
    let eid = escalation_id(&mut check, &form.escalation_id);
    let summary = check.text(
        "summary",
        &form.summary,
        "Write a summary: what happened and how it ended.",
    );
    let root_cause = check.optional("root_cause", &form.root_cause);
    let actions = check.optional("actions", &form.actions);
    let preventive_actions = check.optional("preventive_actions", &form.preventive_actions);
    let kind: Option<CompensationKind> = match form.compensation.as_str() {
        "" => Some(CompensationKind::None),
        k => check.choice("compensation", k, "none, refund, credit or other"),
    };
    let compensation = match kind {
        Some(CompensationKind::None) | None => None,
        Some(kind) => match minor_units(&form.amount) {
            Some(amount) => Some(Compensation {
                kind,
                amount,
                currency: None,
            }),
            None => {
                check.fail(
                    Some("amount"),
                    "Enter the amount as a number, such as 45 or 45.50.".into(),
                );
                None
            }
        },
    };
    if let (true, Some(eid), Some(summary)) = (check.ok(), eid, summary) {
        let cmd = Resolve {
            summary,
            root_cause,
            actions,
            preventive_actions,
            compensation,
        };
        match flow::resolve(&state.db, &viewer.caller.actor, &eid, cmd, state.now()).await {
            Ok(done) => {
                let message = match &done.approval {
                    Some(a) => format!(
                        "The compensation is above your authority: it waits for {} approval, and the escalation is resolved once it is given.",
                        article(a.approver_role)
                    ),
                    None => "Resolved. The summary is in the ticket's record.".to_owned(),
                };
                state.metrics.event(if done.approval.is_some() {
                    "approval_requested"
                } else {
                    "resolved"
                });
                return see_other_with(&back(&id), &message);
            }
            Err(e) => {
                if let Err(e) = refused(&mut check, e) {
                    return e.page(Some(&viewer));
                }
            }
        }
    }
    again(&state, &viewer, &id, check, |s| s.resolve = form).await
}

pub async fn de_escalate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    f: CsrfForm<ReasonForm>,
) -> Response {
    let (viewer, form, id) = (f.viewer, f.form, TicketId(id));
    let mut check = Check::new("de_escalate");
    let eid = escalation_id(&mut check, &form.escalation_id);
    let reason = check.text(
        "reason",
        &form.reason,
        "Say why this did not need escalating.",
    );
    if let (true, Some(eid), Some(reason)) = (check.ok(), eid, reason) {
        match flow::de_escalate(&state.db, &viewer.caller.actor, &eid, &reason, state.now()).await {
            Ok(_) => {
                return see_other_with(
                    &back(&id),
                    "De-escalated: the ticket is back with whoever had it before.",
                )
            }
            Err(e) => {
                if let Err(e) = refused(&mut check, e) {
                    return e.page(Some(&viewer));
                }
            }
        }
    }
    again(&state, &viewer, &id, check, |s| s.de_escalate = form).await
}

pub async fn re_escalate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    f: CsrfForm<NoteForm>,
) -> Response {
    let (viewer, form, id) = (f.viewer, f.form, TicketId(id));
    let mut check = Check::new("re_escalate");
    let eid = escalation_id(&mut check, &form.escalation_id);
    let note = check.text("note", &form.note, "Say why it must go higher.");
    if let (true, Some(eid), Some(note)) = (check.ok(), eid, note) {
        match flow::re_escalate(&state.db, &viewer.caller.actor, &eid, &note, state.now()).await {
            Ok(e) => {
                let to = match escalated_to(&state, &e).await {
                    Ok(to) => to,
                    Err(err) => return err.page(Some(&viewer)),
                };
                return see_other_with(&back(&id), &format!("Moved up to {to}."));
            }
            Err(e) => {
                if let Err(e) = refused(&mut check, e) {
                    return e.page(Some(&viewer));
                }
            }
        }
    }
    again(&state, &viewer, &id, check, |s| s.re_escalate = form).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use ladder_core::TeamId;

    fn shown(segments: &[Segment]) -> String {
        segments
            .iter()
            .map(|s| {
                if s.mark {
                    format!("[{}]", s.text)
                } else {
                    s.text.clone()
                }
            })
            .collect()
    }

    #[test]
    fn evidence_is_marked_where_it_was_found() {
        let subject = "Crown";
        let description = "I will sue you. Really, I'll sue.";
        // "sue you" at 7..14 of the description, 14..21 of "Crown\n\n…".
        let segs = description_segments(subject, description, &[(14, 21)], &["sue you".into()]);
        assert_eq!(shown(&segs), "I will [sue you]. Really, I'll sue.");
        // A span that does not quote its words there is found by its words.
        let segs = description_segments(subject, description, &[(0, 3)], &["I'll sue".into()]);
        assert_eq!(shown(&segs), "I will sue you. Really, [I'll sue].");
    }

    #[test]
    fn overlapping_marks_merge_and_bad_ranges_are_ignored() {
        let segs = highlight("abcdef", &[(1, 3), (2, 4), (5, 99), (4, 2)]);
        assert_eq!(shown(&segs), "a[bc][d]ef");
        let segs = highlight("é", &[(0, 1)]);
        assert_eq!(shown(&segs), "é");
    }

    #[test]
    fn amounts_read_as_minor_units() {
        assert_eq!(minor_units("45"), Some(4500));
        assert_eq!(minor_units("45.5"), Some(4550));
        assert_eq!(minor_units("45,50"), Some(4550));
        assert_eq!(minor_units("45.505"), None);
        assert_eq!(minor_units("-4"), None);
        assert_eq!(minor_units(""), None);
    }

    #[test]
    fn targets_read_from_the_form() {
        assert_eq!(parse_target("owner"), Some(Target::Owner));
        assert_eq!(
            parse_target("role:admin"),
            Some(Target::Role { role: Role::Admin })
        );
        assert_eq!(
            parse_target("team:t1"),
            Some(Target::Team {
                id: TeamId("t1".into())
            })
        );
        assert_eq!(parse_target("user"), None);
        assert_eq!(parse_target("boss"), None);
    }
}
