//! A JSON body extractor whose errors are problem documents naming the field at fault.

use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

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
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::Invalid {
                status: e.status(),
                field: None,
                detail: format!("could not read the body: {}", e.body_text()),
            })?;
        parse(&bytes).map(Json)
    }
}

/// Parses a JSON document, reporting the failing field.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_owned();
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
        let status = if inner.is_syntax() || inner.is_eof() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        let detail = if field.is_empty() {
            format!("the body is not valid JSON: {message}")
        } else {
            format!("{field}: {message}")
        };
        ApiError::Invalid {
            status,
            field: (!field.is_empty()).then_some(field),
            detail,
        }
    })?;
    // One document and nothing after it but whitespace: `{…}xx` or two bodies back to back
    // are refused rather than read as their first part.
    de.end().map_err(|e| ApiError::Invalid {
        status: StatusCode::BAD_REQUEST,
        field: None,
        detail: format!("the body is not one JSON document: {e}"),
    })?;
    Ok(value)
}
