//! Escalate, acknowledge, resolve, de-escalate, re-escalate, verify; approvals.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use ladder_storage::escalations::{self, Approval, Escalation};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::flows::escalation::{
    self as flow, DeEscalateRequest, DecisionRequest, EscalateRequest, ReEscalateRequest,
    ResolveOutcome, ResolveRequest, VerificationRequest,
};
use crate::json::Json;
use crate::state::AppState;

/// The escalation with its three deadlines as they stand now.
fn shown(mut e: Escalation, state: &AppState) -> ApiResult<Escalation> {
    crate::sla::annotate(&mut e, state.now())?;
    Ok(e)
}

/// Escalates the ticket to a person, team, role, the owner (default) or platform support.
#[utoipa::path(post, path = "/tickets/{id}/escalate", operation_id = "escalate_ticket", tag = "escalations", params(("id" = String, Path)), request_body = EscalateRequest,
    responses((status = 201, body = Escalation), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn escalate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<EscalateRequest>,
) -> ApiResult<(StatusCode, Json<Escalation>)> {
    let e = flow::escalate(&state.db, &caller, &id, req, state.now()).await?;
    state.metrics.event("escalated");
    Ok((StatusCode::CREATED, Json(shown(e, &state)?)))
}

/// One escalation.
#[utoipa::path(get, path = "/escalations/{id}", operation_id = "get_escalation", tag = "escalations", params(("id" = String, Path)),
    responses((status = 200, body = Escalation), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Escalation>> {
    let mut conn = state.db.conn().await?;
    let scope = if caller.is_platform() {
        None
    } else {
        Some(caller.tenant_id())
    };
    let e = escalations::get(&mut conn, scope, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("escalation"))?;
    Ok(Json(shown(e, &state)?))
}

/// Takes ownership: the caller becomes the single named escalation owner.
#[utoipa::path(post, path = "/escalations/{id}/acknowledge", operation_id = "acknowledge_escalation", tag = "escalations", params(("id" = String, Path)),
    responses((status = 200, body = Escalation), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn acknowledge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Escalation>> {
    let e = flow::acknowledge(&state.db, &caller, &id, state.now()).await?;
    state.metrics.event("acknowledged");
    Ok(Json(shown(e, &state)?))
}

/// Resolves with a summary. A compensation above the caller's authority creates an approval
/// request instead (202) and the resolution waits for it.
#[utoipa::path(post, path = "/escalations/{id}/resolve", operation_id = "resolve_escalation", tag = "escalations", params(("id" = String, Path)), request_body = ResolveRequest,
    responses((status = 200, body = ResolveOutcome), (status = 202, body = ResolveOutcome), (status = 409, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<ResolveRequest>,
) -> ApiResult<(StatusCode, Json<ResolveOutcome>)> {
    let mut out = flow::resolve(&state.db, &caller, &id, req, state.now()).await?;
    out.escalation = shown(out.escalation, &state)?;
    let status = if out.approval.is_some() {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    state.metrics.event(if out.approval.is_some() {
        "approval_requested"
    } else {
        "resolved"
    });
    Ok((status, Json(out)))
}

/// Sends the ticket back to its previous assignee as open, with a reason.
#[utoipa::path(post, path = "/escalations/{id}/de-escalate", operation_id = "de_escalate", tag = "escalations", params(("id" = String, Path)), request_body = DeEscalateRequest,
    responses((status = 200, body = Escalation), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn de_escalate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<DeEscalateRequest>,
) -> ApiResult<Json<Escalation>> {
    let e = flow::de_escalate(&state.db, &caller, &id, req, state.now()).await?;
    Ok(Json(shown(e, &state)?))
}

/// Moves the escalation one rung up its chain; the current one becomes `superseded`.
#[utoipa::path(post, path = "/escalations/{id}/re-escalate", operation_id = "re_escalate", tag = "escalations", params(("id" = String, Path)), request_body = ReEscalateRequest,
    responses((status = 201, body = Escalation), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn re_escalate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<ReEscalateRequest>,
) -> ApiResult<(StatusCode, Json<Escalation>)> {
    let e = flow::re_escalate(&state.db, &caller, &id, req, state.now()).await?;
    Ok((StatusCode::CREATED, Json(shown(e, &state)?)))
}

/// Records whether the customer confirmed the resolution.
#[utoipa::path(post, path = "/escalations/{id}/verification", operation_id = "record_resolution_verification", tag = "escalations", params(("id" = String, Path)), request_body = VerificationRequest,
    responses((status = 200, body = Escalation), (status = 409, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn verification(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<VerificationRequest>,
) -> ApiResult<Json<Escalation>> {
    let e = flow::verify(&state.db, &caller, &id, req, state.now()).await?;
    Ok(Json(shown(e, &state)?))
}

/// Pending compensation approvals of the organisation.
#[utoipa::path(get, path = "/approvals", operation_id = "list_pending_approvals", tag = "approvals", responses((status = 200, body = Vec<Approval>)), security(("bearer" = [])))]
pub async fn approvals(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<Approval>>> {
    let mut conn = state.db.conn().await?;
    Ok(Json(
        escalations::pending_approvals(&mut conn, caller.tenant_id()).await?,
    ))
}

/// Approves a compensation; the waiting resolution takes effect.
#[utoipa::path(post, path = "/approvals/{id}/approve", operation_id = "approve_compensation", tag = "approvals", params(("id" = String, Path)), request_body = DecisionRequest,
    responses((status = 200, body = Approval), (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<DecisionRequest>,
) -> ApiResult<Json<Approval>> {
    Ok(Json(
        flow::decide(&state.db, &caller, &id, true, req, state.now()).await?,
    ))
}

/// Denies a compensation, with a reason; the escalation stays open.
#[utoipa::path(post, path = "/approvals/{id}/deny", operation_id = "deny_compensation", tag = "approvals", params(("id" = String, Path)), request_body = DecisionRequest,
    responses((status = 200, body = Approval), (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn deny(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<DecisionRequest>,
) -> ApiResult<Json<Approval>> {
    Ok(Json(
        flow::decide(&state.db, &caller, &id, false, req, state.now()).await?,
    ))
}
