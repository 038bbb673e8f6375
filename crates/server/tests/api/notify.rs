//! Notifications leave the building: emails to a real SMTP server process (Debian's
//! aiosmtpd, with the sink in `tests/support/smtp_sink.py`), signed webhooks to a receiver
//! on loopback, retries on the test clock, and the deliveries API.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode as AxumStatus};
use jiff::SignedDuration;
use ladder_server::notify::{smtp::SmtpUrl, Settings};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{eventually, Backend, Org, Session, TestApp, TicketBuilder};
use crate::on_both_databases;

on_both_databases!(
    the_clinic_flow_emails_the_owner_the_patient_and_the_escalator,
    a_platform_escalation_mails_platform_support,
    a_notice_with_nobody_to_tell_is_never_written,
    nothing_is_lost_while_the_mail_server_is_down,
    a_webhook_that_fails_twice_gets_the_event_three_times_with_one_id,
    webhooks_on_private_networks_are_refused,
    staff_and_organisations_turn_emails_off,
    deliveries_fail_after_a_day_and_are_retried_on_request,
);

/// An aiosmtpd process writing each message it accepts to a directory; killed when dropped.
pub struct SmtpSink {
    child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
}

impl SmtpSink {
    /// Starts the sink on a free loopback port and waits until it accepts connections.
    pub async fn start() -> SmtpSink {
        let dir = std::env::temp_dir().join(format!(
            "ladder-smtp-{}-{}",
            std::process::id(),
            ladder_storage::new_id()
        ));
        std::fs::create_dir_all(&dir).expect("sink directory");
        let port = free_port();
        let mut sink = SmtpSink {
            child: None,
            port,
            dir,
        };
        sink.run().await;
        sink
    }

    /// (Re)starts the process on the same port and directory.
    pub async fn run(&mut self) {
        let support = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support");
        let child = Command::new("/usr/bin/python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{}", self.port))
            .args(["-c", "smtp_sink.Sink"])
            .arg(&self.dir)
            .env("PYTHONPATH", support)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd (Debian's python3-aiosmtpd)");
        self.child = Some(child);
        let port = self.port;
        eventually("the SMTP sink accepts connections", || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        })
        .await;
    }

    /// Stops the process (the mail server is down).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.port)
    }

    /// Every message accepted so far.
    pub fn messages(&self) -> Vec<Value> {
        let mut out: Vec<Value> = std::fs::read_dir(&self.dir)
            .expect("read the sink")
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .map(|e| {
                let text = std::fs::read_to_string(e.path()).expect("read a message");
                serde_json::from_str(&text).expect("a message as JSON")
            })
            .collect();
        out.sort_by_key(|m| m["subject"].as_str().unwrap_or_default().to_owned());
        out
    }

    /// The messages sent to `address`.
    pub fn to(&self, address: &str) -> Vec<Value> {
        self.messages()
            .into_iter()
            .filter(|m| {
                m["rcpt_tos"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|r| r == address))
            })
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn settings(smtp: Option<&SmtpSink>) -> Settings {
    Settings {
        smtp: smtp.map(|s| SmtpUrl::parse(&s.url()).expect("sink URL")),
        mail_from: "Bright Smile <desk@bright-smile.example>".into(),
        public_url: "https://desk.bright-smile.example".into(),
        allow_private_webhooks: false,
        ..Settings::default()
    }
}

/// The organisation's deliveries, as its owner sees them.
async fn deliveries(app: &TestApp, org: &Org, state: Option<&str>) -> Vec<Value> {
    deliveries_as(app, &org.owner, state).await
}

async fn deliveries_as(app: &TestApp, who: &Session, state: Option<&str>) -> Vec<Value> {
    let path = match state {
        Some(s) => format!("/deliveries?state={s}"),
        None => "/deliveries".to_owned(),
    };
    let (s, body) = app.get(who, &path).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body.as_array().cloned().expect("a list")
}

fn email_of(s: &Session, org: &Org) -> String {
    format!(
        "{}@{}.example",
        s.name.to_lowercase().replace(' ', "."),
        org.slug
    )
}

