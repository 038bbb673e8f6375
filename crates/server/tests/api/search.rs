//! `GET /tickets` (filters, full text, keyset pages) and `GET /customers?q=`.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{ids, Backend, TestApp, TicketBuilder};
use crate::on_both_databases;

on_both_databases!(
    full_text_ranks_and_finds_later_messages,
    filters_narrow_the_list,
    pages_have_no_gaps_and_no_repeats,
    filters_choose_among_every_match_not_only_the_newest,
    another_organisations_tickets_are_never_found,
    malformed_filters_are_refused_naming_the_field,
    customers_are_found_by_name_email_and_phone,
);

/// The ids found by `GET /tickets?{query}`, one page.
async fn found(app: &TestApp, who: &crate::harness::Session, query: &str) -> Vec<String> {
    let (s, page) = app.get(who, &format!("/tickets?{query}")).await;
    assert_eq!(s, StatusCode::OK, "{query}: {page}");
    ids(&page, "id")
}

/// The ids of every page of `GET /tickets?{query}`, `limit` to a page, following the cursor.
async fn every_page(
    app: &TestApp,
    who: &crate::harness::Session,
    query: &str,
    limit: usize,
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/tickets?{query}&limit={limit}&cursor={c}"),
            None => format!("/tickets?{query}&limit={limit}"),
        };
        let (s, page) = app.get(who, &path).await;
        assert_eq!(s, StatusCode::OK, "{path}: {page}");
        let items = ids(&page, "id");
        assert!(items.len() <= limit);
        seen.extend(items);
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return seen,
        }
    }
}

