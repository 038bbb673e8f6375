//! The connection pool, migrations and transactions, for SQLite and PostgreSQL alike.
//!
//! Both databases are reached through `sqlx::Any` with one SQL text per query: placeholders
//! are `$1, $2…` (which SQLite also understands), and the schema uses only portable types.
//! The few places where the dialects must differ ask [`Db::backend`].

use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use ladder_core::EventId;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, ConnectOptions, Connection, Executor};
use tokio::sync::{oneshot, watch, Mutex, OwnedMutexGuard};

use crate::audit::{NewEvent, PlannedEvent};
use crate::lane::Lane;
use crate::row::new_id;
use crate::StorageError;

/// Which database is behind the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The database a connection talks to.
    pub fn of(conn: &sqlx::AnyConnection) -> Backend {
        match conn.backend_name() {
            "SQLite" => Backend::Sqlite,
            _ => Backend::Postgres,
        }
    }
}

/// A handle on the database, cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// SQLite allows one writer at a time. Writers queue here, in order, instead of racing
    /// for the file lock and surfacing "database is locked" to a request, and those that
    /// queue together share a commit (see [`Gate`]).
    write_gate: Option<Writer>,
    /// The SQLite database file (none in memory or on PostgreSQL).
    file: Option<Arc<std::path::PathBuf>>,
    /// Counts this process's committed write transactions, for whoever waits on new ones
    /// (the live stream on SQLite, where no other server writes).
    commits: Arc<watch::Sender<u64>>,
    /// The PostgreSQL URL, for a connection of its own that listens for notifications.
    listen_url: Option<Arc<String>>,
    /// Where SQLite's writes run best (see [`Lane`]); none on PostgreSQL.
    lane: Option<Lane>,
}

/// Held by the one server on a SQLite database for as long as it runs: see
/// [`Db::lock_sole_server`]. Dropping it releases the lock.
pub struct ServerLock {
    _file: Option<std::fs::File>,
}

/// A write transaction. Dropping it without [`WriteTx::commit`] rolls back (on SQLite, only
/// this write's part of the group it belongs to).
///
/// Its audit events wait here and join their tenants' chains at commit, in the order they
/// were recorded ([`WriteTx::record`]). Appending locks the tenant's chain head until the
/// transaction ends, and on PostgreSQL every write of a tenant queues on that lock; taken
/// just before the commit, it is held for the three statements of the append and the commit
/// alone, not for the rest of the write. Nothing inside a write reads back the events it
/// recorded (the escalation rollup's reopen times are brought up to date by the append).
pub struct WriteTx {
    inner: Inner,
    audit: Vec<PlannedEvent>,
}

enum Inner {
    Postgres {
        tx: sqlx::Transaction<'static, sqlx::Any>,
        commits: Arc<watch::Sender<u64>>,
    },
    Sqlite(Member),
}

impl WriteTx {
    /// Records an audit event of this transaction: it is appended to its tenant's chain at
    /// commit, with the others, in order. Its id is known now, for what refers to it.
    pub fn record(&mut self, ev: NewEvent<'_>, now: Timestamp) -> EventId {
        let id = EventId(new_id());
        self.audit.push(PlannedEvent {
            id: id.clone(),
            tenant_id: ev.tenant_id.clone(),
            ticket_id: ev.ticket_id.cloned(),
            actor_id: ev.actor_id.cloned(),
            kind: ev.kind,
            payload: ev.payload.to_string(),
            occurred_at: now,
        });
        id
    }

    /// Records events planned with their ids, after those recorded before.
    pub fn record_many(&mut self, events: impl IntoIterator<Item = PlannedEvent>) {
        self.audit.extend(events);
    }

    /// Appends the events recorded so far to their chains now, rather than at commit (which
    /// appends those recorded after): for a caller that must see the append's own failure
    /// before it commits (the timer engine, which then retries timers one by one), or the
    /// start's warm-up, which prepares the append's statements and then rolls back.
    pub async fn append_recorded(&mut self) -> Result<(), StorageError> {
        let events = std::mem::take(&mut self.audit);
        crate::audit::append_many(self.conn(), &events).await
    }

    /// Commits, and returns once the write is durable. On SQLite the write may share its
    /// commit with the writes queued behind it: it returns when that commit is done.
    pub async fn commit(mut self) -> Result<(), StorageError> {
        self.append_recorded().await?;
        match self.inner {
            Inner::Postgres { tx, commits } => {
                tx.commit().await.map_err(StorageError::from)?;
                commits.send_modify(|n| *n = n.wrapping_add(1));
                Ok(())
            }
            Inner::Sqlite(member) => member.leave(true).await,
        }
    }

