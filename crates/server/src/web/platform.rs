//! Platform support's queue: the escalations every organisation sent to the platform, soonest
//! due first, each with the organisation it came from.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use ladder_core::TicketId;
use ladder_storage::directory;
use ladder_storage::queues::{self, Audience, Filter};
use serde::Deserialize;

use super::queues::{context_rows, count_shown, Row, COUNT_CAP};
use super::{render_status, shown, Chrome, PageError, Viewer};
use crate::state::AppState;

const PAGE: i64 = 50;

#[derive(Deserialize, Default)]
pub struct PlatformQuery {
    #[serde(default)]
    cursor: String,
}

#[derive(Template)]
#[template(path = "platform.html")]
struct PlatformPage {
    chrome: Chrome,
    /// "12", or "999+".
    total: String,
    rows: Vec<(String, Row)>,
    paged: bool,
    next: Option<String>,
}

/// `GET /platform` (platform support only).
pub async fn page(
    viewer: Viewer,
    State(state): State<AppState>,
    Query(q): Query<PlatformQuery>,
) -> Response {
    let run = async {
        if !viewer.caller.is_platform() {
            return Err(PageError::Forbidden(
                "This queue is platform support's: it holds every organisation's escalations to the platform.".into(),
            ));
        }
        let cursor = match q.cursor.trim() {
            "" => None,
            c if queues::cursor_is_valid(c) => Some(c.to_owned()),
            _ => {
                return Err(PageError::BadForm(
                    "cursor: not a page of this queue".into(),
                ))
            }
        };
        let f = Filter {
            cursor: cursor.clone(),
            limit: PAGE,
            ..Filter::default()
        };
        let mut conn = state.db.conn().await?;
        let (items, next) = queues::escalations_rows(&mut conn, &Audience::Platform, &f).await?;
        let total =
            queues::escalations_total(&mut conn, &Audience::Platform, &f, COUNT_CAP).await?;
        let mut org_of: HashMap<TicketId, String> = HashMap::new();
        let mut names: HashMap<String, String> = HashMap::new();
        for item in &items {
            let tenant = item.escalation.tenant_id.as_str().to_owned();
            if !names.contains_key(&tenant) {
                let name = directory::find_tenant(&state.db, &tenant)
                    .await?
                    .map_or_else(|| tenant.clone(), |t| t.name);
                names.insert(tenant.clone(), name);
            }
            org_of.insert(
                item.escalation.ticket_id.clone(),
                names.get(&tenant).cloned().unwrap_or_default(),
            );
        }
        let ids: Vec<TicketId> = items
            .iter()
            .map(|i| i.escalation.ticket_id.clone())
            .collect();
        let rows = context_rows(&state, &ids, state.now())
            .await?
            .into_iter()
            .map(|r| {
                let org = org_of
                    .get(&TicketId(r.ticket_id.clone()))
                    .cloned()
                    .unwrap_or_default();
                (org, r)
            })
            .collect();
        let page = PlatformPage {
            chrome: Chrome::load(&state, &viewer, "platform").await?,
            total: count_shown(total),
            rows,
            paged: cursor.is_some(),
            next,
        };
        Ok(shown(&viewer, render_status(StatusCode::OK, &page)))
    };
    run.await.unwrap_or_else(|e| e.page(Some(&viewer)))
}
