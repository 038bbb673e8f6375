//! The servers and databases the benchmarks measure against: the real `ladder serve` process
//! on a free port, or the server in-process; fresh scratch databases; sign-in and timed GETs
//! over the API; and the latency figures every table prints.
#![allow(dead_code)] // each benchmark uses its own part

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ladder_storage::Db;
use serde_json::Value;

/// A running `ladder serve`, killed when dropped.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Server {
    /// CPU time the server process has used so far (user and system, all its threads), read
    /// from `/proc`; `None` where there is none. On a shared machine this moves much less
    /// from run to run than a rate does, so the writes benchmark reports it per write.
    pub fn cpu(&self) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.0.id())).ok()?;
        // Fields after the command name, which is in parentheses and may hold spaces.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split(' ').collect();
        // utime and stime are fields 14 and 15 of the whole line (12 and 13 here), in clock
        // ticks: USER_HZ, which Linux fixes at 100 for what it shows to user space.
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(Duration::from_millis(ticks * 10))
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts `ladder serve` on `url` (with `extra` arguments, then those in
/// `LADDER_BENCH_SERVER_ARGS`) on a free port and waits, ten seconds at most,
/// until `/healthz` answers; returns it and its base URL.
pub async fn start_server(url: &str, extra: &[&str]) -> (Server, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(["serve", "--database-url", url, "--listen", &addr])
        .args(extra)
        .args(
            std::env::var("LADDER_BENCH_SERVER_ARGS")
                .unwrap_or_default()
                .split_whitespace(),
        )
        .env(
            "LADDER_LOG",
            std::env::var("LADDER_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(Stdio::null())
        .spawn()
        .expect("start ladder serve");
    let server = Server(child);
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    for _ in 0..400 {
        if client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return (server, base);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("ladder serve did not come up on {addr}");
}

/// A fresh database for run `name` of benchmark `bench`: a PostgreSQL one created on the
/// server of `admin` (an admin URL), or else an SQLite file under the target directory; and
/// how to drop it.
pub async fn fresh(admin: Option<&str>, bench: &str, name: &str) -> (String, Box<dyn FnOnce()>) {
    match admin {
        Some(admin) => {
            let admin = admin.to_owned();
            let db_name = format!("ladder_bench_{bench}_{name}_{}", std::process::id());
            let db = Db::connect(&admin).await.expect("connect to PostgreSQL");
            sqlx::query(&format!("DROP DATABASE IF EXISTS {db_name}"))
                .execute(db.pool())
                .await
                .expect("drop");
            sqlx::query(&format!("CREATE DATABASE {db_name}"))
                .execute(db.pool())
                .await
                .expect("create");
            db.close().await;
            let base = admin
                .rsplit_once('/')
                .map(|(b, _)| b.to_owned())
                .unwrap_or(admin.clone());
            let url = format!("{base}/{db_name}");
            let cleanup = move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(rt) = rt {
                    rt.block_on(async {
                        if let Ok(db) = Db::connect(&admin).await {
                            let _ = sqlx::query(&format!(
                                "DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"
                            ))
                            .execute(db.pool())
                            .await;
                        }
                    });
                }
            };
            (
                url,
                // On a thread of its own: the caller is inside a runtime, which cannot block.
                Box::new(move || {
                    let _ = std::thread::spawn(cleanup).join();
                }),
            )
        }
        None => {
            let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
                // The process id, as for PostgreSQL: two runs at once must not share a file.
                .join(format!("bench-{bench}-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("bench dir");
            let url = format!("sqlite://{}/ladder.db", dir.display());
            (
                url,
                Box::new(move || {
                    let _ = std::fs::remove_dir_all(&dir);
                }),
            )
        }
    }
}

/// Refreshes the planner's statistics after a bulk load, as a database grown over time has;
/// on PostgreSQL also the visibility map (`VACUUM`, as autovacuum would after the load), so
/// index-only scans need not visit the heap.
pub async fn analyze(db: &Db) {
    let statement = match db.backend() {
        ladder_storage::Backend::Postgres => "VACUUM ANALYZE",
        ladder_storage::Backend::Sqlite => "ANALYZE",
    };
    sqlx::query(statement)
        .execute(db.pool())
        .await
        .expect(statement);
}

/// Serves `db` in this process on a free loopback port; returns the base URL.
pub async fn serve_in_process(db: &Db) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let base = format!("http://{}", listener.local_addr().expect("local address"));
    tokio::spawn(ladder_server::serve(
        db.clone(),
        listener,
        std::future::pending(),
    ));
    base
}

/// Signs in through the API; returns the bearer token.
pub async fn login(
    client: &reqwest::Client,
    base: &str,
    tenant: &str,
    email: &str,
    password: &str,
) -> String {
    let resp = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"tenant": tenant, "email": email, "password": password}))
        .send()
        .await
        .expect("POST /auth/login");
    assert_eq!(resp.status(), 200, "login as {email}");
    let body: Value = resp.json().await.expect("login response is JSON");
    body["token"]
        .as_str()
        .expect("login response has a token")
        .to_owned()
}

/// One timed GET through the API: the latency covers the whole body; parsing it is not timed.
pub async fn get_json(client: &reqwest::Client, url: &str, token: &str) -> (Duration, Value) {
    let t0 = Instant::now();
    let resp = client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status();
    let body = resp.bytes().await.expect("read the response body");
    let took = t0.elapsed();
    assert_eq!(
        status,
        200,
        "GET {url}: {}",
        String::from_utf8_lossy(&body[..body.len().min(500)])
    );
    let json = serde_json::from_slice(&body).expect("the response is JSON");
    (took, json)
}

/// The figures of a row of a latency table, in milliseconds.
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latency {
    /// From the latencies of a run, in milliseconds; at least one.
    pub fn of(mut ms: Vec<f64>) -> Latency {
        assert!(!ms.is_empty(), "no latencies to summarise");
        ms.sort_by(f64::total_cmp);
        // The nearest-rank percentile: the smallest value at or above that share of them.
        let at = |q: f64| ms[((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1];
        Latency {
            p50: at(0.50),
            p99: at(0.99),
            max: ms[ms.len() - 1],
        }
    }
}

/// CPU seconds (user and system) the process has used so far, from `/proc`: the machine is
/// shared, so a server's own CPU time is the figure that does not depend on what else runs
/// beside the benchmark. `None` when the process is gone.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let hz = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .unwrap_or(100.0);
    Some((ticks(11)? + ticks(12)?) / hz)
}
