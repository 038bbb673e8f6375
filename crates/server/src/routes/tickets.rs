//! Tickets, comments, links, watchers, events and notifications.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use ladder_storage::audit::{self, AuditEvent};
use ladder_storage::outbox::{self, Message};
use ladder_storage::tickets::{self, Comment, Link};
use serde::Deserialize;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::flows::tickets::{
    self as flow, NewCommentRequest, NewLinkRequest, NewTicketRequest, PatchTicketRequest,
    TicketView,
};
use crate::json::Json;
use crate::state::AppState;

async fn readable_tenant(state: &AppState, caller: &Caller, id: &str) -> ApiResult<String> {
    let mut conn = state.db.conn().await?;
    let tenant = flow::ticket_tenant(&mut conn, caller, id).await?;
    tickets::get(&mut conn, &tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("ticket"))?;
    Ok(tenant)
}

/// Opens a ticket. Its text is scanned for escalation triggers, returned in `triggers`.
#[utoipa::path(post, path = "/tickets", operation_id = "create_ticket", tag = "tickets", request_body = NewTicketRequest,
    responses((status = 201, body = TicketView), (status = 422, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<NewTicketRequest>,
) -> ApiResult<(StatusCode, Json<TicketView>)> {
    let v = flow::create(&state.db, &caller, req, state.now()).await?;
    state.metrics.event("ticket_created");
    Ok((StatusCode::CREATED, Json(v)))
}

/// A ticket with its status, active escalation, triggers, watchers and links.
#[utoipa::path(get, path = "/tickets/{id}", operation_id = "get_ticket", tag = "tickets", params(("id" = String, Path)),
    responses((status = 200, body = TicketView), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<TicketView>> {
    let mut conn = state.db.conn().await?;
    let tenant = flow::ticket_tenant(&mut conn, &caller, &id).await?;
    let t = tickets::get(&mut conn, &tenant, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("ticket"))?;
    Ok(Json(flow::view(&mut conn, &tenant, t, state.now()).await?))
}

/// Changes status, priority, category, assignee or team.
#[utoipa::path(patch, path = "/tickets/{id}", operation_id = "update_ticket", tag = "tickets", params(("id" = String, Path)), request_body = PatchTicketRequest,
    responses((status = 200, body = TicketView), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<PatchTicketRequest>,
) -> ApiResult<Json<TicketView>> {
    Ok(Json(
        flow::patch(&state.db, &caller, &id, req, state.now()).await?,
    ))
}

/// Replies to the customer (`public: true`) or adds an internal note.
#[utoipa::path(post, path = "/tickets/{id}/comments", operation_id = "add_ticket_comment", tag = "tickets", params(("id" = String, Path)), request_body = NewCommentRequest,
    responses((status = 201, body = Comment), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn comment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<NewCommentRequest>,
) -> ApiResult<(StatusCode, Json<Comment>)> {
    Ok((
        StatusCode::CREATED,
        Json(flow::comment(&state.db, &caller, &id, req, state.now()).await?),
    ))
}

/// The ticket's replies and notes, oldest first.
#[utoipa::path(get, path = "/tickets/{id}/comments", operation_id = "list_ticket_comments", tag = "tickets", params(("id" = String, Path)),
    responses((status = 200, body = Vec<Comment>), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn comments(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<Comment>>> {
    let tenant = readable_tenant(&state, &caller, &id).await?;
    let mut conn = state.db.conn().await?;
    Ok(Json(tickets::comments(&mut conn, &tenant, &id).await?))
}

/// The audit trail of one ticket, in order.
#[utoipa::path(get, path = "/tickets/{id}/events", operation_id = "list_ticket_events", tag = "tickets", params(("id" = String, Path)),
    responses((status = 200, body = Vec<AuditEvent>), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<AuditEvent>>> {
    let tenant = readable_tenant(&state, &caller, &id).await?;
    Ok(Json(audit::for_ticket(&state.db, &tenant, &id).await?))
}

/// Notifications written about this ticket (outbox), with their delivery state.
#[utoipa::path(get, path = "/tickets/{id}/notifications", operation_id = "list_ticket_notifications", tag = "tickets", params(("id" = String, Path)),
    responses((status = 200, body = Vec<Message>), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn notifications(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<Message>>> {
    if caller.is_platform() {
        return Err(ApiError::not_found("ticket"));
    }
    let tenant = readable_tenant(&state, &caller, &id).await?;
    Ok(Json(outbox::for_ticket(&state.db, &tenant, &id).await?))
}

/// Links this ticket to another (related, duplicate, follow-up of).
#[utoipa::path(post, path = "/tickets/{id}/links", operation_id = "add_ticket_link", tag = "tickets", params(("id" = String, Path)), request_body = NewLinkRequest,
    responses((status = 201, body = Link), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn link(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<NewLinkRequest>,
) -> ApiResult<(StatusCode, Json<Link>)> {
    Ok((
        StatusCode::CREATED,
        Json(flow::link(&state.db, &caller, &id, req, state.now()).await?),
    ))
}

#[derive(Deserialize, utoipa::ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct WatchRequest {
    /// Defaults to the caller.
    pub user_id: Option<String>,
}

/// Watches the ticket; returns the watcher list.
#[utoipa::path(post, path = "/tickets/{id}/watchers", operation_id = "add_ticket_watcher", tag = "tickets", params(("id" = String, Path)), request_body = WatchRequest,
    responses((status = 200, body = Vec<String>), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn watch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<WatchRequest>,
) -> ApiResult<Json<Vec<String>>> {
    Ok(Json(
        flow::watch(&state.db, &caller, &id, req.user_id, state.now()).await?,
    ))
}
