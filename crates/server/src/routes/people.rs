//! Users, teams and customers.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use ladder_core::text::{Email, ShortText};
use ladder_core::{CustomerTier, Role, UserId};
use ladder_storage::{directory, search};
use serde::Deserialize;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::flows::directory::{self as directory_flow, AddCustomer, AddTeam, AddUser};
use crate::json::Json;
use crate::routes::views::{all, Customer, Team, User};
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    pub email: Email,
    pub name: ShortText,
    #[schema(schema_with = crate::routes::schemas::organisation_role)]
    pub role: Role,
    /// At least 8 characters, not all spaces; at most 1024.
    #[schema(min_length = 8, max_length = 1024, pattern = r"\S")]
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
    let cmd = AddUser {
        email: req.email.into_string(),
        name: req.name,
        role: req.role,
        password: req.password,
    };
    let user = directory_flow::add_user(&state.db, &caller.actor, cmd, state.now()).await?;
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
    Path(id): Path<UserId>,
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
    let cmd = AddTeam {
        name: req.name,
        members: req.members,
    };
    let team = directory_flow::add_team(&state.db, &caller.actor, cmd, state.now()).await?;
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
    pub name: ShortText,
    pub email: Option<Email>,
    /// Digits, spaces and `+ - ( ) .`, at most 40.
    #[schema(pattern = r"^[0-9 +().\-]*$", max_length = 40)]
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
    let cmd = AddCustomer {
        name: req.name,
        email: req.email.map(Email::into_string),
        phone: req.phone,
        tier: req.tier,
    };
    let c = directory_flow::add_customer(&state.db, &caller.actor, cmd, state.now()).await?;
    Ok((StatusCode::CREATED, Json(c.into())))
}

/// The query of `GET /customers`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct CustomersQuery {
    /// Part of a name, an email address or a phone number (its digits, however written);
    /// one or two characters match the start of a name.
    q: Option<String>,
    /// The most customers a search returns (with `q`; default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// The organisation's customers: with `q`, those whose name, email or phone contains it (at
/// most `limit`, by name); without, the first 500.
#[utoipa::path(get, path = "/customers", operation_id = "list_customers", tag = "people", params(CustomersQuery),
    responses((status = 200, body = Vec<Customer>), (status = 422, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn list_customers(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Vec<Customer>>> {
    if let Some(k) = q.keys().find(|k| !matches!(k.as_str(), "q" | "limit")) {
        return Err(ApiError::field(
            k.clone(),
            "unknown query parameter; use q or limit",
        ));
    }
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
    match q.get("q").map(|t| t.trim()).filter(|t| !t.is_empty()) {
        Some(text) if text.len() > 200 => Err(ApiError::field("q", "at most 200 bytes")),
        Some(text) => {
            let mut conn = state.db.conn().await?;
            Ok(Json(all(search::customers(
                &mut conn,
                caller.tenant_id(),
                text,
                limit,
            )
            .await?)))
        }
        None => Ok(Json(all(directory::customers(
            &state.db,
            caller.tenant_id(),
            500,
        )
        .await?))),
    }
}

/// One customer.
#[utoipa::path(get, path = "/customers/{id}", operation_id = "get_customer", tag = "people", params(("id" = String, Path)),
    responses((status = 200, body = Customer), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
pub async fn get_customer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<ladder_core::CustomerId>,
) -> ApiResult<Json<Customer>> {
    let mut conn = state.db.conn().await?;
    directory::customer(&mut conn, caller.tenant_id(), &id)
        .await?
        .map(|c| Json(c.into()))
        .ok_or_else(|| ApiError::not_found("customer"))
}
