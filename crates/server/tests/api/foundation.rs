//! Storage, tenancy, validation, concurrency and the audit chain.

use jiff::SignedDuration;
use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{assert_chain_intact, kinds, Backend, TestApp, TicketBuilder, START};
use crate::on_both_databases;

on_both_databases!(
    another_tenants_objects_answer_404_and_stay_unchanged,
    bad_input_is_refused_naming_the_field_and_writes_nothing,
    concurrent_ticket_creations_all_succeed_and_chain_verifies,
    tampering_with_the_audit_trail_is_detected,
    tokens_are_checked_expire_on_logout_and_roles_are_enforced,
    every_change_is_an_audit_event_with_before_and_after,
    migrating_again_changes_nothing,
    rebuilding_the_outbox_and_audit_trail_keeps_every_row,
    a_database_migrated_by_a_newer_build_is_refused,
    an_unknown_kind_read_back_is_an_error_naming_the_row,
);

async fn an_unknown_kind_read_back_is_an_error_naming_the_row(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Kind Clinic").await;
    let customer = org.customer(&app, "Kim").await;
    let ticket = TicketBuilder::new(&customer).open(&app, &org.owner).await;
    let pool = app.db.pool();

    let (event,): (String,) =
        sqlx::query_as("SELECT id FROM audit_events WHERE ticket_id = $1 ORDER BY seq LIMIT 1")
            .bind(&ticket)
            .fetch_one(pool)
            .await
            .expect("event");
    sqlx::query("UPDATE audit_events SET kind = 'ticket_exploded' WHERE id = $1")
        .bind(&event)
        .execute(pool)
        .await
        .expect("edit kind");
    let err = ladder_storage::audit::for_ticket(
        &app.db,
        &ladder_core::TenantId(org.tenant_id.clone()),
        &ladder_core::TicketId(ticket.clone()),
    )
    .await
    .expect_err("an unknown audit kind must not read back");
    let msg = err.to_string();
    assert!(
        msg.contains(&event) && msg.contains("ticket_exploded"),
        "{msg}"
    );

    // A timer at the end of time, so that the engine leaves it alone.
    let end = jiff::Timestamp::MAX;
    sqlx::query(
        "INSERT INTO timers (id, tenant_id, ticket_id, escalation_id, kind, due_at, attempts, created_at) \
         VALUES ($1, $2, $1, NULL, 'remind_someone', $3, 0, 0) \
         ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, due_at = excluded.due_at",
    )
    .bind(&ticket)
    .bind(&org.tenant_id)
    .bind(end.as_microsecond())
    .execute(pool)
    .await
    .expect("insert timer");
    let mut conn = pool.acquire().await.expect("conn");
    let claim = ladder_storage::timers::claim_due(&mut conn, app.db.backend(), end, 10)
        .await
        .expect("a claim reads past a row that does not read back");
    assert!(claim.timers.is_empty());
    let [unreadable] = claim.unreadable.as_slice() else {
        panic!("the unknown timer kind is set apart: {claim:?}");
    };
    let msg = unreadable.error.to_string();
    assert!(
        msg.contains(&ticket) && msg.contains("remind_someone"),
        "{msg}"
    );
}

async fn a_database_migrated_by_a_newer_build_is_refused(b: Backend) {
    let app = TestApp::spawn(b).await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (999999, 'from a newer build', TRUE, $1, 0)",
    )
    .bind(vec![0u8; 48])
    .execute(app.db.pool())
    .await
    .expect("record a migration this build does not have");
    let refused = app
        .db
        .migrate()
        .await
        .expect_err("an unknown version is refused");
    assert!(refused.to_string().contains("999999"), "{refused}");
}

