//! Who an escalation is addressed to.

use serde::{Deserialize, Serialize};

use crate::{Role, TargetKind, TeamId, UserId};

/// The addressee of an escalation: a person, a team, every holder of a role, the tenant's
/// owner, or the platform's support staff.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    Owner,
    User { id: UserId },
    Team { id: TeamId },
    Role { role: Role },
    Platform,
}

impl Target {
    pub fn kind(&self) -> TargetKind {
        match self {
            Target::Owner => TargetKind::Owner,
            Target::User { .. } => TargetKind::User,
            Target::Team { .. } => TargetKind::Team,
            Target::Role { .. } => TargetKind::Role,
            Target::Platform => TargetKind::Platform,
        }
    }

    /// The id stored beside the kind: a user or team id, or a role name.
    pub fn reference(&self) -> Option<String> {
        match self {
            Target::User { id } => Some(id.0.clone()),
            Target::Team { id } => Some(id.0.clone()),
            Target::Role { role } => Some(role.as_str().to_owned()),
            Target::Owner | Target::Platform => None,
        }
    }

    /// Rebuilds a target from its stored kind and reference.
    pub fn from_parts(kind: TargetKind, reference: Option<&str>) -> Option<Target> {
        Some(match kind {
            TargetKind::Owner => Target::Owner,
            TargetKind::Platform => Target::Platform,
            TargetKind::User => Target::User {
                id: UserId(reference?.to_owned()),
            },
            TargetKind::Team => Target::Team {
                id: TeamId(reference?.to_owned()),
            },
            TargetKind::Role => Target::Role {
                role: reference?.parse().ok()?,
            },
        })
    }
}
