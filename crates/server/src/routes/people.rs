//! Users, teams and customers.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use ladder_core::text::ShortText;
use ladder_core::AuditKind;
use ladder_core::{CustomerTier, Role, UserId};
use ladder_storage::directory::{self, NewCustomer, NewUser};
use serde::Deserialize;
use serde_json::json;

use crate::auth::{hash_password, Caller};
use crate::error::{ApiError, ApiResult};
use crate::flows::record;
use crate::json::Json;
use crate::routes::views::{all, Customer, Team, User};
use crate::state::AppState;

fn check_email(field: &str, email: &str) -> ApiResult<()> {
    let ok = email.len() <= 254
        && email.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(ApiError::field(
            field,
            format!("{email:?} is not an email address"),
        ))
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    pub email: String,
    #[schema(value_type = String)]
    pub name: ShortText,
    pub role: Role,
    pub password: String,
}

/// Adds a user to the caller's organisation (owners and admins only).
#[utoipa::path(post, path = "/users", operation_id = "create_user", tag = "people", request_body = NewUserRequest,
    responses((status = 201, body = User), (status = 422, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<NewUserRequest>,
) -> ApiResult<(StatusCode, Json<User>)> {
    caller.require_manager("add users")?;
    check_email("email", &req.email)?;
    if req.password.trim().is_empty() {
        return Err(ApiError::field("password", "must not be only spaces"));
    }
    if req.password.chars().count() < 8 {
        return Err(ApiError::field("password", "must be at least 8 characters"));
    }
    if req.password.len() > 1024 {
        return Err(ApiError::field("password", "must be at most 1024 bytes"));
    }
    if req.role == Role::PlatformSupport {
        return Err(ApiError::field(
            "role",
            "platform support staff belong to the platform, not to an organisation",
        ));
    }
    if req.role == Role::Owner && caller.role() != Role::Owner {
        return Err(ApiError::Forbidden(
            "only an owner may add another owner".into(),
        ));
    }
    let hash = hash_password(req.password).await?;
    let now = state.now();
    let mut tx = state.db.write().await?;
    let user = directory::insert_user(
        tx.conn(),
        NewUser {
            tenant_id: caller.tenant_id(),
            email: req.email.trim(),
            name: req.name.as_str(),
            role: req.role,
            password_hash: &hash,
        },
        now,
    )
    .await?;
    record(tx.conn(), caller.tenant_id(), None, Some(&caller.user.id), AuditKind::UserCreated,
        json!({"user_id": user.id, "after": {"email": user.email, "name": user.name, "role": user.role}}), now).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// The organisation's users.
#[utoipa::path(get, path = "/users", operation_id = "list_users", tag = "people", responses((status = 200, body = Vec<User>)), security(("bearer" = [])))]
pub async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<User>>> {
    Ok(Json(all(
        directory::users(&state.db, caller.tenant_id()).await?
    )))
}

/// One user of the organisation.
#[utoipa::path(get, path = "/users/{id}", operation_id = "get_user", tag = "people", params(("id" = String, Path)),
    responses((status = 200, body = User), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<User>> {
    directory::user(&state.db, caller.tenant_id(), &id)
        .await?
        .map(|u| Json(u.into()))
        .ok_or_else(|| ApiError::not_found("user"))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityRequest {
    /// Away until this instant (RFC 3339); null when available.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub away_until: Option<jiff::Timestamp>,
}

/// Marks a user away until a time (or available). Escalations route around away people.
#[utoipa::path(put, path = "/users/{id}/availability", operation_id = "set_user_availability", tag = "people", params(("id" = String, Path)),
    request_body = AvailabilityRequest, responses((status = 200, body = User), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn set_availability(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<UserId>,
    Json(req): Json<AvailabilityRequest>,
) -> ApiResult<Json<User>> {
    let user = crate::flows::escalation::set_availability(
        &state.db,
        &caller.actor,
        &id,
        req.away_until,
        state.now(),
    )
    .await?;
    Ok(Json(user.into()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTeamRequest {
    #[schema(value_type = String)]
    pub name: ShortText,
    #[serde(default)]
    pub members: Vec<String>,
}

/// Creates a team (owners and admins only).
#[utoipa::path(post, path = "/teams", operation_id = "create_team", tag = "people", request_body = NewTeamRequest,
    responses((status = 201, body = Team), (status = 422, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn create_team(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<NewTeamRequest>,
) -> ApiResult<(StatusCode, Json<Team>)> {
    caller.require_manager("create teams")?;
    if req.members.len() > 1000 {
        return Err(ApiError::field("members", "at most 1000 members"));
    }
    let now = state.now();
    let mut tx = state.db.write().await?;
    let found = directory::users_by_id(tx.conn(), caller.tenant_id(), &req.members).await?;
    for (i, m) in req.members.iter().enumerate() {
        if !found.iter().any(|u| u.id.as_str() == m) {
            return Err(ApiError::field(
                format!("members[{i}]"),
                format!("no user with id {m:?} in this organisation"),
            ));
        }
    }
    let team = directory::insert_team(
        tx.conn(),
        caller.tenant_id(),
        req.name.as_str(),
        &req.members,
        now,
    )
    .await?;
    record(
        tx.conn(),
        caller.tenant_id(),
        None,
        Some(&caller.user.id),
        AuditKind::TeamCreated,
        json!({"team_id": team.id, "after": {"name": team.name, "members": team.members}}),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(team.into())))
}

/// The organisation's teams with their members.
#[utoipa::path(get, path = "/teams", operation_id = "list_teams", tag = "people", responses((status = 200, body = Vec<Team>)), security(("bearer" = [])))]
pub async fn list_teams(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<Team>>> {
    Ok(Json(all(
        directory::teams(&state.db, caller.tenant_id()).await?
    )))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomerRequest {
    #[schema(value_type = String)]
    pub name: ShortText,
    pub email: Option<String>,
    pub phone: Option<String>,
    #[serde(default = "standard_tier")]
    pub tier: CustomerTier,
}

fn standard_tier() -> CustomerTier {
    CustomerTier::Standard
}

/// Adds a customer (patient, client, account).
#[utoipa::path(post, path = "/customers", operation_id = "create_customer", tag = "people", request_body = NewCustomerRequest,
    responses((status = 201, body = Customer), (status = 422, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn create_customer(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<NewCustomerRequest>,
) -> ApiResult<(StatusCode, Json<Customer>)> {
    caller.require_staff("add customers")?;
    if let Some(e) = &req.email {
        check_email("email", e)?;
    }
    if let Some(p) = &req.phone {
        if p.len() > 40
            || !p
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        {
            return Err(ApiError::field(
                "phone",
                "use digits, spaces and + - ( ) . only, at most 40 characters",
            ));
        }
    }
    let now = state.now();
    let mut tx = state.db.write().await?;
    let c = directory::insert_customer(
        tx.conn(),
        caller.tenant_id(),
        NewCustomer {
            name: req.name.as_str(),
            email: req.email.as_deref(),
            phone: req.phone.as_deref(),
            tier: req.tier,
        },
        now,
    )
    .await?;
    record(tx.conn(), caller.tenant_id(), None, Some(&caller.user.id), AuditKind::CustomerCreated,
        json!({"customer_id": c.id, "after": {"name": c.name, "email": c.email, "phone": c.phone, "tier": c.tier}}), now).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(c.into())))
}

/// The organisation's customers (first 500).
#[utoipa::path(get, path = "/customers", operation_id = "list_customers", tag = "people", responses((status = 200, body = Vec<Customer>)), security(("bearer" = [])))]
pub async fn list_customers(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<Customer>>> {
    Ok(Json(all(directory::customers(
        &state.db,
        caller.tenant_id(),
        500,
    )
    .await?)))
}

/// One customer.
#[utoipa::path(get, path = "/customers/{id}", operation_id = "get_customer", tag = "people", params(("id" = String, Path)),
    responses((status = 200, body = Customer), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn get_customer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Customer>> {
    let mut conn = state.db.conn().await?;
    directory::customer(&mut conn, caller.tenant_id(), &id)
        .await?
        .map(|c| Json(c.into()))
        .ok_or_else(|| ApiError::not_found("customer"))
}
