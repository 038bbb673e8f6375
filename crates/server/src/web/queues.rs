//! Mine, Watching and Escalations as tables: one row per ticket, with the nearest deadline.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use ladder_core::{Category, EscalationState, TicketId, TicketStatus};
use ladder_storage::directory::Customer;
use ladder_storage::escalations::{self as stored, Escalation};
use ladder_storage::queues::{self, Filter};
use ladder_storage::tickets::{self, Ticket};
use ladder_storage::{directory, StorageError};
use serde::Deserialize;

use super::deadline::{self, Chip};
use super::{render, shown, words, Chrome, PageError, PageResult, Viewer};
use crate::state::AppState;

/// `GET /`: the escalations queue for someone signed in, the sign-in form otherwise.
pub async fn home(
    viewer: Option<Viewer>,
    state: State<AppState>,
    q: Query<QueueQuery>,
) -> Response {
    match viewer {
        Some(v) => match escalations(v, state, q).await {
            Ok(r) | Err(r) => r,
        },
        None => Redirect::to("/login").into_response(),
    }
}

/// The filters and page of a queue, as its GET form sends them (empty means "any").
#[derive(Deserialize, Default)]
pub struct QueueQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    cursor: String,
}

/// One row of a queue table.
pub struct Row {
    pub ticket_id: String,
    pub subject: String,
    pub customer: String,
    pub priority: &'static str,
    pub category: Option<&'static str>,
    pub triggers: Vec<String>,
    pub status: &'static str,
    /// The active escalation's state.
    pub state: Option<&'static str>,
    /// Who owns the escalation: a name, "unowned", or nothing when there is no escalation.
    pub owner: Option<String>,
    pub deadline: Option<Chip>,
    /// Changes whenever the row does, so the live script can highlight what changed.
    pub version: String,
}

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage {
    chrome: Chrome,
    title: &'static str,
    path: &'static str,
    empty: &'static str,
    rows: Vec<Row>,
    statuses: Vec<&'static str>,
    categories: Vec<&'static str>,
    status: String,
    category: String,
    /// How many the queue holds with these filters: "12", or "999+".
    total: String,
    paged: bool,
    next: Option<String>,
}

fn parse_filter(q: &QueueQuery, status_ok: impl Fn(&str) -> bool) -> Result<Filter, PageError> {
    let status = match q.status.trim() {
        "" => None,
        s if status_ok(s) => Some(s.to_owned()),
        s => {
            return Err(PageError::BadForm(format!(
                "status: {s:?} is not a status of this queue"
            )))
        }
    };
    let category = match q.category.trim() {
        "" => None,
        c => Some(c.parse::<Category>().map_err(|_| {
            PageError::BadForm(format!(
                "category: {c:?} is not a category; choose one of {}",
                Category::names().join(", ")
            ))
        })?),
    };
    let cursor = match q.cursor.trim() {
        "" => None,
        c if queues::cursor_is_valid(c) => Some(c.to_owned()),
        _ => {
            return Err(PageError::BadForm(
                "cursor: not a page of this queue".into(),
            ))
        }
    };
    Ok(Filter {
        status,
        category,
        cursor,
        limit: PAGE,
    })
}

/// Rows per page.
const PAGE: i64 = 50;

/// How far a page counts a queue: past it the page says "999+" rather than walk the whole
/// queue (an owner watches thousands of tickets) on every view.
pub const COUNT_CAP: i64 = 1000;

/// A count counted up to `COUNT_CAP`, as a page shows it.
pub fn count_shown(n: i64) -> String {
    if n >= COUNT_CAP {
        format!("{}+", COUNT_CAP - 1)
    } else {
        n.to_string()
    }
}

pub async fn mine(
    viewer: Viewer,
    State(state): State<AppState>,
    Query(q): Query<QueueQuery>,
) -> PageResult {
    ticket_queue(&viewer, &state, &q, TicketQueue::Mine).await
}

pub async fn watching(
    viewer: Viewer,
    State(state): State<AppState>,
    Query(q): Query<QueueQuery>,
) -> PageResult {
    ticket_queue(&viewer, &state, &q, TicketQueue::Watching).await
}

