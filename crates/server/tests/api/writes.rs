//! Writes sharing a commit (SQLite's group commit; on PostgreSQL each write is a transaction
//! of its own on the pool, and the same guarantees hold): a write that fails among others
//! changes nothing and fails nobody else, and a server killed while concurrent writes are
//! being committed loses none that it acknowledged.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use ladder_core::{AuditKind, CustomerTier, TenantId};
use ladder_storage::audit::NewEvent;
use ladder_storage::directory::{self, NewCustomer};
use ladder_storage::Db;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Row;

use crate::harness::{assert_chain_intact, eventually, fresh_database, Backend, TestApp};
use crate::notify::free_port;
use crate::on_both_databases;

on_both_databases!(
    a_failed_write_in_a_shared_commit_changes_nothing_and_fails_no_neighbour,
    a_write_appends_its_audit_events_at_commit_in_order_and_none_when_rolled_back,
    a_server_killed_during_concurrent_writes_loses_no_acknowledged_one,
    warming_the_write_connections_at_start_keeps_nothing,
    a_new_tickets_look_for_runs_it_returns_is_two_ranges_of_their_index,
);

/// `ladder serve` warms SQLite's writer connection with a ticket, a reply and an escalation
/// of a throwaway organisation, rolled back: it succeeds, and not a row of it is left.
async fn warming_the_write_connections_at_start_keeps_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Already Here").await;
    let pat = org.customer(&app, "Pat Parcel").await;
    let rows = |app: &TestApp| {
        let db = app.db.clone();
        async move {
            let mut out = Vec::new();
            for t in [
                "tenants",
                "escalation_runs",
                "timers",
                "audit_heads",
                "ticket_search",
                "incidents",
            ] {
                let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {t}"))
                    .fetch_one(db.pool())
                    .await
                    .expect("count");
                out.push(n);
            }
            let (h,): (i64,) = sqlx::query_as(
                "SELECT CAST(COALESCE(SUM(tickets), 0) AS BIGINT) FROM ticket_hours",
            )
            .fetch_one(db.pool())
            .await
            .expect("hours");
            out.push(h);
            out
        }
    };
    let before = (app.snapshot().await, rows(&app).await);
    ladder_server::flows::warm::warm_up(&app.db, app.now())
        .await
        .expect("warm up");
    assert_eq!((app.snapshot().await, rows(&app).await), before);
    assert_chain_intact(&app, &org).await;
    // And the server writes as before.
    let (s, t) = app.post(&org.owner, "/tickets", new_ticket(&pat, 1)).await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
}

fn new_ticket(customer: &str, n: usize) -> serde_json::Value {
    json!({"subject": format!("Order {n} never arrived"),
           "description": "The parcel was due last week.",
           "customer_id": customer, "channel": "email"})
}

