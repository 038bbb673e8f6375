//! The delivery benchmark: the real `ladder serve` drains an outbox into a local SMTP sink.
//!
//! 1. **Throughput**: 10,000 reminders queued in the outbox, one email each; the server
//!    starts with `--smtp-url` and we time from its start until every delivery is recorded
//!    `delivered` (emails/s).
//! 2. **A burst of timers**: 10,000 rung timeouts fall due in the same instant (the timer
//!    benchmark's load); we time from that instant until every notice they caused (the new
//!    rung told, the rung passed over told: three emails per timer) has left.
//!
//! ```text
//! cargo bench -p ladder-server --bench deliveries
//! LADDER_BENCH_PG_URL=postgres://postgres@127.0.0.1:PORT/postgres cargo bench -p ladder-server --bench deliveries
//! LADDER_BENCH_EMAILS=2000 LADDER_BENCH_DUE=2000 LADDER_BENCH_SINK=aiosmtpd cargo bench -p ladder-server --bench deliveries
//! ```
//!
//! With `LADDER_BENCH_PG_URL` (a server's admin URL) the runs use fresh PostgreSQL databases
//! created and dropped there; otherwise SQLite files. The sink is a minimal SMTP server in
//! this process (`support/outbox_load.rs`) that counts messages: Debian's aiosmtpd, which
//! parses and writes every message, was itself the bottleneck (`LADDER_BENCH_SINK=aiosmtpd`
//! measures through it).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use ladder_storage::Db;

#[path = "support/bulk.rs"]
mod bulk;
#[path = "support/outbox_load.rs"]
mod outbox_load;
#[path = "support/server.rs"]
mod server;
#[path = "support/sla_load.rs"]
mod sla_load;

use bulk::{env_usize, thousands};
use server::{cpu_seconds, free_port, Server};

struct Aiosmtpd(Child, std::path::PathBuf);

impl Drop for Aiosmtpd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

/// The one-minute load average, printed beside the figures it affects.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

async fn start_server(url: &str, smtp_port: u16) -> Server {
    let smtp = format!("smtp://127.0.0.1:{smtp_port}?tls=none");
    server::start_server(url, &["--smtp-url", &smtp]).await.0
}

/// A sink to send to: its port, and what keeps it running.
async fn sink() -> (u16, Box<dyn std::any::Any>) {
    if std::env::var("LADDER_BENCH_SINK").as_deref() == Ok("aiosmtpd") {
        let dir = std::env::temp_dir().join(format!("ladder-bench-sink-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("sink dir");
        let port = free_port();
        let support = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support");
        let child = Command::new("/usr/bin/python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "smtp_sink.Sink"])
            .arg(&dir)
            .env("PYTHONPATH", support)
            .stdout(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        for _ in 0..400 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        (port, Box::new(Aiosmtpd(child, dir)))
    } else {
        let s = outbox_load::MiniSink::start().await;
        (s.port, Box::new(s))
    }
}

/// A fresh database: a PostgreSQL one under `LADDER_BENCH_PG_URL`, or an SQLite file.
async fn fresh(name: &str) -> (String, Box<dyn FnOnce()>) {
    let admin = std::env::var("LADDER_BENCH_PG_URL").ok();
    server::fresh(admin.as_deref(), "deliveries", name).await
}

/// Waits until every outbox row is fanned out and `expected` deliveries (at least) are
/// delivered with none pending; returns when, or panics after `limit`.
async fn drained(db: &Db, expected: i64, limit: Duration) -> Instant {
    let started = Instant::now();
    loop {
        let (pending, delivered, failed, unsent) = outbox_load::progress(db).await;
        if unsent == 0 && pending == 0 && delivered >= expected {
            assert_eq!(failed, 0, "deliveries failed");
            return Instant::now();
        }
        assert!(started.elapsed() < limit, "not drained after {limit:?}: {pending} pending, {delivered} delivered, {unsent} not fanned out");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::main]
async fn main() {
    let emails = env_usize("LADDER_BENCH_EMAILS", 10_000);
    let due = env_usize("LADDER_BENCH_DUE", 10_000);
    let label = if std::env::var("LADDER_BENCH_PG_URL").is_ok() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let (port, _sink) = sink().await;

    // 1. Throughput.
    let (url, cleanup) = fresh("throughput").await;
    {
        let db = Db::connect(&url).await.expect("connect");
        db.migrate().await.expect("migrate");
        sla_load::load(&db, 20, 0, 0).await;
        outbox_load::queue_reminders(&db, emails, Timestamp::now()).await;
        let started = Instant::now();
        let server = start_server(&url, port).await;
        let done = drained(&db, emails as i64, Duration::from_secs(900)).await;
        let secs = done.duration_since(started).as_secs_f64();
        let cpu = cpu_seconds(server.0.id()).expect("the server's CPU time");
        println!(
            "{label}: {} queued emails delivered in {secs:.1} s: {:.0} emails/s (from the server's start; load average {})",
            thousands(emails as u64),
            emails as f64 / secs,
            load_average()
        );
        println!(
            "{label}: the server used {cpu:.1} CPU-seconds: {:.2} ms per email, {:.0} emails per CPU-second",
            1000.0 * cpu / emails as f64,
            emails as f64 / cpu
        );
        drop(server);
        db.close().await;
    }
    cleanup();

    // 2. A burst of timers.
    let (url, cleanup) = fresh("burst").await;
    {
        let db = Db::connect(&url).await.expect("connect");
        db.migrate().await.expect("migrate");
        sla_load::load(&db, 20, due, due).await;
        let server = start_server(&url, port).await;
        let at = Timestamp::now();
        let started = Instant::now();
        sla_load::fall_due(&db, at).await;
        // Each rung timeout tells the two admins (the new rung) and the owner passed over.
        let expected = 3 * due as i64;
        let done = drained(&db, expected, Duration::from_secs(1800)).await;
        let fired = sla_load::fired(&db).await;
        assert_eq!(fired, due as i64, "every timer fired");
        println!(
            "{label}: {} timers due at once: their {} notices all delivered {:.1} s after the instant (load average {}; server CPU {:.1} s)",
            thousands(due as u64),
            thousands(expected as u64),
            done.duration_since(started).as_secs_f64(),
            load_average(),
            cpu_seconds(server.0.id()).expect("the server's CPU time")
        );
        drop(server);
        db.close().await;
    }
    cleanup();
}
