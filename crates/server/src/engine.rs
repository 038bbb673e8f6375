//! The timer engine: workers that fire due SLA timers.
//!
//! Each worker sleeps until the next timer is due (read from the head of the due-time index,
//! at most `idle` apart so that timers set by other servers are seen), then claims a batch of
//! due timers and fires them in one transaction, each under a savepoint so that one failing
//! timer is retried later without holding up the rest. On PostgreSQL any number of servers
//! run workers side by side: claims skip rows another transaction holds, and a timer row is
//! deleted in the transaction that carries out its effects, so it fires exactly once; when a
//! server dies its transaction dies with it and the timers are claimed again.
//!
//! SQLite has one server and one writer at a time, so its two workers take turns at the write
//! lock, and each plans its next batch while the other writes ([`Ahead`]): it claims due
//! timers that the other does not hold ([`InFlight`]), reads what they need from a snapshot
//! and decides their effects, then takes the write lock. If nothing was written since the
//! snapshot but timer batches (each writes only its own tickets) and requests confined to
//! other tickets ([`ladder_storage::Db::written_since`]), what it read still holds and the
//! plan is written as it is; otherwise the batch is read and planned again under the lock.
//! Planning is half of a batch's work, and this way it no longer waits for the write lock.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use ladder_storage::timers::{self, Timer};
use ladder_storage::{Backend, StorageError, WriteMark, WriteTx, WrittenSince};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use crate::flows::timers::{fire_batch, plan_batch, write_planned, writes_only_their_tickets};
use crate::flows::FlowResult;
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

/// The workers SQLite runs: one writing while the other plans.
pub const SQLITE_WORKERS: usize = 2;

impl EngineConfig {
    /// SQLite has one writer: one worker writes while another plans its next batch. On
    /// PostgreSQL a worker spends about half of each batch waiting on the database: with
    /// two, a fifth of a 2-core machine running both the server and PostgreSQL stayed idle
    /// while 10,000 timers were due, and a third worker filled it (p99 lag lower in 21 of 25
    /// alternating runs).
    pub fn for_backend(backend: Backend) -> EngineConfig {
        EngineConfig {
            workers: match backend {
                Backend::Sqlite => SQLITE_WORKERS,
                Backend::Postgres => 3,
            },
            batch: 500,
            idle: Duration::from_millis(500),
        }
    }

    /// [`EngineConfig::for_backend`] with the operator's number of workers, if they chose one
    /// (1 to [`MAX_WORKERS`]). SQLite keeps its two workers whatever is asked: its writes
    /// queue on one lock, so more workers would only wait on each other.
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
    let flight = InFlight::default();
    (0..config.workers)
        .map(|_| tokio::spawn(work(state.clone(), config.clone(), flight.clone())))
        .collect()
}

/// The timers this server's SQLite workers have claimed and not yet written. A worker claims
/// and releases while holding it, so a claim never sees a batch as released before its
/// commit: it either skips that batch's timers or reads them as the batch left them.
#[derive(Clone, Default)]
pub struct InFlight(Arc<Mutex<HashSet<String>>>);

/// Checkpoints SQLite's write-ahead log twice a second on a connection of its own, so that
/// the copy into the database file runs beside the writers instead of inside a commit.
pub fn spawn_checkpointer(db: ladder_storage::Db) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = db.checkpoint().await {
                tracing::warn!(error = %e, "checkpointing the write-ahead log failed");
            }
        }
    })
}