async fn migrating_again_changes_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let a = app.org("Clinic A").await;
    let agent = a.user(&app, "Ann Agent", "agent").await;
    let customer = a.customer(&app, "Pat Patient").await;
    TicketBuilder::new(&customer)
        .about("Crown billing")
        .open(&app, &agent)
        .await;
    let before = app.snapshot().await;
    // A second server starting on the same database runs the migrations again.
    app.db.migrate().await.expect("migrate again");
    app.db.migrate().await.expect("and again");
    assert_eq!(app.snapshot().await, before, "data unchanged");
    if b == Backend::Postgres {
        // Every indexed text column but human text compares as bytes, as on SQLite.
        let locale: Vec<(String, String)> = sqlx::query_as(
            "SELECT DISTINCT c.relname::text, a.attname::text FROM pg_index i \
             JOIN pg_class c ON c.oid = i.indrelid \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) \
             WHERE c.relnamespace = current_schema()::regnamespace \
               AND a.atttypid = 'text'::regtype AND a.attcollation <> '\"C\"'::regcollation \
               AND c.relname <> '_sqlx_migrations' ORDER BY 1, 2",
        )
        .fetch_all(app.db.pool())
        .await
        .expect("read the collations");
        let human = [("teams", "name"), ("tenants", "slug"), ("users", "email")];
        let human: Vec<(String, String)> = human
            .iter()
            .map(|(t, c)| (t.to_string(), c.to_string()))
            .collect();
        assert_eq!(locale, human);
    }
}

