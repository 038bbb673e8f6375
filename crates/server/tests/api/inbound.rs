//! Email in: `POST /api/v1/inbound/email`, threading, auto-replies, reopening, attachments,
//! refusals; the corpus of real-world shaped messages in `tests/mail/`; the parser under
//! arbitrary bytes.

use proptest::prelude::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{Backend, Org, Session, TestApp};
use crate::on_both_databases;
use ladder_server::inbound::parse::{parse, split_quoted};

/// A message from `from`, with `extra` header lines, `subject` and a plain text body.
pub fn email(from: &str, message_id: &str, extra: &str, subject: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: help@clinic.example\r\nSubject: {subject}\r\n\
         Date: Mon, 02 Jun 2025 09:00:00 +0000\r\nMessage-ID: <{message_id}>\r\n{extra}\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
}

/// Posts a raw message with `token`; the status and the JSON answer.
pub async fn post_email(
    app: &TestApp,
    token: &str,
    raw: impl Into<Vec<u8>>,
) -> (StatusCode, Value) {
    let res = app
        .client
        .post(format!("{}/api/v1/inbound/email", app.base))
        .bearer_auth(token)
        .header("content-type", "message/rfc822")
        .body(raw.into())
        .send()
        .await
        .expect("post email");
    let status = res.status();
    let ctype = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body: Value = res.json().await.expect("a JSON answer");
    if !status.is_success() {
        assert_eq!(ctype, "application/problem+json", "{body}");
    }
    (status, body)
}

/// The organisation's inbound token, set through the API.
pub async fn inbound_token(app: &TestApp, org: &Org) -> String {
    let (s, t) = app.post(&org.owner, "/inbound/token", json!(null)).await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    t["token"].as_str().expect("token").to_owned()
}