async fn the_clinic_flow_emails_the_owner_the_patient_and_the_escalator(b: Backend) {
    let sink = SmtpSink::start().await;
    let app = TestApp::spawn_notifying(b, settings(Some(&sink))).await;
    let clinic = app.org("Bright Smile").await;
    let owner = &clinic.owner;
    let rita = clinic.user(&app, "Rita Reception", "agent").await;
    let patient = clinic.customer(&app, "Maria Lopez").await;
    let ticket = TicketBuilder::new(&patient)
        .about("Charged for a crown I never had")
        .saying("You billed me for a crown I never received. I'll sue for false advertising.")
        .open(&app, &rita)
        .await;
    let note = "Patient says she was charged for a crown she never had; please review the records.";
    let (s, esc) = app
        .post(&rita, &format!("/tickets/{ticket}/escalate"), json!({"category": "legal", "note": note,
            "tried": "Checked the ledger with her on the phone.", "contact_method": "call", "urgency": "urgent"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{esc}");
    let esc_id = esc["id"].as_str().expect("id").to_owned();
    app.deliver().await;

    // The owner's email carries every detail, and a link to the ticket page.
    let owner_mail = sink.to("owner@bright-smile.example");
    assert_eq!(owner_mail.len(), 1, "{owner_mail:?}");
    let m = &owner_mail[0];
    let text = m["text"].as_str().expect("a text body");
    let html = m["html"].as_str().expect("an HTML body");
    for needle in [
        note,
        "Checked the ledger with her on the phone.",
        "Contact by:     call",
        "Maria Lopez (maria.lopez@example.com)",
        "Rita Reception escalated",
        "legal threat: \"I'll sue\"",
        "acknowledge by",
        &format!("https://desk.bright-smile.example/tickets/{ticket}"),
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
    assert!(html.contains("Patient says she was charged"), "{html}");
    assert!(m["subject"]
        .as_str()
        .unwrap()
        .contains(&format!("[#{ticket}]")));
    assert_eq!(m["from"], "Bright Smile <desk@bright-smile.example>");
    insta::assert_snapshot!(
        "escalation_requested_text",
        redact(text, &ticket, &[&rita.id])
    );
    insta::assert_snapshot!(
        "escalation_requested_html",
        redact(html, &ticket, &[&rita.id])
    );

    // The owner takes it: the patient hears who owns it and when the next update is due.
    let (s, acked) = app
        .post(
            owner,
            &format!("/escalations/{esc_id}/acknowledge"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{acked}");
    let next_update: jiff::Timestamp = acked["update_due_at"]
        .as_str()
        .expect("an update deadline")
        .parse()
        .expect("a time");
    app.deliver().await;
    let to_patient = sink.to("maria.lopez@example.com");
    assert_eq!(to_patient.len(), 1, "{to_patient:?}");
    let ack = &to_patient[0];
    let text = ack["text"].as_str().expect("text");
    assert!(text.contains("Bright Smile Owner now owns it"), "{text}");
    let when = ladder_server::notify::render::when(next_update);
    assert!(
        text.contains(&format!("You will hear from us by {when}")),
        "{text}"
    );
    assert!(ack["subject"]
        .as_str()
        .unwrap()
        .starts_with(&format!("[#{ticket}]")));
    let thread = format!("<ticket-{ticket}@desk.bright-smile.example>");
    assert_eq!(
        ack["in_reply_to"],
        thread.as_str(),
        "customer emails thread on the ticket"
    );
    insta::assert_snapshot!("customer_acknowledgement_text", redact(text, &ticket, &[]));
    // The escalator hears it was taken.
    let to_rita = sink.to(&email_of(&rita, &clinic));
    assert_eq!(to_rita.len(), 1);
    assert!(to_rita[0]["subject"]
        .as_str()
        .unwrap()
        .contains("took your escalation"));

    // A public reply reaches the patient.
    let (s, _) = app
        .post(
            owner,
            &format!("/tickets/{ticket}/comments"),
            json!({"body": "We found the charge and are reversing it today.", "public": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    // Resolved: the patient is asked to verify, the escalator hears how it ended.
    let (s, r) = app
        .post(
            owner,
            &format!("/escalations/{esc_id}/resolve"),
            json!({"summary": "Charge reversed; the crown was billed to the wrong patient."}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    app.deliver().await;
    let to_patient = sink.to("maria.lopez@example.com");
    assert_eq!(to_patient.len(), 3, "{to_patient:?}");
    assert!(to_patient
        .iter()
        .any(|m| m["text"].as_str().unwrap().contains("We found the charge")));
    let verify = to_patient
        .iter()
        .find(|m| m["subject"].as_str().unwrap().ends_with("resolved?"))
        .expect("the verification request");
    assert!(verify["text"].as_str().unwrap().contains("Charge reversed"));
    let to_rita = sink.to(&email_of(&rita, &clinic));
    let ended = to_rita
        .iter()
        .find(|m| m["subject"].as_str().unwrap().starts_with("Resolved:"))
        .expect("how it ended");
    let text = ended["text"].as_str().unwrap();
    assert!(text.contains("How it ended"), "{text}");
    assert!(text.contains("Charge reversed; the crown was billed to the wrong patient."));

    // Every delivery went once, with its key as the Message-ID.
    let all = deliveries(&app, &clinic, Some("delivered")).await;
    assert_eq!(all.len(), sink.messages().len());
    let ids: std::collections::BTreeSet<&str> = sink
        .messages()
        .iter()
        .map(|m| m["message_id"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .leak()
        .iter()
        .map(String::as_str)
        .collect();
    for d in &all {
        assert_eq!(d["attempts"], 1);
        assert!(ids.contains(d["idempotency_key"].as_str().unwrap()), "{d}");
    }
    assert!(deliveries(&app, &clinic, Some("pending")).await.is_empty());
    // Counted in /metrics.
    let metrics = reqwest::get(format!("{}/metrics", app.base))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains(&format!(
            "ladder_deliveries{{channel=\"email\",state=\"delivered\"}} {}",
            all.len()
        )),
        "{metrics}"
    );
}

/// Ids and the ticket's reference vary from run to run; the rest of an email is reviewed.
fn redact(text: &str, ticket: &str, ids: &[&str]) -> String {
    let mut out = text.replace(ticket, "TICKET");
    for id in ids {
        out = out.replace(id, "ID");
    }
    out
}

async fn a_platform_escalation_mails_platform_support(b: Backend) {
    let sink = SmtpSink::start().await;
    let app = TestApp::spawn_notifying(b, settings(Some(&sink))).await;
    let org = app.org("Platform Clinic").await;
    let agent = org.user(&app, "Ann Agent", "agent").await;
    ladder_server::provision::create_platform_user(
        &app.db,
        "pat@platform.example",
        "Pat Platform",
        "platform-pass",
        app.now(),
    )
    .await
    .expect("platform user");
    let customer = org.customer(&app, "Lee").await;
    let ticket = TicketBuilder::new(&customer)
        .about("Records export broken in dispute")
        .open(&app, &agent)
        .await;
    let (s, esc) = app.post(&agent, &format!("/tickets/{ticket}/escalate"), json!({"target": {"kind": "platform"}, "category": "legal", "note": "Need platform legal review", "contact_method": "email", "urgency": "urgent"})).await;
    assert_eq!(s, StatusCode::CREATED, "{esc}");
    app.deliver().await;
    let mail = sink.to("pat@platform.example");
    assert_eq!(mail.len(), 1, "{:?}", sink.messages());
    assert!(mail[0]["text"]
        .as_str()
        .unwrap()
        .contains("Need platform legal review"));
    // Its reminders go to platform support too: never a notice with nobody to tell.
    app.advance(SignedDuration::from_hours(8)).await;
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM audit_events WHERE kind = 'sla_reminder' AND payload LIKE '%\"to\":[]%'",
    )
    .fetch_one(app.db.pool())
    .await
    .expect("count");
    assert_eq!(n, 0, "a reminder with nobody to tell");
    app.deliver().await;
    let reminders: Vec<Value> = sink
        .to("pat@platform.example")
        .into_iter()
        .filter(|m| m["subject"].as_str().unwrap().starts_with("Reminder"))
        .collect();
    assert!(!reminders.is_empty(), "{:?}", sink.messages());
}

async fn nothing_is_lost_while_the_mail_server_is_down(b: Backend) {
    let mut sink = SmtpSink::start().await;
    let app = TestApp::spawn_notifying(b, settings(Some(&sink))).await;
    let clinic = app.org("Down Clinic").await;
    let agent = clinic.user(&app, "Ann Agent", "agent").await;
    let customer = clinic.customer(&app, "Lee").await;
    sink.stop();
    let mut tickets = Vec::new();
    for i in 0..5 {
        let t = TicketBuilder::new(&customer)
            .about(&format!("Problem {i}"))
            .open(&app, &agent)
            .await;
        let (s, _) = app
            .post(&agent, &format!("/tickets/{t}/escalate"), json!({"category": "technical", "note": "Please look", "contact_method": "email", "urgency": "standard"}))
            .await;
        assert_eq!(s, StatusCode::CREATED);
        tickets.push(t);
    }
    assert_eq!(app.deliver().await, 5, "five attempts, all refused");
    let pending = deliveries(&app, &clinic, Some("pending")).await;
    assert_eq!(pending.len(), 5);
    for d in &pending {
        assert_eq!(d["attempts"], 1);
        assert!(d["last_error"].as_str().unwrap().contains("SMTP"), "{d}");
    }
    // A minute later it is still down: retried once more. (The clock is moved by hand: no
    // SLA timer fires on the way, so these five are the only emails.)
    app.clock.set(app.now() + SignedDuration::from_secs(61));
    app.deliver().await;
    assert!(sink.messages().is_empty());
    // Back: everything arrives once the backoff has passed.
    sink.run().await;
    app.clock.set(app.now() + SignedDuration::from_mins(5));
    app.deliver().await;
    let got = sink.to("owner@down-clinic.example");
    assert_eq!(got.len(), 5, "{got:?}");
    let delivered = deliveries(&app, &clinic, Some("delivered")).await;
    assert_eq!(delivered.len(), 5);
    assert!(
        delivered.iter().all(|d| d["attempts"] == 3),
        "{delivered:?}"
    );
}

/// A webhook receiver on loopback: answers 500 to its first `failures` calls, then 200, and
/// records every call's headers and body.
/// Each call's headers and body.
type Calls = Vec<(BTreeMap<String, String>, String)>;

#[derive(Clone, Default)]
struct Receiver {
    calls: Arc<Mutex<Calls>>,
    failures: Arc<Mutex<usize>>,
}

impl Receiver {
    async fn start(failures: usize) -> (Receiver, String) {
        let r = Receiver::default();
        *r.failures.lock().unwrap() = failures;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let shared = r.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let r = shared.clone();
                async move {
                    let h = headers
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                        .collect();
                    r.calls.lock().unwrap().push((h, body));
                    let mut left = r.failures.lock().unwrap();
                    if *left > 0 {
                        *left -= 1;
                        AxumStatus::INTERNAL_SERVER_ERROR
                    } else {
                        AxumStatus::OK
                    }
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        (r, url)
    }

    fn calls(&self) -> Calls {
        self.calls.lock().unwrap().clone()
    }
}

/// Verifies a call's signature as a receiver would, from the secret alone.
fn verify(secret: &str, headers: &BTreeMap<String, String>, body: &str) -> bool {
    use base64::Engine;
    use hmac::Mac;
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .expect("base64 secret");
    let signed = format!(
        "{}.{}.{}",
        headers["webhook-id"], headers["webhook-timestamp"], body
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("key");
    mac.update(signed.as_bytes());
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    headers["webhook-signature"]
        .split(' ')
        .any(|s| s == expected)
}

async fn a_webhook_that_fails_twice_gets_the_event_three_times_with_one_id(b: Backend) {
    let (receiver, url) = Receiver::start(2).await;
    let mut s = settings(None);
    s.allow_private_webhooks = true; // the receiver is on loopback
    let app = TestApp::spawn_notifying(b, s).await;
    let org = app.org("Hooked Clinic").await;
    let (st, hook) = app
        .post(
            &org.owner,
            "/webhooks",
            json!({"url": url, "events": ["escalation.created", "ticket.created"]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{hook}");
    let secret = hook["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("whsec_"));
    let (st, list) = app.get(&org.owner, "/webhooks").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(list[0]["id"], hook["id"]);
    assert!(list[0].get("secret").is_none(), "the secret is shown once");

    let customer = org.customer(&app, "Lee").await;
    let ticket = TicketBuilder::new(&customer)
        .about("Broken")
        .open(&app, &org.owner)
        .await;
    // ticket.created: fails once (the receiver's second failure is for the escalation).
    app.deliver().await;
    let (st, _) = app
        .post(&org.owner, &format!("/tickets/{ticket}/escalate"), json!({"category": "technical", "note": "Please look", "contact_method": "email", "urgency": "standard"}))
        .await;
    assert_eq!(st, StatusCode::CREATED);
    app.deliver().await;
    // Nothing happens before the backoff has passed.
    let before = receiver.calls().len();
    app.deliver().await;
    assert_eq!(receiver.calls().len(), before);
    for _ in 0..3 {
        app.clock.set(app.now() + SignedDuration::from_hours(1));
        app.deliver().await;
    }
    let calls = receiver.calls();
    let created: Vec<_> = calls
        .iter()
        .filter(|(_, body)| body.contains("\"escalation.created\""))
        .collect();
    let first = created.first().expect("the escalation's event");
    assert!(
        created.len() >= 2
            && created
                .iter()
                .all(|(h, _)| h["webhook-id"] == first.0["webhook-id"]),
        "one id for every attempt: {created:?}"
    );
    for (h, body) in &calls {
        assert!(verify(&secret, h, body), "a bad signature: {h:?}");
        let v: Value = serde_json::from_str(body).expect("JSON body");
        assert!(v["type"].is_string() && v["timestamp"].is_string() && v["data"].is_object());
    }
    // Three calls in all for the ticket's event and the escalation's: fail, fail, succeed.
    let ticket_calls: Vec<_> = calls
        .iter()
        .filter(|(_, body)| body.contains("\"ticket.created\""))
        .collect();
    assert_eq!(ticket_calls.len() + created.len(), 4, "{calls:?}");
    let delivered = deliveries(&app, &org, Some("delivered")).await;
    assert_eq!(delivered.len(), 2, "{delivered:?}");
    let by_kind = |k: &str| delivered.iter().find(|d| d["kind"] == k).cloned().expect(k);
    assert_eq!(by_kind("ticket.created")["attempts"], 2);
    assert_eq!(by_kind("escalation.created")["attempts"], created.len());
    assert_eq!(
        by_kind("escalation.created")["idempotency_key"],
        first.0["webhook-id"].as_str()
    );

    // A receiver failing twice in a row: three attempts, one id.
    let (third, url) = Receiver::start(2).await;
    let (st, hook2) = app
        .post(
            &org.owner,
            "/webhooks",
            json!({"url": url, "events": ["escalation.acknowledged"]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let esc = app.get(&org.owner, &format!("/tickets/{ticket}")).await.1["active_escalation"]["id"]
        .as_str()
        .expect("escalation")
        .to_owned();
    let (st, _) = app
        .post(
            &org.owner,
            &format!("/escalations/{esc}/acknowledge"),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    app.deliver().await;
    for _ in 0..3 {
        app.clock.set(app.now() + SignedDuration::from_hours(1));
        app.deliver().await;
    }
    let calls = third.calls();
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert!(calls
        .iter()
        .all(|(h, _)| h["webhook-id"] == calls[0].0["webhook-id"]));
    let secret2 = hook2["secret"].as_str().unwrap();
    assert!(calls.iter().all(|(h, body)| verify(secret2, h, body)));
    let d = deliveries(&app, &org, Some("delivered"))
        .await
        .into_iter()
        .find(|d| d["kind"] == "escalation.acknowledged")
        .expect("the acknowledgement's delivery");
    assert_eq!(d["attempts"], 3);
    assert_eq!(d["idempotency_key"], calls[0].0["webhook-id"].as_str());

    // Deleted: no more calls, and it is gone from the list.
    let id = hook2["id"].as_str().unwrap();
    let (st, _) = app
        .call("DELETE", Some(&org.owner), &format!("/webhooks/{id}"), None)
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = app
        .call("DELETE", Some(&org.owner), &format!("/webhooks/{id}"), None)
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (_, list) = app.get(&org.owner, "/webhooks").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

async fn webhooks_on_private_networks_are_refused(b: Backend) {
    let app = TestApp::spawn_notifying(b, settings(None)).await;
    let org = app.org("Careful Clinic").await;
    let before = app.count("SELECT COUNT(*) FROM webhooks").await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://127.8.8.8/hook",
        "http://[::1]:8080/hook",
        "http://10.0.0.5/hook",
        "http://172.16.3.4/hook",
        "http://172.31.255.1/hook",
        "https://192.168.1.20/hook",
        "http://169.254.169.254/latest/meta-data",
        // A host name that resolves to loopback.
        "http://localhost:8080/hook",
    ] {
        let (s, body) = app
            .post(
                &org.owner,
                "/webhooks",
                json!({"url": url, "events": ["sla.breached"]}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        assert_eq!(body["field"], "url", "{body}");
    }
    let (s, body) = app
        .post(
            &org.owner,
            "/webhooks",
            json!({"url": "ftp://example.org/x", "events": ["sla.breached"]}),
        )
        .await;
    assert_eq!(
        (s, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("url"))
    );
    let (s, body) = app
        .post(
            &org.owner,
            "/webhooks",
            json!({"url": "http://8.8.8.8/hook", "events": ["sla.exploded"]}),
        )
        .await;
    assert_eq!(
        (s, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("events[0]"))
    );
    // Only owners and admins.
    let agent = org.user(&app, "Ann Agent", "agent").await;
    let (s, _) = app
        .post(
            &agent,
            "/webhooks",
            json!({"url": "http://8.8.8.8/hook", "events": ["sla.breached"]}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhooks").await,
        before,
        "nothing written"
    );
}

async fn staff_and_organisations_turn_emails_off(b: Backend) {
    let sink = SmtpSink::start().await;
    let app = TestApp::spawn_notifying(b, settings(Some(&sink))).await;
    let org = app.org("Quiet Clinic").await;
    let agent = org.user(&app, "Ann Agent", "agent").await;
    let (s, prefs) = app
        .put(
            &org.owner,
            "/me/email-preferences",
            json!({"off": ["escalation_requested"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{prefs}");
    let (_, prefs) = app.get(&org.owner, "/me/email-preferences").await;
    assert_eq!(prefs["off"], json!(["escalation_requested"]));
    let (s, body) = app
        .put(
            &org.owner,
            "/me/email-preferences",
            json!({"off": ["carrier_pigeon"]}),
        )
        .await;
    assert_eq!(
        (s, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("off[0]"))
    );
    let (s, _) = app
        .put(
            &agent,
            "/settings/customer-emails",
            json!({"off": ["customer_acknowledgement"]}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "only owners and admins choose for customers"
    );
    let (s, _) = app
        .put(
            &org.owner,
            "/settings/customer-emails",
            json!({"off": ["customer_acknowledgement"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, settings) = app.get(&agent, "/settings/customer-emails").await;
    assert_eq!(settings["off"], json!(["customer_acknowledgement"]));

    let customer = org.customer(&app, "Lee").await;
    let ticket = TicketBuilder::new(&customer)
        .about("Quiet please")
        .open(&app, &agent)
        .await;
    let (_, esc) = app
        .post(&agent, &format!("/tickets/{ticket}/escalate"), json!({"category": "technical", "note": "Please look", "contact_method": "email", "urgency": "standard"}))
        .await;
    let esc = esc["id"].as_str().unwrap();
    let (s, _) = app
        .post(
            &org.owner,
            &format!("/escalations/{esc}/acknowledge"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    app.deliver().await;
    assert!(
        sink.to("owner@quiet-clinic.example").is_empty(),
        "the owner turned it off"
    );
    assert!(
        sink.to("lee@example.com").is_empty(),
        "the organisation turned it off"
    );
    // The escalator still hears it was taken.
    assert_eq!(sink.to(&email_of(&agent, &org)).len(), 1);
}

async fn deliveries_fail_after_a_day_and_are_retried_on_request(b: Backend) {
    let mut sink = SmtpSink::start().await;
    let app = TestApp::spawn_notifying(b, settings(Some(&sink))).await;
    let org = app.org("Failing Clinic").await;
    sink.stop();
    let customer = org.customer(&app, "Lee").await;
    let agent = org.user(&app, "Ann Agent", "agent").await;
    let ticket = TicketBuilder::new(&customer)
        .about("Lost")
        .open(&app, &agent)
        .await;
    let (_, _) = app
        .post(&agent, &format!("/tickets/{ticket}/escalate"), json!({"category": "technical", "note": "Please look", "contact_method": "email", "urgency": "standard"}))
        .await;
    // A day and more passes (no SLA timer fires: the clock is moved by hand).
    for _ in 0..30 {
        app.deliver().await;
        app.clock.set(app.now() + SignedDuration::from_hours(1));
    }
    app.deliver().await;
    // A day later the owner signs in again.
    let owner = app
        .login(&org.slug, "owner@failing-clinic.example", "owner-password")
        .await;
    let agent = app
        .login(&org.slug, &email_of(&agent, &org), "password-123")
        .await;
    let failed = deliveries_as(&app, &owner, Some("failed")).await;
    assert_eq!(
        failed.len(),
        1,
        "{:?}",
        deliveries_as(&app, &owner, None).await
    );
    let d = &failed[0];
    assert!(d["attempts"].as_i64().unwrap() > 10, "{d}");
    assert!(d["last_error"].as_str().unwrap().contains("SMTP"));
    let (s, body) = app.get(&owner, "/deliveries?state=lost").await;
    assert_eq!(
        (s, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("state"))
    );
    let (s, _) = app.get(&agent, "/deliveries").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let metrics = reqwest::get(format!("{}/metrics", app.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("ladder_deliveries{channel=\"email\",state=\"failed\"} 1"),
        "{metrics}"
    );

    // Retried on request once the server is back.
    sink.run().await;
    let id = d["id"].as_str().unwrap();
    let (s, retried) = app
        .post(&owner, &format!("/deliveries/{id}/retry"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{retried}");
    assert_eq!(retried["state"], "pending");
    app.deliver().await;
    assert_eq!(sink.to("owner@failing-clinic.example").len(), 1);
    let (s, _) = app
        .post(&owner, &format!("/deliveries/{id}/retry"), json!({}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "delivered already");
    let (s, _) = app.post(&owner, "/deliveries/nope/retry", json!({})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

async fn a_notice_with_nobody_to_tell_is_never_written(b: Backend) {
    let app = TestApp::spawn_notifying(b, settings(None)).await;
    let org = app.org("Lonely Clinic").await;
    let agent = org.user(&app, "Ann Agent", "agent").await;
    let customer = org.customer(&app, "Lee").await;
    let ticket = TicketBuilder::new(&customer)
        .about("Nobody home")
        .open(&app, &agent)
        .await;
    // No platform staff exist yet: the platform holds the deadlines and reaches nobody.
    let (s, esc) = app.post(&agent, &format!("/tickets/{ticket}/escalate"), json!({"target": {"kind": "platform"}, "category": "technical", "note": "Platform please", "contact_method": "email", "urgency": "urgent"})).await;
    assert_eq!(s, StatusCode::CREATED, "{esc}");
    app.advance(SignedDuration::from_hours(30)).await;
    // Reminders fell due on the way (the audit trail has them for other escalations), but
    // none was written with nobody to tell.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'sla_reminder' AND payload LIKE '%\"to\":[]%'")
            .await,
        0,
        "a reminder to nobody"
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM outbox WHERE audience = 'staff' AND recipient_user_ids = '[]'"
        )
        .await,
        0
    );
}
