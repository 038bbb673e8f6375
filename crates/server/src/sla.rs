//! The seam between escalation flows and the policy engine: which chain an escalation walks,
//! its due times, and the durable timers that fire when they pass.

use jiff::Timestamp;
use ladder_core::{Category, Policy, Role, Target, TriggerKind, Urgency};
use ladder_storage::directory::Customer;
use ladder_storage::escalations::Escalation;
use ladder_storage::tickets::Ticket;
use sqlx::AnyConnection;

use crate::error::ApiResult;

/// What the policy says about one escalation: its chain of rungs and the rule snapshot.
pub struct Plan {
    pub chain: Vec<Target>,
    pub snapshot: Option<serde_json::Value>,
}

pub struct Dues {
    pub ack: Option<Timestamp>,
    pub resolve: Option<Timestamp>,
}

fn default_chain() -> Vec<Target> {
    vec![
        Target::Owner,
        Target::Role { role: Role::Admin },
        Target::Platform,
    ]
}

impl Plan {
    pub fn first_target(&self) -> Target {
        self.chain.first().cloned().unwrap_or(Target::Owner)
    }

    pub fn dues(&self, _target: &Target, _now: Timestamp) -> Dues {
        Dues {
            ack: None,
            resolve: None,
        }
    }
}

pub fn plan(
    _policy: &Policy,
    _ticket: &Ticket,
    _customer: Option<&Customer>,
    _category: Category,
    _urgency: Urgency,
    _triggers: &[TriggerKind],
    _now: Timestamp,
) -> Plan {
    Plan {
        chain: default_chain(),
        snapshot: None,
    }
}

pub fn plan_from_snapshot(_e: &Escalation) -> Plan {
    Plan {
        chain: default_chain(),
        snapshot: None,
    }
}

/// The rung after `current` in `chain`, if `current` is on it.
pub fn next_rung(chain: &[Target], current: &Target) -> Option<Target> {
    let i = chain.iter().position(|t| t == current)?;
    chain.get(i + 1).cloned()
}

pub fn chain_of(e: &Escalation) -> Vec<Target> {
    plan_from_snapshot(e).chain
}

pub fn next_update_due(_policy: &Policy, _e: &Escalation, _now: Timestamp) -> Option<Timestamp> {
    None
}

pub async fn schedule(
    _conn: &mut AnyConnection,
    _e: &Escalation,
    _plan: &Plan,
    _now: Timestamp,
) -> ApiResult<()> {
    Ok(())
}

pub async fn acknowledged(
    _conn: &mut AnyConnection,
    _e: &Escalation,
    _now: Timestamp,
) -> ApiResult<()> {
    Ok(())
}

pub async fn customer_updated(
    _conn: &mut AnyConnection,
    _e: &Escalation,
    _now: Timestamp,
) -> ApiResult<()> {
    Ok(())
}

pub async fn closed(_conn: &mut AnyConnection, _e: &Escalation, _now: Timestamp) -> ApiResult<()> {
    Ok(())
}
