//! The edges an outside tester pushes on: every read answered on both databases, bad bytes
//! and bad bodies refused, the headers a browser needs.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Backend, TestApp, TicketBuilder};
use crate::on_both_databases;

on_both_databases!(a_tickets_conversation_reads_back_with_its_flags,);

async fn a_tickets_conversation_reads_back_with_its_flags(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Talk Clinic").await;
    let customer = org.customer(&app, "Tess").await;
    let ticket = TicketBuilder::new(&customer).open(&app, &org.owner).await;
    let path = format!("/tickets/{ticket}/comments");
    for body in [
        json!({"body": "We are on it.", "public": true}),
        json!({"body": "Check the invoice first.", "public": false}),
        json!({"body": "Called her back.", "public": false, "logged_call": true}),
    ] {
        let (status, made) = app.post(&org.owner, &path, body).await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
    }

    let (status, list) = app.get(&org.owner, &path).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let flags: Vec<(bool, bool)> = list
        .as_array()
        .expect("a list of comments")
        .iter()
        .map(|c| {
            (
                c["public"].as_bool().expect("public"),
                c["logged_call"].as_bool().expect("logged_call"),
            )
        })
        .collect();
    assert_eq!(flags, [(true, false), (false, false), (false, true)]);
}
