//! The `ladder` server: HTTP API, background workers and command line, on top of the storage
//! crate and the pure domain core.

#![forbid(unsafe_code)]

pub mod auth;
pub mod demo;
pub mod engine;
pub mod error;
pub mod flows;
pub mod import;
pub mod inbound;
pub mod json;
pub mod notify;
pub mod provision;
pub mod reports;
pub mod routes;
pub mod sla;
pub mod state;
pub mod stream;
pub mod telemetry;
pub mod throttle;
pub mod transport;
pub mod triggers;
pub mod web;

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
    serve_limited(
        state,
        listener,
        shutdown,
        engine,
        transport::Limits::default(),
    )
    .await
}

/// [`serve_state`] under the given transport limits (timeouts, connection cap).
pub async fn serve_limited(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    engine: engine::EngineConfig,
    limits: transport::Limits,
) -> anyhow::Result<()> {
    auth::prepare();
    let mut workers = engine::spawn(state.clone(), engine);
    workers.extend(notify::spawn(state.clone()));
    workers.extend(inbound::imap::spawn(state.clone()));
    if state.db.backend() == ladder_storage::Backend::Sqlite {
        workers.push(engine::spawn_checkpointer(state.db.clone()));
    }
    workers.push(stream::spawn(&state));
    // Open live streams end when shutdown begins; the graceful shutdown would wait on them.
    let feed = state.feed.clone();
    let shutdown = async move {
        shutdown.await;
        feed.close();
    };
    let app = routes::router(state);
    let served = transport::serve(listener, app, limits, shutdown).await;
    for w in workers {
        w.abort();
    }
    served?;
    Ok(())
}
