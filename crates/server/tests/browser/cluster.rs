//! Live updates across two servers on one PostgreSQL: the owner's escalations page is served
//! by server B, the escalation is made through server A, and it shows on the open page,
//! without a reload, within two seconds (`LISTEN/NOTIFY` carries it from A's commit to B).

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::driver::Browser;
use crate::harness::{Backend, TestApp, TicketBuilder};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escalation_through_server_a_shows_on_a_page_of_server_b() {
    let a = TestApp::spawn(Backend::Postgres).await;
    let b = a.server_beside().await;
    let org = a.org("Twin Clinic").await;
    let rita = org.user(&a, "Rita Front", "agent").await;
    let customer = org.customer(&a, "Maria Lopez").await;
    let subject = "Refund promised on the phone never came";
    let ticket = TicketBuilder::new(&customer)
        .about(subject)
        .open(&a, &rita)
        .await;

    let owner = Browser::open(&b).await;
    owner
        .sign_in(&org.slug, "owner@twin-clinic.example", "owner-password")
        .await;
    owner
        .wait_for_text("main", "Nothing is escalated to you.")
        .await;
    owner
        .wait_for(
            "the live stream to server B",
            "return document.body.dataset.stream === 'open'",
        )
        .await;
    owner
        .client
        .execute("window.ladderNotReloaded = true; return true", vec![])
        .await
        .expect("mark the page");

    let sent = Instant::now();
    let (status, body) = a
        .post(
            &rita,
            &format!("/tickets/{ticket}/escalate"),
            json!({"category": "billing", "note": "Promised a refund by phone",
                   "contact_method": "call", "urgency": "urgent"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    owner.wait_for_text("#queue", subject).await;
    let took = sent.elapsed();
    eprintln!("live: server A's escalation showed on server B's page {took:?} after it was sent");
    assert!(took <= Duration::from_secs(2), "took {took:?}");
    assert_eq!(
        owner
            .client
            .execute("return window.ladderNotReloaded === true", vec![])
            .await
            .expect("read the mark"),
        serde_json::Value::Bool(true),
        "the page was not reloaded"
    );
    owner.close().await;
}
