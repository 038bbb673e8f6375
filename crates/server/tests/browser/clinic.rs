//! The clinic's escalation in two browsers side by side: the receptionist escalates a legal
//! threat through the dialog, the owner's escalations page (already open) shows it without a
//! reload, the owner acknowledges and resolves, and the receptionist follows it to the end.

use std::time::{Duration, Instant};

use crate::driver::Browser;
use crate::harness::{Backend, TestApp, TicketBuilder};
use crate::on_both_databases;

/// How soon a change made by one person must show on another's open page.
const LIVE: Duration = Duration::from_secs(2);

async fn the_clinic_escalates_a_legal_threat_to_the_owner(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let org = app.org("Smile Clinic").await;
    let rita = org.user(&app, "Rita Front", "agent").await;
    let customer = org.customer(&app, "Maria Lopez").await;
    let subject = "Charged for a crown I never had";
    let ticket = TicketBuilder::new(&customer)
        .about(subject)
        .saying("I was billed for a crown but I only had a cleaning. If this isn't fixed I'll sue for false advertising.")
        .open(&app, &rita)
        .await;
    let (owner, desk) = tokio::join!(Browser::open(&app.base), Browser::open(&app.base));

    // The owner's escalations page is open, and listening.
    owner
        .sign_in(&org.slug, "owner@smile-clinic.example", "owner-password")
        .await;
    assert_eq!(owner.path().await, "/");
    owner
        .wait_for_text("main", "Nothing is escalated to you.")
        .await;
    owner
        .wait_for(
            "the live stream to connect",
            "return document.body.dataset.stream === 'open'",
        )
        .await;
    owner
        .client
        .execute("window.ladderNotReloaded = true; return true", vec![])
        .await
        .expect("mark the page");

    // The receptionist opens the ticket: the banner names the threat in her words.
    desk.sign_in(&org.slug, "rita.front@smile-clinic.example", "password-123")
        .await;
    desk.go(&format!("/tickets/{ticket}")).await;
    desk.wait_for_text(".banner", "Legal threat").await;
    desk.wait_for_text("mark", "I'll sue").await;
    desk.wait_for(
        "her live stream to connect",
        "return document.body.dataset.stream === 'open'",
    )
    .await;
    desk.assert_accessible().await;

    // The keyboard: `/` goes to the search box, `e` opens the Escalate dialog.
    key(&desk, '/').await;
    desk.wait_for(
        "the search box to take the focus",
        "return document.activeElement && document.activeElement.id === 'q'",
    )
    .await;
    desk.css("main")
        .await
        .click()
        .await
        .expect("leave the search box");
    key(&desk, 'e').await;
    desk.wait_for(
        "`e` to open the Escalate dialog",
        "return !!document.querySelector('dialog#escalate-dialog[open]')",
    )
    .await;
    desk.press("Cancel").await;
    desk.wait_for(
        "the dialog to close",
        "return !document.querySelector('dialog[open]')",
    )
    .await;

    // "Escalate with these" opens the dialog, prefilled from the triggers.
    desk.press("Escalate with these").await;
    desk.wait_for(
        "the Escalate dialog",
        "return !!document.querySelector('dialog#escalate-dialog[open]')",
    )
    .await;
    let category = desk
        .field("Category")
        .await
        .prop("value")
        .await
        .expect("category")
        .unwrap_or_default();
    assert_eq!(category, "legal", "prefilled from the legal threat");
    assert_eq!(
        desk.field("Escalate to")
            .await
            .prop("value")
            .await
            .expect("target")
            .as_deref(),
        Some("owner"),
        "the owner is preselected"
    );
    desk.fill(
        "What is the issue and why escalate?",
        "Says she was charged for a crown she never had and threatens to sue.",
    )
    .await;
    desk.fill(
        "What have you tried?",
        "Checked the visit notes: a cleaning only.",
    )
    .await;
    desk.field("Urgent (same day)")
        .await
        .click()
        .await
        .expect("urgent");
    desk.assert_accessible().await;
    desk.shoot("ticket-escalate-dialog").await;
    let sent = Instant::now();
    desk.css("#escalate-submit")
        .await
        .click()
        .await
        .expect("send the escalation");
    desk.wait_for_text(
        ".flash",
        "Escalated to Smile Clinic Owner. You'll find it under Watching.",
    )
    .await;

    // On the owner's open page, without a reload, within two seconds.
    owner.wait_for_text("#queue", subject).await;
    let took = sent.elapsed();
    eprintln!("live: the escalation showed on the owner's open page {took:?} after it was sent");
    assert!(
        took <= LIVE,
        "the escalation took {took:?} to show on the owner's page"
    );
    assert_eq!(
        owner
            .client
            .execute("return window.ladderNotReloaded === true", vec![])
            .await
            .expect("read the mark"),
        serde_json::Value::Bool(true),
        "the owner's page was not reloaded"
    );
    owner.wait_for_text("#queue", "unowned").await;
    owner.assert_accessible().await;
    owner.shoot("queue").await;

    // The owner acknowledges (`a`); the receptionist's reply box locks with the owner's name.
    owner.press(subject).await;
    owner.wait_for_text("#escalation-panel", "Requested").await;
    key(&owner, 'a').await;
    owner
        .wait_for_text(".flash", "you own this escalation now")
        .await;
    desk.wait_for_text(
        "#reply-lock",
        "Replies are locked while Smile Clinic Owner handles this legal escalation. Add an internal note instead.",
    )
    .await;
    assert!(
        desk.css("input[name=kind][value=public]")
            .await
            .attr("disabled")
            .await
            .expect("disabled")
            .is_some(),
        "a public reply cannot be chosen"
    );

    // The owner resolves with a summary.
    owner.assert_accessible().await;
    owner.shoot("escalation-panel").await;
    owner
        .fill(
            "Summary",
            "A billing error: the crown charge was reversed and Maria was called.",
        )
        .await;
    owner.press("Resolve").await;
    owner.wait_for_text(".flash", "Resolved.").await;

    // The receptionist's Watching page shows it resolved.
    desk.css("nav.rail a[href='/queues/watching']")
        .await
        .click()
        .await
        .expect("open Watching");
    desk.wait_for_text("#queue", subject).await;
    desk.wait_for_text("#queue .status", "Resolved").await;
    desk.assert_accessible().await;

    owner.close().await;
    desk.close().await;
}

on_both_databases!(the_clinic_escalates_a_legal_threat_to_the_owner);

/// Presses and releases one key, as a person at the keyboard does.
async fn key(browser: &Browser, k: char) {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: k })
        .then(KeyAction::Up { value: k });
    browser
        .client
        .perform_actions(keys)
        .await
        .unwrap_or_else(|e| panic!("press {k:?}: {e}"));
}
