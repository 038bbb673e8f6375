//! The edges an outside tester pushes on: every read answered on both databases, bad bytes
//! and bad bodies refused, the headers a browser needs.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Backend, TestApp, TicketBuilder};
use crate::on_both_databases;

on_both_databases!(
    a_tickets_conversation_reads_back_with_its_flags,
    control_characters_in_text_are_refused_naming_the_field,
    a_body_with_anything_after_its_document_is_refused,
);

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

async fn control_characters_in_text_are_refused_naming_the_field(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Byte Clinic").await;
    let customer = org.customer(&app, "Bea").await;
    let ticket = TicketBuilder::new(&customer).open(&app, &org.owner).await;
    let before = app.snapshot().await;
    let ticket_body = |subject: &str, description: &str| json!({"subject": subject, "description": description, "customer_id": customer, "channel": "email"});
    let cases = [
        (
            "/tickets".to_owned(),
            ticket_body("Bad\u{0}subject", "Hello"),
            "subject",
        ),
        (
            "/tickets".to_owned(),
            ticket_body("Line\nbreak", "Hello"),
            "subject",
        ),
        (
            "/tickets".to_owned(),
            ticket_body("Fine", "Nul \u{0} here"),
            "description",
        ),
        (
            "/tickets".to_owned(),
            ticket_body("Fine", "Escape \u{1b}[2J"),
            "description",
        ),
        (
            format!("/tickets/{ticket}/comments"),
            json!({"body": "hi\u{0}", "public": false}),
            "body",
        ),
        (
            "/customers".to_owned(),
            json!({"name": "Nul\u{0}Customer"}),
            "name",
        ),
        (
            "/customers".to_owned(),
            json!({"name": "Cy", "email": "cy\u{0}@example.com"}),
            "email",
        ),
        (
            "/teams".to_owned(),
            json!({"name": "Team\u{7}", "members": []}),
            "name",
        ),
        (
            "/users".to_owned(),
            json!({"email": "u@byte.example", "name": "Ug\u{0}", "role": "agent", "password": "password-123"}),
            "name",
        ),
    ];
    for (path, body, field) in cases {
        let (status, problem) = app.post(&org.owner, &path, body).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {problem}"
        );
        assert_eq!(problem["field"], field, "{path}: {problem}");
    }
    assert_eq!(
        app.snapshot().await,
        before,
        "a refused body wrote something"
    );

    // Long text keeps its lines and tabs.
    let (status, made) = app
        .post(
            &org.owner,
            &format!("/tickets/{ticket}/comments"),
            json!({"body": "Dear Bea,\r\n\tpaid.\nBye", "public": false}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["body"], "Dear Bea,\r\n\tpaid.\nBye");
}

async fn a_body_with_anything_after_its_document_is_refused(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Tail Clinic").await;
    let before = app.snapshot().await;
    let one = r#"{"name": "Tailed", "tier": "standard"}"#;
    for body in [
        format!("{one}xx"),
        format!("{one}{one}"),
        format!("{one} 1"),
    ] {
        let res = app
            .client
            .post(format!("{}/api/v1/customers", app.base))
            .bearer_auth(&org.owner.token)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            res.headers()["content-type"],
            "application/problem+json",
            "{body}"
        );
    }
    assert_eq!(
        app.snapshot().await,
        before,
        "a refused body wrote something"
    );
    // Trailing whitespace is still one document.
    let res = app
        .client
        .post(format!("{}/api/v1/customers", app.base))
        .bearer_auth(&org.owner.token)
        .header("content-type", "application/json")
        .body(format!("{one} \r\n"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::CREATED);
}
