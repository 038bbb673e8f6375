//! The escalation state machine and the rules around it: who may take an escalation, who may
//! reply to the customer while one is active, when a compensation needs approval, and which
//! rung comes next. Pure decisions; the server loads the state and writes the outcome.

use crate::policy::Policy;
use crate::{Category, EscalationState, Priority, Role, Target, TicketStatus};

/// The person acting, as the rules need to see them.
#[derive(Clone, Debug)]
pub struct Actor {
    pub user_id: String,
    pub role: Role,
    pub teams: Vec<String>,
}

/// A refused command, in the users' words. The server maps each variant to an HTTP status.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EscalationError {
    /// The input is wrong (422), naming the field.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// The current state forbids it (409).
    #[error("{0}")]
    Conflict(String),
    /// This person may not do it (403).
    #[error("{0}")]
    Forbidden(String),
}

impl Actor {
    /// Whether the escalation is addressed to this person: to them, their team, their role,
    /// the owner when they are an owner, or the platform when they are platform support.
    pub fn is_addressed_by(&self, target: &Target) -> bool {
        match target {
            Target::Owner => self.role == Role::Owner,
            Target::User { id } => id.as_str() == self.user_id,
            Target::Team { id } => self.teams.iter().any(|t| t == id.as_str()),
            Target::Role { role } => *role == self.role,
            Target::Platform => self.role == Role::PlatformSupport,
        }
    }

    /// Whether this person may take, resolve or move the escalation: its audience, or the
    /// tenant's owners and admins, who may always step in.
    pub fn may_handle(&self, target: &Target) -> bool {
        self.is_addressed_by(target) || (self.role.is_manager() && *target != Target::Platform)
    }
}

/// Checks that a ticket may be escalated now.
pub fn check_escalate(
    status: TicketStatus,
    has_active: bool,
    actor: &Actor,
) -> Result<(), EscalationError> {
    if !actor.role.is_tenant_staff() {
        return Err(EscalationError::Forbidden(format!(
            "a user with role {} cannot escalate tickets",
            actor.role
        )));
    }
    if has_active || status == TicketStatus::Escalated {
        return Err(EscalationError::Conflict(
            "the ticket is already escalated: re-escalate the active escalation to move it up"
                .into(),
        ));
    }
    if matches!(status, TicketStatus::Resolved | TicketStatus::Closed) {
        return Err(EscalationError::Conflict(format!(
            "the ticket is {status}: reopen it before escalating"
        )));
    }
    Ok(())
}

/// Checks an acknowledgement. Acknowledging one's own acknowledged escalation again is
/// accepted and changes nothing (`Ok(false)`); anyone else gets a conflict naming the owner.
pub fn check_acknowledge(
    state: EscalationState,
    target: &Target,
    owner: Option<(&str, &str)>,
    actor: &Actor,
) -> Result<bool, EscalationError> {
    if !actor.may_handle(target) {
        return Err(EscalationError::Forbidden(
            "only the escalation's target, its team or role, or an owner or admin may acknowledge it".into(),
        ));
    }
    match state {
        EscalationState::Requested => Ok(true),
        EscalationState::Acknowledged => match owner {
            Some((id, _)) if id == actor.user_id => Ok(false),
            Some((_, name)) => Err(EscalationError::Conflict(format!(
                "already acknowledged by {name}, who owns this escalation"
            ))),
            None => Err(EscalationError::Conflict("already acknowledged".into())),
        },
        other => Err(EscalationError::Conflict(format!(
            "the escalation is {other} and can no longer be acknowledged"
        ))),
    }
}

/// Checks that an escalation is still active before resolving, de-escalating or moving it.
pub fn check_active(
    state: EscalationState,
    target: &Target,
    actor: &Actor,
    action: &str,
) -> Result<(), EscalationError> {
    if !actor.may_handle(target) {
        return Err(EscalationError::Forbidden(format!(
            "only the escalation's target, its team or role, or an owner or admin may {action} it"
        )));
    }
    if !matches!(
        state,
        EscalationState::Requested | EscalationState::Acknowledged
    ) {
        return Err(EscalationError::Conflict(format!(
            "the escalation is {state} and can no longer be changed"
        )));
    }
    Ok(())
}

/// Whether `actor` may send a public reply on a ticket whose active escalation has
/// `category` and `owner`. While a legal, clinical or safety matter (the tenant's set) is
/// escalated, only its owner and the tenant's owners/admins talk to the customer.
pub fn check_public_reply(
    active: Option<(Category, Option<(&str, &str)>)>,
    policy: &Policy,
    actor: &Actor,
) -> Result<(), EscalationError> {
    let Some((category, owner)) = active else {
        return Ok(());
    };
    if !policy.locks_replies(category) || actor.role.is_manager() {
        return Ok(());
    }
    match owner {
        Some((id, _)) if id == actor.user_id => Ok(()),
        Some((_, name)) => Err(EscalationError::Forbidden(format!(
            "this {category} escalation is owned by {name}: only they or an owner/admin may reply \
             to the customer; add an internal note instead"
        ))),
        None => Err(EscalationError::Forbidden(format!(
            "this {category} escalation has not been taken yet: replies to the customer wait for its \
             owner; add an internal note instead"
        ))),
    }
}

