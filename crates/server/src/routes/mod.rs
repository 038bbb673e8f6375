//! The HTTP surface: every route, and the OpenAPI document generated from their annotations.

pub mod escalations;
pub mod ops;
pub mod people;
pub mod policy;
pub mod queues;
pub mod session;
pub mod tickets;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::Router;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::ApiError;
use crate::state::AppState;
use crate::telemetry::RequestLabels;

#[derive(OpenApi)]
#[openapi(
    info(title = "Ladder", description = "A help desk whose heart is escalation."),
    paths(
        session::login, session::logout,
        people::create_user, people::list_users, people::get_user, people::set_availability,
        people::create_team, people::list_teams,
        people::create_customer, people::list_customers, people::get_customer,
        tickets::create, tickets::get, tickets::patch, tickets::comment, tickets::comments,
        tickets::events, tickets::notifications, tickets::link, tickets::watch,
        escalations::escalate, escalations::get, escalations::acknowledge, escalations::resolve,
        escalations::de_escalate, escalations::re_escalate, escalations::verification,
        escalations::approvals, escalations::approve, escalations::deny,
        queues::mine, queues::watching, queues::escalations,
        policy::get, policy::put, policy::simulate,
        ops::healthz, ops::readyz, ops::metrics,
    ),
    components(schemas(crate::error::Problem)),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The largest request body accepted; bigger ones are refused with 413.
const BODY_LIMIT: usize = 256 * 1024;

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/auth/login", post(session::login))
        .route("/auth/logout", post(session::logout))
        .route("/users", post(people::create_user).get(people::list_users))
        .route("/users/{id}", get(people::get_user))
        .route("/users/{id}/availability", put(people::set_availability))
        .route("/teams", post(people::create_team).get(people::list_teams))
        .route(
            "/customers",
            post(people::create_customer).get(people::list_customers),
        )
        .route("/customers/{id}", get(people::get_customer))
        .route("/tickets", post(tickets::create))
        .route("/tickets/{id}", get(tickets::get).patch(tickets::patch))
        .route(
            "/tickets/{id}/comments",
            post(tickets::comment).get(tickets::comments),
        )
        .route("/tickets/{id}/events", get(tickets::events))
        .route("/tickets/{id}/notifications", get(tickets::notifications))
        .route("/tickets/{id}/links", post(tickets::link))
        .route("/tickets/{id}/watchers", post(tickets::watch))
        .route("/tickets/{id}/escalate", post(escalations::escalate))
        .route("/escalations/{id}", get(escalations::get))
        .route(
            "/escalations/{id}/acknowledge",
            post(escalations::acknowledge),
        )
        .route("/escalations/{id}/resolve", post(escalations::resolve))
        .route(
            "/escalations/{id}/de-escalate",
            post(escalations::de_escalate),
        )
        .route(
            "/escalations/{id}/re-escalate",
            post(escalations::re_escalate),
        )
        .route(
            "/escalations/{id}/verification",
            post(escalations::verification),
        )
        .route("/approvals", get(escalations::approvals))
        .route("/approvals/{id}/approve", post(escalations::approve))
        .route("/approvals/{id}/deny", post(escalations::deny))
        .route("/queues/mine", get(queues::mine))
        .route("/queues/watching", get(queues::watching))
        .route("/queues/escalations", get(queues::escalations))
        .route("/policy", get(policy::get).put(policy::put))
        .route("/policy/simulate", post(policy::simulate))
        .route("/openapi.json", get(openapi))
        .fallback(|| async { ApiError::NotFound("no such endpoint under /api/v1".into()) });

    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(state.clone(), count_requests))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

async fn openapi() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}

async fn count_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let res = next.run(req).await;
    if let Some(crate::error::CorruptRow(table)) = res.extensions().get() {
        state.metrics.corrupt(table);
    }
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            status: res.status().as_u16(),
        })
        .inc();
    res
}
