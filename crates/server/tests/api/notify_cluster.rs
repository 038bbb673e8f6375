//! The real `ladder` binary delivering email to a real SMTP server process: killed with
//! SIGKILL mid-drain and restarted, nothing is lost and duplicates carry the same
//! Message-ID; two servers on one PostgreSQL deliver each email once.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};

use jiff::Timestamp;
use ladder_storage::Db;
use reqwest::StatusCode;

use crate::harness::{eventually, fresh_database, Backend};
use crate::notify::{free_port, SmtpSink};
use crate::on_both_databases;

// The loaders are the benchmarks' (`cluster` loads them for the test binary).
use crate::cluster::{bulk, sla_load};
#[path = "../../benches/support/outbox_load.rs"]
mod outbox_load;

on_both_databases!(a_server_killed_mid_drain_loses_no_email_and_resends_with_the_same_key);

/// A `ladder serve` child process, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn serve(url: &str, smtp: &SmtpSink, lease_secs: &str) -> Server {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(["serve", "--database-url", url])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--smtp-url", &smtp.url()])
        .args(["--mail-from", "Ladder <ladder@example.org>"])
        .args(["--delivery-lease", lease_secs])
        .env("LADDER_LOG", "error")
        .stdout(Stdio::null())
        .spawn()
        .expect("start ladder serve");
    let server = Server(child);
    let health = format!("http://127.0.0.1:{port}/healthz");
    eventually("the server answers", || {
        let health = health.clone();
        async move { matches!(reqwest::get(&health).await, Ok(r) if r.status() == StatusCode::OK) }
    })
    .await;
    server
}

/// How many times each Message-ID arrived.
fn arrivals(sink: &SmtpSink) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for m in sink.messages() {
        let id = m["message_id"].as_str().expect("a Message-ID").to_owned();
        *out.entry(id).or_insert(0) += 1;
    }
    out
}

async fn loaded(backend: Backend, n: usize) -> (String, crate::harness::Scratch, Db) {
    let (url, scratch) = fresh_database(backend).await;
    let db = Db::connect(&url).await.expect("connect");
    db.migrate().await.expect("migrate");
    sla_load::load(&db, 4, 0, 0).await;
    outbox_load::queue_reminders(&db, n, Timestamp::now()).await;
    (url, scratch, db)
}

async fn a_server_killed_mid_drain_loses_no_email_and_resends_with_the_same_key(b: Backend) {
    const N: usize = 1000;
    let sink = SmtpSink::start().await;
    let (url, _scratch, db) = loaded(b, N).await;
    // A one-second lease: what the dead server had claimed is sent again soon after.
    let mut victim = serve(&url, &sink, "1").await;
    eventually("some emails arrived", || async {
        sink.messages().len() >= 100
    })
    .await;
    victim.0.kill().expect("SIGKILL the server");
    let _ = victim.0.wait();
    let at_kill = sink.messages().len();
    assert!(
        at_kill < N,
        "the server was killed mid-drain ({at_kill} of {N} had arrived)"
    );

    let _survivor = serve(&url, &sink, "1").await;
    eventually("every email is delivered", || async {
        let (pending, delivered, failed, unsent) = outbox_load::progress(&db).await;
        pending == 0 && failed == 0 && unsent == 0 && delivered == N as i64
    })
    .await;
    let keys: BTreeSet<String> = outbox_load::keys(&db).await.into_iter().collect();
    assert_eq!(keys.len(), N, "one delivery per notification");
    eventually("the sink has written every email", || async {
        arrivals(&sink).len() >= N
    })
    .await;
    let got = arrivals(&sink);
    let ids: BTreeSet<String> = got.keys().cloned().collect();
    assert_eq!(
        ids, keys,
        "every email arrived, under its delivery's Message-ID"
    );
    let duplicates = got.values().filter(|n| **n > 1).count();
    eprintln!("{N} emails, {at_kill} in before the kill, {duplicates} sent twice with the same Message-ID");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_deliver_each_email_once() {
    const N: usize = 1500;
    let sink = SmtpSink::start().await;
    let (url, _scratch, db) = loaded(Backend::Postgres, N).await;
    let _a = serve(&url, &sink, "60").await;
    let _b = serve(&url, &sink, "60").await;
    eventually("every email is delivered", || async {
        let (pending, delivered, _, unsent) = outbox_load::progress(&db).await;
        pending == 0 && unsent == 0 && delivered == N as i64
    })
    .await;
    eventually("the sink has written every email", || async {
        sink.messages().len() >= N
    })
    .await;
    let got = arrivals(&sink);
    assert_eq!(got.len(), N);
    assert!(got.values().all(|n| *n == 1), "an email arrived twice");
    assert_eq!(sink.messages().len(), N);
}