/// When a resolution grants more than the actor's limit, the role that must approve it:
/// the lowest role whose limit covers the amount (admin before owner).
pub fn approval_needed(amount_minor: i64, actor_role: Role, policy: &Policy) -> Option<Role> {
    if policy.authority_limit(actor_role).covers(amount_minor) {
        return None;
    }
    [Role::Specialist, Role::Admin, Role::Owner]
        .into_iter()
        .find(|r| policy.authority_limit(*r).covers(amount_minor) && *r != actor_role)
        .or(Some(Role::Owner))
}

/// The priority an escalation has once it is addressed to `target`: a legal matter that
/// reaches platform support is critical (the platform's legal exposure is at stake);
/// otherwise the priority it came with. Applied when an escalation opens and at each move up.
pub fn priority_at(target: &Target, category: Category, priority: Priority) -> Priority {
    if *target == Target::Platform && category == Category::Legal {
        Priority::Critical
    } else {
        priority
    }
}

/// The built-in ladder used when the policy gives no chain: a person → the owner → all
/// admins → platform support. `None` at the top.
pub fn default_next_rung(current: &Target) -> Option<Target> {
    match current {
        Target::User { .. } | Target::Team { .. } => Some(Target::Owner),
        Target::Owner => Some(Target::Role { role: Role::Admin }),
        Target::Role { role: Role::Admin } => Some(Target::Platform),
        Target::Role { .. } => Some(Target::Owner),
        Target::Platform => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TeamId, UserId};

    fn actor(id: &str, role: Role, teams: &[&str]) -> Actor {
        Actor {
            user_id: id.into(),
            role,
            teams: teams.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn legal_reaching_the_platform_is_critical_and_nothing_else_changes_priority() {
        assert_eq!(
            priority_at(&Target::Platform, Category::Legal, Priority::Normal),
            Priority::Critical
        );
        assert_eq!(
            priority_at(&Target::Platform, Category::Billing, Priority::Normal),
            Priority::Normal
        );
        assert_eq!(
            priority_at(&Target::Owner, Category::Legal, Priority::High),
            Priority::High
        );
        assert_eq!(
            priority_at(
                &Target::Role { role: Role::Admin },
                Category::Legal,
                Priority::Low
            ),
            Priority::Low
        );
    }

    #[test]
    fn audience_of_each_target_kind() {
        let agent = actor("u1", Role::Agent, &["account"]);
        assert!(agent.is_addressed_by(&Target::Team {
            id: TeamId("account".into())
        }));
        assert!(agent.is_addressed_by(&Target::User {
            id: UserId("u1".into())
        }));
        assert!(!agent.is_addressed_by(&Target::Owner));
        assert!(!agent.may_handle(&Target::Role { role: Role::Admin }));
        let admin = actor("u2", Role::Admin, &[]);
        assert!(admin.may_handle(&Target::Owner));
        assert!(!admin.may_handle(&Target::Platform));
        assert!(actor("p", Role::PlatformSupport, &[]).may_handle(&Target::Platform));
    }

    #[test]
    fn second_acknowledgement_names_the_owner() {
        let owner = actor("o", Role::Owner, &[]);
        let admin = actor("a", Role::Admin, &[]);
        let by = Some(("o", "Olivia Owner"));
        assert_eq!(
            check_acknowledge(EscalationState::Acknowledged, &Target::Owner, by, &owner),
            Ok(false)
        );
        let err = check_acknowledge(EscalationState::Acknowledged, &Target::Owner, by, &admin)
            .unwrap_err();
        assert!(err.to_string().contains("Olivia Owner"));
        assert!(matches!(
            check_acknowledge(EscalationState::Resolved, &Target::Owner, None, &owner),
            Err(EscalationError::Conflict(_))
        ));
    }

    #[test]
    fn legal_escalation_locks_front_desk_replies_but_not_the_owner() {
        let policy = Policy::default();
        let receptionist = actor("r", Role::Agent, &[]);
        let owner = actor("o", Role::Owner, &[]);
        let active = Some((Category::Legal, Some(("o", "Olivia"))));
        let err = check_public_reply(active, &policy, &receptionist).unwrap_err();
        assert!(err.to_string().contains("Olivia"));
        assert!(check_public_reply(active, &policy, &owner).is_ok());
        assert!(
            check_public_reply(Some((Category::Billing, None)), &policy, &receptionist).is_ok()
        );
    }

    #[test]
    fn compensation_above_the_limit_goes_to_the_next_rung() {
        let policy = Policy::default();
        assert_eq!(approval_needed(4_000, Role::Agent, &policy), None);
        assert_eq!(
            approval_needed(45_000, Role::Agent, &policy),
            Some(Role::Admin)
        );
        assert_eq!(
            approval_needed(450_000, Role::Admin, &policy),
            Some(Role::Owner)
        );
        assert_eq!(approval_needed(450_000, Role::Owner, &policy), None);
    }

    #[test]
    fn the_ladder_ends_at_platform_support() {
        let mut t = Target::User {
            id: UserId("u".into()),
        };
        let mut seen = vec![];
        while let Some(next) = default_next_rung(&t) {
            seen.push(next.kind());
            t = next;
        }
        use crate::TargetKind::*;
        assert_eq!(seen, vec![Owner, Role, Platform]);
    }
}
