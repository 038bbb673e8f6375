//! The policy engine at work: chains that climb on time, away people skipped, reminders and
//! breaches, pauses, first responses, and policies as data.

use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{eventually, kinds, told, Backend, Org, Session, TestApp, TicketBuilder};
use crate::on_both_databases;

on_both_databases!(
    an_unacknowledged_escalation_climbs_the_chain_on_time,
    an_away_owner_is_skipped_at_once,
    bad_policies_are_refused_naming_the_rule_and_the_old_one_stays,
    the_dry_run_shows_the_rule_chain_and_due_times_and_writes_nothing,
    editing_the_policy_never_moves_a_running_escalation,
    waiting_on_the_customer_pauses_the_resolution_clock,
    a_ticket_nobody_answers_escalates_by_itself,
    only_the_owners_reply_or_call_counts_as_an_update,
    a_stuck_engine_shows_in_readyz_and_metrics,
    the_servers_own_timer_workers_fire_on_its_clock,
);

/// A calendar open around the clock, named "default" so that every rule uses it.
fn around_the_clock() -> Value {
    let all_day = json!(["00:00-24:00"]);
    json!({"name": "default", "time_zone": "UTC", "hours": {
        "mon": all_day, "tue": all_day, "wed": all_day, "thu": all_day,
        "fri": all_day, "sat": all_day, "sun": all_day}})
}

/// A policy of one catch-all rule on a 24/7 calendar.
fn drill_policy(chain: Value, sla: Value, extra: Value) -> Value {
    let mut rule = json!({"name": "drill", "sla": sla, "chain": chain});
    if let Some(extra) = extra.as_object() {
        for (k, v) in extra {
            rule[k] = v.clone();
        }
    }
    json!({"calendars": [around_the_clock()], "rules": [rule]})
}

fn at(v: &Value) -> Timestamp {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a timestamp: {v}"))
}

fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["kind"] == kind).collect()
}

async fn escalate(app: &TestApp, who: &Session, ticket: &str, body: Value) -> Value {
    let mut req = json!({"category": "complaint", "note": "Customer is unhappy with the repair.",
                         "contact_method": "call", "urgency": "standard"});
    for (k, v) in body.as_object().cloned().unwrap_or_default() {
        req[k] = v;
    }
    let (s, e) = app
        .post(who, &format!("/tickets/{ticket}/escalate"), req)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    e
}

async fn new_ticket(app: &TestApp, org: &Org, who: &Session, text: &str) -> String {
    let customer = org.customer(app, "Dana Field").await;
    TicketBuilder::new(&customer)
        .about("Boiler repair")
        .saying(text)
        .open(app, who)
        .await
}