async fn a_failed_write_in_a_shared_commit_changes_nothing_and_fails_no_neighbour(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Shared Commit").await;
    let pat = org.customer(&app, "Pat Parcel").await;
    let tenant = TenantId(org.tenant_id.clone());
    let before = app.snapshot().await;
    let mut commits = app.db.commits();
    let commits_before = *commits.borrow_and_update();

    // A write holds the gate (on SQLite; on PostgreSQL it holds nothing) while the others
    // arrive: three good tickets, one for a customer that does not exist (refused inside its
    // transaction), and a write that adds a customer and then fails.
    let mut holder = app.db.write().await.expect("begin the first write");
    let kept = directory::insert_customer(
        holder.conn(),
        &tenant,
        NewCustomer {
            name: "Kept Customer",
            email: None,
            phone: None,
            tier: CustomerTier::Standard,
        },
        app.now(),
    )
    .await
    .expect("the first write's customer");
    let mut requests = Vec::new();
    for n in 0..3 {
        let (base, token, body) = (
            app.base.clone(),
            org.owner.token.clone(),
            new_ticket(&pat, n),
        );
        requests.push(tokio::spawn(async move {
            let res = reqwest::Client::new()
                .post(format!("{base}/api/v1/tickets"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("create");
            (
                res.status(),
                res.json::<serde_json::Value>().await.expect("JSON"),
            )
        }));
    }
    let refused = {
        let (base, token, body) = (
            app.base.clone(),
            org.owner.token.clone(),
            new_ticket("no-such-customer", 9),
        );
        tokio::spawn(async move {
            let res = reqwest::Client::new()
                .post(format!("{base}/api/v1/tickets"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("create");
            (
                res.status(),
                res.json::<serde_json::Value>().await.expect("JSON"),
            )
        })
    };
    let doomed = {
        let (db, tenant, now) = (app.db.clone(), tenant.clone(), app.now());
        tokio::spawn(async move {
            let mut tx = db.write().await.expect("begin the doomed write");
            directory::insert_customer(
                tx.conn(),
                &tenant,
                NewCustomer {
                    name: "Doomed Customer",
                    email: None,
                    phone: None,
                    tier: CustomerTier::Standard,
                },
                now,
            )
            .await
            .expect("the doomed write's customer");
            // Fails after writing: the transaction is dropped without a commit.
            drop(tx);
        })
    };
    if b == Backend::Sqlite {
        // Everyone is queued behind the first write, so they all join its transaction.
        let db = app.db.clone();
        eventually("five writes queue at the gate", || {
            let db = db.clone();
            async move { db.writers_waiting() == 5 }
        })
        .await;
    }
    holder.commit().await.expect("the first write commits");

    let mut created = Vec::new();
    for r in requests {
        let (status, body) = r.await.expect("a request");
        assert_eq!(status, StatusCode::CREATED, "{body}");
        created.push(body["id"].as_str().expect("an id").to_owned());
    }
    let (status, problem) = refused.await.expect("the refused request");
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["field"], "customer_id", "{problem}");
    doomed.await.expect("the doomed write");

    // What committed is exactly the good writes: three tickets, the first write's customer,
    // not the doomed one's; the audit chain runs through all of it.
    for id in &created {
        let (status, t) = app.get(&org.owner, &format!("/tickets/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{t}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM tickets").await, 3);
    let names: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM customers WHERE tenant_id = $1 AND name LIKE '% Customer' ORDER BY name",
    )
    .bind(&org.tenant_id)
    .fetch_all(app.db.pool())
    .await
    .expect("customers");
    assert_eq!(names, [("Kept Customer".to_owned(),)], "{kept:?}");
    assert_chain_intact(&app, &org).await;
    let after = app.snapshot().await;
    assert_ne!(before, after);
    if b == Backend::Sqlite {
        // Six writes, one commit (the failed ones add none).
        assert_eq!(*commits.borrow_and_update() - commits_before, 1);
    }
}

/// A write's audit events wait in it and join the organisation's chain at its commit, in the
/// order recorded: nothing holds the chain's head meanwhile (on PostgreSQL, every write of
/// the organisation would queue on that lock), and a write rolled back leaves no event.
async fn a_write_appends_its_audit_events_at_commit_in_order_and_none_when_rolled_back(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Chained Late").await;
    let tenant = TenantId(org.tenant_id.clone());
    let events = |app: &TestApp| {
        let (db, tenant) = (app.db.clone(), tenant.clone());
        async move {
            let rows: Vec<(i64, String, String)> = sqlx::query_as(
                "SELECT seq, kind, payload FROM audit_events WHERE tenant_id = $1 ORDER BY seq",
            )
            .bind(tenant.as_str())
            .fetch_all(db.pool())
            .await
            .expect("events");
            rows
        }
    };
    let record = |tx: &mut ladder_storage::WriteTx, step: &str| {
        tx.record(
            NewEvent {
                tenant_id: &tenant,
                ticket_id: None,
                actor_id: None,
                kind: AuditKind::CustomerCreated,
                payload: json!({"step": step}),
            },
            app.now(),
        )
    };
    let before = events(&app).await;

    let mut tx = app.db.write().await.expect("begin");
    record(&mut tx, "first");
    record(&mut tx, "second");
    if b == Backend::Postgres {
        // Another transaction can lock the head at once: the write has not taken it.
        let mut other = app.db.pool().begin().await.expect("begin another");
        sqlx::query("SELECT seq FROM audit_heads WHERE tenant_id = $1 FOR UPDATE NOWAIT")
            .bind(tenant.as_str())
            .execute(&mut *other)
            .await
            .expect("the chain's head is free while the write runs");
        other.rollback().await.expect("roll back the other");
    }
    tx.rollback().await.expect("roll back");
    assert_eq!(events(&app).await, before);

    let mut tx = app.db.write().await.expect("begin again");
    let first = record(&mut tx, "first");
    let second = record(&mut tx, "second");
    assert_ne!(first, second);
    tx.commit().await.expect("commit");
    let after = events(&app).await;
    assert_eq!(after.len(), before.len() + 2, "{after:?}");
    let head = before.last().map_or(0, |e| e.0);
    let added: Vec<(i64, &str, serde_json::Value)> = after[before.len()..]
        .iter()
        .map(|(seq, kind, payload)| {
            let payload = serde_json::from_str(payload).expect("a JSON payload");
            (*seq, kind.as_str(), payload)
        })
        .collect();
    assert_eq!(
        added,
        [
            (head + 1, "customer_created", json!({"step": "first"})),
            (head + 2, "customer_created", json!({"step": "second"})),
        ]
    );
    assert_chain_intact(&app, &org).await;
}

/// A `ladder serve` child process, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn serve(url: &str, extra: &[&str]) -> (Server, String) {
    let base = format!("http://127.0.0.1:{}", free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(["serve", "--database-url", url])
        .args(["--listen", base.trim_start_matches("http://")])
        .args(extra)
        .env("LADDER_LOG", "error")
        .stdout(Stdio::null())
        .spawn()
        .expect("start ladder serve");
    let server = Server(child);
    let health = format!("{base}/healthz");
    eventually("the server answers", || {
        let health = health.clone();
        async move { matches!(reqwest::get(&health).await, Ok(r) if r.status() == StatusCode::OK) }
    })
    .await;
    (server, base)
}

/// A migrated database at `url` holding an organisation (its owner signs in with
/// `owner@killed.example` / `owner-password`) and one customer of it.
async fn organisation_with_a_customer(url: &str) -> (Db, directory::Tenant, directory::Customer) {
    let db = Db::connect(url).await.expect("connect");
    db.migrate().await.expect("migrate");
    let (tenant, _) = ladder_server::provision::create_tenant(
        &db,
        "Killed Mid Commit",
        None,
        "owner@killed.example",
        "Olive Owner",
        "owner-password",
        jiff::Timestamp::now(),
    )
    .await
    .expect("create tenant");
    let mut tx = db.write().await.expect("begin");
    let customer = directory::insert_customer(
        tx.conn(),
        &tenant.id,
        NewCustomer {
            name: "Pat Parcel",
            email: None,
            phone: None,
            tier: CustomerTier::Standard,
        },
        jiff::Timestamp::now(),
    )
    .await
    .expect("customer");
    tx.commit().await.expect("commit");
    (db, tenant, customer)
}

/// The owner's API token on the server at `base`.
async fn sign_in(base: &str, slug: &str) -> String {
    let res = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"tenant": slug, "email": "owner@killed.example",
                      "password": "owner-password"}))
        .send()
        .await
        .expect("login");
    res.json::<serde_json::Value>().await.expect("JSON")["token"]
        .as_str()
        .expect("token")
        .to_owned()
}

