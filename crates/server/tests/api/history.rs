//! Triggers that come from history: one customer coming back again and again, and many
//! customers reporting the same problem at once (one parent incident ticket).

use jiff::{SignedDuration, Timestamp};
use ladder_core::text::{LongText, ShortText};
use ladder_core::triggers::history::grouping_key;
use ladder_core::{Category, Channel, Policy, TriggerKind, TriggerMode};
use ladder_server::flows::tickets::{create, OpenTicket};
use ladder_server::flows::Actor;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{assert_chain_intact, kinds, set_policy, Backend, Org, Session, TestApp};
use crate::on_both_databases;

on_both_databases!(
    repeat_customer_fires_repeat_contact_by_the_policys_threshold,
    one_customer_writing_five_times_is_a_repeat_contact_not_an_incident,
    many_customers_reporting_one_outage_share_one_escalated_incident,
    in_suggest_mode_the_incident_groups_without_escalating_and_off_does_nothing,
    the_incident_parent_is_created_once_under_concurrency,
    history_windows_count_back_from_the_moment_of_the_contact,
    an_automatic_escalation_takes_the_category_the_policy_names,
);

/// The same outage in the words of different customers: (subject, description).
const OUTAGE: [(&str, &str); 3] = [
    (
        "Booking page down",
        "Online booking page is down, can't book",
    ),
    (
        "Can't book online",
        "can't book online, the booking page is down!!",
    ),
    ("Online booking", "The booking page is down. Can't book."),
];

fn outage(i: usize) -> (&'static str, &'static str) {
    OUTAGE[i % OUTAGE.len()]
}

/// A policy with the many-customers trigger in `mode`, firing at `threshold` customers
/// within an hour.
fn incidents_policy(mode: TriggerMode, threshold: u32) -> Policy {
    let mut policy = Policy::default();
    policy
        .triggers
        .entry(TriggerKind::ManyCustomers)
        .or_default()
        .mode = mode;
    policy.history.many_customers.threshold = threshold;
    policy.history.many_customers.window_minutes = 60;
    policy
}

/// Opens a ticket for `customer` a minute after whatever came before, and returns it as the
/// API does. Only contacts strictly before a new one count as its prior contacts, so no two
/// reports share an instant, as no two real ones do.
async fn report(
    app: &TestApp,
    who: &Session,
    customer: &str,
    (subject, text): (&str, &str),
) -> Value {
    app.advance(SignedDuration::from_mins(1)).await;
    let (status, body) = app
        .post(
            who,
            "/tickets",
            json!({"subject": subject, "description": text, "customer_id": customer, "channel": "web"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "create ticket: {body}");
    body
}

fn trigger<'a>(ticket: &'a Value, kind: &str) -> Option<&'a Value> {
    ticket["triggers"]
        .as_array()
        .and_then(|a| a.iter().find(|t| t["kind"] == kind))
}

fn id(ticket: &Value) -> String {
    ticket["id"].as_str().expect("ticket id").to_owned()
}

/// The parent incident a ticket was linked to, read from its links.
fn parent_of(ticket: &Value) -> Option<String> {
    ticket["links"].as_array().and_then(|links| {
        links
            .iter()
            .find(|l| l["kind"] == "child_of" && l["from_ticket_id"] == ticket["id"])
            .and_then(|l| l["to_ticket_id"].as_str().map(str::to_owned))
    })
}

async fn customers(app: &TestApp, org: &Org, names: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for n in names {
        out.push(org.customer(app, n).await);
    }
    out
}

