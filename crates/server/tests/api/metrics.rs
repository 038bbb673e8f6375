//! The escalation metrics: a scripted fortnight whose every figure is worked out by hand
//! (in the comments), read back whole, grouped and as CSV; who may read what; bad input.

use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{Backend, Org, Session, TestApp, TicketBuilder, START};
use crate::on_both_databases;

on_both_databases!(
    a_scripted_month_gives_the_figures_worked_out_by_hand,
    a_category_changed_later_decides_a_return,
    agents_see_their_own_and_bad_periods_are_refused,
    the_reports_page_shows_the_figures_and_links_the_csv,
    an_hours_tickets_counted_by_several_connections_add_up_and_a_removal_keeps_them_exact,
);

/// Monday 2 June 2025 plus days, hours and minutes (UTC; the policy's calendar is UTC too).
fn at(day: i64, hour: i64, minute: i64) -> Timestamp {
    // START is Monday 10:00.
    START + SignedDuration::from_hours(24 * day + hour - 10) + SignedDuration::from_mins(minute)
}

async fn ticket(
    app: &TestApp,
    who: &Session,
    customer: &str,
    category: &str,
    team: Option<&str>,
) -> String {
    let (s, t) = app
        .post(
            who,
            "/tickets",
            json!({"subject": "Boiler service", "description": "The boiler makes a noise.",
                   "customer_id": customer, "channel": "phone", "category": category,
                   "team_id": team}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    t["id"].as_str().expect("ticket id").to_owned()
}

async fn escalate(app: &TestApp, who: &Session, ticket: &str, category: &str) -> String {
    let (s, e) = app
        .post(
            who,
            &format!("/tickets/{ticket}/escalate"),
            json!({"category": category, "note": "The customer needs a decision.",
                   "contact_method": "call", "urgency": "standard"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    e["id"].as_str().expect("escalation id").to_owned()
}

async fn ok(app: &TestApp, who: &Session, path: &str, body: Value) -> Value {
    let (s, v) = app.post(who, path, body).await;
    assert!(s.is_success(), "{path}: {s} {v}");
    v
}

async fn csv(app: &TestApp, who: &Session, query: &str) -> (StatusCode, String, String) {
    let res = app
        .client
        .get(format!("{}/api/v1/metrics/escalations?{query}", app.base))
        .bearer_auth(&who.token)
        .header("accept", "text/csv")
        .send()
        .await
        .expect("request");
    let status = res.status();
    let ctype = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, ctype, res.text().await.expect("body"))
}

/// Signs everyone in again: sessions last 12 hours, and the script runs for days.
async fn wake(app: &TestApp, org: &Org, people: [&mut Session; 5]) {
    for who in people {
        let (email, password) = if who.id == org.owner.id {
            (format!("owner@{}.example", org.slug), "owner-password")
        } else {
            (
                format!(
                    "{}@{}.example",
                    who.name.to_lowercase().replace(' ', "."),
                    org.slug
                ),
                "password-123",
            )
        };
        *who = app.login(&org.slug, &email, password).await;
    }
}

struct Script {
    org: Org,
    alan: Session,
    bea: Session,
    ada: Session,
    aud: Session,
    team: String,
    e: [String; 5],
}

/// The fortnight. Policy: one rule on a Monday–Friday 09:00–17:00 UTC calendar; acknowledge
/// within 1 h, update every 4 h, resolve within 8 h, all business time; the owner first.
async fn script(app: &TestApp) -> Script {
    let org = app.org("Warm Homes").await;
    let mut alan = org.user(app, "Alan Agent", "agent").await;
    let mut bea = org.user(app, "Bea Agent", "agent").await;
    let mut ada = org.user(app, "Ada Admin", "admin").await;
    let mut aud = org.user(app, "Aud Auditor", "auditor").await;
    let team = org.team(app, "Front desk", &[&alan]).await;
    let nine_to_five = json!(["09:00-17:00"]);
    app.set_policy(
        &org.owner,
        json!({
            "calendars": [{"name": "default", "time_zone": "UTC", "hours": {
                "mon": nine_to_five, "tue": nine_to_five, "wed": nine_to_five,
                "thu": nine_to_five, "fri": nine_to_five}}],
            "rules": [{"name": "all", "chain": [{"target": {"kind": "owner"}, "ack_within": "3bd"}],
                       "sla": {"acknowledge": "1h", "update_every": "4h", "resolve": "8h"}}],
        }),
    )
    .await;
    let mut owner = org.owner.clone();
    let c = [
        org.customer(app, "Cara One").await,
        org.customer(app, "Carl Two").await,
        org.customer(app, "Cleo Three").await,
        org.customer(app, "Cody Four").await,
        org.customer(app, "Cole Five").await,
    ];

    // Monday 2 June, 10:00: T1 (Front desk) and T2, three tickets nobody escalates.
    let t1 = ticket(app, &alan, &c[0], "complaint", Some(&team)).await;
    let t2 = ticket(app, &bea, &c[1], "billing", None).await;
    for _ in 0..3 {
        TicketBuilder::new(&c[4])
            .about("Opening hours")
            .saying("When are you open on Saturday?")
            .open(app, &alan)
            .await;
    }
    // E1 and E2 at 10:00.
    let e1 = escalate(app, &alan, &t1, "complaint").await;
    let e2 = escalate(app, &bea, &t2, "billing").await;
    app.advance_to(at(0, 10, 30)).await;
    ok(
        app,
        &owner,
        &format!("/escalations/{e1}/acknowledge"),
        json!({}),
    )
    .await;
    // 11:00: the owner's public reply on T1 — E1's first response after 3,600 s. E2's
    // acknowledgement falls due and is breached.
    app.advance_to(at(0, 11, 0)).await;
    ok(
        app,
        &owner,
        &format!("/tickets/{t1}/comments"),
        json!({"body": "We are on it.", "public": true}),
    )
    .await;
    // An internal note is no response.
    app.advance_to(at(0, 12, 0)).await;
    ok(
        app,
        &owner,
        &format!("/tickets/{t2}/comments"),
        json!({"body": "Check the invoice.", "public": false}),
    )
    .await;
    ok(
        app,
        &owner,
        &format!("/escalations/{e2}/acknowledge"),
        json!({}),
    )
    .await;
    // 12:30: a logged call on T2 — E2's first response after 9,000 s.
    app.advance_to(at(0, 12, 30)).await;
    ok(
        app,
        &owner,
        &format!("/tickets/{t2}/comments"),
        json!({"body": "Called, left a message.", "public": false, "logged_call": true}),
    )
    .await;
    // 13:00: T2 waits on the customer: E2's clocks pause.
    app.advance_to(at(0, 13, 0)).await;
    let (s, v) = app
        .patch(
            &owner,
            &format!("/tickets/{t2}"),
            json!({"status": "pending"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // 14:00: E1 resolved with a refund, after 14,400 s (business time the same).
    app.advance_to(at(0, 14, 0)).await;
    ok(app, &owner, &format!("/escalations/{e1}/resolve"),
       json!({"summary": "Replaced the valve.", "compensation": {"kind": "refund", "amount": 5000}})).await;

    // Tuesday 3 June, 10:00: T3 (Front desk), E3.
    app.advance_to(at(1, 10, 0)).await;
    wake(
        app,
        &org,
        [&mut owner, &mut alan, &mut bea, &mut ada, &mut aud],
    )
    .await;
    let t3 = ticket(app, &alan, &c[2], "technical", Some(&team)).await;
    let e3 = escalate(app, &alan, &t3, "technical").await;
    app.advance_to(at(1, 10, 10)).await;
    ok(
        app,
        &owner,
        &format!("/escalations/{e3}/acknowledge"),
        json!({}),
    )
    .await;
    // 10:20: the owner replies — first response after 1,200 s; the next update is due 14:20.
    app.advance_to(at(1, 10, 20)).await;
    ok(
        app,
        &owner,
        &format!("/tickets/{t3}/comments"),
        json!({"body": "Looking into it.", "public": true}),
    )
    .await;
    // 11:00: moved up to the admins (still one escalation); Ada takes it at 11:30.
    app.advance_to(at(1, 11, 0)).await;
    let moved = ok(
        app,
        &owner,
        &format!("/escalations/{e3}/re-escalate"),
        json!({"note": "Needs the admins."}),
    )
    .await;
    let e3b = moved["id"].as_str().expect("new escalation id").to_owned();
    assert_ne!(e3b, e3);
    app.advance_to(at(1, 11, 30)).await;
    ok(
        app,
        &ada,
        &format!("/escalations/{e3b}/acknowledge"),
        json!({}),
    )
    .await;
    // 15:00: resolved with no compensation, after 18,000 s; nobody updated the customer
    // since 10:20, so the update clock was breached at 14:20 (2,400 s overdue at the end).
    app.advance_to(at(1, 15, 0)).await;
    ok(
        app,
        &ada,
        &format!("/escalations/{e3b}/resolve"),
        json!({"summary": "Firmware updated.", "compensation": {"kind": "none", "amount": 0}}),
    )
    .await;

    // Wednesday 4 June, 10:00: Cara comes back about the same problem (a complaint): E1
    // returned within 14 days.
    app.advance_to(at(2, 10, 0)).await;
    wake(
        app,
        &org,
        [&mut owner, &mut alan, &mut bea, &mut ada, &mut aud],
    )
    .await;
    ticket(app, &alan, &c[0], "complaint", None).await;
    // 13:00: Carl answers; E2's clocks run again. Without the pause E2's resolution would have
    // been due Tuesday 10:00; with it, Thursday 10:00.
    app.advance_to(at(2, 13, 0)).await;
    ok(
        app,
        &bea,
        &format!("/tickets/{t2}/comments"),
        json!({"body": "Here is the invoice.", "public": true, "from_customer": true}),
    )
    .await;
    // 16:00: E2 resolved (no compensation named), after 194,400 s wall-clock and 22 business
    // hours (Mon 10–17, Tue 9–17, Wed 9–16): 79,200 s.
    app.advance_to(at(2, 16, 0)).await;
    ok(
        app,
        &owner,
        &format!("/escalations/{e2}/resolve"),
        json!({"summary": "Invoice corrected."}),
    )
    .await;

    // Friday 6 June, 10:00: T2 reopened — E2 returned. 10:30: escalated again (a repeat of
    // E2, same ticket); de-escalated at 11:00, before its acknowledgement was due.
    app.advance_to(at(4, 10, 0)).await;
    wake(
        app,
        &org,
        [&mut owner, &mut alan, &mut bea, &mut ada, &mut aud],
    )
    .await;
    let (s, v) = app
        .patch(&bea, &format!("/tickets/{t2}"), json!({"status": "open"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    app.advance_to(at(4, 10, 30)).await;
    let e5 = escalate(app, &bea, &t2, "billing").await;
    app.advance_to(at(4, 11, 0)).await;
    ok(
        app,
        &owner,
        &format!("/escalations/{e5}/de-escalate"),
        json!({"reason": "Already answered."}),
    )
    .await;

    // Wednesday 11 June, 10:00: T4, linked to T3, escalated: a repeat of E3 (a linked ticket
    // escalated 8 days before). Nobody has acted on it by 10:45.
    app.advance_to(at(9, 10, 0)).await;
    wake(
        app,
        &org,
        [&mut owner, &mut alan, &mut bea, &mut ada, &mut aud],
    )
    .await;
    let t4 = ticket(app, &bea, &c[3], "complaint", None).await;
    ok(
        app,
        &bea,
        &format!("/tickets/{t4}/links"),
        json!({"to_ticket_id": t3, "kind": "related"}),
    )
    .await;
    let e4 = escalate(app, &bea, &t4, "complaint").await;
    app.advance_to(at(9, 10, 45)).await;
    let mut org = org;
    org.owner = owner;
    Script {
        org,
        alan,
        bea,
        ada,
        aud,
        team,
        e: [e1, e2, e3, e4, e5],
    }
}

fn times(count: i64, p50: i64, p90: i64, b50: i64, b90: i64) -> Value {
    json!({"count": count, "p50_s": p50, "p90_s": p90, "business_p50_s": b50, "business_p90_s": b90})
}

fn clock(met: i64, breached: i64, running: i64) -> Value {
    let n = (met + breached + running) as f64;
    json!({"met": met, "breached": breached, "running": running,
           "met_share": met as f64 / n, "breached_share": breached as f64 / n,
           "running_share": running as f64 / n})
}

/// `sla` without the worst offenders, which are checked apart.
fn sla_counts(sla: &Value) -> Value {
    let mut out = sla.clone();
    for c in ["acknowledge", "update", "resolve"] {
        out[c]
            .as_object_mut()
            .expect("clock")
            .remove("worst_offenders");
    }
    out
}

async fn a_scripted_month_gives_the_figures_worked_out_by_hand(b: Backend) {
    let app = TestApp::spawn(b).await;
    let s = script(&app).await;
    let owner = &s.org.owner;
    let (status, r) = app
        .get(owner, "/metrics/escalations?from=2025-06-01&to=2025-06-30")
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["from"], "2025-06-01T00:00:00Z");
    assert_eq!(r["to"], "2025-07-01T00:00:00Z");
    // Eight tickets (T1, T2, T3, T4, three plain ones, Cara's return), five escalations.
    assert_eq!(r["tickets"], 8);
    assert_eq!(r["escalations"], 5);
    assert_eq!(r["escalations_per_1000_tickets"], 625.0);
    // First responses: E3 1,200 s, E1 3,600 s, E2 9,000 s (E4 and E5 had none).
    assert_eq!(
        r["time_to_first_response"],
        times(3, 3600, 9000, 3600, 9000)
    );
    // Resolutions: E1 14,400 s, E3 18,000 s, E2 194,400 s (business 79,200 s).
    assert_eq!(
        r["time_to_resolution"],
        times(3, 18000, 194400, 18000, 79200)
    );
    assert_eq!(r["resolved"], 3);
    // E1 came back as a new ticket, E2 was reopened: only E3 stayed resolved.
    assert_eq!(r["resolved_without_return_share"], json!(1.0 / 3.0));
    // E1's refund; E3's compensation "none" does not count.
    assert_eq!(r["resolved_with_compensation_share"], json!(1.0 / 3.0));
    // E5 (T2 again), E4 (linked to T3).
    assert_eq!(r["repeat_escalations"], 2);
    let mut expected = json!({
        // Acknowledge: E1, E3 acknowledged in time, E5 de-escalated in time; E2 breached;
        // E4 running. Update: E3 breached; E4 running. Resolve: E2 met thanks to its pause.
        "acknowledge": clock(3, 1, 1),
        "update": clock(3, 1, 1),
        "resolve": clock(4, 0, 1),
    });
    expected["acknowledge_met_share"] = json!(0.6);
    expected["update_met_share"] = json!(0.6);
    expected["resolve_met_share"] = json!(0.8);
    assert_eq!(sla_counts(&r["sla"]), expected);
    let [e1, e2, e3, e4, e5] = &s.e;
    let _ = (e1, e4, e5);
    let worst = &r["sla"]["acknowledge"]["worst_offenders"];
    assert_eq!(worst.as_array().map(Vec::len), Some(1), "{worst}");
    assert_eq!(worst[0]["escalation_id"], json!(e2));
    assert_eq!(worst[0]["due_at"], json!(at(0, 11, 0).to_string()));
    assert_eq!(worst[0]["overdue_s"], 3600);
    let worst = &r["sla"]["update"]["worst_offenders"];
    assert_eq!(worst.as_array().map(Vec::len), Some(1), "{worst}");
    assert_eq!(worst[0]["escalation_id"], json!(e3));
    assert_ne!(worst[0]["last_escalation_id"], json!(e3));
    assert_eq!(worst[0]["overdue_s"], 2400);
    assert_eq!(r["sla"]["resolve"]["worst_offenders"], json!([]));
    assert_eq!(r["groups"], json!([]));

    // By category: billing E2+E5, complaint E1+E4, technical E3.
    let (status, g) = app
        .get(
            owner,
            "/metrics/escalations?from=2025-06-01&to=2025-06-30&group_by=category",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{g}");
    let groups = g["groups"].as_array().expect("groups");
    let keys: Vec<&str> = groups.iter().filter_map(|g| g["key"].as_str()).collect();
    assert_eq!(keys, ["billing", "complaint", "technical"]);
    let billing = &groups[0];
    assert_eq!(billing["tickets"], Value::Null);
    assert_eq!(billing["escalations_per_1000_tickets"], Value::Null);
    assert_eq!(billing["escalations"], 2);
    assert_eq!(billing["repeat_escalations"], 1);
    assert_eq!(billing["resolved"], 1);
    assert_eq!(billing["resolved_without_return_share"], 0.0);
    assert_eq!(
        billing["time_to_first_response"],
        times(1, 9000, 9000, 9000, 9000)
    );
    let technical = &groups[2];
    assert_eq!(technical["resolved_without_return_share"], 1.0);
    assert_eq!(technical["resolved_with_compensation_share"], 0.0);
    assert_eq!(technical["sla"]["update_met_share"], 0.0);

    // By team: Front desk held T1 and T3; the others had none.
    let (_, g) = app
        .get(
            owner,
            "/metrics/escalations?from=2025-06-01&to=2025-06-30&group_by=team",
        )
        .await;
    let groups = g["groups"].as_array().expect("groups");
    let front = groups
        .iter()
        .find(|g| g["key"] == json!(s.team))
        .expect("team group");
    assert_eq!(front["label"], "Front desk");
    assert_eq!(front["escalations"], 2);
    assert_eq!(
        front["time_to_resolution"],
        times(2, 14400, 18000, 14400, 18000)
    );
    let none = groups.iter().find(|g| g["key"] == "none").expect("no team");
    assert_eq!(none["escalations"], 3);

    // By owner: the owner ended with E1 and E2, Ada with E3, nobody with E4 and E5.
    let (_, g) = app
        .get(
            owner,
            "/metrics/escalations?from=2025-06-01&to=2025-06-30&group_by=owner",
        )
        .await;
    let count = |key: &str| {
        g["groups"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["key"] == key))
            .map(|x| (x["label"].clone(), x["escalations"].clone()))
    };
    assert_eq!(
        count(&owner.id),
        Some((json!("Warm Homes Owner"), json!(2)))
    );
    assert_eq!(count(&s.ada.id), Some((json!("Ada Admin"), json!(1))));
    assert_eq!(count("none"), Some((json!("none"), json!(2))));

    // By week: every ISO week that meets June, with its tickets.
    let (_, g) = app
        .get(
            owner,
            "/metrics/escalations?from=2025-06-01&to=2025-06-30&group_by=week",
        )
        .await;
    let weeks: Vec<(String, Value, Value)> = g["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|w| {
            (
                w["key"].as_str().unwrap_or("").to_owned(),
                w["tickets"].clone(),
                w["escalations"].clone(),
            )
        })
        .collect();
    assert_eq!(
        weeks,
        [
            ("2025-W22".to_owned(), json!(0), json!(0)),
            ("2025-W23".to_owned(), json!(7), json!(4)),
            ("2025-W24".to_owned(), json!(1), json!(1)),
            ("2025-W25".to_owned(), json!(0), json!(0)),
            ("2025-W26".to_owned(), json!(0), json!(0)),
            ("2025-W27".to_owned(), json!(0), json!(0)),
        ]
    );
    assert_eq!(g["groups"][1]["label"], "week of 2025-06-02");
    assert_eq!(
        g["groups"][1]["escalations_per_1000_tickets"],
        json!(4000.0 / 7.0)
    );

    // The same figures as CSV: the period's row, then one row per group.
    let (status, ctype, text) = csv(
        &app,
        owner,
        "from=2025-06-01&to=2025-06-30&group_by=category",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(ctype, "text/csv; charset=utf-8");
    let mut reader = ::csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.expect("record").iter().map(str::to_owned).collect())
        .collect();
    let cell = |row: usize, col: &str| {
        let i = header
            .iter()
            .position(|h| h == col)
            .unwrap_or_else(|| panic!("no column {col}"));
        rows[row][i].clone()
    };
    assert_eq!(rows.len(), 4, "{text}");
    assert_eq!(cell(0, "group"), "all");
    assert_eq!(cell(0, "group_by"), "category");
    assert_eq!(cell(0, "tickets"), "8");
    assert_eq!(cell(0, "escalations"), "5");
    assert_eq!(cell(0, "escalations_per_1000_tickets"), "625.000000");
    assert_eq!(cell(0, "first_response_p50_s"), "3600");
    assert_eq!(cell(0, "resolution_business_p90_s"), "79200");
    assert_eq!(cell(0, "resolved_without_return_share"), "0.333333");
    assert_eq!(cell(0, "repeat_escalations"), "2");
    assert_eq!(cell(0, "acknowledge_breached"), "1");
    assert_eq!(cell(0, "resolve_met_share"), "0.800000");
    assert_eq!(cell(1, "group"), "billing");
    assert_eq!(cell(1, "tickets"), "");
    assert_eq!(cell(1, "escalations"), "2");
    assert_eq!(cell(3, "group"), "technical");
    assert_eq!(cell(3, "update_breached"), "1");

    // The auditor reads the organisation's figures too.
    let (status, r) = app
        .get(&s.aud, "/metrics/escalations?from=2025-06-01&to=2025-06-30")
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["escalations"], 5);

    // Tickets are counted per hour, and exactly in the part of an hour a period starts or
    // ends in: from a microsecond after Monday 10:00 (T1, T2 and the three plain tickets are
    // out, and E1 and E2 with them) to Wednesday 10:30 (Cara's return at 10:00 is in) there
    // are T3 and Cara's return, and E3.
    let (status, r) = app
        .get(
            owner,
            "/metrics/escalations?from=2025-06-02T10:00:00.000001Z&to=2025-06-04T10:30:00Z",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["tickets"], 2);
    assert_eq!(r["escalations"], 1);
    // Within one hour: Cara's return alone.
    let (status, r) = app
        .get(
            owner,
            "/metrics/escalations?from=2025-06-04T09:59:00Z&to=2025-06-04T10:00:01Z",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["tickets"], 1);
    assert_eq!(r["escalations"], 0);

    // A database from before the packed runs: the backfill that migrating runs gives every
    // run its row again, and the figures do not change.
    let month = "/metrics/escalations?from=2025-06-01&to=2025-06-30&group_by=week";
    let (_, before) = app.get(owner, month).await;
    sqlx::query("DELETE FROM escalation_runs")
        .execute(app.db.pool())
        .await
        .expect("forget the runs");
    let (status, gone) = app.get(owner, month).await;
    assert_eq!(status, StatusCode::OK, "{gone}");
    assert_eq!(gone["escalations"], 0);
    app.db.migrate().await.expect("migrate again");
    let (_, after) = app.get(owner, month).await;
    assert_eq!(after, before);
    let _ = (&s.alan, &s.bea);
}

/// A customer's later ticket is the return of their resolved escalation of the same
/// category: when its category changes after it was opened, so does the figure.
async fn a_category_changed_later_decides_a_return(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Valve Works").await;
    let owner = org.owner.clone();
    app.set_policy(
        &owner,
        json!({"rules": [{"name": "all", "chain": [{"target": {"kind": "owner"}, "ack_within": "1h"}],
                          "sla": {"acknowledge": "1h", "update_every": "4h", "resolve": "8h"}}]}),
    )
    .await;
    let cara = org.customer(&app, "Cara One").await;
    let open = |subject: &'static str, description: &'static str, category: &'static str| {
        let (app, owner, cara) = (&app, &owner, &cara);
        async move {
            let v = ok(
                app,
                owner,
                "/tickets",
                json!({"subject": subject, "description": description, "customer_id": cara,
                       "channel": "phone", "category": category}),
            )
            .await;
            v["id"].as_str().expect("ticket id").to_owned()
        }
    };
    let invoice = open(
        "Invoice charged twice",
        "March was charged twice.",
        "billing",
    )
    .await;
    let e = escalate(&app, &owner, &invoice, "billing").await;
    ok(
        &app,
        &owner,
        &format!("/escalations/{e}/acknowledge"),
        json!({}),
    )
    .await;
    app.advance_to(at(0, 11, 0)).await;
    ok(
        &app,
        &owner,
        &format!("/escalations/{e}/resolve"),
        json!({"summary": "Refunded March."}),
    )
    .await;
    app.advance_to(at(0, 12, 0)).await;
    let radiator = open(
        "Radiator cold upstairs",
        "The upstairs radiator stays cold.",
        "technical",
    )
    .await;
    let share = || async {
        let (s, r) = app
            .get(&owner, "/metrics/escalations?from=2025-06-01&to=2025-06-30")
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["resolved"], 1);
        r["resolved_without_return_share"].clone()
    };
    assert_eq!(share().await, json!(1.0), "another problem is no return");
    for (category, expected) in [("billing", 0.0), ("technical", 1.0)] {
        let (s, v) = app
            .patch(
                &owner,
                &format!("/tickets/{radiator}"),
                json!({"category": category}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(share().await, json!(expected), "as {category}");
    }
}

async fn agents_see_their_own_and_bad_periods_are_refused(b: Backend) {
    let app = TestApp::spawn(b).await;
    let s = script(&app).await;
    // Alan raised E1 and E3; Bea raised E2, E4 and E5. Tickets stay the organisation's.
    let (status, r) = app
        .get(
            &s.alan,
            "/metrics/escalations?from=2025-06-01&to=2025-06-30",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(
        (r["tickets"].clone(), r["escalations"].clone()),
        (json!(8), json!(2))
    );
    assert_eq!(
        r["time_to_resolution"],
        times(2, 14400, 18000, 14400, 18000)
    );
    let (_, r) = app
        .get(&s.bea, "/metrics/escalations?from=2025-06-01&to=2025-06-30")
        .await;
    assert_eq!(r["escalations"], 3);
    assert_eq!(r["repeat_escalations"], 2);
    // Ada owns E3, which she did not raise.
    let (_, r) = app
        .get(&s.ada, "/metrics/escalations?from=2025-06-01&to=2025-06-30")
        .await;
    assert_eq!(r["escalations"], 5, "an admin reads everything");

    // Instants work as well as dates; `to` is exclusive: E4 began at 10:00 on 11 June.
    let (_, r) = app
        .get(
            &s.alan,
            "/metrics/escalations?from=2025-06-11T00:00:00Z&to=2025-06-11T10:00:00Z",
        )
        .await;
    assert_eq!(r["escalations"], 0);
    let (_, r) = app
        .get(
            &s.bea,
            "/metrics/escalations?from=2025-06-11T00:00:00Z&to=2025-06-11T10:00:01Z",
        )
        .await;
    assert_eq!(r["escalations"], 1);

    let before = app.snapshot().await;
    for (query, field, status) in [
        ("to=2025-06-30", "from", StatusCode::UNPROCESSABLE_ENTITY),
        ("from=2025-06-01", "to", StatusCode::UNPROCESSABLE_ENTITY),
        (
            "from=June&to=2025-06-30",
            "from",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "from=2025-06-01&to=2025-13-01",
            "to",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "from=2025-06-30&to=2025-06-01",
            "to",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "from=2025-06-01T10:00:00Z&to=2025-06-01T10:00:00Z",
            "to",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "from=2020-01-01&to=2025-06-30",
            "to",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "from=2025-06-01&to=2025-06-30&group_by=customer",
            "group_by",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "from=2025-06-01&to=2025-06-30&limit=5",
            "limit",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let (got, problem) = app
            .get(&s.org.owner, &format!("/metrics/escalations?{query}"))
            .await;
        assert_eq!(got, status, "{query}: {problem}");
        assert_eq!(problem["field"], field, "{query}: {problem}");
        let (got, ctype, _) = csv(&app, &s.org.owner, query).await;
        assert_eq!(
            (got, ctype.as_str()),
            (status, "application/problem+json"),
            "{query}"
        );
    }
    // A year and a day is the longest period.
    let (status, r) = app
        .get(
            &s.org.owner,
            "/metrics/escalations?from=2025-01-01&to=2025-12-31",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["escalations"], 5);
    assert_eq!(
        app.snapshot().await,
        before,
        "reading metrics changes nothing"
    );

    // Without a token: 401.
    let (status, _) = app
        .call(
            "GET",
            None,
            "/metrics/escalations?from=2025-06-01&to=2025-06-30",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let _ = (&s.aud, &s.team, &s.e);
}

/// A page read with the session cookie (the bearer token is the session's token).
async fn page(app: &TestApp, who: &Session, path: &str) -> (StatusCode, String) {
    let res = app
        .client
        .get(format!("{}{path}", app.base))
        .header("cookie", format!("ladder_session={}", who.token))
        .send()
        .await
        .expect("request");
    let status = res.status();
    (status, res.text().await.expect("body"))
}

/// The `<td>` cells of the table row headed `label`.
fn row_cells(html: &str, label: &str) -> Vec<String> {
    let head = format!("<th scope=\"row\">{label}</th>");
    let at = html
        .find(&head)
        .unwrap_or_else(|| panic!("a row headed {label:?}"));
    let rest = &html[at + head.len()..];
    let row = &rest[..rest.find("</tr>").expect("the row ends")];
    row.split("<td")
        .skip(1)
        .map(|cell| {
            let inner = &cell[cell.find('>').expect("a cell") + 1..];
            inner[..inner.find("</td>").expect("a cell ends")].to_owned()
        })
        .collect()
}

async fn the_reports_page_shows_the_figures_and_links_the_csv(b: Backend) {
    let app = TestApp::spawn(b).await;
    let s = script(&app).await;
    let before = app.snapshot().await;

    // The owner's June by team: the figures of the API, three charts, the CSV link.
    let (status, html) = page(
        &app,
        &s.org.owner,
        "/reports?from=2025-06-01&to=2025-06-30&group_by=team",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let all = row_cells(&html, "All");
    // Escalations, per 1,000 tickets (5 of 8), first response, resolution, resolved.
    assert_eq!(all[0], "5", "{all:?}");
    assert_eq!(all[1], "625.0", "{all:?}");
    let (_, api) = app
        .get(
            &s.org.owner,
            "/metrics/escalations?from=2025-06-01&to=2025-06-30&group_by=team",
        )
        .await;
    assert_eq!(all[4], api["resolved"].to_string(), "{all:?}");
    assert_eq!(all[7], api["repeat_escalations"].to_string(), "{all:?}");
    let team = row_cells(&html, "Front desk");
    assert_eq!(team[0], api["groups"][0]["escalations"].to_string());
    assert_eq!(html.matches("<svg").count(), 3, "three charts");
    assert_eq!(
        html.matches("role=\"img\" aria-label=\"").count(),
        3,
        "each chart says what it shows"
    );
    let href = "/api/v1/metrics/escalations?from=2025-06-01&#38;to=2025-06-30&#38;format=csv&#38;group_by=team";
    assert!(html.contains(href), "the CSV link: {html}");
    // The link works with the cookie alone and gives the API's CSV.
    let (status, linked) = page(&app, &s.org.owner, &href.replace("&#38;", "&")).await;
    assert_eq!(status, StatusCode::OK, "{linked}");
    let (_, _, by_accept) = csv(
        &app,
        &s.org.owner,
        "from=2025-06-01&to=2025-06-30&group_by=team",
    )
    .await;
    assert_eq!(linked, by_accept);
    let (status, problem) = app
        .get(
            &s.org.owner,
            "/metrics/escalations?from=2025-06-01&to=2025-06-30&format=xml",
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["field"], "format");

    // An agent sees their own escalations only: Alan raised two.
    let (status, html) = page(&app, &s.alan, "/reports?from=2025-06-01&to=2025-06-30").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Your escalations"), "{html}");
    assert_eq!(row_cells(&html, "All")[0], "2");

    // A bad period is a clear error beside the form, and changes nothing.
    for (query, says) in [
        ("from=2025-06-30&to=2025-06-01", "To: must come after from."),
        (
            "from=June&to=2025-06-30",
            "From: must be an RFC 3339 instant",
        ),
        (
            "from=2020-01-01&to=2025-06-30",
            "To: a period is at most 366 days",
        ),
        (
            "from=2025-06-01&to=2025-06-30&group_by=customer",
            "Group by: ",
        ),
    ] {
        let (status, html) = page(&app, &s.org.owner, &format!("/reports?{query}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert!(html.contains(says), "{query}: {html}");
        assert!(
            html.contains("<form class=\"filters report-period\""),
            "{query}"
        );
        assert!(!html.contains("<svg"), "{query}");
    }
    // Without a period: the last 30 days by week, every week a row.
    let (status, html) = page(&app, &s.org.owner, "/reports").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("aria-current=\"true\">Last 30 days</a>"),
        "{html}"
    );
    assert!(html.contains("<th scope=\"row\">Week of "), "{html}");
    // Signed out: to the sign-in form.
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(format!("{}/reports", app.base))
        .send()
        .await
        .expect("request");
    assert!(res.status().is_redirection(), "{}", res.status());
    assert_eq!(
        app.snapshot().await,
        before,
        "reading reports changes nothing"
    );
}

/// The tickets of an hour, as a report reads them from the hourly counts: on PostgreSQL each
/// connection counts in a shard of its own, and the shards add up; removing a ticket keeps
/// the count exact, and no count goes below zero (which reads as corruption).
async fn an_hours_tickets_counted_by_several_connections_add_up_and_a_removal_keeps_them_exact(
    b: Backend,
) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Counted Hours").await;
    let pat = org.customer(&app, "Pat Parcel").await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(ticket(&app, &org.owner, &pat, "technical", None).await);
    }
    let tenant = ladder_core::TenantId(org.tenant_id.clone());
    // START is on the hour: the period is one whole hour, read from the counts alone.
    let created = || {
        let (db, tenant) = (app.db.clone(), tenant.clone());
        async move {
            let mut conn = db.conn().await.expect("a connection");
            ladder_storage::metrics::tickets_created(
                &mut conn,
                &tenant,
                START,
                START + SignedDuration::from_hours(1),
            )
            .await
            .expect("tickets created")
        }
    };
    assert_eq!(created().await, 3);
    if b == Backend::Postgres {
        // As three connections in different shards would have counted them.
        for sql in [
            "DELETE FROM ticket_hours WHERE tenant_id = $1",
            "INSERT INTO ticket_hours (tenant_id, hour, shard, tickets) \
             VALUES ($1, $2, 0, 1), ($1, $2, 3, 1), ($1, $2, 9, 1)",
        ] {
            sqlx::query(sql)
                .bind(&org.tenant_id)
                .bind(START.as_microsecond() / 3_600_000_000)
                .execute(app.db.pool())
                .await
                .expect("spread the count");
        }
        assert_eq!(created().await, 3);
    }
    sqlx::query("DELETE FROM tickets WHERE id = $1")
        .bind(&ids[0])
        .execute(app.db.pool())
        .await
        .expect("remove a ticket");
    assert_eq!(created().await, 2);
    let least = app
        .count(&format!(
            "SELECT MIN(tickets) FROM ticket_hours WHERE tenant_id = '{}'",
            org.tenant_id
        ))
        .await;
    assert_eq!(least, 2, "the hour's counts fold into one row on removal");
}
