//! Triggers detected on new tickets and inbound customer messages.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Backend, TestApp};
use crate::on_both_databases;

on_both_databases!(new_ticket_and_inbound_message_show_their_triggers_with_evidence);

async fn new_ticket_and_inbound_message_show_their_triggers_with_evidence(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Trigger Clinic").await;
    let agent = org.user(&app, "Rita Reception", "agent").await;
    let customer = org.customer(&app, "Maria Lopez").await;
    let text = "You charged me for a crown I never got. I will sue you for false advertising.";
    let (s, t) = app
        .post(&agent, "/tickets", json!({"subject": "Crown", "description": text, "customer_id": customer, "channel": "email"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    let triggers = t["triggers"].as_array().expect("triggers");
    let legal = triggers
        .iter()
        .find(|f| f["kind"] == "legal_threat")
        .expect("legal threat detected");
    assert_eq!(legal["mode"], "suggest");
    let span = &legal["evidence"][0];
    // Evidence points into "Crown\n\n<description>" (subject, blank line, description).
    let full = format!("Crown\n\n{text}");
    let (start, end) = (
        span["start"].as_u64().expect("start") as usize,
        span["end"].as_u64().expect("end") as usize,
    );
    assert_eq!(&full[start..end], span["text"].as_str().expect("text"));
    let said = span["text"].as_str().unwrap_or("").to_lowercase();
    assert!(
        said.contains("sue") || said.contains("false advertising"),
        "{span}"
    );

    // A calm ticket stays quiet; the customer's angry follow-up adds its triggers.
    let id = t["id"].as_str().expect("id");
    let (_, calm) = app
        .post(&agent, "/tickets", json!({"subject": "Reschedule", "description": "Could I move my cleaning to Thursday? Thanks!", "customer_id": customer, "channel": "web"}))
        .await;
    assert!(calm["triggers"]
        .as_array()
        .expect("triggers")
        .iter()
        .all(|f| f["kind"] != "legal_threat"));
    let (s, _) = app
        .post(&agent, &format!("/tickets/{id}/comments"), json!({"body": "I want to speak to your manager right now.", "public": true, "from_customer": true}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, t) = app.get(&agent, &format!("/tickets/{id}")).await;
    let kinds: Vec<&str> = t["triggers"]
        .as_array()
        .expect("triggers")
        .iter()
        .filter_map(|f| f["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"legal_threat") && kinds.contains(&"manager_request"),
        "{kinds:?}"
    );
    let (_, events) = app.get(&agent, &format!("/tickets/{id}/events")).await;
    assert!(
        events[0]["payload"]["triggers"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "detection is audited"
    );
}
