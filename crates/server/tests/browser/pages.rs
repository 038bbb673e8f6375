//! The owner's and the front desk's other pages, as a person uses them: a new ticket for a new
//! customer, the customer's page, search, people and teams (with "away until"), the policy
//! with "Try a ticket" and "Edit as file", approvals; axe-core on each.

use jiff::SignedDuration;
use reqwest::StatusCode;
use serde_json::json;

use crate::driver::{Browser, PHONE, WINDOW};
use crate::harness::{Backend, Org, Session, TestApp};
use crate::on_both_databases;

async fn the_owner_works_through_the_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let org = app.org("Harbour Clinic").await;
    let desk = org.user(&app, "Rita Desk", "agent").await;
    let b = Browser::open(&app.base).await;
    b.sign_in(&org.slug, "owner@harbour-clinic.example", "owner-password")
        .await;

    // New ticket, for a customer added on the spot; then the ticket's page.
    b.go("/tickets/new").await;
    b.assert_accessible().await;
    b.shoot("new-ticket").await;
    b.press("Open ticket").await;
    b.wait_for_text(".error", "Write a subject").await;
    assert_eq!(app.count("SELECT COUNT(*) FROM tickets").await, 0);
    b.fill("Subject", "Billing mistake on the June invoice")
        .await;
    b.fill(
        "Description",
        "You charged me twice. I'll take this to small claims court.",
    )
    .await;
    b.css("details.more summary")
        .await
        .click()
        .await
        .expect("open");
    b.fill("Name", "Maria Lopez").await;
    b.fill("Email", "maria@example.com").await;
    b.choose("Tier", "VIP").await;
    b.choose("Category", "Billing").await;
    b.press("Open ticket").await;
    b.wait_for(
        "the new ticket's page",
        "return location.pathname.startsWith('/tickets/') && location.pathname !== '/tickets/new'",
    )
    .await;
    b.wait_for_text("h1", "Billing mistake on the June invoice")
        .await;
    let ticket = b.path().await;
    assert!(ticket.starts_with("/tickets/"), "{ticket}");
    assert_eq!(app.count("SELECT COUNT(*) FROM customers").await, 1);

    // The customer's page: tier and history; the customers list finds her.
    b.go("/customers?q=lopez").await;
    b.press("Maria Lopez").await;
    b.wait_for_text("h1", "Maria Lopez").await;
    b.wait_for_text(".ticket-head", "VIP").await;
    b.wait_for_text("main", "Billing mistake on the June invoice")
        .await;
    b.assert_accessible().await;
    b.shoot("customer").await;

    // Search by words of the subject and by the customer's email.
    b.go("/search?q=june%20invoice").await;
    b.wait_for_text("#found-tickets + table", "Billing mistake")
        .await;
    b.go("/search?q=maria@example").await;
    b.wait_for_text("#found-customers + ul", "Maria Lopez")
        .await;
    b.assert_accessible().await;

    // People: add a person and a team; away until tomorrow from the top bar.
    b.go("/people").await;
    b.assert_accessible().await;
    b.fill("Name", "Tom Night").await;
    b.fill("Email", "not-an-address").await;
    b.fill("First password", "night-shift-1").await;
    b.press("Add person").await;
    b.wait_for_text("#u-email-error", "").await;
    b.fill("Email", "tom@harbour-clinic.example").await;
    b.fill("First password", "night-shift-1").await;
    b.press("Add person").await;
    b.wait_for_text(".flash", "Tom Night can sign in now.")
        .await;
    b.fill("Team name", "Billing desk").await;
    b.css("label.check input[type=checkbox]")
        .await
        .click()
        .await
        .expect("tick a member");
    b.press("Add team").await;
    b.wait_for_text(".flash", "Team Billing desk added.").await;
    b.wait_for_text("main", "Billing desk:").await;
    b.shoot("people").await;
    b.css(".top a.who").await.click().await.expect("open");
    b.wait_for_text("h1", "Your availability").await;
    b.set("Away until", "2025-06-03T09:00").await;
    b.press("Set away").await;
    b.wait_for_text(".flash", "You are away until").await;
    let (_, me) = app
        .get(&org.owner, &format!("/users/{}", org.owner.id))
        .await;
    assert_eq!(me["away_until"], json!("2025-06-03T09:00:00Z"));

    // Policy: the rules in order, the simulator, and a file with a mistake refused at its line.
    b.go("/policy").await;
    b.wait_for_text("table.rules", "every ticket").await;
    b.choose("Category", "Legal").await;
    b.press("Try it").await;
    b.wait_for_text(".result", "must acknowledge by").await;
    b.assert_accessible().await;
    b.assert_light().await;
    b.shoot("policy").await;
    b.press("Edit as file").await;
    let toml = b
        .field("Policy (TOML)")
        .await
        .prop("value")
        .await
        .expect("read the file")
        .expect("the file");
    let broken = toml.replacen("[[rules]]", "[[rules]]\nmoods = \"cross\"", 1);
    b.client
        .execute(
            "document.getElementById('toml').value = arguments[0]",
            vec![json!(broken)],
        )
        .await
        .expect("edit the file");
    let versions = app.count("SELECT COUNT(*) FROM policies").await;
    b.press("Check and save").await;
    b.wait_for_text(".problems", "Not saved").await;
    b.wait_for_text(".problems .error", "Line ").await;
    b.wait_for_text("pre.at-fault", "moods").await;
    assert_eq!(app.count("SELECT COUNT(*) FROM policies").await, versions);
    b.assert_accessible().await;

    // Approvals: a compensation above a specialist's authority waits for the owner.
    let ticket_id = ticket.trim_start_matches("/tickets/").to_owned();
    approval_waiting(&app, &org, &desk, &ticket_id).await;
    b.go("/approvals").await;
    b.wait_for_text(".approvals", "Refund").await;
    b.assert_accessible().await;
    b.press("Approve").await;
    b.wait_for_text(".error", "Say why").await;
    b.fill("Reason", "Charged twice, confirmed on the statement")
        .await;
    b.press("Approve").await;
    b.wait_for_text(".flash", "Approved").await;
    let (_, pending) = app.get(&org.owner, "/approvals").await;
    assert_eq!(pending, json!([]));

    // At phone width the pages still fit: nothing wider than the screen.
    b.client
        .set_window_size(PHONE.0, PHONE.1)
        .await
        .expect("phone width");
    for page in ["/tickets/new", "/policy", "/people", "/approvals"] {
        b.go(page).await;
        b.wait_for(
            &format!("{page} to fit a phone"),
            "return document.documentElement.scrollWidth <= window.innerWidth + 1",
        )
        .await;
    }
    b.client
        .set_window_size(WINDOW.0, WINDOW.1)
        .await
        .expect("back to the desk");
    b.close().await;
}

