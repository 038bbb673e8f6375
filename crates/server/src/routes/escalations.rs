//! Escalate, acknowledge, resolve, de-escalate, re-escalate, verify; approvals.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use ladder_core::text::LongText;
use ladder_core::{ApprovalId, EscalationId, TicketId};
use ladder_core::{
    Category, CompensationKind, ContactMethod, CustomerVerification, Target, TriggerKind, Urgency,
};
use ladder_storage::escalations;
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::flows::escalation::{self as flow, Carried, Escalate, Resolve};
use crate::json::Json;
use crate::routes::views::{all, Approval, Escalation};
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalateRequest {
    /// Who to escalate to; the policy's chain (by default the owner) when left out.
    pub target: Option<Target>,
    pub category: Category,
    /// What the issue is and why it is escalated.
    pub note: LongText,
    /// What was already tried.
    pub tried: Option<LongText>,
    pub contact_method: ContactMethod,
    pub urgency: Urgency,
    /// The triggers that motivated the escalation. Left out, the escalation carries the
    /// triggers detected on the ticket; a list (`[]` for none) is taken as it is, so the
    /// escalator removes a detected trigger by leaving it out.
    #[serde(default)]
    pub triggers: Option<Vec<TriggerKind>>,
}

impl From<EscalateRequest> for (Escalate, Carried) {
    fn from(r: EscalateRequest) -> (Escalate, Carried) {
        let carried = match r.triggers {
            Some(_) => Carried::Chosen,
            None => Carried::Detected,
        };
        let req = Escalate {
            target: r.target,
            category: r.category,
            note: r.note,
            tried: r.tried,
            contact_method: r.contact_method,
            urgency: r.urgency,
            triggers: r.triggers.unwrap_or_default(),
        };
        (req, carried)
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Compensation {
    pub kind: CompensationKind,
    /// In minor units of the currency (cents); 0 when the kind is `none`.
    #[serde(default)]
    #[schema(minimum = 0)]
    pub amount: i64,
    /// ISO 4217; the policy's currency when left out.
    #[schema(pattern = "^[A-Z]{3}$")]
    pub currency: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// What happened and how it ended: the record that protects everyone later.
    pub summary: LongText,
    pub root_cause: Option<LongText>,
    pub actions: Option<LongText>,
    pub preventive_actions: Option<LongText>,
    pub compensation: Option<Compensation>,
}

impl From<ResolveRequest> for Resolve {
    fn from(r: ResolveRequest) -> Resolve {
        Resolve {
            summary: r.summary,
            root_cause: r.root_cause,
            actions: r.actions,
            preventive_actions: r.preventive_actions,
            compensation: r.compensation.map(|c| flow::Compensation {
                kind: c.kind,
                amount: c.amount,
                currency: c.currency,
            }),
        }
    }
}

/// The outcome of a resolve request: resolved, or waiting for an approval.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ResolveOutcome {
    pub escalation: Escalation,
    /// Set when the compensation exceeds the resolver's authority: resolution waits for it.
    pub approval: Option<Approval>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeEscalateRequest {
    /// Why escalation was not warranted.
    pub reason: LongText,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReEscalateRequest {
    /// Why it must go higher.
    pub note: LongText,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerificationRequest {
    pub customer_verification: CustomerVerification,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    pub reason: LongText,
}

/// The escalation with its three deadlines as they stand now.
fn shown(e: escalations::Escalation, state: &AppState) -> ApiResult<Escalation> {
    Ok(Escalation::at(e, state.now())?)
}

/// Escalates the ticket to a person, team, role, the owner (default) or platform support.
#[utoipa::path(post, path = "/tickets/{id}/escalate", operation_id = "escalate_ticket", tag = "escalations", params(("id" = String, Path)), request_body = EscalateRequest,
    responses((status = 201, body = Escalation), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn escalate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<TicketId>,
    Json(req): Json<EscalateRequest>,
) -> ApiResult<(StatusCode, Json<Escalation>)> {
    let (req, carried) = req.into();
    let e = flow::escalate(&state.db, &caller.actor, &id, req, carried, state.now()).await?;
    state.metrics.event("escalated");
    Ok((StatusCode::CREATED, Json(shown(e, &state)?)))
}

/// One escalation.
#[utoipa::path(get, path = "/escalations/{id}", operation_id = "get_escalation", tag = "escalations", params(("id" = String, Path)),
    responses((status = 200, body = Escalation), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<EscalationId>,
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
    Path(id): Path<EscalationId>,
) -> ApiResult<Json<Escalation>> {
    let (e, acknowledged) =
        flow::acknowledge_reporting(&state.db, &caller.actor, &id, state.now()).await?;
    if acknowledged {
        state.metrics.event("acknowledged");
    }
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
    Path(id): Path<EscalationId>,
    Json(req): Json<ResolveRequest>,
) -> ApiResult<(StatusCode, Json<ResolveOutcome>)> {
    let done = flow::resolve(&state.db, &caller.actor, &id, req.into(), state.now()).await?;
    let out = ResolveOutcome {
        escalation: shown(done.escalation, &state)?,
        approval: done.approval.map(Approval::from),
    };
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
    Path(id): Path<EscalationId>,
    Json(req): Json<DeEscalateRequest>,
) -> ApiResult<Json<Escalation>> {
    let e = flow::de_escalate(&state.db, &caller.actor, &id, &req.reason, state.now()).await?;
    Ok(Json(shown(e, &state)?))
}

/// Moves the escalation one rung up its chain; the current one becomes `superseded`.
#[utoipa::path(post, path = "/escalations/{id}/re-escalate", operation_id = "re_escalate", tag = "escalations", params(("id" = String, Path)), request_body = ReEscalateRequest,
    responses((status = 201, body = Escalation), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn re_escalate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<EscalationId>,
    Json(req): Json<ReEscalateRequest>,
) -> ApiResult<(StatusCode, Json<Escalation>)> {
    let e = flow::re_escalate(&state.db, &caller.actor, &id, &req.note, state.now()).await?;
    Ok((StatusCode::CREATED, Json(shown(e, &state)?)))
}

/// Records whether the customer confirmed the resolution.
#[utoipa::path(post, path = "/escalations/{id}/verification", operation_id = "record_resolution_verification", tag = "escalations", params(("id" = String, Path)), request_body = VerificationRequest,
    responses((status = 200, body = Escalation), (status = 409, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn verification(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<EscalationId>,
    Json(req): Json<VerificationRequest>,
) -> ApiResult<Json<Escalation>> {
    let e = flow::verify(
        &state.db,
        &caller.actor,
        &id,
        req.customer_verification,
        state.now(),
    )
    .await?;
    Ok(Json(shown(e, &state)?))
}

/// Pending compensation approvals of the organisation.
#[utoipa::path(get, path = "/approvals", operation_id = "list_pending_approvals", tag = "approvals", responses((status = 200, body = Vec<Approval>)), security(("bearer" = [])))]
pub async fn approvals(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<Approval>>> {
    let mut conn = state.db.conn().await?;
    Ok(Json(all(escalations::pending_approvals(
        &mut conn,
        caller.tenant_id(),
    )
    .await?)))
}

/// Approves a compensation; the waiting resolution takes effect.
#[utoipa::path(post, path = "/approvals/{id}/approve", operation_id = "approve_compensation", tag = "approvals", params(("id" = String, Path)), request_body = DecisionRequest,
    responses((status = 200, body = Approval), (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<ApprovalId>,
    Json(req): Json<DecisionRequest>,
) -> ApiResult<Json<Approval>> {
    decide(&state, &caller, &id, true, &req).await
}

/// Denies a compensation, with a reason; the escalation stays open.
#[utoipa::path(post, path = "/approvals/{id}/deny", operation_id = "deny_compensation", tag = "approvals", params(("id" = String, Path)), request_body = DecisionRequest,
    responses((status = 200, body = Approval), (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn deny(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<ApprovalId>,
    Json(req): Json<DecisionRequest>,
) -> ApiResult<Json<Approval>> {
    decide(&state, &caller, &id, false, &req).await
}

/// Grants (`approve`) or denies a compensation, and counts the audit events that wrote.
async fn decide(
    state: &AppState,
    caller: &Caller,
    id: &ApprovalId,
    approve: bool,
    req: &DecisionRequest,
) -> ApiResult<Json<Approval>> {
    let approval = flow::decide(
        &state.db,
        &caller.actor,
        id,
        approve,
        &req.reason,
        state.now(),
    )
    .await?;
    if approve {
        // The waiting resolution took effect with the grant: two audit events.
        state.metrics.event("approval_granted");
        state.metrics.event("resolved");
    } else {
        state.metrics.event("approval_denied");
    }
    Ok(Json(approval.into()))
}
