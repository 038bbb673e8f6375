//! Search: `/search?q=` finds tickets by id or by words of their subject, and customers by
//! name or email (see `storage::lookup`; full-text search over messages comes later and
//! keeps this box).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use ladder_core::TicketId;
use ladder_storage::directory::Customer;
use ladder_storage::lookup;
use serde::Deserialize;

use super::queues::{context_rows, Row};
use super::{render_status, shown, Chrome, PageError, Viewer};
use crate::state::AppState;

const TICKETS: i64 = 50;
const CUSTOMERS: i64 = 20;

#[derive(Deserialize, Default)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    chrome: Chrome,
    q: String,
    tickets: Vec<Row>,
    customers: Vec<Customer>,
    more_tickets: bool,
}

/// `GET /search?q=…`.
pub async fn page(
    viewer: Viewer,
    State(state): State<AppState>,
    Query(q): Query<SearchQuery>,
) -> Response {
    let run = async {
        let q = q.q.trim().to_owned();
        let tenant = viewer.caller.tenant_id();
        let (mut tickets, customers) = if q.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            let mut conn = state.db.conn().await?;
            let found = lookup::tickets_matching(&mut conn, tenant, &q, TICKETS + 1).await?;
            let ids: Vec<TicketId> = found.into_iter().map(|t| t.id).collect();
            let customers = lookup::customers_matching(&mut conn, tenant, &q, CUSTOMERS).await?;
            (context_rows(&state, &ids, state.now()).await?, customers)
        };
        let more_tickets = tickets.len() > TICKETS as usize;
        tickets.truncate(TICKETS as usize);
        let mut chrome = Chrome::load(&state, &viewer, "search").await?;
        chrome.query.clone_from(&q);
        let page = SearchPage {
            chrome,
            q,
            tickets,
            customers,
            more_tickets,
        };
        Ok::<_, PageError>(shown(&viewer, render_status(StatusCode::OK, &page)))
    };
    run.await.unwrap_or_else(|e| e.page(Some(&viewer)))
}
