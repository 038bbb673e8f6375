//! `ladder backup` while the server writes, and the audit trail exported for review and
//! verified offline.

use std::process::Command;

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Backend, TestApp, TicketBuilder};
use crate::on_both_databases;

on_both_databases!(
    a_backup_taken_while_serving_holds_every_acknowledged_ticket,
    an_exported_audit_trail_verifies_offline_and_edits_are_caught,
);

fn ladder(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(args)
        .env("LADDER_LOG", "error")
        .output()
        .expect("run ladder");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn scratch(name: &str, b: Backend) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ladder-{name}-{}-{b:?}-{}",
        std::process::id(),
        jiff::Timestamp::now().as_microsecond()
    ));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

async fn a_backup_taken_while_serving_holds_every_acknowledged_ticket(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Copy Clinic").await;
    let customer = org.customer(&app, "Cleo").await;
    let dir = scratch("backup", b);
    let file = dir.join("copy.db");
    let path = file.to_str().expect("path").to_owned();

    if b == Backend::Postgres {
        let (ok, said) = ladder(&["--database-url", &app.url, "backup", &path]);
        assert!(!ok, "{said}");
        assert!(said.contains("pg_dump"), "{said}");
        assert!(!file.exists());
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }

    // Writers keep going while the backup is taken; what they were told was saved before it
    // began is in it.
    let mut acknowledged = Vec::new();
    for _ in 0..5 {
        acknowledged.push(TicketBuilder::new(&customer).open(&app, &org.owner).await);
    }
    let writer = {
        let (client, base, token) = (
            app.client.clone(),
            app.base.clone(),
            org.owner.token.clone(),
        );
        let customer = customer.clone();
        tokio::spawn(async move {
            let mut made = 0;
            for _ in 0..20 {
                let res = client
                    .post(format!("{base}/api/v1/tickets"))
                    .bearer_auth(&token)
                    .json(&json!({"subject": "During", "description": "Hello", "customer_id": customer, "channel": "email"}))
                    .send()
                    .await
                    .expect("create");
                assert_eq!(res.status(), StatusCode::CREATED);
                made += 1;
            }
            made
        })
    };
    let url = app.url.clone();
    let backup_path = path.clone();
    let (ok, said) = tokio::task::spawn_blocking(move || {
        ladder(&["--database-url", &url, "backup", &backup_path])
    })
    .await
    .expect("backup");
    assert!(ok, "{said}");
    assert_eq!(writer.await.expect("writer"), 20);

    let copy = format!("sqlite://{path}");
    let (ok, said) = ladder(&["--database-url", &copy, "audit", "verify"]);
    assert!(ok, "{said}");
    assert!(said.contains("chain intact"), "{said}");
    let db = ladder_storage::Db::connect(&copy)
        .await
        .expect("open the copy");
    for id in &acknowledged {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM tickets WHERE id = $1")
            .bind(id)
            .fetch_one(db.pool())
            .await
            .expect("count");
        assert_eq!(n, 1, "ticket {id} is missing from the backup");
    }
    db.close().await;

    // A backup never overwrites.
    let (ok, said) = ladder(&["--database-url", &app.url, "backup", &path]);
    assert!(!ok, "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}

async fn an_exported_audit_trail_verifies_offline_and_edits_are_caught(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Ledger Clinic").await;
    let other = app.org("Other Clinic").await;
    let customer = org.customer(&app, "Lou").await;
    let ticket = TicketBuilder::new(&customer).open(&app, &org.owner).await;
    let (s, _) = app
        .post(
            &org.owner,
            &format!("/tickets/{ticket}/comments"),
            json!({"body": "Called back", "public": false}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    other.customer(&app, "Ola").await;

    let dir = scratch("export", b);
    let file = dir.join("audit.jsonl");
    let path = file.to_str().expect("path").to_owned();
    let (ok, said) = ladder(&[
        "--database-url",
        &app.url,
        "audit",
        "export",
        "--tenant",
        &org.slug,
        &path,
    ]);
    assert!(ok, "{said}");
    let text = std::fs::read_to_string(&file).expect("export");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let events = app
        .count(&format!(
            "SELECT COUNT(*) FROM audit_events WHERE tenant_id = '{}'",
            org.tenant_id
        ))
        .await;
    assert_eq!(lines.len() as i64, events + 1, "every event, then the head");
    assert!(lines
        .iter()
        .all(|l| l["tenant_id"] == org.tenant_id.as_str()));
    assert!(lines[0]["hash"].is_string() && lines[0]["prev_hash"].is_string());
    assert_eq!(lines.last().expect("head")["line"], "head");

    // Offline: no database URL is used at all.
    let verify = |file: &str| {
        ladder(&[
            "--database-url",
            "sqlite:///nonexistent/ladder.db",
            "audit",
            "verify",
            "--file",
            file,
        ])
    };
    let (ok, said) = verify(&path);
    assert!(ok, "{said}");
    assert!(
        said.contains(&format!("{events} events, chain intact")),
        "{said}"
    );

    // An edited payload, a removed event and a cut-off end are each caught.
    let all: Vec<&str> = text.lines().collect();
    let edited = text.replacen("Called back", "Never called", 1);
    let removed = [&all[..1], &all[2..]].concat().join("\n");
    let cut = all[..all.len() - 2].join("\n");
    for (name, bad) in [("edited", edited), ("removed", removed), ("cut", cut)] {
        let bad_file = dir.join(format!("{name}.jsonl"));
        std::fs::write(&bad_file, bad).expect("write");
        let (ok, said) = verify(bad_file.to_str().expect("path"));
        assert!(!ok, "{name}: {said}");
        assert!(said.contains("BROKEN"), "{name}: {said}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
