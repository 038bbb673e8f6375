//! The queue benchmark: loads a large tenant (1,000,000 tickets, 100,000 escalations,
//! 200,000 watchers by default), starts the real server in-process and measures the latency
//! of the escalations and mine queues over HTTP, one request at a time.
//!
//! ```text
//! cargo bench -p ladder-server --bench queues
//! LADDER_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:PORT/bench cargo bench -p ladder-server --bench queues
//! LADDER_BENCH_TICKETS=50000 LADDER_BENCH_ESCALATIONS=5000 cargo bench -p ladder-server --bench queues
//! ```
//!
//! Without `LADDER_BENCH_DATABASE_URL` a fresh SQLite file under `target/bench-queues/` is
//! used (deleted first); a PostgreSQL URL must name an empty database. Every response must be
//! 200, and the escalation pages must be non-empty and ordered by due time, so the benchmark
//! fails loudly when a query breaks. `LADDER_BENCH_REQUESTS` sets the requests per endpoint.

use std::time::Instant;

use jiff::Timestamp;

use serde_json::Value;

#[path = "support/bulk.rs"]
mod bulk;
#[path = "support/queue_load.rs"]
mod queue_load;
#[path = "support/server.rs"]
mod server;
use bulk::{env_usize, thousands};
use queue_load::{load, N_ADMINS, N_CUSTOMERS, PASSWORD, SLUG};
use server::{get_json as get, Latency};

const WARM_UP: usize = 50;

async fn login(client: &reqwest::Client, base: &str, email: &str) -> String {
    server::login(client, base, SLUG, email, PASSWORD).await
}

fn time_field(item: &Value, field: &str) -> Option<i64> {
    item[field].as_str().map(|s| {
        s.parse::<Timestamp>()
            .unwrap_or_else(|e| panic!("{field} {s:?}: {e}"))
            .as_microsecond()
    })
}

/// The due time the queue sorts by, recomputed from the item as the API returns it.
fn queue_due(item: &Value) -> i64 {
    let due = match item["state"].as_str() {
        Some("requested") => time_field(item, "ack_due_at").or(time_field(item, "resolve_due_at")),
        Some("acknowledged") => {
            match (
                time_field(item, "update_due_at"),
                time_field(item, "resolve_due_at"),
            ) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        }
        other => panic!("an escalation in state {other:?} is in the queue"),
    };
    due.expect("an active escalation has a due time")
}

#[derive(Clone, Copy)]
enum Check {
    /// An escalations page: non-empty, ordered by due time, all at or after `after`.
    Escalations {
        after: i64,
        state: Option<&'static str>,
    },
    /// A mine page: non-empty, oldest first.
    Mine,
}

fn check(page: &Value, what: Check, label: &str) {
    let items = page["items"].as_array().expect("a page has items");
    assert!(!items.is_empty(), "{label}: the page is empty");
    match what {
        Check::Escalations { after, state } => {
            let mut last = after;
            for it in items {
                let due = queue_due(it);
                assert!(
                    due >= last,
                    "{label}: escalation {} is due at {due}, before the previous {last}",
                    it["id"]
                );
                if let Some(s) = state {
                    assert_eq!(it["state"].as_str(), Some(s), "{label}: status filter");
                }
                last = due;
            }
        }
        Check::Mine => {
            let mut last = i64::MIN;
            for it in items {
                let at = time_field(it, "created_at").expect("a ticket has created_at");
                assert!(at >= last, "{label}: tickets out of order");
                assert!(
                    matches!(it["status"].as_str(), Some("new" | "open" | "pending")),
                    "{label}: a ticket in status {} is in mine",
                    it["status"]
                );
                last = at;
            }
        }
    }
}

struct Endpoint {
    label: String,
    /// (token, url) pairs, used in turn.
    calls: Vec<(String, String)>,
    check: Check,
}

struct Stats {
    label: String,
    n: usize,
    latency: Latency,
    items: usize,
    total: i64,
}

async fn measure(client: &reqwest::Client, ep: &Endpoint, n: usize) -> Stats {
    for i in 0..WARM_UP {
        let (token, url) = &ep.calls[i % ep.calls.len()];
        let (_, page) = get(client, url, token).await;
        check(&page, ep.check, &ep.label);
    }
    let mut times = Vec::with_capacity(n);
    let (mut items, mut total) = (0, 0);
    for i in 0..n {
        let (token, url) = &ep.calls[i % ep.calls.len()];
        let (took, page) = get(client, url, token).await;
        check(&page, ep.check, &ep.label);
        items = page["items"].as_array().map_or(0, Vec::len);
        total = page["total"].as_i64().unwrap_or_default();
        times.push(took.as_secs_f64() * 1000.0);
    }
    Stats {
        label: ep.label.clone(),
        n,
        latency: Latency::of(times),
        items,
        total,
    }
}

