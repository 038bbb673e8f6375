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
    responses_carry_security_headers_and_405_is_a_problem,
    the_bearer_scheme_is_case_insensitive,
    a_password_of_spaces_is_refused,
    emails_are_one_user_whatever_their_case,
    a_refused_approver_is_told_whose_approval_it_is,
    an_unlimited_authority_is_null_and_a_policy_read_saves_back,
    a_nul_in_any_field_is_refused_naming_it,
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

async fn responses_carry_security_headers_and_405_is_a_problem(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Head Clinic").await;
    let url = |p: &str| format!("{}{p}", app.base);
    let login = app
        .client
        .post(url("/api/v1/auth/login"))
        .json(&json!({"tenant": org.slug, "email": "owner@head-clinic.example", "password": "owner-password"}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), StatusCode::OK);
    assert_eq!(
        login.headers()["cache-control"],
        "no-store",
        "a token must not be cached"
    );
    let responses = [
        login,
        app.client
            .get(url("/healthz"))
            .send()
            .await
            .expect("healthz"),
        app.client
            .get(url("/api/v1/users"))
            .send()
            .await
            .expect("401"),
        app.client
            .get(url("/api/v1/nowhere"))
            .send()
            .await
            .expect("404"),
        app.client
            .get(url("/api/v1/users"))
            .bearer_auth(&org.owner.token)
            .send()
            .await
            .expect("200"),
    ];
    for res in &responses {
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{}", res.url());
        assert_eq!(h["x-frame-options"], "DENY", "{}", res.url());
        assert_eq!(h["referrer-policy"], "no-referrer", "{}", res.url());
    }

    let res = app
        .client
        .delete(url("/api/v1/users"))
        .bearer_auth(&org.owner.token)
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let allow = res.headers()["allow"].to_str().expect("allow").to_owned();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    let problem: serde_json::Value = res.json().await.expect("a problem document");
    assert_eq!(problem["status"], 405, "{problem}");
}

async fn the_bearer_scheme_is_case_insensitive(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Case Clinic").await;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let res = app
            .client
            .get(format!("{}/api/v1/users", app.base))
            .header("authorization", format!("{scheme} {}", org.owner.token))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), StatusCode::OK, "{scheme}");
    }
    let res = app
        .client
        .get(format!("{}/api/v1/users", app.base))
        .header("authorization", format!("Basic {}", org.owner.token))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

async fn a_password_of_spaces_is_refused(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Space Clinic").await;
    let (status, problem) = app
        .post(
            &org.owner,
            "/users",
            json!({"email": "sam@space.example", "name": "Sam", "role": "agent", "password": "        "}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["field"], "password");
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
}

async fn emails_are_one_user_whatever_their_case(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Mail Clinic").await;
    let other = app.org("Other Clinic").await;
    let user = |email: &str| json!({"email": email, "name": "Olivia", "role": "agent", "password": "password-123"});
    let (status, made) = app
        .post(&org.owner, "/users", user("OLIVIA@mail.example"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let (status, problem) = app
        .post(&org.owner, "/users", user("olivia@mail.example"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    // Another organisation may have its own Olivia.
    let (status, made) = app
        .post(&other.owner, "/users", user("olivia@mail.example"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");

    let signed_in = app
        .login(&org.slug, "olivia@MAIL.example", "password-123")
        .await;
    let (_, me) = app
        .get(&org.owner, &format!("/users/{}", signed_in.id))
        .await;
    assert_eq!(
        me["email"], "OLIVIA@mail.example",
        "the address is kept as given"
    );
}

async fn a_refused_approver_is_told_whose_approval_it_is(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Grant Co").await;
    let spec = org.user(&app, "Sam Specialist", "specialist").await;
    let admin = org.user(&app, "Ada Admin", "admin").await;
    let team = org.team(&app, "Billing", &[&spec]).await;
    let customer = org.customer(&app, "Harbor Cafe").await;
    let ticket = TicketBuilder::new(&customer).open(&app, &spec).await;
    let (_, esc) = app.post(&spec, &format!("/tickets/{ticket}/escalate"), json!({"target": {"kind": "team", "id": team}, "category": "billing", "note": "Wants $1,500 back", "contact_method": "call", "urgency": "standard"})).await;
    let esc = esc["id"].as_str().expect("id").to_owned();
    app.post(&spec, &format!("/escalations/{esc}/acknowledge"), json!({}))
        .await;
    // $1,500 is above an admin's default $1,000 limit: only an owner may grant it.
    let (s, out) = app
        .post(
            &spec,
            &format!("/escalations/{esc}/resolve"),
            json!({"summary": "Refund", "compensation": {"kind": "refund", "amount": 150000}}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{out}");
    assert_eq!(out["approval"]["approver_role"], "owner");
    let approval = out["approval"]["id"].as_str().expect("approval").to_owned();
    let (s, problem) = app
        .post(
            &admin,
            &format!("/approvals/{approval}/approve"),
            json!({"reason": "fine"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        problem["detail"],
        "this approval is for an owner or someone whose limit covers the amount"
    );
}

async fn an_unlimited_authority_is_null_and_a_policy_read_saves_back(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Limit Co").await;
    let (status, policy) = app.get(&org.owner, "/policy").await;
    assert_eq!(status, StatusCode::OK, "{policy}");
    assert_eq!(
        policy["authority_limits"]["owner"],
        serde_json::Value::Null,
        "{policy}"
    );
    assert_eq!(policy["authority_limits"]["admin"], 100_000);

    // What a browser reads it saves back: null stays unlimited, and an admin may be made
    // unlimited too.
    let mut edited = policy.clone();
    edited["authority_limits"]["admin"] = serde_json::Value::Null;
    let saved = app.set_policy(&org.owner, edited).await;
    assert_eq!(
        saved["authority_limits"]["owner"],
        serde_json::Value::Null,
        "{saved}"
    );
    assert_eq!(
        saved["authority_limits"]["admin"],
        serde_json::Value::Null,
        "{saved}"
    );
    let (_, read) = app.get(&org.owner, "/policy").await;
    assert_eq!(read["authority_limits"], saved["authority_limits"]);

    let mut bad = read.clone();
    bad["authority_limits"]["agent"] = json!("lots");
    let (status, problem) = app.put(&org.owner, "/policy", bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
}

async fn a_nul_in_any_field_is_refused_naming_it(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Nul Clinic").await;
    let customer = org.customer(&app, "Nia").await;
    let before = app.snapshot().await;
    let (status, problem) = app
        .call(
            "POST",
            None,
            "/auth/login",
            Some(json!({"tenant": org.slug, "email": "owner\u{0}@nul-clinic.example", "password": "owner-password"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["field"], "email");
    let (status, problem) = app
        .post(
            &org.owner,
            "/tickets",
            json!({"subject": "Hi", "description": "Hello", "customer_id": format!("{customer}\u{0}"), "channel": "email"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["field"], "customer_id");
    let (status, problem) = app
        .post(
            &org.owner,
            "/teams",
            json!({"name": "Crew", "members": [org.owner.id, "u\u{0}"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["field"], "members[1]");
    assert_eq!(
        app.snapshot().await,
        before,
        "a refused body wrote something"
    );

    // In a URL too: an id with a NUL in it.
    for path in [
        "/users/u%00".to_owned(),
        format!("/customers/{customer}%00"),
        "/queues/mine?cursor=%00".to_owned(),
    ] {
        let (status, problem) = app.get(&org.owner, &path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {problem}");
    }
}
