//! Opaque identifiers. Each kind of object has its own type so that a ticket id can never be
//! passed where a user id is expected.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String)]
        pub struct $name(pub String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }

    )*};
}

id_type!(
    /// An organisation: one clinic, one field-service company.
    TenantId,
    UserId,
    TeamId,
    CustomerId,
    TicketId,
    CommentId,
    EscalationId,
    EventId,
    ApprovalId,
);

#[cfg(test)]
mod tests {
    use super::*;

    /// An id is its text on the wire and in storage, and is only ever compared with an id of
    /// its own kind (comparing a `TicketId` with a `&str` or a `UserId` does not compile).
    #[test]
    fn ids_serialise_as_their_text_and_compare_by_kind() {
        let id = TicketId::from("t-1");
        assert_eq!(id.as_str(), "t-1");
        assert_eq!(id.to_string(), "t-1");
        assert_eq!(id, TicketId("t-1".to_owned()));
        assert_ne!(id, TicketId::from("t-2"));
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"t-1\"");
        let back: TicketId = serde_json::from_str("\"t-1\"").unwrap();
        assert_eq!(back, id);
    }
}