/// The queues of a person's own tickets: the same page over two queries.
#[derive(Clone, Copy)]
enum TicketQueue {
    /// Assigned to them and not yet solved.
    Mine,
    /// Watched by them.
    Watching,
}

async fn ticket_queue(
    viewer: &Viewer,
    state: &AppState,
    q: &QueueQuery,
    which: TicketQueue,
) -> PageResult {
    let (statuses, words) = match which {
        TicketQueue::Mine => (
            vec!["new", "open", "pending"],
            Words {
                nav: "mine",
                title: "Mine",
                path: "/queues/mine",
                empty: "Nothing is assigned to you. Tickets given to you appear here until they are solved or escalated.",
            },
        ),
        TicketQueue::Watching => (
            TicketStatus::names(),
            Words {
                nav: "watching",
                title: "Watching",
                path: "/queues/watching",
                empty: "You are not watching any ticket. Tickets you escalate appear here, so you can follow them to the end.",
            },
        ),
    };
    let (tenant, user) = (viewer.caller.tenant_id(), &viewer.caller.user.id);
    let load = async |f: &Filter| -> Result<_, PageError> {
        let mut conn = state.db.conn().await?;
        let ((items, next), total) = match which {
            TicketQueue::Mine => (
                queues::mine_rows(&mut conn, tenant, user, f).await?,
                queues::mine_total(&mut conn, tenant, user, f, COUNT_CAP).await?,
            ),
            TicketQueue::Watching => (
                queues::watching_rows(&mut conn, tenant, user, f).await?,
                queues::watching_total(&mut conn, tenant, user, f, COUNT_CAP).await?,
            ),
        };
        Ok((ticket_rows(state, &items, state.now()).await?, total, next))
    };
    queue_page(viewer, state, q, statuses, words, load).await
}

pub async fn escalations(
    viewer: Viewer,
    State(state): State<AppState>,
    Query(q): Query<QueueQuery>,
) -> PageResult {
    let words = Words {
        nav: "escalations",
        title: "Escalations",
        path: "/queues/escalations",
        empty: "Nothing is escalated to you. Escalations addressed to you, your teams or your role appear here, soonest due first.",
    };
    let keys = viewer.caller.queue_keys();
    let audience = viewer.caller.queue_audience(&keys);
    let statuses = vec![
        EscalationState::Requested.as_str(),
        EscalationState::Acknowledged.as_str(),
    ];
    queue_page(
        &viewer,
        &state,
        &q,
        statuses,
        words,
        async |f: &Filter| -> Result<_, PageError> {
            let mut conn = state.db.conn().await?;
            let (items, next) = queues::escalations_rows(&mut conn, &audience, f).await?;
            let total = queues::escalations_total(&mut conn, &audience, f, COUNT_CAP).await?;
            let ids: Vec<TicketId> = items
                .iter()
                .map(|i| i.escalation.ticket_id.clone())
                .collect();
            Ok((context_rows(&state, &ids, state.now()).await?, total, next))
        },
    )
    .await
}

/// What a queue page says besides its rows.
struct Words {
    /// The navigation entry it highlights.
    nav: &'static str,
    title: &'static str,
    path: &'static str,
    /// What it says when nothing is in the queue.
    empty: &'static str,
}

/// A queue page: the filter read from `q` (a status among `statuses`), then the rows, count
/// and next page's cursor that `load` reads for it, shown in the page's chrome.
async fn queue_page(
    viewer: &Viewer,
    state: &AppState,
    q: &QueueQuery,
    statuses: Vec<&'static str>,
    words: Words,
    load: impl AsyncFnOnce(&Filter) -> Result<(Vec<Row>, i64, Option<String>), PageError>,
) -> PageResult {
    let f = parse_filter(q, |s| statuses.contains(&s)).map_err(|e| e.page(Some(viewer)))?;
    let run = async {
        let (rows, total, next) = load(&f).await?;
        let chrome = Chrome::load(state, viewer, words.nav).await?;
        Ok::<_, PageError>(QueuePage {
            chrome,
            title: words.title,
            path: words.path,
            empty: words.empty,
            rows,
            statuses,
            categories: Category::names(),
            status: q.status.clone(),
            category: q.category.clone(),
            total: count_shown(total),
            paged: f.cursor.is_some(),
            next,
        })
    };
    let page = run.await.map_err(|e| e.page(Some(viewer)))?;
    Ok(shown(viewer, render(&page)))
}

