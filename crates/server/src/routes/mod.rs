//! The HTTP surface: every route, and the OpenAPI document, built together from one list.

pub mod deliveries;
pub mod escalations;
pub mod inbound;
pub mod metrics;
pub mod ops;
pub mod people;
pub mod policy;
pub mod problems;
pub mod queues;
pub mod schemas;
pub mod session;
pub mod stream;
pub mod tickets;
pub mod views;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::response::Response;
use axum::{Extension, Json, Router};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::state::AppState;
use crate::telemetry::RequestLabels;

/// What the document says besides its operations, which come from `routes()`.
#[derive(OpenApi)]
#[openapi(
    info(title = "Ladder", description = "A help desk whose heart is escalation."),
    tags(
        (name = "auth", description = "Signing in and out."),
        (name = "people", description = "Users, teams and customers of the organisation."),
        (name = "tickets", description = "Tickets, their comments, links, watchers and audit trail."),
        (name = "escalations", description = "Escalating a ticket and working the escalation to its end."),
        (name = "approvals", description = "Compensation that waits for an approver."),
        (name = "queues", description = "The caller's work lists."),
        (name = "policy", description = "The organisation's escalation policy."),
        (name = "stream", description = "Live events for the signed-in person (Server-Sent Events)."),
        (name = "metrics", description = "What the organisation learns from its escalations."),
        (name = "notifications", description = "Email and webhook deliveries, webhooks, and the emails people turn off."),
        (name = "inbound", description = "Email in: raw messages, the inbound token, the IMAP mailbox."),
        (name = "meta", description = "This document."),
        (name = "ops", description = "Health, readiness and metrics, outside /api/v1."),
    ),
    components(schemas(crate::error::Problem)),
    modifiers(&BearerAuth),
)]
struct ApiDoc;

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

/// Every route, once: `routes!` registers each handler with axum at the method and path of
/// its `#[utoipa::path]` and adds that operation to the document, so the two cannot drift.
/// One `routes!` per path (it serves all its handlers at each of their paths).
fn routes() -> OpenApiRouter<AppState> {
    let api = OpenApiRouter::new()
        .routes(routes!(session::login))
        .routes(routes!(session::logout))
        .routes(routes!(people::create_user, people::list_users))
        .routes(routes!(people::get_user))
        .routes(routes!(people::set_availability))
        .routes(routes!(people::create_team, people::list_teams))
        .routes(routes!(people::create_customer, people::list_customers))
        .routes(routes!(people::get_customer))
        .routes(routes!(tickets::create, tickets::list))
        .routes(routes!(tickets::get, tickets::patch))
        .routes(routes!(tickets::comment, tickets::comments))
        .routes(routes!(tickets::events))
        .routes(routes!(tickets::notifications))
        .routes(routes!(tickets::link))
        .routes(routes!(tickets::watch))
        .routes(routes!(escalations::escalate))
        .routes(routes!(escalations::get))
        .routes(routes!(escalations::acknowledge))
        .routes(routes!(escalations::resolve))
        .routes(routes!(escalations::de_escalate))
        .routes(routes!(escalations::re_escalate))
        .routes(routes!(escalations::verification))
        .routes(routes!(escalations::approvals))
        .routes(routes!(escalations::approve))
        .routes(routes!(escalations::deny))
        .routes(routes!(queues::mine))
        .routes(routes!(queues::watching))
        .routes(routes!(queues::escalations))
        .routes(routes!(policy::get, policy::put))
        .routes(routes!(policy::simulate))
        .routes(routes!(stream::events))
        .routes(routes!(metrics::escalations))
        .routes(routes!(deliveries::list))
        .routes(routes!(deliveries::retry))
        .routes(routes!(
            deliveries::create_webhook,
            deliveries::list_webhooks
        ))
        .routes(routes!(deliveries::delete_webhook))
        .routes(routes!(
            deliveries::my_preferences,
            deliveries::set_my_preferences
        ))
        .routes(routes!(
            deliveries::customer_emails,
            deliveries::set_customer_emails
        ))
        .routes(routes!(inbound::receive))
        .routes(routes!(inbound::new_token))
        .routes(routes!(inbound::set_mailbox, inbound::get_mailbox))
        .routes(routes!(inbound::list))
        .routes(routes!(inbound::download))
        .routes(routes!(openapi_document))
        .fallback(|| async { ApiError::NotFound("no such endpoint under /api/v1".into()) });
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", api)
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
}

