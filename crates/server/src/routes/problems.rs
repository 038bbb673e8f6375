//! The refusals every operation can meet, added to the document in one place rather than
//! written out on each handler: what an operation can be refused for follows from its shape
//! (a body, a path id, query parameters, a bearer token), so it is derived from that shape.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

/// Adds each problem+json response an operation can answer with and does not yet document.
pub fn document(openapi: &mut OpenApi) {
    for (path, item) in openapi.paths.paths.iter_mut() {
        let has_path_id = path.contains('{');
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            as_problems(op);
            for (status, why) in refusals(op, has_path_id) {
                add(op, status, why);
            }
        }
    }
}

fn refusals(op: &Operation, has_path_id: bool) -> Vec<(&'static str, &'static str)> {
    // Any URL can be malformed (a NUL in it, say).
    let mut out = vec![("400", "The request is malformed")];
    if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
        out.push((
            "401",
            "No bearer token, or one that is unknown, expired or revoked",
        ));
        out.push(("403", "The caller's role may not do this"));
    }
    if has_path_id {
        out.push(("404", "No such resource in the caller's organisation"));
    }
    let has_query = op
        .parameters
        .as_ref()
        .is_some_and(|ps| ps.iter().any(|p| p.parameter_in == ParameterIn::Query));
    if op.request_body.is_some() {
        out.push(("408", "The body did not arrive in time"));
        out.push(("413", "The body is larger than the server accepts"));
        out.push(("415", "The body is not sent as JSON"));
    }
    if op.request_body.is_some() || has_query {
        out.push(("422", "A field is invalid; `field` names it"));
    }
    out
}

/// A handler's own error responses (`body = Problem`) are documented as `application/json`
/// by default; every error is sent as `application/problem+json`.
fn as_problems(op: &mut Operation) {
    for (status, response) in op.responses.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        if !(status.starts_with('4') || status.starts_with('5')) {
            continue;
        }
        if let Some(content) = response.content.shift_remove("application/json") {
            response
                .content
                .insert("application/problem+json".to_owned(), content);
        }
    }
}

fn add(op: &mut Operation, status: &str, description: &str) {
    op.responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/problem+json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("Problem")))
                            .build(),
                    )
                    .build(),
            )
        });
}
