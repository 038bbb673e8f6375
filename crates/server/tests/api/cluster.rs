//! Several `ladder serve` processes on one PostgreSQL share the timers: each fires exactly
//! once, and a server killed mid-run loses nothing; a pooled connection lost while idle is
//! replaced. Also the policy file commands.

use std::process::{Child, Command, Stdio};

use jiff::{SignedDuration, Timestamp};
use ladder_storage::Db;
use reqwest::StatusCode;

use crate::harness::{eventually, fresh_database, Backend, TestApp};
use crate::on_both_databases;

#[path = "../../benches/support/bulk.rs"]
pub(crate) mod bulk;
#[path = "../../benches/support/sla_load.rs"]
pub(crate) mod sla_load;

/// A `ladder serve` child process, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `ladder serve` on a free port and waits until it answers; its connections to
/// PostgreSQL are named `name`, so that the test can watch what they are doing.
async fn serve(url: &str, name: &str, extra: &[&str]) -> Server {
    let port = free_port();
    let url = format!("{url}?application_name={name}");
    let child = Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(["serve", "--database-url", &url])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(extra)
        .env("LADDER_LOG", "error")
        .stdout(Stdio::null())
        .spawn()
        .expect("start ladder serve");
    let server = Server(child);
    answers(port).await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_fire_each_of_2000_timers_exactly_once_even_when_one_is_killed() {
    let (url, _scratch) = fresh_database(Backend::Postgres).await;
    let db = Db::connect(&url).await.expect("connect");
    db.migrate().await.expect("migrate");
    let loaded = sla_load::load(&db, 8, 2000, 2000).await;
    assert_eq!(loaded.hot, 2000);

    // The one to be killed runs more workers than the default, so more transactions die
    // with it.
    let mut a = serve(&url, "victim", &["--timer-workers", "4"]).await;

    // The test holds the audit trail: a worker can claim due timers and carry out their
    // effects, but not record them, so its transaction stays open, holding its claim, for as
    // long as the test wishes, whatever the speed of the machine.
    let mut hold = db.write().await.expect("begin");
    sqlx::query("LOCK TABLE audit_events IN EXCLUSIVE MODE")
        .execute(hold.conn())
        .await
        .expect("hold the audit trail");
    let due = Timestamp::now();
    assert_eq!(
        sla_load::fall_due(&db, due).await,
        2000,
        "2,000 timers due in the same instant"
    );
    eventually("the victim holds claimed timers", || {
        let db = db.clone();
        async move {
            let (n,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = 'victim' \
                 AND wait_event_type = 'Lock' AND backend_xid IS NOT NULL",
            )
            .fetch_one(db.pool())
            .await
            .expect("read the victim's connections");
            n > 0
        }
    })
    .await;
    // The second server starts beside it and claims what the first left, if anything.
    let _b = serve(&url, "survivor", &[]).await;
    assert_eq!(sla_load::fired(&db).await, 0, "nothing fired while held");

    // Kill it with SIGKILL mid-batch, then let the survivor carry on.
    a.0.kill().expect("SIGKILL one server");
    let _ = a.0.wait();
    hold.rollback().await.expect("let go of the audit trail");

    // Done when no timer due at that instant is left (its firing committed, or it would
    // still be there) and every one of them is in the audit trail: no firing can follow.
    let left_due = || {
        let db = db.clone();
        async move {
            let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM timers WHERE due_at <= $1")
                .bind(due.as_microsecond())
                .fetch_one(db.pool())
                .await
                .expect("count the due timers");
            n
        }
    };
    eventually("the survivor fires what the victim held", || async {
        left_due().await == 0 && sla_load::fired(&db).await >= 2000
    })
    .await;
    let (lags, superseded) = sla_load::lags_ms(&db, due).await;
    assert_eq!(lags.len(), 2000, "each timer fired, none twice");
    let distinct: std::collections::BTreeSet<_> = superseded.iter().collect();
    assert_eq!(
        distinct.len(),
        2000,
        "every escalation moved up exactly once"
    );
    let count = |sql: &'static str| {
        let db = db.clone();
        async move {
            let (n,): (i64,) = sqlx::query_as(sql)
                .fetch_one(db.pool())
                .await
                .expect("count");
            n
        }
    };
    assert_eq!(
        count("SELECT COUNT(*) FROM escalations WHERE state = 'superseded'").await,
        2000
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM escalations WHERE state = 'requested' AND target_key = 'role:admin'").await,
        2000
    );
    // Every ticket has its one timer again, for its new rung; the chains are intact.
    assert_eq!(count("SELECT COUNT(*) FROM timers").await, 2000);
    assert_eq!(left_due().await, 0);
    let chains = ladder_storage::audit::verify(&db, None)
        .await
        .expect("verify");
    assert!(chains
        .iter()
        .all(|c| matches!(c, ladder_storage::audit::Verification::Intact { .. })));
    db.close().await;
}