    /// Rolls back now, before the write gate opens. (Dropped, a transaction is rolled back
    /// only when its connection is next used.)
    pub async fn rollback(self) -> Result<(), StorageError> {
        match self.inner {
            Inner::Postgres { tx, .. } => tx.rollback().await.map_err(StorageError::from),
            Inner::Sqlite(member) => member.leave(false).await,
        }
    }

    pub fn conn(&mut self) -> &mut AnyConnection {
        match &mut self.inner {
            Inner::Postgres { tx, .. } => tx,
            Inner::Sqlite(member) => &mut member.gate.conn,
        }
    }
}

/// Runs `sql` on the writer's connection. (Boxed: the future sqlx returns is generic over
/// the executor's lifetime in a way that cannot be sent to a spawned task.)
fn exec<'c>(
    conn: &'c mut AnyConnection,
    sql: &'static str,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), sqlx::Error>> + Send + 'c>> {
    Box::pin(async move { conn.execute(sql).await.map(|_| ()) })
}

/// Savepoint of the write in progress inside the group's transaction.
const SAVEPOINT: &str = "SAVEPOINT ladder_write";
const ROLLBACK_TO: &str = "ROLLBACK TO ladder_write; RELEASE ladder_write";
/// A group's first write opens the transaction and its savepoint in one call: each call is
/// a round trip to SQLite's own thread, which costs more than the statement.
const BEGIN_WITH_SAVEPOINT: &str = "BEGIN IMMEDIATE; SAVEPOINT ladder_write";
/// The most writes one SQLite commit takes: each waits for the last of its group to write,
/// so a bound keeps the first one's wait short.
const MAX_GROUP: usize = 32;

/// A PostgreSQL write transaction plans each statement once per connection and reuses the
/// plan. Left to choose, PostgreSQL tries a generic plan after five custom ones on a
/// connection and keeps it only if it looks no costlier: for the escalation rollup and the
/// history triggers' counts it went on planning (628 plans for 628 rollups in the write
/// benchmark, 5.5 ms each for a statement that runs in 0.14 ms), and the pool, handing
/// requests round its connections, made even the five slow to come. A write's statements
/// reach rows through ids and keyed indexes, and at a million tickets their generic plans
/// ran as fast as the custom ones. Reads, whose best plan may depend on the values, still
/// choose (and settle on generic plans by themselves). Sent with `BEGIN`, in one round trip.
const PG_BEGIN_WRITE: &str = "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan";

/// SQLite's one writer, shared by the process: a connection of its own behind a mutex.
///
/// **Group commit.** Each write runs inside a savepoint of a transaction (`BEGIN IMMEDIATE`)
/// that may already be open. When a write is done and other writes are queued at the gate,
/// it hands the open transaction to the next one instead of committing, then waits; the
/// last of the group (nobody queued, or the group full) commits once (one `fsync` for all)
/// and tells each waiting member the outcome. A write that fails or is dropped rolls back
/// to its own savepoint, so the others' changes stay and commit. (A kept write leaves its
/// savepoint open rather than spend a call releasing it: the next write's savepoint nests
/// inside it, `ROLLBACK TO` goes back to the innermost savepoint of that name, which is
/// always the failing write's own, and `COMMIT` ends them all.) A member is answered only
/// after the commit that holds its write, so an acknowledged write is durable
/// (`synchronous=FULL`); if that commit fails, every member of the group is told.
struct Gate {
    conn: AnyConnection,
    /// A transaction is open on `conn`.
    open: bool,
    /// A write was dropped in the middle: its savepoint is still open and must be rolled
    /// back before anything else happens on `conn`.
    abandoned: bool,
    /// The members whose writes are in the open transaction, waiting for its commit.
    pending: Vec<oneshot::Sender<Result<(), String>>>,
}

/// The gate, with the count of writers waiting at it (tokio's mutex does not say).
#[derive(Clone)]
struct Writer {
    gate: Arc<Mutex<Gate>>,
    queued: Arc<AtomicUsize>,
    commits: Arc<watch::Sender<u64>>,
}

/// Counts a writer waiting at the gate; a writer that gives up waiting (its request was
/// cancelled) may have been the one a group was handed to, so it makes sure the group ends.
struct Queued {
    writer: Writer,
    admitted: bool,
}

