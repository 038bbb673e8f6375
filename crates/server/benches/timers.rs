//! The timer benchmark: 1,000,000 pending SLA timers in the database, of which 10,000 fall
//! due in the same instant. The real `ladder serve` runs as a separate process against it;
//! we measure how late each timer fires and the server's memory, idle and at its peak.
//! Lateness is measured twice: when the firing's batch was claimed (the time on its audit
//! event) and when it committed, which is when anyone can see its effects (the server's
//! `ladder_timers_fired_total`, polled every 20 ms). The second is the one that counts.
//!
//! ```text
//! cargo bench -p ladder-server --bench timers
//! LADDER_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:PORT/empty_db cargo bench -p ladder-server --bench timers
//! LADDER_BENCH_PENDING=100000 LADDER_BENCH_DUE=2000 cargo bench -p ladder-server --bench timers
//! ```
//!
//! Each due timer is the rung timeout of an unacknowledged escalation, the heaviest kind: it
//! supersedes the escalation with one for the next rung, appends to the audit chain, writes
//! the notifications and sets the ticket's timer to what the new rung waits for.
//! `LADDER_BENCH_TENANTS` spreads the escalations over that many organisations (default 20).
//!
//! `LADDER_BENCH_STEP=load` only loads the database; `LADDER_BENCH_STEP=fire` only fires,
//! on a database loaded so and untouched since, such as a PostgreSQL database created from
//! the loaded one as a template (`CREATE DATABASE bench TEMPLATE loaded STRATEGY
//! FILE_COPY`). Comparing two builds on the same data then takes seconds instead of minutes.

use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use ladder_storage::Db;

#[path = "support/bulk.rs"]
mod bulk;
#[path = "support/server.rs"]
mod server;
#[path = "support/sla_load.rs"]
mod sla_load;

use bulk::{env_usize, thousands};
use server::{cpu_seconds, start_server};
use sla_load::{fall_due, lags_ms, memory_mib, quantile};

/// How often the bench asks the server how many timers it has fired.
const POLL_MS: u64 = 20;

/// The server's count of timers fired (after commit), from `/metrics`; 0 if unreadable.
async fn timers_fired(client: &reqwest::Client, base: &str) -> usize {
    let Ok(response) = client.get(format!("{base}/metrics")).send().await else {
        return 0;
    };
    let text = response.text().await.unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("ladder_timers_fired_total "))
        .and_then(|n| n.trim().parse::<f64>().ok())
        .map_or(0, |n| n as usize)
}

/// One line of lag quantiles, from lags in milliseconds, sorted.
fn print_lags(label: &str, what: &str, sorted: &[f64]) {
    println!(
        "{label}: firing lag ({what}) p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        quantile(sorted, 0.5),
        quantile(sorted, 0.9),
        quantile(sorted, 0.99),
        quantile(sorted, 1.0)
    );
}

