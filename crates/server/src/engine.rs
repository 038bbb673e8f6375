//! The timer engine: workers that fire due SLA timers.
//!
//! Each worker sleeps until the next timer is due (read from the head of the due-time index,
//! at most `idle` apart so that timers set by other servers or processes are seen), then
//! fires one batch: in one write transaction it claims the due timers, reads what they need,
//! decides every one, writes the effects and audit events, and commits. If the batch fails,
//! each of its timers is fired again the same way, alone, so that one timer that cannot fire
//! (a bug, a corrupt row) is set aside with a growing delay while the rest go out.
//!
//! On PostgreSQL any number of workers and servers run side by side: the claim locks the
//! timers and their tickets and skips rows another transaction holds, and a timer row is
//! rewritten in the transaction that carries out its effects, so it fires exactly once;
//! when a server dies its transaction dies with it and the timers are claimed again. On
//! SQLite the batch runs under the write gate and `BEGIN IMMEDIATE`, so everything it reads
//! is current, whoever else (a command-line process) wrote before it.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use ladder_storage::timers::{self, Timer};
use ladder_storage::{Backend, StorageError, WriteTx};
use tokio::task::JoinHandle;

use crate::flows::timers::fire_batch;
use crate::flows::FlowError;
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

/// The most workers one server runs: each holds a pooled connection while it fires, and
/// requests need the rest of the pool.
pub const MAX_WORKERS: usize = 8;

impl EngineConfig {
    /// SQLite has one writer, and a batch does all its work holding it: one worker. On
    /// PostgreSQL a worker spends about half of each batch waiting on the database: with
    /// two, a fifth of a 2-core machine running both the server and PostgreSQL stayed idle
    /// while 10,000 timers were due, and a third worker filled it.
    pub fn for_backend(backend: Backend) -> EngineConfig {
        EngineConfig {
            workers: match backend {
                Backend::Sqlite => 1,
                Backend::Postgres => 3,
            },
            batch: 500,
            idle: Duration::from_millis(500),
        }
    }

    /// [`EngineConfig::for_backend`] with the operator's number of workers, if they chose one
    /// (1 to [`MAX_WORKERS`]). SQLite keeps its one worker whatever is asked: more would
    /// only queue on its write gate.
    pub fn with_workers(backend: Backend, workers: Option<usize>) -> EngineConfig {
        let mut config = EngineConfig::for_backend(backend);
        if let (Backend::Postgres, Some(n)) = (backend, workers) {
            config.workers = n.clamp(1, MAX_WORKERS);
        }
        config
    }
}

/// Starts the workers; they run until the runtime stops.
pub fn spawn(state: AppState, config: EngineConfig) -> Vec<JoinHandle<()>> {
    (0..config.workers)
        .map(|_| tokio::spawn(work(state.clone(), config.clone())))
        .collect()
}

/// This process's commits between two checkpoints of SQLite's write-ahead log: a few
/// thousand pages of log at most for the writes this server makes (20 to 120 pages each),
/// well under the 16,384 at which SQLite would checkpoint inside a commit.
const CHECKPOINT_AFTER_COMMITS: u64 = 64;

/// Whether the log is due a checkpoint, given the commit count now and at the last one.
fn checkpoint_due(commits: u64, at_last: u64) -> bool {
    commits.wrapping_sub(at_last) >= CHECKPOINT_AFTER_COMMITS
}

/// Checkpoints SQLite's write-ahead log on a connection of its own, so that the copy into
/// the database file runs beside the writers instead of inside a commit: looked at twice a
/// second, done once [`CHECKPOINT_AFTER_COMMITS`] commits have gone into the log since the
/// last time.
///
/// Not more often: a checkpoint that copies the whole log makes the next write start the log
/// afresh, and SQLite then syncs the log's header before that write's own sync, which nearly
/// doubles its commit. Checkpointing twice a second did that to the first write after every
/// quiet half-second: to the first write after a start, and to every write of a quiet
/// organisation.
pub fn spawn_checkpointer(db: ladder_storage::Db) -> JoinHandle<()> {
    tokio::spawn(async move {
        let commits = db.commits();
        let mut at_last = *commits.borrow();
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = *commits.borrow();
            if !checkpoint_due(now, at_last) {
                continue;
            }
            at_last = now;
            if let Err(e) = db.checkpoint().await {
                tracing::warn!(error = %e, "checkpointing the write-ahead log failed");
            }
        }
    })
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

