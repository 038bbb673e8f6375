//! The timer engine's one path, driven by hand (`engine::fire_due` with the workers
//! stopped): batches never fire a timer twice, a second writer (another process, as the
//! command line or an import would open the database) is seen as it is, and a timer whose
//! escalation is corrupt is set aside, counted, while the rest of its batch fires.

use std::time::Duration;

use ladder_server::engine::{fire_due, EngineConfig};
use ladder_server::AppState;
use ladder_storage::{micros, Db};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{assert_chain_intact, Backend, Org, Session, TestApp, TicketBuilder};
use crate::on_both_databases;

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

async fn two_rung_timeouts_due(backend: Backend) -> Due {
    let stopped = EngineConfig {
        workers: 0,
        ..EngineConfig::for_backend(ladder_storage::Backend::Sqlite)
    };
    let app = TestApp::spawn_with(backend, stopped).await;
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

    /// The ticket's timer: when it is due and how often it failed to fire.
    async fn timer(&self, i: usize) -> (i64, i64) {
        sqlx::query_as("SELECT due_at, attempts FROM timers WHERE id = $1")
            .bind(&self.tickets[i])
            .fetch_one(self.app.db.pool())
            .await
            .expect("the ticket's timer")
    }
}

on_both_databases!(
    batches_side_by_side_fire_each_timer_once,
    a_second_writer_is_seen_as_it_is,
    a_corrupt_escalation_is_set_aside_and_counted_while_the_rest_fire,
    a_timer_that_does_not_read_back_is_set_aside_while_the_rest_fire,
);

async fn batches_side_by_side_fire_each_timer_once(backend: Backend) {
    let due = two_rung_timeouts_due(backend).await;
    // Two workers at once, one timer each: on PostgreSQL they take disjoint timers, on
    // SQLite they take turns at the write gate.
    let (a, b) = tokio::join!(fire_due(&due.state, 1), fire_due(&due.state, 1));
    assert_eq!(a.expect("fire") + b.expect("fire"), 2);
    assert_eq!(
        fire_due(&due.state, 500).await.expect("fire"),
        0,
        "moved an hour on: nothing is due"
    );
    for i in 0..2 {
        assert_eq!(due.moves(i).await, 1, "ticket {i} moved up once");
        let t = due.ticket(i).await;
        assert_eq!(t["active_escalation"]["rung"], 2, "{t}");
    }
    assert_chain_intact(&due.app, &due.org).await;
}

/// Another process (the command line, an import) opens the database as the server does and
/// acknowledges the first escalation, its rung timeout due, in a transaction that is still
/// open when the engine starts a batch. PostgreSQL's batch passes the ticket by (its row is
/// locked) and fires the other; SQLite's waits for the other writer. Either way the engine
/// fires against the escalation as the other process left it: acknowledged, it stays.
async fn a_second_writer_is_seen_as_it_is(backend: Backend) {
    let due = two_rung_timeouts_due(backend).await;
    let other = Db::connect(&due.app.url)
        .await
        .expect("a second connection");
    let mut tx = other.write().await.expect("the other writer's transaction");
    sqlx::query("SELECT id FROM tickets WHERE id = $1 FOR UPDATE")
        .bind(&due.tickets[0])
        .fetch_optional(tx.conn())
        .await
        .map(|_| ())
        .or_else(|e| match backend {
            // SQLite has no row locks; its transaction holds the whole file.
            Backend::Sqlite => Ok(()),
            Backend::Postgres => Err(e),
        })
        .expect("lock the ticket");
    let now = micros(due.app.now());
    sqlx::query(
        "UPDATE escalations SET state = 'acknowledged', acknowledged_at = $1, \
         escalation_owner_id = $2, ack_due_at = NULL, updated_at = $1 WHERE id = $3",
    )
    .bind(now)
    .bind(&due.tom.id)
    .bind(&due.escalations[0])
    .execute(tx.conn())
    .await
    .expect("acknowledge from the other process");

    let state = due.state.clone();
    let mut batch = tokio::spawn(async move { fire_due(&state, 500).await });
    match backend {
        Backend::Postgres => {
            let fired = batch.await.expect("join").expect("fire");
            assert_eq!(fired, 1, "the ticket the other process holds is passed by");
            assert_eq!(due.moves(1).await, 1);
            assert_eq!(due.moves(0).await, 0);
            tx.commit().await.expect("the other writer commits");
            assert_eq!(
                fire_due(&due.state, 500).await.expect("fire"),
                1,
                "now the first ticket's timer is claimed"
            );
        }
        Backend::Sqlite => {
            // Not a timing verdict: a batch that got past the other writer's lock would
            // have finished by now, and one that waits is never wrong.
            let waited = tokio::time::timeout(Duration::from_millis(300), &mut batch).await;
            assert!(waited.is_err(), "the batch waits for the other writer");
            tx.commit().await.expect("the other writer commits");
            let fired = batch.await.expect("join").expect("fire");
            assert_eq!(fired, 2);
        }
    }
    other.close().await;

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
    assert_eq!(fire_due(&due.state, 500).await.expect("fire"), 0);
    assert_chain_intact(&due.app, &due.org).await;
}

