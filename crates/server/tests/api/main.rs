//! API tests against the real server, on SQLite and on PostgreSQL.

// `assert_eq!(ids(..), [id.clone()])` reads like the expected queue; slice::from_ref would not.
#![allow(clippy::cloned_ref_to_slice_refs)]

mod harness;

mod agree;
mod attachments;
mod backup;
mod cluster;
mod corrupt;
mod engine;
mod escalation;
mod foundation;
mod hardening;
mod history;
mod imap;
mod import;
mod inbound;
mod limits;
mod metrics;
mod notify;
mod notify_cluster;
mod openapi;
mod routes_covered;
mod search;
mod secrets;
mod sla;
mod stream;
mod triggers;
mod unsafe_code;
mod web;
mod writes;
