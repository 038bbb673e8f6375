//! The hash chain of the audit trail.
//!
//! Each tenant's events form one chain: an event's hash covers its own fields and the hash of
//! the event before it, so editing, deleting or reordering any stored event breaks every hash
//! from that point on. The storage layer writes and reads the rows; the arithmetic is here.

use sha2::{Digest, Sha256};

/// The `prev_hash` of a tenant's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The fields of one stored audit event, as they are hashed (and as `ladder audit export`
/// writes them, one JSON line each).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChainedEvent {
    pub id: String,
    pub tenant_id: String,
    pub seq: i64,
    pub ticket_id: Option<String>,
    pub actor_id: Option<String>,
    pub kind: String,
    /// The JSON payload exactly as stored.
    pub payload: String,
    pub occurred_at_micros: i64,
    pub prev_hash: String,
    pub hash: String,
}

/// Computes an event's hash from its fields and the previous event's hash. Fields are
/// length-prefixed so that no two different events can hash the same input.
#[allow(clippy::too_many_arguments)]
pub fn event_hash(
    prev_hash: &str,
    id: &str,
    tenant_id: &str,
    seq: i64,
    ticket_id: Option<&str>,
    actor_id: Option<&str>,
    kind: &str,
    payload: &str,
    occurred_at_micros: i64,
) -> String {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(prev_hash.as_bytes());
    field(id.as_bytes());
    field(tenant_id.as_bytes());
    field(&seq.to_be_bytes());
    field(ticket_id.unwrap_or("").as_bytes());
    field(actor_id.unwrap_or("").as_bytes());
    field(kind.as_bytes());
    field(payload.as_bytes());
    field(&occurred_at_micros.to_be_bytes());
    hex::encode(h.finalize())
}

impl ChainedEvent {
    pub fn computed_hash(&self) -> String {
        event_hash(
            &self.prev_hash,
            &self.id,
            &self.tenant_id,
            self.seq,
            self.ticket_id.as_deref(),
            self.actor_id.as_deref(),
            &self.kind,
            &self.payload,
            self.occurred_at_micros,
        )
    }
}

/// Where and why a chain is broken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("audit chain of tenant {tenant_id} broken at event {event_id} (seq {seq}): {reason}")]
pub struct ChainBreak {
    pub tenant_id: String,
    pub event_id: String,
    pub seq: i64,
    pub reason: String,
}

/// Checks a tenant's chain incrementally, one event at a time, in `seq` order, so that a
/// chain of millions of events is verified in constant memory.
pub struct ChainVerifier {
    tenant_id: String,
    expected_seq: i64,
    prev_hash: String,
    last_id: Option<String>,
}

impl ChainVerifier {
    pub fn new(tenant_id: impl Into<String>) -> Self {
        ChainVerifier {
            tenant_id: tenant_id.into(),
            expected_seq: 1,
            prev_hash: GENESIS.to_owned(),
            last_id: None,
        }
    }

    /// A verifier that takes the chain up after event `seq`, whose hash is `hash`: for
    /// checking one stretch of a long chain (a ticket's events and their neighbours), with
    /// that event itself checked by the caller.
    pub fn resume(tenant_id: impl Into<String>, seq: i64, hash: &str) -> Self {
        ChainVerifier {
            tenant_id: tenant_id.into(),
            expected_seq: seq + 1,
            prev_hash: hash.to_owned(),
            last_id: None,
        }
    }

    /// The seq of the last event pushed (0 before any).
    pub fn last_seq(&self) -> i64 {
        self.expected_seq - 1
    }

    pub fn push(&mut self, e: &ChainedEvent) -> Result<(), ChainBreak> {
        let brk = |reason: String| ChainBreak {
            tenant_id: self.tenant_id.clone(),
            event_id: e.id.clone(),
            seq: e.seq,
            reason,
        };
        if e.seq != self.expected_seq {
            return Err(brk(format!(
                "expected seq {} but found {}: an event was removed or reordered",
                self.expected_seq, e.seq
            )));
        }
        if e.prev_hash != self.prev_hash {
            return Err(brk(
                "prev_hash does not match the previous event's hash".into()
            ));
        }
        if e.computed_hash() != e.hash {
            return Err(brk(
                "content does not match its hash: the event was altered".into(),
            ));
        }
        self.expected_seq += 1;
        self.prev_hash = e.hash.clone();
        self.last_id = Some(e.id.clone());
        Ok(())
    }

    /// Compares the end of the chain with the recorded head, which catches a removed last
    /// event.
    pub fn finish(self, head_seq: i64, head_hash: &str) -> Result<i64, ChainBreak> {
        let seen = self.expected_seq - 1;
        if seen != head_seq || self.prev_hash != head_hash {
            return Err(ChainBreak {
                tenant_id: self.tenant_id,
                event_id: self.last_id.unwrap_or_else(|| "(none)".into()),
                seq: seen,
                reason: format!(
                    "the chain ends at seq {seen} but its recorded head is seq {head_seq}: \
                     events after this one were removed or the head was altered"
                ),
            });
        }
        Ok(seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<ChainedEvent> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let mut e = ChainedEvent {
                    id: format!("e{seq}"),
                    tenant_id: "t".into(),
                    seq,
                    ticket_id: Some("k".into()),
                    actor_id: None,
                    kind: "ticket_created".into(),
                    payload: format!("{{\"n\":{seq}}}"),
                    occurred_at_micros: seq * 1000,
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                e.hash = e.computed_hash();
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    fn verify(events: &[ChainedEvent], head: &ChainedEvent) -> Result<i64, ChainBreak> {
        let mut v = ChainVerifier::new("t");
        for e in events {
            v.push(e)?;
        }
        v.finish(head.seq, &head.hash)
    }

    #[test]
    fn a_stretch_verifies_from_where_it_resumes() {
        let events = chain(6);
        let mut v = ChainVerifier::resume("t", events[1].seq, &events[1].hash);
        for e in &events[2..5] {
            v.push(e).expect("intact");
        }
        assert_eq!(v.last_seq(), 5);
        assert_eq!(v.finish(events[4].seq, &events[4].hash), Ok(5));

        let mut edited = events.clone();
        edited[3].payload = "{\"n\":99}".into();
        let mut v = ChainVerifier::resume("t", edited[1].seq, &edited[1].hash);
        v.push(&edited[2]).expect("intact");
        assert_eq!(v.push(&edited[3]).unwrap_err().event_id, "e4");

        // Resumed after the wrong event: the next one does not link to it.
        let mut v = ChainVerifier::resume("t", events[0].seq, &events[0].hash);
        assert!(v.push(&events[2]).is_err());
    }

    #[test]
    fn intact_chain_verifies() {
        let events = chain(5);
        assert_eq!(verify(&events, &events[4]), Ok(5));
    }

    #[test]
    fn edited_deleted_or_swapped_events_are_named() {
        let events = chain(5);
        let head = events[4].clone();

        let mut edited = events.clone();
        edited[2].payload = "{\"n\":99}".into();
        assert_eq!(verify(&edited, &head).unwrap_err().event_id, "e3");

        let mut deleted = events.clone();
        deleted.remove(1);
        assert_eq!(verify(&deleted, &head).unwrap_err().event_id, "e3");

        let mut swapped = events.clone();
        let (a, b) = (swapped[1].payload.clone(), swapped[3].payload.clone());
        swapped[1].payload = b;
        swapped[3].payload = a;
        assert_eq!(verify(&swapped, &head).unwrap_err().event_id, "e2");

        let truncated = &events[..4];
        assert_eq!(verify(truncated, &head).unwrap_err().event_id, "e4");
    }
}
