//! The escalation metrics benchmark: loads a large organisation (1,000,000 tickets over two
//! years, 100,000 escalation runs with their moves up, responses, resolutions, reopens and
//! links), starts the real server in-process and measures a year's report over HTTP, one
//! request at a time: plain, grouped by week and by owner, and as CSV.
//!
//! ```text
//! cargo bench -p ladder-server --bench reports
//! LADDER_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:PORT/bench cargo bench -p ladder-server --bench reports
//! LADDER_BENCH_TICKETS=100000 LADDER_BENCH_ESCALATIONS=10000 cargo bench -p ladder-server --bench reports
//! ```
//!
//! Without `LADDER_BENCH_DATABASE_URL` a fresh SQLite file under `target/bench-reports/` is
//! used (deleted first); a PostgreSQL URL must name an empty database. Every response must be
//! 200 and count the escalations the loader made in the year, so the benchmark fails loudly
//! when a query breaks. `LADDER_BENCH_REQUESTS` sets the requests per endpoint (default 30).

use std::time::{Duration, Instant};

use jiff::Timestamp;
use ladder_core::sla::SlaClocks;
use ladder_core::Policy;
use ladder_server::sla::Run;
use ladder_storage::{from_micros, new_id, Db};
use serde_json::Value;

#[path = "support/bulk.rs"]
mod bulk;
use bulk::{env_usize, lit, opt_int, opt_lit, thousands, Insert, Loader, Rng};

const PASSWORD: &str = "bench-password";
const SLUG: &str = "bench";
const WARM_UP: usize = 3;
const N_USERS: usize = 40;
const N_TEAMS: usize = 5;
const N_CUSTOMERS: usize = 10_000;
const MINUTE: i64 = 60_000_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
const CATEGORIES: [&str; 8] = [
    "complaint",
    "billing",
    "pricing",
    "technical",
    "clinical",
    "legal",
    "safety",
    "other",
];

struct Loaded {
    rows: u64,
    /// Escalation runs that began in the measured year.
    in_year: i64,
    from: i64,
    to: i64,
}

/// The clocks of a run as the flows would have stored them.
fn sla_json(
    snap: &ladder_core::policy::EscalationSnapshot,
    started: i64,
    acked: Option<i64>,
    updated: Option<i64>,
    closed: Option<i64>,
) -> String {
    let mut clocks = SlaClocks::start(snap, from_micros(started));
    if let Some(a) = acked {
        clocks.acknowledge(from_micros(a));
    }
    if let Some(u) = updated {
        clocks.customer_updated(snap, from_micros(u));
    }
    if let Some(c) = closed {
        clocks.close(from_micros(c));
    }
    serde_json::to_string(&Run {
        position: 1,
        clocks,
    })
    .expect("a run serialises")
}

