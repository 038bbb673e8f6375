//! Every route — each operation of the OpenAPI document and each web page — is called by a
//! test on SQLite and on PostgreSQL.
//!
//! How it is known: the harness gives every test server a route log (`harness::route_log`):
//! the server reports the route template axum matched (`MatchedPath`) of each request it
//! answers, and the harness writes `<database> <METHOD> <template>` to the file named by
//! `LADDER_ROUTE_LOG`. That is what the tests really sent, whatever client or helper they
//! used, rather than what their source seems to say.
//!
//! Why the check is a test of its own, run after the suite: the tests of one binary run in
//! parallel threads in any order (and the browser tests are another binary), so no test
//! inside the run can know that the others are done. `scripts/test` therefore sets
//! `LADDER_ROUTE_LOG` to a fresh file for the whole `cargo test --workspace`, then runs this
//! ignored test alone. Run any other way it fails instead of passing: without the variable,
//! with a log that is missing or empty, or with a route called on one database only.

use std::collections::BTreeSet;

/// The web pages' routes, read from the source of the router that serves them
/// (`web::router`): axum cannot list a router's routes, and a copied list would drift.
/// Every `.route(` there must read as a path and its methods, or this fails.
fn page_routes() -> Vec<(String, String)> {
    let source = include_str!("../../src/web/mod.rs");
    let mut out = Vec::new();
    for (i, chunk) in source.split(".route(").enumerate().skip(1) {
        // The arguments up to the parenthesis that closes `.route(`.
        let mut depth = 1;
        let end = chunk
            .char_indices()
            .find_map(|(at, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                (depth == 0).then_some(at)
            })
            .unwrap_or_else(|| panic!("route {i} of web/mod.rs does not close"));
        let args = &chunk[..end];
        let path = args
            .split('"')
            .nth(1)
            .unwrap_or_else(|| panic!("route {i} of web/mod.rs has no path: {args}"));
        let mut methods = 0;
        for method in ["get", "post", "put", "patch", "delete"] {
            let called = args.match_indices(&format!("{method}(")).any(|(at, _)| {
                at == 0 || !args[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_')
            });
            if called {
                out.push((method.to_uppercase(), path.to_owned()));
                methods += 1;
            }
        }
        assert!(
            methods > 0,
            "route {path} of web/mod.rs names no method: {args}"
        );
    }
    out
}

/// Every operation of the document the server serves.
fn api_routes() -> Vec<(String, String)> {
    let document = ladder_server::routes::document();
    let mut out = Vec::new();
    for (path, item) in document.paths.paths {
        for (method, op) in [
            ("GET", item.get.is_some()),
            ("POST", item.post.is_some()),
            ("PUT", item.put.is_some()),
            ("PATCH", item.patch.is_some()),
            ("DELETE", item.delete.is_some()),
        ] {
            if op {
                out.push((method.to_owned(), path.clone()));
            }
        }
    }
    out
}

#[test]
#[ignore = "reads the route log of a whole run: scripts/test runs it after the suite"]
fn every_route_is_called_on_both_databases() {
    let path = std::env::var("LADDER_ROUTE_LOG").expect(
        "LADDER_ROUTE_LOG names the route log of a whole test run: run ./scripts/test, \
         which sets it for the suite and then runs this",
    );
    let log = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no route log at {path}: {e}; did the suite run?"));
    let seen: BTreeSet<&str> = log.lines().collect();
    assert!(
        !seen.is_empty(),
        "the route log {path} is empty: did the suite run?"
    );

    let api = api_routes();
    let pages = page_routes();
    // Far fewer would mean the lists above were misread, not that there are fewer routes.
    assert!(api.len() >= 40, "only {} API operations read", api.len());
    assert!(pages.len() >= 20, "only {} web routes read", pages.len());

    let mut missing = Vec::new();
    for (method, route) in api.iter().chain(&pages) {
        for database in ["sqlite", "postgres"] {
            let line = format!("{database} {method} {route}");
            if !seen.contains(line.as_str()) {
                missing.push(line);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "no test calls these routes on these databases (add a test, through \
         `on_both_databases!`):\n{}",
        missing.join("\n")
    );
}
