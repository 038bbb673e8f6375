//! Stored values that do not read back, written by hand: reading them through the API answers
//! 500 with a problem document, and the corrupt row is counted under its table.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Backend, Org, Session, TestApp, TicketBuilder};
use crate::on_both_databases;

on_both_databases!(
    an_audit_payload_that_is_not_json_is_an_error_and_breaks_the_chain,
    stored_triggers_that_do_not_read_back_refuse_a_merge,
    an_unknown_value_in_a_column_names_its_table,
    a_notification_payload_that_is_not_json_is_an_error,
    a_stored_policy_that_does_not_parse_is_an_error,
    packed_run_facts_that_do_not_read_back_are_an_error,
);

/// The corrupt rows counted so far under `table`, as `/metrics` shows them.
async fn corrupt_rows(app: &TestApp, table: &str) -> u64 {
    let text = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    let prefix = format!("ladder_corrupt_rows_total{{table=\"{table}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0, |n| n.trim().parse().expect("a count"))
}

async fn refused(app: &TestApp, who: &Session, path: &str) {
    let (s, problem) = app.get(who, path).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR, "{path}: {problem}");
    assert_eq!(problem["status"], 500, "{problem}");
}

async fn one_ticket(app: &TestApp, name: &str, saying: &str) -> (Org, String) {
    let org = app.org(name).await;
    let customer = org.customer(app, "Maria Lopez").await;
    let ticket = TicketBuilder::new(&customer)
        .about("A visit")
        .saying(saying)
        .open(app, &org.owner)
        .await;
    (org, ticket)
}

async fn exec(app: &TestApp, sql: &str, id: &str) {
    let done = sqlx::query(sql)
        .bind(id)
        .execute(app.db.pool())
        .await
        .expect("write by hand");
    assert_eq!(done.rows_affected(), 1, "{sql}");
}

/// A payload that is not JSON is not shown as a string: the ticket's trail answers 500. The
/// chain was hashed over the text as written, so `ladder audit verify` names the event.
async fn an_audit_payload_that_is_not_json_is_an_error_and_breaks_the_chain(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, ticket) = one_ticket(&app, "Payload Clinic", "Could I move my cleaning?").await;
    let (event,): (String,) =
        sqlx::query_as("SELECT id FROM audit_events WHERE ticket_id = $1 ORDER BY seq LIMIT 1")
            .bind(&ticket)
            .fetch_one(app.db.pool())
            .await
            .expect("the ticket's first event");
    assert_eq!(corrupt_rows(&app, "audit_events").await, 0);
    exec(
        &app,
        "UPDATE audit_events SET payload = '{\"subject\": ' WHERE id = $1",
        &event,
    )
    .await;
    refused(&app, &org.owner, &format!("/tickets/{ticket}/events")).await;
    assert_eq!(corrupt_rows(&app, "audit_events").await, 1);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(["audit", "verify"])
        .env("LADDER_DATABASE_URL", &app.url)
        .output()
        .expect("run ladder");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("BROKEN") && said.contains(&event), "{said}");
}

/// A trigger list whose kinds read (so the SLA reads it) but whose entries do not: the
/// customer's message that would add a trigger is refused, and the stored list is kept,
/// rather than replaced by the new trigger alone.
async fn stored_triggers_that_do_not_read_back_refuse_a_merge(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, ticket) = one_ticket(&app, "Trigger Clinic", "Could I move my cleaning?").await;
    let broken = r#"[{"kind": "legal_threat"}]"#;
    sqlx::query("UPDATE tickets SET triggers = $1 WHERE id = $2")
        .bind(broken)
        .bind(&ticket)
        .execute(app.db.pool())
        .await
        .expect("write by hand");
    let (s, problem) = app
        .post(&org.owner, &format!("/tickets/{ticket}/comments"), json!({"body": "I want to speak to your manager right now.", "public": true, "from_customer": true}))
        .await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR, "{problem}");
    assert_eq!(problem["status"], 500, "{problem}");
    assert_eq!(corrupt_rows(&app, "tickets").await, 1);
    let (kept,): (String,) = sqlx::query_as("SELECT triggers FROM tickets WHERE id = $1")
        .bind(&ticket)
        .fetch_one(app.db.pool())
        .await
        .expect("triggers");
    assert_eq!(kept, broken);
}

