//! The `ladder` server: HTTP API, background workers and command line, on top of the storage
//! crate and the pure domain core.

pub mod auth;
pub mod demo;
pub mod error;
pub mod flows;
pub mod json;
pub mod provision;
pub mod routes;
pub mod sla;
pub mod state;
pub mod telemetry;
pub mod triggers;

use std::future::Future;

use ladder_storage::Db;
use tokio::net::TcpListener;

pub use state::AppState;

/// Serves the API and runs the workers on `listener` until `shutdown` completes.
pub async fn serve(
    db: Db,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let state = AppState::new(db);
    let app = routes::router(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}