async fn load(db: &Db, n_tickets: usize, n_escalations: usize) -> Loaded {
    let mut rng = Rng(0x0005_ca1e);
    let now = Timestamp::now().as_microsecond();
    let start = now - 730 * DAY;
    let hash = ladder_server::auth::hash_password(PASSWORD.into())
        .await
        .expect("hash the bench password");
    let mut loader = Loader::new(db);
    let tenant_id = new_id();
    let t = lit(&tenant_id);
    let mut ins = Insert::new("tenants", "id, name, slug, created_at");
    ins.row(
        &mut loader,
        format!("{t}, 'Bench Co', {}, {start}", lit(SLUG)),
    )
    .await;
    ins.flush(&mut loader).await;

    let users: Vec<String> = (0..N_USERS).map(|_| new_id()).collect();
    let mut ins = Insert::new(
        "users",
        "id, tenant_id, email, name, role, password_hash, away_until, created_at",
    );
    for (i, id) in users.iter().enumerate() {
        let role = match i {
            0 => "owner",
            1..=5 => "admin",
            _ => "agent",
        };
        ins.row(
            &mut loader,
            format!(
                "{}, {t}, 'user{i}@bench.test', 'Bench User {i}', '{role}', {}, NULL, {start}",
                lit(id),
                lit(&hash)
            ),
        )
        .await;
    }
    ins.flush(&mut loader).await;
    let teams: Vec<String> = (0..N_TEAMS).map(|_| new_id()).collect();
    let mut ins = Insert::new("teams", "id, tenant_id, name, created_at");
    for (i, id) in teams.iter().enumerate() {
        ins.row(
            &mut loader,
            format!("{}, {t}, 'Team {i}', {start}", lit(id)),
        )
        .await;
    }
    ins.flush(&mut loader).await;
    let customers: Vec<String> = (0..N_CUSTOMERS).map(|_| new_id()).collect();
    let mut ins = Insert::new(
        "customers",
        "id, tenant_id, name, email, phone, tier, created_at",
    );
    for (i, id) in customers.iter().enumerate() {
        ins.row(
            &mut loader,
            format!(
                "{}, {t}, 'Customer {i}', 'customer{i}@example.test', NULL, 'standard', {start}",
                lit(id)
            ),
        )
        .await;
    }
    ins.flush(&mut loader).await;

    // The one rule every run started under (the built-in catch-all), stored once.
    let policy = Policy::default();
    let snap = policy
        .snapshot(policy.rules.len() - 1)
        .expect("the built-in policy has a catch-all rule");
    let (snapshot_id, document) = ladder_server::sla::stored(&snap).expect("store the snapshot");
    let mut ins = Insert::new("escalation_snapshots", "id, document");
    ins.row(
        &mut loader,
        format!("{}, {}", lit(&snapshot_id), lit(&document.to_string())),
    )
    .await;
    ins.flush(&mut loader).await;
    loader.commit().await;

    // Tickets over two years; every `stride`-th one is escalated.
    let stride = (n_tickets / n_escalations.max(1)).max(1);
    let step = (730 * DAY) / n_tickets.max(1) as i64;
    let mut escalated: Vec<(String, i64, &str)> = Vec::with_capacity(n_escalations);
    let mut ins = Insert::new(
        "tickets",
        "id, tenant_id, subject, description, customer_id, channel, category, priority, status, \
         assignee_id, team_id, tags, triggers, first_response_at, created_by, created_at, updated_at",
    );
    for i in 0..n_tickets {
        let id = new_id();
        let created = start + i as i64 * step + rng.between(0, step.max(1));
        let category = rng.pick(&CATEGORIES);
        let assignee = &users[rng.below(N_USERS)];
        ins.row(
            &mut loader,
            format!(
                "{}, {t}, 'Ticket {i}', 'Bench ticket number {i}.', {}, 'email', '{category}', \
                 'normal', 'resolved', {}, {}, '[]', '[]', {}, {}, {created}, {created}",
                lit(&id),
                lit(&customers[rng.below(N_CUSTOMERS)]),
                lit(assignee),
                lit(&teams[rng.below(N_TEAMS)]),
                created + HOUR,
                lit(assignee),
            ),
        )
        .await;
        if i % stride == 0 && escalated.len() < n_escalations {
            escalated.push((id, created, category));
        }
    }
    ins.flush(&mut loader).await;
    loader.commit().await;

    let mut esc = Insert::new(
        "escalations",
        "id, tenant_id, ticket_id, state, target_key, target_kind, target_ref, rung, category, \
         note, tried, contact_method, urgency, priority, triggers, requested_by, \
         escalation_owner_id, previous_status, previous_assignee_id, previous_team_id, \
         snapshot_id, sla, due_at, ack_due_at, update_due_at, resolve_due_at, acknowledged_at, \
         closed_at, resolution, created_at, updated_at",
    );
    let mut comments = Insert::new(
        "comments",
        "id, tenant_id, ticket_id, author_id, body, public, logged_call, created_at",
    );
    let mut audit = Insert::new(
        "audit_events",
        "id, tenant_id, seq, ticket_id, actor_id, kind, payload, occurred_at, prev_hash, hash",
    );
    let mut links = Insert::new(
        "ticket_links",
        "tenant_id, from_ticket_id, to_ticket_id, kind, created_at",
    );
    let (from, to) = (now - 365 * DAY, now);
    let mut in_year = 0;
    let mut seq = 0;
    for (n, (ticket, created, category)) in escalated.iter().enumerate() {
        let begun = created + rng.between(10 * MINUTE, DAY);
        if (from..to).contains(&begun) {
            in_year += 1;
        }
        let requested_by = &users[6 + rng.below(N_USERS - 6)];
        let owner = &users[rng.below(6)];
        let recent = now - begun < 3 * DAY;
        let acked = (!recent || rng.unit() < 0.5).then(|| begun + rng.between(MINUTE, 3 * HOUR));
        let replied = acked.map(|a| a + rng.between(MINUTE, 6 * HOUR));
        let outcome = if recent {
            "active"
        } else {
            match rng.unit() {
                x if x < 0.8 => "resolved",
                _ => "de_escalated",
            }
        };
        let closed = (outcome != "active").then(|| begun + rng.between(HOUR, 5 * DAY));
        // One run in six moved up a rung before it was taken.
        let moved = rng.unit() < 1.0 / 6.0;
        let clocks = sla_json(&snap, begun, acked, replied, closed);
        let row = |id: &str,
                   state: &str,
                   rung: i64,
                   at: i64,
                   owner: Option<&str>,
                   closed: Option<i64>,
                   resolution: Option<&str>| {
            format!(
                "{}, {t}, {}, '{state}', 'role:owner', 'owner', NULL, {rung}, '{category}', \
                 'Customer asks for a manager', NULL, 'call', 'standard', 'high', '[]', {}, {}, \
                 'open', NULL, NULL, {}, {}, NULL, NULL, NULL, NULL, NULL, {}, {}, {at}, {at}",
                lit(id),
                lit(ticket),
                lit(requested_by),
                opt_lit(owner),
                lit(&snapshot_id),
                lit(&clocks),
                opt_int(closed),
                opt_lit(resolution),
            )
        };
        let resolution = match rng.below(3) {
            0 => {
                r#"{"summary":"Refunded","compensation":{"kind":"refund","amount":2500,"currency":"USD"}}"#
            }
            1 => {
                r#"{"summary":"Explained","compensation":{"kind":"none","amount":0,"currency":"USD"}}"#
            }
            _ => r#"{"summary":"Fixed","compensation":null}"#,
        };
        let last_at = if moved {
            let up = begun + 30 * MINUTE;
            esc.row(
                &mut loader,
                row(&new_id(), "superseded", 1, begun, None, Some(up), None),
            )
            .await;
            up
        } else {
            begun
        };
        let state = match outcome {
            "active" if acked.is_some() => "acknowledged",
            "active" => "requested",
            s => s,
        };
        esc.row(
            &mut loader,
            row(
                &new_id(),
                state,
                if moved { 2 } else { 1 },
                last_at,
                acked.map(|_| owner.as_str()),
                closed,
                (outcome == "resolved").then_some(resolution),
            ),
        )
        .await;
        // The customer's message (no response) and the owner's reply (the first response).
        comments
            .row(
                &mut loader,
                format!(
                    "{}, {t}, {}, NULL, 'Any news?', TRUE, FALSE, {}",
                    lit(&new_id()),
                    lit(ticket),
                    begun - 5 * MINUTE
                ),
            )
            .await;
        if let Some(r) = replied {
            comments
                .row(
                    &mut loader,
                    format!(
                        "{}, {t}, {}, {}, 'We are on it.', TRUE, FALSE, {r}",
                        lit(&new_id()),
                        lit(ticket),
                        lit(owner)
                    ),
                )
                .await;
        }
        // One resolution in twenty is reopened within days.
        if let (Some(c), true) = (closed, outcome == "resolved" && rng.unit() < 0.05) {
            seq += 1;
            audit
                .row(
                    &mut loader,
                    format!(
                        "{}, {t}, {seq}, {}, {}, 'reopened', '{{}}', {}, 'x', 'x'",
                        lit(&new_id()),
                        lit(ticket),
                        lit(requested_by),
                        c + rng.between(HOUR, 10 * DAY)
                    ),
                )
                .await;
        }
        // One escalated ticket in fifty is linked to the one escalated before it.
        if n > 0 && rng.unit() < 0.02 {
            links
                .row(
                    &mut loader,
                    format!(
                        "{t}, {}, {}, 'related', {begun}",
                        lit(ticket),
                        lit(&escalated[n - 1].0)
                    ),
                )
                .await;
        }
    }
    esc.flush(&mut loader).await;
    comments.flush(&mut loader).await;
    audit.flush(&mut loader).await;
    links.flush(&mut loader).await;
    let mut heads = Insert::new("audit_heads", "tenant_id, seq, hash");
    heads.row(&mut loader, format!("{t}, {seq}, 'x'")).await;
    heads.flush(&mut loader).await;
    loader.commit().await;
    Loaded {
        rows: loader.rows,
        in_year,
        from,
        to,
    }
}

