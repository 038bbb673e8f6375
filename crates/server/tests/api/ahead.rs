//! SQLite's timer workers plan a batch from a snapshot before they take the write lock: the
//! plan is written as it is when nothing else was written meanwhile, and decided again under
//! the lock when something was. (PostgreSQL's workers lock what they fire instead; see
//! `cluster.rs`.)

use std::time::Duration;

use ladder_server::engine::{Ahead, EngineConfig, InFlight, Written};
use ladder_server::AppState;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{Backend, Org, Session, TestApp, TicketBuilder};

/// Two tickets escalated to Tom, whose one second to acknowledge has run out, with the
/// engine stopped so that the test fires them itself.
struct Due {
    app: TestApp,
    org: Org,
    tom: Session,
    tickets: [String; 2],
    escalations: [String; 2],
    state: AppState,
}

async fn two_rung_timeouts_due() -> Due {
    let stopped = EngineConfig {
        workers: 0,
        ..EngineConfig::for_backend(ladder_storage::Backend::Sqlite)
    };
    let app = TestApp::spawn_with(Backend::Sqlite, stopped).await;
    let org = app.org("Swift Heating").await;
    let tom = org.user(&app, "Tom Tech", "agent").await;
    let mia = org.user(&app, "Mia Manager", "specialist").await;
    let managers = org.team(&app, "Escalation managers", &[&mia]).await;
    let all_day = json!(["00:00-24:00"]);
    let calendar = json!({"name": "default", "time_zone": "UTC", "hours": {
        "mon": all_day, "tue": all_day, "wed": all_day, "thu": all_day,
        "fri": all_day, "sat": all_day, "sun": all_day}});
    let rule = json!({"name": "drill",
    "sla": {"acknowledge": "1h", "update_every": "1h", "resolve": "1h"},
    "chain": [
        {"target": {"kind": "user", "id": tom.id}, "ack_within": "1s"},
        {"target": {"kind": "team", "id": managers}, "ack_within": "1h"},
    ]});
    app.set_policy(
        &org.owner,
        json!({"calendars": [calendar], "rules": [rule]}),
    )
    .await;
    let customer = org.customer(&app, "Dana Field").await;
    let mut tickets = Vec::new();
    let mut escalations = Vec::new();
    for text in ["The boiler still leaks.", "The radiator is cold."] {
        let ticket = TicketBuilder::new(&customer)
            .about("Boiler repair")
            .saying(text)
            .open(&app, &tom)
            .await;
        let (s, e) = app
            .post(
                &tom,
                &format!("/tickets/{ticket}/escalate"),
                json!({"category": "complaint", "note": "Customer is unhappy with the repair.",
                       "contact_method": "call", "urgency": "standard"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{e}");
        tickets.push(ticket);
        escalations.push(e["id"].as_str().expect("id").to_owned());
    }
    app.clock.advance(jiff::SignedDuration::from_millis(1200));
    let state = app.state.clone();
    Due {
        state,
        app,
        org,
        tom,
        tickets: [tickets[0].clone(), tickets[1].clone()],
        escalations: [escalations[0].clone(), escalations[1].clone()],
    }
}

impl Due {
    /// Claims up to `n` due timers no other claim in `flight` holds.
    async fn claim(&self, flight: &InFlight, n: i64) -> Option<Ahead> {
        Ahead::claim(&self.state, n, flight).await.expect("claim")
    }

    async fn ticket(&self, i: usize) -> Value {
        let (s, t) = self
            .app
            .get(&self.org.owner, &format!("/tickets/{}", self.tickets[i]))
            .await;
        assert_eq!(s, StatusCode::OK, "{t}");
        t
    }

    async fn moves(&self, i: usize) -> usize {
        let events = self.app.events(&self.org.owner, &self.tickets[i]).await;
        events
            .iter()
            .filter(|e| e["kind"] == "rung_timed_out")
            .count()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_written_as_planned_and_workers_never_claim_the_same_timer() {
    let due = two_rung_timeouts_due().await;
    let flight = InFlight::default();
    let first = due.claim(&flight, 1).await.expect("one due");
    let second = due.claim(&flight, 1).await.expect("the other");
    assert!(
        due.claim(&flight, 1).await.is_none(),
        "both are held: there is nothing left to claim"
    );
    assert_ne!(first.timers()[0].id, second.timers()[0].id);

    // The first batch's commit touches only its own ticket, so the second one's plan holds.
    assert_eq!(
        first.fire(&due.state).await.expect("fire"),
        (1, Written::AsPlanned)
    );
    assert_eq!(
        second.fire(&due.state).await.expect("fire"),
        (1, Written::AsPlanned)
    );
    for i in 0..2 {
        assert_eq!(due.moves(i).await, 1, "ticket {i} moved up once");
        let t = due.ticket(i).await;
        assert_eq!(t["active_escalation"]["rung"], 2, "{t}");
    }
    // Released and moved an hour on: nothing is due now.
    assert!(due.claim(&flight, 500).await.is_none());
    // The two batches appended to the organisation's one chain in turn.
    let chains = ladder_storage::audit::verify(&due.app.db, None)
        .await
        .expect("verify");
    assert!(
        chains
            .iter()
            .all(|c| matches!(c, ladder_storage::audit::Verification::Intact { .. })),
        "{chains:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_planned_again_when_a_request_wrote_after_its_snapshot() {
    let due = two_rung_timeouts_due().await;
    let flight = InFlight::default();
    let ahead = due.claim(&flight, 500).await.expect("both due");
    assert_eq!(ahead.timers().len(), 2);
    // Tom takes the first escalation after the batch's snapshot was read: a plan made from
    // that snapshot would move an acknowledged escalation up the chain.
    let (s, acked) = due
        .app
        .post(
            &due.tom,
            &format!("/escalations/{}/acknowledge", due.escalations[0]),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{acked}");

    assert_eq!(
        ahead.fire(&due.state).await.expect("fire"),
        (2, Written::Replanned)
    );
    let taken = due.ticket(0).await;
    assert_eq!(
        taken["active_escalation"]["id"],
        due.escalations[0].as_str()
    );
    assert_eq!(
        taken["active_escalation"]["state"], "acknowledged",
        "{taken}"
    );
    assert_eq!(taken["active_escalation"]["rung"], 1);
    assert_eq!(due.moves(0).await, 0, "the acknowledged escalation stays");
    let (_, notes) = due
        .app
        .get(
            &due.org.owner,
            &format!("/tickets/{}/notifications", due.tickets[0]),
        )
        .await;
    let kinds: Vec<&str> = notes
        .as_array()
        .map(|n| n.iter().filter_map(|m| m["kind"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        !kinds.contains(&"escalation_skipped_you"),
        "nobody was told it moved past them: {kinds:?}"
    );
    let moved = due.ticket(1).await;
    assert_eq!(moved["active_escalation"]["rung"], 2, "{moved}");
    assert_eq!(due.moves(1).await, 1);
    assert!(due.claim(&flight, 500).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_dropped_before_it_fires_gives_its_timers_back() {
    let due = two_rung_timeouts_due().await;
    let flight = InFlight::default();
    let ahead = due.claim(&flight, 500).await.expect("both due");
    assert_eq!(ahead.timers().len(), 2);
    // As when a worker is cancelled or panics mid-batch.
    drop(ahead);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let again = loop {
        if let Some(again) = due.claim(&flight, 500).await {
            break again;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the timers stayed held"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(again.timers().len(), 2);
    assert_eq!(
        again.fire(&due.state).await.expect("fire"),
        (2, Written::AsPlanned)
    );
    assert_eq!(due.moves(0).await + due.moves(1).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_on_another_ticket_leaves_the_plan_standing_and_one_on_its_own_does_not() {
    let due = two_rung_timeouts_due().await;
    let other_customer = due.org.customer(&due.app, "Sam Stone").await;
    let elsewhere = TicketBuilder::new(&other_customer)
        .about("Invoice")
        .saying("Please resend the invoice.")
        .open(&due.app, &due.tom)
        .await;
    let comment = |ticket: String| {
        let app = &due.app;
        let tom = &due.tom;
        async move {
            let (s, c) = app
                .post(
                    tom,
                    &format!("/tickets/{ticket}/comments"),
                    json!({"body": "Looking into it.", "public": false}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{c}");
        }
    };
    let flight = InFlight::default();
    let first = due.claim(&flight, 1).await.expect("one due");
    // A comment on a ticket outside the batch writes nothing the plan was made from.
    comment(elsewhere).await;
    let first_ticket = first.timers()[0].ticket_id.clone();
    assert_eq!(
        first.fire(&due.state).await.expect("fire"),
        (1, Written::AsPlanned)
    );
    let second = due.claim(&flight, 1).await.expect("the other one");
    let second_ticket = second.timers()[0].ticket_id.clone();
    assert_ne!(first_ticket, second_ticket);
    // One on the batch's own ticket does.
    comment(second_ticket).await;
    assert_eq!(
        second.fire(&due.state).await.expect("fire"),
        (1, Written::Replanned)
    );
    for i in 0..2 {
        assert_eq!(due.moves(i).await, 1, "ticket {i} moved up once");
    }
}
