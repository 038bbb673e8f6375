//! A JSON body extractor whose errors are problem documents naming the field at fault.

use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::transport::BodyTimedOut;

/// Like `axum::Json`, but a body that does not parse answers with the JSON path of the field
/// that failed (`target.kind`, `compensation.amount`) and serde's reason.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json") || v.contains("+json"));
        if !is_json {
            return Err(ApiError::Invalid {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                field: None,
                detail: "send the body as JSON with Content-Type: application/json".into(),
            });
        }
        let bytes =
            Bytes::from_request(req, state).await.map_err(|e| {
                match BodyTimedOut::in_chain(&e) {
                    Some(t) => ApiError::Invalid {
                        status: StatusCode::REQUEST_TIMEOUT,
                        field: None,
                        detail: t.to_string(),
                    },
                    None => ApiError::Invalid {
                        status: e.status(),
                        field: None,
                        detail: format!("could not read the body: {}", e.body_text()),
                    },
                }
            })?;
        parse(&bytes).map(Json)
    }
}

/// Parses a JSON document, reporting the failing field.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // One document and nothing after it but whitespace: `{…}xx` or two bodies back to back
    // are refused (serde_json's "trailing characters") rather than read as their first part.
    let mut document: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        let message = e.to_string();
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_owned();
        ApiError::Invalid {
            status: StatusCode::BAD_REQUEST,
            field: None,
            detail: format!("the body is not one JSON document: {message}"),
        }
    })?;
    whole_numbers_as_integers(&mut document);
    let nul = nul_at(&document, String::new());
    let value = serde_path_to_error::deserialize(document).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        // serde reports a missing field at its parent's path; name the field itself.
        let field = match message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next())
        {
            Some(missing) if path == "." => missing.to_owned(),
            Some(missing) => format!("{path}.{missing}"),
            None if path == "." => String::new(),
            None => path,
        };
        let detail = if field.is_empty() {
            format!("the body does not fit: {message}")
        } else {
            format!("{field}: {message}")
        };
        ApiError::Invalid {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            field: (!field.is_empty()).then_some(field),
            detail,
        }
    })?;
    // No field of any request may hold a NUL: PostgreSQL refuses one in text (a 500 deep in
    // a query) where SQLite stores it. Text fields refuse every control character as they
    // parse; this catches the rest (ids, emails, slugs) at the edge too.
    match nul {
        None => Ok(value),
        Some(field) if field.is_empty() => Err(ApiError::Invalid {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail: "the body must not contain the control character U+0000".into(),
            field: None,
        }),
        Some(field) => Err(ApiError::Invalid {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail: format!("{field}: must not contain the control character U+0000"),
            field: Some(field),
        }),
    }
}