impl Drop for Queued {
    fn drop(&mut self) {
        self.writer.queued.fetch_sub(1, Ordering::SeqCst);
        if !self.admitted {
            self.writer.settle_later();
        }
    }
}

impl Writer {
    async fn enter(&self) -> Result<Member, StorageError> {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let mut queued = Queued {
            writer: self.clone(),
            admitted: false,
        };
        let gate = self.gate.clone().lock_owned().await;
        queued.admitted = true;
        drop(queued);
        // From here on the gate is held: the rest runs in a task of its own, so that a
        // request cancelled meanwhile still leaves the transaction in a known state (and,
        // through the member's drop, ends the group it may have been handed).
        let member = Member {
            gate,
            writer: self.clone(),
            done: false,
        };
        tokio::spawn(member.begin())
            .await
            .map_err(|e| StorageError::NotCommitted(format!("the writer task failed: {e}")))?
    }

    /// Ends the open group, if any and if nobody is queued to carry it on: for a write that
    /// was dropped, or a writer that stopped waiting.
    fn settle_later(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let writer = self.clone();
        runtime.spawn(async move {
            let mut gate = writer.gate.clone().lock_owned().await;
            gate.tidy().await;
            if gate.open && writer.queued.load(Ordering::SeqCst) == 0 {
                // The members it commits are told the outcome; nobody else waits on it.
                let _ = gate.commit_group(&writer.commits).await;
            }
        });
    }
}

impl Gate {
    /// Rolls back the savepoint a dropped write left open. If even that fails, the
    /// transaction's state is unknown: it is rolled back whole and its members told.
    async fn tidy(&mut self) {
        if !self.abandoned {
            return;
        }
        self.abandoned = false;
        if let Err(e) = exec(&mut self.conn, ROLLBACK_TO).await {
            self.abort(&format!("rolling back a dropped write failed: {e}"))
                .await;
        }
    }

    /// Rolls the whole open transaction back and tells its members.
    async fn abort(&mut self, why: &str) {
        let _ = exec(&mut self.conn, "ROLLBACK").await;
        self.open = false;
        for member in self.pending.drain(..) {
            let _ = member.send(Err(why.to_owned()));
        }
    }

    /// Commits the open transaction (rolls it back when no write is in it) and tells each
    /// waiting member; the outcome of the commit.
    async fn commit_group(&mut self, commits: &watch::Sender<u64>) -> Result<(), String> {
        if !self.open {
            return Ok(());
        }
        if self.pending.is_empty() {
            self.abort("nothing to commit").await;
            return Ok(());
        }
        let outcome = match exec(&mut self.conn, "COMMIT").await {
            Ok(_) => Ok(()),
            Err(e) => {
                // A failed COMMIT may leave the transaction open: end it.
                let _ = exec(&mut self.conn, "ROLLBACK").await;
                Err(format!("the commit failed: {e}"))
            }
        };
        self.open = false;
        for member in self.pending.drain(..) {
            let _ = member.send(outcome.clone());
        }
        if outcome.is_ok() {
            commits.send_modify(|n| *n = n.wrapping_add(1));
        }
        outcome
    }
}

/// One write holding SQLite's gate.
struct Member {
    gate: OwnedMutexGuard<Gate>,
    writer: Writer,
    /// Ended by [`Member::leave`]; otherwise dropping it abandons the write.
    done: bool,
}

impl Drop for Member {
    fn drop(&mut self) {
        if !self.done {
            // Dropped mid-way (an error returned early, or the request cancelled): its
            // savepoint is rolled back by whoever takes the gate next, and the group it
            // leaves is ended unless someone queued carries it on.
            self.gate.abandoned = true;
            self.writer.settle_later();
        }
    }
}

impl Member {
    /// Opens the group's transaction unless it is open, and this write's savepoint in it.
    async fn begin(mut self) -> Result<Member, StorageError> {
        self.gate.tidy().await;
        if !self.gate.open {
            if let Err(e) = exec(&mut self.gate.conn, BEGIN_WITH_SAVEPOINT).await {
                // Either statement may have failed: end whatever began.
                let _ = exec(&mut self.gate.conn, "ROLLBACK").await;
                self.done = true;
                return Err(e.into());
            }
            self.gate.open = true;
            return Ok(self);
        }
        if let Err(e) = exec(&mut self.gate.conn, SAVEPOINT).await {
            self.done = true;
            if self.writer.queued.load(Ordering::SeqCst) == 0 {
                let _ = self.gate.commit_group(&self.writer.commits).await;
            }
            return Err(e.into());
        }
        Ok(self)
    }

