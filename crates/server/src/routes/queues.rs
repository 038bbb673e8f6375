//! Mine, Watching and Escalations.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use ladder_core::{Category, TicketStatus};
use ladder_storage::queues::{self, Filter};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::routes::views::{EscalationItem, Page, Ticket};
use crate::state::AppState;

/// Reads `status`, `category`, `cursor` and `limit`, naming the parameter that is wrong.
fn filter(q: &BTreeMap<String, String>, status_ok: impl Fn(&str) -> bool) -> ApiResult<Filter> {
    for k in q.keys() {
        if !matches!(k.as_str(), "status" | "category" | "cursor" | "limit") {
            return Err(ApiError::field(
                k.clone(),
                "unknown query parameter; use status, category, cursor or limit",
            ));
        }
    }
    let status = match q.get("status") {
        Some(s) if !status_ok(s) => {
            return Err(ApiError::field(
                "status",
                format!("{s:?} is not a status this queue holds"),
            ))
        }
        s => s.cloned(),
    };
    let category = match q.get("category") {
        Some(c) => Some(c.parse::<Category>().map_err(|_| {
            ApiError::field(
                "category",
                format!(
                    "unknown category {c:?}; expected one of {}",
                    Category::names().join(", ")
                ),
            )
        })?),
        None => None,
    };
    let limit = match q.get("limit") {
        Some(l) => match l.parse::<i64>() {
            Ok(n) if (1..=200).contains(&n) => n,
            _ => {
                return Err(ApiError::field(
                    "limit",
                    "must be a whole number from 1 to 200",
                ))
            }
        },
        None => 50,
    };
    let cursor = q.get("cursor").cloned();
    if let Some(c) = &cursor {
        if !queues::cursor_is_valid(c) {
            return Err(ApiError::field(
                "cursor",
                "not a cursor this server issued; pass back next_cursor as it was",
            ));
        }
    }
    Ok(Filter {
        status,
        category,
        cursor,
        limit,
    })
}

/// The query of each queue as the document shows it; `filter` reads it (the structs only
/// describe it, as strictly as `filter` checks it).
macro_rules! queue_query {
    ($name:ident, $statuses:ident) => {
        #[derive(utoipa::IntoParams)]
        #[into_params(parameter_in = Query)]
        #[allow(dead_code)]
        pub struct $name {
            #[param(schema_with = $statuses)]
            status: Option<String>,
            category: Option<Category>,
            /// `next_cursor` of the page before, as it was.
            #[param(pattern = r"^-?[0-9]{1,18}_[^\u0000]*$")]
            cursor: Option<String>,
            #[param(minimum = 1, maximum = 200)]
            limit: Option<i64>,
        }
    };
}
queue_query!(MineQuery, mine_statuses);
queue_query!(WatchingQuery, watching_statuses);
queue_query!(EscalationsQuery, escalation_states);

fn mine_statuses() -> utoipa::openapi::schema::Object {
    string_enum(&["new", "open", "pending"])
}

fn watching_statuses() -> utoipa::openapi::schema::Object {
    string_enum(&["new", "open", "pending", "escalated", "resolved", "closed"])
}

fn escalation_states() -> utoipa::openapi::schema::Object {
    string_enum(&["requested", "acknowledged"])
}

fn string_enum(values: &[&str]) -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(values.iter().copied()))
        .build()
}

fn open_status(s: &str) -> bool {
    matches!(
        s.parse::<TicketStatus>(),
        Ok(TicketStatus::New | TicketStatus::Open | TicketStatus::Pending)
    )
}

/// Tickets assigned to me that are mine to work (not escalated away, not done), oldest first.
#[utoipa::path(get, path = "/queues/mine", operation_id = "list_my_queue", tag = "queues",
    params(MineQuery),
    responses((status = 200, body = Page<Ticket>)), security(("bearer" = [])))]
pub async fn mine(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<Ticket>>> {
    let f = filter(&q, open_status)?;
    let mut conn = state.db.conn().await?;
    let page = queues::mine(&mut conn, caller.tenant_id(), &caller.user.id, &f).await?;
    Ok(Json(Page::of(page, Ticket::from)))
}

/// Tickets I watch — what I escalated — in any status, most recent first.
#[utoipa::path(get, path = "/queues/watching", operation_id = "list_watching_queue", tag = "queues",
    params(WatchingQuery),
    responses((status = 200, body = Page<Ticket>)), security(("bearer" = [])))]
pub async fn watching(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<Ticket>>> {
    let f = filter(&q, |s| s.parse::<TicketStatus>().is_ok())?;
    let mut conn = state.db.conn().await?;
    let page = queues::watching(&mut conn, caller.tenant_id(), &caller.user.id, &f).await?;
    Ok(Json(Page::of(page, Ticket::from)))
}

/// Active escalations addressed to me, my role or my teams, or owned by me; soonest due
/// first. Platform support see every organisation's escalations to the platform.
#[utoipa::path(get, path = "/queues/escalations", operation_id = "list_escalation_queue", tag = "queues",
    params(EscalationsQuery),
    responses((status = 200, body = Page<EscalationItem>)), security(("bearer" = [])))]
pub async fn escalations(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Page<EscalationItem>>> {
    let f = filter(&q, queues::is_queue_state)?;
    let keys = caller.queue_keys();
    let audience = caller.queue_audience(&keys);
    let mut conn = state.db.conn().await?;
    let page = queues::escalations(&mut conn, &audience, &f).await?;
    let now = state.now();
    Ok(Json(Page::try_of(page, |item| {
        EscalationItem::at(item, now)
    })?))
}