async fn an_unacknowledged_escalation_climbs_the_chain_on_time(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Swift Heating").await;
    let tom = org.user(&app, "Tom Tech", "agent").await;
    let mia = org.user(&app, "Mia Manager", "specialist").await;
    let ada = org.user(&app, "Ada Admin", "admin").await;
    let managers = org.team(&app, "Escalation managers", &[&mia]).await;
    let policy = drill_policy(
        json!([
            {"target": {"kind": "user", "id": tom.id}, "ack_within": "10m"},
            {"target": {"kind": "team", "id": managers}, "ack_within": "10m"},
            {"target": {"kind": "role", "role": "admin"}, "ack_within": "1h"},
        ]),
        json!({"acknowledge": "1h", "update_every": "15m", "resolve": "2h"}),
        json!({"remind_at_percent": 50, "remind_every": "1h"}),
    );
    app.set_policy(&org.owner, policy).await;
    let ticket = new_ticket(&app, &org, &tom, "The boiler still leaks after your visit.").await;

    let e = escalate(&app, &tom, &ticket, json!({})).await;
    assert_eq!(e["target"], json!({"kind": "user", "id": tom.id}));
    let escalated_at = at(&e["created_at"]);
    assert_eq!(escalated_at, app.now());
    let minutes = |m: i64| escalated_at + SignedDuration::from_mins(m);
    assert_eq!(at(&e["ack_due_at"]), minutes(10));
    for clock in ["acknowledge", "update", "resolve"] {
        assert_eq!(e["deadlines"][clock]["state"], "running", "{clock}: {e}");
    }
    assert_eq!(at(&e["deadlines"]["update"]["due_at"]), minutes(15));

    // Tom has until the tenth minute: a microsecond before, nothing has moved.
    app.advance_to(minutes(10) - SignedDuration::from_micros(1))
        .await;
    let events = app.events(&org.owner, &ticket).await;
    assert!(
        of_kind(&events, "rung_timed_out").is_empty(),
        "{:?}",
        kinds(&json!(events))
    );
    // Then rung 2 is called at the tenth minute, and rung 3 ten minutes after that.
    app.advance_to(minutes(20)).await;
    let events = app.events(&org.owner, &ticket).await;
    let moves = of_kind(&events, "rung_timed_out");
    assert_eq!(moves.len(), 2, "{:?}", kinds(&json!(events)));
    assert_eq!(at(&moves[0]["occurred_at"]), minutes(10));
    assert_eq!(at(&moves[1]["occurred_at"]), minutes(20));
    assert_eq!(
        moves[0]["payload"]["after"]["target"],
        json!({"kind": "team", "id": managers})
    );
    assert_eq!(
        moves[1]["payload"]["after"]["target"],
        json!({"kind": "role", "role": "admin"})
    );
    assert_eq!(moves[1]["payload"]["automatic"], true);
    // Each move records where the escalation stood before it, and which one it replaced.
    assert_eq!(
        moves[0]["payload"]["before"]["target"],
        json!({"kind": "user", "id": tom.id})
    );
    assert_eq!(moves[0]["payload"]["superseded_escalation_id"], e["id"]);
    assert_eq!(
        moves[1]["payload"]["before"]["escalation_id"],
        moves[0]["payload"]["escalation_id"]
    );
    assert_eq!(
        [&moves[0]["payload"]["rung"], &moves[1]["payload"]["rung"]],
        [2, 3]
    );

    // The gentle reminder came half-way through Tom's time, before rung 1 was passed over.
    let reminders = of_kind(&events, "sla_reminder");
    let first_reminder = reminders
        .iter()
        .find(|r| r["payload"]["clock"] == "acknowledge")
        .expect("a reminder to acknowledge");
    assert_eq!(at(&first_reminder["occurred_at"]), minutes(5));
    assert_eq!(first_reminder["payload"]["to"], json!([tom.id]));
    // The interim update was due after fifteen minutes and nobody gave it.
    let breaches = of_kind(&events, "sla_breached");
    assert_eq!(breaches.len(), 1, "{:?}", kinds(&json!(events)));
    assert_eq!(breaches[0]["payload"]["clock"], "update");
    assert_eq!(at(&breaches[0]["occurred_at"]), minutes(15));

    let (_, t) = app.get(&org.owner, &format!("/tickets/{ticket}")).await;
    let active = &t["active_escalation"];
    assert_eq!(active["target"], json!({"kind": "role", "role": "admin"}));
    assert_eq!(active["rung"], 3);
    // The ticket names the escalation the last move opened: the one whose state is active.
    assert_eq!(active["id"], moves[1]["payload"]["escalation_id"]);
    assert_eq!(
        t["active_escalation_id"], active["id"],
        "the ticket follows its escalation up the chain: {t}"
    );
    assert_eq!(active["deadlines"]["update"]["state"], "breached");
    assert_eq!(active["deadlines"]["acknowledge"]["state"], "running");

    // The outbox: the skipped rungs were told, reminders and breaches went to staff only.
    let (_, notes) = app
        .get(&org.owner, &format!("/tickets/{ticket}/notifications"))
        .await;
    let notes = notes.as_array().cloned().unwrap_or_default();
    let sent = |kind: &str, to: &str| {
        notes
            .iter()
            .any(|n| n["kind"] == kind && told(n).contains(&to))
    };
    assert!(sent("sla_reminder", &tom.id), "{notes:?}");
    assert!(sent("escalation_skipped_you", &tom.id));
    assert!(sent("escalation_skipped_you", &mia.id));
    assert!(sent("escalation_requested", &mia.id));
    assert!(sent("escalation_requested", &ada.id));
    assert!(notes.iter().any(|n| n["kind"] == "sla_breached"));
    assert!(notes
        .iter()
        .filter(|n| n["kind"].as_str().is_some_and(|k| k.starts_with("sla_")))
        .all(|n| n["audience"] == "staff" && n["recipient_email"].is_null()));

    // Ada takes it: acknowledged within the hour the SLA gives, so that clock is met.
    let id = active["id"].as_str().expect("id");
    let (s, acked) = app
        .post(&ada, &format!("/escalations/{id}/acknowledge"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{acked}");
    assert_eq!(acked["deadlines"]["acknowledge"]["state"], "met");
    let (_, t) = app.get(&org.owner, &format!("/tickets/{ticket}")).await;
    assert_eq!(t["active_escalation_id"], acked["id"], "{t}");
}

async fn an_away_owner_is_skipped_at_once(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Bright Smile").await;
    let rita = org.user(&app, "Rita Reception", "agent").await;
    let ada = org.user(&app, "Ada Admin", "admin").await;
    let ticket = new_ticket(&app, &org, &rita, "You charged me twice for the cleaning.").await;

    // The owner is away for the week: the escalation goes straight to the admins.
    let next_week = (app.now() + SignedDuration::from_hours(24 * 7)).to_string();
    let (s, _) = app
        .put(
            &org.owner,
            &format!("/users/{}/availability", org.owner.id),
            json!({"away_until": next_week}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let e = escalate(&app, &rita, &ticket, json!({})).await;
    assert_eq!(e["target"], json!({"kind": "role", "role": "admin"}));
    let (_, events) = app.get(&rita, &format!("/tickets/{ticket}/events")).await;
    let escalated = of_kind(events.as_array().expect("events"), "escalated")[0].clone();
    assert_eq!(
        escalated["payload"]["skipped"][0]["target"],
        json!({"kind": "owner"})
    );
    assert_eq!(
        escalated["payload"]["requested_target"],
        json!({"kind": "owner"})
    );
    // The escalation and its event agree on where it stands: past the owner, on rung 2.
    assert_eq!(e["rung"], 2, "{e}");
    assert_eq!(escalated["payload"]["rung"], e["rung"], "{escalated}");

    // Back at work, the owner takes the next one; then leaves before acknowledging: it
    // moves on at once, not an hour later.
    app.put(
        &org.owner,
        &format!("/users/{}/availability", org.owner.id),
        json!({"away_until": null}),
    )
    .await;
    let other = new_ticket(&app, &org, &rita, "The crown you fitted fell out.").await;
    let e = escalate(&app, &rita, &other, json!({})).await;
    assert_eq!(e["target"], json!({"kind": "owner"}));
    let (s, _) = app
        .put(
            &org.owner,
            &format!("/users/{}/availability", org.owner.id),
            json!({"away_until": next_week}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, t) = app.get(&ada, &format!("/tickets/{other}")).await;
    assert_eq!(
        t["active_escalation"]["target"],
        json!({"kind": "role", "role": "admin"})
    );
    let (_, events) = app.get(&ada, &format!("/tickets/{other}/events")).await;
    let away = of_kind(events.as_array().expect("events"), "target_away");
    assert_eq!(away.len(), 1);
    assert_eq!(t["active_escalation"]["rung"], 2, "{t}");
    assert_eq!(away[0]["payload"]["rung"], t["active_escalation"]["rung"]);
}

async fn bad_policies_are_refused_naming_the_rule_and_the_old_one_stays(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Field Co").await;
    let agent = org.user(&app, "Rita Reception", "agent").await;
    let (s, before) = app.get(&org.owner, "/policy").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(before["version"], 0);
    assert_eq!(before["rules"][0]["name"], "urgent");

    let mut bad = before.clone();
    bad["rules"][0]["chain"] =
        json!([{"target": {"kind": "user", "id": "nobody"}, "ack_within": "1h"}]);
    bad["rules"][1]["chain"] = json!([]);
    let snapshot = app.snapshot().await;
    let (s, problem) = app.put(&org.owner, "/policy", bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["field"], "rules[0].chain[0].target.id");
    let errors = problem["errors"].as_array().expect("every problem listed");
    assert_eq!(errors.len(), 2, "{problem}");
    assert!(errors[0]["detail"]
        .as_str()
        .is_some_and(|d| d.contains("rule \"urgent\"") && d.contains("unknown user")));
    assert_eq!(errors[1]["field"], "rules[1].chain");
    assert!(errors[1]["detail"]
        .as_str()
        .is_some_and(|d| d.contains("rule \"sensitive\"") && d.contains("chain is empty")));

    // A zero duration never parses; the error names the rule and the field.
    let mut zero = before.clone();
    zero["rules"][2]["sla"]["resolve"] = json!("0h");
    let (s, problem) = app.put(&org.owner, "/policy", zero).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["field"], "rules[2].sla.resolve");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("rule \"standard\"") && d.contains("longer than zero")),
        "{problem}"
    );

    // A rule that can never apply, behind the catch-all.
    let mut unreachable = before.clone();
    let mut late = unreachable["rules"][0].clone();
    late["name"] = json!("late vip");
    late["when"] = json!({"tiers": ["vip"]});
    unreachable["rules"]
        .as_array_mut()
        .expect("rules")
        .push(late);
    let (s, problem) = app.put(&org.owner, "/policy", unreachable).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem["detail"]
        .as_str()
        .is_some_and(|d| d.contains("rule \"late vip\" can never apply")));
    assert_eq!(problem["field"], "rules[3].when");

    // Nobody but owners and admins may change it.
    let (s, _) = app.put(&agent, "/policy", before.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    assert_eq!(app.snapshot().await, snapshot, "nothing changed");
    let (_, after) = app.get(&org.owner, "/policy").await;
    assert_eq!(after, before, "the previous policy is still in force");

    // A good change is saved as version 1 and audited; sending version 0 again conflicts.
    let mut good = before.clone();
    good["rules"][2]["sla"]["resolve"] = json!("2bd");
    let (s, saved) = app.put(&org.owner, "/policy", good.clone()).await;
    assert_eq!(s, StatusCode::OK, "{saved}");
    assert_eq!(saved["version"], 1);
    let (s, _) = app.put(&org.owner, "/policy", good).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'policy_changed'")
            .await,
        1
    );
}

async fn the_dry_run_shows_the_rule_chain_and_due_times_and_writes_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Bright Smile").await;
    let snapshot = app.snapshot().await;
    // Friday 6 June 2025, 16:30 UTC: the default calendar closes at 17:00.
    let (s, sim) = app
        .post(
            &org.owner,
            "/policy/simulate",
            json!({"category": "billing", "priority": "urgent",
            "channel": "email", "at": "2025-06-06T16:30:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{sim}");
    assert_eq!(sim["rule"], "urgent");
    assert_eq!(sim["chain"][0]["target"], json!({"kind": "owner"}));
    assert_eq!(sim["chain"][0]["ack_due"], "2025-06-09T09:30:00Z");
    assert_eq!(sim["chain"][2]["target"], json!({"kind": "platform"}));
    assert_eq!(sim["resolve_due"], "2025-06-06T17:00:00Z");
    // A draft policy can be tried before it is saved.
    let draft = drill_policy(
        json!([{"target": {"kind": "owner"}, "ack_within": "30s"}]),
        json!({"acknowledge": "30s", "update_every": "1m", "resolve": "5m"}),
        json!({}),
    );
    let (s, sim) = app
        .post(
            &org.owner,
            "/policy/simulate",
            json!({"category": "billing", "priority": "low",
            "channel": "phone", "at": "2025-06-07T23:59:00Z", "policy": draft}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{sim}");
    assert_eq!(
        (sim["rule"].as_str(), sim["resolve_due"].as_str()),
        (Some("drill"), Some("2025-06-08T00:04:00Z"))
    );
    let (s, problem) = app
        .post(
            &org.owner,
            "/policy/simulate",
            json!({"category": "billing", "priority": "soon", "channel": "email"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["field"], "priority");
    assert_eq!(app.snapshot().await, snapshot);
}

async fn editing_the_policy_never_moves_a_running_escalation(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Bright Smile").await;
    let rita = org.user(&app, "Rita Reception", "agent").await;
    org.user(&app, "Ada Admin", "admin").await;
    let ticket = new_ticket(&app, &org, &rita, "The invoice is wrong.").await;
    let e = escalate(&app, &rita, &ticket, json!({})).await;
    assert_eq!(e["snapshot"]["rule"]["name"], "standard");
    let (_, mut policy) = app.get(&org.owner, "/policy").await;
    policy["rules"][2]["chain"][0]["ack_within"] = json!("5m");
    policy["rules"][2]["sla"]["resolve"] = json!("1h");
    app.set_policy(&org.owner, policy).await;
    let id = e["id"].as_str().expect("id");
    let (_, now) = app.get(&rita, &format!("/escalations/{id}")).await;
    assert_eq!(now["ack_due_at"], e["ack_due_at"]);
    assert_eq!(now["resolve_due_at"], e["resolve_due_at"]);
    assert_eq!(now["snapshot"], e["snapshot"]);
    // Moving it up walks the chain it started with, not the edited one.
    let (s, up) = app
        .post(
            &org.owner,
            &format!("/escalations/{id}/re-escalate"),
            json!({"note": "Needs the admins."}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{up}");
    assert_eq!(up["target"], json!({"kind": "role", "role": "admin"}));
    assert_eq!(
        up["resolve_due_at"], e["resolve_due_at"],
        "the customer's clock does not restart"
    );
    assert_eq!(up["snapshot"]["policy_version"], 0);
}

async fn waiting_on_the_customer_pauses_the_resolution_clock(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Bright Smile").await;
    let rita = org.user(&app, "Rita Reception", "agent").await;
    app.set_policy(
        &org.owner,
        drill_policy(
            json!([{"target": {"kind": "owner"}, "ack_within": "1h"}]),
            json!({"acknowledge": "1h", "update_every": "1h", "resolve": "2h"}),
            json!({}),
        ),
    )
    .await;
    let ticket = new_ticket(&app, &org, &rita, "My tooth still hurts after the filling.").await;
    let e = escalate(&app, &rita, &ticket, json!({})).await;
    let (s, t) = app
        .patch(
            &org.owner,
            &format!("/tickets/{ticket}"),
            json!({"status": "pending"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let d = &t["active_escalation"]["deadlines"];
    assert_eq!(
        (
            d["resolve"]["state"].as_str(),
            d["resolve"]["due_at"].as_str()
        ),
        (Some("paused"), None)
    );
    assert_eq!(d["update"]["state"], "paused");
    assert_eq!(d["acknowledge"]["state"], "running");
    let (_, events) = app
        .get(&org.owner, &format!("/tickets/{ticket}/events"))
        .await;
    assert_eq!(
        events
            .as_array()
            .and_then(|a| a.last())
            .map(|e| e["payload"]["sla"].clone()),
        Some(json!("paused"))
    );
    // Half an hour waiting on the customer, while the acknowledgement clock runs on.
    app.advance(SignedDuration::from_mins(30)).await;

    // The customer writes back: the ticket is escalated again and the clock runs on, the
    // resolution deadline pushed back by exactly the time spent waiting.
    let (s, _) = app
        .post(
            &rita,
            &format!("/tickets/{ticket}/comments"),
            json!({"body": "It still hurts when I chew.", "public": true, "from_customer": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, t) = app.get(&rita, &format!("/tickets/{ticket}")).await;
    assert_eq!(t["status"], "escalated");
    let d = &t["active_escalation"]["deadlines"];
    assert_eq!(d["resolve"]["state"], "running");
    assert_eq!(
        at(&d["resolve"]["due_at"]),
        at(&e["resolve_due_at"]) + SignedDuration::from_mins(30)
    );
    assert_eq!(
        at(&d["update"]["due_at"]),
        app.now() + SignedDuration::from_hours(1)
    );
    assert_eq!(
        at(&d["acknowledge"]["due_at"]),
        at(&e["ack_due_at"]),
        "waiting on the customer does not excuse acknowledging"
    );
    // Only an escalated ticket may wait while escalated: other statuses still conflict.
    let (s, _) = app
        .patch(
            &org.owner,
            &format!("/tickets/{ticket}"),
            json!({"status": "closed"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
}

async fn a_ticket_nobody_answers_escalates_by_itself(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Swift Heating").await;
    let tom = org.user(&app, "Tom Tech", "agent").await;
    app.set_policy(
        &org.owner,
        drill_policy(
            json!([{"target": {"kind": "owner"}, "ack_within": "1h"}]),
            json!({"acknowledge": "1h", "update_every": "1h", "resolve": "8h"}),
            json!({"first_response_within": "15m"}),
        ),
    )
    .await;
    let ignored = new_ticket(&app, &org, &tom, "No hot water since Monday.").await;
    let answered = new_ticket(&app, &org, &tom, "The thermostat display is blank.").await;
    let opened = app.now();
    let (s, _) = app
        .post(
            &tom,
            &format!("/tickets/{answered}/comments"),
            json!({"body": "We'll call you within the hour.", "public": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let first_response_due = opened + SignedDuration::from_mins(15);
    app.advance_to(first_response_due - SignedDuration::from_micros(1))
        .await;
    let events = app.events(&org.owner, &ignored).await;
    assert!(
        of_kind(&events, "escalated").is_empty(),
        "{:?}",
        kinds(&json!(events))
    );

    // Fifteen minutes without an answer, to the microsecond: it escalates by itself.
    app.advance_to(first_response_due).await;
    let events = app.events(&org.owner, &ignored).await;
    let escalated = of_kind(&events, "escalated");
    assert_eq!(escalated.len(), 1, "{:?}", kinds(&json!(events)));
    assert_eq!(at(&escalated[0]["occurred_at"]), first_response_due);
    assert_eq!(escalated[0]["payload"]["automatic"], true);
    assert_eq!(escalated[0]["payload"]["triggers"], json!(["sla_breach"]));
    let breach = of_kind(&events, "sla_breached");
    assert_eq!(breach.len(), 1, "{:?}", kinds(&json!(events)));
    assert_eq!(breach[0]["payload"]["clock"], "first_response");
    assert_eq!(at(&breach[0]["occurred_at"]), first_response_due);
    let (_, t) = app.get(&tom, &format!("/tickets/{ignored}")).await;
    assert_eq!(t["status"], "escalated");

    // The answered ticket stays with Tom, however long it waits.
    app.advance(SignedDuration::from_hours(4)).await;
    let (_, t) = app.get(&tom, &format!("/tickets/{answered}")).await;
    assert!(
        t["active_escalation"].is_null(),
        "the answered ticket stays with Tom: {t}"
    );
    assert_eq!(at(&t["first_response_at"]), opened);
    let events = app.events(&org.owner, &answered).await;
    assert!(
        of_kind(&events, "sla_breached").is_empty(),
        "{:?}",
        kinds(&json!(events))
    );
}

async fn only_the_owners_reply_or_call_counts_as_an_update(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Bright Smile").await;
    let rita = org.user(&app, "Rita Reception", "agent").await;
    // Around the clock, so that an hour of business time is an hour of the clock.
    app.set_policy(
        &org.owner,
        drill_policy(
            json!([{"target": {"kind": "owner"}, "ack_within": "1h"}]),
            json!({"acknowledge": "1h", "update_every": "1h", "resolve": "8h"}),
            json!({}),
        ),
    )
    .await;
    let ticket = new_ticket(&app, &org, &rita, "The bill is wrong again.").await;
    let e = escalate(&app, &rita, &ticket, json!({})).await;
    let id = e["id"].as_str().expect("id");
    let (_, acked) = app
        .post(
            &org.owner,
            &format!("/escalations/{id}/acknowledge"),
            json!({}),
        )
        .await;
    let due = at(&acked["update_due_at"]);
    assert_eq!(due, app.now() + SignedDuration::from_hours(1));
    let path = format!("/tickets/{ticket}/comments");
    let owner = &org.owner;
    let comment = |body: Value| app.post(owner, &path, body);
    let update_due = || async {
        let (_, e) = app.get(&rita, &format!("/escalations/{id}")).await;
        at(&e["update_due_at"])
    };
    // Five minutes on, an internal note and the customer's own message do not count.
    app.advance(SignedDuration::from_mins(5)).await;
    let (s, _) = comment(json!({"body": "Checking the ledger.", "public": false})).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = comment(json!({"body": "Any news?", "public": true, "from_customer": true})).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(update_due().await, due);
    // Someone else's public reply does not either: the owner owes the update.
    let (s, _) = app
        .post(
            &rita,
            &format!("/tickets/{ticket}/comments"),
            json!({"body": "The owner will call you.", "public": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(update_due().await, due);
    // The owner's logged call does: twenty minutes in, the next update is due an hour later.
    app.advance(SignedDuration::from_mins(15)).await;
    let (s, c) = comment(json!({"body": "Called the patient: refund on its way.", "public": false, "logged_call": true})).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["logged_call"], true);
    assert_eq!(
        update_due().await,
        app.now() + SignedDuration::from_hours(1)
    );
    // And so does the owner's public reply.
    app.advance(SignedDuration::from_mins(10)).await;
    let (s, _) = comment(json!({"body": "The refund left today.", "public": true})).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(
        update_due().await,
        app.now() + SignedDuration::from_hours(1)
    );
    let (s, problem) = comment(json!({"body": "x", "public": true, "logged_call": true})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["field"], "logged_call");
}

async fn a_stuck_engine_shows_in_readyz_and_metrics(b: Backend) {
    // The harness's server runs no timer workers: only the test fires timers.
    let app = TestApp::spawn(b).await;
    let org = app.org("Bright Smile").await;
    let ready = |app: &TestApp| {
        let url = format!("{}/readyz", app.base);
        let client = app.client.clone();
        async move {
            let r = client.get(url).send().await.expect("readyz");
            (r.status(), r.text().await.expect("body"))
        }
    };
    let (s, text) = ready(&app).await;
    assert_eq!(
        (s, text.as_str()),
        (StatusCode::OK, "ready; oldest overdue timer: 0s late")
    );
    let rita = org.user(&app, "Rita Reception", "agent").await;
    let ticket = new_ticket(&app, &org, &rita, "Where is my refund?").await;
    escalate(&app, &rita, &ticket, json!({})).await;
    // Nothing fires them: the clock moves on past the oldest timer, and it stays unfired.
    let (oldest,): (i64,) = sqlx::query_as("SELECT MIN(due_at) FROM timers")
        .fetch_one(app.db.pool())
        .await
        .expect("the oldest timer");
    let oldest = Timestamp::from_microsecond(oldest).expect("an instant");
    // Five minutes late is still ready; a microsecond more is stuck.
    app.clock.set(oldest + SignedDuration::from_mins(5));
    let (s, text) = ready(&app).await;
    assert_eq!(
        (s, text.as_str()),
        (StatusCode::OK, "ready; oldest overdue timer: 300s late")
    );
    app.clock.set(oldest + SignedDuration::from_mins(10));
    let (s, text) = ready(&app).await;
    assert_eq!(
        (s, text.as_str()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "timer engine stuck: oldest overdue timer is 600s late"
        )
    );
    let metrics = || async {
        app.client
            .get(format!("{}/metrics", app.base))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("body")
    };
    let gauge = |metrics: String| {
        metrics
            .lines()
            .find(|l| l.starts_with("ladder_oldest_overdue_timer_seconds "))
            .expect("the gauge")
            .to_owned()
    };
    assert_eq!(
        gauge(metrics().await),
        "ladder_oldest_overdue_timer_seconds 600"
    );
    // The engine catches up: nothing is late any more.
    assert!(app.fire_due().await > 0);
    let (s, text) = ready(&app).await;
    assert_eq!(
        (s, text.as_str()),
        (StatusCode::OK, "ready; oldest overdue timer: 0s late")
    );
    assert_eq!(
        gauge(metrics().await),
        "ladder_oldest_overdue_timer_seconds 0"
    );
}

/// The other tests fire timers themselves; here the server's own workers do, on the clock
/// the server was given (on the wall clock they would have fired at once, 2025 being past).
async fn the_servers_own_timer_workers_fire_on_its_clock(b: Backend) {
    let engine = ladder_server::engine::EngineConfig::for_backend(match b {
        Backend::Sqlite => ladder_storage::Backend::Sqlite,
        Backend::Postgres => ladder_storage::Backend::Postgres,
    });
    let app = TestApp::spawn_with(b, engine).await;
    let org = app.org("Swift Heating").await;
    let tom = org.user(&app, "Tom Tech", "agent").await;
    org.user(&app, "Ada Admin", "admin").await;
    app.set_policy(
        &org.owner,
        drill_policy(
            json!([
                {"target": {"kind": "user", "id": tom.id}, "ack_within": "10m"},
                {"target": {"kind": "role", "role": "admin"}, "ack_within": "1h"},
            ]),
            json!({"acknowledge": "1h", "update_every": "1h", "resolve": "2h"}),
            json!({}),
        ),
    )
    .await;
    let ticket = new_ticket(&app, &org, &tom, "The boiler still leaks after your visit.").await;
    let e = escalate(&app, &tom, &ticket, json!({})).await;
    let due = at(&e["ack_due_at"]);
    assert_eq!(due, app.now() + SignedDuration::from_mins(10));
    let moves = || async {
        let events = app.events(&org.owner, &ticket).await;
        events
            .into_iter()
            .filter(|e| e["kind"] == "rung_timed_out")
            .collect::<Vec<_>>()
    };
    assert!(moves().await.is_empty());

    // The clock stands still at the due instant while the workers, on their own time,
    // notice and fire.
    app.clock.set(due);
    eventually("the workers fire the rung timeout", || async {
        !moves().await.is_empty()
    })
    .await;
    let moves = moves().await;
    assert_eq!(moves.len(), 1, "{moves:?}");
    assert_eq!(at(&moves[0]["occurred_at"]), due);
    assert_eq!(
        moves[0]["payload"]["after"]["target"],
        json!({"kind": "role", "role": "admin"})
    );
}
