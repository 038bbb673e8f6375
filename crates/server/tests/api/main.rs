//! API tests against the real server, on SQLite and on PostgreSQL.

mod harness;

mod escalation;
mod foundation;
