//! The SLA clocks following the ticket: paused while it waits on the customer, and the
//! update clock re-armed when the escalation owner answers them.

use jiff::Timestamp;
use ladder_storage::escalations::{self, Escalation};
use sqlx::AnyConnection;

use crate::flows::FlowResult;
use crate::sla;

/// Called when the escalation owner answers the customer (a public reply or a logged call):
/// that is the response the interim-update clock waits for, so the next update is due one
/// cadence later.
pub async fn customer_updated(
    conn: &mut AnyConnection,
    e: &Escalation,
    now: Timestamp,
) -> FlowResult<()> {
    let mut e = e.clone();
    let (snap, mut run) = sla::state_of(&e)?;
    run.clocks.customer_updated(&snap, now);
    sla::apply(&mut e, &snap, &run)?;
    e.updated_at = now;
    escalations::update_if_state(conn, &e, e.state).await?;
    sla::sync_timers(conn, &e, now).await?;
    Ok(())
}

/// The ticket started (`true`) or stopped waiting on the customer: the update and resolution
/// clocks of its active escalation pause or run again. Returns whether anything changed.
pub async fn set_waiting(
    conn: &mut AnyConnection,
    e: &Escalation,
    waiting: bool,
    now: Timestamp,
) -> FlowResult<bool> {
    let mut e = e.clone();
    let (snap, mut run) = sla::state_of(&e)?;
    let changed = if waiting {
        run.clocks.pause(now)
    } else {
        run.clocks.resume(&snap, now)
    };
    if changed {
        sla::apply(&mut e, &snap, &run)?;
        e.updated_at = now;
        escalations::update_if_state(conn, &e, e.state).await?;
        sla::sync_timers(conn, &e, now).await?;
    }
    Ok(changed)
}
