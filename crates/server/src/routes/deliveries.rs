//! Deliveries (every email and webhook call, with attempts and the last error), webhooks,
//! and the kinds of email people turn off.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use ladder_storage::deliveries::{self, State as DeliveryState};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::flows::webhooks::{self as flow, AddWebhook, Subject};
use crate::json::Json;
use crate::state::AppState;

/// One email or webhook call.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub id: String,
    pub ticket_id: Option<String>,
    /// `email` or `webhook`.
    pub channel: String,
    /// The email address, or the webhook's id.
    pub recipient: String,
    /// The kind of email, or the webhook event.
    pub kind: String,
    /// What the receiver can drop a duplicate by: the email's Message-ID, the `webhook-id`.
    pub idempotency_key: String,
    pub subject: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub next_attempt_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub delivered_at: Option<Timestamp>,
}

impl From<deliveries::Delivery> for Delivery {
    fn from(d: deliveries::Delivery) -> Delivery {
        Delivery {
            id: d.id,
            ticket_id: d.ticket_id.map(|t| t.0),
            channel: d.channel.as_str().into(),
            recipient: d.recipient,
            kind: d.kind,
            idempotency_key: d.idempotency_key,
            subject: d.subject,
            state: d.state.as_str().into(),
            attempts: d.attempts,
            last_error: d.last_error,
            next_attempt_at: d.next_attempt_at,
            created_at: d.created_at,
            delivered_at: d.delivered_at,
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryFilter {
    /// `pending`, `delivered` or `failed`; all when left out.
    #[param(pattern = "^(pending|delivered|failed)$")]
    pub state: Option<String>,
    /// A delivery id: continue after it (newest first).
    pub before: Option<String>,
    /// At most this many (1–500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// The organisation's deliveries, newest first (owners and admins).
#[utoipa::path(get, path = "/deliveries", operation_id = "list_deliveries", tag = "notifications", params(DeliveryFilter),
    responses((status = 200, body = Vec<Delivery>), (status = 422, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<DeliveryFilter>, QueryRejection>,
) -> ApiResult<Json<Vec<Delivery>>> {
    // axum's own rejection is plain text; every refusal is a problem document.
    let Query(f) = query.map_err(|e| ApiError::Invalid {
        status: StatusCode::BAD_REQUEST,
        field: None,
        detail: e.body_text(),
    })?;
    caller.actor.require_manager("see deliveries")?;
    let st = match f.state.as_deref() {
        None => None,
        Some(s) => Some(DeliveryState::parse(s).ok_or_else(|| {
            ApiError::field(
                "state",
                format!("{s:?} is not pending, delivered or failed"),
            )
        })?),
    };
    let limit = f.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::field("limit", "must be between 1 and 500"));
    }
    let rows = deliveries::list(
        &state.db,
        caller.tenant_id(),
        st,
        f.before.as_deref(),
        limit,
    )
    .await?;
    Ok(Json(rows.into_iter().map(Delivery::from).collect()))
}

/// Puts a failed delivery back in line now, with a fresh day of retries (owners and admins).
#[utoipa::path(post, path = "/deliveries/{id}/retry", operation_id = "retry_delivery", tag = "notifications", params(("id" = String, Path)),
    responses((status = 200, body = Delivery), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Delivery>> {
    let d = flow::retry_delivery(&state.db, &caller.actor, &id, state.now()).await?;
    Ok(Json(d.into()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhookRequest {
    /// Where events are POSTed (http or https; not loopback or a private network).
    #[schema(max_length = 2000)]
    pub url: String,
    #[schema(schema_with = crate::routes::schemas::webhook_events)]
    pub events: Vec<String>,
}

/// A webhook endpoint of the organisation.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

/// A new webhook, with the secret its calls are signed with (shown once).
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedWebhook {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    /// `whsec_` and the base64 key of the `webhook-signature` HMAC.
    pub secret: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

/// Adds a webhook (owners and admins): its calls follow the Standard Webhooks convention.
#[utoipa::path(post, path = "/webhooks", operation_id = "create_webhook", tag = "notifications", request_body = NewWebhookRequest,
    responses((status = 201, body = CreatedWebhook), (status = 422, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn create_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<NewWebhookRequest>,
) -> ApiResult<(StatusCode, Json<CreatedWebhook>)> {
    let allow = state.notifier.settings.allow_private_webhooks;
    let cmd = AddWebhook {
        url: req.url,
        events: req.events,
    };
    let w = flow::add(&state.db, &caller.actor, cmd, allow, state.now()).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhook {
            id: w.id,
            url: w.url,
            events: w.events,
            secret: w.secret,
            created_at: w.created_at,
        }),
    ))
}

/// The organisation's webhooks (owners and admins), without their secrets.
#[utoipa::path(get, path = "/webhooks", operation_id = "list_webhooks", tag = "notifications",
    responses((status = 200, body = Vec<Webhook>)), security(("bearer" = [])))]
pub async fn list_webhooks(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<Webhook>>> {
    caller.actor.require_manager("see webhooks")?;
    let mut conn = state.db.conn().await?;
    let rows = deliveries::webhooks(&mut conn, caller.tenant_id()).await?;
    Ok(Json(
        rows.into_iter()
            .map(|w| Webhook {
                id: w.id,
                url: w.url,
                events: w.events,
                created_at: w.created_at,
            })
            .collect(),
    ))
}

/// Deletes a webhook (owners and admins).
#[utoipa::path(delete, path = "/webhooks/{id}", operation_id = "delete_webhook", tag = "notifications", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn delete_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    flow::delete(&state.db, &caller.actor, &id, state.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Kinds of email turned off.
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailPreferences {
    #[schema(schema_with = crate::routes::schemas::emailed_kinds)]
    pub off: Vec<String>,
}

/// The kinds of email the caller turned off for themselves.
#[utoipa::path(get, path = "/me/email-preferences", operation_id = "get_my_email_preferences", tag = "notifications",
    responses((status = 200, body = EmailPreferences)), security(("bearer" = [])))]
pub async fn my_preferences(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<EmailPreferences>> {
    let off = flow::emails_off(&state.db, &caller.actor, Subject::Me).await?;
    Ok(Json(EmailPreferences { off }))
}

/// Turns kinds of email off (or back on) for the caller.
#[utoipa::path(put, path = "/me/email-preferences", operation_id = "set_my_email_preferences", tag = "notifications",
    request_body = EmailPreferences, responses((status = 200, body = EmailPreferences), (status = 422, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn set_my_preferences(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<EmailPreferences>,
) -> ApiResult<Json<EmailPreferences>> {
    let kinds = flow::kinds("off", &req.off)?;
    let off =
        flow::set_emails_off(&state.db, &caller.actor, Subject::Me, kinds, state.now()).await?;
    Ok(Json(EmailPreferences {
        off: off.iter().map(|k| k.as_str().to_owned()).collect(),
    }))
}

/// The kinds of email the organisation does not send its customers.
#[utoipa::path(get, path = "/settings/customer-emails", operation_id = "get_customer_email_settings", tag = "notifications",
    responses((status = 200, body = EmailPreferences)), security(("bearer" = [])))]
pub async fn customer_emails(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<EmailPreferences>> {
    let off = flow::emails_off(&state.db, &caller.actor, Subject::Customers).await?;
    Ok(Json(EmailPreferences { off }))
}

/// Chooses the kinds of email the organisation does not send its customers (owners and
/// admins).
#[utoipa::path(put, path = "/settings/customer-emails", operation_id = "set_customer_email_settings", tag = "notifications",
    request_body = EmailPreferences, responses((status = 200, body = EmailPreferences), (status = 422, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn set_customer_emails(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<EmailPreferences>,
) -> ApiResult<Json<EmailPreferences>> {
    let kinds = flow::kinds("off", &req.off)?;
    let off = flow::set_emails_off(
        &state.db,
        &caller.actor,
        Subject::Customers,
        kinds,
        state.now(),
    )
    .await?;
    Ok(Json(EmailPreferences {
        off: off.iter().map(|k| k.as_str().to_owned()).collect(),
    }))
}
