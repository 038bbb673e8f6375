//! The refusals every operation can meet, added to the document in one place rather than
//! written out on each handler: what an operation can be refused for follows from its shape
//! (a body, a path id, query parameters, a bearer token), so it is derived from that shape.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

/// Adds each problem+json response an operation can answer with and does not yet document.
pub fn document(openapi: &mut OpenApi) {
    for (path, item) in openapi.paths.paths.iter_mut() {
        let has_path_id = path.contains('{');
        for (op, writes) in [
            (&mut item.get, false),
            (&mut item.put, true),
            (&mut item.post, true),
            (&mut item.delete, true),
            (&mut item.patch, true),
        ] {
            let Some(op) = op else { continue };
            as_problems(op);
            no_nul_in_parameters(op);
            for (status, why) in refusals(op, has_path_id, writes) {
                add(op, status, why);
            }
        }
    }
}

fn refusals(op: &Operation, has_path_id: bool, writes: bool) -> Vec<(&'static str, &'static str)> {
    // Any URL can be malformed (a NUL in it, say).
    let mut out = vec![("400", "The request is malformed")];
    let signed_in = op.security.as_ref().is_some_and(|s| !s.is_empty());
    if signed_in {
        out.push((
            "401",
            "No bearer token, or one that is unknown, expired or revoked",
        ));
        out.push(("403", "The caller's role may not do this"));
    }
    // Every write runs in a transaction that can meet a unique name or email already taken,
    // or find that what it changes has moved on (the flows' `Conflict`).
    if signed_in && writes {
        out.push((
            "409",
            "It conflicts with the current state: a name or email already taken, or a \
             ticket, escalation or approval no longer in the state it needs",
        ));
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

/// A NUL (`%00`) anywhere in the URL is refused (`refuse_nul_in_uri`): every free-form
/// text parameter of the path or query says so with a pattern.
fn no_nul_in_parameters(op: &mut Operation) {
    use utoipa::openapi::schema::{Schema, SchemaType, Type};
    for p in op.parameters.iter_mut().flatten() {
        if !matches!(p.parameter_in, ParameterIn::Path | ParameterIn::Query) {
            continue;
        }
        let Some(RefOr::T(Schema::Object(o))) = p.schema.as_mut() else {
            continue;
        };
        let text = match &o.schema_type {
            SchemaType::Type(t) => *t == Type::String,
            SchemaType::Array(ts) => ts.contains(&Type::String),
            SchemaType::AnyValue => false,
        };
        if text && o.pattern.is_none() && o.enum_values.is_none() {
            o.pattern = Some(r"^[^\u0000]*$".to_owned());
        }
    }
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