async fn another_tenants_objects_answer_404_and_stay_unchanged(b: Backend) {
    let app = TestApp::spawn(b).await;
    let a = app.org("Clinic A").await;
    let bo = app.org("Clinic B").await;
    let a_agent = a.user(&app, "Ann Agent", "agent").await;
    let customer = a.customer(&app, "Pat Patient").await;
    let ticket = TicketBuilder::new(&customer)
        .about("Crown billing")
        .open(&app, &a_agent)
        .await;
    let (_, esc) = app
        .post(&a_agent, &format!("/tickets/{ticket}/escalate"), json!({"category": "billing", "note": "Disputed crown", "contact_method": "call", "urgency": "standard"}))
        .await;
    let esc = esc["id"].as_str().expect("escalation").to_owned();
    let intruder = bo.user(&app, "Ivan Intruder", "admin").await;
    let before = app.snapshot().await;

    let not_found = |s: StatusCode, what: &str| {
        assert_eq!(s, StatusCode::NOT_FOUND, "{what} must look missing")
    };
    for path in [
        format!("/tickets/{ticket}"),
        format!("/tickets/{ticket}/events"),
        format!("/tickets/{ticket}/comments"),
        format!("/tickets/{ticket}/notifications"),
        format!("/customers/{customer}"),
        format!("/users/{}", a_agent.id),
        format!("/escalations/{esc}"),
    ] {
        let (s, body) = app.get(&intruder, &path).await;
        not_found(s, &path);
        assert!(!body.to_string().contains("Crown"), "{path} leaked data");
    }
    let writes = [
        (
            "PATCH",
            format!("/tickets/{ticket}"),
            json!({"status": "closed"}),
        ),
        (
            "POST",
            format!("/tickets/{ticket}/comments"),
            json!({"body": "hi", "public": true}),
        ),
        (
            "POST",
            format!("/tickets/{ticket}/escalate"),
            json!({"category": "legal", "note": "x", "contact_method": "call", "urgency": "urgent"}),
        ),
        (
            "POST",
            format!("/tickets/{ticket}/links"),
            json!({"to_ticket_id": ticket, "kind": "related"}),
        ),
        ("POST", format!("/tickets/{ticket}/watchers"), json!({})),
        ("POST", format!("/escalations/{esc}/acknowledge"), json!({})),
        (
            "POST",
            format!("/escalations/{esc}/resolve"),
            json!({"summary": "done"}),
        ),
        (
            "POST",
            format!("/escalations/{esc}/de-escalate"),
            json!({"reason": "no"}),
        ),
        (
            "POST",
            format!("/escalations/{esc}/re-escalate"),
            json!({"note": "up"}),
        ),
        (
            "PUT",
            format!("/users/{}/availability", a_agent.id),
            json!({"away_until": null}),
        ),
    ];
    for (m, path, body) in writes {
        let (s, _) = app.call(m, Some(&intruder), &path, Some(body)).await;
        not_found(s, &path);
    }
    // Creating a ticket for another tenant's customer: the customer does not exist here.
    let (s, body) = app
        .post(
            &intruder,
            "/tickets",
            json!({"subject": "x", "description": "y", "customer_id": customer, "channel": "web"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "customer_id");
    // Lists never show the other tenant's rows.
    for path in [
        "/customers",
        "/users",
        "/teams",
        "/queues/mine",
        "/queues/watching",
        "/queues/escalations",
    ] {
        let (s, body) = app.get(&intruder, path).await;
        assert_eq!(s, StatusCode::OK);
        let text = body.to_string();
        assert!(
            !text.contains(&customer) && !text.contains(&ticket) && !text.contains(&a_agent.id),
            "{path} leaked"
        );
    }
    assert_eq!(
        app.snapshot().await,
        before,
        "a refused request changed the database"
    );
    // Below the queries, PostgreSQL's schema refuses an escalation filed under another
    // organisation than its ticket's: one foreign key covers the pair. (SQLite keeps a key
    // per column; there the queries' scoping is the guard.)
    if b == Backend::Postgres {
        let moved = sqlx::query("UPDATE escalations SET tenant_id = $1 WHERE id = $2")
            .bind(&bo.tenant_id)
            .bind(&esc)
            .execute(app.db.pool())
            .await;
        let refused = moved.expect_err("an escalation moved to another organisation");
        assert!(
            refused.to_string().contains("escalations_ticket_in_tenant"),
            "{refused}"
        );
    }
}

async fn bad_input_is_refused_naming_the_field_and_writes_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Clinic").await;
    let agent = org.user(&app, "Rita Reception", "agent").await;
    let customer = org.customer(&app, "Maria Lopez").await;
    let ticket = TicketBuilder::new(&customer).open(&app, &agent).await;
    let before = app.snapshot().await;

    let long = "x".repeat(201);
    let cases: Vec<(&str, String, serde_json::Value, StatusCode, &str)> = vec![
        (
            "POST",
            "/tickets".into(),
            json!({"subject": "", "description": "d", "customer_id": customer, "channel": "web"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "subject",
        ),
        (
            "POST",
            "/tickets".into(),
            json!({"subject": long, "description": "d", "customer_id": customer, "channel": "web"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "subject",
        ),
        (
            "POST",
            "/tickets".into(),
            json!({"subject": "s", "customer_id": customer, "channel": "web"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "description",
        ),
        (
            "POST",
            "/tickets".into(),
            json!({"subject": 5, "description": "d", "customer_id": customer, "channel": "web"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "subject",
        ),
        (
            "POST",
            "/tickets".into(),
            json!({"subject": "s", "description": "d", "customer_id": customer, "channel": "pigeon"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "channel",
        ),
        (
            "POST",
            "/tickets".into(),
            json!({"subject": "s", "description": "d", "customer_id": customer, "channel": "web", "priority": "meh"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "priority",
        ),
        (
            "POST",
            "/tickets".into(),
            json!({"subject": "s", "description": "d", "customer_id": "missing", "channel": "web"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "customer_id",
        ),
        (
            "POST",
            "/tickets".into(),
            json!({"subject": "s", "description": "d", "customer_id": customer, "channel": "web", "assignee_id": "ghost"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "assignee_id",
        ),
        (
            "PATCH",
            format!("/tickets/{ticket}"),
            json!({"status": "done"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "status",
        ),
        (
            "PATCH",
            format!("/tickets/{ticket}"),
            json!({"team_id": "nope"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "team_id",
        ),
        (
            "POST",
            format!("/tickets/{ticket}/comments"),
            json!({"body": "  ", "public": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "body",
        ),
        (
            "POST",
            format!("/tickets/{ticket}/comments"),
            json!({"body": "hi", "public": "yes"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "public",
        ),
        (
            "POST",
            format!("/tickets/{ticket}/escalate"),
            json!({"category": "legal", "note": "", "contact_method": "call", "urgency": "urgent"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "note",
        ),
        (
            "POST",
            format!("/tickets/{ticket}/escalate"),
            json!({"category": "gossip", "note": "n", "contact_method": "call", "urgency": "urgent"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "category",
        ),
        (
            "POST",
            format!("/tickets/{ticket}/escalate"),
            json!({"target": {"kind": "wizard"}, "category": "legal", "note": "n", "contact_method": "call", "urgency": "urgent"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "target.kind",
        ),
        (
            "POST",
            format!("/tickets/{ticket}/escalate"),
            json!({"target": {"kind": "user", "id": "ghost"}, "category": "legal", "note": "n", "contact_method": "call", "urgency": "urgent"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "target.id",
        ),
        (
            "POST",
            format!("/tickets/{ticket}/escalate"),
            json!({"category": "legal", "note": "n", "contact_method": "pigeon", "urgency": "urgent"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "contact_method",
        ),
        (
            "POST",
            "/customers".into(),
            json!({"name": "N", "email": "not-an-email"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "email",
        ),
        (
            "POST",
            "/customers".into(),
            json!({"name": "N", "tier": "platinum"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "tier",
        ),
        (
            "POST",
            "/users".into(),
            json!({"email": "x@y.example", "name": "X", "role": "emperor", "password": "long-enough"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "role",
        ),
        (
            "POST",
            "/teams".into(),
            json!({"name": "T", "members": ["ghost"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "members[0]",
        ),
        (
            "GET",
            "/queues/mine?limit=0".into(),
            json!(null),
            StatusCode::UNPROCESSABLE_ENTITY,
            "limit",
        ),
        (
            "GET",
            "/queues/escalations?category=gossip".into(),
            json!(null),
            StatusCode::UNPROCESSABLE_ENTITY,
            "category",
        ),
        (
            "GET",
            "/queues/mine?cursor=garbage".into(),
            json!(null),
            StatusCode::UNPROCESSABLE_ENTITY,
            "cursor",
        ),
    ];
    for (method, path, body, status, field) in cases {
        let who = if path.starts_with("/users") || path.starts_with("/teams") {
            &org.owner
        } else {
            &agent
        };
        let body = if body.is_null() { None } else { Some(body) };
        let (s, problem) = app.call(method, Some(who), &path, body.clone()).await;
        assert_eq!(s, status, "{method} {path} {body:?}: {problem}");
        assert_eq!(
            problem["field"], field,
            "{method} {path} {body:?}: {problem}"
        );
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    // `escalated` is a state the ticket is in, not a way to escalate it: setting it on a
    // ticket that is not escalated conflicts with the ticket's state.
    let (s, problem) = app
        .patch(
            &agent,
            &format!("/tickets/{ticket}"),
            json!({"status": "escalated"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{problem}");
    // Malformed JSON and the wrong content type.
    let res = app
        .client
        .post(format!("{}/api/v1/tickets", app.base))
        .bearer_auth(&agent.token)
        .header("content-type", "application/json")
        .body("{\"subject\": ")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let res = app
        .client
        .post(format!("{}/api/v1/tickets", app.base))
        .bearer_auth(&agent.token)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Oversized bodies.
    let huge = json!({"subject": "s", "description": "x".repeat(300_000), "customer_id": customer, "channel": "web"});
    let (s, _) = app.post(&agent, "/tickets", huge).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    // Unknown ids in paths.
    let (s, _) = app.get(&agent, "/tickets/does-not-exist").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        app.snapshot().await,
        before,
        "a refused request changed the database"
    );
}

async fn concurrent_ticket_creations_all_succeed_and_chain_verifies(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Busy Clinic").await;
    let agent = org.user(&app, "Fast Fingers", "agent").await;
    let customer = org.customer(&app, "Crowd").await;
    let before_events = app.count("SELECT COUNT(*) FROM audit_events").await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let app_base = app.base.clone();
        let client = app.client.clone();
        let token = agent.token.clone();
        let customer = customer.clone();
        tasks.push(tokio::spawn(async move {
            client
                .post(format!("{app_base}/api/v1/tickets"))
                .bearer_auth(token)
                .json(&json!({"subject": format!("Ticket {i}"), "description": "Same time", "customer_id": customer, "channel": "web"}))
                .send()
                .await
                .map(|r| r.status())
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("join").expect("send"), StatusCode::CREATED);
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM tickets").await, 200);
    let created = app
        .count("SELECT COUNT(*) FROM audit_events WHERE kind = 'ticket_created'")
        .await;
    assert_eq!(created, 200);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events").await,
        before_events + 200
    );
    assert_chain_intact(&app, &org).await;
}

/// Runs `ladder audit verify` as a user would.
fn audit_verify(app: &TestApp) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(["audit", "verify"])
        .env("LADDER_DATABASE_URL", &app.url)
        .output()
        .expect("run ladder");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

async fn tampering_with_the_audit_trail_is_detected(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Tamper Clinic").await;
    let customer = org.customer(&app, "Evidence").await;
    for i in 0..4 {
        TicketBuilder::new(&customer)
            .about(&format!("Case {i}"))
            .open(&app, &org.owner)
            .await;
    }
    let (ok, out) = audit_verify(&app);
    assert!(ok, "{out}");
    let ids: Vec<(String, i64)> =
        sqlx::query_as("SELECT id, seq FROM audit_events WHERE tenant_id = $1 ORDER BY seq")
            .bind(&org.tenant_id)
            .fetch_all(app.db.pool())
            .await
            .expect("ids");
    let pool = app.db.pool();

    // Edit one payload.
    let (victim, _) = &ids[3];
    let original: (String,) = sqlx::query_as("SELECT payload FROM audit_events WHERE id = $1")
        .bind(victim)
        .fetch_one(pool)
        .await
        .expect("payload");
    sqlx::query("UPDATE audit_events SET payload = $1 WHERE id = $2")
        .bind(original.0.replace("Case", "Kase"))
        .bind(victim)
        .execute(pool)
        .await
        .expect("edit");
    let (ok, out) = audit_verify(&app);
    assert!(!ok && out.contains(victim), "edit not detected: {out}");
    sqlx::query("UPDATE audit_events SET payload = $1 WHERE id = $2")
        .bind(&original.0)
        .bind(victim)
        .execute(pool)
        .await
        .expect("restore");
    assert!(audit_verify(&app).0);

    // Swap two events' places in the chain.
    let (x, xs) = &ids[2];
    let (y, ys) = &ids[4];
    sqlx::query("UPDATE audit_events SET seq = -1 WHERE id = $1")
        .bind(x)
        .execute(pool)
        .await
        .expect("swap");
    sqlx::query("UPDATE audit_events SET seq = $1 WHERE id = $2")
        .bind(xs)
        .bind(y)
        .execute(pool)
        .await
        .expect("swap");
    sqlx::query("UPDATE audit_events SET seq = $1 WHERE id = $2")
        .bind(ys)
        .bind(x)
        .execute(pool)
        .await
        .expect("swap");
    let (ok, out) = audit_verify(&app);
    assert!(!ok && out.contains(y), "swap not detected: {out}");
    sqlx::query("UPDATE audit_events SET seq = -1 WHERE id = $1")
        .bind(x)
        .execute(pool)
        .await
        .expect("unswap");
    sqlx::query("UPDATE audit_events SET seq = $1 WHERE id = $2")
        .bind(ys)
        .bind(y)
        .execute(pool)
        .await
        .expect("unswap");
    sqlx::query("UPDATE audit_events SET seq = $1 WHERE id = $2")
        .bind(xs)
        .bind(x)
        .execute(pool)
        .await
        .expect("unswap");
    assert!(audit_verify(&app).0);

    // Delete one event: the next one is named.
    let (gone, _) = &ids[1];
    let (next, _) = &ids[2];
    sqlx::query("DELETE FROM audit_events WHERE id = $1")
        .bind(gone)
        .execute(pool)
        .await
        .expect("delete");
    let (ok, out) = audit_verify(&app);
    assert!(!ok && out.contains(next), "deletion not detected: {out}");
}

async fn tokens_are_checked_expire_on_logout_and_roles_are_enforced(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Auth Clinic").await;
    let (s, _) = app.call("GET", None, "/queues/mine", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = app.call("POST", None, "/auth/login", Some(json!({"tenant": org.slug, "email": "owner@auth-clinic.example", "password": "wrong"}))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let agent = org.user(&app, "Ada Agent", "agent").await;
    let (s, _) = app.post(&agent, "/users", json!({"email": "z@z.example", "name": "Z", "role": "agent", "password": "password-123"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let auditor = org.user(&app, "Audrey Auditor", "auditor").await;
    let customer = org.customer(&app, "C").await;
    let (s, _) = app
        .post(
            &auditor,
            "/tickets",
            json!({"subject": "s", "description": "d", "customer_id": customer, "channel": "web"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app.call("POST", Some(&agent), "/auth/logout", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.get(&agent, "/queues/mine").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let stored: i64 = app
        .count(&format!(
            "SELECT COUNT(*) FROM sessions WHERE token_hash = '{}'",
            agent.token
        ))
        .await;
    assert_eq!(stored, 0, "tokens must be stored hashed");

    // A session lasts its time to the microsecond, read from the server's clock: the owner
    // signed in at the start.
    app.clock
        .set(START + ladder_server::auth::SESSION_TTL - SignedDuration::from_micros(1));
    let (s, _) = app.get(&org.owner, "/queues/mine").await;
    assert_eq!(s, StatusCode::OK);
    app.clock.advance(SignedDuration::from_micros(1));
    let (s, problem) = app.get(&org.owner, "/queues/mine").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{problem}");
}

async fn every_change_is_an_audit_event_with_before_and_after(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Audit Clinic").await;
    let agent = org.user(&app, "Al Agent", "agent").await;
    let customer = org.customer(&app, "Cy Customer").await;
    let ticket = TicketBuilder::new(&customer).open(&app, &agent).await;
    let (s, _) = app
        .patch(
            &agent,
            &format!("/tickets/{ticket}"),
            json!({"status": "pending", "priority": "high"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .patch(
            &agent,
            &format!("/tickets/{ticket}"),
            json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .patch(
            &agent,
            &format!("/tickets/{ticket}"),
            json!({"status": "open"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, events) = app.get(&agent, &format!("/tickets/{ticket}/events")).await;
    assert_eq!(
        kinds(&events),
        [
            "ticket_created",
            "ticket_updated",
            "ticket_updated",
            "reopened"
        ]
    );
    let update = &events[1]["payload"];
    assert_eq!(update["before"]["status"], "new");
    assert_eq!(update["after"]["status"], "pending");
    assert_eq!(update["after"]["priority"], "high");
    assert_eq!(events[1]["actor_id"], agent.id.as_str());
    let seqs: Vec<i64> = events
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["seq"].as_i64().expect("seq"))
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
}

/// The one text column each row of a query gives.
async fn texts(app: &TestApp, sql: &str) -> Vec<String> {
    let rows: Vec<(String,)> = sqlx::query_as(sql)
        .fetch_all(app.db.pool())
        .await
        .expect("read the rows");
    rows.into_iter().map(|(r,)| r).collect()
}

/// Every row of the outbox and the audit trail, every column, in key order.
async fn outbox_and_audit_rows(app: &TestApp) -> (Vec<String>, Vec<String>) {
    let outbox = texts(
        app,
        "SELECT idempotency_key || '|' || id || '|' || tenant_id || '|' || COALESCE(ticket_id, '') \
         || '|' || recipient_user_ids || '|' || COALESCE(recipient_email, '') || '|' || audience \
         || '|' || kind || '|' || payload || '|' || CAST(created_at AS TEXT) || '|' \
         || CAST(attempts AS TEXT) || '|' || CAST(next_attempt_at AS TEXT) || '|' \
         || COALESCE(CAST(delivered_at AS TEXT), '') || '|' || COALESCE(last_error, '') \
         FROM outbox ORDER BY idempotency_key",
    )
    .await;
    let audit = texts(
        app,
        "SELECT tenant_id || '|' || CAST(seq AS TEXT) || '|' || id || '|' || COALESCE(ticket_id, '') \
         || '|' || COALESCE(actor_id, '') || '|' || kind || '|' || payload || '|' \
         || CAST(occurred_at AS TEXT) || '|' || prev_hash || '|' || hash \
         FROM audit_events ORDER BY tenant_id, seq",
    )
    .await;
    (outbox, audit)
}

/// Migration 8 rebuilds the outbox and the audit trail with new keys; run again over a
/// database with escalations, notifications and a chain, it must carry every row across
/// unchanged, and the chain must still verify.
async fn rebuilding_the_outbox_and_audit_trail_keeps_every_row(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Clinic A").await;
    let agent = org.user(&app, "Ann Agent", "agent").await;
    let customer = org.customer(&app, "Pat Patient").await;
    let ticket = TicketBuilder::new(&customer)
        .about("Crown billing")
        .open(&app, &agent)
        .await;
    let (s, e) = app
        .post(
            &agent,
            &format!("/tickets/{ticket}/escalate"),
            json!({"category": "complaint", "note": "Charged twice for one crown.",
                   "contact_method": "call", "urgency": "standard"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    let (_, notes_before) = app
        .get(&org.owner, &format!("/tickets/{ticket}/notifications"))
        .await;
    let before = outbox_and_audit_rows(&app).await;
    assert!(!before.0.is_empty() && before.1.len() >= 2, "{before:?}");

    sqlx::raw_sql(include_str!(
        "../../../storage/migrations/0008_outbox_and_audit_keyed_by_what_they_are.sql"
    ))
    .execute(app.db.pool())
    .await
    .expect("rebuild the tables");
    if b == Backend::Postgres {
        sqlx::raw_sql(include_str!(
            "../../../storage/migrations-postgres/100003_rebuilt_tables_compare_as_bytes.sql"
        ))
        .execute(app.db.pool())
        .await
        .expect("and their collations");
        // Their ids and keys compare as bytes again, as every other table's do.
        let by_locale: Vec<(String, String)> = sqlx::query_as(
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name IN ('outbox', 'audit_events') \
               AND data_type = 'text' AND collation_name IS DISTINCT FROM 'C' \
               AND (column_name IN ('id', 'kind') OR column_name LIKE '%\\_id' \
                    OR column_name LIKE '%\\_key') ORDER BY 1, 2",
        )
        .fetch_all(app.db.pool())
        .await
        .expect("read the collations");
        assert_eq!(by_locale, Vec::<(String, String)>::new());
    }

    assert_eq!(outbox_and_audit_rows(&app).await, before);
    let (_, notes_after) = app
        .get(&org.owner, &format!("/tickets/{ticket}/notifications"))
        .await;
    assert_eq!(notes_after, notes_before);
    assert_chain_intact(&app, &org).await;
}