async fn a_server_killed_during_concurrent_writes_loses_no_acknowledged_one(b: Backend) {
    const CLIENTS: usize = 8;
    let (url, _scratch) = fresh_database(b).await;
    let (db, tenant, customer) = organisation_with_a_customer(&url).await;
    let (mut victim, base) = serve(&url, &[]).await;
    let client = reqwest::Client::new();
    let token = sign_in(&base, &tenant.slug).await;

    // Clients write until the server is gone, each noting the tickets it was told exist.
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (base, token, customer, acknowledged) = (
            base.clone(),
            token.clone(),
            customer.id.0.clone(),
            acknowledged.clone(),
        );
        clients.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for n in 0.. {
                let sent = client
                    .post(format!("{base}/api/v1/tickets"))
                    .bearer_auth(&token)
                    .json(&new_ticket(&customer, c * 1_000_000 + n))
                    .send()
                    .await;
                let Ok(res) = sent else { return };
                if res.status() != StatusCode::CREATED {
                    return;
                }
                let Ok(body) = res.json::<serde_json::Value>().await else {
                    return;
                };
                let id = body["id"].as_str().expect("an id").to_owned();
                acknowledged.lock().expect("the list").push(id);
            }
        }));
    }
    let seen = acknowledged.clone();
    eventually("forty tickets are acknowledged", || {
        let seen = seen.clone();
        async move { seen.lock().expect("the list").len() >= 40 }
    })
    .await;
    victim.0.kill().expect("SIGKILL the server");
    let _ = victim.0.wait();
    for c in clients {
        c.await.expect("a client");
    }
    let acknowledged = acknowledged.lock().expect("the list").clone();

    // Every acknowledged ticket is there with its audit event, and the chain verifies.
    for id in &acknowledged {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM tickets t JOIN audit_events e \
             ON e.tenant_id = t.tenant_id AND e.ticket_id = t.id AND e.kind = 'ticket_created' \
             WHERE t.id = $1",
        )
        .bind(id)
        .fetch_one(db.pool())
        .await
        .expect("count");
        assert_eq!(n, 1, "acknowledged ticket {id} was lost");
    }
    let results = ladder_storage::audit::verify(&db, Some(&tenant.id.0))
        .await
        .expect("verify");
    assert!(
        matches!(
            results.as_slice(),
            [ladder_storage::audit::Verification::Intact { .. }]
        ),
        "{results:?}"
    );
    // And a new server writes on.
    let (_server, base) = serve(&url, &[]).await;
    let res = client
        .post(format!("{base}/api/v1/tickets"))
        .bearer_auth(&token)
        .json(&new_ticket(&customer.id.0, 0))
        .send()
        .await
        .expect("create after the restart");
    assert_eq!(res.status(), StatusCode::CREATED);
    eprintln!(
        "{} tickets acknowledged before the kill",
        acknowledged.len()
    );
}