    /// Ends this write: keeps it (`commit`) or rolls back to its savepoint, then hands the
    /// transaction on or commits the group. Runs in a task of its own, so that a request
    /// cancelled meanwhile cannot leave the group half-way (nor be told a committed write
    /// failed).
    async fn leave(self, commit: bool) -> Result<(), StorageError> {
        let outcome = tokio::spawn(self.leave_now(commit))
            .await
            .map_err(|e| StorageError::NotCommitted(format!("the writer task failed: {e}")))?;
        outcome.map_err(StorageError::NotCommitted)
    }

    async fn leave_now(mut self, commit: bool) -> Result<(), String> {
        self.done = true;
        if !commit {
            if let Err(e) = exec(&mut self.gate.conn, ROLLBACK_TO).await {
                self.gate
                    .abort(&format!("rolling back a write failed: {e}"))
                    .await;
            }
            if self.writer.queued.load(Ordering::SeqCst) == 0 {
                let _ = self.gate.commit_group(&self.writer.commits).await;
            }
            return Ok(());
        }
        if self.writer.queued.load(Ordering::SeqCst) > 0 && self.gate.pending.len() + 1 < MAX_GROUP
        {
            let (tx, rx) = oneshot::channel();
            self.gate.pending.push(tx);
            drop(self);
            return rx
                .await
                .unwrap_or_else(|_| Err("the group's commit was abandoned".into()));
        }
        let (tx, _rx) = oneshot::channel();
        self.gate.pending.push(tx);
        self.gate.commit_group(&self.writer.commits).await
    }
}

/// Every SQLite connection's settings. WAL lets readers run beside the writer; FULL sync makes
/// every acknowledged commit survive a crash or power loss. A 32 MiB page cache (the default
/// is 2 MiB) keeps a large write transaction, such as a batch of timers, from spilling pages
/// to the log mid-way. Statement journals (the undo copy a multi-row statement keeps in case
/// it fails half way) stay in memory instead of a temp file. The log is copied into the
/// database by `checkpoint`, which the server runs in the background so that committing
/// writers don't; the automatic checkpoint only steps in if the log passes 64 MiB. The
/// first GiB of the file is read through a memory map (reads only: writes still go through
/// the log): with a million tickets the index pages a write touches are mostly outside the
/// page cache, and reading them from the map instead of with a system call each made
/// creation about 1.3x as fast at that size, one at a time (`benches/writes.rs`). Readers
/// unmap and map again whenever the file changed, yet mapping on the writer's connection
/// alone made writes at a million tickets cost 1.1–1.5x the server's CPU (two interleaved
/// pairs of runs): the readers' own page reads cost more without it.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
     PRAGMA cache_size = -32768; PRAGMA temp_store = MEMORY; \
     PRAGMA wal_autocheckpoint = 16384; PRAGMA mmap_size = 1073741824;";

/// SQLite's reader connections (its one writer has a connection of its own).
const SQLITE_READERS: u32 = 8;

/// How long a PostgreSQL connection may wait in the pool before it is pinged on its way
/// out (see [`Db::connect`]).
pub const PING_AFTER_IDLE: Duration = Duration::from_secs(10);

/// The schema, one migration directory for both databases. Each migrator leaves alone the
/// versions the other applied (`ignore_missing`).
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate::Migrator {
    ignore_missing: true,
    ..sqlx::migrate!("./migrations")
};

/// What only PostgreSQL has (column collations), applied after the shared migrations.
/// Versions start at 100001 so that they never meet the shared ones; a shared migration that
/// adds id columns needs a PostgreSQL one after it to make them compare as bytes.
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate::Migrator {
    ignore_missing: true,
    ..sqlx::migrate!("./migrations-postgres")
};

/// What only SQLite has (FTS5 full-text tables and their triggers), applied after the shared
/// migrations. Versions start at 200001, apart from both others.
static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate::Migrator {
    ignore_missing: true,
    ..sqlx::migrate!("./migrations-sqlite")
};

