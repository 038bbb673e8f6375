//! The page benchmark: loads the queue benchmark's large tenant (1,000,000 tickets, 100,000
//! escalations by default), starts the real server in-process, signs in through `/login`
//! with a session cookie, and measures the queue and ticket pages as a browser asks for
//! them, one request at a time; then reports each page's weight with its stylesheet and
//! script. Fails when a p99 is over 50 ms or a page weighs 100 KB or more.
//!
//! ```text
//! cargo bench -p ladder-server --bench pages
//! LADDER_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:PORT/bench cargo bench -p ladder-server --bench pages
//! LADDER_BENCH_TICKETS=50000 LADDER_BENCH_ESCALATIONS=5000 cargo bench -p ladder-server --bench pages
//! ```
//!
//! Without `LADDER_BENCH_DATABASE_URL` a fresh SQLite file under `target/bench-pages/` is used
//! (deleted first); a PostgreSQL URL must name an empty database. Every page must be 200 and
//! show what it is for (a queue its rows, a ticket its subject), so a broken page fails the
//! run rather than timing fast. `LADDER_BENCH_REQUESTS` sets the requests per page.

use std::time::{Duration, Instant};

#[path = "support/bulk.rs"]
mod bulk;
#[path = "support/queue_load.rs"]
mod queue_load;
#[path = "support/server.rs"]
mod server;
use bulk::{env_usize, thousands};
use queue_load::{load, N_ADMINS, PASSWORD, SLUG};
use server::Latency;

const WARM_UP: usize = 30;
/// What the issue asks of every page.
const P99_LIMIT_MS: f64 = 50.0;
const WEIGHT_LIMIT: usize = 100 * 1024;

/// Signs in through the page form and returns the session cookie (`name=value`).
async fn sign_in(client: &reqwest::Client, base: &str, email: &str) -> String {
    let resp = client
        .post(format!("{base}/login"))
        .form(&[
            ("tenant", SLUG),
            ("email", email),
            ("password", PASSWORD),
            ("next", "/"),
        ])
        .send()
        .await
        .expect("POST /login");
    assert!(
        resp.status().is_redirection(),
        "sign in as {email}: {}",
        resp.status()
    );
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("ladder_session="))
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned()
}

/// One timed GET of a page: the latency covers the whole body.
async fn get(client: &reqwest::Client, url: &str, cookie: &str) -> (Duration, String) {
    let t0 = Instant::now();
    let resp = client
        .get(url)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status();
    let body = resp.text().await.expect("read the page");
    let took = t0.elapsed();
    assert_eq!(status, 200, "GET {url}: {}", &body[..body.len().min(500)]);
    (took, body)
}

struct Page {
    label: String,
    cookie: String,
    /// Asked for in turn.
    urls: Vec<String>,
    /// What every answer must contain.
    shows: &'static str,
}

struct Stats {
    label: String,
    n: usize,
    latency: Latency,
    bytes: usize,
}

async fn measure(client: &reqwest::Client, page: &Page, n: usize) -> Stats {
    for i in 0..WARM_UP {
        let (_, body) = get(client, &page.urls[i % page.urls.len()], &page.cookie).await;
        assert!(
            body.contains(page.shows),
            "{}: no {:?}",
            page.label,
            page.shows
        );
    }
    let mut times = Vec::with_capacity(n);
    let mut bytes = 0;
    for i in 0..n {
        let (took, body) = get(client, &page.urls[i % page.urls.len()], &page.cookie).await;
        assert!(
            body.contains(page.shows),
            "{}: no {:?}",
            page.label,
            page.shows
        );
        bytes = bytes.max(body.len());
        times.push(took.as_secs_f64() * 1000.0);
    }
    Stats {
        label: page.label.clone(),
        n,
        latency: Latency::of(times),
        bytes,
    }
}

