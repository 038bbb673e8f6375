//! Saving a tenant's policy: validated against its people and teams, versioned, audited.
//! Shared by `PUT /api/v1/policy` and `ladder policy import`.

use jiff::Timestamp;
use ladder_core::policy::{Directory, PolicyError};
use ladder_core::Policy;
use ladder_core::{AuditKind, TenantId, UserId};
use ladder_storage::{directory, policies, Db};
use serde_json::json;

use super::{policy_in, record};
use crate::flows::{FieldError, FlowError, FlowResult};

/// The outcome of a save.
pub struct Saved {
    pub policy: Policy,
    /// False when the document equalled the policy in force: nothing was written.
    pub changed: bool,
}

/// The tenant's people and teams, for checking the targets a policy names.
pub async fn directory_of(db: &Db, tenant: &TenantId) -> FlowResult<Directory> {
    let users = directory::users(db, tenant).await?;
    let teams = directory::teams(db, tenant).await?;
    Ok(Directory {
        users: users.into_iter().map(|u| u.id).collect(),
        teams: teams.into_iter().map(|t| t.id).collect(),
    })
}

/// Checks a policy and reports every problem with the JSON path of the part at fault and
/// the rule it is in.
pub fn check(policy: &Policy, dir: &Directory) -> FlowResult<()> {
    policy.validate(dir).map_err(|errors| {
        FlowError::InvalidFields(
            errors
                .iter()
                .map(|e| FieldError {
                    field: field_of(policy, e),
                    detail: e.to_string(),
                })
                .collect(),
        )
    })
}

/// Saves `policy` as the tenant's new version, unless it is identical to the one in force.
/// With `expected_version`, refuses to overwrite a policy someone else saved meanwhile.
/// A refused policy changes nothing: the previous one stays in force.
pub async fn save(
    db: &Db,
    tenant: &TenantId,
    by: Option<&UserId>,
    mut policy: Policy,
    expected_version: Option<u32>,
    now: Timestamp,
) -> FlowResult<Saved> {
    check(&policy, &directory_of(db, tenant).await?)?;
    let mut tx = db.write().await?;
    let current = policy_in(tx.conn(), tenant).await?;
    if let Some(v) = expected_version.filter(|v| *v != current.version) {
        return Err(FlowError::Conflict(format!(
            "the policy was saved as version {} after version {v} was read: reload it and make the change again",
            current.version
        )));
    }
    policy.version = current.version;
    if policy == current {
        return Ok(Saved {
            policy,
            changed: false,
        });
    }
    policy.version = current.version + 1;
    let document = serde_json::to_string(&policy)
        .map_err(|e| FlowError::Internal(anyhow::anyhow!("policy does not serialise: {e}")))?;
    policies::save(
        tx.conn(),
        tenant,
        i64::from(policy.version),
        &document,
        by,
        now,
    )
    .await?;
    record(
        &mut tx,
        tenant,
        None,
        by,
        AuditKind::PolicyChanged,
        json!({
            "before": {"version": current.version, "rules": current.rules.iter().map(|r| &r.name).collect::<Vec<_>>()},
            "after": {"version": policy.version, "rules": policy.rules.iter().map(|r| &r.name).collect::<Vec<_>>()},
            "document": policy,
        }),
        now,
    );
    tx.commit().await?;
    Ok(Saved {
        policy,
        changed: true,
    })
}

/// The JSON path, in the policy document, of the part an error is about.
pub fn field_of(policy: &Policy, e: &PolicyError) -> String {
    let rule = |name: &str| {
        policy
            .rules
            .iter()
            .position(|r| r.name == name)
            .map_or_else(|| "rules".to_owned(), |i| format!("rules[{i}]"))
    };
    let calendar = |name: &str| {
        policy
            .calendars
            .iter()
            .rposition(|c| c.name == name)
            .map_or_else(|| "calendars".to_owned(), |i| format!("calendars[{i}]"))
    };
    match e {
        PolicyError::UnknownUser { rule: r, rung, .. }
        | PolicyError::UnknownTeam { rule: r, rung, .. } => {
            format!("{}.chain[{}].target.id", rule(r), rung.saturating_sub(1))
        }
        PolicyError::RoleCannotTake { rule: r, rung, .. } => {
            format!("{}.chain[{}].target.role", rule(r), rung.saturating_sub(1))
        }
        PolicyError::EmptyChain { rule: r } => format!("{}.chain", rule(r)),
        PolicyError::UnknownCalendar { rule: r, .. } => format!("{}.calendar", rule(r)),
        PolicyError::DuplicateRule { rule: r } => policy
            .rules
            .iter()
            .rposition(|x| x.name == *r)
            .map_or_else(|| "rules".to_owned(), |i| format!("rules[{i}].name")),
        PolicyError::Unreachable { rule: r, .. } => format!("{}.when", rule(r)),
        PolicyError::RemindAtPercent { rule: r, .. } => format!("{}.remind_at_percent", rule(r)),
        PolicyError::NoCatchAll => "rules".to_owned(),
        PolicyError::Currency(_) => "currency".to_owned(),
        PolicyError::NegativeAuthorityLimit { role, .. } => format!("authority_limits.{role}"),
        PolicyError::Calendar { calendar: c, .. } | PolicyError::DuplicateCalendar(c) => {
            calendar(c)
        }
        PolicyError::NoDefaultCalendar => "calendars".to_owned(),
        PolicyError::MetricsWindow { field, .. } => format!("metrics.{field}"),
        #[allow(unreachable_patterns)] // sections added to the policy report at the top level
        _ => "policy".to_owned(),
    }
}

/// Names the rule a JSON path points into, for errors found while parsing a document:
/// `rules[2].sla.resolve` in a document whose third rule is "urgent" reads
/// `rule "urgent": …`.
pub fn name_rule_in(document: &serde_json::Value, field: &str) -> Option<String> {
    let rest = field.strip_prefix("rules[")?;
    let index: usize = rest.split(']').next()?.parse().ok()?;
    let name = document["rules"][index]["name"].as_str()?;
    Some(format!("rule {name:?}"))
}