#[test]
fn a_timer_worker_count_out_of_range_is_refused() {
    for bad in ["0", "9", "many"] {
        // An address that cannot be parsed stops the server, should the count get through.
        let args = ["serve", "--timer-workers", bad, "--listen", "nowhere"];
        let (ok, _, err) = ladder("sqlite::memory:", &args);
        assert!(!ok, "--timer-workers {bad} was accepted");
        assert!(err.contains("--timer-workers"), "{err}");
    }
}

/// How claims share due timers on PostgreSQL: one skips what another holds and timers whose
/// ticket a request holds; a timer passed over because its ticket was held stays with the
/// claim that passed it over until that claim ends, and the next claim takes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_skip_held_timers_and_timers_of_held_tickets() {
    let (url, _scratch) = fresh_database(Backend::Postgres).await;
    let db = Db::connect(&url).await.expect("connect");
    db.migrate().await.expect("migrate");
    sla_load::load(&db, 1, 3, 3).await;
    let due = Timestamp::now();
    assert_eq!(sla_load::fall_due(&db, due).await, 3);
    let now = due + SignedDuration::from_secs(1);
    let tickets: Vec<(String,)> =
        sqlx::query_as("SELECT ticket_id FROM timers ORDER BY due_at, id")
            .fetch_all(db.pool())
            .await
            .expect("timers");
    let [first, second, third] = [0, 1, 2].map(|i| tickets[i].0.clone());
    // A claim in a transaction of its own, left open: the tickets of the timers it took.
    let claim = |limit: i64| {
        let db = db.clone();
        async move {
            let mut tx = db.write().await.expect("begin");
            let claimed = ladder_storage::timers::claim_due(
                tx.conn(),
                ladder_storage::Backend::Postgres,
                now,
                limit,
            )
            .await
            .expect("claim");
            let tickets: Vec<String> = claimed.timers.into_iter().map(|t| t.ticket_id.0).collect();
            (tx, tickets)
        }
    };

    // A request is changing the first timer's ticket.
    let mut request = db.write().await.expect("begin");
    sqlx::query("SELECT id FROM tickets WHERE id = $1 FOR UPDATE")
        .bind(&first)
        .fetch_one(request.conn())
        .await
        .expect("lock the ticket");

    let (a, claimed) = claim(2).await;
    assert_eq!(
        claimed,
        [second.clone()],
        "the held ticket's timer is passed over"
    );
    let (b, claimed) = claim(10).await;
    assert_eq!(
        claimed,
        [third.clone()],
        "what the first claim holds is skipped"
    );

    // Rolled back now (a transaction dropped is rolled back only when its connection is
    // next used).
    request.rollback().await.expect("the request ends");
    let (_, claimed) = claim(10).await;
    assert!(
        claimed.is_empty(),
        "still held by the first claim: {claimed:?}"
    );

    a.rollback().await.expect("the first claim ends");
    let (_c, claimed) = claim(10).await;
    assert_eq!(claimed, [first, second], "free again, oldest first");
    drop(b);
}

/// A pooled PostgreSQL connection that the server closed while it waited in the pool (the
/// server restarted, a proxy timed it out) is pinged, found dead and replaced before a read
/// gets it. One used less than `ping_after` before is handed out unpinged, as `Db::connect`
/// does below [`ladder_storage::db::PING_AFTER_IDLE`] (a ping is a round trip on every
/// read and write), and then its read fails; the same test with the ping off shows so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_lost_while_idle_in_the_pool_is_replaced_before_a_read_gets_it() {
    let (url, _scratch) = fresh_database(Backend::Postgres).await;
    let admin = Db::connect(&url).await.expect("connect");
    for (ping_after, read_works) in [
        (std::time::Duration::ZERO, true),
        (std::time::Duration::from_secs(3600), false),
    ] {
        let db = Db::connect_pinging_after(&url, ping_after)
            .await
            .expect("connect");
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(db.pool())
            .await
            .expect("the connection's process");
        eventually("the connection back in the pool", || async {
            db.pool().num_idle() == 1
        })
        .await;
        let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .fetch_one(admin.pool())
            .await
            .expect("terminate");
        assert!(killed);
        eventually("the connection's process gone", || async {
            let left: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM pg_stat_activity WHERE pid = $1")
                    .bind(pid)
                    .fetch_one(admin.pool())
                    .await
                    .expect("count");
            left == 0
        })
        .await;
        let read: Result<i32, _> = sqlx::query_scalar("SELECT 1").fetch_one(db.pool()).await;
        assert_eq!(
            read.is_ok(),
            read_works,
            "pinged after {ping_after:?}: {read:?}"
        );
        db.close().await;
    }
}