/// A vocabulary column holding a word the code does not know is counted under the table
/// that holds it (the column readers alone do not know it).
async fn an_unknown_value_in_a_column_names_its_table(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, ticket) = one_ticket(&app, "Vocabulary Clinic", "Could I move my cleaning?").await;
    let (customer,): (String,) = sqlx::query_as("SELECT customer_id FROM tickets WHERE id = $1")
        .bind(&ticket)
        .fetch_one(app.db.pool())
        .await
        .expect("customer");

    exec(
        &app,
        "UPDATE customers SET tier = 'gold' WHERE id = $1",
        &customer,
    )
    .await;
    refused(&app, &org.owner, &format!("/customers/{customer}")).await;
    assert_eq!(corrupt_rows(&app, "customers").await, 1);

    exec(
        &app,
        "UPDATE tickets SET status = 'limbo' WHERE id = $1",
        &ticket,
    )
    .await;
    refused(&app, &org.owner, &format!("/tickets/{ticket}")).await;
    assert_eq!(corrupt_rows(&app, "tickets").await, 1);
    assert_eq!(
        corrupt_rows(&app, "?").await,
        0,
        "every row named its table"
    );
}

/// An outbox message whose payload is not JSON: the ticket's notifications answer 500.
async fn a_notification_payload_that_is_not_json_is_an_error(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, ticket) = one_ticket(&app, "Outbox Clinic", "Could I move my cleaning?").await;
    let (s, esc) = app
        .post(&org.owner, &format!("/tickets/{ticket}/escalate"), json!({"category": "billing", "note": "Disputes a charge; tried the payment plan; needs a decision.", "contact_method": "call", "urgency": "urgent"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{esc}");
    let (message,): (String,) =
        sqlx::query_as("SELECT id FROM outbox WHERE ticket_id = $1 ORDER BY id LIMIT 1")
            .bind(&ticket)
            .fetch_one(app.db.pool())
            .await
            .expect("a message about the escalation");
    exec(
        &app,
        "UPDATE outbox SET payload = 'not json' WHERE id = $1",
        &message,
    )
    .await;
    refused(
        &app,
        &org.owner,
        &format!("/tickets/{ticket}/notifications"),
    )
    .await;
    assert_eq!(corrupt_rows(&app, "outbox").await, 1);
}

/// A saved policy that does not parse is not replaced by the built-in one: reading it and
/// opening a ticket (which routes by it) answer 500.
async fn a_stored_policy_that_does_not_parse_is_an_error(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Policy Clinic").await;
    let customer = org.customer(&app, "Maria Lopez").await;
    let (s, mut policy) = app.get(&org.owner, "/policy").await;
    assert_eq!(s, StatusCode::OK, "{policy}");
    policy["currency"] = json!("EUR");
    let saved = app.set_policy(&org.owner, policy).await;
    let version = saved["version"].as_i64().expect("a saved version");
    let done = sqlx::query(
        "UPDATE policies SET document = '{\"rules\": 7}' WHERE tenant_id = $1 AND version = $2",
    )
    .bind(&org.tenant_id)
    .bind(version)
    .execute(app.db.pool())
    .await
    .expect("write by hand");
    assert_eq!(done.rows_affected(), 1);
    refused(&app, &org.owner, "/policy").await;
    let (s, problem) = app
        .post(&org.owner, "/tickets", json!({"subject": "A visit", "description": "Could I move my cleaning?", "customer_id": customer, "channel": "email"}))
        .await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR, "{problem}");
    assert_eq!(corrupt_rows(&app, "policies").await, 2);
}

/// An escalation run whose packed facts (what a report reads) have a field too many, or are
/// missing: the escalation metrics answer 500 and count the row under `escalation_runs`.
async fn packed_run_facts_that_do_not_read_back_are_an_error(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (org, ticket) = one_ticket(&app, "Packed Clinic", "I want to speak to a manager.").await;
    let (s, e) = app
        .post(
            &org.owner,
            &format!("/tickets/{ticket}/escalate"),
            json!({"category": "complaint", "note": "The customer needs a decision.",
                   "contact_method": "call", "urgency": "standard"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    let report = "/metrics/escalations?from=2025-06-01&to=2025-06-30";
    let (s, r) = app.get(&org.owner, report).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["escalations"], 1);

    exec(
        &app,
        "UPDATE escalation_runs SET packed = packed || ',1' WHERE ticket_id = $1",
        &ticket,
    )
    .await;
    refused(&app, &org.owner, report).await;
    assert_eq!(corrupt_rows(&app, "escalation_runs").await, 1);

    exec(
        &app,
        "UPDATE escalation_runs SET packed = NULL WHERE ticket_id = $1",
        &ticket,
    )
    .await;
    refused(&app, &org.owner, report).await;
    assert_eq!(corrupt_rows(&app, "escalation_runs").await, 2);
}