/// `url` as it may be shown in a message or a log: its password, in the authority or as a
/// `password=` parameter, replaced by `***`. A URL that does not parse shows only its scheme,
/// since where a password would be in it cannot be told.
pub fn redacted_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return match url.split_once(':') {
            Some((scheme, _)) => format!("{scheme}:…"),
            None => "(a database URL that does not parse)".to_owned(),
        };
    };
    let in_query = parsed
        .query_pairs()
        .any(|(k, _)| k.eq_ignore_ascii_case("password"));
    if parsed.password().is_none() && !in_query {
        return url.to_owned();
    }
    if parsed.password().is_some() && parsed.set_password(Some("***")).is_err() {
        return format!("{}:…", parsed.scheme());
    }
    if in_query {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if k.eq_ignore_ascii_case("password") {
                    "***".to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

impl Db {
    /// Copies the whole database, consistently, to a new file at `to` while it is in use:
    /// SQLite's `VACUUM INTO` reads one snapshot, and writers go on beside it. PostgreSQL has
    /// its own tool for this, `pg_dump`, which this refuses in favour of.
    pub async fn backup_to(&self, to: &std::path::Path) -> Result<(), StorageError> {
        if self.backend == Backend::Postgres {
            return Err(StorageError::Config(
                "a PostgreSQL database is backed up with pg_dump (pg_dump --format=custom \
                 --file FILE DATABASE_URL), which takes a consistent copy while Ladder runs"
                    .into(),
            ));
        }
        if to.exists() {
            return Err(StorageError::Config(format!(
                "{} already exists: a backup is written to a new file",
                to.display()
            )));
        }
        let path = to
            .to_str()
            .ok_or_else(|| StorageError::Config(format!("{} is not a UTF-8 path", to.display())))?;
        sqlx::query("VACUUM INTO $1")
            .bind(path)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Opens the database at `url` (`sqlite://path` or `postgres://…`). For SQLite the file
    /// and its folder are created when missing.
    pub async fn connect(url: &str) -> Result<Db, StorageError> {
        Db::connect_pinging_after(url, PING_AFTER_IDLE).await
    }

    /// [`Db::connect`], with a PostgreSQL connection pinged before it is handed out once it
    /// has waited `idle` in the pool, instead of [`PING_AFTER_IDLE`]: for the tests of it.
    pub async fn connect_pinging_after(url: &str, idle: Duration) -> Result<Db, StorageError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StorageError::Config(format!(
                "unsupported database URL {:?}: use sqlite://PATH or postgres://…",
                redacted_url(url)
            )));
        };
        let (url, file) = match backend {
            Backend::Sqlite => prepare_sqlite_url(url)?,
            Backend::Postgres => (url.to_owned(), None),
        };
        let listen_url = (backend == Backend::Postgres).then(|| Arc::new(url.clone()));
        let options = AnyConnectOptions::from_str(&url)
            .map_err(|e| StorageError::Config(format!("bad database URL: {e}")))?
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
        let mut pool = AnyPoolOptions::new()
            .acquire_timeout(Duration::from_secs(30))
            // sqlx pings every connection it hands out unless told not to: a round trip to
            // PostgreSQL, a hop to the connection's thread on SQLite, before each read and
            // each PostgreSQL write. See `before_acquire` below for what is pinged instead.
            .test_before_acquire(false);
        pool = match backend {
            // SQLite's readers are all opened now, from this runtime, and kept: one opened
            // later by a request on the write lane would start its thread on the lane's CPU.
            Backend::Sqlite => pool
                .max_connections(SQLITE_READERS)
                .min_connections(SQLITE_READERS)
                .max_lifetime(None)
                .idle_timeout(None),
            // A PostgreSQL connection can be lost while it waits in the pool (a restarted or
            // failed-over server, a proxy's idle timeout): one idle for a while is pinged, and
            // replaced if that fails, so a request does not inherit the failure. One used a
            // moment ago almost never is; SQLite's are in this process and cannot be lost.
            Backend::Postgres => pool.max_connections(16).before_acquire(move |conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= idle {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            }),
        };
        let pool = pool
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute(SQLITE_PRAGMAS).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options.clone())
            .await?;
        let commits = Arc::new(watch::Sender::new(0));
        let lane = match backend {
            Backend::Sqlite => Some(Lane::start().await?),
            Backend::Postgres => None,
        };
        let write_gate = match &lane {
            Some(lane) => {
                // Opened on the lane, so that the connection's thread keeps to the lane's CPU.
                let options = options.clone();
                let conn = lane
                    .run(async move {
                        let mut conn = options.connect().await?;
                        conn.execute(SQLITE_PRAGMAS).await?;
                        Ok::<_, sqlx::Error>(conn)
                    })
                    .await??;
                Some(Writer {
                    gate: Arc::new(Mutex::new(Gate {
                        conn,
                        open: false,
                        abandoned: false,
                        pending: Vec::new(),
                    })),
                    queued: Arc::new(AtomicUsize::new(0)),
                    commits: commits.clone(),
                })
            }
            None => None,
        };
        Ok(Db {
            pool,
            backend,
            write_gate,
            file: file.map(Arc::new),
            commits,
            listen_url,
            lane,
        })
    }

    /// Applies every migration not yet applied.
    pub async fn migrate(&self) -> Result<(), StorageError> {
        let _gate = self.gate().await;
        MIGRATOR.run(&self.pool).await?;
        // The migrators skip each other's versions, so the check that sqlx makes for one of
        // them is made here over both: a version neither knows means a newer build migrated
        // this database, and this one must not run on it.
        let applied: Vec<(i64,)> = sqlx::query_as("SELECT version FROM _sqlx_migrations")
            .fetch_all(&self.pool)
            .await?;
        let known = |v: i64| {
            MIGRATOR
                .iter()
                .chain(POSTGRES_MIGRATOR.iter())
                .chain(SQLITE_MIGRATOR.iter())
                .any(|m| m.version == v)
        };
        if let Some((unknown,)) = applied.into_iter().find(|(v,)| !known(*v)) {
            return Err(sqlx::migrate::MigrateError::VersionMissing(unknown).into());
        }
        match self.backend {
            Backend::Postgres => POSTGRES_MIGRATOR.run(&self.pool).await?,
            Backend::Sqlite => SQLITE_MIGRATOR.run(&self.pool).await?,
        }
        drop(_gate);
        // Escalations from before the metrics' rollup (migration 0050) get their runs.
        let mut tx = self.write().await?;
        crate::metrics::backfill(tx.conn()).await?;
        tx.commit().await
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The thread SQLite's writes run best on (none on PostgreSQL, whose writes run anywhere):
    /// the server runs each request that may write there.
    pub fn lane(&self) -> Option<&Lane> {
        self.lane.as_ref()
    }

    /// The pool, for reads. Writes go through [`Db::write`].
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Holds SQLite's write gate with no group open (for migrations, which write through the
    /// pool).
    async fn gate(&self) -> Option<OwnedMutexGuard<Gate>> {
        let writer = self.write_gate.as_ref()?;
        let mut gate = writer.gate.clone().lock_owned().await;
        gate.tidy().await;
        let _ = gate.commit_group(&writer.commits).await;
        Some(gate)
    }

    /// Starts a write transaction. On SQLite it waits its turn behind other writers and
    /// takes the write lock at once (`BEGIN IMMEDIATE`), so it can never fail half-way on a
    /// lock upgrade; it may join the transaction of the writes before it (see [`Gate`]).
    pub async fn write(&self) -> Result<WriteTx, StorageError> {
        let inner = match &self.write_gate {
            Some(writer) => Inner::Sqlite(writer.enter().await?),
            None => Inner::Postgres {
                tx: self.pool.begin_with(PG_BEGIN_WRITE).await?,
                commits: self.commits.clone(),
            },
        };
        Ok(WriteTx {
            inner,
            audit: Vec::new(),
        })
    }

    /// How many writers wait at SQLite's write gate (always 0 on PostgreSQL, which has none):
    /// those that will share the next commit.
    pub fn writers_waiting(&self) -> usize {
        self.write_gate
            .as_ref()
            .map_or(0, |w| w.queued.load(Ordering::SeqCst))
    }

    /// Changes each time a write transaction of this process commits.
    pub fn commits(&self) -> watch::Receiver<u64> {
        self.commits.subscribe()
    }

    /// A connection of its own listening on the PostgreSQL notification `channel` (see
    /// [`crate::audit::NOTIFY_CHANNEL`]); an error on SQLite, which has none.
    pub async fn listen(&self, channel: &str) -> Result<sqlx::postgres::PgListener, StorageError> {
        let Some(url) = &self.listen_url else {
            return Err(StorageError::Config(
                "only PostgreSQL has notifications to listen to".into(),
            ));
        };
        let mut listener = sqlx::postgres::PgListener::connect(url).await?;
        listener.listen(channel).await?;
        Ok(listener)
    }

    /// Makes this process the only server on a SQLite database, until the returned lock is
    /// dropped: a second `ladder serve` on the same file is refused. A server's writers queue
    /// on its in-process write gate; two servers would instead race for SQLite's file lock
    /// and wait out each other's busy timeouts. Short-lived writers such as the command line
    /// may still write beside the server: their `BEGIN IMMEDIATE` waits for the server's
    /// transaction to end, and the server reads everything it writes inside its own write
    /// transactions, so it always sees theirs. (An advisory lock
    /// on a file beside the database, `<database>.lock`: SQLite's own locks are on the
    /// database file and are not held between transactions.) PostgreSQL servers share their
    /// database, so there it takes nothing.
    pub fn lock_sole_server(&self) -> Result<ServerLock, StorageError> {
        let Some(db_file) = &self.file else {
            return Ok(ServerLock { _file: None });
        };
        let path = format!("{}.lock", db_file.display());
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StorageError::Config(format!("cannot open {path}: {e}")))?;
        match file.try_lock() {
            Ok(()) => Ok(ServerLock { _file: Some(file) }),
            Err(std::fs::TryLockError::WouldBlock) => Err(StorageError::Config(format!(
                "another `ladder serve` is running on {}: a SQLite database has one server \
                 (several servers share a PostgreSQL database)",
                db_file.display()
            ))),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(StorageError::Config(format!("cannot lock {path}: {e}")))
            }
        }
    }

    /// Copies committed pages from SQLite's write-ahead log into the database file, as far
    /// as readers allow, without taking the write lock: writers go on meanwhile. Nothing to
    /// do on PostgreSQL.
    pub async fn checkpoint(&self) -> Result<(), StorageError> {
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// A pooled connection for a read that spans several queries.
    pub async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, StorageError> {
        Ok(self.pool.acquire().await?)
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StorageError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The URL sqlx opens, and the database file (none in memory).
fn prepare_sqlite_url(url: &str) -> Result<(String, Option<std::path::PathBuf>), StorageError> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path != ":memory:" {
        if let Some(dir) = std::path::Path::new(path).parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StorageError::Config(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
        }
    }
    let mut query = query.to_owned();
    if !query.contains("mode=") {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str("mode=rwc");
    }
    let file = (path != ":memory:" && !path.is_empty()).then(|| std::path::PathBuf::from(path));
    Ok((format!("sqlite://{path}?{query}"), file))
}

#[cfg(test)]
mod redaction {
    use super::redacted_url;

    #[test]
    fn a_password_never_shows() {
        for (url, shown) in [
            (
                "postgres://ladder:s3cret@db.internal:5432/ladder",
                "postgres://ladder:***@db.internal:5432/ladder",
            ),
            (
                "postgres://ladder@db/ladder?sslmode=require&password=s3cret",
                "postgres://ladder@db/ladder?sslmode=require&password=***",
            ),
            (
                "sqlite://ladder-data/ladder.db",
                "sqlite://ladder-data/ladder.db",
            ),
            ("postgres://ladder@db/ladder", "postgres://ladder@db/ladder"),
            ("postgres://a:s3cret@[::1", "postgres:…"),
        ] {
            assert_eq!(redacted_url(url), shown, "{url}");
        }
    }
}

/// The embedded SQLite is the one `.cargo/config.toml` builds: a test run of a build that
/// lost those flags (a dependency that stopped reading them, say) fails here rather than
/// only in a benchmark.
#[cfg(test)]
mod embedded_sqlite {
    use sqlx::Connection;

    #[tokio::test]
    async fn is_built_without_stat4_and_the_shared_page_cache() {
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect("sqlite::memory:")
            .await
            .expect("connect");
        for option in ["ENABLE_STAT4", "ENABLE_MEMORY_MANAGEMENT"] {
            let (used,): (i64,) = sqlx::query_as("SELECT sqlite_compileoption_used($1)")
                .bind(option)
                .fetch_one(&mut conn)
                .await
                .expect("compile option");
            assert_eq!(used, 0, "SQLite is built with {option}");
        }
        // The function does see options: the build has FTS5, which the search index uses.
        let (fts5,): (i64,) = sqlx::query_as("SELECT sqlite_compileoption_used('ENABLE_FTS5')")
            .fetch_one(&mut conn)
            .await
            .expect("compile option");
        assert_eq!(fts5, 1);
    }
}
