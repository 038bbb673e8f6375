//! Who a target reaches: the people and teams of an organisation, read once and asked in
//! memory, so that routing an escalation up its chain costs no query per rung.

use std::collections::HashMap;

use jiff::Timestamp;
use ladder_core::sla::next_on_chain;
use ladder_core::{Role, Target, TenantId};
use ladder_storage::directory::{self, User};
use sqlx::AnyConnection;

use crate::flows::FlowResult;

/// The people of one organisation and its teams' members.
#[derive(Clone, Debug, Default)]
pub struct People {
    users: Vec<User>,
    teams: HashMap<String, Vec<String>>,
    /// Platform-support staff: escalations to the platform reach them.
    platform: Vec<User>,
}

/// Who an escalation reaches, where that is on the chain, and the rungs skipped on the way
/// because nobody was there.
pub struct Routed {
    pub target: Target,
    pub position: usize,
    pub recipients: Vec<User>,
    pub skipped: Vec<(Target, &'static str)>,
}

impl People {
    /// The people of one organisation.
    pub async fn load(conn: &mut AnyConnection, tenant: &TenantId) -> FlowResult<People> {
        let mut all = People::load_many(conn, std::slice::from_ref(&tenant.0)).await?;
        Ok(all.remove(tenant.as_str()).unwrap_or_default())
    }

    /// The people of several organisations, by organisation, in two queries.
    pub async fn load_many(
        conn: &mut AnyConnection,
        tenants: &[String],
    ) -> FlowResult<HashMap<String, People>> {
        let mut out: HashMap<String, People> = HashMap::new();
        if tenants.is_empty() {
            return Ok(out);
        }
        let (users, members) = directory::people_of(conn, tenants).await?;
        let platform = directory::platform_staff(&mut *conn).await?;
        for t in tenants {
            out.entry(t.clone()).or_default().platform = platform.clone();
        }
        for u in users {
            out.entry(u.tenant_id.0.clone()).or_default().users.push(u);
        }
        for (tenant, team, user) in members {
            out.entry(tenant)
                .or_default()
                .teams
                .entry(team)
                .or_default()
                .push(user);
        }
        Ok(out)
    }

    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.id.as_str() == id)
    }

    /// Everyone a target names, present or away. Platform staff live outside the tenant;
    /// an escalation to the platform reaches every one of them (and its queue is theirs).
    pub fn everyone(&self, target: &Target) -> Vec<&User> {
        let with_role = |role: Role| self.users.iter().filter(move |u| u.role == role);
        match target {
            Target::Owner => with_role(Role::Owner).collect(),
            Target::Role { role } => with_role(*role).collect(),
            Target::User { id } => self.user(id.as_str()).into_iter().collect(),
            Target::Team { id } => self
                .teams
                .get(id.as_str())
                .into_iter()
                .flatten()
                .filter_map(|m| self.user(m))
                .collect(),
            Target::Platform => self.platform.iter().collect(),
        }
    }

    /// The people a target reaches at `now` (those away left out).
    pub fn reachable(&self, target: &Target, now: Timestamp) -> Vec<&User> {
        self.everyone(target)
            .into_iter()
            .filter(|u| !u.is_away(now))
            .collect()
    }

    /// Walks up the chain from `target` (at `position`) until a rung reaches somebody: an
    /// away owner or an empty team is skipped at once rather than after its timeout. Platform
    /// support is always reachable.
    pub fn route(
        &self,
        mut target: Target,
        mut position: usize,
        chain: &[Target],
        now: Timestamp,
    ) -> Routed {
        let mut skipped = Vec::new();
        loop {
            let recipients: Vec<User> = self.reachable(&target, now).into_iter().cloned().collect();
            if target == Target::Platform || !recipients.is_empty() {
                return Routed {
                    target,
                    position,
                    recipients,
                    skipped,
                };
            }
            match next_on_chain(chain, position, &target) {
                Some((p, next)) => {
                    skipped.push((target, "nobody available"));
                    (position, target) = (p, next);
                }
                None => {
                    return Routed {
                        target,
                        position,
                        recipients,
                        skipped,
                    }
                }
            }
        }
    }
}
