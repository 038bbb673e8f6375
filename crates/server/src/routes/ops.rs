//! Health, readiness and Prometheus metrics.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;

use crate::state::AppState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// The database answers.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses((status = 200, body = String), (status = 503, body = String)))]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ready".to_owned()),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("database unreachable: {e}"),
        ),
    }
}

/// Prometheus metrics in text format.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, body = String)))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
