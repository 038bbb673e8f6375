//! What keeps a session safe, seen from the browser: a form without its CSRF token changes
//! nothing, signing out ends the session for good, and another organisation's ticket is a
//! 404 page.

use reqwest::StatusCode;
use serde_json::json;

use crate::driver::Browser;
use crate::harness::{Backend, TestApp, TicketBuilder};
use crate::on_both_databases;

async fn forms_sessions_and_other_organisations(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let org = app.org("North Clinic").await;
    let other = app.org("South Clinic").await;
    let theirs_customer = other.customer(&app, "Sam South").await;
    let theirs = TicketBuilder::new(&theirs_customer)
        .about("South's own ticket")
        .open(&app, &other.owner)
        .await;
    let b = Browser::open(&app.base).await;
    b.sign_in(&org.slug, "owner@north-clinic.example", "owner-password")
        .await;

    // A form sent without its token (or with another session's) is refused: 403, nothing
    // changed, whether a page's form or a script posts it.
    let before = app.snapshot().await;
    b.go("/customers").await;
    b.client
        .execute(
            "document.querySelector('form[action=\"/customers\"] input[name=csrf]').remove()",
            vec![],
        )
        .await
        .expect("drop the token");
    b.fill("Name", "Forged Customer").await;
    b.press("Add customer").await;
    b.wait_for_text("h1", "Form expired").await;
    for body in [
        "subject=x&description=y&channel=phone&new_customer_name=Z",
        "csrf=00ff&subject=x&description=y&channel=phone&new_customer_name=Z",
    ] {
        let status = b
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 fetch('/tickets/new', {method: 'POST', body: arguments[0],
                   headers: {'Content-Type': 'application/x-www-form-urlencoded'}})
                   .then(r => done(r.status));",
                vec![json!(body)],
            )
            .await
            .expect("post");
        assert_eq!(status, json!(403), "{body}");
    }
    assert_eq!(
        app.snapshot().await,
        before,
        "a refused form changed nothing"
    );

    // Another organisation's ticket and customer are not found, as pages.
    b.go(&format!("/tickets/{theirs}")).await;
    b.wait_for_text("h1", "Not found").await;
    assert!(!b.text().await.contains("South's own ticket"));
    let status = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(arguments[0]).then(r => done(r.status));",
            vec![json!(format!("/tickets/{theirs}"))],
        )
        .await
        .expect("fetch");
    assert_eq!(status, json!(404));
    b.go(&format!("/customers/{theirs_customer}")).await;
    b.wait_for_text("h1", "Not found").await;

    // Signing out ends the session: the old cookie opens nothing any more.
    let cookie = b.cookie("ladder_session").await.expect("signed in");
    b.press("Sign out").await;
    b.wait_for("the sign-in page", "return location.pathname === '/login'")
        .await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let res = client
        .get(format!("{}/queues/mine", app.base))
        .header("cookie", format!("ladder_session={cookie}"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(to.starts_with("/login"), "{to}");

    // Platform support's queue holds every organisation's escalations to the platform, with
    // the organisation's name; an organisation's own people are not let in.
    let (status, esc) = app
        .post(
            &other.owner,
            &format!("/tickets/{theirs}/escalate"),
            json!({"target": {"kind": "platform"}, "category": "legal",
                   "note": "Needs the platform's legal review", "contact_method": "email",
                   "urgency": "urgent"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{esc}");
    ladder_server::provision::create_platform_user(
        &app.db,
        "pat@platform.example",
        "Pat Platform",
        "platform-pass",
        app.now(),
    )
    .await
    .expect("a platform user");
    b.sign_in("platform", "pat@platform.example", "platform-pass")
        .await;
    b.press("All organisations").await;
    b.wait_for_text("table.queue", "South's own ticket").await;
    b.wait_for_text("table.queue", "South Clinic").await;
    b.press("Sign out").await;
    b.sign_in(&org.slug, "owner@north-clinic.example", "owner-password")
        .await;
    b.go("/platform").await;
    b.wait_for_text("h1", "Not allowed").await;
    b.close().await;
}

on_both_databases!(forms_sessions_and_other_organisations);
