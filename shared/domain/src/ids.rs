//! Identifiers. Each is a newtype with a `parse` constructor, so an id that reached
//! the domain has already been checked, and ids of different things cannot be mixed.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{value}` is not a valid {kind} id")]
pub struct InvalidId {
    pub kind: &'static str,
    pub value: String,
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id (UUIDv7), so ids sort by creation.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn parse(value: &str) -> Result<Self, InvalidId> {
                Uuid::try_parse(value)
                    .map(Self)
                    .map_err(|_| InvalidId { kind: $kind, value: value.chars().take(64).collect() })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.as_hyphenated().fmt(f)
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.to_string()
            }
        }
    };
}

uuid_id!(
    /// A tenant. Every item Tern stores belongs to exactly one, except the few global
    /// records named in the adapter's `global` module.
    WorkspaceId,
    "workspace"
);

impl WorkspaceId {
    /// The platform's own scope (the audit anchor's key): the nil id, which
    /// `generate` never returns, so it is no workspace's.
    pub const PLATFORM: Self = Self(Uuid::nil());
}
uuid_id!(
    /// One job or request, carried through logs so a request can be followed across functions.
    RequestId,
    "request"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_prints() {
        let id = WorkspaceId::generate();
        assert_eq!(WorkspaceId::parse(&id.to_string()), Ok(id));
    }

    #[test]
    fn refuses_garbage_without_echoing_all_of_it() {
        let long = "x".repeat(10_000);
        let err = WorkspaceId::parse(&long).unwrap_err();
        assert_eq!(err.kind, "workspace");
        assert_eq!(err.value.len(), 64);
    }

    #[test]
    fn json_round_trip_checks_the_id() {
        let id = WorkspaceId::generate();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<WorkspaceId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<WorkspaceId>("\"not-a-uuid\"").is_err());
    }
}