async fn login(client: &reqwest::Client, base: &str) -> String {
    let resp = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(
            &serde_json::json!({"tenant": SLUG, "email": "user0@bench.test", "password": PASSWORD}),
        )
        .send()
        .await
        .expect("POST /auth/login");
    assert_eq!(resp.status(), 200, "login");
    let body: Value = resp.json().await.expect("login response is JSON");
    body["token"].as_str().expect("a token").to_owned()
}

/// One timed GET; the latency covers the whole body.
async fn get(client: &reqwest::Client, url: &str, token: &str, csv: bool) -> (Duration, String) {
    let t0 = Instant::now();
    let mut req = client.get(url).bearer_auth(token);
    if csv {
        req = req.header("accept", "text/csv");
    }
    let resp = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status();
    let body = resp.text().await.expect("read the response body");
    let took = t0.elapsed();
    assert_eq!(status, 200, "GET {url}: {}", &body[..body.len().min(500)]);
    (took, body)
}

#[tokio::main]
async fn main() {
    let n_tickets = env_usize("LADDER_BENCH_TICKETS", 1_000_000);
    let n_escalations = env_usize("LADDER_BENCH_ESCALATIONS", 100_000).min(n_tickets);
    let n_requests = env_usize("LADDER_BENCH_REQUESTS", 30).max(1);
    let (db, backend) = bulk::bench_db("reports").await;
    println!("report benchmark on {backend}: {n_tickets} tickets, {n_escalations} escalations");
    let t0 = Instant::now();
    let loaded = load(&db, n_tickets, n_escalations).await;
    let load_time = t0.elapsed();
    // The loader writes around the storage functions, so the runs' rollup is filled the way
    // a database migrated from before it is: once, by the backfill (with the statistics
    // such a database has).
    sqlx::query("ANALYZE")
        .execute(db.pool())
        .await
        .expect("ANALYZE");
    let t1 = Instant::now();
    let mut tx = db.write().await.expect("begin the backfill");
    let backfilled = ladder_storage::metrics::backfill(tx.conn())
        .await
        .expect("backfill the escalation runs");
    tx.commit().await.expect("commit the backfill");
    let backfill_time = t1.elapsed();
    sqlx::query("ANALYZE")
        .execute(db.pool())
        .await
        .expect("ANALYZE");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let base = format!("http://{}", listener.local_addr().expect("local address"));
    tokio::spawn(ladder_server::serve(
        db.clone(),
        listener,
        std::future::pending(),
    ));
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("HTTP client");
    let token = login(&client, &base).await;
    let period = format!(
        "from={}&to={}",
        from_micros(loaded.from),
        from_micros(loaded.to)
    );
    let url = |extra: &str| format!("{base}/api/v1/metrics/escalations?{period}{extra}");
    let endpoints = [
        ("a year", url(""), false),
        ("a year by week", url("&group_by=week"), false),
        ("a year by owner", url("&group_by=owner"), false),
        ("a year by week, CSV", url("&group_by=week"), true),
    ];
    println!();
    println!("backend      {backend}");
    println!(
        "rows loaded  {} in {:.1} s; runs begun in the year: {}",
        thousands(loaded.rows),
        load_time.as_secs_f64(),
        thousands(loaded.in_year as u64)
    );
    println!(
        "rollup       {} tickets' runs backfilled in {:.1} s",
        thousands(backfilled),
        backfill_time.as_secs_f64()
    );
    println!();
    println!(
        "| {:<28} | {:>4} | {:>8} | {:>8} | {:>8} |",
        "report (sequential)", "n", "p50 ms", "p99 ms", "max ms"
    );
    println!(
        "|{:-<30}|{:->6}|{:->10}|{:->10}|{:->10}|",
        "", "", "", "", ""
    );
    for (label, url, csv) in &endpoints {
        for _ in 0..WARM_UP {
            get(&client, url, &token, *csv).await;
        }
        let mut times = Vec::with_capacity(n_requests);
        for _ in 0..n_requests {
            let (took, body) = get(&client, url, &token, *csv).await;
            if !csv {
                let v: Value = serde_json::from_str(&body).expect("JSON");
                assert_eq!(
                    v["escalations"],
                    loaded.in_year,
                    "{label}: {}",
                    &body[..300]
                );
            } else {
                assert!(body.lines().count() > 50, "{label}: a row per week");
            }
            times.push(took.as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        let at =
            |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
        println!(
            "| {:<28} | {:>4} | {:>8.1} | {:>8.1} | {:>8.1} |",
            label,
            n_requests,
            at(0.5),
            at(0.99),
            times[times.len() - 1]
        );
    }
    db.close().await;
}
