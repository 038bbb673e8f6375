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

        // An id reads as the text it is stored as, so that it binds to a query and prints
        // without ceremony; building one from a string stays explicit.
        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        // Hashes and compares as its text, so maps keyed by id are looked up by `&str`.
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self == &other.0
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
    use std::collections::HashMap;

    #[test]
    fn ids_read_as_their_text_and_key_maps_looked_up_by_text() {
        let id = TicketId::from("t-1");
        let as_text: &str = &id;
        assert_eq!(as_text, "t-1");
        assert!(id == *"t-1");
        let mut open = HashMap::new();
        open.insert(id.clone(), 3);
        assert_eq!(open.get("t-1"), Some(&3));
        assert_eq!(open.get("t-2"), None);
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"t-1\"");
    }
}