/// Each thread of a server process: its name, the CPUs it may run on, and the CPU time it
/// has had (clock ticks, user and system).
#[cfg(target_os = "linux")]
fn threads_of(pid: u32) -> Vec<(String, String, u64)> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).expect("the server's threads") {
        let dir = task.expect("a thread").path();
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).expect("a thread's file");
        let status = read("status");
        let cpus = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .expect("Cpus_allowed_list")
            .trim()
            .to_owned();
        // The fields after the name (which may hold spaces) in parentheses: utime and stime
        // are the 12th and 13th.
        let stat = read("stat");
        let after_name: Vec<&str> = stat
            .rsplit_once(')')
            .expect("stat")
            .1
            .split_whitespace()
            .collect();
        let ticks = after_name[11].parse::<u64>().expect("utime")
            + after_name[12].parse::<u64>().expect("stime");
        out.push((read("comm").trim().to_owned(), cpus, ticks));
    }
    out
}

/// On SQLite, a request that may write runs on the write lane: one thread, kept on one CPU
/// together with the writer connection's thread, so that each statement's hand-off stays on
/// that CPU. Reads run elsewhere, and every other thread keeps every CPU.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn writes_run_on_one_cpu_beside_the_writer_connection_and_reads_do_not() {
    let (url, _scratch) = fresh_database(Backend::Sqlite).await;
    let (_db, tenant, customer) = organisation_with_a_customer(&url).await;
    let (server, base) = serve(&url, &[]).await;
    let pid = server.0.id();
    let token = sign_in(&base, &tenant.slug).await;
    let client = reqwest::Client::new();

    let threads = threads_of(pid);
    let everywhere = threads
        .iter()
        .find(|(name, ..)| name == "ladder")
        .expect("the main thread")
        .1
        .clone();
    let lanes: Vec<_> = threads.iter().filter(|t| t.0 == "ladder-writer").collect();
    assert_eq!(lanes.len(), 1, "{threads:?}");
    let lane_cpus = lanes[0].1.clone();
    assert!(!lane_cpus.contains([',', '-']), "one CPU: {lane_cpus}");
    if everywhere != lane_cpus {
        // The machine has CPUs to choose from: only the lane and the writer's connection
        // thread keep to one.
        let mut kept: Vec<&str> = threads
            .iter()
            .filter(|t| t.1 != everywhere)
            .map(|t| {
                assert_eq!(t.1, lane_cpus, "{threads:?}");
                t.0.as_str()
            })
            .collect();
        kept.sort_unstable();
        assert_eq!(kept, ["ladder-writer", "sqlx-sqlite-wor"], "{threads:?}");
    }
    let lane_ticks = || {
        threads_of(pid)
            .into_iter()
            .find(|t| t.0 == "ladder-writer")
            .expect("the lane")
            .2
    };

    let before = lane_ticks();
    for _ in 0..200 {
        let res = client
            .get(format!("{base}/api/v1/tickets"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("list");
        assert_eq!(res.status(), StatusCode::OK);
    }
    // A tick of slack: the sign-in's connections may still be going back to the pool there.
    assert!(lane_ticks() <= before + 1, "reads ran on the write lane");
    for n in 0..50 {
        let res = client
            .post(format!("{base}/api/v1/tickets"))
            .bearer_auth(&token)
            .json(&new_ticket(&customer.id.0, n))
            .send()
            .await
            .expect("create");
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    assert!(lane_ticks() > before, "the writes ran elsewhere");
}

/// On PostgreSQL a write transaction reuses each statement's plan (see `PG_BEGIN_WRITE`):
/// planned afresh, the escalation rollup alone took 5.5 ms of an escalation's 10 to 15.
/// Reads, outside any write, still let PostgreSQL choose per value.
#[tokio::test]
async fn a_postgres_write_reuses_its_plans_and_reads_choose_theirs() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let setting = "SELECT current_setting('plan_cache_mode')";
    let mut tx = app.db.write().await.expect("write");
    let (inside,): (String,) = sqlx::query_as(setting)
        .fetch_one(tx.conn())
        .await
        .expect("inside a write");
    tx.commit().await.expect("commit");
    assert_eq!(inside, "force_generic_plan");
    let (read,): (String,) = sqlx::query_as(setting)
        .fetch_one(app.db.pool())
        .await
        .expect("a read");
    assert_eq!(read, "auto");
}

/// A new ticket looks for its customer's resolved runs it may be the return of through two
/// ranges of `escalation_runs_resolved_by_return`, with the plan a write uses: on
/// PostgreSQL one made once per connection without the values (`PG_BEGIN_WRITE`). With one
/// customer holding 1,000 resolved runs, and statistics that say so, that plan had read
/// every resolved run of the organisation instead (it guessed a third of them in a range
/// open on one side): 1.1 ms against 0.07 ms for each new ticket.
async fn a_new_tickets_look_for_runs_it_returns_is_two_ranges_of_their_index(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Many Returns").await;
    let pat = org.customer(&app, "Pat Parcel").await;
    let (tenant, customer) = (org.tenant_id.as_str(), pat.as_str());
    // 1,000 runs of the customer, resolved and come back; no tickets are needed for the plan.
    sqlx::query(
        "WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) \
         INSERT INTO escalation_runs (id, tenant_id, ticket_id, opened_at, category, last_id, \
           state, closed_at, compensated, has_clocks, returned_at, customer_id) \
         SELECT 'run-' || CAST(i AS TEXT), $1, 'ticket-' || CAST(i AS TEXT), i * 1000, \
           'technical', 'run-' || CAST(i AS TEXT), 'resolved', i * 1000 + 10, 0, 0, \
           i * 1000 + 500, $2 FROM n",
    )
    .bind(tenant)
    .bind(customer)
    .execute(app.db.pool())
    .await
    .expect("the runs");
    sqlx::query("ANALYZE")
        .execute(app.db.pool())
        .await
        .expect("ANALYZE");

    let mut tx = app.db.write().await.expect("write");
    let sql = ladder_storage::metrics::CUSTOMER_RUNS;
    let plan: Vec<String> = match b {
        Backend::Sqlite => sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))
            .bind(tenant)
            .bind("a-new-ticket")
            .bind(customer)
            .bind(2_000_000_i64)
            .bind(i64::MAX)
            .fetch_all(tx.conn())
            .await
            .expect("EXPLAIN QUERY PLAN")
            .iter()
            .map(|r| r.try_get::<String, _>("detail").expect("detail"))
            .collect(),
        Backend::Postgres => {
            sqlx::query(&format!("PREPARE runs AS {sql}"))
                .execute(tx.conn())
                .await
                .expect("PREPARE");
            let plan = sqlx::query(&format!(
                "EXPLAIN EXECUTE runs('{tenant}', 'a-new-ticket', '{customer}', 2000000, {})",
                i64::MAX
            ))
            .fetch_all(tx.conn())
            .await
            .expect("EXPLAIN")
            .iter()
            .map(|r| r.try_get::<String, _>(0).expect("a line"))
            .collect();
            sqlx::query("DEALLOCATE runs")
                .execute(tx.conn())
                .await
                .expect("DEALLOCATE");
            plan
        }
    };
    tx.rollback().await.expect("rollback");
    let plan = plan.join("\n");
    // Both parts read the customer's runs through the index, the first as a range of returns
    // closed on both sides, and nothing reads the organisation's runs whole.
    let (through_index, first_range, whole) = match b {
        Backend::Sqlite => (
            "SEARCH r USING INDEX escalation_runs_resolved_by_return (tenant_id=? AND customer_id=?",
            "returned_at>? AND returned_at<?",
            "SCAN r",
        ),
        Backend::Postgres => (
            "Index Scan using escalation_runs_resolved_by_return on escalation_runs",
            "(returned_at >= $4) AND (returned_at <= $5)",
            "Seq Scan on escalation_runs",
        ),
    };
    assert_eq!(plan.matches(through_index).count(), 2, "{plan}");
    assert!(plan.contains(first_range), "{plan}");
    assert!(!plan.contains(whole), "{plan}");
}
