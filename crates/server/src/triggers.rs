//! Runs the core's trigger detector on a message and adds the history triggers (repeat
//! contact by the policy's thresholds, high-value customer), each tagged with the tenant's
//! mode for its kind. Many customers at once is handled by `flows::incidents`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use jiff::{SignedDuration, Timestamp};
use ladder_core::triggers::history::repeat_reached;
use ladder_core::triggers::Detector;
use ladder_core::TenantId;
use ladder_core::{Category, CustomerTier, Policy, TriggerKind, TriggerMode, Urgency};
use ladder_storage::directory::Customer;
use ladder_storage::tickets::Ticket;
use ladder_storage::{Db, StorageError};
use serde::Serialize;
use sqlx::AnyConnection;

use crate::flows::{FlowError, FlowResult};

/// One trigger on a ticket, as the API returns it.
#[derive(Clone, Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct FoundTrigger {
    pub kind: TriggerKind,
    pub mode: TriggerMode,
    pub confidence: f32,
    /// What fired it: for text triggers `[{start, end, text}]`, byte offsets into the message.
    #[schema(value_type = Vec<Object>)]
    pub evidence: serde_json::Value,
}

/// How many prior contacts a repeat-contact count reads at most (or the threshold, if
/// higher): the evidence says "100" for a customer who wrote more often.
const CONTACTS_COUNTED: u32 = 100;

/// Detectors are costly to build (automata over every phrase), so each distinct set of
/// tenant phrases is compiled once per process and shared.
static DEFAULT: OnceLock<Arc<Detector>> = OnceLock::new();
static CUSTOM: OnceLock<Mutex<HashMap<String, Arc<Detector>>>> = OnceLock::new();

/// The tenant's own phrases per kind, and the key they are compiled under; none when the
/// policy adds no phrase to the built-in ones.
fn custom_phrases(policy: &Policy) -> Option<(String, BTreeMap<TriggerKind, Vec<String>>)> {
    let extra: BTreeMap<TriggerKind, Vec<String>> = policy
        .triggers
        .iter()
        .filter(|(_, s)| !s.extra_phrases.is_empty())
        .map(|(k, s)| (*k, s.extra_phrases.clone()))
        .collect();
    if extra.is_empty() {
        return None;
    }
    Some((serde_json::to_string(&extra).unwrap_or_default(), extra))
}

fn custom_cache() -> std::sync::MutexGuard<'static, HashMap<String, Arc<Detector>>> {
    let cache = CUSTOM.get_or_init(|| Mutex::new(HashMap::new()));
    match cache.lock() {
        Ok(m) => m,
        Err(poisoned) => poisoned.into_inner(),
    }
}

fn detector_for(policy: &Policy) -> Arc<Detector> {
    let Some((key, extra)) = custom_phrases(policy) else {
        return DEFAULT
            .get_or_init(|| Arc::new(Detector::default()))
            .clone();
    };
    let mut map = custom_cache();
    if map.len() > 1000 {
        map.clear();
    }
    map.entry(key)
        .or_insert_with(|| Arc::new(Detector::new(&extra)))
        .clone()
}

/// Builds the detector `policy` needs on a blocking thread, unless it is built: a tenant's
/// own phrases take as long to compile as the built-in detector (up to seconds), and the
/// caller may be SQLite's write lane, which every write waits on.
async fn ready(policy: &Policy) -> FlowResult<()> {
    let built = match custom_phrases(policy) {
        None => DEFAULT.get().is_some(),
        Some((key, _)) => custom_cache().contains_key(&key),
    };
    if built {
        return Ok(());
    }
    let policy = policy.clone();
    tokio::task::spawn_blocking(move || {
        detector_for(&policy);
    })
    .await
    .map_err(|e| FlowError::Internal(anyhow::anyhow!("building the trigger detector: {e}")))
}

/// Builds the built-in detector, so that no request pays for it: `ladder serve` calls this
/// at start, beside connecting to the database.
pub fn prepare() {
    detector_for(&Policy::default());
}

/// The triggers in a message's text, each tagged with the tenant's mode for its kind (kinds
/// switched off left out). Pure work on the text: flows run it before taking the write lock.
pub fn scan(policy: &Policy, text: &str) -> Vec<FoundTrigger> {
    let mut out: Vec<FoundTrigger> = Vec::new();
    for d in detector_for(policy).detect(text) {
        let mode = policy.trigger_mode(d.kind);
        if mode != TriggerMode::Off && !out.iter().any(|f| f.kind == d.kind) {
            out.push(FoundTrigger {
                kind: d.kind,
                mode,
                confidence: d.confidence,
                evidence: serde_json::to_value(&d.evidence).unwrap_or_default(),
            });
        }
    }
    out
}

/// A message scanned before its write transaction, with the policy it was scanned under.
pub struct Scanned {
    policy: Policy,
    found: Vec<FoundTrigger>,
}

impl Scanned {
    /// Scans `text` under the tenant's policy as read now, outside any transaction (a
    /// tenant's own phrases compile here the first time, not while the write lock is held).
    pub async fn early(db: &Db, tenant: &TenantId, text: &str) -> FlowResult<Scanned> {
        let policy = crate::flows::policy(db, tenant).await?;
        ready(&policy).await?;
        let found = scan(&policy, text);
        Ok(Scanned { policy, found })
    }

    /// [`Scanned::early`] for several texts under one read of the policy: a message whose
    /// use (a new ticket's text, or a reply's) is known only inside the transaction.
    pub async fn early_each<const N: usize>(
        db: &Db,
        tenant: &TenantId,
        texts: [&str; N],
    ) -> FlowResult<[Scanned; N]> {
        let policy = crate::flows::policy(db, tenant).await?;
        ready(&policy).await?;
        Ok(texts.map(|text| Scanned {
            found: scan(&policy, text),
            policy: policy.clone(),
        }))
    }