#[tokio::main]
async fn main() {
    let pending = env_usize("LADDER_BENCH_PENDING", 1_000_000);
    let due = env_usize("LADDER_BENCH_DUE", 10_000);
    let tenants = env_usize("LADDER_BENCH_TENANTS", 20);
    let step = std::env::var("LADDER_BENCH_STEP").unwrap_or_default();
    let (load, fire) = match step.as_str() {
        "" => (true, true),
        "load" => (true, false),
        "fire" => (false, true),
        other => panic!("LADDER_BENCH_STEP is `load`, `fire` or unset, not `{other}`"),
    };
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-timers");
    let url = match std::env::var("LADDER_BENCH_DATABASE_URL") {
        Ok(url) => url,
        Err(_) => {
            // Fired alone, the default database is the one the last `load` left.
            if load {
                let _ = std::fs::remove_dir_all(&dir);
            }
            format!("sqlite://{}/ladder.db", dir.display())
        }
    };
    let label = if url.starts_with("sqlite") {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    let db = Db::connect(&url).await.expect("connect");
    db.migrate().await.expect("migrate");

    if load {
        let started = Instant::now();
        let loaded = sla_load::load(&db, tenants, due, pending).await;
        println!(
            "{label}: loaded {} rows ({} timers pending, {} of them parked to fall due at once, {} organisations) in {:.0?}",
            thousands(loaded.rows),
            thousands(loaded.pending as u64),
            thousands(loaded.hot as u64),
            loaded.tenants.len(),
            started.elapsed()
        );
    }
    if url.starts_with("postgres") {
        if load {
            // Vacuumed as well as analysed: right after a bulk load of millions of rows the
            // autovacuum daemon would otherwise scan every table in the middle of the firing,
            // which a database that grew to this size over months does not do.
            sqlx::query("VACUUM ANALYZE")
                .execute(db.pool())
                .await
                .expect("vacuum and analyze");
        }
        // And checkpointed, so that the load's write-ahead log is not being flushed while the
        // timers fire; every page the firing touches then pays its first-write cost (a full
        // page image in the log), as it would in a database checkpointed every few minutes.
        sqlx::query("CHECKPOINT")
            .execute(db.pool())
            .await
            .expect("checkpoint");
    }
    if !fire {
        db.close().await;
        return;
    }

    let (server, base) = start_server(&url, &[]).await;
    let pid = server.0.id();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (idle_rss, _) = memory_mib(pid).unwrap_or((f64::NAN, f64::NAN));

    let client = reqwest::Client::new();
    let cpu_before = cpu_seconds(pid);
    let at = Timestamp::now() + SignedDuration::from_secs(2);
    let moved = fall_due(&db, at).await;
    assert_eq!(moved as usize, due, "every parked timer falls due");
    // The audit event of a firing carries the moment its batch was claimed; its effects are
    // visible only once the batch commits. The server counts timers after each commit, so
    // watching that count says when each firing became visible, to within one poll.
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut peak_rss: f64 = idle_rss;
    let mut committed: Vec<f64> = Vec::with_capacity(due);
    let mut polls = 0u32;
    loop {
        if polls.is_multiple_of(10) {
            if let Some((rss, hwm)) = memory_mib(pid) {
                peak_rss = peak_rss.max(rss).max(hwm);
            }
        }
        polls += 1;
        let count = timers_fired(&client, &base).await;
        let seen = (Timestamp::now().as_microsecond() - at.as_microsecond()) as f64 / 1000.0;
        while committed.len() < count.min(due) {
            committed.push(seen);
        }
        if committed.len() >= due || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(POLL_MS)).await;
    }
    if let Some((rss, hwm)) = memory_mib(pid) {
        peak_rss = peak_rss.max(rss).max(hwm);
    }
    let cpu = cpu_seconds(pid).zip(cpu_before).map(|(a, b)| a - b);
    let (lags, superseded) = lags_ms(&db, at).await;
    drop(server);

    let distinct: std::collections::BTreeSet<_> = superseded.iter().collect();
    assert_eq!(lags.len(), due, "every due timer fired");
    assert_eq!(distinct.len(), due, "and each exactly once");
    let (left,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM timers")
        .fetch_one(db.pool())
        .await
        .expect("count the timers");
    println!(
        "{label}: {} timers due at once fired in {:.2} s after their due time, with {} timers still pending",
        thousands(due as u64),
        committed.last().copied().unwrap_or(f64::NAN) / 1000.0,
        thousands(left as u64)
    );
    print_lags(label, "claimed", &lags);
    print_lags(
        label,
        &format!("committed, seen within {POLL_MS} ms"),
        &committed,
    );
    if let Some(cpu) = cpu {
        println!(
            "{label}: server CPU time while firing {cpu:.2} s ({:.0} µs per timer)",
            cpu * 1e6 / due as f64
        );
    }
    println!("{label}: server memory idle {idle_rss:.1} MiB, peak {peak_rss:.1} MiB (resident)");
    db.close().await;
}
