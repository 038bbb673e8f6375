//! The tenant's escalation policy: read it, replace it, and try it out.

use axum::extract::State;
use jiff::Timestamp;
use ladder_core::policy::{Facts, Simulation};
use ladder_core::{Category, Channel, CustomerTier, Policy, Priority, TriggerKind};
use serde::Deserialize;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::flows::policy::{self as flow, name_rule_in};
use crate::json::{self, Json};
use crate::state::AppState;

/// The policy in force: the matrix of rules and chains, SLA targets, calendars, trigger
/// modes and authority limits. Its `version` is what `PUT` expects back. Staff and auditors
/// may read it.
#[utoipa::path(get, path = "/policy", operation_id = "get_policy", tag = "policy",
    responses((status = 200, body = Policy), (status = 403, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn get(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Policy>> {
    // Auditors read it too: what the rules were is part of what they review.
    if caller.role() != ladder_core::Role::Auditor {
        caller.require_staff("read the policy")?;
    }
    Ok(Json(
        crate::flows::policy(&state.db, caller.tenant_id()).await?,
    ))
}

/// Replaces the policy (owners and admins). The whole document is checked first and every
/// problem is reported, each naming its rule and the JSON path of the part at fault; a
/// refused policy changes nothing. Send back the `version` you read: if someone saved
/// another version meanwhile the answer is 409. An identical document saves nothing.
#[utoipa::path(put, path = "/policy", operation_id = "replace_policy", tag = "policy", request_body = Policy,
    responses((status = 200, body = Policy), (status = 409, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    PolicyBody(policy): PolicyBody,
) -> ApiResult<Json<Policy>> {
    caller.require_manager("change the escalation policy")?;
    let version = policy.version;
    let saved = flow::save(
        &state.db,
        caller.tenant_id(),
        Some(&caller.user.id),
        policy,
        Some(version),
        state.now(),
    )
    .await?;
    if saved.changed {
        state.metrics.event("policy_changed");
    }
    Ok(Json(saved.policy))
}

/// A policy document in a request body, whose parse errors also name the rule they are in.
pub struct PolicyBody(pub Policy);

impl<S: Send + Sync> axum::extract::FromRequest<S> for PolicyBody {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let Json(value) = Json::<serde_json::Value>::from_request(req, state).await?;
        let bytes = value.to_string();
        json::parse::<Policy>(bytes.as_bytes())
            .map(PolicyBody)
            .map_err(|e| match e {
                ApiError::Invalid {
                    status,
                    field: Some(field),
                    detail,
                } => {
                    let detail = match name_rule_in(&value, &field) {
                        Some(rule) => format!("{rule}: {detail}"),
                        None => detail,
                    };
                    ApiError::Invalid {
                        status,
                        field: Some(field),
                        detail,
                    }
                }
                other => other,
            })
    }
}

fn standard_tier() -> CustomerTier {
    CustomerTier::Standard
}

/// A ticket's fields, as the matrix sees them, and when it would be escalated.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulateRequest {
    pub category: Category,
    pub priority: Priority,
    #[serde(default = "standard_tier")]
    pub tier: CustomerTier,
    #[serde(default)]
    pub triggers: Vec<TriggerKind>,
    pub channel: Channel,
    /// When it would be escalated; now when left out.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub at: Option<Timestamp>,
    /// A draft policy to try instead of the one in force.
    pub policy: Option<Policy>,
}

/// A dry run: which rule a ticket with these fields would match, its chain of rungs with
/// each acknowledgement deadline, and the SLA due times, if it were escalated at `at` and
/// nobody acted. Nothing is written.
#[utoipa::path(post, path = "/policy/simulate", operation_id = "simulate_policy", tag = "policy", request_body = SimulateRequest,
    responses((status = 200, body = Simulation), (status = 422, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn simulate(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<SimulateRequest>,
) -> ApiResult<Json<Simulation>> {
    caller.require_staff("try the policy")?;
    let policy = match req.policy {
        Some(draft) => {
            let dir = flow::directory_of(&state.db, caller.tenant_id()).await?;
            flow::check(&draft, &dir)?;
            draft
        }
        None => crate::flows::policy(&state.db, caller.tenant_id()).await?,
    };
    let at = req.at.unwrap_or_else(|| state.now());
    let facts = Facts {
        category: req.category,
        priority: req.priority,
        tier: req.tier,
        triggers: req.triggers,
        channel: req.channel,
    };
    policy.simulate(&facts, at).map(Json).ok_or_else(|| {
        ApiError::field(
            "policy.rules",
            "no rule of the policy applies to this ticket",
        )
    })
}