    /// The text's triggers under `policy`, the one read inside the transaction: the early
    /// scan's, unless the policy changed in between.
    pub fn under(self, policy: &Policy, text: &str) -> Vec<FoundTrigger> {
        if self.policy == *policy {
            self.found
        } else {
            scan(policy, text)
        }
    }
}

/// Adds to a new message's text triggers (`found`, from [`scan`]) those of its customer's
/// history: their recent contacts, and their tier. Kinds the tenant switched off are left out.
pub async fn detect(
    policy: &Policy,
    mut found: Vec<FoundTrigger>,
    customer: &Customer,
    conn: &mut AnyConnection,
    tenant: &TenantId,
    now: Timestamp,
) -> FlowResult<Vec<FoundTrigger>> {
    let out = &mut found;
    let mut push = |kind: TriggerKind, confidence: f32, evidence: serde_json::Value| {
        let mode = policy.trigger_mode(kind);
        if mode != TriggerMode::Off && !out.iter().any(|f: &FoundTrigger| f.kind == kind) {
            out.push(FoundTrigger {
                kind,
                mode,
                confidence,
                evidence,
            });
        }
    };
    let rule = policy.history.repeat_contact;
    let since = now
        .checked_sub(SignedDuration::from_hours(i64::from(rule.window_hours)))
        .unwrap_or(Timestamp::MIN);
    // Contacts strictly before this one: an inbound message is already stored when this runs.
    // Counted up to a bound, so a customer's long history costs nothing more; the evidence
    // shows the exact count below it.
    let earlier = ladder_storage::tickets::customer_contacts(
        conn,
        tenant,
        &customer.id,
        since,
        now,
        rule.threshold.max(CONTACTS_COUNTED),
    )
    .await?;
    if let Some(n) = repeat_reached(earlier, &rule) {
        push(
            TriggerKind::RepeatContact,
            0.9,
            serde_json::json!([{"prior_contacts": n, "window_hours": rule.window_hours}]),
        );
    }
    if matches!(customer.tier, CustomerTier::Vip | CustomerTier::HighValue) {
        push(
            TriggerKind::HighValueCustomer,
            1.0,
            serde_json::json!([{"tier": customer.tier}]),
        );
    }
    Ok(found)
}

/// The triggers stored on a ticket. A list that does not read back is corrupt: treating it
/// as empty would drop what was detected the next time the list is written.
pub fn stored(ticket: &Ticket) -> Result<Vec<FoundTrigger>, StorageError> {
    if ticket.triggers.is_null() {
        // As `sla::trigger_kinds` reads it: no list is no triggers.
        return Ok(Vec::new());
    }
    serde_json::from_value(ticket.triggers.clone()).map_err(|err| StorageError::Corrupt {
        table: "tickets",
        detail: format!("ticket {}: its triggers do not read back: {err}", ticket.id),
    })
}

/// Merges new detections into a ticket's stored list, one entry per kind.
pub fn merge(ticket: &Ticket, found: &[FoundTrigger]) -> Result<serde_json::Value, StorageError> {
    let mut all = stored(ticket)?;
    for f in found {
        if !all.iter().any(|a| a.kind == f.kind) {
            all.push(f.clone());
        }
    }
    Ok(serde_json::to_value(all).unwrap_or_else(|_| ticket.triggers.clone()))
}

/// The category (the policy's, for that kind) and urgency an automatic escalation takes for
/// the strongest `auto` trigger, or None when no trigger is in `auto` mode.
pub fn automatic(
    policy: &Policy,
    found: &[FoundTrigger],
) -> Option<(Category, Urgency, Vec<TriggerKind>)> {
    let auto: Vec<TriggerKind> = found
        .iter()
        .filter(|f| f.mode == TriggerMode::Auto)
        .map(|f| f.kind)
        .collect();
    let strongest = *auto.first()?;
    let urgency = match strongest {
        TriggerKind::LegalThreat
        | TriggerKind::Regulator
        | TriggerKind::ClinicalDispute
        | TriggerKind::SafetyRisk
        | TriggerKind::Threat => Urgency::Urgent,
        _ => Urgency::Standard,
    };
    Some((policy.trigger_category(strongest), urgency, auto))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A tenant's own phrases compile off the thread that asks: on a one-thread runtime
    /// (as the write lane is) other tasks go on meanwhile. Built inline, the ticker below
    /// would not run once before `ready` returned.
    #[tokio::test(flavor = "current_thread")]
    async fn a_tenants_own_phrases_compile_off_the_asking_thread() {
        let mut policy = Policy::default();
        if let Some(anger) = policy.triggers.get_mut(&TriggerKind::Anger) {
            anger.extra_phrases = vec![format!("phrase of test {}", std::process::id())];
        }
        let ticks = Arc::new(AtomicUsize::new(0));
        let ticker = {
            let ticks = ticks.clone();
            tokio::spawn(async move {
                loop {
                    ticks.fetch_add(1, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                }
            })
        };
        ready(&policy).await.expect("built");
        assert!(
            ticks.load(Ordering::SeqCst) > 0,
            "built on the asking thread"
        );
        // Built once: asked again, it is there at once (no wait the ticker could run in).
        let before = ticks.load(Ordering::SeqCst);
        ready(&policy).await.expect("built");
        assert_eq!(ticks.load(Ordering::SeqCst), before);
        ticker.abort();
    }
}
