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

on_both_databases!(
    a_manual_escalation_carries_the_detected_triggers_unless_the_escalator_removes_them
);

async fn a_manual_escalation_carries_the_detected_triggers_unless_the_escalator_removes_them(
    b: Backend,
) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Carry Clinic").await;
    let agent = org.user(&app, "Rita Reception", "agent").await;
    let customer = org.customer(&app, "Maria Lopez").await;
    let mut tickets = Vec::new();
    for subject in ["First", "Second"] {
        let (s, t) = app
            .post(&agent, "/tickets", json!({"subject": subject, "description": "You charged me twice for the crown. I will sue you.", "customer_id": customer, "channel": "email"}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{t}");
        tickets.push(t["id"].as_str().expect("id").to_owned());
    }
    let body = json!({"category": "complaint", "note": "Customer is threatening to sue.",
                      "contact_method": "call", "urgency": "standard"});
    // No list: the escalation carries what was detected.
    let (s, e) = app
        .post(
            &agent,
            &format!("/tickets/{}/escalate", tickets[0]),
            body.clone(),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    let carried: Vec<&str> = e["triggers"]
        .as_array()
        .expect("triggers")
        .iter()
        .filter_map(|k| k.as_str())
        .collect();
    assert!(
        carried.contains(&"legal_threat") && carried.contains(&"billing_dispute"),
        "{e}"
    );
    let (_, events) = app
        .get(&agent, &format!("/tickets/{}/events", tickets[0]))
        .await;
    let escalated = events
        .as_array()
        .expect("events")
        .iter()
        .find(|ev| ev["kind"] == "escalated")
        .expect("the escalation is audited");
    assert_eq!(escalated["payload"]["triggers"], e["triggers"]);

    // The escalator's own list replaces it: here the billing dispute is removed.
    let mut chosen = body.clone();
    chosen["triggers"] = json!(["legal_threat"]);
    let (s, e) = app
        .post(&agent, &format!("/tickets/{}/escalate", tickets[1]), chosen)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    assert_eq!(e["triggers"], json!(["legal_threat"]));
    let (_, read) = app
        .get(
            &agent,
            &format!("/escalations/{}", e["id"].as_str().expect("id")),
        )
        .await;
    assert_eq!(read["triggers"], json!(["legal_threat"]), "{read}");
}
