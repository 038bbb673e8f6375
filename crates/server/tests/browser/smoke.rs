//! The harness itself, on the sign-in page: two people's browsers side by side, each with
//! its own session; labels, bounded waits, screenshots and axe-core (which must be able to
//! fail).

use crate::driver::{serious, Browser};
use crate::harness::{Backend, TestApp};
use crate::on_both_databases;

/// A page axe-core must fail: a field without a label and an image without a text.
const INACCESSIBLE: &str = "data:text/html,<!doctype html><html><head><title>Bad</title></head>\
    <body><input name=unlabelled><img src=x.gif></body></html>";

async fn two_people_sign_in_side_by_side(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let org = app.org("Harness Clinic").await;
    org.user(&app, "Ana Front", "agent").await;
    let (owner, desk) = tokio::join!(Browser::open(&app.base), Browser::open(&app.base));

    // Not signed in: a page sends you to the sign-in form, which passes axe-core.
    owner.go("/queues/mine").await;
    assert_eq!(owner.path().await, "/login?next=%2Fqueues%2Fmine");
    owner.assert_accessible().await;
    owner.shoot("login").await;

    owner
        .sign_in(&org.slug, "owner@harness-clinic.example", "owner-password")
        .await;
    assert_eq!(owner.path().await, "/queues/mine");
    desk.sign_in(
        &org.slug,
        "ana.front@harness-clinic.example",
        "password-123",
    )
    .await;
    owner
        .wait_for_text(".top .who", "Harness Clinic Owner")
        .await;
    desk.wait_for_text(".top .who", "Ana Front").await;
    let (a, b) = (
        owner.cookie("ladder_session").await,
        desk.cookie("ladder_session").await,
    );
    assert!(a.is_some() && b.is_some() && a != b, "one session each");

    // A wrong password re-renders the form with the message by the field, typed by label.
    let stranger = Browser::open(&app.base).await;
    stranger.go("/login").await;
    stranger.fill("Organisation", &org.slug).await;
    stranger
        .fill("Email", "ana.front@harness-clinic.example")
        .await;
    stranger.fill("Password", "not-her-password").await;
    stranger.press("Sign in").await;
    stranger.wait_for_text(".error", "").await;
    assert_eq!(stranger.path().await, "/login");
    assert_eq!(stranger.cookie("ladder_session").await, None);

    let shot = std::env::temp_dir().join(format!("ladder-harness-{}.png", std::process::id()));
    desk.screenshot(&shot).await;
    let png = std::fs::read(&shot).expect("read the screenshot");
    let _ = std::fs::remove_file(&shot);
    assert!(png.starts_with(b"\x89PNG"), "a screenshot is a PNG");

    // The accessibility check can fail: an unlabelled field and an image without text.
    stranger.client.goto(INACCESSIBLE).await.expect("open");
    let found = serious(&stranger.axe().await).join("\n");
    assert!(found.contains("- label (critical)"), "{found}");
    assert!(found.contains("- image-alt (critical)"), "{found}");

    stranger.close().await;
    owner.close().await;
    desk.close().await;
}

on_both_databases!(two_people_sign_in_side_by_side);
