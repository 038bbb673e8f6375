//! The live stream, `GET /api/v1/stream`: what reaches whose open stream, resuming with
//! `Last-Event-ID`, and two servers on one PostgreSQL.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{eventually, Backend, Session, TestApp, TicketBuilder};
use crate::on_both_databases;

on_both_databases!(
    an_escalation_reaches_its_target_and_no_one_else,
    reconnecting_resumes_with_exactly_the_missed_events,
    reminders_moves_up_and_breaches_reach_the_people_they_concern,
    platform_support_hear_what_is_escalated_to_the_platform,
);

/// One event as a browser's `EventSource` dispatches it.
#[derive(Clone, Debug)]
struct Received {
    event: String,
    id: String,
    data: Value,
    /// When the test read it.
    at: Instant,
}

/// An open stream, read by a task of its own into a list the test looks at; dropping it
/// closes the connection.
struct Listening {
    events: Arc<Mutex<Vec<Received>>>,
    /// The id a browser would send back on reconnecting (id-only messages included).
    last_id: Arc<Mutex<String>>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Listening {
    fn events(&self) -> Vec<Received> {
        self.events.lock().expect("events").clone()
    }

    fn last_id(&self) -> String {
        self.last_id.lock().expect("last id").clone()
    }

    /// Waits until an event `name` about `ticket` has arrived, and returns it.
    async fn wait_for(&self, name: &str, ticket: &str) -> Received {
        let what = format!("{name} about {ticket}");
        eventually(&what, || async { self.find(name, ticket).is_some() }).await;
        self.find(name, ticket).expect("just seen")
    }

    fn find(&self, name: &str, ticket: &str) -> Option<Received> {
        self.events()
            .into_iter()
            .find(|e| e.event == name && e.data["ticket_id"] == ticket)
    }

    /// The (event, ticket) pairs received so far, in order.
    fn seen(&self) -> Vec<(String, String)> {
        self.events()
            .into_iter()
            .map(|e| {
                let ticket = e.data["ticket_id"].as_str().unwrap_or_default().to_owned();
                (e.event, ticket)
            })
            .collect()
    }
}

/// Opens `who`'s stream on the server at `base`, optionally resuming after `last`.
async fn listen(base: &str, who: &Session, last: Option<&str>) -> Listening {
    let mut req = reqwest::Client::new()
        .get(format!("{base}/api/v1/stream"))
        .bearer_auth(&who.token);
    if let Some(last) = last {
        req = req.header("Last-Event-ID", last);
    }
    let mut res = req.send().await.expect("open the stream");
    assert_eq!(res.status(), StatusCode::OK);
    let ctype = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(ctype.starts_with("text/event-stream"), "{ctype}");
    let events = Arc::new(Mutex::new(Vec::new()));
    let last_id = Arc::new(Mutex::new(String::new()));
    let (into, id_into) = (events.clone(), last_id.clone());
    let reader = tokio::spawn(async move {
        // The event stream format, as much of it as the server writes: `field: value`
        // lines, `:` comments, a blank line ending each message.
        let mut buf = String::new();
        while let Ok(Some(chunk)) = res.chunk().await {
            buf.push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
            while let Some(end) = buf.find("\n\n") {
                let message: String = buf.drain(..end + 2).collect();
                let (mut event, mut data) = ("message".to_owned(), Vec::new());
                for line in message.lines() {
                    let (field, value) = line.split_once(':').unwrap_or((line, ""));
                    let value = value.strip_prefix(' ').unwrap_or(value);
                    match field {
                        "event" => event = value.to_owned(),
                        "data" => data.push(value.to_owned()),
                        "id" => *id_into.lock().expect("last id") = value.to_owned(),
                        _ => {}
                    }
                }
                if !data.is_empty() {
                    let data = serde_json::from_str(&data.join("\n")).expect("JSON data");
                    let id = id_into.lock().expect("last id").clone();
                    into.lock().expect("events").push(Received {
                        event,
                        id,
                        data,
                        at: Instant::now(),
                    });
                }
            }
        }
    });
    Listening {
        events,
        last_id,
        reader,
    }
}

async fn escalate_to(app: &TestApp, who: &Session, ticket: &str, target: Value) -> String {
    let (s, esc) = app
        .post(who, &format!("/tickets/{ticket}/escalate"), json!({"target": target, "category": "billing", "note": "Needs a decision", "contact_method": "call", "urgency": "urgent"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{esc}");
    esc["id"].as_str().expect("escalation id").to_owned()
}

fn person(s: &Session) -> Value {
    json!({"kind": "user", "id": s.id})
}

async fn an_escalation_reaches_its_target_and_no_one_else(b: Backend) {
    let app = TestApp::spawn(b).await;
    let clinic = app.org("Bright Smile").await;
    let rita = clinic.user(&app, "Rita Reception", "agent").await;
    let xavier = clinic.user(&app, "Xavier Expert", "agent").await;
    let yara = clinic.user(&app, "Yara Other", "agent").await;
    let patient = clinic.customer(&app, "Maria Lopez").await;
    let other = app.org("Other Clinic").await;
    let oscar = other.user(&app, "Oscar Desk", "agent").await;
    let other_patient = other.customer(&app, "Olga Other").await;

    // Refusals: no token, a position that is not ours, too many streams.
    let (s, problem) = app.call("GET", None, "/stream", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{problem}");
    let res = app
        .client
        .get(format!("{}/api/v1/stream", app.base))
        .bearer_auth(&xavier.token)
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let problem: Value = res.json().await.expect("problem");
    assert_eq!(problem["field"], "Last-Event-ID");

    let xs = listen(&app.base, &xavier, None).await;
    let ys = listen(&app.base, &yara, None).await;
    let rs = listen(&app.base, &rita, None).await;
    let others = listen(&app.base, &other.owner, None).await;

    let t1 = TicketBuilder::new(&patient)
        .about("Double charge")
        .open(&app, &rita)
        .await;
    let e1 = escalate_to(&app, &rita, &t1, person(&xavier)).await;
    let got = xs.wait_for("escalation.created", &t1).await;
    assert_eq!(got.data["type"], "escalation.created");
    assert_eq!(got.data["escalation_id"], e1.as_str());
    assert!(got.data["at"].is_string(), "{}", got.data);
    assert!(
        got.id.parse::<i64>().is_ok(),
        "the id is a position: {}",
        got.id
    );

    // Yara is not concerned by t1. Events arrive in the order they were committed, so
    // once her own escalation is there, nothing of t1 can come before it.
    let t2 = TicketBuilder::new(&patient)
        .about("Refund")
        .open(&app, &rita)
        .await;
    escalate_to(&app, &rita, &t2, person(&yara)).await;
    ys.wait_for("escalation.created", &t2).await;
    assert!(
        ys.seen().iter().all(|(_, t)| *t == t2),
        "Yara saw another person's ticket: {:?}",
        ys.seen()
    );

    // The one who raised it watches: the acknowledgement reaches her.
    let (s, acked) = app
        .post(
            &xavier,
            &format!("/escalations/{e1}/acknowledge"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{acked}");
    rs.wait_for("escalation.acknowledged", &t1).await;

    // The other organisation's owner hears of their own escalation, and of nothing else.
    let t3 = TicketBuilder::new(&other_patient).open(&app, &oscar).await;
    escalate_to(&app, &oscar, &t3, json!({"kind": "owner"})).await;
    others.wait_for("escalation.created", &t3).await;
    assert!(
        others.seen().iter().all(|(_, t)| *t == t3),
        "another organisation's events leaked: {:?}",
        others.seen()
    );
    assert!(xs.seen().iter().all(|(_, t)| *t == t1), "{:?}", xs.seen());

    // A person holds a bounded number of streams.
    let mut more = Vec::new();
    for _ in 1..ladder_server::stream::MAX_STREAMS_PER_USER {
        more.push(listen(&app.base, &xavier, None).await);
    }
    let open_one = || async {
        app.client
            .get(format!("{}/api/v1/stream", app.base))
            .bearer_auth(&xavier.token)
            .send()
            .await
            .expect("request")
    };
    let refused = open_one().await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let problem: Value = refused.json().await.expect("problem");
    assert_eq!(problem["status"], 429, "{problem}");
    // Closing one frees its place.
    drop(more.pop());
    eventually("a closed stream frees its place", || async {
        open_one().await.status() == StatusCode::OK
    })
    .await;
}

async fn reconnecting_resumes_with_exactly_the_missed_events(b: Backend) {
    let app = TestApp::spawn(b).await;
    let clinic = app.org("Bright Smile").await;
    let rita = clinic.user(&app, "Rita Reception", "agent").await;
    let xavier = clinic.user(&app, "Xavier Expert", "agent").await;
    let yara = clinic.user(&app, "Yara Other", "agent").await;
    let patient = clinic.customer(&app, "Maria Lopez").await;
    let mut tickets = Vec::new();
    for subject in ["One", "Two", "Three"] {
        tickets.push(
            TicketBuilder::new(&patient)
                .about(subject)
                .open(&app, &rita)
                .await,
        );
    }
    let [t1, t2, t3] = [&tickets[0], &tickets[1], &tickets[2]];

    let xs = listen(&app.base, &xavier, None).await;
    escalate_to(&app, &rita, t1, person(&xavier)).await;
    let first = xs.wait_for("escalation.created", t1).await;
    assert_eq!(xs.seen(), [("escalation.created".to_owned(), t1.clone())]);
    drop(xs);

    // While Xavier is away: one escalation to him and a note on it, one to Yara.
    let e2 = escalate_to(&app, &rita, t2, person(&xavier)).await;
    escalate_to(&app, &rita, t3, person(&yara)).await;
    let (s, note) = app
        .post(
            &rita,
            &format!("/tickets/{t2}/comments"),
            json!({"body": "Customer called again", "public": false}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{note}");

    let xs = listen(&app.base, &xavier, Some(&first.id)).await;
    // Then something new, to know that everything before it has arrived.
    let (s, acked) = app
        .post(
            &xavier,
            &format!("/escalations/{e2}/acknowledge"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{acked}");
    xs.wait_for("escalation.acknowledged", t2).await;
    assert_eq!(
        xs.seen(),
        [
            ("escalation.created".to_owned(), t2.clone()),
            ("ticket.updated".to_owned(), t2.clone()),
            ("escalation.acknowledged".to_owned(), t2.clone()),
        ],
        "exactly what he missed, then what is new"
    );
    let ids: Vec<i64> = xs
        .events()
        .iter()
        .map(|e| e.id.parse().expect("a position"))
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1])
            && ids[0] > first.id.parse::<i64>().expect("a position"),
        "{ids:?}"
    );

    // A position this organisation never reached: the page is told to reload, and the
    // stream goes on from now.
    let lost = listen(&app.base, &xavier, Some("999999")).await;
    eventually("a reset", || async { !lost.events().is_empty() }).await;
    assert_eq!(lost.events()[0].event, "reset");
    assert_eq!(lost.last_id(), xs.last_id());
}

async fn reminders_moves_up_and_breaches_reach_the_people_they_concern(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Swift Heating").await;
    let tom = org.user(&app, "Tom Tech", "agent").await;
    let mia = org.user(&app, "Mia Manager", "specialist").await;
    let managers = org.team(&app, "Escalation managers", &[&mia]).await;
    let all_day = json!(["00:00-24:00"]);
    let calendar = json!({"name": "default", "time_zone": "UTC", "hours": {
        "mon": all_day, "tue": all_day, "wed": all_day, "thu": all_day,
        "fri": all_day, "sat": all_day, "sun": all_day}});
    let rule = json!({"name": "drill",
        "sla": {"acknowledge": "1h", "update_every": "15m", "resolve": "2h"},
        "chain": [
            {"target": {"kind": "user", "id": tom.id}, "ack_within": "10m"},
            {"target": {"kind": "team", "id": managers}, "ack_within": "1h"},
        ],
        "remind_at_percent": 50, "remind_every": "1h"});
    app.set_policy(
        &org.owner,
        json!({"calendars": [calendar], "rules": [rule]}),
    )
    .await;
    let customer = org.customer(&app, "Dana Field").await;
    let ticket = TicketBuilder::new(&customer).open(&app, &tom).await;
    let toms = listen(&app.base, &tom, None).await;
    let mias = listen(&app.base, &mia, None).await;
    let (s, e) = app
        .post(&tom, &format!("/tickets/{ticket}/escalate"), json!({"category": "complaint", "note": "Still leaking", "contact_method": "call", "urgency": "standard"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");

    // A reminder to Tom at 5 minutes, the move up to Mia's team at 10, the update clock
    // breached at 15: each fired by the timer engine, in its own transaction.
    app.advance(jiff::SignedDuration::from_mins(15)).await;
    toms.wait_for("sla.reminder", &ticket).await;
    let moved = mias.wait_for("escalation.moved_up", &ticket).await;
    let (_, t) = app.get(&org.owner, &format!("/tickets/{ticket}")).await;
    assert_eq!(moved.data["escalation_id"], t["active_escalation"]["id"]);
    toms.wait_for("escalation.moved_up", &ticket).await;
    mias.wait_for("sla.breached", &ticket).await;
    toms.wait_for("sla.breached", &ticket).await;
}

async fn platform_support_hear_what_is_escalated_to_the_platform(b: Backend) {
    let app = TestApp::spawn(b).await;
    let clinic = app.org("Platform Clinic").await;
    let quiet = app.org("Quiet Clinic").await;
    let ann = clinic.user(&app, "Ann Agent", "agent").await;
    let quinn = quiet.user(&app, "Quinn Desk", "agent").await;
    ladder_server::provision::create_platform_user(
        &app.db,
        "pat@platform.example",
        "Pat Platform",
        "platform-pass",
        app.now(),
    )
    .await
    .expect("platform user");
    let pat = app
        .login("platform", "pat@platform.example", "platform-pass")
        .await;
    let lee = clinic.customer(&app, "Lee").await;
    let kim = quiet.customer(&app, "Kim").await;
    let support = listen(&app.base, &pat, None).await;

    let to_platform = TicketBuilder::new(&lee).open(&app, &ann).await;
    escalate_to(&app, &ann, &to_platform, json!({"kind": "platform"})).await;
    let private = TicketBuilder::new(&kim).open(&app, &quinn).await;
    escalate_to(&app, &quinn, &private, json!({"kind": "owner"})).await;
    let later = TicketBuilder::new(&kim).open(&app, &quinn).await;
    escalate_to(&app, &quinn, &later, json!({"kind": "platform"})).await;
    support.wait_for("escalation.created", &to_platform).await;
    // The quiet clinic's trail is read in order: its private escalation came first.
    support.wait_for("escalation.created", &later).await;
    assert!(
        support.seen().iter().all(|(_, t)| *t != private),
        "{:?}",
        support.seen()
    );

    // A platform page that reconnects is told to reload.
    let again = listen(&app.base, &pat, Some(&support.last_id())).await;
    eventually("a reset", || async { !again.events().is_empty() }).await;
    assert_eq!(again.events()[0].event, "reset");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escalation_through_one_server_reaches_a_stream_on_another_within_2_s() {
    let a = TestApp::spawn(Backend::Postgres).await;
    let b = a.server_beside().await;
    let clinic = a.org("Bright Smile").await;
    let rita = clinic.user(&a, "Rita Reception", "agent").await;
    let patient = clinic.customer(&a, "Maria Lopez").await;
    let owners = listen(&b, &clinic.owner, None).await;

    let ticket = TicketBuilder::new(&patient).open(&a, &rita).await;
    let sent = Instant::now();
    escalate_to(&a, &rita, &ticket, json!({"kind": "owner"})).await;
    let got = owners.wait_for("escalation.created", &ticket).await;
    let took = got.at.duration_since(sent);
    eprintln!("server A to a stream on server B: {took:?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");

    // Server B's listening connection is cut: it listens again, and every stream reads
    // what was committed meanwhile.
    let cut = a
        .count(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        .await;
    // Server A's own listener goes too; B's was there, since its stream heard A.
    assert!(cut >= 1, "no listening connection to cut");
    let again = TicketBuilder::new(&patient).open(&a, &rita).await;
    escalate_to(&a, &rita, &again, json!({"kind": "owner"})).await;
    owners.wait_for("escalation.created", &again).await;
}