/// The desk escalates the ticket to the billing team; its specialist acknowledges and, in
/// the browser, resolves with a refund above a specialist's limit: the Resolve button turns
/// into "Request approval" (saying who approves) as the amount passes the limit, and back.
async fn approval_waiting(app: &TestApp, org: &Org, desk: &Session, ticket: &str) {
    let spec = org.user(app, "Sam Specialist", "specialist").await;
    let team = org.team(app, "Refunds", &[&spec]).await;
    let (status, esc) = app
        .post(
            desk,
            &format!("/tickets/{ticket}/escalate"),
            json!({"target": {"kind": "team", "id": team}, "category": "billing",
                   "note": "Charged twice", "contact_method": "call", "urgency": "standard"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{esc}");
    let id = esc["id"].as_str().expect("id");
    let (status, body) = app
        .post(&spec, &format!("/escalations/{id}/acknowledge"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let sam = Browser::open(&app.base).await;
    sam.sign_in(
        &org.slug,
        &format!("sam.specialist@{}.example", org.slug),
        "password-123",
    )
    .await;
    sam.go(&format!("/tickets/{ticket}")).await;
    sam.fill("Summary", "Refund the double charge").await;
    sam.choose("Compensation", "Refund").await;
    sam.fill("Amount", "150").await;
    let button = "return document.getElementById('resolve-submit').textContent";
    sam.wait_for(
        "Resolve within the limit",
        &format!("{button} === 'Resolve'"),
    )
    .await;
    sam.fill("Amount", "450").await;
    sam.wait_for(
        "Request approval above the limit",
        &format!("{button} === 'Request approval'"),
    )
    .await;
    sam.wait_for_text("#res-approver", "An admin's approval is needed first")
        .await;
    sam.press("Request approval").await;
    sam.wait_for_text(".flash", "it waits for an admin's approval")
        .await;
    sam.wait_for_text("#escalation-panel", "waiting for an admin's approval")
        .await;
    sam.close().await;
    let (_, pending) = app.get(&org.owner, "/approvals").await;
    assert_eq!(pending.as_array().map(Vec::len), Some(1), "{pending}");
}

on_both_databases!(
    the_owner_works_through_the_pages,
    the_owner_reads_the_reports
);

/// Six weeks of a clinic's front desk: tickets every working day, an escalation every other
/// day, acknowledged, answered and resolved at varying speeds (some with a refund, one
/// reopened); then the owner reads the reports page.
async fn the_owner_reads_the_reports(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let org = app.org("Harbour Clinic").await;
    let mut customers = Vec::new();
    for name in [
        "Maria Lopez",
        "Tom Baker",
        "Ines Duarte",
        "Sam Okafor",
        "Ana Silva",
        "Joe Marsh",
        "Lena Vogt",
        "Omar Haddad",
    ] {
        customers.push(org.customer(&app, name).await);
    }
    let mut n = 0usize;
    for day in 0..42i64 {
        // Weekends are quiet.
        if day % 7 >= 5 {
            app.advance(SignedDuration::from_hours(24)).await;
            continue;
        }
        let owner = app
            .login(&org.slug, "owner@harbour-clinic.example", "owner-password")
            .await;
        let mut ticket = String::new();
        for i in 0..3 {
            let (s, t) = app
                .post(
                    &owner,
                    "/tickets",
                    json!({"subject": format!("Appointment question {day}-{i}"),
                           "description": "Can I move my appointment?",
                           "customer_id": customers[(day as usize / 2 + i * 3) % 8], "channel": "phone",
                           "category": if i == 2 { "complaint" } else { "other" }}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{t}");
            ticket = t["id"].as_str().expect("id").to_owned();
        }
        if day % 2 == 0 {
            n += 1;
            let (s, e) = app
                .post(
                    &owner,
                    &format!("/tickets/{ticket}/escalate"),
                    json!({"category": "complaint", "note": "Wants to speak to a manager.",
                           "contact_method": "call", "urgency": "standard"}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{e}");
            let id = e["id"].as_str().expect("id").to_owned();
            // Slower in the middle weeks, quicker again once the desk caught up.
            let slow = (10..28).contains(&day);
            app.advance(SignedDuration::from_mins(if slow { 50 } else { 15 }))
                .await;
            let (s, v) = app
                .post(&owner, &format!("/escalations/{id}/acknowledge"), json!({}))
                .await;
            assert!(s.is_success(), "{v}");
            app.advance(SignedDuration::from_mins(if slow { 70 } else { 20 }))
                .await;
            let (s, v) = app
                .post(
                    &owner,
                    &format!("/tickets/{ticket}/comments"),
                    json!({"body": "We are looking into it today.", "public": true}),
                )
                .await;
            assert!(s.is_success(), "{v}");
            if !n.is_multiple_of(5) {
                app.advance(SignedDuration::from_hours(if slow { 5 } else { 2 }))
                    .await;
                let compensation = if n.is_multiple_of(3) {
                    json!({"kind": "refund", "amount": 2500})
                } else {
                    json!(null)
                };
                let (s, v) = app
                    .post(
                        &owner,
                        &format!("/escalations/{id}/resolve"),
                        json!({"summary": "Moved the appointment.", "compensation": compensation}),
                    )
                    .await;
                assert!(s.is_success(), "{v}");
            }
        }
        app.advance(SignedDuration::from_hours(24)).await;
    }
    let b = Browser::open(&app.base).await;
    b.sign_in(&org.slug, "owner@harbour-clinic.example", "owner-password")
        .await;
    b.go("/reports").await;
    b.press("Last quarter").await;
    b.wait_for_text("h2.period", "Apr 2025").await;
    b.choose("Group by", "Week").await;
    b.set("From", "2025-06-02").await;
    b.set("To", "2025-07-13").await;
    b.press("Show").await;
    b.wait_for_text("h2.period", "2 Jun 2025 – 13 Jul 2025")
        .await;
    b.wait_for_text("table.figures", "Week of 7 Jul 2025").await;
    b.assert_accessible().await;
    b.shoot("reports").await;
    // A period that ends before it begins is refused beside the form.
    b.set("To", "2025-05-01").await;
    b.press("Show").await;
    b.wait_for_text(".problems", "must come after from").await;
    b.assert_accessible().await;
    b.close().await;
}
