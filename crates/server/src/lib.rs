//! The `ladder` server: HTTP API, background workers and command line, on top of the storage
//! crate and the pure domain core.

#![forbid(unsafe_code)]

pub mod auth;
pub mod demo;
pub mod engine;
pub mod error;
pub mod flows;
pub mod json;
pub mod notify;
pub mod provision;
pub mod routes;
pub mod sla;
pub mod state;
pub mod telemetry;
pub mod triggers;

use std::future::Future;

use ladder_storage::Db;
use tokio::net::TcpListener;

pub use state::{AppState, Clock, TestClock};

/// Serves the API and runs the timer workers on `listener` until `shutdown` completes.
pub async fn serve(
    db: Db,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let config = engine::EngineConfig::for_backend(db.backend());
    serve_with(db, listener, shutdown, config).await
}

/// [`serve`] with the timer engine configured, on the system clock.
pub async fn serve_with(
    db: Db,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    engine: engine::EngineConfig,
) -> anyhow::Result<()> {
    serve_state(AppState::new(db, Clock::System), listener, shutdown, engine).await
}

/// Serves `state` (its database, and the clock everything reads `now` from): the tests run
/// the server on a clock they move.
pub async fn serve_state(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    engine: engine::EngineConfig,
) -> anyhow::Result<()> {
    let mut workers = engine::spawn(state.clone(), engine);
    workers.extend(notify::spawn(state.clone()));
    if state.db.backend() == ladder_storage::Backend::Sqlite {
        workers.push(engine::spawn_checkpointer(state.db.clone()));
    }
    let app = routes::router(state);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    for w in workers {
        w.abort();
    }
    served?;
    Ok(())
}
