//! Availability: marking someone away (or back), and routing escalations around people who
//! become unavailable.

use jiff::Timestamp;
use ladder_core::TenantId;
use ladder_core::{AuditKind, EscalationId, TeamId, UserId};
use ladder_core::{EscalationState, Target};
use ladder_storage::directory::{self, User};
use ladder_storage::escalations::{self};
use ladder_storage::tickets::{self};
use ladder_storage::{Db, WriteTx};
use serde_json::json;

use super::{move_up, MoveReason};
use crate::flows::people::People;
use crate::flows::{record, Actor, FlowError, FlowResult};

/// Marks `user_id` away until `away_until` (or available with `None`); anyone may change
/// their own, owners and admins anyone's. Going away moves at once every escalation waiting
/// on a rung that now reaches nobody. Returns the user as they now are.
pub async fn set_availability(
    db: &Db,
    actor: &Actor,
    user_id: &UserId,
    away_until: Option<Timestamp>,
    now: Timestamp,
) -> FlowResult<User> {
    if *user_id != actor.user_id {
        actor.require_manager("change someone else's availability")?;
    }
    let tenant = actor.tenant();
    let mut tx = db.write().await?;
    let before = directory::users_by_id(tx.conn(), tenant, std::slice::from_ref(&user_id.0))
        .await?
        .first()
        .ok_or(FlowError::NotFound("user"))?
        .away_until;
    directory::set_away(tx.conn(), tenant, user_id, away_until).await?;
    let moved = if away_until.is_some_and(|t| t > now) {
        let teams = directory::teams_of(db, tenant, user_id).await?;
        let teams: Vec<TeamId> = teams.into_iter().map(TeamId).collect();
        route_around_away(&mut tx, db, tenant, user_id, &teams, now).await?
    } else {
        Vec::new()
    };
    record(
        &mut tx,
        tenant,
        None,
        Some(actor.id()),
        AuditKind::AvailabilityChanged,
        json!({"user_id": user_id, "before": {"away_until": before}, "after": {"away_until": away_until},
               "escalations_moved_up": moved}),
        now,
    );
    tx.commit().await?;
    directory::user(db, tenant, user_id)
        .await?
        .ok_or(FlowError::NotFound("user"))
}

/// Someone just became unavailable: every escalation waiting for acknowledgement whose rung
/// now reaches nobody moves to the next rung at once, instead of waiting for its timeout.
/// Returns the ids of the escalations that moved.
async fn route_around_away(
    tx: &mut WriteTx,
    db: &Db,
    tenant: &TenantId,
    user_id: &UserId,
    teams: &[TeamId],
    now: Timestamp,
) -> FlowResult<Vec<EscalationId>> {
    let Some(user) = directory::users_by_id(tx.conn(), tenant, std::slice::from_ref(&user_id.0))
        .await?
        .into_iter()
        .next()
    else {
        return Ok(Vec::new());
    };
    let mut keys = vec![
        escalations::target_key(&Target::User {
            id: user.id.clone(),
        }),
        escalations::target_key(&Target::Role { role: user.role }),
    ];
    keys.extend(
        teams
            .iter()
            .map(|t| escalations::target_key(&Target::Team { id: t.clone() })),
    );
    // Lock every ticket concerned before writing anything, as requests do: no audit chain
    // head is held while waiting for a ticket.
    let mut locked = Vec::new();
    for e in escalations::requested_for(tx.conn(), tenant, &keys).await? {
        let pg = db.backend() == ladder_storage::Backend::Postgres;
        if let Some(ticket) = tickets::get_for_update(tx.conn(), pg, tenant, &e.ticket_id).await? {
            locked.push((e.id, ticket));
        }
    }
    let people = People::load(tx.conn(), tenant).await?;
    let mut moved = Vec::new();
    for (id, mut ticket) in locked {
        // Re-read under the ticket lock: it may have been acknowledged meanwhile.
        let Some(e) = escalations::get(tx.conn(), Some(tenant), &id).await? else {
            continue;
        };
        if e.state != EscalationState::Requested
            || ticket.active_escalation_id.as_ref() != Some(&e.id)
            || !people.reachable(&e.target, now).is_empty()
        {
            continue;
        }
        let note = format!("{} is unavailable: moved up automatically.", user.name);
        let new = move_up(
            tx,
            tenant,
            e,
            &mut ticket,
            None,
            &note,
            MoveReason::TargetAway,
            now,
        )
        .await?;
        moved.push(new.id);
    }
    Ok(moved)
}
