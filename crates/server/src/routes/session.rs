use axum::extract::State;
use axum::http::{header, HeaderName, StatusCode};
use ladder_storage::directory;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::auth::{new_token, verify_password, Caller, SESSION_TTL};
use crate::error::{ApiError, ApiResult};
use crate::flows;
use crate::json::Json;
use crate::routes::views::User;
use crate::state::AppState;
use crate::throttle::ClientAddress;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The organisation's slug (or id); `platform` for platform support staff.
    pub tenant: String,
    pub email: String,
    #[schema(value_type = String)]
    pub password: SecretString,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub user: User,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: jiff::Timestamp,
}

/// Signs in and returns a bearer token. Too many failed sign-ins to one account, or from one
/// address, are refused with 429 until the `Retry-After` seconds have passed.
#[utoipa::path(post, path = "/auth/login", operation_id = "login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = crate::error::Problem),
        (status = 429, body = crate::error::Problem, description = "Too many failed sign-ins; see Retry-After")))]
pub async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    Json(req): Json<LoginRequest>,
) -> ApiResult<([(HeaderName, &'static str); 1], Json<LoginResponse>)> {
    let tenant = directory::find_tenant(&state.db, &req.tenant).await?;
    // The account is counted under the organisation's id when there is one, so that naming
    // it by slug and by id does not double the attempts.
    let account = tenant
        .as_ref()
        .map_or(req.tenant.as_str(), |t| t.id.as_str());
    let throttle = &state.login_throttle;
    throttle
        .check(state.now(), account, &req.email, address)
        .map_err(|t| ApiError::TooManyRequests {
            detail: format!(
                "too many failed sign-ins: try again in {} seconds",
                t.retry_after_secs
            ),
            retry_after_secs: t.retry_after_secs,
        })?;
    let failed = || {
        throttle.failed(state.now(), account, &req.email, address);
        ApiError::Unauthorized("unknown organisation, email or password".into())
    };
    let found = match &tenant {
        Some(t) => directory::user_for_login(&state.db, &t.id, req.email.trim()).await?,
        None => None,
    };
    let (user, hash) = match found {
        Some((u, h)) => (Some(u), Some(h)),
        None => (None, None),
    };
    if !verify_password(req.password, hash).await {
        return Err(failed());
    }
    let user = user.ok_or_else(failed)?;
    throttle.succeeded(account, &req.email);
    let now = state.now();
    let expires_at = now
        .checked_add(SESSION_TTL)
        .map_err(|e| ApiError::Internal(e.into()))?;
    let (token, token_hash) = new_token();
    flows::session::open(&state.db, &user, &token_hash, now, expires_at).await?;
    // The body carries a bearer token: no cache may keep it.
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(LoginResponse {
            token,
            user: user.into(),
            expires_at,
        }),
    ))
}

/// Revokes the token used for this request.
#[utoipa::path(post, path = "/auth/logout", operation_id = "logout", tag = "auth", responses((status = 204)), security(("bearer" = [])))]
pub async fn logout(State(state): State<AppState>, caller: Caller) -> ApiResult<StatusCode> {
    flows::session::close(&state.db, &caller.token_hash, state.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

impl<T: Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}
