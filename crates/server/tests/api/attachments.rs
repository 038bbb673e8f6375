//! Files on a staff member's comment: `POST /tickets/{id}/comments` as multipart/form-data.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{Backend, Session, TestApp, TicketBuilder};
use crate::on_both_databases;

on_both_databases!(
    files_sent_with_a_comment_download_with_the_same_bytes,
    a_file_over_the_limit_or_a_bad_form_writes_nothing,
);

const BOUNDARY: &str = "ladder-test-boundary-7MA4YWxkTrZu0gW";

/// A multipart/form-data body: the comment's JSON, then each file (name, type, bytes).
fn form(comment: &Value, files: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"comment\"\r\n\
         Content-Type: application/json\r\n\r\n{comment}\r\n"
    )
    .into_bytes();
    for (name, ctype, data) in files {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; \
                 filename=\"{name}\"\r\nContent-Type: {ctype}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn post_form(
    app: &TestApp,
    who: &Session,
    ticket: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let res = app
        .client
        .post(format!("{}/api/v1/tickets/{ticket}/comments", app.base))
        .bearer_auth(&who.token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .expect("post the form");
    let status = res.status();
    let ctype = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let value = res.json().await.expect("a JSON answer");
    if !status.is_success() {
        assert_eq!(ctype, "application/problem+json", "{value}");
    }
    (status, value)
}

async fn download(app: &TestApp, who: &Session, url: &str) -> (StatusCode, Vec<u8>, String) {
    let res = app
        .client
        .get(format!("{}{url}", app.base))
        .bearer_auth(&who.token)
        .send()
        .await
        .expect("download");
    let status = res.status();
    let disposition = res
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (
        status,
        res.bytes().await.expect("bytes").to_vec(),
        disposition,
    )
}

async fn files_sent_with_a_comment_download_with_the_same_bytes(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Upload Clinic").await;
    let agent = org.user(&app, "Ann Agent", "agent").await;
    let customer = org.customer(&app, "Dee").await;
    let ticket = TicketBuilder::new(&customer).open(&app, &agent).await;
    // Every byte value, so nothing is read as text on the way.
    let xray: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let letter = b"Dear Dee, your refund is on its way.".to_vec();
    let (s, c) = post_form(
        &app,
        &agent,
        &ticket,
        form(
            &json!({"body": "The x-ray and our letter.", "public": true}),
            &[
                ("xray.png", "image/png", &xray),
                ("letter.txt", "text/plain", &letter),
                ("copy.png", "image/png", &xray),
            ],
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["body"], "The x-ray and our letter.");
    let attached = c["attachments"].as_array().cloned().expect("attachments");
    assert_eq!(attached.len(), 3, "{c}");
    assert_eq!(attached[0]["comment_id"], c["id"]);
    assert_eq!(attached[0]["size"], json!(xray.len()));
    // The same bytes twice are stored once.
    assert_eq!(app.count("SELECT COUNT(*) FROM attachment_blobs").await, 2);
    let (s, body, disposition) =
        download(&app, &agent, attached[0]["url"].as_str().unwrap_or("")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, xray);
    assert!(disposition.contains("xray.png"), "{disposition}");
    let (_, body, _) = download(&app, &org.owner, attached[1]["url"].as_str().unwrap_or("")).await;
    assert_eq!(body, letter);
    // Listed with the ticket's files, and each one an audit event of the ticket.
    let (s, list) = app
        .get(&agent, &format!("/tickets/{ticket}/attachments"))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(3));
    let events = app.events(&agent, &ticket).await;
    let added: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "attachment_added")
        .collect();
    assert_eq!(added.len(), 3);
    assert_eq!(added[1]["payload"]["filename"], "letter.txt");
    assert_eq!(added[1]["actor_id"], json!(agent.id));
    // A plain JSON comment still works, and carries no files.
    let (s, c) = app
        .post(
            &agent,
            &format!("/tickets/{ticket}/comments"),
            json!({"body": "Note", "public": false}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["attachments"], json!([]));
    crate::harness::assert_chain_intact(&app, &org).await;
}

async fn a_file_over_the_limit_or_a_bad_form_writes_nothing(b: Backend) {
    let settings = ladder_server::inbound::Settings {
        max_file_bytes: 1000,
        max_message_bytes: 5000,
        ..Default::default()
    };
    let app = TestApp::spawn_inbound(
        b,
        ladder_server::engine::EngineConfig {
            workers: 0,
            ..ladder_server::engine::EngineConfig::for_backend(match b {
                Backend::Sqlite => ladder_storage::Backend::Sqlite,
                Backend::Postgres => ladder_storage::Backend::Postgres,
            })
        },
        ladder_server::notify::Notifier::default(),
        ladder_server::transport::Limits::default(),
        settings,
    )
    .await;
    let org = app.org("Limit Clinic").await;
    let customer = org.customer(&app, "Eve").await;
    let ticket = TicketBuilder::new(&customer).open(&app, &org.owner).await;
    let before = (
        app.snapshot().await,
        app.count("SELECT COUNT(*) FROM attachments").await,
        app.count("SELECT COUNT(*) FROM attachment_blobs").await,
    );
    let comment = json!({"body": "Files", "public": true});
    let small = vec![7u8; 500];
    let big = vec![8u8; 1001];
    let cases: Vec<(Vec<u8>, StatusCode, Value)> = vec![
        // One file over the per-file limit, after one within it.
        (
            form(&comment, &[("a.bin", "application/octet-stream", &small), ("b.bin", "application/octet-stream", &big)]),
            StatusCode::PAYLOAD_TOO_LARGE,
            json!("file[1]"),
        ),
        // The whole request over the per-message limit.
        (
            form(&comment, &[("a.bin", "application/octet-stream", small.as_slice()); 11]),
            StatusCode::PAYLOAD_TOO_LARGE,
            Value::Null,
        ),
        // The comment's JSON at fault.
        (
            form(&json!({"body": "", "public": true}), &[("a.bin", "application/octet-stream", &small)]),
            StatusCode::UNPROCESSABLE_ENTITY,
            json!("comment.body"),
        ),
        // A file name too long to keep.
        (
            form(&comment, &[(&"n".repeat(256), "application/octet-stream", &small)]),
            StatusCode::UNPROCESSABLE_ENTITY,
            json!("file[0].filename"),
        ),
        // No comment part at all.
        (
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nx\r\n--{BOUNDARY}--\r\n").into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
            json!("comment"),
        ),
    ];
    for (body, status, field) in cases {
        let (s, p) = post_form(&app, &org.owner, &ticket, body).await;
        assert_eq!(s, status, "{p}");
        if !field.is_null() {
            assert_eq!(p["field"], field, "{p}");
        }
    }
    let after = (
        app.snapshot().await,
        app.count("SELECT COUNT(*) FROM attachments").await,
        app.count("SELECT COUNT(*) FROM attachment_blobs").await,
    );
    assert_eq!(before, after, "nothing was written");
}