async fn repeat_customer_fires_repeat_contact_by_the_policys_threshold(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Repeat Clinic").await;
    let agent = org.user(&app, "Rita Reception", "agent").await;
    let mut policy = Policy::default();
    policy.history.repeat_contact.threshold = 2;
    set_policy(&app, &org, &policy).await;
    let pat = org.customer(&app, "Pat Again").await;
    let quinn = org.customer(&app, "Quinn Once").await;
    let ask = |n: u32| format!("Could you send me invoice number {n}?");

    let first = report(&app, &agent, &pat, ("Invoice", &ask(1))).await;
    assert!(trigger(&first, "repeat_contact").is_none(), "{first}");
    // An hour later the customer writes back on that ticket: an inbound message is a
    // contact too.
    app.advance(SignedDuration::from_hours(1)).await;
    let (s, _) = app
        .post(
            &agent,
            &format!("/tickets/{}/comments", id(&first)),
            json!({"body": "Any news on the invoice?", "public": true, "from_customer": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, first_now) = app.get(&agent, &format!("/tickets/{}", id(&first))).await;
    assert!(
        trigger(&first_now, "repeat_contact").is_none(),
        "one prior contact is below the threshold of 2: {first_now}"
    );
    // An agent's reply is not a contact by the customer.
    let (s, _) = app
        .post(
            &agent,
            &format!("/tickets/{}/comments", id(&first)),
            json!({"body": "We are looking into it.", "public": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);

    let second = report(&app, &agent, &pat, ("Invoice", &ask(2))).await;
    let fired = trigger(&second, "repeat_contact").expect("second ticket fires");
    assert_eq!(fired["mode"], "suggest");
    assert_eq!(fired["evidence"][0]["prior_contacts"], 2, "{fired}");
    assert_eq!(fired["evidence"][0]["window_hours"], 720);
    let other = report(&app, &agent, &quinn, ("Invoice", &ask(3))).await;
    assert!(trigger(&other, "repeat_contact").is_none(), "{other}");

    // The tenant raises the threshold: three prior contacts no longer fire, four do.
    policy.history.repeat_contact.threshold = 4;
    set_policy(&app, &org, &policy).await;
    let third = report(&app, &agent, &pat, ("Invoice", &ask(4))).await;
    assert!(trigger(&third, "repeat_contact").is_none(), "{third}");
    let fourth = report(&app, &agent, &pat, ("Invoice", &ask(5))).await;
    let fired = trigger(&fourth, "repeat_contact").expect("fourth ticket fires");
    assert_eq!(fired["evidence"][0]["prior_contacts"], 4, "{fired}");
}

async fn one_customer_writing_five_times_is_a_repeat_contact_not_an_incident(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Single Writer").await;
    let agent = org.user(&app, "Rita Reception", "agent").await;
    set_policy(&app, &org, &incidents_policy(TriggerMode::Auto, 3)).await;
    let pat = org.customer(&app, "Pat Persistent").await;
    let mut fired = Vec::new();
    for i in 0..5 {
        let t = report(&app, &agent, &pat, outage(i)).await;
        assert!(trigger(&t, "many_customers").is_none(), "{t}");
        fired.push(
            trigger(&t, "repeat_contact").map(|f| f["evidence"][0]["prior_contacts"].clone()),
        );
    }
    assert_eq!(
        fired,
        vec![None, None, None, Some(json!(3)), Some(json!(4))]
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM tickets").await, 5);
    assert_eq!(app.count("SELECT COUNT(*) FROM incidents").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM ticket_links").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM escalations").await, 0);
}

async fn many_customers_reporting_one_outage_share_one_escalated_incident(b: Backend) {
    // The outage reports, said differently, are one problem; the hard negatives are not.
    let key = grouping_key(
        Category::Other,
        &format!("{}\n\n{}", OUTAGE[0].0, OUTAGE[0].1),
    );
    for (s, d) in OUTAGE {
        assert_eq!(grouping_key(Category::Other, &format!("{s}\n\n{d}")), key);
    }
    let app = TestApp::spawn(b).await;
    let org = app.org("Outage Clinic").await;
    let agent = org.user(&app, "Rita Reception", "agent").await;
    let mut policy = incidents_policy(TriggerMode::Auto, 3);
    policy
        .triggers
        .entry(TriggerKind::ManyCustomers)
        .or_default()
        .category = Some(Category::Technical);
    set_policy(&app, &org, &policy).await;
    let c = customers(&app, &org, &["Ann", "Bob", "Cy", "Dee", "Eve", "Fay"]).await;

    let a1 = report(&app, &agent, &c[0], outage(0)).await;
    let a2 = report(&app, &agent, &c[0], outage(1)).await;
    let password = report(
        &app,
        &agent,
        &c[2],
        ("Password reset", "Password reset email never arrives"),
    )
    .await;
    let phone = report(&app, &agent, &c[3], ("Phone", "The phone line is down")).await;
    let b1 = report(&app, &agent, &c[1], outage(1)).await;
    for t in [&a1, &a2, &password, &phone, &b1] {
        assert!(
            trigger(t, "many_customers").is_none(),
            "two customers are not three: {t}"
        );
        assert_eq!(parent_of(t), None);
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM incidents").await, 0);

    // The third customer with the same problem opens the incident.
    let e1 = report(&app, &agent, &c[4], outage(2)).await;
    let fired = trigger(&e1, "many_customers").expect("third customer fires");
    assert_eq!(fired["mode"], "auto");
    assert_eq!(fired["evidence"][0]["customers"], 3, "{fired}");
    let parent_id = parent_of(&e1).expect("linked to the parent");
    assert_eq!(fired["evidence"][0]["parent_ticket_id"], parent_id.as_str());
    assert_eq!(app.count("SELECT COUNT(*) FROM incidents").await, 1);
    for t in [&a1, &a2, &b1] {
        let (_, now) = app.get(&agent, &format!("/tickets/{}", id(t))).await;
        assert_eq!(
            parent_of(&now).as_deref(),
            Some(parent_id.as_str()),
            "{now}"
        );
        let tag = trigger(&now, "many_customers").expect("earlier report tagged");
        assert_eq!(tag["evidence"][0]["parent_ticket_id"], parent_id.as_str());
        let (_, events) = app.get(&agent, &format!("/tickets/{}/events", id(t))).await;
        assert_eq!(kinds(&events), ["ticket_created", "linked_to_incident"]);
    }
    for t in [&password, &phone] {
        let (_, now) = app.get(&agent, &format!("/tickets/{}", id(t))).await;
        assert_eq!(
            parent_of(&now),
            None,
            "a different problem stays out: {now}"
        );
        assert!(trigger(&now, "many_customers").is_none());
    }

    let (_, parent) = app.get(&agent, &format!("/tickets/{parent_id}")).await;
    assert_eq!(parent["status"], "escalated", "{parent}");
    assert_eq!(parent["customer_id"], c[0].as_str(), "the first reporter");
    let esc = &parent["active_escalation"];
    assert_eq!(esc["category"], "technical", "the policy's category: {esc}");
    assert_eq!(esc["urgency"], "urgent");
    assert_eq!(esc["triggers"], json!(["many_customers"]));
    assert!(
        esc["note"]
            .as_str()
            .unwrap_or("")
            .starts_with("3 customers reported the same problem"),
        "{esc}"
    );
    assert_eq!(parent["links"].as_array().map(Vec::len), Some(4));
    let (_, events) = app
        .get(&agent, &format!("/tickets/{parent_id}/events"))
        .await;
    assert_eq!(kinds(&events), ["ticket_created", "escalated"]);
    assert_eq!(events[0]["payload"]["incident"]["customers"], 3);
    assert_eq!(events[1]["payload"]["automatic"], true);

    // A later report joins the incident, updates its count, and escalates nothing more.
    let f1 = report(&app, &agent, &c[5], outage(0)).await;
    assert_eq!(parent_of(&f1).as_deref(), Some(parent_id.as_str()));
    assert_eq!(
        trigger(&f1, "many_customers").expect("tagged")["evidence"][0]["customers"],
        4
    );
    let (_, events) = app
        .get(&agent, &format!("/tickets/{parent_id}/events"))
        .await;
    assert_eq!(
        kinds(&events),
        ["ticket_created", "escalated", "incident_child_linked"]
    );
    assert_eq!(events[2]["payload"]["customers"], 4);
    assert_eq!(events[2]["payload"]["child_ticket_id"], id(&f1).as_str());
    let (_, parent) = app.get(&agent, &format!("/tickets/{parent_id}")).await;
    assert_eq!(
        trigger(&parent, "many_customers").expect("parent tagged")["evidence"][0]["customers"],
        4
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM escalations").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM ticket_links WHERE kind = 'child_of'")
            .await,
        5
    );
    assert_chain_intact(&app, &org).await;
}

async fn in_suggest_mode_the_incident_groups_without_escalating_and_off_does_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    // The built-in policy: many customers is a suggestion from five customers in an hour.
    let org = app.org("Suggest Clinic").await;
    let agent = org.user(&app, "Rita Reception", "agent").await;
    let c = customers(&app, &org, &["A1", "A2", "A3", "A4", "A5", "A6", "A7"]).await;
    let mut reports = Vec::new();
    for (i, customer) in c.iter().take(5).enumerate() {
        reports.push(report(&app, &agent, customer, outage(i)).await);
    }
    assert!(trigger(&reports[3], "many_customers").is_none());
    let fired = trigger(&reports[4], "many_customers").expect("fifth customer fires");
    assert_eq!(fired["mode"], "suggest");
    let parent_id = parent_of(&reports[4]).expect("grouped under a parent");
    let (_, parent) = app.get(&agent, &format!("/tickets/{parent_id}")).await;
    assert_eq!(
        parent["status"], "new",
        "suggest does not escalate: {parent}"
    );
    assert_eq!(parent["active_escalation"], Value::Null);
    assert_eq!(app.count("SELECT COUNT(*) FROM escalations").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM ticket_links WHERE kind = 'child_of'")
            .await,
        5
    );

    // Once the incident is resolved, a new report starts afresh instead of joining it, and
    // the reports already grouped do not count again.
    let (s, body) = app
        .patch(
            &agent,
            &format!("/tickets/{parent_id}"),
            json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let late = report(&app, &agent, &c[5], outage(1)).await;
    assert_eq!(parent_of(&late), None, "{late}");
    assert!(trigger(&late, "many_customers").is_none());
    assert_eq!(
        app.count("SELECT COUNT(*) FROM incidents WHERE closed_at IS NULL")
            .await,
        0
    );

    // Another organisation turned the trigger off: no parent, no links.
    let other = app.org("Quiet Clinic").await;
    let other_agent = other.user(&app, "Otto Agent", "agent").await;
    set_policy(&app, &other, &incidents_policy(TriggerMode::Off, 2)).await;
    let oc = customers(&app, &other, &["B1", "B2", "B3"]).await;
    for (i, customer) in oc.iter().enumerate() {
        let t = report(&app, &other_agent, customer, outage(i)).await;
        assert!(trigger(&t, "many_customers").is_none(), "{t}");
        assert_eq!(parent_of(&t), None);
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM incidents").await,
        1,
        "only the first org's"
    );
}

async fn the_incident_parent_is_created_once_under_concurrency(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Stampede Clinic").await;
    let agent = org.user(&app, "Rita Reception", "agent").await;
    set_policy(&app, &org, &incidents_policy(TriggerMode::Auto, 5)).await;
    let names: Vec<String> = (0..12).map(|i| format!("Customer {i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let c = customers(&app, &org, &names).await;
    let mut tasks = Vec::new();
    for (i, customer) in c.into_iter().enumerate() {
        let (base, client, token) = (app.base.clone(), app.client.clone(), agent.token.clone());
        let (subject, text) = outage(i);
        tasks.push(tokio::spawn(async move {
            client
                .post(format!("{base}/api/v1/tickets"))
                .bearer_auth(token)
                .json(&json!({"subject": subject, "description": text, "customer_id": customer, "channel": "web"}))
                .send()
                .await
                .map(|r| r.status())
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("join").expect("send"), StatusCode::CREATED);
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM tickets").await,
        13,
        "12 reports and one parent"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM incidents").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM ticket_links WHERE kind = 'child_of'")
            .await,
        12
    );
    assert_eq!(
        app.count("SELECT COUNT(DISTINCT to_ticket_id) FROM ticket_links WHERE kind = 'child_of'")
            .await,
        1
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM escalations").await, 1);
    assert_eq!(app.count("SELECT MAX(customers) FROM incidents").await, 12);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM tickets WHERE triggers LIKE '%many_customers%'")
            .await,
        13,
        "every report and the parent carry the trigger"
    );
    assert_chain_intact(&app, &org).await;
}

async fn history_windows_count_back_from_the_moment_of_the_contact(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Window Clinic").await;
    let mut policy = incidents_policy(TriggerMode::Auto, 3);
    policy.history.repeat_contact.threshold = 2;
    set_policy(&app, &org, &policy).await;
    let user = ladder_storage::directory::user(
        &app.db,
        &ladder_core::TenantId(org.tenant_id.clone()),
        &ladder_core::UserId(org.owner.id.clone()),
    )
    .await
    .expect("read owner")
    .expect("owner");
    let caller = Actor::of_user(&user, vec![]);
    // From the server's now on, so that every contact follows the organisation's creation.
    let t0 = app.now();
    let open = |customer: String, (subject, text): (&str, &str), at: Timestamp| {
        let caller = &caller;
        let db = &app.db;
        let req = OpenTicket {
            subject: ShortText::new(subject).expect("subject"),
            description: LongText::new(text).expect("text"),
            customer_id: ladder_core::CustomerId(customer),
            channel: Channel::Email,
            category: None,
            priority: None,
            assignee_id: None,
            team_id: None,
        };
        async move { create(db, caller, req, at).await.expect("create ticket") }
    };
    let days = |d: i64| t0 + SignedDuration::from_hours(24 * d);
    let mins = |m: i64| t0 + SignedDuration::from_mins(m);
    let kinds_of = |v: &ladder_server::flows::tickets::TicketDetail| -> Vec<TriggerKind> {
        serde_json::from_value::<Vec<Value>>(v.ticket.triggers.clone())
            .unwrap_or_default()
            .iter()
            .filter_map(|t| serde_json::from_value(t["kind"].clone()).ok())
            .collect()
    };

    // Repeat contact: two prior contacts within 30 days (720 hours).
    let pat = org.customer(&app, "Pat").await;
    let invoice = ("Invoice", "Please send the invoice copy");
    for (at, fires) in [
        (days(0), false),
        (days(10), false),
        (days(31), false),
        (days(32), true),
    ] {
        let v = open(pat.clone(), invoice, at).await;
        assert_eq!(
            kinds_of(&v).contains(&TriggerKind::RepeatContact),
            fires,
            "contact at {at}: day 0 is outside the window on day 31"
        );
    }

    // Many customers: three within any 60 minutes. The first report is 61 minutes before
    // the third, so only the fourth completes a window of three.
    let c = customers(&app, &org, &["Ann", "Bob", "Cy", "Dee"]).await;
    let mut views = Vec::new();
    for (i, at) in [mins(0), mins(30), mins(61), mins(62)]
        .into_iter()
        .enumerate()
    {
        views.push(open(c[i].clone(), outage(i), at).await);
    }
    for v in &views[..3] {
        assert!(!kinds_of(v).contains(&TriggerKind::ManyCustomers));
    }
    assert!(kinds_of(&views[3]).contains(&TriggerKind::ManyCustomers));
    let children = app
        .count("SELECT COUNT(*) FROM ticket_links WHERE kind = 'child_of'")
        .await;
    assert_eq!(
        children, 3,
        "Bob, Cy and Dee; Ann reported outside the window"
    );
    let ann_linked =
        sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM ticket_links WHERE from_ticket_id = $1")
            .bind(views[0].ticket.id.as_str())
            .fetch_one(app.db.pool())
            .await
            .expect("count")
            .0;
    assert_eq!(ann_linked, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM escalations").await, 1);
}

async fn an_automatic_escalation_takes_the_category_the_policy_names(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Category Clinic").await;
    let agent = org.user(&app, "Rita Reception", "agent").await;
    let mut policy = Policy::default();
    let legal = policy
        .triggers
        .get_mut(&TriggerKind::LegalThreat)
        .expect("legal threat setting");
    legal.mode = TriggerMode::Auto;
    legal.category = Some(Category::Complaint);
    set_policy(&app, &org, &policy).await;
    let maria = org.customer(&app, "Maria Lopez").await;
    let t = report(
        &app,
        &agent,
        &maria,
        (
            "Crown",
            "You charged me for a crown I never got. I will sue you.",
        ),
    )
    .await;
    assert_eq!(t["status"], "escalated", "{t}");
    assert_eq!(t["active_escalation"]["category"], "complaint");
    assert_eq!(t["active_escalation"]["triggers"][0], "legal_threat");
}