async fn work(state: AppState, config: EngineConfig, flight: InFlight) {
    loop {
        let fired = match state.db.backend() {
            Backend::Postgres => fire_due(&state, config.batch).await,
            Backend::Sqlite => fire_ahead(&state, config.batch, &flight).await,
        };
        let fired = match fired {
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
///
/// The batch commits as a whole. If it fails, each of its timers is fired again in a
/// transaction of its own, so that one timer that cannot fire (a bug, a corrupt row) is set
/// aside with a growing delay while the rest go out.
pub async fn fire_due(state: &AppState, batch: i64) -> Result<usize, StorageError> {
    let mut tx = state.db.write().await?;
    let mut claimed = timers::claim_due(tx.conn(), state.db.backend(), state.now(), batch).await?;
    if claimed.is_empty() {
        return Ok(0);
    }
    // Organisation by organisation: each batch appends to its organisations' audit chains,
    // whose heads are row locks, and workers taking those locks in the same order can never
    // wait on each other in a circle.
    claimed.sort_by(|a, b| a.tenant_id.cmp(&b.tenant_id).then(a.due_at.cmp(&b.due_at)));
    let now = state.now();
    let started = std::time::Instant::now();
    let fired = fire_batch(tx, &claimed, now).await;
    settle(state, &claimed, fired, started).await?;
    Ok(claimed.len())
}

/// Commits a fired batch, or when it failed fires its timers one by one.
async fn settle(
    state: &AppState,
    claimed: &[Timer],
    fired: FlowResult<(WriteTx, Vec<&'static str>)>,
    started: std::time::Instant,
) -> Result<(), StorageError> {
    match fired {
        Ok((tx, outcomes)) => {
            let fired = started.elapsed();
            tx.commit().await?;
            tracing::debug!(timers = claimed.len(), ?fired, committed = ?started.elapsed(), "fired a batch of timers");
            count(state, &outcomes);
        }
        Err(e) if claimed.len() > 1 => {
            tracing::warn!(error = ?e, timers = claimed.len(), "a batch of timers failed; firing them one by one");
            for t in claimed {
                fire_alone(state, t).await?;
            }
        }
        Err(e) => set_aside(state, &claimed[0], e).await?,
    }
    Ok(())
}

/// SQLite: claims and plans one batch of due timers from a snapshot, then writes it under
/// the write lock (see the module's documentation); returns how many were claimed.
pub async fn fire_ahead(
    state: &AppState,
    batch: i64,
    flight: &InFlight,
) -> Result<usize, StorageError> {
    match Ahead::claim(state, batch, flight).await? {
        Some(ahead) => Ok(ahead.fire(state).await?.0),
        None => Ok(0),
    }
}

/// A batch of timers claimed by a SQLite worker, with the snapshot it was read from.
pub struct Ahead {
    snapshot: sqlx::Transaction<'static, sqlx::Any>,
    claimed: Vec<Timer>,
    /// [`ladder_storage::Db::write_mark`] before the snapshot started.
    seen: WriteMark,
    now: Timestamp,
    held: Held,
}

/// A batch's claim on its timers in [`InFlight`]. Released once the batch is written (or
/// has failed); a claim dropped unreleased (a worker cancelled or panicking mid-batch) is
/// released by a task of its own, so that its timers are never held for good.
struct Held {
    flight: InFlight,
    ids: Vec<String>,
}

impl Held {
    async fn release(mut self) {
        let ids = std::mem::take(&mut self.ids);
        forget(&self.flight, &ids).await;
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.ids.is_empty() {
            return;
        }
        let ids = std::mem::take(&mut self.ids);
        let flight = self.flight.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { forget(&flight, &ids).await });
        }
    }
}

async fn forget(flight: &InFlight, ids: &[String]) {
    let mut held = flight.0.lock().await;
    for id in ids {
        held.remove(id);
    }
}

/// How a batch planned ahead was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    /// As planned from the snapshot.
    AsPlanned,
    /// Read and decided again under the write lock, because something else was written
    /// after the snapshot.
    Replanned,
}

impl Ahead {
    /// Claims up to `batch` due timers that no other worker holds, in a new snapshot; `None`
    /// when there are none.
    pub async fn claim(
        state: &AppState,
        batch: i64,
        flight: &InFlight,
    ) -> Result<Option<Ahead>, StorageError> {
        // Read before the snapshot starts: a write committed after it is then counted too.
        let seen = state.db.write_mark();
        let now = state.now();
        let mut snapshot = state.db.snapshot().await?;
        let claimed = {
            let mut held = flight.0.lock().await;
            // The snapshot starts with this query, while the claims are held still.
            let limit = batch.saturating_add(i64::try_from(held.len()).unwrap_or(i64::MAX));
            let due = timers::claim_due(&mut snapshot, Backend::Sqlite, now, limit).await?;
            let mine: Vec<Timer> = due
                .into_iter()
                .filter(|t| !held.contains(&t.id))
                .take(usize::try_from(batch).unwrap_or(usize::MAX))
                .collect();
            held.extend(mine.iter().map(|t| t.id.clone()));
            mine
        };
        let held = Held {
            flight: flight.clone(),
            ids: ids(&claimed),
        };
        if claimed.is_empty() {
            snapshot.rollback().await?;
            return Ok(None);
        }
        Ok(Some(Ahead {
            snapshot,
            claimed,
            seen,
            now,
            held,
        }))
    }

    /// The timers claimed.
    pub fn timers(&self) -> &[Timer] {
        &self.claimed
    }

    /// Plans the batch from the snapshot and writes it under the write lock (planned again
    /// there if anything else was written since the snapshot), then releases its timers;
    /// returns how many were claimed and how the batch was written.
    pub async fn fire(self, state: &AppState) -> Result<(usize, Written), StorageError> {
        let Ahead {
            snapshot,
            claimed,
            seen,
            now,
            held,
        } = self;
        let result = plan_and_write(state, snapshot, &claimed, seen, now).await;
        // Released after the commit, and while no claim runs: see [`InFlight`].
        held.release().await;
        result.map(|written| (claimed.len(), written))
    }
}

async fn plan_and_write(
    state: &AppState,
    mut snapshot: sqlx::Transaction<'static, sqlx::Any>,
    claimed: &[Timer],
    seen: WriteMark,
    now: Timestamp,
) -> Result<Written, StorageError> {
    let started = std::time::Instant::now();
    let planned = plan_batch(&mut snapshot, claimed, now).await;
    snapshot.rollback().await?;
    let mut tx = state.db.write().await?;
    if writes_only_their_tickets(claimed) {
        tx.unnoticed();
    }
    // Other processes (the command line) write organisations, people and policies,
    // which a batch reads but never writes; only this process writes tickets,
    // escalations and timers, and its record covers every such write.
    match planned {
        Err(e) => {
            tracing::warn!(error = ?e, "planning a batch of timers from a snapshot failed")
        }
        Ok(planned) if still_holds(state.db.written_since(seen), claimed) => {
            let fired = write_planned(tx, planned, now).await;
            settle(state, claimed, fired, started).await?;
            return Ok(Written::AsPlanned);
        }
        Ok(_) => {}
    }
    // Something else was written since the snapshot (or planning failed): the batch is
    // read and decided again under the lock, from its timers as they are now.
    tracing::debug!(
        timers = claimed.len(),
        "a write since the snapshot: planning the batch again"
    );
    let still_due: Vec<Timer> = timers::get_many(tx.conn(), &ids(claimed))
        .await?
        .into_iter()
        .filter(|t| claimed.contains(t))
        .collect();
    if still_due.is_empty() {
        return Ok(Written::Replanned);
    }
    // Decided now, under the lock, after the write that made the snapshot stale.
    let fired = fire_batch(tx, &still_due, state.now()).await;
    settle(state, &still_due, fired, started).await?;
    Ok(Written::Replanned)
}

/// Whether a plan made from a snapshot still holds after `written` (since the snapshot).
fn still_holds(written: WrittenSince, claimed: &[Timer]) -> bool {
    match written {
        WrittenSince::Nothing => true,
        WrittenSince::Tickets(tickets) => claimed.iter().all(|t| !tickets.contains(&t.ticket_id)),
        WrittenSince::Anything => false,
    }
}

fn ids(timers: &[Timer]) -> Vec<String> {
    timers.iter().map(|t| t.id.clone()).collect()
}

async fn fire_alone(state: &AppState, t: &Timer) -> Result<(), StorageError> {
    let mut tx = state.db.write().await?;
    // Claimed again: another server may have fired it since our batch rolled back.
    let Some(t) = timers::claim_one(tx.conn(), state.db.backend(), t).await? else {
        return Ok(());
    };
    match fire_batch(tx, std::slice::from_ref(&t), state.now()).await {
        Ok((tx, outcomes)) => {
            tx.commit().await?;
            count(state, &outcomes);
            Ok(())
        }
        Err(e) => set_aside(state, &t, e).await,
    }
}

/// Puts a timer that failed to fire back with a delay, counting the attempt.
async fn set_aside(
    state: &AppState,
    t: &Timer,
    e: crate::flows::FlowError,
) -> Result<(), StorageError> {
    let retry = state.now() + backoff(t);
    tracing::error!(timer = %t.id, kind = %t.kind, attempts = t.attempts + 1, error = ?e,
        retry_at = %retry, "a timer failed to fire");
    let mut tx = state.db.write().await?;
    timers::retry_later(tx.conn(), t, retry).await?;
    tx.commit().await
}

fn count(state: &AppState, done: &[&'static str]) {
    for kind in done {
        state.metrics.timers_fired.inc();
        state.metrics.event(kind);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_takes_the_workers_asked_for_and_sqlite_keeps_two() {
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
        assert_eq!(
            EngineConfig::with_workers(Backend::Sqlite, None).workers,
            SQLITE_WORKERS
        );
        assert_eq!(
            EngineConfig::with_workers(Backend::Sqlite, Some(4)).workers,
            SQLITE_WORKERS
        );
    }
}