async fn ticket(app: &TestApp, who: &Session, id: &str) -> Value {
    let (s, t) = app.get(who, &format!("/tickets/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    t
}

async fn comments(app: &TestApp, who: &Session, id: &str) -> Vec<Value> {
    let (s, c) = app.get(who, &format!("/tickets/{id}/comments")).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    c.as_array().cloned().expect("comments")
}

on_both_databases!(
    a_new_email_opens_a_ticket_and_replies_thread,
    machines_and_our_own_mail_open_nothing,
    a_reply_to_a_resolved_ticket_reopens_it,
    with_reopening_switched_off_a_reply_leaves_the_ticket_resolved,
    attachments_arrive_and_download_with_the_same_bytes,
    malformed_messages_are_refused_with_nothing_written,
    mailgate_exits_as_a_mail_server_expects,
    a_reply_s_quoted_history_stays_out_of_search,
);

/// The ids of the tickets a search finds.
async fn found(app: &TestApp, who: &Session, q: &str) -> Vec<String> {
    let (s, page) = app.get(who, &format!("/tickets?q={q}")).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| t["id"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// A customer's reply is found by what it says, not by the earlier messages it quotes (they
/// are the ticket's own, found as themselves); a forward's history and staff comments are
/// found whole, and every comment keeps its whole body.
async fn a_reply_s_quoted_history_stays_out_of_search(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Quote Clinic").await;
    let token = inbound_token(&app, &org).await;
    let first = email(
        "pat@example.org",
        "q-1@example.org",
        "",
        "Invoice question",
        "My invoice shows a zebrafish charge.",
    );
    let (s, r) = post_email(&app, &token, first).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let id = r["ticket_id"].as_str().expect("ticket id").to_owned();
    let reply = "Still waiting for the kumquat refund.\r\n\r\n\
                 On Mon, 2 Jun 2025, Clinic wrote:\r\n> Your narwhal appointment is confirmed.\r\n\
                 > Tschüß";
    let forward = "The bank's letter is below.\r\n\r\n\
                   ---------- Forwarded message ---------\r\nFrom: Bank\r\n\
                   The ocelot deposit was kept.";
    for (n, body) in [(2, reply), (3, forward)] {
        let message = email(
            "pat@example.org",
            &format!("q-{n}@example.org"),
            "References: <q-1@example.org>\r\n",
            "Re: Invoice question",
            body,
        );
        let (s, r) = post_email(&app, &token, message).await;
        assert_eq!(
            (s, r["ticket_id"].clone()),
            (StatusCode::CREATED, json!(id)),
            "{r}"
        );
    }
    let (s, c) = app
        .post(
            &org.owner,
            &format!("/tickets/{id}/comments"),
            json!({"body": "Checked.\n\nOn Mon, 2 Jun 2025, Pat wrote:\n> the platypus invoice", "public": false}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");

    for word in ["zebrafish", "kumquat", "ocelot", "platypus"] {
        assert_eq!(found(&app, &org.owner, word).await, [id.clone()], "{word}");
    }
    assert!(found(&app, &org.owner, "narwhal").await.is_empty());
    // Every word of the ticket's own text, together: the description's and the reply's.
    assert_eq!(
        found(&app, &org.owner, "zebrafish+kumquat").await,
        [id.clone()]
    );
    assert!(found(&app, &org.owner, "kumquat+narwhal").await.is_empty());

    // The comments themselves are kept whole, history and all.
    let bodies: Vec<String> = comments(&app, &org.owner, &id)
        .await
        .iter()
        .map(|c| c["body"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(
        bodies
            .iter()
            .any(|b| b.contains("narwhal") && b.contains("Tschüß")),
        "{bodies:?}"
    );

    // A changed description writes the document again from every comment, by the same rule
    // (no request changes one; another writer may).
    sqlx::query("UPDATE tickets SET description = 'A gecko charge.' WHERE id = $1")
        .bind(&id)
        .execute(app.db.pool())
        .await
        .expect("update the description");
    assert_eq!(
        found(&app, &org.owner, "gecko+kumquat+ocelot").await,
        [id.clone()]
    );
    assert!(found(&app, &org.owner, "zebrafish").await.is_empty());
    assert!(found(&app, &org.owner, "narwhal").await.is_empty());
    crate::harness::assert_chain_intact(&app, &org).await;
}

async fn a_new_email_opens_a_ticket_and_replies_thread(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Mail Clinic").await;
    let token = inbound_token(&app, &org).await;
    let first = email(
        "Maria Lopez <Maria.Lopez@Example.org>",
        "first-1@example.org",
        "",
        "Crown fell off",
        "You charged me for a crown I never got. I will sue you for false advertising.",
    );
    let (s, r) = post_email(&app, &token, first.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(
        (r["created"].clone(), r["outcome"].clone()),
        (json!(true), json!("created"))
    );
    let id = r["ticket_id"].as_str().expect("ticket id").to_owned();
    let t = ticket(&app, &org.owner, &id).await;
    assert_eq!(t["channel"], "email");
    assert_eq!(t["subject"], "Crown fell off");
    assert!(
        t["triggers"]
            .as_array()
            .expect("triggers")
            .iter()
            .any(|f| f["kind"] == "legal_threat"),
        "triggers run on the message: {t}"
    );
    let (_, customer) = app
        .get(
            &org.owner,
            &format!("/customers/{}", t["customer_id"].as_str().unwrap_or("")),
        )
        .await;
    assert_eq!(customer["email"], "Maria.Lopez@Example.org");
    assert_eq!(customer["name"], "Maria Lopez");
    let kinds: Vec<String> = app
        .events(&org.owner, &id)
        .await
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(kinds, ["ticket_created"]);

    // The same message again (an MTA's retry) makes nothing new.
    let before = app.snapshot().await;
    let (s, again) = post_email(&app, &token, first).await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(
        (again["duplicate"].clone(), again["ticket_id"].clone()),
        (json!(true), json!(id))
    );
    assert_eq!(app.snapshot().await, before);

    // A staff reply goes out by email; the customer's answer names its Message-ID.
    let (s, c) = app
        .post(
            &org.owner,
            &format!("/tickets/{id}/comments"),
            json!({"body": "We will refit it on Friday.", "public": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    app.deliver().await;
    let (sent_id,): (String,) = sqlx::query_as(
        "SELECT idempotency_key FROM deliveries WHERE ticket_id = $1 AND channel = 'email'",
    )
    .bind(&id)
    .fetch_one(app.db.pool())
    .await
    .expect("the reply's email");
    let reply = email(
        "maria.lopez@example.org",
        "reply-2@example.org",
        &format!("In-Reply-To: {sent_id}\r\nReferences: {sent_id}\r\n"),
        "Re: your ticket",
        "Friday is fine.\r\n\r\nOn Mon, 2 Jun 2025, Clinic wrote:\r\n> We will refit it on Friday.",
    );
    let (s, r) = post_email(&app, &token, reply).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(
        (r["outcome"].clone(), r["ticket_id"].clone()),
        (json!("replied"), json!(id))
    );
    let page = app
        .client
        .get(format!("{}/tickets/{id}", app.base))
        .header("cookie", format!("ladder_session={}", org.owner.token))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(
        page.contains(
            "<summary>Quoted history</summary><p class=\"body\">On Mon, 2 Jun 2025, Clinic wrote:"
        ),
        "the history is folded: {page}"
    );
    let c = comments(&app, &org.owner, &id).await;
    let last = c.last().expect("the customer's message");
    assert_eq!(last["author_id"], Value::Null);
    assert!(
        last["body"]
            .as_str()
            .unwrap_or("")
            .starts_with("Friday is fine."),
        "{last}"
    );
    // One customer, found whatever the case of the address.
    assert_eq!(app.count("SELECT COUNT(*) FROM customers").await, 1);

    // Headers stripped: the reference in the subject threads it, from the ticket's customer.
    let stripped = email(
        "MARIA.LOPEZ@EXAMPLE.ORG",
        "reply-3@example.org",
        "",
        &format!("Re: [#{id}] Crown fell off"),
        "Also, the bill was wrong.",
    );
    let (s, r) = post_email(&app, &token, stripped).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(r["ticket_id"], json!(id));
    // Someone else quoting the reference opens their own ticket.
    let other = email(
        "someone@else.example",
        "other-4@else.example",
        "",
        &format!("Re: [#{id}] Crown fell off"),
        "I saw this subject somewhere.",
    );
    let (s, r) = post_email(&app, &token, other).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_ne!(r["ticket_id"], json!(id));
    assert_eq!(r["outcome"], "created");
    // And a reply to a message we received threads too (References to the first email).
    let follow = email(
        "maria.lopez@example.org",
        "reply-5@example.org",
        "References: <first-1@example.org>\r\n",
        "Re: Crown fell off",
        "Any news?",
    );
    let (_, r) = post_email(&app, &token, follow).await;
    assert_eq!(r["ticket_id"], json!(id));
    assert_eq!(comments(&app, &org.owner, &id).await.len(), 4);
    crate::harness::assert_chain_intact(&app, &org).await;
}

async fn machines_and_our_own_mail_open_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Quiet Clinic").await;
    let token = inbound_token(&app, &org).await;
    let before = app.snapshot().await;
    let auto = std::fs::read(mail_dir().join("auto_reply.eml")).expect("auto reply");
    let bounce = std::fs::read(mail_dir().join("bounce_dsn.eml")).expect("bounce");
    // Our own notification looping back: its Message-ID is in our domain.
    let ours = email(
        "someone@example.org",
        "0197abcd@127.0.0.1",
        "",
        "Your request",
        "A loop.",
    );
    let precedence = email(
        "list@example.org",
        "bulk-1@example.org",
        "Precedence: bulk\r\n",
        "Newsletter",
        "News.",
    );
    for raw in [auto, bounce, ours.into_bytes(), precedence.into_bytes()] {
        let (s, r) = post_email(&app, &token, raw).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["outcome"], "ignored", "{r}");
        assert_eq!(r["ticket_id"], Value::Null);
        assert!(r["reason"].is_string(), "{r}");
    }
    assert_eq!(app.snapshot().await, before, "no ticket, customer or event");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM inbound_messages WHERE outcome = 'ignored'")
            .await,
        4
    );
}

async fn a_reply_to_a_resolved_ticket_reopens_it(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Reopen Clinic").await;
    let token = inbound_token(&app, &org).await;
    let (_, r) = post_email(
        &app,
        &token,
        email(
            "ann@example.org",
            "a-1@example.org",
            "",
            "Sore tooth",
            "It hurts.",
        ),
    )
    .await;
    let id = r["ticket_id"].as_str().expect("ticket").to_owned();
    let (s, t) = app
        .patch(
            &org.owner,
            &format!("/tickets/{id}"),
            json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    app.advance(jiff::SignedDuration::from_hours(1)).await;
    let (s, r) = post_email(
        &app,
        &token,
        email(
            "ann@example.org",
            "a-2@example.org",
            "In-Reply-To: <a-1@example.org>\r\n",
            "Re: Sore tooth",
            "It still hurts.",
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(r["ticket_id"], json!(id));
    let t = ticket(&app, &org.owner, &id).await;
    assert_eq!(t["status"], "open");
    let events = app.events(&org.owner, &id).await;
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds[kinds.len() - 2..], ["reopened", "customer_message"]);
    assert_eq!(events[kinds.len() - 2]["actor_id"], Value::Null);
    // The message counts as a contact of the customer's (what repeat contact counts).
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM comments WHERE ticket_id = $1 AND author_id IS NULL")
            .bind(&id)
            .fetch_one(app.db.pool())
            .await
            .expect("count");
    assert_eq!(n, 1);
}

async fn with_reopening_switched_off_a_reply_leaves_the_ticket_resolved(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Resolved Clinic").await;
    let token = inbound_token(&app, &org).await;
    let (_, mut policy) = app.get(&org.owner, "/policy").await;
    assert_eq!(
        policy["inbound"]["reopen_resolved_on_reply"], true,
        "on unless switched off"
    );
    policy["inbound"]["reopen_resolved_on_reply"] = json!(false);
    app.set_policy(&org.owner, policy).await;
    let (_, r) = post_email(
        &app,
        &token,
        email(
            "bea@example.org",
            "r-1@example.org",
            "",
            "Loose filling",
            "It moved.",
        ),
    )
    .await;
    let id = r["ticket_id"].as_str().expect("ticket").to_owned();
    let (s, t) = app
        .patch(
            &org.owner,
            &format!("/tickets/{id}"),
            json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let (s, r) = post_email(
        &app,
        &token,
        email(
            "bea@example.org",
            "r-2@example.org",
            "In-Reply-To: <r-1@example.org>\r\n",
            "Re: Loose filling",
            "Thanks, all good now.",
        ),
    )
    .await;
    assert_eq!(
        (s, r["ticket_id"].clone()),
        (StatusCode::CREATED, json!(id)),
        "{r}"
    );
    let t = ticket(&app, &org.owner, &id).await;
    assert_eq!(t["status"], "resolved", "left for staff to decide");
    let kinds: Vec<String> = app
        .events(&org.owner, &id)
        .await
        .iter()
        .filter_map(|e| e["kind"].as_str().map(str::to_owned))
        .collect();
    assert!(!kinds.iter().any(|k| k == "reopened"), "{kinds:?}");
    assert_eq!(kinds.last().map(String::as_str), Some("customer_message"));
    // Still the customer's contact, for repeat contact.
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM comments WHERE ticket_id = $1 AND contact_customer_id IS NOT NULL",
    )
    .bind(&id)
    .fetch_one(app.db.pool())
    .await
    .expect("count");
    assert_eq!(n, 1);
}

async fn attachments_arrive_and_download_with_the_same_bytes(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("File Clinic").await;
    let token = inbound_token(&app, &org).await;
    let raw = std::fs::read(mail_dir().join("base64_attachment.eml")).expect("eml");
    let (s, r) = post_email(&app, &token, raw.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let id = r["ticket_id"].as_str().expect("ticket").to_owned();
    let (s, list) = app
        .get(&org.owner, &format!("/tickets/{id}/attachments"))
        .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let list = list.as_array().cloned().expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["filename"], "invoice-0042.pdf");
    assert_eq!(list[0]["content_type"], "application/pdf");
    let expected = parse(&raw).expect("parses").files[0].data.clone();
    assert!(expected.starts_with(b"%PDF-1.4"));
    assert_eq!(list[0]["size"], json!(expected.len()));
    let url = format!("{}{}", app.base, list[0]["url"].as_str().expect("url"));
    let res = app
        .client
        .get(&url)
        .bearer_auth(&org.owner.token)
        .send()
        .await
        .expect("download");
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "application/pdf");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h["content-disposition"]
        .to_str()
        .unwrap_or("")
        .starts_with("attachment; filename=\"invoice-0042.pdf\""));
    assert_eq!(
        res.bytes().await.expect("bytes").as_ref(),
        expected.as_slice()
    );

    // The same file in another message is stored once; an HTML file is never served as HTML.
    let again = String::from_utf8(raw)
        .expect("ascii")
        .replace("b64-attachment-1@", "b64-attachment-2@")
        .replace(
            "--mixed-boundary--",
            "--mixed-boundary\r\nContent-Type: text/html; name=\"page.html\"\r\n\
             Content-Disposition: attachment; filename=\"page.html\"\r\n\r\n\
             <script>alert(1)</script>\r\n--mixed-boundary--",
        );
    let (s, r2) = post_email(&app, &token, again).await;
    assert_eq!(s, StatusCode::CREATED, "{r2}");
    assert_eq!(app.count("SELECT COUNT(*) FROM attachments").await, 3);
    assert_eq!(app.count("SELECT COUNT(*) FROM attachment_blobs").await, 2);
    let id2 = r2["ticket_id"].as_str().expect("ticket");
    let (_, list2) = app
        .get(&org.owner, &format!("/tickets/{id2}/attachments"))
        .await;
    let html = list2
        .as_array()
        .and_then(|l| l.iter().find(|a| a["filename"] == "page.html"))
        .cloned()
        .expect("the html file");
    let res = app
        .client
        .get(format!(
            "{}{}",
            app.base,
            html["url"].as_str().unwrap_or("")
        ))
        .bearer_auth(&org.owner.token)
        .send()
        .await
        .expect("download");
    assert_eq!(res.headers()["content-type"], "application/octet-stream");
    assert!(res.headers()["content-security-policy"]
        .to_str()
        .unwrap_or("")
        .contains("sandbox"));

    // The ticket page lists the file with its size and a download link.
    let page = app
        .client
        .get(format!("{}/tickets/{id}", app.base))
        .header("cookie", format!("ladder_session={}", org.owner.token))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    let link = format!(
        "<a href=\"{}\" download>invoice-0042.pdf</a>",
        list[0]["url"].as_str().unwrap_or("")
    );
    assert!(page.contains(&link), "{page}");
    assert!(
        page.contains(&format!("{} B", expected.len())),
        "the size is shown"
    );

    // Another organisation cannot read it, nor can anyone signed out.
    let other = app.org("Other Clinic").await;
    let (s, _) = app
        .get(
            &other.owner,
            list[0]["url"]
                .as_str()
                .unwrap_or("")
                .trim_start_matches("/api/v1"),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .get(&other.owner, &format!("/tickets/{id}/attachments"))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let res = app.client.get(&url).send().await.expect("download");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

async fn malformed_messages_are_refused_with_nothing_written(b: Backend) {
    let settings = ladder_server::inbound::Settings {
        max_message_bytes: 4096,
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
    let org = app.org("Strict Clinic").await;
    let token = inbound_token(&app, &org).await;
    let agent = org.user(&app, "Alex Agent", "agent").await;
    let before = app.snapshot().await;
    let cases: Vec<(Vec<u8>, StatusCode, &str)> = vec![
        (Vec::new(), StatusCode::UNPROCESSABLE_ENTITY, "message"),
        (
            b"   \r\n".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "message",
        ),
        (
            b"Subject: no sender\r\n\r\nhello".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "From",
        ),
        (
            b"From: nobody\r\nSubject: x\r\n\r\nhello".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "From",
        ),
        (
            email(
                "big@example.org",
                "big@example.org",
                "",
                "Big",
                &"x".repeat(5000),
            )
            .into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "",
        ),
    ];
    for (raw, status, field) in cases {
        let (s, p) = post_email(&app, &token, raw).await;
        assert_eq!(s, status, "{p}");
        if !field.is_empty() {
            assert_eq!(p["field"], field, "{p}");
        }
    }
    let good = email("a@example.org", "ok@example.org", "", "Hi", "Hello");
    // Not sent as a message, without a token, with a wrong one, or by an agent's token.
    let res = app
        .client
        .post(format!("{}/api/v1/inbound/email", app.base))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body(good.clone())
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let res = app
        .client
        .post(format!("{}/api/v1/inbound/email", app.base))
        .header("content-type", "message/rfc822")
        .body(good.clone())
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let (s, _) = post_email(&app, "ldr_in_wrong", good.clone()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = post_email(&app, &agent.token, good.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(app.snapshot().await, before);
    assert_eq!(app.count("SELECT COUNT(*) FROM inbound_messages").await, 0);
    // An owner's own bearer token works too; a rotated inbound token stops working.
    let (s, _) = post_email(&app, &org.owner.token, good).await;
    assert_eq!(s, StatusCode::CREATED);
    let _newer = inbound_token(&app, &org).await;
    let (s, _) = post_email(
        &app,
        &token,
        email("a@example.org", "ok2@example.org", "", "Hi", "Hello"),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

/// Runs `ladder mailgate` with `raw` on standard input; its exit code and what it said.
fn mailgate(url: &str, token: &str, raw: &[u8]) -> (Option<i32>, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(["mailgate", "--url", url])
        .env("LADDER_INBOUND_TOKEN", token)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ladder mailgate");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(raw)
        .expect("write the message");
    let out = child.wait_with_output().expect("mailgate ends");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn mailgate_exits_as_a_mail_server_expects(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Pipe Clinic").await;
    let token = inbound_token(&app, &org).await;
    let raw = std::fs::read(mail_dir().join("alternative.eml")).expect("eml");
    let (url, tok, raw2) = (app.base.clone(), token.clone(), raw.clone());
    let (code, said) = tokio::task::spawn_blocking(move || mailgate(&url, &tok, &raw2))
        .await
        .expect("mailgate");
    assert_eq!(code, Some(0), "{said}");
    assert_eq!(app.count("SELECT COUNT(*) FROM tickets").await, 1);
    // A message the server refuses: 65, the MTA bounces it.
    let (url, tok) = (app.base.clone(), token.clone());
    let (code, said) =
        tokio::task::spawn_blocking(move || mailgate(&url, &tok, b"Subject: nobody\r\n\r\nhi"))
            .await
            .expect("mailgate");
    assert_eq!(code, Some(65), "{said}");
    assert!(said.contains("From"), "{said}");
    // A server that answers 503, and no server at all: 75, the MTA tries again later.
    let failing = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let failing_url = format!("http://{}", failing.local_addr().expect("addr"));
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut sock, _)) = failing.accept().await {
            let mut buf = vec![0u8; 65536];
            let _ = sock.read(&mut buf).await;
            let _ = sock
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
        }
    });
    let (tok, raw2) = (token.clone(), raw.clone());
    let (code, said) = tokio::task::spawn_blocking(move || mailgate(&failing_url, &tok, &raw2))
        .await
        .expect("mailgate");
    assert_eq!(code, Some(75), "{said}");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let (tok, raw2) = (token.clone(), raw.clone());
    let (code, said) =
        tokio::task::spawn_blocking(move || mailgate(&format!("http://{closed}"), &tok, &raw2))
            .await
            .expect("mailgate");
    assert_eq!(code, Some(75), "{said}");
    // Delivered again once the server is back: still one ticket.
    let (url, tok) = (app.base.clone(), token);
    let (code, _) = tokio::task::spawn_blocking(move || mailgate(&url, &tok, &raw))
        .await
        .expect("mailgate");
    assert_eq!(code, Some(0));
    assert_eq!(app.count("SELECT COUNT(*) FROM tickets").await, 1);
}

pub fn mail_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mail")
}

/// What each message of the corpus must read as: sender, subject, words of the text, files.
#[test]
fn the_corpus_parses_as_a_person_reads_it() {
    struct Expect {
        file: &'static str,
        from: &'static str,
        name: Option<&'static str>,
        subject: &'static str,
        says: &'static [&'static str],
        not: &'static [&'static str],
        files: &'static [(&'static str, &'static str)],
        automatic: bool,
    }
    let corpus = [
        Expect {
            file: "alternative.eml",
            from: "Maria.Lopez@Example.org",
            name: Some("Maria Lopez"),
            subject: "My crown came off again",
            says: &["The crown you fitted last week came off again this morning."],
            not: &["<div", "<br>"],
            files: &[],
            automatic: false,
        },
        Expect {
            file: "quoted_printable.eml",
            from: "juergen@example.de",
            name: Some("Jürgen Müller"),
            subject: "Rückerstattung für die Behandlung",
            says: &[
                "ich möchte eine Rückerstattung für die Behandlung vom 12. Mai.",
                "Grüße",
            ],
            not: &["=C3"],
            files: &[],
            automatic: false,
        },
        Expect {
            file: "base64_attachment.eml",
            from: "sam.osei@example.net",
            name: Some("Sam Osei"),
            subject: "Invoice attached",
            says: &["Please find the invoice attached. I was charged twice."],
            not: &[],
            files: &[("invoice-0042.pdf", "application/pdf")],
            automatic: false,
        },
        Expect {
            file: "latin1.eml",
            from: "renee@example.fr",
            name: Some("Renée François"),
            subject: "Problème de facturation",
            says: &["Je n'ai pas reçu ma facture. Merci de vérifier.", "Renée"],
            not: &["\u{fffd}"],
            files: &[],
            automatic: false,
        },
        Expect {
            file: "outlook_html.eml",
            from: "priya.nair@contoso.example",
            name: Some("Priya Nair"),
            subject: "RE: Appointment on Friday",
            says: &["I still have not heard back about moving my appointment. Please call me."],
            not: &["MsoNormal", "<p class", "&nbsp;", "urn:schemas", "**"],
            files: &[],
            automatic: false,
        },
        Expect {
            file: "forwarded_chain.eml",
            from: "tom@example.com",
            name: Some("Tom Becker"),
            subject: "Fwd: Your refund",
            says: &[
                "third time I write about it",
                "they still did not pay back the deposit",
            ],
            not: &[],
            files: &[],
            automatic: false,
        },
        Expect {
            file: "calendar_invite.eml",
            from: "lee.wong@example.org",
            name: Some("Lee Wong"),
            subject: "Invitation: Follow-up call @ Tue 10 Jun 2025 15:00",
            says: &["Can we have a short follow-up call about my treatment plan?"],
            not: &["BEGIN:VCALENDAR"],
            // The invite's calendar part (an alternative of the text) is kept as a file too.
            files: &[
                ("attachment.ics", "text/calendar"),
                ("invite.ics", "application/ics"),
            ],
            automatic: false,
        },
        Expect {
            file: "auto_reply.eml",
            from: "maria.lopez@example.org",
            name: Some("Maria Lopez"),
            subject: "Automatic reply: Your request [#0000]",
            says: &["out of the office"],
            not: &[],
            files: &[],
            automatic: true,
        },
        Expect {
            file: "bounce_dsn.eml",
            from: "MAILER-DAEMON@mx.example.net",
            name: Some("Mail Delivery System"),
            subject: "Undelivered Mail Returned to Sender",
            says: &["could not be delivered"],
            not: &[],
            files: &[
                ("attachment.bin", "message/delivery-status"),
                ("attachment.txt", "text/rfc822-headers"),
            ],
            automatic: true,
        },
    ];
    let on_disk = std::fs::read_dir(mail_dir())
        .expect("tests/mail")
        .filter(|e| {
            e.as_ref()
                .map(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .unwrap_or(false)
        })
        .count();
    assert_eq!(
        on_disk,
        corpus.len(),
        "every message of the corpus has its expectations"
    );
    for e in corpus {
        let raw = std::fs::read(mail_dir().join(e.file)).expect(e.file);
        let m = parse(&raw).unwrap_or_else(|err| panic!("{}: {err}", e.file));
        assert_eq!(m.from_email, e.from, "{}", e.file);
        assert_eq!(m.from_name.as_deref(), e.name, "{}", e.file);
        assert_eq!(m.subject, e.subject, "{}", e.file);
        for s in e.says {
            assert!(m.text.contains(s), "{}: {s:?} not in {:?}", e.file, m.text);
        }
        for s in e.not {
            assert!(!m.text.contains(s), "{}: {s:?} in {:?}", e.file, m.text);
        }
        let files: Vec<(&str, &str)> = m
            .files
            .iter()
            .map(|f| (f.filename.as_str(), f.content_type.as_str()))
            .collect();
        assert_eq!(files, e.files, "{}", e.file);
        assert_eq!(
            m.automatic.is_some(),
            e.automatic,
            "{}: {:?}",
            e.file,
            m.automatic
        );
        assert!(m.message_id.starts_with('<') && m.message_id.ends_with('>'));
    }
    // The Outlook reply's history is folded away from what is new.
    let outlook =
        parse(&std::fs::read(mail_dir().join("outlook_html.eml")).expect("eml")).expect("parses");
    let (new, old) = split_quoted(&outlook.text);
    assert!(new.contains("Please call me."), "{new}");
    assert!(!new.contains("We will get back to you shortly."), "{new}");
    assert!(old.is_some_and(|o| o.contains("We will get back to you shortly.")));
    let fwd = parse(&std::fs::read(mail_dir().join("forwarded_chain.eml")).expect("eml"))
        .expect("parses");
    let (new, old) = split_quoted(&fwd.text);
    assert_eq!(new, "See below, this is the third time I write about it.");
    assert!(old.is_some_and(|o| o.contains("did not pay back the deposit")));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Whatever arrives, parsing answers (a message or a refusal), never panics.
    #[test]
    fn arbitrary_bytes_never_panic_the_parser(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse(&bytes);
        let _ = ladder_server::inbound::prepare(&ladder_server::inbound::Settings::default(), bytes);
    }

    /// Nor does a message whose headers are right and whose MIME body is anything.
    #[test]
    fn arbitrary_mime_bodies_never_panic_the_parser(
        ctype in "(multipart/(mixed|alternative|report)|text/(plain|html)|application/pdf|message/rfc822)",
        encoding in "(base64|quoted-printable|8bit|7bit|x-unknown)",
        charset in "(utf-8|iso-8859-1|windows-1252|shift_jis|x-nonsense)",
        body in proptest::collection::vec(any::<u8>(), 0..1024),
    ) {
        let mut raw = format!(
            "From: a@b.example\r\nSubject: x\r\nContent-Type: {ctype}; charset={charset}; boundary=\"b\"\r\n\
             Content-Transfer-Encoding: {encoding}\r\n\r\n"
        ).into_bytes();
        raw.extend_from_slice(&body);
        let m = parse(&raw);
        prop_assert!(m.is_ok(), "a sender and headers always parse: {:?}", m.err());
        if let Ok(m) = m {
            let (new, _) = split_quoted(&m.text);
            prop_assert!(m.text.starts_with(new));
        }
    }
}