/// The largest request body accepted; bigger ones are refused with 413.
const BODY_LIMIT: usize = 256 * 1024;

/// The OpenAPI document the server serves, built from the same list as its router.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, mut document) = routes().split_for_parts();
    problems::document(&mut document);
    document
}

pub fn router(state: AppState) -> Router {
    let (router, mut document) = routes().split_for_parts();
    problems::document(&mut document);
    // The web pages, beside the API and outside its document (`web::beside`).
    crate::web::beside(router)
        .route_layer(axum::middleware::from_fn(matched_route))
        .layer(Extension(Arc::new(document)))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(method_not_allowed_as_problem))
        .layer(axum::middleware::from_fn(refuse_nul_in_uri))
        .layer(axum::middleware::from_fn_with_state(state.clone(), count_requests))
        // Every response, errors included: no MIME sniffing, no framing, no referrer leaking
        // ids in URLs.
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(axum::middleware::from_fn_with_state(state.clone(), on_write_lane))
        .with_state(state)
}

/// A request that may write (any method but GET, HEAD, OPTIONS, TRACE) runs whole on
/// SQLite's write lane, beside the writer's connection (`ladder_storage::lane`): each of its
/// statements is then a switch between two threads on one CPU instead of a wake-up of the
/// other CPU. Reads stay on every CPU.
async fn on_write_lane(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let lane = match state.db.lane() {
        Some(lane) if !req.method().is_safe() => lane.clone(),
        _ => return next.run(req).await,
    };
    match lane.run(next.run(req)).await {
        Ok(res) => res,
        Err(e) => ApiError::Internal(e.into()).into_response(),
    }
}

/// The OpenAPI document of this API (3.1), built with the router from the same list.
#[utoipa::path(get, path = "/openapi.json", operation_id = "get_openapi_document", tag = "meta",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
async fn openapi_document(
    Extension(document): Extension<Arc<utoipa::openapi::OpenApi>>,
) -> Json<utoipa::openapi::OpenApi> {
    Json(document.as_ref().clone())
}

/// The route template a request matched, carried out on the response: `MatchedPath` is
/// known only inside the router, and the outer layers (`count_requests`) run around it.
async fn matched_route(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let mut res = next.run(req).await;
    if let Some(route) = route {
        res.extensions_mut().insert(route);
    }
    res
}

/// A NUL in the path or query (`%00`) would reach a query as part of an id, and PostgreSQL
/// refuses a NUL in text (a 500) where SQLite looks it up: refused here on both.
async fn refuse_nul_in_uri(req: Request, next: Next) -> Response {
    let uri = req.uri();
    let path_and_query = uri.path_and_query().map_or("", |pq| pq.as_str());
    if path_and_query.contains("%00") {
        return ApiError::Invalid {
            status: StatusCode::BAD_REQUEST,
            field: None,
            detail: "the URL must not contain a NUL (%00)".into(),
        }
        .into_response();
    }
    next.run(req).await
}

/// axum answers a known path with a wrong method by an empty 405; it gets a problem document
/// like every other refusal, keeping the `Allow` header that lists what would work.
async fn method_not_allowed_as_problem(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let res = next.run(req).await;
    if res.status() != StatusCode::METHOD_NOT_ALLOWED {
        return res;
    }
    let allow = res.headers().get(header::ALLOW).cloned();
    let detail = match allow.as_ref().and_then(|a| a.to_str().ok()) {
        Some(allowed) => format!("{method} is not allowed here; use {allowed}"),
        None => format!("{method} is not allowed here"),
    };
    let mut problem = ApiError::Invalid {
        status: StatusCode::METHOD_NOT_ALLOWED,
        field: None,
        detail,
    }
    .into_response();
    if let Some(allow) = allow {
        problem.headers_mut().insert(header::ALLOW, allow);
    }
    problem
}

async fn count_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let res = next.run(req).await;
    if let (Some(log), Some(route)) = (&state.route_log, res.extensions().get::<MatchedPath>()) {
        log(&method, route.as_str());
    }
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