/// The first escalation's stored SLA run is broken by hand. Its timer fails, is counted
/// and put back with a delay; the other timer of the same batch fires; reading the broken
/// escalation over HTTP answers 500 with a problem document rather than a made-up run.
async fn a_corrupt_escalation_is_set_aside_and_counted_while_the_rest_fire(backend: Backend) {
    let due = two_rung_timeouts_due(backend).await;
    sqlx::query("UPDATE escalations SET sla = '{\"position\": \"first\"' WHERE id = $1")
        .bind(&due.escalations[0])
        .execute(due.app.db.pool())
        .await
        .expect("corrupt the run");
    let (due_before, attempts) = due.timer(0).await;
    assert_eq!(attempts, 0);

    let before = micros(due.app.now());
    assert_eq!(fire_due(&due.state, 500).await.expect("fire"), 2);
    assert_eq!(due.moves(1).await, 1, "the sound timer fired");
    let (due_after, attempts) = due.timer(0).await;
    assert_eq!(attempts, 1, "the broken one is set aside");
    assert_eq!(
        due_after,
        before + 10_000_000,
        "ten seconds later, on the clock"
    );
    assert!(due_after > due_before);
    let metrics = due.state.metrics.render();
    assert!(
        metrics.contains("ladder_corrupt_rows_total{table=\"escalations\"} 1"),
        "{metrics}"
    );
    assert_eq!(
        fire_due(&due.state, 500).await.expect("fire"),
        0,
        "not retried before its delay"
    );

    let (s, problem) = due
        .app
        .get(
            &due.org.owner,
            &format!("/escalations/{}", due.escalations[0]),
        )
        .await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR, "{problem}");
    assert_eq!(problem["status"], 500);
    let (s, _) = due
        .app
        .get(&due.org.owner, &format!("/tickets/{}", due.tickets[0]))
        .await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    // The engine and the server share one state: the timer set aside, then the two reads.
    let served = due
        .app
        .client
        .get(format!("{}/metrics", due.app.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    assert!(
        served.contains("ladder_corrupt_rows_total{table=\"escalations\"} 3"),
        "{served}"
    );
    let moved = due.ticket(1).await;
    assert_eq!(moved["active_escalation"]["rung"], 2, "{moved}");
}

/// The first ticket's timer row is given a kind no build knows. The claim sets it apart: it
/// is put off ten seconds and counted, and the other timer of the batch fires.
async fn a_timer_that_does_not_read_back_is_set_aside_while_the_rest_fire(backend: Backend) {
    let due = two_rung_timeouts_due(backend).await;
    sqlx::query("UPDATE timers SET kind = 'remind_someone' WHERE id = $1")
        .bind(&due.tickets[0])
        .execute(due.app.db.pool())
        .await
        .expect("corrupt the timer");
    let now = micros(due.app.now());
    assert_eq!(fire_due(&due.state, 500).await.expect("fire"), 2);
    assert_eq!(due.moves(1).await, 1, "the sound timer fired");
    assert_eq!(due.moves(0).await, 0);
    assert_eq!(
        due.timer(0).await,
        (now + 10_000_000, 1),
        "put off, counted"
    );
    let metrics = due.state.metrics.render();
    assert!(
        metrics.contains("ladder_corrupt_rows_total{table=\"timers\"} 1"),
        "{metrics}"
    );
    assert_eq!(
        fire_due(&due.state, 500).await.expect("fire"),
        0,
        "not claimed again before its delay"
    );
}