/// JSON has one kind of number, and JSON Schema counts `874.0` as the integer 874, as the
/// document's `integer` fields promise; serde would refuse it for a `u32`. So a number
/// written with a zero fraction, within the range of an `i64` or `u64`, is read as that
/// integer (a float field reads an integer just as well).
fn whole_numbers_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) => {
            let Some(f) = n.as_f64().filter(|_| n.is_f64()) else {
                return;
            };
            // 2^63 and 2^64 are exact in f64, so the comparisons are too.
            const I64_END: f64 = 9_223_372_036_854_775_808.0;
            const U64_END: f64 = 18_446_744_073_709_551_616.0;
            if f.fract() != 0.0 {
                return;
            }
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let whole = if (-I64_END..I64_END).contains(&f) {
                Value::from(f as i64)
            } else if (0.0..U64_END).contains(&f) {
                Value::from(f as u64)
            } else {
                return;
            };
            *value = whole;
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        Value::Object(map) => map.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

/// The path (`a.b[2]`) of the first string, or key, that holds a NUL.
fn nul_at(value: &serde_json::Value, path: String) -> Option<String> {
    let child = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        serde_json::Value::String(s) => s.contains('\0').then_some(path),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_at(item, format!("{path}[{i}]"))),
        serde_json::Value::Object(map) => map.iter().find_map(|(key, item)| {
            if key.contains('\0') {
                Some(child(&key.replace('\0', "\\u0000")))
            } else {
                nul_at(item, child(key))
            }
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::extract::FromRequest;
    use axum::http::Request;
    use axum::response::IntoResponse;
    use proptest::prelude::*;
    use serde::de::DeserializeOwned;
    use serde_json::Value;

    use super::Json;
    use crate::routes::{escalations, people, session, tickets};

    /// JSON documents shaped like the API's bodies: known field names, any values (NULs,
    /// control characters and huge numbers included), nested.
    fn documents() -> impl Strategy<Value = Value> {
        let key = prop::sample::select(vec![
            "subject",
            "description",
            "customer_id",
            "channel",
            "category",
            "priority",
            "tenant",
            "email",
            "password",
            "name",
            "role",
            "note",
            "target",
            "kind",
            "id",
            "urgency",
            "contact_method",
            "summary",
            "compensation",
            "amount",
            "body",
            "public",
            "members",
            "status",
            "assignee_id",
            "\u{0}",
        ]);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            any::<String>().prop_map(Value::from),
            prop::sample::select(vec![
                "email", "legal", "team", "owner", "agent", "refund", "urgent", "low"
            ])
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(key.clone().prop_map(str::to_owned), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Runs the extractor on `bytes` sent as `content_type`: a value, or a 4xx problem.
    fn extract<T: DeserializeOwned>(content_type: &str, bytes: &[u8]) -> Result<(), TestCaseError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let req = Request::builder()
            .method("POST")
            .header("content-type", content_type)
            .body(Body::from(bytes.to_vec()))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        if let Err(e) = runtime.block_on(Json::<T>::from_request(req, &())) {
            let res = e.into_response();
            prop_assert!(res.status().is_client_error(), "{}", res.status());
            prop_assert_eq!(&res.headers()["content-type"], "application/problem+json");
        }
        Ok(())
    }

    fn every_body(content_type: &str, bytes: &[u8]) -> Result<(), TestCaseError> {
        extract::<session::LoginRequest>(content_type, bytes)?;
        extract::<people::NewUserRequest>(content_type, bytes)?;
        extract::<people::NewTeamRequest>(content_type, bytes)?;
        extract::<people::NewCustomerRequest>(content_type, bytes)?;
        extract::<tickets::NewTicketRequest>(content_type, bytes)?;
        extract::<tickets::PatchTicketRequest>(content_type, bytes)?;
        extract::<tickets::NewCommentRequest>(content_type, bytes)?;
        extract::<escalations::EscalateRequest>(content_type, bytes)?;
        extract::<escalations::ResolveRequest>(content_type, bytes)?;
        extract::<ladder_core::Policy>(content_type, bytes)?;
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn any_bytes_are_a_value_or_a_client_error_problem(
            bytes in prop::collection::vec(any::<u8>(), 0..200),
            content_type in prop::sample::select(vec!["application/json", "application/problem+json", "text/plain", ""]),
        ) {
            every_body(content_type, &bytes)?;
        }

        #[test]
        fn any_document_is_a_value_or_a_client_error_problem(
            doc in documents(),
            tail in prop::sample::select(vec!["", " ", "\n", "x", "{}", "\u{0}"]),
        ) {
            let mut bytes = serde_json::to_vec(&doc).map_err(|e| TestCaseError::fail(e.to_string()))?;
            bytes.extend_from_slice(tail.as_bytes());
            every_body("application/json", &bytes)?;
        }
    }
}

#[cfg(test)]
mod whole_numbers {
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Days {
        days: u32,
        amount: i64,
        share: f64,
    }

    #[test]
    fn a_number_with_a_zero_fraction_is_an_integer_and_others_are_not() {
        let read: Days = super::parse(br#"{"days": 874.0, "amount": -5.0, "share": 2}"#)
            .expect("whole numbers read as integers");
        assert_eq!(
            read,
            Days {
                days: 874,
                amount: -5,
                share: 2.0
            }
        );
        assert!(super::parse::<Days>(br#"{"days": 1.5, "amount": 0, "share": 0}"#).is_err());
        assert!(super::parse::<Days>(br#"{"days": 1e30, "amount": 0, "share": 0}"#).is_err());
        assert!(super::parse::<Days>(br#"{"days": 1, "amount": 0, "share": 0} x"#).is_err());
    }
}
