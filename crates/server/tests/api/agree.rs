//! What the flows say agrees with itself: counters with the audit trail, the rung an
//! escalation stands on with its event (in `sla.rs`), who may read and change what.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Backend, TestApp, TicketBuilder};
use crate::on_both_databases;

on_both_databases!(
    an_auditor_reads_the_policy_but_cannot_change_it,
    an_escalated_tickets_priority_is_lowered_only_by_a_manager,
    metrics_count_what_the_audit_trail_records,
);

async fn an_auditor_reads_the_policy_but_cannot_change_it(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Audit Clinic").await;
    let auditor = org.user(&app, "Audrey Auditor", "auditor").await;
    let (status, policy) = app.get(&auditor, "/policy").await;
    assert_eq!(status, StatusCode::OK, "{policy}");
    let (_, owners) = app.get(&org.owner, "/policy").await;
    assert_eq!(policy, owners);
    let before = app.snapshot().await;
    let (status, problem) = app.put(&auditor, "/policy", policy).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(app.snapshot().await, before);
}

async fn an_escalated_tickets_priority_is_lowered_only_by_a_manager(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Law Clinic").await;
    let agent = org.user(&app, "Ann Agent", "agent").await;
    let customer = org.customer(&app, "Lee").await;
    let ticket = TicketBuilder::new(&customer)
        .saying("My lawyer will be in touch about the extraction.")
        .open(&app, &agent)
        .await;
    let (status, e) = app
        .post(
            &agent,
            &format!("/tickets/{ticket}/escalate"),
            json!({"category": "legal", "note": "Threatens to sue", "contact_method": "call", "urgency": "urgent"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{e}");
    let path = format!("/tickets/{ticket}");
    let (_, t) = app.get(&agent, &path).await;
    let escalated_priority = t["priority"].clone();
    assert_ne!(escalated_priority, "low");

    // The agent who escalated it may not make it look smaller...
    let before = app.snapshot().await;
    let (status, problem) = app.patch(&agent, &path, json!({"priority": "low"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(
        app.snapshot().await,
        before,
        "a refused change wrote something"
    );
    // ...but may raise it, and the owner may lower it.
    let (status, t) = app
        .patch(&agent, &path, json!({"priority": "critical"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    let (status, t) = app
        .patch(&org.owner, &path, json!({"priority": "low"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["priority"], "low");
}

/// The `ladder_domain_events_total` counter of each kind, as `/metrics` shows it.
async fn counted(app: &TestApp, kind: &str) -> i64 {
    let text = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    let prefix = format!("ladder_domain_events_total{{kind=\"{kind}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0, |n| n.trim().parse().expect("a count"))
}

async fn metrics_count_what_the_audit_trail_records(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Count Co").await;
    let spec = org.user(&app, "Sam Specialist", "specialist").await;
    let team = org.team(&app, "Billing", &[&spec]).await;
    let customer = org.customer(&app, "Harbor Cafe").await;
    let escalate = json!({"target": {"kind": "team", "id": team}, "category": "billing", "note": "Wants money back", "contact_method": "call", "urgency": "standard"});

    // One resolved at once, one through an approval; each acknowledged twice (the second
    // changes nothing).
    for amount in [5_000, 150_000] {
        let ticket = TicketBuilder::new(&customer).open(&app, &spec).await;
        let (_, esc) = app
            .post(
                &spec,
                &format!("/tickets/{ticket}/escalate"),
                escalate.clone(),
            )
            .await;
        let esc = esc["id"].as_str().expect("id").to_owned();
        for _ in 0..2 {
            let (s, a) = app
                .post(&spec, &format!("/escalations/{esc}/acknowledge"), json!({}))
                .await;
            assert_eq!(s, StatusCode::OK, "{a}");
        }
        let (s, out) = app
            .post(
                &spec,
                &format!("/escalations/{esc}/resolve"),
                json!({"summary": "Refund", "compensation": {"kind": "refund", "amount": amount}}),
            )
            .await;
        assert!(s.is_success(), "{out}");
        if let Some(approval) = out["approval"]["id"].as_str() {
            let (s, a) = app
                .post(
                    &org.owner,
                    &format!("/approvals/{approval}/approve"),
                    json!({"reason": "fine"}),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{a}");
        }
    }

    let mut compared = 0;
    for kind in [
        "ticket_created",
        "escalated",
        "acknowledged",
        "resolved",
        "approval_requested",
        "approval_granted",
    ] {
        let audited = app
            .count(&format!(
                "SELECT COUNT(*) FROM audit_events WHERE kind = '{kind}'"
            ))
            .await;
        assert_eq!(counted(&app, kind).await, audited, "{kind}");
        compared += audited;
    }
    assert_eq!(compared, 2 + 2 + 2 + 2 + 1 + 1);
}
