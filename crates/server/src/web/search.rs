//! Search: `/search?q=…&status=…` finds tickets by full text over subjects, descriptions and
//! messages with the filters of `GET /api/v1/tickets` (the same parsing and the same query,
//! `storage::search`), a ticket by its id, and customers by name, email or phone. The filters
//! are a plain GET form, so the page works without JavaScript, and pages follow the cursor.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use ladder_core::{Category, Channel, Priority, TicketId, TicketStatus};
use ladder_storage::directory::Customer;
use ladder_storage::{search, tickets};

use super::queues::{context_rows, Row};
use super::{render_status, shown, Chrome, PageError, Viewer};
use crate::error::ApiError;
use crate::routes::tickets::ticket_query;
use crate::state::AppState;

const TICKETS: i64 = 50;
const CUSTOMERS: i64 = 20;

/// The form's filters, each a `<select>` of its vocabulary with "Any" first.
pub struct Select {
    pub name: &'static str,
    pub label: &'static str,
    pub options: Vec<&'static str>,
    pub chosen: String,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    chrome: Chrome,
    q: String,
    selects: Vec<Select>,
    /// Whether anything was asked (words or a filter): otherwise the page is the empty form.
    asked: bool,
    /// A filter or cursor that could not be read, in words, with the field it is about.
    problem: Option<(String, String)>,
    tickets: Vec<Row>,
    customers: Vec<Customer>,
    /// The query string of the next page, when there is one.
    next: Option<String>,
}

/// `GET /search?q=…` with any of the filters of `GET /api/v1/tickets`.
pub async fn page(
    viewer: Viewer,
    State(state): State<AppState>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    let run = async {
        // An empty field of the form means "any".
        let params: BTreeMap<String, String> = params
            .into_iter()
            .map(|(k, v)| (k, v.trim().to_owned()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let q = params.get("q").cloned().unwrap_or_default();
        let chosen = |name: &str| params.get(name).cloned().unwrap_or_default();
        let selects = vec![
            Select {
                name: "status",
                label: "Status",
                options: TicketStatus::names(),
                chosen: chosen("status"),
            },
            Select {
                name: "category",
                label: "Category",
                options: Category::names(),
                chosen: chosen("category"),
            },
            Select {
                name: "priority",
                label: "Priority",
                options: Priority::names(),
                chosen: chosen("priority"),
            },
            Select {
                name: "channel",
                label: "Channel",
                options: Channel::names(),
                chosen: chosen("channel"),
            },
            Select {
                name: "escalated",
                label: "Escalated",
                options: vec!["true", "false"],
                chosen: chosen("escalated"),
            },
        ];
        let asked = params.keys().any(|k| k != "cursor");
        let mut problem = None;
        let mut rows = Vec::new();
        let mut customers = Vec::new();
        let mut next = None;
        if asked {
            let scope = if viewer.caller.is_platform() {
                search::Scope::Platform
            } else {
                search::Scope::Tenant(viewer.caller.tenant_id())
            };
            match ticket_query(&params) {
                Err(ApiError::Invalid {
                    field: Some(field),
                    detail,
                    ..
                }) => problem = Some((field, detail)),
                Err(e) => return Err(e.into()),
                Ok(mut query) => {
                    query.limit = TICKETS;
                    let mut conn = state.db.conn().await?;
                    let mut ids: Vec<TicketId> = Vec::new();
                    // A ticket's id finds that ticket, first (staff only: platform support
                    // reach tickets through their escalations).
                    if let search::Scope::Tenant(tenant) = scope {
                        let id = TicketId(q.clone());
                        if query.cursor.is_none()
                            && !q.is_empty()
                            && tickets::get(&mut conn, tenant, &id).await?.is_some()
                        {
                            ids.push(id);
                        }
                    }
                    let found = search::tickets(&mut conn, scope, &query, state.now()).await?;
                    ids.extend(found.items.into_iter().map(|t| t.id));
                    if let Some(cursor) = found.next_cursor {
                        let mut p = params.clone();
                        p.insert("cursor".into(), cursor);
                        next = serde_urlencoded::to_string(&p).ok();
                    }
                    if let (search::Scope::Tenant(tenant), false) = (scope, q.is_empty()) {
                        customers = search::customers(&mut conn, tenant, &q, CUSTOMERS).await?;
                    }
                    drop(conn);
                    rows = context_rows(&state, &ids, state.now()).await?;
                }
            }
        }
        let mut chrome = Chrome::load(&state, &viewer, "search").await?;
        chrome.query.clone_from(&q);
        let status = if problem.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        };
        let page = SearchPage {
            chrome,
            q,
            selects,
            asked,
            problem,
            tickets: rows,
            customers,
            next,
        };
        Ok::<_, PageError>(shown(&viewer, render_status(status, &page)))
    };
    run.await.unwrap_or_else(|e| e.page(Some(&viewer)))
}
