//! The escalation flows of the clinic and field-service guides.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{ids, kinds, told, Backend, TestApp, TicketBuilder};
use crate::on_both_databases;

on_both_databases!(
    receptionist_escalates_legal_complaint_to_owner,
    technician_escalates_charge_dispute_to_account_team,
    refusals_change_nothing,
    two_people_acknowledging_at_once_exactly_one_wins,
    compensation_above_the_limit_waits_for_approval,
    platform_support_see_only_what_was_escalated_to_them,
    a_legal_matter_moved_up_to_the_platform_makes_the_ticket_critical,
    linked_follow_up_and_reopen_keep_the_history,
);

async fn receptionist_escalates_legal_complaint_to_owner(b: Backend) {
    let app = TestApp::spawn(b).await;
    let clinic = app.org("Bright Smile").await;
    let owner = &clinic.owner;
    let rita = clinic.user(&app, "Rita Reception", "agent").await;
    let other = clinic.user(&app, "Otto Other", "agent").await;
    let patient = clinic.customer(&app, "Maria Lopez").await;
    let ticket = TicketBuilder::new(&patient)
        .about("Charged for a crown I never had")
        .saying("You billed me for a crown I never received. I'll sue for false advertising.")
        .open(&app, &rita)
        .await;
    let (_, mine) = app.get(&rita, "/queues/mine").await;
    assert_eq!(ids(&mine, "id"), [ticket.clone()]);

    let note = "Patient claims she was charged for a procedure she didn't receive; needs the owner to review records.";
    let (s, esc) = app
        .post(&rita, &format!("/tickets/{ticket}/escalate"), json!({"category": "legal", "note": note, "contact_method": "call", "urgency": "urgent"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{esc}");
    assert_eq!(esc["target"]["kind"], "owner");
    assert_eq!(esc["state"], "requested");
    let esc_id = esc["id"].as_str().expect("id").to_owned();

    let (_, t) = app.get(&rita, &format!("/tickets/{ticket}")).await;
    assert_eq!(t["status"], "escalated");
    assert_eq!(t["active_escalation"]["id"], esc_id.as_str());
    let (_, mine) = app.get(&rita, "/queues/mine").await;
    assert!(
        ids(&mine, "id").is_empty(),
        "the ticket must leave her queue"
    );
    let (_, watching) = app.get(&rita, "/queues/watching").await;
    assert_eq!(ids(&watching, "id"), [ticket.clone()]);
    let (_, owner_q) = app.get(owner, "/queues/escalations").await;
    assert_eq!(ids(&owner_q, "id"), [esc_id.clone()]);
    assert_eq!(owner_q["total"], 1);
    let (_, other_q) = app.get(&other, "/queues/escalations").await;
    assert!(ids(&other_q, "id").is_empty());

    // The owner was told, with every detail.
    let (_, notes) = app
        .get(owner, &format!("/tickets/{ticket}/notifications"))
        .await;
    let requested = notes
        .as_array()
        .expect("outbox")
        .iter()
        .find(|m| m["kind"] == "escalation_requested")
        .expect("owner notified");
    assert_eq!(requested["recipient_user_ids"], json!([owner.id]));
    assert_eq!(requested["payload"]["note"], note);
    assert_eq!(requested["payload"]["contact_method"], "call");

    // Front desk may not reply on a legal matter, but may leave a note.
    let (s, refused) = app
        .post(
            &rita,
            &format!("/tickets/{ticket}/comments"),
            json!({"body": "We're looking into it", "public": true}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(refused["detail"].as_str().unwrap_or("").contains("legal"));
    let (s, _) = app
        .post(
            &rita,
            &format!("/tickets/{ticket}/comments"),
            json!({"body": "Patient called again, very upset", "public": false}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);

    let (s, acked) = app
        .post(
            owner,
            &format!("/escalations/{esc_id}/acknowledge"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{acked}");
    assert_eq!(acked["escalation_owner_id"], owner.id.as_str());
    // Once owned, the lock names the owner.
    let (s, refused) = app
        .post(
            &rita,
            &format!("/tickets/{ticket}/comments"),
            json!({"body": "Hello", "public": true}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(
        refused["detail"]
            .as_str()
            .unwrap_or("")
            .contains(&owner.name),
        "{refused}"
    );
    let (s, _) = app
        .post(
            owner,
            &format!("/tickets/{ticket}/comments"),
            json!({"body": "I have your records and will call you today.", "public": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let summary = "Billing error confirmed: crown charge reversed, patient called and accepted.";
    let (s, resolved) = app
        .post(
            owner,
            &format!("/escalations/{esc_id}/resolve"),
            json!({"summary": summary, "root_cause": "Wrong procedure code"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{resolved}");
    assert_eq!(resolved["escalation"]["state"], "resolved");

    let (_, watching) = app.get(&rita, "/queues/watching").await;
    assert_eq!(watching["items"][0]["status"], "resolved");
    // Resolved, the escalation is no longer the ticket's active one.
    assert!(
        watching["items"][0]["active_escalation_id"].is_null(),
        "{watching}"
    );
    let (_, events) = app.get(&rita, &format!("/tickets/{ticket}/events")).await;
    assert_eq!(
        kinds(&events),
        [
            "ticket_created",
            "escalated",
            "note_added",
            "acknowledged",
            "replied",
            "resolved"
        ]
    );
    assert_eq!(events[1]["payload"]["note"], note);
    assert_eq!(events[1]["actor_id"], rita.id.as_str());
    assert_eq!(events[5]["payload"]["resolution"]["summary"], summary);
    // The escalator hears how it ended; the customer is asked to verify.
    let (_, notes) = app
        .get(owner, &format!("/tickets/{ticket}/notifications"))
        .await;
    let notes = notes.as_array().expect("outbox");
    assert!(notes
        .iter()
        .any(|m| m["kind"] == "escalation_resolved" && told(m).contains(&rita.id.as_str())));
    assert!(notes
        .iter()
        .any(|m| m["kind"] == "customer_acknowledgement" && m["audience"] == "customer"));
    assert!(notes
        .iter()
        .any(|m| m["kind"] == "resolution_verification_request"));
    let (s, v) = app
        .post(
            &rita,
            &format!("/escalations/{esc_id}/verification"),
            json!({"customer_verification": "verified"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["resolution"]["customer_verification"], "verified");
}

async fn technician_escalates_charge_dispute_to_account_team(b: Backend) {
    let app = TestApp::spawn(b).await;
    let co = app.org("FieldFix").await;
    let tech = co.user(&app, "Terry Tech", "agent").await;
    let _dispatch = co.user(&app, "Dana Dispatch", "admin").await;
    let acct1 = co.user(&app, "Alex Account", "specialist").await;
    let acct2 = co.user(&app, "Bea Account", "specialist").await;
    let account_team = co.team(&app, "Account team", &[&acct1, &acct2]).await;
    let client = co.customer(&app, "Harbor Cafe").await;
    let ticket = TicketBuilder::new(&client)
        .about("Disputed charge")
        .saying("Why was I charged $450?")
        .open(&app, &tech)
        .await;
    let note = "Issue: customer disputing $450 charge. Tried: explained policy, offered payment plan. Why: demands manager, threatening BBB.";
    let (s, esc) = app
        .post(&tech, &format!("/tickets/{ticket}/escalate"), json!({
            "target": {"kind": "team", "id": account_team}, "category": "billing", "note": note,
            "tried": "Explained policy, offered payment plan", "contact_method": "call", "urgency": "standard",
            "triggers": ["billing_dispute", "manager_request", "regulator"]}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{esc}");
    assert_eq!(esc["contact_method"], "call");
    let esc_id = esc["id"].as_str().expect("id").to_owned();
    for member in [&acct1, &acct2] {
        let (_, q) = app.get(member, "/queues/escalations").await;
        assert_eq!(ids(&q, "id"), [esc_id.clone()]);
    }
    let (_, notes) = app
        .get(&co.owner, &format!("/tickets/{ticket}/notifications"))
        .await;
    // One notification, to both of the team's members.
    let requested: Vec<_> = notes
        .as_array()
        .expect("outbox")
        .iter()
        .filter(|m| m["kind"] == "escalation_requested")
        .collect();
    assert_eq!(requested.len(), 1, "{notes}");
    let mut recipients = told(requested[0]);
    recipients.sort();
    let mut team = vec![acct1.id.as_str(), acct2.id.as_str()];
    team.sort();
    assert_eq!(recipients, team);

    let (s, _) = app
        .post(
            &acct1,
            &format!("/escalations/{esc_id}/acknowledge"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, conflict) = app
        .post(
            &acct2,
            &format!("/escalations/{esc_id}/acknowledge"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(conflict["detail"]
        .as_str()
        .unwrap_or("")
        .contains("Alex Account"));

    // Not warranted after all: back to the technician as open.
    let (s, de) = app
        .post(
            &acct1,
            &format!("/escalations/{esc_id}/de-escalate"),
            json!({"reason": "Charge is correct; technician can explain the invoice."}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{de}");
    assert_eq!(de["state"], "de_escalated");
    let (_, t) = app.get(&tech, &format!("/tickets/{ticket}")).await;
    assert_eq!(t["status"], "open");
    assert_eq!(t["assignee_id"], tech.id.as_str());
    let (_, mine) = app.get(&tech, "/queues/mine").await;
    assert_eq!(ids(&mine, "id"), [ticket.clone()]);

    // Escalated again, then moved up: team → owner → all admins → platform.
    let (_, esc2) = app.post(&tech, &format!("/tickets/{ticket}/escalate"), json!({"target": {"kind": "team", "id": account_team}, "category": "billing", "note": "Customer called back, still disputing", "contact_method": "call", "urgency": "urgent"})).await;
    let esc2 = esc2["id"].as_str().expect("id").to_owned();
    let (s, up) = app
        .post(
            &acct2,
            &format!("/escalations/{esc2}/re-escalate"),
            json!({"note": "Needs the owner: refund above our authority"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{up}");
    assert_eq!(up["target"]["kind"], "owner");
    assert_eq!(up["rung"], 2);
    let (_, old) = app.get(&tech, &format!("/escalations/{esc2}")).await;
    assert_eq!(old["state"], "superseded");
    let (_, q) = app.get(&co.owner, "/queues/escalations").await;
    assert_eq!(ids(&q, "id"), [up["id"].as_str().expect("id").to_owned()]);
    let up_id = up["id"].as_str().expect("id").to_owned();
    let (s, up2) = app
        .post(
            &co.owner,
            &format!("/escalations/{up_id}/re-escalate"),
            json!({"note": "Owner away next week"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{up2}");
    assert_eq!(up2["target"], json!({"kind": "role", "role": "admin"}));
    let (_, events) = app.get(&tech, &format!("/tickets/{ticket}/events")).await;
    assert_eq!(
        kinds(&events),
        [
            "ticket_created",
            "escalated",
            "acknowledged",
            "de_escalated",
            "escalated",
            "re_escalated",
            "re_escalated"
        ]
    );
}

async fn refusals_change_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Careful Clinic").await;
    let agent = org.user(&app, "Ann Agent", "agent").await;
    let customer = org.customer(&app, "Pat").await;
    let ticket = TicketBuilder::new(&customer).open(&app, &agent).await;
    let escalate = |note: &str| json!({"category": "complaint", "note": note, "contact_method": "email", "urgency": "standard"});

    let before = app.snapshot().await;
    let (s, p) = app
        .post(
            &agent,
            &format!("/tickets/{ticket}/escalate"),
            escalate("   "),
        )
        .await;
    assert_eq!(
        (s, p["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("note"))
    );
    assert_eq!(app.snapshot().await, before);

    let (_, esc) = app
        .post(
            &agent,
            &format!("/tickets/{ticket}/escalate"),
            escalate("Unhappy patient"),
        )
        .await;
    let esc = esc["id"].as_str().expect("id").to_owned();
    let before = app.snapshot().await;
    let (s, _) = app
        .post(
            &agent,
            &format!("/tickets/{ticket}/escalate"),
            escalate("again"),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "already escalated");
    let (s, _) = app
        .post(
            &agent,
            &format!("/escalations/{esc}/acknowledge"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "an agent is not the owner");
    let (s, p) = app
        .post(
            &org.owner,
            &format!("/escalations/{esc}/resolve"),
            json!({"root_cause": "x"}),
        )
        .await;
    assert_eq!(
        (s, p["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("summary"))
    );
    let (s, p) = app
        .post(
            &org.owner,
            &format!("/escalations/{esc}/resolve"),
            json!({"summary": ""}),
        )
        .await;
    assert_eq!(
        (s, p["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("summary"))
    );
    let (s, p) = app
        .post(
            &org.owner,
            &format!("/escalations/{esc}/de-escalate"),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, p["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("reason"))
    );
    let (s, p) = app
        .post(
            &org.owner,
            &format!("/escalations/{esc}/resolve"),
            json!({"summary": "ok", "compensation": {"kind": "refund", "amount": -5}}),
        )
        .await;
    assert_eq!(
        (s, p["field"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("compensation.amount")
        )
    );
    let (s, _) = app
        .patch(
            &agent,
            &format!("/tickets/{ticket}"),
            json!({"status": "closed"}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "status is driven by the escalation"
    );
    assert_eq!(app.snapshot().await, before);

    let (s, _) = app
        .post(
            &org.owner,
            &format!("/escalations/{esc}/resolve"),
            json!({"summary": "Apologised"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let before = app.snapshot().await;
    let (s, _) = app
        .post(
            &org.owner,
            &format!("/escalations/{esc}/acknowledge"),
            json!({}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "a resolved escalation cannot be acknowledged"
    );
    let (s, _) = app
        .post(
            &org.owner,
            &format!("/escalations/{esc}/re-escalate"),
            json!({"note": "more"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(app.snapshot().await, before);
}

async fn two_people_acknowledging_at_once_exactly_one_wins(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Race Clinic").await;
    let admins = [
        org.user(&app, "Ada Admin", "admin").await,
        org.user(&app, "Abe Admin", "admin").await,
    ];
    let agent = org.user(&app, "Ann Agent", "agent").await;
    let customer = org.customer(&app, "Pat").await;
    for round in 0..10 {
        let ticket = TicketBuilder::new(&customer)
            .about(&format!("Round {round}"))
            .open(&app, &agent)
            .await;
        let (_, esc) = app
            .post(&agent, &format!("/tickets/{ticket}/escalate"), json!({"target": {"kind": "role", "role": "admin"}, "category": "complaint", "note": "Help", "contact_method": "call", "urgency": "urgent"}))
            .await;
        let esc = esc["id"].as_str().expect("id").to_owned();
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
        let mut tasks = Vec::new();
        for a in admins.iter().cloned() {
            let (client, base, esc, barrier) = (
                app.client.clone(),
                app.base.clone(),
                esc.clone(),
                barrier.clone(),
            );
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                client
                    .post(format!("{base}/api/v1/escalations/{esc}/acknowledge"))
                    .bearer_auth(&a.token)
                    .send()
                    .await
                    .map(|r| r.status())
            }));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.expect("join").expect("send"));
        }
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CONFLICT],
            "round {round}"
        );
        let acks = app.count(&format!("SELECT COUNT(*) FROM audit_events WHERE kind = 'acknowledged' AND ticket_id = '{ticket}'")).await;
        assert_eq!(acks, 1);
    }
}

async fn compensation_above_the_limit_waits_for_approval(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Refund Co").await;
    let spec = org.user(&app, "Sam Specialist", "specialist").await;
    let admin = org.user(&app, "Ada Admin", "admin").await;
    let agent = org.user(&app, "Ann Agent", "agent").await;
    let team = org.team(&app, "Billing", &[&spec]).await;
    let customer = org.customer(&app, "Harbor Cafe").await;
    let ticket = TicketBuilder::new(&customer).open(&app, &agent).await;
    let (_, esc) = app.post(&agent, &format!("/tickets/{ticket}/escalate"), json!({"target": {"kind": "team", "id": team}, "category": "billing", "note": "Wants $450 back", "contact_method": "call", "urgency": "standard"})).await;
    let esc = esc["id"].as_str().expect("id").to_owned();
    app.post(&spec, &format!("/escalations/{esc}/acknowledge"), json!({}))
        .await;
    // $450 is above a specialist's default $200 limit: it waits for an admin.
    let (s, out) = app.post(&spec, &format!("/escalations/{esc}/resolve"), json!({"summary": "Refund the call-out fee", "compensation": {"kind": "refund", "amount": 45000}})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{out}");
    let approval = out["approval"]["id"].as_str().expect("approval").to_owned();
    assert_eq!(out["approval"]["approver_role"], "admin");
    let (_, e) = app.get(&spec, &format!("/escalations/{esc}")).await;
    assert_eq!(e["state"], "acknowledged", "resolution waits for approval");
    let (s, _) = app
        .post(
            &spec,
            &format!("/escalations/{esc}/resolve"),
            json!({"summary": "again"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = app
        .post(
            &agent,
            &format!("/approvals/{approval}/approve"),
            json!({"reason": "fine"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, a) = app
        .post(
            &admin,
            &format!("/approvals/{approval}/approve"),
            json!({"reason": "Call-out was not needed"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(a["state"], "approved");
    let (_, e) = app.get(&spec, &format!("/escalations/{esc}")).await;
    assert_eq!(e["state"], "resolved");
    assert_eq!(e["resolution"]["compensation"]["amount"], 45000);
    let (_, events) = app.get(&spec, &format!("/tickets/{ticket}/events")).await;
    let k = kinds(&events);
    assert_eq!(
        &k[k.len() - 3..],
        ["approval_requested", "approval_granted", "resolved"]
    );
}

async fn platform_support_see_only_what_was_escalated_to_them(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Platform Clinic").await;
    let other = app.org("Quiet Clinic").await;
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
    let support = app
        .login("platform", "pat@platform.example", "platform-pass")
        .await;
    let customer = org.customer(&app, "Lee").await;
    let private = TicketBuilder::new(&customer)
        .about("Private matter")
        .open(&app, &agent)
        .await;
    let ticket = TicketBuilder::new(&customer)
        .about("Records export broken in dispute")
        .open(&app, &agent)
        .await;
    let (_, esc) = app.post(&agent, &format!("/tickets/{ticket}/escalate"), json!({"target": {"kind": "platform"}, "category": "legal", "note": "Need platform legal review", "contact_method": "email", "urgency": "urgent"})).await;
    assert_eq!(
        esc["priority"], "critical",
        "a legal platform escalation is critical"
    );
    let esc = esc["id"].as_str().expect("id").to_owned();
    let other_customer = other.customer(&app, "Q").await;
    TicketBuilder::new(&other_customer)
        .open(&app, &other.owner)
        .await;

    let (_, q) = app.get(&support, "/queues/escalations").await;
    assert_eq!(ids(&q, "id"), [esc.clone()]);
    let (s, _) = app.get(&support, &format!("/tickets/{private}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, t) = app.get(&support, &format!("/tickets/{ticket}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(t["subject"], "Records export broken in dispute");
    let (s, _) = app
        .post(
            &support,
            &format!("/escalations/{esc}/acknowledge"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .post(
            &support,
            &format!("/tickets/{ticket}/comments"),
            json!({"body": "Export fixed; records attached.", "public": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = app
        .post(
            &support,
            &format!("/escalations/{esc}/resolve"),
            json!({"summary": "Export bug fixed"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, events) = app.get(&agent, &format!("/tickets/{ticket}/events")).await;
    assert!(events
        .as_array()
        .expect("events")
        .iter()
        .any(|e| e["kind"] == "acknowledged" && e["actor_id"] == support.id.as_str()));
    let (ok, out) = {
        let results = ladder_storage::audit::verify(&app.db, None)
            .await
            .expect("verify");
        (
            results
                .iter()
                .all(|r| matches!(r, ladder_storage::audit::Verification::Intact { .. })),
            format!("{results:?}"),
        )
    };
    assert!(ok, "{out}");
}

async fn a_legal_matter_moved_up_to_the_platform_makes_the_ticket_critical(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Harbour Dental").await;
    let agent = org.user(&app, "Ann Agent", "agent").await;
    let admin = org.user(&app, "Ada Admin", "admin").await;
    let customer = org.customer(&app, "Lee").await;
    let ticket = TicketBuilder::new(&customer)
        .about("Letter from a solicitor")
        .open(&app, &agent)
        .await;
    let (s, esc) = app.post(&agent, &format!("/tickets/{ticket}/escalate"), json!({"target": {"kind": "owner"}, "category": "legal", "note": "Solicitor's letter about a crown", "contact_method": "email", "urgency": "standard"})).await;
    assert_eq!(s, StatusCode::CREATED, "{esc}");
    let (_, t) = app.get(&agent, &format!("/tickets/{ticket}")).await;
    assert_ne!(t["priority"], "critical");
    let mut id = esc["id"].as_str().expect("id").to_owned();
    // Owner → all admins → platform support, each move by whoever holds it.
    for who in [&org.owner, &admin] {
        let (s, up) = app
            .post(
                who,
                &format!("/escalations/{id}/re-escalate"),
                json!({"note": "Beyond us"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{up}");
        id = up["id"].as_str().expect("id").to_owned();
    }
    let (_, up) = app.get(&admin, &format!("/escalations/{id}")).await;
    assert_eq!(up["target"], json!({"kind": "platform"}), "{up}");
    assert_eq!(up["priority"], "critical");
    // The ticket's own priority rose with it and is stored: a fresh read shows it.
    let (_, t) = app.get(&agent, &format!("/tickets/{ticket}")).await;
    assert_eq!(t["priority"], "critical", "{t}");
    assert_eq!(t["active_escalation_id"], id.as_str());
}

async fn linked_follow_up_and_reopen_keep_the_history(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("History Clinic").await;
    let agent = org.user(&app, "Ann Agent", "agent").await;
    let customer = org.customer(&app, "Maria").await;
    let old = TicketBuilder::new(&customer)
        .about("Crown dispute")
        .open(&app, &agent)
        .await;
    let (_, e) = app.post(&agent, &format!("/tickets/{old}/escalate"), json!({"category": "billing", "note": "Dispute", "contact_method": "call", "urgency": "standard"})).await;
    let e = e["id"].as_str().expect("id").to_owned();
    app.post(
        &org.owner,
        &format!("/escalations/{e}/resolve"),
        json!({"summary": "Refunded"}),
    )
    .await;
    let new = TicketBuilder::new(&customer)
        .about("About the crown again")
        .open(&app, &agent)
        .await;
    let (s, _) = app
        .post(
            &agent,
            &format!("/tickets/{new}/links"),
            json!({"to_ticket_id": old, "kind": "follow_up_of"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, t) = app.get(&agent, &format!("/tickets/{old}")).await;
    assert_eq!(t["links"][0]["kind"], "follow_up_of");
    let (s, t) = app
        .patch(
            &agent,
            &format!("/tickets/{old}"),
            json!({"status": "open"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(t["status"], "open");
    let (_, events) = app.get(&agent, &format!("/tickets/{old}/events")).await;
    assert_eq!(
        kinds(&events),
        ["ticket_created", "escalated", "resolved", "reopened"]
    );
    // Reopened, it can be escalated again; the old escalation stays in the record.
    let (s, _) = app.post(&agent, &format!("/tickets/{old}/escalate"), json!({"category": "billing", "note": "Back again", "contact_method": "call", "urgency": "urgent"})).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM escalations WHERE ticket_id = '{old}'"
        ))
        .await,
        2
    );
}