on_both_databases!(policy_files_round_trip_and_bad_ones_change_nothing);

fn ladder(url: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(["--database-url", url])
        .args(args)
        .env("LADDER_LOG", "error")
        .output()
        .expect("run ladder");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn policy_files_round_trip_and_bad_ones_change_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let org = app.org("Bright Smile").await;
    let dir = std::env::temp_dir().join(format!("ladder-policy-{}-{:?}", std::process::id(), b));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("policy.toml");
    let path = file.to_str().expect("path");

    // Export, import unchanged, export again: the same text, and nothing saved.
    let (ok, _, err) = ladder(&app.url, &["policy", "export", path, "--tenant", &org.slug]);
    assert!(ok, "{err}");
    let first = std::fs::read_to_string(&file).expect("exported");
    assert!(first.contains("[[rules]]\nname = \"urgent\""), "{first}");
    let (ok, out, err) = ladder(&app.url, &["policy", "import", path, "--tenant", &org.slug]);
    assert!(ok, "{err}");
    assert!(out.contains("unchanged (version 0)"), "{out}");
    let (ok, _, _) = ladder(&app.url, &["policy", "export", path, "--tenant", &org.slug]);
    assert!(ok);
    assert_eq!(std::fs::read_to_string(&file).expect("again"), first);

    // An edited file becomes version 1 and comes back exactly as written.
    let edited = first.replace("resolve = \"3bd\"", "resolve = \"2bd\"");
    assert_ne!(edited, first);
    std::fs::write(&file, &edited).expect("write");
    let (ok, out, err) = ladder(&app.url, &["policy", "import", path, "--tenant", &org.slug]);
    assert!(ok, "{err}");
    assert!(out.contains("now version 1"), "{out}");
    let (_, policy) = app.get(&org.owner, "/policy").await;
    assert_eq!(policy["rules"][2]["sla"]["resolve"], "2bd");
    let (ok, _, _) = ladder(&app.url, &["policy", "export", path, "--tenant", &org.slug]);
    assert!(ok);
    assert_eq!(
        std::fs::read_to_string(&file).expect("again"),
        edited.replace("version = 0", "version = 1")
    );

    // A bad file names the rule at fault, exits 1 and leaves version 1 in force.
    let bad = edited.replace(
        "chain = [\n    { target = { kind = \"owner\" }, ack_within = \"1h\" },",
        "chain = [\n    { target = { kind = \"team\", id = \"ghosts\" }, ack_within = \"1h\" },",
    );
    assert_ne!(bad, edited);
    std::fs::write(&file, &bad).expect("write");
    let snapshot = app.snapshot().await;
    let (ok, _, err) = ladder(&app.url, &["policy", "import", path, "--tenant", &org.slug]);
    assert!(!ok);
    assert!(
        err.contains("rule \"urgent\", rung 1: unknown team \"ghosts\""),
        "{err}"
    );
    assert!(err.contains("nothing was changed"), "{err}");
    assert_eq!(app.snapshot().await, snapshot);
    let (s, policy) = app.get(&org.owner, "/policy").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(policy["version"], 1);
    // Which organisation must be said when there are several.
    app.org("Other Clinic").await;
    let (ok, _, err) = ladder(&app.url, &["policy", "export", path]);
    assert!(!ok && err.contains("name one with --tenant"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits until the server at `port` answers.
async fn answers(port: u16) {
    let url = format!("http://127.0.0.1:{port}/healthz");
    eventually(&format!("a server answers on port {port}"), || {
        let url = url.clone();
        async move { matches!(reqwest::get(&url).await, Ok(r) if r.status() == StatusCode::OK) }
    })
    .await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_one_sqlite_database_is_refused_until_the_first_stops() {
    let (url, _scratch) = fresh_database(Backend::Sqlite).await;
    let start = |port: u16| {
        Command::new(env!("CARGO_BIN_EXE_ladder"))
            .args(["serve", "--database-url", &url])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("LADDER_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map(Server)
            .expect("start ladder serve")
    };
    let port = free_port();
    let mut first = start(port);
    answers(port).await;

    let mut second = start(free_port());
    eventually("the second server stops", || {
        let stopped = second.0.try_wait().expect("wait").is_some();
        async move { stopped }
    })
    .await;
    let status = second.0.wait().expect("its exit status");
    assert!(!status.success());
    let mut err = String::new();
    if let Some(mut stderr) = second.0.stderr.take() {
        use std::io::Read;
        stderr.read_to_string(&mut err).expect("stderr");
    }
    assert!(err.contains("another `ladder serve` is running"), "{err}");

    // Once the first one is gone (even killed), a new one starts.
    first.0.kill().expect("SIGKILL the first server");
    let _ = first.0.wait();
    let port = free_port();
    let _third = start(port);
    answers(port).await;
}
