//! Who is acting: a signed-in user, whether they came with a bearer token, a session cookie
//! or the command line. Flows take an [`Actor`]; the HTTP layer builds one from its `Caller`.

use ladder_core::escalation;
use ladder_core::{Role, TeamId, TenantId, UserId};
use ladder_storage::directory::User;

use super::error::{FlowError, FlowResult};

#[derive(Clone, Debug)]
pub struct Actor {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    /// Shown to others in notifications ("acknowledged by …").
    pub name: String,
    pub role: Role,
    pub teams: Vec<TeamId>,
}

impl Actor {
    /// The actor for a user of the directory and the teams they belong to.
    pub fn of_user(user: &User, teams: Vec<String>) -> Actor {
        Actor {
            tenant_id: user.tenant_id.clone(),
            user_id: user.id.clone(),
            name: user.name.clone(),
            role: user.role,
            teams: teams.into_iter().map(TeamId).collect(),
        }
    }

    pub fn tenant(&self) -> &TenantId {
        &self.tenant_id
    }

    pub fn id(&self) -> &UserId {
        &self.user_id
    }

    pub fn is_platform(&self) -> bool {
        self.role == Role::PlatformSupport
    }

    /// The actor as the escalation rules see them.
    pub fn rules(&self) -> escalation::Actor {
        escalation::Actor {
            user_id: self.user_id.0.clone(),
            role: self.role,
            teams: self.teams.iter().map(|t| t.0.clone()).collect(),
        }
    }

    /// Owners and admins only.
    pub fn require_manager(&self, action: &str) -> FlowResult<()> {
        if self.role.is_manager() {
            Ok(())
        } else {
            Err(FlowError::Forbidden(format!(
                "only an owner or admin may {action}"
            )))
        }
    }

    /// Tenant staff who work tickets (not auditors, who only read).
    pub fn require_staff(&self, action: &str) -> FlowResult<()> {
        if self.role.is_tenant_staff() {
            Ok(())
        } else {
            Err(FlowError::Forbidden(format!(
                "a user with role {} may not {action}",
                self.role
            )))
        }
    }

    /// The keys under which escalations addressed to this actor are queued.
    pub fn queue_keys(&self) -> Vec<String> {
        let mut keys = vec![
            format!("user:{}", self.user_id),
            format!("role:{}", self.role.as_str()),
        ];
        keys.extend(self.teams.iter().map(|t| format!("team:{t}")));
        keys
    }
}