#[tokio::main]
async fn main() {
    let n_tickets = env_usize("LADDER_BENCH_TICKETS", 1_000_000);
    let n_escalations = env_usize("LADDER_BENCH_ESCALATIONS", 100_000).min(n_tickets);
    let n_requests = env_usize("LADDER_BENCH_REQUESTS", 1_000).max(1);
    let (db, backend) = bulk::bench_db("queues").await;
    println!("queue benchmark on {backend}: {n_tickets} tickets, {n_escalations} escalations");

    let t0 = Instant::now();
    let loaded = load(&db, n_tickets, n_escalations).await;
    let load_time = t0.elapsed();
    let t1 = Instant::now();
    server::analyze(&db).await;
    let analyze_time = t1.elapsed();

    let base = server::serve_in_process(&db).await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("HTTP client");

    let owner = login(&client, &base, &loaded.users[0].email).await;
    let admin = login(&client, &base, &loaded.users[1].email).await;
    // The agents with the most open tickets.
    let mut agents: Vec<usize> = (1 + N_ADMINS..loaded.users.len()).collect();
    agents.sort_by_key(|&a| std::cmp::Reverse(loaded.open_by_user[a]));
    agents.truncate(4);
    let mut agent_tokens = Vec::new();
    for &a in &agents {
        agent_tokens.push(login(&client, &base, &loaded.users[a].email).await);
    }

    let esc_url = format!("{base}/api/v1/queues/escalations");
    // The second pages start from the first pages' cursors.
    let mut second = Vec::new();
    for (who, token) in [("owner", &owner), ("admin", &admin)] {
        let (_, first) = get(&client, &esc_url, token).await;
        check(
            &first,
            Check::Escalations {
                after: i64::MIN,
                state: None,
            },
            who,
        );
        let items = first["items"].as_array().expect("items");
        let last_due = queue_due(&items[items.len() - 1]);
        let cursor = first["next_cursor"]
            .as_str()
            .unwrap_or_else(|| panic!("the {who}'s escalation queue has a single page"));
        second.push((
            who,
            token.clone(),
            format!("{esc_url}?cursor={cursor}"),
            last_due,
        ));
    }
    let any = Check::Escalations {
        after: i64::MIN,
        state: None,
    };
    let mut endpoints = vec![
        Endpoint {
            label: "escalations (owner)".into(),
            calls: vec![(owner.clone(), esc_url.clone())],
            check: any,
        },
        Endpoint {
            label: "escalations (admin)".into(),
            calls: vec![(admin.clone(), esc_url.clone())],
            check: any,
        },
        Endpoint {
            label: "escalations ?status=requested (owner)".into(),
            calls: vec![(owner.clone(), format!("{esc_url}?status=requested"))],
            check: Check::Escalations {
                after: i64::MIN,
                state: Some("requested"),
            },
        },
        Endpoint {
            label: "escalations ?status=requested (admin)".into(),
            calls: vec![(admin.clone(), format!("{esc_url}?status=requested"))],
            check: Check::Escalations {
                after: i64::MIN,
                state: Some("requested"),
            },
        },
    ];
    for (who, token, url, after) in second {
        endpoints.push(Endpoint {
            label: format!("escalations page 2 ({who})"),
            calls: vec![(token, url)],
            check: Check::Escalations { after, state: None },
        });
    }
    endpoints.push(Endpoint {
        label: format!("mine ({} busiest agents)", agent_tokens.len()),
        calls: agent_tokens
            .iter()
            .map(|t| (t.clone(), format!("{base}/api/v1/queues/mine")))
            .collect(),
        check: Check::Mine,
    });

    let mut results = Vec::new();
    for ep in &endpoints {
        results.push(measure(&client, ep, n_requests).await);
    }

    let open: Vec<String> = agents
        .iter()
        .map(|&a| thousands(loaded.open_by_user[a]))
        .collect();
    println!();
    println!("backend      {backend}");
    println!(
        "rows loaded  {} in {:.1} s ({:.0} rows/s); ANALYZE {:.1} s",
        thousands(loaded.rows),
        load_time.as_secs_f64(),
        loaded.rows as f64 / load_time.as_secs_f64(),
        analyze_time.as_secs_f64()
    );
    println!(
        "             {} tickets, {} escalations ({} active), {} watchers, {} customers, {} users",
        thousands(loaded.tickets as u64),
        thousands(loaded.escalations as u64),
        thousands(loaded.active as u64),
        thousands(loaded.watchers as u64),
        thousands(N_CUSTOMERS as u64),
        loaded.users.len()
    );
    println!(
        "             open tickets of the measured agents: {}",
        open.join(", ")
    );
    println!();
    println!(
        "| {:<40} | {:>5} | {:>8} | {:>8} | {:>8} | {:>5} | {:>6} |",
        "endpoint (sequential, after 50 warm-up)",
        "n",
        "p50 ms",
        "p99 ms",
        "max ms",
        "items",
        "total"
    );
    println!(
        "|{:-<42}|{:->7}|{:->10}|{:->10}|{:->10}|{:->7}|{:->8}|",
        "", "", "", "", "", "", ""
    );
    for r in &results {
        println!(
            "| {:<40} | {:>5} | {:>8.2} | {:>8.2} | {:>8.2} | {:>5} | {:>6} |",
            r.label, r.n, r.latency.p50, r.latency.p99, r.latency.max, r.items, r.total
        );
    }
    db.close().await;
}
