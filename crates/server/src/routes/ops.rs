//! Health, readiness and Prometheus metrics.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;

use crate::engine;
use crate::state::AppState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", operation_id = "get_health", tag = "ops", responses((status = 200, body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// A timer engine further behind than this is reported as not ready.
const STUCK_AFTER_SECONDS: i64 = 300;

/// The database answers and the timer engine keeps up: the answer names how late the oldest
/// due timer is, and is 503 when it is more than five minutes late.
#[utoipa::path(get, path = "/readyz", operation_id = "get_readiness", tag = "ops", responses((status = 200, body = String), (status = 503, body = String)))]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if let Err(e) = state.db.ping().await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("database unreachable: {e}"),
        );
    }
    match engine::oldest_overdue(&state).await {
        Ok(late) if late.as_secs() > STUCK_AFTER_SECONDS => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "timer engine stuck: oldest overdue timer is {}s late",
                late.as_secs()
            ),
        ),
        Ok(late) => (
            StatusCode::OK,
            format!("ready; oldest overdue timer: {}s late", late.as_secs()),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("cannot read the timers: {e}"),
        ),
    }
}

/// Prometheus metrics in text format.
#[utoipa::path(get, path = "/metrics", operation_id = "get_metrics", tag = "ops",
    responses((status = 200, body = String, content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    // Read at scrape time, not by the workers: a stuck worker could not report itself.
    if let Ok(late) = engine::oldest_overdue(&state).await {
        state
            .metrics
            .oldest_overdue_timer_seconds
            .set(late.as_secs());
    }
    if let Ok(counts) = ladder_storage::deliveries::counts(&state.db).await {
        for (channel, st, n) in counts {
            state
                .metrics
                .deliveries
                .get_or_create(&crate::telemetry::DeliveryStateLabels { channel, state: st })
                .set(n);
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
