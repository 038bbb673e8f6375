//! The main pages of the escalation flow, checked with axe-core, weighed (under 100 KB with
//! their stylesheet and script) and photographed for the README (`scripts/screenshots`): the
//! owner's escalations queue, a ticket with the Escalate dialog open, and the escalation
//! panel once acknowledged.

use reqwest::StatusCode;
use serde_json::json;

use crate::driver::Browser;
use crate::harness::{Backend, TestApp, TicketBuilder};
use crate::on_both_databases;

async fn the_main_pages_pass_axe(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let org = app.org("Bayside Dental").await;
    let desk = org.user(&app, "Rosa Front", "agent").await;
    let maria = org.customer(&app, "Maria Lopez").await;
    let ken = org.customer(&app, "Ken Ito").await;
    let ticket = TicketBuilder::new(&maria)
        .about("Charged twice for the cleaning")
        .saying("You charged my card twice. If this is not refunded I'll take this to small claims court.")
        .open(&app, &desk)
        .await;
    // Something already waiting in the owner's queue, so the queue is not empty.
    let other = TicketBuilder::new(&ken)
        .about("Crown came loose two days after fitting")
        .saying("The crown you fitted on Monday came off at dinner.")
        .open(&app, &desk)
        .await;
    let (status, body) = app
        .post(
            &desk,
            &format!("/tickets/{other}/escalate"),
            json!({"category": "clinical", "note": "Needs the dentist to call him today",
                   "contact_method": "call", "urgency": "urgent"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let (front, owner) = tokio::join!(Browser::open(&app.base), Browser::open(&app.base));
    front
        .sign_in(
            &org.slug,
            "rosa.front@bayside-dental.example",
            "password-123",
        )
        .await;
    owner
        .sign_in(&org.slug, "owner@bayside-dental.example", "owner-password")
        .await;

    // The receptionist opens the Escalate dialog from the trigger banner.
    front.go(&format!("/tickets/{ticket}")).await;
    front.wait_for_text(".banner", "Legal threat").await;
    front.press("Escalate with these").await;
    front
        .wait_for(
            "the Escalate dialog",
            "return !!document.querySelector('dialog[open]')",
        )
        .await;
    front
        .fill(
            "What is the issue and why escalate?",
            "Threatens small claims over a double charge",
        )
        .await;
    front.assert_accessible().await;
    front.assert_light().await;
    front.shoot("ticket-escalate-dialog").await;
    front
        .css("dialog[open] #escalate-submit")
        .await
        .click()
        .await
        .expect("escalate");
    front.wait_for_text(".flash", "Escalated").await;

    // The owner's escalations queue, then the ticket's escalation panel once acknowledged.
    owner.go("/queues/escalations").await;
    owner
        .wait_for_text("table.queue", "Charged twice for the cleaning")
        .await;
    owner.assert_accessible().await;
    owner.assert_light().await;
    owner.shoot("queue-escalations").await;
    owner.go(&format!("/tickets/{ticket}")).await;
    owner.press("Acknowledge").await;
    owner.wait_for_text(".flash", "Acknowledged").await;
    owner.wait_for_text(".panel", "Bayside Dental Owner").await;
    owner.assert_accessible().await;
    owner.assert_light().await;
    owner.shoot("escalation-panel").await;

    front.close().await;
    owner.close().await;
}

on_both_databases!(the_main_pages_pass_axe);