/// Claims and fires one batch of up to `batch` timers due at [`AppState::now`]; returns how
/// many were claimed.
///
/// If the batch fails, it is rolled back and each of its timers is claimed and fired again
/// alone, so that one timer that cannot fire is set aside with backoff ([`set_aside`])
/// while the others go out.
pub async fn fire_due(state: &AppState, batch: i64) -> Result<usize, StorageError> {
    let mut tx = state.db.write().await?;
    let now = state.now();
    let claim = timers::claim_due(tx.conn(), state.db.backend(), now, batch).await?;
    // Rows that do not read back are put off in the batch's transaction, so they neither
    // hold up the batch nor come round again at once.
    for u in &claim.unreadable {
        let retry = now + backoff(u.attempts);
        state.metrics.corrupt("timers");
        tracing::error!(timer = %u.id, attempts = u.attempts + 1, error = %u.error,
            retry_at = %retry, "a timer does not read back");
        timers::retry_unreadable(tx.conn(), u, retry).await?;
    }
    let unreadable = claim.unreadable.len();
    let mut claimed = claim.timers;
    if claimed.is_empty() {
        tx.commit().await?;
        return Ok(unreadable);
    }
    // Organisation by organisation: each batch appends to its organisations' audit chains,
    // whose heads are row locks, and workers taking those locks in the same order can never
    // wait on each other in a circle.
    claimed.sort_by(|a, b| a.tenant_id.cmp(&b.tenant_id).then(a.due_at.cmp(&b.due_at)));
    let Err(e) = fire(state, tx, &claimed, now).await? else {
        return Ok(claimed.len() + unreadable);
    };
    if let [alone] = claimed.as_slice() {
        set_aside(state, alone, e).await?;
        return Ok(1 + unreadable);
    }
    tracing::warn!(error = ?e, timers = claimed.len(), "a batch of timers failed; firing them one by one");
    for t in &claimed {
        let mut tx = state.db.write().await?;
        // Claimed again: another server may have fired it since the batch rolled back.
        let Some(t) = timers::claim_one(tx.conn(), state.db.backend(), t).await? else {
            tx.rollback().await?;
            continue;
        };
        if let Err(e) = fire(state, tx, std::slice::from_ref(&t), state.now()).await? {
            set_aside(state, &t, e).await?;
        }
    }
    Ok(claimed.len() + unreadable)
}

/// Fires `claimed` in `tx` at `now` and commits, counting what fired; when firing fails,
/// rolls back and hands the error back.
async fn fire(
    state: &AppState,
    mut tx: WriteTx,
    claimed: &[Timer],
    now: Timestamp,
) -> Result<Result<(), FlowError>, StorageError> {
    match fire_batch(&mut tx, claimed, now).await {
        Ok(done) => {
            tx.commit().await?;
            for kind in done {
                state.metrics.timers_fired.inc();
                state.metrics.event(kind);
            }
            Ok(Ok(()))
        }
        Err(e) => {
            tx.rollback().await?;
            Ok(Err(e))
        }
    }
}

/// Puts a timer that failed to fire back with a delay, counting the attempt.
async fn set_aside(state: &AppState, t: &Timer, e: FlowError) -> Result<(), StorageError> {
    let retry = state.now() + backoff(t.attempts);
    if let Some(table) = e.corrupt_table() {
        state.metrics.corrupt(table);
    }
    tracing::error!(timer = %t.id, kind = %t.kind, attempts = t.attempts + 1, error = ?e,
        retry_at = %retry, "a timer failed to fire");
    let mut tx = state.db.write().await?;
    timers::retry_later(tx.conn(), t, retry).await?;
    tx.commit().await
}

/// Ten seconds after the first failure, doubling up to an hour.
fn backoff(attempts: i64) -> SignedDuration {
    let exp = u32::try_from(attempts.clamp(0, 9)).unwrap_or(9);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_takes_the_workers_asked_for_and_sqlite_keeps_one() {
        assert_eq!(
            EngineConfig::with_workers(Backend::Postgres, None).workers,
            3
        );
        assert_eq!(
            EngineConfig::with_workers(Backend::Postgres, Some(5)).workers,
            5
        );
        assert_eq!(
            EngineConfig::with_workers(Backend::Postgres, Some(100)).workers,
            MAX_WORKERS
        );
        assert_eq!(EngineConfig::with_workers(Backend::Sqlite, None).workers, 1);
        assert_eq!(
            EngineConfig::with_workers(Backend::Sqlite, Some(4)).workers,
            1
        );
    }

    #[test]
    fn the_log_is_checkpointed_after_enough_commits_and_not_before() {
        assert!(!checkpoint_due(0, 0));
        assert!(!checkpoint_due(CHECKPOINT_AFTER_COMMITS - 1, 0));
        assert!(checkpoint_due(CHECKPOINT_AFTER_COMMITS, 0));
        assert!(!checkpoint_due(100, 100 - CHECKPOINT_AFTER_COMMITS + 1));
        // The count wraps rather than overflows.
        assert!(checkpoint_due(CHECKPOINT_AFTER_COMMITS - 1, u64::MAX));
        assert!(!checkpoint_due(3, u64::MAX - 2));
    }
}
