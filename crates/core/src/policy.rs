//! The tenant's escalation policy: the matrix of rules and chains, SLA targets, business
//! calendars, trigger modes, authority limits and which categories lock front-desk replies.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Category, Role, TriggerKind, TriggerMode};

/// A tenant's whole escalation policy, versioned as one document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policy {
    /// ISO 4217 code of the currency in which authority limits and compensation are counted.
    pub currency: String,
    /// While an escalation of one of these categories is active, only its owner and the
    /// tenant's owners/admins may reply to the customer.
    pub reply_lock_categories: Vec<Category>,
    /// The largest compensation, in minor units, each role may grant without approval.
    /// A role missing here may grant nothing.
    pub authority_limits: BTreeMap<Role, i64>,
    /// What to do when each trigger kind fires, and extra phrases that fire it.
    pub triggers: BTreeMap<TriggerKind, TriggerSetting>,
}

/// How one trigger kind behaves for a tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TriggerSetting {
    pub mode: TriggerMode,
    /// Phrases, in the tenant's own words, that also fire this kind.
    pub extra_phrases: Vec<String>,
}

impl Default for TriggerSetting {
    fn default() -> Self {
        TriggerSetting {
            mode: TriggerMode::Suggest,
            extra_phrases: Vec::new(),
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            currency: "USD".to_owned(),
            reply_lock_categories: vec![Category::Legal, Category::Clinical, Category::Safety],
            authority_limits: BTreeMap::from([
                (Role::Owner, i64::MAX),
                (Role::PlatformSupport, 0),
                (Role::Admin, 100_000),
                (Role::Specialist, 20_000),
                (Role::Agent, 5_000),
            ]),
            triggers: TriggerKind::TEXT_KINDS
                .iter()
                .map(|k| (*k, TriggerSetting::default()))
                .collect(),
        }
    }
}

impl Policy {
    /// The mode configured for a trigger kind (`suggest` when the policy says nothing).
    pub fn trigger_mode(&self, kind: TriggerKind) -> TriggerMode {
        self.triggers
            .get(&kind)
            .map_or(TriggerMode::Suggest, |s| s.mode)
    }

    /// The compensation a role may grant alone, in minor units.
    pub fn authority_limit(&self, role: Role) -> i64 {
        self.authority_limits.get(&role).copied().unwrap_or(0)
    }

    pub fn locks_replies(&self, category: Category) -> bool {
        self.reply_lock_categories.contains(&category)
    }
}
