//! The OpenAPI document, as the running server serves it: a valid OpenAPI 3.1 document whose
//! operations are exactly the routes the server answers, kept as a reviewed snapshot
//! (`snapshots/`; after a deliberate change to the API, review it with `cargo insta review`).
//!
//! Fetched from a running server rather than built in-process, so the test also shows that
//! `/api/v1/openapi.json` is served, and it can knock on every documented route of the real
//! router (axum cannot list its routes). Both databases serve the same document.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::harness::{Backend, TestApp};
use crate::on_both_databases;

on_both_databases!(document_is_valid_and_matches_the_router);

async fn document_is_valid_and_matches_the_router(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let res = app
        .client
        .get(format!("{}/api/v1/openapi.json", app.base))
        .send()
        .await
        .expect("fetch the document");
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.expect("document body");
    let raw: Value = serde_json::from_str(&text).expect("the document is JSON");
    let spec = oas3::from_json(&text).expect("the document parses as OpenAPI");
    spec.validate_version().expect("an OpenAPI 3.1 document");

    let operations: Vec<(String, Method, &oas3::spec::Operation)> = spec.operations().collect();
    assert!(!operations.is_empty());

    // Every operation has an operationId, and no two share one.
    let mut ids = BTreeMap::new();
    for (path, method, op) in &operations {
        let id = op
            .operation_id
            .clone()
            .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        if let Some(other) = ids.insert(id.clone(), format!("{method} {path}")) {
            panic!("operationId {id} is used by {other} and by {method} {path}");
        }
        assert!(!op.tags.is_empty(), "{method} {path} has no tag");
    }

    // Every `{name}` of a path is declared as a path parameter of each of its operations,
    // and every declared path parameter is in the path.
    let paths = spec.paths.as_ref().expect("paths");
    for (path, method, op) in &operations {
        let in_path: BTreeSet<String> = path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .map(str::to_owned)
            .collect();
        let item = &paths[path];
        let declared: BTreeSet<String> = item
            .parameters
            .iter()
            .chain(&op.parameters)
            .map(|p| p.resolve(&spec).expect("parameter resolves"))
            .filter(|p| p.location == oas3::spec::ParameterIn::Path)
            .map(|p| {
                assert_eq!(
                    p.required,
                    Some(true),
                    "{method} {path}: {} required",
                    p.name
                );
                p.name
            })
            .collect();
        assert_eq!(declared, in_path, "path parameters of {method} {path}");
    }

    // Every refusal an operation can meet is documented, as a problem document.
    for (path, item) in raw["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            let responses = op["responses"].as_object().expect("responses");
            let mut expected = vec!["400"];
            if op.get("security").is_some() {
                expected.extend(["401", "403"]);
            }
            if path.contains('{') {
                expected.push("404");
            }
            if op.get("requestBody").is_some() {
                expected.extend(["413", "415", "422"]);
            }
            if op["operationId"] == "login" {
                expected.push("429");
            }
            for status in expected {
                assert!(
                    responses.contains_key(status),
                    "{method} {path} does not document {status}"
                );
            }
            for (status, response) in responses {
                // `/readyz` answers its 503 in plain text, for load balancers.
                if path.starts_with("/api/v1")
                    && (status.starts_with('4') || status.starts_with('5'))
                {
                    let types: Vec<&String> = response["content"]
                        .as_object()
                        .map(|c| c.keys().collect())
                        .unwrap_or_default();
                    assert_eq!(
                        types,
                        ["application/problem+json"],
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }

    // Every `$ref` anywhere in the document points at something in it.
    let mut refs = Vec::new();
    collect_refs(&raw, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{r} is not local"));
        assert!(raw.pointer(pointer).is_some(), "{r} resolves to nothing");
    }

    // Every documented operation is served, and on a documented path no other method is.
    // Without a bearer token no handler gets as far as looking anything up, so a 404 can only
    // mean an unrouted path.
    let methods = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ];
    for (path, item) in paths {
        let url = format!("{}{}", app.base, path.replace("{id}", "no-such-id"));
        assert!(
            !url.contains('{'),
            "a test value for the parameters of {path}"
        );
        let documented: Vec<Method> = item.methods().into_iter().map(|(m, _)| m).collect();
        for method in &methods {
            let status = app
                .client
                .request(method.clone(), &url)
                .send()
                .await
                .expect("request")
                .status();
            if documented.contains(method) {
                assert!(
                    status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} is documented but answered {status}"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} is not documented but answered {status}"
                );
            }
        }
    }

    // Off the documented paths, /api/v1 answers its problem document for a 404.
    let res = app
        .client
        .get(format!("{}/api/v1/no-such-endpoint", app.base))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let body: Value = res.json().await.expect("problem document");
    assert_eq!(body["detail"], "no such endpoint under /api/v1");

    // The router has no route the document lacks: each handler annotated for the document is
    // in it (so each was registered through `routes!`, which adds both), and `routes/mod.rs`
    // registers nothing through axum alone.
    let routes_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/routes");
    let mut annotated = BTreeSet::new();
    for entry in std::fs::read_dir(routes_dir).expect("routes dir") {
        let file = entry.expect("dir entry").path();
        let source = std::fs::read_to_string(&file).expect("read route source");
        for attribute in source.split("#[utoipa::path(").skip(1) {
            let id = attribute
                .split_once("operation_id = \"")
                .and_then(|(_, rest)| rest.split_once('"'))
                .map(|(id, _)| id.to_owned())
                .unwrap_or_else(|| {
                    panic!("an operation in {} has no operation_id", file.display())
                });
            assert!(
                annotated.insert(id.clone()),
                "operation_id {id} is given twice"
            );
        }
        if file.ends_with("mod.rs") {
            for plain in [".route(", ".route_service(", ".nest_service(", ".merge("] {
                assert!(
                    !source.contains(plain),
                    "routes/mod.rs calls {plain}: routes go through routes! so they are documented"
                );
            }
        }
    }
    let documented: BTreeSet<String> = ids.into_keys().collect();
    assert_eq!(annotated, documented);

    insta::assert_json_snapshot!("openapi_document", raw);
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => collect_refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}