async fn full_text_ranks_and_finds_later_messages(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Search Clinic").await;
    let agent = org.user(&app, "Ana Agent", "agent").await;
    let customer = org.customer(&app, "Olivia Stone").await;
    // The word in the subject weighs more than the same word once in a long description.
    let in_description = TicketBuilder::new(&customer)
        .about("Question about my appointment")
        .saying(
            "I came in on Tuesday for a cleaning and the receptionist said a refund would \
             follow for the cancelled x-ray, along with a new booking for next month.",
        )
        .open(&app, &agent)
        .await;
    let in_subject = TicketBuilder::new(&customer)
        .about("Refund for the cancelled x-ray")
        .saying("Please see the subject.")
        .open(&app, &agent)
        .await;
    let unrelated = TicketBuilder::new(&customer)
        .about("Parking at the clinic")
        .saying("Where do I park?")
        .open(&app, &agent)
        .await;
    assert_eq!(
        found(&app, &agent, "q=refund").await,
        [in_subject.clone(), in_description.clone()]
    );
    // Stemmed on both databases: "refunds" finds "refund"; every word is required.
    assert_eq!(
        found(&app, &agent, "q=refunds").await,
        [in_subject.clone(), in_description.clone()]
    );
    assert_eq!(
        found(&app, &agent, "q=refund%20booking").await,
        [in_description.clone()]
    );
    // Query syntax of either engine is just text: quotes, operators and colons separate words.
    assert_eq!(
        found(&app, &agent, "q=%22refund%22%20NEAR%3A*").await,
        Vec::<String>::new(),
        "NEAR is a word here, and no ticket has it"
    );
    assert_eq!(
        found(&app, &agent, "q=%22refund%22%20(x-ray)").await.len(),
        2
    );
    // A message written later is found at once, on a ticket that did not match before.
    assert!(found(&app, &agent, "q=windscreen").await.is_empty());
    let (s, c) = app
        .post(
            &agent,
            &format!("/tickets/{unrelated}/comments"),
            json!({"body": "The barrier hit my windscreen on the way out.", "public": false}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(
        found(&app, &agent, "q=windscreen").await,
        [unrelated.clone()]
    );
    // Its earlier words still count, and a second message adds to the first.
    assert_eq!(found(&app, &agent, "q=park").await, [unrelated.clone()]);
    let (s, c) = app
        .post(
            &agent,
            &format!("/tickets/{unrelated}/comments"),
            json!({"body": "Sent the insurer a photo.", "public": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(
        found(&app, &agent, "q=windscreen%20insurer").await,
        [unrelated]
    );
}

async fn filters_narrow_the_list(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Filter Clinic").await;
    let agent = org.user(&app, "Ana Agent", "agent").await;
    let other = org.user(&app, "Ben Agent", "agent").await;
    let team = org.team(&app, "Front desk", &[&agent]).await;
    let olivia = org.customer(&app, "Olivia Stone").await;
    let peter = org.customer(&app, "Peter Hale").await;
    let first = TicketBuilder::new(&olivia)
        .about("Invoice twice")
        .open(&app, &agent)
        .await;
    app.advance(jiff::SignedDuration::from_mins(5)).await;
    let second = TicketBuilder::new(&peter)
        .about("Invoice missing")
        .open(&app, &other)
        .await;
    app.advance(jiff::SignedDuration::from_mins(5)).await;
    let third = TicketBuilder::new(&olivia)
        .about("Crown came loose")
        .open(&app, &agent)
        .await;
    app.advance(jiff::SignedDuration::from_mins(1)).await;
    let (s, t) = app
        .patch(
            &agent,
            &format!("/tickets/{first}"),
            json!({"status": "pending", "category": "billing", "team_id": team, "assignee_id": null}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let middle = app.now();

    // Without words: newest first.
    assert_eq!(
        found(&app, &agent, "").await,
        [third.clone(), second.clone(), first.clone()]
    );
    assert_eq!(found(&app, &agent, "status=pending").await, [first.clone()]);
    assert_eq!(
        found(&app, &agent, "category=billing").await,
        [first.clone()]
    );
    assert_eq!(
        found(&app, &agent, &format!("customer_id={olivia}")).await,
        [third.clone(), first.clone()]
    );
    assert_eq!(
        found(&app, &agent, &format!("assignee_id={}", other.id)).await,
        [second.clone()]
    );
    assert_eq!(
        found(&app, &agent, "assignee_id=none").await,
        [first.clone()]
    );
    assert_eq!(
        found(&app, &agent, &format!("team_id={team}")).await,
        [first.clone()]
    );
    assert!(found(&app, &agent, "escalated=true").await.is_empty());
    assert_eq!(found(&app, &agent, "escalated=false").await.len(), 3);
    let created = app.now() - jiff::SignedDuration::from_mins(8);
    assert_eq!(
        found(&app, &agent, &format!("created_from={created}")).await,
        [third.clone(), second.clone()]
    );
    assert_eq!(
        found(&app, &agent, &format!("created_before={created}")).await,
        [first.clone()]
    );
    // Only the patched ticket changed at `middle`; the others were last changed before.
    assert_eq!(
        found(&app, &agent, &format!("updated_from={middle}")).await,
        [first.clone()]
    );
    // Words and filters together.
    assert_eq!(
        found(&app, &agent, &format!("q=invoice&customer_id={peter}")).await,
        [second.clone()]
    );
    assert_eq!(found(&app, &agent, "q=invoice&status=new").await, [second]);
}

async fn pages_have_no_gaps_and_no_repeats(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Paging Clinic").await;
    let agent = org.user(&app, "Ana Agent", "agent").await;
    let customer = org.customer(&app, "Olivia Stone").await;
    // Tickets made at one instant (the test clock stands still) and at a few others, with the
    // word once, twice or in the subject: many equal keys, in both orders.
    let mut all = BTreeSet::new();
    for i in 0..23 {
        if i % 7 == 0 {
            app.advance(jiff::SignedDuration::from_secs(1)).await;
        }
        let subject = if i % 5 == 0 { "Sore tooth" } else { "Visit" };
        let text = match i % 3 {
            0 => "my tooth hurts",
            1 => "tooth and gum, the tooth again",
            _ => "a question about the bill",
        };
        let id = TicketBuilder::new(&customer)
            .about(subject)
            .saying(text)
            .open(&app, &agent)
            .await;
        if subject.contains("tooth") || text.contains("tooth") {
            all.insert(id);
        }
    }
    for (query, expected) in [("q=tooth", all.clone()), ("", BTreeSet::new())] {
        let seen = every_page(&app, &agent, query, 4).await;
        let unique: BTreeSet<String> = seen.iter().cloned().collect();
        assert_eq!(unique.len(), seen.len(), "{query}: a ticket came twice");
        if query.is_empty() {
            assert_eq!(seen.len(), 23, "every ticket, once");
            // The whole list in one page is the same order.
            assert_eq!(found(&app, &agent, "limit=200").await, seen);
        } else {
            assert_eq!(unique, expected, "{query}: gaps");
            assert_eq!(found(&app, &agent, "q=tooth&limit=200").await, seen);
        }
    }
}

/// A ranked search ranks the newest `RANKED_CANDIDATES` matches; the filters choose those
/// candidates, so an old ticket behind that many newer matches is still found by them.
async fn filters_choose_among_every_match_not_only_the_newest(b: Backend) {
    let cap = ladder_storage::search::RANKED_CANDIDATES as usize;
    let app = TestApp::spawn(b).await;
    let org = app.org("Refund Clinic").await;
    let agent = org.user(&app, "Ana Agent", "agent").await;
    let customer = org.customer(&app, "Olivia Stone").await;
    let old = TicketBuilder::new(&customer)
        .about("Refund for the crown")
        .saying("please refund the deposit")
        .open(&app, &agent)
        .await;
    let (s, t) = app
        .patch(
            &agent,
            &format!("/tickets/{old}"),
            json!({"status": "pending"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let old_day = app.now();
    let old_deposit = TicketBuilder::new(&customer)
        .about("Deposit paid by card")
        .saying("the deposit went through twice")
        .open(&app, &agent)
        .await;
    // Past the recent tickets a PostgreSQL search looks among first (ids are minted at
    // creation, on the server's clock): what follows exercises both that and the rest.
    app.advance(jiff::SignedDuration::from_hours(100 * 24))
        .await;
    // Ana's session has expired by then.
    let agent = app
        .login(
            &org.slug,
            &format!("ana.agent@{}.example", org.slug),
            "password-123",
        )
        .await;
    let new_deposit = TicketBuilder::new(&customer)
        .about("Deposit once more")
        .saying("is the deposit kept")
        .open(&app, &agent)
        .await;
    // More newer matches than are ranked, made eight at a time.
    let mut newer = 0;
    while newer < cap + 5 {
        let batch = (0..8).map(|i| {
            TicketBuilder::new(&customer)
                .about(&format!("Question {}", newer + i))
                .saying("about a refund")
                .open(&app, &agent)
        });
        futures::future::join_all(batch).await;
        newer += 8;
    }
    // Without a filter, the newest `cap` matches are the candidates: the old one is not.
    let seen = every_page(&app, &agent, "q=refund", 100).await;
    assert_eq!(seen.len(), cap, "the ranked set is capped");
    assert!(!seen.contains(&old));
    // Fewer recent matches than the cap: the older ones join them.
    let mut deposit = every_page(&app, &agent, "q=deposit", 2).await;
    deposit.sort();
    let mut expected = vec![old.clone(), old_deposit, new_deposit];
    expected.sort();
    assert_eq!(deposit, expected);
    // A filter reaches it all the same.
    assert_eq!(
        found(&app, &agent, "q=refund&status=pending").await,
        vec![old.clone()]
    );
    let before = old_day
        .checked_add(jiff::SignedDuration::from_hours(1))
        .expect("an instant")
        .to_string();
    assert_eq!(
        found(
            &app,
            &agent,
            &format!("q=refund&created_before={}", urlencode(&before))
        )
        .await,
        vec![old]
    );
}

async fn another_organisations_tickets_are_never_found(b: Backend) {
    let app = TestApp::spawn(b).await;
    let a = app.org("Clinic A").await;
    let b_org = app.org("Clinic B").await;
    let a_agent = a.user(&app, "Ana Agent", "agent").await;
    let b_agent = b_org.user(&app, "Bo Agent", "agent").await;
    let a_customer = a.customer(&app, "Olivia Stone").await;
    let b_customer = b_org.customer(&app, "Olivia Stonebridge").await;
    let mine = TicketBuilder::new(&a_customer)
        .about("Lost retainer")
        .open(&app, &a_agent)
        .await;
    let theirs = TicketBuilder::new(&b_customer)
        .about("Lost retainer")
        .open(&app, &b_agent)
        .await;
    assert_eq!(found(&app, &a_agent, "q=retainer").await, [mine.clone()]);
    assert_eq!(found(&app, &b_agent, "q=retainer").await, [theirs.clone()]);
    assert_eq!(found(&app, &a_agent, "").await, [mine.clone()]);
    // Filtering by the other organisation's ids finds nothing either.
    assert!(found(&app, &a_agent, &format!("customer_id={b_customer}"))
        .await
        .is_empty());
    let (s, list) = app.get(&a_agent, "/customers?q=olivia").await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<&str> = list
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["Olivia Stone"]);
}

async fn malformed_filters_are_refused_naming_the_field(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Strict Clinic").await;
    let agent = org.user(&app, "Ana Agent", "agent").await;
    let customer = org.customer(&app, "Olivia Stone").await;
    for _ in 0..2 {
        TicketBuilder::new(&customer)
            .about("Tooth")
            .open(&app, &agent)
            .await;
    }
    let (_, page) = app.get(&agent, "/tickets?limit=1").await;
    let list_cursor = page["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let (_, page) = app.get(&agent, "/tickets?q=tooth&limit=1").await;
    let ranked_cursor = page["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let before = app.snapshot().await;
    for (query, field) in [
        ("status=lost".to_owned(), "status"),
        ("category=gossip".into(), "category"),
        ("priority=whenever".into(), "priority"),
        ("channel=pigeon".into(), "channel"),
        ("escalated=maybe".into(), "escalated"),
        ("created_from=yesterday".into(), "created_from"),
        ("updated_before=2025-13-01".into(), "updated_before"),
        ("limit=0".into(), "limit"),
        ("limit=many".into(), "limit"),
        ("cursor=garbage".into(), "cursor"),
        (format!("cursor={list_cursor}&q=tooth"), "cursor"),
        (format!("cursor={ranked_cursor}"), "cursor"),
        ("q=%22%22%20*".into(), "q"),
        ("customer_id=a%20b".into(), "customer_id"),
        ("sort=oldest".into(), "sort"),
    ] {
        let (s, problem) = app.get(&agent, &format!("/tickets?{query}")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {problem}");
        assert_eq!(problem["field"], field, "{query}: {problem}");
    }
    let (s, problem) = app.get(&agent, "/customers?limit=500&q=ab").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["field"], "limit");
    assert_eq!(app.snapshot().await, before);
}

async fn customers_are_found_by_name_email_and_phone(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Phone Clinic").await;
    let agent = org.user(&app, "Ana Agent", "agent").await;
    for (name, email, phone) in [
        ("Olivia Smith", "olivia@example.com", "+1 (555) 012-4567"),
        ("Peter Goldsmith", "pg@hale.example", "020 7946 0018"),
        ("Zoë Ortiz", "zo@example.org", "555.867.5309"),
    ] {
        let (s, c) = app
            .post(
                &agent,
                "/customers",
                json!({"name": name, "email": email, "phone": phone}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
    }
    let names = |list: serde_json::Value| -> Vec<String> {
        list.as_array()
            .expect("a list")
            .iter()
            .filter_map(|c| c["name"].as_str().map(str::to_owned))
            .collect()
    };
    for (q, expected) in [
        ("smith", vec!["Olivia Smith", "Peter Goldsmith"]),
        ("SMITH", vec!["Olivia Smith", "Peter Goldsmith"]),
        ("mith", vec!["Olivia Smith", "Peter Goldsmith"]),
        ("hale.example", vec!["Peter Goldsmith"]),
        (
            "example",
            vec!["Olivia Smith", "Peter Goldsmith", "Zoë Ortiz"],
        ),
        // Phone numbers by their digits, however written.
        ("0124567", vec!["Olivia Smith"]),
        ("555-012-4567", vec!["Olivia Smith"]),
        ("(555) 867", vec!["Zoë Ortiz"]),
        ("7946", vec!["Peter Goldsmith"]),
        // One or two letters: the start of a name.
        ("pe", vec!["Peter Goldsmith"]),
        ("z", vec!["Zoë Ortiz"]),
        ("nobody", vec![]),
    ] {
        let (s, list) = app
            .get(&agent, &format!("/customers?q={}", urlencode(q)))
            .await;
        assert_eq!(s, StatusCode::OK, "{q}: {list}");
        assert_eq!(names(list), expected, "{q}");
    }
    let (s, list) = app.get(&agent, "/customers?q=example&limit=1").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(names(list).len(), 1);
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
