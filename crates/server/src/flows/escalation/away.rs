//! Routing around people who become unavailable.

use jiff::Timestamp;
use ladder_core::{EscalationId, TeamId, UserId};
use ladder_core::{EscalationState, Target};
use ladder_storage::directory;
use ladder_storage::escalations::{self};
use ladder_storage::tickets::{self};
use ladder_storage::{Db, WriteTx};

use super::{move_up, MoveReason};
use crate::flows::people::People;
use crate::flows::FlowResult;

/// Someone just became unavailable: every escalation waiting for acknowledgement whose rung
/// now reaches nobody moves to the next rung at once, instead of waiting for its timeout.
/// Returns the ids of the escalations that moved.
pub async fn route_around_away(
    tx: &mut WriteTx,
    db: &Db,
    tenant: &str,
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
            id: ladder_core::UserId(user.id.clone()),
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
            || ticket.active_escalation_id.as_deref() != Some(e.id.as_str())
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
        moved.push(EscalationId(new.id));
    }
    Ok(moved)
}
