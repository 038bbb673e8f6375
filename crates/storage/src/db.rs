//! The connection pool, migrations and transactions, for SQLite and PostgreSQL alike.
//!
//! Both databases are reached through `sqlx::Any` with one SQL text per query: placeholders
//! are `$1, $2…` (which SQLite also understands), and the schema uses only portable types.
//! The few places where the dialects must differ ask [`Db::backend`].

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};
use tokio::sync::{watch, Mutex, OwnedMutexGuard};

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
    /// for the file lock and surfacing "database is locked" to a request.
    write_gate: Option<Arc<Mutex<()>>>,
    /// The SQLite database file (none in memory or on PostgreSQL).
    file: Option<Arc<std::path::PathBuf>>,
    /// Counts this process's committed write transactions, for whoever waits on new ones
    /// (the live stream on SQLite, where no other server writes).
    commits: Arc<watch::Sender<u64>>,
    /// The PostgreSQL URL, for a connection of its own that listens for notifications.
    listen_url: Option<Arc<String>>,
}

/// Held by the one server on a SQLite database for as long as it runs: see
/// [`Db::lock_sole_server`]. Dropping it releases the lock.
pub struct ServerLock {
    _file: Option<std::fs::File>,
}

/// A write transaction. Dropping it without [`WriteTx::commit`] rolls back.
pub struct WriteTx {
    pub tx: sqlx::Transaction<'static, sqlx::Any>,
    _gate: Option<OwnedMutexGuard<()>>,
    commits: Arc<watch::Sender<u64>>,
}

impl WriteTx {
    pub async fn commit(self) -> Result<(), StorageError> {
        self.tx.commit().await.map_err(StorageError::from)?;
        self.commits.send_modify(|n| *n = n.wrapping_add(1));
        Ok(())
    }

    /// Rolls back now, before the write gate opens. (Dropped, a transaction is rolled back
    /// only when its connection is next used.)
    pub async fn rollback(self) -> Result<(), StorageError> {
        self.tx.rollback().await.map_err(StorageError::from)
    }

    pub fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }
}

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
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the writer; FULL sync makes every
                        // acknowledged commit survive a crash or power loss. A 32 MiB page
                        // cache (the default is 2 MiB) keeps a large write transaction, such
                        // as a batch of timers, from spilling pages to the log mid-way.
                        // Statement journals (the undo copy a multi-row statement keeps in
                        // case it fails half way) stay in memory instead of a temp file.
                        // The log is copied into the database by `checkpoint`, which the
                        // server runs in the background so that committing writers don't;
                        // the automatic checkpoint only steps in if the log passes 64 MiB.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                             PRAGMA cache_size = -32768; PRAGMA temp_store = MEMORY; \
                             PRAGMA wal_autocheckpoint = 16384;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let write_gate = (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(())));
        Ok(Db {
            pool,
            backend,
            write_gate,
            file: file.map(Arc::new),
            commits: Arc::new(watch::Sender::new(0)),
            listen_url,
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
                .any(|m| m.version == v)
        };
        if let Some((unknown,)) = applied.into_iter().find(|(v,)| !known(*v)) {
            return Err(sqlx::migrate::MigrateError::VersionMissing(unknown).into());
        }
        if self.backend == Backend::Postgres {
            POSTGRES_MIGRATOR.run(&self.pool).await?;
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

    /// The pool, for reads. Writes go through [`Db::write`].
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    async fn gate(&self) -> Option<OwnedMutexGuard<()>> {
        match &self.write_gate {
            Some(gate) => Some(gate.clone().lock_owned().await),
            None => None,
        }
    }

    /// Starts a write transaction. On SQLite it waits its turn behind other writers and
    /// takes the write lock at once (`BEGIN IMMEDIATE`), so it can never fail half-way on a
    /// lock upgrade.
    pub async fn write(&self) -> Result<WriteTx, StorageError> {
        let gate = self.gate().await;
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(WriteTx {
            tx,
            _gate: gate,
            commits: self.commits.clone(),
        })
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
