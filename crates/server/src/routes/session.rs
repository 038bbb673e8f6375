use axum::extract::State;
use axum::http::{header, HeaderName, StatusCode};
use ladder_storage::directory;
use serde::{Deserialize, Serialize};

use crate::auth::{new_token, verify_password, Caller, SESSION_TTL};
use crate::error::{ApiError, ApiResult};
use crate::flows;
use crate::json::Json;
use crate::routes::views::User;
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The organisation's slug (or id); `platform` for platform support staff.
    pub tenant: String,
    pub email: String,
    pub password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub user: User,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: jiff::Timestamp,
}

/// Signs in and returns a bearer token.
#[utoipa::path(post, path = "/auth/login", operation_id = "login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = crate::error::Problem)))]
pub async fn login(
    State(state): State<AppState>,
    Json(req): Json<LoginRequest>,
) -> ApiResult<([(HeaderName, &'static str); 1], Json<LoginResponse>)> {
    let refused = || ApiError::Unauthorized("unknown organisation, email or password".into());
    let tenant = directory::find_tenant(&state.db, &req.tenant).await?;
    let found = match &tenant {
        Some(t) => directory::user_for_login(&state.db, &t.id, req.email.trim()).await?,
        None => None,
    };
    let (user, hash) = match found {
        Some((u, h)) => (Some(u), Some(h)),
        None => (None, None),
    };
    if !verify_password(req.password, hash).await {
        return Err(refused());
    }
    let user = user.ok_or_else(refused)?;
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