async fn ticket_rows(
    state: &AppState,
    tickets: &[Ticket],
    now: Timestamp,
) -> Result<Vec<Row>, PageError> {
    let ids: Vec<TicketId> = tickets.iter().map(|t| t.id.clone()).collect();
    context_rows(state, &ids, now).await
}

/// Rows for these tickets, in this order, each with its active escalation and customer read
/// in one query, and the escalation owners' names in one more per organisation.
pub async fn context_rows(
    state: &AppState,
    ids: &[TicketId],
    now: Timestamp,
) -> Result<Vec<Row>, PageError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut conn = state.db.conn().await?;
    let found = tickets::get_many_in_context(&mut conn, ids).await?;
    // The engine's read leaves snapshot documents out: learn the ones this process lacks.
    let unknown = crate::sla::unknown_snapshots(
        found
            .iter()
            .filter_map(|(_, _, e, _)| e.as_ref().and_then(|e| e.snapshot_id.clone())),
    );
    if !unknown.is_empty() {
        for (id, document) in stored::snapshots(&mut conn, &unknown).await? {
            crate::sla::learn_snapshot(&id, &document)?;
        }
    }
    let mut owners: BTreeMap<ladder_core::TenantId, Vec<String>> = BTreeMap::new();
    for (tenant, _, e, _) in &found {
        if let Some(owner) = e.as_ref().and_then(|e| e.escalation_owner_id.as_ref()) {
            owners
                .entry(tenant.clone())
                .or_default()
                .push(owner.as_str().to_owned());
        }
    }
    let mut names: HashMap<String, String> = HashMap::new();
    for (tenant, ids) in owners {
        for u in directory::users_by_id(&mut conn, &tenant, &ids).await? {
            names.insert(u.id.as_str().to_owned(), u.name);
        }
    }
    let mut by_id: HashMap<TicketId, (Ticket, Option<Escalation>, Option<Customer>)> = found
        .into_iter()
        .map(|(_, t, e, c)| (t.id.clone(), (t, e, c)))
        .collect();
    let mut rows = Vec::with_capacity(ids.len());
    for id in ids {
        let Some((t, e, c)) = by_id.remove(id) else {
            continue;
        };
        rows.push(row(t, e.as_ref(), c.as_ref(), &names, now)?);
    }
    Ok(rows)
}

fn row(
    t: Ticket,
    e: Option<&Escalation>,
    c: Option<&Customer>,
    names: &HashMap<String, String>,
    now: Timestamp,
) -> Result<Row, StorageError> {
    let triggers = crate::triggers::stored(&t)?
        .into_iter()
        .map(|f| words(f.kind.as_str()))
        .collect();
    let owner = e.map(|e| match &e.escalation_owner_id {
        Some(o) => names
            .get(o.as_str())
            .cloned()
            .unwrap_or_else(|| "someone who left".to_owned()),
        None => "unowned".to_owned(),
    });
    let deadline = match e {
        Some(e) => deadline::nearest(e, now)?,
        None => None,
    };
    let version = format!(
        "{}-{}",
        t.updated_at.as_microsecond(),
        e.map_or(0, |e| e.updated_at.as_microsecond())
    );
    Ok(Row {
        ticket_id: t.id.as_str().to_owned(),
        subject: t.subject,
        customer: c.map_or_else(|| "—".to_owned(), |c| c.name.clone()),
        priority: t.priority.as_str(),
        category: e.map(|e| e.category).or(t.category).map(Category::as_str),
        triggers,
        status: t.status.as_str(),
        state: e.map(|e| e.state.as_str()),
        owner,
        deadline,
        version,
    })
}
