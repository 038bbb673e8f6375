//! The timer engine: workers that fire due SLA timers.
//!
//! Each worker sleeps until the next timer is due (read from the head of the due-time index,
//! at most `idle` apart so that timers set by other servers are seen), then claims a batch of
//! due timers and fires them in one transaction, each under a savepoint so that one failing
//! timer is retried later without holding up the rest. On PostgreSQL any number of servers
//! run workers side by side: claims skip rows another transaction holds, and a timer row is
//! deleted in the transaction that carries out its effects, so it fires exactly once; when a
//! server dies its transaction dies with it and the timers are claimed again. SQLite has one
//! server, and its write gate serialises the workers with requests.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use ladder_storage::timers::{self, Timer};
use ladder_storage::{Backend, StorageError};
use tokio::task::JoinHandle;

use crate::flows::timers::{fire, Fired};
use crate::state::AppState;

/// How the engine runs.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Concurrent workers in this process.
    pub workers: usize,
    /// Timers fired per transaction.
    pub batch: i64,
    /// The longest a worker sleeps before looking at the next due time again.
    pub idle: Duration,
}

impl EngineConfig {
    /// SQLite has one writer, so one worker; PostgreSQL takes several.
    pub fn for_backend(backend: Backend) -> EngineConfig {
        EngineConfig {
            workers: match backend {
                Backend::Sqlite => 1,
                Backend::Postgres => 2,
            },
            batch: 100,
            idle: Duration::from_millis(500),
        }
    }
}

/// Starts the workers; they run until the runtime stops.
pub fn spawn(state: AppState, config: EngineConfig) -> Vec<JoinHandle<()>> {
    (0..config.workers)
        .map(|_| tokio::spawn(work(state.clone(), config.clone())))
        .collect()
}

async fn work(state: AppState, config: EngineConfig) {
    loop {
        let fired = match fire_due(&state, config.batch).await {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "firing timers failed; retrying shortly");
                tokio::time::sleep(Duration::from_secs(1)).await;
                0
            }
        };
        if fired >= config.batch as usize {
            continue;
        }
        let wait = match timers::next_due(&state.db).await {
            Ok(Some(due)) => until(due, state.now()).min(config.idle),
            Ok(None) => config.idle,
            Err(e) => {
                tracing::warn!(error = %e, "reading the next due timer failed");
                config.idle
            }
        };
        // A due timer that could not be claimed (its ticket is being edited) is retried
        // after a breath rather than in a tight loop.
        let wait = if fired == 0 {
            wait.max(Duration::from_millis(20))
        } else {
            wait
        };
        tokio::time::sleep(wait).await;
    }
}

fn until(due: Timestamp, now: Timestamp) -> Duration {
    Duration::try_from(due.duration_since(now)).unwrap_or(Duration::ZERO)
}

/// Claims and fires one batch of due timers; returns how many were claimed.
pub async fn fire_due(state: &AppState, batch: i64) -> Result<usize, StorageError> {
    let mut tx = state.db.write().await?;
    let claimed = timers::claim_due(tx.conn(), state.db.backend(), state.now(), batch).await?;
    for t in &claimed {
        sqlx::query("SAVEPOINT timer").execute(tx.conn()).await?;
        let now = state.now();
        match fire(&mut tx, t, now).await {
            Ok(outcome) => {
                sqlx::query("RELEASE SAVEPOINT timer")
                    .execute(tx.conn())
                    .await?;
                if let Fired::Done(kind) = outcome {
                    state.metrics.timers_fired.inc();
                    state.metrics.event(kind);
                }
            }
            Err(e) => {
                sqlx::query("ROLLBACK TO SAVEPOINT timer")
                    .execute(tx.conn())
                    .await?;
                let retry = now + backoff(t);
                tracing::error!(timer = %t.id, kind = %t.kind, attempts = t.attempts + 1, error = ?e,
                    retry_at = %retry, "a timer failed to fire");
                timers::retry_later(tx.conn(), t, retry).await?;
            }
        }
    }
    tx.commit().await?;
    Ok(claimed.len())
}

/// Ten seconds after the first failure, doubling up to an hour.
fn backoff(t: &Timer) -> SignedDuration {
    let exp = u32::try_from(t.attempts.clamp(0, 9)).unwrap_or(9);
    SignedDuration::from_secs((10i64 << exp).min(3600))
}

/// How late the oldest due timer is (zero when none is late).
pub async fn oldest_overdue(state: &AppState) -> Result<SignedDuration, StorageError> {
    let now = state.now();
    Ok(match timers::next_due(&state.db).await? {
        Some(due) if due < now => now.duration_since(due),
        _ => SignedDuration::ZERO,
    })
}
