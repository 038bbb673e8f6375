//! Ladder's storage: schema, migrations and queries for SQLite and PostgreSQL through one code
//! path. Every function that reads or writes tenant data takes the tenant id and filters by
//! it; a row of another tenant is indistinguishable from a missing row.

#![forbid(unsafe_code)]

pub mod audit;
pub mod db;
pub mod deliveries;
pub mod directory;
pub mod escalations;
pub mod feed;
pub mod import;
pub mod inbound;
pub mod incidents;
pub mod lane;
pub mod lookup;
pub mod metrics;
pub mod outbox;
pub mod policies;
pub mod queues;
mod row;
pub mod search;
mod sql;
pub mod tickets;
pub mod timers;

pub use db::{Backend, Db, ServerLock, WriteTx};
pub use row::{from_micros, micros, new_id, new_id_at};

/// What went wrong in storage, in storage's words.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("configuration: {0}")]
    Config(String),
    /// The write was not committed (SQLite: the commit it shared with other writes failed or
    /// was abandoned).
    #[error("the write was not committed: {0}")]
    NotCommitted(String),
    /// A stored value that the code cannot read back: a bug or a hand-edited row.
    #[error("corrupt row in {table}: {detail}")]
    Corrupt { table: &'static str, detail: String },
    /// A uniqueness rule of the schema refused the write.
    #[error("already exists: {0}")]
    Conflict(String),
}

impl StorageError {
    /// Maps a unique-constraint violation to [`StorageError::Conflict`] with `what` as its
    /// subject, leaving other errors as they are.
    pub fn conflict_on_unique(e: sqlx::Error, what: &str) -> StorageError {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StorageError::Conflict(what.to_owned())
            }
            _ => StorageError::Database(e),
        }
    }
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;
