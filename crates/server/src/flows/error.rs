//! Why a command was refused or failed, in the domain's words. Flows return these whoever
//! called them (a request, a timer worker, the CLI); the HTTP mapping lives in `error.rs`.

use ladder_core::escalation::EscalationError;
use ladder_storage::StorageError;

/// One of several problems found in a command (a policy is checked as a whole).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Where the problem is, as a JSON path (`rules[2].chain[0].timeout`).
    pub field: String,
    pub detail: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// Missing, or belonging to another tenant: the two are indistinguishable on purpose.
    #[error("no {0} with this id")]
    NotFound(&'static str),
    /// This actor may not do it.
    #[error("{0}")]
    Forbidden(String),
    /// The current state forbids it, or someone else changed it first.
    #[error("{0}")]
    Conflict(String),
    /// A field of the command is wrong, named by its JSON path.
    #[error("{field}: {detail}")]
    Invalid { field: String, detail: String },
    /// Several fields are wrong; all are reported at once.
    #[error("{}", list(.0))]
    InvalidFields(Vec<FieldError>),
    #[error("storage: {0}")]
    Storage(StorageError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type FlowResult<T> = Result<T, FlowError>;

fn list(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.detail))
        .collect::<Vec<_>>()
        .join("; ")
}

impl FlowError {
    /// A wrong field of the command.
    pub fn field(field: impl Into<String>, detail: impl Into<String>) -> FlowError {
        FlowError::Invalid {
            field: field.into(),
            detail: detail.into(),
        }
    }

    /// The table of the corrupt row behind this error, if that is what it is.
    pub fn corrupt_table(&self) -> Option<&'static str> {
        match self {
            FlowError::Storage(StorageError::Corrupt { table, .. }) => Some(table),
            FlowError::Internal(e) => e.chain().find_map(|cause| match cause.downcast_ref() {
                Some(StorageError::Corrupt { table, .. }) => Some(*table),
                _ => None,
            }),
            _ => None,
        }
    }

    /// Something that cannot happen unless the code or the data is wrong.
    pub fn internal(context: impl std::fmt::Display) -> FlowError {
        FlowError::Internal(anyhow::anyhow!("{context}"))
    }
}

impl From<StorageError> for FlowError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Conflict(what) => FlowError::Conflict(format!("{what} already exists")),
            other => FlowError::Storage(other),
        }
    }
}

impl From<EscalationError> for FlowError {
    fn from(e: EscalationError) -> Self {
        match e {
            EscalationError::Invalid { field, message } => FlowError::field(field, message),
            EscalationError::Conflict(m) => FlowError::Conflict(m),
            EscalationError::Forbidden(m) => FlowError::Forbidden(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_as_sentences_for_the_command_line() {
        assert_eq!(
            FlowError::NotFound("ticket").to_string(),
            "no ticket with this id"
        );
        assert_eq!(
            FlowError::field("compensation.amount", "must not be negative").to_string(),
            "compensation.amount: must not be negative"
        );
        let several = FlowError::InvalidFields(vec![
            FieldError {
                field: "a".into(),
                detail: "x".into(),
            },
            FieldError {
                field: "b".into(),
                detail: "y".into(),
            },
        ]);
        assert_eq!(several.to_string(), "a: x; b: y");
        assert_eq!(
            FlowError::from(StorageError::Conflict("a user with this email".into())).to_string(),
            "a user with this email already exists"
        );
    }
}
