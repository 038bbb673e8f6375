//! Browser tests: the pages in real headless Chromium, on SQLite and on PostgreSQL.
//!
//! They share the API tests' harness (the real server on a test clock, `on_both_databases!`)
//! and add `driver.rs`: one chromedriver per binary, one Chromium per person, and the checks
//! a person would make (labels, buttons, what the page says), axe-core included.

// The API tests' harness, shared as is; this binary uses only part of it.
#[path = "../api/harness.rs"]
#[allow(dead_code)]
mod harness;

// Helpers a page test may want; not every one is used by every test yet.
#[allow(dead_code)]
mod driver;

mod clinic;
mod cluster;
mod mailbox;
mod pages;
mod safety;
mod screens;
mod smoke;