#[tokio::main]
async fn main() {
    let n_tickets = env_usize("LADDER_BENCH_TICKETS", 1_000_000);
    let n_escalations = env_usize("LADDER_BENCH_ESCALATIONS", 100_000).min(n_tickets);
    let n_requests = env_usize("LADDER_BENCH_REQUESTS", 500).max(1);
    let (db, backend) = bulk::bench_db("pages").await;
    println!("page benchmark on {backend}: {n_tickets} tickets, {n_escalations} escalations");
    let t0 = Instant::now();
    let loaded = load(&db, n_tickets, n_escalations).await;
    println!(
        "loaded {} rows in {:.1} s",
        thousands(loaded.rows),
        t0.elapsed().as_secs_f64()
    );
    server::analyze(&db).await;

    let base = server::serve_in_process(&db).await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client");

    let owner = sign_in(&client, &base, &loaded.users[0].email).await;
    let admin = sign_in(&client, &base, &loaded.users[1].email).await;
    let mut agents: Vec<usize> = (1 + N_ADMINS..loaded.users.len()).collect();
    agents.sort_by_key(|&a| std::cmp::Reverse(loaded.open_by_user[a]));
    let agent = sign_in(&client, &base, &loaded.users[agents[0]].email).await;

    // Tickets with an active escalation (the heaviest ticket page: panel and deadlines), and
    // plain ones, spread over the whole table.
    let escalated: Vec<(String,)> = sqlx::query_as(
        "SELECT ticket_id FROM escalations WHERE state IN ('requested', 'acknowledged') \
         ORDER BY id LIMIT 200",
    )
    .fetch_all(db.pool())
    .await
    .expect("escalated tickets");
    let plain: Vec<(String,)> =
        sqlx::query_as("SELECT id FROM tickets WHERE status = 'closed' ORDER BY id LIMIT 200")
            .fetch_all(db.pool())
            .await
            .expect("closed tickets");
    let ticket_urls = |ids: &[(String,)]| -> Vec<String> {
        ids.iter()
            .map(|(id,)| format!("{base}/tickets/{id}"))
            .collect()
    };

    let pages = vec![
        Page {
            label: "escalations queue (owner)".into(),
            cookie: owner.clone(),
            urls: vec![format!("{base}/queues/escalations")],
            shows: "<tbody>",
        },
        Page {
            label: "escalations queue (admin)".into(),
            cookie: admin.clone(),
            urls: vec![format!("{base}/queues/escalations")],
            shows: "<tbody>",
        },
        Page {
            label: "escalations ?status=requested (owner)".into(),
            cookie: owner.clone(),
            urls: vec![format!("{base}/queues/escalations?status=requested")],
            shows: "<tbody>",
        },
        Page {
            label: "mine (busiest agent)".into(),
            cookie: agent,
            urls: vec![format!("{base}/queues/mine")],
            shows: "<tbody>",
        },
        Page {
            label: "ticket with an active escalation".into(),
            cookie: owner.clone(),
            urls: ticket_urls(&escalated),
            shows: "Escalation ·",
        },
        Page {
            label: "closed ticket".into(),
            cookie: owner.clone(),
            urls: ticket_urls(&plain),
            shows: "the order never arrived",
        },
    ];

    let css = get(&client, &format!("{base}/assets/ladder.css"), &owner)
        .await
        .1
        .len();
    let js = get(&client, &format!("{base}/assets/ladder.js"), &owner)
        .await
        .1
        .len();

    let mut results = Vec::new();
    for page in &pages {
        results.push(measure(&client, page, n_requests).await);
    }

    println!(
        "\n{:<40} {:>6} {:>8} {:>8} {:>8} {:>10} {:>12}",
        "page", "n", "p50 ms", "p99 ms", "max ms", "HTML KB", "with CSS+JS"
    );
    let mut failed = Vec::new();
    for s in &results {
        let weight = s.bytes + css + js;
        println!(
            "{:<40} {:>6} {:>8.2} {:>8.2} {:>8.2} {:>10.1} {:>10.1} KB",
            s.label,
            s.n,
            s.latency.p50,
            s.latency.p99,
            s.latency.max,
            s.bytes as f64 / 1024.0,
            weight as f64 / 1024.0
        );
        if s.latency.p99 >= P99_LIMIT_MS {
            failed.push(format!("{}: p99 {:.1} ms", s.label, s.latency.p99));
        }
        if weight >= WEIGHT_LIMIT {
            failed.push(format!("{}: {} bytes with its assets", s.label, weight));
        }
    }
    println!(
        "(stylesheet {:.1} KB, script {:.1} KB; the largest answer of each page is counted)",
        css as f64 / 1024.0,
        js as f64 / 1024.0
    );
    assert!(
        failed.is_empty(),
        "over the limits (p99 < {P99_LIMIT_MS} ms, < 100 KB): {failed:?}"
    );
}
