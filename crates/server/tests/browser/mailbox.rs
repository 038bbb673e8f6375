//! The mailbox page in Chromium: an owner sets the IMAP mailbox and makes the inbound token,
//! shown once; checked with axe-core and photographed (`docs/screenshots/mailbox.png`).

use crate::driver::Browser;
use crate::harness::{Backend, TestApp};
use crate::on_both_databases;

async fn an_owner_sets_the_mailbox_and_makes_a_token(backend: Backend) {
    let app = TestApp::spawn_inbound(
        backend,
        ladder_server::engine::EngineConfig {
            workers: 0,
            ..ladder_server::engine::EngineConfig::for_backend(match backend {
                Backend::Sqlite => ladder_storage::Backend::Sqlite,
                Backend::Postgres => ladder_storage::Backend::Postgres,
            })
        },
        ladder_server::notify::Notifier::default(),
        ladder_server::transport::Limits::default(),
        ladder_server::inbound::Settings {
            secret_key: Some(
                ladder_server::inbound::secret::SecretKey::from_hex(&"3c".repeat(32)).expect("key"),
            ),
            ..Default::default()
        },
    )
    .await;
    let org = app.org("Harbour Clinic").await;
    let b = Browser::open(&app.base).await;
    b.sign_in(&org.slug, "owner@harbour-clinic.example", "owner-password")
        .await;
    b.go("/mailbox").await;
    b.wait_for_text("main", "No mailbox yet").await;
    b.assert_accessible().await;
    b.fill("Server", "imap.harbour-clinic.example").await;
    b.fill("User name", "help@harbour-clinic.example").await;
    b.press("Save mailbox").await;
    b.wait_for_text("#m-password-error", "").await;
    b.fill("Password", "mailbox-password").await;
    b.fill("Move messages taken to", "Ladder").await;
    b.press("Save mailbox").await;
    b.wait_for_text(".flash", "Mailbox saved.").await;
    // As after the server's first read of it.
    ladder_storage::inbound::mark_polled(
        &app.db,
        &ladder_core::TenantId(org.tenant_id.clone()),
        None,
        app.now(),
    )
    .await
    .expect("mark the mailbox read");
    b.go("/mailbox").await;
    b.wait_for_text("main", "Working").await;
    b.press("Make a token").await;
    b.wait_for_text("#new-token", "ldr_in_").await;
    b.assert_accessible().await;
    b.assert_light().await;
    b.shoot("mailbox").await;
    b.close().await;
}

on_both_databases!(an_owner_sets_the_mailbox_and_makes_a_token);
