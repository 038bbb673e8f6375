//! Every error a request can meet, mapped once to an `application/problem+json` document
//! (RFC 9457) that names the offending field and says what would work. Flows report in the
//! domain's words ([`FlowError`]); this file is the one place that turns those into statuses.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use ladder_core::escalation::EscalationError;
use ladder_storage::StorageError;
use serde::Serialize;

use crate::flows::FlowError;

/// The body of an error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// What went wrong, for a person.
    pub detail: String,
    /// The request field at fault, as a JSON path (`target.kind`, `compensation.amount`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every problem found, when there were several (a policy is checked as a whole).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

/// One of several problems in a request.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct FieldProblem {
    pub field: String,
    pub detail: String,
}

#[derive(Debug)]
pub enum ApiError {
    /// The request is malformed or a field is invalid.
    Invalid {
        status: StatusCode,
        field: Option<String>,
        detail: String,
    },
    /// Several fields are invalid; all are reported at once.
    InvalidFields(Vec<FieldProblem>),
    Unauthorized(String),
    Forbidden(String),
    /// Missing, or belonging to another tenant: the two are indistinguishable on purpose.
    NotFound(String),
    Conflict(String),
    /// The caller holds too many of something at once (open live streams).
    TooManyRequests(String),
    Internal(anyhow::Error),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn field(field: impl Into<String>, detail: impl Into<String>) -> ApiError {
        ApiError::Invalid {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            field: Some(field.into()),
            detail: detail.into(),
        }
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::NotFound(format!("no {what} with this id"))
    }

    /// The table of the corrupt row behind this error, if that is what it is.
    pub fn corrupt_table(&self) -> Option<&'static str> {
        match self {
            ApiError::Internal(e) => e.chain().find_map(|cause| match cause.downcast_ref() {
                Some(StorageError::Corrupt { table, .. }) => Some(*table),
                _ => None,
            }),
            _ => None,
        }
    }
}

impl From<FlowError> for ApiError {
    fn from(e: FlowError) -> Self {
        match e {
            FlowError::NotFound(what) => ApiError::not_found(what),
            FlowError::Forbidden(m) => ApiError::Forbidden(m),
            FlowError::Conflict(m) => ApiError::Conflict(m),
            FlowError::Invalid { field, detail } => ApiError::field(field, detail),
            FlowError::InvalidFields(list) => ApiError::InvalidFields(
                list.into_iter()
                    .map(|e| FieldProblem {
                        field: e.field,
                        detail: e.detail,
                    })
                    .collect(),
            ),
            FlowError::Storage(e) => ApiError::Internal(e.into()),
            FlowError::Internal(e) => ApiError::Internal(e),
        }
    }
}

/// Set on a response that failed on a corrupt row, for the metrics layer to count it.
#[derive(Clone, Copy, Debug)]
pub struct CorruptRow(pub &'static str);

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        FlowError::from(e).into()
    }
}

impl From<EscalationError> for ApiError {
    fn from(e: EscalationError) -> Self {
        FlowError::from(e).into()
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::Internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let corrupt = self.corrupt_table();
        let mut errors = Vec::new();
        let (status, kind, title, detail, field) = match self {
            ApiError::InvalidFields(list) => {
                let detail = list
                    .iter()
                    .map(|p| p.detail.as_str())
                    .collect::<Vec<_>>()
                    .join("; ");
                let field = list.first().map(|p| p.field.clone());
                errors = list;
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid-request",
                    "Invalid request",
                    detail,
                    field,
                )
            }
            ApiError::Invalid {
                status,
                field,
                detail,
            } => (status, "invalid-request", "Invalid request", detail, field),
            ApiError::Unauthorized(d) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Not signed in",
                d,
                None,
            ),
            ApiError::Forbidden(d) => (StatusCode::FORBIDDEN, "forbidden", "Not allowed", d, None),
            ApiError::NotFound(d) => (StatusCode::NOT_FOUND, "not-found", "Not found", d, None),
            ApiError::Conflict(d) => (StatusCode::CONFLICT, "conflict", "Conflict", d, None),
            ApiError::TooManyRequests(d) => (
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-requests",
                "Too many requests",
                d,
                None,
            ),
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                    "something went wrong on our side; it has been logged".to_owned(),
                    None,
                )
            }
        };
        let problem = Problem {
            kind: format!("https://ladder.invalid/problems/{kind}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            field,
            errors,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response();
        if let Some(table) = corrupt {
            response.extensions_mut().insert(CorruptRow(table));
        }
        response
    }
}
